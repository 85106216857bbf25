//! What a run may reach: the allowed origins, the addresses a name may resolve to, pinned
//! addresses, the proxy, the CA bundle and the per-run limits.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

pub use ipnet::IpNet;

/// One mebibyte.
const MIB: u64 = 1 << 20;

/// The network a component may use. A run without one (`RunSpec::network` is `None`) gets every
/// request denied.
///
/// | field | default |
/// | --- | --- |
/// | `allow` | none |
/// | `allow_addresses` | none |
/// | `resolve` | none |
/// | `max_requests` | 100 |
/// | `max_response_bytes` | 16 MiB |
/// | `request_timeout` | 30 s |
/// | `extra_roots_pem` | none |
/// | `proxy` | none |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// The origins (scheme, host, port) requests may go to; anything else is denied.
    pub allow: Vec<Origin>,
    /// Address ranges an allowed name may resolve to although they are loopback, private,
    /// link-local or otherwise internal (refused by default, see [`special_address`]).
    pub allow_addresses: Vec<IpNet>,
    /// Addresses pinned for a host and port instead of asking the resolver (like curl's
    /// `--resolve`); the pinned addresses are checked like resolved ones.
    pub resolve: Vec<Pinned>,
    /// Requests one run may start; the next ones are denied.
    pub max_requests: u32,
    /// Bytes of one response body the guest may read; beyond, the body ends with an error.
    pub max_response_bytes: u64,
    /// Time from the start of one request to the end of its response body.
    pub request_timeout: Duration,
    /// PEM certificates trusted besides the system's roots (the job's `cacerts`).
    pub extra_roots_pem: Vec<u8>,
    /// The proxy requests go through (cortexutils' `config.proxy.http` / `config.proxy.https`).
    pub proxy: Proxies,
}

impl Default for NetworkPolicy {
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            allow_addresses: Vec::new(),
            resolve: Vec::new(),
            max_requests: 100,
            max_response_bytes: 16 * MIB,
            request_timeout: Duration::from_secs(30),
            extra_roots_pem: Vec::new(),
            proxy: Proxies::default(),
        }
    }
}

impl NetworkPolicy {
    /// Whether `origin` is in the allowlist.
    pub fn allows(&self, origin: &Origin) -> bool {
        self.allow.iter().any(|allowed| allowed == origin)
    }

    /// Whether `ip` may be connected to although [`special_address`] names it: it is in
    /// `allow_addresses`, or an allowed origin names it literally.
    pub fn allows_address(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.allow_addresses.iter().any(|net| net.contains(&ip))
            || self
                .allow
                .iter()
                .any(|origin| origin.host.parse::<IpAddr>().ok().map(canonical) == Some(ip))
    }

    /// The addresses pinned for `host:port`, if any.
    pub fn pinned(&self, host: &str, port: u16) -> Option<&[SocketAddr]> {
        self.resolve
            .iter()
            .find(|p| p.host == host && p.port == port)
            .map(|p| p.addrs.as_slice())
    }
}

/// The proxies of cortexutils' `config.proxy`: one for `http://` and one for `https://` URLs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proxies {
    /// For `http://` requests (the request is sent to it in absolute form).
    pub http: Option<ProxyAddr>,
    /// For `https://` requests (a `CONNECT` tunnel through it).
    pub https: Option<ProxyAddr>,
}

/// A proxy's host and port (`http://host:port`; the proxy itself is spoken to in plain HTTP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyAddr {
    /// Host name or address.
    pub host: String,
    /// Port; 80 when the URL has none, as requests does for an `http://` proxy.
    pub port: u16,
}

impl FromStr for ProxyAddr {
    type Err = String;

    /// Parses `http://host[:port][/]`, the form cortexutils' `config.proxy.*` takes.
    fn from_str(text: &str) -> Result<Self, String> {
        let origin: Origin = text.parse().map_err(|e| format!("proxy {text:?}: {e}"))?;
        if origin.scheme != Scheme::Http {
            return Err(format!(
                "proxy {text:?}: only http:// proxies are supported (the tunnel to an https:// \
                 site is encrypted end to end)"
            ));
        }
        Ok(Self {
            host: origin.host,
            port: origin.port,
        })
    }
}

impl std::fmt::Display for ProxyAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}", host_port(&self.host, self.port))
    }
}

/// Addresses pinned for one host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    /// The host name, lower case.
    pub host: String,
    /// The port.
    pub port: u16,
    /// Where to connect instead of the resolver's answer.
    pub addrs: Vec<SocketAddr>,
}

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// The port a URL without one uses.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// Where a request goes: scheme, host (lower case, an IPv6 address without brackets) and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The scheme.
    pub scheme: Scheme,
    /// The host: a DNS name in lower case without a trailing dot, or an IP address.
    pub host: String,
    /// The port (the scheme's default when the URL has none).
    pub port: u16,
}

impl Origin {
    /// The origin of a request URI; `None` when the URI has no scheme or host, or a scheme other
    /// than http and https.
    pub fn of_uri(uri: &http::Uri) -> Option<Self> {
        let scheme = match uri.scheme_str()? {
            s if s.eq_ignore_ascii_case("http") => Scheme::Http,
            s if s.eq_ignore_ascii_case("https") => Scheme::Https,
            _ => return None,
        };
        let host = normalise_host(uri.host()?)?;
        Some(Self {
            scheme,
            host,
            port: uri.port_u16().unwrap_or(scheme.default_port()),
        })
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://", self.scheme.as_str())?;
        if self.port == self.scheme.default_port() {
            match self.host.parse::<IpAddr>() {
                Ok(IpAddr::V6(v6)) => write!(f, "[{v6}]"),
                _ => f.write_str(&self.host),
            }
        } else {
            f.write_str(&host_port(&self.host, self.port))
        }
    }
}

impl FromStr for Origin {
    type Err = String;

    /// Parses `scheme://host[:port][/]`: scheme `http` or `https`, no user, path, query or
    /// fragment; the error says what was expected.
    fn from_str(text: &str) -> Result<Self, String> {
        const EXPECTED: &str = "expected scheme://host[:port] with scheme http or https, \
                                e.g. \"https://api.abuseipdb.com\"";
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| format!("{text:?} has no scheme: {EXPECTED}"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => return Err(format!("scheme {other:?} is not http or https: {EXPECTED}")),
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#', '@']) || authority.is_empty() {
            return Err(format!(
                "{text:?} is not an origin (it has a path, query, fragment or user, or no \
                 host): {EXPECTED}"
            ));
        }
        let (host, port) = split_host_port(authority)
            .ok_or_else(|| format!("{text:?} has a bad port: {EXPECTED}"))?;
        let host = normalise_host(host).ok_or_else(|| {
            format!("{text:?}: {host:?} is not a host name or an IP address: {EXPECTED}")
        })?;
        Ok(Self {
            scheme,
            host,
            port: port.unwrap_or(scheme.default_port()),
        })
    }
}

/// Splits `host[:port]` / `[v6][:port]`; `None` for a bad port.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            port => Some((host, Some(port.strip_prefix(':')?.parse().ok()?))),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host, Some(port.parse().ok().filter(|p| *p != 0)?))),
        None => Some((authority, None)),
    }
}

/// A host as compared: an IP address in its canonical text, or a DNS name in lower case without
/// a trailing dot; `None` when it is neither (characters outside `[a-z0-9.-_]`, empty labels,
/// labels over 63 or names over 253 bytes).
pub(crate) fn normalise_host(host: &str) -> Option<String> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(ip.to_string());
    }
    let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    valid.then_some(name)
}

/// `host:port`, with brackets around an IPv6 address.
pub(crate) fn host_port(host: &str, port: u16) -> String {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("[{v6}]:{port}"),
        _ => format!("{host}:{port}"),
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it carries; others unchanged.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// What kind of internal address `ip` is — loopback, private, link-local, the cloud metadata
/// service and the other ranges a name on the internet must not lead to — or `None` for a
/// public address. IPv4-mapped and NAT64 IPv6 addresses are judged by the IPv4 address inside.
pub fn special_address(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if [169, 254, 169, 254] == v4.octets() || [100, 100, 100, 200] == v4.octets() {
                Some("cloud metadata")
            } else if v4.is_private() {
                Some("private")
            } else if v4.is_link_local() {
                Some("link-local")
            } else if v4.is_unspecified() || a == 0 {
                Some("unspecified (\"this network\")")
            } else if v4.is_broadcast() {
                Some("broadcast")
            } else if v4.is_multicast() {
                Some("multicast")
            } else if a == 100 && (64..128).contains(&b) {
                Some("shared (carrier-grade NAT)")
            } else if a == 192 && b == 0 && c == 0 {
                Some("IETF protocol assignment")
            } else if a == 198 && (b == 18 || b == 19) {
                Some("benchmarking")
            } else if a >= 240 {
                Some("reserved")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if segments[..4] == [0xfd00, 0x0ec2, 0, 0] {
                Some("cloud metadata")
            } else if segments[0] & 0xfe00 == 0xfc00 {
                Some("private (unique local)")
            } else if segments[0] & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let v4 = std::net::Ipv4Addr::new(
                    (segments[6] >> 8) as u8,
                    segments[6] as u8,
                    (segments[7] >> 8) as u8,
                    segments[7] as u8,
                );
                special_address(IpAddr::V4(v4))
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_parse_and_print() {
        let o: Origin = "https://API.AbuseIPDB.com/".parse().unwrap();
        assert_eq!(o.host, "api.abuseipdb.com");
        assert_eq!(o.port, 443);
        assert_eq!(o.to_string(), "https://api.abuseipdb.com");
        let o: Origin = "http://127.0.0.1:8080".parse().unwrap();
        assert_eq!(o.to_string(), "http://127.0.0.1:8080");
        let o: Origin = "https://[::1]:8443".parse().unwrap();
        assert_eq!((o.host.as_str(), o.port), ("::1", 8443));
        assert_eq!(o.to_string(), "https://[::1]:8443");
    }

    #[test]
    fn bad_origins_say_what_was_expected() {
        let cases = [
            (
                "api.abuseipdb.com",
                "\"api.abuseipdb.com\" has no scheme: expected scheme://host[:port] with scheme http or https, e.g. \"https://api.abuseipdb.com\"",
            ),
            (
                "ftp://x.org",
                "scheme \"ftp\" is not http or https: expected scheme://host[:port] with scheme http or https, e.g. \"https://api.abuseipdb.com\"",
            ),
            (
                "https://x.org/api",
                "\"https://x.org/api\" is not an origin (it has a path, query, fragment or user, or no host): expected scheme://host[:port] with scheme http or https, e.g. \"https://api.abuseipdb.com\"",
            ),
            (
                "https://x.org:99999",
                "\"https://x.org:99999\" has a bad port: expected scheme://host[:port] with scheme http or https, e.g. \"https://api.abuseipdb.com\"",
            ),
            (
                "https://*.x.org",
                "\"https://*.x.org\": \"*.x.org\" is not a host name or an IP address: expected scheme://host[:port] with scheme http or https, e.g. \"https://api.abuseipdb.com\"",
            ),
        ];
        for (text, message) in cases {
            assert_eq!(text.parse::<Origin>().unwrap_err(), message, "{text}");
        }
    }

    #[test]
    fn internal_addresses_are_named() {
        let kind = |s: &str| special_address(s.parse().unwrap());
        assert_eq!(kind("127.0.0.1"), Some("loopback"));
        assert_eq!(kind("169.254.169.254"), Some("cloud metadata"));
        assert_eq!(kind("169.254.1.1"), Some("link-local"));
        assert_eq!(kind("10.1.2.3"), Some("private"));
        assert_eq!(kind("192.168.0.1"), Some("private"));
        assert_eq!(kind("172.16.0.1"), Some("private"));
        assert_eq!(kind("100.64.0.1"), Some("shared (carrier-grade NAT)"));
        assert_eq!(kind("0.0.0.0"), Some("unspecified (\"this network\")"));
        assert_eq!(kind("::1"), Some("loopback"));
        assert_eq!(kind("::ffff:127.0.0.1"), Some("loopback"));
        assert_eq!(kind("::ffff:169.254.169.254"), Some("cloud metadata"));
        assert_eq!(kind("64:ff9b::a9fe:a9fe"), Some("cloud metadata"));
        assert_eq!(kind("fd00:ec2::254"), Some("cloud metadata"));
        assert_eq!(kind("fd12::1"), Some("private (unique local)"));
        assert_eq!(kind("fe80::1"), Some("link-local"));
        assert_eq!(kind("1.2.3.4"), None);
        assert_eq!(kind("2606:4700::1111"), None);
    }

    #[test]
    fn a_literal_allowed_origin_names_its_address() {
        let policy = NetworkPolicy {
            allow: vec!["http://127.0.0.1:8080".parse().unwrap()],
            allow_addresses: vec!["10.0.0.0/8".parse().unwrap()],
            ..NetworkPolicy::default()
        };
        assert!(policy.allows_address("127.0.0.1".parse().unwrap()));
        assert!(policy.allows_address("::ffff:127.0.0.1".parse().unwrap()));
        assert!(policy.allows_address("10.9.9.9".parse().unwrap()));
        assert!(!policy.allows_address("127.0.0.2".parse().unwrap()));
        assert!(!policy.allows_address("169.254.169.254".parse().unwrap()));
    }
}
