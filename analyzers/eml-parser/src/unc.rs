//! Remote file shares in a body (eml_parser's `unc_regex` and `get_share_host`): UNC paths
//! (`\\host\share\path`, WebDAV `\\host@SSL\...`, `\\?\UNC\host\share`) and `file://` /
//! `smb://` URLs. Opening one makes the client contact the host (and leak an NTLM hash), so the
//! host is an indicator.

use crate::charclass::{char_at, fold_eq, fold_prefix, is_digit, is_space, next_candidate, run};
use crate::patterns::{obfuscated_ip, valid_domain_or_ip};
use std::ops::Range;

/// `unc_regex` without its look-behind, which [`shares`] checks by hand; [`share_at`] matches
/// it.
#[cfg(test)]
const SHARE: &str = r#"(?i)\\{2}(?:\?\\UNC\\)?(?P<unc_host>[a-z0-9-]+(?:\.[a-z0-9-]+)*(?:@(?:ssl|\d{1,5}))?)\\[^\s\\/:*?"<>|]+(?:\\[^\s"'<>|)\]]*)?|(?:file://|file:////|smb://)(?P<url_host>[a-z0-9-]+(?:\.[a-z0-9-]+)*(?:@(?:ssl|\d{1,5}))?)(?:/[^\s"'<>)\]]*)?"#;

/// `[a-z0-9-]` under `(?i)`: a character of a host label.
fn label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '\u{212A}' || c == '\u{17F}'
}

/// `[^\s\\/:*?"<>|]`: a character of a UNC share name.
fn share_char(c: char) -> bool {
    !(is_space(c) || matches!(c, '\\' | '/' | ':' | '*' | '?' | '"' | '<' | '>' | '|'))
}

/// `[^\s"'<>|)\]]`: a character of a UNC path after the share.
fn unc_path_char(c: char) -> bool {
    !(is_space(c) || matches!(c, '"' | '\'' | '<' | '>' | '|' | ')' | ']'))
}

/// `[^\s"'<>)\]]`: a character of a `file://` or `smb://` path.
fn url_path_char(c: char) -> bool {
    !(is_space(c) || matches!(c, '"' | '\'' | '<' | '>' | ')' | ']'))
}

/// A match of `SHARE`: its end and the span of its host.
struct Share {
    end: usize,
    host: Range<usize>,
}

/// The host of `SHARE` at byte `i`: the end of its labels (taken greedily), and the end of
/// the optional `@SSL` or `@port` after them, which the pattern tries first.
fn host_at(text: &str, i: usize) -> Option<(usize, Option<usize>)> {
    let (mut end, n) = run(text, i, usize::MAX, label_char);
    if n == 0 {
        return None;
    }
    while text[end..].starts_with('.') {
        let (next, n) = run(text, end + 1, usize::MAX, label_char);
        if n == 0 {
            break;
        }
        end = next;
    }
    let port = text[end..].starts_with('@').then(|| {
        fold_prefix(text, end + 1, "ssl").or_else(|| {
            let (digits, n) = run(text, end + 1, 5, is_digit);
            (n > 0).then_some(digits)
        })
    });
    Some((end, port.flatten()))
}

/// `SHARE` at byte `p`.
fn share_at(text: &str, p: usize) -> Option<Share> {
    if text[p..].starts_with("\\\\") {
        // `?\UNC\` is optional, but a host cannot start with `?`.
        let start = fold_prefix(text, p + 2, "?\\unc\\").unwrap_or(p + 2);
        let (labels, port) = host_at(text, start)?;
        // A host is followed by a backslash; if `@...` matched, without it the `@` would be.
        let host_end = port.unwrap_or(labels);
        if !text[host_end..].starts_with('\\') {
            return None;
        }
        let (mut end, n) = run(text, host_end + 1, usize::MAX, share_char);
        if n == 0 {
            return None;
        }
        if text[end..].starts_with('\\') {
            end = run(text, end + 1, usize::MAX, unc_path_char).0;
        }
        return Some(Share {
            end,
            host: start..host_end,
        });
    }
    // `file://` is tried before `file:////`, whose host would start with a slash otherwise.
    let (start, (labels, port)) = ["file://", "file:////", "smb://"]
        .iter()
        .filter_map(|scheme| fold_prefix(text, p, scheme))
        .find_map(|start| Some((start, host_at(text, start)?)))?;
    let host_end = port.unwrap_or(labels);
    let end = if text[host_end..].starts_with('/') {
        run(text, host_end + 1, usize::MAX, url_path_char).0
    } else {
        host_end
    };
    Some(Share {
        end,
        host: start..host_end,
    })
}

/// The leftmost match of `SHARE` at or after byte `at`: its start and the match.
fn find_share(text: &str, at: usize) -> Option<(usize, Share)> {
    let starts = |b: u8| matches!(b, b'\\' | b'f' | b'F' | b's' | b'S');
    let mut next = next_candidate(text, at, starts);
    while let Some(p) = next {
        let c = char_at(text, p)?;
        if (c == '\\' || fold_eq(c, b'f') || fold_eq(c, b's'))
            && let Some(found) = share_at(text, p)
        {
            return Some((p, found));
        }
        next = next_candidate(text, p + c.len_utf8(), starts);
    }
    None
}

/// True when a UNC path may start after `prev`: not after a backslash, word character, colon or
/// dot (an escaped path such as `C:\\Users` is no share).
fn unc_may_follow(prev: Option<char>) -> bool {
    !prev.is_some_and(|c| c == '\\' || c == ':' || c == '.' || c.is_alphanumeric() || c == '_')
}

/// The shares in `text`, in order, with trailing `.`, `,` and `;` removed.
pub fn shares(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some((start, found)) = find_share(text, at) {
        let is_unc = text[start..].starts_with('\\');
        let prev = text[..start].chars().next_back();
        if is_unc && !unc_may_follow(prev) {
            // The look-behind failed here; the search goes on one character further.
            at = start + char_at(text, start).map_or(1, char::len_utf8);
            continue;
        }
        let found_text = &text[start..found.end];
        out.push(found_text.trim_end_matches(['.', ',', ';']).to_string());
        at = found.end.max(start + 1);
    }
    out
}

/// `get_share_host`: the host of a share if it is a domain or an IP address.
pub fn share_host(share: &str) -> Option<String> {
    let host = &share[share_at(share, 0)?.host];
    let mut host = host.split('@').next().unwrap_or(host).to_lowercase();
    if let Some(encoded) = host.strip_suffix(".ipv6-literal.net") {
        host = encoded.replace('-', ":");
    }
    if host.contains('.') || host.contains(':') {
        valid_domain_or_ip(&host)
    } else {
        obfuscated_ip(&host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charclass::check::{Rng, UNICODE_PIECES, assert_class, at_bound, corpus_texts};

    #[test]
    fn scanner_matches_the_pattern() {
        assert_class("(?i)[a-z0-9-]", label_char);
        assert_class(r#"(?i)[^\s\\/:*?"<>|]"#, share_char);
        assert_class(r#"(?i)[^\s"'<>|)\]]"#, unc_path_char);
        assert_class(r#"(?i)[^\s"'<>)\]]"#, url_path_char);
        assert_class(r"(?i)\d", is_digit);
        let pattern = regex::Regex::new(SHARE).expect("share pattern");
        let pieces: Vec<&str> = [
            "\\",
            "\\",
            "\\\\",
            "?\\UNC\\",
            "?\\unc\\",
            "host",
            "files",
            ".",
            ".",
            "-",
            "@",
            "@SSL",
            "@\u{17F}sl",
            "@80",
            "@123456",
            "share",
            "x",
            "/",
            "//",
            "file://",
            "FILE:",
            "file:////",
            "smb://",
            "\u{17F}mb://",
            " ",
            "\"",
            "'",
            "<",
            ">",
            "|",
            ")",
            "]",
            ":",
            "*",
            "?",
            ",",
            ";",
            "10.0.0.5",
            "C:",
            "fi",
            "s",
        ]
        .into_iter()
        .chain(UNICODE_PIECES.iter().copied())
        .collect();
        let mut found = 0;
        let mut check = |text: &str| {
            for at in (0..=text.len()).filter(|at| text.is_char_boundary(*at)) {
                let expected = pattern.captures_at(text, at).map(|c| {
                    let host = c.name("unc_host").or_else(|| c.name("url_host"));
                    let whole = c.get(0).expect("match");
                    (whole.start(), whole.end(), host.expect("host").range())
                });
                found += usize::from(at == 0 && expected.is_some());
                let actual = find_share(text, at).map(|(start, m)| (start, m.end, m.host));
                assert_eq!(actual, expected, "{text:?} at {at}");
            }
        };
        let bounds = [
            at_bound("\\\\host@", '1', "\\share", 5),
            at_bound("file://host@", '\u{663}', "/x", 5),
            at_bound("\\\\", '\\', "host\\share", 1),
        ];
        bounds.iter().flatten().for_each(|text| check(text));
        for text in corpus_texts() {
            // The positions `shares` searches from, rather than every position.
            let mut at = 0;
            while let Some(c) = pattern.captures_at(&text, at) {
                let whole = c.get(0).expect("match");
                let host = c.name("unc_host").or_else(|| c.name("url_host"));
                let actual = find_share(&text, at).map(|(start, m)| (start, m.end, m.host));
                let expected = (whole.start(), whole.end(), host.expect("host").range());
                assert_eq!(actual, Some(expected), "corpus text at {at}");
                at = whole.start() + char_at(&text, whole.start()).map_or(1, char::len_utf8);
            }
            assert!(find_share(&text, at).is_none());
        }
        let mut rng = Rng::new(13);
        for _ in 0..30_000 {
            check(&rng.text(&pieces, 12));
        }
        assert!(found > 1_000, "{found} matches");
    }

    #[test]
    fn finds_shares_like_eml_parser() {
        let text =
            r"open \\files.evil.example\public\doc.lnk, or file://10.0.0.5/x and C:\\Users\\Bob.";
        assert_eq!(
            shares(text),
            vec![r"\\files.evil.example\public\doc.lnk", "file://10.0.0.5/x"]
        );
        assert_eq!(
            share_host(r"\\files.evil.example@SSL\DavWWWRoot\x").as_deref(),
            Some("files.evil.example")
        );
        assert_eq!(
            share_host("smb://3232235777/s").as_deref(),
            Some("192.168.1.1")
        );
        assert_eq!(share_host(r"\\fileserver\share"), None);
    }
}
