//! Compiles every analyzer crate for wasm32-wasip1 in release mode (no debug info), writes their
//! paths, and embeds their bytes for the runner binary.

/// The analyzer packages and their source folders, relative to this crate.
const ANALYZERS: &[(&str, &str)] = &[
    ("analyzer-eml-parser", "../eml-parser"),
    ("analyzer-file-info", "../file-info"),
    ("analyzer-safelinks-decoder", "../safelinks-decoder"),
    ("analyzer-validate-observable", "../validate-observable"),
];

fn main() {
    // Every analyzer links the SDK: a change there changes every module.
    println!("cargo::rerun-if-changed=../sdk");
    let mut modules = Vec::new();
    for (package, dir) in ANALYZERS {
        let built = guest_build::GuestBuild::new(*package, *dir)
            .release(true)
            .build()
            .unwrap_or_else(|e| {
                guest_build::fail(
                    &format!("building analyzer {package} for wasm32-wasip1"),
                    &e,
                )
            });
        modules.extend(built);
    }
    modules.sort_by(|a, b| a.name.cmp(&b.name));
    guest_build::write_constants(&modules, "analyzers")
        .unwrap_or_else(|e| guest_build::fail("writing the analyzer module constants", &e));
    guest_build::write_embedded(&modules, "analyzers")
        .unwrap_or_else(|e| guest_build::fail("writing the embedded analyzer modules", &e));
}
