//! HEPv3 encoder: one packet per captured message, chunk by chunk as the HEP3 specification
//! rev. 12 lays them out (github.com/sipcapture/HEP, `docs/HEP3_rev12.pdf`).
//!
//! Contract:
//! - Every chunk is vendor 0 with a 6-byte header (vendor u16, type u16, length u16 counting the
//!   header), all numbers in network order; fixed-size chunks have exactly their specified length
//!   (a collector such as heplify-server drops a whole packet for one chunk of the wrong size):
//!   family, IP protocol and protocol type 7; IPv4 addresses 10, IPv6 addresses 22; ports 8;
//!   seconds, microseconds and capture id 10.
//! - A message between an IPv4 and an IPv6 address (never on one wire, but a HEP source may say
//!   so) is sent as IPv6 with the IPv4 address mapped (`::ffff:a.b.c.d`): one family per packet.
//! - A packet longer than [`MAX_PACKET`] cannot be said in HEP's 16-bit length: refused, never cut.
//!   [`encode`] appends to the caller's buffer and leaves it as it was on refusal.
//! - The decoder ([`crate::decode::hep`]) reads back everything written here (tested).

use std::net::{IpAddr, SocketAddr};

use crate::time::{Ts, NANOS_PER_SEC};

pub use crate::decode::hep::proto_type;

/// HEP's total length is 16 bits.
pub const MAX_PACKET: usize = u16::MAX as usize;
/// The largest UDP payload an IPv4 datagram can carry (65,535 − 20 − 8).
pub const MAX_UDP: usize = 65_507;

/// Chunk types (vendor 0) this encoder writes.
pub mod chunk {
    pub const IP_FAMILY: u16 = 0x01;
    pub const IP_PROTO: u16 = 0x02;
    pub const SRC_IP4: u16 = 0x03;
    pub const DST_IP4: u16 = 0x04;
    pub const SRC_IP6: u16 = 0x05;
    pub const DST_IP6: u16 = 0x06;
    pub const SRC_PORT: u16 = 0x07;
    pub const DST_PORT: u16 = 0x08;
    pub const TS_SEC: u16 = 0x09;
    pub const TS_USEC: u16 = 0x0a;
    pub const PROTO_TYPE: u16 = 0x0b;
    pub const CAPTURE_ID: u16 = 0x0c;
    pub const AUTH_KEY: u16 = 0x0e;
    pub const PAYLOAD: u16 = 0x0f;
    pub const CORRELATION_ID: u16 = 0x11;
    pub const NODE_NAME: u16 = 0x13;
}

/// Address families as HEP numbers them (the Linux AF_* values).
pub const AF_INET: u8 = 2;
pub const AF_INET6: u8 = 10;

/// What a packet says besides its payload.
#[derive(Clone, Copy, Debug)]
pub struct Meta<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// IP protocol number of the captured message (17 UDP, 6 TCP, 132 SCTP).
    pub ip_proto: u8,
    pub ts: Ts,
    /// See [`proto_type`].
    pub proto_type: u8,
    pub capture_id: u32,
    pub auth_key: Option<&'a [u8]>,
    pub correlation_id: Option<&'a [u8]>,
    pub node_name: Option<&'a [u8]>,
}

/// The packet would be longer than HEP can say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLarge {
    pub len: usize,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a HEP packet of {} bytes exceeds {MAX_PACKET}", self.len)
    }
}

impl std::error::Error for TooLarge {}

fn put(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    // Callers bound every value (the whole packet is checked before anything is written).
    out.extend_from_slice(&((value.len() + 6) as u16).to_be_bytes());
    out.extend_from_slice(value);
}

/// Seconds and microseconds of the epoch; times before 1970 or after 2106 are clamped to the
/// ends of HEP's unsigned 32-bit seconds.
pub fn ts_parts(ts: Ts) -> (u32, u32) {
    let secs = ts.0.div_euclid(NANOS_PER_SEC);
    let usec = (ts.0.rem_euclid(NANOS_PER_SEC) / 1000) as u32;
    match u32::try_from(secs) {
        Ok(s) => (s, usec),
        Err(_) if secs < 0 => (0, 0),
        Err(_) => (u32::MAX, 999_999),
    }
}

/// Both addresses in one family.
fn family(src: IpAddr, dst: IpAddr) -> (IpAddr, IpAddr) {
    match (src, dst) {
        (IpAddr::V4(a), IpAddr::V6(b)) => (IpAddr::V6(a.to_ipv6_mapped()), IpAddr::V6(b)),
        (IpAddr::V6(a), IpAddr::V4(b)) => (IpAddr::V6(a), IpAddr::V6(b.to_ipv6_mapped())),
        other => other,
    }
}

/// The length [`encode`] would write.
pub fn encoded_len(m: &Meta<'_>, payload: &[u8]) -> usize {
    let (src, _) = family(m.src.ip(), m.dst.ip());
    let addrs = if src.is_ipv4() { 2 * 10 } else { 2 * 22 };
    let opt = |v: Option<&[u8]>| v.map_or(0, |v| 6 + v.len());
    6 + 7
        + 7
        + addrs
        + 2 * 8
        + 2 * 10
        + 7
        + 10
        + opt(m.auth_key)
        + opt(m.correlation_id)
        + opt(m.node_name)
        + 6
        + payload.len()
}

/// Appends one HEPv3 packet to `out`.
pub fn encode(m: &Meta<'_>, payload: &[u8], out: &mut Vec<u8>) -> Result<(), TooLarge> {
    let len = encoded_len(m, payload);
    if len > MAX_PACKET {
        return Err(TooLarge { len });
    }
    let (src, dst) = family(m.src.ip(), m.dst.ip());
    let start = out.len();
    out.reserve(len);
    out.extend_from_slice(b"HEP3");
    out.extend_from_slice(&(len as u16).to_be_bytes());
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            put(out, chunk::IP_FAMILY, &[AF_INET]);
            put(out, chunk::IP_PROTO, &[m.ip_proto]);
            put(out, chunk::SRC_IP4, &s.octets());
            put(out, chunk::DST_IP4, &d.octets());
        }
        (s, d) => {
            let v6 = |a: IpAddr| match a {
                IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
                IpAddr::V6(a) => a.octets(),
            };
            put(out, chunk::IP_FAMILY, &[AF_INET6]);
            put(out, chunk::IP_PROTO, &[m.ip_proto]);
            put(out, chunk::SRC_IP6, &v6(s));
            put(out, chunk::DST_IP6, &v6(d));
        }
    }
    put(out, chunk::SRC_PORT, &m.src.port().to_be_bytes());
    put(out, chunk::DST_PORT, &m.dst.port().to_be_bytes());
    let (sec, usec) = ts_parts(m.ts);
    put(out, chunk::TS_SEC, &sec.to_be_bytes());
    put(out, chunk::TS_USEC, &usec.to_be_bytes());
    put(out, chunk::PROTO_TYPE, &[m.proto_type]);
    put(out, chunk::CAPTURE_ID, &m.capture_id.to_be_bytes());
    if let Some(k) = m.auth_key {
        put(out, chunk::AUTH_KEY, k);
    }
    if let Some(c) = m.correlation_id {
        put(out, chunk::CORRELATION_ID, c);
    }
    if let Some(n) = m.node_name {
        put(out, chunk::NODE_NAME, n);
    }
    put(out, chunk::PAYLOAD, payload);
    debug_assert_eq!(out.len() - start, len);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::hep::{parse_hep3, HepPayload};

    /// Splits a packet into (vendor, type, total chunk length, value), checking the header.
    fn chunks(p: &[u8]) -> Vec<(u16, u16, u16, Vec<u8>)> {
        assert_eq!(&p[..4], b"HEP3");
        assert_eq!(usize::from(u16::from_be_bytes([p[4], p[5]])), p.len());
        let mut v = Vec::new();
        let mut i = 6;
        while i < p.len() {
            let vendor = u16::from_be_bytes([p[i], p[i + 1]]);
            let kind = u16::from_be_bytes([p[i + 2], p[i + 3]]);
            let len = u16::from_be_bytes([p[i + 4], p[i + 5]]);
            v.push((vendor, kind, len, p[i + 6..i + usize::from(len)].to_vec()));
            i += usize::from(len);
        }
        assert_eq!(i, p.len());
        v
    }

    const SIP: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n";

    fn meta<'a>(src: &str, dst: &str) -> Meta<'a> {
        Meta {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            ip_proto: 17,
            ts: Ts(1_700_000_000 * NANOS_PER_SEC + 123_456_789),
            proto_type: proto_type::SIP,
            capture_id: 0x0102_0304,
            auth_key: Some(b"secret"),
            correlation_id: Some(b"leg-a@host"),
            node_name: Some(b"sbc-1"),
        }
    }

    /// Every chunk's bytes against HEP3 rev. 12 (section 3, the chunk table): vendor 0,
    /// type, length including the 6-byte header, value in network order.
    #[test]
    fn ipv4_chunks_match_the_specification() {
        let mut p = Vec::new();
        encode(&meta("10.0.0.1:5060", "192.168.1.2:5080"), SIP, &mut p).unwrap();
        let want: Vec<(u16, u16, u16, Vec<u8>)> = vec![
            (0, 0x01, 7, vec![2]),
            (0, 0x02, 7, vec![17]),
            (0, 0x03, 10, vec![10, 0, 0, 1]),
            (0, 0x04, 10, vec![192, 168, 1, 2]),
            (0, 0x07, 8, vec![0x13, 0xc4]),
            (0, 0x08, 8, vec![0x13, 0xd8]),
            (0, 0x09, 10, 1_700_000_000u32.to_be_bytes().to_vec()),
            (0, 0x0a, 10, 123_456u32.to_be_bytes().to_vec()),
            (0, 0x0b, 7, vec![1]),
            (0, 0x0c, 10, vec![1, 2, 3, 4]),
            (0, 0x0e, 12, b"secret".to_vec()),
            (0, 0x11, 16, b"leg-a@host".to_vec()),
            (0, 0x13, 11, b"sbc-1".to_vec()),
            (0, 0x0f, (6 + SIP.len()) as u16, SIP.to_vec()),
        ];
        assert_eq!(chunks(&p), want);
        // The header: magic and the total length, big-endian.
        let total = 6 + want.iter().map(|c| usize::from(c.2)).sum::<usize>();
        assert_eq!(
            &p[..6],
            [b"HEP3".as_slice(), &(total as u16).to_be_bytes()].concat()
        );
        assert_eq!(p.len(), total);
        assert_eq!(
            encoded_len(&meta("10.0.0.1:5060", "192.168.1.2:5080"), SIP),
            total
        );
    }

    #[test]
    fn ipv6_and_mixed_families() {
        let mut p = Vec::new();
        let mut m = meta("[2001:db8::1]:5060", "10.0.0.2:5060");
        m.auth_key = None;
        m.correlation_id = None;
        m.node_name = None;
        m.ip_proto = 6;
        encode(&m, SIP, &mut p).unwrap();
        let c = chunks(&p);
        let kinds: Vec<(u16, u16)> = c.iter().map(|c| (c.1, c.2)).collect();
        assert_eq!(
            kinds,
            vec![
                (0x01, 7),
                (0x02, 7),
                (0x05, 22),
                (0x06, 22),
                (0x07, 8),
                (0x08, 8),
                (0x09, 10),
                (0x0a, 10),
                (0x0b, 7),
                (0x0c, 10),
                (0x0f, (6 + SIP.len()) as u16),
            ]
        );
        assert_eq!(c[0].3, vec![10]);
        assert_eq!(c[1].3, vec![6]);
        let (h, used) = parse_hep3(&p).unwrap();
        assert_eq!(used, p.len());
        assert_eq!(h.src, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(h.dst, Some("::ffff:10.0.0.2".parse().unwrap()));
        assert_eq!(h.correlation_id, None);
    }

    #[test]
    fn the_decoder_reads_back_every_field() {
        let mut p = vec![0xaa]; // appended after what the buffer held
        let m = meta("10.0.0.1:5060", "192.168.1.2:5080");
        encode(&m, SIP, &mut p).unwrap();
        let (h, _) = parse_hep3(&p[1..]).unwrap();
        assert_eq!(p[0], 0xaa);
        assert_eq!(h.ip_family, Some(2));
        assert_eq!(h.ip_proto, Some(17));
        assert_eq!(h.src, Some(m.src.ip()));
        assert_eq!(h.dst, Some(m.dst.ip()));
        assert_eq!((h.src_port, h.dst_port), (Some(5060), Some(5080)));
        assert_eq!((h.ts_sec, h.ts_usec), (Some(1_700_000_000), Some(123_456)));
        assert_eq!(h.proto_type, Some(1));
        assert_eq!(h.capture_id, Some(0x0102_0304));
        assert_eq!(h.correlation_id, Some(&b"leg-a@host"[..]));
        assert_eq!(h.node_name, Some(&b"sbc-1"[..]));
        assert_eq!(h.payload, HepPayload::Raw(SIP));
    }

    #[test]
    fn too_large_is_refused_whole() {
        let m = meta("10.0.0.1:5060", "10.0.0.2:5060");
        let fits = MAX_PACKET - encoded_len(&m, b"");
        let mut p = vec![1, 2, 3];
        encode(&m, &vec![b'x'; fits], &mut p).unwrap();
        assert_eq!(p.len(), 3 + MAX_PACKET);
        let mut q = vec![1, 2, 3];
        assert_eq!(
            encode(&m, &vec![b'x'; fits + 1], &mut q),
            Err(TooLarge {
                len: MAX_PACKET + 1
            })
        );
        assert_eq!(q, vec![1, 2, 3]);
    }

    #[test]
    fn timestamps_clamp() {
        assert_eq!(ts_parts(Ts(-5)), (0, 0));
        assert_eq!(ts_parts(Ts(1_500_000)), (0, 1500));
        assert_eq!(ts_parts(Ts(i64::MAX)), (u32::MAX, 999_999));
    }
}
