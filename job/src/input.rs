//! The job input (`input/input.json`) and the secret redaction cortexutils applies to it.
//!
//! Cortex writes the keys in this order (`JobRunnerSrv.prepareJobFolder`): either `data` or
//! `file`/`filename`/`contentType`, then `dataType`, `tlp`, `pap`, `message`, `parameters` and
//! `config`. [`JobInput`] declares its fields in the same order so that serialising it produces the
//! same layout, and keeps every key it does not know in [`JobInput::extra`] so that nothing a newer
//! Cortex adds is lost on the way through.

use crate::scrub::Secrets;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::ops::RangeInclusive;

/// What cortexutils writes in place of a secret configuration value.
pub const REDACTED: &str = "REMOVED";

/// The lower-case fragments that mark a `config` key as secret (cortexutils'
/// `DEFAULT_SECRET_PHRASES`).
pub const SECRET_PHRASES: [&str; 3] = ["key", "password", "secret"];

/// The TLP levels Cortex accepts: 0 (white), 1 (green), 2 (amber), 3 (red). Cortex checks them
/// with `TlpAttributeFormat.isValidValue` (`0 <= value && value <= 3`), the attribute format of
/// its job's `tlp` and `pap` (`app/org/thp/cortex/models/TlpAttributeFormat.scala`, `Job.scala`).
pub const TLP_RANGE: RangeInclusive<i64> = 0..=3;

/// The PAP levels Cortex accepts: 0 to 3, the same check as [`TLP_RANGE`] (Cortex's job model
/// gives `pap` the very attribute format of `tlp`).
pub const PAP_RANGE: RangeInclusive<i64> = 0..=3;

/// A `tlp` or `pap` outside the levels Cortex accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{key}` is {value}, outside the levels Cortex accepts ({} to {})",
    level_range(key).start(),
    level_range(key).end()
)]
pub struct LevelError {
    /// `tlp` or `pap`.
    pub key: &'static str,
    /// The value found.
    pub value: i64,
}

fn level_range(key: &str) -> RangeInclusive<i64> {
    if key == "pap" { PAP_RANGE } else { TLP_RANGE }
}

/// The TLP and PAP level cortexutils assumes when `input.json` has none (amber).
const DEFAULT_LEVEL: i64 = 2;

fn default_level() -> i64 {
    DEFAULT_LEVEL
}

/// The content of `input/input.json`: what Cortex hands a worker for one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobInput {
    /// The observable: a string for analyzers, an object for responders, absent for files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// For `dataType: "file"`: the attachment's name inside `input/` (random, chosen by Cortex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// For `dataType: "file"`: the observable's original file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// For `dataType: "file"`: the observable's MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The observable type: `ip`, `domain`, `file`, `thehive:case`, ...
    pub data_type: String,
    /// The Traffic Light Protocol level, 0 (white) to 3 (red) ([`TLP_RANGE`], checked by
    /// [`JobInput::check_levels`]); cortexutils assumes 2 when absent.
    #[serde(default = "default_level")]
    pub tlp: i64,
    /// The Permissible Actions Protocol level, 0 to 3 ([`PAP_RANGE`]); cortexutils assumes 2
    /// when absent.
    #[serde(default = "default_level")]
    pub pap: i64,
    /// Free text attached to the job, often empty.
    #[serde(default)]
    pub message: String,
    /// The job parameters.
    #[serde(default)]
    pub parameters: Map<String, Value>,
    /// The worker configuration, API keys and passwords included in clear.
    #[serde(default)]
    pub config: Map<String, Value>,
    /// Every other key, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl JobInput {
    /// An input for an analyzer observable `data` of type `data_type`, with Cortex's defaults
    /// (TLP and PAP 2, empty message, parameters and config).
    pub fn new(data_type: impl Into<String>, data: impl Into<Value>) -> Self {
        Self {
            data: Some(data.into()),
            file: None,
            filename: None,
            content_type: None,
            data_type: data_type.into(),
            tlp: DEFAULT_LEVEL,
            pap: DEFAULT_LEVEL,
            message: String::new(),
            parameters: Map::new(),
            config: Map::new(),
            extra: Map::new(),
        }
    }

    /// This input as the JSON value Cortex would have written.
    pub fn to_value(&self) -> Value {
        // Serialising a struct of JSON values into a JSON value cannot fail: every map key is a
        // string and every leaf is already a `Value`.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// This input as the JSON value with secrets redacted (see [`redact_secrets`]).
    pub fn redacted(&self) -> Value {
        let mut value = self.to_value();
        redact_in_place(&mut value);
        value
    }

    /// The secret values of `config` to scrub from free text such as a worker's stderr (see
    /// [`Secrets`]).
    pub fn secrets(&self) -> Secrets {
        Secrets::of(&self.config)
    }

    /// Checks `tlp` and `pap` against [`TLP_RANGE`] and [`PAP_RANGE`].
    pub fn check_levels(&self) -> Result<(), LevelError> {
        for (key, value, range) in [("tlp", self.tlp, TLP_RANGE), ("pap", self.pap, PAP_RANGE)] {
            if !range.contains(&value) {
                return Err(LevelError { key, value });
            }
        }
        Ok(())
    }
}

/// Whether cortexutils treats a `config` key as secret: its lower-cased name contains `key`,
/// `password` or `secret`.
pub fn is_secret_key(key: &str) -> bool {
    let lower = key.to_lowercase();
    SECRET_PHRASES.iter().any(|phrase| lower.contains(phrase))
}

/// A copy of `input` in which every top-level `config` key that [`is_secret_key`] is `"REMOVED"`,
/// exactly as cortexutils 2.2.1's `Worker.error` does it.
///
/// Like cortexutils, only the direct keys of `config` are looked at (a secret nested deeper stays),
/// the value is replaced whatever its type, and an input without an object `config` is returned
/// unchanged (cortexutils would crash on a non-object `config`; a redaction must not).
pub fn redact_secrets(input: &Value) -> Value {
    let mut copy = input.clone();
    redact_in_place(&mut copy);
    copy
}

fn redact_in_place(input: &mut Value) {
    let Some(config) = input.get_mut("config").and_then(Value::as_object_mut) else {
        return;
    };
    for (key, value) in config.iter_mut() {
        if is_secret_key(key) {
            *value = Value::String(REDACTED.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redaction_matches_cortexutils_on_top_level_config_keys() {
        let input = json!({
            "dataType": "ip", "data": "1.2.3.4",
            "config": {"api_key": "k1", "Password": 7, "clientSecret": {"a": 1}, "KEYring": "x",
                       "username": "bob", "nested": {"password": "stays"}},
            "parameters": {"password": "not config, stays"}
        });
        assert_eq!(
            redact_secrets(&input),
            json!({
                "dataType": "ip", "data": "1.2.3.4",
                "config": {"api_key": "REMOVED", "Password": "REMOVED", "clientSecret": "REMOVED",
                           "KEYring": "REMOVED", "username": "bob",
                           "nested": {"password": "stays"}},
                "parameters": {"password": "not config, stays"}
            })
        );
    }

    #[test]
    fn redaction_leaves_inputs_without_an_object_config_alone() {
        let odd = json!({"dataType": "ip", "config": ["key"]});
        assert_eq!(redact_secrets(&odd), odd);
        assert_eq!(redact_secrets(&json!("text")), json!("text"));
    }

    #[test]
    fn unknown_keys_survive_a_round_trip_in_cortex_order() {
        let text = r#"{"data":"x","dataType":"other","tlp":1,"pap":3,"message":"m","parameters":{},"config":{"k":1},"future":[1]}"#;
        let input: JobInput = serde_json::from_str(text).unwrap();
        assert_eq!(input.extra.get("future"), Some(&json!([1])));
        assert_eq!(serde_json::to_string(&input).unwrap(), text);
    }

    #[test]
    fn missing_levels_default_to_amber_as_in_cortexutils() {
        let input: JobInput =
            serde_json::from_str(r#"{"dataType":"ip","data":"1.1.1.1"}"#).unwrap();
        assert_eq!((input.tlp, input.pap), (2, 2));
    }

    #[test]
    fn levels_outside_cortexs_range_are_named() {
        let mut input = JobInput::new("ip", "1.2.3.4");
        assert_eq!(input.check_levels(), Ok(()));
        input.tlp = 3;
        input.pap = 0;
        assert_eq!(input.check_levels(), Ok(()));
        input.tlp = 9;
        let error = input.check_levels().unwrap_err();
        assert_eq!(
            error,
            LevelError {
                key: "tlp",
                value: 9
            }
        );
        assert_eq!(
            error.to_string(),
            "`tlp` is 9, outside the levels Cortex accepts (0 to 3)"
        );
        input.tlp = 0;
        input.pap = -1;
        assert_eq!(
            input.check_levels().unwrap_err().to_string(),
            "`pap` is -1, outside the levels Cortex accepts (0 to 3)"
        );
    }
}
