//! Analysis of what was captured: RTP stream quality ([`rtp`]).

pub mod rtp;
