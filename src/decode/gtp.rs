//! GTP-U, the user-plane GPRS Tunnelling Protocol of 3GPP TS 29.281 (version 1, UDP port 2152):
//! how mobile networks carry a subscriber's IP packets (VoLTE/IMS SIP among them) between the
//! radio and the core (S1-U, S5/S8-U, N3, N9).
//!
//! Contract:
//! - [`parse`] reads one GTP-U header from the start of a UDP payload: the 8 mandatory octets,
//!   the 4 optional ones when any of the E, S or PN flags is set (sequence number, N-PDU number,
//!   next extension header type), then the chain of extension headers (each one's length in
//!   4-octet units, its last octet the type of the next one, 0 ending the chain). It returns the
//!   message type, the TEID and where the T-PDU starts and ends (the header's Length field counts
//!   from octet 9; a capture cut shorter than it keeps what was captured). Any inconsistency is
//!   a [`GtpError`], never a panic; only G-PDU (type 255) carries user data, the others (echo,
//!   error indication, end marker...) are counted by the caller and not decoded further.
//! - [`GtpStats`] counts what the decoder saw and keeps the distinct TEIDs in a bounded set
//!   ([`MAX_TEIDS`]): past the bound, packets of TEIDs not in it are counted as untracked (the
//!   distinct count is then a lower bound, and the end-of-run warnings say so).

use std::collections::BTreeSet;

/// The registered UDP port of GTP-U.
pub const PORT: u16 = 2152;

/// Message type of a G-PDU, the only one carrying a user packet.
pub const G_PDU: u8 = 0xff;

/// Distinct TEIDs kept per run (a bounded table: 8 bytes or so each in a B-tree).
pub const MAX_TEIDS: usize = 16_384;

/// An extension header chain longer than this is refused (each is at least 4 octets, so a
/// datagram could hold thousands: the bound keeps the walk short).
pub const MAX_EXTENSIONS: usize = 64;

/// A GTP-U header read from the front of a UDP payload.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct GtpU {
    pub msg_type: u8,
    pub teid: u32,
    /// Sequence number, when the S flag is set.
    pub seq: Option<u16>,
    /// N-PDU number, when the PN flag is set.
    pub npdu: Option<u8>,
    /// Extension headers walked.
    pub extensions: u8,
    /// Offset of the T-PDU (after every extension header).
    pub start: usize,
    /// End of the T-PDU: 8 + Length, or the end of what was captured if that comes first.
    pub end: usize,
}

/// Why bytes are not a GTP-U version 1 header.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum GtpError {
    /// Fewer than the 8 mandatory octets (or the 4 optional ones the flags announce).
    Short,
    /// Version is not 1, or the protocol type bit says GTP' (charging).
    NotV1,
    /// The Length field is shorter than the optional fields and extension headers it covers.
    BadLength,
    /// An extension header of length 0, one that runs past the message, or too many.
    BadExtension,
}

#[inline]
fn be16(d: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(i)?, *d.get(i + 1)?]))
}

/// Reads the GTP-U header at the start of `d` (see the module docs).
pub fn parse(d: &[u8]) -> Result<GtpU, GtpError> {
    let h = d.get(..8).ok_or(GtpError::Short)?;
    let flags = h[0];
    // Version 1 (bits 8-6) and PT = 1 (GTP, not GTP').
    if flags >> 5 != 1 || flags & 0x10 == 0 {
        return Err(GtpError::NotV1);
    }
    let msg_type = h[1];
    let len = u16::from_be_bytes([h[2], h[3]]) as usize;
    let teid = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    let declared_end = 8 + len;
    let end = declared_end.min(d.len());
    let (e, s, pn) = (flags & 0x04 != 0, flags & 0x02 != 0, flags & 0x01 != 0);
    let mut g = GtpU {
        msg_type,
        teid,
        seq: None,
        npdu: None,
        extensions: 0,
        start: 8,
        end,
    };
    if !(e || s || pn) {
        return Ok(g);
    }
    // The optional word is there when any of the three flags is set; its fields are meaningful
    // only when their own flag is.
    if len < 4 {
        return Err(GtpError::BadLength);
    }
    let opt = d.get(8..12).ok_or(GtpError::Short)?;
    if s {
        g.seq = be16(opt, 0);
    }
    if pn {
        g.npdu = Some(opt[2]);
    }
    let mut next = if e { opt[3] } else { 0 };
    let mut p = 12;
    while next != 0 {
        if g.extensions as usize >= MAX_EXTENSIONS {
            return Err(GtpError::BadExtension);
        }
        let units = *d.get(p).ok_or(GtpError::Short)? as usize;
        if units == 0 {
            return Err(GtpError::BadExtension);
        }
        let ext_end = p + units * 4;
        if ext_end > declared_end {
            return Err(GtpError::BadExtension);
        }
        next = *d.get(ext_end - 1).ok_or(GtpError::Short)?;
        p = ext_end;
        g.extensions += 1;
    }
    g.start = p;
    Ok(g)
}

/// The distinct TEIDs seen, at most [`MAX_TEIDS`]; shown in `--stats` (and `Debug`) as their
/// count.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TeidSet(BTreeSet<u32>);

impl std::fmt::Debug for TeidSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.len())
    }
}

impl TeidSet {
    /// Adds `teid`; false when the set is full and does not hold it.
    pub fn insert(&mut self, teid: u32) -> bool {
        if self.0.len() >= MAX_TEIDS && !self.0.contains(&teid) {
            return false;
        }
        self.0.insert(teid);
        true
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, teid: u32) -> bool {
        self.0.contains(&teid)
    }
}

impl serde::Serialize for TeidSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0.len() as u64)
    }
}

/// GTP-U counters of one decoder; they merge across worker threads (TEID sets by union, within
/// the bound).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct GtpStats {
    /// G-PDUs whose user packet was handed on to IP decoding.
    pub decoded: u64,
    /// Valid GTP-U messages that carry no user packet (echo, error indication, end marker...).
    pub not_gpdu: u64,
    /// Datagrams on the GTP-U port that are not a valid GTP-U v1 header (see [`GtpError`]; SIP-like
    /// text sent from or to the port is read as plain UDP instead), or empty G-PDUs. A G-PDU of
    /// a non-IP PDU session (Ethernet, unstructured) is counted in `decode.non_ip`.
    pub malformed: u64,
    /// Distinct tunnel endpoint ids of the G-PDUs (serialised as their number).
    pub teids: TeidSet,
    /// G-PDUs whose TEID found no room in the full [`TeidSet`] (the distinct count is a lower
    /// bound then).
    pub teids_untracked: u64,
}

impl GtpStats {
    pub fn teid(&mut self, teid: u32) {
        if !self.teids.insert(teid) {
            self.teids_untracked += 1;
        }
    }
}

impl std::ops::AddAssign<&GtpStats> for GtpStats {
    fn add_assign(&mut self, o: &GtpStats) {
        self.decoded += o.decoded;
        self.not_gpdu += o.not_gpdu;
        self.malformed += o.malformed;
        self.teids_untracked += o.teids_untracked;
        for t in &o.teids.0 {
            if !self.teids.insert(*t) {
                self.teids_untracked += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A G-PDU header with `ext` extension headers of `units` words each, then `payload`.
    fn gpdu(teid: u32, seq: Option<u16>, ext: &[(u8, u8)], payload: &[u8]) -> Vec<u8> {
        let mut opt = Vec::new();
        let mut flags = 0x30u8;
        if seq.is_some() || !ext.is_empty() {
            if seq.is_some() {
                flags |= 0x02;
            }
            if !ext.is_empty() {
                flags |= 0x04;
            }
            opt.extend_from_slice(&seq.unwrap_or(0).to_be_bytes());
            opt.push(0);
            opt.push(ext.first().map_or(0, |e| e.0));
            for (i, (_, units)) in ext.iter().enumerate() {
                let n = *units as usize * 4;
                let mut h = vec![0u8; n];
                h[0] = *units;
                h[n - 1] = ext.get(i + 1).map_or(0, |e| e.0);
                opt.extend_from_slice(&h);
            }
        }
        let len = (opt.len() + payload.len()) as u16;
        let mut v = vec![flags, G_PDU];
        v.extend_from_slice(&len.to_be_bytes());
        v.extend_from_slice(&teid.to_be_bytes());
        v.extend_from_slice(&opt);
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn reads_the_plain_header() {
        let d = gpdu(0x1234_5678, None, &[], b"\x45payload");
        let g = parse(&d).unwrap();
        assert_eq!(
            (g.msg_type, g.teid, g.start, g.end),
            (G_PDU, 0x1234_5678, 8, 16)
        );
        assert_eq!(&d[g.start..g.end], b"\x45payload");
    }

    #[test]
    fn walks_the_extension_chain_and_the_optional_word() {
        // PDU session container (0x85, one word) then a long one (0x40 UDP port, two words).
        let d = gpdu(7, Some(0x0102), &[(0x85, 1), (0x40, 2)], b"\x60ip6");
        let g = parse(&d).unwrap();
        assert_eq!(g.seq, Some(0x0102));
        assert_eq!(g.extensions, 2);
        assert_eq!(&d[g.start..g.end], b"\x60ip6");
    }

    #[test]
    fn a_capture_cut_short_keeps_what_it_has() {
        let d = gpdu(7, None, &[], b"\x45abcdef");
        let g = parse(&d[..12]).unwrap();
        assert_eq!((g.start, g.end), (8, 12));
    }

    #[test]
    fn refuses_what_is_not_gtp_u_v1() {
        assert_eq!(parse(b"\x30\xff\x00"), Err(GtpError::Short));
        // GTPv2-C flags (version 2) and GTP' (PT = 0).
        assert_eq!(parse(&[0x48, 1, 0, 4, 0, 0, 0, 0]), Err(GtpError::NotV1));
        assert_eq!(parse(&[0x20, 1, 0, 0, 0, 0, 0, 0]), Err(GtpError::NotV1));
        // Flags announce the optional word but Length does not cover it.
        assert_eq!(
            parse(&[0x32, 1, 0, 0, 0, 0, 0, 0]),
            Err(GtpError::BadLength)
        );
        // An extension header of length 0.
        let mut d = gpdu(1, None, &[(0x85, 1)], b"x");
        d[12] = 0;
        assert_eq!(parse(&d), Err(GtpError::BadExtension));
        // One running past the message.
        let mut d = gpdu(1, None, &[(0x85, 1)], b"x");
        d[12] = 9;
        assert_eq!(parse(&d), Err(GtpError::BadExtension));
    }

    #[test]
    fn the_teid_table_is_bounded_and_merges() {
        let mut a = GtpStats::default();
        for t in 0..MAX_TEIDS as u32 + 10 {
            a.teid(t);
        }
        assert_eq!(a.teids.len(), MAX_TEIDS);
        assert_eq!(a.teids_untracked, 10);
        a.teid(3); // one it holds: not untracked
        assert_eq!(a.teids_untracked, 10);
        let mut b = GtpStats::default();
        b.teid(1);
        b.teid(u32::MAX);
        let mut m = GtpStats::default();
        m += &b;
        m += &b;
        assert_eq!(m.teids.len(), 2);
        m += &a;
        assert_eq!(m.teids.len(), MAX_TEIDS);
        assert!(m.teids.contains(u32::MAX));
        assert!(m.teids_untracked >= 10);
    }

    /// A raw IPv4 frame: UDP from `sport` to 2152 carrying `payload`.
    fn udp_frame(sport: u16, payload: &[u8]) -> crate::capture::Frame {
        let total = 28 + payload.len();
        let mut f = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0,
            0,
            64,
            17,
            0,
            0,
        ];
        f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&PORT.to_be_bytes());
        f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(payload);
        crate::capture::Frame {
            ts: crate::time::Ts(0),
            link: crate::capture::LinkType::Raw,
            orig_len: f.len() as u32,
            data: bytes::Bytes::from(f),
        }
    }

    #[test]
    fn decoder_unwraps_nested_tunnels_up_to_the_depth_limit() {
        use crate::decode::{Decoder, MAX_DEPTH};
        let sip = b"OPTIONS sip:a@b SIP/2.0\r\n\r\n";
        let inner = udp_frame(5060, sip).data.to_vec();
        // The innermost packet is UDP to port 2152 too: its SIP is read as plain UDP.
        let mut pkt = inner.clone();
        let mut layers = 0;
        let mut ok_depth = None;
        while layers < MAX_DEPTH as usize + 3 {
            let f = udp_frame(2152, &gpdu(layers as u32, Some(1), &[(0x85, 1)], &pkt));
            let mut d = Decoder::default();
            let p = d.decode(&f);
            if let Some(p) = &p {
                assert_eq!(&p.payload[..], sip);
                assert_eq!(p.tunnels as usize, layers + 1);
                ok_depth = Some(layers + 1);
                assert_eq!(d.stats.gtpu.decoded as usize, layers + 1);
            } else {
                assert_eq!(d.stats.too_deep, 1, "{layers} layers");
            }
            assert_eq!(d.stats.gtpu.malformed, 0);
            pkt = f.data.to_vec();
            layers += 1;
        }
        assert_eq!(ok_depth, Some(MAX_DEPTH as usize));
    }

    #[test]
    fn decoder_counts_what_is_not_a_user_packet() {
        use crate::decode::Decoder;
        let mut d = Decoder::default();
        // SIP sent from port 2152 is SIP, not damaged GTP-U.
        let p = d.decode(&udp_frame(2152, b"INVITE sip:a@b SIP/2.0\r\n\r\n"));
        assert!(p.is_some_and(|p| p.payload.starts_with(b"INVITE")));
        // Garbage: counted, and handed on as plain UDP.
        assert!(d
            .decode(&udp_frame(2152, &[0, 1, 2, 3, 4, 5, 6, 7, 8]))
            .is_some());
        // Echo request; a G-PDU of an Ethernet PDU session; an empty G-PDU.
        assert!(d
            .decode(&udp_frame(2152, &[0x32, 1, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0]))
            .is_none());
        assert!(d
            .decode(&udp_frame(2152, &gpdu(9, None, &[], &[0x00, 0x11, 0x22])))
            .is_none());
        assert!(d
            .decode(&udp_frame(2152, &gpdu(9, None, &[], &[])))
            .is_none());
        let g = &d.stats.gtpu;
        assert_eq!((g.decoded, g.not_gpdu, g.malformed), (0, 1, 2));
        assert_eq!(d.stats.non_ip, 1);
        assert!(g.teids.is_empty());
    }
}
