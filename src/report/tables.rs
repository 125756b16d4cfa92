//! The report's data tables: one [`TableSink`] per table, written in Parquet and CSV as rows
//! come, with typed columns (README, "Report data tables", documents every column).

use std::path::Path;

use crate::analysis::alerts::Alert;
use crate::analysis::rtp::StreamStats;
use crate::correlate::record::{CallRecord, MsgRow, RegRecord};
use crate::output::frame::{Kind, TableSink, Value};
use crate::output::schema;
use crate::output::OutputError;

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
        let t = |name, fields: schema::Fields| TableSink::create(dir, name, fields.to_vec());
        let mut calls = schema::CALLS.to_vec();
        calls.push(("alerts", Kind::U64));
        Ok(Tables {
            calls: TableSink::create(dir, "calls", calls)?,
            legs: t("legs", schema::LEGS)?,
            transactions: t("transactions", schema::TRANSACTIONS)?,
            messages: t("messages", schema::MESSAGES)?,
            registrations: t("registrations", schema::REGISTRATIONS)?,
            rtp_streams: t("rtp_streams", schema::RTP_STREAMS)?,
            alerts: t("alerts", schema::ALERTS)?,
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
        self.messages.row(schema::message_row(m))
    }

    /// A call's row (with the number of alerts about it), its legs and its transactions.
    pub fn call(&mut self, c: &CallRecord, alerts: u64) -> Result<(), OutputError> {
        let mut row = schema::call_row(c);
        row.push(Value::U64(Some(alerts)));
        self.calls.row(row)?;
        for r in schema::leg_rows(c) {
            self.legs.row(r)?;
        }
        for r in schema::transaction_rows(c) {
            self.transactions.row(r)?;
        }
        Ok(())
    }

    pub fn registration(&mut self, r: &RegRecord) -> Result<(), OutputError> {
        self.registrations.row(schema::registration_row(r))
    }

    pub fn stream(&mut self, st: &StreamStats) -> Result<(), OutputError> {
        self.rtp_streams.row(schema::stream_row(st))
    }

    pub fn alert(&mut self, a: &Alert) -> Result<(), OutputError> {
        self.alerts.row(schema::alert_row(a))
    }
}
