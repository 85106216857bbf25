//! Checking a success report against what Cortex needs, repairing what Cortex would tolerate.
//!
//! The rules, from Cortex 4.1's `JobRunnerSrv.extractReport`: `full` must be an object or the
//! job fails with "Report creation failure", so a report without one fails here with that said.
//! `summary`, `artifacts` and `operations` default to empty when absent; when present with the
//! wrong type Cortex silently reads them as empty, and so does this module, with a warning.
//! A malformed entry inside them would make Cortex drop the whole list (`asOpt[Seq[JsObject]]`)
//! or fail artifact creation, so this module drops just that entry, with a warning naming its
//! index in the worker's report and the reason. A job is never failed for a bad summary tag or
//! artifact: the analysis in `full` is still worth having.

use crate::output_dir::{OutputDir, REPORT, shown};
use crate::report::Level;
use serde_json::{Map, Value};

/// The JSON kind of `value`, as a message says it.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks and repairs a report whose `success` is `true`; `Err` says why the job must fail.
pub(crate) fn validate_success(
    mut report: Map<String, Value>,
    out: &OutputDir,
    warnings: &mut Vec<String>,
) -> Result<Map<String, Value>, String> {
    match report.get("full") {
        Some(Value::Object(_)) => {}
        found => {
            let what = found.map_or("no `full`".to_owned(), |v| {
                format!("a `full` that is {}", kind(v))
            });
            return Err(format!(
                "output.json reports success but has {what}, not an object (Cortex would fail the job with \"Report creation failure\")"
            ));
        }
    }
    match report.get_mut("summary") {
        None => {
            report.insert("summary".into(), Value::Object(Map::new()));
        }
        Some(Value::Object(summary)) => check_taxonomies(summary, warnings),
        Some(other) => {
            warnings.push(format!(
                "replaced `summary`, {}, by {{}} (Cortex ignores a summary that is not an object)",
                kind(other)
            ));
            *other = Value::Object(Map::new());
        }
    }
    filter_list(&mut report, "artifacts", warnings, |entry| {
        check_artifact(entry, out)
    });
    filter_list(&mut report, "operations", warnings, |entry| {
        match entry.get("type") {
            Some(Value::String(_)) => Ok(()),
            _ => Err("no string `type`".to_owned()),
        }
    });
    Ok(report)
}

/// Drops the invalid entries of `summary.taxonomies`.
fn check_taxonomies(summary: &mut Map<String, Value>, warnings: &mut Vec<String>) {
    let Some(taxonomies) = summary.get_mut("taxonomies") else {
        return;
    };
    let Value::Array(entries) = taxonomies else {
        warnings.push(format!(
            "replaced `summary.taxonomies`, {}, by []",
            kind(taxonomies)
        ));
        *taxonomies = Value::Array(Vec::new());
        return;
    };
    retain_indexed(entries, |index, entry| match check_taxonomy(entry) {
        Ok(()) => true,
        Err(reason) => {
            warnings.push(format!("dropped summary.taxonomies[{index}]: {reason}"));
            false
        }
    });
}

fn check_taxonomy(entry: &Value) -> Result<(), String> {
    let Value::Object(fields) = entry else {
        return Err(format!("{}, not an object", kind(entry)));
    };
    match fields.get("level") {
        Some(Value::String(level)) if Level::parse(level).is_some() => {}
        Some(Value::String(level)) => {
            return Err(format!(
                "level \"{}\" is not one of info, safe, suspicious, malicious",
                shown(level)
            ));
        }
        _ => return Err("no string `level`".to_owned()),
    }
    for key in ["namespace", "predicate"] {
        if !matches!(fields.get(key), Some(Value::String(_))) {
            return Err(format!("no string `{key}`"));
        }
    }
    match fields.get("value") {
        Some(Value::String(_) | Value::Number(_) | Value::Bool(_)) => Ok(()),
        Some(other) => Err(format!(
            "`value` is {}, not a string, number or boolean",
            kind(other)
        )),
        None => Err("no `value`".to_owned()),
    }
}

/// Why an artifact entry must be dropped, if it must.
fn check_artifact(entry: &Map<String, Value>, out: &OutputDir) -> Result<(), String> {
    let Some(Value::String(data_type)) = entry.get("dataType") else {
        return Err("no string `dataType`".to_owned());
    };
    if data_type != "file" {
        return match entry.get("data") {
            Some(Value::String(_)) => Ok(()),
            Some(other) => Err(format!("`data` is {}, not a string", kind(other))),
            None => Err("no `data`".to_owned()),
        };
    }
    let Some(Value::String(file)) = entry.get("file") else {
        return Err("file artifact with no string `file`".to_owned());
    };
    let name = shown(file);
    if file.is_empty() || file == "." || file == ".." || file.contains(['/', '\\', '\0']) {
        return Err(format!(
            "file \"{name}\" is not a plain file name directly in output/"
        ));
    }
    if file == REPORT {
        return Err(format!("file \"{name}\" is the report itself"));
    }
    if let Some(what) = out.removed(file) {
        return Err(format!("file \"{name}\" was {what}, removed from output/"));
    }
    if !out.is_regular_file(file) {
        return Err(format!("file \"{name}\" does not exist in output/"));
    }
    if !matches!(entry.get("filename"), Some(Value::String(_))) {
        return Err(format!(
            "file \"{name}\" has no string `filename` (Cortex ignores such an artifact)"
        ));
    }
    Ok(())
}

/// Defaults `report[key]` to `[]`, replaces a non-array by `[]`, and drops the entries that are
/// not objects or that `check` rejects, each with a warning.
fn filter_list(
    report: &mut Map<String, Value>,
    key: &str,
    warnings: &mut Vec<String>,
    check: impl Fn(&Map<String, Value>) -> Result<(), String>,
) {
    let list = report
        .entry(key)
        .or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(entries) = list else {
        warnings.push(format!(
            "replaced `{key}`, {}, by [] (Cortex ignores {key} that are not an array)",
            kind(list)
        ));
        *list = Value::Array(Vec::new());
        return;
    };
    retain_indexed(entries, |index, entry| {
        let verdict = match entry {
            Value::Object(fields) => check(fields),
            other => Err(format!("{}, not an object", kind(other))),
        };
        match verdict {
            Ok(()) => true,
            Err(reason) => {
                warnings.push(format!("dropped {key}[{index}]: {reason}"));
                false
            }
        }
    });
}

/// `Vec::retain` with each entry's original index.
fn retain_indexed(entries: &mut Vec<Value>, mut keep: impl FnMut(usize, &Value) -> bool) {
    let mut index = 0;
    entries.retain(|entry| {
        let kept = keep(index, entry);
        index += 1;
        kept
    });
}
