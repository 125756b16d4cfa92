//! Decoder for HEP version 3 (HOMER Encapsulation Protocol, "EEP"), the
//! format capture agents (Kamailio, OpenSIPS, FreeSWITCH, heplify,
//! captagent...) use to ship copies of SIP and related traffic to a
//! collector, following the HEP3 specification rev. 12
//! (github.com/sipcapture/HEP, `docs/HEP3_rev12.pdf`).
//!
//! Contract:
//! - [`parse_hep3`] takes bytes that start with one HEP3 packet (one UDP
//!   datagram, or the front of a TCP stream where packets are concatenated
//!   and framed by their total length) and borrows its fields without
//!   copying. It returns the packet's total length so a TCP caller can step
//!   to the next one; [`HepError::TooShort`] means "wait for more bytes",
//!   every other error means the stream is not valid HEP3 here.
//! - Only the generic chunks (vendor 0) are interpreted; chunks of other
//!   vendors and unknown types are skipped, as the specification asks. A
//!   known chunk whose value has the wrong size is skipped too: losing one
//!   odd field is better than losing the SIP payload it travels with. Later
//!   duplicates of a chunk replace earlier ones.
//! - The authentication key chunk (0x0e) is deliberately not exposed: it is a
//!   credential, and an analyzer has no business displaying it.
//! - [`inflate_payload`] inflates a compressed payload (chunk 0x10), zlib
//!   (RFC 1950) or gzip (RFC 1952) told apart by their headers, and never
//!   produces more than the caller's limit.
//! - [`check_chunk_sizes`] is the collector's stricter judgement: a packet with any known
//!   fixed-size chunk of the wrong size is refused whole, as heplify-server refuses it.
//!   [`auth_key_is`] tells whether the packet's authentication key is the expected one without
//!   handing the key out.
//! - Never panics on any input and uses no `unsafe`.

use std::fmt;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The four bytes every HEP3 packet starts with.
pub const HEP3_MAGIC: &[u8; 4] = b"HEP3";

/// Magic plus the 16-bit total length.
const HEADER_LEN: usize = 6;
/// Vendor, type and length, each 16 bits.
const CHUNK_HEADER_LEN: usize = 6;

/// Values of the protocol-type chunk (0x0b) seen in practice.
pub mod proto_type {
    pub const SIP: u8 = 0x01;
    pub const XMPP: u8 = 0x02;
    pub const SDP: u8 = 0x03;
    pub const RTP: u8 = 0x04;
    pub const RTCP_JSON: u8 = 0x05;
    pub const MGCP: u8 = 0x06;
    pub const MEGACO: u8 = 0x07;
    pub const M2UA: u8 = 0x08;
    pub const M3UA: u8 = 0x09;
    pub const IAX: u8 = 0x0a;
    pub const H322: u8 = 0x0b;
    pub const H321: u8 = 0x0c;
    pub const LOG: u8 = 0x64;
}

/// Why a HEP3 packet could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HepError {
    /// Fewer bytes than the header or the announced total length; over TCP,
    /// more bytes may complete the packet.
    TooShort { needed: usize, len: usize },
    /// The data does not start with "HEP3".
    BadMagic,
    /// The announced total length cannot hold even the header.
    BadLength { total: usize, available: usize },
    /// The chunk at this offset from the packet start has a length below 6
    /// or runs past the packet's end.
    BadChunk { offset: usize },
    /// The compressed payload is neither valid zlib nor valid gzip.
    Inflate,
    /// Inflating would produce more than `max` bytes.
    TooLarge { max: usize },
    /// A known fixed-size chunk (vendor 0) whose value has another size.
    ChunkSize { kind: u16, len: usize },
}

impl fmt::Display for HepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { needed, len } => {
                write!(f, "HEP3 packet needs {needed} bytes, have {len}")
            }
            Self::BadMagic => f.write_str("not a HEP3 packet (bad magic)"),
            Self::BadLength { total, available } => write!(
                f,
                "HEP3 total length {total} is invalid ({available} bytes available)"
            ),
            Self::BadChunk { offset } => write!(f, "malformed HEP3 chunk at offset {offset}"),
            Self::Inflate => f.write_str("HEP3 compressed payload is not valid zlib or gzip"),
            Self::TooLarge { max } => {
                write!(f, "HEP3 payload inflates to more than {max} bytes")
            }
            Self::ChunkSize { kind, len } => {
                write!(f, "HEP3 chunk type {kind:#04x} has a {len}-byte value")
            }
        }
    }
}

impl std::error::Error for HepError {}

/// The captured payload a HEP3 packet carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HepPayload<'a> {
    /// No payload chunk.
    #[default]
    None,
    /// Chunk 0x0f: the captured bytes as they were.
    Raw(&'a [u8]),
    /// Chunk 0x10: compressed; see [`inflate_payload`].
    Compressed(&'a [u8]),
}

/// The fields of one HEP3 packet; `None` where the chunk was absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hep<'a> {
    /// Chunk 0x01: 2 for IPv4, 10 for IPv6.
    pub ip_family: Option<u8>,
    /// Chunks 0x03 / 0x05.
    pub src: Option<IpAddr>,
    /// Chunks 0x04 / 0x06.
    pub dst: Option<IpAddr>,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    /// Chunk 0x02: IP protocol number (17 UDP, 6 TCP, 132 SCTP).
    pub ip_proto: Option<u8>,
    pub ts_sec: Option<u32>,
    pub ts_usec: Option<u32>,
    /// Chunk 0x0b; see [`proto_type`].
    pub proto_type: Option<u8>,
    pub capture_id: Option<u32>,
    pub correlation_id: Option<&'a [u8]>,
    pub node_name: Option<&'a [u8]>,
    pub vlan: Option<u16>,
    pub payload: HepPayload<'a>,
}

/// Whether `data` starts with the HEP3 magic.
pub fn is_hep3(data: &[u8]) -> bool {
    data.starts_with(HEP3_MAGIC)
}

/// Total length announced by the HEP3 header at the start of `data`, for
/// framing a TCP stream before the whole packet has arrived; `None` if the
/// header is incomplete or not HEP3.
pub fn hep3_packet_len(data: &[u8]) -> Option<usize> {
    let header = data.get(..HEADER_LEN)?;
    let (magic, len) = header.split_first_chunk::<4>()?;
    if magic != HEP3_MAGIC {
        return None;
    }
    let len = len.first_chunk::<2>()?;
    Some(usize::from(u16::from_be_bytes(*len)))
}

/// Parses one HEP3 packet at the start of `data`; returns it and the number
/// of bytes it used (its total length). Bytes after it are not looked at.
pub fn parse_hep3(data: &[u8]) -> Result<(Hep<'_>, usize), HepError> {
    if data.len() < HEADER_LEN {
        // Judge the magic on what we have so a non-HEP stream is refused at
        // once instead of being reported as merely short.
        let have = data.len().min(HEP3_MAGIC.len());
        if data.get(..have) != HEP3_MAGIC.get(..have) {
            return Err(HepError::BadMagic);
        }
        return Err(HepError::TooShort {
            needed: HEADER_LEN,
            len: data.len(),
        });
    }
    let total = hep3_packet_len(data).ok_or(HepError::BadMagic)?;
    if total < HEADER_LEN {
        return Err(HepError::BadLength {
            total,
            available: data.len(),
        });
    }
    let packet = data.get(..total).ok_or(HepError::TooShort {
        needed: total,
        len: data.len(),
    })?;

    let mut hep = Hep::default();
    let mut offset = HEADER_LEN;
    while offset < total {
        let bad = HepError::BadChunk { offset };
        let rest = packet.get(offset..).ok_or(bad)?;
        let (head, _) = rest.split_first_chunk::<CHUNK_HEADER_LEN>().ok_or(bad)?;
        let [v0, v1, t0, t1, l0, l1] = *head;
        let vendor = u16::from_be_bytes([v0, v1]);
        let kind = u16::from_be_bytes([t0, t1]);
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        if len < CHUNK_HEADER_LEN {
            return Err(bad);
        }
        let value = rest.get(CHUNK_HEADER_LEN..len).ok_or(bad)?;
        if vendor == 0 {
            apply_chunk(&mut hep, kind, value);
        }
        offset += len;
    }
    Ok((hep, total))
}

/// Walks the chunks of one whole packet: (vendor, type, value) each.
fn chunks(packet: &[u8]) -> impl Iterator<Item = (u16, u16, &[u8])> {
    let mut offset = HEADER_LEN;
    std::iter::from_fn(move || {
        let rest = packet.get(offset..)?;
        let (head, _) = rest.split_first_chunk::<CHUNK_HEADER_LEN>()?;
        let [v0, v1, t0, t1, l0, l1] = *head;
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let value = rest.get(CHUNK_HEADER_LEN..len.max(CHUNK_HEADER_LEN))?;
        offset += len.max(CHUNK_HEADER_LEN);
        Some((
            u16::from_be_bytes([v0, v1]),
            u16::from_be_bytes([t0, t1]),
            value,
        ))
    })
}

/// The value size HEP3 rev. 12 fixes for a generic chunk type, if any.
fn fixed_size(kind: u16) -> Option<usize> {
    match kind {
        0x01 | 0x02 | 0x0b => Some(1),
        0x07 | 0x08 | 0x12 => Some(2),
        0x03 | 0x04 | 0x09 | 0x0a | 0x0c => Some(4),
        0x05 | 0x06 => Some(16),
        _ => None,
    }
}

/// Parses the packet at the start of `data` and refuses it if a known fixed-size chunk has
/// another size (see the module docs).
pub fn check_chunk_sizes(data: &[u8]) -> Result<usize, HepError> {
    let (_, total) = parse_hep3(data)?;
    let packet = data.get(..total).unwrap_or_default();
    for (vendor, kind, value) in chunks(packet) {
        if vendor != 0 {
            continue;
        }
        if let Some(n) = fixed_size(kind) {
            if value.len() != n {
                return Err(HepError::ChunkSize {
                    kind,
                    len: value.len(),
                });
            }
        }
    }
    Ok(total)
}

/// Whether the packet at the start of `data` carries the authentication key (chunk 0x0e) `key`.
pub fn auth_key_is(data: &[u8], key: &[u8]) -> bool {
    let Some(total) = hep3_packet_len(data) else {
        return false;
    };
    let packet = data.get(..total).unwrap_or_default();
    let mut found = None;
    for (vendor, kind, value) in chunks(packet) {
        if vendor == 0 && kind == 0x0e {
            found = Some(value);
        }
    }
    found == Some(key)
}

fn apply_chunk<'a>(hep: &mut Hep<'a>, kind: u16, value: &'a [u8]) {
    let u8v = || match value {
        [b] => Some(*b),
        _ => None,
    };
    let u16v = || value.first_chunk::<2>().filter(|_| value.len() == 2);
    let u32v = || value.first_chunk::<4>().filter(|_| value.len() == 4);
    let v6 = || {
        value
            .first_chunk::<16>()
            .filter(|_| value.len() == 16)
            .map(|b| IpAddr::V6(Ipv6Addr::from(*b)))
    };
    let v4 = || u32v().map(|b| IpAddr::V4(Ipv4Addr::from(*b)));
    // Each arm keeps the old value when the new one is malformed, so a bad
    // duplicate cannot erase a good field.
    match kind {
        0x01 => hep.ip_family = u8v().or(hep.ip_family),
        0x02 => hep.ip_proto = u8v().or(hep.ip_proto),
        0x03 => hep.src = v4().or(hep.src),
        0x04 => hep.dst = v4().or(hep.dst),
        0x05 => hep.src = v6().or(hep.src),
        0x06 => hep.dst = v6().or(hep.dst),
        0x07 => hep.src_port = u16v().map(|b| u16::from_be_bytes(*b)).or(hep.src_port),
        0x08 => hep.dst_port = u16v().map(|b| u16::from_be_bytes(*b)).or(hep.dst_port),
        0x09 => hep.ts_sec = u32v().map(|b| u32::from_be_bytes(*b)).or(hep.ts_sec),
        0x0a => hep.ts_usec = u32v().map(|b| u32::from_be_bytes(*b)).or(hep.ts_usec),
        0x0b => hep.proto_type = u8v().or(hep.proto_type),
        0x0c => hep.capture_id = u32v().map(|b| u32::from_be_bytes(*b)).or(hep.capture_id),
        0x0f => hep.payload = HepPayload::Raw(value),
        0x10 => hep.payload = HepPayload::Compressed(value),
        0x11 => hep.correlation_id = Some(value),
        0x12 => hep.vlan = u16v().map(|b| u16::from_be_bytes(*b)).or(hep.vlan),
        0x13 => hep.node_name = Some(value),
        _ => {}
    }
}

/// Inflates a compressed payload (HEP agents use zlib or gzip; both are
/// accepted, told apart by their headers), refusing to produce more than
/// `max` bytes.
pub fn inflate_payload(data: &[u8], max: usize) -> Result<Vec<u8>, HepError> {
    // One byte past the limit tells "exactly max" from "more than max"
    // without inflating the rest of a hostile stream.
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::new();
    let read = match data {
        [0x1f, 0x8b, ..] => flate2::read::GzDecoder::new(data)
            .take(limit)
            .read_to_end(&mut out),
        [cmf, flg, ..] if is_zlib_header(*cmf, *flg) => flate2::read::ZlibDecoder::new(data)
            .take(limit)
            .read_to_end(&mut out),
        _ => return Err(HepError::Inflate),
    };
    read.map_err(|_| HepError::Inflate)?;
    if out.len() > max {
        return Err(HepError::TooLarge { max });
    }
    Ok(out)
}

/// RFC 1950 §2.2: method 8 (deflate), window at most 32 KiB, and the two
/// bytes as a big-endian number divisible by 31.
fn is_zlib_header(cmf: u8, flg: u8) -> bool {
    cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        let s: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        s.chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
    }

    fn raw<'a>(h: &Hep<'a>) -> &'a [u8] {
        match h.payload {
            HepPayload::Raw(p) => p,
            other => panic!("expected raw payload, got {other:?}"),
        }
    }

    fn first_line(p: &[u8]) -> &str {
        let end = p
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(p.len());
        std::str::from_utf8(&p[..end]).unwrap()
    }

    // UDP payloads of packets 1, 2, 5 and 8 of
    // corpus/pcaps/sipcapture_hep-wireshark/hep.pcap (a HEP3 test generator
    // on 127.0.0.1 sending to port 9060).
    const PLAIN_1: &str = "\
        484550330307000000010007020000000200071100000003000ac0a8010100000004000ac0a8010200000007000813c4\
        00000008000813c400000009000a584d365c0000000a000a000000640000000b0007010000000c000a000007d1000000\
        0e000b6d7948657000000011001b71676633646d3972756469403132372e302e302e310000000f0284494e5649544520\
        7369703a6e6f64656a73403132372e302e302e31205349502f322e300a43616c6c2d49443a2071676633646d39727564\
        69403132372e302e302e310a435365713a203120494e564954450a46726f6d3a203c7369703a6e6f64656a7340313237\
        2e302e302e313e3b7461673d323632383838313536390a546f3a203c7369703a6e6f64656a73403132372e302e302e31\
        3e0a5669613a205349502f322e302f554450203132372e302e302e313a34383439353b6272616e63683d7a3968473462\
        4b39623832616138666234633737303534363661333435366466666637663338343333333333320a4d61782d466f7277\
        617264733a2037300a416c6c6f773a20494e564954452c2041434b2c2043414e43454c2c204259450a557365722d4167\
        656e743a2048455047454e2d5541430a436f6e74656e742d547970653a206170706c69636174696f6e2f7364700a436f\
        6e74656e742d4c656e6774683a203238370a0a763d300a6f3d6e6f64656a732d53657373696f6e203130323832333635\
        3937203139333033323933353320494e20495034203132372e3132362e3132342e313233733d6e6f64656a730a633d49\
        4e20495034203132372e3132362e3132342e3132330a743d3020300a6d3d617564696f2035303732205254502f415650\
        20313820302038203130310a613d666d74703a31303120302d31350a613d7274706d61703a313820473732392f383030\
        300a613d7274706d61703a302050434d552f383030300a613d7274706d61703a382050434d412f383030300a613d7274\
        706d61703a3130312074656c6570686f6e652d6576656e742f383030300a613d7074696d653a32300a613d73656e6472\
        6563760d0a0d0a";
    const PLAIN_2: &str = "\
        4845503301cb000000010007020000000200071100000003000ac0a8010200000004000ac0a8010100000007000813c4\
        00000008000813c400000009000a584d365c0000000a000a000001450000000b0007010000000c000a000007d1000000\
        0e000b6d7948657000000011001b71676633646d3972756469403132372e302e302e310000000f01485349502f322e30\
        2031303020547279696e670a43616c6c2d49443a2071676633646d3972756469403132372e302e302e310a435365713a\
        203120494e564954450a46726f6d3a203c7369703a6e6f64656a73403132372e302e302e313e3b7461673d3236323838\
        38313536390a546f3a203c7369703a6e6f64656a73403132372e302e302e313e3b7461673d3164323461323861306264\
        6564366334306433316536646238616162396163362e333639660a5669613a205349502f322e302f554450203139322e\
        3136382e312e313a34383439353b6272616e63683d7a39684734624b3962383261613866623463373730353436366133\
        3435366466666637663338343333333333323b72706f72743d34383439350a557365722d4167656e743a204845504745\
        4e2d5541530a436f6e74656e742d4c656e6774683a20300d0a0d0a";
    const PLAIN_5: &str = "\
        4845503300dc000000010007020000000200071100000003000ac0a8010100000004000ac0a801020000000700080000\
        000000080008000000000009000a584d365f0000000a000a0000007e0000000b0007640000000c000a000007d1000000\
        0e000b6d7948657000000011001b71676633646d3972756469403132372e302e302e310000000f00595359534c4f473a\
        2050726f63657373696e67204f5054494f4e5320726571756573742066726f6d206e6f64656a73207573696e67204361\
        6c6c2d49643a2071676633646d3972756469403132372e302e302e31";
    const PLAIN_8: &str = "\
        4845503301d6000000010007020000000200071100000003000ac0a8010100000004000ac0a801020000000700080000\
        000000080008000000000009000a584d36620000000a000a0000039f0000000b0007050000000c000a000007d1000000\
        0e000b6d7948657000000011001b71676633646d3972756469403132372e302e302e310000000f01537b2273656e6465\
        725f696e666f726d6174696f6e223a7b226e74705f74696d657374616d705f736563223a333635303739373231342c22\
        7061636b657473223a3130362c226e74705f74696d657374616d705f75736563223a3133323137333438313034313932\
        2c226f6374657473223a31363936302c227274705f74696d657374616d70223a31363936307d2c2273737263223a3435\
        313931363539372c2274797065223a3230302c227265706f72745f626c6f636b73223a5b7b22736f757263655f737372\
        63223a3839383334333737332c22686967686573745f7365715f6e6f223a32303838312c226672616374696f6e5f6c6f\
        7374223a302c2269615f6a6974746572223a312c227061636b6574735f6c6f7374223a302c226c7372223a2d31303937\
        3030363634362c22646c7372223a373733337d5d2c227265706f72745f636f756e74223a307d";

    // UDP payloads of the 7 distinct packets of
    // corpus/pcaps/sipcapture_hep-wireshark/hep3_compressed.pcap.pcapng
    // (packets 1, 4, 7, ..., 19; each was captured three times).
    const COMP_1: &str = "\
        4845503302f70000000100070200000002000706000000070008d44900000008000813c400000009000a59950fa20000\
        000a000a0004afe10000000b0007010000000c000a000000e400000003000ac0a8890100000004000ac0a889f7000000\
        0e000b6d7948657000000010028f789c95536d6f9b3010fe8ec47fb022ed5331e535bc956a0923156a9b4421abd48f06\
        0cb10a98d9a6a9faeb67d2aedda46e5afd01cedc7377dcf3dcedd2ab2cdfa73bc0c910b292eb5c803cdb9e5bbaa12a77\
        0485bf6ee7fb640bccc0d2cdb9af9bb6a79ba16df9861b150cf5e5217e0e0e574e71ed9ac80e6adf71ccd2288a0079be\
        1f38d8b12dcb77bd6a5e440f180faa728b9ee08ab22362150f81276b25b417a81421b898fee4cc744dc7755dc3709daf\
        1f55a5c565849f06c2308fe7c674a2b346b79b61d0096204325cc7b391f55fec857c424fbe272744c3d0921209427b9d\
        74fc04d61bde2148b8f6bf78c913d66bf119bc841f84183e578274b3f7ae4afef7ae38668fa4c42fe112a8779dc0ed29\
        987648978c42d2bda52a397ca4121e3d920ad3e84cba75d2732175c4f1ec42660ec7915421f6cdba740203d6765940db\
        f002e804c8849587e68555074661da97b388e106922a3655654f3f92ef65aa2e5565c568f70f4024501357568d6ccb73\
        e652650b07183a3532ec1295d33c26a86d61f62d047e5d1a75ed6118d4468d0bc38073cb710b64997f0e8b0cc9f18f10\
        9860f73ae7aab2685b7a0c41b6becbf6a90616c9b50692c53a496f34b0d9eeb3cd3ad7c0f25eba76e92add6960bdd967\
        ab7b0ddca679beb892dff3efcb3cd9654b6966ebd546a61cc58132f27cd23004df4883e51a8d52951e7592d20fba9d69\
        8061d476f1ecedded313ffd21a198967ef0b79c2f281f67c72ab4a3e0e0365025721a0a328e8d8571a68d8386a6040e2\
        a02a5bb8284bcc395c6371a4ec01667d2da5c9d234859256dd342340e0b1453dec698527f5eadfce9420d9dceadb75fe\
        1a39303acd0a8bad48d007dcc74bda8c7c3f992f9b8b7b016f70df884308a450aaf2137c755334";
    const COMP_4: &str = "\
        484550330361000000010007020000000200070600000007000813c400000008000813ce00000009000a59950fa20000\
        000a000a000951270000000b0007010000000c000a000000e400000003000ac0a889f700000004000ac0a889f7000000\
        0e000b6d794865700000001002f9789c9554df739b38107e6786ff41e3993e0551891fc640c9c471718649ebe48c9b69\
        1f85105863833849249dfcf527ec5e73bdc95d5b3dc04afbedaef6db5d6df39ba2dce55ba0f89048aa5ca54159dcbff5\
        5c645b0f9c247fefdeee56f700c79e8be70b17fb91eb055112a2394ae520a44e2b497abacf9ee3fd4d50dde23f0ecf39\
        86a4ddde7cbafd89239cf8de0285673f5918f881911965fc91d5d90fc07f050931f1e366110498a2aa8a49b458c4010b\
        7ccf5b84513dafd20363836dada5e812f06e4af002873808c310a130b83a677b996ad266b5d710df8b82b9b989c76206\
        8386209f123ad1b013ff636e5b2b723cc2e27d02160d454d13311837a861154270ee0561453c7cf5431ac6a4647f2600\
        83ed37f66deb23f90ad7423e1159ab04cc638311bd66bd861f58dfea7d02d0f98850fdda6d5e2354549729fb3a70c954\
        3647d34a2f5ad76f87c1e54472285993cd46d9bff197e60b23f39f94900cc39153a2b9e85ddea913d86d55472057ceaf\
        e20d3dcc6df4efe00d7caff5f07b2178377bc98aaaffce4a31f9c8293b9b1ba0db759a1d4fc6a223ae6114f2eebb2baa\
        e0a330f0f491d74ca41746edf25e69d37f2c9bbd339e9371e475c216b8a1418c60e3d30afa288a6110130ceb88cc2baf\
        895185fdcb99e9e71672d3cdb6558ec3d4e7ac4e80187525c6be765a398ece40f4deb6eec954eb537d37873546919998\
        ab57c74e9b5950a791d174488f722ab76d7d866545e146d40c162684aae8d5588dbd1e8d6bf8c0153791e186e927210f\
        27c4b98d6d6b793c8aa704149b8762973b60b9ba75c06ab959e51f1c7077bf2bee36a503aebf18d5365fe75b076cee76\
        c5fa8b033ee665b9bc31e7e5a7eb72b52dae8d586cd677c6e5a8f742f2e753d912f09eb7ccbc2ea329444f3ac3e22be3\
        34738064e4d865b3effb5e9c2837d22879367b79a74e58c340af26f594df9252a6d44b7a7d6326b7c8f31c9aa976314e\
        01874f47d2c37ee2c7d4a3f9c79a1cac44e70ebdfa66394831555f665eaac581f5d9b56847b59b44dbb2adbf0002db96\
        bc";
    const COMP_7: &str = "\
        484550330201000000010007020000000200070600000007000813ce00000008000813c400000009000a59950fa20000\
        000a000a00098a9b0000000b0007010000000c000a000000e400000003000ac0a889f700000004000ac0a889f7000000\
        0e000b6d79486570000000100199789c8552cb6edb3010bc0bd03f10ba3652488ad483aa8ab4b6e3b8ae51d776daa037\
        4a5a3d1a5b94293a0efcf56511f4d0a040ae33b33bb3d8d92ed6d734c0886182ee7b7932add2dd052ad7f9de4981b62f\
        f4f56eb24624a501899280847140592c388e70a607a54dced3288e330d25744f50e5af9459a1655fb6f9256de7ac5892\
        6f8f9719f165b399df2fdff02122a409e67f6d58c8f8ff6dc82b134e6498d60963a4c44591ca384952062ca434e17115\
        15d923c0e03ab75a1d047a3f7683784738619c738c39bbd1e5188ce64366649357b496218d5964935048c167b5c46129\
        cb00bbce4ebd352e7fb6e1b4769d89dceffdc554a0a42e715dc7e0a735aea1c0d88f28e385a4e4e69f8becc8168e0211\
        b499cd17dbdd6ce33a2bf9ecdf2a7d96ba1a058a6d8089ea0df4c6ff027d635a812cf4e37cf63fda4f5ab82ba50181a6\
        5d03a3411ae4fe907b2fe9bc2bd4abbe84dcfb5c359f9a875fddd7e8f4142ebb3bb35a3f93d944cf1f965624f78dad84\
        690ff96acaafd0510db9f7a7279652833c9eec02968082d1731dd7f90d5cb8a895";
    const COMP_10: &str = "\
        4845503301e1000000010007020000000200070600000007000813c4000000080008d44900000009000a59950fa20000\
        000a000a000a204f0000000b0007010000000c000a000000e400000003000ac0a889f700000004000ac0a88901000000\
        0e000b6d79486570000000100179789c8551cb6edb3010bc0bd03f10ba3652488ad483ae8ab4b6e3baae512376dba037\
        8a5a4a6a6d51a6e838c8d797454e39f5b698c7627667bfdeddd204238609fa3ec88beb8ced5fa009831fbd1468ff4adf\
        1ee63b444a9a90ac48489a2744a4b4c07c6647635dc559cafc0c0afa2768aa37c2596de5a0baeaa5ec56acde7022d352\
        178c1185ebba947951940c584a69c1f326ab677f00c630b8b7e624d0fba91fc53bc209e39c63ccd99d555332b90f3327\
        dbaaa15aa63467994f42a18498698953255582c3e060fe6797bfba74a1c3602e8fc778bd10a8d00a6b9d435c6aaca1c6\
        38ce28e3b5a4e4eecd45deb287b340043d2c57ebfd61f910065bf91cdf1b7b95b69904ca7d80b9191c0c2efe0a43eb3a\
        813cf4f37a8d3ffa0f7bb857d281408bbe85c9210bf278aaa2d774d10d1acca0a08abe34eda7f6f177ff2dbb3ca59bfe\
        b3dbee9ec9726e578f1b2f92c7d657e5ba53b55df01b74366315fdebcf536694e78b5fc00a3030456110067f01e7268c\
        70";
    const COMP_13: &str = "\
        48455033035b0000000100070200000002000706000000070008d44900000008000813c400000009000a59950fa20000\
        000a000a000a97550000000b0007010000000c000a000000e400000003000ac0a8890100000004000ac0a889f7000000\
        0e000b6d794865700000001002f3789c9554d96edb38147d37e07f200ccc534455d4626d5530b622a79ad40b2c4fd13e\
        525c644e2c51a1a824e8d70feda4cb0099c1940f1279efb9fb21f7c56d591d8a3d18449f2832d8830655b97be7dace74\
        f249e0e4dbe9dd21df0114bb369a4736f2421b259e1b39415a2bdc9163f6353edefaf59dcb7d8a31f7a23a4288d57548\
        23821022019da39ac62cbd67ac9f4ed6f819aea47ac28a0e09084dac5c761a139d80f7e74cae5080fc20081c27f07f7f\
        2baaacaf53f6dc0bc5866cee9c577ad5d85ed3f7b6c04a40c578361b55f79bb7305f189aff590971df9f04c15ac8ce16\
        ed7001dbcdd0622806ebffe24d9f98cdf5afe00dfca875ff6b21443bfb511519febdaa81a94741d88bb901da6dabd9e9\
        622c5b6c9b8e42d17e774506f8280d3c7d1494c9f4caa86dd10ddacc9165b3f7c673328e82262c429cf8b103b9476ae8\
        39610cfd182348433caf5d1e3b35f2ae67a9620d143443d3c941be35be17565d4f272b25dbff00a41a3719ad6b8a1ce6\
        bb711c32c4107479c089c3f8998f393e9d60799380c888380f198cb9c359ed3870eefa418d5df44fb218938a3d24c005\
        fb579e4f278bd3493e25a0dc7c2a0f850516f99d05f2c5262f3e5a60bb3b94db4d6581e517a3da17ab626f81cdf650ae\
        be58605d54d5e2d6c8ab3f9755be2f97665b6e565be372d447a9c4d7cb0c1370231a66aed168a6d2e1d6b4f48d6a6716\
        500c9fda6cf6fddcc94bffffa0cdb2f9fc97d8cec747ef4e7cd0ebdd332a7275fbf9ce804625b2d98fbb7a7133f4b21b\
        8ca547235c53272673823c1c12eab1701e7b615c07dc75a86fc0f8d49844f5b1cdd6378105c86b4ce64621e3883b91eb\
        fbc80b0c52f6f861342a3f62920d46f020fb0c9b424da224735e96697035f6bd549ad104c851d772eca8051a358e16e8\
        b13e4e273bb820840d03dc30fd24d53d2c3b6e785216450123c70c0ba540c0a713ee6027293b5389ffb4ce0ef2eddade\
        6daa57cb5ec9337155e6a65adeb32e5bca661c0ee7edcb33c23a0d3fb2aed1c70418d64c277f03b3d17f23";
    const COMP_16: &str = "\
        4845503303c3000000010007020000000200070600000007000813c400000008000813ce00000009000a59950fa20000\
        000a000a000a9f7a0000000b0007010000000c000a000000e400000003000ac0a889f700000004000ac0a889f7000000\
        0e000b6d7948657000000010035b789c9554db6edb38107d37e07f200cec534495d4c5ba55416c474eb5691cc3f606e9\
        234551323796a8905412f4eb97b2d3a65d642fe583c4cb99339c3333dc6457f976976d80e25d2ca9b29506db7cfdc1b1\
        d17874c749fc6df561b758031c39369e86367603dbf182d8475394c84e489d1492b4749f7e8df6575e71edae9e37ed3d\
        749c4739fbf41f4438769d10f9279ed4f75ccfcc1965fc8995e94fc0bf39712aaf24a472c322c4981545508614634cfd\
        728a8b3262c90363dd78b494a289c1c721c033ec63cff77d847cefe214ed79a2499d96455162c43c278a028619864ee5\
        5714b16a906127fec57c3c5a90c301e69731088d4555050c4615aa5881109c3a9e5f10075ffc148631d9b2c7183860f3\
        aafe7874435ee052c867224b1583696430a2d5acd5f0336b6bbd8f013a6d11aadfbbcd7b828ae23c612f1d974ca55334\
        8ce4acb6ddbaeb6c4e24879255e9a497ed6feecc7c6160fec321245d77e094682e5a9b37ea08b66bd510c895f57ff146\
        1e6657fa57f006bed7bafb3517bc99bc4545d53f47a5987ce2949dcc0dd06e1acd0e4763d110db280a79f39d8a2af824\
        0c3c79e22513c99939b679abb4a93f964e3e1ae6b8ef7919b31057d48b10ac5c5a40170511f4228261199069e154112a\
        b07b3e31f55c436eaa793cdaf6dd50e7ac8c81e87521fab6b46ad9f75647f47e3c5a9321d7c7fcae1e961805a6632ede\
        6d3b6d7a411d5b46d32e39c821dde3d13ddc1614ae44c9606e5ca8825ef445dfeade50c33baeb8f10c574c3f0bf97044\
        9cca783c9a1d0ee23906f9ea2edf6516982dae2db098ad16d9670bdcae77f9ed6a6b81f91773b4c996d9c602abdb5dbe\
        fc62819b6cbb9d5d99fded1ff3ed6293cfcd345f2d6f0d65aff742f2afc7b4c5e092d7ccbc2ebd49444b1aa3e23bed34\
        b18064e4d0a493efeb561c25ffbdace7f5fd9ffc76da3fb9d7fc93be59bfe06c21afeeaf0da8973c9dbc3d61471a234e\
        ab8ca55b86a4285144a714bb24a0a5cb8269e40651e1570e2a3d032687da5c54ef9bf4e6d2b7007df5c99c306015ae50\
        e8781e767d83141d79eccd911732c194d978145d4a4ca0e6a23445a78107b1679432a5deb46e2bf38ce45996c1109974\
        e20470f87c202d6c876499e2a87e1803c1423476d7aa57cb4e8aa11465ea245a3cb0369d8bba57bb613a1e8d477f01da\
        2cc2ad";
    const COMP_19: &str = "\
        4845503302fb000000010007020000000200070600000007000813ce00000008000813c400000009000a59950fa20000\
        000a000a000afa7a0000000b0007010000000c000a000000e400000003000ac0a889f700000004000ac0a889f7000000\
        0e000b6d79486570000000100293789c95545d6f9b30147d47e23fa0487b2aa636df98a62a4d4986da2651a0d5fa68c0\
        106b10a871d26abf7e4eba755a9ba9eb0b46bee7dc73efd5b94e93e5a96940cd84505b5cabca3d23584b5f2e4fb3c952\
        43816920d73790e519a6ed6107ba30e47dc7c5d8095ccf0b392d28dbd172fc0619e69c6c8af5f847b09ed9f9b5357f5a\
        6dbe01d37ce4d1d70f7410b64c1f3abf656ccb768ecba037226665978454969ffb08d13cf74abf4008154ee9a2bc0c68\
        f89dd25e55a6bc6bb17636b01e9f2007d98ee340e8d817bc188c419c8782d4e332cf4b04a96d0681471145c0ac9caa80\
        b432a0aa64dd477452f1a299abca84340d48aeb0e64b725579140415ac680e21704ddbc989892efeea485252fa883553\
        5bc5b324cde295aadc926730edf813e1e580354f1630e936826e04b8a19b5aacb1f6eb8a14e25861c766dbe5e7217dee\
        19a7c3d8776d08c393dab0eabe3718e10c705a8d475bbef96245f20b3c79ee8380f47dc30a2258b731583b1cc0463db4\
        04b041ff5fbc1c14352af119bc84af85e83f27c1dad19fae8ae1df5d0d94ef58415fe81268b4ada0cd81dcb5c4900305\
        ac7d4d550c60d74978b86325edc2131936d86610d289743c3a9399f176cb4a4c7d5415760041651539b0a017003b2008\
        941e7173b30a608eacf39174760d98f4b5aaa4db7eef785a624db09672bd2762ad2a51d3744ff8d50f7a32bf4fb2588f\
        26d7fa249a4fe21bfdf221d617cb2c59cc53199d2ef4bbe5552421e9dd653a592597b13e5f64c9f4415fc55399e0364e\
        d36816abca1511146bd97aab6bc8d3a26d2ddf01f9032d6cf918416d769bc9aa5e860356dd768f3ed8abe3acbe78ff34\
        f83014722187c3de8aa20f1b7eae2a4bb2b7e88137ff3e45d0933b7f84ecbe27ef5daa2aaaf2136ca56140";

    #[test]
    fn plain_capture_sip() {
        let b = unhex(PLAIN_1);
        assert!(is_hep3(&b));
        assert_eq!(hep3_packet_len(&b), Some(775));
        let (h, used) = parse_hep3(&b).unwrap();
        assert_eq!(used, 775);
        assert_eq!(h.ip_family, Some(2));
        assert_eq!(h.ip_proto, Some(17));
        assert_eq!(h.src, v4(192, 168, 1, 1));
        assert_eq!(h.dst, v4(192, 168, 1, 2));
        assert_eq!((h.src_port, h.dst_port), (Some(5060), Some(5060)));
        assert_eq!(h.ts_sec, Some(0x584d_365c));
        assert_eq!(h.ts_usec, Some(100));
        assert_eq!(h.proto_type, Some(proto_type::SIP));
        assert_eq!(h.capture_id, Some(2001));
        assert_eq!(h.correlation_id, Some(&b"qgf3dm9rudi@127.0.0.1"[..]));
        assert_eq!(h.node_name, None);
        assert_eq!(h.vlan, None);
        assert_eq!(raw(&h).len(), 644 - 6);
        assert_eq!(first_line(raw(&h)), "INVITE sip:nodejs@127.0.0.1 SIP/2.0");

        let b = unhex(PLAIN_2);
        let (h, used) = parse_hep3(&b).unwrap();
        assert_eq!(used, 459);
        assert_eq!(h.src, v4(192, 168, 1, 2));
        assert_eq!(h.dst, v4(192, 168, 1, 1));
        assert_eq!(h.ts_usec, Some(0x145));
        assert_eq!(first_line(raw(&h)), "SIP/2.0 100 Trying");
    }

    #[test]
    fn plain_capture_log_and_rtcp() {
        let b = unhex(PLAIN_5);
        let (h, _) = parse_hep3(&b).unwrap();
        assert_eq!(h.proto_type, Some(proto_type::LOG));
        assert_eq!((h.src_port, h.dst_port), (Some(0), Some(0)));
        assert!(raw(&h).starts_with(b"SYSLOG: Processing OPTIONS request"));

        let b = unhex(PLAIN_8);
        let (h, _) = parse_hep3(&b).unwrap();
        assert_eq!(h.proto_type, Some(proto_type::RTCP_JSON));
        assert!(raw(&h).starts_with(b"{\"sender_information\""));
    }

    #[test]
    fn compressed_capture_inflates_to_sip() {
        let want = [
            (
                COMP_1,
                "REGISTER sip:rcs.st SIP/2.0",
                (137, 1),
                54345,
                (137, 247),
                5060,
                1112,
            ),
            (
                COMP_4,
                "REGISTER sip:rcs.st SIP/2.0",
                (137, 247),
                5060,
                (137, 247),
                5070,
                1339,
            ),
            (
                COMP_7,
                "SIP/2.0 401 Unauthorized",
                (137, 247),
                5070,
                (137, 247),
                5060,
                592,
            ),
            (
                COMP_10,
                "SIP/2.0 401 Unauthorized",
                (137, 247),
                5060,
                (137, 1),
                54345,
                488,
            ),
            (
                COMP_13,
                "REGISTER sip:rcs.st SIP/2.0",
                (137, 1),
                54345,
                (137, 247),
                5060,
                1253,
            ),
            (
                COMP_16,
                "REGISTER sip:rcs.st SIP/2.0",
                (137, 247),
                5060,
                (137, 247),
                5070,
                1480,
            ),
            (
                COMP_19,
                "SIP/2.0 200 OK",
                (137, 247),
                5070,
                (137, 247),
                5060,
                1190,
            ),
        ];
        for (hex, line, src, sport, dst, dport, size) in want {
            let b = unhex(hex);
            let (h, used) = parse_hep3(&b).unwrap();
            assert_eq!(used, b.len());
            assert_eq!(h.ip_proto, Some(6));
            assert_eq!(h.proto_type, Some(proto_type::SIP));
            assert_eq!(h.capture_id, Some(228));
            assert_eq!(h.ts_sec, Some(0x5995_0fa2));
            assert_eq!(h.src, v4(192, 168, src.0, src.1));
            assert_eq!(h.dst, v4(192, 168, dst.0, dst.1));
            assert_eq!((h.src_port, h.dst_port), (Some(sport), Some(dport)));
            let HepPayload::Compressed(z) = h.payload else {
                panic!("expected compressed payload");
            };
            // The agent used zlib (78 9c, default level).
            assert_eq!(&z[..2], &[0x78, 0x9c]);
            let sip = inflate_payload(z, 65536).unwrap();
            assert_eq!(sip.len(), size);
            assert_eq!(first_line(&sip), line);
            assert!(sip.ends_with(b"\r\n\r\n"));
            assert_eq!(
                inflate_payload(z, size - 1),
                Err(HepError::TooLarge { max: size - 1 })
            );
            assert_eq!(inflate_payload(z, size).map(|v| v.len()), Ok(size));
        }
    }

    #[test]
    fn gzip_payload_and_garbage() {
        // `printf 'OPTIONS sip:a@b SIP/2.0\r\n\r\n' | gzip -n`
        let gz = unhex(
            "1f8b0800000000000003f30f08f1f4f70b5628ce2cb04a74485208f6\
             0cd037d233e0e5e2e50200120f03b61b000000",
        );
        assert_eq!(
            inflate_payload(&gz, 100).unwrap(),
            b"OPTIONS sip:a@b SIP/2.0\r\n\r\n"
        );
        assert_eq!(inflate_payload(&gz, 5), Err(HepError::TooLarge { max: 5 }));
        assert_eq!(inflate_payload(b"", 100), Err(HepError::Inflate));
        assert_eq!(
            inflate_payload(b"INVITE sip:x SIP/2.0", 100),
            Err(HepError::Inflate)
        );
        let b = unhex(COMP_7);
        let (h, _) = parse_hep3(&b).unwrap();
        let HepPayload::Compressed(z) = h.payload else {
            panic!()
        };
        assert_eq!(
            inflate_payload(&z[..z.len() / 2], 65536),
            Err(HepError::Inflate)
        );
    }

    /// Builds a packet from (vendor, type, value) chunks.
    fn build(chunks: &[(u16, u16, &[u8])]) -> Vec<u8> {
        let mut v = b"HEP3\0\0".to_vec();
        for (vendor, kind, value) in chunks {
            v.extend_from_slice(&vendor.to_be_bytes());
            v.extend_from_slice(&kind.to_be_bytes());
            v.extend_from_slice(&((value.len() + 6) as u16).to_be_bytes());
            v.extend_from_slice(value);
        }
        let total = (v.len() as u16).to_be_bytes();
        v[4..6].copy_from_slice(&total);
        v
    }

    #[test]
    fn ipv6_vlan_node_vendor_and_odd_sizes() {
        let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let dst: Ipv6Addr = "2001:db8::2".parse().unwrap();
        let b = build(&[
            (0, 0x01, &[10]),
            (0, 0x05, &src.octets()),
            (0, 0x06, &dst.octets()),
            (0, 0x12, &[0x00, 0x64]),
            (0, 0x13, b"sbc-1"),
            (0x0003, 0x07, &[0xff, 0xff]), // another vendor's type 7
            (0, 0x0c, &[0x12, 0x34]),      // capture id of the wrong size
            (0, 0x07, &[0x13, 0xc4]),
            (0, 0x99, b"unknown"),
            (0, 0x0f, b"OPTIONS sip:x SIP/2.0\r\n\r\n"),
        ]);
        let (h, used) = parse_hep3(&b).unwrap();
        assert_eq!(used, b.len());
        assert_eq!(h.ip_family, Some(10));
        assert_eq!(h.src, Some(IpAddr::V6(src)));
        assert_eq!(h.dst, Some(IpAddr::V6(dst)));
        assert_eq!(h.vlan, Some(100));
        assert_eq!(h.node_name, Some(&b"sbc-1"[..]));
        assert_eq!(h.src_port, Some(5060));
        assert_eq!(h.capture_id, None);
        assert_eq!(first_line(raw(&h)), "OPTIONS sip:x SIP/2.0");

        let empty = build(&[]);
        assert_eq!(parse_hep3(&empty).unwrap().0, Hep::default());
    }

    #[test]
    fn tcp_stream_framing() {
        let a = unhex(PLAIN_1);
        let b = unhex(PLAIN_2);
        let stream = [a.clone(), b.clone()].concat();
        let (h1, n1) = parse_hep3(&stream).unwrap();
        assert_eq!(first_line(raw(&h1)), "INVITE sip:nodejs@127.0.0.1 SIP/2.0");
        let (h2, n2) = parse_hep3(&stream[n1..]).unwrap();
        assert_eq!(first_line(raw(&h2)), "SIP/2.0 100 Trying");
        assert_eq!(n1 + n2, stream.len());
        assert_eq!(
            parse_hep3(&stream[..n1 + 10]).map(|_| ()),
            Ok(()),
            "first packet parses without the second"
        );
        assert_eq!(
            parse_hep3(&stream[n1..n1 + 10]),
            Err(HepError::TooShort {
                needed: b.len(),
                len: 10
            })
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse_hep3(b"HEP"),
            Err(HepError::TooShort { needed: 6, len: 3 })
        );
        assert_eq!(
            parse_hep3(b""),
            Err(HepError::TooShort { needed: 6, len: 0 })
        );
        assert_eq!(parse_hep3(b"HEP2\0\x10"), Err(HepError::BadMagic));
        assert_eq!(parse_hep3(b"INV"), Err(HepError::BadMagic));
        assert!(!is_hep3(b"\x01\x10\x02\x11"));
        assert_eq!(
            parse_hep3(b"HEP3\0\x05"),
            Err(HepError::BadLength {
                total: 5,
                available: 6
            })
        );
        // Chunk length 4 (< 6).
        assert_eq!(
            parse_hep3(b"HEP3\0\x0c\0\0\0\x01\0\x04"),
            Err(HepError::BadChunk { offset: 6 })
        );
        // Chunk claims 9 bytes but the packet ends after 8.
        assert_eq!(
            parse_hep3(b"HEP3\0\x0e\0\0\0\x01\0\x09\x02\x00"),
            Err(HepError::BadChunk { offset: 6 })
        );
        // Three stray bytes after the last chunk.
        assert_eq!(
            parse_hep3(b"HEP3\0\x10\0\0\0\x01\0\x07\x02\0\0\0"),
            Err(HepError::BadChunk { offset: 13 })
        );
        for e in [
            HepError::TooShort { needed: 1, len: 0 },
            HepError::BadMagic,
            HepError::BadLength {
                total: 1,
                available: 2,
            },
            HepError::BadChunk { offset: 3 },
            HepError::Inflate,
            HepError::TooLarge { max: 4 },
            HepError::ChunkSize { kind: 7, len: 3 },
        ] {
            assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn strict_sizes_and_the_auth_key() {
        let good = unhex(PLAIN_1);
        assert_eq!(check_chunk_sizes(&good), Ok(good.len()));
        // The capture's generator sent "myHep" as its key.
        assert!(auth_key_is(&good, b"myHep"));
        assert!(!auth_key_is(&good, b"myHe"));
        assert!(!auth_key_is(&good, b"other"));
        let odd = build(&[(0, 0x07, &[1, 2, 3]), (0, 0x0f, b"x")]);
        assert_eq!(
            check_chunk_sizes(&odd),
            Err(HepError::ChunkSize { kind: 7, len: 3 })
        );
        // The lax decoder keeps the payload of the same packet.
        assert!(parse_hep3(&odd).is_ok());
        // Another vendor's chunk of any size is fine.
        let vendor = build(&[(3, 0x07, &[1, 2, 3]), (0, 0x0c, &[0, 0, 0, 9])]);
        assert!(check_chunk_sizes(&vendor).is_ok());
        assert!(!auth_key_is(&vendor, b""));
        let keyed = build(&[(0, 0x0e, b"")]);
        assert!(auth_key_is(&keyed, b""));
    }

    use crate::testutil::XorShift;

    fn exercise(data: &[u8]) {
        if let Ok((h, used)) = parse_hep3(data) {
            assert!(used <= data.len());
            if let HepPayload::Compressed(z) = h.payload {
                if let Ok(v) = inflate_payload(z, 2048) {
                    assert!(v.len() <= 2048);
                }
            }
        }
        let _ = inflate_payload(data, 512);
        let _ = check_chunk_sizes(data);
        let _ = auth_key_is(data, b"myHep");
    }

    #[test]
    fn truncations_and_mutations_never_panic() {
        let inputs = [unhex(PLAIN_1), unhex(COMP_7)];
        for b in &inputs {
            for n in 0..b.len() {
                let r = parse_hep3(&b[..n]);
                assert!(
                    matches!(r, Err(HepError::TooShort { .. })),
                    "truncated to {n}: {r:?}"
                );
            }
        }
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        for _ in 0..4000 {
            let mut m = inputs[rng.below(2)].clone();
            for _ in 0..1 + rng.below(6) {
                let i = rng.below(m.len());
                match rng.below(4) {
                    0 => m[i] = rng.next() as u8,
                    1 => m[i] ^= 1 << rng.below(8),
                    // Bias towards the header and chunk lengths, where
                    // parsing decisions are made.
                    2 => {
                        let j = rng.below(64.min(m.len()));
                        m[j] = rng.next() as u8;
                    }
                    _ => m.truncate(i),
                }
                if m.is_empty() {
                    break;
                }
            }
            exercise(&m);
        }
    }
}
