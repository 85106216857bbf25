//! The indicators eml_parser reports for each body part (`uri`, `uri_noscheme`, `email`,
//! `domain`, `ip`): the body is scanned in slices cut at white space, exactly as the original
//! slices it, since a slice boundary changes what the HTML-attribute search can see.

use crate::html::py_space;
use crate::patterns::{self, EMAIL};
use crate::unc;
use crate::url::{split, unquote};
use crate::urls::{is_file_name, uri_ondata};
use regex::Regex;
use serde_json::{Map, Value, json};
use std::sync::LazyLock;

static XMLNS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\bxmlns(?::[\w.\-]{1,100})?\s*=\s*(?:"[^"]{0,2000}"|'[^']{0,2000}')"#)
        .expect("xmlns pattern")
});

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
    let cleaned = XMLNS.replace_all(body, " ");
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
        for m in EMAIL.find_iter(slice) {
            let lower = m.as_str().to_lowercase();
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

    #[test]
    fn slices_cover_the_body_and_cut_at_spaces() {
        let body = format!("{} tail", "a".repeat(600));
        assert_eq!(slices(&body), vec![&body[..600], &body[600..]]);
        let short = "short body";
        assert_eq!(slices(short), vec![short]);
    }
}
