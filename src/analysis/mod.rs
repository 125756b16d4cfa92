//! Analysis of what was captured: RTP stream quality ([`rtp`]), its sequence accounting
//! ([`seq`]) and the E-model ([`quality`]).

pub mod quality;
pub mod rtp;
pub mod seq;
