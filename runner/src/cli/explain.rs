//! `cortex-runner explain NAME`: the decision for one job, with its reason.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::json;

use super::Status;
use super::terminal::escape;
use super::workers::WorkerArgs;
use cortex_runner::backend::Route;
use cortex_runner::config::limits;
use cortex_runner::scheduler::{JobFacts, Load, decide};

/// `explain` arguments.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Where the configuration, policies and catalogs are.
    #[command(flatten)]
    pub workers: WorkerArgs,
    /// The worker (name, Cortex id such as FileInfo_8_0, or catalog name).
    #[arg(value_name = "NAME")]
    pub name: String,
    /// A file observable (its size decides about oversized inputs).
    #[arg(long, value_name = "PATH", conflicts_with = "data")]
    pub file: Option<PathBuf>,
    /// An observable value; it may start with `-`.
    #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
    pub data: Option<String>,
    /// The data type (default: `file` with --file, else the worker's first data type).
    #[arg(long, value_name = "TYPE")]
    pub data_type: Option<String>,
    /// The job's TLP (0..=3, the levels Cortex accepts).
    #[arg(long, default_value_t = 2, value_name = "N",
          value_parser = clap::value_parser!(i64).range(limits::TLP))]
    pub tlp: i64,
    /// The job's PAP (0..=3, the levels Cortex accepts).
    #[arg(long, default_value_t = 2, value_name = "N",
          value_parser = clap::value_parser!(i64).range(limits::PAP))]
    pub pap: i64,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Prints the decision an idle runner makes for the described job.
pub fn run(args: ExplainArgs) -> Result<Status> {
    let setup = args.workers.setup()?;
    let Some(worker) = setup.table.get(&args.name) else {
        bail!(
            "no worker named {} in the catalogs or policies (`cortex-runner analyzers` lists them)",
            args.name
        );
    };
    let input_bytes = match (&args.file, &args.data) {
        (Some(path), _) => std::fs::metadata(path)
            .with_context(|| format!("reading {}", path.display()))?
            .len(),
        (None, Some(data)) => data.len() as u64,
        (None, None) => 0,
    };
    let data_type = args.data_type.clone().unwrap_or_else(|| {
        if args.file.is_some() {
            "file".into()
        } else {
            worker.data_types.first().cloned().unwrap_or_default()
        }
    });
    let facts = JobFacts {
        data_type,
        input_bytes,
        tlp: args.tlp,
        pap: args.pap,
    };
    let overflow_available = setup
        .absent_reason(cortex_runner::backend::BackendKind::Kubernetes)
        .is_none();
    let decision = decide(
        worker,
        &facts,
        Load {
            wasm_running: 0,
            overflow_available,
        },
    );
    let unavailable = decision.backend().and_then(|b| setup.absent_reason(b));
    if args.json {
        super::print_json(&json!({
            "worker": worker.name,
            "kind": worker.kind,
            "dataTypes": worker.data_types,
            "policy": worker.policy.as_ref().map(|p| p.path.display().to_string()),
            "image": worker.image,
            "decision": decision,
            "unavailable": unavailable,
            "network": worker.policy.as_ref().and_then(|p| p.wasm.network.as_ref()),
        }))?;
        return Ok(Status::Success);
    }
    // Names, data types and reasons come from the catalogs, the policies and the flags: escaped
    // before they reach the terminal, as everything printed from a report is.
    let verdict = match &decision.route {
        Route::Run { backend } => backend.to_string(),
        Route::Refused { message } => format!("refused: {message}"),
    };
    let mut out = format!(
        "worker:   {} ({}, {})\n",
        escape(&worker.name),
        worker.kind,
        escape(&worker.data_types.join(", "))
    );
    out.push_str(&format!(
        "policy:   {}\n",
        escape(
            &worker
                .policy
                .as_ref()
                .map_or("(none)".to_string(), |p| p.path.display().to_string())
        )
    ));
    out.push_str(&format!(
        "job:      dataType {}, {} bytes, TLP {}, PAP {}\n",
        escape(&facts.data_type),
        facts.input_bytes,
        facts.tlp,
        facts.pap
    ));
    out.push_str(&format!(
        "network:  {}\n",
        escape(&network_line(
            worker.policy.as_ref().and_then(|p| p.wasm.network.as_ref())
        ))
    ));
    out.push_str(&format!(
        "decision: {}\nreason:   {}\n",
        escape(&verdict),
        escape(&decision.reason)
    ));
    if let Some(why) = unavailable {
        out.push_str(&format!("note:     that backend is not available ({why}): the job would end in a failure report\n"));
    }
    print!("{out}");
    Ok(Status::Success)
}

/// What the worker may reach, in one line: its allowlist and limits, or that it has no network.
fn network_line(network: Option<&cortex_runner::policy::NetworkRules>) -> String {
    let Some(n) = network else {
        return "none (no [wasm.network] in the policy: every request is denied)".into();
    };
    let level = |max: Option<u8>, what: &str| {
        const NAMES: [&str; 4] = ["WHITE", "GREEN", "AMBER", "RED"];
        max.map(|m| format!(", jobs up to {what}:{}", NAMES[usize::from(m.min(3))]))
            .unwrap_or_default()
    };
    let allow = if n.allow.is_empty() {
        "no origin".to_owned()
    } else {
        n.allow
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let internal = if n.allow_addresses.is_empty() {
        String::new()
    } else {
        format!(
            ", internal addresses allowed: {}",
            n.allow_addresses
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    format!(
        "{allow} ({} requests per job, {} KiB per response, {} s per request{}{}{internal})",
        n.max_requests,
        n.max_response_kib,
        n.request_timeout_s,
        level(n.max_tlp, "TLP"),
        level(n.max_pap, "PAP"),
    )
}
