//! `cortex-runner analyzers`: every worker, its data types, the backend it would get and why.

use anyhow::Result;
use clap::Args;
use serde_json::json;

use super::Status;
use super::terminal::escape;
use super::workers::WorkerArgs;
use cortex_runner::backend::{BackendKind, Route};
use cortex_runner::scheduler::{JobFacts, Load, decide};

/// `analyzers` arguments.
#[derive(Debug, Args)]
pub struct AnalyzersArgs {
    /// Where the configuration, policies and catalogs are.
    #[command(flatten)]
    pub workers: WorkerArgs,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Lists every worker with the decision a typical job would get (TLP and PAP 0, a small input,
/// an idle runner).
pub fn run(args: AnalyzersArgs) -> Result<Status> {
    let setup = args.workers.setup()?;
    let overflow_available = setup.absent_reason(BackendKind::Kubernetes).is_none();
    let mut rows = Vec::new();
    for worker in setup.table.iter() {
        let facts = JobFacts {
            data_type: String::new(),
            input_bytes: 0,
            tlp: 0,
            pap: 0,
        };
        let decision = decide(
            worker,
            &facts,
            Load {
                wasm_running: 0,
                overflow_available,
            },
        );
        let (backend, note) = match &decision.route {
            Route::Run { backend } => match setup.absent_reason(*backend) {
                Some(why) => (backend.to_string(), format!(" (unavailable: {why})")),
                None => (backend.to_string(), String::new()),
            },
            Route::Refused { .. } => ("refused".to_string(), String::new()),
        };
        rows.push(json!({
            "name": worker.name,
            "kind": worker.kind,
            "version": worker.version,
            "dataTypes": worker.data_types,
            "backend": backend,
            "available": note.is_empty() && backend != "refused",
            "reason": format!("{}{note}", decision.reason),
            "policy": worker.policy.as_ref().map(|p| p.path.display().to_string()),
        }));
    }
    if args.json {
        super::print_json(&serde_json::Value::Array(rows))?;
        return Ok(Status::Success);
    }
    let name_w = rows
        .iter()
        .map(|r| r["name"].as_str().unwrap_or("").len())
        .max()
        .unwrap_or(4);
    let mut out = format!(
        "{:name_w$}  {:9}  {:10}  {:30}  REASON\n",
        "NAME", "KIND", "BACKEND", "DATA TYPES"
    );
    for r in &rows {
        let types: Vec<&str> = r["dataTypes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .collect();
        // Catalog text (names, data types) is escaped before it reaches the terminal.
        out.push_str(&format!(
            "{:name_w$}  {:9}  {:10}  {:30}  {}\n",
            escape(r["name"].as_str().unwrap_or("")),
            r["kind"].as_str().unwrap_or(""),
            r["backend"].as_str().unwrap_or(""),
            escape(&types.join(",")),
            escape(r["reason"].as_str().unwrap_or("")),
        ));
    }
    out.push_str(&format!(
        "{} workers: {} analyzers, {} responders; {} policies\n",
        rows.len(),
        rows.iter().filter(|r| r["kind"] == "analyzer").count(),
        rows.iter().filter(|r| r["kind"] == "responder").count(),
        setup.policies.len()
    ));
    print!("{out}");
    Ok(Status::Success)
}
