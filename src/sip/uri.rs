//! SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966), as much as analysis needs: scheme, user,
//! host, port and parameters, borrowed from the message.

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

impl<'a> Uri<'a> {
    pub fn parse(s: &'a [u8]) -> Option<Uri<'a>> {
        let colon = memchr::memchr(b':', s)?;
        let scheme = &s[..colon];
        if scheme.is_empty()
            || !scheme
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'+')
        {
            return None;
        }
        let rest = &s[colon + 1..];
        // Headers (?...) are not part of the address.
        let rest = &rest[..memchr::memchr(b'?', rest).unwrap_or(rest.len())];
        if scheme.eq_ignore_ascii_case(b"tel") {
            let end = memchr::memchr(b';', rest).unwrap_or(rest.len());
            return Some(Uri {
                scheme,
                user: Some(&rest[..end]),
                host: b"",
                port: None,
                params: &rest[end..],
            });
        }
        let (user, hostpart) = match memchr::memrchr(b'@', rest) {
            Some(at) => {
                let u = &rest[..at];
                // user;user-params:password — keep the user only.
                let u_end = u
                    .iter()
                    .position(|c| *c == b':' || *c == b';')
                    .unwrap_or(u.len());
                (Some(&u[..u_end]), &rest[at + 1..])
            }
            None => (None, rest),
        };
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
}
