//! gen-capture: deterministic generator of large, realistic SIP + RTP captures.
//!
//! ```text
//! gen-capture --calls N [--out FILE|-] [--seed S] [--cps R] [--rtp-seconds T]
//!             [--tcp-share P] [--registrations N] [--options N] [--shared-media]
//! ```
//!
//! Writes a classic pcap (microsecond timestamps, Ethernet, snaplen 65535) that
//! starts at 2026-01-01T00:00:00Z. 50 user agents live in 10.1.0.0/16 and a
//! kamailio-like proxy at 10.0.0.10:5060 relays most calls (two legs per call,
//! same Call-ID, proxy Via + Record-Route); about 10% of the calls go directly
//! from UA to UA. Calls arrive at `--cps` with exponential spacing and overlap
//! in time. Answered calls carry 20 ms PCMU RTP in both directions.
//!
//! `--shared-media` models a media server (or SBC) anchoring all media: every
//! SDP offer announces 10.0.0.20:20000 and every SDP answer 10.0.0.21:30000
//! (`o=` and `c=` lines), so tens of thousands of calls share one media address
//! per side. RTP still flows for answered calls, to those two addresses, from
//! each user agent's own address and per-call port with its own SSRC, so the
//! streams stay distinct. Everything else (calls, timing, outcomes, SIP
//! messages, RTP packet counts) is as without the option; the capture differs
//! only in the SDP bodies, the lengths that follow from them, and the RTP
//! destinations. Without the option the output is unchanged, byte for byte.
//!
//! Only std is used: the pcap writer, PRNG (splitmix64), checksums and even
//! `ln` are written here so that the same arguments always give a
//! byte-identical file. Packets are streamed in time order through a priority
//! queue of per-call/per-stream sources, so memory is bounded by the number of
//! calls in progress, not by the size of the capture.
//!
//! At the end a summary (packets, bytes, calls by outcome, SIP messages, SIP
//! frames, RTP packets, ...) is printed to stderr as `key: value` lines.
//! `sip_messages` is what `tshark -q -z sip,stat` reports as "Number of SIP
//! messages"; `sip_frames` is what `tshark -Y sip | wc -l` counts (over TCP a
//! segment may carry two messages, and a message split over several segments
//! is shown only in the last one); `rtp_streams` / `rtp_packets` match
//! `tshark -o rtp.heuristic_rtp:TRUE -q -z rtp,streams`.
//!
//! Outcome shares (percent of calls): answered 55, answered after a 407
//! challenge 5, busy 486 10, no answer 480 7, cancelled 487 10, declined 603 3,
//! not found 404 3, redirected 302 2, server error 503 2, timeout 3.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, BufWriter, Write};

/// 2026-01-01T00:00:00Z as seconds since the Unix epoch.
const START_SECS: u64 = 1_767_225_600;
const MS: u64 = 1_000;
const SEC: u64 = 1_000_000;
const NUM_UAS: usize = 50;
const DOMAIN: &str = "voip.example.com";
const PROXY_IP: [u8; 4] = [10, 0, 0, 10];
const PROXY_IP_S: &str = "10.0.0.10";
const KAMAILIO: &str = "kamailio (5.7.4 (x86_64/linux))";
const ALLOW: &str =
    "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, MESSAGE, PRACK";
const RTP_PAYLOAD: usize = 160; // 20 ms of PCMU at 8 kHz
const AUDIO_LEN: usize = 8000; // one second of audio, looped
const TOS_SIP: u8 = 0x60; // DSCP CS3
const TOS_RTP: u8 = 0xb8; // DSCP EF
const MSS: usize = 1460;
/// `--shared-media`: where every SDP offer (caller side) and answer (callee side) points.
const MEDIA_OFFER: ([u8; 4], &str, u16) = ([10, 0, 0, 20], "10.0.0.20", 20000);
const MEDIA_ANSWER: ([u8; 4], &str, u16) = ([10, 0, 0, 21], "10.0.0.21", 30000);

const AGENTS: [(&str, bool); 10] = [
    ("Yealink SIP-T46U 108.86.0.45", false),
    ("Grandstream GXP2170 1.0.11.79", false),
    ("PolycomVVX-VVX_450-UA/6.4.6.2381", true),
    ("Zoiper rv2.10.20.2", false),
    ("MicroSIP/3.21.5", false),
    ("Linphone/5.2.5 (belle-sip/5.2.94)", false),
    ("Cisco-CP8865/14.2.1", true),
    ("snom D785/10.1.159.12", false),
    ("Bria 6 release 6.5.4 stamp 113436", false),
    ("Obihai/OBi202-3.2.2.5921EX", true),
];

const NAMES: [&str; 16] = [
    "Alice Martin",
    "Bob Dupont",
    "Carol Smith",
    "Dan Kowalski",
    "Eve Novak",
    "Frank Meyer",
    "Grace Rossi",
    "Heidi Jansen",
    "Ivan Petrov",
    "Judy Garcia",
    "Mallory Brown",
    "Niaj Haddad",
    "Olivia Chen",
    "Peggy Larsen",
    "Rupert Silva",
    "Sybil Moreau",
];

// Call outcomes and their shares in percent.
const O_ANSWERED: usize = 0;
const O_AUTH: usize = 1;
const O_BUSY: usize = 2;
const O_NOANSWER: usize = 3;
const O_CANCEL: usize = 4;
const O_DECLINE: usize = 5;
const O_NOTFOUND: usize = 6;
const O_REDIRECT: usize = 7;
const O_SRVERR: usize = 8;
const O_TIMEOUT: usize = 9;
const OUTCOMES: [(&str, u64); 10] = [
    ("answered", 55),
    ("answered_after_407", 5),
    ("busy_486", 10),
    ("no_answer_480", 7),
    ("cancelled_487", 10),
    ("declined_603", 3),
    ("not_found_404", 3),
    ("redirected_302", 2),
    ("server_error_503", 2),
    ("timeout", 3),
];

// ---------------------------------------------------------------- PRNG

fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// splitmix64: tiny, fast, and good enough for traffic synthesis.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    /// Independent stream for (seed, kind, index).
    fn new(seed: u64, kind: u64, index: u64) -> Rng {
        let a = mix64(seed ^ 0x5EED_0000_0000_0000);
        let b = mix64(a ^ kind.wrapping_mul(0xD1B5_4A32_D192_ED03));
        Rng(mix64(b ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
    }
    fn u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }
    fn u32(&mut self) -> u32 {
        (self.u64() >> 32) as u32
    }
    /// Uniform in 0..n (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((self.u64() as u128 * n as u128) >> 64) as u64
    }
    /// Uniform in lo..=hi.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn pct(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
    fn hex(&mut self, n: usize) -> String {
        const D: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(n);
        let mut x = 0u64;
        for i in 0..n {
            if i % 16 == 0 {
                x = self.u64();
            }
            s.push(D[(x & 15) as usize] as char);
            x >>= 4;
        }
        s
    }
    fn digits(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        for i in 0..n {
            let d = if i == 0 {
                self.range(1, 9)
            } else {
                self.below(10)
            };
            s.push((b'0' + d as u8) as char);
        }
        s
    }
    /// Exponentially distributed value with the given mean (clamped at 12x).
    fn exp(&mut self, mean: f64) -> f64 {
        let u = (self.u64() >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
        let x = -ln(1.0 - u);
        x.min(12.0) * mean
    }
}

/// Natural logarithm from +, -, *, / only (bit-exact on every IEEE-754 platform).
fn ln(x: f64) -> f64 {
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m > std::f64::consts::SQRT_2 {
        m /= 2.0;
        e += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut term = s;
    let mut sum = s;
    let mut n = 1.0;
    for _ in 0..12 {
        term *= s2;
        n += 2.0;
        sum += term / n;
    }
    2.0 * sum + e as f64 * std::f64::consts::LN_2
}

// ---------------------------------------------------------------- packets

#[derive(Clone, Copy)]
struct Ep {
    ip: [u8; 4],
    mac: [u8; 6],
}

fn sum16(data: &[u8], mut acc: u32) -> u32 {
    let mut it = data.chunks_exact(2);
    for w in &mut it {
        acc += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [b] = it.remainder() {
        acc += u32::from(*b) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

fn pseudo_sum(s: &Ep, d: &Ep, proto: u8, len: usize) -> u32 {
    let mut acc = sum16(&s.ip, 0);
    acc = sum16(&d.ip, acc);
    acc + u32::from(proto) + len as u32
}

/// Ethernet + IPv4 header (with checksum) for an L4 payload of `l4len` bytes.
fn push_eth_ip(buf: &mut Vec<u8>, s: &Ep, d: &Ep, proto: u8, tos: u8, id: u16, l4len: usize) {
    buf.extend_from_slice(&d.mac);
    buf.extend_from_slice(&s.mac);
    buf.extend_from_slice(&[0x08, 0x00]);
    let start = buf.len();
    let total = (20 + l4len) as u16;
    buf.extend_from_slice(&[0x45, tos]);
    buf.extend_from_slice(&total.to_be_bytes());
    buf.extend_from_slice(&id.to_be_bytes());
    buf.extend_from_slice(&[0x40, 0x00, 64, proto, 0, 0]);
    buf.extend_from_slice(&s.ip);
    buf.extend_from_slice(&d.ip);
    let ck = fold(sum16(&buf[start..start + 20], 0));
    buf[start + 10..start + 12].copy_from_slice(&ck.to_be_bytes());
}

struct Flow<'a> {
    src: &'a Ep,
    dst: &'a Ep,
    sport: u16,
    dport: u16,
}

fn push_udp(buf: &mut Vec<u8>, f: &Flow, tos: u8, id: u16, payload: &[u8]) {
    let ulen = 8 + payload.len();
    push_eth_ip(buf, f.src, f.dst, 17, tos, id, ulen);
    let start = buf.len();
    buf.extend_from_slice(&f.sport.to_be_bytes());
    buf.extend_from_slice(&f.dport.to_be_bytes());
    buf.extend_from_slice(&(ulen as u16).to_be_bytes());
    buf.extend_from_slice(&[0, 0]);
    buf.extend_from_slice(payload);
    let acc = sum16(&buf[start..], pseudo_sum(f.src, f.dst, 17, ulen));
    let mut ck = fold(acc);
    if ck == 0 {
        ck = 0xffff;
    }
    buf[start + 6..start + 8].copy_from_slice(&ck.to_be_bytes());
}

const TH_FIN: u8 = 0x01;
const TH_SYN: u8 = 0x02;
const TH_PSH: u8 = 0x08;
const TH_ACK: u8 = 0x10;

struct TcpHdr {
    seq: u32,
    ack: u32,
    flags: u8,
    win: u16,
}

fn push_tcp(buf: &mut Vec<u8>, f: &Flow, id: u16, h: &TcpHdr, payload: &[u8]) {
    // SYN segments carry MSS + SACK-permitted options, like a real stack.
    let opts: &[u8] = if h.flags & TH_SYN != 0 {
        &[2, 4, (MSS >> 8) as u8, (MSS & 0xff) as u8, 1, 1, 4, 2]
    } else {
        &[]
    };
    let hlen = 20 + opts.len();
    let tlen = hlen + payload.len();
    push_eth_ip(buf, f.src, f.dst, 6, TOS_SIP, id, tlen);
    let start = buf.len();
    buf.extend_from_slice(&f.sport.to_be_bytes());
    buf.extend_from_slice(&f.dport.to_be_bytes());
    buf.extend_from_slice(&h.seq.to_be_bytes());
    buf.extend_from_slice(&h.ack.to_be_bytes());
    buf.extend_from_slice(&[((hlen / 4) as u8) << 4, h.flags]);
    buf.extend_from_slice(&h.win.to_be_bytes());
    buf.extend_from_slice(&[0, 0, 0, 0]);
    buf.extend_from_slice(opts);
    buf.extend_from_slice(payload);
    let ck = fold(sum16(&buf[start..], pseudo_sum(f.src, f.dst, 6, tlen)));
    buf[start + 16..start + 18].copy_from_slice(&ck.to_be_bytes());
}

// ---------------------------------------------------------------- stats

#[derive(Default)]
struct Stats {
    packets: u64,
    frame_bytes: u64,
    sip_msgs: u64,
    sip_frames: u64,
    sip_udp_msgs: u64,
    sip_tcp_msgs: u64,
    tcp_connections: u64,
    tcp_coalesced: u64,
    tcp_split: u64,
    rtp_packets: u64,
    rtp_streams: u64,
    outcomes: [u64; 10],
    reg_ok: u64,
    reg_fail: u64,
    options: u64,
    by_kind: Vec<(String, u64)>,
    last_t: u64,
}

impl Stats {
    fn count_msg(&mut self, m: &Msg, tcp: bool) {
        self.sip_msgs += 1;
        if tcp {
            self.sip_tcp_msgs += 1;
        } else {
            self.sip_udp_msgs += 1;
        }
        let key: &str = match m.first.strip_prefix("SIP/2.0 ") {
            Some(rest) => &rest[..3],
            None => m.first.split(' ').next().unwrap_or(""),
        };
        match self.by_kind.iter_mut().find(|(k, _)| k == key) {
            Some(e) => e.1 += 1,
            None => self.by_kind.push((key.to_string(), 1)),
        }
    }
}

// ---------------------------------------------------------------- SIP text

#[derive(Clone)]
struct Msg {
    first: String,
    h: Vec<(&'static str, String)>,
    body: String,
}

impl Msg {
    fn new(first: String) -> Msg {
        Msg {
            first,
            h: Vec::with_capacity(14),
            body: String::new(),
        }
    }
    fn add(&mut self, k: &'static str, v: impl Into<String>) {
        self.h.push((k, v.into()));
    }
    fn get(&self, k: &str) -> &str {
        self.h
            .iter()
            .find(|(n, _)| *n == k)
            .map_or("", |(_, v)| v.as_str())
    }
    fn set(&mut self, k: &'static str, v: String) {
        match self.h.iter_mut().find(|(n, _)| *n == k) {
            Some(e) => e.1 = v,
            None => self.h.push((k, v)),
        }
    }
    fn insert_after(&mut self, after: &str, k: &'static str, v: String) {
        let pos = self
            .h
            .iter()
            .position(|(n, _)| *n == after)
            .map_or(self.h.len(), |p| p + 1);
        self.h.insert(pos, (k, v));
    }
    fn remove(&mut self, k: &str) {
        self.h.retain(|(n, _)| *n != k);
    }
    fn ruri(&self) -> &str {
        self.first.split(' ').nth(1).unwrap_or("")
    }
    fn cseq_num(&self) -> &str {
        self.get("CSeq").split(' ').next().unwrap_or("1")
    }
    fn render(&self) -> Vec<u8> {
        let mut n = self.first.len() + self.body.len() + 24;
        for (k, v) in &self.h {
            n += k.len() + v.len() + 4;
        }
        let mut out = Vec::with_capacity(n);
        out.extend_from_slice(self.first.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (k, v) in &self.h {
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"Content-Length: ");
        out.extend_from_slice(self.body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(self.body.as_bytes());
        out
    }
}

/// Response skeleton: Via(s), Record-Route(s), From, To (+tag), Call-ID, CSeq.
fn resp_to(req: &Msg, code: u16, reason: &str, to_tag: Option<&str>) -> Msg {
    let mut m = Msg::new(format!("SIP/2.0 {code} {reason}"));
    for (k, v) in &req.h {
        if *k == "Via" || *k == "Record-Route" {
            m.h.push((k, v.clone()));
        }
    }
    m.add("From", req.get("From"));
    let to = req.get("To");
    match to_tag {
        Some(t) if !to.contains(";tag=") => m.add("To", format!("{to};tag={t}")),
        _ => m.add("To", to),
    }
    m.add("Call-ID", req.get("Call-ID"));
    m.add("CSeq", req.get("CSeq"));
    m
}

/// What a stateful proxy does to a request it relays.
fn proxy_fwd(
    req: &Msg,
    pvia: String,
    rr: Option<&str>,
    ruri: Option<&str>,
    src: (&str, u16),
) -> Msg {
    let mut m = req.clone();
    if let Some(u) = ruri {
        let method = m.first.split(' ').next().unwrap_or("INVITE").to_string();
        m.first = format!("{method} {u} SIP/2.0");
    }
    if let Some(v) = m.h.iter_mut().find(|(k, _)| *k == "Via") {
        v.1 = v.1.replacen(
            ";rport;",
            &format!(";received={};rport={};", src.0, src.1),
            1,
        );
    }
    m.remove("Route");
    m.remove("Proxy-Authorization");
    let mf: u32 = m.get("Max-Forwards").parse().unwrap_or(70);
    m.set("Max-Forwards", mf.saturating_sub(1).to_string());
    m.h.insert(0, ("Via", pvia));
    if let Some(rr) = rr {
        m.h.insert(0, ("Record-Route", rr.to_string()));
    }
    m
}

/// The proxy relays responses upstream without its own Via.
fn strip_via(m: &Msg) -> Msg {
    let mut m = m.clone();
    if let Some(p) = m.h.iter().position(|(k, _)| *k == "Via") {
        m.h.remove(p);
    }
    m
}

/// ACK for a non-2xx final response (same transaction, hop by hop).
fn ack_for(inv: &Msg, resp: &Msg) -> Msg {
    let mut m = Msg::new(format!("ACK {} SIP/2.0", inv.ruri()));
    m.add("Via", inv.get("Via"));
    m.add("Max-Forwards", "70");
    m.add("From", inv.get("From"));
    m.add("To", resp.get("To"));
    m.add("Call-ID", inv.get("Call-ID"));
    m.add("CSeq", format!("{} ACK", inv.cseq_num()));
    m
}

fn cancel_for(inv: &Msg, agent: &str) -> Msg {
    let mut m = Msg::new(format!("CANCEL {} SIP/2.0", inv.ruri()));
    m.add("Via", inv.get("Via"));
    m.add("Max-Forwards", "70");
    m.add("From", inv.get("From"));
    m.add("To", inv.get("To"));
    m.add("Call-ID", inv.get("Call-ID"));
    m.add("CSeq", format!("{} CANCEL", inv.cseq_num()));
    m.add("User-Agent", agent);
    m
}

/// One side of an established dialog.
struct Side {
    target: String,
    local: String,
    remote: String,
    via_pre: String,
    route: Option<String>,
    agent: &'static str,
}

fn dlg_req(s: &Side, r: &mut Rng, method: &str, cseq: u64, call_id: &str) -> Msg {
    let mut m = Msg::new(format!("{method} {} SIP/2.0", s.target));
    m.add(
        "Via",
        format!("{};rport;branch=z9hG4bK{}", s.via_pre, r.hex(16)),
    );
    m.add("Max-Forwards", "70");
    if let Some(rt) = &s.route {
        m.add("Route", rt.clone());
    }
    m.add("From", s.local.clone());
    m.add("To", s.remote.clone());
    m.add("Call-ID", call_id);
    m.add("CSeq", format!("{cseq} {method}"));
    if method != "ACK" {
        m.add("User-Agent", s.agent);
    }
    m
}

fn uri_of(nameaddr: &str) -> String {
    nameaddr
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

fn sdp(user: &str, ip: &str, port: u16, sess: &str, answer: bool, sname: &str) -> String {
    let fmts = if answer { "0 101" } else { "0 8 101" };
    let mut s = format!(
        "v=0\r\no={user} {sess} {sess} IN IP4 {ip}\r\ns={sname}\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {fmts}\r\na=rtpmap:0 PCMU/8000\r\n"
    );
    if !answer {
        s.push_str("a=rtpmap:8 PCMA/8000\r\n");
    }
    s.push_str(
        "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
    );
    s
}

fn proxy_via(r: &mut Rng, tcp: bool) -> String {
    format!(
        "SIP/2.0/{} {PROXY_IP_S};branch=z9hG4bK{}.{}000000000000000000000000.0",
        if tcp { "TCP" } else { "UDP" },
        r.hex(4),
        r.hex(8)
    )
}

fn proxy_tag(r: &mut Rng) -> String {
    format!("{}-{}", r.hex(32), r.hex(4))
}

// ---------------------------------------------------------------- legs

const K_DATA: u8 = 0;
const K_SYN: u8 = 1;
const K_SYNACK: u8 = 2;
const K_HSACK: u8 = 3;
const K_FIN: u8 = 4;
const K_FINACK: u8 = 5;
const K_LASTACK: u8 = 6;

struct Ev {
    t: u64,
    from_a: bool,
    kind: u8,
    data: Vec<u8>,
    co: bool,
    nmsg: u32,
}

/// One hop between two SIP entities; `a` is the side that opens a TCP connection.
struct Leg {
    a: Ep,
    b: Ep,
    ap: u16,
    bp: u16,
    tcp: bool,
    lat: u64,
    evs: Vec<Ev>,
    last: u64,
}

impl Leg {
    fn new(a: Ep, b: Ep, ports: (u16, u16), tcp: bool, lat: u64) -> Leg {
        Leg {
            a,
            b,
            ap: ports.0,
            bp: ports.1,
            tcp,
            lat,
            evs: Vec::new(),
            last: 0,
        }
    }
    fn ctl(&mut self, t: u64, from_a: bool, kind: u8) {
        self.evs.push(Ev {
            t,
            from_a,
            kind,
            data: Vec::new(),
            co: false,
            nmsg: 0,
        });
        self.last = self.last.max(t);
    }
    /// TCP three-way handshake; returns when the opener can send data.
    fn open(&mut self, t: u64) -> u64 {
        if !self.tcp {
            return t;
        }
        self.ctl(t, true, K_SYN);
        self.ctl(t + self.lat, false, K_SYNACK);
        self.ctl(t + 2 * self.lat, true, K_HSACK);
        t + 2 * self.lat + 25
    }
    fn close(&mut self, t: u64) {
        if self.tcp && !self.evs.is_empty() {
            self.ctl(t, true, K_FIN);
            self.ctl(t + self.lat, false, K_FINACK);
            self.ctl(t + 2 * self.lat, true, K_LASTACK);
        }
    }
    fn send(&mut self, t: u64, from_a: bool, m: &Msg, co: bool, st: &mut Stats) {
        st.count_msg(m, self.tcp);
        self.evs.push(Ev {
            t,
            from_a,
            kind: K_DATA,
            data: m.render(),
            co,
            nmsg: 1,
        });
        self.last = self.last.max(t);
    }

    /// Turn the events into frames.
    fn finish(self, r: &mut Rng, sb: &mut ScriptBuf, st: &mut Stats) {
        if self.evs.is_empty() {
            return;
        }
        let mut ids = [r.below(65536) as u16, r.below(65536) as u16];
        if !self.tcp {
            for e in &self.evs {
                let (s, d, sp, dp, i) = if e.from_a {
                    (&self.a, &self.b, self.ap, self.bp, 0)
                } else {
                    (&self.b, &self.a, self.bp, self.ap, 1)
                };
                let f = Flow {
                    src: s,
                    dst: d,
                    sport: sp,
                    dport: dp,
                };
                sb.frame(e.t, |buf| push_udp(buf, &f, TOS_SIP, ids[i], &e.data));
                ids[i] = ids[i].wrapping_add(1);
                st.sip_frames += 1;
            }
            return;
        }
        st.tcp_connections += 1;
        let mut evs = self.evs;
        evs.sort_by_key(|e| e.t);

        // Several SIP messages written back to back go out in one segment.
        let mut merged: Vec<Ev> = Vec::with_capacity(evs.len());
        for e in evs {
            if e.kind == K_DATA && e.co {
                if let Some(p) = merged.last_mut() {
                    if p.kind == K_DATA && p.from_a == e.from_a && e.t - p.t <= 5 * MS {
                        p.data.extend_from_slice(&e.data);
                        p.t = e.t;
                        p.nmsg += e.nmsg;
                        st.tcp_coalesced += 1;
                        continue;
                    }
                }
            }
            merged.push(e);
        }

        struct Seg {
            t: u64,
            from_a: bool,
            flags: u8,
            data: Vec<u8>,
            sip_end: bool,
        }
        let mut segs: Vec<Seg> = Vec::with_capacity(merged.len() * 3);
        // Time of the following event: a split message must be on the wire before it.
        let next_t: Vec<u64> = (0..merged.len())
            .map(|i| merged.get(i + 1).map_or(u64::MAX, |n| n.t))
            .collect();
        for (ei, e) in merged.into_iter().enumerate() {
            let flags = match e.kind {
                K_SYN => TH_SYN,
                K_SYNACK => TH_SYN | TH_ACK,
                K_HSACK | K_LASTACK => TH_ACK,
                K_FIN | K_FINACK => TH_FIN | TH_ACK,
                _ => TH_PSH | TH_ACK,
            };
            if e.kind != K_DATA {
                segs.push(Seg {
                    t: e.t,
                    from_a: e.from_a,
                    flags,
                    data: Vec::new(),
                    sip_end: false,
                });
                continue;
            }
            // Cut points: sometimes one message is written in 2-3 pieces
            // (e.g. headers, then the SDP body); anything over the MSS is split.
            let len = e.data.len();
            let mut cuts: Vec<usize> = Vec::new();
            if e.nmsg == 1 && len > 300 && next_t[ei] - e.t > 250 && r.pct(12) {
                st.tcp_split += 1;
                let hdr_end = e
                    .data
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .map_or(len, |p| p + 4);
                if hdr_end < len && r.pct(50) {
                    cuts.push(hdr_end);
                } else {
                    cuts.push(r.range(100, len as u64 - 100) as usize);
                }
                if r.pct(40) {
                    let c = cuts[0];
                    if c > 200 {
                        cuts.push(r.range(60, c as u64 - 60) as usize);
                    } else if len - c > 200 {
                        cuts.push(c + r.range(60, (len - c) as u64 - 60) as usize);
                    }
                }
                cuts.sort_unstable();
            }
            let mut pieces: Vec<(usize, usize)> = Vec::new();
            let mut from = 0;
            for c in cuts.into_iter().chain(std::iter::once(len)) {
                let mut s = from;
                while c - s > MSS {
                    pieces.push((s, s + MSS));
                    s += MSS;
                }
                pieces.push((s, c));
                from = c;
            }
            let n = pieces.len();
            let mut t = e.t;
            for (i, (s, x)) in pieces.into_iter().enumerate() {
                segs.push(Seg {
                    t,
                    from_a: e.from_a,
                    flags,
                    data: e.data[s..x].to_vec(),
                    sip_end: i + 1 == n,
                });
                t += r.range(15, 60);
            }
        }
        segs.sort_by_key(|s| s.t);

        // Pure ACKs from the receiver, unless it has something to say first.
        let mut acks: Vec<Seg> = Vec::new();
        for (i, s) in segs.iter().enumerate() {
            if s.data.is_empty() {
                continue;
            }
            let delay = if r.pct(55) {
                r.range(40, 300)
            } else {
                r.range(20 * MS, 40 * MS)
            };
            let busy = segs.get(i + 1).is_some_and(|n| n.t <= s.t + delay);
            if !busy {
                acks.push(Seg {
                    t: s.t + delay,
                    from_a: !s.from_a,
                    flags: TH_ACK,
                    data: Vec::new(),
                    sip_end: false,
                });
            }
        }
        segs.extend(acks);
        segs.sort_by_key(|s| s.t);

        let isn = [r.u32(), r.u32()];
        let mut next = [0u32; 2];
        let wins = [64240u16, 65160u16];
        for s in &segs {
            let me = usize::from(!s.from_a);
            let other = 1 - me;
            let h = TcpHdr {
                seq: isn[me].wrapping_add(next[me]),
                ack: if s.flags & TH_ACK != 0 {
                    isn[other].wrapping_add(next[other])
                } else {
                    0
                },
                flags: s.flags,
                win: wins[me],
            };
            let f = if s.from_a {
                Flow {
                    src: &self.a,
                    dst: &self.b,
                    sport: self.ap,
                    dport: self.bp,
                }
            } else {
                Flow {
                    src: &self.b,
                    dst: &self.a,
                    sport: self.bp,
                    dport: self.ap,
                }
            };
            sb.frame(s.t, |buf| push_tcp(buf, &f, ids[me], &h, &s.data));
            ids[me] = ids[me].wrapping_add(1);
            next[me] = next[me]
                .wrapping_add(s.data.len() as u32)
                .wrapping_add(u32::from(s.flags & (TH_SYN | TH_FIN) != 0));
            if s.sip_end {
                st.sip_frames += 1;
            }
        }
    }
}

/// Frames of one call / registration, kept in one buffer.
#[derive(Default)]
struct ScriptBuf {
    buf: Vec<u8>,
    idx: Vec<(u64, u32, u32)>,
}

impl ScriptBuf {
    fn frame(&mut self, t: u64, f: impl FnOnce(&mut Vec<u8>)) {
        let off = self.buf.len();
        f(&mut self.buf);
        self.idx
            .push((t, off as u32, (self.buf.len() - off) as u32));
    }
}

struct Script {
    sb: ScriptBuf,
    pos: usize,
}

// ---------------------------------------------------------------- RTP

struct RtpStream {
    src: Ep,
    dst: Ep,
    sp: u16,
    dp: u16,
    ssrc: u32,
    seq0: u16,
    ts0: u32,
    k: u64,
    t: u64,
    start: u64,
    end: u64,
    loss_ppm: u64,
    r: Rng,
    ip_id: u16,
    audio_off: usize,
}

impl RtpStream {
    fn new(
        flow: (Ep, u16, Ep, u16),
        start: u64,
        end: u64,
        loss_ppm: u64,
        mut r: Rng,
    ) -> Option<RtpStream> {
        let t = start + r.below(1500);
        if t > end {
            return None;
        }
        Some(RtpStream {
            src: flow.0,
            sp: flow.1,
            dst: flow.2,
            dp: flow.3,
            ssrc: r.u32(),
            seq0: r.below(65536) as u16,
            ts0: r.u32(),
            k: 0,
            t,
            start,
            end,
            loss_ppm,
            ip_id: r.below(65536) as u16,
            audio_off: r.below((AUDIO_LEN / RTP_PAYLOAD) as u64) as usize * RTP_PAYLOAD,
            r,
        })
    }
    /// Move to the next packet that is not lost; false when the stream is over.
    fn advance(&mut self) -> bool {
        loop {
            self.k += 1;
            let base = self.start + self.k * 20 * MS;
            if base > self.end {
                return false;
            }
            if self.loss_ppm > 0 && self.r.below(1_000_000) < self.loss_ppm {
                continue;
            }
            self.t = base + self.r.below(1500);
            return true;
        }
    }
    fn frame(&mut self, buf: &mut Vec<u8>, audio: &[u8]) {
        let mut p = [0u8; 12 + RTP_PAYLOAD];
        p[0] = 0x80;
        p[1] = if self.k == 0 { 0x80 } else { 0x00 }; // marker on the first packet, PT 0 (PCMU)
        p[2..4].copy_from_slice(&self.seq0.wrapping_add(self.k as u16).to_be_bytes());
        p[4..8].copy_from_slice(
            &self
                .ts0
                .wrapping_add((self.k as u32).wrapping_mul(160))
                .to_be_bytes(),
        );
        p[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        let off = (self.audio_off + self.k as usize * RTP_PAYLOAD) % AUDIO_LEN;
        p[12..].copy_from_slice(&audio[off..off + RTP_PAYLOAD]);
        let f = Flow {
            src: &self.src,
            dst: &self.dst,
            sport: self.sp,
            dport: self.dp,
        };
        push_udp(buf, &f, TOS_RTP, self.ip_id, &p);
        self.ip_id = self.ip_id.wrapping_add(1);
    }
}

fn ulaw(sample: i32) -> u8 {
    const BIAS: i32 = 0x84;
    let sign = if sample < 0 { 0x80 } else { 0 };
    let mut s = sample.abs().min(32635) + BIAS;
    let mut exp = 7;
    let mut mask = 0x4000;
    while exp > 0 && s & mask == 0 {
        exp -= 1;
        mask >>= 1;
    }
    s >>= exp + 3;
    !(sign | (exp << 4) as u8 | (s & 0x0f) as u8)
}

/// One second of speech-like noise (syllable envelope over low-passed noise), μ-law.
fn audio_table(seed: u64) -> Vec<u8> {
    let mut r = Rng::new(seed, 9, 0);
    let mut y = 0i32;
    let mut out = Vec::with_capacity(AUDIO_LEN + RTP_PAYLOAD);
    for n in 0..AUDIO_LEN {
        let noise = (r.u64() >> 50) as i32 - 8192;
        y += (noise - y) / 3;
        let phase = (n % 1600) as i32; // 200 ms syllables
        let env = if phase < 1200 {
            600 - (phase - 600).abs()
        } else {
            20
        };
        out.push(ulaw(y * env / 150));
    }
    let head: Vec<u8> = out[..RTP_PAYLOAD].to_vec();
    out.extend_from_slice(&head);
    out
}

// ---------------------------------------------------------------- world

#[derive(Clone)]
struct Ua {
    ep: Ep,
    ip: String,
    user: String,
    display: Option<&'static str>,
    agent: &'static str,
    server_hdr: bool,
    style: u8,
    tcp_port: u16,
    rtp_port: u16,
}

struct World {
    seed: u64,
    uas: Vec<Ua>,
    proxy: Ep,
    proxy_tcp_port: u16,
    rtp_seconds: u64,
    tcp_share: u64,
    shared_media: bool,
    st: Stats,
}

fn next_eph(p: u16, r: &mut Rng) -> u16 {
    let n = u32::from(p) + 1 + r.below(7) as u32;
    if n > 60999 {
        (32768 + n - 61000) as u16
    } else {
        n as u16
    }
}

impl World {
    fn new(a: &Args) -> World {
        let mut r = Rng::new(a.seed, 0, 0);
        let mut uas: Vec<Ua> = Vec::with_capacity(NUM_UAS);
        while uas.len() < NUM_UAS {
            let ip = [10, 1, r.below(256) as u8, r.range(2, 254) as u8];
            if uas.iter().any(|u| u.ep.ip == ip) {
                continue;
            }
            let i = uas.len();
            let (agent, server_hdr) = AGENTS[r.below(AGENTS.len() as u64) as usize];
            uas.push(Ua {
                ep: Ep {
                    ip,
                    mac: [0x02, 0x42, ip[0], ip[1], ip[2], ip[3]],
                },
                ip: format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]),
                user: (1001 + i).to_string(),
                display: if i.is_multiple_of(3) {
                    None
                } else {
                    Some(NAMES[i % NAMES.len()])
                },
                agent,
                server_hdr,
                style: (r.below(3)) as u8,
                tcp_port: r.range(32768, 60999) as u16,
                rtp_port: (r.range(5000, 14999) * 2) as u16,
            });
        }
        World {
            seed: a.seed,
            uas,
            proxy: Ep {
                ip: PROXY_IP,
                mac: [0x52, 0x54, 0x00, 0x0a, 0x00, 0x0a],
            },
            proxy_tcp_port: r.range(32768, 60999) as u16,
            rtp_seconds: a.rtp_seconds,
            tcp_share: a.tcp_share,
            shared_media: a.shared_media,
            st: Stats::default(),
        }
    }
    fn tcp_port(&mut self, ua: usize, r: &mut Rng) -> u16 {
        let u = &mut self.uas[ua];
        let p = u.tcp_port;
        u.tcp_port = next_eph(p, r);
        p
    }
    fn proxy_port(&mut self, r: &mut Rng) -> u16 {
        let p = self.proxy_tcp_port;
        self.proxy_tcp_port = next_eph(p, r);
        p
    }
    fn rtp_port(&mut self, ua: usize, r: &mut Rng) -> u16 {
        let u = &mut self.uas[ua];
        let p = u.rtp_port;
        let n = p + 2 * r.range(1, 3) as u16;
        u.rtp_port = if n >= 30000 { 10000 + n % 2 } else { n };
        p
    }
}

fn call_id(r: &mut Rng, ua: &Ua) -> String {
    match ua.style {
        0 => format!("{}@{}", r.hex(32), ua.ip),
        1 => format!(
            "{}-{}-{}-{}-{}",
            r.hex(8),
            r.hex(4),
            r.hex(4),
            r.hex(4),
            r.hex(12)
        ),
        _ => format!("{}@{}", r.digits(10), ua.ip),
    }
}

fn add_agent(m: &mut Msg, ua: &Ua) {
    if ua.server_hdr && m.first.starts_with("SIP/2.0") {
        m.add("Server", ua.agent);
    } else {
        m.add("User-Agent", ua.agent);
    }
}

/// Caller, optional proxy, callee: sends messages on the right hop(s).
struct Path<'a> {
    r: Rng,
    a: Leg,
    b: Option<Leg>,
    st: &'a mut Stats,
}

impl Path<'_> {
    fn think(&mut self, lo: u64, hi: u64) -> u64 {
        self.r.range(lo, hi)
    }
    /// caller -> callee; `mb` is what the proxy relays. Returns arrival at the callee.
    fn down(&mut self, t: u64, ma: &Msg, mb: &Msg, co: bool) -> u64 {
        self.a.send(t, true, ma, co, self.st);
        let t = t + self.a.lat;
        match self.b.as_mut() {
            Some(b) => {
                let t = t + self.r.range(40, 400);
                b.send(t, true, mb, false, self.st);
                t + b.lat
            }
            None => t,
        }
    }
    /// callee -> caller; `ma` is what the proxy relays. Returns arrival at the caller.
    fn up(&mut self, t: u64, mb: &Msg, ma: &Msg, co: bool) -> u64 {
        match self.b.as_mut() {
            Some(b) => {
                b.send(t, false, mb, co, self.st);
                let t = t + b.lat + self.r.range(40, 400);
                self.a.send(t, false, ma, false, self.st);
                t + self.a.lat
            }
            None => {
                self.a.send(t, false, mb, co, self.st);
                t + self.a.lat
            }
        }
    }
    /// Callee -> next hop only (absorbed by the proxy). Returns arrival.
    fn callee_hop(&mut self, t: u64, m: &Msg, co: bool) -> u64 {
        let leg = match self.b.as_mut() {
            Some(b) => b,
            None => &mut self.a,
        };
        leg.send(t, false, m, co, self.st);
        t + leg.lat
    }
    /// Final non-2xx from the callee, ACKed hop by hop. Returns the time of the last message.
    fn final_fail(&mut self, t: u64, inv_a: &Msg, inv_b: &Msg, resp_b: &Msg, co: bool) -> u64 {
        match self.b.as_mut() {
            Some(b) => {
                b.send(t, false, resp_b, co, self.st);
                let tp = t + b.lat;
                b.send(
                    tp + self.r.range(30, 200),
                    true,
                    &ack_for(inv_b, resp_b),
                    false,
                    self.st,
                );
                let resp_a = strip_via(resp_b);
                let t2 = tp + self.r.range(40, 400);
                self.a.send(t2, false, &resp_a, false, self.st);
                let ta = t2 + self.a.lat + self.r.range(100, 2000);
                self.a
                    .send(ta, true, &ack_for(inv_a, &resp_a), false, self.st);
                ta
            }
            None => {
                self.a.send(t, false, resp_b, co, self.st);
                let ta = t + self.a.lat + self.r.range(100, 2000);
                self.a
                    .send(ta, true, &ack_for(inv_a, resp_b), false, self.st);
                ta
            }
        }
    }
    /// Final response generated by the proxy itself (sl_send_reply), ACKed by the caller.
    fn proxy_reply(&mut self, t: u64, inv_a: &Msg, resp_a: &Msg) -> u64 {
        self.a.send(t, false, resp_a, false, self.st);
        let ta = t + self.a.lat + self.r.range(100, 2000);
        self.a
            .send(ta, true, &ack_for(inv_a, resp_a), false, self.st);
        ta
    }
}

fn pick_outcome(r: &mut Rng) -> usize {
    let mut x = r.below(100);
    for (i, (_, w)) in OUTCOMES.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    O_ANSWERED
}

fn build_call(w: &mut World, idx: u64, t0: u64) -> (Script, Vec<RtpStream>) {
    let mut r = Rng::new(w.seed, 1, idx);
    let oc = pick_outcome(&mut r);
    w.st.outcomes[oc] += 1;
    let ci = r.below(NUM_UAS as u64) as usize;
    let mut ei = r.below(NUM_UAS as u64 - 1) as usize;
    if ei >= ci {
        ei += 1;
    }
    let proxied = oc == O_AUTH || r.pct(90);
    let tcp = oc != O_TIMEOUT && r.pct(w.tcp_share);
    let retrans200 = !tcp && oc == O_ANSWERED && r.pct(5);
    let (tr, trl) = if tcp {
        ("TCP", ";transport=tcp")
    } else {
        ("UDP", "")
    };
    let cport = if tcp { w.tcp_port(ci, &mut r) } else { 5060 };
    let pport = if tcp && proxied {
        w.proxy_port(&mut r)
    } else {
        5060
    };
    let c_rtp = w.rtp_port(ci, &mut r);
    let e_rtp = w.rtp_port(ei, &mut r);
    let rtp_seconds = w.rtp_seconds;
    let ce = w.uas[ci].clone();
    let ee = w.uas[ei].clone();
    // Where each side's SDP says to send its media: the user agent itself, or the media server.
    let media_at = |ua: &Ua, port: u16, shared: ([u8; 4], &'static str, u16)| {
        if w.shared_media {
            let (ip, ip_s, port) = shared;
            let mac = [0x52, 0x54, 0x00, ip[1], ip[2], ip[3]];
            (Ep { ip, mac }, ip_s.to_string(), port)
        } else {
            (ua.ep, ua.ip.clone(), port)
        }
    };
    let (c_media, c_media_ip, c_media_port) = media_at(&ce, c_rtp, MEDIA_OFFER);
    let (e_media, e_media_ip, e_media_port) = media_at(&ee, e_rtp, MEDIA_ANSWER);
    let proxy = w.proxy;

    let lat_a = if proxied {
        r.range(300, 3000)
    } else {
        r.range(500, 8000)
    };
    let a = Leg::new(
        ce.ep,
        if proxied { proxy } else { ee.ep },
        (cport, 5060),
        tcp,
        lat_a,
    );
    let b = if proxied {
        Some(Leg::new(
            proxy,
            ee.ep,
            (pport, 5060),
            tcp,
            r.range(300, 3000),
        ))
    } else {
        None
    };

    let c_tag = r.hex(if ce.style == 1 { 8 } else { 10 });
    let e_tag = r.hex(if ee.style == 1 { 8 } else { 12 });
    let p_tag = proxy_tag(&mut r);
    let cid = call_id(&mut r, &ce);
    let mut cseq = if ce.style == 2 {
        r.range(1, 30000)
    } else {
        r.range(1, 3) * 100 + 1
    };
    let e_cseq = r.range(1, 30000);
    let rr = format!("<sip:{PROXY_IP_S}{trl};lr>");
    let dialed = if oc == O_NOTFOUND {
        r.range(2000, 8999).to_string()
    } else {
        ee.user.clone()
    };
    let from = match ce.display {
        Some(d) => format!("\"{d}\" <sip:{}@{DOMAIN}>;tag={c_tag}", ce.user),
        None => format!("<sip:{}@{DOMAIN}>;tag={c_tag}", ce.user),
    };
    let to = if proxied {
        format!("<sip:{dialed}@{DOMAIN}>")
    } else {
        format!("<sip:{dialed}@{}>", ee.ip)
    };
    let ruri_a = if proxied {
        format!("sip:{dialed}@{DOMAIN}")
    } else {
        format!("sip:{dialed}@{}:5060{trl}", ee.ip)
    };
    let ruri_b = format!("sip:{}@{}:5060{trl}", ee.user, ee.ip);
    let c_contact = format!("<sip:{}@{}:{cport}{trl}>", ce.user, ce.ip);
    let e_contact = format!("<sip:{}@{}:5060{trl}>", ee.user, ee.ip);
    let c_via_pre = format!("SIP/2.0/{tr} {}:{cport}", ce.ip);
    let e_via_pre = format!("SIP/2.0/{tr} {}:5060", ee.ip);
    let snames = ["-", "Talk", "SIP Call", "session"];

    let mut inv_a = Msg::new(format!("INVITE {ruri_a} SIP/2.0"));
    inv_a.add(
        "Via",
        format!("{c_via_pre};rport;branch=z9hG4bK{}", r.hex(16)),
    );
    inv_a.add("Max-Forwards", "70");
    inv_a.add("From", from.clone());
    inv_a.add("To", to);
    inv_a.add("Call-ID", cid.clone());
    inv_a.add("CSeq", format!("{cseq} INVITE"));
    inv_a.add("Contact", c_contact.clone());
    inv_a.add("User-Agent", ce.agent);
    inv_a.add("Allow", ALLOW);
    inv_a.add("Supported", "replaces, timer");
    inv_a.add("Content-Type", "application/sdp");
    inv_a.body = sdp(
        &ce.user,
        &c_media_ip,
        c_media_port,
        &r.digits(10),
        false,
        snames[ce.style as usize],
    );

    let mut p = Path {
        r,
        a,
        b,
        st: &mut w.st,
    };
    let mut rtp: Vec<RtpStream> = Vec::new();

    let mut t = p.a.open(t0);
    p.a.send(t, true, &inv_a, false, p.st);
    let mut tp = t + p.a.lat; // INVITE reaches the proxy (or the callee)

    if proxied && oc == O_AUTH {
        let mut r407 = resp_to(&inv_a, 407, "Proxy Authentication Required", Some(&p_tag));
        let nonce = p.r.hex(32);
        r407.add(
            "Proxy-Authenticate",
            format!("Digest realm=\"{DOMAIN}\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5"),
        );
        r407.add("Server", KAMAILIO);
        let tr407 = tp + p.think(40, 400);
        let ta = p.proxy_reply(tr407, &inv_a, &r407);
        cseq += 1;
        let mut inv2 = inv_a.clone();
        inv2.set(
            "Via",
            format!("{c_via_pre};rport;branch=z9hG4bK{}", p.r.hex(16)),
        );
        inv2.set("CSeq", format!("{cseq} INVITE"));
        let auth = format!(
            "Digest username=\"{}\", realm=\"{DOMAIN}\", nonce=\"{nonce}\", uri=\"{ruri_a}\", \
             response=\"{}\", algorithm=MD5, cnonce=\"{}\", qop=auth, nc=00000001",
            ce.user,
            p.r.hex(32),
            p.r.hex(16)
        );
        inv2.insert_after("Contact", "Proxy-Authorization", auth);
        t = ta + p.think(2 * MS, 30 * MS);
        p.a.send(t, true, &inv2, false, p.st);
        tp = t + p.a.lat;
        inv_a = inv2;
    }

    let mut end: u64;
    if proxied && (oc == O_NOTFOUND || oc == O_SRVERR) {
        let mut resp = if oc == O_NOTFOUND {
            resp_to(&inv_a, 404, "Not Found", Some(&p_tag))
        } else {
            let mut m = resp_to(&inv_a, 503, "Service Unavailable", Some(&p_tag));
            m.add("Retry-After", "30");
            m
        };
        resp.add("Server", KAMAILIO);
        let tr = tp + p.think(50, 600);
        end = p.proxy_reply(tr, &inv_a, &resp);
        return finish_call(p, end, rtp);
    }

    // The proxy says 100 and relays the INVITE.
    let inv_b;
    let t_cal;
    let t_first_b;
    if proxied {
        let mut tr100 = resp_to(&inv_a, 100, "trying -- your call is important to us", None);
        tr100.add("Server", KAMAILIO);
        let t100 = tp + p.think(30, 200);
        p.a.send(t100, false, &tr100, false, p.st);
        let pvia = proxy_via(&mut p.r, tcp);
        inv_b = proxy_fwd(&inv_a, pvia, Some(&rr), Some(&ruri_b), (&ce.ip, cport));
        let tstart = t100 + p.think(20, 300);
        let b = p.b.as_mut().expect("proxied call has a second leg");
        let tb = b.open(tstart);
        b.send(tb, true, &inv_b, false, p.st);
        t_first_b = tb;
        t_cal = tb + b.lat;
    } else {
        inv_b = inv_a.clone();
        t_first_b = t;
        t_cal = tp;
    }

    if oc == O_TIMEOUT {
        // Nobody answers: Timer A retransmissions at 0.5, 1, 2, 4, 8, 16 s.
        let mut tt = t_first_b;
        let mut dt = 500 * MS;
        for _ in 0..6 {
            tt += dt;
            dt *= 2;
            match p.b.as_mut() {
                Some(b) => b.send(tt, true, &inv_b, false, p.st),
                None => p.a.send(tt, true, &inv_a, false, p.st),
            }
        }
        end = tt;
        if proxied {
            // Timer B (64*T1) fires at the proxy: 408 upstream.
            let mut r408 = resp_to(&inv_a, 408, "Request Timeout", Some(&p_tag));
            r408.add("Server", KAMAILIO);
            end = p.proxy_reply(t_first_b + 32 * SEC, &inv_a, &r408);
        }
        return finish_call(p, end, rtp);
    }

    // Callee: optional 100 Trying, then whatever the outcome needs.
    let mut tc = t_cal + p.think(100, 1500);
    let sent100 = p.r.pct(60);
    if sent100 {
        let mut m = resp_to(&inv_b, 100, "Trying", None);
        add_agent(&mut m, &ee);
        p.callee_hop(tc, &m, false);
    }
    let busy_now = oc == O_BUSY && p.r.pct(70);
    let ringing = !(busy_now || matches!(oc, O_NOTFOUND | O_SRVERR | O_REDIRECT));
    let mut r180 = resp_to(&inv_b, 180, "Ringing", Some(&e_tag));
    r180.add("Contact", e_contact.clone());
    add_agent(&mut r180, &ee);
    r180.add("Allow", ALLOW);
    let mut t180c = tc;
    if ringing {
        let co = sent100 && p.r.pct(50);
        tc += if co {
            p.think(30, 300)
        } else {
            p.think(2 * MS, 120 * MS)
        };
        t180c = p.up(tc, &r180, &strip_via(&r180), co);
    }

    match oc {
        O_ANSWERED | O_AUTH => {
            let ring = if p.r.pct(5) {
                p.think(100 * MS, 600 * MS)
            } else {
                p.think(SEC, 15 * SEC)
            };
            let t200 = tc + ring;
            let mut r200 = resp_to(&inv_b, 200, "OK", Some(&e_tag));
            r200.add("Contact", e_contact.clone());
            add_agent(&mut r200, &ee);
            r200.add("Allow", ALLOW);
            r200.add("Supported", "replaces, timer");
            r200.add("Content-Type", "application/sdp");
            r200.body = sdp(
                &ee.user,
                &e_media_ip,
                e_media_port,
                &p.r.digits(10),
                true,
                snames[ee.style as usize],
            );
            let r200a = strip_via(&r200);
            let t200c = p.up(t200, &r200, &r200a, false);
            let mut tack = t200c + p.think(MS, 15 * MS);
            if retrans200 {
                // The caller is slow to ACK: Timer G retransmissions of the 200.
                let mut tt = t200;
                let mut dt = 500 * MS;
                for _ in 0..p.r.range(1, 2) {
                    tt += dt;
                    dt *= 2;
                    let arr = p.up(tt, &r200, &r200a, false);
                    tack = arr + p.think(MS, 15 * MS);
                }
            }
            let caller_side = Side {
                target: uri_of(&e_contact),
                local: from.clone(),
                remote: r200.get("To").to_string(),
                via_pre: c_via_pre.clone(),
                route: proxied.then(|| rr.clone()),
                agent: ce.agent,
            };
            let ack_a = dlg_req(&caller_side, &mut p.r, "ACK", cseq, &cid);
            let ack_b = proxy_fwd(
                &ack_a,
                proxy_via(&mut p.r, tcp),
                None,
                None,
                (&ce.ip, cport),
            );
            let tack_cal = p.down(tack, &ack_a, &ack_b, false);

            let talk = if rtp_seconds > 0 {
                p.think(SEC, rtp_seconds * SEC)
            } else {
                p.think(2 * SEC, 60 * SEC)
            };
            let (c_end, e_end);
            if p.r.pct(55) {
                let tbye = (t200c + talk).max(tack + 10 * MS);
                let mut bye_a = dlg_req(&caller_side, &mut p.r, "BYE", cseq + 1, &cid);
                bye_a.add("Reason", "Q.850;cause=16;text=\"Normal call clearing\"");
                let bye_b = proxy_fwd(
                    &bye_a,
                    proxy_via(&mut p.r, tcp),
                    None,
                    None,
                    (&ce.ip, cport),
                );
                let tbc = p.down(tbye, &bye_a, &bye_b, false);
                let mut ok = resp_to(&bye_b, 200, "OK", None);
                add_agent(&mut ok, &ee);
                let tok = tbc + p.think(300, 5 * MS);
                // Direct (no proxy): answered as the BYE arrived, without the proxy's Via.
                let ok_b = if p.b.is_some() {
                    ok.clone()
                } else {
                    strip_via(&ok)
                };
                end = p.up(tok, &ok_b, &strip_via(&ok), false);
                c_end = tbye;
                e_end = tbc;
            } else {
                let callee_side = Side {
                    target: uri_of(&c_contact),
                    local: r200.get("To").to_string(),
                    remote: from.clone(),
                    via_pre: e_via_pre.clone(),
                    route: proxied.then(|| rr.clone()),
                    agent: ee.agent,
                };
                let tbye = (t200 + talk).max(tack_cal + 10 * MS);
                let bye_b = dlg_req(&callee_side, &mut p.r, "BYE", e_cseq, &cid);
                let bye_a = proxy_fwd(&bye_b, proxy_via(&mut p.r, tcp), None, None, (&ee.ip, 5060));
                let tbc = p.up(tbye, &bye_b, &bye_a, false);
                let mut ok = resp_to(&bye_a, 200, "OK", None);
                add_agent(&mut ok, &ce);
                let tok = tbc + p.think(300, 5 * MS);
                // Direct (no proxy): the caller answers the BYE as it arrived, without the
                // proxy's Via that `bye_a` carries.
                let ok_a = if p.b.is_some() {
                    ok.clone()
                } else {
                    strip_via(&ok)
                };
                p.down(tok, &ok_a, &strip_via(&ok), false);
                end = tok + 10 * MS;
                e_end = tbye;
                c_end = tbc;
            }
            if rtp_seconds > 0 {
                let one_way = p.r.pct(3);
                let drop_caller = p.r.pct(50);
                let c_start = t200c + p.think(5 * MS, 40 * MS);
                let e_start = t200 + p.think(10 * MS, 60 * MS);
                if !one_way || !drop_caller {
                    let loss = if p.r.pct(20) { 5000 } else { 0 };
                    let sr = Rng::new(p.r.u64(), 3, idx);
                    let flow = (ce.ep, c_rtp, e_media, e_media_port);
                    if let Some(s) = RtpStream::new(flow, c_start, c_end, loss, sr) {
                        rtp.push(s);
                    }
                }
                if !one_way || drop_caller {
                    let loss = if p.r.pct(20) { 5000 } else { 0 };
                    let sr = Rng::new(p.r.u64(), 4, idx);
                    let flow = (ee.ep, e_rtp, c_media, c_media_port);
                    if let Some(s) = RtpStream::new(flow, e_start, e_end, loss, sr) {
                        rtp.push(s);
                    }
                }
            }
        }
        O_CANCEL => {
            let tcan = t180c + p.think(2 * SEC, 25 * SEC);
            let cancel_a = cancel_for(&inv_a, ce.agent);
            p.a.send(tcan, true, &cancel_a, false, p.st);
            let tarr = tcan + p.a.lat;
            let (tcal, cancel_b) = match p.b.as_mut() {
                Some(b) => {
                    let mut ok = resp_to(&cancel_a, 200, "canceling", Some(&p_tag));
                    ok.add("Server", KAMAILIO);
                    p.a.send(tarr + p.r.range(30, 200), false, &ok, false, p.st);
                    let mut cb = cancel_for(&inv_b, KAMAILIO);
                    cb.h.retain(|(k, _)| *k != "User-Agent");
                    let tb = tarr + p.r.range(40, 400);
                    b.send(tb, true, &cb, false, p.st);
                    (tb + b.lat, cb)
                }
                None => (tarr, cancel_a.clone()),
            };
            let mut ok = resp_to(&cancel_b, 200, "OK", Some(&e_tag));
            add_agent(&mut ok, &ee);
            let tok = tcal + p.think(100, 1500);
            p.callee_hop(tok, &ok, false);
            let mut r487 = resp_to(&inv_b, 487, "Request Terminated", Some(&e_tag));
            add_agent(&mut r487, &ee);
            let t487 = tok + p.think(30, 300);
            end = p.final_fail(t487, &inv_a, &inv_b, &r487, true);
        }
        _ => {
            let (code, reason, delay) = match oc {
                O_BUSY if ringing => (486, "Busy Here", p.think(SEC, 6 * SEC)),
                O_BUSY => (486, "Busy Here", p.think(20 * MS, 300 * MS)),
                O_NOANSWER => (480, "Temporarily Unavailable", p.think(15 * SEC, 45 * SEC)),
                O_DECLINE => (603, "Decline", p.think(SEC, 8 * SEC)),
                O_NOTFOUND => (404, "Not Found", p.think(MS, 10 * MS)),
                O_SRVERR => (503, "Service Unavailable", p.think(MS, 20 * MS)),
                _ => (302, "Moved Temporarily", p.think(5 * MS, 50 * MS)),
            };
            let mut m = resp_to(&inv_b, code, reason, Some(&e_tag));
            if code == 302 {
                let target = 1001 + p.r.below(NUM_UAS as u64);
                m.add("Contact", format!("<sip:{target}@{DOMAIN}>"));
                m.add(
                    "Diversion",
                    format!("<sip:{}@{DOMAIN}>;reason=unconditional", ee.user),
                );
            }
            add_agent(&mut m, &ee);
            end = p.final_fail(tc + delay, &inv_a, &inv_b, &m, false);
        }
    }
    finish_call(p, end, rtp)
}

fn finish_call(mut p: Path, end: u64, rtp: Vec<RtpStream>) -> (Script, Vec<RtpStream>) {
    let mut sb = ScriptBuf::default();
    let close = end + p.r.range(200 * MS, 2 * SEC);
    p.a.close(close);
    p.a.finish(&mut p.r, &mut sb, p.st);
    if let Some(mut b) = p.b.take() {
        let close = b.last + p.r.range(200 * MS, 2 * SEC);
        b.close(close);
        b.finish(&mut p.r, &mut sb, p.st);
    }
    sb.idx.sort_by_key(|e| e.0);
    p.st.rtp_streams += rtp.len() as u64;
    (Script { sb, pos: 0 }, rtp)
}

fn build_register(w: &mut World, idx: u64, t0: u64) -> Script {
    let mut r = Rng::new(w.seed, 2, idx);
    let ui = r.below(NUM_UAS as u64) as usize;
    let tcp = r.pct(w.tcp_share);
    let port = if tcp { w.tcp_port(ui, &mut r) } else { 5060 };
    let u = w.uas[ui].clone();
    let st = &mut w.st;
    let (tr, trl) = if tcp {
        ("TCP", ";transport=tcp")
    } else {
        ("UDP", "")
    };
    let mut leg = Leg::new(u.ep, w.proxy, (port, 5060), tcp, r.range(300, 3000));
    let fail = r.pct(8);
    let aor = format!("<sip:{}@{DOMAIN}>", u.user);
    let contact = format!("<sip:{}@{}:{port}{trl}>", u.user, u.ip);
    let mut cseq = r.range(1, 900);
    let mut reg = Msg::new(format!("REGISTER sip:{DOMAIN} SIP/2.0"));
    let via_pre = format!("SIP/2.0/{tr} {}:{port}", u.ip);
    reg.add(
        "Via",
        format!("{via_pre};rport;branch=z9hG4bK{}", r.hex(16)),
    );
    reg.add("Max-Forwards", "70");
    reg.add("From", format!("{aor};tag={}", r.hex(10)));
    reg.add("To", aor.clone());
    reg.add("Call-ID", call_id(&mut r, &u));
    reg.add("CSeq", format!("{cseq} REGISTER"));
    reg.add("Contact", format!("{contact};expires=3600"));
    reg.add("User-Agent", u.agent);
    reg.add("Allow", ALLOW);
    reg.add("Expires", "3600");
    let t = leg.open(t0);
    leg.send(t, true, &reg, false, st);
    let tp = t + leg.lat + r.range(40, 400);
    let tag = proxy_tag(&mut r);
    let nonce = r.hex(32);
    let mut r401 = resp_to(&reg, 401, "Unauthorized", Some(&tag));
    r401.add(
        "WWW-Authenticate",
        format!("Digest realm=\"{DOMAIN}\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5"),
    );
    r401.add("Server", KAMAILIO);
    leg.send(tp, false, &r401, false, st);
    let t2 = tp + leg.lat + r.range(MS, 20 * MS);
    cseq += 1;
    let mut reg2 = reg.clone();
    reg2.set(
        "Via",
        format!("{via_pre};rport;branch=z9hG4bK{}", r.hex(16)),
    );
    reg2.set("CSeq", format!("{cseq} REGISTER"));
    let auth = format!(
        "Digest username=\"{}\", realm=\"{DOMAIN}\", nonce=\"{nonce}\", uri=\"sip:{DOMAIN}\", \
         response=\"{}\", algorithm=MD5, cnonce=\"{}\", qop=auth, nc=00000001",
        u.user,
        r.hex(32),
        r.hex(16)
    );
    reg2.insert_after("Contact", "Authorization", auth);
    leg.send(t2, true, &reg2, false, st);
    let tp2 = t2 + leg.lat + r.range(100, 3 * MS);
    let resp = if fail {
        st.reg_fail += 1;
        let mut m = resp_to(&reg2, 403, "Forbidden", Some(&tag));
        m.add("Server", KAMAILIO);
        m
    } else {
        st.reg_ok += 1;
        let mut m = resp_to(&reg2, 200, "OK", Some(&tag));
        m.add("Contact", format!("{contact};expires=3600"));
        m.add("Server", KAMAILIO);
        m
    };
    leg.send(tp2, false, &resp, false, st);
    leg.close(tp2 + r.range(200 * MS, 2 * SEC));
    let mut sb = ScriptBuf::default();
    leg.finish(&mut r, &mut sb, st);
    sb.idx.sort_by_key(|e| e.0);
    Script { sb, pos: 0 }
}

fn build_options(w: &mut World, idx: u64, t0: u64) -> Script {
    let mut r = Rng::new(w.seed, 5, idx);
    let ui = r.below(NUM_UAS as u64) as usize;
    let u = w.uas[ui].clone();
    let st = &mut w.st;
    st.options += 1;
    let mut leg = Leg::new(w.proxy, u.ep, (5060, 5060), false, r.range(300, 3000));
    let mut m = Msg::new(format!("OPTIONS sip:{}@{}:5060 SIP/2.0", u.user, u.ip));
    m.add(
        "Via",
        format!("SIP/2.0/UDP {PROXY_IP_S}:5060;branch=z9hG4bK{}", r.hex(16)),
    );
    m.add("From", format!("<sip:pinger@{DOMAIN}>;tag={}", r.hex(12)));
    m.add("To", format!("<sip:{}@{}:5060>", u.user, u.ip));
    m.add(
        "Call-ID",
        format!("{}-{}@{PROXY_IP_S}", r.hex(8), r.digits(6)),
    );
    m.add("CSeq", "10 OPTIONS");
    m.add("Max-Forwards", "70");
    m.add("User-Agent", KAMAILIO);
    leg.send(t0, true, &m, false, st);
    let mut ok = resp_to(&m, 200, "OK", Some(&r.hex(10)));
    ok.add("Contact", format!("<sip:{}@{}:5060>", u.user, u.ip));
    ok.add("Allow", ALLOW);
    ok.add("Accept", "application/sdp");
    ok.add("Supported", "replaces, timer");
    add_agent(&mut ok, &u);
    leg.send(t0 + leg.lat + r.range(100, 3 * MS), false, &ok, false, st);
    let mut sb = ScriptBuf::default();
    leg.finish(&mut r, &mut sb, st);
    Script { sb, pos: 0 }
}

// ---------------------------------------------------------------- main loop

enum Src {
    Script(Script),
    Rtp(Box<RtpStream>),
}

impl Src {
    fn time(&self) -> u64 {
        match self {
            Src::Script(s) => s.sb.idx[s.pos].0,
            Src::Rtp(r) => r.t,
        }
    }
}

/// Live sources, ordered by the time of their next packet.
#[derive(Default)]
struct Pool {
    slab: Vec<Option<Src>>,
    free: Vec<usize>,
    heap: BinaryHeap<Reverse<(u64, u64, usize)>>,
    next_id: u64,
}

impl Pool {
    fn add(&mut self, src: Src) {
        let t = src.time();
        let slot = match self.free.pop() {
            Some(s) => {
                self.slab[s] = Some(src);
                s
            }
            None => {
                self.slab.push(Some(src));
                self.slab.len() - 1
            }
        };
        self.heap.push(Reverse((t, self.next_id, slot)));
        self.next_id += 1;
    }
}

/// An arrival process (calls, registrations, OPTIONS pings).
struct Arrivals {
    next_t: u64,
    idx: u64,
    total: u64,
    mean_us: f64,
    r: Rng,
}

impl Arrivals {
    fn new(seed: u64, kind: u64, total: u64, mean_us: f64) -> Arrivals {
        let mut r = Rng::new(seed, kind, u64::MAX);
        let first = r.exp(mean_us) as u64 + 1;
        Arrivals {
            next_t: first,
            idx: 0,
            total,
            mean_us,
            r,
        }
    }
    fn peek(&self) -> Option<u64> {
        (self.idx < self.total).then_some(self.next_t)
    }
    fn take(&mut self) -> (u64, u64) {
        let cur = (self.idx, self.next_t);
        self.idx += 1;
        self.next_t += self.r.exp(self.mean_us) as u64 + 1;
        cur
    }
}

struct Args {
    calls: u64,
    out: String,
    seed: u64,
    cps: f64,
    rtp_seconds: u64,
    tcp_share: u64,
    registrations: u64,
    options: u64,
    shared_media: bool,
}

const USAGE: &str = "usage: gen-capture --calls N [--out FILE|- (default gen.pcap)] [--seed S (1)]
                   [--cps R (20)] [--rtp-seconds T (20; 0 = no RTP)] [--tcp-share P (30)]
                   [--registrations N (calls/10)] [--options N (calls/20)]
                   [--shared-media (every SDP offer 10.0.0.20:20000, every answer 10.0.0.21:30000)]";

fn die(msg: &str) -> ! {
    eprintln!("gen-capture: {msg}\n{USAGE}");
    std::process::exit(2)
}

fn num<T: std::str::FromStr>(v: &str, name: &str) -> T {
    v.parse()
        .unwrap_or_else(|_| die(&format!("bad value for {name}: {v:?}")))
}

fn parse_args() -> Args {
    let mut calls: Option<u64> = None;
    let mut a = Args {
        calls: 0,
        out: "gen.pcap".to_string(),
        seed: 1,
        cps: 20.0,
        rtp_seconds: 20,
        tcp_share: 30,
        registrations: u64::MAX,
        options: u64::MAX,
        shared_media: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if arg == "-h" || arg == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut val = || {
            inline
                .clone()
                .or_else(|| it.next())
                .unwrap_or_else(|| die(&format!("{key} needs a value")))
        };
        match key.as_str() {
            "--calls" => calls = Some(num(&val(), "--calls")),
            "--out" => a.out = val(),
            "--seed" => a.seed = num(&val(), "--seed"),
            "--cps" => a.cps = num(&val(), "--cps"),
            "--rtp-seconds" => a.rtp_seconds = num(&val(), "--rtp-seconds"),
            "--tcp-share" => a.tcp_share = num(&val(), "--tcp-share"),
            "--registrations" => a.registrations = num(&val(), "--registrations"),
            "--options" => a.options = num(&val(), "--options"),
            "--shared-media" if inline.is_none() => a.shared_media = true,
            _ => die(&format!("unknown argument {arg:?}")),
        }
    }
    a.calls = calls.unwrap_or_else(|| die("--calls is required"));
    if !(a.cps.is_finite() && a.cps > 0.0) {
        die("--cps must be > 0");
    }
    if a.tcp_share > 100 {
        die("--tcp-share is a percentage (0-100)");
    }
    if a.registrations == u64::MAX {
        a.registrations = a.calls / 10;
    }
    if a.options == u64::MAX {
        a.options = a.calls / 20;
    }
    a
}

fn write_record(out: &mut impl Write, t: u64, frame: &[u8]) -> io::Result<()> {
    let ts = START_SECS + t / SEC;
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&(ts as u32).to_le_bytes());
    h[4..8].copy_from_slice(&((t % SEC) as u32).to_le_bytes());
    h[8..12].copy_from_slice(&(frame.len() as u32).to_le_bytes());
    h[12..16].copy_from_slice(&(frame.len() as u32).to_le_bytes());
    out.write_all(&h)?;
    out.write_all(frame)
}

fn run(a: &Args, out: &mut impl Write) -> io::Result<World> {
    let mut hdr = Vec::with_capacity(24);
    hdr.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    hdr.extend_from_slice(&2u16.to_le_bytes());
    hdr.extend_from_slice(&4u16.to_le_bytes());
    hdr.extend_from_slice(&0i32.to_le_bytes());
    hdr.extend_from_slice(&0u32.to_le_bytes());
    hdr.extend_from_slice(&65535u32.to_le_bytes());
    hdr.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
    out.write_all(&hdr)?;

    let mut w = World::new(a);
    let audio = audio_table(a.seed);
    // Registrations and pings are spread over the same span as the calls.
    let call_mean = SEC as f64 / a.cps;
    let span = (a.calls.max(1) as f64) * call_mean;
    let mut arr = [
        Arrivals::new(a.seed, 11, a.calls, call_mean),
        Arrivals::new(
            a.seed,
            12,
            a.registrations,
            span / a.registrations.max(1) as f64,
        ),
        Arrivals::new(a.seed, 13, a.options, span / a.options.max(1) as f64),
    ];

    let mut pool = Pool::default();
    let mut scratch: Vec<u8> = Vec::with_capacity(2048);

    loop {
        // Earliest pending arrival (ties: calls, then registrations, then pings).
        let mut na: Option<(u64, usize)> = None;
        for (k, ar) in arr.iter().enumerate() {
            if let Some(t) = ar.peek() {
                if na.is_none_or(|(bt, _)| t < bt) {
                    na = Some((t, k));
                }
            }
        }
        let nh = pool.heap.peek().map(|Reverse((t, _, _))| *t);
        let admit = match (na, nh) {
            (Some((ta, _)), Some(th)) => ta <= th,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if admit {
            let (_, kind) = na.expect("arrival");
            let (idx, t0) = arr[kind].take();
            match kind {
                0 => {
                    let (script, streams) = build_call(&mut w, idx, t0);
                    if !script.sb.idx.is_empty() {
                        pool.add(Src::Script(script));
                    }
                    for s in streams {
                        pool.add(Src::Rtp(Box::new(s)));
                    }
                }
                1 => {
                    let s = build_register(&mut w, idx, t0);
                    pool.add(Src::Script(s));
                }
                _ => {
                    let s = build_options(&mut w, idx, t0);
                    pool.add(Src::Script(s));
                }
            }
            continue;
        }
        let Reverse((t, id, slot)) = pool.heap.pop().expect("non-empty heap");
        let more = match pool.slab[slot].as_mut().expect("live source") {
            Src::Script(s) => {
                let (_, off, len) = s.sb.idx[s.pos];
                let frame = &s.sb.buf[off as usize..(off + len) as usize];
                write_record(out, t, frame)?;
                w.st.frame_bytes += u64::from(len);
                s.pos += 1;
                (s.pos < s.sb.idx.len()).then(|| s.sb.idx[s.pos].0)
            }
            Src::Rtp(r) => {
                scratch.clear();
                r.frame(&mut scratch, &audio);
                write_record(out, t, &scratch)?;
                w.st.frame_bytes += scratch.len() as u64;
                w.st.rtp_packets += 1;
                r.advance().then_some(r.t)
            }
        };
        w.st.packets += 1;
        w.st.last_t = t;
        match more {
            Some(nt) => pool.heap.push(Reverse((nt, id, slot))),
            None => {
                pool.slab[slot] = None;
                pool.free.push(slot);
            }
        }
    }
    out.flush()?;
    Ok(w)
}

fn report(a: &Args, w: &World) {
    let st = &w.st;
    let answered = st.outcomes[O_ANSWERED] + st.outcomes[O_AUTH];
    let mut s = String::new();
    s.push_str(&format!("seed: {}\n", a.seed));
    s.push_str(&format!("packets: {}\n", st.packets));
    s.push_str(&format!("frame_bytes: {}\n", st.frame_bytes));
    s.push_str(&format!(
        "file_bytes: {}\n",
        24 + 16 * st.packets + st.frame_bytes
    ));
    s.push_str(&format!(
        "duration_s: {}.{:06}\n",
        st.last_t / SEC,
        st.last_t % SEC
    ));
    s.push_str(&format!("calls: {}\n", a.calls));
    if a.shared_media {
        s.push_str(&format!(
            "shared_media: {}:{} {}:{}\n",
            MEDIA_OFFER.1, MEDIA_OFFER.2, MEDIA_ANSWER.1, MEDIA_ANSWER.2
        ));
    }
    for (i, (name, _)) in OUTCOMES.iter().enumerate() {
        s.push_str(&format!("calls_{name}: {}\n", st.outcomes[i]));
    }
    s.push_str(&format!("calls_answered_total: {answered}\n"));
    s.push_str(&format!("registrations: {}\n", st.reg_ok + st.reg_fail));
    s.push_str(&format!("registrations_ok: {}\n", st.reg_ok));
    s.push_str(&format!("registrations_failed_403: {}\n", st.reg_fail));
    s.push_str(&format!("options: {}\n", st.options));
    s.push_str(&format!("sip_messages: {}\n", st.sip_msgs));
    s.push_str(&format!("sip_messages_udp: {}\n", st.sip_udp_msgs));
    s.push_str(&format!("sip_messages_tcp: {}\n", st.sip_tcp_msgs));
    s.push_str(&format!("sip_frames: {}\n", st.sip_frames));
    s.push_str(&format!("tcp_connections: {}\n", st.tcp_connections));
    s.push_str(&format!("tcp_coalesced_messages: {}\n", st.tcp_coalesced));
    s.push_str(&format!("tcp_split_messages: {}\n", st.tcp_split));
    s.push_str(&format!("rtp_streams: {}\n", st.rtp_streams));
    s.push_str(&format!("rtp_packets: {}\n", st.rtp_packets));
    let mut kinds: Vec<&(String, u64)> = st.by_kind.iter().collect();
    kinds.sort();
    let list: Vec<String> = kinds.iter().map(|(k, n)| format!("{k}={n}")).collect();
    s.push_str(&format!("sip_by_kind: {}\n", list.join(" ")));
    eprint!("{s}");
}

fn main() {
    let a = parse_args();
    let res = if a.out == "-" {
        let stdout = io::stdout();
        let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
        run(&a, &mut out)
    } else {
        let file = std::fs::File::create(&a.out)
            .unwrap_or_else(|e| die(&format!("cannot create {}: {e}", a.out)));
        let mut out = BufWriter::with_capacity(1 << 20, file);
        run(&a, &mut out)
    };
    match res {
        Ok(w) => report(&a, &w),
        Err(e) => {
            eprintln!("gen-capture: write error: {e}");
            std::process::exit(1);
        }
    }
}
