//! The Via header (RFC 3261 §20.42, §18.2.1 received/rport from RFC 3581).
//!
//! `SIP/2.0/UDP host:port;branch=z9hG4bK...;received=...;rport=...`, several values per header
//! line separated by commas (commas inside quoted strings or IPv6 brackets do not split).

use nom::bytes::complete::{tag_no_case, take_while1};
use nom::character::complete::space0;
use nom::IResult;

use super::message::trim;

/// RFC 3261 §8.1.1.7: branches starting with this were made by an RFC 3261 stack and are unique.
pub const MAGIC_COOKIE: &[u8] = b"z9hG4bK";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Via<'a> {
    pub transport: &'a [u8],
    /// host[:port] as written (IPv6 in brackets).
    pub sent_by: &'a [u8],
    pub host: &'a [u8],
    pub port: Option<u16>,
    pub branch: Option<&'a [u8]>,
    pub received: Option<&'a [u8]>,
    pub rport: Option<&'a [u8]>,
}

/// Splits a header value into its comma-separated entries, respecting quotes, `<...>` and `[...]`.
pub fn split_values(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = v;
    std::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        let mut depth_angle = 0i32;
        let mut depth_sq = 0i32;
        let mut quoted = false;
        let mut end = rest.len();
        let mut i = 0;
        while i < rest.len() {
            let c = rest[i];
            if quoted {
                if c == b'\\' {
                    i += 1;
                } else if c == b'"' {
                    quoted = false;
                }
            } else {
                match c {
                    b'"' => quoted = true,
                    b'<' => depth_angle += 1,
                    b'>' => depth_angle -= 1,
                    b'[' => depth_sq += 1,
                    b']' => depth_sq -= 1,
                    b',' if depth_angle <= 0 && depth_sq <= 0 => {
                        end = i;
                        break;
                    }
                    _ => {}
                }
            }
            i += 1;
        }
        let item = trim(&rest[..end]);
        rest = if end < rest.len() {
            &rest[end + 1..]
        } else {
            &[]
        };
        if !item.is_empty() {
            return Some(item);
        }
    })
}

fn protocol(i: &[u8]) -> IResult<&[u8], &[u8]> {
    let (i, _) = tag_no_case(&b"SIP"[..])(i)?;
    let (i, _) = space0(i)?;
    let (i, _) = nom::character::complete::char('/')(i)?;
    let (i, _) = space0(i)?;
    let (i, _) = take_while1(|c: u8| c.is_ascii_digit() || c == b'.')(i)?;
    let (i, _) = space0(i)?;
    let (i, _) = nom::character::complete::char('/')(i)?;
    let (i, _) = space0(i)?;
    take_while1(|c: u8| c.is_ascii_alphanumeric() || c == b'-')(i)
}

/// Splits `host[:port]` (IPv6 literal in brackets).
pub fn split_host_port(s: &[u8]) -> (&[u8], Option<u16>) {
    if s.first() == Some(&b'[') {
        if let Some(close) = memchr::memchr(b']', s) {
            let host = &s[..=close];
            let port = s
                .get(close + 1..)
                .and_then(|r| r.strip_prefix(b":"))
                .and_then(super::message::parse_u32)
                .and_then(|p| u16::try_from(p).ok());
            return (host, port);
        }
        return (s, None);
    }
    match memchr::memrchr(b':', s) {
        Some(c) if memchr::memchr(b':', &s[..c]).is_none() => {
            let port = super::message::parse_u32(&s[c + 1..]).and_then(|p| u16::try_from(p).ok());
            (&s[..c], port)
        }
        _ => (s, None),
    }
}

/// Iterates `;name=value` parameters (value optional), names lower-cased by comparison only.
pub fn params(s: &[u8]) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
    s.split(|c| *c == b';').skip(1).filter_map(|p| {
        let p = trim(p);
        if p.is_empty() {
            return None;
        }
        match memchr::memchr(b'=', p) {
            Some(e) => Some((trim(&p[..e]), Some(trim_quotes(trim(&p[e + 1..]))))),
            None => Some((p, None)),
        }
    })
}

fn trim_quotes(v: &[u8]) -> &[u8] {
    if v.len() >= 2 && v[0] == b'"' && v[v.len() - 1] == b'"' {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

impl<'a> Via<'a> {
    /// Parses one Via entry.
    pub fn parse(v: &'a [u8]) -> Option<Via<'a>> {
        let v = trim(v);
        // Fast path for the form every stack writes (`SIP/2.0/UDP host`); odd spacing goes through
        // the full grammar.
        let (rest, transport) = match v.get(..8) {
            Some(head) if head.eq_ignore_ascii_case(b"SIP/2.0/") => {
                let t = &v[8..];
                let end = t
                    .iter()
                    .position(|c| *c == b' ' || *c == b'\t')
                    .unwrap_or(t.len());
                if end == 0
                    || !t[..end]
                        .iter()
                        .all(|c| c.is_ascii_alphanumeric() || *c == b'-')
                {
                    protocol(v).ok()?
                } else {
                    (&t[end..], &t[..end])
                }
            }
            _ => protocol(v).ok()?,
        };
        let rest = trim(rest);
        let sent_by_end = rest
            .iter()
            .position(|c| *c == b';' || *c == b' ' || *c == b'\t')
            .unwrap_or(rest.len());
        let sent_by = &rest[..sent_by_end];
        if sent_by.is_empty() {
            return None;
        }
        let (host, port) = split_host_port(sent_by);
        let mut via = Via {
            transport,
            sent_by,
            host,
            port,
            branch: None,
            received: None,
            rport: None,
        };
        // Parameters: only branch, received and rport matter, so look at a segment only when its
        // first letter could start one of them.
        let mut p = &rest[sent_by_end..];
        while let Some(semi) = memchr::memchr(b';', p) {
            p = &p[semi + 1..];
            let end = memchr::memchr(b';', p).unwrap_or(p.len());
            let seg = trim(&p[..end]);
            if !matches!(seg.first(), Some(b'b' | b'B' | b'r' | b'R')) {
                continue;
            }
            let (name, value) = match memchr::memchr(b'=', seg) {
                Some(e) => (trim(&seg[..e]), Some(trim_quotes(trim(&seg[e + 1..])))),
                None => (seg, None),
            };
            if name.eq_ignore_ascii_case(b"branch") {
                via.branch = value;
            } else if name.eq_ignore_ascii_case(b"received") {
                via.received = value;
            } else if name.eq_ignore_ascii_case(b"rport") {
                via.rport = Some(value.unwrap_or(b""));
            }
        }
        Some(via)
    }

    /// The first entry of a Via header value.
    pub fn parse_first(v: &'a [u8]) -> Option<Via<'a>> {
        // Fast path: with no quote or IPv6 bracket before the first comma, that comma ends the
        // first value (the common case: one value per header line, or plain hosts).
        let comma = memchr::memchr(b',', v).unwrap_or(v.len());
        if memchr::memchr2(b'"', b'[', &v[..comma]).is_none() {
            return Via::parse(trim(&v[..comma]));
        }
        Via::parse(split_values(v).next()?)
    }

    /// The branch carries the RFC 3261 magic cookie, so it identifies a transaction by itself.
    pub fn is_rfc3261(&self) -> bool {
        self.branch.is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_via_entries() {
        let v = Via::parse_first(
            b"SIP/2.0/UDP [2001:db8::1]:5070;rport=5070;branch=z9hG4bK776;received=192.0.2.1, SIP/2.0/TCP b",
        )
        .unwrap();
        assert_eq!(v.transport, b"UDP");
        assert_eq!(v.host, b"[2001:db8::1]");
        assert_eq!(v.port, Some(5070));
        assert_eq!(v.branch, Some(&b"z9hG4bK776"[..]));
        assert_eq!(v.received, Some(&b"192.0.2.1"[..]));
        assert!(v.is_rfc3261());
        let all: Vec<_> = split_values(b"SIP/2.0/UDP a;branch=1 , SIP/2.0/UDP b").collect();
        assert_eq!(all.len(), 2);
        let spaced = Via::parse(b"SIP / 2.0 / UDP host.example:5060 ;branch=abc").unwrap();
        assert_eq!(spaced.host, b"host.example");
        assert_eq!(spaced.branch, Some(&b"abc"[..]));
        assert!(!spaced.is_rfc3261());
    }
}
