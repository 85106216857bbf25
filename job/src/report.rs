//! The report a worker writes to `output/output.json`: the success and the failure shapes.
//!
//! These are the typed view for code that builds or reads reports (the SDK, tests, the lead's
//! CLI). [`crate::finalise`] works on the raw JSON instead, because it must accept whatever a
//! hostile worker wrote, repair what Cortex tolerates and name precisely what it rejects.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;

/// A report: `{"success": true, ...}` or `{"success": false, ...}`.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// The worker succeeded.
    Success(SuccessReport),
    /// The worker (or the runner on its behalf) reports a failure.
    Failure(FailureReport),
}

/// The body of a successful report.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SuccessReport {
    /// The short report TheHive shows next to the observable.
    #[serde(default)]
    pub summary: Summary,
    /// Observables extracted from the analysis.
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
    /// Actions for TheHive to carry out (responders).
    #[serde(default)]
    pub operations: Vec<Operation>,
    /// The full report: any object (Cortex fails the job with "Report creation failure"
    /// otherwise). [`crate::finalise`] adds `runnerWarnings` here.
    pub full: Map<String, Value>,
    /// Every other top-level key, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The body of a failure report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureReport {
    /// What went wrong, shown to the Cortex user.
    pub error_message: String,
    /// The job input with secrets redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// What [`crate::finalise`] removed or repaired in the output folder.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runner_warnings: Vec<String>,
    /// Every other top-level key, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `summary`: the taxonomies TheHive shows as coloured tags.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Summary {
    /// The tags.
    #[serde(default)]
    pub taxonomies: Vec<Taxonomy>,
    /// Every other key, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One summary tag: `namespace:predicate="value"` coloured by `level`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Taxonomy {
    /// The colour.
    pub level: Level,
    /// Usually the analyzer's name.
    pub namespace: String,
    /// Usually the service or the property.
    pub predicate: String,
    /// A string, number or boolean (cortexutils passes through whatever the analyzer gives).
    pub value: Value,
}

/// A taxonomy level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Neutral information (blue).
    Info,
    /// Known good (green).
    Safe,
    /// Worth a look (orange).
    Suspicious,
    /// Known bad (red).
    Malicious,
}

impl Level {
    /// Every level, in the order Cortex documents them.
    pub const ALL: [Level; 4] = [
        Level::Info,
        Level::Safe,
        Level::Suspicious,
        Level::Malicious,
    ];

    /// The level's name in a report.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Safe => "safe",
            Level::Suspicious => "suspicious",
            Level::Malicious => "malicious",
        }
    }

    /// The level named exactly `name` (lower case, as TheHive expects), if any.
    pub fn parse(name: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|level| level.as_str() == name)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An artifact: an observable value, or a file the worker left in `output/`.
#[derive(Debug, Clone, PartialEq)]
pub enum Artifact {
    /// `{"dataType": "ip", "data": "1.2.3.4", ...}`.
    Data(DataArtifact),
    /// `{"dataType": "file", "file": "<name in output/>", "filename": "...", ...}`.
    File(FileArtifact),
}

/// An observable value found by the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataArtifact {
    /// Its type (never `file`).
    pub data_type: String,
    /// Its value.
    pub data: String,
    /// Other keys Cortex copies onto the artifact (`tags`, `message`, `tlp`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A file the worker wrote directly into `output/` (the `dataType` is `file`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileArtifact {
    /// Its name in `output/`: one path component.
    pub file: String,
    /// The name TheHive gives the attachment (Cortex ignores the artifact without one).
    pub filename: String,
    /// Its MIME type; Cortex assumes `application/octet-stream` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Other keys Cortex copies onto the artifact (`tags`, `message`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An operation for TheHive, e.g. `{"type": "AddTagToCase", "tag": "phishing"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// Its type: `AddTagToArtifact`, `AddTagToCase`, `CreateTask`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Its parameters.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

/// Serialises `body` with a leading `tag_key: tag_value` entry.
fn serialize_tagged<S: Serializer, T: Serialize>(
    serializer: S,
    tag_key: &'static str,
    tag_value: Value,
    body: &T,
) -> Result<S::Ok, S::Error> {
    let body = serde_json::to_value(body).map_err(serde::ser::Error::custom)?;
    let mut map = Map::new();
    map.insert(tag_key.to_owned(), tag_value);
    if let Value::Object(fields) = body {
        map.extend(fields);
    }
    map.serialize(serializer)
}

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Report::Success(body) => serialize_tagged(serializer, "success", true.into(), body),
            Report::Failure(body) => serialize_tagged(serializer, "success", false.into(), body),
        }
    }
}

impl<'de> Deserialize<'de> for Report {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut map = Map::<String, Value>::deserialize(deserializer)?;
        match map.remove("success") {
            Some(Value::Bool(true)) => serde_json::from_value(Value::Object(map))
                .map(Report::Success)
                .map_err(D::Error::custom),
            Some(Value::Bool(false)) => serde_json::from_value(Value::Object(map))
                .map(Report::Failure)
                .map_err(D::Error::custom),
            _ => Err(D::Error::custom("a report needs a boolean `success`")),
        }
    }
}

impl Serialize for Artifact {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Artifact::Data(body) => body.serialize(serializer),
            Artifact::File(body) => serialize_tagged(serializer, "dataType", "file".into(), body),
        }
    }
}

impl<'de> Deserialize<'de> for Artifact {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut map = Map::<String, Value>::deserialize(deserializer)?;
        if map.get("dataType").and_then(Value::as_str) == Some("file") {
            map.remove("dataType");
            serde_json::from_value(Value::Object(map))
                .map(Artifact::File)
                .map_err(D::Error::custom)
        } else {
            serde_json::from_value(Value::Object(map))
                .map(Artifact::Data)
                .map_err(D::Error::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_success_report_round_trips_with_success_first() {
        let text = json!({
            "success": true,
            "summary": {"taxonomies": [{"level": "malicious", "namespace": "VT", "predicate": "Score", "value": 7}]},
            "artifacts": [{"dataType": "ip", "data": "1.2.3.4", "tags": ["c2"]},
                          {"dataType": "file", "file": "tmp1", "filename": "a.exe", "contentType": "application/x-dosexec"}],
            "operations": [{"type": "AddTagToCase", "tag": "x"}],
            "full": {"score": 7},
            "extraKey": 1
        });
        let report: Report = serde_json::from_value(text.clone()).unwrap();
        let Report::Success(body) = &report else {
            panic!("parsed {report:?}")
        };
        assert_eq!(body.summary.taxonomies[0].level, Level::Malicious);
        assert!(matches!(&body.artifacts[1], Artifact::File(f) if f.file == "tmp1"));
        assert_eq!(body.operations[0].kind, "AddTagToCase");
        let back = serde_json::to_value(&report).unwrap();
        assert_eq!(back, text);
        assert_eq!(back.as_object().unwrap().keys().next().unwrap(), "success");
    }

    #[test]
    fn a_failure_report_round_trips() {
        let text = json!({"success": false, "errorMessage": "boom", "input": {"dataType": "ip"}});
        let report: Report = serde_json::from_value(text.clone()).unwrap();
        assert_eq!(
            report,
            Report::Failure(FailureReport {
                error_message: "boom".into(),
                input: Some(json!({"dataType": "ip"})),
                runner_warnings: vec![],
                extra: Map::new(),
            })
        );
        assert_eq!(serde_json::to_value(&report).unwrap(), text);
    }

    #[test]
    fn a_report_without_boolean_success_is_rejected() {
        let err = serde_json::from_value::<Report>(json!({"success": "yes"})).unwrap_err();
        assert_eq!(err.to_string(), "a report needs a boolean `success`");
    }

    #[test]
    fn levels_are_exact_lower_case_names() {
        assert_eq!(Level::parse("suspicious"), Some(Level::Suspicious));
        assert_eq!(Level::parse("Malicious"), None);
        let err = serde_json::from_value::<Level>(json!("critical")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown variant `critical`, expected one of `info`, `safe`, `suspicious`, `malicious`"
        );
    }
}
