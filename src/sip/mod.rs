//! SIP messages (RFC 3261 §7, §20, §25), parsed in two stages.
//!
//! Stage one ([`message::SipMessage::parse`]) is a cheap structural split over the message bytes:
//! start line, header name/value spans, body span by Content-Length, and the anomalies seen on the
//! way. Nothing is copied: spans index the [`bytes::Bytes`] the message was cut from. Stage two is
//! typed decoding of a header on demand ([`via`], [`cseq`], [`nameaddr`], [`uri`], [`sdp`]).
//! Every parser takes untrusted bytes and returns a value or an error, never panics.

pub mod header;
pub mod message;
pub mod method;
pub mod nameaddr;
pub mod sdp;
pub mod uri;
pub mod via;

pub use header::HeaderName;
pub use message::{Anomaly, SipMessage, StartLine};
pub use method::Method;
