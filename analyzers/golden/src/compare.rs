//! Comparing a port's report with the original's, listing each difference by JSON pointer.

use serde_json::Value;

/// How many differences one case lists; the rest are counted.
pub const MAX_DIFFERENCES: usize = 10;

/// How long a value is shown in a difference before it is cut.
const SHOWN_CHARS: usize = 300;

/// Whether the order of an object's members counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyOrder {
    /// Objects are unordered, as they are for Cortex and TheHive.
    #[default]
    Ignored,
    /// The report must be written member by member in the original's order, and a number
    /// exactly as the original wrote it (`1.0` is not `1`, `-0.0` is not `0.0`): the two reports
    /// serialise to the same text.
    Compared,
}

/// The differences between `expected` and `actual`, each as `<JSON pointer>: expected <value>,
/// actual <value>` (`(absent)` for a missing value); empty when they are equal. At most
/// [`MAX_DIFFERENCES`] are listed, then a count of the others.
pub fn differences(expected: &Value, actual: &Value, key_order: KeyOrder) -> Vec<String> {
    let mut found = Vec::new();
    walk(expected, actual, key_order, "", &mut found);
    if found.len() > MAX_DIFFERENCES {
        let more = found.len() - MAX_DIFFERENCES;
        found.truncate(MAX_DIFFERENCES);
        found.push(format!("(and {more} more)"));
    }
    found
}

fn walk(expected: &Value, actual: &Value, key_order: KeyOrder, at: &str, found: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for key in e.keys().chain(a.keys().filter(|k| !e.contains_key(*k))) {
                let here = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                match (e.get(key), a.get(key)) {
                    (Some(ev), Some(av)) => walk(ev, av, key_order, &here, found),
                    (ev, av) => found.push(difference(&here, ev, av)),
                }
            }
            let same_keys = e.len() == a.len() && e.keys().all(|k| a.contains_key(k));
            if key_order == KeyOrder::Compared && same_keys && !e.keys().eq(a.keys()) {
                let order = |keys: serde_json::map::Keys| keys.cloned().collect::<Vec<_>>();
                found.push(format!(
                    "{}: members in order {:?}, expected {:?}",
                    shown_pointer(at),
                    order(a.keys()),
                    order(e.keys())
                ));
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                found.push(format!(
                    "{}: {} items expected, {} found",
                    shown_pointer(at),
                    e.len(),
                    a.len()
                ));
            }
            for i in 0..e.len().max(a.len()) {
                let here = format!("{at}/{i}");
                match (e.get(i), a.get(i)) {
                    (Some(ev), Some(av)) => walk(ev, av, key_order, &here, found),
                    (ev, av) => found.push(difference(&here, ev, av)),
                }
            }
        }
        (Value::Number(e), Value::Number(a))
            if key_order == KeyOrder::Compared && e.to_string() != a.to_string() =>
        {
            found.push(difference(at, Some(expected), Some(actual)));
        }
        (e, a) if e == a => {}
        _ => found.push(difference(at, Some(expected), Some(actual))),
    }
}

fn difference(at: &str, expected: Option<&Value>, actual: Option<&Value>) -> String {
    format!(
        "{}: expected {}, actual {}",
        shown_pointer(at),
        show(expected),
        show(actual)
    )
}

/// The root's pointer is empty; say so.
fn shown_pointer(at: &str) -> &str {
    if at.is_empty() { "(the report)" } else { at }
}

fn show(value: Option<&Value>) -> String {
    let Some(value) = value else {
        return "(absent)".to_owned();
    };
    let text = value.to_string();
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}… ({} chars)", &text[..cut], text.chars().count()),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_reports_have_no_difference_in_either_mode() {
        let report = json!({"success": true, "full": {"a": [1, 2.5, "x"]}});
        assert!(differences(&report, &report, KeyOrder::Ignored).is_empty());
        assert!(differences(&report, &report, KeyOrder::Compared).is_empty());
    }

    #[test]
    fn each_difference_is_named_by_its_pointer() {
        let expected = json!({"full": {"a/b": 1, "list": [1, 2]}, "gone": true});
        let actual = json!({"full": {"a/b": 2, "list": [1]}, "new": null});
        assert_eq!(
            differences(&expected, &actual, KeyOrder::Ignored),
            [
                "/full/a~1b: expected 1, actual 2",
                "/full/list: 2 items expected, 1 found",
                "/full/list/1: expected 2, actual (absent)",
                "/gone: expected true, actual (absent)",
                "/new: expected (absent), actual null",
            ]
        );
    }

    #[test]
    fn key_order_counts_only_when_compared() {
        let expected = json!({"a": 1, "b": 1.0});
        let reordered = json!({"b": 1.0, "a": 1});
        assert!(differences(&expected, &reordered, KeyOrder::Ignored).is_empty());
        assert_eq!(
            differences(&expected, &reordered, KeyOrder::Compared),
            [r#"(the report): members in order ["b", "a"], expected ["a", "b"]"#]
        );
        let integer = json!({"a": 1, "b": 1});
        assert!(!differences(&expected, &integer, KeyOrder::Compared).is_empty());
    }

    #[test]
    fn long_values_are_cut_and_many_differences_counted() {
        let expected = json!({"s": "x".repeat(1000)});
        let actual = json!({"s": "y"});
        let shown = &differences(&expected, &actual, KeyOrder::Ignored)[0];
        assert!(shown.contains("… (1002 chars), actual \"y\""), "{shown}");
        let many = differences(
            &json!((0..20).collect::<Vec<_>>()),
            &json!((100..120).collect::<Vec<_>>()),
            KeyOrder::Ignored,
        );
        assert_eq!(many.len(), MAX_DIFFERENCES + 1);
        assert_eq!(many[MAX_DIFFERENCES], "(and 10 more)");
    }
}
