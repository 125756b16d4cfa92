//! Owned records that leave the correlator: what the outputs print and the tables hold.

use std::net::SocketAddr;

use serde::Serialize;

use crate::reassembly::Carrier;
use crate::time::Ts;

/// A short piece of wire text, inline up to 24 bytes (no allocation).
pub type Text = compact_str::CompactString;

/// One SIP message as listed by `sipscope messages`.
#[derive(Clone, Debug, Serialize)]
pub struct MsgRow {
    /// Position of the frame in the capture (1-based, as tshark numbers frames).
    pub frame: u64,
    /// Position of the message within its frame (1-based; TCP segments may carry several).
    pub msg_in_frame: u16,
    #[serde(rename = "time", serialize_with = "ser_ts")]
    pub ts: Ts,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    #[serde(serialize_with = "ser_carrier")]
    pub transport: Carrier,
    pub method: Option<Text>,
    pub status: Option<u16>,
    pub reason: Option<Text>,
    /// Shared with the call's other rows (the correlator keeps one copy per call).
    pub call_id: Option<std::sync::Arc<str>>,
    pub cseq: Option<u32>,
    pub cseq_method: Option<Text>,
    pub from_user: Option<Text>,
    pub to_user: Option<Text>,
    pub from_tag: Option<Text>,
    pub to_tag: Option<Text>,
    pub branch: Option<Text>,
    pub via_count: usize,
    /// Shared by the rows of one correlator that carry the same text ([`super::Correlator`]
    /// keeps the last few hundred).
    pub user_agent: Option<std::sync::Arc<str>>,
    /// The host of the Contact URI, when it is an IP address (for NAT checks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_ip: Option<std::net::IpAddr>,
    /// A REGISTER's requested expiry, or the expiry a 2xx to a REGISTER granted, in seconds:
    /// the first Contact's `expires` parameter, else the Expires header (RFC 3261 §10.2.1.1).
    /// None for other messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<u32>,
    /// Seen before on the same hop (same transaction, same link).
    pub retransmission: bool,
    pub ip_reassembled: bool,
    /// The capture node (HEP capture id) that sent the message, when it came in HEP.
    pub node: Option<u32>,
    pub anomalies: Vec<&'static str>,
    /// The SDP the message carries, summarised (media, address:port, codecs, direction).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sdp: Option<String>,
    /// REFER's target (Refer-To).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refer_to: Option<String>,
    /// The status line a NOTIFY reports in a message/sipfrag body (a transfer's progress).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sipfrag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The parsed message over the bytes it was captured in (when a sink asks for it): every
    /// header and the body as they came off the wire.
    /// Boxed: only the sinks that ask for it have one, and the rest keep rows 240 bytes smaller.
    #[serde(skip)]
    pub sip: Option<Box<crate::sip::SipMessage>>,
}

/// How a call ended, from the caller's side (docs/METRICS.md, outcomes).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Answered,
    Busy,
    NoAnswer,
    Rejected,
    Cancelled,
    Redirected,
    AuthFailed,
    ServerFailure,
    Timeout,
    InProgress,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Busy => "busy",
            Outcome::NoAnswer => "no-answer",
            Outcome::Rejected => "rejected",
            Outcome::Cancelled => "cancelled",
            Outcome::Redirected => "redirected",
            Outcome::AuthFailed => "auth-failed",
            Outcome::ServerFailure => "server-failure",
            Outcome::Timeout => "timeout",
            Outcome::InProgress => "in-progress",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        [
            Outcome::Answered,
            Outcome::Busy,
            Outcome::NoAnswer,
            Outcome::Rejected,
            Outcome::Cancelled,
            Outcome::Redirected,
            Outcome::AuthFailed,
            Outcome::ServerFailure,
            Outcome::Timeout,
            Outcome::InProgress,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

/// What kind of conversation a Call-ID carries, by the method that opened it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallKind {
    Invite,
    Register,
    Subscribe,
    Options,
    Message,
    Publish,
    Other,
}

impl CallKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CallKind::Invite => "invite",
            CallKind::Register => "register",
            CallKind::Subscribe => "subscribe",
            CallKind::Options => "options",
            CallKind::Message => "message",
            CallKind::Publish => "publish",
            CallKind::Other => "other",
        }
    }
}

/// Where an INVITE call stands, as it happens.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// The INVITE is out, no ringing yet.
    Trying,
    /// 180/183 (early media possible).
    Ringing,
    /// 2xx: the call is up (again, after a hold).
    Answered,
    /// A re-INVITE or UPDATE put the media on hold (sendonly, inactive, or 0.0.0.0).
    OnHold,
    /// A final failure reached the caller (the outcome says which).
    Failed,
    /// A BYE was sent.
    Ended,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Trying => "trying",
            Phase::Ringing => "ringing",
            Phase::Answered => "answered",
            Phase::OnHold => "on-hold",
            Phase::Failed => "failed",
            Phase::Ended => "ended",
        }
    }

    /// Nothing but stragglers is expected after this.
    pub fn is_final(self) -> bool {
        matches!(self, Phase::Failed | Phase::Ended)
    }
}

/// An INVITE call changed phase: emitted by the correlator at the message that changed it, with
/// the call as it stands then.
#[derive(Clone, Debug, Serialize)]
pub struct CallChange {
    pub phase: Phase,
    #[serde(serialize_with = "ser_ts")]
    pub ts: Ts,
    /// The frame and message that made the change.
    pub frame: u64,
    #[serde(skip)]
    pub msg_in_frame: u16,
    pub call: CallRecord,
}

/// A link to another leg of the same call through a B2BUA.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Leg {
    pub call_id: String,
    /// How the link was made: the header that carried it (x-call-id, session-id, icid ...).
    pub via: String,
}

/// One call (all dialogs of one Call-ID), as listed by `sipscope calls`.
#[derive(Clone, Debug, Serialize)]
pub struct CallRecord {
    pub call_id: String,
    pub kind: CallKind,
    #[serde(serialize_with = "ser_ts")]
    pub start: Ts,
    #[serde(serialize_with = "ser_ts")]
    pub end: Ts,
    /// Seconds from the first message to the last.
    pub duration: f64,
    /// Talk time: 2xx to the INVITE → BYE (or the last message when no BYE was seen).
    pub talk_time: Option<f64>,
    /// The From and To URIs' user parts (the host when there is no user part).
    #[serde(rename = "from_user")]
    pub from: String,
    #[serde(rename = "to_user")]
    pub to: String,
    pub caller: Option<SocketAddr>,
    /// Every IP address that sent or received a message of the call (at most 16).
    pub addresses: Vec<std::net::IpAddr>,
    /// The HEP capture nodes (capture ids) that sent its messages, when they came in HEP.
    pub nodes: Vec<u32>,
    pub outcome: Option<Outcome>,
    pub final_status: Option<u16>,
    pub reason: Option<String>,
    /// Post-dial delay in seconds: INVITE → first 180/183 (or → the final failure without ringing).
    pub pdd: Option<f64>,
    /// Setup time: INVITE → 2xx.
    pub setup_time: Option<f64>,
    pub messages: u32,
    pub retransmissions: u32,
    pub invite_attempts: u32,
    pub dialogs: u32,
    /// The caller's BYE, the callee's, or none.
    pub ended_by: Option<&'static str>,
    pub user_agent: Option<String>,
    pub anomalies: u32,
    pub legs: Vec<Leg>,
    /// The call's RTP streams (tied to it by its SDP), when media was analysed.
    pub media: Option<CallMedia>,
    #[serde(skip)]
    pub link_keys: Vec<(String, String)>,
    /// Timings, transactions and message counts, for the statistics (only when asked for).
    #[serde(skip)]
    pub detail: Option<Box<CallDetail>>,
}

/// A call's media at a glance: its worst stream decides (the one the user complains about).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CallMedia {
    pub streams: u32,
    /// Lowest network MOS of the scored streams.
    pub mos: Option<f64>,
    /// Lowest MOS after the adaptive jitter buffer.
    pub mos_adaptive: Option<f64>,
    /// Highest share of a stream's packets that never arrived, %.
    pub loss_pct: Option<f64>,
    /// Highest interarrival jitter of any stream, ms.
    pub max_jitter_ms: Option<f64>,
}

impl CallMedia {
    pub fn add(&mut self, s: &crate::analysis::rtp::StreamStats) {
        let min = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
        let max = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        };
        self.streams += 1;
        self.mos = min(self.mos, s.mos);
        self.mos_adaptive = min(self.mos_adaptive, s.mos_adaptive);
        let loss = (s.expected > 0).then(|| s.missing() as f64 * 100.0 / s.expected as f64);
        self.loss_pct = max(self.loss_pct, loss);
        self.max_jitter_ms = max(self.max_jitter_ms, s.max_jitter_ms);
    }
}

/// What `stats` needs of a call beyond its row: the caller-side milestones, every transaction
/// hop's timing and the messages counted by method, status and sender.
#[derive(Clone, Debug, Default)]
pub struct CallDetail {
    /// The caller's first INVITE, when it was captured.
    pub invite: Option<Ts>,
    /// The first non-100 provisional answer to the caller (RFC 6076 §4.3).
    pub provisional: Option<Ts>,
    pub answer: Option<Ts>,
    /// The final answer that decided the outcome (the 2xx, or the last failure).
    pub final_at: Option<Ts>,
    pub bye: Option<Ts>,
    /// The BYE's final answer: when, and its status.
    pub bye_final: Option<(Ts, u16)>,
    /// Where the caller sent its first INVITE.
    pub callee: Option<SocketAddr>,
    /// An INVITE was challenged (401/407) and sent again.
    pub challenged: bool,
    /// One entry per transaction hop whose request was captured.
    pub transactions: Vec<TxTiming>,
    /// Transactions beyond the per-call bound, not timed.
    pub untimed: u32,
    /// Milestones above set by a message whose time stamp was a time warp ([`warped`] bits):
    /// their time is the capture clock's, and no span is measured from them.
    pub warped: u8,
    pub counts: Vec<MsgCount>,
    /// Messages left out of `counts` or `senders` because a per-call bound was reached.
    pub uncounted: u32,
    pub senders: Vec<SenderCount>,
}

/// The milestones of a call, as bits of [`CallDetail::warped`].
pub mod warped {
    pub const INVITE: u8 = 1;
    pub const RING: u8 = 1 << 1;
    pub const ANSWER: u8 = 1 << 2;
    pub const FINAL: u8 = 1 << 3;
    pub const BYE: u8 = 1 << 4;
    pub const BYE_FINAL: u8 = 1 << 5;
}

/// One transaction hop's timing (METRICS.md, per transaction).
#[derive(Clone, Debug)]
pub struct TxTiming {
    pub method: crate::sip::Method,
    pub start: Ts,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Request → first response, nanoseconds.
    pub first_response: Option<crate::time::Nanos>,
    /// Request → final response, nanoseconds.
    pub final_response: Option<crate::time::Nanos>,
    pub final_status: Option<u16>,
    /// Copies of the request sent again on the same link.
    pub retransmissions: u32,
}

/// Messages of one (method, status) pair: requests have status 0, responses the CSeq method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MsgCount {
    pub method: crate::sip::Method,
    pub status: u16,
    pub reason: Option<String>,
    pub messages: u32,
    pub retransmissions: u32,
}

/// Messages one endpoint sent, and how many of them were retransmissions.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SenderCount {
    pub addr: SocketAddr,
    pub messages: u32,
    pub retransmissions: u32,
}

/// One registration attempt (REGISTER, challenges included, to its final answer).
#[derive(Clone, Debug, Serialize)]
pub struct RegRecord {
    #[serde(serialize_with = "ser_ts")]
    pub start: Ts,
    pub call_id: String,
    pub aor: String,
    pub contact: Option<String>,
    pub expires: Option<u32>,
    pub client: SocketAddr,
    pub registrar: SocketAddr,
    pub challenged: bool,
    pub final_status: Option<u16>,
    /// registered, unregistered, auth-failed, failed, timeout, in-progress.
    pub result: &'static str,
    /// RFC 6076 §4.1 Registration Request Delay, seconds (successful attempts only).
    pub rrd: Option<f64>,
    pub requests: u32,
    pub user_agent: Option<String>,
}

/// The one capture-time serialiser: RFC 3339 UTC, as `Ts` displays it.
pub fn ser_ts<S: serde::Serializer>(t: &Ts, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(t)
}

fn ser_carrier<S: serde::Serializer>(c: &Carrier, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(c.as_str())
}
