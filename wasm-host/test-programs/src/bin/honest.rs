//! Placeholder removed when the first program lands.
fn main() {}
