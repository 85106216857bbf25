//! Fault injection (500s, 429 with `Retry-After`, slow responses, dropped and expired watches)
//! and the request counters tests read, both behind the `/_standin/` control API.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::Shared;
use crate::status::ApiError;

/// Faults to inject; the control API (`POST /_standin/faults`) takes the same JSON object and
/// replaces the counters it names.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// The next N API requests answer 500 `InternalError`.
    pub errors_500: u32,
    /// The next N API requests (after the 500s) answer 429 `TooManyRequests`.
    pub throttle_429: u32,
    /// The `Retry-After` seconds of the 429s (0 reads as 1).
    pub retry_after_seconds: u32,
    /// A delay before every API request is handled.
    pub delay_ms: u64,
    /// Close every open watch stream now (one-shot; not kept).
    pub drop_watches: bool,
    /// The next N watch requests get an `ERROR` event with a 410 `Expired` Status.
    pub expire_next_watches: u32,
}

/// Request counters.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Stats {
    /// Requests by `"<verb> <resource>"` (`"create jobs"`, `"watch pods"`, `"get discovery"`).
    pub requests: BTreeMap<String, u64>,
    /// Create, update, patch and delete requests.
    pub write_requests: u64,
    /// Watch streams open now.
    pub watches_open: u64,
    /// Watch streams opened so far.
    pub watches_total: u64,
    /// Faults served: 500s, 429s, expired watches.
    pub injected: BTreeMap<String, u64>,
}

/// The live fault and counter state.
pub struct FaultState {
    faults: Mutex<Faults>,
    stats: Mutex<Stats>,
    drop_tx: tokio::sync::watch::Sender<u64>,
}

impl FaultState {
    /// State starting with `faults`.
    pub fn new(mut faults: Faults) -> Self {
        faults.drop_watches = false;
        FaultState {
            faults: Mutex::new(faults),
            stats: Mutex::new(Stats::default()),
            drop_tx: tokio::sync::watch::channel(0).0,
        }
    }

    fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stats_mut(&self) -> std::sync::MutexGuard<'_, Stats> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the faults; `drop_watches` closes every open watch now.
    pub fn set(&self, new: Faults) {
        if new.drop_watches {
            self.drop_tx.send_modify(|g| *g += 1);
        }
        let mut f = self.faults();
        *f = Faults {
            drop_watches: false,
            ..new
        };
    }

    /// The faults pending now.
    pub fn current(&self) -> Faults {
        self.faults().clone()
    }

    /// A copy of the counters.
    pub fn stats(&self) -> Stats {
        self.stats_mut().clone()
    }

    /// A receiver that changes when watches must be dropped.
    pub fn drop_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.drop_tx.subscribe()
    }

    /// Whether this watch must fail with 410 (consumes one).
    pub fn take_expire(&self) -> bool {
        let mut f = self.faults();
        if f.expire_next_watches > 0 {
            f.expire_next_watches -= 1;
            drop(f);
            *self
                .stats_mut()
                .injected
                .entry("expired watch".into())
                .or_default() += 1;
            return true;
        }
        false
    }

    /// Counts a watch stream opening; the returned guard counts its close.
    pub fn watch_opened(self: &Arc<Self>) -> WatchGuard {
        let mut s = self.stats_mut();
        s.watches_open += 1;
        s.watches_total += 1;
        WatchGuard(self.clone())
    }
}

/// Decrements `watches_open` when a watch stream ends.
pub struct WatchGuard(Arc<FaultState>);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        let mut s = self.0.stats_mut();
        s.watches_open = s.watches_open.saturating_sub(1);
    }
}

/// `"<verb> <resource>"` of an API request, and whether it writes.
fn classify(method: &Method, path: &str, query: &str) -> (String, bool) {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    // /api/v1/... or /apis/<group>/<version>/...
    let rest: &[&str] = match segs.as_slice() {
        ["api", _v, rest @ ..] => rest,
        ["apis", _g, _v, rest @ ..] => rest,
        _ => return ("get discovery".to_owned(), false),
    };
    let rest = match rest {
        ["namespaces", _ns, rest @ ..] if !rest.is_empty() => rest,
        other => other,
    };
    let (res, named, sub) = match rest {
        [] => return ("get discovery".to_owned(), false),
        [res] => (*res, false, None),
        [res, _name] => (*res, true, None),
        [res, _name, sub, ..] => (*res, true, Some(*sub)),
    };
    let watch = query
        .split('&')
        .any(|kv| kv == "watch=1" || kv == "watch=true");
    let verb = match (method.as_str(), named, sub) {
        ("GET", _, Some("log")) => "log",
        ("GET", false, _) if watch => "watch",
        ("GET", false, _) => "list",
        ("GET", true, _) => "get",
        ("POST", ..) => "create",
        ("PUT", ..) => "update",
        ("PATCH", ..) => "patch",
        ("DELETE", ..) => "delete",
        (other, ..) => other,
    };
    let write = matches!(verb, "create" | "update" | "patch" | "delete");
    (format!("{verb} {res}"), write)
}

/// Middleware: counts the request, then applies the pending faults before the handler.
pub async fn middleware(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if path.starts_with("/_standin/") {
        return next.run(req).await;
    }
    let (key, write) = classify(req.method(), &path, req.uri().query().unwrap_or(""));
    let fs = &shared.faults;
    {
        let mut s = fs.stats_mut();
        *s.requests.entry(key).or_default() += 1;
        if write {
            s.write_requests += 1;
        }
    }
    let (injected, delay) = {
        let mut f = fs.faults();
        let injected = if f.errors_500 > 0 {
            f.errors_500 -= 1;
            Some(ApiError::internal("injected by kube-standin"))
        } else if f.throttle_429 > 0 {
            f.throttle_429 -= 1;
            Some(ApiError::too_many_requests(f.retry_after_seconds.max(1)))
        } else {
            None
        };
        (injected, f.delay_ms)
    };
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if let Some(e) = injected {
        *fs.stats_mut()
            .injected
            .entry(e.code().to_string())
            .or_default() += 1;
        return e.into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_classified_by_verb_and_resource() {
        let cases = [
            (
                "GET",
                "/apis/batch/v1/namespaces/d/jobs",
                "",
                "list jobs",
                false,
            ),
            (
                "GET",
                "/apis/batch/v1/namespaces/d/jobs",
                "watch=1&x=y",
                "watch jobs",
                false,
            ),
            ("GET", "/api/v1/pods", "watch=true", "watch pods", false),
            (
                "GET",
                "/api/v1/namespaces/d/pods/p/log",
                "",
                "log pods",
                false,
            ),
            ("GET", "/api/v1/namespaces/d/pods/p", "", "get pods", false),
            (
                "POST",
                "/apis/batch/v1/namespaces/d/jobs",
                "",
                "create jobs",
                true,
            ),
            (
                "DELETE",
                "/apis/batch/v1/namespaces/d/jobs/j",
                "",
                "delete jobs",
                true,
            ),
            (
                "DELETE",
                "/apis/networking.k8s.io/v1/namespaces/d/networkpolicies/j",
                "",
                "delete networkpolicies",
                true,
            ),
            ("GET", "/apis/batch/v1", "", "get discovery", false),
            ("GET", "/version", "", "get discovery", false),
        ];
        for (m, p, q, key, write) in cases {
            let method = Method::from_bytes(m.as_bytes()).unwrap();
            assert_eq!(classify(&method, p, q), (key.to_owned(), write), "{m} {p}");
        }
    }
}
