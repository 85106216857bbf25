//! One test per guest test program (`wasm-host/test-programs/src/bin/`), each asserting the exact
//! outcome of running it in the sandbox, and that the input folder is byte-identical afterwards.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use sha2::Digest;
use test_programs_artifacts as programs;
use wasm_host::{LimitExceeded, Limits, Outcome};

/// Every program must have a test here of the same name: a new program without one does not
/// compile.
macro_rules! assert_test_exists {
    ($name:ident) => {
        #[allow(unused_imports)]
        use self::$name as _;
    };
}
test_programs_artifacts::foreach_test_programs!(assert_test_exists);

/// WASI errno values the sandbox answers with.
const ENOENT: u32 = 44;
const EPERM: u32 = 63;
const ENOSYS: u32 = 52;
const EFAULT: u32 = 21;
const EINVAL: u32 = 28;
const EMFILE: u32 = 33;

const MIB: u64 = 1 << 20;

fn errno(n: u32) -> String {
    format!("errno {n}")
}

fn ok() -> String {
    "ok".to_owned()
}

fn pairs(list: &[(&str, String)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(op, r)| ((*op).to_owned(), r.clone()))
        .collect()
}

#[tokio::test]
async fn honest() {
    let job = Job::new();
    let record = run_checked(programs::HONEST, &job, quick()).await;
    assert_eq!(record.outcome, Outcome::Exited { code: 0 });
    let digest = hex::encode(sha2::Sha256::digest(b"8.8.8.8"));
    assert_eq!(
        job.report(),
        json!({
            "success": true,
            "full": {"dataType": "ip", "sha256": digest},
            "summary": {"taxonomies": [{"level": "info", "namespace": "Honest", "predicate": "sha256", "value": &digest[..8]}]},
            "artifacts": [],
            "operations": [],
        })
    );
    assert_eq!(
        (record.stdout.total_bytes, record.stderr.total_bytes),
        (0, 0)
    );
    assert!(record.peak_memory_bytes > 0 && record.peak_memory_bytes < 16 * MIB);
    assert_eq!(record.fuel_used, None);
}

#[tokio::test]
async fn escape_read() {
    let job = Job::new();
    let record = run_checked(programs::ESCAPE_READ, &job, quick()).await;
    assert_eq!(record.outcome, Outcome::Exited { code: 0 });
    let mut expected = Vec::new();
    // Paths under no preopen do not exist for the guest; `..` out of a preopen is refused.
    let unknown = ["/etc/passwd", "/proc/self/environ", "/proc/self/status"];
    let escaping = [
        "/job/input/../../../../../../etc/passwd",
        "/job/output/../input/input.json",
        "/job/input/../output/output.json",
    ];
    for path in unknown {
        for op in ["read", "read_dir", "metadata"] {
            expected.push((format!("{op} {path}"), errno(ENOENT)));
        }
    }
    for path in escaping {
        for op in ["read", "read_dir", "metadata"] {
            expected.push((format!("{op} {path}"), errno(EPERM)));
        }
    }
    for (path, code) in [
        ("../../../../etc/passwd", ENOENT),
        ("/", ENOENT),
        ("/job", ENOENT),
        ("/job/input/..", EPERM),
    ] {
        for op in ["read", "read_dir", "metadata"] {
            expected.push((format!("{op} {path}"), errno(code)));
        }
    }
    expected.extend(pairs(&[
        ("symlink output/passwd-link -> /etc/passwd", errno(EPERM)),
        ("read output/passwd-link", errno(ENOENT)),
        ("symlink output/up-link -> ../../../../../etc/passwd", ok()),
        ("read output/up-link", errno(EPERM)),
    ]));
    assert_eq!(attempts(&job.report()), expected);
    assert_eq!(
        output_listing(&job),
        ["output.json", "up-link -> ../../../../../etc/passwd"]
    );
}

#[tokio::test]
async fn input_tamper() {
    let job = Job::new();
    let record = run_checked(programs::INPUT_TAMPER, &job, quick()).await;
    assert_eq!(record.outcome, Outcome::Exited { code: 0 });
    let refused = [
        "open input.json for write",
        "open input.json with truncate",
        "open input.json for append",
        "write input.json",
        "create input/new.txt",
        "create_dir input/sub",
        "rename input.json -> input/moved.json",
        "rename input.json -> output/moved.json",
        "hard_link input.json -> output/linked.json",
        "symlink input/link -> input.json",
        "remove_file input.json",
        "remove_dir input",
        "set_len(0) on read handle of input.json",
        "set_times on input.json",
    ];
    let mut expected: Vec<(String, String)> = refused
        .iter()
        .map(|op| ((*op).to_owned(), errno(EPERM)))
        .collect();
    expected.extend(pairs(&[
        ("set_permissions input.json", errno(ENOSYS)),
        ("read input.json", ok()),
    ]));
    assert_eq!(attempts(&job.report()), expected);
    assert_eq!(output_listing(&job), ["output.json"]);
}

#[tokio::test]
async fn symlink_plant() {
    let job = Job::new();
    let record = run_checked(programs::SYMLINK_PLANT, &job, quick()).await;
    assert_eq!(record.outcome, Outcome::Exited { code: 0 });
    let report = job.report();
    assert_eq!(
        attempts(&report),
        pairs(&[
            // An absolute target is refused; relative ones are mere names whose resolution stays
            // confined to the preopen (see `escape_read`), and finalisation removes them.
            ("symlink output/abs-passwd -> /etc/passwd", errno(EPERM)),
            ("symlink output/up-chain -> ../../..", ok()),
            ("symlink output/into-input -> ../input/input.json", ok()),
            ("symlink output/self-dir -> .", ok()),
        ])
    );
    let named: Vec<&str> = report["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        named,
        [
            "abs-passwd",
            "up-chain",
            "into-input",
            "self-dir",
            "honest.txt"
        ]
    );
    assert_eq!(
        output_listing(&job),
        [
            "honest.txt",
            "into-input -> ../input/input.json",
            "output.json",
            "self-dir -> .",
            "up-chain -> ../../..",
        ]
    );
}

#[tokio::test]
async fn spin() {
    let job = Job::new();
    let limits = Limits {
        timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let record = run_checked(programs::SPIN, &job, limits).await;
    let limit = LimitExceeded::Timeout {
        limit: Duration::from_secs(1),
    };
    assert_eq!(record.outcome, Outcome::LimitExceeded(limit));
    assert_eq!(record.outcome.to_string(), "timed out after 1 s");
    assert!(
        record.wall_time >= Duration::from_secs(1)
            && record.wall_time < Duration::from_millis(1500),
        "stopped after {:?}",
        record.wall_time
    );
    assert_eq!(output_listing(&job), Vec::<String>::new());
}

#[tokio::test]
async fn spin_out_of_fuel() {
    let job = Job::new();
    let limits = Limits {
        fuel: Some(5_000_000),
        ..quick()
    };
    let module = FUEL_SANDBOX
        .load(std::path::Path::new(programs::SPIN))
        .unwrap();
    let record = FUEL_SANDBOX
        .run(
            &module,
            wasm_host::RunSpec {
                limits,
                ..job.spec()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        record.outcome,
        Outcome::LimitExceeded(LimitExceeded::Fuel { limit: 5_000_000 })
    );
    assert_eq!(record.outcome.to_string(), "fuel limit 5000000 exhausted");
    assert_eq!(record.fuel_used, Some(5_000_000));
}

#[tokio::test]
async fn sleep_forever() {
    let job = Job::new();
    let limits = Limits {
        timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let record = run_checked(programs::SLEEP_FOREVER, &job, limits).await;
    assert_eq!(
        record.outcome,
        Outcome::LimitExceeded(LimitExceeded::Timeout {
            limit: Duration::from_secs(1)
        })
    );
    assert!(
        record.wall_time >= Duration::from_secs(1)
            && record.wall_time < Duration::from_millis(1500),
        "stopped after {:?}",
        record.wall_time
    );
    assert_eq!(record.stderr.tail_text(), "going to sleep\n");
}

#[tokio::test]
async fn memory_bomb() {
    let job = Job::new();
    let record = run_checked(programs::MEMORY_BOMB, &job, quick()).await;
    let Outcome::LimitExceeded(LimitExceeded::Memory {
        limit_bytes,
        requested_bytes,
    }) = record.outcome
    else {
        panic!("expected the memory limit, got {:?}", record.outcome);
    };
    assert_eq!(limit_bytes, 256 * MIB);
    assert!(requested_bytes > 256 * MIB);
    assert_eq!(
        record.outcome.to_string(),
        "memory limit of 268435456 bytes exceeded"
    );
    assert!(record.peak_memory_bytes <= 256 * MIB && record.peak_memory_bytes > 240 * MIB);
    assert!(
        record.stderr.tail_text().ends_with("holding 240 MiB\n"),
        "{}",
        record.stderr.tail_text()
    );
}

#[tokio::test]
async fn memory_bomb_under_a_small_limit() {
    let job = Job::new();
    let limits = Limits {
        memory_bytes: 40 * MIB,
        ..quick()
    };
    let record = run_checked(programs::MEMORY_BOMB, &job, limits).await;
    assert_eq!(
        record.outcome.to_string(),
        "memory limit of 41943040 bytes exceeded"
    );
    assert!(record.peak_memory_bytes <= 40 * MIB);
    assert!(
        record.stderr.tail_text().ends_with("holding 32 MiB\n"),
        "{}",
        record.stderr.tail_text()
    );
}

/// 2 GiB of filler, then the last line.
fn assert_flooded(captured: &wasm_host::Captured, last_line: &str) {
    let total = (2048 * MIB) + last_line.len() as u64;
    assert_eq!(captured.total_bytes, total);
    assert_eq!(captured.tail.len() as u64, MIB);
    assert_eq!(captured.dropped_bytes, total - MIB);
    assert!(captured.truncated());
    assert!(captured.tail_text().ends_with(last_line));
}

#[tokio::test]
async fn flood_stdout() {
    let job = Job::new();
    let record = run_checked(programs::FLOOD_STDOUT, &job, quick()).await;
    assert_eq!(record.outcome, Outcome::Exited { code: 0 });
    assert_flooded(&record.stdout, "\nlast line of stdout\n");
    assert_eq!(record.stderr.total_bytes, 0);
    assert_eq!(job.report()["full"], json!({"flooded": "stdout"}));
}

#[tokio::test]
async fn flood_stderr() {
    let job = Job::new();
    let record = run_checked(programs::FLOOD_STDERR, &job, quick()).await;
    assert_eq!(record.outcome, Outcome::Exited { code: 0 });
    assert_flooded(&record.stderr, "\nlast line of stderr\n");
    assert_eq!(record.stdout.total_bytes, 0);
    assert_eq!(job.report()["full"], json!({"flooded": "stderr"}));
}

#[tokio::test]
async fn huge_output() {
    let job = Job::new();
    let record = run_checked(programs::HUGE_OUTPUT, &job, quick()).await;
    assert_eq!(record.outcome, Outcome::Exited { code: 0 });
    let path = job.output().join("output.json");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 256 * MIB);
    // The guest streamed the file: its memory stayed far below the file's size.
    assert!(record.peak_memory_bytes < 16 * MIB);
}

#[tokio::test]
async fn deep_json() {
    let job = Job::new();
    let record = run_checked(programs::DEEP_JSON, &job, quick()).await;
    assert_eq!(record.outcome, Outcome::Exited { code: 0 });
    let text = std::fs::read_to_string(job.output().join("output.json")).unwrap();
    let expected = format!(
        r#"{{"success":true,"full":{{"deep":{}{}}}}}"#,
        "[".repeat(200_000),
        "]".repeat(200_000)
    );
    assert_eq!(text, expected);
}

#[tokio::test]
async fn bad_artifacts() {
    let job = Job::new();
    let record = run_checked(programs::BAD_ARTIFACTS, &job, quick()).await;
    assert_eq!(record.outcome, Outcome::Exited { code: 0 });
    let files: Vec<serde_json::Value> = job.report()["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.get("file").cloned().unwrap_or(a["data"].clone()))
        .collect();
    assert_eq!(
        files,
        [
            json!("../input/input.json"),
            json!("/etc/passwd"),
            json!("sub/nested.txt"),
            json!("sub"),
            json!("missing.bin"),
            json!("good.txt"),
            json!("192.0.2.1"),
        ]
    );
    assert_eq!(output_listing(&job), ["good.txt", "output.json", "sub/"]);
    assert_eq!(
        std::fs::read_to_string(job.output().join("sub/nested.txt")).unwrap(),
        "nested\n"
    );
}

#[tokio::test]
async fn env_argv_probe() {
    let job = Job::new();
    let spec = wasm_host::RunSpec {
        env: vec![
            ("CORTEX_JOB_ID".into(), "job-1".into()),
            ("LANG".into(), "C.UTF-8".into()),
        ],
        limits: quick(),
        ..job.spec()
    };
    let before = snapshot(&job.input());
    let record = SANDBOX
        .run(&load(programs::ENV_ARGV_PROBE), spec)
        .await
        .unwrap();
    assert_eq!(snapshot(&job.input()), before);
    assert_eq!(record.outcome, Outcome::Exited { code: 0 });
    assert_eq!(
        job.report()["full"],
        json!({
            "argv": ["env-argv-probe", "/job"],
            "env": [["CORTEX_JOB_ID", "job-1"], ["LANG", "C.UTF-8"]],
            "stdin": {"op": "read stdin", "ok": true, "detail": "0"},
            "stdinBytes": 0,
            "input": {"op": "list input", "ok": true, "detail": "[\"attachment\", \"input.json\"]"},
            "output": {"op": "list output", "ok": true, "detail": "[]"},
            "cwd": {"op": "current_dir", "ok": true, "detail": "\"/\""},
        })
    );
    assert_eq!(record.stdout.tail_text(), "probe on stdout\n");
    assert_eq!(record.stderr.tail_text(), "probe on stderr\n");
}

#[tokio::test]
async fn exit_3() {
    let job = Job::new();
    let record = run_checked(programs::EXIT_3, &job, quick()).await;
    assert_eq!(record.outcome, Outcome::Exited { code: 3 });
    assert_eq!(record.exit_code(), Some(3));
    assert_eq!(
        record.stderr.tail_text(),
        "exit-3: giving up without a report\n"
    );
    assert_eq!(output_listing(&job), Vec::<String>::new());
}

#[tokio::test]
async fn trap_half_report() {
    let job = Job::new();
    let record = run_checked(programs::TRAP_HALF_REPORT, &job, quick()).await;
    let Outcome::Trapped { message, detail } = &record.outcome else {
        panic!("expected a trap, got {:?}", record.outcome);
    };
    assert_eq!(message, "wasm `unreachable` instruction executed");
    assert!(detail.contains("trap_half_report"), "{detail}");
    assert_eq!(
        record.outcome.to_string(),
        "trapped: wasm `unreachable` instruction executed"
    );
    assert_eq!(
        std::fs::read_to_string(job.output().join("output.json")).unwrap(),
        r#"{"success": true, "full": {"half": "#
    );
    assert!(
        record
            .stderr
            .tail_text()
            .contains("trap-half-report: stopping half way through the report\n"),
        "{}",
        record.stderr.tail_text()
    );
}

#[tokio::test]
async fn poll_huge() {
    // Before the fix the host allocated count * 48 bytes first: 206 GB, and the process aborted.
    let job = Job::new();
    let record = run_checked(programs::POLL_HUGE, &job, quick()).await;
    assert_eq!(record.outcome, Outcome::Exited { code: 0 });
    assert_eq!(
        job.report()["full"],
        json!({"huge": EFAULT, "pastTheEnd": EFAULT, "none": EINVAL})
    );
}

#[tokio::test]
async fn fd_hog() {
    let job = Job::new();
    let record = run_checked(programs::FD_HOG, &job, quick()).await;
    assert_eq!(record.outcome, Outcome::Exited { code: 0 });
    // The default cap (`SandboxConfig::max_open_files`), then EMFILE.
    assert_eq!(
        job.report()["full"],
        json!({"opened": 256, "errno": EMFILE})
    );
    assert_eq!(
        record.warnings,
        vec![
            "the worker hit the sandbox's cap of 256 open files: 1 open was refused with EMFILE \
             (too many open files)"
                .to_owned()
        ]
    );
}
