//! The client of the runner service's HTTP API (`cortex-runner serve`), as `submit` and
//! `catalog export` use it from Cortex's side: the bearer token, bounded retries with exponential
//! backoff and jitter on transport errors, `429` and `5xx` (`POST /v1/jobs` is idempotent, so a
//! retry is safe), and the API's JSON shapes.
//!
//! Nothing here writes the token anywhere: [`Token`] prints as `<redacted>` and the header
//! carrying it is marked sensitive.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
mod api;

use api::ApiError;
pub use api::{JobState, JobStatus, Submitted, WorkerInfo};

/// The largest answer body read, in bytes: the worker table with its definitions is the biggest.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// How long one request may take before it counts as a transport error and is retried.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How much longer than the long-poll itself a `wait` request may take.
const WAIT_MARGIN: Duration = Duration::from_secs(15);
/// The longest long-poll the service accepts (the contract's maximum is 300 s).
pub const MAX_WAIT: Duration = Duration::from_secs(300);
/// The largest token file read: a token is a short line.
const MAX_TOKEN_BYTES: u64 = 64 * 1024;

/// Errors of the service client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The service URL cannot be used.
    #[error("invalid service URL {url:?}: {reason}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong and what was expected.
        reason: String,
    },
    /// The token file cannot be read.
    #[error("cannot read the token file {}: {source}", path.display())]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The token file holds no usable token (its content is never quoted).
    #[error("the token file {} {reason}", path.display())]
    TokenInvalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// TLS cannot be set up for an `https` URL.
    #[error("TLS setup for {url}: {source}")]
    Tls {
        /// The service URL.
        url: String,
        /// Why.
        source: std::io::Error,
    },
    /// No answer after every attempt (connection refused, reset, timed out, ...).
    #[error("{method} {url}: no answer after {attempts} attempts: {cause}")]
    Unreachable {
        /// The request method.
        method: Method,
        /// The request URL.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last attempt's error, with its causes.
        cause: String,
    },
    /// The service answered with an error status (for `429` and `5xx`, after every attempt).
    #[error("{method} {url}: {status}{}: {error}: {detail}", retried(*attempts))]
    Status {
        /// The request method.
        method: Method,
        /// The request URL.
        url: String,
        /// The status code.
        status: StatusCode,
        /// The answer's `error`.
        error: String,
        /// The answer's `detail`.
        detail: String,
        /// The answer's `id` (a `409` names the job that holds the folder).
        id: Option<String>,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The answer is not what the API promises.
    #[error("{method} {url}: unexpected answer ({status}): {reason}")]
    Answer {
        /// The request method.
        method: Method,
        /// The request URL.
        url: String,
        /// The status code.
        status: StatusCode,
        /// What is wrong.
        reason: String,
    },
}

fn retried(attempts: u32) -> String {
    if attempts > 1 {
        format!(" after {attempts} attempts")
    } else {
        String::new()
    }
}

/// The result type of this module.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// The service's bearer token. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Token(HeaderValue);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// Reads the token from `path`: its content without surrounding whitespace (a trailing
    /// newline is usual), which must be non-empty visible ASCII.
    pub fn from_file(path: &Path) -> Result<Token> {
        use std::io::Read as _;
        let file = std::fs::File::open(path).map_err(|source| ClientError::TokenFile {
            path: path.to_owned(),
            source,
        })?;
        let mut bytes = Vec::new();
        file.take(MAX_TOKEN_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| ClientError::TokenFile {
                path: path.to_owned(),
                source,
            })?;
        let invalid = |reason| ClientError::TokenInvalid {
            path: path.to_owned(),
            reason,
        };
        if bytes.len() as u64 > MAX_TOKEN_BYTES {
            return Err(invalid("is larger than 64 KiB"));
        }
        let text = bytes.trim_ascii();
        if text.is_empty() {
            return Err(invalid("is empty"));
        }
        if !text.iter().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(
                "holds characters other than visible ASCII (expected one token on one line)",
            ));
        }
        let mut value = HeaderValue::from_bytes(&[b"Bearer ", text].concat())
            .map_err(|_| invalid("holds characters an HTTP header cannot carry"))?;
        value.set_sensitive(true);
        Ok(Token(value))
    }
}

/// Retries of one request: `attempts` in all; the first retry after about `first_backoff`,
/// each next one after twice as long, at most `max_backoff`, each delay with jitter (between
/// half and all of it) so that many clients that lost the service together do not come back
/// together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts per request, the first one included (at least 1).
    pub attempts: u32,
    /// The delay before the first retry.
    pub first_backoff: Duration,
    /// The longest delay between two attempts (`Retry-After` included).
    pub max_backoff: Duration,
}

impl Default for Retry {
    /// 6 attempts, 250 ms then doubling, at most 8 s apart: about 15 s of trying in all.
    fn default() -> Self {
        Self {
            attempts: 6,
            first_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
        }
    }
}

impl Retry {
    /// The delay before retry number `retry` (1 for the first retry), with jitter, at least
    /// `at_least` (a `Retry-After`), never more than `max_backoff`.
    fn delay(&self, retry: u32, at_least: Duration) -> Duration {
        let doubled = self
            .first_backoff
            .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)));
        let full = doubled.min(self.max_backoff);
        let half = full / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        let jitter = Duration::from_millis(rand::random_range(0..=jitter_ms));
        (half + jitter).max(at_least).min(self.max_backoff)
    }
}

/// The two transports: plain HTTP, or HTTPS with the system's roots (built only for an `https`
/// URL, so that a machine without a CA bundle still reaches a service on `http`).
#[derive(Debug, Clone)]
enum Transport {
    Http(Client<HttpConnector, Full<Bytes>>),
    Https(Client<HttpsConnector<HttpConnector>, Full<Bytes>>),
}

/// A client of one service.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    /// The URL without a trailing `/`, e.g. `http://127.0.0.1:9980` or `https://host/runner`.
    base: String,
    token: Option<Token>,
    retry: Retry,
    transport: Transport,
}

impl ServiceClient {
    /// A client of the service at `server` (`http://` or `https://`, host, optional port and
    /// path prefix; no user name or password in it: use the token).
    pub fn new(server: &str, token: Option<Token>, retry: Retry) -> Result<Self> {
        let bad = |reason: &str| ClientError::Url {
            url: server.to_string(),
            reason: reason.to_string(),
        };
        let uri: Uri = server
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| bad(&e.to_string()))?;
        let authority = uri
            .authority()
            .ok_or_else(|| bad("expected http://HOST[:PORT] or https://HOST[:PORT]"))?;
        if authority.as_str().contains('@') {
            return Err(bad(
                "a user name or password in the URL is not accepted (use --token-file)",
            ));
        }
        if uri.query().is_some() {
            return Err(bad("expected no query string"));
        }
        let base = server.trim_end_matches('/').to_string();
        let transport = match uri.scheme_str() {
            Some("http") => Transport::Http(Client::builder(TokioExecutor::new()).build_http()),
            Some("https") => {
                let https = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_native_roots()
                    .map_err(|source| ClientError::Tls {
                        url: base.clone(),
                        source,
                    })?
                    .https_only()
                    .enable_http1()
                    .build();
                Transport::Https(Client::builder(TokioExecutor::new()).build(https))
            }
            _ => return Err(bad("expected the scheme http or https")),
        };
        Ok(Self {
            base,
            token,
            retry: Retry {
                attempts: retry.attempts.max(1),
                ..retry
            },
            transport,
        })
    }

    /// The service URL, as given without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `POST /v1/jobs`: submits the job folder `folder` (absolute, inside the service's job
    /// root, or relative to it) for `worker`.
    pub async fn submit(&self, worker: &str, folder: &str) -> Result<Submitted> {
        let body = serde_json::json!({"worker": worker, "job_folder": folder});
        let url = format!("{}/v1/jobs", self.base);
        let (status, bytes) = self
            .send(Method::POST, &url, Some(body), REQUEST_TIMEOUT)
            .await?;
        match status {
            StatusCode::ACCEPTED => Ok(Submitted::New(parse(&Method::POST, &url, status, &bytes)?)),
            StatusCode::OK => Ok(Submitted::Existing(parse(
                &Method::POST,
                &url,
                status,
                &bytes,
            )?)),
            StatusCode::CONFLICT => {
                let error = api_error(&bytes);
                match error.id {
                    Some(id) => Ok(Submitted::Taken { id }),
                    None => Err(ClientError::Answer {
                        method: Method::POST,
                        url,
                        status,
                        reason: format!(
                            "a 409 without the `id` of the job holding the folder ({}: {})",
                            error.error, error.detail
                        ),
                    }),
                }
            }
            _ => Err(status_error(Method::POST, url, status, &bytes, 1)),
        }
    }

    /// `GET /v1/jobs/{id}/wait?timeout=Ns`: the job once done, or as it is after `timeout`
    /// (at most [`MAX_WAIT`]).
    pub async fn wait(&self, id: &str, timeout: Duration) -> Result<JobStatus> {
        let secs = timeout.min(MAX_WAIT).as_secs().max(1);
        let url = format!("{}/v1/jobs/{}/wait?timeout={secs}s", self.base, job_id(id)?);
        let per_attempt = Duration::from_secs(secs) + WAIT_MARGIN;
        self.get_json(Method::GET, &url, per_attempt).await
    }

    /// `GET /v1/jobs/{id}`.
    pub async fn job(&self, id: &str) -> Result<JobStatus> {
        let url = format!("{}/v1/jobs/{}", self.base, job_id(id)?);
        self.get_json(Method::GET, &url, REQUEST_TIMEOUT).await
    }

    /// `DELETE /v1/jobs/{id}`: cancels the job, which still ends with its failure report.
    pub async fn cancel(&self, id: &str) -> Result<JobStatus> {
        let url = format!("{}/v1/jobs/{}", self.base, job_id(id)?);
        self.get_json(Method::DELETE, &url, REQUEST_TIMEOUT).await
    }

    /// `GET /v1/workers`.
    pub async fn workers(&self) -> Result<Vec<WorkerInfo>> {
        let url = format!("{}/v1/workers", self.base);
        self.get_json(Method::GET, &url, REQUEST_TIMEOUT).await
    }

    /// Sends a request without a body and parses a `2xx` answer as `T`.
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        timeout: Duration,
    ) -> Result<T> {
        let (status, bytes) = self.send(method.clone(), url, None, timeout).await?;
        if status.is_success() {
            parse(&method, url, status, &bytes)
        } else {
            Err(status_error(method, url.to_string(), status, &bytes, 1))
        }
    }

    /// Sends one request with the retries; answers other than `429` and `5xx` are returned as
    /// they are, and so is the last `429`/`5xx` when every attempt got one.
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<serde_json::Value>,
        timeout: Duration,
    ) -> Result<(StatusCode, Bytes)> {
        let body = body.map(|b| Bytes::from(b.to_string()));
        let mut attempt = 1;
        loop {
            let outcome = tokio::time::timeout(timeout, self.once(&method, url, body.clone()))
                .await
                .unwrap_or_else(|_| {
                    Err(format!(
                        "no answer within {} s",
                        timeout.as_secs_f64().round()
                    ))
                });
            let at_least = match &outcome {
                Ok((status, _, retry_after))
                    if *status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() =>
                {
                    *retry_after
                }
                Ok((status, bytes, _)) => return Ok((*status, bytes.clone())),
                Err(_) => Duration::ZERO,
            };
            if attempt >= self.retry.attempts {
                return match outcome {
                    Ok((status, bytes, _)) => Err(status_error(
                        method,
                        url.to_string(),
                        status,
                        &bytes,
                        attempt,
                    )),
                    Err(cause) => Err(ClientError::Unreachable {
                        method,
                        url: url.to_string(),
                        attempts: attempt,
                        cause,
                    }),
                };
            }
            let delay = self.retry.delay(attempt, at_least);
            match &outcome {
                Ok((status, _, _)) => {
                    tracing::debug!(attempt, ?delay, %method, url, %status, "retrying")
                }
                Err(cause) => tracing::debug!(attempt, ?delay, %method, url, cause, "retrying"),
            }
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// One attempt: the status, the body (at most [`MAX_BODY_BYTES`]) and `Retry-After`; a
    /// transport error as its cause chain.
    async fn once(
        &self,
        method: &Method,
        url: &str,
        body: Option<Bytes>,
    ) -> std::result::Result<(StatusCode, Bytes, Duration), String> {
        let mut request = Request::builder().method(method.clone()).uri(url);
        if let Some(token) = &self.token {
            request = request.header(AUTHORIZATION, token.0.clone());
        }
        if body.is_some() {
            request = request.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let request = request
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| cause_chain(&e))?;
        let response = match &self.transport {
            Transport::Http(client) => client.request(request).await,
            Transport::Https(client) => client.request(request).await,
        }
        .map_err(|e| cause_chain(&e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(Duration::ZERO, Duration::from_secs);
        let bytes = Limited::new(response.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        Ok((status, bytes, retry_after))
    }
}

/// A job id from the service, checked before it goes into a URL path: the contract's ids are
/// RFC 1123 labels.
fn job_id(id: &str) -> Result<&str> {
    if !id.is_empty()
        && id.len() <= 253
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        Ok(id)
    } else {
        Err(ClientError::Url {
            url: id.to_string(),
            reason: "a job id must be letters, digits, `-` and `.` (an RFC 1123 name)".into(),
        })
    }
}

fn parse<T: serde::de::DeserializeOwned>(
    method: &Method,
    url: &str,
    status: StatusCode,
    bytes: &[u8],
) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| ClientError::Answer {
        method: method.clone(),
        url: url.to_string(),
        status,
        reason: format!("not the JSON the API promises: {e}"),
    })
}

fn api_error(bytes: &[u8]) -> ApiError {
    serde_json::from_slice(bytes).unwrap_or_else(|_| ApiError {
        error: String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).into_owned(),
        ..ApiError::default()
    })
}

fn status_error(
    method: Method,
    url: String,
    status: StatusCode,
    bytes: &[u8],
    attempts: u32,
) -> ClientError {
    let ApiError { error, detail, id } = api_error(bytes);
    ClientError::Status {
        method,
        url,
        status,
        error,
        detail,
        id,
        attempts,
    }
}

/// An error and its sources on one line, "outer: inner: root", leaving out a source whose text
/// the line already holds.
fn cause_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_with_jitter_and_stay_bounded() {
        let retry = Retry {
            attempts: 10,
            first_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(1),
        };
        for _ in 0..100 {
            let first = retry.delay(1, Duration::ZERO);
            assert!((Duration::from_millis(100)..=Duration::from_millis(200)).contains(&first));
            let second = retry.delay(2, Duration::ZERO);
            assert!((Duration::from_millis(200)..=Duration::from_millis(400)).contains(&second));
            let late = retry.delay(30, Duration::ZERO);
            assert!((Duration::from_millis(500)..=Duration::from_secs(1)).contains(&late));
            // Retry-After raises the delay, but never past the cap.
            assert_eq!(
                retry.delay(1, Duration::from_secs(60)),
                Duration::from_secs(1)
            );
        }
    }

    #[test]
    fn urls_with_credentials_queries_or_other_schemes_are_refused() {
        let refuse = |url: &str| match ServiceClient::new(url, None, Retry::default()) {
            Err(ClientError::Url { reason, .. }) => reason,
            other => panic!("{url}: {other:?}"),
        };
        assert_eq!(
            refuse("http://user:pw@host:1"),
            "a user name or password in the URL is not accepted (use --token-file)"
        );
        assert_eq!(refuse("http://host:1/?a=b"), "expected no query string");
        assert_eq!(refuse("ftp://host:1"), "expected the scheme http or https");
        assert_eq!(
            refuse("/v1"),
            "expected http://HOST[:PORT] or https://HOST[:PORT]"
        );
        let client = ServiceClient::new("http://host:1/runner/", None, Retry::default()).unwrap();
        assert_eq!(client.base(), "http://host:1/runner");
    }

    #[test]
    fn token_files_are_checked_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cret-token\n").unwrap();
        let token = Token::from_file(&path).unwrap();
        assert_eq!(format!("{token:?}"), "Token(<redacted>)");
        assert!(token.0.is_sensitive());
        assert_eq!(token.0.as_bytes(), b"Bearer s3cret-token");
        std::fs::write(&path, "two words\n").unwrap();
        let error = Token::from_file(&path).unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "the token file {} holds characters other than visible ASCII (expected one \
                 token on one line)",
                path.display()
            )
        );
        std::fs::write(&path, " \n").unwrap();
        assert_eq!(
            Token::from_file(&path).unwrap_err().to_string(),
            format!("the token file {} is empty", path.display())
        );
    }

    #[test]
    fn job_ids_cannot_change_the_path() {
        assert!(job_id("cortex-job-1-abc").is_ok());
        assert!(job_id("../workers").is_err());
        assert!(job_id("a/b").is_err());
        assert!(job_id("a?b").is_err());
        assert!(job_id("").is_err());
    }
}
