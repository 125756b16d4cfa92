//! `sipscope report FILE… -o DIR`: one pass over the captures with the detectors and every
//! table, then the page (sections rendered in parallel), summary.md and the statistics tables.
//! `sipscope tables FILE… (--dataset DIR | -o DIR)`: the same tables alone.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use rayon::prelude::*;

use sipscope::export::{self, Container, ExportError, MsgAt, Target};
use sipscope::output::frame::{self, FileFormat};
use sipscope::output::names::FileNames;
use sipscope::output::OutputError;
use sipscope::report::dataset::DatasetOptions;
use sipscope::report::tables::Tables;
use sipscope::report::{html, markdown, Collector, Finished, ReportOptions};
use sipscope::session::{Event, Needs, Report, Sink};

use super::commands::{drive, RunError};
use super::monitor::{AlertRequest, DetectorOutcome};
use super::{CommonArgs, Config, DatasetArgs, Input, ReportArgs, TablesArgs, UsageError};

/// The inputs by name, as the page and the dataset's `capture` column show them: a file's name,
/// never the path on the engineer's disk (the report goes to customers, the dataset to many
/// machines).
fn input_names(common: &CommonArgs) -> Vec<String> {
    let paths = common.all_files();
    if paths.is_empty() {
        return vec![format!(
            "live capture on {}",
            common.interface.as_deref().unwrap_or("?")
        )];
    }
    paths
        .iter()
        .map(|p| match p.file_name() {
            _ if p.as_os_str() == "-" => "standard input".to_string(),
            Some(n) => n.to_string_lossy().into_owned(),
            None => p.display().to_string(),
        })
        .collect()
}

/// The dataset to append to, if `--dataset` was given: `capture` names the run's input (the
/// names joined by ` + ` when several files are read as one run), the parts are named after
/// the first file's stem.
fn dataset_options(
    common: &CommonArgs,
    a: &DatasetArgs,
) -> Result<Option<DatasetOptions>, UsageError> {
    let Some(dir) = &a.dataset else {
        return Ok(None);
    };
    if dir.is_file() {
        return Err(UsageError(format!(
            "--dataset {} is a file: a dataset is a directory",
            dir.display()
        )));
    }
    if a.sensor.as_deref().is_some_and(|s| s.trim().is_empty()) {
        return Err(UsageError("--sensor needs a name".into()));
    }
    let files = common.all_files();
    let stem = match (files.first(), &common.interface) {
        (Some(p), _) if p.as_os_str() == "-" => "stdin".to_string(),
        (Some(p), _) => p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        (None, Some(i)) => format!("live-{i}"),
        (None, None) => String::new(),
    };
    Ok(Some(DatasetOptions {
        dir: dir.clone(),
        capture: input_names(common).join(" + "),
        sensor: a.sensor.clone(),
        stem,
    }))
}

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
        let files = input_names(&a.common);
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
                call_captures: a.call_captures,
                title,
                files,
                dataset: dataset_options(&a.common, &a.dataset)?,
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
            if let Some(&i) = m.call_id.as_deref().and_then(|c| self.wanted.get(c)) {
                let s = &mut self.sections[i];
                if s.msgs.len() < self.max {
                    s.msgs.push(sipscope::correlate::record::MsgRow::clone(m));
                } else {
                    s.msgs_cut += 1;
                }
            }
        }
        Ok(())
    }
}

/// Files this many times the message budget are taken to hold, in their busy stretches, more
/// open calls' messages than it does (a rule of thumb: the 1 GiB bench capture needed 64 MiB).
/// The report then keeps only where the messages were and reads the drawn calls' messages again,
/// which costs less than making the text of every message (one in several hundred is drawn).
const BY_PLACE_RATIO: u64 = 32;

/// Does the report hold no message texts during its pass (files over [`BY_PLACE_RATIO`] times
/// `--hold-memory`; standard input, a live capture and HEP cannot be read again)?
fn by_place(cfg: &Config, budget: usize) -> bool {
    let Input::Files(files) = &cfg.input else {
        return false;
    };
    if files.iter().any(|p| p.as_os_str() == "-") {
        return false;
    }
    let size: u64 = files
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
    size > (budget as u64).saturating_mul(BY_PLACE_RATIO)
}

/// The second readings of the files: the messages of the sections that did not fit the memory
/// budget during the pass, and the worst problem calls' captures. Both at once when the
/// captures' frames are known without the first (the pass kept where the messages were): one
/// reading decodes while the other waits on the disk or writes. Returns what the user must be
/// told.
fn second_readings(
    cfg: &Config,
    stop: &Arc<AtomicBool>,
    fin: &mut Finished,
) -> Result<Vec<String>, RunError> {
    if captures_wait_for_messages(fin) {
        refetch(cfg, stop.clone(), fin)?;
        let plan = plan_captures(cfg, stop, fin)?;
        let written = plan.as_ref().map(|p| write_captures(p, stop)).transpose()?;
        return Ok(apply_captures(fin, plan, written));
    }
    let plan = plan_captures(cfg, stop, fin)?;
    let (fetched, written) = std::thread::scope(|scope| {
        let writer = plan
            .as_ref()
            .map(|p| scope.spawn(move || write_captures(p, stop)));
        let fetched = refetch(cfg, stop.clone(), fin);
        let written = writer.map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        (fetched, written)
    });
    fetched?;
    let written = written.transpose()?;
    Ok(apply_captures(fin, plan, written))
}

/// Does a call that gets a capture have neither its messages nor where they were (so its frames
/// are known only once its messages are read again)?
fn captures_wait_for_messages(fin: &Finished) -> bool {
    fin.sections
        .iter()
        .filter(|s| s.score > 0)
        .take(fin.opts.call_captures)
        .any(|s| s.refetch && s.located.is_none())
}

/// Reads the captures a second time for the messages of the sections that did not fit the
/// memory budget during the first pass (only files can be read twice). When the pass kept where
/// every one of those messages was, only their frames are decoded; a section that this reading
/// does not give exactly those messages back (a message in several TCP segments or IP
/// fragments) is read again from the frames between its messages' hosts, and one that this does
/// not give back either (a tunnel's outer addresses are not its messages') from the whole files.
fn refetch(cfg: &Config, stop: Arc<AtomicBool>, fin: &mut Finished) -> Result<(), RunError> {
    let wanted: Vec<usize> = (0..fin.sections.len())
        .filter(|&i| fin.sections[i].refetch)
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
    let mut left = wanted;
    for narrowing in [Narrowing::Frames, Narrowing::Flows, Narrowing::Whole] {
        if left.is_empty() || stop.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
        let only = match narrowing {
            Narrowing::Frames => located_frames(&fin.sections, &left).map(|f| (Some(f), None)),
            Narrowing::Flows => located_flows(&fin.sections, &left).map(|f| (None, Some(f))),
            Narrowing::Whole => Some((None, None)),
        };
        let Some((frames, flows)) = only else {
            continue;
        };
        let cut_before: Vec<u32> = left.iter().map(|&i| fin.sections[i].msgs_cut).collect();
        read_again(cfg, stop.clone(), fin, &left, frames, flows)?;
        if narrowing == Narrowing::Whole {
            break;
        }
        let mut again = Vec::new();
        for (&i, &cut) in left.iter().zip(&cut_before) {
            let s = &mut fin.sections[i];
            if !as_located(s, cut) {
                s.msgs.clear();
                s.msgs_cut = cut;
                again.push(i);
            }
        }
        left = again;
    }
    Ok(())
}

/// How much of the files a second reading decodes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Narrowing {
    /// The frames the messages were found in.
    Frames,
    /// The frames between the messages' hosts.
    Flows,
    /// All.
    Whole,
}

/// The frames read before each located message's frame in a reading of frames alone: a message
/// split over TCP segments or IP fragments began in one of them (the pass notes only the frame
/// that completed it). On the SIP-only bench capture, whose stack splits one message in a few
/// over two segments: with none before, 3 of the 120 sections of its quarter were not given
/// back (each missed a message begun one frame earlier) and were read again between their hosts;
/// with 16, none of the gigabyte's (at most 17 frames a message are decoded: some 30,000 of
/// its 120 sections' 1,700 messages, of millions of frames).
const FRAMES_BEFORE: u64 = 16;

/// Every located message of these sections, when the pass kept where each was and none came
/// over one of the carriers `but`.
fn located<'a>(
    sections: &'a [sipscope::report::Section],
    which: &[usize],
    but: &[sipscope::reassembly::Carrier],
) -> Option<Vec<&'a MsgAt>> {
    let mut at = Vec::new();
    for &i in which {
        at.extend(sections[i].located.as_ref()?);
    }
    (!at.iter().any(|m| but.contains(&m.carrier))).then_some(at)
}

/// The frames of every message of these sections and the [`FRAMES_BEFORE`] before each, when
/// the pass kept where each was and none came over TLS or WebSocket (whose decoding needs the
/// connection from its start).
fn located_frames(
    sections: &[sipscope::report::Section],
    which: &[usize],
) -> Option<Arc<sipscope::pipeline::FrameSet>> {
    use sipscope::reassembly::Carrier;
    let at = located(sections, which, &[Carrier::Tls, Carrier::Wss, Carrier::Ws])?;
    Some(Arc::new(sipscope::pipeline::FrameSet::new(
        at.iter()
            .flat_map(|m| m.frame.saturating_sub(FRAMES_BEFORE).max(1)..=m.frame),
    )))
}

/// The host pairs of every message of these sections, when the pass kept where each was and
/// each came in a frame between its own hosts (HEP carries a message between other hosts).
fn located_flows(
    sections: &[sipscope::report::Section],
    which: &[usize],
) -> Option<Arc<sipscope::pipeline::FlowSet>> {
    use sipscope::reassembly::Carrier;
    let at = located(sections, which, &[Carrier::HepUdp, Carrier::HepTcp])?;
    Some(Arc::new(sipscope::pipeline::FlowSet::new(
        at.iter().map(|m| (m.src.ip(), m.dst.ip())),
    )))
}

/// Did the narrowed reading give back exactly the messages the pass located (those beyond the
/// section's limit counted as cut), each from the same frame, place in it, hosts and carrier?
fn as_located(s: &sipscope::report::Section, cut_before: u32) -> bool {
    let Some(at) = &s.located else {
        return true;
    };
    let mut places: Vec<&MsgAt> = at.iter().collect();
    places.sort_unstable_by_key(|m| (m.frame, m.msg_in_frame));
    places.dedup_by_key(|m| (m.frame, m.msg_in_frame));
    let got = s.msgs.len() + (s.msgs_cut - cut_before) as usize;
    got == at.len()
        && places.len() == at.len()
        && s.msgs.iter().all(|m| {
            places
                .binary_search_by_key(&(m.frame, m.msg_in_frame), |a| (a.frame, a.msg_in_frame))
                .is_ok_and(|k| {
                    let a = places[k];
                    a.ts == m.ts && a.src == m.src && a.dst == m.dst && a.carrier == m.transport
                })
        })
}

/// One reading of the files for the messages of these sections (only `frames`, or only the
/// frames between `flows`' hosts, when given).
fn read_again(
    cfg: &Config,
    stop: Arc<AtomicBool>,
    fin: &mut Finished,
    which: &[usize],
    frames: Option<Arc<sipscope::pipeline::FrameSet>>,
    flows: Option<Arc<sipscope::pipeline::FlowSet>>,
) -> Result<(), RunError> {
    let wanted: HashMap<String, usize> = which
        .iter()
        .map(|&i| (fin.sections[i].call.call_id.clone(), i))
        .collect();
    let mut cfg = cfg.clone();
    cfg.progress = false;
    // Only the wanted calls' messages are correlated and written out (with their text) again.
    cfg.pipeline.only_calls = Some(Arc::new(sipscope::pipeline::CallSet::new(
        wanted.keys().map(|c| Box::<[u8]>::from(c.as_bytes())),
    )));
    cfg.pipeline.only_flows = flows;
    if frames.is_some() {
        // The frames between those taken are not there: a TCP hole is given up at once (the
        // stream resynchronises on the next segment) instead of waiting for bytes that will
        // not come and framing what follows with the wrong frame.
        cfg.pipeline.reassembly.tcp_max_buffered = 0;
    }
    cfg.pipeline.only_frames = frames;
    let mut sink = Refetch {
        wanted,
        max: fin.opts.max_msgs,
        sections: &mut fin.sections,
    };
    drive(&cfg, stop, None, &mut sink)?;
    for &i in which {
        fin.sections[i]
            .msgs
            .sort_by_key(|m| (m.frame, m.msg_in_frame));
    }
    Ok(())
}

/// The worst problem calls' captures, `calls/NAME.pcapng` beside the page: which sections, and
/// the files.
struct CapturePlan {
    files: Vec<PathBuf>,
    targets: Vec<(usize, Target)>,
    /// Problem calls whose frames are not known (some of their messages neither held nor
    /// located).
    without: u64,
    opts: export::Options,
}

/// Chooses the calls given a capture (none when the files cannot be read again) and makes their
/// directory.
fn plan_captures(
    cfg: &Config,
    stop: &AtomicBool,
    fin: &Finished,
) -> Result<Option<CapturePlan>, RunError> {
    let Input::Files(files) = &cfg.input else {
        return Ok(None);
    };
    let max = fin.opts.call_captures;
    // Interrupted: the files are not read again (the output is partial; a pipe cannot be).
    if max == 0
        || files.iter().any(|p| p.as_os_str() == "-")
        || stop.load(std::sync::atomic::Ordering::Relaxed)
    {
        return Ok(None);
    }
    let dir = fin.opts.dir.join("calls");
    let _ = std::fs::remove_dir_all(&dir);
    let mut names = FileNames::new();
    let mut targets: Vec<(usize, Target)> = Vec::new();
    let mut without = 0u64;
    for (i, s) in fin.sections.iter().enumerate() {
        if s.score == 0 || targets.len() >= max {
            continue;
        }
        let Some(cf) = s.frames() else {
            without += 1;
            continue;
        };
        let name = names.name(&s.call.call_id, Container::Pcapng.extension());
        targets.push((
            i,
            Target {
                path: dir.join(name),
                container: Container::Pcapng,
                calls: vec![cf],
            },
        ));
    }
    if targets.is_empty() {
        return Ok(None);
    }
    std::fs::create_dir_all(&dir).map_err(|e| RunError::Output(OutputError::from(e)))?;
    Ok(Some(CapturePlan {
        files: files.clone(),
        targets,
        without,
        opts: export::Options {
            frame_filter: cfg.pipeline.frame_filter.clone(),
            max_frames: cfg.pipeline.max_frames,
            ..export::Options::default()
        },
    }))
}

/// One reading of the files for all the planned captures.
fn write_captures(plan: &CapturePlan, stop: &AtomicBool) -> Result<export::ExportStats, RunError> {
    let only: Vec<Target> = plan.targets.iter().map(|(_, t)| t.clone()).collect();
    export::write(&plan.files, &only, &plan.opts, stop).map_err(|e| match e {
        ExportError::Capture(c) => RunError::Capture(c),
        e => RunError::Output(OutputError::Io(io::Error::other(e.to_string()))),
    })
}

/// Links each section to its capture; returns what the user must be told.
fn apply_captures(
    fin: &mut Finished,
    plan: Option<CapturePlan>,
    written: Option<export::ExportStats>,
) -> Vec<String> {
    let (Some(plan), Some(st)) = (plan, written) else {
        return Vec::new();
    };
    let done: std::collections::HashSet<&PathBuf> = st.files.iter().map(|(p, _)| p).collect();
    for (i, t) in &plan.targets {
        if done.contains(&t.path) {
            if let (Some(s), Some(name)) = (fin.sections.get_mut(*i), t.path.file_name()) {
                s.capture = Some(format!("calls/{}", name.to_string_lossy()));
            }
        }
    }
    let mut notes = st.warnings();
    if plan.without > 0 {
        notes.push(format!(
            "{} problem call sections without a capture of their own: some of their messages are not held (over the section's message limit)",
            plan.without
        ));
    }
    notes
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
    let mut opts = req.opts.clone();
    opts.by_place = by_place(cfg, opts.pending_bytes);
    let mut sink = ReportSink {
        col: Collector::new(opts)?,
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
    let mut notes = fin.stats.losses();
    notes.extend(second_readings(cfg, &stop, &mut fin)?);
    // Sections read again count their cut messages only now.
    fin.counts.msgs_cut = fin.sections.iter().map(|s| u64::from(s.msgs_cut)).sum();
    notes.extend(fin.dataset_notes.iter().cloned());
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
    let mut paths: Vec<PathBuf> = vec![index, summary, req.opts.dir.join("data")];
    paths.extend(fin.dataset_parts.iter().cloned());
    for p in paths {
        writeln!(out, "{}", p.display()).map_err(OutputError::from)?;
    }
    out.flush().map_err(OutputError::from)?;
    Ok((report, outcome))
}

/// A validated `tables` command line.
#[derive(Clone, Debug)]
pub struct TablesRequest {
    pub alerts: AlertRequest,
    pub output: Option<PathBuf>,
    pub dataset: Option<DatasetOptions>,
}

impl TablesRequest {
    pub fn from_args(a: &TablesArgs) -> Result<TablesRequest, UsageError> {
        let dataset = dataset_options(&a.common, &a.dataset)?;
        if a.output.is_none() && dataset.is_none() {
            return Err(UsageError(
                "tables: say where they go: --dataset DIR (appended) and/or -o DIR".into(),
            ));
        }
        if let Some(o) = a.output.as_ref().filter(|o| o.is_file()) {
            return Err(UsageError(format!(
                "-o {} is a file: the tables go to a directory",
                o.display()
            )));
        }
        Ok(TablesRequest {
            alerts: AlertRequest::from_args(&a.alert)?,
            output: a.output.clone(),
            dataset,
        })
    }
}

/// The tables, with the alerts counted for the exit status.
struct TablesSink {
    tables: Tables,
    outcome: DetectorOutcome,
}

impl Sink for TablesSink {
    fn needs(&self) -> Needs {
        self.tables.needs()
    }

    fn event(&mut self, e: &Event<'_>, selected: bool) -> Result<(), OutputError> {
        if let (Event::Alert(a), true) = (e, selected) {
            self.outcome.add(a);
        }
        self.tables.event(e, selected)
    }
}

/// `sipscope tables`: one pass, every table to the dataset and/or the directory; prints the
/// files written (the directory's tables, then the dataset's new parts).
pub fn tables(
    cfg: &Config,
    stop: Arc<AtomicBool>,
    req: &TablesRequest,
) -> Result<(Report, DetectorOutcome), RunError> {
    if let Some(o) = &req.output {
        std::fs::create_dir_all(o).map_err(OutputError::from)?;
    }
    let mut sink = TablesSink {
        tables: Tables::open(req.output.as_deref(), req.dataset.as_ref())?,
        outcome: DetectorOutcome::default(),
    };
    let mut report = drive(cfg, stop, Some(&req.alerts.thresholds), &mut sink)?;
    let TablesSink { tables, outcome } = sink;
    let written = tables.finish()?;
    report.notes.extend(written.notes);
    let mut out = io::stdout().lock();
    if let Some(o) = &req.output {
        for (name, _) in &written.rows {
            for ext in ["parquet", "csv"] {
                writeln!(out, "{}", o.join(format!("{name}.{ext}")).display())
                    .map_err(OutputError::from)?;
            }
        }
    }
    for p in &written.parts {
        writeln!(out, "{}", p.display()).map_err(OutputError::from)?;
    }
    out.flush().map_err(OutputError::from)?;
    Ok((report, outcome))
}
