//! The sandbox as a whole: concurrency, the module cache, and host-side errors.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use test_programs_artifacts as programs;
use wasm_host::{
    CacheStats, Error, LimitExceeded, Limits, Outcome, RunSpec, Sandbox, SandboxConfig,
};

/// Runs `count` honest jobs concurrently and returns when each finished, measured from `start`.
async fn honest_jobs(count: usize, start: Instant) -> Vec<Duration> {
    let module = load(programs::HONEST);
    let mut handles = Vec::new();
    for _ in 0..count {
        let module = module.clone();
        handles.push(tokio::spawn(async move {
            let job = Job::new();
            let spec = RunSpec {
                limits: quick(),
                ..job.spec()
            };
            let record = SANDBOX.run(&module, spec).await.unwrap();
            assert_eq!(record.outcome, Outcome::Exited { code: 0 });
            assert_eq!(job.report()["success"], true);
            start.elapsed()
        }));
    }
    let mut done = Vec::new();
    for handle in handles {
        done.push(handle.await.unwrap());
    }
    done
}

/// Runs `program` with a `timeout`, to hog the sandbox while others run.
fn hog(program: &'static str, timeout: Duration) -> tokio::task::JoinHandle<(Outcome, Duration)> {
    let module = load(program);
    tokio::spawn(async move {
        let job = Job::new();
        let spec = RunSpec {
            limits: Limits {
                timeout,
                ..Limits::default()
            },
            ..job.spec()
        };
        let record = SANDBOX.run(&module, spec).await.unwrap();
        (record.outcome, record.wall_time)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_jobs_finish_while_one_sleeps_forever() {
    let start = Instant::now();
    let sleeper = hog(programs::SLEEP_FOREVER, Duration::from_secs(6));
    let done = honest_jobs(15, start).await;
    let slowest = done.iter().max().unwrap();
    // All fifteen finished while the sleeper was still asleep.
    assert!(!sleeper.is_finished(), "honest jobs took {slowest:?}");
    assert!(
        *slowest < Duration::from_secs(5),
        "honest jobs took {slowest:?}"
    );
    let (outcome, wall) = sleeper.await.unwrap();
    assert_eq!(
        outcome,
        Outcome::LimitExceeded(LimitExceeded::Timeout {
            limit: Duration::from_secs(6)
        })
    );
    assert!(wall < Duration::from_millis(6500), "{wall:?}");
}

/// On a single-threaded runtime a guest in a tight loop must still yield: the epoch deadline
/// makes it give the thread back at every tick, so the other jobs finish while it spins.
#[tokio::test(flavor = "current_thread")]
async fn busy_guest_does_not_starve_others_on_one_thread() {
    let start = Instant::now();
    let spinner = hog(programs::SPIN, Duration::from_secs(6));
    // Let the spinner start first.
    tokio::task::yield_now().await;
    let done = honest_jobs(8, start).await;
    let slowest = done.iter().max().unwrap();
    assert!(!spinner.is_finished(), "honest jobs took {slowest:?}");
    assert!(
        *slowest < Duration::from_secs(5),
        "honest jobs took {slowest:?}"
    );
    let (outcome, _) = spinner.await.unwrap();
    assert_eq!(outcome.to_string(), "timed out after 6 s");
}

#[test]
fn the_same_bytes_compile_once() {
    let sandbox = Sandbox::new(SandboxConfig::default()).unwrap();
    let first = sandbox.load(Path::new(programs::HONEST)).unwrap();
    let second = sandbox.load(Path::new(programs::HONEST)).unwrap();
    assert_eq!(first.sha256(), second.sha256());
    assert_eq!(first.name(), "honest");
    assert_eq!(
        sandbox.cache_stats(),
        CacheStats {
            compiled: 1,
            loaded_precompiled: 0,
            memory_hits: 1
        }
    );
}

#[tokio::test]
async fn the_disk_cache_survives_a_new_sandbox() {
    let cache = tempfile::tempdir().unwrap();
    let config = SandboxConfig {
        cache_dir: Some(cache.path().to_owned()),
        ..SandboxConfig::default()
    };
    let first = Sandbox::new(config.clone()).unwrap();
    let module = first.load(Path::new(programs::HONEST)).unwrap();
    assert_eq!(first.cache_stats().compiled, 1);
    let files: Vec<String> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 1);
    assert!(files[0].starts_with(&format!("{}-", module.sha256())) && files[0].ends_with(".cwasm"));
    drop(first);

    let second = Sandbox::new(config.clone()).unwrap();
    let module = second.load(Path::new(programs::HONEST)).unwrap();
    assert_eq!(
        second.cache_stats(),
        CacheStats {
            compiled: 0,
            loaded_precompiled: 1,
            memory_hits: 0
        }
    );
    let job = Job::new();
    let record = second.run(&module, job.spec()).await.unwrap();
    assert_eq!(record.outcome, Outcome::Exited { code: 0 });

    // A damaged file is not trusted: the module is compiled again and the file replaced.
    std::fs::write(cache.path().join(&files[0]), b"not a precompiled module").unwrap();
    let third = Sandbox::new(config).unwrap();
    let module = third.load(Path::new(programs::HONEST)).unwrap();
    assert_eq!(third.cache_stats().compiled, 1);
    let record = third.run(&module, Job::new().spec()).await.unwrap();
    assert_eq!(record.outcome, Outcome::Exited { code: 0 });
    assert!(
        std::fs::metadata(cache.path().join(&files[0]))
            .unwrap()
            .len()
            > 1000
    );
}

#[tokio::test]
async fn per_instance_allocation_works_without_pooling() {
    let sandbox = Sandbox::new(SandboxConfig {
        pooling: false,
        ..SandboxConfig::default()
    })
    .unwrap();
    let module = sandbox.load(Path::new(programs::HONEST)).unwrap();
    let job = Job::new();
    let record = sandbox.run(&module, job.spec()).await.unwrap();
    assert_eq!(record.outcome, Outcome::Exited { code: 0 });
    assert_eq!(job.report()["success"], true);
}

#[tokio::test]
async fn fuel_is_counted_when_metered() {
    let module = FUEL_SANDBOX.load(Path::new(programs::HONEST)).unwrap();
    let job = Job::new();
    let record = FUEL_SANDBOX.run(&module, job.spec()).await.unwrap();
    assert_eq!(record.outcome, Outcome::Exited { code: 0 });
    let used = record.fuel_used.expect("fuel is metered");
    assert!(used > 1_000 && used < 100_000_000, "{used}");
}

#[tokio::test]
async fn a_fuel_limit_needs_fuel_metering() {
    let job = Job::new();
    let spec = RunSpec {
        limits: Limits {
            fuel: Some(1),
            ..Limits::default()
        },
        ..job.spec()
    };
    let err = SANDBOX
        .run(&load(programs::HONEST), spec)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::FuelNotEnabled));
    assert_eq!(
        err.to_string(),
        "a fuel limit needs a sandbox with fuel metering: set SandboxConfig::fuel_metering"
    );
}

#[tokio::test]
async fn a_missing_input_folder_is_named() {
    let job = Job::new();
    let missing = job.root.path().join("no-such-input");
    let spec = RunSpec::new(&missing, job.output());
    let err = SANDBOX
        .run(&load(programs::HONEST), spec)
        .await
        .unwrap_err();
    let Error::OpenDir { path, .. } = &err else {
        panic!("expected OpenDir, got {err:?}");
    };
    assert_eq!(path, &missing);
    assert!(
        err.to_string().starts_with(&format!(
            "could not open {} for the guest: ",
            missing.display()
        )),
        "{err}"
    );
}

#[test]
fn a_missing_module_file_is_named() {
    let err = SANDBOX.load(Path::new("/nonexistent/x.wasm")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "could not read module /nonexistent/x.wasm: No such file or directory (os error 2)"
    );
}

#[test]
fn invalid_bytes_are_not_a_module() {
    let err = SANDBOX.load_bytes("junk", b"\0asm garbage").unwrap_err();
    assert!(matches!(err, Error::InvalidModule { ref name, .. } if name == "junk"));
    assert!(
        err.to_string()
            .starts_with("module junk is not a valid WebAssembly module: "),
        "{err}"
    );
}

#[test]
fn a_library_module_is_not_a_command() {
    let err = SANDBOX.load_bytes("lib", b"(module)").unwrap_err();
    assert_eq!(
        err.to_string(),
        "module lib exports no `_start` function: build it as a binary (a WASI command)"
    );
}

#[test]
fn a_start_global_is_a_module_error_at_load() {
    let wat = br#"(module (global (export "_start") i32 (i32.const 0)))"#;
    let err = SANDBOX.load_bytes("start-global", wat).unwrap_err();
    assert!(matches!(err, Error::BadStart { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "module start-global exports `_start` as a global; a WASI command exports `_start` as a \
         function () -> ()"
    );
}

#[test]
fn a_start_with_the_wrong_signature_is_a_module_error_at_load() {
    let wat = br#"(module (func (export "_start") (param i32 i64) (result i32) (i32.const 0)))"#;
    let err = SANDBOX.load_bytes("start-args", wat).unwrap_err();
    assert_eq!(
        err.to_string(),
        "module start-args exports `_start` as a function (i32, i64) -> (i32); a WASI command \
         exports `_start` as a function () -> ()"
    );
    let wat = br#"(module (memory (export "_start") 1))"#;
    let err = SANDBOX.load_bytes("start-memory", wat).unwrap_err();
    assert_eq!(
        err.to_string(),
        "module start-memory exports `_start` as a memory; a WASI command exports `_start` as a \
         function () -> ()"
    );
}

#[test]
fn a_module_without_start_is_not_a_command() {
    let wat = br#"(module (func (export "main")))"#;
    let err = SANDBOX.load_bytes("no-start", wat).unwrap_err();
    assert!(matches!(err, Error::NotACommand { ref name } if name == "no-start"));
    assert_eq!(
        err.to_string(),
        "module no-start exports no `_start` function: build it as a binary (a WASI command)"
    );
}

#[test]
fn imports_beyond_wasi_are_refused() {
    let wat = br#"(module (import "env" "secret" (func)) (func (export "_start")))"#;
    let err = SANDBOX.load_bytes("needs-env", wat).unwrap_err();
    assert!(matches!(err, Error::Link { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("module needs-env cannot be linked: ")
            && err.to_string().contains("env::secret"),
        "{err}"
    );
}

#[tokio::test]
async fn a_module_in_text_form_runs() {
    let wat = br#"(module
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (func (export "_start") (call $exit (i32.const 7))))"#;
    let module = SANDBOX.load_bytes("exit-7", wat).unwrap();
    let record = SANDBOX.run(&module, Job::new().spec()).await.unwrap();
    assert_eq!(record.outcome, Outcome::Exited { code: 7 });
    assert_eq!(record.peak_memory_bytes, 64 * 1024);
}

#[tokio::test]
async fn a_reused_memory_slot_holds_nothing_of_the_previous_run() {
    // Each run checks that its memory is the module's image (the data segment at 16) and zeros
    // elsewhere (low memory, 3 MiB inside the part kept resident between runs, 8 MiB beyond it),
    // then dirties all of it. One slot only, so every run reuses the previous run's memory.
    let wat = br#"(module
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (data (i32.const 16) "I")
        (func (export "_start")
            (drop (memory.grow (i32.const 159)))
            (if (i32.ne (i32.load8_u (i32.const 16)) (i32.const 0x49)) (then (call $exit (i32.const 1))))
            (if (i64.ne (i64.load (i32.const 1024)) (i64.const 0)) (then (call $exit (i32.const 2))))
            (if (i64.ne (i64.load (i32.const 3145728)) (i64.const 0)) (then (call $exit (i32.const 3))))
            (if (i64.ne (i64.load (i32.const 8388608)) (i64.const 0)) (then (call $exit (i32.const 4))))
            (i32.store8 (i32.const 16) (i32.const 0))
            (i64.store (i32.const 1024) (i64.const 0x5345435245543131))
            (i64.store (i32.const 3145728) (i64.const 0x5345435245543232))
            (i64.store (i32.const 8388608) (i64.const 0x5345435245543333))))"#;
    let sandbox = Sandbox::new(SandboxConfig {
        max_concurrent: 1,
        ..SandboxConfig::default()
    })
    .unwrap();
    let module = sandbox.load_bytes("residue", wat).unwrap();
    for run in 0..4 {
        let record = sandbox.run(&module, Job::new().spec()).await.unwrap();
        assert_eq!(record.outcome, Outcome::Exited { code: 0 }, "run {run}");
        assert_eq!(record.peak_memory_bytes, 160 * 64 * 1024);
    }
}
