//! The Via header (RFC 3261 §20.42, §18.2.1 received/rport from RFC 3581).
//!
//! `SIP/2.0/UDP host:port;branch=z9hG4bK...;received=...;rport=...`, several values per header
//! line separated by commas (commas inside quoted strings or IPv6 brackets do not split). Linear
//! white space, folded line ends included, may stand around every `/`, `;` and `=` (§25.1 SLASH,
//! SEMI, EQUAL). [`check`] tests a whole header value against the via-parm grammar.

use nom::bytes::complete::{tag_no_case, take_while1};
use nom::character::complete::multispace0 as space0;
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

/// The first comma-separated entry of `v` (respecting quotes, `<...>` and `[...]`), untrimmed, and
/// what follows its comma (None when no comma ends it).
fn cut(v: &[u8]) -> (&[u8], Option<&[u8]>) {
    // Fast path: a comma (or the end) before any quote or bracket ends the entry.
    match memchr::memchr3(b',', b'"', b'[', v) {
        None if memchr::memchr(b'<', v).is_none() => return (v, None),
        Some(i) if v[i] == b',' && memchr::memchr(b'<', &v[..i]).is_none() => {
            return (&v[..i], Some(&v[i + 1..]))
        }
        _ => {}
    }
    let mut depth_angle = 0i32;
    let mut depth_sq = 0i32;
    let mut quoted = false;
    let mut i = 0;
    while i < v.len() {
        let c = v[i];
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
                b',' if depth_angle <= 0 && depth_sq <= 0 => return (&v[..i], Some(&v[i + 1..])),
                _ => {}
            }
        }
        i += 1;
    }
    (v, None)
}

/// Splits a header value into its comma-separated entries, respecting quotes, `<...>` and `[...]`;
/// empty entries are skipped.
pub fn split_values(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(v);
    std::iter::from_fn(move || loop {
        let (item, more) = cut(rest?);
        rest = more;
        let item = trim(item);
        if !item.is_empty() {
            return Some(item);
        }
    })
}

/// How a Via header value breaks the grammar (RFC 3261 §20.42, §25.1 via-parm).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ViaFault {
    /// An empty entry (`,,`, a trailing comma), no `SIP/2.0/transport`, no or an unreadable
    /// sent-by, text after sent-by, an empty parameter (`;;`) or one without name or value.
    Malformed,
    /// sent-by is an IPv6 address without `[]` (RFC 5118 §4.2, §4.5).
    Ipv6WithoutBrackets,
}

/// Checks every entry of a Via header value; the first fault found. Linear in the value.
pub fn check(v: &[u8]) -> Option<ViaFault> {
    let mut rest = v;
    loop {
        let (item, more) = cut(rest);
        if let Some(fault) = check_entry(trim(item)) {
            return Some(fault);
        }
        rest = more?;
    }
}

/// RFC 3261 §25.1 token characters, and the characters a Via parameter value may add to them
/// (host: `:`, `[`, `]`), as one lookup table each.
const TOKEN: [bool; 256] = table(b"-.!%*_+`'~");
const PARAM_VALUE: [bool; 256] = table(b"-.!%*_+`'~:[]");

const fn table(extra: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = (c as u8).is_ascii_alphanumeric();
        c += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = true;
        i += 1;
    }
    t
}

fn is_token(c: u8) -> bool {
    TOKEN[c as usize]
}

/// [`check`], and the first entry as [`Via::parse_first`] reads it, from one reading of the
/// value: the message keeps its top Via without parsing it a second time.
pub fn check_first(v: &[u8]) -> (Option<ViaFault>, Option<Via<'_>>) {
    // Without quotes, brackets or angle brackets, entries end at commas only: the first one is
    // what both `cut` and `parse_first` take. Anything else goes the two separate ways.
    if memchr::memchr3(b'"', b'[', b'<', v).is_some() {
        return (check(v), Via::parse_first(v));
    }
    let mut items = v.split(|c| *c == b',');
    let first = trim(items.next().unwrap_or_default());
    let parsed = Via::parse_parts(first);
    let top = parsed.as_ref().map(|(via, _)| via.clone());
    let fault = match parsed {
        None => Some(ViaFault::Malformed),
        Some((via, after)) => check_parsed(&via, after),
    };
    if fault.is_some() {
        return (fault, top);
    }
    (items.find_map(|item| check_entry(trim(item))), top)
}

fn check_entry(item: &[u8]) -> Option<ViaFault> {
    let Some((via, after)) = Via::parse_parts(item) else {
        return Some(ViaFault::Malformed);
    };
    check_parsed(&via, after)
}

/// The checks of one entry after its parse: `after` is the text after its sent-by.
fn check_parsed(via: &Via<'_>, after: &[u8]) -> Option<ViaFault> {
    if via.host.is_empty() {
        return Some(if super::uri::is_bare_ipv6(via.sent_by) {
            ViaFault::Ipv6WithoutBrackets
        } else {
            ViaFault::Malformed
        });
    }
    let host_ok = via.host.first() == Some(&b'[')
        || via
            .host
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'));
    // A port is digits that fit in 16 bits; `host:` or `host:x` reads as no port.
    if !host_ok || (via.port.is_none() && via.sent_by.len() > via.host.len()) {
        return Some(ViaFault::Malformed);
    }
    let first_semi = memchr::memchr(b';', after).unwrap_or(after.len());
    if !after[..first_semi].iter().all(u8::is_ascii_whitespace) {
        return Some(ViaFault::Malformed);
    }
    if first_semi == after.len() {
        return None;
    }
    for p in after[first_semi + 1..].split(|c| *c == b';') {
        let (name, value) = match memchr::memchr(b'=', p) {
            Some(e) => (trim(&p[..e]), Some(trim(&p[e + 1..]))),
            None => (trim(p), None),
        };
        let value_ok = value.is_none_or(|v| {
            !v.is_empty()
                && (v.first() == Some(&b'"') || v.iter().all(|c| PARAM_VALUE[*c as usize]))
        });
        if name.is_empty() || !name.iter().all(|c| is_token(*c)) || !value_ok {
            return Some(ViaFault::Malformed);
        }
    }
    None
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

/// Splits `host[:port]` (IPv6 literal in brackets). A host that cannot be read (two colons or more
/// without brackets, an unclosed bracket) is empty and has no port: where an unbracketed IPv6
/// address ends and a port begins cannot be told, so neither is guessed.
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
        return (&s[..0], None);
    }
    match memchr::memrchr(b':', s) {
        Some(c) if memchr::memchr(b':', &s[..c]).is_none() => {
            let port = super::message::parse_u32(&s[c + 1..]).and_then(|p| u16::try_from(p).ok());
            (&s[..c], port)
        }
        Some(_) => (&s[..0], None),
        None => (s, None),
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
    /// Parses one Via entry. `host` is empty when sent-by cannot be read (see
    /// [`split_host_port`]); `sent_by` keeps the text as written.
    pub fn parse(v: &'a [u8]) -> Option<Via<'a>> {
        Via::parse_parts(v).map(|(via, _)| via)
    }

    /// One Via entry and the text after its sent-by (the parameters).
    fn parse_parts(v: &'a [u8]) -> Option<(Via<'a>, &'a [u8])> {
        let v = trim(v);
        // Fast path for the form every stack writes (`SIP/2.0/UDP host`); odd spacing goes through
        // the full grammar.
        let (rest, transport) = match v.get(..8) {
            Some(head) if head.eq_ignore_ascii_case(b"SIP/2.0/") => {
                let t = &v[8..];
                let end = t
                    .iter()
                    .position(u8::is_ascii_whitespace)
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
            .position(|c| *c == b';' || c.is_ascii_whitespace())
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
        let after = &rest[sent_by_end..];
        let mut p = after;
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
        Some((via, after))
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

    /// `check_first` says what `check` and `parse_first` say, on values good and bad, plain and
    /// with the quotes, brackets and angle brackets that send it the long way.
    #[test]
    fn check_first_is_check_and_parse_first() {
        let values: [&[u8]; 14] = [
            b"SIP/2.0/UDP a.example.com;branch=z9hG4bK1",
            b"SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b;branch=z9hG4bK2",
            b"SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b c",
            b", SIP/2.0/UDP b;branch=z9hG4bK2",
            b"SIP/2.0/UDP a;branch=z9hG4bK1,",
            b"SIP/2.0/UDP a$b;branch=z9hG4bK1",
            b"SIP/2.0/UDP a junk;branch=z9hG4bK1",
            b"SIP/2.0/UDP a;;branch=z9hG4bK1",
            b"SIP/2.0/UDP 2001:db8::1;branch=z9hG4bK1",
            b"SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1, SIP/2.0/UDP b",
            b"SIP/2.0/UDP a;x=\"q,r\";branch=z9hG4bK1, SIP/2.0/UDP b",
            b"SIP/2.0/UDP a;x=<sip:q,r>;branch=z9hG4bK1",
            b"",
            b"garbage",
        ];
        for v in values {
            let (fault, top) = check_first(v);
            let text = String::from_utf8_lossy(v);
            assert_eq!(fault, check(v), "{text}");
            assert_eq!(top, Via::parse_first(v), "{text}");
        }
        assert_eq!(check_first(values[1]).1.unwrap().host, b"a");
        assert_eq!(check_first(values[2]).0, Some(ViaFault::Malformed));
        assert_eq!(
            check_first(values[8]).0,
            Some(ViaFault::Ipv6WithoutBrackets)
        );
    }

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
