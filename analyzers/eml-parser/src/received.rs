//! Received header fields split into `from`, `by`, `with`, `for` and `date`, as eml_parser's
//! `routing.parserouting` does, plus the relay IPs and domains it collects from them.

use crate::charclass::{self, is_space, run};
use crate::dates;
use crate::patterns::{self, host_label_char};
use serde_json::{Map, Value, json};

/// routing.py's pattern for an address in angle brackets, blanked out of `from` and `by`
/// sections; [`blank_angle_addresses`] matches it.
#[cfg(test)]
const ANGLE_ADDRESS: &str = r"<[^<>\s]*@[^<>\s]*>";
/// routing.py's test of a date's characters, which [`date_chars`] matches.
#[cfg(test)]
const DATE_CHARS: &str = r"^[\w\s:,+.\-]+$";
/// eml_parser's `recv_dom_regex`, which [`relay_domains`] matches.
#[cfg(test)]
const RECV_DOMAIN: &str = r"(?:(?:from|by)\s+)([a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]{2,})+)";

/// `[^<>\s]`: a character of an address in angle brackets.
fn angle_char(c: char) -> bool {
    !(c == '<' || c == '>' || is_space(c))
}

/// `ANGLE_ADDRESS.sub(' ', text)`: a `<` matches when the run of [`angle_char`] after it holds
/// an `@` and ends at a `>`.
fn blank_angle_addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut at) = (0, 0);
    while let Some(k) = text[at..].find('<') {
        let open = at + k;
        let (close, _) = run(text, open + 1, usize::MAX, angle_char);
        if text[close..].starts_with('>') && text[open + 1..close].contains('@') {
            out.push_str(&text[copied..open]);
            out.push(' ');
            (copied, at) = (close + 1, close + 1);
        } else {
            at = open + 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// `DATE_CHARS`: only word characters, white space and `:,+.-`, at least one.
fn date_chars(text: &str) -> bool {
    !text.is_empty()
        && text.chars().all(|c| {
            charclass::is_word(c) || is_space(c) || matches!(c, ':' | ',' | '+' | '.' | '-')
        })
}

/// `recv_dom_regex.findall`: the host after each `from` or `by` and white space, with at least
/// one further label of two or more characters (labels taken greedily).
pub fn relay_domains(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let label_end = |from: usize| {
        from + bytes[from..]
            .iter()
            .take_while(|b| host_label_char(**b))
            .count()
    };
    let mut out = Vec::new();
    let mut p = 0;
    while p < bytes.len() {
        let keyword = ["from", "by"]
            .into_iter()
            .find(|k| bytes[p..].starts_with(k.as_bytes()));
        let Some(keyword) = keyword else {
            p += 1;
            continue;
        };
        let (start, spaces) = run(text, p + keyword.len(), usize::MAX, is_space);
        let mut end = label_end(start);
        let mut labels = 0;
        if spaces > 0 && end > start {
            while bytes.get(end) == Some(&b'.') && label_end(end + 1) >= end + 3 {
                end = label_end(end + 1);
                labels += 1;
            }
        }
        if labels > 0 {
            out.push(&text[start..end]);
            p = end;
        } else {
            p += 1;
        }
    }
    out
}

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
    if !date_chars(date) || !date.chars().any(|c| c.is_ascii_digit()) {
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
        for m in patterns::emails(&for_text) {
            if !found.iter().any(|f| f == m) {
                found.push(m.to_string());
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
                blank_angle_addresses(&text)
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
    use crate::charclass::check::{Rng, UNICODE_PIECES, assert_class, corpus_texts};
    use regex::Regex;

    #[test]
    fn scanners_match_the_patterns() {
        assert_class(r"[^<>\s]", angle_char);
        assert_class(r"[\w\s:,+.\-]", |c| {
            charclass::is_word(c) || is_space(c) || ":,+.-".contains(c)
        });
        let (angle, date, domain) = (
            Regex::new(ANGLE_ADDRESS).expect("angle"),
            Regex::new(DATE_CHARS).expect("date"),
            Regex::new(RECV_DOMAIN).expect("domain"),
        );
        let pieces: Vec<&str> = [
            "<",
            "<",
            ">",
            ">",
            "@",
            "a",
            "b.c",
            " ",
            "\t",
            "from",
            "from ",
            "by",
            "by ",
            "fro",
            "y",
            ".",
            ".",
            "ab",
            "x",
            "-",
            "_",
            "1",
            ":",
            ",",
            "+",
            "mx.example.com",
            "\n",
            "(",
            ")",
            "<a@b>",
            "<j@x.example>",
            "from mx.a.example",
            "by b.cd",
            "from\u{3000}x.yz",
            ".a",
        ]
        .into_iter()
        .chain(UNICODE_PIECES.iter().copied())
        .collect();
        let mut rng = Rng::new(11);
        let mut found = [0usize; 3];
        let texts = corpus_texts();
        let random = (0..30_000).map(|_| rng.text(&pieces, 12));
        for text in texts.into_iter().chain(random) {
            let expected = angle.replace_all(&text, " ");
            found[0] += usize::from(expected != text);
            assert_eq!(blank_angle_addresses(&text), expected, "{text:?}");
            found[1] += usize::from(date.is_match(&text));
            assert_eq!(date_chars(&text), date.is_match(&text), "{text:?}");
            let expected: Vec<&str> = domain
                .captures_iter(&text)
                .map(|c| c.get(1).expect("group").as_str())
                .collect();
            found[2] += usize::from(!expected.is_empty());
            assert_eq!(relay_domains(&text), expected, "{text:?}");
        }
        assert!(found.iter().all(|n| *n > 1_000), "{found:?} matches");
    }

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
