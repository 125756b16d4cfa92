//! TCP stream reassembly, one direction at a time.
//!
//! Takes segments (sequence number, flags, payload) in capture order and delivers the byte stream
//! in sequence order: out-of-order segments are buffered, retransmitted and overlapping bytes are
//! delivered once, and when a hole does not fill (the buffered bytes pass `max_buffered`, or at the
//! end of the capture) the stream skips it and reports a gap so the consumer can resynchronise.
//! Sequence numbers are mapped to 64-bit stream offsets with wrap-around arithmetic
//! ([`SeqNumber`]), so a stream may be longer than 4 GiB.

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

pub struct HalfStream {
    /// Sequence number of the next byte to deliver, once known.
    next: Option<SeqNumber>,
    /// Stream offset of `next`.
    offset: u64,
    /// Out-of-order segments by stream offset.
    pending: BTreeMap<u64, Bytes>,
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
                    self.pending_bytes -= old.len();
                }
                self.pending_bytes += data.len();
            } else {
                stats.retransmitted += 1;
            }
            if self.pending_bytes > self.max_buffered {
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
            self.pending_bytes -= data.len();
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
        let mut s = HalfStream::new(4);
        let mut st = TcpStats::default();
        let mut out = Vec::new();
        s.segment(100, 0, Bytes::from_static(b"AB"), &mut st, &mut out);
        s.segment(110, 0, Bytes::from_static(b"XYZ"), &mut st, &mut out);
        s.segment(113, 0, Bytes::from_static(b"W"), &mut st, &mut out);
        s.segment(114, 0, Bytes::from_static(b"V"), &mut st, &mut out);
        assert!(out.contains(&Chunk::Gap(8)));
        assert_eq!(data(&out), b"ABXYZWV");
        assert_eq!(st.gaps, 1);
    }
}
