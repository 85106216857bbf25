//! The two BeautifulSoup (`html.parser`) calls of the original: `get_text()` of an HTML body,
//! in which IPs and addresses are searched, and `prettify()` of a plain-text body, reported as
//! `beautified_text`.

use crate::url::html_unescape;

/// Python's `str.isspace()` for one character.
pub fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// Where the markup construct starting at `i` (a `<`) ends, or `None` when html.parser would
/// take the `<` as text.
fn markup_end(text: &str, i: usize) -> Option<usize> {
    let rest = &text[i..];
    let next = rest[1..].chars().next()?;
    if rest.starts_with("<!--") {
        return Some(rest.find("-->").map_or(text.len(), |e| i + e + 3));
    }
    let is_tag = next.is_ascii_alphabetic()
        || matches!(next, '!' | '?')
        || (next == '/'
            && rest[2..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic()));
    if !is_tag {
        return None;
    }
    Some(rest.find('>').map_or(text.len(), |e| i + e + 1))
}

/// The name of the tag at `text[i..]` (lower-cased), empty for other markup.
fn tag_name(text: &str, i: usize) -> String {
    text[i + 1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// `BeautifulSoup(html, "html.parser").get_text()`: the text outside tags, comments, doctype,
/// `<script>` and `<style>`, character references resolved.
pub fn get_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut i = 0;
    let mut text_start = 0;
    while let Some(offset) = html[i..].find('<') {
        let at = i + offset;
        let Some(end) = markup_end(html, at) else {
            i = at + 1;
            continue;
        };
        out.push_str(&html_unescape(&html[text_start..at]));
        let name = tag_name(html, at);
        let mut next = end;
        if name == "script" || name == "style" {
            let closing = format!("</{name}");
            next = html[end..]
                .to_ascii_lowercase()
                .find(&closing)
                .map_or(html.len(), |c| {
                    let close_at = end + c;
                    markup_end(html, close_at).unwrap_or(html.len())
                });
        }
        i = next;
        text_start = next;
    }
    out.push_str(&html_unescape(&html[text_start..]));
    out
}

/// `prettify()` of a text without markup: stripped, `&`, `<` and `>` escaped, and a final line
/// break. Text that html.parser would read as markup is outside this port (see the README).
pub fn prettify_text(text: &str) -> String {
    let unescaped = html_unescape(text);
    let stripped = unescaped.trim_matches(py_space);
    if stripped.is_empty() {
        return String::new();
    }
    let escaped = stripped
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!("{escaped}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_prettify_like_bs4() {
        let html = "<p>a</p><script>var x=\"1.2.3.4\"</script><style>.a{}</style><!-- c 5.6.7.8 --><title>T</title>b &amp; c&nbsp;d";
        assert_eq!(get_text(html), "aTb & c\u{a0}d");
        assert_eq!(prettify_text("  abc  \n\n"), "abc\n");
        assert_eq!(
            prettify_text("a & b < c > d\n"),
            "a &amp; b &lt; c &gt; d\n"
        );
        assert_eq!(
            prettify_text("x &amp; y &lt;z&gt;\n"),
            "x &amp; y &lt;z&gt;\n"
        );
        assert_eq!(prettify_text("a\r\nb\r\n"), "a\r\nb\n");
        assert_eq!(prettify_text("  "), "");
    }
}
