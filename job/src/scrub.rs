//! Scrubbing secret configuration values out of free text: a worker's stderr and stdout, its own
//! `errorMessage`, anything a failure report quotes.
//!
//! [`Secrets::of`] collects every value of a secret `config` key (see [`crate::is_secret_key`]):
//! strings and numbers, at any depth below a secret key, and below secret keys nested in other
//! objects and arrays of `config` (`{"oauth": {"client_secret": ...}}`). Each value is matched in
//! the forms a worker is likely to print it in: as is, JSON-escaped (`serde_json`, `json.dumps`
//! with and without `ensure_ascii`), a number in its decimal form, and URL-encoded: every byte
//! outside RFC 3986's unreserved characters as `%XX`, upper- or lower-case hex, with a space as
//! `%20` or as `+` (a form-encoded query string). Encoders disagree on what they leave as is
//! (`quote` keeps `/`, `encodeURIComponent` keeps `!*'()`), so [`Secrets::scrub`] also decodes
//! as it matches: any mixture of literal and `%XX` bytes that decodes to a secret is one. Values
//! shorter than [`MIN_SECRET_CHARS`] characters are left alone: replacing them would garble
//! ordinary words.
//!
//! Text that was cut (the end of a long stream) can begin with the end of a secret whose start
//! was cut away: [`Secrets::drop_cut_partial`] moves the cut past such a partial secret, and
//! [`Secrets::tail`] scrubs the whole text first, then cuts it, then moves the new edge the same
//! way, so that no part of a secret survives a cut.

use crate::input::{REDACTED, is_secret_key};
use serde_json::{Map, Value};

/// The fewest characters a secret value must have to be scrubbed.
pub const MIN_SECRET_CHARS: usize = 4;

/// The forms of a job's secret values to scrub from text (see the module doc).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// Every form of every secret, longest first, without duplicates.
    forms: Vec<String>,
    /// The forms that are not URL-encoded, longest first: what a URL-decoding match looks for.
    decoded: Vec<String>,
}

impl Secrets {
    /// The secrets of a job whose `config` is `config`.
    pub fn of(config: &Map<String, Value>) -> Self {
        let mut values = Vec::new();
        collect_under_keys(config, &mut values);
        let mut decoded = Vec::new();
        let mut forms = Vec::new();
        for value in values {
            if value.chars().count() < MIN_SECRET_CHARS {
                continue;
            }
            for plus in [false, true] {
                for hex in [UPPER_HEX, LOWER_HEX] {
                    forms.push(url_encoded(&value, plus, hex));
                }
            }
            let escaped = json_escaped(&value);
            let ascii = ascii_json_escaped(&value);
            decoded.extend([value, escaped, ascii]);
        }
        let longest_first = |a: &String, b: &String| b.len().cmp(&a.len()).then_with(|| a.cmp(b));
        decoded.sort_by(longest_first);
        decoded.dedup();
        forms.extend(decoded.iter().cloned());
        forms.sort_by(longest_first);
        forms.dedup();
        Self { forms, decoded }
    }

    /// Whether there is nothing to scrub.
    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// `text` with every whole occurrence of every form of every secret replaced by `"REMOVED"`.
    pub fn scrub(&self, text: &str) -> String {
        let mut scrubbed = text.to_owned();
        for form in &self.forms {
            if scrubbed.contains(form.as_str()) {
                scrubbed = scrubbed.replace(form.as_str(), REDACTED);
            }
        }
        // Without `%` or `+`, no URL encoding is left that the forms above did not catch.
        if scrubbed.contains(['%', '+']) {
            for secret in &self.decoded {
                scrubbed = replace_url_encoded(&scrubbed, secret);
            }
        }
        scrubbed
    }

    /// `text`, which was cut from the end of something longer, without the partial secret it may
    /// begin with: the longest proper end of any form of any secret that `text` begins with
    /// (after any U+FFFD left by a character cut in half) is dropped, as if the cut had fallen
    /// just after it. Dropped rather than replaced by `"REMOVED"`: a cut is arbitrary, so one
    /// or two characters that merely look like the end of a secret are common, and moving the
    /// cut past them loses nothing a reader needs. Whole secrets are the business of
    /// [`Secrets::scrub`].
    pub fn drop_cut_partial(&self, text: &str) -> String {
        let body = text.trim_start_matches(char::REPLACEMENT_CHARACTER);
        let longest = self
            .forms
            .iter()
            .filter_map(|form| {
                form.char_indices()
                    .skip(1)
                    .map(|(i, _)| &form[i..])
                    .find(|end| body.starts_with(end))
                    .map(str::len)
            })
            .chain(
                self.decoded
                    .iter()
                    .filter_map(|secret| url_encoded_partial_len(body, secret.as_bytes())),
            )
            .max();
        match longest {
            Some(len) => body[len..].to_owned(),
            None => text.to_owned(),
        }
    }

    /// The last `max_bytes` (at most) of `text`, secrets scrubbed, and whether it was cut:
    /// `text` is scrubbed whole, then cut on a character boundary, then the cut is moved past a
    /// partial secret ([`Secrets::drop_cut_partial`]). When `cut_before` is true, `text` is
    /// itself the end of something longer and its own start is treated the same way.
    pub fn tail(&self, text: &str, max_bytes: usize, cut_before: bool) -> (String, bool) {
        let mut scrubbed = self.scrub(text);
        if cut_before {
            scrubbed = self.drop_cut_partial(&scrubbed);
        }
        if scrubbed.len() <= max_bytes {
            return (scrubbed, false);
        }
        let mut start = scrubbed.len() - max_bytes;
        while !scrubbed.is_char_boundary(start) {
            start += 1;
        }
        (self.drop_cut_partial(&scrubbed[start..]), true)
    }
}

/// Collects the values below every secret key of `object`, and looks for secret keys in every
/// other value.
fn collect_under_keys(object: &Map<String, Value>, values: &mut Vec<String>) {
    for (key, value) in object {
        if is_secret_key(key) {
            collect_leaves(value, values);
        } else {
            collect_nested_keys(value, values);
        }
    }
}

fn collect_nested_keys(value: &Value, values: &mut Vec<String>) {
    match value {
        Value::Object(object) => collect_under_keys(object, values),
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_nested_keys(item, values)),
        _ => {}
    }
}

/// Every string and number below `value` (input.json's nesting is bounded by its parser).
fn collect_leaves(value: &Value, values: &mut Vec<String>) {
    match value {
        Value::String(text) => values.push(text.clone()),
        Value::Number(number) => values.push(number.to_string()),
        Value::Array(items) => items.iter().for_each(|item| collect_leaves(item, values)),
        Value::Object(object) => object
            .values()
            .for_each(|item| collect_leaves(item, values)),
        Value::Bool(_) | Value::Null => {}
    }
}

/// `text` as it appears inside a JSON string written by serde_json or `json.dumps(...,
/// ensure_ascii=False)`.
fn json_escaped(text: &str) -> String {
    let quoted = Value::String(text.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

/// `text` as it appears inside a JSON string written by Python's `json.dumps` (every
/// character beyond ASCII as `\uXXXX`, UTF-16, lower-case hex).
fn ascii_json_escaped(text: &str) -> String {
    let mut escaped = String::new();
    for c in json_escaped(text).chars() {
        if c.is_ascii() {
            escaped.push(c);
        } else {
            let mut units = [0; 2];
            for unit in c.encode_utf16(&mut units) {
                escaped.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    escaped
}

/// Upper-case hex digits, as most encoders write `%XX` (Python, JavaScript, Java, Go).
const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";
/// Lower-case hex digits, as some loggers and hand-written encoders write `%xx`.
const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether `byte` is one of RFC 3986's unreserved characters, which encoders leave as is.
fn unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// `text` URL-encoded: each UTF-8 byte outside the unreserved characters as `%XX` in `hex`
/// digits, and a space as `+` when `plus` (form encoding), else as `%20`.
fn url_encoded(text: &str, plus: bool, hex: &[u8; 16]) -> String {
    let mut encoded = String::with_capacity(text.len() * 3);
    for &byte in text.as_bytes() {
        if unreserved(byte) {
            encoded.push(char::from(byte));
        } else if byte == b' ' && plus {
            encoded.push('+');
        } else {
            encoded.push('%');
            encoded.push(char::from(hex[usize::from(byte >> 4)]));
            encoded.push(char::from(hex[usize::from(byte & 0xf)]));
        }
    }
    encoded
}

/// Where a URL-encoded `secret` that starts at `start` of `text` ends: each of its bytes may be
/// literal or `%XX` (either case), and a space may be `+`.
fn url_encoded_end(text: &[u8], start: usize, secret: &[u8]) -> Option<usize> {
    let mut at = start;
    for &byte in secret {
        match text.get(at..)? {
            [first, ..] if *first == byte => at += 1,
            [b'+', ..] if byte == b' ' => at += 1,
            [b'%', high, low, ..] if (hex_value(*high)? << 4) | hex_value(*low)? == byte => at += 3,
            _ => return None,
        }
    }
    Some(at)
}

/// How long the URL-encoded proper end of `secret` that `body` begins with is, if it begins
/// with one (any mixture of literal and `%XX` bytes, see [`url_encoded_end`]). The cut may
/// also have fallen inside an escape, leaving one or both of its hex digits first.
fn url_encoded_partial_len(body: &str, secret: &[u8]) -> Option<usize> {
    let bytes = body.as_bytes();
    let hex_at = |at: usize| bytes.get(at).copied().and_then(hex_value);
    (1..=secret.len())
        .filter_map(|from| {
            let cut_byte = secret[from - 1];
            // Where the rest may start: right at the cut, or after what is left of an escape
            // of the byte before it (its low digit, or both digits).
            let starts = [
                Some(0),
                (hex_at(0) == Some(cut_byte & 0xf)).then_some(1),
                (hex_at(0) == Some(cut_byte >> 4) && hex_at(1) == Some(cut_byte & 0xf))
                    .then_some(2),
            ];
            starts
                .into_iter()
                .flatten()
                .filter_map(|start| url_encoded_end(bytes, start, &secret[from..]))
                .filter(|&end| end > 0 && body.is_char_boundary(end))
                .max()
        })
        .max()
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

/// `text` with every URL-encoded occurrence of `secret` replaced by `"REMOVED"`. A match
/// begins where `text` has the secret's first byte, `%` or `+`, so its start and end fall on
/// character boundaries of valid UTF-8 (checked all the same).
fn replace_url_encoded(text: &str, secret: &str) -> String {
    let (bytes, secret) = (text.as_bytes(), secret.as_bytes());
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut at) = (0, 0);
    while at < bytes.len() {
        let end = text
            .is_char_boundary(at)
            .then(|| url_encoded_end(bytes, at, secret))
            .flatten()
            .filter(|&end| text.is_char_boundary(end));
        match end {
            Some(end) => {
                out.push_str(&text[copied..at]);
                out.push_str(REDACTED);
                (copied, at) = (end, end);
            }
            None => at += 1,
        }
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secrets(config: Value) -> Secrets {
        Secrets::of(config.as_object().unwrap())
    }

    #[test]
    fn secret_values_are_found_at_any_depth_and_in_every_form() {
        let s = secrets(json!({
            "api_key": "sk-\"live\"-ü1",
            "pin_password": 12345678,
            "creds": {"client_secret": ["nested-1", {"deep": 98765.5}]},
            "servers": [{"password": "in-an-array"}],
            "keys": true,
            "user": "alice-the-user",
            "short_key": "abc"
        }));
        let mut forms = s.decoded.clone();
        forms.sort();
        assert_eq!(
            forms,
            [
                "12345678",
                "98765.5",
                "in-an-array",
                "nested-1",
                "sk-\"live\"-ü1",
                "sk-\\\"live\\\"-\\u00fc1",
                "sk-\\\"live\\\"-ü1",
            ]
        );
    }

    #[test]
    fn url_encoded_forms_use_upper_and_lower_hex_and_plus_for_space() {
        let s = secrets(json!({"api_key": "a+b/c= d~é"}));
        let mut forms = s.forms.clone();
        forms.retain(|form| !s.decoded.contains(form));
        forms.sort();
        assert_eq!(
            forms,
            [
                "a%2Bb%2Fc%3D%20d~%C3%A9",
                "a%2Bb%2Fc%3D+d~%C3%A9",
                "a%2bb%2fc%3d%20d~%c3%a9",
                "a%2bb%2fc%3d+d~%c3%a9",
            ]
        );
    }

    #[test]
    fn any_mixture_of_literal_and_percent_encoded_bytes_is_scrubbed() {
        let s = secrets(json!({"api_key": "a+b/c= d"}));
        assert_eq!(
            s.scrub("quote: a%2Bb/c%3D%20d, mixed case: a%2bb%2Fc%3d+d, half: %61+b/c= d."),
            "quote: REMOVED, mixed case: REMOVED, half: REMOVED."
        );
        // A literal `+` is a literal `+` in the secret as well as a space in form encoding.
        assert_eq!(s.scrub("a+b/c=+d"), "REMOVED");
        // Near misses stay: a wrong byte, a truncated escape, an invalid one.
        assert_eq!(
            s.scrub("a%2Bb/c%3E d a%2Bb/c%3 a%2Bb/c%zz d"),
            "a%2Bb/c%3E d a%2Bb/c%3 a%2Bb/c%zz d"
        );
    }

    #[test]
    fn every_form_is_scrubbed() {
        let s = secrets(json!({"token_key": "p@ss/\"wörd\"", "pin_secret": 4242424242u64}));
        assert_eq!(
            s.scrub(
                r#"raw p@ss/"wörd" json "p@ss/\"wörd\"" ascii "p@ss/\"w\u00f6rd\"" pin=4242424242"#
            ),
            r#"raw REMOVED json "REMOVED" ascii "REMOVED" pin=REMOVED"#
        );
    }

    #[test]
    fn a_partial_secret_at_a_cut_start_is_scrubbed() {
        let s = secrets(json!({"api_key": "sk-live-0123456789"}));
        assert_eq!(s.drop_cut_partial("456789 rest"), " rest");
        assert_eq!(s.drop_cut_partial("9 rest"), " rest");
        assert_eq!(s.drop_cut_partial("\u{FFFD}\u{FFFD}56789 x"), " x");
        assert_eq!(s.drop_cut_partial("\u{FFFD}rest"), "\u{FFFD}rest");
        // One pass: what follows a partial secret is not the end of another one.
        assert_eq!(s.drop_cut_partial("99 rest"), "9 rest");
        // Only the start: the same characters later are ordinary text.
        assert_eq!(s.drop_cut_partial("x 456789"), "x 456789");
    }

    #[test]
    fn a_url_encoded_partial_secret_at_a_cut_start_is_dropped_even_inside_an_escape() {
        let s = secrets(json!({"api_key": "sk+live/0123=="}));
        assert_eq!(s.drop_cut_partial("%2F0123%3d%3D rest"), " rest");
        assert_eq!(s.drop_cut_partial("3d%3D rest"), " rest");
        assert_eq!(s.drop_cut_partial("D%3d rest"), " rest");
        assert_eq!(s.drop_cut_partial("B+live%2F0123== rest"), " rest");
        assert_eq!(s.drop_cut_partial("live%2F0124 rest"), "live%2F0124 rest");
    }

    #[test]
    fn a_tail_is_scrubbed_whole_then_cut_then_scrubbed_at_the_cut() {
        let s = secrets(json!({"api_key": "sk-live-0123456789"}));
        // The secret straddles the cut: scrubbed before cutting, no half of it survives.
        let text = "aaaa sk-live-0123456789 end";
        assert_eq!(s.tail(text, 11, false), ("REMOVED end".to_owned(), true));
        assert_eq!(s.tail(text, 9, false), ("MOVED end".to_owned(), true));
        assert_eq!(
            s.tail(text, 100, false),
            ("aaaa REMOVED end".to_owned(), false)
        );
        // A stream whose capture began inside the secret.
        assert_eq!(s.tail("0123456789 end", 100, true).0, " end");
        assert_eq!(s.tail("0123456789 end", 100, false).0, "0123456789 end");
        // A cut that falls inside a half secret the text itself holds.
        assert_eq!(s.tail("xxxx 3456789 end", 10, false).0, " end");
    }
}
