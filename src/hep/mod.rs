//! HEPv3 (HOMER Encapsulation Protocol) out and in: sipscope as a HOMER capture agent and as a
//! collector.
//!
//! ```text
//! session ─Event─▶ agent (SIP, QoS, RTCP, logs) ─packet─▶ sender (bounded queue, own thread) ─▶ collectors
//! HEP agents ─UDP/TCP─▶ listener (a capture Source) ─Frame─▶ pipeline
//! ```
//! - [`wire`]: the encoder, chunk sizes as the specification has them (the decoder is
//!   [`crate::decode::hep`]).
//! - [`sender`]: one thread and one bounded queue per collector; never blocks the capture.
//! - [`agent`]: which events become which packets (correlation ids included).
//! - [`rtcp`]: an RTCP datagram as heplify's JSON (type 5).
//! - [`listen`]: HEP packets received as frames of a capture.

pub mod agent;
pub mod listen;
pub mod rtcp;
pub mod sender;
pub mod wire;
