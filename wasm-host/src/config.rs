//! Sandbox-wide configuration and per-run specification, with every default in one place.

use std::path::PathBuf;
use std::time::Duration;

/// One mebibyte.
const MIB: u64 = 1 << 20;

/// Configuration of a [`Sandbox`](crate::Sandbox), fixed for its lifetime.
///
/// | field | default |
/// | --- | --- |
/// | `cache_dir` | `None` (compile in memory only; see [`default_cache_dir`](crate::default_cache_dir)) |
/// | `cache_max_bytes` | 1 GiB |
/// | `fuel_metering` | `false` |
/// | `epoch_tick` | 1 ms |
/// | `max_concurrent` | 64 |
/// | `pooling` | `true` |
/// | `max_open_files` | 256 |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// A directory of precompiled modules (`<sha256 of wasm>-<engine key>.cwasm`) that survives
    /// restarts. Created (mode 0700) if missing. Its files are loaded as native code, so the
    /// sandbox refuses a directory that is not the current user's or that its group or others
    /// can write. Entries of other engine versions or settings are pruned (see
    /// `cache_max_bytes` for the size bound).
    pub cache_dir: Option<PathBuf>,
    /// How many bytes of this engine's precompiled modules `cache_dir` keeps; beyond it the least
    /// recently used are removed (a typical module is 5 to 30 MB precompiled).
    pub cache_max_bytes: u64,
    /// Compile fuel metering into every module, so that [`Limits::fuel`] can be enforced and
    /// [`RunRecord::fuel_used`](crate::RunRecord::fuel_used) reported. It slows guest code a little
    /// and changes the compiled code, so it is an engine-wide choice.
    pub fuel_metering: bool,
    /// How often the epoch advances. A running guest yields to the async runtime at every tick,
    /// so this bounds both how long one guest holds a worker thread and how late a timeout fires.
    pub epoch_tick: Duration,
    /// How many guests may run at once; further runs wait for a free slot before their timeout
    /// starts. With pooling this is also the number of pre-reserved instance slots.
    pub max_concurrent: usize,
    /// Use wasmtime's pooling instance allocator (pre-reserved slots with copy-on-write memory):
    /// instantiation in microseconds, at the price of a large virtual-address reservation (about
    /// 4 GiB per slot, not resident). Turn it off on hosts that limit virtual memory.
    pub pooling: bool,
    /// How many files and directories one guest may hold open at once, beyond its two preopened
    /// directories. At the cap, `path_open` answers `EMFILE` (errno 33) and the run records a
    /// warning ([`RunRecord::warnings`](crate::RunRecord::warnings)), so that one guest cannot
    /// take the process's descriptors from the other runs in it.
    pub max_open_files: u32,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            cache_max_bytes: 1 << 30,
            fuel_metering: false,
            epoch_tick: Duration::from_millis(1),
            max_concurrent: 64,
            pooling: true,
            max_open_files: 256,
        }
    }
}

/// The limits of one run; each one that fires yields its own
/// [`LimitExceeded`](crate::LimitExceeded).
///
/// | field | default |
/// | --- | --- |
/// | `memory_bytes` | 256 MiB |
/// | `timeout` | 60 s |
/// | `fuel` | `None` (unlimited) |
/// | `stdout_bytes`, `stderr_bytes` | 1 MiB each |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Maximum size of the guest's linear memory.
    pub memory_bytes: u64,
    /// Wall-clock limit from instantiation to exit; it also stops a guest blocked in a host call
    /// such as `sleep`.
    pub timeout: Duration,
    /// Fuel (roughly, wasm instructions) the guest may burn; needs
    /// [`SandboxConfig::fuel_metering`].
    pub fuel: Option<u64>,
    /// How many bytes of the end of stdout are kept; earlier output is dropped and counted.
    pub stdout_bytes: usize,
    /// How many bytes of the end of stderr are kept; earlier output is dropped and counted.
    pub stderr_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 256 * MIB,
            timeout: Duration::from_secs(60),
            fuel: None,
            stdout_bytes: MIB as usize,
            stderr_bytes: MIB as usize,
        }
    }
}

/// What one run gets: its two directories, its environment and its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSpec {
    /// Host directory preopened read-only at `/job/input`.
    pub input_dir: PathBuf,
    /// Host directory preopened read-write at `/job/output`.
    pub output_dir: PathBuf,
    /// The guest's whole environment, in order; nothing of the host's is inherited.
    pub env: Vec<(String, String)>,
    /// The run's limits.
    pub limits: Limits,
    /// What a component may reach over HTTP; `None` denies every request. A core module has no
    /// network whatever this says.
    pub network: Option<crate::NetworkPolicy>,
}

impl RunSpec {
    /// A run on `input_dir` and `output_dir` with an empty environment and default limits.
    pub fn new(input_dir: impl Into<PathBuf>, output_dir: impl Into<PathBuf>) -> Self {
        Self {
            input_dir: input_dir.into(),
            output_dir: output_dir.into(),
            env: Vec::new(),
            limits: Limits::default(),
            network: None,
        }
    }
}
