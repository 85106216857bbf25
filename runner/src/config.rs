//! The runner configuration: built-in defaults < `config.toml` < `CORTEX_RUNNER_*` < flags.
//!
//! Every key and its default is listed once, in the `Default` impls below, and documented in the
//! shipped `config.toml`. [`ConfigLoader`] layers the sources with figment, so every value keeps the
//! name of the source it came from; [`Loaded::sources`] reports it for `config show`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};

mod errors;
pub mod limits;
mod show;

pub(crate) use errors::plain_expected;
pub use errors::{ConfigError, Result};
pub use show::{SourcedValue, mask_secret};

/// The prefix of the environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "CORTEX_RUNNER_";
/// The environment variable naming the configuration file (like `--config`).
pub const CONFIG_ENV: &str = "CORTEX_RUNNER_CONFIG";

/// The whole configuration, one field per section of `config.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where job folders live.
    pub jobs: JobsConfig,
    /// Where policy files live.
    pub policies: PoliciesConfig,
    /// The Cortex catalogs to load.
    pub catalogs: CatalogsConfig,
    /// Global scheduling limits.
    pub scheduler: SchedulerConfig,
    /// The in-process wasm backend.
    pub wasm: WasmConfig,
    /// The Kubernetes backend (`backend::kubernetes`).
    pub kubernetes: KubernetesConfig,
    /// The HTTP service (`cortex-runner serve`, `service`).
    pub service: ServiceConfig,
}

/// `[jobs]`: job folders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// The directory job folders are created in (the RWX volume in a cluster).
    pub root: PathBuf,
    /// The largest `output.json` finalisation reads, in MiB.
    pub max_output_mib: u64,
    /// The most entries a worker may leave in `output/` (`output.json` included); more fails
    /// the job. 1 to 1,000,000.
    pub max_artifacts: u64,
    /// The largest file other than `output.json` a worker may leave in `output/`, in MiB (the
    /// larger of its apparent and allocated sizes); a bigger one fails the job. 1 to 1,048,576.
    pub max_artifact_mib: u64,
    /// The most MiB all files but `output.json` in `output/` may hold together; more fails the
    /// job. 1 to 1,048,576.
    pub max_artifact_total_mib: u64,
}

/// `[policies]`: per-worker policy files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PoliciesConfig {
    /// The directory holding one `<WorkerName>.toml` per worker.
    pub dir: PathBuf,
}

/// `[catalogs]`: Cortex worker catalogs, as Cortex's `analyzer.urls` / `responder.urls`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogsConfig {
    /// Analyzer catalogs: JSON catalog files or directories of definition files.
    pub analyzers: Vec<PathBuf>,
    /// Responder catalogs: JSON catalog files or directories of definition files.
    pub responders: Vec<PathBuf>,
}

/// `[scheduler]`: limits across all workers and backends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerConfig {
    /// How many jobs run at once, all workers and backends together.
    pub max_running: u32,
}

/// `[wasm]`: the in-process sandbox and the defaults of wasm policies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WasmConfig {
    /// Whether the wasm backend is available at all.
    pub enabled: bool,
    /// Directories searched for `<WorkerName>.wasm`, in order.
    pub module_dirs: Vec<PathBuf>,
    /// Whether the analyzers built with this workspace are offered after `module_dirs`.
    pub builtin_modules: bool,
    /// A directory for precompiled modules that survives restarts. Default: the per-user cache
    /// directory ([`wasm_host::default_cache_dir`]: `$XDG_CACHE_HOME/cortex-runner/modules`, else
    /// `~/.cache/cortex-runner/modules`), none when there is no home; `""` turns the cache off.
    pub cache_dir: Option<PathBuf>,
    /// Default linear-memory limit per job, in MiB.
    pub memory_mib: u64,
    /// Default wall-clock limit per job, counted from submission, in seconds.
    pub timeout_s: u64,
    /// Default fuel per job; none when absent (no instruction limit).
    pub fuel: Option<u64>,
    /// Default largest input (attachment or data) a wasm job takes, in MiB; bigger goes to Kubernetes.
    pub max_input_mib: u64,
    /// Captured stdout per job, in KiB.
    pub stdout_kib: u64,
    /// Captured stderr per job, in KiB.
    pub stderr_kib: u64,
    /// Default number of wasm jobs of one worker running at once.
    pub concurrency: u32,
    /// `[wasm.network]`: what every component's requests share (pinned addresses, extra CAs);
    /// what each worker may reach is its policy's `[wasm.network]`.
    pub network: WasmNetworkConfig,
}

/// `[wasm.network]` of the configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WasmNetworkConfig {
    /// Addresses pinned for a `host:port`, like curl's `--resolve`: `"api.abuseipdb.com:443" =
    /// ["203.0.113.7:443"]`. Pinned addresses are checked like resolved ones (an internal one
    /// needs the worker's `allow_addresses`).
    pub resolve: BTreeMap<String, Vec<String>>,
    /// A PEM file of certificate authorities every component's TLS trusts besides the system's
    /// roots (an interception proxy's CA, say); each job's own `cacerts` is added to it.
    pub ca_file: Option<PathBuf>,
}

impl WasmNetworkConfig {
    /// The pinned addresses, parsed; the error names the entry and what was expected.
    pub fn pins(&self) -> std::result::Result<Vec<wasm_host::net::Pinned>, String> {
        if self.resolve.len() > limits::NETWORK_ENTRIES {
            return Err(format!(
                "`wasm.network.resolve` has {} entries, more than the {} accepted",
                self.resolve.len(),
                limits::NETWORK_ENTRIES
            ));
        }
        let mut pins = Vec::new();
        for (key, addrs) in &self.resolve {
            let expected = "expected \"host:port\" = [\"address:port\", ...], e.g. \
                            \"api.abuseipdb.com:443\" = [\"203.0.113.7:443\"]";
            let (host, port) = key
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
                .ok_or_else(|| format!("`wasm.network.resolve`: key {key:?}: {expected}"))?;
            let host = host.trim_end_matches('.').to_ascii_lowercase();
            if addrs.is_empty() || addrs.len() > 16 {
                return Err(format!(
                    "`wasm.network.resolve`: {key:?} needs 1 to 16 addresses: {expected}"
                ));
            }
            let addrs = addrs
                .iter()
                .map(|a| {
                    a.parse::<std::net::SocketAddr>().map_err(|_| {
                        format!(
                            "`wasm.network.resolve`: {key:?}: {a:?} is not address:port: {expected}"
                        )
                    })
                })
                .collect::<std::result::Result<Vec<_>, _>>()?;
            pins.push(wasm_host::net::Pinned { host, port, addrs });
        }
        Ok(pins)
    }
}

/// `[kubernetes]`: the Kubernetes backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KubernetesConfig {
    /// Whether the Kubernetes backend is available.
    pub enabled: bool,
    /// A kubeconfig file; when absent and `in_cluster` is false, the usual discovery applies.
    pub kubeconfig: Option<PathBuf>,
    /// Use the service account of the pod the runner runs in.
    pub in_cluster: bool,
    /// The namespace jobs are created in.
    pub namespace: String,
    /// The RWX PersistentVolumeClaim holding `jobs.root`.
    pub pvc: String,
    /// Prefix replacing the registry of catalog images, e.g. `registry.local/cortex`; empty keeps them.
    pub image_prefix: String,
    /// Labels added to every Job and pod.
    pub extra_labels: BTreeMap<String, String>,
    /// The service account of the pods; empty means none is mounted.
    pub service_account: String,
    /// Pod `securityContext.runAsUser`.
    pub run_as_user: Option<i64>,
    /// Pod `securityContext.runAsGroup`.
    pub run_as_group: Option<i64>,
    /// Pod `securityContext.fsGroup`.
    pub fs_group: Option<i64>,
    /// Pod `securityContext.runAsNonRoot`.
    pub run_as_non_root: bool,
    /// Default CPU request of a worker container.
    pub cpu_request: String,
    /// Default CPU limit of a worker container.
    pub cpu_limit: String,
    /// Default memory request of a worker container.
    pub memory_request: String,
    /// Default memory limit of a worker container.
    pub memory_limit: String,
    /// Default job timeout (`activeDeadlineSeconds`), in seconds.
    pub timeout_s: u64,
    /// `ttlSecondsAfterFinished` of every Job.
    pub ttl_s: u64,
    /// Default number of Kubernetes jobs of one worker running at once.
    pub concurrency: u32,
    /// Keep finished Jobs (for debugging) instead of deleting them once the report is written;
    /// `ttl_s` still removes them.
    pub keep_jobs: bool,
    /// Seconds a container may wait in `ErrImagePull`/`ImagePullBackOff` before the job fails.
    pub image_pull_grace_s: u64,
    /// Seconds a pod may stay unschedulable (`FailedScheduling`) or unmounted (`FailedMount`),
    /// and a job may wait for an API server that cannot be reached, before the job fails.
    pub start_grace_s: u64,
    /// Requests per second the runner sends to the API server at most (reads and writes, watches
    /// excluded).
    pub api_qps: u32,
    /// The end of the container's log kept in a failure report, in KiB.
    pub log_tail_kib: u64,
    /// The namespace of the cluster DNS pods that a Job pod with an egress NetworkPolicy (a
    /// worker with `[wasm.network]`) may query on port 53; empty: port 53 at any address
    /// (NodeLocal DNSCache, a resolver outside the cluster).
    pub dns_namespace: String,
    /// The labels of those DNS pods; empty: every pod of `dns_namespace`.
    pub dns_pod_labels: BTreeMap<String, String>,
}

/// `[service]`: the HTTP service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig {
    /// The address the service listens on.
    pub listen: String,
    /// A file holding the bearer token clients must present; none when absent.
    pub token_file: Option<PathBuf>,
    /// The bearer token itself (prefer `token_file`; masked by `config show`).
    pub token: Option<String>,
    /// Listen on a non-loopback address without a token (refused unless true).
    pub allow_unauthenticated: bool,
    /// The largest request body accepted, in KiB; bigger gets `413`. 1 to 1024.
    pub max_body_kib: u64,
    /// Seconds a request other than `/wait` may take before it gets `408`. 1 to 600.
    pub request_timeout_s: u64,
    /// Seconds in-flight wasm jobs get to finish after SIGTERM or SIGINT before they are
    /// cancelled. 0 to 3600.
    pub shutdown_grace_s: u64,
    /// Finished jobs kept in memory for `GET /v1/jobs/{id}`, the oldest forgotten first; also
    /// the most jobs in flight (more get `503`). 1 to 1,000,000.
    pub finished_jobs: u64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            root: std::env::temp_dir().join("cortex-runner-jobs"),
            max_output_mib: 16,
            max_artifacts: 10_000,
            max_artifact_mib: 512,
            max_artifact_total_mib: 1024,
        }
    }
}

impl Default for PoliciesConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("policies"),
        }
    }
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self { max_running: 64 }
    }
}

impl Default for WasmConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            module_dirs: Vec::new(),
            builtin_modules: true,
            // Each `run`/`job` process would otherwise compile its module again (1.4-1.7 s for
            // EmlParser against 30-40 ms from the cache), and Cortex starts one per job.
            cache_dir: wasm_host::default_cache_dir(),
            memory_mib: 256,
            timeout_s: 60,
            fuel: None,
            max_input_mib: 64,
            stdout_kib: 1024,
            stderr_kib: 1024,
            concurrency: 8,
            network: WasmNetworkConfig::default(),
        }
    }
}

impl Default for KubernetesConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            kubeconfig: None,
            in_cluster: false,
            namespace: "cortex".into(),
            pvc: "cortex-jobs".into(),
            image_prefix: String::new(),
            extra_labels: BTreeMap::new(),
            service_account: String::new(),
            run_as_user: None,
            run_as_group: None,
            fs_group: None,
            run_as_non_root: true,
            cpu_request: "100m".into(),
            cpu_limit: "1".into(),
            memory_request: "128Mi".into(),
            memory_limit: "1Gi".into(),
            timeout_s: 3600,
            ttl_s: 600,
            concurrency: 4,
            keep_jobs: false,
            image_pull_grace_s: 30,
            start_grace_s: 120,
            api_qps: 20,
            log_tail_kib: 16,
            dns_namespace: "kube-system".into(),
            dns_pod_labels: BTreeMap::from([("k8s-app".into(), "kube-dns".into())]),
        }
    }
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:9980".into(),
            token_file: None,
            token: None,
            allow_unauthenticated: false,
            max_body_kib: 64,
            request_timeout_s: 30,
            shutdown_grace_s: 30,
            finished_jobs: 10_000,
        }
    }
}

/// Values given on the command line; `None` leaves the lower layers alone.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--policies DIR`: replaces `policies.dir`.
    pub policies: Option<PathBuf>,
    /// `--catalog PATH` (repeatable): added to the configured catalogs (see [`CatalogFlag`]).
    pub catalogs: Vec<PathBuf>,
    /// `--job-root DIR`: replaces `jobs.root`.
    pub job_root: Option<PathBuf>,
}

/// Where the configuration file comes from and which environment applies.
#[derive(Debug, Clone, Default)]
pub struct ConfigLoader {
    /// `--config FILE`; it must exist.
    pub file: Option<PathBuf>,
    /// The environment: only `CORTEX_RUNNER_*` variables are read from it.
    pub env: Vec<(String, String)>,
    /// Command-line values.
    pub flags: Flags,
}

/// A loaded configuration and the layers it came from.
#[derive(Debug)]
pub struct Loaded {
    /// The effective configuration.
    pub config: Config,
    /// The configuration file that was read, if any.
    pub file: Option<PathBuf>,
    figment: Figment,
    flag_catalogs: usize,
}

impl ConfigLoader {
    /// A loader reading the process environment; `--config` is `file`.
    pub fn from_process(file: Option<PathBuf>, flags: Flags) -> Self {
        Self {
            file,
            env: std::env::vars().collect(),
            flags,
        }
    }

    /// The configuration file to read: `--config`, else `CORTEX_RUNNER_CONFIG`, else `./config.toml`
    /// when it exists, else none.
    fn file_to_read(&self) -> Result<Option<PathBuf>> {
        let explicit = self.file.clone().map(|p| (p, "--config")).or_else(|| {
            self.env
                .iter()
                .find(|(k, v)| k == CONFIG_ENV && !v.is_empty())
                .map(|(_, v)| (PathBuf::from(v), CONFIG_ENV))
        });
        match explicit {
            Some((path, given_by)) if !path.is_file() => {
                Err(ConfigError::MissingFile { path, given_by })
            }
            Some((path, _)) => Ok(Some(path)),
            None => Ok(Some(PathBuf::from("config.toml")).filter(|p| p.is_file())),
        }
    }

    /// Layers every source and validates the result.
    pub fn load(&self) -> Result<Loaded> {
        let file = self.file_to_read()?;
        let mut figment = Figment::from(Defaults);
        if let Some(path) = &file {
            // Read the file first so a syntax error names the file rather than failing silently.
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            text.parse::<toml::Table>()
                .map_err(|e| ConfigError::Syntax {
                    path: path.clone(),
                    message: e.message().to_string(),
                    line: e.span().map(|s| text[..s.start].lines().count().max(1)),
                })?;
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment
            .merge(EnvLayer::new(&self.env))
            .merge(FlagLayer::new(&self.flags));
        let mut config: Config = figment.extract().map_err(ConfigError::from_figment)?;
        config.resolve_file_paths(&figment);
        config.catalogs.extend_from_flags(&self.flags.catalogs);
        config.validate().map_err(|e| e.with_source(&figment))?;
        Ok(Loaded {
            config,
            file,
            figment,
            flag_catalogs: self.flags.catalogs.len(),
        })
    }
}

impl Loaded {
    /// The error for `key`'s `value` outside `range`, naming the layer the value came from.
    pub(crate) fn out_of_range(
        &self,
        key: &str,
        value: u64,
        range: &RangeInclusive<u64>,
    ) -> ConfigError {
        ConfigError::invalid(key, &limits::describe(range), &value.to_string())
            .with_source(&self.figment)
    }

    /// Every leaf key of the effective configuration with its value and the source it came from.
    pub fn sources(&self) -> Vec<SourcedValue> {
        show::sources(&self.figment, &self.config, self.flag_catalogs > 0)
    }
}

impl CatalogsConfig {
    /// Adds `--catalog` paths: `responder:PATH` and `analyzer:PATH` say the kind; otherwise a path
    /// whose file name contains "responder" is a responder catalog, anything else an analyzer one.
    fn extend_from_flags(&mut self, flags: &[PathBuf]) {
        for flag in flags {
            match CatalogFlag::parse(flag) {
                CatalogFlag::Analyzers(p) => self.analyzers.push(p),
                CatalogFlag::Responders(p) => self.responders.push(p),
            }
        }
    }
}

/// A `--catalog` value with its kind resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogFlag {
    /// An analyzer catalog.
    Analyzers(PathBuf),
    /// A responder catalog.
    Responders(PathBuf),
}

impl CatalogFlag {
    /// Resolves the kind of a `--catalog` value (see [`CatalogsConfig`]'s flag rules).
    pub fn parse(flag: &Path) -> Self {
        let text = flag.to_string_lossy();
        if let Some(rest) = text.strip_prefix("responder:") {
            return Self::Responders(PathBuf::from(rest));
        }
        if let Some(rest) = text.strip_prefix("analyzer:") {
            return Self::Analyzers(PathBuf::from(rest));
        }
        let name = flag
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if name.contains("responder") {
            Self::Responders(flag.to_path_buf())
        } else {
            Self::Analyzers(flag.to_path_buf())
        }
    }
}

impl Config {
    /// Resolves each relative path a configuration file sets against that file's directory, so
    /// a `config.toml` means the same wherever it is loaded from; paths from the environment, the
    /// flags and the defaults stay relative to the working directory. An empty `wasm.cache_dir`
    /// turns the module cache off.
    fn resolve_file_paths(&mut self, figment: &Figment) {
        if self
            .wasm
            .cache_dir
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            self.wasm.cache_dir = None;
        }
        let resolve = |key: &str, path: &mut PathBuf| {
            if path.is_absolute() || path.as_os_str().is_empty() {
                return;
            }
            let dir = figment
                .find_metadata(key)
                .and_then(|md| md.source.as_ref())
                .and_then(|source| source.file_path())
                .and_then(Path::parent);
            if let Some(dir) = dir {
                *path = dir.join(&*path);
            }
        };
        resolve("jobs.root", &mut self.jobs.root);
        resolve("policies.dir", &mut self.policies.dir);
        for path in &mut self.catalogs.analyzers {
            resolve("catalogs.analyzers", path);
        }
        for path in &mut self.catalogs.responders {
            resolve("catalogs.responders", path);
        }
        for path in &mut self.wasm.module_dirs {
            resolve("wasm.module_dirs", path);
        }
        let optional = [
            ("wasm.cache_dir", &mut self.wasm.cache_dir),
            ("kubernetes.kubeconfig", &mut self.kubernetes.kubeconfig),
            ("service.token_file", &mut self.service.token_file),
        ];
        for (key, path) in optional {
            if let Some(path) = path {
                resolve(key, path);
            }
        }
    }

    /// Checks what types alone cannot: every limit within its range ([`limits`]), a parsable
    /// listen address, exclusive keys.
    pub fn validate(&self) -> Result<()> {
        let (w, k, service) = (&self.wasm, &self.kubernetes, &self.service);
        let ranged: [(&str, u64, RangeInclusive<u64>); 22] = [
            (
                "jobs.max_output_mib",
                self.jobs.max_output_mib,
                limits::MAX_OUTPUT_MIB,
            ),
            (
                "scheduler.max_running",
                self.scheduler.max_running.into(),
                limits::MAX_RUNNING,
            ),
            ("wasm.memory_mib", w.memory_mib, limits::MEMORY_MIB),
            ("wasm.timeout_s", w.timeout_s, limits::WASM_TIMEOUT_S),
            ("wasm.max_input_mib", w.max_input_mib, limits::MAX_INPUT_MIB),
            ("wasm.stdout_kib", w.stdout_kib, limits::CAPTURE_KIB),
            ("wasm.stderr_kib", w.stderr_kib, limits::CAPTURE_KIB),
            (
                "wasm.concurrency",
                w.concurrency.into(),
                limits::CONCURRENCY,
            ),
            (
                "kubernetes.timeout_s",
                k.timeout_s,
                limits::KUBERNETES_TIMEOUT_S,
            ),
            ("kubernetes.ttl_s", k.ttl_s, limits::TTL_S),
            (
                "kubernetes.concurrency",
                k.concurrency.into(),
                limits::CONCURRENCY,
            ),
            (
                "kubernetes.image_pull_grace_s",
                k.image_pull_grace_s,
                limits::GRACE_S,
            ),
            ("kubernetes.start_grace_s", k.start_grace_s, limits::GRACE_S),
            ("kubernetes.api_qps", k.api_qps.into(), limits::API_QPS),
            (
                "kubernetes.log_tail_kib",
                k.log_tail_kib,
                limits::LOG_TAIL_KIB,
            ),
            (
                "jobs.max_artifacts",
                self.jobs.max_artifacts,
                limits::MAX_ARTIFACTS,
            ),
            (
                "jobs.max_artifact_mib",
                self.jobs.max_artifact_mib,
                limits::MAX_ARTIFACT_MIB,
            ),
            (
                "jobs.max_artifact_total_mib",
                self.jobs.max_artifact_total_mib,
                limits::MAX_ARTIFACT_MIB,
            ),
            (
                "service.max_body_kib",
                service.max_body_kib,
                limits::MAX_BODY_KIB,
            ),
            (
                "service.request_timeout_s",
                service.request_timeout_s,
                limits::REQUEST_TIMEOUT_S,
            ),
            (
                "service.shutdown_grace_s",
                service.shutdown_grace_s,
                limits::SHUTDOWN_GRACE_S,
            ),
            (
                "service.finished_jobs",
                service.finished_jobs,
                limits::FINISHED_JOBS,
            ),
        ];
        for (key, value, range) in ranged {
            check_range(key, value, &range)?;
        }
        if let Some(fuel) = w.fuel {
            check_range("wasm.fuel", fuel, &limits::FUEL)?;
        }
        for (key, id) in [
            ("kubernetes.run_as_user", k.run_as_user),
            ("kubernetes.run_as_group", k.run_as_group),
            ("kubernetes.fs_group", k.fs_group),
        ] {
            if let Some(id) = id {
                check_range(key, id, &limits::POSIX_ID)?;
            }
        }
        if let Err(problem) = w.network.pins() {
            return Err(ConfigError::Key {
                origin: String::new(),
                key: "wasm.network.resolve".into(),
                problem,
            });
        }
        if self.service.listen.parse::<SocketAddr>().is_err() {
            return Err(ConfigError::invalid(
                "service.listen",
                "a socket address such as 127.0.0.1:9980",
                &format!("{:?}", self.service.listen),
            ));
        }
        if k.in_cluster && k.kubeconfig.is_some() {
            return Err(ConfigError::invalid(
                "kubernetes.kubeconfig",
                "no kubeconfig when kubernetes.in_cluster = true",
                &format!(
                    "{:?}",
                    k.kubeconfig
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                ),
            ));
        }
        if k.enabled {
            for (key, value) in [
                ("kubernetes.namespace", &k.namespace),
                ("kubernetes.pvc", &k.pvc),
            ] {
                if value.is_empty() {
                    return Err(ConfigError::invalid(
                        key,
                        "a non-empty name when kubernetes.enabled = true",
                        "\"\"",
                    ));
                }
            }
        }
        for (key, value) in [
            ("kubernetes.cpu_request", &k.cpu_request),
            ("kubernetes.cpu_limit", &k.cpu_limit),
            ("kubernetes.memory_request", &k.memory_request),
            ("kubernetes.memory_limit", &k.memory_limit),
        ] {
            if !is_quantity(value) {
                return Err(ConfigError::invalid(
                    key,
                    "a Kubernetes quantity such as 500m, 1, 256Mi or 1Gi",
                    &format!("{value:?}"),
                ));
            }
        }
        for label in k.extra_labels.keys() {
            if !is_label_key(label) {
                return Err(ConfigError::invalid(
                    &format!("kubernetes.extra_labels.{label}"),
                    "a label name of letters, digits, '-', '_', '.' (with an optional prefix/)",
                    &format!("{label:?}"),
                ));
            }
        }
        if !k.dns_namespace.is_empty()
            && !crate::backend::kubernetes::spec::is_rfc1123_label(&k.dns_namespace)
        {
            return Err(ConfigError::invalid(
                "kubernetes.dns_namespace",
                "a namespace name (lower-case letters, digits and '-', at most 63) or empty",
                &format!("{:?}", k.dns_namespace),
            ));
        }
        for (label, value) in &k.dns_pod_labels {
            if !is_label_key(label) || !crate::backend::kubernetes::spec::is_label_value(value) {
                return Err(ConfigError::invalid(
                    &format!("kubernetes.dns_pod_labels.{label}"),
                    "a pod label: a name of letters, digits, '-', '_', '.' (with an optional \
                     prefix/) and a value of at most 63 such characters",
                    &format!("{label:?} = {value:?}"),
                ));
            }
        }
        Ok(())
    }
}

/// An error naming `key`, `value` and `range` when `value` is outside it.
fn check_range<T>(key: &str, value: T, range: &RangeInclusive<T>) -> Result<()>
where
    T: PartialOrd + std::fmt::Display,
{
    if range.contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            key,
            &limits::describe(range),
            &value.to_string(),
        ))
    }
}

/// Whether `s` is a Kubernetes resource quantity: a decimal number and an optional known suffix.
pub fn is_quantity(s: &str) -> bool {
    const SUFFIXES: [&str; 14] = [
        "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P",
    ];
    let number = SUFFIXES
        .iter()
        .find_map(|suffix| s.strip_suffix(suffix))
        .unwrap_or(s);
    !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit() || c == '.')
        && number.chars().filter(|&c| c == '.').count() <= 1
        && number.chars().any(|c| c.is_ascii_digit())
}

fn is_label_key(s: &str) -> bool {
    let name = s.rsplit_once('/').map_or(s, |(_, name)| name);
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// The built-in defaults, as a figment layer named "default".
struct Defaults;

impl Provider for Defaults {
    fn metadata(&self) -> Metadata {
        Metadata::named("default")
    }

    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        Serialized::defaults(Config::default()).data()
    }
}

/// `CORTEX_RUNNER_<SECTION>__<KEY>` variables, parsed as figment parses environment values.
struct EnvLayer {
    dict: Dict,
}

impl EnvLayer {
    fn new(env: &[(String, String)]) -> Self {
        let mut dict = Dict::new();
        for (name, value) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if name == CONFIG_ENV || rest.is_empty() {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            let value: Value = value.parse().unwrap_or_else(|_| Value::from(value.clone()));
            insert_path(&mut dict, &path, value);
        }
        Self { dict }
    }
}

impl Provider for EnvLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment").interpolater(|_profile, keys| {
            format!("{ENV_PREFIX}{}", keys.join("__").to_ascii_uppercase())
        })
    }

    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

/// Command-line flags, as the top layer.
struct FlagLayer {
    dict: Dict,
}

impl FlagLayer {
    fn new(flags: &Flags) -> Self {
        let mut dict = Dict::new();
        if let Some(dir) = &flags.policies {
            insert_path(
                &mut dict,
                &["policies".into(), "dir".into()],
                dir.display().to_string().into(),
            );
        }
        if let Some(root) = &flags.job_root {
            insert_path(
                &mut dict,
                &["jobs".into(), "root".into()],
                root.display().to_string().into(),
            );
        }
        Self { dict }
    }
}

impl Provider for FlagLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named("command line").interpolater(|_profile, keys| match keys {
            ["policies", "dir"] => "--policies".to_string(),
            ["jobs", "root"] => "--job-root".to_string(),
            other => format!("--{}", other.join("-")),
        })
    }

    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

fn insert_path(dict: &mut Dict, path: &[String], value: Value) {
    match path {
        [] => {}
        [last] => {
            dict.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry(first.clone())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, inner) = entry {
                insert_path(inner, rest, value);
            } else {
                // A scalar and a section under the same name: the section wins, as later layers do.
                let mut inner = Dict::new();
                insert_path(&mut inner, rest, value);
                *entry = Value::from(inner);
            }
        }
    }
}
