//! error-spike: a peer whose share of error answers over the sliding window jumps well above
//! its own baseline (or, before it has one, nearly everything fails). One entry per peer, at
//! most `MAX_SOURCES` of them.

use std::net::IpAddr;

use super::window::Window;
use super::{ns, Engine, Line, Severity, MAX_SOURCES};
use crate::time::{Ts, NANOS_PER_SEC};

/// Per-peer error-rate state: final responses and errors over the sliding window, the current
/// baseline period (a window of capture time, tumbling), and the baseline: the mean error share
/// of the earlier periods that had enough answers to judge. None during the warm-up.
#[derive(Debug, Default)]
pub(super) struct Peer {
    finals: Window,
    period_start: i64,
    period: [u64; 2],
    baseline: Option<f64>,
    pub(super) last: Ts,
    fired: Option<Ts>,
}

impl Engine {
    /// error-spike: final responses ≥ 400 (challenges and 487 apart) from one peer over the
    /// sliding window, against its baseline: the mean share of its earlier periods (tumbling,
    /// a window long) that had at least `error_spike_min` answers. Until the first such period
    /// ends there is no baseline, and only a share of `error_spike_cold_pct` is a spike; after
    /// it, the share must be `error_spike_factor` times the baseline and `error_spike_margin_pct`
    /// points above it, so a steady failure ratio never is one.
    pub(super) fn error_rate(&mut self, peer_ip: IpAddr, ts: Ts, status: u16, line: &Line<'_>) {
        let width = ns(self.cfg.window_s);
        if !self.peers.contains_key(&peer_ip) && self.peers.len() >= MAX_SOURCES {
            self.table_full("peer", ts);
            return;
        }
        let min = self.cfg.error_spike_min;
        let p = self.peers.entry(peer_ip).or_default();
        p.last = ts;
        let sec = ts.0.div_euclid(NANOS_PER_SEC);
        let wsec = (width / NANOS_PER_SEC).max(1);
        if p.period_start == 0 {
            p.period_start = sec;
        }
        if sec - p.period_start >= wsec {
            // A period closed: fold its share into the baseline, when it had enough answers.
            let [n, e] = p.period;
            if n >= min.max(1) {
                let share = e as f64 / n as f64;
                p.baseline = Some(p.baseline.map_or(share, |b| 0.8 * b + 0.2 * share));
            }
            p.period = [0, 0];
            p.period_start = sec;
        }
        let error = status >= 400 && !matches!(status, 401 | 407 | 487);
        p.period[0] += 1;
        p.finals.add(ts, 0, 1, width);
        if error {
            p.period[1] += 1;
            p.finals.add(ts, 1, 1, width);
        }
        let [n, e] = p.finals.sum();
        if !error || e < min {
            return;
        }
        let share = e as f64 / n as f64;
        let spike = match p.baseline {
            Some(b) => {
                share > self.cfg.error_spike_factor * b
                    && (share - b) * 100.0 >= self.cfg.error_spike_margin_pct
            }
            None => share * 100.0 >= self.cfg.error_spike_cold_pct,
        };
        if spike && p.fired.is_none_or(|t| ts.since(t) > width) {
            p.fired = Some(ts);
            let base = match p.baseline {
                Some(b) => format!("baseline {:.0} %", b * 100.0),
                None => format!(
                    "no baseline yet: {:.0} % or more is a spike",
                    self.cfg.error_spike_cold_pct
                ),
            };
            self.raise(
                "error-spike",
                Severity::Critical,
                ts,
                None,
                Some(peer_ip.to_string()),
                format!(
                    "{e} of {n} final answers from {peer_ip} were errors ({:.0} %, {base})",
                    share * 100.0
                ),
                Some(line.owned()),
                "the peer is failing calls: check its health, capacity and routes",
            );
        }
    }
}
