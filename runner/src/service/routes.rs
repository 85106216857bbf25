//! The routes of the API and the layers around them: the bearer token on `/v1/*`, the body
//! limit, the request timeout (all but `/wait`, which has its own), request counting, and the
//! one error shape.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use super::jobs::{Snapshot, SubmitRequest, Submitted};
use super::registry::Origin;
use super::{ApiError, App, auth, error, jobs, wait};
use crate::backend::Route;
use crate::scheduler::JobFacts;

/// The reason a job is cancelled with through `DELETE /v1/jobs/{id}`.
pub const DELETE_REASON: &str = "deleted through the API";

/// The whole API over `app`.
pub fn router(app: Arc<App>) -> Router {
    let timeout =
        TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, app.options.request_timeout);
    let require_token = middleware::from_fn_with_state(app.clone(), auth::require_token);
    let v1 = Router::new()
        .route("/v1/jobs", axum::routing::post(post_job))
        .route("/v1/jobs/{id}", get(get_job).delete(delete_job))
        .route("/v1/workers", get(workers))
        .route_layer(require_token.clone())
        .layer(timeout);
    // The long poll is bounded by its own timeout (at most 300 s), not the request timeout.
    let v1_wait = Router::new()
        .route("/v1/jobs/{id}/wait", get(wait_job))
        .route_layer(require_token);
    let open = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(timeout);
    Router::new()
        .merge(v1)
        .merge(v1_wait)
        .merge(open)
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(middleware::from_fn_with_state(app.clone(), count_requests))
        .layer(RequestBodyLimitLayer::new(app.options.max_body_bytes))
        .layer(DefaultBodyLimit::disable())
        // Outermost, so that the body limit's own 413 gets the error shape too.
        .layer(middleware::map_response_with_state(
            app.clone(),
            error::json_errors,
        ))
        .with_state(app)
}

/// Counts each request by its route's pattern and its status.
async fn count_requests(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await;
    app.metrics.request(&route, response.status().as_u16());
    response
}

async fn post_job(State(app): State<Arc<App>>, body: Bytes) -> Result<Response, ApiError> {
    let request: SubmitRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "bad request body",
            format!("{e}; expected {{\"worker\": NAME, \"job_folder\": PATH}}"),
        )
    })?;
    let (status, entry) = match jobs::submit(&app, request).await? {
        Submitted::New(entry) => (StatusCode::ACCEPTED, entry),
        Submitted::Existing(entry) => (StatusCode::OK, entry),
    };
    let snapshot = Snapshot::take(&app, entry).await;
    Ok((status, Json(snapshot.brief())).into_response())
}

async fn snapshot(app: &Arc<App>, id: &str) -> Result<Snapshot, ApiError> {
    let entry = app
        .registry
        .get(id)
        .ok_or_else(|| ApiError::unknown_job(id))?;
    Ok(Snapshot::take(app, entry).await)
}

async fn get_job(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(snapshot(&app, &id).await?.full()))
}

async fn wait_job(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let timeout = wait::parse_timeout(query.get("timeout").map(String::as_str))?;
    let entry = app
        .registry
        .get(&id)
        .ok_or_else(|| ApiError::unknown_job(&id))?;
    wait::until_done(&app, &entry, timeout).await;
    Ok(Json(Snapshot::take(&app, entry).await.full()))
}

async fn delete_job(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let entry = app
        .registry
        .get(&id)
        .ok_or_else(|| ApiError::unknown_job(&id))?;
    match &entry.origin {
        Origin::Local { canceller, .. } => {
            // A job that has ended keeps its report; the first reason wins.
            canceller.cancel(DELETE_REASON);
            tracing::info!(job = %entry.id, worker = %super::jobs::printable(&entry.worker), "cancel requested through the API");
        }
        Origin::Foreign { .. } => {
            let mut error = ApiError::new(
                StatusCode::CONFLICT,
                "job folder taken",
                format!("{}; DELETE the job on that replica", entry.decision.1),
            );
            error.id = Some(entry.id.clone());
            return Err(error);
        }
    }
    let snapshot = Snapshot::take(&app, entry).await;
    Ok((StatusCode::ACCEPTED, Json(snapshot.full())).into_response())
}

/// Every worker with the decision a typical job would get now (TLP and PAP 0, a small input).
async fn workers(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    let facts = JobFacts {
        data_type: String::new(),
        input_bytes: 0,
        tlp: 0,
        pap: 0,
    };
    let rows: Vec<_> = app
        .scheduler
        .table()
        .iter()
        .map(|worker| {
            let decision = app.scheduler.explain(&worker.name, &facts).map(|(_, d)| d);
            let (backend, reason) = match decision {
                Some(decision) => match &decision.route {
                    Route::Run { backend } => match app.options.absent.get(backend) {
                        Some(why) => (
                            Some(backend.to_string()),
                            format!("{} (unavailable: {why})", decision.reason),
                        ),
                        None => (Some(backend.to_string()), decision.reason),
                    },
                    Route::Refused { .. } => (None, decision.reason),
                },
                None => (None, "unknown worker".to_string()),
            };
            json!({
                "name": worker.name,
                "kind": worker.kind,
                "version": worker.version,
                "data_types": worker.data_types,
                "backend": backend,
                "reason": reason,
                // The catalog definition (camelCase, as Cortex reads it), for `catalog export`.
                "definition": worker.definition,
            })
        })
        .collect();
    Json(serde_json::Value::Array(rows))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(app): State<Arc<App>>) -> Result<Json<serde_json::Value>, ApiError> {
    match app.readiness() {
        Ok(()) => Ok(Json(json!({"status": "ready"}))),
        Err(why) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready",
            why,
        )),
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    let (queued, in_flight) = app.registry.counts();
    app.metrics
        .set_cache_hits(app.scheduler.module_cache_hits());
    let kubernetes = app.kubernetes.as_ref().map(|k| {
        use std::sync::atomic::Ordering::Relaxed;
        let errors = k.api().map_or(0, |api| api.counters.errors.load(Relaxed));
        let restarts = k.watches().map_or(0, |w| w.counters.restarts.load(Relaxed));
        (errors, restarts)
    });
    let text = app
        .metrics
        .encode(queued, in_flight, kubernetes)
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot encode the metrics",
                e.to_string(),
            )
        })?;
    Ok(([(header::CONTENT_TYPE, super::metrics::CONTENT_TYPE)], text).into_response())
}
