//! Compiles every analyzer crate in release mode (no debug info): the offline ones for
//! wasm32-wasip1 (core modules), the network ones for wasm32-wasip2 (components, for wasi-http).
//! Copies them into one folder, writes their paths, and embeds their bytes for the runner binary.

use std::path::PathBuf;

/// The analyzer packages, their source folders (relative to this crate) and their targets.
const ANALYZERS: &[(&str, &str, &str)] = &[
    ("analyzer-eml-parser", "../eml-parser", guest_build::TARGET),
    ("analyzer-file-info", "../file-info", guest_build::TARGET),
    (
        "analyzer-safelinks-decoder",
        "../safelinks-decoder",
        guest_build::TARGET,
    ),
    (
        "analyzer-validate-observable",
        "../validate-observable",
        guest_build::TARGET,
    ),
    ("analyzer-abuseipdb", "../abuseipdb", guest_build::TARGET_P2),
    ("analyzer-urlhaus", "../urlhaus", guest_build::TARGET_P2),
    ("analyzer-greynoise", "../greynoise", guest_build::TARGET_P2),
];

fn main() {
    // Every analyzer links the SDK: a change there changes every module.
    println!("cargo::rerun-if-changed=../sdk");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // Each target builds into its own folder; the runner and the tests want one folder holding
    // every built-in analyzer (`module_dir`).
    let modules_dir = out_dir.join("modules");
    if let Err(e) = std::fs::create_dir_all(&modules_dir) {
        println!("cargo::error=cannot create {}: {e}", modules_dir.display());
        std::process::exit(0);
    }
    let mut modules = Vec::new();
    for (package, dir, target) in ANALYZERS {
        let built = guest_build::GuestBuild::new(*package, *dir)
            .target(target)
            .release(true)
            .build()
            .unwrap_or_else(|e| {
                guest_build::fail(&format!("building analyzer {package} for {target}"), &e)
            });
        for mut guest in built {
            let copy = modules_dir.join(format!("{}.wasm", guest.name));
            if let Err(e) = std::fs::copy(&guest.path, &copy) {
                println!(
                    "cargo::error=cannot copy {} to {}: {e}",
                    guest.path.display(),
                    copy.display()
                );
                std::process::exit(0);
            }
            guest.path = copy;
            modules.push(guest);
        }
    }
    modules.sort_by(|a, b| a.name.cmp(&b.name));
    guest_build::write_constants(&modules, "analyzers")
        .unwrap_or_else(|e| guest_build::fail("writing the analyzer module constants", &e));
    guest_build::write_embedded(&modules, "analyzers")
        .unwrap_or_else(|e| guest_build::fail("writing the embedded analyzer modules", &e));
}
