//! The long-lived sandbox: one engine, one epoch ticker, one module cache; many concurrent runs.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, Linker, PoolingAllocationConfig, Store,
    Trap,
};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

use crate::capture::TailPipe;
use crate::component::{self, ComponentState};
use crate::fd_cap::{self, OpenFiles};
use crate::limiter::{Limiter, MemoryLimitHit};
use crate::module_cache::{CacheStats, Module, ModuleCache, Pre};
use crate::poll::{self, GuestMonotonicClock};
use crate::record::{LimitExceeded, Outcome, RunRecord};
use crate::{Error, Result, RunSpec, SandboxConfig};

/// The job folder as the guest sees it, passed as `argv[1]`.
pub const GUEST_JOB_DIR: &str = "/job";
/// Where the run's input directory appears, read-only.
pub const GUEST_INPUT_DIR: &str = "/job/input";
/// Where the run's output directory appears, read-write.
pub const GUEST_OUTPUT_DIR: &str = "/job/output";

/// How much of each pooled linear memory and table stays resident between runs (see
/// `Sandbox::new`): the first 4 MiB, which covers the stack, data and early heap of a small
/// analyzer; the rest is returned to the kernel after each run as before.
const KEEP_RESIDENT_BYTES: usize = 4 << 20;

/// The data of one run's store.
pub(crate) struct State {
    /// The guest's WASI context (`poll` and `fd_cap` call into it directly).
    pub(crate) wasi: WasiP1Ctx,
    limiter: Limiter,
    /// The open-file cap and how often it refused an open.
    pub(crate) open_files: OpenFiles,
    /// The guest's monotonic clock, for `poll::poll_oneoff`'s absolute deadlines.
    pub(crate) clock: GuestMonotonicClock,
}

/// Runs WASI preview-1 command modules, each in its own store, under per-run limits.
///
/// Cloning is cheap and shares everything. Runs need a tokio runtime.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<State>,
    component_linker: wasmtime::component::Linker<ComponentState>,
    modules: ModuleCache,
    slots: Semaphore,
    config: SandboxConfig,
    ticker_stop: Arc<AtomicBool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

impl Sandbox {
    /// Creates the engine, the WASI linker and the epoch ticker thread.
    pub fn new(config: SandboxConfig) -> Result<Self> {
        let mut wasm = Config::new();
        wasm.epoch_interruption(true)
            .consume_fuel(config.fuel_metering)
            .memory_init_cow(true);
        let engine = if config.pooling {
            let slots = u32::try_from(config.max_concurrent).unwrap_or(u32::MAX);
            let mut pool = PoolingAllocationConfig::new();
            // A component is a few core instances (see `limiter`): room for every slot to run
            // one, with two memories and four tables each.
            pool.total_core_instances(slots.saturating_mul(4))
                .total_memories(slots.saturating_mul(2))
                .total_tables(slots.saturating_mul(4))
                .total_stacks(slots)
                .max_unused_warm_slots(slots)
                // A slot's pages stay mapped between runs: only the pages a run dirtied (found
                // with Linux's PAGEMAP_SCAN where the kernel has it) are reset to the module's
                // image, instead of an `madvise` that makes the next run fault every page in.
                .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
                .table_keep_resident(KEEP_RESIDENT_BYTES)
                .pagemap_scan(Enabled::Auto);
            let mut pooled = wasm.clone();
            pooled.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
            match Engine::new(&pooled) {
                Ok(engine) => engine,
                Err(e) => {
                    // The pool reserves its address space up front; a host that caps virtual
                    // memory refuses it, and per-instance allocation still works there.
                    tracing::warn!(error = %format!("{e:#}"), slots, "pooling allocator unavailable, allocating per instance");
                    new_engine(&wasm)?
                }
            }
        } else {
            new_engine(&wasm)?
        };
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_async(&mut linker, |state: &mut State| &mut state.wasi)
            .map_err(|e| Error::Engine(format!("{e:#}")))?;
        poll::add_to_linker(&mut linker).map_err(|e| Error::Engine(format!("{e:#}")))?;
        fd_cap::add_to_linker(&mut linker).map_err(|e| Error::Engine(format!("{e:#}")))?;
        let component_linker =
            component::linker(&engine).map_err(|e| Error::Engine(format!("{e:#}")))?;
        let modules = ModuleCache::new(&engine, config.cache_dir.clone(), config.cache_max_bytes)?;
        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_ticker(engine.clone(), config.epoch_tick, ticker_stop.clone())?;
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                component_linker,
                modules,
                slots: Semaphore::new(config.max_concurrent.max(1)),
                config,
                ticker_stop,
            }),
        })
    }

    /// How the module cache has been used so far.
    pub fn cache_stats(&self) -> CacheStats {
        self.inner.modules.stats()
    }

    /// The configuration this sandbox was built with.
    pub fn config(&self) -> &SandboxConfig {
        &self.inner.config
    }

    /// Reads, compiles (once per content) and links the module at `path`; its name is the file
    /// stem. Compiling is CPU-bound: call it from `spawn_blocking` on a busy runtime.
    pub fn load(&self, path: &Path) -> Result<Module> {
        let bytes = std::fs::read(path).map_err(|source| Error::ReadModule {
            path: path.to_owned(),
            source,
        })?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "module".to_owned());
        self.load_bytes(&name, &bytes)
    }

    /// Like [`Sandbox::load`], for a module already in memory (wasm binary or text).
    pub fn load_bytes(&self, name: &str, bytes: &[u8]) -> Result<Module> {
        let inner = &self.inner;
        inner.modules.load(
            &inner.engine,
            (&inner.linker, &inner.component_linker),
            name,
            bytes,
        )
    }

    /// Runs `module` once under `spec`. A guest that traps, exits non-zero or hits a limit is a
    /// normal [`Outcome`]; an error means the run could not start (a directory cannot be opened,
    /// fuel asked of a sandbox without metering).
    pub async fn run(&self, module: &Module, spec: RunSpec) -> Result<RunRecord> {
        let limits = &spec.limits;
        if limits.fuel.is_some() && !self.inner.config.fuel_metering {
            return Err(Error::FuelNotEnabled);
        }
        let stdout = TailPipe::new(limits.stdout_bytes);
        let stderr = TailPipe::new(limits.stderr_bytes);
        let clock = GuestMonotonicClock {
            origin: Instant::now(),
        };
        match module.pre() {
            Pre::Core(pre) => {
                let wasi = wasi_context(module.name(), clock, &spec, &stdout, &stderr)?;
                let state = State {
                    wasi,
                    limiter: Limiter::new(limits.memory_bytes),
                    open_files: OpenFiles {
                        cap: self.inner.config.max_open_files,
                        refused: 0,
                    },
                    clock,
                };
                let store = self.store(state, |s| &mut s.limiter, limits.fuel)?;
                let ran = self
                    .execute(store, limits, async |store| {
                        let instance = pre.instantiate_async(&mut *store).await?;
                        let start = instance.get_typed_func::<(), ()>(&mut *store, "_start")?;
                        start.call_async(&mut *store, ()).await
                    })
                    .await;
                let (outcome, wall_time, fuel_used, store) = ran;
                Ok(RunRecord {
                    outcome,
                    stdout: stdout.captured(),
                    stderr: stderr.captured(),
                    wall_time,
                    fuel_used,
                    peak_memory_bytes: store.data().limiter.peak(),
                    warnings: store.data().open_files.warning().into_iter().collect(),
                    network: None,
                })
            }
            Pre::Component(pre) => {
                let state = component::state(
                    module.name(),
                    clock,
                    &spec,
                    &stdout,
                    &stderr,
                    Limiter::for_component(limits.memory_bytes),
                    self.inner.config.max_open_files,
                )?;
                let store = self.store(state, |s| &mut s.limiter, limits.fuel)?;
                let ran = self
                    .execute(store, limits, async |store| {
                        let command = pre.instantiate_async(&mut *store).await?;
                        match command.wasi_cli_run().call_run(&mut *store).await? {
                            Ok(()) => Ok(()),
                            // `run` returning its error result is exit status 1, as wasmtime's
                            // own CLI reports it.
                            Err(()) => Err(wasmtime::Error::new(I32Exit(1))),
                        }
                    })
                    .await;
                let (outcome, wall_time, fuel_used, store) = ran;
                let net = store.data().net_log();
                Ok(RunRecord {
                    outcome,
                    stdout: stdout.captured(),
                    stderr: stderr.captured(),
                    wall_time,
                    fuel_used,
                    peak_memory_bytes: store.data().limiter.peak(),
                    warnings: net.warnings(),
                    network: Some(net.stats()),
                })
            }
        }
    }

    /// A store for one run: the memory limiter, an epoch deadline that yields every tick, and the
    /// fuel.
    fn store<T: Send + 'static>(
        &self,
        state: T,
        limiter: fn(&mut T) -> &mut Limiter,
        fuel: Option<u64>,
    ) -> Result<(Store<T>, Option<u64>)> {
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(move |state| limiter(state) as &mut dyn wasmtime::ResourceLimiter);
        // Every epoch tick the guest yields to the runtime, which lets other runs progress on this
        // thread and lets the timeout below drop a guest that never calls the host.
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);
        let fuel_start = if self.inner.config.fuel_metering {
            let fuel = fuel.unwrap_or(u64::MAX);
            store
                .set_fuel(fuel)
                .map_err(|e| Error::Setup(format!("{e:#}")))?;
            Some(fuel)
        } else {
            None
        };
        Ok((store, fuel_start))
    }

    /// Takes a slot, runs `execution` under the timeout and names how it ended; returns the
    /// outcome, the wall time, the fuel used and the store (for its counters).
    async fn execute<T: HasLimiter + Send + 'static>(
        &self,
        (mut store, fuel_start): (Store<T>, Option<u64>),
        limits: &crate::Limits,
        execution: impl AsyncFnOnce(&mut Store<T>) -> wasmtime::Result<()>,
    ) -> (Outcome, Duration, Option<u64>, Store<T>) {
        // The slot is taken before the clock starts: waiting for one is not the guest's time.
        let _slot = self
            .inner
            .slots
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let started = Instant::now();
        let result = tokio::time::timeout(limits.timeout, execution(&mut store)).await;
        let wall_time = started.elapsed();
        let outcome = match result {
            Err(_elapsed) => Outcome::LimitExceeded(LimitExceeded::Timeout {
                limit: limits.timeout,
            }),
            Ok(Ok(())) => Outcome::Exited { code: 0 },
            Ok(Err(error)) => classify(error, store.data().limiter_ref(), limits.fuel),
        };
        let fuel_used = fuel_start.map(|start| start - store.get_fuel().unwrap_or(0));
        (outcome, wall_time, fuel_used, store)
    }
}

/// A store's data that has the run's memory limiter.
trait HasLimiter {
    fn limiter_ref(&self) -> &Limiter;
}

impl HasLimiter for State {
    fn limiter_ref(&self) -> &Limiter {
        &self.limiter
    }
}

impl HasLimiter for ComponentState {
    fn limiter_ref(&self) -> &Limiter {
        &self.limiter
    }
}

/// Builds a preview-1 guest's whole world ([`wasi_builder`]); its file operations run inline on
/// the calling thread instead of hopping to a blocking pool: job folders are local and small.
/// This is safe for timeouts only because `poll::poll_oneoff` replaces the one host call that
/// would then block the thread (`sleep`).
fn wasi_context(
    name: &str,
    clock: GuestMonotonicClock,
    spec: &RunSpec,
    stdout: &TailPipe,
    stderr: &TailPipe,
) -> Result<WasiP1Ctx> {
    let mut builder = wasi_builder(name, clock, spec, stdout, stderr)?;
    builder.allow_blocking_current_thread(true);
    Ok(builder.build_p1())
}

/// The world of every guest, module or component: two preopens, argv, the caller's environment,
/// captured output, closed stdin, no sockets.
pub(crate) fn wasi_builder(
    name: &str,
    clock: GuestMonotonicClock,
    spec: &RunSpec,
    stdout: &TailPipe,
    stderr: &TailPipe,
) -> Result<WasiCtxBuilder> {
    let mut builder = WasiCtxBuilder::new();
    for (host, guest, perms) in [
        (&spec.input_dir, GUEST_INPUT_DIR, FsPerms::ReadOnly),
        (&spec.output_dir, GUEST_OUTPUT_DIR, FsPerms::ReadWrite),
    ] {
        builder
            .preopened_dir(host, guest, perms)
            .map_err(|e| Error::OpenDir {
                path: host.clone(),
                message: format!("{e:#}"),
            })?;
    }
    builder
        .args(&[name, GUEST_JOB_DIR])
        .envs(&spec.env)
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .monotonic_clock(clock)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    Ok(builder)
}

/// Names how a guest that returned an error ended.
fn classify(error: wasmtime::Error, limiter: &Limiter, fuel: Option<u64>) -> Outcome {
    if let Some(requested_bytes) = limiter.hit() {
        let limit_bytes = error
            .downcast_ref::<MemoryLimitHit>()
            .map(|hit| hit.limit_bytes)
            .unwrap_or(requested_bytes);
        return Outcome::LimitExceeded(LimitExceeded::Memory {
            limit_bytes,
            requested_bytes,
        });
    }
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return Outcome::Exited { code: exit.0 };
    }
    if let (Some(Trap::OutOfFuel), Some(limit)) = (error.downcast_ref::<Trap>(), fuel) {
        return Outcome::LimitExceeded(LimitExceeded::Fuel { limit });
    }
    let message = match error.downcast_ref::<Trap>() {
        // `Trap`'s own text starts with "wasm trap: ", which `Outcome`'s "trapped: " replaces.
        Some(trap) => {
            let text = trap.to_string();
            text.strip_prefix("wasm trap: ").unwrap_or(&text).to_owned()
        }
        None => error.root_cause().to_string(),
    };
    Outcome::Trapped {
        message,
        detail: format!("{error:#}"),
    }
}

fn new_engine(config: &Config) -> Result<Engine> {
    Engine::new(config).map_err(|e| Error::Engine(format!("{e:#}")))
}

/// Advances the engine's epoch every `tick` until `stop` is set (when the sandbox is dropped).
fn spawn_ticker(engine: Engine, tick: Duration, stop: Arc<AtomicBool>) -> Result<()> {
    std::thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                engine.increment_epoch();
            }
        })
        .map(drop)
        .map_err(|e| Error::Engine(format!("cannot start the epoch ticker thread: {e}")))
}
