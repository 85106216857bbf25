//! GreyNoise API v3 as the `greynoise` 3.0.1 SDK's `GreyNoise(APIConfig(api_key=..)).ip(ip)`
//! calls it: `GET /v3/ip/<ip>`, key in the `key` header. The SDK returns a 404's body as the
//! answer and, when it has no `ip` member, adds `ip` and `found: false` for both datasets; it
//! raises on 429 (after its own three retries, which honour `Retry-After`) and on any other
//! status from 400 up.

use std::net::IpAddr;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::routes::ApiRequest;
use crate::scenario::{Api, Reply};

/// The key header and the key scenarios' answers.
pub(crate) const API: Api = Api {
    key_header: "key",
    bad_key,
    rate_limited,
};

fn message(code: StatusCode, text: &str) -> Reply {
    Reply::json(code, &json!({"message": text}))
}

fn bad_key() -> Reply {
    message(
        StatusCode::UNAUTHORIZED,
        "Authentication required. Invalid or missing API key.",
    )
}

fn rate_limited() -> Reply {
    message(StatusCode::TOO_MANY_REQUESTS, "API rate limit exceeded.")
        .with_header("Retry-After", "1")
}

/// The answer to a good key.
pub(crate) fn answer(req: &ApiRequest) -> Reply {
    let Some(ip) = req.path.strip_prefix("/v3/ip/") else {
        return message(StatusCode::NOT_FOUND, "Not found.");
    };
    if req.method != Method::GET {
        return message(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.");
    }
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return message(StatusCode::BAD_REQUEST, "Invalid IP address.");
    };
    let ip = ip.to_string();
    let (scanner, business) = match ip.as_str() {
        "45.83.66.18" => (Some(scanner_malicious()), None),
        "71.6.135.131" => (Some(scanner_benign()), None),
        "89.248.167.131" => (Some(scanner_unknown()), None),
        "8.8.8.8" => (None, Some(business("Google Public DNS", "public_dns", "1"))),
        "52.20.10.10" => (
            Some(scanner_benign()),
            Some(business("Example Uptime Monitoring", "monitoring", "2")),
        ),
        _ => {
            return message(
                StatusCode::NOT_FOUND,
                "IP not observed scanning the internet or contained in business services data.",
            );
        }
    };
    Reply::json(
        StatusCode::OK,
        &json!({
            "ip": ip,
            "business_service_intelligence": business.unwrap_or_else(business_not_found),
            "internet_scanner_intelligence": scanner.unwrap_or_else(scanner_not_found),
            "request_metadata": {"restricted_fields": []},
        }),
    )
}

fn business(name: &str, category: &str, trust_level: &str) -> Value {
    json!({
        "found": true,
        "category": category,
        "name": name,
        "description": format!("{name}: a service whose addresses are expected in traffic."),
        "explanation": "Traffic from this service is benign and can be safely ignored.",
        "last_updated": "2024-06-01T00:00:00Z",
        "reference": "https://example.com/service-addresses",
        "trust_level": trust_level,
    })
}

fn business_not_found() -> Value {
    json!({
        "found": false, "category": "", "name": "", "description": "", "explanation": "",
        "last_updated": "", "reference": "", "trust_level": "",
    })
}

fn scanner_not_found() -> Value {
    json!({
        "found": false, "first_seen": "", "last_seen": "", "tags": [], "actor": "",
        "spoofable": false, "classification": "", "cves": [], "bot": false, "vpn": false,
        "vpn_service": "", "tor": false, "metadata": {}, "raw_data": {}, "last_seen_timestamp": "",
    })
}

fn tag(slug: &str, name: &str, category: &str, intention: &str, cves: &[&str]) -> Value {
    json!({
        "id": format!("00000000-0000-4000-8000-{:012x}", slug.len() * 7919),
        "slug": slug,
        "name": name,
        "description": format!("IP addresses with this tag have been observed: {name}."),
        "category": category,
        "intention": intention,
        "references": [format!("https://example.com/tags/{slug}")],
        "cves": cves,
        "recommend_block": intention == "malicious",
        "created": "2023-01-10",
        "updated_at": "2024-05-01T12:00:00Z",
    })
}

fn scanner(
    classification: &str,
    actor: &str,
    tags: Vec<Value>,
    cves: &[&str],
    country: (&str, &str),
) -> Value {
    json!({
        "found": true,
        "first_seen": "2023-11-02",
        "last_seen": "2024-06-10",
        "tags": tags,
        "actor": actor,
        "spoofable": false,
        "classification": classification,
        "cves": cves,
        "bot": false,
        "vpn": false,
        "vpn_service": "",
        "tor": false,
        "metadata": {
            "asn": "AS64500",
            "source_country": country.1,
            "source_country_code": country.0,
            "source_city": "Amsterdam",
            "domain": "example-hosting.net",
            "rdns_parent": "example-hosting.net",
            "rdns_validated": false,
            "organization": "Example Hosting B.V.",
            "category": "hosting",
            "rdns": "scan-1.example-hosting.net",
            "os": "Linux 2.2-3.x",
            "sensor_count": 211,
            "sensor_hits": 48213,
            "region": "North Holland",
            "mobile": false,
            "single_destination": false,
            "destination_countries": ["United States", "Germany"],
            "destination_country_codes": ["US", "DE"],
            "destination_asns": [],
            "destination_cities": [],
            "carrier": "",
            "datacenter": "",
            "longitude": 4.8897,
            "latitude": 52.374,
        },
        "raw_data": {
            "scan": [{"port": 22, "protocol": "TCP"}, {"port": 23, "protocol": "TCP"}],
            "ja3": [],
            "hassh": [],
            "http": {"md5": [], "cookie_keys": [], "request_authorization": [], "request_cookies": [], "request_header": [], "method": [], "path": [], "request_origin": [], "useragent": []},
            "source": {"bytes": 1048576},
            "tls": {"cipher": [], "ja4": []},
            "ssh": {"key": []},
        },
        "last_seen_timestamp": "2024-06-10 23:59:59",
    })
}

fn scanner_malicious() -> Value {
    scanner(
        "malicious",
        "unknown",
        vec![
            tag("mirai", "Mirai", "worm", "malicious", &[]),
            tag(
                "ssh-bruteforcer",
                "SSH Bruteforcer",
                "activity",
                "malicious",
                &[],
            ),
            tag(
                "cve-2021-44228-log4j-rce-attempt",
                "Apache Log4j RCE Attempt",
                "activity",
                "malicious",
                &["CVE-2021-44228"],
            ),
        ],
        &["CVE-2021-44228"],
        ("NL", "Netherlands"),
    )
}

fn scanner_benign() -> Value {
    scanner(
        "benign",
        "Shodan.io",
        vec![
            tag("shodan-io", "Shodan.io", "actor", "benign", &[]),
            tag("web-crawler", "Web Crawler", "activity", "unknown", &[]),
        ],
        &[],
        ("US", "United States"),
    )
}

fn scanner_unknown() -> Value {
    scanner(
        "unknown",
        "unknown",
        vec![
            tag(
                "telnet-scanner",
                "Telnet Scanner",
                "activity",
                "unknown",
                &[],
            ),
            tag("rdp-scanner", "RDP Scanner", "activity", "unknown", &[]),
            tag(
                "smbv1-scanner",
                "SMBv1 Crawler",
                "activity",
                "suspicious",
                &[],
            ),
        ],
        &[],
        ("RU", "Russia"),
    )
}
