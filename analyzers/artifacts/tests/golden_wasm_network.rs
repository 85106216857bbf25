//! The network analyzers' golden corpora, run through the wasm sandbox as WASI 0.2 components:
//! each port's report must equal the Python original's (`expected.json`) for the same job, both
//! answered by the local API stand-in (`api-standin`). The port reaches the stand-in the way
//! Cortex configures the original — `config.proxy.https` and the job's `config.cacerts` — and
//! only through the sandbox's network policy, which allows its one API origin; the stand-in's
//! counters show that every request went to that origin.

use std::path::Path;
use std::time::Duration;

use analyzer_golden::{Corpus, Ended};
use api_standin::{ApiStandin, Options, placeholders};
use serde_json::Value;
use wasm_host::NetworkPolicy;

/// `(worker name, analyzer crate folder, the one origin its policy allows)`.
const ANALYZERS: &[(&str, &str, &str)] = &[
    ("AbuseIPDB", "abuseipdb", "https://api.abuseipdb.com"),
    ("URLhaus", "urlhaus", "https://urlhaus-api.abuse.ch"),
    ("GreyNoise", "greynoise", "https://api.greynoise.io"),
];

/// The network of one job, as the runner builds it: the worker's allowlist, the proxy and the
/// CA bundle of the job's `config`.
fn network(origin: &str, input: &Value) -> NetworkPolicy {
    let config = &input["config"];
    NetworkPolicy {
        allow: vec![origin.parse().unwrap()],
        proxy: wasm_host::net::Proxies {
            https: config["proxy"]["https"]
                .as_str()
                .map(|p| p.parse().unwrap()),
            http: None,
        },
        extra_roots_pem: config["cacerts"]
            .as_str()
            .unwrap_or_default()
            .as_bytes()
            .to_vec(),
        ..NetworkPolicy::default()
    }
}

#[test]
fn every_network_port_reproduces_its_originals_reports_in_the_sandbox() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let standin = runtime
        .block_on(ApiStandin::start(Options::default()))
        .unwrap();
    let sandbox = wasm_host::Sandbox::new(wasm_host::SandboxConfig::default()).unwrap();
    let analyzers = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut reports = Vec::new();
    for (worker, dir, origin) in ANALYZERS {
        let module_path = analyzer_artifacts::module_path(worker).expect("component is built");
        let module = sandbox.load(Path::new(module_path)).unwrap();
        assert_eq!(module.kind(), wasm_host::ModuleKind::Component, "{worker}");
        let corpus = Corpus::of_crate(analyzers.join(dir));
        reports.push(corpus.check_filled(
            |job| {
                let input: Value =
                    serde_json::from_slice(&std::fs::read(job.input().join("input.json")).unwrap())
                        .unwrap();
                let spec = wasm_host::RunSpec {
                    input_dir: job.input(),
                    output_dir: job.output(),
                    env: Vec::new(),
                    network: Some(network(origin, &input)),
                    limits: wasm_host::Limits {
                        timeout: Duration::from_secs(60),
                        ..wasm_host::Limits::default()
                    },
                };
                let record = runtime.block_on(sandbox.run(&module, spec)).unwrap();
                assert_eq!(
                    record.network.as_ref().map(|n| n.denied),
                    Some(0),
                    "{worker}: {record:?}"
                );
                Ended {
                    code: record.exit_code(),
                    detail: format!("{worker}: {record:?}"),
                }
            },
            |input| placeholders::fill(input, &standin),
            |report| placeholders::restore(report, &standin),
        ));
    }
    analyzer_golden::assert_passed(&reports);
    // Everything the ports sent went through the proxy to their own API hosts.
    let stats = standin.stats();
    let hosts: std::collections::BTreeSet<&str> = stats
        .requests
        .keys()
        .map(|k| k.split('/').next().unwrap_or_default())
        .collect();
    assert_eq!(
        hosts,
        std::collections::BTreeSet::from([
            "api.abuseipdb.com",
            "api.greynoise.io",
            "urlhaus-api.abuse.ch"
        ])
    );
}
