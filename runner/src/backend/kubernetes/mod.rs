//! The Kubernetes backend: each job runs as a `batch/v1` Job on the ReadWriteMany volume that
//! holds `jobs.root`, in Cortex's own layout, so the existing Cortex-Analyzers images run
//! unchanged.
//!
//! One job, from [`KubernetesBackend::run`]:
//!
//! 1. the job folder is made readable by the pod's user ([`folder::prepare_folder`]) and the Job
//!    is built ([`spec::build_job`]), named after the folder ([`spec::job_name`]);
//! 2. the Job is created; `AlreadyExists` (a retry, a restart, a second replica) adopts the
//!    existing Job instead of running the worker twice;
//! 3. the job waits on the two shared watches ([`watch::Watches`]) and reads its state with
//!    [`outcome::Assessor`], which fails fast on causes that will not resolve (image pulls past
//!    a grace, invalid images, container config errors, scheduling and mount failures past a
//!    grace, eviction, OOM, the Job's deadline);
//! 4. the end becomes a [`WorkerEnd`] carrying the container's termination message and the end
//!    of its log (finalisation scrubs the job's secrets from it);
//! 5. after finalisation, [`Backend::finalised`] deletes the Job (background propagation) unless
//!    `kubernetes.keep_jobs`.
//!
//! A worker whose policy has `[wasm.network]` gets its allowlist as the pod's egress
//! NetworkPolicy ([`egress`]): the hosts are resolved before the Job is created (a name that does
//! not resolve fails the job then), the policy is created right after the Job, owned by it, and
//! deleted with it.
//!
//! A run that is dropped (timeout, cancellation) deletes its Job from a task of its own, which
//! `finalised` waits for. A runner that stops leaves its Jobs running: [`KubernetesBackend::orphans`]
//! lists them for the next runner to adopt.
//!
//! Requests per job: one create and one delete (a third only when a create is retried), two more
//! for a worker with a network policy (its NetworkPolicy's create and delete). The
//! runner talks to the cluster only through [`kube::Client`] and a kubeconfig (or the pod's
//! service account).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cortex_job::WorkerEnd;
use serde_json::json;
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;

use super::{Backend, BackendEnd, BackendJob, BackendKind, BoxFuture, LaneLimits, RunInfo};
use crate::config::KubernetesConfig;
use crate::policy::NetworkRules;
use crate::workers::Worker;

pub mod api;
pub mod egress;
pub mod folder;
pub mod outcome;
pub mod spec;
pub mod watch;

use api::KubeApi;
use outcome::{Assessor, End, Graces, Verdict};
use watch::Watches;

/// A connection to the cluster: the API and the two shared watches.
struct Connected {
    api: Arc<KubeApi>,
    watches: Arc<Watches>,
}

/// A Job this runner (or another replica) started that is still in the cluster: what the next
/// runner needs to adopt it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    /// The Job's name.
    pub job: String,
    /// The worker it runs (the Job's [`spec::WORKER_ANNOTATION`]).
    pub worker: String,
    /// The job folder (`jobs.root` joined with the Job's [`spec::FOLDER_ANNOTATION`]).
    pub folder: PathBuf,
}

/// Runs jobs as Kubernetes Jobs.
pub struct KubernetesBackend {
    config: KubernetesConfig,
    jobs_root: PathBuf,
    defaults: LaneLimits,
    connected: OnceCell<Connected>,
    /// Addresses pinned for host names (the configuration's `[wasm.network] resolve`), used
    /// instead of the resolver for the egress NetworkPolicies.
    pins: Vec<wasm_host::net::Pinned>,
    /// Jobs whose run ended normally, to delete once their report is written.
    ended: Mutex<HashSet<String>>,
    /// Deletions started by dropped runs (timeout, cancellation), awaited by `finalised`.
    deleting: Mutex<HashMap<String, JoinHandle<()>>>,
}

impl std::fmt::Debug for KubernetesBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesBackend")
            .field("namespace", &self.config.namespace)
            .field("jobs_root", &self.jobs_root)
            .finish_non_exhaustive()
    }
}

impl KubernetesBackend {
    /// A backend for `config`, whose PVC holds `jobs_root`. It connects on first use, so that a
    /// runner whose jobs all go to wasm never talks to the cluster.
    pub fn new(config: KubernetesConfig, jobs_root: PathBuf) -> Self {
        let defaults = LaneLimits {
            timeout: Duration::from_secs(config.timeout_s),
            concurrency: config.concurrency,
        };
        Self {
            config,
            jobs_root,
            defaults,
            connected: OnceCell::new(),
            pins: Vec::new(),
            ended: Mutex::default(),
            deleting: Mutex::default(),
        }
    }

    /// Resolves the host names of egress NetworkPolicies to `pins` where they name them (the
    /// configuration's `[wasm.network] resolve`), as the sandbox does.
    #[must_use]
    pub fn with_pins(mut self, pins: Vec<wasm_host::net::Pinned>) -> Self {
        self.pins = pins;
        self
    }

    /// Connects (once) to the cluster and starts the shared watches.
    async fn connect(&self) -> Result<&Connected, String> {
        self.connected
            .get_or_try_init(|| async {
                let client = client(&self.config).await?;
                let api = Arc::new(KubeApi::new(
                    client,
                    &self.config.namespace,
                    self.config.api_qps,
                ));
                let watches = Watches::start(api.jobs(), api.pods());
                Ok(Connected { api, watches })
            })
            .await
    }

    /// The API, once connected (for counters in benchmarks and tests).
    pub fn api(&self) -> Option<&KubeApi> {
        self.connected.get().map(|c| c.api.as_ref())
    }

    /// Stops the shared watches (when the runner is about to stop).
    pub fn stop_watches(&self) {
        if let Some(connected) = self.connected.get() {
            connected.watches.stop();
        }
    }

    /// The watches, once connected.
    pub fn watches(&self) -> Option<&Watches> {
        self.connected.get().map(|c| c.watches.as_ref())
    }

    /// Every Job of this runner still in the namespace, with the worker and folder to adopt it
    /// under. Jobs without the runner's annotations, or naming a folder outside `jobs.root`,
    /// are left alone with a warning.
    pub async fn orphans(&self) -> Result<Vec<Orphan>, String> {
        let connected = self.connect().await?;
        let jobs = connected.api.list_jobs().await.map_err(|e| {
            format!(
                "listing the runner's Jobs in namespace {} failed: {e}",
                self.config.namespace
            )
        })?;
        let mut orphans = Vec::new();
        for job in jobs {
            let name = job.metadata.name.clone().unwrap_or_default();
            let annotations = job.metadata.annotations.unwrap_or_default();
            let (Some(worker), Some(rel)) = (
                annotations.get(spec::WORKER_ANNOTATION),
                annotations.get(spec::FOLDER_ANNOTATION),
            ) else {
                tracing::warn!(job = %name, "a Job with the runner's label but without its annotations: left alone");
                continue;
            };
            let rel_path = Path::new(rel);
            if rel_path.is_absolute()
                || rel_path
                    .components()
                    .any(|c| !matches!(c, std::path::Component::Normal(_)))
            {
                tracing::warn!(job = %name, folder = %rel, "a Job naming a folder outside jobs.root: left alone");
                continue;
            }
            // The folder must be, once resolved, the very folder the annotation names: a
            // symlink on the volume must not lead the runner to finalise (write into) a folder
            // elsewhere. A folder that is gone is still listed: adoption deletes its Job.
            let folder = self.jobs_root.join(rel_path);
            if std::fs::symlink_metadata(&folder).is_ok() {
                match spec::relative_folder(&self.jobs_root, &folder) {
                    Ok(real) if real == *rel => {}
                    Ok(real) => {
                        tracing::warn!(job = %name, folder = %rel, resolved = %real, "a Job naming a folder that resolves to another one: left alone");
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(job = %name, folder = %rel, "a Job naming a folder outside jobs.root: left alone ({e})");
                        continue;
                    }
                }
            }
            orphans.push(Orphan {
                job: name,
                worker: worker.clone(),
                folder,
            });
        }
        Ok(orphans)
    }

    /// Deletes the Job of an orphan that cannot be adopted (its folder is gone), and its egress
    /// NetworkPolicy if it has one (whether it does is not known without its worker's policy: a
    /// policy already gone is fine).
    pub async fn delete_orphan(&self, name: &str) {
        let Some(connected) = self.connected.get() else {
            return;
        };
        if let Err(e) = connected.api.delete_job(name).await {
            tracing::warn!(kubernetes_job = %name, "deleting the Job failed: {e}");
        }
        if let Err(e) = connected.api.delete_network_policy(name).await {
            tracing::warn!(kubernetes_job = %name, "deleting the Job's egress NetworkPolicy failed (it goes with the Job it is owned by): {e}");
        }
    }

    async fn run_job(self: Arc<Self>, job: BackendJob) -> BackendEnd {
        let started = Instant::now();
        let failed = |cause: String| BackendEnd::failed(cause, started.elapsed());
        let rel = match spec::relative_folder(&self.jobs_root, job.folder.path()) {
            Ok(rel) => rel,
            Err(e) => return failed(e.to_string()),
        };
        let name = spec::job_name(&rel);
        let connected = match self.connect().await {
            Ok(connected) => connected,
            Err(cause) => return failed(cause),
        };
        let (api, watches) = (connected.api.clone(), connected.watches.clone());
        let mut changes = watches.subscribe(&name);
        // From here on, a dropped run deletes its Job.
        let mut guard = DeleteOnDrop {
            backend: self.clone(),
            api: api.clone(),
            name: Some(name.clone()),
            network: network(&job.worker).is_some(),
        };
        // A Job of this folder may exist already (a restart, a retry, another replica): know
        // the cluster's Jobs before deciding to create one.
        // An API server that cannot be reached (or refuses the runner) is a start failure: the
        // job fails after the start grace, naming the error.
        let list_wait = Duration::from_secs(self.config.start_grace_s.max(1));
        if tokio::time::timeout(list_wait, watches.listed())
            .await
            .is_err()
        {
            watches.release(&name, changes);
            guard.name = None;
            return failed(format!(
                "the runner could not list its Jobs in namespace {} within {} s (last error: {})",
                self.config.namespace,
                list_wait.as_secs(),
                watches.last_error().unwrap_or_else(|| "none".into())
            ));
        }
        let seen = watches.seen(&name);
        let adopted = if seen.job.is_some() && !seen.deleted {
            true
        } else {
            match self.create(&job, &rel, &name, &api).await {
                Ok(adopted) => adopted,
                Err(cause) => {
                    watches.release(&name, changes);
                    return failed(cause);
                }
            }
        };
        if adopted {
            tracing::info!(job = %job.folder.path().display(), kubernetes_job = %name, "adopting the existing Job");
        }
        let mut assessor = Assessor::new(Graces {
            image_pull: Duration::from_secs(self.config.image_pull_grace_s),
            start: Duration::from_secs(self.config.start_grace_s),
        });
        let end = loop {
            let seen = watches.seen(&name);
            if let Some(other) = seen
                .job
                .as_ref()
                .and_then(|j| j.metadata.annotations.as_ref())
                .and_then(|a| a.get(spec::FOLDER_ANNOTATION))
                .filter(|other| **other != rel)
            {
                break End::Failed {
                    cause: format!(
                        "a Job named {name} exists for another job folder ({other}); not adopting it"
                    ),
                    pod: None,
                    message: None,
                };
            }
            let pods = own_pods(&seen);
            let now = Instant::now();
            match assessor.assess(&name, seen.job.as_ref(), seen.deleted, &pods, now) {
                Verdict::Done(end) => break end,
                Verdict::CheckEvents { pod } => match api.failed_mount(&pod).await {
                    Ok(Some(message)) => break assessor.mount_failed(&pod, &message),
                    Ok(None) => assessor.events_checked(Instant::now()),
                    Err(e) => {
                        tracing::warn!(pod = %pod, "reading the pod's events failed: {e}");
                        assessor.events_checked(Instant::now());
                    }
                },
                Verdict::Pending { recheck } => {
                    let sleep = async {
                        match recheck {
                            Some(at) => tokio::time::sleep_until(at.into()).await,
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        changed = changes.changed() => {
                            if changed.is_err() {
                                // The watches are gone with the runtime; nothing more to learn.
                                std::future::pending::<()>().await;
                            }
                        }
                        () = sleep => {}
                    }
                }
            }
        };
        watches.release(&name, changes);
        let mut details = BTreeMap::new();
        details.insert("kubernetes_job".into(), json!(name));
        details.insert("namespace".into(), json!(self.config.namespace));
        details.insert("adopted".into(), json!(adopted));
        let end = self.worker_end(&job, &api, end, &mut details).await;
        // The run ended by itself: `finalised` deletes the Job once the report is written.
        guard.name = None;
        self.ended
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name);
        BackendEnd {
            end,
            info: RunInfo {
                wall: started.elapsed(),
                details,
            },
        }
    }

    /// Prepares the folder and creates the Job; `Ok(true)` when a Job of that name already
    /// existed and is adopted.
    async fn create(
        &self,
        job: &BackendJob,
        rel: &str,
        name: &str,
        api: &KubeApi,
    ) -> Result<bool, String> {
        let (folder, config) = (job.folder.clone(), self.config.clone());
        // chown/chmod on a network volume: file I/O off the async threads.
        tokio::task::spawn_blocking(move || folder::prepare_folder(&folder, &config))
            .await
            .map_err(|e| format!("preparing the job folder failed: {e}"))?
            .map_err(|e| e.to_string())?;
        let cacerts = job.folder.input_dir().join("cacerts");
        let has_cacerts = std::fs::symlink_metadata(&cacerts).is_ok_and(|m| m.is_file());
        // The addresses first: a name that does not resolve fails the job before any Job exists.
        let egress = match network(&job.worker) {
            Some(rules) => Some(
                egress::resolve(rules, &self.pins, egress::RESOLVE_TIMEOUT)
                    .await
                    .map_err(|e| e.to_string())?,
            ),
            None => None,
        };
        let manifest = spec::build_job(&spec::JobParams {
            worker: &job.worker,
            config: &self.config,
            folder_rel: rel,
            active_deadline: job.limits.timeout,
            has_cacerts,
        })
        .map_err(|e| e.to_string())?;
        match api.create_job(&manifest).await {
            Ok(created) => {
                if let Some(dest) = &egress {
                    let policy =
                        egress::build(name, &self.config, &job.worker.name, dest, Some(&created));
                    self.create_network_policy(api, &policy).await?;
                }
                Ok(false)
            }
            // The Job of an earlier run (or replica) keeps the policy that run created.
            Err(kube::Error::Api(status)) if status.is_already_exists() => Ok(true),
            Err(e) => Err(format!(
                "creating the Job {name} in namespace {} failed: {e}",
                self.config.namespace
            )),
        }
    }

    /// Creates a Job's egress NetworkPolicy. One left by an earlier Job of the same name (kept,
    /// or not yet collected) belongs to that Job: it is replaced, once.
    async fn create_network_policy(
        &self,
        api: &KubeApi,
        policy: &k8s_openapi::api::networking::v1::NetworkPolicy,
    ) -> Result<(), String> {
        let name = policy.metadata.name.as_deref().unwrap_or_default();
        let failed = |e: kube::Error| {
            format!(
                "creating the egress NetworkPolicy {name} in namespace {} failed: {e}",
                self.config.namespace
            )
        };
        match api.create_network_policy(policy).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.is_already_exists() => {
                api.delete_network_policy(name).await.map_err(failed)?;
                api.create_network_policy(policy)
                    .await
                    .map(drop)
                    .map_err(failed)
            }
            Err(e) => Err(failed(e)),
        }
    }

    /// The backend-neutral end, with the termination message and the end of the log when the
    /// report may need them.
    async fn worker_end(
        &self,
        job: &BackendJob,
        api: &KubeApi,
        end: End,
        details: &mut BTreeMap<String, serde_json::Value>,
    ) -> WorkerEnd {
        let max = usize::try_from(self.config.log_tail_kib.saturating_mul(1024)).unwrap_or(16384);
        let (mut end, pod, message, needs_log) = match end {
            End::Exited { code, pod, message } => {
                // A clean exit with a report needs no log: skip the request.
                let report = job.folder.output_dir().join("output.json");
                let has_report = std::fs::symlink_metadata(&report).is_ok_and(|m| m.len() > 0);
                let needs_log = code != 0 || !has_report;
                (WorkerEnd::exited(code), Some(pod), message, needs_log)
            }
            End::Failed {
                cause,
                pod,
                message,
            } => (WorkerEnd::failed(cause), pod, message, true),
        };
        let pod = pod.filter(|p| !p.is_empty());
        if let Some(pod) = &pod {
            details.insert("pod".into(), json!(pod));
        }
        let mut tail = String::new();
        if needs_log && let Some(pod) = &pod {
            tail = api.log_tail(pod, spec::CONTAINER, max).await;
        }
        // With `FallbackToLogsOnError` the message may be the log's end again: say it once.
        if let Some(message) = message.filter(|m| !tail.contains(m.trim_end())) {
            if !tail.is_empty() && !tail.ends_with('\n') {
                tail.push('\n');
            }
            tail.push_str("termination message: ");
            tail.push_str(&message);
        }
        if !tail.is_empty() {
            end = end.with_stderr(tail);
        }
        end
    }

    /// Deletes the Job `name`, and its egress NetworkPolicy when `network`, unless `keep_jobs`;
    /// failures are logged (the Job's TTL is the backstop, and the cluster's garbage collector
    /// removes the policy with its owner).
    async fn delete(&self, api: &KubeApi, name: &str, network: bool) {
        if self.config.keep_jobs {
            return;
        }
        if let Err(e) = api.delete_job(name).await {
            tracing::warn!(kubernetes_job = %name, "deleting the Job failed (its ttlSecondsAfterFinished remains): {e}");
        }
        // The stand-in, and a cluster whose garbage collector lags, would keep it: delete it.
        if network && let Err(e) = api.delete_network_policy(name).await {
            tracing::warn!(kubernetes_job = %name, "deleting the Job's egress NetworkPolicy failed (it goes with the Job it is owned by): {e}");
        }
    }
}

/// The worker's `[wasm.network]`, which its Job pods get as their egress NetworkPolicy.
fn network(worker: &Worker) -> Option<&NetworkRules> {
    worker.policy.as_ref()?.wasm.network.as_ref()
}

/// The pods that belong to the Job as seen (same controller uid); none before the Job is seen,
/// so that pods of an earlier Job of the same name cannot end this one.
fn own_pods(seen: &watch::Seen) -> Vec<&k8s_openapi::api::core::v1::Pod> {
    let Some(uid) = seen.job.as_ref().and_then(|j| j.metadata.uid.as_deref()) else {
        return Vec::new();
    };
    seen.pods
        .values()
        .filter(|pod| {
            pod.metadata
                .owner_references
                .as_ref()
                .is_some_and(|owners| owners.iter().any(|o| o.uid == uid))
        })
        .collect()
}

/// The client for `config`: in-cluster, an explicit kubeconfig, or the usual discovery.
async fn client(config: &KubernetesConfig) -> Result<kube::Client, String> {
    let mut kube_config = if config.in_cluster {
        kube::Config::incluster().map_err(|e| {
            format!(
                "kubernetes.in_cluster = true but the pod's service account cannot be used: {e}"
            )
        })?
    } else if let Some(path) = &config.kubeconfig {
        let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(|e| {
            format!(
                "reading the kubeconfig {} (kubernetes.kubeconfig) failed: {e}",
                path.display()
            )
        })?;
        kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .map_err(|e| format!("the kubeconfig {} cannot be used: {e}", path.display()))?
    } else {
        kube::Config::infer().await.map_err(|e| {
            format!("no Kubernetes configuration found (KUBECONFIG, ~/.kube/config or in-cluster; set kubernetes.kubeconfig): {e}")
        })?
    };
    // kube's own retry layer would retry 429s up to 15 times with waits up to 1000 s, below
    // the runner's bounded retries (see [`api`]); one policy, the runner's, applies.
    kube_config.default_retry = false;
    kube::Client::try_from(kube_config)
        .map_err(|e| format!("creating the Kubernetes client failed: {e}"))
}

/// Deletes the Job of a run that was dropped before it ended (timeout, cancellation), from a task
/// of its own so that the deletion does not depend on the dropped future. When the runtime is
/// shutting down the task never runs, and the Job stays for the next runner to adopt.
struct DeleteOnDrop {
    backend: Arc<KubernetesBackend>,
    api: Arc<KubeApi>,
    name: Option<String>,
    /// Whether the Job has an egress NetworkPolicy to delete too.
    network: bool,
}

impl Drop for DeleteOnDrop {
    fn drop(&mut self) {
        let Some(name) = self.name.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (backend, api, key) = (self.backend.clone(), self.api.clone(), name.clone());
        let network = self.network;
        let task = runtime.spawn(async move { backend.delete(&api, &name, network).await });
        self.backend
            .deleting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, task);
    }
}

impl Backend for KubernetesBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Kubernetes
    }

    fn lane_limits(&self, worker: &Worker) -> LaneLimits {
        let set =
            (worker.policy.as_ref()).map(|p| (p.kubernetes.timeout_s, p.kubernetes.concurrency));
        LaneLimits::from_policy(set, self.defaults)
    }

    fn accepts_overflow(&self) -> bool {
        true
    }

    fn outlives_runner(&self) -> bool {
        true
    }

    fn run(self: Arc<Self>, job: BackendJob) -> BoxFuture<'static, BackendEnd> {
        Box::pin(self.run_job(job))
    }

    fn finalised(self: Arc<Self>, job: BackendJob) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let Ok(rel) = spec::relative_folder(&self.jobs_root, job.folder.path()) else {
                return;
            };
            let name = spec::job_name(&rel);
            let dropped = self
                .deleting
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&name);
            if let Some(task) = dropped {
                let _ = task.await;
                return;
            }
            let ended = self
                .ended
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&name);
            if ended && let Some(connected) = self.connected.get() {
                let network = network(&job.worker).is_some();
                self.delete(&connected.api, &name, network).await;
            }
        })
    }
}
