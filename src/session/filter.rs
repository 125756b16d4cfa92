//! The one filter: Call-ID, From/To user (regex), method, address, time window and outcome,
//! decided once per event by the session and meaning the same in every command.
//!
//! - A message passes on its own headers and addresses.
//! - A call passes on its record (any of its addresses, its time span, its outcome).
//! - A call's RTP streams, alerts and changes pass when the call passes: the call decides.
//! - `--node` (a HEP capture node) is something messages and calls have: a message passes when
//!   that node sent it, a call when any of its messages came from it; registrations, streams
//!   and endpoint alerts carry no node and do not pass it.
//! - What belongs to no call (a stream no SDP announced, an alert about an endpoint) passes only
//!   when the filter names nothing a call has (Call-ID, users, method, outcome), on its own
//!   addresses and time.

use std::net::IpAddr;

use regex::Regex;

use crate::analysis::alerts::Alert;
use crate::analysis::rtp::StreamStats;
use crate::correlate::record::{CallRecord, MsgRow, Outcome, RegRecord};
use crate::time::Ts;

#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub call_id: Option<String>,
    pub from: Option<Regex>,
    pub to: Option<Regex>,
    pub method: Option<String>,
    pub addr: Option<IpAddr>,
    pub since: Option<Ts>,
    pub until: Option<Ts>,
    pub outcome: Option<Outcome>,
    /// The HEP capture node (capture id) a message came from; a call passes when any of its
    /// messages did.
    pub node: Option<u32>,
}

fn re_ok(re: &Option<Regex>, v: Option<&str>) -> bool {
    match re {
        Some(r) => v.is_some_and(|v| r.is_match(v)),
        None => true,
    }
}

fn time_ok(f: &Filter, start: Ts, end: Ts) -> bool {
    f.since.is_none_or(|s| end >= s) && f.until.is_none_or(|u| start <= u)
}

impl Filter {
    /// Passes everything.
    pub fn is_empty(&self) -> bool {
        !self.names_call() && self.addr.is_none() && self.since.is_none() && self.until.is_none()
    }

    /// The filter names something only a call has: then what belongs to no call never passes.
    pub fn names_call(&self) -> bool {
        self.call_id.is_some()
            || self.from.is_some()
            || self.to.is_some()
            || self.method.is_some()
            || self.outcome.is_some()
            || self.node.is_some()
    }

    /// A stream no call claims (heuristic RTP), on its addresses and time span.
    pub fn unclaimed_stream(&self, s: &StreamStats) -> bool {
        !self.names_call()
            && self.addr.is_none_or(|a| s.src.ip() == a || s.dst.ip() == a)
            && time_ok(self, s.first, s.last)
    }

    /// An alert about an endpoint or the capture, not a call.
    pub fn endpoint_alert(&self, a: &Alert) -> bool {
        !self.names_call()
            && self.addr.is_none_or(|ip| {
                a.endpoint.as_deref().is_some_and(|e| {
                    e.parse::<IpAddr>().ok() == Some(ip)
                        || e.parse::<std::net::SocketAddr>()
                            .is_ok_and(|s| s.ip() == ip)
                })
            })
            && time_ok(self, a.ts, a.ts)
    }

    pub fn message(&self, m: &MsgRow) -> bool {
        self.call_id
            .as_ref()
            .is_none_or(|c| m.call_id.as_deref() == Some(c.as_str()))
            && re_ok(&self.from, m.from_user.as_deref())
            && re_ok(&self.to, m.to_user.as_deref())
            && self.method.as_ref().is_none_or(|meth| {
                m.method.as_deref().or(m.cseq_method.as_deref()) == Some(meth.as_str())
            })
            && self.addr.is_none_or(|a| m.src.ip() == a || m.dst.ip() == a)
            && self.node.is_none_or(|n| m.node == Some(n))
            && time_ok(self, m.ts, m.ts)
    }

    pub fn call(&self, c: &CallRecord) -> bool {
        self.call_id.as_ref().is_none_or(|id| &c.call_id == id)
            && re_ok(&self.from, Some(&c.from))
            && re_ok(&self.to, Some(&c.to))
            && self.addr.is_none_or(|a| c.addresses.contains(&a))
            && self.outcome.is_none_or(|o| c.outcome == Some(o))
            && self.node.is_none_or(|n| c.nodes.contains(&n))
            && self
                .method
                .as_ref()
                .is_none_or(|m| format!("{:?}", c.kind).eq_ignore_ascii_case(m))
            && time_ok(self, c.start, c.end)
    }

    pub fn registration(&self, r: &RegRecord) -> bool {
        self.outcome.is_none()
            && self.node.is_none()
            && self.method.as_deref().is_none_or(|m| m == "REGISTER")
            && self.call_id.as_ref().is_none_or(|id| &r.call_id == id)
            && re_ok(&self.from, Some(&r.aor))
            && re_ok(&self.to, Some(&r.aor))
            && self
                .addr
                .is_none_or(|a| r.client.ip() == a || r.registrar.ip() == a)
            && time_ok(self, r.start, r.start)
    }
}

#[cfg(test)]
mod node_tests {
    use super::*;
    use crate::testutil::{call_record, msg_row};

    #[test]
    fn node_selects_messages_and_calls_of_that_capture_node() {
        let f = Filter {
            node: Some(7),
            ..Filter::default()
        };
        let mut m = msg_row();
        assert!(!f.message(&m), "a message not from HEP");
        m.node = Some(7);
        assert!(f.message(&m));
        m.node = Some(8);
        assert!(!f.message(&m));
        let mut c = call_record("c1");
        assert!(!f.call(&c));
        c.nodes = vec![8, 7];
        assert!(f.call(&c));
        assert!(f.names_call() && !f.is_empty());
    }
}
