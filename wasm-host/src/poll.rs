//! The sandbox's own WASI preview-1 `poll_oneoff`, so that every wait a guest makes is an async
//! wait that the run's timeout can cancel.
//!
//! wasmtime-wasi serves a lone relative-clock subscription (every `sleep`) with
//! `std::thread::sleep` when blocking on the current thread is allowed, and the sandbox allows it
//! for speed (file operations run inline instead of hopping to a thread pool). A thread sleep can
//! be interrupted by nothing, so it would defeat the timeout and stall every other run on the
//! thread. This implementation replaces it: clocks become a `tokio::time::sleep_until`, and file
//! descriptors are reported ready at once, which is exact here: a guest has only regular files,
//! directories, a closed stdin and in-memory stdout/stderr, all of which never block.

use std::time::{Duration, Instant, SystemTime};

use wasmtime::{Caller, Extern, Linker, Memory};
use wasmtime_wasi::HostMonotonicClock;

use crate::sandbox::State;

/// Sizes of `subscription` and `event` in the preview-1 ABI.
const SUBSCRIPTION_SIZE: usize = 48;
const EVENT_SIZE: usize = 32;

/// Errno values of the preview-1 ABI.
const ERRNO_SUCCESS: i32 = 0;
const ERRNO_FAULT: u16 = 21;
const ERRNO_INVAL: u16 = 28;

/// `eventtype` values.
const EVENTTYPE_CLOCK: u8 = 0;
const EVENTTYPE_FD_READ: u8 = 1;
const EVENTTYPE_FD_WRITE: u8 = 2;

/// `clockid` values and the `subclockflags` bit for absolute deadlines.
const CLOCK_REALTIME: u32 = 0;
const CLOCK_MONOTONIC: u32 = 1;
const SUBSCRIPTION_CLOCK_ABSTIME: u16 = 1;

/// The guest's monotonic clock: nanoseconds since its store was created. Owning it (instead of
/// wasmtime-wasi's default, whose origin is private) lets absolute monotonic deadlines be
/// converted to host instants.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GuestMonotonicClock {
    pub(crate) origin: Instant,
}

impl HostMonotonicClock for GuestMonotonicClock {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// Replaces wasmtime-wasi's `poll_oneoff` in `linker` with [`poll_oneoff`].
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker.func_wrap_async(
        "wasi_snapshot_preview1",
        "poll_oneoff",
        |mut caller: Caller<'_, State>, (subs, events, count, written): (i32, i32, i32, i32)| {
            Box::new(async move {
                let args = [subs, events, count, written].map(|a| a as u32 as usize);
                Ok(poll_oneoff(&mut caller, args).await)
            })
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// When a subscription is satisfied.
enum Wait {
    /// A clock deadline, or `None` for one too far away to represent (never).
    Clock(Option<Instant>),
    /// A file descriptor: always ready.
    Fd(u8),
    /// A subscription the sandbox cannot serve; reported at once with this errno.
    Invalid(u16),
}

/// `poll_oneoff(in, out, nsubscriptions, nevents_out) -> errno`.
async fn poll_oneoff(
    caller: &mut Caller<'_, State>,
    [subs, events, count, written]: [usize; 4],
) -> i32 {
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return i32::from(ERRNO_INVAL);
    };
    if count == 0 {
        // Waiting for nothing would wait forever; preview 1 defines this as invalid.
        return i32::from(ERRNO_INVAL);
    }
    let Some(size) = count.checked_mul(SUBSCRIPTION_SIZE) else {
        return i32::from(ERRNO_FAULT);
    };
    let mut raw = vec![0u8; size];
    if memory.read(&*caller, subs, &mut raw).is_err() {
        return i32::from(ERRNO_FAULT);
    }
    let origin = caller.data().clock.origin;
    let waits: Vec<(u64, Wait)> = raw
        .chunks_exact(SUBSCRIPTION_SIZE)
        .map(|s| parse(s, origin))
        .collect();

    let any_ready_now = waits.iter().any(|(_, w)| !matches!(w, Wait::Clock(_)));
    if !any_ready_now {
        let earliest = waits
            .iter()
            .filter_map(|(_, w)| match w {
                Wait::Clock(deadline) => Some(*deadline),
                _ => None,
            })
            .min_by_key(|d| d.unwrap_or_else(far_future));
        match earliest.flatten() {
            Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
            None => std::future::pending::<()>().await,
        }
    }

    let now = Instant::now();
    let mut out = Vec::with_capacity(waits.len() * EVENT_SIZE);
    for (userdata, wait) in &waits {
        let (kind, errno) = match wait {
            Wait::Clock(Some(deadline)) if *deadline <= now => (EVENTTYPE_CLOCK, 0),
            Wait::Clock(_) => continue,
            Wait::Fd(kind) => (*kind, 0),
            Wait::Invalid(errno) => (EVENTTYPE_CLOCK, *errno),
        };
        let mut event = [0u8; EVENT_SIZE];
        event[0..8].copy_from_slice(&userdata.to_le_bytes());
        event[8..10].copy_from_slice(&errno.to_le_bytes());
        event[10] = kind;
        out.extend_from_slice(&event);
    }
    let n = u32::try_from(out.len() / EVENT_SIZE).unwrap_or(u32::MAX);
    if write(&memory, caller, events, &out).is_err()
        || write(&memory, caller, written, &n.to_le_bytes()).is_err()
    {
        return i32::from(ERRNO_FAULT);
    }
    ERRNO_SUCCESS
}

fn write(
    memory: &Memory,
    caller: &mut Caller<'_, State>,
    at: usize,
    bytes: &[u8],
) -> Result<(), wasmtime::MemoryAccessError> {
    memory.write(caller, at, bytes)
}

/// Reads one subscription: `userdata: u64`, then the tag at 8 and the body at 16
/// (clock: `id: u32`, `timeout: u64` at 24, `precision: u64`, `flags: u16` at 40;
/// fd_read/fd_write: `fd: u32`).
fn parse(sub: &[u8], origin: Instant) -> (u64, Wait) {
    let u64_at = |at: usize| u64::from_le_bytes(sub[at..at + 8].try_into().expect("8 bytes"));
    let userdata = u64_at(0);
    let wait = match sub[8] {
        EVENTTYPE_CLOCK => {
            let id = u32::from_le_bytes(sub[16..20].try_into().expect("4 bytes"));
            let timeout = u64_at(24);
            let flags = u16::from_le_bytes(sub[40..42].try_into().expect("2 bytes"));
            let absolute = flags & SUBSCRIPTION_CLOCK_ABSTIME != 0;
            match (id, absolute) {
                (CLOCK_REALTIME | CLOCK_MONOTONIC, false) => {
                    Wait::Clock(Instant::now().checked_add(Duration::from_nanos(timeout)))
                }
                (CLOCK_MONOTONIC, true) => {
                    Wait::Clock(origin.checked_add(Duration::from_nanos(timeout)))
                }
                (CLOCK_REALTIME, true) => {
                    let at = SystemTime::UNIX_EPOCH + Duration::from_nanos(timeout);
                    let left = at.duration_since(SystemTime::now()).unwrap_or_default();
                    Wait::Clock(Instant::now().checked_add(left))
                }
                _ => Wait::Invalid(ERRNO_INVAL),
            }
        }
        kind @ (EVENTTYPE_FD_READ | EVENTTYPE_FD_WRITE) => Wait::Fd(kind),
        _ => Wait::Invalid(ERRNO_INVAL),
    };
    (userdata, wait)
}

/// A stand-in for "never" when ordering deadlines.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}
