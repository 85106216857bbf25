//! `cortex-runner serve`: the runner service (see [`cortex_runner::service`]), with its
//! start-up (token, listen address, module compilation, adoption of Kubernetes Jobs) and its
//! graceful end on SIGTERM or SIGINT.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::{Args, ValueEnum};

use super::Status;
use super::interrupt::{Interrupt, Interrupts};
use super::workers::WorkerArgs;
use cortex_runner::adoption::{Adopted, adopt_orphans};
use cortex_runner::backend::BackendKind;
use cortex_runner::backend::kubernetes::KubernetesBackend;
use cortex_runner::config::limits;
use cortex_runner::policy::ModuleStatus;
use cortex_runner::service::auth::Token;
use cortex_runner::service::{App, Options, folders, routes, server};
use cortex_runner::setup::Setup;

/// `serve` arguments.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where the configuration, policies and catalogs are.
    #[command(flatten)]
    pub workers: WorkerArgs,
    /// The address to listen on (overrides `service.listen`); port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// The job root (overrides `[jobs] root`).
    #[arg(long, value_name = "DIR")]
    pub job_root: Option<PathBuf>,
    /// A file holding the bearer token (overrides `service.token_file` and `service.token`).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// How log lines are written on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// The format of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Logs on stderr, `info` from the runner unless `RUST_LOG` says otherwise.
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,cortex_runner=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// The token from `--token-file`, else `service.token_file`, else `service.token`.
fn load_token(args: &ServeArgs, setup: &Setup) -> Result<Option<Token>> {
    let service = &setup.config().service;
    let file = args
        .token_file
        .as_ref()
        .map(|f| (f, "--token-file"))
        .or_else(|| {
            service
                .token_file
                .as_ref()
                .map(|f| (f, "service.token_file"))
        });
    if let Some((file, given_by)) = file {
        let text = std::fs::read_to_string(file).with_context(|| {
            format!(
                "reading the bearer token file {} ({given_by})",
                file.display()
            )
        })?;
        let source = format!("{} ({given_by})", file.display());
        return Ok(Some(Token::new(&text, &source)?));
    }
    match &service.token {
        Some(text) => Ok(Some(Token::new(text, "service.token")?)),
        None => Ok(None),
    }
}

/// Serves until SIGTERM or SIGINT, then stops gracefully.
pub fn run(args: ServeArgs) -> Result<Status> {
    init_logging(args.log_format);
    let mut loader = args.workers.loader();
    loader.flags.job_root = args.job_root.clone();
    let setup = Setup::load(&loader, &super::workers::builtin_modules())?;
    let config = setup.config();
    let listen_text = args.listen.clone().unwrap_or(config.service.listen.clone());
    let given_by = if args.listen.is_some() {
        "--listen"
    } else {
        "service.listen"
    };
    let listen: SocketAddr = listen_text.parse().map_err(|_| {
        anyhow::anyhow!(
            "{given_by} {listen_text:?}: expected a socket address such as 127.0.0.1:9980"
        )
    })?;
    let token = load_token(&args, &setup)?;
    if token.is_none() && !listen.ip().is_loopback() && !config.service.allow_unauthenticated {
        bail!(
            "refusing to listen on {listen} without a bearer token: set --token-file, service.token_file or service.token, or service.allow_unauthenticated = true to let anyone who reaches this address run workers"
        );
    }
    let root = &config.jobs.root;
    std::fs::create_dir_all(root)
        .with_context(|| format!("creating the job root {}", root.display()))?;
    let canonical = root
        .canonicalize()
        .with_context(|| format!("resolving the job root {}", root.display()))?;
    let service = &config.service;
    let options = Options {
        job_root: canonical,
        job_root_configured: root.clone(),
        token,
        // The configuration's ranges keep these small.
        max_body_bytes: limits::kib_to_usize(service.max_body_kib).unwrap_or(64 << 10),
        request_timeout: Duration::from_secs(service.request_timeout_s),
        max_jobs: usize::try_from(service.finished_jobs).unwrap_or(usize::MAX),
        max_output_bytes: limits::mib_to_bytes(config.jobs.max_output_mib).unwrap_or(16 << 20),
        replica: replica_id(),
        absent: [BackendKind::Wasm, BackendKind::Kubernetes]
            .into_iter()
            .filter_map(|kind| setup.absent_reason(kind).map(|why| (kind, why.to_string())))
            .collect(),
    };
    let grace = Duration::from_secs(service.shutdown_grace_s);
    let (scheduler, kubernetes) = setup.scheduler_with_kubernetes()?;
    let scheduler = Arc::new(scheduler);
    let rt = super::runtime()?;
    rt.block_on(async move {
        let mut interrupts = Interrupts::install()?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let local = listener.local_addr()?;
        let app = App::new(scheduler, kubernetes.clone(), options);
        tracing::info!(addr = %local, replica = %app.options.replica, job_root = %app.options.job_root.display(), "listening");
        tokio::spawn(start_up(app.clone(), kubernetes));
        let closed = {
            let app = app.clone();
            async move { app.closed().await }
        };
        let mut server = tokio::spawn(server::serve(
            listener,
            routes::router(app.clone()),
            app.options.request_timeout,
            closed,
        ));
        let signal = tokio::select! {
            ended = &mut server => {
                ended.context("the server task failed")?;
                bail!("the server stopped by itself");
            }
            signal = interrupts.next() => signal,
        };
        tokio::select! {
            () = app.shutdown(grace, signal.name()) => {}
            second = interrupts.next() => {
                eprintln!("{}: exiting before the jobs in flight have their reports", second.name());
                let number = match second {
                    Interrupt::Int => 2,
                    Interrupt::Term => 15,
                };
                std::process::exit(super::EXIT_SIGNAL_BASE + number);
            }
        }
        // The server stops taking connections and finishes the requests under way; a client
        // that keeps a connection busy does not hold the process.
        match tokio::time::timeout(Duration::from_secs(5), server).await {
            Ok(ended) => ended.context("the server task failed")?,
            Err(_) => tracing::warn!("requests still open after 5 s; exiting"),
        }
        tracing::info!("stopped");
        Ok(Status::Success)
    })
}

/// Readies the service: compiles every wasm module (timed for the metrics), adopts the
/// Kubernetes Jobs an earlier instance left, then answers ready.
async fn start_up(app: Arc<App>, kubernetes: Option<Arc<KubernetesBackend>>) {
    let scheduler = app.scheduler.clone();
    let names: Vec<String> = scheduler
        .table()
        .iter()
        .filter(|w| {
            matches!(
                w.policy.as_ref().map(|p| &p.wasm.module),
                Some(ModuleStatus::Verified { .. })
            )
        })
        .map(|w| w.name.clone())
        .collect();
    for name in &names {
        let started = Instant::now();
        scheduler.prepare(name).await;
        app.metrics.module_readied(started.elapsed());
    }
    if let Some(backend) = kubernetes {
        app.set_not_ready("adopting the Kubernetes Jobs an earlier instance left");
        let mut pause = Duration::from_secs(1);
        loop {
            match adopt_orphans(&scheduler, &backend).await {
                Ok(adopted) => {
                    register_adopted(&app, adopted);
                    break;
                }
                Err(e) => {
                    tracing::warn!(
                        "the Kubernetes API cannot be reached: {e}; retrying in {} s",
                        pause.as_secs()
                    );
                    app.set_not_ready(format!("the Kubernetes API cannot be reached: {e}"));
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(30));
                }
            }
        }
    }
    tracing::info!(modules = names.len(), "ready");
    app.set_ready();
}

/// Registers each adopted job as a job of this instance, under the id of its folder.
fn register_adopted(app: &Arc<App>, adopted: Vec<Adopted>) {
    for adopted in adopted {
        let Adopted::Waiting { orphan, handle } = adopted else {
            continue;
        };
        let given = orphan.folder.display().to_string();
        let resolved = match folders::resolve(
            &app.options.job_root,
            &app.options.job_root_configured,
            &given,
        ) {
            Ok(resolved) => resolved,
            Err(e) => {
                // The job still runs and is finalised; it is only not listed.
                tracing::warn!(kubernetes_job = %orphan.job, "an adopted job is not listed: {}", e.detail);
                continue;
            }
        };
        app.adopt(orphan.worker.clone(), resolved, handle);
    }
}

/// A replica id unique to this process: the host name (the pod's name in Kubernetes), the
/// process id and a random suffix.
fn replica_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let suffix: u32 = rand::random();
    format!("{host}/{}/{suffix:08x}", std::process::id())
}
