//! Scrubbing secret configuration values out of free text: a worker's stderr and stdout, its own
//! `errorMessage`, anything a failure report quotes.
//!
//! [`Secrets::of`] collects every value of a secret `config` key (see [`crate::is_secret_key`]):
//! strings and numbers, at any depth below a secret key, and below secret keys nested in other
//! objects and arrays of `config` (`{"oauth": {"client_secret": ...}}`). Each value is matched in
//! the forms a worker is likely to print it in: as is, JSON-escaped (`serde_json`, `json.dumps`
//! with and without `ensure_ascii`), and a number in its decimal form. Values shorter than
//! [`MIN_SECRET_CHARS`] characters are left alone: replacing them would garble ordinary words.
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
}

impl Secrets {
    /// The secrets of a job whose `config` is `config`.
    pub fn of(config: &Map<String, Value>) -> Self {
        let mut values = Vec::new();
        collect_under_keys(config, &mut values);
        let mut forms = Vec::new();
        for value in values {
            if value.chars().count() < MIN_SECRET_CHARS {
                continue;
            }
            let escaped = json_escaped(&value);
            let ascii = ascii_json_escaped(&value);
            forms.extend([value, escaped, ascii]);
        }
        forms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        forms.dedup();
        Self { forms }
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
        let mut forms = s.forms.clone();
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
