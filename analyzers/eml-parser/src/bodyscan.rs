//! The indicators eml_parser reports for each body part (`uri`, `uri_noscheme`, `email`,
//! `domain`, `ip`): the body is scanned in slices cut at white space, exactly as the original
//! slices it, since a slice boundary changes what the HTML-attribute search can see.

use crate::charclass::{char_at, fold_prefix, is_space, is_word, run, word_boundary};
use crate::html::py_space;
use crate::patterns;
use crate::unc;
use crate::url::{split, unquote};
use crate::urls::{is_file_name, uri_ondata};
use serde_json::{Map, Value, json};
use std::borrow::Cow;

/// eml_parser's pattern for namespace declarations, which are blanked out before the scan (a
/// namespace URI is no indicator); [`xmlns_at`] matches it.
#[cfg(test)]
const XMLNS: &str = r#"(?i)\bxmlns(?::[\w.\-]{1,100})?\s*=\s*(?:"[^"]{0,2000}"|'[^']{0,2000}')"#;

/// `[\w.\-]` under `(?i)`: a namespace prefix.
fn prefix_char(c: char) -> bool {
    is_word(c) || c == '.' || c == '-'
}

/// The end of a match of `XMLNS` at byte `start`. No part of it can give back characters to
/// the next (a prefix is followed by a space or `=`, which it cannot contain; a value ends at
/// its first closing quote), so only the first choice of each part can succeed.
fn xmlns_at(text: &str, start: usize) -> Option<usize> {
    let mut i = fold_prefix(text, start, "xmlns")?;
    if !word_boundary(text, start) {
        return None;
    }
    if char_at(text, i) == Some(':') {
        let (end, n) = run(text, i + 1, 101, prefix_char);
        if !(1..=100).contains(&n) {
            return None;
        }
        i = end;
    }
    let (eq, _) = run(text, i, usize::MAX, is_space);
    if char_at(text, eq) != Some('=') {
        return None;
    }
    let (open, _) = run(text, eq + 1, usize::MAX, is_space);
    let quote = char_at(text, open).filter(|q| matches!(q, '"' | '\''))?;
    let (close, n) = run(text, open + 1, 2001, |c| c != quote);
    (n <= 2000 && char_at(text, close) == Some(quote)).then_some(close + 1)
}

/// `XMLNS.sub(' ', body)`: each namespace declaration replaced by a space.
fn blank_xmlns(body: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let (mut copied, mut at) = (0, 0);
    while let Some(k) = body.as_bytes()[at..]
        .iter()
        .position(|b| matches!(b, b'x' | b'X'))
    {
        let start = at + k;
        match xmlns_at(body, start) {
            Some(end) => {
                out.push_str(&body[copied..start]);
                out.push(' ');
                (copied, at) = (end, end);
            }
            None => at = start + 1,
        }
    }
    if copied == 0 {
        return Cow::Borrowed(body);
    }
    out.push_str(&body[copied..]);
    Cow::Owned(out)
}

/// An insertion-ordered set of strings (Python's `dict.fromkeys` idiom).
#[derive(Default)]
pub struct Ordered(Vec<String>, std::collections::HashSet<String>);

impl Ordered {
    /// Adds `value` unless it is already there.
    pub fn add(&mut self, value: &str) {
        if self.1.insert(value.to_string()) {
            self.0.push(value.to_string());
        }
    }

    /// The values in insertion order.
    pub fn items(&self) -> &[String] {
        &self.0
    }
}

/// `string_sliding_window_loop(body)`: consecutive slices of about 500 characters, each cut at
/// the next white space within 8192 characters.
pub fn slices(body: &str) -> Vec<&str> {
    const STEP: usize = 500;
    const MAX_DISTANCE: usize = 8192;
    let offsets: Vec<usize> = body
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(body.len()))
        .collect();
    let chars: Vec<char> = body.chars().collect();
    let len = chars.len();
    let mut out = Vec::new();
    let (mut start, mut scanned) = (0usize, 0usize);
    while len - start > STEP {
        let mut end = start + STEP;
        let from = end.max(scanned);
        let to = (end + MAX_DISTANCE).min(len);
        let boundary = (from..to).find(|k| py_space(chars[*k]) || chars[*k] == '\u{85}');
        if let Some(found) = boundary {
            end = found;
        } else if len - end <= MAX_DISTANCE {
            break;
        } else {
            scanned = end + MAX_DISTANCE;
        }
        out.push(&body[offsets[start]..offsets[end]]);
        start = end;
    }
    out.push(&body[offsets[start]..]);
    out
}

/// The indicator keys of one body part, in the original's order, only those with values.
pub fn scan(body: &str) -> Map<String, Value> {
    let cleaned = blank_xmlns(body);
    let (mut urls, mut noscheme) = (Ordered::default(), Ordered::default());
    let (mut emails, mut domains, mut ips) =
        (Ordered::default(), Ordered::default(), Ordered::default());
    let mut shares = Ordered::default();
    for slice in slices(&cleaned) {
        for url in uri_ondata(slice) {
            let head: String = url.chars().take(10).collect();
            if head.contains(":/") {
                urls.add(&url)
            } else {
                noscheme.add(&url)
            }
        }
        for share in unc::shares(slice) {
            shares.add(&share);
        }
        for m in patterns::emails(slice) {
            let lower = m.to_lowercase();
            if patterns::valid_domain_or_ip(&lower).is_some() {
                emails.add(&lower);
            }
        }
        for m in patterns::domains(slice) {
            if is_file_name(m) {
                continue;
            }
            let lower = m.to_lowercase();
            if patterns::valid_domain_or_ip(&lower).is_some() {
                domains.add(&lower);
            }
        }
        for m in patterns::ipv4s(slice)
            .into_iter()
            .chain(patterns::ipv6s(slice))
        {
            if m.contains(':') && !m.chars().any(|c| c.is_numeric()) && m.matches(':').count() < 3 {
                continue;
            }
            if let Some(ip) = patterns::valid_domain_or_ip(&m.to_lowercase()) {
                ips.add(&ip);
            }
        }
    }
    let mut all = Ordered::default();
    for url in urls.items().iter().chain(noscheme.items()) {
        all.add(url);
    }
    for url in all.items() {
        for m in patterns::domains(&unquote(url)) {
            if is_file_name(m) {
                continue;
            }
            let lower = m.to_lowercase();
            if patterns::valid_domain_or_ip(&lower).is_some() {
                domains.add(&lower);
            }
        }
        let target = if url.contains(":/") {
            url.clone()
        } else {
            format!("//{url}")
        };
        let host = split(&target).ok().and_then(|s| s.hostname());
        if let Some(ip) = host.and_then(|h| patterns::obfuscated_ip(h.trim_end_matches('.'))) {
            ips.add(&ip);
        }
    }
    // The host of a share is contacted when the path is opened: it is an indicator too.
    for share in shares.items() {
        if let Some(host) = unc::share_host(share) {
            if patterns::parse_python_ip(&host).is_some() {
                ips.add(&host);
            } else {
                domains.add(&host);
            }
        }
    }
    let mut out = Map::new();
    for (key, set) in [
        ("uri", &urls),
        ("uri_noscheme", &noscheme),
        ("unc", &shares),
        ("email", &emails),
        ("domain", &domains),
        ("ip", &ips),
    ] {
        if !set.items().is_empty() {
            out.insert(key.into(), json!(set.items()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charclass::check::{Rng, UNICODE_PIECES, assert_class, at_bound, corpus_texts};

    #[test]
    fn xmlns_scanner_matches_the_pattern() {
        assert_class(r"(?i)[\w.\-]", prefix_char);
        assert_class(r"(?i)\s", is_space);
        assert_class(r#"(?i)[^"]"#, |c| c != '"');
        assert_class(r"(?i)[^']", |c| c != '\'');
        let pattern = regex::Regex::new(XMLNS).expect("xmlns pattern");
        let long = |n: usize| "v".repeat(n);
        let (p99, p100, v999, v1000) = (long(99), long(100), long(999), long(1000));
        let pieces: Vec<&str> = [
            "xmlns",
            "xmlns",
            "XMLNS",
            "xmln\u{17F}",
            "xmlnsx",
            ":",
            ":",
            "o:",
            "a",
            "-",
            ".",
            "_",
            " ",
            "\t",
            "\n",
            "=",
            "=",
            "\"",
            "\"",
            "'",
            "'",
            "x",
            "ax",
            "<html ",
            ">",
            &p99,
            &p100,
            &v999,
            &v1000,
            " xmlns",
            " xmlns=\"",
            " xmlns:o",
            "=\"urn:x\"",
            "='v'",
            "\" ",
            " = ",
            "<html xmlns:v=\"urn:schemas-microsoft-com:vml\" ",
        ]
        .into_iter()
        .chain(UNICODE_PIECES.iter().copied())
        .collect();
        let mut found = 0;
        let mut check = |text: &str| {
            let expected = pattern.replace_all(text, " ");
            found += usize::from(expected != text);
            assert_eq!(blank_xmlns(text), expected, "{text:?}");
        };
        let bounds = [
            at_bound(" xmlns=\"", 'v', "\" ", 2000),
            at_bound(" xmlns='", 'v', "' ", 2000),
            at_bound("<x xmlns:", 'p', "='a'", 100),
            at_bound("xmlns:", 'p', " = \"a\"", 1),
        ];
        bounds.iter().flatten().for_each(|text| check(text));
        corpus_texts().iter().for_each(|text| check(text));
        let mut rng = Rng::new(3);
        for _ in 0..30_000 {
            check(&rng.text(&pieces, 12));
        }
        assert!(found > 1_000, "{found} matches");
    }

    #[test]
    fn slices_cover_the_body_and_cut_at_spaces() {
        let body = format!("{} tail", "a".repeat(600));
        assert_eq!(slices(&body), vec![&body[..600], &body[600..]]);
        let short = "short body";
        assert_eq!(slices(short), vec![short]);
    }
}
