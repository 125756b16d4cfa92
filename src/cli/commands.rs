//! The commands: run the pipeline with the right outputs and print them.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, BufWriter, Write};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::capture::file::FileSource;
use crate::capture::live::LiveSource;
use crate::capture::merge::MergedSource;
use crate::capture::{CaptureError, Source};
use crate::correlate::record::{CallKind, CallRecord, Leg, MsgRow, RegRecord};
use crate::correlate::Output;
use crate::output::{escape, escape_multiline, write_csv_row, Format, OutputError, Table};
use crate::pipeline::{self, RunStats};
use crate::time::{fmt_secs, Nanos, Ts, NANOS_PER_SEC};

use super::{Config, Input};

/// Why a command failed.
#[derive(Debug)]
pub enum RunError {
    Capture(CaptureError),
    Output(OutputError),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Capture(e) => e.fmt(f),
            RunError::Output(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RunError {}

impl From<CaptureError> for RunError {
    fn from(e: CaptureError) -> Self {
        RunError::Capture(e)
    }
}

impl From<OutputError> for RunError {
    fn from(e: OutputError) -> Self {
        RunError::Output(e)
    }
}

pub fn open_source(cfg: &Config, stop: Arc<AtomicBool>) -> Result<Box<dyn Source>, CaptureError> {
    match &cfg.input {
        Input::Files(paths) => {
            let mut sources: Vec<Box<dyn Source>> = Vec::new();
            for p in paths {
                sources.push(Box::new(FileSource::open(p)?));
            }
            if sources.len() == 1 {
                Ok(sources.remove(0))
            } else {
                Ok(Box::new(MergedSource::new(sources)))
            }
        }
        Input::Live(opts) => Ok(Box::new(LiveSource::open(opts, stop)?)),
    }
}

fn progress_bar(cfg: &Config, src: &dyn Source) -> Option<indicatif::ProgressBar> {
    if !cfg.progress {
        return None;
    }
    let (_, total) = src.progress()?;
    if total < (64 << 20) {
        return None;
    }
    let pb = indicatif::ProgressBar::new(total);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(pb)
}

/// Runs the pipeline, feeding outputs to `each`; stops reading early if `each` fails.
pub fn drive_outputs(
    cfg: &Config,
    stop: Arc<AtomicBool>,
    each: impl FnMut(Output) -> Result<(), OutputError>,
) -> Result<RunStats, RunError> {
    drive(cfg, stop, each)
}

fn drive(
    cfg: &Config,
    stop: Arc<AtomicBool>,
    mut each: impl FnMut(Output) -> Result<(), OutputError>,
) -> Result<RunStats, RunError> {
    let source = open_source(cfg, stop.clone())?;
    let pb = progress_bar(cfg, source.as_ref());
    let mut failed: Option<OutputError> = None;
    let stop2 = stop.clone();
    let stats = pipeline::run(source, &cfg.pipeline, stop, pb, |o| {
        if failed.is_none() {
            if let Err(e) = each(o) {
                failed = Some(e);
                stop2.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    Ok(stats)
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(|x| x.to_string()).unwrap_or_default()
}

fn what(m: &MsgRow) -> String {
    match (&m.method, m.status) {
        (Some(meth), _) => meth.clone(),
        (None, Some(s)) => match &m.reason {
            Some(r) if !r.is_empty() => format!("{s} {r}"),
            _ => s.to_string(),
        },
        _ => String::new(),
    }
}

const MSG_HEADERS: [&str; 9] = [
    "time",
    "source",
    "destination",
    "transport",
    "message",
    "cseq",
    "call-id",
    "retrans",
    "anomalies",
];

fn msg_cells(m: &MsgRow) -> Vec<String> {
    vec![
        m.ts.to_string(),
        m.src.to_string(),
        m.dst.to_string(),
        m.transport.as_str().to_string(),
        escape(&what(m)),
        escape(format!("{} {}", opt(&m.cseq), opt(&m.cseq_method)).trim()),
        escape(&opt(&m.call_id)),
        if m.retransmission {
            "R".into()
        } else {
            String::new()
        },
        m.anomalies.join(" "),
    ]
}

pub fn messages(cfg: &Config, stop: Arc<AtomicBool>) -> Result<RunStats, RunError> {
    let mut cfg = cfg.clone();
    cfg.pipeline.correlator.want_messages = true;
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let width = crate::output::terminal_width();
    let mut header_done = false;
    let format = cfg.format;
    let filter = cfg.filter.clone();
    let stats = drive(&cfg, stop, |o| {
        let Output::Msg(m) = o else { return Ok(()) };
        if !filter.message(&m) {
            return Ok(());
        }
        match format {
            Format::Json => {
                serde_json::to_writer(&mut out, &*m).map_err(io::Error::other)?;
                out.write_all(b"\n")?;
            }
            Format::Csv => {
                if !header_done {
                    write_csv_row(&mut out, &MSG_HEADERS.map(String::from))?;
                    header_done = true;
                }
                let mut cells = msg_cells(&m);
                cells[4] = what(&m);
                cells[6] = opt(&m.call_id);
                write_csv_row(&mut out, &cells)?;
            }
            Format::Table => {
                // Streaming: fixed widths, the Call-ID takes what the terminal has left.
                let fixed = [27usize, 21, 21, 9, 18, 14];
                let mut t = Table::new(MSG_HEADERS.to_vec(), vec![false; 9]);
                if !header_done {
                    let hdr: Vec<String> = MSG_HEADERS.iter().map(|h| h.to_string()).collect();
                    write_fixed(&mut out, &hdr, &fixed, width)?;
                    header_done = true;
                }
                t.rows.clear();
                write_fixed(&mut out, &msg_cells(&m), &fixed, width)?;
            }
        }
        Ok(())
    })?;
    out.flush().map_err(OutputError::from)?;
    Ok(stats)
}

fn write_fixed(
    out: &mut dyn Write,
    cells: &[String],
    fixed: &[usize],
    width: Option<usize>,
) -> Result<(), OutputError> {
    let mut line = String::new();
    let mut used = 0;
    for (i, c) in cells.iter().enumerate() {
        if i < fixed.len() {
            let c = crate::output::fit(c, fixed[i]);
            line.push_str(&format!("{:<w$}  ", c, w = fixed[i]));
            used += fixed[i] + 2;
        } else if i == fixed.len() {
            // The Call-ID: whatever the terminal has left (at least 12), all of it on a pipe.
            let room = width.map(|w| w.saturating_sub(used + 12).max(12));
            let c = match room {
                Some(r) => crate::output::fit(c, r),
                None => c.clone(),
            };
            line.push_str(&c);
        } else {
            line.push_str("  ");
            line.push_str(c);
        }
    }
    writeln!(out, "{}", line.trim_end())?;
    Ok(())
}

/// Links B2BUA legs: calls that share a session (Session-ID, icid) or that name each other's
/// Call-ID in a configured header.
pub fn link_legs(calls: &mut [CallRecord]) {
    // Most calls carry no link header: then there is nothing to index.
    if calls.iter().all(|c| c.link_keys.is_empty()) {
        return;
    }
    let names_a_call = calls.iter().any(|c| {
        c.link_keys
            .iter()
            .any(|(h, _)| h != "session-id" && h != "p-charging-vector")
    });
    let mut by_id: BTreeMap<String, usize> = BTreeMap::new();
    if names_a_call {
        for (i, c) in calls.iter().enumerate() {
            by_id.insert(c.call_id.clone(), i);
        }
    }
    let mut by_session: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    let mut links: Vec<(usize, usize, String)> = Vec::new();
    for (i, c) in calls.iter().enumerate() {
        for (header, value) in &c.link_keys {
            match header.as_str() {
                "session-id" | "p-charging-vector" => by_session
                    .entry((header.clone(), value.clone()))
                    .or_default()
                    .push(i),
                _ => {
                    if let Some(&j) = by_id.get(value) {
                        if j != i {
                            links.push((i, j, header.clone()));
                        }
                    }
                }
            }
        }
    }
    for ((header, _), members) in by_session {
        for (k, &a) in members.iter().enumerate() {
            for &b in &members[k + 1..] {
                if a != b {
                    links.push((a, b, header.clone()));
                }
            }
        }
    }
    for (a, b, via) in links {
        let (ida, idb) = (calls[a].call_id.clone(), calls[b].call_id.clone());
        for (x, other) in [(a, idb), (b, ida)] {
            let leg = Leg {
                call_id: other,
                via: via.clone(),
            };
            if !calls[x].legs.iter().any(|l| l.call_id == leg.call_id) {
                calls[x].legs.push(leg);
            }
        }
    }
    for c in calls.iter_mut() {
        c.legs.sort();
    }
}

const CALL_HEADERS: [&str; 13] = [
    "start", "duration", "from", "to", "outcome", "status", "pdd", "msgs", "retrans", "mos",
    "loss%", "call-id", "legs",
];

fn call_cells(c: &CallRecord, escaped: bool) -> Vec<String> {
    let e = |s: &str| if escaped { escape(s) } else { s.to_string() };
    vec![
        c.start.to_string(),
        format!("{:.3}", c.duration),
        e(&c.from),
        e(&c.to),
        c.outcome
            .map(|o| o.as_str().to_string())
            .unwrap_or_else(|| format!("{:?}", c.kind).to_ascii_lowercase()),
        opt(&c.final_status),
        c.pdd
            .map(|p| fmt_secs((p * 1e9) as i64))
            .unwrap_or_default(),
        c.messages.to_string(),
        c.retransmissions.to_string(),
        c.media
            .as_ref()
            .and_then(|m| m.mos)
            .map(|m| format!("{m:.2}"))
            .unwrap_or_default(),
        c.media
            .as_ref()
            .and_then(|m| m.loss_pct)
            .map(|l| format!("{l:.1}"))
            .unwrap_or_default(),
        e(&c.call_id),
        e(&c.legs
            .iter()
            .map(|l| format!("{} ({})", l.call_id, l.via))
            .collect::<Vec<_>>()
            .join(" ")),
    ]
}

/// Joins RTP streams to call records in one pass: streams are tied to their call as they finish
/// (SDP announcements arrive first) and wait for their call to leave the [`CallWindow`]. A stream
/// ends 60 s after its last packet, after its call record (32 s after the call's end), but the
/// window holds the call 300 s more, so its streams are in by then; any that come later are
/// counted and said.
#[derive(Default)]
pub struct CallMediaJoin {
    pub index: crate::cli::rtp::MediaIndex,
    waiting: std::collections::HashMap<String, crate::correlate::record::CallMedia>,
}

impl CallMediaJoin {
    pub fn stream(&mut self, mut s: crate::analysis::rtp::StreamStats) {
        self.index.resolve(&mut s);
        if let Some(cid) = s.call_id.clone() {
            self.waiting.entry(cid).or_default().add(&s);
        }
    }

    /// A call leaves the window (five minutes after it closed, long after its streams ended):
    /// its media figures join it, and its announcements leave the index.
    pub fn attach(&mut self, c: &mut CallRecord, rtp: bool) {
        self.index.forget(&c.call_id);
        let m = self.waiting.remove(&c.call_id);
        if rtp && c.kind == CallKind::Invite {
            c.media = Some(m.unwrap_or_default());
        }
    }

    /// Streams whose call was already listed when they finished.
    pub fn orphans(&self) -> usize {
        self.waiting.values().map(|m| m.streams as usize).sum()
    }
}

/// Holds finished calls for a few minutes of capture time, so that legs which end together can
/// be linked, then releases them in start order. Memory stays bounded by the calls that ended
/// in the last `hold` of capture, however long the capture.
pub struct CallWindow {
    /// Held calls in order of their end time (they arrive nearly in that order); boxed so an
    /// insertion shifts pointers, not records.
    held: VecDeque<Box<CallRecord>>,
    /// How many held calls carry link keys: when none do, there is nothing to link.
    with_keys: usize,
    newest_end: Ts,
    last_release: Ts,
    hold: Nanos,
}

impl CallWindow {
    pub fn new(hold: Nanos) -> CallWindow {
        CallWindow {
            held: VecDeque::new(),
            with_keys: 0,
            newest_end: Ts::ZERO,
            last_release: Ts::ZERO,
            hold,
        }
    }

    /// Adds a finished call; returns the calls that can no longer gain a leg.
    pub fn push(&mut self, c: CallRecord) -> Vec<CallRecord> {
        self.newest_end = self.newest_end.max(c.end);
        if !c.link_keys.is_empty() {
            self.with_keys += 1;
        }
        let at = self
            .held
            .iter()
            .rposition(|h| h.end <= c.end)
            .map_or(0, |p| p + 1);
        self.held.insert(at, Box::new(c));
        if self.newest_end.since(self.last_release) < NANOS_PER_SEC {
            return Vec::new();
        }
        self.last_release = self.newest_end;
        let cut = self.newest_end.saturating_add(-self.hold);
        let n = self.held.iter().take_while(|c| c.end < cut).count();
        if n == 0 {
            return Vec::new();
        }
        if self.with_keys > 0 {
            let mut all: Vec<CallRecord> = self.held.drain(..).map(|b| *b).collect();
            link_legs(&mut all);
            self.held = all.into_iter().map(Box::new).collect();
        }
        let ready: Vec<CallRecord> = self.held.drain(..n).map(|b| *b).collect();
        self.with_keys -= ready.iter().filter(|c| !c.link_keys.is_empty()).count();
        sorted(ready)
    }

    /// End of input: everything left.
    pub fn finish(mut self) -> Vec<CallRecord> {
        let mut all: Vec<CallRecord> = self.held.drain(..).map(|b| *b).collect();
        link_legs(&mut all);
        sorted(all)
    }
}

fn sorted(mut v: Vec<CallRecord>) -> Vec<CallRecord> {
    v.sort_by(|a, b| (a.start, &a.call_id).cmp(&(b.start, &b.call_id)));
    v
}

/// Rows of a table printed as they come: widths are taken from the first rows (up to
/// `TABLE_SAMPLE`), later cells are fitted to them.
struct StreamTable {
    table: Table,
    widths: Option<Vec<usize>>,
    max_width: Option<usize>,
}

const TABLE_SAMPLE: usize = 1000;

impl StreamTable {
    fn new(table: Table) -> StreamTable {
        StreamTable {
            table,
            widths: None,
            max_width: crate::output::terminal_width(),
        }
    }

    fn row(&mut self, out: &mut dyn Write, cells: Vec<String>) -> Result<(), OutputError> {
        match &self.widths {
            Some(w) => crate::output::write_row(out, &cells, w),
            None => {
                self.table.rows.push(cells);
                if self.table.rows.len() >= TABLE_SAMPLE {
                    self.flush(out)?;
                }
                Ok(())
            }
        }
    }

    fn flush(&mut self, out: &mut dyn Write) -> Result<(), OutputError> {
        if self.widths.is_none() {
            let w = self.table.widths(self.max_width);
            self.table.write(out, self.max_width)?;
            self.table.rows.clear();
            self.widths = Some(w);
        }
        Ok(())
    }
}

pub fn calls(
    cfg: &Config,
    stop: Arc<AtomicBool>,
    all: bool,
    rtp: bool,
) -> Result<RunStats, RunError> {
    let mut cfg = cfg.clone();
    if rtp {
        cfg.pipeline.reassembly.track_rtp = true;
        cfg.pipeline.correlator.want_media = true;
    }
    let cfg = &cfg;
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let format = cfg.format;
    let filter = cfg.filter.clone();
    let mut table = StreamTable::new(Table::new(
        CALL_HEADERS.to_vec(),
        vec![
            false, false, true, true, false, false, false, false, false, false, false, true, true,
        ],
    ));
    let mut header_done = false;
    let mut emit =
        |c: CallRecord, out: &mut BufWriter<io::StdoutLock>| -> Result<(), OutputError> {
            if !((all || c.kind == CallKind::Invite) && filter.call(&c)) {
                return Ok(());
            }
            match format {
                Format::Json => {
                    serde_json::to_writer(&mut *out, &c).map_err(io::Error::other)?;
                    out.write_all(b"\n")?;
                }
                Format::Csv => {
                    if !header_done {
                        write_csv_row(out, &CALL_HEADERS.map(String::from))?;
                        header_done = true;
                    }
                    write_csv_row(out, &call_cells(&c, false))?;
                }
                Format::Table => table.row(out, call_cells(&c, true))?,
            }
            Ok(())
        };
    // Legs of one call through a B2BUA end within seconds of each other; five minutes covers
    // the grace period of both with room to spare.
    let mut window = CallWindow::new(300 * NANOS_PER_SEC);
    let mut media = CallMediaJoin::default();
    let stats = drive(cfg, stop, |o| {
        match o {
            Output::Call(c) => {
                for mut r in window.push(*c) {
                    media.attach(&mut r, rtp);
                    emit(r, &mut out)?;
                }
            }
            Output::Media(m) => media.index.add(*m),
            Output::Rtp(s) => media.stream(*s),
            _ => {}
        }
        Ok(())
    })?;
    for mut r in window.finish() {
        media.attach(&mut r, rtp);
        emit(r, &mut out)?;
    }
    if media.orphans() > 0 {
        eprintln!(
            "sipscope: warning: {} RTP streams ended after their call was listed (not in its mos/loss)",
            media.orphans()
        );
    }
    if format == Format::Table {
        table.flush(&mut out)?;
    }
    out.flush().map_err(OutputError::from)?;
    Ok(stats)
}

pub fn show(cfg: &Config, stop: Arc<AtomicBool>, call_id: &str) -> Result<RunStats, RunError> {
    let mut cfg = cfg.clone();
    cfg.pipeline.correlator.want_messages = true;
    cfg.pipeline.correlator.want_text = true;
    cfg.filter.call_id = Some(call_id.to_string());
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let format = cfg.format;
    let filter = cfg.filter.clone();
    let mut shown = 0u64;
    let stats = drive(&cfg, stop, |o| {
        let Output::Msg(m) = o else { return Ok(()) };
        if !filter.message(&m) {
            return Ok(());
        }
        shown += 1;
        match format {
            Format::Json => {
                serde_json::to_writer(&mut out, &*m).map_err(io::Error::other)?;
                out.write_all(b"\n")?;
            }
            Format::Table | Format::Csv => {
                writeln!(
                    out,
                    "── frame {} · {} · {} → {} · {}{}",
                    m.frame,
                    m.ts,
                    m.src,
                    m.dst,
                    m.transport.as_str(),
                    if m.retransmission {
                        " · retransmission"
                    } else {
                        ""
                    }
                )?;
                writeln!(out, "{}", escape_multiline(m.text.as_deref().unwrap_or("")))?;
            }
        }
        Ok(())
    })?;
    out.flush().map_err(OutputError::from)?;
    if shown == 0 {
        eprintln!("sipscope: no message with Call-ID {}", escape(call_id));
    }
    Ok(stats)
}

const REG_HEADERS: [&str; 10] = [
    "start",
    "aor",
    "contact",
    "expires",
    "client",
    "registrar",
    "challenged",
    "status",
    "result",
    "call-id",
];

fn reg_cells(r: &RegRecord, escaped: bool) -> Vec<String> {
    let e = |s: &str| if escaped { escape(s) } else { s.to_string() };
    vec![
        r.start.to_string(),
        e(&r.aor),
        e(&opt(&r.contact)),
        opt(&r.expires),
        r.client.to_string(),
        r.registrar.to_string(),
        if r.challenged {
            "yes".into()
        } else {
            "no".into()
        },
        opt(&r.final_status),
        r.result.to_string(),
        e(&r.call_id),
    ]
}

pub fn registrations(cfg: &Config, stop: Arc<AtomicBool>) -> Result<RunStats, RunError> {
    let mut regs: Vec<RegRecord> = Vec::new();
    let stats = drive(cfg, stop, |o| {
        if let Output::Reg(r) = o {
            if cfg.filter.registration(&r) {
                regs.push(*r);
            }
        }
        Ok(())
    })?;
    regs.sort_by(|a, b| (a.start, &a.call_id).cmp(&(b.start, &b.call_id)));
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match cfg.format {
        Format::Json => {
            for r in &regs {
                serde_json::to_writer(&mut out, r)
                    .map_err(io::Error::other)
                    .map_err(OutputError::from)?;
                out.write_all(b"\n").map_err(OutputError::from)?;
            }
        }
        Format::Csv => {
            write_csv_row(&mut out, &REG_HEADERS.map(String::from))?;
            for r in &regs {
                write_csv_row(&mut out, &reg_cells(r, false))?;
            }
        }
        Format::Table => {
            let mut t = Table::new(
                REG_HEADERS.to_vec(),
                vec![
                    false, true, true, false, false, false, false, false, false, true,
                ],
            );
            for r in &regs {
                t.rows.push(reg_cells(r, true));
            }
            t.write(&mut out, crate::output::terminal_width())?;
        }
    }
    out.flush().map_err(OutputError::from)?;
    Ok(stats)
}

/// What the run lost or doubted, for stderr: every drop is said, never hidden.
pub fn warnings(s: &RunStats) -> Vec<String> {
    let mut w = Vec::new();
    for e in &s.capture.stopped_early {
        w.push(format!("stopped early: {e}"));
    }
    let mut say = |n: u64, what: &str| {
        if n > 0 {
            w.push(format!("{n} {what}"));
        }
    };
    say(
        s.capture.dropped_kernel,
        "packets dropped by the kernel (capture loss)",
    );
    say(
        s.capture.dropped_interface,
        "packets dropped by the interface",
    );
    say(
        s.capture.dropped_behind,
        "live packets dropped because the analysis was behind (capture loss)",
    );
    say(s.capture.truncated_frames, "frames cut by the snap length");
    say(
        s.decode.ip_frag_incomplete,
        "IP datagrams never completed (fragments missing)",
    );
    say(
        s.decode.ip_frag_evicted,
        "IP datagrams evicted from a full fragment table",
    );
    say(s.reassembly.tcp.gaps, "gaps in TCP streams (capture loss)");
    say(
        s.reassembly.framing.cut_by_gap,
        "SIP messages cut by a TCP gap (lost)",
    );
    say(
        s.reassembly.framing.incomplete_at_end,
        "incomplete SIP messages at the end of a TCP stream",
    );
    say(
        s.reassembly.framing.oversized,
        "oversized SIP messages skipped",
    );
    say(
        s.reassembly.flows_evicted,
        "TCP connections evicted from a full table",
    );
    say(s.reassembly.hep_errors, "damaged HEP packets");
    say(
        s.ts_outliers,
        "frames stamped more than an hour ahead of the rest (clock glitch; timers ignore them)",
    );
    say(
        s.correlate.calls_evicted,
        "calls evicted early from a full table (still reported)",
    );
    say(s.sip_rejected, "SIP-looking payloads that did not parse");
    say(s.decode.unknown_link, "frames of an unknown link type");
    w
}

pub fn print_stats(s: &RunStats) {
    eprintln!("capture: {:?}", s.capture);
    eprintln!("decode: {:?}", s.decode);
    eprintln!("reassembly: {:?}", s.reassembly);
    eprintln!("correlate: {:?}", s.correlate);
    eprintln!("sip rejected: {}", s.sip_rejected);
}
