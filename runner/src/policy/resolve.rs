//! Resolves a parsed policy: defaults from `config.toml`, value checks, the worker's existence,
//! and the wasm module (found, a wasm binary, matching its sha256 pin).

use std::ops::RangeInclusive;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{
    BackendChoice, KubernetesPolicy, ModuleSource, ModuleStatus, NetworkRules, NetworkSection,
    Overflow, Policy, PolicyContext, PolicyError, PolicyFile, ResourcesSection, Result, WasmPolicy,
};
use crate::catalog::check_name;
use crate::config::{is_quantity, limits};

/// Checks and resolves `[wasm.network]`; an error names the key and what was expected.
fn resolve_network(
    n: &NetworkSection,
) -> std::result::Result<NetworkRules, (&'static str, String)> {
    for (key, len) in [
        ("wasm.network.allow", n.allow.len()),
        ("wasm.network.allow_addresses", n.allow_addresses.len()),
    ] {
        if len > limits::NETWORK_ENTRIES {
            return Err((
                key,
                format!(
                    "`{key}` has {len} entries, more than the {} accepted",
                    limits::NETWORK_ENTRIES
                ),
            ));
        }
    }
    let mut allow = Vec::new();
    for entry in &n.allow {
        let origin: wasm_host::net::Origin = entry
            .parse()
            .map_err(|e| ("wasm.network.allow", format!("`wasm.network.allow`: {e}")))?;
        if !allow.contains(&origin) {
            allow.push(origin);
        }
    }
    let mut allow_addresses = Vec::new();
    for entry in &n.allow_addresses {
        let net = entry
            .parse::<wasm_host::net::IpNet>()
            .or_else(|_| {
                entry
                    .parse::<std::net::IpAddr>()
                    .map(wasm_host::net::IpNet::from)
            })
            .map_err(|_| {
                (
                    "wasm.network.allow_addresses",
                    format!(
                        "`wasm.network.allow_addresses`: {entry:?} is not an IP address or a \
                         CIDR range such as \"10.0.0.0/8\" or \"127.0.0.1\""
                    ),
                )
            })?;
        allow_addresses.push(net);
    }
    let mut levels = [None, None];
    for (slot, (key, value, range)) in levels.iter_mut().zip([
        ("wasm.network.max_tlp", n.max_tlp, limits::TLP),
        ("wasm.network.max_pap", n.max_pap, limits::PAP),
    ]) {
        if let Some(v) = value {
            check_range(key, v, &range).map_err(|problem| (key, problem))?;
            *slot = u8::try_from(v).ok();
        }
    }
    for (key, value, range) in [
        (
            "wasm.network.max_requests",
            n.max_requests,
            limits::NETWORK_REQUESTS,
        ),
        (
            "wasm.network.max_response_kib",
            n.max_response_kib,
            limits::NETWORK_RESPONSE_KIB,
        ),
        (
            "wasm.network.request_timeout_s",
            n.request_timeout_s,
            limits::NETWORK_TIMEOUT_S,
        ),
    ] {
        if let Some(v) = value {
            check_range(key, v, &range).map_err(|problem| (key, problem))?;
        }
    }
    let [max_tlp, max_pap] = levels;
    Ok(NetworkRules {
        allow,
        allow_addresses,
        max_tlp,
        max_pap,
        max_requests: n
            .max_requests
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(NetworkRules::DEFAULT_MAX_REQUESTS),
        max_response_kib: n
            .max_response_kib
            .unwrap_or(NetworkRules::DEFAULT_MAX_RESPONSE_KIB),
        request_timeout_s: n
            .request_timeout_s
            .unwrap_or(NetworkRules::DEFAULT_REQUEST_TIMEOUT_S),
    })
}

/// Resolves `file` (parsed from `text`) as the policy of `worker`.
pub(super) fn resolve(
    worker: &str,
    path: &Path,
    text: &str,
    file: PolicyFile,
    ctx: &PolicyContext<'_>,
) -> Result<Policy> {
    let fail = |key: &str, problem: String| PolicyError::Invalid {
        path: path.display().to_string(),
        line: line_of_key(text, key),
        problem,
    };
    if let Err(why) = check_name(worker) {
        return Err(fail(
            "",
            format!("the file name is not a worker name: {why}"),
        ));
    }
    check_worker(worker, &file, ctx).map_err(|(key, problem)| fail(key, problem))?;

    let mut levels = [None, None];
    for (slot, (key, value, range)) in levels.iter_mut().zip([
        ("max_tlp", file.max_tlp, limits::TLP),
        ("max_pap", file.max_pap, limits::PAP),
    ]) {
        if let Some(v) = value {
            check_range(key, v, &range).map_err(|problem| fail(key, problem))?;
            *slot = u8::try_from(v).ok();
        }
    }
    let [max_tlp, max_pap] = levels;
    if file.backend == BackendChoice::Kubernetes && file.overflow == Overflow::Kubernetes {
        return Err(fail(
            "overflow",
            "`overflow` = \"kubernetes\" needs backend = \"wasm\" or \"auto\" (backend = \"kubernetes\" never runs wasm)"
                .into(),
        ));
    }
    let w = &file.wasm;
    let k = &file.kubernetes;
    let ranged = [
        ("wasm.memory_mib", w.memory_mib, limits::MEMORY_MIB),
        ("wasm.timeout_s", w.timeout_s, limits::WASM_TIMEOUT_S),
        ("wasm.fuel", w.fuel, limits::FUEL),
        ("wasm.max_input_mib", w.max_input_mib, limits::MAX_INPUT_MIB),
        ("wasm.concurrency", w.concurrency, limits::CONCURRENCY),
        (
            "kubernetes.timeout_s",
            k.timeout_s,
            limits::KUBERNETES_TIMEOUT_S,
        ),
        ("kubernetes.concurrency", k.concurrency, limits::CONCURRENCY),
    ];
    for (key, value, range) in ranged {
        if let Some(v) = value {
            check_range(key, v, &range).map_err(|problem| fail(key, problem))?;
        }
    }
    for name in w
        .env
        .keys()
        .chain(file.kubernetes.env.keys())
        .chain(file.kubernetes.env_from_secrets.iter().map(|s| &s.name))
    {
        if !is_env_name(name) {
            let key = if w.env.contains_key(name) {
                "wasm.env"
            } else {
                "kubernetes.env"
            };
            return Err(fail(
                key,
                format!(
                    "`{key}`: {name:?} is not an environment variable name (letters, digits, `_`, not starting with a digit)"
                ),
            ));
        }
    }
    let r = &file.kubernetes.resources;
    for (key, value) in [
        ("kubernetes.resources.cpu_request", &r.cpu_request),
        ("kubernetes.resources.cpu_limit", &r.cpu_limit),
        ("kubernetes.resources.memory_request", &r.memory_request),
        ("kubernetes.resources.memory_limit", &r.memory_limit),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !is_quantity(v)) {
            return Err(fail(
                key,
                format!(
                    "`{key}` must be a Kubernetes quantity such as 500m, 1, 256Mi or 1Gi, found {v:?}"
                ),
            ));
        }
    }
    if let Some(pin) = w
        .sha256
        .as_ref()
        .filter(|p| p.len() != 64 || !p.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return Err(fail(
            "wasm.sha256",
            format!("`wasm.sha256` must be 64 hexadecimal digits, found {pin:?}"),
        ));
    }

    let network = match &w.network {
        Some(section) => {
            Some(resolve_network(section).map_err(|(key, problem)| fail(key, problem))?)
        }
        None => None,
    };
    let module = if file.backend == BackendChoice::Kubernetes {
        ModuleStatus::NotNeeded
    } else {
        find_module(worker, path, &file, ctx).map_err(|(key, problem)| fail(key, problem))?
    };
    let (wd, kd) = (ctx.wasm, ctx.kubernetes);
    // In range, so the conversions below cannot fail.
    let concurrency =
        |v: Option<u64>, default: u32| v.map_or(default, |v| v.try_into().unwrap_or(default));
    let k = file.kubernetes;
    Ok(Policy {
        worker: worker.to_string(),
        path: path.to_path_buf(),
        backend: file.backend,
        overflow: file.overflow,
        max_tlp,
        max_pap,
        definition: file.worker,
        wasm: WasmPolicy {
            module,
            memory_mib: w.memory_mib.unwrap_or(wd.memory_mib),
            timeout_s: w.timeout_s.unwrap_or(wd.timeout_s),
            fuel: w.fuel.or(wd.fuel),
            max_input_mib: w.max_input_mib.unwrap_or(wd.max_input_mib),
            concurrency: concurrency(w.concurrency, wd.concurrency),
            env: file.wasm.env,
            network,
        },
        kubernetes: KubernetesPolicy {
            image: k.image,
            timeout_s: k.timeout_s.unwrap_or(kd.timeout_s),
            concurrency: concurrency(k.concurrency, kd.concurrency),
            resources: ResourcesSection {
                cpu_request: k
                    .resources
                    .cpu_request
                    .or_else(|| Some(kd.cpu_request.clone())),
                cpu_limit: k.resources.cpu_limit.or_else(|| Some(kd.cpu_limit.clone())),
                memory_request: k
                    .resources
                    .memory_request
                    .or_else(|| Some(kd.memory_request.clone())),
                memory_limit: k
                    .resources
                    .memory_limit
                    .or_else(|| Some(kd.memory_limit.clone())),
            },
            node_selector: k.node_selector,
            tolerations: k.tolerations,
            env: k.env,
            env_from_secrets: k.env_from_secrets,
            security: k.security,
        },
    })
}

type KeyProblem = (&'static str, String);

/// A policy must govern a worker some catalog defines, or define it in `[worker]`.
fn check_worker(
    worker: &str,
    file: &PolicyFile,
    ctx: &PolicyContext<'_>,
) -> Result<(), KeyProblem> {
    let section = file.worker.as_ref();
    let alias = section.and_then(|s| s.catalog_name.as_deref());
    if alias.is_some_and(|a| ctx.catalog.get(a).is_some()) || ctx.catalog.get(worker).is_some() {
        return Ok(());
    }
    match section.and_then(|s| s.data_types.as_ref()) {
        Some(types) if types.is_empty() => Err((
            "worker.data_types",
            "`worker.data_types` must list at least one data type, found []".into(),
        )),
        Some(_) => Ok(()),
        None => {
            let named = alias
                .map(|a| format!(" (nor is `{a}`, its `worker.catalog_name`)"))
                .unwrap_or_default();
            Err((
                "",
                format!(
                    "worker `{worker}` is in no catalog{named} ({} analyzers, {} responders loaded) and the policy does not define it (expected a [worker] section with `data_types`)",
                    ctx.catalog.count(crate::catalog::WorkerKind::Analyzer),
                    ctx.catalog.count(crate::catalog::WorkerKind::Responder),
                ),
            ))
        }
    }
}

/// Finds and verifies the module; under `auto`, a missing module is not an error.
fn find_module(
    worker: &str,
    policy_path: &Path,
    file: &PolicyFile,
    ctx: &PolicyContext<'_>,
) -> Result<ModuleStatus, KeyProblem> {
    let name = file
        .wasm
        .module
        .clone()
        .unwrap_or_else(|| format!("{worker}.wasm"));
    let mut looked_in = Vec::new();
    let mut found: Option<ModuleSource> = None;
    if name.contains('/') {
        let base = policy_path.parent().unwrap_or(Path::new("."));
        let candidate = base.join(&name);
        looked_in.push(candidate.display().to_string());
        found = candidate.is_file().then_some(ModuleSource::File(candidate));
    } else {
        for dir in &ctx.wasm.module_dirs {
            looked_in.push(dir.display().to_string());
            let candidate = dir.join(&name);
            if candidate.is_file() {
                found = Some(ModuleSource::File(candidate));
                break;
            }
        }
        if found.is_none() && ctx.wasm.builtin_modules {
            looked_in.push("the built-in analyzers".into());
            found = ctx
                .builtin_modules
                .iter()
                .find(|builtin| name.strip_suffix(".wasm") == Some(builtin.worker))
                .map(|builtin| ModuleSource::Builtin(*builtin));
        }
    }
    let Some(path) = found else {
        if file.backend == BackendChoice::Auto {
            return Ok(ModuleStatus::NotFound {
                file: name,
                looked_in,
            });
        }
        let places = if looked_in.is_empty() {
            "no module directory is configured".to_string()
        } else {
            format!("looked in: {}", looked_in.join(", "))
        };
        return Err((
            "wasm.module",
            format!("`wasm.module`: no module {name} found ({places})"),
        ));
    };
    let bytes = path.bytes().map_err(|e| {
        (
            "wasm.module",
            format!("`wasm.module`: cannot read {}: {e}", path.display()),
        )
    })?;
    if !bytes.starts_with(b"\0asm") {
        return Err((
            "wasm.module",
            format!(
                "`wasm.module`: {} is not a wasm module (expected the \\0asm header)",
                path.display()
            ),
        ));
    }
    let sha256 = hex::encode(Sha256::digest(&bytes));
    if let Some(pin) = file
        .wasm
        .sha256
        .as_ref()
        .filter(|pin| !pin.eq_ignore_ascii_case(&sha256))
    {
        return Err((
            "wasm.sha256",
            format!(
                "`wasm.sha256`: module {} has sha256 {sha256}, expected {}",
                path.display(),
                pin.to_ascii_lowercase()
            ),
        ));
    }
    Ok(ModuleStatus::Verified {
        path,
        sha256,
        pinned: file.wasm.sha256.is_some(),
    })
}

/// "`key` must be an integer from A to B, found V" when `value` is outside `range`.
fn check_range<T>(key: &str, value: T, range: &RangeInclusive<T>) -> Result<(), String>
where
    T: PartialOrd + std::fmt::Display,
{
    if range.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "`{key}` must be {}, found {value}",
            limits::describe(range)
        ))
    }
}

fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// The 1-based line where `key` (`section.leaf` or `leaf`) is written, when it is written plainly.
pub(super) fn line_of_key(text: &str, key: &str) -> Option<usize> {
    if key.is_empty() {
        return None;
    }
    let (section, leaf) = key.rsplit_once('.').unwrap_or(("", key));
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix('[').and_then(|t| t.split(']').next()) {
            current = header.trim_matches(|c| c == '[' || c == ' ').to_string();
            if current == key {
                return Some(i + 1);
            }
            continue;
        }
        let Some((lhs, _)) = trimmed.split_once('=') else {
            continue;
        };
        let lhs = lhs.trim();
        if (current == section && lhs == leaf) || (current.is_empty() && lhs == key) {
            return Some(i + 1);
        }
        if current.is_empty() && !section.is_empty() && lhs == section {
            return Some(i + 1);
        }
    }
    if !section.is_empty() {
        return line_of_key(text, section);
    }
    None
}
