//! Correlation: SIP messages into transactions, dialogs, calls and registrations
//! (docs/CORRELATION.md, RFC 3261 §12 and §17).
//!
//! A [`Correlator`] owns one shard of the Call-ID space and takes that shard's messages in capture
//! order. It marks retransmissions per hop, follows each call to its outcome, and hands finished
//! calls and registration attempts over as owned records. Bounded: a call leaves the table
//! `grace` of capture time after it ended, or `idle` after its last message; when `max_calls` are
//! live the least recently active are evicted early (counted, and still reported). Time is capture
//! time throughout, so results do not depend on how fast the input arrives.

pub mod call;
pub mod record;
pub mod registration;
pub mod transaction;

use std::net::SocketAddr;

use rustc_hash::FxHashMap;

use crate::reassembly::Carrier;
use crate::sip::SipMessage;
use crate::time::{Nanos, Ts, NANOS_PER_SEC};
use call::CallState;
use record::{CallRecord, MsgRow, RegRecord};

/// A parsed SIP message with where it was seen, as it travels from a decode worker.
#[derive(Clone, Debug)]
pub struct Msg {
    /// 1-based frame number in the capture.
    pub frame: u64,
    /// 1-based message number within its frame.
    pub idx: u16,
    /// The time the message is analysed at (the capture clock's, `crate::time::CaptureClock`).
    pub ts: Ts,
    /// The frame's own time stamp when it was a time warp (`ts` is then the clock's): displayed,
    /// never measured from.
    pub raw_ts: Option<Ts>,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub carrier: Carrier,
    pub ip_reassembled: bool,
    /// The HEP capture node it came from.
    pub node: Option<u32>,
    pub sip: SipMessage,
}

/// The capture's health as the run goes (for live views): each figure so far.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Health {
    /// Packets a live capture has dropped (kernel, interface, analysis behind).
    pub dropped: u64,
    /// Frames read.
    pub frames: u64,
    /// Gaps in TCP streams (capture loss).
    pub tcp_gaps: u64,
}

/// What a correlator hands to the sink.
#[derive(Clone, Debug)]
pub enum Output {
    /// Shared: a sink that keeps messages (the report's pending calls) holds it without a copy.
    Msg(std::sync::Arc<MsgRow>),
    Call(Box<CallRecord>),
    Reg(Box<RegRecord>),
    /// A media line of an SDP offer or answer: where its sender wants RTP, and in what.
    Media(std::sync::Arc<MediaInfo>),
    /// A finished RTP stream (from the decode workers).
    Rtp(Box<crate::analysis::rtp::StreamStats>),
    /// After each batch: the capture time every stage has reached and the capture's health so
    /// far. Timers of the sink run on it.
    Tick(Ts, Health),
    /// The RTP streams still flowing (when progress reports were asked for).
    RtpLive(Vec<crate::analysis::rtp::LiveStream>),
    /// An INVITE call changed phase (when asked for): at the message that changed it.
    Change(Box<record::CallChange>),
    /// An RTCP datagram (when asked for: `MediaConfig::rtcp_packets`), at its frame.
    Rtcp(Box<crate::analysis::rtcp::RtcpSeen>),
}

/// One SDP media line as announced in signalling (RFC 3264): RTP to `addr` belongs to `call_id`
/// and uses these payload types.
#[derive(Clone, Debug)]
pub struct MediaInfo {
    pub frame: u64,
    pub idx: u16,
    pub ts: Ts,
    pub call_id: String,
    pub addr: SocketAddr,
    /// The signalling endpoint that announced it (the sender of the offer or answer).
    pub announced_by: SocketAddr,
    /// (payload type, clock rate, encoding) from rtpmap or the static table.
    pub payloads: Vec<(u8, u32, record::Text)>,
    /// The media line puts the stream on hold: sendonly, recvonly or inactive (at media or
    /// session level), or the RFC 2543 hold address 0.0.0.0.
    pub held: bool,
    /// Where RTCP goes when the SDP says it is not the RTP port + 1 (RFC 3550 §11): the RTP
    /// port itself with `a=rtcp-mux` (RFC 5761), or the port of `a=rtcp:` (RFC 3605).
    pub rtcp_port: Option<u16>,
}

#[derive(Clone, Debug)]
pub struct CorrelatorConfig {
    /// Headers that link B2BUA legs, in order of trust.
    pub link_headers: Vec<String>,
    /// How long a finished call stays for stragglers (retransmitted BYE, late ACK).
    pub grace: Nanos,
    /// A call with no message for this long is finished (as it stands).
    pub idle: Nanos,
    /// Live calls at most. A pipeline gives each of its correlators an equal share of this
    /// (`--max-live-calls`); a call state costs about 3 KB, so the default bounds them near
    /// 300 MB (../shared/adversarial F7: 2M Call-IDs took 1.8 GiB under a 500,000 bound).
    pub max_calls: usize,
    pub want_messages: bool,
    /// Keep each message's full text in its row (for `show`).
    pub want_text: bool,
    /// Announce SDP media lines (for RTP analysis).
    pub want_media: bool,
    /// Timings, transactions and message counts in each call record (for `stats`).
    pub want_detail: bool,
    /// A [`Output::Change`] each time an INVITE call changes phase (live views).
    pub want_changes: bool,
    /// Each message row also carries the parsed message over its captured bytes.
    pub want_raw: bool,
    /// Each message row carries its SDP's one-line summary (for sinks that show messages; the
    /// detectors do not read it, and writing it costs a string per offer and answer).
    pub want_sdp_summary: bool,
}

impl Default for CorrelatorConfig {
    fn default() -> Self {
        CorrelatorConfig {
            link_headers: vec![
                "X-Call-ID".into(),
                "X-CID".into(),
                "X-Orig-Call-ID".into(),
                "Session-ID".into(),
                "P-Charging-Vector".into(),
            ],
            grace: call::TIMER_B,
            idle: 3600 * NANOS_PER_SEC,
            max_calls: 100_000,
            want_messages: false,
            want_text: false,
            want_media: false,
            want_detail: false,
            want_changes: false,
            want_raw: false,
            want_sdp_summary: true,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CorrelateStats {
    pub messages: u64,
    pub retransmissions: u64,
    pub without_call_id: u64,
    pub calls: u64,
    pub calls_finished: u64,
    pub calls_idle: u64,
    /// Calls pushed out early because `max_calls` were live.
    pub calls_evicted: u64,
    pub peak_live_calls: u64,
    pub anomalies: FxHashMap<&'static str, u64>,
    /// Messages without a Call-ID by (method, status; 0 for requests), with `want_detail` only:
    /// they belong to no call but still count in the message statistics. At most 64 pairs; the
    /// rest are counted under `("other", 0)`.
    pub without_call_id_by_kind: Vec<(String, u16, u64)>,
}

const MAX_ORPHAN_KINDS: usize = 64;

/// User-Agent texts a correlator keeps for sharing ([`Correlator`]'s `user_agents`).
const USER_AGENTS: usize = 512;

fn add_kind(v: &mut Vec<(String, u16, u64)>, method: &str, status: u16, n: u64) {
    if let Some(e) = v.iter_mut().find(|e| e.1 == status && e.0 == method) {
        e.2 += n;
    } else if v.len() < MAX_ORPHAN_KINDS {
        v.push((method.to_string(), status, n));
    } else if let Some(e) = v.iter_mut().find(|e| e.1 == 0 && e.0 == "other") {
        e.2 += n;
    } else {
        v.push(("other".into(), 0, n));
    }
}

impl std::ops::AddAssign<&CorrelateStats> for CorrelateStats {
    fn add_assign(&mut self, o: &CorrelateStats) {
        self.messages += o.messages;
        self.retransmissions += o.retransmissions;
        self.without_call_id += o.without_call_id;
        self.calls += o.calls;
        self.calls_finished += o.calls_finished;
        self.calls_idle += o.calls_idle;
        self.calls_evicted += o.calls_evicted;
        self.peak_live_calls += o.peak_live_calls;
        for (k, v) in &o.anomalies {
            *self.anomalies.entry(k).or_default() += v;
        }
        for (m, s, n) in &o.without_call_id_by_kind {
            add_kind(&mut self.without_call_id_by_kind, m, *s, *n);
        }
    }
}

pub struct Correlator {
    cfg: CorrelatorConfig,
    calls: FxHashMap<Box<[u8]>, CallState>,
    /// The User-Agent and Server texts of recent rows: a trunk's messages carry a handful, and
    /// a row then costs a shared count instead of an allocation (made on this thread and freed
    /// on the sink's). Emptied when it reaches [`USER_AGENTS`].
    user_agents: FxHashMap<Box<[u8]>, std::sync::Arc<str>>,
    last_sweep: Ts,
    pub stats: CorrelateStats,
}

/// Is this call's time up at `now`? Some(true) when it ended more than `grace` ago,
/// Some(false) when it has been idle longer than `idle`.
fn due(cfg: &CorrelatorConfig, c: &CallState, now: Ts) -> Option<bool> {
    if c.done_ts.is_some_and(|d| now.since(d) > cfg.grace) {
        Some(true)
    } else if now.since(c.last_ts) > cfg.idle {
        Some(false)
    } else {
        None
    }
}

/// Announces the media lines of the SDP a message carries, and returns its one-line summary
/// (`sdp::summary`) from the same parse, when `summary` asks for it: each SDP is parsed once.
fn media(m: &Msg, out: &mut Vec<Output>, summary: bool) -> Option<String> {
    let s = &m.sip;
    let ct = s.header(crate::sip::HeaderName::ContentType)?;
    let cid = s.call_id();
    let mut lines = Vec::new();
    for part in crate::sip::sdp::sdp_parts(ct, s.body()) {
        let Ok(sdp) = crate::sip::sdp::parse_sdp(part) else {
            continue;
        };
        if summary {
            crate::sip::sdp::summarize(&sdp, &mut lines);
        }
        let Some(cid) = cid else { continue };
        for md in &sdp.media {
            let Some(ip) = md.effective_connection(&sdp).and_then(|c| c.ip) else {
                continue;
            };
            if md.port == 0 || !md.is_rtp() {
                continue;
            }
            let payloads = md
                .formats
                .iter()
                .filter_map(|f| {
                    let pt: u8 = std::str::from_utf8(f).ok()?.parse().ok()?;
                    let (enc, clock) = md.codec(pt)?;
                    let enc = lossy_text(enc);
                    // telephone-event's timestamp marks an event, not time (RFC 4733 §2.2.1).
                    let clock = if enc.eq_ignore_ascii_case("telephone-event") {
                        0
                    } else {
                        clock
                    };
                    Some((pt, clock, enc))
                })
                .collect();
            out.push(Output::Media(std::sync::Arc::new(MediaInfo {
                frame: m.frame,
                idx: m.idx,
                ts: m.ts,
                call_id: lossy(cid),
                addr: SocketAddr::new(ip, md.port),
                announced_by: m.src,
                payloads,
                held: md.effective_direction(&sdp) != crate::sip::sdp::Direction::SendRecv
                    || ip.is_unspecified(),
                rtcp_port: if md.rtcp_mux {
                    Some(md.port)
                } else {
                    md.rtcp_port.filter(|p| Some(*p) != md.port.checked_add(1))
                },
            })));
        }
    }
    (!lines.is_empty()).then(|| lines.join("; "))
}

use crate::sip::message::{lossy, lossy_text};

/// A From or To value's user and tag, as a row shows them.
type UserAndTag = (Option<record::Text>, Option<record::Text>);

fn user_and_tag(n: &Option<crate::sip::nameaddr::NameAddr<'_>>) -> UserAndTag {
    match n {
        Some(n) => (Some(lossy_text(n.user())), n.tag().map(lossy_text)),
        None => (None, None),
    }
}

/// The user and tag of the last From (or To) value a call's rows read, with that value's text:
/// most messages of a call carry the same From and To, so their URIs and parameters are read
/// again only when the text changes (a To that gained its tag, a BYE from the other side).
#[derive(Debug, Default)]
pub struct NameCache {
    raw: Vec<u8>,
    read: Option<UserAndTag>,
}

impl NameCache {
    /// The user and tag of `value`, whose parse is `parsed`.
    fn get(
        &mut self,
        value: Option<&[u8]>,
        parsed: &Option<crate::sip::nameaddr::NameAddr<'_>>,
    ) -> UserAndTag {
        let Some(v) = value else {
            return (None, None);
        };
        if let Some(r) = self.read.as_ref().filter(|_| self.raw == v) {
            return r.clone();
        }
        let r = user_and_tag(parsed);
        self.raw.clear();
        self.raw.extend_from_slice(v);
        self.read = Some(r.clone());
        r
    }
}

/// What a row takes from its message's call.
struct RowShare {
    call_id: std::sync::Arc<str>,
    from: UserAndTag,
    to: UserAndTag,
}

/// The host of a SIP URI when it is an IP literal: `sip:alice@192.168.1.20:5060;transport=udp`,
/// `sip:[fd00::1]:5060`.
fn contact_host(uri: &[u8]) -> Option<std::net::IpAddr> {
    let u = std::str::from_utf8(uri).ok()?;
    let rest = u.split_once(':')?.1;
    let host_port = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host_port = host_port.split([';', '?', '>']).next()?;
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split(']').next()?.parse().ok();
    }
    host_port.split(':').next()?.parse().ok()
}

impl Correlator {
    pub fn new(cfg: CorrelatorConfig) -> Correlator {
        Correlator {
            cfg,
            calls: FxHashMap::default(),
            user_agents: FxHashMap::default(),
            last_sweep: Ts::ZERO,
            stats: CorrelateStats::default(),
        }
    }

    pub fn live_calls(&self) -> usize {
        self.calls.len()
    }

    pub fn on_msg(&mut self, m: Msg, out: &mut Vec<Output>) {
        self.stats.messages += 1;
        for a in m.sip.anomalies.iter() {
            *self.stats.anomalies.entry(a.code()).or_default() += 1;
        }
        let mut retrans = false;
        // From, To, the top Via and CSeq, decoded once for the call and the row.
        let facts = transaction::Facts::of(&m.sip);
        // What the row takes from the call: its one copy of the Call-ID, and the users and tags
        // of From and To, read again only when their text changed.
        let mut shared: Option<RowShare> = None;
        match m.sip.call_id().filter(|c| !c.is_empty()) {
            Some(cid) => {
                // A call whose time was up when this message arrived is finished first, whether or
                // not a tick got to it: expiry depends on capture time only, not on batching.
                let mut live = self.calls.get_mut(cid);
                if let Some(finished) = live.as_deref().and_then(|c| due(&self.cfg, c, m.ts)) {
                    if finished {
                        self.stats.calls_finished += 1;
                    } else {
                        self.stats.calls_idle += 1;
                    }
                    let key: Box<[u8]> = cid.into();
                    self.finish_call(&key, m.ts, false, out);
                    live = None;
                }
                let call = match live {
                    Some(c) => c,
                    None => {
                        if self.calls.len() >= self.cfg.max_calls {
                            self.evict_for_room(m.ts, out);
                        }
                        self.stats.calls += 1;
                        let mut st = CallState::new(lossy(cid).into(), &m.sip, m.ts);
                        if self.cfg.want_detail {
                            st = st.with_counts();
                        }
                        let len = self.calls.len() as u64 + 1;
                        self.stats.peak_live_calls = self.stats.peak_live_calls.max(len);
                        self.calls.entry(cid.into()).or_insert(st)
                    }
                };
                let before = if self.cfg.want_changes {
                    call.phase()
                } else {
                    None
                };
                retrans = call.on_message(
                    &m.sip,
                    &facts,
                    m.ts,
                    m.raw_ts.is_none(),
                    m.src,
                    m.dst,
                    &self.cfg.link_headers,
                );
                if let Some(n) = m.node {
                    call.note_node(n);
                }
                if self.cfg.want_messages {
                    let [from, to] = &mut call.row_names;
                    shared = Some(RowShare {
                        call_id: call.call_id.clone(),
                        from: from.get(m.sip.header(crate::sip::HeaderName::From), &facts.from),
                        to: to.get(m.sip.header(crate::sip::HeaderName::To), &facts.to),
                    });
                }
                if self.cfg.want_changes {
                    let after = call.phase();
                    if let Some(phase) = after.filter(|_| after != before) {
                        out.push(Output::Change(Box::new(record::CallChange {
                            phase,
                            ts: m.ts,
                            frame: m.frame,
                            msg_in_frame: m.idx,
                            call: call.record(m.ts),
                        })));
                    }
                }
                if call.regs.has_done() {
                    for mut r in call.regs.take_done() {
                        r.call_id = call.call_id.to_string();
                        out.push(Output::Reg(Box::new(r)));
                    }
                }
            }
            None => {
                self.stats.without_call_id += 1;
                if self.cfg.want_detail {
                    // A response's method is its CSeq's, when it has one.
                    let (method, status) = match (m.sip.method(), m.sip.status()) {
                        (Some(x), _) => (x.to_string(), 0),
                        (None, Some(st)) => (
                            m.sip.cseq().map_or("unknown".into(), |c| c.1.to_string()),
                            st,
                        ),
                        _ => ("unknown".into(), 0),
                    };
                    add_kind(&mut self.stats.without_call_id_by_kind, &method, status, 1);
                }
            }
        }
        if retrans {
            self.stats.retransmissions += 1;
        }
        // The SDP summary of the row comes from the media pass's parse when there is one.
        let sdp = (self.cfg.want_media && !retrans)
            .then(|| media(&m, out, self.cfg.want_messages && self.cfg.want_sdp_summary));
        if self.cfg.want_messages {
            let mut row = self.row(&m, &facts, retrans, sdp, shared);
            if self.cfg.want_raw {
                row.sip = Some(Box::new(m.sip));
            }
            out.push(Output::Msg(std::sync::Arc::new(row)));
        }
    }

    /// The message's row; `sdp` is its SDP summary when the caller has it already.
    /// The row's User-Agent (a request's) or Server (a response's), shared with earlier rows.
    fn user_agent(&mut self, s: &crate::sip::SipMessage) -> Option<std::sync::Arc<str>> {
        let ua = s
            .header(crate::sip::HeaderName::UserAgent)
            .or_else(|| s.header(crate::sip::HeaderName::Server))?;
        if let Some(a) = self.user_agents.get(ua) {
            return Some(a.clone());
        }
        if self.user_agents.len() >= USER_AGENTS {
            self.user_agents.clear();
        }
        let a: std::sync::Arc<str> = lossy(ua).into();
        self.user_agents.insert(ua.into(), a.clone());
        Some(a)
    }

    /// `shared` is what the message's call gives the row, when it belongs to one.
    fn row(
        &mut self,
        m: &Msg,
        facts: &transaction::Facts<'_>,
        retrans: bool,
        sdp: Option<Option<String>>,
        shared: Option<RowShare>,
    ) -> MsgRow {
        let s = &m.sip;
        let (call_id, (from_user, from_tag), (to_user, to_tag)) = match shared {
            Some(r) => (Some(r.call_id), r.from, r.to),
            None => (
                s.call_id().map(|c| lossy(c).into()),
                user_and_tag(&facts.from),
                user_and_tag(&facts.to),
            ),
        };
        let via = facts.via.as_ref();
        let cseq = s.cseq();
        // Only a REGISTER and a 2xx to one say an expiry the detectors read: no parse for the
        // rest.
        let register = s.method() == Some(&crate::sip::Method::Register)
            || (s.status().is_some_and(|c| (200..300).contains(&c))
                && cseq
                    .as_ref()
                    .is_some_and(|c| c.1 == crate::sip::Method::Register));
        MsgRow {
            frame: m.frame,
            msg_in_frame: m.idx,
            ts: m.raw_ts.unwrap_or(m.ts),
            src: m.src,
            dst: m.dst,
            transport: m.carrier,
            method: s.method().map(|x| x.as_str().into()),
            status: s.status(),
            reason: s.reason_phrase().map(lossy_text),
            call_id,
            cseq: cseq.as_ref().map(|c| c.0),
            cseq_method: cseq.map(|c| c.1.as_str().into()),
            from_user,
            to_user,
            from_tag,
            to_tag,
            branch: via.as_ref().and_then(|v| v.branch).map(lossy_text),
            via_count: s.via_count(),
            user_agent: self.user_agent(s),
            contact_ip: s
                .header(crate::sip::HeaderName::Contact)
                .and_then(crate::sip::nameaddr::NameAddr::parse)
                .and_then(|c| contact_host(c.uri_text)),
            expires: register.then(|| registration::expires_of(s)).flatten(),
            retransmission: retrans,
            ip_reassembled: m.ip_reassembled,
            node: m.node,
            anomalies: s.anomalies.iter().map(|a| a.code()).collect(),
            sdp: sdp.unwrap_or_else(|| {
                match (s.header(crate::sip::HeaderName::ContentType), s.body()) {
                    (Some(ct), body) if !body.is_empty() && self.cfg.want_sdp_summary => {
                        crate::sip::sdp::summary(ct, body)
                    }
                    _ => None,
                }
            }),
            refer_to: s.header(crate::sip::HeaderName::ReferTo).map(lossy),
            sipfrag: s
                .header(crate::sip::HeaderName::ContentType)
                .filter(|ct| ct.len() >= 15 && ct[..15].eq_ignore_ascii_case(b"message/sipfrag"))
                .and_then(|_| s.body().split(|c| *c == b'\n').next())
                .map(|l| lossy(crate::sip::message::trim(l)))
                .filter(|l| !l.is_empty()),
            text: self.cfg.want_text.then(|| s.text()),
            sip: None,
        }
    }

    fn finish_call(&mut self, key: &[u8], now: Ts, at_end: bool, out: &mut Vec<Output>) {
        if let Some(mut c) = self.calls.remove(key) {
            c.regs.close(now, at_end);
            for mut r in c.regs.take_done() {
                r.call_id = c.call_id.to_string();
                out.push(Output::Reg(Box::new(r)));
            }
            out.push(Output::Call(Box::new(c.record(now))));
        }
    }

    /// Releases calls whose time is up; `now` is the capture time reached by every shard.
    pub fn tick(&mut self, now: Ts, out: &mut Vec<Output>) {
        if now.since(self.last_sweep) < NANOS_PER_SEC {
            return;
        }
        self.last_sweep = now;
        let mut due: Vec<(Ts, Box<[u8]>, bool)> = self
            .calls
            .iter()
            .filter_map(|(k, c)| due(&self.cfg, c, now).map(|f| (c.first_ts, k.clone(), f)))
            .collect();
        due.sort();
        for (_, k, finished) in due {
            if finished {
                self.stats.calls_finished += 1;
            } else {
                self.stats.calls_idle += 1;
            }
            self.finish_call(&k, now, false, out);
        }
    }

    fn evict_for_room(&mut self, now: Ts, out: &mut Vec<Output>) {
        // Evict the least recently active 1% at once so a full table is not scanned per message.
        let n = (self.cfg.max_calls / 100).max(1);
        let mut by_age: Vec<(Ts, Box<[u8]>)> = self
            .calls
            .iter()
            .map(|(k, c)| (c.last_ts, k.clone()))
            .collect();
        // The n oldest in linear time (a full sort of the table per round was the cost).
        if n < by_age.len() {
            by_age.select_nth_unstable(n - 1);
            by_age.truncate(n);
        }
        by_age.sort_unstable();
        for (_, k) in by_age {
            self.stats.calls_evicted += 1;
            self.finish_call(&k, now, true, out);
        }
    }

    /// End of input: every call still live is reported as it stands at `now`.
    pub fn finish(&mut self, now: Ts, out: &mut Vec<Output>) {
        let mut keys: Vec<(Ts, Box<[u8]>)> = self
            .calls
            .iter()
            .map(|(k, c)| (c.first_ts, k.clone()))
            .collect();
        keys.sort();
        for (_, k) in keys {
            self.finish_call(&k, now, true, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(i: usize, ua: &str) -> Msg {
        let text = format!(
            "OPTIONS sip:b@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK{i}\r\n\
             From: <sip:a@10.0.0.1>;tag=f{i}\r\nTo: <sip:b@10.0.0.2>\r\nCall-ID: c{i}\r\n\
             CSeq: 1 OPTIONS\r\nUser-Agent: {ua}\r\nContent-Length: 0\r\n\r\n"
        );
        Msg {
            frame: i as u64 + 1,
            idx: 1,
            ts: Ts(i as i64 * 1_000_000),
            raw_ts: None,
            src: "10.0.0.1:5060".parse().unwrap(),
            dst: "10.0.0.2:5060".parse().unwrap(),
            carrier: Carrier::Udp,
            ip_reassembled: false,
            node: None,
            sip: SipMessage::parse(bytes::Bytes::from(text), true).unwrap(),
        }
    }

    fn rows(out: &mut Vec<Output>) -> Vec<std::sync::Arc<MsgRow>> {
        out.drain(..)
            .filter_map(|o| match o {
                Output::Msg(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    /// Rows with the same User-Agent share its text; a scan of ever-new ones keeps the shared
    /// texts bounded, and no row loses its own.
    #[test]
    fn user_agents_are_shared_and_bounded() {
        let mut c = Correlator::new(CorrelatorConfig {
            want_messages: true,
            ..CorrelatorConfig::default()
        });
        let mut out = Vec::new();
        c.on_msg(options(0, "phone/1.0"), &mut out);
        c.on_msg(options(1, "phone/1.0"), &mut out);
        let r = rows(&mut out);
        let (a, b) = (
            r[0].user_agent.clone().unwrap(),
            r[1].user_agent.clone().unwrap(),
        );
        assert_eq!(&*a, "phone/1.0");
        assert!(std::sync::Arc::ptr_eq(&a, &b));
        for i in 0..3 * USER_AGENTS {
            c.on_msg(options(i + 2, &format!("scanner-{i}")), &mut out);
            assert!(c.user_agents.len() <= USER_AGENTS);
            let r = rows(&mut out);
            assert_eq!(
                r[0].user_agent.as_deref(),
                Some(format!("scanner-{i}").as_str())
            );
        }
    }

    /// A row's users and tags are its own message's, though a call reads them again only when
    /// the From or To text changes: a To that gains its tag, a BYE from the callee (From and To
    /// swapped), a From written another way, a message without a To, one with an unreadable To.
    #[test]
    fn rows_users_and_tags_follow_their_own_message() {
        let mut c = Correlator::new(CorrelatorConfig {
            want_messages: true,
            ..CorrelatorConfig::default()
        });
        let msg = |i: usize, start: &str, from: &str, to: Option<&str>| {
            let to = to.map_or(String::new(), |t| format!("To: {t}\r\n"));
            let text = format!(
                "{start}\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK{i}\r\nFrom: {from}\r\n{to}\
                 Call-ID: call-1\r\nCSeq: {i} INVITE\r\nContent-Length: 0\r\n\r\n"
            );
            let mut m = options(i, "x");
            m.sip = SipMessage::parse(bytes::Bytes::from(text), true).unwrap();
            m
        };
        let inv = "INVITE sip:b@10.0.0.2 SIP/2.0";
        let ok = "SIP/2.0 200 OK";
        let cases = [
            msg(1, inv, "<sip:alice@x>;tag=a1", Some("<sip:bob@y>")),
            msg(2, ok, "<sip:alice@x>;tag=a1", Some("<sip:bob@y>;tag=b1")),
            msg(3, inv, "<sip:alice@x>;tag=a1", Some("<sip:bob@y>;tag=b1")),
            msg(4, inv, "<sip:bob@y>;tag=b1", Some("<sip:alice@x>;tag=a1")),
            msg(
                5,
                inv,
                "\"Alice\" <sip:alice@x>;tag=a2",
                Some("<sip:alice@x>;tag=a1"),
            ),
            msg(6, inv, "<sip:alice@x>;tag=a1", None),
            msg(
                7,
                inv,
                "<sip:alice@x>;tag=a1",
                Some("\"unclosed <sip:bob@y>"),
            ),
            msg(8, inv, "<sip:alice@x>;tag=a1", Some("<sip:bob@y>;tag=b1")),
        ];
        let want: Vec<_> = cases
            .iter()
            .map(|m| {
                let (f, t) = (m.sip.from(), m.sip.to());
                (user_and_tag(&f), user_and_tag(&t))
            })
            .collect();
        let mut out = Vec::new();
        for m in cases {
            c.on_msg(m, &mut out);
        }
        let got: Vec<_> = rows(&mut out)
            .iter()
            .map(|r| {
                (
                    (r.from_user.clone(), r.from_tag.clone()),
                    (r.to_user.clone(), r.to_tag.clone()),
                )
            })
            .collect();
        assert_eq!(got, want);
        assert_eq!(got[3].0 .0.as_deref(), Some("bob"));
        assert_eq!(got[5].1, (None, None));
        assert_eq!(got[7].1 .1.as_deref(), Some("b1"));
    }

    #[test]
    fn contact_hosts() {
        let h = |s: &str| super::contact_host(s.as_bytes()).map(|i| i.to_string());
        assert_eq!(
            h("sip:alice@192.168.1.20:5060;transport=udp").as_deref(),
            Some("192.168.1.20")
        );
        assert_eq!(h("sips:[fd00::1]:5061").as_deref(), Some("fd00::1"));
        assert_eq!(h("sip:10.0.0.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(h("sip:alice@example.com"), None);
        assert_eq!(h("tel:+123"), None);
    }
}
