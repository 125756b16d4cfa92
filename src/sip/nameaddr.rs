//! name-addr / addr-spec with header parameters (RFC 3261 §20.10, §20.20, §20.39): From, To,
//! Contact, Route, Record-Route, Refer-To. `"Display" <sip:user@host>;tag=abc`.

use super::message::trim;
use super::uri::Uri;
use super::via::params;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameAddr<'a> {
    pub display: Option<&'a [u8]>,
    pub uri_text: &'a [u8],
    /// Header parameters (after the `>`, or after the URI when there are no brackets).
    pub params: &'a [u8],
}

/// Whether every quoted string in `v` is closed (RFC 3261 §25.1 quoted-string, where `\\` escapes
/// the next byte). Linear; free when `v` has no quote.
pub fn quotes_closed(v: &[u8]) -> bool {
    let Some(first) = memchr::memchr(b'"', v) else {
        return true;
    };
    let mut quoted = false;
    let mut i = first;
    while i < v.len() {
        match v[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            _ => {}
        }
        i += 1;
    }
    !quoted
}

impl<'a> NameAddr<'a> {
    /// None when nothing can be read: an empty value, a display name whose quote is never closed
    /// (`"Mr. J. User <sip:…>`: where the name ends and the URI starts cannot be told), a `<`
    /// without its `>`.
    pub fn parse(v: &'a [u8]) -> Option<NameAddr<'a>> {
        let v = trim(v);
        if v.is_empty() {
            return None;
        }
        // Find a `<` that is not inside the quoted display name.
        let mut quoted = false;
        let mut lt = None;
        let mut i = 0;
        while i < v.len() {
            match v[i] {
                b'\\' if quoted => i += 1,
                b'"' => quoted = !quoted,
                b'<' if !quoted => {
                    lt = Some(i);
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        if quoted {
            return None;
        }
        if let Some(lt) = lt {
            let gt = lt + memchr::memchr(b'>', &v[lt..])?;
            let mut display = trim(&v[..lt]);
            if display.len() >= 2 && display[0] == b'"' && display[display.len() - 1] == b'"' {
                display = &display[1..display.len() - 1];
            }
            Some(NameAddr {
                display: (!display.is_empty()).then_some(display),
                uri_text: trim(&v[lt + 1..gt]),
                params: &v[gt + 1..],
            })
        } else {
            // addr-spec: parameters after the URI belong to the header (RFC 3261 §20.10).
            let semi = memchr::memchr(b';', v).unwrap_or(v.len());
            Some(NameAddr {
                display: None,
                uri_text: trim(&v[..semi]),
                params: &v[semi..],
            })
        }
    }

    pub fn uri(&self) -> Option<Uri<'a>> {
        Uri::parse(self.uri_text)
    }

    pub fn param(&self, name: &str) -> Option<&'a [u8]> {
        params(self.params)
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v.unwrap_or(b""))
    }

    pub fn tag(&self) -> Option<&'a [u8]> {
        self.param("tag").filter(|t| !t.is_empty())
    }

    /// The user part of the URI (or the whole URI when it has none).
    pub fn user(&self) -> &'a [u8] {
        match self.uri() {
            Some(u) => u.user.unwrap_or(u.host),
            None => self.uri_text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_addr_forms() {
        let n = NameAddr::parse(b"\"Bob <the> Builder\" <sip:bob@biloxi.com>;tag=a6c85cf").unwrap();
        assert_eq!(n.display, Some(&b"Bob <the> Builder"[..]));
        assert_eq!(n.tag(), Some(&b"a6c85cf"[..]));
        assert_eq!(n.user(), b"bob");
        let a = NameAddr::parse(b"sip:+12125551212@server.phone2net.com;tag=887s").unwrap();
        assert_eq!(a.tag(), Some(&b"887s"[..]));
        assert_eq!(a.user(), b"+12125551212");
        let none = NameAddr::parse(b"<sip:x@y>").unwrap();
        assert_eq!(none.tag(), None);
        let escaped =
            NameAddr::parse(b"\"J Rosenberg \\\\\\\"\"  <sip:j@x>\r\n ;\r\n tag = 98").unwrap();
        assert_eq!(escaped.uri_text, b"sip:j@x");
        assert_eq!(escaped.tag(), Some(&b"98"[..]));
    }

    #[test]
    fn unterminated_display_name_reads_nothing() {
        let v = b"\"Mr. J. User <sip:j.user@example.com>";
        assert!(!quotes_closed(v));
        assert_eq!(NameAddr::parse(v), None);
        assert!(quotes_closed(b"\"a \\\" b\" <sip:x@y>"));
        assert!(quotes_closed(b"sip:x@y;tag=1"));
    }
}
