//! Container exits timed to the microsecond, for benchmarks (`GET /_standin/exits`,
//! [`crate::Handle::exits`]). A pod's `finishedAt` is an RFC 3339 time in whole seconds, as the
//! real API gives it: too coarse to time what a client does after a container ends.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The most exits kept; older ones are dropped first.
pub const MAX_EXITS: usize = 100_000;

/// One container that ended, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exit {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub pod: String,
    /// The pod's controlling Job, if any.
    pub job: Option<String>,
    /// The container's exit code.
    pub exit_code: i32,
    /// When the kubelet saw the process end (wait returned), in microseconds since the Unix
    /// epoch.
    pub exited_unix_us: u64,
    /// When the pod's terminated status was stored (and so sent to watches), in microseconds
    /// since the Unix epoch.
    pub status_unix_us: u64,
}

/// The exits so far, oldest first, at most [`MAX_EXITS`].
#[derive(Debug, Default)]
pub struct ExitLog {
    exits: Mutex<VecDeque<Exit>>,
}

impl ExitLog {
    /// Records an exit, dropping the oldest beyond [`MAX_EXITS`].
    pub fn record(&self, exit: Exit) {
        let mut exits = self.exits.lock().unwrap_or_else(|e| e.into_inner());
        if exits.len() >= MAX_EXITS {
            exits.pop_front();
        }
        exits.push_back(exit);
    }

    /// A copy of the exits, oldest first.
    pub fn list(&self) -> Vec<Exit> {
        let exits = self.exits.lock().unwrap_or_else(|e| e.into_inner());
        exits.iter().cloned().collect()
    }
}

/// Now, in microseconds since the Unix epoch (0 for a clock set before 1970).
pub fn now_unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(i: usize) -> Exit {
        Exit {
            namespace: "d".into(),
            pod: format!("p{i}"),
            job: None,
            exit_code: 0,
            exited_unix_us: 1,
            status_unix_us: 2,
        }
    }

    #[test]
    fn the_log_keeps_the_latest_exits_only() {
        let log = ExitLog::default();
        for i in 0..MAX_EXITS + 2 {
            log.record(exit(i));
        }
        let exits = log.list();
        assert_eq!(exits.len(), MAX_EXITS);
        assert_eq!(exits[0].pod, "p2");
        assert_eq!(exits[MAX_EXITS - 1].pod, format!("p{}", MAX_EXITS + 1));
    }
}
