//! The simulated scheduler: one node (`standin-node`) with labels and allocatable CPU and
//! memory from the configuration; a pod whose `nodeSelector` or requests do not fit stays
//! `Pending` with `PodScheduled=False` (`Unschedulable`) and a `FailedScheduling` event.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodSpec;

use crate::config::Config;

/// Parses a resource quantity (`500m`, `2`, `1.5`, `128Mi`, `1G`, `1e3`) into milli-units.
pub fn parse_milli(q: &str) -> Option<u128> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let frac3: String = frac.chars().chain("000".chars()).take(3).collect();
    let base: u128 = int.parse::<u128>().unwrap_or(0) * 1000 + frac3.parse::<u128>().ok()?;
    let mult: u128 = match suffix {
        "" => 1,
        "m" => return Some(base / 1000),
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        s if s.starts_with('e') || s.starts_with('E') => {
            10u128.checked_pow(s[1..].parse().ok()?)?
        }
        _ => return None,
    };
    base.checked_mul(mult)
}

/// Why the pod cannot be placed, in the scheduler's words, or `None` when it fits.
pub fn unschedulable(config: &Config, spec: &PodSpec) -> Option<String> {
    let labels: &BTreeMap<String, String> = &config.node_labels;
    let selector_fits = spec
        .node_selector
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    if !selector_fits {
        return Some("0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.".to_owned());
    }
    let mut short = Vec::new();
    for (resource, allocatable) in [
        ("cpu", u128::from(config.node_cpu_millis)),
        ("memory", u128::from(config.node_memory_bytes) * 1000),
    ] {
        let requested: u128 = spec
            .containers
            .iter()
            .filter_map(|c| c.resources.as_ref())
            .filter_map(|r| r.requests.as_ref().and_then(|m| m.get(resource)))
            .filter_map(|q| parse_milli(&q.0))
            .sum();
        if requested > allocatable {
            short.push(format!("1 Insufficient {resource}"));
        }
    }
    if short.is_empty() {
        return None;
    }
    Some(format!(
        "0/1 nodes are available: {}. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
        short.join(", ")
    ))
}

/// Why an image reference cannot be parsed (the kubelet's `InvalidImageName`), or `None`.
pub fn invalid_image(image: &str) -> Option<String> {
    let prefix =
        format!("Failed to apply default image tag {image:?}: couldn't parse image name {image:?}");
    let name = image.split('@').next().unwrap_or("");
    // The tag follows the last ':' after the last '/'.
    let path = match name.rfind('/') {
        Some(slash) => match name[slash..].find(':') {
            Some(colon) => &name[..slash + colon],
            None => name,
        },
        None => name.split(':').next().unwrap_or(""),
    };
    let components: Vec<&str> = path.split('/').collect();
    // The first component may be a registry host (with '.', ':' or "localhost").
    let repo = if components.len() > 1
        && (components[0].contains('.')
            || components[0].contains(':')
            || components[0] == "localhost")
    {
        &components[1..]
    } else {
        &components[..]
    };
    let bad_format = image.is_empty()
        || image.chars().any(|c| c.is_whitespace() || c.is_control())
        || repo.iter().any(|c| {
            c.is_empty()
                || !c
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "._-".contains(ch))
                || !c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
                || !c.ends_with(|ch: char| ch.is_ascii_alphanumeric())
        });
    if bad_format {
        return Some(format!("{prefix}: invalid reference format"));
    }
    if repo
        .iter()
        .any(|c| c.chars().any(|ch| ch.is_ascii_uppercase()))
    {
        return Some(format!(
            "{prefix}: invalid reference format: repository name (library/{}) must be lowercase",
            repo.join("/")
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_milli("500m"), Some(500));
        assert_eq!(parse_milli("2"), Some(2000));
        assert_eq!(parse_milli("1.5"), Some(1500));
        assert_eq!(parse_milli("128Mi"), Some(128 * 1024 * 1024 * 1000));
        assert_eq!(parse_milli("1G"), Some(1_000_000_000_000));
        assert_eq!(parse_milli("x"), None);
    }

    #[test]
    fn image_names() {
        assert_eq!(invalid_image("busybox:1.36"), None);
        assert_eq!(
            invalid_image("registry.local:5000/cortex/file-info:2"),
            None
        );
        assert_eq!(invalid_image("ghcr.io/a/b@sha256:abc"), None);
        assert_eq!(
            invalid_image("bad image"),
            Some("Failed to apply default image tag \"bad image\": couldn't parse image name \"bad image\": invalid reference format".to_owned())
        );
        assert!(
            invalid_image("Cortex/Worker:1")
                .unwrap()
                .ends_with("must be lowercase")
        );
        assert!(invalid_image("a//b").is_some());
    }
}
