//! cortex-runner binary.
fn main() {}
