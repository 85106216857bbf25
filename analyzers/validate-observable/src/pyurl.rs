//! CPython 3.11.7's `urllib.parse.urlsplit` (which `urlparse` calls), including the checks that
//! make it raise `ValueError`: unbalanced brackets, an invalid bracketed host, a netloc that NFKC
//! normalisation turns into URL delimiters.
//!
//! Not the `url` crate: that implements the WHATWG URL standard, which normalises and rejects
//! differently (`http:/example.com` has a host there, an empty netloc here).

use unicode_normalization::UnicodeNormalization;

use crate::pyip::{PyIp, ip_address};
use crate::unicode::python_repr;

/// The parts of `urlsplit`'s result the analyzers read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SplitResult {
    /// The scheme, lower-cased; empty when there is none.
    pub scheme: String,
    /// The network location (`user:pass@host:port`); empty when there is none.
    pub netloc: String,
    /// The path (with any `;params`).
    pub path: String,
    /// The query, without `?`.
    pub query: String,
    /// The fragment, without `#`.
    pub fragment: String,
}

/// A Python exception the original does not catch: the analyzer crashes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyException {
    /// The exception class, e.g. `ValueError`.
    pub class: &'static str,
    /// Its message.
    pub message: String,
}

impl std::fmt::Display for PyException {
    /// The last line of the traceback Python prints: `ValueError: Invalid IPv6 URL`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.class, self.message)
    }
}

/// A `ValueError` with this message.
fn value_error(message: impl Into<String>) -> PyException {
    PyException {
        class: "ValueError",
        message: message.into(),
    }
}

/// Characters allowed in a scheme.
fn is_scheme_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')
}

/// `urllib.parse.urlsplit(url)`.
pub fn urlsplit(url: &str) -> Result<SplitResult, PyException> {
    // Leading C0 controls and spaces are stripped, and tabs and newlines removed anywhere, as
    // the WHATWG parser does.
    let url: String = url
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\r' | '\n'))
        .collect();
    let mut rest = url.as_str();
    let mut result = SplitResult::default();
    if let Some(i) = rest.find(':')
        && i > 0
        && rest.starts_with(|c: char| c.is_ascii_alphabetic())
        && rest[..i].chars().all(is_scheme_char)
    {
        result.scheme = rest[..i].to_ascii_lowercase();
        rest = &rest[i + 1..];
    }
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let netloc = &after[..end];
        rest = &after[end..];
        let (open, close) = (netloc.contains('['), netloc.contains(']'));
        if open != close {
            return Err(value_error("Invalid IPv6 URL"));
        }
        if open {
            let after_open = netloc.split_once('[').map_or("", |(_, a)| a);
            check_bracketed_host(after_open.split_once(']').map_or(after_open, |(h, _)| h))?;
        }
        result.netloc = netloc.to_owned();
    }
    if let Some((before, fragment)) = rest.split_once('#') {
        result.fragment = fragment.to_owned();
        rest = before;
    }
    if let Some((before, query)) = rest.split_once('?') {
        result.query = query.to_owned();
        rest = before;
    }
    result.path = rest.to_owned();
    check_netloc(&result.netloc)?;
    Ok(result)
}

/// `_check_bracketed_host`: `v<hex>.<something>` (IPvFuture) or an IPv6 address.
fn check_bracketed_host(host: &str) -> Result<(), PyException> {
    if let Some(future) = host.strip_prefix('v') {
        let valid = future.split_once('.').is_some_and(|(hex, tail)| {
            !hex.is_empty()
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
                && !tail.is_empty()
                && !tail.contains('\n')
        });
        // `\Av[a-fA-F0-9]+\..+\Z`: a `.` inside the hex part would end it early, which
        // `split_once` reproduces; `.+` matches anything but a newline.
        return if valid {
            Ok(())
        } else {
            Err(value_error("IPvFuture address is invalid"))
        };
    }
    match ip_address(host) {
        Some(PyIp::V6(_)) => Ok(()),
        Some(PyIp::V4(_)) => Err(value_error("An IPv4 address cannot be in brackets")),
        None => Err(value_error(format!(
            "{} does not appear to be an IPv4 or IPv6 address",
            python_repr(host)
        ))),
    }
}

/// `_checknetloc`: a non-ASCII netloc whose NFKC form differs may not gain `/ ? # @ :`.
fn check_netloc(netloc: &str) -> Result<(), PyException> {
    if netloc.is_ascii() {
        return Ok(());
    }
    let n: String = netloc
        .chars()
        .filter(|c| !matches!(c, '@' | ':' | '#' | '?'))
        .collect();
    let normalised: String = n.nfkc().collect();
    if n == normalised || !normalised.contains(['/', '?', '#', '@', ':']) {
        return Ok(());
    }
    Err(value_error(format!(
        "netloc '{netloc}' contains invalid characters under NFKC normalization"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(url: &str) -> (String, String, String) {
        let r = urlsplit(url).unwrap();
        (r.scheme, r.netloc, r.path)
    }

    #[test]
    fn splits_as_cpython_does() {
        let s = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
        assert_eq!(
            split("HTTP://Example.com:80/a?b#c"),
            s("http", "Example.com:80", "/a")
        );
        assert_eq!(split("http:/example.com"), s("http", "", "/example.com"));
        assert_eq!(split("example.com"), s("", "", "example.com"));
        assert_eq!(
            split("\u{1}\thttps://exa\nmple.com"),
            s("https", "example.com", "")
        );
        assert_eq!(split("//evil.example/x"), s("", "evil.example", "/x"));
        assert_eq!(split("1http://x"), s("", "", "1http://x"));
        assert_eq!(split("http://[::1]:8080/"), s("http", "[::1]:8080", "/"));
        assert_eq!(split("http://[v1.x]/"), s("http", "[v1.x]", "/"));
    }

    /// The NFKC table here is newer than CPython 3.11's (Unicode 14). Characters both assign
    /// normalise alike (the stability policy); this checks that no character only the newer
    /// Unicode assigns would gain a URL delimiter, so the netloc check cannot answer differently.
    #[test]
    fn newer_unicode_cannot_change_the_netloc_check() {
        let gaining: Vec<char> = (0..=0x10FFFFu32)
            .filter_map(char::from_u32)
            .filter(|&c| crate::unicode::bidi_class(c).is_none())
            .filter(|&c| std::iter::once(c).nfkc().any(|n| "/?#@:".contains(n)))
            .collect();
        assert_eq!(gaining, Vec::<char>::new());
    }

    #[test]
    fn raises_as_cpython_does() {
        let err = |url: &str| urlsplit(url).unwrap_err().to_string();
        assert_eq!(err("http://[::1/x"), "ValueError: Invalid IPv6 URL");
        assert_eq!(
            err("http://[127.0.0.1]/"),
            "ValueError: An IPv4 address cannot be in brackets"
        );
        assert_eq!(err("//[vz]/x"), "ValueError: IPvFuture address is invalid");
        assert_eq!(
            err("http://]a[/"),
            "ValueError: '' does not appear to be an IPv4 or IPv6 address"
        );
        assert_eq!(
            err("http://[it's]/"),
            "ValueError: \"it's\" does not appear to be an IPv4 or IPv6 address"
        );
        assert_eq!(
            err("http://exa\u{2100}mple.com/"),
            "ValueError: netloc 'exa\u{2100}mple.com' contains invalid characters under NFKC normalization"
        );
    }
}
