//! Runs the nested `cargo build --target wasm32-wasip1` and collects the binaries it produced.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{Error, Result};

/// The default compilation target of a guest (a WASI preview-1 module).
pub const TARGET: &str = "wasm32-wasip1";

/// The target of WASI 0.2 components (guests that use `wasi:http`).
pub const TARGET_P2: &str = "wasm32-wasip2";

/// Environment variables of the outer build that must not leak into the guest build: flags and
/// wrappers meant for the host target (clippy's driver, coverage instrumentation) break or slow a
/// wasm build.
const SCRUBBED_ENV: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTC_WRAPPER",
    "CARGO_LLVM_COV",
    "LLVM_PROFILE_FILE",
];

/// One compiled guest program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guest {
    /// The binary's name as cargo knows it (`src/bin/<name>.rs`), e.g. `memory-bomb`.
    pub name: String,
    /// Absolute path of the compiled `.wasm` file.
    pub path: PathBuf,
}

/// A build of one guest package for `wasm32-wasip1`.
#[derive(Debug, Clone)]
pub struct GuestBuild {
    package: String,
    source_dir: PathBuf,
    release: bool,
    target: &'static str,
}

impl GuestBuild {
    /// Builds the binaries of workspace package `package`, whose sources live in `source_dir`
    /// (relative paths are taken from the calling crate's manifest directory). Cargo re-runs the
    /// build script whenever anything under `source_dir` changes.
    ///
    /// Guests are built in release mode by default: they are the code under measurement, and a
    /// debug build of a JSON parser runs an order of magnitude slower inside the sandbox.
    pub fn new(package: impl Into<String>, source_dir: impl Into<PathBuf>) -> Self {
        Self {
            package: package.into(),
            source_dir: source_dir.into(),
            release: true,
            target: TARGET,
        }
    }

    /// Chooses the release (default) or the dev profile for the guest build.
    pub fn release(mut self, release: bool) -> Self {
        self.release = release;
        self
    }

    /// Chooses the target: [`TARGET`] (default, core modules) or [`TARGET_P2`] (components).
    pub fn target(mut self, target: &'static str) -> Self {
        self.target = target;
        self
    }

    /// Runs the build and returns every binary of the package, sorted by name. Fails at once,
    /// before compiling anything, when the toolchain lacks the target ([`crate::check_target`]).
    pub fn build(&self) -> Result<Vec<Guest>> {
        crate::check_target_named(self.target)?;
        let manifest_dir = env_path("CARGO_MANIFEST_DIR")?;
        let out_dir = env_path("OUT_DIR")?;
        let cargo = std::env::var_os("CARGO").ok_or(Error::MissingEnv("CARGO"))?;
        let source_dir = manifest_dir.join(&self.source_dir);
        println!("cargo:rerun-if-changed={}", source_dir.display());

        let mut cmd = Command::new(cargo);
        for name in SCRUBBED_ENV {
            cmd.env_remove(name);
        }
        // Profile and build settings meant for the host build (set by a developer or by cargo for
        // the outer build) would change the guests; the ones this build needs are set below.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("CARGO_PROFILE_") || name.starts_with("CARGO_BUILD_") {
                cmd.env_remove(&*name);
            }
        }
        cmd.current_dir(&manifest_dir)
            .args(["build", "--target", self.target, "--package", &self.package])
            .args(["--message-format", "json-render-diagnostics"])
            .env("CARGO_TARGET_DIR", guest_target_dir(&out_dir))
            // Debug info makes a guest several times larger, and every byte is hashed and
            // compiled by the sandbox; the name section stays for readable trap backtraces.
            .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
            .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if self.release {
            cmd.arg("--release");
        }
        let mut child = cmd.spawn().map_err(Error::Spawn)?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut guests = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(Error::Spawn)?;
            if let Some(guest) = parse_artifact(&line)? {
                guests.push(guest);
            }
        }
        let status = child.wait().map_err(Error::Spawn)?;
        if !status.success() {
            return Err(Error::BuildFailed(self.target, status));
        }
        if guests.is_empty() {
            return Err(Error::NoBinaries(self.package.clone()));
        }
        guests.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(guests)
    }
}

fn env_path(name: &'static str) -> Result<PathBuf> {
    std::env::var_os(name)
        .map(PathBuf::from)
        .ok_or(Error::MissingEnv(name))
}

/// `<target>/wasm-guests`, where `<target>` is the outer build's target directory (honouring
/// `CARGO_TARGET_DIR`): `OUT_DIR` is `<target>/<profile>/build/<crate>-<hash>/out`. Keeping the
/// guests beside the outer build (instead of inside `OUT_DIR`, which changes with every
/// fingerprint) lets `check`, `clippy`, `test` and `--release` share one guest build; the nested
/// cargo locks only this directory, never the one the outer cargo holds.
fn guest_target_dir(out_dir: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join("wasm-guests");
    }
    out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map(|target_dir| target_dir.join("wasm-guests"))
        .unwrap_or_else(|| out_dir.join("wasm-guests"))
}

/// Reads one line of cargo's JSON output and returns the binary it announces, if any. Only the
/// requested package's binaries can appear: cargo builds the library targets of dependencies only.
fn parse_artifact(line: &str) -> Result<Option<Guest>> {
    let message: serde_json::Value =
        serde_json::from_str(line).map_err(|_| Error::BadMessage(line.to_owned()))?;
    if message["reason"] != "compiler-artifact" {
        return Ok(None);
    }
    let is_bin = message["target"]["kind"]
        .as_array()
        .is_some_and(|kinds| kinds.iter().any(|k| k == "bin"));
    match (
        is_bin,
        message["target"]["name"].as_str(),
        message["executable"].as_str(),
    ) {
        (true, Some(name), Some(path)) => Ok(Some(Guest {
            name: name.to_owned(),
            path: PathBuf::from(path),
        })),
        _ => Ok(None),
    }
}
