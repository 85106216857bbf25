//! URL checks and the redirect rules of `requests` (`SessionRedirectMixin`).

use super::encode::requote;
use super::error::{HttpError, Result};
use super::response::Response;
use super::{Method, Request};

/// The parts of an absolute `http`/`https` URL this client needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parts<'a> {
    /// `http` or `https`, in lower case.
    pub(crate) scheme: String,
    /// `host[:port]`, without user information.
    pub(crate) authority: &'a str,
    /// The host name alone, without brackets, in lower case.
    pub(crate) host: String,
    /// The port, given or the scheme's default.
    pub(crate) port: u16,
    /// Everything from the path on (`/` when the URL has no path).
    pub(crate) rest: &'a str,
}

/// Splits an absolute URL, or says why it cannot be requested.
pub(crate) fn parse(url: &str) -> Result<Parts<'_>> {
    let invalid = |reason: &str| HttpError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let (scheme, after) = url
        .split_once("://")
        .ok_or_else(|| invalid("no scheme: the URL must start with http:// or https://"))?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Err(invalid("only http:// and https:// URLs can be requested")),
    };
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    if authority.contains('@') {
        return Err(invalid("user information in URLs is not supported"));
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, tail) = v6
                .split_once(']')
                .ok_or_else(|| invalid("unclosed [ in the host"))?;
            (host, tail.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() {
        return Err(invalid("no host"));
    }
    let port = match port {
        None | Some("") => default_port,
        Some(p) => p.parse().map_err(|_| invalid("invalid port"))?,
    };
    Ok(Parts {
        scheme,
        authority,
        host: host.to_ascii_lowercase(),
        port,
        rest: if rest.is_empty() { "/" } else { rest },
    })
}

/// Checks that `url` can be requested.
pub(crate) fn check_url(url: &str) -> Result<()> {
    parse(url).map(|_| ())
}

/// The request `requests` would send after `response`, or `None` when `response` is not a
/// redirect (a 301, 302, 303, 307 or 308 with a `Location`).
pub(crate) fn next_hop(request: &Request, response: &Response) -> Result<Option<Request>> {
    if !matches!(response.status, 301 | 302 | 303 | 307 | 308) {
        return Ok(None);
    }
    let Some(location) = response.header("location") else {
        return Ok(None);
    };
    let url = join(&request.url, location)?;
    let mut next = request.clone();
    // rebuild_method: 303 and 302 make anything but HEAD a GET, 301 makes a POST a GET.
    next.method = match (response.status, request.method) {
        (302 | 303, Method::Head) => Method::Head,
        (302 | 303, _) | (301, Method::Post) => Method::Get,
        (_, method) => method,
    };
    // Only 307 and 308 resend the body.
    if !matches!(response.status, 307 | 308) {
        next.body = None;
        for name in ["Content-Length", "Content-Type", "Transfer-Encoding"] {
            next.remove_header(name);
        }
    }
    if strip_auth(&request.url, &url) {
        next.remove_header("Authorization");
    }
    next.url = url;
    Ok(Some(next))
}

/// `requests`' `should_strip_auth`: credentials go only to the same host, or from `http` on
/// port 80 to `https` on 443 of the same host.
fn strip_auth(old: &str, new: &str) -> bool {
    let (Ok(old), Ok(new)) = (parse(old), parse(new)) else {
        return true;
    };
    if old.host != new.host {
        return true;
    }
    if old.scheme == "http" && old.port == 80 && new.scheme == "https" && new.port == 443 {
        return false;
    }
    old.scheme != new.scheme || old.port != new.port
}

/// Resolves a `Location` against the URL it came from (RFC 3986, section 5.2), after
/// `requests`' requoting.
pub(crate) fn join(base: &str, location: &str) -> Result<String> {
    let location = requote(location.trim());
    if has_scheme(&location) {
        return Ok(location);
    }
    let base_parts = parse(base)?;
    if let Some(tail) = location.strip_prefix("//") {
        return Ok(format!("{}://{tail}", base_parts.scheme));
    }
    let origin = format!("{}://{}", base_parts.scheme, base_parts.authority);
    let rest = base_parts.rest;
    let base_path_query = rest.split('#').next().unwrap_or("");
    let base_path = base_path_query.split('?').next().unwrap_or("");
    let joined = if location.is_empty() {
        base_path_query.to_owned()
    } else if location.starts_with('#') {
        format!("{base_path_query}{location}")
    } else if location.starts_with('?') {
        format!("{base_path}{location}")
    } else if location.starts_with('/') {
        remove_dot_segments(&location)
    } else {
        let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
        remove_dot_segments(&format!("{dir}{location}"))
    };
    let joined = if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    };
    Ok(format!("{origin}{joined}"))
}

fn has_scheme(url: &str) -> bool {
    match url.find(':') {
        Some(i) if i > 0 => {
            let scheme = &url[..i];
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && !url[..i].contains('/')
        }
        _ => false,
    }
}

/// RFC 3986's `remove_dot_segments` on a path that may carry a query and fragment.
fn remove_dot_segments(path_etc: &str) -> String {
    let split = path_etc.find(['?', '#']).unwrap_or(path_etc.len());
    let (path, tail) = path_etc.split_at(split);
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let mut joined = out.join("/");
    if !joined.starts_with('/') {
        joined.insert(0, '/');
    }
    format!("{joined}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_and_ports() {
        let p = parse("https://API.example.com:8443/x?y").unwrap();
        assert_eq!(
            (p.scheme.as_str(), p.host.as_str(), p.port, p.rest),
            ("https", "api.example.com", 8443, "/x?y")
        );
        let p = parse("http://[::1]/").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("::1", 80));
        assert_eq!(parse("https://h").unwrap().rest, "/");
        assert_eq!(
            parse("ftp://h/").unwrap_err().to_string(),
            "invalid URL \"ftp://h/\": only http:// and https:// URLs can be requested"
        );
        assert_eq!(
            parse("h/x").unwrap_err().to_string(),
            "invalid URL \"h/x\": no scheme: the URL must start with http:// or https://"
        );
        assert!(parse("https://u:p@h/").is_err());
        assert!(parse("https://:80/").is_err());
    }

    /// Expected values are CPython 3.11's `urllib.parse.urljoin`.
    #[test]
    fn joins_locations_as_urljoin() {
        let base = "https://h:8443/a/b/c?q=1#f";
        for (location, joined) in [
            ("https://other/x", "https://other/x"),
            ("//other/x", "https://other/x"),
            ("/x/y", "https://h:8443/x/y"),
            ("d", "https://h:8443/a/b/d"),
            ("../d?z", "https://h:8443/a/d?z"),
            ("./", "https://h:8443/a/b/"),
            ("?z=2", "https://h:8443/a/b/c?z=2"),
            ("../../../d", "https://h:8443/d"),
            ("/a b", "https://h:8443/a%20b"),
        ] {
            assert_eq!(join(base, location).unwrap(), joined, "{location}");
        }
    }

    #[test]
    fn auth_stays_only_on_the_same_origin_or_the_https_upgrade() {
        assert!(!strip_auth("https://h/a", "https://h/b"));
        assert!(!strip_auth("http://h/a", "https://h/b"));
        assert!(strip_auth("https://h/a", "https://g/b"));
        assert!(strip_auth("https://h/a", "http://h/b"));
        assert!(strip_auth("https://h:1/a", "https://h:2/b"));
    }
}
