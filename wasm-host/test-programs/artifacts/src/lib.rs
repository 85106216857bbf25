//! Paths of the guest test programs (`wasm-host/test-programs/src/bin/*.rs`), compiled for
//! `wasm32-wasip1` by this crate's build script: one `pub const <NAME>: &str` per program, [`ALL`],
//! and the `foreach_test_programs!` macro that lets a test file demand one test per program.

include!(concat!(env!("OUT_DIR"), "/test_programs.rs"));
