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
    /// How many names there are, `Other` included: the size of a table indexed by `name as usize`.
    pub const COUNT: usize = HeaderName::Other as usize + 1;

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
        // Compare only against the names of this length (no lower-cased copy).
        let is = |lit: &[u8]| name.eq_ignore_ascii_case(lit);
        match name.len() {
            2 if is(b"to") => HeaderName::To,
            3 if is(b"via") => HeaderName::Via,
            4 if is(b"from") => HeaderName::From,
            4 if is(b"cseq") => HeaderName::CSeq,
            4 if is(b"rseq") => HeaderName::RSeq,
            4 if is(b"rack") => HeaderName::RAck,
            5 if is(b"route") => HeaderName::Route,
            5 if is(b"event") => HeaderName::Event,
            5 if is(b"allow") => HeaderName::Allow,
            6 if is(b"server") => HeaderName::Server,
            6 if is(b"reason") => HeaderName::Reason,
            7 if is(b"call-id") => HeaderName::CallId,
            7 if is(b"contact") => HeaderName::Contact,
            7 if is(b"expires") => HeaderName::Expires,
            7 if is(b"subject") => HeaderName::Subject,
            7 if is(b"require") => HeaderName::Require,
            8 if is(b"refer-to") => HeaderName::ReferTo,
            8 if is(b"identity") => HeaderName::Identity,
            9 if is(b"supported") => HeaderName::Supported,
            10 if is(b"user-agent") => HeaderName::UserAgent,
            10 if is(b"session-id") => HeaderName::SessionId,
            11 if is(b"referred-by") => HeaderName::ReferredBy,
            12 if is(b"content-type") => HeaderName::ContentType,
            12 if is(b"max-forwards") => HeaderName::MaxForwards,
            12 if is(b"record-route") => HeaderName::RecordRoute,
            12 if is(b"allow-events") => HeaderName::AllowEvents,
            13 if is(b"authorization") => HeaderName::Authorization,
            13 if is(b"identity-info") => HeaderName::IdentityInfo,
            14 if is(b"content-length") => HeaderName::ContentLength,
            14 if is(b"accept-contact") => HeaderName::AcceptContact,
            14 if is(b"reject-contact") => HeaderName::RejectContact,
            15 if is(b"session-expires") => HeaderName::SessionExpires,
            16 if is(b"www-authenticate") => HeaderName::WwwAuthenticate,
            16 if is(b"content-encoding") => HeaderName::ContentEncoding,
            17 if is(b"p-charging-vector") => HeaderName::PChargingVector,
            18 if is(b"proxy-authenticate") => HeaderName::ProxyAuthenticate,
            19 if is(b"proxy-authorization") => HeaderName::ProxyAuthorization,
            19 if is(b"request-disposition") => HeaderName::RequestDisposition,
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
