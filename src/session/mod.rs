//! The session stage: what a call finally is, after correlation, for every output.
//!
//! ```text
//! pipeline ─Output─▶ Session ─Event─▶ Sink (a command, the report, the terminal UI ...)
//! ```
//! The one home of what happens after the correlators: it links B2BUA legs with one rule
//! ([`legs`]), joins RTP streams to calls with one index ([`media`]), runs the alert engine on
//! everything it sees, and applies the user's [`Filter`] once to every event kind, so that a
//! filter means the same in every command while the detectors still see the unfiltered traffic
//! (an auth-failure count needs the successes the filter would hide).
//!
//! Events are emitted as things happen: a message; a call changed phase (at the message that
//! changed it, when the sink asks for changes); a stream (resolved once, when it ends); a
//! registration; an alert; a tick of capture time. A call closes 32 s after its last message
//! (the correlator's grace) and is then held [`HOLD`] more, so that its streams (RTP is judged
//! ended 60 s after its last packet) and the other legs of the call can join it; then it leaves
//! as [`ClosedCall`], with its legs, streams, alerts and media announcements.
//!
//! Bounded: held calls by the hold time and by [`MAX_HELD`]; streams and alerts waiting for an open call, and the
//! verdicts remembered for late arrivals, by fixed caps, each overflow counted in
//! [`SessionStats`] and said to the user.

pub mod filter;
pub mod legs;
pub mod media;
mod run;
#[cfg(test)]
mod tests;

use foldhash::{HashMap, HashMapExt};
use std::collections::VecDeque;
use std::net::SocketAddr;

pub use filter::Filter;
pub use run::{run, Report, RunError};

use crate::analysis::alerts::{Alert, Engine, State, Thresholds, MEDIA_PROGRESS};
use crate::analysis::rtcp::RtcpSeen;
use crate::analysis::rtp::StreamStats;
use crate::correlate::record::{
    CallChange, CallKind, CallMedia, CallRecord, Leg, MsgRow, RegRecord,
};
use crate::correlate::Output;
use crate::output::OutputError;
use crate::pipeline::{PipelineConfig, RunStats};
use crate::time::{Nanos, Ts, NANOS_PER_SEC};

/// How long a closed call waits for its late streams and its other legs: RTP is judged ended
/// 60 s after its last packet, the call 32 s after its last message, so a stream whose last
/// packet came up to 32 s after the call's last message still joins it.
pub const HOLD: Nanos = 60 * NANOS_PER_SEC;
/// How long the verdict on a released call is remembered, for streams and alerts that come later.
const VERDICT_KEEP: Nanos = 600 * NANOS_PER_SEC;
/// Verdicts remembered at most.
const MAX_VERDICTS: usize = 500_000;
/// Streams and alerts waiting for open calls, at most (all calls together).
const MAX_WAITING: usize = 200_000;
/// Closed calls held at most: past it the oldest leave before their hold is up, so a flood of
/// short calls (millions of Call-IDs in seconds of capture time) cannot grow the hold unbounded.
pub const MAX_HELD: usize = 100_000;
/// Alerts kept with one call.
pub const ALERTS_PER_CALL: usize = 20;

/// A call as it leaves the session: its record with legs and media figures, its RTP streams
/// (without their time series), the alerts raised on it (at most [`ALERTS_PER_CALL`]), and its
/// SDP media addresses with the signalling endpoint that announced each.
#[derive(Clone, Debug)]
pub struct ClosedCall {
    pub call: CallRecord,
    pub streams: Vec<StreamStats>,
    pub alerts: Vec<Alert>,
    pub media: Vec<(SocketAddr, SocketAddr)>,
}

/// The state of the run at a tick of capture time.
#[derive(Clone, Debug, Default)]
pub struct Tick {
    pub now: Ts,
    /// Packets a live capture has dropped so far.
    pub dropped: u64,
    /// Frames read so far (up to the latest batch).
    pub frames: u64,
    /// Gaps in TCP streams met so far.
    pub tcp_gaps: u64,
    /// INVITE calls between their INVITE and their BYE or final failure, of those the filter
    /// selects (counted when the sink asks for changes).
    pub open_calls: usize,
    /// Sizes of the session's and the detectors' tables.
    pub tables: Vec<(&'static str, usize)>,
    /// Entries the detectors dropped from full tables.
    pub detector_evictions: u64,
}

/// What a sink is told.
pub enum Event<'a> {
    /// Shared with the session: a sink may keep it (`Arc::clone`) instead of copying it.
    Message(&'a std::sync::Arc<MsgRow>),
    CallChanged(&'a CallChange),
    CallClosed(&'a ClosedCall),
    /// An RTP stream that ended, tied to its call (or to none).
    Stream(&'a StreamStats),
    Registration(&'a RegRecord),
    Alert(&'a Alert),
    Tick(&'a Tick),
    /// An RTCP datagram as captured, with the call its media belongs to (when the sink asks for
    /// them: [`Needs::rtcp`]).
    Rtcp(&'a RtcpSeen),
}

/// What a sink needs; the session and the pipeline do only the work someone asked for.
#[derive(Clone, Copy, Debug, Default)]
pub struct Needs {
    /// [`Event::Message`].
    pub messages: bool,
    /// Each message with its full text.
    pub text: bool,
    /// Each message with the parsed message over its captured bytes ([`MsgRow::sip`]).
    pub raw: bool,
    /// Timings, transactions and message counts in call records (statistics).
    pub detail: bool,
    /// [`Event::CallChanged`].
    pub changes: bool,
    /// RTP analysed and joined to calls: [`Event::Stream`] and the calls' media figures.
    pub media: bool,
    /// Each stream's figures over time, at this interval.
    pub series: Option<Nanos>,
    /// The detectors run: [`Event::Alert`].
    pub alerts: bool,
    /// Every event, whether the filter selects it or not (told apart by `selected`).
    pub context: bool,
    /// [`Event::Rtcp`]: every RTCP datagram, tied to its call by the media index.
    pub rtcp: bool,
}

impl Needs {
    /// Turns on the pipeline's work these needs call for (and nothing else).
    pub fn configure(&self, p: &mut PipelineConfig) {
        let c = &mut p.correlator;
        c.want_messages = self.messages || self.alerts;
        c.want_text = self.text;
        c.want_raw = self.raw;
        // Rows for the detectors alone (`alerts`) go without the SDP summary no one reads.
        c.want_sdp_summary = self.messages;
        c.want_detail = self.detail || self.alerts;
        c.want_changes = self.changes;
        // The media index is filled from the SDP of messages.
        c.want_media = self.media || self.alerts || self.rtcp;
        let r = &mut p.media;
        r.track_rtp = self.media || self.alerts;
        r.rtcp_packets = self.rtcp;
        r.rtp_series = self.series;
        r.rtp_progress = self.alerts.then_some(MEDIA_PROGRESS);
    }
}

/// A consumer of session events (a push sink, as ripgrep's `Sink`).
pub trait Sink {
    fn needs(&self) -> Needs;
    /// One event; `selected` is false only for a sink whose needs ask for `context`.
    fn event(&mut self, e: &Event<'_>, selected: bool) -> Result<(), OutputError>;
}

/// Calls a sink handled at their end, until they close: a sink that acts on a call's final
/// change (print it, count it) and again when it closes uses this to tell the two apart.
/// Bounded by time: an entry whose close never reached the sink (the filter left the final
/// record out) goes after [`VERDICT_KEEP`] of capture time.
#[derive(Default)]
pub struct Ended {
    at: HashMap<String, Ts>,
    last_prune: Ts,
}

impl Ended {
    /// The call ended at `ts`; false if it was already marked.
    pub fn mark(&mut self, call_id: &str, ts: Ts) -> bool {
        if self.at.contains_key(call_id) {
            return false;
        }
        self.at.insert(call_id.to_string(), ts);
        if ts.since(self.last_prune) > VERDICT_KEEP {
            self.last_prune = ts;
            self.at.retain(|_, t| ts.since(*t) <= VERDICT_KEEP);
        }
        true
    }

    /// The call closed: whether it had been marked.
    pub fn closed(&mut self, call_id: &str) -> bool {
        self.at.remove(call_id).is_some()
    }
}

/// What the session counted: every cut it made is here, for the user's warnings.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct SessionStats {
    pub calls_closed: u64,
    /// Streams that ended after their call had left (not in its media figures).
    pub late_streams: u64,
    /// Streams or alerts that found no room to wait for their call (emitted unjoined).
    pub waiting_dropped: u64,
    /// Links not made: a session key already linked a full group, or a call already listed
    /// its most legs.
    pub legs_capped: u64,
    /// SDP announcements not indexed because the media index was full.
    pub media_dropped: u64,
    /// Verdicts forgotten early because too many were remembered.
    pub verdicts_dropped: u64,
    /// Calls released before their hold was up because too many were held (a later stream or
    /// leg of theirs no longer joins them).
    pub held_released_early: u64,
    /// Entries the alert detectors dropped from their own full tables (calls watched, sources,
    /// peers, AORs): alerts about them may be missed.
    pub detector_evicted: u64,
}

/// The session's options.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub filter: Filter,
    pub thresholds: Thresholds,
    pub hold: Nanos,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            filter: Filter::default(),
            thresholds: Thresholds::default(),
            hold: HOLD,
        }
    }
}

struct Held {
    closed: ClosedCall,
    selected: bool,
    gen: u64,
}

pub struct Session {
    cfg: SessionConfig,
    needs: Needs,
    engine: Option<Engine>,
    index: media::MediaIndex,
    legs: legs::LegLinker,
    held: HashMap<String, Held>,
    queue: VecDeque<(Ts, String, u64)>,
    gen: u64,
    waiting_streams: HashMap<String, Vec<StreamStats>>,
    /// Alerts of open calls, and whether each was already emitted.
    waiting_alerts: HashMap<String, Vec<(Alert, bool)>>,
    waiting: usize,
    verdicts: HashMap<String, bool>,
    verdict_order: VecDeque<(Ts, String)>,
    /// Open INVITE calls (between their first and their final change) and whether selected.
    open: HashMap<String, bool>,
    open_selected: usize,
    now: Ts,
    last_timer: Ts,
    dropped_said: u64,
    /// Leg links a call had no room for.
    legs_full: u64,
    pub stats: SessionStats,
}

/// Legs one call lists, at most (a B2BUA call has a handful).
const MAX_LEGS: usize = 16;

/// Adds a leg unless the call has it already; false when the call had no room for it.
fn add_leg(c: &mut CallRecord, other: &str, via: &str) -> bool {
    if c.legs.iter().any(|l| l.call_id == other) {
        return true;
    }
    if c.legs.len() >= MAX_LEGS {
        return false;
    }
    c.legs.push(Leg {
        call_id: other.to_string(),
        via: via.to_string(),
    });
    c.legs.sort();
    true
}

impl Session {
    pub fn new(cfg: SessionConfig, needs: Needs) -> Session {
        Session {
            engine: needs.alerts.then(|| Engine::new(cfg.thresholds.clone())),
            legs: legs::LegLinker::new(cfg.hold),
            cfg,
            needs,
            index: media::MediaIndex::default(),
            held: HashMap::new(),
            queue: VecDeque::new(),
            gen: 0,
            waiting_streams: HashMap::new(),
            waiting_alerts: HashMap::new(),
            waiting: 0,
            verdicts: HashMap::new(),
            verdict_order: VecDeque::new(),
            open: HashMap::new(),
            open_selected: 0,
            now: Ts::ZERO,
            last_timer: Ts::ZERO,
            dropped_said: 0,
            legs_full: 0,
            stats: SessionStats::default(),
        }
    }

    fn emit(&self, sink: &mut dyn Sink, e: Event<'_>, selected: bool) -> Result<(), OutputError> {
        if selected || self.needs.context {
            sink.event(&e, selected)
        } else {
            Ok(())
        }
    }

    /// Takes one output of the pipeline (in the pipeline's order).
    pub fn output(&mut self, o: Output, sink: &mut dyn Sink) -> Result<(), OutputError> {
        match o {
            Output::Msg(m) => {
                self.now = self.now.max(m.ts);
                if let Some(e) = &mut self.engine {
                    e.on_msg(&m);
                }
                if self.needs.messages {
                    let sel = self.cfg.filter.message(&m);
                    self.emit(sink, Event::Message(&m), sel)?;
                }
                self.timers(self.now);
            }
            Output::Media(m) => {
                if let Some(e) = &mut self.engine {
                    e.on_media(&m);
                }
                self.index.add(m);
                self.stats.media_dropped = self.index.dropped;
            }
            Output::Rtp(mut s) => {
                self.index.resolve(&mut s);
                if let Some(e) = &mut self.engine {
                    e.on_stream(&s);
                }
                self.stream(*s, sink)?;
            }
            Output::RtpLive(v) => {
                if let Some(e) = &mut self.engine {
                    if !v.is_empty() {
                        e.media_flowing();
                    }
                    for s in &v {
                        if let Some(cid) = self.index.call_of(s.src, s.dst, s.first) {
                            e.on_live_stream(cid, s.dst, s.last);
                        }
                    }
                }
            }
            Output::Change(c) => {
                let sel = self.cfg.filter.call(&c.call);
                match (c.phase.is_final(), self.open.get(&c.call.call_id).copied()) {
                    (false, None) => {
                        self.open.insert(c.call.call_id.clone(), sel);
                        self.open_selected += usize::from(sel);
                    }
                    (false, Some(was)) if was != sel => {
                        self.open.insert(c.call.call_id.clone(), sel);
                        self.open_selected =
                            self.open_selected + usize::from(sel) - usize::from(was);
                    }
                    (true, Some(_)) => self.close_open(&c.call.call_id),
                    _ => {}
                }
                if self.needs.changes {
                    self.emit(sink, Event::CallChanged(&c), sel)?;
                }
            }
            Output::Call(c) => self.close(*c, sink)?,
            Output::Rtcp(mut r) => {
                if self.needs.rtcp {
                    r.call_id = self.index.rtcp_call(r.src, r.dst, r.ts).map(str::to_string);
                    let sel = self.rtcp_selected(&r);
                    self.emit(sink, Event::Rtcp(&r), sel)?;
                }
            }
            Output::Reg(r) => {
                let sel = self.cfg.filter.registration(&r);
                self.emit(sink, Event::Registration(&r), sel)?;
            }
            Output::Tick(t, health) => {
                let dropped = health.dropped;
                self.now = self.now.max(t);
                if let Some(e) = &mut self.engine {
                    e.decide_media(t);
                    // A live capture's own drops, as they grow: every new loss is said.
                    if dropped > self.dropped_said {
                        e.capture_loss(t, dropped - self.dropped_said, 0, 0);
                        self.dropped_said = dropped;
                    }
                }
                self.timers(t);
                self.alerts(sink)?;
                self.release(t, false, sink)?;
                let tick = Tick {
                    now: t,
                    dropped,
                    frames: health.frames,
                    tcp_gaps: health.tcp_gaps,
                    open_calls: self.open_selected,
                    tables: self.tables(),
                    detector_evictions: self.engine.as_ref().map_or(0, |e| e.stats.evicted),
                };
                self.emit(sink, Event::Tick(&tick), true)?;
            }
        }
        self.alerts(sink)
    }

    /// Whether the filter selects an RTCP datagram. One tied to a call goes with the call: its
    /// verdict once known (an INVITE call judged at its changes, a closed call); before that
    /// only a filter on nothing but the Call-ID can tell, so with one on more (users, method,
    /// addresses, time, outcome, node) the RTCP of a call not yet judged is not selected. One
    /// tied to no call passes as a stream no call claims, on its addresses and time.
    fn rtcp_selected(&self, r: &RtcpSeen) -> bool {
        let f = &self.cfg.filter;
        let Some(cid) = r.call_id.as_deref() else {
            return !f.names_call()
                && f.addr.is_none_or(|a| r.src.ip() == a || r.dst.ip() == a)
                && f.since.is_none_or(|s| r.ts >= s)
                && f.until.is_none_or(|u| r.ts <= u);
        };
        if let Some(h) = self.held.get(cid) {
            return h.selected;
        }
        if let Some(&sel) = self.verdicts.get(cid).or_else(|| self.open.get(cid)) {
            return sel;
        }
        f.call_id.as_deref().is_none_or(|c| c == cid)
            && !(f.from.is_some()
                || f.to.is_some()
                || f.method.is_some()
                || f.outcome.is_some()
                || f.node.is_some()
                || f.addr.is_some()
                || f.since.is_some()
                || f.until.is_some())
    }

    fn close_open(&mut self, call_id: &str) {
        if let Some(was) = self.open.remove(call_id) {
            self.open_selected -= usize::from(was);
        }
    }

    /// The sizes of every table of the session and the detectors.
    pub fn tables(&self) -> Vec<(&'static str, usize)> {
        let mut v = vec![
            ("media_index", self.index.len()),
            ("held_calls", self.held.len()),
            ("leg_window", self.legs.len()),
            ("waiting", self.waiting),
            ("verdicts", self.verdicts.len()),
        ];
        if let Some(e) = &self.engine {
            v.extend(e.table_sizes());
        }
        v
    }

    /// The detectors' timers run once a second of capture time; alerts carry their own
    /// deadlines, so this does not change what they say.
    fn timers(&mut self, now: Ts) {
        if now.since(self.last_timer) < NANOS_PER_SEC {
            return;
        }
        self.last_timer = now;
        if let Some(e) = &mut self.engine {
            e.tick(now);
            e.settle(now, false);
        }
    }

    fn alerts(&mut self, sink: &mut dyn Sink) -> Result<(), OutputError> {
        let Some(e) = &mut self.engine else {
            return Ok(());
        };
        for a in e.take() {
            self.alert(a, sink)?;
        }
        Ok(())
    }

    fn alert(&mut self, a: Alert, sink: &mut dyn Sink) -> Result<(), OutputError> {
        let Some(cid) = a.call_id.clone() else {
            let sel = self.cfg.filter.endpoint_alert(&a);
            return self.emit(sink, Event::Alert(&a), sel);
        };
        if let Some(h) = self.held.get_mut(&cid) {
            let sel = h.selected;
            if h.closed.alerts.len() < ALERTS_PER_CALL && a.state == State::Fired {
                h.closed.alerts.push(a.clone());
            }
            return self.emit(sink, Event::Alert(&a), sel);
        }
        if let Some(&sel) = self.verdicts.get(&cid) {
            return self.emit(sink, Event::Alert(&a), sel);
        }
        // The call is still open: with no filter the alert goes now, else when the call's
        // verdict is known.
        let now = self.cfg.filter.is_empty();
        if now {
            self.emit(sink, Event::Alert(&a), true)?;
        }
        if self.waiting >= MAX_WAITING {
            self.stats.waiting_dropped += 1;
            if !now {
                self.emit(sink, Event::Alert(&a), false)?;
            }
            return Ok(());
        }
        let v = self.waiting_alerts.entry(cid).or_default();
        if v.len() < ALERTS_PER_CALL * 4 {
            self.waiting += 1;
            v.push((a, now));
        } else if !now {
            self.emit(sink, Event::Alert(&a), false)?;
        }
        Ok(())
    }

    fn stream(&mut self, mut s: StreamStats, sink: &mut dyn Sink) -> Result<(), OutputError> {
        let Some(cid) = s.call_id.clone() else {
            let sel = self.cfg.filter.unclaimed_stream(&s);
            return self.emit(sink, Event::Stream(&s), sel);
        };
        if let Some(sel) = self.held.get(&cid).map(|h| h.selected) {
            self.emit(sink, Event::Stream(&s), sel)?;
            s.series = Vec::new();
            if let Some(h) = self.held.get_mut(&cid) {
                h.closed.streams.push(s);
            }
            return Ok(());
        }
        if let Some(&sel) = self.verdicts.get(&cid) {
            self.stats.late_streams += 1;
            return self.emit(sink, Event::Stream(&s), sel);
        }
        if self.waiting >= MAX_WAITING {
            self.stats.waiting_dropped += 1;
            let sel = self.cfg.filter.is_empty();
            return self.emit(sink, Event::Stream(&s), sel);
        }
        self.waiting += 1;
        self.waiting_streams.entry(cid).or_default().push(s);
        Ok(())
    }

    /// A call closed in the correlator: linked to its legs, its waiting streams and alerts
    /// judged with it, then held for what comes late.
    fn close(&mut self, mut c: CallRecord, sink: &mut dyn Sink) -> Result<(), OutputError> {
        self.stats.calls_closed += 1;
        self.close_open(&c.call_id);
        if let Some(e) = &mut self.engine {
            e.on_call(&c);
        }
        if self.held.contains_key(&c.call_id) {
            // The same Call-ID again (a new call reusing it): the earlier one goes first.
            if let Some(h) = self.held.remove(&c.call_id) {
                self.leave(h, sink)?;
            }
        }
        let now = self.now.max(c.end);
        let mut full = 0;
        for (other, via) in self.legs.close(&c, now) {
            full += u64::from(!add_leg(&mut c, &other, &via));
            if let Some(h) = self.held.get_mut(&other) {
                full += u64::from(!add_leg(&mut h.closed.call, &c.call_id, &via));
            }
        }
        self.legs_full += full;
        self.stats.legs_capped = self.legs.capped + self.legs_full;
        let sel = self.cfg.filter.call(&c);
        let mut streams = self.waiting_streams.remove(&c.call_id).unwrap_or_default();
        self.waiting -= streams.len();
        for s in streams.iter_mut() {
            self.emit(sink, Event::Stream(s), sel)?;
            s.series = Vec::new();
        }
        let waiting = self.waiting_alerts.remove(&c.call_id).unwrap_or_default();
        self.waiting -= waiting.len();
        let mut alerts = Vec::new();
        for (a, emitted) in waiting {
            if !emitted {
                self.emit(sink, Event::Alert(&a), sel)?;
            }
            if alerts.len() < ALERTS_PER_CALL && a.state == State::Fired {
                alerts.push(a);
            }
        }
        self.gen += 1;
        self.queue.push_back((
            now.saturating_add(self.cfg.hold),
            c.call_id.clone(),
            self.gen,
        ));
        self.held.insert(
            c.call_id.clone(),
            Held {
                closed: ClosedCall {
                    call: c,
                    streams,
                    alerts,
                    media: Vec::new(),
                },
                selected: sel,
                gen: self.gen,
            },
        );
        if self.held.len() > MAX_HELD {
            self.release(self.now, false, sink)?;
        }
        Ok(())
    }

    /// Releases the held calls whose time is up (all of them at the end), in start order.
    fn release(&mut self, now: Ts, all: bool, sink: &mut dyn Sink) -> Result<(), OutputError> {
        let mut due = Vec::new();
        let mut trimming = false;
        while let Some((at, _, _)) = self.queue.front() {
            // Past the cap, the oldest leave early (the queue is in closing order), down to
            // nine tenths at once, so that a full hold is not sorted again at every call.
            let early = !all && *at > now;
            if early {
                trimming |= self.held.len() > MAX_HELD;
                if !trimming || self.held.len() <= MAX_HELD - MAX_HELD / 10 {
                    break;
                }
            }
            let Some((_, cid, gen)) = self.queue.pop_front() else {
                break;
            };
            if self.held.get(&cid).is_some_and(|h| h.gen == gen) {
                if let Some(h) = self.held.remove(&cid) {
                    self.stats.held_released_early += u64::from(early);
                    due.push(h);
                }
            }
        }
        due.sort_by(|a, b| {
            (a.closed.call.start, &a.closed.call.call_id)
                .cmp(&(b.closed.call.start, &b.closed.call.call_id))
        });
        for h in due {
            self.leave(h, sink)?;
        }
        // Verdicts are kept a while for streams and alerts that come later still.
        while let Some((at, _)) = self.verdict_order.front() {
            let expired = now.since(*at) > VERDICT_KEEP;
            if !expired && self.verdicts.len() <= MAX_VERDICTS {
                break;
            }
            if let Some((_, cid)) = self.verdict_order.pop_front() {
                self.stats.verdicts_dropped += u64::from(!expired);
                self.verdicts.remove(&cid);
            }
        }
        Ok(())
    }

    fn leave(&mut self, mut h: Held, sink: &mut dyn Sink) -> Result<(), OutputError> {
        let c = &mut h.closed;
        if self.needs.media && c.call.kind == CallKind::Invite {
            let mut m = CallMedia::default();
            for s in &c.streams {
                m.add(s);
            }
            c.call.media = Some(m);
        }
        c.media = self.index.announced(&c.call.call_id);
        self.index.forget(&c.call.call_id);
        self.verdicts.insert(c.call.call_id.clone(), h.selected);
        self.verdict_order
            .push_back((self.now, c.call.call_id.clone()));
        self.emit(sink, Event::CallClosed(&h.closed), h.selected)
    }

    /// End of input: the detectors' last word, then every held call.
    pub fn finish(&mut self, run: &RunStats, sink: &mut dyn Sink) -> Result<(), OutputError> {
        let end = run.last_ts.unwrap_or(self.now).max(self.now);
        self.now = end;
        if let Some(e) = &mut self.engine {
            e.tick(end);
            e.settle(end, true);
            e.media_end(end);
            // What the capture lost that no tick reported yet.
            let dropped = run.capture.dropped_kernel
                + run.capture.dropped_interface
                + run.capture.dropped_behind;
            e.capture_loss(
                end,
                dropped.saturating_sub(self.dropped_said),
                0,
                run.reassembly.tcp.gaps,
            );
            // The detectors' own evictions, before the pipeline's are added to the same count.
            self.stats.detector_evicted = e.stats.evicted;
            e.table_limits(
                end,
                &[
                    ("live calls", run.correlate.calls_evicted),
                    ("TCP connection", run.reassembly.flows_evicted),
                    ("IP fragment", run.decode.ip_frag_evicted),
                ],
            );
        }
        self.alerts(sink)?;
        self.release(end, true, sink)?;
        // Streams whose call never closed (cannot happen: the correlator closes every call at
        // the end) are still listed, never lost.
        let left: Vec<(String, Vec<StreamStats>)> = self.waiting_streams.drain().collect();
        for (_, v) in left {
            for s in v {
                self.stats.late_streams += 1;
                let sel = self.cfg.filter.is_empty();
                self.emit(sink, Event::Stream(&s), sel)?;
            }
        }
        self.waiting = 0;
        self.alerts(sink)
    }
}
