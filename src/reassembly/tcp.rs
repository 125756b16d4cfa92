//! TCP stream reassembly, one direction at a time.
//!
//! Takes segments (sequence number, flags, payload) in capture order and delivers the byte stream
//! in sequence order: out-of-order segments are buffered, retransmitted and overlapping bytes are
//! delivered once, and when a hole does not fill (the buffered bytes pass `max_buffered`, or at the
//! end of the capture) the stream skips it and reports a gap so the consumer can resynchronise.
//! Sequence numbers are mapped to 64-bit stream offsets with wrap-around arithmetic
//! ([`SeqNumber`]), so a stream may be longer than 4 GiB.
//!
//! Bound: the out-of-order store never holds more than `max_buffered` after a segment returns,
//! counting each island's bytes plus [`ISLAND_COST`] for its entry, so a flood of one-byte
//! islands is bounded in memory too. Past the budget the holes are given up from the first on,
//! each island reached delivered, until the store fits again: the bytes held are never thrown
//! away, only the holes are skipped (counted in [`TcpStats::gaps`] and `gap_bytes`). Each island
//! is inserted and removed once, O(log n) each, so the work per segment is O(log n) amortised.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::seq::SeqNumber;
use crate::decode::tcp_flags;

/// What the stream hands to its consumer, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk {
    Data(Bytes),
    /// `len` bytes were never seen (lost by the capture or the network).
    Gap(u64),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TcpStats {
    pub segments: u64,
    pub retransmitted: u64,
    pub out_of_order: u64,
    pub overlaps: u64,
    pub gaps: u64,
    pub gap_bytes: u64,
}

impl std::ops::AddAssign<&TcpStats> for TcpStats {
    fn add_assign(&mut self, o: &TcpStats) {
        self.segments += o.segments;
        self.retransmitted += o.retransmitted;
        self.out_of_order += o.out_of_order;
        self.overlaps += o.overlaps;
        self.gaps += o.gaps;
        self.gap_bytes += o.gap_bytes;
    }
}

/// What one out-of-order island costs beyond its bytes: its map entry (key, `Bytes` handle,
/// share of the tree node) and its allocation's header.
pub const ISLAND_COST: usize = 64;

pub struct HalfStream {
    /// Sequence number of the next byte to deliver, once known.
    next: Option<SeqNumber>,
    /// Stream offset of `next`.
    offset: u64,
    /// Out-of-order segments by stream offset.
    pending: BTreeMap<u64, Bytes>,
    /// What `pending` costs: its bytes plus [`ISLAND_COST`] per island.
    pending_bytes: usize,
    max_buffered: usize,
    pub fin: bool,
}

impl HalfStream {
    pub fn new(max_buffered: usize) -> HalfStream {
        HalfStream {
            next: None,
            offset: 0,
            pending: BTreeMap::new(),
            pending_bytes: 0,
            max_buffered,
            fin: false,
        }
    }

    /// What the out-of-order store holds: its bytes plus [`ISLAND_COST`] per island; at most
    /// `max_buffered` between calls.
    pub fn buffered(&self) -> usize {
        self.pending_bytes
    }

    /// Adds one segment and appends what became deliverable to `out`.
    pub fn segment(
        &mut self,
        seq: u32,
        flags: u8,
        payload: Bytes,
        stats: &mut TcpStats,
        out: &mut Vec<Chunk>,
    ) {
        stats.segments += 1;
        let seq = SeqNumber(seq);
        if flags & tcp_flags::SYN != 0 {
            // A SYN (or a new connection reusing the tuple) restarts the stream.
            if self.next.is_some() && self.next != Some(seq + 1) {
                self.pending.clear();
                self.pending_bytes = 0;
            }
            self.next = Some(seq + 1);
            return;
        }
        if flags & tcp_flags::FIN != 0 {
            self.fin = true;
        }
        if payload.is_empty() {
            return;
        }
        let next = *self.next.get_or_insert(seq);
        let rel = seq - next;
        let len = payload.len() as i64;
        if rel + len <= 0 {
            stats.retransmitted += 1;
            return;
        }
        let (start, data) = if rel < 0 {
            stats.overlaps += 1;
            (self.offset, payload.slice((-rel) as usize..))
        } else {
            (self.offset + rel as u64, payload)
        };
        if start > self.offset {
            stats.out_of_order += 1;
            // Keep the longer copy when the same offset arrives twice.
            let keep = match self.pending.get(&start) {
                Some(old) => old.len() < data.len(),
                None => true,
            };
            if keep {
                // A copy: a slice would keep the whole shared frame chunk alive while it waits.
                let data = Bytes::copy_from_slice(&data);
                if let Some(old) = self.pending.insert(start, data.clone()) {
                    self.pending_bytes -= old.len() + ISLAND_COST;
                }
                self.pending_bytes += data.len() + ISLAND_COST;
            } else {
                stats.retransmitted += 1;
            }
            // Each pass delivers at least the first island, so this ends, and each island
            // leaves once: O(log n) amortised per segment.
            while self.pending_bytes > self.max_buffered && !self.pending.is_empty() {
                self.skip_gap(stats, out);
            }
            return;
        }
        self.deliver(data, out);
        self.drain(stats, out);
    }

    fn deliver(&mut self, data: Bytes, out: &mut Vec<Chunk>) {
        self.offset += data.len() as u64;
        if let Some(n) = self.next.as_mut() {
            *n = *n + data.len();
        }
        out.push(Chunk::Data(data));
    }

    fn drain(&mut self, stats: &mut TcpStats, out: &mut Vec<Chunk>) {
        while let Some((&start, _)) = self.pending.first_key_value() {
            if start > self.offset {
                break;
            }
            let Some((_, data)) = self.pending.pop_first() else {
                break;
            };
            self.pending_bytes -= data.len() + ISLAND_COST;
            let end = start + data.len() as u64;
            if end <= self.offset {
                stats.retransmitted += 1;
                continue;
            }
            let skip = (self.offset - start) as usize;
            if skip > 0 {
                stats.overlaps += 1;
            }
            self.deliver(data.slice(skip..), out);
        }
    }

    /// Gives up on the hole before the first buffered segment.
    fn skip_gap(&mut self, stats: &mut TcpStats, out: &mut Vec<Chunk>) {
        if let Some((&start, _)) = self.pending.first_key_value() {
            let gap = start.saturating_sub(self.offset);
            if gap > 0 {
                stats.gaps += 1;
                stats.gap_bytes += gap;
                out.push(Chunk::Gap(gap));
                self.offset = start;
                if let Some(n) = self.next.as_mut() {
                    *n = *n + gap as usize;
                }
            }
            self.drain(stats, out);
        }
    }

    /// Drops the out-of-order segments held (a byte budget above ran out); returns the bytes
    /// freed. The hole they leave is skipped later as a gap, like any loss.
    pub fn drop_pending(&mut self) -> usize {
        let freed = self.pending_bytes;
        self.pending.clear();
        self.pending_bytes = 0;
        freed
    }

    /// End of capture (or of the connection): deliver everything buffered, gaps included.
    pub fn flush(&mut self, stats: &mut TcpStats, out: &mut Vec<Chunk>) {
        while !self.pending.is_empty() {
            self.skip_gap(stats, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(out: &[Chunk]) -> Vec<u8> {
        let mut v = Vec::new();
        for c in out {
            if let Chunk::Data(d) = c {
                v.extend_from_slice(d);
            }
        }
        v
    }

    #[test]
    fn reorders_and_drops_retransmissions_across_wrap() {
        let mut s = HalfStream::new(1 << 20);
        let mut st = TcpStats::default();
        let mut out = Vec::new();
        let isn = u32::MAX - 5;
        s.segment(isn, tcp_flags::SYN, Bytes::new(), &mut st, &mut out);
        let base = isn.wrapping_add(1);
        s.segment(
            base.wrapping_add(4),
            0,
            Bytes::from_static(b"EFGH"),
            &mut st,
            &mut out,
        );
        s.segment(
            base.wrapping_add(8),
            0,
            Bytes::from_static(b"IJ"),
            &mut st,
            &mut out,
        );
        assert!(out.is_empty());
        s.segment(base, 0, Bytes::from_static(b"ABCDEF"), &mut st, &mut out);
        s.segment(base, 0, Bytes::from_static(b"ABCD"), &mut st, &mut out);
        assert_eq!(data(&out), b"ABCDEFGHIJ");
        assert_eq!(st.retransmitted, 1);
        assert_eq!(st.out_of_order, 2);
    }

    #[test]
    fn gives_up_on_a_hole_when_the_buffer_is_full() {
        // Room for two islands of up to 4 bytes.
        let mut s = HalfStream::new(2 * (ISLAND_COST + 4));
        let mut st = TcpStats::default();
        let mut out = Vec::new();
        s.segment(100, 0, Bytes::from_static(b"AB"), &mut st, &mut out);
        s.segment(110, 0, Bytes::from_static(b"XYZ"), &mut st, &mut out);
        s.segment(120, 0, Bytes::from_static(b"V"), &mut st, &mut out);
        assert_eq!(data(&out), b"AB");
        s.segment(130, 0, Bytes::from_static(b"UVWXY"), &mut st, &mut out);
        assert!(out.contains(&Chunk::Gap(8)));
        assert_eq!(data(&out), b"ABXYZ");
        assert_eq!(st.gaps, 1);
        assert!(s.buffered() <= 2 * (ISLAND_COST + 4));
    }

    /// Islands after many holes (fuzz finding framing/crash-tcp-pending-above-cap: skipping
    /// only the first hole left 4,928 bytes held with a 4,096 budget). After every segment the
    /// store is within its budget; every island's bytes are delivered in order; the holes
    /// given up are counted as gaps, byte for byte.
    #[test]
    fn stays_within_the_budget_across_many_holes() {
        let budget = 4096;
        let mut s = HalfStream::new(budget);
        let mut st = TcpStats::default();
        let mut out = Vec::new();
        s.segment(999, tcp_flags::SYN, Bytes::new(), &mut st, &mut out);
        // Byte 0 never comes; islands of 1..=40 bytes, each after a hole of 1..=7 bytes, sent
        // from the far end back, then interleaved, so holes stay open behind every island.
        let mut islands = Vec::new();
        let mut at = 1u32;
        for i in 0..3000u32 {
            at += 1 + i % 7;
            let len = 1 + (i * 13) % 40;
            islands.push((at, len));
            at += len;
        }
        let mut order: Vec<usize> = (0..islands.len()).collect();
        order.sort_by_key(|&i| (i % 5, std::cmp::Reverse(i)));
        let mut sent = 0u64;
        for &i in &order {
            let (off, len) = islands[i];
            let payload: Vec<u8> = (0..len).map(|k| ((off + k) % 251) as u8).collect();
            s.segment(1000 + off, 0, Bytes::from(payload), &mut st, &mut out);
            sent += u64::from(len);
            assert!(s.buffered() <= budget, "{} > {budget}", s.buffered());
        }
        assert!(st.gaps > 1, "{st:?}");
        s.flush(&mut st, &mut out);
        assert_eq!(s.buffered(), 0);
        // What was delivered, gaps included, is the stream from byte 0 to the last island's end,
        // each delivered byte at its own offset, once.
        let mut pos = 0u64;
        let mut delivered = 0u64;
        let mut gap_bytes = 0u64;
        for c in &out {
            match c {
                Chunk::Data(d) => {
                    for (k, b) in d.iter().enumerate() {
                        assert_eq!(
                            u64::from(*b),
                            (pos + k as u64) % 251,
                            "at {}",
                            pos + k as u64
                        );
                    }
                    pos += d.len() as u64;
                    delivered += d.len() as u64;
                }
                Chunk::Gap(n) => {
                    pos += n;
                    gap_bytes += n;
                }
            }
        }
        assert_eq!(pos, u64::from(at));
        assert_eq!(gap_bytes, st.gap_bytes);
        assert_eq!(gap_bytes + delivered, u64::from(at));
        // Islands given up early come again late: none is delivered twice; some late ones are
        // refused as retransmissions, the rest fill holes still open.
        assert!(delivered <= sent);
        assert_eq!(
            st.gaps,
            out.iter().filter(|c| matches!(c, Chunk::Gap(_))).count() as u64
        );
    }

    /// Single-byte islands each cost their entry too: a flood of them is bounded in memory.
    #[test]
    fn one_byte_islands_are_charged_their_entry() {
        let budget = 100 * (ISLAND_COST + 1);
        let mut s = HalfStream::new(budget);
        let mut st = TcpStats::default();
        let mut out = Vec::new();
        s.segment(0, tcp_flags::SYN, Bytes::new(), &mut st, &mut out);
        for i in 0..100_000u32 {
            s.segment(10 + 2 * i, 0, Bytes::from_static(b"x"), &mut st, &mut out);
            assert!(s.pending.len() <= 100);
        }
        assert!(st.gaps >= 99_900, "{st:?}");
    }
}
