//! What a run produced: how the guest ended, which limit fired, what it printed, what it cost.

use std::fmt;
use std::time::Duration;

/// The record of one finished run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    /// How the guest ended.
    pub outcome: Outcome,
    /// The end of the guest's stdout.
    pub stdout: Captured,
    /// The end of the guest's stderr.
    pub stderr: Captured,
    /// From the start of instantiation to the end of the guest.
    pub wall_time: Duration,
    /// Fuel burnt, when the sandbox meters fuel.
    pub fuel_used: Option<u64>,
    /// The largest size the guest's linear memory reached, in bytes.
    pub peak_memory_bytes: u64,
    /// Facts about the run the operator should see in the report's runner warnings, e.g. that
    /// the guest hit the open-file cap ([`SandboxConfig::max_open_files`](crate::SandboxConfig)).
    pub warnings: Vec<String>,
    /// What a component did on the network (`None` for a core module).
    pub network: Option<crate::NetworkStats>,
}

impl RunRecord {
    /// The guest's exit status, if it exited (returning from `main` is 0).
    pub fn exit_code(&self) -> Option<i32> {
        match self.outcome {
            Outcome::Exited { code } => Some(code),
            _ => None,
        }
    }

    /// The limit that stopped the guest, if one did.
    pub fn limit(&self) -> Option<&LimitExceeded> {
        match &self.outcome {
            Outcome::LimitExceeded(limit) => Some(limit),
            _ => None,
        }
    }
}

/// How a guest ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The guest exited by itself: returned from `main` (code 0) or called `proc_exit(code)`.
    Exited {
        /// The exit status.
        code: i32,
    },
    /// A limit stopped the guest.
    LimitExceeded(LimitExceeded),
    /// The guest trapped (a panic, `unreachable`, out-of-bounds access, stack overflow) or a host
    /// call failed fatally.
    Trapped {
        /// The trap, e.g. "wasm `unreachable` instruction executed".
        message: String,
        /// The whole error chain with the wasm backtrace, for logs.
        detail: String,
    },
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exited { code } => write!(f, "exited with status {code}"),
            Self::LimitExceeded(limit) => limit.fmt(f),
            Self::Trapped { message, .. } => write!(f, "trapped: {message}"),
        }
    }
}

/// A limit that stopped a guest; its `Display` is a sentence naming the limit. Byte counts are
/// written in bytes: this crate has no Cortex knowledge, and a report's sentence, with sizes
/// as the reports write them ("256 MiB"), is the runner's to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitExceeded {
    /// The wall-clock timeout fired: "timed out after 30 s".
    Timeout {
        /// The configured timeout.
        limit: Duration,
    },
    /// The guest tried to grow its memory past the limit: "memory limit of 268435456 bytes
    /// exceeded".
    Memory {
        /// The configured limit in bytes.
        limit_bytes: u64,
        /// The size the guest asked for, in bytes.
        requested_bytes: u64,
    },
    /// The guest burnt all its fuel: "fuel limit 1000000 exhausted".
    Fuel {
        /// The configured fuel.
        limit: u64,
    },
}

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout { limit } => write!(f, "timed out after {}", human_duration(*limit)),
            Self::Memory { limit_bytes, .. } => {
                write!(f, "memory limit of {limit_bytes} bytes exceeded")
            }
            Self::Fuel { limit } => write!(f, "fuel limit {limit} exhausted"),
        }
    }
}

/// The kept end of one output stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// The last bytes written (at most the configured capacity).
    pub tail: Vec<u8>,
    /// Everything the guest wrote, in bytes.
    pub total_bytes: u64,
    /// How many of the first bytes were dropped to keep within the capacity.
    pub dropped_bytes: u64,
}

impl Captured {
    /// Whether earlier output was dropped.
    pub fn truncated(&self) -> bool {
        self.dropped_bytes > 0
    }

    /// The kept bytes as text (invalid UTF-8 replaced).
    pub fn tail_text(&self) -> String {
        String::from_utf8_lossy(&self.tail).into_owned()
    }
}

/// "30 s", "1.5 s", "250 ms".
fn human_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{} s", d.as_secs())
    } else if d.as_secs() > 0 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_as_report_sentences() {
        let timeout = LimitExceeded::Timeout {
            limit: Duration::from_secs(30),
        };
        assert_eq!(timeout.to_string(), "timed out after 30 s");
        let short = LimitExceeded::Timeout {
            limit: Duration::from_millis(250),
        };
        assert_eq!(short.to_string(), "timed out after 250 ms");
        let memory = LimitExceeded::Memory {
            limit_bytes: 256 << 20,
            requested_bytes: 300 << 20,
        };
        assert_eq!(
            memory.to_string(),
            "memory limit of 268435456 bytes exceeded"
        );
        let fuel = LimitExceeded::Fuel { limit: 1_000_000 };
        assert_eq!(fuel.to_string(), "fuel limit 1000000 exhausted");
    }

    #[test]
    fn durations_are_human() {
        assert_eq!(human_duration(Duration::from_millis(1500)), "1.5 s");
    }
}
