//! Integration tests, built as one binary.

mod cli;
mod corpus;
mod correlation;
mod filters;
mod golden;
mod hostile_reassembly;
mod ladder;
mod live;
mod live_latency;
mod monitor;
mod props;
mod report;
mod rtp;
mod stats;
mod support;
mod threads;
mod tui_live;
