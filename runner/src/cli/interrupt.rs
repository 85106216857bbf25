//! Ctrl-C and SIGTERM while `run` or `job` waits for its job: the first cancels the job, which
//! still ends with its report; a second exits at once.
//!
//! Without a handler the default action kills the process mid-job, and the job folder is left
//! without a report (Cortex then reads a missing `output.json`). With it, the job is cancelled
//! through [`JobHandle::cancel`] like any other cancellation, finalised with
//! `cancelled: interrupted by SIGINT` (or SIGTERM), and the command prints and exits as for any
//! failure report. An operator who asks twice is not kept waiting for finalisation.

use std::future::Future;

use anyhow::{Context as _, Result};
use cortex_runner::scheduler::{JobHandle, JobRecord};
use tokio::signal::unix::{Signal, SignalKind, signal};

/// SIGINT and SIGTERM, caught: from [`Interrupts::install`] on, neither kills the process.
#[derive(Debug)]
pub struct Interrupts {
    /// SIGINT (Ctrl-C).
    int: Signal,
    /// SIGTERM (`kill`, a container runtime stopping the process).
    term: Signal,
}

/// One caught signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// SIGINT.
    Int,
    /// SIGTERM.
    Term,
}

impl Interrupt {
    /// The signal's name, as the cancellation reason quotes it.
    pub fn name(self) -> &'static str {
        match self {
            Interrupt::Int => "SIGINT",
            Interrupt::Term => "SIGTERM",
        }
    }

    /// The signal's number, for the exit status of a second interrupt.
    fn number(self) -> i32 {
        match self {
            Interrupt::Int => 2,
            Interrupt::Term => 15,
        }
    }

    /// The reason the job is cancelled with.
    pub fn reason(self) -> String {
        format!("interrupted by {}", self.name())
    }
}

impl Interrupts {
    /// Catches SIGINT and SIGTERM. Signals that arrive before [`Interrupts::next`] is awaited are
    /// kept, not lost. Must be called within a tokio runtime.
    pub fn install() -> Result<Self> {
        let catch = |kind: SignalKind, name: &str| {
            signal(kind).with_context(|| format!("installing the {name} handler"))
        };
        Ok(Self {
            int: catch(SignalKind::interrupt(), "SIGINT")?,
            term: catch(SignalKind::terminate(), "SIGTERM")?,
        })
    }

    /// The next SIGINT or SIGTERM.
    pub async fn next(&mut self) -> Interrupt {
        tokio::select! {
            Some(()) = self.int.recv() => Interrupt::Int,
            Some(()) = self.term.recv() => Interrupt::Term,
            // Both streams ended (the runtime is shutting down): nothing more will arrive.
            else => std::future::pending().await,
        }
    }

    /// Runs `work` unless an interrupt comes first; then `work` is dropped and the interrupt
    /// returned. For what comes before a job is submitted (compiling its module).
    pub async fn before<T>(&mut self, work: impl Future<Output = T>) -> Result<T, Interrupt> {
        tokio::select! {
            biased;
            interrupt = self.next() => Err(interrupt),
            done = work => Ok(done),
        }
    }

    /// Waits for the job's record. The first interrupt (or `pending`, one that came before the
    /// job was submitted) cancels the job with `interrupted by <SIGNAL>`, and the wait goes on
    /// for the report the cancellation writes. A second interrupt exits the process at once
    /// with 128 + its number, as a shell reports a process the signal killed.
    pub async fn await_job(
        &mut self,
        mut handle: JobHandle,
        pending: Option<Interrupt>,
    ) -> cortex_runner::scheduler::Result<JobRecord> {
        let first = match pending {
            Some(interrupt) => interrupt,
            None => tokio::select! {
                record = &mut handle => return record,
                interrupt = self.next() => interrupt,
            },
        };
        handle.cancel(first.reason());
        tokio::select! {
            record = &mut handle => record,
            second = self.next() => {
                eprintln!("{}: exiting before the job's report is written", second.name());
                std::process::exit(super::EXIT_SIGNAL_BASE + second.number())
            }
        }
    }
}
