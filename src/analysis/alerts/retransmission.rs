//! retransmission-storm: a sender whose retransmissions exceed `retransmission_pct` of its
//! messages over the sliding window (with at least `retransmission_min` messages in it).

use super::{armed, ns, Engine, Line, Severity};
use crate::correlate::record::MsgRow;

impl Engine {
    /// Counts one message of its sender (whose entry exists).
    pub(super) fn retransmissions(&mut self, m: &MsgRow, line: &Line<'_>) {
        let width = ns(self.cfg.window_s);
        let ts = m.ts;
        let src_ip = m.src.ip();
        let Some(s) = self.sources.get_mut(&src_ip) else {
            return;
        };
        s.last = ts;
        s.sent.add(ts, 0, 1, width);
        if m.retransmission {
            s.sent.add(ts, 1, 1, width);
        }
        let [sent, resent] = s.sent.sum();
        let storm = sent >= self.cfg.retransmission_min
            && resent as f64 * 100.0 / sent as f64 > self.cfg.retransmission_pct;
        if storm && armed(&mut s.fired, "retransmission-storm", ts, width) {
            self.raise(
                "retransmission-storm",
                Severity::Warning,
                ts,
                None,
                Some(src_ip.to_string()),
                format!(
                    "{resent} of {sent} messages from {src_ip} in {:.0} s were retransmissions ({:.1} %)",
                    self.cfg.window_s,
                    resent as f64 * 100.0 / sent as f64
                ),
                Some(line.owned()),
                "the peer is not answering or answers are lost: check reachability, NAT and overload",
            );
        }
    }
}
