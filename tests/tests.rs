//! Integration tests, built as one binary.

mod cli;
mod corpus;
mod live;
mod support;
mod threads;
