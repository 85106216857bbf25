//! ValidateObservable, a drop-in port of the Cortex analyzer of the same name: is the observable
//! a well-formed value of its data type, and does it hide a trick (Punycode or other IDN
//! labels, bidirectional overrides, private or reserved addresses, double extensions)? The
//! report, taxonomy and error messages are the original's.

use std::process::ExitCode;

use analyzer_validate_observable::validators::validate;
use cortex_sdk::serde_json::Value;
use cortex_sdk::{Analyze, Analyzer, Error, Hooks, Result, run_analyzer};

/// The data types the original validates.
const SUPPORTED: [&str; 9] = [
    "ip",
    "domain",
    "url",
    "fqdn",
    "mail",
    "hash",
    "filename",
    "uri_path",
    "user-agent",
];

/// The analyzer: `run` validates, `summary` makes the one taxonomy; artifacts are cortexutils'
/// auto-extraction, as in the original.
struct ValidateObservable;

impl Hooks for ValidateObservable {
    /// `ValidateObs:<dataType>="<status>"`, level `info` when valid and `suspicious` otherwise.
    fn summary(&self, analyzer: &Analyzer, full: &Value) -> Result<Value> {
        let status = full.get("status").cloned().unwrap_or(Value::Null);
        let level = if status == "valid" {
            "info"
        } else {
            "suspicious"
        };
        let taxonomy = Analyzer::build_taxonomy(level, "ValidateObs", analyzer.data_type(), status);
        Ok(cortex_sdk::serde_json::json!({ "taxonomies": [taxonomy] }))
    }
}

impl Analyze for ValidateObservable {
    fn run(&self, analyzer: &Analyzer) -> Result<Value> {
        let data_type = analyzer.data_type();
        // The data type is checked before the data is read, as the original does.
        if !SUPPORTED.contains(&data_type) {
            return Err(Error::msg(format!("Unsupported data type: {data_type}")));
        }
        let data = analyzer.get_data_str()?;
        match validate(data_type, data) {
            Some(Ok(full)) => Ok(full),
            // The original crashes with this exception; its traceback's last line becomes the
            // failure message (see README: "Crashes of the original").
            Some(Err(exception)) => Err(Error::msg(exception.to_string())),
            None => Err(Error::msg(format!("Unsupported data type: {data_type}"))),
        }
    }
}

fn main() -> ExitCode {
    run_analyzer(ValidateObservable)
}
