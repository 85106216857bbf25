//! Every scenario of the stand-in through a real TLS client (tokio-rustls trusting only the
//! stand-in's CA, hyper HTTP/1.1), directly by SNI and through the CONNECT tunnel, with the exact
//! status, headers and bodies.

use std::sync::Arc;
use std::time::{Duration, Instant};

use api_standin::scenario::{MALFORMED_BODY, keys};
use api_standin::{ApiStandin, Options, Running};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ABUSEIPDB: &str = "api.abuseipdb.com";
const URLHAUS: &str = "urlhaus-api.abuse.ch";
const GREYNOISE: &str = "api.greynoise.io";

async fn start() -> Running {
    ApiStandin::start(Options {
        slow_delay: Duration::from_millis(300),
        trickle_interval: Duration::from_millis(10),
        ..Options::default()
    })
    .await
    .unwrap()
}

/// How the client reaches the stand-in.
#[derive(Clone, Copy)]
enum Route {
    /// TLS straight to the port, SNI and Host naming the API.
    Direct,
    /// `CONNECT <host>:443` first, as a client with `https_proxy` does.
    Proxy,
}

fn tls_connector(running: &Running) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(running.ca_pem().as_bytes()).unwrap())
        .unwrap();
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Sends one request and returns the response with its body still streaming.
async fn send(
    running: &Running,
    route: Route,
    host: &str,
    request: Request<Full<Bytes>>,
) -> Response<Incoming> {
    let mut tcp = TcpStream::connect(running.addr()).await.unwrap();
    if let Route::Proxy = route {
        tcp.write_all(
            format!("CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(tcp.read_u8().await.unwrap());
        }
        assert_eq!(head, b"HTTP/1.1 200 Connection established\r\n\r\n");
    }
    let tls = tls_connector(running)
        .connect(ServerName::try_from(host.to_owned()).unwrap(), tcp)
        .await
        .unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender.send_request(request).await.unwrap()
}

fn get(host: &str, path: &str, key_header: &str, key: Option<&str>) -> Request<Full<Bytes>> {
    let mut builder = Request::get(path).header("host", host);
    if let Some(key) = key {
        builder = builder.header(key_header, key);
    }
    builder.body(Full::new(Bytes::new())).unwrap()
}

fn post_form(host: &str, path: &str, key: Option<&str>, form: &str) -> Request<Full<Bytes>> {
    let mut builder = Request::post(path)
        .header("host", host)
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(key) = key {
        builder = builder.header("Auth-Key", key);
    }
    builder
        .body(Full::new(Bytes::from(form.to_owned())))
        .unwrap()
}

/// Status, content type and the whole body.
async fn whole(response: Response<Incoming>) -> (StatusCode, String, Vec<u8>) {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, content_type, body.to_vec())
}

async fn json_of(response: Response<Incoming>) -> (StatusCode, Value) {
    let (status, content_type, body) = whole(response).await;
    assert_eq!(content_type, "application/json");
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn abuseipdb_check_answers_by_observable_directly_and_through_the_tunnel() {
    let running = start().await;
    for route in [Route::Direct, Route::Proxy] {
        let path = "/api/v2/check?maxAgeInDays=30&verbose=True&ipAddress=118.25.6.39";
        let (status, body) = json_of(
            send(
                &running,
                route,
                ABUSEIPDB,
                get(ABUSEIPDB, path, "Key", Some(keys::GOOD)),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let data = &body["data"];
        assert_eq!(data["ipAddress"], "118.25.6.39");
        assert_eq!(data["abuseConfidenceScore"], 100);
        assert_eq!(data["totalReports"], 8);
        assert_eq!(data["reports"].as_array().unwrap().len(), 8);
        assert_eq!(
            data["reports"][0]["reportedAt"],
            "2024-03-14T09:12:44+00:00"
        );
        assert_eq!(data["reports"][0]["categories"], json!([18, 22]));
    }

    // Without `verbose`, no reports and no country name, as the real API.
    let (_, body) = json_of(
        send(
            &running,
            Route::Direct,
            ABUSEIPDB,
            get(
                ABUSEIPDB,
                "/api/v2/check?ipAddress=118.25.6.39",
                "Key",
                Some("k"),
            ),
        )
        .await,
    )
    .await;
    assert!(body["data"].get("reports").is_none());
    assert!(body["data"].get("countryName").is_none());

    // Not reported: a record with no reports.
    let (status, body) = json_of(
        send(
            &running,
            Route::Proxy,
            ABUSEIPDB,
            get(
                ABUSEIPDB,
                "/api/v2/check?ipAddress=93.184.216.34&verbose",
                "Key",
                Some("k"),
            ),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"data": {
            "ipAddress": "93.184.216.34", "isPublic": true, "ipVersion": 4, "isWhitelisted": false,
            "abuseConfidenceScore": 0, "countryCode": "NL", "countryName": "Netherlands",
            "usageType": "Fixed Line ISP", "isp": "Example Telecom B.V.", "domain": "example-telecom.nl",
            "hostnames": [], "isTor": false, "totalReports": 0, "numDistinctUsers": 0,
            "lastReportedAt": null, "reports": [],
        }})
    );

    // Invalid parameters: 422 with the API's error shape.
    let (status, body) = json_of(
        send(
            &running,
            Route::Direct,
            ABUSEIPDB,
            get(ABUSEIPDB, "/api/v2/check?ipAddress=nope", "Key", Some("k")),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        json!({"errors": [{"detail": "The ip address must be a valid IPv4 or IPv6 address (e.g. 8.8.8.8 or 2001:4860:4860::8888).", "source": {"parameter": "ipAddress"}, "status": 422}]})
    );
    let (status, body) = json_of(
        send(
            &running,
            Route::Direct,
            ABUSEIPDB,
            get(
                ABUSEIPDB,
                "/api/v2/check?ipAddress=1.2.3.4&maxAgeInDays=400",
                "Key",
                Some("k"),
            ),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["source"]["parameter"], "maxAgeInDays");
}

#[tokio::test]
async fn abuseipdb_check_block_computes_the_network_and_lists_reported_addresses() {
    let running = start().await;
    let (status, body) = json_of(
        send(
            &running,
            Route::Proxy,
            ABUSEIPDB,
            get(
                ABUSEIPDB,
                "/api/v2/check-block?maxAgeInDays=30&network=118.25.6.0%2F24",
                "Key",
                Some("k"),
            ),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["networkAddress"], "118.25.6.0");
    assert_eq!(body["data"]["reportedAddress"].as_array().unwrap().len(), 4);

    let (status, body) = json_of(
        send(
            &running,
            Route::Direct,
            ABUSEIPDB,
            get(
                ABUSEIPDB,
                "/api/v2/check-block?network=10.1.2.3/30",
                "Key",
                Some("k"),
            ),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"data": {
            "networkAddress": "10.1.2.0", "netmask": "255.255.255.252", "minAddress": "10.1.2.1",
            "maxAddress": "10.1.2.2", "numPossibleHosts": 2, "addressSpaceDesc": "Private-Use",
            "reportedAddress": [],
        }})
    );

    let (status, body) = json_of(
        send(
            &running,
            Route::Direct,
            ABUSEIPDB,
            get(
                ABUSEIPDB,
                "/api/v2/check-block?network=10.0.0.0/8",
                "Key",
                Some("k"),
            ),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        json!({"errors": [{"detail": "The network may be at most a /16.", "source": {"parameter": "network"}, "status": 422}]})
    );
}

#[tokio::test]
async fn bad_and_missing_keys_get_each_apis_401() {
    let running = start().await;
    let abuse_401 = json!({"errors": [{"detail": "Authentication failed. Your API key is either missing, incorrect, or revoked. Note: The APIv2 key differs from the APIv1 key.", "status": 401}]});
    for key in [Some(keys::BAD), None, Some("")] {
        let (status, body) = json_of(
            send(
                &running,
                Route::Proxy,
                ABUSEIPDB,
                get(ABUSEIPDB, "/api/v2/check?ipAddress=8.8.8.8", "Key", key),
            )
            .await,
        )
        .await;
        assert_eq!((status, &body), (StatusCode::UNAUTHORIZED, &abuse_401));

        let (status, body) = json_of(
            send(
                &running,
                Route::Proxy,
                URLHAUS,
                post_form(URLHAUS, "/v1/url/", key, "url=http%3A%2F%2Fa.test%2F"),
            )
            .await,
        )
        .await;
        assert_eq!(
            (status, body),
            (
                StatusCode::UNAUTHORIZED,
                json!({"query_status": "unknown_auth_key"})
            )
        );

        let (status, body) = json_of(
            send(
                &running,
                Route::Proxy,
                GREYNOISE,
                get(GREYNOISE, "/v3/ip/8.8.8.8", "key", key),
            )
            .await,
        )
        .await;
        assert_eq!(
            (status, body),
            (
                StatusCode::UNAUTHORIZED,
                json!({"message": "Authentication required. Invalid or missing API key."})
            )
        );
    }
}

#[tokio::test]
async fn rate_limited_keys_get_429_with_retry_after() {
    let running = start().await;
    let cases = [
        (
            ABUSEIPDB,
            get(
                ABUSEIPDB,
                "/api/v2/check?ipAddress=8.8.8.8",
                "Key",
                Some(keys::RATE_LIMITED),
            ),
            json!({"errors": [{"detail": "Daily rate limit of 1000 requests exceeded for this endpoint. See headers for additional details.", "status": 429}]}),
        ),
        (
            URLHAUS,
            post_form(
                URLHAUS,
                "/v1/host/",
                Some(keys::RATE_LIMITED),
                "host=a.test",
            ),
            json!({"query_status": "rate_limit_exceeded"}),
        ),
        (
            GREYNOISE,
            get(GREYNOISE, "/v3/ip/8.8.8.8", "key", Some(keys::RATE_LIMITED)),
            json!({"message": "API rate limit exceeded."}),
        ),
    ];
    for (host, request, expected) in cases {
        let response = send(&running, Route::Direct, host, request).await;
        assert_eq!(response.headers()["retry-after"], "1", "{host}");
        if host == ABUSEIPDB {
            assert_eq!(response.headers()["x-ratelimit-remaining"], "0");
        }
        let (status, body) = json_of(response).await;
        assert_eq!(
            (status, body),
            (StatusCode::TOO_MANY_REQUESTS, expected),
            "{host}"
        );
    }
}

#[tokio::test]
async fn malformed_key_gets_200_with_a_body_that_is_not_json() {
    let running = start().await;
    for (host, request) in [
        (
            ABUSEIPDB,
            get(
                ABUSEIPDB,
                "/api/v2/check?ipAddress=8.8.8.8",
                "Key",
                Some(keys::MALFORMED),
            ),
        ),
        (
            URLHAUS,
            post_form(
                URLHAUS,
                "/v1/payload/",
                Some(keys::MALFORMED),
                "md5_hash=00",
            ),
        ),
        (
            GREYNOISE,
            get(GREYNOISE, "/v3/ip/8.8.8.8", "key", Some(keys::MALFORMED)),
        ),
    ] {
        let (status, content_type, body) =
            whole(send(&running, Route::Proxy, host, request).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "application/json");
        assert_eq!(body, MALFORMED_BODY.as_bytes());
        assert!(serde_json::from_slice::<Value>(&body).is_err());
    }
}

#[tokio::test]
async fn slow_key_answers_the_good_answer_after_the_delay() {
    let running = start().await;
    let path = "/v3/ip/45.83.66.18";
    let (_, good) = json_of(
        send(
            &running,
            Route::Direct,
            GREYNOISE,
            get(GREYNOISE, path, "key", Some(keys::GOOD)),
        )
        .await,
    )
    .await;
    let started = Instant::now();
    let (status, slow) = json_of(
        send(
            &running,
            Route::Direct,
            GREYNOISE,
            get(GREYNOISE, path, "key", Some(keys::SLOW)),
        )
        .await,
    )
    .await;
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(slow, good);
    assert_eq!(
        slow["internet_scanner_intelligence"]["classification"],
        "malicious"
    );
}

#[tokio::test]
async fn redirect_key_answers_302_to_the_given_url() {
    let running = start().await;
    let key = "redirect:https://api.greynoise.io/v3/ip/8.8.8.8";
    let response = send(
        &running,
        Route::Proxy,
        URLHAUS,
        post_form(URLHAUS, "/v1/url/", Some(key), "url=x"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        response.headers()["location"],
        "https://api.greynoise.io/v3/ip/8.8.8.8"
    );
    let (_, _, body) = whole(response).await;
    assert!(body.is_empty());
}

#[tokio::test]
async fn endless_key_streams_past_any_bound() {
    let running = start().await;
    let response = send(
        &running,
        Route::Direct,
        ABUSEIPDB,
        get(
            ABUSEIPDB,
            "/api/v2/check?ipAddress=8.8.8.8",
            "Key",
            Some(keys::ENDLESS),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("content-length").is_none());
    let mut body = response.into_body();
    let mut received = Vec::new();
    while received.len() < 4 << 20 {
        let frame = body.frame().await.expect("the body ended").unwrap();
        received.extend_from_slice(frame.data_ref().unwrap());
    }
    assert!(received.starts_with(b"{\"data\": [0, 0, "));
}

#[tokio::test]
async fn trickle_key_sends_the_good_body_one_byte_per_interval() {
    let running = start().await;
    let expected = br#"{"query_status":"no_results"}"#;
    let started = Instant::now();
    let response = send(
        &running,
        Route::Proxy,
        URLHAUS,
        post_form(
            URLHAUS,
            "/v1/host/",
            Some(keys::TRICKLE),
            "host=nothing.test",
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let (_, content_type, body) = whole(response).await;
    assert_eq!(content_type, "application/json");
    assert_eq!(body, expected);
    // One pause of 10 ms before each byte.
    let least = Duration::from_millis(10) * u32::try_from(expected.len()).unwrap();
    assert!(
        started.elapsed() >= least,
        "{:?} < {least:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn urlhaus_answers_each_endpoint_by_observable() {
    let running = start().await;
    let cases: [(&str, &str, Value); 9] = [
        (
            "/v1/url/",
            "url=http%3A%2F%2Ffiles.example-malware.test%2Finvoice%2FINV-2024-0142.doc",
            json!("ok"),
        ),
        (
            "/v1/url/",
            "url=https%3A%2F%2Fexample.com%2F",
            json!("no_results"),
        ),
        (
            "/v1/url/",
            "url=ftp%3A%2F%2Fexample.com%2F",
            json!("invalid_url"),
        ),
        ("/v1/host/", "host=files.example-malware.test", json!("ok")),
        ("/v1/host/", "host=bad+host", json!("invalid_host")),
        (
            "/v1/payload/",
            "md5_hash=5d41402abc4b2a76b9719d911017c592",
            json!("ok"),
        ),
        ("/v1/payload/", "sha256_hash=00", json!("invalid_sha256")),
        (
            "/v1/payload/",
            "md5_hash=d41d8cd98f00b204e9800998ecf8427e",
            json!("no_results"),
        ),
        ("/v1/payload/", "", json!("missing_parameter")),
    ];
    for (path, form, query_status) in cases {
        let (status, body) = json_of(
            send(
                &running,
                Route::Proxy,
                URLHAUS,
                post_form(URLHAUS, path, Some("k"), form),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["query_status"], query_status, "{path} {form}");
    }
    let (_, body) = json_of(
        send(
            &running,
            Route::Direct,
            URLHAUS,
            post_form(
                URLHAUS,
                "/v1/payload/",
                Some("k"),
                "sha256_hash=486EA46224D1BB4FB680F34F7C9AD96A8F24EC88BE73EA8E5A6C65260E9CB8A7",
            ),
        )
        .await,
    )
    .await;
    assert_eq!(body["signature"], Value::Null);
    assert_eq!(body["md5_hash"], "7d793037a0760186574b0282f2f435e7");
}

#[tokio::test]
async fn greynoise_answers_as_the_sdk_expects() {
    let running = start().await;
    let cases = [
        ("45.83.66.18", true, false),
        ("71.6.135.131", true, false),
        ("89.248.167.131", true, false),
        ("8.8.8.8", false, true),
        ("52.20.10.10", true, true),
    ];
    for (ip, scanner, business) in cases {
        let (status, body) = json_of(
            send(
                &running,
                Route::Proxy,
                GREYNOISE,
                get(GREYNOISE, &format!("/v3/ip/{ip}"), "key", Some("k")),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["ip"], ip);
        assert_eq!(
            body["internet_scanner_intelligence"]["found"], scanner,
            "{ip}"
        );
        assert_eq!(
            body["business_service_intelligence"]["found"], business,
            "{ip}"
        );
    }
    let (status, body) = json_of(
        send(
            &running,
            Route::Proxy,
            GREYNOISE,
            get(GREYNOISE, "/v3/ip/93.184.216.34", "key", Some("k")),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::NOT_FOUND,
            json!({"message": "IP not observed scanning the internet or contained in business services data."})
        )
    );
}

/// Plain HTTP on the API port: `request`'s whole answer (the stand-in closes after it).
async fn plain(running: &Running, request: &str) -> String {
    let mut tcp = TcpStream::connect(running.addr()).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn stats_count_requests_tunnels_and_bytes() {
    let running = start().await;
    assert_eq!(running.stats(), api_standin::Stats::default());
    send(
        &running,
        Route::Proxy,
        ABUSEIPDB,
        get(
            ABUSEIPDB,
            "/api/v2/check?ipAddress=8.8.8.8",
            "Key",
            Some("k"),
        ),
    )
    .await;
    send(
        &running,
        Route::Proxy,
        GREYNOISE,
        get(GREYNOISE, "/v3/ip/8.8.8.8", "key", Some("k")),
    )
    .await;
    send(
        &running,
        Route::Direct,
        GREYNOISE,
        get(GREYNOISE, "/v3/ip/8.8.8.8", "key", Some("k")),
    )
    .await;

    let refused = plain(
        &running,
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    )
    .await;
    assert!(
        refused.starts_with("HTTP/1.1 403 Forbidden\r\n"),
        "{refused}"
    );
    assert!(refused.ends_with(
        "api-standin tunnels only to api.abuseipdb.com, urlhaus-api.abuse.ch, api.greynoise.io (any port), not \"example.com:443\"\n"
    ));
    let unknown = plain(&running, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await;
    assert!(
        unknown.starts_with("HTTP/1.1 404 Not Found\r\n"),
        "{unknown}"
    );

    let stats = running.stats();
    assert_eq!(stats.requests_to(ABUSEIPDB, "/api/v2/check"), 1);
    assert_eq!(stats.requests_to(GREYNOISE, "/v3/ip/8.8.8.8"), 2);
    assert_eq!(stats.total_requests(), 3);
    assert_eq!(
        (stats.connects, stats.connects_refused, stats.tls_sessions),
        (2, 1, 3)
    );
    assert!(stats.bytes_received > 0 && stats.bytes_sent > 0);

    // The same counters over plain HTTP, on the same port.
    let answer = plain(
        &running,
        "GET /_standin/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    )
    .await;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    let served: api_standin::Stats = serde_json::from_str(body).unwrap();
    assert_eq!(served.requests, stats.requests);
    assert_eq!(served.connects_refused, 1);
}

#[tokio::test]
async fn other_hosts_are_misdirected() {
    let running = start().await;
    let (status, _, body) = whole(
        send(
            &running,
            Route::Direct,
            "localhost",
            get("example.com", "/", "key", Some("k")),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "api-standin serves api.abuseipdb.com, urlhaus-api.abuse.ch, api.greynoise.io, not \"example.com\"\n"
    );
    assert_eq!(
        running.url_for(GREYNOISE),
        format!("https://api.greynoise.io:{}", running.addr().port())
    );
}

#[tokio::test]
async fn placeholders_fill_and_restore() {
    let running = start().await;
    let input = json!({"config": {"proxy": {"https": "http://127.0.0.1:STANDIN_PORT"}, "cacerts": "STANDIN_CA_PEM"}});
    let filled = api_standin::placeholders::fill(&input, &running);
    assert_eq!(filled["config"]["proxy"]["https"], running.proxy_url());
    assert_eq!(filled["config"]["cacerts"], running.ca_pem());
    assert_eq!(api_standin::placeholders::restore(&filled, &running), input);
}
