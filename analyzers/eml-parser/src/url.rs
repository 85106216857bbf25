//! The parts of Python's `urllib.parse` and `html` the URL extraction relies on: `urlparse`
//! followed by `geturl()`, `.hostname`, `unquote` and `html.unescape`.

use crate::pyheader::decode_percent;

/// Schemes whose last path segment may carry `;params` (`urllib.parse.uses_params`).
const USES_PARAMS: &[&str] = &[
    "", "ftp", "hdl", "prospero", "http", "imap", "https", "shttp", "rtsp", "rtspu", "sip", "sips",
    "mms", "sftp", "tel",
];

/// A URL split as `urllib.parse.urlsplit` splits it.
#[derive(Debug, Default)]
pub struct Split {
    /// The scheme, lower-cased.
    pub scheme: String,
    /// The network location, `None` when the URL has no `//`.
    pub netloc: Option<String>,
    path: String,
    query: String,
    fragment: String,
}

/// `urlsplit`; `Err` where Python raises `ValueError` (unbalanced or invalid IPv6 brackets).
pub fn split(url: &str) -> Result<Split, ()> {
    let mut rest = url;
    let mut out = Split::default();
    if let Some(i) = rest.find(':')
        && i > 0
        && rest.as_bytes()[0].is_ascii_alphabetic()
        && rest[..i]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        out.scheme = rest[..i].to_ascii_lowercase();
        rest = &rest[i + 1..];
    }
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let netloc = &after[..end];
        if netloc.contains('[') != netloc.contains(']') {
            return Err(());
        }
        if let Some(open) = netloc.find('[') {
            let inside = &netloc[open + 1..netloc.find(']').unwrap_or(netloc.len())];
            if inside.parse::<std::net::Ipv6Addr>().is_err() && !inside.starts_with(['v', 'V']) {
                return Err(());
            }
        }
        out.netloc = Some(netloc.to_string());
        rest = &after[end..];
    }
    if let Some((before, fragment)) = rest.split_once('#') {
        out.fragment = fragment.to_string();
        rest = before;
    }
    if let Some((before, query)) = rest.split_once('?') {
        out.query = query.to_string();
        rest = before;
    }
    out.path = rest.to_string();
    Ok(out)
}

impl Split {
    /// `urlparse(url).geturl()`: the URL rebuilt, so empty queries, fragments and params vanish.
    pub fn geturl(&self) -> String {
        let mut path = self.path.clone();
        if USES_PARAMS.contains(&self.scheme.as_str()) {
            let from = path.rfind('/').unwrap_or(0);
            if let Some(semicolon) = path[from..].find(';').map(|i| i + from)
                && semicolon + 1 == path.len()
            {
                path.truncate(semicolon);
            }
        }
        let mut url = path;
        let netloc = self.netloc.clone().unwrap_or_default();
        if !netloc.is_empty()
            || (!self.scheme.is_empty() && uses_netloc(&self.scheme) && !url.starts_with("//"))
        {
            if !url.is_empty() && !url.starts_with('/') {
                url.insert(0, '/');
            }
            url = format!("//{netloc}{url}");
        }
        if !self.scheme.is_empty() {
            url = format!("{}:{url}", self.scheme);
        }
        if !self.query.is_empty() {
            url = format!("{url}?{}", self.query);
        }
        if !self.fragment.is_empty() {
            url = format!("{url}#{}", self.fragment);
        }
        url
    }

    /// `.hostname`: the host of the netloc, lower-cased, `None` when empty.
    pub fn hostname(&self) -> Option<String> {
        let netloc = self.netloc.as_deref()?;
        let hostinfo = netloc.rsplit_once('@').map_or(netloc, |(_, h)| h);
        let host = match hostinfo.split_once('[') {
            Some((_, bracketed)) => bracketed.split(']').next().unwrap_or(""),
            None => hostinfo.split(':').next().unwrap_or(""),
        };
        if host.is_empty() {
            return None;
        }
        Some(match host.split_once('%') {
            Some((h, zone)) => format!("{}%{zone}", h.to_lowercase()),
            None => host.to_lowercase(),
        })
    }
}

/// Schemes `urlunsplit` gives a `//` even without a netloc (`urllib.parse.uses_netloc`).
fn uses_netloc(scheme: &str) -> bool {
    [
        "",
        "ftp",
        "http",
        "gopher",
        "nntp",
        "telnet",
        "imap",
        "wais",
        "file",
        "mms",
        "https",
        "shttp",
        "snews",
        "prospero",
        "rtsp",
        "rtspu",
        "rsync",
        "svn",
        "svn+ssh",
        "sftp",
        "nfs",
        "git",
        "git+ssh",
        "ws",
        "wss",
        "itms-services",
    ]
    .contains(&scheme)
}

/// `urllib.parse.unquote`: `%XX` sequences decoded as UTF-8 with replacement.
pub fn unquote(text: &str) -> String {
    if !text.contains('%') {
        return text.to_string();
    }
    String::from_utf8_lossy(&decode_percent(text)).into_owned()
}

/// Named character references this port resolves (a subset of HTML5's list, see the README).
const ENTITIES: &[(&str, &str)] = &[
    ("amp", "&"),
    ("lt", "<"),
    ("gt", ">"),
    ("quot", "\""),
    ("apos", "'"),
    ("nbsp", "\u{a0}"),
    ("copy", "\u{a9}"),
    ("reg", "\u{ae}"),
    ("trade", "\u{2122}"),
    ("hellip", "\u{2026}"),
    ("mdash", "\u{2014}"),
    ("ndash", "\u{2013}"),
    ("laquo", "\u{ab}"),
    ("raquo", "\u{bb}"),
    ("lsquo", "\u{2018}"),
    ("rsquo", "\u{2019}"),
    ("ldquo", "\u{201c}"),
    ("rdquo", "\u{201d}"),
    ("euro", "\u{20ac}"),
    ("eacute", "\u{e9}"),
    ("egrave", "\u{e8}"),
    ("agrave", "\u{e0}"),
    ("ccedil", "\u{e7}"),
    ("uuml", "\u{fc}"),
    ("ouml", "\u{f6}"),
    ("auml", "\u{e4}"),
    ("szlig", "\u{df}"),
    ("period", "."),
    ("sol", "/"),
    ("colon", ":"),
    ("commat", "@"),
    ("bull", "\u{2022}"),
    ("middot", "\u{b7}"),
    ("zwnj", "\u{200c}"),
    ("zwj", "\u{200d}"),
    ("shy", "\u{ad}"),
    ("tab", "\t"),
    ("newline", "\n"),
];

/// `html.unescape` for numeric references and the named references in [`ENTITIES`].
pub fn html_unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        if let Some((decoded, used)) = reference(rest) {
            out.push_str(&decoded);
            rest = &rest[used..];
        } else {
            out.push('&');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The character reference at the start of `text` (which begins with `&`) and its length.
fn reference(text: &str) -> Option<(String, usize)> {
    let body = &text[1..];
    if let Some(num) = body.strip_prefix('#') {
        let (digits, radix, prefix) = match num.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16, 2),
            None => (num, 10, 1),
        };
        let len = digits.chars().take_while(|c| c.is_digit(radix)).count();
        if len == 0 {
            return None;
        }
        let value = u32::from_str_radix(&digits[..len], radix).unwrap_or(0xfffd);
        let used = 1 + prefix + len + usize::from(digits[len..].starts_with(';'));
        let c = match value {
            0 | 0xd800..=0xdfff => '\u{fffd}',
            0x80..=0x9f => cp1252(value),
            v => char::from_u32(v).unwrap_or('\u{fffd}'),
        };
        return Some((c.to_string(), used));
    }
    let name_len = body
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    let name = &body[..name_len];
    let (_, value) = ENTITIES.iter().find(|(n, _)| *n == name)?;
    let used = 1 + name_len + usize::from(body[name_len..].starts_with(';'));
    Some((value.to_string(), used))
}

/// The Windows-1252 character `html.unescape` substitutes for a numeric reference in 0x80..0x9f.
fn cp1252(value: u32) -> char {
    let byte = [value as u8];
    let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&byte);
    text.chars().next().unwrap_or('\u{fffd}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geturl_and_hostname() {
        let s = split("HTTP://User@Example.COM:80/a;?#").unwrap();
        assert_eq!(s.geturl(), "http://User@Example.COM:80/a");
        assert_eq!(s.hostname().as_deref(), Some("example.com"));
        assert_eq!(
            split("noscheme://www.example.com/docs")
                .unwrap()
                .hostname()
                .as_deref(),
            Some("www.example.com")
        );
        assert!(split("http://[::1/").is_err());
        assert_eq!(html_unescape("a&amp;b&#46;c&nbsp"), "a&b.c\u{a0}");
    }
}
