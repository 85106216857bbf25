//! The `wasi:http` hook every outgoing request of a component goes through: the allowlist, the
//! request budget, the address check (resolved once, connected to as checked), TLS by the host,
//! the proxy, and the limits on time and response bytes.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::Frame;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::policy::{NetworkPolicy, Origin, ProxyAddr, Scheme, host_port, special_address};
use super::tls;

/// How many warnings one run records; later ones are counted in a last line.
const MAX_WARNINGS: usize = 20;
/// How many addresses of one name are considered.
const MAX_ADDRESSES: usize = 16;
/// The longest a proxy's answer to `CONNECT` may be.
const MAX_CONNECT_RESPONSE: usize = 16 * 1024;

/// What one run did on the network, for the run's record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkStats {
    /// Requests the guest started (allowed or not).
    pub requests: u64,
    /// Requests the policy denied.
    pub denied: u64,
    /// Response body bytes the guest received.
    pub response_bytes: u64,
}

/// The shared state of one run's gate.
#[derive(Default)]
pub(crate) struct NetLog {
    stats: NetworkStats,
    warnings: Vec<String>,
    dropped_warnings: u64,
}

impl NetLog {
    fn warn(&mut self, text: String) {
        if self.warnings.contains(&text) {
            return;
        }
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(text);
        } else {
            self.dropped_warnings += 1;
        }
    }

    /// The run's warnings, with a last line counting the ones left out.
    pub(crate) fn warnings(&self) -> Vec<String> {
        let mut out = self.warnings.clone();
        if self.dropped_warnings > 0 {
            out.push(format!(
                "{} more network warnings were left out",
                self.dropped_warnings
            ));
        }
        out
    }

    pub(crate) fn stats(&self) -> NetworkStats {
        self.stats.clone()
    }
}

/// The hook of one run. Without a policy every request is denied.
pub(crate) struct Gate {
    shared: Arc<Shared>,
}

struct Shared {
    /// The worker's name, for messages.
    worker: String,
    policy: Option<NetworkPolicy>,
    tls: Arc<ClientConfig>,
    log: Arc<Mutex<NetLog>>,
}

impl Gate {
    /// A gate for one run of `worker` under `policy`; the TLS configuration trusts the system's
    /// roots and the policy's extra ones.
    pub(crate) fn new(
        worker: &str,
        policy: Option<NetworkPolicy>,
        log: Arc<Mutex<NetLog>>,
    ) -> Result<Self, String> {
        let extra = policy
            .as_ref()
            .map(|p| p.extra_roots_pem.as_slice())
            .unwrap_or_default();
        let tls = tls::client_config(extra)?;
        Ok(Self {
            shared: Arc::new(Shared {
                worker: worker.to_owned(),
                policy,
                tls,
                log,
            }),
        })
    }
}

type SendResult = Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ),
    HttpError,
>;

impl WasiHttpHooks for Gate {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let shared = self.shared.clone();
        Box::new(async move {
            let response = shared.send(request, options).await?;
            Ok((
                response,
                Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

/// Why a request did not go out, as the guest and the report see it.
struct Denied {
    warning: String,
    code: HttpError,
}

impl Shared {
    fn log(&self) -> std::sync::MutexGuard<'_, NetLog> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn deny(&self, warning: String) -> Denied {
        Denied {
            warning,
            code: HttpError::HttpRequestDenied,
        }
    }

    async fn send(
        self: &Arc<Self>,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<http::Response<WasiBody>, HttpError> {
        match self.try_send(request, options).await {
            Ok(response) => Ok(response),
            Err(denied) => {
                let mut log = self.log();
                if matches!(denied.code, HttpError::HttpRequestDenied) {
                    log.stats.denied += 1;
                }
                log.warn(denied.warning);
                tracing::debug!(worker = %self.worker, code = %denied.code, "request refused");
                Err(denied.code)
            }
        }
    }

    async fn try_send(
        self: &Arc<Self>,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<http::Response<WasiBody>, Denied> {
        let started = Instant::now();
        let number = {
            let mut log = self.log();
            log.stats.requests += 1;
            log.stats.requests
        };
        let target = describe(request.uri());
        let Some(policy) = &self.policy else {
            return Err(self.deny(format!(
                "{} asked for {target}: denied, its policy grants no network (no [wasm.network] \
                 section)",
                self.worker
            )));
        };
        if number > u64::from(policy.max_requests) {
            return Err(self.deny(format!(
                "{} asked for {target}: denied, the job has made the {} requests \
                 wasm.network.max_requests allows",
                self.worker, policy.max_requests
            )));
        }
        let Some(origin) = Origin::of_uri(request.uri()) else {
            return Err(self.deny(format!(
                "{} asked for {target}: denied, not an http or https URL with a host",
                self.worker
            )));
        };
        if !policy.allows(&origin) {
            let allowed: Vec<String> = policy.allow.iter().map(ToString::to_string).collect();
            return Err(self.deny(format!(
                "{} asked for {target}: denied, {origin} is not in its network allowlist ({})",
                self.worker,
                if allowed.is_empty() {
                    "empty".to_owned()
                } else {
                    allowed.join(", ")
                }
            )));
        }
        let timeout = effective_timeout(policy.request_timeout, options);
        let deadline = tokio::time::Instant::from_std(started + timeout);
        let timed_out = |what: &str| Denied {
            warning: format!(
                "{} asked for {target}: stopped after {} s {what} (wasm.network.request_timeout_s)",
                self.worker,
                timeout.as_secs_f64()
            ),
            code: HttpError::ConnectionTimeout,
        };
        let proxy = match origin.scheme {
            Scheme::Http => policy.proxy.http.as_ref(),
            Scheme::Https => policy.proxy.https.as_ref(),
        };
        let connected =
            tokio::time::timeout_at(deadline, self.connect(policy, &origin, proxy, &target))
                .await
                .map_err(|_| timed_out("while connecting"))??;
        let mut request = request;
        // Through a proxy, a plain-HTTP request goes in absolute form; otherwise (direct, or
        // inside a CONNECT tunnel) in origin form.
        if !(proxy.is_some() && origin.scheme == Scheme::Http) {
            let path = request
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            *request.uri_mut() = path.parse().map_err(|_| Denied {
                warning: format!("{} asked for {target}: the path is not valid", self.worker),
                code: HttpError::HttpRequestUriInvalid,
            })?;
        }
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(connected))
            .await
            .map_err(|e| self.failed(&target, "the HTTP handshake failed", e.to_string()))?;
        let driver = tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "outgoing connection ended with an error");
            }
        });
        let driver = AbortOnDrop(driver);
        let response = tokio::time::timeout_at(deadline, sender.send_request(request))
            .await
            .map_err(|_| timed_out("waiting for the response"))?
            .map_err(|e| self.failed(&target, "the request failed", e.to_string()))?;
        let limit = policy.max_response_bytes;
        let shared = self.clone();
        Ok(response.map(move |incoming| {
            LimitedBody {
                incoming,
                remaining: limit,
                limit,
                deadline: Box::pin(tokio::time::sleep_until(deadline)),
                timeout,
                target,
                shared,
                _driver: driver,
                done: false,
            }
            .boxed_unsync()
        }))
    }

    fn failed(&self, target: &str, what: &str, detail: String) -> Denied {
        Denied {
            warning: format!("{} asked for {target}: {what}: {detail}", self.worker),
            code: HttpError::HttpProtocolError,
        }
    }

    /// Resolves the origin once, keeps only addresses the policy permits, and connects to one
    /// of those (or to the proxy, which resolves the name itself); then TLS for https.
    async fn connect(
        &self,
        policy: &NetworkPolicy,
        origin: &Origin,
        proxy: Option<&ProxyAddr>,
        target: &str,
    ) -> Result<Box<dyn Stream>, Denied> {
        let tcp = match proxy {
            Some(proxy) => self.via_proxy(origin, proxy, target).await?,
            None => {
                let addrs = self.checked_addresses(policy, origin, target).await?;
                let mut last = None;
                let mut stream = None;
                for addr in addrs {
                    match TcpStream::connect(addr).await {
                        Ok(s) => {
                            stream = Some(s);
                            break;
                        }
                        Err(e) => last = Some((addr, e)),
                    }
                }
                match stream {
                    Some(s) => s,
                    None => {
                        let (addr, e) = last.expect("at least one address was tried");
                        return Err(Denied {
                            warning: format!(
                                "{} asked for {target}: cannot connect to {addr}: {e}",
                                self.worker
                            ),
                            code: HttpError::ConnectionRefused,
                        });
                    }
                }
            }
        };
        let _ = tcp.set_nodelay(true);
        match origin.scheme {
            Scheme::Http => Ok(Box::new(tcp)),
            Scheme::Https => {
                let name = match origin.host.parse::<IpAddr>() {
                    Ok(ip) => ServerName::IpAddress(ip.into()),
                    Err(_) => ServerName::try_from(origin.host.clone()).map_err(|e| Denied {
                        warning: format!("{} asked for {target}: {e}", self.worker),
                        code: HttpError::HttpRequestUriInvalid,
                    })?,
                };
                let connector = tokio_rustls::TlsConnector::from(self.tls.clone());
                let tls = connector.connect(name, tcp).await.map_err(|e| Denied {
                    warning: format!(
                        "{} asked for {target}: TLS with {} failed: {e}",
                        self.worker, origin.host
                    ),
                    code: HttpError::TlsCertificateError,
                })?;
                Ok(Box::new(tls))
            }
        }
    }

    /// The addresses of `origin` the policy lets the run connect to, in the resolver's order.
    async fn checked_addresses(
        &self,
        policy: &NetworkPolicy,
        origin: &Origin,
        target: &str,
    ) -> Result<Vec<SocketAddr>, Denied> {
        let addrs: Vec<SocketAddr> = if let Ok(ip) = origin.host.parse::<IpAddr>() {
            vec![SocketAddr::new(ip, origin.port)]
        } else if let Some(pinned) = policy.pinned(&origin.host, origin.port) {
            pinned.to_vec()
        } else {
            tokio::net::lookup_host((origin.host.as_str(), origin.port))
                .await
                .map_err(|e| Denied {
                    warning: format!(
                        "{} asked for {target}: cannot resolve {}: {e}",
                        self.worker, origin.host
                    ),
                    code: HttpError::DnsError {
                        rcode: Some(e.to_string()),
                        info_code: None,
                    },
                })?
                .take(MAX_ADDRESSES)
                .collect()
        };
        let mut permitted = Vec::new();
        let mut refused = Vec::new();
        for addr in addrs {
            match special_address(addr.ip()) {
                Some(kind) if !policy.allows_address(addr.ip()) => refused.push((addr, kind)),
                _ => permitted.push(addr),
            }
        }
        if permitted.is_empty() {
            let why = refused
                .iter()
                .map(|(addr, kind)| format!("{} (a {kind} address)", addr.ip()))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(self.deny(format!(
                "{} asked for {target}: denied, {} resolves to {} \
                 (list the address in wasm.network.allow_addresses to allow it)",
                self.worker,
                origin.host,
                if why.is_empty() {
                    "no address".to_owned()
                } else {
                    why
                }
            )));
        }
        Ok(permitted)
    }

    /// Opens a connection to `origin` through an HTTP proxy: a `CONNECT` tunnel for https, a
    /// plain connection for http (the request then goes in absolute form).
    async fn via_proxy(
        &self,
        origin: &Origin,
        proxy: &ProxyAddr,
        target: &str,
    ) -> Result<TcpStream, Denied> {
        let unreachable = |e: String| Denied {
            warning: format!(
                "{} asked for {target}: cannot use the proxy {proxy}: {e}",
                self.worker
            ),
            code: HttpError::ConnectionRefused,
        };
        let mut stream = TcpStream::connect((proxy.host.as_str(), proxy.port))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        if origin.scheme == Scheme::Http {
            return Ok(stream);
        }
        let authority = host_port(&origin.host, origin.port);
        let connect = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        stream
            .write_all(connect.as_bytes())
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let mut head = Vec::with_capacity(256);
        let mut byte = [0u8; 1];
        // Byte by byte, so that nothing of the tunnel's first TLS bytes is consumed here.
        while !head.ends_with(b"\r\n\r\n") {
            if head.len() >= MAX_CONNECT_RESPONSE {
                return Err(unreachable(format!(
                    "its answer to CONNECT is longer than {MAX_CONNECT_RESPONSE} bytes"
                )));
            }
            let n = stream
                .read(&mut byte)
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            if n == 0 {
                return Err(unreachable("it closed the connection".to_owned()));
            }
            head.push(byte[0]);
        }
        let status_line =
            String::from_utf8_lossy(head.split(|b| *b == b'\r').next().unwrap_or(&[])).into_owned();
        let ok = status_line
            .split_whitespace()
            .nth(1)
            .is_some_and(|code| code.starts_with('2'));
        if !ok {
            return Err(Denied {
                warning: format!(
                    "{} asked for {target}: the proxy {proxy} refused the tunnel: {status_line}",
                    self.worker
                ),
                code: HttpError::ConnectionRefused,
            });
        }
        Ok(stream)
    }
}

/// The request's URL as messages show it: scheme, host, port and path, without the query (which
/// may carry the observable or a key).
fn describe(uri: &http::Uri) -> String {
    let mut text = String::new();
    if let Some(scheme) = uri.scheme_str() {
        text.push_str(scheme);
        text.push_str("://");
    }
    if let Some(authority) = uri.authority() {
        text.push_str(authority.as_str().rsplit('@').next().unwrap_or_default());
    }
    text.push_str(uri.path());
    text.chars().take(200).collect()
}

/// The policy's timeout, shortened by the guest's own connect or first-byte timeout.
fn effective_timeout(policy: Duration, options: Option<RequestOptions>) -> Duration {
    let mut timeout = policy;
    if let Some(options) = options {
        for t in [options.connect_timeout, options.first_byte_timeout]
            .into_iter()
            .flatten()
        {
            timeout = timeout.min(t.max(Duration::from_millis(1)));
        }
    }
    timeout
}

/// A connection, plain or TLS.
trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// Aborts the connection's driver task when the response (or the request) is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A response body under the policy's byte and time limits, counting what the guest receives.
struct LimitedBody {
    incoming: Incoming,
    remaining: u64,
    limit: u64,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timeout: Duration,
    target: String,
    shared: Arc<Shared>,
    _driver: AbortOnDrop,
    done: bool,
}

impl LimitedBody {
    fn fail(
        &mut self,
        warning: String,
        code: HttpError,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        self.done = true;
        self.shared.log().warn(warning);
        Poll::Ready(Some(Err(code)))
    }
}

impl http_body::Body for LimitedBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            let warning = format!(
                "{} asked for {}: the response was cut after {} s (wasm.network.request_timeout_s)",
                self.shared.worker,
                self.target,
                self.timeout.as_secs_f64()
            );
            return self.fail(warning, HttpError::ConnectionReadTimeout);
        }
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                let warning = format!(
                    "{} asked for {}: the response body failed: {e}",
                    self.shared.worker, self.target
                );
                self.fail(warning, HttpError::HttpProtocolError)
            }
            Poll::Ready(Some(Ok(frame))) => {
                let len = frame.data_ref().map_or(0, |d| d.len() as u64);
                if len > self.remaining {
                    let warning = format!(
                        "{} asked for {}: the response was cut at {} bytes \
                         (wasm.network.max_response_kib)",
                        self.shared.worker, self.target, self.limit
                    );
                    let limit = self.limit;
                    return self.fail(warning, HttpError::HttpResponseBodySize(Some(limit)));
                }
                self.remaining -= len;
                self.shared.log().stats.response_bytes += len;
                Poll::Ready(Some(Ok(frame)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.incoming.is_end_stream()
    }
}

use std::future::Future;
