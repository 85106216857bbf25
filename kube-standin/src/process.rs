//! The container's process: argv (`command`/`args` with `$(VAR)` expanded and mount paths
//! rewritten), a clean environment, the working directory, the log file, and the mounts (a
//! private mount namespace with bind mounts, or symlinks).

use std::collections::BTreeMap;
use std::process::Stdio;

use k8s_openapi::api::core::v1::Container;

use std::os::unix::fs::PermissionsExt;

use crate::identity::Identity;
use crate::mounts::{self, Plan};

/// Builds the process: argv, env, working directory, log file and mounts.
pub fn command(
    namespace_isolation: bool,
    c: &Container,
    identity: &Identity,
    plan: &Plan,
    entrypoint: &[String],
    env: &BTreeMap<String, String>,
    log_path: &std::path::Path,
) -> Result<tokio::process::Command, String> {
    let mut argv: Vec<String> = match &c.command {
        Some(cmd) if !cmd.is_empty() => cmd.iter().map(|a| mounts::expand(a, env)).collect(),
        _ => entrypoint.to_vec(),
    };
    argv.extend(c.args.iter().flatten().map(|a| mounts::expand(a, env)));
    let argv: Vec<String> = argv.iter().map(|a| plan.rewrite(a)).collect();
    if argv.is_empty() {
        return Err(
            "no command specified (neither the image map nor the container names one)".to_owned(),
        );
    }
    let argv = identity.wrap(argv);
    let io = |e: std::io::Error, what: &std::path::Path| format!("{}: {e}", what.display());
    std::fs::create_dir_all(&plan.root).map_err(|e| io(e, &plan.root))?;
    // A container user other than the stand-in's must be able to traverse its root; what it
    // may read below the mounts is up to the volume's own modes, as on a node.
    for dir in plan.root.ancestors().take(3) {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))
            .map_err(|e| io(e, dir))?;
    }
    let term = plan.host_path(&plan.termination_path);
    if let Some(parent) = term.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io(e, parent))?;
    }
    std::fs::write(&term, b"").map_err(|e| io(e, &term))?;
    // The kubelet makes the termination message file writable by any container user.
    std::fs::set_permissions(&term, std::fs::Permissions::from_mode(0o666))
        .map_err(|e| io(e, &term))?;
    if let Some(parent) = log_path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io(e, parent))?;
    }
    let log = std::fs::File::create(log_path).map_err(|e| io(e, log_path))?;
    let log2 = log.try_clone().map_err(|e| io(e, log_path))?;

    let mut cmd = if namespace_isolation {
        // unshare execs sh in a private mount namespace; sh bind-mounts each volume at
        // R/mountPath (remounting read-only ones ro) and execs the container's program. Paths
        // reach sh as positional parameters, never as script text.
        let mut script = String::from("set -e\n");
        let mut params = Vec::new();
        for m in &plan.mounts {
            let target = plan.host_path(&m.mount_path);
            std::fs::create_dir_all(&target).map_err(|e| io(e, &target))?;
            script.push_str("mount --bind \"$1\" \"$2\"\n");
            if m.read_only {
                script.push_str("mount -o remount,bind,ro \"$2\"\n");
            }
            script.push_str("shift 2\n");
            params.push(m.host.to_string_lossy().into_owned());
            params.push(target.to_string_lossy().into_owned());
        }
        script.push_str("exec \"$@\"\n");
        let mut cmd = tokio::process::Command::new(resolve("unshare", &host_path()));
        cmd.args([
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            &script,
            "sh",
        ]);
        cmd.args(params).args(&argv);
        cmd
    } else {
        for m in &plan.mounts {
            let target = plan.host_path(&m.mount_path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io(e, parent))?;
            }
            std::os::unix::fs::symlink(&m.host, &target).map_err(|e| io(e, &target))?;
        }
        // The container's PATH, as execvp would search it.
        let path = env.get("PATH").cloned().unwrap_or_else(host_path);
        let mut cmd = tokio::process::Command::new(resolve(&argv[0], &path));
        cmd.args(&argv[1..]);
        cmd
    };
    cmd.env_clear();
    for k in ["PATH", "HOME", "LANG"] {
        if let Ok(v) = std::env::var(k) {
            cmd.env(k, v);
        }
    }
    for (k, v) in env {
        cmd.env(k, plan.rewrite(v));
    }
    cmd.env("KUBE_STANDIN_ROOT", &plan.root);
    let wd = c
        .working_dir
        .as_deref()
        .map(|w| std::path::PathBuf::from(plan.rewrite(w)))
        .unwrap_or_else(|| plan.root.clone());
    cmd.current_dir(wd)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2))
        .kill_on_drop(true);
    Ok(cmd)
}

/// The stand-in's own `PATH`.
fn host_path() -> String {
    std::env::var("PATH").unwrap_or_default()
}

/// `program` as a path: itself when it names one (it holds a `/`), else the first executable
/// file of that name in `path`'s directories, else itself (the spawn then fails as before).
///
/// A name resolved here lets `std` start the process with `posix_spawn` (a `vfork`): given a
/// bare name and a changed `PATH`, it falls back to `fork`, which copies the page tables of
/// the whole stand-in, a few milliseconds per container once it holds thousands of objects.
pub fn resolve(program: &str, path: &str) -> std::path::PathBuf {
    if program.contains('/') {
        return program.into();
    }
    path.split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| std::path::Path::new(dir).join(program))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .unwrap_or_else(|| program.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_resolved_in_the_path_as_execvp_would() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        // Not executable in a/, executable in b/: b's is the one.
        std::fs::write(a.join("tool"), "").unwrap();
        std::fs::write(b.join("tool"), "").unwrap();
        std::fs::set_permissions(b.join("tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("{}::{}", a.display(), b.display());
        assert_eq!(resolve("tool", &path), b.join("tool"));
        assert_eq!(resolve("./tool", &path), std::path::PathBuf::from("./tool"));
        assert_eq!(resolve("/bin/x", &path), std::path::PathBuf::from("/bin/x"));
        assert_eq!(
            resolve("missing", &path),
            std::path::PathBuf::from("missing")
        );
    }
}
