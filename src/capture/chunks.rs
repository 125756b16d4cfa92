//! pcap records and pcapng blocks read in chunks that the pipeline's batches share.
//!
//! A file or gzip stream in the classic pcap format or in pcapng is read in chunks of [`CHUNK`]
//! bytes; each chunk becomes a [`Bytes`], and a frame is lent as a slice of it together with the
//! chunk itself, so the pipeline hands the frame to its worker without copying its bytes
//! ([`super::FrameRef::shared`]). Before this reader, every byte was copied twice after the
//! kernel's copy: into pcap-parser's buffer's shifted tail, and into the worker's share.
//!
//! This module only frames the input: a pcap record by its header's captured length, a pcapng
//! block by its total length (in the byte order its section header gives). What a pcapng block
//! means (interfaces, time units, packets) is read by [`super::file`] with pcap-parser's block
//! parsers, on the block's bytes in the chunk.
//!
//! Contracts (the same as the streaming reader's, [`super::file`]):
//! - Memory follows the bytes that really arrive: a chunk is [`CHUNK`] bytes, and the size of
//!   the next chunk doubles (up to [`MAX_RECORD`]) only when a record does not fit in a chunk
//!   already full of the input's bytes. A header claiming 200 MiB followed by 100 bytes costs
//!   one chunk and ends with "capture is truncated".
//! - Only a record's unread tail (less than one record) is copied into the next chunk.
//! - A chunk's buffer goes back to a small pool when the last frame lent from it is dropped,
//!   and the next chunk is read into it: a fresh megabyte per chunk cost more in page faults
//!   and zeroing than the copy it saves.
//! - Pipes keep the streaming reader: it reads what has come and can give up waiting; a chunk
//!   is filled before its frames are lent.

use std::io::{self, Read};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::LinkType;

/// The size of a chunk while records fit in one.
pub const CHUNK: usize = 256 << 10;
/// The largest record accepted.
pub const MAX_RECORD: usize = 256 << 20;

const FILE_HEADER: usize = 24;
const RECORD_HEADER: usize = 16;
/// A pcapng block's type, total length and (in a section header) byte-order magic.
const BLOCK_HEADER: usize = 12;
/// A pcapng section header block's type, the same in either byte order.
const SHB: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
/// The byte-order magic of a big-endian section (reversed in a little-endian one).
const BYTE_ORDER: [u8; 4] = [0x1a, 0x2b, 0x3c, 0x4d];

/// A pcap record's header fields, and where its bytes are in the current chunk.
pub struct Record {
    pub ts_sec: u32,
    pub ts_sub: u32,
    pub orig_len: u32,
    pub at: usize,
    pub len: usize,
}

/// What the reader has next.
pub enum Got {
    Record(Record),
    /// A whole pcapng block (type to trailing length) at `at..at + len` of the current chunk.
    Block {
        at: usize,
        len: usize,
    },
    End,
    /// The input stops here: why, said to the user.
    Stop(String),
}

/// How the input is framed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    Pcap,
    Pcapng,
}

/// Chunk buffers of [`CHUNK`] bytes given back by the frames that were lent from them.
#[derive(Default)]
struct Pool(Mutex<Vec<Vec<u8>>>);

/// Buffers the pool keeps; more are freed (frames in flight rarely span more chunks).
const POOL: usize = 16;

impl Pool {
    fn take(&self, size: usize) -> Vec<u8> {
        if size == CHUNK {
            if let Some(b) = self.0.lock().ok().and_then(|mut v| v.pop()) {
                return b;
            }
        }
        vec![0u8; size]
    }
}

/// A chunk's buffer and its filled length; the buffer goes back to the pool when dropped.
struct Pooled {
    buf: Vec<u8>,
    len: usize,
    pool: Arc<Pool>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if self.buf.len() != CHUNK {
            return;
        }
        if let Ok(mut v) = self.pool.0.lock() {
            if v.len() < POOL {
                v.push(std::mem::take(&mut self.buf));
            }
        }
    }
}

pub struct Chunks {
    input: Box<dyn Read + Send>,
    format: Format,
    /// pcap: the file's byte order; pcapng: the current section's.
    pub big_endian: bool,
    /// pcap: nanosecond time stamps.
    pub nano: bool,
    /// pcap: the file's link type (pcapng gives one per interface).
    pub link: LinkType,
    chunk: Bytes,
    pos: usize,
    /// The input offset of `chunk[0]`.
    base: u64,
    /// The size of the next chunk.
    capacity: usize,
    exhausted: bool,
    pool: Arc<Pool>,
}

impl Chunks {
    fn with(input: Box<dyn Read + Send>, format: Format, base: u64) -> Chunks {
        Chunks {
            input,
            format,
            big_endian: false,
            nano: false,
            link: LinkType::Ethernet,
            chunk: Bytes::new(),
            pos: 0,
            base,
            capacity: CHUNK,
            exhausted: false,
            pool: Arc::default(),
        }
    }

    /// A pcap file: reads its file header from `head` (the input's first bytes; `input` gives
    /// them again, then the rest). None when `head` is not a pcap header.
    pub fn pcap(head: &[u8], mut input: Box<dyn Read + Send>) -> Option<Chunks> {
        let magic = u32::from_be_bytes(head.get(..4)?.try_into().ok()?);
        let (big_endian, nano) = match magic {
            0xa1b2_c3d4 => (true, false),
            0xd4c3_b2a1 => (false, false),
            0xa1b2_3c4d => (true, true),
            0x4d3c_b2a1 => (false, true),
            _ => return None,
        };
        let lt: [u8; 4] = head.get(20..24)?.try_into().ok()?;
        let link = if big_endian {
            u32::from_be_bytes(lt)
        } else {
            u32::from_le_bytes(lt)
        };
        // The file header, given again by the input.
        let mut skip = [0u8; FILE_HEADER];
        if !matches!(read_full(&mut input, &mut skip), Ok(FILE_HEADER)) {
            return None;
        }
        let mut c = Chunks::with(input, Format::Pcap, FILE_HEADER as u64);
        c.big_endian = big_endian;
        c.nano = nano;
        c.link = LinkType::from_linktype(link);
        Some(c)
    }

    /// A pcapng file: `head` is the input's first bytes (`input` gives them again, then the
    /// rest), which must hold a whole, valid section header block: the file is refused as the
    /// streaming reader refuses it. Every block, that first one too, comes out of
    /// [`Chunks::next`].
    pub fn pcapng(head: &[u8], input: Box<dyn Read + Send>) -> Option<Chunks> {
        // Its block type, byte-order magic, lengths and options: what PcapNGReader::new checks.
        pcap_parser::pcapng::parse_sectionheaderblock(head).ok()?;
        Some(Chunks::with(input, Format::Pcapng, 0))
    }

    /// The size of the next chunk (it only grows).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The chunk the last record's bytes lie in.
    pub fn chunk(&self) -> &Bytes {
        &self.chunk
    }

    /// The input offset of `at` in the current chunk.
    pub fn offset_of(&self, at: usize) -> u64 {
        self.base + at as u64
    }

    /// The input offset of the next record.
    fn offset(&self) -> u64 {
        self.offset_of(self.pos)
    }

    fn u32_at(&self, at: usize) -> u32 {
        let b: [u8; 4] = [
            self.chunk[at],
            self.chunk[at + 1],
            self.chunk[at + 2],
            self.chunk[at + 3],
        ];
        if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    /// The length of the record at `pos`, whose header is in the chunk.
    fn record_len(&mut self) -> Result<usize, String> {
        let p = self.pos;
        match self.format {
            Format::Pcap => Ok(RECORD_HEADER + self.u32_at(p + 8) as usize),
            Format::Pcapng => {
                if self.chunk[p..p + 4] == SHB {
                    let order: [u8; 4] = self.chunk[p + 8..p + 12]
                        .try_into()
                        .expect("a block header is 12 bytes");
                    self.big_endian = section_order(order).ok_or_else(|| {
                        format!(
                            "damaged section header at byte {}: no byte-order magic",
                            self.offset()
                        )
                    })?;
                }
                let len = self.u32_at(p + 4) as usize;
                if len < BLOCK_HEADER {
                    return Err(format!("damaged record at byte {}", self.offset()));
                }
                Ok(len)
            }
        }
    }

    pub fn next(&mut self) -> Got {
        let header = match self.format {
            Format::Pcap => RECORD_HEADER,
            Format::Pcapng => BLOCK_HEADER,
        };
        loop {
            let avail = self.chunk.len() - self.pos;
            let need = if avail >= header {
                let need = match self.record_len() {
                    Ok(n) => n,
                    Err(why) => return Got::Stop(why),
                };
                if avail >= need {
                    let p = self.pos;
                    self.pos += need;
                    return match self.format {
                        Format::Pcap => Got::Record(Record {
                            ts_sec: self.u32_at(p),
                            ts_sub: self.u32_at(p + 4),
                            orig_len: self.u32_at(p + 12),
                            at: p + RECORD_HEADER,
                            len: need - RECORD_HEADER,
                        }),
                        Format::Pcapng => Got::Block { at: p, len: need },
                    };
                }
                need
            } else {
                if avail == 0 && self.exhausted {
                    return Got::End;
                }
                header
            };
            if self.exhausted {
                return Got::Stop(format!(
                    "capture is truncated: the last record (at byte {}) is incomplete",
                    self.offset()
                ));
            }
            // Grow only when a chunk full of real bytes still cannot hold the record.
            if need > self.capacity && avail >= self.capacity {
                let next = self.capacity.saturating_mul(2).min(MAX_RECORD);
                if next <= self.capacity {
                    return Got::Stop(format!(
                        "record at byte {} is larger than {MAX_RECORD} bytes",
                        self.offset()
                    ));
                }
                self.capacity = next;
            }
            if let Err(e) = self.refill() {
                return Got::Stop(format!("read error after byte {}: {e}", self.offset()));
            }
        }
    }

    /// A new chunk: the unread tail of this one, then the input's bytes until it is full or the
    /// input ends.
    fn refill(&mut self) -> io::Result<()> {
        let tail = &self.chunk[self.pos..];
        let mut buf = self.pool.take(self.capacity.max(tail.len()));
        let filled = tail.len();
        buf[..filled].copy_from_slice(tail);
        let (got, err) = match read_full(&mut self.input, &mut buf[filled..]) {
            Ok(n) => (n, None),
            Err((n, e)) => (n, Some(e)),
        };
        if err.is_none() && filled + got < buf.len() {
            self.exhausted = true;
        }
        self.base += self.pos as u64;
        self.pos = 0;
        self.chunk = Bytes::from_owner(Pooled {
            buf,
            len: filled + got,
            pool: self.pool.clone(),
        });
        err.map_or(Ok(()), Err)
    }
}

/// A section's byte order from its byte-order magic: true for big-endian.
fn section_order(magic: [u8; 4]) -> Option<bool> {
    if magic == BYTE_ORDER {
        Some(true)
    } else {
        let mut le = BYTE_ORDER;
        le.reverse();
        (magic == le).then_some(false)
    }
}

/// Reads into `buf` until it is full or the input ends: the bytes read, or those read before
/// the error.
pub(super) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> Result<usize, (usize, io::Error)> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err((got, e)),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap(big_endian: bool, records: &[&[u8]]) -> Vec<u8> {
        let w = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut f = Vec::new();
        f.extend_from_slice(&w(0xa1b2_c3d4));
        f.extend_from_slice(&[0, 2, 0, 4]);
        for v in [0, 0, 65535, 1] {
            f.extend_from_slice(&w(v));
        }
        for (i, r) in records.iter().enumerate() {
            for v in [
                1_700_000_000 + i as u32,
                7,
                r.len() as u32,
                r.len() as u32 + 3,
            ] {
                f.extend_from_slice(&w(v));
            }
            f.extend_from_slice(r);
        }
        f
    }

    /// Reads with reads of at most `step` bytes, as a gzip stream may give them.
    struct Step(io::Cursor<Vec<u8>>, usize);
    impl Read for Step {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.1);
            self.0.read(&mut buf[..n])
        }
    }

    fn open(file: Vec<u8>, head_len: usize, step: usize) -> Chunks {
        let head = file[..head_len.min(file.len())].to_vec();
        Chunks::pcap(&head, Box::new(Step(io::Cursor::new(file), step))).unwrap()
    }

    /// A record as read: seconds, sub-second, original length, bytes.
    type Read4 = (u32, u32, u32, Vec<u8>);

    fn all(r: &mut Chunks) -> (Vec<Read4>, Option<String>) {
        let mut v = Vec::new();
        loop {
            match r.next() {
                Got::Record(x) => v.push((
                    x.ts_sec,
                    x.ts_sub,
                    x.orig_len,
                    r.chunk()[x.at..x.at + x.len].to_vec(),
                )),
                Got::Block { .. } => panic!("a pcap record read as a pcapng block"),
                Got::End => return (v, None),
                Got::Stop(s) => return (v, Some(s)),
            }
        }
    }

    #[test]
    fn records_come_whole_in_either_byte_order_and_any_read_size() {
        let big = vec![0xabu8; CHUNK + 100];
        let recs: Vec<&[u8]> = vec![b"one", b"", &big, b"four"];
        for be in [false, true] {
            let file = pcap(be, &recs);
            for (head, step) in [(24, usize::MAX), (64, 7), (30, 1 << 16)] {
                let mut r = open(file.clone(), head, step);
                assert_eq!(r.link, LinkType::Ethernet);
                let (got, stop) = all(&mut r);
                assert_eq!(stop, None);
                assert_eq!(got.len(), 4, "be {be} head {head} step {step}");
                for (i, (sec, sub, orig, data)) in got.iter().enumerate() {
                    assert_eq!(*sec, 1_700_000_000 + i as u32);
                    assert_eq!(*sub, 7);
                    assert_eq!(data.as_slice(), recs[i]);
                    assert_eq!(*orig as usize, recs[i].len() + 3);
                }
                // The big record needed one doubling, no more.
                assert_eq!(r.capacity(), 2 * CHUNK);
            }
        }
    }

    #[test]
    fn a_cut_record_is_said_with_its_place() {
        let file = pcap(false, &[b"abcdef", b"ghijkl"]);
        let cut = file[..file.len() - 2].to_vec();
        let (got, stop) = all(&mut open(cut, 24, 5));
        assert_eq!(got.len(), 1);
        let at = 24 + 16 + 6;
        assert_eq!(
            stop.unwrap(),
            format!("capture is truncated: the last record (at byte {at}) is incomplete")
        );
        // A cut inside a record's header too.
        let cut = file[..24 + 16 + 6 + 9].to_vec();
        let (got, stop) = all(&mut open(cut, 24, 1 << 20));
        assert_eq!(got.len(), 1);
        assert!(stop.unwrap().contains("truncated"));
    }

    #[test]
    fn a_claim_beyond_the_bytes_costs_one_chunk() {
        let mut file = pcap(false, &[]);
        for v in [1u32, 0, 200 << 20, 200 << 20] {
            file.extend_from_slice(&v.to_le_bytes());
        }
        file.extend_from_slice(&[0; 100]);
        let mut r = open(file, 24, 7);
        let (got, stop) = all(&mut r);
        assert!(got.is_empty());
        assert!(stop.unwrap().contains("truncated"));
        assert_eq!(r.capacity(), CHUNK);
    }

    #[test]
    fn a_read_error_stops_with_the_place() {
        struct Fails(usize);
        impl Read for Fails {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("disk on fire"));
                }
                let n = buf.len().min(self.0);
                buf[..n].fill(0);
                self.0 -= n;
                Ok(n)
            }
        }
        let head = pcap(false, &[]);
        let input = io::Cursor::new(head.clone()).chain(Fails(10));
        let mut r = Chunks::pcap(&head, Box::new(input)).unwrap();
        let (got, stop) = all(&mut r);
        assert!(got.is_empty());
        let s = stop.unwrap();
        assert!(
            s.contains("read error") && s.contains("disk on fire"),
            "{s}"
        );
    }

    #[test]
    fn pcapng_blocks_follow_each_section_s_byte_order() {
        // A section header (little-endian), a 16-byte block, a big-endian section header, a
        // 20-byte block, then a section header with no byte-order magic.
        let mut f = Vec::new();
        let le = |v: u32| v.to_le_bytes();
        let be = |v: u32| v.to_be_bytes();
        for v in [
            0x0A0D_0D0A,
            28,
            0x1A2B_3C4D,
            1,
            0xffff_ffff,
            0xffff_ffff,
            28,
        ] {
            f.extend_from_slice(&le(v));
        }
        for v in [4, 16, 0, 16] {
            f.extend_from_slice(&le(v));
        }
        for v in [
            0x0A0D_0D0A,
            28,
            0x1A2B_3C4D,
            0x0001_0000,
            0xffff_ffff,
            0xffff_ffff,
            28,
        ] {
            f.extend_from_slice(&be(v));
        }
        for v in [4, 20, 0, 0, 20] {
            f.extend_from_slice(&be(v));
        }
        let bad_at = f.len();
        for v in [0x0A0D_0D0A, 28, 0x1234_5678, 1, 0, 0, 28] {
            f.extend_from_slice(&le(v));
        }
        for step in [usize::MAX, 3, 100] {
            let mut r =
                Chunks::pcapng(&f[..28], Box::new(Step(io::Cursor::new(f.clone()), step))).unwrap();
            let mut lens = Vec::new();
            let stop = loop {
                match r.next() {
                    Got::Block { at, len } => {
                        assert_eq!(r.chunk()[at + 4..at + 8], r.chunk()[at + len - 4..at + len]);
                        lens.push(len)
                    }
                    Got::Stop(s) => break s,
                    Got::End | Got::Record(_) => panic!("read past the damaged header"),
                }
            };
            assert_eq!(lens, [28, 16, 28, 20], "step {step}");
            assert!(r.big_endian);
            assert_eq!(
                stop,
                format!("damaged section header at byte {bad_at}: no byte-order magic")
            );
        }
        // Not a section header, no byte-order magic, or only part of the header: not pcapng.
        assert!(Chunks::pcapng(&f[28..40], Box::new(io::empty())).is_none());
        assert!(Chunks::pcapng(&f[bad_at..bad_at + 28], Box::new(io::empty())).is_none());
        assert!(Chunks::pcapng(&f[..12], Box::new(io::empty())).is_none());
    }
}
