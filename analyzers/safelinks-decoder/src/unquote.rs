//! `urllib.parse.unquote(text)` of CPython 3.11: `%XX` escapes become bytes, decoded as UTF-8
//! with each invalid sequence replaced by U+FFFD.
//!
//! One Python detail matters: only runs of ASCII characters are unquoted, each run decoded on
//! its own, so a non-ASCII character between two escapes splits one UTF-8 sequence into two
//! invalid halves (`%C3é%A9` gives `\u{fffd}é\u{fffd}`).

use percent_encoding::percent_decode_str;

/// Python's `unquote(text)`.
pub fn unquote(text: &str) -> String {
    if !text.contains('%') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let ascii_len = rest.bytes().take_while(u8::is_ascii).count();
        let (ascii, tail) = rest.split_at(ascii_len);
        // `percent_decode` keeps a `%` that two hex digits do not follow, as Python does, and
        // `from_utf8_lossy` replaces each maximal invalid subsequence by one U+FFFD, as Python's
        // "replace" error handler does.
        out.push_str(&String::from_utf8_lossy(
            &percent_decode_str(ascii).collect::<Vec<u8>>(),
        ));
        let other_len = tail.find(|c: char| c.is_ascii()).unwrap_or(tail.len());
        out.push_str(&tail[..other_len]);
        rest = &tail[other_len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::unquote;

    #[test]
    fn unquotes_as_python_does() {
        assert_eq!(
            unquote("https%3A%2F%2Fexample.com%2Fa%20b"),
            "https://example.com/a b"
        );
        assert_eq!(unquote("100%"), "100%");
        assert_eq!(unquote("%zz%4"), "%zz%4");
        assert_eq!(unquote("%C3%A9"), "é");
        assert_eq!(unquote("%C3é%A9"), "\u{fffd}é\u{fffd}");
        assert_eq!(
            unquote("ex%C3%28a%FF%E2%82%2F%ED%A0%80"),
            "ex\u{fffd}(a\u{fffd}\u{fffd}/\u{fffd}\u{fffd}\u{fffd}"
        );
    }
}
