//! How a container sees its volumes: `$(VAR)` expansion, `subPathExpr` resolved against the
//! directory standing for the PVC, and the per-pod container root the mount paths live in.
//!
//! The rule: each pod gets a root directory `R`. Every volume mount's `mountPath` `M` becomes
//! `R/M`: a bind mount of the resolved host directory in a private mount namespace (read-only
//! mounts remounted `ro`, so a write fails with `EROFS`), or, where mount namespaces are not
//! available, a symlink (read-only mounts are then checked after the container ends). Absolute
//! paths in the container's arguments, `workingDir` and env values that name a mount path, a
//! path below one, an ancestor of one, or the termination message path are rewritten to `R/...`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use k8s_openapi::api::core::v1::{Container, PodSpec};

/// Expands `$(VAR)` from `env` (`$$(VAR)` gives `$(VAR)`; an unknown variable stays as written),
/// as the kubelet does for `command`, `args`, env values and `subPathExpr`.
pub fn expand(s: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(end) = inner.find(')')
        {
            let name = &inner[..end];
            match env.get(name) {
                Some(v) => out.push_str(v),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// One resolved mount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// The `mountPath` in the container.
    pub mount_path: String,
    /// The host directory it stands for.
    pub host: PathBuf,
    /// `readOnly` (of the mount or of the claim).
    pub read_only: bool,
}

/// Why a container's mounts cannot be prepared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// The volume cannot be set up: event `FailedMount`, the container stays `ContainerCreating`.
    Volume(String),
    /// The mount is misconfigured: waiting reason `CreateContainerConfigError`.
    Config(String),
}

/// The resolved container file system view.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The container root `R`.
    pub root: PathBuf,
    /// The mounts, in the container's order.
    pub mounts: Vec<Mount>,
    /// The termination message path in the container.
    pub termination_path: String,
}

impl Plan {
    /// `R/path` for a container path.
    pub fn host_path(&self, container_path: &str) -> PathBuf {
        self.root.join(container_path.trim_start_matches('/'))
    }

    /// Rewrites an absolute container path that a mount or the termination message path
    /// covers (see the module doc); anything else is returned unchanged.
    pub fn rewrite(&self, value: &str) -> String {
        if !value.starts_with('/') {
            return value.to_owned();
        }
        let v = value.trim_end_matches('/');
        let covers = |m: &str| {
            let m = m.trim_end_matches('/');
            v == m
                || v.starts_with(&format!("{m}/"))
                || m.starts_with(&format!("{v}/"))
                || v.is_empty()
        };
        if self.mounts.iter().any(|m| covers(&m.mount_path)) || covers(&self.termination_path) {
            self.host_path(value).to_string_lossy().into_owned()
        } else {
            value.to_owned()
        }
    }
}

fn safe_relative(p: &str) -> bool {
    !p.starts_with('/')
        && Path::new(p).components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
}

/// Resolves the container's volume mounts against `pvc_dir` (every PersistentVolumeClaim) and
/// `pod_dir` (emptyDir volumes), creating missing `subPath` directories as the kubelet does.
pub fn plan(
    pod_dir: &Path,
    pvc_dir: &Path,
    spec: &PodSpec,
    c: &Container,
    env: &BTreeMap<String, String>,
) -> Result<Plan, PlanError> {
    let mut mounts = Vec::new();
    for vm in c.volume_mounts.iter().flatten() {
        let volume = spec
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == vm.name)
            .ok_or_else(|| {
                PlanError::Volume(format!(
                    "volumeMount {:?} of container {:?} names no volume of the pod",
                    vm.name, c.name
                ))
            })?;
        let (base, claim_ro) = if let Some(pvc) = &volume.persistent_volume_claim {
            (pvc_dir.to_path_buf(), pvc.read_only.unwrap_or(false))
        } else if volume.empty_dir.is_some() {
            (pod_dir.join("volumes").join(&volume.name), false)
        } else if let Some(hp) = &volume.host_path {
            (PathBuf::from(&hp.path), false)
        } else {
            return Err(PlanError::Volume(format!(
                "MountVolume.SetUp failed for volume {:?}: kube-standin supports persistentVolumeClaim, emptyDir and hostPath volumes only",
                volume.name
            )));
        };
        let sub = match (&vm.sub_path, &vm.sub_path_expr) {
            (Some(s), _) if !s.is_empty() => s.clone(),
            (_, Some(e)) if !e.is_empty() => expand(e, env),
            _ => String::new(),
        };
        if !sub.is_empty() && !safe_relative(&sub) {
            return Err(PlanError::Config(format!(
                "failed to prepare subPath for volumeMount {:?} of container {:?}: {sub:?} must be a relative path without '..'",
                vm.name, c.name
            )));
        }
        let host = if sub.is_empty() {
            base
        } else {
            base.join(&sub)
        };
        std::fs::create_dir_all(&host).map_err(|e| {
            PlanError::Volume(format!(
                "MountVolume.SetUp failed for volume {:?}: cannot create {}: {e}",
                volume.name,
                host.display()
            ))
        })?;
        mounts.push(Mount {
            mount_path: vm.mount_path.clone(),
            host,
            read_only: vm.read_only.unwrap_or(false) || claim_ro,
        });
    }
    Ok(Plan {
        root: pod_dir.join("root"),
        mounts,
        termination_path: c
            .termination_message_path
            .clone()
            .unwrap_or_else(|| "/dev/termination-log".to_owned()),
    })
}

/// A listing of a tree (relative path → size, modification time), bounded to `limit` entries,
/// to detect writes to a read-only mount where no mount namespace enforces it.
pub fn fingerprint(dir: &Path, limit: usize) -> BTreeMap<PathBuf, (u64, Option<SystemTime>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in rd.flatten() {
            if out.len() >= limit {
                return out;
            }
            let p = entry.path();
            let Ok(md) = entry.metadata() else { continue };
            let rel = p.strip_prefix(dir).unwrap_or(&p).to_path_buf();
            out.insert(rel, (md.len(), md.modified().ok()));
            if md.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_follows_the_kubelet_rules() {
        let env = BTreeMap::from([("A".to_owned(), "x/y".to_owned())]);
        assert_eq!(expand("$(A)/input", &env), "x/y/input");
        assert_eq!(expand("$$(A)", &env), "$(A)");
        assert_eq!(expand("$(B)-$", &env), "$(B)-$");
    }

    #[test]
    fn rewrite_covers_mounts_their_parents_and_children_only() {
        let p = Plan {
            root: PathBuf::from("/r"),
            mounts: vec![Mount {
                mount_path: "/job/input".into(),
                host: "/h".into(),
                read_only: true,
            }],
            termination_path: "/dev/termination-log".into(),
        };
        assert_eq!(p.rewrite("/job"), "/r/job");
        assert_eq!(p.rewrite("/job/input/a.json"), "/r/job/input/a.json");
        assert_eq!(p.rewrite("/dev/termination-log"), "/r/dev/termination-log");
        assert_eq!(p.rewrite("/usr/bin/python3"), "/usr/bin/python3");
        assert_eq!(p.rewrite("/jobs"), "/jobs");
        assert_eq!(p.rewrite("relative"), "relative");
    }
}
