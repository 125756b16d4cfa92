//! The sliding windows the rate detectors count in: per-second buckets with running totals, and
//! sets of distinct names bounded in count and in the length of each name. Both are O(1)
//! amortised per sighting and on capture time only.

use foldhash::{HashMap, HashMapExt};
use std::borrow::Borrow;
use std::collections::VecDeque;
use std::hash::Hash;

use crate::time::{Nanos, Ts, NANOS_PER_SEC};

/// Counts per one-second bucket over a sliding window, with their running totals (so reading
/// them costs nothing per packet). At most one bucket per second of the window; `N` counters.
#[derive(Debug, Clone)]
pub(super) struct Window<const N: usize = 2> {
    buckets: VecDeque<(i64, [u64; N])>,
    total: [u64; N],
}

impl<const N: usize> Default for Window<N> {
    fn default() -> Self {
        Window {
            buckets: VecDeque::new(),
            total: [0; N],
        }
    }
}

impl<const N: usize> Window<N> {
    /// Drops the buckets that fell out of the window ending at `t`.
    pub(super) fn advance(&mut self, t: Ts, width: Nanos) {
        let sec = t.0.div_euclid(NANOS_PER_SEC);
        let oldest = sec - (width / NANOS_PER_SEC).max(1) + 1;
        while let Some((_, c)) = self.buckets.front().filter(|(s, _)| *s < oldest) {
            for (t, c) in self.total.iter_mut().zip(c) {
                *t -= c;
            }
            self.buckets.pop_front();
        }
    }

    pub(super) fn add(&mut self, t: Ts, idx: usize, n: u64, width: Nanos) {
        self.advance(t, width);
        let sec = t.0.div_euclid(NANOS_PER_SEC);
        self.total[idx] += n;
        match self.buckets.back_mut() {
            // A packet a little older than the newest (capture order is not strictly time
            // order) joins the newest bucket.
            Some((s, c)) if *s >= sec => c[idx] += n,
            _ => {
                let mut c = [0; N];
                c[idx] = n;
                self.buckets.push_back((sec, c));
            }
        }
    }

    pub(super) fn sum(&self) -> [u64; N] {
        self.total
    }
}

/// Distinct keys (names, addresses) seen within a sliding window, each kept from its first
/// sighting until it is a window old, at most `cap` of them (the oldest go first): what a count
/// of distinct targets needs to reach a threshold no larger than `cap`. O(1) per sighting, and
/// no allocation for a key already in the window.
#[derive(Debug)]
pub(super) struct Distinct<K = Box<str>> {
    pub(super) order: VecDeque<(Ts, K)>,
    seen: HashMap<K, Ts>,
}

impl<K> Default for Distinct<K> {
    fn default() -> Self {
        Distinct {
            order: VecDeque::new(),
            seen: HashMap::new(),
        }
    }
}

/// The longest name kept (a To user off the wire can be anything).
pub(super) const NAME_MAX: usize = 64;

impl<K: Hash + Eq + Clone> Distinct<K> {
    /// Notes `key` at `t` (`own` makes the stored copy, only when it is new); true when it was
    /// not already in the window.
    pub(super) fn see_by<Q>(
        &mut self,
        t: Ts,
        key: &Q,
        own: impl FnOnce(&Q) -> K,
        width: Nanos,
        cap: usize,
    ) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        while let Some((first, _)) = self.order.front() {
            if t.since(*first) <= width && self.order.len() <= cap {
                break;
            }
            let (first, old) = self.order.pop_front().expect("front");
            if self.seen.get::<K>(&old) == Some(&first) {
                self.seen.remove::<K>(&old);
            }
        }
        if self.seen.contains_key(key) {
            return false;
        }
        let key = own(key);
        self.seen.insert(key.clone(), t);
        self.order.push_back((t, key));
        if self.order.len() > cap {
            let (first, old) = self.order.pop_front().expect("front");
            if self.seen.get::<K>(&old) == Some(&first) {
                self.seen.remove::<K>(&old);
            }
        }
        true
    }

    pub(super) fn len(&self) -> usize {
        self.seen.len()
    }
}

impl Distinct<Box<str>> {
    /// Notes `name` (its first `NAME_MAX` bytes) at `t`; true when it was not already in the
    /// window.
    pub(super) fn see(&mut self, t: Ts, name: &str, width: Nanos, cap: usize) -> bool {
        self.see_by(t, truncate(name, NAME_MAX), |n| n.into(), width, cap)
    }
}

impl<K: Copy + Hash + Eq> Distinct<K> {
    /// Notes a small copyable key (an address) at `t`; true when it is new in the window.
    pub(super) fn see_copy(&mut self, t: Ts, key: K, width: Nanos, cap: usize) -> bool {
        self.see_by(t, &key, |k| *k, width, cap)
    }
}

pub(super) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
