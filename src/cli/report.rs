//! `sipscope report FILE… -o DIR`: one pass over the captures with the detectors and every
//! table, then the page (sections rendered in parallel), summary.md and the statistics tables.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use rayon::prelude::*;

use sipscope::output::frame::{self, FileFormat};
use sipscope::output::OutputError;
use sipscope::report::{html, markdown, Collector, Finished, ReportOptions};
use sipscope::session::{Event, Needs, Report, Sink};

use super::commands::{drive, RunError};
use super::monitor::{AlertRequest, DetectorOutcome};
use super::{Config, Input, ReportArgs, UsageError};

/// A validated `report` command line.
#[derive(Clone, Debug)]
pub struct ReportRequest {
    pub alerts: AlertRequest,
    pub opts: ReportOptions,
}

impl ReportRequest {
    pub fn from_args(a: &ReportArgs) -> Result<ReportRequest, UsageError> {
        if a.output.is_file() {
            return Err(UsageError(format!(
                "-o {} is a file: the report is a directory",
                a.output.display()
            )));
        }
        let paths = a.common.all_files();
        let files: Vec<String> = if paths.is_empty() {
            vec![format!(
                "live capture on {}",
                a.common.interface.as_deref().unwrap_or("?")
            )]
        } else {
            // The file's name, not the path on the engineer's disk: the report goes to customers.
            paths
                .iter()
                .map(|p| match p.file_name() {
                    _ if p.as_os_str() == "-" => "standard input".to_string(),
                    Some(n) => n.to_string_lossy().into_owned(),
                    None => p.display().to_string(),
                })
                .collect()
        };
        let title = a.title.clone().unwrap_or_else(|| {
            let names: Vec<String> = paths
                .iter()
                .map(|p| {
                    p.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| p.display().to_string())
                })
                .collect();
            if names.is_empty() {
                "sipscope report".into()
            } else {
                format!("sipscope report · {}", names.join(", "))
            }
        });
        Ok(ReportRequest {
            alerts: AlertRequest::from_args(&a.alert)?,
            opts: ReportOptions {
                dir: a.output.clone(),
                max_calls: a.max_calls,
                sample_good: a.sample_good,
                max_list: a.max_list,
                pending_bytes: a.hold_memory.saturating_mul(1 << 20),
                title,
                files,
                ..ReportOptions::default()
            },
        })
    }
}

fn polars(e: polars::prelude::PolarsError) -> RunError {
    RunError::Output(OutputError::Io(io::Error::other(e)))
}

/// The second reading: the messages (as the first pass selected them) of the wanted sections.
struct Refetch<'a> {
    wanted: HashMap<String, usize>,
    max: usize,
    sections: &'a mut [sipscope::report::Section],
}

impl Sink for Refetch<'_> {
    fn needs(&self) -> Needs {
        Needs {
            messages: true,
            text: true,
            ..Needs::default()
        }
    }

    fn event(&mut self, e: &Event<'_>, _: bool) -> Result<(), OutputError> {
        if let Event::Message(m) = e {
            if let Some(&i) = m.call_id.as_ref().and_then(|c| self.wanted.get(c)) {
                let s = &mut self.sections[i];
                if s.msgs.len() < self.max {
                    s.msgs.push((*m).clone());
                } else {
                    s.msgs_cut += 1;
                }
            }
        }
        Ok(())
    }
}

/// Reads the captures a second time for the messages of the sections that did not fit the
/// memory budget during the first pass (only files can be read twice).
fn refetch(cfg: &Config, stop: Arc<AtomicBool>, fin: &mut Finished) -> Result<(), RunError> {
    let wanted: HashMap<String, usize> = fin
        .sections
        .iter()
        .enumerate()
        .filter(|(_, s)| s.refetch)
        .map(|(i, s)| (s.call.call_id.clone(), i))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let rereadable = match &cfg.input {
        Input::Files(f) => f.iter().all(|p| p.as_os_str() != "-"),
        Input::Live(_) | Input::Hep(_) => false,
    };
    if !rereadable || stop.load(std::sync::atomic::Ordering::Relaxed) {
        fin.counts.sections_without_messages += wanted.len() as u64;
        return Ok(());
    }
    let mut cfg = cfg.clone();
    cfg.progress = false;
    let mut sink = Refetch {
        wanted,
        max: fin.opts.max_msgs,
        sections: &mut fin.sections,
    };
    drive(&cfg, stop, None, &mut sink)?;
    for s in fin.sections.iter_mut() {
        s.msgs.sort_by_key(|m| (m.frame, m.msg_in_frame));
    }
    Ok(())
}

/// The report's collector, with the alerts counted for the exit status.
struct ReportSink {
    col: Collector,
    outcome: DetectorOutcome,
}

impl Sink for ReportSink {
    fn needs(&self) -> Needs {
        self.col.needs()
    }

    fn event(&mut self, e: &Event<'_>, selected: bool) -> Result<(), OutputError> {
        if let (Event::Alert(a), true) = (e, selected) {
            self.outcome.add(a);
        }
        self.col.event(e, selected)
    }
}

pub fn report(
    cfg: &Config,
    stop: Arc<AtomicBool>,
    req: &ReportRequest,
) -> Result<(Report, DetectorOutcome), RunError> {
    let mut sink = ReportSink {
        col: Collector::new(req.opts.clone())?,
        outcome: DetectorOutcome::default(),
    };
    let mut report = drive(cfg, stop.clone(), Some(&req.alerts.thresholds), &mut sink)?;
    let run = &report.run;
    let ReportSink { mut col, outcome } = sink;
    // Messages without a Call-ID belong to no call: a filter cannot place them.
    if cfg.filter.is_empty() {
        col.stats.add_loose(&run.correlate.without_call_id_by_kind);
    }
    col.stats.add_anomalies(&run.correlate.anomalies);
    col.counts.late_streams = report.session.late_streams;
    col.counts.waiting_cut = report.session.waiting_dropped;
    let mut fin = col.finish(run.last_ts)?;
    refetch(cfg, stop, &mut fin)?;
    let mut notes = fin.stats.losses();
    if fin.counts.sections_without_messages > 0 {
        notes.push(format!(
            "{} call sections without their messages: over --hold-memory ({} MiB) and the input cannot be read twice (raise --hold-memory; the messages table has them)",
            fin.counts.sections_without_messages,
            req.opts.pending_bytes >> 20
        ));
    }
    let mut tabs = std::mem::take(&mut fin.stats).tables().map_err(polars)?;
    let stats_dir = req.opts.dir.join("data/stats");
    frame::write_dir(&stats_dir, &mut tabs, FileFormat::Parquet)?;
    frame::write_dir(&stats_dir, &mut tabs, FileFormat::Csv)?;
    let pb = (cfg.progress && fin.sections.len() > 20).then(|| {
        let pb = indicatif::ProgressBar::new(fin.sections.len() as u64);
        pb.set_message("rendering call sections");
        pb
    });
    // Each section is independent: ladders are built and drawn in parallel.
    let sections: Vec<(String, String)> = fin
        .sections
        .par_iter()
        .enumerate()
        .map(|(i, s)| {
            let id = format!("call-{}", i + 1);
            let html = html::section(s, &id);
            if let Some(pb) = &pb {
                pb.inc(1);
            }
            (id, html)
        })
        .collect();
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    report.notes.extend(notes);
    let warnings = super::commands::warnings(&report);
    let run = &report.run;
    let cx = html::Context {
        fin: &fin,
        run,
        tabs: &tabs,
        warnings: &warnings,
    };
    let index = req.opts.dir.join("index.html");
    let summary = req.opts.dir.join("summary.md");
    std::fs::write(&index, html::page(&cx, &sections)).map_err(OutputError::from)?;
    std::fs::write(&summary, markdown::render(&cx)).map_err(OutputError::from)?;
    let mut out = io::stdout().lock();
    let paths: [PathBuf; 3] = [index, summary, req.opts.dir.join("data")];
    for p in paths {
        writeln!(out, "{}", p.display()).map_err(OutputError::from)?;
    }
    out.flush().map_err(OutputError::from)?;
    Ok((report, outcome))
}
