//! The Kubernetes backend end to end, against kube-standin (a local API server that speaks the
//! real HTTP API, with a simulated job controller and kubelet running containers as local
//! processes). The runner reaches it through an ordinary kubeconfig.

mod k8s_common;

use std::time::{Duration, Instant};

use cortex_job::JobFolder;
use k8s_common::{
    VALIDATE_IMAGE, cluster, cluster_with, error_message, folder, jobs_in, no_jobs_left, run,
    scheduler,
};
use kube_standin::Faults;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_analyzer_in_process_and_as_a_job_leaves_identical_output() {
    let c = cluster().await;
    let wasm = c.config("wasm", &[("ValidateObservable", "", "")], "");
    let kube = c.config("kube", &[("ValidateObservable", VALIDATE_IMAGE, "")], "");
    let (wasm_scheduler, _) = scheduler(&wasm);
    let (kube_scheduler, backend) = scheduler(&kube);
    for data in ["8.8.8.8", "999.1.1.1", "bad domain"] {
        let a = folder(&c.jobs(), "conformance-wasm", data);
        let b = folder(&c.jobs(), "conformance-kube", data);
        let (ra, _) = run(&wasm_scheduler, "ValidateObservable", a.clone()).await;
        let (rb, report) = run(&kube_scheduler, "ValidateObservable", b.clone()).await;
        assert_eq!(ra.decision.backend().unwrap().as_str(), "wasm");
        assert_eq!(rb.decision.backend().unwrap().as_str(), "kubernetes");
        assert_eq!(
            std::fs::read(a.output_dir().join("output.json")).unwrap(),
            std::fs::read(b.output_dir().join("output.json")).unwrap(),
            "output.json differs for {data}: {report}"
        );
        let names = |f: &JobFolder| {
            let mut v: Vec<_> = std::fs::read_dir(f.output_dir())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            v.sort();
            v
        };
        assert_eq!(names(&a), names(&b));
        let details = &rb.run.as_ref().unwrap().details;
        assert_eq!(details["adopted"], json!(false));
        assert!(details["kubernetes_job"].as_str().unwrap().len() <= 63);
    }
    no_jobs_left(&c.standin).await;
    let stats = c.standin.stats();
    // One create and one delete per job; two watches for all of them.
    assert_eq!(stats.requests.get("create jobs"), Some(&3));
    assert_eq!(stats.requests.get("delete jobs"), Some(&3));
    assert_eq!(stats.write_requests, 6);
    assert_eq!(stats.watches_total, 2, "{stats:?}");
    let api = backend.api().unwrap();
    assert_eq!(
        api.counters
            .writes
            .load(std::sync::atomic::Ordering::Relaxed),
        6
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_fast_causes_end_the_job_with_a_report_naming_them() {
    let c = cluster().await;
    let cfg = c.config(
        "fail",
        &[
            ("Gone", "cortex/gone:1", ""),
            ("BadName", "Cortex/Not A Name:1", ""),
            ("Oom", "cortex/oom:1", ""),
            ("Evicted", "cortex/evicted:1", ""),
            // More CPU than the node has.
            (
                "Huge",
                "cortex/quick:1",
                "[kubernetes.resources]\ncpu_request = \"64\"\ncpu_limit = \"64\"",
            ),
            // A Secret the stand-in cannot provide: the kubelet cannot make the container.
            (
                "Secretive",
                "cortex/quick:1",
                "env_from_secrets = [{ name = \"API_KEY\", secret = \"absent\", key = \"k\" }]",
            ),
        ],
        "",
    );
    let (scheduler, _) = scheduler(&cfg);
    let started = Instant::now();
    let (_, report) = run(&scheduler, "Gone", folder(&c.jobs(), "gone", "1.1.1.1")).await;
    assert_eq!(report["success"], json!(false));
    let message = error_message(&report);
    assert!(
        message
            .starts_with("the image cortex/gone:1 could not be pulled for 1 s (ImagePullBackOff: "),
        "{message}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let (_, report) = run(
        &scheduler,
        "BadName",
        folder(&c.jobs(), "badname", "1.1.1.1"),
    )
    .await;
    assert!(
        error_message(&report).starts_with("the container cannot start: InvalidImageName: "),
        "{report}"
    );
    let (_, report) = run(&scheduler, "Oom", folder(&c.jobs(), "oom", "1.1.1.1")).await;
    assert!(
        error_message(&report)
            .starts_with("the container was OOM-killed (memory limit 1Gi), exit code 137"),
        "{report}"
    );
    let (_, report) = run(&scheduler, "Huge", folder(&c.jobs(), "huge", "1.1.1.1")).await;
    assert!(
        error_message(&report).starts_with(
            "the pod could not be scheduled for 1 s (FailedScheduling: 0/1 nodes are available: 1 Insufficient cpu."
        ),
        "{report}"
    );
    let (_, report) = run(
        &scheduler,
        "Secretive",
        folder(&c.jobs(), "secretive", "1.1.1.1"),
    )
    .await;
    assert!(
        error_message(&report)
            .starts_with("the container cannot start: CreateContainerConfigError: "),
        "{report}"
    );
    let (_, report) = run(
        &scheduler,
        "Evicted",
        folder(&c.jobs(), "evicted", "1.1.1.1"),
    )
    .await;
    assert!(
        error_message(&report).starts_with("the pod ")
            && error_message(&report).contains(" was evicted: "),
        "{report}"
    );
    no_jobs_left(&c.standin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_container_reports_its_log_tail_and_termination_message_redacted() {
    let c = cluster().await;
    let cfg = c.config("noisy", &[("Noisy", "cortex/noisy:1", "")], "");
    let (scheduler, _) = scheduler(&cfg);
    let (record, report) = run(&scheduler, "Noisy", folder(&c.jobs(), "noisy", "1.1.1.1")).await;
    assert_eq!(report["success"], json!(false));
    // The log's end and the termination message, with the job's secret scrubbed.
    assert_eq!(
        error_message(&report),
        "exited with status 3 without writing output.json\n--- stderr (tail) ---\n\
         token is REMOVED\nlast words\ntermination message: bad key"
    );
    assert!(record.run.unwrap().details.contains_key("pod"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_and_cancellation_delete_the_job_and_report_why() {
    let c = cluster().await;
    // The policy's own timeout: 2 s.
    let cfg = c.config("slow", &[("Slow", "cortex/sleep:1", "timeout_s = 2")], "");
    let (scheduler, _) = scheduler(&cfg);
    let (_, report) = run(&scheduler, "Slow", folder(&c.jobs(), "slow", "1.1.1.1")).await;
    assert_eq!(error_message(&report), "timed out after 2 s");
    no_jobs_left(&c.standin).await;

    let f = folder(&c.jobs(), "cancelled", "1.1.1.1");
    let handle = scheduler.submit("Slow", f.clone(), Instant::now());
    // Wait until the new Job's pod runs (not the pod of the Job deleted above), then cancel.
    let running = || {
        let objects = c.standin.objects();
        let live: Vec<_> = objects
            .iter()
            .filter(|o| o["kind"] == "Job")
            .map(|j| j["metadata"]["uid"].clone())
            .collect();
        objects.iter().any(|o| {
            o["kind"] == "Pod"
                && o["status"]["phase"] == "Running"
                && live.contains(&o["metadata"]["ownerReferences"][0]["uid"])
        })
    };
    for _ in 0..200 {
        if running() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(running(), "the cancelled job's pod never ran");
    handle.cancel("test over");
    let record = handle.await.unwrap();
    assert!(!record.finalised.success);
    assert_eq!(
        error_message(&record.finalised.report),
        "cancelled: test over"
    );
    // The deletion was awaited before the record came back.
    assert!(jobs_in(&c.standin).is_empty(), "{:?}", jobs_in(&c.standin));
    let stats = c.standin.stats();
    assert_eq!(stats.requests.get("delete jobs"), Some(&2), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_faults_are_retried_and_watch_interruptions_relisted() {
    let c = cluster().await;
    let cfg = c.config("faults", &[("Quick", "cortex/quick:1", "")], "");
    let (scheduler, backend) = scheduler(&cfg);
    // A first job connects and starts the watches, so that the faults below hit the job's
    // own requests.
    let (_, report) = run(&scheduler, "Quick", folder(&c.jobs(), "first", "1.1.1.1")).await;
    assert_eq!(report["success"], json!(true), "{report}");
    // 429 with Retry-After and 500s before the create: retried, then created once.
    c.standin.set_faults(Faults {
        throttle_429: 1,
        retry_after_seconds: 1,
        errors_500: 2,
        ..Faults::default()
    });
    let started = Instant::now();
    let (_, report) = run(&scheduler, "Quick", folder(&c.jobs(), "faults", "1.1.1.1")).await;
    assert_eq!(report["success"], json!(true), "{report}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    let api = backend.api().unwrap();
    assert_eq!(
        api.counters
            .retried
            .load(std::sync::atomic::Ordering::Relaxed),
        3,
        "{:?}",
        c.standin.stats()
    );
    // A dropped watch and an expired resourceVersion while a job runs: it still ends.
    let f = folder(&c.jobs(), "relist", "1.1.1.1");
    let handle = scheduler.submit("Quick", f.clone(), Instant::now());
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.standin.set_faults(Faults {
        drop_watches: true,
        expire_next_watches: 2,
        ..Faults::default()
    });
    let record = tokio::time::timeout(Duration::from_secs(30), handle)
        .await
        .expect("the job ends although its watches were interrupted")
        .unwrap();
    assert!(record.finalised.success, "{}", record.finalised.report);
    let watches = backend.watches().unwrap();
    assert!(
        watches
            .counters
            .restarts
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_that_cannot_be_mounted_fails_the_job_after_the_start_grace() {
    let c = cluster_with(vec!["cortex-jobs".into()]).await;
    let cfg = c.config("mount", &[("Quick", "cortex/quick:1", "")], "");
    let (scheduler, _) = scheduler(&cfg);
    let started = Instant::now();
    let (_, report) = run(&scheduler, "Quick", folder(&c.jobs(), "mount", "1.1.1.1")).await;
    let message = error_message(&report);
    assert!(
        message.starts_with("the pod cortex-job-mount-"),
        "{message}"
    );
    assert!(
        message.ends_with(
            " could not mount its volumes for 1 s (FailedMount: MountVolume.SetUp failed for volume \"job\" : mount failed: exit status 32\nmount.nfs: Connection timed out)"
        ),
        "{message}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    no_jobs_left(&c.standin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_jobs_leaves_the_job_which_kubernetes_validate_accepts() {
    let c = cluster().await;
    let cfg = c.config(
        "keep",
        &[("Quick", "cortex/quick:1", "")],
        "keep_jobs = true",
    );
    let (scheduler, _) = scheduler(&cfg);
    let (record, report) = run(&scheduler, "Quick", folder(&c.jobs(), "keep", "1.1.1.1")).await;
    assert_eq!(report["success"], json!(true), "{report}");
    let name = record.run.unwrap().details["kubernetes_job"].clone();
    let jobs = jobs_in(&c.standin);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["metadata"]["name"], name);
    assert_eq!(c.standin.stats().requests.get("delete jobs"), None);
    // The Job exactly as the runner created it and the cluster completed it is a valid
    // Kubernetes 1.33 object.
    let path = c.dir.path().join("job.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&jobs[0]).unwrap()).unwrap();
    k8s_common::kubernetes_validate(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runners_submitting_one_folder_run_its_worker_once() {
    let c = cluster().await;
    let cfg = c.config("twice", &[("Quick", "cortex/quick:1", "")], "");
    // Two runners (two replicas, or a retry after a restart) on the same volume and cluster.
    let (first, _) = scheduler(&cfg);
    let (second, _) = scheduler(&cfg);
    let f = folder(&c.jobs(), "twice", "1.1.1.1");
    let (a, b) = tokio::join!(
        run(&first, "Quick", f.clone()),
        run(&second, "Quick", f.clone())
    );
    assert_eq!(a.1["success"], json!(true), "{}", a.1);
    assert_eq!(b.1["success"], json!(true), "{}", b.1);
    let adopted = [&a.0, &b.0].map(|r| r.run.as_ref().unwrap().details["adopted"].clone());
    assert!(
        adopted.contains(&json!(true)) && adopted.contains(&json!(false)),
        "{adopted:?}"
    );
    // One container ran; the second runner met AlreadyExists (or saw the Job) and waited for it.
    assert_eq!(c.standin.exits().len(), 1, "{:?}", c.standin.exits());
    no_jobs_left(&c.standin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_server_that_cannot_be_reached_fails_the_job_naming_the_error() {
    let c = cluster().await;
    let cfg = c.config("down", &[("Quick", "cortex/quick:1", "")], "");
    // Time for the watch to meet its first error even on a loaded machine.
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, text.replace("start_grace_s = 1", "start_grace_s = 5")).unwrap();
    // The same kubeconfig, pointing at a port where nothing listens.
    let kubeconfig = std::fs::read_to_string(c.kubeconfig()).unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = c.standin.url().to_string();
    std::fs::write(
        c.kubeconfig(),
        kubeconfig.replace(&url, &format!("http://127.0.0.1:{port}")),
    )
    .unwrap();
    let (scheduler, _) = scheduler(&cfg);
    let started = Instant::now();
    let (_, report) = run(&scheduler, "Quick", folder(&c.jobs(), "down", "1.1.1.1")).await;
    let message = error_message(&report);
    assert!(
        message.starts_with(
            "the runner could not list its Jobs in namespace cortex within 5 s (last error: "
        ),
        "{message}"
    );
    assert!(message.contains("onnect"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(jobs_in(&c.standin).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adoption_leaves_alone_a_job_whose_folder_resolves_outside_the_volume() {
    use k8s_openapi::api::batch::v1::Job;
    use kube::api::{Api, PostParams};
    let c = cluster().await;
    let cfg = c.config("orphans", &[("Quick", "cortex/gone:1", "")], "");
    let (_, backend) = scheduler(&cfg);
    let real = folder(&c.jobs(), "real", "1.1.1.1");
    let real_rel = real
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    // A symlink on the volume to a folder elsewhere, and a folder Cortex already removed.
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), c.jobs().join("elsewhere")).unwrap();
    let kubeconfig = kube::config::Kubeconfig::read_from(c.kubeconfig()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let jobs: Api<Job> = Api::namespaced(kube::Client::try_from(config).unwrap(), "cortex");
    for (name, rel) in [("a", real_rel.as_str()), ("b", "elsewhere"), ("c", "gone")] {
        let job: Job = serde_json::from_value(json!({
            "metadata": {"name": name,
                "labels": {"app.kubernetes.io/managed-by": "cortex-runner"},
                "annotations": {"cortex-runner/job-folder": rel, "cortex-runner/worker": "Quick"}},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "neuron", "image": "cortex/gone:1"}]}}}
        }))
        .unwrap();
        jobs.create(&PostParams::default(), &job).await.unwrap();
    }
    let orphans = backend.orphans().await.unwrap();
    let mut found: Vec<_> = orphans
        .iter()
        .map(|o| (o.job.as_str(), o.folder.clone()))
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("a", c.jobs().join(&real_rel)),
            ("c", c.jobs().join("gone"))
        ]
    );
}
