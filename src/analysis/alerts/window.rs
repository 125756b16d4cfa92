//! The sliding windows the rate detectors count in: per-second buckets with running totals, and
//! sets of distinct names bounded in count and in the length of each name. Both are O(1)
//! amortised per sighting and on capture time only.

use std::collections::{HashMap, VecDeque};

use crate::time::{Nanos, Ts, NANOS_PER_SEC};

/// Counts per one-second bucket over a sliding window, with their running totals (so reading
/// them costs nothing per packet). At most one bucket per second of the window.
#[derive(Debug, Default, Clone)]
pub(super) struct Window {
    buckets: VecDeque<(i64, [u64; 2])>,
    total: [u64; 2],
}

impl Window {
    /// Drops the buckets that fell out of the window ending at `t`.
    pub(super) fn advance(&mut self, t: Ts, width: Nanos) {
        let sec = t.0.div_euclid(NANOS_PER_SEC);
        let oldest = sec - (width / NANOS_PER_SEC).max(1) + 1;
        while let Some((_, c)) = self.buckets.front().filter(|(s, _)| *s < oldest) {
            self.total[0] -= c[0];
            self.total[1] -= c[1];
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
                let mut c = [0; 2];
                c[idx] = n;
                self.buckets.push_back((sec, c));
            }
        }
    }

    pub(super) fn sum(&self) -> [u64; 2] {
        self.total
    }
}

/// Distinct names seen within a sliding window, each kept from its first sighting until it is
/// a window old, at most `cap` of them (the oldest go first): what a count of distinct targets
/// needs to reach a threshold no larger than `cap`. O(1) per sighting.
#[derive(Debug, Default)]
pub(super) struct Distinct {
    pub(super) order: VecDeque<(Ts, Box<str>)>,
    seen: HashMap<Box<str>, Ts>,
}

/// The longest name kept (a To user off the wire can be anything).
pub(super) const NAME_MAX: usize = 64;

impl Distinct {
    /// Notes `name` at `t`; true when it was not already in the window.
    pub(super) fn see(&mut self, t: Ts, name: &str, width: Nanos, cap: usize) -> bool {
        while let Some((first, _)) = self.order.front() {
            if t.since(*first) <= width && self.order.len() <= cap {
                break;
            }
            let (first, old) = self.order.pop_front().expect("front");
            if self.seen.get(&old) == Some(&first) {
                self.seen.remove(&old);
            }
        }
        let name = truncate(name, NAME_MAX);
        if self.seen.contains_key(name) {
            return false;
        }
        let name: Box<str> = name.into();
        self.seen.insert(name.clone(), t);
        self.order.push_back((t, name));
        if self.order.len() > cap {
            let (first, old) = self.order.pop_front().expect("front");
            if self.seen.get(&old) == Some(&first) {
                self.seen.remove(&old);
            }
        }
        true
    }

    pub(super) fn len(&self) -> usize {
        self.seen.len()
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
