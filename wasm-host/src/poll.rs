//! The sandbox's own WASI preview-1 `poll_oneoff`, so that every wait a guest makes is an async
//! wait that the run's timeout can cancel, and so that the host spends O(1) memory on it whatever
//! the subscription count.
//!
//! wasmtime-wasi serves a lone relative-clock subscription (every `sleep`) with
//! `std::thread::sleep` when blocking on the current thread is allowed, and the sandbox allows it
//! for speed (file operations run inline instead of hopping to a thread pool). A thread sleep can
//! be interrupted by nothing, so it would defeat the timeout and stall every other run on the
//! thread. This implementation replaces it: clocks become a `tokio::time::sleep_until`, and file
//! descriptors are reported ready at once, which is exact here: a guest has only regular files,
//! directories, a closed stdin and in-memory stdout/stderr, all of which never block.
//!
//! Both guest arrays are bounds-checked against the guest's memory before anything else, and the
//! subscriptions are read straight from guest memory twice (once to find the earliest deadline,
//! once to write the events straight into guest memory): nothing is allocated per subscription.
//!
//! Errnos follow wasmtime-wasi's own `poll_oneoff`: `EINVAL` for no subscription, an unknown
//! clock, event type or clock flag; `EBADF` for a descriptor that cannot be polled that way (a
//! directory, reading stdout, writing stdin, a closed descriptor). Where wasmtime-wasi traps on an
//! out-of-bounds array, this one answers `EFAULT`: the guest learns its mistake and the run goes
//! on.

use std::time::{Duration, Instant, SystemTime};

use wasmtime::{AsContext, Caller, Extern, Linker, Memory};
use wasmtime_wasi::HostMonotonicClock;
use wasmtime_wasi::p1::types::{Errno, Filetype, Rights};
use wasmtime_wasi::p1::wasi_snapshot_preview1::WasiSnapshotPreview1;

use crate::sandbox::State;

/// Sizes of `subscription` and `event` in the preview-1 ABI.
const SUBSCRIPTION_SIZE: u64 = 48;
const EVENT_SIZE: u64 = 32;

/// Errno values of the preview-1 ABI.
const ERRNO_SUCCESS: i32 = 0;
const ERRNO_FAULT: i32 = 21;
const ERRNO_INVAL: i32 = 28;

/// `eventtype` values.
const EVENTTYPE_CLOCK: u8 = 0;
const EVENTTYPE_FD_READ: u8 = 1;
const EVENTTYPE_FD_WRITE: u8 = 2;

/// `clockid` values and the `subclockflags` bit for absolute deadlines.
const CLOCK_REALTIME: u32 = 0;
const CLOCK_MONOTONIC: u32 = 1;
const SUBSCRIPTION_CLOCK_ABSTIME: u16 = 1;

/// The `eventrwflags` bit set on a read event of a file read to its end.
const EVENTRWFLAGS_HANGUP: u16 = 1;

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
                // The ABI passes `u32`s in `i32`s: reinterpret the bits.
                let args = [subs, events, count, written].map(|a| a as u32);
                poll_oneoff(&mut caller, args).await
            })
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The instants that relative and absolute deadlines of one call are measured from, taken once
/// so that both passes over the subscriptions compute the same deadlines.
#[derive(Debug, Clone, Copy)]
struct Now {
    /// The host instant of the call.
    instant: Instant,
    /// The wall clock at the call, in nanoseconds since the epoch.
    wall_nanos: u64,
    /// The origin of the guest's monotonic clock.
    origin: Instant,
}

/// One subscription, read from guest memory.
#[derive(Debug, Clone, Copy)]
struct Subscription {
    userdata: u64,
    wait: Wait,
}

/// When a subscription is satisfied.
#[derive(Debug, Clone, Copy)]
enum Wait {
    /// A clock deadline, or `None` for one too far away to represent (never).
    Clock(Option<Instant>),
    /// Readable (`EVENTTYPE_FD_READ`) or writable (`EVENTTYPE_FD_WRITE`) descriptor: ready now.
    Fd { kind: u8, fd: u32 },
}

/// `poll_oneoff(in, out, nsubscriptions, nevents_out) -> errno`.
async fn poll_oneoff(
    caller: &mut Caller<'_, State>,
    [subs, events, count, written]: [u32; 4],
) -> wasmtime::Result<i32> {
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        return Err(wasmtime::Error::msg(
            "poll_oneoff: the module exports no memory",
        ));
    };
    if count == 0 {
        // Waiting for nothing would wait forever; preview 1 defines this as invalid.
        return Ok(ERRNO_INVAL);
    }
    let size = memory.data_size(&*caller) as u64;
    let count = u64::from(count);
    // All in u64: a u32 pointer plus a u32 count times 48 cannot overflow.
    let fits = |at: u32, len: u64| u64::from(at) + len <= size;
    if !fits(subs, count * SUBSCRIPTION_SIZE)
        || !fits(events, count * EVENT_SIZE)
        || !fits(written, 4)
    {
        return Ok(ERRNO_FAULT);
    }
    let now = Now {
        instant: Instant::now(),
        wall_nanos: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        origin: caller.data().clock.origin,
    };

    // Pass 1: check every subscription, find whether a descriptor is ready and the earliest
    // deadline.
    let mut fd_ready = false;
    let mut earliest: Option<Instant> = None;
    for i in 0..count {
        let sub = match read(&memory, caller, subs, i, now) {
            Ok(sub) => sub,
            Err(errno) => return Ok(errno),
        };
        match sub.wait {
            Wait::Clock(Some(deadline)) => {
                earliest = Some(earliest.map_or(deadline, |e| e.min(deadline)));
            }
            Wait::Clock(None) => {}
            Wait::Fd { kind, fd } => {
                if let Err(errno) = fd_flags(&memory, caller, kind, fd).await? {
                    return Ok(errno);
                }
                fd_ready = true;
            }
        }
    }
    if !fd_ready {
        match earliest {
            Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
            // Only deadlines beyond representation: wait until the run's timeout.
            None => std::future::pending::<()>().await,
        }
    }

    // Pass 2: write one event per satisfied subscription straight into guest memory.
    let ready_at = Instant::now();
    let mut n: u64 = 0;
    for i in 0..count {
        let sub = match read(&memory, caller, subs, i, now) {
            Ok(sub) => sub,
            Err(errno) => return Ok(errno),
        };
        let (kind, flags, nbytes) = match sub.wait {
            Wait::Clock(Some(deadline)) if deadline <= ready_at => (EVENTTYPE_CLOCK, 0, 0),
            Wait::Clock(_) => continue,
            Wait::Fd { kind, fd } => match fd_flags(&memory, caller, kind, fd).await? {
                Ok(flags) => (kind, flags, 1),
                Err(errno) => return Ok(errno),
            },
        };
        let mut event = [0u8; EVENT_SIZE as usize];
        event[0..8].copy_from_slice(&sub.userdata.to_le_bytes());
        // `error` (u16 at 8) stays 0: success.
        event[10] = kind;
        event[16..24].copy_from_slice(&u64::to_le_bytes(nbytes));
        event[24..26].copy_from_slice(&u16::to_le_bytes(flags));
        write(&memory, caller, u64::from(events) + n * EVENT_SIZE, &event);
        n += 1;
    }
    // n <= count <= u32::MAX.
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    write(&memory, caller, u64::from(written), &n.to_le_bytes());
    Ok(ERRNO_SUCCESS)
}

/// Reads subscription `i` of the array at `subs` (in bounds: checked by the caller) and works out
/// its deadline.
///
/// Layout: `userdata: u64`, the tag at 8 and the body at 16 (clock: `id: u32`, `timeout: u64` at
/// 24, `precision: u64`, `flags: u16` at 40; fd_read/fd_write: `fd: u32`).
fn read(
    memory: &Memory,
    caller: &Caller<'_, State>,
    subs: u32,
    i: u64,
    now: Now,
) -> Result<Subscription, i32> {
    let at = usize::try_from(u64::from(subs) + i * SUBSCRIPTION_SIZE).map_err(|_| ERRNO_FAULT)?;
    let data = memory.data(caller.as_context());
    let sub: [u8; SUBSCRIPTION_SIZE as usize] = data
        .get(at..at + SUBSCRIPTION_SIZE as usize)
        .and_then(|s| s.try_into().ok())
        .ok_or(ERRNO_FAULT)?;
    let u32_at = |o: usize| u32::from_le_bytes(sub[o..o + 4].try_into().expect("4 bytes"));
    let u64_at = |o: usize| u64::from_le_bytes(sub[o..o + 8].try_into().expect("8 bytes"));
    let userdata = u64_at(0);
    let wait = match sub[8] {
        EVENTTYPE_CLOCK => {
            let id = u32_at(16);
            let timeout = u64_at(24);
            let flags = u16::from_le_bytes([sub[40], sub[41]]);
            if flags & !SUBSCRIPTION_CLOCK_ABSTIME != 0 {
                return Err(ERRNO_INVAL);
            }
            Wait::Clock(deadline(
                id,
                timeout,
                flags & SUBSCRIPTION_CLOCK_ABSTIME != 0,
                now,
            )?)
        }
        kind @ (EVENTTYPE_FD_READ | EVENTTYPE_FD_WRITE) => Wait::Fd {
            kind,
            fd: u32_at(16),
        },
        _ => return Err(ERRNO_INVAL),
    };
    Ok(Subscription { userdata, wait })
}

/// The host instant a clock subscription fires at; `Ok(None)` if it is too far away to represent.
fn deadline(id: u32, timeout: u64, absolute: bool, now: Now) -> Result<Option<Instant>, i32> {
    let after = |from: Instant, nanos: u64| from.checked_add(Duration::from_nanos(nanos));
    match (id, absolute) {
        (CLOCK_REALTIME | CLOCK_MONOTONIC, false) => Ok(after(now.instant, timeout)),
        (CLOCK_MONOTONIC, true) => Ok(after(now.origin, timeout)),
        (CLOCK_REALTIME, true) => Ok(after(now.instant, timeout.saturating_sub(now.wall_nanos))),
        _ => Err(ERRNO_INVAL),
    }
}

/// Checks that descriptor `fd` can be polled for `kind` and returns the event's `eventrwflags`
/// (hang-up for a file read to its end), or the errno of the whole call. A trap inside
/// wasmtime-wasi is passed on as a trap.
async fn fd_flags(
    memory: &Memory,
    caller: &mut Caller<'_, State>,
    kind: u8,
    fd: u32,
) -> wasmtime::Result<Result<u16, i32>> {
    let (data, state) = memory.data_and_store_mut(caller);
    let mut guest = wiggle::GuestMemory::Unshared(data);
    let wasi = &mut state.wasi;
    let errno =
        |e: wasmtime_wasi::p1::types::Error| e.downcast().map(|errno| i32::from(u16::from(errno)));
    let stat = match wasi.fd_fdstat_get(&mut guest, fd.into()).await {
        Ok(stat) => stat,
        Err(e) => return errno(e).map(Err),
    };
    let right = if kind == EVENTTYPE_FD_READ {
        Rights::FD_READ
    } else {
        Rights::FD_WRITE
    };
    let badf = i32::from(u16::from(Errno::Badf));
    match stat.fs_filetype {
        Filetype::Directory => Ok(Err(badf)),
        Filetype::RegularFile if kind == EVENTTYPE_FD_READ => {
            let position = match wasi.fd_tell(&mut guest, fd.into()) {
                Ok(position) => position,
                Err(e) => return errno(e).map(Err),
            };
            let size = match wasi.fd_filestat_get(&mut guest, fd.into()).await {
                Ok(stat) => stat.size,
                Err(e) => return errno(e).map(Err),
            };
            Ok(Ok(if size <= position {
                EVENTRWFLAGS_HANGUP
            } else {
                0
            }))
        }
        Filetype::RegularFile => Ok(Ok(0)),
        _ if stat.fs_rights_base.contains(right) => Ok(Ok(0)),
        _ => Ok(Err(badf)),
    }
}

/// Writes `bytes` at `at` in guest memory; the caller has checked the range.
fn write(memory: &Memory, caller: &mut Caller<'_, State>, at: u64, bytes: &[u8]) {
    let at = usize::try_from(at).expect("checked against the memory size");
    memory
        .write(caller, at, bytes)
        .expect("checked against the memory size");
}
