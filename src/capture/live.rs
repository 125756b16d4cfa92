//! Live capture from an interface through libpcap (the `pcap` crate).
//!
//! Takes an interface name (`any` for all), an optional BPF filter, snap length and promiscuous
//! switch. Reads without blocking so that a stop request (Ctrl-C, `--duration`, `--count`) is
//! honoured within milliseconds even on a silent link. Kernel and interface drop counters
//! are read at the end and reported: a monitor that hides its blind spots is not trusted.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::{CaptureError, CaptureStats, FrameRef, LinkType, Next, Source};
use crate::time::Ts;

#[derive(Clone, Debug)]
pub struct LiveOptions {
    pub iface: String,
    pub bpf: Option<String>,
    pub snaplen: i32,
    pub promisc: bool,
    /// Stop after this long (wall time: it bounds the run, it never drives a timer).
    pub duration: Option<std::time::Duration>,
    /// Stop after this many frames.
    pub count: Option<u64>,
}

pub struct LiveSource {
    cap: pcap::Capture<pcap::Active>,
    link: LinkType,
    iface: String,
    stop: Arc<AtomicBool>,
    deadline: Option<Instant>,
    count: Option<u64>,
    /// The last packet, copied out of libpcap's ring so it can be lent.
    buf: Vec<u8>,
    stats: CaptureStats,
    /// When the kernel's drop counters were last read (they are read once a second).
    drops_read: Instant,
}

/// With nothing to read for this long, a live source reports itself idle.
const IDLE_AFTER: std::time::Duration = std::time::Duration::from_millis(100);

/// Interface names with their descriptions and addresses, for `--list-interfaces`.
pub fn list_interfaces() -> Result<Vec<(String, String)>, CaptureError> {
    let devs = pcap::Device::list().map_err(|e| CaptureError::Live {
        iface: "(list)".into(),
        message: e.to_string(),
    })?;
    Ok(devs
        .into_iter()
        .map(|d| {
            let addrs: Vec<String> = d.addresses.iter().map(|a| a.addr.to_string()).collect();
            let mut desc = d.desc.unwrap_or_default();
            if !addrs.is_empty() {
                if !desc.is_empty() {
                    desc.push_str("; ");
                }
                desc.push_str(&addrs.join(", "));
            }
            (d.name, desc)
        })
        .collect())
}

fn classify(iface: &str, e: pcap::Error) -> CaptureError {
    let message = e.to_string();
    let lower = message.to_ascii_lowercase();
    if lower.contains("permission") || lower.contains("operation not permitted") {
        CaptureError::Permission {
            iface: iface.to_string(),
            message,
        }
    } else {
        CaptureError::Live {
            iface: iface.to_string(),
            message,
        }
    }
}

impl LiveSource {
    pub fn open(opts: &LiveOptions, stop: Arc<AtomicBool>) -> Result<LiveSource, CaptureError> {
        let iface = opts.iface.clone();
        let cap = pcap::Capture::from_device(iface.as_str())
            .map_err(|e| classify(&iface, e))?
            .snaplen(opts.snaplen)
            .promisc(opts.promisc)
            .immediate_mode(true)
            .timeout(200)
            .buffer_size(32 << 20)
            .open()
            .map_err(|e| classify(&iface, e))?;
        // Non-blocking: with TPACKET_V3 libpcap's own read can wait indefinitely on a silent
        // link, and then a stop request would never be seen.
        let mut cap = cap.setnonblock().map_err(|e| classify(&iface, e))?;
        if let Some(expr) = &opts.bpf {
            cap.filter(expr, true).map_err(|e| CaptureError::Filter {
                expr: expr.clone(),
                message: e.to_string(),
            })?;
        }
        let link = LinkType::from_linktype(cap.get_datalink().0 as u32);
        Ok(LiveSource {
            cap,
            link,
            iface,
            stop,
            deadline: opts.duration.map(|d| Instant::now() + d),
            count: opts.count,
            buf: Vec::new(),
            stats: CaptureStats::default(),
            drops_read: Instant::now(),
        })
    }

    fn read_drops(&mut self) {
        if let Ok(s) = self.cap.stats() {
            self.stats.dropped_kernel = s.dropped as u64;
            self.stats.dropped_interface = s.if_dropped as u64;
        }
    }
}

impl LiveSource {
    /// The next packet; with `idle`, gives up after that long without one.
    fn poll(&mut self, idle: bool) -> Result<Next<'_>, CaptureError> {
        let waiting = Instant::now();
        loop {
            if self.drops_read.elapsed() >= std::time::Duration::from_secs(1) {
                self.drops_read = Instant::now();
                self.read_drops();
            }
            let expired = self.deadline.is_some_and(|d| Instant::now() >= d);
            let counted = self.count.is_some_and(|c| self.stats.frames >= c);
            if self.stop.load(Ordering::Relaxed) || expired || counted {
                self.read_drops();
                return Ok(Next::End);
            }
            match self.cap.next_packet() {
                Ok(p) => {
                    let ts = Ts::from_parts(p.header.ts.tv_sec, p.header.ts.tv_usec * 1000);
                    self.stats.frames += 1;
                    self.stats.bytes += p.data.len() as u64;
                    if p.header.len as usize > p.data.len() {
                        self.stats.truncated_frames += 1;
                    }
                    let orig_len = p.header.len;
                    self.buf.clear();
                    self.buf.extend_from_slice(p.data);
                    return Ok(Next::Frame(FrameRef {
                        ts,
                        link: self.link,
                        data: &self.buf,
                        orig_len,
                        shared: None,
                    }));
                }
                Err(pcap::Error::TimeoutExpired) => {
                    if idle && waiting.elapsed() >= IDLE_AFTER {
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_nanos() as i64);
                        return Ok(Next::Idle(Ts(now)));
                    }
                    // Nothing to read right now: a short nap bounds both latency and idle CPU.
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    continue;
                }
                Err(e) => {
                    self.read_drops();
                    return Err(classify(&self.iface, e));
                }
            }
        }
    }
}

impl Source for LiveSource {
    fn next_frame(&mut self) -> Result<Option<FrameRef<'_>>, CaptureError> {
        match self.poll(false)? {
            Next::Frame(f) => Ok(Some(f)),
            Next::Idle(_) | Next::End => Ok(None),
        }
    }

    fn next_or_idle(&mut self) -> Result<Next<'_>, CaptureError> {
        self.poll(true)
    }

    fn is_live(&self) -> bool {
        true
    }

    fn stats(&self) -> CaptureStats {
        self.stats.clone()
    }
}
