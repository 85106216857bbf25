//! What the Kubernetes tests share: kube-standin (a local API server speaking the real HTTP API,
//! whose kubelet runs containers as local processes) with a job volume, and a runner configured
//! for it through an ordinary kubeconfig.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cortex_job::{JobFolder, JobInput};
use cortex_runner::backend::kubernetes::KubernetesBackend;
use cortex_runner::config::{ConfigLoader, Flags};
use cortex_runner::policy::BuiltinModule;
use cortex_runner::scheduler::{JobRecord, Scheduler};
use cortex_runner::setup::Setup;
use kube_standin::{Config as StandinConfig, Handle, Image, Standin};
use serde_json::{Value, json};

/// The ValidateObservable module as a container: `cortex-runner exec` on `/job`.
pub const VALIDATE_IMAGE: &str = "cortex/validate-observable:1";

/// A stand-in with its job volume, and the files of a runner configured for it.
pub struct Cluster {
    pub standin: Handle,
    pub dir: tempfile::TempDir,
}

impl Cluster {
    pub fn jobs(&self) -> PathBuf {
        self.dir.path().join("jobs")
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// Writes a configuration (with `extra` appended to `[kubernetes]`) and the policies
    /// `(worker, image, lines appended to the policy's [kubernetes] table)`; an empty image
    /// makes a wasm policy. Returns the configuration file.
    pub fn config(&self, name: &str, policies: &[(&str, &str, &str)], extra: &str) -> PathBuf {
        let root = self.dir.path().join(name);
        let dir = root.join("policies");
        std::fs::create_dir_all(&dir).unwrap();
        for (worker, image, more) in policies {
            let backend = if image.is_empty() {
                "wasm"
            } else {
                "kubernetes"
            };
            let text = format!(
                "backend = {backend:?}\n[worker]\nkind = \"analyzer\"\nversion = \"1.0\"\n\
                 description = \"test\"\ndata_types = [\"ip\", \"domain\"]\n\
                 config = {{ service = \"validateObservable\" }}\n[kubernetes]\nimage = {image:?}\n{more}\n",
            );
            std::fs::write(dir.join(format!("{worker}.toml")), text).unwrap();
        }
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("k8s-module-cache");
        let text = format!(
            "[jobs]\nroot = {:?}\n[policies]\ndir = {:?}\n[catalogs]\nanalyzers = []\nresponders = []\n\
             [wasm]\ncache_dir = {:?}\n[kubernetes]\nenabled = true\nkubeconfig = {:?}\n\
             namespace = \"cortex\"\nrun_as_non_root = false\nimage_pull_grace_s = 1\n\
             start_grace_s = 1\napi_qps = 1000\n{extra}\n",
            self.jobs().display().to_string(),
            dir.display().to_string(),
            cache.display().to_string(),
            self.kubeconfig().display().to_string(),
        );
        let path = root.join("config.toml");
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// What the scripted workers write: a raw success report (no `artifacts`, which finalisation
/// adds).
const REPORT: &str = "printf '{\"success\":true,\"summary\":{\"taxonomies\":[]},\"full\":{\"n\":1}}' > \"$1/output/output.json\"";

/// The images of these tests: the real analyzer through `cortex-runner exec`, scripted
/// workers (`sh -c SCRIPT sh /job`: `$1` is the job folder), and the stand-in's failure modes.
pub fn images() -> BTreeMap<String, Image> {
    let runner = env!("CARGO_BIN_EXE_cortex-runner").to_string();
    let module = analyzer_artifacts::module_path("ValidateObservable")
        .unwrap()
        .to_string();
    let script = |script: &str| Image {
        command: vec!["sh".into(), "-c".into(), script.into(), "sh".into()],
        ..Image::default()
    };
    BTreeMap::from([
        (
            VALIDATE_IMAGE.to_string(),
            Image {
                command: vec![
                    runner,
                    "exec".into(),
                    "--module".into(),
                    module,
                    "--job-dir".into(),
                ],
                ..Image::default()
            },
        ),
        (
            "cortex/noisy:1".to_string(),
            script(
                "echo \"token is s3cr3t-t0ken-value\" >&2; echo last words; \
                 printf 'bad key' > \"$KUBE_STANDIN_ROOT/dev/termination-log\"; exit 3",
            ),
        ),
        ("cortex/sleep:1".to_string(), script("sleep 30")),
        // A success report without `artifacts`, which finalisation adds.
        (
            "cortex/quick:1".to_string(),
            script(&format!("sleep 0.3; {REPORT}")),
        ),
        (
            "cortex/slowish:1".to_string(),
            script(&format!("sleep 3; {REPORT}")),
        ),
        (
            "cortex/gone:1".to_string(),
            Image {
                missing: true,
                ..Image::default()
            },
        ),
        (
            "cortex/oom:1".to_string(),
            Image {
                command: vec!["sleep".into(), "30".into()],
                oom: true,
                ..Image::default()
            },
        ),
        (
            "cortex/evicted:1".to_string(),
            Image {
                command: vec!["sleep".into(), "30".into()],
                evicted: true,
                ..Image::default()
            },
        ),
    ])
}

pub async fn cluster() -> Cluster {
    cluster_with(Vec::new()).await
}

/// A stand-in whose claims in `unmountable` cannot be mounted.
pub async fn cluster_with(unmountable: Vec<String>) -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("jobs")).unwrap();
    let standin = Standin::start(StandinConfig {
        kubeconfig_out: Some(dir.path().join("kubeconfig")),
        pvc_dir: Some(dir.path().join("jobs")),
        images: images(),
        image_pull_backoff_ms: 100,
        bookmark_interval_ms: 200,
        unmountable_claims: unmountable,
        ..StandinConfig::default()
    })
    .await
    .unwrap();
    Cluster { standin, dir }
}

pub fn builtin() -> Vec<BuiltinModule> {
    analyzer_artifacts::EMBEDDED
        .iter()
        .map(|&(worker, bytes)| BuiltinModule { worker, bytes })
        .collect()
}

pub fn scheduler(config: &Path) -> (Arc<Scheduler>, Arc<KubernetesBackend>) {
    let loader = ConfigLoader {
        file: Some(config.to_path_buf()),
        env: Vec::new(),
        flags: Flags::default(),
    };
    let setup = Setup::load(&loader, &builtin()).unwrap();
    let (scheduler, kubernetes) = setup.scheduler_with_kubernetes().unwrap();
    (Arc::new(scheduler), kubernetes.unwrap())
}

pub fn folder(root: &Path, id: &str, data: &str) -> Arc<JobFolder> {
    let mut input = JobInput::new("ip", data);
    input.config = json!({"service": "validateObservable", "api_key": "s3cr3t-t0ken-value"})
        .as_object()
        .unwrap()
        .clone();
    Arc::new(JobFolder::create(root, id, &input, None).unwrap())
}

pub async fn run(
    scheduler: &Arc<Scheduler>,
    worker: &str,
    folder: Arc<JobFolder>,
) -> (JobRecord, Value) {
    let record = tokio::time::timeout(
        Duration::from_secs(60),
        scheduler.submit(worker, folder.clone(), Instant::now()),
    )
    .await
    .expect("the job ends within 60 s")
    .unwrap();
    let report = std::fs::read(folder.output_dir().join("output.json")).unwrap();
    (record, serde_json::from_slice(&report).unwrap())
}

pub fn jobs_in(standin: &Handle) -> Vec<Value> {
    standin
        .objects()
        .into_iter()
        .filter(|o| o["kind"] == "Job")
        .collect()
}

/// Waits (up to 10 s) until the stand-in holds no Job.
pub async fn no_jobs_left(standin: &Handle) {
    for _ in 0..100 {
        if jobs_in(standin).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("Jobs left behind: {:?}", jobs_in(standin));
}

pub fn error_message(report: &Value) -> &str {
    report["errorMessage"]
        .as_str()
        .unwrap_or_else(|| panic!("no errorMessage in {report}"))
}

/// `kubernetes-validate -k 1.33.0 --strict FILE` accepts the objects in FILE (installed by
/// requirements-test.txt, as .ci/run does).
pub fn kubernetes_validate(path: &Path) {
    let out = match std::process::Command::new("kubernetes-validate")
        .args(["-k", "1.33.0", "--strict"])
        .arg(path)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!(
                "`kubernetes-validate` is not installed: run `python3 -m pip install -r requirements-test.txt`"
            )
        }
        Err(e) => panic!("running kubernetes-validate: {e}"),
    };
    assert!(
        out.status.success(),
        "kubernetes-validate rejected {}:\n{}\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
