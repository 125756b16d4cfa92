//! Reader for Microsoft Network Monitor capture files (NetMon 1.x "RTSS"
//! and 2.x "GMBU"; tshark's `netmon1` / `netmon2`).
//!
//! Contract:
//! - The file is read through a seekable store ([`Store`]): the capture file itself when it is
//!   a plain file, or the inflated stream of a gzip'd one (or of standard input) spooled by
//!   [`crate::capture::file`] up to the end of the frame table, in memory when small and in an
//!   unlinked temporary file otherwise. Memory is one record and the frame table (4 bytes per
//!   frame), never the file: the frame table that locates every record sits at the end of the
//!   file, and a 1 MB gzip'd file may claim gigabytes.
//! - Files over 2 GiB are refused with [`NetmonError::TooLarge`] (NetMon offsets are 32-bit
//!   anyway), and a record over [`MAX_RECORD`] bytes with [`NetmonError::RecordTooLarge`]; every
//!   length is checked against the bytes the store really holds before anything is allocated.
//! - [`NetmonFile::parse`] validates the header and the frame table's
//!   position/size. Individual records are only checked when
//!   [`NetmonFile::frame`] reads them; a damaged record yields
//!   [`NetmonError::Truncated`] and the caller stops there.
//! - Frames come back in frame-table order (which need not be file order),
//!   numbered as tshark numbers them.
//! - Nothing here panics on any input; all reads are bounds-checked.
//!
//! Time stamps:
//! - The header start time is a Windows `SYSTEMTIME` in the capturing
//!   machine's local time, with no zone recorded. It is taken as UTC, which
//!   is what tshark prints when run with `TZ=UTC` (tshark itself applies the
//!   *reader's* zone via `mktime`). Out-of-range fields are normalised the
//!   way `mktime` does.
//! - 1.x records add a millisecond offset; 2.x records add a microsecond
//!   offset (interpreted exactly as Wireshark does, so "negative" offsets
//!   work); 2.3+ records carry their own UTC `FILETIME`, which wins.
//!
//! Link types ([`NetmonFile::linktype`] returns a pcap `LINKTYPE_*`):
//! NetMon 0/1 Ethernet → 1, 2 Token Ring → 6, 3 FDDI → 10 (NetMon FDDI
//! addresses are bit-swapped), 6 802.11 → 105 with the NetMon radio header
//! stripped (original length reduced by the header), 7/8/9 tunnel / WWAN /
//! raw IP → 101, 0xE000|n (pcap-converted, so n may be 0 = BSD loopback)
//! → n, 0xE080 "WiFi message" → 105. Anything else (ATM/NDIS WAN, 1394,
//! the WFP types 0xE083..) has no pcap equivalent and gives `u32::MAX`,
//! which is never a real link type; frames are then returned raw.
//!
//! NetMon 2.1+ writes a media type per frame. The file's link type is the
//! most common per-frame type. Frames of any other type (a second adapter,
//! NetEvent / filter / adapter-info metadata records) are returned with
//! their time and original length but an empty byte slice, so the numbering
//! still matches tshark while nothing gets decoded as the wrong link type.
//! Records tshark hides (payload header, network info, DNS cache) are
//! dropped from the frame list.
//!
//! Not supported: comments, process-info tables, the ATM pseudo-header,
//! recovering frames from a file whose frame table is missing (a capture
//! cut off before NetMon wrote the table is reported as truncated).

use std::fmt;
use std::io::{Read, Seek, SeekFrom};

/// What a NetMon file is read from: the capture file, or a spooled copy of its inflated bytes.
pub trait Store: Read + Seek + Send {}
impl<T: Read + Seek + Send> Store for T {}

/// The largest record read (frames are packets: NetMon writes at most a few hundred KiB).
pub const MAX_RECORD: u32 = 256 << 20;

/// NetMon offsets are 32-bit, and the brief caps memory use at 2 GiB.
const MAX_FILE_LEN: u64 = 1 << 31;

/// Magic through the frame-table length: everything this reader needs. The
/// on-disk header is padded to 128 bytes, but old writers are not trusted to
/// pad, and nothing past byte 32 is used.
const HEADER_LEN: usize = 32;

/// Returned by `linktype()` for media types without a pcap equivalent; pcap
/// link types are 16-bit (pcapng stores them in 16 bits), so this never
/// collides with a real one.
const LINKTYPE_UNKNOWN: u32 = u32::MAX;

const LINKTYPE_ETHERNET: u32 = 1;
const LINKTYPE_IEEE802_5: u32 = 6;
const LINKTYPE_FDDI: u32 = 10;
const LINKTYPE_RAW: u32 = 101;
const LINKTYPE_IEEE802_11: u32 = 105;

/// 100 ns ticks between 1601-01-01 (FILETIME epoch) and 1970-01-01.
const FILETIME_UNIX_OFFSET: i128 = 116_444_736_000_000_000;

const NS_PER_SEC: i128 = 1_000_000_000;

/// A parsed NetMon capture; reads its records from its store and lends one frame at a time.
pub struct NetmonFile {
    store: Box<dyn Store>,
    /// Bytes the store holds.
    len: u64,
    /// The record read last (its data and trailer).
    buf: Vec<u8>,
    major: u8,
    minor: u8,
    linktype: u32,
    /// What the header says, used for records without a per-frame trailer.
    header_media: Media,
    /// Capture start in nanoseconds since the Unix epoch.
    start_ns: i128,
    /// Record offsets in frame-table order, minus records tshark hides.
    frames: Vec<u32>,
}

/// Why a NetMon file (or one of its frames) could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetmonError {
    /// Wrong magic, or a major version other than 1 or 2.
    NotNetmon,
    /// The header, frame table or frame record starting at `offset` runs
    /// past the end of the data.
    Truncated { offset: u64 },
    /// The frame table is misplaced or its length is not a multiple of 4
    /// (also returned for a frame index past `len()`).
    BadFrameTable,
    /// The file is larger than the 2 GiB this reader accepts.
    TooLarge { len: u64 },
    /// The record at `offset` claims more than [`MAX_RECORD`] bytes.
    RecordTooLarge { offset: u64, len: u32 },
    /// The store could not be read (an I/O error of the file or of the spool).
    Io,
}

impl fmt::Display for NetmonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetmonError::NotNetmon => f.write_str("not a Network Monitor 1.x/2.x capture file"),
            NetmonError::Truncated { offset } => write!(
                f,
                "NetMon capture truncated: structure at offset {offset} runs past the end of the file"
            ),
            NetmonError::BadFrameTable => f.write_str("NetMon capture has a malformed frame table"),
            NetmonError::TooLarge { len } => write!(
                f,
                "NetMon capture is {len} bytes; files over 2 GiB are not supported"
            ),
            NetmonError::RecordTooLarge { offset, len } => write!(
                f,
                "NetMon record at offset {offset} claims {len} bytes (more than {MAX_RECORD})"
            ),
            NetmonError::Io => f.write_str("NetMon capture could not be read (I/O error)"),
        }
    }
}

impl std::error::Error for NetmonError {}

/// What a NetMon media-type value means for us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Media {
    /// Packet data; `radio_hdr` means a NetMon 802.11 radio header precedes it.
    Link { linktype: u32, radio_hdr: bool },
    /// Metadata tshark shows as a frame, so it keeps its frame number.
    Meta,
    /// Metadata tshark silently skips, so it must not take a frame number.
    Hidden,
    /// Packet data we cannot name as a pcap link type.
    Unsupported,
}

fn media(network: u16) -> Media {
    let link = |linktype| Media::Link {
        linktype,
        radio_hdr: false,
    };
    match network {
        // 0 appears per-frame in NetMon 3.4 VPN captures carrying Ethernet.
        0 | 1 => link(LINKTYPE_ETHERNET),
        2 => link(LINKTYPE_IEEE802_5),
        3 => link(LINKTYPE_FDDI),
        6 => Media::Link {
            linktype: LINKTYPE_IEEE802_11,
            radio_hdr: true,
        },
        7..=9 => link(LINKTYPE_RAW),
        0xE080 => link(LINKTYPE_IEEE802_11),
        // Microsoft Message Analyzer types squatting in the pcap range.
        0xE081..=0xE08A => Media::Unsupported,
        n if n & 0xF000 == 0xE000 => link(u32::from(n & 0x0FFF)),
        0xFFE0 | 0xFFFB | 0xFFFF => Media::Meta,
        0xFFFC..=0xFFFE => Media::Hidden,
        _ => Media::Unsupported,
    }
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn le64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (month 1..=12).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// SYSTEMTIME fields → ns since the epoch. Fields are u16, so nothing can
/// overflow; out-of-range values roll over like `mktime` so tshark agrees.
fn systemtime_ns(f: [u16; 7]) -> i128 {
    let [year, month, day, hour, min, sec, ms] = f.map(i64::from);
    let m0 = month - 1;
    let days = days_from_civil(year + m0.div_euclid(12), m0.rem_euclid(12) + 1, 1) + day - 1;
    let secs = days * 86_400 + hour * 3_600 + min * 60 + sec;
    i128::from(secs) * NS_PER_SEC + i128::from(ms) * 1_000_000
}

/// One frame record as located in the file.
struct Record {
    ts_ns: i128,
    orig_len: u32,
    start: usize,
    end: usize,
    /// Per-frame media type from a 2.1+ trailer.
    network: Option<u16>,
}

impl NetmonFile {
    /// True if `head` starts with a NetMon 1.x or 2.x magic number.
    pub fn is_netmon(head: &[u8]) -> bool {
        head.get(..4).is_some_and(|m| m == b"GMBU" || m == b"RTSS")
    }

    /// Reads a whole capture held in memory (tests, small spools).
    pub fn parse(data: Vec<u8>) -> Result<NetmonFile, NetmonError> {
        let len = data.len() as u64;
        NetmonFile::open(Box::new(std::io::Cursor::new(data)), len)
    }

    /// What a NetMon header says about the file's extent: the end of its frame table, i.e. the
    /// bytes a reader needs (none of the file past it is used). `head` is the file's start.
    pub fn needed_len(head: &[u8]) -> Result<u64, NetmonError> {
        if !Self::is_netmon(head) {
            return Err(NetmonError::NotNetmon);
        }
        let h = head
            .get(..HEADER_LEN)
            .ok_or(NetmonError::Truncated { offset: 0 })?;
        if !matches!(h.get(5), Some(1 | 2)) {
            return Err(NetmonError::NotNetmon);
        }
        let ft_off = u64::from(le32(h, 24).unwrap_or(0));
        let ft_len = u64::from(le32(h, 28).unwrap_or(0));
        if !ft_len.is_multiple_of(4) || ft_off < HEADER_LEN as u64 {
            return Err(NetmonError::BadFrameTable);
        }
        let end = ft_off + ft_len;
        check_len(end)?;
        Ok(end)
    }

    /// Validates the header and frame table of the `len` bytes of `store`.
    pub fn open(mut store: Box<dyn Store>, len: u64) -> Result<NetmonFile, NetmonError> {
        let mut h = [0u8; HEADER_LEN];
        let n = len.min(HEADER_LEN as u64) as usize;
        read_at(&mut *store, 0, len, &mut h[..n])?;
        let h = &h[..n];
        if !Self::is_netmon(h) {
            return Err(NetmonError::NotNetmon);
        }
        check_len(len)?;
        if h.len() < HEADER_LEN {
            return Err(NetmonError::Truncated { offset: 0 });
        }
        let field = |at| le16(h, at).unwrap_or(0);
        let (minor, major) = (h.get(4).copied(), h.get(5).copied());
        let (Some(minor), Some(major @ (1 | 2))) = (minor, major) else {
            return Err(NetmonError::NotNetmon);
        };
        let header_media = media(field(6));
        // SYSTEMTIME: year, month, day-of-week (ignored), day, h, m, s, ms.
        let start_ns = systemtime_ns([
            field(8),
            field(10),
            field(14),
            field(16),
            field(18),
            field(20),
            field(22),
        ]);
        let ft_off = le32(h, 24).unwrap_or(0);
        let ft_len = le32(h, 28).unwrap_or(0);
        if !ft_len.is_multiple_of(4) || (ft_off as usize) < HEADER_LEN {
            return Err(NetmonError::BadFrameTable);
        }
        // Checked against the bytes there are before the table is allocated.
        if u64::from(ft_off) + u64::from(ft_len) > len {
            return Err(NetmonError::Truncated {
                offset: u64::from(ft_off),
            });
        }
        let mut table = vec![0u8; ft_len as usize];
        read_at(&mut *store, u64::from(ft_off), len, &mut table).map_err(|_| {
            NetmonError::Truncated {
                offset: u64::from(ft_off),
            }
        })?;
        let frames: Vec<u32> = table
            .chunks_exact(4)
            .filter_map(|c| c.try_into().ok().map(u32::from_le_bytes))
            .collect();

        let mut file = NetmonFile {
            store,
            len,
            buf: Vec::new(),
            major,
            minor,
            linktype: match header_media {
                Media::Link { linktype, .. } => linktype,
                _ => LINKTYPE_UNKNOWN,
            },
            header_media,
            start_ns,
            frames,
        };
        if file.trailer_len() > 0 {
            file.apply_frame_media();
        }
        Ok(file)
    }

    /// pcap `LINKTYPE_*` number of the frames' bytes (`u32::MAX` if none fits).
    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    /// Number of frames (as tshark would number them).
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True if the capture has no frames.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Frame i: (seconds since the Unix epoch, nanoseconds, original length, captured bytes). A
    /// frame whose record is damaged returns Err(Truncated) and the caller stops there.
    pub fn frame(&mut self, i: usize) -> Result<(i64, u32, u32, &[u8]), NetmonError> {
        let off = *self.frames.get(i).ok_or(NetmonError::BadFrameTable)?;
        let rec = self.record(off, true)?;
        let bytes = self
            .buf
            .get(..rec.end - rec.start)
            .ok_or(NetmonError::Truncated {
                offset: u64::from(off),
            })?;
        let (orig_len, bytes) = match rec.network.map(media) {
            None => match self.header_media {
                Media::Link {
                    radio_hdr: true, ..
                } => strip_radio_hdr(rec.orig_len, bytes),
                _ => (rec.orig_len, bytes),
            },
            Some(Media::Link {
                linktype,
                radio_hdr,
            }) if linktype == self.linktype => {
                if radio_hdr {
                    strip_radio_hdr(rec.orig_len, bytes)
                } else {
                    (rec.orig_len, bytes)
                }
            }
            // No pcap name for the media at all: hand over the bytes as 1.x/2.0 do.
            Some(Media::Unsupported) if self.linktype == LINKTYPE_UNKNOWN => (rec.orig_len, bytes),
            Some(_) => (rec.orig_len, &[][..]),
        };
        let secs = rec.ts_ns.div_euclid(NS_PER_SEC);
        let nanos = rec.ts_ns.rem_euclid(NS_PER_SEC);
        // Both always fit (u16 SYSTEMTIME fields, 64-bit offsets); the
        // fallbacks only exist so there is no unwrap.
        let secs = i64::try_from(secs).unwrap_or(i64::MAX);
        let nanos = u32::try_from(nanos).unwrap_or(0);
        Ok((secs, nanos, orig_len, bytes))
    }

    /// Size of the per-frame trailer that NetMon 2.1+ appends after the data.
    fn trailer_len(&self) -> usize {
        match (self.major, self.minor) {
            (2, 1) => 2,
            (2, 2) => 6,
            (2, m) if m >= 3 => 15,
            _ => 0,
        }
    }

    /// For 2.1+ files: drop the records tshark hides and pick the file's link
    /// type from the per-frame media types, since NetMon 3 leaves the header
    /// at Ethernet whatever was captured.
    fn apply_frame_media(&mut self) {
        let mut counts: Vec<(u32, usize)> = Vec::new();
        let mut kept = Vec::with_capacity(self.frames.len());
        for off in std::mem::take(&mut self.frames) {
            // Damaged records stay so frame() can report them in order.
            let m = self
                .record(off, false)
                .ok()
                .and_then(|r| r.network)
                .map(media);
            if m == Some(Media::Hidden) {
                continue;
            }
            kept.push(off);
            if let Some(Media::Link { linktype, .. }) = m {
                match counts.iter_mut().find(|(lt, _)| *lt == linktype) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((linktype, 1)),
                }
            }
        }
        // Ties go to the type seen first, so the result is deterministic.
        let mut best: Option<(u32, usize)> = None;
        for &(lt, n) in &counts {
            if best.is_none_or(|(_, bn)| n > bn) {
                best = Some((lt, n));
            }
        }
        if let Some((lt, _)) = best {
            self.linktype = lt;
        }
        self.frames = kept;
    }

    /// Locates the record at `off`; with `data`, its bytes (and trailer) are read into `buf`,
    /// else only its header and trailer are read.
    fn record(&mut self, off: u32, data: bool) -> Result<Record, NetmonError> {
        let trunc = NetmonError::Truncated {
            offset: u64::from(off),
        };
        let at = u64::from(off);
        let hlen = if self.major == 1 { 8 } else { 16 };
        let mut h = [0u8; 16];
        read_at(&mut *self.store, at, self.len, &mut h[..hlen]).map_err(|_| trunc)?;
        let (ts_ns, orig_len, incl_len) = if self.major == 1 {
            let ms = le32(&h, 0).ok_or(trunc)?;
            let orig = le16(&h, 4).ok_or(trunc)?;
            let incl = le16(&h, 6).ok_or(trunc)?;
            let ts = self.start_ns + i128::from(ms) * 1_000_000;
            (ts, u32::from(orig), u32::from(incl))
        } else {
            let us = le64(&h, 0).ok_or(trunc)?;
            let orig = le32(&h, 8).ok_or(trunc)?;
            let incl = le32(&h, 12).ok_or(trunc)?;
            // Documented as unsigned µs, but writers store frames before the
            // nominal start as a negative 100 ns count; Wireshark's ×10 then
            // signed reading is the one tshark's times come from.
            let ticks = us.wrapping_mul(10) as i64;
            let ts = self.start_ns + i128::from(ticks) * 100;
            (ts, orig, incl)
        };
        let tlen = self.trailer_len();
        let start = at + hlen as u64;
        let end = start + u64::from(incl_len);
        // Checked against the bytes there are before anything is allocated.
        if end + tlen as u64 > self.len {
            return Err(trunc);
        }
        if incl_len > MAX_RECORD {
            return Err(NetmonError::RecordTooLarge {
                offset: at,
                len: incl_len,
            });
        }
        let mut t = [0u8; 15];
        let t = &mut t[..tlen];
        if data {
            self.buf.clear();
            self.buf.resize(incl_len as usize + tlen, 0);
            read_at(&mut *self.store, start, self.len, &mut self.buf).map_err(|_| trunc)?;
            t.copy_from_slice(&self.buf[incl_len as usize..]);
        } else if tlen > 0 {
            read_at(&mut *self.store, end, self.len, t).map_err(|_| trunc)?;
        }
        let mut rec = Record {
            ts_ns,
            orig_len,
            start: start as usize,
            end: end as usize,
            network: None,
        };
        if tlen > 0 {
            rec.network = le16(t, 0);
            if let Some(ft) = le64(t, 6) {
                // 2.3+: a per-frame UTC FILETIME, more exact than start+offset.
                rec.ts_ns = (i128::from(ft) - FILETIME_UNIX_OFFSET) * 100;
            }
        }
        Ok(rec)
    }
}

/// Reads `buf.len()` bytes at `at` of a store of `len` bytes; an error when they are not all
/// there.
fn read_at(store: &mut dyn Store, at: u64, len: u64, buf: &mut [u8]) -> Result<(), NetmonError> {
    if at.checked_add(buf.len() as u64).is_none_or(|e| e > len) {
        return Err(NetmonError::Truncated { offset: at });
    }
    store
        .seek(SeekFrom::Start(at))
        .map_err(|_| NetmonError::Io)?;
    store.read_exact(buf).map_err(|_| NetmonError::Io)
}

/// Drop NetMon's 802.11 radio header (its length is the u16 at byte 1) so the
/// bytes are plain LINKTYPE_IEEE802_11. A header longer than the frame leaves
/// nothing decodable, so the frame is returned empty rather than garbled.
fn strip_radio_hdr(orig_len: u32, bytes: &[u8]) -> (u32, &[u8]) {
    match le16(bytes, 1).and_then(|n| bytes.get(usize::from(n)..).map(|b| (n, b))) {
        Some((n, rest)) => (orig_len.saturating_sub(u32::from(n)), rest),
        None => (orig_len, &[]),
    }
}

fn check_len(len: u64) -> Result<(), NetmonError> {
    if len > MAX_FILE_LEN {
        Err(NetmonError::TooLarge { len })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // In sipscope: concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/pcaps/realjimmy_sample-captures/c07-sip-r2.cap")
    const SAMPLE: &str = "/work/shared/corpus/pcaps/realjimmy_sample-captures/c07-sip-r2.cap";

    fn sample() -> Option<Vec<u8>> {
        match std::fs::read(SAMPLE) {
            Ok(d) => Some(d),
            Err(e) => {
                eprintln!("skipping: {SAMPLE}: {e}");
                None
            }
        }
    }

    fn fnv1a(b: &[u8]) -> u64 {
        b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &x| {
            (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3)
        })
    }

    /// (secs, nsecs, len, caplen, FNV-1a of the bytes) per frame, from
    /// `tshark -T fields -e frame.time_epoch -e frame.len -e frame.cap_len`
    /// and `editcap -F pcap` of the sample.
    const TRUTH: [(i64, u32, u32, usize, u64); 39] = [
        (1121614760, 502000000, 92, 92, 0x3f1ae9432e90ff08),
        (1121614760, 502000000, 271, 271, 0x3c9b6880a8f39759),
        (1121614765, 123000000, 477, 477, 0x1cfb47ac598cb23d),
        (1121614765, 272000000, 476, 476, 0x34ea992f9d07238a),
        (1121614765, 406000000, 485, 485, 0x81b006f2503467f9),
        (1121614765, 542000000, 493, 493, 0x4125278771712ba0),
        (1121614765, 687000000, 509, 509, 0x4d107ab526f0c74c),
        (1121614765, 838000000, 541, 541, 0xbc4090929888cecc),
        (1121614765, 975000000, 603, 603, 0x7fc050dc40f47b62),
        (1121614766, 115000000, 604, 604, 0x9b0cc231d3c97b69),
        (1121614766, 285000000, 731, 731, 0xa7e3f35b958635c8),
        (1121614766, 601000000, 989, 989, 0x234a11979e616404),
        (1121614767, 114000000, 1754, 1754, 0x1205878b6c8361ad),
        (1121614767, 612000000, 2533, 2533, 0xca87e27c0486806f),
        (1121614768, 114000000, 4583, 4583, 0x1dd42e40be1ce192),
        (1121614768, 677000000, 16042, 16042, 0x2db97d7944cce016),
        (1121614768, 838000000, 16042, 16042, 0x2db97d7944cce016),
        (1121614769, 12000000, 16042, 16042, 0x2db97d7944cce016),
        (1121614769, 269000000, 16042, 16042, 0x2db97d7944cce016),
        (1121614769, 405000000, 493, 493, 0x7214d00198b09fa1),
        (1121614769, 541000000, 511, 511, 0x73887ad32b3b8d97),
        (1121614769, 676000000, 508, 508, 0x656f31ed2d740b96),
        (1121614769, 811000000, 532, 532, 0x94db6763a7c86705),
        (1121614769, 947000000, 676, 676, 0x1d317a7afac59b01),
        (1121614770, 82000000, 865, 865, 0x5d1b02daefef8943),
        (1121614770, 216000000, 1249, 1249, 0x96761aa7689fac47),
        (1121614770, 349000000, 2023, 2023, 0xe191a5f7adceea25),
        (1121614770, 484000000, 4294, 4294, 0x6661a74e992f9feb),
        (1121614770, 704000000, 6631, 6631, 0xdc195809f80ee891),
        (1121614770, 993000000, 12781, 12781, 0xd56c82bf3713d006),
        (1121614771, 260000000, 16042, 16042, 0xce63e9264658a076),
        (1121614771, 472000000, 484, 484, 0xca3aacbea0ac90a8),
        (1121614771, 607000000, 493, 493, 0x81aa2f97b169b585),
        (1121614771, 743000000, 501, 501, 0xd3310a039c8b3cfe),
        (1121614771, 898000000, 517, 517, 0x7ea009e831c9e178),
        (1121614772, 32000000, 549, 549, 0x347254cc10ae009b),
        (1121614772, 185000000, 611, 611, 0x56fe3b69c2d07938),
        (1121614772, 319000000, 612, 612, 0xe2296efa3dd3e388),
        (1121614772, 454000000, 740, 740, 0xe4fe3c712765d269),
    ];

    #[test]
    fn sample_matches_tshark() {
        let Some(data) = sample() else { return };
        assert!(NetmonFile::is_netmon(&data));
        let mut f = NetmonFile::parse(data).expect("parse sample");
        assert_eq!(f.linktype(), 1);
        assert_eq!(f.len(), TRUTH.len());
        assert!(!f.is_empty());
        for (i, &(s, ns, len, cap, h)) in TRUTH.iter().enumerate() {
            let (fs, fns, flen, bytes) = f.frame(i).expect("frame");
            assert_eq!(
                (fs, fns, flen, bytes.len()),
                (s, ns, len, cap),
                "frame {}",
                i + 1
            );
            assert_eq!(fnv1a(bytes), h, "bytes of frame {}", i + 1);
        }
        assert_eq!(f.frame(TRUTH.len()).err(), Some(NetmonError::BadFrameTable));
    }

    /// Build a NetMon file: `(delta, orig_len, data, trailer)` records laid
    /// out after a 128-byte header, then the frame table.
    fn build(
        magic: &[u8; 4],
        major: u8,
        minor: u8,
        network: u16,
        recs: &[(u64, u32, &[u8], &[u8])],
    ) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(magic);
        f.extend_from_slice(&[minor, major]);
        f.extend_from_slice(&network.to_le_bytes());
        // 2005-07-17 (a Sunday) 15:39:20.502
        for v in [2005u16, 7, 0, 17, 15, 39, 20, 502] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.resize(128, 0);
        let mut table = Vec::new();
        for &(delta, orig, bytes, trailer) in recs {
            table.push(f.len() as u32);
            if major == 1 {
                f.extend_from_slice(&(delta as u32).to_le_bytes());
                f.extend_from_slice(&(orig as u16).to_le_bytes());
                f.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
            } else {
                f.extend_from_slice(&delta.to_le_bytes());
                f.extend_from_slice(&orig.to_le_bytes());
                f.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            }
            f.extend_from_slice(bytes);
            f.extend_from_slice(trailer);
        }
        let ft_off = f.len() as u32;
        for t in &table {
            f.extend_from_slice(&t.to_le_bytes());
        }
        f[24..28].copy_from_slice(&ft_off.to_le_bytes());
        f[28..32].copy_from_slice(&((table.len() * 4) as u32).to_le_bytes());
        f
    }

    const START: i64 = 1_121_614_760;

    #[test]
    fn netmon1_millisecond_offsets() {
        let mut f = NetmonFile::parse(build(
            b"RTSS",
            1,
            1,
            1,
            &[(0, 60, &[1; 60], &[]), (1500, 80, &[2; 40], &[])],
        ))
        .unwrap();
        assert_eq!(f.linktype(), 1);
        assert_eq!(
            f.frame(0).unwrap(),
            (START, 502_000_000, 60, &[1u8; 60][..])
        );
        assert_eq!(
            f.frame(1).unwrap(),
            (START + 2, 2_000_000, 80, &[2u8; 40][..])
        );
    }

    #[test]
    fn netmon2_negative_offset() {
        // -1000 µs: (raw × 10) wraps to -10_000 ticks, i.e. 1 ms before start.
        let raw = (-1000i64) as u64;
        let mut f = NetmonFile::parse(build(b"GMBU", 2, 0, 1, &[(raw, 4, b"abcd", &[])])).unwrap();
        assert_eq!(f.frame(0).unwrap(), (START, 501_000_000, 4, &b"abcd"[..]));
    }

    fn trailer23(network: u16, filetime: u64) -> Vec<u8> {
        let mut t = network.to_le_bytes().to_vec();
        t.extend_from_slice(&7u32.to_le_bytes());
        t.extend_from_slice(&filetime.to_le_bytes());
        t.push(0);
        t
    }

    #[test]
    fn netmon23_trailers() {
        // 2020-01-01T00:00:00.1234567Z as a FILETIME.
        let ft = 132_223_104_001_234_567u64;
        let raw_ip = trailer23(0xE000 | 101, ft);
        let eth = trailer23(1, ft);
        let dns = trailer23(0xFFFE, ft);
        let event = trailer23(0xFFE0, ft);
        let ip = [0x45u8; 20];
        let recs: [(u64, u32, &[u8], &[u8]); 5] = [
            (0, 20, &ip, &raw_ip),
            (0, 3, b"dns", &dns),
            (0, 14, &[0xEE; 14], &eth),
            (0, 5, b"event", &event),
            (0, 20, &ip, &raw_ip),
        ];
        // Header says Ethernet, as NetMon 3 always writes.
        let mut f = NetmonFile::parse(build(b"GMBU", 2, 3, 1, &recs)).unwrap();
        assert_eq!(f.linktype(), 101);
        assert_eq!(f.len(), 4, "DNS-cache record is hidden like tshark does");
        assert_eq!(
            f.frame(0).unwrap(),
            (1_577_836_800, 123_456_700, 20, &ip[..])
        );
        assert_eq!(f.frame(1).unwrap().3, b"", "other link type is blanked");
        assert_eq!(f.frame(1).unwrap().2, 14);
        assert_eq!(f.frame(2).unwrap().3, b"", "metadata is blanked");
        assert_eq!(f.frame(3).unwrap().3, &ip[..]);
    }

    #[test]
    fn netmon21_22_trailer_sizes() {
        for (minor, trailer) in [(1u8, vec![1u8, 0]), (2, vec![1, 0, 9, 9, 9, 9])] {
            let recs: [(u64, u32, &[u8], &[u8]); 2] =
                [(0, 4, b"abcd", &trailer), (1_000_000, 2, b"ef", &trailer)];
            let mut f = NetmonFile::parse(build(b"GMBU", 2, minor, 1, &recs)).unwrap();
            assert_eq!(f.linktype(), 1);
            assert_eq!(f.frame(0).unwrap(), (START, 502_000_000, 4, &b"abcd"[..]));
            assert_eq!(f.frame(1).unwrap(), (START + 1, 502_000_000, 2, &b"ef"[..]));
        }
    }

    #[test]
    fn radio_header_is_stripped() {
        let mut frame = vec![2u8, 32, 0];
        frame.resize(32, 0);
        frame.extend_from_slice(b"80211");
        let mut f = NetmonFile::parse(build(b"GMBU", 2, 0, 6, &[(0, 37, &frame, &[])])).unwrap();
        assert_eq!(f.linktype(), 105);
        assert_eq!(f.frame(0).unwrap().2, 5);
        assert_eq!(f.frame(0).unwrap().3, b"80211");
    }

    #[test]
    fn errors() {
        assert_eq!(
            NetmonFile::parse(b"\xd4\xc3\xb2\xa1".to_vec()).err(),
            Some(NetmonError::NotNetmon)
        );
        assert_eq!(
            NetmonFile::parse(b"GMBU".to_vec()).err(),
            Some(NetmonError::Truncated { offset: 0 })
        );
        let mut v3 = build(b"GMBU", 2, 0, 1, &[]);
        v3[5] = 3;
        assert_eq!(NetmonFile::parse(v3).err(), Some(NetmonError::NotNetmon));
        let mut odd = build(b"GMBU", 2, 0, 1, &[(0, 1, b"x", &[])]);
        odd[28] = 3;
        assert_eq!(
            NetmonFile::parse(odd).err(),
            Some(NetmonError::BadFrameTable)
        );
        let empty = NetmonFile::parse(build(b"GMBU", 2, 0, 1, &[])).unwrap();
        assert!(empty.is_empty());
        let mut bad_entry = build(b"GMBU", 2, 0, 1, &[(0, 1, b"x", &[])]);
        let n = bad_entry.len();
        bad_entry[n - 4..].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        let mut f = NetmonFile::parse(bad_entry).unwrap();
        assert_eq!(
            f.frame(0).err(),
            Some(NetmonError::Truncated {
                offset: 0xFFFF_FFF0
            })
        );
        assert_eq!(
            check_len(MAX_FILE_LEN + 1),
            Err(NetmonError::TooLarge {
                len: MAX_FILE_LEN + 1
            })
        );
        assert_eq!(check_len(MAX_FILE_LEN), Ok(()));
        let _ = NetmonError::TooLarge { len: 1 }.to_string();
    }

    /// Parse and read every frame; only the absence of panics and basic
    /// invariants matter.
    fn exercise(data: Vec<u8>) {
        let total = data.len();
        if let Ok(mut f) = NetmonFile::parse(data) {
            for i in 0..f.len() + 1 {
                if let Ok((_, ns, _, bytes)) = f.frame(i) {
                    assert!(ns < 1_000_000_000);
                    assert!(bytes.len() <= total);
                }
            }
            let _ = f.linktype();
        }
    }

    use crate::testutil::XorShift;

    #[test]
    fn truncations_do_not_panic() {
        let Some(data) = sample() else { return };
        let ft_off = le32(&data, 24).unwrap() as usize;
        let cuts = (0..=4096).chain(ft_off.saturating_sub(64)..=data.len());
        for cut in cuts {
            exercise(data[..cut.min(data.len())].to_vec());
        }
        // Cutting the data but keeping a frame table (re-appended right after
        // the cut) makes the records themselves run out, not just the table.
        let table = &data[ft_off..];
        for cut in 32..=4096 {
            let mut m = data[..cut].to_vec();
            m.extend_from_slice(table);
            m[24..28].copy_from_slice(&(cut as u32).to_le_bytes());
            let mut f = NetmonFile::parse(m.clone()).expect("header and table intact");
            let good = (0..f.len()).take_while(|&i| f.frame(i).is_ok()).count();
            assert!(good < f.len(), "cut at {cut} must damage some frame");
            exercise(m);
        }
        // A compact 2.3 file small enough to cut at every length, so that
        // records and trailers get cut too, not only the frame table.
        let ip = [0x45u8; 20];
        let t = trailer23(0xE065, 132_223_104_001_234_567);
        let small = build(b"GMBU", 2, 3, 1, &[(0, 20, &ip, &t), (5, 20, &ip, &t)]);
        for cut in 0..=small.len() {
            exercise(small[..cut].to_vec());
        }
    }

    #[test]
    fn mutations_do_not_panic() {
        let Some(data) = sample() else { return };
        let ft_off = le32(&data, 24).unwrap() as usize;
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut offsets: Vec<usize> = (0..39)
            .map(|i| le32(&data, ft_off + 4 * i).unwrap() as usize)
            .collect();
        offsets.push(0);
        let ip = [0x45u8; 20];
        let t = trailer23(0xE065, 132_223_104_001_234_567);
        let radio = {
            let mut r = vec![2u8, 32, 0];
            r.resize(40, 0);
            r
        };
        let small = build(
            b"GMBU",
            2,
            3,
            1,
            &[(0, 20, &ip, &t), (5, 40, &radio, &trailer23(6, 0))],
        );
        for round in 0..4000 {
            let mut m = if round % 2 == 0 {
                data.clone()
            } else {
                small.clone()
            };
            for _ in 0..1 + rng.below(8) {
                // Aim most hits at the header, frame table and record headers,
                // where structure lives; the rest land anywhere.
                let pos = match rng.below(4) {
                    0 => rng.below(64),
                    1 => m.len().saturating_sub(1 + rng.below(160)),
                    2 if round % 2 == 0 => offsets[rng.below(offsets.len())] + rng.below(16),
                    _ => rng.below(m.len()),
                };
                if let Some(b) = m.get_mut(pos) {
                    *b = match rng.below(3) {
                        0 => rng.next() as u8,
                        1 => 0xFF,
                        _ => *b ^ (1 << rng.below(8)),
                    };
                }
            }
            exercise(m);
        }
    }
}
