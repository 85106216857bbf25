//! MSDefenderOffice365_SafeLinksDecoder, a drop-in port of the Cortex analyzer of that name:
//! unwraps a Microsoft Defender for Office 365 Safe Link
//! (`https://<region>.safelinks.protection.outlook.com/?url=<encoded>`) into the URL it wraps,
//! with the original's report, taxonomies, artifacts and error messages.

mod decode;
mod unquote;

use std::process::ExitCode;

use analyzer_validate_observable::pyurl::urlsplit;
use cortex_sdk::serde_json::{Map, Value, json};
use cortex_sdk::{Analyze, Analyzer, Error, Hooks, Result, run_analyzer};

use decode::{decode_safelink, extract_safelink_domain, is_safelink};

/// The taxonomy namespace.
const NAMESPACE: &str = "SafeLinks";

/// The analyzer: `run` decodes; `summary` and `artifacts` are the original's (no
/// auto-extraction: the original overrides `artifacts`).
struct SafeLinksDecoder;

/// The network location of a decoded URL as `urlparse(url).netloc` gives it, `None` where it
/// is empty or `urlparse` raises (the original catches that and skips the domain).
fn netloc(url: &str) -> Option<String> {
    urlsplit(url)
        .ok()
        .map(|parts| parts.netloc)
        .filter(|n| !n.is_empty())
}

/// `raw.get('is_safelink', True)`, with Python truthiness.
fn is_safelink_report(full: &Value) -> bool {
    full.get("is_safelink").is_none_or(cortex_sdk::truthy)
}

/// The Python type name in a `TypeError` about a JSON value.
fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

impl Hooks for SafeLinksDecoder {
    fn summary(&self, _analyzer: &Analyzer, full: &Value) -> Result<Value> {
        let mut taxonomies = Vec::new();
        if !is_safelink_report(full) {
            taxonomies.push(Analyzer::build_taxonomy(
                "info",
                NAMESPACE,
                "Status",
                "Not a SafeLink",
            ));
        } else {
            taxonomies.push(Analyzer::build_taxonomy(
                "info", NAMESPACE, "Decoded", "Success",
            ));
            if let Some(domain) = full
                .get("original_url")
                .and_then(Value::as_str)
                .and_then(netloc)
            {
                taxonomies.push(Analyzer::build_taxonomy(
                    "info",
                    NAMESPACE,
                    "OriginalDomain",
                    domain,
                ));
            }
        }
        Ok(json!({ "taxonomies": taxonomies }))
    }

    fn artifacts(&self, analyzer: &Analyzer, full: &Value) -> Result<Vec<Value>> {
        let Some(url) = full
            .get("original_url")
            .and_then(Value::as_str)
            .filter(|u| is_safelink_report(full) && !u.is_empty())
        else {
            return Ok(Vec::new());
        };
        let tags = |list: &[&str]| {
            let mut kwargs = Map::new();
            kwargs.insert("tags".into(), json!(list));
            kwargs
        };
        let mut artifacts = vec![analyzer.build_artifact_with(
            "url",
            url,
            tags(&["SafeLinks:Decoded", "AutoExtracted", "autoImport:true"]),
        )?];
        if let Some(domain) = netloc(url) {
            artifacts.push(analyzer.build_artifact_with(
                "domain",
                domain,
                tags(&["SafeLinks:OriginalDomain", "AutoExtracted"]),
            )?);
        }
        Ok(artifacts)
    }
}

impl Analyze for SafeLinksDecoder {
    fn run(&self, analyzer: &Analyzer) -> Result<Value> {
        // For a file observable this is the file's name, which the original decodes like a URL.
        let data = analyzer.get_data()?;
        let Some(data) = data.as_str() else {
            // `re.search` on a non-string raises a TypeError, which the original's catch-all
            // turns into this message.
            let kind = python_type(data);
            return Err(Error::msg(format!(
                "Unhandled exception during analysis: expected string or bytes-like object, got '{kind}'"
            )));
        };
        if !is_safelink(data) {
            return Ok(json!({
                "is_safelink": false,
                "original_url": data,
                "message": "This URL is not an Office 365 ATP Safe Link",
            }));
        }
        let Some(decoded) = decode_safelink(data) else {
            return Err(Error::msg(
                "Could not decode the Safe Link - no matching pattern found",
            ));
        };
        Ok(json!({
            "is_safelink": true,
            "original_url": decoded,
            "safelink_domain": extract_safelink_domain(data),
            "safelink_input": data,
        }))
    }
}

fn main() -> ExitCode {
    run_analyzer(SafeLinksDecoder)
}
