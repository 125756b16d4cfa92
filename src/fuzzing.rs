//! Fuzz entry points: one function per stage, called by the coverage-guided targets in `fuzz/`
//! and by the replay test (`tests/fuzz_replay.rs`), which runs every committed seed and finding
//! through the same functions. Not part of the library's interface.
//!
//! Contract of every entry: any byte string is a valid input; the function never panics on it,
//! and checks the stage's bounds as it goes (tables never above their caps, buffers never above
//! their budgets, outputs never above what went in or what the stage allows). A bound broken is
//! an `assert!` failure, which the fuzzer reports as a crash. Time and memory are bounded from
//! outside (libFuzzer's `-timeout`/`-rss_limit_mb`, the replay test's per-input deadline).
//!
//! Stateful stages read their input as a sequence of operations ([`Ops`]): a control byte, then
//! a length-prefixed chunk, so that one input is many packets, segments or pushes. [`seeds`]
//! writes real captures in these formats (one file per packet, message or group), the fuzzers'
//! starting corpus and the replay test's per-packet split.

use std::io::Cursor;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bytes::Bytes;

use crate::analysis::rtcp;
use crate::analysis::rtp::{RtpHeader, RtpTracker};
use crate::capture::file::FileSource;
use crate::capture::{Frame, LinkType, Source};
use crate::decode::hep;
use crate::decode::ipfrag::IpDefrag;
use crate::decode::{tcp_flags, Decoder, Packet, Transport};
use crate::pipeline::PipelineConfig;
use crate::reassembly::framing::{FramingStats, SipFramer};
use crate::reassembly::tcp::{HalfStream, TcpStats};
use crate::reassembly::websocket::{self, WsDecoder};
use crate::reassembly::{Reassembler, ReassemblyConfig, SipBytes};
use crate::session::{Event, Needs, SessionConfig, Sink};
use crate::sip::{sdp, SipMessage};
use crate::time::{Ts, NANOS_PER_SEC};

/// Every target, by the name its `fuzz/` binary and its `fuzz/regressions/` folder have.
pub const TARGETS: [&str; 11] = [
    "capture",
    "decode",
    "tcp",
    "framing",
    "websocket",
    "tls",
    "hep",
    "sip",
    "sdp",
    "rtp",
    "pipeline",
];

/// Runs target `name` on `data`; false for an unknown name.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "capture" => fuzz_capture(data),
        "decode" => fuzz_decode(data),
        "tcp" => fuzz_tcp(data),
        "framing" => fuzz_framing(data),
        "websocket" => fuzz_websocket(data),
        "tls" => fuzz_tls(data),
        "hep" => fuzz_hep(data),
        "sip" => fuzz_sip(data),
        "sdp" => fuzz_sdp(data),
        "rtp" => fuzz_rtp(data),
        "pipeline" => fuzz_pipeline(data),
        _ => return false,
    }
    true
}

/// A reader of operations: fixed-width fields and length-prefixed chunks, short at the end.
pub struct Ops<'a> {
    d: &'a [u8],
}

impl<'a> Ops<'a> {
    pub fn new(d: &'a [u8]) -> Ops<'a> {
        Ops { d }
    }

    pub fn is_empty(&self) -> bool {
        self.d.is_empty()
    }

    pub fn u8(&mut self) -> Option<u8> {
        let (b, rest) = self.d.split_first()?;
        self.d = rest;
        Some(*b)
    }

    pub fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }

    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes([
            self.u8()?,
            self.u8()?,
            self.u8()?,
            self.u8()?,
        ]))
    }

    /// Up to `n` bytes (fewer at the end).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.d.split_at(n.min(self.d.len()));
        self.d = b;
        a
    }

    /// A chunk: a 16-bit big-endian length, then that many bytes.
    pub fn chunk(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()? as usize;
        Some(self.take(n))
    }
}

/// Appends a chunk in the [`Ops::chunk`] format (cut to 65,535 bytes).
pub fn put_chunk(out: &mut Vec<u8>, d: &[u8]) {
    let d = &d[..d.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(d.len() as u16).to_be_bytes());
    out.extend_from_slice(d);
}

// ---------------------------------------------------------------------------------------------
// capture

/// The pcap, pcapng and NetMon readers (plain or gzip) on one in-memory file: every frame is
/// read to the end or to the damage.
pub fn fuzz_capture(data: &[u8]) {
    let Ok(mut src) = FileSource::from_reader(
        Path::new("fuzz"),
        Box::new(Cursor::new(data.to_vec())),
        data.len() as u64,
    ) else {
        return;
    };
    let mut frames = 0u64;
    let mut bytes = 0u64;
    while let Ok(Some(f)) = src.next_frame() {
        frames += 1;
        bytes += f.data.len() as u64;
        // A record is never larger than the reader's cap.
        assert!(f.data.len() <= 256 << 20, "frame of {} bytes", f.data.len());
    }
    let st = src.stats();
    assert_eq!(st.frames, frames, "frames counted");
    assert_eq!(st.bytes, bytes, "bytes counted");
    assert!(st.truncated_frames <= st.frames);
}

// ---------------------------------------------------------------------------------------------
// decode

/// Link types a decode op's selector picks from.
const LINKS: [LinkType; 8] = [
    LinkType::Ethernet,
    LinkType::Raw,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Null,
    LinkType::Loop,
];

/// The fragment table's caps in the decode target: small, so that eviction is reached.
const FUZZ_FRAG_DATAGRAMS: usize = 8;
const FUZZ_FRAG_SIZE: usize = 65_535 + 40;

/// Decode ops: `[ctl][chunk]`, the low 3 bits of `ctl` choosing the link type, bit 7 moving the
/// clock 40 s on (fragment timeouts). Every frame is decoded (link layers, tunnels, IP
/// defragmentation); the fragment table stays within its caps, and a packet's payload within
/// its frame or the datagram size cap.
pub fn fuzz_decode(data: &[u8]) {
    let mut ops = Ops::new(data);
    let mut dec = Decoder::new(IpDefrag::new(
        FUZZ_FRAG_DATAGRAMS,
        FUZZ_FRAG_SIZE,
        30 * NANOS_PER_SEC,
    ));
    let mut ts = Ts(NANOS_PER_SEC);
    let mut n = 0u64;
    while let (Some(ctl), Some(frame)) = (ops.u8(), ops.chunk()) {
        ts = ts.saturating_add(if ctl & 0x80 != 0 {
            40 * NANOS_PER_SEC
        } else {
            1_000_000
        });
        let f = Frame {
            ts,
            link: LINKS[(ctl & 7) as usize],
            data: Bytes::copy_from_slice(frame),
            orig_len: frame.len() as u32,
        };
        n += 1;
        if let Some(p) = dec.decode(&f) {
            let cap = if p.reassembled {
                FUZZ_FRAG_SIZE
            } else {
                frame.len()
            };
            assert!(
                p.payload.len() <= cap,
                "payload {} > {cap}",
                p.payload.len()
            );
            assert!(p.tunnels <= crate::decode::MAX_DEPTH);
        }
        assert!(
            dec.defrag.pending() <= FUZZ_FRAG_DATAGRAMS,
            "fragment table"
        );
    }
    dec.finish();
    assert_eq!(dec.stats.frames, n);
    assert_eq!(dec.defrag.pending(), 0, "fragments left after finish");
}

// ---------------------------------------------------------------------------------------------
// TCP reassembly and SIP framing

/// Server ports a TCP or RTP input's first byte picks: SIP, HEP, WebSocket, TLS port, other.
const PORTS: [u16; 5] = [5060, 9060, 80, 5061, 7000];

/// The reassembler's caps in the TCP target: small, so that eviction and skipping are reached.
pub const FUZZ_TCP: ReassemblyConfig = ReassemblyConfig {
    hep_ports: Vec::new(),
    max_flows: 4,
    tcp_max_buffered: 16 << 10,
    flow_idle: 300 * NANOS_PER_SEC,
    max_message: 64 << 10,
    stream_budget: 256 << 10,
    tls_keys: None,
    sctp: crate::reassembly::sctp::SctpConfig {
        max_assocs: 4,
        assoc_budget: 16 << 10,
        budget: 32 << 10,
        idle: 300 * NANOS_PER_SEC,
    },
};

fn addr(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, i))
}

/// TCP ops: the first byte picks the server port; then `[ctl][seq u32][chunk]` per segment.
/// `ctl`: bit 0 the direction (to the server or back), bits 1-2 the connection (4 client
/// ports), bits 3-6 FIN, SYN, RST, ACK, bit 7 moves the clock 400 s on (idle expiry). Every
/// segment goes through the reassembler (TCP order, SIP/WebSocket/HEP framing); the connection
/// table stays within its cap and no message comes out larger than the bytes that went in (or
/// an inflated HEP payload's cap).
pub fn fuzz_tcp(data: &[u8]) {
    let mut ops = Ops::new(data);
    let Some(p) = ops.u8() else { return };
    let port = PORTS[p as usize % PORTS.len()];
    let mut cfg = FUZZ_TCP;
    cfg.hep_ports = vec![9060];
    let max_flows = cfg.max_flows;
    let max_message = cfg.max_message;
    let mut r = Reassembler::new(cfg);
    let mut out: Vec<SipBytes> = Vec::new();
    let mut ts = Ts(NANOS_PER_SEC);
    let mut fed = 0usize;
    let mut longest = 0usize;
    while let (Some(ctl), Some(seq), Some(payload)) = (ops.u8(), ops.u32(), ops.chunk()) {
        ts = ts.saturating_add(if ctl & 0x80 != 0 {
            400 * NANOS_PER_SEC
        } else {
            1_000_000
        });
        let client = 40_000 + ((ctl >> 1) & 3) as u16;
        let (src, sport, dst, dport) = if ctl & 1 == 0 {
            (addr(1), client, addr(2), port)
        } else {
            (addr(2), port, addr(1), client)
        };
        let f = ctl >> 3;
        let flags = [
            tcp_flags::FIN,
            tcp_flags::SYN,
            tcp_flags::RST,
            tcp_flags::ACK,
        ]
        .iter()
        .enumerate()
        .filter(|(i, _)| f & (1 << i) != 0)
        .fold(0u8, |a, (_, b)| a | b);
        fed += payload.len();
        longest = longest.max(payload.len());
        let pkt = Packet {
            ts,
            src,
            dst,
            sport,
            dport,
            transport: Transport::Tcp,
            tcp: crate::decode::TcpMeta { seq, ack: 0, flags },
            payload: Bytes::copy_from_slice(payload),
            reassembled: false,
            tunnels: 0,
        };
        r.tick(ts, &mut out);
        r.packet(pkt, &mut out);
        assert!(r.flows() <= max_flows, "{} flows > {max_flows}", r.flows());
        check_out(&mut out, fed, max_message);
    }
    r.finish(&mut out);
    check_out(&mut out, fed, max_message);
    assert_eq!(r.flows(), 0, "flows left after finish");
}

fn check_out(out: &mut Vec<SipBytes>, fed: usize, max_message: usize) {
    for m in out.drain(..) {
        assert!(
            m.bytes.len() <= fed.max(max_message),
            "message of {} bytes from {fed} bytes in",
            m.bytes.len()
        );
        // What the reassembler hands on is parsed next, as the pipeline does.
        let _ = SipMessage::parse(m.bytes, m.datagram);
    }
}

/// The framer's caps in the framing target.
const FRAME_HEADER: usize = 4096;
const FRAME_BODY: usize = 16 << 10;

/// Framing ops: chunks (`[chunk]`); an empty chunk is a gap. After each push the framer holds
/// at most a header's and a body's worth beyond the last push; every message it delivers
/// parses or is refused, never panics. One TCP half-stream is driven in parallel from the same
/// chunks, each chunk's first byte read as a sequence step, to check its out-of-order budget.
pub fn fuzz_framing(data: &[u8]) {
    let mut ops = Ops::new(data);
    let mut fr = SipFramer::new(FRAME_HEADER, FRAME_BODY);
    let mut st = FramingStats::default();
    let mut out = Vec::new();
    let mut half = HalfStream::new(4096);
    let mut tst = TcpStats::default();
    let mut chunks = Vec::new();
    let mut seq = 1000u32;
    half.segment(seq, tcp_flags::SYN, Bytes::new(), &mut tst, &mut chunks);
    seq = seq.wrapping_add(1);
    while let Some(c) = ops.chunk() {
        if c.is_empty() {
            fr.gap(&mut st);
        } else {
            fr.push(c, &mut st, &mut out);
            assert!(
                fr.buffered() <= FRAME_HEADER.max(8192) + FRAME_BODY + c.len(),
                "framer holds {}",
                fr.buffered()
            );
            // Segments sent out of order by as much as the first byte says.
            let step = (c[0] as u32).wrapping_mul(97);
            half.segment(
                seq.wrapping_add(step),
                tcp_flags::ACK,
                Bytes::copy_from_slice(c),
                &mut tst,
                &mut chunks,
            );
            seq = seq.wrapping_add(c.len() as u32);
            assert!(
                half.buffered() <= 4096,
                "half-stream holds {}",
                half.buffered()
            );
        }
        for m in out.drain(..) {
            let _ = SipMessage::parse(m, false);
        }
    }
    fr.finish(&mut st, &mut out);
    half.flush(&mut tst, &mut chunks);
    for m in out.drain(..) {
        let _ = SipMessage::parse(m, false);
    }
}

// ---------------------------------------------------------------------------------------------
// WebSocket

const WS_MAX: usize = 16 << 10;

/// WebSocket: the whole input is tried as an HTTP upgrade head, then fed to a decoder in chunks
/// (`[chunk]`, an empty chunk resets it as a TCP gap does). No message is longer than the cap,
/// and the decoder holds at most a frame header, a message and a control frame.
pub fn fuzz_websocket(data: &[u8]) {
    let _ = websocket::http_upgrade_head(data);
    let _ = websocket::header_value(data, b"sec-websocket-protocol");
    let mut ops = Ops::new(data);
    let mut dec = WsDecoder::new(WS_MAX);
    let mut out = Vec::new();
    while let Some(c) = ops.chunk() {
        if c.is_empty() {
            dec.reset();
            continue;
        }
        let _ = dec.push(c, &mut out);
        assert!(
            dec.buffered() <= 14 + WS_MAX + 125,
            "decoder holds {}",
            dec.buffered()
        );
        for m in out.drain(..) {
            assert!(m.len() <= WS_MAX, "message of {} bytes", m.len());
            let _ = SipMessage::parse(Bytes::from(m), true);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// TLS

/// TLS: the first chunk is a key log (its length odd: the table waits for missing keys, as
/// live), then chunks `[ctl][bytes]` to the two directions of one connection (`ctl` bit 0: the
/// direction; bit 1: a gap there instead). Record and hello parsers, key schedules and record
/// decryption never panic; each direction holds at most one record, one hello and the bytes
/// waiting for a key; the connection is counted once at the end.
pub fn fuzz_tls(data: &[u8]) {
    use crate::reassembly::tls::{keylog::KeyLog, record, TlsConn, TlsDir, TlsStats, PENDING_MAX};
    let _ = record::header(data);
    let _ = record::server_hello(data);
    let _ = record::client_random(data);
    let mut ops = Ops::new(data);
    let Some(text) = ops.chunk() else {
        return;
    };
    let keys = KeyLog::new(8).waiting(text.len() % 2 == 1);
    keys.add_text(text);
    assert!(keys.stats().entries <= 8);
    let mut conn = TlsConn::default();
    let mut dirs = [TlsDir::default(), TlsDir::default()];
    let mut stats = TlsStats::default();
    let mut plain = Vec::new();
    let mut fed = 0usize;
    while let Some(c) = ops.chunk() {
        let Some((ctl, bytes)) = c.split_first() else {
            continue;
        };
        let d = usize::from(ctl & 1);
        if ctl & 2 != 0 {
            dirs[d].gap();
            continue;
        }
        fed += bytes.len();
        dirs[d].push(&mut conn, d, bytes, Some(&keys), &mut stats, &mut plain);
        let cap = record::HEADER + record::MAX_FRAGMENT + record::MAX_HELLO + 4 + PENDING_MAX;
        assert!(dirs[d].buffered() <= cap, "holds {}", dirs[d].buffered());
        let out: usize = plain.drain(..).map(|p| p.len()).sum();
        assert!(out <= bytes.len() + record::HEADER + record::MAX_FRAGMENT + PENDING_MAX);
    }
    conn.finish([Some(&dirs[0]), Some(&dirs[1])], [5061, 40000], &mut stats);
    assert_eq!(stats.connections, 1);
    assert!(stats.failed() + stats.decrypted <= 1);
    assert!(stats.records as usize <= fed / record::HEADER + 1);
}

// ---------------------------------------------------------------------------------------------
// HEP

const HEP_MAX: usize = 256 << 10;

/// HEP: packets back to back (as over TCP); each one's compressed payload is inflated within a
/// cap, and the SIP it carries parsed.
pub fn fuzz_hep(data: &[u8]) {
    let _ = hep::hep3_packet_len(data);
    let mut rest = data;
    while !rest.is_empty() {
        let Ok((h, used)) = hep::parse_hep3(rest) else {
            break;
        };
        assert!(used > 0 && used <= rest.len(), "HEP packet length {used}");
        let payload = match h.payload {
            hep::HepPayload::Raw(p) => Some(p.to_vec()),
            hep::HepPayload::Compressed(c) => hep::inflate_payload(c, HEP_MAX).ok(),
            hep::HepPayload::None => None,
        };
        if let Some(p) = payload {
            assert!(p.len() <= HEP_MAX.max(rest.len()), "payload of {}", p.len());
            let _ = SipMessage::parse(Bytes::from(p), true);
        }
        rest = &rest[used..];
    }
}

// ---------------------------------------------------------------------------------------------
// SIP, SDP, multipart

/// The SIP parser on one message (a datagram when its length is even), then every accessor and
/// typed header decoder the later stages use, and the SDP summary of its body.
pub fn fuzz_sip(data: &[u8]) {
    let parsed = SipMessage::parse(Bytes::copy_from_slice(data), data.len().is_multiple_of(2));
    // The report's second reading counts the messages it skips by this test alone.
    assert_eq!(crate::sip::message::parses(data), parsed.is_ok());
    let Ok(m) = parsed else {
        return;
    };
    if let crate::sip::message::QuickCallId::Known(c) = crate::sip::message::quick_call_id(data) {
        assert_eq!(c, m.call_id());
    }
    for h in &m.headers {
        let v = m.span(h.value);
        assert!(v.len() <= data.len());
        if h.name == crate::sip::HeaderName::Via {
            // One reading that checks a Via and keeps its first entry, as the two separate ones.
            let (fault, top) = crate::sip::via::check_first(v);
            assert_eq!(fault, crate::sip::via::check(v));
            assert_eq!(top, crate::sip::via::Via::parse_first(v));
        }
        // The first-place table finds what a scan finds.
        let first = m
            .headers
            .iter()
            .find(|o| o.name == h.name)
            .map(|o| m.span(o.value));
        assert!(m.header(h.name).is_none_or(|x| Some(x) == first));
        assert_eq!(
            m.headers_named(h.name).count(),
            m.headers.iter().filter(|o| o.name == h.name).count()
        );
    }
    let _ = m.call_id();
    let _ = m.cseq();
    let _ = m.top_via();
    let _ = m.via_count();
    let _ = m.from().map(|f| f.tag());
    let _ = m.to().map(|t| t.tag());
    let _ = m.request_uri().and_then(crate::sip::uri::Uri::parse);
    let _ = m.status();
    let _ = m.reason_phrase();
    assert!(m.body().len() <= data.len());
    let ct = m
        .header(crate::sip::HeaderName::ContentType)
        .unwrap_or(b"application/sdp");
    let _ = sdp::summary(ct, m.body());
    let _ = crate::output::escape_multiline(&m.text());
}

/// SDP and multipart: the first line is a Content-Type, the rest a body. Every SDP part found
/// lies inside the body and is parsed; the one-line summary is built.
pub fn fuzz_sdp(data: &[u8]) {
    let (ct, body) = match memchr::memchr(b'\n', data) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"application/sdp"[..], data),
    };
    let range = body.as_ptr_range();
    for part in sdp::sdp_parts(ct, body) {
        let r = part.as_ptr_range();
        assert!(
            part.is_empty() || (r.start >= range.start && r.end <= range.end),
            "SDP part outside the body"
        );
        if let Ok(s) = sdp::parse_sdp(part) {
            for m in &s.media {
                let _ = m.effective_connection(&s);
                let _ = m.effective_direction(&s);
                let _ = m.is_hold(&s);
                for pt in 0..=127u8 {
                    let _ = m.codec(pt);
                }
            }
        }
    }
    let _ = sdp::summary(ct, body);
}

// ---------------------------------------------------------------------------------------------
// RTP and RTCP

const FUZZ_STREAMS: usize = 8;

/// RTP/RTCP ops: `[ctl][chunk]` per datagram. `ctl`: bit 0 direction, bits 1-3 the port pair,
/// bit 4 RTCP, bit 5 an SDP offer instead (`Content-Type\nbody`), bit 6 moves the clock 60 s
/// on (idle expiry). The stream table stays within its cap; every finished stream is scored.
pub fn fuzz_rtp(data: &[u8]) {
    let mut ops = Ops::new(data);
    let mut t = RtpTracker::new(FUZZ_STREAMS);
    let mut ts = Ts(NANOS_PER_SEC);
    let mut done = Vec::new();
    while let (Some(ctl), Some(d)) = (ops.u8(), ops.chunk()) {
        ts = ts.saturating_add(if ctl & 0x40 != 0 {
            60 * NANOS_PER_SEC
        } else {
            20_000_000
        });
        let pair = ((ctl >> 1) & 7) as u16;
        let (a, b) = (
            SocketAddr::new(addr(1), 4000 + 2 * pair),
            SocketAddr::new(addr(2), 6000 + 2 * pair),
        );
        let (src, dst) = if ctl & 1 == 0 { (a, b) } else { (b, a) };
        if ctl & 0x20 != 0 {
            let (ct, body) = match memchr::memchr(b'\n', d) {
                Some(i) => (&d[..i], &d[i + 1..]),
                None => (&b"application/sdp"[..], d),
            };
            t.learn_sdp(ct, body);
        } else if ctl & 0x10 != 0 {
            if let Some(p) = rtcp::parse(d) {
                t.rtcp_packet(ts, src, dst, &p);
            }
        } else if let Some(h) = RtpHeader::parse(d) {
            t.packet(ts, src, dst, &h, d);
        }
        if ctl & 0x40 != 0 {
            t.expire(ts, 30 * NANOS_PER_SEC);
        }
        assert!(t.live() <= FUZZ_STREAMS, "{} streams", t.live());
        done.extend(t.take_done());
    }
    done.extend(t.finish());
    for mut s in done {
        s.resolve_events(Some(101));
        s.score(None);
        let _ = s.missing();
    }
}

// ---------------------------------------------------------------------------------------------
// the whole pipeline

/// A sink that asks for every kind of work and reads what it gets.
struct Everything {
    events: u64,
}

impl Sink for Everything {
    fn needs(&self) -> Needs {
        Needs {
            messages: true,
            text: true,
            raw: true,
            detail: true,
            changes: true,
            media: true,
            series: Some(NANOS_PER_SEC),
            alerts: true,
            context: true,
            rtcp: true,
        }
    }

    fn event(&mut self, e: &Event<'_>, _selected: bool) -> Result<(), crate::output::OutputError> {
        self.events += 1;
        if let Event::Message(m) = e {
            let _ = m.call_id.as_deref().map(crate::output::escape);
        }
        Ok(())
    }
}

/// The whole pipeline (one worker, one correlator) and a session asking for everything, over
/// one in-memory capture; the end-of-run warnings are built.
pub fn fuzz_pipeline(data: &[u8]) {
    let Ok(src) = FileSource::from_reader(
        Path::new("fuzz"),
        Box::new(Cursor::new(data.to_vec())),
        data.len() as u64,
    ) else {
        return;
    };
    let cfg = PipelineConfig {
        workers: 1,
        correlators: 1,
        batch: 64,
        ..PipelineConfig::default()
    };
    let mut sink = Everything { events: 0 };
    let stop = Arc::new(AtomicBool::new(false));
    if let Ok(r) = crate::session::run(
        Box::new(src) as Box<dyn Source>,
        &cfg,
        SessionConfig::default(),
        stop,
        None,
        &mut sink,
    ) {
        let _ = r.warnings();
        assert!(r.run.decode.frames <= r.run.capture.frames);
    }
}

// ---------------------------------------------------------------------------------------------
// seeds

/// Seeds for every target from one capture file: `(target, name, bytes)`. The capture itself
/// (capture, pipeline), its frames (decode: one per frame and one of the first 64), its TCP
/// segments per connection (tcp, framing, websocket), its UDP payloads (hep, rtp), and every
/// SIP message it holds (sip, sdp).
pub fn seeds(path: &Path) -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out: Vec<(&'static str, String, Vec<u8>)> = Vec::new();
    let Ok(raw) = std::fs::read(path) else {
        return out;
    };
    if raw.len() <= 256 << 10 {
        out.push(("capture", "file".into(), raw.clone()));
        out.push(("pipeline", "file".into(), raw.clone()));
    }
    let Ok(mut src) = FileSource::from_reader(path, Box::new(Cursor::new(raw)), 0) else {
        return out;
    };
    // A key log beside the capture (tests/data/tls/NAME.keys) opens its TLS seeds.
    let keylog = std::fs::read(path.with_extension("keys")).unwrap_or_default();
    let mut tls: std::collections::BTreeMap<(SocketAddr, SocketAddr), Vec<u8>> = Default::default();
    let mut frames = Vec::new();
    while let Ok(Some(f)) = src.next_frame() {
        if frames.len() >= 2000 {
            break;
        }
        frames.push(f.to_owned());
    }
    let mut group = Vec::new();
    let mut dec = Decoder::default();
    let mut tcp: std::collections::BTreeMap<(SocketAddr, SocketAddr), Vec<u8>> = Default::default();
    let mut framing: std::collections::BTreeMap<(SocketAddr, SocketAddr), Vec<u8>> =
        Default::default();
    let mut rtp = Vec::new();
    let mut reasm = Reassembler::new(ReassemblyConfig::default());
    let mut sips = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let Some(sel) = LINKS.iter().position(|l| *l == f.link) else {
            continue;
        };
        let mut one = vec![sel as u8];
        put_chunk(&mut one, &f.data);
        if i < 64 {
            group.extend_from_slice(&one);
        }
        if i < 200 {
            out.push(("decode", format!("frame{i}"), one));
        }
        let Some(p) = dec.decode(f) else { continue };
        let (s, d) = (
            SocketAddr::new(p.src, p.sport),
            SocketAddr::new(p.dst, p.dport),
        );
        match p.transport {
            Transport::Tcp => {
                // Direction 0 is from the lower address, as the target's port choice makes it.
                let (key, dir) = if s < d { ((s, d), 0u8) } else { ((d, s), 1u8) };
                let flags = [
                    tcp_flags::FIN,
                    tcp_flags::SYN,
                    tcp_flags::RST,
                    tcp_flags::ACK,
                ]
                .iter()
                .enumerate()
                .filter(|(_, b)| p.tcp.flags & **b != 0)
                .fold(0u8, |a, (i, _)| a | (1 << i));
                let e = tcp.entry(key).or_insert_with(|| {
                    let port = key.1.port().min(key.0.port());
                    vec![PORTS.iter().position(|x| *x == port).unwrap_or(0) as u8]
                });
                e.push(dir | (flags << 3));
                e.extend_from_slice(&p.tcp.seq.to_be_bytes());
                put_chunk(e, &p.payload);
                if !p.payload.is_empty() {
                    put_chunk(framing.entry((s, d)).or_default(), &p.payload);
                    let t = tls.entry(key).or_insert_with(|| {
                        let mut v = Vec::new();
                        put_chunk(&mut v, &keylog);
                        v
                    });
                    put_chunk(t, &[[dir].as_slice(), &p.payload].concat());
                }
            }
            // No SCTP in the seed captures (SCTP is fuzzed by the property tests).
            Transport::Sctp => {}
            Transport::Udp => {
                if rtp.len() < 60_000 && !crate::sip::message::looks_like_sip(&p.payload) {
                    rtp.push(
                        u8::from(s > d)
                            | if p.payload.get(1).is_some_and(|b| (200..=207).contains(b)) {
                                0x10
                            } else {
                                0
                            },
                    );
                    put_chunk(&mut rtp, &p.payload);
                }
                if hep::is_hep3(&p.payload) {
                    out.push(("hep", format!("udp{i}"), p.payload.to_vec()));
                }
            }
        }
        reasm.packet(p, &mut sips);
    }
    reasm.finish(&mut sips);
    out.push(("decode", "first64".into(), group));
    for (n, (_, v)) in tcp.into_iter().enumerate() {
        out.push(("tcp", format!("conn{n}"), v.clone()));
        out.push(("websocket", format!("conn{n}"), v));
    }
    for (n, (_, v)) in tls.into_iter().enumerate() {
        out.push(("tls", format!("conn{n}"), v));
    }
    for (n, (_, v)) in framing.into_iter().enumerate() {
        out.push(("framing", format!("dir{n}"), v.clone()));
        out.push(("websocket", format!("dir{n}"), v));
    }
    if !rtp.is_empty() {
        out.push(("rtp", "udp".into(), rtp));
    }
    for (n, s) in sips.iter().enumerate().take(500) {
        out.push(("sip", format!("msg{n}"), s.bytes.to_vec()));
        // Body and Content-Type found by a plain scan, not by the parser under test (whose
        // slow inputs would slow the seeding down with them).
        if let Some((ct, body)) = split_body(&s.bytes) {
            let mut v = ct.to_vec();
            v.push(b'\n');
            v.extend_from_slice(body);
            out.push(("sdp", format!("msg{n}"), v.clone()));
            let mut r = vec![0x20];
            put_chunk(&mut r, &v);
            out.push(("rtp", format!("sdp{n}"), r));
        }
    }
    out
}

/// The Content-Type value (`application/sdp` when absent) and the non-empty body of a message.
fn split_body(m: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = memchr::memmem::find(m, b"\r\n\r\n")?;
    let body = &m[end + 4..];
    if body.is_empty() {
        return None;
    }
    let ct = m[..end]
        .split(|b| *b == b'\n')
        .find_map(|l| {
            let (name, value) = l.split_at(memchr::memchr(b':', l)?);
            let name = name.trim_ascii();
            (name.eq_ignore_ascii_case(b"content-type") || name.eq_ignore_ascii_case(b"c"))
                .then(|| value[1..].trim_ascii())
        })
        .unwrap_or(b"application/sdp");
    Some((ct, body))
}
