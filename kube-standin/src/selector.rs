//! Label selectors (equality and set-based) and field selectors, as in list and watch queries.

use serde_json::Value;

use crate::status::ApiError;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    NotExists,
}

/// A parsed `labelSelector`: every requirement must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<(String, Op)>);

/// Splits at commas outside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 317
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

fn parse_set(rest: &str, req: &str) -> Result<Vec<String>, ApiError> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| bad(req, "expected a set of values in parentheses"))?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect())
}

fn bad(req: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!("unable to parse requirement: {req:?}: {why}"))
}

impl LabelSelector {
    /// Parses `a=b,c!=d,e in (x,y),f notin (z),g,!h`.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(LabelSelector(reqs));
        }
        for raw in split_top(s) {
            let req = raw.trim();
            let (key, op) = if let Some(k) = req.strip_prefix('!') {
                (k.trim(), Op::NotExists)
            } else if let Some((k, v)) = req.split_once("!=") {
                (k.trim(), Op::NotEq(v.trim().to_owned()))
            } else if let Some((k, v)) = req.split_once("==") {
                (k.trim(), Op::Eq(v.trim().to_owned()))
            } else if let Some((k, v)) = req.split_once('=') {
                (k.trim(), Op::Eq(v.trim().to_owned()))
            } else if let Some((k, v)) = req.split_once(" notin ") {
                (k.trim(), Op::NotIn(parse_set(v, req)?))
            } else if let Some((k, v)) = req.split_once(" in ") {
                (k.trim(), Op::In(parse_set(v, req)?))
            } else {
                (req, Op::Exists)
            };
            if !valid_key(key) {
                return Err(bad(req, "invalid label key"));
            }
            reqs.push((key.to_owned(), op));
        }
        Ok(LabelSelector(reqs))
    }

    /// Whether an object (as JSON) carries matching `metadata.labels`.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels");
        self.0.iter().all(|(k, op)| {
            let v = labels.and_then(|l| l.get(k)).and_then(Value::as_str);
            match op {
                Op::Eq(want) => v == Some(want.as_str()),
                Op::NotEq(want) => v != Some(want.as_str()),
                Op::In(set) => v.is_some_and(|v| set.iter().any(|s| s == v)),
                Op::NotIn(set) => v.is_none_or(|v| !set.iter().any(|s| s == v)),
                Op::Exists => v.is_some(),
                Op::NotExists => v.is_none(),
            }
        })
    }
}

/// A parsed `fieldSelector` (`a.b=c`, `a.b==c`, `a.b!=c`), matched against the object's JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parses a field selector.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(FieldSelector(reqs));
        }
        for req in s.split(',') {
            let (field, eq, value) = if let Some((f, v)) = req.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = req.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = req.split_once('=') {
                (f, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{s}'; can't understand '{req}'"
                )));
            };
            reqs.push((field.trim().to_owned(), eq, value.trim().to_owned()));
        }
        Ok(FieldSelector(reqs))
    }

    /// Whether the object's fields match (a missing field reads as the empty string).
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(field, eq, want)| {
            let pointer = format!("/{}", field.replace('.', "/"));
            let got = match obj.pointer(&pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (got == *want) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj() -> Value {
        json!({"metadata": {"name": "p", "labels": {"app": "x", "tier": "db"}}, "status": {"phase": "Running"}})
    }

    #[test]
    fn equality_and_set_based_requirements() {
        let o = obj();
        for (sel, want) in [
            ("app=x", true),
            ("app==x", true),
            ("app!=x", false),
            ("app in (x, y)", true),
            ("app in (y)", false),
            ("app notin (y),tier", true),
            ("tier notin (db)", false),
            ("!missing", true),
            ("!app", false),
            ("missing", false),
            ("app=x,tier in (db,web),!gone", true),
            ("", true),
        ] {
            assert_eq!(
                LabelSelector::parse(sel).unwrap().matches(&o),
                want,
                "{sel}"
            );
        }
    }

    #[test]
    fn bad_label_selector_is_bad_request() {
        let e = LabelSelector::parse("app in x").unwrap_err();
        assert_eq!(e.code(), 400);
        assert_eq!(
            e.status.message.as_deref(),
            Some(
                "unable to parse requirement: \"app in x\": expected a set of values in parentheses"
            )
        );
    }

    #[test]
    fn field_selectors() {
        let o = obj();
        assert!(FieldSelector::parse("metadata.name=p").unwrap().matches(&o));
        assert!(
            FieldSelector::parse("status.phase!=Failed")
                .unwrap()
                .matches(&o)
        );
        assert!(
            !FieldSelector::parse("status.phase=Failed")
                .unwrap()
                .matches(&o)
        );
    }
}
