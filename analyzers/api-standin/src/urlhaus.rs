//! URLhaus API v1: `POST /v1/url/` (`url`), `/v1/host/` (`host`), `/v1/payload/` (`md5_hash`
//! or `sha256_hash`), form bodies, key in the `Auth-Key` header. Outcomes are in
//! `query_status`, as the real API reports them (`ok`, `no_results`, `invalid_url`, ...);
//! numbers it sends as strings stay strings.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::routes::ApiRequest;
use crate::scenario::{Api, Reply};

/// The key header and the key scenarios' answers.
pub(crate) const API: Api = Api {
    key_header: "Auth-Key",
    bad_key,
    rate_limited,
};

fn status(code: StatusCode, query_status: &str) -> Reply {
    Reply::json(code, &json!({"query_status": query_status}))
}

fn bad_key() -> Reply {
    status(StatusCode::UNAUTHORIZED, "unknown_auth_key")
}

/// abuse.ch does not document its rate-limit answer; this body is the stand-in's choice.
fn rate_limited() -> Reply {
    status(StatusCode::TOO_MANY_REQUESTS, "rate_limit_exceeded").with_header("Retry-After", "1")
}

/// The URL with a record (and its host, and its IP-host sibling).
pub const URL_FOUND: &str = "http://files.example-malware.test/invoice/INV-2024-0142.doc";
const HOST_FOUND: &str = "files.example-malware.test";
const IP_HOST_FOUND: &str = "198.51.100.23";
const URL_ON_IP: &str = "http://198.51.100.23/bins/mozi.m";
/// md5 and sha256 of the payload with a signature ("hello").
const MD5_FOUND: &str = "5d41402abc4b2a76b9719d911017c592";
const SHA256_FOUND: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
/// md5 and sha256 of the payload without a signature ("world").
const MD5_UNSIGNED: &str = "7d793037a0760186574b0282f2f435e7";
const SHA256_UNSIGNED: &str = "486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7";

/// The answer to a good key.
pub(crate) fn answer(req: &ApiRequest) -> Reply {
    let endpoint = req.path.trim_end_matches('/');
    if !matches!(endpoint, "/v1/url" | "/v1/host" | "/v1/payload") {
        return Reply::text(StatusCode::NOT_FOUND, "Not Found\n");
    }
    if req.method != Method::POST {
        return status(StatusCode::OK, "http_post_expected");
    }
    match endpoint {
        "/v1/url" => url(req.form("url").unwrap_or("")),
        "/v1/host" => host(req.form("host").unwrap_or("")),
        _ => payload(req),
    }
}

fn url(url: &str) -> Reply {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) || url.len() > 2048 {
        return status(StatusCode::OK, "invalid_url");
    }
    if url != URL_FOUND {
        return status(StatusCode::OK, "no_results");
    }
    Reply::json(
        StatusCode::OK,
        &json!({
            "query_status": "ok",
            "id": "2804411",
            "urlhaus_reference": "https://urlhaus.abuse.ch/url/2804411/",
            "url": URL_FOUND,
            "url_status": "online",
            "host": HOST_FOUND,
            "date_added": "2024-03-02 08:14:51 UTC",
            "last_online": "2024-03-05 10:00:00 UTC",
            "threat": "malware_download",
            "blacklists": {"spamhaus_dbl": "abused_legit_malware", "surbl": "listed"},
            "reporter": "example_reporter",
            "larted": "true",
            "takedown_time_seconds": null,
            "tags": ["doc", "Emotet", "epoch5"],
            "payloads": [payload_of_url(MD5_FOUND, SHA256_FOUND, Some("Emotet"))],
        }),
    )
}

fn payload_of_url(md5: &str, sha256: &str, signature: Option<&str>) -> Value {
    json!({
        "firstseen": "2024-03-02",
        "filename": "INV-2024-0142.doc",
        "file_type": "doc",
        "response_size": "172752",
        "response_md5": md5,
        "response_sha256": sha256,
        "urlhaus_download": format!("https://urlhaus-api.abuse.ch/v1/download/{sha256}/"),
        "signature": signature,
        "virustotal": {"result": "18 / 58", "percent": "31.03", "link": format!("https://www.virustotal.com/gui/file/{sha256}")},
        "imphash": null,
        "ssdeep": "3072:kb1pXgJ8t9s3mQ2v7r0Ld5hYc4xWn6Ue9pTf1Gq8Zo:kb1pQ8t9s3mQ2vLd5hY",
        "tlsh": "T1A4E3F1C2B3A49586E7D8C9B0A1F2E3D4C5B6A7980F1E2D3C4B5A69788F7E6D5C4B3A2",
    })
}

fn url_entry(id: &str, url: &str, status: &str, added: &str, tags: &[&str]) -> Value {
    json!({
        "id": id,
        "urlhaus_reference": format!("https://urlhaus.abuse.ch/url/{id}/"),
        "url": url,
        "url_status": status,
        "date_added": added,
        "threat": "malware_download",
        "reporter": "example_reporter",
        "larted": "true",
        "takedown_time_seconds": if status == "offline" { json!("86400") } else { Value::Null },
        "tags": tags,
    })
}

fn host(host: &str) -> Reply {
    if host.is_empty()
        || host.len() > 253
        || host.contains(|c: char| c.is_whitespace() || c == '/' || c == '?' || c == '#')
    {
        return status(StatusCode::OK, "invalid_host");
    }
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let urls = match host.as_str() {
        HOST_FOUND => vec![
            url_entry(
                "2804411",
                URL_FOUND,
                "online",
                "2024-03-02 08:14:51 UTC",
                &["doc", "Emotet", "epoch5"],
            ),
            url_entry(
                "2801999",
                "http://files.example-malware.test/invoice/",
                "offline",
                "2024-02-27 16:40:02 UTC",
                &["Emotet"],
            ),
        ],
        IP_HOST_FOUND => vec![url_entry(
            "2799001",
            URL_ON_IP,
            "online",
            "2024-02-20 03:00:00 UTC",
            &["elf", "Mozi", "mips"],
        )],
        _ => return status(StatusCode::OK, "no_results"),
    };
    Reply::json(
        StatusCode::OK,
        &json!({
            "query_status": "ok",
            "urlhaus_reference": format!("https://urlhaus.abuse.ch/host/{host}/"),
            "host": host,
            "firstseen": "2024-02-20 03:00:00 UTC",
            "url_count": urls.len().to_string(),
            "blacklists": {"spamhaus_dbl": "not listed", "surbl": "not listed"},
            "urls": urls,
        }),
    )
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn payload(req: &ApiRequest) -> Reply {
    let (md5, sha256) = match (req.form("md5_hash"), req.form("sha256_hash")) {
        (Some(md5), _) if !is_hex(md5, 32) => return status(StatusCode::OK, "invalid_md5"),
        (None, Some(sha)) if !is_hex(sha, 64) => return status(StatusCode::OK, "invalid_sha256"),
        (Some(md5), _) => (Some(md5.to_ascii_lowercase()), None),
        (None, Some(sha)) => (None, Some(sha.to_ascii_lowercase())),
        (None, None) => return status(StatusCode::OK, "missing_parameter"),
    };
    let signed = md5.as_deref() == Some(MD5_FOUND) || sha256.as_deref() == Some(SHA256_FOUND);
    let unsigned =
        md5.as_deref() == Some(MD5_UNSIGNED) || sha256.as_deref() == Some(SHA256_UNSIGNED);
    let (md5, sha256, signature, file_type) = if signed {
        (MD5_FOUND, SHA256_FOUND, json!("Emotet"), "doc")
    } else if unsigned {
        (MD5_UNSIGNED, SHA256_UNSIGNED, Value::Null, "elf")
    } else {
        return status(StatusCode::OK, "no_results");
    };
    let url = if signed { URL_FOUND } else { URL_ON_IP };
    Reply::json(
        StatusCode::OK,
        &json!({
            "query_status": "ok",
            "md5_hash": md5,
            "sha256_hash": sha256,
            "file_type": file_type,
            "file_size": if signed { "172752" } else { "5" },
            "signature": signature,
            "firstseen": "2024-02-20 03:00:00",
            "lastseen": if signed { json!("2024-03-05 10:00:00") } else { Value::Null },
            "url_count": "1",
            "urlhaus_download": format!("https://urlhaus-api.abuse.ch/v1/download/{sha256}/"),
            "virustotal": if signed {
                json!({"result": "18 / 58", "percent": "31.03", "link": format!("https://www.virustotal.com/gui/file/{sha256}")})
            } else {
                Value::Null
            },
            "imphash": null,
            "ssdeep": "3:hMCE:hM",
            "tlsh": null,
            "urls": [{
                "url_id": if signed { "2804411" } else { "2799001" },
                "url": url,
                "url_status": "online",
                "urlhaus_reference": format!("https://urlhaus.abuse.ch/url/{}/", if signed { "2804411" } else { "2799001" }),
                "filename": if signed { json!("INV-2024-0142.doc") } else { json!("mozi.m") },
                "firstseen": "2024-02-20",
                "lastseen": null,
            }],
        }),
    )
}
