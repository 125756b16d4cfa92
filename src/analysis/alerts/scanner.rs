//! scanner: a source with a known scanner's User-Agent, or one refused (401/403/404/407/484) for
//! `scanner_targets` distinct users within the window while at most `scanner_success_pct` of the
//! final answers to it succeed (a trunk that also completes thousands of calls is no scanner). A
//! run of consecutive numeric users among the refusals is named in the evidence; `sweep` adds
//! address and user sweeps. At most `MAX_REFUSED` users are remembered per source.
//!
//! A source is said to be a scanner once per episode, whichever of these finds it first: an
//! episode lasts while the source keeps showing scanner activity (a new target refused or swept,
//! a scanner's User-Agent) with less than a window between two signs of it, so a sweep of 900
//! extensions that takes two minutes is one alert, and a scanner back the next day is another.

use std::net::IpAddr;

use super::{ns, Engine, Line, Severity, Source};
use crate::correlate::record::MsgRow;
use crate::time::{Nanos, Ts};

/// The most distinct users a source's refusals are remembered for (bounds scanner_targets).
pub(super) const MAX_REFUSED: usize = 1024;

/// The most User-Agent texts whose verdict is kept; past it the verdicts start again (a cache:
/// nothing is lost but the time to look again).
const MAX_AGENTS: usize = 4096;

/// Whether a User-Agent contains one of the scanner names (ASCII case ignored). The names are
/// lowered once, and each distinct User-Agent text is looked at once: a busy trunk sends a few
/// dozen texts in every request, and lowering the text and every name per request was most of
/// the rate detectors' cost.
pub(super) struct Agents {
    names: Vec<Vec<u8>>,
    seen: foldhash::HashMap<std::sync::Arc<str>, bool>,
}

impl Agents {
    pub(super) fn new(names: &[String]) -> Agents {
        Agents {
            names: names
                .iter()
                .map(|n| n.as_bytes().to_ascii_lowercase())
                .collect(),
            seen: Default::default(),
        }
    }

    pub(super) fn is_scanner(&mut self, ua: &std::sync::Arc<str>) -> bool {
        if let Some(&v) = self.seen.get(&**ua) {
            return v;
        }
        let lower = ua.as_bytes().to_ascii_lowercase();
        let v = self
            .names
            .iter()
            .any(|n| n.is_empty() || memchr::memmem::find(&lower, n).is_some());
        if self.seen.len() >= MAX_AGENTS {
            self.seen.clear();
        }
        self.seen.insert(ua.clone(), v);
        v
    }
}

impl Engine {
    /// A request (not a retransmission) from a known scanner's User-Agent.
    pub(super) fn scanner_agent(&mut self, m: &MsgRow, method: &str, line: &Line<'_>) {
        let Some(ua) = &m.user_agent else { return };
        let width = ns(self.cfg.window_s);
        let src_ip = m.src.ip();
        let Some(s) = self.sources.get_mut(&src_ip) else {
            return;
        };
        if self.agents.is_scanner(ua) && s.scan_episode(m.ts, width) {
            self.raise(
                "scanner",
                Severity::Critical,
                m.ts,
                m.call_id.as_deref(),
                Some(src_ip.to_string()),
                format!("{method} from {src_ip} with User-Agent {ua:?}"),
                Some(line.owned()),
                "a known SIP scanner: block the source, check that no extension has a weak password",
            );
        }
    }

    /// A final or provisional answer (not a retransmission) to `client` (whose entry exists):
    /// its success share, and the users it was refused for.
    pub(super) fn scanner_refusals(
        &mut self,
        m: &MsgRow,
        client: IpAddr,
        status: u16,
        line: &Line<'_>,
    ) {
        let width = ns(self.cfg.window_s);
        let ts = m.ts;
        let Some(c) = self.sources.get_mut(&client) else {
            return;
        };
        // Only final answers to requests count (not a callee's answer to a proxy's CANCEL
        // or BYE, whose user is the same as its INVITE's).
        if status >= 200 {
            c.answers.add(ts, 0, 1, width);
            if (200..300).contains(&status) {
                c.answers.add(ts, 1, 1, width);
            }
        }
        if !matches!(status, 401 | 403 | 404 | 407 | 484) {
            return;
        }
        let Some(user) = &m.to_user else { return };
        let cap = (self.cfg.scanner_targets as usize).clamp(1, MAX_REFUSED);
        let new = c.refused.see(ts, user, width, cap);
        if new {
            c.sequence = match (user.parse::<u64>(), c.sequence) {
                (Ok(n), (last, run)) if run > 0 && n == last.wrapping_add(1) => (n, run + 1),
                (Ok(n), _) => (n, 1),
                (Err(_), _) => (0, 0),
            };
        }
        let n = c.refused.len() as u64;
        let [finals, ok] = c.answers.sum();
        let ok_pct = ok as f64 * 100.0 / finals.max(1) as f64;
        if !(n >= (self.cfg.scanner_targets).min(cap as u64)
            && ok_pct <= self.cfg.scanner_success_pct)
        {
            if new {
                c.scan_active(ts, width);
            }
            return;
        }
        if c.scan_episode(ts, width) {
            let run = c.sequence.1;
            let seq = if run >= 3 {
                format!(
                    ", the last {run} in sequence ({}-{})",
                    c.sequence.0 + 1 - u64::from(run),
                    c.sequence.0
                )
            } else {
                String::new()
            };
            self.raise(
                "scanner",
                Severity::Critical,
                ts,
                None,
                Some(client.to_string()),
                format!(
                    "{client} was refused for {n} different users in {:.0} s{seq}; {ok} of its {finals} final answers succeeded ({ok_pct:.0} %)",
                    self.cfg.window_s
                ),
                Some(line.owned()),
                "someone is probing for extensions: block the source",
            );
        }
    }
}

impl Source {
    /// Whether something it sent at `ts` belongs to a scanner episode (sent within a window of
    /// one: the requests before the scanner was recognised are part of it too). What a scanner
    /// gets (timeouts from empty addresses, refusals) says nothing about the network's health.
    pub(super) fn scanning_at(&self, ts: Ts, width: Nanos) -> bool {
        self.scan.is_some_and(|(start, last)| {
            ts.saturating_add(width) >= start && ts <= last.saturating_add(width)
        })
    }

    /// Scanner activity at `ts` that does not fire: it keeps the current episode going, if one
    /// is (an episode over stays over: the next one is said).
    pub(super) fn scan_active(&mut self, ts: Ts, width: Nanos) {
        if let Some((_, last)) = &mut self.scan {
            if ts.since(*last) <= width {
                *last = (*last).max(ts);
            }
        }
    }

    /// A scanner alert is due at `ts`: true (a new episode begun) when no episode is going on,
    /// else the current one goes on and nothing is said.
    pub(super) fn scan_episode(&mut self, ts: Ts, width: Nanos) -> bool {
        match &mut self.scan {
            Some((_, last)) if ts.since(*last) <= width => {
                *last = (*last).max(ts);
                false
            }
            _ => {
                self.scan = Some((ts, ts));
                true
            }
        }
    }
}
