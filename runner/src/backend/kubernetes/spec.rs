//! The Job a worker runs as: built from the worker, its policy and the configuration with the
//! `k8s-openapi` types.
//!
//! The layout is Cortex 4.1's own (`args: ["/job"]`, `CORTEX_JOB_FOLDER`, the claim mounted twice
//! with `subPathExpr`), so every Cortex-Analyzers image runs unchanged; the rest is hardened by
//! default (no retries, a deadline, the Pod Security "restricted" profile, a read-only root file
//! system), and a policy's `[kubernetes.security]` relaxes each piece explicitly.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec, PodTemplateSpec,
    ResourceRequirements, SeccompProfile, SecretKeySelector, SecurityContext, Toleration, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::config::KubernetesConfig;
use crate::policy::{KubernetesPolicy, SecuritySection, TolerationOperator};
use crate::workers::Worker;

mod names;

pub use names::{
    cortex_job_id, is_label_key, is_label_value, is_rfc1123_label, job_name, label_value,
};

/// The label every Job and Pod of this runner carries.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY: &str = "cortex-runner";
/// The label selector of every Job and Pod this runner creates (the shared watches use it).
pub const SELECTOR: &str = "app.kubernetes.io/managed-by=cortex-runner";
/// Annotation holding the job folder relative to jobs.root (restart adoption reads it back).
pub const FOLDER_ANNOTATION: &str = "cortex-runner/job-folder";
/// Annotation holding the exact worker name (labels cannot hold every name).
pub const WORKER_ANNOTATION: &str = "cortex-runner/worker";
/// The worker container's name (Cortex's runner calls it "neuron"; keep "neuron" for compatibility).
pub const CONTAINER: &str = "neuron";
/// The label holding the Job's own name (`job-name` is the controller's, on pods only).
pub const JOB_LABEL: &str = "cortex-runner/job";
/// Cortex's label with the Cortex job id.
pub const CORTEX_JOB_ID_LABEL: &str = "cortex-job-id";
/// Cortex's label with the worker id (`<name>_<version>`).
pub const CORTEX_WORKER_ID_LABEL: &str = "cortex-worker-id";
/// Cortex's label marking its worker Jobs.
pub const CORTEX_NEURON_JOB_LABEL: &str = "cortex-neuron-job";
/// The environment variable holding the job folder relative to the volume's root.
pub const FOLDER_ENV: &str = "CORTEX_JOB_FOLDER";
/// The environment variable pointing Python's `requests` at the job's CA bundle.
pub const CA_BUNDLE_ENV: &str = "REQUESTS_CA_BUNDLE";
/// Where the job's CA bundle is in the container.
pub const CA_BUNDLE_PATH: &str = "/job/input/cacerts";

/// The pod volume of the claim holding the job folders.
const JOB_VOLUME: &str = "job";
/// The pod volume at `/tmp` (the root file system is read-only).
const TMP_VOLUME: &str = "tmp";

/// Why a Job cannot be built for a worker and a job folder.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The worker has no container image.
    #[error("worker {worker} cannot run on Kubernetes: it has no image ({reason})")]
    NoImage {
        /// The worker's name.
        worker: String,
        /// Why: which of the policy's `kubernetes.image` and the catalog's `dockerImage` is missing.
        reason: String,
    },
    /// A path cannot be resolved to its canonical form.
    #[error("cannot resolve {}: {source}", path.display())]
    Canonicalise {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The job folder is not inside `jobs.root`, so no pod can reach it on the volume.
    #[error(
        "job folder {} is not inside jobs.root {} (pods see only the volume holding jobs.root)",
        folder.display(),
        root.display()
    )]
    FolderOutsideRoot {
        /// The folder, canonical.
        folder: PathBuf,
        /// `jobs.root`, canonical.
        root: PathBuf,
    },
    /// The job folder's path is not UTF-8, so it cannot be an environment value.
    #[error(
        "job folder {} (in jobs.root {}) is not valid UTF-8: it cannot be passed as CORTEX_JOB_FOLDER",
        folder.display(),
        root.display()
    )]
    FolderNotUtf8 {
        /// The folder, canonical.
        folder: PathBuf,
        /// `jobs.root`, canonical.
        root: PathBuf,
    },
    /// A configured or policy value the API server would refuse.
    #[error("{place}: {problem}")]
    Invalid {
        /// Where the value comes from: `the configuration` or `policy <file>`, and the key.
        place: String,
        /// What is wrong and what was expected.
        problem: String,
    },
}

/// The result type of this module.
pub type Result<T, E = SpecError> = std::result::Result<T, E>;

/// Everything one Job is built from.
#[derive(Debug, Clone, Copy)]
pub struct JobParams<'a> {
    /// The worker (with its policy, if any).
    pub worker: &'a Worker,
    /// `[kubernetes]` of the configuration.
    pub config: &'a KubernetesConfig,
    /// The job folder relative to jobs.root, as returned by `relative_folder`.
    pub folder_rel: &'a str,
    /// Time left of the job's timeout: activeDeadlineSeconds (rounded up, at least 1).
    pub active_deadline: Duration,
    /// Whether input/cacerts exists (then REQUESTS_CA_BUNDLE=/job/input/cacerts).
    pub has_cacerts: bool,
}

/// The folder relative to `jobs_root` (both absolute after canonicalisation), UTF-8, no `..`;
/// an error naming both paths otherwise.
pub fn relative_folder(jobs_root: &Path, folder: &Path) -> Result<String> {
    let canonical = |path: &Path| {
        std::fs::canonicalize(path).map_err(|source| SpecError::Canonicalise {
            path: path.to_path_buf(),
            source,
        })
    };
    let (root, folder) = (canonical(jobs_root)?, canonical(folder)?);
    let outside = || SpecError::FolderOutsideRoot {
        folder: folder.clone(),
        root: root.clone(),
    };
    let rel = folder.strip_prefix(&root).map_err(|_| outside())?;
    if rel.as_os_str().is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(outside());
    }
    rel.to_str()
        .map(str::to_string)
        .ok_or_else(|| SpecError::FolderNotUtf8 {
            folder: folder.clone(),
            root: root.clone(),
        })
}

/// The worker's image (policy's, else catalog's dockerImage with image_prefix — `Worker::image`
/// already holds that) or [`SpecError::NoImage`] with the exact reason.
pub fn image(worker: &Worker) -> Result<&str> {
    if let Some(image) = worker.image.as_deref().filter(|i| !i.is_empty()) {
        return Ok(image);
    }
    let policy = match &worker.policy {
        Some(p) => format!("its policy {} sets no `kubernetes.image`", p.path.display()),
        None => "it has no policy".to_string(),
    };
    let catalog = match &worker.definition {
        Some(_) => "its catalog entry has no `dockerImage`",
        None => "no catalog defines it",
    };
    Err(SpecError::NoImage {
        worker: worker.name.clone(),
        reason: format!("{policy} and {catalog}"),
    })
}

/// The Job, with k8s-openapi types only (never hand-written JSON).
pub fn build_job(p: &JobParams<'_>) -> Result<Job> {
    let image = image(p.worker)?.to_string();
    let policy = p.worker.policy.as_ref();
    let place = || match policy {
        Some(policy) => format!("policy {}", policy.path.display()),
        None => "the configuration".to_string(),
    };
    let k8s = policy.map(|policy| &policy.kubernetes);
    let security = k8s.map(|k| k.security).unwrap_or_default();
    let name = job_name(p.folder_rel);
    let labels = labels(p, &name)?;
    let annotations = BTreeMap::from([
        (FOLDER_ANNOTATION.to_string(), p.folder_rel.to_string()),
        (WORKER_ANNOTATION.to_string(), p.worker.name.clone()),
    ]);
    let container = Container {
        name: CONTAINER.to_string(),
        image: Some(image),
        args: Some(vec!["/job".to_string()]),
        env: Some(env(p, k8s, &place)?),
        resources: Some(resources(p.config, k8s)),
        volume_mounts: Some(vec![
            VolumeMount {
                name: JOB_VOLUME.to_string(),
                mount_path: "/job/input".to_string(),
                sub_path_expr: Some(format!("$({FOLDER_ENV})/input")),
                read_only: Some(true),
                ..VolumeMount::default()
            },
            VolumeMount {
                name: JOB_VOLUME.to_string(),
                mount_path: "/job/output".to_string(),
                sub_path_expr: Some(format!("$({FOLDER_ENV})/output")),
                ..VolumeMount::default()
            },
            VolumeMount {
                name: TMP_VOLUME.to_string(),
                mount_path: "/tmp".to_string(),
                ..VolumeMount::default()
            },
        ]),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(security.allow_privilege_escalation),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_string()]),
                ..Capabilities::default()
            }),
            read_only_root_filesystem: Some(security.read_only_root_fs),
            ..SecurityContext::default()
        }),
        // A worker that dies without writing a termination message still leaves the end of its
        // log in the pod status, for the failure report.
        termination_message_policy: Some("FallbackToLogsOnError".to_string()),
        ..Container::default()
    };
    let node_selector = k8s.map(|k| k.node_selector.clone()).unwrap_or_default();
    for (key, value) in &node_selector {
        if !is_label_key(key) || !is_label_value(value) {
            return Err(SpecError::Invalid {
                place: format!("{}: `kubernetes.node_selector`", place()),
                problem: format!(
                    "{key:?} = {value:?} is not a node label (a name of letters, digits, '-', '_', '.' with an optional DNS prefix/, and a value of at most 63 such characters)"
                ),
            });
        }
    }
    let tolerations = k8s
        .map(|k| tolerations(k, &place))
        .transpose()?
        .unwrap_or_default();
    let pod = PodSpec {
        containers: vec![container],
        restart_policy: Some("Never".to_string()),
        automount_service_account_token: Some(security.automount_service_account_token),
        service_account_name: (!p.config.service_account.is_empty())
            .then(|| p.config.service_account.clone()),
        // Service links put every Service of the namespace in the worker's environment.
        enable_service_links: Some(false),
        security_context: Some(pod_security(p.config, &security)),
        node_selector: (!node_selector.is_empty()).then_some(node_selector),
        tolerations: (!tolerations.is_empty()).then_some(tolerations),
        volumes: Some(vec![
            Volume {
                name: JOB_VOLUME.to_string(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: p.config.pvc.clone(),
                    read_only: None,
                }),
                ..Volume::default()
            },
            Volume {
                name: TMP_VOLUME.to_string(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Volume::default()
            },
        ]),
        ..PodSpec::default()
    };
    let ttl = i32::try_from(p.config.ttl_s).map_err(|_| SpecError::Invalid {
        place: "the configuration: `kubernetes.ttl_s`".to_string(),
        problem: format!("{} does not fit ttlSecondsAfterFinished", p.config.ttl_s),
    })?;
    Ok(Job {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(p.config.namespace.clone()),
            labels: Some(labels.clone()),
            annotations: Some(annotations.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            // A worker that fails is not run again: a responder's side effects would repeat.
            backoff_limit: Some(0),
            active_deadline_seconds: Some(deadline_seconds(p.active_deadline)),
            ttl_seconds_after_finished: Some(ttl),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: Some(annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..JobSpec::default()
        }),
        status: None,
    })
}

/// `activeDeadlineSeconds` for the time left: whole seconds rounded up, at least 1 (0 is invalid).
fn deadline_seconds(left: Duration) -> i64 {
    let seconds = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    i64::try_from(seconds).unwrap_or(i64::MAX).max(1)
}

/// The labels of the Job and its pods: ours, Cortex's, then the configured extras (which may not
/// replace ours: the watches and adoption select on them).
fn labels(p: &JobParams<'_>, name: &str) -> Result<BTreeMap<String, String>> {
    let job_id = cortex_job_id(p.folder_rel).map_or_else(|| name.to_string(), label_value);
    let mut labels = BTreeMap::from([
        (MANAGED_BY_LABEL.to_string(), MANAGED_BY.to_string()),
        (JOB_LABEL.to_string(), name.to_string()),
        (CORTEX_JOB_ID_LABEL.to_string(), job_id),
        (
            CORTEX_WORKER_ID_LABEL.to_string(),
            label_value(&p.worker.id()),
        ),
        (CORTEX_NEURON_JOB_LABEL.to_string(), "true".to_string()),
    ]);
    for (key, value) in &p.config.extra_labels {
        let place = || format!("the configuration: `kubernetes.extra_labels.{key}`");
        if labels.contains_key(key) {
            return Err(SpecError::Invalid {
                place: place(),
                problem: format!(
                    "{key} is set by the runner itself (reserved: {})",
                    labels.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        if !is_label_key(key) || !is_label_value(value) {
            return Err(SpecError::Invalid {
                place: place(),
                problem: format!(
                    "{value:?} is not a label value (at most 63 letters, digits, '-', '_', '.', starting and ending with a letter or digit)"
                ),
            });
        }
    }
    labels.extend(p.config.extra_labels.clone());
    Ok(labels)
}

/// The container's environment: the folder, the CA bundle, the policy's variables and those from
/// Secrets. The runner's own variables cannot be replaced, nor one variable given twice.
fn env(
    p: &JobParams<'_>,
    k8s: Option<&KubernetesPolicy>,
    place: &dyn Fn() -> String,
) -> Result<Vec<EnvVar>> {
    let mut env = vec![EnvVar {
        name: FOLDER_ENV.to_string(),
        value: Some(p.folder_rel.to_string()),
        ..EnvVar::default()
    }];
    if p.has_cacerts {
        env.push(EnvVar {
            name: CA_BUNDLE_ENV.to_string(),
            value: Some(CA_BUNDLE_PATH.to_string()),
            ..EnvVar::default()
        });
    }
    let Some(k8s) = k8s else {
        return Ok(env);
    };
    let given = k8s
        .env
        .iter()
        .map(|(name, value)| (name, "kubernetes.env", Some(value), None))
        .chain(
            k8s.env_from_secrets
                .iter()
                .map(|s| (&s.name, "kubernetes.env_from_secrets", None, Some(s))),
        );
    for (name, key, value, secret) in given {
        if [FOLDER_ENV, CA_BUNDLE_ENV].contains(&name.as_str()) {
            return Err(SpecError::Invalid {
                place: format!("{}: `{key}`", place()),
                problem: format!(
                    "{name} is set by the runner (the job folder and its CA bundle, as Cortex sets them)"
                ),
            });
        }
        if env.iter().any(|e| &e.name == name) {
            return Err(SpecError::Invalid {
                place: format!("{}: `{key}`", place()),
                problem: format!(
                    "{name} is given twice (in `kubernetes.env` and `kubernetes.env_from_secrets`)"
                ),
            });
        }
        if let Some(secret) = secret {
            let subdomain =
                secret.secret.len() <= 253 && secret.secret.split('.').all(is_rfc1123_label);
            let key_ok = !secret.key.is_empty()
                && secret.key.len() <= 253
                && secret
                    .key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if !subdomain || !key_ok {
                return Err(SpecError::Invalid {
                    place: format!("{}: `{key}`", place()),
                    problem: format!(
                        "{name}: secret {:?} key {:?} cannot name a Secret key (a Secret name is lower-case letters, digits, '-' and '.'; a key is letters, digits, '-', '_', '.')",
                        secret.secret, secret.key
                    ),
                });
            }
        }
        env.push(EnvVar {
            name: name.clone(),
            value: value.cloned(),
            value_from: secret.map(|s| EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: s.secret.clone(),
                    key: s.key.clone(),
                    optional: None,
                }),
                ..EnvVarSource::default()
            }),
        });
    }
    Ok(env)
}

/// Requests and limits: the policy's (resolution fills in the configuration's defaults), or the
/// configuration's for a worker without a policy.
fn resources(config: &KubernetesConfig, k8s: Option<&KubernetesPolicy>) -> ResourceRequirements {
    let r = k8s.map(|k| k.resources.clone()).unwrap_or_default();
    let pick = |v: Option<String>, default: &String| Quantity(v.unwrap_or_else(|| default.clone()));
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_string(), pick(r.cpu_request, &config.cpu_request)),
            (
                "memory".to_string(),
                pick(r.memory_request, &config.memory_request),
            ),
        ])),
        limits: Some(BTreeMap::from([
            ("cpu".to_string(), pick(r.cpu_limit, &config.cpu_limit)),
            (
                "memory".to_string(),
                pick(r.memory_limit, &config.memory_limit),
            ),
        ])),
        ..ResourceRequirements::default()
    }
}

/// The policy's tolerations, refused where the API server would refuse them.
fn tolerations(k8s: &KubernetesPolicy, place: &dyn Fn() -> String) -> Result<Vec<Toleration>> {
    k8s.tolerations
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let invalid = |problem: &str| SpecError::Invalid {
                place: format!("{}: `kubernetes.tolerations[{i}]`", place()),
                problem: problem.to_string(),
            };
            match t.operator {
                TolerationOperator::Exists if t.value.is_some() => {
                    return Err(invalid("`value` must be absent with operator = \"Exists\""));
                }
                TolerationOperator::Equal if t.key.is_none() => {
                    return Err(invalid("`key` is required with operator = \"Equal\" (only \"Exists\" may leave it out)"));
                }
                _ => {}
            }
            Ok(Toleration {
                key: t.key.clone(),
                operator: Some(format!("{:?}", t.operator)),
                value: t.value.clone(),
                effect: t.effect.map(|e| format!("{e:?}")),
                toleration_seconds: None,
            })
        })
        .collect()
}

/// The pod's security context: non-root with the configured ids unless the policy says
/// `run_as_root`, seccomp `RuntimeDefault`, the configured `fsGroup`.
fn pod_security(config: &KubernetesConfig, security: &SecuritySection) -> PodSecurityContext {
    let (run_as_user, run_as_group, run_as_non_root) = if security.run_as_root {
        (Some(0), None, Some(false))
    } else {
        (
            config.run_as_user,
            config.run_as_group,
            Some(config.run_as_non_root),
        )
    };
    PodSecurityContext {
        run_as_user,
        run_as_group,
        run_as_non_root,
        fs_group: config.fs_group,
        // Ownership is set by the runner on the job folder (see `folder.rs`); a kubelet that
        // manages the volume's ownership must not walk the whole jobs volume at every start.
        fs_group_change_policy: config.fs_group.map(|_| "OnRootMismatch".to_string()),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_string(),
            localhost_profile: None,
        }),
        ..PodSecurityContext::default()
    }
}

#[cfg(test)]
mod tests;
