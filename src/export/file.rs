//! The files an export writes: nanosecond pcap (one link type, [`PcapFile`]) or pcapng with one
//! interface description block per link type met (pcapng, draft-ietf-opsawg-pcapng §4.2: an
//! interface may be declared anywhere in a section before its first packet).
//!
//! Every frame keeps its capture time (nanoseconds: `if_tsresol` = 9), its captured bytes and
//! its length on the wire.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::capture::writer::PcapFile;
use crate::capture::{Frame, LinkType};

/// The file format, chosen by the name's extension.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Container {
    /// pcap: one link type per file.
    Pcap,
    /// pcapng: any number of link types.
    Pcapng,
}

impl Container {
    /// `.pcap` or `.pcapng` (any case); None for another name.
    pub fn of_path(p: &Path) -> Option<Container> {
        let ext = p.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "pcap" => Some(Container::Pcap),
            "pcapng" => Some(Container::Pcapng),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Container::Pcap => "pcap",
            Container::Pcapng => "pcapng",
        }
    }
}

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_SHB_USERAPPL: u16 = 4;

/// A pcapng file of one section, written in the machine's little-endian order.
pub struct PcapngFile {
    w: BufWriter<File>,
    /// Interface id of each link type, in the order they were declared.
    links: Vec<LinkType>,
}

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

impl PcapngFile {
    pub fn create(path: &Path) -> std::io::Result<PcapngFile> {
        let mut w = BufWriter::new(File::create(path)?);
        let app = b"sipscope";
        let opts_len = 4 + app.len() + pad4(app.len()) + 4;
        let len = (28 + opts_len) as u32;
        w.write_all(&SHB.to_le_bytes())?;
        w.write_all(&len.to_le_bytes())?;
        w.write_all(&BYTE_ORDER_MAGIC.to_le_bytes())?;
        w.write_all(&1u16.to_le_bytes())?;
        w.write_all(&0u16.to_le_bytes())?;
        // Section length not given.
        w.write_all(&(-1i64).to_le_bytes())?;
        w.write_all(&OPT_SHB_USERAPPL.to_le_bytes())?;
        w.write_all(&(app.len() as u16).to_le_bytes())?;
        w.write_all(app)?;
        w.write_all(&[0u8; 4][..pad4(app.len())])?;
        w.write_all(&[0u8; 4])?;
        w.write_all(&len.to_le_bytes())?;
        Ok(PcapngFile {
            w,
            links: Vec::new(),
        })
    }

    /// The interface of `link`, declared (an IDB) the first time it is met.
    fn interface(&mut self, link: LinkType) -> std::io::Result<u32> {
        if let Some(i) = self.links.iter().position(|l| *l == link) {
            return Ok(i as u32);
        }
        let w = &mut self.w;
        // Header 8, link type 2, reserved 2, snap length 4, if_tsresol 4+1+3, end of options 4,
        // trailer 4.
        let len = 32u32;
        w.write_all(&IDB.to_le_bytes())?;
        w.write_all(&len.to_le_bytes())?;
        w.write_all(&(link.to_linktype() as u16).to_le_bytes())?;
        w.write_all(&0u16.to_le_bytes())?;
        w.write_all(&0u32.to_le_bytes())?;
        w.write_all(&OPT_IF_TSRESOL.to_le_bytes())?;
        w.write_all(&1u16.to_le_bytes())?;
        w.write_all(&[9, 0, 0, 0])?;
        w.write_all(&[0u8; 4])?;
        w.write_all(&len.to_le_bytes())?;
        self.links.push(link);
        Ok(self.links.len() as u32 - 1)
    }

    pub fn write(&mut self, f: &Frame) -> std::io::Result<()> {
        let iface = self.interface(f.link)?;
        let ns = f.ts.0.max(0) as u64;
        let data = &f.data[..];
        let len = (32 + data.len() + pad4(data.len())) as u32;
        let w = &mut self.w;
        w.write_all(&EPB.to_le_bytes())?;
        w.write_all(&len.to_le_bytes())?;
        w.write_all(&iface.to_le_bytes())?;
        w.write_all(&((ns >> 32) as u32).to_le_bytes())?;
        w.write_all(&(ns as u32).to_le_bytes())?;
        w.write_all(&(data.len() as u32).to_le_bytes())?;
        w.write_all(&f.orig_len.max(data.len() as u32).to_le_bytes())?;
        w.write_all(data)?;
        w.write_all(&[0u8; 4][..pad4(data.len())])?;
        w.write_all(&len.to_le_bytes())?;
        Ok(())
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}

/// Why a frame could not be written.
#[derive(Debug)]
pub enum WriteError {
    Io(std::io::Error),
    /// A pcap file holds one link type: this frame has another.
    SecondLinkType {
        first: LinkType,
        next: LinkType,
    },
}

/// One output file of either format, created at its first frame.
pub struct CaptureFile {
    pub path: PathBuf,
    pub container: Container,
    out: Option<Out>,
    pub frames: u64,
}

enum Out {
    Pcap(PcapFile),
    Pcapng(PcapngFile),
}

impl CaptureFile {
    /// Nothing is created until the first frame.
    pub fn new(path: PathBuf, container: Container) -> CaptureFile {
        CaptureFile {
            path,
            container,
            out: None,
            frames: 0,
        }
    }

    pub fn write(&mut self, f: &Frame) -> Result<(), WriteError> {
        let out = match &mut self.out {
            Some(o) => o,
            None => self.out.insert(match self.container {
                Container::Pcap => {
                    Out::Pcap(PcapFile::create(&self.path, f.link).map_err(WriteError::Io)?)
                }
                Container::Pcapng => {
                    Out::Pcapng(PcapngFile::create(&self.path).map_err(WriteError::Io)?)
                }
            }),
        };
        match out {
            Out::Pcap(p) if p.link != f.link => {
                return Err(WriteError::SecondLinkType {
                    first: p.link,
                    next: f.link,
                })
            }
            Out::Pcap(p) => p.write(f).map_err(WriteError::Io)?,
            Out::Pcapng(p) => p.write(f).map_err(WriteError::Io)?,
        }
        self.frames += 1;
        Ok(())
    }

    /// Flushes and closes; true if a file was written (it had a frame).
    pub fn finish(&mut self) -> std::io::Result<bool> {
        match self.out.take() {
            Some(Out::Pcap(mut p)) => p.flush().map(|_| true),
            Some(Out::Pcapng(mut p)) => p.flush().map(|_| true),
            None => Ok(false),
        }
    }

    /// Closes without keeping what was written (the export failed).
    pub fn abandon(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::file::FileSource;
    use crate::capture::Source;
    use crate::time::Ts;

    fn frame(t: i64, link: LinkType, n: usize) -> Frame {
        Frame {
            ts: Ts(t),
            link,
            data: bytes::Bytes::from(vec![0x45; n]),
            orig_len: n as u32 + 3,
        }
    }

    #[test]
    fn pcapng_with_two_link_types_reads_back() {
        let p = std::env::temp_dir().join(format!("sipscope-export-{}.pcapng", std::process::id()));
        let mut f = CaptureFile::new(p.clone(), Container::Pcapng);
        let frames = [
            frame(1_700_000_000_123_456_789, LinkType::Ethernet, 61),
            frame(1_700_000_001_000_000_001, LinkType::LinuxSll, 64),
            frame(1_700_000_002_999_999_999, LinkType::Ethernet, 1),
        ];
        for fr in &frames {
            f.write(fr).unwrap();
        }
        assert!(f.finish().unwrap());
        let mut src = FileSource::open(&p).unwrap();
        let mut got = Vec::new();
        while let Some(fr) = src.next_frame().unwrap() {
            got.push(fr.to_owned());
        }
        assert_eq!(got.len(), 3);
        for (a, b) in got.iter().zip(&frames) {
            assert_eq!(
                (a.ts, a.link, &a.data, a.orig_len),
                (b.ts, b.link, &b.data, b.orig_len)
            );
        }
        std::fs::remove_file(&p).ok();
    }

    #[test]
    fn pcap_refuses_a_second_link_type() {
        let p = std::env::temp_dir().join(format!("sipscope-export-{}.pcap", std::process::id()));
        let mut f = CaptureFile::new(p.clone(), Container::Pcap);
        f.write(&frame(1, LinkType::Ethernet, 20)).unwrap();
        assert!(matches!(
            f.write(&frame(2, LinkType::Raw, 20)),
            Err(WriteError::SecondLinkType { .. })
        ));
        f.abandon();
        assert!(!p.exists());
    }
}
