//! The `main` of a worker: open the job, run the code, write the report, exit 0 or 1, and turn
//! a panic into a failure report.
//!
//! A panic cannot always be caught: `wasm32-wasip1` builds with `panic = "abort"`, so there is
//! no unwinding to catch. The SDK therefore installs a panic hook, which runs before any unwind
//! or abort on every target: it writes the failure report `"Unexpected Error: <panic
//! message>"` (cortexutils' `unexpectedError` wording) with the redacted input, then exits with
//! status 1, so the sandbox sees a normal exit rather than a trap. What no hook can turn into a
//! report: an abort that is not a panic (out of memory, a stack overflow), a trap of the wasm
//! runtime (fuel, timeout), or a panic while the report itself is being written.

use std::process::ExitCode;
use std::sync::Mutex;
use std::thread::ThreadId;

use serde_json::Value;

use crate::analyzer::{Analyze, Analyzer};
use crate::error::{Error, Result};
use crate::output::Failure;
use crate::responder::{Respond, Responder};
use crate::worker::WorkerOptions;

/// What the panic hook needs to write a failure report (the job's redacted input and output),
/// and the thread running the job. A panic on another thread is left to whoever joins that
/// thread: if it re-raises the panic, the job thread's panic writes the report.
static PANIC_REPORT: Mutex<Option<(ThreadId, Failure)>> = Mutex::new(None);

/// Installs the panic hook (once per process): the default hook's message on standard error,
/// then the failure report, then exit status 1.
fn install_panic_hook() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            default_hook(info);
            let message = info.payload_as_str().unwrap_or("panic").to_owned();
            // A poisoned lock still holds the context; the report matters more than the poison.
            let mut armed = PANIC_REPORT.lock().unwrap_or_else(|p| p.into_inner());
            let on_job_thread = armed
                .as_ref()
                .is_some_and(|(id, _)| *id == std::thread::current().id());
            let pending = if on_job_thread { armed.take() } else { None };
            drop(armed);
            if let Some((_, mut failure)) = pending {
                failure.message = format!("Unexpected Error: {message}");
                failure.exit();
            }
        }));
    });
}

/// Remembers where a panic's failure report goes from now on.
fn arm_panic_report(failure: Failure) {
    let job_thread = std::thread::current().id();
    *PANIC_REPORT.lock().unwrap_or_else(|p| p.into_inner()) = Some((job_thread, failure));
}

/// Writes the failure report and returns exit status 1.
fn fail(failure: &Failure) -> ExitCode {
    if let Err(e) = failure.write() {
        eprintln!("cortex-sdk: {e}; the failure was: {}", failure.message);
    }
    ExitCode::from(1)
}

/// Runs an analyzer as cortexutils' `Analyzer().run()` would: opens the job from `argv[1]`
/// (default `/job`), calls `analyzer.run`, writes the success report (with the hooks) or the
/// failure report, and returns exit status 0 or 1. Use it as the whole of `main`.
pub fn run_analyzer(analyzer: impl Analyze) -> ExitCode {
    run_analyzer_with(WorkerOptions::default(), analyzer)
}

/// [`run_analyzer`] with explicit options (job folder, secret phrases).
pub fn run_analyzer_with(options: WorkerOptions, analyzer: impl Analyze) -> ExitCode {
    install_panic_hook();
    let job = match Analyzer::open(options) {
        Ok(job) => job,
        Err(failure) => return fail(&failure),
    };
    arm_panic_report(job.fail(&Error::msg("panic")));
    let outcome = analyzer
        .run(&job)
        .and_then(|full| job.build_report(full, &analyzer));
    finish(outcome.and_then(|report| job.write_report(&report)), |e| {
        job.fail(e)
    })
}

/// [`run_analyzer`] for a closure with cortexutils' default hooks.
pub fn run_analyzer_fn(run: impl Fn(&Analyzer) -> Result<Value>) -> ExitCode {
    run_analyzer_fn_with(WorkerOptions::default(), run)
}

/// [`run_analyzer_fn`] with explicit options.
pub fn run_analyzer_fn_with(
    options: WorkerOptions,
    run: impl Fn(&Analyzer) -> Result<Value>,
) -> ExitCode {
    struct FnAnalyzer<F>(F);
    impl<F> crate::analyzer::Hooks for FnAnalyzer<F> {}
    impl<F: Fn(&Analyzer) -> Result<Value>> Analyze for FnAnalyzer<F> {
        fn run(&self, analyzer: &Analyzer) -> Result<Value> {
            (self.0)(analyzer)
        }
    }
    run_analyzer_with(options, FnAnalyzer(run))
}

/// Runs a responder: opens the job, calls `responder.run`, writes `{"success": true, "full",
/// "operations"}` or the failure report, and returns exit status 0 or 1.
pub fn run_responder(responder: impl Respond) -> ExitCode {
    run_responder_with(WorkerOptions::default(), responder)
}

/// [`run_responder`] with explicit options.
pub fn run_responder_with(options: WorkerOptions, responder: impl Respond) -> ExitCode {
    install_panic_hook();
    let job = match Responder::open(options) {
        Ok(job) => job,
        Err(failure) => return fail(&failure),
    };
    arm_panic_report(job.fail(&Error::msg("panic")));
    let outcome = responder
        .run(&job)
        .map(|full| job.build_report(full, &responder));
    finish(outcome.and_then(|report| job.write_report(&report)), |e| {
        job.fail(e)
    })
}

/// Turns the outcome into an exit status, writing the failure report on error.
fn finish(outcome: Result<()>, to_failure: impl Fn(&Error) -> Failure) -> ExitCode {
    // The job is over: a later panic (in a destructor) has no report to write.
    *PANIC_REPORT.lock().unwrap_or_else(|p| p.into_inner()) = None;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&to_failure(&error)),
    }
}
