//! `cortex-runner catalog export DIR --server URL`: writes, for every worker the service runs, a
//! Cortex worker definition whose `command` is a wrapper calling `cortex-runner submit`, so that
//! an unpatched Cortex with `job.runners = [process]` runs the workers through the service.
//!
//! Layout: `DIR/analyzers/<Name>/<Name>.json` and `DIR/analyzers/<Name>/run`, the same under
//! `DIR/responders/` — two directories because Cortex takes every definition under
//! `analyzer.urls` for an analyzer and every one under `responder.urls` for a responder. Cortex
//! resolves `command` against the directory it lists (the definition file's grandparent) and
//! drops a worker whose command lies outside it, so `command` is the relative `<Name>/run`.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use cortex_runner::catalog::{WorkerKind, check_name};
use cortex_runner::client::{Retry, ServiceClient, Token, WorkerInfo};
use cortex_runner::setup::Setup;
use serde_json::{Map, Value, json};

use super::Status;
use super::workers::WorkerArgs;

/// `catalog` subcommands.
#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Write a Cortex worker definition and its wrapper for every worker the service runs.
    Export(ExportArgs),
}

/// `catalog export` arguments.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Where to write the definitions (created if missing).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The runner service, e.g. http://127.0.0.1:9980.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// A file holding the service's API token; the wrappers pass its path (never the token).
    #[arg(long, value_name = "FILE", env = "CORTEX_RUNNER_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Local configuration, policies and catalogs to take the definitions' other keys from
    /// (author, url, license, configurationItems, ...) when the service does not send them.
    #[command(flatten)]
    pub workers: WorkerArgs,
}

/// Runs a `catalog` subcommand.
pub fn run(command: CatalogCommand) -> Result<Status> {
    match command {
        CatalogCommand::Export(args) => export(args),
    }
}

fn export(args: ExportArgs) -> Result<Status> {
    let token_file = match &args.token_file {
        Some(path) => Some(
            path.canonicalize()
                .with_context(|| format!("token file {}", path.display()))?,
        ),
        None => None,
    };
    let token = token_file.as_deref().map(Token::from_file).transpose()?;
    let client = ServiceClient::new(&args.server, token, Retry::default())?;
    let workers = super::runtime()?.block_on(client.workers())?;
    let local = if args.workers.config.is_some()
        || args.workers.policies.is_some()
        || !args.workers.catalogs.is_empty()
    {
        Some(args.workers.setup()?)
    } else {
        None
    };
    let exe = std::env::current_exe().context("finding this runner's own executable")?;
    // The export directory itself is the operator's choice and may be a symlink; nothing
    // under it is followed.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let dir = args
        .dir
        .canonicalize()
        .with_context(|| format!("export directory {}", args.dir.display()))?;
    let wrapper = Wrapper {
        exe: &exe,
        server: client.base(),
        token_file: token_file.as_deref(),
    };
    let mut written = Vec::new();
    let mut skipped = Vec::new();
    for info in &workers {
        if let Err(reason) = safe_name(&info.name) {
            eprintln!(
                "warning: worker {:?} skipped: {reason}",
                super::terminal::escape(&info.name)
            );
            skipped.push(json!({"name": info.name, "reason": reason}));
            continue;
        }
        let kind_dir = dir.join(kind_dir(info.kind));
        let definition = definition(info, local.as_ref());
        let folder = write_worker(&kind_dir, &info.name, &definition, &wrapper.script(info))?;
        written.push(json!({
            "name": info.name,
            "kind": info.kind,
            "definition": folder.join(format!("{}.json", info.name)),
            "command": folder.join("run"),
        }));
    }
    super::print_json(&json!({
        "analyzer_urls": dir.join(kind_dir(WorkerKind::Analyzer)),
        "responder_urls": dir.join(kind_dir(WorkerKind::Responder)),
        "workers": written,
        "skipped": skipped,
    }))?;
    Ok(Status::Success)
}

/// The directory of one kind's definitions.
fn kind_dir(kind: WorkerKind) -> &'static str {
    match kind {
        WorkerKind::Analyzer => "analyzers",
        WorkerKind::Responder => "responders",
    }
}

/// A worker name that is safe as one file name under the export directory: Cortex's rule (no
/// whitespace, `/` or `..`), and no leading `.`, control character or NUL, so that neither
/// `<Name>/` nor `<Name>.json` can leave its parent or hide.
fn safe_name(name: &str) -> Result<(), String> {
    check_name(name).map_err(str::to_string)?;
    if name.starts_with('.') {
        return Err("the name starts with `.`".into());
    }
    if name.chars().any(char::is_control) {
        return Err("the name contains a control character".into());
    }
    let mut components = Path::new(name).components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(_)), None) => Ok(()),
        _ => Err("the name is not a single file name".into()),
    }
}

/// The Cortex definition of `info`: the service's catalog keys, else the local catalog's, with
/// what the service says it runs (name, version, data types) and the wrapper as `command`.
fn definition(info: &WorkerInfo, local: Option<&Setup>) -> Map<String, Value> {
    let mut source = info
        .definition
        .clone()
        .or_else(|| local.and_then(|setup| local_definition(setup, &info.name)))
        .unwrap_or_default();
    for key in [
        "command",
        "dockerImage",
        "id",
        "name",
        "version",
        "dataTypeList",
    ] {
        source.remove(key);
    }
    let mut out = Map::new();
    out.insert("name".into(), info.name.clone().into());
    out.insert("version".into(), info.version.clone().into());
    // Cortex refuses a definition without these strings; a worker known only from a policy
    // has no author, url or licence to give.
    for key in ["author", "url", "license", "description"] {
        let value = match source.remove(key) {
            Some(Value::String(text)) => text,
            _ => String::new(),
        };
        out.insert(key.into(), value.into());
    }
    out.insert("dataTypeList".into(), json!(info.data_types));
    out.insert("command".into(), format!("{}/run", info.name).into());
    out.extend(source);
    out
}

/// The definition as the local catalog file has it (every key), for the worker the local table
/// calls `name`; a worker known only from its policy gets what the policy says.
fn local_definition(setup: &Setup, name: &str) -> Option<Map<String, Value>> {
    let worker = setup.table.get(name)?;
    let Some(definition) = &worker.definition else {
        let mut map = Map::new();
        map.insert("description".into(), worker.description.clone().into());
        return Some(map);
    };
    let raw = setup
        .catalog
        .get(&definition.name)
        .and_then(|entry| raw_definition(&entry.source, &definition.name));
    match raw {
        Some(raw) => Some(raw),
        None => match serde_json::to_value(definition) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        },
    }
}

/// The object named `name` in a catalog file (an array of definitions, or one definition).
fn raw_definition(file: &Path, name: &str) -> Option<Map<String, Value>> {
    let text = std::fs::read_to_string(file).ok()?;
    let items = match serde_json::from_str(&text).ok()? {
        Value::Array(items) => items,
        object @ Value::Object(_) => vec![object],
        _ => return None,
    };
    items.into_iter().find_map(|item| match item {
        Value::Object(map) if map.get("name").and_then(Value::as_str) == Some(name) => Some(map),
        _ => None,
    })
}

/// What every wrapper runs.
struct Wrapper<'a> {
    exe: &'a Path,
    server: &'a str,
    token_file: Option<&'a Path>,
}

impl Wrapper<'_> {
    /// The wrapper script for `info`: Cortex's process runner runs `<script> <job folder>`.
    fn script(&self, info: &WorkerInfo) -> String {
        let mut line = format!(
            "exec {} submit --server {} --worker {}",
            quote(&self.exe.to_string_lossy()),
            quote(self.server),
            quote(&info.name)
        );
        if let Some(token_file) = self.token_file {
            line.push_str(" --token-file ");
            line.push_str(&quote(&token_file.to_string_lossy()));
        }
        format!(
            "#!/bin/sh\n\
             # Written by `cortex-runner catalog export`. Cortex's process runner runs\n\
             # `<this file> <job folder>`; the worker runs in the cortex-runner service, and this\n\
             # waits for its report in the job folder.\n\
             {line} -- \"$1\"\n"
        )
    }
}

/// `text` as one single-quoted shell word.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Creates `dir` (mode 0755) and its parents if missing; refuses a symlink where the directory
/// should be, so that an export never writes through one.
fn make_dir(dir: &Path) -> Result<()> {
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => bail!(
            "{} exists and is not a directory (a symlink is not followed)",
            dir.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display())),
        Err(e) => Err(e).with_context(|| format!("reading {}", dir.display())),
    }
}

/// Writes `<kind_dir>/<name>/<name>.json` and the executable `<kind_dir>/<name>/run`, each
/// through a temporary file renamed into place (a rename replaces a symlink, never writes
/// through it). Returns the worker's directory.
fn write_worker(
    kind_dir: &Path,
    name: &str,
    definition: &Map<String, Value>,
    script: &str,
) -> Result<PathBuf> {
    make_dir(kind_dir)?;
    let folder = kind_dir.join(name);
    make_dir(&folder)?;
    let mut json = serde_json::to_string_pretty(definition)?;
    json.push('\n');
    replace_file(&folder.join(format!("{name}.json")), json.as_bytes(), 0o644)?;
    replace_file(&folder.join("run"), script.as_bytes(), 0o755)?;
    Ok(folder)
}

fn replace_file(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let temp = path.with_extension(format!("tmp{}", rand::random::<u32>()));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)?;
        file.write_all(bytes)?;
        // The mode given at creation is narrowed by the umask; the wrapper must be executable.
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        anyhow::Error::new(e).context(format!("writing {}", path.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_leave_the_directory_are_refused() {
        assert_eq!(safe_name("FileInfo_8_0"), Ok(()));
        assert_eq!(
            safe_name("../etc"),
            Err("the name contains `/` or `..`".into())
        );
        assert_eq!(
            safe_name("a/b"),
            Err("the name contains `/` or `..`".into())
        );
        assert_eq!(safe_name(".hidden"), Err("the name starts with `.`".into()));
        assert_eq!(safe_name("."), Err("the name starts with `.`".into()));
        assert_eq!(
            safe_name("a\u{7}b"),
            Err("the name contains a control character".into())
        );
        assert_eq!(safe_name(""), Err("the name is empty".into()));
    }

    #[test]
    fn shell_words_are_quoted() {
        assert_eq!(quote("/opt/it's here"), r"'/opt/it'\''s here'");
    }
}
