//! The native transport: `ureq` over rustls (ring), trusting the platform's roots plus the job's
//! CA bundle, with cortexutils' proxies (an HTTP CONNECT proxy per URL scheme).

use std::io::Read;
use std::sync::Arc;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::{Agent, Proxy};

use super::error::{HttpError, Result};
use super::response::Response;
use super::{ClientOptions, Method, Request};

/// One agent per URL scheme, since `requests` picks the proxy by the scheme of each URL.
#[derive(Debug)]
pub(crate) struct Backend {
    http: Agent,
    https: Agent,
}

impl Backend {
    pub(crate) fn new(options: &ClientOptions) -> Result<Backend> {
        let tls = TlsConfig::builder()
            .root_certs(root_certs(options.extra_roots_pem.as_deref())?)
            .build();
        Ok(Backend {
            http: agent(tls.clone(), options.http_proxy.as_deref())?,
            https: agent(tls, options.https_proxy.as_deref())?,
        })
    }

    /// Sends one hop and reads its whole body, up to `max_body` bytes.
    pub(crate) fn send(&self, request: &Request, max_body: usize) -> Result<Response> {
        let agent = if super::redirect::parse(&request.url)?.scheme == "https" {
            &self.https
        } else {
            &self.http
        };
        let mut builder = ureq::http::Request::builder()
            .method(request.method.as_str())
            .uri(&request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let transport = |e: ureq::Error| transport_error(&request.url, request.timeout, e);
        let mut response = match (&request.body, request.method) {
            (Some(body), _) => {
                let built = builder
                    .body(body.as_slice())
                    .map_err(|e| invalid_request(request, &e))?;
                let built = agent
                    .configure_request(built)
                    .timeout_global(Some(request.timeout))
                    .build();
                agent.run(built).map_err(transport)?
            }
            (None, Method::Post) => {
                let built = builder
                    .body(&[][..])
                    .map_err(|e| invalid_request(request, &e))?;
                let built = agent
                    .configure_request(built)
                    .timeout_global(Some(request.timeout))
                    .build();
                agent.run(built).map_err(transport)?
            }
            (None, _) => {
                let built = builder.body(()).map_err(|e| invalid_request(request, &e))?;
                let built = agent
                    .configure_request(built)
                    .timeout_global(Some(request.timeout))
                    .build();
                agent.run(built).map_err(transport)?
            }
        };
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        let limit = u64::try_from(max_body)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        response
            .body_mut()
            .as_reader()
            .take(limit)
            .read_to_end(&mut body)
            .map_err(|e| read_error(&request.url, request.timeout, e))?;
        if body.len() > max_body {
            return Err(HttpError::BodyTooLarge {
                url: request.url.clone(),
                limit: max_body,
            });
        }
        Ok(Response {
            status,
            headers,
            body,
            url: request.url.clone(),
        })
    }
}

fn agent(tls: TlsConfig, proxy: Option<&str>) -> Result<Agent> {
    let proxy = proxy
        .filter(|p| !p.is_empty())
        .map(|p| {
            Proxy::new(p).map_err(|e| HttpError::InvalidProxy {
                proxy: p.to_owned(),
                reason: e.to_string(),
            })
        })
        .transpose()?;
    Ok(Agent::config_builder()
        .tls_config(tls)
        .proxy(proxy)
        // The client follows redirects itself, hop by hop, with `requests`' rules.
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .new_agent())
}

/// The platform's roots (as `rustls-native-certs` finds them, honouring `SSL_CERT_FILE` and
/// `SSL_CERT_DIR`) plus the job's bundle; Mozilla's roots when the platform has none.
fn root_certs(extra_pem: Option<&[u8]>) -> Result<RootCerts> {
    let mut certs: Vec<Certificate<'static>> = rustls_native_certs::load_native_certs()
        .certs
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()).to_owned())
        .collect();
    let platform_has_roots = !certs.is_empty();
    if let Some(pem) = extra_pem {
        let before = certs.len();
        for item in ureq::tls::parse_pem(pem) {
            match item {
                Ok(PemItem::Certificate(cert)) => certs.push(cert),
                Ok(_) => {}
                Err(e) => {
                    return Err(HttpError::CaBundle {
                        source_name: "the job's cacerts".to_owned(),
                        reason: e.to_string(),
                    });
                }
            }
        }
        if certs.len() == before {
            return Err(HttpError::CaBundle {
                source_name: "the job's cacerts".to_owned(),
                reason: "no PEM certificate in it".to_owned(),
            });
        }
    } else if !platform_has_roots {
        return Ok(RootCerts::WebPki);
    }
    Ok(RootCerts::Specific(Arc::new(certs)))
}

fn invalid_request(request: &Request, error: &ureq::http::Error) -> HttpError {
    // The builder fails on a header or on the URL; say which.
    for (name, value) in &request.headers {
        if ureq::http::HeaderName::try_from(name.as_str()).is_err()
            || ureq::http::HeaderValue::try_from(value.as_str()).is_err()
        {
            return HttpError::InvalidHeader {
                name: name.clone(),
                reason: error.to_string(),
            };
        }
    }
    HttpError::InvalidUrl {
        url: request.url.clone(),
        reason: error.to_string(),
    }
}

fn transport_error(url: &str, timeout: std::time::Duration, error: ureq::Error) -> HttpError {
    match error {
        ureq::Error::Timeout(_) => HttpError::Timeout {
            url: url.to_owned(),
            timeout,
        },
        ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => HttpError::Timeout {
            url: url.to_owned(),
            timeout,
        },
        other => HttpError::Transport {
            url: url.to_owned(),
            reason: other.to_string(),
        },
    }
}

fn read_error(url: &str, timeout: std::time::Duration, error: std::io::Error) -> HttpError {
    if error.kind() == std::io::ErrorKind::TimedOut {
        return HttpError::Timeout {
            url: url.to_owned(),
            timeout,
        };
    }
    let message = error.to_string();
    match error
        .into_inner()
        .map(|inner| inner.downcast::<ureq::Error>())
    {
        Some(Ok(e)) => transport_error(url, timeout, *e),
        _ => HttpError::Transport {
            url: url.to_owned(),
            reason: message,
        },
    }
}
