//! Counters of what the stand-in received: requests per host and path, tunnels, bytes.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// A snapshot of the counters, as [`crate::Running::stats`] and `GET /_standin/stats` give it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stats {
    /// HTTPS requests by `<host><path>` (`api.abuseipdb.com/api/v2/check`), the host as the
    /// request's `Host` header named it without its port, the path without the query.
    pub requests: BTreeMap<String, u64>,
    /// `CONNECT` requests tunnelled (to one of [`crate::API_HOSTS`]).
    pub connects: u64,
    /// `CONNECT` requests refused (any other target).
    pub connects_refused: u64,
    /// TLS handshakes completed, direct or through a tunnel.
    pub tls_sessions: u64,
    /// Bytes read from clients, TLS records and plain HTTP included.
    pub bytes_received: u64,
    /// Bytes written to clients.
    pub bytes_sent: u64,
}

impl Stats {
    /// The count of requests to `host` and `path` (0 when none).
    pub fn requests_to(&self, host: &str, path: &str) -> u64 {
        self.requests
            .get(&format!("{host}{path}"))
            .copied()
            .unwrap_or(0)
    }

    /// The count of all HTTPS requests.
    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }
}

/// The live counters, shared by the connections.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Keyed by host and path; the key count is bounded by [`MAX_REQUEST_KEYS`].
    requests: Mutex<BTreeMap<String, u64>>,
    pub(crate) connects: AtomicU64,
    pub(crate) connects_refused: AtomicU64,
    pub(crate) tls_sessions: AtomicU64,
    pub(crate) bytes_received: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
}

/// Clients choose paths, so the map of paths is bounded; past this many distinct keys the
/// others are counted under [`OTHER_KEY`].
const MAX_REQUEST_KEYS: usize = 10_000;

/// The key counting the requests past [`MAX_REQUEST_KEYS`].
const OTHER_KEY: &str = "(other)";

impl Counters {
    /// Counts one request to `host` and `path`.
    pub(crate) fn request(&self, host: &str, path: &str) {
        let mut map = self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = format!("{host}{path}");
        let key = if map.len() >= MAX_REQUEST_KEYS && !map.contains_key(&key) {
            OTHER_KEY.to_owned()
        } else {
            key
        };
        *map.entry(key).or_insert(0) += 1;
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let requests = self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        Stats {
            requests,
            connects: self.connects.load(Ordering::Relaxed),
            connects_refused: self.connects_refused.load(Ordering::Relaxed),
            tls_sessions: self.tls_sessions.load(Ordering::Relaxed),
            bytes_received: self.bytes_received.load(Ordering::Relaxed),
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
        }
    }
}
