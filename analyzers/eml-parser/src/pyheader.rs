//! Header field values as CPython's `email` package (the policy eml_parser uses) renders them.
//!
//! The original reports `str()` of each parsed header: encoded words decoded, address lists
//! re-rendered (display names unquoted unless they need quotes), MIME parameters re-quoted, dates
//! as ISO 8601. The same text must come out here, so the rendering rules live in this module.

use crate::dates;
use crate::decode;

/// The raw value of a field as Python's parser stores it: bytes after the colon, leading blanks
/// and the final line break removed, undecodable bytes replaced (`_sanitize`).
pub fn raw_value(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_start_matches([' ', '\t']);
    text.trim_end_matches(['\r', '\n']).to_string()
}

/// Removes every CR and LF (the policy's unfolding keeps the blanks that follow them).
pub fn unfold(value: &str) -> String {
    value.chars().filter(|c| *c != '\r' && *c != '\n').collect()
}

/// Decodes one encoded word `=?charset?b|q?text?=`; `None` if it is not a valid one.
fn decode_encoded_word(word: &str) -> Option<String> {
    let inner = word.strip_prefix("=?")?.strip_suffix("?=")?;
    let mut pieces = inner.splitn(3, '?');
    let charset = pieces.next()?;
    let cte = pieces.next()?;
    let text = pieces.next()?;
    if text.contains('?') {
        return None;
    }
    let charset = charset.split('*').next().unwrap_or(charset);
    let bytes = match cte {
        "b" | "B" => decode::decode_base64_payload(text.as_bytes()),
        "q" | "Q" => decode::decode_quoted_printable(text.replace('_', " ").as_bytes()),
        _ => return None,
    };
    Some(
        decode::decode_with_charset(&bytes, charset)
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned()),
    )
}

/// Finds the end of an encoded word starting at `start` (which holds `=?`), as
/// `get_encoded_word` does: up to the first `?=` after the charset and encoding markers.
fn encoded_word_end(value: &str, start: usize) -> Option<usize> {
    let rest = &value[start + 2..];
    let mut question_marks = 0;
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'?' {
            question_marks += 1;
            if question_marks >= 3 && bytes.get(i + 1) == Some(&b'=') {
                return Some(start + 2 + i + 2);
            }
        }
        if bytes[i].is_ascii_whitespace() {
            return None;
        }
        i += 1;
    }
    None
}

/// An unstructured value with its encoded words decoded; blanks between two encoded words vanish.
pub fn decode_unstructured(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut pending_ws = String::new();
    let mut last_was_ew = false;
    let mut i = 0;
    while i < value.len() {
        let rest = &value[i..];
        let c = rest.chars().next().unwrap_or(' ');
        if c == ' ' || c == '\t' {
            pending_ws.push(c);
            i += 1;
            continue;
        }
        if rest.starts_with("=?")
            && let Some(end) = encoded_word_end(value, i)
            && let Some(text) = decode_encoded_word(&value[i..end])
        {
            // Blanks between two encoded words are dropped (RFC 2047, section 6.2).
            if !last_was_ew || pending_ws.is_empty() {
                out.push_str(&pending_ws);
            }
            pending_ws.clear();
            out.push_str(&text);
            last_was_ew = true;
            i = end;
            continue;
        }
        out.push_str(&pending_ws);
        pending_ws.clear();
        let end = rest.find([' ', '\t']).map_or(value.len(), |n| i + n);
        out.push_str(&value[i..end]);
        last_was_ew = false;
        i = end;
    }
    out.push_str(&pending_ws);
    out
}

/// One MIME parameter as written (`name`, value with quotes and RFC 2231 sections resolved).
pub type Param = (String, String);

/// Splits a Content-Type or Content-Disposition value into its leading value (as written) and
/// its parameters, RFC 2231 continuations joined.
pub fn split_params(value: &str) -> (String, Vec<Param>) {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            current.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quotes => {
                current.push(c);
                escaped = true;
            }
            '"' => {
                in_quotes = !in_quotes;
                current.push(c);
            }
            ';' if !in_quotes => pieces.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    pieces.push(current);
    let head = pieces.remove(0);
    let mut params: Vec<Param> = Vec::new();
    for piece in pieces {
        let Some((name, raw)) = piece.split_once('=') else {
            continue;
        };
        let name = name.trim().to_string();
        if name.is_empty() {
            continue;
        }
        let raw = raw.trim();
        let value = if let Some(quoted) = raw.strip_prefix('"') {
            let mut text = String::new();
            let mut chars = quoted.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => text.extend(chars.next()),
                    '"' => break,
                    _ => text.push(c),
                }
            }
            text
        } else {
            raw.split(['(', ' ', '\t']).next().unwrap_or("").to_string()
        };
        params.push((name, value));
    }
    (head, join_rfc2231(params))
}

/// Joins `name*0`, `name*1`, ... and decodes `name*=charset''text` parameters (RFC 2231).
fn join_rfc2231(params: Vec<Param>) -> Vec<Param> {
    let mut out: Vec<(String, String, bool)> = Vec::new();
    for (name, value) in params {
        let (base, section) = match name.split_once('*') {
            Some((base, section)) => (base.to_string(), Some(section.to_string())),
            None => (name.clone(), None),
        };
        let extended = section
            .as_deref()
            .is_some_and(|s| s.ends_with('*') || s.is_empty());
        let value = if extended {
            decode_rfc2231(
                &value,
                out.iter().any(|(n, _, _)| n.eq_ignore_ascii_case(&base)),
            )
        } else {
            value
        };
        match (
            section,
            out.iter_mut()
                .find(|(n, _, cont)| *cont && n.eq_ignore_ascii_case(&base)),
        ) {
            (Some(_), Some(existing)) => existing.1.push_str(&value),
            (Some(_), None) => out.push((base, value, true)),
            (None, _) => out.push((name, value, false)),
        }
    }
    out.into_iter().map(|(n, v, _)| (n, v)).collect()
}

/// Percent-decodes an RFC 2231 extended value; the first section carries `charset'lang'`.
fn decode_rfc2231(value: &str, continuation: bool) -> String {
    let (charset, text) = if continuation {
        ("utf-8".to_string(), value)
    } else {
        let mut parts = value.splitn(3, '\'');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(charset), Some(_), Some(text)) => (charset.to_string(), text),
            _ => ("utf-8".to_string(), value),
        }
    };
    let bytes = decode_percent(text);
    decode::decode_with_charset(
        &bytes,
        if charset.is_empty() {
            "us-ascii"
        } else {
            &charset
        },
    )
    .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned())
}

/// `%XX` decoding of a string into bytes; malformed escapes are kept.
pub fn decode_percent(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit()
        {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("00");
            out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// The parameter `name` (case-insensitive), as `Message.get_param` finds it.
pub fn param<'p>(params: &'p [Param], name: &str) -> Option<&'p str> {
    params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `str()` of a Content-Type or Content-Disposition header: the value as written, then every
/// parameter as `; name="value"`.
fn render_parameterized(value: &str) -> String {
    let (head, params) = split_params(value);
    let mut out = head;
    for (name, value) in params {
        // The header parser decodes encoded words inside parameter values too.
        let value = if value.contains("=?") {
            decode_unstructured(&value)
        } else {
            value
        };
        let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
        out.push_str(&format!("; {name}=\"{escaped}\""));
    }
    out
}

/// `str(policy.header_fetch_parse(name, raw))` with eml_parser's policy.
pub fn render(name: &str, raw: &str) -> String {
    let value = unfold(raw);
    match name.to_ascii_lowercase().as_str() {
        "date" => dates::header_date_iso(&value),
        "content-type" | "content-disposition" => render_parameterized(&value),
        "to" | "from" | "cc" | "bcc" | "reply-to" | "sender" | "resent-to" | "resent-from"
        | "resent-cc" | "resent-bcc" | "resent-sender" => crate::address::render_list(&value),
        _ => decode_unstructured(&value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_python() {
        assert_eq!(
            render("Content-Type", "text/plain ; charset = utf-8"),
            "text/plain ; charset=\"utf-8\""
        );
        assert_eq!(
            render(
                "content-type",
                "application/x; name*0=\"ab\"; name*1=\"cd.txt\""
            ),
            "application/x; name=\"abcd.txt\""
        );
        assert_eq!(
            render("content-disposition", "attachment;filename=x.pdf;size=12"),
            "attachment; filename=\"x.pdf\"; size=\"12\""
        );
        assert_eq!(
            render(
                "subject",
                "=?UTF-8?B?4pqgIEFjdGlvbg==?= =?UTF-8?Q?_x?= plain =?bad?= "
            ),
            "\u{26a0} Action x plain =?bad?= "
        );
        assert_eq!(render("received", "from a\r\n\tby b"), "from a\tby b");
    }
}
