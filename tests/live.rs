//! Live capture tests (see live.rs)
