//! Capture to rotating pcap files (`monitor --write DIR --rotate 100MB|1h --keep N`), like
//! `tcpdump -C/-G/-W`: a new file when the current one reaches the size or the time period
//! (capture time) changes, and only the newest N kept.
//!
//! Files are nanosecond pcap (magic 0xa1b23c4d) so no precision is lost, one link type per file
//! (a new file starts if it changes). Names come from capture time only, never from wire data:
//! `sipscope-20261122T081700Z-0001.pcap`. The writer runs on its own thread behind a bounded
//! queue; a live capture never waits for it, and what it could not queue is counted.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_channel::{bounded, Receiver, Sender};

use super::{Frame, LinkType};
use crate::time::{Nanos, Ts, NANOS_PER_SEC};

/// When to start a new file.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Rotate {
    Bytes(u64),
    Period(Nanos),
}

impl Rotate {
    /// `100MB`, `500KB`, `2GB` (powers of 1000, like tcpdump -C), or `30s`, `15m`, `1h`, `1d`.
    pub fn parse(s: &str) -> Option<Rotate> {
        let s = s.trim();
        let upper = s.to_ascii_uppercase();
        for (suffix, mult) in [("KB", 1e3), ("MB", 1e6), ("GB", 1e9)] {
            if let Some(n) = upper.strip_suffix(suffix) {
                let n: f64 = n.trim().parse().ok()?;
                let b = n * mult;
                return (b.is_finite() && b >= 1024.0).then_some(Rotate::Bytes(b as u64));
            }
        }
        crate::time::parse_interval(s)
            .filter(|n| *n >= NANOS_PER_SEC)
            .map(Rotate::Period)
    }
}

/// One pcap file of one link type, nanosecond resolution (magic 0xa1b23c4d).
pub struct PcapFile {
    w: BufWriter<File>,
    /// Bytes written so far, the file header included.
    pub bytes: u64,
    pub link: LinkType,
}

impl PcapFile {
    pub fn create(path: &Path, link: LinkType) -> std::io::Result<PcapFile> {
        let mut w = BufWriter::new(File::create(path)?);
        w.write_all(&0xa1b2_3c4du32.to_le_bytes())?;
        w.write_all(&2u16.to_le_bytes())?;
        w.write_all(&4u16.to_le_bytes())?;
        w.write_all(&0i32.to_le_bytes())?;
        w.write_all(&0u32.to_le_bytes())?;
        w.write_all(&262_144u32.to_le_bytes())?;
        w.write_all(&link.to_linktype().to_le_bytes())?;
        Ok(PcapFile { w, bytes: 24, link })
    }

    /// Writes one frame (of this file's link type: the caller checks).
    pub fn write(&mut self, f: &Frame) -> std::io::Result<()> {
        let secs = f.ts.0.div_euclid(NANOS_PER_SEC);
        let nanos = f.ts.0.rem_euclid(NANOS_PER_SEC);
        let w = &mut self.w;
        w.write_all(&(secs as u32).to_le_bytes())?;
        w.write_all(&(nanos as u32).to_le_bytes())?;
        w.write_all(&(f.data.len() as u32).to_le_bytes())?;
        w.write_all(&f.orig_len.max(f.data.len() as u32).to_le_bytes())?;
        w.write_all(&f.data)?;
        self.bytes += 16 + f.data.len() as u64;
        Ok(())
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}

/// Writes frames into rotating files in `dir`.
pub struct RotatingWriter {
    dir: PathBuf,
    rotate: Rotate,
    keep: usize,
    /// The open file and its period.
    out: Option<(PcapFile, i64)>,
    files: VecDeque<PathBuf>,
    seq: u64,
    pub frames: u64,
}

impl RotatingWriter {
    pub fn new(dir: &Path, rotate: Rotate, keep: usize) -> std::io::Result<RotatingWriter> {
        std::fs::create_dir_all(dir)?;
        Ok(RotatingWriter {
            dir: dir.to_path_buf(),
            rotate,
            keep: keep.max(1),
            out: None,
            files: VecDeque::new(),
            seq: 0,
            frames: 0,
        })
    }

    fn period_of(&self, ts: Ts) -> i64 {
        match self.rotate {
            Rotate::Period(p) => ts.0.div_euclid(p),
            Rotate::Bytes(_) => 0,
        }
    }

    fn open(&mut self, ts: Ts, link: LinkType) -> std::io::Result<()> {
        if let Some((mut w, _)) = self.out.take() {
            w.flush()?;
        }
        self.seq += 1;
        let (y, mo, d, h, mi, s, _) = ts.civil();
        let name = format!(
            "sipscope-{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z-{:04}.pcap",
            self.seq
        );
        let path = self.dir.join(name);
        let w = PcapFile::create(&path, link)?;
        self.files.push_back(path);
        while self.files.len() > self.keep {
            if let Some(old) = self.files.pop_front() {
                let _ = std::fs::remove_file(old);
            }
        }
        self.out = Some((w, self.period_of(ts)));
        Ok(())
    }

    pub fn write(&mut self, f: &Frame) -> std::io::Result<()> {
        let period = self.period_of(f.ts);
        let due = match &self.out {
            None => true,
            Some((w, p)) => {
                w.link != f.link
                    || *p != period
                    || matches!(self.rotate, Rotate::Bytes(max) if w.bytes >= max)
            }
        };
        if due {
            self.open(f.ts, f.link)?;
        }
        let Some((w, _)) = self.out.as_mut() else {
            return Ok(());
        };
        w.write(f)?;
        self.frames += 1;
        Ok(())
    }

    /// Writes what is buffered to the open file.
    pub fn flush(&mut self) -> std::io::Result<()> {
        match self.out.as_mut() {
            Some((w, _)) => w.flush(),
            None => Ok(()),
        }
    }

    pub fn finish(&mut self) -> std::io::Result<()> {
        if let Some((mut w, _)) = self.out.take() {
            w.flush()?;
        }
        Ok(())
    }

    /// The files kept, oldest first.
    pub fn files(&self) -> impl Iterator<Item = &PathBuf> {
        self.files.iter()
    }
}

/// What goes to the writer's thread: a frame, or a request to put what came before on disk.
#[derive(Debug)]
enum Item {
    Frame(Frame),
    Sync(Sender<()>),
}

/// The writer on its own thread: frames go in through [`Tap::offer`] (never blocking for a live
/// capture), and `finish` waits for the queue to drain.
#[derive(Clone, Debug)]
pub struct Tap {
    tx: Sender<Item>,
    /// Frames not queued because the writer was behind.
    pub dropped: Arc<AtomicU64>,
    pub errors: Arc<AtomicU64>,
}

impl Tap {
    pub fn spawn(mut w: RotatingWriter) -> (Tap, std::thread::JoinHandle<RotatingWriter>) {
        let (tx, rx): (Sender<Item>, Receiver<Item>) = bounded(8192);
        let errors = Arc::new(AtomicU64::new(0));
        let e = errors.clone();
        let h = std::thread::spawn(move || {
            // A quiet moment flushes the file, so that what was captured is on disk within a
            // quarter second (a reader of the files, the terminal UI's save, sees it).
            loop {
                match rx.recv_timeout(std::time::Duration::from_millis(250)) {
                    Ok(Item::Frame(f)) => {
                        if w.write(&f).is_err() {
                            e.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Ok(Item::Sync(done)) => {
                        if w.flush().is_err() {
                            e.fetch_add(1, Ordering::Relaxed);
                        }
                        let _ = done.send(());
                    }
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                        if w.flush().is_err() {
                            e.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
                }
            }
            if w.finish().is_err() {
                e.fetch_add(1, Ordering::Relaxed);
            }
            w
        });
        (
            Tap {
                tx,
                dropped: Arc::new(AtomicU64::new(0)),
                errors,
            },
            h,
        )
    }

    /// Queues a frame: a live capture does not wait (a full queue drops it, counted); a file is
    /// read at the writer's pace.
    pub fn offer(&self, f: Frame, live: bool) {
        let ok = if live {
            self.tx.try_send(Item::Frame(f)).is_ok()
        } else {
            self.tx.send(Item::Frame(f)).is_ok()
        };
        if !ok {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Waits until every frame offered before the call is on disk (the writer flushes behind
    /// them), at most `wait` for each of queueing the request and its answer; false when that
    /// did not happen. The terminal UI's save reads the spool right after: the quiet moment
    /// that flushes it otherwise may not have come yet (a call's last messages were missing
    /// from a save made just after the call ended).
    pub fn sync(&self, wait: std::time::Duration) -> bool {
        let (done, answer) = bounded(1);
        self.tx.send_timeout(Item::Sync(done), wait).is_ok() && answer.recv_timeout(wait).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(t: i64, n: usize) -> Frame {
        Frame {
            ts: Ts(t),
            link: LinkType::Ethernet,
            data: bytes::Bytes::from(vec![0xab; n]),
            orig_len: n as u32,
        }
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sipscope-writer-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn rotation_specs() {
        assert_eq!(Rotate::parse("100MB"), Some(Rotate::Bytes(100_000_000)));
        assert_eq!(Rotate::parse("2kb"), Some(Rotate::Bytes(2_000)));
        assert_eq!(
            Rotate::parse("1h"),
            Some(Rotate::Period(3600 * NANOS_PER_SEC))
        );
        for bad in ["", "0MB", "1KBB", "500ms", "x"] {
            assert_eq!(Rotate::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn rotates_by_size_and_keeps_the_newest() {
        let d = tmp("size");
        let mut w = RotatingWriter::new(&d, Rotate::Bytes(2_000), 3).unwrap();
        // 20 frames of 484 bytes (500 with the record header): 4 per file, 5 files, 3 kept.
        for i in 0..20 {
            w.write(&frame(1_000_000_000_000_000_000 + i, 484)).unwrap();
        }
        w.finish().unwrap();
        let kept: Vec<_> = w.files().cloned().collect();
        assert_eq!(kept.len(), 3);
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 3);
        // Each kept file reads back as pcap with its frames, in order.
        let mut total = 0;
        for p in &kept {
            let mut src = crate::capture::file::FileSource::open(p).unwrap();
            use crate::capture::Source;
            while let Some(f) = src.next_frame().unwrap() {
                assert_eq!(f.data.len(), 484);
                total += 1;
            }
        }
        assert_eq!(total, 12);
        assert!(kept[0]
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("sipscope-20010909T"));
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn rotates_by_capture_time_period() {
        let d = tmp("time");
        let mut w = RotatingWriter::new(&d, Rotate::Period(60 * NANOS_PER_SEC), 10).unwrap();
        for s in [0i64, 10, 59, 60, 61, 125] {
            w.write(&frame(
                1_800_000_000 * NANOS_PER_SEC + s * NANOS_PER_SEC,
                60,
            ))
            .unwrap();
        }
        w.finish().unwrap();
        assert_eq!(w.files().count(), 3, "minutes 0, 1 and 2");
        std::fs::remove_dir_all(&d).ok();
    }

    /// A sync puts every frame offered before it on disk at once, without the quiet moment
    /// the writer otherwise waits for.
    #[test]
    fn a_sync_puts_the_frames_offered_before_it_on_disk() {
        let d = tmp("sync");
        let w = RotatingWriter::new(&d, Rotate::Bytes(100_000_000), 2).unwrap();
        let (tap, h) = Tap::spawn(w);
        let read = || {
            let mut n = 0;
            for e in std::fs::read_dir(&d).unwrap() {
                let Ok(mut src) = crate::capture::file::FileSource::open(&e.unwrap().path()) else {
                    continue;
                };
                use crate::capture::Source;
                while let Ok(Some(_)) = src.next_frame() {
                    n += 1;
                }
            }
            n
        };
        for round in 1..=3 {
            for i in 0..5 {
                tap.offer(frame(1_000_000_000_000_000_000 + i, 100), true);
            }
            assert!(tap.sync(std::time::Duration::from_secs(5)));
            assert_eq!(read(), 5 * round);
        }
        drop(tap);
        h.join().unwrap();
        std::fs::remove_dir_all(&d).unwrap();
    }
}
