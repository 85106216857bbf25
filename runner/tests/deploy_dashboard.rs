//! `deploy/grafana/cortex-runner.json`: valid JSON, a Grafana dashboard whose every PromQL
//! expression names only the service's metrics (the issue 11 contract: names, kinds, labels),
//! each metric shown at least once; and the contract is what `serve` exports: run with the
//! cluster's `deploy/kustomize/base/config.toml` (Kubernetes off), it answers the probes the
//! manifests use and its `/metrics` has every one of these metrics and no other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cortex_job::{JobFolder, JobInput};
use serde_json::{Value, json};

mod common;
mod service_common;

use service_common::{Server, TOKEN};

/// The metrics `/metrics` exports: name (as scraped, counters with `_total`), OpenMetrics type
/// (a histogram has `_bucket`, `_sum`, `_count` series and the label `le`), and its labels.
const METRICS: &[(&str, &str, &[&str])] = &[
    (
        "cortex_runner_jobs_total",
        "counter",
        &["worker", "backend", "outcome"],
    ),
    (
        "cortex_runner_job_duration_seconds",
        "histogram",
        &["backend"],
    ),
    ("cortex_runner_queue_depth", "gauge", &[]),
    ("cortex_runner_jobs_in_flight", "gauge", &[]),
    ("cortex_runner_module_cache_hits_total", "counter", &[]),
    ("cortex_runner_module_compile_seconds", "histogram", &[]),
    (
        "cortex_runner_http_requests_total",
        "counter",
        &["route", "status"],
    ),
    ("cortex_runner_kubernetes_api_errors_total", "counter", &[]),
    (
        "cortex_runner_kubernetes_watch_restarts_total",
        "counter",
        &[],
    ),
];

/// Labels Prometheus adds to every scraped series.
const TARGET_LABELS: &[&str] = &["instance", "job", "pod", "namespace"];

/// The PromQL functions and aggregations the dashboard may call.
const FUNCTIONS: &[&str] = &[
    "sum",
    "rate",
    "increase",
    "histogram_quantile",
    "max",
    "avg",
];

/// A series name → (the metric it belongs to, the labels it may carry).
fn series() -> BTreeMap<String, (&'static str, BTreeSet<&'static str>)> {
    let mut all = BTreeMap::new();
    for &(name, kind, labels) in METRICS {
        let mut labels: BTreeSet<&str> = labels.iter().copied().collect();
        labels.extend(TARGET_LABELS);
        if kind == "histogram" {
            for suffix in ["_sum", "_count"] {
                all.insert(format!("{name}{suffix}"), (name, labels.clone()));
            }
            let mut bucket = labels.clone();
            bucket.insert("le");
            all.insert(format!("{name}_bucket"), (name, bucket));
        } else {
            all.insert(name.to_string(), (name, labels));
        }
    }
    all
}

#[derive(Debug, PartialEq)]
enum Token {
    Ident(String),
    Str,
    Number,
    Punct(char),
}

/// Splits a PromQL expression into tokens; a range (`[5m]`, `[$__rate_interval]`) is dropped.
fn tokens(expr: &str) -> Vec<Token> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '[' {
            let end = chars[i..].iter().position(|&c| c == ']').unwrap();
            i += end + 1;
        } else if c == '"' {
            i += 1;
            while chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push(Token::Str);
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            out.push(Token::Number);
        } else {
            out.push(Token::Punct(c));
            i += 1;
        }
    }
    out
}

/// What one expression uses: the metrics, and errors for anything outside the contract.
fn check(expr: &str, used: &mut BTreeSet<&'static str>) -> Vec<String> {
    let series = series();
    let tokens = tokens(expr);
    let mut errors = Vec::new();
    let mut grouping = Vec::new();
    let mut labels_in_expr: BTreeSet<&str> = BTreeSet::new();
    let mut i = 0;
    while i < tokens.len() {
        let Token::Ident(word) = &tokens[i] else {
            i += 1;
            continue;
        };
        let next = tokens.get(i + 1);
        if word == "by" || word == "without" {
            // `by (a, b)`: the labels up to `)`.
            i += 2;
            while tokens[i] != Token::Punct(')') {
                if let Token::Ident(label) = &tokens[i] {
                    grouping.push(label.clone());
                }
                i += 1;
            }
        } else if matches!(next, Some(Token::Punct('(')))
            || matches!(next, Some(Token::Ident(w)) if w == "by" || w == "without")
        {
            // A call, or an aggregation written `sum by (a) (...)`.
            if !FUNCTIONS.contains(&word.as_str()) {
                errors.push(format!("unknown function {word}"));
            }
            i += 1;
        } else {
            let known = series.get(word);
            match known {
                None => errors.push(format!("{word} is not a metric of the contract")),
                Some((metric, labels)) => {
                    used.insert(*metric);
                    labels_in_expr.extend(labels.iter().copied());
                }
            }
            i += 1;
            // `{label op "value", ...}`
            if tokens.get(i) == Some(&Token::Punct('{')) {
                while tokens[i] != Token::Punct('}') {
                    if let (Token::Ident(label), Some((_, labels))) = (&tokens[i], known)
                        && !labels.contains(label.as_str())
                    {
                        errors.push(format!("{word} has no label {label}"));
                    }
                    i += 1;
                }
            }
        }
    }
    for label in grouping {
        if !labels_in_expr.contains(label.as_str()) {
            errors.push(format!("no metric of the expression has the label {label}"));
        }
    }
    errors
}

fn dashboard() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/grafana/cortex-runner.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_query_names_only_contract_metrics_and_every_metric_is_shown() {
    let dashboard = dashboard();
    let mut used = BTreeSet::new();
    let mut errors = Vec::new();
    let mut ids = BTreeSet::new();
    let panels = dashboard["panels"].as_array().unwrap();
    for panel in panels {
        let title = panel["title"].as_str().unwrap();
        assert!(
            ids.insert(panel["id"].as_u64().unwrap()),
            "duplicate id: {title}"
        );
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title}");
        for target in targets {
            let expr = target["expr"].as_str().unwrap();
            errors.extend(
                check(expr, &mut used)
                    .into_iter()
                    .map(|e| format!("{title}: {e}: {expr}")),
            );
        }
    }
    // The worker variable: label_values(metric, label).
    for var in dashboard["templating"]["list"].as_array().unwrap() {
        if var["type"] == "query" {
            let query = var["query"]["query"].as_str().unwrap();
            let inner = query
                .strip_prefix("label_values(")
                .and_then(|q| q.strip_suffix(')'))
                .unwrap();
            let (metric, label) = inner.split_once(", ").unwrap();
            let expr = format!("sum by ({label}) ({metric})");
            errors.extend(
                check(&expr, &mut used)
                    .into_iter()
                    .map(|e| format!("{query}: {e}")),
            );
        }
    }
    assert_eq!(errors, Vec::<String>::new());
    let all: BTreeSet<&str> = METRICS.iter().map(|m| m.0).collect();
    assert_eq!(used, all, "every metric has a panel");
}

#[test]
fn the_checker_refuses_what_the_contract_does_not_have() {
    let mut used = BTreeSet::new();
    assert_eq!(
        check(
            r#"sum by (queue) (rate(cortex_runner_jobs{worker="x"}[5m])) + cortex_runner_queue_depth{outcome="y"} + irate(cortex_runner_jobs_in_flight[1m])"#,
            &mut used
        ),
        [
            "cortex_runner_jobs is not a metric of the contract",
            "cortex_runner_queue_depth has no label outcome",
            "unknown function irate",
            "no metric of the expression has the label queue",
        ]
    );
    assert!(
        check(
            "histogram_quantile(0.99, sum by (le) (rate(cortex_runner_job_duration_seconds_bucket[5m])))",
            &mut used
        )
        .is_empty()
    );
    assert!(!check("cortex_runner_job_duration_seconds", &mut used).is_empty());
}

/// The cluster's config.toml with what needs a cluster or the image redirected into `dir`:
/// Kubernetes off, the repository's policies, the cache, the job root and the token in `dir`.
fn cluster_config_here(dir: &Path) -> std::path::PathBuf {
    let base = common::repo().join("deploy/kustomize/base/config.toml");
    let mut config: toml::Table = std::fs::read_to_string(base).unwrap().parse().unwrap();
    let path = |p: &Path| toml::Value::String(p.to_str().unwrap().to_string());
    let mut set = |section: &str, key: &str, value: toml::Value| {
        config[section]
            .as_table_mut()
            .unwrap()
            .insert(key.to_string(), value);
    };
    set("jobs", "root", path(&dir.join("jobs")));
    set("policies", "dir", path(&common::repo().join("policies")));
    set("wasm", "cache_dir", path(&dir.join("cache")));
    set("kubernetes", "enabled", toml::Value::Boolean(false));
    set("service", "token_file", path(&dir.join("token")));
    std::fs::create_dir_all(dir.join("jobs")).unwrap();
    std::fs::write(dir.join("token"), format!("{TOKEN}\n")).unwrap();
    let file = dir.join("config.toml");
    std::fs::write(&file, toml::to_string(&config).unwrap()).unwrap();
    file
}

#[test]
fn the_service_answers_the_probes_and_exports_exactly_the_contract_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let config = cluster_config_here(dir.path());
    // As the Deployment runs it (JSON logs); `start` waits for /readyz to answer 200.
    let server = Server::start(&config, &["--log-format", "json"]);
    let health = server.get("/healthz", None);
    assert_eq!(
        (health.status, health.json()),
        (200, json!({"status": "ok"}))
    );
    assert_eq!(
        server.get("/readyz", None).json(),
        json!({"status": "ready"})
    );

    // One job, so that the per-job families have series.
    let input = JobInput::new("ip", json!("8.8.8.8"));
    let folder = JobFolder::create(&dir.path().join("jobs"), "dash", &input, None).unwrap();
    let rel = folder.path().file_name().unwrap().to_str().unwrap();
    let accepted = server.submit("ValidateObservable", rel);
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.json()["id"].as_str().unwrap().to_string();
    let done = server.get(&format!("/v1/jobs/{id}/wait?timeout=60s"), Some(TOKEN));
    assert_eq!(
        (&done.json()["state"], &done.json()["success"]),
        (&json!("done"), &json!(true)),
        "{}",
        done.body
    );

    let metrics = server.get("/metrics", None).body;
    // Every metric of the contract, with its type (a counter's family drops `_total`).
    let types: BTreeMap<&str, &str> = metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split_once(' ').unwrap())
        .filter(|(name, _)| name.starts_with("cortex_runner_"))
        .collect();
    let expected: BTreeMap<&str, &str> = METRICS
        .iter()
        .map(|&(name, kind, _)| (name.strip_suffix("_total").unwrap_or(name), kind))
        .collect();
    assert_eq!(types, expected, "{metrics}");
    // Every series is one the dashboard's checker accepts, with only the contract's labels.
    let series = series();
    for line in metrics.lines().filter(|l| l.starts_with("cortex_runner_")) {
        let name_end = line.find(['{', ' ']).unwrap();
        let name = &line[..name_end];
        let Some((_, labels)) = series.get(name) else {
            panic!("{name} is exported but not in the contract: {line}");
        };
        if line[name_end..].starts_with('{') {
            let inner = &line[name_end + 1..line.find('}').unwrap()];
            for pair in inner.split("\",") {
                let label = pair.split('=').next().unwrap();
                assert!(
                    labels.contains(label),
                    "{name} has the label {label}: {line}"
                );
            }
        }
    }
    assert!(
        metrics.contains(
            r#"cortex_runner_jobs_total{worker="ValidateObservable",backend="wasm",outcome="success"} 1"#
        ),
        "{metrics}"
    );
}
