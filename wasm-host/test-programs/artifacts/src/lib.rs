//! Paths of the guest test programs (`wasm-host/test-programs/src/bin/*.rs`), compiled for
//! `wasm32-wasip1` by this crate's build script: one `pub const <NAME>: &str` per program, [`ALL`],
//! and the `foreach_test_programs!` macro that lets a test file demand one test per program.

include!(concat!(env!("OUT_DIR"), "/test_programs.rs"));

/// Paths of the WASI 0.2 guest components (`wasm-host/test-programs-p2/src/bin/*.rs`), compiled
/// for `wasm32-wasip2`: `HTTP_PROBE`, `P2_HONEST`, [`p2::ALL`].
pub mod p2 {
    include!(concat!(env!("OUT_DIR"), "/test_programs_p2.rs"));
}
