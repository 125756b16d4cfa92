//! SDP (Session Description Protocol) parsing for SIP message bodies.
//!
//! # Contract
//!
//! * [`parse_sdp`] takes one SDP body (RFC 8866, which obsoletes RFC 4566) as
//!   raw bytes and returns an [`Sdp`] whose every text field is a `&'a [u8]`
//!   slice of that body: nothing is copied or decoded, so the caller decides
//!   how (and whether) to turn bytes into text.
//! * It fails only when the input is not SDP at all: [`SdpError::Empty`] for
//!   an empty/blank body, [`SdpError::NotSdp`] when the first non-blank line
//!   is not `v=`. Everything after that is lenient: CRLF, LF-only or CR-only
//!   line ends, blank lines, surrounding whitespace, fields out of order and
//!   unknown or malformed lines are all accepted and *counted*
//!   ([`Sdp::unknown_lines`], [`Sdp::bad_lines`]) rather than rejected,
//!   because a passive analyzer must describe what was on the wire, not
//!   police it.
//! * Direction follows RFC 3264 offer/answer: a media-level
//!   `a=sendrecv|sendonly|recvonly|inactive` overrides the session-level one,
//!   the default is `sendrecv`. See [`Media::effective_direction`] for how
//!   port 0 and `c=0.0.0.0` (a hold unless ICE is in use) are folded in.
//! * `a=rtcp:` is read per RFC 3605, `a=rtcp-mux` per RFC 5761, `a=crypto`
//!   (RFC 4568 SDES) and `a=fingerprint` (RFC 8122 DTLS) mark media as
//!   encrypted, and static payload types come from RFC 3551 tables 4 and 5
//!   ([`static_payload`]).
//! * [`sdp_parts`] picks the SDP body (or bodies) out of a SIP body given its
//!   `Content-Type`, walking RFC 2046 `multipart/*` bodies (such as the
//!   SIP-T `application/sdp` + `application/isup` bodies of RFC 3204), one
//!   nested multipart level deep.
//! * No `unsafe`, and no input makes any function here panic; memory use is
//!   linear in the input size.
#![forbid(unsafe_code)]

use std::fmt;
use std::net::IpAddr;

/// Why a body could not be treated as SDP at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SdpError {
    /// The first non-blank line is not a `v=` line.
    NotSdp,
    /// The body is empty or contains only whitespace.
    Empty,
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SdpError::NotSdp => "body is not SDP (no leading v= line)",
            SdpError::Empty => "SDP body is empty",
        })
    }
}

impl std::error::Error for SdpError {}

/// A parsed session description. Everything borrows from the body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sdp<'a> {
    /// `o=` line, if present and well formed.
    pub origin: Option<Origin<'a>>,
    /// `s=` value (may be empty or `-`).
    pub session_name: Option<&'a [u8]>,
    /// Session-level `c=`; applies to every media section without its own.
    pub connection: Option<Connection<'a>>,
    /// Session-level direction attribute.
    pub direction: Option<Direction>,
    /// Media sections in body order (their index is the RFC 3264 m-line index).
    pub media: Vec<Media<'a>>,
    /// Lines that are not `<letter>=<value>` or whose type letter RFC 8866
    /// does not define. Known fields this module has no use for (`t=`,
    /// `b=`, `a=extmap`, ...) are valid SDP and are not counted.
    pub unknown_lines: u32,
    /// Lines of a field this module interprets (`o=`, `c=`, `m=`,
    /// `a=rtpmap`, ...) whose value failed to parse, plus repeated
    /// `v=`/`o=`/`s=` lines. The lines of a media section whose `m=` line is
    /// bad are skipped (not attributed to the session) and not counted again.
    pub bad_lines: u32,
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Origin<'a> {
    /// May contain spaces: some agents put them there, and since the other
    /// five fields cannot, everything before them is taken as the username.
    pub username: &'a [u8],
    pub session_id: &'a [u8],
    /// Incremented by the author on every change of the session; an
    /// unchanged version in a re-INVITE means "no change" (RFC 3264 §8).
    pub version: &'a [u8],
    /// `IN` in practice.
    pub net_type: &'a [u8],
    /// `IP4` / `IP6`.
    pub addr_type: &'a [u8],
    /// As written, e.g. an IPv6 address may appear in brackets.
    pub addr: &'a [u8],
}

/// `c=<nettype> <addrtype> <connection-address>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Connection<'a> {
    /// `IP4` / `IP6`.
    pub addr_type: &'a [u8],
    /// As written, including any multicast `/ttl[/count]` suffix.
    pub addr: &'a [u8],
    /// `addr` without the `/...` suffix (and brackets), parsed; `None` for
    /// FQDNs and garbage.
    pub ip: Option<IpAddr>,
}

impl Connection<'_> {
    /// `0.0.0.0` (or `::`): RFC 3264 §6.1/§8.4, "send no media to me".
    pub fn is_unspecified(&self) -> bool {
        self.ip.is_some_and(|ip| ip.is_unspecified())
    }
}

/// Stream direction from the point of view of the SDP's author (RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    /// Maps an attribute name (any case) to a direction.
    pub fn from_attribute(name: &[u8]) -> Option<Direction> {
        [
            (&b"sendrecv"[..], Direction::SendRecv),
            (b"sendonly", Direction::SendOnly),
            (b"recvonly", Direction::RecvOnly),
            (b"inactive", Direction::Inactive),
        ]
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, d)| d)
    }

    /// The attribute name as it is written in SDP.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Whether the author intends to send media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the author is willing to receive media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The same stream seen from the other end: what an answer mirrors
    /// (RFC 3264 §6.1: sendonly is answered recvonly and vice versa).
    pub fn reversed(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }

    /// This direction with receiving switched off.
    fn without_receive(self) -> Direction {
        match self {
            Direction::SendRecv => Direction::SendOnly,
            Direction::RecvOnly => Direction::Inactive,
            d => d,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `m=` section with the attributes an analyzer needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Media<'a> {
    /// `audio`, `video`, `image`, `application`, ...
    pub kind: &'a [u8],
    /// 0 means the stream is rejected/disabled (RFC 3264 §5.1, §6).
    pub port: u16,
    /// The `/<n>` of `m=audio 49170/2 ...`; 1 when absent.
    pub port_count: u16,
    /// `RTP/AVP`, `RTP/SAVP`, `RTP/AVPF`, `UDP/TLS/RTP/SAVPF`, `udptl`, ...
    pub proto: &'a [u8],
    /// Payload types for RTP, opaque tokens (e.g. `t38`) otherwise.
    pub formats: Vec<&'a [u8]>,
    /// Media-level `c=` (overrides the session-level one).
    pub connection: Option<Connection<'a>>,
    /// `a=rtpmap:` lines in body order.
    pub rtpmap: Vec<RtpMap<'a>>,
    /// `a=fmtp:<fmt> <params>` for numeric formats; `params` may be empty.
    pub fmtp: Vec<(u8, &'a [u8])>,
    /// Media-level direction attribute (the last one wins).
    pub direction: Option<Direction>,
    pub ptime: Option<u32>,
    pub maxptime: Option<u32>,
    /// RFC 3605 `a=rtcp:<port>`; RTCP is on `port + 1` when absent.
    pub rtcp_port: Option<u16>,
    /// RFC 5761 `a=rtcp-mux`.
    pub rtcp_mux: bool,
    /// `a=crypto` (SDES) here, or `a=fingerprint` (DTLS) here or at session
    /// level, where RFC 8122 makes it apply to every media section.
    pub crypto: bool,
    /// RFC 8843 `a=bundle-only`: port 0 then means "bundled", not "disabled".
    pub bundle_only: bool,
    /// ICE in use (`a=ice-*` or `a=candidate` here, or `a=ice-*` at session
    /// level): media then goes to the candidates, and `c=0.0.0.0` with port
    /// 9 is ICE's placeholder (RFC 8840), not a hold.
    pub ice: bool,
}

/// `a=rtpmap:<pt> <encoding>/<clock>[/<channels>]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RtpMap<'a> {
    /// 0..=127 (RTP payload types are 7 bits).
    pub pt: u8,
    /// As written; encoding names are case-insensitive (RFC 4855 §3).
    pub encoding: &'a [u8],
    pub clock_rate: u32,
    pub channels: Option<u8>,
}

impl<'a> Media<'a> {
    /// The `c=` that applies: media-level, else session-level.
    pub fn effective_connection<'s>(&'s self, session: &'s Sdp<'a>) -> Option<&'s Connection<'a>> {
        self.connection.as_ref().or(session.connection.as_ref())
    }

    /// Port 0 without `a=bundle-only`: the stream is rejected or removed and
    /// no media flows either way (RFC 3264 §5.1, §6, §8.2).
    pub fn is_disabled(&self) -> bool {
        self.port == 0 && !self.bundle_only
    }

    /// The direction in force for this stream, from the SDP author's side.
    ///
    /// Rule: a disabled stream ([`Media::is_disabled`]) is `Inactive`.
    /// Otherwise the media-level attribute, else the session-level one,
    /// else `sendrecv` (RFC 3264 §5.1). Then, if the effective `c=` is
    /// `0.0.0.0` (or `::`) and the stream does not use ICE
    /// ([`Media::ice`]), receiving is switched off: RFC 3264 §6.1 says such
    /// an address means "send me nothing", which is how RFC 2543 agents put
    /// a call on hold (§8.4). So `sendrecv` becomes `sendonly` and
    /// `recvonly` becomes `inactive`.
    pub fn effective_direction(&self, session: &Sdp<'a>) -> Direction {
        if self.is_disabled() {
            return Direction::Inactive;
        }
        let dir = self
            .direction
            .or(session.direction)
            .unwrap_or(Direction::SendRecv);
        match self.effective_connection(session) {
            Some(c) if c.is_unspecified() && !self.ice => dir.without_receive(),
            _ => dir,
        }
    }

    /// True when the author is not receiving media on this stream: its
    /// [`effective_direction`](Media::effective_direction) is `sendonly` or
    /// `inactive`, which covers `c=0.0.0.0` (without ICE) and port 0 too.
    pub fn is_hold(&self, session: &Sdp<'a>) -> bool {
        matches!(
            self.effective_direction(session),
            Direction::SendOnly | Direction::Inactive
        )
    }

    /// Whether `proto` is an RTP profile, i.e. whether formats are payload
    /// types at all.
    pub fn is_rtp(&self) -> bool {
        contains_ignore_case(self.proto, b"RTP")
    }

    /// Encoding name and RTP clock rate for a payload type: from
    /// `a=rtpmap` if present, else from the RFC 3551 static table (only for
    /// RTP profiles, since for e.g. `udptl` a number is not a payload type).
    pub fn codec(&self, pt: u8) -> Option<(&'a [u8], u32)> {
        if let Some(m) = self.rtpmap.iter().find(|m| m.pt == pt) {
            return Some((m.encoding, m.clock_rate));
        }
        if !self.is_rtp() {
            return None;
        }
        static_payload(pt).map(|(name, clock)| (name.as_bytes(), clock))
    }

    /// The `a=fmtp` parameters for a format, if any.
    pub fn fmtp_for(&self, pt: u8) -> Option<&'a [u8]> {
        self.fmtp.iter().find(|(p, _)| *p == pt).map(|(_, v)| *v)
    }
}

/// RFC 3551 tables 4 (audio) and 5 (video): encoding name and RTP clock rate
/// of the statically assigned payload types. G722 is 8000 because its RTP
/// clock was frozen at 8 kHz by mistake although it samples at 16 kHz.
pub fn static_payload(pt: u8) -> Option<(&'static str, u32)> {
    Some(match pt {
        0 => ("PCMU", 8000),
        3 => ("GSM", 8000),
        4 => ("G723", 8000),
        5 => ("DVI4", 8000),
        6 => ("DVI4", 16000),
        7 => ("LPC", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        10 | 11 => ("L16", 44100),
        12 => ("QCELP", 8000),
        13 => ("CN", 8000),
        14 => ("MPA", 90000),
        15 => ("G728", 8000),
        16 => ("DVI4", 11025),
        17 => ("DVI4", 22050),
        18 => ("G729", 8000),
        25 => ("CelB", 90000),
        26 => ("JPEG", 90000),
        28 => ("nv", 90000),
        31 => ("H261", 90000),
        32 => ("MPV", 90000),
        33 => ("MP2T", 90000),
        34 => ("H263", 90000),
        _ => return None,
    })
}

/// Where the lines being read belong.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Session,
    Media,
    /// After an `m=` line that failed to parse: its attributes must not
    /// leak into the session or the previous media section.
    SkippedMedia,
}

/// Parses one SDP body. Errors only if it is not SDP at all; see the module
/// documentation for what is tolerated.
/// The pieces of `body` between CRs and LFs, as `split` on either gives them (an empty piece
/// between a CR and its LF included), found with memchr: a per-byte test cost about a tenth of
/// each SDP's parse (callgrind).
fn lines_cr_or_lf(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(body);
    std::iter::from_fn(move || {
        let r = rest?;
        match memchr::memchr2(b'\n', b'\r', r) {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

pub fn parse_sdp(body: &[u8]) -> Result<Sdp<'_>, SdpError> {
    // Splitting on CR and LF alike and dropping blank lines handles CRLF,
    // LF-only and CR-only bodies the same way.
    let mut lines = lines_cr_or_lf(body).map(trim).filter(|l| !l.is_empty());
    let first = lines.next().ok_or(SdpError::Empty)?;
    let version = first.strip_prefix(b"v=").ok_or(SdpError::NotSdp)?;

    let mut sdp = Sdp::default();
    if trim(version) != b"0" {
        sdp.bad_lines += 1;
    }
    let mut section = Section::Session;
    let mut session_flags = SessionFlags::default();

    for line in lines {
        let Some((kind, value)) = split_field(line) else {
            sdp.unknown_lines += 1;
            continue;
        };
        if kind == b'm' {
            match parse_media_line(value) {
                Some(m) => {
                    sdp.media.push(m);
                    section = Section::Media;
                }
                None => {
                    sdp.bad_lines += 1;
                    section = Section::SkippedMedia;
                }
            }
            continue;
        }
        if section == Section::SkippedMedia {
            continue;
        }
        let media = match section {
            Section::Media => sdp.media.last_mut(),
            _ => None,
        };
        let ok = match kind {
            b'v' => false,
            b'o' => {
                let o = parse_origin(value);
                let fresh = sdp.origin.is_none() && o.is_some();
                if fresh {
                    sdp.origin = o;
                }
                fresh
            }
            b's' => {
                let fresh = sdp.session_name.is_none();
                if fresh {
                    sdp.session_name = Some(value);
                }
                fresh
            }
            b'c' => match parse_connection(value) {
                Some(c) => {
                    let slot = match media {
                        Some(m) => &mut m.connection,
                        None => &mut sdp.connection,
                    };
                    // RFC 8866 allows several c= per media (layered
                    // multicast); the first is the one unicast RTP uses.
                    if slot.is_none() {
                        *slot = Some(c);
                    }
                    true
                }
                None => false,
            },
            b'a' => {
                let (name, val) = split_attribute(value);
                match media {
                    Some(m) => media_attribute(m, name, val),
                    None => session_attribute(&mut sdp, &mut session_flags, name, val),
                }
            }
            // Defined by RFC 8866 but of no use to this analyzer.
            b'i' | b'u' | b'e' | b'p' | b'b' | b't' | b'r' | b'z' | b'k' => true,
            _ => {
                sdp.unknown_lines += 1;
                true
            }
        };
        if !ok {
            sdp.bad_lines += 1;
        }
    }

    for m in &mut sdp.media {
        m.crypto |= session_flags.fingerprint;
        m.ice |= session_flags.ice;
    }
    Ok(sdp)
}

/// Session-level attributes that RFC 8122 / RFC 8839 make apply to every
/// media section; applied once all sections are known.
#[derive(Default)]
struct SessionFlags {
    fingerprint: bool,
    ice: bool,
}

/// Applies a session-level attribute; returns false if it is malformed.
fn session_attribute(
    sdp: &mut Sdp<'_>,
    flags: &mut SessionFlags,
    name: &[u8],
    val: Option<&[u8]>,
) -> bool {
    if let Some(d) = Direction::from_attribute(name) {
        sdp.direction = Some(d);
        return val.is_none();
    }
    if name.eq_ignore_ascii_case(b"fingerprint") {
        let ok = val.is_some_and(|v| !v.is_empty());
        flags.fingerprint |= ok;
        return ok;
    }
    flags.ice |= starts_with_ignore_case(name, b"ice-");
    true
}

/// Applies a media-level attribute; returns false if it is malformed.
fn media_attribute<'a>(m: &mut Media<'a>, name: &[u8], val: Option<&'a [u8]>) -> bool {
    let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
    if let Some(d) = Direction::from_attribute(name) {
        m.direction = Some(d);
        return val.is_none();
    }
    if is(b"rtcp-mux") {
        m.rtcp_mux = true;
        return val.is_none();
    }
    if is(b"bundle-only") {
        m.bundle_only = true;
        return val.is_none();
    }
    if is(b"candidate") || starts_with_ignore_case(name, b"ice-") {
        m.ice = true;
        return true;
    }
    // The remaining attributes we interpret all need a value.
    let known = [
        &b"rtpmap"[..],
        b"fmtp",
        b"ptime",
        b"maxptime",
        b"rtcp",
        b"crypto",
        b"fingerprint",
    ];
    if !known.iter().any(|k| is(k)) {
        return true;
    }
    let Some(val) = val.filter(|v| !v.is_empty()) else {
        return false;
    };
    if is(b"rtpmap") {
        parse_rtpmap(val).map(|r| m.rtpmap.push(r)).is_some()
    } else if is(b"fmtp") {
        let (fmt, params) = split_first_token(val);
        match parse_u8(fmt) {
            Some(pt) => {
                m.fmtp.push((pt, params));
                true
            }
            // Non-numeric formats are legitimate outside RTP (e.g. SCTP
            // "webrtc-datachannel"); inside RTP they are broken.
            None => !m.is_rtp(),
        }
    } else if is(b"ptime") {
        m.ptime = parse_ms(val);
        m.ptime.is_some()
    } else if is(b"maxptime") {
        m.maxptime = parse_ms(val);
        m.maxptime.is_some()
    } else if is(b"rtcp") {
        m.rtcp_port = parse_u16(split_first_token(val).0);
        m.rtcp_port.is_some()
    } else {
        // crypto / fingerprint: presence is all an analyzer needs, and the
        // keys must not be kept around anyway.
        m.crypto = true;
        true
    }
}

/// `<type>=<value>` with a lowercase type letter (RFC 8866 §5).
fn split_field(line: &[u8]) -> Option<(u8, &[u8])> {
    match line {
        [kind, b'=', value @ ..] if kind.is_ascii_lowercase() => Some((*kind, trim(value))),
        _ => None,
    }
}

/// `name[:value]`, both trimmed.
fn split_attribute(a: &[u8]) -> (&[u8], Option<&[u8]>) {
    match a.iter().position(|&b| b == b':') {
        Some(i) => (trim(&a[..i]), Some(trim(&a[i + 1..]))),
        None => (trim(a), None),
    }
}

fn parse_media_line(v: &[u8]) -> Option<Media<'_>> {
    let mut toks = tokens(v);
    let kind = toks.next()?;
    let port = toks.next()?;
    let (port, port_count) = match split_once(port, b'/') {
        Some((p, n)) => (parse_u16(p)?, parse_u16(n)?),
        None => (parse_u16(port)?, 1),
    };
    let proto = toks.next()?;
    Some(Media {
        kind,
        port,
        port_count,
        proto,
        formats: toks.collect(),
        ..Media::default()
    })
}

fn parse_origin(v: &[u8]) -> Option<Origin<'_>> {
    // Peel the five space-free fields off the end; what is left is the
    // username, which is thereby allowed to contain spaces.
    let (rest, addr) = rsplit_token(v)?;
    let (rest, addr_type) = rsplit_token(rest)?;
    let (rest, net_type) = rsplit_token(rest)?;
    let (rest, version) = rsplit_token(rest)?;
    let (username, session_id) = rsplit_token(rest)?;
    if username.is_empty() {
        return None;
    }
    Some(Origin {
        username,
        session_id,
        version,
        net_type,
        addr_type,
        addr,
    })
}

fn parse_connection(v: &[u8]) -> Option<Connection<'_>> {
    let mut toks = tokens(v);
    let _net_type = toks.next()?;
    let addr_type = toks.next()?;
    let addr = toks.next()?;
    let host = split_once(addr, b'/').map_or(addr, |(h, _)| h);
    let host = host
        .strip_prefix(b"[")
        .and_then(|h| h.strip_suffix(b"]"))
        .unwrap_or(host);
    let ip = std::str::from_utf8(host).ok().and_then(|s| s.parse().ok());
    Some(Connection {
        addr_type,
        addr,
        ip,
    })
}

fn parse_rtpmap(v: &[u8]) -> Option<RtpMap<'_>> {
    let (pt, rest) = split_first_token(v);
    let pt = parse_u8(pt).filter(|&p| p <= 127)?;
    let mut parts = rest.split(|&b| b == b'/');
    let encoding = parts.next().map(trim).filter(|e| !e.is_empty())?;
    let clock_rate = parse_u32(parts.next()?)?;
    let channels = match parts.next() {
        Some(c) => Some(parse_u8(c)?),
        None => None,
    };
    Some(RtpMap {
        pt,
        encoding,
        clock_rate,
        channels,
    })
}

/// Milliseconds; a fractional part (`a=ptime:20.0`, seen in the wild) is
/// truncated.
fn parse_ms(v: &[u8]) -> Option<u32> {
    match split_once(v, b'.') {
        Some((int, frac)) if frac.iter().all(u8::is_ascii_digit) => parse_u32(int),
        Some(_) => None,
        None => parse_u32(v),
    }
}

/// Whether `b` is SDP/MIME inline whitespace.
fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|&b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    s.get(start..end).unwrap_or_default()
}

/// Whitespace-separated tokens (runs of spaces/tabs count as one).
fn tokens(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| is_ws(b)).filter(|t| !t.is_empty())
}

/// First token and the trimmed remainder.
fn split_first_token(v: &[u8]) -> (&[u8], &[u8]) {
    let v = trim(v);
    match v.iter().position(|&b| is_ws(b)) {
        Some(i) => (&v[..i], trim(&v[i..])),
        None => (v, &[]),
    }
}

/// Trimmed remainder and last token; `None` if there is no second token.
fn rsplit_token(v: &[u8]) -> Option<(&[u8], &[u8])> {
    let v = trim(v);
    let i = v.iter().rposition(|&b| is_ws(b))?;
    Some((trim(&v[..i]), &v[i + 1..]))
}

fn split_once(v: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = v.iter().position(|&b| b == sep)?;
    Some((&v[..i], &v[i + 1..]))
}

fn parse_u32(v: &[u8]) -> Option<u32> {
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(0u32, |acc, &b| {
        let d = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        acc.checked_mul(10)?.checked_add(u32::from(d))
    })
}

fn parse_u16(v: &[u8]) -> Option<u16> {
    parse_u32(v).and_then(|n| u16::try_from(n).ok())
}

fn parse_u8(v: &[u8]) -> Option<u8> {
    parse_u32(v).and_then(|n| u8::try_from(n).ok())
}

fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// How deep `multipart/*` bodies are followed: the top level plus one
/// nested level (e.g. `multipart/alternative` inside `multipart/mixed`),
/// which is all SIP uses, and which bounds the work on hostile input.
const MAX_MULTIPART_DEPTH: u8 = 2;

/// Returns the SDP part(s) of a SIP body.
///
/// `content_type` is the Content-Type header *value* (any case, parameters
/// and quoted boundary allowed). For `application/sdp` that is the whole
/// body (unless blank); for `multipart/*` it is the content of each part
/// whose own Content-Type is `application/sdp`, found by RFC 2046 rules
/// (delimiter lines `--boundary`, the line break before a delimiter belongs
/// to it, preamble and epilogue ignored, a missing close delimiter
/// tolerated). Parts with a Content-Transfer-Encoding other than
/// 7bit/8bit/binary are skipped, since they cannot be used without
/// decoding. Anything else yields no parts.
pub fn sdp_parts<'a>(content_type: &[u8], body: &'a [u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    collect_sdp_parts(content_type, body, 0, &mut out);
    out
}

fn collect_sdp_parts<'a>(content_type: &[u8], body: &'a [u8], depth: u8, out: &mut Vec<&'a [u8]>) {
    let (media_type, params) = split_content_type(content_type);
    if media_type.eq_ignore_ascii_case(b"application/sdp") {
        if !trim(body).is_empty() {
            out.push(body);
        }
        return;
    }
    if depth >= MAX_MULTIPART_DEPTH || !starts_with_ignore_case(media_type, b"multipart/") {
        return;
    }
    let Some(boundary) = mime_param(params, b"boundary").filter(|b| !b.is_empty()) else {
        return;
    };
    for part in multipart_parts(body, boundary) {
        let (headers, content) = split_part(part);
        // RFC 2046 §5.1: a part without Content-Type is text/plain.
        let ct = header_value(headers, b"content-type").unwrap_or(b"text/plain");
        let identity = header_value(headers, b"content-transfer-encoding").is_none_or(|e| {
            [&b"7bit"[..], b"8bit", b"binary"]
                .iter()
                .any(|x| x.eq_ignore_ascii_case(e))
        });
        if identity {
            collect_sdp_parts(ct, content, depth + 1, out);
        }
    }
}

/// `type/subtype` (trimmed) and the parameter string after the first `;`.
fn split_content_type(ct: &[u8]) -> (&[u8], &[u8]) {
    match split_once(ct, b';') {
        Some((t, p)) => (trim(t), p),
        None => (trim(ct), &[]),
    }
}

/// Value of a `;name=value` parameter (name any case, value possibly
/// quoted; quotes are removed but escapes are not undone, which is fine
/// for boundaries since RFC 2046 bchars exclude `\` and `"`).
fn mime_param<'p>(mut params: &'p [u8], name: &[u8]) -> Option<&'p [u8]> {
    loop {
        params = trim_start(params);
        let eq = params.iter().position(|&b| b == b'=' || b == b';')?;
        let pname = trim(&params[..eq]);
        let after = &params[eq + 1..];
        if params[eq] == b';' {
            // A valueless parameter: skip it.
            params = after;
            continue;
        }
        let after = trim_start(after);
        let (value, rest) = if let Some(q) = after.strip_prefix(b"\"") {
            let end = quoted_end(q);
            let rest = q.get(end + 1..).unwrap_or_default();
            let rest = split_once(rest, b';').map_or(&[][..], |(_, r)| r);
            (&q[..end], rest)
        } else {
            match split_once(after, b';') {
                Some((v, r)) => (trim(v), r),
                None => (trim(after), &[][..]),
            }
        };
        if pname.eq_ignore_ascii_case(name) {
            return Some(value);
        }
        params = rest;
    }
}

/// Index of the closing quote in `q` (which starts after the opening one),
/// honouring backslash escapes; `q.len()` if unterminated.
fn quoted_end(q: &[u8]) -> usize {
    let mut i = 0;
    while i < q.len() {
        match q[i] {
            b'\\' => i += 2,
            b'"' => return i,
            _ => i += 1,
        }
    }
    q.len()
}

fn trim_start(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|&b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    &s[start..]
}

/// The raw parts (headers + content) between RFC 2046 delimiter lines.
fn multipart_parts<'a>(body: &'a [u8], boundary: &[u8]) -> Vec<&'a [u8]> {
    let mut delimiter = Vec::with_capacity(boundary.len() + 2);
    delimiter.extend_from_slice(b"--");
    delimiter.extend_from_slice(boundary);
    let mut parts = Vec::new();
    let mut part_start: Option<usize> = None;
    for at in memchr::memmem::find_iter(body, &delimiter) {
        // A delimiter only counts at the start of a line.
        if at > 0 && body.get(at - 1) != Some(&b'\n') {
            continue;
        }
        let after = at + delimiter.len();
        let rest = body.get(after..).unwrap_or_default();
        let is_close = rest.starts_with(b"--");
        let line_len = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
        // Only transport padding may follow an ordinary delimiter; anything
        // else means this was a longer boundary that shares our prefix.
        if !is_close && !trim(&rest[..line_len]).is_empty() {
            continue;
        }
        if let Some(start) = part_start {
            let mut end = at;
            // The line break before the delimiter belongs to it.
            if end > start && body.get(end - 1) == Some(&b'\n') {
                end -= 1;
                if end > start && body.get(end - 1) == Some(&b'\r') {
                    end -= 1;
                }
            }
            if let Some(p) = body.get(start..end) {
                parts.push(p);
            }
        }
        if is_close {
            return parts;
        }
        part_start = Some(after + line_len);
    }
    // No close delimiter (e.g. a truncated capture): keep what we have.
    if let Some(p) = part_start.and_then(|s| body.get(s..)) {
        if !p.is_empty() {
            parts.push(p);
        }
    }
    parts
}

/// Splits a body part at its first blank line into headers and content.
/// A part that starts with a blank line has no headers (RFC 2046 §5.1.1);
/// one without any blank line is all headers.
fn split_part(part: &[u8]) -> (&[u8], &[u8]) {
    let mut pos = 0;
    while pos <= part.len() {
        let rest = part.get(pos..).unwrap_or_default();
        let line_len = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
        let line = rest.get(..line_len).unwrap_or_default();
        if line.iter().all(|&b| b == b'\r' || b == b'\n') {
            let headers = part.get(..pos).unwrap_or_default();
            let content = part.get(pos + line_len..).unwrap_or_default();
            return (headers, content);
        }
        pos += line_len;
    }
    (part, &[])
}

/// First header `name: value` in a part's header block (name any case).
fn header_value<'h>(headers: &'h [u8], name: &[u8]) -> Option<&'h [u8]> {
    headers
        .split(|&b| b == b'\n')
        .filter_map(|line| split_once(line, b':'))
        .find(|(n, _)| trim(n).eq_ignore_ascii_case(name))
        .map(|(_, v)| trim(v))
}

/// A one-line summary of the SDP in a message body, for ladders and tables:
/// `audio 10.0.0.1:4000 PCMU,PCMA,telephone-event sendrecv` per media line (an IPv6 address
/// in brackets: `audio [2001:db8::1]:4000 …`), joined by `; `.
/// None when the body carries no SDP.
pub fn summary(content_type: &[u8], body: &[u8]) -> Option<String> {
    let mut out: Vec<String> = Vec::new();
    for part in sdp_parts(content_type, body) {
        let Ok(sdp) = parse_sdp(part) else { continue };
        summarize(&sdp, &mut out);
    }
    (!out.is_empty()).then(|| out.join("; "))
}

/// The [`summary`] lines of one parsed SDP, one per media line, added to `out` (for a caller
/// that parsed the SDP already and joins the lines with `; `).
pub fn summarize(sdp: &Sdp<'_>, out: &mut Vec<String>) {
    use std::fmt::Write;
    // Written straight into the line: one allocation a media line (this runs for every offer and
    // answer of a signalling-heavy run).
    fn push_lossy(out: &mut String, b: &[u8]) {
        match std::str::from_utf8(b) {
            Ok(t) => out.push_str(t),
            Err(_) => out.push_str(&String::from_utf8_lossy(b)),
        }
    }
    for m in &sdp.media {
        let mut line = String::with_capacity(64);
        push_lossy(&mut line, m.kind);
        line.push(' ');
        match m.effective_connection(sdp) {
            // An IPv6 address in brackets, so its port reads apart from it (RFC 3986 style).
            Some(c) if c.addr.contains(&b':') => {
                line.push('[');
                push_lossy(&mut line, c.addr);
                line.push(']');
            }
            Some(c) => push_lossy(&mut line, c.addr),
            None => line.push('?'),
        }
        let _ = write!(line, ":{} ", m.port);
        let mut first = true;
        for f in &m.formats {
            let Some(pt) = std::str::from_utf8(f)
                .ok()
                .and_then(|t| t.parse::<u8>().ok())
            else {
                continue;
            };
            if !first {
                line.push(',');
            }
            first = false;
            match m.codec(pt) {
                Some((enc, _)) => push_lossy(&mut line, enc),
                None => {
                    let _ = write!(line, "{pt}");
                }
            }
        }
        line.push(' ');
        line.push_str(m.effective_direction(sdp).as_str());
        out.push(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_the_split_on_cr_and_lf() {
        let bodies: [&[u8]; 7] = [
            b"",
            b"v=0",
            b"v=0\r\no=- 1 1 IN IP4 a\r\n",
            b"v=0\no=x\rs=y\r\r\n\nt=0 0",
            b"\r\n",
            b"\n\nv=0\n",
            b"a\r",
        ];
        for b in bodies {
            let want: Vec<&[u8]> = b.split(|&c| c == b'\n' || c == b'\r').collect();
            assert_eq!(lines_cr_or_lf(b).collect::<Vec<_>>(), want);
        }
    }
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn summary_brackets_an_ipv6_address() {
        // irontec_sngrep/ipv6frag.pcap's INVITE: "fd17:…:1521:15062" read as one address.
        let body = b"v=0\r\no=- 1 1 IN IP6 fd17:625c:f037:2:a00:27ff:feb9:1521\r\ns=-\r\n\
            c=IN IP6 fd17:625c:f037:2:a00:27ff:feb9:1521\r\nt=0 0\r\n\
            m=audio 15062 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
        assert_eq!(
            summary(b"application/sdp", body).as_deref(),
            Some("audio [fd17:625c:f037:2:a00:27ff:feb9:1521]:15062 PCMU sendrecv")
        );
        assert_eq!(
            summary(b"application/sdp", PJMEDIA_200_SPEEX).as_deref(),
            Some("audio 192.168.8.138:4000 speex,speex,speex,iLBC,GSM,PCMU,PCMA,G722,telephone-event sendrecv")
        );
    }

    // Bodies below are copied byte for byte from captures in the project
    // corpus (shared/corpus/pcaps/...), so the assertions check the parser
    // against what real agents send, quirks included.

    /// corpus: goffinet_sip_captures/sip-488-Not-Acceptable-Here-codec-null.pcapng frame 4 (200 OK)
    const PJMEDIA_200_SPEEX: &[u8] = b"v=0\r\n\
        o=- 3775915603 3775915603 IN IP4 192.168.8.138\r\n\
        s=pjmedia\r\n\
        c=IN IP4 192.168.8.138\r\n\
        t=0 0\r\n\
        m=audio 4000 RTP/AVP 98 97 99 104 3 0 8 9 96\r\n\
        a=rtcp:4001 IN IP4 192.168.8.138\r\n\
        a=rtpmap:98 speex/16000\r\n\
        a=rtpmap:97 speex/8000\r\n\
        a=rtpmap:99 speex/32000\r\n\
        a=rtpmap:104 iLBC/8000\r\n\
        a=fmtp:104 mode=30\r\n\
        a=rtpmap:3 GSM/8000\r\n\
        a=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:9 G722/8000\r\n\
        a=sendrecv\r\n\
        a=rtpmap:96 telephone-event/8000\r\n\
        a=fmtp:96 0-15\r\n";

    /// corpus: goffinet_sip_captures/sip-488-Not-Acceptable-Here-codec-null.pcapng frame 7 (re-INVITE)
    const LINPHONE_INACTIVE: &[u8] = b"v=0\r\n\
        o=8801 559 2101 IN IP4 192.168.8.183\r\n\
        s=Talk\r\n\
        c=IN IP4 0.0.0.0\r\n\
        t=0 0\r\n\
        a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r\n\
        m=audio 0 RTP/AVP 0\r\n\
        a=inactive\r\n";

    /// corpus: goffinet_sip_captures/voip1b.pcapng frame 1 (INVITE)
    const LINPHONE_OPUS: &[u8] = b"v=0\r\n\
        o=telephone2 4007 107 IN IP4 172.16.98.182\r\n\
        s=Talk\r\n\
        c=IN IP4 172.16.98.182\r\n\
        t=0 0\r\n\
        m=audio 7078 RTP/AVP 124 111 110 0 8 101\r\n\
        a=rtpmap:124 opus/48000\r\n\
        a=fmtp:124 useinbandfec=1; usedtx=1\r\n\
        a=rtpmap:111 speex/16000\r\n\
        a=fmtp:111 vbr=on\r\n\
        a=rtpmap:110 speex/8000\r\n\
        a=fmtp:110 vbr=on\r\n\
        a=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-11\r\n";

    /// corpus: goffinet_sip_captures/voip1b.pcapng frame 12 (200 OK to re-INVITE)
    const PJMEDIA_REINVITE_200: &[u8] = b"v=0\r\n\
        o=- 3671724804 3671724806 IN IP4 172.16.98.181\r\n\
        s=pjmedia\r\n\
        c=IN IP4 172.16.98.181\r\n\
        t=0 0\r\n\
        a=X-nat:0\r\n\
        m=audio 4006 RTP/AVP 0 96\r\n\
        a=rtcp:4007 IN IP4 172.16.98.181\r\n\
        a=rtpmap:0 PCMU/8000\r\n\
        a=sendrecv\r\n\
        a=rtpmap:96 telephone-event/8000\r\n\
        a=fmtp:96 0-15\r\n";

    /// corpus: aboutsip_pkts/sip_rtp.pcap frame 1 (INVITE)
    const SIPP_PCMU: &[u8] = b"v=0\r\n\
        o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n\
        s=-\r\n\
        c=IN IP4 127.0.0.1\r\n\
        t=0 0\r\n\
        m=audio 6001 RTP/AVP 0\r\n\
        a=rtpmap:0 PCMU/8000\r\n";

    /// corpus: realjimmy_sample-captures/sip-rtp-g711.pcap frame 1 (INVITE)
    const RECVONLY_INVITE: &[u8] = b"v=0\r\n\
        o=- 42 42 IN IP4 10.0.2.20\r\n\
        s=-\r\n\
        c=IN IP4 10.0.2.20\r\n\
        t=0 0\r\n\
        m=audio 6000 RTP/AVP 0\r\n\
        a=rtpmap:0 PCMU/8000\r\n\
        a=recvonly\r\n";

    /// corpus: realjimmy_sample-captures/sip-rtp-g711.pcap frame 4 (200 OK)
    const FREESWITCH_SENDONLY: &[u8] = b"v=0\r\n\
        o=FreeSWITCH 1480144037 1480144038 IN IP4 10.0.2.15\r\n\
        s=FreeSWITCH\r\n\
        c=IN IP4 10.0.2.15\r\n\
        t=0 0\r\n\
        m=audio 27942 RTP/AVP 0 101\r\n\
        a=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-16\r\n\
        a=sendonly\r\n\
        a=ptime:20\r\n";

    /// corpus: lundgrel_sipp-scenarios/sipp_uac_Media_DTMF_Speex.pcap frame 7 (INVITE)
    const SESSION_AND_MEDIA_SENDRECV: &[u8] = b"v=0\r\n\
        o=- 6745093594015371536 1 IN IP4 213.64.235.116\r\n\
        s=-\r\n\
        c=IN IP4 213.64.235.116\r\n\
        t=0 0\r\n\
        a=sendrecv\r\n\
        m=audio 28832 RTP/AVP 8 98\r\n\
        a=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:98 telephone-event/8000\r\n\
        a=fmtp:98 0-15\r\n\
        a=sendrecv\r\n\
        a=ptime:20\r\n";

    /// corpus: goffinet_sip_captures/private-test-sip-2.pcapng frame 11 (INVITE)
    const JITSI_AUDIO_VIDEO: &[u8] = b"v=0\r\n\
        o=telephone2-jitsi.org 0 0 IN IP4 172.16.98.1\r\n\
        s=-\r\n\
        c=IN IP4 172.16.98.1\r\n\
        t=0 0\r\n\
        m=audio 5028 RTP/AVP 96 97 98 9 100 102 0 8 103 3 104 101\r\n\
        a=rtpmap:96 opus/48000/2\r\n\
        a=fmtp:96 usedtx=1\r\n\
        a=rtpmap:97 SILK/24000\r\n\
        a=rtpmap:98 SILK/16000\r\n\
        a=rtpmap:9 G722/8000\r\n\
        a=rtpmap:100 speex/32000\r\n\
        a=rtpmap:102 speex/16000\r\n\
        a=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:103 iLBC/8000\r\n\
        a=rtpmap:3 GSM/8000\r\n\
        a=rtpmap:104 speex/8000\r\n\
        a=rtpmap:101 telephone-event/8000\r\n\
        a=extmap:1 urn:ietf:params:rtp-hdrext:csrc-audio-level\r\n\
        a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
        a=rtcp-xr:voip-metrics\r\n\
        m=video 5030 RTP/AVP 105 99\r\n\
        a=recvonly\r\n\
        a=rtpmap:105 H264/90000\r\n\
        a=fmtp:105 profile-level-id=4DE01f;packetization-mode=1\r\n\
        a=imageattr:105 send * recv [x=[0-1680],y=[0-1050]]\r\n\
        a=rtpmap:99 H264/90000\r\n\
        a=fmtp:99 profile-level-id=4DE01f\r\n\
        a=imageattr:99 send * recv [x=[0-1680],y=[0-1050]]\r\n";

    /// corpus: goffinet_sip_captures/private-test-sip-2.pcapng frame 16 (200 OK)
    const VIDEO_REJECTED: &[u8] = b"v=0\r\n\
        o=- 3671947621 3671947622 IN IP4 172.16.98.181\r\n\
        s=pjmedia\r\n\
        c=IN IP4 172.16.98.181\r\n\
        t=0 0\r\n\
        a=X-nat:0\r\n\
        m=audio 4000 RTP/AVP 9 96\r\n\
        a=rtcp:4001 IN IP4 172.16.98.181\r\n\
        a=rtpmap:9 G722/8000\r\n\
        a=sendrecv\r\n\
        a=rtpmap:96 telephone-event/8000\r\n\
        a=fmtp:96 0-15\r\n\
        m=video 0 RTP/AVP 105 99\r\n";

    /// corpus: irontec_sngrep/ipv6frag.pcap frame 2 (INVITE)
    const SIPP_IPV6_AMR: &[u8] = b"v=0\r\n\
        o=user1 53655765 2353687637 IN IP6 [fd17:625c:f037:2:a00:27ff:feb9:1521]\r\n\
        s=-\r\n\
        c=IN IP6 fd17:625c:f037:2:a00:27ff:feb9:1521\r\n\
        t=0 0\r\n\
        m=audio 15062 RTP/AVP 100 101 0 120 121\r\n\
        a=rtpmap:100 AMR-WB/16000\r\n\
        a=fmtp:100 mode-set=\"0,1,2\";octet-align=0\r\n\
        a=rtpmap:101 AMR-WB/16000\r\n\
        a=fmtp:101 mode-set=\"0,1,2\";octet-align=1\r\n\
        a=rtpmap:110 AMR/8000\r\n\
        a=fmtp:110 mode-set=\"0,1,2\";octet-align=0\r\n\
        a=rtpmap:111 AMR/8000\r\n\
        a=fmtp:111 mode-set=\"0,1,2\";octet-align=1\r\n\
        a=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:120 telephone-event/8000\r\n\
        a=rtpmap:121 telephone-event/16000\r\n\
        a=des:qos mandatory local none\r\n\
        a=des:qos mandatory remote none\r\n\
        a=curr:qos local none\r\n\
        a=curr:qos remote none\r\n";

    /// corpus: realjimmy_sample-captures/DTMFsipinfo.pcap frame 4 (200 OK; last line LF-only)
    const SEMS_MIXED_EOL: &[u8] = b"v=0\r\n\
        o=sems 571581907 833366105 IN IP4 213.192.59.78\r\n\
        s=session\r\n\
        c=IN IP4 213.192.59.78\r\n\
        t=0 0\r\n\
        m=audio 28510 RTP/AVP 8 101\r\n\
        a=rtpmap:8 PCMA/8000/1\r\n\
        a=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-15\r\n\
        m=video 0 RTP/AVP 119\n";

    /// RFC 4568 §9.1 style SDES offer.
    const SDES_OFFER: &[u8] = b"v=0\r\n\
        o=sam 2890844526 2890842807 IN IP4 10.47.16.5\r\n\
        s=SRTP Discussion\r\n\
        i=A discussion of Secure RTP\r\n\
        u=http://www.example.com/seminars/srtp.pdf\r\n\
        e=marge@example.com (Marge Simpson)\r\n\
        c=IN IP4 168.2.17.12\r\n\
        t=2873397496 2873404696\r\n\
        m=audio 49170 RTP/SAVP 0\r\n\
        a=crypto:1 AES_CM_128_HMAC_SHA1_80 \
        inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVzcyAoc2VtZ2V0IC1|2^20|1:4 \
        FEC_ORDER=FEC_SRTP\r\n";

    /// WebRTC-style offer: session-level fingerprint, rtcp-mux, a
    /// bundle-only m-line with port 0, and an SCTP data channel.
    const WEBRTC_OFFER: &[u8] = b"v=0\r\n\
        o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
        s=-\r\n\
        t=0 0\r\n\
        a=group:BUNDLE 0 1 2\r\n\
        a=fingerprint:sha-256 19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:\
        BB:05:2F:70:9F:04:A9:0E:05:E9:26:33:E8:70:88:A2\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\n\
        c=IN IP4 0.0.0.0\r\n\
        a=rtcp:9 IN IP4 0.0.0.0\r\n\
        a=mid:0\r\n\
        a=ice-ufrag:8hhY\r\n\
        a=ice-pwd:asd88fgpdd777uzjYhagZg\r\n\
        a=sendrecv\r\n\
        a=rtcp-mux\r\n\
        a=rtpmap:111 opus/48000/2\r\n\
        a=fmtp:111 minptime=10;useinbandfec=1\r\n\
        m=video 0 UDP/TLS/RTP/SAVPF 96\r\n\
        c=IN IP4 0.0.0.0\r\n\
        a=bundle-only\r\n\
        a=mid:1\r\n\
        a=rtpmap:96 VP8/90000\r\n\
        m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n\
        c=IN IP4 0.0.0.0\r\n\
        a=bundle-only\r\n\
        a=fmtp:webrtc-datachannel max-message-size=262144\r\n\
        a=sctp-port:5000\r\n";

    /// A SIP-T (RFC 3204) style body: SDP plus a binary ISUP IAM whose
    /// bytes include CR, LF, NUL and a `--` that is not a delimiter.
    const SIPT_BODY: &[u8] = b"This is a preamble that MIME readers ignore.\r\n\
        --unique-boundary-1\r\n\
        Content-Type: application/sdp\r\n\
        \r\n\
        v=0\r\n\
        o=Q931-SIPT 2890844526 2890842807 IN IP4 126.16.64.4\r\n\
        s=-\r\n\
        c=IN IP4 126.16.64.4\r\n\
        t=0 0\r\n\
        m=audio 49170 RTP/AVP 0\r\n\
        \r\n\
        --unique-boundary-1\r\n\
        Content-Type: application/ISUP; version=nxv3; base=etsi121\r\n\
        Content-Disposition: signal; handling=optional\r\n\
        \r\n\
        \x01\x00\x49\x00\x00\x03\x02\x00\x07\x04\x10\x00\x33\x63\x21\x43\x00\r\n\
        --\x0d\x0a--unique-boundary-10 not a delimiter\x00\r\n\
        --unique-boundary-1--\r\n\
        epilogue, also ignored\r\n";

    fn sdp(body: &[u8]) -> Sdp<'_> {
        parse_sdp(body).expect("corpus body is SDP")
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
    }

    #[test]
    fn pjmedia_answer_with_many_codecs() {
        let s = sdp(PJMEDIA_200_SPEEX);
        let o = s.origin.unwrap();
        assert_eq!(o.username, b"-");
        assert_eq!(o.session_id, b"3775915603");
        assert_eq!(o.version, b"3775915603");
        assert_eq!(o.net_type, b"IN");
        assert_eq!(o.addr_type, b"IP4");
        assert_eq!(o.addr, b"192.168.8.138");
        assert_eq!(s.session_name, Some(&b"pjmedia"[..]));
        let c = s.connection.unwrap();
        assert_eq!((c.addr_type, c.addr), (&b"IP4"[..], &b"192.168.8.138"[..]));
        assert_eq!(c.ip, v4(192, 168, 8, 138));
        assert_eq!((s.unknown_lines, s.bad_lines), (0, 0));
        assert_eq!(s.direction, None);

        assert_eq!(s.media.len(), 1);
        let m = &s.media[0];
        assert_eq!(m.kind, b"audio");
        assert_eq!((m.port, m.port_count), (4000, 1));
        assert_eq!(m.proto, b"RTP/AVP");
        let fmts: Vec<&[u8]> = vec![b"98", b"97", b"99", b"104", b"3", b"0", b"8", b"9", b"96"];
        assert_eq!(m.formats, fmts);
        assert_eq!(m.connection, None);
        assert_eq!(m.rtcp_port, Some(4001));
        assert!(!m.rtcp_mux && !m.crypto);
        assert_eq!(m.rtpmap.len(), 9);
        assert_eq!(
            m.rtpmap[0],
            RtpMap {
                pt: 98,
                encoding: b"speex",
                clock_rate: 16000,
                channels: None
            }
        );
        assert_eq!(m.fmtp, vec![(104, &b"mode=30"[..]), (96, &b"0-15"[..])]);
        assert_eq!(m.fmtp_for(96), Some(&b"0-15"[..]));
        // a=sendrecv sits between rtpmap lines in this body.
        assert_eq!(m.direction, Some(Direction::SendRecv));
        assert_eq!(m.effective_direction(&s), Direction::SendRecv);
        assert!(!m.is_hold(&s));
        assert_eq!(m.codec(99), Some((&b"speex"[..], 32000)));
        assert_eq!(m.codec(9), Some((&b"G722"[..], 8000)));
        assert_eq!(m.codec(96), Some((&b"telephone-event"[..], 8000)));
        assert_eq!(m.codec(100), None);
        assert_eq!((m.ptime, m.maxptime), (None, None));
    }

    #[test]
    fn rfc2543_hold_with_zero_address_and_port() {
        let s = sdp(LINPHONE_INACTIVE);
        let c = s.connection.unwrap();
        assert_eq!(c.ip, v4(0, 0, 0, 0));
        assert!(c.is_unspecified());
        assert_eq!(s.session_name, Some(&b"Talk"[..]));
        // Session-level a=rtcp-xr is a valid attribute we don't use.
        assert_eq!((s.unknown_lines, s.bad_lines), (0, 0));
        let m = &s.media[0];
        assert_eq!(m.port, 0);
        assert!(m.is_disabled());
        assert_eq!(m.direction, Some(Direction::Inactive));
        assert_eq!(m.effective_direction(&s), Direction::Inactive);
        assert!(m.is_hold(&s));
        assert_eq!(m.codec(0), Some((&b"PCMU"[..], 8000)));
    }

    #[test]
    fn linphone_offer_without_direction_defaults_to_sendrecv() {
        let s = sdp(LINPHONE_OPUS);
        let m = &s.media[0];
        assert_eq!(m.direction, None);
        assert_eq!(s.direction, None);
        assert_eq!(m.effective_direction(&s), Direction::SendRecv);
        assert!(!m.is_hold(&s));
        assert_eq!(m.codec(124), Some((&b"opus"[..], 48000)));
        // No rtpmap for 0 and 8: the static table answers.
        assert_eq!(m.codec(8), Some((&b"PCMA"[..], 8000)));
        assert_eq!(m.fmtp_for(124), Some(&b"useinbandfec=1; usedtx=1"[..]));
        assert_eq!(m.fmtp_for(101), Some(&b"0-11"[..]));
        assert_eq!(s.origin.unwrap().username, b"telephone2");
    }

    #[test]
    fn reinvite_answer_keeps_session_id_and_bumps_version() {
        let first = sdp(PJMEDIA_REINVITE_200);
        let o = first.origin.unwrap();
        assert_eq!(
            (o.session_id, o.version),
            (&b"3671724804"[..], &b"3671724806"[..])
        );
        // a=X-nat is an unknown *attribute*, which is valid SDP.
        assert_eq!((first.unknown_lines, first.bad_lines), (0, 0));
        assert_eq!(first.media[0].rtcp_port, Some(4007));
        assert_eq!(first.media[0].rtpmap.len(), 2);
    }

    #[test]
    fn minimal_sipp_offer() {
        let s = sdp(SIPP_PCMU);
        assert_eq!(s.origin.unwrap().username, b"user1");
        assert_eq!(s.session_name, Some(&b"-"[..]));
        assert_eq!(s.media[0].port, 6001);
        assert_eq!(s.media[0].codec(0), Some((&b"PCMU"[..], 8000)));
        assert_eq!(s.media[0].rtcp_port, None);
    }

    #[test]
    fn recvonly_offer_and_sendonly_answer() {
        let offer = sdp(RECVONLY_INVITE);
        let answer = sdp(FREESWITCH_SENDONLY);
        let (om, am) = (&offer.media[0], &answer.media[0]);
        assert_eq!(om.effective_direction(&offer), Direction::RecvOnly);
        assert!(!om.is_hold(&offer));
        assert_eq!(am.effective_direction(&answer), Direction::SendOnly);
        assert!(am.is_hold(&answer));
        assert_eq!(
            om.effective_direction(&offer).reversed(),
            Direction::SendOnly
        );
        assert_eq!(am.ptime, Some(20));
        assert_eq!(am.port, 27942);
        assert_eq!(answer.session_name, Some(&b"FreeSWITCH"[..]));
        assert_eq!(am.fmtp, vec![(101, &b"0-16"[..])]);
    }

    #[test]
    fn session_and_media_level_direction() {
        let s = sdp(SESSION_AND_MEDIA_SENDRECV);
        assert_eq!(s.direction, Some(Direction::SendRecv));
        assert_eq!(s.media[0].direction, Some(Direction::SendRecv));
        assert_eq!(s.origin.unwrap().session_id, b"6745093594015371536");
        // Media-level overrides session-level.
        let mut held = s.clone();
        held.media[0].direction = Some(Direction::Inactive);
        assert!(held.media[0].is_hold(&held));
        // Session-level applies when the media has none.
        let mut held = s.clone();
        held.direction = Some(Direction::SendOnly);
        held.media[0].direction = None;
        assert_eq!(
            held.media[0].effective_direction(&held),
            Direction::SendOnly
        );
    }

    #[test]
    fn audio_and_video_offer() {
        let s = sdp(JITSI_AUDIO_VIDEO);
        assert_eq!((s.unknown_lines, s.bad_lines), (0, 0));
        assert_eq!(s.media.len(), 2);
        let (a, v) = (&s.media[0], &s.media[1]);
        assert_eq!(a.formats.len(), 12);
        assert_eq!(a.rtpmap[0].channels, Some(2));
        assert_eq!(a.codec(96), Some((&b"opus"[..], 48000)));
        assert_eq!(a.codec(97), Some((&b"SILK"[..], 24000)));
        assert_eq!(a.effective_direction(&s), Direction::SendRecv);
        assert_eq!(v.kind, b"video");
        assert_eq!(v.port, 5030);
        assert_eq!(v.direction, Some(Direction::RecvOnly));
        assert_eq!(v.codec(105), Some((&b"H264"[..], 90000)));
        assert_eq!(
            v.fmtp_for(105),
            Some(&b"profile-level-id=4DE01f;packetization-mode=1"[..])
        );
        assert_eq!(s.origin.unwrap().username, b"telephone2-jitsi.org");
    }

    #[test]
    fn rejected_video_stream() {
        let s = sdp(VIDEO_REJECTED);
        let (a, v) = (&s.media[0], &s.media[1]);
        assert_eq!(a.effective_direction(&s), Direction::SendRecv);
        assert_eq!(a.codec(9), Some((&b"G722"[..], 8000)));
        assert_eq!(v.port, 0);
        assert_eq!(v.formats, vec![&b"105"[..], b"99"]);
        assert!(v.is_disabled());
        assert_eq!(v.effective_direction(&s), Direction::Inactive);
        assert!(v.is_hold(&s));
        // H264 is dynamic and the rejected m-line carries no rtpmap.
        assert_eq!(v.codec(105), None);
    }

    #[test]
    fn ipv6_offer() {
        let s = sdp(SIPP_IPV6_AMR);
        assert_eq!(
            s.origin.unwrap().addr,
            b"[fd17:625c:f037:2:a00:27ff:feb9:1521]"
        );
        let c = s.connection.unwrap();
        assert_eq!(c.addr_type, b"IP6");
        let ip: Ipv6Addr = "fd17:625c:f037:2:a00:27ff:feb9:1521".parse().unwrap();
        assert_eq!(c.ip, Some(IpAddr::V6(ip)));
        let m = &s.media[0];
        assert_eq!(m.codec(100), Some((&b"AMR-WB"[..], 16000)));
        // rtpmap for payload types not offered on the m-line are still kept.
        assert_eq!(m.codec(110), Some((&b"AMR/8000"[..3], 8000)));
        assert_eq!(m.codec(121), Some((&b"telephone-event"[..], 16000)));
        assert_eq!(
            m.fmtp_for(101),
            Some(&b"mode-set=\"0,1,2\";octet-align=1"[..])
        );
        assert_eq!((s.unknown_lines, s.bad_lines), (0, 0));
    }

    #[test]
    fn mixed_line_endings_and_channels() {
        let s = sdp(SEMS_MIXED_EOL);
        assert_eq!(s.media.len(), 2);
        assert_eq!(s.media[0].rtpmap[0].channels, Some(1));
        assert_eq!(s.media[1].proto, b"RTP/AVP");
        assert_eq!(s.media[1].formats, vec![&b"119"[..]]);
        assert!(s.media[1].is_disabled());
        assert_eq!((s.unknown_lines, s.bad_lines), (0, 0));
    }

    #[test]
    fn lf_only_and_cr_only_parse_like_crlf() {
        let crlf = sdp(PJMEDIA_200_SPEEX);
        let lf: Vec<u8> = PJMEDIA_200_SPEEX
            .iter()
            .copied()
            .filter(|&b| b != b'\r')
            .collect();
        assert_eq!(sdp(&lf), crlf);
        let cr: Vec<u8> = PJMEDIA_200_SPEEX
            .iter()
            .copied()
            .filter(|&b| b != b'\n')
            .collect();
        assert_eq!(sdp(&cr), crlf);
        // Trailing whitespace, blank lines and a leading blank line.
        let mut padded = b"\r\n \r\n".to_vec();
        for line in lf.split(|&b| b == b'\n') {
            padded.extend_from_slice(line);
            padded.extend_from_slice(b" \t\r\n\r\n");
        }
        assert_eq!(sdp(&padded), crlf);
    }

    #[test]
    fn sdes_and_extra_session_fields() {
        let s = sdp(SDES_OFFER);
        assert_eq!((s.unknown_lines, s.bad_lines), (0, 0));
        assert_eq!(s.session_name, Some(&b"SRTP Discussion"[..]));
        let m = &s.media[0];
        assert_eq!(m.proto, b"RTP/SAVP");
        assert!(m.crypto);
        assert!(m.is_rtp());
        assert_eq!(m.codec(0), Some((&b"PCMU"[..], 8000)));
    }

    #[test]
    fn webrtc_fingerprint_mux_and_bundle_only() {
        let s = sdp(WEBRTC_OFFER);
        assert_eq!((s.unknown_lines, s.bad_lines), (0, 0));
        assert_eq!(s.media.len(), 3);
        // Session-level fingerprint applies to every m-line.
        assert!(s.media.iter().all(|m| m.crypto));
        let (a, v, d) = (&s.media[0], &s.media[1], &s.media[2]);
        assert!(a.rtcp_mux);
        assert_eq!(a.rtcp_port, Some(9));
        assert_eq!(a.rtpmap[0].channels, Some(2));
        // c=0.0.0.0 is only ICE's placeholder here, not a hold.
        assert!(a.ice && !v.ice);
        assert_eq!(a.effective_direction(&s), Direction::SendRecv);
        assert!(!a.is_hold(&s));
        // Without any ICE attribute the same address would mean hold.
        let mut no_ice = s.clone();
        no_ice.media[0].ice = false;
        assert!(no_ice.media[0].is_hold(&no_ice));
        assert!(v.bundle_only && !v.is_disabled());
        assert_eq!(v.port, 0);
        assert_eq!(d.proto, b"UDP/DTLS/SCTP");
        assert_eq!(d.formats, vec![&b"webrtc-datachannel"[..]]);
        assert!(d.fmtp.is_empty());
        assert!(!d.is_rtp());
        assert_eq!(d.codec(0), None);
    }

    #[test]
    fn zero_address_hold_variants() {
        let body = b"v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
            m=audio 5000 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\n\
            m=audio 5002 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\na=recvonly\r\n\
            m=audio 5004 RTP/AVP 0\r\na=sendrecv\r\n\
            m=audio 5006 RTP/AVP 0\r\nc=IN IP6 ::\r\n";
        let s = sdp(body);
        let dirs: Vec<Direction> = s.media.iter().map(|m| m.effective_direction(&s)).collect();
        use Direction::*;
        assert_eq!(dirs, vec![SendOnly, Inactive, SendRecv, SendOnly]);
        let holds: Vec<bool> = s.media.iter().map(|m| m.is_hold(&s)).collect();
        assert_eq!(holds, vec![true, true, false, true]);
        // Session-level ICE attributes apply to every m-line.
        let trickle = b"v=0\r\ns=-\r\na=ice-options:trickle\r\nc=IN IP4 0.0.0.0\r\n\
            m=audio 9 RTP/AVP 0\r\n";
        let t = sdp(trickle);
        assert!(t.media[0].ice && !t.media[0].is_hold(&t));
        // Media-level c= overrides the session's.
        assert_eq!(
            s.media[2].effective_connection(&s).unwrap().ip,
            v4(10, 0, 0, 1)
        );
        assert_eq!(
            s.media[0].effective_connection(&s).unwrap().ip,
            v4(0, 0, 0, 0)
        );
    }

    #[test]
    fn multicast_fqdn_and_port_ranges() {
        let body = b"v=0\no=jdoe 2890844526 2890842807 IN IP4 10.47.16.5\ns=Seminar\n\
            c=IN IP4 224.2.17.12/127/2\nt=0 0\n\
            m=video 51372/2 RTP/AVP 99\nc=IN IP4 media.example.com\n\
            a=rtpmap:99 h263-1998/90000\na=ptime:20.0\na=maxptime:150\n\
            m=image 9 udptl t38\na=T38FaxVersion:0\n";
        let s = sdp(body);
        let c = s.connection.unwrap();
        assert_eq!(c.addr, b"224.2.17.12/127/2");
        assert_eq!(c.ip, v4(224, 2, 17, 12));
        let v = &s.media[0];
        assert_eq!((v.port, v.port_count), (51372, 2));
        assert_eq!(v.connection.unwrap().ip, None);
        assert_eq!(v.connection.unwrap().addr, b"media.example.com");
        assert_eq!((v.ptime, v.maxptime), (Some(20), Some(150)));
        let t38 = &s.media[1];
        assert_eq!((t38.kind, t38.proto), (&b"image"[..], &b"udptl"[..]));
        assert_eq!(t38.codec(0), None);
        assert_eq!((s.unknown_lines, s.bad_lines), (0, 0));
    }

    #[test]
    fn lenient_counts() {
        let body = b"\r\n\r\nv=0\r\n\
            o=only three fields\r\n\
            o=alice with spaces 1 2 IN IP4 192.0.2.1\r\n\
            s=first\r\n\
            s=second\r\n\
            garbage line\r\n\
            X=upper case type\r\n\
            y=undefined type\r\n\
            c=IN IP4\r\n\
            a=sendonly:extra\r\n\
            v=0\r\n\
            m=audio 70000 RTP/AVP 0\r\n\
            a=rtpmap:0 PCMU/8000\r\n\
            c=IN IP4 192.0.2.9\r\n\
            m=audio 4000 RTP/AVP 0 8 96\r\n\
            a=rtpmap:96\r\n\
            a=rtpmap:200 foo/8000\r\n\
            a=rtpmap:96 telephone-event/x\r\n\
            a=rtpmap:8 PCMA/8000/300\r\n\
            a=fmtp:abc x=1\r\n\
            a=fmtp:96\r\n\
            a=ptime:abc\r\n\
            a=rtcp:\r\n\
            a=crypto\r\n\
            a=rtcp-mux\r\n\
            a=whatever:1 2 3\r\n\
            a=recvonly\r\n";
        let s = sdp(body);
        // "garbage line", "X=...", "y=..."
        assert_eq!(s.unknown_lines, 3);
        // o= short, 2nd s=, c= short, a=sendonly:extra, 2nd v=, m= port,
        // then in m#2: rtpmap x4, fmtp:abc, ptime, rtcp, crypto. The a=/c=
        // lines after the bad m= are skipped, not counted.
        assert_eq!(s.bad_lines, 14);
        let o = s.origin.unwrap();
        assert_eq!(o.username, b"alice with spaces");
        assert_eq!((o.session_id, o.addr), (&b"1"[..], &b"192.0.2.1"[..]));
        assert_eq!(s.session_name, Some(&b"first"[..]));
        assert_eq!(s.connection, None);
        // The malformed a=sendonly:extra still sets the direction it names.
        assert_eq!(s.direction, Some(Direction::SendOnly));
        assert_eq!(s.media.len(), 1);
        let m = &s.media[0];
        assert_eq!(m.port, 4000);
        assert!(m.connection.is_none() && m.rtpmap.is_empty());
        assert_eq!(m.fmtp, vec![(96, &b""[..])]);
        assert!(m.rtcp_mux && !m.crypto);
        assert_eq!(m.effective_direction(&s), Direction::RecvOnly);
    }

    #[test]
    fn not_sdp() {
        assert_eq!(parse_sdp(b""), Err(SdpError::Empty));
        assert_eq!(parse_sdp(b" \r\n\t\n"), Err(SdpError::Empty));
        assert_eq!(
            parse_sdp(b"INVITE sip:a@b SIP/2.0\r\n"),
            Err(SdpError::NotSdp)
        );
        assert_eq!(
            parse_sdp(b"o=- 1 1 IN IP4 1.2.3.4\r\nv=0\r\n"),
            Err(SdpError::NotSdp)
        );
        assert_eq!(parse_sdp(b"\x00\xff"), Err(SdpError::NotSdp));
        let s = parse_sdp(b"v=0").unwrap();
        assert_eq!(s, Sdp::default());
        assert_eq!(parse_sdp(b"v=1\n").unwrap().bad_lines, 1);
        assert_eq!(
            SdpError::NotSdp.to_string(),
            "body is not SDP (no leading v= line)"
        );
    }

    #[test]
    fn static_table() {
        assert_eq!(static_payload(0), Some(("PCMU", 8000)));
        assert_eq!(static_payload(3), Some(("GSM", 8000)));
        assert_eq!(static_payload(4), Some(("G723", 8000)));
        assert_eq!(static_payload(8), Some(("PCMA", 8000)));
        assert_eq!(static_payload(9), Some(("G722", 8000)));
        assert_eq!(static_payload(13), Some(("CN", 8000)));
        assert_eq!(static_payload(18), Some(("G729", 8000)));
        assert_eq!(static_payload(34), Some(("H263", 90000)));
        for pt in [1, 2, 19, 20, 24, 27, 35, 72, 96, 127, 128, 255] {
            assert_eq!(static_payload(pt), None, "pt {pt}");
        }
    }

    #[test]
    fn direction_helpers() {
        use Direction::*;
        for d in [SendRecv, SendOnly, RecvOnly, Inactive] {
            assert_eq!(Direction::from_attribute(d.as_str().as_bytes()), Some(d));
            assert_eq!(d.reversed().reversed(), d);
            assert_eq!(d.sends(), d.reversed().receives());
        }
        assert_eq!(Direction::from_attribute(b"SendOnly"), Some(SendOnly));
        assert_eq!(Direction::from_attribute(b"send"), None);
        assert_eq!(Inactive.to_string(), "inactive");
    }

    #[test]
    fn sdp_parts_single_body() {
        let body = PJMEDIA_200_SPEEX;
        assert_eq!(sdp_parts(b"application/sdp", body), vec![body]);
        assert_eq!(
            sdp_parts(b" Application/SDP ; charset=utf-8", body),
            vec![body]
        );
        assert!(sdp_parts(b"application/sdp", b"\r\n").is_empty());
        assert!(sdp_parts(b"application/dtmf-relay", body).is_empty());
        assert!(sdp_parts(b"", body).is_empty());
        assert!(sdp_parts(b"multipart/mixed", body).is_empty());
        assert!(sdp_parts(b"multipart/mixed; boundary=\"\"", body).is_empty());
    }

    #[test]
    fn sdp_parts_sipt_multipart() {
        for ct in [
            &b"multipart/mixed;boundary=unique-boundary-1"[..],
            b"Multipart/Mixed; BOUNDARY=\"unique-boundary-1\"",
            b"multipart/mixed ; x=\"a;b\" ; boundary = unique-boundary-1 ;y=z",
        ] {
            let parts = sdp_parts(ct, SIPT_BODY);
            assert_eq!(parts.len(), 1, "{}", String::from_utf8_lossy(ct));
            // The blank line is content; only the CRLF before the
            // delimiter belongs to the delimiter.
            assert!(parts[0].starts_with(b"v=0\r\n"));
            assert!(parts[0].ends_with(b"RTP/AVP 0\r\n"));
            let s = sdp(parts[0]);
            assert_eq!(s.origin.unwrap().username, b"Q931-SIPT");
            assert_eq!(s.media[0].port, 49170);
        }
        // Only the ISUP part when asked through a different boundary: none.
        assert!(sdp_parts(b"multipart/mixed;boundary=other", SIPT_BODY).is_empty());
    }

    #[test]
    fn sdp_parts_edge_cases() {
        let sdp1 = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n";
        let mut nested = Vec::new();
        nested.extend_from_slice(b"--outer\r\nContent-Type: text/plain\r\n\r\nhello\r\n");
        nested.extend_from_slice(
            b"--outer\r\nContent-Type: multipart/alternative; boundary=\"in ner\"\r\n\r\n",
        );
        nested.extend_from_slice(b"--in ner\r\ncontent-type:application/sdp\r\n\r\n");
        nested.extend_from_slice(sdp1);
        nested.extend_from_slice(b"\r\n--in ner--\r\n");
        nested.extend_from_slice(b"--outer\r\n\r\nno headers: text/plain\r\n");
        nested.extend_from_slice(b"--outer\r\nContent-Type: application/sdp\r\nContent-Transfer-Encoding: base64\r\n\r\ndj0wDQo=\r\n");
        nested.extend_from_slice(b"--outer \t\r\nContent-Type: application/sdp\r\nContent-Transfer-Encoding: 8BIT\r\n\r\n");
        nested.extend_from_slice(sdp1);
        // No close delimiter: a truncated capture keeps its last part.
        let parts = sdp_parts(b"multipart/related;boundary=outer", &nested);
        assert_eq!(parts, vec![&sdp1[..], &sdp1[..]]);

        // LF-only multipart with the delimiter at the very start.
        let lf = b"--b\nContent-Type: application/sdp\n\nv=0\ns=x\n\n--b--\n";
        assert_eq!(
            sdp_parts(b"multipart/mixed;boundary=b", lf),
            vec![&b"v=0\ns=x\n"[..]]
        );

        // Three levels deep is beyond what SIP uses and is not followed.
        let deep = b"--a\r\nContent-Type: multipart/mixed;boundary=b\r\n\r\n\
            --b\r\nContent-Type: multipart/mixed;boundary=c\r\n\r\n\
            --c\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--c--\r\n--b--\r\n--a--";
        assert!(sdp_parts(b"multipart/mixed;boundary=a", deep).is_empty());
        let inner = deep.windows(3).position(|w| w == b"--b").unwrap();
        assert_eq!(
            sdp_parts(b"multipart/mixed;boundary=b", &deep[inner..]),
            vec![&b"v=0"[..]]
        );
    }

    /// Every slice the parser returns must point into the body.
    fn assert_borrowed(body: &[u8], s: &Sdp<'_>) {
        let range = body.as_ptr_range();
        let inside = |x: &[u8]| x.is_empty() || range.contains(&x.as_ptr());
        let mut all: Vec<&[u8]> = Vec::new();
        if let Some(o) = &s.origin {
            all.extend([
                o.username,
                o.session_id,
                o.version,
                o.net_type,
                o.addr_type,
                o.addr,
            ]);
        }
        all.extend(s.session_name);
        for m in &s.media {
            all.extend([m.kind, m.proto]);
            all.extend(m.formats.iter().copied());
            all.extend(m.rtpmap.iter().map(|r| r.encoding));
            all.extend(m.fmtp.iter().map(|f| f.1));
            all.extend(m.connection.iter().flat_map(|c| [c.addr, c.addr_type]));
        }
        all.extend(s.connection.iter().flat_map(|c| [c.addr, c.addr_type]));
        assert!(all.into_iter().all(inside));
    }

    const CORPUS: &[&[u8]] = &[
        PJMEDIA_200_SPEEX,
        LINPHONE_INACTIVE,
        LINPHONE_OPUS,
        PJMEDIA_REINVITE_200,
        SIPP_PCMU,
        RECVONLY_INVITE,
        FREESWITCH_SENDONLY,
        SESSION_AND_MEDIA_SENDRECV,
        JITSI_AUDIO_VIDEO,
        VIDEO_REJECTED,
        SIPP_IPV6_AMR,
        SEMS_MIXED_EOL,
        SDES_OFFER,
        WEBRTC_OFFER,
    ];

    #[test]
    fn zero_copy() {
        for body in CORPUS {
            assert_borrowed(body, &sdp(body));
        }
    }

    /// Runs everything a caller might run on a parse result.
    fn exercise(body: &[u8]) {
        if let Ok(s) = parse_sdp(body) {
            assert_borrowed(body, &s);
            for m in &s.media {
                let _ = (m.effective_direction(&s), m.is_hold(&s), m.is_disabled());
                for pt in [0, 8, 96, 101, 127, 255] {
                    let _ = (m.codec(pt), m.fmtp_for(pt));
                }
            }
        }
        for part in sdp_parts(b"multipart/mixed;boundary=unique-boundary-1", body) {
            let _ = parse_sdp(part);
        }
    }

    use crate::testutil::XorShift as Rng;

    #[test]
    fn never_panics_on_truncation_or_mutation() {
        let mut inputs: Vec<&[u8]> = CORPUS.to_vec();
        inputs.push(SIPT_BODY);
        for body in &inputs {
            for end in 0..=body.len() {
                exercise(&body[..end]);
                exercise(&body[end..]);
            }
        }
        // Bytes that matter to the parser, so mutations hit its branches.
        const INTERESTING: &[u8] = b"\r\n =:/;.-\"\\0123456789amcosv\x00\xff\t";
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for i in 0..4000 {
            let mut body = inputs[i % inputs.len()].to_vec();
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(body.len() + 1);
                let byte = if rng.below(2) == 0 {
                    INTERESTING[rng.below(INTERESTING.len())]
                } else {
                    rng.next() as u8
                };
                match rng.below(4) {
                    0 if at < body.len() => body[at] = byte,
                    1 if at < body.len() => {
                        body.remove(at);
                    }
                    2 => {
                        // Duplicate a chunk, e.g. whole lines or boundaries.
                        let len = rng.below(40).min(body.len() - at);
                        let chunk = body[at..at + len].to_vec();
                        let to = rng.below(body.len() + 1);
                        body.splice(to..to, chunk);
                    }
                    _ => body.insert(at, byte),
                }
            }
            exercise(&body);
        }
    }
}
