//! Host memory spent on a guest's `poll_oneoff` does not grow with the subscription count: 3.9 M
//! valid subscriptions in a 512 MiB guest (the case that took the runner to 726 MB) cost the host
//! no more than one subscription does.
//!
//! Its own test binary, so that no other test moves the process's peak RSS while it measures.

use std::time::Duration;

use wasm_host::{Limits, Outcome, RunSpec, Sandbox, SandboxConfig};

const SUBSCRIPTIONS: u32 = 3_900_000;
const MIB: u64 = 1 << 20;

/// A module that lays out `SUBSCRIPTIONS` expired monotonic-clock subscriptions at 65536,
/// dirties the event array after them (so that both runs touch the same guest pages), calls
/// `poll_oneoff` with the first `count` of them and exits 0 if all `count` fired, 1 on an errno,
/// 2 on a wrong event count.
fn module(count: u32) -> String {
    let subs: u64 = 65536;
    let events = subs + u64::from(SUBSCRIPTIONS) * 48;
    let end = events + u64::from(SUBSCRIPTIONS) * 32;
    let pages = end.div_ceil(65536);
    let events_len = u64::from(SUBSCRIPTIONS) * 32;
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") {pages})
  (func (export "_start") (local $i i32) (local $at i32)
    (local.set $at (i32.const {subs}))
    (loop $fill
      (i64.store (local.get $at) (i64.extend_i32_u (local.get $i)))
      (i32.store8 offset=8 (local.get $at) (i32.const 0))
      (i32.store offset=16 (local.get $at) (i32.const 1))
      (i64.store offset=24 (local.get $at) (i64.const 0))
      (i32.store16 offset=40 (local.get $at) (i32.const 0))
      (local.set $at (i32.add (local.get $at) (i32.const 48)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $fill (i32.lt_u (local.get $i) (i32.const {SUBSCRIPTIONS}))))
    (memory.fill (i32.const {events}) (i32.const 1) (i32.const {events_len}))
    (if (call $poll (i32.const {subs}) (i32.const {events}) (i32.const {count}) (i32.const 0))
      (then (call $exit (i32.const 1))))
    (if (i32.ne (i32.load (i32.const 0)) (i32.const {count})) (then (call $exit (i32.const 2))))))"#
    )
}

/// The process's peak resident set (`VmHWM`), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn millions_of_subscriptions_cost_the_host_no_memory() {
    let sandbox = Sandbox::new(SandboxConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("input")).unwrap();
    std::fs::create_dir(dir.path().join("output")).unwrap();
    let spec = RunSpec {
        limits: Limits {
            memory_bytes: 512 * MIB,
            timeout: Duration::from_secs(120),
            ..Limits::default()
        },
        ..RunSpec::new(dir.path().join("input"), dir.path().join("output"))
    };
    // Both compiled before measuring. One subscription first: the same guest pages, the peak
    // of everything but the poll.
    let modules = [1, SUBSCRIPTIONS].map(|count| {
        let module = sandbox
            .load_bytes(&format!("poll-{count}"), module(count).as_bytes())
            .unwrap();
        (count, module)
    });
    let mut peaks = Vec::new();
    for (count, module) in modules {
        let record = sandbox.run(&module, spec.clone()).await.unwrap();
        assert_eq!(record.outcome, Outcome::Exited { code: 0 }, "{count}");
        assert!(record.peak_memory_bytes < 512 * MIB);
        peaks.push(peak_rss());
    }
    let grown = peaks[1] - peaks[0];
    eprintln!(
        "peak RSS after 1 subscription: {} MiB; after {SUBSCRIPTIONS}: {} MiB (+{} KiB)",
        peaks[0] / MIB,
        peaks[1] / MIB,
        grown / 1024
    );
    // Copying the subscriptions alone would be 178 MiB; the old code also kept 3.9 M parsed
    // subscriptions and the events (about 400 MiB in all).
    assert!(
        grown < 16 * MIB,
        "the peak grew by {} KiB for {SUBSCRIPTIONS} subscriptions",
        grown / 1024
    );
}
