//! poor-quality: a finished RTP stream whose loss, jitter or estimated MOS is past its threshold
//! (RFC 3550 loss and interarrival jitter, the E-model MOS of analysis::quality).

use super::{Engine, Severity};
use crate::analysis::rtp::StreamStats;

impl Engine {
    /// One finished stream against the quality thresholds.
    pub(super) fn poor_quality(&mut self, s: &StreamStats) {
        let t = &self.cfg;
        let mut bad = Vec::new();
        let loss = if s.expected > 0 {
            s.missing() as f64 * 100.0 / s.expected as f64
        } else {
            0.0
        };
        if loss > t.max_loss_pct {
            bad.push(format!("loss {loss:.1} % > {} %", t.max_loss_pct));
        }
        if let Some(j) = s.max_jitter_ms.filter(|j| *j > t.max_jitter_ms) {
            bad.push(format!("max jitter {j:.1} ms > {} ms", t.max_jitter_ms));
        }
        if let Some(m) = s.mos.filter(|m| *m < t.min_mos) {
            bad.push(format!("MOS {m:.2} < {}", t.min_mos));
        }
        if !bad.is_empty() {
            self.raise(
                "poor-quality",
                Severity::Warning,
                s.last,
                s.call_id.as_deref(),
                Some(format!("{} -> {}", s.src, s.dst)),
                format!("RTP {:#010x}: {}", s.ssrc, bad.join(", ")),
                None,
                "check the path for congestion or a bad link (loss), and queueing (jitter)",
            );
        }
    }
}
