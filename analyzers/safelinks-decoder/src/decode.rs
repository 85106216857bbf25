//! Recognising and unwrapping a Safe Link, with the original's regular expressions
//! (`re.IGNORECASE`) written out as character tests.
//!
//! Python's case-insensitive matching is not Unicode simple case folding: besides the ASCII
//! pairs, pattern letter `s` also matches `ſ` (U+017F), `k` matches the Kelvin sign (U+212A),
//! and `i` matches both `İ` (U+0130) and `ı` (U+0131). A regex crate folds the first two but
//! not `İ`/`ı`, so `safelİnks.protection.outlook.com` would be a Safe Link to the original and
//! not to the port; [`ci_eq`] holds Python's rule.

use crate::unquote::unquote;

/// The domain suffix every Safe Links gateway shares (`nam02.`, `eur04.`, ...).
const SUFFIX: &str = ".safelinks.protection.outlook.com";

/// Whether `c` matches the ASCII pattern character `p` under Python's `re.IGNORECASE`.
fn ci_eq(c: char, p: char) -> bool {
    c.eq_ignore_ascii_case(&p)
        || match p {
            's' => c == '\u{17f}',
            'k' => c == '\u{212a}',
            'i' => c == '\u{130}' || c == '\u{131}',
            _ => false,
        }
}

/// If `text` starts with `pattern` (case-insensitively), the byte length it takes in `text`.
fn ci_prefix(text: &str, pattern: &str) -> Option<usize> {
    let mut chars = text.char_indices();
    for p in pattern.chars() {
        let (_, c) = chars.next()?;
        if !ci_eq(c, p) {
            return None;
        }
    }
    Some(chars.next().map_or(text.len(), |(i, _)| i))
}

/// The byte offsets at which `pattern` occurs in `text`, case-insensitively, left to right.
fn ci_find_all<'a>(text: &'a str, pattern: &'a str) -> impl Iterator<Item = (usize, usize)> + 'a {
    text.char_indices()
        .filter_map(move |(i, _)| ci_prefix(&text[i..], pattern).map(|len| (i, i + len)))
}

/// `is_safelink`: `re.search(r'\.safelinks\.protection\.outlook\.com', url, re.I)`.
pub fn is_safelink(url: &str) -> bool {
    ci_find_all(url, SUFFIX).next().is_some()
}

/// `re.search(r'[?&]<name>=([^&]+)', text, re.I)`: the value of the first such parameter
/// that is not empty.
fn parameter<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.char_indices()
        .filter(|&(_, c)| c == '?' || c == '&')
        .find_map(|(i, _)| {
            let after = &text[i + 1..];
            let len = ci_prefix(after, name)?;
            let value = after[len..].strip_prefix('=')?;
            let end = value.find('&').unwrap_or(value.len());
            (end > 0).then(|| &value[..end])
        })
}

/// `decode_safelink`: the `url=` parameter, else the `data=` one, unquoted, and unquoted once
/// more when the result starts with `http` and still holds a `%`. (The original's third
/// pattern, `.../?url=...`, can only match where the first one already has.)
pub fn decode_safelink(safelink: &str) -> Option<String> {
    let encoded = parameter(safelink, "url").or_else(|| parameter(safelink, "data"))?;
    let decoded = unquote(encoded);
    if decoded.starts_with("http") && decoded.contains('%') {
        Some(unquote(&decoded))
    } else {
        Some(decoded)
    }
}

/// `_extract_safelink_domain`: the first `https?://([^/]*\.safelinks\.protection\.outlook\.com)`
/// match's group. `[^/]*` is greedy, so the group ends at the last suffix before the next `/`.
pub fn extract_safelink_domain(url: &str) -> Option<&str> {
    url.char_indices().find_map(|(i, _)| {
        let after_http = i + ci_prefix(&url[i..], "http")?;
        let after_s = after_http + ci_prefix(&url[after_http..], "s").unwrap_or(0);
        let host_start = after_s + url[after_s..].strip_prefix("://").map(|_| 3)?;
        let host = &url[host_start..];
        let run = &host[..host.find('/').unwrap_or(host.len())];
        let (_, end) = ci_find_all(run, SUFFIX).last()?;
        Some(&run[..end])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_as_python_does() {
        assert!(is_safelink(
            "https://nam02.safelinks.protection.outlook.com/?url=x"
        ));
        assert!(is_safelink(
            "HTTPS://EUR04.SAFELINKS.PROTECTION.OUTLOOK.COM/"
        ));
        assert!(is_safelink(
            "https://x.safel\u{131}n\u{212a}s.protect\u{130}on.outlook.com/"
        ));
        assert!(is_safelink(
            "https://example.com/?q=.safelinks.protection.outlook.com"
        ));
        assert!(!is_safelink("https://safelinks.protection.outlook.com/"));
        assert!(!is_safelink(""));
    }

    #[test]
    fn decodes_as_python_does() {
        let sl = "https://nam02.safelinks.protection.outlook.com/";
        assert_eq!(
            decode_safelink(&format!("{sl}?url=https%3A%2F%2Fa.example%2F&data=1")).as_deref(),
            Some("https://a.example/")
        );
        assert_eq!(
            decode_safelink(&format!("{sl}?URL=https%253A%252F%252Fa.example")).as_deref(),
            Some("https://a.example")
        );
        assert_eq!(
            decode_safelink(&format!("{sl}?url=&data=05%7C01")).as_deref(),
            Some("05|01")
        );
        assert_eq!(
            decode_safelink(&format!("{sl}?data=x&url=y")).as_deref(),
            Some("y")
        );
        assert_eq!(decode_safelink(&format!("{sl}?foo=bar")), None);
        assert_eq!(decode_safelink(&format!("{sl}?url")), None);
    }

    #[test]
    fn finds_the_gateway_domain() {
        assert_eq!(
            extract_safelink_domain("https://nam02.safelinks.protection.outlook.com/?url=x"),
            Some("nam02.safelinks.protection.outlook.com")
        );
        assert_eq!(
            extract_safelink_domain("nam02.safelinks.protection.outlook.com/?url=x"),
            None
        );
        assert_eq!(
            extract_safelink_domain(
                "x http://a.safelinks.protection.outlook.com.b.safelinks.protection.outlook.com:1/"
            ),
            Some("a.safelinks.protection.outlook.com.b.safelinks.protection.outlook.com")
        );
        assert_eq!(
            extract_safelink_domain(
                "http://example.com/ https://b.safelinks.protection.outlook.com"
            ),
            Some("b.safelinks.protection.outlook.com")
        );
    }
}
