//! The Kubernetes backend from the command line: `cortex-runner run` on a policy with
//! `backend = "kubernetes"` (seen by the real `kubectl` while it runs), and a runner killed with
//! jobs in flight whose Jobs the next runner adopts (`cortex-runner k8s adopt`), each job ending
//! exactly once with its report.

mod k8s_common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use k8s_common::{cluster, folder, jobs_in, no_jobs_left};
use serde_json::{Value, json};

const INSTALL: &str = "python3 -m pip install -r requirements-test.txt";

fn runner(config: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cortex-runner"));
    cmd.args(args)
        .arg("--config")
        .arg(config)
        .env_remove("CORTEX_RUNNER_CONFIG")
        .env_remove("KUBECONFIG");
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `kubectl ARGS` against the stand-in; panics with the install command when kubectl is missing.
fn kubectl(kubeconfig: &Path, cache: &Path, args: &[&str]) -> String {
    let out = match Command::new("kubectl")
        .arg("--cache-dir")
        .arg(cache)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("`kubectl` is not installed: run `{INSTALL}`")
        }
        Err(e) => panic!("running kubectl: {e}"),
    };
    assert!(out.status.success(), "kubectl {args:?}: {}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_sends_a_job_to_kubernetes_and_kubectl_sees_it_while_it_runs() {
    let c = cluster().await;
    let cfg = c.config("cli", &[("Slowish", "cortex/slowish:1", "")], "");
    let child = runner(
        &cfg,
        &[
            "run",
            "--analyzer",
            "Slowish",
            "--data",
            "8.8.8.8",
            "--data-type",
            "ip",
            "--json",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // While the job runs, `kubectl get jobs` lists it (server-side printed columns).
    let cache = c.dir.path().join("kubectl-cache");
    let mut listed = String::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let kubeconfig = c.kubeconfig();
        let cache = cache.clone();
        listed = tokio::task::spawn_blocking(move || {
            kubectl(&kubeconfig, &cache, &["get", "jobs", "-n", "cortex"])
        })
        .await
        .unwrap();
        if listed.contains("cortex-job-") {
            break;
        }
    }
    let mut lines = listed.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    );
    let row: Vec<_> = lines.next().unwrap().split_whitespace().collect();
    assert!(row[0].starts_with("cortex-job-"), "{listed}");
    assert_eq!(row[1], "Running", "{listed}");
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["success"], json!(true), "{report}");
    assert_eq!(report["full"], json!({"n": 1}));
    no_jobs_left(&c.standin).await;
    let stats = c.standin.stats();
    assert_eq!(stats.requests.get("create jobs"), Some(&1));
    assert_eq!(stats.requests.get("delete jobs"), Some(&1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_runner_leaves_its_jobs_to_the_next_one_which_ends_each_exactly_once() {
    let c = cluster().await;
    let cfg = c.config(
        "restart",
        &[
            ("Quick", "cortex/quick:1", ""),
            ("Slowish", "cortex/slowish:1", ""),
        ],
        "",
    );
    // Two jobs that end while no runner is there, one still running when the next one starts.
    let jobs = [
        ("Quick", folder(&c.jobs(), "quick-a", "1.1.1.1")),
        ("Quick", folder(&c.jobs(), "quick-b", "1.1.1.2")),
        ("Slowish", folder(&c.jobs(), "slowish", "1.1.1.3")),
    ];
    let mut children = Vec::new();
    for (worker, folder) in &jobs {
        let child = runner(
            &cfg,
            &["job", "--analyzer", worker, folder.path().to_str().unwrap()],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        children.push(child);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while jobs_in(&c.standin).len() < 3 {
        assert!(Instant::now() < deadline, "the Jobs were not created");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The runners die at once: no report, no clean-up.
    for child in &mut children {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    // Let the quick ones finish while no runner is there (they write their raw output).
    let quick = &jobs[0].1;
    while !quick.output_dir().join("output.json").exists() {
        assert!(
            Instant::now() < deadline,
            "the quick job never wrote its output"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        jobs_in(&c.standin).len(),
        3,
        "the Jobs must outlive the runner"
    );

    let (c_cfg, started) = (cfg.clone(), Instant::now());
    let out = tokio::task::spawn_blocking(move || runner(&c_cfg, &["k8s", "adopt"]).output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for (worker, folder) in &jobs {
        assert!(
            stdout.contains(&format!(
                "{}\n{worker}: success (kubernetes, ",
                folder.path().display()
            )),
            "{stdout}"
        );
        let report: Value = serde_json::from_slice(
            &std::fs::read(folder.output_dir().join("output.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(report["success"], json!(true), "{report}");
        // Finalised by the adopting runner: the raw report had no `artifacts`.
        assert_eq!(report["artifacts"], json!([]), "{report}");
    }
    assert!(started.elapsed() < Duration::from_secs(30));
    no_jobs_left(&c.standin).await;
    // Every worker ran once: three Jobs created in all, by the killed runners, none by the
    // adopting one; each pod ran once.
    let stats = c.standin.stats();
    assert_eq!(stats.requests.get("create jobs"), Some(&3), "{stats:?}");
    assert_eq!(stats.requests.get("delete jobs"), Some(&3), "{stats:?}");
    // Nothing is left to adopt.
    let again = runner(&cfg, &["k8s", "adopt"]).output().unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(String::from_utf8_lossy(&again.stdout), "");
    assert_eq!(
        String::from_utf8_lossy(&again.stderr),
        "no Jobs of this runner in namespace cortex\n"
    );
}
