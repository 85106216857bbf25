//! `cortex-runner serve` with the Kubernetes backend, against kube-standin: SIGTERM leaves a
//! running Kubernetes job to its Job, and the next instance adopts it at start-up, lists it
//! under the folder's id and finalises it once.

use std::time::{Duration, Instant};

use cortex_runner::backend::kubernetes::spec::job_name;
use serde_json::{Value, json};

mod common;
#[path = "k8s_common/mod.rs"]
mod k8s_common;
mod service_common;

use k8s_common::{cluster, folder, jobs_in, no_jobs_left};
use service_common::{Server, TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_service_leaves_its_kubernetes_job_to_the_next_which_adopts_it() {
    let c = cluster().await;
    let cfg = c.config("serve", &[("Slowish", "cortex/slowish:1", "")], "");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("[service]\nshutdown_grace_s = 1\n");
    std::fs::write(&cfg, text).unwrap();
    let token = c.dir.path().join("token");
    std::fs::write(&token, TOKEN).unwrap();
    let job = folder(&c.jobs(), "slow", "1.1.1.1");
    let rel = job
        .path()
        .strip_prefix(c.jobs())
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let id = job_name(&rel);
    let args = vec!["--token-file".to_string(), token.display().to_string()];

    let (cfg2, args2, rel2, id2) = (cfg.clone(), args.clone(), rel.clone(), id.clone());
    let first = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args2.iter().map(String::as_str).collect();
        let mut server = Server::start(&cfg2, &args);
        let posted = server.submit("Slowish", &rel2);
        assert_eq!(posted.status, 202, "{}", posted.body);
        assert_eq!(posted.json()["backend"], "kubernetes");
        assert_eq!(posted.json()["id"], id2.as_str());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let job = server.get(&format!("/v1/jobs/{id2}"), Some(TOKEN)).json();
            if job["state"] == "running" {
                break;
            }
            assert!(Instant::now() < deadline, "never running: {job}");
            std::thread::sleep(Duration::from_millis(50));
        }
        server.signal("-TERM");
        let status = server.wait_exit(Duration::from_secs(20));
        assert_eq!(status.code(), Some(0), "{}", server.log());
        server.log()
    });
    let log = first.await.unwrap();
    assert!(
        log.contains("left running on Kubernetes for the next instance"),
        "{log}"
    );
    // No report yet: the Job goes on without a service.
    assert_eq!(jobs_in(&c.standin).len(), 1);
    let claim: Value =
        serde_json::from_slice(&std::fs::read(job.path().join(".cortex-runner-claim")).unwrap())
            .unwrap();
    assert_eq!(claim["state"], "claimed");

    let (cfg2, id2) = (cfg.clone(), id.clone());
    let job_view = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let server = Server::start(&cfg2, &args);
        let known = server.get(&format!("/v1/jobs/{id2}"), Some(TOKEN));
        assert_eq!(known.status, 200, "{}", known.body);
        assert_eq!(known.json()["backend"], "kubernetes");
        assert_eq!(
            known.json()["reason"],
            "adopted: its kubernetes run was going when this runner started"
        );
        server
            .get(&format!("/v1/jobs/{id2}/wait?timeout=60s"), Some(TOKEN))
            .json()
    })
    .await
    .unwrap();
    assert_eq!(job_view["state"], "done", "{job_view}");
    assert_eq!(job_view["success"], true);
    assert_eq!(job_view["job_folder"], json!(rel));
    let report: Value =
        serde_json::from_slice(&std::fs::read(job.output_dir().join("output.json")).unwrap())
            .unwrap();
    assert_eq!(report["success"], true);
    // Finalised by the adopting service: the raw report had no `artifacts`.
    assert_eq!(report["artifacts"], json!([]));
    let claim: Value =
        serde_json::from_slice(&std::fs::read(job.path().join(".cortex-runner-claim")).unwrap())
            .unwrap();
    assert_eq!(claim["state"], "done");
    no_jobs_left(&c.standin).await;
    let stats = c.standin.stats();
    assert_eq!(stats.requests.get("create jobs"), Some(&1), "{stats:?}");
}

#[test]
fn readyz_says_why_while_the_kubernetes_api_cannot_be_reached() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1.
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"http://127.0.0.1:1\"}}]\n\
         users: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
    )
    .unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[jobs]\nroot = {:?}\n[policies]\ndir = {:?}\n[catalogs]\nanalyzers = []\nresponders = []\n\
             [kubernetes]\nenabled = true\nkubeconfig = {:?}\n",
            dir.path().join("jobs").display().to_string(),
            dir.path().join("policies").display().to_string(),
            kubeconfig.display().to_string(),
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("policies")).unwrap();
    let server = service_common::spawn(&config, &[]);
    assert_eq!(server.get("/healthz", None).json(), json!({"status": "ok"}));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = server.get("/readyz", None);
        assert_eq!(ready.status, 503, "{}", ready.body);
        let body = ready.json();
        assert_eq!(body["error"], "not ready");
        let detail = body["detail"].as_str().unwrap();
        if detail.starts_with("the Kubernetes API cannot be reached: ") {
            break;
        }
        assert!(
            [
                "starting: compiling the built-in modules",
                "adopting the Kubernetes Jobs an earlier instance left"
            ]
            .contains(&detail),
            "{body}"
        );
        assert!(Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}
