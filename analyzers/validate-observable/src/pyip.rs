//! CPython 3.11's `ipaddress` parsing and address classes, as the original uses them:
//! `ip_address(text)`, `ip_network(text, strict=False)`, `is_loopback`, `is_private`,
//! `is_reserved`.
//!
//! Not `std::net`: Python accepts scope ids (`fe80::1%eth0`) and dotted netmasks
//! (`10.0.0.0/255.0.0.0`), and its `is_private` / `is_reserved` follow the IANA special-purpose
//! registries (`192.0.2.0/24` is private, IPv6 `::/8` is reserved), unlike the `std` methods.

/// A parsed address, as `ip_address` returns it (a scope id does not change the number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PyIp {
    /// An `IPv4Address`.
    V4(u32),
    /// An `IPv6Address`.
    V6(u128),
}

/// `IPv4Address._ip_int_from_string`: four dot-separated ASCII decimal octets of at most three
/// digits, no leading zero, each at most 255.
pub fn parse_v4(text: &str) -> Option<u32> {
    let octets: Vec<&str> = text.split('.').collect();
    if octets.len() != 4 {
        return None;
    }
    let mut value = 0u32;
    for octet in octets {
        if octet.is_empty() || !octet.bytes().all(|b| b.is_ascii_digit()) || octet.len() > 3 {
            return None;
        }
        if octet != "0" && octet.starts_with('0') {
            return None;
        }
        let n: u32 = octet.parse().ok()?;
        if n > 255 {
            return None;
        }
        value = (value << 8) | n;
    }
    Some(value)
}

/// `IPv6Address._ip_int_from_string` (without the scope id): at least three `:`-separated
/// parts, an optional dotted IPv4 tail, at most one `::`, hextets of at most four hex digits.
pub fn parse_v6(text: &str) -> Option<u128> {
    let mut parts: Vec<String> = text.split(':').map(str::to_owned).collect();
    if parts.len() < 3 {
        return None;
    }
    if parts.last().is_some_and(|p| p.contains('.')) {
        let v4 = parse_v4(&parts.pop()?)?;
        parts.push(format!("{:x}", v4 >> 16));
        parts.push(format!("{:x}", v4 & 0xFFFF));
    }
    if parts.len() > 9 {
        return None;
    }
    let mut skip_index = None;
    for (i, part) in parts.iter().enumerate().take(parts.len() - 1).skip(1) {
        if part.is_empty() {
            if skip_index.is_some() {
                return None;
            }
            skip_index = Some(i);
        }
    }
    let n = parts.len();
    let (parts_hi, parts_lo, skipped) = match skip_index {
        Some(skip) => {
            let mut hi = skip;
            let mut lo = n - skip - 1;
            if parts[0].is_empty() {
                hi -= 1;
                if hi > 0 {
                    return None;
                }
            }
            if parts[n - 1].is_empty() {
                lo -= 1;
                if lo > 0 {
                    return None;
                }
            }
            let skipped = 8usize.checked_sub(hi + lo).filter(|&s| s >= 1)?;
            (hi, lo, skipped)
        }
        None => {
            if n != 8 || parts[0].is_empty() || parts[n - 1].is_empty() {
                return None;
            }
            (n, 0, 0)
        }
    };
    let hextet = |s: &str| -> Option<u128> {
        if !s.bytes().all(|b| b.is_ascii_hexdigit()) || s.len() > 4 {
            return None;
        }
        // An empty hextet is only possible at an end that the `::` covers, where it is skipped.
        u128::from_str_radix(s, 16).ok()
    };
    let mut value = 0u128;
    for part in &parts[..parts_hi] {
        value = (value << 16) | hextet(part)?;
    }
    value = value.checked_shl(16 * skipped as u32).unwrap_or(0);
    for part in &parts[n - parts_lo..] {
        value = (value << 16) | hextet(part)?;
    }
    Some(value)
}

/// `IPv6Address(text)`: no `/`, an optional `%scope` (non-empty, without another `%`).
fn v6_address(text: &str) -> Option<u128> {
    if text.contains('/') {
        return None;
    }
    let addr = match text.split_once('%') {
        Some((addr, scope)) if !scope.is_empty() && !scope.contains('%') => addr,
        Some(_) => return None,
        None => text,
    };
    parse_v6(addr)
}

/// `ipaddress.ip_address(text)`: IPv4 first, then IPv6.
pub fn ip_address(text: &str) -> Option<PyIp> {
    if text.contains('/') {
        return None;
    }
    parse_v4(text)
        .map(PyIp::V4)
        .or_else(|| v6_address(text).map(PyIp::V6))
}

/// A prefix length written as ASCII decimal digits, at most `max`.
fn prefix_len(text: &str, max: u32) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Digits only: a parse failure can only be an overflow, which is past `max` anyway.
    text.parse::<u32>().ok().filter(|&n| n <= max)
}

/// Whether `mask` is a run of ones followed by zeros (all-zero included).
fn is_netmask(mask: u32) -> bool {
    mask.leading_ones() + mask.trailing_zeros() == 32
}

/// Whether `ipaddress.ip_network(text, strict=False)` accepts `text` (host bits are allowed).
pub fn is_network(text: &str) -> bool {
    let parts: Vec<&str> = text.split('/').collect();
    let (addr, mask) = match parts.as_slice() {
        [addr] => (*addr, None),
        [addr, mask] => (*addr, Some(*mask)),
        _ => return false,
    };
    let v4 = parse_v4(addr).is_some()
        && mask.is_none_or(|m| {
            prefix_len(m, 32).is_some()
                || parse_v4(m).is_some_and(|n| is_netmask(n) || is_netmask(!n))
        });
    v4 || (v6_address(addr).is_some() && mask.is_none_or(|m| prefix_len(m, 128).is_some()))
}

/// Whether `value` lies in `network/prefix`.
fn in_v4(value: u32, network: u32, prefix: u32) -> bool {
    prefix == 0 || value >> (32 - prefix) == network >> (32 - prefix)
}

/// Whether `value` lies in `network/prefix`.
fn in_v6(value: u128, network: u128, prefix: u32) -> bool {
    prefix == 0 || value >> (128 - prefix) == network >> (128 - prefix)
}

/// `IPv4Address.is_private` in CPython 3.11.7 (before the 3.11.10 registry update).
const V4_PRIVATE: [(u32, u32); 14] = [
    (0x0000_0000, 8),
    (0x0A00_0000, 8),
    (0x7F00_0000, 8),
    (0xA9FE_0000, 16),
    (0xAC10_0000, 12),
    (0xC000_0000, 29),
    (0xC000_00AA, 31),
    (0xC000_0200, 24),
    (0xC0A8_0000, 16),
    (0xC612_0000, 15),
    (0xC633_6400, 24),
    (0xCB00_7100, 24),
    (0xF000_0000, 4),
    (0xFFFF_FFFF, 32),
];

/// `IPv6Address.is_private` networks in CPython 3.11.7.
const V6_PRIVATE: [(u128, u32); 10] = [
    (1, 128),
    (0, 128),
    (0xFFFF_0000_0000, 96),
    (0x0100 << 112, 64),
    (0x2001 << 112, 23),
    ((0x2001 << 112) | (0x2 << 96), 48),
    ((0x2001 << 112) | (0xDB8 << 96), 32),
    ((0x2001 << 112) | (0x10 << 96), 28),
    (0xFC00 << 112, 7),
    (0xFE80 << 112, 10),
];

/// `IPv6Address.is_reserved` networks in CPython 3.11.7.
const V6_RESERVED: [(u128, u32); 15] = [
    (0, 8),
    (0x0100 << 112, 8),
    (0x0200 << 112, 7),
    (0x0400 << 112, 6),
    (0x0800 << 112, 5),
    (0x1000 << 112, 4),
    (0x4000 << 112, 3),
    (0x6000 << 112, 3),
    (0x8000 << 112, 3),
    (0xA000 << 112, 3),
    (0xC000 << 112, 3),
    (0xE000 << 112, 4),
    (0xF000 << 112, 5),
    (0xF800 << 112, 6),
    (0xFE00 << 112, 9),
];

/// `IPv4Address.is_private`.
fn v4_private(v: u32) -> bool {
    V4_PRIVATE
        .iter()
        .any(|&(net, prefix)| in_v4(v, net, prefix))
}

impl PyIp {
    /// `is_loopback`: `127.0.0.0/8`, or exactly `::1`.
    pub fn is_loopback(self) -> bool {
        match self {
            PyIp::V4(v) => in_v4(v, 0x7F00_0000, 8),
            PyIp::V6(v) => v == 1,
        }
    }

    /// `is_private`; an IPv4-mapped IPv6 address answers for its IPv4 address.
    pub fn is_private(self) -> bool {
        match self {
            PyIp::V4(v) => v4_private(v),
            PyIp::V6(v) if v >> 32 == 0xFFFF => v4_private(v as u32),
            PyIp::V6(v) => V6_PRIVATE
                .iter()
                .any(|&(net, prefix)| in_v6(v, net, prefix)),
        }
    }

    /// `is_reserved`: `240.0.0.0/4`, or one of IPv6's reserved networks.
    pub fn is_reserved(self) -> bool {
        match self {
            PyIp::V4(v) => in_v4(v, 0xF000_0000, 4),
            PyIp::V6(v) => V6_RESERVED
                .iter()
                .any(|&(net, prefix)| in_v6(v, net, prefix)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_as_cpython_does() {
        assert_eq!(ip_address("8.8.8.8"), Some(PyIp::V4(0x0808_0808)));
        assert_eq!(ip_address("010.1.1.1"), None);
        assert_eq!(ip_address("1.2.3"), None);
        assert_eq!(ip_address("::"), Some(PyIp::V6(0)));
        assert_eq!(
            ip_address("::ffff:1.2.3.4"),
            Some(PyIp::V6(0xFFFF_0102_0304))
        );
        assert_eq!(
            ip_address("fe80::1%eth0"),
            Some(PyIp::V6((0xFE80 << 112) | 1))
        );
        assert_eq!(ip_address("fe80::1%"), None);
        assert_eq!(
            ip_address("1:2:3:4:5:6:7::"),
            Some(PyIp::V6(0x0001_0002_0003_0004_0005_0006_0007_0000))
        );
        assert_eq!(ip_address("1:2:3:4:5:6:7:8:9"), None);
        assert_eq!(ip_address(":1::2"), None);
        assert_eq!(ip_address("1::2::3"), None);
        assert_eq!(ip_address("12345::"), None);
    }

    #[test]
    fn networks_as_cpython_accepts_them() {
        assert!(is_network("10.1.2.3/8"));
        assert!(is_network("10.1.2.3/255.0.0.0"));
        assert!(is_network("10.1.2.3/0.0.0.255"));
        assert!(!is_network("10.1.2.3/255.0.255.0"));
        assert!(!is_network("10.1.2.3/33"));
        assert!(is_network("2001:db8::1%eth0/64"));
        assert!(!is_network("2001:db8::/129"));
        assert!(!is_network("1.2.3.4/"));
        assert!(!is_network("1.2.3.4/8/8"));
    }

    #[test]
    fn classifies_as_cpython_does() {
        let ip = |s| ip_address(s).unwrap();
        assert!(ip("127.1.2.3").is_loopback() && ip("::1").is_loopback());
        assert!(ip("192.0.2.1").is_private() && !ip("8.8.8.8").is_private());
        assert!(ip("::ffff:10.0.0.1").is_private() && !ip("::ffff:8.8.8.8").is_private());
        assert!(ip("::ffff:8.8.8.8").is_reserved() && !ip("2606:4700::1").is_reserved());
    }
}
