//! The sandbox's own `poll_oneoff`: every guest-supplied count and pointer is checked against the
//! guest's memory first, each clock and descriptor kind, and the exact errno of every refusal.
//!
//! Each test runs a small text module that lays out the subscriptions given by the test at
//! [`SUBS`], calls `poll_oneoff` with the test's arguments, and writes to stdout the errno, the
//! number of events and the events themselves, which the test decodes.

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::*;
use wasm_host::{LimitExceeded, Limits, Outcome};

/// Where the test's subscriptions are placed, and where events go by default.
const SUBS: u32 = 1024;
const EVENTS: u32 = 32768;
/// Where `nevents` goes by default.
const WRITTEN: u32 = 512;
/// One page: the module's memory.
const MEMORY: u32 = 65536;

/// Errnos of the preview-1 ABI.
const EBADF: u16 = 8;
const EFAULT: u16 = 21;
const EINVAL: u16 = 28;

/// Event types.
const CLOCK: u8 = 0;
const FD_READ: u8 = 1;
const FD_WRITE: u8 = 2;

/// Clock ids and the absolute-time flag.
const REALTIME: u32 = 0;
const MONOTONIC: u32 = 1;
const ABSTIME: u16 = 1;

/// A clock subscription.
fn clock(userdata: u64, id: u32, timeout: u64, flags: u16) -> [u8; 48] {
    let mut s = [0u8; 48];
    s[0..8].copy_from_slice(&userdata.to_le_bytes());
    s[8] = CLOCK;
    s[16..20].copy_from_slice(&id.to_le_bytes());
    s[24..32].copy_from_slice(&timeout.to_le_bytes());
    s[40..42].copy_from_slice(&flags.to_le_bytes());
    s
}

/// A descriptor subscription (`kind` is `FD_READ` or `FD_WRITE`).
fn fd(userdata: u64, kind: u8, fd: u32) -> [u8; 48] {
    let mut s = [0u8; 48];
    s[0..8].copy_from_slice(&userdata.to_le_bytes());
    s[8] = kind;
    s[16..20].copy_from_slice(&fd.to_le_bytes());
    s
}

/// One event as the guest received it.
#[derive(Debug, PartialEq, Eq)]
struct Event {
    userdata: u64,
    error: u16,
    kind: u8,
    nbytes: u64,
    flags: u16,
}

fn event(userdata: u64, kind: u8, nbytes: u64, flags: u16) -> Event {
    Event {
        userdata,
        error: 0,
        kind,
        nbytes,
        flags,
    }
}

/// What the guest saw: the errno and the events.
#[derive(Debug, PartialEq, Eq)]
struct Polled {
    errno: u16,
    events: Vec<Event>,
}

fn refused(errno: u16) -> Polled {
    Polled {
        errno,
        events: Vec::new(),
    }
}

fn ok(events: Vec<Event>) -> Polled {
    Polled { errno: 0, events }
}

/// A call to make: the subscriptions laid out at [`SUBS`] and the four raw arguments.
struct Call {
    subs: Vec<[u8; 48]>,
    args: [u32; 4],
    /// Open `input/input.json` for reading first (it gets descriptor 5).
    open_input: bool,
}

impl Call {
    /// `poll_oneoff(SUBS, EVENTS, subs.len(), WRITTEN)`.
    fn of(subs: Vec<[u8; 48]>) -> Self {
        let count = u32::try_from(subs.len()).unwrap();
        Self {
            subs,
            args: [SUBS, EVENTS, count, WRITTEN],
            open_input: false,
        }
    }

    fn args(mut self, args: [u32; 4]) -> Self {
        self.args = args;
        self
    }

    fn module(&self) -> String {
        let data: String = self
            .subs
            .iter()
            .flatten()
            .map(|b| format!("\\{b:02x}"))
            .collect();
        let [subs, events, count, written] = self.args;
        let open = if self.open_input {
            // path_open(3, 0, "input.json", oflags 0, rights FD_READ|FD_TELL|FD_FILESTAT_GET, 0,
            // 0, &fd at 96); a failure exits 90 + errno.
            r#"(local.set $errno (call $open (i32.const 3) (i32.const 0) (i32.const 128)
                (i32.const 10) (i32.const 0) (i64.const 2097186) (i64.const 0) (i32.const 0)
                (i32.const 96)))
              (if (local.get $errno) (then (call $exit (i32.add (i32.const 90) (local.get $errno)))))"#
        } else {
            ""
        };
        format!(
            r#"(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 128) "input.json")
  (data (i32.const {SUBS}) "{data}")
  (func (export "_start") (local $errno i32) (local $n i32)
    {open}
    (local.set $errno (call $poll (i32.const {subs}) (i32.const {events}) (i32.const {count})
      (i32.const {written})))
    (if (i32.eqz (local.get $errno)) (then (local.set $n (i32.load (i32.const {written})))))
    (i32.store (i32.const 64) (local.get $errno))
    (i32.store (i32.const 68) (local.get $n))
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 8))
    (i32.store (i32.const 8) (i32.const {events}))
    (i32.store (i32.const 12) (i32.mul (local.get $n) (i32.const 32)))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
    (drop (call $write (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 16)))))"#
        )
    }

    /// Runs the call (at most `timeout`) and decodes what the guest wrote.
    async fn run_for(&self, timeout: Duration) -> (Polled, wasm_host::RunRecord) {
        let module = SANDBOX
            .load_bytes("poll", self.module().as_bytes())
            .unwrap();
        let job = Job::new();
        let spec = wasm_host::RunSpec {
            limits: Limits {
                timeout,
                ..Limits::default()
            },
            ..job.spec()
        };
        let record = SANDBOX.run(&module, spec).await.unwrap();
        if record.outcome != (Outcome::Exited { code: 0 }) {
            return (refused(u16::MAX), record);
        }
        let out = &record.stdout.tail;
        let u32_at = |at: usize| u32::from_le_bytes(out[at..at + 4].try_into().unwrap());
        let errno = u16::try_from(u32_at(0)).unwrap();
        let n = u32_at(4) as usize;
        assert_eq!(out.len(), 8 + n * 32, "stdout: {out:?}");
        let events = out[8..]
            .chunks_exact(32)
            .map(|e| Event {
                userdata: u64::from_le_bytes(e[0..8].try_into().unwrap()),
                error: u16::from_le_bytes(e[8..10].try_into().unwrap()),
                kind: e[10],
                nbytes: u64::from_le_bytes(e[16..24].try_into().unwrap()),
                flags: u16::from_le_bytes(e[24..26].try_into().unwrap()),
            })
            .collect();
        (Polled { errno, events }, record)
    }

    async fn run(&self) -> Polled {
        self.run_for(Duration::from_secs(20)).await.0
    }
}

fn wall_nanos() -> u64 {
    let since = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap();
    u64::try_from(since.as_nanos()).unwrap()
}

#[tokio::test]
async fn zero_subscriptions_are_invalid() {
    assert_eq!(Call::of(vec![]).run().await, refused(EINVAL));
    // Even with pointers that are out of bounds: the count is checked first, as wasmtime-wasi does.
    let call = Call::of(vec![]).args([u32::MAX, u32::MAX, 0, u32::MAX]);
    assert_eq!(call.run().await, refused(EINVAL));
}

#[tokio::test]
async fn a_huge_count_is_a_fault_not_an_allocation() {
    for count in [u32::MAX, u32::MAX / 48 + 1, MEMORY / 48 + 1] {
        let call = Call::of(vec![clock(1, MONOTONIC, 0, 0)]).args([SUBS, EVENTS, count, WRITTEN]);
        assert_eq!(call.run().await, refused(EFAULT), "count {count}");
    }
}

#[tokio::test]
async fn pointers_past_the_end_of_memory_are_faults() {
    let one = || vec![clock(1, MONOTONIC, 0, 0)];
    let cases = [
        // The subscription array ends one byte past the memory.
        [MEMORY - 47, EVENTS, 1, WRITTEN],
        [u32::MAX, EVENTS, 1, WRITTEN],
        [u32::MAX - 8, EVENTS, 1, WRITTEN],
        // The event array ends one byte past the memory.
        [SUBS, MEMORY - 31, 1, WRITTEN],
        [SUBS, u32::MAX, 1, WRITTEN],
        // `nevents` ends one byte past the memory.
        [SUBS, EVENTS, 1, MEMORY - 3],
        [SUBS, EVENTS, 1, u32::MAX],
    ];
    for args in cases {
        assert_eq!(
            Call::of(one()).args(args).run().await,
            refused(EFAULT),
            "{args:?}"
        );
    }
    // Events for 2 subscriptions would not fit where one would.
    let two = vec![clock(1, MONOTONIC, 0, 0), clock(2, MONOTONIC, 0, 0)];
    let call = Call::of(two).args([SUBS, MEMORY - 63, 2, WRITTEN]);
    assert_eq!(call.run().await, refused(EFAULT));
    // Exactly at the end is in bounds.
    let call = Call::of(one()).args([SUBS, MEMORY - 32, 1, MEMORY - 4]);
    let (_, record) = call.run_for(Duration::from_secs(20)).await;
    assert_eq!(record.outcome, Outcome::Exited { code: 0 });
}

#[tokio::test]
async fn relative_clocks_of_both_kinds_fire_at_their_deadline() {
    for id in [MONOTONIC, REALTIME] {
        let call = Call::of(vec![
            clock(7, id, 10_000_000_000, 0),
            clock(8, id, 100_000_000, 0),
        ]);
        let started = Instant::now();
        let polled = call.run().await;
        let waited = started.elapsed();
        assert_eq!(polled, ok(vec![event(8, CLOCK, 0, 0)]), "clock {id}");
        assert!(
            waited >= Duration::from_millis(100) && waited < Duration::from_secs(5),
            "clock {id} waited {waited:?}"
        );
    }
    // Several expired at once are all reported, in subscription order.
    let call = Call::of(vec![
        clock(1, MONOTONIC, 0, 0),
        clock(2, REALTIME, 3_600_000_000_000, 0),
        clock(3, REALTIME, 0, 0),
    ]);
    assert_eq!(
        call.run().await,
        ok(vec![event(1, CLOCK, 0, 0), event(3, CLOCK, 0, 0)])
    );
}

#[tokio::test]
async fn absolute_clocks_of_both_kinds_fire_at_their_deadline() {
    // The guest's monotonic clock starts at its instantiation: 0 has passed.
    let call = Call::of(vec![clock(1, MONOTONIC, 0, ABSTIME)]);
    assert_eq!(call.run().await, ok(vec![event(1, CLOCK, 0, 0)]));
    // Half a second on the guest's monotonic clock.
    let call = Call::of(vec![clock(2, MONOTONIC, 500_000_000, ABSTIME)]);
    let started = Instant::now();
    assert_eq!(call.run().await, ok(vec![event(2, CLOCK, 0, 0)]));
    assert!(started.elapsed() >= Duration::from_millis(450));
    // Realtime: a second ago fires now; 300 ms from now waits; an hour from now does not fire
    // before a 50 ms relative clock.
    let now = wall_nanos();
    let call = Call::of(vec![clock(3, REALTIME, now - 1_000_000_000, ABSTIME)]);
    assert_eq!(call.run().await, ok(vec![event(3, CLOCK, 0, 0)]));
    let call = Call::of(vec![clock(
        4,
        REALTIME,
        wall_nanos() + 300_000_000,
        ABSTIME,
    )]);
    let started = Instant::now();
    assert_eq!(call.run().await, ok(vec![event(4, CLOCK, 0, 0)]));
    assert!(started.elapsed() >= Duration::from_millis(250));
    let call = Call::of(vec![
        clock(5, REALTIME, wall_nanos() + 3_600_000_000_000, ABSTIME),
        clock(6, MONOTONIC, 50_000_000, 0),
    ]);
    assert_eq!(call.run().await, ok(vec![event(6, CLOCK, 0, 0)]));
}

#[tokio::test]
async fn unknown_clocks_types_and_flags_are_invalid() {
    // Process and thread CPU-time clocks (2, 3) and beyond are not served.
    for id in [2, 3, 4, u32::MAX] {
        let call = Call::of(vec![clock(1, MONOTONIC, 0, 0), clock(2, id, 0, 0)]);
        assert_eq!(call.run().await, refused(EINVAL), "clock {id}");
    }
    let call = Call::of(vec![clock(1, MONOTONIC, 0, 2)]);
    assert_eq!(call.run().await, refused(EINVAL));
    let mut tag = clock(1, MONOTONIC, 0, 0);
    tag[8] = 3;
    assert_eq!(Call::of(vec![tag]).run().await, refused(EINVAL));
}

#[tokio::test]
async fn a_deadline_beyond_representation_waits_until_the_timeout() {
    let call = Call::of(vec![clock(1, MONOTONIC, u64::MAX, 0)]);
    let (_, record) = call.run_for(Duration::from_millis(300)).await;
    assert_eq!(
        record.outcome,
        Outcome::LimitExceeded(LimitExceeded::Timeout {
            limit: Duration::from_millis(300)
        })
    );
}

#[tokio::test]
async fn descriptors_are_ready_at_once() {
    // stdin readable, stdout and stderr writable; a clock an hour away does not fire.
    let call = Call::of(vec![
        clock(1, MONOTONIC, 3_600_000_000_000, 0),
        fd(2, FD_READ, 0),
        fd(3, FD_WRITE, 1),
        fd(4, FD_WRITE, 2),
    ]);
    let started = Instant::now();
    assert_eq!(
        call.run().await,
        ok(vec![
            event(2, FD_READ, 1, 0),
            event(3, FD_WRITE, 1, 0),
            event(4, FD_WRITE, 1, 0),
        ])
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_file_is_readable_and_writable() {
    // Descriptor 5: `input/input.json`, opened first, at position 0 of a non-empty file.
    let mut call = Call::of(vec![fd(1, FD_READ, 5), fd(2, FD_WRITE, 5)]);
    call.open_input = true;
    assert_eq!(
        call.run().await,
        ok(vec![event(1, FD_READ, 1, 0), event(2, FD_WRITE, 1, 0)])
    );
}

#[tokio::test]
async fn descriptors_that_cannot_be_polled_are_bad() {
    let cases = [
        // Writing stdin, reading stdout.
        fd(1, FD_WRITE, 0),
        fd(1, FD_READ, 1),
        // The preopened directories.
        fd(1, FD_READ, 3),
        fd(1, FD_WRITE, 4),
        // Not open.
        fd(1, FD_READ, 99),
        fd(1, FD_WRITE, u32::MAX),
    ];
    for sub in cases {
        let call = Call::of(vec![clock(9, MONOTONIC, 0, 0), sub]);
        assert_eq!(call.run().await, refused(EBADF), "{:?}", &sub[8..20]);
    }
}

#[tokio::test]
async fn many_subscriptions_are_all_answered() {
    // 1,300 subscriptions fill most of one page (62,400 of 65,536 bytes), so the events go over
    // the subscriptions (the guest may do that): both passes read each subscription before its
    // slot is overwritten, since event i lands at or before subscription i.
    let subs: Vec<_> = (0..1300).map(|i| clock(i, MONOTONIC, 0, 0)).collect();
    let call = Call::of(subs).args([SUBS, SUBS, 1300, WRITTEN]);
    let (_, record) = call.run_for(Duration::from_secs(20)).await;
    assert_eq!(record.outcome, Outcome::Exited { code: 0 });
    let out = &record.stdout.tail;
    assert_eq!(&out[..8], &[0, 0, 0, 0, 0x14, 0x05, 0, 0]);
    for (i, e) in out[8..].chunks_exact(32).enumerate() {
        assert_eq!(u64::from_le_bytes(e[0..8].try_into().unwrap()), i as u64);
    }
}
