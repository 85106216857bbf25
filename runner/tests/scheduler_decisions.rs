//! Every kind of decision, with its exact reason; and the failure report of a job whose backend
//! is absent (Kubernetes disabled).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cortex_job::{FinaliseOptions, JobFolder, JobInput};
use cortex_runner::backend::{
    Backend, BackendEnd, BackendJob, BackendKind, BoxFuture, Decision, LaneLimits, Route,
};
use cortex_runner::catalog::Catalog;
use cortex_runner::config::{KubernetesConfig, WasmConfig};
use cortex_runner::policy::{PolicyContext, PolicySet, load_str};
use cortex_runner::scheduler::{JobFacts, Load, Scheduler, decide};
use cortex_runner::workers::{Worker, WorkerTable};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The real catalogs plus a definition directory holding one worker with a command and no image.
fn catalog(extra: &Path) -> Catalog {
    let fixtures = manifest_dir().join("tests/fixtures/cortex-catalog");
    std::fs::write(
        extra.join("Local.json"),
        r#"{"name": "Local", "version": "1.0", "dataTypeList": ["ip"], "command": "local.py"}"#,
    )
    .unwrap();
    Catalog::load(
        &[fixtures.join("analyzers.json"), extra.to_path_buf()],
        &[fixtures.join("responders.json")],
    )
    .unwrap()
}

/// A worker table from `policies` (worker name, policy text), modules from `tests/ui/modules`.
fn table(policies: &[(&str, &str)]) -> (WorkerTable, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog(dir.path());
    let wasm = WasmConfig {
        module_dirs: vec![manifest_dir().join("tests/ui/modules")],
        builtin_modules: false,
        ..Default::default()
    };
    let kubernetes = KubernetesConfig::default();
    let ctx = PolicyContext {
        catalog: &catalog,
        wasm: &wasm,
        kubernetes: &kubernetes,
        builtin_modules: &[],
    };
    let mut set = PolicySet::default();
    for (worker, text) in policies {
        let path = PathBuf::from(format!("policies/{worker}.toml"));
        set.insert(load_str(worker, &path, text, &ctx).unwrap())
            .unwrap();
    }
    (WorkerTable::build(&catalog, &set, ""), dir)
}

fn facts(data_type: &str, input_bytes: u64) -> JobFacts {
    JobFacts {
        data_type: data_type.into(),
        input_bytes,
        tlp: 2,
        pap: 2,
    }
}

fn run(backend: BackendKind, reason: &str) -> Decision {
    Decision {
        route: Route::Run { backend },
        reason: reason.into(),
    }
}

fn refuse(message: &str, reason: &str) -> Decision {
    Decision {
        route: Route::Refused {
            message: message.into(),
        },
        reason: reason.into(),
    }
}

const MODULE: &str = "/tests/ui/modules/EmlParser.wasm";
const SHORT_SHA: &str = "93a44bbb96c7";

#[test]
fn wasm_as_written() {
    let (t, _d) = table(&[("EmlParser", "backend = \"wasm\"")]);
    let d = decide(
        t.get("EmlParser").unwrap(),
        &facts("file", 1000),
        Load::default(),
    );
    let module = format!("{}{MODULE}", manifest_dir().display());
    assert_eq!(
        d,
        run(
            BackendKind::Wasm,
            &format!(
                "policies/EmlParser.toml sets backend = \"wasm\"; module {module} (sha256 {SHORT_SHA}…, not pinned)"
            )
        )
    );
}

#[test]
fn kubernetes_as_written() {
    let (t, _d) = table(&[("FileInfo", "backend = \"kubernetes\"")]);
    let d = decide(
        t.get("FileInfo").unwrap(),
        &facts("file", 10),
        Load::default(),
    );
    assert_eq!(
        d,
        run(
            BackendKind::Kubernetes,
            "policies/FileInfo.toml sets backend = \"kubernetes\""
        )
    );
}

#[test]
fn auto_takes_wasm_when_a_verified_module_exists_and_kubernetes_otherwise() {
    let pin = "93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476";
    let (t, _d) = table(&[
        (
            "EmlParser",
            &format!("backend = \"auto\"\n[wasm]\nsha256 = \"{pin}\"\n"),
        ),
        ("FileInfo", "backend = \"auto\""),
    ]);
    let module = format!("{}{MODULE}", manifest_dir().display());
    assert_eq!(
        decide(
            t.get("EmlParser").unwrap(),
            &facts("file", 10),
            Load::default()
        ),
        run(
            BackendKind::Wasm,
            &format!(
                "policies/EmlParser.toml sets backend = \"auto\" and module {module} is verified (sha256 {SHORT_SHA}…, pinned)"
            )
        )
    );
    let modules = manifest_dir().join("tests/ui/modules");
    assert_eq!(
        decide(
            t.get("FileInfo").unwrap(),
            &facts("file", 10),
            Load::default()
        ),
        run(
            BackendKind::Kubernetes,
            &format!(
                "policies/FileInfo.toml sets backend = \"auto\" and no module FileInfo.wasm was found (looked in: {})",
                modules.display()
            )
        )
    );
}

#[test]
fn no_policy_means_kubernetes_with_an_image_and_refusal_without() {
    let (t, _d) = table(&[]);
    assert_eq!(
        decide(
            t.get("FileInfo_8_0").unwrap(),
            &facts("file", 10),
            Load::default()
        ),
        run(
            BackendKind::Kubernetes,
            "no policy for FileInfo; its catalog Docker image ghcr.io/thehive-project/fileinfo:8 runs on Kubernetes"
        )
    );
    let message = "no policy for Local and no Docker image in its catalog entry: nothing can run it (add policies/Local.toml)";
    assert_eq!(
        decide(t.get("Local").unwrap(), &facts("ip", 10), Load::default()),
        refuse(message, message)
    );
}

#[test]
fn an_input_above_the_wasm_limit_goes_to_kubernetes() {
    let (t, _d) = table(&[(
        "EmlParser",
        "backend = \"wasm\"\n[wasm]\nmax_input_mib = 1\n",
    )]);
    let worker = t.get("EmlParser").unwrap();
    assert_eq!(
        decide(worker, &facts("file", 1024 * 1024), Load::default()).backend(),
        Some(BackendKind::Wasm)
    );
    assert_eq!(
        decide(worker, &facts("file", 3 * 1024 * 1024 / 2), Load::default()),
        run(
            BackendKind::Kubernetes,
            "input is 1.5 MiB, above the wasm limit of 1 MiB (wasm.max_input_mib of policies/EmlParser.toml)"
        )
    );
}

#[test]
fn saturated_wasm_overflows_to_kubernetes_only_when_asked_and_available() {
    let (t, _d) = table(&[
        (
            "EmlParser",
            "backend = \"wasm\"\noverflow = \"kubernetes\"\n[wasm]\nconcurrency = 2\n",
        ),
        (
            "Custom",
            "backend = \"wasm\"\n[worker]\ndata_types = [\"ip\"]\n[wasm]\nconcurrency = 2\n",
        ),
    ]);
    let eml = t.get("EmlParser").unwrap();
    let busy = Load {
        wasm_running: 2,
        overflow_available: true,
    };
    assert_eq!(
        decide(eml, &facts("file", 10), busy),
        run(
            BackendKind::Kubernetes,
            "wasm is saturated for EmlParser (2 of 2 running) and policies/EmlParser.toml sets overflow = \"kubernetes\""
        )
    );
    // One slot free: wasm.
    assert_eq!(
        decide(
            eml,
            &facts("file", 10),
            Load {
                wasm_running: 1,
                overflow_available: true
            }
        )
        .backend(),
        Some(BackendKind::Wasm)
    );
    // Saturated but no Kubernetes to overflow to: the job waits for wasm, and the reason says so.
    let d = decide(
        eml,
        &facts("file", 10),
        Load {
            wasm_running: 2,
            overflow_available: false,
        },
    );
    assert_eq!(d.backend(), Some(BackendKind::Wasm));
    assert!(
        d.reason
            .ends_with("; wasm is saturated (2 of 2 running), so the job waits for a slot"),
        "{}",
        d.reason
    );
    // No overflow asked for: wasm, waiting.
    let d = decide(t.get("Custom").unwrap(), &facts("ip", 10), busy);
    assert_eq!(d.backend(), Some(BackendKind::Wasm));
}

#[test]
fn tlp_and_pap_ceilings_refuse_with_cortexutils_messages() {
    let (t, _d) = table(&[(
        "EmlParser",
        "backend = \"wasm\"\nmax_tlp = 2\nmax_pap = 1\n",
    )]);
    let eml = t.get("EmlParser").unwrap();
    let mut f = facts("file", 10);
    f.pap = 1;
    assert_eq!(
        decide(eml, &f, Load::default()).backend(),
        Some(BackendKind::Wasm)
    );
    f.tlp = 3;
    assert_eq!(
        decide(eml, &f, Load::default()),
        refuse(
            "TLP is higher than allowed.",
            "job TLP 3 is above max_tlp = 2 of policies/EmlParser.toml"
        )
    );
    f.tlp = 2;
    f.pap = 2;
    assert_eq!(
        decide(eml, &f, Load::default()),
        refuse(
            "PAP is higher than allowed.",
            "job PAP 2 is above max_pap = 1 of policies/EmlParser.toml"
        )
    );
}

/// `[wasm.network] max_tlp` / `max_pap`: a job above them gets no network — it is refused
/// before any backend runs, with a report that names the level, the hosts and the key.
#[tokio::test]
async fn a_job_above_the_network_ceilings_is_refused_with_the_reason() {
    let (t, _d) = table(&[(
        "EmlParser",
        "backend = \"wasm\"\n[wasm.network]\nallow = [\"https://api.abuseipdb.com\"]\nmax_tlp = 1\nmax_pap = 2\n",
    )]);
    let eml = t.get("EmlParser").unwrap();
    let mut f = facts("file", 10);
    f.tlp = 1;
    f.pap = 2;
    assert_eq!(
        decide(eml, &f, Load::default()).backend(),
        Some(BackendKind::Wasm)
    );
    f.tlp = 2;
    let message = "TLP is higher than the network policy allows: the job is TLP:AMBER (2) and \
                   the worker sends its data to https://api.abuseipdb.com only up to TLP:GREEN \
                   (1) (wasm.network.max_tlp)";
    assert_eq!(
        decide(eml, &f, Load::default()),
        refuse(
            message,
            &format!("{message}, set in policies/EmlParser.toml")
        )
    );
    f.tlp = 0;
    f.pap = 3;
    assert_eq!(
        decide(eml, &f, Load::default()),
        refuse(
            "PAP is higher than the network policy allows: the job is PAP:RED (3) and the \
             worker acts on https://api.abuseipdb.com only up to PAP:AMBER (2) \
             (wasm.network.max_pap)",
            "PAP is higher than the network policy allows: the job is PAP:RED (3) and the \
             worker acts on https://api.abuseipdb.com only up to PAP:AMBER (2) \
             (wasm.network.max_pap), set in policies/EmlParser.toml"
        )
    );

    // Through the scheduler, the refusal is the job's failure report.
    let scheduler = Arc::new(Scheduler::new(t.clone(), 4, FinaliseOptions::default()));
    let root = tempfile::tempdir().unwrap();
    let mut input = JobInput::new("file", serde_json::Value::Null);
    input.tlp = 3;
    let folder = Arc::new(JobFolder::create(root.path(), "1", &input, None).unwrap());
    let record = scheduler
        .submit("EmlParser", folder, Instant::now())
        .await
        .unwrap();
    assert!(!record.finalised.success);
    assert_eq!(
        record.finalised.report["errorMessage"],
        serde_json::json!(
            "TLP is higher than the network policy allows: the job is TLP:RED (3) and the \
             worker sends its data to https://api.abuseipdb.com only up to TLP:GREEN (1) \
             (wasm.network.max_tlp)"
        )
    );
}

#[test]
fn a_data_type_the_worker_does_not_accept_is_refused() {
    let (t, _d) = table(&[("EmlParser", "backend = \"wasm\"")]);
    let message = "data type `ip` is not accepted by EmlParser (it accepts: file)";
    assert_eq!(
        decide(
            t.get("EmlParser").unwrap(),
            &facts("ip", 10),
            Load::default()
        ),
        refuse(message, message)
    );
}

#[test]
fn a_catalog_alias_resolves_to_the_policy_worker() {
    let (t, _d) = table(&[(
        "MSDefenderOffice365_SafeLinksDecoder",
        "backend = \"kubernetes\"\n[worker]\ncatalog_name = \"MSDefenderOffice365_SafeLinksDecoder.json\"\n",
    )]);
    let worker = t.get("MSDefenderOffice365_SafeLinksDecoder.json").unwrap();
    assert_eq!(worker.name, "MSDefenderOffice365_SafeLinksDecoder");
    assert_eq!(worker.data_types, vec!["url".to_string()]);
    assert_eq!(
        worker.image.as_deref(),
        Some("ghcr.io/thehive-project/msdefenderoffice365_safelinksdecoder.json:1")
    );
    // The catalog entry is not listed a second time under its own name.
    assert_eq!(
        t.iter()
            .filter(|w| w.name.starts_with("MSDefenderOffice365_SafeLinks"))
            .count(),
        1
    );
    // Every catalog worker once (the alias replaces its entry), plus the directory's Local.
    assert_eq!(t.len(), 275 + 156 + 1);
}

#[tokio::test]
async fn a_job_for_disabled_kubernetes_ends_in_a_report_that_says_so() {
    let (t, _d) = table(&[]);
    let scheduler = Scheduler::new(t, 4, FinaliseOptions::default()).without_backend(
        BackendKind::Kubernetes,
        "kubernetes.enabled = false in the configuration",
    );
    let scheduler = Arc::new(scheduler);
    let root = tempfile::tempdir().unwrap();
    let folder =
        JobFolder::create(root.path(), "1", &JobInput::new("ip", "8.8.8.8"), None).unwrap();
    let folder = Arc::new(folder);
    let record = scheduler
        .submit("Abuse_Finder_3_0", folder.clone(), Instant::now())
        .await
        .unwrap();
    assert!(!record.finalised.success);
    let expected = "the kubernetes backend is not available (kubernetes.enabled = false in the configuration); the job needs it because no policy for Abuse_Finder; its catalog Docker image ghcr.io/thehive-project/abuse_finder:3 runs on Kubernetes";
    assert_eq!(
        record.finalised.report["errorMessage"],
        serde_json::json!(expected)
    );
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.output_dir().join("output.json")).unwrap())
            .unwrap();
    assert_eq!(written, record.finalised.report);
    assert_eq!(written["input"]["data"], serde_json::json!("8.8.8.8"));
    assert_eq!(record.decision.backend(), Some(BackendKind::Kubernetes));
    assert!(record.run.is_none());
}

#[tokio::test]
async fn a_refused_job_ends_in_a_failure_report_with_the_refusal() {
    let (t, _d) = table(&[("EmlParser", "backend = \"wasm\"\nmax_tlp = 1\n")]);
    let scheduler = Arc::new(Scheduler::new(t, 4, FinaliseOptions::default()));
    let root = tempfile::tempdir().unwrap();
    let mut input = JobInput::new("file", serde_json::Value::Null);
    input.tlp = 3;
    let folder = Arc::new(JobFolder::create(root.path(), "2", &input, None).unwrap());
    let record = scheduler
        .submit("EmlParser", folder, Instant::now())
        .await
        .unwrap();
    assert_eq!(
        record.finalised.report["errorMessage"],
        serde_json::json!("TLP is higher than allowed.")
    );
    assert!(!record.finalised.success);

    let folder =
        JobFolder::create(root.path(), "3", &JobInput::new("ip", "1.1.1.1"), None).unwrap();
    let record = scheduler
        .submit("NoSuchWorker", Arc::new(folder), Instant::now())
        .await
        .unwrap();
    assert_eq!(
        record.finalised.report["errorMessage"],
        serde_json::json!("no worker named NoSuchWorker in the catalogs or policies")
    );
}

#[tokio::test]
async fn an_attachment_swapped_for_a_symlink_is_refused_not_followed() {
    // The folder was opened (and checked) before the attachment became a symlink to a large
    // file: the job's facts must not take that file's size, or read it at all.
    let (t, _d) = table(&[("EmlParser", "backend = \"wasm\"\n")]);
    let scheduler = Arc::new(Scheduler::new(t, 4, FinaliseOptions::default()));
    let root = tempfile::tempdir().unwrap();
    let input = JobInput {
        data: None,
        ..JobInput::new("file", "")
    };
    let attachment = cortex_job::Attachment {
        source: cortex_job::AttachmentSource::Bytes(b"From: a@example.org\n\nhi\n"),
        filename: "mail.eml",
        content_type: "message/rfc822",
    };
    let folder = JobFolder::create(root.path(), "4", &input, Some(attachment)).unwrap();
    let path = folder.attachment_path().unwrap();
    let large = root.path().join("large");
    std::fs::write(&large, vec![0u8; 1 << 20]).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(&large, &path).unwrap();

    let record = scheduler
        .submit("EmlParser", Arc::new(folder), Instant::now())
        .await
        .unwrap();

    let message = format!(
        "reading the job's input failed: {} is a symlink: the runner follows no symlink in a job folder (it would read whatever the link points at, and show it to the worker); pass the folder Cortex created",
        path.display()
    );
    assert!(!record.finalised.success);
    assert_eq!(
        record.finalised.report["errorMessage"],
        serde_json::json!(message)
    );
    assert_eq!(record.decision, refuse(&message, &message));
}

/// A backend of `kind` whose runs never end, with the given lane limits and overflow.
struct Endless {
    kind: BackendKind,
    limits: LaneLimits,
    overflow: bool,
}

impl Backend for Endless {
    fn kind(&self) -> BackendKind {
        self.kind
    }

    fn lane_limits(&self, _: &Worker) -> LaneLimits {
        self.limits
    }

    fn accepts_overflow(&self) -> bool {
        self.overflow
    }

    fn run(self: Arc<Self>, _: BackendJob) -> BoxFuture<'static, BackendEnd> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overflow_and_lane_limits_come_from_the_backends() {
    // A saturated wasm lane overflows only to a backend that accepts overflow, and the job then
    // gets that backend's lane limits (a 1 s timeout here, which no policy sets).
    let (t, _d) = table(&[(
        "EmlParser",
        "backend = \"wasm\"\noverflow = \"kubernetes\"\n[wasm]\nconcurrency = 1\n",
    )]);
    let limits = |secs| LaneLimits {
        timeout: Duration::from_secs(secs),
        concurrency: 1,
    };
    let root = tempfile::tempdir().unwrap();
    let job = |id: &str| {
        let input = JobInput::new("file", serde_json::Value::Null);
        Arc::new(JobFolder::create(root.path(), id, &input, None).unwrap())
    };
    for overflow in [true, false] {
        let wasm = Endless {
            kind: BackendKind::Wasm,
            limits: limits(60),
            overflow: false,
        };
        let kubernetes = Endless {
            kind: BackendKind::Kubernetes,
            limits: limits(1),
            overflow,
        };
        let scheduler = Scheduler::new(t.clone(), 4, FinaliseOptions::default())
            .with_backend(Arc::new(wasm))
            .with_backend(Arc::new(kubernetes));
        let scheduler = Arc::new(scheduler);
        let first = scheduler.submit("EmlParser", job(&format!("1{overflow}")), Instant::now());
        while scheduler.slots().running("EmlParser/wasm") == 0 {
            tokio::task::yield_now().await;
        }
        let second = scheduler.submit("EmlParser", job(&format!("2{overflow}")), Instant::now());
        if overflow {
            let record = second.await.unwrap();
            assert_eq!(
                record.decision,
                run(
                    BackendKind::Kubernetes,
                    "wasm is saturated for EmlParser (1 of 1 running) and policies/EmlParser.toml sets overflow = \"kubernetes\""
                )
            );
            assert_eq!(
                record.finalised.report["errorMessage"],
                serde_json::json!("timed out after 1 s")
            );
        } else {
            while scheduler.slots().usage().waiting == 0 {
                tokio::task::yield_now().await;
            }
            second.cancel("the test is over");
            let record = second.await.unwrap();
            assert_eq!(record.decision.backend(), Some(BackendKind::Wasm));
            assert!(
                record
                    .decision
                    .reason
                    .ends_with("; wasm is saturated (1 of 1 running), so the job waits for a slot"),
                "{}",
                record.decision.reason
            );
            assert_eq!(
                record.finalised.report["errorMessage"],
                serde_json::json!("cancelled: the test is over")
            );
        }
        first.cancel("the test is over");
        first.await.unwrap();
        assert_eq!(scheduler.in_flight(), 0);
    }
}
