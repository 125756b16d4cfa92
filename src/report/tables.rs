//! The report's data tables, written as rows come: one [`TableSink`] per table in Parquet and
//! CSV (`report -o`, `tables -o`), and/or appended to a partitioned dataset
//! ([`super::dataset`], `--dataset`). Columns are typed (README, "Report data tables", documents
//! every column); the dataset's rows add [`schema::DATASET`].
//!
//! [`Tables`] is also a session [`Sink`] of its own, for `sipscope tables`: the same rows as the
//! report's, without the page.

use std::path::{Path, PathBuf};

use crate::analysis::alerts::Alert;
use crate::analysis::rtp::StreamStats;
use crate::correlate::record::{CallRecord, MsgRow, RegRecord};
use crate::output::frame::{Kind, Value};
use crate::output::schema;
use crate::output::sink::TableSink;
use crate::output::OutputError;
use crate::session::{Event, Needs, Sink};
use crate::time::Ts;

use super::dataset::{Dataset, DatasetOptions};

const CALLS: usize = 0;
const LEGS: usize = 1;
const TRANSACTIONS: usize = 2;
const MESSAGES: usize = 3;
const REGISTRATIONS: usize = 4;
const RTP_STREAMS: usize = 5;
const ALERTS: usize = 6;

/// Every table: its name (the file stem, the dataset's `table=`) and columns, in the order of
/// the constants above.
pub fn specs() -> Vec<(&'static str, Vec<(&'static str, Kind)>)> {
    let mut calls = schema::CALLS.to_vec();
    calls.push(("alerts", Kind::U64));
    vec![
        ("calls", calls),
        ("legs", schema::LEGS.to_vec()),
        ("transactions", schema::TRANSACTIONS.to_vec()),
        ("messages", schema::MESSAGES.to_vec()),
        ("registrations", schema::REGISTRATIONS.to_vec()),
        ("rtp_streams", schema::RTP_STREAMS.to_vec()),
        ("alerts", schema::ALERTS.to_vec()),
    ]
}

/// Every table of the report, open for writing.
pub struct Tables {
    names: Vec<&'static str>,
    /// `DIR/NAME.parquet` and `DIR/NAME.csv` of each table.
    files: Option<Vec<TableSink>>,
    dataset: Option<Dataset>,
    rows: Vec<u64>,
}

/// What the tables wrote.
#[derive(Debug, Default)]
pub struct Written {
    /// (name, rows) of each table.
    pub rows: Vec<(&'static str, u64)>,
    /// The dataset's parts this run published.
    pub parts: Vec<PathBuf>,
    /// What the user should know (said among the run's warnings).
    pub notes: Vec<String>,
}

impl Tables {
    /// The report's tables: files in `dir`.
    pub fn create(dir: &Path) -> Result<Tables, OutputError> {
        Tables::open(Some(dir), None)
    }

    /// Files in `dir` and/or the dataset.
    pub fn open(
        dir: Option<&Path>,
        dataset: Option<&DatasetOptions>,
    ) -> Result<Tables, OutputError> {
        let specs = specs();
        // The dataset first: a schema it refuses leaves no file written.
        let dataset = dataset
            .map(|o| Dataset::open(o, specs.clone()))
            .transpose()?;
        let files = dir
            .map(|d| {
                specs
                    .iter()
                    .map(|(n, c)| TableSink::create(d, n, c.clone()))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        Ok(Tables {
            names: specs.iter().map(|(n, _)| *n).collect(),
            rows: vec![0; specs.len()],
            files,
            dataset,
        })
    }

    /// A row of table `t`, at capture time `ts` (the dataset's partition).
    fn put(&mut self, t: usize, ts: Ts, row: Vec<Value>) -> Result<(), OutputError> {
        self.rows[t] += 1;
        match (&mut self.files, &mut self.dataset) {
            (Some(f), Some(d)) => {
                d.row(t, ts, row.clone())?;
                f[t].row(row)
            }
            (Some(f), None) => f[t].row(row),
            (None, Some(d)) => d.row(t, ts, row),
            (None, None) => Ok(()),
        }
    }

    /// Closes every table (and publishes the dataset's parts).
    pub fn finish(self) -> Result<Written, OutputError> {
        if let Some(files) = self.files {
            for f in files {
                f.finish()?;
            }
        }
        let (parts, notes) = match self.dataset {
            Some(d) => {
                let notes = d.notes();
                (d.finish()?, notes)
            }
            None => (Vec::new(), Vec::new()),
        };
        Ok(Written {
            rows: self.names.into_iter().zip(self.rows).collect(),
            parts,
            notes,
        })
    }

    pub fn message(&mut self, m: &MsgRow) -> Result<(), OutputError> {
        self.put(MESSAGES, m.ts, schema::message_row(m))
    }

    /// A call's row (with the number of alerts about it), its legs and its transactions.
    pub fn call(&mut self, c: &CallRecord, alerts: u64) -> Result<(), OutputError> {
        let mut row = schema::call_row(c);
        row.push(Value::U64(Some(alerts)));
        self.put(CALLS, c.start, row)?;
        // A leg has no time of its own: it goes with its call.
        for r in schema::leg_rows(c) {
            self.put(LEGS, c.start, r)?;
        }
        let txs = c.detail.as_deref().map_or(&[][..], |d| &d.transactions);
        for (t, r) in txs.iter().zip(schema::transaction_rows(c)) {
            self.put(TRANSACTIONS, t.start, r)?;
        }
        Ok(())
    }

    pub fn registration(&mut self, r: &RegRecord) -> Result<(), OutputError> {
        self.put(REGISTRATIONS, r.start, schema::registration_row(r))
    }

    pub fn stream(&mut self, st: &StreamStats) -> Result<(), OutputError> {
        self.put(RTP_STREAMS, st.first, schema::stream_row(st))
    }

    pub fn alert(&mut self, a: &Alert) -> Result<(), OutputError> {
        self.put(ALERTS, a.ts, schema::alert_row(a))
    }
}

/// `sipscope tables`: what the report's tables get, as the report gets it (the selected calls,
/// their messages, streams, registrations and alerts).
impl Sink for Tables {
    fn needs(&self) -> Needs {
        Needs {
            messages: true,
            detail: true,
            media: true,
            alerts: true,
            ..Needs::default()
        }
    }

    fn event(&mut self, e: &Event<'_>, selected: bool) -> Result<(), OutputError> {
        if !selected {
            return Ok(());
        }
        match e {
            Event::Message(m) => self.message(m),
            Event::Stream(s) => self.stream(s),
            Event::CallClosed(c) => self.call(&c.call, c.alerts.len() as u64),
            Event::Registration(r) => self.registration(r),
            Event::Alert(a) => self.alert(a),
            Event::CallChanged(_) | Event::Tick(_) | Event::Rtcp(_) => Ok(()),
        }
    }
}
