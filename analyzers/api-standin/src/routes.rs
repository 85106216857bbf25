//! The HTTPS side: one router for the three APIs, chosen by the `Host` header, the key
//! scenarios applied before the API's own answer.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::Options;
use crate::scenario::{MALFORMED_BODY, Reply, Scenario};
use crate::stats::Counters;
use crate::{abuseipdb, greynoise, urlhaus};

/// What every request's handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) options: Options,
    pub(crate) counters: Arc<Counters>,
}

/// One request as the API modules see it.
pub(crate) struct ApiRequest {
    pub(crate) method: Method,
    pub(crate) path: String,
    /// The query string's pairs, decoded, in order.
    pub(crate) query: Vec<(String, String)>,
    /// The `application/x-www-form-urlencoded` body's pairs, decoded, in order.
    pub(crate) form: Vec<(String, String)>,
}

impl ApiRequest {
    /// The first value of `name` in the query string.
    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        first(&self.query, name)
    }

    /// The first value of `name` in the form body.
    pub(crate) fn form(&self, name: &str) -> Option<&str> {
        first(&self.form, name)
    }
}

fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The router of the HTTPS side.
pub(crate) fn router(state: AppState) -> Router {
    Router::new().fallback(dispatch).with_state(state)
}

async fn dispatch(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let host = host_of(&headers, &uri);
    state.counters.request(&host, uri.path());
    let (api, answer): (&crate::scenario::Api, fn(&ApiRequest) -> Reply) = match host.as_str() {
        "api.abuseipdb.com" => (&abuseipdb::API, abuseipdb::answer),
        "urlhaus-api.abuse.ch" => (&urlhaus::API, urlhaus::answer),
        "api.greynoise.io" => (&greynoise::API, greynoise::answer),
        "localhost" | "127.0.0.1" if uri.path() == "/_standin/stats" => {
            return axum::Json(state.counters.snapshot()).into_response();
        }
        _ => {
            return (
                StatusCode::MISDIRECTED_REQUEST,
                format!(
                    "api-standin serves {}, not {host:?}\n",
                    crate::API_HOSTS.join(", ")
                ),
            )
                .into_response();
        }
    };
    let request = ApiRequest {
        method,
        path: uri.path().to_owned(),
        query: decode_form(uri.query().unwrap_or("").as_bytes()),
        form: decode_form(&body),
    };
    let key = headers.get(api.key_header).and_then(|v| v.to_str().ok());
    match Scenario::of_key(key) {
        Scenario::Good => whole(answer(&request)),
        Scenario::BadKey => whole((api.bad_key)()),
        Scenario::RateLimited => whole((api.rate_limited)()),
        Scenario::Malformed => whole(Reply {
            status: StatusCode::OK,
            headers: Vec::new(),
            content_type: "application/json",
            body: MALFORMED_BODY.as_bytes().to_vec(),
        }),
        Scenario::Slow => {
            tokio::time::sleep(state.options.slow_delay).await;
            whole(answer(&request))
        }
        Scenario::Redirect(location) => match HeaderValue::from_str(&location) {
            Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
            Err(_) => (StatusCode::BAD_REQUEST, "redirect: not a header value\n").into_response(),
        },
        Scenario::Endless => endless(),
        Scenario::Trickle => trickle(answer(&request), state.options.trickle_interval),
    }
}

/// The request's host without its port, lower-cased: the `Host` header, else the URI's
/// authority (an absolute-form request).
fn host_of(headers: &HeaderMap, uri: &Uri) -> String {
    let raw = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.host())
        .unwrap_or("");
    let host = match raw.rsplit_once(':') {
        // Not "[::1]" without a port, whose last colon is inside the brackets.
        Some((h, port)) if !port.contains(']') => h,
        _ => raw,
    };
    host.to_ascii_lowercase()
}

/// `reply` with its whole body.
fn whole(reply: Reply) -> Response {
    let mut response = (reply.status, reply.body.clone()).into_response();
    set_headers(&mut response, &reply);
    response
}

fn set_headers(response: &mut Response, reply: &Reply) {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(reply.content_type),
    );
    for (name, value) in &reply.headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(*name, value);
        }
    }
}

/// How many bytes each chunk of the endless body holds.
const ENDLESS_CHUNK: usize = 16 * 1024;

/// 200 with `{"data": [` and then `0, ` forever, in chunks of [`ENDLESS_CHUNK`] bytes.
fn endless() -> Response {
    let head = Bytes::from_static(b"{\"data\": [");
    let chunk = Bytes::from("0, ".repeat(ENDLESS_CHUNK / 3));
    let chunks = std::iter::once(head).chain(std::iter::repeat(chunk));
    let stream = futures::stream::iter(chunks.map(Ok::<Bytes, Infallible>));
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `reply`'s status and headers, its body one byte per `interval`.
fn trickle(reply: Reply, interval: Duration) -> Response {
    let body = Bytes::from(reply.body.clone());
    let stream = futures::stream::unfold(0usize, move |at| {
        let body = body.clone();
        async move {
            if at >= body.len() {
                return None;
            }
            tokio::time::sleep(interval).await;
            Some((Ok::<Bytes, Infallible>(body.slice(at..at + 1)), at + 1))
        }
    });
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = reply.status;
    set_headers(&mut response, &reply);
    response
}

/// Decodes `application/x-www-form-urlencoded` pairs (`+` is a space, `%XX` a byte; invalid
/// UTF-8 is replaced). A pair without `=` has an empty value.
pub(crate) fn decode_form(input: &[u8]) -> Vec<(String, String)> {
    input
        .split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut parts = pair.splitn(2, |b| *b == b'=');
            let name = parts.next().unwrap_or_default();
            let value = parts.next().unwrap_or_default();
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

fn percent_decode(input: &[u8]) -> String {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < input.len() => match (hex(input[i + 1]), hex(input[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_pairs_are_decoded_in_order() {
        assert_eq!(
            decode_form(b"url=http%3A%2F%2Fa.test%2Fx+y&b&c=%zz%4"),
            vec![
                ("url".to_owned(), "http://a.test/x y".to_owned()),
                ("b".to_owned(), String::new()),
                ("c".to_owned(), "%zz%4".to_owned()),
            ]
        );
    }

    #[test]
    fn host_drops_the_port() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::HOST,
            HeaderValue::from_static("API.GreyNoise.io:8443"),
        );
        assert_eq!(
            host_of(&headers, &Uri::from_static("/x")),
            "api.greynoise.io"
        );
    }
}
