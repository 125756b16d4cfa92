//! The one list of fields of every record sipscope writes, and the one way each record becomes a
//! row. The CLI's `--format csv`, the report's CSV and Parquet tables and (through the records'
//! serde names) the JSON all take their field names from here, so a field has one name in every
//! command and format.
//!
//! The naming scheme (README, "Fields"): snake_case; an instant is `time`, a span is
//! `start`/`end`; durations are in seconds and carry no unit in their name (`duration`, `pdd`,
//! `setup_time`, `rrd`); any other unit is in the name (`_ms`, `_pct`). A record's JSON may hold
//! more than its flat row (lists, nested objects); a field present in both has the same name, and
//! a flat row's list fields (`legs`, `anomalies`) are the JSON list's items joined by spaces.
//!
//! No polars here: the CLI writes these rows as text ([`text`]); the report's frames
//! (`output::frame`, behind the `tables` feature) type their columns with the same [`Kind`]s.

use crate::analysis::alerts::{Alert, State};
use crate::analysis::rtp::StreamStats;
use crate::correlate::record::{CallRecord, MsgRow, RegRecord};
use crate::time::{Nanos, Ts, NANOS_PER_SEC};
use std::borrow::Cow;

/// A column's type.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Str,
    U64,
    I64,
    F64,
    Bool,
    Time,
}

/// One cell; `None` is a null (a figure that was not measured is never 0). Text is borrowed from
/// the record where it can be: a row is written at once, and a signalling-heavy run makes 1.77 M
/// message rows of ten texts each.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    Str(Option<Cow<'a, str>>),
    U64(Option<u64>),
    I64(Option<i64>),
    F64(Option<f64>),
    Bool(Option<bool>),
    Time(Option<Ts>),
}

/// A record's fields in order: (name, type).
pub type Fields = &'static [(&'static str, Kind)];

use Kind::*;

pub const CALLS: Fields = &[
    ("call_id", Str),
    ("kind", Str),
    ("start", Time),
    ("end", Time),
    ("duration", F64),
    ("talk_time", F64),
    ("from_user", Str),
    ("to_user", Str),
    ("caller", Str),
    ("outcome", Str),
    ("final_status", U64),
    ("reason", Str),
    ("pdd", F64),
    ("setup_time", F64),
    ("messages", U64),
    ("retransmissions", U64),
    ("invite_attempts", U64),
    ("dialogs", U64),
    ("ended_by", Str),
    ("user_agent", Str),
    ("anomalies", U64),
    ("legs", Str),
    ("nodes", Str),
    ("streams", U64),
    ("mos", F64),
    ("mos_adaptive", F64),
    ("loss_pct", F64),
    ("max_jitter_ms", F64),
];

pub const LEGS: Fields = &[("call_id", Str), ("leg_call_id", Str), ("via", Str)];

pub const TRANSACTIONS: Fields = &[
    ("call_id", Str),
    ("method", Str),
    ("start", Time),
    ("client", Str),
    ("server", Str),
    ("first_response_ms", F64),
    ("final_response_ms", F64),
    ("final_status", U64),
    ("retransmissions", U64),
];

pub const MESSAGES: Fields = &[
    ("frame", U64),
    ("msg_in_frame", U64),
    ("time", Time),
    ("src", Str),
    ("dst", Str),
    ("transport", Str),
    ("method", Str),
    ("status", U64),
    ("reason", Str),
    ("call_id", Str),
    ("cseq", U64),
    ("cseq_method", Str),
    ("from_user", Str),
    ("to_user", Str),
    ("from_tag", Str),
    ("to_tag", Str),
    ("branch", Str),
    ("via_count", U64),
    ("user_agent", Str),
    ("retransmission", Bool),
    ("ip_reassembled", Bool),
    ("node", U64),
    ("sdp", Str),
    ("anomalies", Str),
];

pub const REGISTRATIONS: Fields = &[
    ("start", Time),
    ("call_id", Str),
    ("aor", Str),
    ("contact", Str),
    ("expires", U64),
    ("client", Str),
    ("registrar", Str),
    ("challenged", Bool),
    ("final_status", U64),
    ("result", Str),
    ("rrd", F64),
    ("requests", U64),
    ("user_agent", Str),
];

pub const RTP_STREAMS: Fields = &[
    ("call_id", Str),
    ("src", Str),
    ("dst", Str),
    ("ssrc", U64),
    ("payload_type", U64),
    ("encoding", Str),
    ("start", Time),
    ("end", Time),
    ("packets", U64),
    ("expected", U64),
    ("lost", U64),
    ("loss_pct", F64),
    ("duplicates", U64),
    ("out_of_order", U64),
    ("sequence_jumps", U64),
    ("burst_ratio", F64),
    ("comfort_noise", U64),
    ("max_delta_ms", F64),
    ("mean_jitter_ms", F64),
    ("max_jitter_ms", F64),
    ("r_factor", F64),
    ("mos", F64),
    ("mos_fixed", F64),
    ("mos_adaptive", F64),
    ("late_fixed", U64),
    ("late_adaptive", U64),
    ("delay_ms", F64),
    ("dtmf", Str),
];

pub const ALERTS: Fields = &[
    ("time", Time),
    ("code", Str),
    ("severity", Str),
    ("state", Str),
    ("call_id", Str),
    ("endpoint", Str),
    ("evidence", Str),
    ("frame", U64),
    ("message", Str),
    ("hint", Str),
];

/// The columns a dataset's rows add to their table's (`report --dataset`, `tables --dataset`):
/// the capture file the row came from (its name, not its path) and the sensor that took it.
pub const DATASET: Fields = &[("capture", Str), ("sensor", Str)];

/// A value as text it formats to.
fn s<'a>(v: impl ToString) -> Value<'a> {
    Value::Str(Some(Cow::Owned(v.to_string())))
}

/// Text of the record, borrowed.
fn b(v: &str) -> Value<'_> {
    Value::Str(Some(Cow::Borrowed(v)))
}

/// An address as `Display` writes it (`192.0.2.1:5060`, `[2001:db8::1]:5060`), without the
/// formatting machinery for IPv4 (about 1,700 instructions an address through `Display`): one
/// per message row and two per transaction row, so it shows in a signalling-heavy run.
pub fn addr_text(a: std::net::SocketAddr) -> String {
    match a {
        std::net::SocketAddr::V4(v) => {
            let mut t = AddrText::default();
            t.ipv4(*v.ip());
            t.byte(b':');
            t.num(v.port());
            t.text()
        }
        std::net::SocketAddr::V6(_) => a.to_string(),
    }
}

/// An IP address as `Display` writes it, IPv4 without the formatting machinery.
pub fn ip_text(a: std::net::IpAddr) -> String {
    match a {
        std::net::IpAddr::V4(v) => {
            let mut t = AddrText::default();
            t.ipv4(v);
            t.text()
        }
        std::net::IpAddr::V6(_) => a.to_string(),
    }
}

/// An IPv4 address and port written on the stack (`255.255.255.255:65535` is 21 bytes), then
/// copied into a string of its length.
#[derive(Default)]
struct AddrText {
    buf: [u8; 24],
    len: usize,
}

impl AddrText {
    fn byte(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    /// An octet or a port: at most five digits, written in place (a copy of a few bytes
    /// through memcpy cost more than the digits).
    fn num(&mut self, n: u16) {
        let n = u32::from(n);
        for (at, div) in [(10_000, 10_000), (1_000, 1_000), (100, 100), (10, 10)] {
            if n >= at {
                self.byte(b'0' + (n / div % 10) as u8);
            }
        }
        self.byte(b'0' + (n % 10) as u8);
    }

    fn ipv4(&mut self, ip: std::net::Ipv4Addr) {
        for (i, o) in ip.octets().into_iter().enumerate() {
            if i > 0 {
                self.byte(b'.');
            }
            self.num(u16::from(o));
        }
    }

    fn text(&self) -> String {
        // Digits, dots and a colon: always ASCII.
        std::str::from_utf8(&self.buf[..self.len])
            .unwrap_or_default()
            .to_string()
    }
}

fn addr<'a>(a: std::net::SocketAddr) -> Value<'a> {
    Value::Str(Some(Cow::Owned(addr_text(a))))
}

/// Optional text of the record, borrowed.
fn os<T: AsRef<str>>(v: &Option<T>) -> Value<'_> {
    Value::Str(v.as_ref().map(|x| Cow::Borrowed(x.as_ref())))
}

fn u<'a>(v: impl Into<u64>) -> Value<'a> {
    Value::U64(Some(v.into()))
}

fn ms<'a>(n: Option<Nanos>) -> Value<'a> {
    Value::F64(n.map(|n| n as f64 * 1000.0 / NANOS_PER_SEC as f64))
}

fn joined<'a>(items: impl Iterator<Item = impl AsRef<str>>) -> Value<'a> {
    let mut out = String::new();
    for i in items {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(i.as_ref());
    }
    Value::Str((!out.is_empty()).then_some(Cow::Owned(out)))
}

/// A call's row ([`CALLS`]).
pub fn call_row(c: &CallRecord) -> Vec<Value<'_>> {
    let media = c.media.as_ref();
    vec![
        b(&c.call_id),
        b(c.kind.as_str()),
        Value::Time(Some(c.start)),
        Value::Time(Some(c.end)),
        Value::F64(Some(c.duration)),
        Value::F64(c.talk_time),
        b(&c.from),
        b(&c.to),
        c.caller.map_or(Value::Str(None), addr),
        Value::Str(c.outcome.map(|o| Cow::Borrowed(o.as_str()))),
        Value::U64(c.final_status.map(u64::from)),
        os(&c.reason),
        Value::F64(c.pdd),
        Value::F64(c.setup_time),
        u(c.messages),
        u(c.retransmissions),
        u(c.invite_attempts),
        u(c.dialogs),
        Value::Str(c.ended_by.map(Cow::Borrowed)),
        os(&c.user_agent),
        u(c.anomalies),
        joined(c.legs.iter().map(|l| l.call_id.as_str())),
        joined(c.nodes.iter().map(u32::to_string)),
        Value::U64(media.map(|m| u64::from(m.streams))),
        Value::F64(media.and_then(|m| m.mos)),
        Value::F64(media.and_then(|m| m.mos_adaptive)),
        Value::F64(media.and_then(|m| m.loss_pct)),
        Value::F64(media.and_then(|m| m.max_jitter_ms)),
    ]
}

/// A call's legs ([`LEGS`]), one row each.
pub fn leg_rows(c: &CallRecord) -> impl Iterator<Item = Vec<Value<'_>>> + '_ {
    c.legs
        .iter()
        .map(|l| vec![b(&c.call_id), b(&l.call_id), b(&l.via)])
}

/// A call's timed transactions ([`TRANSACTIONS`]), one row per hop (only with the call's detail).
pub fn transaction_rows(c: &CallRecord) -> impl Iterator<Item = Vec<Value<'_>>> + '_ {
    let txs = c
        .detail
        .as_deref()
        .map(|d| d.transactions.as_slice())
        .unwrap_or(&[]);
    txs.iter().map(|t| {
        vec![
            b(&c.call_id),
            b(t.method.as_str()),
            Value::Time(Some(t.start)),
            addr(t.client),
            addr(t.server),
            ms(t.first_response),
            ms(t.final_response),
            Value::U64(t.final_status.map(u64::from)),
            u(t.retransmissions),
        ]
    })
}

/// A message's row ([`MESSAGES`]).
pub fn message_row(m: &MsgRow) -> Vec<Value<'_>> {
    vec![
        u(m.frame),
        u(m.msg_in_frame),
        Value::Time(Some(m.ts)),
        addr(m.src),
        addr(m.dst),
        b(m.transport.as_str()),
        os(&m.method),
        Value::U64(m.status.map(u64::from)),
        os(&m.reason),
        os(&m.call_id),
        Value::U64(m.cseq.map(u64::from)),
        os(&m.cseq_method),
        os(&m.from_user),
        os(&m.to_user),
        os(&m.from_tag),
        os(&m.to_tag),
        os(&m.branch),
        u(m.via_count as u64),
        os(&m.user_agent),
        Value::Bool(Some(m.retransmission)),
        Value::Bool(Some(m.ip_reassembled)),
        Value::U64(m.node.map(u64::from)),
        os(&m.sdp),
        joined(m.anomalies.iter()),
    ]
}

/// A registration's row ([`REGISTRATIONS`]).
pub fn registration_row(r: &RegRecord) -> Vec<Value<'_>> {
    vec![
        Value::Time(Some(r.start)),
        b(&r.call_id),
        b(&r.aor),
        os(&r.contact),
        Value::U64(r.expires.map(u64::from)),
        addr(r.client),
        addr(r.registrar),
        Value::Bool(Some(r.challenged)),
        Value::U64(r.final_status.map(u64::from)),
        b(r.result),
        Value::F64(r.rrd),
        u(r.requests),
        os(&r.user_agent),
    ]
}

/// An RTP stream's row ([`RTP_STREAMS`]).
pub fn stream_row(st: &StreamStats) -> Vec<Value<'_>> {
    vec![
        os(&st.call_id),
        addr(st.src),
        addr(st.dst),
        u(st.ssrc),
        u(st.payload_type),
        os(&st.encoding),
        Value::Time(Some(st.first)),
        Value::Time(Some(st.last)),
        u(st.packets),
        u(st.expected),
        u(st.lost),
        Value::F64(st.loss_pct()),
        u(st.duplicates),
        u(st.out_of_order),
        u(st.sequence_jumps),
        Value::F64(Some(st.burst_ratio)),
        u(st.comfort_noise),
        Value::F64(Some(st.max_delta_ms)),
        Value::F64(st.mean_jitter_ms),
        Value::F64(st.max_jitter_ms),
        Value::F64(st.r_factor),
        Value::F64(st.mos),
        Value::F64(st.mos_fixed),
        Value::F64(st.mos_adaptive),
        u(st.late_fixed),
        u(st.late_adaptive),
        Value::F64(st.delay_ms),
        Value::Str((!st.dtmf.is_empty()).then_some(Cow::Borrowed(st.dtmf.as_str()))),
    ]
}

/// An alert's row ([`ALERTS`]).
pub fn alert_row(a: &Alert) -> Vec<Value<'_>> {
    vec![
        Value::Time(Some(a.ts)),
        b(a.code),
        b(a.severity.as_str()),
        s(match a.state {
            State::Fired => "fired",
            State::Cleared => "cleared",
        }),
        os(&a.call_id),
        os(&a.endpoint),
        b(&a.evidence),
        Value::U64(a.frame),
        os(&a.message),
        b(a.hint),
    ]
}

/// One cell as text, as every CSV sipscope writes it: integers plainly, figures to three
/// decimals, times as RFC 3339 UTC, booleans `true`/`false`, nulls empty. The text is the
/// wire's: [`super::write_csv_row`] makes it safe.
pub fn text(v: &Value) -> String {
    match v {
        Value::Str(x) => x.as_deref().unwrap_or_default().to_string(),
        Value::U64(x) => x.map(|n| n.to_string()).unwrap_or_default(),
        Value::I64(x) => x.map(|n| n.to_string()).unwrap_or_default(),
        Value::F64(x) => x
            .filter(|x| x.is_finite())
            .map(|x| format!("{x:.3}"))
            .unwrap_or_default(),
        Value::Bool(x) => x.map(|b| b.to_string()).unwrap_or_default(),
        Value::Time(x) => x.map(|t| t.to_string()).unwrap_or_default(),
    }
}

/// The names of a record's fields (a CSV header).
pub fn names(f: Fields) -> Vec<String> {
    f.iter().map(|(n, _)| n.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast address text is `Display`'s, digit for digit.
    #[test]
    fn addr_text_is_display() {
        for a in [
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "10.0.0.1:5060",
            "192.168.100.9:10",
            "[2001:db8::1]:5061",
            "[::ffff:10.0.0.1]:5060",
        ] {
            let a: std::net::SocketAddr = a.parse().unwrap();
            assert_eq!(addr_text(a), a.to_string());
            assert_eq!(ip_text(a.ip()), a.ip().to_string());
        }
        // Every count of digits, and the numbers either side of each step.
        for n in [
            0u16, 1, 9, 10, 99, 100, 255, 999, 1000, 9999, 10000, 10009, 65535,
        ] {
            let o = (n % 256) as u8;
            let a = std::net::SocketAddr::from(([o, 0, n.min(255) as u8, 9], n));
            assert_eq!(addr_text(a), a.to_string());
        }
    }

    /// Every row builder gives one value per field, of the field's type (or a null).
    #[test]
    fn rows_follow_their_fields() {
        fn check(f: Fields, row: &[Value]) {
            assert_eq!(f.len(), row.len());
            for ((name, k), v) in f.iter().zip(row) {
                let ok = matches!(
                    (k, v),
                    (Str, Value::Str(_))
                        | (U64, Value::U64(_))
                        | (I64, Value::I64(_))
                        | (F64, Value::F64(_))
                        | (Bool, Value::Bool(_))
                        | (Time, Value::Time(_))
                );
                assert!(ok, "{name}: {k:?} vs {v:?}");
            }
        }
        let a = Alert {
            code: "scanner",
            severity: crate::analysis::alerts::Severity::Warning,
            state: State::Fired,
            ts: Ts(1),
            call_id: Some("c".into()),
            endpoint: None,
            evidence: "e".into(),
            frame: Some(3),
            message: None,
            hint: "h",
        };
        check(ALERTS, &alert_row(&a));
        let mut t = crate::analysis::rtp::RtpTracker::default();
        let pkt = [0x80, 0, 0, 1, 0, 0, 0, 160, 0, 0, 0, 9, 0xff];
        let h = crate::analysis::rtp::RtpHeader::parse(&pkt).unwrap();
        let (a1, a2) = (
            "192.0.2.1:4000".parse().unwrap(),
            "192.0.2.2:4000".parse().unwrap(),
        );
        t.packet(Ts(1), a1, a2, &h, &[]);
        let st = t.finish().remove(0);
        check(RTP_STREAMS, &stream_row(&st));
        let mut c = crate::testutil::call_record("x");
        c.legs.push(crate::correlate::record::Leg {
            call_id: "y".into(),
            via: "x-call-id".into(),
        });
        check(CALLS, &call_row(&c));
        let legs: Vec<Vec<Value>> = leg_rows(&c).collect();
        assert_eq!(legs.len(), 1);
        check(LEGS, &legs[0]);
        let r = RegRecord {
            start: Ts(1),
            call_id: "r".into(),
            aor: "sip:a@b".into(),
            contact: None,
            expires: Some(60),
            client: a1,
            registrar: a2,
            challenged: true,
            final_status: Some(200),
            result: "registered",
            rrd: Some(0.1),
            requests: 2,
            user_agent: None,
        };
        check(REGISTRATIONS, &registration_row(&r));
        let m = crate::testutil::msg_row();
        check(MESSAGES, &message_row(&m));
    }

    /// One name per field: no record lists a name twice, and every name is snake_case.
    #[test]
    fn names_are_snake_case_and_unique() {
        for f in [
            CALLS,
            LEGS,
            TRANSACTIONS,
            MESSAGES,
            REGISTRATIONS,
            RTP_STREAMS,
            ALERTS,
        ] {
            let mut seen = std::collections::HashSet::new();
            // A dataset's rows add its columns to every table's.
            for (n, _) in f.iter().chain(DATASET) {
                assert!(seen.insert(*n), "{n} twice");
                assert!(
                    n.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                    "{n}"
                );
            }
        }
    }
}
