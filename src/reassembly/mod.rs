//! Reassembly: from transport packets to whole SIP messages.
//!
//! Takes decoded UDP datagrams and TCP segments of one shard of the traffic and yields
//! [`SipBytes`]: the bytes of exactly one SIP message with its addresses, transport and time.
//! SIP is recognised by its start line on any port, never by port number. Over TCP each direction
//! is reassembled ([`tcp`]), framed by Content-Length ([`framing`]) or decoded as WebSocket
//! ([`websocket`], RFC 7118) after an HTTP upgrade; a direction that begins with a TLS record is
//! decrypted first ([`tls`], with the key table of [`ReassemblyConfig::tls_keys`]) and its
//! plaintext read the same way (carriers `tls`, `wss`). HEPv3 packets on the configured ports are
//! decapsulated ([`crate::decode::hep`]), over UDP or TCP, compressed payloads included. SCTP
//! packets go to [`sctp`] (DATA chunks, fragments put together, one SIP message per user
//! message), with its own bounds.
//!
//! Bounded: at most `max_flows` TCP connections are tracked (the least recently used is evicted
//! in O(1) amortised and counted when full), idle connections leave after `flow_idle` of capture
//! time, and each direction holds at most `tcp_max_buffered` of out-of-order segments (their bytes
//! and a fixed cost per segment, [`tcp::ISLAND_COST`]): past it, holes are skipped from the first
//! on until the rest fits, each counted as a gap. Over all connections of one reassembler (one per worker thread) the bytes held —
//! out-of-order segments, undecided probes, partial SIP messages, WebSocket messages, HEP
//! packets — stay within `stream_budget`: past it the directions holding the most are cut
//! (largest first, down to three quarters of the budget, so the scan is amortised over a
//! quarter of the budget of new bytes): each drops its partial message (counted in
//! `cut_by_budget`, said at the end) and resumes at the next message boundary.

pub mod framing;
pub mod sctp;
pub mod seq;
pub mod tcp;
pub mod tls;
pub mod websocket;

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use rustc_hash::FxHashMap;

use crate::decode::hep::{self, HepPayload};
use crate::decode::{tcp_flags, Packet, Transport};
use crate::sip::message::looks_like_sip;
use crate::time::{Nanos, Ts, NANOS_PER_SEC};
use framing::{FramingStats, SipFramer};
use tcp::{Chunk, HalfStream, TcpStats};
use tls::keylog::KeyLog;
use tls::{TlsConn, TlsDir, TlsStats};
use websocket::{UpgradeHead, WsDecoder, WsStats};

/// How a SIP message travelled.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Carrier {
    Udp,
    Tcp,
    /// SIP over WebSocket (RFC 7118) over TCP.
    Ws,
    /// Decapsulated from HEPv3; the inner transport is the one the agent reported.
    HepUdp,
    HepTcp,
    /// SIP over TLS over TCP, decrypted ([`tls`]).
    Tls,
    /// SIP over WebSocket over TLS (WSS), decrypted.
    Wss,
    /// SIP over SCTP (RFC 4168), one message per user message ([`sctp`]).
    Sctp,
}

impl Carrier {
    pub fn as_str(self) -> &'static str {
        match self {
            Carrier::Udp => "udp",
            Carrier::Tcp => "tcp",
            Carrier::Ws => "ws",
            Carrier::HepUdp => "udp+hep3",
            Carrier::HepTcp => "tcp+hep3",
            Carrier::Tls => "tls",
            Carrier::Wss => "wss",
            Carrier::Sctp => "sctp",
        }
    }

    pub fn is_stream(self) -> bool {
        matches!(
            self,
            Carrier::Tcp | Carrier::Ws | Carrier::HepTcp | Carrier::Tls | Carrier::Wss
        )
    }

    /// Carried inside TLS (decrypted from a key log).
    pub fn is_tls(self) -> bool {
        matches!(self, Carrier::Tls | Carrier::Wss)
    }
}

/// The bytes of one SIP message with where and when it was seen.
#[derive(Clone, Debug)]
pub struct SipBytes {
    pub ts: Ts,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub carrier: Carrier,
    pub bytes: Bytes,
    /// The bytes are a whole datagram (UDP, a WebSocket message, a HEP payload): Content-Length
    /// does not frame them, a mismatch is an anomaly.
    pub datagram: bool,
    pub ip_reassembled: bool,
    /// The capture node that sent it, when it came in HEP (its capture id, chunk 0x0c).
    pub node: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct ReassemblyConfig {
    pub hep_ports: Vec<u16>,
    pub max_flows: usize,
    pub tcp_max_buffered: usize,
    pub flow_idle: Nanos,
    pub max_message: usize,
    /// Bytes all TCP directions of one reassembler may hold together (see the module docs).
    pub stream_budget: usize,
    /// The TLS key table (`--tls-keylog`, pcapng Decryption Secrets Blocks), shared by every
    /// worker; none: TLS connections are counted, not decrypted.
    pub tls_keys: Option<Arc<KeyLog>>,
    pub sctp: sctp::SctpConfig,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            hep_ports: vec![9060],
            max_flows: 65_536,
            tcp_max_buffered: 1 << 20,
            flow_idle: 300 * NANOS_PER_SEC,
            max_message: 16 << 20,
            stream_budget: 64 << 20,
            tls_keys: None,
            sctp: sctp::SctpConfig::default(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReassemblyStats {
    pub udp_sip: u64,
    pub udp_other: u64,
    pub tcp: TcpStats,
    pub framing: FramingStats,
    pub ws: WsStats,
    pub ws_errors: u64,
    pub hep_packets: u64,
    pub hep_errors: u64,
    pub hep_not_sip: u64,
    pub flows: u64,
    /// TCP connections that never showed SIP (not buffered further).
    pub flows_not_sip: u64,
    pub flows_evicted: u64,
    pub flows_expired: u64,
    /// TCP directions whose partial message was dropped to keep within `stream_budget`.
    pub cut_by_budget: u64,
    pub cut_by_budget_bytes: u64,
    /// TCP connections that carry TLS (recognised by a record header on any port): decrypted,
    /// or counted by the reason they were not.
    pub tls: TlsStats,
    /// SIP over SCTP: chunks, user messages, retransmissions, fragments given up.
    pub sctp: sctp::SctpStats,
}

/// A TLS record header starting the stream: a ChangeCipherSpec (20), alert (21), handshake (22)
/// or application data (23) record of SSL 3.0 to TLS 1.3 (version 3.0-3.4), not empty and no
/// longer than TLS allows. A stream caught mid-way may begin with any of them.
fn tls_record(p: &[u8]) -> bool {
    matches!(tls::record::header(p), Ok(Some(h)) if h.typ <= 23 && h.len > 0)
}

impl std::ops::AddAssign<&ReassemblyStats> for ReassemblyStats {
    fn add_assign(&mut self, o: &ReassemblyStats) {
        self.udp_sip += o.udp_sip;
        self.udp_other += o.udp_other;
        self.tcp += &o.tcp;
        self.framing += &o.framing;
        self.ws += o.ws;
        self.ws_errors += o.ws_errors;
        self.hep_packets += o.hep_packets;
        self.hep_errors += o.hep_errors;
        self.hep_not_sip += o.hep_not_sip;
        self.flows += o.flows;
        self.flows_not_sip += o.flows_not_sip;
        self.flows_evicted += o.flows_evicted;
        self.flows_expired += o.flows_expired;
        self.cut_by_budget += o.cut_by_budget;
        self.cut_by_budget_bytes += o.cut_by_budget_bytes;
        self.tls += &o.tls;
        self.sctp += &o.sctp;
    }
}

/// What one direction of a TCP connection carries, as far as we know.
enum Mode {
    /// Not decided: a few first bytes are kept until they tell.
    Unknown {
        probe: BytesMut,
        chunks: u8,
    },
    Sip(SipFramer),
    /// WebSocket: the HTTP head is read first, then frames.
    Ws {
        head: Option<BytesMut>,
        dec: Box<WsDecoder>,
    },
    Hep(HepStream),
    /// TLS: records decrypted ([`tls`]), their plaintext read by the inner mode (SIP or
    /// WebSocket, never TLS again).
    Tls {
        st: Box<TlsDir>,
        inner: Box<Mode>,
    },
    NotSip,
}

impl Mode {
    fn unknown() -> Mode {
        Mode::Unknown {
            probe: BytesMut::new(),
            chunks: 0,
        }
    }

    /// Bytes held for later by what the direction carries.
    fn buffered(&self) -> usize {
        match self {
            Mode::Unknown { probe, .. } => probe.len(),
            Mode::Sip(f) => f.buffered(),
            Mode::Ws { head, dec } => head.as_ref().map_or(0, |h| h.len()) + dec.buffered(),
            Mode::Hep(h) => h.buffered(),
            Mode::Tls { st, inner } => st.buffered() + inner.buffered(),
            Mode::NotSip => 0,
        }
    }

    /// Drops what is held; the partial message is lost (see [`Direction::cut`]).
    fn cut(&mut self, stats: &mut ReassemblyStats) {
        match self {
            Mode::Unknown { probe, .. } => *probe = BytesMut::new(),
            Mode::Sip(f) => {
                f.cut(&mut stats.framing);
            }
            Mode::Ws { head, dec } => {
                if let Some(h) = head {
                    *h = BytesMut::new();
                }
                dec.cut();
            }
            Mode::Hep(h) => {
                if h.buffered() > 0 {
                    stats.hep_errors += 1;
                }
                *h = HepStream::default();
            }
            Mode::Tls { st, inner } => {
                // A partial record dropped: the records that follow cannot be found.
                if st.buffered() > 0 {
                    st.gap();
                }
                inner.cut(stats);
            }
            Mode::NotSip => {}
        }
    }
}

struct Direction {
    stream: HalfStream,
    mode: Mode,
    /// What [`Direction::buffered`] said when last measured (its share of the budget).
    held: usize,
}

impl Direction {
    /// Bytes held for later: out-of-order segments and whatever the mode assembles.
    fn buffered(&self) -> usize {
        self.stream.buffered() + self.mode.buffered()
    }

    /// Drops what the direction holds; the partial message is lost and reading resumes at the
    /// next message boundary.
    fn cut(&mut self, stats: &mut ReassemblyStats) {
        self.stream.drop_pending();
        self.mode.cut(stats);
    }
}

struct Flow {
    /// Endpoint of direction 0 (the lower address/port).
    a: SocketAddr,
    b: SocketAddr,
    dirs: [Direction; 2],
    /// What the two directions of a TLS connection share (none until one looks like TLS).
    tls: Option<Box<TlsConn>>,
    last_ts: Ts,
    closed: [bool; 2],
    /// The touch number of this flow's latest packet.
    touched: u64,
    /// The touch number its entry in the LRU queue carries.
    queued: u64,
}

type FlowKey = (SocketAddr, SocketAddr);

/// How many chunks of an undecided stream, once judged, we look at before calling it not SIP.
/// It is first judged on its first line: once a line end, a byte no start line holds, or
/// [`PROBE_MAX`] bytes arrived, however many segments brought them (a start line split into
/// tiny segments is still SIP).
const PROBE_CHUNKS: u8 = 4;
/// Bytes an undecided stream may hold before it is called not SIP (an HTTP upgrade head may
/// take up to [`websocket::MAX_HEAD_LEN`]).
const PROBE_MAX: usize = 4096;

pub struct Reassembler {
    cfg: ReassemblyConfig,
    flows: FxHashMap<FlowKey, Flow>,
    /// One entry per flow, (touch number, key), in the order they were queued. A packet only
    /// stamps its flow with a new touch number; eviction pops the front and gives a flow
    /// touched since it was queued a second chance at the back (with its latest number), so
    /// the flow evicted is one not touched since it went round the queue: least recently used
    /// in the CLOCK sense, O(1) amortised (each re-queue pays for a packet). Entries of closed
    /// flows are stale (their number is no longer the flow's `queued`) and skipped.
    lru: VecDeque<(u64, FlowKey)>,
    touches: u64,
    /// Queue entries visited by eviction and compaction (a work counter for the tests).
    lru_work: u64,
    /// Sum of every direction's `held`.
    held_total: usize,
    last_sweep: Ts,
    pub stats: ReassemblyStats,
    chunks: Vec<Chunk>,
    frames: Vec<Bytes>,
    sctp: sctp::SctpReassembler,
}

impl Reassembler {
    pub fn new(cfg: ReassemblyConfig) -> Reassembler {
        let cfg_sctp = cfg.sctp.clone();
        Reassembler {
            cfg,
            flows: FxHashMap::default(),
            lru: VecDeque::new(),
            touches: 0,
            lru_work: 0,
            held_total: 0,
            last_sweep: Ts::ZERO,
            stats: ReassemblyStats::default(),
            chunks: Vec::new(),
            frames: Vec::new(),
            sctp: sctp::SctpReassembler::new(cfg_sctp),
        }
    }

    pub fn flows(&self) -> usize {
        self.flows.len()
    }

    /// Takes one packet; appends the SIP messages it completes to `out`. UDP that is neither SIP
    /// nor HEP is handed back, for the media tracker.
    pub fn packet(&mut self, p: Packet, out: &mut Vec<SipBytes>) -> Option<Packet> {
        let src = SocketAddr::new(p.src, p.sport);
        let dst = SocketAddr::new(p.dst, p.dport);
        match p.transport {
            Transport::Udp => self.udp(p, src, dst, out),
            Transport::Tcp => {
                self.tcp(p, src, dst, out);
                None
            }
            Transport::Sctp => {
                self.sctp.packet(&p, out);
                self.stats.sctp = self.sctp.stats.clone();
                None
            }
        }
    }

    fn udp(
        &mut self,
        p: Packet,
        src: SocketAddr,
        dst: SocketAddr,
        out: &mut Vec<SipBytes>,
    ) -> Option<Packet> {
        let on_hep_port =
            self.cfg.hep_ports.contains(&p.dport) || self.cfg.hep_ports.contains(&p.sport);
        if on_hep_port && hep::is_hep3(&p.payload) {
            let mut data = &p.payload[..];
            // One HEP packet per datagram, but be generous if an agent packed several.
            while !data.is_empty() {
                match hep_message(&self.cfg, data, p.ts, Carrier::HepUdp, &mut self.stats) {
                    Some((used, msg)) => {
                        if let Some(m) = msg {
                            out.push(m);
                        }
                        data = &data[used.min(data.len())..];
                    }
                    None => break,
                }
            }
            return None;
        }
        if looks_like_sip(&p.payload) {
            self.stats.udp_sip += 1;
            out.push(SipBytes {
                ts: p.ts,
                src,
                dst,
                carrier: Carrier::Udp,
                bytes: p.payload,
                datagram: true,
                ip_reassembled: p.reassembled,
                node: None,
            });
            None
        } else {
            self.stats.udp_other += 1;
            Some(p)
        }
    }

    fn tcp(&mut self, p: Packet, src: SocketAddr, dst: SocketAddr, out: &mut Vec<SipBytes>) {
        let (key, dir) = if (src.ip(), src.port()) <= (dst.ip(), dst.port()) {
            ((src, dst), 0usize)
        } else {
            ((dst, src), 1usize)
        };
        if !self.flows.contains_key(&key) {
            if p.payload.is_empty() && p.tcp.flags & tcp_flags::SYN == 0 {
                // A bare ACK/FIN/RST of a connection we do not track: nothing to learn from it.
                return;
            }
            if self.flows.len() >= self.cfg.max_flows {
                self.evict_oldest(out);
            }
            self.stats.flows += 1;
            if self.lru.len() > 2 * self.flows.len() + 1024 {
                // Entries of closed flows outnumber the live ones: drop them (amortised over
                // the flows opened).
                self.lru_work += self.lru.len() as u64;
                let flows = &self.flows;
                self.lru
                    .retain(|(t, k)| flows.get(k).is_some_and(|f| f.queued == *t));
            }
            self.touches += 1;
            self.lru.push_back((self.touches, key));
            let max = self.cfg.tcp_max_buffered;
            let new_dir = || Direction {
                stream: HalfStream::new(max),
                mode: Mode::unknown(),
                held: 0,
            };
            self.flows.insert(
                key,
                Flow {
                    a: key.0,
                    b: key.1,
                    dirs: [new_dir(), new_dir()],
                    tls: None,
                    last_ts: p.ts,
                    closed: [false, false],
                    touched: self.touches,
                    queued: self.touches,
                },
            );
        }
        let Some(flow) = self.flows.get_mut(&key) else {
            return;
        };
        flow.last_ts = p.ts;
        self.touches += 1;
        flow.touched = self.touches;
        let (from, to) = if dir == 0 {
            (flow.a, flow.b)
        } else {
            (flow.b, flow.a)
        };
        self.chunks.clear();
        let d = &mut flow.dirs[dir];
        let tls = &mut flow.tls;
        d.stream.segment(
            p.tcp.seq,
            p.tcp.flags,
            p.payload,
            &mut self.stats.tcp,
            &mut self.chunks,
        );
        let ctx = Ctx {
            ts: p.ts,
            src: from,
            dst: to,
            ip_reassembled: p.reassembled,
            dir,
            in_tls: false,
        };
        for c in self.chunks.drain(..) {
            feed(
                &self.cfg,
                &mut d.mode,
                c,
                &ctx,
                &mut self.stats,
                &mut self.frames,
                out,
                tls,
            );
        }
        let now = d.buffered();
        self.held_total = self.held_total - d.held + now;
        d.held = now;
        if self.held_total > self.cfg.stream_budget {
            self.enforce_budget();
        }
        self.close_if_done(key, dir, p.tcp.flags, p.ts, out);
    }

    fn close_if_done(
        &mut self,
        key: FlowKey,
        dir: usize,
        flags: u8,
        ts: Ts,
        out: &mut Vec<SipBytes>,
    ) {
        let Some(flow) = self.flows.get_mut(&key) else {
            return;
        };
        if flags & (tcp_flags::FIN | tcp_flags::RST) != 0 {
            flow.closed[dir] = true;
            if flags & tcp_flags::RST != 0 || flow.closed == [true, true] {
                if let Some(flow) = self.flows.remove(&key) {
                    self.close(flow, ts, out);
                }
            }
        }
    }

    /// Cuts the directions holding the most until the bytes held are back to three quarters
    /// of the budget (see the module docs).
    fn enforce_budget(&mut self) {
        let target = self.cfg.stream_budget - self.cfg.stream_budget / 4;
        let mut held: Vec<(usize, FlowKey, usize)> = self
            .flows
            .iter()
            .flat_map(|(k, f)| {
                f.dirs
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| d.held > 0)
                    .map(|(i, d)| (d.held, *k, i))
            })
            .collect();
        // Largest first; ties in key order, so the choice does not depend on the hash.
        held.sort_unstable_by(|a, b| b.0.cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
        for (_, k, i) in held {
            if self.held_total <= target {
                break;
            }
            let Some(f) = self.flows.get_mut(&k) else {
                continue;
            };
            let d = &mut f.dirs[i];
            d.cut(&mut self.stats);
            let now = d.buffered();
            self.stats.cut_by_budget += 1;
            self.stats.cut_by_budget_bytes += (d.held - now) as u64;
            self.held_total = self.held_total - d.held + now;
            d.held = now;
        }
    }

    fn close(&mut self, mut flow: Flow, ts: Ts, out: &mut Vec<SipBytes>) {
        // Records waiting for a key written while they came (live): the key log is read once
        // more, and each TLS direction tries its waiting records before the connection counts.
        let waiting = flow.tls.is_some()
            && flow
                .dirs
                .iter()
                .any(|d| matches!(&d.mode, Mode::Tls { st, .. } if st.waiting()));
        if waiting {
            if let Some(k) = self.cfg.tls_keys.as_deref() {
                k.reread();
            }
        }
        for (i, d) in flow.dirs.iter_mut().enumerate() {
            self.held_total -= d.held;
            d.held = 0;
            let (src, dst) = if i == 0 {
                (flow.a, flow.b)
            } else {
                (flow.b, flow.a)
            };
            let ctx = Ctx {
                ts,
                src,
                dst,
                ip_reassembled: false,
                dir: i,
                in_tls: false,
            };
            self.chunks.clear();
            d.stream.flush(&mut self.stats.tcp, &mut self.chunks);
            if waiting && matches!(d.mode, Mode::Tls { .. }) {
                self.chunks.push(Chunk::Data(Bytes::new()));
            }
            for c in self.chunks.drain(..) {
                feed(
                    &self.cfg,
                    &mut d.mode,
                    c,
                    &ctx,
                    &mut self.stats,
                    &mut self.frames,
                    out,
                    &mut flow.tls,
                );
            }
            finish_mode(
                &self.cfg,
                &mut d.mode,
                &ctx,
                &mut self.stats,
                &mut self.frames,
                out,
            );
        }
        if let Some(conn) = flow.tls.take() {
            fn st(m: &Mode) -> Option<&TlsDir> {
                match m {
                    Mode::Tls { st, .. } => Some(st),
                    _ => None,
                }
            }
            conn.finish(
                [st(&flow.dirs[0].mode), st(&flow.dirs[1].mode)],
                [flow.a.port(), flow.b.port()],
                &mut self.stats.tls,
            );
        }
    }

    /// Evicts the least recently touched connection (see `lru`; O(1) amortised).
    fn evict_oldest(&mut self, out: &mut Vec<SipBytes>) {
        while let Some((t, k)) = self.lru.pop_front() {
            self.lru_work += 1;
            let Some(f) = self.flows.get_mut(&k) else {
                continue;
            };
            if f.queued != t {
                continue;
            }
            if f.touched > t {
                // Touched since it was queued: a second chance at the back.
                f.queued = f.touched;
                self.lru.push_back((f.touched, k));
                continue;
            }
            if let Some(f) = self.flows.remove(&k) {
                self.stats.flows_evicted += 1;
                let ts = f.last_ts;
                self.close(f, ts, out);
            }
            return;
        }
    }

    /// Expires idle connections. Called with the time every shard has reached (the start of a
    /// batch), not per packet, so that what it releases does not depend on the sharding.
    pub fn tick(&mut self, now: Ts, out: &mut Vec<SipBytes>) {
        if now.since(self.last_sweep) < NANOS_PER_SEC {
            return;
        }
        self.last_sweep = now;
        if self.sctp.associations() > 0 {
            self.sctp.tick(now);
            self.stats.sctp = self.sctp.stats.clone();
        }
        let idle = self.cfg.flow_idle;
        let mut expired: Vec<FlowKey> = self
            .flows
            .iter()
            .filter(|(_, f)| now.since(f.last_ts) > idle)
            .map(|(k, _)| *k)
            .collect();
        // Deterministic order: the messages a flush releases go out in a stable sequence.
        expired.sort();
        for k in expired {
            if let Some(f) = self.flows.remove(&k) {
                self.stats.flows_expired += 1;
                let ts = f.last_ts;
                self.close(f, ts, out);
            }
        }
    }

    /// End of input: flush every connection.
    pub fn finish(&mut self, out: &mut Vec<SipBytes>) {
        self.sctp.finish();
        self.stats.sctp = self.sctp.stats.clone();
        self.lru.clear();
        let mut keys: Vec<FlowKey> = self.flows.keys().copied().collect();
        keys.sort();
        for k in keys {
            if let Some(f) = self.flows.remove(&k) {
                let ts = f.last_ts;
                self.close(f, ts, out);
            }
        }
    }
}

#[derive(Clone)]
struct Ctx {
    ts: Ts,
    src: SocketAddr,
    dst: SocketAddr,
    ip_reassembled: bool,
    /// The direction of the flow (0: from its lower endpoint).
    dir: usize,
    /// The bytes are the plaintext of a TLS connection.
    in_tls: bool,
}

/// The end of a direction's stream: what its mode holds is let go (a last message without its
/// end is counted, never delivered half).
fn finish_mode(
    cfg: &ReassemblyConfig,
    mode: &mut Mode,
    ctx: &Ctx,
    stats: &mut ReassemblyStats,
    frames: &mut Vec<Bytes>,
    out: &mut Vec<SipBytes>,
) {
    match mode {
        Mode::Sip(f) => {
            frames.clear();
            f.finish(&mut stats.framing, frames);
            for b in frames.drain(..) {
                out.push(SipBytes {
                    ts: ctx.ts,
                    src: ctx.src,
                    dst: ctx.dst,
                    carrier: if ctx.in_tls {
                        Carrier::Tls
                    } else {
                        Carrier::Tcp
                    },
                    bytes: b,
                    datagram: false,
                    ip_reassembled: false,
                    node: None,
                });
            }
        }
        Mode::Ws { dec, .. } => stats.ws += dec.stats(),
        Mode::Hep(h) if h.buffered() > 0 => {
            h.push(cfg, &[], ctx.ts, stats, true, out);
        }
        Mode::Unknown { probe, .. } if !probe.is_empty() => {
            stats.flows_not_sip += 1;
        }
        Mode::NotSip => stats.flows_not_sip += 1,
        Mode::Tls { inner, .. } => {
            let ictx = Ctx {
                in_tls: true,
                ..ctx.clone()
            };
            finish_mode(cfg, inner, &ictx, stats, frames, out);
        }
        _ => {}
    }
}

/// Decodes one HEP packet at the start of `data`: (bytes used, the SIP it carried if any).
/// `None` when `data` does not hold a whole valid packet.
fn hep_message(
    cfg: &ReassemblyConfig,
    data: &[u8],
    ts: Ts,
    carrier: Carrier,
    stats: &mut ReassemblyStats,
) -> Option<(usize, Option<SipBytes>)> {
    let (h, used) = match hep::parse_hep3(data) {
        Ok(x) => x,
        Err(_) => {
            stats.hep_errors += 1;
            return None;
        }
    };
    stats.hep_packets += 1;
    let payload: Bytes = match h.payload {
        HepPayload::Raw(p) => Bytes::copy_from_slice(p),
        HepPayload::Compressed(c) => match hep::inflate_payload(c, cfg.max_message) {
            Ok(v) => Bytes::from(v),
            Err(_) => {
                stats.hep_errors += 1;
                return Some((used, None));
            }
        },
        HepPayload::None => {
            stats.hep_not_sip += 1;
            return Some((used, None));
        }
    };
    let is_sip = h.proto_type.is_none_or(|t| t == hep::proto_type::SIP);
    if !is_sip || !looks_like_sip(&payload) {
        stats.hep_not_sip += 1;
        return Some((used, None));
    }
    let unspecified = IpAddr::from([0u8, 0, 0, 0]);
    let inner = match h.ip_proto {
        Some(6) => Carrier::HepTcp,
        _ => carrier,
    };
    Some((
        used,
        Some(SipBytes {
            ts,
            src: SocketAddr::new(h.src.unwrap_or(unspecified), h.src_port.unwrap_or(0)),
            dst: SocketAddr::new(h.dst.unwrap_or(unspecified), h.dst_port.unwrap_or(0)),
            carrier: inner,
            bytes: payload,
            datagram: true,
            ip_reassembled: false,
            node: h.capture_id,
        }),
    ))
}

/// HEPv3 over TCP: packets framed by the length in their header. A header may lie (announce
/// more bytes than the packet has); the bytes that follow then contradict it: the chunks end and
/// the next `HEP3` magic begins before the announced end, or the stream closes first. The lying
/// packet is counted damaged and reading resumes at the next magic, so one bad length cannot
/// swallow the rest of the stream.
struct HepStream {
    buf: BytesMut,
    /// How far the chunks of the incomplete packet at the front of `buf` were walked.
    walk: usize,
    /// The chunks did not walk (a length under 6): look for the magic anywhere from `walk`.
    walk_lost: bool,
    /// Bytes that are no packet are being skipped; the run was counted once.
    resyncing: bool,
}

const HEP3_MAGIC: &[u8] = b"HEP3";
/// HEPv3 header: magic and total length; each chunk has a 6-byte header (vendor, type, length).
const HEP3_HEADER: usize = 6;

impl Default for HepStream {
    fn default() -> Self {
        HepStream {
            buf: BytesMut::new(),
            walk: HEP3_HEADER,
            walk_lost: false,
            resyncing: false,
        }
    }
}

impl HepStream {
    fn clear(&mut self) {
        self.buf.clear();
        self.reset_walk();
        self.resyncing = false;
    }

    fn reset_walk(&mut self) {
        self.walk = HEP3_HEADER;
        self.walk_lost = false;
    }

    fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Drops bytes up to the next magic after the first byte (or all but a tail that may yet
    /// grow into one).
    fn skip_to_next_magic(&mut self) {
        match memchr::memmem::find(self.buf.get(1..).unwrap_or_default(), HEP3_MAGIC) {
            Some(q) => self.buf.advance(q + 1),
            None => {
                // Keep only a tail that may yet grow into a magic.
                let keep = (1..HEP3_MAGIC.len())
                    .rev()
                    .find(|n| *n <= self.buf.len() && self.buf.ends_with(&HEP3_MAGIC[..*n]))
                    .unwrap_or(0);
                self.buf.advance(self.buf.len() - keep);
            }
        }
        self.reset_walk();
    }

    /// Where the packet at the front, announcing `len` bytes but holding fewer, is contradicted
    /// by a magic inside it; walks its chunks once over the bytes as they come.
    fn contradiction(&mut self, len: usize) -> Option<usize> {
        let b = &self.buf[..];
        if !self.walk_lost {
            while self.walk + HEP3_HEADER <= b.len() && self.walk < len {
                let w = self.walk;
                if &b[w..w + 4] == HEP3_MAGIC {
                    return Some(w);
                }
                let clen = usize::from(u16::from_be_bytes([b[w + 4], b[w + 5]]));
                if clen < HEP3_HEADER {
                    self.walk_lost = true;
                    break;
                }
                self.walk += clen;
            }
            if !self.walk_lost {
                return None;
            }
        }
        let from = self.walk.min(b.len());
        let hit = memchr::memmem::find(&b[from..], HEP3_MAGIC).map(|q| from + q);
        match hit {
            Some(q) if q < len => Some(q),
            _ => {
                self.walk = b.len().saturating_sub(HEP3_MAGIC.len() - 1).max(from);
                None
            }
        }
    }

    /// Appends stream bytes and decodes every whole packet; `closing`: the stream ended, what
    /// is left can never complete.
    fn push(
        &mut self,
        cfg: &ReassemblyConfig,
        data: &[u8],
        ts: Ts,
        stats: &mut ReassemblyStats,
        closing: bool,
        out: &mut Vec<SipBytes>,
    ) {
        self.buf.extend_from_slice(data);
        loop {
            if self.buf.is_empty() {
                return;
            }
            if self.buf.len() < HEP3_HEADER && !closing {
                if !HEP3_MAGIC.starts_with(&self.buf[..self.buf.len().min(4)]) {
                    stats.hep_errors += u64::from(!std::mem::replace(&mut self.resyncing, true));
                    self.skip_to_next_magic();
                }
                return;
            }
            let len = match hep::hep3_packet_len(&self.buf) {
                Some(len) if len >= HEP3_HEADER => len,
                _ => {
                    // Not a packet here (or a length under the header's own): resync, one
                    // count for the whole run of bytes skipped.
                    stats.hep_errors += u64::from(!std::mem::replace(&mut self.resyncing, true));
                    self.skip_to_next_magic();
                    if self.buf.len() < HEP3_MAGIC.len() && closing {
                        self.clear();
                    }
                    continue;
                }
            };
            if self.buf.len() >= len {
                let pkt = self.buf.split_to(len);
                self.reset_walk();
                self.resyncing = false;
                if let Some((_, Some(m))) = hep_message(cfg, &pkt, ts, Carrier::HepTcp, stats) {
                    out.push(m);
                }
                continue;
            }
            if let Some(at) = self.contradiction(len) {
                stats.hep_errors += 1;
                self.buf.advance(at);
                self.reset_walk();
                continue;
            }
            if closing {
                stats.hep_errors += 1;
                self.skip_to_next_magic();
                if self.buf.len() < HEP3_MAGIC.len() {
                    self.clear();
                }
                continue;
            }
            return;
        }
    }
}

/// Feeds one in-order chunk of a TCP direction to whatever that direction carries; `tls`: the
/// connection's shared TLS state (created when a direction turns out to be TLS).
#[allow(clippy::too_many_arguments)] // one direction's whole context, passed down as it is
fn feed(
    cfg: &ReassemblyConfig,
    mode: &mut Mode,
    chunk: Chunk,
    ctx: &Ctx,
    stats: &mut ReassemblyStats,
    frames: &mut Vec<Bytes>,
    out: &mut Vec<SipBytes>,
    tls: &mut Option<Box<TlsConn>>,
) {
    let data = match chunk {
        Chunk::Gap(g) => {
            match mode {
                Mode::Sip(f) => f.gap(&mut stats.framing),
                Mode::Ws { dec, .. } => dec.reset(),
                Mode::Hep(h) => h.clear(),
                Mode::Unknown { probe, .. } => probe.clear(),
                Mode::Tls { st, inner } => {
                    st.gap();
                    let ictx = Ctx {
                        in_tls: true,
                        ..ctx.clone()
                    };
                    feed(
                        cfg,
                        inner,
                        Chunk::Gap(g),
                        &ictx,
                        stats,
                        frames,
                        out,
                        &mut None,
                    );
                }
                Mode::NotSip => {}
            }
            return;
        }
        Chunk::Data(d) => d,
    };
    let push_msg = |bytes: Bytes, carrier: Carrier, datagram: bool, out: &mut Vec<SipBytes>| {
        let carrier = match (ctx.in_tls, carrier) {
            (true, Carrier::Ws) => Carrier::Wss,
            (true, _) => Carrier::Tls,
            (false, c) => c,
        };
        out.push(SipBytes {
            ts: ctx.ts,
            src: ctx.src,
            dst: ctx.dst,
            carrier,
            bytes,
            datagram,
            ip_reassembled: ctx.ip_reassembled,
            node: None,
        })
    };
    if let Mode::Unknown { probe, chunks } = mode {
        probe.extend_from_slice(&data);
        let line_ended = |d: &[u8]| {
            d.iter()
                .any(|c| *c == b'\n' || !(c.is_ascii_graphic() || *c == b' ' || *c == b'\r'))
        };
        // Only the new bytes are looked at: the earlier ones did not end the first line.
        if *chunks == 0 && probe.len() < PROBE_MAX && !line_ended(&data) {
            return;
        }
        *chunks = chunks.saturating_add(1);
        let p = &probe[..];
        let on_hep_port =
            cfg.hep_ports.contains(&ctx.src.port()) || cfg.hep_ports.contains(&ctx.dst.port());
        let next = if looks_like_sip(p) || p.starts_with(b"\r\n") {
            Some(Mode::Sip(SipFramer::default()))
        } else if on_hep_port && hep::is_hep3(p) {
            Some(Mode::Hep(HepStream::default()))
        } else {
            match websocket::http_upgrade_head(p) {
                UpgradeHead::Request { .. } | UpgradeHead::Response { accepted: true, .. } => {
                    Some(Mode::Ws {
                        head: Some(BytesMut::new()),
                        dec: Box::new(WsDecoder::new(cfg.max_message)),
                    })
                }
                // Bounded: the head is refused past MAX_HEAD_LEN bytes.
                UpgradeHead::Incomplete => return,
                _ => {
                    // TLS on any port: decrypted with the key table if it can be, its
                    // plaintext probed like a new stream (never TLS again).
                    if !ctx.in_tls && tls_record(p) {
                        tls.get_or_insert_with(Box::default);
                        Some(Mode::Tls {
                            st: Box::default(),
                            inner: Box::new(Mode::unknown()),
                        })
                    } else if memchr::memmem::find(p, b"SIP/2.0").is_some() {
                        let mut f = SipFramer::default();
                        f.gap(&mut stats.framing);
                        Some(Mode::Sip(f))
                    } else if *chunks >= PROBE_CHUNKS || p.len() > PROBE_MAX {
                        Some(Mode::NotSip)
                    } else {
                        None
                    }
                }
            }
        };
        match next {
            Some(m) => {
                let buffered = std::mem::take(probe).freeze();
                *mode = m;
                if matches!(mode, Mode::NotSip) {
                    return;
                }
                return feed(
                    cfg,
                    mode,
                    Chunk::Data(buffered),
                    ctx,
                    stats,
                    frames,
                    out,
                    tls,
                );
            }
            None => return,
        }
    }
    match mode {
        Mode::Sip(f) => {
            frames.clear();
            f.push(&data, &mut stats.framing, frames);
            for b in frames.drain(..) {
                push_msg(b, Carrier::Tcp, false, out);
            }
        }
        Mode::Ws { head, dec } => {
            let mut rest = &data[..];
            if let Some(h) = head {
                h.extend_from_slice(rest);
                match websocket::http_upgrade_head(h) {
                    UpgradeHead::Request { len, .. } | UpgradeHead::Response { len, .. } => {
                        let after = h.split_off(len).freeze();
                        *head = None;
                        let mut msgs = Vec::new();
                        let errors = dec.stats().errors;
                        let _ = dec.push(&after, &mut msgs);
                        stats.ws_errors += dec.stats().errors - errors;
                        for m in msgs {
                            if looks_like_sip(&m) {
                                push_msg(Bytes::from(m), Carrier::Ws, true, out);
                            }
                        }
                        return;
                    }
                    UpgradeHead::Incomplete => return,
                    UpgradeHead::NotUpgrade => {
                        *mode = Mode::NotSip;
                        return;
                    }
                }
            }
            let mut msgs = Vec::new();
            let errors = dec.stats().errors;
            let _ = dec.push(rest, &mut msgs);
            stats.ws_errors += dec.stats().errors - errors;
            rest = &[];
            let _ = rest;
            for m in msgs {
                if looks_like_sip(&m) {
                    push_msg(Bytes::from(m), Carrier::Ws, true, out);
                }
            }
        }
        Mode::Hep(h) => h.push(cfg, &data, ctx.ts, stats, false, out),
        Mode::Tls { st, inner } => {
            let Some(conn) = tls.as_deref_mut() else {
                return;
            };
            let mut plain = Vec::new();
            st.push(
                conn,
                ctx.dir,
                &data,
                cfg.tls_keys.as_deref(),
                &mut stats.tls,
                &mut plain,
            );
            let ictx = Ctx {
                in_tls: true,
                ..ctx.clone()
            };
            for p in plain {
                feed(
                    cfg,
                    inner,
                    Chunk::Data(p),
                    &ictx,
                    stats,
                    frames,
                    out,
                    &mut None,
                );
            }
        }
        Mode::NotSip | Mode::Unknown { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::TcpMeta;
    use std::net::Ipv4Addr;

    fn seg(from: (u8, u16), to: (u8, u16), seq: u32, flags: u8, data: &[u8]) -> Packet {
        Packet {
            ts: Ts(1),
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, from.0)),
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, to.0)),
            sport: from.1,
            dport: to.1,
            transport: Transport::Tcp,
            tcp: TcpMeta { seq, ack: 0, flags },
            payload: Bytes::copy_from_slice(data),
            reassembled: false,
            tunnels: 0,
        }
    }

    /// Sends `chunks` as one direction of a connection from (1, sport) to (2, dport), then FIN
    /// both ways; returns the messages and the counters.
    fn stream(r: &mut Reassembler, sport: u16, dport: u16, chunks: &[&[u8]]) -> Vec<SipBytes> {
        let mut out = Vec::new();
        let (a, b) = ((1, sport), (2, dport));
        r.packet(seg(a, b, 1000, tcp_flags::SYN, b""), &mut out);
        let mut seq = 1001u32;
        for c in chunks {
            r.packet(seg(a, b, seq, tcp_flags::ACK, c), &mut out);
            seq += c.len() as u32;
        }
        r.packet(seg(a, b, seq, tcp_flags::FIN, b""), &mut out);
        r.packet(seg(b, a, 1, tcp_flags::FIN, b""), &mut out);
        out
    }

    fn invite(cid: &str) -> Vec<u8> {
        format!(
            "INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK{cid}\r\nCall-ID: {cid}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    fn hep(chunks: &[(u16, &[u8])], announce: Option<u16>) -> Vec<u8> {
        let mut body = Vec::new();
        for (ty, v) in chunks {
            body.extend_from_slice(&0u16.to_be_bytes());
            body.extend_from_slice(&ty.to_be_bytes());
            body.extend_from_slice(&((6 + v.len()) as u16).to_be_bytes());
            body.extend_from_slice(v);
        }
        let mut p = b"HEP3".to_vec();
        let len = announce.unwrap_or((6 + body.len()) as u16);
        p.extend_from_slice(&len.to_be_bytes());
        p.extend_from_slice(&body);
        p
    }

    fn hep_sip(sip: &[u8], announce: Option<u16>) -> Vec<u8> {
        hep(
            &[
                (1, &[2]),
                (2, &[17]),
                (3, &[10, 0, 0, 1]),
                (4, &[10, 0, 0, 2]),
                (7, &[0x13, 0xc4]),
                (8, &[0x13, 0xc4]),
                (0x0f, sip),
            ],
            announce,
        )
    }

    /// F3: with the connection table full, each new connection scanned every flow to find the
    /// oldest (300k half-open connections: 196 s). The LRU queue makes it O(1) amortised: the
    /// queue work stays linear in the packets.
    #[test]
    fn eviction_from_a_full_table_is_amortised_constant() {
        let cfg = ReassemblyConfig {
            max_flows: 1000,
            ..ReassemblyConfig::default()
        };
        let mut r = Reassembler::new(cfg);
        let mut out = Vec::new();
        let half = b"INVITE sip:b@x SIP/2.0\r\nCall-ID: half";
        let n = 50_000u32;
        let mut packets = 0u64;
        for i in 0..n {
            let from = (1 + (i >> 16) as u8, (i & 0xffff) as u16);
            for p in [
                seg(from, (200, 5060), 1000, tcp_flags::SYN, b""),
                seg(from, (200, 5060), 1001, tcp_flags::ACK, half),
                seg(
                    from,
                    (200, 5060),
                    1001 + half.len() as u32,
                    tcp_flags::ACK,
                    b"1",
                ),
            ] {
                r.packet(p, &mut out);
                packets += 1;
            }
            if i >= 500 && i % 3 == 0 {
                // An older flow comes back: it gets a second chance in the queue.
                let j = i - 500;
                let back = (1 + (j >> 16) as u8, (j & 0xffff) as u16);
                let p = seg(
                    back,
                    (200, 5060),
                    1002 + half.len() as u32,
                    tcp_flags::ACK,
                    b"2",
                );
                r.packet(p, &mut out);
                packets += 1;
            }
            assert!(r.flows() <= 1000);
        }
        assert_eq!(r.stats.flows_evicted, r.stats.flows - 1000);
        assert!(r.lru_work <= 4 * packets, "{} for {packets}", r.lru_work);
        let msg = invite("after-half@x");
        let out = stream(&mut r, 5555, 5060, &[&msg]);
        assert!(out.iter().any(|m| m.bytes[..] == msg[..]));
    }

    /// S6: a stream whose first 11 bytes came in 4 segments was judged "not SIP" for good.
    #[test]
    fn a_start_line_in_tiny_segments_is_still_sip() {
        let m = [invite("tiny-first@x"), invite("tiny-second@x")].concat();
        let mut r = Reassembler::new(ReassemblyConfig::default());
        let out = stream(
            &mut r,
            46000,
            5060,
            &[&m[0..3], &m[3..6], &m[6..9], &m[9..11], &m[11..]],
        );
        assert_eq!(out.len(), 2);
        let mut pieces: Vec<&[u8]> = m[..60].chunks(1).collect();
        pieces.push(&m[60..]);
        let mut r = Reassembler::new(ReassemblyConfig::default());
        let out = stream(&mut r, 46000, 5060, &pieces);
        assert_eq!(out.len(), 2);
        assert_eq!(r.stats.flows_not_sip, 0);
        // Not SIP stays not SIP, judged on a bounded number of bytes.
        let mut r = Reassembler::new(ReassemblyConfig::default());
        let junk = [0x16u8; 100];
        let pieces: Vec<&[u8]> = junk.chunks(3).collect();
        stream(&mut r, 46000, 5060, &pieces);
        assert_eq!(r.stats.flows_not_sip, 1);
    }

    /// F8: per-connection buffers had no global cap (40 connections mid-way through 16 MiB
    /// bodies: 710 MiB). The bytes held stay within the budget; the streams cut skip the rest of
    /// their body and the next message on each is read.
    #[test]
    fn stream_buffers_stay_within_the_budget() {
        let budget = 1 << 20;
        let cfg = ReassemblyConfig {
            stream_budget: budget,
            ..ReassemblyConfig::default()
        };
        let mut r = Reassembler::new(cfg);
        let mut out = Vec::new();
        let conns = 20u16;
        let body = 400_000usize;
        let mut seqs = Vec::new();
        for c in 0..conns {
            let head = format!(
                "INVITE sip:b@x SIP/2.0\r\nCall-ID: big{c}@x\r\nContent-Length: {body}\r\n\r\n"
            );
            r.packet(
                seg((1, 20000 + c), (2, 5060), 1000, tcp_flags::SYN, b""),
                &mut out,
            );
            r.packet(
                seg(
                    (1, 20000 + c),
                    (2, 5060),
                    1001,
                    tcp_flags::ACK,
                    head.as_bytes(),
                ),
                &mut out,
            );
            seqs.push(1001 + head.len() as u32);
        }
        let blk = vec![b'b'; 20_000];
        for _ in 0..body / blk.len() {
            for c in 0..conns {
                let p = seg(
                    (1, 20000 + c),
                    (2, 5060),
                    seqs[c as usize],
                    tcp_flags::ACK,
                    &blk,
                );
                r.packet(p, &mut out);
                seqs[c as usize] += blk.len() as u32;
                assert!(r.held_total <= budget, "{}", r.held_total);
                let sum: usize = r
                    .flows
                    .values()
                    .flat_map(|f| &f.dirs)
                    .map(|d| d.buffered())
                    .sum();
                assert_eq!(sum, r.held_total);
            }
        }
        assert!(r.stats.cut_by_budget >= 10, "{:?}", r.stats);
        for c in 0..conns {
            let m = invite(&format!("next{c}@x"));
            let p = seg(
                (1, 20000 + c),
                (2, 5060),
                seqs[c as usize],
                tcp_flags::ACK,
                &m,
            );
            r.packet(p, &mut out);
        }
        for c in 0..conns {
            let cid = format!("next{c}@x");
            assert!(
                out.iter()
                    .any(|m| memchr::memmem::find(&m.bytes, cid.as_bytes()).is_some()),
                "{cid}"
            );
        }
        // The streams that were not cut delivered their big message whole.
        let whole = out.iter().filter(|m| m.bytes.len() > body).count() as u64;
        assert_eq!(whole + r.stats.cut_by_budget, u64::from(conns));
    }

    /// S3: a HEP packet announcing more bytes than it carries swallowed every later packet.
    #[test]
    fn a_lying_hep_length_does_not_swallow_the_stream() {
        let mut r = Reassembler::new(ReassemblyConfig::default());
        let short = hep_sip(b"", Some(65_535));
        let short = &short[..short.len() - 6];
        let good = hep_sip(&invite("hep-after@x"), None);
        let out = stream(&mut r, 44001, 9060, &[short, &good]);
        assert_eq!(out.len(), 1);
        assert_eq!(r.stats.hep_packets, 1);
        assert_eq!(r.stats.hep_errors, 1, "{:?}", r.stats);
        // Garbage between two packets: one damaged run, both packets read, however it is cut.
        let one = hep_sip(&invite("hep-1@x"), None);
        let two = hep_sip(&invite("hep-2@x"), None);
        let all = [&one[..], b"xHEyzHEP", &two[..]].concat();
        for cut in 1..all.len() {
            let mut r = Reassembler::new(ReassemblyConfig::default());
            let out = stream(&mut r, 44001, 9060, &[&all[..cut], &all[cut..]]);
            assert_eq!(out.len(), 2, "cut {cut}");
            assert_eq!(r.stats.hep_errors, 1, "cut {cut}: {:?}", r.stats);
        }
        // Cut anywhere, and a lie at the very end of the stream: still counted.
        let all = [short, &good[..], short].concat();
        for cut in 1..all.len() {
            let mut r = Reassembler::new(ReassemblyConfig::default());
            let out = stream(&mut r, 44001, 9060, &[&all[..cut], &all[cut..]]);
            assert_eq!(out.len(), 1, "cut {cut}");
            assert_eq!(r.stats.hep_errors, 2, "cut {cut}: {:?}", r.stats);
        }
    }
}
