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
//!     .expect("build the guest programs");
//! guest_build::write_constants(&guests, "test_programs").expect("write the constants");
//! ```
//!
//! and in the crate: `include!(concat!(env!("OUT_DIR"), "/test_programs.rs"));`.
//!
//! The nested `cargo` runs with its own target directory (`<target>/<profile>/wasm-guests`), so it
//! never waits on the lock the outer `cargo` holds, and it shares the outer build's jobserver.

mod cargo;
mod constants;

pub use cargo::{Guest, GuestBuild};
pub use constants::{render_constants, write_constants};

/// Why building the guests or writing their constants failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A build-script environment variable cargo always sets is missing: the helper was not
    /// called from a build script.
    #[error("environment variable {0} is not set: call guest-build from a build script")]
    MissingEnv(&'static str),
    /// The nested `cargo` could not be started.
    #[error("could not start cargo for the guest build: {0}")]
    Spawn(#[source] std::io::Error),
    /// The nested `cargo build` failed; its diagnostics are on the build script's stderr.
    #[error(
        "cargo build --target wasm32-wasip1 failed ({0}); its errors are above \
         (is the target installed? `rustup target add wasm32-wasip1`)"
    )]
    BuildFailed(std::process::ExitStatus),
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
