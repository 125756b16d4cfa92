//! IPv4 and IPv6 fragment reassembly (RFC 791 §3.2, RFC 8200 §4.5).
//!
//! Takes fragments keyed by (source, destination, identification, protocol) and returns the whole
//! payload once every byte from 0 to the last fragment's end has arrived. Bounded: at most
//! `max_datagrams` pending datagrams (the oldest is evicted and counted when full), each at most
//! `max_size` bytes, each pending at most `timeout` of capture time (then dropped and counted as
//! incomplete). Overlapping fragments keep the first copy of each byte and are counted.

use std::net::IpAddr;

use bytes::{Bytes, BytesMut};
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
    /// Datagrams pushed out because the table was full.
    pub evicted: u64,
    pub overlaps: u64,
    pub too_large: u64,
}

struct Pending {
    first_ts: Ts,
    /// (offset, bytes), kept sorted by offset.
    parts: Vec<(usize, Bytes)>,
    total: Option<usize>,
}

pub struct IpDefrag {
    table: FxHashMap<FragKey, Pending>,
    max_datagrams: usize,
    max_size: usize,
    timeout: Nanos,
    last_sweep: Ts,
    stats: DefragStats,
}

impl Default for IpDefrag {
    fn default() -> Self {
        IpDefrag::new(4096, 65_535 + 40, 30 * NANOS_PER_SEC)
    }
}

impl IpDefrag {
    pub fn new(max_datagrams: usize, max_size: usize, timeout: Nanos) -> IpDefrag {
        IpDefrag {
            table: FxHashMap::default(),
            max_datagrams: max_datagrams.max(1),
            max_size,
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
        if offset + data.len() > self.max_size {
            self.stats.too_large += 1;
            if self.table.remove(&key).is_some() {
                self.stats.timed_out += 1;
            }
            return None;
        }
        if !self.table.contains_key(&key) && self.table.len() >= self.max_datagrams {
            if let Some(oldest) = self
                .table
                .iter()
                .min_by_key(|(_, p)| p.first_ts)
                .map(|(k, _)| *k)
            {
                self.table.remove(&oldest);
                self.stats.evicted += 1;
            }
        }
        let entry = self.table.entry(key).or_insert_with(|| Pending {
            first_ts: ts,
            parts: Vec::new(),
            total: None,
        });
        if !more {
            entry.total = Some(offset + data.len());
        }
        let at = entry.parts.partition_point(|(o, _)| *o < offset);
        // A copy: a slice would keep the whole shared frame chunk alive while the datagram waits.
        entry
            .parts
            .insert(at, (offset, Bytes::copy_from_slice(&data)));
        let total = entry.total?;
        // Complete when the sorted parts cover [0, total) without a hole.
        let mut covered = 0;
        for (o, b) in &entry.parts {
            if *o > covered {
                return None;
            }
            covered = covered.max(o + b.len());
        }
        if covered < total {
            return None;
        }
        let pending = self.table.remove(&key)?;
        let mut out = BytesMut::with_capacity(total);
        let mut overlapped = false;
        for (o, b) in &pending.parts {
            let have = out.len();
            if o + b.len() <= have {
                overlapped = true;
                continue;
            }
            let skip = have.saturating_sub(*o);
            if skip > 0 {
                overlapped = true;
            }
            out.extend_from_slice(&b[skip..]);
        }
        out.truncate(total);
        if overlapped {
            self.stats.overlaps += 1;
        }
        self.stats.completed += 1;
        Some(out.freeze())
    }

    fn sweep(&mut self, now: Ts) {
        self.last_sweep = now;
        let timeout = self.timeout;
        let before = self.table.len();
        self.table.retain(|_, p| now.since(p.first_ts) <= timeout);
        self.stats.timed_out += (before - self.table.len()) as u64;
    }

    /// End of input: everything still pending is incomplete.
    pub fn expire_all(&mut self) {
        self.stats.timed_out += self.table.len() as u64;
        self.table.clear();
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
            .push(t, key(), 4, true, Bytes::from_static(b"EFGHIJKLMNOP"))
            .unwrap();
        assert_eq!(&whole[..], b"ABCDEFGHIJKLMNOPQRSTUVWX");
        assert_eq!(d.stats().overlaps, 1);
        assert_eq!(d.pending(), 0);
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
}
