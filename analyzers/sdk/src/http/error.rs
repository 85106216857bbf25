//! Why a request failed.

/// The result type of the HTTP client.
pub type Result<T, E = HttpError> = std::result::Result<T, E>;

/// Why a request failed. A response with a 4xx or 5xx status is not an error.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL is not an absolute `http://` or `https://` URL with a host.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given (or as a redirect made it).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header name or value cannot be sent.
    #[error("invalid header {name:?}: {reason}")]
    InvalidHeader {
        /// The header's name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A configured proxy is not a URL the client can use.
    #[error("invalid proxy {proxy:?}: {reason}")]
    InvalidProxy {
        /// The proxy as configured.
        proxy: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The job's CA bundle cannot be read or holds no certificate.
    #[error("cannot use the CA bundle {source_name}: {reason}")]
    CaBundle {
        /// Where the bundle came from (`config.cacerts` or a file path).
        source_name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The request did not complete within its time limit.
    #[error("request to {url} timed out after {} s", timeout.as_secs_f64())]
    Timeout {
        /// The URL of the hop that timed out.
        url: String,
        /// The limit.
        timeout: std::time::Duration,
    },
    /// The connection, TLS or the HTTP exchange failed (the transport's own message).
    #[error("request to {url} failed: {reason}")]
    Transport {
        /// The URL of the hop that failed.
        url: String,
        /// The transport's message.
        reason: String,
    },
    /// The sandbox's network policy refused the request (wasi-http's `HttpRequestDenied`).
    #[error(
        "the runner's network policy denied the request to {host} (wasi-http HttpRequestDenied)"
    )]
    Denied {
        /// The host the request was for.
        host: String,
    },
    /// The sandbox's wasi-http implementation failed the request with this error code.
    #[error("request to {url} failed: wasi-http error {code}")]
    Wasi {
        /// The URL of the hop that failed.
        url: String,
        /// The wasi-http `error-code`, as its name and payload.
        code: String,
    },
    /// The response body is longer than the client reads.
    #[error("the response body from {url} is larger than {limit} bytes")]
    BodyTooLarge {
        /// The URL of the hop.
        url: String,
        /// The client's [`crate::http::ClientOptions::max_body_bytes`].
        limit: usize,
    },
    /// The redirect chain is longer than [`crate::http::MAX_REDIRECTS`] (`requests`' message).
    #[error("Exceeded {0} redirects.")]
    TooManyRedirects(usize),
    /// The response body is not JSON.
    #[error("the response body is not JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// The client was built for `wasm32-wasip1`, which has no network interface.
    #[error("HTTP is not available on wasm32-wasip1: build for wasm32-wasip2")]
    Unavailable,
}

impl From<HttpError> for crate::Error {
    fn from(error: HttpError) -> Self {
        crate::Error::Message(error.to_string())
    }
}
