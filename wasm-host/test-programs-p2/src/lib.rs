//! WASI 0.2 guest components for the sandbox's tests; see `src/bin/`. Built for
//! `wasm32-wasip2` by `test-programs/artifacts`; on other targets the binaries do nothing.
