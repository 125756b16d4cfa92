//! The filters shared by every command: Call-ID, From/To user (regex), method, address, time.

use std::net::IpAddr;

use regex::Regex;

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
            && time_ok(self, m.ts, m.ts)
    }

    pub fn call(&self, c: &CallRecord) -> bool {
        self.call_id.as_ref().is_none_or(|id| &c.call_id == id)
            && re_ok(&self.from, Some(&c.from))
            && re_ok(&self.to, Some(&c.to))
            && self.addr.is_none_or(|a| c.addresses.contains(&a))
            && self.outcome.is_none_or(|o| c.outcome == Some(o))
            && self
                .method
                .as_ref()
                .is_none_or(|m| format!("{:?}", c.kind).eq_ignore_ascii_case(m))
            && time_ok(self, c.start, c.end)
    }

    pub fn registration(&self, r: &RegRecord) -> bool {
        self.call_id.as_ref().is_none_or(|id| &r.call_id == id)
            && re_ok(&self.from, Some(&r.aor))
            && re_ok(&self.to, Some(&r.aor))
            && self
                .addr
                .is_none_or(|a| r.client.ip() == a || r.registrar.ip() == a)
            && time_ok(self, r.start, r.start)
    }
}
