//! `cortex-runner exec` end to end: the honest and hostile guest programs run in the sandbox on
//! real Cortex job folders, and each final report is asserted exactly. Every job also checks that
//! the `input/` folder is byte-identical afterwards.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cortex_job::{JobFolder, JobInput};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use test_programs_artifacts as programs;

/// A job folder laid out as Cortex lays it out, with a secret in its config.
fn job() -> (tempfile::TempDir, JobFolder) {
    let root = tempfile::tempdir().unwrap();
    let mut input = JobInput::new("ip", "8.8.8.8");
    input.config = json!({"api_key": "sekrit-value", "max_tlp": 2})
        .as_object()
        .unwrap()
        .clone();
    let folder = JobFolder::create(root.path(), "e2e", &input, None).unwrap();
    (root, folder)
}

/// Path, mode and sha256 of everything below `dir`, to prove a job left it untouched.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u32, String)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let digest = if meta.is_file() {
            hex::encode(Sha256::digest(std::fs::read(&path).unwrap()))
        } else {
            String::new()
        };
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        }
        out.insert(path, (meta.permissions().mode(), digest));
    }
    out
}

/// What one `cortex-runner exec` left behind.
struct Ran {
    code: i32,
    report: Value,
    stderr: String,
    wall: Duration,
}

/// Runs `module` on `folder` with `args`, asserting the input folder is unchanged.
fn exec(module: &str, folder: &JobFolder, args: &[&str]) -> Ran {
    let before = snapshot(&folder.input_dir());
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_cortex-runner"))
        .args(["exec", "--module", module, "--job-dir"])
        .arg(folder.path())
        .args(args)
        .output()
        .unwrap();
    let wall = started.elapsed();
    assert_eq!(snapshot(&folder.input_dir()), before, "input/ changed");
    let written = std::fs::read(folder.output_dir().join("output.json")).unwrap();
    let report: Value = serde_json::from_slice(&written).unwrap();
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, report, "stdout is the final output.json");
    Ran {
        code: out.status.code().unwrap(),
        report,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        wall,
    }
}

fn error_message(ran: &Ran) -> &str {
    assert_eq!(ran.report["success"], json!(false), "{}", ran.report);
    assert_eq!(
        ran.code, 1,
        "a failure report exits 1; stderr: {}",
        ran.stderr
    );
    assert_eq!(
        ran.report["input"]["config"],
        json!({"api_key": "REMOVED", "max_tlp": 2})
    );
    ran.report["errorMessage"].as_str().unwrap()
}

/// Every entry left in `output/` is a regular file.
fn only_regular_files(folder: &JobFolder) -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(folder.output_dir()).unwrap() {
        let entry = entry.unwrap();
        assert!(
            entry.file_type().unwrap().is_file(),
            "{:?} is not a regular file",
            entry.path()
        );
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    names
}

fn warnings(report: &Value) -> Vec<String> {
    let mut w: Vec<String> = report["full"]["runnerWarnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect();
    w.sort();
    w
}

#[test]
fn honest_analyzer_reports_the_observables_sha256() {
    let (_root, folder) = job();
    let ran = exec(programs::HONEST, &folder, &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let sha = hex::encode(Sha256::digest(b"8.8.8.8"));
    assert_eq!(ran.report["success"], json!(true));
    assert_eq!(ran.report["full"]["sha256"], json!(sha));
    assert_eq!(
        ran.report["summary"]["taxonomies"],
        json!([{"level": "info", "namespace": "Honest", "predicate": "sha256", "value": &sha[..8]}])
    );
    assert_eq!(only_regular_files(&folder), ["output.json"]);
}

#[test]
fn exit_3_without_output_names_the_status_and_quotes_stderr() {
    let (_root, folder) = job();
    let ran = exec(programs::EXIT_3, &folder, &[]);
    assert_eq!(
        error_message(&ran),
        "exited with status 3 without writing output.json\n--- stderr (tail) ---\nexit-3: giving up without a report"
    );
}

#[test]
fn a_trap_after_half_a_report_is_a_failure_naming_the_trap() {
    let (_root, folder) = job();
    let ran = exec(programs::TRAP_HALF_REPORT, &folder, &[]);
    let message = error_message(&ran);
    assert!(
        message.starts_with("trapped: ")
            && message.contains("wasm `unreachable` instruction executed"),
        "{message}"
    );
    assert!(
        message.contains("stopping half way through the report"),
        "{message}"
    );
}

#[test]
fn an_infinite_loop_times_out() {
    let (_root, folder) = job();
    let ran = exec(programs::SPIN, &folder, &["--timeout-s", "1"]);
    assert_eq!(error_message(&ran), "timed out after 1 s");
    assert!(ran.wall < Duration::from_secs(10), "{:?}", ran.wall);
}

#[test]
fn a_guest_sleeping_in_a_host_call_times_out() {
    let (_root, folder) = job();
    let ran = exec(programs::SLEEP_FOREVER, &folder, &["--timeout-s", "1"]);
    assert_eq!(
        error_message(&ran),
        "timed out after 1 s\n--- stderr (tail) ---\ngoing to sleep"
    );
    assert!(ran.wall < Duration::from_secs(10), "{:?}", ran.wall);
}

#[test]
fn a_memory_bomb_hits_the_memory_limit() {
    let (_root, folder) = job();
    let ran = exec(programs::MEMORY_BOMB, &folder, &["--memory-mib", "64"]);
    let message = error_message(&ran);
    assert!(
        message
            .starts_with("memory limit 64 MiB exceeded\n--- stderr (tail) ---\nholding 16 MiB\n"),
        "{message}"
    );
}

#[test]
fn fuel_runs_out_in_an_infinite_loop() {
    let (_root, folder) = job();
    let ran = exec(programs::SPIN, &folder, &["--fuel", "1000000"]);
    assert_eq!(error_message(&ran), "fuel limit 1000000 exhausted");
}

#[test]
fn a_256_mib_output_json_is_refused_unread() {
    let (_root, folder) = job();
    let ran = exec(programs::HUGE_OUTPUT, &folder, &[]);
    assert_eq!(
        error_message(&ran),
        "output.json is 268435456 bytes (256 MiB), limit 16 MiB"
    );
}

#[test]
fn a_200000_deep_report_is_refused_without_overflowing_the_stack() {
    let (_root, folder) = job();
    let ran = exec(programs::DEEP_JSON, &folder, &[]);
    assert!(
        error_message(&ran).starts_with(
            "output.json nests arrays and objects deeper than 127 levels (line 1, column "
        ),
        "{}",
        ran.report
    );
}

#[test]
fn planted_symlinks_are_removed_and_their_artifacts_dropped() {
    let (_root, folder) = job();
    let ran = exec(programs::SYMLINK_PLANT, &folder, &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(
        ran.report["artifacts"],
        json!([{"dataType": "file", "file": "honest.txt", "filename": "honest.txt"}])
    );
    assert_eq!(only_regular_files(&folder), ["honest.txt", "output.json"]);
    assert_eq!(
        warnings(&ran.report),
        [
            "dropped artifacts[0]: file \"abs-passwd\" does not exist in output/",
            "dropped artifacts[1]: file \"up-chain\" was a symlink, removed from output/",
            "dropped artifacts[2]: file \"into-input\" was a symlink, removed from output/",
            "dropped artifacts[3]: file \"self-dir\" was a symlink, removed from output/",
            "removed output/into-input: a symlink to \"../input/input.json\"",
            "removed output/self-dir: a symlink to \".\"",
            "removed output/up-chain: a symlink to \"../../..\"",
        ]
    );
}

#[test]
fn artifacts_outside_in_subfolders_or_missing_are_dropped() {
    let (_root, folder) = job();
    let ran = exec(programs::BAD_ARTIFACTS, &folder, &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(
        ran.report["artifacts"],
        json!([
            {"dataType": "file", "file": "good.txt", "filename": "x.txt"},
            {"dataType": "ip", "data": "192.0.2.1"}
        ])
    );
    assert_eq!(only_regular_files(&folder), ["good.txt", "output.json"]);
    assert_eq!(
        warnings(&ran.report),
        [
            "dropped artifacts[0]: file \"../input/input.json\" is not a plain file name directly in output/",
            "dropped artifacts[1]: file \"/etc/passwd\" is not a plain file name directly in output/",
            "dropped artifacts[2]: file \"sub/nested.txt\" is not a plain file name directly in output/",
            "dropped artifacts[3]: file \"sub\" was a directory, removed from output/",
            "dropped artifacts[4]: file \"missing.bin\" does not exist in output/",
            "removed output/sub: a directory",
        ]
    );
}

/// Every attempt a hostile probe recorded, as `(op, ok)`.
fn attempts(report: &Value) -> Vec<(String, bool)> {
    report["full"]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["op"].as_str().unwrap().to_string(),
                a["ok"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn reads_outside_the_job_folder_all_fail() {
    let (_root, folder) = job();
    let ran = exec(programs::ESCAPE_READ, &folder, &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let tried = attempts(&ran.report);
    assert!(tried.len() >= 9, "{tried:?}");
    // Planting the link is allowed (output/ is writable); following it is what must fail.
    let succeeded: Vec<&str> = tried
        .iter()
        .filter(|(_, ok)| *ok)
        .map(|(op, _)| op.as_str())
        .collect();
    assert_eq!(
        succeeded,
        ["symlink output/up-link -> ../../../../../etc/passwd"]
    );
    assert!(!ran.report.to_string().contains("root:x:0:0"));
}

#[test]
fn every_write_to_the_input_folder_fails() {
    let (_root, folder) = job();
    let ran = exec(programs::INPUT_TAMPER, &folder, &[]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let tried = attempts(&ran.report);
    assert!(tried.len() >= 9, "{tried:?}");
    // Reading is the control: the input is readable, only every change is refused.
    let succeeded: Vec<&str> = tried
        .iter()
        .filter(|(_, ok)| *ok)
        .map(|(op, _)| op.as_str())
        .collect();
    assert_eq!(succeeded, ["read input.json"]);
}

#[test]
fn the_guest_sees_exactly_its_argv_and_the_passed_environment() {
    let (_root, folder) = job();
    let ran = exec(
        programs::ENV_ARGV_PROBE,
        &folder,
        &["--env", "FOO=bar", "--env", "EMPTY="],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let full = &ran.report["full"];
    assert_eq!(full["argv"], json!(["env-argv-probe", "/job"]));
    assert_eq!(full["env"], json!([["FOO", "bar"], ["EMPTY", ""]]));
    assert_eq!(full["stdinBytes"], json!(0));
    assert_eq!(full["input"]["detail"], json!("[\"input.json\"]"));
}

#[test]
fn a_stderr_flood_is_cut_to_its_tail_in_the_report() {
    let (_root, folder) = job();
    // The guest writes 2 GiB to stderr, then a last line and a report of 103 bytes, which a limit
    // of 50 bytes refuses: a failure whatever the machine's speed, quoting the stderr tail.
    let ran = exec(
        programs::FLOOD_STDERR,
        &folder,
        &["--max-output-bytes", "50"],
    );
    let message = error_message(&ran);
    let (head, tail) = message.split_once("\n--- stderr (tail) ---\n[").unwrap();
    assert_eq!(head, "output.json is 103 bytes, limit 50 bytes");
    let (counts, text) = tail.split_once("]\n").unwrap();
    // The last 16 KiB of the text with its final newline trimmed (the end of the flood and the
    // last line), less one "e": the job's secret, "sekrit-value", ends in "e", so the cut moves
    // past the one character that could be the end of a secret cut in half.
    assert_eq!(counts, "2147483669 bytes in all; last 16383 shown");
    let last_line = "\nlast line of stderr";
    assert_eq!(
        text,
        format!("{}{last_line}", "e".repeat(16383 - last_line.len()))
    );
}

#[test]
fn setup_errors_exit_2_and_name_the_path() {
    let (_root, folder) = job();
    let run = |module: &str, dir: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_cortex-runner"))
            .args(["exec", "--module", module, "--job-dir"])
            .arg(dir)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = run(programs::HONEST, Path::new("/nonexistent/job"));
    assert_eq!(code, 2);
    assert!(stderr.contains("/nonexistent/job"), "{stderr}");

    let empty = tempfile::tempdir().unwrap();
    let (code, stderr) = run(programs::HONEST, empty.path());
    assert_eq!(code, 2);
    assert!(
        stderr.contains(&format!("{}/input/input.json", empty.path().display())),
        "{stderr}"
    );

    let (code, stderr) = run("/nonexistent/module.wasm", folder.path());
    assert_eq!(code, 2);
    assert!(stderr.contains("/nonexistent/module.wasm"), "{stderr}");

    let not_wasm = empty.path().join("not-wasm.wasm");
    std::fs::write(&not_wasm, b"this is not wasm").unwrap();
    let (code, stderr) = run(not_wasm.to_str().unwrap(), folder.path());
    assert_eq!(code, 2);
    assert!(stderr.contains("not-wasm"), "{stderr}");
    assert!(
        stderr.contains("not a valid WebAssembly module"),
        "{stderr}"
    );
}

/// `cortex-runner exec` on `folder` with `args`: exit code, raw stdout, stderr.
fn exec_raw(module: &str, folder: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cortex-runner"))
        .args(["exec", "--module", module, "--job-dir"])
        .arg(folder)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_printed_report_escapes_what_a_terminal_would_act_on() {
    // An OSC 52 clipboard write, an 8-bit CSI, a right-to-left override and DEL in the observable;
    // the failure report quotes the input, so they reach stdout unless escaped.
    let root = tempfile::tempdir().unwrap();
    let data = "x\x1b]52;c;ZXZpbA==\x07\u{9b}31m\u{202e}fdp.exe\x7f";
    let folder =
        JobFolder::create(root.path(), "esc", &JobInput::new("other", data), None).unwrap();
    let (code, stdout, stderr) = exec_raw(programs::EXIT_3, folder.path(), &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stdout.contains(r#""data": "x\u001b]52;c;ZXZpbA==\u0007\u009b31m\u202efdp.exe\u007f""#),
        "{stdout}"
    );
    for raw in ['\x1b', '\x07', '\u{9b}', '\u{202e}', '\x7f'] {
        assert!(!stdout.contains(raw), "{raw:?} printed raw: {stdout}");
    }
    // The value itself is intact: output.json and the printed JSON are the same report.
    let printed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(printed["input"]["data"], data);
    let written = std::fs::read(folder.output_dir().join("output.json")).unwrap();
    assert_eq!(printed, serde_json::from_slice::<Value>(&written).unwrap());
}

#[test]
fn limits_outside_their_ranges_are_usage_errors_naming_flag_value_and_range() {
    let (_root, folder) = job();
    let cases = [
        // The value of issue 9 that wrapped to 1 MiB.
        ("--memory-mib", "17592186044417", "1..=4096"),
        ("--memory-mib", "0", "1..=4096"),
        ("--memory-mib", "4097", "1..=4096"),
        ("--timeout-s", "0", "1..=86400"),
        ("--timeout-s", "86401", "1..=86400"),
        ("--timeout-s", "18446744073709551615", "1..=86400"),
        ("--fuel", "0", "1..=1000000000000000"),
        ("--fuel", "1000000000000001", "1..=1000000000000000"),
        ("--max-output-bytes", "0", "1..=1073741824"),
        ("--max-output-bytes", "1073741825", "1..=1073741824"),
    ];
    for (flag, value, range) in cases {
        let (code, stdout, stderr) = exec_raw(programs::HONEST, folder.path(), &[flag, value]);
        assert_eq!((code, stdout.as_str()), (2, ""), "{flag} {value}: {stderr}");
        let metavar = if flag == "--max-output-bytes" {
            "BYTES"
        } else {
            "N"
        };
        assert_eq!(
            stderr.lines().next().unwrap(),
            format!(
                "error: invalid value '{value}' for '{flag} <{metavar}>': {value} is not in {range}"
            ),
        );
    }
    assert!(!folder.output_dir().join("output.json").exists());
}

#[test]
fn limits_at_the_edges_of_their_ranges_are_accepted() {
    let (_root, folder) = job();
    let ran = exec(
        programs::HONEST,
        &folder,
        &[
            "--memory-mib",
            "4096",
            "--timeout-s",
            "86400",
            "--fuel",
            "1000000000000000",
            "--max-output-bytes",
            "1073741824",
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.report["success"], json!(true));
    let (_root, folder) = job();
    let ran = exec(programs::HONEST, &folder, &["--timeout-s", "1"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    // The lowest memory, fuel and output size are accepted, and then the job fails on them.
    let (_root, folder) = job();
    let ran = exec(programs::HONEST, &folder, &["--memory-mib", "1"]);
    assert_eq!(error_message(&ran), "memory limit 1 MiB exceeded");
    let (_root, folder) = job();
    let ran = exec(programs::HONEST, &folder, &["--fuel", "1"]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    let (_root, folder) = job();
    let ran = exec(programs::HONEST, &folder, &["--max-output-bytes", "1"]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
}
