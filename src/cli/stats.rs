//! `sipscope stats`: the signalling statistics of a capture as tables (analysis::stats), on the
//! terminal or as CSV, JSON or Parquet files.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use sipscope::analysis::stats::{Cuts, Net, PeerMap, Stats};
use sipscope::output::frame::{self, FileFormat};
use sipscope::output::OutputError;
use sipscope::session::{Event, Needs, Report, Sink};

use super::commands::{drive, RunError};
use super::{Config, StatsArgs, StatsFormat, UsageError};

/// A validated `stats` command line.
#[derive(Debug, Clone)]
pub struct StatsRequest {
    pub cuts: Cuts,
    pub format: StatsFormat,
    pub output: Option<PathBuf>,
}

pub use sipscope::time::parse_interval;

impl StatsRequest {
    pub fn from_args(a: &StatsArgs) -> Result<StatsRequest, UsageError> {
        if a.format == StatsFormat::Parquet && a.output.is_none() {
            return Err(UsageError(
                "--format parquet writes files: give a directory with -o DIR".into(),
            ));
        }
        let peers = match &a.peers {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| UsageError(format!("cannot read --peers {}: {e}", p.display())))?;
                Some(
                    PeerMap::parse(&text)
                        .map_err(|e| UsageError(format!("--peers {}: {e}", p.display())))?,
                )
            }
            None => None,
        };
        let local = if a.local.is_empty() {
            None
        } else {
            let mut nets = Vec::new();
            for s in a.local.iter().flat_map(|l| l.split(',')) {
                nets.push(Net::parse(s).ok_or_else(|| {
                    UsageError(format!("bad --local {s:?}: give a CIDR such as 10.0.0.0/8"))
                })?);
            }
            Some(nets)
        };
        let interval = match &a.interval {
            Some(i) => Some(parse_interval(i).ok_or_else(|| {
                UsageError(format!("bad --interval {i:?}: use 30s, 1m, 15m, 1h or 1d"))
            })?),
            None => None,
        };
        Ok(StatsRequest {
            cuts: Cuts {
                peers,
                local,
                interval,
            },
            format: a.format,
            output: a.output.clone(),
        })
    }
}

/// Feeds the statistics with the calls and registrations the filter selects.
struct StatsSink(Stats);

impl Sink for StatsSink {
    fn needs(&self) -> Needs {
        Needs {
            detail: true,
            ..Needs::default()
        }
    }

    fn event(&mut self, e: &Event<'_>, _: bool) -> Result<(), OutputError> {
        match e {
            Event::CallClosed(c) => self.0.add_call(&c.call),
            Event::Registration(r) => self.0.add_reg(r),
            _ => {}
        }
        Ok(())
    }
}

pub fn stats(cfg: &Config, stop: Arc<AtomicBool>, req: StatsRequest) -> Result<Report, RunError> {
    let mut sink = StatsSink(Stats::new(req.cuts));
    let mut report = drive(cfg, stop, None, &mut sink)?;
    let run = &report.run;
    let mut st = sink.0;
    // Messages without a Call-ID belong to no call: a filter cannot place them.
    if cfg.filter.is_empty() {
        st.add_loose(&run.correlate.without_call_id_by_kind);
    }
    st.add_anomalies(&run.correlate.anomalies);
    st.finish(run.last_ts);
    report.notes.extend(st.losses());
    let polars = |e: polars::prelude::PolarsError| OutputError::Io(io::Error::other(e));
    let mut tabs = st.tables().map_err(polars)?;
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if let Some(dir) = &req.output {
        let format = match req.format {
            StatsFormat::Csv | StatsFormat::Table => FileFormat::Csv,
            StatsFormat::Json => FileFormat::Json,
            StatsFormat::Parquet => FileFormat::Parquet,
        };
        for p in frame::write_dir(dir, &mut tabs, format)? {
            writeln!(out, "{}", p.display()).map_err(OutputError::from)?;
        }
    } else {
        match req.format {
            StatsFormat::Table => {
                frame::write_tables(&mut out, &tabs, sipscope::output::terminal_width())?
            }
            StatsFormat::Csv => frame::write_csv_stream(&mut out, &tabs)?,
            StatsFormat::Json => frame::write_json_stream(&mut out, &mut tabs)?,
            StatsFormat::Parquet => unreachable!("checked in from_args"),
        }
    }
    out.flush().map_err(OutputError::from)?;
    Ok(report)
}
