//! Analysis of what was captured: RTP stream quality ([`rtp`]), its sequence accounting
//! ([`seq`]) and the E-model ([`quality`]); signalling statistics and KPIs ([`stats`]).

pub mod quality;
pub mod rtp;
pub mod seq;
pub mod stats;
