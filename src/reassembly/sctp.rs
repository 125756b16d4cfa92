//! SIP over SCTP (RFC 4168): from SCTP packets to whole SIP messages.
//!
//! Takes the chunks of decoded SCTP packets (IP protocol 132; the 12-byte common header is read
//! by [`crate::decode`]) and yields [`SipBytes`], one per SIP message. Follows RFC 9260 (was 4960):
//! - Chunks are walked in order (several are bundled in one packet), each padded to 4 octets;
//!   a chunk whose length is below 4, or runs past the packet, ends the walk (counted
//!   `malformed`). Only DATA chunks (type 0) carry messages; the others are counted and skipped,
//!   but INIT/INIT ACK restart the association's state and ABORT/SHUTDOWN COMPLETE end it.
//!   I-DATA (RFC 8260) is counted, not decoded, and said at the end.
//! - A user message is the user data of one DATA chunk with B and E set, or of the fragments from
//!   a B chunk to an E chunk on consecutive TSNs (RFC 9260 §6.9 makes them consecutive), put
//!   together in TSN order however they arrived. Multi-homing is ignored: an association is its
//!   pair of addresses and ports (a path change looks like another association).
//! - A TSN seen before in the same direction (a retransmission) is dropped (counted `duplicates`),
//!   within a window of the last [`TSN_WINDOW`] TSNs; an older TSN is taken as a late copy too.
//! - SIP is recognised by its start line on any port, whatever the PPID (SIP has none assigned).
//!   A user message is one SIP message, but when a Content-Length ends it before its last byte
//!   and another start line follows, it is split there (a sender that packed several).
//!
//! Bounded: at most `max_assocs` associations are held (when full, the eighth least recently
//! used leave at once, counted `assoc_evicted`: amortised O(1) per new association); each
//! holds at most `assoc_budget` bytes of fragments (their bytes plus [`FRAG_COST`] each) and all
//! together at most `budget` (past it the associations holding the most are cut, down to three
//! quarters of it): what a cut drops is counted (`cut_by_budget`, `cut_by_budget_bytes`). A
//! fragmented message whose next fragment has not come when its direction is [`STALL_TSNS`] TSNs
//! further is given up (`incomplete`; swept every half of that, so at most 1.5 times as far,
//! and each fragment is looked at O(1) times), and so is one still partial when its association ends, idles out or is
//! evicted. A fragmented message that does not start like SIP is not buffered (its fragments
//! are only followed to their end). Several messages being put together at once (fragments
//! out of order) are each their own run, keyed by TSN in a B-tree: O(log n) per fragment.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use rustc_hash::FxHashMap;

use super::framing::{content_length, header_end};
use super::{Carrier, SipBytes};
use crate::decode::Packet;
use crate::sip::message::looks_like_sip;
use crate::time::{Nanos, Ts, NANOS_PER_SEC};

/// TSNs remembered per direction to recognise retransmissions.
pub const TSN_WINDOW: u32 = 4096;
/// A fragmented message whose next fragment is this many TSNs behind the newest is given up.
pub const STALL_TSNS: u32 = 2048;
/// Bytes a held fragment costs besides its data (its table entry), for the budgets.
pub const FRAG_COST: usize = 64;

#[derive(Clone, Debug)]
pub struct SctpConfig {
    pub max_assocs: usize,
    pub assoc_budget: usize,
    pub budget: usize,
    /// Associations idle this long (capture time) leave.
    pub idle: Nanos,
}

impl Default for SctpConfig {
    fn default() -> Self {
        SctpConfig {
            max_assocs: 8192,
            assoc_budget: 4 << 20,
            budget: 64 << 20,
            idle: 300 * NANOS_PER_SEC,
        }
    }
}

/// Counters of the SCTP stage; they merge across worker threads.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SctpStats {
    pub packets: u64,
    pub data_chunks: u64,
    /// Chunks other than DATA (INIT, SACK, HEARTBEAT, SHUTDOWN...): skipped.
    pub other_chunks: u64,
    /// I-DATA chunks (RFC 8260 interleaving): not decoded, any SIP in them is not seen.
    pub idata_chunks: u64,
    /// Chunks with an impossible length (the rest of their packet is not read).
    pub malformed: u64,
    /// DATA chunks whose TSN was seen before in that direction (retransmissions): dropped.
    pub duplicates: u64,
    /// User messages delivered whole, and of those, the ones put together from fragments.
    pub messages: u64,
    pub reassembled: u64,
    /// SIP messages handed on (more than the SIP user messages when one held several).
    pub sip: u64,
    /// User messages that are not SIP (S1AP, Diameter, M3UA... on the same capture).
    pub not_sip: u64,
    /// Fragmented messages given up: a fragment never came (stalled), or the association ended,
    /// idled out or was evicted while they were partial.
    pub incomplete: u64,
    /// Associations whose fragments were dropped to keep within a byte budget, and the bytes.
    pub cut_by_budget: u64,
    pub cut_by_budget_bytes: u64,
    pub associations: u64,
    /// Associations evicted from a full table (their partial messages are counted incomplete;
    /// a retransmission of theirs afterwards is read again).
    pub assoc_evicted: u64,
}

impl std::ops::AddAssign<&SctpStats> for SctpStats {
    fn add_assign(&mut self, o: &SctpStats) {
        self.packets += o.packets;
        self.data_chunks += o.data_chunks;
        self.other_chunks += o.other_chunks;
        self.idata_chunks += o.idata_chunks;
        self.malformed += o.malformed;
        self.duplicates += o.duplicates;
        self.messages += o.messages;
        self.reassembled += o.reassembled;
        self.sip += o.sip;
        self.not_sip += o.not_sip;
        self.incomplete += o.incomplete;
        self.cut_by_budget += o.cut_by_budget;
        self.cut_by_budget_bytes += o.cut_by_budget_bytes;
        self.associations += o.associations;
        self.assoc_evicted += o.assoc_evicted;
    }
}

/// The TSNs seen in one direction: a bitmap of the [`TSN_WINDOW`] below the newest (serial
/// number arithmetic, RFC 1982).
struct TsnWindow {
    max: Option<u32>,
    bits: Box<[u64; (TSN_WINDOW / 64) as usize]>,
}

impl TsnWindow {
    fn new() -> TsnWindow {
        TsnWindow {
            max: None,
            bits: Box::new([0; (TSN_WINDOW / 64) as usize]),
        }
    }

    fn bit(t: u32) -> (usize, u64) {
        let i = t % TSN_WINDOW;
        ((i / 64) as usize, 1u64 << (i % 64))
    }

    /// Records `t`; false when it was seen already (or is older than the window).
    fn insert(&mut self, t: u32) -> bool {
        let Some(m) = self.max else {
            self.max = Some(t);
            let (w, b) = Self::bit(t);
            self.bits[w] |= b;
            return true;
        };
        let ahead = t.wrapping_sub(m);
        if ahead != 0 && ahead < 1 << 31 {
            if ahead >= TSN_WINDOW {
                self.bits.fill(0);
            } else {
                for k in 1..=ahead {
                    let (w, b) = Self::bit(m.wrapping_add(k));
                    self.bits[w] &= !b;
                }
            }
            self.max = Some(t);
            let (w, b) = Self::bit(t);
            self.bits[w] |= b;
            return true;
        }
        if m.wrapping_sub(t) >= TSN_WINDOW {
            return false;
        }
        let (w, b) = Self::bit(t);
        let new = self.bits[w] & b == 0;
        self.bits[w] |= b;
        new
    }
}

struct Frag {
    end: bool,
    data: Bytes,
}

/// A message being put together from its B fragment on: its next TSN and the bytes so far. Kept
/// while undecided (`keep` None: no line end yet within [`DECIDE_LEN`] bytes), and once it
/// starts like SIP; a message that does not is let go as it passes.
struct Run {
    next: u32,
    buf: BytesMut,
    keep: Option<bool>,
}

/// Bytes of a message's start after which it is judged SIP or not even without a line end.
const DECIDE_LEN: usize = 8192;

/// Whether a message starting with `head` is SIP, once that can be told.
fn judge(head: &[u8]) -> Option<bool> {
    // A start line begins with a token character (a method, or `SIP/2.0`): binary protocols
    // (S1AP, NGAP, Diameter, M3UA) are told at their first byte.
    let token = |b: u8| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b);
    if head.first().is_some_and(|b| !token(*b)) {
        return Some(false);
    }
    (memchr::memchr(b'\n', head).is_some() || head.len() >= DECIDE_LEN)
        .then(|| looks_like_sip(head))
}

/// One direction of an association. Fragments and runs are keyed by their TSN relative to
/// `base` (half the TSN space before the first TSN seen), so that B-tree order is TSN order
/// across the wrap of the 32-bit TSN.
struct Dir {
    tsns: TsnWindow,
    base: Option<u32>,
    /// Fragments not yet taken by a run (waiting for the fragment before them, or their B).
    frags: BTreeMap<u32, Frag>,
    /// Messages started (their B fragment seen), by the relative TSN of their B.
    runs: BTreeMap<u32, Run>,
    /// Bytes of `frags` and `runs` (with [`FRAG_COST`] per entry).
    held: usize,
    /// The newest TSN when stale state was last swept.
    swept: u32,
}

impl Dir {
    fn new() -> Dir {
        Dir {
            tsns: TsnWindow::new(),
            base: None,
            frags: BTreeMap::new(),
            runs: BTreeMap::new(),
            held: 0,
            swept: 0,
        }
    }

    fn rel(&mut self, t: u32) -> u32 {
        let base = match self.base {
            Some(b) => b,
            None => {
                self.swept = t;
                *self.base.insert(t.wrapping_sub(1 << 31))
            }
        };
        t.wrapping_sub(base)
    }

    /// Drops what is partial; returns the bytes let go and whether a message was lost.
    fn clear(&mut self) -> (usize, bool) {
        let lost = !self.runs.is_empty() || !self.frags.is_empty();
        let bytes = self.held;
        self.runs = BTreeMap::new();
        self.frags = BTreeMap::new();
        self.held = 0;
        (bytes, lost)
    }

    /// Takes fragments into the run started at `rb` while they follow on; delivers the message
    /// when its E fragment comes.
    fn advance(&mut self, rb: u32, ctx: Ctx, stats: &mut SctpStats, out: &mut Vec<SipBytes>) {
        loop {
            let Some(next) = self.runs.get(&rb).map(|r| r.next) else {
                return;
            };
            let key = self.rel(next);
            let Some(f) = self.frags.remove(&key) else {
                return;
            };
            self.held -= FRAG_COST;
            let Some(r) = self.runs.get_mut(&rb) else {
                return;
            };
            // The data moves from the fragment to the run, or is let go.
            if r.keep != Some(false) {
                r.buf.extend_from_slice(&f.data);
                if r.keep.is_none() {
                    r.keep = judge(&r.buf);
                    if r.keep == Some(false) {
                        self.held -= r.buf.len() - f.data.len();
                        r.buf = BytesMut::new();
                    }
                }
            }
            if r.keep == Some(false) {
                self.held -= f.data.len();
            }
            r.next = next.wrapping_add(1);
            if f.end {
                if let Some(r) = self.runs.remove(&rb) {
                    self.held -= r.buf.len() + FRAG_COST;
                    stats.reassembled += 1;
                    if r.keep != Some(false) {
                        deliver(r.buf.freeze(), ctx, stats, out);
                    } else {
                        stats.messages += 1;
                        stats.not_sip += 1;
                    }
                }
                return;
            }
        }
    }

    /// Gives up runs and fragments [`STALL_TSNS`] behind the newest TSN (a fragment of theirs was
    /// lost for good): each run counts one incomplete message, orphan fragments one more.
    fn sweep(&mut self, stats: &mut SctpStats) {
        let Some(max) = self.tsns.max else {
            return;
        };
        self.swept = max;
        let limit = self.rel(max).saturating_sub(STALL_TSNS);
        let stale: Vec<u32> = self
            .runs
            .iter()
            .filter(|(_, r)| {
                let n = r.next.wrapping_sub(self.base.unwrap_or(0));
                n < limit
            })
            .map(|(k, _)| *k)
            .collect();
        for k in stale {
            if let Some(r) = self.runs.remove(&k) {
                self.held -= r.buf.len() + FRAG_COST;
                stats.incomplete += 1;
                // Its fragments after the gap (up to the next message's B) go with it.
                let from = self.rel(r.next);
                let upto = self.runs.range(k..).next().map_or(u32::MAX, |(n, _)| *n);
                let tail: Vec<u32> = self.frags.range(from..upto).map(|(t, _)| *t).collect();
                for t in tail {
                    if let Some(f) = self.frags.remove(&t) {
                        self.held -= f.data.len() + FRAG_COST;
                    }
                }
            }
        }
        let keep = self.frags.split_off(&limit);
        let old = std::mem::replace(&mut self.frags, keep);
        if !old.is_empty() {
            stats.incomplete += 1;
        }
        for f in old.values() {
            self.held -= f.data.len() + FRAG_COST;
        }
    }
}

type Ctx = (Ts, SocketAddr, SocketAddr, bool);

struct Assoc {
    /// Endpoint of direction 0 (the lower address and port).
    a: SocketAddr,
    b: SocketAddr,
    dirs: [Dir; 2],
    last_ts: Ts,
}

impl Assoc {
    fn held(&self) -> usize {
        self.dirs[0].held + self.dirs[1].held
    }
}

type Key = (SocketAddr, SocketAddr);

pub struct SctpReassembler {
    cfg: SctpConfig,
    assocs: FxHashMap<Key, Assoc>,
    held: usize,
    pub stats: SctpStats,
}

/// One DATA chunk's fields.
struct Data {
    tsn: u32,
    begin: bool,
    end: bool,
    payload: Bytes,
}

impl SctpReassembler {
    pub fn new(cfg: SctpConfig) -> SctpReassembler {
        SctpReassembler {
            cfg,
            assocs: FxHashMap::default(),
            held: 0,
            stats: SctpStats::default(),
        }
    }

    /// Bytes held over all associations.
    pub fn held(&self) -> usize {
        self.held
    }

    pub fn associations(&self) -> usize {
        self.assocs.len()
    }

    /// Takes one SCTP packet (its payload the chunks after the common header); appends the SIP
    /// messages it completes to `out`.
    pub fn packet(&mut self, p: &Packet, out: &mut Vec<SipBytes>) {
        self.stats.packets += 1;
        let src = SocketAddr::new(p.src, p.sport);
        let dst = SocketAddr::new(p.dst, p.dport);
        let (key, dir) = if src <= dst {
            ((src, dst), 0usize)
        } else {
            ((dst, src), 1usize)
        };
        let d = &p.payload;
        let mut off = 0usize;
        while off + 4 <= d.len() {
            let kind = d[off];
            let flags = d[off + 1];
            let len = u16::from_be_bytes([d[off + 2], d[off + 3]]) as usize;
            if len < 4 || off + len > d.len() {
                self.stats.malformed += 1;
                return;
            }
            match kind {
                0 => {
                    if len < 16 {
                        self.stats.malformed += 1;
                        return;
                    }
                    self.stats.data_chunks += 1;
                    let c = &d[off..off + len];
                    let data = Data {
                        tsn: u32::from_be_bytes([c[4], c[5], c[6], c[7]]),
                        begin: flags & 0x02 != 0,
                        end: flags & 0x01 != 0,
                        payload: d.slice(off + 16..off + len),
                    };
                    self.data(key, dir, p, data, out);
                }
                // INIT, INIT ACK (a new association on these addresses, or a restart), ABORT,
                // SHUTDOWN COMPLETE: what was partial is lost.
                1 | 2 | 6 | 14 => {
                    self.stats.other_chunks += 1;
                    self.end(key);
                }
                64 => self.stats.idata_chunks += 1,
                _ => self.stats.other_chunks += 1,
            }
            // Each chunk is padded to a multiple of 4 octets.
            off += (len + 3) & !3;
        }
        if off < d.len() && d[off..].iter().any(|b| *b != 0) {
            // Bytes after the last chunk that are neither a chunk header nor padding.
            self.stats.malformed += 1;
        }
    }

    fn data(&mut self, key: Key, dir: usize, p: &Packet, c: Data, out: &mut Vec<SipBytes>) {
        if !self.assocs.contains_key(&key) {
            if self.assocs.len() >= self.cfg.max_assocs {
                self.evict();
            }
            self.stats.associations += 1;
            self.assocs.insert(
                key,
                Assoc {
                    a: key.0,
                    b: key.1,
                    dirs: [Dir::new(), Dir::new()],
                    last_ts: p.ts,
                },
            );
        }
        let Some(a) = self.assocs.get_mut(&key) else {
            return;
        };
        a.last_ts = p.ts;
        let (from, to) = if dir == 0 { (a.a, a.b) } else { (a.b, a.a) };
        let d = &mut a.dirs[dir];
        if !d.tsns.insert(c.tsn) {
            self.stats.duplicates += 1;
            return;
        }
        let ctx = (p.ts, from, to, p.reassembled);
        let before = d.held;
        // Runs and fragments far behind the newest TSN will not complete: swept every half of
        // STALL_TSNS, whatever kind of chunk moves the TSNs on.
        let moved = c.tsn.wrapping_sub(d.swept);
        if (STALL_TSNS / 2..1 << 31).contains(&moved) && !(d.runs.is_empty() && d.frags.is_empty())
        {
            d.sweep(&mut self.stats);
        }
        if c.begin && c.end {
            deliver(c.payload, ctx, &mut self.stats, out);
        } else if c.payload.is_empty() {
            // A DATA chunk without user data is a protocol error (RFC 9260 §3.3.1).
            self.stats.malformed += 1;
        } else {
            fragment(d, c, ctx, &mut self.stats, out);
        }
        self.held = self.held - before + d.held;
        if a.held() > self.cfg.assoc_budget {
            self.cut(key);
        }
        if self.held > self.cfg.budget {
            self.enforce_budget();
        }
    }

    /// Drops an association's partial messages (a budget ran out).
    fn cut(&mut self, key: Key) {
        let Some(a) = self.assocs.get_mut(&key) else {
            return;
        };
        for d in &mut a.dirs {
            let (bytes, lost) = d.clear();
            if lost {
                self.stats.cut_by_budget += 1;
                self.stats.cut_by_budget_bytes += bytes as u64;
            }
            self.held -= bytes;
        }
    }

    fn enforce_budget(&mut self) {
        let target = self.cfg.budget - self.cfg.budget / 4;
        let mut by: Vec<(usize, Key)> = self
            .assocs
            .iter()
            .filter(|(_, a)| a.held() > 0)
            .map(|(k, a)| (a.held(), *k))
            .collect();
        by.sort_unstable_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
        for (_, k) in by {
            if self.held <= target {
                break;
            }
            self.cut(k);
        }
    }

    /// The association on `key` ends (or restarts): what is partial is lost.
    fn end(&mut self, key: Key) {
        if let Some(a) = self.assocs.remove(&key) {
            self.release(a);
        }
    }

    fn release(&mut self, mut a: Assoc) {
        for d in &mut a.dirs {
            let (bytes, lost) = d.clear();
            if lost {
                self.stats.incomplete += 1;
            }
            self.held -= bytes;
        }
    }

    /// Evicts the eighth least recently used associations (the table is full).
    fn evict(&mut self) {
        let mut by: Vec<(Ts, Key)> = self.assocs.iter().map(|(k, a)| (a.last_ts, *k)).collect();
        let n = (by.len() / 8).max(1);
        by.select_nth_unstable(n - 1);
        by.truncate(n);
        by.sort();
        for (_, k) in by {
            if let Some(a) = self.assocs.remove(&k) {
                self.stats.assoc_evicted += 1;
                self.release(a);
            }
        }
    }

    /// Associations idle past `idle` leave (their partial messages are lost).
    pub fn tick(&mut self, now: Ts) {
        let idle = self.cfg.idle;
        let mut old: Vec<Key> = self
            .assocs
            .iter()
            .filter(|(_, a)| now.since(a.last_ts) > idle)
            .map(|(k, _)| *k)
            .collect();
        old.sort();
        for k in old {
            self.end(k);
        }
    }

    /// End of input: every partial message is lost.
    pub fn finish(&mut self) {
        let mut keys: Vec<Key> = self.assocs.keys().copied().collect();
        keys.sort();
        for k in keys {
            self.end(k);
        }
    }
}

/// A fragment (not both B and E): taken by the run it continues, or starts one, or waits.
fn fragment(d: &mut Dir, c: Data, ctx: Ctx, stats: &mut SctpStats, out: &mut Vec<SipBytes>) {
    let r = d.rel(c.tsn);
    let owner = if c.begin {
        // The run expecting this TSN lost its end: its message is incomplete.
        let prev = d
            .runs
            .range(..r)
            .next_back()
            .filter(|(_, run)| run.next == c.tsn)
            .map(|(k, _)| *k);
        if let Some(k) = prev {
            if let Some(run) = d.runs.remove(&k) {
                d.held -= run.buf.len() + FRAG_COST;
                stats.incomplete += 1;
            }
        }
        d.runs.insert(
            r,
            Run {
                next: c.tsn,
                buf: BytesMut::new(),
                keep: None,
            },
        );
        d.held += FRAG_COST;
        Some(r)
    } else {
        d.runs
            .range(..=r)
            .next_back()
            .filter(|(_, run)| run.next == c.tsn)
            .map(|(k, _)| *k)
    };
    d.held += c.payload.len() + FRAG_COST;
    d.frags.insert(
        r,
        Frag {
            end: c.end,
            data: c.payload,
        },
    );
    if let Some(k) = owner {
        d.advance(k, ctx, stats, out);
    }
}

/// One user message: SIP messages to `out` (several when Content-Length says so), else counted.
fn deliver(msg: Bytes, ctx: Ctx, stats: &mut SctpStats, out: &mut Vec<SipBytes>) {
    stats.messages += 1;
    if !looks_like_sip(&msg) {
        stats.not_sip += 1;
        return;
    }
    let mut rest = msg;
    loop {
        let next = header_end(&rest).and_then(|h| {
            let cl = content_length(&rest[..h])??;
            let end = h.checked_add(cl as usize)?;
            let after = rest.get(end..)?;
            let skip = after
                .iter()
                .position(|b| !matches!(b, b'\r' | b'\n'))
                .unwrap_or(after.len());
            (skip < after.len() && looks_like_sip(&after[skip..])).then_some((end, end + skip))
        });
        let (this, more) = match next {
            Some((end, resume)) => (rest.slice(..end), Some(rest.slice(resume..))),
            None => (rest, None),
        };
        stats.sip += 1;
        out.push(SipBytes {
            ts: ctx.0,
            src: ctx.1,
            dst: ctx.2,
            carrier: Carrier::Sctp,
            bytes: this,
            datagram: true,
            ip_reassembled: ctx.3,
            node: None,
        });
        match more {
            Some(m) => rest = m,
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{TcpMeta, Transport};

    /// A DATA chunk (padded) with `flags` (B = 2, E = 1).
    pub(super) fn data_chunk(tsn: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut c = vec![0, flags];
        c.extend_from_slice(&((16 + payload.len()) as u16).to_be_bytes());
        c.extend_from_slice(&tsn.to_be_bytes());
        c.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // stream 1, SSN 0, PPID 0
        c.extend_from_slice(payload);
        while c.len() % 4 != 0 {
            c.push(0);
        }
        c
    }

    pub(super) fn packet(from_a: bool, chunks: &[u8], secs: i64) -> Packet {
        let a = "10.0.0.1".parse().unwrap();
        let b = "10.0.0.2".parse().unwrap();
        let (src, dst, sport, dport) = if from_a {
            (a, b, 5070, 5060)
        } else {
            (b, a, 5060, 5070)
        };
        Packet {
            ts: Ts(secs * NANOS_PER_SEC),
            src,
            dst,
            sport,
            dport,
            transport: Transport::Sctp,
            tcp: TcpMeta::default(),
            payload: Bytes::copy_from_slice(chunks),
            reassembled: false,
            tunnels: 0,
        }
    }

    fn invite(n: usize, body: usize) -> Vec<u8> {
        let b = "v".repeat(body);
        format!(
            "INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/SCTP x;branch=z9hG4bK{n}\r\nCall-ID: c{n}\r\nCSeq: 1 INVITE\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        )
        .into_bytes()
    }

    /// `msg` cut into `parts` DATA fragments from TSN `tsn` on.
    fn fragments(tsn: u32, msg: &[u8], parts: usize) -> Vec<Vec<u8>> {
        let size = msg.len().div_ceil(parts);
        let pieces: Vec<&[u8]> = msg.chunks(size).collect();
        let n = pieces.len();
        pieces
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let flags = (u8::from(i == 0) * 2) | u8::from(i == n - 1);
                data_chunk(tsn.wrapping_add(i as u32), flags, p)
            })
            .collect()
    }

    fn feed(r: &mut SctpReassembler, chunks: &[Vec<u8>]) -> Vec<Bytes> {
        let mut out = Vec::new();
        for c in chunks {
            r.packet(&packet(true, c, 1), &mut out);
        }
        out.into_iter().map(|m| m.bytes).collect()
    }

    #[test]
    fn fragments_in_any_order_across_the_tsn_wrap_give_the_message_once() {
        let msg = invite(1, 900);
        let frags = fragments(u32::MAX - 2, &msg, 6);
        for order in [[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0], [2, 0, 5, 1, 4, 3]] {
            let mut r = SctpReassembler::new(SctpConfig::default());
            let mut seq: Vec<Vec<u8>> = order.iter().map(|i| frags[*i].clone()).collect();
            seq.push(frags[3].clone()); // a retransmission after the end
            let got = feed(&mut r, &seq);
            assert_eq!(got, vec![Bytes::from(msg.clone())], "{order:?}");
            assert_eq!((r.stats.reassembled, r.stats.duplicates), (1, 1));
            assert_eq!(r.held(), 0);
        }
    }

    #[test]
    fn bundled_chunks_and_two_messages_in_one() {
        let mut two = invite(1, 10);
        two.extend_from_slice(b"\r\n");
        two.extend_from_slice(&invite(2, 0));
        let mut p = data_chunk(1, 3, &two);
        p.extend_from_slice(&[3, 0, 0, 8, 0, 0, 0, 0]); // a SACK-like chunk between
        p.extend_from_slice(&data_chunk(2, 3, &invite(3, 3)));
        let mut r = SctpReassembler::new(SctpConfig::default());
        let got = feed(&mut r, &[p]);
        assert_eq!(got.len(), 3);
        assert!(got[0].ends_with(b"vvvvvvvvvv") && got[1].starts_with(b"INVITE"));
        assert_eq!(
            (r.stats.messages, r.stats.sip, r.stats.other_chunks),
            (2, 3, 1)
        );
    }

    #[test]
    fn a_lost_fragment_is_given_up_and_counted() {
        let mut r = SctpReassembler::new(SctpConfig::default());
        let frags = fragments(10, &invite(1, 600), 4);
        // Fragment 2 never comes; later traffic moves the TSNs far on.
        let mut seq = vec![frags[0].clone(), frags[1].clone(), frags[3].clone()];
        for t in 0..STALL_TSNS * 3 / 2 + 10 {
            seq.push(data_chunk(
                20 + t,
                3,
                b"not sip at all, a long enough payload",
            ));
        }
        let got = feed(&mut r, &seq);
        assert!(got.is_empty());
        assert_eq!(r.stats.incomplete, 1, "{:?}", r.stats);
        assert_eq!(r.held(), 0);
        assert_eq!(r.stats.not_sip as u32, STALL_TSNS * 3 / 2 + 10);
    }

    #[test]
    fn what_is_not_sip_is_not_buffered() {
        let mut r = SctpReassembler::new(SctpConfig::default());
        let s1ap = vec![0u8; 5000];
        let frags = fragments(1, &s1ap, 5);
        let mut out = Vec::new();
        for f in &frags[..4] {
            r.packet(&packet(false, f, 1), &mut out);
        }
        assert!(r.held() < 5 * (FRAG_COST + 8), "held {}", r.held());
        r.packet(&packet(false, &frags[4], 1), &mut out);
        assert!(out.is_empty());
        assert_eq!((r.stats.not_sip, r.held()), (1, 0));
    }

    #[test]
    fn budgets_bound_what_is_held_and_say_what_they_cut() {
        let cfg = SctpConfig {
            assoc_budget: 8 << 10,
            budget: 20 << 10,
            max_assocs: 3,
            ..SctpConfig::default()
        };
        let mut r = SctpReassembler::new(cfg);
        let mut out = Vec::new();
        // Ten associations each start a big SIP message and never finish it.
        for a in 0..10u16 {
            let msg = invite(a as usize, 30_000);
            for (i, f) in fragments(1, &msg, 30).iter().enumerate().take(29) {
                let mut p = packet(true, f, i as i64);
                p.sport = 1000 + a;
                r.packet(&p, &mut out);
                assert!(r.held() <= 20 << 10, "held {}", r.held());
            }
        }
        assert!(out.is_empty());
        assert!(r.associations() <= 3);
        let s = &r.stats;
        assert!(s.cut_by_budget >= 10 && s.cut_by_budget_bytes > 0, "{s:?}");
        assert!(s.assoc_evicted >= 7, "{s:?}");
        r.finish();
        assert_eq!(r.held(), 0);
    }

    #[test]
    fn damaged_chunks_are_counted_never_a_panic() {
        let mut r = SctpReassembler::new(SctpConfig::default());
        let mut out = Vec::new();
        for bad in [
            vec![0, 3, 0, 2],                          // length below 4
            vec![0, 3, 0, 40, 0, 0],                   // past the packet
            vec![0, 3, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0], // DATA shorter than its header
            data_chunk(5, 2, b""),                     // a fragment without data
        ] {
            r.packet(&packet(true, &bad, 1), &mut out);
        }
        assert_eq!(r.stats.malformed, 4);
        // An ABORT ends the association: its partial message is lost and said.
        let frags = fragments(100, &invite(1, 300), 2);
        r.packet(&packet(true, &frags[0], 1), &mut out);
        r.packet(&packet(false, &[6, 0, 0, 4], 1), &mut out);
        assert_eq!((r.stats.incomplete, r.associations(), r.held()), (1, 0, 0));
    }
}
