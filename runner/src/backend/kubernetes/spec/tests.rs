//! build_job: deadlines, labels, the service account, and the exact errors for values the API
//! server would refuse.

use std::path::Path;

use super::*;
use crate::catalog::{Catalog, WorkerKind};
use crate::config::WasmConfig;
use crate::policy::{PolicyContext, load_str};

/// A worker no catalog defines, governed by the policy `body` (after `backend` and
/// `[worker]`).
fn worker(body: &str) -> Worker {
    let text = format!(
        "backend = \"kubernetes\"\n[worker]\nversion = \"2.0\"\ndata_types = [\"ip\"]\n{body}"
    );
    let (catalog, wasm, kubernetes) = (
        Catalog::default(),
        WasmConfig::default(),
        KubernetesConfig::default(),
    );
    let ctx = PolicyContext {
        catalog: &catalog,
        wasm: &wasm,
        kubernetes: &kubernetes,
        builtin_modules: &[],
    };
    let policy = load_str("W", Path::new("policies/W.toml"), &text, &ctx).unwrap();
    Worker {
        name: "W".into(),
        kind: WorkerKind::Analyzer,
        version: "2.0".into(),
        description: String::new(),
        data_types: vec!["ip".into()],
        config: serde_json::Map::new(),
        definition: None,
        image: policy.kubernetes.image.clone(),
        policy: Some(policy),
    }
}

fn build(worker: &Worker, config: &KubernetesConfig, deadline: Duration) -> Result<Job> {
    build_job(&JobParams {
        worker,
        config,
        folder_rel: "cortex-job-abc-42",
        active_deadline: deadline,
        has_cacerts: false,
    })
}

fn error(worker: &Worker, config: &KubernetesConfig) -> String {
    build(worker, config, Duration::from_secs(1))
        .unwrap_err()
        .to_string()
}

#[test]
fn the_deadline_is_rounded_up_and_never_zero() {
    let w = worker("[kubernetes]\nimage = \"i:1\"\n");
    let config = KubernetesConfig::default();
    for (left, seconds) in [
        (Duration::ZERO, 1),
        (Duration::from_millis(1), 1),
        (Duration::from_millis(1500), 2),
        (Duration::from_secs(30), 30),
    ] {
        let job = build(&w, &config, left).unwrap();
        assert_eq!(job.spec.unwrap().active_deadline_seconds, Some(seconds));
    }
}

#[test]
fn a_worker_without_a_catalog_id_label_uses_the_job_name_and_sanitised_worker_id() {
    let mut w = worker("[kubernetes]\nimage = \"i:1\"\n");
    w.version = "2.0 beta".into();
    let job = build_job(&JobParams {
        worker: &w,
        config: &KubernetesConfig::default(),
        folder_rel: "jobs/Mine",
        active_deadline: Duration::from_secs(5),
        has_cacerts: false,
    })
    .unwrap();
    let labels = job.metadata.labels.unwrap();
    let name = job_name("jobs/Mine");
    assert_eq!(labels[CORTEX_JOB_ID_LABEL], name);
    assert_eq!(labels[JOB_LABEL], name);
    assert_eq!(labels[CORTEX_WORKER_ID_LABEL], label_value("W_2_0 beta"));
    assert!(labels[CORTEX_WORKER_ID_LABEL].starts_with("W_2_0-beta-"));
    assert_eq!(
        job.metadata.annotations.unwrap()[FOLDER_ANNOTATION],
        "jobs/Mine"
    );
}

#[test]
fn configured_and_policy_values_the_api_server_refuses_are_exact_errors() {
    let w = worker("[kubernetes]\nimage = \"i:1\"\n");
    let mut config = KubernetesConfig::default();
    config
        .extra_labels
        .insert(MANAGED_BY_LABEL.into(), "me".into());
    assert_eq!(
        error(&w, &config),
        "the configuration: `kubernetes.extra_labels.app.kubernetes.io/managed-by`: app.kubernetes.io/managed-by is set by the runner itself (reserved: app.kubernetes.io/managed-by, cortex-job-id, cortex-neuron-job, cortex-runner/job, cortex-worker-id)"
    );
    config.extra_labels = [("team".to_string(), "a b".to_string())].into();
    assert_eq!(
        error(&w, &config),
        "the configuration: `kubernetes.extra_labels.team`: \"a b\" is not a label value (at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit)"
    );
    let config = KubernetesConfig::default();
    let w = worker("[kubernetes]\nimage = \"i:1\"\nenv = { CORTEX_JOB_FOLDER = \"x\" }\n");
    assert_eq!(
        error(&w, &config),
        "policy policies/W.toml: `kubernetes.env`: CORTEX_JOB_FOLDER is set by the runner (the job folder and its CA bundle, as Cortex sets them)"
    );
    let w = worker(
        "[kubernetes]\nimage = \"i:1\"\nenv = { K = \"x\" }\nenv_from_secrets = [{ name = \"K\", secret = \"s\", key = \"k\" }]\n",
    );
    assert_eq!(
        error(&w, &config),
        "policy policies/W.toml: `kubernetes.env_from_secrets`: K is given twice (in `kubernetes.env` and `kubernetes.env_from_secrets`)"
    );
    let w = worker(
        "[kubernetes]\nimage = \"i:1\"\nenv_from_secrets = [{ name = \"K\", secret = \"My_Secret\", key = \"k\" }]\n",
    );
    assert_eq!(
        error(&w, &config),
        "policy policies/W.toml: `kubernetes.env_from_secrets`: K: secret \"My_Secret\" key \"k\" cannot name a Secret key (a Secret name is lower-case letters, digits, '-' and '.'; a key is letters, digits, '-', '_', '.')"
    );
    let w = worker(
        "[kubernetes]\nimage = \"i:1\"\ntolerations = [{ operator = \"Exists\", value = \"v\" }]\n",
    );
    assert_eq!(
        error(&w, &config),
        "policy policies/W.toml: `kubernetes.tolerations[0]`: `value` must be absent with operator = \"Exists\""
    );
    let w = worker("[kubernetes]\nimage = \"i:1\"\ntolerations = [{ value = \"v\" }]\n");
    assert_eq!(
        error(&w, &config),
        "policy policies/W.toml: `kubernetes.tolerations[0]`: `key` is required with operator = \"Equal\" (only \"Exists\" may leave it out)"
    );
    let w = worker("[kubernetes]\nimage = \"i:1\"\nnode_selector = { \"a b\" = \"c\" }\n");
    assert_eq!(
        error(&w, &config),
        "policy policies/W.toml: `kubernetes.node_selector`: \"a b\" = \"c\" is not a node label (a name of letters, digits, '-', '_', '.' with an optional DNS prefix/, and a value of at most 63 such characters)"
    );
    let w = worker("");
    assert_eq!(
        error(&w, &config),
        "worker W cannot run on Kubernetes: it has no image (its policy policies/W.toml sets no `kubernetes.image` and no catalog defines it)"
    );
}

#[test]
fn the_service_account_is_named_but_its_token_not_mounted_unless_relaxed() {
    let config = KubernetesConfig {
        service_account: "cortex-worker".into(),
        ..KubernetesConfig::default()
    };
    let pod = |w: &Worker| {
        build(w, &config, Duration::from_secs(1))
            .unwrap()
            .spec
            .unwrap()
            .template
            .spec
            .unwrap()
    };
    let hardened = pod(&worker("[kubernetes]\nimage = \"i:1\"\n"));
    assert_eq!(
        hardened.service_account_name.as_deref(),
        Some("cortex-worker")
    );
    assert_eq!(hardened.automount_service_account_token, Some(false));
    let relaxed = pod(&worker(
        "[kubernetes]\nimage = \"i:1\"\n[kubernetes.security]\nautomount_service_account_token = true\n",
    ));
    assert_eq!(relaxed.automount_service_account_token, Some(true));
}
