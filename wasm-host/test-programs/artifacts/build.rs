//! Compiles every binary of the `test-programs` crate for wasm32-wasip1 and writes their paths.

fn main() {
    let guests = guest_build::GuestBuild::new("test-programs", "..")
        .build()
        .unwrap_or_else(|e| guest_build::fail("building the test programs", &e));
    guest_build::write_constants(&guests, "test_programs")
        .unwrap_or_else(|e| guest_build::fail("writing the test program constants", &e));
}
