//! scanner: a source with a known scanner's User-Agent, or one refused (401/403/404/407/484) for
//! `scanner_targets` distinct users within the window while at most `scanner_success_pct` of the
//! final answers to it succeed (a trunk that also completes thousands of calls is no scanner). A
//! run of consecutive numeric users among the refusals is named in the evidence. At most
//! `MAX_REFUSED` users are remembered per source.

use std::net::IpAddr;

use super::{armed, ns, Engine, Severity};
use crate::correlate::record::MsgRow;

/// The most distinct users a source's refusals are remembered for (bounds scanner_targets).
pub(super) const MAX_REFUSED: usize = 1024;

impl Engine {
    /// A request (not a retransmission) from a known scanner's User-Agent.
    pub(super) fn scanner_agent(&mut self, m: &MsgRow, method: &str, line: &(u64, String)) {
        let Some(ua) = &m.user_agent else { return };
        let width = ns(self.cfg.window_s);
        let src_ip = m.src.ip();
        let Some(s) = self.sources.get_mut(&src_ip) else {
            return;
        };
        let lower = ua.to_ascii_lowercase();
        if self
            .cfg
            .scanner_agents
            .iter()
            .any(|a| lower.contains(&a.to_ascii_lowercase()))
            && armed(&mut s.fired, "scanner", m.ts, width)
        {
            self.raise(
                "scanner",
                Severity::Critical,
                m.ts,
                m.call_id.as_deref(),
                Some(src_ip.to_string()),
                format!("{method} from {src_ip} with User-Agent {ua:?}"),
                Some(line.clone()),
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
        line: &(u64, String),
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
        if c.refused.see(ts, user, width, cap) {
            c.sequence = match (user.parse::<u64>(), c.sequence) {
                (Ok(n), (last, run)) if run > 0 && n == last.wrapping_add(1) => (n, run + 1),
                (Ok(n), _) => (n, 1),
                (Err(_), _) => (0, 0),
            };
        }
        let n = c.refused.len() as u64;
        let [finals, ok] = c.answers.sum();
        let ok_pct = ok as f64 * 100.0 / finals.max(1) as f64;
        if n >= (self.cfg.scanner_targets).min(cap as u64)
            && ok_pct <= self.cfg.scanner_success_pct
            && armed(&mut c.fired, "scanner", ts, width)
        {
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
                Some(line.clone()),
                "someone is probing for extensions: block the source",
            );
        }
    }
}
