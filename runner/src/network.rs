//! The network of one component job: the worker's `[wasm.network]` rules, what the
//! configuration shares (pinned addresses, extra CAs), and what the job's `input.json` brings
//! (cortexutils' `config.proxy.*`, the `cacerts` bundle). Used by the wasm backend, `exec` and
//! `bench`.

use std::time::Duration;

use cortex_job::JobFolder;

use crate::policy::NetworkRules;

/// The configuration's `[wasm.network]`, read once: pinned addresses and the PEM of the extra
/// certificate authorities (`ca_file`).
#[derive(Debug, Clone, Default)]
pub struct HostNetwork {
    /// Pinned addresses.
    pub pins: Vec<wasm_host::net::Pinned>,
    /// PEM certificates every component trusts besides the system's roots.
    pub extra_roots_pem: Vec<u8>,
}

/// The largest CA bundle read from a job or from `ca_file`.
pub const MAX_CA_BUNDLE_BYTES: u64 = 4 << 20;

/// The network of one component job of a worker with `rules`: the rules, `host`'s pins and CAs,
/// the job's `cacerts` and its `config.proxy`. `Ok(None)`: no rules, every request is denied.
/// An unusable proxy or CA bundle is an error naming the key.
pub fn job_network(
    rules: Option<&NetworkRules>,
    host: &HostNetwork,
    folder: &JobFolder,
) -> Result<Option<wasm_host::NetworkPolicy>, String> {
    let Some(rules) = rules else {
        return Ok(None);
    };
    let config = &folder.input().config;
    let mut roots = host.extra_roots_pem.clone();
    roots.extend(job_ca_bundle(config, folder)?);
    let mut proxy = wasm_host::net::Proxies::default();
    for (key, slot) in [("http", &mut proxy.http), ("https", &mut proxy.https)] {
        let value = config
            .get("proxy")
            .and_then(|p| p.get(key))
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty());
        if let Some(value) = value {
            *slot = Some(
                value
                    .parse()
                    .map_err(|e| format!("input.json `config.proxy.{key}`: {e}"))?,
            );
        }
    }
    Ok(Some(wasm_host::NetworkPolicy {
        allow: rules.allow.clone(),
        allow_addresses: rules.allow_addresses.clone(),
        resolve: host.pins.clone(),
        max_requests: rules.max_requests,
        max_response_bytes: rules.max_response_kib.saturating_mul(1024),
        request_timeout: Duration::from_secs(rules.request_timeout_s),
        extra_roots_pem: roots,
        proxy,
    }))
}

/// The job's own CA bundle, as cortexutils and Cortex give it: `config.cacerts` (PEM text) when
/// set, else the file `input/cacerts` Cortex writes; empty when neither. Bounded.
fn job_ca_bundle(
    config: &serde_json::Map<String, serde_json::Value>,
    folder: &JobFolder,
) -> Result<Vec<u8>, String> {
    if let Some(pem) = config
        .get("cacerts")
        .and_then(|v| v.as_str())
        .filter(|v| !v.trim().is_empty())
    {
        if pem.len() as u64 > MAX_CA_BUNDLE_BYTES {
            return Err(format!(
                "input.json `config.cacerts` is {} bytes, more than the {MAX_CA_BUNDLE_BYTES} accepted",
                pem.len()
            ));
        }
        return Ok(pem.as_bytes().to_vec());
    }
    let path = folder.input_dir().join("cacerts");
    read_bounded(&path).map(Option::unwrap_or_default)
}

/// Reads a regular file of at most [`MAX_CA_BUNDLE_BYTES`], following no symlink; `None` when
/// it does not exist.
pub fn read_bounded(path: &std::path::Path) -> Result<Option<Vec<u8>>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = match std::fs::File::options()
        .read(true)
        .custom_flags(
            rustix::fs::OFlags::NOFOLLOW.bits() as i32 | rustix::fs::OFlags::NONBLOCK.bits() as i32,
        )
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_CA_BUNDLE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_CA_BUNDLE_BYTES {
        return Err(format!(
            "{} is more than the {MAX_CA_BUNDLE_BYTES} bytes accepted for a CA bundle",
            path.display()
        ));
    }
    Ok(Some(bytes))
}
