//! The first reading of an export: which calls, and where their messages and streams were.
//!
//! [`Chooser`] is a session sink that sees every message and every call as it closes (the
//! filter's verdict on each): a call's [`MsgAt`]s wait until it closes, then stay if the filter
//! selects it (the rule `calls` follows: INVITE calls, or every kind with `all_kinds`), or if it
//! is a B2BUA leg linked to a selected call (`legs`: the session names a call's legs when it
//! closes; a leg that closed earlier is found among the calls closed in the last
//! [`RECENT_KEEP`] of capture time).
//!
//! Bounded: the messages waiting for their call, and the calls kept for their legs, share a
//! byte budget ([`Choice::budget`]); a call that does not fit has its messages let go and, if it
//! is chosen, is listed in [`Chosen::refetch`] for [`Refetch`], a reading that keeps only the
//! messages of those Call-IDs. What is chosen grows with the output only.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use super::{CallFrames, MediaAt, MsgAt};
use crate::correlate::record::CallKind;
use crate::output::OutputError;
use crate::session::{Event, Needs, Sink, HOLD};
use crate::time::{Nanos, Ts};

/// How long a closed call that was not chosen is kept, in case a chosen call names it as a leg
/// later (legs close within the session's hold of each other).
pub const RECENT_KEEP: Nanos = 2 * HOLD;

#[derive(Clone, Debug)]
pub struct Choice {
    /// Calls of every kind, not only INVITE calls (as `calls --all`).
    pub all_kinds: bool,
    /// A chosen call brings the legs linked to it.
    pub legs: bool,
    /// RTP streams are analysed and joined to their calls.
    pub media: bool,
    /// Bytes of message notes held while calls are open (and closed calls kept for legs).
    pub budget: usize,
}

/// The chosen calls: each group is one call and the legs it brought (one file with `--split`).
#[derive(Debug, Default)]
pub struct Chosen {
    /// Call-IDs, the chosen call first, in the order the calls closed.
    pub groups: Vec<Vec<String>>,
    pub calls: BTreeMap<String, CallFrames>,
    /// Chosen calls whose messages did not fit the budget: to be read again.
    pub refetch: BTreeSet<String>,
}

pub struct Chooser {
    choice: Choice,
    open: HashMap<String, CallFrames>,
    bytes: usize,
    /// Open calls whose messages were let go (the budget).
    spilled: HashSet<String>,
    recent: HashMap<String, (CallFrames, bool)>,
    recent_order: VecDeque<(Ts, String)>,
    want_leg: HashSet<String>,
    in_group: HashSet<String>,
    now: Ts,
    out: Chosen,
}

impl Chooser {
    pub fn new(choice: Choice) -> Chooser {
        Chooser {
            choice,
            open: HashMap::new(),
            bytes: 0,
            spilled: HashSet::new(),
            recent: HashMap::new(),
            recent_order: VecDeque::new(),
            want_leg: HashSet::new(),
            in_group: HashSet::new(),
            now: Ts::ZERO,
            out: Chosen::default(),
        }
    }

    /// The end of the reading: what was chosen. Legs that closed before their call and were no
    /// longer kept are to be read again.
    pub fn finish(mut self) -> Chosen {
        for l in self.want_leg.drain() {
            self.out.calls.insert(l.clone(), CallFrames::new(&l));
            self.out.refetch.insert(l);
        }
        self.out
    }

    fn keep(&mut self, cid: &str, cf: CallFrames, spilled: bool) {
        if spilled {
            self.out.refetch.insert(cid.to_string());
        }
        self.out.calls.insert(cid.to_string(), cf);
    }

    fn prune_recent(&mut self) {
        while let Some((t, id)) = self.recent_order.front() {
            let over = self.bytes > self.choice.budget;
            if !over && self.now.since(*t) <= RECENT_KEEP {
                break;
            }
            if let Some((cf, _)) = self.recent.remove(id) {
                self.bytes -= cf.size();
            }
            self.recent_order.pop_front();
        }
    }

    fn closed(&mut self, c: &crate::session::ClosedCall, selected: bool) {
        let cid = c.call.call_id.as_str();
        let mut cf = match self.open.remove(cid) {
            Some(cf) => {
                self.bytes -= cf.size();
                cf
            }
            None => CallFrames::new(cid),
        };
        if self.choice.media {
            cf.media = c.streams.iter().map(MediaAt::from).collect();
        }
        let spilled = self.spilled.remove(cid);
        let chosen = selected && (self.choice.all_kinds || c.call.kind == CallKind::Invite);
        let as_leg = self.want_leg.remove(cid);
        if !(chosen || as_leg) {
            if self.choice.legs {
                self.bytes += cf.size();
                self.recent.insert(cid.to_string(), (cf, spilled));
                self.recent_order.push_back((c.call.end, cid.to_string()));
                self.prune_recent();
            }
            return;
        }
        if !self.out.calls.contains_key(cid) {
            self.keep(cid, cf, spilled);
        }
        if !chosen || self.in_group.contains(cid) {
            return;
        }
        let mut group = vec![cid.to_string()];
        self.in_group.insert(cid.to_string());
        if self.choice.legs {
            for l in &c.call.legs {
                let l = l.call_id.as_str();
                if !self.in_group.insert(l.to_string()) {
                    continue;
                }
                group.push(l.to_string());
                if self.out.calls.contains_key(l) {
                    continue;
                }
                match self.recent.remove(l) {
                    Some((cf, spilled)) => {
                        self.bytes -= cf.size();
                        self.keep(l, cf, spilled);
                    }
                    None => {
                        self.want_leg.insert(l.to_string());
                    }
                }
            }
        }
        self.out.groups.push(group);
    }
}

impl Sink for Chooser {
    fn needs(&self) -> Needs {
        Needs {
            messages: true,
            media: self.choice.media,
            context: true,
            ..Needs::default()
        }
    }

    fn event(&mut self, e: &Event<'_>, selected: bool) -> Result<(), OutputError> {
        match e {
            Event::Message(m) => {
                self.now = self.now.max(m.ts);
                let Some(cid) = m.call_id.as_deref() else {
                    return Ok(());
                };
                if self.spilled.contains(cid) {
                    return Ok(());
                }
                let at = MsgAt::from(&***m);
                if let Some(cf) = self.open.get_mut(cid) {
                    let before = cf.size();
                    cf.msgs.push(at);
                    self.bytes = self.bytes + cf.size() - before;
                } else {
                    let mut cf = CallFrames::new(cid);
                    cf.msgs.push(at);
                    self.bytes += cf.size();
                    self.open.insert(cid.to_string(), cf);
                }
                if self.bytes > self.choice.budget {
                    self.prune_recent();
                }
                if self.bytes > self.choice.budget {
                    // This call's notes go; it is read again if it is chosen.
                    if let Some(cf) = self.open.remove(cid) {
                        self.bytes -= cf.size();
                    }
                    self.spilled.insert(cid.to_string());
                }
            }
            Event::CallClosed(c) => self.closed(c, selected),
            Event::Tick(t) => {
                self.now = self.now.max(t.now);
                self.prune_recent();
            }
            _ => {}
        }
        Ok(())
    }
}

/// The second reading for the chosen calls whose messages did not fit: keeps the messages (and,
/// for a leg met only now, the streams) of those Call-IDs alone.
pub struct Refetch {
    pub wanted: HashMap<String, CallFrames>,
    pub media: bool,
}

impl Refetch {
    pub fn new(ids: &BTreeSet<String>, media: bool) -> Refetch {
        Refetch {
            wanted: ids
                .iter()
                .map(|id| (id.clone(), CallFrames::new(id)))
                .collect(),
            media,
        }
    }
}

impl Sink for Refetch {
    fn needs(&self) -> Needs {
        Needs {
            messages: true,
            media: self.media,
            context: true,
            ..Needs::default()
        }
    }

    fn event(&mut self, e: &Event<'_>, _: bool) -> Result<(), OutputError> {
        match e {
            Event::Message(m) => {
                if let Some(cf) = m.call_id.as_deref().and_then(|c| self.wanted.get_mut(c)) {
                    cf.msgs.push(MsgAt::from(&***m));
                }
            }
            Event::CallClosed(c) if self.media => {
                if let Some(cf) = self.wanted.get_mut(&c.call.call_id) {
                    cf.media = c.streams.iter().map(MediaAt::from).collect();
                }
            }
            _ => {}
        }
        Ok(())
    }
}
