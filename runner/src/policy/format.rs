//! The policy file as written: `policies/<WorkerName>.toml`. `policies/README.md` documents it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::catalog::WorkerKind;

/// Which backend a worker's jobs go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// Always the wasm sandbox.
    Wasm,
    /// Always a Kubernetes Job.
    Kubernetes,
    /// The wasm sandbox when a verified module exists, else Kubernetes.
    Auto,
}

impl std::fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Wasm => "wasm",
            Self::Kubernetes => "kubernetes",
            Self::Auto => "auto",
        })
    }
}

/// Where a wasm job goes when the worker's wasm slots are all busy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Overflow {
    /// Wait in the worker's queue.
    #[default]
    Queue,
    /// Run on Kubernetes instead.
    Kubernetes,
}

/// The top level of a policy file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// `backend`: required.
    pub backend: BackendChoice,
    /// `overflow`: default `queue`.
    #[serde(default)]
    pub overflow: Overflow,
    /// `max_tlp`: refuse jobs above this TLP (0..=3, checked at resolution) before the worker
    /// starts.
    pub max_tlp: Option<i64>,
    /// `max_pap`: refuse jobs above this PAP (0..=3, checked at resolution) before the worker
    /// starts.
    pub max_pap: Option<i64>,
    /// `[worker]`: defines the worker when no catalog does, or ties it to a catalog entry.
    pub worker: Option<WorkerSection>,
    /// `[wasm]`.
    #[serde(default)]
    pub wasm: WasmSection,
    /// `[kubernetes]`.
    #[serde(default)]
    pub kubernetes: KubernetesSection,
}

/// `[worker]`: the worker's own definition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSection {
    /// The name under which catalogs list this worker, when it differs (the real catalog calls
    /// the SafeLinks decoder `MSDefenderOffice365_SafeLinksDecoder.json`). When a loaded catalog
    /// has that entry, its definition is used and its name resolves to this worker.
    pub catalog_name: Option<String>,
    /// `analyzer` (default) or `responder`.
    pub kind: Option<WorkerKind>,
    /// The version, when no catalog entry gives one.
    pub version: Option<String>,
    /// What the worker does.
    pub description: Option<String>,
    /// The data types the worker accepts (Cortex's `dataTypeList`).
    pub data_types: Option<Vec<String>>,
    /// Keys merged into input.json's `config` after the catalog's defaults, as Cortex merges a
    /// definition's `config` (what a worker needs when no catalog is loaded).
    pub config: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `[wasm]`: how the worker runs in the sandbox; absent keys take `[wasm]` of `config.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WasmSection {
    /// The module: a file name searched in the module directories, or a path (containing `/`)
    /// relative to the policy file. Default: `<WorkerName>.wasm`.
    pub module: Option<String>,
    /// The sha256 the module must have (64 hex digits).
    pub sha256: Option<String>,
    /// Linear-memory limit, MiB.
    pub memory_mib: Option<u64>,
    /// Wall-clock limit counted from submission, seconds.
    pub timeout_s: Option<u64>,
    /// Instruction budget.
    pub fuel: Option<u64>,
    /// Largest input for wasm, MiB; a larger job goes to Kubernetes.
    pub max_input_mib: Option<u64>,
    /// Wasm jobs of this worker running at once (1..=1024, checked at resolution).
    pub concurrency: Option<u64>,
    /// The guest's whole environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// `[wasm.network]`: what the worker may reach over HTTP (a WASI 0.2 component only); absent,
    /// it has no network.
    pub network: Option<NetworkSection>,
}

/// `[wasm.network]`: the worker's egress allowlist and its limits. The same allowlist becomes the
/// egress NetworkPolicy of its pods on Kubernetes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSection {
    /// Origins requests may go to: `scheme://host[:port]`, scheme http or https.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Addresses or CIDR ranges an allowed name may resolve to although they are loopback,
    /// private, link-local or the cloud metadata service (refused otherwise).
    #[serde(default)]
    pub allow_addresses: Vec<String>,
    /// Jobs above this TLP (0..=3) are refused: their data must not leave.
    pub max_tlp: Option<i64>,
    /// Jobs above this PAP (0..=3) are refused.
    pub max_pap: Option<i64>,
    /// Requests one job may make. Default 100.
    pub max_requests: Option<u64>,
    /// Bytes of one response body, KiB. Default 16384 (16 MiB).
    pub max_response_kib: Option<u64>,
    /// Time for one request, from connecting to the end of its body, seconds. Default 30.
    pub request_timeout_s: Option<u64>,
}

/// `[kubernetes]`: how the worker runs as a Kubernetes Job; absent keys take `[kubernetes]` of
/// `config.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSection {
    /// The image; default: the catalog's `dockerImage` with the configured registry prefix.
    pub image: Option<String>,
    /// Job deadline, seconds.
    pub timeout_s: Option<u64>,
    /// Kubernetes jobs of this worker running at once (1..=1024, checked at resolution).
    pub concurrency: Option<u64>,
    /// Container resources.
    #[serde(default)]
    pub resources: ResourcesSection,
    /// Pod `nodeSelector`.
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    /// Pod tolerations.
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
    /// Plain environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Environment variables taken from Secrets.
    #[serde(default)]
    pub env_from_secrets: Vec<SecretEnv>,
    /// `[kubernetes.security]`: explicit relaxations of the hardened pod.
    #[serde(default)]
    pub security: SecuritySection,
}

/// `[kubernetes.security]`: the hardened defaults of a worker's pod, each one relaxed only when
/// the policy says so (some images run as root or write to their own file system).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecuritySection {
    /// Run the container as root (`runAsUser: 0`, no `runAsNonRoot`). Default false: the pod
    /// has `runAsNonRoot: true` (with `kubernetes.run_as_non_root`) and the configured ids.
    pub run_as_root: bool,
    /// The container's root file system is read-only (`/tmp` is an `emptyDir`). Default true.
    pub read_only_root_fs: bool,
    /// `allowPrivilegeEscalation` (setuid binaries may gain privileges). Default false.
    pub allow_privilege_escalation: bool,
    /// Mount the service account token in the pod. Default false.
    pub automount_service_account_token: bool,
}

impl Default for SecuritySection {
    fn default() -> Self {
        Self {
            run_as_root: false,
            read_only_root_fs: true,
            allow_privilege_escalation: false,
            automount_service_account_token: false,
        }
    }
}

impl SecuritySection {
    /// Whether nothing is relaxed (the resolved policy then leaves the section out of its JSON).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// `[kubernetes.resources]`: Kubernetes quantities.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesSection {
    /// CPU request, e.g. "250m".
    pub cpu_request: Option<String>,
    /// CPU limit, e.g. "1".
    pub cpu_limit: Option<String>,
    /// Memory request, e.g. "256Mi".
    pub memory_request: Option<String>,
    /// Memory limit, e.g. "1Gi".
    pub memory_limit: Option<String>,
}

/// One pod toleration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toleration {
    /// The taint key; absent with `operator = "Exists"` tolerates every taint.
    pub key: Option<String>,
    /// `Equal` (default) or `Exists`.
    #[serde(default)]
    pub operator: TolerationOperator,
    /// The taint value for `Equal`.
    pub value: Option<String>,
    /// The taint effect; absent means every effect.
    pub effect: Option<TaintEffect>,
}

/// A toleration's operator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TolerationOperator {
    /// The taint's value must equal `value`.
    #[default]
    Equal,
    /// Any value.
    Exists,
}

/// A taint effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaintEffect {
    /// Do not schedule.
    NoSchedule,
    /// Avoid scheduling.
    PreferNoSchedule,
    /// Evict.
    NoExecute,
}

/// An environment variable read from a Kubernetes Secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretEnv {
    /// The variable name in the container.
    pub name: String,
    /// The Secret's name.
    pub secret: String,
    /// The key inside the Secret.
    pub key: String,
}
