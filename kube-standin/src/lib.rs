//! kube-standin: a local stand-in for the Kubernetes API server, for tests and demos of the
//! runner's Kubernetes backend.
//!
//! [`Standin::start`] binds 127.0.0.1, serves `/version`, discovery, `batch/v1` Jobs (create,
//! get, list, watch, delete with `propagationPolicy`), Pods (get, list, watch, `log`) and Events
//! in the real JSON shapes (k8s-openapi types), with one resourceVersion counter, label and field
//! selectors, watch bookmarks and `410 Expired`. A simulated job controller and kubelet
//! (modules `controller`, `kubelet`) turn each Job into a Pod whose container runs as a local
//! process from the [`Config::images`] map. [`Faults`] injects errors for the client's retry
//! paths. The returned [`Handle`] gives the URL and a kubeconfig for `kubectl` or `kube::Client`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

mod admission;
pub mod config;
mod controller;
mod discovery;
mod events;
pub mod exits;
mod faults;
mod identity;
pub mod kubeconfig;
mod kubelet;
mod logs;
pub mod mounts;
mod process;
mod routes;
mod scheduler;
pub mod selector;
pub mod status;
pub mod store;
mod table;
mod watch_stream;

pub use config::{Config, Image, Isolation};
pub use exits::Exit;
pub use faults::{Faults, Stats};

/// Errors starting the stand-in.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A directory or file could not be created or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `isolation = "namespace"` was asked for but `unshare --mount` fails here.
    #[error(
        "isolation \"namespace\": `unshare --mount --propagation private true` fails on this machine ({0}); use isolation \"auto\" or \"symlink\""
    )]
    NoMountNamespace(String),
}

/// State shared by the routes, the controller and the kubelet.
pub(crate) struct Shared {
    pub store: store::Store,
    pub config: Config,
    pub faults: Arc<faults::FaultState>,
    pub address: String,
    pub work_dir: PathBuf,
    pub pvc_dir: PathBuf,
    pub namespace_isolation: bool,
    pub exits: exits::ExitLog,
    job_cancels: Mutex<HashMap<String, watch::Sender<bool>>>,
    pod_kills: Mutex<HashMap<String, watch::Sender<bool>>>,
}

impl Shared {
    /// Cancel signals of the running job controllers, by Job uid.
    pub fn cancels(&self) -> MutexGuard<'_, HashMap<String, watch::Sender<bool>>> {
        self.job_cancels.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Kill signals of the running pods, by Pod uid.
    pub fn kills(&self) -> MutexGuard<'_, HashMap<String, watch::Sender<bool>>> {
        self.pod_kills.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The stand-in server.
pub struct Standin;

/// A running stand-in. Dropping it stops the server and kills its containers.
pub struct Handle {
    url: String,
    kubeconfig: Option<PathBuf>,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    _tmp: Option<tempfile::TempDir>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn unshare_works() -> Result<(), String> {
    match std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .stderr(std::process::Stdio::piped())
        .output()
    {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr).trim().to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

impl Standin {
    /// Starts the server on 127.0.0.1 (`config.port`, 0 for any) inside the current tokio
    /// runtime; writes `config.kubeconfig_out` when set.
    pub async fn start(config: Config) -> Result<Handle, Error> {
        let (tmp, work_dir) = match &config.work_dir {
            Some(d) => (None, d.clone()),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("kube-standin-")
                    .tempdir()
                    .map_err(io(Path::new("temporary directory")))?;
                let p = t.path().to_path_buf();
                // Traversable by container users other than the stand-in's (runAsUser).
                std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o711))
                    .map_err(io(&p))?;
                (Some(t), p)
            }
        };
        std::fs::create_dir_all(&work_dir).map_err(io(&work_dir))?;
        let pvc_dir = config
            .pvc_dir
            .clone()
            .unwrap_or_else(|| work_dir.join("pvc"));
        std::fs::create_dir_all(&pvc_dir).map_err(io(&pvc_dir))?;
        let namespace_isolation = match config.isolation {
            Isolation::Symlink => false,
            Isolation::Auto => unshare_works().is_ok(),
            Isolation::Namespace => {
                unshare_works().map_err(Error::NoMountNamespace)?;
                true
            }
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], config.port));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        let url = format!("http://{local}");
        let kubeconfig = config.kubeconfig_out.clone();
        if let Some(path) = &kubeconfig {
            kubeconfig::write(path, &url).map_err(io(path))?;
        }
        let shared = Arc::new(Shared {
            store: store::Store::new(config.history_limit),
            faults: Arc::new(faults::FaultState::new(config.faults.clone())),
            address: local.to_string(),
            work_dir,
            pvc_dir,
            namespace_isolation,
            exits: exits::ExitLog::default(),
            job_cancels: Mutex::new(HashMap::new()),
            pod_kills: Mutex::new(HashMap::new()),
            config,
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = routes::router(shared.clone());
        tokio::spawn(async move {
            // As the real API server (Go sets TCP_NODELAY on every connection): without it,
            // a watch event written right after another waits for the client's delayed ACK
            // (Nagle), up to tens of milliseconds.
            use axum::serve::ListenerExt;
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Handle {
            url,
            kubeconfig,
            shared,
            shutdown: Some(tx),
            _tmp: tmp,
        })
    }
}

impl Handle {
    /// The server's URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The kubeconfig written at start, if one was asked for.
    pub fn kubeconfig_path(&self) -> Option<&Path> {
        self.kubeconfig.as_deref()
    }

    /// Writes a kubeconfig pointing at this server.
    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), Error> {
        kubeconfig::write(path, &self.url).map_err(io(path))
    }

    /// The directory standing for every PersistentVolumeClaim.
    pub fn pvc_dir(&self) -> &Path {
        &self.shared.pvc_dir
    }

    /// Whether containers get their mounts in a private mount namespace (else symlinks).
    pub fn namespace_isolation(&self) -> bool {
        self.shared.namespace_isolation
    }

    /// Every stored object (Jobs, Pods, Events, NetworkPolicies) as JSON.
    pub fn objects(&self) -> Vec<serde_json::Value> {
        self.shared.store.snapshot()
    }

    /// The request counters.
    pub fn stats(&self) -> Stats {
        self.shared.faults.stats()
    }

    /// Replaces the pending faults (as `POST /_standin/faults`).
    pub fn set_faults(&self, faults: Faults) {
        self.shared.faults.set(faults);
    }

    /// The containers that ended so far, timed to the microsecond (as `GET /_standin/exits`).
    pub fn exits(&self) -> Vec<Exit> {
        self.shared.exits.list()
    }

    /// The latest resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.store.current_rv()
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        for (_, tx) in self.shared.kills().drain() {
            let _ = tx.send(true);
        }
        for (_, tx) in self.shared.cancels().drain() {
            let _ = tx.send(true);
        }
    }
}
