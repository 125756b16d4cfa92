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

use sipscope::analysis::alerts::{Alert, Severity, State, Thresholds};
use sipscope::correlate::record::{CallKind, Outcome};
use sipscope::hep::agent::{Agent, AgentConfig};
use sipscope::hep::sender::{Bounds, Sender, Target};
use sipscope::output::prometheus::Metrics;
use sipscope::output::{escape, schema, write_csv_row, Format, OutputError, Table};
use sipscope::session::{Ended, Event, Needs, Report, Sink};
use sipscope::time::{Nanos, Ts, NANOS_PER_SEC};

use super::commands::{drive, RunError};
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
    #[serde(serialize_with = "sipscope::correlate::record::ser_ts")]
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

/// Fired alerts counted, for the exit status.
impl DetectorOutcome {
    pub fn add(&mut self, a: &Alert) {
        if a.state == State::Fired {
            self.alerts += 1;
            self.worst = self.worst.max(Some(a.severity));
        }
    }
}

/// `monitor`: alerts as they come, a summary every interval of capture time, and the metrics,
/// all from what the filter selects (the detectors themselves see everything).
struct Monitor<'a> {
    interval: Nanos,
    metrics: Option<Arc<Mutex<String>>>,
    m: Metrics,
    outcome: DetectorOutcome,
    cur: Interval,
    errors: BTreeMap<u16, u64>,
    next_summary: Option<Ts>,
    last_render: Ts,
    last: Ts,
    open_calls: usize,
    /// Calls counted at their final change, so their close does not count them again.
    counted: Ended,
    human: Box<dyn Write + 'a>,
    colour_on: bool,
    alerts_json: Option<Box<dyn Write>>,
    summary_json: Option<BufWriter<File>>,
    /// `--hep-out`: what the filter selects, to HOMER.
    hep: Option<Agent>,
}

impl Monitor<'_> {
    fn count_call(&mut self, c: &sipscope::correlate::record::CallRecord) {
        if c.kind != CallKind::Invite {
            return;
        }
        if let Some(o) = c.outcome.filter(|o| *o != Outcome::InProgress) {
            *self.m.calls.entry(o.as_str()).or_default() += 1;
            self.cur.calls += 1;
            self.cur.answered += u64::from(o == Outcome::Answered);
        }
        if let Some(p) = c.pdd {
            self.m.pdd.observe(p);
        }
    }

    fn alert(&mut self, a: &Alert) -> Result<(), OutputError> {
        self.outcome.add(a);
        if a.state == State::Fired {
            self.cur.alerts += 1;
            *self.m.alerts.entry(a.code).or_default() += 1;
        }
        let line = escape(&a.to_string());
        if self.colour_on {
            writeln!(self.human, "{}{line}\x1b[0m", colour(a.severity))?;
        } else {
            writeln!(self.human, "{line}")?;
        }
        self.human.flush()?;
        if let Some(w) = self.alerts_json.as_mut() {
            write_json(w.as_mut(), a)?;
        }
        Ok(())
    }

    fn summary(&mut self) -> Result<(), OutputError> {
        let iv = &self.cur;
        let errs: Vec<String> = iv
            .top_errors
            .iter()
            .map(|(s, n)| format!("{s}×{n}"))
            .collect();
        writeln!(
            self.human,
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
        self.human.flush()?;
        if let Some(w) = self.summary_json.as_mut() {
            write_json(w, iv)?;
        }
        Ok(())
    }

    /// Capture time moved on: close the intervals that ended, refresh the metrics.
    fn clock(&mut self, now: Ts) -> Result<(), OutputError> {
        self.last = self.last.max(now);
        let iv = self.interval;
        let next = *self
            .next_summary
            .get_or_insert(Ts((now.0.div_euclid(iv) + 1) * iv));
        if now >= next {
            self.cur
                .close(next.saturating_add(-iv), self.open_calls, &self.errors);
            self.m.active_calls = self.open_calls as u64;
            self.summary()?;
            self.cur = Interval::default();
            self.errors.clear();
            self.next_summary = Some(Ts((now.0.div_euclid(iv) + 1) * iv));
        }
        if now.since(self.last_render) >= NANOS_PER_SEC {
            self.last_render = now;
            self.render();
        }
        Ok(())
    }

    fn render(&mut self) {
        if let Some(h) = &self.hep {
            self.m.hep_out = Some(h.stats());
        }
        if let Some(text) = &self.metrics {
            self.m.active_calls = self.open_calls as u64;
            if let Ok(mut t) = text.lock() {
                *t = self.m.render();
            }
        }
    }
}

impl Sink for Monitor<'_> {
    fn needs(&self) -> Needs {
        Needs {
            messages: true,
            detail: true,
            changes: true,
            media: true,
            alerts: true,
            raw: self.hep.is_some(),
            rtcp: self.hep.is_some(),
            ..Needs::default()
        }
    }

    fn event(&mut self, e: &Event<'_>, _: bool) -> Result<(), OutputError> {
        if let Some(h) = self.hep.as_mut() {
            h.event(e);
        }
        match e {
            Event::Message(msg) => {
                self.cur.messages += 1;
                if msg.retransmission {
                    self.m.retransmissions += 1;
                }
                match (&msg.method, msg.status) {
                    (Some(meth), _) => self.m.request(meth),
                    (None, Some(s)) => {
                        self.m
                            .response(msg.cseq_method.as_deref().unwrap_or("unknown"), s);
                        if s >= 400 && !msg.retransmission {
                            *self.errors.entry(s).or_default() += 1;
                        }
                    }
                    _ => {}
                }
                self.clock(msg.ts)?;
            }
            Event::CallChanged(ch) => {
                if ch.phase.is_final() && self.counted.mark(&ch.call.call_id, ch.ts) {
                    self.count_call(&ch.call);
                }
            }
            Event::CallClosed(cc) => {
                let c = &cc.call;
                if !self.counted.closed(&c.call_id) {
                    self.count_call(c);
                }
                if let Some(d) = &c.detail {
                    for t in &d.transactions {
                        if let Some(f) = t.final_response {
                            self.m
                                .response_time(t.method.as_str(), f as f64 / NANOS_PER_SEC as f64);
                        }
                    }
                }
            }
            Event::Stream(s) => {
                self.m.streams += 1;
                if let Some(mos) = s.mos {
                    self.m.mos.observe(mos);
                }
            }
            Event::Alert(a) => self.alert(a)?,
            Event::Tick(t) => {
                self.open_calls = t.open_calls;
                if t.dropped > self.m.capture_dropped {
                    self.m.capture_dropped = t.dropped;
                    self.cur.capture_dropped = t.dropped;
                }
                for (name, n) in &t.tables {
                    self.m.tables.insert(name, *n as u64);
                }
                self.m.evicted = t.detector_evictions;
                self.clock(t.now)?;
            }
            Event::Registration(_) | Event::Rtcp(_) => {}
        }
        Ok(())
    }
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
    sipscope::output::json::write_line(&mut *w, v)?;
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
    pub write: Option<(PathBuf, sipscope::capture::writer::Rotate, usize)>,
    /// HEP out: the collectors and what the packets say of the capture node.
    pub hep: Option<(Vec<Target>, AgentConfig, Bounds)>,
}

impl MonitorRequest {
    pub fn from_args(a: &super::MonitorArgs) -> Result<MonitorRequest, UsageError> {
        let alerts = AlertRequest::from_args(&a.alert)?;
        let interval = super::stats::parse_interval(&a.interval).ok_or_else(|| {
            UsageError(format!("bad --interval {:?}: use 10s, 1m ...", a.interval))
        })?;
        let write = match &a.write {
            Some(dir) => {
                let rotate =
                    sipscope::capture::writer::Rotate::parse(&a.rotate).ok_or_else(|| {
                        UsageError(format!(
                            "bad --rotate {:?}: a size (100MB) or a period (1h)",
                            a.rotate
                        ))
                    })?;
                Some((dir.clone(), rotate, a.keep))
            }
            None => None,
        };
        let hep = if a.hep_out.is_empty() {
            None
        } else {
            let mut targets = Vec::new();
            for t in &a.hep_out {
                targets
                    .push(Target::parse(t).map_err(|e| UsageError(format!("bad --hep-out {e}")))?);
            }
            if a.hep_queue == 0 {
                return Err(UsageError("--hep-queue must be at least 1".into()));
            }
            Some((
                targets,
                AgentConfig {
                    capture_id: a.hep_id,
                    password: a.common.hep_password.clone(),
                    node_name: a.hep_name.clone(),
                    link_headers: Vec::new(),
                },
                Bounds {
                    packets: a.hep_queue,
                    ..Bounds::default()
                },
            ))
        };
        Ok(MonitorRequest {
            hep,
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
) -> Result<(Report, DetectorOutcome), RunError> {
    let tty = io::stderr().is_terminal();
    let mut owned = cfg.clone();
    let writer = match &req.write {
        Some((dir, rotate, keep)) => {
            let w = sipscope::capture::writer::RotatingWriter::new(dir, *rotate, *keep)
                .map_err(|e| RunError::Output(OutputError::Io(e)))?;
            let (tap, handle) = sipscope::capture::writer::Tap::spawn(w);
            owned.pipeline.tap = Some(tap.clone());
            Some((tap.dropped, tap.errors, handle))
        }
        None => None,
    };
    let cfg = &owned;
    let hep = match &req.hep {
        Some((targets, agent, bounds)) => {
            let sender = Sender::start(targets, *bounds)
                .map_err(|e| RunError::Output(OutputError::Io(e)))?;
            let mut agent = agent.clone();
            agent.link_headers = cfg.pipeline.correlator.link_headers.clone();
            for t in targets {
                eprintln!("sipscope: sending HEP to {t}");
            }
            Some(Agent::new(agent, sender))
        }
        None => None,
    };
    let alerts_json = json_sink(&req.alerts_json)?;
    let human_to_stdout = req.alerts_json.as_deref() != Some("-");
    let summary_json = match &req.summary_json {
        Some(p) => Some(BufWriter::new(
            File::create(p).map_err(|e| RunError::Output(OutputError::Io(e)))?,
        )),
        None => None,
    };
    let metrics = match req.metrics_listen {
        Some(addr) => {
            let text = Arc::new(Mutex::new(Metrics::default().render()));
            let bound = sipscope::output::prometheus::serve(addr, text.clone(), stop.clone())
                .map_err(|e| RunError::Output(OutputError::Io(e)))?;
            eprintln!("sipscope: metrics at http://{bound}/metrics");
            Some(text)
        }
        None => None,
    };
    // Human lines go to stdout unless stdout carries the NDJSON; then to stderr.
    let human: Box<dyn Write> = if human_to_stdout {
        Box::new(io::stdout())
    } else {
        Box::new(io::stderr())
    };
    let colour_on = super::colour_on(if human_to_stdout {
        io::stdout().is_terminal()
    } else {
        tty
    });
    let mut sink = Monitor {
        interval: req.interval,
        metrics,
        m: Metrics::default(),
        outcome: DetectorOutcome::default(),
        cur: Interval::default(),
        errors: BTreeMap::new(),
        next_summary: None,
        last_render: Ts::ZERO,
        last: Ts::ZERO,
        open_calls: 0,
        counted: Ended::default(),
        human,
        colour_on,
        alerts_json,
        summary_json,
        hep,
    };
    let mut report = drive(cfg, stop, Some(&req.alerts.thresholds), &mut sink)?;
    if let Some(h) = sink.hep.take() {
        // A collector that is down or stopped reading holds the exit at most this long.
        let st = h.finish(std::time::Duration::from_secs(2));
        eprintln!(
            "sipscope: sent {} HEP packets ({} bytes)",
            st.sent, st.sent_bytes
        );
        sink.m.hep_out = Some(st.clone());
        report.hep_out = st;
    }
    let run = &report.run;
    // The last, partial interval, and the final metrics.
    let dropped =
        run.capture.dropped_kernel + run.capture.dropped_interface + run.capture.dropped_behind;
    sink.m.capture_dropped = sink.m.capture_dropped.max(dropped);
    sink.m.tcp_gaps = run.reassembly.tcp.gaps;
    let end = run.last_ts.unwrap_or(sink.last).max(sink.last);
    if sink.cur.messages > 0 || sink.cur.alerts > 0 || sink.cur.calls > 0 {
        let iv = sink.interval;
        sink.cur.capture_dropped = sink.m.capture_dropped;
        let errors = std::mem::take(&mut sink.errors);
        sink.cur
            .close(Ts(end.0.div_euclid(iv) * iv), sink.open_calls, &errors);
        sink.summary()?;
    }
    sink.render();
    let outcome = std::mem::take(&mut sink.outcome);
    let alerts_json = sink.alerts_json.take();
    let summary_json = sink.summary_json.take();
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
    Ok((report, outcome))
}

/// The alerts table's columns (the Call-ID last, whole). `--format csv` writes the fields of
/// `schema::ALERTS`.
const ALERT_HEADERS: [&str; 8] = [
    "time", "severity", "code", "state", "endpoint", "evidence", "hint", "call-id",
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
        a.endpoint.clone().unwrap_or_default(),
        a.evidence.clone(),
        a.hint.into(),
        a.call_id.clone().unwrap_or_default(),
    ]
}

/// The alerts the filter selects.
#[derive(Default)]
struct AlertList {
    alerts: Vec<Alert>,
    outcome: DetectorOutcome,
}

impl Sink for AlertList {
    fn needs(&self) -> Needs {
        Needs {
            alerts: true,
            ..Needs::default()
        }
    }

    fn event(&mut self, e: &Event<'_>, _: bool) -> Result<(), OutputError> {
        if let Event::Alert(a) = e {
            self.outcome.add(a);
            self.alerts.push((*a).clone());
        }
        Ok(())
    }
}

/// `sipscope alerts`: every alert of the captures, in capture-time order.
pub fn alerts(
    cfg: &Config,
    stop: Arc<AtomicBool>,
    req: &AlertRequest,
) -> Result<(Report, DetectorOutcome), RunError> {
    let mut sink = AlertList::default();
    let report = drive(cfg, stop, Some(&req.thresholds), &mut sink)?;
    let (mut all, outcome) = (sink.alerts, sink.outcome);
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
            write_csv_row(&mut out, &schema::names(schema::ALERTS))?;
            for a in &all {
                let cells: Vec<String> = schema::alert_row(a).iter().map(schema::text).collect();
                write_csv_row(&mut out, &cells)?;
            }
        }
        Format::Table => {
            let flexible = ALERT_HEADERS
                .iter()
                .map(|h| matches!(*h, "evidence" | "hint"))
                .collect();
            let mut t = Table::new(ALERT_HEADERS.to_vec(), flexible);
            for a in &all {
                t.rows
                    .push(alert_cells(a).iter().map(|c| escape(c)).collect());
            }
            t.write(&mut out, sipscope::output::terminal_width())?;
        }
    }
    out.flush().map_err(OutputError::from)?;
    Ok((report, outcome))
}
