//! SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966), as much as analysis needs: scheme, user,
//! host, port and parameters, borrowed from the message; and [`check`], the grammar test of a
//! Request-URI or name-addr URI (RFC 3261 §25.1, RFC 5118 for IPv6 references).

use super::via::split_host_port;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uri<'a> {
    pub scheme: &'a [u8],
    /// The user part (SIP) or the number (tel), without parameters.
    pub user: Option<&'a [u8]>,
    pub host: &'a [u8],
    pub port: Option<u16>,
    /// Everything after the first `;` of the host part, raw.
    pub params: &'a [u8],
}

/// Why a URI does not follow RFC 3261 §19.1 / §25.1 (SIP-URI, SIPS-URI, absoluteURI).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum UriFault {
    /// No `scheme:`, or a character no URI holds unescaped (`<`, `>`, `"`, a space, a control):
    /// a Request-URI in `<>` is the common case.
    NotAUri,
    /// The host of a sip/sips URI is an IPv6 address without the `[]` the grammar requires
    /// (RFC 5118 §4.2): where the address ends and a port begins cannot be told.
    Ipv6WithoutBrackets,
}

/// scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 §3.1, RFC 3261 §25.1).
fn is_scheme(s: &[u8]) -> bool {
    s.first().is_some_and(u8::is_ascii_alphabetic)
        && s.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}

/// Checks a URI as written in a Request-URI or inside a name-addr's `<>`. Unknown schemes are
/// fine (their content is opaque); for sip and sips the host must be readable.
pub fn check(s: &[u8]) -> Result<(), UriFault> {
    let colon = memchr::memchr(b':', s).ok_or(UriFault::NotAUri)?;
    if !is_scheme(&s[..colon])
        || s.iter()
            .any(|c| *c <= b' ' || matches!(c, b'<' | b'>' | b'"' | 0x7f))
    {
        return Err(UriFault::NotAUri);
    }
    let Some(u) = Uri::parse(s) else {
        return Err(UriFault::NotAUri);
    };
    if u.host.is_empty()
        && (u.scheme.eq_ignore_ascii_case(b"sip") || u.scheme.eq_ignore_ascii_case(b"sips"))
    {
        let hostport = host_part(&s[colon + 1..]);
        return Err(if is_bare_ipv6(hostport) {
            UriFault::Ipv6WithoutBrackets
        } else {
            UriFault::NotAUri
        });
    }
    Ok(())
}

/// Whether a sip or sips URI carries headers (`?name=value` after the host part, RFC 3261
/// §19.1.1): allowed in a Contact or Refer-To, never in a Request-URI (§19.1.5). A `?` in the
/// user part (before the last `@`) is no header.
pub fn has_headers(s: &[u8]) -> bool {
    let Some(colon) = memchr::memchr(b':', s) else {
        return false;
    };
    let scheme = &s[..colon];
    if !(scheme.eq_ignore_ascii_case(b"sip") || scheme.eq_ignore_ascii_case(b"sips")) {
        return false;
    }
    let rest = &s[colon + 1..];
    let after_user = match memchr::memrchr(b'@', rest) {
        Some(at) => &rest[at + 1..],
        None => rest,
    };
    memchr::memchr(b'?', after_user).is_some()
}

/// host[:port] of the part after `scheme:` — after the last `@` (no `@` can stand unescaped in
/// the parameters or headers that follow, RFC 3261 §25.1), up to the first `;` or `?`.
fn host_part(rest: &[u8]) -> &[u8] {
    let h = match memchr::memrchr(b'@', rest) {
        Some(at) => &rest[at + 1..],
        None => rest,
    };
    &h[..memchr::memchr2(b';', b'?', h).unwrap_or(h.len())]
}

/// Two colons or more, and nothing but hex digits, colons and dots: an IPv6 address (possibly
/// with a port glued on) written without brackets.
pub fn is_bare_ipv6(h: &[u8]) -> bool {
    h.first() != Some(&b'[')
        && h.iter().filter(|c| **c == b':').count() >= 2
        && h.iter()
            .all(|c| c.is_ascii_hexdigit() || *c == b':' || *c == b'.')
}

impl<'a> Uri<'a> {
    /// Splits a URI. The host is empty (absent, not guessed) when it cannot be read: an IPv6
    /// address without brackets, an unclosed bracket.
    pub fn parse(s: &'a [u8]) -> Option<Uri<'a>> {
        let colon = memchr::memchr(b':', s)?;
        let scheme = &s[..colon];
        if !is_scheme(scheme) {
            return None;
        }
        let rest = &s[colon + 1..];
        if scheme.eq_ignore_ascii_case(b"tel") {
            // Headers (?...) are not part of the number.
            let rest = &rest[..memchr::memchr(b'?', rest).unwrap_or(rest.len())];
            let end = memchr::memchr(b';', rest).unwrap_or(rest.len());
            return Some(Uri {
                scheme,
                user: Some(&rest[..end]),
                host: b"",
                port: None,
                params: &rest[end..],
            });
        }
        // The userinfo ends at the last `@`: the user part may hold `?`, `;` and `/` (RFC 3261
        // §25.1 user-unreserved), the parameters and headers after the host never hold `@`.
        let (user, hostpart) = match memchr::memrchr(b'@', rest) {
            Some(at) => {
                let u = &rest[..at];
                // user;user-params:password — keep the user only.
                let u_end = memchr::memchr2(b':', b';', u).unwrap_or(u.len());
                (Some(&u[..u_end]), &rest[at + 1..])
            }
            None => (None, rest),
        };
        let hostpart = &hostpart[..memchr::memchr(b'?', hostpart).unwrap_or(hostpart.len())];
        let hp_end = memchr::memchr(b';', hostpart).unwrap_or(hostpart.len());
        let (host, port) = split_host_port(&hostpart[..hp_end]);
        Some(Uri {
            scheme,
            user,
            host,
            port,
            params: &hostpart[hp_end..],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_sips_tel() {
        let u = Uri::parse(b"sip:alice;day=tue:secret@atlanta.com:5061;transport=tcp?subject=x")
            .unwrap();
        assert_eq!(u.user, Some(&b"alice"[..]));
        assert_eq!(u.host, b"atlanta.com");
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.params, b";transport=tcp");
        let t = Uri::parse(b"tel:+1-201-555-0123;phone-context=x").unwrap();
        assert_eq!(t.user, Some(&b"+1-201-555-0123"[..]));
        let s = Uri::parse(b"sips:[2001:db8::1]").unwrap();
        assert_eq!(s.user, None);
        assert_eq!(s.host, b"[2001:db8::1]");
        assert!(Uri::parse(b"nonsense").is_none());
    }

    #[test]
    fn uri_headers() {
        assert!(has_headers(b"sip:bob@example.com?Subject=hi"));
        assert!(has_headers(b"SIPS:example.com?x=1"));
        // A `?` in the user part is no header; other schemes are opaque.
        assert!(!has_headers(b"sip:a?b@example.com;lr"));
        assert!(!has_headers(b"sip:bob@example.com"));
        assert!(!has_headers(b"tel:+1234?x"));
        assert!(!has_headers(b"http://example.com/?q"));
    }
}
