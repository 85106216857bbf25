//! Concurrency: limits hold under 1,000 queued jobs, FIFO per worker, fairness across workers,
//! timeouts counted from submission, and cancellation: a dropped handle or an explicit cancel,
//! while queued or running, frees the slot and still leaves the job's report.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cortex_job::{FinaliseOptions, JobFolder, JobInput, WorkerEnd};
use cortex_runner::backend::wasm::WasmBackend;
use cortex_runner::backend::{
    Backend, BackendEnd, BackendJob, BackendKind, BoxFuture, LaneLimits, RunInfo,
};
use cortex_runner::catalog::Catalog;
use cortex_runner::config::{KubernetesConfig, WasmConfig};
use cortex_runner::policy::{PolicyContext, PolicySet, load_str};
use cortex_runner::scheduler::{JobHandle, STOPPED_MESSAGE, Scheduler, Slots, Usage};
use cortex_runner::workers::{Worker, WorkerTable};
use serde_json::json;
use test_programs_artifacts as programs;

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

/// A backend that writes a success report after `delay`; its lane limits are the policy's
/// `[wasm]` ones, as the wasm backend's are.
struct FakeBackend {
    gauge: Arc<Gauge>,
    delay: Duration,
}

/// The success report the fake backend's worker writes, as finalised.
fn fake_success() -> serde_json::Value {
    json!({"success": true, "full": {"ok": true}, "summary": {"taxonomies": []}, "artifacts": [], "operations": []})
}

impl Backend for FakeBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Wasm
    }

    fn lane_limits(&self, worker: &Worker) -> LaneLimits {
        let wasm = &worker
            .policy
            .as_ref()
            .expect("test workers have policies")
            .wasm;
        LaneLimits {
            timeout: Duration::from_secs(wasm.timeout_s),
            concurrency: wasm.concurrency,
        }
    }

    fn run(self: Arc<Self>, job: BackendJob) -> BoxFuture<'static, BackendEnd> {
        Box::pin(async move {
            let name = job.worker.name.clone();
            self.gauge.enter(&name);
            // Leave the gauge even when the run is cancelled by dropping this future.
            struct Leave(Arc<Gauge>, String);
            impl Drop for Leave {
                fn drop(&mut self) {
                    self.0.leave(&self.1);
                }
            }
            let _leave = Leave(self.gauge.clone(), name);
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
fn scheduler(
    global: usize,
    policy_tail: &str,
    gauge: Arc<Gauge>,
    delay: Duration,
) -> Arc<Scheduler> {
    scheduler_with(global, [policy_tail, policy_tail], gauge, delay)
}

/// Two wasm workers, A and B, with their own policy tails.
fn scheduler_with(
    global: usize,
    tails: [&str; 2],
    gauge: Arc<Gauge>,
    delay: Duration,
) -> Arc<Scheduler> {
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
    let scheduler = Scheduler::new(
        WorkerTable::build(&catalog, &set, ""),
        global,
        FinaliseOptions::default(),
    )
    .with_backend(Arc::new(FakeBackend { gauge, delay }));
    Arc::new(scheduler)
}

/// A job folder for an `ip` job in `root`.
fn folder(root: &Path, id: &str) -> Arc<JobFolder> {
    Arc::new(JobFolder::create(root, id, &JobInput::new("ip", "10.0.0.1"), None).unwrap())
}

/// The report written to `folder`'s `output/output.json`.
fn written(folder: &JobFolder) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(folder.output_dir().join("output.json")).unwrap())
        .unwrap()
}

/// Waits until `scheduler` has at least `running` jobs holding a slot and `waiting` queued.
async fn until(scheduler: &Scheduler, running: usize, waiting: usize) {
    while scheduler.slots().usage().running < running || scheduler.slots().usage().waiting < waiting
    {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_queued_jobs_never_exceed_the_limits_and_all_finish() {
    let gauge = Arc::new(Gauge::default());
    let scheduler = scheduler(
        5,
        "concurrency = 3\n",
        gauge.clone(),
        Duration::from_millis(2),
    );
    let root = tempfile::tempdir().unwrap();
    let mut tasks = Vec::new();
    for i in 0..1000 {
        let worker = if i % 4 == 0 { "B" } else { "A" };
        let folder = folder(root.path(), &i.to_string());
        let job = scheduler.submit(worker, folder, Instant::now());
        tasks.push(tokio::spawn(async move {
            let record = job.await.unwrap();
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
        Usage {
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
    let scheduler = scheduler_with(1, tails, gauge, Duration::from_secs(30));
    let root = tempfile::tempdir().unwrap();
    let running = scheduler.submit("A", folder(root.path(), "first"), Instant::now());
    while scheduler.slots().running("A/wasm") == 0 {
        tokio::task::yield_now().await;
    }
    let started = Instant::now();
    let queued = scheduler
        .submit("B", folder(root.path(), "second"), started)
        .await
        .unwrap();
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
    running.cancel("the test is over");
    running.await.unwrap();
    assert_eq!(scheduler.slots().usage().running, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_jobs_deadline_includes_its_time_in_the_queue() {
    // Submitted 600 ms ago with a 1 s timeout: the run gets the 400 ms that are left.
    let gauge = Arc::new(Gauge::default());
    let scheduler = scheduler(4, "timeout_s = 1\n", gauge, Duration::from_secs(30));
    let root = tempfile::tempdir().unwrap();
    let submitted = Instant::now() - Duration::from_millis(600);
    let record = scheduler
        .submit("A", folder(root.path(), "late"), submitted)
        .await
        .unwrap();
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

/// Two jobs of worker `A` (one at a time) whose fake runs take `delay`: one running, one queued
/// behind it; each with its handle and folder.
struct Pair {
    gauge: Arc<Gauge>,
    scheduler: Arc<Scheduler>,
    running: (JobHandle, Arc<JobFolder>),
    queued: (JobHandle, Arc<JobFolder>),
    /// Holds the job folders.
    _root: tempfile::TempDir,
}

/// Submits the two jobs of a [`Pair`] and returns once one runs and the other waits.
async fn running_and_queued(delay: Duration) -> Pair {
    let gauge = Arc::new(Gauge::default());
    let scheduler = scheduler(4, "concurrency = 1\n", gauge.clone(), delay);
    let root = tempfile::tempdir().unwrap();
    let (f1, f2) = (
        folder(root.path(), "running"),
        folder(root.path(), "queued"),
    );
    let running = scheduler.submit("A", f1.clone(), Instant::now());
    until(&scheduler, 1, 0).await;
    let queued = scheduler.submit("A", f2.clone(), Instant::now());
    until(&scheduler, 1, 1).await;
    Pair {
        gauge,
        scheduler,
        running: (running, f1),
        queued: (queued, f2),
        _root: root,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_handle_of_a_queued_or_running_job_still_writes_its_report() {
    // A caller that goes away (a client disconnect) does not take the job with it: both jobs
    // run to their end, one after the other, and each leaves the worker's report.
    let Pair {
        gauge,
        scheduler,
        running: (running, f1),
        queued: (queued, f2),
        _root,
    } = running_and_queued(Duration::from_millis(300)).await;
    drop(queued);
    drop(running);
    assert_eq!(scheduler.in_flight(), 2);
    tokio::time::timeout(Duration::from_secs(10), scheduler.drained())
        .await
        .expect("both jobs end");
    assert_eq!(written(&f1), fake_success());
    assert_eq!(written(&f2), fake_success());
    assert_eq!(*gauge.started.lock().unwrap(), ["A", "A"]);
    assert_eq!(scheduler.slots().usage(), Usage::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_queued_or_running_job_frees_its_slot_and_reports_why() {
    let Pair {
        gauge,
        scheduler,
        running: (running, f1),
        queued: (queued, f2),
        _root,
    } = running_and_queued(Duration::from_secs(60)).await;

    queued.cancel("deleted by the client");
    let record = tokio::time::timeout(Duration::from_secs(5), queued)
        .await
        .expect("a cancelled job ends at once")
        .unwrap();
    assert!(!record.finalised.success);
    assert_eq!(
        record.finalised.report["errorMessage"],
        json!("cancelled: deleted by the client")
    );
    assert!(record.run.is_none(), "the queued job never ran");
    assert_eq!(written(&f2), record.finalised.report);
    let one_running = Usage {
        running: 1,
        waiting: 0,
    };
    assert_eq!(scheduler.slots().usage(), one_running);
    assert_eq!(gauge.started.lock().unwrap().len(), 1);

    running.cancel("the client went away");
    // The first reason wins.
    running.cancel("a second reason");
    let record = tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("a cancelled job ends at once")
        .unwrap();
    assert_eq!(
        record.finalised.report["errorMessage"],
        json!("cancelled: the client went away")
    );
    assert!(record.run.is_some(), "the running job ran");
    assert_eq!(written(&f1), record.finalised.report);
    assert_eq!(scheduler.slots().usage(), Usage::default());
    // The backend's run future was dropped: the fake worker left.
    assert_eq!(gauge.now.load(Ordering::SeqCst), 0);
    assert_eq!(scheduler.in_flight(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canceller_still_cancels_after_the_handle_is_dropped() {
    // What a service does: the request awaiting the job goes away, a DELETE cancels it later.
    let gauge = Arc::new(Gauge::default());
    let scheduler = scheduler(4, "", gauge.clone(), Duration::from_secs(60));
    let root = tempfile::tempdir().unwrap();
    let f = folder(root.path(), "detached");
    let handle = scheduler.submit("A", f.clone(), Instant::now());
    let canceller = handle.canceller();
    until(&scheduler, 1, 0).await;
    drop(handle);
    canceller.cancel("DELETE /jobs/detached");
    tokio::time::timeout(Duration::from_secs(5), scheduler.drained())
        .await
        .expect("a cancelled job ends at once");
    assert_eq!(
        written(&f)["errorMessage"],
        json!("cancelled: DELETE /jobs/detached")
    );
    assert_eq!(gauge.now.load(Ordering::SeqCst), 0);
    assert_eq!(scheduler.slots().usage(), Usage::default());
}

#[test]
fn a_job_whose_runtime_shuts_down_is_still_finalised() {
    // The last resort: the task itself is dropped mid-run (here by the runtime shutting down);
    // the job folder still gets a report.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let gauge = Arc::new(Gauge::default());
    let root = tempfile::tempdir().unwrap();
    let f = folder(root.path(), "stopped");
    let scheduler = rt.block_on(async {
        let scheduler = scheduler(4, "", gauge.clone(), Duration::from_secs(60));
        let handle = scheduler.submit("A", f.clone(), Instant::now());
        until(&scheduler, 1, 0).await;
        drop(handle);
        scheduler
    });
    drop(rt);
    let report = written(&f);
    assert_eq!(report["success"], json!(false));
    assert_eq!(report["errorMessage"], json!(STOPPED_MESSAGE));
    assert_eq!(STOPPED_MESSAGE, "the runner stopped before the job ended");
    assert_eq!(gauge.now.load(Ordering::SeqCst), 0);
    assert_eq!(scheduler.in_flight(), 0);
    assert_eq!(scheduler.slots().usage(), Usage::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_running_wasm_guest_stops_it_and_reports_why() {
    // A guest in an endless loop with a 60 s timeout: cancelling drops `Sandbox::run`'s future,
    // so the job ends at once, not at its timeout.
    let modules = tempfile::tempdir().unwrap();
    std::fs::copy(programs::SPIN, modules.path().join("Spin.wasm")).unwrap();
    let catalog = Catalog::default();
    let wasm = WasmConfig {
        module_dirs: vec![modules.path().to_path_buf()],
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
    let text = "backend = \"wasm\"\n[worker]\ndata_types = [\"ip\"]\n[wasm]\ntimeout_s = 60\n";
    let mut set = PolicySet::default();
    set.insert(load_str("Spin", &PathBuf::from("Spin.toml"), text, &ctx).unwrap())
        .unwrap();
    let sandbox = wasm_host::Sandbox::new(wasm_host::SandboxConfig::default()).unwrap();
    let defaults = LaneLimits {
        timeout: Duration::from_secs(60),
        concurrency: 1,
    };
    let backend = WasmBackend::new(Arc::new(sandbox), defaults);
    let table = WorkerTable::build(&catalog, &set, "");
    let scheduler = Scheduler::new(table, 4, FinaliseOptions::default());
    let scheduler = Arc::new(scheduler.with_backend(Arc::new(backend)));
    scheduler.prepare("Spin").await;
    let root = tempfile::tempdir().unwrap();
    let f = folder(root.path(), "spin");
    let submitted = Instant::now();
    let job = scheduler.submit("Spin", f.clone(), submitted);
    until(&scheduler, 1, 0).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    job.cancel("deleted by the client");
    let record = tokio::time::timeout(Duration::from_secs(5), job)
        .await
        .expect("the guest stops at once")
        .unwrap();
    assert_eq!(
        record.finalised.report["errorMessage"],
        json!("cancelled: deleted by the client")
    );
    assert_eq!(written(&f), record.finalised.report);
    let run = record.run.expect("the guest ran");
    assert!(run.wall >= Duration::from_millis(200), "{:?}", run.wall);
    assert!(submitted.elapsed() < Duration::from_secs(5));
    assert_eq!(scheduler.slots().usage(), Usage::default());
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
            Usage {
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
