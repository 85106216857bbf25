//! Throughput and latency of the full per-job path (folder, run, finalise, read back), for sizing
//! policies and for the README's performance figures.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cortex_job::{Attachment, AttachmentSource, FinaliseOptions, JobFolder, JobInput, WorkerEnd};
use serde::Serialize;
use wasm_host::{Limits, Module, Sandbox};

use crate::sandbox_run;

/// Errors that stop a benchmark before it produces figures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The job root could not be created or inspected.
    #[error("job root {path}: {source}")]
    JobRoot {
        /// The job root.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// A job folder could not be created.
    #[error("creating a job folder")]
    Folder(#[source] cortex_job::FolderError),
    /// A sandboxed job failed on the host side.
    #[error(transparent)]
    Sandbox(#[from] sandbox_run::Error),
    /// The comparison process could not be started.
    #[error("starting `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why it could not start.
        source: std::io::Error,
    },
    /// Reading the final report back failed.
    #[error("reading back {path}: {source}")]
    ReadBack {
        /// The report file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What to run and how often.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Number of jobs.
    pub jobs: usize,
    /// Jobs in flight at once.
    pub concurrency: usize,
    /// Where job folders are created (use tmpfs, e.g. `/dev/shm`, for figures that compare).
    pub job_root: PathBuf,
    /// The observable of every job.
    pub data: String,
    /// Its Cortex data type.
    pub data_type: String,
    /// A file observable instead of `data` (`dataType: "file"`, copied into every job folder as
    /// Cortex copies an attachment).
    pub file: Option<PathBuf>,
    /// The worker configuration of every job (`config` in `input.json`).
    pub config: serde_json::Map<String, serde_json::Value>,
    /// Sandbox limits of every job.
    pub limits: Limits,
    /// What a component may reach (none: every request is denied).
    pub network: Option<crate::policy::NetworkRules>,
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Slowest job.
    pub max: u64,
}

/// Figures of one benchmark run of one executor (the sandbox or a spawned process).
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    /// Jobs run.
    pub jobs: usize,
    /// Jobs in flight at once.
    pub concurrency: usize,
    /// Wall time of the whole run, seconds.
    pub wall_s: f64,
    /// Jobs per second over the whole run.
    pub jobs_per_s: f64,
    /// Per-job latency, microseconds.
    pub latency_us: Latency,
    /// Jobs whose final report was not `success: true`.
    pub failures: usize,
    /// Median time of each step of a job, microseconds.
    pub phases_p50_us: Phases,
}

/// The steps of one job, as [`Figures::phases_p50_us`] reports their medians. `latency_us`
/// covers `create` to `read_back`; `remove` comes after (it is what Cortex does once it has read
/// the report) and counts only in the throughput.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Phases {
    /// Writing the job folder (`input/input.json`, the attachment, `output/`).
    pub create: u64,
    /// The worker: the sandbox run, or the process from spawn to exit.
    pub run: u64,
    /// [`cortex_job::finalise`].
    pub finalise: u64,
    /// Reading `output/output.json` back and parsing it, as Cortex does.
    pub read_back: u64,
    /// Removing the job folder.
    pub remove: u64,
}

/// What one job of the loop reports: its verdict and how long its worker and finalisation took.
struct JobRun {
    success: bool,
    run: Duration,
    finalise: Duration,
}

/// One job's step durations, in [`Phases`] order.
type Steps = [Duration; 5];

/// The per-step medians of `steps`.
fn phases(steps: &[Steps]) -> Phases {
    let median = |i: usize| {
        let mut column: Vec<Duration> = steps.iter().map(|s| s[i]).collect();
        latency(&mut column).p50
    };
    Phases {
        create: median(0),
        run: median(1),
        finalise: median(2),
        read_back: median(3),
        remove: median(4),
    }
}

/// Computes percentiles of `samples` (sorted in place) with the nearest-rank method.
pub fn latency(samples: &mut [Duration]) -> Latency {
    samples.sort_unstable();
    let rank = |p: f64| -> u64 {
        if samples.is_empty() {
            return 0;
        }
        let idx = ((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[idx].as_micros() as u64
    };
    Latency {
        p50: rank(0.50),
        p90: rank(0.90),
        p99: rank(0.99),
        max: rank(1.0),
    }
}

/// The `input.json` every benchmark job gets (a file job's `data` is replaced by the attachment).
fn bench_input(opts: &BenchOptions) -> JobInput {
    let mut input = match &opts.file {
        Some(_) => JobInput::new("file", serde_json::Value::Null),
        None => JobInput::new(opts.data_type.as_str(), opts.data.as_str()),
    };
    input.config = opts.config.clone();
    input
}

/// Runs `opts.jobs` jobs of `module` through the sandbox, `opts.concurrency` at a time.
pub async fn run_sandbox(
    sandbox: &Sandbox,
    module: &Module,
    opts: &BenchOptions,
) -> Result<Figures> {
    let sandbox = sandbox.clone();
    let module = module.clone();
    run_jobs(opts, move |folder, opts| {
        let sandbox = sandbox.clone();
        let module = module.clone();
        async move {
            let done = sandbox_run::run_and_finalise(
                &sandbox,
                &module,
                &folder,
                Vec::new(),
                opts.limits.clone(),
                opts.network.as_ref(),
                &FinaliseOptions::default(),
            )
            .await?;
            Ok(JobRun {
                success: done.finalised.success,
                run: done.run_time,
                finalise: done.finalise_time,
            })
        }
    })
    .await
}

/// Runs the same jobs as a process per job (`program args... <job folder>`, Cortex's process
/// runner model), finalising each folder the same way.
pub async fn run_process(program: &[String], opts: &BenchOptions) -> Result<Figures> {
    let program: Arc<Vec<String>> = Arc::new(program.to_vec());
    run_jobs(opts, move |folder, _opts| {
        let program = program.clone();
        async move {
            let started = Instant::now();
            let output = tokio::process::Command::new(&program[0])
                .args(&program[1..])
                .arg(folder.path())
                .stdin(std::process::Stdio::null())
                .output()
                .await
                .map_err(|source| Error::Spawn {
                    program: program[0].clone(),
                    source,
                })?;
            let run = started.elapsed();
            let end = WorkerEnd::exited(output.status.code().unwrap_or(-1))
                .with_stdout(String::from_utf8_lossy(&output.stdout))
                .with_stderr(String::from_utf8_lossy(&output.stderr));
            let finalised = cortex_job::finalise(&folder, &end, &FinaliseOptions::default())
                .map_err(sandbox_run::Error::from)?;
            Ok(JobRun {
                success: finalised.success,
                run,
                finalise: started.elapsed() - run,
            })
        }
    })
    .await
}

/// The shared job loop: create the folder, run `job`, read the report back, remove the folder.
async fn run_jobs<F, Fut>(opts: &BenchOptions, job: F) -> Result<Figures>
where
    F: Fn(JobFolder, Arc<BenchOptions>) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<JobRun>> + Send,
{
    std::fs::create_dir_all(&opts.job_root).map_err(|source| Error::JobRoot {
        path: opts.job_root.clone(),
        source,
    })?;
    let opts = Arc::new(opts.clone());
    let input = Arc::new(bench_input(&opts));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..opts.concurrency.max(1) {
        let (opts, input, next, job) = (opts.clone(), input.clone(), next.clone(), job.clone());
        workers.spawn(async move {
            let mut samples = Vec::new();
            let mut steps: Vec<Steps> = Vec::new();
            let mut failures = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= opts.jobs {
                    break;
                }
                let t0 = Instant::now();
                let attachment = opts.file.as_deref().map(|path| Attachment {
                    source: AttachmentSource::Path(path),
                    filename: path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
                    content_type: "application/octet-stream",
                });
                let folder =
                    JobFolder::create(&opts.job_root, &format!("bench{i}"), &input, attachment)
                        .map_err(Error::Folder)?;
                let created = t0.elapsed();
                let report_path = folder.output_dir().join("output.json");
                let done = job(folder.clone(), opts.clone()).await?;
                let t1 = Instant::now();
                let bytes = std::fs::read(&report_path).map_err(|source| Error::ReadBack {
                    path: report_path.clone(),
                    source,
                })?;
                let report: serde_json::Value =
                    serde_json::from_slice(&bytes).map_err(|e| Error::ReadBack {
                        path: report_path.clone(),
                        source: e.into(),
                    })?;
                samples.push(t0.elapsed());
                let read_back = t1.elapsed();
                if !done.success || report.get("success") != Some(&serde_json::Value::Bool(true)) {
                    failures += 1;
                }
                // A folder that cannot be removed must not stop the measurement; the job root
                // is the caller's to clean.
                let t2 = Instant::now();
                let _ = folder.remove();
                steps.push([created, done.run, done.finalise, read_back, t2.elapsed()]);
            }
            Ok::<_, Error>((samples, steps, failures))
        });
    }
    let mut samples = Vec::with_capacity(opts.jobs);
    let mut steps = Vec::with_capacity(opts.jobs);
    let mut failures = 0;
    while let Some(joined) = workers.join_next().await {
        let (s, st, f) = joined.expect("benchmark worker panicked")?;
        samples.extend(s);
        steps.extend(st);
        failures += f;
    }
    let wall = started.elapsed();
    Ok(Figures {
        jobs: samples.len(),
        concurrency: opts.concurrency.max(1),
        wall_s: wall.as_secs_f64(),
        jobs_per_s: samples.len() as f64 / wall.as_secs_f64(),
        latency_us: latency(&mut samples),
        failures,
        phases_p50_us: phases(&steps),
    })
}

/// Peak resident set size of this process in bytes (`VmHWM`), where Linux reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    vm_hwm_bytes(&status)
}

/// `VmHWM` of a `/proc/<pid>/status` text in bytes. A figure whose bytes do not fit a `u64`
/// cannot be a real peak, so it is left out (`None`) rather than wrapped to a plausible one.
fn vm_hwm_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The file-system type holding `path` (e.g. `tmpfs`, `ext4`), from `/proc/self/mountinfo`.
pub fn file_system_of(path: &Path) -> Option<String> {
    let path = path.canonicalize().ok()?;
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mut best: Option<(usize, String)> = None;
    for line in info.lines() {
        let (left, right) = line.split_once(" - ")?;
        let mount_point = left.split_whitespace().nth(4)?;
        let fs_type = right.split_whitespace().next()?;
        if path.starts_with(mount_point)
            && best
                .as_ref()
                .is_none_or(|(len, _)| mount_point.len() >= *len)
        {
            best = Some((mount_point.len(), fs_type.to_string()));
        }
    }
    best.map(|(_, fs)| fs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut samples: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        samples.reverse();
        assert_eq!(
            latency(&mut samples),
            Latency {
                p50: 50,
                p90: 90,
                p99: 99,
                max: 100
            }
        );
        assert_eq!(
            latency(&mut []),
            Latency {
                p50: 0,
                p90: 0,
                p99: 0,
                max: 0
            }
        );
    }

    #[test]
    fn peak_rss_is_vm_hwm_in_bytes_and_absent_when_it_would_overflow() {
        let status =
            |kib: &str| format!("Name:\tcortex-runner\nVmPeak:\t  9 kB\nVmHWM:\t {kib} kB\n");
        assert_eq!(vm_hwm_bytes(&status("5120")), Some(5_242_880));
        // 2^54 KiB is 2^64 bytes: one past u64::MAX, which `kib * 1024` wrapped to 0.
        assert_eq!(vm_hwm_bytes(&status("18014398509481984")), None);
        assert_eq!(
            vm_hwm_bytes(&status("18014398509481983")),
            Some(18_014_398_509_481_983 * 1024)
        );
        assert_eq!(vm_hwm_bytes("Name:\tx\n"), None);
        assert_eq!(vm_hwm_bytes(&status("lots")), None);
    }

    #[test]
    fn tmpfs_is_recognised() {
        if Path::new("/dev/shm").is_dir() {
            assert_eq!(
                file_system_of(Path::new("/dev/shm")).as_deref(),
                Some("tmpfs")
            );
        }
        assert!(file_system_of(Path::new("/")).is_some());
    }
}
