//! The threads that tie the stages together (../shared/ARCHITECTURE.md, Threads).
//!
//! ```text
//! reader ─▶ [decode+reassembly worker × N, by symmetric IP-pair hash]
//!        ─▶ [correlator × M, by Call-ID hash] ─▶ sink (the caller's thread)
//! ```
//! Frames travel in numbered batches over bounded channels. Every worker receives every batch
//! (its share may be empty) and every correlator hears from every worker for every batch, so each
//! stage can merge its inputs in capture order: the output does not depend on N or M. Shutdown is
//! by an end-of-input batch that flows through every stage, then the channels close; every channel
//! has a reader until then, so nothing can hang on exit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use crossbeam_channel::{bounded, Receiver, Sender};

use crate::analysis::media::{MediaConfig, MediaTracker};
use crate::capture::{CaptureError, CaptureStats, Frame, LinkType, Next, Source};
use crate::correlate::{CorrelateStats, Correlator, CorrelatorConfig, Msg, Output};
use crate::decode::{self, DecodeStats, Decoder};
use crate::reassembly::{Reassembler, ReassemblyConfig, ReassemblyStats, SipBytes};
use crate::sip::SipMessage;
use crate::time::{CaptureClock, Settled, Ts};

mod select;
use select::FrameCursor;
pub use select::{CallSet, FlowSet, FrameSet};

#[derive(Clone, Debug)]
pub struct PipelineConfig {
    /// Decode workers (N) and correlators (M); 1 runs one of each.
    pub workers: usize,
    pub correlators: usize,
    pub batch: usize,
    pub reassembly: ReassemblyConfig,
    /// RTP and RTCP analysis of the UDP that is not SIP.
    pub media: MediaConfig,
    pub correlator: CorrelatorConfig,
    /// Every frame read is also offered to this pcap writer (`monitor --write`).
    pub tap: Option<crate::capture::writer::Tap>,
    /// A BPF expression (tcpdump syntax) each frame read must match (`--bpf` on files; a live
    /// capture gives it to the kernel instead). Frames keep their numbers in the capture.
    pub frame_filter: Option<String>,
    /// Stop after this many frames (that pass the filter), as `tcpdump -c`.
    pub max_frames: Option<u64>,
    /// Only the messages of these Call-IDs go on to the correlators (the report's second reading
    /// of a file, for a few calls' messages): the rest are let go in the workers. Messages keep
    /// their numbers within their frames.
    pub only_calls: Option<Arc<CallSet>>,
    /// Only the frames between these hosts are decoded (the report's second reading, when it
    /// knows where the wanted calls' messages were): the rest are let go as read, and keep their
    /// numbers. Frames whose outermost IP pair cannot be read are always taken.
    pub only_flows: Option<Arc<FlowSet>>,
    /// Only these frames (by their numbers in the capture) are decoded: the report's second
    /// reading, when it knows the frame of every wanted message. The rest are let go as read
    /// (their times still move the clock), and the reading ends after the last of them.
    pub only_frames: Option<Arc<FrameSet>>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        let cores = thread::available_parallelism().map_or(2, |n| n.get());
        PipelineConfig {
            workers: cores.clamp(1, 8),
            correlators: (cores / 2).clamp(1, 4),
            batch: 1024,
            reassembly: ReassemblyConfig::default(),
            media: MediaConfig::default(),
            correlator: CorrelatorConfig::default(),
            tap: None,
            frame_filter: None,
            max_frames: None,
            only_calls: None,
            only_flows: None,
            only_frames: None,
        }
    }
}

/// Everything every stage counted, merged.
#[derive(Clone, Debug, Default)]
pub struct RunStats {
    pub capture: CaptureStats,
    pub decode: DecodeStats,
    pub reassembly: ReassemblyStats,
    pub correlate: CorrelateStats,
    /// The RTP/RTCP stream tables of the workers (streams seen, evicted from a full table).
    pub rtp: crate::analysis::rtp::RtpTrackerStats,
    /// Candidates that looked like SIP but whose start line did not parse.
    pub sip_rejected: u64,
    pub first_ts: Option<Ts>,
    pub last_ts: Option<Ts>,
    /// The run was stopped (Ctrl-C) before the input ended.
    pub interrupted: bool,
    /// Frames stamped more than an hour after every frame before them, with the next frame back
    /// in the past: a broken clock, not the passing of time, so they do not move the timers.
    pub ts_outliers: u64,
    /// Frames the BPF filter (`--bpf` on files) left out, and how many of those had a link type
    /// the expression does not compile for.
    pub bpf_rejected: u64,
    pub bpf_uncompiled: u64,
    /// Frames stamped more than an hour before the capture clock, with the next frame back on
    /// it: analysed at the clock's time (`CaptureClock`), their own stamp only displayed.
    pub ts_behind: u64,
    /// Steps of the capture clock by more than an hour, confirmed by the next frame: followed.
    pub ts_steps: u64,
    /// The TLS key table (`--tls-keylog`, Decryption Secrets Blocks) at the end.
    pub tls_keys: crate::reassembly::tls::keylog::KeyLogStats,
}

/// Where one frame of a batch is: in the share's own byte buffer, or in one of its chunks.
struct FrameMeta {
    no: u64,
    /// The time the frame is analysed at: its own stamp unless that was a time warp, then the
    /// capture clock's (`crate::time::CaptureClock`).
    ts: Ts,
    /// The frame's own time stamp, as the file has it (displayed).
    raw: Ts,
    link: LinkType,
    orig_len: u32,
    /// The index of the share's chunk the frame lies in, or [`IN_DATA`].
    chunk: u32,
    start: usize,
    len: usize,
}

/// [`FrameMeta::chunk`] of a frame copied into the share's own buffer.
const IN_DATA: u32 = u32::MAX;

/// One worker's share of a batch. A source that reads in shared chunks (a pcap file) lends
/// each frame with its chunk, and the share keeps a handle to the chunk: the frame's bytes are
/// not copied. Other sources' frames are copied back to back into the share's own buffer. The
/// reader fills the share and lets go; only the worker ever slices it, and each chunk handle is
/// the share's own (`Bytes::from_owner`, with its own reference count), so no count the worker
/// touches per frame bounces between cores.
#[derive(Default)]
struct Share {
    data: Vec<u8>,
    frames: Vec<FrameMeta>,
    chunks: Vec<bytes::Bytes>,
}

struct Batch {
    /// The capture time every frame of this batch is at or after (the batch's first frame).
    start_ts: Ts,
    /// The latest capture time seen so far (a watermark for timers).
    watermark: Ts,
    share: Share,
    end: bool,
}

struct MsgBatch {
    watermark: Ts,
    msgs: Vec<Msg>,
    /// RTP streams the worker finished in this batch (sent to the first correlator only).
    streams: Vec<crate::analysis::rtp::StreamStats>,
    /// Streams still flowing, when a progress report fell due (first correlator only).
    live: Vec<crate::analysis::rtp::LiveStream>,
    /// RTCP datagrams of this batch, when asked for (first correlator only).
    rtcp: Vec<crate::analysis::rtcp::RtcpSeen>,
    end: bool,
}

struct OutBatch {
    outputs: Vec<Output>,
    watermark: Ts,
}

fn call_shard(m: &SipMessage, n: usize) -> usize {
    match m.call_id() {
        Some(c) if n > 1 => (decode::fnv(c, decode::FNV_OFFSET) % n as u64) as usize,
        _ => 0,
    }
}

/// The workers' messages of one batch in capture order (frame, then place in the frame). Each
/// worker's list is in order already, so they are merged as the correlator takes them: each
/// 352-byte message is moved once, out of its list. Sorting the concatenation moved every
/// message about log n times; merging into a new list through `Peekable` moved it three times
/// (5 % of the correlator thread's samples on the SIP-only capture). A list out of order (none
/// is) is sorted first.
fn merge_in_order(mut parts: Vec<Vec<Msg>>) -> MergeInOrder {
    for p in parts.iter_mut() {
        if !p.is_sorted_by_key(msg_order) {
            p.sort_by_key(msg_order);
        }
    }
    parts.retain(|p| !p.is_empty());
    MergeInOrder {
        heads: parts.into_iter().map(Vec::into_iter).collect(),
    }
}

fn msg_order(m: &Msg) -> (u64, u16) {
    (m.frame, m.idx)
}

struct MergeInOrder {
    heads: Vec<std::vec::IntoIter<Msg>>,
}

impl Iterator for MergeInOrder {
    type Item = Msg;

    fn next(&mut self) -> Option<Msg> {
        // The list whose next message comes first (ties to the earlier list, as a stable sort).
        let mut best: Option<(usize, (u64, u16))> = None;
        for (i, h) in self.heads.iter().enumerate() {
            if let Some(k) = h.as_slice().first().map(msg_order) {
                if best.is_none_or(|(_, b)| k < b) {
                    best = Some((i, k));
                }
            }
        }
        self.heads[best?.0].next()
    }
}

/// Orders a merged batch of outputs the same way whatever the sharding (no allocation: this
/// runs on every batch). Finished RTP streams come before the calls finished in the same batch,
/// so a sink joining the two has each call's streams before the call itself.
fn sort_outputs(v: &mut [Output]) {
    use std::cmp::Ordering;
    fn rank(o: &Output) -> (u8, u64, u16, Ts, u8) {
        match o {
            Output::Msg(m) => (0, m.frame, m.msg_in_frame, m.ts, 1),
            Output::Media(m) => (0, m.frame, m.idx, Ts::ZERO, 0),
            Output::Change(c) => (0, c.frame, c.msg_in_frame, c.ts, 2),
            Output::Rtcp(r) => (0, r.frame, 0, r.ts, 3),
            Output::Rtp(s) => (1, 0, 0, s.first, 0),
            Output::RtpLive(_) => (1, 0, 0, Ts(i64::MAX), 1),
            Output::Reg(r) => (2, 0, 0, r.start, 0),
            Output::Call(c) => (3, 0, 0, c.start, 0),
            Output::Tick(t, ..) => (4, 0, 0, *t, 0),
        }
    }
    fn tie(a: &Output, b: &Output) -> Ordering {
        match (a, b) {
            (Output::Reg(x), Output::Reg(y)) => x.call_id.cmp(&y.call_id),
            (Output::Call(x), Output::Call(y)) => x.call_id.cmp(&y.call_id),
            (Output::Media(x), Output::Media(y)) => x.addr.cmp(&y.addr),
            (Output::Rtp(x), Output::Rtp(y)) => (x.src, x.dst, x.ssrc).cmp(&(y.src, y.dst, y.ssrc)),
            _ => Ordering::Equal,
        }
    }
    v.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| tie(a, b)));
}

/// Told how far the reader has got: `Some(bytes read)` as it goes, `None` once at the end. The
/// caller draws it however it likes (a progress bar, a TUI header); the library draws nothing.
pub type Progress = Box<dyn FnMut(Option<u64>) + Send>;

/// Pipelines running in this process (see [`running`]).
static RUNNING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Pipelines that have ended in this process.
static ENDED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Whether every pipeline this process started has ended (and at least one did): a caller that
/// asked them to stop can tell whether they did (the binary's exit on a stuck stage).
pub fn drained() -> bool {
    RUNNING.load(Ordering::SeqCst) == 0 && ENDED.load(Ordering::SeqCst) > 0
}

struct Running;

impl Running {
    fn enter() -> Running {
        RUNNING.fetch_add(1, Ordering::SeqCst);
        Running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        ENDED.fetch_add(1, Ordering::SeqCst);
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs the whole pipeline over `source`, calling `sink` on this thread with every output in a
/// deterministic order. `stop` ends the input early (Ctrl-C); outputs are still drained.
pub fn run(
    mut source: Box<dyn Source>,
    cfg: &PipelineConfig,
    stop: Arc<AtomicBool>,
    mut progress: Option<Progress>,
    mut sink: impl FnMut(Output),
) -> Result<RunStats, CaptureError> {
    let _running = Running::enter();
    let n = cfg.workers.max(1);
    let m = cfg.correlators.max(1);
    let batch_size = cfg.batch.max(1);
    // Packets a live capture has dropped so far (kernel and interface), for the sink's ticks.
    let drops = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let reader_drops = drops.clone();
    // Frames read so far, for the ticks (a live view's capture health).
    let frames_read = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let reader_frames = frames_read.clone();
    // TCP gaps the workers have met so far, for the same ticks.
    let tcp_gaps = Arc::new(std::sync::atomic::AtomicU64::new(0));
    // The TLS key table: the user's key logs if any, and the secrets the capture carries.
    let tls_keys = cfg
        .reassembly
        .tls_keys
        .clone()
        .unwrap_or_else(|| Arc::new(crate::reassembly::tls::keylog::KeyLog::default()));
    let dsb_keys = tls_keys.clone();
    source.secrets_to(Arc::new(move |text: &[u8]| dsb_keys.add_text(text)));
    let tap = cfg.tap.clone();
    let frame_filter = cfg.frame_filter.clone();
    let max_frames = cfg.max_frames;
    let only_flows = cfg.only_flows.clone();
    let only_frames = cfg.only_frames.clone();

    let mut to_workers: Vec<Sender<Batch>> = Vec::new();
    let mut worker_rx: Vec<Receiver<Batch>> = Vec::new();
    for _ in 0..n {
        let (tx, rx) = bounded::<Batch>(4);
        to_workers.push(tx);
        worker_rx.push(rx);
    }
    // corr_rx[j][w]: what worker w sends correlator j.
    let mut corr_tx: Vec<Vec<Sender<MsgBatch>>> = (0..n).map(|_| Vec::new()).collect();
    let mut corr_rx: Vec<Vec<Receiver<MsgBatch>>> = (0..m).map(|_| Vec::new()).collect();
    for rxs in corr_rx.iter_mut() {
        for txs in corr_tx.iter_mut() {
            let (tx, rx) = bounded::<MsgBatch>(8);
            txs.push(tx);
            rxs.push(rx);
        }
    }
    let mut sink_rx: Vec<Receiver<OutBatch>> = Vec::new();
    let mut sink_tx: Vec<Sender<OutBatch>> = Vec::new();
    for _ in 0..m {
        let (tx, rx) = bounded::<OutBatch>(8);
        sink_tx.push(tx);
        sink_rx.push(rx);
    }

    thread::scope(|scope| {
        // Reader.
        let reader = scope.spawn(
            move || -> (Result<(), CaptureError>, CaptureStats, bool, CaptureClock, (u64, u64)) {
                let mut frame_no = 0u64;
                let mut bpf = frame_filter
                    .as_deref()
                    .map(crate::capture::bpf::FrameFilter::new);
                let mut bpf_rejected = 0u64;
                let mut passed = 0u64;
                // A frame far from the capture clock waits for the next one to confirm it
                // (analysis of a capture whose clock blipped two frames into 2041 must not expire
                // every call and stream). It waits in its batch, whose sending waits with it.
                let mut clock = CaptureClock::default();
                let mut waiting: Option<(usize, usize)> = None;
                // What became of the waiting frame: a confirmed step keeps its own stamp.
                let settle = |bufs: &mut Vec<Share>,
                              waiting: &mut Option<(usize, usize)>,
                              s: Option<Settled>| {
                    if let (Some(Settled::Step(t)), Some((w, i))) = (s, *waiting) {
                        if let Some(m) = bufs[w].frames.get_mut(i) {
                            m.ts = t;
                        }
                    }
                    if s.is_some() {
                        *waiting = None;
                    }
                };
                let mut result = Ok(());
                let mut interrupted = false;
                let mut bufs: Vec<Share> = (0..n).map(|_| Share::default()).collect();
                let mut count = 0usize;
                let mut start_ts: Option<Ts> = None;
                let mut frame_cursor = only_frames.as_deref().map(FrameCursor::new);
                let live = source.is_live();
                let paced = source.paced();
                // Live, the capture thread never waits on the analysis: when a worker is
                // behind, the batch's frames are dropped (counted, and said as capture loss) and
                // only its clock goes on. Every worker still gets every batch, so the order
                // stays whole. Files are read at the analysis' own pace instead.
                let behind = std::cell::Cell::new(0u64);
                let send = |bufs: &mut Vec<Share>, start: Ts, wm: Ts, end: bool| {
                    if live && !end && to_workers.iter().any(|tx| tx.is_full()) {
                        for b in bufs.iter_mut() {
                            behind.set(behind.get() + b.frames.len() as u64);
                            b.frames.clear();
                            b.data.clear();
                            b.chunks.clear();
                        }
                        return true;
                    }
                    for (w, tx) in to_workers.iter().enumerate() {
                        // The next share starts with the capacity this one needed: no regrowth.
                        let next = Share {
                            data: Vec::with_capacity(bufs[w].data.len()),
                            frames: Vec::with_capacity(bufs[w].frames.len()),
                            chunks: Vec::new(),
                        };
                        let share = std::mem::replace(&mut bufs[w], next);
                        if tx
                            .send(Batch {
                                start_ts: start,
                                watermark: wm,
                                share,
                                end,
                            })
                            .is_err()
                        {
                            return false;
                        }
                    }
                    true
                };
                // Live, a batch goes at least every 100 ms (a quiet link says Idle after 100 ms),
                // so a message reaches its sink well within 250 ms.
                let flush_after = std::time::Duration::from_millis(100);
                let mut batch_began = std::time::Instant::now();
                // The bytes the source had read from the system when the batch timer was last
                // looked at: see `due` below.
                let mut read_seen: Option<u64> = None;
                loop {
                    if stop.load(Ordering::Relaxed) {
                        interrupted = true;
                        break;
                    }
                    let f = match source.next_or_idle() {
                        Ok(Next::Frame(f)) => f,
                        Ok(Next::Idle(now)) => {
                            // A quiet live link: flush what is pending and let the clocks move
                            // on (live capture time is the wall clock), so timers still fire.
                            let s = clock.idle(now);
                            settle(&mut bufs, &mut waiting, s);
                            let watermark = clock.now();
                            let st = source.stats();
                            reader_drops.store(
                                st.dropped_kernel + st.dropped_interface + st.hep_dropped_full + behind.get(),
                                Ordering::Relaxed,
                            );
                            reader_frames.store(frame_no, Ordering::Relaxed);
                            if !send(&mut bufs, start_ts.unwrap_or(watermark), watermark, false) {
                                break;
                            }
                            count = 0;
                            start_ts = None;
                            batch_began = std::time::Instant::now();
                            continue;
                        }
                        Ok(Next::End) => break,
                        Err(e) => {
                            result = Err(e);
                            break;
                        }
                    };
                    frame_no += 1;
                    if let Some(b) = &mut bpf {
                        if !b.pass(f.link, f.data) {
                            bpf_rejected += 1;
                            continue;
                        }
                    }
                    if max_frames.is_some_and(|m| passed >= m) {
                        break;
                    }
                    passed += 1;
                    if let Some(tap) = &tap {
                        tap.offer(f.to_owned(), live);
                    }
                    let (s, ts) = clock.frame(f.ts);
                    settle(&mut bufs, &mut waiting, s);
                    if let Some(c) = &mut frame_cursor {
                        if !c.takes(frame_no) {
                            if c.done(frame_no) {
                                break;
                            }
                            // Let go: its time still moved the clock, as in the first reading.
                            if clock.is_pending() {
                                waiting = None;
                            }
                            continue;
                        }
                    }
                    let hash = if n > 1 || only_flows.is_some() {
                        decode::shard_hash(f.link, f.data)
                    } else {
                        0
                    };
                    if only_flows.as_ref().is_some_and(|o| !o.takes(hash)) {
                        // Let go: its time still moved the clock, as in the first reading.
                        if clock.is_pending() {
                            waiting = None;
                        }
                        continue;
                    }
                    start_ts.get_or_insert(ts);
                    let w = (hash % n as u64) as usize;
                    let share = &mut bufs[w];
                    let (chunk, start) = match f.shared {
                        Some(c) => {
                            // A handle wraps its chunk's bytes: the same address.
                            let at = c.as_ptr() as usize;
                            if share.chunks.last().map(|h| h.as_ptr() as usize) != Some(at) {
                                share.chunks.push(bytes::Bytes::from_owner(c.clone()));
                            }
                            let i = share.chunks.len() - 1;
                            (i as u32, f.data.as_ptr() as usize - at)
                        }
                        None => {
                            let start = share.data.len();
                            share.data.extend_from_slice(f.data);
                            (IN_DATA, start)
                        }
                    };
                    if clock.is_pending() {
                        waiting = Some((w, share.frames.len()));
                    }
                    share.frames.push(FrameMeta {
                        no: frame_no,
                        ts,
                        raw: f.ts,
                        link: f.link,
                        orig_len: f.orig_len,
                        chunk,
                        start,
                        len: f.data.len(),
                    });
                    count += 1;
                    // A batch also goes when it is 100 ms old: live, and from a pipe fed as packets
                    // come (`tcpdump -U -w - | sipscope …`), whose frames would otherwise wait for
                    // a full batch. A regular file's batches are cut by count alone
                    // (`Source::paced`), so that its results never depend on how fast it was read.
                    // The timer is looked at when bytes came from the system since the last look
                    // (a pipe fed as packets come, a live capture: every frame): a file read at
                    // full speed takes most frames from the reader's buffer and fills a batch
                    // long before 100 ms. Reading the clock for every frame cost 4 % of the mixed
                    // bench capture's run (4.7 M frames).
                    let fresh = match source.progress() {
                        Some((done, _)) => read_seen.replace(done) != Some(done),
                        None => true,
                    };
                    let due = count >= batch_size
                        || (paced && fresh && batch_began.elapsed() >= flush_after);
                    if due && waiting.is_none() {
                        let watermark = clock.now();
                        batch_began = std::time::Instant::now();
                        if live {
                            let st = source.stats();
                            reader_drops.store(
                                st.dropped_kernel + st.dropped_interface + st.hep_dropped_full + behind.get(),
                                Ordering::Relaxed,
                            );
                        }
                        if let (Some(p), Some((done, _))) = (&mut progress, source.progress()) {
                            p(Some(done));
                        }
                        reader_frames.store(frame_no, Ordering::Relaxed);
                        if !send(&mut bufs, start_ts.unwrap_or(watermark), watermark, false) {
                            break;
                        }
                        count = 0;
                        start_ts = None;
                    }
                }
                reader_frames.store(frame_no, Ordering::Relaxed);
                // A frame still waiting: nothing confirmed it.
                let s = clock.end();
                settle(&mut bufs, &mut waiting, s);
                let watermark = clock.now();
                let _ = send(&mut bufs, start_ts.unwrap_or(watermark), watermark, true);
                if let Some(p) = &mut progress {
                    p(None);
                }
                let mut st = source.stats();
                st.dropped_behind = behind.get();
                let uncompiled = bpf.map_or(0, |b| b.uncompiled);
                (result, st, interrupted, clock, (bpf_rejected, uncompiled))
            },
        );

        // Decode + reassembly workers.
        let mut workers = Vec::new();
        for (rx, txs) in worker_rx.into_iter().zip(corr_tx) {
            let mut rcfg = cfg.reassembly.clone();
            rcfg.tls_keys = Some(tls_keys.clone());
            let mcfg = cfg.media.clone();
            let gaps = tcp_gaps.clone();
            let only_calls = cfg.only_calls.clone();
            workers.push(scope.spawn(move || {
                let mut gaps_said = 0u64;
                let mut decoder = Decoder::default();
                let mut reasm = Reassembler::new(rcfg);
                let mut media = MediaTracker::new(mcfg);
                let mut sip_rejected = 0u64;
                let mut first: Option<Ts> = None;
                let mut last: Option<Ts> = None;
                let mut units: Vec<SipBytes> = Vec::new();
                let mut idx_of_frame: (u64, u16) = (0, 0);
                // `warp`: the frame's (analysis time, own stamp) when these differ.
                let mut to_msgs = |units: &mut Vec<SipBytes>,
                                   frame: u64,
                                   warp: Option<(Ts, Ts)>,
                                   outs: &mut Vec<Vec<Msg>>,
                                   rejected: &mut u64| {
                    for u in units.drain(..) {
                        if idx_of_frame.0 != frame {
                            idx_of_frame = (frame, 0);
                        }
                        if only_calls.as_ref().is_some_and(|o| !o.may_hold(&u.bytes)) {
                            // Not one of the calls: counted as the parse would, not parsed.
                            if crate::sip::message::parses(&u.bytes) {
                                idx_of_frame.1 = idx_of_frame.1.saturating_add(1);
                            } else {
                                *rejected += 1;
                            }
                            continue;
                        }
                        match SipMessage::parse(u.bytes, u.datagram) {
                            Ok(sip) => {
                                idx_of_frame.1 = idx_of_frame.1.saturating_add(1);
                                if let Some(only) = &only_calls {
                                    if !sip.call_id().is_some_and(|c| only.contains(c)) {
                                        continue;
                                    }
                                }
                                let shard = call_shard(&sip, m);
                                outs[shard].push(Msg {
                                    frame,
                                    idx: idx_of_frame.1,
                                    ts: u.ts,
                                    // A message of this frame (not one a HEP header stamped).
                                    raw_ts: warp.filter(|w| w.0 == u.ts).map(|w| w.1),
                                    src: u.src,
                                    dst: u.dst,
                                    carrier: u.carrier,
                                    ip_reassembled: u.ip_reassembled,
                                    node: u.node,
                                    sip,
                                });
                            }
                            Err(_) => *rejected += 1,
                        }
                    }
                };
                // Each correlator's share of the last batch: the next starts with that capacity.
                let mut sizes = vec![0usize; m];
                for batch in rx.iter() {
                    let mut outs: Vec<Vec<Msg>> =
                        sizes.iter().map(|&c| Vec::with_capacity(c)).collect();
                    let data = bytes::Bytes::from(batch.share.data);
                    let chunks = batch.share.chunks;
                    let metas = batch.share.frames;
                    let first_frame = metas.first().map_or(0, |f| f.no);
                    reasm.tick(batch.start_ts, &mut units);
                    to_msgs(&mut units, first_frame, None, &mut outs, &mut sip_rejected);
                    for meta in &metas {
                        first = Some(first.map_or(meta.ts, |t: Ts| t.min(meta.ts)));
                        last = Some(last.map_or(meta.ts, |t: Ts| t.max(meta.ts)));
                        let f = Frame {
                            ts: meta.ts,
                            link: meta.link,
                            data: match chunks.get(meta.chunk as usize) {
                                Some(c) => c.slice(meta.start..meta.start + meta.len),
                                None => data.slice(meta.start..meta.start + meta.len),
                            },
                            orig_len: meta.orig_len,
                        };
                        if let Some(p) = decoder.decode_owned(f) {
                            if let Some(p) = reasm.packet(p, &mut units) {
                                media.packet(&p, meta.no);
                            }
                            let warp = (meta.raw != meta.ts).then_some((meta.ts, meta.raw));
                            to_msgs(&mut units, meta.no, warp, &mut outs, &mut sip_rejected);
                        }
                    }
                    if batch.end {
                        decoder.finish();
                        reasm.finish(&mut units);
                        let lastf = metas.last().map_or(u64::MAX, |f| f.no);
                        to_msgs(&mut units, lastf, None, &mut outs, &mut sip_rejected);
                    }
                    let g = reasm.stats.tcp.gaps;
                    if g > gaps_said {
                        gaps.fetch_add(g - gaps_said, Ordering::Relaxed);
                        gaps_said = g;
                    }
                    // Streams expire at the batch's watermark (the same for every shard), so
                    // when a stream ends depends on capture time only, as for calls.
                    media.expire(batch.watermark);
                    let mut live = media.progress(batch.watermark);
                    let mut streams = media.take_done();
                    if batch.end {
                        streams.extend(media.finish());
                    }
                    let mut rtcp = media.take_rtcp();
                    for (size, msgs) in sizes.iter_mut().zip(&outs) {
                        *size = msgs.len();
                    }
                    for (j, msgs) in outs.into_iter().enumerate() {
                        let _ = txs[j].send(MsgBatch {
                            watermark: batch.watermark,
                            msgs,
                            streams: if j == 0 {
                                std::mem::take(&mut streams)
                            } else {
                                Vec::new()
                            },
                            live: if j == 0 {
                                std::mem::take(&mut live)
                            } else {
                                Vec::new()
                            },
                            rtcp: if j == 0 {
                                std::mem::take(&mut rtcp)
                            } else {
                                Vec::new()
                            },
                            end: batch.end,
                        });
                    }
                    if batch.end {
                        break;
                    }
                }
                (
                    decoder.stats,
                    reasm.stats,
                    media.rtp.stats.clone(),
                    sip_rejected,
                    first,
                    last,
                )
            }));
        }

        // Correlators.
        let mut correlators = Vec::new();
        for (rxs, tx) in corr_rx.into_iter().zip(sink_tx) {
            let mut ccfg = cfg.correlator.clone();
            ccfg.max_calls = (ccfg.max_calls / m).max(1);
            correlators.push(scope.spawn(move || {
                let mut c = Correlator::new(ccfg);
                'batches: loop {
                    let mut parts: Vec<Vec<Msg>> = Vec::with_capacity(rxs.len());
                    let mut streams = Vec::new();
                    let mut live = Vec::new();
                    let mut rtcp = Vec::new();
                    let mut watermark = Ts::ZERO;
                    let mut end = false;
                    for rx in &rxs {
                        match rx.recv() {
                            Ok(b) => {
                                watermark = watermark.max(b.watermark);
                                end |= b.end;
                                parts.push(b.msgs);
                                streams.extend(b.streams);
                                live.extend(b.live);
                                rtcp.extend(b.rtcp);
                            }
                            Err(_) => break 'batches,
                        }
                    }
                    let merged = merge_in_order(parts);
                    let mut outputs: Vec<Output> = streams
                        .into_iter()
                        .map(|s| Output::Rtp(Box::new(s)))
                        .collect();
                    if !live.is_empty() {
                        live.sort_by_key(|s| (s.first, s.src, s.dst, s.ssrc));
                        outputs.push(Output::RtpLive(live));
                    }
                    outputs.extend(rtcp.into_iter().map(|r| Output::Rtcp(Box::new(r))));
                    for msg in merged {
                        c.on_msg(msg, &mut outputs);
                    }
                    if end {
                        c.finish(watermark, &mut outputs);
                    } else {
                        c.tick(watermark, &mut outputs);
                    }
                    if tx.send(OutBatch { outputs, watermark }).is_err() || end {
                        break;
                    }
                }
                c.stats
            }));
        }

        // Sink, on this thread: one batch from every correlator, merged, in order.
        let mut ticked = Ts::ZERO;
        'sink: loop {
            let mut merged = Vec::new();
            let mut wm = Ts::ZERO;
            for rx in &sink_rx {
                match rx.recv() {
                    Ok(b) => {
                        merged.extend(b.outputs);
                        wm = wm.max(b.watermark);
                    }
                    Err(_) => break 'sink,
                }
            }
            sort_outputs(&mut merged);
            let had_outputs = !merged.is_empty();
            for o in merged {
                sink(o);
            }
            // A tick when capture time moved, and after any output: an idle pipe's batch
            // (`FileSource::next_or_idle`) keeps the time but its messages must reach the
            // user now (sinks flush on ticks).
            if wm > ticked || (had_outputs && wm == ticked && wm != Ts::ZERO) {
                ticked = wm;
                sink(Output::Tick(
                    wm,
                    crate::correlate::Health {
                        dropped: drops.load(Ordering::Relaxed),
                        frames: frames_read.load(Ordering::Relaxed),
                        tcp_gaps: tcp_gaps.load(Ordering::Relaxed),
                    },
                ));
            }
        }

        let mut stats = RunStats {
            tls_keys: tls_keys.stats(),
            ..RunStats::default()
        };
        for w in workers {
            if let Ok((d, r, rtp, rej, first, last)) = w.join() {
                stats.rtp += &rtp;
                stats.decode += &d;
                stats.reassembly += &r;
                stats.sip_rejected += rej;
                stats.first_ts = match (stats.first_ts, first) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                stats.last_ts = match (stats.last_ts, last) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
            }
        }
        for c in correlators {
            if let Ok(cs) = c.join() {
                stats.correlate += &cs;
            }
        }
        match reader.join() {
            Ok((result, cap, interrupted, clock, (rejected, uncompiled))) => {
                stats.capture = cap;
                stats.bpf_rejected = rejected;
                stats.bpf_uncompiled = uncompiled;
                stats.interrupted = interrupted;
                stats.ts_outliers = clock.ahead;
                stats.ts_behind = clock.behind;
                stats.ts_steps = clock.steps;
                result.map(|_| stats)
            }
            Err(_) => Ok(stats),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(frame: u64, idx: u16) -> Msg {
        let text = "OPTIONS sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n\
                    Call-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
        Msg {
            frame,
            idx,
            ts: Ts::ZERO,
            raw_ts: None,
            src: "10.0.0.1:5060".parse().unwrap(),
            dst: "10.0.0.2:5060".parse().unwrap(),
            carrier: crate::reassembly::Carrier::Udp,
            ip_reassembled: false,
            node: None,
            sip: SipMessage::parse(bytes::Bytes::from(text), true).unwrap(),
        }
    }

    /// The workers' lists come out as one list in capture order, as a stable sort of their
    /// concatenation would give it: interleaved lists, an empty one, several messages in one
    /// frame, and a list out of order.
    #[test]
    fn a_batch_is_merged_in_capture_order() {
        let lists: Vec<Vec<(u64, u16)>> = vec![
            vec![(1, 1), (4, 1), (4, 2), (9, 1)],
            vec![],
            vec![(2, 1), (3, 1), (10, 1)],
            vec![(8, 1), (5, 1), (4, 3)],
        ];
        let mut want: Vec<(u64, u16)> = lists.concat();
        want.sort();
        let parts = lists
            .iter()
            .map(|l| l.iter().map(|&(f, i)| msg(f, i)).collect())
            .collect();
        let got: Vec<(u64, u16)> = merge_in_order(parts).map(|m| (m.frame, m.idx)).collect();
        assert_eq!(got, want);
        assert_eq!(merge_in_order(Vec::new()).count(), 0);
        assert_eq!(merge_in_order(vec![vec![msg(3, 1)]]).count(), 1);
    }

    /// A regular file's batches are cut by count alone: a read that stalls now and then (a
    /// loaded machine, a network disk, valgrind) gives the batches of a fast one, hence the same
    /// sweeps, ticks and order of calls. Cut by the wall clock, they moved with the stalls.
    #[test]
    fn a_file_read_slowly_gives_the_batches_of_a_fast_read() {
        use crate::capture::file::FileSource;
        use crate::capture::FrameRef;
        struct Slow {
            inner: FileSource,
            n: u64,
        }
        impl Source for Slow {
            fn next_frame(&mut self) -> Result<Option<FrameRef<'_>>, CaptureError> {
                self.n += 1;
                if self.n % 100 == 30 {
                    std::thread::sleep(std::time::Duration::from_millis(120));
                }
                self.inner.next_frame()
            }
            fn stats(&self) -> CaptureStats {
                self.inner.stats()
            }
            // Bytes come from the system before every frame, as from a slow disk.
            fn progress(&self) -> Option<(u64, u64)> {
                Some((self.n, 0))
            }
        }
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples/kamailio-sipp-outcomes.pcap");
        let read = |slow: bool| {
            let inner = FileSource::open(&path).unwrap();
            let src: Box<dyn Source> = if slow {
                Box::new(Slow { inner, n: 0 })
            } else {
                Box::new(inner)
            };
            let cfg = PipelineConfig {
                batch: 64,
                ..PipelineConfig::default()
            };
            let mut seen = Vec::new();
            run(
                src,
                &cfg,
                Arc::new(AtomicBool::new(false)),
                None,
                |o| match o {
                    Output::Tick(t, _) => seen.push(format!("tick {t:?}")),
                    Output::Call(c) => seen.push(format!("call {}", c.call_id)),
                    _ => {}
                },
            )
            .unwrap();
            seen
        };
        let fast = read(false);
        assert!(
            fast.iter().filter(|s| s.starts_with("tick")).count() >= 6,
            "{fast:?}"
        );
        assert!(fast.iter().any(|s| s.starts_with("call")));
        assert_eq!(read(true), fast);
    }
}
