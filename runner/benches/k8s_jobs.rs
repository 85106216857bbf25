//! 1,000 concurrent Jobs through the local API server (issue 10's benchmark).
//!
//! The runner runs in this process, configured as a deployment would be (`config.toml`, a
//! policy with `backend = "kubernetes"`, `Setup::load`, `Setup::scheduler_with_kubernetes`),
//! against kube-standin in a process of its own, so that this process's peak RSS is the
//! runner's. Every job is submitted at once; each pod writes a valid report and exits.
//!
//! It measures:
//! - the watch connections the runner opened (the stand-in's `watches_total`; must be 2);
//! - the write requests per job (the stand-in's `write_requests`, and the runner's own
//!   `KubeApi::counters`; at most 3);
//! - the runner's peak RSS (`VmHWM` of this process);
//! - the delay from each container's end (the stand-in's `/_standin/exits`, in microseconds)
//!   to the final report (the modification time of the final `output/output.json`: the pods
//!   write their report with spaces, which `finalise` rewrites compactly, so the file's time is
//!   the finalisation's), and to the job's handle resolving (after the Job's deletion). The
//!   steps in between come from the stand-in (terminated status stored) and the job's record
//!   (the run's end, as the runner saw the pod end).
//!
//! ```sh
//! cargo bench -p cortex-runner --bench k8s_jobs -- [--jobs N] [--standin-bin PATH] [--dir DIR]
//! ```
//!
//! `--standin-bin` runs that `kube-standin` binary (`cargo build --release -p kube-standin`);
//! without it this binary runs itself again as the stand-in (`--serve-standin`, the same
//! library and the same start-up as `kube-standin`'s `main`). `--dir` (default `/dev/shm`,
//! tmpfs) holds the job folders (the stand-in's PVC) and the pods' directories. Prints a JSON
//! summary, then a table.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use clap::Parser;
use cortex_job::{JobFolder, JobInput};
use cortex_runner::backend::kubernetes::spec;
use cortex_runner::config::{ConfigLoader, Flags};
use cortex_runner::scheduler::JobRecord;
use cortex_runner::setup::Setup;
use serde_json::{Value, json};

/// The image every pod runs.
const IMAGE: &str = "cortex/bench-report:1";
/// The worker (policy) name.
const WORKER: &str = "BenchReport";
/// The pod's work: a valid report, written with spaces so that `finalise` rewrites it (see the
/// module doc). `$1` is the job folder (`/job`, rewritten by the stand-in).
const SCRIPT: &str = r#"printf '{"success": true, "summary": {"taxonomies": []}, "full": {"bench": 1}, "artifacts": []}' > "$1/output/output.json""#;
/// The delays measured per job, in pipeline order (see [`measure`]).
const STEPS: [&str; 8] = [
    // The goal: the container's end to the final report (finalise returned).
    "exit_to_report",
    // The same to the report file's modification time (the kernel's coarse clock: a tick,
    // 4 ms at HZ=250, early at most).
    "exit_to_report_mtime",
    // The same to the job's handle resolving (after the Job's deletion).
    "exit_to_resolved",
    // Submission to the container's end (create, schedule, start, run).
    "submit_to_exit",
    // The steps of exit_to_resolved: the stand-in stores the terminated status, ...
    "exit_to_status",
    // ... the runner sees the pod's end (watch delivery, wake-up, assessment), ...
    "status_to_run_end",
    // ... finalises (a blocking-pool task), ...
    "run_end_to_report",
    // ... and deletes the Job.
    "report_to_resolved",
];
/// The most jobs one run may submit.
const MAX_JOBS: usize = 100_000;

#[derive(Parser, Debug)]
#[command(about = "1,000 concurrent Jobs through the local API server")]
struct Args {
    /// Jobs submitted at once.
    #[arg(long, default_value_t = 1000)]
    jobs: usize,
    /// The kube-standin binary to run; default: this binary, as `--serve-standin`.
    #[arg(long, value_name = "PATH")]
    standin_bin: Option<PathBuf>,
    /// Where the job folders (the stand-in's PVC) and the pods' directories go.
    #[arg(long, value_name = "DIR", default_value = "/dev/shm")]
    dir: PathBuf,
    /// Keep the bench directory (job folders, configurations) afterwards.
    #[arg(long)]
    keep: bool,
    /// How the stand-in mounts the pods' volumes: `auto` (a private mount namespace where
    /// `unshare` works), `namespace` or `symlink` (one process per container, no mounts).
    #[arg(long, default_value = "auto", value_parser = ["auto", "namespace", "symlink"])]
    isolation: String,
    /// Seconds each pod sleeps before it writes its report: with enough, every Job is running
    /// at once and the pods end after the start-up burst (their ends spread as their starts).
    #[arg(long, default_value_t = 0)]
    sleep_s: u32,
    /// Pin this process (the runner) to CPU 0 and the stand-in with its containers to CPU 1, so
    /// that the simulated cluster cannot take the runner's core.
    #[arg(long)]
    pin: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    /// Internal: serve as the stand-in with this JSON configuration until SIGINT.
    #[arg(long, hide = true, value_name = "FILE")]
    serve_standin: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(config) = &args.serve_standin {
        return serve_standin(config);
    }
    ensure!(
        (1..=MAX_JOBS).contains(&args.jobs),
        "--jobs {}: expected 1 to {MAX_JOBS}",
        args.jobs
    );
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::WARN)
        .init();
    let base = args
        .dir
        .join(format!("k8s-jobs-bench-{}", std::process::id()));
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    let result = run(&args, &base);
    if !args.keep
        && let Err(e) = std::fs::remove_dir_all(&base)
    {
        eprintln!("removing {}: {e}", base.display());
    }
    result
}

/// The stand-in mode: the same start-up as `kube-standin`'s `main`, from a JSON [`Config`].
///
/// [`Config`]: kube_standin::Config
fn serve_standin(path: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let config: kube_standin::Config =
        serde_json::from_str(&text).with_context(|| format!("configuration {}", path.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let handle = kube_standin::Standin::start(config)
            .await
            .context("starting kube-standin")?;
        println!("kube-standin listening on {}", handle.url());
        std::io::stdout().flush()?;
        tokio::signal::ctrl_c().await?;
        drop(handle);
        Ok(())
    })
}

/// The files of one run.
struct Paths {
    jobs: PathBuf,
    kubeconfig: PathBuf,
    standin_config: PathBuf,
    runner_config: PathBuf,
}

fn run(args: &Args, base: &Path) -> anyhow::Result<()> {
    let paths = write_files(args, base)?;
    let mut standin = Standin::start(args, &paths)?;
    let measured = measure(args, &paths, &standin);
    let stopped = standin.stop();
    let summary = measured?;
    stopped?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    print_table(&summary);
    let failed = summary["failed"].as_u64().unwrap_or(u64::MAX);
    ensure!(failed == 0, "{failed} jobs did not succeed");
    Ok(())
}

/// Writes the stand-in's configuration, the runner's `config.toml` and the policy.
fn write_files(args: &Args, base: &Path) -> anyhow::Result<Paths> {
    let jobs = base.join("jobs");
    let policies = base.join("policies");
    for dir in [&jobs, &policies] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let paths = Paths {
        jobs,
        kubeconfig: base.join("kubeconfig"),
        standin_config: base.join("standin.json"),
        runner_config: base.join("config.toml"),
    };
    let script = match args.sleep_s {
        0 => SCRIPT.to_string(),
        s => format!("sleep {s}; {SCRIPT}"),
    };
    let standin = json!({
        "kubeconfig_out": paths.kubeconfig,
        "pvc_dir": paths.jobs,
        "work_dir": base.join("standin"),
        // Every change of every Job stays watchable: no 410 in the middle of the run.
        "history_limit": 100_000,
        "isolation": args.isolation,
        "images": {
            IMAGE: {"command": ["sh", "-c", script, "sh"]},
        },
    });
    std::fs::write(&paths.standin_config, serde_json::to_vec_pretty(&standin)?)?;
    // One lane with room for every job; all jobs in flight at once.
    let concurrency = args.jobs.min(1024);
    let max_running = args.jobs.min(4096);
    let toml_path = |p: &Path| toml::Value::String(p.display().to_string()).to_string();
    let config = format!(
        "[jobs]\nroot = {jobs}\n\n[policies]\ndir = {policies}\n\n[catalogs]\nanalyzers = []\n\
         responders = []\n\n[scheduler]\nmax_running = {max_running}\n\n[wasm]\nenabled = false\n\n\
         [kubernetes]\nenabled = true\nkubeconfig = {kubeconfig}\nnamespace = \"cortex\"\n\
         run_as_user = 1000\nrun_as_group = 1000\nfs_group = 1000\nconcurrency = {concurrency}\n\
         timeout_s = 600\napi_qps = 1000\n",
        jobs = toml_path(&paths.jobs),
        policies = toml_path(&policies),
        kubeconfig = toml_path(&paths.kubeconfig),
    );
    std::fs::write(&paths.runner_config, config)?;
    let policy = format!(
        "backend = \"kubernetes\"\n\n[worker]\nkind = \"analyzer\"\nversion = \"1.0\"\n\
         description = \"writes a report and exits\"\ndata_types = [\"ip\"]\n\n\
         [kubernetes]\nimage = \"{IMAGE}\"\nconcurrency = {concurrency}\n"
    );
    std::fs::write(policies.join(format!("{WORKER}.toml")), policy)?;
    Ok(paths)
}

/// The stand-in's process.
struct Standin {
    child: Child,
    address: String,
    command: String,
}

impl Standin {
    fn start(args: &Args, paths: &Paths) -> anyhow::Result<Self> {
        let (program, mut command) = match &args.standin_bin {
            Some(bin) => {
                let mut command = Command::new(bin);
                command
                    .arg("--config")
                    .arg(&paths.standin_config)
                    .arg("--kubeconfig-out")
                    .arg(&paths.kubeconfig)
                    .arg("--pvc-dir")
                    .arg(&paths.jobs);
                (bin.display().to_string(), command)
            }
            None => {
                let me = std::env::current_exe().context("finding this bench's executable")?;
                let mut command = Command::new(&me);
                command.arg("--serve-standin").arg(&paths.standin_config);
                (format!("{} --serve-standin", me.display()), command)
            }
        };
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting the stand-in {program}"))?;
        let stdout = child.stdout.take().context("the stand-in's stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let address = loop {
            match lines.next() {
                Some(line) => {
                    let line = line?;
                    if let Some(url) = line.strip_prefix("kube-standin listening on http://") {
                        break url.to_string();
                    }
                }
                None => {
                    let status = child.wait()?;
                    bail!("the stand-in {program} ended before listening: {status}");
                }
            }
        };
        // The rest of its output (two lines) is not needed; drain it so it never blocks.
        std::thread::spawn(move || lines.for_each(drop));
        if args.pin {
            // Every thread of both processes; threads and children created later inherit it.
            pin(&child.id().to_string(), "1")?;
            pin(&std::process::id().to_string(), "0")?;
        }
        Ok(Self {
            child,
            address,
            command: program,
        })
    }

    /// `GET path` on the stand-in's control API, as JSON.
    fn get(&self, path: &str) -> anyhow::Result<Value> {
        let mut stream = std::net::TcpStream::connect(&self.address)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n")?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response)?;
        let text = String::from_utf8(response).context("a response that is not UTF-8")?;
        let (head, body) = text
            .split_once("\r\n\r\n")
            .with_context(|| format!("GET {path}: a response without a body"))?;
        ensure!(
            head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
            "GET {path}: {head}"
        );
        serde_json::from_str(body).with_context(|| format!("GET {path}: the body"))
    }

    /// Stops it with SIGINT (it kills its containers and removes nothing else), or SIGKILL
    /// after 10 s.
    fn stop(&mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .arg("-INT")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

/// Sets the CPU affinity of every thread of process `pid` (util-linux `taskset`).
fn pin(pid: &str, cpus: &str) -> anyhow::Result<()> {
    let status = Command::new("taskset")
        .args(["--all-tasks", "--cpu-list", "-p", cpus, pid])
        .stdout(Stdio::null())
        .status()
        .context("running taskset")?;
    ensure!(status.success(), "taskset -a -c -p {cpus} {pid}: {status}");
    Ok(())
}

/// Now, in microseconds since the Unix epoch.
fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The modification time of `path` in microseconds since the Unix epoch.
fn mtime_us(path: &Path) -> anyhow::Result<u64> {
    let modified = std::fs::metadata(path)?.modified()?;
    let since = modified.duration_since(UNIX_EPOCH)?;
    Ok(u64::try_from(since.as_micros())?)
}

/// A line of `/proc/self/status` in KiB (`VmHWM`, `VmRSS`).
fn status_kib(key: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .with_context(|| format!("no {key} in /proc/self/status"))?;
    let kib = line.trim().trim_end_matches("kB").trim();
    Ok(kib.parse()?)
}

/// CPU seconds of process `pid` (`self` or a number) from `/proc/PID/stat`: its own (user +
/// system) and its waited-for children's. `/proc` counts in USER_HZ, 100 per second on Linux.
fn cpu_s(pid: &str) -> anyhow::Result<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat
        .rsplit_once(')')
        .with_context(|| format!("/proc/{pid}/stat: no command name"))?
        .1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime, stime, cutime, cstime are fields 14 to 17 of the line, 12 to 15 after the name.
    let tick = |i: usize| -> anyhow::Result<f64> {
        let ticks: u64 = fields.get(i).context("a short /proc stat line")?.parse()?;
        Ok(ticks as f64 / 100.0)
    };
    Ok((tick(11)? + tick(12)?, tick(13)? + tick(14)?))
}

/// The file system type holding `path` (the longest mount point above it in
/// `/proc/self/mountinfo`).
fn fs_type(path: &Path) -> String {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return "unknown".into();
    };
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    info.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let mount = Path::new(fields.get(4)?);
            let dash = fields.iter().position(|f| *f == "-")?;
            let kind = fields.get(dash + 1)?;
            path.starts_with(mount)
                .then(|| (mount.as_os_str().len(), (*kind).to_string()))
        })
        .max_by_key(|(len, _)| *len)
        .map_or_else(|| "unknown".into(), |(_, kind)| kind)
}

/// What the run gives back for one job.
struct Ran {
    folder: Arc<JobFolder>,
    submitted_us: u64,
    resolved_us: u64,
    record: JobRecord,
}

/// The runner's side: set up, submit every job at once, wait for all, then read the counters.
fn measure(args: &Args, paths: &Paths, standin: &Standin) -> anyhow::Result<Value> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let loader = ConfigLoader {
        file: Some(paths.runner_config.clone()),
        env: Vec::new(),
        flags: Flags::default(),
    };
    let setup = Setup::load(&loader, &[]).context("loading the runner's configuration")?;
    let (scheduler, kubernetes) = setup.scheduler_with_kubernetes()?;
    let scheduler = Arc::new(scheduler);
    let kubernetes = kubernetes.context("the Kubernetes backend is not enabled")?;
    let folders = (0..args.jobs)
        .map(|i| {
            let input = JobInput::new(
                "ip",
                format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255),
            );
            JobFolder::create(&paths.jobs, &format!("bench{i}"), &input, None).map(Arc::new)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let rss_before_kib = status_kib("VmRSS")?;
    let (runner_cpu_before, _) = cpu_s("self")?;
    let standin_pid = standin.child.id().to_string();
    let (standin_before, pods_before) = cpu_s(&standin_pid)?;
    let started = Instant::now();
    let ran: Vec<Ran> = runtime.block_on(async {
        let tasks: Vec<_> = folders
            .iter()
            .map(|folder| {
                let submitted_us = now_us();
                let handle = scheduler.submit(WORKER, folder.clone(), Instant::now());
                let folder = folder.clone();
                tokio::spawn(async move {
                    let record = handle.await;
                    let resolved_us = now_us();
                    record.map(|record| Ran {
                        folder,
                        submitted_us,
                        resolved_us,
                        record,
                    })
                })
            })
            .collect();
        let mut ran = Vec::with_capacity(tasks.len());
        for task in tasks {
            ran.push(task.await??);
        }
        anyhow::Ok(ran)
    })?;
    let wall = started.elapsed();
    let (runner_cpu, _) = cpu_s("self")?;
    let (standin_cpu, pods_cpu) = cpu_s(&standin_pid)?;
    let peak_kib = status_kib("VmHWM")?;
    let end_kib = status_kib("VmRSS")?;
    let api = kubernetes.api().context("the backend never connected")?;
    let counters = &api.counters;
    let watch_restarts = kubernetes
        .watches()
        .map_or(0, |w| w.counters.restarts.load(Ordering::Relaxed));
    let stats = standin.get("/_standin/stats")?;
    let exits = standin.get("/_standin/exits")?;
    let exits: HashMap<String, &Value> = exits
        .as_array()
        .context("/_standin/exits is not a list")?
        .iter()
        .filter_map(|e| Some((e["job"].as_str()?.to_string(), e)))
        .collect();

    // Per job, the delays between the instants of its end, in pipeline order.
    let mut steps: Vec<(&str, Vec<f64>)> = STEPS.iter().map(|s| (*s, Vec::new())).collect();
    let mut failed = 0u64;
    // Runs that ended on the Job's `Complete` condition after the `POD_CATCH_UP` grace,
    // without the pod's own end (their details name no pod).
    let mut without_pod = 0u64;
    let ms = |from: u64, to: u64| (to as f64 - from as f64) / 1000.0;
    let us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    for job in &ran {
        if !job.record.finalised.success {
            failed += 1;
            eprintln!(
                "{}: {}",
                job.folder.path().display(),
                job.record.finalised.report
            );
            continue;
        }
        let rel = spec::relative_folder(&paths.jobs, job.folder.path())?;
        let name = spec::job_name(&rel);
        let exit = exits
            .get(&name)
            .with_context(|| format!("no exit recorded for the Job {name}"))?;
        let exited = exit["exited_unix_us"].as_u64().context("exited_unix_us")?;
        let status = exit["status_unix_us"].as_u64().context("status_unix_us")?;
        let report_path = job.folder.output_dir().join("output.json");
        let written = std::fs::read(&report_path)?;
        // The pod wrote `"success": true`; finalise rewrites it compactly, so the file's time
        // is the finalisation's.
        ensure!(
            !written.windows(16).any(|w| w == br#""success": true"#),
            "{}: finalise did not rewrite the report, so its time is the pod's",
            report_path.display()
        );
        let mtime = mtime_us(&report_path)?;
        let record = &job.record;
        if record
            .run
            .as_ref()
            .is_some_and(|r| !r.details.contains_key("pod"))
        {
            without_pod += 1;
        }
        let wall = record.run.as_ref().map_or(Duration::ZERO, |r| r.wall);
        // The run starts when the slot is granted (`queued` after submission) and lasts `wall`;
        // `elapsed` (submission to report) is taken when `finalise` returns.
        let run_end = job.submitted_us + us(record.queued + wall);
        let report = job.submitted_us + us(record.elapsed);
        let samples = [
            ms(exited, report),
            ms(exited, mtime),
            ms(exited, job.resolved_us),
            ms(job.submitted_us, exited),
            ms(exited, status),
            ms(status, run_end),
            ms(run_end, report),
            ms(report, job.resolved_us),
        ];
        for ((_, all), sample) in steps.iter_mut().zip(samples) {
            all.push(sample);
        }
    }
    let delays: serde_json::Map<String, Value> = steps
        .into_iter()
        .filter(|(_, samples)| !samples.is_empty())
        .map(|(step, samples)| (step.to_string(), percentiles(samples)))
        .collect();
    let writes = stats["write_requests"].as_u64().unwrap_or_default();
    let jobs = args.jobs as f64;
    Ok(json!({
        "jobs": args.jobs,
        "failed": failed,
        "ended_without_the_pods_end": without_pod,
        "wall_s": wall.as_secs_f64(),
        "jobs_per_s": jobs / wall.as_secs_f64(),
        "job_folders": {"dir": args.dir, "fs": fs_type(&args.dir)},
        "cores": std::thread::available_parallelism().map_or(0, usize::from),
        "standin": standin.command,
        "isolation": args.isolation,
        "pinned": args.pin,
        "pod_sleep_s": args.sleep_s,
        "watch_connections": stats["watches_total"],
        "watches_open_at_end": stats["watches_open"],
        "write_requests": writes,
        "write_requests_per_job": writes as f64 / jobs,
        "standin_requests": stats["requests"],
        "runner_counters": {
            "requests": counters.requests.load(Ordering::Relaxed),
            "writes": counters.writes.load(Ordering::Relaxed),
            "retried": counters.retried.load(Ordering::Relaxed),
            "errors": counters.errors.load(Ordering::Relaxed),
            "watch_restarts": watch_restarts,
        },
        "cpu_s": {
            "runner": runner_cpu - runner_cpu_before,
            "standin": standin_cpu - standin_before,
            "containers": pods_cpu - pods_before,
        },
        "rss_kib": {"before_submit": rss_before_kib, "peak": peak_kib, "end": end_kib},
        "delay_ms": delays,
    }))
}

/// Median, p90 and maximum (nearest rank) of `samples`, in milliseconds.
fn percentiles(mut samples: Vec<f64>) -> Value {
    samples.sort_by(f64::total_cmp);
    let rank = |p: f64| {
        let index = (p * samples.len() as f64).ceil() as usize;
        samples[index.clamp(1, samples.len()) - 1]
    };
    let round = |v: f64| (v * 10.0).round() / 10.0;
    json!({
        "n": samples.len(),
        "p50": round(rank(0.5)),
        "p90": round(rank(0.9)),
        "max": round(rank(1.0)),
    })
}

fn print_table(s: &Value) {
    let per_job = s["write_requests_per_job"].as_f64().unwrap_or_default();
    println!();
    println!(
        "{} Jobs, {} failed, {:.1} s, {:.1} jobs/s; job folders on {} ({})",
        s["jobs"],
        s["failed"],
        s["wall_s"].as_f64().unwrap_or_default(),
        s["jobs_per_s"].as_f64().unwrap_or_default(),
        s["job_folders"]["dir"].as_str().unwrap_or_default(),
        s["job_folders"]["fs"].as_str().unwrap_or_default(),
    );
    println!(
        "runs that ended on the Job's condition, without the pod's end: {}",
        s["ended_without_the_pods_end"]
    );
    println!(
        "watch connections opened: {} (goal 2)",
        s["watch_connections"]
    );
    println!(
        "write requests: {} = {per_job:.2} per job (goal <= 3); runner's count {}, retried {}",
        s["write_requests"], s["runner_counters"]["writes"], s["runner_counters"]["retried"]
    );
    println!(
        "runner RSS: {} KiB before submitting, {} KiB peak (VmHWM)",
        s["rss_kib"]["before_submit"], s["rss_kib"]["peak"]
    );
    println!(
        "CPU during the run: runner {:.2} s, stand-in {:.2} s, its containers {:.2} s",
        s["cpu_s"]["runner"].as_f64().unwrap_or_default(),
        s["cpu_s"]["standin"].as_f64().unwrap_or_default(),
        s["cpu_s"]["containers"].as_f64().unwrap_or_default(),
    );
    println!(
        "{:<22} {:>9} {:>9} {:>9}",
        "delay (ms)", "p50", "p90", "max"
    );
    if let Some(delays) = s["delay_ms"].as_object() {
        for (step, d) in delays {
            println!(
                "{step:<22} {:>9} {:>9} {:>9}",
                d["p50"].to_string(),
                d["p90"].to_string(),
                d["max"].to_string()
            );
        }
    }
}
