//! sdp-nat-mismatch: a private address (RFC 1918, RFC 6598, unique-local IPv6) in a Contact or
//! an SDP c= line, sent from a public one: a UA behind NAT that nothing fixed up. Once per call.

use std::net::IpAddr;

use super::{first_line, Engine, Severity};
use crate::correlate::record::MsgRow;
use crate::correlate::MediaInfo;

impl Engine {
    /// The sender's Contact at a private address.
    pub(super) fn nat_contact(&mut self, m: &MsgRow, cid: &str) {
        // The sender's own Contact: a request's, or a dialog-creating answer's (a registrar's
        // answer lists the client's bindings, not its own address).
        let own_contact = m.method.is_some() || m.cseq_method.as_deref() == Some("INVITE");
        if let Some(ip) = m
            .contact_ip
            .filter(|ip| own_contact && private(*ip) && public(m.src.ip()))
        {
            let w = self.calls.entry(cid.to_string()).or_default();
            if !w.has("sdp-nat-mismatch") {
                w.fired.push(("sdp-nat-mismatch", false));
                self.raise(
                    "sdp-nat-mismatch",
                    Severity::Warning,
                    m.ts,
                    Some(cid),
                    Some(m.src.to_string()),
                    format!("Contact at the private address {ip}, sent from {}", m.src.ip()),
                    Some((m.frame, first_line(m))),
                    "a UA behind NAT without an SBC or ALG fixing its Contact: in-dialog requests will not reach it",
                );
            }
        }
    }

    /// An SDP media line at a private address.
    pub(super) fn nat_sdp(&mut self, m: &MediaInfo) {
        // A private address in SDP, sent from a public one: the far end will send RTP nowhere.
        if private(m.addr.ip()) && public(m.announced_by.ip()) {
            let w = self.calls.entry(m.call_id.clone()).or_default();
            if !w.has("sdp-nat-mismatch") {
                w.fired.push(("sdp-nat-mismatch", false));
                self.raise(
                "sdp-nat-mismatch",
                Severity::Warning,
                m.ts,
                Some(&m.call_id),
                Some(m.announced_by.to_string()),
                format!(
                    "SDP from {} asks for RTP at the private address {}",
                    m.announced_by.ip(),
                    m.addr
                ),
                Some((m.frame, format!("SDP c=/m= {}", m.addr))),
                "a UA behind NAT without an SBC or ALG fixing its SDP: expect one-way or no audio",
            );
            }
        }
    }
}

/// RFC 1918, RFC 6598 (carrier-grade NAT) and unique-local IPv6 addresses.
pub(super) fn private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private() || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// A globally routable source: not private, loopback, link-local or unspecified.
pub(super) fn public(ip: IpAddr) -> bool {
    !private(ip)
        && !ip.is_loopback()
        && !ip.is_unspecified()
        && match ip {
            IpAddr::V4(v4) => !v4.is_link_local() && !v4.is_broadcast() && !v4.is_documentation(),
            IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
        }
}
