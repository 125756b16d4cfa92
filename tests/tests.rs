//! Integration tests, built as one binary.

mod cli;
mod correlation;
mod corpus;
mod live;
mod props;
mod support;
mod threads;
