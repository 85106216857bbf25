//! `Status` objects as the real API server returns them for failed requests.
//!
//! Reasons, codes and message texts follow `k8s.io/apimachinery/pkg/api/errors` (`NewNotFound`,
//! `NewAlreadyExists`, `NewConflict`, `NewInvalid`, `NewBadRequest`, `NewResourceExpired`,
//! `NewTooManyRequests`, `NewInternalError`, `NewMethodNotSupported`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    ListMeta, Status, StatusCause, StatusDetails,
};

use crate::store::Res;

/// A failed request: the HTTP code and the `Status` body the real API server sends for it.
#[derive(Clone, Debug)]
pub struct ApiError {
    /// The `Status` object (its `code` equals the HTTP status).
    pub status: Box<Status>,
    /// Seconds for a `Retry-After` header (429 only).
    pub retry_after: Option<u32>,
}

impl ApiError {
    fn new(code: u16, reason: &str, message: String, details: Option<StatusDetails>) -> Self {
        ApiError {
            status: Box::new(Status {
                code: Some(i32::from(code)),
                details,
                message: Some(message),
                metadata: ListMeta::default(),
                reason: Some(reason.to_owned()),
                status: Some("Failure".to_owned()),
            }),
            retry_after: None,
        }
    }

    /// The HTTP code of this error.
    pub fn code(&self) -> u16 {
        self.status
            .code
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(500)
    }

    /// `jobs.batch "x" not found`, 404.
    pub fn not_found(res: Res, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", res.qualified()),
            Some(details(res, name)),
        )
    }

    /// `jobs.batch "x" already exists`, 409.
    pub fn already_exists(res: Res, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", res.qualified()),
            Some(details(res, name)),
        )
    }

    /// `Operation cannot be fulfilled on jobs.batch "x": <why>`, 409.
    pub fn conflict(res: Res, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                res.qualified()
            ),
            Some(details(res, name)),
        )
    }

    /// `Job.batch "x" is invalid: <field>: <detail>`, 422, one cause per field error.
    pub fn invalid(res: Res, name: &str, causes: Vec<FieldError>) -> Self {
        let texts: Vec<String> = causes.iter().map(FieldError::text).collect();
        let joined = if texts.len() == 1 {
            texts[0].clone()
        } else {
            format!("[{}]", texts.join(", "))
        };
        let kind = if res.group().is_empty() {
            res.kind().to_owned()
        } else {
            format!("{}.{}", res.kind(), res.group())
        };
        let mut d = details(res, name);
        d.kind = Some(res.kind().to_owned());
        d.causes = Some(
            causes
                .into_iter()
                .map(|c| StatusCause {
                    field: Some(c.field.clone()),
                    message: Some(c.detail_text()),
                    reason: Some(c.kind.reason().to_owned()),
                })
                .collect(),
        );
        Self::new(
            422,
            "Invalid",
            format!("{kind} \"{name}\" is invalid: {joined}"),
            Some(d),
        )
    }

    /// A malformed request, 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message.into(), None)
    }

    /// A watch or continue token too old for the event history, 410 `Expired`.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message.into(), None)
    }

    /// A throttled request, 429 with `Retry-After`.
    pub fn too_many_requests(retry_after: u32) -> Self {
        let mut e = Self::new(
            429,
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later"
                .to_owned(),
            Some(StatusDetails {
                retry_after_seconds: Some(retry_after as i32),
                ..StatusDetails::default()
            }),
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// An internal error, 500.
    pub fn internal(message: &str) -> Self {
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {message}"),
            Some(StatusDetails {
                causes: Some(vec![StatusCause {
                    message: Some(message.to_owned()),
                    ..StatusCause::default()
                }]),
                ..StatusDetails::default()
            }),
        )
    }

    /// The same Status with another code and reason.
    pub fn with_code(mut self, code: u16, reason: &str) -> Self {
        self.status.code = Some(i32::from(code));
        self.status.reason = Some(reason.to_owned());
        self
    }

    /// A path that names no resource, 404 (the real server's text).
    pub fn no_route() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource".to_owned(),
            Some(StatusDetails::default()),
        )
    }
}

fn details(res: Res, name: &str) -> StatusDetails {
    StatusDetails {
        name: Some(name.to_owned()),
        group: (!res.group().is_empty()).then(|| res.group().to_owned()),
        kind: Some(res.plural().to_owned()),
        ..StatusDetails::default()
    }
}

/// The kind of a field validation error (`field.ErrorType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldErrorKind {
    /// `Required value`.
    Required,
    /// `Invalid value`.
    Invalid,
    /// `Unsupported value`.
    NotSupported,
}

impl FieldErrorKind {
    fn reason(self) -> &'static str {
        match self {
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Invalid => "FieldValueInvalid",
            FieldErrorKind::NotSupported => "FieldValueNotSupported",
        }
    }
}

/// One field error of an `Invalid` response.
#[derive(Clone, Debug)]
pub struct FieldError {
    /// The error type.
    pub kind: FieldErrorKind,
    /// The field path, e.g. `spec.template.spec.restartPolicy`.
    pub field: String,
    /// The offending value, quoted in the message (not for `Required`).
    pub value: Option<String>,
    /// The explanation after the type.
    pub detail: String,
}

impl FieldError {
    fn detail_text(&self) -> String {
        let head = match self.kind {
            FieldErrorKind::Required => "Required value".to_owned(),
            FieldErrorKind::Invalid => {
                format!("Invalid value: \"{}\"", self.value.as_deref().unwrap_or(""))
            }
            FieldErrorKind::NotSupported => {
                format!(
                    "Unsupported value: \"{}\"",
                    self.value.as_deref().unwrap_or("")
                )
            }
        };
        if self.detail.is_empty() {
            head
        } else {
            format!("{head}: {}", self.detail)
        }
    }

    fn text(&self) -> String {
        format!("{}: {}", self.field, self.detail_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (code, crate::routes::json_body(&self.status)).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}
