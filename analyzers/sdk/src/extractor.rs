//! cortexutils' artifact `Extractor`: the observable type of every string in a report, by the
//! first of an ordered list of regular expressions that matches at the start of the string.
//!
//! The patterns are cortexutils 2.2.1's, translated from Python `re` to the `regex` crate so
//! that they accept exactly the same strings:
//! - `re.match` anchors at the start only: every pattern is wrapped in `^(?:...)` and nothing is
//!   added at the end, so `"1.2.3.4 and more"` is an `ip`.
//! - Python's `$` (without `re.MULTILINE`) also matches before a newline that ends the string:
//!   it becomes `\n?\z`. The extractor only asks whether a match exists, so consuming that
//!   newline changes nothing.
//! - Python's `\w` on a `str` pattern is `str.isalnum()` or `_`, which is exactly the Unicode
//!   categories L and N plus `_` (checked over every code point with Python 3.11, Unicode 14);
//!   the `regex` crate's `\w` is wider (it also takes marks and joiners), so `\w` becomes
//!   `[\p{L}\p{N}_]`, inside a class too (`regex` reads a nested class as a union).
//! - `.` does not match `\n` in either engine.
//! - The negative lookahead `(?!http://|https://)` (unsupported by `regex`) is checked in code.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Python's `\w` on a `str` pattern, as a class that works alone and nested in another class.
const WORD: &str = r"[\p{L}\p{N}_]";

/// One observable type and its test.
struct Rule {
    data_type: &'static str,
    /// Prefixes the string must not start with (a Python negative lookahead at the start).
    not_prefixes: &'static [&'static str],
    regex: Regex,
}

impl Rule {
    fn new(data_type: &'static str, not_prefixes: &'static [&'static str], python: &str) -> Rule {
        let translated = python.replace(r"\w", WORD).replace('$', r"\n?\z");
        // The patterns are constants: a failure here is a bug caught by every test.
        let regex = Regex::new(&format!("^(?:{translated})")).expect("extractor pattern compiles");
        Rule {
            data_type,
            not_prefixes,
            regex,
        }
    }

    fn matches(&self, value: &str) -> bool {
        !self.not_prefixes.iter().any(|p| value.starts_with(p)) && self.regex.is_match(value)
    }
}

const NOT_HTTP: &[&str] = &["http://", "https://"];

/// An IPv4 address in the IPv6 pattern, as cortexutils spells it.
const V4: &str =
    r"((25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])\.){3,3}(25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])";

/// The rules in cortexutils' order: the first that matches gives the type.
static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let h = "[0-9a-fA-F]";
    let ipv6 = [
        format!("({h}{{1,4}}:){{7,7}}{h}{{1,4}}"),
        format!("({h}{{1,4}}:){{1,7}}:"),
        format!("({h}{{1,4}}:){{1,6}}:{h}{{1,4}}"),
        format!("({h}{{1,4}}:){{1,5}}(:{h}{{1,4}}){{1,2}}"),
        format!("({h}{{1,4}}:){{1,4}}(:{h}{{1,4}}){{1,3}}"),
        format!("({h}{{1,4}}:){{1,3}}(:{h}{{1,4}}){{1,4}}"),
        format!("({h}{{1,4}}:){{1,2}}(:{h}{{1,4}}){{1,5}}"),
        format!("{h}{{1,4}}:((:{h}{{1,4}}){{1,6}})"),
        format!(":((:{h}{{1,4}}){{1,7}}|:)"),
        format!("fe80:(:{h}{{0,4}}){{0,4}}%[0-9a-zA-Z]{{1,}}"),
        format!("::(ffff(:0{{1,4}}){{0,1}}:){{0,1}}{V4}"),
        format!("({h}{{1,4}}:){{1,4}}:{V4}"),
    ]
    .join("|");
    vec![
        Rule::new("ip", &[], r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"),
        Rule::new("ip", &[], &format!("({ipv6})")),
        Rule::new("url", &[], r"^(http://|https://)"),
        Rule::new("domain", NOT_HTTP, r"^[\w\-]+\.[a-zA-Z]+$"),
        Rule::new(
            "hash",
            &[],
            r"^([0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$",
        ),
        Rule::new(
            "user-agent",
            &[],
            r"^(Mozilla/[45]\.0 |AppleWebKit/[0-9]{3}\.[0-9]{2} |Chrome/[0-9]{2}\.[0-9]\.[0-9]{4}\.[0-9]{3} |Safari/[0-9]{3}\.[0-9]{2} ).*?$",
        ),
        Rule::new("uri_path", NOT_HTTP, r"[A-Za-z]*://"),
        Rule::new(
            "registry",
            &[],
            r"^(HKEY|HKLM|HKCU|HKCR|HKCC)(_LOCAL_MACHINE|_CURRENT_USER|_CURRENT_CONFIG|_CLASSES_ROOT|)[\\a-zA-Z0-9]+$",
        ),
        Rule::new("mail", &[], r"[\w.\-]+@\w+\.[\w.]+"),
        Rule::new("fqdn", NOT_HTTP, r"^[\w\-.]+\.[\w\-]+\.[a-zA-Z]+$"),
    ]
});

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
        .find(|rule| rule.matches(value))
        .map_or("", |rule| rule.data_type)
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
