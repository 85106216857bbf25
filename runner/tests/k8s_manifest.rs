//! `cortex-runner k8s manifest --analyzer NAME JOB_FOLDER`: the Job printed as YAML, field by
//! field, checked by `kubernetes-validate` for Kubernetes 1.33; the exit code 2 and the exact
//! reason for a worker or a folder that cannot run on Kubernetes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod k8s_common;

use cortex_job::{JobFolder, JobInput};
use k8s_common::kubernetes_validate;
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixtures() -> PathBuf {
    repo().join("runner/tests/fixtures/k8s")
}

/// Kubernetes enabled, the ids and extra labels set, job folders in `dir/jobs`, the policies of
/// `policies` and the real analyzer catalog.
fn config(dir: &Path, policies: &Path) -> PathBuf {
    let text = format!(
        r#"[jobs]
root = {:?}
[policies]
dir = {:?}
[catalogs]
analyzers = [{:?}]
[kubernetes]
enabled = true
namespace = "cortex-jobs-ns"
pvc = "cortex-rwx"
run_as_user = 1000
run_as_group = 2000
fs_group = 3000
extra_labels = {{ team = "soc" }}
ttl_s = 900
"#,
        dir.join("jobs").display().to_string(),
        policies.display().to_string(),
        repo()
            .join("runner/tests/fixtures/cortex-catalog/analyzers.json")
            .display()
            .to_string(),
    );
    std::fs::create_dir_all(dir.join("jobs")).unwrap();
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A job folder as Cortex makes it, in `root`; `cacerts` in the worker config adds input/cacerts.
fn job_folder(root: &Path, cacerts: bool) -> JobFolder {
    let mut config = json!({"key": "s3cret"});
    if cacerts {
        config["cacerts"] = "-----BEGIN CERTIFICATE-----".into();
    }
    let input: JobInput = serde_json::from_value(json!({
        "data": "8.8.8.8", "dataType": "ip", "tlp": 2, "pap": 2, "message": "",
        "parameters": {}, "config": config
    }))
    .unwrap();
    JobFolder::create(root, "AZQx-1b_k", &input, None).unwrap()
}

fn manifest(config: &Path, worker: &str, folder: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cortex-runner"))
        .args(["k8s", "manifest", "--analyzer", worker])
        .arg(folder)
        .arg("--config")
        .arg(config)
        .env_remove("CORTEX_RUNNER_CONFIG")
        .output()
        .unwrap()
}

/// The printed Job as JSON, after checking the exit code.
fn job(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The YAML is a Job by the k8s-openapi types, too.
    let _: k8s_openapi::api::batch::v1::Job = serde_yaml_ng::from_str(&stdout).unwrap();
    serde_yaml_ng::from_str(&stdout).unwrap()
}

/// Exit code 2 and exactly `message` on stderr.
fn assert_setup_error(out: &Output, message: &str) {
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).as_ref()
        ),
        (Some(2), format!("error: {message}\n").as_str()),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(out.stdout.is_empty());
}

fn is_rfc1123_label(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

#[test]
fn the_manifest_is_cortex_compatible_hardened_and_valid() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &fixtures().join("policies"));
    let folder = job_folder(&dir.path().join("jobs"), true);
    let rel = folder
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let out = manifest(&cfg, "Abuse_Finder", folder.path());
    let job = job(&out);

    let name = job["metadata"]["name"].as_str().unwrap().to_string();
    assert!(is_rfc1123_label(&name), "{name}");
    let random = rel.rsplit('-').next().unwrap();
    assert!(
        name.starts_with(&format!("cortex-job-azqx-1b-k-{random}-")),
        "{name}"
    );
    assert_eq!(job["apiVersion"], "batch/v1");
    assert_eq!(job["kind"], "Job");
    assert_eq!(job["metadata"]["namespace"], "cortex-jobs-ns");
    let labels = json!({
        "app.kubernetes.io/managed-by": "cortex-runner",
        "cortex-job-id": "AZQx-1b_k",
        "cortex-worker-id": "Abuse_Finder_3_0",
        "cortex-neuron-job": "true",
        "cortex-runner/job": name,
        "team": "soc",
    });
    let annotations = json!({
        "cortex-runner/job-folder": rel,
        "cortex-runner/worker": "Abuse_Finder",
    });
    assert_eq!(job["metadata"]["labels"], labels);
    assert_eq!(job["metadata"]["annotations"], annotations);

    let spec = &job["spec"];
    assert_eq!(spec["backoffLimit"], 0);
    assert_eq!(spec["activeDeadlineSeconds"], 120);
    assert_eq!(spec["ttlSecondsAfterFinished"], 900);
    let template = &spec["template"];
    assert_eq!(template["metadata"]["labels"], labels);
    assert_eq!(template["metadata"]["annotations"], annotations);
    let pod = &template["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(pod["enableServiceLinks"], false);
    assert!(pod.get("serviceAccountName").is_none());
    assert_eq!(
        pod["securityContext"],
        json!({
            "runAsNonRoot": true,
            "runAsUser": 1000,
            "runAsGroup": 2000,
            "fsGroup": 3000,
            "fsGroupChangePolicy": "OnRootMismatch",
            "seccompProfile": {"type": "RuntimeDefault"},
        })
    );
    assert_eq!(pod["nodeSelector"], json!({"kubernetes.io/arch": "amd64"}));
    assert_eq!(
        pod["tolerations"],
        json!([{"key": "dedicated", "operator": "Equal", "value": "cortex", "effect": "NoSchedule"}])
    );
    assert_eq!(
        pod["volumes"],
        json!([
            {"name": "job", "persistentVolumeClaim": {"claimName": "cortex-rwx"}},
            {"name": "tmp", "emptyDir": {}},
        ])
    );
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    assert_eq!(c["name"], "neuron");
    assert_eq!(c["image"], "registry.local/cortex/abuse_finder:3");
    assert_eq!(c["args"], json!(["/job"]));
    assert!(c.get("command").is_none(), "the image's entrypoint runs");
    assert_eq!(
        c["env"],
        json!([
            {"name": "CORTEX_JOB_FOLDER", "value": rel},
            {"name": "REQUESTS_CA_BUNDLE", "value": "/job/input/cacerts"},
            {"name": "HTTPS_PROXY", "value": "http://proxy:3128"},
            {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "abuse-finder", "key": "api-key"}}},
        ])
    );
    assert_eq!(
        c["volumeMounts"],
        json!([
            {"name": "job", "mountPath": "/job/input", "subPathExpr": "$(CORTEX_JOB_FOLDER)/input", "readOnly": true},
            {"name": "job", "mountPath": "/job/output", "subPathExpr": "$(CORTEX_JOB_FOLDER)/output"},
            {"name": "tmp", "mountPath": "/tmp"},
        ])
    );
    assert_eq!(
        c["securityContext"],
        json!({
            "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": true,
        })
    );
    assert_eq!(
        c["resources"],
        json!({
            "requests": {"cpu": "250m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        })
    );
    assert_eq!(c["terminationMessagePolicy"], "FallbackToLogsOnError");

    let yaml = dir.path().join("job.yaml");
    std::fs::write(&yaml, &out.stdout).unwrap();
    kubernetes_validate(&yaml);

    // The same folder, asked again: the same Job, name included (a resubmission adopts it).
    let again = manifest(&cfg, "Abuse_Finder", folder.path());
    assert_eq!(again.stdout, out.stdout);
    // Another folder of the same Cortex job id: another name, the same cortex-job-id label.
    let other = job_folder(&dir.path().join("jobs"), false);
    let other = self::job(&manifest(&cfg, "Abuse_Finder", other.path()));
    assert_ne!(other["metadata"]["name"], name.as_str());
    assert_eq!(other["metadata"]["labels"]["cortex-job-id"], "AZQx-1b_k");
    // No cacerts: no REQUESTS_CA_BUNDLE.
    let env = other["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    assert_eq!(env, ["CORTEX_JOB_FOLDER", "HTTPS_PROXY", "API_KEY"]);
}

#[test]
fn a_policy_relaxes_each_hardening_explicitly() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &fixtures().join("policies"));
    let folder = job_folder(&dir.path().join("jobs"), false);
    let out = manifest(&cfg, "Relaxed", folder.path());
    let job = job(&out);
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["automountServiceAccountToken"], true);
    assert_eq!(
        pod["securityContext"],
        json!({
            "runAsNonRoot": false,
            "runAsUser": 0,
            "fsGroup": 3000,
            "fsGroupChangePolicy": "OnRootMismatch",
            "seccompProfile": {"type": "RuntimeDefault"},
        })
    );
    let c = &pod["containers"][0];
    assert_eq!(
        c["securityContext"],
        json!({
            "allowPrivilegeEscalation": true,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": false,
        })
    );
    // A worker no catalog defines: its id from the policy's version.
    assert_eq!(job["metadata"]["labels"]["cortex-worker-id"], "Relaxed_1_2");
    // The configuration's default resources.
    assert_eq!(
        c["resources"],
        json!({
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        })
    );
    let yaml = dir.path().join("relaxed.yaml");
    std::fs::write(&yaml, &out.stdout).unwrap();
    kubernetes_validate(&yaml);
}

#[test]
fn workers_and_folders_that_cannot_run_exit_2_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let policies = fixtures().join("policies");
    let cfg = config(dir.path(), &policies);
    let folder = job_folder(&dir.path().join("jobs"), false);

    assert_setup_error(
        &manifest(&cfg, "NoImage", folder.path()),
        &format!(
            "worker NoImage cannot run on Kubernetes: it has no image (its policy {} sets no `kubernetes.image` and no catalog defines it)",
            policies.join("NoImage.toml").display()
        ),
    );
    assert_setup_error(
        &manifest(&cfg, "NoSuchWorker", folder.path()),
        "no worker named NoSuchWorker in the catalogs or policies (`cortex-runner analyzers` lists them)",
    );
    let outside_root = dir.path().join("elsewhere");
    std::fs::create_dir(&outside_root).unwrap();
    let outside = job_folder(&outside_root, false);
    assert_setup_error(
        &manifest(&cfg, "Abuse_Finder", outside.path()),
        &format!(
            "job folder {} is not inside jobs.root {} (pods see only the volume holding jobs.root)",
            outside.path().canonicalize().unwrap().display(),
            dir.path().join("jobs").canonicalize().unwrap().display()
        ),
    );
    // jobs.root itself is no job folder of its own.
    let root = dir.path().join("jobs");
    let input = root.join("input");
    std::fs::create_dir(&input).unwrap();
    std::fs::copy(
        folder.input_dir().join("input.json"),
        input.join("input.json"),
    )
    .unwrap();
    assert_setup_error(
        &manifest(&cfg, "Abuse_Finder", &root),
        &format!(
            "job folder {0} is not inside jobs.root {0} (pods see only the volume holding jobs.root)",
            root.canonicalize().unwrap().display()
        ),
    );
}

#[test]
fn an_unknown_security_key_is_an_exact_policy_error() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    let policy = policies.join("Bad.toml");
    std::fs::write(
        &policy,
        "backend = \"kubernetes\"\n[worker]\ndata_types = [\"ip\"]\n[kubernetes.security]\nrun_as_rot = true\n",
    )
    .unwrap();
    let cfg = config(dir.path(), &policies);
    let folder = job_folder(&dir.path().join("jobs"), false);
    assert_setup_error(
        &manifest(&cfg, "Bad", folder.path()),
        &format!(
            "policy {}:5: unknown key `kubernetes.security.run_as_rot` (expected one of: run_as_root, read_only_root_fs, allow_privilege_escalation, automount_service_account_token)",
            policy.display()
        ),
    );
    std::fs::write(
        &policy,
        "backend = \"kubernetes\"\n[worker]\ndata_types = [\"ip\"]\n[kubernetes.security]\nrun_as_root = \"yes\"\n",
    )
    .unwrap();
    assert_setup_error(
        &manifest(&cfg, "Bad", folder.path()),
        &format!(
            "policy {}:5: `kubernetes.security.run_as_root` must be a boolean, found string \"yes\"",
            policy.display()
        ),
    );
}
