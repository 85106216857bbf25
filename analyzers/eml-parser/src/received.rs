//! Received header fields split into `from`, `by`, `with`, `for` and `date`, as eml_parser's
//! `routing.parserouting` does, plus the relay IPs and domains it collects from them.

use crate::dates;
use crate::patterns::{self, EMAIL};
use regex::Regex;
use serde_json::{Map, Value, json};
use std::sync::LazyLock;

static ANGLE_ADDRESS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<[^<>\s]*@[^<>\s]*>").expect("angle address"));
static DATE_CHARS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\w\s:,+.\-]+$").expect("date chars"));
/// eml_parser's `recv_dom_regex`.
pub static RECV_DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:(?:from|by)\s+)([a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]{2,})+)")
        .expect("received domain")
});

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The structural tokens of a line: parentheses, semicolons, the keywords and `received:`.
fn tokens(line: &str) -> Vec<(&'static str, usize, usize)> {
    let mut out = Vec::new();
    let mut prev: Option<char> = None;
    let mut iter = line.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let kind = match c {
            '(' => Some(("(", 1)),
            ')' => Some((")", 1)),
            ';' => Some((";", 1)),
            _ => None,
        };
        if let Some((k, len)) = kind {
            out.push((k, i, i + len));
            prev = Some(c);
            continue;
        }
        let before_ok = prev.is_none_or(|p| p.is_whitespace() || matches!(p, ')' | ';' | '['));
        let mut matched = None;
        if before_ok {
            for keyword in ["from", "by", "with", "for"] {
                if line[i..].starts_with(keyword) {
                    let next = line[i + keyword.len()..].chars().next();
                    if next.is_none_or(|n| n.is_whitespace() || n == '(') {
                        matched = Some(keyword);
                        break;
                    }
                }
            }
        }
        if matched.is_none()
            && prev.is_some_and(char::is_whitespace)
            && line[i..].starts_with("received:")
            && line[i + 9..]
                .chars()
                .next()
                .is_some_and(char::is_whitespace)
        {
            matched = Some("received:");
        }
        if let Some(keyword) = matched {
            out.push((keyword, i, i + keyword.len()));
            for _ in 1..keyword.len() {
                iter.next();
            }
            prev = keyword.chars().last();
            continue;
        }
        prev = Some(c);
    }
    out
}

/// `cleanline`: strip `;` and white space at both ends.
fn cleanline(text: &str) -> &str {
    text.trim_matches(|c: char| c == ';' || c.is_whitespace())
}

/// The text from `start` on with the comments cut out and the white space normalised.
fn remove_comments(line: &str, comments: &[(usize, usize)], mut start: usize) -> String {
    let mut sorted = comments.to_vec();
    sorted.sort();
    let mut parts = Vec::new();
    for (cs, ce) in sorted {
        if ce > start {
            parts.push(&line[start..start.max(cs)]);
            start = start.max(ce);
        }
    }
    parts.push(&line[start..]);
    parts
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn parse_date(line: &str, comments: &[(usize, usize)], separators: &[usize]) -> Option<String> {
    let last = *separators.last()?;
    let date = remove_comments(line, comments, last + 1);
    let date = date.strip_suffix(']').unwrap_or(&date).trim_end();
    if !DATE_CHARS.is_match(date) || !date.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    dates::parse(date)
        .map(|d| d.iso())
        .filter(|iso| iso != dates::DEFAULT_DATE)
}

/// `get_domain_ip`: host names, then IPv4, then IPv6 addresses of a `from` or `by` section.
fn domain_ip(text: &str) -> Vec<String> {
    let line: String = text
        .chars()
        .map(|c| if "()[],;<>\"".contains(c) { ' ' } else { c })
        .collect();
    let mut found: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        if !found.iter().any(|f| f == s) {
            found.push(s.to_string());
        }
    };
    if line.contains('.') {
        for host in hosts(&line) {
            push(host);
        }
        for ip in patterns::ipv4s(&line) {
            push(ip);
        }
    }
    if line.contains(':') {
        for ip in patterns::ipv6s(&line) {
            push(ip);
        }
    }
    found
}

/// The `_HOST` pattern of routing.py: labels of word characters and hyphens, possessively,
/// ending in a letters-only or punycode label, not inside a longer token.
fn hosts(line: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let at = |k: usize| chars.get(k).map(|(_, c)| *c);
    let pos = |k: usize| chars.get(k).map_or(line.len(), |(i, _)| *i);
    let mut out = Vec::new();
    let mut k = 0;
    while k < chars.len() {
        let prev_ok =
            k == 0 || !at(k - 1).is_some_and(|p| is_word(p) || matches!(p, '.' | '-' | '/'));
        if !prev_ok {
            k += 1;
            continue;
        }
        let mut start = k;
        if at(k) == Some('*') && at(k + 1) == Some('.') {
            start = k + 2;
        }
        let mut j = start;
        let mut last_label = start;
        let mut labels = 0;
        loop {
            if !at(j).is_some_and(is_word) {
                break;
            }
            let mut e = j + 1;
            while at(e).is_some_and(|c| is_word(c) || c == '-') {
                e += 1;
            }
            if at(e) == Some('.') && at(e + 1).is_some_and(is_word) {
                labels += 1;
                j = e + 1;
                last_label = j;
            } else {
                break;
            }
        }
        if labels > 0 {
            let mut e = last_label;
            while at(e).is_some_and(|c| is_word(c) || c == '-') {
                e += 1;
            }
            let tld: String = chars[last_label..e].iter().map(|(_, c)| c).collect();
            let letters = tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic);
            let puny = tld.len() > 4 && tld.starts_with("xn--");
            let next = at(e);
            // Not followed by a word character, `-`, `@`, `.`+word or `/`+digit (a version).
            let touches_word = next.is_some_and(|c| is_word(c) || c == '-' || c == '@');
            let dotted = next == Some('.') && at(e + 1).is_some_and(is_word);
            let version = next == Some('/') && at(e + 1).is_some_and(|c| c.is_ascii_digit());
            let after_ok = !(touches_word || dotted || version);
            if (letters || puny) && after_ok {
                out.push(&line[pos(start)..pos(e)]);
                k = e;
                continue;
            }
        }
        k += 1;
    }
    out
}

/// `parserouting`: the parsed form of one (lower-cased, white-space-collapsed) Received line.
pub fn parse_routing(line: &str) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("src".into(), json!(line));
    let mut open: Vec<(usize, usize)> = Vec::new();
    let mut comments = Vec::new();
    let mut toks: Vec<(&str, usize, usize)> = Vec::new();
    for (kind, start, end) in tokens(line) {
        match kind {
            "(" => open.push((toks.len(), start)),
            ")" => {
                if let Some((mark, s)) = open.pop() {
                    toks.truncate(mark);
                    comments.push((s, end));
                }
            }
            _ => toks.push((kind, start, end)),
        }
    }
    let mut sections: Vec<(usize, usize, &str)> = Vec::new();
    let mut separators = Vec::new();
    for (kind, start, end) in toks {
        match kind {
            ";" => separators.push(start),
            "received:" => {
                out.insert("warning".into(), json!(["Merged Received headers"]));
                return out;
            }
            k if !sections.iter().any(|(_, _, s)| *s == k) => sections.push((start, end, k)),
            _ => {}
        }
    }
    if sections.is_empty() {
        out.insert("warning".into(), json!(["Nothing Parsable"]));
        if let Some(date) = parse_date(line, &comments, &separators) {
            out.insert("date".into(), json!(date));
        }
        return out;
    }
    sections.sort();
    for (n, (_, end, keyword)) in sections.iter().enumerate() {
        let stop = match sections.get(n + 1) {
            Some((next, _, _)) => *next,
            None => separators
                .iter()
                .copied()
                .find(|s| s > end)
                .unwrap_or(line.len()),
        };
        let value = cleanline(&line[*end..stop]);
        if !value.is_empty() {
            out.insert((*keyword).into(), json!(value));
        }
    }
    if let Some(date) = parse_date(line, &comments, &separators) {
        out.insert("date".into(), json!(date));
    }
    if let Some(for_value) = out.get("for").and_then(Value::as_str).map(str::to_string) {
        let mut for_text = for_value.clone();
        if let Some((before, after)) = for_value.split_once(" from ") {
            for_text = before.to_string();
            let from = out
                .get("from")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            out.insert("from".into(), json!(format!("{from} {after}")));
        }
        let mut found: Vec<String> = Vec::new();
        for m in EMAIL.find_iter(&for_text) {
            if !found.iter().any(|f| f == m.as_str()) {
                found.push(m.as_str().to_string());
            }
        }
        if found.is_empty() {
            out.shift_remove("for");
        } else {
            out.insert("for".into(), json!(found));
        }
    }
    for keyword in ["from", "by"] {
        if let Some(text) = out.get(keyword).and_then(Value::as_str).map(str::to_string) {
            let text = if text.contains('<') {
                ANGLE_ADDRESS.replace_all(&text, " ").into_owned()
            } else {
                text
            };
            let found = domain_ip(&text);
            if found.is_empty() {
                out.shift_remove(keyword);
            } else {
                out.insert(keyword.into(), json!(found));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_a_postfix_line() {
        let line = "from mx2.a.example (mx2.a.example [10.20.0.12]) by mail.a.example (postfix) with esmtps id 4f1a for <j@a.example>; mon, 16 nov 2026 09:14:07 +0100 (cet)";
        let out = Value::Object(parse_routing(line));
        assert_eq!(out["from"], json!(["mx2.a.example", "10.20.0.12"]));
        assert_eq!(out["by"], json!(["mail.a.example"]));
        assert_eq!(out["with"], json!("esmtps id 4f1a"));
        assert_eq!(out["for"], json!(["j@a.example"]));
        assert_eq!(out["date"], json!("2026-11-16T09:14:07+01:00"));
    }
}
