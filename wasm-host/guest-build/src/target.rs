//! Checks, before any compilation, that the Rust standard library for `wasm32-wasip1` is installed
//! for the toolchain the outer build uses: without it the nested build fails only after minutes
//! of compiling the host crates, with an error that does not say what to do.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cargo::TARGET;
use crate::{Error, Result};

/// The one command that installs the missing target (rustup reads `rust-toolchain.toml`).
pub const INSTALL_COMMAND: &str = "rustup target add wasm32-wasip1";

/// Checks that the toolchain of this build has the `wasm32-wasip1` standard library: asks the
/// compiler cargo uses (`$RUSTC`, which honours `RUSTUP_TOOLCHAIN`, else `rustc`) for its sysroot
/// and looks in it with [`check_sysroot`].
pub fn check_target() -> Result<()> {
    check_target_named(TARGET)
}

/// Like [`check_target`], for `target` (e.g. `wasm32-wasip2`).
pub fn check_target_named(target: &'static str) -> Result<()> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|source| Error::Sysroot {
            rustc: PathBuf::from(&rustc),
            problem: source.to_string(),
        })?;
    if !output.status.success() {
        return Err(Error::Sysroot {
            rustc: PathBuf::from(&rustc),
            problem: format!(
                "`--print sysroot` failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    let sysroot = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    check_sysroot_for(Path::new(&sysroot), target)
}

/// Checks that `sysroot` holds the `wasm32-wasip1` standard library
/// (`<sysroot>/lib/rustlib/wasm32-wasip1/lib`).
pub fn check_sysroot(sysroot: &Path) -> Result<()> {
    check_sysroot_for(sysroot, TARGET)
}

/// Checks that `sysroot` holds the standard library of `target`.
pub fn check_sysroot_for(sysroot: &Path, target: &'static str) -> Result<()> {
    let lib = sysroot.join("lib").join("rustlib").join(target).join("lib");
    if lib.is_dir() {
        return Ok(());
    }
    Err(Error::TargetMissing {
        target,
        sysroot: sysroot.to_path_buf(),
        toolchain: std::env::var("RUSTUP_TOOLCHAIN").ok(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sysroot_with_the_wasm_standard_library_passes() {
        let dir = TempDir::new("sysroot");
        let sysroot = &dir.0;
        std::fs::create_dir_all(sysroot.join("lib/rustlib/wasm32-wasip1/lib")).unwrap();
        std::fs::create_dir_all(sysroot.join("lib/rustlib/x86_64-unknown-linux-gnu/lib")).unwrap();
        check_sysroot(sysroot).unwrap();
    }

    #[test]
    fn a_sysroot_without_it_fails_naming_the_command_to_run() {
        let dir = TempDir::new("sysroot");
        let sysroot = &dir.0;
        std::fs::create_dir_all(sysroot.join("lib/rustlib/x86_64-unknown-linux-gnu/lib")).unwrap();
        // A target folder without its library (an interrupted install) is not installed either.
        std::fs::create_dir_all(sysroot.join("lib/rustlib/wasm32-wasip1")).unwrap();
        let err = check_sysroot(sysroot).unwrap_err();
        let toolchain = std::env::var("RUSTUP_TOOLCHAIN")
            .map(|t| format!(" (toolchain {t})"))
            .unwrap_or_default();
        assert_eq!(
            err.to_string(),
            format!(
                "the Rust standard library for wasm32-wasip1 is not installed in {}{toolchain}, \
                 and the built-in analyzers and test programs are compiled for it: \
                 run `rustup target add wasm32-wasip1` in this repository, then build again",
                sysroot.display()
            )
        );
    }

    #[test]
    fn the_toolchain_building_this_crate_has_the_target() {
        // `cargo test` sets no $RUSTC for tests; `rustc` resolves through rustup like cargo's.
        check_target().unwrap();
    }

    /// A fresh folder under the system temporary directory, removed on drop (this crate is a
    /// build-dependency and keeps its dependencies, dev ones included, to the minimum).
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let dir =
                std::env::temp_dir().join(format!("guest-build-{tag}-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
