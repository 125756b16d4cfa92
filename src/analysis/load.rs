//! Load over time, the `load` table of `stats`: call attempts, answers, attempts per second,
//! the peak of concurrent calls and registrations per interval. The interval is known only at
//! the end (it depends on the capture's length), so one 16-byte span is kept per call and one
//! time per registration, up to [`MAX_SPANS`] each.

use std::collections::BTreeMap;

use crate::output::frame::{Frame, Kind, Value};
use crate::time::{Nanos, Ts};

use super::stats::secs;

/// Bound on the spans and on the registration times (each drop is counted by the caller).
const MAX_SPANS: usize = 10_000_000;

/// One initial INVITE, for load and concurrency, in 16 bytes (one is kept per call): its start,
/// and its length in nanoseconds shifted left by one with the answered flag in the low bit, or
/// -1 (-2 if answered) while it was still going at the end.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: Ts,
    len: i64,
}

impl Span {
    fn new(start: Ts, end: Option<Ts>, answered: bool) -> Span {
        let len = match end {
            Some(e) => (e.since(start).clamp(0, i64::MAX >> 1) << 1) | i64::from(answered),
            None => -1 - i64::from(answered),
        };
        Span { start, len }
    }

    fn end(&self) -> Option<Ts> {
        (self.len >= 0).then(|| self.start.saturating_add(self.len >> 1))
    }

    fn answered(&self) -> bool {
        if self.len >= 0 {
            self.len & 1 == 1
        } else {
            self.len == -2
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Load {
    spans: Vec<Span>,
    reg_starts: Vec<Ts>,
}

impl Load {
    /// An initial INVITE; false when the bound left it out.
    pub fn call(&mut self, start: Ts, end: Option<Ts>, answered: bool) -> bool {
        let room = self.spans.len() < MAX_SPANS;
        if room {
            self.spans.push(Span::new(start, end, answered));
        }
        room
    }

    /// A registration attempt; false when the bound left it out.
    pub fn registration(&mut self, start: Ts) -> bool {
        let room = self.reg_starts.len() < MAX_SPANS;
        if room {
            self.reg_starts.push(start);
        }
        room
    }

    /// Call attempts, answers, attempts per second and the peak of concurrent calls per bucket
    /// of `w` between `span`'s first and last instants. A call is concurrent from its INVITE to
    /// its end (BYE, the final failure, or the capture's end when still in progress).
    pub fn frame(&self, span: Option<(Ts, Ts)>, w: Nanos) -> Frame {
        let mut f = Frame::new(vec![
            ("interval", Kind::Time),
            ("seconds", Kind::F64),
            ("attempts", Kind::U64),
            ("answered", Kind::U64),
            ("caps", Kind::F64),
            ("peak_concurrent", Kind::U64),
            ("registrations", Kind::U64),
        ]);
        let Some((first, last)) = span else {
            return f;
        };
        let bucket = |t: Ts| t.0.div_euclid(w) * w;
        // attempts, answered, peak, registrations per bucket
        let mut rows: BTreeMap<i64, [u64; 4]> = BTreeMap::new();
        let mut b = bucket(first);
        while b <= last.0 && rows.len() < 100_000 {
            rows.insert(b, [0; 4]);
            b += w;
        }
        let mut events: Vec<(Ts, i8)> = Vec::with_capacity(self.spans.len() * 2);
        for span in &self.spans {
            let start = span.start;
            if let Some(r) = rows.get_mut(&bucket(start)) {
                r[0] += 1;
                r[1] += u64::from(span.answered());
            }
            events.push((start, 1));
            events.push((span.end().unwrap_or(last).max(start), -1));
        }
        for t in &self.reg_starts {
            if let Some(r) = rows.get_mut(&bucket(*t)) {
                r[3] += 1;
            }
        }
        // Ends sort before starts at the same instant: a call that ends as another begins is
        // not counted as overlapping it.
        events.sort();
        let mut level: i64 = 0;
        let mut ev = events.iter().peekable();
        for (b, r) in rows.iter_mut() {
            let mut peak = level;
            while let Some((t, d)) = ev.peek() {
                if t.0 >= b + w {
                    break;
                }
                level += i64::from(*d);
                peak = peak.max(level);
                ev.next();
            }
            r[2] = peak.max(0) as u64;
        }
        for (b, r) in rows {
            // The last bucket is cut short by the end of the capture.
            let len = (last.0 + 1).min(b + w) - b.max(first.0);
            let len = secs(len.max(1));
            f.row(vec![
                Value::Time(Some(Ts(b))),
                Value::F64(Some(len)),
                Value::U64(Some(r[0])),
                Value::U64(Some(r[1])),
                Value::F64(Some(r[0] as f64 / len)),
                Value::U64(Some(r[2])),
                Value::U64(Some(r[3])),
            ]);
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::NANOS_PER_SEC;

    #[test]
    fn span_round_trip() {
        let t = Ts(1_700_000_000_123_456_789);
        for (end, answered) in [
            (Some(t.saturating_add(90 * NANOS_PER_SEC + 1)), true),
            (Some(t.saturating_add(3)), false),
            (Some(t), true),
            (None, false),
            (None, true),
        ] {
            let s = Span::new(t, end, answered);
            assert_eq!((s.start, s.end(), s.answered()), (t, end, answered));
        }
        // An end before the start (clock skew between merged files) is the start.
        assert_eq!(Span::new(t, Some(Ts(t.0 - 5)), false).end(), Some(t));
        assert_eq!(std::mem::size_of::<Span>(), 16);
    }
}
