//! The kubeconfig file that points `kubectl` and `kube::Client` at the stand-in.

use std::path::Path;

/// The kubeconfig text for a server URL: one cluster, one user without credentials, one
/// context (`kube-standin`, namespace `default`) that is current. Values are JSON-quoted,
/// which YAML reads as the same strings.
pub fn render(server: &str) -> String {
    let q = |s: &str| serde_json::Value::from(s).to_string();
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-standin\n  cluster:\n    server: {}\ncontexts:\n- name: kube-standin\n  context:\n    cluster: kube-standin\n    user: kube-standin\n    namespace: default\ncurrent-context: kube-standin\nusers:\n- name: kube-standin\n  user: {{}}\npreferences: {{}}\n",
        q(server)
    )
}

/// Writes the kubeconfig for `server` to `path`.
pub fn write(path: &Path, server: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, render(server))
}
