//! pcap and pcapng files, plain or gzip-compressed, or standard input (`-`).
//!
//! A pcap or pcapng file (plain or gzip'd) is read in chunks whose frames are lent to the
//! pipeline without a copy ([`super::chunks`]); a pcapng block's bytes are read in place by
//! `pcap-parser`'s block parsers. From a pipe, both formats go through `pcap-parser`'s streaming
//! reader: it parses in place in a fixed buffer (no per-packet allocation of its own, no
//! libpcap) and can give up waiting for a quiet pipe.
//! pcapng files may hold several interfaces with their own link types, time resolutions and
//! offsets; each packet is stamped with its interface's. A truncated or damaged file is analysed
//! up to the damage and the place where it stopped is reported, never a panic.
//!
//! Contracts:
//! - Memory follows the bytes that really arrive, not what a header claims: the read buffer
//!   (1 MiB) grows, by doubling up to [`MAX_RECORD`], only once it is full of the input's bytes,
//!   so a record header claiming 200 MiB followed by 100 bytes costs 1 MiB and ends with
//!   "capture is truncated".
//! - pcapng time stamps are converted by sipscope ([`super::pcapng`]), not by pcap-parser:
//!   `if_tsresol` is read in both its forms, 10^-n and 2^-n (pcap-parser 0.16 and 0.17 turn
//!   every 2^-n into `None`, see docs/upstream/pcap-parser-tsresol.md), with integer arithmetic only (seconds = ts >> n,
//!   nanoseconds = (ts & (2^n - 1)) * 10^9 >> n, truncated as Wireshark does), and `if_tsoffset`
//!   (seconds added to every stamp) is read in the section's byte order. An `if_tsresol` that
//!   cannot be represented (10^-20 and finer, 2^-64 and finer) is counted
//!   ([`CaptureStats::bad_tsresol`]) and read as microseconds, the format's default.
//! - A pcapng packet block naming an interface its section never declared is skipped and counted
//!   ([`CaptureStats::unknown_interface`]): its link type is unknown, and guessing one (say, the
//!   only interface's) would decode bytes of another medium as this one's.
//! - A pcap record whose sub-second field is out of range (`ts_usec` ≥ 10^6, or ≥ 10^9 in a
//!   nanosecond pcap) is kept, with the field clamped to the last instant of its second and the
//!   frame counted ([`CaptureStats::bad_subsecond`]): carrying the excess into the following
//!   seconds (up to 71 minutes for 0xffffffff µs) would stamp it silently wrong, and dropping it
//!   would lose its message.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use pcap_parser::pcapng::{parse_block_be, parse_block_le};
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader};

use super::chunks::{Chunks, Got};
use super::netmon::{NetmonError, NetmonFile, Store};
use super::pcapng::Sections;
pub use super::pcapng::TsResolution;
use super::{CaptureError, CaptureStats, FrameRef, LinkType, Next, Source};
use crate::time::Ts;

/// Counts bytes as the parser pulls them, for the progress bar.
struct Counting<R> {
    inner: R,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: io::Seek> io::Seek for Counting<R> {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// A NetMon file's bytes up to the end of its frame table are spooled into memory up to this
/// size, into an unlinked temporary file beyond it.
const SPOOL_IN_MEMORY: u64 = 8 << 20;

/// Past the end of a NetMon frame table, this many bytes (or any byte when the table is empty)
/// are absurd, and said.
const NETMON_SKIP_SAID: u64 = 16 << 20;

/// An unlinked temporary file, readable and writable by this process only.
fn spool_file() -> io::Result<File> {
    static SPOOLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = std::env::temp_dir();
    loop {
        let n = SPOOLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = dir.join(format!("sipscope-{}-{n}.spool", std::process::id()));
        let mut o = std::fs::OpenOptions::new();
        o.read(true).write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        match o.open(&p) {
            Ok(f) => {
                let _ = std::fs::remove_file(&p);
                return Ok(f);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1 << 20 => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Copies the first `needed` bytes of a NetMon stream into a seekable store (memory or a
/// spool file): (the store, the bytes it got).
fn spool(input: &mut dyn Read, needed: u64) -> io::Result<(Box<dyn Store>, u64)> {
    let mut part = input.take(needed);
    if needed <= SPOOL_IN_MEMORY {
        // Grows with the bytes that arrive, not with the header's claim.
        let mut v = Vec::new();
        part.read_to_end(&mut v)?;
        let n = v.len() as u64;
        return Ok((Box::new(io::Cursor::new(v)), n));
    }
    let mut f = spool_file()?;
    let n = io::copy(&mut part, &mut f)?;
    Ok((Box::new(f), n))
}

/// A pcap record's time: the sub-second field is clamped to its range (`Err` when it was out of
/// it), never carried into the following seconds.
fn legacy_ts(secs: u32, sub: u32, nano: bool) -> Result<Ts, Ts> {
    let (max, scale) = if nano {
        (999_999_999, 1)
    } else {
        (999_999, 1000)
    };
    let ts = |sub: u32| Ts::from_parts(i64::from(secs), i64::from(sub) * scale);
    if sub > max {
        Err(ts(max))
    } else {
        Ok(ts(sub))
    }
}

pub struct FileSource {
    path: PathBuf,
    reader: Reader,
    /// Legacy pcap: one link type and resolution for the whole file.
    legacy: Option<(LinkType, bool)>,
    ng: Sections,
    /// The reader's buffer size now (it only grows).
    capacity: usize,
    /// Bytes of the record lent by the last `next_frame`, consumed at the next call.
    lent: usize,
    stats: CaptureStats,
    last_ts: Ts,
    done: bool,
    read_bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    total_bytes: u64,
    /// Read from a pipe as packets come (standard input, a FIFO; not gzip'd): the reader can wait
    /// with a timeout and say it is idle ([`super::pipe`]).
    pipe: Option<std::sync::Arc<super::pipe::PipeState>>,
    /// Read from a pipe or standard input (frames may come as they happen).
    stream: bool,
    gzip: bool,
    /// Where the TLS key logs of Decryption Secrets Blocks go.
    secrets: Option<super::SecretsSink>,
}

const BUFFER: usize = 1 << 20;
/// The largest record we accept; pcap-parser's buffer grows to it when a record needs more.
const MAX_RECORD: usize = 256 << 20;

impl FileSource {
    /// Opens `path` (`-` is standard input). Gzip is detected by its magic bytes.
    pub fn open(path: &Path) -> Result<FileSource, CaptureError> {
        let err_open = |source| CaptureError::Open {
            path: path.to_path_buf(),
            source,
        };
        let (raw, total): (Box<dyn Read + Send>, u64) = if path == Path::new("-") {
            return FileSource::from_pipe(path, Box::new(io::stdin()));
        } else {
            let mut f = File::open(path).map_err(err_open)?;
            let meta = f.metadata().map_err(err_open)?;
            if meta.is_dir() {
                return Err(err_open(io::Error::other("is a directory")));
            }
            if std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type()) {
                return FileSource::from_pipe(path, Box::new(f));
            }
            // A plain NetMon file is read in place, seeking to its frame table at the end.
            if meta.is_file() {
                let mut head = [0u8; 32];
                let n = read_full(&mut f, &mut head).map_err(err_open)?;
                if NetmonFile::is_netmon(&head[..n]) {
                    return FileSource::netmon_in_place(path, f, &head[..n], meta.len());
                }
                io::Seek::seek(&mut f, io::SeekFrom::Start(0)).map_err(err_open)?;
            }
            (Box::new(f), meta.len())
        };
        FileSource::from_reader(path, raw, total)
    }

    /// Reads a capture from a pipe through [`super::pipe::PipeReader`], so that a quiet pipe makes
    /// the source idle (`next_or_idle`) instead of holding the frames it has.
    fn from_pipe(path: &Path, raw: Box<dyn Read + Send>) -> Result<FileSource, CaptureError> {
        let (reader, state) =
            super::pipe::PipeReader::new(raw).map_err(|source| CaptureError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        let mut s = FileSource::from_input(path, Box::new(reader), 0, false)?;
        s.stream = true;
        // Gzip'd input goes through a decoder that cannot resume after a read gives up.
        if matches!(s.reader, Reader::Legacy(_) | Reader::Ng(_)) && !s.gzip {
            s.pipe = Some(state);
        }
        Ok(s)
    }

    /// Reads a capture from `raw` (of `total` bytes if known, else 0), named `path` in what it
    /// reports: in-memory captures (the fuzz targets, tests) go through the same reader as files.
    pub fn from_reader(
        path: &Path,
        raw: Box<dyn Read + Send>,
        total: u64,
    ) -> Result<FileSource, CaptureError> {
        FileSource::from_input(path, raw, total, true)
    }

    /// [`FileSource::from_reader`]; a pcap is read in shared chunks when `chunked` (not from a
    /// pipe: a chunk is filled before its frames are lent, and a pipe's frames must go on as
    /// they come).
    fn from_input(
        path: &Path,
        raw: Box<dyn Read + Send>,
        total: u64,
        chunked: bool,
    ) -> Result<FileSource, CaptureError> {
        let read_bytes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let read_err = |source| CaptureError::Read {
            path: path.to_path_buf(),
            source,
        };
        let mut counting = Counting {
            inner: raw,
            count: read_bytes.clone(),
        };
        // Peek at the magic without a buffering layer of our own: pcap-parser reads big blocks
        // straight into its buffer, and a BufReader in between would copy every byte once more.
        let head = read_head(&mut counting).map_err(read_err)?;
        if head.is_empty() {
            return Err(CaptureError::Empty {
                path: path.to_path_buf(),
            });
        }
        let plain = io::Cursor::new(head.clone()).chain(counting);
        let gzip = head.starts_with(&[0x1f, 0x8b]);
        let (input, head): (Input, Vec<u8>) = if gzip {
            let mut gz =
                flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, plain));
            let inner = read_head(&mut gz).map_err(read_err)?;
            (Box::new(io::Cursor::new(inner.clone()).chain(gz)), inner)
        } else {
            (Box::new(plain), head)
        };
        let magic = head
            .get(..4)
            .map(|m| u32::from_be_bytes([m[0], m[1], m[2], m[3]]));
        let not_capture = || CaptureError::NotACapture {
            path: path.to_path_buf(),
        };
        let reader = match magic {
            // "GMBU" (Network Monitor 2.x) and "RTSS" (1.x).
            Some(0x474d_4255 | 0x5254_5353) => {
                // Gzip'd or piped: spool what the header says the file needs (up to the end of
                // its frame table), then count what follows without keeping it.
                let needed = NetmonFile::needed_len(&head).map_err(|e| netmon_err(path, e))?;
                let mut input = input;
                let (store, got) = spool(&mut input, needed).map_err(read_err)?;
                let rest = io::copy(&mut (&mut input).take(1 << 31), &mut io::sink()).map_err(
                    |source| CaptureError::Read {
                        path: path.to_path_buf(),
                        source,
                    },
                )?;
                let file = NetmonFile::open(store, got).map_err(|e| netmon_err(path, e))?;
                return Ok(FileSource::netmon(path, file, rest, read_bytes, total));
            }
            Some(0x0a0d_0d0a) if chunked => {
                let chunks = Chunks::pcapng(&head, input).ok_or_else(not_capture)?;
                Reader::Chunks {
                    chunks: Box::new(chunks),
                    empty: EmptyReader,
                }
            }
            Some(0x0a0d_0d0a) => {
                Reader::Ng(PcapNGReader::new(BUFFER, input).map_err(|_| not_capture())?)
            }
            Some(0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1) if chunked => {
                let chunks = Chunks::pcap(&head, input).ok_or_else(not_capture)?;
                Reader::Chunks {
                    chunks: Box::new(chunks),
                    empty: EmptyReader,
                }
            }
            Some(0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1) => {
                Reader::Legacy(LegacyPcapReader::new(BUFFER, input).map_err(|_| not_capture())?)
            }
            _ => {
                return Err(CaptureError::NotACapture {
                    path: path.to_path_buf(),
                })
            }
        };
        Ok(FileSource {
            path: path.to_path_buf(),
            reader,
            legacy: None,
            ng: Sections::default(),
            capacity: BUFFER,
            lent: 0,
            stats: CaptureStats::default(),
            last_ts: Ts::ZERO,
            done: false,
            read_bytes,
            total_bytes: total,
            pipe: None,
            stream: false,
            gzip,
            secrets: None,
        })
    }

    /// A NetMon file read in place: `f` is a regular file of `total` bytes, `head` its start.
    fn netmon_in_place(
        path: &Path,
        f: File,
        head: &[u8],
        total: u64,
    ) -> Result<FileSource, CaptureError> {
        let needed = NetmonFile::needed_len(head).map_err(|e| netmon_err(path, e))?;
        let read_bytes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counting = Counting {
            inner: f,
            count: read_bytes.clone(),
        };
        let file = NetmonFile::open(Box::new(counting), total).map_err(|e| netmon_err(path, e))?;
        let rest = total.saturating_sub(needed);
        Ok(FileSource::netmon(path, file, rest, read_bytes, total))
    }

    /// A source over a parsed NetMon file; `rest` bytes followed its frame table.
    fn netmon(
        path: &Path,
        file: NetmonFile,
        rest: u64,
        read_bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
        total: u64,
    ) -> FileSource {
        let mut stats = CaptureStats::default();
        if file.is_empty() {
            stats.stopped_early.push(format!(
                "{}: the NetMon frame table lists no frames",
                path.display()
            ));
        }
        if (file.is_empty() && rest > 0) || rest > NETMON_SKIP_SAID {
            stats.skipped_bytes = rest;
        }
        let link = LinkType::from_linktype(file.linktype());
        FileSource {
            path: path.to_path_buf(),
            reader: Reader::Netmon {
                file: Box::new(file),
                next: 0,
                link,
                empty: EmptyReader,
            },
            legacy: None,
            ng: Sections::default(),
            capacity: 0,
            lent: 0,
            stats,
            last_ts: Ts::ZERO,
            done: false,
            read_bytes,
            total_bytes: total,
            pipe: None,
            stream: false,
            gzip: false,
            secrets: None,
        }
    }

    /// The size the reader's buffer has grown to: it follows the bytes that arrived, never a
    /// record's claim (tests and the fuzz targets assert this bound).
    pub fn buffer_capacity(&self) -> usize {
        match &self.reader {
            Reader::Chunks { chunks, .. } => chunks.capacity(),
            _ => self.capacity,
        }
    }

    fn stop(&mut self, why: String) {
        self.stats
            .stopped_early
            .push(format!("{}: {why}", self.path.display()));
        self.done = true;
    }
}

/// Counts one frame in the source's statistics.
fn count(stats: &mut CaptureStats, last_ts: &mut Ts, ts: Ts, len: usize, orig_len: u32) {
    stats.frames += 1;
    stats.bytes += len as u64;
    if (orig_len as usize) > len {
        stats.truncated_frames += 1;
    }
    if ts < *last_ts {
        stats.out_of_order_ts += 1;
    }
    *last_ts = ts;
}

/// The two concrete readers; both are `Send` because their input is.
enum Reader {
    /// A pcap or pcapng file or gzip stream, read in chunks its frames are lent from
    /// ([`super::chunks`]).
    Chunks {
        chunks: Box<Chunks>,
        /// What `get` hands out for this variant: it reports end of input.
        empty: EmptyReader,
    },
    /// A pcap read from a pipe, as its bytes come.
    Legacy(LegacyPcapReader<Input>),
    Ng(PcapNGReader<Input>),
    /// Network Monitor files keep a frame table at the end: walked from a seekable store.
    Netmon {
        file: Box<NetmonFile>,
        next: usize,
        link: LinkType,
        /// What `get` hands out for this variant: it reports end of input.
        empty: EmptyReader,
    },
}

type Input = Box<dyn Read + Send>;

/// A NetMon error as the user sees it: not a capture at all, or a damaged one.
fn netmon_err(path: &Path, e: NetmonError) -> CaptureError {
    match e {
        NetmonError::NotNetmon => CaptureError::NotACapture {
            path: path.to_path_buf(),
        },
        e => CaptureError::Read {
            path: path.to_path_buf(),
            source: io::Error::other(e.to_string()),
        },
    }
}

/// Reads into `buf` until it is full or the input ends; the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    super::chunks::read_full(r, buf).map_err(|(_, e)| e)
}

/// Reads the start of the input: the magic and the whole file header, which pcap-parser wants
/// in its first read, and no more than has come (at most 64 KiB). A pipe fed as packets arrive
/// (`tcpdump -U -w - | sipscope messages -`) is read as it comes: waiting for a full buffer
/// would hold the first message back, and a stop request with it.
fn read_head(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut head = vec![0u8; 1 << 16];
    let mut got = 0;
    while got < head.len() && got < head_needs(&head[..got]) {
        match r.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(got);
    Ok(head)
}

/// How many bytes the head must hold before the format can be told and its header parsed:
/// 4 for the magic, then the pcap file header (24), or the pcapng section header block (its
/// length, read from it); NetMon as much as there is (64 KiB); other formats (gzip, not a
/// capture) need only the magic.
fn head_needs(h: &[u8]) -> usize {
    const PCAP: [[u8; 4]; 6] = [
        [0xd4, 0xc3, 0xb2, 0xa1],
        [0xa1, 0xb2, 0xc3, 0xd4],
        [0x4d, 0x3c, 0xb2, 0xa1],
        [0xa1, 0xb2, 0x3c, 0x4d],
        [0x34, 0xcd, 0xb2, 0xa1],
        [0xa1, 0xb2, 0xcd, 0x34],
    ];
    let Some(magic) = h.get(..4) else { return 4 };
    if PCAP.iter().any(|m| m == magic) {
        return 24;
    }
    if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
        let Some(b) = h.get(4..12) else { return 12 };
        let len = [b[0], b[1], b[2], b[3]];
        // The byte-order magic tells how the length is written.
        let n = match [b[4], b[5], b[6], b[7]] {
            [0x4d, 0x3c, 0x2b, 0x1a] => u32::from_le_bytes(len),
            _ => u32::from_be_bytes(len),
        };
        return (n as usize).max(28);
    }
    // NetMon ("GMBU", "RTSS"): its header and what it points to are read from the head (the
    // format is never fed live); up to the whole 64 KiB.
    if magic == b"GMBU" || magic == b"RTSS" {
        return usize::MAX;
    }
    4
}

/// Stands in for a pcap reader where the file is not pcap (Netmon frames are served before the
/// pcap path is reached); it only ever reports the end of input.
struct EmptyReader;

impl PcapReaderIterator for EmptyReader {
    fn next(&mut self) -> Result<(usize, PcapBlockOwned<'_>), PcapError<&[u8]>> {
        Err(PcapError::Eof)
    }
    fn consume(&mut self, _: usize) {}
    fn consume_noshift(&mut self, _: usize) {}
    fn consumed(&self) -> usize {
        0
    }
    fn refill(&mut self) -> Result<(), PcapError<&[u8]>> {
        Err(PcapError::Eof)
    }
    fn position(&self) -> usize {
        0
    }
    fn grow(&mut self, _: usize) -> bool {
        false
    }
    fn data(&self) -> &[u8] {
        &[]
    }
    fn reader_exhausted(&self) -> bool {
        true
    }
}

impl Reader {
    fn get(&mut self) -> &mut dyn PcapReaderIterator {
        match self {
            Reader::Legacy(r) => r,
            Reader::Ng(r) => r,
            Reader::Netmon { empty, .. } | Reader::Chunks { empty, .. } => empty,
        }
    }
}

impl FileSource {
    fn next_chunked(&mut self) -> Option<FrameRef<'_>> {
        // Find the next frame's place in the current chunk; lend it after the loop (a borrow
        // cannot leave a loop that may go round again).
        let (ts, link, orig, at, len) = loop {
            let Reader::Chunks { chunks, .. } = &mut self.reader else {
                return None;
            };
            if self.done {
                return None;
            }
            match chunks.next() {
                Got::Record(r) => {
                    let ts = legacy_ts(r.ts_sec, r.ts_sub, chunks.nano).unwrap_or_else(|t| {
                        self.stats.bad_subsecond += 1;
                        t
                    });
                    break (ts, chunks.link, r.orig_len, r.at, r.len);
                }
                Got::Block { at, len } => {
                    let chunk = chunks.chunk();
                    let bytes = &chunk[at..at + len];
                    let packet = match self.ng.bare_packet(bytes, &mut self.stats) {
                        Some(p) => p,
                        None => {
                            let parsed = if chunks.big_endian {
                                parse_block_be(bytes)
                            } else {
                                parse_block_le(bytes)
                            };
                            let Ok((_, block)) = parsed else {
                                let why =
                                    format!("damaged record at byte {}", chunks.offset_of(at));
                                self.stop(why);
                                return None;
                            };
                            let secrets = self.secrets.as_ref();
                            self.ng
                                .block(&block, &mut self.stats, self.last_ts, secrets)
                        }
                    };
                    if let Some((ts, link, orig, data)) = packet {
                        let at = data.as_ptr() as usize - chunk.as_ptr() as usize;
                        break (ts, link, orig, at, data.len());
                    }
                }
                Got::End => {
                    self.done = true;
                    return None;
                }
                Got::Stop(why) => {
                    self.stop(why);
                    return None;
                }
            }
        };
        count(&mut self.stats, &mut self.last_ts, ts, len, orig);
        let Reader::Chunks { chunks, .. } = &self.reader else {
            return None;
        };
        let chunk = chunks.chunk();
        Some(FrameRef {
            ts,
            link,
            data: &chunk[at..at + len],
            orig_len: orig,
            shared: Some(chunk),
        })
    }

    fn next_netmon(&mut self) -> Result<Option<FrameRef<'_>>, CaptureError> {
        let Reader::Netmon {
            file, next, link, ..
        } = &mut self.reader
        else {
            return Ok(None);
        };
        if self.done || *next >= file.len() {
            self.done = true;
            return Ok(None);
        }
        let i = *next;
        *next += 1;
        match file.frame(i) {
            Ok((secs, nanos, orig, data)) => {
                let ts = Ts::from_parts(secs, nanos as i64);
                count(&mut self.stats, &mut self.last_ts, ts, data.len(), orig);
                Ok(Some(FrameRef {
                    ts,
                    link: *link,
                    data,
                    orig_len: orig,
                    shared: None,
                }))
            }
            Err(e) => {
                self.stats.stopped_early.push(format!(
                    "{}: frame {}: {e}",
                    self.path.display(),
                    i + 1
                ));
                self.done = true;
                Ok(None)
            }
        }
    }
}

impl FileSource {
    /// Reads more input into the reader's buffer: false when the run must stop here, because the
    /// read failed (said, the source ends) or a pipe stayed quiet (`next_or_idle` goes idle).
    fn refill(&mut self) -> bool {
        let Err(e) = self.reader.get().refill().map_err(|e| format!("{e:?}")) else {
            return true;
        };
        if self.pipe.as_ref().is_some_and(|p| p.timed_out()) {
            return false;
        }
        let msg = format!(
            "read error after byte {}: {e}",
            self.reader.get().consumed()
        );
        self.stop(msg);
        false
    }
}

impl Source for FileSource {
    fn secrets_to(&mut self, sink: super::SecretsSink) {
        self.secrets = Some(sink);
    }

    fn next_frame(&mut self) -> Result<Option<FrameRef<'_>>, CaptureError> {
        match self.reader {
            Reader::Netmon { .. } => return self.next_netmon(),
            Reader::Chunks { .. } => return Ok(self.next_chunked()),
            _ => {}
        }
        // The frame lent last time lives in the reader's buffer until now.
        if self.lent > 0 {
            let n = std::mem::take(&mut self.lent);
            self.reader.get().consume(n);
        }
        // Find the next packet record; remember where its bytes are in the reader's buffer, and
        // lend them after the loop (a borrow cannot leave a loop that may go round again).
        let (ts, link, orig, at, len) = loop {
            if self.done {
                return Ok(None);
            }
            let base = self.reader.get().data().as_ptr() as usize;
            let packet = match self.reader.get().next() {
                Ok((offset, block)) => {
                    let at = |d: &[u8]| d.as_ptr() as usize - base;
                    let packet = match block {
                        PcapBlockOwned::LegacyHeader(h) => {
                            self.legacy = Some((
                                LinkType::from_linktype(h.network.0 as u32),
                                h.is_nanosecond_precision(),
                            ));
                            None
                        }
                        PcapBlockOwned::Legacy(b) => {
                            let (link, nano) = self.legacy.unwrap_or((LinkType::Ethernet, false));
                            let ts = legacy_ts(b.ts_sec, b.ts_usec, nano).unwrap_or_else(|t| {
                                self.stats.bad_subsecond += 1;
                                t
                            });
                            let n = (b.caplen as usize).min(b.data.len());
                            Some((ts, link, b.origlen, at(b.data), n))
                        }
                        PcapBlockOwned::NG(block) => self
                            .ng
                            .block(&block, &mut self.stats, self.last_ts, self.secrets.as_ref())
                            .map(|(ts, link, orig, data)| (ts, link, orig, at(data), data.len())),
                    };
                    match packet {
                        Some(p) => {
                            self.lent = offset;
                            Some(p)
                        }
                        None => {
                            self.reader.get().consume(offset);
                            None
                        }
                    }
                }
                Err(PcapError::Eof) => {
                    self.done = true;
                    return Ok(None);
                }
                Err(PcapError::Incomplete(_)) => {
                    if self.reader.get().reader_exhausted() {
                        let pos = self.reader.get().consumed();
                        self.stop(format!(
                            "capture is truncated: the last record (at byte {pos}) is incomplete"
                        ));
                        return Ok(None);
                    }
                    if !self.refill() {
                        return Ok(None);
                    }
                    continue;
                }
                Err(PcapError::BufferTooSmall) => {
                    // The record claims more than the buffer holds. Believe the claim only as
                    // far as the input backs it: fill the buffer first, and grow it only when
                    // it is full of real bytes (a header claiming 200 MiB before 100 bytes and
                    // the end of the file must not cost 200 MiB).
                    if self.reader.get().data().len() < self.capacity {
                        if !self.refill() {
                            return Ok(None);
                        }
                        continue;
                    }
                    let next = self.capacity.saturating_mul(2).min(MAX_RECORD);
                    if next <= self.capacity || !self.reader.get().grow(next) {
                        let pos = self.reader.get().consumed();
                        self.stop(format!(
                            "record at byte {pos} is larger than {MAX_RECORD} bytes"
                        ));
                        return Ok(None);
                    }
                    self.capacity = next;
                    continue;
                }
                Err(e) => {
                    let what = match e {
                        PcapError::ReadError => "read error (truncated or damaged file) after byte",
                        PcapError::UnexpectedEof => "capture is truncated after byte",
                        _ => "damaged record at byte",
                    };
                    let msg = format!("{what} {}", self.reader.get().consumed());
                    self.stop(msg);
                    return Ok(None);
                }
            };
            if let Some(p) = packet {
                break p;
            }
        };
        count(&mut self.stats, &mut self.last_ts, ts, len, orig);
        let data = self.reader.get().data().get(at..at + len).unwrap_or(&[]);
        Ok(Some(FrameRef {
            ts,
            link,
            data,
            orig_len: orig,
            shared: None,
        }))
    }

    /// From a pipe, a read that waits more than `pipe::WAIT` for bytes makes the source idle
    /// (at the last frame's time: capture time does not move) so the frames read so far are
    /// analysed and printed now, and a stop request is seen.
    fn next_or_idle(&mut self) -> Result<Next<'_>, CaptureError> {
        let Some(pipe) = self.pipe.clone() else {
            return Ok(match self.next_frame()? {
                Some(f) => Next::Frame(f),
                None => Next::End,
            });
        };
        let idle_at = self.last_ts;
        pipe.set_impatient(true);
        let r = self.next_frame();
        pipe.set_impatient(false);
        match r? {
            Some(f) => Ok(Next::Frame(f)),
            None if pipe.timed_out() => Ok(Next::Idle(idle_at)),
            None => Ok(Next::End),
        }
    }

    fn stats(&self) -> CaptureStats {
        self.stats.clone()
    }

    fn paced(&self) -> bool {
        self.stream
    }

    fn progress(&self) -> Option<(u64, u64)> {
        Some((
            self.read_bytes.load(std::sync::atomic::Ordering::Relaxed),
            self.total_bytes,
        ))
    }
}

#[cfg(test)]
mod head_tests {
    use super::*;

    /// A reader that gives `chunk` bytes per read and then blocks for good (a pipe whose writer
    /// waits): reading past what the header needs would never return.
    struct Trickle<'a> {
        data: &'a [u8],
        chunk: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            assert!(
                !self.data.is_empty(),
                "read past what was sent: it would block"
            );
            let n = self.chunk.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn the_head_of_a_pipe_is_read_as_it_comes() {
        let mut pcap = vec![0xd4, 0xc3, 0xb2, 0xa1];
        pcap.extend_from_slice(&[
            2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
        ]);
        let head = read_head(&mut Trickle {
            data: &pcap,
            chunk: 5,
        })
        .unwrap();
        assert_eq!(head, pcap);
        // pcapng: the section header block's length (here 32, little-endian) decides.
        let mut ng = vec![0x0a, 0x0d, 0x0d, 0x0a, 32, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a];
        ng.extend_from_slice(&[1, 0, 0, 0]);
        ng.extend_from_slice(&[0xff; 8]);
        ng.extend_from_slice(&[0, 0, 0, 0, 32, 0, 0, 0]);
        let head = read_head(&mut Trickle {
            data: &ng,
            chunk: 3,
        })
        .unwrap();
        assert_eq!(head, ng);
        let gz = [0x1f, 0x8b, 8, 0];
        assert_eq!(
            read_head(&mut Trickle {
                data: &gz,
                chunk: 1
            })
            .unwrap(),
            gz
        );
    }
}

#[cfg(test)]
mod chunk_tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// One pcapng block in byte order `be`: type, total length, the body padded to 32 bits, the
    /// length again.
    fn block(be: bool, typ: u32, body: &[u8]) -> Vec<u8> {
        let w = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let padded = body.len().div_ceil(4) * 4;
        let len = 12 + padded as u32;
        let mut b = Vec::new();
        b.extend_from_slice(&w(typ));
        b.extend_from_slice(&w(len));
        b.extend_from_slice(body);
        b.resize(8 + padded, 0);
        b.extend_from_slice(&w(len));
        b
    }

    fn shb(be: bool) -> Vec<u8> {
        let mut body = if be {
            0x1A2B_3C4Du32.to_be_bytes().to_vec()
        } else {
            0x1A2B_3C4Du32.to_le_bytes().to_vec()
        };
        body.extend_from_slice(&if be { [0, 1, 0, 0] } else { [1, 0, 0, 0] });
        body.extend_from_slice(&[0xff; 8]);
        block(be, 0x0A0D_0D0A, &body)
    }

    fn w16(be: bool, v: u16) -> [u8; 2] {
        if be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn w32(be: bool, v: u32) -> [u8; 4] {
        if be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    /// An interface of link type `link` whose time unit is the `if_tsresol` byte `res`.
    fn idb(be: bool, link: u16, res: u8) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&w16(be, link));
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&w32(be, 65535));
        body.extend_from_slice(&w16(be, 9));
        body.extend_from_slice(&w16(be, 1));
        body.extend_from_slice(&[res, 0, 0, 0]);
        body.extend_from_slice(&[0; 4]);
        block(be, 1, &body)
    }

    /// An enhanced packet; with `comment`, an opt_comment and opt_endofopt follow the data.
    fn epb(be: bool, if_id: u32, ts: u64, data: &[u8], comment: Option<&str>) -> Vec<u8> {
        let mut body = Vec::new();
        for v in [
            if_id,
            (ts >> 32) as u32,
            ts as u32,
            data.len() as u32,
            data.len() as u32 + 4,
        ] {
            body.extend_from_slice(&w32(be, v));
        }
        body.extend_from_slice(data);
        body.resize(20 + data.len().div_ceil(4) * 4, 0);
        if let Some(c) = comment {
            body.extend_from_slice(&w16(be, 1));
            body.extend_from_slice(&w16(be, c.len() as u16));
            body.extend_from_slice(c.as_bytes());
            body.resize(body.len().div_ceil(4) * 4, 0);
            body.extend_from_slice(&[0; 4]);
        }
        block(be, 6, &body)
    }

    /// Two sections, little- then big-endian, with every kind of block the reader meets: an
    /// EPB without options and one with, one of an undeclared interface, a simple packet, a TLS
    /// key log, a name resolution block, data of odd lengths (padding), and a packet larger
    /// than a chunk.
    fn two_sections() -> Vec<u8> {
        let mut f = Vec::new();
        let le = false;
        f.extend(shb(le));
        f.extend(idb(le, 1, 9));
        f.extend(epb(le, 0, 1_700_000_000_123_456_789, b"first", None));
        f.extend(epb(
            le,
            0,
            1_700_000_001_000_000_000,
            b"with a comment",
            Some("hi"),
        ));
        f.extend(epb(le, 3, 1_700_000_002_000_000_000, b"nobody's", None));
        let mut spb = w32(le, 9).to_vec();
        spb.extend_from_slice(b"simple!");
        f.extend(block(le, 3, &spb));
        let mut dsb = w32(le, 0x544c_534b).to_vec();
        dsb.extend_from_slice(&w32(le, 11));
        dsb.extend_from_slice(b"CLIENT_KEYS");
        f.extend(block(le, 10, &dsb));
        f.extend(block(le, 4, &[0; 4]));
        let be = true;
        f.extend(shb(be));
        f.extend(idb(be, 101, 0x94));
        f.extend(epb(be, 0, 3 << 20, b"odd", None));
        let big = vec![0x5a; super::super::chunks::CHUNK + 100];
        f.extend(epb(be, 0, 5 << 20, &big, None));
        f.extend(epb(be, 0, 6 << 20, b"last one", Some("c")));
        f
    }

    /// Gives at most `step` bytes a read.
    struct Step(io::Cursor<Vec<u8>>, usize);
    impl Read for Step {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.1);
            self.0.read(&mut buf[..n])
        }
    }

    type Frames = Vec<(Ts, LinkType, u32, Vec<u8>)>;

    /// Every frame, the stats' counts and stops, and the key logs, read chunked or streaming.
    fn read(file: &[u8], chunked: bool, step: usize) -> (Frames, Vec<u64>, Vec<String>, Vec<u8>) {
        let input = Box::new(Step(io::Cursor::new(file.to_vec()), step));
        let mut src = FileSource::from_input(Path::new("t.pcapng"), input, 0, chunked).unwrap();
        assert_eq!(matches!(src.reader, Reader::Chunks { .. }), chunked);
        let keys = Arc::new(Mutex::new(Vec::new()));
        let k = keys.clone();
        src.secrets_to(Arc::new(move |b: &[u8]| {
            k.lock().unwrap().extend_from_slice(b)
        }));
        let mut frames = Vec::new();
        while let Some(f) = src.next_frame().unwrap() {
            assert_eq!(f.shared.is_some(), chunked);
            frames.push((f.ts, f.link, f.orig_len, f.data.to_vec()));
        }
        let st = src.stats();
        let counts = vec![st.frames, st.bytes, st.unknown_interface, st.bad_tsresol];
        let keys = keys.lock().unwrap().clone();
        (frames, counts, st.stopped_early, keys)
    }

    #[test]
    fn pcapng_in_chunks_reads_as_the_streaming_reader() {
        let file = two_sections();
        let want = read(&file, false, usize::MAX);
        let (frames, counts, stops, keys) = &want;
        assert_eq!(frames.len(), 6, "{counts:?}");
        assert_eq!(frames[0].0, Ts(1_700_000_000_123_456_789));
        assert_eq!(frames[0].3, b"first");
        assert_eq!(frames[1].3, b"with a comment");
        // A simple packet takes the time of the packet before it.
        assert_eq!((frames[2].0, frames[2].2), (frames[1].0, 9));
        assert_eq!(frames[3].1, LinkType::Raw);
        assert_eq!(frames[3].0, Ts(3 * 1_000_000_000));
        assert_eq!(frames[3].3, b"odd");
        assert_eq!(frames[4].3.len(), super::super::chunks::CHUNK + 100);
        assert_eq!(frames[5].3, b"last one");
        assert_eq!(counts[2], 1, "the undeclared interface's packet");
        assert!(stops.is_empty(), "{stops:?}");
        assert_eq!(keys, b"CLIENT_KEYS");
        for step in [usize::MAX, 7, 4096, 1 << 16] {
            assert_eq!(read(&file, true, step), want, "step {step}");
        }
    }

    #[test]
    fn damaged_pcapng_stops_where_the_streaming_reader_does() {
        let file = two_sections();
        // The first EPB's trailing length, made wrong.
        let at = shb(false).len() + idb(false, 1, 9).len();
        let first = epb(false, 0, 1_700_000_000_123_456_789, b"first", None);
        let mut bad = file.clone();
        bad[at + first.len() - 4] ^= 0x40;
        // A block claiming 8 bytes (less than a block's header and trailer).
        let mut short = file.clone();
        short[at + 4..at + 8].copy_from_slice(&8u32.to_le_bytes());
        // Cut in the middle of the last packet.
        let cut = file[..file.len() - 10].to_vec();
        for (name, f) in [("bad length", bad), ("short", short), ("cut", cut)] {
            let want = read(&f, false, 1 << 16);
            let got = read(&f, true, 1 << 16);
            assert_eq!(got.0, want.0, "{name}: frames");
            assert_eq!(got.1, want.1, "{name}: counts");
            assert_eq!(got.2.len(), 1, "{name}: {:?}", got.2);
            assert_eq!(want.2.len(), 1, "{name}: {:?}", want.2);
            if name == "cut" {
                // The streaming reader says where it was, the chunk reader where the record
                // began; both say the capture is truncated.
                assert!(got.2[0].contains("truncated") && want.2[0].contains("truncated"));
            } else {
                assert_eq!(got.2, want.2, "{name}");
            }
            assert!(
                got.2[0].contains(&format!("byte {at}")) || name == "cut",
                "{name}: {:?}",
                got.2
            );
        }
    }

    /// Random damage (1 to 4 bytes overwritten, most of them in block headers and lengths,
    /// or a cut) to a file with every kind of block: the chunk reader gives the frames,
    /// counts and key logs of the streaming reader, and stops where it does.
    #[test]
    fn damaged_pcapng_reads_as_the_streaming_reader_does() {
        let mut file = two_sections();
        // Keep it small: the big packet would make each case slow without adding a shape.
        let big = file.len() - epb(true, 0, 6 << 20, b"last one", Some("c")).len();
        let start = big
            - epb(
                true,
                0,
                5 << 20,
                &vec![0x5a; super::super::chunks::CHUNK + 100],
                None,
            )
            .len();
        file.drain(start..big);
        let mut rng = crate::testutil::XorShift(0x5eed_f00d);
        let (mut opened, mut stopped, mut fewer) = (0, 0, 0);
        for case in 0..3000 {
            let mut f = file.clone();
            for _ in 0..1 + rng.below(4) {
                // Block headers and lengths are where framing decides: aim there half the time.
                let at = if rng.below(2) == 0 {
                    let b = rng.below(f.len() / 4) * 4;
                    (b + rng.below(12)).min(f.len() - 1)
                } else {
                    rng.below(f.len())
                };
                f[at] = match rng.below(4) {
                    0 => 0,
                    1 => 0xff,
                    2 => f[at] ^ (1 << rng.below(8)),
                    _ => rng.next() as u8,
                };
            }
            if rng.below(8) == 0 {
                f.truncate(rng.below(f.len()));
            }
            // Past the section header's start a cut file may no longer open: both refuse it.
            let open = |chunked| {
                let input = Box::new(io::Cursor::new(f.clone()));
                FileSource::from_input(Path::new("t.pcapng"), input, 0, chunked).is_ok()
            };
            if !open(false) || !open(true) {
                assert_eq!(
                    open(false),
                    open(true),
                    "case {case}: one opens, the other not"
                );
                continue;
            }
            let want = read(&f, false, 1 << 16);
            let got = read(&f, true, 1 << 16);
            assert_eq!(got.0, want.0, "case {case}: frames");
            assert_eq!(got.1, want.1, "case {case}: counts");
            assert_eq!(got.3, want.3, "case {case}: key logs");
            assert_eq!(
                got.2.len(),
                want.2.len(),
                "case {case}: {:?} / {:?}",
                got.2,
                want.2
            );
            opened += 1;
            stopped += usize::from(!want.2.is_empty());
            fewer += usize::from(want.0.len() < 5);
        }
        // The damage reached every outcome: files read whole, stopped, and frames lost.
        assert!(
            opened > 1500 && stopped > 300 && fewer > 300,
            "{opened} {stopped} {fewer}"
        );
    }
}
