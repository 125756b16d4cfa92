//! The report's data tables: one [`TableSink`] per table, written in Parquet and CSV as rows
//! come, with typed columns (README, "Report data tables", documents every column).

use std::path::Path;

use crate::analysis::alerts::Alert;
use crate::analysis::rtp::StreamStats;
use crate::correlate::record::{CallRecord, MsgRow, RegRecord};
use crate::output::frame::{Kind, TableSink, Value};
use crate::output::OutputError;
use crate::time::{Nanos, NANOS_PER_SEC};

fn s(v: impl ToString) -> Value {
    Value::Str(Some(v.to_string()))
}

fn os<T: ToString>(v: &Option<T>) -> Value {
    Value::Str(v.as_ref().map(|x| x.to_string()))
}

fn u(v: impl Into<u64>) -> Value {
    Value::U64(Some(v.into()))
}

fn ms(n: Option<Nanos>) -> Value {
    Value::F64(n.map(|n| n as f64 * 1000.0 / NANOS_PER_SEC as f64))
}

/// Every table of the report, open for writing.
pub struct Tables {
    pub calls: TableSink,
    pub legs: TableSink,
    pub transactions: TableSink,
    pub messages: TableSink,
    pub registrations: TableSink,
    pub rtp_streams: TableSink,
    pub alerts: TableSink,
}

impl Tables {
    pub fn create(dir: &Path) -> Result<Tables, OutputError> {
        use Kind::*;
        Ok(Tables {
            calls: TableSink::create(
                dir,
                "calls",
                vec![
                    ("call_id", Str),
                    ("kind", Str),
                    ("start", Time),
                    ("end", Time),
                    ("duration_s", F64),
                    ("talk_s", F64),
                    ("from_user", Str),
                    ("to_user", Str),
                    ("caller", Str),
                    ("callee", Str),
                    ("outcome", Str),
                    ("final_status", U64),
                    ("reason", Str),
                    ("pdd_s", F64),
                    ("setup_s", F64),
                    ("messages", U64),
                    ("retransmissions", U64),
                    ("invite_attempts", U64),
                    ("dialogs", U64),
                    ("ended_by", Str),
                    ("user_agent", Str),
                    ("anomalies", U64),
                    ("legs", U64),
                    ("rtp_streams", U64),
                    ("mos", F64),
                    ("mos_adaptive", F64),
                    ("loss_pct", F64),
                    ("max_jitter_ms", F64),
                    ("alerts", U64),
                ],
            )?,
            legs: TableSink::create(
                dir,
                "legs",
                vec![("call_id", Str), ("other_call_id", Str), ("linked_by", Str)],
            )?,
            transactions: TableSink::create(
                dir,
                "transactions",
                vec![
                    ("call_id", Str),
                    ("method", Str),
                    ("start", Time),
                    ("client", Str),
                    ("server", Str),
                    ("first_response_ms", F64),
                    ("final_response_ms", F64),
                    ("final_status", U64),
                    ("retransmissions", U64),
                ],
            )?,
            messages: TableSink::create(
                dir,
                "messages",
                vec![
                    ("frame", U64),
                    ("ts", Time),
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
                    ("has_sdp", Bool),
                    ("bytes", U64),
                    ("anomalies", Str),
                ],
            )?,
            registrations: TableSink::create(
                dir,
                "registrations",
                vec![
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
                    ("rrd_s", F64),
                    ("requests", U64),
                    ("user_agent", Str),
                ],
            )?,
            rtp_streams: TableSink::create(
                dir,
                "rtp_streams",
                vec![
                    ("call_id", Str),
                    ("src", Str),
                    ("dst", Str),
                    ("ssrc", U64),
                    ("payload_type", U64),
                    ("encoding", Str),
                    ("first", Time),
                    ("last", Time),
                    ("packets", U64),
                    ("expected", U64),
                    ("lost", I64),
                    ("loss_pct", F64),
                    ("duplicates", U64),
                    ("out_of_order", U64),
                    ("sequence_jumps", U64),
                    ("max_delta_ms", F64),
                    ("mean_jitter_ms", F64),
                    ("max_jitter_ms", F64),
                    ("r_factor", F64),
                    ("mos", F64),
                    ("mos_fixed", F64),
                    ("mos_adaptive", F64),
                    ("delay_ms", F64),
                    ("dtmf", Str),
                ],
            )?,
            alerts: TableSink::create(
                dir,
                "alerts",
                vec![
                    ("ts", Time),
                    ("code", Str),
                    ("severity", Str),
                    ("state", Str),
                    ("call_id", Str),
                    ("endpoint", Str),
                    ("evidence", Str),
                    ("frame", U64),
                    ("message", Str),
                    ("hint", Str),
                ],
            )?,
        })
    }

    /// Closes every table; returns (name, rows) of each.
    pub fn finish(self) -> Result<Vec<(&'static str, u64)>, OutputError> {
        Ok(vec![
            ("calls", self.calls.finish()?),
            ("legs", self.legs.finish()?),
            ("transactions", self.transactions.finish()?),
            ("messages", self.messages.finish()?),
            ("registrations", self.registrations.finish()?),
            ("rtp_streams", self.rtp_streams.finish()?),
            ("alerts", self.alerts.finish()?),
        ])
    }

    pub fn message(&mut self, m: &MsgRow) -> Result<(), OutputError> {
        self.messages.row(vec![
            u(m.frame),
            Value::Time(Some(m.ts)),
            s(m.src),
            s(m.dst),
            s(m.transport.as_str()),
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
            Value::Bool(Some(m.sdp.is_some())),
            Value::U64(m.text.as_ref().map(|t| t.len() as u64)),
            Value::Str((!m.anomalies.is_empty()).then(|| m.anomalies.join(" "))),
        ])
    }

    /// A call's row, its legs and its transactions.
    pub fn call(&mut self, c: &CallRecord, alerts: u64) -> Result<(), OutputError> {
        let d = c.detail.as_deref();
        let media = c.media.as_ref();
        self.calls.row(vec![
            s(&c.call_id),
            s(format!("{:?}", c.kind).to_ascii_lowercase()),
            Value::Time(Some(c.start)),
            Value::Time(Some(c.end)),
            Value::F64(Some(c.duration)),
            Value::F64(c.talk_time),
            s(&c.from),
            s(&c.to),
            os(&c.caller),
            os(&d.and_then(|d| d.callee)),
            Value::Str(c.outcome.map(|o| o.as_str().to_string())),
            Value::U64(c.final_status.map(u64::from)),
            os(&c.reason),
            Value::F64(c.pdd),
            Value::F64(c.setup_time),
            u(c.messages),
            u(c.retransmissions),
            u(c.invite_attempts),
            u(c.dialogs),
            Value::Str(c.ended_by.map(str::to_string)),
            os(&c.user_agent),
            u(c.anomalies),
            u(c.legs.len() as u64),
            Value::U64(media.map(|m| u64::from(m.streams))),
            Value::F64(media.and_then(|m| m.mos)),
            Value::F64(media.and_then(|m| m.mos_adaptive)),
            Value::F64(media.and_then(|m| m.loss_pct)),
            Value::F64(media.and_then(|m| m.max_jitter_ms)),
            u(alerts),
        ])?;
        for l in &c.legs {
            self.legs
                .row(vec![s(&c.call_id), s(&l.call_id), s(&l.via)])?;
        }
        for t in d.map(|d| d.transactions.as_slice()).unwrap_or(&[]) {
            self.transactions.row(vec![
                s(&c.call_id),
                s(t.method.as_str()),
                Value::Time(Some(t.start)),
                s(t.client),
                s(t.server),
                ms(t.first_response),
                ms(t.final_response),
                Value::U64(t.final_status.map(u64::from)),
                u(t.retransmissions),
            ])?;
        }
        Ok(())
    }

    pub fn registration(&mut self, r: &RegRecord) -> Result<(), OutputError> {
        self.registrations.row(vec![
            Value::Time(Some(r.start)),
            s(&r.call_id),
            s(&r.aor),
            os(&r.contact),
            Value::U64(r.expires.map(u64::from)),
            s(r.client),
            s(r.registrar),
            Value::Bool(Some(r.challenged)),
            Value::U64(r.final_status.map(u64::from)),
            s(r.result),
            Value::F64(r.rrd),
            u(r.requests),
            os(&r.user_agent),
        ])
    }

    pub fn stream(&mut self, st: &StreamStats) -> Result<(), OutputError> {
        self.rtp_streams.row(vec![
            os(&st.call_id),
            s(st.src),
            s(st.dst),
            u(st.ssrc),
            u(st.payload_type),
            os(&st.encoding),
            Value::Time(Some(st.first)),
            Value::Time(Some(st.last)),
            u(st.packets),
            u(st.expected),
            Value::I64(Some(st.lost)),
            Value::F64(loss_pct(st)),
            u(st.duplicates),
            u(st.out_of_order),
            u(st.sequence_jumps),
            Value::F64(Some(st.max_delta_ms)),
            Value::F64(st.mean_jitter_ms),
            Value::F64(st.max_jitter_ms),
            Value::F64(st.r_factor),
            Value::F64(st.mos),
            Value::F64(st.mos_fixed),
            Value::F64(st.mos_adaptive),
            Value::F64(st.delay_ms),
            Value::Str((!st.dtmf.is_empty()).then(|| st.dtmf.clone())),
        ])
    }

    pub fn alert(&mut self, a: &Alert) -> Result<(), OutputError> {
        self.alerts.row(vec![
            Value::Time(Some(a.ts)),
            s(a.code),
            s(a.severity.as_str()),
            s(match a.state {
                crate::analysis::alerts::State::Fired => "fired",
                crate::analysis::alerts::State::Cleared => "cleared",
            }),
            os(&a.call_id),
            os(&a.endpoint),
            s(&a.evidence),
            Value::U64(a.frame),
            os(&a.message),
            s(a.hint),
        ])
    }
}

/// Lost packets as a share of those expected (none when nothing was expected).
pub fn loss_pct(st: &StreamStats) -> Option<f64> {
    (st.expected > 0).then(|| st.lost.max(0) as f64 * 100.0 / st.expected as f64)
}
