//! EmlParser: the Cortex analyzer that parses an `.eml` file observable and reports its headers,
//! bodies, attachments and indicators, a drop-in port of the Cortex-Analyzers flavour
//! `EmlParser` 2.1 (`parse.py`, built on the `eml_parser` Python package).
//!
//! The report has the original's keys and value shapes; the modules reproduce, one concept
//! each, the Python behaviour the report depends on (see the crate's README for the differences
//! that remain and why).

mod address;
mod analysis;
mod attachments;
mod bodyscan;
mod charclass;
mod dates;
mod decode;
mod eml;
mod html;
mod magic;
mod mime;
mod patterns;
mod pyheader;
mod received;
mod unc;
mod url;
mod urls;

use cortex_sdk::serde_json::{Map, Value, json};
use cortex_sdk::{Analyze, Analyzer, Error, Hooks, Result, truthy};
use std::process::ExitCode;

/// The analyzer; it keeps no state between hooks, everything is in the `full` report.
struct EmlParser;

impl Analyze for EmlParser {
    fn run(&self, a: &Analyzer) -> Result<Value> {
        // The original reads `file` first, in its constructor: a job without one fails there.
        if a.worker().get_param("file").is_none() {
            return Err(Error::msg("File is missing"));
        }
        if a.data_type() != "file" {
            return Err(Error::msg(
                "This datatype is not supported by this analyzer.",
            ));
        }
        let Some(path) = a.file_path() else {
            return Err(Error::msg(
                "Unexpected Error: expected str, bytes or os.PathLike object, not NoneType",
            ));
        };
        let raw = std::fs::read(&path).map_err(|e| Error::msg(format!("Unexpected Error: {e}")))?;
        let options = analysis::Options {
            visualisation: truthy(&a.get_param_or("config.email_visualisation", false)),
            wkhtmltoimage: match a
                .get_param_or("config.wkhtmltoimage_path", "/usr/bin/wkhtmltoimage")
            {
                Value::String(s) => s,
                other => other.to_string(),
            },
        };
        let result = analysis::analyse(&raw, &options)
            .map_err(|f| Error::msg(format!("Unexpected Error: {}", f.0)))?;
        let out_dir = a
            .output_directory()
            .ok_or_else(|| Error::msg("Unexpected Error: no job folder"))?;
        for (name, data) in &result.files {
            std::fs::write(out_dir.join(name), data)
                .map_err(|e| Error::msg(format!("Unexpected Error: {e}")))?;
        }
        Ok(result.full)
    }
}

/// The tags of an indicator entry (`{"data", "tag"}`), plus `extra`.
fn tags(entry: &Value, extra: &[&str]) -> Vec<Value> {
    let mut out: Vec<Value> = entry["tag"].as_array().cloned().unwrap_or_default();
    out.extend(extra.iter().map(|t| json!(t)));
    out
}

fn with_tags(tags: Vec<Value>) -> Map<String, Value> {
    let mut kwargs = Map::new();
    kwargs.insert("tags".into(), Value::Array(tags));
    kwargs
}

impl Hooks for EmlParser {
    fn summary(&self, _a: &Analyzer, full: &Value) -> Result<Value> {
        let attachments = full
            .get("attachments")
            .map_or(json!("0"), |v| json!(v.as_array().map_or(0, Vec::len)));
        let urls = match full.get("iocs").and_then(|i| i.get("url")) {
            Some(v) => json!(v.as_array().map_or(0, Vec::len)),
            None => json!("0"),
        };
        Ok(json!({"taxonomies": [
            Analyzer::build_taxonomy("info", "EmlParser", "Attachments", attachments),
            Analyzer::build_taxonomy("info", "EmlParser", "Urls", urls),
        ]}))
    }

    fn artifacts(&self, a: &Analyzer, full: &Value) -> Result<Vec<Value>> {
        if !a.auto_extract() {
            return Ok(Vec::new());
        }
        let iocs = &full["iocs"];
        let mut seen: std::collections::HashSet<(String, String)> =
            std::collections::HashSet::new();
        let mut out = Vec::new();
        for (key, data_type, extra) in [
            ("url", "url", &["autoImport:true"][..]),
            ("ip", "ip", &["autoImport:true"]),
            ("email", "mail", &["autoImport:true"]),
            ("domain", "domain", &[]),
        ] {
            for entry in iocs[key].as_array().into_iter().flatten() {
                let data = entry["data"].as_str().unwrap_or("").to_string();
                if seen.insert((data_type.to_string(), data.clone())) {
                    out.push(a.build_artifact_with(
                        data_type,
                        data,
                        with_tags(tags(entry, extra)),
                    )?);
                }
            }
        }
        let out_dir = a.output_directory().unwrap_or_default();
        for entry in iocs["hash"].as_array().into_iter().flatten() {
            let mut attachment_tags = vec![json!("body:attachment"), json!("autoImport:true")];
            attachment_tags.extend(entry["tag"].as_array().cloned().unwrap_or_default());
            let sha256 = entry["hash"].as_str().unwrap_or("").to_string();
            let filename = entry["filename"].as_str().unwrap_or("").to_string();
            if seen.insert(("hash".into(), sha256.clone())) {
                out.push(a.build_artifact_with(
                    "hash",
                    sha256.clone(),
                    with_tags(attachment_tags.clone()),
                )?);
            }
            if seen.insert(("filename".into(), filename.clone())) {
                out.push(a.build_artifact_with(
                    "filename",
                    filename.clone(),
                    with_tags(attachment_tags.clone()),
                )?);
            }
            let path = out_dir
                .join(analysis::attachment_output_name(&filename, &sha256))
                .to_string_lossy()
                .into_owned();
            if seen.insert(("file".into(), path.clone())) {
                out.push(a.build_artifact_with("file", path, with_tags(attachment_tags))?);
            }
        }
        Ok(out)
    }
}

fn main() -> ExitCode {
    cortex_sdk::run_analyzer(EmlParser)
}
