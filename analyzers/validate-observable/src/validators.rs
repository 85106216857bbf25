//! The original's validators, one per data type. Each returns the `full` report
//! (`status`, `type`, `value`, and `note` or `reason` where the original has one) or the Python
//! exception with which the original crashes.
//!
//! Python's regular expressions are written out as plain character tests: each is anchored and
//! simple, and the tests keep two Python details a regex crate would not, `$` matching before a
//! final newline and `\w` meaning Python's (Unicode 14) word characters.

use serde_json::{Map, Value};

use crate::idna2008;
use crate::pyip::{PyIp, ip_address, is_network};
use crate::pyurl::{PyException, urlsplit};
use crate::unicode::is_python_word;

/// A `full` report: `{"status", "type", "value"}` plus an optional `note` or `reason`.
fn report(status: &str, kind: &str, value: &str, extra: Option<(&str, &str)>) -> Value {
    let mut full = Map::new();
    full.insert("status".into(), status.into());
    full.insert("type".into(), kind.into());
    full.insert("value".into(), value.into());
    if let Some((key, text)) = extra {
        full.insert(key.into(), text.into());
    }
    Value::Object(full)
}

/// The text a Python `$` lets a full match end on: everything, or everything but one final
/// newline. (None of the patterns can match a newline itself.)
fn dollar_body(s: &str) -> &str {
    s.strip_suffix('\n').unwrap_or(s)
}

/// Whether `re.search(r"[^<allowed>]", s)` finds a character outside the ASCII set.
fn has_char_outside(s: &str, allowed: impl Fn(char) -> bool) -> bool {
    s.chars().any(|c| !allowed(c))
}

/// `[a-zA-Z0-9.-]`.
fn is_host_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '.' || c == '-'
}

/// The first bidirectional control the original looks for that `value` holds, in its order.
fn bidi_override(value: &str) -> Option<String> {
    [
        '\u{202E}', '\u{202D}', '\u{200E}', '\u{200F}', '\u{2066}', '\u{2067}',
    ]
    .into_iter()
    .find(|&c| value.contains(c))
    .map(|c| {
        format!(
            "Contains Unicode bidirectional override character U+{:04X}",
            u32::from(c)
        )
    })
}

/// `^(?!-)([A-Za-z0-9-]{1,63}(?<!-)\.)+[A-Za-z]{<min_tld>,<max_tld>}$` on the `$` body.
fn is_dotted_name(s: &str, min_tld: usize, max_tld: usize) -> bool {
    let body = dollar_body(s);
    if body.starts_with('-') {
        return false;
    }
    let labels: Vec<&str> = body.split('.').collect();
    let Some((tld, rest)) = labels.split_last() else {
        return false;
    };
    !rest.is_empty()
        && (min_tld..=max_tld).contains(&tld.len())
        && tld.bytes().all(|b| b.is_ascii_alphabetic())
        && rest.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.ends_with('-')
        })
}

/// `validate_ip`.
pub fn ip(value: &str) -> Value {
    if value.contains('/') {
        return if is_network(value) {
            report("valid", "IP range", value, None)
        } else {
            report("invalid", "IP address", value, None)
        };
    }
    let Some(address): Option<PyIp> = ip_address(value) else {
        return report("invalid", "IP address", value, None);
    };
    let note = if address.is_loopback() {
        Some("Loopback IP address")
    } else if address.is_private() {
        Some("Private IP address")
    } else if address.is_reserved() {
        Some("Reserved IP address")
    } else {
        None
    };
    report("valid", "IP address", value, note.map(|n| ("note", n)))
}

/// `validate_domain`.
pub fn domain(value: &str) -> Value {
    let Ok(ascii) = idna2008::encode(value) else {
        return report(
            "invalid",
            "Domain",
            value,
            Some(("reason", "Invalid internationalized domain name")),
        );
    };
    if value.starts_with("xn--") {
        let reason =
            "Domain uses Punycode, which may indicate an internationalized domain name (IDN)";
        return report("suspicious", "Domain", value, Some(("reason", reason)));
    }
    if ascii.chars().count() > 255 {
        return report(
            "invalid",
            "Domain",
            value,
            Some(("reason", "Exceeds maximum length of 255 characters")),
        );
    }
    if !is_dotted_name(&ascii, 2, 6) {
        return report("invalid", "Domain", value, None);
    }
    if has_char_outside(value, is_host_char) {
        return report(
            "suspicious",
            "Domain",
            value,
            Some((
                "reason",
                "Domain is valid but contains IDN or unusual characters",
            )),
        );
    }
    report("valid", "Domain", value, None)
}

/// `validate_url`; a URL without scheme and netloc is validated as a domain.
pub fn url(value: &str) -> Result<Value, PyException> {
    if let Some(reason) = bidi_override(value) {
        return Ok(report(
            "suspicious",
            "URL",
            value,
            Some(("reason", &reason)),
        ));
    }
    let parsed = urlsplit(value)?;
    if parsed.scheme.is_empty() && parsed.netloc.is_empty() {
        return Ok(domain(value));
    }
    if parsed.scheme.is_empty() || parsed.netloc.is_empty() {
        return Ok(report(
            "invalid",
            "URL",
            value,
            Some(("reason", "Malformed or missing scheme/netloc")),
        ));
    }
    if parsed.netloc.starts_with("xn--") {
        let reason = "URL contains a Punycode domain, which may indicate an internationalized domain name (IDN)";
        return Ok(report("suspicious", "URL", value, Some(("reason", reason))));
    }
    if has_char_outside(value, |c| {
        c.is_ascii_alphanumeric() || ":/?&=._-".contains(c)
    }) {
        return Ok(report(
            "suspicious",
            "URL",
            value,
            Some(("reason", "Contains unusual characters")),
        ));
    }
    Ok(report("valid", "URL", value, None))
}

/// `validate_fqdn`.
pub fn fqdn(value: &str) -> Value {
    if value.chars().count() > 255 {
        return report(
            "invalid",
            "FQDN",
            value,
            Some(("reason", "Exceeds maximum length of 255 characters")),
        );
    }
    if value.starts_with("xn--") {
        let reason =
            "FQDN uses Punycode, which may indicate an internationalized domain name (IDN)";
        return report("suspicious", "FQDN", value, Some(("reason", reason)));
    }
    if !is_dotted_name(value, 2, usize::MAX) {
        return report("invalid", "FQDN", value, None);
    }
    if has_char_outside(value, is_host_char) {
        return report(
            "suspicious",
            "FQDN",
            value,
            Some(("reason", "Contains unusual characters")),
        );
    }
    report("valid", "FQDN", value, None)
}

/// `^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$`.
fn is_email(s: &str) -> bool {
    let body = dollar_body(s);
    let Some((local, domain)) = body.split_once('@') else {
        return false;
    };
    let Some((host, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    !local.is_empty()
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._%+-".contains(&b))
        && !host.is_empty()
        && host.chars().all(is_host_char)
        && tld.len() >= 2
        && tld.bytes().all(|b| b.is_ascii_alphabetic())
}

/// `validate_email`.
pub fn mail(value: &str) -> Value {
    if let Some(reason) = bidi_override(value) {
        return report("suspicious", "Email", value, Some(("reason", &reason)));
    }
    if value.chars().count() > 254 {
        return report(
            "invalid",
            "Email",
            value,
            Some(("reason", "Exceeds maximum length of 254 characters")),
        );
    }
    if !is_email(value) {
        return report("invalid", "Email", value, None);
    }
    if has_char_outside(value, |c| c.is_ascii_alphanumeric() || "@._%+-".contains(c)) {
        return report(
            "suspicious",
            "Email",
            value,
            Some(("reason", "Contains unusual characters")),
        );
    }
    report("valid", "Email", value, None)
}

/// `validate_hash`: MD5, SHA1, SHA256, SHA512 by length of hex digits.
pub fn hash(value: &str) -> Value {
    let body = dollar_body(value);
    if body.bytes().all(|b| b.is_ascii_hexdigit()) {
        let kind = match body.len() {
            32 => Some("MD5 Hash"),
            40 => Some("SHA1 Hash"),
            64 => Some("SHA256 Hash"),
            128 => Some("SHA512 Hash"),
            _ => None,
        };
        if let Some(kind) = kind {
            return report("valid", kind, value, None);
        }
    }
    let reason = "Does not match known hash formats (supported types: MD5, SHA1, SHA256, SHA512)";
    report("invalid", "Hash", value, Some(("reason", reason)))
}

/// `re.search(r"\.\w{2,4}(\.\w{2,4})", s)`: a dot, a run of two to four word characters, a
/// dot, and at least two more word characters. A run of word characters cannot contain the
/// dot, so the first run must be exactly the whole run between the two dots.
fn has_double_extension(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    chars
        .iter()
        .enumerate()
        .filter(|&(_, &c)| c == '.')
        .any(|(i, _)| {
            let run = chars[i + 1..]
                .iter()
                .take_while(|&&c| is_python_word(c))
                .count();
            let next = i + 1 + run;
            (2..=4).contains(&run)
                && chars.get(next) == Some(&'.')
                && chars[next + 1..]
                    .iter()
                    .take(2)
                    .filter(|&&c| is_python_word(c))
                    .count()
                    == 2
        })
}

/// `validate_filename`.
pub fn filename(value: &str) -> Value {
    if let Some(reason) = bidi_override(value) {
        return report("suspicious", "Filename", value, Some(("reason", &reason)));
    }
    if value.chars().count() > 255 {
        return report(
            "invalid",
            "Filename",
            value,
            Some(("reason", "Exceeds maximum length of 255 characters")),
        );
    }
    if value.contains(['<', '>', ':', '"', '/', '\\', '|', '?', '*']) {
        return report(
            "invalid",
            "Filename",
            value,
            Some(("reason", "Contains invalid characters")),
        );
    }
    if has_double_extension(value) {
        return report(
            "suspicious",
            "Filename",
            value,
            Some((
                "reason",
                "Contains multiple extensions that may confuse users",
            )),
        );
    }
    report("valid", "Filename", value, None)
}

/// `validate_uri_path`: the path `urlparse` finds must start with `/`. (`urlparse` also splits
/// `;params` off the path, which cannot change whether a path starts with `/`.)
pub fn uri_path(value: &str) -> Result<Value, PyException> {
    if urlsplit(value)?.path.starts_with('/') {
        Ok(report("valid", "URI Path", value, None))
    } else {
        Ok(report(
            "invalid",
            "URI Path",
            value,
            Some(("reason", "Does not start with '/' or is malformed")),
        ))
    }
}

/// `validate_user_agent`.
pub fn user_agent(value: &str) -> Value {
    if value.chars().count() > 512 {
        return report(
            "invalid",
            "User-Agent",
            value,
            Some(("reason", "Exceeds maximum length of 512 characters")),
        );
    }
    if value.chars().any(|c| c <= '\x1f' || c == '\x7f') {
        return report(
            "invalid",
            "User-Agent",
            value,
            Some(("reason", "Contains control characters")),
        );
    }
    report("valid", "User-Agent", value, None)
}

/// Validates `value` as `data_type`; `None` for a data type the original does not support.
pub fn validate(data_type: &str, value: &str) -> Option<Result<Value, PyException>> {
    Some(match data_type {
        "ip" => Ok(ip(value)),
        "domain" => Ok(domain(value)),
        "url" => url(value),
        "fqdn" => Ok(fqdn(value)),
        "mail" => Ok(mail(value)),
        "hash" => Ok(hash(value)),
        "filename" => Ok(filename(value)),
        "uri_path" => uri_path(value),
        "user-agent" => Ok(user_agent(value)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(v: &Value) -> (&str, Option<&str>) {
        (
            v["status"].as_str().unwrap(),
            v.get("reason").or(v.get("note")).and_then(Value::as_str),
        )
    }

    #[test]
    fn python_dollar_accepts_one_final_newline() {
        assert_eq!(
            status(&fqdn("a.example.com\n")),
            ("suspicious", Some("Contains unusual characters"))
        );
        assert_eq!(status(&fqdn("a.example.com\n\n")), ("invalid", None));
        assert_eq!(
            status(&hash("d41d8cd98f00b204e9800998ecf8427e\n")).0,
            "valid"
        );
        assert_eq!(status(&mail("a@b.co\n")).0, "suspicious");
    }

    #[test]
    fn double_extensions_use_python_word_characters() {
        assert!(has_double_extension("invoice.pdf.exe"));
        assert!(has_double_extension("a.b\u{b2}c.exe"));
        assert!(!has_double_extension("a.t\u{200d}x.exe"));
        assert!(!has_double_extension("archive.tar.g"));
        assert!(!has_double_extension("a.abcde.exe"));
        assert!(has_double_extension("x.ab.cd.e"));
    }

    #[test]
    fn email_shape() {
        assert!(is_email("john.doe+tag@example.com"));
        assert!(is_email("a@b.c.de"));
        assert!(!is_email("a@.de"));
        assert!(!is_email("a@b.c1"));
        assert!(!is_email("@b.de"));
        assert!(!is_email("a@b@c.de"));
    }
}
