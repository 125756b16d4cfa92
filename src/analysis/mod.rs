//! Analysis of what was captured: RTP stream quality ([`rtp`]).

pub mod quality;
pub mod rtp;
