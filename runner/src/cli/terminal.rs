//! Escapes text that a worker, a job folder or a catalog controls before it reaches a terminal.
//!
//! A report is written by the worker, and the worker reads attacker-chosen data (an e-mail
//! attachment's file name, a URL): printed raw, an `ESC ] 52 ; c ; <base64> BEL` in it sets the
//! operator's clipboard, other sequences retitle the window, move the cursor or hide lines, and a
//! bidi override makes `exe.pdf` read as `fdp.exe`. Everything printed from a report goes
//! through [`escape`] (text) or [`escape_json`] (JSON), so such a character shows as its escape
//! and the terminal never receives it.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether a terminal could act on `c` instead of showing it: the C0 controls (ESC starts every
/// CSI and OSC sequence; CR and BS overwrite what was printed), DEL, the C1 controls (U+009B is
/// an 8-bit CSI, U+009D an 8-bit OSC), and the Unicode bidi embeddings, overrides and isolates
/// (U+202A..U+202E, U+2066..U+2069) that reorder the text after them.
pub fn is_unsafe(c: char) -> bool {
    matches!(
        c,
        '\0'..='\x1f' | '\x7f'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// `text` with every [`is_unsafe`] character written as Python's `repr` writes it: `\n`, `\r`,
/// `\t`, `\xNN` for the other controls up to U+00FF, `\uNNNN` for the bidi characters. Newlines
/// are escaped too, so one field cannot forge another line of a summary. Text without such a
/// character is returned as is.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) && u32::from(c) <= 0xff => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Serialised JSON with every [`is_unsafe`] character that serde_json leaves raw (DEL, the C1
/// controls, the bidi characters) written as a `\uNNNN` escape: the same JSON value, safe on a
/// terminal. serde_json escapes every C0 control inside strings, so a raw newline, tab or
/// carriage return is the layout of pretty JSON and stays; outside strings JSON text holds none
/// of the other characters, so replacing them everywhere only touches string contents.
pub fn escape_json(json: String) -> String {
    let raw = |c: char| is_unsafe(c) && !matches!(c, '\n' | '\t' | '\r');
    if !json.chars().any(raw) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if raw(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{escape, escape_json, is_unsafe};

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let text = "report.pdf — ünïcödé, \\x1b as typed";
        assert!(matches!(escape(text), std::borrow::Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn an_osc_52_clipboard_write_is_shown_not_sent() {
        assert_eq!(
            escape("a\x1b]52;c;ZXZpbA==\x07b.pdf"),
            "a\\x1b]52;c;ZXZpbA==\\x07b.pdf"
        );
    }

    #[test]
    fn every_class_of_unsafe_character_is_escaped() {
        assert_eq!(
            escape("\0\x08\t\n\r\x1b\x1f\x7f"),
            "\\x00\\x08\\t\\n\\r\\x1b\\x1f\\x7f"
        );
        assert_eq!(
            escape("\u{80}\u{9b}31m\u{9d}\u{9f}"),
            "\\x80\\x9b31m\\x9d\\x9f"
        );
        assert_eq!(escape("invoice\u{202e}fdp.exe"), "invoice\\u202efdp.exe");
        assert_eq!(
            escape("\u{202a}\u{202b}\u{202c}\u{202d}\u{2066}\u{2067}\u{2068}\u{2069}"),
            "\\u202a\\u202b\\u202c\\u202d\\u2066\\u2067\\u2068\\u2069"
        );
    }

    #[test]
    fn neighbours_of_the_unsafe_ranges_are_kept() {
        for c in [
            ' ', '~', '\u{a0}', '\u{2029}', '\u{202f}', '\u{2065}', '\u{206a}',
        ] {
            assert!(!is_unsafe(c), "{c:?}");
        }
        assert_eq!(escape("\u{a0}\u{202f}\u{206a}"), "\u{a0}\u{202f}\u{206a}");
    }

    #[test]
    fn json_keeps_its_value_and_loses_the_raw_characters() {
        let value = serde_json::json!({"filename": "a\x1b]52;c;x\x07\u{9b}\u{202e}\x7f"});
        let text = escape_json(serde_json::to_string(&value).unwrap());
        assert_eq!(
            text,
            r#"{"filename":"a\u001b]52;c;x\u0007\u009b\u202e\u007f"}"#
        );
        assert!(!text.chars().any(is_unsafe));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            value
        );
    }

    #[test]
    fn pretty_json_keeps_its_layout() {
        let value = serde_json::json!({"a": ["x\n\u{202e}"], "b": 1});
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        assert_eq!(
            escape_json(pretty),
            "{\n  \"a\": [\n    \"x\\n\\u202e\"\n  ],\n  \"b\": 1\n}"
        );
        let plain = serde_json::to_string_pretty(&serde_json::json!({"a": 1})).unwrap();
        assert_eq!(escape_json(plain.clone()), plain);
    }
}
