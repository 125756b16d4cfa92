//! Per-call export: the frames of chosen calls, read again from the capture files and written
//! to pcap or pcapng (`sipscope export`, the terminal UI's save, the report's per-call files).
//!
//! Two readings of the files. The first is the ordinary pipeline and session: [`collect`]'s
//! sink picks the calls (the user's [`crate::session::Filter`], the B2BUA legs linked to them)
//! and notes, for each, where its messages were ([`MsgAt`]: frame number, time, addresses,
//! transport) and its RTP streams ([`MediaAt`], tied to the call by its SDP). The second,
//! [`write`], reads the files frame by frame, decoding each as the pipeline does, and writes
//! every frame to the outputs ([`Target`]) of the calls it carries:
//! - a message's frame by its number in the capture ([`Locate::Frames`]), or, for files whose
//!   numbering is not the pipeline's (the terminal UI's spool of a live capture), by its time
//!   and addresses ([`Locate::Times`]; HEP-carried messages are then not found);
//! - every fragment of an IP datagram whose reassembled packet is taken (the decoder names the
//!   datagram each fragment belongs to);
//! - over TCP, each segment that holds a byte of a wanted message, whole ([`tcp`]), and the SYN,
//!   FIN and RST segments of the connections the calls used; SIP over WebSocket: every segment
//!   of the connection from 2 s before the call's first message on it to its last; HEP over
//!   TCP: the segment that completed each message;
//! - RTP: each stream's packets (its addresses, between its first and last packet); RTCP: the
//!   next ports up (RFC 3550 §11) over the same span and [`RTCP_TAIL`] more.
//!
//! Original capture times and link types are kept. A pcap output holds one link type: a frame
//! of a second one fails the export, naming both ([`ExportError::SecondLinkType`]); pcapng
//! declares one interface per link type ([`file`]).
//!
//! Bounded memory: a frame whose fate is not known yet (a fragment before its datagram is whole,
//! a TCP segment before its bytes are framed) waits in a queue of at most
//! [`Options::queue_frames`] frames and [`Options::queue_bytes`] bytes; past either, and after
//! [`WAIT`] of capture time, the oldest is decided on what is known (counted in
//! [`ExportStats::decided_early`]; a decision that comes later still is counted in
//! `decided_late`). Frames decided to be written wait behind an undecided one in the same queue,
//! so every output is in capture order. At most [`Options::max_open`] outputs are written per
//! reading of the files; more take more readings. What the selection holds grows with the
//! chosen calls' messages and streams (the output), nothing with the capture.

pub mod collect;
pub mod file;
pub mod tcp;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use rustc_hash::FxHashMap;

use crate::analysis::rtp::StreamStats;
use crate::capture::file::FileSource;
use crate::capture::merge::MergedSource;
use crate::capture::{CaptureError, Frame, LinkType, Source};
use crate::correlate::record::MsgRow;
use crate::decode::ipfrag::FragKey;
use crate::decode::{tcp_flags, Decoder, Transport};
use crate::reassembly::Carrier;
use crate::time::{Nanos, Ts, NANOS_PER_SEC};
pub use file::{CaptureFile, Container, WriteError};

/// RTCP reports follow their stream by up to this much (a last report, a BYE).
pub const RTCP_TAIL: Nanos = 10 * NANOS_PER_SEC;
/// A WebSocket connection's frames are taken from this long before its first message.
pub const WS_LEAD: Nanos = 2 * NANOS_PER_SEC;
/// A frame waits at most this long (capture time) for its fate: past the reassembly's own
/// limits (fragments 30 s), so only what the pipeline also gave up on is decided early.
pub const WAIT: Nanos = 60 * NANOS_PER_SEC;

/// How the second reading finds a message's frame.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Locate {
    /// By its frame number: the files are read as the first reading read them (same files, same
    /// order, same `--bpf`).
    Frames,
    /// By its capture time and addresses (the files are not the ones the numbers count).
    Times,
}

/// Where one message of a call was.
#[derive(Clone, Debug)]
pub struct MsgAt {
    pub frame: u64,
    /// Its place among the messages of its frame (from 1), as [`MsgRow::msg_in_frame`].
    pub msg_in_frame: u16,
    pub ts: Ts,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub carrier: Carrier,
}

impl From<&MsgRow> for MsgAt {
    fn from(m: &MsgRow) -> MsgAt {
        MsgAt {
            frame: m.frame,
            msg_in_frame: m.msg_in_frame,
            ts: m.ts,
            src: m.src,
            dst: m.dst,
            carrier: m.transport,
        }
    }
}

/// One RTP stream of a call.
#[derive(Clone, Debug)]
pub struct MediaAt {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub first: Ts,
    pub last: Ts,
}

impl From<&StreamStats> for MediaAt {
    fn from(s: &StreamStats) -> MediaAt {
        MediaAt {
            src: s.src,
            dst: s.dst,
            first: s.first,
            last: s.last,
        }
    }
}

/// What finds one call's frames.
#[derive(Clone, Debug, Default)]
pub struct CallFrames {
    pub call_id: String,
    pub msgs: Vec<MsgAt>,
    pub media: Vec<MediaAt>,
}

impl CallFrames {
    pub fn new(call_id: &str) -> CallFrames {
        CallFrames {
            call_id: call_id.to_string(),
            ..CallFrames::default()
        }
    }

    /// What it holds, roughly, in bytes (for memory budgets).
    pub fn size(&self) -> usize {
        64 + self.call_id.len()
            + self.msgs.capacity() * std::mem::size_of::<MsgAt>()
            + self.media.capacity() * std::mem::size_of::<MediaAt>()
    }
}

/// One output file and the calls whose frames go into it.
#[derive(Clone, Debug)]
pub struct Target {
    pub path: PathBuf,
    pub container: Container,
    pub calls: Vec<CallFrames>,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub locate: Locate,
    /// The `--bpf` of the first reading (frames keep their numbers; the rest are not taken).
    pub frame_filter: Option<String>,
    /// The `-c` of the first reading: frames past it are not read.
    pub max_frames: Option<u64>,
    /// Outputs written per reading of the files.
    pub max_open: usize,
    pub queue_frames: usize,
    pub queue_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            locate: Locate::Frames,
            frame_filter: None,
            max_frames: None,
            max_open: 256,
            queue_frames: 65_536,
            queue_bytes: 64 << 20,
        }
    }
}

/// What the export did, and what it had to decide without knowing.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ExportStats {
    /// Readings of the files.
    pub readings: u32,
    pub frames_read: u64,
    /// Frames written, over all outputs (a frame in two outputs counts twice).
    pub frames_written: u64,
    /// Each output written and its frames (outputs no frame went to are not created).
    pub files: Vec<(PathBuf, u64)>,
    /// Frames decided before their fate was known because the queue was full (memory).
    pub decided_early: u64,
    /// Frames a decision reached after they had been written or left out: a frame of a chosen
    /// call may be missing from its file.
    pub decided_late: u64,
    /// Where a damaged or truncated file stopped being readable.
    pub stopped_early: Vec<String>,
}

impl ExportStats {
    /// What the user must be told (each a sentence), with the run's other warnings.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.decided_early > 0 {
            w.push(format!(
                "export: {} frames decided before their datagram or TCP message was whole (the export's queue was full): a chosen call's frame may be missing",
                self.decided_early
            ));
        }
        if self.decided_late > 0 {
            w.push(format!(
                "export: {} frames of chosen calls were found after they had been passed (a message or datagram completed more than {} s after its first frame) and are missing from the export",
                self.decided_late,
                WAIT / NANOS_PER_SEC
            ));
        }
        for s in &self.stopped_early {
            w.push(format!("export: stopped early: {s}"));
        }
        w
    }
}

#[derive(Debug)]
pub enum ExportError {
    Capture(CaptureError),
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A pcap output met a frame of a second link type.
    SecondLinkType {
        path: PathBuf,
        first: LinkType,
        next: LinkType,
    },
}

impl std::fmt::Display for ExportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExportError::Capture(e) => e.fmt(f),
            ExportError::Io { path, source } => {
                write!(f, "cannot write {}: {source}", path.display())
            }
            ExportError::SecondLinkType { path, first, next } => write!(
                f,
                "{}: the chosen frames have two link types ({} and {}); a pcap file holds one: name it .pcapng",
                path.display(),
                link_name(*first),
                link_name(*next)
            ),
        }
    }
}

impl std::error::Error for ExportError {}

impl From<CaptureError> for ExportError {
    fn from(e: CaptureError) -> Self {
        ExportError::Capture(e)
    }
}

fn link_name(l: LinkType) -> String {
    match l {
        LinkType::Null => "BSD loopback".into(),
        LinkType::Ethernet => "Ethernet".into(),
        LinkType::Raw => "raw IP".into(),
        LinkType::Ipv4 => "raw IPv4".into(),
        LinkType::Ipv6 => "raw IPv6".into(),
        LinkType::LinuxSll => "Linux cooked (SLL)".into(),
        LinkType::LinuxSll2 => "Linux cooked v2 (SLL2)".into(),
        LinkType::Loop => "OpenBSD loopback".into(),
        LinkType::Other(n) => format!("link type {n}"),
    }
}

fn ordered(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

fn add(to: &mut Vec<u32>, groups: &[u32]) {
    for g in groups {
        if !to.contains(g) {
            to.push(*g);
        }
    }
}

fn next_port(a: SocketAddr) -> Option<SocketAddr> {
    a.port().checked_add(1).map(|p| SocketAddr::new(a.ip(), p))
}

type Spans = FxHashMap<(SocketAddr, SocketAddr), Vec<(Ts, Ts, u32)>>;

/// What the second reading looks up for every frame, for the outputs of one reading.
#[derive(Default)]
struct Index {
    by_frame: FxHashMap<u64, Vec<u32>>,
    by_time: FxHashMap<(i64, SocketAddr, SocketAddr), Vec<u32>>,
    /// Call-ID → outputs, for messages framed from TCP.
    ids: FxHashMap<String, Vec<u32>>,
    /// TCP directions that carried a chosen call's SIP.
    tcp: FxHashMap<(SocketAddr, SocketAddr), tcp::DirTrack>,
    /// Connections (lower address first) those directions belong to, for SYN/FIN/RST.
    conns: FxHashMap<(SocketAddr, SocketAddr), Vec<u32>>,
    /// WebSocket connections and the span to take.
    ws: Spans,
    /// RTP and RTCP: (source, destination) → spans.
    media: Spans,
}

fn span_add(m: &mut Spans, k: (SocketAddr, SocketAddr), a: Ts, b: Ts, g: u32) {
    let v = m.entry(k).or_default();
    match v.iter_mut().find(|s| s.2 == g) {
        Some(s) => {
            s.0 = s.0.min(a);
            s.1 = s.1.max(b);
        }
        None => v.push((a, b, g)),
    }
}

fn span_hits(m: &Spans, k: &(SocketAddr, SocketAddr), ts: Ts, to: &mut Vec<u32>) {
    if let Some(v) = m.get(k) {
        for (a, b, g) in v {
            if ts >= *a && ts <= *b && !to.contains(g) {
                to.push(*g);
            }
        }
    }
}

impl Index {
    fn new(targets: &[Target], locate: Locate) -> Index {
        let mut ix = Index::default();
        for (g, t) in targets.iter().enumerate() {
            let g = g as u32;
            for c in &t.calls {
                add(ix.ids.entry(c.call_id.clone()).or_default(), &[g]);
                for m in &c.msgs {
                    match m.carrier {
                        Carrier::Tcp => {
                            ix.tcp.entry((m.src, m.dst)).or_default();
                            add(ix.conns.entry(ordered(m.src, m.dst)).or_default(), &[g]);
                        }
                        // TLS: the records cannot be matched to the plaintext; the
                        // connection's frames around the message go, as for WebSocket.
                        Carrier::Ws | Carrier::Tls | Carrier::Wss => {
                            let lead = Ts(m.ts.0 - WS_LEAD);
                            span_add(&mut ix.ws, ordered(m.src, m.dst), lead, m.ts, g);
                            add(ix.conns.entry(ordered(m.src, m.dst)).or_default(), &[g]);
                        }
                        // An SCTP message is found by the frame that completed it (its other
                        // fragments, and SACKs, are not exported).
                        Carrier::Udp | Carrier::HepUdp | Carrier::HepTcp | Carrier::Sctp => {
                            match locate {
                                Locate::Frames => {
                                    add(ix.by_frame.entry(m.frame).or_default(), &[g])
                                }
                                Locate::Times => {
                                    add(ix.by_time.entry((m.ts.0, m.src, m.dst)).or_default(), &[g])
                                }
                            }
                        }
                    }
                }
                for s in &c.media {
                    span_add(&mut ix.media, (s.src, s.dst), s.first, s.last, g);
                    if let (Some(a), Some(b)) = (next_port(s.src), next_port(s.dst)) {
                        span_add(&mut ix.media, (a, b), s.first, Ts(s.last.0 + RTCP_TAIL), g);
                    }
                }
            }
        }
        ix
    }
}

/// A frame kept until its fate is known, or until the ones before it are written.
struct Entry {
    no: u64,
    frame: Frame,
    groups: Vec<u32>,
    pending: bool,
    /// Fragments of the datagram this frame completed: they share its fate.
    followers: Vec<u64>,
}

struct Queue {
    q: VecDeque<Entry>,
    bytes: usize,
}

impl Queue {
    fn find(&mut self, no: u64) -> Option<&mut Entry> {
        let i = self.q.binary_search_by_key(&no, |e| e.no).ok()?;
        self.q.get_mut(i)
    }

    /// Entry `no` goes to `groups` (with what it had) and is decided; its followers too.
    fn decide(&mut self, no: u64, groups: &[u32], late: &mut u64) {
        let Some(e) = self.find(no) else {
            if !groups.is_empty() {
                *late += 1;
            }
            return;
        };
        add(&mut e.groups, groups);
        e.pending = false;
        let all = e.groups.clone();
        for f in std::mem::take(&mut e.followers) {
            self.decide(f, &all, late);
        }
    }
}

/// The outputs of one reading.
struct Outputs {
    files: Vec<CaptureFile>,
}

impl Outputs {
    fn write(&mut self, e: &Entry) -> Result<u64, ExportError> {
        let mut n = 0;
        for g in &e.groups {
            let Some(f) = self.files.get_mut(*g as usize) else {
                continue;
            };
            match f.write(&e.frame) {
                Ok(()) => n += 1,
                Err(WriteError::Io(source)) => {
                    return Err(ExportError::Io {
                        path: f.path.clone(),
                        source,
                    })
                }
                Err(WriteError::SecondLinkType { first, next }) => {
                    return Err(ExportError::SecondLinkType {
                        path: f.path.clone(),
                        first,
                        next,
                    })
                }
            }
        }
        Ok(n)
    }

    fn abandon(&mut self) {
        for f in &mut self.files {
            f.abandon();
        }
    }
}

fn open(inputs: &[PathBuf]) -> Result<Box<dyn Source>, CaptureError> {
    let mut sources: Vec<Box<dyn Source>> = Vec::new();
    for p in inputs {
        sources.push(Box::new(FileSource::open(p)?));
    }
    Ok(if sources.len() == 1 {
        sources.remove(0)
    } else {
        Box::new(MergedSource::new(sources))
    })
}

/// Reads `inputs` (merged in time order, as the first reading did) and writes each target's
/// frames; see the module docs. A target no frame went to is not created. `stop` ends the
/// reading early (what was written is kept, in order).
pub fn write(
    inputs: &[PathBuf],
    targets: &[Target],
    opts: &Options,
    stop: &AtomicBool,
) -> Result<ExportStats, ExportError> {
    let mut stats = ExportStats::default();
    for chunk in targets.chunks(opts.max_open.max(1)) {
        let mut outs = Outputs {
            files: chunk
                .iter()
                .map(|t| CaptureFile::new(t.path.clone(), t.container))
                .collect(),
        };
        match reading(inputs, chunk, opts, stop, &mut outs, &mut stats) {
            Ok(()) => {}
            Err(e) => {
                outs.abandon();
                return Err(e);
            }
        }
        for f in &mut outs.files {
            let written = f.finish().map_err(|source| ExportError::Io {
                path: f.path.clone(),
                source,
            })?;
            if written {
                stats.files.push((f.path.clone(), f.frames));
            }
        }
    }
    Ok(stats)
}

fn reading(
    inputs: &[PathBuf],
    targets: &[Target],
    opts: &Options,
    stop: &AtomicBool,
    outs: &mut Outputs,
    stats: &mut ExportStats,
) -> Result<(), ExportError> {
    stats.readings += 1;
    let mut ix = Index::new(targets, opts.locate);
    let mut src = open(inputs)?;
    let mut bpf = opts
        .frame_filter
        .as_deref()
        .map(crate::capture::bpf::FrameFilter::new);
    let mut dec = Decoder::default();
    let mut queue = Queue {
        q: VecDeque::new(),
        bytes: 0,
    };
    let mut frag_wait: FxHashMap<FragKey, Vec<u64>> = FxHashMap::default();
    let mut decisions: Vec<tcp::Decision> = Vec::new();
    let (mut no, mut passed) = (0u64, 0u64);
    let mut late = 0u64;
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let Some(fr) = src.next_frame()? else {
            break;
        };
        no += 1;
        if let Some(b) = &mut bpf {
            if !b.pass(fr.link, fr.data) {
                continue;
            }
        }
        if opts.max_frames.is_some_and(|m| passed >= m) {
            break;
        }
        passed += 1;
        let frame = fr.to_owned();
        let p = dec.decode(&frame);
        let frag = dec.fragment_of;
        let mut groups: Vec<u32> = Vec::new();
        let mut pending = false;
        let mut followers = Vec::new();
        if let Some(g) = ix.by_frame.get(&no) {
            add(&mut groups, g);
        }
        let mut tcp_seg = None;
        match p {
            None => {
                if let Some(k) = frag {
                    pending = true;
                    frag_wait.entry(k).or_default().push(no);
                }
            }
            Some(p) => {
                if let (true, Some(k)) = (p.reassembled, frag) {
                    followers = frag_wait.remove(&k).unwrap_or_default();
                }
                let (s, d) = (
                    SocketAddr::new(p.src, p.sport),
                    SocketAddr::new(p.dst, p.dport),
                );
                if let Some(g) = ix.by_time.get(&(p.ts.0, s, d)) {
                    add(&mut groups, g);
                }
                match p.transport {
                    Transport::Udp => span_hits(&ix.media, &(s, d), p.ts, &mut groups),
                    Transport::Sctp => {}
                    Transport::Tcp => {
                        let conn = ordered(s, d);
                        span_hits(&ix.ws, &conn, p.ts, &mut groups);
                        let control = tcp_flags::SYN | tcp_flags::FIN | tcp_flags::RST;
                        if p.tcp.flags & control != 0 {
                            if let Some(g) = ix.conns.get(&conn) {
                                add(&mut groups, g);
                            }
                        }
                        if ix.tcp.contains_key(&(s, d)) {
                            pending = !p.payload.is_empty();
                            tcp_seg = Some(((s, d), p.tcp, p.payload));
                        }
                    }
                }
            }
        }
        if pending || !groups.is_empty() || !followers.is_empty() {
            queue.bytes += frame.data.len() + 64;
            queue.q.push_back(Entry {
                no,
                frame,
                groups,
                pending,
                followers,
            });
            if !pending {
                // A completed datagram: its fragments share the fate decided now.
                let g = queue.q.back().map(|e| e.groups.clone()).unwrap_or_default();
                queue.decide(no, &g, &mut late);
            }
        }
        if let Some((dir, meta, payload)) = tcp_seg {
            if let Some(t) = ix.tcp.get_mut(&dir) {
                decisions.clear();
                t.segment(no, meta.seq, meta.flags, payload, &ix.ids, &mut decisions);
                for (n, g) in decisions.drain(..) {
                    queue.decide(n, &g, &mut late);
                }
            }
        }
        let now = queue.q.back().map_or(Ts::ZERO, |e| e.frame.ts);
        drain(&mut queue, outs, stats, opts, now, false)?;
        if frag_wait.len() > opts.queue_frames {
            // Datagrams whose fragments all left the queue: nothing waits for them any more.
            let oldest = queue.q.front().map_or(u64::MAX, |e| e.no);
            frag_wait.retain(|_, v| v.iter().any(|n| *n >= oldest));
        }
    }
    dec.finish();
    let st = src.stats();
    stats.frames_read += no;
    stats.stopped_early.extend(st.stopped_early);
    for t in ix.tcp.values_mut() {
        decisions.clear();
        t.finish(&ix.ids, &mut decisions);
        for (n, g) in decisions.drain(..) {
            queue.decide(n, &g, &mut late);
        }
    }
    drain(&mut queue, outs, stats, opts, Ts::ZERO, true)?;
    stats.decided_late += late;
    Ok(())
}

/// Writes the decided frames at the front of the queue; decides the front early when the queue
/// is over its bounds, when it has waited [`WAIT`], or at the end.
fn drain(
    queue: &mut Queue,
    outs: &mut Outputs,
    stats: &mut ExportStats,
    opts: &Options,
    now: Ts,
    end: bool,
) -> Result<(), ExportError> {
    loop {
        let full = queue.q.len() > opts.queue_frames || queue.bytes > opts.queue_bytes;
        let Some(front) = queue.q.front_mut() else {
            break;
        };
        if front.pending {
            if !(end || full || now.since(front.frame.ts) > WAIT) {
                break;
            }
            if full && !end {
                stats.decided_early += 1;
            }
            front.pending = false;
        }
        let Some(e) = queue.q.pop_front() else {
            break;
        };
        queue.bytes -= e.frame.data.len() + 64;
        stats.frames_written += outs.write(&e)?;
    }
    Ok(())
}
