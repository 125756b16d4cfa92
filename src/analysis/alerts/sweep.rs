//! The sweep trigger of `scanner`: one source sending out-of-dialog OPTIONS, REGISTER or INVITE
//! requests to `sweep_targets` or more distinct destination addresses (svmap: OPTIONS to every
//! address of a /24), or for as many distinct users (svwar: REGISTER to extensions 100, 101, ...)
//! within the window, while at most `scanner_success_pct` of those requests succeed (2xx).
//!
//! What keeps healthy senders out: a proxy pinging its gateways, a front-end registering
//! thousands of users and a trunk calling thousands of numbers all succeed; and a sweep asks each
//! target about once, where a keepalive asks the same few targets again and again, so at most
//! `sweep_repeat` requests per distinct target (on average over the window) are a sweep. A user
//! sweep must also be answered (at least half of its requests got a final answer, the failures
//! said by the target): a front-end whose registrar is down asks for many users and gets
//! nothing back, which is an outage (the timeout detectors), not a scanner. An address sweep
//! needs no answer: most addresses of a range have nothing listening.
//!
//! The user is the To user: the AOR of a REGISTER (whose Request-URI has no user) and, for an
//! out-of-dialog OPTIONS or INVITE, the Request-URI's user as well. At most `MAX_REFUSED`
//! addresses and users are remembered per source; O(1) per request, no allocation for a target
//! already in the window.

use std::net::IpAddr;

use super::scanner::MAX_REFUSED;
use super::{ns, Engine, Line, Severity};
use crate::correlate::record::MsgRow;

/// The methods a sweep is made of.
fn swept(method: &str) -> bool {
    matches!(method, "OPTIONS" | "REGISTER" | "INVITE")
}

/// An address as a number, to tell runs of consecutive ones.
fn ordinal(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn from_ordinal(n: u128, like: IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4((n as u32).into()),
        IpAddr::V6(_) => IpAddr::V6(n.into()),
    }
}

impl Engine {
    /// A request (not a retransmission) from its source (whose entry exists).
    pub(super) fn sweep_request(&mut self, m: &MsgRow, method: &str, line: &Line<'_>) {
        if !swept(method) || m.to_tag.is_some() {
            return;
        }
        let width = ns(self.cfg.window_s);
        let ts = m.ts;
        let src_ip = m.src.ip();
        let Some(s) = self.sources.get_mut(&src_ip) else {
            return;
        };
        let cap = (self.cfg.sweep_targets as usize).clamp(1, MAX_REFUSED);
        s.sweep_asked.add(ts, 0, 1, width);
        let host = m.dst.ip();
        let new_host = s.sweep_hosts.see_copy(ts, host, width, cap);
        if new_host {
            let n = ordinal(host);
            s.host_sequence = match s.host_sequence {
                (last, run) if run > 0 && n == last.wrapping_add(1) => (n, run + 1),
                _ => (n, 1),
            };
        }
        let new_user = m
            .to_user
            .as_deref()
            .is_some_and(|u| s.sweep_users.see(ts, u, width, cap));
        let [asked, answered, ok] = s.sweep_asked.sum();
        let (hosts, users) = (s.sweep_hosts.len() as u64, s.sweep_users.len() as u64);
        let targets = self.cfg.sweep_targets.min(cap as u64);
        let repeat = self.cfg.sweep_repeat;
        let ok_pct = ok as f64 * 100.0 / asked.max(1) as f64;
        let by_host = hosts >= targets && asked as f64 <= repeat * hosts as f64;
        let by_user =
            users >= targets && asked as f64 <= repeat * users as f64 && 2 * answered >= asked;
        if !((by_host || by_user) && ok_pct <= self.cfg.scanner_success_pct) {
            if new_host || new_user {
                s.scan_active(ts, width);
            }
            return;
        }
        if !s.scan_episode(ts, width) {
            return;
        }
        let window = self.cfg.window_s;
        let what = if by_host {
            let (last, run) = s.host_sequence;
            let seq = if run >= 3 {
                format!(
                    ", the last {run} in sequence ({}-{})",
                    from_ordinal(last + 1 - u128::from(run), host),
                    from_ordinal(last, host)
                )
            } else {
                String::new()
            };
            format!("to {hosts} different addresses in {window:.0} s{seq}")
        } else {
            format!("for {users} different users in {window:.0} s")
        };
        self.raise(
            "scanner",
            Severity::Critical,
            ts,
            None,
            Some(src_ip.to_string()),
            format!(
                "{src_ip} swept with {method} requests {what}; {ok} of its {asked} requests succeeded ({ok_pct:.0} %), {answered} got a final answer"
            ),
            Some(line.owned()),
            "someone is mapping SIP hosts or extensions: block the source",
        );
    }

    /// A final answer (not a retransmission) to `client`: whether its sweep is answered, and
    /// whether it succeeds.
    pub(super) fn sweep_answer(&mut self, m: &MsgRow, client: IpAddr, status: u16) {
        if status < 200 || !m.cseq_method.as_deref().is_some_and(swept) {
            return;
        }
        let width = ns(self.cfg.window_s);
        let Some(c) = self.sources.get_mut(&client) else {
            return;
        };
        c.sweep_asked.add(m.ts, 1, 1, width);
        if (200..300).contains(&status) {
            c.sweep_asked.add(m.ts, 2, 1, width);
        }
    }
}
