//! Integration tests for miniapp live in `integration/`; `build.rs` builds the Rust
//! guests they run (the samples and `guests/probe`) once per test build.
