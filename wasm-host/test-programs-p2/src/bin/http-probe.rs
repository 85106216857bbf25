//! Makes the HTTP requests its environment names and reports how each ended, with the exact
//! `wasi:http` error code when the host refused or cut it.
//!
//! - `PROBE_URLS`: whitespace-separated `http://` / `https://` URLs, requested in order;
//! - `PROBE_REPEAT`: how many times the list is requested (default 1);
//! - `PROBE_MAX_READ`: stop reading a body after this many bytes (default: read to the end);
//! - `PROBE_FOLLOW`: when set, a 3xx answer with a `Location` is followed (up to 5 hops), each
//!   hop a new request, as an HTTP client library does; every hop is one result.
//!
//! Writes a Cortex success report to `/job/output/output.json` whose `full` is `{"results": [the
//! first 20 results], "counts": {"200": n, "HttpRequestDenied": m, ...}}`; a result is
//! `{"url", "status", "bytes"}` or `{"url", "error", "bytes"}` (`error` is the error code's
//! debug text, e.g. `HttpRequestDenied`).

#[cfg(target_os = "wasi")]
mod probe {
    use std::collections::BTreeMap;

    use serde_json::{Value, json};
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{ErrorCode, Fields, Method, OutgoingRequest, Scheme};
    use wasip2::io::streams::StreamError;

    /// The name of an error code, without its payload.
    fn code_name(code: &ErrorCode) -> String {
        let debug = format!("{code:?}");
        let debug = debug.strip_prefix("ErrorCode::").unwrap_or(&debug);
        debug
            .split(['(', ' ', '{'])
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    /// One request: `Ok((status, bytes, location))` or `Err((code, bytes read before it))`.
    fn request(url: &str, max_read: u64) -> Result<(u16, u64, Option<String>), (String, u64)> {
        let (scheme, rest) = url.split_once("://").ok_or(("BadUrl".to_owned(), 0))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let request = OutgoingRequest::new(Fields::new());
        request.set_method(&Method::Get).expect("GET is valid");
        let scheme = if scheme == "https" {
            Scheme::Https
        } else {
            Scheme::Http
        };
        request.set_scheme(Some(&scheme)).expect("scheme is valid");
        request
            .set_authority(Some(authority))
            .map_err(|()| ("BadAuthority".to_owned(), 0))?;
        request
            .set_path_with_query(Some(path))
            .map_err(|()| ("BadPath".to_owned(), 0))?;
        let future = outgoing_handler::handle(request, None).map_err(|e| (code_name(&e), 0))?;
        future.subscribe().block();
        let response = future
            .get()
            .expect("the response is ready")
            .expect("the response is taken once")
            .map_err(|e| (code_name(&e), 0))?;
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .first()
            .map(|v| String::from_utf8_lossy(v).into_owned());
        let body = response.consume().expect("the body is taken once");
        let stream = body.stream().expect("the stream is taken once");
        let mut bytes = 0u64;
        loop {
            if bytes >= max_read {
                break;
            }
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => bytes += chunk.len() as u64,
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    let code = wasip2::http::types::http_error_code(&e)
                        .map(|c| code_name(&c))
                        .unwrap_or_else(|| e.to_debug_string());
                    return Err((code, bytes));
                }
            }
        }
        Ok((status, bytes, location))
    }

    pub fn main() {
        let urls = std::env::var("PROBE_URLS").unwrap_or_default();
        let repeat: u64 = std::env::var("PROBE_REPEAT")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(1);
        let max_read: u64 = std::env::var("PROBE_MAX_READ")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(u64::MAX);
        let follow = std::env::var_os("PROBE_FOLLOW").is_some();
        let mut results = Vec::new();
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for _ in 0..repeat {
            for url in urls.split_whitespace() {
                let mut url = url.to_owned();
                for _hop in 0..6 {
                    let mut next = None;
                    let result = match request(&url, max_read) {
                        Ok((status, bytes, location)) => {
                            *counts.entry(status.to_string()).or_default() += 1;
                            if follow && (300..400).contains(&status) {
                                next = location;
                            }
                            json!({"url": url, "status": status, "bytes": bytes})
                        }
                        Err((error, bytes)) => {
                            *counts.entry(error.clone()).or_default() += 1;
                            json!({"url": url, "error": error, "bytes": bytes})
                        }
                    };
                    if results.len() < 20 {
                        results.push(result);
                    }
                    match next {
                        Some(location) => url = location,
                        None => break,
                    }
                }
            }
        }
        let report: Value = json!({
            "success": true,
            "summary": {"taxonomies": []},
            "artifacts": [],
            "operations": [],
            "full": {"results": results, "counts": counts},
        });
        std::fs::write("/job/output/output.json", report.to_string()).expect("output is writable");
    }
}

#[cfg(target_os = "wasi")]
fn main() {
    probe::main();
}

#[cfg(not(target_os = "wasi"))]
fn main() {}
