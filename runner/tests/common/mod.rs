//! What the CLI tests share: the repository's root, and a `config.toml` in a scratch directory
//! with job folders in `jobs/`, the module cache every CLI test shares (so that each module
//! compiles once), and the shipped policies or a test's own.

// Each test binary uses some of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The workspace's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `dir/config.toml` with the shipped policies, and `jobs` lines added to `[jobs]`.
pub fn config(dir: &Path, jobs: &str) -> PathBuf {
    config_with(dir, &repo().join("policies"), jobs, "")
}

/// `dir/config.toml` with the policies in `policies`, and `jobs` and `wasm` lines added to
/// `[jobs]` and `[wasm]`.
pub fn config_with(dir: &Path, policies: &Path, jobs: &str, wasm: &str) -> PathBuf {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-module-cache");
    let text = format!(
        "[jobs]\nroot = {:?}\n{jobs}\n[policies]\ndir = {:?}\n[wasm]\ncache_dir = {:?}\n{wasm}\n",
        dir.join("jobs").display().to_string(),
        policies.display().to_string(),
        cache.display().to_string(),
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}
