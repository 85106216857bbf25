//! The one error shape of the API: a status and `{"error": ..., "detail": ...}` (plus `id` for a
//! folder another replica claimed), and the layer that gives errors axum or tower produce
//! themselves (413, 408, 404, 405) the same shape.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::App;

/// An API error: its status and the body's sentences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A short sentence.
    pub error: String,
    /// What exactly, which field or value, what was expected.
    pub detail: String,
    /// The job concerned, when there is one to wait for (`409`).
    pub id: Option<String>,
}

impl ApiError {
    /// An error with `status`, `error` and `detail`.
    pub fn new(status: StatusCode, error: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            status,
            error: error.into(),
            detail: detail.into(),
            id: None,
        }
    }

    /// `400`: the request is wrong in the way `detail` says.
    pub fn bad_request(error: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, detail)
    }

    /// `401 unauthorized`.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    /// `404` for a job id this replica does not know.
    pub fn unknown_job(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "no such job",
            format!(
                "no job with id {id:?} on this replica (finished jobs are kept for a while, then forgotten)"
            ),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": self.error, "detail": self.detail});
        if let Some(id) = self.id {
            body["id"] = id.into();
        }
        (self.status, Json(body)).into_response()
    }
}

/// Turns an error response that is not JSON (the body limit's 413, the timeout's 408, axum's
/// 404 and 405 and extractor rejections) into the API's error shape, keeping its status.
pub async fn json_errors(State(app): State<Arc<App>>, response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (error, detail) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            "request body too large",
            format!(
                "the body is larger than {} bytes (service.max_body_kib)",
                app.options.max_body_bytes
            ),
        ),
        StatusCode::REQUEST_TIMEOUT => (
            "request timed out",
            format!(
                "the request took longer than {} s (service.request_timeout_s)",
                app.options.request_timeout.as_secs()
            ),
        ),
        StatusCode::NOT_FOUND => (
            "not found",
            "no such route; the API is under /v1 (jobs, workers), with /healthz, /readyz and /metrics".to_string(),
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method not allowed",
            "this route does not take that method".to_string(),
        ),
        _ => ("request refused", read_text(response).await),
    };
    ApiError::new(status, error, detail).into_response()
}

/// The (bounded) text of a plain-text error response.
async fn read_text(response: Response) -> String {
    let body: Body = response.into_body();
    match axum::body::to_bytes(body, 4096).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => String::new(),
    }
}
