//! Rewrites serde's standard error messages into ones naming the full key and what was expected.

use crate::config::plain_expected;

/// Turns serde's message for the value at `path` (`wasm.memry`) into a sentence for a reader of
/// the file, e.g. "unknown key `wasm.memry` (expected one of: memory_mib, module)".
pub(crate) fn rewrite(path: &str, message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let expected = backticked(rest.split_once(", ").map_or("", |(_, tail)| tail));
        let expected = if expected.is_empty() {
            "no keys here".to_string()
        } else {
            expected.join(", ")
        };
        return format!("unknown key `{path}` (expected one of: {expected})");
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (found, tail) = rest.split_once('`').unwrap_or((rest, ""));
        return format!(
            "`{path}` must be one of: {}, found {found:?}",
            backticked(tail).join(", ")
        );
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.trim_end_matches('`');
        let key = if path.is_empty() || path == "." {
            field.to_string()
        } else {
            format!("{path}.{field}")
        };
        return format!("missing key `{key}`");
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some((found, expected)) = message
            .strip_prefix(prefix)
            .and_then(|r| r.rsplit_once(", expected "))
        {
            let found = found.replace('`', "");
            return format!(
                "`{path}` must be {}, found {found}",
                plain_expected(expected)
            );
        }
    }
    if path.is_empty() || path == "." {
        message.to_string()
    } else {
        format!("`{path}`: {message}")
    }
}

/// Every name between backticks in `text`, in order.
fn backticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn serde_messages_become_key_sentences() {
        assert_eq!(
            rewrite(
                "wasm.memry",
                "unknown field `memry`, expected `memory_mib` or `module`"
            ),
            "unknown key `wasm.memry` (expected one of: memory_mib, module)"
        );
        assert_eq!(
            rewrite(
                "foo",
                "unknown field `foo`, expected one of `backend`, `wasm`, `env`"
            ),
            "unknown key `foo` (expected one of: backend, wasm, env)"
        );
        assert_eq!(
            rewrite(
                "wasm.memory_mib",
                "invalid type: string \"x\", expected u64"
            ),
            "`wasm.memory_mib` must be a non-negative integer, found string \"x\""
        );
        assert_eq!(
            rewrite("env.A", "invalid type: integer `1`, expected a string"),
            "`env.A` must be a string, found integer 1"
        );
        assert_eq!(
            rewrite(".", "missing field `backend`"),
            "missing key `backend`"
        );
        assert_eq!(
            rewrite(
                "backend",
                "unknown variant `x`, expected `wasm` or `kubernetes`"
            ),
            "`backend` must be one of: wasm, kubernetes, found \"x\""
        );
    }
}
