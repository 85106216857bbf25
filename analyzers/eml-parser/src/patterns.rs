//! The indicator patterns of eml_parser: e-mail addresses, IPv4 and IPv6 addresses, domains,
//! and the validation of hosts.
//!
//! eml_parser writes several of them with look-behind and possessive quantifiers, which the
//! `regex` crate does not have; those are scanners here that accept exactly what the original
//! patterns accept (their boundary rules are spelled out on each function).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// eml_parser's `email_no_force_tld_regex`, which [`emails`] matches.
#[cfg(test)]
const EMAIL: &str = r"[a-zA-Z0-9.!#$%&'*+\-/=?^_`{|}~]{1,128}@[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*";

/// The local-part characters of `EMAIL`.
fn local_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b".!#$%&'*+-/=?^_`{|}~".contains(&c)
}

/// The domain-label characters of `EMAIL` (and of `recv_dom_regex`).
pub fn host_label_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

/// `EMAIL`'s `findall`: the leftmost-first, non-overlapping matches. A run of local-part
/// characters followed by `@` and a label matches from at most 128 characters before the `@`;
/// the labels after it are taken greedily.
pub fn emails(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !local_char(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && local_char(bytes[i]) {
            i += 1;
        }
        let at = i;
        if bytes.get(at) != Some(&b'@') || !bytes.get(at + 1).is_some_and(|b| host_label_char(*b)) {
            continue;
        }
        let mut end = at + 1;
        while end < bytes.len() && host_label_char(bytes[end]) {
            end += 1;
        }
        while bytes.get(end) == Some(&b'.')
            && bytes.get(end + 1).is_some_and(|b| host_label_char(*b))
        {
            end += 1;
            while end < bytes.len() && host_label_char(bytes[end]) {
                end += 1;
            }
        }
        out.push(&text[start.max(at.saturating_sub(128))..end]);
        i = end;
    }
    out
}

fn is_word_ascii(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// eml_parser's `ipv4_regex`: four groups of 1-3 digits, not touching a letter, digit,
/// underscore or dot before, nor a word character or `.`+word character after.
pub fn ipv4s(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let boundary = i == 0 || !(is_word_ascii(bytes[i - 1]) || bytes[i - 1] == b'.');
        if boundary && bytes[i].is_ascii_digit() {
            let mut j = i;
            let mut ok = true;
            for group in 0..4 {
                let start = j;
                while j < bytes.len() && j - start < 3 && bytes[j].is_ascii_digit() {
                    j += 1;
                }
                if j == start {
                    ok = false;
                    break;
                }
                if group < 3 {
                    if bytes.get(j) != Some(&b'.') {
                        ok = false;
                        break;
                    }
                    j += 1;
                }
            }
            let after_ok = ok
                && !bytes.get(j).is_some_and(|b| is_word_ascii(*b))
                && !(bytes.get(j) == Some(&b'.')
                    && bytes.get(j + 1).is_some_and(|b| is_word_ascii(*b)));
            if after_ok {
                out.push(&text[i..j]);
                i = j;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// eml_parser's `findall_ipv6`: only text with `::` or six colons is searched; a candidate is a
/// run of hex digits, colons and dots not preceded by a word character, dot or colon (except
/// after `IPv6:`), which must parse as an IPv6 address as a whole.
pub fn ipv6s(text: &str) -> Vec<&str> {
    if !text.contains("::") && text.matches(':').count() < 6 {
        return Vec::new();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let allowed_before = i == 0
            || !(is_word_ascii(bytes[i - 1]) || bytes[i - 1] == b'.' || bytes[i - 1] == b':')
            || (i >= 5
                && text.is_char_boundary(i - 5)
                && text[i - 5..i].eq_ignore_ascii_case("ipv6:"));
        if (c.is_ascii_hexdigit() || c == b':') && allowed_before {
            let mut j = i;
            while j < bytes.len()
                && (bytes[j].is_ascii_hexdigit() || bytes[j] == b':' || bytes[j] == b'.')
            {
                j += 1;
            }
            let mut end = j;
            while end > i && bytes[end - 1] == b'.' {
                end -= 1;
            }
            let candidate = &text[i..end];
            let after_ok = !bytes
                .get(end)
                .is_some_and(|b| is_word_ascii(*b) && *b != b'.');
            if after_ok && candidate.contains(':') && candidate.parse::<Ipv6Addr>().is_ok() {
                out.push(candidate);
            }
            i = j.max(i + 1);
            continue;
        }
        i += 1;
    }
    out
}

/// True for the characters of a domain label in `dom_regex`.
fn label_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

/// True when an encoded dot (`&#46;`, `&#x2e;`, `&period;`, any case) ends at `pos`: the text
/// before `pos` ends with `&#`, an optional `x`, digits of that radix and `;`, worth 46.
fn encoded_dot_before(text: &str, pos: usize) -> bool {
    let head = &text.as_bytes()[..pos];
    if head.len() >= 8 && head[pos - 8..].eq_ignore_ascii_case(b"&period;") {
        return true;
    }
    let Some(end) = pos.checked_sub(1).filter(|e| head[*e] == b';') else {
        return false;
    };
    let start = end
        - head[..end]
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
    let hex = start >= 3
        && head[start - 1].eq_ignore_ascii_case(&b'x')
        && &head[start - 3..start - 1] == b"&#";
    let decimal = start >= 2 && &head[start - 2..start] == b"&#";
    match (hex, decimal) {
        (true, _) => worth_a_dot(&head[start..end], 16),
        (false, true) => worth_a_dot(&head[start..end], 10),
        _ => false,
    }
}

/// True when an encoded dot starts at `pos` (see [`encoded_dot_before`]).
fn encoded_dot_after(text: &str, pos: usize) -> bool {
    let tail = &text.as_bytes()[pos..];
    if tail.len() >= 8 && tail[..8].eq_ignore_ascii_case(b"&period;") {
        return true;
    }
    let Some(rest) = tail.strip_prefix(b"&#") else {
        return false;
    };
    let (rest, radix) = match rest.first() {
        Some(b'x' | b'X') => (&rest[1..], 16),
        _ => (rest, 10),
    };
    let len = rest
        .iter()
        .take_while(|b| char::from(**b).is_digit(radix))
        .count();
    rest.get(len) == Some(&b';') && worth_a_dot(&rest[..len], radix)
}

/// True if `digits` are one or more digits of `radix` (leading zeros allowed) worth 46, `.`.
fn worth_a_dot(digits: &[u8], radix: u32) -> bool {
    !digits.is_empty()
        && digits.iter().all(|b| char::from(*b).is_digit(radix))
        && std::str::from_utf8(digits)
            .ok()
            .and_then(|d| u32::from_str_radix(d, radix).ok())
            == Some(0x2e)
}

/// eml_parser's `dom_regex`: dotted labels matched possessively, not preceded by a label
/// character, `_`, `.`, `%` or an encoded dot, ending in a letters-only (2-63) or punycode label,
/// and not followed by `_`, `@` or an encoded dot.
pub fn domains(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let prev_ok = i == 0 || !(label_char(bytes[i - 1]) || b"_.%".contains(&bytes[i - 1]));
        if !(label_char(bytes[i]) && prev_ok && !encoded_dot_before(text, i)) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < bytes.len() && label_char(bytes[j]) {
            j += 1;
        }
        let mut labels = 1;
        let mut last_start = i;
        while j + 1 < bytes.len() && bytes[j] == b'.' && label_char(bytes[j + 1]) {
            last_start = j + 1;
            j += 1;
            while j < bytes.len() && label_char(bytes[j]) {
                j += 1;
            }
            labels += 1;
        }
        let last = &text[last_start..j];
        let tld_ok = labels >= 2
            && ((2..=63).contains(&last.len()) && last.bytes().all(|b| b.is_ascii_alphabetic())
                || (last.len() > 4 && last.len() <= 63 && last[..4].eq_ignore_ascii_case("xn--")));
        let next_ok =
            !matches!(bytes.get(j), Some(b'_') | Some(b'@')) && !encoded_dot_after(text, j);
        if tld_ok && next_ok {
            out.push(&text[i..j]);
        }
        i = j.max(i + 1);
    }
    out
}

/// eml_parser's `get_valid_domain_or_ip`: the host part of `data` if it is an IP address (as
/// Python prints it) or a name whose last label is not numeric and which has no empty label.
pub fn valid_domain_or_ip(data: &str) -> Option<String> {
    let host = data.rsplit_once('@').map_or(data, |(_, h)| h);
    let host = host.trim_matches([' ', '\r', '\n', '\t', '[', ']']);
    let addr = host.split('%').next().unwrap_or(host);
    if let Some(ip) = parse_python_ip(addr) {
        return Some(ip.to_string());
    }
    let trimmed = host.trim_end_matches('.');
    let last = trimmed.rsplit('.').next().unwrap_or("");
    if !last.is_empty() && last.chars().all(|c| c.is_numeric()) {
        return None;
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.is_empty() || name.split('.').any(str::is_empty) {
        return None;
    }
    Some(host.to_string())
}

/// `ipaddress.ip_address` for a string: dotted quads without leading zeros, or IPv6.
pub fn parse_python_ip(text: &str) -> Option<IpAddr> {
    if text.contains(':') {
        return text.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (slot, part) in octets.iter_mut().zip(&parts) {
        if part.is_empty()
            || part.len() > 3
            || !part.bytes().all(|b| b.is_ascii_digit())
            || (part.len() > 1 && part.starts_with('0'))
        {
            return None;
        }
        *slot = part.parse().ok()?;
    }
    Some(IpAddr::V4(Ipv4Addr::from(octets)))
}

/// eml_parser's `get_obfuscated_ip`: a host in one of the notations `inet_aton` accepts
/// (`3232235777`, `0xC0A80101`, `0300.0250.0.1`, `127.1`) as a dotted quad.
pub fn obfuscated_ip(host: &str) -> Option<String> {
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b"xX.".contains(&b))
    {
        return None;
    }
    let parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut values = Vec::new();
    for part in &parts {
        let (digits, radix) =
            if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
                (hex, 16)
            } else if part.len() > 1 && part.starts_with('0') {
                (&part[1..], 8)
            } else {
                (*part, 10)
            };
        if part.is_empty() {
            return None;
        }
        let value = if digits.is_empty() {
            0
        } else {
            u64::from_str_radix(digits, radix).ok()?
        };
        values.push(value);
    }
    let last_bits = 32 - 8 * (values.len() as u32 - 1);
    let (head, last) = values.split_at(values.len() - 1);
    if head.iter().any(|v| *v > 255) || last[0] >= (1u64 << last_bits) {
        return None;
    }
    let mut addr: u64 = 0;
    for (k, v) in head.iter().enumerate() {
        addr |= v << (24 - 8 * k as u64);
    }
    addr |= last[0];
    valid_domain_or_ip(&Ipv4Addr::from(addr as u32).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charclass::check::{Rng, UNICODE_PIECES, at_bound, corpus_texts};

    /// The first implementation of the encoded-dot tests, which lower-cased the whole text
    /// before or after the position: the reference of the byte scans.
    fn reference_dot_before(text: &str, pos: usize) -> bool {
        let head = text[..pos].to_ascii_lowercase();
        if head.ends_with("&period;") {
            return true;
        }
        let Some(amp) = head.rfind("&#") else {
            return false;
        };
        let Some(num) = head[amp + 2..].strip_suffix(';') else {
            return false;
        };
        let (digits, radix) = match num.strip_prefix('x') {
            Some(hex) => (hex, 16),
            None => (num, 10),
        };
        !digits.is_empty()
            && u32::from_str_radix(digits, radix).ok() == Some(0x2e)
            && digits.chars().all(|c| c.is_digit(radix))
    }

    fn reference_dot_after(text: &str, pos: usize) -> bool {
        let tail = text[pos..].to_ascii_lowercase();
        if tail.starts_with("&period;") {
            return true;
        }
        let Some(rest) = tail.strip_prefix("&#") else {
            return false;
        };
        let (rest, radix) = match rest.strip_prefix('x') {
            Some(hex) => (hex, 16),
            None => (rest, 10),
        };
        let len = rest.chars().take_while(|c| c.is_digit(radix)).count();
        len > 0
            && rest[len..].starts_with(';')
            && u32::from_str_radix(&rest[..len], radix).ok() == Some(0x2e)
    }

    #[test]
    fn encoded_dots_match_the_reference() {
        let pieces = [
            "&#", "&#", "x", "X", "46", "046", "0000046", "2e", "2E", "4", "6", "e", "a", ";", ";",
            "&period;", "&PERIOD;", "&", "#", "+", ".", "b", "\u{E9}", "\u{FF16}", "&#x2e;",
            "&#46;",
        ];
        let mut rng = Rng::new(19);
        let mut found = 0;
        for _ in 0..30_000 {
            let text = rng.text(&pieces, 8);
            for pos in (0..=text.len()).filter(|p| text.is_char_boundary(*p)) {
                let before = reference_dot_before(&text, pos);
                found += usize::from(before);
                assert_eq!(
                    encoded_dot_before(&text, pos),
                    before,
                    "{text:?} before {pos}"
                );
                let after = reference_dot_after(&text, pos);
                assert_eq!(encoded_dot_after(&text, pos), after, "{text:?} after {pos}");
            }
        }
        assert!(found > 1_000, "{found} encoded dots");
    }

    #[test]
    fn email_scanner_matches_the_pattern() {
        let pattern = regex::Regex::new(EMAIL).expect("email pattern");
        let local = "l".repeat(60);
        let pieces: Vec<&str> = [
            "a",
            "Z9",
            ".",
            "@",
            "@",
            "@",
            "-",
            "x.y",
            "b-c",
            "!#$%&'*+/=?^_`{|}~",
            " ",
            "<",
            ">",
            "..",
            "@.",
            &local,
            "a@b.c",
            "x@y",
            "first.last@example.org",
        ]
        .into_iter()
        .chain(UNICODE_PIECES.iter().copied())
        .collect();
        let mut found = 0;
        let mut check = |text: &str| {
            let expected: Vec<&str> = pattern.find_iter(text).map(|m| m.as_str()).collect();
            found += usize::from(!expected.is_empty());
            assert_eq!(emails(text), expected, "{text:?}");
        };
        let bounds = [
            at_bound("", 'l', "@example.com", 128),
            at_bound(" <", 'l', "@x>", 128),
        ];
        bounds.iter().flatten().for_each(|text| check(text));
        corpus_texts().iter().for_each(|text| check(text));
        let mut rng = Rng::new(5);
        for _ in 0..30_000 {
            check(&rng.text(&pieces, 12));
        }
        assert!(found > 1_000, "{found} matches");
    }

    #[test]
    fn scanners_follow_the_boundaries() {
        assert_eq!(
            ipv4s("ip 1.2.3.4, v1.2.3.4 1.2.3.4.5 10.0.0.1."),
            vec!["1.2.3.4", "10.0.0.1"]
        );
        assert_eq!(
            domains("see www.example.com/x, invoice.pdf, 10.0pt a_b.com x.y@z.com"),
            vec!["www.example.com", "invoice.pdf", "z.com"]
        );
        assert_eq!(
            ipv6s("from [2001:db8::1] and std::vector"),
            vec!["2001:db8::1"]
        );
        assert_eq!(valid_domain_or_ip("a@B.c"), Some("B.c".to_string()));
        assert_eq!(valid_domain_or_ip("1.2.3.999"), None);
        assert_eq!(obfuscated_ip("3232235777"), Some("192.168.1.1".to_string()));
        assert_eq!(obfuscated_ip("127.1"), Some("127.0.0.1".to_string()));
    }
}
