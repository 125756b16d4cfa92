//! One Call-ID: its dialogs, its INVITE attempts as the caller saw them, and how it ended.
//!
//! A call is the set of dialogs sharing a Call-ID (RFC 3261 §12). Dialogs are told apart by their
//! tags: each provisional or final response with a new To tag creates an early dialog (forking
//! gives several), a 2xx confirms one, a BYE ends it. The outcome is what the *caller* was
//! answered: through a proxy the responses that count are those carrying the top Via branch of
//! the caller's own INVITEs, so a proxy that relays a callee's 503 as 500, or cancels the callee
//! and answers 408, is reported as the caller saw it (METRICS.md, outcome taxonomy).

use std::net::SocketAddr;

use rustc_hash::FxHashMap;

use super::record::{CallDetail, CallKind, CallRecord, MsgCount, Outcome, Phase, SenderCount};
use super::registration::Registrations;
use super::transaction::{Facts, TxKey, TxSeen};
use crate::sip::{HeaderName, Method, SipMessage};
use crate::time::{Nanos, Ts, NANOS_PER_SEC};

/// RFC 3261 Timer B (64·T1): an INVITE unanswered this long has timed out.
pub const TIMER_B: Nanos = 32 * NANOS_PER_SEC;
/// Transactions tracked per call before further ones are not checked for retransmission.
/// HEP capture nodes a call record lists at most.
pub const MAX_NODES: usize = 8;
const MAX_TX: usize = 256;
const MAX_DIALOGS: usize = 32;
/// (method, status) pairs counted per call, and senders counted per call.
const MAX_COUNTS: usize = 64;
const MAX_SENDERS: usize = 16;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum DialogState {
    Early,
    Confirmed,
    Terminated,
}

#[derive(Debug)]
struct Dialog {
    to_tag: Box<[u8]>,
    state: DialogState,
}

/// An initial INVITE as sent by the caller (the first hop).
#[derive(Debug)]
struct Attempt {
    branch: Box<[u8]>,
    ts: Ts,
    /// Final response the caller got for it.
    final_status: Option<u16>,
    /// The INVITE itself was captured (false when only its responses were).
    seen: bool,
}

#[derive(Debug)]
pub struct CallState {
    /// Shared with the rows of the call's messages (one copy of the text per call).
    pub call_id: std::sync::Arc<str>,
    /// The user and tag of the last From and To its rows read ([`super::NameCache`]).
    pub(super) row_names: [super::NameCache; 2],
    pub kind: CallKind,
    pub first_ts: Ts,
    pub last_ts: Ts,
    pub messages: u32,
    pub retransmissions: u32,
    pub anomalies: u32,
    from: String,
    to: String,
    user_agent: Option<String>,
    caller: Option<SocketAddr>,
    addresses: Vec<std::net::IpAddr>,
    /// HEP capture nodes that sent messages of the call (at most [`MAX_NODES`]).
    nodes: Vec<u32>,
    /// Via count of the caller's INVITE: a forwarded copy carries more.
    caller_vias: usize,
    attempts: Vec<Attempt>,
    ring_ts: Option<Ts>,
    answer_ts: Option<Ts>,
    final_status: Option<u16>,
    final_ts: Option<Ts>,
    reason: Option<String>,
    cancelled: bool,
    bye_ts: Option<Ts>,
    bye_from_caller: Option<bool>,
    bye_answered: bool,
    dialogs: Vec<Dialog>,
    tx: FxHashMap<TxKey, TxSeen>,
    /// When the call reached a state after which only stragglers are expected.
    pub done_ts: Option<Ts>,
    /// Milestones set by a message whose time stamp was a time warp ([`super::record::warped`]
    /// bits): what is measured from them is absent, not guessed.
    warped: u8,
    pub link_keys: Vec<(String, String)>,
    pub regs: Registrations,
    /// The last non-INVITE request seen with no final answer yet (Timer F bookkeeping).
    open_requests: u32,
    bye_final: Option<(Ts, u16)>,
    /// Messages of transactions beyond MAX_TX (not checked for retransmission, not timed).
    untracked_tx: u32,
    callee: Option<SocketAddr>,
    challenged: bool,
    /// Message counts for the statistics; None unless asked for.
    counts: Option<Box<Counts>>,
    /// The last in-dialog offer put the media on hold.
    on_hold: bool,
}

/// Messages counted by (method, status) and by sender, for `stats`.
#[derive(Debug, Default)]
struct Counts {
    by_kind: Vec<MsgCount>,
    uncounted: u32,
    senders: Vec<SenderCount>,
}

impl Counts {
    fn add(&mut self, msg: &SipMessage, src: SocketAddr, retrans: bool) {
        let (method, status) = match (msg.method(), msg.status()) {
            (Some(m), _) => (m.clone(), 0),
            (None, Some(s)) => match msg.cseq() {
                Some((_, m)) => (m, s),
                None => return,
            },
            _ => return,
        };
        let r = u32::from(retrans);
        if let Some(c) = self
            .by_kind
            .iter_mut()
            .find(|c| c.status == status && c.method == method)
        {
            c.messages += 1;
            c.retransmissions += r;
        } else if self.by_kind.len() < MAX_COUNTS {
            self.by_kind.push(MsgCount {
                method,
                status,
                reason: msg.reason_phrase().map(lossy),
                messages: 1,
                retransmissions: r,
            });
        } else {
            self.uncounted += 1;
        }
        if let Some(s) = self.senders.iter_mut().find(|s| s.addr == src) {
            s.messages += 1;
            s.retransmissions += r;
        } else if self.senders.len() < MAX_SENDERS {
            self.senders.push(SenderCount {
                addr: src,
                messages: 1,
                retransmissions: r,
            });
        } else {
            self.uncounted += 1;
        }
    }
}

/// Whether an SDP offer puts the media on hold (RFC 3264 §8.4: sendonly or inactive; RFC 2543's
/// 0.0.0.0 connection address); None when the body carries no SDP.
fn hold_offer(body: &[u8]) -> Option<bool> {
    use memchr::memmem::find;
    find(body, b"v=0")?;
    Some(
        find(body, b"a=sendonly").is_some()
            || find(body, b"a=inactive").is_some()
            || find(body, b"c=IN IP4 0.0.0.0").is_some(),
    )
}

use crate::sip::message::lossy;

fn kind_of(m: &Method) -> CallKind {
    match m {
        Method::Invite => CallKind::Invite,
        Method::Register => CallKind::Register,
        Method::Subscribe | Method::Notify => CallKind::Subscribe,
        Method::Options => CallKind::Options,
        Method::Message => CallKind::Message,
        Method::Publish => CallKind::Publish,
        _ => CallKind::Other,
    }
}

/// Session-ID (RFC 7989): the local and remote UUIDs, either of which names the session.
fn session_ids(v: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let uuid = &v[..v.iter().position(|c| *c == b';').unwrap_or(v.len())];
    let uuid = crate::sip::message::trim(uuid);
    if uuid.len() == 32 && uuid.iter().any(|c| *c != b'0') {
        out.push(lossy(uuid).to_ascii_lowercase());
    }
    for (n, val) in crate::sip::via::params(v) {
        if n.eq_ignore_ascii_case(b"remote") {
            if let Some(r) = val {
                if r.len() == 32 && r.iter().any(|c| *c != b'0') {
                    out.push(lossy(r).to_ascii_lowercase());
                }
            }
        }
    }
    out
}

impl CallState {
    pub fn new(call_id: std::sync::Arc<str>, msg: &SipMessage, ts: Ts) -> CallState {
        let kind = match msg.method() {
            Some(m) => kind_of(m),
            None => msg.cseq().map_or(CallKind::Other, |(_, m)| kind_of(&m)),
        };
        CallState {
            call_id,
            row_names: Default::default(),
            kind,
            first_ts: ts,
            last_ts: ts,
            messages: 0,
            retransmissions: 0,
            anomalies: 0,
            from: String::new(),
            to: String::new(),
            user_agent: None,
            caller: None,
            addresses: Vec::new(),
            nodes: Vec::new(),
            caller_vias: 0,
            attempts: Vec::new(),
            ring_ts: None,
            answer_ts: None,
            final_status: None,
            final_ts: None,
            reason: None,
            cancelled: false,
            bye_ts: None,
            bye_from_caller: None,
            bye_answered: false,
            dialogs: Vec::new(),
            tx: FxHashMap::default(),
            done_ts: None,
            warped: 0,
            link_keys: Vec::new(),
            regs: Registrations::default(),
            open_requests: 0,
            bye_final: None,
            untracked_tx: 0,
            callee: None,
            challenged: false,
            counts: None,
            on_hold: false,
        }
    }

    /// Where an INVITE call stands now (None for other dialogs).
    pub fn phase(&self) -> Option<Phase> {
        if self.kind != CallKind::Invite {
            return None;
        }
        Some(if self.bye_ts.is_some() {
            Phase::Ended
        } else if self.answer_ts.is_some() {
            if self.on_hold {
                Phase::OnHold
            } else {
                Phase::Answered
            }
        } else if self.final_status.is_some_and(|s| s >= 300) {
            Phase::Failed
        } else if self.ring_ts.is_some() {
            Phase::Ringing
        } else {
            Phase::Trying
        })
    }

    /// Counts messages by method, status and sender from now on (for `stats`).
    pub fn with_counts(mut self) -> CallState {
        self.counts = Some(Box::default());
        self
    }

    /// Takes one message of this Call-ID; returns whether it is a retransmission.
    /// `timed`: the message's time stamp is its own (false for a time warp: `ts` is then the
    /// capture clock's, and the milestones it sets are not measured from).
    /// `facts` are the message's own ([`Facts::of`]), decoded once by the caller.
    #[allow(clippy::too_many_arguments)]
    pub fn on_message(
        &mut self,
        msg: &SipMessage,
        facts: &Facts<'_>,
        ts: Ts,
        timed: bool,
        src: SocketAddr,
        dst: SocketAddr,
        link_headers: &[String],
    ) -> bool {
        let before = self.milestones();
        let retrans = self.take_message(msg, facts, ts, src, dst, link_headers);
        let after = self.milestones();
        for (bit, (b, a)) in before.iter().zip(after.iter()).enumerate() {
            if b != a {
                let bit = 1u8 << bit;
                if timed {
                    self.warped &= !bit;
                } else {
                    self.warped |= bit;
                }
            }
        }
        retrans
    }

    /// A message of the call came from this HEP capture node.
    pub fn note_node(&mut self, node: u32) {
        if self.nodes.len() < MAX_NODES && !self.nodes.contains(&node) {
            self.nodes.push(node);
        }
    }

    /// The milestones in [`super::record::warped`] bit order.
    fn milestones(&self) -> [Option<Ts>; 6] {
        [
            self.attempts.first().filter(|a| a.seen).map(|a| a.ts),
            self.ring_ts,
            self.answer_ts,
            self.final_ts,
            self.bye_ts,
            self.bye_final.map(|b| b.0),
        ]
    }

    fn take_message(
        &mut self,
        msg: &SipMessage,
        facts: &Facts<'_>,
        ts: Ts,
        src: SocketAddr,
        dst: SocketAddr,
        link_headers: &[String],
    ) -> bool {
        self.messages += 1;
        self.last_ts = self.last_ts.max(ts);
        for ip in [src.ip(), dst.ip()] {
            if self.addresses.len() < 16 && !self.addresses.contains(&ip) {
                self.addresses.push(ip);
            }
        }
        if !msg.anomalies.is_empty() {
            self.anomalies += 1;
        }
        let retrans = match TxKey::of(msg, facts) {
            Some(k) if self.tx.len() < MAX_TX || self.tx.contains_key(&k) => self
                .tx
                .entry(k)
                .or_default()
                .record(src, dst, msg, facts, ts),
            Some(_) => {
                self.untracked_tx += 1;
                false
            }
            None => false,
        };
        if let Some(c) = &mut self.counts {
            c.add(msg, src, retrans);
        }
        if retrans {
            self.retransmissions += 1;
            return true;
        }
        if self.from.is_empty() {
            if let Some(f) = &facts.from {
                self.from = lossy(f.user());
            }
            if let Some(t) = &facts.to {
                self.to = lossy(t.user());
            }
        }
        if self.user_agent.is_none() && msg.is_request() {
            self.user_agent = msg.header(HeaderName::UserAgent).map(lossy);
        }
        // B2BUAs put their link headers on the requests that open a dialog.
        if msg.is_request() && facts.to_tag().is_none() {
            self.collect_link_keys(msg, link_headers);
        }
        match msg.method() {
            Some(m) => self.on_request(m, msg, facts, ts, src, dst),
            None => self.on_response(msg, facts, ts, dst),
        }
        if self.kind == CallKind::Register || facts.cseq_method() == Some(&Method::Register) {
            self.regs.on_message(msg, ts, src, dst);
        }
        false
    }

    fn collect_link_keys(&mut self, msg: &SipMessage, link_headers: &[String]) {
        if self.link_keys.len() > 16 {
            return;
        }
        for entry in link_keys(msg, link_headers) {
            if !self.link_keys.contains(&entry) {
                self.link_keys.push(entry);
            }
        }
    }

    fn is_caller_branch(&self, facts: &Facts<'_>) -> Option<usize> {
        let b = facts.via.as_ref()?.branch?;
        self.attempts.iter().position(|a| &*a.branch == b)
    }

    fn on_request(
        &mut self,
        m: &Method,
        msg: &SipMessage,
        facts: &Facts<'_>,
        ts: Ts,
        src: SocketAddr,
        dst: SocketAddr,
    ) {
        let to_tag = facts.to_tag().is_some();
        if to_tag && matches!(m, Method::Invite | Method::Update) {
            if let Some(hold) = hold_offer(msg.body()) {
                self.on_hold = hold;
            }
        }
        match m {
            Method::Invite if !to_tag => {
                if self.kind != CallKind::Invite {
                    self.kind = CallKind::Invite;
                }
                let vias = msg.via_count();
                let first = self.caller.is_none();
                if first {
                    self.caller = Some(src);
                    self.callee = Some(dst);
                    self.caller_vias = vias;
                    if let Some(f) = &facts.from {
                        self.from = lossy(f.user());
                    }
                    if let Some(t) = &facts.to {
                        self.to = lossy(t.user());
                    }
                    self.user_agent = msg.header(HeaderName::UserAgent).map(lossy);
                }
                // A new INVITE from the caller (after a challenge, a redirect or a failure) is a
                // new attempt of the same call; a forwarded copy (more Vias) is not.
                if (first || (Some(src) == self.caller && vias == self.caller_vias))
                    && self.attempts.len() < 16
                {
                    if let Some(b) = facts.via.as_ref().and_then(|v| v.branch) {
                        if self
                            .attempts
                            .last()
                            .is_some_and(|a| matches!(a.final_status, Some(401 | 407)))
                        {
                            self.challenged = true;
                        }
                        self.attempts.push(Attempt {
                            branch: b.into(),
                            ts,
                            final_status: None,
                            seen: true,
                        });
                        self.done_ts = None;
                    }
                }
            }
            Method::Cancel => {
                if self.is_caller_branch(facts).is_some() || Some(src) == self.caller {
                    self.cancelled = true;
                }
            }
            Method::Bye => {
                if self.bye_ts.is_none() {
                    self.bye_ts = Some(ts);
                    let from_tag = facts.from_tag().map(|t| t.to_vec());
                    // The caller's BYE carries the caller's From tag.
                    self.bye_from_caller =
                        Some(from_tag.is_some() && self.caller_tag_is(from_tag.as_deref()));
                }
            }
            _ => {
                if !matches!(m, Method::Ack | Method::Invite) {
                    self.open_requests += 1;
                }
            }
        }
        if self.kind != CallKind::Invite && self.done_ts.is_some() && !matches!(m, Method::Ack) {
            self.done_ts = None;
        }
    }

    fn caller_tag_is(&self, tag: Option<&[u8]>) -> bool {
        // The From tag of the dialog-creating INVITE is not kept separately: the caller's tag is
        // the one no dialog lists as its To tag.
        match tag {
            Some(t) => !self.dialogs.iter().any(|d| &*d.to_tag == t),
            None => false,
        }
    }

    fn on_response(&mut self, msg: &SipMessage, facts: &Facts<'_>, ts: Ts, dst: SocketAddr) {
        let Some(status) = msg.status() else { return };
        let Some(cseq_method) = facts.cseq_method().cloned() else {
            return;
        };
        let to_tag = facts.to_tag();
        if cseq_method == Method::Invite && status > 100 {
            if let Some(tag) = to_tag {
                let n = self.dialogs.len();
                match self.dialogs.iter_mut().find(|d| &*d.to_tag == tag) {
                    Some(d) => {
                        if (200..300).contains(&status) {
                            d.state = DialogState::Confirmed;
                        } else if status >= 300 {
                            d.state = DialogState::Terminated;
                        }
                    }
                    None if n < MAX_DIALOGS => self.dialogs.push(Dialog {
                        to_tag: tag.into(),
                        state: if (200..300).contains(&status) {
                            DialogState::Confirmed
                        } else if status < 200 {
                            DialogState::Early
                        } else {
                            DialogState::Terminated
                        },
                    }),
                    None => {}
                }
            }
        }
        match cseq_method {
            Method::Invite => {
                let i = match self.is_caller_branch(facts) {
                    Some(i) => i,
                    // The capture began after the INVITE: the first hop its responses reach is
                    // the best view of the caller there is (its branch stands in for the attempt).
                    None if self.attempts.is_empty() && self.caller.is_none() => {
                        let Some(b) = facts.via.as_ref().and_then(|v| v.branch) else {
                            return;
                        };
                        self.kind = CallKind::Invite;
                        self.caller = Some(dst);
                        self.attempts.push(Attempt {
                            branch: b.into(),
                            ts: self.first_ts,
                            final_status: None,
                            seen: false,
                        });
                        0
                    }
                    None => return,
                };
                if (180..200).contains(&status) && self.ring_ts.is_none() {
                    self.ring_ts = Some(ts);
                }
                if status >= 200 && self.attempts[i].final_status.is_none() {
                    self.attempts[i].final_status = Some(status);
                    if (200..300).contains(&status) {
                        if self.answer_ts.is_none() {
                            self.answer_ts = Some(ts);
                        }
                        self.final_status = Some(status);
                        self.final_ts = Some(ts);
                        self.reason = reason_of(msg);
                    } else if self.answer_ts.is_none() {
                        self.final_status = Some(status);
                        self.final_ts = Some(ts);
                        self.reason = reason_of(msg);
                        self.done_ts = Some(ts);
                    }
                }
            }
            Method::Bye if status >= 200 => {
                if self.bye_final.is_none() {
                    self.bye_final = Some((ts, status));
                }
                self.bye_answered = true;
                self.done_ts = Some(ts);
            }
            Method::Ack | Method::Cancel => {}
            _ => {
                if status >= 200 {
                    self.open_requests = self.open_requests.saturating_sub(1);
                    if self.kind != CallKind::Invite && self.open_requests == 0 {
                        self.done_ts = Some(ts);
                    }
                }
            }
        }
    }

    /// Outcome as the caller saw it; `now` is the capture time the question is asked at.
    pub fn outcome(&self, now: Ts) -> Option<Outcome> {
        if self.kind != CallKind::Invite {
            return None;
        }
        let rang = self.ring_ts.is_some();
        if self.answer_ts.is_some() {
            return Some(Outcome::Answered);
        }
        if let Some(s) = self.final_status {
            return Some(match s {
                300..=399 => Outcome::Redirected,
                486 | 600 => Outcome::Busy,
                487 if self.cancelled || !rang => Outcome::Cancelled,
                487 => Outcome::NoAnswer,
                480 | 408 if rang => Outcome::NoAnswer,
                408 => Outcome::Timeout,
                401 | 407 => Outcome::AuthFailed,
                500..=599 => Outcome::ServerFailure,
                _ => Outcome::Rejected,
            });
        }
        if self.cancelled {
            return Some(Outcome::Cancelled);
        }
        let started = self.attempts.last().map_or(self.first_ts, |a| a.ts);
        if now.since(started) >= TIMER_B {
            Some(Outcome::Timeout)
        } else {
            Some(Outcome::InProgress)
        }
    }

    pub fn record(&self, now: Ts) -> CallRecord {
        use super::record::warped as w;
        let secs = |d: Nanos| d as f64 / NANOS_PER_SEC as f64;
        // A span is measured only between milestones whose time stamps are their own, and only
        // when it is not negative (frames out of order): else it is absent, never wrong.
        let span = |from: Ts, fb: u8, to: Ts, tb: u8| {
            let d = to.since(from);
            (self.warped & (fb | tb) == 0 && d >= 0).then(|| secs(d))
        };
        // Delays are measured from the INVITE, so only when it was captured.
        let invite_ts = self.attempts.first().filter(|a| a.seen).map(|a| a.ts);
        let pdd = invite_ts.and_then(|i| match self.ring_ts {
            Some(r) => span(i, w::INVITE, r, w::RING),
            // No ringing: the delay to the final failure (METRICS.md, PDD).
            None => match (self.answer_ts, self.final_ts) {
                (None, Some(f)) => span(i, w::INVITE, f, w::FINAL),
                _ => None,
            },
        });
        let talk_time = self.answer_ts.and_then(|a| match self.bye_ts {
            Some(b) => span(a, w::ANSWER, b, w::BYE),
            None => span(a, w::ANSWER, self.last_ts, 0),
        });
        let setup_time = match (invite_ts, self.answer_ts) {
            (Some(i), Some(a)) => span(i, w::INVITE, a, w::ANSWER),
            _ => None,
        };
        CallRecord {
            call_id: self.call_id.to_string(),
            kind: self.kind,
            start: self.first_ts,
            end: self.last_ts,
            duration: secs(self.last_ts.since(self.first_ts)),
            talk_time,
            from: self.from.clone(),
            to: self.to.clone(),
            caller: self.caller,
            addresses: self.addresses.clone(),
            nodes: self.nodes.clone(),
            outcome: self.outcome(now),
            final_status: self.final_status,
            reason: self.reason.clone(),
            pdd,
            setup_time,
            messages: self.messages,
            retransmissions: self.retransmissions,
            invite_attempts: self.attempts.iter().filter(|a| a.seen).count() as u32,
            dialogs: self.dialogs.len() as u32,
            ended_by: self
                .bye_from_caller
                .map(|c| if c { "caller" } else { "callee" }),
            user_agent: self.user_agent.clone(),
            anomalies: self.anomalies,
            legs: Vec::new(),
            media: None,
            link_keys: self.link_keys.clone(),
            detail: self.counts.as_ref().map(|c| {
                let mut transactions: Vec<_> = self
                    .tx
                    .values()
                    .filter_map(|t| t.timing().cloned())
                    .collect();
                transactions.sort_by_key(|t| t.start);
                Box::new(CallDetail {
                    invite: invite_ts,
                    provisional: self.ring_ts,
                    answer: self.answer_ts,
                    final_at: self.final_ts,
                    bye: self.bye_ts,
                    bye_final: self.bye_final,
                    callee: self.callee,
                    challenged: self.challenged,
                    transactions,
                    untimed: self.untracked_tx,
                    warped: self.warped,
                    counts: c.by_kind.clone(),
                    uncounted: c.uncounted,
                    senders: c.senders.clone(),
                })
            }),
        }
    }
}

/// The Reason header (RFC 3326, SIP or Q.850 cause) if present, else the reason phrase.
fn reason_of(msg: &SipMessage) -> Option<String> {
    if let Some(r) = msg.header(HeaderName::Reason) {
        return Some(lossy(r));
    }
    msg.reason_phrase().filter(|r| !r.is_empty()).map(lossy)
}

/// The leg-link keys one message carries in the configured headers, as (lower-case header,
/// value): session-id and p-charging-vector values name a session shared by the legs; any other
/// header's value names the other leg's Call-ID (session::legs applies the rule).
pub fn link_keys(msg: &SipMessage, link_headers: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in link_headers {
        let Some(v) = msg.header_by_name(name) else {
            continue;
        };
        let lname = name.to_ascii_lowercase();
        let keys: Vec<String> = match lname.as_str() {
            "session-id" => session_ids(v),
            "p-charging-vector" => crate::sip::via::params(&[b";", v].concat())
                .find(|(n, _)| n.eq_ignore_ascii_case(b"icid-value"))
                .and_then(|(_, val)| val.map(lossy))
                .into_iter()
                .collect(),
            // X-Call-ID and friends name the other leg's Call-ID.
            _ => vec![lossy(crate::sip::message::trim(v))],
        };
        for k in keys {
            let entry = (lname.clone(), k);
            if !entry.1.is_empty() && !out.contains(&entry) {
                out.push(entry);
            }
        }
    }
    out
}
