//! Reassembly: from transport packets to whole SIP messages.
//!
//! Takes decoded UDP datagrams and TCP segments of one shard of the traffic and yields
//! [`SipBytes`]: the bytes of exactly one SIP message with its addresses, transport and time.
//! SIP is recognised by its start line on any port, never by port number. Over TCP each direction
//! is reassembled ([`tcp`]), framed by Content-Length ([`framing`]) or decoded as WebSocket
//! ([`websocket`], RFC 7118) after an HTTP upgrade. HEPv3 packets on the configured ports are
//! decapsulated ([`crate::decode::hep`]), over UDP or TCP, compressed payloads included.
//!
//! Bounded: at most `max_flows` TCP connections are tracked (the least recently used is evicted
//! and counted when full), idle connections leave after `flow_idle` of capture time, and each
//! direction buffers at most `tcp_max_buffered` out-of-order bytes before skipping a hole.

pub mod framing;
pub mod seq;
pub mod tcp;
pub mod websocket;

use std::net::{IpAddr, SocketAddr};

use bytes::{Buf, Bytes, BytesMut};
use rustc_hash::FxHashMap;

use crate::decode::hep::{self, HepPayload};
use crate::decode::{tcp_flags, Packet, Transport};
use crate::sip::message::looks_like_sip;
use crate::time::{Nanos, Ts, NANOS_PER_SEC};
use framing::{FramingStats, SipFramer};
use tcp::{Chunk, HalfStream, TcpStats};
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
}

impl Carrier {
    pub fn as_str(self) -> &'static str {
        match self {
            Carrier::Udp => "udp",
            Carrier::Tcp => "tcp",
            Carrier::Ws => "ws",
            Carrier::HepUdp => "udp+hep3",
            Carrier::HepTcp => "tcp+hep3",
        }
    }

    pub fn is_stream(self) -> bool {
        matches!(self, Carrier::Tcp | Carrier::Ws | Carrier::HepTcp)
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
}

#[derive(Clone, Debug)]
pub struct ReassemblyConfig {
    pub hep_ports: Vec<u16>,
    pub max_flows: usize,
    pub tcp_max_buffered: usize,
    pub flow_idle: Nanos,
    pub max_message: usize,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            hep_ports: vec![9060],
            max_flows: 65_536,
            tcp_max_buffered: 1 << 20,
            flow_idle: 300 * NANOS_PER_SEC,
            max_message: 16 << 20,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
    Hep(BytesMut),
    NotSip,
}

struct Direction {
    stream: HalfStream,
    mode: Mode,
}

struct Flow {
    /// Endpoint of direction 0 (the lower address/port).
    a: SocketAddr,
    b: SocketAddr,
    dirs: [Direction; 2],
    last_ts: Ts,
    closed: [bool; 2],
}

type FlowKey = (SocketAddr, SocketAddr);

/// How many chunks of an undecided stream we look at before calling it not SIP.
const PROBE_CHUNKS: u8 = 4;

pub struct Reassembler {
    cfg: ReassemblyConfig,
    flows: FxHashMap<FlowKey, Flow>,
    last_sweep: Ts,
    pub stats: ReassemblyStats,
    chunks: Vec<Chunk>,
    frames: Vec<Bytes>,
}

impl Reassembler {
    pub fn new(cfg: ReassemblyConfig) -> Reassembler {
        Reassembler {
            cfg,
            flows: FxHashMap::default(),
            last_sweep: Ts::ZERO,
            stats: ReassemblyStats::default(),
            chunks: Vec::new(),
            frames: Vec::new(),
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
            let max = self.cfg.tcp_max_buffered;
            let new_dir = || Direction {
                stream: HalfStream::new(max),
                mode: Mode::Unknown {
                    probe: BytesMut::new(),
                    chunks: 0,
                },
            };
            self.flows.insert(
                key,
                Flow {
                    a: key.0,
                    b: key.1,
                    dirs: [new_dir(), new_dir()],
                    last_ts: p.ts,
                    closed: [false, false],
                },
            );
        }
        let Some(flow) = self.flows.get_mut(&key) else {
            return;
        };
        flow.last_ts = p.ts;
        let (from, to) = if dir == 0 {
            (flow.a, flow.b)
        } else {
            (flow.b, flow.a)
        };
        self.chunks.clear();
        let d = &mut flow.dirs[dir];
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
            );
        }
        if p.tcp.flags & (tcp_flags::FIN | tcp_flags::RST) != 0 {
            flow.closed[dir] = true;
            if p.tcp.flags & tcp_flags::RST != 0 || flow.closed == [true, true] {
                if let Some(flow) = self.flows.remove(&key) {
                    self.close(flow, p.ts, out);
                }
            }
        }
    }

    fn close(&mut self, mut flow: Flow, ts: Ts, out: &mut Vec<SipBytes>) {
        for (i, d) in flow.dirs.iter_mut().enumerate() {
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
            };
            self.chunks.clear();
            d.stream.flush(&mut self.stats.tcp, &mut self.chunks);
            for c in self.chunks.drain(..) {
                feed(
                    &self.cfg,
                    &mut d.mode,
                    c,
                    &ctx,
                    &mut self.stats,
                    &mut self.frames,
                    out,
                );
            }
            match &mut d.mode {
                Mode::Sip(f) => {
                    self.frames.clear();
                    f.finish(&mut self.stats.framing, &mut self.frames);
                    for b in self.frames.drain(..) {
                        out.push(SipBytes {
                            ts,
                            src,
                            dst,
                            carrier: Carrier::Tcp,
                            bytes: b,
                            datagram: false,
                            ip_reassembled: false,
                        });
                    }
                }
                Mode::Ws { dec, .. } => self.stats.ws += dec.stats(),
                Mode::Unknown { probe, .. } if !probe.is_empty() => {
                    self.stats.flows_not_sip += 1;
                }
                Mode::NotSip => self.stats.flows_not_sip += 1,
                _ => {}
            }
        }
    }

    fn evict_oldest(&mut self, out: &mut Vec<SipBytes>) {
        if let Some(k) = self
            .flows
            .iter()
            .min_by_key(|(k, f)| (f.last_ts, **k))
            .map(|(k, _)| *k)
        {
            if let Some(f) = self.flows.remove(&k) {
                self.stats.flows_evicted += 1;
                let ts = f.last_ts;
                self.close(f, ts, out);
            }
        }
    }

    /// Expires idle connections. Called with the time every shard has reached (the start of a
    /// batch), not per packet, so that what it releases does not depend on the sharding.
    pub fn tick(&mut self, now: Ts, out: &mut Vec<SipBytes>) {
        if now.since(self.last_sweep) < NANOS_PER_SEC {
            return;
        }
        self.last_sweep = now;
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

struct Ctx {
    ts: Ts,
    src: SocketAddr,
    dst: SocketAddr,
    ip_reassembled: bool,
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
        }),
    ))
}

/// Feeds one in-order chunk of a TCP direction to whatever that direction carries.
fn feed(
    cfg: &ReassemblyConfig,
    mode: &mut Mode,
    chunk: Chunk,
    ctx: &Ctx,
    stats: &mut ReassemblyStats,
    frames: &mut Vec<Bytes>,
    out: &mut Vec<SipBytes>,
) {
    let data = match chunk {
        Chunk::Gap(_) => {
            match mode {
                Mode::Sip(f) => f.gap(&mut stats.framing),
                Mode::Ws { dec, .. } => dec.reset(),
                Mode::Hep(buf) => buf.clear(),
                Mode::Unknown { probe, .. } => probe.clear(),
                Mode::NotSip => {}
            }
            return;
        }
        Chunk::Data(d) => d,
    };
    let push_msg = |bytes: Bytes, carrier: Carrier, datagram: bool, out: &mut Vec<SipBytes>| {
        out.push(SipBytes {
            ts: ctx.ts,
            src: ctx.src,
            dst: ctx.dst,
            carrier,
            bytes,
            datagram,
            ip_reassembled: ctx.ip_reassembled,
        })
    };
    if let Mode::Unknown { probe, chunks } = mode {
        probe.extend_from_slice(&data);
        *chunks = chunks.saturating_add(1);
        let p = &probe[..];
        let on_hep_port =
            cfg.hep_ports.contains(&ctx.src.port()) || cfg.hep_ports.contains(&ctx.dst.port());
        let next = if p.len() < 12 && *chunks < PROBE_CHUNKS {
            return;
        } else if looks_like_sip(p) || p.starts_with(b"\r\n") {
            Some(Mode::Sip(SipFramer::default()))
        } else if on_hep_port && hep::is_hep3(p) {
            Some(Mode::Hep(BytesMut::new()))
        } else {
            match websocket::http_upgrade_head(p) {
                UpgradeHead::Request { .. } | UpgradeHead::Response { accepted: true, .. } => {
                    Some(Mode::Ws {
                        head: Some(BytesMut::new()),
                        dec: Box::new(WsDecoder::new(cfg.max_message)),
                    })
                }
                UpgradeHead::Incomplete if *chunks < PROBE_CHUNKS => return,
                _ => {
                    // Perhaps we joined mid-message: a start line later in the data resyncs.
                    if memchr::memmem::find(p, b"SIP/2.0").is_some() {
                        let mut f = SipFramer::default();
                        f.gap(&mut stats.framing);
                        Some(Mode::Sip(f))
                    } else if *chunks >= PROBE_CHUNKS || p.len() > 4096 {
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
                return feed(cfg, mode, Chunk::Data(buffered), ctx, stats, frames, out);
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
                        if dec.push(&after, &mut msgs).is_err() {
                            stats.ws_errors += 1;
                        }
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
            if dec.push(rest, &mut msgs).is_err() {
                stats.ws_errors += 1;
            }
            rest = &[];
            let _ = rest;
            for m in msgs {
                if looks_like_sip(&m) {
                    push_msg(Bytes::from(m), Carrier::Ws, true, out);
                }
            }
        }
        Mode::Hep(buf) => {
            buf.extend_from_slice(&data);
            loop {
                let Some(len) = hep::hep3_packet_len(buf) else {
                    if buf.len() >= 6 && !hep::is_hep3(buf) {
                        stats.hep_errors += 1;
                        buf.clear();
                    }
                    break;
                };
                if buf.len() < len {
                    break;
                }
                let pkt = buf.split_to(len);
                if let Some((_, Some(m))) = hep_message(cfg, &pkt, ctx.ts, Carrier::HepTcp, stats) {
                    out.push(m);
                }
                if len == 0 {
                    buf.clear();
                    break;
                }
            }
            let _ = buf.remaining();
        }
        Mode::NotSip | Mode::Unknown { .. } => {}
    }
}
