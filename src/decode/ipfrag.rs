//! IPv4 and IPv6 fragment reassembly (RFC 791 §3.2, RFC 8200 §4.5).
//!
//! Takes fragments keyed by (source, destination, identification, protocol) and returns the whole
//! payload once every byte from 0 to the last fragment's end has arrived.
//!
//! Bounded, every drop counted in [`DefragStats`]:
//! - at most `max_datagrams` pending datagrams; when full the oldest is evicted (O(1) amortised:
//!   a queue in arrival order with lazy deletion);
//! - each at most `max_size` bytes (65,535 + a header's worth): a fragment ending past it drops
//!   its datagram (`too_large`);
//! - each holds its *distinct* bytes once, in one buffer the size of the highest end seen, with a
//!   merged coverage map: a fragment that brings no new byte is dropped (`duplicates`) in
//!   O(log n), overlapping bytes keep their first copy (RFC 791 leaves the choice; the datagram
//!   is counted in `overlaps`), and insertion is O(log n) amortised;
//! - at most `max_fragments` fragments that brought new bytes per datagram (`too_many`);
//! - fragments that contradict each other (two different ends, bytes past the announced end)
//!   drop their datagram (`inconsistent`, RFC 5722's spirit);
//! - at most `budget` bytes pending over all datagrams: past it the oldest are evicted
//!   (`evicted`, which also counts table-full evictions);
//! - each pending at most `timeout` of capture time (then dropped, `timed_out`).

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::ops::Bound;

use bytes::Bytes;
use rustc_hash::FxHashMap;

use crate::time::{Nanos, Ts, NANOS_PER_SEC};

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    pub proto: u8,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DefragStats {
    pub completed: u64,
    /// Datagrams that never got all their fragments (timed out or pending at the end).
    pub timed_out: u64,
    /// Datagrams pushed out, oldest first, because the table was full or the pending bytes
    /// passed the budget.
    pub evicted: u64,
    /// Completed datagrams some of whose fragments overlapped (first copy kept).
    pub overlaps: u64,
    /// Datagrams dropped because a fragment ended past `max_size`.
    pub too_large: u64,
    /// Fragments that brought no byte not already held (dropped; the datagram goes on).
    pub duplicates: u64,
    /// Datagrams dropped because their fragments contradict each other.
    pub inconsistent: u64,
    /// Datagrams dropped for having more than `max_fragments` fragments.
    pub too_many: u64,
}

/// Fixed cost of a pending datagram, and of one coverage range, in the byte budget.
const PENDING_OVERHEAD: usize = 128;
const RANGE_OVERHEAD: usize = 48;

struct Pending {
    /// Arrival number: the eviction queue's entry for this datagram carries the same.
    seq: u64,
    first_ts: Ts,
    /// The datagram's bytes at their offsets, as far as the highest end seen; holes are zero.
    buf: Vec<u8>,
    /// Covered ranges, start → end: disjoint and never adjacent (merged on insertion).
    covered: BTreeMap<usize, usize>,
    /// The end announced by the last fragment (MF = 0).
    total: Option<usize>,
    fragments: usize,
    overlapped: bool,
}

impl Pending {
    fn cost(&self) -> usize {
        PENDING_OVERHEAD + self.buf.capacity() + RANGE_OVERHEAD * self.covered.len()
    }

    fn complete(&self) -> bool {
        let Some(total) = self.total else {
            return false;
        };
        let mut it = self.covered.iter();
        match (it.next(), it.next()) {
            (Some((&0, &end)), None) => end >= total,
            (None, _) => total == 0,
            _ => false,
        }
    }

    fn highest_end(&self) -> usize {
        self.covered.last_key_value().map_or(0, |(_, e)| *e)
    }

    /// Copies the bytes of `[offset, offset + data.len())` not yet covered; returns how many.
    /// `max_size` caps the buffer's growth.
    fn insert(&mut self, offset: usize, data: &[u8], max_size: usize) -> usize {
        let end = offset + data.len();
        if data.is_empty() {
            return 0;
        }
        // A range that holds the whole fragment: a duplicate, found in O(log n).
        let pred = self
            .covered
            .range(..=offset)
            .next_back()
            .map(|(s, e)| (*s, *e));
        if let Some((_, e)) = pred {
            if e >= end {
                return 0;
            }
        }
        if self.buf.len() < end {
            if end > self.buf.capacity() {
                // Amortised growth, never past the datagram's bound.
                let want = end.max((self.buf.capacity() * 2).min(max_size));
                self.buf.reserve_exact(want - self.buf.len());
            }
            self.buf.resize(end, 0);
        }
        let mut new_start = offset;
        let mut new_end = end;
        let mut cur = offset;
        if let Some((s, e)) = pred {
            if e >= offset {
                new_start = s;
                if e > offset {
                    self.overlapped = true;
                }
                cur = e;
            }
        }
        let mut added = 0;
        // Every later range that starts inside or right at the end of the new one merges into it.
        while let Some((s, e)) = self
            .covered
            .range((Bound::Excluded(offset), Bound::Included(end)))
            .next()
            .map(|(s, e)| (*s, *e))
        {
            if s > cur {
                self.buf[cur..s].copy_from_slice(&data[cur - offset..s - offset]);
                added += s - cur;
            }
            if s < end {
                self.overlapped = true;
            }
            cur = cur.max(e);
            new_end = new_end.max(e);
            self.covered.remove(&s);
        }
        if cur < end {
            self.buf[cur..end].copy_from_slice(&data[cur - offset..]);
            added += end - cur;
        }
        self.covered.insert(new_start, new_end);
        added
    }
}

pub struct IpDefrag {
    table: FxHashMap<FragKey, Pending>,
    /// Pending datagrams in arrival order, (seq, key); entries whose datagram left are skipped.
    order: VecDeque<(u64, FragKey)>,
    next_seq: u64,
    max_datagrams: usize,
    max_size: usize,
    max_fragments: usize,
    budget: usize,
    /// Bytes held by every pending datagram, as [`Pending::cost`] counts them.
    pending_bytes: usize,
    timeout: Nanos,
    last_sweep: Ts,
    stats: DefragStats,
}

impl Default for IpDefrag {
    fn default() -> Self {
        IpDefrag::new(4096, 65_535 + 40, 30 * NANOS_PER_SEC)
    }
}

/// Default bound on the bytes held by the pending datagrams of one table.
pub const DEFAULT_BUDGET: usize = 32 << 20;
/// Default bound on the fragments (that brought new bytes) of one datagram. A 64 KiB datagram
/// over a 576-byte MTU is about 120 fragments.
pub const DEFAULT_MAX_FRAGMENTS: usize = 2048;

impl IpDefrag {
    pub fn new(max_datagrams: usize, max_size: usize, timeout: Nanos) -> IpDefrag {
        IpDefrag::with_limits(
            max_datagrams,
            max_size,
            timeout,
            DEFAULT_MAX_FRAGMENTS,
            DEFAULT_BUDGET,
        )
    }

    /// A table with explicit bounds; the byte budget is raised to hold at least two datagrams
    /// of `max_size`.
    pub fn with_limits(
        max_datagrams: usize,
        max_size: usize,
        timeout: Nanos,
        max_fragments: usize,
        budget: usize,
    ) -> IpDefrag {
        IpDefrag {
            table: FxHashMap::default(),
            order: VecDeque::new(),
            next_seq: 0,
            max_datagrams: max_datagrams.max(1),
            max_size,
            max_fragments: max_fragments.max(1),
            budget: budget.max(2 * (max_size + PENDING_OVERHEAD + RANGE_OVERHEAD)),
            pending_bytes: 0,
            timeout,
            last_sweep: Ts::ZERO,
            stats: DefragStats::default(),
        }
    }

    pub fn stats(&self) -> DefragStats {
        self.stats.clone()
    }

    pub fn pending(&self) -> usize {
        self.table.len()
    }

    /// Bytes held by the pending datagrams (never above the budget once `push` returns).
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    fn remove(&mut self, key: &FragKey) -> Option<Pending> {
        let p = self.table.remove(key)?;
        self.pending_bytes -= p.cost();
        Some(p)
    }

    /// Evicts the oldest pending datagram other than `keep`; false when there is none.
    fn evict_oldest(&mut self, keep: Option<&FragKey>) -> bool {
        let mut kept = None;
        let mut done = false;
        while let Some((seq, key)) = self.order.pop_front() {
            match self.table.get(&key) {
                Some(p) if p.seq == seq => {
                    if Some(&key) == keep {
                        kept = Some((seq, key));
                        continue;
                    }
                    self.remove(&key);
                    self.stats.evicted += 1;
                    done = true;
                    break;
                }
                _ => {}
            }
        }
        if let Some(k) = kept {
            self.order.push_front(k);
        }
        done
    }

    /// Adds one fragment; returns the reassembled payload when this fragment completes it.
    pub fn push(
        &mut self,
        ts: Ts,
        key: FragKey,
        offset: usize,
        more: bool,
        data: Bytes,
    ) -> Option<Bytes> {
        if ts.since(self.last_sweep) > NANOS_PER_SEC {
            self.sweep(ts);
        }
        let end = offset + data.len();
        if end > self.max_size {
            self.stats.too_large += 1;
            self.remove(&key);
            return None;
        }
        if !self.table.contains_key(&key) {
            if self.table.len() >= self.max_datagrams {
                self.evict_oldest(None);
            }
            let seq = self.next_seq;
            self.next_seq += 1;
            let p = Pending {
                seq,
                first_ts: ts,
                buf: Vec::new(),
                covered: BTreeMap::new(),
                total: None,
                fragments: 0,
                overlapped: false,
            };
            self.pending_bytes += p.cost();
            self.table.insert(key, p);
            self.order.push_back((seq, key));
            // Lazy deletion leaves stale entries: drop them once they outnumber the live ones.
            if self.order.len() > 2 * self.table.len() + 64 {
                let table = &self.table;
                self.order
                    .retain(|(s, k)| table.get(k).is_some_and(|p| p.seq == *s));
            }
        }
        let max_size = self.max_size;
        let p = self.table.get_mut(&key)?;
        let before = p.cost();
        let consistent = match (more, p.total) {
            (false, Some(t)) => t == end,
            (false, None) => p.highest_end() <= end,
            (true, Some(t)) => end <= t,
            (true, None) => true,
        };
        if !consistent {
            self.stats.inconsistent += 1;
            self.remove(&key);
            return None;
        }
        if !more && p.total.is_none() {
            p.total = Some(end);
            if p.buf.capacity() < end {
                p.buf.reserve_exact(end - p.buf.len());
            }
        }
        let added = p.insert(offset, &data, max_size);
        if added == 0 {
            self.stats.duplicates += u64::from(!data.is_empty());
        } else {
            p.fragments += 1;
        }
        let too_many = p.fragments > self.max_fragments;
        let complete = p.complete();
        let after = p.cost();
        self.pending_bytes = self.pending_bytes - before + after;
        if too_many {
            self.stats.too_many += 1;
            self.remove(&key);
            return None;
        }
        if complete {
            let p = self.remove(&key)?;
            if p.overlapped {
                self.stats.overlaps += 1;
            }
            self.stats.completed += 1;
            let total = p.total.unwrap_or(0);
            let mut buf = p.buf;
            buf.truncate(total);
            return Some(Bytes::from(buf));
        }
        while self.pending_bytes > self.budget {
            if !self.evict_oldest(Some(&key)) {
                break;
            }
        }
        None
    }

    fn sweep(&mut self, now: Ts) {
        self.last_sweep = now;
        let timeout = self.timeout;
        let before = self.table.len();
        let mut freed = 0;
        self.table.retain(|_, p| {
            let keep = now.since(p.first_ts) <= timeout;
            if !keep {
                freed += p.cost();
            }
            keep
        });
        self.pending_bytes -= freed;
        self.stats.timed_out += (before - self.table.len()) as u64;
    }

    /// End of input: everything still pending is incomplete.
    pub fn expire_all(&mut self) {
        self.stats.timed_out += self.table.len() as u64;
        self.table.clear();
        self.order.clear();
        self.pending_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn key() -> FragKey {
        FragKey {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            id: 7,
            proto: 17,
        }
    }

    #[test]
    fn reassembles_out_of_order_with_overlap() {
        let mut d = IpDefrag::default();
        let t = Ts(0);
        assert!(d
            .push(t, key(), 16, false, Bytes::from_static(b"QRSTUVWX"))
            .is_none());
        assert!(d
            .push(t, key(), 0, true, Bytes::from_static(b"ABCDEFGH"))
            .is_none());
        let whole = d
            .push(t, key(), 4, true, Bytes::from_static(b"efghIJKLMNOP"))
            .unwrap();
        // The first copy of each byte is kept.
        assert_eq!(&whole[..], b"ABCDEFGHIJKLMNOPQRSTUVWX");
        assert_eq!(d.stats().overlaps, 1);
        assert_eq!(d.pending(), 0);
        assert_eq!(d.pending_bytes(), 0);
    }

    #[test]
    fn a_fragment_filling_several_holes_merges_them() {
        let mut d = IpDefrag::default();
        let t = Ts(0);
        d.push(t, key(), 8, true, Bytes::from_static(b"IJ"));
        d.push(t, key(), 12, true, Bytes::from_static(b"MN"));
        d.push(t, key(), 20, false, Bytes::from_static(b"UV"));
        let whole = d
            .push(
                t,
                key(),
                0,
                true,
                Bytes::from_static(b"ABCDEFGHijKLmnOPQRST"),
            )
            .unwrap();
        assert_eq!(&whole[..], b"ABCDEFGHIJKLMNOPQRSTUV");
    }

    #[test]
    fn incomplete_datagrams_time_out_and_are_counted() {
        let mut d = IpDefrag::new(2, 65_575, 30 * NANOS_PER_SEC);
        d.push(Ts(0), key(), 0, true, Bytes::from_static(b"ABCDEFGH"));
        let mut k2 = key();
        k2.id = 8;
        d.push(Ts(1), k2, 0, true, Bytes::from_static(b"x"));
        let mut k3 = key();
        k3.id = 9;
        d.push(Ts(2), k3, 0, true, Bytes::from_static(b"y"));
        assert_eq!(d.stats().evicted, 1);
        d.push(
            Ts(40 * NANOS_PER_SEC),
            key(),
            8,
            true,
            Bytes::from_static(b"z"),
        );
        assert_eq!(d.stats().timed_out, 2);
        d.expire_all();
        assert_eq!(d.stats().timed_out, 3);
    }

    /// F5: 200k copies of one 1400-byte first fragment held every copy (296 MiB for one
    /// datagram). Now the datagram holds its distinct bytes once and each copy is a counted
    /// duplicate.
    #[test]
    fn duplicate_fragments_are_held_once() {
        let mut d = IpDefrag::default();
        let frag = Bytes::from(vec![b'a'; 1400]);
        for i in 0..20_000 {
            assert!(d.push(Ts(i), key(), 0, true, frag.clone()).is_none());
            assert!(d.pending_bytes() < 4 * 1400, "{}", d.pending_bytes());
        }
        assert_eq!(d.stats().duplicates, 19_999);
        assert_eq!(d.pending(), 1);
    }

    /// F6: the last fragment first, then many tiny fragments: each used to re-walk every part
    /// (quadratic). A coverage map merged on insertion keeps one range per run of bytes.
    #[test]
    fn tiny_fragments_after_the_last_are_linear() {
        let mut d = IpDefrag::default();
        d.push(Ts(0), key(), 60_000, false, Bytes::from_static(b"zzzzzzzz"));
        for i in 0..2_000usize {
            // Every fragment overlaps the one before by half: each adds 4 bytes.
            d.push(Ts(1), key(), i * 4, true, Bytes::from_static(b"yyyyyyyy"));
            let p = d.table.get(&key()).unwrap();
            assert_eq!(p.covered.len(), 2);
        }
        for _ in 0..10_000 {
            d.push(Ts(1), key(), 8, true, Bytes::from_static(b"yyyyyyyy"));
        }
        assert_eq!(d.stats().duplicates, 10_000);
        // More fragments than the cap drop the datagram, counted.
        for i in 0..100usize {
            d.push(Ts(1), key(), 30_000 + i * 8, true, Bytes::from_static(b"x"));
        }
        assert_eq!(d.stats().too_many, 1);
        assert_eq!(d.pending(), 1);
    }

    /// S7: a fragment that ends past 65,575 bytes drops its datagram, counted.
    #[test]
    fn fragments_past_the_size_bound_are_counted() {
        let mut d = IpDefrag::default();
        d.push(Ts(0), key(), 0, true, Bytes::from_static(b"ABCDEFGH"));
        d.push(Ts(0), key(), 65_528, true, Bytes::from(vec![0; 100]));
        assert_eq!(d.stats().too_large, 1);
        assert_eq!(d.pending(), 0);
        assert_eq!(d.pending_bytes(), 0);
    }

    #[test]
    fn contradicting_ends_drop_the_datagram() {
        let mut d = IpDefrag::default();
        d.push(
            Ts(0),
            key(),
            0,
            true,
            Bytes::from_static(b"ABCDEFGHIJKLMNOP"),
        );
        // A "last" fragment that ends before bytes already held.
        assert!(d
            .push(Ts(0), key(), 0, false, Bytes::from_static(b"ABCDEFGH"))
            .is_none());
        assert_eq!(d.stats().inconsistent, 1);
        assert_eq!(d.pending(), 0);
    }

    /// The pending bytes never pass the budget: the oldest datagrams are evicted, counted.
    #[test]
    fn pending_bytes_stay_under_the_budget() {
        let budget = 1 << 20;
        let mut d = IpDefrag::with_limits(100_000, 65_575, 30 * NANOS_PER_SEC, 2048, budget);
        for id in 0..1000u32 {
            let mut k = key();
            k.id = id;
            // A first fragment and one far away: the buffer spans 60 KB.
            d.push(Ts(0), k, 0, true, Bytes::from(vec![1; 1480]));
            d.push(Ts(0), k, 60_000, true, Bytes::from(vec![2; 1480]));
            assert!(d.pending_bytes() <= budget, "{}", d.pending_bytes());
        }
        assert!(d.stats().evicted > 900, "{:?}", d.stats());
        let held: usize = d.table.values().map(Pending::cost).sum();
        assert_eq!(held, d.pending_bytes());
    }
}
