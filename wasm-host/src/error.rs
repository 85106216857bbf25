//! Host-side failures of the sandbox: the module or the directories could not be used. A guest
//! that misbehaves is not an error; it is an [`Outcome`](crate::Outcome) of its run.

use std::path::PathBuf;

/// Why the sandbox could not load a module or start a run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The wasmtime engine could not be created with this configuration.
    #[error(
        "could not create the wasm engine: {0} (on hosts that limit virtual memory, turn \
         pooling off)"
    )]
    Engine(String),
    /// The module file could not be read.
    #[error("could not read module {}: {source}", path.display())]
    ReadModule {
        /// The module file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The bytes are not a valid WebAssembly module.
    #[error("module {name} is not a valid WebAssembly module: {message}")]
    InvalidModule {
        /// The module's name (its file stem).
        name: String,
        /// wasmtime's explanation.
        message: String,
    },
    /// The module imports something the sandbox does not provide (only
    /// `wasi_snapshot_preview1` is available).
    #[error(
        "module {name} cannot be linked: {message} (the sandbox provides only \
         wasi_snapshot_preview1; build for wasm32-wasip1)"
    )]
    Link {
        /// The module's name.
        name: String,
        /// wasmtime's explanation.
        message: String,
    },
    /// The module exports no `_start` function: it is a library, not a WASI command.
    #[error("module {name} exports no `_start` function: build it as a binary (a WASI command)")]
    NotACommand {
        /// The module's name.
        name: String,
    },
    /// The component does not export `wasi:cli/run`: it is not a WASI 0.2 command.
    #[error(
        "component {name} does not export wasi:cli/run: build it as a binary for wasm32-wasip2 (a \
         WASI command)"
    )]
    NotACommandComponent {
        /// The component's name.
        name: String,
    },
    /// The module exports `_start`, but not as a function `() -> ()`: it is not a WASI command.
    /// `found` says what it is: "a global", "a memory", "a table", "a tag" or "a function
    /// (i32) -> i32".
    #[error(
        "module {name} exports `_start` as {found}; a WASI command exports `_start` as a \
         function () -> ()"
    )]
    BadStart {
        /// The module's name.
        name: String,
        /// What `_start` is.
        found: String,
    },
    /// The precompiled-module cache directory could be written by someone else: its files run as
    /// native code.
    #[error(
        "refusing the precompiled-module cache directory {}: {reason}; its files are loaded as \
         native code, so it must belong to the user running the sandbox and be writable by no \
         one else",
        path.display()
    )]
    UnsafeCacheDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it, e.g. "its mode 0777 lets every user write into it (chmod 700
        /// it)".
        reason: String,
    },
    /// A job directory could not be opened for preopening.
    #[error("could not open {} for the guest: {message}", path.display())]
    OpenDir {
        /// The host directory.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The run asks for a fuel limit on a sandbox built without fuel metering.
    #[error("a fuel limit needs a sandbox with fuel metering: set SandboxConfig::fuel_metering")]
    FuelNotEnabled,
    /// The run could not be set up (store, fuel) for a reason internal to wasmtime.
    #[error("could not set up the run: {0}")]
    Setup(String),
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
