//! AbuseIPDB APIv2: `GET /api/v2/check` (`ipAddress`, `maxAgeInDays`, `verbose`) and
//! `GET /api/v2/check-block` (`network`, `maxAgeInDays`), key in the `Key` header.
//!
//! Reports carry fixed dates, in 2024 or in 2099, and are returned whatever `maxAgeInDays` says:
//! the real API drops reports older than that relative to now, which would make a golden depend
//! on the day it was written. The original's "freshness" (reports in the last 24 h and 7 days,
//! counted from now) is then 0 for 2024 dates and counts 2099 dates (a negative age is within
//! both windows) until 2099.

use std::net::{IpAddr, Ipv4Addr};

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::routes::ApiRequest;
use crate::scenario::{Api, Reply};

/// The key header and the key scenarios' answers.
pub(crate) const API: Api = Api {
    key_header: "Key",
    bad_key,
    rate_limited,
};

fn errors(status: StatusCode, detail: &str, parameter: Option<&str>) -> Reply {
    let mut error = json!({"detail": detail});
    if let Some(parameter) = parameter {
        error["source"] = json!({"parameter": parameter});
    }
    error["status"] = json!(status.as_u16());
    Reply::json(status, &json!({"errors": [error]}))
}

fn bad_key() -> Reply {
    errors(
        StatusCode::UNAUTHORIZED,
        "Authentication failed. Your API key is either missing, incorrect, or revoked. Note: The APIv2 key differs from the APIv1 key.",
        None,
    )
}

fn rate_limited() -> Reply {
    errors(
        StatusCode::TOO_MANY_REQUESTS,
        "Daily rate limit of 1000 requests exceeded for this endpoint. See headers for additional details.",
        None,
    )
    .with_header("Retry-After", "1")
    .with_header("X-RateLimit-Limit", "1000")
    .with_header("X-RateLimit-Remaining", "0")
    .with_header("X-RateLimit-Reset", "1735689600")
}

/// The answer to a good key.
pub(crate) fn answer(req: &ApiRequest) -> Reply {
    let path = req.path.trim_end_matches('/');
    if path != "/api/v2/check" && path != "/api/v2/check-block" {
        return errors(
            StatusCode::NOT_FOUND,
            "The requested endpoint does not exist.",
            None,
        );
    }
    if req.method != Method::GET {
        return errors(
            StatusCode::METHOD_NOT_ALLOWED,
            "The method is not allowed for the requested URL.",
            None,
        );
    }
    if let Some(days) = req.query("maxAgeInDays")
        && !days.parse::<u32>().is_ok_and(|d| (1..=365).contains(&d))
    {
        return errors(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The max age in days must be between 1 and 365.",
            Some("maxAgeInDays"),
        );
    }
    if path == "/api/v2/check" {
        check(req)
    } else {
        check_block(req)
    }
}

fn check(req: &ApiRequest) -> Reply {
    let Some(ip) = req.query("ipAddress").filter(|ip| !ip.is_empty()) else {
        return errors(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The ip address field is required.",
            Some("ipAddress"),
        );
    };
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return errors(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The ip address must be a valid IPv4 or IPv6 address (e.g. 8.8.8.8 or 2001:4860:4860::8888).",
            Some("ipAddress"),
        );
    };
    let mut data = match ip.to_string().as_str() {
        "118.25.6.39" => malicious(),
        "8.8.8.8" => whitelisted(),
        "185.220.101.1" => tor_exit(),
        _ => unreported(ip),
    };
    // The real API gives countryName and reports only with `verbose`.
    if req.query("verbose").is_none()
        && let Some(map) = data.as_object_mut()
    {
        map.shift_remove("countryName");
        map.shift_remove("reports");
    }
    Reply::json(StatusCode::OK, &json!({"data": data}))
}

fn report(
    at: &str,
    comment: &str,
    categories: &[u32],
    reporter: u32,
    country: Option<(&str, &str)>,
) -> Value {
    json!({
        "reportedAt": at,
        "comment": comment,
        "categories": categories,
        "reporterId": reporter,
        "reporterCountryCode": country.map(|c| c.0),
        "reporterCountryName": country.map(|c| c.1),
    })
}

/// Seven reports from seven countries (one without a country, one lower-cased), categories
/// including one the original does not know (99); all in 2024.
fn malicious() -> Value {
    let us = Some(("US", "United States of America"));
    json!({
        "ipAddress": "118.25.6.39",
        "isPublic": true,
        "ipVersion": 4,
        "isWhitelisted": false,
        "abuseConfidenceScore": 100,
        "countryCode": "CN",
        "countryName": "China",
        "usageType": "Data Center/Web Hosting/Transit",
        "isp": "Tencent Cloud Computing (Beijing) Co. Ltd",
        "domain": "tencent.com",
        "hostnames": [],
        "isTor": false,
        "totalReports": 8,
        "numDistinctUsers": 7,
        "lastReportedAt": "2024-03-14T09:12:44+00:00",
        "reports": [
            report("2024-03-14T09:12:44+00:00", "SSH brute force, 412 attempts as root", &[18, 22], 1011, us),
            report("2024-03-13T22:01:05+00:00", "Port scan 22, 2222, 8022", &[14], 2231, Some(("DE", "Germany"))),
            report("2024-03-12T17:45:00+00:00", "", &[18, 22], 1011, us),
            report("2024-03-10T03:30:19+00:00", "wp-login.php probing", &[21, 15], 3340, Some(("fr", "France"))),
            report("2024-03-09T11:11:11+00:00", "category from a newer list", &[99], 4410, None),
            report("2024-02-28T08:00:00Z", "SSH", &[22], 5120, Some(("GB", "United Kingdom of Great Britain and Northern Ireland"))),
            report("2024-02-20T14:05:59+00:00", "Telnet/IoT login attempts", &[23, 14], 6001, Some(("NL", "Netherlands"))),
            report("2024-02-01T00:00:00+00:00", "Mail relay abuse", &[11], 7002, Some(("JP", "Japan"))),
        ],
    })
}

/// Whitelisted, with reports: the original's summary levels them "info".
fn whitelisted() -> Value {
    json!({
        "ipAddress": "8.8.8.8",
        "isPublic": true,
        "ipVersion": 4,
        "isWhitelisted": true,
        "abuseConfidenceScore": 0,
        "countryCode": "US",
        "countryName": "United States of America",
        "usageType": "Content Delivery Network",
        "isp": "Google LLC",
        "domain": "google.com",
        "hostnames": ["dns.google"],
        "isTor": false,
        "totalReports": 2,
        "numDistinctUsers": 2,
        "lastReportedAt": "2024-05-01T06:00:00+00:00",
        "reports": [
            report("2024-05-01T06:00:00+00:00", "DNS amplification source (spoofed)", &[4, 1], 8101, Some(("BR", "Brazil"))),
            report("2024-04-11T19:30:00+00:00", "spoofed", &[4], 8102, Some(("IN", "India"))),
        ],
    })
}

/// A Tor exit whose reports are dated in 2099 (counted by the original's freshness windows),
/// one unparseable date, a domain and hostnames that need the original's clean-up (case, a
/// trailing dot, a duplicate, an empty one).
fn tor_exit() -> Value {
    json!({
        "ipAddress": "185.220.101.1",
        "isPublic": true,
        "ipVersion": 4,
        "isWhitelisted": false,
        "abuseConfidenceScore": 100,
        "countryCode": "DE",
        "countryName": "Germany",
        "usageType": "Data Center/Web Hosting/Transit",
        "isp": "Example Exit Relays e.V.",
        "domain": "Example-Exit.NET.",
        "hostnames": ["Exit-1.Example-Exit.NET.", "exit-1.example-exit.net", ""],
        "isTor": true,
        "totalReports": 4,
        "numDistinctUsers": 3,
        "lastReportedAt": "2099-06-30T12:00:00+00:00",
        "reports": [
            report("2099-06-30T12:00:00Z", "Tor exit: brute force", &[18, 9], 9001, Some(("US", "United States of America"))),
            report("2099-01-01T00:00:00+00:00", "Tor exit: SQLi", &[16, 21], 9002, Some(("US", "United States of America"))),
            report("yesterday", "a date the original cannot parse", &[15], 9003, Some(("CA", "Canada"))),
            report("2024-12-31T23:59:59+00:00", "Tor exit", &[9], 9001, Some(("US", "United States of America"))),
        ],
    })
}

/// Any other address: no reports. A public address has ISP data; the others are "Reserved".
fn unreported(ip: IpAddr) -> Value {
    let public = is_public(ip);
    json!({
        "ipAddress": ip.to_string(),
        "isPublic": public,
        "ipVersion": if ip.is_ipv4() { 4 } else { 6 },
        "isWhitelisted": if public { json!(false) } else { Value::Null },
        "abuseConfidenceScore": 0,
        "countryCode": if public { json!("NL") } else { Value::Null },
        "countryName": if public { json!("Netherlands") } else { Value::Null },
        "usageType": if public { "Fixed Line ISP" } else { "Reserved" },
        "isp": if public { "Example Telecom B.V." } else { "" },
        "domain": if public { json!("example-telecom.nl") } else { Value::Null },
        "hostnames": [],
        "isTor": false,
        "totalReports": 0,
        "numDistinctUsers": 0,
        "lastReportedAt": null,
        "reports": [],
    })
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast())
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            // Global unicast (2000::/3) minus documentation (2001:db8::/32).
            (first & 0xe000) == 0x2000 && !(first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

fn check_block(req: &ApiRequest) -> Reply {
    let Some(network) = req.query("network").filter(|n| !n.is_empty()) else {
        return errors(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The network field is required.",
            Some("network"),
        );
    };
    let parsed = network.split_once('/').and_then(|(addr, prefix)| {
        Some((
            addr.parse::<Ipv4Addr>().ok()?,
            prefix.parse::<u8>().ok().filter(|p| *p <= 32)?,
        ))
    });
    let Some((addr, prefix)) = parsed else {
        return errors(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The network must be a valid IPv4 CIDR network (e.g. 127.0.0.1/24); this stand-in answers IPv4 networks only.",
            Some("network"),
        );
    };
    if prefix < 16 {
        return errors(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The network may be at most a /16.",
            Some("network"),
        );
    }
    let mask = u32::MAX << (32 - u32::from(prefix));
    let base = u32::from(addr) & mask;
    let last = base | !mask;
    let (min, max, hosts) = match prefix {
        32 => (base, base, 1u64),
        31 => (base, last, 2),
        _ => (base + 1, last - 1, (1u64 << (32 - u32::from(prefix))) - 2),
    };
    let network_address = Ipv4Addr::from(base);
    let desc = if network_address.is_loopback() {
        "Loopback"
    } else if network_address.is_private() {
        "Private-Use"
    } else if network_address.is_documentation() {
        "Documentation"
    } else {
        "Internet"
    };
    let reported = if network_address == Ipv4Addr::new(118, 25, 6, 0) && prefix == 24 {
        json!([
            {"ipAddress": "118.25.6.39", "numReports": 8, "mostRecentReport": "2024-03-14T09:12:44+00:00", "abuseConfidenceScore": 100, "countryCode": "CN"},
            {"ipAddress": "118.25.6.12", "numReports": 3, "mostRecentReport": "2099-01-01T00:00:00+00:00", "abuseConfidenceScore": 42, "countryCode": "CN"},
            {"ipAddress": "118.25.6.200", "numReports": 1, "mostRecentReport": "2024-01-05T10:00:00+00:00", "abuseConfidenceScore": 0, "countryCode": null},
            {"ipAddress": "118.25.6.7", "numReports": 2, "mostRecentReport": "2024-02-11T08:30:00+00:00", "abuseConfidenceScore": 75, "countryCode": "cn"},
        ])
    } else {
        json!([])
    };
    Reply::json(
        StatusCode::OK,
        &json!({"data": {
            "networkAddress": network_address.to_string(),
            "netmask": Ipv4Addr::from(mask).to_string(),
            "minAddress": Ipv4Addr::from(min).to_string(),
            "maxAddress": Ipv4Addr::from(max).to_string(),
            "numPossibleHosts": hosts,
            "addressSpaceDesc": desc,
            "reportedAddress": reported,
        }}),
    )
}
