//! `Worker`: what analyzers and responders share (cortexutils' `worker.Worker`): the job input,
//! parameters, TLP/PAP checks, proxies, and the failure report.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::output::{DEFAULT_SECRET_PHRASES, Failure, Output, empty_object};
use crate::python::{greater, lookup, truthy};

/// The job folder cortexutils uses when none is given on the command line (Cortex's docker
/// runner mounts the job there).
pub const DEFAULT_JOB_DIRECTORY: &str = "/job";

/// How a worker is opened. `Default` is what cortexutils does with no arguments.
#[derive(Debug, Clone, Default)]
pub struct WorkerOptions {
    /// The job folder; `None` means `argv[1]`, or `/job` when there is no argument.
    pub job_directory: Option<PathBuf>,
    /// Config key fragments redacted from failure reports; `None` means
    /// [`DEFAULT_SECRET_PHRASES`] (`key`, `password`, `secret`).
    pub secret_phrases: Option<Vec<String>>,
}

/// The state every worker has once its input is read and checked.
#[derive(Debug, Clone)]
pub struct Worker {
    output: Output,
    input: Value,
    secret_phrases: Vec<String>,
    data_type: Value,
    tlp: Value,
    pap: Value,
    http_proxy: Option<String>,
    https_proxy: Option<String>,
}

impl Worker {
    /// Opens the job as cortexutils' `Worker.__init__` does, in the same order: read
    /// `input/input.json` (or, when it does not exist, the job from standard input if that is
    /// not a terminal, writing the report to standard output); require `dataType` ("Missing
    /// dataType field"); read `tlp`/`pap` (default 2), `config.check_tlp`/`max_tlp`,
    /// `config.check_pap`/`max_pap` (defaults false / 2) and the proxies; then refuse the job
    /// with "TLP is higher than allowed." or "PAP is higher than allowed.".
    ///
    /// On error the returned [`Failure`] holds the report cortexutils would write; call
    /// [`Failure::exit`] to write it and exit with status 1.
    pub fn open(options: WorkerOptions) -> Result<Worker, Box<Failure>> {
        let secret_phrases = options.secret_phrases.unwrap_or_else(|| {
            DEFAULT_SECRET_PHRASES
                .iter()
                .map(|s| (*s).to_owned())
                .collect()
        });
        let job_directory = options.job_directory.unwrap_or_else(|| {
            std::env::args_os()
                .nth(1)
                .map_or_else(|| PathBuf::from(DEFAULT_JOB_DIRECTORY), PathBuf::from)
        });
        let (output, input) = match read_input(&job_directory) {
            Ok(found) => found,
            Err((output, error)) => {
                return Err(Box::new(Failure::new(
                    &error,
                    empty_object(),
                    &secret_phrases,
                    output,
                )));
            }
        };
        Worker::build(output, input, secret_phrases)
    }

    /// Builds a worker from an input already in memory, writing to `output`, with the same
    /// checks as [`Worker::open`].
    pub fn from_input(
        input: Value,
        output: Output,
        secret_phrases: Option<Vec<String>>,
    ) -> Result<Worker, Box<Failure>> {
        let secret_phrases = secret_phrases.unwrap_or_else(|| {
            DEFAULT_SECRET_PHRASES
                .iter()
                .map(|s| (*s).to_owned())
                .collect()
        });
        if !input.is_object() {
            let error = Error::InvalidInput {
                path: PathBuf::from("input"),
                reason: "not a JSON object".to_owned(),
            };
            return Err(Box::new(Failure::new(
                &error,
                empty_object(),
                &secret_phrases,
                output,
            )));
        }
        Worker::build(output, input, secret_phrases)
    }

    /// Runs the checks on an input that is a JSON object.
    fn build(
        output: Output,
        input: Value,
        secret_phrases: Vec<String>,
    ) -> Result<Worker, Box<Failure>> {
        let mut worker = Worker {
            output,
            input,
            secret_phrases,
            data_type: Value::Null,
            tlp: Value::Null,
            pap: Value::Null,
            http_proxy: None,
            https_proxy: None,
        };
        match worker.check() {
            Ok(()) => Ok(worker),
            Err(error) => Err(Box::new(worker.fail(&error))),
        }
    }

    /// The parameter reads and checks of `Worker.__init__`, after the input is loaded.
    fn check(&mut self) -> Result<()> {
        self.data_type = self
            .require_param("dataType", "Missing dataType field")?
            .clone();
        self.tlp = self.get_param_or("tlp", 2);
        self.pap = self.get_param_or("pap", 2);
        let check_tlp = self.get_param_or("config.check_tlp", false);
        let max_tlp = self.get_param_or("config.max_tlp", 2);
        let check_pap = self.get_param_or("config.check_pap", false);
        let max_pap = self.get_param_or("config.max_pap", 2);
        self.http_proxy = self.proxy("config.proxy.http")?;
        self.https_proxy = self.proxy("config.proxy.https")?;
        // Python evaluates `enable_check_tlp and tlp > max_tlp`: the comparison (which may
        // raise a TypeError) only runs when the check is enabled.
        if truthy(&check_tlp) && greater(&self.tlp, &max_tlp)? {
            return Err(Error::msg("TLP is higher than allowed."));
        }
        if truthy(&check_pap) && greater(&self.pap, &max_pap)? {
            return Err(Error::msg("PAP is higher than allowed."));
        }
        Ok(())
    }

    /// cortexutils puts a configured proxy into `os.environ`; a value that is not a string
    /// makes that assignment raise a TypeError.
    fn proxy(&self, name: &str) -> Result<Option<String>> {
        match self.get_param(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(Error::Type(format!(
                "str expected, not {}",
                crate::python::type_name(other)
            ))),
        }
    }

    /// The whole job input (`input.json`), unredacted.
    pub fn input(&self) -> &Value {
        &self.input
    }

    /// The job folder, or `None` when the job came on standard input.
    pub fn job_directory(&self) -> Option<&Path> {
        self.output.job_directory()
    }

    /// Where this worker's report goes.
    pub fn output(&self) -> &Output {
        &self.output
    }

    /// The `dataType` of the observable (empty if it is not a string, which Cortex never sends).
    pub fn data_type(&self) -> &str {
        self.data_type.as_str().unwrap_or("")
    }

    /// The `tlp` of the job (2 when absent), as a JSON value like cortexutils' `self.tlp`.
    pub fn tlp(&self) -> &Value {
        &self.tlp
    }

    /// The `pap` of the job (2 when absent).
    pub fn pap(&self) -> &Value {
        &self.pap
    }

    /// `config.proxy.http`. cortexutils exports it as the `http_proxy` environment variable for
    /// `requests`; a Rust process cannot change its own environment safely, so the SDK hands
    /// the value out instead (see [`Worker::proxy_env`]). In the wasm sandbox there is no
    /// network, so a proxy is moot there.
    pub fn http_proxy(&self) -> Option<&str> {
        self.http_proxy.as_deref()
    }

    /// `config.proxy.https` (exported as `https_proxy` by cortexutils).
    pub fn https_proxy(&self) -> Option<&str> {
        self.https_proxy.as_deref()
    }

    /// The environment variables cortexutils would set (`http_proxy`, `https_proxy`), to pass
    /// to an HTTP client or to a child process with `Command::envs`.
    pub fn proxy_env(&self) -> Vec<(&'static str, &str)> {
        let mut env = Vec::new();
        if let Some(p) = self.http_proxy() {
            env.push(("http_proxy", p));
        }
        if let Some(p) = self.https_proxy() {
            env.push(("https_proxy", p));
        }
        env
    }

    /// cortexutils' `get_param(name)`: the value at the dotted path `name` (`"config.username"`),
    /// or `None` if a key on the path is missing or `null`.
    pub fn get_param(&self, name: &str) -> Option<&Value> {
        lookup(&self.input, name)
    }

    /// cortexutils' `get_param(name, default)`.
    pub fn get_param_or(&self, name: &str, default: impl Into<Value>) -> Value {
        self.get_param(name)
            .cloned()
            .unwrap_or_else(|| default.into())
    }

    /// The parameter as a string, or `None` if it is missing or not a string.
    pub fn get_param_str(&self, name: &str) -> Option<&str> {
        self.get_param(name).and_then(Value::as_str)
    }

    /// cortexutils' `get_param(name, None, message)`: a missing parameter stops the worker with
    /// `message`. Use it with `?`.
    pub fn require_param(&self, name: &str, message: &str) -> Result<&Value> {
        self.get_param(name).ok_or_else(|| Error::msg(message))
    }

    /// cortexutils' `Worker.get_data()`: `data`, or the error "Missing data field". Analyzers
    /// use [`crate::Analyzer::get_data`], which differs for files.
    pub fn get_data(&self) -> Result<&Value> {
        self.require_param("data", "Missing data field")
    }

    /// cortexutils' `get_env(key)`: the environment variable, or `None` when it is not set (or
    /// not Unicode).
    pub fn get_env(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }

    /// cortexutils' `get_env(key, default, message)` without the default: the environment
    /// variable, or the error `message` when it is not set (or not Unicode).
    pub fn require_env(&self, key: &str, message: &str) -> Result<String> {
        std::env::var(key).map_err(|_| Error::msg(message))
    }

    /// cortexutils' `build_operation(op_type, **parameters)`: `{"type": op_type, ...parameters}`
    /// (a `type` among the parameters replaces the first one in place, as `dict.update` does).
    pub fn build_operation(op_type: &str, parameters: Map<String, Value>) -> Value {
        let mut operation = Map::new();
        operation.insert("type".to_owned(), Value::String(op_type.to_owned()));
        operation.extend(parameters);
        Value::Object(operation)
    }

    /// The failure report for `error`, with the input's secrets redacted. Nothing is written.
    pub fn fail(&self, error: &Error) -> Failure {
        Failure::new(
            error,
            self.input.clone(),
            &self.secret_phrases,
            self.output.clone(),
        )
    }

    /// cortexutils' `error(message)`: writes the failure report and exits with status 1.
    pub fn error(&self, message: &str) -> ! {
        self.fail(&Error::msg(message)).exit()
    }

    /// Writes a report (any JSON value) where this worker's output goes.
    pub fn write_report(&self, report: &Value) -> Result<()> {
        self.output.write(report)
    }
}

/// Reads the job input: `<job>/input/input.json` if it is a file, else standard input when it
/// is not a terminal (cortexutils' fallback, which also sends the report to standard output).
/// The error carries the output the failure report must go to.
fn read_input(job_directory: &Path) -> std::result::Result<(Output, Value), (Output, Error)> {
    let path = job_directory.join("input").join("input.json");
    if path.is_file() {
        let output = Output::JobFolder(job_directory.to_path_buf());
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(source) => return Err((output, Error::ReadInput { path, source })),
        };
        return match parse_object(&text, &path) {
            Ok(input) => Ok((output, input)),
            Err(error) => Err((output, error)),
        };
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        // cortexutils' message, with its missing apostrophe ("doesn" "t" in the source).
        return Err((Output::Stdout, Error::msg("Input file doesnt exist")));
    }
    let mut text = Vec::new();
    let stdin_path = PathBuf::from("<stdin>");
    if let Err(source) = stdin.lock().read_to_end(&mut text) {
        return Err((
            Output::Stdout,
            Error::ReadInput {
                path: stdin_path,
                source,
            },
        ));
    }
    match parse_object(&text, &stdin_path) {
        Ok(input) => Ok((Output::Stdout, input)),
        Err(error) => Err((Output::Stdout, error)),
    }
}

/// Parses the input, which must be a JSON object (cortexutils crashes on anything else).
fn parse_object(text: &[u8], path: &Path) -> Result<Value> {
    let value: Value = serde_json::from_slice(text).map_err(|e| Error::InvalidInput {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(Error::InvalidInput {
            path: path.to_path_buf(),
            reason: "not a JSON object".to_owned(),
        })
    }
}
