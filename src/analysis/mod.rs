//! Analysis of what was captured: RTP stream quality ([`rtp`]), its sequence accounting
//! ([`seq`]), simulated jitter buffers ([`playout`]), time series ([`series`]), what RTCP reports ([`rtcp`]) and the
//! E-model ([`quality`]); signalling statistics and KPIs ([`stats`], their delays in a bounded
//! [`sample`], load over time in [`load`]); anomaly detectors ([`alerts`]).

pub mod alerts;
#[cfg(feature = "tables")]
pub mod cuts;
#[cfg(feature = "tables")]
pub mod load;
pub mod media;
pub mod playout;
pub mod quality;
pub mod rtcp;
pub mod rtp;
pub mod sample;
pub mod seq;
pub mod series;
#[cfg(feature = "tables")]
pub mod stats;
