//! Signalling statistics (docs/METRICS.md): the RFC 6076 metrics, the operator KPIs
//! (ASR, NER, ACD, PDD), calls by outcome, messages by method and status, transaction response
//! times, retransmissions per endpoint, load over time, registrations, and malformed messages by
//! anomaly (what the SIP parser found wrong, whole capture).
//!
//! Call and registration records arrive one at a time from the sink ([`Stats::add_call`],
//! [`Stats::add_reg`]); each is folded into counters under its cut key (peer, direction, time
//! bucket) and its delays go into a [`Sample`]: exact percentiles up to 8,192 delays per group, log
//! buckets within ±0.5 % past that (said in the notes table). Nothing of a call is kept beyond
//! those numbers. [`Stats::tables`] turns the result into polars DataFrames, one per
//! table; the packet path never sees polars.
//!
//! Counting rules (METRICS.md): only *initial* INVITEs count, once per call — a re-INVITE carries a
//! To tag and a retransmission is not a new attempt, and an INVITE challenged with 401/407 and sent
//! again is the same attempt. Calls still in progress when the capture ends are left out of every
//! ratio (their outcome is unknown) and counted apart. Percentiles are nearest-rank.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use polars::prelude::PolarsResult;

use crate::correlate::call::TIMER_B;
use crate::correlate::record::{CallDetail, CallKind, CallRecord, Outcome, RegRecord, Text};
use crate::correlate::registration::TIMER_F;
use crate::output::frame::{Frame, Kind, Tab, Value};
use crate::time::{Nanos, Ts, NANOS_PER_SEC};

use super::cuts::Key;
pub use super::cuts::{Cuts, Net, PeerMap};
use super::load::Load;
use super::sample::{Sample, ALPHA, EXACT};

pub(super) fn secs(d: Nanos) -> f64 {
    d as f64 / NANOS_PER_SEC as f64
}

/// Per-group call counters and delays.
#[derive(Default, Debug)]
struct Kpi {
    /// Initial INVITEs with a known outcome (in-progress calls are not in any ratio).
    invites: u64,
    in_progress: u64,
    outcomes: BTreeMap<Outcome, u64>,
    answered: u64,
    redirected: u64,
    seer: u64,
    isa: u64,
    ner: u64,
    completed: u64,
    challenged: u64,
    srd_ok: Sample,
    srd_fail: Sample,
    pdd: Sample,
    setup: Sample,
    talk: Sample,
    sdd: Sample,
    sdt_ok: Sample,
    sdt_fail: Sample,
}

impl Kpi {
    fn add(&mut self, c: &CallRecord, d: &CallDetail, outcome: Outcome) {
        *self.outcomes.entry(outcome).or_default() += 1;
        if outcome == Outcome::InProgress {
            self.in_progress += 1;
            return;
        }
        self.invites += 1;
        let status = c.final_status;
        let rang = d.provisional.is_some();
        let answered = matches!(status, Some(200..=299));
        self.answered += u64::from(answered);
        self.challenged += u64::from(d.challenged);
        // RFC 6076 §4.6/§4.7: redirects leave the denominator of SER and SEER.
        self.redirected += u64::from(matches!(status, Some(300..=399)));
        // §4.7 SEER: 200, 480, 486, 600, 603 show the network did its job.
        self.seer += u64::from(answered || matches!(status, Some(480 | 486 | 600 | 603)));
        // §4.8 ISA: 408, 500, 503, 504, or no final answer at all (Timer B).
        self.isa += u64::from(matches!(status, Some(408 | 500 | 503 | 504) | None));
        // ITU-T E.425 NER: answered, busy, rejected by the user, or rang without an answer.
        self.ner += u64::from(
            answered
                || matches!(status, Some(486 | 600 | 603 | 480))
                || (rang && matches!(status, Some(487 | 408))),
        );
        // §4.9 SCR: set up and torn down normally (the BYE answered 2xx).
        let bye_ok = matches!(d.bye_final, Some((_, 200..=299)));
        self.completed += u64::from(answered && bye_ok);
        // A span from or to a milestone whose time stamp was a time warp, or a negative one
        // (frames out of order), is not a sample: absent, never wrong.
        let span = |from: Ts, fb: u8, to: Ts, tb: u8| {
            let v = to.since(from);
            (d.warped & (fb | tb) == 0 && v >= 0).then(|| secs(v))
        };
        use crate::correlate::record::warped as w;
        if let Some(inv) = d.invite {
            // §4.3 SRD: to the first non-100 provisional or the 2xx, whichever came first; for a
            // failed request, to the failure. A cancelled call's 487 measures the user, not the
            // network, and is left out.
            if answered {
                let first = match (d.provisional, d.answer) {
                    (Some(p), Some(a)) if p <= a => Some((p, w::RING)),
                    (Some(_), Some(a)) => Some((a, w::ANSWER)),
                    (Some(p), None) => Some((p, w::RING)),
                    (None, a) => a.map(|a| (a, w::ANSWER)),
                };
                if let Some(v) = first.and_then(|(t, b)| span(inv, w::INVITE, t, b)) {
                    self.srd_ok.push(v);
                }
            } else if matches!(status, Some(400..)) && outcome != Outcome::Cancelled {
                if let Some(v) = d.final_at.and_then(|f| span(inv, w::INVITE, f, w::FINAL)) {
                    self.srd_fail.push(v);
                }
            }
            if let Some(p) = c.pdd {
                self.pdd.push(p);
            }
            if let Some(s) = c.setup_time {
                self.setup.push(s);
            }
        }
        if answered {
            // §4.4 SDD: BYE → its final answer (the Timer F case is settled in `finish`).
            if let (Some(bye), Some((t, _))) = (d.bye, d.bye_final) {
                if let Some(v) = span(bye, w::BYE, t, w::BYE_FINAL) {
                    self.sdd.push(v);
                }
            }
            if let Some(t) = c.talk_time {
                self.talk.push(t);
            }
            // §4.5 SDT: BYE − 200 OK, apart for sessions whose BYE failed or went unanswered.
            if let (Some(bye), Some(ans)) = (d.bye, d.answer) {
                if let Some(v) = span(ans, w::ANSWER, bye, w::BYE) {
                    if bye_ok {
                        self.sdt_ok.push(v);
                    } else {
                        self.sdt_fail.push(v);
                    }
                }
            }
        }
    }
}

/// Per-group, per-method transaction hop timings (METRICS.md, per transaction).
#[derive(Default, Debug)]
struct TxAcc {
    transactions: u64,
    /// Final response never seen and Timer B/F ran out before the capture ended.
    timeouts: u64,
    retransmitted: u64,
    retransmissions: u64,
    first: Sample,
    last: Sample,
}

#[derive(Default, Debug)]
struct MsgAcc {
    messages: u64,
    retransmissions: u64,
    reason: Option<String>,
}

#[derive(Default, Debug)]
struct RegAcc {
    attempts: u64,
    results: BTreeMap<&'static str, u64>,
    challenged: u64,
    rrd: Sample,
}

/// The latest registration of one binding (AOR and contact).
#[derive(Debug)]
struct Binding {
    key: Key,
    start: Ts,
    until: Option<Ts>,
}

/// Bounds on what is kept per capture (every drop is counted and shown as a note).
const MAX_BINDINGS: usize = 1_000_000;
const MAX_ENDPOINTS: usize = 100_000;

/// Everything `stats` accumulates.
#[derive(Debug, Default)]
pub struct Stats {
    cuts: Cuts,
    kpi: BTreeMap<Key, Kpi>,
    // Methods as inline text: a method name fits in 24 bytes, so a lookup allocates nothing.
    tx: BTreeMap<(Key, Text), TxAcc>,
    msgs: BTreeMap<(Key, Text, u16), MsgAcc>,
    endpoints: BTreeMap<SocketAddr, (u64, u64)>,
    regs: BTreeMap<Key, RegAcc>,
    bindings: BTreeMap<(String, String), Binding>,
    /// Every initial INVITE and registration, for load and concurrency.
    load: Load,
    /// BYEs without a final answer: (key, BYE time), settled at the end (SDD timeout).
    open_byes: Vec<(Key, Ts)>,
    pub first: Option<Ts>,
    pub last: Option<Ts>,
    pub calls: u64,
    /// Messages without a Call-ID.
    pub loose: u64,
    /// Messages per anomaly code, in the order of `Anomaly::ALL`.
    anomalies: Vec<(&'static str, u64)>,
    pub untimed: u64,
    pub uncounted: u64,
    pub dropped: u64,
}

impl Stats {
    pub fn new(cuts: Cuts) -> Stats {
        Stats {
            cuts,
            ..Stats::default()
        }
    }

    /// What the tables left out within their bounds, as end-of-run warnings (the bounds row
    /// of the summary table has the same figures).
    pub fn losses(&self) -> Vec<String> {
        [
            (
                self.untimed,
                "transaction messages beyond the per-call bound, not timed in the delay statistics",
            ),
            (
                self.uncounted,
                "messages beyond a per-call counting bound, not counted in the statistics",
            ),
            (
                self.dropped,
                "records beyond a statistics table's bound (endpoints, bindings, load buckets), not counted",
            ),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect()
    }

    fn seen(&mut self, t: Ts) {
        self.first = Some(self.first.map_or(t, |f| f.min(t)));
        self.last = Some(self.last.map_or(t, |l| l.max(t)));
    }

    pub fn add_call(&mut self, c: &CallRecord) {
        self.seen(c.start);
        self.seen(c.end);
        self.calls += 1;
        let Some(d) = c.detail.as_deref() else {
            return;
        };
        self.untimed += u64::from(d.untimed);
        self.uncounted += u64::from(d.uncounted);
        let t0 = d.invite.unwrap_or(c.start);
        let key = self.cuts.key(c.caller, d.callee, t0);
        for m in &d.counts {
            let acc = self
                .msgs
                .entry((key.clone(), Text::from(m.method.as_str()), m.status))
                .or_default();
            acc.messages += u64::from(m.messages);
            acc.retransmissions += u64::from(m.retransmissions);
            if acc.reason.is_none() {
                acc.reason.clone_from(&m.reason);
            }
        }
        for s in &d.senders {
            if self.endpoints.len() >= MAX_ENDPOINTS && !self.endpoints.contains_key(&s.addr) {
                self.dropped += 1;
                continue;
            }
            let e = self.endpoints.entry(s.addr).or_default();
            e.0 += u64::from(s.messages);
            e.1 += u64::from(s.retransmissions);
        }
        for t in &d.transactions {
            let k = self.cuts.key(Some(t.client), Some(t.server), t.start);
            let acc = self
                .tx
                .entry((k, Text::from(t.method.as_str())))
                .or_default();
            acc.transactions += 1;
            acc.retransmissions += u64::from(t.retransmissions);
            acc.retransmitted += u64::from(t.retransmissions > 0);
            if let Some(f) = t.first_response {
                acc.first.push(secs(f));
            }
            match t.final_response {
                Some(f) => acc.last.push(secs(f)),
                None => {
                    // Timer B (INVITE) and Timer F (others) are both 64·T1.
                    let limit = if t.method == crate::sip::Method::Invite {
                        TIMER_B
                    } else {
                        TIMER_F
                    };
                    if c.end.since(t.start) >= limit {
                        acc.timeouts += 1;
                    }
                }
            }
        }
        if c.kind != CallKind::Invite {
            return;
        }
        let Some(outcome) = c.outcome else { return };
        self.kpi.entry(key.clone()).or_default().add(c, d, outcome);
        if d.answer.is_some() {
            if let (Some(bye), None) = (d.bye, d.bye_final) {
                self.open_byes.push((key, bye));
            }
        }
        let end = match outcome {
            Outcome::InProgress => None,
            Outcome::Answered => Some(d.bye.unwrap_or(c.end)),
            _ => Some(d.final_at.unwrap_or(c.end)),
        };
        if !self.load.call(t0, end, outcome == Outcome::Answered) {
            self.dropped += 1;
        }
    }

    /// Messages per anomaly code (`CorrelateStats::anomalies`), for the anomalies table.
    pub fn add_anomalies<'a>(
        &mut self,
        counts: impl IntoIterator<Item = (&'a &'static str, &'a u64)>,
    ) {
        for (code, n) in counts {
            match self.anomalies.iter_mut().find(|(c, _)| c == code) {
                Some(e) => e.1 += n,
                None => self.anomalies.push((code, *n)),
            }
        }
        let order = |c: &str| {
            crate::sip::Anomaly::ALL
                .iter()
                .position(|a| a.code() == c)
                .unwrap_or(usize::MAX)
        };
        self.anomalies.sort_by_key(|(c, _)| order(c));
    }

    /// Messages that belong to no call (no Call-ID): counted in the messages table, uncut.
    pub fn add_loose(&mut self, kinds: &[(String, u16, u64)]) {
        let key = Key {
            peer: self.cuts.peers.as_ref().map(|_| "other".to_string()),
            direction: self.cuts.local.as_ref().map(|_| "unknown"),
            bucket: None,
        };
        for (method, status, n) in kinds {
            self.loose += n;
            let acc = self
                .msgs
                .entry((key.clone(), Text::from(method.as_str()), *status))
                .or_default();
            acc.messages += n;
        }
    }

    pub fn add_reg(&mut self, r: &RegRecord) {
        self.seen(r.start);
        let key = self.cuts.key(Some(r.client), Some(r.registrar), r.start);
        let acc = self.regs.entry(key.clone()).or_default();
        acc.attempts += 1;
        *acc.results.entry(r.result).or_default() += 1;
        acc.challenged += u64::from(r.challenged);
        if let Some(d) = r.rrd {
            acc.rrd.push(d);
        }
        if !self.load.registration(r.start) {
            self.dropped += 1;
        }
        let until = match (r.result, r.expires) {
            ("registered", Some(e)) if e > 0 => {
                Some(r.start.saturating_add(i64::from(e) * NANOS_PER_SEC))
            }
            _ => None,
        };
        if !matches!(r.result, "registered" | "unregistered") {
            return;
        }
        let b = (r.aor.clone(), r.contact.clone().unwrap_or_default());
        if self.bindings.len() >= MAX_BINDINGS && !self.bindings.contains_key(&b) {
            self.dropped += 1;
            return;
        }
        let e = self.bindings.entry(b).or_insert(Binding {
            key,
            start: r.start,
            until,
        });
        if r.start >= e.start {
            e.start = r.start;
            e.until = until;
        }
    }

    /// Closes the open questions at the end of the capture (`end`): BYEs that Timer F would
    /// have given up on count toward SDD as timeouts.
    pub fn finish(&mut self, end: Option<Ts>) {
        let end = end.or(self.last).unwrap_or(Ts::ZERO);
        for (k, bye) in std::mem::take(&mut self.open_byes) {
            if end.since(bye) >= TIMER_F {
                self.kpi.entry(k).or_default().sdd.push(secs(TIMER_F));
            }
        }
        self.last = Some(self.last.map_or(end, |l| l.max(end)));
    }

    fn cut_columns(&self) -> Vec<(&'static str, Kind)> {
        let mut v = Vec::new();
        if self.cuts.peers.is_some() {
            v.push(("peer", Kind::Str));
        }
        if self.cuts.local.is_some() {
            v.push(("direction", Kind::Str));
        }
        if self.cuts.interval.is_some() {
            v.push(("interval", Kind::Time));
        }
        v
    }

    fn cut_values<'k>(&self, k: &'k Key) -> Vec<Value<'k>> {
        let mut v = Vec::new();
        if self.cuts.peers.is_some() {
            v.push(Value::Str(k.peer.as_deref().map(Into::into)));
        }
        if self.cuts.local.is_some() {
            v.push(Value::Str(k.direction.map(Into::into)));
        }
        if self.cuts.interval.is_some() {
            v.push(Value::Time(k.bucket.map(Ts)));
        }
        v
    }

    fn frame(&self, cols: &[(&'static str, Kind)]) -> Frame {
        let mut all = self.cut_columns();
        all.extend_from_slice(cols);
        Frame::new(all)
    }

    /// The bucket width for load over time: `--interval`, else one that gives at most about
    /// 100 buckets over the capture (1 s, 10 s, 1 min, 10 min, 1 h, 1 day).
    pub fn load_interval(&self) -> Nanos {
        if let Some(i) = self.cuts.interval {
            return i;
        }
        let span = match (self.first, self.last) {
            (Some(f), Some(l)) => l.since(f),
            _ => 0,
        };
        [1, 10, 60, 600, 3600, 86_400]
            .into_iter()
            .map(|s| s * NANOS_PER_SEC)
            .find(|w| span / w <= 100)
            .unwrap_or(86_400 * NANOS_PER_SEC)
    }

    /// Every table, built as DataFrames.
    pub fn tables(mut self) -> PolarsResult<Vec<Tab>> {
        Ok(vec![
            self.ratios()
                .finish("ratios", "Ratios (RFC 6076, ITU-T E.411/E.425)")?,
            self.delays()
                .finish("delays", "Delays in seconds (RFC 6076, METRICS.md)")?,
            self.outcomes().finish("outcomes", "Calls by outcome")?,
            self.messages()
                .finish("messages", "Messages by method and status")?,
            self.response_times().finish(
                "response_times",
                "Transaction response times in ms, per hop",
            )?,
            self.endpoints()
                .finish("endpoints", "Messages and retransmissions per sender")?,
            self.load().finish("load", "Load over time")?,
            self.registrations()
                .finish("registrations", "Registrations (RFC 6076 §4.2 IRA)")?,
            self.anomaly_table().finish(
                "anomalies",
                "Malformed messages by anomaly (whole capture, every filter aside)",
            )?,
            self.notes().finish("notes", "Notes")?,
        ])
    }

    /// The ratios over every call so far (the first group: with no cuts, the only one).
    pub fn ratio_rows(&self) -> Vec<(&'static str, u64, u64, &'static str)> {
        self.kpi
            .values()
            .next()
            .map(kpi_ratios)
            .map(Vec::from)
            .unwrap_or_default()
    }

    /// Calls by outcome over every call so far, and the calls still in progress.
    pub fn outcome_counts(&self) -> (Vec<(Outcome, u64)>, u64) {
        self.kpi.values().next().map_or((Vec::new(), 0), |a| {
            (
                a.outcomes.iter().map(|(o, n)| (*o, *n)).collect(),
                a.in_progress,
            )
        })
    }

    fn ratios(&self) -> Frame {
        let mut f = self.frame(&[
            ("metric", Kind::Str),
            ("percent", Kind::F64),
            ("numerator", Kind::U64),
            ("denominator", Kind::U64),
            ("definition", Kind::Str),
        ]);
        for (k, a) in &self.kpi {
            let rows = kpi_ratios(a);
            for (name, num, den, def) in rows {
                let mut row = self.cut_values(k);
                row.extend([
                    Value::Str(Some(name.into())),
                    Value::F64((den > 0).then(|| num as f64 * 100.0 / den as f64)),
                    Value::U64(Some(num)),
                    Value::U64(Some(den)),
                    Value::Str(Some(def.into())),
                ]);
                f.row(row);
            }
        }
        for (k, a) in &self.regs {
            let done = a.attempts - a.results.get("in-progress").copied().unwrap_or(0);
            let failed = ["failed", "timeout"]
                .iter()
                .map(|r| a.results.get(r).copied().unwrap_or(0))
                .sum::<u64>();
            let mut row = self.cut_values(k);
            row.extend([
                Value::Str(Some("IRA".into())),
                Value::F64((done > 0).then(|| failed as f64 * 100.0 / done as f64)),
                Value::U64(Some(failed)),
                Value::U64(Some(done)),
                Value::Str(Some(
                    "REGISTERs failed (not 401/402/407) or unanswered ÷ attempts (RFC 6076 §4.2)"
                        .into(),
                )),
            ]);
            f.row(row);
        }
        f
    }

    fn delay_row(&self, f: &mut Frame, k: &Key, name: &str, s: &mut Sample, def: &str) {
        let mean = s.mean();
        let [p50, p90, p99, max] = s.percentiles();
        let mut row = self.cut_values(k);
        row.extend([
            Value::Str(Some(name.into())),
            Value::U64(Some(s.len() as u64)),
            Value::F64(mean),
            Value::F64(p50),
            Value::F64(p90),
            Value::F64(p99),
            Value::F64(max),
            Value::Str(Some(def.into())),
        ]);
        f.row(row);
    }

    fn delays(&mut self) -> Frame {
        let mut f = self.frame(&[
            ("metric", Kind::Str),
            ("n", Kind::U64),
            ("mean", Kind::F64),
            ("p50", Kind::F64),
            ("p90", Kind::F64),
            ("p99", Kind::F64),
            ("max", Kind::F64),
            ("definition", Kind::Str),
        ]);
        let mut kpi = std::mem::take(&mut self.kpi);
        for (k, a) in kpi.iter_mut() {
            let rows: [(&str, &mut Sample, &str); 8] = [
                (
                    "PDD",
                    &mut a.pdd,
                    "INVITE → first 180/183, or → the failure when nothing rang",
                ),
                (
                    "SRD ok",
                    &mut a.srd_ok,
                    "INVITE → first non-100 provisional or 2xx (RFC 6076 §4.3.1)",
                ),
                (
                    "SRD failed",
                    &mut a.srd_fail,
                    "INVITE → 4xx/5xx/6xx, cancelled calls excepted (RFC 6076 §4.3.2)",
                ),
                ("setup", &mut a.setup, "INVITE → 2xx"),
                (
                    "ACD",
                    &mut a.talk,
                    "talk time 2xx → BYE; the mean is the ACD/ALOC (ITU-T E.411)",
                ),
                (
                    "SDD",
                    &mut a.sdd,
                    "BYE → its final answer, or Timer F (RFC 6076 §4.4)",
                ),
                (
                    "SDT ok",
                    &mut a.sdt_ok,
                    "2xx → BYE, BYE answered 2xx (RFC 6076 §4.5)",
                ),
                (
                    "SDT failed",
                    &mut a.sdt_fail,
                    "2xx → BYE, BYE failed or unanswered (RFC 6076 §4.5)",
                ),
            ];
            for (name, s, def) in rows {
                self.delay_row(&mut f, k, name, s, def);
            }
        }
        self.kpi = kpi;
        let mut regs = std::mem::take(&mut self.regs);
        for (k, a) in regs.iter_mut() {
            self.delay_row(
                &mut f,
                k,
                "RRD",
                &mut a.rrd,
                "first REGISTER → 2xx, challenges included (RFC 6076 §4.1)",
            );
        }
        self.regs = regs;
        f
    }

    fn outcomes(&self) -> Frame {
        let mut f = self.frame(&[
            ("outcome", Kind::Str),
            ("calls", Kind::U64),
            ("percent", Kind::F64),
        ]);
        for (k, a) in &self.kpi {
            let total: u64 = a.outcomes.values().sum();
            for (o, n) in &a.outcomes {
                let mut row = self.cut_values(k);
                row.extend([
                    Value::Str(Some(o.as_str().into())),
                    Value::U64(Some(*n)),
                    Value::F64(Some(*n as f64 * 100.0 / total.max(1) as f64)),
                ]);
                f.row(row);
            }
        }
        f
    }

    fn messages(&self) -> Frame {
        let mut f = self.frame(&[
            ("method", Kind::Str),
            ("status", Kind::U64),
            ("class", Kind::Str),
            ("reason", Kind::Str),
            ("messages", Kind::U64),
            ("retransmissions", Kind::U64),
        ]);
        for ((k, method, status), a) in &self.msgs {
            let mut row = self.cut_values(k);
            let (status, class) = if *status == 0 {
                (None, "request".to_string())
            } else {
                (Some(u64::from(*status)), format!("{}xx", status / 100))
            };
            row.extend([
                Value::Str(Some(method.as_str().into())),
                Value::U64(status),
                Value::Str(Some(class.into())),
                Value::Str(a.reason.as_deref().map(Into::into)),
                Value::U64(Some(a.messages)),
                Value::U64(Some(a.retransmissions)),
            ]);
            f.row(row);
        }
        f
    }

    fn response_times(&mut self) -> Frame {
        let mut f = self.frame(&[
            ("method", Kind::Str),
            ("transactions", Kind::U64),
            ("timeouts", Kind::U64),
            ("first_p50", Kind::F64),
            ("first_p90", Kind::F64),
            ("first_p99", Kind::F64),
            ("first_max", Kind::F64),
            ("final_n", Kind::U64),
            ("final_p50", Kind::F64),
            ("final_p90", Kind::F64),
            ("final_p99", Kind::F64),
            ("final_max", Kind::F64),
            ("retransmitted", Kind::U64),
            ("retransmissions", Kind::U64),
        ]);
        let mut tx = std::mem::take(&mut self.tx);
        let ms = |v: Option<f64>| Value::F64(v.map(|s| s * 1000.0));
        for ((k, method), a) in tx.iter_mut() {
            let mut row = self.cut_values(k);
            let first = a.first.percentiles();
            let last_n = a.last.len() as u64;
            let last = a.last.percentiles();
            row.push(Value::Str(Some(method.as_str().into())));
            row.push(Value::U64(Some(a.transactions)));
            row.push(Value::U64(Some(a.timeouts)));
            row.extend(first.map(ms));
            row.push(Value::U64(Some(last_n)));
            row.extend(last.map(ms));
            row.push(Value::U64(Some(a.retransmitted)));
            row.push(Value::U64(Some(a.retransmissions)));
            f.row(row);
        }
        self.tx = tx;
        f
    }

    fn endpoints(&self) -> Frame {
        let mut cols = Vec::new();
        cols.push(("endpoint", Kind::Str));
        if self.cuts.peers.is_some() {
            cols.push(("peer", Kind::Str));
        }
        cols.extend([
            ("messages", Kind::U64),
            ("retransmissions", Kind::U64),
            ("percent", Kind::F64),
        ]);
        let mut f = Frame::new(cols);
        for (addr, (n, r)) in &self.endpoints {
            let mut row = vec![Value::Str(Some(addr.to_string().into()))];
            if let Some(p) = &self.cuts.peers {
                row.push(Value::Str(Some(p.name(*addr).unwrap_or("other").into())));
            }
            row.extend([
                Value::U64(Some(*n)),
                Value::U64(Some(*r)),
                Value::F64(Some(*r as f64 * 100.0 / (*n).max(1) as f64)),
            ]);
            f.row(row);
        }
        f
    }

    fn load(&self) -> Frame {
        let span = self.first.zip(self.last);
        self.load.frame(span, self.load_interval())
    }

    fn registrations(&self) -> Frame {
        let results = [
            "registered",
            "unregistered",
            "auth-failed",
            "failed",
            "timeout",
            "in-progress",
        ];
        let mut cols = vec![("attempts", Kind::U64)];
        cols.extend(results.iter().map(|r| (*r, Kind::U64)));
        cols.extend([
            ("challenged", Kind::U64),
            ("challenge_percent", Kind::F64),
            ("active_at_end", Kind::U64),
        ]);
        let mut f = self.frame(&cols);
        let end = self.last.unwrap_or(Ts::ZERO);
        for (k, a) in &self.regs {
            let active = self
                .bindings
                .values()
                .filter(|b| &b.key == k && b.until.is_some_and(|u| u > end))
                .count() as u64;
            let mut row = self.cut_values(k);
            row.push(Value::U64(Some(a.attempts)));
            for r in results {
                row.push(Value::U64(Some(a.results.get(r).copied().unwrap_or(0))));
            }
            row.extend([
                Value::U64(Some(a.challenged)),
                Value::F64(Some(a.challenged as f64 * 100.0 / a.attempts.max(1) as f64)),
                Value::U64(Some(active)),
            ]);
            f.row(row);
        }
        f
    }

    /// How many delays sit in samples too large to keep whole, whose percentiles are
    /// approximate.
    fn summarised(&self) -> u64 {
        let kpi = self.kpi.values().flat_map(|a| {
            [
                &a.srd_ok,
                &a.srd_fail,
                &a.pdd,
                &a.setup,
                &a.talk,
                &a.sdd,
                &a.sdt_ok,
                &a.sdt_fail,
            ]
        });
        let tx = self.tx.values().flat_map(|a| [&a.first, &a.last]);
        let regs = self.regs.values().map(|a| &a.rrd);
        kpi.chain(tx)
            .chain(regs)
            .filter(|s| s.summarised())
            .map(|s| s.len() as u64)
            .sum()
    }

    /// What the figures rest on and what was left out.
    fn anomaly_table(&self) -> Frame {
        let mut f = Frame::new(vec![("anomaly", Kind::Str), ("messages", Kind::U64)]);
        for (code, n) in &self.anomalies {
            f.row(vec![Value::Str(Some((*code).into())), Value::U64(Some(*n))]);
        }
        f
    }

    fn notes(&self) -> Frame {
        let mut f = Frame::new(vec![("note", Kind::Str), ("count", Kind::U64)]);
        let in_progress: u64 = self.kpi.values().map(|a| a.in_progress).sum();
        let summarised = format!(
            "delays in groups of over {EXACT} (p50/p90/p99 from log buckets, within ±{}%)",
            ALPHA * 100.0
        );
        let rows = [
            ("Call-IDs seen", self.calls),
            (
                "messages without a Call-ID (in the messages table only)",
                self.loose,
            ),
            (
                "INVITE calls in progress at the end (left out of ratios)",
                in_progress,
            ),
            (
                "transaction messages beyond the per-call bound (not timed)",
                self.untimed,
            ),
            (
                "messages beyond a per-call counting bound (not counted)",
                self.uncounted,
            ),
            ("records beyond a table bound (not counted)", self.dropped),
            (summarised.as_str(), self.summarised()),
        ];
        for (n, c) in rows {
            f.row(vec![Value::Str(Some(n.into())), Value::U64(Some(c))]);
        }
        f
    }
}

/// The ratios of one group of calls: (name, numerator, denominator, definition). The one
/// definition of each, for the statistics tables and the terminal UI alike.
fn kpi_ratios(a: &Kpi) -> [(&'static str, u64, u64, &'static str); 7] {
    let not_redirected = a.invites - a.redirected;
    [
        (
            "ASR",
            a.answered,
            a.invites,
            "answered ÷ initial INVITEs (ITU-T E.411)",
        ),
        (
            "NER",
            a.ner,
            a.invites,
            "answered, busy, rejected or rang unanswered ÷ INVITEs (ITU-T E.425)",
        ),
        (
            "SER",
            a.answered,
            not_redirected,
            "answered ÷ (INVITEs − 3xx) (RFC 6076 §4.6)",
        ),
        (
            "SEER",
            a.seer,
            not_redirected,
            "200/480/486/600/603 ÷ (INVITEs − 3xx) (RFC 6076 §4.7)",
        ),
        (
            "ISA",
            a.isa,
            a.invites,
            "408/500/503/504 or no answer ÷ INVITEs (RFC 6076 §4.8)",
        ),
        (
            "SCR",
            a.completed,
            a.invites,
            "answered and BYE answered 2xx ÷ INVITEs (RFC 6076 §4.9)",
        ),
        (
            "challenged",
            a.challenged,
            a.invites,
            "INVITEs challenged 401/407 and sent again ÷ INVITEs",
        ),
    ]
}

#[cfg(test)]
mod losses_tests {
    use super::*;

    /// Each bound of the tables that left something out is said once, with its figure.
    #[test]
    fn every_table_bound_is_said() {
        let mut s = Stats::default();
        assert!(s.losses().is_empty());
        s.untimed = 3;
        s.uncounted = 4;
        s.dropped = 5;
        let w = s.losses();
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].starts_with("3 ") && w[1].starts_with("4 ") && w[2].starts_with("5 "));
    }
}
