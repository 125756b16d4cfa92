//! What the terminal UI keeps: calls with their messages, streams and alerts, registrations,
//! the capture's streams and alerts, and the counters of the header, all bounded.
//!
//! A call enters at its first message (an INVITE call shows at its INVITE) and follows the
//! session's events: its phase at each change, its final record (legs, media figures) when it
//! closes. At most `max_calls` calls are kept: beyond, the oldest finished call goes first (an
//! unfinished one only when none has finished), and each eviction is counted on screen. Message
//! texts share a byte budget: beyond it, the oldest finished calls lose their messages (their
//! rows stay) and that too is counted.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use sipscope::analysis::alerts::{Alert, State};
use sipscope::analysis::rtp::StreamStats;
use sipscope::correlate::record::{
    CallChange, CallKind, CallMedia, CallRecord, MsgRow, Phase, RegRecord,
};
use sipscope::session::{ClosedCall, Tick};
use sipscope::sip::Method;
use sipscope::time::Ts;

/// Messages kept for one call (the rest are counted).
pub const MSGS_PER_CALL: usize = 2_000;
/// Registrations, capture-wide streams and alerts kept (the oldest go first).
pub const MAX_REGS: usize = 20_000;
pub const MAX_STREAMS: usize = 20_000;
pub const MAX_ALERTS: usize = 20_000;
/// Response codes counted (distinct codes).
const MAX_CODES: usize = 1_000;

/// One call (or other dialog) as the UI knows it.
pub struct CallEntry {
    pub call: CallRecord,
    /// The phase of an INVITE call (None for other dialogs, and before its first change).
    pub phase: Option<Phase>,
    /// The session closed it: the record is final.
    pub closed: bool,
    pub msgs: Vec<MsgRow>,
    /// Messages not kept: past [`MSGS_PER_CALL`], or let go for the memory budget.
    pub msgs_dropped: u32,
    pub streams: Vec<StreamStats>,
    pub alerts: Vec<Alert>,
    /// Media address → the signalling endpoint that announced it.
    pub media: Vec<(std::net::SocketAddr, std::net::SocketAddr)>,
    /// The transport of its first message.
    pub transport: &'static str,
    /// Arrival order.
    pub seq: u64,
    text_bytes: usize,
}

impl CallEntry {
    /// What the state column says: the phase live, the outcome once it is over.
    pub fn state(&self) -> String {
        if self.call.kind != CallKind::Invite {
            return if self.closed { "closed" } else { "open" }.into();
        }
        match self.phase {
            Some(Phase::Ended) => match self.call.ended_by {
                Some(by) => format!("ended by {by}"),
                None => "ended".into(),
            },
            Some(Phase::Failed) => self
                .call
                .outcome
                .map_or("failed", |o| o.as_str())
                .to_string(),
            Some(p) if !self.closed => p.as_str().to_string(),
            _ => self
                .call
                .outcome
                .map_or("unknown", |o| o.as_str())
                .to_string(),
        }
    }

    /// The call is over: ended, failed, or closed by the session.
    pub fn finished(&self) -> bool {
        self.closed || matches!(self.phase, Some(Phase::Ended | Phase::Failed))
    }

    pub fn worst_mos(&self) -> Option<f64> {
        self.media().and_then(|m| m.mos)
    }

    pub fn worst_loss(&self) -> Option<f64> {
        self.media().and_then(|m| m.loss_pct)
    }

    fn media(&self) -> Option<CallMedia> {
        if let Some(m) = &self.call.media {
            return Some(m.clone());
        }
        if self.streams.is_empty() {
            return None;
        }
        let mut m = CallMedia::default();
        for s in &self.streams {
            m.add(s);
        }
        Some(m)
    }
}

/// The counters of the header and the statistics screen.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    pub messages: u64,
    pub retransmissions: u64,
    pub anomalies: u64,
    pub calls_seen: u64,
    pub calls_evicted: u64,
    pub texts_evicted: u64,
    pub msgs_dropped: u64,
    pub regs_dropped: u64,
    pub streams_dropped: u64,
    pub alerts_dropped: u64,
    pub alerts_fired: u64,
    /// The latest capture time seen, and the first.
    pub first_ts: Option<Ts>,
    pub last_ts: Option<Ts>,
    /// Packets the live capture dropped (kernel), from the latest tick.
    pub kernel_drops: u64,
    /// Frames read, from the latest tick.
    pub frames: u64,
    /// Gaps in TCP streams, from the latest tick.
    pub tcp_gaps: u64,
    pub detector_evictions: u64,
    /// Response codes of final answers to INVITEs seen in messages (not retransmissions).
    pub codes: BTreeMap<u16, u64>,
}

impl Counters {
    /// What the screen's own bounds let go, for the end of the run (the header shows the same
    /// figures while it runs).
    pub fn losses(&self) -> Vec<String> {
        [
            (
                self.calls_evicted,
                "calls let go from the screen: --max-calls of them were kept (raise it)"
                    .to_string(),
            ),
            (
                self.texts_evicted,
                "message texts let go from finished calls to stay within --text-memory (raise it)"
                    .to_string(),
            ),
            (
                self.msgs_dropped,
                format!("messages not kept: a call's first {MSGS_PER_CALL} are kept"),
            ),
            (
                self.streams_dropped,
                format!("RTP stream rows let go: the latest {MAX_STREAMS} are kept"),
            ),
            (
                self.regs_dropped,
                format!("registration rows let go: the latest {MAX_REGS} are kept"),
            ),
            (
                self.alerts_dropped,
                format!("alert rows let go: the latest {MAX_ALERTS} are kept"),
            ),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect()
    }
}

/// Per-interval counts for the live statistics (one bucket per `interval`).
#[derive(Clone, Debug, Default)]
pub struct Interval {
    pub start: Ts,
    pub invites: u64,
    pub answered: u64,
    pub failed: u64,
    pub messages: u64,
}

/// Length of a live statistics interval.
pub const INTERVAL: i64 = 10 * sipscope::time::NANOS_PER_SEC;
const INTERVALS: usize = 360;

pub struct Store {
    pub calls: HashMap<String, CallEntry>,
    /// Call-IDs by arrival, for eviction.
    order: BTreeMap<u64, String>,
    seq: u64,
    pub max_calls: usize,
    pub text_budget: usize,
    text_bytes: usize,
    /// Arrival numbers of the calls holding message texts, oldest first.
    holding: BTreeSet<u64>,
    pub regs: VecDeque<RegRecord>,
    pub streams: VecDeque<StreamStats>,
    pub alerts: VecDeque<Alert>,
    pub counters: Counters,
    pub intervals: VecDeque<Interval>,
    /// Bumped at every change: the UI redraws only when it moved.
    pub generation: u64,
}

fn text_size(m: &MsgRow) -> usize {
    m.text.as_ref().map_or(0, String::len) + m.sdp.as_ref().map_or(0, String::len) + 400
}

fn kind_of(m: &MsgRow) -> CallKind {
    let meth = m.method.as_deref().or(m.cseq_method.as_deref());
    match meth.map(|s| Method::from_bytes(s.as_bytes())) {
        Some(Method::Invite) => CallKind::Invite,
        Some(Method::Register) => CallKind::Register,
        Some(Method::Subscribe | Method::Notify) => CallKind::Subscribe,
        Some(Method::Options) => CallKind::Options,
        Some(Method::Message) => CallKind::Message,
        Some(Method::Publish) => CallKind::Publish,
        _ => CallKind::Other,
    }
}

/// A record for a call known only by its first message, until the session says more.
fn provisional(m: &MsgRow, call_id: &str) -> CallRecord {
    CallRecord {
        call_id: call_id.to_string(),
        kind: kind_of(m),
        start: m.ts,
        end: m.ts,
        duration: 0.0,
        talk_time: None,
        from: m.from_user.as_deref().unwrap_or_default().to_string(),
        to: m.to_user.as_deref().unwrap_or_default().to_string(),
        caller: m.method.is_some().then_some(m.src),
        addresses: vec![m.src.ip(), m.dst.ip()],
        nodes: m.node.into_iter().collect(),
        outcome: None,
        final_status: None,
        reason: None,
        pdd: None,
        setup_time: None,
        messages: 0,
        retransmissions: 0,
        invite_attempts: 0,
        dialogs: 0,
        ended_by: None,
        user_agent: m.user_agent.as_deref().map(str::to_string),
        anomalies: 0,
        legs: Vec::new(),
        media: None,
        link_keys: Vec::new(),
        detail: None,
    }
}

impl Store {
    pub fn new(max_calls: usize, text_budget: usize) -> Store {
        Store {
            calls: HashMap::new(),
            order: BTreeMap::new(),
            seq: 0,
            max_calls: max_calls.max(1),
            text_budget,
            text_bytes: 0,
            holding: BTreeSet::new(),
            regs: VecDeque::new(),
            streams: VecDeque::new(),
            alerts: VecDeque::new(),
            counters: Counters::default(),
            intervals: VecDeque::new(),
            generation: 0,
        }
    }

    fn saw(&mut self, ts: Ts) {
        let c = &mut self.counters;
        if c.first_ts.is_none() {
            c.first_ts = Some(ts);
        }
        if c.last_ts.is_none_or(|l| ts > l) {
            c.last_ts = Some(ts);
        }
    }

    fn interval(&mut self, ts: Ts) -> &mut Interval {
        let start = Ts(ts.0 - ts.0.rem_euclid(INTERVAL));
        if self.intervals.back().is_none_or(|i| i.start < start) {
            self.intervals.push_back(Interval {
                start,
                ..Interval::default()
            });
            if self.intervals.len() > INTERVALS {
                self.intervals.pop_front();
            }
        }
        // A late event (merged files) counts in the latest interval at or before it.
        let i = self
            .intervals
            .iter()
            .rposition(|i| i.start <= start)
            .unwrap_or(0);
        &mut self.intervals[i]
    }

    /// Adds a call the store does not hold yet.
    fn insert(&mut self, call: CallRecord, transport: &'static str) -> &mut CallEntry {
        self.make_room();
        self.seq += 1;
        self.counters.calls_seen += 1;
        let id = call.call_id.clone();
        self.order.insert(self.seq, id.clone());
        self.calls.entry(id).or_insert(CallEntry {
            call,
            phase: None,
            closed: false,
            msgs: Vec::new(),
            msgs_dropped: 0,
            streams: Vec::new(),
            alerts: Vec::new(),
            media: Vec::new(),
            transport,
            seq: self.seq,
            text_bytes: 0,
        })
    }

    /// Evicts calls until one more fits: the oldest finished call, else the oldest.
    fn make_room(&mut self) {
        while self.calls.len() >= self.max_calls {
            let victim = self
                .order
                .iter()
                .take(4096)
                .find(|(_, id)| self.calls.get(*id).is_some_and(CallEntry::finished))
                .or_else(|| self.order.iter().next())
                .map(|(s, id)| (*s, id.clone()));
            let Some((seq, id)) = victim else { return };
            self.order.remove(&seq);
            if let Some(e) = self.calls.remove(&id) {
                self.text_bytes -= e.text_bytes;
                self.holding.remove(&e.seq);
            }
            self.counters.calls_evicted += 1;
        }
    }

    /// Lets go of message texts, oldest finished calls first, once the budget is passed, down
    /// to nine tenths of it (so that a full store trims now and then, not at every message).
    /// Looks at a bounded number of the oldest holders, so a full store costs no scan of every
    /// call.
    fn trim_texts(&mut self) {
        if self.text_bytes <= self.text_budget {
            return;
        }
        let target = self.text_budget / 10 * 9;
        for finished_only in [true, false] {
            while self.text_bytes > target {
                let victims: Vec<u64> = self
                    .holding
                    .iter()
                    .copied()
                    .filter(|seq| {
                        !finished_only
                            || self
                                .order
                                .get(seq)
                                .and_then(|id| self.calls.get(id))
                                .is_some_and(CallEntry::finished)
                    })
                    .take(256)
                    .collect();
                if victims.is_empty() {
                    break;
                }
                for seq in victims {
                    if self.text_bytes <= target {
                        break;
                    }
                    self.holding.remove(&seq);
                    let Some(e) = self.order.get(&seq).and_then(|id| self.calls.get_mut(id)) else {
                        continue;
                    };
                    self.text_bytes -= e.text_bytes;
                    e.text_bytes = 0;
                    e.msgs_dropped += e.msgs.len() as u32;
                    self.counters.texts_evicted += e.msgs.len() as u64;
                    e.msgs = Vec::new();
                }
            }
        }
    }

    pub fn message(&mut self, m: MsgRow) {
        self.generation += 1;
        self.saw(m.ts);
        let c = &mut self.counters;
        c.messages += 1;
        c.retransmissions += u64::from(m.retransmission);
        c.anomalies += u64::from(!m.anomalies.is_empty());
        let invite_final = !m.retransmission
            && m.cseq_method.as_deref() == Some("INVITE")
            && m.status.is_some_and(|s| s >= 200);
        if let (Some(s), true) = (m.status, invite_final) {
            if c.codes.len() < MAX_CODES || c.codes.contains_key(&s) {
                *c.codes.entry(s).or_default() += 1;
            }
        }
        {
            let iv = self.interval(m.ts);
            iv.messages += 1;
        }
        let Some(cid) = m.call_id.as_deref() else {
            return;
        };
        if !self.calls.contains_key(cid) {
            self.insert(provisional(&m, cid), m.transport.as_str());
        }
        let e = self.calls.get_mut(cid).expect("inserted above");
        if e.msgs.len() >= MSGS_PER_CALL {
            e.msgs_dropped += 1;
            self.counters.msgs_dropped += 1;
            return;
        }
        let size = text_size(&m);
        e.text_bytes += size;
        if !e.closed {
            e.call.end = e.call.end.max(m.ts);
            e.call.messages += 1;
            e.call.retransmissions += u32::from(m.retransmission);
        }
        e.msgs.push(m);
        let seq = e.seq;
        self.text_bytes += size;
        self.holding.insert(seq);
        self.trim_texts();
    }

    pub fn changed(&mut self, ch: &CallChange) {
        self.generation += 1;
        self.saw(ch.ts);
        let id = ch.call.call_id.clone();
        if !self.calls.contains_key(&id) {
            self.insert(ch.call.clone(), "");
        }
        let e = self.calls.get_mut(&id).expect("present");
        if !e.closed {
            e.call = ch.call.clone();
        }
        // The interval counts each call once: its start, its answer, its failure.
        let counted = match (e.phase, ch.phase) {
            (None, _) => Some(0),
            (Some(Phase::Trying | Phase::Ringing), Phase::Answered) => Some(1),
            (Some(Phase::Trying | Phase::Ringing), Phase::Failed) => Some(2),
            _ => None,
        };
        // The phase stays at its last word: a re-INVITE after the BYE does not reopen it.
        if !matches!(e.phase, Some(Phase::Ended | Phase::Failed))
            || matches!(ch.phase, Phase::Ended)
        {
            e.phase = Some(ch.phase);
        }
        let first = e.phase.is_some() && counted == Some(0);
        if let Some(k) = counted {
            let iv = self.interval(ch.ts);
            match k {
                0 if first => iv.invites += 1,
                1 => iv.answered += 1,
                2 => iv.failed += 1,
                _ => {}
            }
            // A call first seen answered or failed (its INVITE before the capture) counts once.
            if k == 0 && matches!(ch.phase, Phase::Answered) {
                iv.answered += 1;
            } else if k == 0 && matches!(ch.phase, Phase::Failed) {
                iv.failed += 1;
            }
        }
    }

    pub fn closed(&mut self, c: &ClosedCall) {
        self.generation += 1;
        let id = c.call.call_id.clone();
        if !self.calls.contains_key(&id) {
            // Known only now (its messages were evicted, or the store had no room).
            self.insert(c.call.clone(), "");
        }
        let e = self.calls.get_mut(&id).expect("present");
        e.call = c.call.clone();
        e.closed = true;
        e.streams = c.streams.clone();
        // Alerts seen live stay; the closed call's list is the complete one.
        e.alerts = c.alerts.clone();
        e.media = c.media.clone();
        self.trim_texts();
    }

    pub fn stream(&mut self, s: &StreamStats) {
        self.generation += 1;
        self.saw(s.last);
        if self.streams.len() >= MAX_STREAMS {
            self.streams.pop_front();
            self.counters.streams_dropped += 1;
        }
        let mut s = s.clone();
        s.series = Vec::new();
        if let Some(e) = s.call_id.as_ref().and_then(|id| self.calls.get_mut(id)) {
            if !e.closed {
                e.streams.push(s.clone());
            }
        }
        self.streams.push_back(s);
    }

    pub fn registration(&mut self, r: &RegRecord) {
        self.generation += 1;
        self.saw(r.start);
        if self.regs.len() >= MAX_REGS {
            self.regs.pop_front();
            self.counters.regs_dropped += 1;
        }
        self.regs.push_back(r.clone());
    }

    pub fn alert(&mut self, a: &Alert) {
        self.generation += 1;
        if a.state != State::Fired {
            return;
        }
        self.counters.alerts_fired += 1;
        if self.alerts.len() >= MAX_ALERTS {
            self.alerts.pop_front();
            self.counters.alerts_dropped += 1;
        }
        if let Some(e) = a.call_id.as_ref().and_then(|id| self.calls.get_mut(id)) {
            if !e.closed && e.alerts.len() < sipscope::session::ALERTS_PER_CALL {
                e.alerts.push(a.clone());
            }
        }
        self.alerts.push_back(a.clone());
    }

    pub fn tick(&mut self, t: &Tick) {
        if t.dropped != self.counters.kernel_drops
            || t.detector_evictions != self.counters.detector_evictions
            || t.frames != self.counters.frames
            || t.tcp_gaps != self.counters.tcp_gaps
        {
            self.generation += 1;
        }
        self.counters.frames = t.frames;
        self.counters.tcp_gaps = t.tcp_gaps;
        self.counters.kernel_drops = t.dropped;
        self.counters.detector_evictions = t.detector_evictions;
    }

    /// INVITE calls between their INVITE and their end.
    pub fn active_calls(&self) -> usize {
        self.calls
            .values()
            .filter(|e| e.call.kind == CallKind::Invite && !e.finished())
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sipscope::reassembly::Carrier;

    fn msg(cid: &str, method: Option<&str>, status: Option<u16>, t: i64) -> MsgRow {
        MsgRow {
            frame: t as u64,
            msg_in_frame: 0,
            ts: Ts(t * 1_000_000_000),
            src: "10.0.0.1:5060".parse().unwrap(),
            dst: "10.0.0.2:5060".parse().unwrap(),
            transport: Carrier::Udp,
            method: method.map(Into::into),
            status,
            reason: None,
            call_id: Some(cid.into()),
            cseq: Some(1),
            cseq_method: Some("INVITE".into()),
            from_user: Some("alice".into()),
            to_user: Some("bob".into()),
            from_tag: None,
            to_tag: None,
            branch: None,
            via_count: 1,
            user_agent: None,
            contact_ip: None,
            expires: None,
            retransmission: false,
            ip_reassembled: false,
            node: None,
            anomalies: Vec::new(),
            sdp: None,
            refer_to: None,
            sipfrag: None,
            text: Some("x".repeat(1000)),
            sip: None,
        }
    }

    #[test]
    fn oldest_finished_call_goes_first_and_is_counted() {
        let mut s = Store::new(2, usize::MAX);
        s.message(msg("a", Some("INVITE"), None, 1));
        s.message(msg("b", Some("INVITE"), None, 2));
        // b fails: it is the finished one, so it goes before the older a.
        let mut ch = CallChange {
            phase: Phase::Failed,
            ts: Ts(3_000_000_000),
            frame: 3,
            msg_in_frame: 0,
            call: s.calls["b"].call.clone(),
        };
        ch.call.final_status = Some(486);
        s.changed(&ch);
        s.message(msg("c", Some("INVITE"), None, 4));
        assert_eq!(s.calls.len(), 2);
        assert!(s.calls.contains_key("a") && s.calls.contains_key("c"));
        assert_eq!(s.counters.calls_evicted, 1);
        // None finished: the oldest goes.
        s.message(msg("d", Some("INVITE"), None, 5));
        assert!(!s.calls.contains_key("a"));
        assert_eq!(s.counters.calls_evicted, 2);
    }

    #[test]
    fn texts_over_budget_go_from_finished_calls_first() {
        let mut s = Store::new(100, 5_000);
        for i in 0..3 {
            s.message(msg("old", Some("INVITE"), None, i));
        }
        let ch = CallChange {
            phase: Phase::Ended,
            ts: Ts(4_000_000_000),
            frame: 4,
            msg_in_frame: 0,
            call: s.calls["old"].call.clone(),
        };
        s.changed(&ch);
        for i in 0..3 {
            s.message(msg("new", Some("INVITE"), None, 10 + i));
        }
        assert!(s.calls["old"].msgs.is_empty());
        assert_eq!(s.calls["old"].msgs_dropped, 3);
        assert_eq!(s.calls["new"].msgs.len(), 3);
        assert_eq!(s.counters.texts_evicted, 3);
        assert!(s.text_bytes <= 5_000);
    }
}
