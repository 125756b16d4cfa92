//! The one media join: SDP announcements by address, to tie RTP streams to their calls.
//!
//! RFC 3264: RTP sent to an announced address and port belongs to the call that announced it.
//! Ports are reused from call to call, and many calls may announce one address at once (a desk
//! phone with a fixed RTP port, a media server or SBC anchoring media, a sipp lab), so each
//! address keeps its announcements ordered by time in a B-tree: a stream belongs to the latest
//! announcement of its address made at or before its first packet (or to the first one, when the
//! SDP came later). Adding, choosing and forgetting an announcement each cost O(log n) whatever
//! the number of calls that share an address.
//!
//! RTCP (RFC 3550 §11) goes to the RTP port + 1, unless the SDP says otherwise: `a=rtcp-mux`
//! (RFC 5761) puts it on the RTP port itself, `a=rtcp:` (RFC 3605) on a port of its own. Those
//! explicit RTCP ports are kept in a second tree of the same shape ([`MediaIndex::rtcp_call`]).
//!
//! Bounded: a call's announcements go when the session forgets the call (it has closed and its
//! streams are in); beyond `max` announcements the oldest address entries are dropped and counted.

use foldhash::{HashMap, HashMapExt};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::analysis::rtp::StreamStats;
use crate::correlate::MediaInfo;
use crate::time::Ts;

/// Where an announcement sits in its address's tree: capture time, then position in the capture,
/// then an arrival number so that two announcements never collide.
type Key = (Ts, u64, u16, u64);

#[derive(Debug)]
pub struct MediaIndex {
    at: HashMap<SocketAddr, BTreeMap<Key, Arc<MediaInfo>>>,
    /// Announcements by their explicit RTCP address (`a=rtcp:` on another port than RTP + 1).
    rtcp_at: HashMap<SocketAddr, BTreeMap<Key, Arc<MediaInfo>>>,
    /// The entries each call made (and whether in `rtcp_at`), so a closed call's announcements
    /// go in O(k log n).
    by_call: HashMap<Arc<str>, Vec<(SocketAddr, Key, bool)>>,
    seq: u64,
    len: usize,
    max: usize,
    /// Announcements not kept because the index was full.
    pub dropped: u64,
}

impl Default for MediaIndex {
    fn default() -> Self {
        MediaIndex::with_capacity(2_000_000)
    }
}

impl MediaIndex {
    /// An index that holds at most `max` announcements.
    pub fn with_capacity(max: usize) -> MediaIndex {
        MediaIndex {
            at: HashMap::new(),
            rtcp_at: HashMap::new(),
            by_call: HashMap::new(),
            seq: 0,
            len: 0,
            max,
            dropped: 0,
        }
    }

    pub fn add(&mut self, m: Arc<MediaInfo>) {
        if self.len >= self.max {
            self.dropped += 1;
            return;
        }
        self.seq += 1;
        let key = (m.ts, m.frame, m.idx, self.seq);
        let addr = m.addr;
        let cid: Arc<str> = match self.by_call.get_key_value(m.call_id.as_str()) {
            Some((k, _)) => k.clone(),
            None => Arc::from(m.call_id.as_str()),
        };
        let entries = self.by_call.entry(cid).or_default();
        entries.push((addr, key, false));
        if let Some(p) = m.rtcp_port.filter(|p| *p != addr.port()) {
            let raddr = SocketAddr::new(addr.ip(), p);
            entries.push((raddr, key, true));
            self.rtcp_at
                .entry(raddr)
                .or_default()
                .insert(key, m.clone());
            self.len += 1;
        }
        self.at.entry(addr).or_default().insert(key, m);
        self.len += 1;
    }

    /// Forgets a call's announcements (it has closed and its streams are in).
    pub fn forget(&mut self, call_id: &str) {
        let Some(entries) = self.by_call.remove(call_id) else {
            return;
        };
        for (addr, key, rtcp) in entries {
            let map = if rtcp {
                &mut self.rtcp_at
            } else {
                &mut self.at
            };
            if let Some(tree) = map.get_mut(&addr) {
                if tree.remove(&key).is_some() {
                    self.len -= 1;
                }
                if tree.is_empty() {
                    map.remove(&addr);
                }
            }
        }
    }

    /// A call's media addresses, each with the signalling endpoint that announced it.
    pub fn announced(&self, call_id: &str) -> Vec<(SocketAddr, SocketAddr)> {
        let Some(entries) = self.by_call.get(call_id) else {
            return Vec::new();
        };
        let mut v: Vec<(SocketAddr, SocketAddr)> = entries
            .iter()
            .filter(|e| !e.2)
            .filter_map(|(addr, key, _)| self.at.get(addr)?.get(key))
            .map(|m| (m.addr, m.announced_by))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Announcements held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The announcement of `addr` that a stream beginning at `t` belongs to.
    pub fn pick(&self, addr: &SocketAddr, t: Ts) -> Option<&MediaInfo> {
        Self::pick_in(&self.at, addr, t)
    }

    fn pick_in<'a>(
        map: &'a HashMap<SocketAddr, BTreeMap<Key, Arc<MediaInfo>>>,
        addr: &SocketAddr,
        t: Ts,
    ) -> Option<&'a MediaInfo> {
        let tree = map.get(addr)?;
        tree.range(..=(t, u64::MAX, u16::MAX, u64::MAX))
            .next_back()
            .or_else(|| tree.iter().next())
            .map(|(_, m)| &**m)
    }

    /// The announcement that a stream from `src` to `dst` beginning at `first` belongs to: the
    /// receiver's SDP names where RTP goes; symmetric RTP also sends from there.
    pub fn owner(&self, src: SocketAddr, dst: SocketAddr, first: Ts) -> Option<&MediaInfo> {
        self.pick(&dst, first).or_else(|| self.pick(&src, first))
    }

    /// The call a stream from `src` to `dst` that began at `first` belongs to.
    pub fn call_of(&self, src: SocketAddr, dst: SocketAddr, first: Ts) -> Option<&str> {
        self.owner(src, dst, first).map(|m| m.call_id.as_str())
    }

    /// The call an RTCP datagram from `src` to `dst` at `t` belongs to: the receiver's, then the
    /// sender's, address as an explicit RTCP port (`a=rtcp:`), as the RTP port itself
    /// (`a=rtcp-mux`), then as the RTP port + 1 (RFC 3550 §11; also with mux offered). O(log n)
    /// each.
    pub fn rtcp_call(&self, src: SocketAddr, dst: SocketAddr, t: Ts) -> Option<&str> {
        let by_port = |a: &SocketAddr| {
            Self::pick_in(&self.rtcp_at, a, t)
                .or_else(|| self.pick(a, t).filter(|m| m.rtcp_port == Some(a.port())))
                .or_else(|| {
                    let rtp = SocketAddr::new(a.ip(), a.port().checked_sub(1)?);
                    // Mux offered but not agreed (RFC 5761 §5.1.1) still sends it there.
                    self.pick(&rtp, t)
                        .filter(|m| m.rtcp_port.is_none_or(|p| p == rtp.port()))
                })
        };
        by_port(&dst)
            .or_else(|| by_port(&src))
            .map(|m| m.call_id.as_str())
    }

    /// Ties one stream to its call, learns its clock rate and codec from the SDP, and scores it.
    pub fn resolve(&self, s: &mut StreamStats) {
        let Some(m) = self.owner(s.src, s.dst, s.first) else {
            s.resolve_events(None);
            s.score(None);
            return;
        };
        let event_pt = m
            .payloads
            .iter()
            .find(|(_, _, enc)| enc.eq_ignore_ascii_case("telephone-event"))
            .map(|(pt, _, _)| *pt);
        s.resolve_events(event_pt);
        s.call_id = Some(m.call_id.clone());
        let mut encoding = None;
        if m.addr == s.dst {
            if let Some((_, clock, enc)) =
                m.payloads.iter().find(|(pt, _, _)| *pt == s.payload_type)
            {
                s.resolve_clock(*clock);
                encoding = Some(enc.as_str());
            }
        }
        s.score(encoding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::NANOS_PER_SEC;

    fn ann(call: &str, addr: &str, secs: i64, frame: u64) -> Arc<MediaInfo> {
        Arc::new(MediaInfo {
            frame,
            idx: 1,
            ts: Ts(secs * NANOS_PER_SEC),
            call_id: call.into(),
            addr: addr.parse().unwrap(),
            announced_by: "10.0.0.1:5060".parse().unwrap(),
            held: false,
            rtcp_port: None,
            payloads: vec![(0, 8000, "PCMU".into())],
        })
    }

    #[test]
    fn latest_announcement_before_the_stream_wins() {
        let mut ix = MediaIndex::default();
        ix.add(ann("a", "10.0.0.9:4000", 10, 1));
        ix.add(ann("b", "10.0.0.9:4000", 20, 2));
        let a: SocketAddr = "10.0.0.9:4000".parse().unwrap();
        let src: SocketAddr = "10.0.0.8:5000".parse().unwrap();
        assert_eq!(ix.call_of(src, a, Ts(15 * NANOS_PER_SEC)), Some("a"));
        assert_eq!(ix.call_of(src, a, Ts(25 * NANOS_PER_SEC)), Some("b"));
        // SDP seen after the stream began: the first announcement stands in.
        assert_eq!(ix.call_of(src, a, Ts(5 * NANOS_PER_SEC)), Some("a"));
        // Symmetric RTP from the announced address.
        assert_eq!(ix.call_of(a, src, Ts(25 * NANOS_PER_SEC)), Some("b"));
        ix.forget("b");
        assert_eq!(ix.call_of(src, a, Ts(25 * NANOS_PER_SEC)), Some("a"));
        assert_eq!(ix.len(), 1);
        ix.forget("a");
        assert!(ix.is_empty());
    }

    #[test]
    fn many_calls_on_one_address_stay_cheap_and_exact() {
        // 50,000 calls announce one media server address; each lookup and forget is a tree
        // operation, so this runs in well under a second even in a debug build.
        let mut ix = MediaIndex::default();
        let n = 50_000i64;
        for i in 0..n {
            ix.add(ann(&format!("c{i}"), "10.0.0.20:20000", i, i as u64));
        }
        let dst: SocketAddr = "10.0.0.20:20000".parse().unwrap();
        let src: SocketAddr = "10.1.0.1:7000".parse().unwrap();
        for i in (0..n).step_by(997) {
            let t = Ts(i * NANOS_PER_SEC + 1);
            assert_eq!(ix.call_of(src, dst, t), Some(format!("c{i}").as_str()));
        }
        for i in 0..n {
            ix.forget(&format!("c{i}"));
        }
        assert!(ix.is_empty());
    }

    #[test]
    fn a_full_index_counts_what_it_drops() {
        let mut ix = MediaIndex::with_capacity(2);
        for i in 0..5 {
            ix.add(ann(&format!("c{i}"), "10.0.0.20:20000", i, i as u64));
        }
        assert_eq!((ix.len(), ix.dropped), (2, 3));
    }
}
