//! The HEP listener: HEPv3 packets from capture agents (Kamailio's siptrace, heplify, another
//! sipscope) received on UDP or TCP, as a capture [`Source`].
//!
//! Contract:
//! - Each valid packet becomes one frame: a raw IP/UDP datagram from the agent to the
//!   listener's address and port carrying the HEP packet as it came, stamped with the HEP
//!   packet's own capture time (chunks 9/10; the arrival time only when it has none). The
//!   pipeline decapsulates it as it does HEP inside a capture ([`crate::decode::hep`], the
//!   listener's ports are added to the HEP ports), so the SIP inside gets the agent's addresses,
//!   ports, time and capture node id (the `node` column, the `--node` filter), and `monitor
//!   --write` saves frames Wireshark reads as HEP.
//! - Validated before it is queued: framing, every fixed-size chunk of its size
//!   ([`hep::check_chunk_sizes`]) and, when a password is set, the authentication key. A packet
//!   that fails is counted ([`CaptureStats::hep_rejected`], `hep_auth_failed`), never fatal. On
//!   TCP, bytes that are not HEP are skipped up to the next `HEP3` magic.
//! - Bounded like live capture: the receiving threads never wait for the analysis; a packet
//!   that finds the queue full (by count or bytes) is dropped and counted
//!   (`hep_dropped_full`). At most [`MAX_CONNECTIONS`] TCP connections at once, each buffering at
//!   most one HEP packet (64 KiB) beyond what it has framed.
//! - Live: stops within 100 ms of a stop request (Ctrl-C, `--duration`, `--count`), and says
//!   it is idle every 100 ms without packets, so outputs flow within a second.

use std::io::Read;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};

use crate::capture::{CaptureError, CaptureStats, FrameRef, LinkType, Next, Source};
use crate::decode::hep;
use crate::time::{Ts, NANOS_PER_SEC};

use super::sender::Transport;

/// TCP connections served at once.
pub const MAX_CONNECTIONS: usize = 256;
/// Packets and bytes the queue between the receiving threads and the analysis holds.
pub const QUEUE_PACKETS: usize = 65_536;
pub const QUEUE_BYTES: usize = 64 << 20;

/// One `--hep-listen` address: `udp:ADDR:PORT` or `tcp:ADDR:PORT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenSpec {
    pub transport: Transport,
    pub addr: SocketAddr,
}

impl ListenSpec {
    pub fn parse(s: &str) -> Result<ListenSpec, String> {
        let (t, rest) = s.split_once(':').unwrap_or(("", s));
        let transport = match t.to_ascii_lowercase().as_str() {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            _ => return Err(format!("{s:?}: expected udp:ADDR:PORT or tcp:ADDR:PORT")),
        };
        let addr = rest.parse::<SocketAddr>().map_err(|_| {
            format!(
                "{s:?}: the address to listen on is an IP address and a port (udp:0.0.0.0:9060)"
            )
        })?;
        Ok(ListenSpec { transport, addr })
    }
}

#[derive(Clone, Debug, Default)]
pub struct ListenOptions {
    pub specs: Vec<ListenSpec>,
    pub password: Option<String>,
    /// Stop after this long (wall time) or this many frames.
    pub duration: Option<Duration>,
    pub count: Option<u64>,
}

struct Item {
    ts: Ts,
    frame: Vec<u8>,
}

#[derive(Default)]
struct Counters {
    rejected: AtomicU64,
    auth_failed: AtomicU64,
    dropped_full: AtomicU64,
    refused: AtomicU64,
}

struct Shared {
    counters: Counters,
    queued: AtomicUsize,
    stop: Arc<AtomicBool>,
    /// The listener's own end: set when the source ends, so its threads end too.
    done: AtomicBool,
    password: Option<Vec<u8>>,
    connections: AtomicUsize,
}

impl Shared {
    fn stopping(&self) -> bool {
        self.done.load(Ordering::Relaxed) || self.stop.load(Ordering::Relaxed)
    }
}

pub struct HepListener {
    rx: Receiver<Item>,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    /// The addresses bound (a port 0 resolved).
    pub bound: Vec<(Transport, SocketAddr)>,
    deadline: Option<Instant>,
    count: Option<u64>,
    buf: Vec<u8>,
    stats: CaptureStats,
}

fn now_ts() -> Ts {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Ts(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn open_error(spec: &ListenSpec, e: std::io::Error) -> CaptureError {
    CaptureError::Live {
        iface: format!("hep {}", spec.addr),
        message: e.to_string(),
    }
}

/// A raw IPv4 or IPv6 header and a UDP header around `payload`, from `src` to `dst`; `None`
/// when the payload cannot fit in one datagram.
pub fn udp_frame(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Option<Vec<u8>> {
    let udp_len = u16::try_from(payload.len() + 8).ok()?;
    let mut f = Vec::with_capacity(payload.len() + 48);
    let v6 = |a: IpAddr| match a {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    };
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = u16::try_from(payload.len() + 28).ok()?;
            f.extend_from_slice(&[0x45, 0]);
            f.extend_from_slice(&total.to_be_bytes());
            f.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
            f.extend_from_slice(&s.octets());
            f.extend_from_slice(&d.octets());
        }
        (s, d) => {
            f.extend_from_slice(&[0x60, 0, 0, 0]);
            f.extend_from_slice(&udp_len.to_be_bytes());
            f.extend_from_slice(&[17, 64]);
            f.extend_from_slice(&v6(s).octets());
            f.extend_from_slice(&v6(d).octets());
        }
    }
    f.extend_from_slice(&src.port().to_be_bytes());
    f.extend_from_slice(&dst.port().to_be_bytes());
    f.extend_from_slice(&udp_len.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    Some(f)
}

/// Judges one HEP packet and queues it as a frame; never waits.
fn offer(sh: &Shared, tx: &Sender<Item>, from: SocketAddr, to: SocketAddr, packet: &[u8]) {
    let c = &sh.counters;
    let Ok((h, _)) = hep::parse_hep3(packet) else {
        c.rejected.fetch_add(1, Ordering::Relaxed);
        return;
    };
    if hep::check_chunk_sizes(packet).is_err() {
        c.rejected.fetch_add(1, Ordering::Relaxed);
        return;
    }
    if let Some(p) = &sh.password {
        if !hep::auth_key_is(packet, p) {
            c.auth_failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
    let ts = match h.ts_sec {
        Some(s) => Ts(
            i64::from(s) * NANOS_PER_SEC + i64::from(h.ts_usec.unwrap_or(0).min(999_999)) * 1000
        ),
        None => now_ts(),
    };
    let Some(frame) = udp_frame(from, to, packet) else {
        c.rejected.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let n = frame.len();
    if sh.queued.load(Ordering::Relaxed) + n > QUEUE_BYTES {
        c.dropped_full.fetch_add(1, Ordering::Relaxed);
        return;
    }
    sh.queued.fetch_add(n, Ordering::Relaxed);
    if tx.try_send(Item { ts, frame }).is_err() {
        sh.queued.fetch_sub(n, Ordering::Relaxed);
        c.dropped_full.fetch_add(1, Ordering::Relaxed);
    }
}

fn udp_thread(sock: UdpSocket, local: SocketAddr, sh: Arc<Shared>, tx: Sender<Item>) {
    let mut buf = vec![0u8; 65_536];
    while !sh.stopping() {
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                let mut data = &buf[..n];
                // One packet per datagram; a few agents pack several.
                while !data.is_empty() {
                    match hep::hep3_packet_len(data) {
                        Some(len) if len >= 6 && len <= data.len() => {
                            offer(&sh, &tx, from, local, &data[..len]);
                            data = &data[len..];
                        }
                        _ => {
                            sh.counters.rejected.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                    }
                }
            }
            Err(_) => continue,
        }
    }
}

fn tcp_thread(l: TcpListener, sh: Arc<Shared>, tx: Sender<Item>) {
    let mut conns: Vec<JoinHandle<()>> = Vec::new();
    while !sh.stopping() {
        match l.accept() {
            Ok((st, from)) => {
                conns.retain(|h| !h.is_finished());
                if sh.connections.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
                    sh.counters.refused.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let local = st.local_addr().unwrap_or(from);
                sh.connections.fetch_add(1, Ordering::Relaxed);
                let (s2, t2) = (sh.clone(), tx.clone());
                let h = std::thread::Builder::new()
                    .name("hep-listen conn".into())
                    .spawn(move || {
                        conn_thread(st, from, local, &s2, &t2);
                        s2.connections.fetch_sub(1, Ordering::Relaxed);
                    });
                match h {
                    Ok(h) => conns.push(h),
                    Err(_) => {
                        sh.connections.fetch_sub(1, Ordering::Relaxed);
                        sh.counters.refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    for h in conns {
        let _ = h.join();
    }
}

/// Frames a TCP stream by HEP's length; bytes that are not HEP are skipped to the next magic.
fn conn_thread(
    mut st: TcpStream,
    from: SocketAddr,
    local: SocketAddr,
    sh: &Shared,
    tx: &Sender<Item>,
) {
    let _ = st.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 65_536];
    while !sh.stopping() {
        let n = match st.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(_) => return,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut at = 0;
        loop {
            let rest = &buf[at..];
            if rest.len() < 6 {
                break;
            }
            match hep::hep3_packet_len(rest) {
                Some(len) if len >= 6 => {
                    if rest.len() < len {
                        break;
                    }
                    offer(sh, tx, from, local, &rest[..len]);
                    at += len;
                }
                _ => {
                    // Not a packet start: count once, then skip to the next magic.
                    sh.counters.rejected.fetch_add(1, Ordering::Relaxed);
                    match memchr::memmem::find(&rest[1..], hep::HEP3_MAGIC) {
                        Some(i) => at += 1 + i,
                        None => {
                            at = buf.len().saturating_sub(3);
                            break;
                        }
                    }
                }
            }
        }
        buf.drain(..at.min(buf.len()));
    }
}

impl HepListener {
    /// Binds every address and starts receiving.
    pub fn open(opts: &ListenOptions, stop: Arc<AtomicBool>) -> Result<HepListener, CaptureError> {
        let (tx, rx) = bounded::<Item>(QUEUE_PACKETS);
        let shared = Arc::new(Shared {
            counters: Counters::default(),
            queued: AtomicUsize::new(0),
            stop,
            done: AtomicBool::new(false),
            password: opts.password.as_ref().map(|p| p.as_bytes().to_vec()),
            connections: AtomicUsize::new(0),
        });
        let mut threads = Vec::new();
        let mut bound = Vec::new();
        for spec in &opts.specs {
            let sh = shared.clone();
            let tx = tx.clone();
            let spawn = |name: String, f: Box<dyn FnOnce() + Send>| {
                std::thread::Builder::new()
                    .name(name)
                    .spawn(f)
                    .map_err(|e| open_error(spec, e))
            };
            match spec.transport {
                Transport::Udp => {
                    let sock = UdpSocket::bind(spec.addr).map_err(|e| open_error(spec, e))?;
                    sock.set_read_timeout(Some(Duration::from_millis(100)))
                        .map_err(|e| open_error(spec, e))?;
                    let local = sock.local_addr().map_err(|e| open_error(spec, e))?;
                    bound.push((Transport::Udp, local));
                    threads.push(spawn(
                        format!("hep-listen udp:{local}"),
                        Box::new(move || udp_thread(sock, local, sh, tx)),
                    )?);
                }
                Transport::Tcp => {
                    let l = TcpListener::bind(spec.addr).map_err(|e| open_error(spec, e))?;
                    l.set_nonblocking(true).map_err(|e| open_error(spec, e))?;
                    let local = l.local_addr().map_err(|e| open_error(spec, e))?;
                    bound.push((Transport::Tcp, local));
                    threads.push(spawn(
                        format!("hep-listen tcp:{local}"),
                        Box::new(move || tcp_thread(l, sh, tx)),
                    )?);
                }
            }
        }
        Ok(HepListener {
            rx,
            shared,
            threads,
            bound,
            deadline: opts.duration.map(|d| Instant::now() + d),
            count: opts.count,
            buf: Vec::new(),
            stats: CaptureStats::default(),
        })
    }

    fn counters(&mut self) {
        let c = &self.shared.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        self.stats.hep_rejected = g(&c.rejected);
        self.stats.hep_auth_failed = g(&c.auth_failed);
        self.stats.hep_dropped_full = g(&c.dropped_full);
        self.stats.hep_connections_refused = g(&c.refused);
    }

    fn end(&mut self) {
        self.shared.done.store(true, Ordering::Relaxed);
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
        self.counters();
    }

    fn poll(&mut self, idle: bool) -> Next<'_> {
        let waiting = Instant::now();
        loop {
            let expired = self.deadline.is_some_and(|d| Instant::now() >= d);
            let counted = self.count.is_some_and(|c| self.stats.frames >= c);
            if self.shared.stop.load(Ordering::Relaxed) || expired || counted {
                self.end();
                return Next::End;
            }
            match self.rx.recv_timeout(Duration::from_millis(20)) {
                Ok(item) => {
                    self.shared
                        .queued
                        .fetch_sub(item.frame.len(), Ordering::Relaxed);
                    self.stats.frames += 1;
                    self.stats.bytes += item.frame.len() as u64;
                    self.buf = item.frame;
                    let orig_len = u32::try_from(self.buf.len()).unwrap_or(u32::MAX);
                    return Next::Frame(FrameRef {
                        ts: item.ts,
                        link: LinkType::Raw,
                        data: &self.buf,
                        orig_len,
                        shared: None,
                    });
                }
                Err(RecvTimeoutError::Timeout) => {
                    if idle && waiting.elapsed() >= Duration::from_millis(100) {
                        self.counters();
                        return Next::Idle(now_ts());
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.end();
                    return Next::End;
                }
            }
        }
    }
}

impl Drop for HepListener {
    fn drop(&mut self) {
        self.end();
    }
}

impl Source for HepListener {
    fn next_frame(&mut self) -> Result<Option<FrameRef<'_>>, CaptureError> {
        Ok(match self.poll(false) {
            Next::Frame(f) => Some(f),
            Next::Idle(_) | Next::End => None,
        })
    }

    fn next_or_idle(&mut self) -> Result<Next<'_>, CaptureError> {
        Ok(self.poll(true))
    }

    fn is_live(&self) -> bool {
        true
    }

    fn stats(&self) -> CaptureStats {
        let mut s = self.stats.clone();
        let c = &self.shared.counters;
        s.hep_rejected = c.rejected.load(Ordering::Relaxed);
        s.hep_auth_failed = c.auth_failed.load(Ordering::Relaxed);
        s.hep_dropped_full = c.dropped_full.load(Ordering::Relaxed);
        s.hep_connections_refused = c.refused.load(Ordering::Relaxed);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Decoder;
    use crate::hep::wire::{encode, proto_type, Meta};
    use std::io::Write;

    fn packet(capture_id: u32, key: Option<&[u8]>) -> Vec<u8> {
        let mut p = Vec::new();
        encode(
            &Meta {
                src: "10.1.1.1:5060".parse().unwrap(),
                dst: "10.2.2.2:5062".parse().unwrap(),
                ip_proto: 17,
                ts: Ts(1_600_000_000 * NANOS_PER_SEC + 250_000_000),
                proto_type: proto_type::SIP,
                capture_id,
                auth_key: key,
                correlation_id: None,
                node_name: None,
            },
            b"OPTIONS sip:x SIP/2.0\r\nCall-ID: c\r\n\r\n",
            &mut p,
        )
        .unwrap();
        p
    }

    #[test]
    fn frames_decode_as_udp_to_the_listener() {
        let p = packet(7, None);
        for (src, dst) in [
            ("192.0.2.1:4000", "127.0.0.1:9060"),
            ("[::1]:4000", "[::1]:9060"),
        ] {
            let f = udp_frame(src.parse().unwrap(), dst.parse().unwrap(), &p).unwrap();
            let frame = crate::capture::Frame {
                ts: Ts(1),
                link: LinkType::Raw,
                data: bytes::Bytes::from(f),
                orig_len: 0,
            };
            let pk = Decoder::default().decode(&frame).unwrap();
            assert_eq!(pk.sport, 4000);
            assert_eq!(pk.dport, 9060);
            assert_eq!(&pk.payload[..], &p[..]);
        }
        assert!(udp_frame(
            "1.1.1.1:1".parse().unwrap(),
            "2.2.2.2:2".parse().unwrap(),
            &vec![0; 65_508]
        )
        .is_none());
    }

    fn listen(specs: &str, password: Option<&str>) -> HepListener {
        let opts = ListenOptions {
            specs: specs
                .split(',')
                .map(|s| ListenSpec::parse(s).unwrap())
                .collect(),
            password: password.map(String::from),
            duration: None,
            count: None,
        };
        HepListener::open(&opts, Arc::new(AtomicBool::new(false))).unwrap()
    }

    fn next(l: &mut HepListener) -> Option<(Ts, Vec<u8>)> {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(3) {
            match l.next_or_idle().unwrap() {
                Next::Frame(f) => return Some((f.ts, f.data.to_vec())),
                Next::Idle(_) => continue,
                Next::End => return None,
            }
        }
        None
    }

    #[test]
    fn udp_and_tcp_packets_become_frames_with_the_hep_time() {
        let mut l = listen("udp:127.0.0.1:0,tcp:127.0.0.1:0", Some("pw"));
        let (udp, tcp) = (l.bound[0].1, l.bound[1].1);
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.send_to(&packet(1, Some(b"pw")), udp).unwrap();
        let (ts, f) = next(&mut l).unwrap();
        assert_eq!(ts, Ts(1_600_000_000 * NANOS_PER_SEC + 250_000_000));
        assert!(f.ends_with(&packet(1, Some(b"pw"))));
        // Wrong password, bad chunk size: counted, not queued.
        s.send_to(&packet(1, Some(b"no")), udp).unwrap();
        let mut odd = packet(1, Some(b"pw"));
        odd[6 + 7 + 5] = 8; // the IP protocol chunk claims 2 value bytes
        s.send_to(&odd, udp).unwrap();
        // TCP: two packets split at odd places, garbage between them.
        let mut c = TcpStream::connect(tcp).unwrap();
        let a = packet(2, Some(b"pw"));
        let stream = [&a[..], b"junk", &a[..]].concat();
        c.write_all(&stream[..10]).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        c.write_all(&stream[10..]).unwrap();
        for _ in 0..2 {
            let (_, f) = next(&mut l).unwrap();
            assert!(f.ends_with(&a));
        }
        let st = l.stats();
        assert_eq!(st.frames, 3);
        assert_eq!(st.hep_auth_failed, 1);
        assert_eq!(st.hep_rejected, 2, "{st:?}");
    }

    #[test]
    fn stop_ends_the_source_quickly() {
        let stop = Arc::new(AtomicBool::new(false));
        let opts = ListenOptions {
            specs: vec![ListenSpec::parse("tcp:127.0.0.1:0").unwrap()],
            ..ListenOptions::default()
        };
        let mut l = HepListener::open(&opts, stop.clone()).unwrap();
        let _idle_conn = TcpStream::connect(l.bound[0].1).unwrap();
        assert!(matches!(l.next_or_idle().unwrap(), Next::Idle(_)));
        stop.store(true, Ordering::Relaxed);
        let t = Instant::now();
        assert!(matches!(l.next_or_idle().unwrap(), Next::End));
        assert!(t.elapsed() < Duration::from_secs(1));
    }
}
