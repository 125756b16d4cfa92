//! `sipscope export FILE… (--call-id ID | calls filters) -o OUT.pcap|.pcapng` or `--split DIR`:
//! the frames of the chosen calls, for a vendor or Wireshark ([`sipscope::export`] does the
//! work; this is its command line).

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use sipscope::export::collect::{Choice, Chooser, Refetch};
use sipscope::export::{self, CallFrames, Container, ExportError, Locate, Target};
use sipscope::output::names::FileNames;
use sipscope::output::OutputError;
use sipscope::session::Report;

use super::commands::{drive, RunError};
use super::{Config, ExportArgs, ExportFormat, Input, UsageError};

/// A validated `export` command line.
#[derive(Clone, Debug)]
pub struct ExportRequest {
    pub output: Option<PathBuf>,
    pub split: Option<PathBuf>,
    pub container: Container,
    pub choice: Choice,
}

impl ExportRequest {
    pub fn from_args(a: &ExportArgs, cfg: &Config) -> Result<ExportRequest, UsageError> {
        let container = match (&a.output, &a.split) {
            (Some(o), None) => Container::of_path(o).ok_or_else(|| {
                UsageError(format!(
                    "-o {}: name the file OUT.pcap (one link type) or OUT.pcapng",
                    o.display()
                ))
            })?,
            (None, Some(d)) => {
                if d.is_file() {
                    return Err(UsageError(format!(
                        "--split {} is a file: give a directory",
                        d.display()
                    )));
                }
                match a.format {
                    ExportFormat::Pcapng => Container::Pcapng,
                    ExportFormat::Pcap => Container::Pcap,
                }
            }
            _ => {
                return Err(UsageError(
                    "export writes -o OUT.pcap|OUT.pcapng, or --split DIR (one file per call)"
                        .into(),
                ))
            }
        };
        match &cfg.input {
            Input::Live(_) | Input::Hep(_) => {
                return Err(UsageError(
                    "export reads the capture files twice: give files, not --interface or --hep-listen (capture with monitor --write DIR first)".into(),
                ))
            }
            Input::Files(f) if f.iter().any(|p| p.as_os_str() == "-") => {
                return Err(UsageError(
                    "export reads the capture files twice: standard input cannot be read again"
                        .into(),
                ))
            }
            Input::Files(_) => {}
        }
        if cfg.filter.is_empty() {
            return Err(UsageError(
                "export needs --call-id ID or a filter that chooses calls (--from, --to, --outcome, --addr, --method, --since, --until)".into(),
            ));
        }
        Ok(ExportRequest {
            output: a.output.clone(),
            split: a.split.clone(),
            container,
            choice: Choice {
                // A Call-ID named on the command line is taken whatever its kind.
                all_kinds: a.all || cfg.filter.call_id.is_some(),
                legs: a.legs,
                media: !a.no_rtp,
                budget: a.hold_memory.saturating_mul(1 << 20),
            },
        })
    }
}

fn out_err(e: ExportError) -> RunError {
    match e {
        ExportError::Capture(c) => RunError::Capture(c),
        e => RunError::Output(OutputError::Io(io::Error::other(e.to_string()))),
    }
}

pub fn export(
    cfg: &Config,
    stop: Arc<AtomicBool>,
    req: &ExportRequest,
) -> Result<Report, RunError> {
    let Input::Files(files) = &cfg.input else {
        return Err(RunError::Output(OutputError::Io(io::Error::other(
            "export needs capture files",
        ))));
    };
    let mut chooser = Chooser::new(req.choice.clone());
    let mut report = drive(cfg, stop.clone(), None, &mut chooser)?;
    let mut chosen = chooser.finish();
    if report.run.interrupted {
        // The files are not read again: what was chosen is incomplete (exit 130).
        report
            .notes
            .push("export: interrupted before the frames were written; no file made".into());
        return Ok(report);
    }
    if chosen.groups.is_empty() {
        let what = match cfg.filter.call_id.as_deref() {
            Some(id) => format!("no call with Call-ID {}", sipscope::output::escape(id)),
            None => "no call matches the filters".into(),
        };
        return Err(RunError::NoMatch(Box::new(report), what));
    }
    if !chosen.refetch.is_empty() {
        // Calls whose notes did not fit --hold-memory: their messages, read again.
        let mut again = Refetch::new(&chosen.refetch, req.choice.media);
        let mut c2 = cfg.clone();
        c2.progress = false;
        c2.filter = Default::default();
        drive(&c2, stop.clone(), None, &mut again)?;
        for (id, got) in again.wanted {
            let cf = chosen
                .calls
                .entry(id.clone())
                .or_insert_with(|| CallFrames::new(&id));
            cf.msgs = got.msgs;
            if cf.media.is_empty() {
                cf.media = got.media;
            }
        }
    }
    let call = |id: &String| chosen.calls.get(id).cloned();
    let targets: Vec<Target> = match (&req.output, &req.split) {
        (Some(o), _) => vec![Target {
            path: o.clone(),
            container: req.container,
            calls: chosen.groups.iter().flatten().filter_map(call).collect(),
        }],
        (None, Some(dir)) => {
            std::fs::create_dir_all(dir).map_err(|e| RunError::Output(OutputError::from(e)))?;
            let mut names = FileNames::new();
            chosen
                .groups
                .iter()
                .map(|g| Target {
                    path: dir.join(names.name(&g[0], req.container.extension())),
                    container: req.container,
                    calls: g.iter().filter_map(call).collect(),
                })
                .collect()
        }
        (None, None) => Vec::new(),
    };
    let opts = export::Options {
        locate: Locate::Frames,
        frame_filter: cfg.pipeline.frame_filter.clone(),
        max_frames: cfg.pipeline.max_frames,
        ..export::Options::default()
    };
    let st = export::write(files, &targets, &opts, &stop).map_err(out_err)?;
    report.notes.extend(st.warnings());
    let mut out = io::stdout().lock();
    for (path, frames) in &st.files {
        writeln!(out, "{}\t{frames} frames", path.display()).map_err(OutputError::from)?;
    }
    out.flush().map_err(OutputError::from)?;
    if st.files.is_empty() {
        report
            .notes
            .push("export: no frame of the chosen calls was found in the files".into());
    }
    Ok(report)
}
