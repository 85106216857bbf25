//! The Prometheus metrics of the service (prometheus-client), under the names the Grafana
//! dashboard uses. Counters are registered without `_total`: the OpenMetrics encoder adds it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::backend::BackendKind;

/// The content type of `/metrics`.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `cortex_runner_jobs_total` labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    /// The worker.
    pub worker: String,
    /// `wasm`, `kubernetes` or `none` (refused).
    pub backend: String,
    /// `success` or `failure`.
    pub outcome: String,
}

/// Labels of per-backend metrics.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BackendLabels {
    /// `wasm`, `kubernetes` or `none`.
    pub backend: String,
}

/// `cortex_runner_http_requests_total` labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// The route's pattern (`/v1/jobs/{id}`), or `unmatched`.
    pub route: String,
    /// The status code.
    pub status: u16,
}

type HistogramFamily = Family<BackendLabels, Histogram, fn() -> Histogram>;

/// Every metric of the service.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    jobs: Family<JobLabels, Counter>,
    duration: HistogramFamily,
    queue_depth: Gauge,
    in_flight: Gauge,
    cache_hits: Counter,
    compile_seconds: Histogram,
    http: Family<HttpLabels, Counter>,
    kube_errors: Counter,
    watch_restarts: Counter,
    /// The Kubernetes counters' values at the last scrape, to add only what is new.
    kube_seen: Mutex<(u64, u64)>,
    cache_seen: AtomicU64,
}

/// The label value of a backend (or of none: the job was refused).
pub fn backend_label(backend: Option<BackendKind>) -> String {
    backend.map_or_else(|| "none".to_string(), |b| b.to_string())
}

impl Metrics {
    /// The metrics, registered and at zero.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let jobs = Family::<JobLabels, Counter>::default();
        registry.register(
            "cortex_runner_jobs",
            "Jobs finished, by worker, backend and outcome",
            jobs.clone(),
        );
        // 10 ms to about 3 hours, doubling.
        let duration: HistogramFamily =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.01, 2.0, 21)));
        registry.register(
            "cortex_runner_job_duration_seconds",
            "Time from submission to the final report, by backend",
            duration.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "cortex_runner_queue_depth",
            "Jobs waiting for a slot",
            queue_depth.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "cortex_runner_jobs_in_flight",
            "Jobs submitted and not yet finalised",
            in_flight.clone(),
        );
        let cache_hits = Counter::default();
        registry.register(
            "cortex_runner_module_cache_hits",
            "Wasm module loads answered from the in-memory or on-disk cache",
            cache_hits.clone(),
        );
        // 1 ms to about 65 s, doubling.
        let compile_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 17));
        registry.register(
            "cortex_runner_module_compile_seconds",
            "Time to ready a worker's wasm module (compile, or load precompiled)",
            compile_seconds.clone(),
        );
        let http = Family::<HttpLabels, Counter>::default();
        registry.register(
            "cortex_runner_http_requests",
            "HTTP requests, by route and status",
            http.clone(),
        );
        let kube_errors = Counter::default();
        registry.register(
            "cortex_runner_kubernetes_api_errors",
            "Kubernetes API requests that failed after their retries",
            kube_errors.clone(),
        );
        let watch_restarts = Counter::default();
        registry.register(
            "cortex_runner_kubernetes_watch_restarts",
            "Restarts of the Kubernetes watches",
            watch_restarts.clone(),
        );
        Self {
            registry,
            jobs,
            duration,
            queue_depth,
            in_flight,
            cache_hits,
            compile_seconds,
            http,
            kube_errors,
            watch_restarts,
            kube_seen: Mutex::new((0, 0)),
            cache_seen: AtomicU64::new(0),
        }
    }

    /// Counts a finished job.
    pub fn job_finished(
        &self,
        worker: &str,
        backend: Option<BackendKind>,
        success: bool,
        elapsed: std::time::Duration,
    ) {
        let backend = backend_label(backend);
        let outcome = if success { "success" } else { "failure" };
        self.jobs
            .get_or_create(&JobLabels {
                worker: worker.to_string(),
                backend: backend.clone(),
                outcome: outcome.to_string(),
            })
            .inc();
        self.duration
            .get_or_create(&BackendLabels { backend })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts an HTTP request.
    pub fn request(&self, route: &str, status: u16) {
        self.http
            .get_or_create(&HttpLabels {
                route: route.to_string(),
                status,
            })
            .inc();
    }

    /// Records the time one module took to ready.
    pub fn module_readied(&self, took: std::time::Duration) {
        self.compile_seconds.observe(took.as_secs_f64());
    }

    /// Brings the module cache's hit counter up to `total` (the sandbox's own count).
    pub fn set_cache_hits(&self, total: u64) {
        let seen = self.cache_seen.swap(total, Ordering::Relaxed);
        self.cache_hits.inc_by(total.saturating_sub(seen));
    }

    /// The metrics in the OpenMetrics text format, with the gauges and the Kubernetes
    /// counters brought up to date first.
    pub fn encode(
        &self,
        queued: usize,
        in_flight: usize,
        kubernetes: Option<(u64, u64)>,
    ) -> Result<String, std::fmt::Error> {
        self.queue_depth
            .set(i64::try_from(queued).unwrap_or(i64::MAX));
        self.in_flight
            .set(i64::try_from(in_flight).unwrap_or(i64::MAX));
        if let Some((errors, restarts)) = kubernetes {
            let mut seen = self
                .kube_seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            self.kube_errors.inc_by(errors.saturating_sub(seen.0));
            self.watch_restarts.inc_by(restarts.saturating_sub(seen.1));
            *seen = (errors.max(seen.0), restarts.max(seen.1));
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
