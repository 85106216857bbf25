//! The runner service under load (issue 11): `cortex-runner serve` as a process of its own on
//! 127.0.0.1, N concurrent HTTP clients (default 64) on a small wasm analyzer
//! (ValidateObservable), job folders on tmpfs; and, in the same run, the direct in-process path
//! (`cortex-runner bench`) on the same module and the same file system, so that the HTTP
//! overhead is a same-run ratio.
//!
//! Each client job, as Cortex's side does it: create the job folder
//! ([`cortex_job::JobFolder::create`]), `POST /v1/jobs`, `GET /v1/jobs/{id}/wait` until done,
//! read `output/output.json` back and parse it, remove the folder. Two latencies: submit → done
//! (the POST sent to the wait's answer), and create → read back (the span
//! `cortex-runner bench`'s own latency covers). The folder's removal counts in the throughput
//! only, as in `bench`.
//!
//! `--soak N` runs N jobs in a row through the service instead and reports its RSS (`VmRSS`)
//! before the first job, every `--rss-every` jobs, and at the end.
//!
//! ```sh
//! cargo bench -p cortex-runner --bench service_load -- [--clients 64] [--jobs 20000] \
//!     [--direct-concurrency 2] [--rounds 1] [--dir /dev/shm] [--soak 100000]
//! ```
//!
//! Everything stops by itself: a bounded number of jobs, a deadline (`--max-s`) after which the
//! clients stop, the server sent SIGTERM (then SIGKILL) at the end or on any error, and the
//! bench directory removed. The clients only ever talk to 127.0.0.1.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use clap::Parser;
use cortex_job::{JobFolder, JobInput};
use cortex_runner::bench::{Latency, latency};
use cortex_runner::client::{JobState, Retry, ServiceClient, Submitted, Token};
use serde_json::{Value, json};

/// The bearer token the bench's server requires.
const TOKEN: &str = "service-load-bench-token";
/// The most jobs one run may submit.
const MAX_JOBS: usize = 10_000_000;
/// Error messages kept (the rest are only counted).
const KEPT_ERRORS: usize = 5;

#[derive(Parser, Debug)]
#[command(about = "The runner service under load, side by side with the in-process path")]
struct Args {
    /// Concurrent HTTP clients, each with one job in flight.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Jobs through HTTP per round (and through `cortex-runner bench`).
    #[arg(long, default_value_t = 20_000)]
    jobs: usize,
    /// Jobs through HTTP before the measurement (connections, module, allocator warm).
    #[arg(long, default_value_t = 1_000)]
    warmup: usize,
    /// Rounds; each runs the direct path, then HTTP.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// `cortex-runner bench --concurrency` of the direct path.
    #[arg(long, default_value_t = 2)]
    direct_concurrency: usize,
    /// Leave out the direct path.
    #[arg(long)]
    no_direct: bool,
    /// Instead: this many jobs in a row through HTTP, with the service's RSS along the way.
    #[arg(long, value_name = "N")]
    soak: Option<usize>,
    /// In `--soak`, the service's RSS every this many jobs.
    #[arg(long, default_value_t = 10_000)]
    rss_every: usize,
    /// Where the bench directory (job roots, configuration) goes; tmpfs for the figures.
    #[arg(long, default_value = "/dev/shm")]
    dir: PathBuf,
    /// The `cortex-runner` binary; default: the one cargo built with this bench.
    #[arg(long, value_name = "PATH")]
    runner: Option<PathBuf>,
    /// The worker every job is submitted to (a built-in wasm analyzer).
    #[arg(long, default_value = "ValidateObservable")]
    worker: String,
    /// The observable of every job.
    #[arg(long, default_value = "8.8.8.8")]
    data: String,
    /// Its data type.
    #[arg(long, default_value = "ip")]
    data_type: String,
    /// The worker's wasm concurrency in the service (its policy's `wasm.concurrency`).
    #[arg(long, default_value_t = 64)]
    wasm_concurrency: usize,
    /// The service's `scheduler.max_running`.
    #[arg(long, default_value_t = 64)]
    max_running: usize,
    /// The service's `service.finished_jobs` (finished jobs it keeps in memory; the shipped
    /// default is 10,000).
    #[arg(long, default_value_t = 10_000)]
    finished_jobs: usize,
    /// Turn off the service's per-job log lines (three `info` lines per job by default, as
    /// deployed); its start-up lines stay.
    #[arg(long)]
    quiet_service: bool,
    /// Seconds after which the clients stop, whatever is left.
    #[arg(long, default_value_t = 900)]
    max_s: u64,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(
        (1..=1024).contains(&args.clients),
        "--clients {}: expected 1 to 1024",
        args.clients
    );
    for (flag, n) in [("--jobs", args.jobs), ("--soak", args.soak.unwrap_or(1))] {
        ensure!(
            (1..=MAX_JOBS).contains(&n),
            "{flag} {n}: expected 1 to {MAX_JOBS}"
        );
    }
    ensure!(args.rss_every >= 1, "--rss-every must be at least 1");
    let runner = args
        .runner
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_cortex-runner")));
    ensure!(
        runner.is_file(),
        "the runner binary {} does not exist (build it, or pass --runner)",
        runner.display()
    );
    let module = analyzer_artifacts::module_path(&args.worker)
        .map(PathBuf::from)
        .with_context(|| format!("{} is not a built-in analyzer", args.worker))?;
    let bench_dir = args
        .dir
        .join(format!("cortex-runner-service-load-{}", std::process::id()));
    std::fs::create_dir_all(&bench_dir)
        .with_context(|| format!("creating {}", bench_dir.display()))?;
    let _cleanup = RemoveOnDrop(bench_dir.clone());
    let config = write_config(&bench_dir, &args)?;
    let file_system = cortex_runner::bench::file_system_of(&bench_dir);
    eprintln!(
        "bench directory {} ({}); starting {}",
        bench_dir.display(),
        file_system.as_deref().unwrap_or("unknown file system"),
        runner.display()
    );
    let mut server = Server::start(&runner, &config, &bench_dir, args.quiet_service)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let token_file = bench_dir.join("token");
    let client = ServiceClient::new(
        &format!("http://{}", server.addr),
        Some(Token::from_file(&token_file)?),
        // No retries: every failed request is counted as a failure.
        Retry {
            attempts: 1,
            ..Retry::default()
        },
    )?;
    let jobs_root = bench_dir.join("jobs");
    let load = Load {
        client,
        root: jobs_root,
        input: Arc::new(JobInput::new(args.data_type.as_str(), args.data.as_str())),
        worker: args.worker.clone(),
        clients: args.clients,
        deadline: Instant::now() + Duration::from_secs(args.max_s),
    };
    let outcome = if let Some(n) = args.soak {
        soak(&rt, &load, &server, n, &args)
    } else {
        side_by_side(&rt, &load, &server, &runner, &module, &bench_dir, &args)
    };
    let (mut out, table) = match outcome {
        Ok(done) => done,
        Err(e) => {
            server.stop();
            eprintln!("server log (tail):\n{}", server.log_tail(40));
            return Err(e);
        }
    };
    out["server"]["rss_kib_before_stop"] = json!(vm_rss_kib(server.pid()));
    out["setup"] = json!({
        "worker": args.worker,
        "module": module,
        "observable": {"dataType": args.data_type, "data": args.data},
        "clients": args.clients,
        "wasm_concurrency": args.wasm_concurrency,
        "max_running": args.max_running,
        "finished_jobs": args.finished_jobs,
        "service_job_log": !args.quiet_service,
        "dir": args.dir,
        "file_system": file_system,
        "cores": std::thread::available_parallelism().map(usize::from).ok(),
        "load_average": std::fs::read_to_string("/proc/loadavg").ok().map(|l| l.trim().to_string()),
    });
    let exit = server.stop();
    out["server"]["exit"] = json!(exit);
    println!("{}", serde_json::to_string_pretty(&out)?);
    println!("{table}");
    Ok(())
}

/// The configuration: the shipped policies with the worker's wasm concurrency raised, the
/// scheduler's limit, the finished jobs kept, the job root in the bench directory, and the
/// token.
fn write_config(dir: &Path, args: &Args) -> anyhow::Result<PathBuf> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the runner crate has a parent folder")?;
    let policies = dir.join("policies");
    std::fs::create_dir_all(&policies)?;
    let mut found = false;
    for entry in std::fs::read_dir(repo.join("policies"))? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let name = path.file_name().context("a policy file has a name")?;
        let mut text = std::fs::read_to_string(&path)?;
        if path.file_stem().is_some_and(|s| s == args.worker.as_str()) {
            found = true;
            let mut policy: toml::Table =
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
            let wasm = policy
                .entry("wasm")
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let wasm = wasm
                .as_table_mut()
                .with_context(|| format!("{}: [wasm] is not a table", path.display()))?;
            wasm.insert(
                "concurrency".into(),
                toml::Value::Integer(i64::try_from(args.wasm_concurrency)?),
            );
            text = toml::to_string(&policy)?;
        }
        std::fs::write(policies.join(name), text)?;
    }
    ensure!(
        found,
        "no policy {}.toml in {}",
        args.worker,
        repo.join("policies").display()
    );
    std::fs::write(dir.join("token"), format!("{TOKEN}\n"))?;
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[jobs]\nroot = {:?}\n[policies]\ndir = {:?}\n[scheduler]\nmax_running = {}\n\
             [wasm]\ncache_dir = {:?}\n[kubernetes]\nenabled = false\n\
             [service]\nfinished_jobs = {}\n",
            dir.join("jobs").display().to_string(),
            policies.display().to_string(),
            args.max_running,
            dir.join("module-cache").display().to_string(),
            args.finished_jobs,
        ),
    )?;
    Ok(config)
}

/// Removes the bench directory when the bench ends, however it ends.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            eprintln!("removing {}: {e}", self.0.display());
        }
    }
}

/// The `cortex-runner serve` process.
struct Server {
    child: Child,
    addr: std::net::SocketAddr,
    /// The last log lines (bounded).
    log: Arc<Mutex<std::collections::VecDeque<String>>>,
    stopped: bool,
}

impl Server {
    /// Starts `serve` on 127.0.0.1 (a port the kernel picks, read from its "listening" line)
    /// and waits for `/readyz`.
    fn start(runner: &Path, config: &Path, dir: &Path, quiet: bool) -> anyhow::Result<Self> {
        let mut command = Command::new(runner);
        command
            .arg("serve")
            .arg("--config")
            .arg(config)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--token-file")
            .arg(dir.join("token"))
            .env_remove("CORTEX_RUNNER_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if quiet {
            command.env("RUST_LOG", "warn,cortex_runner::cli=info");
        } else {
            command.env_remove("RUST_LOG");
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", runner.display()))?;
        let stderr = child.stderr.take().context("serve's stderr")?;
        let log = Arc::new(Mutex::new(std::collections::VecDeque::new()));
        let (tx, rx) = mpsc::channel();
        let sink = log.clone();
        // Drains serve's stderr for its whole life (a full pipe would stall it), keeping the
        // tail for error messages.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = listening_addr(&line) {
                    let _ = tx.send(addr);
                }
                let mut log = sink
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if log.len() >= 200 {
                    log.pop_front();
                }
                log.push_back(line);
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let tail = log
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n");
                bail!("serve did not listen within 60 s:\n{tail}");
            }
        };
        ensure!(
            addr.ip().is_loopback(),
            "serve listens on {addr}, not loopback"
        );
        let mut server = Self {
            child,
            addr,
            log,
            stopped: false,
        };
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if readyz(addr) == Some(200) {
                break;
            }
            if let Some(status) = server.child.try_wait()? {
                server.stopped = true;
                bail!("serve exited ({status}):\n{}", server.log_tail(40));
            }
            if Instant::now() > deadline {
                server.stop();
                bail!("serve not ready within 300 s:\n{}", server.log_tail(40));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self, n: usize) -> String {
        let log = self
            .log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let skip = log.len().saturating_sub(n);
        log.iter()
            .skip(skip)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// SIGTERM, then SIGKILL after 20 s; how it ended.
    fn stop(&mut self) -> String {
        if self.stopped {
            return "already stopped".into();
        }
        self.stopped = true;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status.to_string(),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return "killed after 20 s".into();
                }
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The address of serve's "listening" line.
fn listening_addr(line: &str) -> Option<std::net::SocketAddr> {
    if !line.contains("listening") {
        return None;
    }
    let rest = &line[line.find("addr=")? + 5..];
    rest.split_whitespace().next()?.parse().ok()
}

/// `GET /readyz`'s status, over a plain socket.
fn readyz(addr: std::net::SocketAddr) -> Option<u16> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let line = String::from_utf8_lossy(&answer);
    line.split(' ').nth(1)?.parse().ok()
}

/// `VmRSS` of process `pid`, KiB.
fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time (user + system) of process `pid` so far (`/proc/<pid>/stat`, at 100 ticks a
/// second, the value of `CLK_TCK` on Linux).
fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at state, field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// What every client shares.
struct Load {
    client: ServiceClient,
    root: PathBuf,
    input: Arc<JobInput>,
    worker: String,
    clients: usize,
    deadline: Instant,
}

/// One HTTP run's figures.
#[derive(Debug)]
struct HttpFigures {
    jobs: usize,
    wall: Duration,
    submit_to_done: Latency,
    create_to_read_back: Latency,
    failures: usize,
    errors: Vec<String>,
    server_cpu: Option<Duration>,
    client_cpu: Option<Duration>,
    stopped_by_deadline: bool,
}

impl HttpFigures {
    fn jobs_per_s(&self) -> f64 {
        self.jobs as f64 / self.wall.as_secs_f64()
    }

    fn json(&self) -> Value {
        let per_job = |cpu: Option<Duration>| {
            cpu.map(|c| (c.as_secs_f64() * 1e6 / self.jobs.max(1) as f64).round())
        };
        json!({
            "jobs": self.jobs,
            "wall_s": self.wall.as_secs_f64(),
            "jobs_per_s": self.jobs_per_s(),
            "submit_to_done_us": self.submit_to_done,
            "create_to_read_back_us": self.create_to_read_back,
            "failures": self.failures,
            "first_errors": self.errors,
            "server_cpu_us_per_job": per_job(self.server_cpu),
            "client_cpu_us_per_job": per_job(self.client_cpu),
            "stopped_by_deadline": self.stopped_by_deadline,
        })
    }
}

/// What one client measured.
#[derive(Default)]
struct ClientResult {
    submit_to_done: Vec<Duration>,
    create_to_read_back: Vec<Duration>,
    failures: usize,
    errors: Vec<String>,
}

/// Runs `jobs` jobs through the service with `load.clients` clients; `every` is called with
/// the number of jobs finished so far after each job.
fn run_http(
    rt: &tokio::runtime::Runtime,
    load: &Load,
    server_pid: u32,
    jobs: usize,
    tag: &str,
    every: Arc<dyn Fn(usize) + Send + Sync>,
) -> anyhow::Result<HttpFigures> {
    let next = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let timed_out = Arc::new(AtomicBool::new(false));
    let server_pid = server_pid.to_string();
    let cpu_before = (cpu_time(&server_pid), cpu_time("self"));
    let started = Instant::now();
    let results = rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..load.clients {
            let client = load.client.clone();
            let (root, input, worker) =
                (load.root.clone(), load.input.clone(), load.worker.clone());
            let (next, finished, timed_out, every) = (
                next.clone(),
                finished.clone(),
                timed_out.clone(),
                every.clone(),
            );
            let (deadline, tag) = (load.deadline, tag.to_string());
            tasks.spawn(async move {
                let mut result = ClientResult::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= jobs {
                        break;
                    }
                    if Instant::now() > deadline {
                        timed_out.store(true, Ordering::Relaxed);
                        break;
                    }
                    match one_job(
                        &client,
                        &root,
                        &input,
                        &worker,
                        &format!("{tag}{i}"),
                        deadline,
                    )
                    .await
                    {
                        Ok((submit_to_done, create_to_read_back, success)) => {
                            result.submit_to_done.push(submit_to_done);
                            result.create_to_read_back.push(create_to_read_back);
                            if !success {
                                result.failures += 1;
                            }
                        }
                        Err(e) => {
                            result.failures += 1;
                            if result.errors.len() < KEPT_ERRORS {
                                result.errors.push(format!("{e:#}"));
                            }
                        }
                    }
                    every(finished.fetch_add(1, Ordering::Relaxed) + 1);
                }
                result
            });
        }
        let mut all = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            all.push(joined.expect("a client task panicked"));
        }
        all
    });
    let wall = started.elapsed();
    let cpu_after = (cpu_time(&server_pid), cpu_time("self"));
    let diff = |a: Option<Duration>, b: Option<Duration>| Some(b?.saturating_sub(a?));
    let mut submit_to_done = Vec::with_capacity(jobs);
    let mut create_to_read_back = Vec::with_capacity(jobs);
    let (mut failures, mut errors) = (0, Vec::new());
    for r in results {
        submit_to_done.extend(r.submit_to_done);
        create_to_read_back.extend(r.create_to_read_back);
        failures += r.failures;
        errors.extend(r.errors);
    }
    errors.truncate(KEPT_ERRORS);
    Ok(HttpFigures {
        jobs: finished.load(Ordering::Relaxed),
        wall,
        submit_to_done: latency(&mut submit_to_done),
        create_to_read_back: latency(&mut create_to_read_back),
        failures,
        errors,
        server_cpu: diff(cpu_before.0, cpu_after.0),
        client_cpu: diff(cpu_before.1, cpu_after.1),
        stopped_by_deadline: timed_out.load(Ordering::Relaxed),
    })
}

/// One job as Cortex's side does it: (submit → done, create → read back, the report's
/// `success`). The folder is removed afterwards whatever happened.
async fn one_job(
    client: &ServiceClient,
    root: &Path,
    input: &JobInput,
    worker: &str,
    id: &str,
    deadline: Instant,
) -> anyhow::Result<(Duration, Duration, bool)> {
    let t0 = Instant::now();
    let folder = JobFolder::create(root, id, input, None).context("creating the job folder")?;
    let outcome: anyhow::Result<_> = async {
        let path = folder.path().to_str().context("a UTF-8 job folder path")?;
        let t1 = Instant::now();
        let (id, mut state) = match client.submit(worker, path).await? {
            Submitted::New(status) | Submitted::Existing(status) => (status.id, status.state),
            Submitted::Taken { id } => bail!("job folder taken by another replica ({id})"),
        };
        while state != JobState::Done {
            ensure!(Instant::now() < deadline, "the bench's deadline passed");
            state = client.wait(&id, Duration::from_secs(30)).await?.state;
        }
        let submit_to_done = t1.elapsed();
        let report_path = folder.output_dir().join("output.json");
        let bytes = std::fs::read(&report_path)
            .with_context(|| format!("reading {}", report_path.display()))?;
        let report: Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("parsing {}", report_path.display()))?;
        let success = report.get("success") == Some(&Value::Bool(true));
        Ok((submit_to_done, t0.elapsed(), success))
    }
    .await;
    let _ = folder.remove();
    outcome
}

/// The direct path: `cortex-runner bench` on the same module, observable and file system.
fn run_direct(
    runner: &Path,
    module: &Path,
    dir: &Path,
    jobs: usize,
    args: &Args,
) -> anyhow::Result<Value> {
    let output = Command::new(runner)
        .arg("bench")
        .arg("--module")
        .arg(module)
        .arg("--jobs")
        .arg(jobs.to_string())
        .arg("--concurrency")
        .arg(args.direct_concurrency.to_string())
        .arg("--job-root")
        .arg(dir.join("direct"))
        .arg("--data")
        .arg(&args.data)
        .arg("--data-type")
        .arg(&args.data_type)
        .env_remove("CORTEX_RUNNER_CONFIG")
        .stdin(Stdio::null())
        .output()
        .context("running cortex-runner bench")?;
    ensure!(
        output.status.success(),
        "cortex-runner bench failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).context("parsing cortex-runner bench's JSON")
}

/// The load run: per round, the direct path then HTTP; the figures and the ratios.
fn side_by_side(
    rt: &tokio::runtime::Runtime,
    load: &Load,
    server: &Server,
    runner: &Path,
    module: &Path,
    dir: &Path,
    args: &Args,
) -> anyhow::Result<(Value, String)> {
    let nothing: Arc<dyn Fn(usize) + Send + Sync> = Arc::new(|_| {});
    let rss_start = vm_rss_kib(server.pid());
    if args.warmup > 0 {
        let warm = run_http(rt, load, server.pid(), args.warmup, "warm", nothing.clone())?;
        ensure!(
            warm.failures == 0,
            "the warm-up had {} failures: {:?}",
            warm.failures,
            warm.errors
        );
    }
    let mut rounds = Vec::new();
    let mut table = String::from(
        "| round | path | jobs | jobs/s | p50 | p99 | failures |\n| --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for round in 1..=args.rounds {
        let direct = if args.no_direct {
            None
        } else {
            eprintln!("round {round}: cortex-runner bench, {} jobs", args.jobs);
            Some(run_direct(runner, module, dir, args.jobs, args)?)
        };
        eprintln!(
            "round {round}: HTTP, {} jobs, {} clients",
            args.jobs, args.clients
        );
        let http = run_http(
            rt,
            load,
            server.pid(),
            args.jobs,
            &format!("r{round}j"),
            nothing.clone(),
        )?;
        if let Some(d) = &direct {
            table.push_str(&format!(
                "| {round} | in-process `bench`, concurrency {} | {} | {:.0} | {} µs | {} µs | {} |\n",
                args.direct_concurrency,
                d["jobs"],
                d["jobs_per_s"].as_f64().unwrap_or(0.0),
                d["latency_us"]["p50"],
                d["latency_us"]["p99"],
                d["failures"],
            ));
        }
        table.push_str(&format!(
            "| {round} | HTTP, {} clients (submit → done) | {} | {:.0} | {} µs | {} µs | {} |\n",
            args.clients,
            http.jobs,
            http.jobs_per_s(),
            http.submit_to_done.p50,
            http.submit_to_done.p99,
            http.failures,
        ));
        let ratio = direct.as_ref().map(|d| {
            let direct_rate = d["jobs_per_s"].as_f64().unwrap_or(0.0);
            json!({
                "throughput_direct_over_http": direct_rate / http.jobs_per_s(),
            })
        });
        rounds.push(json!({
            "round": round,
            "direct": direct,
            "http": http.json(),
            "ratio": ratio,
        }));
    }
    let out = json!({
        "mode": "side_by_side",
        "rounds": rounds,
        "server": {"rss_kib_start": rss_start},
    });
    Ok((out, table))
}

/// One RSS sample of the soak: jobs done, seconds since its start, the service's `VmRSS` (KiB).
type RssSample = (usize, f64, Option<u64>);

/// `n` jobs in a row through HTTP, with the service's RSS at start, every `rss_every` jobs
/// and at the end.
fn soak(
    rt: &tokio::runtime::Runtime,
    load: &Load,
    server: &Server,
    n: usize,
    args: &Args,
) -> anyhow::Result<(Value, String)> {
    let pid = server.pid();
    let started = Instant::now();
    let samples: Arc<Mutex<Vec<RssSample>>> = Arc::new(Mutex::new(vec![(0, 0.0, vm_rss_kib(pid))]));
    let every = {
        let (samples, step) = (samples.clone(), args.rss_every);
        Arc::new(move |done: usize| {
            if done.is_multiple_of(step) {
                let rss = vm_rss_kib(pid);
                samples
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((done, started.elapsed().as_secs_f64(), rss));
            }
        })
    };
    eprintln!("soak: {n} jobs, {} clients", args.clients);
    let http = run_http(rt, load, pid, n, "soak", every)?;
    let mut samples = samples
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    if samples.last().is_none_or(|s| s.0 != http.jobs) {
        samples.push((http.jobs, started.elapsed().as_secs_f64(), vm_rss_kib(pid)));
    }
    let mut table = String::from("| jobs done | seconds | service RSS |\n| --- | --- | --- |\n");
    for (done, secs, rss) in &samples {
        let rss = rss.map_or_else(
            || "?".to_string(),
            |k| format!("{:.1} MiB", k as f64 / 1024.0),
        );
        table.push_str(&format!("| {done} | {secs:.1} | {rss} |\n"));
    }
    table.push_str(&format!(
        "\n{} jobs, {:.0} jobs/s, submit → done p50 {} µs, p99 {} µs, {} failures\n",
        http.jobs,
        http.jobs_per_s(),
        http.submit_to_done.p50,
        http.submit_to_done.p99,
        http.failures
    ));
    let out = json!({
        "mode": "soak",
        "http": http.json(),
        "rss_kib": samples
            .iter()
            .map(|(done, secs, rss)| json!({"jobs_done": done, "s": secs, "vm_rss_kib": rss}))
            .collect::<Vec<_>>(),
        "server": {},
    });
    Ok((out, table))
}
