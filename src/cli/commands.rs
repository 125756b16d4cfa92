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
use sipscope::output::{escape, escape_multiline, json, write_csv_row, Format, OutputError, Table};
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
    }
}

fn progress_bar(cfg: &Config, src: &dyn Source) -> Option<Progress> {
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
    Some(Box::new(move |done| match done {
        Some(d) => pb.set_position(d),
        None => pb.finish_and_clear(),
    }))
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
    let progress = progress_bar(cfg, source.as_ref());
    let scfg = SessionConfig {
        filter: cfg.filter.clone(),
        thresholds: thresholds.cloned().unwrap_or_default(),
        hold: session::HOLD,
    };
    session::run(source, &cfg.pipeline, scfg, stop, progress, sink)
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
        // A response whose status code could not be read (anomaly bad-status-code).
        _ => match &m.reason {
            Some(r) if !r.is_empty() => format!("? {r}"),
            _ => "?".into(),
        },
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
            Event::Message(m) => m,
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
                    write_csv_row(out, &MSG_HEADERS.map(String::from))?;
                    self.header_done = true;
                }
                let mut cells = msg_cells(m);
                cells[4] = what(m);
                cells[6] = opt(&m.call_id);
                write_csv_row(out, &cells)?;
            }
            Format::Table => {
                // Streaming: fixed widths, the Call-ID takes what the terminal has left.
                let fixed = [27usize, 21, 21, 9, 18, 14];
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
    sink.out.flush()?;
    Ok(report)
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
            let c = sipscope::output::fit(c, fixed[i]);
            line.push_str(&format!("{:<w$}  ", c, w = fixed[i]));
            used += fixed[i] + 2;
        } else if i == fixed.len() {
            // The Call-ID: whatever the terminal has left (at least 12), all of it on a pipe.
            let room = width.map(|w| w.saturating_sub(used + 12).max(12));
            let c = match room {
                Some(r) => sipscope::output::fit(c, r),
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

pub const CALL_HEADERS: [&str; 13] = [
    "start", "duration", "from", "to", "outcome", "status", "pdd", "msgs", "retrans", "mos",
    "loss%", "call-id", "legs",
];

pub fn call_cells(c: &CallRecord, escaped: bool) -> Vec<String> {
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
            Some(w) => sipscope::output::write_row(out, &cells, w),
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
            sipscope::output::write_row(out, &headers, &w)?;
            for r in &self.table.rows {
                sipscope::output::write_row(out, r, &w)?;
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
    headers: &'static [&'static str],
    header_done: bool,
    table: StreamTable,
}

impl Records {
    fn new(format: Format, headers: &'static [&'static str], table: StreamTable) -> Records {
        Records {
            format,
            headers,
            header_done: false,
            table,
        }
    }

    /// `cells(escaped)`: the record's cells, escaped for a terminal or whole for a file.
    fn write<T: serde::Serialize>(
        &mut self,
        out: &mut dyn Write,
        v: &T,
        cells: impl Fn(bool) -> Vec<String>,
    ) -> Result<(), OutputError> {
        match self.format {
            Format::Json => {
                json::write_line(&mut *out, v)?;
            }
            Format::Csv => {
                if !self.header_done {
                    let h: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
                    write_csv_row(out, &h)?;
                    self.header_done = true;
                }
                write_csv_row(out, &cells(false))?;
            }
            Format::Table => self.table.row(out, cells(true))?,
        }
        Ok(())
    }

    /// A table's rows so far (its widths are then fixed).
    fn flush(&mut self, out: &mut dyn Write) -> Result<(), OutputError> {
        if self.format == Format::Table {
            self.table.flush(out)?;
        }
        Ok(())
    }
}

impl Calls<'_> {
    fn print(&mut self, c: &CallRecord) -> Result<(), OutputError> {
        self.rows.write(&mut self.out, c, |e| call_cells(c, e))
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
    let live = matches!(cfg.input, Input::Live(_));
    let mut sink = Calls {
        out: BufWriter::new(stdout.lock()),
        all,
        rtp,
        live,
        rows: Records::new(cfg.format, &CALL_HEADERS, {
            let t = StreamTable::new(Table::new(
                CALL_HEADERS.to_vec(),
                vec![
                    false, false, true, true, false, false, false, false, false, false, false,
                    true, true,
                ],
            ));
            if live {
                t.with_floor(&[27, 8, 16, 16, 14, 6, 6, 5, 7, 4, 5, 36, 4])
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
            Event::Message(m) => m,
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
        eprintln!("sipscope: no message with Call-ID {}", escape(call_id));
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
        self.rows.write(&mut self.out, r, |e| reg_cells(r, e))
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
    let live = matches!(cfg.input, Input::Live(_));
    let mut sink = Registrations {
        out: BufWriter::new(stdout.lock()),
        live,
        regs: Vec::new(),
        rows: Records::new(cfg.format, &REG_HEADERS, {
            let t = StreamTable::new(Table::new(
                REG_HEADERS.to_vec(),
                vec![
                    false, true, true, false, false, false, false, false, false, true,
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

pub fn print_stats(r: &Report) {
    let s = &r.run;
    eprintln!("capture: {:?}", s.capture);
    eprintln!("decode: {:?}", s.decode);
    eprintln!("reassembly: {:?}", s.reassembly);
    eprintln!("correlate: {:?}", s.correlate);
    eprintln!("rtp: {:?}", s.rtp);
    eprintln!("sip rejected: {}", s.sip_rejected);
    eprintln!("session: {:?}", r.session);
}
