//! URL extraction as eml_parser's `get_uri_ondata` does it: the URL and `www.` patterns, the
//! URL-carrying HTML attributes, and the clean-up and validation of each candidate.

use crate::patterns::{obfuscated_ip, valid_domain_or_ip};
use crate::url::{html_unescape, split};
use regex::Regex;
use std::sync::LazyLock;

/// The URL-with-scheme alternative of `url_regex_www` (also `url_regex_simple`).
const SCHEME_URL: &str = r#"\b(?:https?|ftps?):(?:/{1,3}|[a-z0-9%])(?:\[[0-9a-f:.]{2,40}(?:%[^\x00-\x20\s\]]{1,100})?\]|[^\x00-\x20\s`()<>{}\[\]/'"«»“”‘’]+)(?:[\w\-._~%!$&'()*+,;=:/?#\[\]@\x{1000}-\x{10FFFF}]*[^\x00-\x20\s`!\[\]{};:'".,<>«»“”‘’])?"#;

/// The `www.` alternative of `url_regex_www`; its `{1,250}` label bounds are unbounded here, which
/// only matters for labels or hosts longer than 250 characters.
const WWW_URL: &str = r#"(?:^|[ \t\n\r\f\v'"«»“”‘’])www\d{0,3}[.](?:[-\w\x{0900}-\x{2017}\x{2020}-\x{10FFFF}]+[.])+[-0-9a-z\w\x{0900}-\x{0DFF}]{2,30}[.]*(?::0*[1-9][0-9]{0,4})?(?:[/#?](?:[\w\-._~%!$&'()*+,;=:/?#\[\]@\x{1000}-\x{10FFFF}]*[^\x00-\x20\s`!\[\]{};:'".,<>«»“”‘’]))"#;

static URL_WWW: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("(?i){SCHEME_URL}|{WWW_URL}")).expect("url pattern"));

static HREF_ATTR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)(xlink:href|href|src|formaction|action|data|background)[\s/]*=\s*((?:["][^"]+)|['][^']+|[^\s>]+)"#)
        .expect("href pattern")
});

static NUMERIC_HOST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^[a-z][a-z0-9+.\-]*://(?:[^/?#@]*@)?(?:0x[0-9a-f]+|[0-9]+)(?:[:/?#]|$)")
        .expect("numeric host")
});

static BACKSLASH_SCHEME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)^["']?[a-z][a-z0-9+.\-]*:[\\/]{2}"#).expect("backslash scheme")
});

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
    if !url.contains('.')
        && !url.contains('[')
        && !NUMERIC_HOST.is_match(url.trim_start_matches(LEADING))
    {
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
    for caps in HREF_ATTR.captures_iter(body) {
        let (Some(attr), Some(value)) = (caps.get(1), caps.get(2)) else {
            continue;
        };
        let window_start = last_end.max(attr.start().saturating_sub(16384));
        let window_start = (window_start..=attr.start())
            .find(|i| body.is_char_boundary(*i))
            .unwrap_or(attr.start());
        let Some(open) = body[window_start..attr.start()]
            .rfind('<')
            .map(|i| i + window_start)
        else {
            continue;
        };
        let segment = &body[open..attr.start()];
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
        let allowed: &[&str] = match attr.as_str().to_ascii_lowercase().as_str() {
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
        if !attr.as_str().eq_ignore_ascii_case("xlink:href") && !allowed.contains(&tag.as_str()) {
            continue;
        }
        found.push(value.as_str());
        last_end = value.end();
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
    if BACKSLASH_SCHEME.is_match(&value) {
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
    for found in URL_WWW.find_iter(body) {
        for piece in split_at_url_commas(found.as_str()) {
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
