//! Transaction keys and retransmission detection per hop (RFC 3261 §17.1.3, §17.2.3).
//!
//! A passive monitor sees one request on several hops (UA → proxy → UA, each proxy adding a Via).
//! A transaction hop is keyed by the top Via branch, its sent-by and the method class (INVITE and
//! its non-2xx ACK fold together; CANCEL stands apart), plus the link (source → destination) it
//! crossed. The same request again on the same link is a retransmission; on another link it is the
//! next hop. Branches without the RFC 3261 magic cookie fall back to the RFC 2543 identity
//! (Request-URI, Call-ID, From tag, CSeq and top Via). Bounded per call by the caller.
//!
//! A request whose CSeq method is not its own (`OPTIONS` with `CSeq: 8 INVITE`, anomaly
//! `cseq-method-mismatch`) has no CSeq here: it joins no transaction (not the INVITE's, not one of
//! its own method) and feeds nothing that keys on the CSeq method (registrations); it is still
//! counted and drawn as the request it says it is.

use std::hash::{Hash, Hasher};
use std::net::SocketAddr;

use rustc_hash::FxHasher;

use super::record::TxTiming;
use crate::sip::nameaddr::NameAddr;
use crate::sip::via::Via;
use crate::sip::{Method, SipMessage};
use crate::time::Ts;

/// The fields correlation reads from every message, decoded once per message.
pub struct Facts<'a> {
    pub via: Option<Via<'a>>,
    pub cseq: Option<(u32, Method)>,
    pub from: Option<NameAddr<'a>>,
    pub to: Option<NameAddr<'a>>,
}

impl<'a> Facts<'a> {
    pub fn of(msg: &'a SipMessage) -> Facts<'a> {
        let cseq = msg
            .cseq()
            .filter(|(_, m)| msg.method().is_none_or(|rm| rm == m));
        Facts {
            via: msg.top_via(),
            cseq,
            from: msg.from(),
            to: msg.to(),
        }
    }

    pub fn from_tag(&self) -> Option<&'a [u8]> {
        self.from.as_ref().and_then(|f| f.tag())
    }

    pub fn to_tag(&self) -> Option<&'a [u8]> {
        self.to.as_ref().and_then(|t| t.tag())
    }

    pub fn cseq_method(&self) -> Option<&Method> {
        self.cseq.as_ref().map(|c| &c.1)
    }
}

/// A transaction identity, hashed (the branch text is not kept).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxKey(pub u64);

/// INVITE, and the ACK of a non-2xx answer, belong to one transaction; every other method is its
/// own class (§17.2.3: "the method of the request matches the one that created the transaction,
/// except for ACK, where the method of the request that created the transaction is INVITE").
fn method_class(m: &Method) -> &str {
    match m {
        Method::Ack => "INVITE",
        m => m.as_str(),
    }
}

impl TxKey {
    /// The key of a request or response. For responses the method comes from CSeq.
    pub fn of(msg: &SipMessage, facts: &Facts<'_>) -> Option<TxKey> {
        let via = facts.via.as_ref()?;
        let (cseq, cseq_method) = facts.cseq.as_ref()?;
        let method = msg.method().unwrap_or(cseq_method);
        let mut h = FxHasher::default();
        method_class(method).hash(&mut h);
        match via.branch {
            Some(b) if via.is_rfc3261() => {
                b.hash(&mut h);
                // sent-by compares case-insensitively (host names); hashed without a copy.
                for c in via.sent_by {
                    h.write_u8(c.to_ascii_lowercase());
                }
            }
            _ => {
                // RFC 2543: Call-ID, From tag, CSeq number and top Via identify it; the
                // Request-URI of an ACK may differ so it is left out.
                0xffu8.hash(&mut h);
                msg.call_id().hash(&mut h);
                facts.from_tag().hash(&mut h);
                cseq.hash(&mut h);
                via.sent_by.hash(&mut h);
                via.branch.hash(&mut h);
            }
        }
        Some(TxKey(h.finish()))
    }
}

/// Which messages of one transaction were seen on which link, to tell retransmissions, and when
/// the request and its responses were first seen on the request's first link (its timing).
#[derive(Default, Debug)]
pub struct TxSeen {
    /// (link, what) pairs: `what` is 0 for the request, else status + hash of the To tag.
    seen: Vec<(SocketAddr, SocketAddr, u64)>,
    timing: Option<TxTiming>,
}

/// Most transactions see a handful of (link, message) pairs; a storm is capped.
const MAX_SEEN: usize = 64;

impl TxSeen {
    /// Records a message; true if the same one was already seen on the same link.
    pub fn record(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        msg: &SipMessage,
        facts: &Facts<'_>,
        ts: Ts,
    ) -> bool {
        let what = match (msg.method(), msg.status()) {
            // ACK and CANCEL share the INVITE's class or branch but are distinct messages.
            (Some(Method::Ack), _) => 1,
            (Some(Method::Cancel), _) => 2,
            (Some(_), _) => 0,
            // A response, its status unreadable or not.
            (None, s) => {
                let mut h = FxHasher::default();
                s.hash(&mut h);
                facts.to_tag().hash(&mut h);
                facts.cseq_method().hash(&mut h);
                h.finish() | 0x100
            }
        };
        let entry = (src, dst, what);
        let again = self.seen.contains(&entry);
        if !again && self.seen.len() < MAX_SEEN {
            self.seen.push(entry);
        }
        self.time(src, dst, msg, ts, again);
        again
    }

    /// Response times per hop (METRICS.md, per transaction): from the request's first sight to the
    /// first response and to the final response travelling back on the same link.
    fn time(&mut self, src: SocketAddr, dst: SocketAddr, msg: &SipMessage, ts: Ts, again: bool) {
        match (msg.method(), msg.status(), &mut self.timing) {
            // An ACK (of a non-2xx) belongs to the INVITE transaction but is not timed.
            (Some(Method::Ack), _, _) => {}
            (Some(m), None, None) => {
                self.timing = Some(TxTiming {
                    method: m.clone(),
                    start: ts,
                    client: src,
                    server: dst,
                    first_response: None,
                    final_response: None,
                    final_status: None,
                    retransmissions: 0,
                });
            }
            (Some(_), None, Some(t)) if again && t.client == src && t.server == dst => {
                t.retransmissions += 1;
            }
            (None, Some(status), Some(t)) if t.client == dst && t.server == src => {
                let d = ts.since(t.start).max(0);
                if t.first_response.is_none() {
                    t.first_response = Some(d);
                }
                if status >= 200 && t.final_status.is_none() {
                    t.final_response = Some(d);
                    t.final_status = Some(status);
                }
            }
            _ => {}
        }
    }

    /// The timing of this transaction's first hop, if its request was captured.
    pub fn timing(&self) -> Option<&TxTiming> {
        self.timing.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn msg(s: &str) -> SipMessage {
        SipMessage::parse(Bytes::from(s.replace('\n', "\r\n")), true).unwrap()
    }

    const INVITE: &str = "INVITE sip:user@example.com SIP/2.0
Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw
From: sip:caller@example.net;tag=34525
To: sip:j.user@example.com
Call-ID: mismatch01.dj0234sxdfl3
CSeq: 8 INVITE
l: 0

";

    /// RFC 4475 mismatch01/02: a request whose CSeq names INVITE is not an INVITE, and shares no
    /// transaction with the INVITE of the same branch, nor one of its own method.
    #[test]
    fn a_cseq_naming_another_method_joins_no_transaction() {
        let invite = msg(INVITE);
        let inv_facts = Facts::of(&invite);
        assert!(TxKey::of(&invite, &inv_facts).is_some());
        for method in ["OPTIONS", "NEWMETHOD", "ACK"] {
            let m = msg(&INVITE.replacen("INVITE", method, 1));
            assert!(m
                .anomalies
                .contains(crate::sip::message::Anomaly::CSeqMethodMismatch));
            let f = Facts::of(&m);
            assert_eq!(f.cseq, None, "{method}");
            assert_eq!(f.cseq_method(), None);
            assert_eq!(TxKey::of(&m, &f), None, "{method}");
            // What the message says is still shown as it is.
            assert_eq!(m.cseq(), Some((8, Method::Invite)));
        }
        // The INVITE's retransmission is still one.
        let src: SocketAddr = "192.0.2.1:5060".parse().unwrap();
        let dst: SocketAddr = "192.0.2.2:5060".parse().unwrap();
        let mut seen = TxSeen::default();
        assert!(!seen.record(src, dst, &invite, &inv_facts, Ts::ZERO));
        assert!(seen.record(src, dst, &invite, &inv_facts, Ts::ZERO));
        // A response whose status cannot be read is a response, not a copy of the request.
        let bad = msg(&INVITE.replacen(
            "INVITE sip:user@example.com SIP/2.0",
            "SIP/2.0 4294967301 Huge",
            1,
        ));
        assert_eq!(bad.status(), None);
        let bf = Facts::of(&bad);
        assert!(!seen.record(dst, src, &bad, &bf, Ts::ZERO));
        assert!(!seen.record(src, dst, &bad, &bf, Ts::ZERO));
    }
}
