//! The monitor's metrics in the Prometheus text exposition format (version 0.0.4), and a small
//! HTTP endpoint that serves them (`--metrics-listen 127.0.0.1:9934`).
//!
//! The sink owns a [`Metrics`] and updates it as outputs arrive; it renders a snapshot into the
//! shared text at most once a second of capture time (and at the end). The server thread only
//! copies that text out, so a slow scraper never holds the analysis up.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A cumulative histogram with fixed upper bounds.
#[derive(Clone, Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    n: u64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            n: 0,
        }
    }

    pub fn observe(&mut self, v: f64) {
        if !v.is_finite() {
            return;
        }
        for (b, c) in self.bounds.iter().zip(self.counts.iter_mut()) {
            if v <= *b {
                *c += 1;
            }
        }
        self.sum += v;
        self.n += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.n);
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.n);
    }
}

const DELAY_BOUNDS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0];
const MOS_BOUNDS: &[f64] = &[1.5, 2.0, 2.5, 3.0, 3.6, 4.0, 4.2, 4.4, 4.5];

/// Escapes a label value (backslash, double quote, newline), as the format requires.
fn label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c if super::is_unsafe(c) => {}
            c => s.push(c),
        }
    }
    s
}

/// Everything the monitor exports. Label sets are bounded: methods and statuses are few, and
/// anything beyond [`MAX_SERIES`] label values is folded into `other`.
#[derive(Clone, Debug)]
pub struct Metrics {
    pub requests: BTreeMap<String, u64>,
    pub responses: BTreeMap<(String, u16), u64>,
    pub retransmissions: u64,
    pub calls: BTreeMap<&'static str, u64>,
    pub alerts: BTreeMap<&'static str, u64>,
    pub pdd: Histogram,
    pub response_time: BTreeMap<String, Histogram>,
    pub mos: Histogram,
    pub streams: u64,
    pub active_calls: u64,
    pub capture_dropped: u64,
    pub tcp_gaps: u64,
    pub evicted: u64,
    /// Entries in each bounded table now.
    pub tables: BTreeMap<&'static str, u64>,
    /// What the HEP sender did (`--hep-out`), when it runs.
    pub hep_out: Option<crate::hep::sender::HepOutStats>,
}

const MAX_SERIES: usize = 64;

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: BTreeMap::new(),
            responses: BTreeMap::new(),
            retransmissions: 0,
            calls: BTreeMap::new(),
            alerts: BTreeMap::new(),
            pdd: Histogram::new(DELAY_BOUNDS),
            response_time: BTreeMap::new(),
            mos: Histogram::new(MOS_BOUNDS),
            streams: 0,
            active_calls: 0,
            capture_dropped: 0,
            tcp_gaps: 0,
            evicted: 0,
            tables: BTreeMap::new(),
            hep_out: None,
        }
    }
}

impl Metrics {
    pub fn request(&mut self, method: &str) {
        let key = if self.requests.len() < MAX_SERIES || self.requests.contains_key(method) {
            method.to_string()
        } else {
            "other".into()
        };
        *self.requests.entry(key).or_default() += 1;
    }

    pub fn response(&mut self, method: &str, status: u16) {
        let key = (method.to_string(), status);
        let key = if self.responses.len() < MAX_SERIES || self.responses.contains_key(&key) {
            key
        } else {
            ("other".into(), 0)
        };
        *self.responses.entry(key).or_default() += 1;
    }

    pub fn response_time(&mut self, method: &str, secs: f64) {
        if self.response_time.len() >= MAX_SERIES && !self.response_time.contains_key(method) {
            return;
        }
        self.response_time
            .entry(method.to_string())
            .or_insert_with(|| Histogram::new(DELAY_BOUNDS))
            .observe(secs);
    }

    pub fn render(&self) -> String {
        let mut o = String::new();
        let head = |o: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(o, "# HELP {name} {help}");
            let _ = writeln!(o, "# TYPE {name} {kind}");
        };
        head(
            &mut o,
            "sipscope_requests_total",
            "counter",
            "SIP requests seen, by method.",
        );
        for (m, n) in &self.requests {
            let _ = writeln!(o, "sipscope_requests_total{{method=\"{}\"}} {n}", label(m));
        }
        head(
            &mut o,
            "sipscope_responses_total",
            "counter",
            "SIP responses seen, by CSeq method and status.",
        );
        for ((m, s), n) in &self.responses {
            let _ = writeln!(
                o,
                "sipscope_responses_total{{method=\"{}\",status=\"{s}\"}} {n}",
                label(m)
            );
        }
        head(
            &mut o,
            "sipscope_retransmissions_total",
            "counter",
            "SIP messages that repeated one already seen on the same hop.",
        );
        let _ = writeln!(o, "sipscope_retransmissions_total {}", self.retransmissions);
        head(
            &mut o,
            "sipscope_calls_total",
            "counter",
            "Calls closed, by outcome as the caller saw it.",
        );
        for (k, n) in &self.calls {
            let _ = writeln!(o, "sipscope_calls_total{{outcome=\"{k}\"}} {n}");
        }
        head(
            &mut o,
            "sipscope_alerts_total",
            "counter",
            "Alerts fired, by code.",
        );
        for (k, n) in &self.alerts {
            let _ = writeln!(o, "sipscope_alerts_total{{code=\"{k}\"}} {n}");
        }
        head(
            &mut o,
            "sipscope_pdd_seconds",
            "histogram",
            "Post-dial delay of closed calls.",
        );
        self.pdd.render(&mut o, "sipscope_pdd_seconds", "");
        head(
            &mut o,
            "sipscope_response_seconds",
            "histogram",
            "Request to final response, per transaction hop, by method.",
        );
        for (m, h) in &self.response_time {
            h.render(
                &mut o,
                "sipscope_response_seconds",
                &format!("method=\"{}\"", label(m)),
            );
        }
        head(
            &mut o,
            "sipscope_mos",
            "histogram",
            "Network MOS (E-model) of finished RTP streams.",
        );
        self.mos.render(&mut o, "sipscope_mos", "");
        head(
            &mut o,
            "sipscope_rtp_streams_total",
            "counter",
            "RTP streams finished.",
        );
        let _ = writeln!(o, "sipscope_rtp_streams_total {}", self.streams);
        head(
            &mut o,
            "sipscope_active_calls",
            "gauge",
            "Calls open now (watched by the detectors).",
        );
        let _ = writeln!(o, "sipscope_active_calls {}", self.active_calls);
        head(
            &mut o,
            "sipscope_capture_dropped_total",
            "counter",
            "Packets the capture dropped (kernel and interface).",
        );
        let _ = writeln!(o, "sipscope_capture_dropped_total {}", self.capture_dropped);
        head(
            &mut o,
            "sipscope_tcp_gaps_total",
            "counter",
            "Gaps in reassembled TCP streams.",
        );
        let _ = writeln!(o, "sipscope_tcp_gaps_total {}", self.tcp_gaps);
        head(
            &mut o,
            "sipscope_table_entries",
            "gauge",
            "Entries in each bounded table.",
        );
        for (t, n) in &self.tables {
            let _ = writeln!(o, "sipscope_table_entries{{table=\"{t}\"}} {n}");
        }
        head(
            &mut o,
            "sipscope_table_evictions_total",
            "counter",
            "Entries dropped from a full table.",
        );
        let _ = writeln!(o, "sipscope_table_evictions_total {}", self.evicted);
        if let Some(h) = &self.hep_out {
            head(
                &mut o,
                "sipscope_hep_sent_total",
                "counter",
                "HEP packets written to the collectors (--hep-out).",
            );
            let _ = writeln!(o, "sipscope_hep_sent_total {}", h.sent);
            head(
                &mut o,
                "sipscope_hep_sent_bytes_total",
                "counter",
                "Bytes of HEP packets written to the collectors.",
            );
            let _ = writeln!(o, "sipscope_hep_sent_bytes_total {}", h.sent_bytes);
            head(
                &mut o,
                "sipscope_hep_dropped_total",
                "counter",
                "HEP packets not sent, by reason (queue_full: the collector was slow or down).",
            );
            for (reason, n) in [
                ("queue_full", h.dropped_full),
                ("too_large", h.too_large),
                ("send_failed", h.send_failed),
                ("unsent_at_exit", h.unsent_at_exit),
            ] {
                let _ = writeln!(o, "sipscope_hep_dropped_total{{reason=\"{reason}\"}} {n}");
            }
            head(
                &mut o,
                "sipscope_hep_reconnects_total",
                "counter",
                "TCP connections to a collector opened again after they broke.",
            );
            let _ = writeln!(o, "sipscope_hep_reconnects_total {}", h.reconnects);
        }
        o
    }
}

/// Serves `text` at `/metrics` on `addr` until `stop`; returns the bound address (port 0 picks
/// one).
pub fn serve(
    addr: SocketAddr,
    text: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((mut conn, _)) => {
                    let _ = conn.set_nonblocking(false);
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                    let _ = conn.set_write_timeout(Some(Duration::from_secs(2)));
                    let head = read_head(&mut conn);
                    let req = String::from_utf8_lossy(&head);
                    let path = req.split_whitespace().nth(1).unwrap_or("");
                    let (status, body) = if path == "/metrics" || path.starts_with("/metrics?") {
                        let body = text.lock().map(|t| t.clone()).unwrap_or_default();
                        ("200 OK", body)
                    } else {
                        ("404 Not Found", "try /metrics\n".to_string())
                    };
                    let _ = write!(
                        conn,
                        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.shutdown(std::net::Shutdown::Write);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    });
    Ok(local)
}

/// The request line and headers, up to the blank line that ends them: a client may send them
/// in several segments, and a socket closed with the request unread makes the kernel reset the
/// connection, which can destroy the response before the scraper reads it. Bounded at 8 KiB
/// and by the connection's read timeout.
fn read_head(conn: &mut std::net::TcpStream) -> Vec<u8> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while head.len() < 8192 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_format() {
        let mut m = Metrics::default();
        m.request("INVITE");
        m.response("INVITE", 200);
        m.pdd.observe(0.3);
        m.pdd.observe(7.0);
        m.calls.insert("answered", 1);
        m.request("X\"Y\n");
        let t = m.render();
        assert!(t.contains("sipscope_requests_total{method=\"INVITE\"} 1\n"));
        assert!(t.contains("sipscope_requests_total{method=\"X\\\"Y\\n\"} 1\n"));
        assert!(t.contains("sipscope_responses_total{method=\"INVITE\",status=\"200\"} 1\n"));
        assert!(t.contains("sipscope_pdd_seconds_bucket{le=\"0.5\"} 1\n"));
        assert!(t.contains("sipscope_pdd_seconds_bucket{le=\"10\"} 2\n"));
        assert!(t.contains("sipscope_pdd_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(t.contains("sipscope_pdd_seconds_count 2\n"));
        assert!(t.contains("# TYPE sipscope_calls_total counter\n"));
    }
}

#[cfg(test)]
mod serve_tests {
    use super::*;

    #[test]
    fn serves_metrics_over_http() {
        let text = Arc::new(Mutex::new("sipscope_active_calls 3\n".to_string()));
        let stop = Arc::new(AtomicBool::new(false));
        let addr = serve("127.0.0.1:0".parse().unwrap(), text.clone(), stop.clone()).unwrap();
        let get = |path: &str| {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            write!(c, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut s = String::new();
            c.read_to_string(&mut s).unwrap();
            s
        };
        let r = get("/metrics");
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(r.ends_with("sipscope_active_calls 3\n"));
        *text.lock().unwrap() = "sipscope_active_calls 4\n".into();
        assert!(get("/metrics").ends_with("sipscope_active_calls 4\n"));
        assert!(get("/").starts_with("HTTP/1.1 404"));
        // A request that arrives in two segments is read whole before it is answered.
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.write_all(b"GET /metr").unwrap();
        std::thread::sleep(Duration::from_millis(150));
        c.write_all(b"ics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut s = String::new();
        c.read_to_string(&mut s).unwrap();
        assert!(s.starts_with("HTTP/1.1 200 OK\r\n"), "{s}");
        stop.store(true, Ordering::Relaxed);
    }
}
