//! WASI 0.2 components (`wasm32-wasip2`): their store state, their linker (files, clocks,
//! random, stdio and `wasi:http`, no sockets) and one run.

use std::sync::{Arc, Mutex, PoisonError};

use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::{cli, filesystem, random};
use wasmtime_wasi::random::WasiRandom;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::capture::TailPipe;
use crate::limiter::Limiter;
use crate::net::{Gate, NetLog};
use crate::poll::GuestMonotonicClock;
use crate::{Error, Result, RunSpec};

/// Resources (descriptors, streams, pollables, HTTP requests and bodies) one component may hold
/// at once, per open file the sandbox allows: the table is the component's whole host state, so
/// its size bounds what a guest can make the host keep.
const RESOURCES_PER_OPEN_FILE: usize = 16;

/// The data of one component run's store.
pub(crate) struct ComponentState {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    gate: Gate,
    pub(crate) limiter: Limiter,
    pub(crate) net: Arc<Mutex<NetLog>>,
}

impl WasiView for ComponentState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for ComponentState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.gate,
        }
    }
}

impl ComponentState {
    /// The network log (stats and warnings) of this run.
    pub(crate) fn net_log(&self) -> std::sync::MutexGuard<'_, NetLog> {
        self.net.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The component linker: `wasi:io`, clocks, random, stdio, the CLI environment and exit,
/// terminals, the file system (the job's two preopens) and `wasi:http`. No `wasi:sockets`: a
/// component that imports them does not link.
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<ComponentState>> {
    type T = ComponentState;
    let mut linker = Linker::<T>::new(engine);
    // io, wall and monotonic clocks, random, stdin/stdout/stderr.
    wasmtime_wasi::p2::add_to_linker_proxy_interfaces_async(&mut linker)?;
    let l = &mut linker;
    filesystem::types::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    filesystem::preopens::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    random::insecure::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure_seed::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    cli::exit::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::environment::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_input::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_output::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    Ok(linker)
}

/// The state of one run: the job's two preopens, argv, the caller's environment, captured
/// output, closed stdin, the gate of the run's network policy, the memory limiter.
pub(crate) fn state(
    name: &str,
    clock: GuestMonotonicClock,
    spec: &RunSpec,
    stdout: &TailPipe,
    stderr: &TailPipe,
    limiter: Limiter,
    max_open_files: u32,
) -> Result<ComponentState> {
    let mut builder = crate::sandbox::wasi_builder(name, clock, spec, stdout, stderr)?;
    let mut table = ResourceTable::new();
    table.set_max_capacity(
        usize::try_from(max_open_files)
            .unwrap_or(usize::MAX)
            .saturating_add(2)
            .saturating_mul(RESOURCES_PER_OPEN_FILE),
    );
    let net = Arc::new(Mutex::new(NetLog::default()));
    let gate = Gate::new(name, spec.network.clone(), net.clone()).map_err(Error::Setup)?;
    Ok(ComponentState {
        wasi: builder.build(),
        table,
        http: WasiHttpCtx::new(),
        gate,
        limiter,
        net,
    })
}
