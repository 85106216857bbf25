//! The few Python value semantics cortexutils relies on, applied to JSON values: dotted-path
//! lookup (`Worker.__get_param`), truthiness (`if self.auto_extract:`) and `>` (the TLP check).

use serde_json::Value;

use crate::error::{Error, Result};

/// Looks `name` up in `source` the way cortexutils' `__get_param` does: `name` is split on
/// every `.` and each segment is looked up in turn. A missing key or a JSON `null` anywhere
/// on the path means "not found" (Python's `dict.get` returns `None` for both). A present
/// value is returned whatever it is, even `false`, `0` or `""`.
///
/// Where the path goes through a value that is not an object (`config.proxy.http` with
/// `"proxy": "x"`), Python raises `AttributeError` and the worker crashes; the SDK treats that
/// as "not found" instead, the only sensible reading of such a path.
pub fn lookup<'a>(source: &'a Value, name: &str) -> Option<&'a Value> {
    let mut current = source;
    for segment in name.split('.') {
        match current.as_object()?.get(segment) {
            None | Some(Value::Null) => return None,
            Some(next) => current = next,
        }
    }
    Some(current)
}

/// Python's truthiness of a value decoded by `json.load`: `null`, `false`, `0`, `0.0`, `""`,
/// `[]` and `{}` are false, everything else (including the string `"false"`) is true.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// The Python type name of a JSON value, for `TypeError` messages.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// A number as Python compares it: `bool` is an `int`, integers compare exactly.
enum PyNum {
    Int(i128),
    Float(f64),
}

fn as_number(value: &Value) -> Option<PyNum> {
    match value {
        Value::Bool(b) => Some(PyNum::Int(i128::from(*b))),
        Value::Number(n) => Some(match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => PyNum::Int(i128::from(i)),
            (None, Some(u)) => PyNum::Int(i128::from(u)),
            _ => PyNum::Float(n.as_f64().unwrap_or(f64::NAN)),
        }),
        _ => None,
    }
}

/// Python's `left > right` for the values cortexutils compares (`self.tlp > self.max_tlp`):
/// numbers and booleans numerically, strings by code point, and the same `TypeError` message
/// Python gives for any other pair.
pub fn greater(left: &Value, right: &Value) -> Result<bool> {
    if let (Some(a), Some(b)) = (as_number(left), as_number(right)) {
        return Ok(match (a, b) {
            (PyNum::Int(a), PyNum::Int(b)) => a > b,
            (PyNum::Int(a), PyNum::Float(b)) => (a as f64) > b,
            (PyNum::Float(a), PyNum::Int(b)) => a > (b as f64),
            (PyNum::Float(a), PyNum::Float(b)) => a > b,
        });
    }
    if let (Value::String(a), Value::String(b)) = (left, right) {
        // UTF-8 byte order is code point order, which is how Python orders `str`.
        return Ok(a > b);
    }
    Err(Error::Type(format!(
        "'>' not supported between instances of '{}' and '{}'",
        type_name(left),
        type_name(right)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lookup_follows_dotted_paths_and_treats_null_as_missing() {
        let input = json!({"config": {"proxy": {"http": "http://p:3128"}, "zero": 0, "off": false,
                           "nothing": null, "s": "x", "": {"": 7}}});
        assert_eq!(
            lookup(&input, "config.proxy.http"),
            Some(&json!("http://p:3128"))
        );
        assert_eq!(
            lookup(&input, "config.proxy"),
            Some(&json!({"http": "http://p:3128"}))
        );
        assert_eq!(lookup(&input, "config.zero"), Some(&json!(0)));
        assert_eq!(lookup(&input, "config.off"), Some(&json!(false)));
        assert_eq!(lookup(&input, "config.nothing"), None);
        assert_eq!(lookup(&input, "config.missing"), None);
        assert_eq!(lookup(&input, "config.s.deeper"), None);
        // `"config.."` splits into `config`, `""`, `""`, as Python's `str.split(".")` does.
        assert_eq!(lookup(&input, "config.."), Some(&json!(7)));
        assert_eq!(lookup(&json!([1]), "0"), None);
    }

    #[test]
    fn truthiness_is_pythons() {
        for falsy in [
            json!(null),
            json!(false),
            json!(0),
            json!(0.0),
            json!(""),
            json!([]),
            json!({}),
        ] {
            assert!(!truthy(&falsy), "{falsy} should be falsy");
        }
        for true_ in [
            json!(true),
            json!(1),
            json!(-0.5),
            json!("false"),
            json!("0"),
            json!([0]),
            json!({"a": null}),
        ] {
            assert!(truthy(&true_), "{true_} should be truthy");
        }
    }

    #[test]
    fn greater_compares_like_python() {
        assert!(greater(&json!(3), &json!(2)).unwrap());
        assert!(!greater(&json!(2), &json!(2)).unwrap());
        assert!(greater(&json!(2.5), &json!(2)).unwrap());
        assert!(!greater(&json!(true), &json!(1)).unwrap());
        assert!(greater(&json!("b"), &json!("a")).unwrap());
        let err = greater(&json!("3"), &json!(2)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "'>' not supported between instances of 'str' and 'int'"
        );
        let err = greater(&json!(null), &json!(2.0)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "'>' not supported between instances of 'NoneType' and 'float'"
        );
    }
}
