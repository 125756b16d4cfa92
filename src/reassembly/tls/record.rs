//! TLS records and handshake messages off one direction of a TCP stream (RFC 8446 §5.1,
//! RFC 5246 §6.2.1, §7.4), and the two hellos' fields decryption needs.
//!
//! Bounded: a record reader holds at most one record (its header and at most
//! [`MAX_FRAGMENT`] bytes); a handshake reader keeps the body of a hello up to
//! [`MAX_HELLO`] bytes and of any other message nothing but its type (its bytes are counted
//! off). Nothing here panics on any input (property test and fuzz target `tls`).

/// The largest record fragment TLS allows: 2^14 plus the expansion of TLS 1.2 (RFC 5246
/// §6.2.3); TLS 1.3 allows 2^14 + 256.
pub const MAX_FRAGMENT: usize = (1 << 14) + 2048;
/// Bytes of a hello kept (a ClientHello with many extensions stays well under).
pub const MAX_HELLO: usize = 16 << 10;
pub const HEADER: usize = 5;

pub mod content {
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    pub const ALERT: u8 = 21;
    pub const HANDSHAKE: u8 = 22;
    pub const APPLICATION_DATA: u8 = 23;
    pub const HEARTBEAT: u8 = 24;
}

pub mod handshake {
    pub const CLIENT_HELLO: u8 = 1;
    pub const SERVER_HELLO: u8 = 2;
    pub const FINISHED: u8 = 20;
    pub const KEY_UPDATE: u8 = 24;
}

/// A record header: content type, version, fragment length.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub typ: u8,
    pub version: [u8; 2],
    pub len: usize,
}

/// Reads a record header at the start of `b`: `Ok(None)` when fewer than 5 bytes, `Err` when
/// they are no TLS record header (a known content type, version 3.x, a length TLS allows).
pub fn header(b: &[u8]) -> Result<Option<Header>, NotTls> {
    let Some(h) = b.get(..HEADER) else {
        return Ok(None);
    };
    let len = usize::from(u16::from_be_bytes([h[3], h[4]]));
    if !(content::CHANGE_CIPHER_SPEC..=content::HEARTBEAT).contains(&h[0])
        || h[1] != 3
        || h[2] > 4
        || len > MAX_FRAGMENT
    {
        return Err(NotTls);
    }
    Ok(Some(Header {
        typ: h[0],
        version: [h[1], h[2]],
        len,
    }))
}

/// The bytes are not a TLS record (a desynchronised or damaged stream).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct NotTls;

/// Cuts one direction's stream into records, one at a time.
#[derive(Default)]
pub struct RecordReader {
    buf: Vec<u8>,
}

impl RecordReader {
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    pub fn clear(&mut self) {
        self.buf = Vec::new();
    }

    /// Appends `data` and adds every whole record to `out` (its header and its fragment).
    /// Stops at the first header that is not TLS (the records before it are in `out`).
    pub fn push(
        &mut self,
        mut data: &[u8],
        out: &mut Vec<(Header, Vec<u8>)>,
    ) -> Result<(), NotTls> {
        loop {
            // Whole records straight from `data` when nothing is pending: no copy.
            if self.buf.is_empty() {
                while let Some(h) = header(data)? {
                    if data.len() < HEADER + h.len {
                        break;
                    }
                    out.push((h, data[HEADER..HEADER + h.len].to_vec()));
                    data = &data[HEADER + h.len..];
                }
                self.buf.extend_from_slice(data);
                return Ok(());
            }
            // Complete the pending record from `data`.
            let need = match header(&self.buf)? {
                Some(h) => HEADER + h.len,
                None => HEADER,
            };
            let take = need.saturating_sub(self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if let Some(h) = header(&self.buf)? {
                if self.buf.len() == HEADER + h.len {
                    let mut rec = std::mem::take(&mut self.buf);
                    rec.drain(..HEADER);
                    out.push((h, rec));
                    continue;
                }
            }
            if data.is_empty() {
                return Ok(());
            }
        }
    }
}

/// A handshake message: its type and, for the hellos, its body.
#[derive(Debug, PartialEq, Eq)]
pub struct HsMsg {
    pub typ: u8,
    pub body: Option<Vec<u8>>,
}

/// Cuts the handshake messages out of the handshake records of one direction (a message may
/// span records, a record may hold several).
#[derive(Default)]
pub struct HsReader {
    head: Vec<u8>,
    /// Body bytes still to come of the current message.
    left: usize,
    typ: u8,
    keep: Option<Vec<u8>>,
}

impl HsReader {
    pub fn buffered(&self) -> usize {
        self.head.len() + self.keep.as_ref().map_or(0, |k| k.len())
    }

    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<HsMsg>) {
        while !data.is_empty() {
            if self.left == 0 && self.keep.is_none() {
                let n = (4 - self.head.len()).min(data.len());
                self.head.extend_from_slice(&data[..n]);
                data = &data[n..];
                if self.head.len() < 4 {
                    return;
                }
                let h = std::mem::take(&mut self.head);
                self.typ = h[0];
                self.left = usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]);
                let hello = matches!(self.typ, handshake::CLIENT_HELLO | handshake::SERVER_HELLO);
                self.keep = (hello && self.left <= MAX_HELLO).then(Vec::new);
                if self.left == 0 {
                    out.push(HsMsg {
                        typ: self.typ,
                        body: self.keep.take(),
                    });
                }
                continue;
            }
            let n = self.left.min(data.len());
            if let Some(k) = &mut self.keep {
                k.extend_from_slice(&data[..n]);
            }
            self.left -= n;
            data = &data[n..];
            if self.left == 0 {
                out.push(HsMsg {
                    typ: self.typ,
                    body: self.keep.take(),
                });
            }
        }
    }
}

/// The random of a ClientHello body.
pub fn client_random(body: &[u8]) -> Option<[u8; 32]> {
    body.get(2..34)?.try_into().ok()
}

/// What a ServerHello says.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ServerHello {
    pub random: [u8; 32],
    pub suite: u16,
    /// The version chosen: 0x0304 for TLS 1.3 (supported_versions), 0x7fNN for its draft NN,
    /// else the legacy field.
    pub version: u16,
    pub etm: bool,
    pub ems: bool,
    /// A HelloRetryRequest (RFC 8446 §4.1.3): the real ServerHello comes later.
    pub retry: bool,
}

/// SHA-256 of "HelloRetryRequest", the random of a HelloRetryRequest.
const HRR_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

pub fn server_hello(b: &[u8]) -> Option<ServerHello> {
    let legacy = u16::from_be_bytes([*b.first()?, *b.get(1)?]);
    let random: [u8; 32] = b.get(2..34)?.try_into().ok()?;
    // TLS 1.3 drafts up to 21 put their version here and have no session id nor compression
    // method (draft-ietf-tls-tls13-21 §4.1.3).
    let draft = (0x7f00..=0x7f15).contains(&legacy);
    let at = if draft {
        34
    } else {
        35 + usize::from(*b.get(34)?)
    };
    let suite = u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]);
    let mut sh = ServerHello {
        random,
        suite,
        version: legacy,
        etm: false,
        ems: false,
        retry: random == HRR_RANDOM,
    };
    // Compression method, then the extensions (absent in old hellos).
    let mut at = at + if draft { 2 } else { 3 };
    let Some(ext) = b.get(at..at + 2) else {
        return Some(sh);
    };
    let end = (at + 2 + usize::from(u16::from_be_bytes([ext[0], ext[1]]))).min(b.len());
    at += 2;
    while at + 4 <= end {
        let ty = u16::from_be_bytes([b[at], b[at + 1]]);
        let len = usize::from(u16::from_be_bytes([b[at + 2], b[at + 3]]));
        let data = b.get(at + 4..at + 4 + len)?;
        match ty {
            43 if len == 2 => sh.version = u16::from_be_bytes([data[0], data[1]]),
            22 => sh.etm = true,
            23 => sh.ems = true,
            _ => {}
        }
        at += 4 + len;
    }
    Some(sh)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rec(typ: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![typ, 3, 3];
        v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    fn records(stream: &[u8], cuts: &[usize]) -> Result<Vec<(u8, Vec<u8>)>, NotTls> {
        let mut r = RecordReader::default();
        let mut out = Vec::new();
        let mut at = 0;
        for &c in cuts.iter().chain([&stream.len()]) {
            let c = c.clamp(at, stream.len());
            let mut v = Vec::new();
            let r2 = r.push(&stream[at..c], &mut v);
            out.extend(v.into_iter().map(|(h, f)| (h.typ, f)));
            r2?;
            at = c;
        }
        Ok(out)
    }

    #[test]
    fn records_come_out_whole_however_the_stream_is_cut() {
        let s = [rec(22, b"hello"), rec(23, &[7; 300]), rec(21, b"")].concat();
        let want = vec![(22, b"hello".to_vec()), (23, vec![7; 300]), (21, vec![])];
        for a in 0..s.len() {
            for b in [a, a + 1, a + 7, a + 200] {
                assert_eq!(records(&s, &[a, b]).unwrap(), want, "cut {a} {b}");
            }
        }
        assert_eq!(records(b"GET / HTTP/1.1", &[]), Err(NotTls));
        assert_eq!(records(&[23, 3, 3, 0xff, 0xff], &[]), Err(NotTls));
    }

    #[test]
    fn handshake_messages_across_records() {
        let mut m = vec![handshake::CLIENT_HELLO, 0, 0, 40];
        m.extend_from_slice(&[3, 3]);
        m.extend_from_slice(&[9; 32]);
        m.extend_from_slice(&[0; 6]);
        m.extend_from_slice(&[handshake::FINISHED, 0, 0, 2, 1, 2]);
        for cut in 0..m.len() {
            let mut r = HsReader::default();
            let mut out = Vec::new();
            r.push(&m[..cut], &mut out);
            r.push(&m[cut..], &mut out);
            assert_eq!(out.len(), 2);
            assert_eq!(client_random(out[0].body.as_ref().unwrap()), Some([9; 32]));
            assert_eq!(
                out[1],
                HsMsg {
                    typ: 20,
                    body: None
                }
            );
        }
    }

    /// sip-tls-1.3-and-rtcp (Wireshark's samples) speaks TLS 1.3 draft 21, whose ServerHello
    /// has its version first and no session id: read as such, not as garbage.
    #[test]
    fn a_draft_server_hello() {
        let mut b = vec![0x7f, 0x15];
        b.extend_from_slice(&[7; 32]);
        b.extend_from_slice(&[0x13, 0x02, 0, 0]);
        let sh = server_hello(&b).unwrap();
        assert_eq!((sh.version, sh.suite, sh.random), (0x7f15, 0x1302, [7; 32]));
        let mut b = vec![3, 3];
        b.extend_from_slice(&[7; 32]);
        b.extend_from_slice(&[1, 9, 0xc0, 0x2f, 0, 0, 8, 0, 23, 0, 0, 0, 22, 0, 0]);
        let sh = server_hello(&b).unwrap();
        assert_eq!(
            (sh.version, sh.suite, sh.ems, sh.etm),
            (0x0303, 0xc02f, true, true)
        );
    }

    proptest! {
        /// Any bytes, cut anywhere: records or an error, never a panic, never more held than
        /// one record.
        #[test]
        fn the_record_reader_never_panics(data in proptest::collection::vec(any::<u8>(), 0..3000),
                                          cut in 0usize..3000) {
            let mut r = RecordReader::default();
            let c = cut.min(data.len());
            let mut v = Vec::new();
            if r.push(&data[..c], &mut v).is_ok() {
                let _ = r.push(&data[c..], &mut v);
            }
            prop_assert!(r.buffered() <= HEADER + MAX_FRAGMENT);
            let mut h = HsReader::default();
            h.push(&data, &mut Vec::new());
            prop_assert!(h.buffered() <= MAX_HELLO + 4);
            let _ = server_hello(&data);
            let _ = client_random(&data);
        }
    }
}
