//! Per-job cost of the sandbox alone, end to end: write the job folder, run the honest analyzer
//! (`test-programs/src/bin/honest.rs`: parse input.json, SHA-256 the observable, write a report),
//! read `output.json` back, remove the folder. Prints one JSON object per configuration.
//!
//! Then the sandbox step alone, on one job folder made once (so that no folder is created or
//! removed): `sandbox_only` rows give the median of `Sandbox::run` for a module that only calls
//! `proc_exit(0)` (what any guest pays: WASI context with its two preopens, store, instance,
//! teardown and memory reset) and for the honest analyzer (plus its WASI calls and its work).
//!
//! `cargo bench -p wasm-host --bench per_job [-- JOBS [ROOT]]`; ROOT defaults to `/dev/shm`
//! (tmpfs: on a disk, file-system calls dominate and the figures are several times worse).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wasm_host::{Module, RunSpec, Sandbox, SandboxConfig};

const INPUT_JSON: &[u8] = br#"{"data":"8.8.8.8","dataType":"ip","tlp":2,"pap":2,"message":"","parameters":{},"config":{}}"#;

static NEXT: AtomicU64 = AtomicU64::new(0);

/// One job, end to end; returns its latency.
async fn one_job(sandbox: &Sandbox, module: &Module, root: &Path) -> Duration {
    let started = Instant::now();
    let dir: PathBuf = root.join(format!(
        "bench-job-{}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(dir.join("input")).unwrap();
    std::fs::create_dir(dir.join("output")).unwrap();
    std::fs::write(dir.join("input/input.json"), INPUT_JSON).unwrap();
    let record = sandbox
        .run(module, RunSpec::new(dir.join("input"), dir.join("output")))
        .await
        .unwrap();
    assert_eq!(record.exit_code(), Some(0), "{:?}", record.outcome);
    let report = std::fs::read(dir.join("output/output.json")).unwrap();
    assert!(report.starts_with(br#"{"success":true"#));
    let elapsed = started.elapsed();
    std::fs::remove_dir_all(&dir).unwrap();
    elapsed
}

fn percentile(sorted: &[Duration], p: f64) -> u128 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_micros()
}

fn measure(name: &str, config: SandboxConfig, jobs: usize, concurrency: usize, root: &Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(concurrency)
        .enable_all()
        .build()
        .unwrap();
    let sandbox = Sandbox::new(config).unwrap();
    let module = sandbox
        .load(Path::new(test_programs_artifacts::HONEST))
        .unwrap();
    let root = Arc::new(root.to_owned());
    let latencies = runtime.block_on(async {
        // Warm up: first instantiations fault in the pool's pages.
        for _ in 0..200 {
            one_job(&sandbox, &module, &root).await;
        }
        let started = Instant::now();
        let mut tasks = Vec::new();
        for worker in 0..concurrency {
            let (sandbox, module, root) = (sandbox.clone(), module.clone(), root.clone());
            let share = jobs / concurrency + usize::from(worker < jobs % concurrency);
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::with_capacity(share);
                for _ in 0..share {
                    out.push(one_job(&sandbox, &module, &root).await);
                }
                out
            }));
        }
        let mut all = Vec::with_capacity(jobs);
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        (all, started.elapsed())
    });
    let (mut all, wall) = latencies;
    all.sort();
    println!(
        "{{\"config\":\"{name}\",\"jobs\":{jobs},\"concurrency\":{concurrency},\"wall_s\":{:.3},\"jobs_per_s\":{:.0},\"p50_us\":{},\"p90_us\":{},\"p99_us\":{},\"max_us\":{}}}",
        wall.as_secs_f64(),
        jobs as f64 / wall.as_secs_f64(),
        percentile(&all, 0.50),
        percentile(&all, 0.90),
        percentile(&all, 0.99),
        all.last().unwrap().as_micros(),
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let jobs: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let root = PathBuf::from(args.get(1).map(String::as_str).unwrap_or("/dev/shm"));
    for (name, config) in [
        ("pooling", SandboxConfig::default()),
        (
            "on-demand",
            SandboxConfig {
                pooling: false,
                ..SandboxConfig::default()
            },
        ),
        (
            "pooling+fuel",
            SandboxConfig {
                fuel_metering: true,
                ..SandboxConfig::default()
            },
        ),
    ] {
        measure(name, config.clone(), jobs, 1, &root);
        measure(name, config, jobs, 2, &root);
    }
    sandbox_only(jobs, &root);
}

/// A module that does nothing but exit with status 0.
const EXIT_ONLY: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (i32.const 0))))"#;

/// Medians of `Sandbox::run` alone, alternating the two modules run by run on one folder.
fn sandbox_only(runs: usize, root: &Path) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sandbox = Sandbox::new(SandboxConfig::default()).unwrap();
    let exit_only = sandbox
        .load_bytes("exit-only", EXIT_ONLY.as_bytes())
        .unwrap();
    let honest = sandbox
        .load(Path::new(test_programs_artifacts::HONEST))
        .unwrap();
    let dir = root.join(format!("bench-sandbox-only-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("input")).unwrap();
    std::fs::create_dir(dir.join("output")).unwrap();
    std::fs::write(dir.join("input/input.json"), INPUT_JSON).unwrap();
    let mut times: [Vec<Duration>; 2] = Default::default();
    runtime.block_on(async {
        for i in 0..runs + 200 {
            for (slot, module) in [&exit_only, &honest].into_iter().enumerate() {
                let started = Instant::now();
                let record = sandbox
                    .run(module, RunSpec::new(dir.join("input"), dir.join("output")))
                    .await
                    .unwrap();
                let elapsed = started.elapsed();
                assert_eq!(record.exit_code(), Some(0), "{:?}", record.outcome);
                // The first runs fault the pool's pages in.
                if i >= 200 {
                    times[slot].push(elapsed);
                }
            }
        }
    });
    std::fs::remove_dir_all(&dir).unwrap();
    for (name, mut samples) in ["exit-only", "honest"].into_iter().zip(times) {
        samples.sort();
        println!(
            "{{\"config\":\"sandbox_only\",\"module\":\"{name}\",\"runs\":{runs},\"p50_us\":{},\"p90_us\":{}}}",
            percentile(&samples, 0.50),
            percentile(&samples, 0.90),
        );
    }
}
