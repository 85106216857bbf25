//! Parsing an untrusted report with a nesting-depth limit checked before any parsing.
//!
//! serde_json refuses input nested deeper than its recursion limit, so a 200,000-deep report
//! cannot overflow the stack while parsing; but its message ("recursion limit exceeded") does not
//! say what the limit is, and the limit cannot be lowered. A linear scan of the bytes measures the
//! nesting first, so the error names the limit and the position, and the limit is configurable
//! up to serde_json's own.

/// The deepest nesting serde_json 1.x parses (it refuses the 128th nested array or object).
pub const MAX_PARSE_DEPTH: usize = 127;

/// Why a report could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseProblem {
    /// Arrays and objects nest deeper than the limit; `line` and `column` (1-based, columns in
    /// bytes, as serde_json counts them) point at the bracket that crossed it.
    TooDeep {
        /// The limit that was crossed.
        limit: usize,
        /// The line of the offending bracket.
        line: usize,
        /// Its column.
        column: usize,
    },
    /// Not JSON: serde_json's message, which names the line and column.
    Invalid(String),
}

/// Parses `bytes` as JSON after checking that arrays and objects nest at most `max_depth` deep
/// (a top-level object is depth 1; limits above [`MAX_PARSE_DEPTH`] are lowered to it).
pub(crate) fn parse_bounded(
    bytes: &[u8],
    max_depth: usize,
) -> Result<serde_json::Value, ParseProblem> {
    let limit = max_depth.min(MAX_PARSE_DEPTH);
    if let Some(offset) = first_too_deep(bytes, limit) {
        let before = &bytes[..offset];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = offset
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |nl| nl + 1)
            + 1;
        return Err(ParseProblem::TooDeep {
            limit,
            line,
            column,
        });
    }
    serde_json::from_slice(bytes).map_err(|error| ParseProblem::Invalid(error.to_string()))
}

/// The offset of the first `[` or `{` (outside strings) that opens level `limit + 1`, if any.
/// Malformed input is not this scan's business: it only has to count brackets outside strings
/// the way a JSON parser would, and serde_json reports everything else.
fn first_too_deep(bytes: &[u8], limit: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (offset, &byte) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Some(offset);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn the_deepest_nesting_serde_json_accepts_is_the_cap() {
        assert!(parse_bounded(nested(MAX_PARSE_DEPTH).as_bytes(), usize::MAX).is_ok());
        assert!(serde_json::from_str::<serde_json::Value>(&nested(MAX_PARSE_DEPTH + 1)).is_err());
        assert_eq!(
            parse_bounded(nested(MAX_PARSE_DEPTH + 1).as_bytes(), usize::MAX),
            Err(ParseProblem::TooDeep {
                limit: MAX_PARSE_DEPTH,
                line: 1,
                column: 128
            })
        );
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        let text = r#"{"a": "[[[[\"{{{{", "b": [1]}"#;
        assert!(parse_bounded(text.as_bytes(), 2).is_ok());
        assert_eq!(
            parse_bounded(b"{\n  \"a\": [[1]]}", 2),
            Err(ParseProblem::TooDeep {
                limit: 2,
                line: 2,
                column: 9
            })
        );
    }

    #[test]
    fn invalid_json_keeps_serde_jsons_position() {
        assert_eq!(
            parse_bounded(br#"{"success": tru}"#, 10),
            Err(ParseProblem::Invalid(
                "expected ident at line 1 column 16".into()
            ))
        );
    }
}
