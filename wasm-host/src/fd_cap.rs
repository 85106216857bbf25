//! A cap on the files and directories one guest may hold open, so that a guest cannot take the
//! process's descriptors from the other runs in it.
//!
//! wasmtime-wasi's preview-1 `path_open` is shadowed in the linker by [`path_open`], which counts
//! the guest's open files and directories (entries of its resource table) and, at the cap, answers
//! `EMFILE` without touching the host; below the cap it calls wasmtime-wasi's own `path_open`.
//! Counting the table (instead of keeping a counter beside it) stays exact through `fd_close`,
//! `fd_renumber` and failed opens without shadowing them too.

use wasmtime::{AsContextMut, Caller, Extern, Linker};
use wasmtime_wasi::p1::wasi_snapshot_preview1::{self as p1, WasiSnapshotPreview1};
use wasmtime_wasi::{WasiView, filesystem::Descriptor};

use crate::sandbox::State;

/// `EMFILE` in the preview-1 ABI: too many open files.
pub(crate) const ERRNO_MFILE: i32 = 33;

/// The preopened directories every guest starts with (`/job/input`, `/job/output`); they are not
/// counted against the cap.
const PREOPENS: usize = 2;

/// How many `path_open` calls the cap refused in one run, for the run's warning.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpenFiles {
    /// The cap: files and directories open at once, beyond the preopens.
    pub(crate) cap: u32,
    /// `path_open` calls refused with `EMFILE`.
    pub(crate) refused: u64,
}

impl OpenFiles {
    /// The sentence the run record carries when the cap refused an open, else `None`.
    pub(crate) fn warning(&self) -> Option<String> {
        let was = if self.refused == 1 {
            "open was"
        } else {
            "opens were"
        };
        (self.refused > 0).then(|| {
            format!(
                "the worker hit the sandbox's cap of {} open files: {} {was} refused with \
                 EMFILE (too many open files)",
                self.cap, self.refused
            )
        })
    }
}

/// Replaces wasmtime-wasi's `path_open` in `linker` with [`path_open`].
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker.func_wrap_async(
        "wasi_snapshot_preview1",
        "path_open",
        |mut caller: Caller<'_, State>, args: (i32, i32, i32, i32, i32, i64, i64, i32, i32)| {
            Box::new(async move { path_open(&mut caller, args).await })
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// `path_open(fd, dirflags, path, path_len, oflags, rights_base, rights_inheriting, fdflags,
/// opened_fd) -> errno`, with the cap checked first.
async fn path_open(
    caller: &mut Caller<'_, State>,
    (fd, dirflags, path, path_len, oflags, base, inheriting, fdflags, opened): (
        i32,
        i32,
        i32,
        i32,
        i32,
        i64,
        i64,
        i32,
        i32,
    ),
) -> wasmtime::Result<i32> {
    let cap = caller.data().open_files.cap;
    if open_count(caller.data_mut()) >= usize::try_from(cap).unwrap_or(usize::MAX) {
        caller.data_mut().open_files.refused += 1;
        return Ok(ERRNO_MFILE);
    }
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return Err(wasmtime::Error::msg(
            "path_open: the module exports no memory",
        ));
    };
    // As wasmtime-wasi's own glue does: the store's per-call limit on bytes copied from the
    // guest (here, the path).
    let fuel = caller.as_context_mut().hostcall_fuel();
    let (data, state) = memory.data_and_store_mut(caller);
    let mut guest = wiggle::GuestMemory::Unshared(data);
    state.wasi.set_hostcall_fuel(fuel);
    p1::path_open(
        &mut state.wasi,
        &mut guest,
        fd,
        dirflags,
        path,
        path_len,
        oflags,
        base,
        inheriting,
        fdflags,
        opened,
    )
    .await
}

/// Files and directories the guest has open, beyond the preopens.
fn open_count(state: &mut State) -> usize {
    let table = state.wasi.ctx().table;
    let open = table
        .iter_mut()
        .filter(|(_, entry)| entry.downcast_ref::<Descriptor>().is_some())
        .count();
    open.saturating_sub(PREOPENS)
}
