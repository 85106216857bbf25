//! An HTTP client for analyzers with the request semantics of Python's `requests`, one API on
//! every target: natively over `ureq` (rustls, the platform's roots plus the job's CA bundle,
//! cortexutils' proxies), on `wasm32-wasip2` over wasi-http (`wstd`), where the runner does
//! TLS, proxying and the network policy. On `wasm32-wasip1` every request fails with
//! [`HttpError::Unavailable`].
//!
//! ```no_run
//! # fn f(a: &cortex_sdk::Analyzer) -> Result<(), cortex_sdk::http::HttpError> {
//! use cortex_sdk::http::Client;
//! let client = Client::new(a)?;
//! let response = client
//!     .get("https://api.example.com/v1/check")
//!     .query("ip", "1.2.3.4")
//!     .header("Key", "secret")
//!     .send()?;
//! let status = response.status;
//! let report = response.json()?;
//! # let _ = (status, report); Ok(()) }
//! ```
//!
//! Redirects are followed as `requests` follows them (at most [`MAX_REDIRECTS`] hops; 301 turns a
//! POST into a GET, 302 and 303 turn anything but HEAD into a GET, 307 and 308 keep the method
//! and body; `Authorization` is dropped when the host changes). Each hop is a new request, so in
//! the sandbox each one passes the runner's allowlist again. Response bodies are read up to
//! [`ClientOptions::max_body_bytes`] and every request has a time limit.

mod encode;
mod error;
mod redirect;
mod response;

#[cfg(not(target_os = "wasi"))]
mod native;
#[cfg(not(target_os = "wasi"))]
use native as backend;

#[cfg(all(target_os = "wasi", target_env = "p2"))]
mod wasi;
#[cfg(all(target_os = "wasi", target_env = "p2"))]
use wasi as backend;

#[cfg(all(target_os = "wasi", not(target_env = "p2")))]
mod unavailable;
#[cfg(all(target_os = "wasi", not(target_env = "p2")))]
use unavailable as backend;

use std::time::Duration;

pub use encode::{form_urlencode, quote_plus};
pub use error::{HttpError, Result};
pub use response::Response;

use crate::worker::Worker;

/// How many redirects a request follows before it fails, as `requests` (`Session.max_redirects`).
pub const MAX_REDIRECTS: usize = 30;

/// The default bound on a response body: 16 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The default time limit of one request (each redirect hop gets its own): 60 seconds.
/// `requests` has none; a sandboxed job has its own deadline, a native one would otherwise wait
/// forever on a server that stops answering.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The `User-Agent` sent when the request sets none.
pub const DEFAULT_USER_AGENT: &str = concat!("cortex-sdk/", env!("CARGO_PKG_VERSION"));

/// An HTTP method the client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `HEAD`.
    Head,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Head => "HEAD",
        }
    }
}

/// What a [`Client`] is built from. Every field has a default ([`ClientOptions::default`]): no
/// proxy, no extra CA, [`DEFAULT_MAX_BODY_BYTES`], [`DEFAULT_TIMEOUT`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The proxy for `http://` URLs (cortexutils' `config.proxy.http`). Native only: in the
    /// sandbox the runner applies the proxy.
    pub http_proxy: Option<String>,
    /// The proxy for `https://` URLs (`config.proxy.https`). Native only.
    pub https_proxy: Option<String>,
    /// PEM certificates trusted beside the platform's roots (the job's `cacerts`). Native only:
    /// in the sandbox the runner does TLS with the job's bundle.
    pub extra_roots_pem: Option<Vec<u8>>,
    /// The largest response body read; a longer one fails with [`HttpError::BodyTooLarge`].
    pub max_body_bytes: usize,
    /// The time limit of a request that sets none ([`RequestBuilder::timeout`]).
    pub timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            http_proxy: None,
            https_proxy: None,
            extra_roots_pem: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl ClientOptions {
    /// The options cortexutils' environment gives `requests` in this job: `config.proxy.http` and
    /// `config.proxy.https`, and the job's CA bundle: `config.cacerts` (PEM text), else the
    /// file `input/cacerts` Cortex writes, else the file `$REQUESTS_CA_BUNDLE` names.
    pub fn from_worker(worker: &Worker) -> Result<ClientOptions> {
        let mut options = ClientOptions {
            http_proxy: worker.http_proxy().map(str::to_owned),
            https_proxy: worker.https_proxy().map(str::to_owned),
            ..ClientOptions::default()
        };
        if let Some(pem) = worker.get_param_str("config.cacerts")
            && !pem.trim().is_empty()
        {
            options.extra_roots_pem = Some(pem.as_bytes().to_vec());
            return Ok(options);
        }
        let file = worker
            .job_directory()
            .map(|dir| dir.join("input").join("cacerts"))
            .filter(|path| path.is_file())
            .or_else(|| {
                std::env::var_os("REQUESTS_CA_BUNDLE")
                    .filter(|v| !v.is_empty())
                    .map(std::path::PathBuf::from)
            });
        if let Some(path) = file {
            options.extra_roots_pem = Some(read_ca_bundle(&path)?);
        }
        Ok(options)
    }
}

/// The largest CA bundle read: Mozilla's whole bundle is about 220 KiB.
const MAX_CA_BUNDLE_BYTES: u64 = 8 * 1024 * 1024;

fn read_ca_bundle(path: &std::path::Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let fail = |reason: String| HttpError::CaBundle {
        source_name: path.display().to_string(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let mut pem = Vec::new();
    file.take(MAX_CA_BUNDLE_BYTES + 1)
        .read_to_end(&mut pem)
        .map_err(|e| fail(e.to_string()))?;
    if pem.len() as u64 > MAX_CA_BUNDLE_BYTES {
        return Err(fail(format!("larger than {MAX_CA_BUNDLE_BYTES} bytes")));
    }
    Ok(pem)
}

/// An HTTP client. Cheap to share by reference; every request is independent.
#[derive(Debug)]
pub struct Client {
    backend: backend::Backend,
    max_body_bytes: usize,
    timeout: Duration,
}

impl Client {
    /// A client with this job's proxies and CA bundle ([`ClientOptions::from_worker`]). Takes an
    /// [`crate::Analyzer`] or a [`crate::Responder`] too (both dereference to [`Worker`]).
    pub fn new(worker: &Worker) -> Result<Client> {
        Client::with_options(ClientOptions::from_worker(worker)?)
    }

    /// A client built from explicit options.
    pub fn with_options(options: ClientOptions) -> Result<Client> {
        Ok(Client {
            backend: backend::Backend::new(&options)?,
            max_body_bytes: options.max_body_bytes,
            timeout: options.timeout,
        })
    }

    /// Starts a `GET` request.
    pub fn get(&self, url: &str) -> RequestBuilder<'_> {
        self.request(Method::Get, url)
    }

    /// Starts a `POST` request.
    pub fn post(&self, url: &str) -> RequestBuilder<'_> {
        self.request(Method::Post, url)
    }

    /// Starts a request with any [`Method`].
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder<'_> {
        RequestBuilder {
            client: self,
            request: Request {
                method,
                url: url.to_owned(),
                headers: Vec::new(),
                body: None,
                timeout: self.timeout,
            },
            query: Vec::new(),
        }
    }
}

/// One request as it goes to the backend: one hop of a redirect chain.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) timeout: Duration,
}

impl Request {
    pub(crate) fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(name))
    }

    pub(crate) fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    }
}

/// A request being built; [`RequestBuilder::send`] sends it.
#[derive(Debug)]
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder<'c> {
    client: &'c Client,
    request: Request,
    query: Vec<(String, String)>,
}

impl RequestBuilder<'_> {
    /// Sets a header, replacing one of the same name (names compare without case, like
    /// `requests`' headers dictionary).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.request.remove_header(name);
        self.request
            .headers
            .push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds a query parameter, encoded as `requests`' `params=` encodes it
    /// (`urllib.parse.urlencode`: space as `+`, everything but letters, digits and `_.-~`
    /// percent-encoded), appended to the URL's own query with `&`.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sends `pairs` as an `application/x-www-form-urlencoded` body, as `requests`' `data=dict`
    /// does (the `Content-Type` is set unless the request set one).
    pub fn form(mut self, pairs: &[(&str, &str)]) -> Self {
        self.request.body = Some(form_urlencode(pairs.iter().copied()).into_bytes());
        if !self.request.has_header("Content-Type") {
            self.request.headers.push((
                "Content-Type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            ));
        }
        self
    }

    /// Sends these bytes as the body, with no `Content-Type` unless one is set.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.request.body = Some(body.into());
        self
    }

    /// The time limit of each hop of this request: connecting, sending, and receiving the
    /// whole response.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.request.timeout = timeout;
        self
    }

    /// Sends the request and follows redirects; returns the last response, whatever its
    /// status (a 4xx or 5xx is a [`Response`], as in `requests`).
    pub fn send(self) -> Result<Response> {
        let mut request = self.request;
        if !self.query.is_empty() {
            request.url = encode::append_query(
                &request.url,
                &form_urlencode(self.query.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            );
        }
        if !request.has_header("User-Agent") {
            request
                .headers
                .push(("User-Agent".to_owned(), DEFAULT_USER_AGENT.to_owned()));
        }
        if !request.has_header("Accept") {
            request
                .headers
                .push(("Accept".to_owned(), "*/*".to_owned()));
        }
        let client = self.client;
        let mut hops = 0;
        loop {
            redirect::check_url(&request.url)?;
            let response = client.backend.send(&request, client.max_body_bytes)?;
            let Some(next) = redirect::next_hop(&request, &response)? else {
                return Ok(response);
            };
            hops += 1;
            if hops > MAX_REDIRECTS {
                return Err(HttpError::TooManyRedirects(MAX_REDIRECTS));
            }
            request = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_gets_the_default_headers_unless_it_sets_them() {
        let client = Client::with_options(ClientOptions::default()).unwrap();
        let builder = client
            .get("http://h/")
            .header("user-agent", "mine")
            .header("User-Agent", "mine2");
        assert_eq!(
            builder.request.headers,
            [("User-Agent".to_owned(), "mine2".to_owned())]
        );
    }
}
