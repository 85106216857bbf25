//! `Analyzer` (cortexutils' `analyzer.Analyzer`): the observable, taxonomies, artifacts, and the
//! success report with its summary / artifacts / operations hooks.

use std::ops::Deref;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::artifact::{copy_file_artifact, data_artifact};
use crate::error::{Error, Result};
use crate::extractor::Extractor;
use crate::output::Failure;
use crate::python::truthy;
use crate::worker::{Worker, WorkerOptions};

/// The taxonomy levels Cortex knows; any other level becomes `info`.
pub const LEVELS: [&str; 4] = ["info", "safe", "suspicious", "malicious"];

/// The parts of an analyzer's report that cortexutils lets a subclass override. Every method
/// has cortexutils' default.
pub trait Hooks {
    /// The report's `summary`, usually `{"taxonomies": [...]}`. An error yields `{}`, as
    /// cortexutils swallows any exception from `summary`.
    fn summary(&self, analyzer: &Analyzer, full: &Value) -> Result<Value> {
        let _ = (analyzer, full);
        Ok(Value::Object(Map::new()))
    }

    /// The report's `artifacts`; by default the auto-extracted ones ([`Analyzer::artifacts`]).
    /// Unlike the other hooks an error here is not swallowed: it fails the job (cortexutils
    /// does not catch it either, and crashes).
    fn artifacts(&self, analyzer: &Analyzer, full: &Value) -> Result<Vec<Value>> {
        analyzer.artifacts(full)
    }

    /// The report's `operations`. An error yields `[]`.
    fn operations(&self, analyzer: &Analyzer, full: &Value) -> Result<Vec<Value>> {
        let _ = (analyzer, full);
        Ok(Vec::new())
    }
}

/// cortexutils' defaults for every hook.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultHooks;

impl Hooks for DefaultHooks {}

/// An analyzer program: `run` returns the `full` report (or an error for the failure report),
/// and the hooks shape the rest. Run it with [`crate::run_analyzer`].
pub trait Analyze: Hooks {
    /// Analyses the observable and returns the `full` report.
    fn run(&self, analyzer: &Analyzer) -> Result<Value>;
}

/// An opened analyzer job. It dereferences to [`Worker`] for everything analyzers and
/// responders share (`get_param`, `data_type`, `tlp`, `error`, ...).
#[derive(Debug, Clone)]
pub struct Analyzer {
    worker: Worker,
    auto_extract: Value,
    file_path: Option<Value>,
}

impl Deref for Analyzer {
    type Target = Worker;

    fn deref(&self) -> &Worker {
        &self.worker
    }
}

impl Analyzer {
    /// Opens the job named by `argv[1]` (default `/job`), as `Analyzer()` does.
    pub fn from_args() -> Result<Analyzer, Box<Failure>> {
        Analyzer::open(WorkerOptions::default())
    }

    /// Opens a job (see [`Worker::open`] for the checks) and reads the auto-extraction switch:
    /// `config.auto_extract`, or when that is absent `config.auto_extract_artifacts`, default
    /// true, tested for Python truthiness.
    pub fn open(options: WorkerOptions) -> Result<Analyzer, Box<Failure>> {
        Worker::open(options).map(Analyzer::from_worker)
    }

    /// Wraps an opened worker.
    pub fn from_worker(worker: Worker) -> Analyzer {
        let auto_extract = worker
            .get_param("config.auto_extract")
            .or_else(|| worker.get_param("config.auto_extract_artifacts"))
            .cloned()
            .unwrap_or(Value::Bool(true));
        // cortexutils' `get_param("file")` answers the attachment's path in `input/` when it
        // exists (and `None` when it does not), for file observables in a job folder.
        let file_path = match (
            worker.data_type(),
            worker.job_directory(),
            worker.input().get("file"),
        ) {
            ("file", Some(dir), Some(Value::String(name))) => {
                let path = dir.join("input").join(name);
                path.is_file()
                    .then(|| Value::String(path.to_string_lossy().into_owned()))
            }
            _ => None,
        };
        Analyzer {
            worker,
            auto_extract,
            file_path,
        }
    }

    /// The worker underneath.
    pub fn worker(&self) -> &Worker {
        &self.worker
    }

    /// Whether artifacts are auto-extracted from the report.
    pub fn auto_extract(&self) -> bool {
        truthy(&self.auto_extract)
    }

    /// cortexutils' `Analyzer.get_param`: like [`Worker::get_param`], except that for a file
    /// observable `"file"` is the path of the attachment in `input/` (or `None` when no such
    /// file exists, whatever `input.json` says).
    pub fn get_param(&self, name: &str) -> Option<&Value> {
        if name == "file" && self.data_type() == "file" && self.job_directory().is_some() {
            return self.file_path.as_ref();
        }
        self.worker.get_param(name)
    }

    /// cortexutils' `get_param(name, default)` with the `file` rule of [`Analyzer::get_param`].
    pub fn get_param_or(&self, name: &str, default: impl Into<Value>) -> Value {
        self.get_param(name)
            .cloned()
            .unwrap_or_else(|| default.into())
    }

    /// The parameter as a string, with the `file` rule of [`Analyzer::get_param`].
    pub fn get_param_str(&self, name: &str) -> Option<&str> {
        self.get_param(name).and_then(Value::as_str)
    }

    /// cortexutils' `get_param(name, None, message)` with the `file` rule. (Where the `file`
    /// key exists but the attachment does not, cortexutils returns `None`; this errors with
    /// `message`.)
    pub fn require_param(&self, name: &str, message: &str) -> Result<&Value> {
        self.get_param(name).ok_or_else(|| Error::msg(message))
    }

    /// cortexutils' `Analyzer.get_data()`: for a file observable the original file *name*
    /// (`filename`, else the error "Missing filename."), otherwise `data` (else "Missing data
    /// field"). The attachment's path is [`Analyzer::file_path`].
    pub fn get_data(&self) -> Result<&Value> {
        if self.data_type() == "file" {
            self.require_param("filename", "Missing filename.")
        } else {
            self.require_param("data", "Missing data field")
        }
    }

    /// [`Analyzer::get_data`] as a string (the error "Missing data field" if it is not one).
    pub fn get_data_str(&self) -> Result<&str> {
        self.get_data()?
            .as_str()
            .ok_or_else(|| Error::msg("Missing data field"))
    }

    /// For a file observable, the path of the attachment in `input/` (cortexutils'
    /// `get_param("file")`), if it exists.
    pub fn file_path(&self) -> Option<PathBuf> {
        self.file_path
            .as_ref()
            .and_then(Value::as_str)
            .map(PathBuf::from)
    }

    /// cortexutils' `build_taxonomy(level, namespace, predicate, value)`; a level other than
    /// `info`, `safe`, `suspicious`, `malicious` becomes `info`.
    pub fn build_taxonomy(
        level: &str,
        namespace: &str,
        predicate: &str,
        value: impl Into<Value>,
    ) -> Value {
        let level = if LEVELS.contains(&level) {
            level
        } else {
            "info"
        };
        json!({"level": level, "namespace": namespace, "predicate": predicate, "value": value.into()})
    }

    /// cortexutils' `build_artifact(data_type, data)`; see [`Analyzer::build_artifact_with`].
    pub fn build_artifact(&self, data_type: &str, data: impl Into<Value>) -> Result<Value> {
        self.build_artifact_with(data_type, data, Map::new())
    }

    /// cortexutils' `build_artifact(data_type, data, **kwargs)`. For `"file"`, `data` is a path:
    /// the file is copied into `output/` under a random `tmpXXXXXXXX` name with mode 0444, and
    /// the artifact is `{...kwargs, "dataType": "file", "file": <new name>, "filename": <base
    /// name of data>}`; when `data` is not an existing regular file the result is `null`, as
    /// cortexutils returns `None`. Otherwise `{...kwargs, "dataType": data_type, "data": data}`.
    pub fn build_artifact_with(
        &self,
        data_type: &str,
        data: impl Into<Value>,
        kwargs: Map<String, Value>,
    ) -> Result<Value> {
        let data = data.into();
        if data_type != "file" {
            return Ok(data_artifact(data_type, data, kwargs));
        }
        let Some(path) = data.as_str() else {
            return Ok(Value::Null);
        };
        let Some(dir) = self.job_directory() else {
            return Err(Error::Type(
                "file artifacts need a job folder (the job came on standard input)".to_owned(),
            ));
        };
        Ok(copy_file_artifact(&dir.join("output"), path, kwargs)?.unwrap_or(Value::Null))
    }

    /// cortexutils' `Analyzer.artifacts(full)`: the artifacts auto-extracted from `full`, with
    /// the observable ([`Analyzer::get_data`]) as the ignore rule, or `[]` when auto-extraction
    /// is off.
    pub fn artifacts(&self, full: &Value) -> Result<Vec<Value>> {
        if !self.auto_extract() {
            return Ok(Vec::new());
        }
        Extractor::new(Some(self.get_data()?.clone())).check_iterable(full)
    }

    /// cortexutils' `Analyzer.report(full)` without writing: `{"success": true, "summary",
    /// "artifacts", "operations", "full"}`. The hooks run in cortexutils' order (summary,
    /// operations, artifacts); a failing summary or operations hook yields `{}` / `[]`, a
    /// failing artifacts hook fails the report.
    pub fn build_report(&self, full: Value, hooks: &(impl Hooks + ?Sized)) -> Result<Value> {
        let summary = hooks
            .summary(self, &full)
            .unwrap_or_else(|_| Value::Object(Map::new()));
        let operations = hooks.operations(self, &full).unwrap_or_default();
        let artifacts = hooks.artifacts(self, &full)?;
        Ok(
            json!({"success": true, "summary": summary, "artifacts": artifacts, "operations": operations, "full": full}),
        )
    }

    /// cortexutils' `report(full)`: builds the report and writes it to `output/output.json`.
    pub fn report(&self, full: Value, hooks: &(impl Hooks + ?Sized)) -> Result<()> {
        let report = self.build_report(full, hooks)?;
        self.write_report(&report)
    }

    /// The job folder's `output/` directory, where file artifacts go.
    pub fn output_directory(&self) -> Option<PathBuf> {
        self.job_directory().map(|d: &Path| d.join("output"))
    }
}
