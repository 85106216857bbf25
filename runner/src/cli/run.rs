//! `cortex-runner run`: builds a job folder exactly as Cortex does and runs it through the scheduler.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{ArgGroup, Args};
use cortex_job::{Attachment, AttachmentSource, JobFolder, JobInput};
use serde_json::Value;

use super::Status;
use super::interrupt::Interrupts;
use super::terminal::escape;
use super::workers::WorkerArgs;
use cortex_runner::catalog::WorkerKind;
use cortex_runner::config::limits;
use cortex_runner::scheduler::{JobRecord, Scheduler};
use cortex_runner::setup::Setup;

/// `run` arguments.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("observable").required(true).args(["data", "file"])))]
pub struct RunArgs {
    /// Where the configuration, policies and catalogs are.
    #[command(flatten)]
    pub workers: WorkerArgs,
    /// The worker to run (name, Cortex id such as FileInfo_8_0, or catalog name).
    #[arg(long, value_name = "NAME")]
    pub analyzer: String,
    /// The observable value (with --data-type); for a responder, a JSON object is passed as is.
    /// A value may start with `-` (`--data -bad-.com`).
    #[arg(
        long,
        value_name = "VALUE",
        requires = "data_type",
        allow_hyphen_values = true
    )]
    pub data: Option<String>,
    /// The observable's data type, e.g. ip, domain, url.
    #[arg(long, value_name = "TYPE")]
    pub data_type: Option<String>,
    /// A file observable (data type `file`).
    #[arg(long, value_name = "PATH", conflicts_with = "data")]
    pub file: Option<PathBuf>,
    /// The job's TLP (0..=3, the levels Cortex accepts).
    #[arg(long, default_value_t = 2, value_name = "N",
          value_parser = clap::value_parser!(i64).range(limits::TLP))]
    pub tlp: i64,
    /// The job's PAP (0..=3, the levels Cortex accepts).
    #[arg(long, default_value_t = 2, value_name = "N",
          value_parser = clap::value_parser!(i64).range(limits::PAP))]
    pub pap: i64,
    /// Sets a key of input.json's `config` (JSON values allowed, else a string). Repeatable.
    #[arg(long = "worker-config", value_name = "KEY=VALUE", value_parser = parse_json_kv)]
    pub worker_config: Vec<(String, Value)>,
    /// Sets a key of input.json's `parameters` (JSON values allowed, else a string). Repeatable.
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = parse_json_kv)]
    pub params: Vec<(String, Value)>,
    /// Where to create the job folder (overrides `[jobs] root`).
    #[arg(long, value_name = "DIR")]
    pub job_root: Option<PathBuf>,
    /// Leave the job folder in place and print its path on stderr.
    #[arg(long)]
    pub keep: bool,
    /// Print the raw report instead of a summary.
    #[arg(long)]
    pub json: bool,
}

/// `KEY=VALUE` where VALUE is JSON when it parses as JSON, else a string.
pub fn parse_json_kv(s: &str) -> Result<(String, Value), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => {
            let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_string()));
            Ok((k.to_string(), value))
        }
        _ => Err(format!("expected KEY=VALUE, got `{s}`")),
    }
}

/// Runs one job and prints its outcome.
pub fn run(args: RunArgs) -> Result<Status> {
    let mut loader = args.workers.loader();
    loader.flags.job_root = args.job_root.clone();
    let setup = Setup::load(&loader, &super::workers::builtin_modules())?;
    let Some(worker) = setup.table.get(&args.analyzer) else {
        bail!(
            "no worker named {} in the catalogs or policies (`cortex-runner analyzers` lists them)",
            args.analyzer
        );
    };
    let mut input = match (&args.file, &args.data) {
        (Some(_), _) => {
            let mut input = JobInput::new("file", Value::Null);
            input.data = None;
            input
        }
        (None, Some(data)) => {
            // Responders get the TheHive object as JSON; analyzers get the observable's text.
            let value = match serde_json::from_str::<Value>(data) {
                Ok(object @ Value::Object(_)) if worker.kind == WorkerKind::Responder => object,
                _ => Value::String(data.clone()),
            };
            JobInput::new(args.data_type.clone().unwrap_or_default(), value)
        }
        (None, None) => unreachable!("clap requires --data or --file"),
    };
    // Cortex passes the definition's config with the configuration items' defaults (here also
    // the policy's `[worker] config`); the organisation's settings (--worker-config) override them.
    input.config = worker.config.clone();
    input.config.extend(args.worker_config.iter().cloned());
    input.parameters.extend(args.params.iter().cloned());
    input.tlp = args.tlp;
    input.pap = args.pap;

    let root = &setup.config().jobs.root;
    std::fs::create_dir_all(root)
        .with_context(|| format!("creating the job root {}", root.display()))?;
    let filename = args.file.as_ref().map(|p| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    // Opened once and checked through the descriptor: the copy reads exactly what was checked.
    let file = args.file.as_deref().map(open_regular_file).transpose()?;
    let attachment = match (&file, &filename) {
        (Some(file), Some(name)) => Some(Attachment {
            source: AttachmentSource::File(file),
            filename: name,
            content_type: "application/octet-stream",
        }),
        _ => None,
    };
    let folder = JobFolder::create(root, &job_id(), &input, attachment)?;
    let scheduler = std::sync::Arc::new(setup.scheduler()?);
    let record = run_with_spinner(&scheduler, &worker.name, &folder)?;
    if args.json {
        super::print_json(&record.finalised.report)?;
    } else {
        print!("{}", summary(&record));
    }
    if args.keep {
        eprintln!("job folder: {}", folder.path().display());
    } else {
        let path = folder.path().to_path_buf();
        folder
            .remove()
            .with_context(|| format!("removing the job folder {}", path.display()))?;
    }
    Ok(if record.finalised.success {
        Status::Success
    } else {
        Status::ReportFailure
    })
}

/// Opens `--file` and refuses what is not a regular file before anything reads it: a directory,
/// or a device such as `/dev/zero` whose copy would never end. The check is made on the open
/// descriptor (non-blocking, so that opening a fifo does not hang), so the file swapped for
/// another after the check is not what gets copied.
pub fn open_regular_file(path: &Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path);
    let file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("--file {}: no such file", path.display())
        }
        Err(e) => bail!("--file {}: {e}", path.display()),
    };
    let meta = file
        .metadata()
        .with_context(|| format!("--file {}", path.display()))?;
    if meta.is_dir() {
        bail!(
            "--file {}: is a directory, expected a regular file",
            path.display()
        );
    }
    if !meta.is_file() {
        bail!("--file {}: is not a regular file", path.display());
    }
    Ok(file)
}

/// Runs the job on a fresh runtime; on a terminal, a spinner with the elapsed time appears when
/// the job takes longer than a second. SIGINT or SIGTERM cancels the job, which then ends with
/// the failure report `cancelled: interrupted by SIGINT` (see [`super::interrupt`]).
pub fn run_with_spinner(
    scheduler: &std::sync::Arc<Scheduler>,
    worker: &str,
    folder: &JobFolder,
) -> Result<JobRecord> {
    let rt = super::runtime()?;
    rt.block_on(async {
        let bar = indicatif::ProgressBar::hidden();
        let ticker = std::io::stderr().is_terminal().then(|| {
            let bar = bar.clone();
            let message = format!("running {worker}");
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if let Ok(style) =
                    indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                {
                    bar.set_style(style);
                }
                bar.set_message(message);
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                bar.enable_steady_tick(Duration::from_millis(100));
            })
        });
        // Ctrl-C or SIGTERM from here on cancels the job, which still gets its report.
        let mut interrupts = Interrupts::install()?;
        // Compile the module before the job is submitted: its timeout is for the job itself. An
        // interrupt stops the compilation; the job is then submitted only to be cancelled, so
        // that its folder still gets a report saying why.
        let pending = interrupts.before(scheduler.prepare(worker)).await.err();
        let folder = std::sync::Arc::new(folder.clone());
        let handle = scheduler.submit(worker, folder, Instant::now());
        let record = interrupts.await_job(handle, pending).await;
        if let Some(ticker) = ticker {
            ticker.abort();
        }
        bar.finish_and_clear();
        Ok(record?)
    })
}

/// A job id like Cortex's: letters and digits, unique enough for one job root.
fn job_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{:x}{:x}", nanos, std::process::id())
}

/// The readable summary: outcome, backend and time, taxonomies, artifacts, warnings. Every
/// value taken from the report (or from the worker table and decision) is escaped: the worker
/// writes the report, and what it writes must not reach the terminal as control sequences.
pub fn summary(record: &JobRecord) -> String {
    let report = &record.finalised.report;
    let text = |value: &Value| escape(value.as_str().unwrap_or("")).into_owned();
    let backend = record
        .decision
        .backend()
        .map_or("refused".to_string(), |b| b.to_string());
    let outcome = if record.finalised.success {
        "success"
    } else {
        "failure"
    };
    let mut out = format!(
        "{}: {outcome} ({backend}, {:.2} s)\n",
        escape(&record.worker),
        record.elapsed.as_secs_f64()
    );
    out.push_str(&format!("decision: {}\n", escape(&record.decision.reason)));
    if !record.finalised.success {
        out.push_str(&format!("error: {}\n", text(&report["errorMessage"])));
    }
    let taxonomies = report["summary"]["taxonomies"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !taxonomies.is_empty() {
        out.push_str("taxonomies:\n");
        for t in &taxonomies {
            out.push_str(&format!(
                "  {:10} {}:{} = {}\n",
                text(&t["level"]),
                text(&t["namespace"]),
                text(&t["predicate"]),
                escape(&t["value"].to_string())
            ));
        }
    }
    let artifacts = report["artifacts"].as_array().cloned().unwrap_or_default();
    if !artifacts.is_empty() {
        out.push_str(&format!("artifacts ({}):\n", artifacts.len()));
        for a in &artifacts {
            let what = a["data"].as_str().or(a["filename"].as_str()).unwrap_or("");
            out.push_str(&format!("  {:12} {}\n", text(&a["dataType"]), escape(what)));
        }
    }
    let operations = report["operations"].as_array().map_or(0, Vec::len);
    if operations > 0 {
        out.push_str(&format!("operations: {operations}\n"));
    }
    let warnings = report["full"]["runnerWarnings"]
        .as_array()
        .or(report["runnerWarnings"].as_array());
    for w in warnings.into_iter().flatten() {
        out.push_str(&format!("warning: {}\n", text(w)));
    }
    out
}
