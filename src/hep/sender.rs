//! HEPv3 sender: packets to one or more collectors, each on its own thread, never blocking the
//! capture.
//!
//! Contract:
//! - [`Sender::send`] never waits: each target has a queue bounded by a packet count and a byte
//!   budget ([`Bounds`]); a packet that does not fit is dropped and counted
//!   ([`HepOutStats::dropped_full`]), whatever the collector is doing (down, slow, or gone).
//! - UDP: one datagram per packet; a packet over [`MAX_UDP`] bytes is never sent (counted in
//!   `too_large`); a failed send (the collector's port unreachable) loses that packet
//!   (`send_failed`).
//! - TCP: the packets back to back, framed by HEP's own length. A broken connection is opened
//!   again after a back-off that doubles from 1 s to 30 s; the packet being written when it broke
//!   is written again whole on the new connection, so the collector always resumes on a packet
//!   boundary. While no connection is up, the queue holds what it can.
//! - [`Sender::finish`] lets the threads drain their queues for at most the given time; what
//!   is left then is counted (`unsent_at_exit`), so a collector that stopped reading cannot hold
//!   the program's exit.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, TrySendError};

pub use super::wire::MAX_UDP;

/// How packets reach a collector.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// One collector: `udp:HOST:PORT` or `tcp:HOST:PORT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub transport: Transport,
    /// `HOST:PORT` (a name is resolved when the sender starts).
    pub addr: String,
}

impl Target {
    pub fn parse(s: &str) -> Result<Target, String> {
        let (t, rest) = s
            .split_once(':')
            .ok_or_else(|| format!("{s:?}: expected udp:HOST:PORT or tcp:HOST:PORT"))?;
        let transport = match t.to_ascii_lowercase().as_str() {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            _ => return Err(format!("{s:?}: the transport is udp or tcp, not {t:?}")),
        };
        let port_ok = rest
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        if !port_ok {
            return Err(format!("{s:?}: expected {t}:HOST:PORT"));
        }
        Ok(Target {
            transport,
            addr: rest.to_string(),
        })
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = match self.transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        };
        write!(f, "{t}:{}", self.addr)
    }
}

/// The bounds of each target's queue.
#[derive(Copy, Clone, Debug)]
pub struct Bounds {
    pub packets: usize,
    pub bytes: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            packets: 20_000,
            bytes: 32 << 20,
        }
    }
}

/// What the sender did, summed over its targets.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct HepOutStats {
    /// Packets written to a collector (UDP: handed to the kernel; TCP: written whole).
    pub sent: u64,
    pub sent_bytes: u64,
    /// Not queued: the queue's packet count or byte budget was full (collector slow or down).
    pub dropped_full: u64,
    /// Not sent: longer than a UDP datagram or a HEP packet can be.
    pub too_large: u64,
    /// UDP packets the kernel refused to send (the collector's port unreachable ...).
    pub send_failed: u64,
    /// Still queued when the run ended and the drain time was up.
    pub unsent_at_exit: u64,
    /// TCP connections that broke and were opened again, and attempts that failed.
    pub reconnects: u64,
    pub connect_failures: u64,
    /// Call-IDs the live leg index forgot to stay within its bound: a later message of such a
    /// leg goes without its correlation id.
    pub links_forgotten: u64,
}

impl std::ops::AddAssign<&HepOutStats> for HepOutStats {
    fn add_assign(&mut self, o: &HepOutStats) {
        self.sent += o.sent;
        self.sent_bytes += o.sent_bytes;
        self.dropped_full += o.dropped_full;
        self.too_large += o.too_large;
        self.send_failed += o.send_failed;
        self.unsent_at_exit += o.unsent_at_exit;
        self.reconnects += o.reconnects;
        self.connect_failures += o.connect_failures;
        self.links_forgotten += o.links_forgotten;
    }
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    sent_bytes: AtomicU64,
    dropped_full: AtomicU64,
    too_large: AtomicU64,
    send_failed: AtomicU64,
    unsent_at_exit: AtomicU64,
    reconnects: AtomicU64,
    connect_failures: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> HepOutStats {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        HepOutStats {
            sent: g(&self.sent),
            sent_bytes: g(&self.sent_bytes),
            dropped_full: g(&self.dropped_full),
            too_large: g(&self.too_large),
            send_failed: g(&self.send_failed),
            unsent_at_exit: g(&self.unsent_at_exit),
            reconnects: g(&self.reconnects),
            connect_failures: g(&self.connect_failures),
            links_forgotten: 0,
        }
    }
}

fn add(a: &AtomicU64, n: u64) {
    a.fetch_add(n, Ordering::Relaxed);
}

/// What one target's thread shares with the capture side.
struct Shared {
    counters: Counters,
    /// Bytes queued now (the byte budget).
    queued: AtomicUsize,
    /// Set by [`Sender::finish`] when the drain time is up.
    give_up: AtomicBool,
}

struct Lane {
    target: Target,
    tx: Option<crossbeam_channel::Sender<Bytes>>,
    shared: Arc<Shared>,
    handle: Option<JoinHandle<()>>,
    max_bytes: usize,
}

/// Sends HEP packets to its targets; see the module docs.
pub struct Sender {
    lanes: Vec<Lane>,
}

/// The back-off after the n-th failed connection attempt in a row: 1 s, 2 s, 4 s ... 30 s.
pub fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.min(5)).min(Duration::from_secs(30))
}

fn resolve(addr: &str) -> io::Result<SocketAddr> {
    addr.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{addr}: no address found for the host"),
        )
    })
}

impl Sender {
    /// Resolves every target and starts one thread each. A UDP target is bound and connected
    /// here; a TCP target connects on its thread (a collector that is not up yet is retried).
    pub fn start(targets: &[Target], bounds: Bounds) -> io::Result<Sender> {
        let mut lanes = Vec::new();
        for t in targets {
            let addr = resolve(&t.addr)?;
            let (tx, rx) = bounded::<Bytes>(bounds.packets.max(1));
            let shared = Arc::new(Shared {
                counters: Counters::default(),
                queued: AtomicUsize::new(0),
                give_up: AtomicBool::new(false),
            });
            let s = shared.clone();
            let handle = match t.transport {
                Transport::Udp => {
                    let bind: SocketAddr = if addr.is_ipv4() {
                        ([0, 0, 0, 0], 0).into()
                    } else {
                        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                    };
                    let sock = UdpSocket::bind(bind)?;
                    sock.connect(addr)?;
                    std::thread::Builder::new()
                        .name(format!("hep-out {t}"))
                        .spawn(move || udp_lane(sock, rx, s))?
                }
                Transport::Tcp => std::thread::Builder::new()
                    .name(format!("hep-out {t}"))
                    .spawn(move || tcp_lane(addr, rx, s))?,
            };
            lanes.push(Lane {
                target: t.clone(),
                tx: Some(tx),
                shared,
                handle: Some(handle),
                max_bytes: bounds.bytes,
            });
        }
        Ok(Sender { lanes })
    }

    /// Queues one packet for every target; never waits.
    pub fn send(&self, packet: Bytes) {
        for lane in &self.lanes {
            let c = &lane.shared.counters;
            if lane.target.transport == Transport::Udp && packet.len() > MAX_UDP {
                add(&c.too_large, 1);
                continue;
            }
            let q = &lane.shared.queued;
            if q.load(Ordering::Relaxed) + packet.len() > lane.max_bytes {
                add(&c.dropped_full, 1);
                continue;
            }
            let Some(tx) = &lane.tx else { continue };
            q.fetch_add(packet.len(), Ordering::Relaxed);
            match tx.try_send(packet.clone()) {
                Ok(()) => {}
                Err(TrySendError::Full(p) | TrySendError::Disconnected(p)) => {
                    q.fetch_sub(p.len(), Ordering::Relaxed);
                    add(&c.dropped_full, 1);
                }
            }
        }
    }

    /// A packet that could not even be encoded (longer than HEP can say): counted once per
    /// target, as every target missed it.
    pub fn count_too_large(&self) {
        for lane in &self.lanes {
            add(&lane.shared.counters.too_large, 1);
        }
    }

    /// What every target did so far.
    pub fn stats(&self) -> HepOutStats {
        let mut s = HepOutStats::default();
        for lane in &self.lanes {
            s += &lane.shared.counters.snapshot();
        }
        s
    }

    /// The targets, as given.
    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.lanes.iter().map(|l| &l.target)
    }

    /// Closes the queues, lets the threads send what is queued for at most `drain`, then
    /// stops them; what could not be sent is counted.
    pub fn finish(mut self, drain: Duration) -> HepOutStats {
        for lane in &mut self.lanes {
            lane.tx = None;
        }
        let deadline = Instant::now() + drain;
        for lane in &mut self.lanes {
            let Some(h) = lane.handle.take() else {
                continue;
            };
            while !h.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            lane.shared.give_up.store(true, Ordering::Relaxed);
            let _ = h.join();
        }
        self.stats()
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        for lane in &mut self.lanes {
            lane.tx = None;
            lane.shared.give_up.store(true, Ordering::Relaxed);
            if let Some(h) = lane.handle.take() {
                let _ = h.join();
            }
        }
    }
}

/// Takes one packet off the queue (its bytes leave the budget).
fn take(rx: &Receiver<Bytes>, s: &Shared) -> Result<Bytes, RecvTimeoutError> {
    let p = rx.recv_timeout(Duration::from_millis(100))?;
    s.queued.fetch_sub(p.len(), Ordering::Relaxed);
    Ok(p)
}

/// Counts what is left in the queue (and `held`, a packet taken but not sent) as unsent.
fn abandon(rx: &Receiver<Bytes>, s: &Shared, held: u64) {
    let mut n = held;
    while let Ok(p) = rx.try_recv() {
        s.queued.fetch_sub(p.len(), Ordering::Relaxed);
        n += 1;
    }
    add(&s.counters.unsent_at_exit, n);
}

fn udp_lane(sock: UdpSocket, rx: Receiver<Bytes>, s: Arc<Shared>) {
    let c = &s.counters;
    loop {
        if s.give_up.load(Ordering::Relaxed) {
            abandon(&rx, &s, 0);
            return;
        }
        match take(&rx, &s) {
            Ok(p) => match sock.send(&p) {
                Ok(_) => {
                    add(&c.sent, 1);
                    add(&c.sent_bytes, p.len() as u64);
                }
                Err(_) => add(&c.send_failed, 1),
            },
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// How long one write may wait before the thread looks at its stop flag again.
const WRITE_SLICE: Duration = Duration::from_millis(100);

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let st = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    st.set_write_timeout(Some(WRITE_SLICE))?;
    st.set_nodelay(true)?;
    Ok(st)
}

fn tcp_lane(addr: SocketAddr, rx: Receiver<Bytes>, s: Arc<Shared>) {
    let c = &s.counters;
    let mut conn: Option<TcpStream> = None;
    let mut failures = 0u32;
    let mut next_try = Instant::now();
    let mut was_up = false;
    loop {
        let p = match take(&rx, &s) {
            Ok(p) => p,
            Err(RecvTimeoutError::Timeout) => {
                if s.give_up.load(Ordering::Relaxed) {
                    abandon(&rx, &s, 0);
                    return;
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        // Write `p` whole on some connection, or give up on it at the end.
        loop {
            if s.give_up.load(Ordering::Relaxed) {
                abandon(&rx, &s, 1);
                return;
            }
            let Some(st) = conn.as_mut() else {
                let now = Instant::now();
                if now < next_try {
                    std::thread::sleep((next_try - now).min(WRITE_SLICE));
                    continue;
                }
                match connect(addr) {
                    Ok(st) => {
                        if was_up {
                            add(&c.reconnects, 1);
                        }
                        was_up = true;
                        failures = 0;
                        conn = Some(st);
                    }
                    Err(_) => {
                        add(&c.connect_failures, 1);
                        next_try = Instant::now() + backoff(failures);
                        failures = failures.saturating_add(1);
                    }
                }
                continue;
            };
            match write_packet(st, &p, &s.give_up) {
                Ok(true) => {
                    add(&c.sent, 1);
                    add(&c.sent_bytes, p.len() as u64);
                    break;
                }
                // Stopped while the collector would not read: the packet is not sent.
                Ok(false) => {
                    abandon(&rx, &s, 1);
                    return;
                }
                Err(_) => {
                    // Broken mid-packet or before: the next connection starts with this packet.
                    conn = None;
                    next_try = Instant::now() + backoff(failures);
                    failures = failures.saturating_add(1);
                }
            }
        }
    }
}

/// Writes one packet whole; `Ok(false)` if told to give up while the collector was not reading.
fn write_packet(st: &mut TcpStream, p: &[u8], give_up: &AtomicBool) -> io::Result<bool> {
    let mut off = 0;
    while off < p.len() {
        match st.write(&p[off..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => off += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                if give_up.load(Ordering::Relaxed) {
                    return Ok(false);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    #[test]
    fn targets_parse() {
        assert_eq!(
            Target::parse("udp:127.0.0.1:9060"),
            Ok(Target {
                transport: Transport::Udp,
                addr: "127.0.0.1:9060".into()
            })
        );
        assert_eq!(
            Target::parse("TCP:[::1]:9061").map(|t| t.to_string()),
            Ok("tcp:[::1]:9061".into())
        );
        for bad in [
            "127.0.0.1:9060",
            "sctp:h:1",
            "udp:h",
            "udp::5",
            "udp:h:0",
            "udp:h:x",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn backoff_doubles_to_thirty_seconds() {
        let b: Vec<u64> = (0..8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(b, vec![1, 2, 4, 8, 16, 30, 30, 30]);
    }

    #[test]
    fn udp_datagrams_arrive_whole_and_oversize_is_counted() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let t = Target::parse(&format!("udp:{}", rx.local_addr().unwrap())).unwrap();
        let s = Sender::start(&[t], Bounds::default()).unwrap();
        s.send(Bytes::from_static(b"HEP3one"));
        s.send(Bytes::from(vec![0u8; MAX_UDP + 1]));
        s.send(Bytes::from_static(b"HEP3two"));
        let mut buf = [0u8; 100];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"HEP3one");
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"HEP3two");
        let st = s.finish(Duration::from_secs(1));
        assert_eq!((st.sent, st.too_large, st.dropped_full), (2, 1, 0));
    }

    #[test]
    fn tcp_reconnects_and_resumes_on_a_packet_boundary() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let t = Target::parse(&format!("tcp:{}", l.local_addr().unwrap())).unwrap();
        let s = Sender::start(&[t], Bounds::default()).unwrap();
        s.send(Bytes::from_static(b"AAAA"));
        let (mut c1, _) = l.accept().unwrap();
        let mut got = [0u8; 4];
        c1.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"AAAA");
        drop(c1);
        // Writes into a closed connection fail within a packet or two; every packet after
        // the break arrives whole on the next connection.
        for _ in 0..50 {
            s.send(Bytes::from_static(b"BBBB"));
            std::thread::sleep(Duration::from_millis(5));
        }
        let (mut c2, _) = l.accept().unwrap();
        c2.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut all = Vec::new();
        let st = loop {
            let mut b = [0u8; 256];
            match c2.read(&mut b) {
                Ok(n) if n > 0 => all.extend_from_slice(&b[..n]),
                _ => break s.stats(),
            }
            if s.stats().sent >= 51 {
                std::thread::sleep(Duration::from_millis(50));
                if let Ok(n) = c2.read(&mut b) {
                    all.extend_from_slice(&b[..n]);
                }
                break s.stats();
            }
        };
        assert_eq!(all.len() % 4, 0, "a packet boundary");
        assert!(all.chunks(4).all(|c| c == b"BBBB"));
        assert!(st.reconnects >= 1, "{st:?}");
        // Packets are either sent on the first connection (lost with it), or on the second.
        assert!(all.len() / 4 >= 48, "{}", all.len() / 4);
        s.finish(Duration::from_secs(1));
    }

    #[test]
    fn a_collector_that_stops_reading_costs_drops_not_time() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let t = Target::parse(&format!("tcp:{}", l.local_addr().unwrap())).unwrap();
        let bounds = Bounds {
            packets: 100,
            bytes: 1 << 20,
        };
        let s = Sender::start(&[t], bounds).unwrap();
        // The kernel completes the connection from its backlog; nobody ever reads it.
        let p = Bytes::from(vec![b'x'; 1000]);
        let began = Instant::now();
        for _ in 0..50_000 {
            s.send(p.clone());
        }
        // 50 MB offered to a socket nobody reads: the sends never waited.
        assert!(
            began.elapsed() < Duration::from_secs(2),
            "{:?}",
            began.elapsed()
        );
        let began = Instant::now();
        let st = s.finish(Duration::from_millis(300));
        assert!(began.elapsed() < Duration::from_secs(2));
        assert!(st.dropped_full > 40_000, "{st:?}");
        assert_eq!(
            st.sent + st.dropped_full + st.unsent_at_exit,
            50_000,
            "{st:?}"
        );
    }
}
