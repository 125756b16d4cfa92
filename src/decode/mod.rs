//! Decode: from a captured frame to a transport-level [`Packet`] (addresses, ports, payload).
//!
//! Takes a [`Frame`] of any supported link type and walks its headers: Ethernet with 802.1Q/802.1ad
//! tags at any depth, MPLS, PPPoE, Linux cooked SLL/SLL2, BSD loopback/NULL, raw IPv4/IPv6; IPv4
//! and IPv6 with extension headers; tunnels (IP-in-IP, GRE with PPP, transparent Ethernet and
//! ERSPAN I/II/III, VXLAN, GTP-U ([`gtp`])) to any depth up to [`MAX_DEPTH`]; IP fragments go
//! through the bounded [`IpDefrag`] table. What cannot be decoded is counted in [`DecodeStats`] and skipped, never
//! fatal; payloads are slices of the frame's bytes, not copies (except reassembled fragments).

pub mod gtp;
pub mod hep;
pub mod ipfrag;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::{Buf, Bytes};

use crate::capture::{Frame, LinkType};
use crate::time::Ts;
use ipfrag::{FragKey, IpDefrag};

/// Nested encapsulations deeper than this are counted and dropped (a loop guard).
pub const MAX_DEPTH: u8 = 8;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    /// SCTP (RFC 9260): the payload is the chunks after the 12-byte common header.
    Sctp,
}

/// TCP header fields the stream reassembler needs.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpMeta {
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
}

pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const ACK: u8 = 0x10;
}

/// A UDP datagram, TCP segment or SCTP packet with its innermost addresses.
#[derive(Clone, Debug)]
pub struct Packet {
    pub ts: Ts,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub transport: Transport,
    pub tcp: TcpMeta,
    pub payload: Bytes,
    /// Came out of IP fragment reassembly.
    pub reassembled: bool,
    /// Number of tunnel layers peeled to reach it.
    pub tunnels: u8,
}

/// Counters of the decode stage; they merge across worker threads.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DecodeStats {
    pub frames: u64,
    pub unknown_link: u64,
    pub non_ip: u64,
    pub malformed: u64,
    pub ipv4: u64,
    pub ipv6: u64,
    pub vlan_tagged: u64,
    pub tunnelled: u64,
    pub too_deep: u64,
    pub udp: u64,
    pub tcp: u64,
    pub sctp: u64,
    pub icmp: u64,
    /// ICMP errors quoting a SIP request or response (not SIP on the wire; counted, not parsed).
    pub icmp_quoting_sip: u64,
    pub other_ip_proto: u64,
    pub ip_fragments: u64,
    pub ip_reassembled: u64,
    pub ip_frag_incomplete: u64,
    pub ip_frag_evicted: u64,
    pub ip_frag_overlaps: u64,
    /// Datagrams dropped because a fragment ended past 65,535 bytes of payload (plus a header).
    pub ip_frag_too_large: u64,
    /// Fragments that brought no new byte (dropped; their datagram goes on).
    pub ip_frag_duplicates: u64,
    /// Datagrams dropped because their fragments contradict each other (two ends, bytes past
    /// the end) or are too many.
    pub ip_frag_bad: u64,
    /// GTP-U on UDP port 2152 (TS 29.281): user packets decoded, other messages, damaged
    /// headers, the distinct TEIDs.
    pub gtpu: gtp::GtpStats,
}

impl std::ops::AddAssign<&DecodeStats> for DecodeStats {
    fn add_assign(&mut self, o: &DecodeStats) {
        self.frames += o.frames;
        self.unknown_link += o.unknown_link;
        self.non_ip += o.non_ip;
        self.malformed += o.malformed;
        self.ipv4 += o.ipv4;
        self.ipv6 += o.ipv6;
        self.vlan_tagged += o.vlan_tagged;
        self.tunnelled += o.tunnelled;
        self.too_deep += o.too_deep;
        self.udp += o.udp;
        self.tcp += o.tcp;
        self.sctp += o.sctp;
        self.icmp += o.icmp;
        self.icmp_quoting_sip += o.icmp_quoting_sip;
        self.other_ip_proto += o.other_ip_proto;
        self.ip_fragments += o.ip_fragments;
        self.ip_reassembled += o.ip_reassembled;
        self.ip_frag_incomplete += o.ip_frag_incomplete;
        self.ip_frag_evicted += o.ip_frag_evicted;
        self.ip_frag_overlaps += o.ip_frag_overlaps;
        self.ip_frag_too_large += o.ip_frag_too_large;
        self.ip_frag_duplicates += o.ip_frag_duplicates;
        self.ip_frag_bad += o.ip_frag_bad;
        self.gtpu += &o.gtpu;
    }
}

/// `b[start..end]` made of `b` itself: a view narrowed in place, where `slice` would touch the
/// bytes' shared count once more, and once more again when `b` is dropped (per packet on the
/// packet path: 6 % of the mixed bench capture's run). The same bounds `slice` takes.
fn narrow(mut b: Bytes, start: usize, end: usize) -> Bytes {
    assert!(
        start <= end && end <= b.len(),
        "narrow {start}..{end} of {}",
        b.len()
    );
    b.truncate(end);
    b.advance(start);
    b
}

#[inline]
fn be16(d: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(i)?, *d.get(i + 1)?]))
}

#[inline]
fn be32(d: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *d.get(i)?,
        *d.get(i + 1)?,
        *d.get(i + 2)?,
        *d.get(i + 3)?,
    ]))
}

/// What a layer hands to the next: an IP version to decode at an offset of the buffer.
enum Next {
    Ipv4(usize),
    Ipv6(usize),
    Ethernet(usize),
    Ppp(usize),
    Done,
}

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;

/// The decode stage of one worker: stateless but for the fragment table.
pub struct Decoder {
    pub defrag: IpDefrag,
    pub stats: DecodeStats,
    /// The datagram the frame last decoded was an IP fragment of, whether it completed it or
    /// not (None for a whole datagram): how the per-call export ([`crate::export`]) finds the
    /// other fragments of a datagram it wants.
    pub fragment_of: Option<FragKey>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(IpDefrag::default())
    }
}

impl Decoder {
    pub fn new(defrag: IpDefrag) -> Decoder {
        Decoder {
            defrag,
            stats: DecodeStats::default(),
            fragment_of: None,
        }
    }

    /// Decodes one frame. Returns the UDP/TCP/SCTP packet it carries, if any.
    pub fn decode(&mut self, frame: &Frame) -> Option<Packet> {
        self.decode_owned(frame.clone())
    }

    /// [`Decoder::decode`] of a frame the caller lets go: the packet's payload is the frame's
    /// own bytes narrowed in place, where slicing a borrowed frame touches the shared count of
    /// its bytes once more, and once more again when the frame is dropped (the packet path).
    pub fn decode_owned(&mut self, frame: Frame) -> Option<Packet> {
        self.stats.frames += 1;
        self.fragment_of = None;
        let d = frame.data;
        let next = match frame.link {
            LinkType::Ethernet => Next::Ethernet(0),
            LinkType::Raw => match d.first().map(|b| b >> 4) {
                Some(4) => Next::Ipv4(0),
                Some(6) => Next::Ipv6(0),
                _ => {
                    self.stats.non_ip += 1;
                    return None;
                }
            },
            LinkType::Ipv4 => Next::Ipv4(0),
            LinkType::Ipv6 => Next::Ipv6(0),
            LinkType::Null | LinkType::Loop => {
                // The family is in host byte order of the capturing machine (NULL) or network
                // order (LOOP): accept either.
                let fam = match d.get(..4) {
                    Some(f) => {
                        let le = u32::from_le_bytes([f[0], f[1], f[2], f[3]]);
                        let be = u32::from_be_bytes([f[0], f[1], f[2], f[3]]);
                        if le < 256 {
                            le
                        } else {
                            be
                        }
                    }
                    None => {
                        self.stats.malformed += 1;
                        return None;
                    }
                };
                match fam {
                    2 => Next::Ipv4(4),
                    24 | 28 | 30 => Next::Ipv6(4),
                    _ => {
                        self.stats.non_ip += 1;
                        return None;
                    }
                }
            }
            LinkType::LinuxSll => match be16(&d, 14) {
                Some(p) => self.ethertype(p, 16, &d),
                None => {
                    self.stats.malformed += 1;
                    return None;
                }
            },
            LinkType::LinuxSll2 => match be16(&d, 0) {
                Some(p) => self.ethertype(p, 20, &d),
                None => {
                    self.stats.malformed += 1;
                    return None;
                }
            },
            LinkType::Other(_) => {
                self.stats.unknown_link += 1;
                return None;
            }
        };
        self.walk(frame.ts, d, next, 0)
    }

    fn ethertype(&mut self, mut et: u16, mut off: usize, d: &[u8]) -> Next {
        // VLAN tags after a cooked header: TCI then the inner type, as many as there are.
        while matches!(et, 0x8100 | 0x88a8 | 0x9100) {
            self.stats.vlan_tagged += 1;
            match be16(d, off + 2) {
                Some(inner) => et = inner,
                None => {
                    self.stats.malformed += 1;
                    return Next::Done;
                }
            }
            off += 4;
        }
        match et {
            ETH_IPV4 => Next::Ipv4(off),
            ETH_IPV6 => Next::Ipv6(off),
            0x8847 | 0x8848 => self.mpls(off, d),
            0x8864 => Next::Ppp(off + 6),
            _ => {
                self.stats.non_ip += 1;
                Next::Done
            }
        }
    }

    fn mpls(&mut self, mut off: usize, d: &[u8]) -> Next {
        // Pop labels to the bottom of the stack, then guess the payload by its version nibble.
        for _ in 0..16 {
            let Some(label) = be32(d, off) else {
                self.stats.malformed += 1;
                return Next::Done;
            };
            off += 4;
            if label & 0x100 != 0 {
                return match d.get(off).map(|b| b >> 4) {
                    Some(4) => Next::Ipv4(off),
                    Some(6) => Next::Ipv6(off),
                    _ => {
                        self.stats.non_ip += 1;
                        Next::Done
                    }
                };
            }
        }
        self.stats.malformed += 1;
        Next::Done
    }

    fn walk(&mut self, ts: Ts, d: Bytes, mut next: Next, mut depth: u8) -> Option<Packet> {
        loop {
            if depth > MAX_DEPTH {
                self.stats.too_deep += 1;
                return None;
            }
            next = match next {
                Next::Done => return None,
                Next::Ethernet(off) => {
                    let mut p = off.checked_add(12)?;
                    let mut tagged = false;
                    loop {
                        let Some(et) = be16(&d, p) else {
                            self.stats.malformed += 1;
                            return None;
                        };
                        match et {
                            0x8100 | 0x88a8 | 0x9100 => {
                                tagged = true;
                                p += 4;
                            }
                            _ => {
                                if tagged {
                                    self.stats.vlan_tagged += 1;
                                }
                                break if et < 0x0600 {
                                    // 802.3 length field: LLC/SNAP, not IP for our purposes.
                                    self.stats.non_ip += 1;
                                    Next::Done
                                } else {
                                    self.ethertype(et, p + 2, &d)
                                };
                            }
                        }
                    }
                }
                Next::Ppp(off) => {
                    let mut p = off;
                    if d.get(p..p + 2) == Some(&[0xff, 0x03]) {
                        p += 2;
                    }
                    // Protocol field compression (RFC 1661 §6.5): one byte when odd.
                    let (proto, len) = match d.get(p) {
                        Some(b) if b & 1 == 1 => (*b as u16, 1),
                        Some(_) => (be16(&d, p)?, 2),
                        None => {
                            self.stats.malformed += 1;
                            return None;
                        }
                    };
                    match proto {
                        0x0021 => Next::Ipv4(p + len),
                        0x0057 => Next::Ipv6(p + len),
                        _ => {
                            self.stats.non_ip += 1;
                            Next::Done
                        }
                    }
                }
                Next::Ipv4(off) => return self.ipv4(ts, d, off, depth),
                Next::Ipv6(off) => return self.ipv6(ts, d, off, depth),
            };
            depth += 1;
        }
    }

    fn ipv4(&mut self, ts: Ts, d: Bytes, off: usize, depth: u8) -> Option<Packet> {
        let h = match d.get(off..) {
            Some(h) if h.len() >= 20 && h[0] >> 4 == 4 => h,
            _ => {
                self.stats.malformed += 1;
                return None;
            }
        };
        self.stats.ipv4 += 1;
        let ihl = ((h[0] & 0x0f) as usize) * 4;
        let total = be16(h, 2)? as usize;
        if ihl < 20 || h.len() < ihl {
            self.stats.malformed += 1;
            return None;
        }
        // Trust the IP total length over the frame (Ethernet pads short frames), but never read
        // past what was captured.
        let end = if total >= ihl {
            total.min(h.len())
        } else {
            h.len()
        };
        let id = be16(h, 4)? as u32;
        let frag = be16(h, 6)?;
        let more = frag & 0x2000 != 0;
        let frag_off = ((frag & 0x1fff) as usize) * 8;
        let proto = h[9];
        let src = IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15]));
        let dst = IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19]));
        let payload = narrow(d, off + ihl, off + end);
        if more || frag_off != 0 {
            return self.fragment(ts, src, dst, id, proto, frag_off, more, payload, depth);
        }
        self.l4(ts, src, dst, proto, payload, false, depth)
    }

    fn ipv6(&mut self, ts: Ts, d: Bytes, off: usize, depth: u8) -> Option<Packet> {
        let h = match d.get(off..) {
            Some(h) if h.len() >= 40 && h[0] >> 4 == 6 => h,
            _ => {
                self.stats.malformed += 1;
                return None;
            }
        };
        self.stats.ipv6 += 1;
        let plen = be16(h, 4)? as usize;
        let mut next = h[6];
        let src = IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&h[8..24]).ok()?));
        let dst = IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&h[24..40]).ok()?));
        // A zero payload length means a jumbogram; use what was captured.
        let end = if plen == 0 {
            h.len()
        } else {
            (40 + plen).min(h.len())
        };
        let mut p = 40;
        let mut fragment: Option<(u32, usize, bool)> = None;
        // Walk the extension headers (RFC 8200 §4).
        for _ in 0..16 {
            match next {
                0 | 43 | 60 | 135 | 139 | 140 => {
                    let (Some(&nh), Some(&len)) = (h.get(p), h.get(p + 1)) else {
                        self.stats.malformed += 1;
                        return None;
                    };
                    next = nh;
                    p += (len as usize + 1) * 8;
                }
                51 => {
                    // AH: length in 4-octet units minus 2.
                    let (Some(&nh), Some(&len)) = (h.get(p), h.get(p + 1)) else {
                        self.stats.malformed += 1;
                        return None;
                    };
                    next = nh;
                    p += (len as usize + 2) * 4;
                }
                44 => {
                    let (Some(&nh), Some(fo), Some(id)) =
                        (h.get(p), be16(h, p + 2), be32(h, p + 4))
                    else {
                        self.stats.malformed += 1;
                        return None;
                    };
                    next = nh;
                    fragment = Some((id, (fo & 0xfff8) as usize, fo & 1 == 1));
                    p += 8;
                }
                _ => break,
            }
        }
        if p > end {
            self.stats.malformed += 1;
            return None;
        }
        let payload = narrow(d, off + p, off + end);
        if let Some((id, frag_off, more)) = fragment {
            if more || frag_off != 0 {
                return self.fragment(ts, src, dst, id, next, frag_off, more, payload, depth);
            }
        }
        self.l4(ts, src, dst, next, payload, false, depth)
    }

    #[allow(clippy::too_many_arguments)] // the fields of one fragment; a struct would only rename them
    fn fragment(
        &mut self,
        ts: Ts,
        src: IpAddr,
        dst: IpAddr,
        id: u32,
        proto: u8,
        offset: usize,
        more: bool,
        payload: Bytes,
        depth: u8,
    ) -> Option<Packet> {
        self.stats.ip_fragments += 1;
        let key = FragKey {
            src,
            dst,
            id,
            proto,
        };
        self.fragment_of = Some(key);
        let whole = self.defrag.push(ts, key, offset, more, payload);
        self.sync_defrag_stats();
        let whole = whole?;
        self.stats.ip_reassembled += 1;
        self.l4(ts, src, dst, proto, whole, true, depth)
    }

    fn sync_defrag_stats(&mut self) {
        let s = self.defrag.stats();
        self.stats.ip_frag_incomplete = s.timed_out;
        self.stats.ip_frag_evicted = s.evicted;
        self.stats.ip_frag_overlaps = s.overlaps;
        self.stats.ip_frag_too_large = s.too_large;
        self.stats.ip_frag_duplicates = s.duplicates;
        self.stats.ip_frag_bad = s.inconsistent + s.too_many;
    }

    /// Counts fragments that never completed; call at the end of a run.
    pub fn finish(&mut self) {
        self.defrag.expire_all();
        self.sync_defrag_stats();
    }

    #[allow(clippy::too_many_arguments)] // one IP datagram's fields
    fn l4(
        &mut self,
        ts: Ts,
        src: IpAddr,
        dst: IpAddr,
        proto: u8,
        p: Bytes,
        reassembled: bool,
        depth: u8,
    ) -> Option<Packet> {
        match proto {
            17 => {
                let (Some(sport), Some(dport), Some(ulen)) =
                    (be16(&p, 0), be16(&p, 2), be16(&p, 4))
                else {
                    self.stats.malformed += 1;
                    return None;
                };
                if p.len() < 8 {
                    self.stats.malformed += 1;
                    return None;
                }
                self.stats.udp += 1;
                let ulen = ulen as usize;
                let end = if ulen >= 8 {
                    ulen.min(p.len())
                } else {
                    p.len()
                };
                let payload = narrow(p, 8, end);
                if dport == gtp::PORT || sport == gtp::PORT {
                    if let Some(r) = self.gtpu(ts, &payload, depth) {
                        return r;
                    }
                }
                if dport == 4789 && payload.len() > 8 && payload[0] & 0x08 != 0 {
                    // VXLAN (RFC 7348): 8-byte header, then an Ethernet frame.
                    self.stats.tunnelled += 1;
                    let inner = payload.slice(8..);
                    return self
                        .walk(ts, inner, Next::Ethernet(0), depth + 1)
                        .map(|mut pk| {
                            pk.tunnels += 1;
                            pk
                        });
                }
                Some(Packet {
                    ts,
                    src,
                    dst,
                    sport,
                    dport,
                    transport: Transport::Udp,
                    tcp: TcpMeta::default(),
                    payload,
                    reassembled,
                    tunnels: 0,
                })
            }
            6 => {
                let (Some(sport), Some(dport), Some(seq), Some(ack), Some(&doff), Some(&flags)) = (
                    be16(&p, 0),
                    be16(&p, 2),
                    be32(&p, 4),
                    be32(&p, 8),
                    p.get(12),
                    p.get(13),
                ) else {
                    self.stats.malformed += 1;
                    return None;
                };
                let hl = ((doff >> 4) as usize) * 4;
                if hl < 20 || hl > p.len() {
                    self.stats.malformed += 1;
                    return None;
                }
                self.stats.tcp += 1;
                Some(Packet {
                    ts,
                    src,
                    dst,
                    sport,
                    dport,
                    transport: Transport::Tcp,
                    tcp: TcpMeta { seq, ack, flags },
                    payload: {
                        let end = p.len();
                        narrow(p, hl, end)
                    },
                    reassembled,
                    tunnels: 0,
                })
            }
            132 => {
                // SCTP common header: ports, verification tag, CRC32c (not checked: captures
                // on the sending host carry offloaded checksums, as for UDP and TCP).
                let (Some(sport), Some(dport)) = (be16(&p, 0), be16(&p, 2)) else {
                    self.stats.malformed += 1;
                    return None;
                };
                if p.len() < 12 {
                    self.stats.malformed += 1;
                    return None;
                }
                self.stats.sctp += 1;
                Some(Packet {
                    ts,
                    src,
                    dst,
                    sport,
                    dport,
                    transport: Transport::Sctp,
                    tcp: TcpMeta::default(),
                    payload: {
                        let end = p.len();
                        narrow(p, 12, end)
                    },
                    reassembled,
                    tunnels: 0,
                })
            }
            4 | 41 => {
                self.stats.tunnelled += 1;
                let next = if proto == 4 {
                    Next::Ipv4(0)
                } else {
                    Next::Ipv6(0)
                };
                self.walk(ts, p, next, depth + 1).map(|mut pk| {
                    pk.tunnels += 1;
                    pk
                })
            }
            47 => {
                self.stats.tunnelled += 1;
                let next = self.gre(&p);
                self.walk(ts, p, next, depth + 1).map(|mut pk| {
                    pk.tunnels += 1;
                    pk
                })
            }
            1 | 58 => {
                self.stats.icmp += 1;
                // Errors (v4 type 3/11, v6 type 1/3) quote the offending datagram: SIP inside one
                // is a symptom worth counting (a scanner hitting closed ports), not a message.
                let quoted = match (proto, p.first()) {
                    (1, Some(3 | 11)) | (58, Some(1 | 3)) => p.get(8..),
                    _ => None,
                };
                if let Some(q) = quoted {
                    if memchr::memmem::find(q, b"SIP/2.0").is_some() {
                        self.stats.icmp_quoting_sip += 1;
                    }
                }
                None
            }
            _ => {
                self.stats.other_ip_proto += 1;
                None
            }
        }
    }

    /// A datagram on the GTP-U port: `Some(result)` when it was GTP-U (its user packet decoded,
    /// or nothing), `None` to treat it as a plain UDP payload (not a GTP-U header at all, such as
    /// SIP sent from port 2152: counted as malformed GTP-U only when it is not SIP-like text).
    fn gtpu(&mut self, ts: Ts, payload: &Bytes, depth: u8) -> Option<Option<Packet>> {
        let g = match gtp::parse(payload) {
            Ok(g) => g,
            Err(gtp::GtpError::NotV1) if payload.first().is_some_and(u8::is_ascii_alphabetic) => {
                return None;
            }
            Err(_) => {
                self.stats.gtpu.malformed += 1;
                return None;
            }
        };
        if g.msg_type != gtp::G_PDU {
            self.stats.gtpu.not_gpdu += 1;
            return Some(None);
        }
        let next = match payload.get(g.start).map(|b| b >> 4) {
            Some(4) if g.start < g.end => Next::Ipv4(0),
            Some(6) if g.start < g.end => Next::Ipv6(0),
            Some(_) if g.start < g.end => {
                // A non-IP PDU session (Ethernet, unstructured): not for us.
                self.stats.non_ip += 1;
                return Some(None);
            }
            _ => {
                self.stats.gtpu.malformed += 1;
                return Some(None);
            }
        };
        self.stats.gtpu.decoded += 1;
        self.stats.gtpu.teid(g.teid);
        self.stats.tunnelled += 1;
        let inner = payload.slice(g.start..g.end);
        Some(self.walk(ts, inner, next, depth + 1).map(|mut pk| {
            pk.tunnels += 1;
            pk
        }))
    }

    /// GRE (RFC 2784/2890, PPTP's enhanced GRE of RFC 2637) and ERSPAN I/II/III.
    fn gre(&mut self, p: &[u8]) -> Next {
        let (Some(fl), Some(proto)) = (be16(p, 0), be16(p, 2)) else {
            self.stats.malformed += 1;
            return Next::Done;
        };
        let version = fl & 0x7;
        let mut off = 4;
        if fl & 0x8000 != 0 {
            off += 4; // checksum + reserved
        }
        if fl & 0x2000 != 0 {
            off += 4; // key (always present in version 1)
        }
        if fl & 0x1000 != 0 {
            off += 4; // sequence number
        }
        if version == 1 && fl & 0x0080 != 0 {
            off += 4; // acknowledgment number
        }
        match proto {
            ETH_IPV4 => Next::Ipv4(off),
            ETH_IPV6 => Next::Ipv6(off),
            0x6558 => Next::Ethernet(off),
            0x880b => Next::Ppp(off),
            // ERSPAN type II (sequence present) has an 8-byte header; type I has none.
            0x88be => {
                if fl & 0x1000 != 0 {
                    Next::Ethernet(off + 8)
                } else {
                    Next::Ethernet(off)
                }
            }
            0x22eb => {
                // ERSPAN type III: 12 bytes, plus an 8-byte platform sub-header when O is set.
                let o = p.get(off + 11).is_some_and(|b| b & 0x01 != 0);
                Next::Ethernet(off + if o { 20 } else { 12 })
            }
            _ => {
                self.stats.non_ip += 1;
                Next::Done
            }
        }
    }
}

/// A cheap symmetric hash of a frame's outermost IP pair, used to shard frames across decode
/// workers so that both directions of a flow (and every fragment of a datagram) meet in one place.
pub fn shard_hash(link: LinkType, d: &[u8]) -> u64 {
    let mut off = match link {
        LinkType::Ethernet => {
            let mut p = 12;
            while let Some(et) = be16(d, p) {
                match et {
                    0x8100 | 0x88a8 | 0x9100 => p += 4,
                    0x8864 => {
                        p += 10;
                        break;
                    }
                    _ => {
                        p += 2;
                        break;
                    }
                }
            }
            p
        }
        LinkType::Null | LinkType::Loop => 4,
        LinkType::LinuxSll => 16,
        LinkType::LinuxSll2 => 20,
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => 0,
        LinkType::Other(_) => return 0,
    };
    let (a, b) = match d.get(off).map(|b| b >> 4) {
        Some(4) => (d.get(off + 12..off + 16), d.get(off + 16..off + 20)),
        Some(6) => {
            off += 8;
            (d.get(off..off + 16), d.get(off + 16..off + 32))
        }
        _ => (None, None),
    };
    match (a, b) {
        (Some(a), Some(b)) => hash_pair(a, b),
        _ => 0,
    }
}

/// [`shard_hash`] of a frame whose outermost IP pair is `a` and `b` (either way round): what the
/// report's second reading looks for ([`crate::pipeline::FlowSet`]). 0 for a pair of two
/// versions, which no header carries.
pub fn pair_hash(a: IpAddr, b: IpAddr) -> u64 {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => hash_pair(&a.octets(), &b.octets()),
        (IpAddr::V6(a), IpAddr::V6(b)) => hash_pair(&a.octets(), &b.octets()),
        _ => 0,
    }
}

/// Symmetric in `a` and `b` (4 or 16 bytes each). The addresses are read as integers and mixed
/// by multiplication: FNV byte by byte, with a `memcmp` call to order the pair, was a sixth of
/// the reader thread's time on the mixed bench capture.
fn hash_pair(a: &[u8], b: &[u8]) -> u64 {
    fn word(x: &[u8]) -> u128 {
        match x.len() {
            4 => u32::from_be_bytes([x[0], x[1], x[2], x[3]]) as u128,
            16 => {
                let mut w = [0u8; 16];
                w.copy_from_slice(x);
                u128::from_be_bytes(w)
            }
            _ => fnv(x, FNV_OFFSET) as u128,
        }
    }
    // The finaliser of MurmurHash3's 64-bit variant: every input bit reaches every output bit.
    fn mix(mut h: u64) -> u64 {
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
    let fold = |v: u128| (v as u64) ^ ((v >> 64) as u64).rotate_left(29);
    let (x, y) = (word(a), word(b));
    let (lo, hi) = if x <= y { (x, y) } else { (y, x) };
    mix(mix(fold(lo) ^ FNV_OFFSET) ^ fold(hi))
}

/// FNV-1a's offset basis: the starting `h` of a fresh hash.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a over `bytes` from `h`: the one small hash for shards, sampling and file names.
#[inline]
pub fn fnv(bytes: &[u8], mut h: u64) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::file::FileSource;
    use crate::capture::Source;

    /// Every frame of two sample captures: the hash of its outermost IP pair is the hash of the
    /// addresses the decoder reads from it, either way round.
    #[test]
    fn pair_hash_is_the_frames_shard_hash() {
        let mut seen = 0;
        for name in ["sip_rtp.pcap", "sip-tcp.pcap"] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("samples")
                .join(name);
            let mut src = FileSource::open(&path).unwrap();
            let mut dec = Decoder::default();
            while let Some(f) = src.next_frame().unwrap() {
                let f = f.to_owned();
                let Some(p) = dec.decode(&f) else { continue };
                let h = shard_hash(f.link, &f.data);
                assert_ne!(h, 0);
                assert_eq!(h, pair_hash(p.src, p.dst));
                assert_eq!(h, pair_hash(p.dst, p.src));
                seen += 1;
            }
        }
        assert!(seen > 100, "{seen}");
    }

    #[test]
    fn pair_hash_of_ipv6_frames() {
        let (a, b): (Ipv6Addr, Ipv6Addr) =
            ("2001:db8::1".parse().unwrap(), "fe80::9".parse().unwrap());
        // IPv6 (next header UDP) in raw IP, then the same in Ethernet.
        let mut ip = vec![0x60, 0, 0, 0, 0, 8, 17, 64];
        ip.extend_from_slice(&a.octets());
        ip.extend_from_slice(&b.octets());
        ip.extend_from_slice(&[0x13, 0xc4, 0x13, 0xc4, 0, 8, 0, 0]);
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x86, 0xdd]);
        eth.extend_from_slice(&ip);
        let want = pair_hash(IpAddr::V6(b), IpAddr::V6(a));
        assert_ne!(want, 0);
        assert_eq!(shard_hash(LinkType::Raw, &ip), want);
        assert_eq!(shard_hash(LinkType::Ethernet, &eth), want);
        // Two versions: no header holds such a pair.
        assert_eq!(pair_hash(IpAddr::V6(a), IpAddr::V4(Ipv4Addr::LOCALHOST)), 0);
    }
}
