//! cortexutils' artifact `Extractor`: the observable type of every string in a report, by the
//! first of an ordered list of regular expressions that matches at the start of the string.
//!
//! The SDK runs once per job, often in a fresh wasm instance, so compiling cortexutils' ten
//! regular expressions for every job (about 5 ms with the `regex` crate, most of it for the
//! Unicode classes) would cost more than the rest of a job. Each pattern is therefore matched by
//! a small hand-written function (in `matchers.rs`) that accepts exactly the strings Python's
//! `re.match` accepts; only the IPv6 alternation stays a regular expression, compiled on first
//! use and only for strings that could match it. The Python semantics they follow:
//! - `re.match` anchors at the start only, so `"1.2.3.4 and more"` is an `ip`.
//! - `$` (without `re.MULTILINE`) also matches before a newline that ends the string.
//! - `\w` on a `str` pattern is `str.isalnum()` or `_`: exactly the Unicode categories L and N
//!   plus `_` (checked over every code point with Python 3.11); marks and joiners are not `\w`.
//! - `.` does not match `\n`.
//!
//! `tests/parity.rs` and `tests/parity_strings.rs` compare the result with cortexutils itself.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::matchers;

/// A type and the test of its pattern.
type Rule = (&'static str, fn(&str) -> bool);

/// The rules in cortexutils' order: the first that matches gives the type.
const RULES: [Rule; 10] = [
    ("ip", matchers::ipv4),
    ("ip", matchers::ipv6),
    ("url", matchers::url),
    ("domain", matchers::domain),
    ("hash", matchers::hash),
    ("user-agent", matchers::user_agent),
    ("uri_path", matchers::uri_path),
    ("registry", matchers::registry),
    ("mail", matchers::mail),
    ("fqdn", matchers::fqdn),
];

/// cortexutils' `Extractor(ignore)`.
#[derive(Debug, Clone, Default)]
pub struct Extractor {
    ignore: Option<Value>,
}

impl Extractor {
    /// An extractor that skips every string containing `ignore` (the observable itself), when
    /// `ignore` is truthy in Python's sense (a non-empty string, for a real observable).
    pub fn new(ignore: Option<Value>) -> Extractor {
        Extractor { ignore }
    }

    /// cortexutils' `check_string`: the type of `value`, or `""` when nothing matches or the
    /// value contains the ignored observable. Only strings have a type.
    pub fn check_value(&self, value: &Value) -> Result<&'static str> {
        let Value::String(s) = value else {
            return Ok("");
        };
        if let Some(ignore) = self.ignore.as_ref().filter(|i| crate::python::truthy(i)) {
            match ignore {
                Value::String(needle) if s.contains(needle.as_str()) => return Ok(""),
                Value::String(_) => {}
                // `ignore in value` with a non-string `ignore` is a TypeError in Python.
                other => {
                    return Err(Error::Type(format!(
                        "'in <string>' requires string as left operand, not {}",
                        crate::python::type_name(other)
                    )));
                }
            }
        }
        Ok(check_str(s))
    }

    /// cortexutils' `check_iterable`: walks a string, list or object (values in order,
    /// recursing into lists and objects) and returns `{"dataType": t, "data": s}` for each
    /// string with a type, without duplicates (the first occurrence stays). Anything else at
    /// the top level is Python's `TypeError("Not supported type.")`.
    pub fn check_iterable(&self, iterable: &Value) -> Result<Vec<Value>> {
        let mut results = Vec::new();
        match iterable {
            Value::String(_) => self.push(&mut results, iterable)?,
            Value::Array(items) => self.walk(&mut results, items.iter())?,
            Value::Object(map) => self.walk(&mut results, map.values())?,
            _ => return Err(Error::Type("Not supported type.".to_owned())),
        }
        Ok(deduplicate(results))
    }

    fn walk<'a>(
        &self,
        results: &mut Vec<Value>,
        items: impl Iterator<Item = &'a Value>,
    ) -> Result<()> {
        for item in items {
            if item.is_array() || item.is_object() {
                results.extend(self.check_iterable(item)?);
            } else {
                self.push(results, item)?;
            }
        }
        Ok(())
    }

    fn push(&self, results: &mut Vec<Value>, value: &Value) -> Result<()> {
        let data_type = self.check_value(value)?;
        if !data_type.is_empty() {
            let mut artifact = Map::new();
            artifact.insert("dataType".to_owned(), Value::String(data_type.to_owned()));
            artifact.insert("data".to_owned(), value.clone());
            results.push(Value::Object(artifact));
        }
        Ok(())
    }
}

/// The type of a string by the first matching rule, or `""`. No ignore rule.
pub fn check_str(value: &str) -> &'static str {
    RULES
        .iter()
        .find(|(_, matches)| matches(value))
        .map_or("", |(data_type, _)| data_type)
}

/// cortexutils' `deduplicate`: drops an artifact whose `dataType` and `data` equal an earlier
/// one's, keeping the order of first occurrences.
fn deduplicate(artifacts: Vec<Value>) -> Vec<Value> {
    let mut kept: Vec<Value> = Vec::with_capacity(artifacts.len());
    for artifact in artifacts {
        let seen = kept
            .iter()
            .any(|k| k["dataType"] == artifact["dataType"] && k["data"] == artifact["data"]);
        if !seen {
            kept.push(artifact);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn types_follow_cortexutils_order_and_anchoring() {
        let cases = [
            ("1.2.3.4 and more", "ip"),
            ("::1", "ip"),
            ("fe80::1%eth0", "ip"),
            ("http://x", "url"),
            ("HTTP://x", "uri_path"),
            ("example.com", "domain"),
            ("example.com\n", "domain"),
            ("example.com\n\n", ""),
            ("www.example.com", "fqdn"),
            ("d41d8cd98f00b204e9800998ecf8427e", "hash"),
            ("d41d8cd98f00b204e9800998ecf8427", ""),
            ("Mozilla/5.0 (X11)", "user-agent"),
            ("smb://host/share", "uri_path"),
            ("HKLM\\Software\\Run", "registry"),
            ("a@b.c trailing", "mail"),
            (" 1.2.3.4", ""),
        ];
        for (value, expected) in cases {
            assert_eq!(check_str(value), expected, "{value:?}");
        }
    }

    #[test]
    fn word_characters_are_pythons() {
        // Letters and numbers of any script are `\w`; combining marks and joiners are not.
        assert_eq!(check_str("bücher.de"), "domain");
        assert_eq!(check_str("x\u{b2}.com"), "domain");
        assert_eq!(check_str("e\u{301}xample.com"), "");
        assert_eq!(check_str("a\u{200d}b.com"), "");
        assert_eq!(check_str("a\u{203f}b.com"), "");
    }

    #[test]
    fn check_iterable_walks_in_order_ignores_and_deduplicates() {
        let extractor = Extractor::new(Some(json!("evil.com")));
        let full = json!({"a": ["8.8.8.8", {"b": "evil.com", "c": "http://evil.com/x"}], "d": "8.8.8.8",
                          "e": [1, true, null, "example.org"]});
        assert_eq!(
            extractor.check_iterable(&full).unwrap(),
            vec![
                json!({"dataType": "ip", "data": "8.8.8.8"}),
                json!({"dataType": "domain", "data": "example.org"})
            ]
        );
        let err = Extractor::new(None).check_iterable(&json!(42)).unwrap_err();
        assert_eq!(err.to_string(), "Not supported type.");
        let err = Extractor::new(Some(json!(5)))
            .check_iterable(&json!(["x"]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "'in <string>' requires string as left operand, not int"
        );
    }
}
