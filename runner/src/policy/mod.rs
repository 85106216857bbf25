//! Per-worker policy files (`policies/<WorkerName>.toml`): which backend, which module, which limits.
//!
//! [`format`](mod@format) is the file as written; [`Policy`] is the same after resolution against the
//! catalogs, the module directories and the `config.toml` defaults. Every problem is an error at
//! load naming the file, the line, the key and what was expected. `policies/README.md` documents
//! the format with an annotated example.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::catalog::Catalog;
use crate::config::{KubernetesConfig, WasmConfig, limits};

pub mod format;
mod messages;
mod resolve;

pub use format::{
    BackendChoice, KubernetesSection, NetworkSection, Overflow, PolicyFile, ResourcesSection,
    SecretEnv, SecuritySection, TaintEffect, Toleration, TolerationOperator, WasmSection,
    WorkerSection,
};

/// A policy that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The policies directory or a policy file cannot be read.
    #[error("policy {}: cannot read: {source}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A policy that is not valid: syntax, unknown key, wrong type, bad value, unknown worker,
    /// missing or mismatching module.
    #[error("policy {path}{}: {problem}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        /// The file, as given.
        path: String,
        /// The line the problem is on, when known.
        line: Option<usize>,
        /// What is wrong and what was expected.
        problem: String,
    },
}

/// The result of policy operations.
pub type Result<T, E = PolicyError> = std::result::Result<T, E>;

/// What a policy is resolved against.
#[derive(Debug, Clone, Copy)]
pub struct PolicyContext<'a> {
    /// The loaded catalogs.
    pub catalog: &'a Catalog,
    /// `[wasm]` of the configuration: module directories and default limits.
    pub wasm: &'a WasmConfig,
    /// `[kubernetes]` of the configuration: default resources, timeout, concurrency.
    pub kubernetes: &'a KubernetesConfig,
    /// The analyzers built into the runner; searched after `wasm.module_dirs` when
    /// `wasm.builtin_modules` is true.
    pub builtin_modules: &'a [BuiltinModule],
}

/// A wasm module compiled into the runner binary (the analyzers built with this workspace), so
/// that a runner copied to another machine or into an image still has it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BuiltinModule {
    /// The worker it implements; its file name is `<worker>.wasm`.
    pub worker: &'static str,
    /// The module.
    pub bytes: &'static [u8],
}

impl std::fmt::Debug for BuiltinModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltinModule")
            .field("worker", &self.worker)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// Where a verified module comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleSource {
    /// A file, read again (and its sha256 checked again) when the module is compiled.
    File(PathBuf),
    /// A module built into the runner.
    Builtin(BuiltinModule),
}

impl ModuleSource {
    /// How the source is named to an operator: the file's path, or
    /// `EmlParser.wasm built into the runner`.
    pub fn display(&self) -> impl std::fmt::Display + '_ {
        struct Shown<'s>(&'s ModuleSource);
        impl std::fmt::Display for Shown<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.0 {
                    ModuleSource::File(path) => write!(f, "{}", path.display()),
                    ModuleSource::Builtin(m) => {
                        write!(f, "{}.wasm built into the runner", m.worker)
                    }
                }
            }
        }
        Shown(self)
    }

    /// The module's bytes: the file's current contents, or the embedded module.
    pub fn bytes(&self) -> std::io::Result<std::borrow::Cow<'static, [u8]>> {
        match self {
            Self::File(path) => std::fs::read(path).map(std::borrow::Cow::Owned),
            Self::Builtin(m) => Ok(std::borrow::Cow::Borrowed(m.bytes)),
        }
    }
}

/// A file as its path; a built-in module as `EmlParser.wasm built into the runner`.
impl Serialize for ModuleSource {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.display())
    }
}

/// A resolved policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    /// The worker it governs (the file stem).
    pub worker: String,
    /// The policy file.
    pub path: PathBuf,
    /// The backend as written.
    pub backend: BackendChoice,
    /// What happens when wasm is saturated.
    pub overflow: Overflow,
    /// The TLP ceiling, if any.
    pub max_tlp: Option<u8>,
    /// The PAP ceiling, if any.
    pub max_pap: Option<u8>,
    /// The `[worker]` section, if any.
    pub definition: Option<WorkerSection>,
    /// The wasm settings with defaults filled in.
    pub wasm: WasmPolicy,
    /// The Kubernetes settings with defaults filled in.
    pub kubernetes: KubernetesPolicy,
}

/// `[wasm]` resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WasmPolicy {
    /// The module, if one was found and verified.
    pub module: ModuleStatus,
    /// Linear-memory limit, MiB.
    pub memory_mib: u64,
    /// Wall-clock limit from submission, seconds.
    pub timeout_s: u64,
    /// Instruction budget, if any.
    pub fuel: Option<u64>,
    /// Largest input for wasm, MiB.
    pub max_input_mib: u64,
    /// Wasm jobs of this worker at once.
    pub concurrency: u32,
    /// The guest's environment.
    pub env: BTreeMap<String, String>,
    /// What the worker may reach over HTTP; `None`: no network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkRules>,
}

/// `[wasm.network]` resolved: the allowlist parsed, the defaults filled in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetworkRules {
    /// The origins requests may go to.
    #[serde(serialize_with = "display_all")]
    pub allow: Vec<wasm_host::net::Origin>,
    /// Internal address ranges an allowed name may resolve to.
    #[serde(serialize_with = "display_all")]
    pub allow_addresses: Vec<wasm_host::net::IpNet>,
    /// Jobs above this TLP are refused.
    pub max_tlp: Option<u8>,
    /// Jobs above this PAP are refused.
    pub max_pap: Option<u8>,
    /// Requests per job.
    pub max_requests: u32,
    /// Bytes of one response body, KiB.
    pub max_response_kib: u64,
    /// Seconds per request.
    pub request_timeout_s: u64,
}

impl NetworkRules {
    /// The defaults of `[wasm.network]`: 100 requests, 16 MiB per response, 30 s per request.
    pub const DEFAULT_MAX_REQUESTS: u32 = 100;
    /// See [`NetworkRules::DEFAULT_MAX_REQUESTS`].
    pub const DEFAULT_MAX_RESPONSE_KIB: u64 = 16 * 1024;
    /// See [`NetworkRules::DEFAULT_MAX_REQUESTS`].
    pub const DEFAULT_REQUEST_TIMEOUT_S: u64 = 30;

    /// Why a job of this TLP and PAP may not use the network, if it may not.
    pub fn refusal(&self, tlp: i64, pap: i64) -> Option<String> {
        const NAMES: [&str; 4] = ["WHITE", "GREEN", "AMBER", "RED"];
        let name = |level: i64| -> &'static str {
            usize::try_from(level)
                .ok()
                .and_then(|i| NAMES.get(i))
                .copied()
                .unwrap_or("?")
        };
        let hosts = || {
            self.allow
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some(max) = self.max_tlp.filter(|max| tlp > i64::from(*max)) {
            return Some(format!(
                "TLP is higher than the network policy allows: the job is TLP:{} ({tlp}) and the worker sends its data to {} only up to TLP:{} ({max}) (wasm.network.max_tlp)",
                name(tlp),
                hosts(),
                name(i64::from(max)),
            ));
        }
        if let Some(max) = self.max_pap.filter(|max| pap > i64::from(*max)) {
            return Some(format!(
                "PAP is higher than the network policy allows: the job is PAP:{} ({pap}) and the worker acts on {} only up to PAP:{} ({max}) (wasm.network.max_pap)",
                name(pap),
                hosts(),
                name(i64::from(max)),
            ));
        }
        None
    }
}

fn display_all<T: std::fmt::Display, S: serde::Serializer>(
    items: &[T],
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.collect_seq(items.iter().map(ToString::to_string))
}

impl WasmPolicy {
    /// The linear-memory limit in bytes. A resolved policy's `memory_mib` is within
    /// [`limits::MEMORY_MIB`], so the product is exact; a hand-built policy beyond `u64` gets
    /// `u64::MAX` (no wrap to a tiny limit), and wasm32 stops at 4 GiB anyway.
    pub fn memory_bytes(&self) -> u64 {
        limits::mib_to_bytes(self.memory_mib).unwrap_or(u64::MAX)
    }
}

/// Whether a wasm module is available.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ModuleStatus {
    /// Found, a wasm binary, and matching its pin when there is one.
    Verified {
        /// Where the module comes from: a file, or the runner itself.
        path: ModuleSource,
        /// Its sha256, hex.
        sha256: String,
        /// Whether the policy pins the sha256.
        pinned: bool,
    },
    /// `backend = "auto"` and no module was found.
    NotFound {
        /// The file name looked for.
        file: String,
        /// Where it was looked for.
        looked_in: Vec<String>,
    },
    /// `backend = "kubernetes"`: no module is looked for.
    NotNeeded,
}

/// `[kubernetes]` resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KubernetesPolicy {
    /// The image the policy names; `None` takes the catalog's `dockerImage`.
    pub image: Option<String>,
    /// Job deadline, seconds.
    pub timeout_s: u64,
    /// Kubernetes jobs of this worker at once.
    pub concurrency: u32,
    /// Container resources, every one filled in.
    pub resources: ResourcesSection,
    /// Pod `nodeSelector`.
    pub node_selector: BTreeMap<String, String>,
    /// Pod tolerations.
    pub tolerations: Vec<Toleration>,
    /// Plain environment variables.
    pub env: BTreeMap<String, String>,
    /// Environment variables from Secrets.
    pub env_from_secrets: Vec<SecretEnv>,
    /// The pod's hardening and the relaxations the policy asked for (left out of the JSON when
    /// nothing is relaxed).
    #[serde(skip_serializing_if = "SecuritySection::is_default")]
    pub security: SecuritySection,
}

/// Every policy of a directory, by worker name.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    policies: BTreeMap<String, Policy>,
    /// Catalog names that resolve to another worker (`[worker] catalog_name`).
    aliases: BTreeMap<String, String>,
}

impl PolicySet {
    /// Loads every `*.toml` of `dir` (other files, such as a README, are ignored).
    pub fn load_dir(dir: &Path, ctx: &PolicyContext<'_>) -> Result<Self> {
        let read_err = |source| PolicyError::Read {
            path: dir.to_path_buf(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(read_err)? {
            let path = entry.map_err(read_err)?.path();
            if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        let mut set = Self::default();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|source| PolicyError::Read {
                path: path.clone(),
                source,
            })?;
            let worker = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let policy = load_str(&worker, &path, &text, ctx)?;
            set.insert(policy)?;
        }
        Ok(set)
    }

    /// Adds a policy; two policies for one worker (directly or through `catalog_name`) are an error.
    pub fn insert(&mut self, policy: Policy) -> Result<()> {
        if let Some(alias) = policy
            .definition
            .as_ref()
            .and_then(|d| d.catalog_name.clone())
        {
            if let Some(other) = self
                .policies
                .get(&alias)
                .or_else(|| self.aliases.get(&alias).and_then(|w| self.policies.get(w)))
            {
                return Err(PolicyError::Invalid {
                    path: policy.path.display().to_string(),
                    line: None,
                    problem: format!(
                        "`worker.catalog_name`: catalog worker `{alias}` is already governed by {}",
                        other.path.display()
                    ),
                });
            }
            self.aliases.insert(alias, policy.worker.clone());
        }
        self.policies.insert(policy.worker.clone(), policy);
        Ok(())
    }

    /// The policy of `worker` (by its own name or its catalog alias).
    pub fn get(&self, worker: &str) -> Option<&Policy> {
        self.policies
            .get(worker)
            .or_else(|| self.aliases.get(worker).and_then(|w| self.policies.get(w)))
    }

    /// Every policy, by worker name.
    pub fn iter(&self) -> impl Iterator<Item = &Policy> {
        self.policies.values()
    }

    /// The worker a catalog name is an alias of, if any.
    pub fn alias_of(&self, catalog_name: &str) -> Option<&str> {
        self.aliases.get(catalog_name).map(String::as_str)
    }

    /// How many policies are loaded.
    pub fn len(&self) -> usize {
        self.policies.len()
    }

    /// Whether no policy is loaded.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }
}

/// Parses and resolves one policy for `worker`; `path` is the file as it should be named in
/// errors, and the base of relative module paths.
pub fn load_str(worker: &str, path: &Path, text: &str, ctx: &PolicyContext<'_>) -> Result<Policy> {
    let file = parse(path, text)?;
    resolve::resolve(worker, path, text, file, ctx)
}

/// Parses a policy file without resolving it.
pub fn parse(path: &Path, text: &str) -> Result<PolicyFile> {
    let invalid = |line, problem| PolicyError::Invalid {
        path: path.display().to_string(),
        line,
        problem,
    };
    let deserializer = toml::Deserializer::parse(text).map_err(|e| {
        invalid(
            line_of_span(text, e.span()),
            e.message().trim_end().to_string(),
        )
    })?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        invalid(
            line_of_span(text, inner.span()),
            messages::rewrite(&key, inner.message()),
        )
    })
}

/// The 1-based line of a byte span, when the span points into the text.
fn line_of_span(text: &str, span: Option<std::ops::Range<usize>>) -> Option<usize> {
    let span = span?;
    if span.start == 0 && span.end == 0 {
        return None;
    }
    Some(text.get(..span.start)?.matches('\n').count() + 1)
}
