//! `cortex-runner config show`: the effective configuration, the source of each value, secrets masked.

use anyhow::Result;
use clap::{Args, Subcommand};

use super::Status;
use super::terminal::escape;
use super::workers::WorkerArgs;

/// `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print every key's effective value and where it came from (secrets masked).
    Show(ShowArgs),
}

/// `config show` arguments.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Where the configuration comes from.
    #[command(flatten)]
    pub workers: WorkerArgs,
    /// Print a JSON array of {key, value, source} instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs a `config` subcommand.
pub fn run(command: ConfigCommand) -> Result<Status> {
    let ConfigCommand::Show(args) = command;
    let loaded = args.workers.loader().load()?;
    let sources = loaded.sources();
    if args.json {
        super::print_json(&serde_json::to_value(&sources)?)?;
        return Ok(Status::Success);
    }
    let file = loaded
        .file
        .as_ref()
        .map_or("(none)".to_string(), |p| p.display().to_string());
    let mut out = format!("# configuration file: {}\n", escape(&file));
    let mut section = "";
    let width = sources
        .iter()
        .map(|s| s.key.len() + s.value.len() + 3)
        .max()
        .unwrap_or(0);
    for entry in &sources {
        let (head, key) = entry.key.split_once('.').unwrap_or(("", &entry.key));
        if head != section {
            out.push_str(&format!("\n[{head}]\n"));
            section = head;
        }
        // Values and sources (paths, environment values) are escaped like everything printed.
        let line = format!("{key} = {}", escape(&entry.value));
        out.push_str(&format!("{line:width$}  # {}\n", escape(&entry.source)));
    }
    print!("{out}");
    Ok(Status::Success)
}
