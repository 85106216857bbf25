//! URL extraction as eml_parser's `get_uri_ondata` does it: the URL and `www.` patterns, the
//! URL-carrying HTML attributes, and the clean-up and validation of each candidate.

use crate::charclass::{
    char_at, fold_eq, fold_prefix, is_digit, is_space, is_word, next_candidate, run, word_boundary,
};
use crate::patterns::{obfuscated_ip, valid_domain_or_ip};
use crate::url::{html_unescape, split};

/// The URL-with-scheme alternative of `url_regex_www` (also `url_regex_simple`), which
/// [`scheme_url_at`] matches.
#[cfg(test)]
const SCHEME_URL: &str = r#"\b(?:https?|ftps?):(?:/{1,3}|[a-z0-9%])(?:\[[0-9a-f:.]{2,40}(?:%[^\x00-\x20\s\]]{1,100})?\]|[^\x00-\x20\s`()<>{}\[\]/'"«»“”‘’]+)(?:[\w\-._~%!$&'()*+,;=:/?#\[\]@\x{1000}-\x{10FFFF}]*[^\x00-\x20\s`!\[\]{};:'".,<>«»“”‘’])?"#;

/// The `www.` alternative of `url_regex_www`, which [`www_url_at`] matches; its `{1,250}` label
/// bounds are unbounded here, which only matters for labels or hosts longer than 250 characters.
#[cfg(test)]
const WWW_URL: &str = r#"(?:^|[ \t\n\r\f\v'"«»“”‘’])www\d{0,3}[.](?:[-\w\x{0900}-\x{2017}\x{2020}-\x{10FFFF}]+[.])+[-0-9a-z\w\x{0900}-\x{0DFF}]{2,30}[.]*(?::0*[1-9][0-9]{0,4})?(?:[/#?](?:[\w\-._~%!$&'()*+,;=:/?#\[\]@\x{1000}-\x{10FFFF}]*[^\x00-\x20\s`!\[\]{};:'".,<>«»“”‘’]))"#;

/// The attribute pattern of `findall_href`, which [`href_at`] matches.
#[cfg(test)]
const HREF_ATTR: &str = r#"(?i)(xlink:href|href|src|formaction|action|data|background)[\s/]*=\s*((?:["][^"]+)|['][^']+|[^\s>]+)"#;

/// The numeric-host test of `clean_found_uri`, which [`numeric_host`] matches.
#[cfg(test)]
const NUMERIC_HOST: &str =
    r"(?i)^[a-z][a-z0-9+.\-]*://(?:[^/?#@]*@)?(?:0x[0-9a-f]+|[0-9]+)(?:[:/?#]|$)";

/// The scheme test of `normalize_attribute_url`, which [`backslash_scheme`] matches.
#[cfg(test)]
const BACKSLASH_SCHEME: &str = r#"(?i)^["']?[a-z][a-z0-9+.\-]*:[\\/]{2}"#;

// The classes of the patterns, with `(?i)` applied (the tests compare each with regex-syntax's
// translation of the original class). `\x00-\x20` is written `c <= ' '`.

/// `[a-z]` under `(?i)`: ASCII letters, KELVIN SIGN and LONG S.
fn letter(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '\u{212A}' || c == '\u{17F}'
}

/// `[a-z0-9%]` after the scheme's colon.
fn after_colon(c: char) -> bool {
    letter(c) || c.is_ascii_digit() || c == '%'
}

/// `[0-9a-f:.]` of a bracketed host.
fn bracket_char(c: char) -> bool {
    c.is_ascii_hexdigit() || c == ':' || c == '.'
}

/// `[^\x00-\x20\s\]]` of a bracketed host's zone.
fn zone_char(c: char) -> bool {
    !(c <= ' ' || is_space(c) || c == ']')
}

/// `[^\x00-\x20\s`()<>{}\[\]/'"«»“”‘’]` of a host.
fn host_char(c: char) -> bool {
    !(c <= ' '
        || is_space(c)
        || matches!(
            c,
            '`' | '('
                | ')'
                | '<'
                | '>'
                | '{'
                | '}'
                | '['
                | ']'
                | '/'
                | '\''
                | '"'
                | '«'
                | '»'
                | '“'
                | '”'
                | '‘'
                | '’'
        ))
}

/// `[\w\-._~%!$&'()*+,;=:/?#\[\]@\x{1000}-\x{10FFFF}]` of a path.
fn path_char(c: char) -> bool {
    is_word(c)
        || c >= '\u{1000}'
        || matches!(
            c,
            '-' | '.'
                | '_'
                | '~'
                | '%'
                | '!'
                | '$'
                | '&'
                | '\''
                | '('
                | ')'
                | '*'
                | '+'
                | ','
                | ';'
                | '='
                | ':'
                | '/'
                | '?'
                | '#'
                | '['
                | ']'
                | '@'
        )
}

/// `[^\x00-\x20\s`!\[\]{};:'".,<>«»“”‘’]`, the last character of a path.
fn path_end_char(c: char) -> bool {
    !(c <= ' '
        || is_space(c)
        || matches!(
            c,
            '`' | '!'
                | '['
                | ']'
                | '{'
                | '}'
                | ';'
                | ':'
                | '\''
                | '"'
                | '.'
                | ','
                | '<'
                | '>'
                | '«'
                | '»'
                | '“'
                | '”'
                | '‘'
                | '’'
        ))
}

/// `[ \t\n\r\f\v'"«»“”‘’]`, which precedes a `www.` URL.
fn www_delimiter(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | '\r' | '\x0c' | '\x0b' | '\'' | '"' | '«' | '»' | '“' | '”' | '‘' | '’'
    )
}

/// `[-\w\x{0900}-\x{2017}\x{2020}-\x{10FFFF}]` of a `www.` URL's labels.
fn www_label_char(c: char) -> bool {
    c == '-' || is_word(c) || ('\u{900}'..='\u{2017}').contains(&c) || c >= '\u{2020}'
}

/// `[-0-9a-z\w\x{0900}-\x{0DFF}]` of a `www.` URL's last label.
fn www_tld_char(c: char) -> bool {
    c == '-' || is_word(c) || ('\u{900}'..='\u{DFF}').contains(&c)
}

/// `[a-z0-9+.\-]` of a scheme.
fn scheme_char(c: char) -> bool {
    letter(c) || c.is_ascii_digit() || matches!(c, '+' | '.' | '-')
}

/// `(?:PATH*PATH_END)` at byte `i`: the end of its match, the longest the greedy star allows.
fn path_end(text: &str, i: usize) -> Option<usize> {
    let (run_end, _) = run(text, i, usize::MAX, path_char);
    if let Some(c) = char_at(text, run_end).filter(|c| path_end_char(*c)) {
        return Some(run_end + c.len_utf8());
    }
    text[i..run_end]
        .char_indices()
        .rev()
        .find(|(_, c)| path_end_char(*c))
        .map(|(k, c)| i + k + c.len_utf8())
}

/// The end of a match of `SCHEME_URL` (under `(?i)`) at byte `p`.
///
/// Each part is matched greedily and never needs to give back: what follows a part can never
/// start with a character the part takes, so the first choice of the backtracking order is the
/// only one that can succeed. Only the optional path is searched back for its last character.
fn scheme_url_at(text: &str, p: usize) -> Option<usize> {
    let mut i = fold_prefix(text, p, "http").or_else(|| fold_prefix(text, p, "ftp"))?;
    if !word_boundary(text, p) {
        return None;
    }
    if let Some(s) = char_at(text, i).filter(|c| fold_eq(*c, b's')) {
        i += s.len_utf8();
    }
    if char_at(text, i) != Some(':') {
        return None;
    }
    i += 1;
    match char_at(text, i)? {
        '/' => {
            let (end, n) = run(text, i, 4, |c| c == '/');
            if n > 3 {
                return None;
            }
            i = end;
        }
        c if after_colon(c) => i += c.len_utf8(),
        _ => return None,
    }
    if char_at(text, i) == Some('[') {
        let (end, n) = run(text, i + 1, 41, bracket_char);
        if !(2..=40).contains(&n) {
            return None;
        }
        i = end;
        if char_at(text, i) == Some('%') {
            let (end, n) = run(text, i + 1, 101, zone_char);
            if !(1..=100).contains(&n) {
                return None;
            }
            i = end;
        }
        if char_at(text, i) != Some(']') {
            return None;
        }
        i += 1;
    } else {
        let (end, n) = run(text, i, usize::MAX, host_char);
        if n == 0 {
            return None;
        }
        i = end;
    }
    Some(path_end(text, i).unwrap_or(i))
}

/// The end of a match of `WWW_URL` (under `(?i)`) at byte `p`: at the start of the text
/// (`^`), or at a delimiter that the match includes.
fn www_url_at(text: &str, p: usize) -> Option<usize> {
    if p == 0
        && let Some(end) = www_body(text, 0)
    {
        return Some(end);
    }
    let c = char_at(text, p).filter(|c| www_delimiter(*c))?;
    www_body(text, p + c.len_utf8())
}

/// `WWW_URL` after its delimiter. The labels followed by a dot repeat greedily, and the
/// pattern backtracks over the number of repetitions only: from the most to one.
fn www_body(text: &str, i: usize) -> Option<usize> {
    let i = fold_prefix(text, i, "www")?;
    let (mut i, n) = run(text, i, 4, is_digit);
    if n > 3 || char_at(text, i) != Some('.') {
        return None;
    }
    i += 1;
    let mut labels = Vec::new();
    loop {
        let (end, n) = run(text, i, usize::MAX, www_label_char);
        if n == 0 || char_at(text, end) != Some('.') {
            break;
        }
        i = end + 1;
        labels.push(i);
    }
    labels.iter().rev().find_map(|&at| www_tail(text, at))
}

/// `WWW_URL` from its last label on: label, dots, port and the path it requires.
fn www_tail(text: &str, i: usize) -> Option<usize> {
    let (i, n) = run(text, i, 31, www_tld_char);
    if !(2..=30).contains(&n) {
        return None;
    }
    let (mut i, _) = run(text, i, usize::MAX, |c| c == '.');
    if char_at(text, i) == Some(':') {
        let (zeros, _) = run(text, i + 1, usize::MAX, |c| c == '0');
        char_at(text, zeros).filter(|c| ('1'..='9').contains(c))?;
        let (end, n) = run(text, zeros + 1, 5, |c| c.is_ascii_digit());
        if n > 4 {
            return None;
        }
        i = end;
    }
    char_at(text, i).filter(|c| matches!(c, '/' | '#' | '?'))?;
    path_end(text, i + 1)
}

/// `url_regex_www.findall`: the leftmost-first, non-overlapping matches of
/// `(?i)SCHEME_URL|WWW_URL`.
fn url_matches(text: &str) -> Vec<&str> {
    let starts = |b: u8| matches!(b, b'h' | b'H' | b'f' | b'F') || www_delimiter(char::from(b));
    let mut out = Vec::new();
    // Position 0 is always tried: a `www.` URL may start there (`^`).
    let mut next = Some(0);
    while let Some(p) = next {
        let Some(c) = char_at(text, p) else {
            break;
        };
        let found = if fold_eq(c, b'h') || fold_eq(c, b'f') {
            scheme_url_at(text, p)
        } else if p == 0 || www_delimiter(c) {
            www_url_at(text, p)
        } else {
            None
        };
        let resume = match found {
            Some(end) => {
                out.push(&text[p..end]);
                end
            }
            None => p + c.len_utf8(),
        };
        next = next_candidate(text, resume, starts);
    }
    out
}

/// The names of `HREF_ATTR`, in its order.
const HREF_NAMES: [&str; 7] = [
    "xlink:href",
    "href",
    "src",
    "formaction",
    "action",
    "data",
    "background",
];

/// A match of `HREF_ATTR` at byte `p`: the end of the attribute name, and the value's span.
/// A quoted value runs to the next quote or the end, without it; a quote directly followed by
/// the same quote falls to the unquoted form.
fn href_at(text: &str, p: usize) -> Option<(usize, usize, usize)> {
    // The names start with different letters: the first character picks the only candidate.
    let first = char_at(text, p)?;
    let name = HREF_NAMES
        .iter()
        .find(|n| fold_eq(first, n.as_bytes()[0]))?;
    let name_end = fold_prefix(text, p, name)?;
    let (eq, _) = run(text, name_end, usize::MAX, |c| is_space(c) || c == '/');
    if char_at(text, eq) != Some('=') {
        return None;
    }
    let (start, _) = run(text, eq + 1, usize::MAX, is_space);
    let first = char_at(text, start)?;
    let after = start + first.len_utf8();
    let end = if matches!(first, '"' | '\'') && char_at(text, after).is_some_and(|c| c != first) {
        run(text, after, usize::MAX, |c| c != first).0
    } else if first == '>' {
        return None;
    } else {
        run(text, start, usize::MAX, |c| !is_space(c) && c != '>').0
    };
    Some((name_end, start, end))
}

/// The leftmost-first, non-overlapping matches of `HREF_ATTR`: the attribute name's start,
/// the name, and the value's span.
fn href_attributes(text: &str) -> Vec<(usize, &str, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut next = next_candidate(text, 0, |b| b.is_ascii_alphabetic());
    while let Some(p) = next {
        let Some(c) = char_at(text, p) else {
            break;
        };
        let candidate = c.is_ascii_alphabetic() || c == '\u{17F}';
        let resume = match candidate.then(|| href_at(text, p)).flatten() {
            Some((name_end, start, end)) => {
                out.push((p, &text[p..name_end], start..end));
                end
            }
            None => p + c.len_utf8(),
        };
        next = next_candidate(text, resume, |b| b.is_ascii_alphabetic());
    }
    out
}

/// `NUMERIC_HOST`: a URL whose host is a number, decimal or `0x` hexadecimal.
fn numeric_host(url: &str) -> bool {
    let Some(first) = char_at(url, 0).filter(|c| letter(*c)) else {
        return false;
    };
    let (i, _) = run(url, first.len_utf8(), usize::MAX, scheme_char);
    if !url[i..].starts_with("://") {
        return false;
    }
    let i = i + 3;
    let ends_host = |e: usize| char_at(url, e).is_none_or(|c| matches!(c, ':' | '/' | '?' | '#'));
    let host_at = |h: usize| {
        if let Some(x) = fold_prefix(url, h, "0x") {
            let (end, n) = run(url, x, usize::MAX, |c| c.is_ascii_hexdigit());
            if n > 0 && ends_host(end) {
                return true;
            }
        }
        let (end, n) = run(url, h, usize::MAX, |c| c.is_ascii_digit());
        n > 0 && ends_host(end)
    };
    // The optional user information is tried first, then the host right after `://`.
    let (user_end, _) = run(url, i, usize::MAX, |c| !matches!(c, '/' | '?' | '#' | '@'));
    (char_at(url, user_end) == Some('@') && host_at(user_end + 1)) || host_at(i)
}

/// `BACKSLASH_SCHEME`: a value that starts (after an optional quote) with a scheme, a colon
/// and two slashes or backslashes.
fn backslash_scheme(value: &str) -> bool {
    let i = usize::from(value.starts_with(['"', '\'']));
    let Some(first) = char_at(value, i).filter(|c| letter(*c)) else {
        return false;
    };
    let (i, _) = run(value, i + first.len_utf8(), usize::MAX, scheme_char);
    let mut rest = value[i..].chars();
    rest.next() == Some(':')
        && rest.next().is_some_and(|c| matches!(c, '/' | '\\'))
        && rest.next().is_some_and(|c| matches!(c, '/' | '\\'))
}

/// The characters `clean_found_uri` strips from the start of a candidate.
const LEADING: &[char] = &[
    ' ', '\t', '\n', '\r', '\x0c', '\x0b', '\'', '"', '«', '»', '“', '”', '‘', '’',
];

/// File name extensions which are not top level domains (eml_parser's effective table).
const FILE_EXTENSIONS: &[&str] = &[
    "7z", "asp", "aspx", "avi", "bak", "bat", "bin", "bmp", "bz2", "cfg", "cgi", "cmd", "cpl",
    "crt", "css", "csv", "dat", "db", "dll", "doc", "docm", "docx", "dotm", "dotx", "eml", "eot",
    "exe", "flv", "gif", "gz", "hta", "htm", "html", "ico", "img", "ini", "iso", "jar", "jpeg",
    "jpg", "js", "json", "jsp", "lnk", "log", "mkv", "mp3", "mp4", "mpg", "msg", "msi", "odp",
    "ods", "odt", "otf", "pdf", "php", "png", "pot", "potm", "potx", "ppt", "pptm", "pptx", "ps1",
    "psd", "rar", "rtf", "scr", "svg", "sys", "tar", "tgz", "tif", "tiff", "tmp", "ttf", "txt",
    "vbe", "vbs", "wav", "webp", "wmv", "woff", "woff2", "wsf", "xls", "xlsb", "xlsm", "xlsx",
    "xml", "xz", "yaml", "yml",
];

/// eml_parser's `is_file_name`: the last label is a common file extension.
pub fn is_file_name(domain: &str) -> bool {
    let ext = domain.rsplit('.').next().unwrap_or("").to_lowercase();
    FILE_EXTENSIONS.contains(&ext.as_str())
}

/// `clean_found_uri`: the candidate cleaned, or `None` if it is no URL with a valid host.
pub fn clean_found_uri(candidate: &str) -> Option<String> {
    let mut url = if candidate.contains('&') {
        html_unescape(candidate)
    } else {
        candidate.to_string()
    };
    if !url.contains('.') && !url.contains('[') && !numeric_host(url.trim_start_matches(LEADING)) {
        return None;
    }
    url = url
        .trim_start_matches(LEADING)
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n' | '\t'))
        .collect();
    url = split(&url).ok()?.geturl();
    let scheme_url = if url.starts_with("//") {
        format!("noscheme:{url}")
    } else if !url.contains(":/") {
        format!("noscheme://{url}")
    } else {
        url.clone()
    };
    let hostname = split(&scheme_url).ok()?.hostname()?;
    let host = hostname.trim_end_matches('.');
    let relative =
        scheme_url.starts_with("noscheme:") && (!host.contains('.') || is_file_name(host));
    if relative || (valid_domain_or_ip(host).is_none() && obfuscated_ip(host).is_none()) {
        return None;
    }
    let cut = url
        .find(['\'', ',', ' ', '"', ')', '}', '\\'])
        .unwrap_or(url.len());
    url.truncate(cut);
    if url.ends_with("://") {
        return None;
    }
    Some(url)
}

/// Splits a match at commas directly followed by another URL (`url_regex_www_comma`).
fn split_at_url_commas(found: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for (i, _) in found.match_indices(',') {
        let next = found[i + 1..]
            .get(..4)
            .unwrap_or(&found[i + 1..])
            .to_ascii_lowercase();
        if next.starts_with("http") || next.starts_with("ftp") || next.starts_with("www") {
            pieces.push(&found[start..i]);
            start = i + 1;
        }
    }
    pieces.push(&found[start..]);
    pieces
}

/// `findall_href`: values of URL attributes whose tag opening is intact and carries them.
pub fn hrefs(body: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut last_end = 0;
    for (attr_start, attr, value) in href_attributes(body) {
        let (value, value_end) = (&body[value.clone()], value.end);
        let window_start = last_end.max(attr_start.saturating_sub(16384));
        let window_start = (window_start..=attr_start)
            .find(|i| body.is_char_boundary(*i))
            .unwrap_or(attr_start);
        let Some(open) = body[window_start..attr_start]
            .rfind('<')
            .map(|i| i + window_start)
        else {
            continue;
        };
        let segment = &body[open..attr_start];
        if segment.contains('>') {
            continue;
        }
        let name_len = segment[1..]
            .bytes()
            .take_while(|b| b.is_ascii_alphabetic() || *b == b':')
            .count();
        if name_len == 0
            || 1 + name_len >= segment.len()
            || !b" \t\r\n\x0c\x0b/".contains(&segment.as_bytes()[1 + name_len])
        {
            continue;
        }
        let tag = segment[1..1 + name_len].to_ascii_lowercase();
        let allowed: &[&str] = match attr.to_ascii_lowercase().as_str() {
            "href" => &["a", "area", "link", "base"],
            "src" => &[
                "img", "script", "iframe", "frame", "embed", "source", "audio", "video", "track",
                "input", "bgsound",
            ],
            "action" => &["form"],
            "formaction" => &["button", "input"],
            "data" => &["object"],
            "background" => &["body"],
            _ => &[],
        };
        if !attr.eq_ignore_ascii_case("xlink:href") && !allowed.contains(&tag.as_str()) {
            continue;
        }
        found.push(value);
        last_end = value_end;
    }
    found
}

/// `normalize_attribute_url`: references resolved, tabs and line breaks dropped, backslashes
/// after a scheme turned into slashes up to the query.
pub fn normalize_attribute_url(value: &str) -> String {
    let value = if value.contains('&') {
        html_unescape(value)
    } else {
        value.to_string()
    };
    let value: String = value
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    if backslash_scheme(&value) {
        let end = [value.find('?'), value.find('#')]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(value.len());
        return format!("{}{}", value[..end].replace('\\', "/"), &value[end..]);
    }
    value
}

/// `get_uri_ondata`: the cleaned URLs of `body`, unique, in order of discovery.
pub fn uri_ondata(body: &str) -> Vec<String> {
    let mut urls: Vec<String> = Vec::new();
    let mut add = |url: Option<String>| {
        if let Some(url) = url
            && !urls.contains(&url)
        {
            urls.push(url);
        }
    };
    for found in url_matches(body) {
        for piece in split_at_url_commas(found) {
            add(clean_found_uri(piece));
        }
    }
    for value in hrefs(body) {
        add(clean_found_uri(&normalize_attribute_url(value)));
    }
    urls
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charclass::check::{Rng, UNICODE_PIECES, assert_class, at_bound, corpus_texts};
    use regex::Regex;

    #[test]
    fn classes_are_the_patterns() {
        assert_class("(?i)[a-z]", letter);
        assert_class("(?i)[a-z0-9%]", after_colon);
        assert_class("(?i)[0-9a-f:.]", bracket_char);
        assert_class(r"(?i)[^\x00-\x20\s\]]", zone_char);
        assert_class(r#"(?i)[^\x00-\x20\s`()<>{}\[\]/'"«»“”‘’]"#, host_char);
        assert_class(
            r"(?i)[\w\-._~%!$&'()*+,;=:/?#\[\]@\x{1000}-\x{10FFFF}]",
            path_char,
        );
        assert_class(r#"(?i)[^\x00-\x20\s`!\[\]{};:'".,<>«»“”‘’]"#, path_end_char);
        assert_class(r#"(?i)[ \t\n\r\f\v'"«»“”‘’]"#, www_delimiter);
        assert_class(
            r"(?i)[-\w\x{0900}-\x{2017}\x{2020}-\x{10FFFF}]",
            www_label_char,
        );
        assert_class(r"(?i)[-0-9a-z\w\x{0900}-\x{0DFF}]", www_tld_char);
        assert_class(r"(?i)[a-z0-9+.\-]", scheme_char);
        assert_class(r"(?i)\d", is_digit);
        assert_class(r"(?i)[0-9]", |c| c.is_ascii_digit());
        assert_class(r"(?i)[0-9a-f]", |c| c.is_ascii_hexdigit());
        assert_class(r"(?i)[\s/]", |c| is_space(c) || c == '/');
        assert_class(r"(?i)[^\s>]", |c| !is_space(c) && c != '>');
        assert_class(r#"(?i)[^"]"#, |c| c != '"');
        assert_class(r"(?i)[^/?#@]", |c| !matches!(c, '/' | '?' | '#' | '@'));
    }

    /// Pieces of URLs, attributes and their delimiters, with the bounds of each repetition.
    const PIECES: &[&str] = &[
        "http",
        "HTTP",
        "https",
        "hTTp\u{17F}",
        "ftp",
        "FTPS",
        ":",
        ":",
        "/",
        "/",
        "//",
        "///",
        "\\\\",
        "[",
        "]",
        "::1",
        "2001:db8",
        "%",
        "eth0",
        "www",
        "WWW",
        "www",
        "wWw1",
        "www123",
        "www1234",
        "www\u{660}",
        ".",
        ".",
        ".",
        "..",
        "example",
        "com",
        "a",
        "b1",
        "-",
        "_",
        "abcdefghijklmnopqrstuvwxyz0123",
        "abcdefghijklmnopqrstuvwxyz01234",
        "0123456789abcdef",
        "0123456789abcdef0123",
        ":80",
        ":0",
        ":00443",
        ":123456",
        ":8080",
        "?",
        "#",
        "q=1",
        "&",
        ",",
        ";",
        "'",
        "\"",
        "(",
        ")",
        "<",
        ">",
        "{",
        "}",
        "`",
        "!",
        "@",
        "~",
        "«",
        "»",
        "“",
        "”",
        "‘",
        "’",
        " ",
        " ",
        "\t",
        "\n",
        "\x0b",
        "\x0c",
        "\r",
        "\x00",
        "\x1f",
        "0x1F",
        "0X",
        "123",
        "4294967296",
        "user@",
        "=",
        "=",
        "href",
        "HREF",
        "src",
        "\u{17F}rc",
        "xlink:href",
        "formaction",
        "action",
        "data",
        "bac\u{212A}ground",
        "<a ",
        "<img ",
        "/>",
        "\"\"",
        "''",
        "http://",
        "https://",
        "www.",
        "\\\\x",
        "h",
        "f",
        "w",
        "\u{1000}a",
        "\u{2018}www.",
        "<a href=\"",
        "<img src=",
        " src = '",
        "<form action=",
        "<object data=x",
        "<body background=",
        "xlink:href=\"#",
        "<button formaction=",
    ];

    #[test]
    fn scanners_match_the_patterns() {
        let url = Regex::new(&format!("(?i){SCHEME_URL}|{WWW_URL}")).expect("url pattern");
        let href = Regex::new(HREF_ATTR).expect("href pattern");
        let numeric = Regex::new(NUMERIC_HOST).expect("numeric pattern");
        let backslash = Regex::new(BACKSLASH_SCHEME).expect("backslash pattern");
        let pieces: Vec<&str> = PIECES.iter().chain(UNICODE_PIECES).copied().collect();
        let anchored: &[&str] = &[
            "\"",
            "'",
            "http",
            "HTTP",
            "h\u{17F}",
            "\u{212A}",
            "x",
            "+",
            ".",
            "-",
            "1",
            ":",
            "://",
            "://",
            "://",
            ":\\\\",
            ":/\\",
            "/",
            "\\",
            "user",
            "@",
            "@",
            "0x",
            "0X1f",
            "0xg",
            "123",
            "abc",
            "?",
            "#",
            ":",
            "\u{E9}",
            " ",
            "http://123",
            "http://0x1f/",
            "ftp://u@10",
            "s://",
        ];
        let mut found = [0usize; 4];
        let mut check_found = |text: &str| {
            let expected: Vec<&str> = url.find_iter(text).map(|m| m.as_str()).collect();
            found[0] += usize::from(!expected.is_empty());
            assert_eq!(url_matches(text), expected, "url {text:?}");
            let expected: Vec<_> = href
                .captures_iter(text)
                .map(|c| {
                    let (name, value) = (c.get(1).expect("name"), c.get(2).expect("value"));
                    (name.start(), name.as_str(), value.range())
                })
                .collect();
            found[1] += usize::from(!expected.is_empty());
            assert_eq!(href_attributes(text), expected, "href {text:?}");
        };
        let bounds = [
            at_bound("http://[", 'a', "]/x", 40),
            at_bound("http://[", 'a', "]/x", 2),
            at_bound("http://[::1%", 'z', "]/x", 100),
            at_bound("http://[::1%", 'z', "]/x", 1),
            at_bound("http:", '/', "x.y/z", 3),
            at_bound("www.a.", 'b', "/x", 30),
            at_bound("www.a.", 'b', "/x", 2),
            at_bound("www.a.bc:", '0', "8/x", 1),
            at_bound("www.a.bc:8", '1', "/x", 4),
            at_bound("www", '\u{661}', ".a.bc/x", 3),
            at_bound(" www.", 'c', ".bc./x", 1),
        ];
        bounds.iter().flatten().for_each(|text| check_found(text));
        corpus_texts().iter().for_each(|text| check_found(text));
        let mut rng = Rng::new(7);
        for round in 0..40_000 {
            check_found(&rng.text(&pieces, if round % 4 == 0 { 40 } else { 12 }));
        }
        for _ in 0..40_000 {
            let text = rng.text(anchored, 8);
            found[2] += usize::from(numeric.is_match(&text));
            assert_eq!(numeric_host(&text), numeric.is_match(&text), "{text:?}");
            found[3] += usize::from(backslash.is_match(&text));
            assert_eq!(
                backslash_scheme(&text),
                backslash.is_match(&text),
                "{text:?}"
            );
        }
        assert!(found.iter().all(|n| *n > 1_000), "{found:?} matches");
    }

    #[test]
    fn finds_urls_like_eml_parser() {
        let html = r#"<a href="http://x.example/a?b=1&amp;c=2">x</a> see www.example.com/docs, or HTTPS://Y.example/."#;
        assert_eq!(
            uri_ondata(html),
            vec![
                "http://x.example/a?b=1&c=2",
                "www.example.com/docs",
                "https://Y.example/"
            ]
        );
        assert_eq!(clean_found_uri("images/logo.png"), None);
        assert_eq!(clean_found_uri("cid:logo"), None);
    }
}
