//! Header names: one case-insensitive table that knows the compact forms (RFC 3261 §7.3.3 and the
//! registry of compact forms: RFC 3515, 3841, 3903, 4028, 4474, 6665 ...).

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum HeaderName {
    Via,
    From,
    To,
    CallId,
    CSeq,
    ContentLength,
    ContentType,
    Contact,
    MaxForwards,
    UserAgent,
    Server,
    Route,
    RecordRoute,
    Reason,
    Expires,
    SessionId,
    PChargingVector,
    Authorization,
    ProxyAuthorization,
    WwwAuthenticate,
    ProxyAuthenticate,
    Subject,
    Supported,
    Event,
    ReferTo,
    ReferredBy,
    AllowEvents,
    Allow,
    Require,
    RSeq,
    RAck,
    SessionExpires,
    ContentEncoding,
    AcceptContact,
    RejectContact,
    RequestDisposition,
    Identity,
    IdentityInfo,
    Other,
}

impl HeaderName {
    /// Looks a name up without allocating; `Other` for anything we do not decode.
    pub fn lookup(name: &[u8]) -> HeaderName {
        if name.len() == 1 {
            return match name[0].to_ascii_lowercase() {
                b'v' => HeaderName::Via,
                b'f' => HeaderName::From,
                b't' => HeaderName::To,
                b'i' => HeaderName::CallId,
                b'l' => HeaderName::ContentLength,
                b'c' => HeaderName::ContentType,
                b'm' => HeaderName::Contact,
                b's' => HeaderName::Subject,
                b'k' => HeaderName::Supported,
                b'o' => HeaderName::Event,
                b'r' => HeaderName::ReferTo,
                b'b' => HeaderName::ReferredBy,
                b'u' => HeaderName::AllowEvents,
                b'x' => HeaderName::SessionExpires,
                b'e' => HeaderName::ContentEncoding,
                b'a' => HeaderName::AcceptContact,
                b'j' => HeaderName::RejectContact,
                b'd' => HeaderName::RequestDisposition,
                b'y' => HeaderName::Identity,
                b'n' => HeaderName::IdentityInfo,
                _ => HeaderName::Other,
            };
        }
        let mut buf = [0u8; 24];
        if name.len() > buf.len() {
            return HeaderName::Other;
        }
        for (d, s) in buf.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        match &buf[..name.len()] {
            b"via" => HeaderName::Via,
            b"from" => HeaderName::From,
            b"to" => HeaderName::To,
            b"call-id" => HeaderName::CallId,
            b"cseq" => HeaderName::CSeq,
            b"content-length" => HeaderName::ContentLength,
            b"content-type" => HeaderName::ContentType,
            b"contact" => HeaderName::Contact,
            b"max-forwards" => HeaderName::MaxForwards,
            b"user-agent" => HeaderName::UserAgent,
            b"server" => HeaderName::Server,
            b"route" => HeaderName::Route,
            b"record-route" => HeaderName::RecordRoute,
            b"reason" => HeaderName::Reason,
            b"expires" => HeaderName::Expires,
            b"session-id" => HeaderName::SessionId,
            b"p-charging-vector" => HeaderName::PChargingVector,
            b"authorization" => HeaderName::Authorization,
            b"proxy-authorization" => HeaderName::ProxyAuthorization,
            b"www-authenticate" => HeaderName::WwwAuthenticate,
            b"proxy-authenticate" => HeaderName::ProxyAuthenticate,
            b"subject" => HeaderName::Subject,
            b"supported" => HeaderName::Supported,
            b"event" => HeaderName::Event,
            b"refer-to" => HeaderName::ReferTo,
            b"referred-by" => HeaderName::ReferredBy,
            b"allow-events" => HeaderName::AllowEvents,
            b"allow" => HeaderName::Allow,
            b"require" => HeaderName::Require,
            b"rseq" => HeaderName::RSeq,
            b"rack" => HeaderName::RAck,
            b"session-expires" => HeaderName::SessionExpires,
            b"content-encoding" => HeaderName::ContentEncoding,
            b"accept-contact" => HeaderName::AcceptContact,
            b"reject-contact" => HeaderName::RejectContact,
            b"request-disposition" => HeaderName::RequestDisposition,
            b"identity" => HeaderName::Identity,
            b"identity-info" => HeaderName::IdentityInfo,
            _ => HeaderName::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_long_forms_case_insensitively() {
        assert_eq!(HeaderName::lookup(b"v"), HeaderName::Via);
        assert_eq!(HeaderName::lookup(b"VIA"), HeaderName::Via);
        assert_eq!(HeaderName::lookup(b"I"), HeaderName::CallId);
        assert_eq!(HeaderName::lookup(b"call-ID"), HeaderName::CallId);
        assert_eq!(HeaderName::lookup(b"l"), HeaderName::ContentLength);
        assert_eq!(HeaderName::lookup(b"X-Whatever"), HeaderName::Other);
        assert_eq!(
            HeaderName::lookup(b"a-header-name-much-longer-than-the-buffer"),
            HeaderName::Other
        );
    }
}
