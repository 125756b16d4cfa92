//! pcap and pcapng files, plain or gzip-compressed, or standard input (`-`).
//!
//! Reading goes through `pcap-parser`'s streaming reader: it parses in place in a fixed buffer
//! (no per-packet allocation of its own, no libpcap), which keeps reading well ahead of decoding.
//! pcapng files may hold several interfaces with their own link types, time resolutions and
//! offsets; each packet is stamped with its interface's. A truncated or damaged file is analysed
//! up to the damage and the place where it stopped is reported, never a panic.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader};

use super::{CaptureError, CaptureStats, FrameRef, LinkType, Source};
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

struct Interface {
    link: LinkType,
    resolution: u64,
    offset: i64,
}

pub struct FileSource {
    path: PathBuf,
    reader: Reader,
    /// Legacy pcap: one link type and resolution for the whole file.
    legacy: Option<(LinkType, bool)>,
    interfaces: Vec<Interface>,
    /// Bytes of the record lent by the last `next_frame`, consumed at the next call.
    lent: usize,
    stats: CaptureStats,
    last_ts: Ts,
    done: bool,
    read_bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    total_bytes: u64,
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
            (Box::new(io::stdin()), 0)
        } else {
            let f = File::open(path).map_err(err_open)?;
            let meta = f.metadata().map_err(err_open)?;
            if meta.is_dir() {
                return Err(err_open(io::Error::other("is a directory")));
            }
            (Box::new(f), meta.len())
        };
        FileSource::from_reader(path, raw, total)
    }

    /// Reads a capture from `raw` (of `total` bytes if known, else 0), named `path` in what it
    /// reports: in-memory captures (the fuzz targets, tests) go through the same reader as files.
    pub fn from_reader(
        path: &Path,
        raw: Box<dyn Read + Send>,
        total: u64,
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
        let (input, head): (Input, Vec<u8>) = if head.starts_with(&[0x1f, 0x8b]) {
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
                let mut data = Vec::new();
                input
                    .take(2 << 30)
                    .read_to_end(&mut data)
                    .map_err(|source| CaptureError::Read {
                        path: path.to_path_buf(),
                        source,
                    })?;
                let file = super::netmon::NetmonFile::parse(data).map_err(|_| not_capture())?;
                let link = LinkType::from_linktype(file.linktype());
                Reader::Netmon {
                    file: Box::new(file),
                    next: 0,
                    link,
                    empty: EmptyReader,
                }
            }
            Some(0x0a0d_0d0a) => {
                Reader::Ng(PcapNGReader::new(BUFFER, input).map_err(|_| not_capture())?)
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
            interfaces: Vec::new(),
            lent: 0,
            stats: CaptureStats::default(),
            last_ts: Ts::ZERO,
            done: false,
            read_bytes,
            total_bytes: total,
        })
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
    Legacy(LegacyPcapReader<Input>),
    Ng(PcapNGReader<Input>),
    /// Network Monitor files keep a frame table at the end: read whole, then walked.
    Netmon {
        file: Box<super::netmon::NetmonFile>,
        next: usize,
        link: LinkType,
        /// What `get` hands out for this variant: it reports end of input.
        empty: EmptyReader,
    },
}

type Input = Box<dyn Read + Send>;

/// Reads the first 64 KiB (less only at the end of input): enough for the magic and for the
/// whole file header, which pcap-parser wants in its first read.
fn read_head(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut head = vec![0u8; 1 << 16];
    let mut got = 0;
    while got < head.len() {
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
            Reader::Netmon { empty, .. } => empty,
        }
    }
}

impl FileSource {
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

impl Source for FileSource {
    fn next_frame(&mut self) -> Result<Option<FrameRef<'_>>, CaptureError> {
        if matches!(self.reader, Reader::Netmon { .. }) {
            return self.next_netmon();
        }
        // The frame lent last time lives in the reader's buffer until now.
        if self.lent > 0 {
            let n = std::mem::take(&mut self.lent);
            self.reader.get().consume(n);
        }
        let mut grown = BUFFER;
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
                            let sub = if nano {
                                b.ts_usec as i64
                            } else {
                                b.ts_usec as i64 * 1000
                            };
                            let ts = Ts::from_parts(b.ts_sec as i64, sub);
                            let n = (b.caplen as usize).min(b.data.len());
                            Some((ts, link, b.origlen, at(b.data), n))
                        }
                        PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                            // A new section restarts interface numbering.
                            self.interfaces.clear();
                            None
                        }
                        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                            self.interfaces.push(Interface {
                                link: LinkType::from_linktype(idb.linktype.0 as u32),
                                resolution: idb.ts_resolution().unwrap_or(1_000_000),
                                offset: idb.ts_offset(),
                            });
                            None
                        }
                        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                            self.interfaces.get(epb.if_id as usize).map(|iface| {
                                let raw = ((epb.ts_high as u64) << 32) | epb.ts_low as u64;
                                let res = iface.resolution.max(1);
                                let secs = (raw / res) as i64 + iface.offset;
                                let frac = (raw % res) as i128 * 1_000_000_000 / res as i128;
                                let ts = Ts::from_parts(secs, frac as i64);
                                let n = (epb.caplen as usize).min(epb.data.len());
                                (ts, iface.link, epb.origlen, at(epb.data), n)
                            })
                        }
                        PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                            self.interfaces.first().map(|iface| {
                                (
                                    self.last_ts,
                                    iface.link,
                                    spb.origlen,
                                    at(spb.data),
                                    spb.data.len(),
                                )
                            })
                        }
                        PcapBlockOwned::NG(_) => None,
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
                    let refilled = self.reader.get().refill().map_err(|e| format!("{e:?}"));
                    if let Err(e) = refilled {
                        let msg = format!(
                            "read error after byte {}: {e}",
                            self.reader.get().consumed()
                        );
                        self.stop(msg);
                        return Ok(None);
                    }
                    continue;
                }
                Err(PcapError::BufferTooSmall) => {
                    grown *= 2;
                    if grown > MAX_RECORD || !self.reader.get().grow(grown) {
                        let pos = self.reader.get().consumed();
                        self.stop(format!(
                            "record at byte {pos} is larger than {MAX_RECORD} bytes"
                        ));
                        return Ok(None);
                    }
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
        }))
    }

    fn stats(&self) -> CaptureStats {
        self.stats.clone()
    }

    fn progress(&self) -> Option<(u64, u64)> {
        Some((
            self.read_bytes.load(std::sync::atomic::Ordering::Relaxed),
            self.total_bytes,
        ))
    }
}
