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

use bytes::Bytes;

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader};

use super::{CaptureError, CaptureStats, Frame, FrameArena, LinkType, Source};
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
    arena: FrameArena,
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
        let read_bytes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut buffered = BufReader::with_capacity(
            1 << 16,
            Counting {
                inner: raw,
                count: read_bytes.clone(),
            },
        );
        let head = {
            use std::io::BufRead;
            buffered.fill_buf().map_err(|source| CaptureError::Read {
                path: path.to_path_buf(),
                source,
            })?
        };
        if head.is_empty() {
            return Err(CaptureError::Empty {
                path: path.to_path_buf(),
            });
        }
        let input: Box<dyn Read + Send> = if head.starts_with(&[0x1f, 0x8b]) {
            Box::new(flate2::read::MultiGzDecoder::new(buffered))
        } else {
            Box::new(buffered)
        };
        let mut input: Input = BufReader::with_capacity(1 << 16, input);
        let magic = {
            use std::io::BufRead;
            let head = input.fill_buf().map_err(|source| CaptureError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            if head.is_empty() {
                return Err(CaptureError::Empty {
                    path: path.to_path_buf(),
                });
            }
            head.get(..4)
                .map(|m| u32::from_be_bytes([m[0], m[1], m[2], m[3]]))
        };
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
            arena: FrameArena::default(),
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

    fn count_frame(&mut self, ts: Ts, link: LinkType, data: Bytes, orig_len: u32) -> Frame {
        self.stats.frames += 1;
        self.stats.bytes += data.len() as u64;
        if (orig_len as usize) > data.len() {
            self.stats.truncated_frames += 1;
        }
        if ts < self.last_ts {
            self.stats.out_of_order_ts += 1;
        }
        self.last_ts = ts;
        Frame {
            ts,
            link,
            data,
            orig_len,
        }
    }
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

type Input = BufReader<Box<dyn Read + Send>>;

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

impl Source for FileSource {
    fn next_frame(&mut self) -> Result<Option<Frame>, CaptureError> {
        if let Reader::Netmon {
            file, next, link, ..
        } = &mut self.reader
        {
            if self.done || *next >= file.len() {
                self.done = true;
                return Ok(None);
            }
            let i = *next;
            *next += 1;
            let link = *link;
            return match file.frame(i) {
                Ok((secs, nanos, orig, data)) => {
                    let data = self.arena.copy(data);
                    Ok(Some(self.count_frame(
                        Ts::from_parts(secs, nanos as i64),
                        link,
                        data,
                        orig,
                    )))
                }
                Err(e) => {
                    self.stop(format!("frame {}: {e}", i + 1));
                    Ok(None)
                }
            };
        }
        let mut grown = BUFFER;
        loop {
            if self.done {
                return Ok(None);
            }
            // The parsed block borrows the reader: copy what we need out before consuming it.
            enum Got {
                Frame,
                Nothing,
            }
            let mut copied: Option<(Ts, LinkType, u32, Bytes)> = None;
            let got = match self.reader.get().next() {
                Ok((offset, block)) => {
                    let got = match block {
                        PcapBlockOwned::LegacyHeader(h) => {
                            self.legacy = Some((
                                LinkType::from_linktype(h.network.0 as u32),
                                h.is_nanosecond_precision(),
                            ));
                            Got::Nothing
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
                            copied = Some((ts, link, b.origlen, self.arena.copy(&b.data[..n])));
                            Got::Frame
                        }
                        PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                            // A new section restarts interface numbering.
                            self.interfaces.clear();
                            Got::Nothing
                        }
                        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                            self.interfaces.push(Interface {
                                link: LinkType::from_linktype(idb.linktype.0 as u32),
                                resolution: idb.ts_resolution().unwrap_or(1_000_000),
                                offset: idb.ts_offset(),
                            });
                            Got::Nothing
                        }
                        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                            match self.interfaces.get(epb.if_id as usize) {
                                Some(iface) => {
                                    let raw = ((epb.ts_high as u64) << 32) | epb.ts_low as u64;
                                    let res = iface.resolution.max(1);
                                    let secs = (raw / res) as i64 + iface.offset;
                                    let frac = (raw % res) as i128 * 1_000_000_000 / res as i128;
                                    let ts = Ts::from_parts(secs, frac as i64);
                                    let n = (epb.caplen as usize).min(epb.data.len());
                                    copied = Some((
                                        ts,
                                        iface.link,
                                        epb.origlen,
                                        self.arena.copy(&epb.data[..n]),
                                    ));
                                    Got::Frame
                                }
                                None => Got::Nothing,
                            }
                        }
                        PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                            if let Some(iface) = self.interfaces.first() {
                                let ts = self.last_ts;
                                copied =
                                    Some((ts, iface.link, spb.origlen, self.arena.copy(spb.data)));
                                Got::Frame
                            } else {
                                Got::Nothing
                            }
                        }
                        PcapBlockOwned::NG(_) => Got::Nothing,
                    };
                    self.reader.get().consume(offset);
                    got
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
            if let (Got::Frame, Some((ts, link, orig, data))) = (got, copied) {
                return Ok(Some(self.count_frame(ts, link, data, orig)));
            }
        }
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
