//! Which TCP segments carry a wanted message: one direction's stream followed as the reassembly
//! stage follows it ([`HalfStream`] for order, [`SipFramer`] for message boundaries), each
//! segment's byte range in the stream remembered until every byte of it has been framed. A
//! segment that overlaps a wanted message's bytes is taken whole (its other bytes too: the file
//! re-reads the same); one that carries none of them is left out.
//!
//! Offsets: the framer says how many bytes it has consumed after each push (pushed − buffered);
//! the messages of one push tile that span in order, so each is placed back from its end by its
//! length. Bytes the framer skipped (CRLF keep-alives, garbage) are counted into the first
//! message of the push, so a segment holding only a keep-alive before a wanted message may come
//! with it; a wanted byte is never missed. Sequence numbers are placed within ±2 GiB of the
//! stream's current position (longer jumps are not TCP).
//!
//! Bounded as the reassembly stage is: the out-of-order store by [`HalfStream`]'s budget, the
//! partial message by [`SipFramer`]'s limits; segments waiting for their bytes to be framed by
//! the export's queue ([`super`]), which decides the oldest when it is full.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use rustc_hash::FxHashMap;

use crate::decode::tcp_flags;
use crate::reassembly::framing::{FramingStats, SipFramer};
use crate::reassembly::tcp::{Chunk, HalfStream, TcpStats};
use crate::sip::SipMessage;

/// Wanted message ranges remembered for retransmitted segments that repeat their bytes.
const RECENT: usize = 64;

/// A decision: the queue entry `.0` goes to the outputs `.1` (none: left out).
pub type Decision = (u64, Vec<u32>);

pub struct DirTrack {
    stream: HalfStream,
    framer: SipFramer,
    /// (sequence number, stream offset) of one byte: how sequence numbers map to offsets.
    anchor: Option<(u32, u64)>,
    /// Stream offset of the end of what was handed to the framer (gaps included).
    pushed: u64,
    /// Segments not yet wholly framed: (start, queue entry) → (end, outputs so far).
    segs: BTreeMap<(u64, u64), (u64, Vec<u32>)>,
    recent: VecDeque<(u64, u64, Vec<u32>)>,
    tcp: TcpStats,
    framing: FramingStats,
    chunks: Vec<Chunk>,
    msgs: Vec<Bytes>,
}

fn add(to: &mut Vec<u32>, groups: &[u32]) {
    for g in groups {
        if !to.contains(g) {
            to.push(*g);
        }
    }
}

impl Default for DirTrack {
    fn default() -> Self {
        let r = crate::reassembly::ReassemblyConfig::default();
        DirTrack {
            stream: HalfStream::new(r.tcp_max_buffered),
            framer: SipFramer::default(),
            anchor: None,
            pushed: 0,
            segs: BTreeMap::new(),
            recent: VecDeque::new(),
            tcp: TcpStats::default(),
            framing: FramingStats::default(),
            chunks: Vec::new(),
            msgs: Vec::new(),
        }
    }
}

impl DirTrack {
    /// Segments waiting for their bytes to be framed.
    pub fn waiting(&self) -> usize {
        self.segs.len()
    }

    /// One segment of this direction, queue entry `entry`. A segment with payload is decided
    /// (in `out`) once its bytes are framed; `ids` gives the outputs that want a Call-ID.
    pub fn segment(
        &mut self,
        entry: u64,
        seq: u32,
        flags: u8,
        payload: Bytes,
        ids: &FxHashMap<String, Vec<u32>>,
        out: &mut Vec<Decision>,
    ) {
        if flags & tcp_flags::SYN != 0 {
            let next = seq.wrapping_add(1);
            if self.anchor.is_some() && self.seq_at(self.pushed) != next {
                // A new connection on the same addresses: what waits is decided as it stands.
                self.reset(out);
            }
            self.anchor = Some((next, self.pushed));
        }
        if !payload.is_empty() {
            let (aseq, aoff) = *self.anchor.get_or_insert((seq, self.pushed));
            let start = (aoff as i64 + i64::from(seq.wrapping_sub(aseq) as i32)).max(0) as u64;
            let end = start + payload.len() as u64;
            self.segs.insert((start, entry), (end, Vec::new()));
        }
        self.chunks.clear();
        self.stream
            .segment(seq, flags, payload, &mut self.tcp, &mut self.chunks);
        self.frame_chunks(ids);
        self.settle(self.consumed(), out);
    }

    /// Frames the stream's bytes the last step gave (`self.chunks`) and places the messages.
    fn frame_chunks(&mut self, ids: &FxHashMap<String, Vec<u32>>) {
        let chunks = std::mem::take(&mut self.chunks);
        for c in &chunks {
            match c {
                Chunk::Data(b) => {
                    let before = self.consumed();
                    self.msgs.clear();
                    self.framer.push(b, &mut self.framing, &mut self.msgs);
                    self.pushed += b.len() as u64;
                    self.place(before, ids);
                }
                Chunk::Gap(n) => {
                    self.framer.gap(&mut self.framing);
                    self.pushed += n;
                }
            }
        }
        self.chunks = chunks;
    }

    /// End of input (or of the connection): what is buffered is framed and every segment
    /// decided.
    pub fn finish(&mut self, ids: &FxHashMap<String, Vec<u32>>, out: &mut Vec<Decision>) {
        self.chunks.clear();
        self.stream.flush(&mut self.tcp, &mut self.chunks);
        self.frame_chunks(ids);
        let before = self.consumed();
        self.msgs.clear();
        self.framer.finish(&mut self.framing, &mut self.msgs);
        self.place(before, ids);
        self.settle(u64::MAX, out);
    }

    fn reset(&mut self, out: &mut Vec<Decision>) {
        self.settle(u64::MAX, out);
        let recent = std::mem::take(&mut self.recent);
        *self = DirTrack::default();
        self.recent = recent;
    }

    fn seq_at(&self, off: u64) -> u32 {
        match self.anchor {
            Some((s, o)) => s.wrapping_add(off.wrapping_sub(o) as u32),
            None => 0,
        }
    }

    fn consumed(&self) -> u64 {
        self.pushed.saturating_sub(self.framer.buffered() as u64)
    }

    /// The messages of the last push (in `msgs`) tile `[before, consumed)`: each wanted one
    /// marks the segments its bytes are in.
    fn place(&mut self, before: u64, ids: &FxHashMap<String, Vec<u32>>) {
        let mut end = self.consumed();
        let msgs = std::mem::take(&mut self.msgs);
        for (i, m) in msgs.iter().enumerate().rev() {
            let mut start = end.saturating_sub(m.len() as u64);
            if i == 0 {
                start = start.min(before);
            }
            let groups = SipMessage::parse(m.clone(), false).ok().and_then(|s| {
                s.call_id()
                    .and_then(|c| ids.get(String::from_utf8_lossy(c).as_ref()).cloned())
            });
            if let Some(g) = groups {
                self.mark(start, end, &g);
                if self.recent.len() >= RECENT {
                    self.recent.pop_front();
                }
                self.recent.push_back((start, end, g));
            }
            end = start;
        }
        self.msgs = msgs;
    }

    fn mark(&mut self, start: u64, end: u64, groups: &[u32]) {
        for (_, (e, g)) in self.segs.range_mut(..(end, 0)) {
            if *e > start {
                add(g, groups);
            }
        }
    }

    /// Decides every segment whose bytes are all framed (before `upto`).
    fn settle(&mut self, upto: u64, out: &mut Vec<Decision>) {
        let done: Vec<(u64, u64)> = self
            .segs
            .range(..(upto, 0))
            .filter(|(_, (e, _))| *e <= upto)
            .map(|(k, _)| *k)
            .collect();
        for k in done {
            if let Some((e, mut g)) = self.segs.remove(&k) {
                // A retransmission of bytes already framed: the messages they belonged to.
                for (s, re, rg) in &self.recent {
                    if *s < e && *re > k.0 {
                        add(&mut g, rg);
                    }
                }
                out.push((k.1, g));
            }
        }
    }
}
