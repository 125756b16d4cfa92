//! Transaction keys and retransmission detection per hop (RFC 3261 §17.1.3, §17.2.3).
//!
//! A passive monitor sees one request on several hops (UA → proxy → UA, each proxy adding a Via).
//! A transaction hop is keyed by the top Via branch, its sent-by and the method class (INVITE and
//! its non-2xx ACK fold together; CANCEL stands apart), plus the link (source → destination) it
//! crossed. The same request again on the same link is a retransmission; on another link it is the
//! next hop. Branches without the RFC 3261 magic cookie fall back to the RFC 2543 identity
//! (Request-URI, Call-ID, From tag, CSeq and top Via). Bounded per call by the caller.

use std::hash::{Hash, Hasher};
use std::net::SocketAddr;

use rustc_hash::FxHasher;

use crate::sip::{Method, SipMessage};

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
    pub fn of(msg: &SipMessage) -> Option<TxKey> {
        let via = msg.top_via()?;
        let (cseq, cseq_method) = msg.cseq()?;
        let method = msg.method().cloned().unwrap_or(cseq_method);
        let mut h = FxHasher::default();
        method_class(&method).hash(&mut h);
        match via.branch {
            Some(b) if via.is_rfc3261() => {
                b.hash(&mut h);
                via.sent_by.to_ascii_lowercase().hash(&mut h);
            }
            _ => {
                // RFC 2543: Call-ID, From tag, CSeq number and top Via identify it; the
                // Request-URI of an ACK may differ so it is left out.
                0xffu8.hash(&mut h);
                msg.call_id().hash(&mut h);
                msg.from().and_then(|f| f.tag()).hash(&mut h);
                cseq.hash(&mut h);
                via.sent_by.hash(&mut h);
                via.branch.hash(&mut h);
            }
        }
        Some(TxKey(h.finish()))
    }
}

/// Which messages of one transaction were seen on which link, to tell retransmissions.
#[derive(Default, Debug)]
pub struct TxSeen {
    /// (link, what) pairs: `what` is 0 for the request, else status + hash of the To tag.
    seen: Vec<(SocketAddr, SocketAddr, u64)>,
}

/// Most transactions see a handful of (link, message) pairs; a storm is capped.
const MAX_SEEN: usize = 64;

impl TxSeen {
    /// Records a message; true if the same one was already seen on the same link.
    pub fn record(&mut self, src: SocketAddr, dst: SocketAddr, msg: &SipMessage) -> bool {
        let what = match msg.status() {
            None => match msg.method() {
                // ACK and CANCEL share the INVITE's class or branch but are distinct messages.
                Some(Method::Ack) => 1,
                Some(Method::Cancel) => 2,
                _ => 0,
            },
            Some(s) => {
                let mut h = FxHasher::default();
                s.hash(&mut h);
                msg.to().and_then(|t| t.tag()).hash(&mut h);
                msg.cseq().map(|c| c.1).hash(&mut h);
                h.finish() | 0x100
            }
        };
        let entry = (src, dst, what);
        if self.seen.contains(&entry) {
            return true;
        }
        if self.seen.len() < MAX_SEEN {
            self.seen.push(entry);
        }
        false
    }
}
