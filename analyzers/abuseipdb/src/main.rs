//! AbuseIPDB: checks an IP address (`/api/v2/check`) or a CIDR block (`/api/v2/check-block`)
//! against AbuseIPDB's API v2, a drop-in port of the Cortex analyzer `AbuseIPDB` 2.0
//! (`analyzers/AbuseIPDB/abuseipdb.py`): same requests, same report, same error messages.

mod isotime;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cortex_sdk::http::Client;
use cortex_sdk::serde_json::{Map, Value, json};
use cortex_sdk::{Analyze, Analyzer, Error, Hooks, Result, truthy};

const CHECK_URL: &str = "https://api.abuseipdb.com/api/v2/check";
const CHECK_BLOCK_URL: &str = "https://api.abuseipdb.com/api/v2/check-block";
const NS: &str = "AbuseIPDB";

/// The report categories by number (<https://www.abuseipdb.com/categories>).
const CATEGORIES: [&str; 23] = [
    "DNS Compromise",
    "DNS Poisoning",
    "Fraud Orders",
    "DDOS Attack",
    "FTP Brute-Force",
    "Ping of Death",
    "Phishing",
    "Fraud VOIP",
    "Open Proxy",
    "Web Spam",
    "Email Spam",
    "Blog Spam",
    "VPN IP",
    "Port Scan",
    "Hacking",
    "SQL Injection",
    "Spoofing",
    "Brute Force",
    "Bad Web Bot",
    "Exploited Host",
    "Web App Attack",
    "SSH",
    "IoT Targeted",
];

struct AbuseIpdb;

/// `str(value)` for the JSON values a parameter can hold.
fn py_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Null => "None".to_owned(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => cortex_sdk::pyjson::python_float_repr(f),
            _ => n.to_string(),
        },
        other => cortex_sdk::pyjson::to_python_json(other),
    }
}

/// `extract_abuse_ipdb_category`: the name of category `str(number)`.
fn category_name(category: &Value) -> &'static str {
    let key = py_str(category);
    match key.parse::<usize>() {
        Ok(n) if (1..=23).contains(&n) && key == n.to_string() => CATEGORIES[n - 1],
        _ => "Unknown Category",
    }
}

/// `Counter.most_common(n)`: by count, descending, ties in first-seen order.
fn most_common<K: PartialEq + Clone>(
    items: impl IntoIterator<Item = K>,
    n: usize,
) -> Vec<(K, u64)> {
    let mut counts: Vec<(K, u64)> = Vec::new();
    for item in items {
        match counts.iter_mut().find(|(k, _)| *k == item) {
            Some((_, c)) => *c += 1,
            None => counts.push((item, 1)),
        }
    }
    // A stable sort keeps first-seen order among equal counts, as Python's sorted does.
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    counts.truncate(n);
    counts
}

/// The original's `x.get(key)`, with Python's falsy values treated as absent where it writes
/// `x.get(key) or default`.
fn get<'a>(object: &'a Value, key: &str) -> Option<&'a Value> {
    object.as_object().and_then(|o| o.get(key))
}

fn get_or_str(object: &Value, key: &str, default: &str) -> String {
    match get(object, key) {
        Some(v) if truthy(v) => py_str(v),
        _ => default.to_owned(),
    }
}

/// The freshness windows: how many timestamps are at most 24 hours and 7 days before now.
fn freshness<'a>(stamps: impl Iterator<Item = Option<&'a Value>>) -> Result<Value> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64();
    let (mut last_24h, mut last_7d) = (0u64, 0u64);
    for stamp in stamps {
        let Some(Value::String(text)) = stamp.filter(|v| truthy(v)) else {
            continue;
        };
        let age = match isotime::parse(text) {
            None => continue,
            Some(isotime::Parsed::Naive) => {
                return Err(Error::msg(
                    "Unexpected Error: can't subtract offset-naive and offset-aware datetimes",
                ));
            }
            Some(isotime::Parsed::Aware(at)) => now - at,
        };
        if age <= 24.0 * 3600.0 {
            last_24h += 1;
        }
        if age <= 7.0 * 24.0 * 3600.0 {
            last_7d += 1;
        }
    }
    Ok(json!({"last24h": last_24h, "last7d": last_7d}))
}

fn unexpected(message: impl std::fmt::Display) -> Error {
    Error::msg(format!("Unexpected Error: {message}"))
}

impl AbuseIpdb {
    fn query(&self, a: &Analyzer, url: &str, params: &[(&str, &str)], key: &str) -> Result<Value> {
        let client = Client::new(a).map_err(unexpected)?;
        let mut request = client
            .get(url)
            .header("Accept", "application/json")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Key", key)
            .header("User-Agent", "strangebee-thehive/1.0");
        for (name, value) in params {
            request = request.query(name, value);
        }
        let response = request.send().map_err(unexpected)?;
        if !response.is_success() {
            return Err(Error::msg(format!(
                "Unable to query AbuseIPDB API\n{}",
                response.text()
            )));
        }
        // Python's `json` words a malformed body its own way; the original prints that.
        response.json().map_err(|e| match e {
            cortex_sdk::http::HttpError::Json(json) => {
                match cortex_sdk::pyjson::decode_error(&response.text()) {
                    Some(python) => unexpected(python),
                    None => unexpected(json),
                }
            }
            other => unexpected(other),
        })
    }

    fn check_single_ip(&self, a: &Analyzer, ip: &str, days: &str, key: &str) -> Result<Value> {
        let json_response = self.query(
            a,
            CHECK_URL,
            &[
                ("maxAgeInDays", days),
                ("verbose", "True"),
                ("ipAddress", ip),
            ],
            key,
        )?;
        let mut values = match json_response {
            Value::Array(items) => items,
            other => vec![other],
        };
        for resp in &mut values {
            let data = resp.get("data").ok_or_else(|| unexpected("'data'"))?;
            if get(data, "reports").is_none() {
                continue;
            }
            let mut categories_strings: Vec<&'static str> = Vec::new();
            let data = resp
                .get_mut("data")
                .and_then(Value::as_object_mut)
                .ok_or_else(|| unexpected("'data'"))?;
            if let Some(Value::Array(reports)) = data.get_mut("reports") {
                for item in reports.iter_mut() {
                    let names: Vec<&'static str> = match item.get("categories") {
                        Some(Value::Array(c)) => c.iter().map(category_name).collect(),
                        _ => return Err(unexpected("'categories'")),
                    };
                    for name in &names {
                        if !categories_strings.contains(name) {
                            categories_strings.push(name);
                        }
                    }
                    if let Some(item) = item.as_object_mut() {
                        item.insert("categories_strings".to_owned(), json!(names));
                    }
                }
            }
            let reports: Vec<Value> = match data.get("reports") {
                Some(Value::Array(r)) => r.clone(),
                _ => Vec::new(),
            };
            let countries = most_common(
                reports.iter().map(|r| {
                    let code = get_or_str(r, "reporterCountryCode", "??").to_uppercase();
                    let name = get_or_str(r, "reporterCountryName", &code);
                    (code, name)
                }),
                6,
            );
            let categories = most_common(
                reports.iter().flat_map(|r| {
                    get(r, "categories_strings")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
                }),
                6,
            );
            let fresh = freshness(reports.iter().map(|r| get(r, "reportedAt")))?;
            let resp = resp.as_object_mut().ok_or_else(|| unexpected("'data'"))?;
            resp.insert("categories_strings".to_owned(), json!(categories_strings));
            resp.insert(
                "reporting_countries".to_owned(),
                Value::Array(
                    countries
                        .into_iter()
                        .map(|((code, name), count)| json!({"code": code, "name": name, "count": count}))
                        .collect(),
                ),
            );
            resp.insert(
                "category_counts".to_owned(),
                Value::Array(
                    categories
                        .into_iter()
                        .map(|(category, count)| json!({"category": category, "count": count}))
                        .collect(),
                ),
            );
            resp.insert("freshness".to_owned(), fresh);
        }
        Ok(json!({"values": values, "query_type": "check"}))
    }

    fn check_block(&self, a: &Analyzer, network: &str, days: &str, key: &str) -> Result<Value> {
        let json_response = self.query(
            a,
            CHECK_BLOCK_URL,
            &[("maxAgeInDays", days), ("network", network)],
            key,
        )?;
        let Value::Object(response) = &json_response else {
            return Err(unexpected(format!(
                "'{}' object has no attribute 'get'",
                if json_response.is_array() {
                    "list"
                } else {
                    "str"
                }
            )));
        };
        let data = response.get("data").cloned().unwrap_or_else(|| json!({}));
        let reported: Vec<Value> = match get(&data, "reportedAddress") {
            Some(Value::Array(r)) => r.clone(),
            _ => Vec::new(),
        };
        let numbers = |key: &'static str| {
            reported
                .iter()
                .map(move |a| get(a, key).cloned().unwrap_or(json!(0)))
        };
        let total_reports = py_sum(numbers("numReports"));
        let max_score = py_max(numbers("abuseConfidenceScore"));
        let fresh = freshness(reported.iter().map(|a| get(a, "mostRecentReport")))?;
        let countries = most_common(
            reported
                .iter()
                .map(|a| get_or_str(a, "countryCode", "??").to_uppercase()),
            6,
        );
        let field = |key: &str| get(&data, key).cloned().unwrap_or(Value::Null);
        let result = json!({
            "data": data,
            "summary": {
                "networkAddress": field("networkAddress"),
                "netmask": field("netmask"),
                "minAddress": field("minAddress"),
                "maxAddress": field("maxAddress"),
                "numPossibleHosts": field("numPossibleHosts"),
                "addressSpaceDesc": field("addressSpaceDesc"),
                "reportedAddressCount": reported.len(),
                "totalReports": total_reports,
                "maxAbuseConfidenceScore": max_score,
            },
            "freshness": fresh,
            "reporting_countries": countries
                .into_iter()
                .map(|(code, count)| json!({"code": code, "count": count}))
                .collect::<Vec<_>>(),
        });
        Ok(json!({"values": [result], "query_type": "check-block"}))
    }
}

/// Python's `sum` over JSON numbers (integers stay integers).
fn py_sum(values: impl Iterator<Item = Value>) -> Value {
    let mut int: i64 = 0;
    let mut float: Option<f64> = None;
    for v in values {
        match (v.as_i64(), v.as_f64(), float) {
            (Some(i), _, None) => int = int.saturating_add(i),
            (_, Some(f), None) => float = Some(int as f64 + f),
            (_, Some(f), Some(acc)) => float = Some(acc + f),
            _ => {}
        }
    }
    float.map_or(json!(int), |f| json!(f))
}

/// Python's `max(values, default=0)` over JSON numbers.
fn py_max(values: impl Iterator<Item = Value>) -> Value {
    let mut best: Option<Value> = None;
    for v in values {
        let greater = match &best {
            None => true,
            Some(b) => v.as_f64().unwrap_or(f64::MIN) > b.as_f64().unwrap_or(f64::MIN),
        };
        if greater {
            best = Some(v);
        }
    }
    best.unwrap_or(json!(0))
}

/// `x >= 75` / `x > 0` on a JSON number.
fn number(value: &Value) -> Option<f64> {
    value.as_f64()
}

fn level_for(score: f64) -> &'static str {
    if score >= 75.0 {
        "malicious"
    } else if score > 0.0 {
        "suspicious"
    } else {
        "safe"
    }
}

impl Analyze for AbuseIpdb {
    fn run(&self, a: &Analyzer) -> Result<Value> {
        if a.data_type() != "ip" {
            return Err(Error::msg(
                "This datatype is not supported by this analyzer.",
            ));
        }
        let key = py_str(a.require_param("config.key", "Missing AbuseIPDB API key")?);
        let days = py_str(&a.get_param_or("config.days", 30));
        let ip = a.get_data_str()?;
        if ip.contains('/') {
            self.check_block(a, ip, &days, &key)
        } else {
            self.check_single_ip(a, ip, &days, &key)
        }
    }
}

impl Hooks for AbuseIpdb {
    fn summary(&self, _a: &Analyzer, raw: &Value) -> Result<Value> {
        let values = match get(raw, "values") {
            Some(v) if truthy(v) => v,
            _ => return Ok(json!({"taxonomies": []})),
        };
        let first = values.get(0).ok_or("list index out of range")?;
        let mut taxonomies = Vec::new();
        if get(raw, "query_type")
            .and_then(Value::as_str)
            .unwrap_or("check")
            == "check-block"
        {
            let empty = json!({});
            let summary = get(first, "summary").unwrap_or(&empty);
            let field = |k: &str| get(summary, k).cloned().unwrap_or(json!(0));
            let (reported, total, max) = (
                field("reportedAddressCount"),
                field("totalReports"),
                field("maxAbuseConfidenceScore"),
            );
            let max_n = number(&max).ok_or("'>=' not supported")?;
            taxonomies.push(Analyzer::build_taxonomy(
                level_for(max_n),
                NS,
                "Max Score",
                max,
            ));
            if number(&reported).ok_or("'>' not supported")? > 0.0 {
                taxonomies.push(Analyzer::build_taxonomy(
                    "suspicious",
                    NS,
                    "Reported IPs",
                    reported,
                ));
            } else {
                taxonomies.push(Analyzer::build_taxonomy("safe", NS, "Reported IPs", 0));
            }
            if number(&total).ok_or("'>' not supported")? > 0.0 {
                taxonomies.push(Analyzer::build_taxonomy("info", NS, "Total Reports", total));
            }
            return Ok(json!({"taxonomies": taxonomies}));
        }
        let empty = json!({});
        let data = get(first, "data").unwrap_or(&empty);
        let flag = |k: &str| get(data, k).is_some_and(truthy);
        let whitelisted = flag("isWhitelisted");
        if whitelisted {
            taxonomies.push(Analyzer::build_taxonomy("info", NS, "Whitelisted", "True"));
        }
        if flag("isTor") {
            taxonomies.push(Analyzer::build_taxonomy("info", NS, "Tor", "True"));
        }
        if let Some(usage) = get(data, "usageType") {
            taxonomies.push(Analyzer::build_taxonomy("info", NS, "Usage", usage.clone()));
        }
        if get(data, "abuseConfidenceScore").is_some() {
            let score = match get(data, "abuseConfidenceScore") {
                Some(v) if truthy(v) => py_int(v).ok_or("invalid literal for int()")?,
                _ => 0,
            };
            taxonomies.push(Analyzer::build_taxonomy(
                level_for(score as f64),
                NS,
                "Score",
                score,
            ));
        }
        let total = match get(data, "totalReports") {
            Some(v) if truthy(v) => v.clone(),
            _ => json!(0),
        };
        if number(&total).ok_or("'>' not supported")? > 0.0 {
            let level = if whitelisted { "info" } else { "malicious" };
            taxonomies.push(Analyzer::build_taxonomy(level, NS, "Reports", total));
        } else {
            taxonomies.push(Analyzer::build_taxonomy("safe", NS, "Reports", 0));
        }
        Ok(json!({"taxonomies": taxonomies}))
    }

    fn artifacts(&self, a: &Analyzer, raw: &Value) -> Result<Vec<Value>> {
        let Some(values) = get(raw, "values")
            .filter(|v| truthy(v))
            .and_then(Value::as_array)
        else {
            return Ok(Vec::new());
        };
        let tags = || {
            let mut kwargs = Map::new();
            kwargs.insert("tags".to_owned(), json!([NS]));
            kwargs
        };
        let mut artifacts = Vec::new();
        if get(raw, "query_type")
            .and_then(Value::as_str)
            .unwrap_or("check")
            == "check-block"
        {
            let mut ips: Vec<String> = Vec::new();
            for entry in values {
                let Some(Value::Array(addresses)) =
                    get(entry, "data").and_then(|d| get(d, "reportedAddress"))
                else {
                    continue;
                };
                for address in addresses {
                    if let Some(ip) = get(address, "ipAddress").filter(|v| truthy(v)) {
                        ips.push(py_str(ip));
                    }
                }
            }
            ips.sort();
            ips.dedup();
            for ip in ips {
                artifacts.push(a.build_artifact_with("ip", ip, tags())?);
            }
            return Ok(artifacts);
        }
        let clean = |v: &Value| -> String {
            if !truthy(v) {
                return String::new();
            }
            py_str(v).trim().trim_end_matches('.').to_lowercase()
        };
        let (mut domains, mut hostnames): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
        for entry in values {
            let empty = json!({});
            let data = get(entry, "data").filter(|d| truthy(d)).unwrap_or(&empty);
            if let Some(domain) = get(data, "domain") {
                let base = clean(domain);
                if !base.is_empty() {
                    domains.push(base);
                }
            }
            if let Some(Value::Array(hosts)) = get(data, "hostnames") {
                for host in hosts {
                    let host = clean(host);
                    if !host.is_empty() {
                        hostnames.push(host);
                    }
                }
            }
        }
        for (data_type, mut names) in [("domain", domains), ("fqdn", hostnames)] {
            names.sort();
            names.dedup();
            for name in names {
                artifacts.push(a.build_artifact_with(data_type, name, tags())?);
            }
        }
        Ok(artifacts)
    }
}

/// Python's `int(value)` for a number or a decimal string.
fn py_int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.trunc() as i64)),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

fn main() -> std::process::ExitCode {
    cortex_sdk::run_analyzer(AbuseIpdb)
}
