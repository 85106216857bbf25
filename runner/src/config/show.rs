//! `config show`: every effective key, its value (secrets masked) and the layer it came from.

use figment::Figment;
use serde_json::Value;

use super::Config;
use super::errors::describe_source;

/// One leaf key of the effective configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourcedValue {
    /// The key as `section.key`.
    pub key: String,
    /// The value as TOML would write it, or `(unset)`; secrets are masked.
    pub value: String,
    /// "default", a file path, `environment CORTEX_RUNNER_...` or a flag such as `--policies`.
    pub source: String,
}

/// The mask shown instead of a secret value.
pub const MASK: &str = "********";

/// Masks the value of a key that holds a secret (its name contains `token`, `password` or
/// `secret` and it is not a `*_file` path), leaving unset values visible as unset.
pub fn mask_secret(key: &str, value: String) -> String {
    let name = key.rsplit('.').next().unwrap_or(key).to_ascii_lowercase();
    let secret = ["token", "password", "secret"]
        .iter()
        .any(|w| name.contains(w))
        && !name.ends_with("_file");
    if secret && value != "(unset)" {
        MASK.to_string()
    } else {
        value
    }
}

pub(super) fn sources(
    figment: &Figment,
    config: &Config,
    catalog_flags: bool,
) -> Vec<SourcedValue> {
    let tree = serde_json::to_value(config).expect("the configuration serializes to JSON");
    let mut out = Vec::new();
    walk(&tree, &mut Vec::new(), &mut out);
    for entry in &mut out {
        let mut source = figment
            .find_metadata(&entry.key)
            .map(|md| describe_source(md, &entry.key))
            .unwrap_or_else(|| "default".to_string());
        if catalog_flags && entry.key.starts_with("catalogs.") {
            source.push_str(" + --catalog");
        }
        entry.source = source;
        entry.value = mask_secret(&entry.key, std::mem::take(&mut entry.value));
    }
    out
}

fn walk(value: &Value, path: &mut Vec<String>, out: &mut Vec<SourcedValue>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                path.push(k.clone());
                walk(v, path, out);
                path.pop();
            }
        }
        leaf => out.push(SourcedValue {
            key: path.join("."),
            value: render(leaf),
            source: String::new(),
        }),
    }
}

fn render(value: &Value) -> String {
    match value {
        Value::Null => "(unset)".to_string(),
        Value::Object(_) => "{}".to_string(),
        Value::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(render).collect::<Vec<_>>().join(", ")
            )
        }
        other => other.to_string(),
    }
}
