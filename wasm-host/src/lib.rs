//! The wasmtime sandbox.
