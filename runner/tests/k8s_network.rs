//! Kubernetes parity of `[wasm.network]`: a worker's allowlist becomes its Job pod's egress
//! NetworkPolicy, created with the Job (owned by it), deleted with it, valid for Kubernetes 1.33;
//! a worker without a network policy gets none. Against kube-standin through a kubeconfig.

mod k8s_common;

use std::time::Duration;

use k8s_common::{cluster, error_message, folder, jobs_in, no_jobs_left, run, scheduler};
use serde_json::{Value, json};

/// The policy lines of a worker that may reach one HTTPS API and an internal range.
const NETWORK: &str = "[wasm.network]\nallow = [\"https://api.example.test\"]\n\
                       allow_addresses = [\"10.20.0.0/16\"]\nmax_tlp = 2\n";

/// The configuration's pin for the API's name, so that nothing asks a resolver.
const PIN: &str =
    "[wasm.network]\nresolve = { \"api.example.test:443\" = [\"203.0.113.7:443\"] }\n";

fn network_policies(standin: &kube_standin::Handle) -> Vec<Value> {
    standin
        .objects()
        .into_iter()
        .filter(|o| o["kind"] == "NetworkPolicy")
        .collect()
}

/// The policy the runner creates for the Job `name` of worker `worker`, without what the API
/// server adds.
fn expected(name: &str, job_uid: &str) -> Value {
    let selector = json!({
        "app.kubernetes.io/managed-by": "cortex-runner",
        "cortex-runner/job": name
    });
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": name,
            "namespace": "cortex",
            "labels": selector,
            "annotations": {
                "cortex-runner/allow": "https://api.example.test",
                "cortex-runner/worker": "Api"
            },
            "ownerReferences": [
                {"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": job_uid}
            ]
        },
        "spec": {
            "podSelector": {"matchLabels": selector},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}
                    }],
                    "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
                },
                {
                    "to": [{"ipBlock": {"cidr": "203.0.113.7/32"}}],
                    "ports": [{"port": 443, "protocol": "TCP"}]
                },
                {
                    "to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],
                    "ports": [{"port": 443, "protocol": "TCP"}]
                }
            ]
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_allowlist_becomes_the_pods_egress_policy_which_kubernetes_validate_accepts() {
    let c = cluster().await;
    let cfg = c.config(
        "kept",
        &[("Api", "cortex/quick:1", NETWORK)],
        &format!("keep_jobs = true\n{PIN}"),
    );
    let (scheduler, _) = scheduler(&cfg);
    let (record, report) = run(&scheduler, "Api", folder(&c.jobs(), "kept", "1.1.1.1")).await;
    assert_eq!(report["success"], json!(true), "{report}");
    let name = record.run.unwrap().details["kubernetes_job"]
        .as_str()
        .unwrap()
        .to_string();
    let jobs = jobs_in(&c.standin);
    assert_eq!(jobs.len(), 1);
    let job_uid = jobs[0]["metadata"]["uid"].as_str().unwrap();
    // The policy selects exactly the Job's pod: its template carries the selected labels.
    let pod_labels = &jobs[0]["spec"]["template"]["metadata"]["labels"];
    assert_eq!(pod_labels["cortex-runner/job"], json!(name));
    let policies = network_policies(&c.standin);
    assert_eq!(policies.len(), 1, "{policies:#?}");
    let mut stored = policies[0].clone();
    // What the API server adds, then the rest exactly as the runner built it.
    let meta = stored["metadata"].as_object_mut().unwrap();
    for key in ["uid", "creationTimestamp", "resourceVersion", "generation"] {
        assert!(meta.remove(key).is_some(), "{key} missing");
    }
    assert_eq!(stored, expected(&name, job_uid));
    let stats = c.standin.stats();
    assert_eq!(stats.requests.get("create networkpolicies"), Some(&1));
    assert_eq!(stats.requests.get("delete networkpolicies"), None);
    // The policy and its Job exactly as stored are valid Kubernetes 1.33 objects.
    // One document each (kubernetes-validate skips the items of a `List`), in JSON (YAML would
    // read the timestamps as dates).
    let path = c.dir.path().join("objects.yaml");
    let yaml = [&jobs[0], &policies[0]]
        .map(|o| serde_json::to_string_pretty(o).unwrap())
        .join("\n---\n");
    std::fs::write(&path, yaml).unwrap();
    k8s_common::kubernetes_validate(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_exists_while_the_pod_runs_and_goes_with_the_job() {
    let c = cluster().await;
    let cfg = c.config(
        "deleted",
        &[
            ("Api", "cortex/slowish:1", NETWORK),
            ("Offline", "cortex/quick:1", ""),
        ],
        PIN,
    );
    let (scheduler, backend) = scheduler(&cfg);
    let api = tokio::spawn({
        let scheduler = scheduler.clone();
        let f = folder(&c.jobs(), "deleted", "1.1.1.1");
        async move { run(&scheduler, "Api", f).await }
    });
    // The worker sleeps 3 s: its policy is there, selecting its running pod.
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen = network_policies(&c.standin);
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen.len(), 1, "no NetworkPolicy while the Job runs");
    let job = jobs_in(&c.standin).pop().expect("the Job");
    assert_eq!(
        seen[0]["metadata"]["ownerReferences"][0]["uid"],
        job["metadata"]["uid"]
    );
    let (record, report) = api.await.unwrap();
    assert_eq!(report["success"], json!(true), "{report}");
    assert_eq!(record.decision.backend().unwrap().as_str(), "kubernetes");

    // A worker without `[wasm.network]` gets no policy of its own (deploy/'s DNS-only policy
    // for every Job pod is all it has).
    let (_, report) = run(
        &scheduler,
        "Offline",
        folder(&c.jobs(), "offline", "1.1.1.1"),
    )
    .await;
    assert_eq!(report["success"], json!(true), "{report}");
    no_jobs_left(&c.standin).await;
    assert_eq!(network_policies(&c.standin), Vec::<Value>::new());
    let stats = c.standin.stats();
    assert_eq!(stats.requests.get("create networkpolicies"), Some(&1));
    assert_eq!(stats.requests.get("delete networkpolicies"), Some(&1));
    // Two Jobs: a create and a delete each, and the one policy's create and delete.
    assert_eq!(stats.write_requests, 6, "{stats:?}");
    let writes = backend
        .api()
        .unwrap()
        .counters
        .writes
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(writes, 6);
    // Every request the backend sent is one deploy/'s Role grants.
    let rules = role_rules();
    for key in stats.requests.keys().filter(|k| *k != "get discovery") {
        let (verb, resource) = key.split_once(' ').unwrap();
        let (verb, resource) = match verb {
            "log" => ("get", "pods/log"),
            other => (other, resource),
        };
        let group = match resource {
            "jobs" => "batch",
            "networkpolicies" => "networking.k8s.io",
            _ => "",
        };
        assert!(
            rules.iter().any(|r| {
                r["apiGroups"].as_array().unwrap().contains(&json!(group))
                    && r["resources"]
                        .as_array()
                        .unwrap()
                        .contains(&json!(resource))
                    && r["verbs"].as_array().unwrap().contains(&json!(verb))
            }),
            "deploy/kustomize/base/rbac.yaml does not grant {verb} on {group}/{resource}: {rules:#?}"
        );
    }
}

/// The rules of the runner's Role in deploy/kustomize/base/rbac.yaml.
fn role_rules() -> Vec<Value> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kustomize/base/rbac.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let role = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| <Value as serde::Deserialize>::deserialize(doc).unwrap())
        .find(|o| o["kind"] == "Role")
        .expect("a Role");
    role["rules"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_with_no_address_the_policy_allows_fails_the_job_before_any_job_is_created() {
    let c = cluster().await;
    let cfg = c.config(
        "internal",
        &[(
            "Api",
            "cortex/quick:1",
            "[wasm.network]\nallow = [\"https://api.example.test\"]\n",
        )],
        "[wasm.network]\nresolve = { \"api.example.test:443\" = [\"10.0.0.5:443\"] }\n",
    );
    let (scheduler, _) = scheduler(&cfg);
    let (_, report) = run(&scheduler, "Api", folder(&c.jobs(), "internal", "1.1.1.1")).await;
    assert_eq!(report["success"], json!(false), "{report}");
    assert_eq!(
        error_message(&report),
        "wasm.network.allow: api.example.test (port 443) resolves only to internal addresses (10.0.0.5 private) that wasm.network.allow_addresses does not name; the Job's pod would get no egress to it"
    );
    let stats = c.standin.stats();
    assert_eq!(stats.requests.get("create jobs"), None, "{stats:?}");
    assert_eq!(stats.requests.get("create networkpolicies"), None);
    assert!(jobs_in(&c.standin).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orphan_whose_folder_is_gone_loses_its_job_and_its_policy() {
    let c = cluster().await;
    let cfg = c.config(
        "orphan",
        &[("Api", "cortex/quick:1", NETWORK)],
        &format!("keep_jobs = true\n{PIN}"),
    );
    let (scheduler, backend) = scheduler(&cfg);
    let f = folder(&c.jobs(), "orphan", "1.1.1.1");
    let (_, report) = run(&scheduler, "Api", f.clone()).await;
    assert_eq!(report["success"], json!(true), "{report}");
    assert_eq!(network_policies(&c.standin).len(), 1);
    // Cortex deleted the folder; the next adoption finds the Job without it.
    std::fs::remove_dir_all(f.path()).unwrap();
    let adopted = cortex_runner::adoption::adopt_orphans(&scheduler, &backend)
        .await
        .unwrap();
    assert!(
        matches!(
            adopted.as_slice(),
            [cortex_runner::adoption::Adopted::Dropped { .. }]
        ),
        "{adopted:?}"
    );
    no_jobs_left(&c.standin).await;
    assert_eq!(network_policies(&c.standin), Vec::<Value>::new());
    let stats = c.standin.stats();
    assert_eq!(stats.requests.get("delete networkpolicies"), Some(&1));
    backend.stop_watches();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dns_rule_is_configurable_and_checked() {
    let c = cluster().await;
    let cfg = c.config(
        "dns",
        &[("Api", "cortex/quick:1", NETWORK)],
        &format!("keep_jobs = true\ndns_namespace = \"\"\n{PIN}"),
    );
    let (scheduler, _) = scheduler(&cfg);
    let (_, report) = run(&scheduler, "Api", folder(&c.jobs(), "dns", "1.1.1.1")).await;
    assert_eq!(report["success"], json!(true), "{report}");
    let policies = network_policies(&c.standin);
    // Port 53 at any address (NodeLocal DNSCache, a resolver outside the cluster).
    assert_eq!(
        policies[0]["spec"]["egress"][0],
        json!({"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]})
    );
    let bad = c.config(
        "bad-dns",
        &[],
        "dns_pod_labels = { \"k8s-app\" = \"kube dns\" }",
    );
    let loader = cortex_runner::config::ConfigLoader {
        file: Some(bad.clone()),
        env: Vec::new(),
        flags: cortex_runner::config::Flags::default(),
    };
    let err = cortex_runner::setup::Setup::load(&loader, &k8s_common::builtin()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "config {}: `kubernetes.dns_pod_labels.k8s-app` must be a pod label: a name of letters, digits, '-', '_', '.' (with an optional prefix/) and a value of at most 63 such characters, found \"k8s-app\" = \"kube dns\"",
            bad.display()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_above_max_tlp_is_refused_before_any_job_or_policy_is_created() {
    let c = cluster().await;
    let cfg = c.config("red", &[("Api", "cortex/quick:1", NETWORK)], PIN);
    let (scheduler, _) = scheduler(&cfg);
    let mut input = cortex_job::JobInput::new("ip", "1.1.1.1");
    input.tlp = 3;
    let f =
        std::sync::Arc::new(cortex_job::JobFolder::create(&c.jobs(), "red", &input, None).unwrap());
    let (record, report) = run(&scheduler, "Api", f).await;
    assert_eq!(report["success"], json!(false), "{report}");
    let rules = network_rules(&cfg);
    assert_eq!(error_message(&report), rules.refusal(3, 2).unwrap());
    assert!(record.decision.backend().is_none(), "{:?}", record.decision);
    let stats = c.standin.stats();
    assert_eq!(stats.requests.get("create jobs"), None, "{stats:?}");
    assert_eq!(stats.requests.get("create networkpolicies"), None);
}

/// The `[wasm.network]` of worker Api as the runner loaded it.
fn network_rules(cfg: &std::path::Path) -> cortex_runner::policy::NetworkRules {
    let loader = cortex_runner::config::ConfigLoader {
        file: Some(cfg.to_path_buf()),
        env: Vec::new(),
        flags: cortex_runner::config::Flags::default(),
    };
    let setup = cortex_runner::setup::Setup::load(&loader, &k8s_common::builtin()).unwrap();
    let worker = setup.table.get("Api").unwrap();
    worker
        .policy
        .as_ref()
        .unwrap()
        .wasm
        .network
        .clone()
        .unwrap()
}

#[test]
fn k8s_manifest_prints_the_policy_as_a_second_document() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::create_dir_all(dir.path().join("jobs")).unwrap();
    std::fs::write(
        policies.join("Api.toml"),
        format!(
            "backend = \"kubernetes\"\n[worker]\nkind = \"analyzer\"\nversion = \"1.0\"\n\
             description = \"test\"\ndata_types = [\"ip\"]\n[kubernetes]\nimage = \"cortex/api:1\"\n{NETWORK}"
        ),
    )
    .unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[jobs]\nroot = {:?}\n[policies]\ndir = {:?}\n[catalogs]\nanalyzers = []\nresponders = []\n\
             [kubernetes]\nenabled = true\nnamespace = \"cortex\"\n{PIN}",
            dir.path().join("jobs").display().to_string(),
            policies.display().to_string(),
        ),
    )
    .unwrap();
    let f = folder(&dir.path().join("jobs"), "manifest", "1.1.1.1");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cortex-runner"))
        .args(["k8s", "manifest", "--analyzer", "Api"])
        .arg(f.path())
        .arg("--config")
        .arg(&cfg)
        .env_remove("CORTEX_RUNNER_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&stdout)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
        .collect();
    assert_eq!(docs.len(), 2, "{stdout}");
    assert_eq!(docs[0]["kind"], "Job");
    let name = docs[0]["metadata"]["name"].as_str().unwrap();
    // Before the Job exists it has no uid: the printed policy has no owner yet.
    let mut want = expected(name, "");
    want["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("ownerReferences");
    assert_eq!(docs[1], want);
    let path = dir.path().join("manifest.yaml");
    std::fs::write(&path, stdout.as_bytes()).unwrap();
    k8s_common::kubernetes_validate(&path);
}
