//! Integration tests, built as one binary.

mod cli;
mod corpus;
mod correlation;
mod dataset;
mod export;
mod fields;
mod filters;
mod fuzz_replay;
mod golden;
mod grammar;
mod gtpu;
mod hostile_capture;
mod hostile_reassembly;
mod ladder;
mod live;
mod live_latency;
mod monitor;
mod props;
mod report;
mod rtp;
mod safety;
mod sctp;
mod stats;
mod support;
mod threads;
mod tui_live;
