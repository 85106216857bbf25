//! Assembles a runner from its configuration: catalogs, policies, the worker table, the sandbox
//! and the scheduler with its backends.

use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use cortex_job::FinaliseOptions;

use crate::backend::kubernetes::KubernetesBackend;
use crate::backend::wasm::WasmBackend;
use crate::backend::{BackendKind, LaneLimits};
use crate::catalog::{Catalog, CatalogError};
use crate::config::{Config, ConfigError, ConfigLoader, Loaded, limits};
use crate::policy::{BuiltinModule, PolicyContext, PolicyError, PolicySet};
use crate::scheduler::Scheduler;
use crate::workers::WorkerTable;

/// Why a runner cannot be assembled.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A catalog cannot be loaded.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// A policy cannot be loaded.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The wasm sandbox cannot start.
    #[error("starting the wasm sandbox: {0}")]
    Sandbox(#[from] wasm_host::Error),
    /// `[wasm.network]` of the configuration cannot be used (a `ca_file` that cannot be read).
    #[error("configuration: {0}")]
    Network(String),
}

/// The result of assembling a runner.
pub type Result<T, E = SetupError> = std::result::Result<T, E>;

/// Everything loaded from the configuration.
#[derive(Debug)]
pub struct Setup {
    /// The configuration and where each value came from.
    pub loaded: Loaded,
    /// The loaded catalogs.
    pub catalog: Catalog,
    /// The loaded policies.
    pub policies: PolicySet,
    /// Catalogs joined with policies.
    pub table: WorkerTable,
}

impl Setup {
    /// Loads the configuration, the catalogs and the policies. `builtin_modules` are the
    /// analyzers built into the runner.
    pub fn load(loader: &ConfigLoader, builtin_modules: &[BuiltinModule]) -> Result<Self> {
        let loaded = loader.load()?;
        let config = &loaded.config;
        let catalog = Catalog::load(&config.catalogs.analyzers, &config.catalogs.responders)?;
        let ctx = PolicyContext {
            catalog: &catalog,
            wasm: &config.wasm,
            kubernetes: &config.kubernetes,
            builtin_modules,
        };
        let policies = PolicySet::load_dir(&config.policies.dir, &ctx)?;
        let table = WorkerTable::build(&catalog, &policies, &config.kubernetes.image_prefix);
        Ok(Self {
            loaded,
            catalog,
            policies,
            table,
        })
    }

    /// The effective configuration.
    pub fn config(&self) -> &Config {
        &self.loaded.config
    }

    /// Why `kind` cannot run jobs here, or `None` when [`Setup::scheduler`] registers it.
    pub fn absent_reason(&self, kind: BackendKind) -> Option<&'static str> {
        match kind {
            BackendKind::Kubernetes if !self.config().kubernetes.enabled => {
                Some("kubernetes.enabled = false in the configuration")
            }
            BackendKind::Kubernetes => None,
            BackendKind::Wasm if !self.config().wasm.enabled => {
                Some("wasm.enabled = false in the configuration")
            }
            BackendKind::Wasm => None,
        }
    }

    /// A scheduler over the worker table with every available backend registered: the wasm
    /// sandbox when `wasm.enabled`, Kubernetes when `kubernetes.enabled` (it connects on first
    /// use); a disabled backend is recorded as absent with the reason.
    pub fn scheduler(&self) -> Result<Scheduler> {
        Ok(self.scheduler_with_kubernetes()?.0)
    }

    /// As [`Setup::scheduler`], also handing back the Kubernetes backend when it is enabled
    /// (for adopting the Jobs an earlier runner left, and for its counters).
    pub fn scheduler_with_kubernetes(&self) -> Result<(Scheduler, Option<Arc<KubernetesBackend>>)> {
        let config = self.config();
        // The output limits, each in its range (an error naming the key, its value and where it
        // came from) and converted to bytes without wrapping.
        let jobs = &config.jobs;
        let in_range = |key: &str, value: u64, range: RangeInclusive<u64>| {
            if range.contains(&value) {
                Ok(value)
            } else {
                Err(self.loaded.out_of_range(key, value, &range))
            }
        };
        let mib = |key: &str, value: u64, range: RangeInclusive<u64>| {
            in_range(key, value, range.clone()).and_then(|mib| {
                limits::mib_to_bytes(mib).ok_or_else(|| self.loaded.out_of_range(key, mib, &range))
            })
        };
        let finalise = FinaliseOptions {
            max_output_bytes: mib(
                "jobs.max_output_mib",
                jobs.max_output_mib,
                limits::MAX_OUTPUT_MIB,
            )?,
            // 1 to a million entries; 1 MiB to 1 TiB per file and in all.
            max_artifacts: in_range(
                "jobs.max_artifacts",
                jobs.max_artifacts,
                limits::MAX_ARTIFACTS,
            )?,
            max_artifact_bytes: mib(
                "jobs.max_artifact_mib",
                jobs.max_artifact_mib,
                limits::MAX_ARTIFACT_MIB,
            )?,
            max_artifact_total_bytes: mib(
                "jobs.max_artifact_total_mib",
                jobs.max_artifact_total_mib,
                limits::MAX_ARTIFACT_MIB,
            )?,
            ..FinaliseOptions::default()
        };
        // At most limits::MAX_RUNNING (4096), so the conversion cannot truncate.
        let global = usize::try_from(config.scheduler.max_running).unwrap_or(usize::MAX);
        let mut scheduler = Scheduler::new(self.table.clone(), global, finalise);
        let kubernetes = if config.kubernetes.enabled {
            let backend = Arc::new(
                KubernetesBackend::new(config.kubernetes.clone(), config.jobs.root.clone())
                    .with_pins(config.wasm.network.pins().map_err(SetupError::Network)?),
            );
            scheduler = scheduler.with_backend(backend.clone());
            Some(backend)
        } else {
            let why = self
                .absent_reason(BackendKind::Kubernetes)
                .unwrap_or_default();
            scheduler = scheduler.without_backend(BackendKind::Kubernetes, why);
            None
        };
        if config.wasm.enabled {
            let fuel_metering =
                config.wasm.fuel.is_some() || self.policies.iter().any(|p| p.wasm.fuel.is_some());
            let sandbox = wasm_host::Sandbox::new(wasm_host::SandboxConfig {
                cache_dir: config.wasm.cache_dir.clone(),
                fuel_metering,
                max_concurrent: global,
                ..wasm_host::SandboxConfig::default()
            })?;
            let defaults = LaneLimits {
                timeout: Duration::from_secs(config.wasm.timeout_s),
                concurrency: config.wasm.concurrency,
            };
            // The configuration's ranges keep these far from overflow; checked all the same.
            let capture = |key: &str, kib: u64| {
                limits::kib_to_usize(kib)
                    .ok_or_else(|| self.loaded.out_of_range(key, kib, &limits::CAPTURE_KIB))
            };
            let network = crate::network::HostNetwork {
                pins: config.wasm.network.pins().map_err(SetupError::Network)?,
                extra_roots_pem: match &config.wasm.network.ca_file {
                    Some(path) => crate::network::read_bounded(path)
                        .and_then(|bytes| {
                            bytes.ok_or_else(|| format!("{} does not exist", path.display()))
                        })
                        .map_err(|problem| {
                            SetupError::Network(format!("`wasm.network.ca_file`: {problem}"))
                        })?,
                    None => Vec::new(),
                },
            };
            let backend = WasmBackend::new(Arc::new(sandbox), defaults)
                .with_capture(
                    capture("wasm.stdout_kib", config.wasm.stdout_kib)?,
                    capture("wasm.stderr_kib", config.wasm.stderr_kib)?,
                )
                .with_network(network);
            scheduler = scheduler.with_backend(Arc::new(backend));
        } else {
            let why = self.absent_reason(BackendKind::Wasm).unwrap_or_default();
            scheduler = scheduler.without_backend(BackendKind::Wasm, why);
        }
        Ok((scheduler, kubernetes))
    }
}
