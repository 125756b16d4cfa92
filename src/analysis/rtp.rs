//! RTP streams (RFC 3550): per-stream packets, loss, sequence errors, deltas and jitter.
//!
//! Takes UDP datagrams that carry RTP (version 2, a payload type outside the RTCP range) and
//! keeps one constant-size state per stream (source, destination, SSRC); nothing is stored per
//! packet. Interarrival jitter follows RFC 3550 §6.4.1 (D = (Rj − Ri) − (Sj − Si) in ms,
//! J += (|D| − J)/16) with the payload's clock rate; loss is expected − received with the
//! extended highest sequence number (§A.3). Minimum, mean and maximum delta and jitter are taken
//! over regular packets only — not the first, not marker packets, not comfort noise or what
//! follows it — which is how tshark 4.0's
//! `rtp,streams` reports them, so the figures can be compared. Streams without a known clock
//! rate (dynamic payload types with no rtpmap, telephone-event) get no jitter. The table is
//! bounded: past `max_streams` the least recently active stream is finished early (counted).

use std::net::SocketAddr;

use rustc_hash::FxHashMap;

use crate::analysis::seq::SeqWindow;
use crate::time::Ts;

/// The fixed RTP header (RFC 3550 §5.1).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RtpHeader {
    pub marker: bool,
    pub payload_type: u8,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    /// Bytes of payload after the header, CSRCs, extension and padding.
    pub payload_len: usize,
    /// Where the payload starts in the datagram.
    pub payload_offset: usize,
}

impl RtpHeader {
    /// Parses a datagram as RTP; None when it cannot be (RTCP, wrong version, too short).
    pub fn parse(d: &[u8]) -> Option<RtpHeader> {
        if d.len() < 12 || d[0] >> 6 != 2 {
            return None;
        }
        let pt = d[1] & 0x7f;
        // RTCP packet types 200-207 (SR to XR) read as a marker bit plus payload type 72-79
        // (RFC 5761 §4).
        if (72..=79).contains(&pt) {
            return None;
        }
        let cc = (d[0] & 0x0f) as usize;
        let mut hl = 12 + 4 * cc;
        if d[0] & 0x10 != 0 {
            let ext = d.get(hl + 2..hl + 4)?;
            hl += 4 + 4 * u16::from_be_bytes([ext[0], ext[1]]) as usize;
        }
        let mut end = d.len();
        if d[0] & 0x20 != 0 {
            let pad = *d.last()? as usize;
            end = end.checked_sub(pad)?;
        }
        if hl > end {
            return None;
        }
        Some(RtpHeader {
            marker: d[1] & 0x80 != 0,
            payload_type: pt,
            seq: u16::from_be_bytes([d[2], d[3]]),
            timestamp: u32::from_be_bytes([d[4], d[5], d[6], d[7]]),
            ssrc: u32::from_be_bytes([d[8], d[9], d[10], d[11]]),
            payload_len: end - hl,
            payload_offset: hl,
        })
    }
}

/// Clock rate of a static payload type (RFC 3551 Tables 4 and 5); 0 when not known.
pub fn static_clock_rate(pt: u8) -> u32 {
    match pt {
        0..=8 | 12 | 13 | 15 | 18 => 8000,
        9 => 8000, // G.722's RTP clock is 8000 Hz by a historical error (RFC 3551 §4.5.2)
        10 | 11 => 44_100,
        14 | 25 | 26 | 28 | 31 | 32 | 33 | 34 => 90_000,
        16 => 11_025,
        17 => 22_050,
        _ => 0,
    }
}

/// Clock rates tried for a dynamic payload type whose rtpmap is not known yet: the right one is
/// picked when the stream is tied to its SDP, so the result never depends on which thread saw
/// the SDP first.
pub const CANDIDATE_CLOCKS: [u32; 4] = [8000, 16_000, 48_000, 90_000];

/// Jitter and its minimum, mean and maximum over regular packets, in ms.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct JitterFigures {
    pub min: Option<f64>,
    pub mean: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Copy, Clone, Debug, Default)]
struct JitterAcc {
    j: f64,
    figures: JitterFigures,
}

impl JitterAcc {
    /// RFC 3550 §6.4.1: J += (|D| − J)/16, D in ms.
    fn step(&mut self, d_ms: f64) {
        self.j = (15.0 * self.j + d_ms.abs()) / 16.0;
    }

    /// A regular packet: fold the current J into the figures (`n`: packets before this one).
    fn record(&mut self, n: f64) {
        let j = self.j;
        let f = &mut self.figures;
        f.max = Some(f.max.unwrap_or(0.0).max(j));
        f.min = Some(f.min.map_or(j, |x| x.min(j)));
        f.mean = Some((f.mean.unwrap_or(0.0) * (n - 1.0) + j) / n);
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamKey {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub ssrc: u32,
}

/// One stream's figures.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StreamStats {
    #[serde(rename = "start", serialize_with = "crate::correlate::record::ser_ts")]
    pub first: Ts,
    #[serde(rename = "end", serialize_with = "crate::correlate::record::ser_ts")]
    pub last: Ts,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub ssrc: u32,
    pub payload_type: u8,
    pub packets: u64,
    pub expected: u64,
    /// Sequence numbers that never arrived: expected − distinct packets received, duplicates
    /// apart (so never negative). RFC 3550's cumulative count (expected − received, which tshark
    /// shows) is `expected − packets`, negative when duplicates outnumber losses.
    pub lost: u64,
    /// `lost` as a share of the packets expected, % (none when none were).
    pub loss_pct: Option<f64>,
    /// Packets whose sequence number was not the next one expected (loss, reordering, dups),
    /// counted as tshark's rtp,streams does.
    pub sequence_errors: u64,
    /// Packets carrying a sequence number already received (within the last
    /// [`SEQ_WINDOW`] numbers).
    pub duplicates: u64,
    /// Packets that arrived after a higher sequence number, not seen before (reordered or late).
    pub out_of_order: u64,
    /// Forward gaps in the sequence (one per gap, however many packets it spans).
    pub sequence_jumps: u64,
    /// Runs of consecutive sequence numbers that never arrived (a late packet inside the
    /// [`SEQ_WINDOW`] fills its gap and makes no run).
    pub loss_runs: u64,
    /// G.113 burst ratio from the loss runs: 1 for random loss, above 1 when losses cluster.
    pub burst_ratio: f64,
    pub payload_type_changes: u64,
    pub markers: u64,
    /// Comfort-noise packets (RFC 3389, payload type 13, or 19 of older endpoints).
    pub comfort_noise: u64,
    pub min_delta_ms: f64,
    pub mean_delta_ms: f64,
    pub max_delta_ms: f64,
    /// None when the clock rate is not known.
    pub min_jitter_ms: Option<f64>,
    pub mean_jitter_ms: Option<f64>,
    pub max_jitter_ms: Option<f64>,
    pub clock_rate: u32,
    /// Jitter at each of [`CANDIDATE_CLOCKS`] when the clock was not known during the stream.
    #[serde(skip)]
    pub candidate_jitter: Vec<(u32, JitterFigures)>,
    /// The call this stream belongs to, once tied to its SDP.
    pub call_id: Option<String>,
    /// DTMF digits sent as RFC 4733 telephone-events (0-9, *, #, A-D), in order.
    pub dtmf: String,
    /// The codec (SDP rtpmap, else the static payload table).
    pub encoding: Option<String>,
    /// E-model R factor and MOS from the stream's loss (see [`StreamStats::score`]).
    pub r_factor: Option<f64>,
    pub mos: Option<f64>,
    /// Why there is no MOS (a wideband or unknown codec).
    pub mos_note: Option<&'static str>,
    /// The payload type that carried events, until SDP confirms it is telephone-event.
    #[serde(skip)]
    pub event_pt: Option<u8>,
    /// Packets of the stream's payload type that a fixed ([`playout::FIXED_MS`]) and an
    /// adaptive jitter buffer would have played too late (analysis::playout).
    pub late_fixed: u64,
    pub late_adaptive: u64,
    /// The delay the adaptive buffer added, ms.
    pub adaptive_delay_ms: Option<f64>,
    /// MOS after each simulated buffer: its late packets count as lost, its delay adds on.
    pub mos_fixed: Option<f64>,
    pub mos_adaptive: Option<f64>,
    /// The one-way delay the E-model used (half the RTCP round trip), when known.
    pub delay_ms: Option<f64>,
    /// What the endpoints reported about this stream in RTCP.
    pub rtcp: Option<crate::analysis::rtcp::RtcpReport>,
    /// The stream over time, one point per interval (only when asked for: `--series`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<crate::analysis::series::SeriesPoint>,
}

impl StreamStats {
    /// Sets the clock rate learned after the fact (from the SDP of the stream's call): the
    /// jitter figures computed for that candidate become the stream's. 0 (telephone-event)
    /// leaves the stream without jitter.
    /// Keeps the DTMF digits only if `pt` really is telephone-event (said by SDP); without SDP,
    /// payload type 101 is taken as telephone-event, as tshark does by default.
    pub fn resolve_events(&mut self, telephone_event: Option<u8>) {
        let ok = match (self.event_pt, telephone_event) {
            (Some(e), Some(t)) => e == t,
            (Some(e), None) => e == 101,
            _ => false,
        };
        if !ok {
            self.dtmf.clear();
        }
    }

    /// Scores the stream by the E-model (analysis::quality) with its codec, loss and the burst
    /// ratio of its loss runs. The one-way delay is half the RTCP round trip when RTCP gave one,
    /// else 0: then it is the network MOS of the loss alone. The jitter-buffer MOS add each
    /// buffer's late packets to the loss and its delay to the path.
    pub fn score(&mut self, encoding: Option<&str>) {
        use crate::analysis::quality::{score, Score};
        let enc = encoding.map(str::to_string).or_else(|| {
            crate::analysis::quality::static_encoding(self.payload_type).map(String::from)
        });
        let pct = |n: u64| {
            if self.expected > 0 {
                (n as f64 * 100.0 / self.expected as f64).min(100.0)
            } else {
                0.0
            }
        };
        self.delay_ms = self.rtcp.as_ref().and_then(|r| r.one_way_ms());
        let d = self.delay_ms.unwrap_or(0.0);
        let missing = self.missing();
        match score(enc.as_deref(), pct(missing), self.burst_ratio, d) {
            Score::Mos { r, mos } => {
                self.r_factor = Some(r);
                self.mos = Some(mos);
                self.mos_note = None;
                let mos_of = |late: u64, buffer_ms: f64| match score(
                    enc.as_deref(),
                    pct(missing + late),
                    self.burst_ratio,
                    d + buffer_ms,
                ) {
                    Score::Mos { mos, .. } => Some(mos),
                    Score::NotScored(_) => None,
                };
                self.mos_fixed = mos_of(self.late_fixed, crate::analysis::playout::FIXED_MS);
                self.mos_adaptive = self
                    .adaptive_delay_ms
                    .and_then(|a| mos_of(self.late_adaptive, a));
            }
            Score::NotScored(why) => {
                self.r_factor = None;
                self.mos = None;
                self.mos_fixed = None;
                self.mos_adaptive = None;
                self.mos_note = Some(why);
            }
        }
        self.encoding = enc;
    }

    /// Sequence numbers that never arrived: expected minus the distinct packets received. Unlike
    /// `lost` (RFC 3550's cumulative count, which duplicates pull down and tshark shows), this
    /// does not hide loss behind repeats.
    pub fn missing(&self) -> u64 {
        self.expected
            .saturating_sub(self.packets.saturating_sub(self.duplicates))
    }

    /// [`StreamStats::lost`] as a share of the packets expected, % (none when none were).
    pub fn loss_pct(&self) -> Option<f64> {
        (self.expected > 0).then(|| self.lost as f64 * 100.0 / self.expected as f64)
    }

    pub fn resolve_clock(&mut self, clock: u32) {
        if self.clock_rate != 0 || clock == 0 {
            return;
        }
        if let Some((_, f)) = self.candidate_jitter.iter().find(|(c, _)| *c == clock) {
            self.clock_rate = clock;
            self.min_jitter_ms = f.min;
            self.mean_jitter_ms = f.mean;
            self.max_jitter_ms = f.max;
        }
        if let Some(r) = &mut self.rtcp {
            r.resolve_clock(self.clock_rate);
        }
        for p in &mut self.series {
            p.settle(self.clock_rate);
        }
    }
}

/// A stream still flowing, as seen so far (for detectors that cannot wait for its end).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveStream {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub ssrc: u32,
    pub first: Ts,
    pub last: Ts,
    pub packets: u64,
}

#[derive(Clone, Debug)]
struct Stream {
    stats: StreamStats,
    start_seq: u16,
    last_seq: u16,
    cycles: u32,
    /// Just wrapped (the sequence number is below the start one).
    under: bool,
    /// Duplicates, late packets, jumps and loss runs.
    seq: SeqWindow,
    prev_time_ms: f64,
    prev_ts: u32,
    jitter: JitterAcc,
    /// One accumulator per candidate clock, while the clock is not known.
    candidates: Option<Box<[JitterAcc; 4]>>,
    /// Regular packets seen so far.
    regular: u64,
    prev_pt: u8,
    last_active: Ts,
    /// When this stream last entered the tracker's activity queue.
    queued: Ts,
    /// RTP timestamp of the telephone-event being sent (one event spans several packets).
    event_ts: Option<u32>,
    /// Jitter buffers, fed the packets of the stream's first payload type.
    playout: crate::analysis::playout::Playout,
    series: Option<Box<crate::analysis::series::Series>>,
}

pub use crate::analysis::seq::SEQ_WINDOW;

/// A stream's place in the eviction order is refreshed at most this often (capture time), so
/// the order costs one queue entry per stream and second, not one per packet.
const QUEUE_STEP: crate::time::Nanos = crate::time::NANOS_PER_SEC;

/// Digits a stream may hold, so its state stays bounded.
const MAX_DTMF: usize = 256;

fn dtmf_char(event: u8) -> Option<char> {
    match event {
        0..=9 => Some((b'0' + event) as char),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some((b'A' + event - 12) as char),
        _ => None,
    }
}

/// Counters of the tracker.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RtpTrackerStats {
    pub packets: u64,
    pub streams: u64,
    /// Streams finished early because the table was full (their figures are still reported,
    /// but a later packet of theirs starts a new stream).
    pub evicted: u64,
    /// RTCP reports not kept because the table of reported streams was full (their streams
    /// show no RTCP figures).
    pub rtcp_evicted: u64,
    /// Points of `--series` beyond [`crate::analysis::series::MAX_POINTS`] per stream, not kept.
    pub series_dropped: u64,
}

impl std::ops::AddAssign<&RtpTrackerStats> for RtpTrackerStats {
    fn add_assign(&mut self, o: &RtpTrackerStats) {
        self.packets += o.packets;
        self.streams += o.streams;
        self.evicted += o.evicted;
        self.rtcp_evicted += o.rtcp_evicted;
        self.series_dropped += o.series_dropped;
    }
}

pub struct RtpTracker {
    streams: FxHashMap<StreamKey, Stream>,
    /// Streams in order of activity, for expiry and eviction: a stream is queued when it starts
    /// and again at most once per [`QUEUE_STEP`] of its packets; stale entries are skipped. A
    /// min-heap, not a queue: entries are not pushed in time order (a stream found active at
    /// a sweep goes back at its last packet, behind later entries; capture stamps step back),
    /// and a queue's walk from the front stopped at the first live entry and left an idle
    /// stream behind it for up to `idle`, by an amount that depended on the other streams of
    /// its shard: when a stream ended then changed with the thread count.
    order: std::collections::BinaryHeap<std::cmp::Reverse<(Ts, StreamKey)>>,
    max_streams: usize,
    /// Clock rates learned from SDP rtpmap lines, by destination and payload type.
    pub clock_rates: FxHashMap<(SocketAddr, u8), u32>,
    pub stats: RtpTrackerStats,
    done: Vec<StreamStats>,
    pub rtcp: crate::analysis::rtcp::RtcpTracker,
    /// Keep each stream's figures per interval of this length (`--series`).
    pub series: Option<crate::time::Nanos>,
}

impl Default for RtpTracker {
    fn default() -> Self {
        RtpTracker::new(100_000)
    }
}

impl RtpTracker {
    pub fn new(max_streams: usize) -> RtpTracker {
        RtpTracker {
            streams: FxHashMap::default(),
            order: std::collections::BinaryHeap::new(),
            max_streams: max_streams.max(1),
            clock_rates: FxHashMap::default(),
            stats: RtpTrackerStats::default(),
            done: Vec::new(),
            rtcp: crate::analysis::rtcp::RtcpTracker::default(),
            series: None,
        }
    }

    /// Takes one RTCP datagram (already parsed) seen at `ts`.
    pub fn rtcp_packet(
        &mut self,
        ts: Ts,
        src: SocketAddr,
        dst: SocketAddr,
        packets: &[crate::analysis::rtcp::RtcpPacket],
    ) {
        self.rtcp.packet(ts, src.ip(), dst.ip(), packets);
    }

    /// A stream's final figures, with what RTCP reported about it.
    fn close(&mut self, s: Stream) -> StreamStats {
        self.stats.series_dropped += s.series.as_ref().map_or(0, |x| x.dropped);
        let mut st = s.finish();
        st.rtcp = self.rtcp.report(st.ssrc, st.src.ip(), st.dst.ip());
        if let Some(r) = &mut st.rtcp {
            r.resolve_clock(st.clock_rate);
        }
        st
    }

    /// Takes one RTP packet seen at `ts`.
    /// Takes one RTP packet seen at `ts`; `data` is the whole datagram (for event payloads).
    pub fn packet(&mut self, ts: Ts, src: SocketAddr, dst: SocketAddr, h: &RtpHeader, data: &[u8]) {
        self.stats.packets += 1;
        let key = StreamKey {
            src,
            dst,
            ssrc: h.ssrc,
        };
        // A learned rtpmap decides; a static type has its own rate; an unknown dynamic type is
        // measured at every candidate clock until its SDP says which.
        let (clock, guess) = match self.clock_rates.get(&(dst, h.payload_type)) {
            Some(c) => (*c, false),
            None => {
                let c = static_clock_rate(h.payload_type);
                (c, c == 0 && h.payload_type >= 96)
            }
        };
        let now_ms = ts.0 as f64 / 1e6;
        if !self.streams.contains_key(&key) {
            if self.streams.len() >= self.max_streams {
                self.evict_oldest();
            }
            self.stats.streams += 1;
            self.queue(ts, key);
            self.streams.insert(
                key,
                Stream {
                    stats: StreamStats {
                        first: ts,
                        last: ts,
                        src,
                        dst,
                        ssrc: h.ssrc,
                        payload_type: h.payload_type,
                        packets: 0,
                        expected: 0,
                        lost: 0,
                        loss_pct: None,
                        sequence_errors: 0,
                        duplicates: 0,
                        out_of_order: 0,
                        sequence_jumps: 0,
                        loss_runs: 0,
                        burst_ratio: 1.0,
                        payload_type_changes: 0,
                        markers: 0,
                        comfort_noise: 0,
                        min_delta_ms: f64::INFINITY,
                        mean_delta_ms: 0.0,
                        max_delta_ms: 0.0,
                        min_jitter_ms: None,
                        mean_jitter_ms: None,
                        max_jitter_ms: None,
                        clock_rate: clock,
                        candidate_jitter: Vec::new(),
                        call_id: None,
                        dtmf: String::new(),
                        event_pt: None,
                        encoding: None,
                        r_factor: None,
                        mos: None,
                        mos_note: None,
                        late_fixed: 0,
                        late_adaptive: 0,
                        adaptive_delay_ms: None,
                        mos_fixed: None,
                        mos_adaptive: None,
                        delay_ms: None,
                        rtcp: None,
                        series: Vec::new(),
                    },
                    start_seq: h.seq,
                    last_seq: h.seq,
                    cycles: 0,
                    under: false,
                    seq: SeqWindow::new(h.seq),
                    prev_time_ms: now_ms,
                    prev_ts: h.timestamp,
                    jitter: JitterAcc::default(),
                    candidates: guess.then(|| Box::new([JitterAcc::default(); 4])),
                    regular: 0,
                    prev_pt: h.payload_type,
                    last_active: ts,
                    queued: ts,
                    event_ts: None,
                    playout: Default::default(),
                    series: self
                        .series
                        .map(|i| Box::new(crate::analysis::series::Series::new(i))),
                },
            );
        }
        let Some(s) = self.streams.get_mut(&key) else {
            return;
        };
        s.update(ts, now_ms, h, clock);
        let requeue = ts.since(s.queued) >= QUEUE_STEP;
        if requeue {
            s.queued = ts;
        }
        // RFC 4733 events ride a dynamic payload type in 4-byte payloads: one event per RTP
        // timestamp, repeated until its end bit. Kept tentatively until SDP says the type.
        if h.payload_type >= 96 && h.payload_len == 4 {
            if let Some(&event) = data.get(h.payload_offset) {
                if s.event_ts != Some(h.timestamp) {
                    s.event_ts = Some(h.timestamp);
                    if let Some(c) = dtmf_char(event) {
                        if s.stats.dtmf.len() < MAX_DTMF {
                            s.stats.dtmf.push(c);
                        }
                        s.stats.event_pt = Some(h.payload_type);
                    }
                }
            }
        }
        if requeue {
            self.queue(ts, key);
        }
    }

    /// Notes that `key` was active at `ts` (see [`QUEUE_STEP`]). The queue holds at most two
    /// entries per live stream (plus a constant): past that it is compacted, in linear time
    /// paid for by as many pushes.
    fn queue(&mut self, ts: Ts, key: StreamKey) {
        self.order.push(std::cmp::Reverse((ts, key)));
        if self.order.len() > 2 * self.streams.len() + 1024 {
            let streams = &self.streams;
            self.order
                .retain(|e| streams.get(&e.0 .1).is_some_and(|s| s.queued == e.0 .0));
        }
    }

    /// Makes room in a full table: finishes the stream whose latest activity entry is the
    /// oldest (the least recently active, to within [`QUEUE_STEP`]). Entries of streams gone or
    /// queued again since are skipped, so a flood of new streams costs O(1) amortised each.
    fn evict_oldest(&mut self) {
        while let Some(std::cmp::Reverse((t, k))) = self.order.pop() {
            if self.streams.get(&k).is_some_and(|s| s.queued == t) {
                if let Some(s) = self.streams.remove(&k) {
                    self.stats.evicted += 1;
                    let st = self.close(s);
                    self.done.push(st);
                }
                return;
            }
        }
    }

    /// Learns the clock rates of dynamic payload types from an SDP body: RTP sent to the address
    /// and port of a media line uses its rtpmap. telephone-event gets none (its timestamp marks
    /// the event's start, not time: RFC 4733 §2.2.1).
    pub fn learn_sdp(&mut self, content_type: &[u8], body: &[u8]) {
        for part in crate::sip::sdp::sdp_parts(content_type, body) {
            let Ok(sdp) = crate::sip::sdp::parse_sdp(part) else {
                continue;
            };
            for m in &sdp.media {
                let Some(ip) = m.effective_connection(&sdp).and_then(|c| c.ip) else {
                    continue;
                };
                let at = SocketAddr::new(ip, m.port);
                for r in &m.rtpmap {
                    let rate = if r.encoding.eq_ignore_ascii_case(b"telephone-event") {
                        0
                    } else {
                        r.clock_rate
                    };
                    if self.clock_rates.len() < 100_000 {
                        self.clock_rates.insert((at, r.pt), rate);
                    }
                }
            }
        }
    }

    /// Finishes streams idle for longer than `idle` at capture time `now`.
    pub fn expire(&mut self, now: Ts, idle: crate::time::Nanos) {
        // Only the heap's old end is visited: a stream idle past `idle` has its latest entry
        // there (queued at or before its last packet); one queued long ago but active since is
        // queued again at its last packet. So a stream ends at the first sweep more than `idle`
        // after its last packet, whatever else its shard holds.
        let mut due: Vec<StreamKey> = Vec::new();
        while let Some(&std::cmp::Reverse((t, k))) = self.order.peek() {
            if now.since(t) <= idle {
                break;
            }
            self.order.pop();
            let Some(s) = self.streams.get_mut(&k).filter(|s| s.queued == t) else {
                continue;
            };
            if now.since(s.last_active) > idle {
                due.push(k);
            } else {
                s.queued = s.last_active;
                self.order.push(std::cmp::Reverse((s.last_active, k)));
            }
        }
        due.sort();
        for k in due {
            if let Some(s) = self.streams.remove(&k) {
                let st = self.close(s);
                self.done.push(st);
            }
        }
        self.rtcp.expire(now, idle);
    }

    /// The streams that had a packet at or after `since`, as they stand.
    pub fn live_since(&self, since: Ts) -> Vec<LiveStream> {
        let mut v: Vec<LiveStream> = self
            .streams
            .values()
            .filter(|s| s.last_active >= since)
            .map(|s| LiveStream {
                src: s.stats.src,
                dst: s.stats.dst,
                ssrc: s.stats.ssrc,
                first: s.stats.first,
                last: s.stats.last,
                packets: s.stats.packets,
            })
            .collect();
        v.sort_by_key(|s| (s.first, s.src, s.dst, s.ssrc));
        v
    }

    /// Streams finished so far (idle or evicted), handed over once.
    pub fn take_done(&mut self) -> Vec<StreamStats> {
        std::mem::take(&mut self.done)
    }

    pub fn live(&self) -> usize {
        self.streams.len()
    }

    /// Every stream, finished: the ones ended early first, then the rest by first packet.
    pub fn finish(&mut self) -> Vec<StreamStats> {
        self.order.clear();
        let live: Vec<Stream> = self.streams.drain().map(|(_, s)| s).collect();
        let mut rest: Vec<StreamStats> = live.into_iter().map(|s| self.close(s)).collect();
        rest.sort_by_key(|a| (a.first, a.src, a.dst, a.ssrc));
        self.stats.rtcp_evicted = self.rtcp.stats.evicted;
        let mut out = std::mem::take(&mut self.done);
        out.extend(rest);
        out
    }
}

impl Stream {
    fn update(&mut self, ts: Ts, now_ms: f64, h: &RtpHeader, clock: u32) {
        let first = self.stats.packets == 0;
        self.stats.packets += 1;
        self.stats.last = self.stats.last.max(ts);
        self.last_active = ts;
        if h.marker {
            self.stats.markers += 1;
        }
        // Every codec the E-model scores has an 8 kHz RTP clock, so a dynamic type whose rate is
        // not known yet is played out at 8 kHz; its buffer figures are used only when it is
        // scored (StreamStats::score).
        if h.payload_type == self.stats.payload_type {
            let c = if clock != 0 { clock } else { 8000 };
            self.playout.packet(now_ms, h.timestamp, h.marker, c);
        }
        // Packets before the stream's start in RTP time are late, not new (a wrap of the 32-bit
        // timestamp counts forward).
        let in_time = first || h.timestamp.wrapping_sub(self.prev_ts) < 0x8000_0000;
        if !first {
            // Sequence cycles (RFC 3550 §A.1), as tshark counts them.
            if in_time && h.seq < self.start_seq && !self.under {
                self.cycles += 1;
                self.under = true;
            } else if in_time && h.seq > self.start_seq && self.under {
                self.under = false;
            }
            let next = self.last_seq.wrapping_add(1);
            if in_time && h.seq == next {
                self.last_seq = h.seq;
            } else if in_time
                && (next < h.seq || self.last_seq.wrapping_sub(h.seq) > 0xff00)
                && h.seq != self.last_seq
            {
                self.last_seq = h.seq;
                self.stats.sequence_errors += 1;
            } else {
                self.stats.sequence_errors += 1;
            }
        }
        if !first {
            self.seq.packet(h.seq);
        }
        let cn = h.payload_type == 13 || h.payload_type == 19;
        self.stats.comfort_noise += cn as u64;
        let follows_cn = self.prev_pt == 13 || self.prev_pt == 19;
        if !first && h.payload_type != self.prev_pt {
            self.stats.payload_type_changes += 1;
        }
        self.prev_pt = h.payload_type;
        let delta = if first {
            0.0
        } else {
            now_ms - self.prev_time_ms
        };
        let mut have_jitter = false;
        if !first {
            // D(i,j) in ms: arrival difference minus RTP-time difference.
            let arrival = now_ms - self.prev_time_ms;
            let units = h.timestamp.wrapping_sub(self.prev_ts) as i32 as f64;
            if clock != 0 {
                self.jitter.step(arrival - units / (clock as f64 / 1000.0));
                self.stats.clock_rate = clock;
                have_jitter = true;
            } else if let Some(c) = self.candidates.as_mut() {
                for (acc, rate) in c.iter_mut().zip(CANDIDATE_CLOCKS) {
                    acc.step(arrival - units / (rate as f64 / 1000.0));
                }
            }
        }
        // A packet stepping back in RTP time still counts (tshark 4.0's figures include it:
        // sip-tls-1.3-and-rtcp has a G.722 sender that repeats two timestamps).
        let regular = !first && !h.marker && !cn && !follows_cn;
        if regular {
            self.regular += 1;
            // The running means weigh each regular packet by the number of packets before it
            // (irregular ones included), as tshark's rtp,streams does, so the two compare.
            let n = (self.stats.packets - 1) as f64;
            self.stats.min_delta_ms = self.stats.min_delta_ms.min(delta);
            self.stats.max_delta_ms = self.stats.max_delta_ms.max(delta);
            self.stats.mean_delta_ms = (self.stats.mean_delta_ms * (n - 1.0) + delta) / n;
            if have_jitter {
                self.jitter.record(n);
            } else if let Some(c) = self.candidates.as_mut() {
                for acc in c.iter_mut() {
                    acc.record(n);
                }
            }
        }
        if let Some(series) = self.series.as_mut() {
            let high = u64::from(self.cycles) * 65_536 + u64::from(self.last_seq);
            let mut j = [(0u32, 0.0f64); 4];
            let n = if !regular {
                0
            } else if have_jitter {
                j[0] = (clock, self.jitter.j);
                1
            } else if let Some(c) = self.candidates.as_ref() {
                for (slot, (acc, rate)) in j.iter_mut().zip(c.iter().zip(CANDIDATE_CLOCKS)) {
                    *slot = (rate, acc.j);
                }
                4
            } else {
                0
            };
            // Deltas count over regular packets only, as the stream's own maximum does.
            series.packet(ts, first, high, if regular { delta } else { 0.0 }, &j[..n]);
        }
        // The next packet's D is taken against this one even when it stepped back in RTP time:
        // that is what tshark's figures show (keeping the older reference instead raises that
        // G.722 stream's maximum jitter from tshark's 3.615 to 5.893 ms).
        self.prev_time_ms = now_ms;
        self.prev_ts = h.timestamp;
    }

    fn finish(mut self) -> StreamStats {
        let seq = self.seq.finish();
        self.stats.duplicates = seq.duplicates;
        self.stats.out_of_order = seq.out_of_order;
        self.stats.sequence_jumps = seq.jumps;
        self.stats.loss_runs = seq.loss_runs;
        self.stats.burst_ratio = seq.burst_ratio;
        if self.stats.clock_rate != 0 {
            let f = self.jitter.figures;
            self.stats.min_jitter_ms = f.min;
            self.stats.mean_jitter_ms = f.mean;
            self.stats.max_jitter_ms = f.max;
        } else if let Some(c) = &self.candidates {
            self.stats.candidate_jitter = CANDIDATE_CLOCKS
                .iter()
                .zip(c.iter())
                .map(|(rate, acc)| (*rate, acc.figures))
                .collect();
        }
        let highest = self.cycles as u64 * 65_536 + self.last_seq as u64;
        let expected = (highest + 1).saturating_sub(self.start_seq as u64);
        self.stats.expected = expected;
        self.stats.lost = self.stats.missing();
        self.stats.loss_pct = self.stats.loss_pct();
        if !self.stats.min_delta_ms.is_finite() {
            self.stats.min_delta_ms = 0.0;
        }
        if let Some(series) = self.series.take() {
            self.stats.series = series.finish(self.stats.clock_rate);
        }
        self.stats.late_fixed = self.playout.fixed_late;
        self.stats.late_adaptive = self.playout.adaptive_late;
        self.stats.adaptive_delay_ms = self.playout.adaptive_delay_ms();
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(seq: u16, ts: u32, pt: u8, marker: bool) -> Vec<u8> {
        let mut v = vec![0x80, pt | if marker { 0x80 } else { 0 }];
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(&ts.to_be_bytes());
        v.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        v.extend_from_slice(&[0u8; 160]);
        v
    }

    fn addr(p: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], p))
    }

    #[test]
    fn header_parsing() {
        let h = RtpHeader::parse(&pkt(7, 160, 0, true)).unwrap();
        assert_eq!(
            (h.seq, h.timestamp, h.payload_type, h.marker),
            (7, 160, 0, true)
        );
        assert_eq!(h.payload_len, 160);
        // RTCP sender report (PT 200) is not RTP; version 1 neither; nor a short datagram.
        let mut sr = pkt(1, 1, 0, false);
        sr[1] = 200;
        assert!(RtpHeader::parse(&sr).is_none());
        let mut v1 = pkt(1, 1, 0, false);
        v1[0] = 0x40;
        assert!(RtpHeader::parse(&v1).is_none());
        assert!(RtpHeader::parse(&[0x80; 11]).is_none());
    }

    /// F4 of ../shared/adversarial: a full table finishes its least recently active stream,
    /// from the activity queue (no scan), counts it, and the queue stays bounded.
    #[test]
    fn a_full_table_evicts_the_least_recently_active_stream_and_counts_it() {
        let sec = 1_000_000_000i64;
        let mut t = RtpTracker::new(3);
        let h = RtpHeader::parse(&pkt(1, 160, 0, false)).unwrap();
        for (i, p) in [4000u16, 4002, 4004].iter().enumerate() {
            t.packet(Ts(i as i64 * sec), addr(*p), addr(5000), &h, &[]);
        }
        // 4000 is active again later than 4002 and 4004: 4002 is now the oldest.
        t.packet(Ts(3 * sec), addr(4000), addr(5000), &h, &[]);
        t.packet(Ts(4 * sec), addr(4006), addr(5000), &h, &[]);
        assert_eq!(t.stats.evicted, 1);
        let gone: Vec<SocketAddr> = t.take_done().iter().map(|s| s.src).collect();
        assert_eq!(gone, vec![addr(4002)]);
        // A flood of one-packet streams: one eviction each, the queue never beyond its bound.
        for i in 0..20_000u32 {
            let p = addr(10_000 + (i % 50_000) as u16);
            t.packet(
                Ts(5 * sec + i as i64),
                p,
                addr(6000 + (i / 50_000) as u16),
                &h,
                &[],
            );
            assert!(t.order.len() <= 2 * t.streams.len() + 1024);
        }
        assert_eq!(t.stats.evicted, 1 + 20_000);
        // Idle expiry takes what is left, through the queue.
        t.expire(Ts(1_000 * sec), 60 * sec);
        assert!(t.streams.is_empty());
    }

    /// A stream ends at the first sweep more than `idle` after its last packet, whatever the
    /// other streams of its tracker. Here stream A was queued at 0.5 s and sent until 1.4 s (no
    /// new queue entry: less than a step later); found active at the sweep of 61 s, it went
    /// back in the queue behind the entries other streams had pushed up to 61 s, and the walk
    /// from the front, stopping at the first live entry, left it there until 122 s. Its call
    /// had left the session by then, and the stream came out unclaimed (3,255 of the mixed
    /// bench capture's 8,685 streams), at a time that moved with the thread count.
    #[test]
    fn an_idle_stream_ends_at_the_first_sweep_past_its_idle_time() {
        let sec = 1_000_000_000i64;
        let idle = 60 * sec;
        let h = RtpHeader::parse(&pkt(1, 160, 0, false)).unwrap();
        for others in [0u16, 1, 40] {
            let mut t = RtpTracker::default();
            t.packet(Ts(sec / 2), addr(4000), addr(5000), &h, &[]);
            t.packet(Ts(14 * sec / 10), addr(4000), addr(5000), &h, &[]);
            let mut ended_at = None;
            for now in 1..200i64 {
                // Other streams send every second, each on a port of its own.
                for o in 0..others {
                    let ts = Ts(now * sec - 1 - i64::from(o));
                    t.packet(ts, addr(6000 + 2 * o), addr(7000), &h, &[]);
                }
                t.expire(Ts(now * sec), idle);
                if t.take_done().iter().any(|s| s.src == addr(4000)) {
                    ended_at = Some(now);
                    break;
                }
            }
            // 1.4 s + 60 s < 62 s: the sweep of 62 s finds it idle.
            assert_eq!(ended_at, Some(62), "with {others} other streams");
        }
    }

    #[test]
    fn jitter_on_a_hand_built_stream() {
        // PCMU, 20 ms per packet (160 timestamp units at 8 kHz). Arrivals: on time, 5 ms late,
        // on time again. D(1,2) = 25 - 20 = 5 ms: J = 5/16 = 0.3125. D(2,3) = 15 - 20 = -5 ms:
        // J = (15 * 0.3125 + 5) / 16 = 0.60546875.
        let mut t = RtpTracker::default();
        let ms = 1_000_000i64;
        let arrivals = [0, 20 * ms, 45 * ms, 60 * ms];
        for (i, at) in arrivals.iter().enumerate() {
            let h = RtpHeader::parse(&pkt(i as u16, 160 * i as u32, 0, false)).unwrap();
            t.packet(
                Ts(1_000 * 1_000_000_000 + at),
                addr(4000),
                addr(5000),
                &h,
                &[],
            );
        }
        let s = &t.finish()[0];
        assert_eq!((s.packets, s.lost, s.clock_rate), (4, 0, 8000));
        let max = s.max_jitter_ms.unwrap();
        assert!((max - 0.60546875).abs() < 1e-9, "{max}");
        assert!((s.max_delta_ms - 25.0).abs() < 1e-9);
        assert!((s.min_delta_ms - 15.0).abs() < 1e-9);
    }

    #[test]
    fn loss_across_the_sequence_wrap_and_duplicates() {
        let mut t = RtpTracker::default();
        let seqs: [u16; 6] = [65533, 65534, 65535, 1, 2, 2]; // 0 never comes, 2 twice
        for (i, s) in seqs.iter().enumerate() {
            let h = RtpHeader::parse(&pkt(*s, 160 * i as u32, 0, false)).unwrap();
            t.packet(Ts(i as i64 * 20_000_000), addr(4000), addr(5000), &h, &[]);
        }
        let s = &t.finish()[0];
        assert_eq!(s.packets, 6);
        assert_eq!(s.expected, 6);
        // RFC 3550 A.3's cumulative count (expected − received) would let the repeat cancel the
        // loss out to 0; sipscope counts duplicates apart.
        assert_eq!((s.lost, s.duplicates), (1, 1));
        assert_eq!(s.sequence_errors, 2);
        assert_eq!(
            (s.duplicates, s.out_of_order, s.sequence_jumps),
            (1, 0, 1),
            "0 is missing (one jump over it) and 2 came twice"
        );
    }

    /// One stream of G.711 packets with these sequence numbers, RTP time following them
    /// (across the wrap) as a sender's would, arriving 20 ms apart.
    fn stream_of(seqs: &[u16]) -> StreamStats {
        let mut t = RtpTracker::default();
        for (i, s) in seqs.iter().enumerate() {
            let units = 160 * s.wrapping_sub(seqs[0]) as u32;
            let h = RtpHeader::parse(&pkt(*s, units, 0, false)).unwrap();
            t.packet(Ts(i as i64 * 20_000_000), addr(4000), addr(5000), &h, &[]);
        }
        t.finish().remove(0)
    }

    fn seq_counts(seqs: &[u16]) -> (u64, u64, u64, u64) {
        let s = stream_of(seqs);
        (s.duplicates, s.out_of_order, s.sequence_jumps, s.lost)
    }

    fn runs_and_burst(seqs: &[u16]) -> (u64, u64, f64) {
        let s = stream_of(seqs);
        (s.missing(), s.loss_runs, s.burst_ratio)
    }

    #[test]
    fn loss_runs_give_the_burst_ratio() {
        // 10-13 and 50 lost: 95 received, 5 missing, 2 runs. p = 2/95, q = 2/5,
        // BurstR = 1/(p + q) = 2.375.
        let seqs: Vec<u16> = (0..100)
            .filter(|s| !(10..=13).contains(s) && *s != 50)
            .collect();
        let (missing, runs, b) = runs_and_burst(&seqs);
        assert_eq!((missing, runs), (5, 2));
        assert!((b - 1.0 / (2.0 / 95.0 + 2.0 / 5.0)).abs() < 1e-12, "{b}");
        // Every tenth lost, alone: 90 received, 10 missing, 10 runs. p = 1/9, q = 1:
        // BurstR 0.9, more even than random loss.
        let seqs: Vec<u16> = (0..100).filter(|s| s % 10 != 5).collect();
        let (missing, runs, b) = runs_and_burst(&seqs);
        assert_eq!((missing, runs), (10, 10));
        assert!((b - 0.9).abs() < 1e-12, "{b}");
        // A reorder inside the window is no loss.
        assert_eq!(runs_and_burst(&[1, 2, 4, 3, 5]), (0, 0, 1.0));
        // A jump longer than the window is one run: 0-10 and 200-210 received, 189 missing.
        let seqs: Vec<u16> = (0..=10).chain(200..=210).collect();
        let (missing, runs, b) = runs_and_burst(&seqs);
        assert_eq!((missing, runs), (189, 1));
        assert!((b - 1.0 / (1.0 / 22.0 + 1.0 / 189.0)).abs() < 1e-9, "{b}");
        // Loss across the 16-bit wrap.
        let seqs: Vec<u16> = (65500..=65535).chain(3..40).collect();
        assert_eq!(runs_and_burst(&seqs).0, 3);
        assert_eq!(runs_and_burst(&seqs).1, 1);
    }

    #[test]
    fn duplicates_reordering_and_jumps_are_told_apart() {
        // 3 and 4 swapped: one jump (2→4), one late packet, nothing lost.
        assert_eq!(seq_counts(&[1, 2, 4, 3, 5]), (0, 1, 1, 0));
        // The late 3 arrives again: a duplicate, not a second late packet, and not a negative
        // loss (RFC 3550's cumulative count would say -1).
        assert_eq!(seq_counts(&[1, 2, 4, 3, 5, 3]), (1, 1, 1, 0));
        // Two gaps: 3 and 6-7 never come. Two jumps, three lost.
        assert_eq!(seq_counts(&[1, 2, 4, 5, 8]), (0, 0, 2, 3));
        // A repeat far behind the window cannot be told from a late packet.
        let mut long: Vec<u16> = (0..100).collect();
        long.push(10);
        assert_eq!(seq_counts(&long), (0, 1, 0, 0));
        // Within the window it can.
        let mut near: Vec<u16> = (0..100).collect();
        near.push(40);
        assert_eq!(seq_counts(&near), (1, 0, 0, 0));
        // Across the 16-bit wrap, a reorder stays a reorder.
        assert_eq!(seq_counts(&[65534, 0, 65535, 1]), (0, 1, 1, 0));
    }

    #[test]
    fn telephone_event_has_no_clock_and_no_jitter() {
        let mut t = RtpTracker::default();
        t.learn_sdp(
            b"application/sdp",
            b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n",
        );
        for i in 0..5u16 {
            let data = pkt(i, 1000, 101, i == 0);
            let h = RtpHeader::parse(&data).unwrap();
            t.packet(Ts(i as i64 * 20_000_000), addr(4000), addr(5000), &h, &data);
        }
        let s = &t.finish()[0];
        assert_eq!(s.packets, 5);
        assert_eq!(s.max_jitter_ms, None);
    }
}
