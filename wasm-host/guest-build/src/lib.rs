//! Build-script helper that compiles a guest crate's binaries for `wasm32-wasip1` and writes one
//! path constant per binary, so the ordinary `cargo build` / `cargo test` builds every wasm program
//! the workspace needs without a manual step (the model is wasmtime's
//! `crates/test-programs/artifacts/build.rs`).
//!
//! Use it from a `build.rs`:
//!
//! ```no_run
//! let guests = guest_build::GuestBuild::new("test-programs", "../")
//!     .build()
//!     .unwrap_or_else(|e| guest_build::fail("building the guest programs", &e));
//! guest_build::write_constants(&guests, "test_programs")
//!     .unwrap_or_else(|e| guest_build::fail("writing the constants", &e));
//! ```
//!
//! and in the crate: `include!(concat!(env!("OUT_DIR"), "/test_programs.rs"));`
//! ([`write_embedded`] also embeds the modules' bytes, for a binary that ships them).
//!
//! Before compiling anything, the build checks that the toolchain has the `wasm32-wasip1`
//! standard library ([`check_target`]) and otherwise fails in seconds naming the command to run.
//! The nested `cargo` runs with its own target directory (`<target>/wasm-guests`), so it never
//! waits on the lock the outer `cargo` holds, and it shares the outer build's jobserver. It builds
//! without debug info (`debug = false`, `strip = "debuginfo"`), whatever the workspace's profile
//! says: only the name section stays, for readable trap backtraces.

mod cargo;
mod constants;
mod target;

pub use cargo::{Guest, GuestBuild, TARGET, TARGET_P2};
pub use constants::{render_constants, render_embedded, write_constants, write_embedded};
pub use target::{
    INSTALL_COMMAND, check_sysroot, check_sysroot_for, check_target, check_target_named,
};

/// Ends the build script on `error`: prints it as one `cargo::error=` line and exits. Cargo shows
/// it as `error: <package>: <context>: <error>` followed by "build script logged errors", and
/// fails the build (status 101) because of the logged error. The script exits with status 0 on
/// purpose: a non-zero status, like a panic, makes cargo add a backtrace hint and a dump of the
/// script's whole output around the one line that matters.
pub fn fail(context: &str, error: &Error) -> ! {
    let message = format!("{context}: {error}").replace('\n', " ");
    println!("cargo::error={message}");
    std::process::exit(0)
}

/// Why building the guests or writing their constants failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A build-script environment variable cargo always sets is missing: the helper was not
    /// called from a build script.
    #[error("environment variable {0} is not set: call guest-build from a build script")]
    MissingEnv(&'static str),
    /// The toolchain has no standard library for the guests' target.
    #[error(
        "the Rust standard library for {target} is not installed in {}{}, and the built-in \
         analyzers and test programs are compiled for it: run `rustup target add {target}` \
         in this repository, then build again",
        sysroot.display(),
        toolchain.as_ref().map(|t| format!(" (toolchain {t})")).unwrap_or_default()
    )]
    TargetMissing {
        /// The target whose library is missing.
        target: &'static str,
        /// The sysroot of the compiler cargo uses.
        sysroot: std::path::PathBuf,
        /// `$RUSTUP_TOOLCHAIN`, when rustup chose the toolchain.
        toolchain: Option<String>,
    },
    /// The compiler's sysroot could not be asked for.
    #[error("could not ask {} for its sysroot: {problem}", rustc.display())]
    Sysroot {
        /// The compiler (`$RUSTC`, else `rustc`).
        rustc: std::path::PathBuf,
        /// What went wrong.
        problem: String,
    },
    /// The nested `cargo` could not be started.
    #[error("could not start cargo for the guest build: {0}")]
    Spawn(#[source] std::io::Error),
    /// The nested `cargo build` failed; its diagnostics are on the build script's stderr.
    #[error("cargo build --target {0} failed ({1}); its errors are above")]
    BuildFailed(&'static str, std::process::ExitStatus),
    /// The nested `cargo` printed a message that is not the JSON it documents.
    #[error("unexpected cargo JSON message: {0}")]
    BadMessage(String),
    /// The package built no binary, so there is nothing to expose.
    #[error("package {0} built no binary: add one under src/bin/ or check the package name")]
    NoBinaries(String),
    /// Writing the generated constants file failed.
    #[error("could not write {}: {source}", path.display())]
    Write {
        /// The file that could not be written.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
