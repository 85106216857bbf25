//! Every analyzer's golden corpus, run through the wasm sandbox: the report the wasm port writes
//! must equal the Python original's report (`expected.json`), case by case, and the guest must
//! exit 0 after a success and 1 after a failure.
//!
//! The corpus layout, the normalisations and the relaxations of `tests/corpus/relaxed.json` are
//! the shared harness's (`analyzer-golden`), as for the native golden tests; objects are compared
//! without their key order here, which is what a JSON object is for Cortex and TheHive.

use std::path::Path;
use std::time::Duration;

use analyzer_golden::{Corpus, Ended};

/// `(worker name, analyzer crate folder)`.
const ANALYZERS: &[(&str, &str)] = &[
    ("EmlParser", "eml-parser"),
    ("FileInfo", "file-info"),
    ("MSDefenderOffice365_SafeLinksDecoder", "safelinks-decoder"),
    ("ValidateObservable", "validate-observable"),
];

#[test]
fn every_wasm_port_reproduces_its_originals_reports() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sandbox = wasm_host::Sandbox::new(wasm_host::SandboxConfig::default()).unwrap();
    let analyzers = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut reports = Vec::new();
    for (worker, dir) in ANALYZERS {
        let module_path = analyzer_artifacts::module_path(worker).expect("module is built");
        let module = sandbox.load(Path::new(module_path)).unwrap();
        let corpus = Corpus::of_crate(analyzers.join(dir));
        reports.push(corpus.check(|job| {
            let spec = wasm_host::RunSpec {
                input_dir: job.input(),
                output_dir: job.output(),
                env: Vec::new(),
                network: None,
                limits: wasm_host::Limits {
                    timeout: Duration::from_secs(120),
                    memory_bytes: 1024 * 1024 * 1024,
                    ..wasm_host::Limits::default()
                },
            };
            let record = runtime.block_on(sandbox.run(&module, spec)).unwrap();
            Ended {
                code: record.exit_code(),
                detail: format!("{worker}: {record:?}"),
            }
        }));
    }
    analyzer_golden::assert_passed(&reports);
}
