//! The stand-in's configuration: where it listens, the directory standing for the PVC, and the
//! image → command map the simulated kubelet runs containers from.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::faults::Faults;

/// How the simulated kubelet gives a container its volume mounts.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// Use a private mount namespace (bind mounts, read-only mounts remounted `ro`) when
    /// `unshare --mount` works on this machine, symlinks otherwise.
    #[default]
    Auto,
    /// Always the private mount namespace; a pod fails to start when it is not available.
    Namespace,
    /// Symlinks to the host directories; read-only mounts are checked after the container ends.
    Symlink,
}

/// One image of the image → command map.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Image {
    /// The image's entrypoint: a host program and its leading arguments. The container's
    /// `command`, when set, replaces it (as in Kubernetes); its `args` follow.
    pub command: Vec<String>,
    /// Extra environment the "image" sets (before the container's `env`).
    pub env: BTreeMap<String, String>,
    /// The image cannot be pulled: the container waits in `ErrImagePull`, then
    /// `ImagePullBackOff`.
    pub missing: bool,
    /// The container is OOM-killed as soon as it starts: reason `OOMKilled`, exit code 137.
    pub oom: bool,
    /// The pod is evicted as soon as its container starts: phase `Failed`, reason `Evicted`.
    pub evicted: bool,
    /// The image's `USER` (numeric), used when no `runAsUser` is set. Default: root (0).
    pub user: Option<i64>,
}

/// The stand-in's configuration. Every default is listed in [`Config::default`].
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The port on 127.0.0.1 (0: any free port). Default 0.
    pub port: u16,
    /// Where to write a kubeconfig pointing at the server. Default: none.
    pub kubeconfig_out: Option<PathBuf>,
    /// The directory standing for every PersistentVolumeClaim. Default: `pvc/` in `work_dir`.
    pub pvc_dir: Option<PathBuf>,
    /// Per-pod state (container roots, logs, termination messages). Default: a temporary
    /// directory removed when the server stops.
    pub work_dir: Option<PathBuf>,
    /// The image → command map. An image not in it fails to pull (`ErrImagePull`).
    pub images: BTreeMap<String, Image>,
    /// Changes kept for watches; an older `resourceVersion` gets `410 Expired`. Default 1000.
    pub history_limit: usize,
    /// Milliseconds between `BOOKMARK` events on watches that allow them. Default 1000.
    pub bookmark_interval_ms: u64,
    /// Milliseconds from `ErrImagePull` to `ImagePullBackOff`. Default 200.
    pub image_pull_backoff_ms: u64,
    /// How mounts are given to containers. Default `auto`.
    pub isolation: Isolation,
    /// The node's labels, matched against `nodeSelector`. Default `kubernetes.io/hostname`
    /// = `standin-node`, `kubernetes.io/os` = `linux`.
    pub node_labels: BTreeMap<String, String>,
    /// The node's allocatable CPU in millicores; larger requests are unschedulable.
    /// Default 4000.
    pub node_cpu_millis: u64,
    /// The node's allocatable memory in bytes. Default 16 GiB.
    pub node_memory_bytes: u64,
    /// Faults active from the start (the control API changes them later). Default none.
    pub faults: Faults,
    /// PersistentVolumeClaims whose volume cannot be mounted (a storage server that does not
    /// answer): a pod using one stays `ContainerCreating` with `FailedMount` events, as on a
    /// node that cannot reach its NFS server. Default none.
    pub unmountable_claims: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 0,
            kubeconfig_out: None,
            pvc_dir: None,
            work_dir: None,
            images: BTreeMap::new(),
            history_limit: 1000,
            bookmark_interval_ms: 1000,
            image_pull_backoff_ms: 200,
            isolation: Isolation::Auto,
            node_labels: BTreeMap::from([
                (
                    "kubernetes.io/hostname".to_owned(),
                    "standin-node".to_owned(),
                ),
                ("kubernetes.io/os".to_owned(), "linux".to_owned()),
            ]),
            node_cpu_millis: 4000,
            node_memory_bytes: 16 << 30,
            faults: Faults::default(),
            unmountable_claims: Vec::new(),
        }
    }
}
