//! GreyNoise: looks an IPv4 address up in the GreyNoise API v3 (`/v3/ip/<ip>`), a drop-in port of
//! the Cortex analyzer `GreyNoise` 3.2 (`analyzers/GreyNoise/greynoisev3.py`), which calls
//! `GreyNoise.ip()` of the `greynoise` package 3.0.1. What that client does is reproduced here:
//! its IP validation and messages, its headers, its three retries of a 429 or 5xx answer
//! (urllib3's `Retry(total=3, backoff_factor=1)`, honouring `Retry-After`), a 404's body taken as
//! the answer, and its `RequestFailure(status, body)` messages.

mod pyrepr;

use std::time::Duration;

use analyzer_validate_observable::pyip::{PyIp, ip_address};
use cortex_sdk::http::{Client, HttpError, Response};
use cortex_sdk::serde_json::{Value, json};
use cortex_sdk::{Analyze, Analyzer, Error, Hooks, Result, truthy};

const API_SERVER: &str = "https://api.greynoise.io";
/// `GreyNoise/<package version> (<integration name>)`.
const USER_AGENT: &str = "GreyNoise/3.0.1 (greynoise-cortex-analyzer-v3.2)";
/// `APIConfig(timeout=30)`.
const TIMEOUT: Duration = Duration::from_secs(30);
/// urllib3's `Retry(total=3, status_forcelist=[429, 500, 502, 503, 504])`.
const RETRIES: u32 = 3;
const RETRY_STATUSES: [u16; 5] = [429, 500, 502, 503, 504];
/// The longest `Retry-After` honoured (urllib3 has no bound; a job must have one).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
const NS: &str = "GreyNoise";

struct GreyNoise;

/// Why `GreyNoise.ip()` raised; its `Display` is the exception's `str`.
fn request_failure(status: u16, body: &str) -> Error {
    Error::msg(format!("({status}, {body})"))
}

/// `validate_ip(ip)`: a global IPv4 address, or the package's `ValueError` message.
fn validate_ip(ip: &str) -> Result<()> {
    let repr = pyrepr::repr_str(ip);
    match ip_address(ip) {
        None => Err(Error::msg(format!("Invalid IP address: {repr}"))),
        Some(PyIp::V6(_)) => Err(Error::msg(format!(
            "IPv6 addresses are not supported: {repr}"
        ))),
        // `IPv4Address.is_global`: outside 100.64.0.0/10 and not private (CPython 3.11.7).
        Some(address @ PyIp::V4(v)) => {
            if (v & 0xFFC0_0000) == 0x6440_0000 || address.is_private() {
                Err(Error::msg(format!("Non-Routable IP address: {repr}")))
            } else {
                Ok(())
            }
        }
    }
}

/// How long urllib3 waits before retry number `retry` (1-based) after `response`: the
/// `Retry-After` of a 413, 429 or 503 when it is a number of seconds, else the backoff
/// `backoff_factor * 2 ** (retry - 1)`, nothing before the first retry.
fn retry_delay(response: &Response, retry: u32) -> Duration {
    if matches!(response.status, 413 | 429 | 503)
        && let Some(seconds) = response
            .header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Duration::from_secs(seconds).min(MAX_RETRY_AFTER);
    }
    if retry <= 1 {
        Duration::ZERO
    } else {
        Duration::from_secs(1 << (retry - 1))
    }
}

/// `GreyNoise._request(endpoint)`: GET with the package's headers, retried as its session does.
fn api_request(a: &Analyzer, ip: &str) -> Result<Value> {
    let client =
        Client::new(a).map_err(|e| request_failure(0, &pyrepr::repr_str(&e.to_string())))?;
    let path = format!("/v3/ip/{ip}");
    let url = format!("{API_SERVER}{path}");
    let api_key = a.get_param("config.key");
    let mut retry = 0;
    let response = loop {
        let mut request = client
            .get(&url)
            .header("User-Agent", USER_AGENT)
            .timeout(TIMEOUT);
        // requests leaves out a header whose value is None (no `config.key`).
        if let Some(key) = api_key {
            request = request.header(
                "key",
                key.as_str()
                    .map_or_else(|| key.to_string(), str::to_owned)
                    .as_str(),
            );
        }
        let response = request
            .send()
            .map_err(|e| request_failure(0, &pyrepr::repr_str(&e.to_string())))?;
        if !RETRY_STATUSES.contains(&response.status) {
            break response;
        }
        if retry == RETRIES {
            let message = format!(
                "HTTPSConnectionPool(host='api.greynoise.io', port=443): Max retries exceeded \
                 with url: {path} (Caused by ResponseError('too many {} error responses'))",
                response.status
            );
            return Err(request_failure(0, &pyrepr::repr_str(&message)));
        }
        retry += 1;
        std::thread::sleep(retry_delay(&response, retry));
    };
    let is_json = response
        .header("content-type")
        .is_some_and(|t| t.contains("application/json"));
    let body = if is_json {
        match response.json() {
            Ok(body) => body,
            Err(HttpError::Json(e)) => {
                // requests' JSONDecodeError carries Python's `json` message.
                let message = cortex_sdk::pyjson::decode_error(&response.text())
                    .unwrap_or_else(|| e.to_string());
                return Err(request_failure(0, &pyrepr::repr_str(&message)));
            }
            Err(other) => return Err(request_failure(0, &pyrepr::repr_str(&other.to_string()))),
        }
    } else {
        Value::String(response.text())
    };
    if response.status >= 400 && response.status != 404 {
        return Err(request_failure(response.status, &pyrepr::repr(&body)));
    }
    Ok(body)
}

/// `GreyNoise.ip(ip)`: validation, the request, and the "not found" shape.
fn ip_context(a: &Analyzer, ip: &str) -> Result<Value> {
    validate_ip(ip)?;
    let mut response = api_request(a, ip)?;
    match &mut response {
        Value::Object(map) => {
            if !map.contains_key("ip") {
                map.insert("ip".to_owned(), json!(ip));
                map.insert(
                    "business_service_intelligence".to_owned(),
                    json!({"found": false}),
                );
                map.insert(
                    "internet_scanner_intelligence".to_owned(),
                    json!({"found": false}),
                );
            }
        }
        // `"ip" in text` is a substring test; assigning into a str fails.
        Value::String(text) if text.contains("ip") => {}
        Value::String(_) => {
            return Err(Error::msg("'str' object does not support item assignment"));
        }
        Value::Array(items) if items.iter().any(|i| *i == "ip") => {}
        Value::Array(_) => {
            return Err(Error::msg(
                "list indices must be integers or slices, not str",
            ));
        }
        _ => return Err(Error::msg("argument of type is not iterable")),
    }
    Ok(response)
}

impl Analyze for GreyNoise {
    fn run(&self, a: &Analyzer) -> Result<Value> {
        if a.data_type() != "ip" {
            return Err(Error::msg(
                "This datatype is not supported by this analyzer.",
            ));
        }
        let ip = a.get_data_str()?;
        ip_context(a, ip).map_err(|e| Error::msg(format!("Unable to query GreyNoise API\n{e}")))
    }
}

/// `classification_level_map[classification](tag_count)`; `None` for a classification the map
/// lacks (the original then fails, and its summary is dropped).
fn level(classification: &Value, tag_count: Option<usize>) -> Option<&'static str> {
    match classification.as_str()? {
        "benign" => Some("safe"),
        "unknown" => Some(match tag_count {
            Some(n) if n > 2 => "suspicious",
            _ => "info",
        }),
        "suspicious" => Some("suspicious"),
        "malicious" => Some("malicious"),
        _ => None,
    }
}

/// `section.get(key, default)` on a dict, or the `AttributeError` that drops the summary.
fn get(section: &Value, key: &str, default: Value) -> Result<Value> {
    match section {
        Value::Object(map) => Ok(map.get(key).cloned().unwrap_or(default)),
        _ => Err(Error::msg("object has no attribute 'get'")),
    }
}

fn scanner_taxonomies(isi: &Value, taxonomies: &mut Vec<Value>) -> Result<Value> {
    let tags = get(isi, "tags", json!([]))?;
    let tag_count = match &tags {
        Value::Array(items) => {
            for tag in items {
                get(tag, "name", Value::Null)?;
            }
            items.len()
        }
        _ => return Err(Error::msg("tags is not a list")),
    };
    let classification = get(isi, "classification", json!("unknown"))?;
    let actor = get(isi, "actor", json!(""))?;
    let t1 = level(&classification, Some(tag_count)).ok_or("unknown classification")?;
    taxonomies.push(Analyzer::build_taxonomy(t1, NS, "tags", tag_count));
    let t2 = level(&classification, None).ok_or("unknown classification")?;
    if classification == "benign" {
        taxonomies.push(Analyzer::build_taxonomy(t2, NS, "actor", actor));
    } else {
        taxonomies.push(Analyzer::build_taxonomy(
            t2,
            NS,
            "classification",
            classification.clone(),
        ));
    }
    Ok(classification)
}

impl Hooks for GreyNoise {
    fn summary(&self, _a: &Analyzer, raw: &Value) -> Result<Value> {
        let mut taxonomies = Vec::new();
        let isi = get(raw, "internet_scanner_intelligence", json!({}))?;
        let bsi = get(raw, "business_service_intelligence", json!({}))?;
        let scanner_found = truthy(&get(&isi, "found", json!(false))?);
        let business_found = truthy(&get(&bsi, "found", json!(false))?);
        match (scanner_found, business_found) {
            (true, false) => {
                scanner_taxonomies(&isi, &mut taxonomies)?;
            }
            (false, true) => {
                let trust_level = get(&bsi, "trust_level", json!(0))?;
                let category = get(&bsi, "category", json!(""))?;
                // `trust_level == 1` is true for 1, 1.0 and True.
                let trusted = trust_level.as_f64() == Some(1.0) || trust_level == true;
                let classification = json!(if trusted { "benign" } else { "unknown" });
                let name = get(&bsi, "name", json!(""))?;
                let lvl = level(&classification, None).ok_or("unknown classification")?;
                taxonomies.push(Analyzer::build_taxonomy(
                    lvl,
                    NS,
                    "classification",
                    classification,
                ));
                taxonomies.push(Analyzer::build_taxonomy(lvl, NS, "Name", name));
                taxonomies.push(Analyzer::build_taxonomy(lvl, NS, "Type", category));
            }
            (true, true) => {
                let category = get(&bsi, "category", json!(""))?;
                let name = get(&bsi, "name", json!(""))?;
                let classification = scanner_taxonomies(&isi, &mut taxonomies)?;
                let lvl = level(&classification, None).ok_or("unknown classification")?;
                taxonomies.push(Analyzer::build_taxonomy(lvl, NS, "Name", name));
                taxonomies.push(Analyzer::build_taxonomy(lvl, NS, "Type", category));
            }
            (false, false) => taxonomies.push(Analyzer::build_taxonomy(
                "info",
                NS,
                "IP not observed scanning the internet in the last 90 days",
                false,
            )),
        }
        Ok(json!({"taxonomies": taxonomies}))
    }
}

fn main() -> std::process::ExitCode {
    cortex_sdk::run_analyzer(GreyNoise)
}
