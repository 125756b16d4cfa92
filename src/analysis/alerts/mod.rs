//! Anomaly detectors (docs/ALERTS.md), all on capture time, so a live run and a
//! replay of its capture raise the same alerts at the same instants.
//!
//! The engine sits at the sink: it sees every SIP message (with its retransmission mark, from
//! the correlators), the SDP media lines, the RTP streams as they finish, and each call record as
//! the call closes. It keeps a light watch per open call (timers of its transactions), sliding
//! one-second-bucket windows per source, peer and sender, and a few bounded maps; every bound it
//! reaches is itself counted and reported as an alert. `tick(now)` fires the timers whose
//! deadline `now` has passed; an alert's time is its deadline, not the moment it was noticed.
//!
//! Each alert has a stable code, a severity, the call, transaction or endpoint it concerns, its
//! evidence (figures and the triggering message) and a one-line hint. An alert that clears (a
//! late ACK, a late final response) is reported again as cleared.
//!
//! This file is the engine: the tables, raising and clearing, and the dispatch of each input to
//! the detectors, one file each: `calls` (transaction and dialog timers), `media` (no-rtp,
//! one-way-audio, rtp-stopped, missing-bye from media), `quality`, `nat`, `malformed`,
//! `retransmission`, `scanner` and `sweep`, `auth`, `registration`, `error_spike`; `window` holds the
//! sliding windows they count in.

use foldhash::{HashMap, HashMapExt};
use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use crate::correlate::record::MsgRow;
use crate::time::{Nanos, Ts, NANOS_PER_SEC};

mod auth;
mod calls;
mod error_spike;
mod malformed;
mod media;
mod model;
mod nat;
mod quality;
mod registration;
mod retransmission;
mod scanner;
mod sweep;
mod window;

pub use media::{MEDIA_DECIDE, MEDIA_PROGRESS};
pub use model::{Alert, Severity, State, Thresholds};

use calls::Watch;
use error_spike::Peer;
use media::{Settle, StreamBrief};
use registration::AorState;
use window::{Distinct, Window};

fn ns(s: f64) -> Nanos {
    (s * NANOS_PER_SEC as f64) as Nanos
}

fn secs(d: Nanos) -> f64 {
    d as f64 / NANOS_PER_SEC as f64
}

/// Per-source state of the rate detectors.
#[derive(Debug, Default)]
struct Source {
    /// Messages sent, retransmissions sent.
    sent: Window,
    /// 401/403/407 answered to it since its last success, with their times.
    auth_fail: VecDeque<Ts>,
    /// Final answers to its requests, and how many of them were 2xx.
    answers: Window,
    /// Users it was refused for (401/403/404/407/484), within the window.
    refused: Distinct,
    /// The run of consecutive numeric users among those refusals (a sweep of extensions):
    /// the last one, and how long the run is.
    sequence: (u64, u32),
    /// Out-of-dialog OPTIONS/REGISTER/INVITE it sent: the addresses and the users they went
    /// to, within the window; how many requests, how many were answered (final), how many 2xx.
    sweep_hosts: Distinct<IpAddr>,
    sweep_users: Distinct,
    sweep_asked: Window<3>,
    /// The run of consecutive addresses among those (an address sweep): the last, its length.
    host_sequence: (u128, u32),
    /// The current scanner episode: when it fired, and when the source last showed scanner
    /// activity (a new target, a scanner's User-Agent). A new episode begins after a window
    /// without any.
    scan: Option<(Ts, Ts)>,
    /// REGISTERs in the current second.
    reg_second: (i64, u64),
    /// REGISTERs it sent, and how many of them began a new AOR window (distinct AORs).
    registers: Window,
    last: Ts,
    /// Codes fired for this source and when (re-armed a window later).
    fired: Vec<(&'static str, Ts)>,
}

/// Sources (and peers) followed at once: past this the least recently active tenth goes.
const MAX_SOURCES: usize = 100_000;

/// Counters of the engine itself.
#[derive(Clone, Debug, Default, Serialize)]
pub struct EngineStats {
    pub alerts: BTreeMap<&'static str, u64>,
    pub cleared: u64,
    /// Watches or sources dropped because a table was full (each also an alert).
    pub evicted: u64,
}

pub struct Engine {
    pub cfg: Thresholds,
    calls: HashMap<String, Watch>,
    sources: HashMap<IpAddr, Source>,
    peers: HashMap<IpAddr, Peer>,
    /// REGISTER periods per (source, AOR), and their order of starting (for expiry).
    aors: HashMap<(IpAddr, Box<str>), AorState>,
    aor_order: VecDeque<(Ts, (IpAddr, Box<str>))>,
    /// Media lines per call: the addresses each side wants RTP at, and who announced them.
    media: HashMap<String, Vec<(SocketAddr, SocketAddr)>>,
    /// Streams per call, joined as they finish.
    streams: HashMap<String, Vec<StreamBrief>>,
    malformed: HashMap<(IpAddr, &'static str), u64>,
    settling: VecDeque<Settle>,
    out: Vec<Alert>,
    pub stats: EngineStats,
    now: Ts,
    table_full_said: bool,
    /// Any RTP seen in the capture so far (a stream of any call, or of none).
    rtp_seen: bool,
    /// Answered calls with SDP and no RTP judged before any RTP was seen (not said per call).
    no_media: u64,
    no_media_said: bool,
    /// Whether a User-Agent names a known scanner ([`scanner::Agents`]).
    agents: scanner::Agents,
}

/// The message a rate detector would cite (frame number, first line), written out only when
/// one fires: formatting it for every message cost 3 % of a signalling-heavy `alerts` run.
pub(super) struct Line<'a>(u64, &'a MsgRow);

impl Line<'_> {
    pub(super) fn owned(&self) -> (u64, String) {
        (self.0, first_line(self.1))
    }
}

fn first_line(m: &MsgRow) -> String {
    match (&m.method, m.status) {
        (Some(method), _) => request_line(method, m.cseq, m.cseq_method.as_deref()),
        (None, Some(s)) => format!(
            "{s} {} (CSeq {} {})",
            m.reason.as_deref().unwrap_or(""),
            m.cseq.unwrap_or(0),
            m.cseq_method.as_deref().unwrap_or("")
        ),
        _ => String::new(),
    }
}

/// A request's line in an alert ([`first_line`]).
fn request_line(method: &str, cseq: Option<u32>, cseq_method: Option<&str>) -> String {
    format!(
        "{method} (CSeq {} {})",
        cseq.unwrap_or(0),
        cseq_method.unwrap_or("")
    )
}

impl Engine {
    pub fn new(cfg: Thresholds) -> Engine {
        Engine {
            agents: scanner::Agents::new(&cfg.scanner_agents),
            cfg,
            calls: HashMap::new(),
            sources: HashMap::new(),
            peers: HashMap::new(),
            aors: HashMap::new(),
            aor_order: VecDeque::new(),
            media: HashMap::new(),
            streams: HashMap::new(),
            malformed: HashMap::new(),
            settling: VecDeque::new(),
            out: Vec::new(),
            stats: EngineStats::default(),
            now: Ts::ZERO,
            table_full_said: false,
            rtp_seen: false,
            no_media: 0,
            no_media_said: false,
        }
    }

    /// Alerts raised since the last call, in the order they were found.
    pub fn take(&mut self) -> Vec<Alert> {
        std::mem::take(&mut self.out)
    }

    /// Calls the engine is watching now (open calls).
    pub fn watched(&self) -> usize {
        self.calls.len()
    }

    /// The size of each of the engine's tables, for the metrics.
    pub fn table_sizes(&self) -> [(&'static str, usize); 6] {
        [
            ("watched_calls", self.calls.len()),
            ("sources", self.sources.len()),
            ("peers", self.peers.len()),
            ("registering_aors", self.aors.len()),
            ("settling_calls", self.settling.len()),
            ("call_media", self.media.len()),
        ]
    }

    #[allow(clippy::too_many_arguments)]
    fn raise(
        &mut self,
        code: &'static str,
        severity: Severity,
        ts: Ts,
        call_id: Option<&str>,
        endpoint: Option<String>,
        evidence: String,
        msg: Option<(u64, String)>,
        hint: &'static str,
    ) {
        *self.stats.alerts.entry(code).or_default() += 1;
        let (frame, message) = match msg {
            Some((f, l)) => (Some(f), Some(l)),
            None => (None, None),
        };
        self.out.push(Alert {
            code,
            severity,
            state: State::Fired,
            ts,
            call_id: call_id.map(str::to_string),
            endpoint,
            evidence,
            frame,
            message,
            hint,
        });
    }

    fn clear(&mut self, code: &'static str, ts: Ts, call_id: &str, evidence: String) {
        self.stats.cleared += 1;
        self.out.push(Alert {
            code,
            severity: Severity::Info,
            state: State::Cleared,
            ts,
            call_id: Some(call_id.to_string()),
            endpoint: None,
            evidence,
            frame: None,
            message: None,
            hint: "resolved",
        });
    }

    fn table_full(&mut self, what: &str, ts: Ts) {
        self.stats.evicted += 1;
        if !self.table_full_said {
            self.table_full_said = true;
            self.raise(
                "table-full",
                Severity::Critical,
                ts,
                None,
                None,
                format!("the {what} table is full; the oldest entries are dropped (counted)"),
                None,
                "raise the bounds or narrow the capture with --bpf; detection is incomplete",
            );
        }
    }

    /// One SIP message.
    pub fn on_msg(&mut self, m: &MsgRow) {
        self.now = self.now.max(m.ts);
        self.rates(m);
        if !m.anomalies.is_empty() {
            self.malformed(m);
        }
        let Some(cid) = m.call_id.as_deref() else {
            return;
        };
        self.nat_contact(m, cid);
        self.transactions(m, cid);
    }

    /// Sliding-window detectors keyed by source, peer and sender.
    fn rates(&mut self, m: &MsgRow) {
        let ts = m.ts;
        let src_ip = m.src.ip();
        if !self.sources.contains_key(&src_ip) && self.sources.len() >= MAX_SOURCES {
            self.evict_sources();
        }
        self.sources.entry(src_ip).or_default();
        let line = Line(m.frame, m);
        self.retransmissions(m, &line);
        // Requests: scanner user agents, REGISTER rate.
        if let Some(method) = &m.method {
            if !m.retransmission {
                self.scanner_agent(m, method, &line);
                self.sweep_request(m, method, &line);
                if method == "REGISTER" {
                    self.registration_flood(m, &line);
                }
            }
        }
        // Responses: refusals to a source (auth failures, probing), errors per peer.
        if let Some(status) = m.status {
            if m.retransmission {
                return;
            }
            let client = m.dst.ip();
            if !self.sources.contains_key(&client) && self.sources.len() >= MAX_SOURCES {
                self.evict_sources();
            }
            let c = self.sources.entry(client).or_default();
            c.last = ts;
            self.auth_failures(client, status, ts, &line);
            self.scanner_refusals(m, client, status, &line);
            self.sweep_answer(m, client, status);
            self.registration_answer(m, client, status);
            // Answers to a scanner (refusals, mostly) say nothing about the peer's health.
            let width = ns(self.cfg.window_s);
            let to_scanner = self
                .sources
                .get(&client)
                .is_some_and(|c| c.scanning_at(ts, width));
            if status >= 200 && !to_scanner {
                self.error_rate(m.src.ip(), ts, status, &line);
            }
        }
    }

    fn evict_sources(&mut self) {
        // The least recently active tenth goes.
        let mut by_age: Vec<(Ts, IpAddr)> =
            self.sources.iter().map(|(k, s)| (s.last, *k)).collect();
        by_age.sort();
        let n = (by_age.len() / 10).max(1);
        for (_, k) in by_age.into_iter().take(n) {
            self.sources.remove(&k);
        }
        let now = self.now;
        self.table_full("source", now);
    }

    /// Bounds the pipeline reached during the run (evictions per table), said at the end.
    pub fn table_limits(&mut self, ts: Ts, evicted: &[(&str, u64)]) {
        for (table, n) in evicted.iter().filter(|(_, n)| *n > 0) {
            self.stats.evicted += n;
            self.raise(
                "table-full",
                Severity::Critical,
                ts,
                None,
                None,
                format!("{n} entries evicted from the full {table} table"),
                None,
                "traffic beyond sipscope's bounds: figures for the evicted entries are partial",
            );
        }
    }

    /// Loss the capture itself reported (as it grows live, and at the end).
    pub fn capture_loss(&mut self, ts: Ts, kernel: u64, interface: u64, tcp_gaps: u64) {
        if kernel + interface > 0 {
            self.raise(
                "capture-loss",
                Severity::Critical,
                ts,
                None,
                None,
                format!("the capture dropped {kernel} more packets (kernel) and {interface} (interface)"),
                None,
                "sipscope saw less than the wire: every figure may be short; raise the buffer or narrow the BPF",
            );
        }
        if tcp_gaps > 0 {
            self.raise(
                "capture-loss",
                Severity::Warning,
                ts,
                None,
                None,
                format!("{tcp_gaps} gaps in TCP streams: SIP messages may be missing"),
                None,
                "the capture missed TCP segments (SPAN overload or snap length): messages in them are lost",
            );
        }
    }
}

/// True (and noted) when `code` may fire for this key again: never fired, or more than a window
/// ago.
fn armed(fired: &mut Vec<(&'static str, Ts)>, code: &'static str, ts: Ts, width: Nanos) -> bool {
    match fired.iter_mut().find(|(c, _)| *c == code) {
        Some((_, t)) if ts.since(*t) <= width => false,
        Some((_, t)) => {
            *t = ts;
            true
        }
        None => {
            fired.push((code, ts));
            true
        }
    }
}

#[cfg(test)]
mod tests;
