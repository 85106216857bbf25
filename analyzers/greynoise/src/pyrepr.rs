//! Python's `repr` of JSON values, for the messages the original builds from exceptions that
//! carry a response body (`RequestFailure(status, body)` prints as `(401, {'message': ...})`).

use cortex_sdk::serde_json::Value;

/// `repr(value)` of the Python object `json.loads` would make of `value`.
pub fn repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.to_string(),
            (_, Some(u)) => u.to_string(),
            _ => cortex_sdk::pyjson::python_float_repr(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => repr_str(s),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(repr).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", repr_str(k), repr(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

/// `repr(text)` of a `str`: single quotes unless the text holds a single quote and no double
/// quote; backslashes, the quote and characters that `str.isprintable` rejects escaped.
pub fn repr_str(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !printable(c) => {
                let n = u32::from(c);
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02x}"));
                } else if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `str.isprintable` for the characters a JSON body is likely to hold: controls, the C1 range,
/// no-break and other separators, format characters and private use are not printable.
fn printable(c: char) -> bool {
    let n = u32::from(c);
    !(n < 0x20
        || (0x7f..=0xa0).contains(&n)
        || n == 0xad
        || (0x2000..=0x200f).contains(&n)
        || (0x2028..=0x202f).contains(&n)
        || (0x205f..=0x206f).contains(&n)
        || n == 0x1680
        || n == 0x3000
        || n == 0xfeff
        || (0xe000..=0xf8ff).contains(&n)
        || (0xfff9..=0xfffb).contains(&n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cortex_sdk::serde_json::json;

    /// Expected values are CPython 3.11's `repr`.
    #[test]
    fn reprs_as_python() {
        assert_eq!(
            repr(&json!({"message": "Authentication required.", "n": [1, 2.5, null, true]})),
            "{'message': 'Authentication required.', 'n': [1, 2.5, None, True]}"
        );
        assert_eq!(repr_str("a'b"), "\"a'b\"");
        assert_eq!(repr_str("a'b\""), "'a\\'b\"'");
        assert_eq!(repr_str("a\u{ad}b\u{2028}\n\\"), "'a\\xadb\\u2028\\n\\\\'");
        assert_eq!(repr_str("é\u{85}"), "'é\\x85'");
    }
}
