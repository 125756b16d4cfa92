//! malformed: a message with grammar anomalies (sip::message), said once per (source, anomaly)
//! and counted after that. At most `MAX_MALFORMED` pairs are remembered; past that a new pair is
//! table-full, not said (it could not be said only once).

use super::{first_line, Engine, Severity};
use crate::correlate::record::MsgRow;

/// (source, anomaly) pairs remembered so that malformed fires once per pair.
pub(super) const MAX_MALFORMED: usize = 100_000;

impl Engine {
    /// The anomalies of one message.
    pub(super) fn malformed(&mut self, m: &MsgRow) {
        for a in &m.anomalies {
            let key = (m.src.ip(), *a);
            if !self.malformed.contains_key(&key) && self.malformed.len() >= MAX_MALFORMED {
                // Not remembered, so not said: it could not be said only once.
                self.table_full("malformed source", m.ts);
                continue;
            }
            let n = self.malformed.entry(key).or_default();
            *n += 1;
            if *n == 1 {
                let code = *a;
                self.raise(
                    "malformed",
                    Severity::Warning,
                    m.ts,
                    m.call_id.as_deref(),
                    Some(m.src.to_string()),
                    format!("{code} in a message from {}", m.src.ip()),
                    Some((m.frame, first_line(m))),
                    "a broken or non-compliant stack; later ones from this source are counted, not repeated",
                );
            }
        }
    }
}
