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

/// Why a Contact value breaks RFC 3261 §20.10 / §25.1 (`Contact: ( STAR / contact-param *(COMMA
/// contact-param) )`, `contact-param = (name-addr / addr-spec) *(SEMI contact-params)`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ContactFault {
    /// An empty parameter (`;;`, a trailing `;`), a parameter without a name (`;=x`) or with
    /// `=` and no value, `expires` without delta-seconds (`expires=`, `expires=soon`), text
    /// after a contact that is neither a parameter nor the next contact, an empty entry, an
    /// addr-spec that is no URI.
    BadParam,
    /// A `<` without its `>`: where the URI ends cannot be told.
    Unclosed,
}

/// token characters (RFC 3261 §25.1), and what a host or an IPv6 reference adds (`:`, `[`, `]`):
/// a generic-param value is a token, a host or a quoted string.
const PARAM_CHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'!'
                    | b'%'
                    | b'*'
                    | b'_'
                    | b'+'
                    | b'`'
                    | b'\''
                    | b'~'
                    | b':'
                    | b'['
                    | b']'
            );
        c += 1;
    }
    t
};

/// Checks a Contact header value in one pass, without allocating. A quoted string never closed
/// is not judged here (it is `UnterminatedQuote`): the check stops there, clean. `*` alone is
/// fine, as are URI headers (`?`) inside the `<>` and any parameter with a token, host or quoted
/// value; `expires` must be digits.
pub fn check_contact(v: &[u8]) -> Result<(), ContactFault> {
    let v = trim(v);
    if v == b"*" {
        return Ok(());
    }
    let ws = |i: &mut usize| {
        while v
            .get(*i)
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
        {
            *i += 1;
        }
    };
    // The end of a quoted string starting at `i` (after its closing quote), None when unclosed.
    let quoted = |mut i: usize| -> Option<usize> {
        i += 1;
        while i < v.len() {
            match v[i] {
                b'\\' => i += 2,
                b'"' => return Some(i + 1),
                _ => i += 1,
            }
        }
        None
    };
    let mut i = 0;
    loop {
        ws(&mut i);
        // name-addr (an optional display name, then `<URI>`) or addr-spec.
        if v.get(i) == Some(&b'"') {
            let Some(end) = quoted(i) else {
                return Ok(());
            };
            i = end;
            ws(&mut i);
        }
        let start = i;
        while i < v.len() && !matches!(v[i], b'<' | b';' | b',' | b'"') {
            i += 1;
        }
        match v.get(i) {
            Some(b'<') => match memchr::memchr(b'>', &v[i..]) {
                Some(gt) => i += gt + 1,
                None => return Err(ContactFault::Unclosed),
            },
            Some(b'"') => return Ok(()),
            // An addr-spec: a URI, so a scheme's colon and no white space in it.
            _ => {
                let spec = trim(&v[start..i]);
                if memchr::memchr(b':', spec).is_none()
                    || spec.iter().any(|c| c.is_ascii_whitespace())
                {
                    return Err(ContactFault::BadParam);
                }
            }
        }
        // contact-params
        loop {
            ws(&mut i);
            if v.get(i) != Some(&b';') {
                break;
            }
            i += 1;
            ws(&mut i);
            let name_at = i;
            while v.get(i).is_some_and(|c| PARAM_CHAR[*c as usize]) {
                i += 1;
            }
            let name = &v[name_at..i];
            if name.is_empty() {
                return Err(ContactFault::BadParam);
            }
            let expires = name.eq_ignore_ascii_case(b"expires");
            ws(&mut i);
            if v.get(i) != Some(&b'=') {
                if expires {
                    return Err(ContactFault::BadParam);
                }
                continue;
            }
            i += 1;
            ws(&mut i);
            if v.get(i) == Some(&b'"') {
                let Some(end) = quoted(i) else {
                    return Ok(());
                };
                if expires {
                    return Err(ContactFault::BadParam);
                }
                i = end;
                continue;
            }
            let value_at = i;
            while v.get(i).is_some_and(|c| PARAM_CHAR[*c as usize]) {
                i += 1;
            }
            let value = &v[value_at..i];
            if value.is_empty() || (expires && !value.iter().all(u8::is_ascii_digit)) {
                return Err(ContactFault::BadParam);
            }
        }
        match v.get(i) {
            None => return Ok(()),
            Some(b',') => i += 1,
            Some(_) => return Err(ContactFault::BadParam),
        }
    }
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

    #[test]
    fn contact_grammar() {
        for ok in [
            &b"*"[..],
            b" * ",
            b"<sip:a@b>",
            b"sip:a@b;expires=60",
            b"\"J \\\"Bob\\\" Smith\" <sip:a@b>;expires=0",
            b"Bob <sip:a@b?Subject=x&Route=%3Csip:p%3E>;q=0.5",
            b"<sip:a@b>;expires=0, <sip:a@[2001:db8::1]:5070>\r\n ; expires = 3600 ;q=1",
            b"<sip:a@b>;+sip.instance=\"<urn:uuid:1>\";reg-id=1;ob",
            b"<name:John_Smith>",
            b"<sip:a@b>;maddr=[2001:db8::2]",
            // An unclosed quote is UnterminatedQuote's, not judged here.
            b"<sip:a@b>;x=\"open",
        ] {
            assert_eq!(check_contact(ok), Ok(()), "{}", String::from_utf8_lossy(ok));
        }
        for (bad, why) in [
            (&b"<sip:a@b>;;expires=60"[..], ContactFault::BadParam),
            (b"<sip:a@b>;", ContactFault::BadParam),
            (b"<sip:a@b>;=x", ContactFault::BadParam),
            (b"<sip:a@b>;x=", ContactFault::BadParam),
            (b"<sip:a@b>;expires=", ContactFault::BadParam),
            (b"<sip:a@b>;expires", ContactFault::BadParam),
            (b"<sip:a@b>;expires=soon", ContactFault::BadParam),
            (b"<sip:a@b>;expires=\"60\"", ContactFault::BadParam),
            (b"<sip:a@b> junk", ContactFault::BadParam),
            (b"<sip:a@b>,", ContactFault::BadParam),
            (b"* junk", ContactFault::BadParam),
            (b"*;;", ContactFault::BadParam),
            (b"sip:a@b junk", ContactFault::BadParam),
            (b"\"Joe\" <sip:joe@example.org>;;;;", ContactFault::BadParam),
            (b"\"Ct\" <sip:a@b;expires=60", ContactFault::Unclosed),
        ] {
            assert_eq!(
                check_contact(bad),
                Err(why),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
