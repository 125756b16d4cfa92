//! A stream's figures over time, when the user asks for them (`sipscope rtp --series 1s`): one
//! point per interval with its packets, expected and lost packets, largest delta between
//! arrivals and interarrival jitter. This is the only per-stream state that grows with the
//! stream's length (one point per interval, at most [`MAX_POINTS`]); without `--series` nothing
//! is kept.
//!
//! Loss per point comes from the extended highest sequence number at the point's end (RFC 3550
//! A.3 applied per interval): expected = highest now − highest at the previous point's end.
//! Jitter is the running RFC 3550 J sampled at each regular packet; while the stream's clock
//! rate is not known (a dynamic payload type whose SDP came later) it is kept at every candidate
//! clock and chosen once the rate is known, like the stream's own figures.

use crate::time::{Nanos, Ts};

/// Points kept per stream (a day of one-second points); later ones are counted, not kept.
pub const MAX_POINTS: usize = 86_400;

#[derive(Clone, Debug, serde::Serialize)]
pub struct SeriesPoint {
    #[serde(serialize_with = "crate::correlate::record::ser_ts")]
    pub start: Ts,
    pub packets: u64,
    pub expected: u64,
    /// Packets expected in the interval that did not arrive in it: expected − received, never
    /// negative (an interval has no duplicate count of its own, so a repeat can hide a loss in the
    /// same interval; the stream's `lost` counts duplicates apart).
    pub lost: u64,
    pub max_delta_ms: f64,
    pub mean_jitter_ms: Option<f64>,
    pub max_jitter_ms: Option<f64>,
    /// (clock, sum, count, max) of J while the clock was not known.
    #[serde(skip)]
    jitter: Vec<(u32, f64, u64, f64)>,
}

impl SeriesPoint {
    fn new(start: Ts) -> SeriesPoint {
        SeriesPoint {
            start,
            packets: 0,
            expected: 0,
            lost: 0,
            max_delta_ms: 0.0,
            mean_jitter_ms: None,
            max_jitter_ms: None,
            jitter: Vec::new(),
        }
    }

    pub(crate) fn settle(&mut self, clock: u32) {
        if let Some((_, sum, n, max)) = self.jitter.iter().find(|j| j.0 == clock) {
            if *n > 0 {
                self.mean_jitter_ms = Some(sum / *n as f64);
                self.max_jitter_ms = Some(*max);
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct Series {
    interval: Nanos,
    points: Vec<SeriesPoint>,
    cur: Option<SeriesPoint>,
    /// The first sequence number the open point expects: one past the extended highest
    /// sequence number at the end of the last closed point (the stream's first, at first).
    base: Option<u64>,
    high: u64,
    /// Points beyond [`MAX_POINTS`], not kept.
    pub dropped: u64,
}

impl Series {
    pub fn new(interval: Nanos) -> Series {
        Series {
            interval: interval.max(1),
            points: Vec::new(),
            cur: None,
            base: None,
            high: 0,
            dropped: 0,
        }
    }

    fn bucket(&self, ts: Ts) -> Ts {
        Ts(ts.0.div_euclid(self.interval) * self.interval)
    }

    fn close(&mut self) {
        if let Some(mut p) = self.cur.take() {
            let base = self.base.unwrap_or(self.high + 1);
            p.expected = (self.high + 1).saturating_sub(base);
            p.lost = p.expected.saturating_sub(p.packets);
            self.base = Some(self.high + 1);
            if self.points.len() < MAX_POINTS {
                self.points.push(p);
            } else {
                self.dropped += 1;
            }
        }
    }

    /// One packet: its arrival, the stream's extended highest sequence number after it (first
    /// packet: its own, minus one so that it counts), the delta to the previous arrival, and the
    /// running jitter at each clock it is kept at (empty for an irregular packet).
    pub fn packet(&mut self, ts: Ts, first: bool, high: u64, delta_ms: f64, jitter: &[(u32, f64)]) {
        let b = self.bucket(ts);
        if self.cur.as_ref().is_some_and(|p| p.start != b) {
            self.close();
        }
        if first {
            // The first packet is expected too: the count starts at it.
            self.base = Some(high);
        }
        self.high = self.high.max(high);
        let p = self.cur.get_or_insert_with(|| SeriesPoint::new(b));
        p.packets += 1;
        p.max_delta_ms = p.max_delta_ms.max(delta_ms);
        for (clock, j) in jitter {
            match p.jitter.iter_mut().find(|x| x.0 == *clock) {
                Some(x) => {
                    x.1 += j;
                    x.2 += 1;
                    x.3 = x.3.max(*j);
                }
                None => p.jitter.push((*clock, *j, 1, *j)),
            }
        }
    }

    /// The points, with jitter at `clock` (0: unknown, no jitter).
    pub fn finish(mut self, clock: u32) -> Vec<SeriesPoint> {
        self.close();
        for p in &mut self.points {
            p.settle(clock);
        }
        self.points
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::NANOS_PER_SEC;

    #[test]
    fn loss_and_jitter_per_interval() {
        let mut s = Series::new(NANOS_PER_SEC);
        // 50 packets a second for 3 s; seq 100.., the second second loses 5 (seq 160..=164).
        let mut n = 0;
        for i in 0..150u64 {
            let seq = 100 + i;
            if (160..=164).contains(&seq) {
                continue;
            }
            let ts = Ts(i as i64 * 20_000_000);
            s.packet(ts, n == 0, seq, 20.0, &[(8000, i as f64 / 10.0)]);
            n += 1;
        }
        let p = s.finish(8000);
        assert_eq!(p.len(), 3);
        assert_eq!(
            p.iter()
                .map(|p| (p.packets, p.expected, p.lost))
                .collect::<Vec<_>>(),
            [(50, 50, 0), (45, 50, 5), (50, 50, 0)]
        );
        assert_eq!(p[0].max_jitter_ms, Some(4.9));
        assert!((p[0].mean_jitter_ms.unwrap() - 2.45).abs() < 1e-9);
        assert_eq!(p[1].start, Ts(NANOS_PER_SEC));
    }

    #[test]
    fn unknown_clock_has_no_jitter_and_points_are_bounded() {
        let mut s = Series::new(1);
        for i in 0..(MAX_POINTS as i64 + 10) {
            s.packet(Ts(i), i == 0, i as u64, 0.0, &[(8000, 1.0), (48_000, 0.2)]);
        }
        assert_eq!(s.dropped, 9);
        let p = s.finish(48_000);
        assert_eq!(p.len(), MAX_POINTS);
        assert_eq!(p[0].max_jitter_ms, Some(0.2));
    }
}
