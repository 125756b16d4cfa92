//! The commands: each one a small sink of the session's events that owns its output format.

use std::io::{self, BufWriter, Write};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use sipscope::analysis::alerts::Thresholds;
use sipscope::capture::file::FileSource;
use sipscope::capture::live::LiveSource;
use sipscope::capture::merge::MergedSource;
use sipscope::capture::{CaptureError, Source};
use sipscope::correlate::record::{CallKind, CallRecord, MsgRow, RegRecord};
use sipscope::output::{
    escape, escape_multiline, json, schema, write_csv_row, Format, OutputError, Table,
};
use sipscope::pipeline::Progress;
use sipscope::session::{self, Event, Needs, Report, SessionConfig, Sink};
use sipscope::time::fmt_secs;

use super::{Config, Input};

pub use sipscope::session::RunError;

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
        Input::Hep(opts) => {
            let l = sipscope::hep::listen::HepListener::open(opts, stop)?;
            for (t, a) in &l.bound {
                let t = match t {
                    sipscope::hep::sender::Transport::Udp => "udp",
                    sipscope::hep::sender::Transport::Tcp => "tcp",
                };
                eprintln!("sipscope: listening for HEP on {t}:{a}");
            }
            Ok(Box::new(l))
        }
    }
}

/// The progress bar of a file run (on a terminal, for inputs of 64 MiB or more): bytes read
/// while the reader runs; once the input is read, a spinner that says the run is finishing
/// (the correlator, detectors and writers still at work), until [`drive`] returns. The bar
/// never vanishes while the run goes on.
fn progress_bar(cfg: &Config, src: &dyn Source) -> Option<(Progress, indicatif::ProgressBar)> {
    if !cfg.progress {
        return None;
    }
    let (_, total) = src.progress()?;
    if total < (64 << 20) {
        return None;
    }
    let pb = indicatif::ProgressBar::new(total);
    Some((reader_progress(pb.clone()), pb))
}

/// The reader's side of the bar: positions as bytes are read; at the end, the spinner.
fn reader_progress(pb: indicatif::ProgressBar) -> Progress {
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Box::new(move |done| match done {
        Some(d) => pb.set_position(d),
        None => {
            pb.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bytes} of {total_bytes} read; {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            pb.set_message("finishing: calls, detectors and outputs");
            pb.enable_steady_tick(std::time::Duration::from_millis(200));
        }
    })
}

/// Runs the captures (or the live interface) through the pipeline and a session into `sink`,
/// with the user's filter and, for the detectors, these thresholds.
pub fn drive(
    cfg: &Config,
    stop: Arc<AtomicBool>,
    thresholds: Option<&Thresholds>,
    sink: &mut dyn Sink,
) -> Result<Report, RunError> {
    let source = open_source(cfg, stop.clone())?;
    let (progress, bar) = progress_bar(cfg, source.as_ref()).unzip();
    let scfg = SessionConfig {
        filter: cfg.filter.clone(),
        thresholds: thresholds.cloned().unwrap_or_default(),
        hold: session::HOLD,
    };
    let r = session::run(source, &cfg.pipeline, scfg, stop, progress, sink);
    // Cleared only now: the run's last output and its warnings come after.
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    r
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(|x| x.to_string()).unwrap_or_default()
}

fn what(m: &MsgRow) -> String {
    sipscope::render::plain_label(m)
}

/// The messages table's columns (the Call-ID last, whole; `--format csv` writes the fields of
/// `schema::MESSAGES`).
const MSG_HEADERS: [&str; 9] = [
    "time",
    "src",
    "dst",
    "transport",
    "message",
    "cseq",
    "retrans",
    "anomalies",
    "call-id",
];

fn msg_cells(m: &MsgRow) -> Vec<String> {
    vec![
        m.ts.to_string(),
        m.src.to_string(),
        m.dst.to_string(),
        m.transport.as_str().to_string(),
        escape(&what(m)),
        escape(format!("{} {}", opt(&m.cseq), opt(&m.cseq_method)).trim()),
        if m.retransmission {
            "R".into()
        } else {
            String::new()
        },
        m.anomalies.join(" "),
        escape(&opt(&m.call_id)),
    ]
}

/// `messages`: one line per message as it comes (flushed at every tick, so a live capture
/// shows each message within the pipeline's quarter-second flush).
struct Messages<'a> {
    out: BufWriter<io::StdoutLock<'a>>,
    format: Format,
    width: Option<usize>,
    header_done: bool,
}

impl Sink for Messages<'_> {
    fn needs(&self) -> Needs {
        Needs {
            messages: true,
            ..Needs::default()
        }
    }

    fn event(&mut self, e: &Event<'_>, _: bool) -> Result<(), OutputError> {
        let m = match e {
            Event::Message(m) => &***m,
            Event::Tick(_) => return Ok(self.out.flush()?),
            _ => return Ok(()),
        };
        let out = &mut self.out;
        match self.format {
            Format::Json => {
                json::write_line(&mut *out, m)?;
            }
            Format::Csv => {
                if !self.header_done {
                    write_csv_row(out, &schema::names(schema::MESSAGES))?;
                    self.header_done = true;
                }
                let cells: Vec<String> = schema::message_row(m).iter().map(schema::text).collect();
                write_csv_row(out, &cells)?;
            }
            Format::Table => {
                // Streaming: fixed widths, the Call-ID last and whole.
                let fixed = [27usize, 21, 21, 9, 18, 14, 7, 16];
                if !self.header_done {
                    let hdr: Vec<String> = MSG_HEADERS.iter().map(|h| h.to_string()).collect();
                    write_fixed(out, &hdr, &fixed, self.width)?;
                    self.header_done = true;
                }
                write_fixed(out, &msg_cells(m), &fixed, self.width)?;
            }
        }
        Ok(())
    }
}

pub fn messages(cfg: &Config, stop: Arc<AtomicBool>) -> Result<Report, RunError> {
    let stdout = io::stdout();
    let mut sink = Messages {
        out: BufWriter::with_capacity(1 << 16, stdout.lock()),
        format: cfg.format,
        width: sipscope::output::terminal_width(),
        header_done: false,
    };
    let report = drive(cfg, stop, None, &mut sink)?;
    if sink.format == Format::Csv && !sink.header_done {
        write_csv_row(&mut sink.out, &schema::names(schema::MESSAGES))?;
    }
    sink.out.flush()?;
    Ok(report)
}

/// A row in fixed columns: on a terminal (`width` given) a cell wider than its column is cut with
/// `…`; off one every cell is whole. The cells past the fixed ones (the Call-ID) are never cut.
fn write_fixed(
    out: &mut dyn Write,
    cells: &[String],
    fixed: &[usize],
    width: Option<usize>,
) -> Result<(), OutputError> {
    let mut line = String::new();
    for (i, c) in cells.iter().enumerate() {
        match fixed.get(i) {
            Some(&w) => {
                let c = if width.is_some() {
                    sipscope::output::fit(c, w)
                } else {
                    c.clone()
                };
                let pad = w.saturating_sub(c.chars().count()) + 2;
                line.push_str(&c);
                line.push_str(&" ".repeat(pad));
            }
            None => {
                if i > fixed.len() {
                    line.push_str("  ");
                }
                line.push_str(c);
            }
        }
    }
    writeln!(out, "{}", line.trim_end())?;
    Ok(())
}

/// The calls table's columns: short headers for a terminal, the Call-ID last and whole.
/// `--format csv` writes the fields of `schema::CALLS` instead.
pub const CALL_HEADERS: [&str; 13] = [
    "start", "duration", "from", "to", "outcome", "status", "pdd", "msgs", "retrans", "mos",
    "loss%", "legs", "call-id",
];

/// A call's table cells, wire text escaped for the terminal.
pub fn call_cells(c: &CallRecord) -> Vec<String> {
    let e = escape;
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
        e(&c.legs
            .iter()
            .map(|l| format!("{} ({})", l.call_id, l.via))
            .collect::<Vec<_>>()
            .join(" ")),
        e(&c.call_id),
    ]
}

/// Rows of a table printed as they come: widths are taken from the first rows (up to
/// `TABLE_SAMPLE`), later cells are fitted to them. Live, the table is first flushed before any
/// row has come, so each column starts at a floor wide enough for typical values.
struct StreamTable {
    table: Table,
    widths: Option<Vec<usize>>,
    max_width: Option<usize>,
    floor: Option<Vec<usize>>,
}

const TABLE_SAMPLE: usize = 1000;

impl StreamTable {
    fn new(table: Table) -> StreamTable {
        StreamTable {
            table,
            widths: None,
            max_width: sipscope::output::terminal_width(),
            floor: None,
        }
    }

    /// Columns at least this wide (before fitting the terminal).
    fn with_floor(mut self, floor: &[usize]) -> StreamTable {
        self.floor = Some(floor.to_vec());
        self
    }

    fn row(&mut self, out: &mut dyn Write, cells: Vec<String>) -> Result<(), OutputError> {
        match &self.widths {
            Some(w) => sipscope::output::write_row(out, &cells, w, self.max_width.is_some()),
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
            // The floor joins the sample as a blank row that is measured, never printed.
            if let Some(f) = &self.floor {
                self.table
                    .rows
                    .push(f.iter().map(|n| " ".repeat(*n)).collect());
            }
            let w = self.table.widths(self.max_width);
            if self.floor.is_some() {
                self.table.rows.pop();
            }
            let headers: Vec<String> = self.table.headers.iter().map(|h| h.to_string()).collect();
            let cut = self.max_width.is_some();
            sipscope::output::write_row(out, &headers, &w, cut)?;
            for r in &self.table.rows {
                sipscope::output::write_row(out, r, &w, cut)?;
            }
            self.table.rows.clear();
            self.widths = Some(w);
        }
        Ok(())
    }
}

/// `calls`: one line per call. From files, a call is printed when it leaves the session (legs,
/// streams and media figures joined). Live, it is printed when it ends (its BYE, or the final
/// failure); JSON then prints it again as it closes, with `"update": "closed"`.
struct Calls<'a> {
    out: BufWriter<io::StdoutLock<'a>>,
    all: bool,
    rtp: bool,
    live: bool,
    rows: Records,
    /// Calls printed at their end and not yet closed.
    printed: session::Ended,
}

/// One record a line in the chosen format: JSON as it is, CSV with whole values under one
/// header line, or a streaming table of escaped cells.
struct Records {
    format: Format,
    fields: schema::Fields,
    header_done: bool,
    table: StreamTable,
}

impl Records {
    fn new(format: Format, fields: schema::Fields, table: StreamTable) -> Records {
        Records {
            format,
            fields,
            header_done: false,
            table,
        }
    }

    /// `row`: the record's fields (CSV); `cells`: its table cells, escaped for a terminal.
    fn write<'v, T: serde::Serialize>(
        &mut self,
        out: &mut dyn Write,
        v: &'v T,
        row: impl Fn() -> Vec<schema::Value<'v>>,
        cells: impl Fn() -> Vec<String>,
    ) -> Result<(), OutputError> {
        match self.format {
            Format::Json => {
                json::write_line(&mut *out, v)?;
            }
            Format::Csv => {
                if !self.header_done {
                    write_csv_row(out, &schema::names(self.fields))?;
                    self.header_done = true;
                }
                let cells: Vec<String> = row().iter().map(schema::text).collect();
                write_csv_row(out, &cells)?;
            }
            Format::Table => self.table.row(out, cells())?,
        }
        Ok(())
    }

    /// A table's rows so far (its widths are then fixed); a CSV's header even with no rows, so
    /// an empty result still names its columns.
    fn flush(&mut self, out: &mut dyn Write) -> Result<(), OutputError> {
        match self.format {
            Format::Table => self.table.flush(out)?,
            Format::Csv if !self.header_done => {
                write_csv_row(out, &schema::names(self.fields))?;
                self.header_done = true;
            }
            _ => {}
        }
        Ok(())
    }
}

impl Calls<'_> {
    fn print(&mut self, c: &CallRecord) -> Result<(), OutputError> {
        self.rows
            .write(&mut self.out, c, || schema::call_row(c), || call_cells(c))
    }
}

/// A call printed live at its end, as it finally is when it closes (stragglers counted, legs
/// linked, media joined): the same object with `"update": "closed"`.
#[derive(serde::Serialize)]
struct CallUpdate<'a> {
    update: &'static str,
    #[serde(flatten)]
    call: &'a CallRecord,
}

impl Sink for Calls<'_> {
    fn needs(&self) -> Needs {
        Needs {
            media: self.rtp,
            changes: self.live,
            ..Needs::default()
        }
    }

    fn event(&mut self, e: &Event<'_>, _: bool) -> Result<(), OutputError> {
        match e {
            Event::CallChanged(ch)
                if ch.phase.is_final() && self.printed.mark(&ch.call.call_id, ch.ts) =>
            {
                self.print(&ch.call)?;
            }
            Event::CallClosed(cc) => {
                let c = &cc.call;
                if !(self.all || c.kind == CallKind::Invite) {
                    return Ok(());
                }
                if self.printed.closed(&c.call_id) {
                    if self.rows.format == Format::Json {
                        let u = CallUpdate {
                            update: "closed",
                            call: c,
                        };
                        json::write_line(&mut self.out, &u)?;
                    }
                } else {
                    self.print(c)?;
                }
            }
            Event::Tick(_) if self.live => {
                self.rows.flush(&mut self.out)?;
                self.out.flush()?;
            }
            _ => {}
        }
        Ok(())
    }
}

pub fn calls(
    cfg: &Config,
    stop: Arc<AtomicBool>,
    all: bool,
    rtp: bool,
) -> Result<Report, RunError> {
    let stdout = io::stdout();
    let live = cfg.input.is_live();
    let mut sink = Calls {
        out: BufWriter::new(stdout.lock()),
        all,
        rtp,
        live,
        rows: Records::new(cfg.format, schema::CALLS, {
            let t = StreamTable::new(Table::new(
                CALL_HEADERS.to_vec(),
                vec![
                    false, false, true, true, false, false, false, false, false, false, false,
                    true, false,
                ],
            ));
            if live {
                t.with_floor(&[27, 8, 16, 16, 14, 6, 6, 5, 7, 4, 5, 4, 36])
            } else {
                t
            }
        }),
        printed: session::Ended::default(),
    };
    // Streams that ended after their call was listed are said with the run's warnings.
    let report = drive(cfg, stop, None, &mut sink)?;
    sink.rows.flush(&mut sink.out)?;
    sink.out.flush()?;
    Ok(report)
}

/// `show`: every message of one call with its full text.
struct Show<'a> {
    out: BufWriter<io::StdoutLock<'a>>,
    format: Format,
    shown: u64,
}

impl Sink for Show<'_> {
    fn needs(&self) -> Needs {
        Needs {
            messages: true,
            text: true,
            ..Needs::default()
        }
    }

    fn event(&mut self, e: &Event<'_>, _: bool) -> Result<(), OutputError> {
        let m = match e {
            Event::Message(m) => &***m,
            Event::Tick(_) => return Ok(self.out.flush()?),
            _ => return Ok(()),
        };
        self.shown += 1;
        let out = &mut self.out;
        match self.format {
            Format::Json => {
                json::write_line(&mut *out, m)?;
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
    }
}

pub fn show(cfg: &Config, stop: Arc<AtomicBool>, call_id: &str) -> Result<Report, RunError> {
    let mut cfg = cfg.clone();
    cfg.filter.call_id = Some(call_id.to_string());
    let stdout = io::stdout();
    let mut sink = Show {
        out: BufWriter::new(stdout.lock()),
        format: cfg.format,
        shown: 0,
    };
    let report = drive(&cfg, stop, None, &mut sink)?;
    sink.out.flush()?;
    if sink.shown == 0 {
        return Err(RunError::NoMatch(
            Box::new(report),
            format!("no message with Call-ID {}", escape(call_id)),
        ));
    }
    Ok(report)
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

fn reg_cells(r: &RegRecord) -> Vec<String> {
    let e = escape;
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

/// `registrations`: one line per registration attempt; from files in start order, live as each
/// attempt ends.
struct Registrations<'a> {
    out: BufWriter<io::StdoutLock<'a>>,
    live: bool,
    regs: Vec<RegRecord>,
    rows: Records,
}

impl Registrations<'_> {
    fn print(&mut self, r: &RegRecord) -> Result<(), OutputError> {
        self.rows.write(
            &mut self.out,
            r,
            || schema::registration_row(r),
            || reg_cells(r),
        )
    }
}

impl Sink for Registrations<'_> {
    fn needs(&self) -> Needs {
        Needs::default()
    }

    fn event(&mut self, e: &Event<'_>, _: bool) -> Result<(), OutputError> {
        match e {
            Event::Registration(r) if self.live => self.print(r)?,
            Event::Registration(r) => self.regs.push((*r).clone()),
            Event::Tick(_) if self.live => {
                self.rows.flush(&mut self.out)?;
                self.out.flush()?;
            }
            _ => {}
        }
        Ok(())
    }
}

pub fn registrations(cfg: &Config, stop: Arc<AtomicBool>) -> Result<Report, RunError> {
    let stdout = io::stdout();
    let live = cfg.input.is_live();
    let mut sink = Registrations {
        out: BufWriter::new(stdout.lock()),
        live,
        regs: Vec::new(),
        rows: Records::new(cfg.format, schema::REGISTRATIONS, {
            let t = StreamTable::new(Table::new(
                REG_HEADERS.to_vec(),
                vec![
                    false, true, true, false, false, false, false, false, false, false,
                ],
            ));
            if live {
                t.with_floor(&[27, 24, 24, 7, 21, 21, 10, 6, 12, 30])
            } else {
                t
            }
        }),
    };
    let report = drive(cfg, stop, None, &mut sink)?;
    let mut regs = std::mem::take(&mut sink.regs);
    regs.sort_by(|a, b| (a.start, &a.call_id).cmp(&(b.start, &b.call_id)));
    for r in &regs {
        sink.print(r)?;
    }
    sink.rows.flush(&mut sink.out)?;
    sink.out.flush()?;
    Ok(report)
}

/// What the run lost or doubted, for stderr: every drop is said, never hidden.
pub fn warnings(r: &Report) -> Vec<String> {
    r.warnings()
}

/// Every counter of the run as one JSON object by stage (`capture`, `decode`, `reassembly`,
/// `correlate`, `rtp`, `tls_keys`, `session`, `run`).
pub fn stats_json(r: &Report) -> serde_json::Value {
    let s = &r.run;
    let v = |x: serde_json::Result<serde_json::Value>| x.unwrap_or(serde_json::Value::Null);
    let opt_ts = |t: Option<sipscope::time::Ts>| t.map(|t| t.to_string());
    serde_json::json!({
        "capture": v(serde_json::to_value(&s.capture)),
        "decode": v(serde_json::to_value(&s.decode)),
        "reassembly": v(serde_json::to_value(&s.reassembly)),
        "correlate": v(serde_json::to_value(&s.correlate)),
        "rtp": v(serde_json::to_value(&s.rtp)),
        "tls_keys": v(serde_json::to_value(s.tls_keys)),
        "session": v(serde_json::to_value(&r.session)),
        "run": {
            "sip_rejected": s.sip_rejected,
            "first_time": opt_ts(s.first_ts),
            "last_time": opt_ts(s.last_ts),
            "interrupted": s.interrupted,
            "ts_outliers": s.ts_outliers,
            "ts_behind": s.ts_behind,
            "ts_steps": s.ts_steps,
            "bpf_rejected": s.bpf_rejected,
            "bpf_uncompiled": s.bpf_uncompiled,
        },
        "process": {
            "peak_rss_kib": peak_rss_kib(),
        },
    })
}

/// This process's peak resident size so far, in KiB: `VmHWM` of /proc/self/status (the memory
/// of this program alone; `getrusage`'s `ru_maxrss` also counts the image a spawning parent
/// had before the exec). None where /proc has no such line.
fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `--stats`: every counter of the run on stderr, as JSON with `--format json`, else as a table
/// of `stage.counter  value` lines (nested counters joined with dots, lists one item a line).
pub fn print_stats(r: &Report, format: Format) {
    let v = stats_json(r);
    if format == Format::Json {
        eprintln!("{v}");
        return;
    }
    fn flat(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flat(&key, v, out);
                }
            }
            serde_json::Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    flat(&format!("{prefix}[{i}]"), v, out);
                }
            }
            serde_json::Value::Null => out.push((prefix.to_string(), "-".into())),
            serde_json::Value::String(s) => out.push((prefix.to_string(), escape(s))),
            other => out.push((prefix.to_string(), other.to_string())),
        }
    }
    let mut rows = Vec::new();
    flat("", &v, &mut rows);
    let w = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut err = io::stderr().lock();
    for (k, v) in rows {
        let _ = writeln!(err, "{k:<w$}  {v}");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bar_outlives_the_reader() {
        // The reader's end is not the run's end: the bar turns into a "finishing" spinner and
        // only drive() clears it (it was cleared at the reader's end, leaving seconds of
        // correlation and writing with nothing on screen).
        let pb = indicatif::ProgressBar::with_draw_target(
            Some(100),
            indicatif::ProgressDrawTarget::hidden(),
        );
        let mut p = super::reader_progress(pb.clone());
        p(Some(40));
        assert_eq!(pb.position(), 40);
        p(None);
        assert!(!pb.is_finished(), "the reader's end does not end the bar");
        assert!(pb.message().contains("finishing"), "{}", pb.message());
    }
}
