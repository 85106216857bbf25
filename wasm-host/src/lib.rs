//! The wasmtime sandbox that runs one WASI command — a preview-1 module (`wasm32-wasip1`) or a
//! WASI 0.2 component (`wasm32-wasip2`) — on one job folder.
//!
//! A [`Sandbox`] is long-lived: it owns the wasmtime engine, the epoch ticker that drives
//! timeouts, and a cache of compiled modules keyed by content hash (optionally backed by an
//! on-disk directory of precompiled modules). [`Sandbox::load`] turns a `.wasm` file into a
//! [`Module`]; [`Sandbox::run`] runs it on one input directory (read-only, `/job/input`) and one
//! output directory (read-write, `/job/output`) under the [`Limits`] of a [`RunSpec`] and returns a
//! [`RunRecord`]: how the guest ended ([`Outcome`]), which limit fired ([`LimitExceeded`]), the
//! tails of stdout and stderr ([`Captured`]), wall time, fuel used and peak memory.
//!
//! The crate knows nothing of Cortex reports: it only knows "a module", "an input and an output
//! directory" and "limits". The guest sees argv `[<module name>, "/job"]`, a closed stdin, only the
//! environment the caller passes, and no other host path.

mod capture;
mod component;
mod config;
mod disk_cache;
mod error;
mod fd_cap;
mod limiter;
mod module_cache;
pub mod net;
mod poll;
mod record;
mod rlimit;
mod sandbox;

pub use config::{Limits, RunSpec, SandboxConfig};
pub use disk_cache::default_cache_dir;
pub use error::{Error, Result};
pub use module_cache::{CacheStats, Module, ModuleKind, is_component};
pub use net::{NetworkPolicy, NetworkStats};
pub use record::{Captured, LimitExceeded, Outcome, RunRecord};
pub use rlimit::raise_open_files_limit;
pub use sandbox::{GUEST_INPUT_DIR, GUEST_JOB_DIR, GUEST_OUTPUT_DIR, Sandbox};
