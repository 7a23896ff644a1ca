//! Integration tests: real guests (the samples, the Rust probe, hand-written WAT
//! attackers) run through the real host library on a temporary data directory.

mod abi_doc;
mod common;
mod concurrency;
mod containment;
mod hello;
mod hostile;
mod identity;
mod link;
mod link_safety;
mod load;
mod module_files;
mod multihost;
mod payment;
mod program_identity;
mod refund;
mod storage;
mod views;
