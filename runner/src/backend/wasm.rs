//! The wasm backend: runs a worker's verified module in the in-process [`wasm_host::Sandbox`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use sha2::{Digest, Sha256};
use wasm_host::{Limits, Module, RunSpec, Sandbox};

use super::{Backend, BackendEnd, BackendJob, BackendKind, BoxFuture, LaneLimits, RunInfo};
use crate::policy::{ModuleSource, ModuleStatus};
use crate::workers::Worker;

/// Captured output per stream when nothing else is configured.
const DEFAULT_CAPTURE_BYTES: usize = 1024 * 1024;

/// Runs jobs in the sandbox; modules are compiled on first use and kept.
pub struct WasmBackend {
    sandbox: Arc<Sandbox>,
    stdout_bytes: usize,
    stderr_bytes: usize,
    defaults: LaneLimits,
    /// Compiled modules by sha256: a file's and a built-in module's alike.
    modules: Mutex<HashMap<String, Module>>,
    /// Loads answered from `modules`.
    module_hits: AtomicU64,
    /// What every component's network shares: pinned addresses and extra CAs.
    network: HostNetwork,
}

pub use crate::network::HostNetwork;

impl std::fmt::Debug for WasmBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmBackend")
            .field("stdout_bytes", &self.stdout_bytes)
            .finish_non_exhaustive()
    }
}

impl WasmBackend {
    /// A backend over `sandbox`, keeping 1 MiB of each output stream; `defaults` are the lane
    /// limits of workers whose policy sets none (`[wasm] timeout_s` and `concurrency` of the
    /// configuration).
    pub fn new(sandbox: Arc<Sandbox>, defaults: LaneLimits) -> Self {
        Self {
            sandbox,
            stdout_bytes: DEFAULT_CAPTURE_BYTES,
            stderr_bytes: DEFAULT_CAPTURE_BYTES,
            defaults,
            modules: Mutex::default(),
            module_hits: AtomicU64::new(0),
            network: HostNetwork::default(),
        }
    }

    /// Shares `network` (pinned addresses, extra CAs) with every component's requests.
    pub fn with_network(mut self, network: HostNetwork) -> Self {
        self.network = network;
        self
    }

    /// Keeps the last `stdout` and `stderr` bytes of the guest's output streams.
    pub fn with_capture(mut self, stdout: usize, stderr: usize) -> Self {
        self.stdout_bytes = stdout;
        self.stderr_bytes = stderr;
        self
    }

    /// The compiled module from `source` (a file, or a module built into the runner), which must
    /// still have the sha256 it was verified with when the policies were loaded (a file replaced
    /// since then is refused, not run).
    async fn module(
        &self,
        worker: &str,
        source: &ModuleSource,
        sha256: &str,
    ) -> Result<Module, String> {
        if let Some(module) = self
            .modules
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(sha256)
        {
            self.module_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(module.clone());
        }
        let sandbox = self.sandbox.clone();
        let (source2, name, expected) = (source.clone(), worker.to_string(), sha256.to_string());
        // Reading and compiling is CPU-bound: keep it off the async worker threads.
        let module = tokio::task::spawn_blocking(move || {
            let bytes = source2
                .bytes()
                .map_err(|e| format!("cannot read module {}: {e}", source2.display()))?;
            let actual = hex::encode(Sha256::digest(&bytes));
            if actual != expected {
                return Err(format!(
                    "module {} changed since the policies were loaded: sha256 {actual}, expected {expected}",
                    source2.display()
                ));
            }
            sandbox.load_bytes(&name, &bytes).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| format!("compiling the module failed: {e}"))??;
        self.modules
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(sha256.to_string(), module.clone());
        Ok(module)
    }

    async fn run_job(&self, job: BackendJob) -> BackendEnd {
        let started = Instant::now();
        let failed = |cause: String| BackendEnd::failed(cause, started.elapsed());
        let Some(policy) = &job.worker.policy else {
            return failed(format!(
                "{} has no policy, so no wasm module",
                job.worker.name
            ));
        };
        let ModuleStatus::Verified { path, sha256, .. } = &policy.wasm.module else {
            return failed(format!("{} has no verified wasm module", job.worker.name));
        };
        let module = match self.module(&job.worker.name, path, sha256).await {
            Ok(module) => module,
            Err(cause) => return failed(cause),
        };
        let network = if module.kind() == wasm_host::ModuleKind::Component {
            match crate::network::job_network(
                policy.wasm.network.as_ref(),
                &self.network,
                &job.folder,
            ) {
                Ok(network) => network,
                Err(cause) => return failed(cause),
            }
        } else {
            None
        };
        let spec = RunSpec {
            network,
            input_dir: job.folder.input_dir(),
            output_dir: job.folder.output_dir(),
            env: policy
                .wasm
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            limits: Limits {
                memory_bytes: policy.wasm.memory_bytes(),
                timeout: job
                    .limits
                    .timeout
                    .min(Duration::from_secs(policy.wasm.timeout_s)),
                fuel: policy.wasm.fuel,
                stdout_bytes: self.stdout_bytes,
                stderr_bytes: self.stderr_bytes,
            },
        };
        match self.sandbox.run(&module, spec).await {
            Ok(record) => {
                let mut details = std::collections::BTreeMap::new();
                details.insert("module".into(), json!(path.display().to_string()));
                details.insert("module_sha256".into(), json!(module.sha256()));
                details.insert("peak_memory_bytes".into(), json!(record.peak_memory_bytes));
                if let Some(fuel) = record.fuel_used {
                    details.insert("fuel_used".into(), json!(fuel));
                }
                if let Some(net) = &record.network {
                    details.insert(
                        "network".into(),
                        json!({"requests": net.requests, "denied": net.denied, "response_bytes": net.response_bytes}),
                    );
                }
                BackendEnd {
                    end: crate::sandbox_run::worker_end(&record),
                    info: RunInfo {
                        wall: record.wall_time,
                        details,
                    },
                }
            }
            Err(e) => failed(format!("the sandbox could not run the job: {e}")),
        }
    }
}

impl Backend for WasmBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Wasm
    }

    fn lane_limits(&self, worker: &Worker) -> LaneLimits {
        let set = (worker.policy.as_ref()).map(|p| (p.wasm.timeout_s, p.wasm.concurrency));
        LaneLimits::from_policy(set, self.defaults)
    }

    // Dropping the returned future drops `Sandbox::run`'s, which stops the guest at once; the
    // wasm backend has nothing else to clean up.
    fn run(self: Arc<Self>, job: BackendJob) -> BoxFuture<'static, BackendEnd> {
        Box::pin(async move { self.run_job(job).await })
    }

    fn prepare<'a>(&'a self, worker: &'a Worker) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            match worker.policy.as_ref().map(|p| &p.wasm.module) {
                Some(ModuleStatus::Verified { path, sha256, .. }) => {
                    self.module(&worker.name, path, sha256).await.map(drop)
                }
                _ => Ok(()),
            }
        })
    }

    fn module_cache_hits(&self) -> Option<u64> {
        let sandbox = self.sandbox.cache_stats();
        Some(
            self.module_hits.load(Ordering::Relaxed)
                + sandbox.memory_hits
                + sandbox.loaded_precompiled,
        )
    }
}
