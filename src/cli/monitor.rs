//! `sipscope monitor` (live, or captures replayed in capture time) and `sipscope alerts` (the
//! anomalies of captures, offline): the detectors of analysis::alerts fed by the pipeline, with
//! a rolling summary, NDJSON alert and summary files, and a Prometheus endpoint.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use crate::analysis::alerts::{Alert, Engine, Severity, State, Thresholds};
use crate::cli::rtp::MediaIndex;
use crate::correlate::record::{CallKind, Outcome};
use crate::correlate::Output;
use crate::output::prometheus::Metrics;
use crate::output::{escape, write_csv_row, Format, OutputError, Table};
use crate::pipeline::RunStats;
use crate::time::{Nanos, Ts, NANOS_PER_SEC};

use super::commands::{drive_outputs, RunError};
use super::{AlertOptions, Config, UsageError};

/// Validated detector options.
#[derive(Clone, Debug)]
pub struct AlertRequest {
    pub thresholds: Thresholds,
    pub fail_on: Option<Severity>,
}

impl AlertRequest {
    pub fn from_args(a: &AlertOptions) -> Result<AlertRequest, UsageError> {
        let mut t = match &a.config {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    UsageError(format!("cannot read --config {}: {e}", p.display()))
                })?;
                Thresholds::from_toml(&text)
                    .map_err(|e| UsageError(format!("--config {}: {e}", p.display())))?
            }
            None => Thresholds::default(),
        };
        let positive = |name: &str, v: Option<f64>| -> Result<Option<f64>, UsageError> {
            match v {
                Some(x) if !(x.is_finite() && x >= 0.0) => {
                    Err(UsageError(format!("bad --{name} {x}")))
                }
                v => Ok(v),
            }
        };
        if let Some(v) = positive("min-mos", a.min_mos)? {
            t.min_mos = v;
        }
        if let Some(v) = positive("max-loss", a.max_loss)? {
            t.max_loss_pct = v;
        }
        if let Some(v) = positive("max-jitter", a.max_jitter)? {
            t.max_jitter_ms = v;
        }
        if let Some(v) = positive("long-pdd", a.long_pdd)? {
            t.long_pdd_s = v;
        }
        if let Some(v) = positive("transaction-timeout", a.transaction_timeout)? {
            t.transaction_timeout_s = v;
            t.ack_timeout_s = v;
        }
        let fail_on = match &a.fail_on {
            Some(s) => Some(Severity::parse(s).ok_or_else(|| {
                UsageError(format!("bad --fail-on {s:?}: info, warning or critical"))
            })?),
            None => None,
        };
        Ok(AlertRequest {
            thresholds: t,
            fail_on,
        })
    }
}

/// What a run of the detectors found, for the exit status.
#[derive(Default, Debug)]
pub struct DetectorOutcome {
    pub worst: Option<Severity>,
    pub alerts: u64,
}

/// The figures of one summary interval.
#[derive(Default, Debug, Clone, serde::Serialize)]
pub(crate) struct Interval {
    #[serde(serialize_with = "crate::correlate::record::ser_ts")]
    start: Ts,
    calls: u64,
    answered: u64,
    asr: Option<f64>,
    active_calls: u64,
    alerts: u64,
    top_errors: Vec<(u16, u64)>,
    messages: u64,
    capture_dropped: u64,
}

impl Interval {
    /// Completes the interval's figures: its start, ASR, open calls and its five commonest
    /// error statuses.
    fn close(&mut self, start: Ts, open_calls: usize, errors: &BTreeMap<u16, u64>) {
        self.start = start;
        self.asr = (self.calls > 0).then(|| self.answered as f64 * 100.0 / self.calls as f64);
        self.active_calls = open_calls as u64;
        let mut top: Vec<(u16, u64)> = errors.iter().map(|(k, v)| (*k, *v)).collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        top.truncate(5);
        self.top_errors = top;
    }
}

/// Feeds the detectors from the pipeline; `tap` sees every output first, `on_alert` each alert
/// as found, `on_interval` each summary as its interval of capture time ends.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_detectors(
    cfg: &Config,
    stop: Arc<AtomicBool>,
    req: &AlertRequest,
    interval: Option<Nanos>,
    metrics: Option<Arc<Mutex<String>>>,
    mut tap: impl FnMut(&Output) -> Result<(), OutputError>,
    mut on_alert: impl FnMut(&Alert) -> Result<(), OutputError>,
    mut on_interval: impl FnMut(&Interval, &Metrics) -> Result<(), OutputError>,
) -> Result<(RunStats, DetectorOutcome), RunError> {
    let mut cfg = cfg.clone();
    cfg.pipeline.correlator.want_messages = true;
    cfg.pipeline.correlator.want_media = true;
    cfg.pipeline.correlator.want_detail = true;
    cfg.pipeline.reassembly.track_rtp = true;
    cfg.pipeline.reassembly.rtp_progress = Some(crate::analysis::alerts::MEDIA_PROGRESS);
    let mut engine = Engine::new(req.thresholds.clone());
    let mut index = MediaIndex::default();
    let mut m = Metrics::default();
    let mut outcome = DetectorOutcome::default();
    let mut last_tick = Ts::ZERO;
    let mut cur = Interval::default();
    let mut errors: BTreeMap<u16, u64> = BTreeMap::new();
    let mut next_summary: Option<Ts> = None;
    let mut last_render = Ts::ZERO;
    let filter = cfg.filter.clone();
    let mut handle = |engine: &mut Engine,
                      m: &mut Metrics,
                      outcome: &mut DetectorOutcome,
                      cur: &mut Interval|
     -> Result<(), OutputError> {
        for a in engine.take() {
            if a.state == State::Fired {
                outcome.alerts += 1;
                outcome.worst = outcome.worst.max(Some(a.severity));
                cur.alerts += 1;
                *m.alerts.entry(a.code).or_default() += 1;
            }
            on_alert(&a)?;
        }
        Ok(())
    };
    let run = drive_outputs(&cfg, stop, |o| {
        tap(&o)?;
        let now = match &o {
            Output::Msg(x) => Some(x.ts),
            Output::Tick(t, _) => Some(*t),
            _ => None,
        };
        match o {
            Output::Msg(msg) => {
                cur.messages += 1;
                if msg.retransmission {
                    m.retransmissions += 1;
                }
                match (&msg.method, msg.status) {
                    (Some(meth), _) => m.request(meth),
                    (None, Some(s)) => {
                        m.response(msg.cseq_method.as_deref().unwrap_or("unknown"), s);
                        if s >= 400 && !msg.retransmission {
                            *errors.entry(s).or_default() += 1;
                        }
                    }
                    _ => {}
                }
                if filter.message(&msg) {
                    engine.on_msg(&msg);
                }
            }
            Output::Media(x) => {
                engine.on_media(&x);
                index.add(*x);
            }
            Output::Rtp(mut s) => {
                index.resolve(&mut s);
                m.streams += 1;
                if let Some(mos) = s.mos {
                    m.mos.observe(mos);
                }
                engine.on_stream(&s);
            }
            Output::Call(c) => {
                if c.kind == CallKind::Invite {
                    if let Some(o) = c.outcome.filter(|o| *o != Outcome::InProgress) {
                        *m.calls.entry(o.as_str()).or_default() += 1;
                        cur.calls += 1;
                        cur.answered += u64::from(o == Outcome::Answered);
                    }
                    if let Some(p) = c.pdd {
                        m.pdd.observe(p);
                    }
                }
                if let Some(d) = &c.detail {
                    for t in &d.transactions {
                        if let Some(f) = t.final_response {
                            m.response_time(t.method.as_str(), f as f64 / NANOS_PER_SEC as f64);
                        }
                    }
                }
                engine.on_call(&c);
            }
            Output::Reg(_) => {}
            Output::RtpLive(v) => {
                for s in &v {
                    if let Some(cid) = index.call_of(s.src, s.dst, s.first) {
                        let cid = cid.to_string();
                        engine.on_live_stream(&cid, s.dst, s.last);
                    }
                }
            }
            Output::Tick(t, dropped) => {
                engine.decide_media(t);
                // A live capture's own drops, as they grow: every new loss is said.
                if dropped > m.capture_dropped {
                    engine.capture_loss(t, dropped - m.capture_dropped, 0, 0);
                    m.capture_dropped = dropped;
                    cur.capture_dropped = dropped;
                }
            }
        }
        if let Some(now) = now {
            // Timers run once a second of capture time; alerts carry their own deadlines.
            if now.since(last_tick) >= NANOS_PER_SEC {
                last_tick = now;
                engine.tick(now);
                for cid in engine.settle(now, false) {
                    index.forget(&cid);
                }
            }
            if let Some(iv) = interval {
                let next = *next_summary.get_or_insert(Ts((now.0.div_euclid(iv) + 1) * iv));
                if now >= next {
                    cur.close(next.saturating_add(-iv), engine.watched(), &errors);
                    handle(&mut engine, &mut m, &mut outcome, &mut cur)?;
                    m.active_calls = engine.watched() as u64;
                    on_interval(&cur, &m)?;
                    cur = Interval::default();
                    errors.clear();
                    next_summary = Some(Ts((now.0.div_euclid(iv) + 1) * iv));
                }
            }
            if let Some(text) = &metrics {
                if now.since(last_render) >= NANOS_PER_SEC {
                    last_render = now;
                    m.active_calls = engine.watched() as u64;
                    for (t, n) in engine.table_sizes() {
                        m.tables.insert(t, n as u64);
                    }
                    m.tables.insert("media_index", index.len() as u64);
                    m.evicted = engine.stats.evicted;
                    if let Ok(mut t) = text.lock() {
                        *t = m.render();
                    }
                }
            }
        }
        handle(&mut engine, &mut m, &mut outcome, &mut cur)
    })?;
    let end = run.last_ts.unwrap_or(last_tick);
    engine.tick(end);
    engine.settle(end, true);
    // What the capture lost that no tick reported yet.
    let dropped =
        run.capture.dropped_kernel + run.capture.dropped_interface + run.capture.dropped_behind;
    engine.capture_loss(
        end,
        dropped.saturating_sub(m.capture_dropped),
        0,
        run.reassembly.tcp.gaps,
    );
    m.capture_dropped = m.capture_dropped.max(dropped);
    engine.table_limits(
        end,
        &[
            ("live calls", run.correlate.calls_evicted),
            ("TCP connection", run.reassembly.flows_evicted),
            ("IP fragment", run.decode.ip_frag_evicted),
        ],
    );
    m.tcp_gaps = run.reassembly.tcp.gaps;
    handle(&mut engine, &mut m, &mut outcome, &mut cur)?;
    if let Some(iv) = interval {
        if cur.messages > 0 || cur.alerts > 0 || cur.calls > 0 {
            cur.capture_dropped = m.capture_dropped;
            cur.close(Ts(end.0.div_euclid(iv) * iv), engine.watched(), &errors);
            on_interval(&cur, &m)?;
        }
    }
    m.active_calls = engine.watched() as u64;
    m.evicted = engine.stats.evicted;
    if let Some(text) = &metrics {
        if let Ok(mut t) = text.lock() {
            *t = m.render();
        }
    }
    Ok((run, outcome))
}

fn colour(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "\x1b[1;31m",
        Severity::Warning => "\x1b[33m",
        Severity::Info => "\x1b[36m",
    }
}

/// Where NDJSON goes: a file, or standard output (`-`).
fn json_sink(path: &Option<String>) -> Result<Option<Box<dyn Write>>, RunError> {
    Ok(match path.as_deref() {
        None => None,
        Some("-") => Some(Box::new(io::stdout())),
        Some(p) => Some(Box::new(BufWriter::new(
            File::create(p).map_err(|e| RunError::Output(OutputError::Io(e)))?,
        ))),
    })
}

fn write_json<T: serde::Serialize>(w: &mut dyn Write, v: &T) -> Result<(), OutputError> {
    serde_json::to_writer(&mut *w, v).map_err(io::Error::other)?;
    w.write_all(b"\n")?;
    w.flush()?;
    Ok(())
}

/// Options of `monitor` beyond the detectors'.
#[derive(Clone, Debug)]
pub struct MonitorRequest {
    pub alerts: AlertRequest,
    pub alerts_json: Option<String>,
    pub summary_json: Option<PathBuf>,
    pub interval: Nanos,
    pub metrics_listen: Option<SocketAddr>,
    /// Rotating pcap output: directory, rotation, files kept.
    pub write: Option<(PathBuf, crate::capture::writer::Rotate, usize)>,
}

impl MonitorRequest {
    pub fn from_args(a: &super::MonitorArgs) -> Result<MonitorRequest, UsageError> {
        let alerts = AlertRequest::from_args(&a.alert)?;
        let interval = super::stats::parse_interval(&a.interval).ok_or_else(|| {
            UsageError(format!("bad --interval {:?}: use 10s, 1m ...", a.interval))
        })?;
        let write = match &a.write {
            Some(dir) => {
                let rotate = crate::capture::writer::Rotate::parse(&a.rotate).ok_or_else(|| {
                    UsageError(format!(
                        "bad --rotate {:?}: a size (100MB) or a period (1h)",
                        a.rotate
                    ))
                })?;
                Some((dir.clone(), rotate, a.keep))
            }
            None => None,
        };
        Ok(MonitorRequest {
            alerts,
            alerts_json: a.alerts_json.clone(),
            summary_json: a.summary_json.clone(),
            interval,
            metrics_listen: a.metrics_listen,
            write,
        })
    }
}

pub fn monitor(
    cfg: &Config,
    stop: Arc<AtomicBool>,
    req: &MonitorRequest,
) -> Result<(RunStats, DetectorOutcome), RunError> {
    let tty = io::stderr().is_terminal();
    let mut owned = cfg.clone();
    let writer = match &req.write {
        Some((dir, rotate, keep)) => {
            let w = crate::capture::writer::RotatingWriter::new(dir, *rotate, *keep)
                .map_err(|e| RunError::Output(OutputError::Io(e)))?;
            let (tap, handle) = crate::capture::writer::Tap::spawn(w);
            owned.pipeline.tap = Some(tap.clone());
            Some((tap.dropped, tap.errors, handle))
        }
        None => None,
    };
    let cfg = &owned;
    let mut alerts_json = json_sink(&req.alerts_json)?;
    let human_to_stdout = req.alerts_json.as_deref() != Some("-");
    let mut summary_json = match &req.summary_json {
        Some(p) => Some(BufWriter::new(
            File::create(p).map_err(|e| RunError::Output(OutputError::Io(e)))?,
        )),
        None => None,
    };
    let metrics = match req.metrics_listen {
        Some(addr) => {
            let text = Arc::new(Mutex::new(Metrics::default().render()));
            let bound = crate::output::prometheus::serve(addr, text.clone(), stop.clone())
                .map_err(|e| RunError::Output(OutputError::Io(e)))?;
            eprintln!("sipscope: metrics at http://{bound}/metrics");
            Some(text)
        }
        None => None,
    };
    // Human lines go to stdout unless stdout carries the NDJSON; then to stderr.
    let human: std::cell::RefCell<Box<dyn Write>> = std::cell::RefCell::new(if human_to_stdout {
        Box::new(io::stdout())
    } else {
        Box::new(io::stderr())
    });
    let colour_on = if human_to_stdout {
        io::stdout().is_terminal()
    } else {
        tty
    };
    let (run, outcome) = run_detectors(
        cfg,
        stop,
        &req.alerts,
        Some(req.interval),
        metrics,
        |_| Ok(()),
        |a| {
            let mut human = human.borrow_mut();
            let line = escape(&a.to_string());
            if colour_on {
                writeln!(human, "{}{line}\x1b[0m", colour(a.severity))?;
            } else {
                writeln!(human, "{line}")?;
            }
            human.flush()?;
            if let Some(w) = alerts_json.as_mut() {
                write_json(w.as_mut(), a)?;
            }
            Ok(())
        },
        |iv, _m| {
            let mut human = human.borrow_mut();
            let errs: Vec<String> = iv
                .top_errors
                .iter()
                .map(|(s, n)| format!("{s}×{n}"))
                .collect();
            writeln!(
                human,
                "── {}  calls {}  ASR {}  active {}  alerts {}  messages {}  errors {}{}",
                iv.start,
                iv.calls,
                iv.asr.map_or("-".into(), |a| format!("{a:.0}%")),
                iv.active_calls,
                iv.alerts,
                iv.messages,
                if errs.is_empty() {
                    "-".into()
                } else {
                    errs.join(" ")
                },
                if iv.capture_dropped > 0 {
                    format!("  capture drops {}", iv.capture_dropped)
                } else {
                    String::new()
                }
            )?;
            human.flush()?;
            if let Some(w) = summary_json.as_mut() {
                write_json(w, iv)?;
            }
            Ok(())
        },
    )?;
    if let Some(mut w) = alerts_json {
        w.flush().map_err(OutputError::from)?;
    }
    if let Some((dropped, errors, handle)) = writer {
        // With the last sender gone (the pipeline's copies went with it), the writer drains
        // its queue and stops.
        owned.pipeline.tap = None;
        let mut e = io::stderr();
        match handle.join() {
            Ok(w) => {
                let files: Vec<String> = w.files().map(|p| p.display().to_string()).collect();
                let _ = writeln!(
                    e,
                    "sipscope: wrote {} frames to {} file(s): {}",
                    w.frames,
                    files.len(),
                    files.join(" ")
                );
            }
            Err(_) => {
                let _ = writeln!(e, "sipscope: warning: the pcap writer failed");
            }
        }
        let d = dropped.load(std::sync::atomic::Ordering::Relaxed);
        let er = errors.load(std::sync::atomic::Ordering::Relaxed);
        if d > 0 || er > 0 {
            let _ = writeln!(
                e,
                "sipscope: warning: {d} frames not written (the writer was behind), {er} write errors"
            );
        }
    }
    if let Some(mut w) = summary_json {
        w.flush().map_err(OutputError::from)?;
    }
    let mut e = io::stderr();
    let _ = writeln!(
        e,
        "sipscope: {} alerts{}",
        outcome.alerts,
        outcome
            .worst
            .map_or(String::new(), |w| format!(", worst {}", w.as_str()))
    );
    Ok((run, outcome))
}

const ALERT_HEADERS: [&str; 8] = [
    "time", "severity", "code", "state", "call-id", "endpoint", "evidence", "hint",
];

fn alert_cells(a: &Alert) -> Vec<String> {
    vec![
        a.ts.to_string(),
        a.severity.as_str().into(),
        a.code.into(),
        match a.state {
            State::Fired => "fired".into(),
            State::Cleared => "cleared".into(),
        },
        a.call_id.clone().unwrap_or_default(),
        a.endpoint.clone().unwrap_or_default(),
        a.evidence.clone(),
        a.hint.into(),
    ]
}

/// `sipscope alerts`: every alert of the captures, in capture-time order.
pub fn alerts(
    cfg: &Config,
    stop: Arc<AtomicBool>,
    req: &AlertRequest,
) -> Result<(RunStats, DetectorOutcome), RunError> {
    let mut all: Vec<Alert> = Vec::new();
    let (run, outcome) = run_detectors(
        cfg,
        stop,
        req,
        None,
        None,
        |_| Ok(()),
        |a| {
            all.push(a.clone());
            Ok(())
        },
        |_, _| Ok(()),
    )?;
    // Deadlines are found late by design (a timer is checked once a second): sort by them.
    all.sort_by(|a, b| {
        (a.ts, a.code, &a.call_id, &a.endpoint).cmp(&(b.ts, b.code, &b.call_id, &b.endpoint))
    });
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match cfg.format {
        Format::Json => {
            for a in &all {
                write_json(&mut out, a)?;
            }
        }
        Format::Csv => {
            write_csv_row(&mut out, &ALERT_HEADERS.map(String::from))?;
            for a in &all {
                write_csv_row(&mut out, &alert_cells(a))?;
            }
        }
        Format::Table => {
            let flexible = ALERT_HEADERS
                .iter()
                .map(|h| matches!(*h, "call-id" | "evidence" | "hint"))
                .collect();
            let mut t = Table::new(ALERT_HEADERS.to_vec(), flexible);
            for a in &all {
                t.rows
                    .push(alert_cells(a).iter().map(|c| escape(c)).collect());
            }
            t.write(&mut out, crate::output::terminal_width())?;
        }
    }
    out.flush().map_err(OutputError::from)?;
    Ok((run, outcome))
}
