//! Ctrl-C and SIGTERM while `run` or `job` runs a guest that never ends: the job is cancelled,
//! its folder still gets the failure report `cancelled: interrupted by <SIGNAL>`, the report or
//! summary is printed as usual and the exit code is 1 (a failure report), within seconds.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cortex_job::{JobFolder, JobInput};
use serde_json::{Value, json};
use test_programs_artifacts as programs;

mod common;

use common::config_with;

/// How long a cancelled job may take to end, report included.
const PROMPT: Duration = Duration::from_secs(5);

/// A configuration whose only policies are `Spin` (an endless loop) and `Sleep` (asleep in a
/// host call), both with a 60 s timeout, so that only a signal ends their jobs in time.
fn config(dir: &Path) -> PathBuf {
    let (modules, policies) = (dir.join("modules"), dir.join("policies"));
    std::fs::create_dir_all(&modules).unwrap();
    std::fs::create_dir_all(&policies).unwrap();
    for (name, program) in [("Spin", programs::SPIN), ("Sleep", programs::SLEEP_FOREVER)] {
        std::fs::copy(program, modules.join(format!("{name}.wasm"))).unwrap();
        std::fs::write(
            policies.join(format!("{name}.toml")),
            "backend = \"wasm\"\n[worker]\ndata_types = [\"ip\"]\n[wasm]\ntimeout_s = 60\n",
        )
        .unwrap();
    }
    let module_dirs = format!("module_dirs = [{:?}]", modules.display().to_string());
    config_with(dir, &policies, "", &module_dirs)
}

/// A command whose output ends, interrupted.
struct Interrupted {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// From the signal to the end of the process.
    took: Duration,
}

/// Runs `cortex-runner args`, waits until its job is decided (so that it is past start-up and
/// its handlers are in place), sends `signal` and waits for the process to end.
fn interrupt(args: &[&str], config: &Path, signal: &str) -> Interrupted {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cortex-runner"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("CORTEX_RUNNER_CONFIG")
        .env("RUST_LOG", "cortex_runner=info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).unwrap();
        text
    });
    let (lines, stderr_lines) = mpsc::channel();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let stderr = std::thread::spawn(move || {
        let mut all = String::new();
        for line in stderr.lines() {
            let line = line.unwrap();
            all.push_str(&line);
            all.push('\n');
            let _ = lines.send(line);
        }
        all
    });
    loop {
        match stderr_lines.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line.contains("decided") => break,
            Ok(_) => {}
            Err(e) => {
                let _ = child.kill();
                panic!(
                    "the job was never decided ({e}): {}",
                    stderr.join().unwrap()
                );
            }
        }
    }
    // The job is running now, or about to: give the guest a moment inside its loop.
    std::thread::sleep(Duration::from_millis(200));
    let sent = Instant::now();
    let kill = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(kill.success(), "kill -{signal}");
    let code = wait(&mut child, PROMPT * 2);
    Interrupted {
        code,
        took: sent.elapsed(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// The exit code of `child`, which must end within `limit` (it is killed otherwise).
fn wait(child: &mut Child, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("cortex-runner did not end within {limit:?} of the signal");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The report Cortex would read from a job interrupted by `signal`.
fn cancelled(signal: &str) -> Value {
    json!({
        "success": false,
        "errorMessage": format!("cancelled: interrupted by SIG{signal}"),
        "input": {"data": "10.0.0.1", "dataType": "ip", "tlp": 2, "pap": 2, "message": "", "parameters": {}, "config": {}},
    })
}

fn written(folder: &JobFolder) -> Value {
    let text = std::fs::read(folder.output_dir().join("output.json")).unwrap();
    serde_json::from_slice(&text).unwrap()
}

/// `cortex-runner job --analyzer <worker>` on an `ip` job folder, interrupted by `signal`:
/// asserts the exit code, the time it took, and the report in the folder and on stdout.
fn job_interrupted(worker: &str, signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let input = JobInput::new("ip", "10.0.0.1");
    let folder = JobFolder::create(dir.path(), "job", &input, None).unwrap();
    let path = folder.path().display().to_string();

    let out = interrupt(&["job", "--analyzer", worker, &path], &cfg, signal);

    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.took < PROMPT, "{:?}", out.took);
    assert_eq!(written(&folder), cancelled(signal));
    let printed: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(printed, cancelled(signal));
}

#[test]
fn sigint_during_job_cancels_the_spinning_guest_and_leaves_its_report() {
    job_interrupted("Spin", "INT");
}

#[test]
fn sigterm_during_job_cancels_a_guest_asleep_in_a_host_call() {
    job_interrupted("Sleep", "TERM");
}

#[test]
fn sigint_during_run_prints_the_failure_summary_and_keeps_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());

    let out = interrupt(
        &[
            "run",
            "--analyzer",
            "Spin",
            "--data",
            "10.0.0.1",
            "--data-type",
            "ip",
            "--keep",
        ],
        &cfg,
        "INT",
    );

    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.took < PROMPT, "{:?}", out.took);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    assert!(
        lines[0].starts_with("Spin: failure (wasm, "),
        "{}",
        lines[0]
    );
    assert_eq!(lines[2], "error: cancelled: interrupted by SIGINT");
    let kept = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("job folder: "))
        .expect("--keep names the folder");
    let report: Value =
        serde_json::from_slice(&std::fs::read(Path::new(kept).join("output/output.json")).unwrap())
            .unwrap();
    assert_eq!(report["success"], json!(false));
    assert_eq!(
        report["errorMessage"],
        json!("cancelled: interrupted by SIGINT")
    );
}
