//! The troubleshooting report (`sipscope report`): one pass over the captures feeds the data
//! tables as records come, and keeps only what the HTML page shows.
//!
//! Memory stays bounded however many calls the captures hold:
//! - every call, message, registration, stream and alert goes to its table's writer at once
//!   ([`tables`]), in batches;
//! - a call's messages wait in [`Collector`] only until its record leaves the call window
//!   (a few minutes of capture time), with a byte budget beyond which texts are not kept;
//! - sections are kept for the worst `max_calls` incidents (a bounded heap by score) and a
//!   sample of `sample_good` good ones (the lowest hashes of their Call-IDs, so the sample is the
//!   same on every run). An incident is a run of problem calls that fail the same way: the same
//!   outcome, final status and reason phrase, the same reasons, from the same caller host to the
//!   same callee address, each starting within [`INCIDENT_GAP`] of the run. Its first call is
//!   drawn; the others are counted, and the first [`SIMILAR_LISTED`] named, in its section (a
//!   burst of 25 identical 503s is one section, not 25);
//! - the call list keeps at most `max_list` rows, problem calls first.
//!
//! Every cut is counted and said on the page.

pub mod dataset;
pub mod html;
pub mod markdown;
pub mod netmap;
pub mod tables;

use foldhash::{HashMap, HashMapExt};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::analysis::alerts::{Alert, Severity, State};
use crate::analysis::rtp::StreamStats;
use crate::analysis::stats::{Cuts, Stats};
use crate::correlate::record::{CallKind, CallRecord, MsgRow, Outcome};
use crate::export::MsgAt;
use crate::output::OutputError;
use crate::session::{ClosedCall, Event, Needs, Sink};
use crate::time::{Ts, NANOS_PER_SEC};

use netmap::NetMap;
use tables::Tables;

/// What the report keeps for its HTML page.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    pub dir: PathBuf,
    /// Problem calls with a section of their own (the worst first).
    pub max_calls: usize,
    /// Good calls with a section, as a sample.
    pub sample_good: usize,
    /// Rows of the call list on the page (the calls table has them all).
    pub max_list: usize,
    /// Messages kept per call section.
    pub max_msgs: usize,
    /// Problem calls (the worst first) given a capture of their own, `calls/NAME.pcapng` beside
    /// the page ([`crate::export`]); only when the captures can be read again.
    pub call_captures: usize,
    /// Bytes of messages waiting for their call at most; calls beyond it have their messages
    /// read again if they get a section. As much again (at least [`MIN_LOCATED_BYTES`]) keeps
    /// where those calls' messages were, so that the second reading takes only their frames.
    pub pending_bytes: usize,
    /// Hold no message during the pass, only where each was (within the same budget): every
    /// section's messages are read again. For files much larger than the budget, whose texts
    /// would not fit anyway: the pass then makes no text at all.
    pub by_place: bool,
    pub title: String,
    pub files: Vec<String>,
    /// Also append the tables to this dataset.
    pub dataset: Option<dataset::DatasetOptions>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            dir: PathBuf::from("report"),
            max_calls: 100,
            sample_good: 20,
            max_list: 20_000,
            max_msgs: 400,
            call_captures: 50,
            pending_bytes: 8 << 20,
            by_place: false,
            title: "sipscope report".into(),
            files: Vec::new(),
            dataset: None,
        }
    }
}

/// The least memory for where the messages of the calls not held were (about 12,000
/// messages): a few hundred kilobytes save a whole reading of the captures.
pub const MIN_LOCATED_BYTES: usize = 1 << 20;

/// A call's messages and media, waiting for its record.
#[derive(Default)]
struct Pending {
    /// Shared with nobody once the session has let the message go: taken back whole (no copy)
    /// when the call gets a section.
    msgs: Vec<Arc<MsgRow>>,
    /// Messages beyond `max_msgs` (in the messages table, not on the page).
    cut: u32,
    /// The budget ran out while the call was going on: its messages were let go.
    incomplete: bool,
    /// Where the messages of an incomplete call were, every one of them (empty when they did
    /// not fit either: `unlocated`).
    at: Vec<MsgAt>,
    unlocated: bool,
    /// Its messages as the network map's roles need them.
    steps: netmap::Steps,
}

/// What one message's place costs in [`Pending::at`].
const AT_SIZE: usize = std::mem::size_of::<MsgAt>();

/// Keeps where these messages of a call not held were, or lets go of all its places when they
/// do not fit `budget` (with the places of every call, `located`).
fn locate(p: &mut Pending, located: &mut usize, budget: usize, msgs: &[Arc<MsgRow>]) {
    if p.unlocated {
        return;
    }
    let size = msgs.len() * AT_SIZE;
    if *located + size > budget {
        p.unlocated = true;
        *located -= p.at.len() * AT_SIZE;
        p.at = Vec::new();
        return;
    }
    *located += size;
    p.at.extend(msgs.iter().map(|m| MsgAt::from(&**m)));
}

/// Takes these messages, no longer held, off the bytes held.
fn unhold(held: &mut usize, msgs: &[Arc<MsgRow>]) {
    let n: usize = msgs.iter().map(|m| held_size(m)).sum();
    *held = held.saturating_sub(n);
}

/// What a held message costs: the row, and each string it owns with the allocator's overhead.
fn held_size(m: &MsgRow) -> usize {
    /// What one small allocation costs beyond its bytes (header and rounding), roughly.
    const PER_ALLOC: usize = 24;
    let s = |v: &Option<String>| v.as_ref().map_or(0, |v| v.capacity() + PER_ALLOC);
    // A short text lives inside the row; a longer one is on the heap.
    let t = |v: &Option<crate::correlate::record::Text>| {
        v.as_ref()
            .filter(|v| v.is_heap_allocated())
            .map_or(0, |v| v.capacity() + PER_ALLOC)
    };
    std::mem::size_of::<MsgRow>()
        + PER_ALLOC
        // Shared with other rows, but counted whole: the budget is an upper bound.
        + m.user_agent.as_ref().map_or(0, |u| u.len() + PER_ALLOC)
        // The call's Call-ID is shared by its rows: counted whole here too.
        + m.call_id.as_ref().map_or(0, |c| c.len() + PER_ALLOC)
        + [
            &m.sdp,
            &m.refer_to,
            &m.sipfrag,
            &m.text,
        ]
        .into_iter()
        .map(s)
        .sum::<usize>()
        + [
            &m.method,
            &m.reason,
            &m.cseq_method,
            &m.from_user,
            &m.to_user,
            &m.from_tag,
            &m.to_tag,
            &m.branch,
        ]
        .into_iter()
        .map(t)
        .sum::<usize>()
        + m.anomalies.capacity() * std::mem::size_of::<&str>()
}

/// Calls of an incident that start further apart than this are two incidents.
pub const INCIDENT_GAP: crate::time::Nanos = 600 * NANOS_PER_SEC;
/// Call-IDs named in an incident's section (all of its calls are in the call list and tables).
pub const SIMILAR_LISTED: usize = 20;

/// The other calls of an incident: those that failed as the drawn one did.
#[derive(Clone, Debug, Default)]
pub struct Similar {
    /// How many (besides the drawn call).
    pub count: u64,
    /// The earliest and latest start among the incident's calls, the drawn one included.
    pub first: Option<Ts>,
    pub last: Option<Ts>,
    /// The first [`SIMILAR_LISTED`] of their Call-IDs, in the order they closed.
    pub call_ids: Vec<String>,
}

/// One call drawn in the page.
pub struct Section {
    pub call: CallRecord,
    pub msgs: Vec<MsgRow>,
    pub msgs_cut: u32,
    /// Its messages did not fit the budget during the pass: fetched by a second reading.
    pub refetch: bool,
    /// Where every one of those messages was, when that fitted: the frames the second reading
    /// takes, and the call's capture.
    pub located: Option<Vec<MsgAt>>,
    pub streams: Vec<StreamStats>,
    pub owners: BTreeMap<SocketAddr, SocketAddr>,
    pub alerts: Vec<Alert>,
    pub score: u32,
    pub reasons: Vec<&'static str>,
    /// The incident this call stands for (empty for a good call or a one-call incident).
    pub similar: Similar,
    /// The hash of how the call failed (see the module doc); 0 for a good call.
    pub signature: u64,
    /// Its frames, written beside the page: the path relative to it.
    pub capture: Option<String>,
}

/// How a problem call failed, as a hash: calls with the same one belong to one incident.
fn signature(c: &CallRecord, reasons: &[&'static str]) -> u64 {
    use crate::decode::{fnv, FNV_OFFSET};
    let mut h = FNV_OFFSET;
    h = fnv(c.outcome.map_or("unknown", Outcome::as_str).as_bytes(), h);
    h = fnv(&c.final_status.unwrap_or(0).to_be_bytes(), h);
    h = fnv(c.reason.as_deref().unwrap_or("").as_bytes(), h);
    for r in reasons {
        h = fnv(r.as_bytes(), fnv(b"|", h));
    }
    h = fnv(
        c.caller
            .map(|a| crate::output::schema::ip_text(a.ip()))
            .unwrap_or_default()
            .as_bytes(),
        fnv(b"|", h),
    );
    let callee = c.detail.as_ref().and_then(|d| d.callee);
    fnv(
        callee
            .map(crate::output::schema::addr_text)
            .unwrap_or_default()
            .as_bytes(),
        fnv(b"|", h),
    )
}

impl Section {
    /// What finds this call's frames in the captures ([`crate::export`]): where its messages
    /// were (as the pass kept them when it could not keep the messages, or as the section holds
    /// them) and its streams; None when some of its messages are neither held nor located.
    pub fn frames(&self) -> Option<crate::export::CallFrames> {
        let msgs = match &self.located {
            Some(at) => at.clone(),
            None if self.msgs.is_empty() || self.msgs_cut > 0 => return None,
            None => self.msgs.iter().map(MsgAt::from).collect(),
        };
        Some(crate::export::CallFrames {
            call_id: self.call.call_id.clone(),
            msgs,
            media: self
                .streams
                .iter()
                .map(crate::export::MediaAt::from)
                .collect(),
        })
    }
}

/// One row of the call list.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ListRow {
    pub call_id: String,
    #[serde(serialize_with = "crate::correlate::record::ser_ts")]
    pub start: Ts,
    pub duration: f64,
    pub from: String,
    pub to: String,
    pub caller: String,
    pub callee: String,
    pub outcome: &'static str,
    pub status: Option<u16>,
    pub pdd: Option<f64>,
    pub mos: Option<f64>,
    pub loss: Option<f64>,
    pub msgs: u32,
    pub retrans: u32,
    pub alerts: u32,
    pub score: u32,
    pub reasons: Vec<&'static str>,
}

/// Bins of a histogram: (low, high, count).
pub type Bins = Vec<(f64, f64, u64)>;

fn bins(edges: &[f64]) -> Bins {
    edges.windows(2).map(|w| (w[0], w[1], 0)).collect()
}

fn bin(b: &mut Bins, v: f64) {
    if !v.is_finite() {
        return;
    }
    let i = b
        .iter()
        .position(|(lo, hi, _)| v >= *lo && v < *hi)
        .unwrap_or(if v < b[0].0 { 0 } else { b.len() - 1 });
    b[i].2 += 1;
}

/// Streams drawn over time in the charts: the worst few.
const BAD_STREAMS: usize = 5;
/// Alerts listed on the page per severity (the alerts table has them all).
const ALERTS_SHOWN: usize = 500;

/// Everything the report accumulates in its one pass.
pub struct Collector {
    pub opts: ReportOptions,
    tables: Tables,
    pub stats: Stats,
    pending: HashMap<Arc<str>, Pending>,
    pending_bytes: usize,
    located_bytes: usize,
    problems: BinaryHeap<Reverse<(u32, Reverse<u64>)>>,
    problem_sections: HashMap<u64, Section>,
    /// The open incident of each failure signature: its section's sequence number.
    incidents: HashMap<u64, u64>,
    good: BTreeMap<(u64, String), Section>,
    seq: u64,
    /// The call list: problem calls, and good ones (which give way to problems when full).
    list: Vec<ListRow>,
    list_good: Vec<ListRow>,
    pub netmap: NetMap,
    pub codes: BTreeMap<u16, u64>,
    pub pdd: Bins,
    pub mos: Bins,
    pub bad_streams: Vec<StreamStats>,
    pub alerts_shown: Vec<Alert>,
    pub alert_counts: BTreeMap<(Severity, &'static str), u64>,
    pub counts: Counts,
}

/// The headline figures and what was cut to stay within bounds.
#[derive(Default, Debug, Clone, serde::Serialize)]
pub struct Counts {
    pub sip_messages: u64,
    pub retransmissions: u64,
    pub message_anomalies: u64,
    pub invite_calls: u64,
    pub other_dialogs: u64,
    pub registrations: u64,
    pub rtp_streams: u64,
    pub problem_calls: u64,
    /// Problem calls folded into the section of an earlier call that failed the same way.
    pub folded_calls: u64,
    pub alerts_fired: u64,
    /// Sections whose messages did not fit the memory budget during the pass and could not be
    /// read again (standard input, live capture).
    pub sections_without_messages: u64,
    /// Messages beyond a section's limit.
    pub msgs_cut: u64,
    /// Calls not in the page's list (the calls table has them).
    pub list_cut: u64,
    /// Alerts not listed on the page (the alerts table has them).
    pub alerts_cut: u64,
    /// Streams or alerts that found no room to wait for their call.
    pub waiting_cut: u64,
    /// RTP streams that ended after their call was written (not in its figures).
    pub late_streams: u64,
}

/// How bad a call looks, and why: alerts on it, how it ended, its media and retransmissions.
pub fn assess(c: &CallRecord, alerts: &[Alert]) -> (u32, Vec<&'static str>) {
    let mut score = 0;
    let mut why = Vec::new();
    if let Some(a) = alerts
        .iter()
        .filter(|a| a.state == State::Fired)
        .max_by_key(|a| a.severity)
    {
        score += match a.severity {
            Severity::Critical => 100,
            Severity::Warning => 40,
            Severity::Info => 10,
        };
        why.push(a.code);
    }
    let (s, w) = match c.outcome {
        Some(Outcome::Timeout) => (60, "timeout"),
        Some(Outcome::ServerFailure) => (50, "server failure"),
        Some(Outcome::InProgress) => (30, "never ended"),
        Some(Outcome::AuthFailed) => (25, "auth failed"),
        Some(Outcome::Rejected) => (20, "rejected"),
        Some(Outcome::NoAnswer) => (5, "no answer"),
        Some(Outcome::Busy) => (5, "busy"),
        _ => (0, ""),
    };
    if s > 0 {
        score += s;
        why.push(w);
    }
    if let Some(m) = &c.media {
        if m.mos.is_some_and(|m| m < 3.6) {
            score += 40;
            why.push("poor MOS");
        }
        if m.loss_pct.is_some_and(|l| l > 3.0) {
            score += 30;
            why.push("packet loss");
        }
    }
    if c.anomalies > 0 {
        score += 10;
        why.push("malformed messages");
    }
    if c.retransmissions > 0 {
        score += 5;
        why.push("retransmissions");
    }
    why.dedup();
    (score, why)
}

impl Collector {
    pub fn new(opts: ReportOptions) -> Result<Collector, OutputError> {
        let data = opts.dir.join("data");
        std::fs::create_dir_all(&data)?;
        Ok(Collector {
            tables: Tables::open(Some(&data), opts.dataset.as_ref())?,
            stats: Stats::new(Cuts::default()),
            pending: HashMap::new(),
            pending_bytes: 0,
            located_bytes: 0,
            problems: BinaryHeap::new(),
            problem_sections: HashMap::new(),
            incidents: HashMap::new(),
            good: BTreeMap::new(),
            seq: 0,
            list: Vec::new(),
            list_good: Vec::new(),
            netmap: NetMap::default(),
            codes: BTreeMap::new(),
            pdd: bins(&[
                0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 60.0,
            ]),
            mos: bins(&[
                1.0, 1.5, 2.0, 2.5, 3.0, 3.25, 3.5, 3.75, 4.0, 4.1, 4.2, 4.3, 4.4, 4.5, 5.0,
            ]),
            bad_streams: Vec::new(),
            alerts_shown: Vec::new(),
            alert_counts: BTreeMap::new(),
            counts: Counts::default(),
            opts,
        })
    }

    /// A call the filters leave out: what waits for it goes.
    pub fn forget(&mut self, call_id: &str) {
        if let Some(p) = self.pending.remove(call_id) {
            self.netmap.forget(p.steps);
            unhold(&mut self.pending_bytes, &p.msgs);
            self.located_bytes -= p.at.len() * AT_SIZE;
        }
    }

    fn message(&mut self, m: &Arc<MsgRow>) -> Result<(), OutputError> {
        self.counts.sip_messages += 1;
        self.counts.retransmissions += u64::from(m.retransmission);
        self.counts.message_anomalies += u64::from(!m.anomalies.is_empty());
        if let (Some(s), false) = (m.status, m.retransmission) {
            *self.codes.entry(s).or_default() += 1;
        }
        self.tables.message(m)?;
        self.netmap.message(m);
        let Some(cid) = &m.call_id else {
            return Ok(());
        };
        // The key shares the call's one copy of its Call-ID (the rows carry it).
        let p = self.pending.entry(cid.clone()).or_default();
        self.netmap.note(&mut p.steps, m);
        let budget = self.opts.pending_bytes.max(MIN_LOCATED_BYTES);
        // By place, every message's place: the sections' messages are all read again.
        if self.opts.by_place || p.incomplete {
            locate(p, &mut self.located_bytes, budget, std::slice::from_ref(m));
            return Ok(());
        }
        if p.msgs.len() >= self.opts.max_msgs {
            p.cut += 1;
            return Ok(());
        }
        let size = held_size(m);
        if self.pending_bytes + size > self.opts.pending_bytes {
            // Over the budget: this call's messages are fetched again if it gets a section;
            // where they were is kept while that fits.
            p.incomplete = true;
            let mut msgs = std::mem::take(&mut p.msgs);
            unhold(&mut self.pending_bytes, &msgs);
            msgs.push(Arc::clone(m));
            locate(p, &mut self.located_bytes, budget, &msgs);
            return Ok(());
        }
        self.pending_bytes += size;
        p.msgs.push(Arc::clone(m));
        Ok(())
    }

    fn stream(&mut self, s: &StreamStats) -> Result<(), OutputError> {
        self.counts.rtp_streams += 1;
        self.tables.stream(s)?;
        if let Some(m) = s.mos {
            bin(&mut self.mos, m);
        }
        self.keep_if_bad(s);
        Ok(())
    }

    /// Keeps the worst few streams (MOS, then loss) with their figures over time.
    fn keep_if_bad(&mut self, s: &StreamStats) {
        let badness = |s: &StreamStats| {
            let mos = s.mos.map_or(0.0, |m| (4.5 - m).max(0.0));
            mos * 10.0 + s.loss_pct().unwrap_or(0.0)
        };
        let poor = s.mos.is_some_and(|m| m < 3.6) || s.loss_pct().is_some_and(|l| l > 3.0);
        if !poor || s.series.is_empty() {
            return;
        }
        self.bad_streams.push(s.clone());
        self.bad_streams.sort_by(|x, y| {
            badness(y)
                .total_cmp(&badness(x))
                .then(x.first.cmp(&y.first))
        });
        self.bad_streams.truncate(BAD_STREAMS);
    }

    /// An alert from the detectors.
    pub fn alert(&mut self, a: &Alert) -> Result<(), OutputError> {
        self.tables.alert(a)?;
        if a.state != State::Fired {
            return Ok(());
        }
        self.counts.alerts_fired += 1;
        *self.alert_counts.entry((a.severity, a.code)).or_default() += 1;
        let shown = self
            .alerts_shown
            .iter()
            .filter(|x| x.severity == a.severity)
            .count();
        if shown < ALERTS_SHOWN {
            self.alerts_shown.push(a.clone());
        } else {
            self.counts.alerts_cut += 1;
        }
        Ok(())
    }

    /// A call leaves the session: to the tables, the list, and perhaps a section.
    fn release(&mut self, closed: &ClosedCall) -> Result<(), OutputError> {
        // Read in place: only a call that gets a section is copied (most are counted and go).
        let c = &closed.call;
        let alerts = &closed.alerts;
        self.stats.add_call(c);
        let mut pending = self.pending.remove(c.call_id.as_str()).unwrap_or_default();
        unhold(&mut self.pending_bytes, &pending.msgs);
        self.located_bytes -= pending.at.len() * AT_SIZE;
        let refetch = pending.incomplete || self.opts.by_place;
        let located = (refetch && !pending.unlocated).then(|| std::mem::take(&mut pending.at));
        let msgs: Vec<MsgRow> = pending.msgs.into_iter().map(Arc::unwrap_or_clone).collect();
        self.netmap.call(c, std::mem::take(&mut pending.steps));
        self.tables.call(c, alerts.len() as u64)?;
        if c.kind != CallKind::Invite {
            self.counts.other_dialogs += 1;
            return Ok(());
        }
        self.counts.invite_calls += 1;
        if let Some(p) = c.pdd {
            bin(&mut self.pdd, p);
        }
        let (score, reasons) = assess(c, alerts);
        self.counts.problem_calls += u64::from(score > 0);
        self.list_row(c, alerts.len() as u32, score, &reasons);
        let sig = if score > 0 { signature(c, &reasons) } else { 0 };
        if score > 0 && self.fold(sig, c) {
            return Ok(());
        }
        self.seq += 1;
        // A good call is sampled by the hash of its Call-ID: the smallest `sample_good` stay.
        let good_key = (score == 0).then(|| {
            let hash = crate::decode::fnv(c.call_id.as_bytes(), crate::decode::FNV_OFFSET);
            (hash, c.call_id.clone())
        });
        if let Some(key) = &good_key {
            let full = self.good.len() >= self.opts.sample_good;
            if self.opts.sample_good == 0
                || (full && self.good.last_key_value().is_some_and(|(k, _)| key > k))
            {
                return Ok(());
            }
        }
        let section = Section {
            msgs,
            msgs_cut: pending.cut,
            refetch,
            located,
            streams: closed.streams.clone(),
            owners: closed.media.iter().copied().collect(),
            alerts: alerts.clone(),
            score,
            reasons,
            similar: Similar::default(),
            signature: sig,
            capture: None,
            call: c.clone(),
        };
        match good_key {
            None => self.keep_problem(section),
            Some(key) => {
                self.good.insert(key, section);
                if self.good.len() > self.opts.sample_good {
                    self.good.pop_last();
                }
            }
        }
        Ok(())
    }

    /// Adds a problem call to the open incident of its signature when it starts within
    /// [`INCIDENT_GAP`] of it; false when it opens a new one.
    fn fold(&mut self, sig: u64, c: &CallRecord) -> bool {
        let Some(s) = self
            .incidents
            .get(&sig)
            .and_then(|seq| self.problem_sections.get_mut(seq))
        else {
            return false;
        };
        let first = s.similar.first.unwrap_or(s.call.start);
        let last = s.similar.last.unwrap_or(s.call.start);
        let near = c.start.0 >= first.0.saturating_sub(INCIDENT_GAP)
            && c.start.0 <= last.0.saturating_add(INCIDENT_GAP);
        if !near {
            return false;
        }
        s.similar.count += 1;
        s.similar.first = Some(first.min(c.start));
        s.similar.last = Some(last.max(c.start));
        if s.similar.call_ids.len() < SIMILAR_LISTED {
            s.similar.call_ids.push(c.call_id.clone());
        }
        self.counts.folded_calls += 1;
        true
    }

    fn keep_problem(&mut self, s: Section) {
        let key = (s.score, Reverse(self.seq));
        if self.problems.len() < self.opts.max_calls {
            self.problems.push(Reverse(key));
            self.incidents.insert(s.signature, self.seq);
            self.problem_sections.insert(self.seq, s);
            return;
        }
        match self.problems.peek() {
            Some(Reverse(min)) if key > *min => {
                if let Some(Reverse((_, Reverse(old)))) = self.problems.pop() {
                    if let Some(gone) = self.problem_sections.remove(&old) {
                        if self.incidents.get(&gone.signature) == Some(&old) {
                            self.incidents.remove(&gone.signature);
                        }
                    }
                }
                self.problems.push(Reverse(key));
                self.incidents.insert(s.signature, self.seq);
                self.problem_sections.insert(self.seq, s);
            }
            _ => {}
        }
    }

    fn list_row(&mut self, c: &CallRecord, alerts: u32, score: u32, reasons: &[&'static str]) {
        let row = ListRow {
            call_id: c.call_id.clone(),
            start: c.start,
            duration: c.duration,
            from: c.from.clone(),
            to: c.to.clone(),
            caller: c
                .caller
                .map(crate::output::schema::addr_text)
                .unwrap_or_default(),
            callee: c
                .detail
                .as_ref()
                .and_then(|d| d.callee)
                .map(crate::output::schema::addr_text)
                .unwrap_or_default(),
            outcome: c.outcome.map_or("unknown", Outcome::as_str),
            status: c.final_status,
            pdd: c.pdd,
            mos: c.media.as_ref().and_then(|m| m.mos),
            loss: c.media.as_ref().and_then(|m| m.loss_pct),
            msgs: c.messages,
            retrans: c.retransmissions,
            alerts,
            score,
            reasons: reasons.to_vec(),
        };
        if self.list.len() + self.list_good.len() < self.opts.max_list {
            if score > 0 {
                self.list.push(row);
            } else {
                self.list_good.push(row);
            }
            return;
        }
        // Full: a problem call takes the place of the latest good one.
        self.counts.list_cut += 1;
        if score > 0 && self.list_good.pop().is_some() {
            self.list.push(row);
        }
    }

    /// End of input: the calls still held, then the tables closed. Returns what the page shows.
    pub fn finish(mut self, end: Option<Ts>) -> Result<Finished, OutputError> {
        self.counts.msgs_cut = 0;
        let mut sections: Vec<Section> = self.problem_sections.into_values().collect();
        sections.extend(self.good.into_values());
        for s in &sections {
            self.counts.msgs_cut += u64::from(s.msgs_cut);
        }
        // Problem calls first, the worst on top; then the good sample in time order.
        sections.sort_by(|a, b| {
            (Reverse(a.score), a.call.start, &a.call.call_id).cmp(&(
                Reverse(b.score),
                b.call.start,
                &b.call.call_id,
            ))
        });
        self.list.append(&mut self.list_good);
        self.list
            .sort_by(|a, b| (a.start, &a.call_id).cmp(&(b.start, &b.call_id)));
        self.alerts_shown.sort_by(|a, b| {
            (Reverse(a.severity), a.ts, a.code).cmp(&(Reverse(b.severity), b.ts, b.code))
        });
        self.stats.finish(end);
        let written = self.tables.finish()?;
        Ok(Finished {
            sections,
            list: self.list,
            stats: self.stats,
            netmap: self.netmap,
            codes: self.codes,
            pdd: self.pdd,
            mos: self.mos,
            bad_streams: self.bad_streams,
            alerts: self.alerts_shown,
            alert_counts: self.alert_counts,
            counts: self.counts,
            table_rows: written.rows,
            dataset_parts: written.parts,
            dataset_notes: written.notes,
            opts: self.opts,
        })
    }
}

impl Sink for Collector {
    fn needs(&self) -> Needs {
        Needs {
            messages: true,
            // Texts only to hold: by place, the sections' messages are read again.
            text: !self.opts.by_place,
            raw: false,
            detail: true,
            media: true,
            // One point a second of every stream, for the charts of the worst ones.
            series: Some(NANOS_PER_SEC),
            alerts: true,
            // Calls the filter leaves out still free the messages held for them.
            context: true,
            changes: false,
            rtcp: false,
        }
    }

    fn event(&mut self, e: &Event<'_>, selected: bool) -> Result<(), OutputError> {
        match (e, selected) {
            (Event::CallClosed(c), false) => self.forget(&c.call.call_id),
            (_, false) => {}
            (Event::Message(m), true) => self.message(m)?,
            (Event::Stream(s), true) => self.stream(s)?,
            (Event::CallClosed(c), true) => self.release(c)?,
            (Event::Registration(r), true) => {
                self.counts.registrations += 1;
                self.stats.add_reg(r);
                self.tables.registration(r)?;
            }
            (Event::Alert(a), true) => self.alert(a)?,
            (Event::CallChanged(_) | Event::Tick(_) | Event::Rtcp(_), true) => {}
        }
        Ok(())
    }
}

/// What the page is made of, once the pass is over.
pub struct Finished {
    pub opts: ReportOptions,
    pub sections: Vec<Section>,
    pub list: Vec<ListRow>,
    pub stats: Stats,
    pub netmap: NetMap,
    pub codes: BTreeMap<u16, u64>,
    pub pdd: Bins,
    pub mos: Bins,
    pub bad_streams: Vec<StreamStats>,
    pub alerts: Vec<Alert>,
    pub alert_counts: BTreeMap<(Severity, &'static str), u64>,
    pub counts: Counts,
    pub table_rows: Vec<(&'static str, u64)>,
    /// The dataset's parts the run published (`--dataset`).
    pub dataset_parts: Vec<PathBuf>,
    pub dataset_notes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_take_every_value() {
        let mut b = bins(&[0.0, 1.0, 2.0]);
        for v in [-1.0, 0.0, 0.5, 1.0, 1.99, 2.0, 99.0, f64::NAN] {
            bin(&mut b, v);
        }
        assert_eq!(b.iter().map(|x| x.2).collect::<Vec<_>>(), vec![3, 4]);
    }
}
