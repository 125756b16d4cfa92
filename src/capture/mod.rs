//! Capture: where frames come from.
//!
//! A [`Source`] yields [`Frame`]s in the order they were captured: pcap and pcapng files (plain or
//! gzip-compressed, or standard input) through [`file::FileSource`], several files merged in time
//! order through [`merge::MergedSource`], and live interfaces through [`live::LiveSource`].
//! A source lends each frame ([`FrameRef`]) until its next call; the pipeline copies it once
//! into a worker's batch, and from there on every stage slices those bytes without copying.

pub mod bpf;
mod chunks;
pub mod file;
pub mod live;
pub mod merge;
pub mod netmon;
mod pcapng;
pub mod pipe;
pub mod writer;

use std::fmt;
use std::path::PathBuf;

use bytes::Bytes;

use crate::time::Ts;

/// Link-layer header types we decode (the LINKTYPE_* numbers of pcap/pcapng).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum LinkType {
    Null,
    Ethernet,
    Raw,
    Ipv4,
    Ipv6,
    LinuxSll,
    LinuxSll2,
    Loop,
    Other(u32),
}

impl LinkType {
    pub fn from_linktype(n: u32) -> LinkType {
        match n {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            12 | 14 | 101 => LinkType::Raw,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            276 => LinkType::LinuxSll2,
            n => LinkType::Other(n),
        }
    }

    /// The pcap LINKTYPE number to write (Raw as 101, LINKTYPE_RAW).
    pub fn to_linktype(self) -> u32 {
        match self {
            LinkType::Null => 0,
            LinkType::Ethernet => 1,
            LinkType::Raw => 101,
            LinkType::Loop => 108,
            LinkType::LinuxSll => 113,
            LinkType::Ipv4 => 228,
            LinkType::Ipv6 => 229,
            LinkType::LinuxSll2 => 276,
            LinkType::Other(n) => n,
        }
    }
}

/// One captured frame.
#[derive(Clone, Debug)]
pub struct Frame {
    pub ts: Ts,
    pub link: LinkType,
    pub data: Bytes,
    /// Length on the wire; larger than `data.len()` when the snap length cut the frame.
    pub orig_len: u32,
}

/// What a source counted, reported at the end of a run.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CaptureStats {
    pub frames: u64,
    pub bytes: u64,
    /// Frames cut by the snap length (caplen < wire length).
    pub truncated_frames: u64,
    /// Kernel/libpcap drops (live capture only).
    pub dropped_kernel: u64,
    pub dropped_interface: u64,
    /// Live frames dropped by sipscope itself because the analysis was behind (the capture
    /// thread never waits).
    pub dropped_behind: u64,
    /// Frames whose timestamp went backwards relative to the previous one.
    pub out_of_order_ts: u64,
    /// pcapng packets naming an interface no IDB of their section declared: skipped, since their
    /// link type (and time resolution) is unknown and is never guessed.
    pub unknown_interface: u64,
    /// Frames whose sub-second time field is out of range (pcap `ts_usec` ≥ 10^6, or ≥ 10^9 in a
    /// nanosecond pcap): kept, with the field clamped to the last instant of their second.
    pub bad_subsecond: u64,
    /// pcapng interfaces whose `if_tsresol` cannot be represented (10^-n with n > 19, 2^-n with
    /// n > 63): their packets are read as microseconds, the pcapng default.
    pub bad_tsresol: u64,
    /// Bytes past the end of a NetMon file's frame table, skipped unread, when that is absurd: the
    /// table lists no frame, or more than 16 MiB follow it (a real file keeps only a few small
    /// tables there).
    pub skipped_bytes: u64,
    /// HEP listener (`--hep-listen`): packets refused as not valid HEPv3 (framing, or a chunk of
    /// the wrong size), packets without the expected `--hep-password`, packets dropped because
    /// the analysis was behind (the listener's queue full), and TCP connections refused (too many).
    pub hep_rejected: u64,
    pub hep_auth_failed: u64,
    pub hep_dropped_full: u64,
    pub hep_connections_refused: u64,
    /// Where a damaged or truncated file stopped being readable.
    pub stopped_early: Vec<String>,
}

impl std::ops::AddAssign<&CaptureStats> for CaptureStats {
    fn add_assign(&mut self, o: &CaptureStats) {
        self.frames += o.frames;
        self.bytes += o.bytes;
        self.truncated_frames += o.truncated_frames;
        self.dropped_kernel += o.dropped_kernel;
        self.dropped_interface += o.dropped_interface;
        self.dropped_behind += o.dropped_behind;
        self.out_of_order_ts += o.out_of_order_ts;
        self.unknown_interface += o.unknown_interface;
        self.bad_subsecond += o.bad_subsecond;
        self.bad_tsresol += o.bad_tsresol;
        self.skipped_bytes += o.skipped_bytes;
        self.hep_rejected += o.hep_rejected;
        self.hep_auth_failed += o.hep_auth_failed;
        self.hep_dropped_full += o.hep_dropped_full;
        self.hep_connections_refused += o.hep_connections_refused;
        self.stopped_early.extend(o.stopped_early.iter().cloned());
    }
}

/// Operational errors: the run cannot start (or cannot go on) and the user must be told why.
#[derive(Debug)]
pub enum CaptureError {
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    NotACapture {
        path: PathBuf,
    },
    Empty {
        path: PathBuf,
    },
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    Live {
        iface: String,
        message: String,
    },
    Permission {
        iface: String,
        message: String,
    },
    Filter {
        expr: String,
        message: String,
    },
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::Open { path, source } => {
                write!(f, "cannot open {}: {source}", path.display())
            }
            CaptureError::NotACapture { path } => write!(
                f,
                "{} is not a pcap or pcapng capture (nor a gzip-compressed one)",
                path.display()
            ),
            CaptureError::Empty { path } => write!(f, "{} is empty", path.display()),
            CaptureError::Read { path, source } => {
                write!(f, "error reading {}: {source}", path.display())
            }
            CaptureError::Live { iface, message } => {
                write!(f, "cannot capture on {iface}: {message}")
            }
            CaptureError::Permission { iface, message } => write!(
                f,
                "no permission to capture on {iface}: {message} (run as root or grant CAP_NET_RAW)"
            ),
            CaptureError::Filter { expr, message } => {
                write!(f, "bad capture filter {expr:?}: {message}")
            }
        }
    }
}

impl std::error::Error for CaptureError {}

/// A frame lent by a source until its next call: the bytes stay in the source's own buffer, so
/// the pipeline copies each frame at most once, into the batch of the worker that decodes it
/// (not at all when the buffer is a shared chunk, [`FrameRef::shared`]).
#[derive(Copy, Clone, Debug)]
pub struct FrameRef<'a> {
    pub ts: Ts,
    pub link: LinkType,
    pub data: &'a [u8],
    pub orig_len: u32,
    /// The shared chunk `data` lies in, when the source reads in shared chunks (a pcap file):
    /// the pipeline then hands the frame on as a slice of it instead of copying its bytes.
    pub shared: Option<&'a Bytes>,
}

impl FrameRef<'_> {
    pub fn to_owned(&self) -> Frame {
        Frame {
            ts: self.ts,
            link: self.link,
            data: Bytes::copy_from_slice(self.data),
            orig_len: self.orig_len,
        }
    }
}

/// What a source has next: a frame, nothing for a while (live only, with the wall-clock time),
/// or the end.
pub enum Next<'a> {
    Frame(FrameRef<'a>),
    Idle(Ts),
    End,
}

/// Takes the text of the TLS key logs a capture carries (pcapng Decryption Secrets Blocks of
/// type `TLSK`), as they are read, before the frames after them.
pub type SecretsSink = std::sync::Arc<dyn Fn(&[u8]) + Send + Sync>;

/// Anything that yields frames in capture order.
pub trait Source: Send {
    /// The next frame, `Ok(None)` at the end. Damage inside a file is not an error: it ends the
    /// source and is noted in [`CaptureStats::stopped_early`].
    fn next_frame(&mut self) -> Result<Option<FrameRef<'_>>, CaptureError>;
    fn stats(&self) -> CaptureStats;
    /// Approximate progress in bytes (read, total) for a progress bar; live sources return None.
    fn progress(&self) -> Option<(u64, u64)> {
        None
    }
    /// Like [`Source::next_frame`], but a live source that has had nothing to read for a moment
    /// says so, with the time, so that what is pending can be flushed and timers can run.
    fn next_or_idle(&mut self) -> Result<Next<'_>, CaptureError> {
        Ok(match self.next_frame()? {
            Some(f) => Next::Frame(f),
            None => Next::End,
        })
    }
    /// Frames arrive in real time (a live interface): batches are flushed by time as well.
    fn is_live(&self) -> bool {
        false
    }
    /// Frames may arrive as they happen (a live interface, a pipe, standard input), so a batch
    /// also goes when it is 100 ms old. A regular file's batches are cut by count alone: cut by
    /// the wall clock, a slow read (a loaded machine, a network disk, valgrind) moved the
    /// correlator's sweeps and changed the order of the calls table and the last digits of
    /// float sums.
    fn paced(&self) -> bool {
        self.is_live()
    }
    /// Where the TLS secrets found in the capture go (a source without any ignores it).
    fn secrets_to(&mut self, _sink: SecretsSink) {}
}
