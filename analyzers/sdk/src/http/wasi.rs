//! The `wasm32-wasip2` transport: wasi-http through `wstd`, one blocking call per hop. The
//! runner does TLS, the proxy and the network policy; a refusal comes back as wasi-http's
//! `HttpRequestDenied` and becomes [`HttpError::Denied`].

use wstd::future::FutureExt;
use wstd::http::body::util::BodyExt;
use wstd::http::error::ErrorCode;
use wstd::http::{Body, Client};

use super::error::{HttpError, Result};
use super::response::Response;
use super::{ClientOptions, Request};

#[derive(Debug)]
pub(crate) struct Backend;

impl Backend {
    /// The options' proxies and CA bundle are the runner's business in the sandbox.
    pub(crate) fn new(_options: &ClientOptions) -> Result<Backend> {
        Ok(Backend)
    }

    pub(crate) fn send(&self, request: &Request, max_body: usize) -> Result<Response> {
        let host = super::redirect::parse(&request.url)?.host;
        let timeout = wstd::time::Duration::from(request.timeout);
        // The timer behind `timeout` belongs to wstd's reactor, which exists only inside
        // `block_on`: the whole future is built there.
        let exchanged = wstd::runtime::block_on(async {
            exchange(request, max_body, &host).timeout(timeout).await
        });
        match exchanged {
            Ok(result) => result,
            Err(_) => Err(HttpError::Timeout {
                url: request.url.clone(),
                timeout: request.timeout,
            }),
        }
    }
}

async fn exchange(request: &Request, max_body: usize, host: &str) -> Result<Response> {
    let mut client = Client::new();
    client.set_connect_timeout(request.timeout);
    client.set_first_byte_timeout(request.timeout);
    client.set_between_bytes_timeout(request.timeout);
    let mut builder = wstd::http::Request::builder()
        .method(request.method.as_str())
        .uri(&request.url);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let body = match &request.body {
        Some(bytes) => Body::from(bytes.clone()),
        None => Body::empty(),
    };
    let outgoing = builder
        .body(body)
        .map_err(|e| invalid_request(request, &e))?;
    let response = client
        .send(outgoing)
        .await
        .map_err(|e| wasi_error(&request.url, host, &e))?;
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
    let mut stream = response.into_body().into_boxed_body();
    let mut body = Vec::new();
    while let Some(frame) = stream.frame().await {
        let frame = frame.map_err(|e| wasi_error(&request.url, host, &e))?;
        if let Ok(data) = frame.into_data() {
            if body.len().saturating_add(data.len()) > max_body {
                return Err(HttpError::BodyTooLarge {
                    url: request.url.clone(),
                    limit: max_body,
                });
            }
            body.extend_from_slice(&data);
        }
    }
    Ok(Response {
        status,
        headers,
        body,
        url: request.url.clone(),
    })
}

fn invalid_request(request: &Request, error: &dyn std::error::Error) -> HttpError {
    for (name, value) in &request.headers {
        if wstd::http::HeaderName::try_from(name.as_str()).is_err()
            || wstd::http::HeaderValue::try_from(value.as_str()).is_err()
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

/// Names the wasi-http error code when there is one in the chain.
fn wasi_error(url: &str, host: &str, error: &wstd::http::Error) -> HttpError {
    match error.chain().find_map(|e| e.downcast_ref::<ErrorCode>()) {
        Some(ErrorCode::HttpRequestDenied) => HttpError::Denied {
            host: host.to_owned(),
        },
        Some(code) => HttpError::Wasi {
            url: url.to_owned(),
            code: format!("{code:?}"),
        },
        None => HttpError::Transport {
            url: url.to_owned(),
            reason: format!("{error:#}"),
        },
    }
}
