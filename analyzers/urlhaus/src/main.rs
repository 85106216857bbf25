//! URLhaus: looks a URL, a host (domain, FQDN, IP) or a payload hash (MD5, SHA-256) up in the
//! abuse.ch URLhaus API v1, a drop-in port of the Cortex analyzer `URLhaus` 2.0
//! (`analyzers/URLhaus/URLhaus_analyzer.py` and `URLhaus_client.py`): same requests, same
//! report, same error messages. Artifacts are cortexutils' auto-extraction, as in the original.

use cortex_sdk::http::{Client, HttpError};
use cortex_sdk::serde_json::{Value, json};
use cortex_sdk::{Analyze, Analyzer, Error, Hooks, Result, truthy};

const BASEURL: &str = "https://urlhaus-api.abuse.ch/v1/";
const NS: &str = "URLhaus";

struct Urlhaus;

/// `str(value)` for a JSON value (Python's spelling of `None`, `True`, `False`).
fn py_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        other => cortex_sdk::pyjson::to_python_json(other),
    }
}

/// `text[:500]`: the first 500 characters.
fn first_500(text: &str) -> String {
    text.chars().take(500).collect()
}

/// `URLhausClient.__request`: POSTs `{key: value}` to `BASEURL + endpoint + '/'`.
fn request(a: &Analyzer, endpoint: &str, key: &str, value: &str) -> Result<Value> {
    let client = Client::new(a)?;
    let mut builder = client
        .post(&format!("{BASEURL}{endpoint}/"))
        .form(&[(key, value)]);
    // requests leaves out a header whose value is None (no `config.API_Key`).
    if let Some(api_key) = a.get_param("config.API_Key") {
        builder = builder.header("Auth-Key", &py_str(api_key));
    }
    let response = builder.send()?;
    if response.status != 200 {
        return Err(Error::msg(format!(
            "URLhaus API returned HTTP {}: {}",
            response.status,
            first_500(&response.text())
        )));
    }
    let results = match response.json() {
        Ok(results) => results,
        Err(HttpError::Json(_)) => {
            return Err(Error::msg(format!(
                "URLhaus API returned non-JSON response: {}",
                first_500(&response.text())
            )));
        }
        Err(other) => return Err(other.into()),
    };
    let Value::Object(map) = &results else {
        return Err(Error::msg(format!(
            "'{}' object has no attribute 'get'",
            python_type(&results)
        )));
    };
    match map.get("query_status").and_then(Value::as_str) {
        Some("ok" | "no_results") => Ok(results),
        _ => Err(Error::msg(format!(
            "URLhaus query failed (query_status={}): <{key}: {value}>.",
            map.get("query_status").map_or("None".to_owned(), py_str)
        ))),
    }
}

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

impl Analyze for Urlhaus {
    fn run(&self, a: &Analyzer) -> Result<Value> {
        let data = a.get_data()?;
        if !truthy(data) {
            return Err(Error::msg("No observable or file given."));
        }
        let data = py_str(data);
        let mut results = match a.data_type() {
            "url" => request(a, "url", "url", &data)?,
            "domain" | "fqdn" | "ip" => request(a, "host", "host", &data)?,
            "hash" => match data.chars().count() {
                32 => request(a, "payload", "md5_hash", &data)?,
                64 => request(a, "payload", "sha256_hash", &data)?,
                _ => return Err(Error::msg("Only sha256 and md5 supported by URLhaus.")),
            },
            _ => return Err(Error::msg("Datatype not supported.")),
        };
        // dict.update keeps the position of a key that is already there; IndexMap does too.
        if let Some(map) = results.as_object_mut() {
            map.insert("data_type".to_owned(), json!(a.data_type()));
        }
        Ok(results)
    }
}

/// `raw[key]`, or the `KeyError` that makes cortexutils drop the summary.
fn item<'a>(raw: &'a Value, key: &str) -> Result<&'a Value> {
    raw.get(key).ok_or_else(|| Error::msg(format!("'{key}'")))
}

impl Hooks for Urlhaus {
    fn summary(&self, a: &Analyzer, raw: &Value) -> Result<Value> {
        let mut taxonomies = Vec::new();
        let status = item(raw, "query_status")?;
        let no_results = *status == "no_results"
            || (*status == "ok"
                && item(raw, "md5_hash")?.is_null()
                && item(raw, "sha256_hash")?.is_null());
        if no_results {
            taxonomies.push(Analyzer::build_taxonomy("info", NS, "Search", "No results"));
        } else {
            match a.data_type() {
                "url" => taxonomies.push(Analyzer::build_taxonomy(
                    "malicious",
                    NS,
                    "Threat",
                    item(raw, "threat")?.clone(),
                )),
                "domain" | "fqdn" | "ip" => {
                    let urls = item(raw, "urls")?
                        .as_array()
                        .ok_or("'urls' is not iterable")?;
                    let mut threats: Vec<&Value> = Vec::new();
                    for url in urls {
                        let threat = item(url, "threat")?;
                        if !threats.contains(&threat) {
                            threats.push(threat);
                        }
                    }
                    let names: Vec<&str> = threats
                        .iter()
                        .map(|t| t.as_str().ok_or("sequence item: expected str instance"))
                        .collect::<std::result::Result<_, _>>()?;
                    let predicate = if names.len() == 1 {
                        "Threat"
                    } else {
                        "Threats"
                    };
                    taxonomies.push(Analyzer::build_taxonomy(
                        "malicious",
                        NS,
                        predicate,
                        names.join(","),
                    ));
                }
                "hash" => {
                    let signature = item(raw, "signature")?;
                    let value = if truthy(signature) && *signature != "null" {
                        signature.clone()
                    } else {
                        json!("Unknown")
                    };
                    taxonomies.push(Analyzer::build_taxonomy(
                        "malicious",
                        NS,
                        "Signature",
                        value,
                    ));
                }
                _ => {}
            }
        }
        Ok(json!({"taxonomies": taxonomies}))
    }
}

fn main() -> std::process::ExitCode {
    cortex_sdk::run_analyzer(Urlhaus)
}
