//! Concurrency: limits hold under 1,000 queued jobs, FIFO per worker, fairness across workers,
//! timeouts counted from submission, and cancellation freeing slots.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cortex_job::{FinaliseOptions, JobFolder, JobInput, WorkerEnd};
use cortex_runner::backend::{Backend, BackendEnd, BackendJob, BackendKind, BoxFuture, RunInfo};
use cortex_runner::catalog::Catalog;
use cortex_runner::config::{KubernetesConfig, WasmConfig};
use cortex_runner::policy::{PolicyContext, PolicySet, load_str};
use cortex_runner::scheduler::{LaneDefaults, Scheduler, Slots, WorkerTable};

/// Counts jobs running now, overall and per worker, and the highest counts seen.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    max: AtomicUsize,
    per_worker: Mutex<std::collections::HashMap<String, (usize, usize)>>,
    started: Mutex<Vec<String>>,
}

impl Gauge {
    fn enter(&self, worker: &str) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        let mut per = self.per_worker.lock().unwrap();
        let entry = per.entry(worker.to_string()).or_default();
        entry.0 += 1;
        entry.1 = entry.1.max(entry.0);
        self.started.lock().unwrap().push(worker.to_string());
    }

    fn leave(&self, worker: &str) {
        self.now.fetch_sub(1, Ordering::SeqCst);
        self.per_worker.lock().unwrap().get_mut(worker).unwrap().0 -= 1;
    }

    fn max_of(&self, worker: &str) -> usize {
        self.per_worker.lock().unwrap()[worker].1
    }
}

/// A backend that writes a success report after `delay`.
struct FakeBackend {
    gauge: Arc<Gauge>,
    delay: Duration,
}

impl Backend for FakeBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Wasm
    }

    fn run<'a>(&'a self, job: BackendJob<'a>) -> BoxFuture<'a, BackendEnd> {
        Box::pin(async move {
            let name = job.worker.name.clone();
            self.gauge.enter(&name);
            // Leave the gauge even when the run is cancelled by dropping this future.
            struct Leave<'g>(&'g Gauge, String);
            impl Drop for Leave<'_> {
                fn drop(&mut self) {
                    self.0.leave(&self.1);
                }
            }
            let _leave = Leave(&self.gauge, name);
            tokio::time::sleep(self.delay).await;
            std::fs::write(
                job.folder.output_dir().join("output.json"),
                r#"{"success": true, "full": {"ok": true}, "summary": {"taxonomies": []}}"#,
            )
            .unwrap();
            BackendEnd {
                end: WorkerEnd::exited(0),
                info: RunInfo::default(),
            }
        })
    }
}

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Two wasm workers, A and B, each with the given policy tail.
fn scheduler(global: usize, policy_tail: &str, gauge: Arc<Gauge>, delay: Duration) -> Scheduler {
    scheduler_with(global, [policy_tail, policy_tail], gauge, delay)
}

/// Two wasm workers, A and B, with their own policy tails.
fn scheduler_with(
    global: usize,
    tails: [&str; 2],
    gauge: Arc<Gauge>,
    delay: Duration,
) -> Scheduler {
    let catalog = Catalog::default();
    let wasm = WasmConfig {
        module_dirs: vec![manifest_dir().join("tests/ui/modules")],
        builtin_modules: false,
        ..Default::default()
    };
    let kubernetes = KubernetesConfig::default();
    let ctx = PolicyContext {
        catalog: &catalog,
        wasm: &wasm,
        kubernetes: &kubernetes,
        builtin_modules: &[],
    };
    let mut set = PolicySet::default();
    for ((worker, module), tail) in [("A", "EmlParser.wasm"), ("B", "Custom.wasm")]
        .into_iter()
        .zip(tails)
    {
        let text = format!(
            "backend = \"wasm\"\n[worker]\ndata_types = [\"ip\"]\n[wasm]\nmodule = \"{module}\"\n{tail}"
        );
        set.insert(
            load_str(
                worker,
                &PathBuf::from(format!("{worker}.toml")),
                &text,
                &ctx,
            )
            .unwrap(),
        )
        .unwrap();
    }
    let defaults = LaneDefaults {
        timeout: Duration::from_secs(60),
        concurrency: 1,
    };
    Scheduler::new(
        WorkerTable::build(&catalog, &set, ""),
        global,
        FinaliseOptions::default(),
    )
    .with_backend(Arc::new(FakeBackend { gauge, delay }), defaults)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_queued_jobs_never_exceed_the_limits_and_all_finish() {
    let gauge = Arc::new(Gauge::default());
    let scheduler = Arc::new(scheduler(
        5,
        "concurrency = 3\n",
        gauge.clone(),
        Duration::from_millis(2),
    ));
    let root = tempfile::tempdir().unwrap();
    let mut tasks = Vec::new();
    for i in 0..1000 {
        let worker = if i % 4 == 0 { "B" } else { "A" };
        let folder = JobFolder::create(
            root.path(),
            &i.to_string(),
            &JobInput::new("ip", "10.0.0.1"),
            None,
        )
        .unwrap();
        let scheduler = scheduler.clone();
        tasks.push(tokio::spawn(async move {
            let record = scheduler
                .run(worker, &folder, Instant::now())
                .await
                .unwrap();
            (worker, record.finalised.success)
        }));
    }
    let mut done = 0;
    for task in tasks {
        let (_, success) = task.await.unwrap();
        assert!(success);
        done += 1;
    }
    assert_eq!(done, 1000);
    assert_eq!(gauge.started.lock().unwrap().len(), 1000);
    assert!(
        gauge.max.load(Ordering::SeqCst) <= 5,
        "global max {}",
        gauge.max.load(Ordering::SeqCst)
    );
    assert!(gauge.max_of("A") <= 3, "A max {}", gauge.max_of("A"));
    assert!(gauge.max_of("B") <= 3, "B max {}", gauge.max_of("B"));
    // The limits were reached, so the test measured something.
    assert_eq!(gauge.max.load(Ordering::SeqCst), 5);
    assert_eq!(gauge.max_of("A"), 3);
    assert_eq!(
        scheduler.slots().usage(),
        cortex_runner::scheduler::Usage {
            running: 0,
            waiting: 0
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_serve_two_workers_in_turn_and_each_in_order() {
    // 900 jobs of A are queued before the 100 jobs of B; with round-robin across lanes B still
    // gets every other slot, and each lane starts its jobs in submission order.
    let slots = Slots::new(2);
    let blockers = [slots.acquire("A", 2).await, slots.acquire("A", 2).await];
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    let jobs = (0..900).map(|i| ("A", i)).chain((0..100).map(|i| ("B", i)));
    for (n, (lane, i)) in jobs.enumerate() {
        let (s, o) = (slots.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            let permit = s.acquire(lane, 2).await;
            o.lock().unwrap().push((permit.grant_number(), lane, i));
            tokio::task::yield_now().await;
            drop(permit);
        }));
        // Submit one at a time, so that submission order is the order written here.
        while slots.usage().waiting < n + 1 {
            tokio::task::yield_now().await;
        }
    }
    drop(blockers);
    for task in tasks {
        task.await.unwrap();
    }
    // Sorted by grant, since two threads may record two grants in either order.
    let mut order = order.lock().unwrap().clone();
    order.sort();
    let order: Vec<(&str, usize)> = order.into_iter().map(|(_, lane, i)| (lane, i)).collect();
    assert_eq!(order.len(), 1000);
    // FIFO within each lane.
    for lane in ["A", "B"] {
        let indices: Vec<usize> = order
            .iter()
            .filter(|(l, _)| *l == lane)
            .map(|(_, i)| *i)
            .collect();
        assert!(
            indices.windows(2).all(|w| w[0] < w[1]),
            "{lane} out of order"
        );
    }
    // Fairness: while B has jobs waiting, A and B alternate; B's 100 jobs are done within the
    // first 200 starts (first-come-first-served would have run them last).
    let last_b = order.iter().rposition(|(l, _)| *l == "B").unwrap();
    assert!(last_b < 201, "B's last job started at position {last_b}");
    for (pos, prefix_end) in (1..=last_b).enumerate() {
        let prefix = &order[..prefix_end];
        let a = prefix.iter().filter(|(l, _)| *l == "A").count();
        let b = prefix.len() - a;
        assert!(a.abs_diff(b) <= 2, "after {pos} starts: A {a}, B {b}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_jobs_timeout_counts_from_submission() {
    // One global slot, held by A (timeout 30 s); B (timeout 1 s) waits for it and gives up at
    // its deadline with a report saying what it waited for.
    let gauge = Arc::new(Gauge::default());
    let tails = ["timeout_s = 30\n", "timeout_s = 1\n"];
    let scheduler = Arc::new(scheduler_with(1, tails, gauge, Duration::from_secs(30)));
    let root = tempfile::tempdir().unwrap();
    let first =
        JobFolder::create(root.path(), "first", &JobInput::new("ip", "10.0.0.1"), None).unwrap();
    let second = JobFolder::create(
        root.path(),
        "second",
        &JobInput::new("ip", "10.0.0.2"),
        None,
    )
    .unwrap();
    let s1 = scheduler.clone();
    let running = tokio::spawn(async move { s1.run("A", &first, Instant::now()).await.unwrap() });
    while scheduler.slots().running("A/wasm") == 0 {
        tokio::task::yield_now().await;
    }
    let started = Instant::now();
    let queued = scheduler.run("B", &second, started).await.unwrap();
    assert_eq!(
        queued.finalised.report["errorMessage"],
        serde_json::json!(
            "timed out after 1 s waiting for a wasm slot (0 of 8 wasm jobs of B running; 1 of 1 jobs in all)"
        )
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1) && started.elapsed() < Duration::from_secs(3)
    );
    assert!(queued.run.is_none());
    running.abort();
    let _ = running.await;
    assert_eq!(scheduler.slots().usage().running, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_jobs_deadline_includes_its_time_in_the_queue() {
    // Submitted 600 ms ago with a 1 s timeout: the run gets the 400 ms that are left.
    let gauge = Arc::new(Gauge::default());
    let scheduler = scheduler(4, "timeout_s = 1\n", gauge, Duration::from_secs(30));
    let root = tempfile::tempdir().unwrap();
    let folder =
        JobFolder::create(root.path(), "late", &JobInput::new("ip", "10.0.0.1"), None).unwrap();
    let submitted = Instant::now() - Duration::from_millis(600);
    let record = scheduler.run("A", &folder, submitted).await.unwrap();
    assert_eq!(
        record.finalised.report["errorMessage"],
        serde_json::json!("timed out after 1 s")
    );
    let elapsed = submitted.elapsed();
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_millis(1500),
        "{elapsed:?}"
    );
    assert_eq!(scheduler.slots().usage().running, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_queued_or_running_job_frees_its_slot() {
    let gauge = Arc::new(Gauge::default());
    let scheduler = Arc::new(scheduler(
        4,
        "concurrency = 1\n",
        gauge.clone(),
        Duration::from_secs(60),
    ));
    let root = tempfile::tempdir().unwrap();
    let make = |id: &str| {
        JobFolder::create(root.path(), id, &JobInput::new("ip", "10.0.0.1"), None).unwrap()
    };
    let (f1, f2) = (make("running"), make("queued"));
    let (s1, s2) = (scheduler.clone(), scheduler.clone());
    let running = tokio::spawn(async move { s1.run("A", &f1, Instant::now()).await });
    while scheduler.slots().running("A/wasm") == 0 {
        tokio::task::yield_now().await;
    }
    let queued = tokio::spawn(async move { s2.run("A", &f2, Instant::now()).await });
    while scheduler.slots().usage().waiting == 0 {
        tokio::task::yield_now().await;
    }
    queued.abort();
    assert!(queued.await.unwrap_err().is_cancelled());
    assert_eq!(scheduler.slots().usage().waiting, 0);
    assert_eq!(scheduler.slots().usage().running, 1);
    running.abort();
    assert!(running.await.unwrap_err().is_cancelled());
    assert_eq!(scheduler.slots().usage().running, 0);
    assert_eq!(gauge.now.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_dropped_while_being_granted_hands_the_slot_on() {
    // Many waiters are cancelled while slots are being released: no slot may leak.
    let slots = Slots::new(3);
    for round in 0..200 {
        let held: Vec<_> = futures_join(&slots, 3).await;
        let mut waiters = Vec::new();
        for _ in 0..10 {
            let s = slots.clone();
            waiters.push(tokio::spawn(async move {
                let _p = s.acquire("L", 3).await;
                tokio::task::yield_now().await;
            }));
        }
        while slots.usage().waiting < 10 {
            tokio::task::yield_now().await;
        }
        for (i, w) in waiters.iter().enumerate() {
            if (i + round) % 2 == 0 {
                w.abort();
            }
        }
        drop(held);
        for w in waiters {
            let _ = w.await;
        }
        assert_eq!(
            slots.usage(),
            cortex_runner::scheduler::Usage {
                running: 0,
                waiting: 0
            },
            "round {round}"
        );
    }
}

async fn futures_join(slots: &Slots, n: usize) -> Vec<cortex_runner::scheduler::Permit> {
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(slots.acquire("L", n as u32).await);
    }
    held
}
