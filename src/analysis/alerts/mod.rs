//! Anomaly detectors (../shared/reference/ALERTS.md), all on capture time, so a live run and a
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

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use crate::analysis::rtp::StreamStats;
use crate::correlate::record::{CallKind, CallRecord, MsgRow, Outcome};
use crate::correlate::MediaInfo;
use crate::time::{Nanos, Ts, NANOS_PER_SEC};

mod model;

pub use model::{Alert, Severity, State, Thresholds};

fn ns(s: f64) -> Nanos {
    (s * NANOS_PER_SEC as f64) as Nanos
}

fn secs(d: Nanos) -> f64 {
    d as f64 / NANOS_PER_SEC as f64
}

/// A request waiting for its final response, on one hop.
#[derive(Debug)]
struct Pending {
    branch: String,
    method: String,
    ts: Ts,
    frame: u64,
    src: SocketAddr,
    dst: SocketAddr,
    line: String,
    fired: bool,
}

/// What the engine follows of one open call.
#[derive(Debug, Default)]
struct Watch {
    invite: Option<(Ts, u64)>,
    /// The first non-100 provisional or final answer to an INVITE: what PDD waits for.
    first_answer: Option<Ts>,
    answered: Option<Ts>,
    /// CSeq of the answered INVITE, its first 2xx, how often the 2xx came again, an ACK seen.
    ok_cseq: Option<u32>,
    ok_at: Option<(Ts, u64)>,
    ok_again: u32,
    acked: bool,
    bye: bool,
    pending: Vec<Pending>,
    /// Codes fired for this call (once per call), and whether each is still open.
    fired: Vec<(&'static str, bool)>,
    /// no-rtp and one-way-audio judged (mid-call, from the streams still flowing).
    media_checked: bool,
}

impl Watch {
    fn has(&self, code: &str) -> bool {
        self.fired.iter().any(|(c, _)| *c == code)
    }
}

/// Counts per one-second bucket over a sliding window, with their running totals (so reading
/// them costs nothing per packet). At most one bucket per second of the window.
#[derive(Debug, Default, Clone)]
struct Window {
    buckets: VecDeque<(i64, [u64; 2])>,
    total: [u64; 2],
}

impl Window {
    /// Drops the buckets that fell out of the window ending at `t`.
    fn advance(&mut self, t: Ts, width: Nanos) {
        let sec = t.0.div_euclid(NANOS_PER_SEC);
        let oldest = sec - (width / NANOS_PER_SEC).max(1) + 1;
        while let Some((_, c)) = self.buckets.front().filter(|(s, _)| *s < oldest) {
            self.total[0] -= c[0];
            self.total[1] -= c[1];
            self.buckets.pop_front();
        }
    }

    fn add(&mut self, t: Ts, idx: usize, n: u64, width: Nanos) {
        self.advance(t, width);
        let sec = t.0.div_euclid(NANOS_PER_SEC);
        self.total[idx] += n;
        match self.buckets.back_mut() {
            // A packet a little older than the newest (capture order is not strictly time
            // order) joins the newest bucket.
            Some((s, c)) if *s >= sec => c[idx] += n,
            _ => {
                let mut c = [0; 2];
                c[idx] = n;
                self.buckets.push_back((sec, c));
            }
        }
    }

    fn sum(&self) -> [u64; 2] {
        self.total
    }
}

/// Distinct names seen within a sliding window, each kept from its first sighting until it is
/// a window old, at most `cap` of them (the oldest go first): what a count of distinct targets
/// needs to reach a threshold no larger than `cap`. O(1) per sighting.
#[derive(Debug, Default)]
struct Distinct {
    order: VecDeque<(Ts, Box<str>)>,
    seen: HashMap<Box<str>, Ts>,
}

/// The longest name kept (a To user off the wire can be anything).
const NAME_MAX: usize = 64;

impl Distinct {
    /// Notes `name` at `t`; true when it was not already in the window.
    fn see(&mut self, t: Ts, name: &str, width: Nanos, cap: usize) -> bool {
        while let Some((first, _)) = self.order.front() {
            if t.since(*first) <= width && self.order.len() <= cap {
                break;
            }
            let (first, old) = self.order.pop_front().expect("front");
            if self.seen.get(&old) == Some(&first) {
                self.seen.remove(&old);
            }
        }
        let name = truncate(name, NAME_MAX);
        if self.seen.contains_key(name) {
            return false;
        }
        let name: Box<str> = name.into();
        self.seen.insert(name.clone(), t);
        self.order.push_back((t, name));
        if self.order.len() > cap {
            let (first, old) = self.order.pop_front().expect("front");
            if self.seen.get(&old) == Some(&first) {
                self.seen.remove(&old);
            }
        }
        true
    }

    fn len(&self) -> usize {
        self.seen.len()
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
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
    /// REGISTERs in the current second.
    reg_second: (i64, u64),
    /// REGISTERs it sent, and how many of them began a new AOR window (distinct AORs).
    registers: Window,
    last: Ts,
    /// Codes fired for this source and when (re-armed a window later).
    fired: Vec<(&'static str, Ts)>,
}

/// Per-peer error-rate state: final responses and errors over the sliding window, the current
/// baseline period (a window of capture time, tumbling), and the baseline: the mean error share
/// of the earlier periods that had enough answers to judge. None during the warm-up.
#[derive(Debug, Default)]
struct Peer {
    finals: Window,
    period_start: i64,
    period: [u64; 2],
    baseline: Option<f64>,
    last: Ts,
    fired: Option<Ts>,
}

/// REGISTERs for one AOR from one source in its current period (tumbling, a window long).
#[derive(Debug)]
struct AorPeriod {
    start: Ts,
    n: u64,
}

const MAX_WATCHED: usize = 1_000_000;
const MAX_SOURCES: usize = 100_000;
/// (source, AOR) pairs followed by registration-flood, within one window.
const MAX_AORS: usize = 200_000;
/// (source, anomaly) pairs remembered so that malformed fires once per pair.
const MAX_MALFORMED: usize = 100_000;
/// The most distinct users a source's refusals are remembered for (bounds scanner_targets).
const MAX_REFUSED: usize = 1024;

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
    aors: HashMap<(IpAddr, Box<str>), AorPeriod>,
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
}

/// A closed call waiting for its streams before the media checks.
#[derive(Debug)]
struct Settle {
    due: Ts,
    call_id: String,
    answered: bool,
    /// When the 2xx came (from the watch, else from the record's talk time).
    answer_at: Ts,
    talk: f64,
    bye: Option<Ts>,
    rtp_stopped: bool,
    /// no-rtp and one-way-audio were already judged while the call was up.
    media_checked: bool,
}

/// How long after a call's last message its streams may still arrive: RTP idle (60 s) plus the
/// workers' one-second sweep, with a second to spare.
const SETTLE: Nanos = 62 * NANOS_PER_SEC;

/// Progress reports of live streams come every 5 s of capture time; a call is judged this long
/// after its `media_after_s` mark, when every stream that began by then has been reported.
pub const MEDIA_DECIDE: Nanos = 10 * NANOS_PER_SEC;
/// The period of those reports.
pub const MEDIA_PROGRESS: Nanos = 5 * NANOS_PER_SEC;

#[derive(Clone, Debug)]
struct StreamBrief {
    dst: SocketAddr,
    last: Ts,
}

fn first_line(m: &MsgRow) -> String {
    match (&m.method, m.status) {
        (Some(method), _) => format!(
            "{method} (CSeq {} {})",
            m.cseq.unwrap_or(0),
            m.cseq_method.as_deref().unwrap_or("")
        ),
        (None, Some(s)) => format!(
            "{s} {} (CSeq {} {})",
            m.reason.as_deref().unwrap_or(""),
            m.cseq.unwrap_or(0),
            m.cseq_method.as_deref().unwrap_or("")
        ),
        _ => String::new(),
    }
}

impl Engine {
    pub fn new(cfg: Thresholds) -> Engine {
        Engine {
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
            for a in &m.anomalies {
                let key = (m.src.ip(), *a);
                if !self.malformed.contains_key(&key) && self.malformed.len() >= MAX_MALFORMED {
                    // Not remembered, so not said: it could not be said only once.
                    self.table_full("malformed source", m.ts);
                    continue;
                }
                let n = self.malformed.entry(key).or_default();
                *n += 1;
                if *n == 1 {
                    let code = *a;
                    self.raise(
                        "malformed",
                        Severity::Warning,
                        m.ts,
                        m.call_id.as_deref(),
                        Some(m.src.to_string()),
                        format!("{code} in a message from {}", m.src.ip()),
                        Some((m.frame, first_line(m))),
                        "a broken or non-compliant stack; later ones from this source are counted, not repeated",
                    );
                }
            }
        }
        let Some(cid) = m.call_id.clone() else { return };
        // The sender's own Contact: a request's, or a dialog-creating answer's (a registrar's
        // answer lists the client's bindings, not its own address).
        let own_contact = m.method.is_some() || m.cseq_method.as_deref() == Some("INVITE");
        if let Some(ip) = m
            .contact_ip
            .filter(|ip| own_contact && private(*ip) && public(m.src.ip()))
        {
            let w = self.calls.entry(cid.clone()).or_default();
            if !w.has("sdp-nat-mismatch") {
                w.fired.push(("sdp-nat-mismatch", false));
                self.raise(
                    "sdp-nat-mismatch",
                    Severity::Warning,
                    m.ts,
                    Some(&cid),
                    Some(m.src.to_string()),
                    format!("Contact at the private address {ip}, sent from {}", m.src.ip()),
                    Some((m.frame, first_line(m))),
                    "a UA behind NAT without an SBC or ALG fixing its Contact: in-dialog requests will not reach it",
                );
            }
        }
        if !self.calls.contains_key(&cid) && self.calls.len() >= MAX_WATCHED {
            self.table_full("call watch", m.ts);
            return;
        }
        let w = self.calls.entry(cid.clone()).or_default();
        let cseq_method = m.cseq_method.as_deref().unwrap_or("");
        let mut cleared: Vec<(&'static str, String)> = Vec::new();
        let mut expired: Vec<Alert> = Vec::new();
        let t_ack = ns(self.cfg.ack_timeout_s);
        match (&m.method, m.status) {
            (Some(method), _) => {
                if m.retransmission {
                    return;
                }
                match method.as_str() {
                    "INVITE" if m.to_tag.is_none() && w.invite.is_none() => {
                        w.invite = Some((m.ts, m.frame));
                    }
                    "ACK" if w.ok_cseq.is_some() && w.ok_cseq == m.cseq && !w.acked => {
                        w.acked = true;
                        if let Some((ok_ts, frame)) = w.ok_at {
                            if w.ok_again > 0 && m.ts.since(ok_ts) >= t_ack && !w.has("missing-ack")
                            {
                                w.fired.push(("missing-ack", true));
                                expired.push(ack_alert(&cid, ok_ts, frame, w.ok_again, t_ack));
                            }
                        }
                        if let Some(f) = w.fired.iter_mut().find(|f| f.0 == "missing-ack" && f.1) {
                            f.1 = false;
                            cleared.push(("missing-ack", "the ACK came late".into()));
                        }
                    }
                    "BYE" => w.bye = true,
                    _ => {}
                }
                if method != "ACK" {
                    if let Some(b) = &m.branch {
                        if w.pending.len() < 64
                            && !w.pending.iter().any(|p| &p.branch == b && p.src == m.src)
                        {
                            w.pending.push(Pending {
                                branch: b.clone(),
                                method: method.clone(),
                                ts: m.ts,
                                frame: m.frame,
                                src: m.src,
                                dst: m.dst,
                                line: first_line(m),
                                fired: false,
                            });
                        }
                    }
                }
            }
            (None, Some(status)) => {
                if cseq_method == "INVITE" && status > 100 && w.first_answer.is_none() {
                    w.first_answer = Some(m.ts);
                }
                if cseq_method == "INVITE" && (200..300).contains(&status) {
                    // Only a copy on the same hop is the 2xx sent again (a proxy relaying it
                    // to the caller is the next hop, not a retransmission).
                    if w.ok_at.is_none() {
                        w.ok_at = Some((m.ts, m.frame));
                        w.ok_cseq = m.cseq;
                        w.answered = Some(m.ts);
                    } else if m.retransmission && w.ok_cseq == m.cseq {
                        w.ok_again += 1;
                    }
                }
                // On the reverse of the request's hop, a final response ends the wait; for an
                // INVITE any response does: Timer B runs only until the first one (RFC 3261
                // §17.1.1.2, the Calling state), a ringing phone may ring for minutes.
                if status >= 200 || cseq_method == "INVITE" {
                    if let Some(i) = w.pending.iter().position(|p| {
                        Some(&p.branch) == m.branch.as_ref()
                            && p.src == m.dst
                            && p.dst == m.src
                            && (status >= 200 || p.method == "INVITE")
                    }) {
                        let mut p = w.pending.remove(i);
                        let late = m.ts.since(p.ts) >= ns(self.cfg.transaction_timeout_s);
                        if late && !p.fired {
                            // Its timer ran out before this answer, whether or not a tick saw it.
                            p.fired = true;
                            let a = p_alert(&cid, &p, ns(self.cfg.transaction_timeout_s));
                            if !w.has(a.code) {
                                w.fired.push((a.code, true));
                                expired.push(a);
                            }
                        }
                        if p.fired {
                            let code = if p.method == "INVITE" {
                                "invite-timeout"
                            } else {
                                "non-invite-timeout"
                            };
                            cleared.push((
                                code,
                                format!(
                                    "{status} came {:.1} s after the {}",
                                    secs(m.ts.since(p.ts)),
                                    p.method
                                ),
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
        for a in expired {
            *self.stats.alerts.entry(a.code).or_default() += 1;
            self.out.push(a);
        }
        for (code, why) in cleared {
            self.clear(code, m.ts, &cid, why);
        }
    }

    /// Sliding-window detectors keyed by source, peer and sender.
    fn rates(&mut self, m: &MsgRow) {
        let width = ns(self.cfg.window_s);
        let ts = m.ts;
        let src_ip = m.src.ip();
        // Sender retransmission share.
        if !self.sources.contains_key(&src_ip) && self.sources.len() >= MAX_SOURCES {
            self.evict_sources();
        }
        let s = self.sources.entry(src_ip).or_default();
        s.last = ts;
        s.sent.add(ts, 0, 1, width);
        if m.retransmission {
            s.sent.add(ts, 1, 1, width);
        }
        let [sent, resent] = s.sent.sum();
        let storm = sent >= self.cfg.retransmission_min
            && resent as f64 * 100.0 / sent as f64 > self.cfg.retransmission_pct;
        let mut raise: Vec<(&'static str, Severity, String, Option<&str>, &'static str)> =
            Vec::new();
        if storm && armed(&mut s.fired, "retransmission-storm", ts, width) {
            raise.push((
                "retransmission-storm",
                Severity::Warning,
                format!(
                    "{resent} of {sent} messages from {src_ip} in {:.0} s were retransmissions ({:.1} %)",
                    self.cfg.window_s,
                    resent as f64 * 100.0 / sent as f64
                ),
                None,
                "the peer is not answering or answers are lost: check reachability, NAT and overload",
            ));
        }
        // Requests: scanner user agents, REGISTER rate.
        if let Some(method) = &m.method {
            if !m.retransmission {
                if let Some(ua) = &m.user_agent {
                    let lower = ua.to_ascii_lowercase();
                    if self
                        .cfg
                        .scanner_agents
                        .iter()
                        .any(|a| lower.contains(&a.to_ascii_lowercase()))
                        && armed(&mut s.fired, "scanner", ts, width)
                    {
                        raise.push((
                            "scanner",
                            Severity::Critical,
                            format!("{method} from {src_ip} with User-Agent {ua:?}"),
                            m.call_id.as_deref(),
                            "a known SIP scanner: block the source, check that no extension has a weak password",
                        ));
                    }
                }
                if method == "REGISTER" {
                    if let Some(ev) = self.registration(src_ip, m.to_user.as_deref(), ts) {
                        raise.push((
                            "registration-flood",
                            Severity::Warning,
                            ev,
                            None,
                            "a misconfigured client or a flood: check its expiry and retry timers",
                        ));
                    }
                }
            }
        }
        let evidence_line = (m.frame, first_line(m));
        let call = m.call_id.clone();
        for (code, sev, ev, cid, hint) in raise {
            self.raise(
                code,
                sev,
                ts,
                cid.or(call.as_deref()).filter(|_| code == "scanner"),
                Some(src_ip.to_string()),
                ev,
                Some(evidence_line.clone()),
                hint,
            );
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
            let mut raise2: Vec<(&'static str, Severity, String, &'static str)> = Vec::new();
            match status {
                200..=299 => c.auth_fail.clear(),
                401 | 403 | 407 => {
                    c.auth_fail.push_back(ts);
                    while c.auth_fail.front().is_some_and(|t| ts.since(*t) > width) {
                        c.auth_fail.pop_front();
                    }
                    let n = c.auth_fail.len() as u64;
                    if n >= self.cfg.auth_failures
                        && armed(&mut c.fired, "auth-failures", ts, width)
                    {
                        raise2.push((
                            "auth-failures",
                            Severity::Critical,
                            format!(
                                "{n} × 401/403/407 to {client} in {:.0} s without a success",
                                self.cfg.window_s
                            ),
                            "a wrong password or a brute-force attempt: check the account and the source",
                        ));
                    }
                }
                _ => {}
            }
            // scanner: refused for many users while almost nothing it asks for succeeds.
            // Only final answers to requests count (not a callee's answer to a proxy's CANCEL
            // or BYE, whose user is the same as its INVITE's).
            if status >= 200 {
                c.answers.add(ts, 0, 1, width);
                if (200..300).contains(&status) {
                    c.answers.add(ts, 1, 1, width);
                }
            }
            if matches!(status, 401 | 403 | 404 | 407 | 484) {
                if let Some(user) = &m.to_user {
                    let cap = (self.cfg.scanner_targets as usize).clamp(1, MAX_REFUSED);
                    if c.refused.see(ts, user, width, cap) {
                        c.sequence = match (user.parse::<u64>(), c.sequence) {
                            (Ok(n), (last, run)) if run > 0 && n == last.wrapping_add(1) => {
                                (n, run + 1)
                            }
                            (Ok(n), _) => (n, 1),
                            (Err(_), _) => (0, 0),
                        };
                    }
                    let n = c.refused.len() as u64;
                    let [finals, ok] = c.answers.sum();
                    let ok_pct = ok as f64 * 100.0 / finals.max(1) as f64;
                    if n >= (self.cfg.scanner_targets).min(cap as u64)
                        && ok_pct <= self.cfg.scanner_success_pct
                        && armed(&mut c.fired, "scanner", ts, width)
                    {
                        let run = c.sequence.1;
                        let seq = if run >= 3 {
                            format!(
                                ", the last {run} in sequence ({}-{})",
                                c.sequence.0 + 1 - u64::from(run),
                                c.sequence.0
                            )
                        } else {
                            String::new()
                        };
                        raise2.push((
                            "scanner",
                            Severity::Critical,
                            format!(
                                "{client} was refused for {n} different users in {:.0} s{seq}; {ok} of its {finals} final answers succeeded ({ok_pct:.0} %)",
                                self.cfg.window_s
                            ),
                            "someone is probing for extensions: block the source",
                        ));
                    }
                }
            }
            for (code, sev, ev, hint) in raise2 {
                self.raise(
                    code,
                    sev,
                    ts,
                    None,
                    Some(client.to_string()),
                    ev,
                    Some(evidence_line.clone()),
                    hint,
                );
            }
            if status >= 200 {
                self.error_rate(m.src.ip(), ts, status, &evidence_line);
            }
        }
    }

    /// registration-flood, on a REGISTER from `src` for the AOR `user`: one AOR registered far
    /// faster than any expiry allows, or a source sending many more REGISTERs than it has AORs
    /// (a front-end that registers thousands of users sends two each: the challenge's and the
    /// answer's). Returns the evidence when it fires.
    fn registration(&mut self, src: IpAddr, user: Option<&str>, ts: Ts) -> Option<String> {
        let width = ns(self.cfg.window_s);
        // Periods a window old are over: forget them, oldest first.
        while let Some((start, _)) = self.aor_order.front() {
            if ts.since(*start) <= width {
                break;
            }
            let (start, key) = self.aor_order.pop_front().expect("front");
            if self.aors.get(&key).is_some_and(|p| p.start == start) {
                self.aors.remove(&key);
            }
        }
        let key = (
            src,
            Box::<str>::from(truncate(user.unwrap_or(""), NAME_MAX)),
        );
        let mut new_aor = false;
        let n = match self.aors.get_mut(&key) {
            Some(p) if ts.since(p.start) <= width => {
                p.n += 1;
                p.n
            }
            // A period over but not yet expired (capture time ran backwards): a new one.
            Some(p) => {
                *p = AorPeriod { start: ts, n: 1 };
                new_aor = true;
                self.aor_order.push_back((ts, key.clone()));
                1
            }
            None => {
                new_aor = true;
                self.aors.insert(key.clone(), AorPeriod { start: ts, n: 1 });
                self.aor_order.push_back((ts, key.clone()));
                1
            }
        };
        // Every period has its entry in the order, so bounding the order bounds both: the
        // oldest period goes (counted).
        if self.aor_order.len() > MAX_AORS {
            if let Some((start, old)) = self.aor_order.pop_front() {
                if self.aors.get(&old).is_some_and(|p| p.start == start) {
                    self.aors.remove(&old);
                }
            }
            self.table_full("registering AOR", ts);
        }
        let s = self.sources.get_mut(&src)?;
        s.registers.add(ts, 0, 1, width);
        if new_aor {
            s.registers.add(ts, 1, 1, width);
        }
        let sec = ts.0.div_euclid(NANOS_PER_SEC);
        if s.reg_second.0 == sec {
            s.reg_second.1 += 1;
        } else {
            s.reg_second = (sec, 1);
        }
        let [regs, aors] = s.registers.sum();
        let per_aor = regs as f64 / aors.max(1) as f64;
        let window = self.cfg.window_s;
        let evidence = if n > self.cfg.registration_aor_max {
            format!(
                "{n} REGISTERs for the AOR {:?} from {src} in {window:.0} s",
                key.1
            )
        } else if s.reg_second.1 > self.cfg.registration_rate
            && per_aor > self.cfg.registration_per_aor
        {
            format!(
                "{} REGISTERs from {src} within one second; {regs} in {window:.0} s for {aors} AORs ({per_aor:.1} each)",
                s.reg_second.1
            )
        } else {
            return None;
        };
        armed(&mut s.fired, "registration-flood", ts, width).then_some(evidence)
    }

    /// error-spike: final responses ≥ 400 (challenges and 487 apart) from one peer over the
    /// sliding window, against its baseline: the mean share of its earlier periods (tumbling,
    /// a window long) that had at least `error_spike_min` answers. Until the first such period
    /// ends there is no baseline, and only a share of `error_spike_cold_pct` is a spike; after
    /// it, the share must be `error_spike_factor` times the baseline and `error_spike_margin_pct`
    /// points above it, so a steady failure ratio never is one.
    fn error_rate(&mut self, peer_ip: IpAddr, ts: Ts, status: u16, line: &(u64, String)) {
        let width = ns(self.cfg.window_s);
        if !self.peers.contains_key(&peer_ip) && self.peers.len() >= MAX_SOURCES {
            self.table_full("peer", ts);
            return;
        }
        let min = self.cfg.error_spike_min;
        let p = self.peers.entry(peer_ip).or_default();
        p.last = ts;
        let sec = ts.0.div_euclid(NANOS_PER_SEC);
        let wsec = (width / NANOS_PER_SEC).max(1);
        if p.period_start == 0 {
            p.period_start = sec;
        }
        if sec - p.period_start >= wsec {
            // A period closed: fold its share into the baseline, when it had enough answers.
            let [n, e] = p.period;
            if n >= min.max(1) {
                let share = e as f64 / n as f64;
                p.baseline = Some(p.baseline.map_or(share, |b| 0.8 * b + 0.2 * share));
            }
            p.period = [0, 0];
            p.period_start = sec;
        }
        let error = status >= 400 && !matches!(status, 401 | 407 | 487);
        p.period[0] += 1;
        p.finals.add(ts, 0, 1, width);
        if error {
            p.period[1] += 1;
            p.finals.add(ts, 1, 1, width);
        }
        let [n, e] = p.finals.sum();
        if !error || e < min {
            return;
        }
        let share = e as f64 / n as f64;
        let spike = match p.baseline {
            Some(b) => {
                share > self.cfg.error_spike_factor * b
                    && (share - b) * 100.0 >= self.cfg.error_spike_margin_pct
            }
            None => share * 100.0 >= self.cfg.error_spike_cold_pct,
        };
        if spike && p.fired.is_none_or(|t| ts.since(t) > width) {
            p.fired = Some(ts);
            let base = match p.baseline {
                Some(b) => format!("baseline {:.0} %", b * 100.0),
                None => format!(
                    "no baseline yet: {:.0} % or more is a spike",
                    self.cfg.error_spike_cold_pct
                ),
            };
            self.raise(
                "error-spike",
                Severity::Critical,
                ts,
                None,
                Some(peer_ip.to_string()),
                format!(
                    "{e} of {n} final answers from {peer_ip} were errors ({:.0} %, {base})",
                    share * 100.0
                ),
                Some(line.clone()),
                "the peer is failing calls: check its health, capacity and routes",
            );
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

    /// An SDP media line: where one side of a call wants its RTP.
    pub fn on_media(&mut self, m: &MediaInfo) {
        if m.addr.port() == 0 || m.addr.ip().is_unspecified() {
            return;
        }
        // A private address in SDP, sent from a public one: the far end will send RTP nowhere.
        if private(m.addr.ip()) && public(m.announced_by.ip()) {
            let w = self.calls.entry(m.call_id.clone()).or_default();
            if !w.has("sdp-nat-mismatch") {
                w.fired.push(("sdp-nat-mismatch", false));
                self.raise(
                    "sdp-nat-mismatch",
                    Severity::Warning,
                    m.ts,
                    Some(&m.call_id),
                    Some(m.announced_by.to_string()),
                    format!(
                        "SDP from {} asks for RTP at the private address {}",
                        m.announced_by.ip(),
                        m.addr
                    ),
                    Some((m.frame, format!("SDP c=/m= {}", m.addr))),
                    "a UA behind NAT without an SBC or ALG fixing its SDP: expect one-way or no audio",
                );
            }
        }
        let v = self.media.entry(m.call_id.clone()).or_default();
        if v.len() < 16 && !v.contains(&(m.addr, m.announced_by)) {
            v.push((m.addr, m.announced_by));
        }
    }

    /// A stream still flowing, tied to its call: what mid-call media checks go by.
    pub fn on_live_stream(&mut self, call_id: &str, dst: SocketAddr, last: Ts) {
        if !self.calls.contains_key(call_id) {
            return;
        }
        let v = self.streams.entry(call_id.to_string()).or_default();
        if let Some(s) = v.iter_mut().find(|s| s.dst == dst) {
            s.last = s.last.max(last);
        } else if v.len() < 16 {
            v.push(StreamBrief { dst, last });
        }
    }

    /// Mid-call media checks: an answered call that has talked `media_after_s` is judged once
    /// the progress reports that could show its RTP are in (`MEDIA_DECIDE` later). Run it only
    /// after a batch's outputs are all taken in (on ticks), so the result is the same live and
    /// on replay.
    pub fn decide_media(&mut self, now: Ts) {
        let after = ns(self.cfg.media_after_s);
        let mut due: Vec<(String, Ts)> = self
            .calls
            .iter()
            .filter(|(_, w)| !w.media_checked && !w.bye)
            .filter_map(|(c, w)| w.answered.map(|a| (c.clone(), a)))
            .filter(|(_, a)| now.since(*a) >= after + MEDIA_DECIDE)
            .collect();
        // The map's order changes from run to run: judge in the order the alerts are dated.
        due.sort_by(|(c, a), (d, b)| (a, c).cmp(&(b, d)));
        for (cid, a) in due {
            if let Some(w) = self.calls.get_mut(&cid) {
                w.media_checked = true;
            }
            let media = self.media.get(&cid).cloned().unwrap_or_default();
            if media.is_empty() {
                continue;
            }
            let streams = self.streams.get(&cid).cloned().unwrap_or_default();
            let talk = secs(now.since(a));
            self.direction_check(&cid, a.saturating_add(after), talk, &media, &streams);
        }
    }

    /// A finished RTP stream, tied to its call (or not).
    pub fn on_stream(&mut self, s: &StreamStats) {
        let t = &self.cfg;
        let mut bad = Vec::new();
        let loss = if s.expected > 0 {
            s.missing() as f64 * 100.0 / s.expected as f64
        } else {
            0.0
        };
        if loss > t.max_loss_pct {
            bad.push(format!("loss {loss:.1} % > {} %", t.max_loss_pct));
        }
        if let Some(j) = s.max_jitter_ms.filter(|j| *j > t.max_jitter_ms) {
            bad.push(format!("max jitter {j:.1} ms > {} ms", t.max_jitter_ms));
        }
        if let Some(m) = s.mos.filter(|m| *m < t.min_mos) {
            bad.push(format!("MOS {m:.2} < {}", t.min_mos));
        }
        if !bad.is_empty() {
            self.raise(
                "poor-quality",
                Severity::Warning,
                s.last,
                s.call_id.as_deref(),
                Some(format!("{} -> {}", s.src, s.dst)),
                format!("RTP {:#010x}: {}", s.ssrc, bad.join(", ")),
                None,
                "check the path for congestion or a bad link (loss), and queueing (jitter)",
            );
        }
        let Some(cid) = s.call_id.clone() else { return };
        // A pause inside the stream while the dialog was up.
        if s.max_delta_ms > self.cfg.rtp_gap_s * 1000.0 {
            let w = self.calls.get(&cid);
            let held = w.is_some_and(|w| w.has("rtp-stopped"));
            if !held {
                if let Some(w) = self.calls.get_mut(&cid) {
                    w.fired.push(("rtp-stopped", false));
                }
                self.raise(
                    "rtp-stopped",
                    Severity::Warning,
                    s.last,
                    Some(&cid),
                    Some(format!("{} -> {}", s.src, s.dst)),
                    format!(
                        "RTP {:#010x} paused {:.1} s mid-stream",
                        s.ssrc,
                        s.max_delta_ms / 1000.0
                    ),
                    None,
                    "media stopped while the call was up: hold without SDP, a media server or NAT timeout",
                );
            }
        }
        let v = self.streams.entry(cid.clone()).or_default();
        if v.len() < 16 {
            v.push(StreamBrief {
                dst: s.dst,
                last: s.last,
            });
        }
        // Media gone for good while the call is up and no BYE: the stream ended by going idle.
        let gone = ns(self.cfg.media_gone_s);
        let now = self.now;
        if let Some(w) = self.calls.get_mut(&cid) {
            if w.answered.is_some() && !w.bye && now.since(s.last) >= gone && !w.has("missing-bye")
            {
                w.fired.push(("missing-bye", true));
                let at = s.last.saturating_add(gone);
                self.raise(
                    "missing-bye",
                    Severity::Warning,
                    at,
                    Some(&cid),
                    None,
                    format!(
                        "answered call, media stopped {:.0} s ago, no BYE",
                        self.cfg.media_gone_s
                    ),
                    None,
                    "the BYE was lost or never sent: the call may still be billed and hold a channel",
                );
            }
        }
    }

    /// Capture time has reached `now`: fire the timers that ran out.
    pub fn tick(&mut self, now: Ts) {
        self.now = self.now.max(now);
        let now = self.now;
        let t_tx = ns(self.cfg.transaction_timeout_s);
        let t_ack = ns(self.cfg.ack_timeout_s);
        let t_pdd = ns(self.cfg.long_pdd_s);
        let max_call = ns(self.cfg.max_call_s);
        let mut raise: Vec<(String, Alert)> = Vec::new();
        for (cid, w) in self.calls.iter_mut() {
            for p in w.pending.iter_mut().filter(|p| !p.fired) {
                if now.since(p.ts) >= t_tx {
                    p.fired = true;
                    let a = p_alert(cid, p, t_tx);
                    if w.fired.iter().any(|f| f.0 == a.code) {
                        continue;
                    }
                    w.fired.push((a.code, true));
                    raise.push((cid.clone(), a));
                }
            }
            if let Some((ok_ts, frame)) = w.ok_at {
                if !w.acked && w.ok_again > 0 && now.since(ok_ts) >= t_ack && !w.has("missing-ack")
                {
                    w.fired.push(("missing-ack", true));
                    raise.push((cid.clone(), ack_alert(cid, ok_ts, frame, w.ok_again, t_ack)));
                }
            }
            if let Some((inv, frame)) = w.invite {
                // Decided by when the first answer came, not by when this tick runs.
                let waited = w.first_answer.unwrap_or(now).since(inv);
                if waited >= t_pdd && !w.has("long-pdd") {
                    w.fired.push(("long-pdd", false));
                    raise.push((
                        cid.clone(),
                        Alert {
                            code: "long-pdd",
                            severity: Severity::Warning,
                            state: State::Fired,
                            ts: inv.saturating_add(t_pdd),
                            call_id: Some(cid.clone()),
                            endpoint: None,
                            evidence: match w.first_answer {
                                Some(_) => format!(
                                    "the first answer to the INVITE came after {:.1} s (> {:.0} s)",
                                    secs(waited),
                                    secs(t_pdd)
                                ),
                                None => {
                                    format!("no answer to the INVITE {:.0} s after it", secs(t_pdd))
                                }
                            },
                            frame: Some(frame),
                            message: None,
                            hint: "slow routing, DNS, or a far end that does not send 180/183",
                        },
                    ));
                }
            }
            if max_call > 0 {
                if let Some(a) = w.answered {
                    if !w.bye && now.since(a) >= max_call && !w.has("missing-bye") {
                        w.fired.push(("missing-bye", true));
                        raise.push((
                            cid.clone(),
                            Alert {
                                code: "missing-bye",
                                severity: Severity::Warning,
                                state: State::Fired,
                                ts: a.saturating_add(max_call),
                                call_id: Some(cid.clone()),
                                endpoint: None,
                                evidence: format!(
                                    "answered call up for {:.0} s without a BYE",
                                    secs(max_call)
                                ),
                                frame: None,
                                message: None,
                                hint: "a hung call: the BYE was lost or never sent",
                            },
                        ));
                    }
                }
            }
        }
        raise.sort_by_key(|(c, a)| (a.ts, c.clone()));
        for (_, a) in raise {
            *self.stats.alerts.entry(a.code).or_default() += 1;
            self.out.push(a);
        }
    }

    /// A call closed (its record): the media checks that need the whole call, then forget it.
    pub fn on_call(&mut self, c: &CallRecord) {
        let w = self.calls.remove(&c.call_id);
        // A call closes 32 s after it ends, its streams 60 s after their last packet: the media
        // checks wait until the streams are in (or the input ends).
        self.settling.push_back(Settle {
            due: c.end.saturating_add(SETTLE),
            call_id: c.call_id.clone(),
            answered: c.kind == CallKind::Invite && c.outcome == Some(Outcome::Answered),
            // The same instant the mid-call check uses, so both give the same alert time.
            answer_at: w.as_ref().and_then(|w| w.answered).unwrap_or_else(|| {
                Ts::from_secs_f64(c.end.secs_f64() - c.talk_time.unwrap_or(0.0))
            }),
            talk: c.talk_time.unwrap_or(0.0),
            bye: c.detail.as_ref().and_then(|d| d.bye),
            rtp_stopped: w.as_ref().is_some_and(|w| w.has("rtp-stopped")),
            media_checked: w.as_ref().is_some_and(|w| w.media_checked),
        });
    }

    /// Runs the media checks of the closed calls whose streams are all in by `now` (all of them
    /// when `all`); returns their Call-IDs.
    pub fn settle(&mut self, now: Ts, all: bool) -> Vec<String> {
        let mut done = Vec::new();
        while let Some(s) = self.settling.front() {
            if !all && s.due > now {
                break;
            }
            let s = self.settling.pop_front().expect("front");
            self.media_checks(&s);
            done.push(s.call_id);
        }
        done
    }

    /// no-rtp and one-way-audio: with SDP from both sides, RTP reached neither or only one.
    fn direction_check(
        &mut self,
        call_id: &str,
        at: Ts,
        talk: f64,
        media: &[(SocketAddr, SocketAddr)],
        streams: &[StreamBrief],
    ) {
        // Each media address belongs to whoever announced it first: through a proxy the same
        // SDP is announced again by the proxy on the next hop, which is not another side.
        let mut owner: Vec<(SocketAddr, SocketAddr)> = Vec::new();
        for (addr, by) in media {
            if !owner.iter().any(|(a, _)| a == addr) {
                owner.push((*addr, *by));
            }
        }
        let sides: Vec<SocketAddr> = {
            let mut v: Vec<SocketAddr> = owner.iter().map(|(_, by)| *by).collect();
            v.sort();
            v.dedup();
            v
        };
        if streams.is_empty() {
            self.raise(
                "no-rtp",
                Severity::Critical,
                at,
                Some(call_id),
                None,
                format!(
                    "answered, {talk:.1} s of talk, SDP offered media at {} and no RTP was seen",
                    media
                        .iter()
                        .map(|(a, _)| a.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None,
                "media never flowed: firewall, NAT (private address in SDP) or a codec mismatch",
            );
            return;
        }
        // One-way: both sides announced where they want RTP, and only one of them got any.
        if sides.len() >= 2 {
            let got: Vec<SocketAddr> = sides
                .iter()
                .filter(|side| {
                    owner
                        .iter()
                        .filter(|(_, by)| by == *side)
                        .any(|(addr, _)| streams.iter().any(|s| s.dst == *addr))
                })
                .copied()
                .collect();
            if got.len() == 1 {
                let deaf: Vec<String> = sides
                    .iter()
                    .filter(|s| !got.contains(s))
                    .map(|s| s.to_string())
                    .collect();
                self.raise(
                    "one-way-audio",
                    Severity::Critical,
                    at,
                    Some(call_id),
                    None,
                    format!(
                        "answered, {talk:.1} s of talk, RTP reached {} but none reached {}",
                        got[0],
                        deaf.join(", ")
                    ),
                    None,
                    "one direction is blocked: NAT, a firewall pinhole, or a wrong c= address in SDP",
                );
            }
        }
    }

    fn media_checks(&mut self, c: &Settle) {
        let media = self.media.remove(&c.call_id).unwrap_or_default();
        let streams = self.streams.remove(&c.call_id).unwrap_or_default();
        if !c.answered {
            return;
        }
        let talk = c.talk;
        if talk < self.cfg.media_after_s || media.is_empty() {
            return;
        }
        let at = c.answer_at.saturating_add(ns(self.cfg.media_after_s));
        if !c.media_checked {
            self.direction_check(&c.call_id, at, talk, &media, &streams);
        }
        // A stream that stopped well before the BYE, the dialog still up.
        if let (Some(bye), false) = (c.bye, c.rtp_stopped) {
            let gap = ns(self.cfg.rtp_gap_s);
            if let Some(s) = streams
                .iter()
                .filter(|s| bye.since(s.last) > gap)
                .min_by_key(|s| s.last)
            {
                self.raise(
                    "rtp-stopped",
                    Severity::Warning,
                    s.last.saturating_add(gap),
                    Some(&c.call_id),
                    Some(s.dst.to_string()),
                    format!(
                        "RTP to {} stopped {:.1} s before the BYE",
                        s.dst,
                        secs(bye.since(s.last))
                    ),
                    None,
                    "media stopped while the call was up: hold without SDP, a media server or NAT timeout",
                );
            }
        }
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

fn p_alert(cid: &str, p: &Pending, t_tx: Nanos) -> Alert {
    let invite = p.method == "INVITE";
    Alert {
        code: if invite {
            "invite-timeout"
        } else {
            "non-invite-timeout"
        },
        severity: if invite {
            Severity::Critical
        } else {
            Severity::Warning
        },
        state: State::Fired,
        ts: p.ts.saturating_add(t_tx),
        call_id: Some(cid.to_string()),
        endpoint: Some(p.dst.to_string()),
        evidence: format!(
            "{} from {} to {} had no final response in {:.0} s (Timer {})",
            p.method,
            p.src,
            p.dst,
            secs(t_tx),
            if invite { "B" } else { "F" }
        ),
        frame: Some(p.frame),
        message: Some(p.line.clone()),
        hint: if invite {
            "the next hop never answered: is it up, reachable, listening on that transport?"
        } else {
            "the request was never answered: check the next hop's health and reachability"
        },
    }
}

fn ack_alert(cid: &str, ok_ts: Ts, frame: u64, again: u32, t_ack: Nanos) -> Alert {
    Alert {
        code: "missing-ack",
        severity: Severity::Critical,
        state: State::Fired,
        ts: ok_ts.saturating_add(t_ack),
        call_id: Some(cid.to_string()),
        endpoint: None,
        evidence: format!(
            "the 2xx was sent {} times and no ACK came in {:.0} s",
            again + 1,
            secs(t_ack)
        ),
        frame: Some(frame),
        message: None,
        hint: "the caller never confirmed: NAT or Record-Route trouble on the ACK's path; the callee will hang up",
    }
}

/// RFC 1918, RFC 6598 (carrier-grade NAT) and unique-local IPv6 addresses.
fn private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private() || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// A globally routable source: not private, loopback, link-local or unspecified.
fn public(ip: IpAddr) -> bool {
    !private(ip)
        && !ip.is_loopback()
        && !ip.is_unspecified()
        && match ip {
            IpAddr::V4(v4) => !v4.is_link_local() && !v4.is_broadcast() && !v4.is_documentation(),
            IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
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
