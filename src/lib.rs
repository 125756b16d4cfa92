//! sipscope: a SIP traffic analyzer and passive monitor.
//!
//! The library does all the work; the `sipscope` binary is a thin layer over it. Data flows
//! through one module per stage (../shared/ARCHITECTURE.md):
//!
//! ```text
//! capture ─Frame─▶ decode ─Packet─▶ reassembly ─SipBytes─▶ sip ─SipMessage─▶ correlate
//!         ─Output─▶ session ─Event─▶ sinks (commands, report)
//! ```
//! [`pipeline`] runs the stages on threads; each stage is usable on its own.

#![forbid(unsafe_code)]

pub mod analysis;
pub mod capture;
pub mod correlate;
pub mod decode;
pub mod export;
#[doc(hidden)]
pub mod fuzzing;
pub mod hep;
pub mod output;
pub mod pipeline;
pub mod reassembly;
pub mod render;
#[cfg(feature = "tables")]
pub mod report;
pub mod session;
pub mod sip;
#[cfg(test)]
mod testutil;
pub mod time;
