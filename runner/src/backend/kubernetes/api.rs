//! The runner's requests to the API server, with the hygiene a shared cluster expects: a
//! client-side rate limit, bounded retries with backoff on `429` (honouring `Retry-After`) and
//! `5xx`, and counters of what was sent.
//!
//! Watches do not go through here: they are long-lived streams with their own backoff (see
//! [`super::watch`]).

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{DeleteParams, ListParams, LogParams, PostParams};
use kube::{Api, Client};
use tokio::time::Instant;

use super::spec::SELECTOR;

/// Attempts per request: the first and up to four retries.
const ATTEMPTS: u32 = 5;
/// The first retry's delay; each next one doubles, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// The longest wait between two attempts, `Retry-After` included.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Requests that may go out at once before the rate limit spaces them.
const BURST: u32 = 10;

/// Counts of requests, for the run record, the benchmark and the metrics.
#[derive(Debug, Default)]
pub struct Counters {
    /// Requests sent (retries included), watches excluded.
    pub requests: AtomicU64,
    /// Write requests sent (create, delete), retries included.
    pub writes: AtomicU64,
    /// Answers that were retried (429, 5xx, transport errors).
    pub retried: AtomicU64,
    /// Requests that failed for good.
    pub errors: AtomicU64,
}

/// The Kubernetes API as the backend uses it: Jobs, Pods, logs, Events and the Jobs'
/// NetworkPolicies of one namespace.
pub struct KubeApi {
    jobs: Api<Job>,
    pods: Api<Pod>,
    events: Api<Event>,
    network_policies: Api<NetworkPolicy>,
    limiter: RateLimit,
    /// What was sent.
    pub counters: Counters,
}

impl std::fmt::Debug for KubeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeApi").finish_non_exhaustive()
    }
}

/// Whether an error is worth another attempt, and after how long at least.
fn retry_after(error: &kube::Error) -> Option<Duration> {
    match error {
        kube::Error::Api(status) if status.code == 429 => Some(
            status
                .details
                .as_ref()
                .map(|d| Duration::from_secs(d.retry_after_seconds.into()))
                .unwrap_or_default(),
        ),
        kube::Error::Api(status) if status.code >= 500 => Some(Duration::ZERO),
        kube::Error::HyperError(_) | kube::Error::Service(_) => Some(Duration::ZERO),
        _ => None,
    }
}

impl KubeApi {
    /// The API of `namespace` through `client`, at most `qps` requests per second.
    pub fn new(client: Client, namespace: &str, qps: u32) -> Self {
        Self {
            jobs: Api::namespaced(client.clone(), namespace),
            pods: Api::namespaced(client.clone(), namespace),
            events: Api::namespaced(client.clone(), namespace),
            network_policies: Api::namespaced(client, namespace),
            limiter: RateLimit::new(qps),
            counters: Counters::default(),
        }
    }

    /// The Jobs API (for the shared watch).
    pub fn jobs(&self) -> Api<Job> {
        self.jobs.clone()
    }

    /// The Pods API (for the shared watch).
    pub fn pods(&self) -> Api<Pod> {
        self.pods.clone()
    }

    /// Sends one request with the rate limit and the retries.
    async fn call<T, F, Fut>(&self, write: bool, request: F) -> Result<T, kube::Error>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            self.limiter.wait().await;
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            if write {
                self.counters.writes.fetch_add(1, Ordering::Relaxed);
            }
            match request().await {
                Ok(value) => return Ok(value),
                Err(error) => match retry_after(&error) {
                    Some(at_least) if attempt < ATTEMPTS => {
                        self.counters.retried.fetch_add(1, Ordering::Relaxed);
                        let wait = backoff.max(at_least).min(MAX_BACKOFF);
                        tracing::debug!(attempt, ?wait, "retrying a Kubernetes request: {error}");
                        tokio::time::sleep(wait).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        attempt += 1;
                    }
                    _ => {
                        self.counters.errors.fetch_add(1, Ordering::Relaxed);
                        return Err(error);
                    }
                },
            }
        }
    }

    /// Creates `job`. A create that failed in transit may have reached the server, so a retry
    /// may meet `AlreadyExists`: the caller adopts the Job then, as for any resubmission.
    pub async fn create_job(&self, job: &Job) -> Result<Job, kube::Error> {
        let params = PostParams::default();
        self.call(true, || self.jobs.create(&params, job)).await
    }

    /// Deletes the Job `name` and, in the background, its pods. A Job already gone is fine.
    pub async fn delete_job(&self, name: &str) -> Result<(), kube::Error> {
        let params = DeleteParams::background();
        match self.call(true, || self.jobs.delete(name, &params)).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Creates a Job's egress `policy`.
    pub async fn create_network_policy(
        &self,
        policy: &NetworkPolicy,
    ) -> Result<NetworkPolicy, kube::Error> {
        let params = PostParams::default();
        self.call(true, || self.network_policies.create(&params, policy))
            .await
    }

    /// Deletes the NetworkPolicy `name`. A policy already gone is fine.
    pub async fn delete_network_policy(&self, name: &str) -> Result<(), kube::Error> {
        let params = DeleteParams::default();
        match self
            .call(true, || self.network_policies.delete(name, &params))
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every Job of this runner (any replica) in the namespace.
    pub async fn list_jobs(&self) -> Result<Vec<Job>, kube::Error> {
        let params = ListParams::default().labels(SELECTOR);
        Ok(self.call(false, || self.jobs.list(&params)).await?.items)
    }

    /// The end of the worker container's log in `pod`: at most `max_bytes`, cut at the front.
    /// The API has no "last N bytes", so this asks for the last lines within a bounded size and
    /// keeps their end.
    pub async fn log_tail(&self, pod: &str, container: &str, max_bytes: usize) -> String {
        let params = LogParams {
            container: Some(container.to_string()),
            tail_lines: Some(2000),
            // Lines are rarely longer than this on average; the size stays bounded whatever.
            limit_bytes: Some(i64::try_from(max_bytes.saturating_mul(16)).unwrap_or(i64::MAX)),
            ..LogParams::default()
        };
        match self.call(false, || self.pods.logs(pod, &params)).await {
            Ok(text) => tail(&text, max_bytes).to_string(),
            Err(e) => format!("(the log of pod {pod} could not be read: {e})"),
        }
    }

    /// The message of the latest `FailedMount` event of `pod`, if any.
    pub async fn failed_mount(&self, pod: &str) -> Result<Option<String>, kube::Error> {
        // The kubelet aggregates repeats into one event with a count: a few suffice.
        let params = ListParams::default()
            .fields(&format!(
                "involvedObject.kind=Pod,involvedObject.name={pod},reason=FailedMount"
            ))
            .limit(20);
        let events = self.call(false, || self.events.list(&params)).await?;
        Ok(events
            .items
            .into_iter()
            .filter_map(|e| e.message)
            .next_back())
    }
}

/// The last `max` bytes of `text`, starting on a character boundary.
fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// A client-side rate limit: `qps` requests per second on average, [`BURST`] at once (the
/// generic cell rate algorithm: one "theoretical arrival time" advanced per request).
struct RateLimit {
    interval: Duration,
    tat: Mutex<Option<Instant>>,
}

impl RateLimit {
    fn new(qps: u32) -> Self {
        Self {
            interval: Duration::from_secs(1) / qps.max(1),
            tat: Mutex::new(None),
        }
    }

    /// Waits until the next request may go out.
    async fn wait(&self) {
        let now = Instant::now();
        let allowed_at = {
            let mut tat = self.tat.lock().unwrap_or_else(|p| p.into_inner());
            let next = tat.map_or(now, |t| t.max(now)) + self.interval;
            *tat = Some(next);
            next.checked_sub(self.interval * BURST).unwrap_or(now)
        };
        if allowed_at > now {
            tokio::time::sleep_until(allowed_at).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_cuts_on_a_character_boundary() {
        assert_eq!(tail("abcdef", 3), "def");
        assert_eq!(tail("ab", 3), "ab");
        assert_eq!(tail("aé€", 3), "€");
        assert_eq!(tail("aé€", 4), "€");
        assert_eq!(tail("aé€", 5), "é€");
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_limit_lets_a_burst_through_then_spaces_requests() {
        let limit = RateLimit::new(10);
        let start = Instant::now();
        for _ in 0..BURST {
            limit.wait().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        for _ in 0..5 {
            limit.wait().await;
        }
        assert_eq!(start.elapsed(), Duration::from_millis(500));
    }
}
