//! The one leg-linking rule: B2BUA legs are calls that share a session (Session-ID, the IMS
//! charging vector's icid) or that name each other's Call-ID in a configured header
//! (X-Call-ID, X-CID, X-Orig-Call-ID ...).
//!
//! Calls are linked as they close, against the calls that closed within the `window` of capture
//! time before them, whichever of the two carries the link: each close costs O(keys), never a
//! scan of the window. A session shared by more than [`MAX_GROUP`] calls (a broken B2BUA, or a
//! hostile capture reusing one Session-ID) links only its first members to each other; the calls
//! after them are counted in `capped` and linked to nothing through that key, rather than linked
//! pairwise (quadratic in the group's size, and no longer a call's legs).

use foldhash::{HashMap, HashMapExt};
use std::collections::VecDeque;

use crate::correlate::record::CallRecord;
use crate::time::{Nanos, Ts};

/// Calls one session key may link.
pub const MAX_GROUP: usize = 8;

/// Headers whose value is a shared session, not a Call-ID.
fn is_session_key(header: &str) -> bool {
    header == "session-id" || header == "p-charging-vector"
}

/// What one closed call left in the index, so it can go when the window moves on.
struct Entry {
    at: Ts,
    call_id: String,
    keys: Vec<(String, String)>,
}

pub struct LegLinker {
    window: Nanos,
    /// Calls closed within the window, by Call-ID.
    ids: HashMap<String, Ts>,
    /// Members of each shared session key.
    groups: HashMap<(String, String), Vec<String>>,
    /// Call-IDs named by a closed call's header before that call closed: (value → namers).
    wanted: HashMap<String, Vec<(String, String)>>,
    order: VecDeque<Entry>,
    /// Links not made because a session key already linked [`MAX_GROUP`] calls.
    pub capped: u64,
}

impl LegLinker {
    pub fn new(window: Nanos) -> LegLinker {
        LegLinker {
            window,
            ids: HashMap::new(),
            groups: HashMap::new(),
            wanted: HashMap::new(),
            order: VecDeque::new(),
            capped: 0,
        }
    }

    /// Calls in the window.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    fn expire(&mut self, now: Ts) {
        while let Some(e) = self.order.front() {
            if now.since(e.at) <= self.window {
                break;
            }
            let Some(e) = self.order.pop_front() else {
                break;
            };
            if self.ids.get(&e.call_id) == Some(&e.at) {
                self.ids.remove(&e.call_id);
            }
            for (h, v) in e.keys {
                if is_session_key(&h) {
                    let k = (h, v);
                    if let Some(g) = self.groups.get_mut(&k) {
                        g.retain(|c| c != &e.call_id);
                        if g.is_empty() {
                            self.groups.remove(&k);
                        }
                    }
                } else if let Some(w) = self.wanted.get_mut(&v) {
                    w.retain(|(c, _)| c != &e.call_id);
                    if w.is_empty() {
                        self.wanted.remove(&v);
                    }
                }
            }
        }
    }

    /// A call closed at capture time `now`: the calls of the window it is linked to, each with
    /// the header that linked them. Both sides of each link are the caller's to record.
    pub fn close(&mut self, c: &CallRecord, now: Ts) -> Vec<(String, String)> {
        self.expire(now);
        let mut links: Vec<(String, String)> = Vec::new();
        let push = |links: &mut Vec<(String, String)>, other: &str, via: &str| {
            if other != c.call_id && !links.iter().any(|(o, _)| o == other) {
                links.push((other.to_string(), via.to_string()));
            }
        };
        let mut kept = Vec::new();
        for (h, v) in &c.link_keys {
            if is_session_key(h) {
                let g = self.groups.entry((h.clone(), v.clone())).or_default();
                if g.len() < MAX_GROUP {
                    for other in g.iter() {
                        push(&mut links, other, h);
                    }
                    g.push(c.call_id.clone());
                    kept.push((h.clone(), v.clone()));
                } else {
                    // Not a B2BUA's legs any more: a key this common links nothing further.
                    self.capped += 1;
                }
            } else if self.ids.contains_key(v) {
                push(&mut links, v, h);
            } else {
                let w = self.wanted.entry(v.clone()).or_default();
                if w.len() < MAX_GROUP {
                    w.push((c.call_id.clone(), h.clone()));
                    kept.push((h.clone(), v.clone()));
                } else {
                    self.capped += 1;
                }
            }
        }
        if let Some(namers) = self.wanted.get(&c.call_id) {
            for (other, via) in namers {
                push(&mut links, other, via);
            }
        }
        self.ids.insert(c.call_id.clone(), now);
        self.order.push_back(Entry {
            at: now,
            call_id: c.call_id.clone(),
            keys: kept,
        });
        links
    }
}

/// The same rule applied as messages pass, for an output that cannot wait for calls to close
/// (HEP's correlation id): each Call-ID is tied to the first leg of its group seen so far, by a
/// header naming another Call-ID, or by a session key an earlier Call-ID carried. Bounded: at
/// most `cap` Call-IDs and `cap` session keys, the oldest forgotten first (counted).
pub struct LiveLegs {
    cap: usize,
    /// Call-ID → the Call-ID of the first leg of its group (absent: not linked).
    root: HashMap<String, String>,
    /// Session key → the first Call-ID seen with it.
    sessions: HashMap<(String, String), String>,
    roots_order: VecDeque<String>,
    sessions_order: VecDeque<(String, String)>,
    /// Entries forgotten to stay within the bound.
    pub forgotten: u64,
}

impl LiveLegs {
    pub fn new(cap: usize) -> LiveLegs {
        LiveLegs {
            cap: cap.max(1),
            root: HashMap::new(),
            sessions: HashMap::new(),
            roots_order: VecDeque::new(),
            sessions_order: VecDeque::new(),
            forgotten: 0,
        }
    }

    fn root_of(&self, id: &str) -> String {
        self.root.get(id).cloned().unwrap_or_else(|| id.to_string())
    }

    fn tie(&mut self, id: &str, to: String) {
        if to == id || self.root.contains_key(id) {
            return;
        }
        if self.roots_order.len() >= self.cap {
            if let Some(old) = self.roots_order.pop_front() {
                self.root.remove(&old);
                self.forgotten += 1;
            }
        }
        self.roots_order.push_back(id.to_string());
        self.root.insert(id.to_string(), to);
    }

    /// A message of `call_id` carrying these link keys (`correlate::call::link_keys`): the
    /// Call-ID of the leg it is linked to, if any.
    pub fn message(&mut self, call_id: &str, keys: &[(String, String)]) -> Option<&str> {
        for (h, v) in keys {
            if is_session_key(h) {
                let k = (h.clone(), v.clone());
                match self.sessions.get(&k) {
                    Some(first) if first != call_id => {
                        let r = self.root_of(first);
                        self.tie(call_id, r);
                    }
                    Some(_) => {}
                    None => {
                        if self.sessions_order.len() >= self.cap {
                            if let Some(old) = self.sessions_order.pop_front() {
                                self.sessions.remove(&old);
                                self.forgotten += 1;
                            }
                        }
                        self.sessions_order.push_back(k.clone());
                        self.sessions.insert(k, call_id.to_string());
                    }
                }
            } else {
                let r = self.root_of(v);
                self.tie(call_id, r);
            }
        }
        self.root.get(call_id).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::call_record;
    use crate::time::NANOS_PER_SEC;

    fn call(id: &str, keys: &[(&str, &str)]) -> CallRecord {
        let mut c = call_record(id);
        c.link_keys = keys
            .iter()
            .map(|(h, v)| (h.to_string(), v.to_string()))
            .collect();
        c
    }

    fn at(s: i64) -> Ts {
        Ts(s * NANOS_PER_SEC)
    }

    #[test]
    fn a_header_naming_a_call_links_in_either_order() {
        let mut l = LegLinker::new(60 * NANOS_PER_SEC);
        assert!(l.close(&call("a", &[]), at(1)).is_empty());
        assert_eq!(
            l.close(&call("b", &[("x-call-id", "a")]), at(2)),
            vec![("a".to_string(), "x-call-id".to_string())]
        );
        // The naming leg closes first this time.
        assert!(l.close(&call("d", &[("x-call-id", "c")]), at(3)).is_empty());
        assert_eq!(
            l.close(&call("c", &[]), at(4)),
            vec![("d".to_string(), "x-call-id".to_string())]
        );
    }

    #[test]
    fn legs_further_apart_than_the_window_stay_apart() {
        let mut l = LegLinker::new(60 * NANOS_PER_SEC);
        l.close(&call("a", &[("session-id", "s1")]), at(0));
        assert!(l
            .close(&call("b", &[("session-id", "s1")]), at(61))
            .is_empty());
        assert_eq!(
            l.close(&call("c", &[("session-id", "s1")]), at(62)),
            vec![("b".to_string(), "session-id".to_string())]
        );
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn a_shared_session_links_a_bounded_group() {
        let mut l = LegLinker::new(60 * NANOS_PER_SEC);
        let mut links = 0;
        for i in 0..2000 {
            links += l
                .close(&call(&format!("c{i}"), &[("session-id", "same")]), at(1))
                .len();
        }
        // The first MAX_GROUP calls link to each other; the later ones to nothing (counted).
        let g = MAX_GROUP;
        assert_eq!(links, g * (g - 1) / 2);
        assert_eq!(l.capped, 2000 - g as u64);
    }

    fn keys(k: &[(&str, &str)]) -> Vec<(String, String)> {
        k.iter()
            .map(|(h, v)| (h.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn live_legs_tie_each_leg_to_the_first() {
        let mut l = LiveLegs::new(100);
        assert_eq!(l.message("a", &[]), None);
        assert_eq!(l.message("b", &keys(&[("x-call-id", "a")])), Some("a"));
        // Later messages of b without the header keep the link.
        assert_eq!(l.message("b", &[]), Some("a"));
        // A third leg naming b joins a's group.
        assert_eq!(l.message("c", &keys(&[("x-cid", "b")])), Some("a"));
        assert_eq!(l.message("a", &[]), None);
        // A shared session: the first Call-ID with it is the root.
        assert_eq!(l.message("s1", &keys(&[("session-id", "k")])), None);
        assert_eq!(l.message("s2", &keys(&[("session-id", "k")])), Some("s1"));
        assert_eq!(l.message("s1", &keys(&[("session-id", "k")])), None);
    }

    #[test]
    fn live_legs_are_bounded() {
        let mut l = LiveLegs::new(10);
        for i in 0..1000 {
            l.message(&format!("b{i}"), &keys(&[("x-call-id", &format!("a{i}"))]));
            l.message(&format!("s{i}"), &keys(&[("session-id", &format!("k{i}"))]));
        }
        assert!(l.root.len() <= 10 && l.sessions.len() <= 10);
        assert_eq!(l.forgotten, 2 * (1000 - 10));
        assert_eq!(l.message("b999", &[]), Some("a999"));
    }
}
