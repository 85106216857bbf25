//! The flags shared by every subcommand that loads workers, and loading them.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use cortex_runner::config::{ConfigLoader, Flags};
use cortex_runner::policy::BuiltinModule;
use cortex_runner::setup::Setup;

/// `--config`, `--policies`, `--catalog`: where the configuration, policies and catalogs are.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// The configuration file (default: $CORTEX_RUNNER_CONFIG, else ./config.toml if present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The policies directory (overrides `[policies] dir`).
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
    /// A Cortex catalog JSON file or definitions directory, added to the configured ones;
    /// `responder:PATH` / `analyzer:PATH` say the kind (otherwise a name containing "responder"
    /// is a responder catalog). Repeatable.
    #[arg(long = "catalog", value_name = "PATH")]
    pub catalogs: Vec<PathBuf>,
}

impl WorkerArgs {
    /// The configuration loader for these flags and the process environment.
    pub fn loader(&self) -> ConfigLoader {
        let flags = Flags {
            policies: self.policies.clone(),
            catalogs: self.catalogs.clone(),
            job_root: None,
        };
        ConfigLoader::from_process(self.config.clone(), flags)
    }

    /// Loads configuration, catalogs and policies.
    pub fn setup(&self) -> Result<Setup> {
        Ok(Setup::load(&self.loader(), &builtin_modules())?)
    }
}

/// The analyzers built with this workspace, embedded in this binary (not paths into the build's
/// target directory: a runner copied to another machine or into an image runs them too).
pub fn builtin_modules() -> Vec<BuiltinModule> {
    analyzer_artifacts::EMBEDDED
        .iter()
        .map(|&(worker, bytes)| BuiltinModule { worker, bytes })
        .collect()
}
