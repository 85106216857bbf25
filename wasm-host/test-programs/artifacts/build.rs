//! Compiles every binary of the `test-programs` crate for wasm32-wasip1 and of the
//! `test-programs-p2` crate for wasm32-wasip2 (components), and writes their paths.

fn main() {
    let guests = guest_build::GuestBuild::new("test-programs", "..")
        .build()
        .unwrap_or_else(|e| guest_build::fail("building the test programs", &e));
    guest_build::write_constants(&guests, "test_programs")
        .unwrap_or_else(|e| guest_build::fail("writing the test program constants", &e));
    let components = guest_build::GuestBuild::new("test-programs-p2", "../../test-programs-p2")
        .target(guest_build::TARGET_P2)
        .build()
        .unwrap_or_else(|e| guest_build::fail("building the component test programs", &e));
    guest_build::write_constants(&components, "test_programs_p2")
        .unwrap_or_else(|e| guest_build::fail("writing the component test program constants", &e));
}
