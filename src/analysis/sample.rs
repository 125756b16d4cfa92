//! A bounded set of delays with nearest-rank percentiles.
//!
//! Up to [`EXACT`] values a [`Sample`] keeps every value and its percentiles are exact. Past that
//! it folds them into logarithmic buckets (the scheme of DDSketch, Masson et al., VLDB 2019):
//! bucket `i` holds the values in (γ^(i-1), γ^i] with γ = (1+α)/(1−α), and answers with the one
//! number within a relative error α of all of them. A capture with millions of calls then costs a
//! few kilobytes per group instead of eight bytes per call. The count, mean, minimum and maximum
//! stay exact either way; only p50/p90/p99 of a summarised sample carry the ±α error, and
//! [`Sample::summarised`] says when that happened so the tables can say so.

use std::collections::BTreeMap;

/// How many values are kept as they are before a sample switches to buckets.
pub const EXACT: usize = 8192;

/// The relative error of a summarised sample's percentiles.
pub const ALPHA: f64 = 0.005;

/// Where a value sorts: negatives (largest magnitude first), zero, positives (smallest first).
/// The `i32` is the bucket of the magnitude, negated for negatives so the order holds.
type Slot = (u8, i32);

#[derive(Clone, Debug, Default)]
pub struct Sample {
    exact: Vec<f64>,
    buckets: BTreeMap<Slot, u64>,
    n: u64,
    sum: f64,
    min: f64,
    max: f64,
}

fn ln_gamma() -> f64 {
    ((1.0 + ALPHA) / (1.0 - ALPHA)).ln()
}

/// Magnitudes below this are zero: a nanosecond is the capture's resolution.
const ZERO: f64 = 1e-10;

fn slot(v: f64) -> Slot {
    let m = v.abs();
    if m < ZERO {
        return (1, 0);
    }
    let i = (m.ln() / ln_gamma()).ceil() as i32;
    if v < 0.0 {
        (0, -i)
    } else {
        (2, i)
    }
}

/// The value a bucket answers with: within α of every value the bucket holds.
fn value(s: Slot) -> f64 {
    let g = ln_gamma().exp();
    match s {
        (1, _) => 0.0,
        (0, i) => -2.0 * g.powi(-i) / (g + 1.0),
        (_, i) => 2.0 * g.powi(i) / (g + 1.0),
    }
}

impl Sample {
    pub fn push(&mut self, v: f64) {
        if !v.is_finite() {
            return;
        }
        if self.n == 0 {
            (self.min, self.max) = (v, v);
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.n += 1;
        self.sum += v;
        if self.buckets.is_empty() && self.exact.len() < EXACT {
            self.exact.push(v);
            return;
        }
        for x in std::mem::take(&mut self.exact) {
            *self.buckets.entry(slot(x)).or_default() += 1;
        }
        *self.buckets.entry(slot(v)).or_default() += 1;
    }

    pub fn len(&self) -> usize {
        self.n as usize
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Whether the percentiles come from buckets (within ±[`ALPHA`]) rather than the values.
    pub fn summarised(&self) -> bool {
        !self.buckets.is_empty()
    }

    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }

    /// The value at rank ⌈p/100 · n⌉ of the sorted values; `exact` must be sorted.
    fn rank(&self, p: f64) -> Option<f64> {
        if self.n == 0 {
            return None;
        }
        let r = ((p / 100.0 * self.n as f64).ceil() as u64).clamp(1, self.n);
        if !self.summarised() {
            return Some(self.exact[r as usize - 1]);
        }
        let mut seen = 0;
        for (s, c) in &self.buckets {
            seen += c;
            if seen >= r {
                // Never outside what was seen: the extremes are known exactly.
                return Some(value(*s).clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    /// Percentiles p50, p90, p99 and max (nearest rank).
    pub fn percentiles(&mut self) -> [Option<f64>; 4] {
        self.exact.sort_by(f64::total_cmp);
        [
            self.rank(50.0),
            self.rank(90.0),
            self.rank(99.0),
            (self.n > 0).then_some(self.max),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut s = Sample::default();
        for v in 1..=10 {
            s.push(f64::from(v));
        }
        // ⌈0.5·10⌉ = 5th, ⌈0.9·10⌉ = 9th, ⌈0.99·10⌉ = 10th value.
        assert_eq!(
            s.percentiles(),
            [Some(5.0), Some(9.0), Some(10.0), Some(10.0)]
        );
        assert_eq!(s.mean(), Some(5.5));
        assert!(!s.summarised());
        let mut one = Sample::default();
        one.push(0.25);
        assert_eq!(one.percentiles(), [Some(0.25); 4]);
        assert_eq!(Sample::default().percentiles(), [None; 4]);
    }

    /// Past [`EXACT`] values the percentiles stay within α of the exact ones and the count,
    /// mean and max stay exact, for delays spread over six orders of magnitude with zeros and
    /// (clock-skewed) negatives among them.
    #[test]
    fn summarised_percentiles_within_alpha() {
        let mut values = Vec::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..(EXACT * 12) {
            // xorshift: deterministic, no dependency
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            let v = match i % 50 {
                0 => 0.0,
                1 => -0.001 * u,
                _ => 1e-4 * 10f64.powf(6.0 * u),
            };
            values.push(v);
        }
        let mut s = Sample::default();
        for v in &values {
            s.push(*v);
        }
        assert!(s.summarised());
        assert_eq!(s.len(), values.len());
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        assert!((s.mean().unwrap() - mean).abs() < 1e-9 * mean.abs());
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let exact = |p: f64| values[((p / 100.0 * n as f64).ceil() as usize).clamp(1, n) - 1];
        let got = s.percentiles();
        for (p, g) in [50.0, 90.0, 99.0].iter().zip(got) {
            let (e, g) = (exact(*p), g.unwrap());
            assert!(
                (g - e).abs() <= ALPHA * e.abs() * 1.0001,
                "p{p}: {g} against {e}"
            );
        }
        assert_eq!(got[3], Some(values[n - 1]));
        // Ranks that land on zeros and negatives answer with them, in order.
        let mut low = Sample::default();
        for v in values.iter().take(EXACT + 10) {
            low.push(*v);
        }
        assert!(low.summarised());
        assert_eq!(low.rank(1.0).unwrap().signum(), -1.0);
        // Memory: a handful of buckets per factor of ten, not one number per value.
        assert!(s.buckets.len() < 3000, "{} buckets", s.buckets.len());
        assert!(s.exact.capacity() == 0);
    }
}
