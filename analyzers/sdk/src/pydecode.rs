//! The message Python's `json.loads` raises for a document it rejects, so that a worker reporting
//! a malformed API answer words it as the original does (`Expecting value: line 1 column 10
//! (char 9)`). It follows CPython 3.11's scanner (`Lib/json/decoder.py`, `Modules/_json.c`):
//! which check fails first, and at which character.

/// Python's `json.loads(text)` error message, or `None` when Python accepts `text` (which
/// includes `NaN`, `Infinity` and `-Infinity`, which `serde_json` rejects).
pub fn decode_error(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let failure = if chars.first() == Some(&'\u{feff}') {
        Some(("Unexpected UTF-8 BOM (decode using utf-8-sig)", 0))
    } else {
        let mut scanner = Scanner {
            s: &chars,
            depth: 0,
        };
        let start = scanner.skip_ws(0);
        match scanner.value(start) {
            Err(failure) => Some(failure),
            Ok(end) => {
                let end = scanner.skip_ws(end);
                (end != chars.len()).then_some(("Extra data", end))
            }
        }
    };
    failure.map(|(message, pos)| {
        if message.starts_with("maximum recursion depth") {
            return message.to_owned();
        }
        let before = &chars[..pos];
        let lineno = before.iter().filter(|&&c| c == '\n').count() + 1;
        let colno = match before.iter().rposition(|&c| c == '\n') {
            Some(newline) => pos - newline,
            None => pos + 1,
        };
        format!("{message}: line {lineno} column {colno} (char {pos})")
    })
}

/// How deep arrays and objects may nest before the scan stops, as Python's recursion limit
/// (1,000 frames) stops it.
const MAX_DEPTH: usize = 990;

type Scan = Result<usize, (&'static str, usize)>;

struct Scanner<'a> {
    s: &'a [char],
    depth: usize,
}

impl Scanner<'_> {
    fn at(&self, i: usize) -> Option<char> {
        self.s.get(i).copied()
    }

    fn skip_ws(&self, mut i: usize) -> usize {
        while matches!(self.at(i), Some(' ' | '\t' | '\n' | '\r')) {
            i += 1;
        }
        i
    }

    fn starts_with(&self, i: usize, word: &str) -> bool {
        (i..).zip(word.chars()).all(|(j, c)| self.at(j) == Some(c))
    }

    /// `scan_once`: one value at `i`, returning where it ends; "Expecting value" at `i` when
    /// nothing there starts one.
    fn value(&mut self, i: usize) -> Scan {
        match self.at(i) {
            Some('"') => self.string(i + 1),
            Some('{') => self.nested(i + 1, Self::object),
            Some('[') => self.nested(i + 1, Self::array),
            Some('n') if self.starts_with(i, "null") => Ok(i + 4),
            Some('t') if self.starts_with(i, "true") => Ok(i + 4),
            Some('f') if self.starts_with(i, "false") => Ok(i + 5),
            Some('N') if self.starts_with(i, "NaN") => Ok(i + 3),
            Some('I') if self.starts_with(i, "Infinity") => Ok(i + 8),
            Some('-') if self.starts_with(i, "-Infinity") => Ok(i + 9),
            Some('-' | '0'..='9') => self.number(i).ok_or(("Expecting value", i)),
            _ => Err(("Expecting value", i)),
        }
    }

    fn nested(&mut self, i: usize, parse: fn(&mut Self, usize) -> Scan) -> Scan {
        if self.depth >= MAX_DEPTH {
            return Err((
                "maximum recursion depth exceeded while decoding a JSON document",
                i,
            ));
        }
        self.depth += 1;
        let end = parse(self, i);
        self.depth -= 1;
        end
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`, or `None` when it does not match.
    fn number(&self, mut i: usize) -> Option<usize> {
        let digit = |j: usize| self.at(j).is_some_and(|c| c.is_ascii_digit());
        if self.at(i) == Some('-') {
            i += 1;
        }
        match self.at(i) {
            Some('0') => i += 1,
            Some('1'..='9') => {
                while digit(i) {
                    i += 1;
                }
            }
            _ => return None,
        }
        if self.at(i) == Some('.') && digit(i + 1) {
            i += 1;
            while digit(i) {
                i += 1;
            }
        }
        if matches!(self.at(i), Some('e' | 'E')) {
            let mut j = i + 1;
            if matches!(self.at(j), Some('+' | '-')) {
                j += 1;
            }
            if digit(j) {
                while digit(j) {
                    j += 1;
                }
                i = j;
            }
        }
        Some(i)
    }

    /// `scanstring`: the string whose opening quote is at `i - 1`.
    fn string(&self, mut i: usize) -> Scan {
        let begin = i - 1;
        loop {
            let Some(c) = self.at(i) else {
                return Err(("Unterminated string starting at", begin));
            };
            match c {
                '"' => return Ok(i + 1),
                '\\' => {
                    let Some(escape) = self.at(i + 1) else {
                        return Err(("Unterminated string starting at", begin));
                    };
                    if escape == 'u' {
                        i = self.unicode_escape(i + 1)?;
                    } else if "\"\\/bfnrt".contains(escape) {
                        i += 2;
                    } else {
                        return Err(("Invalid \\escape", i));
                    }
                }
                c if u32::from(c) < 0x20 => return Err(("Invalid control character at", i)),
                _ => i += 1,
            }
        }
    }

    /// A `\uXXXX` escape whose `u` is at `u`, with the low half of a surrogate pair when one
    /// follows; returns where it ends.
    fn unicode_escape(&self, u: usize) -> Scan {
        let code = self.hex4(u + 1).ok_or(("Invalid \\uXXXX escape", u))?;
        let end = u + 5;
        if (0xd800..0xdc00).contains(&code)
            && self.at(end) == Some('\\')
            && self.at(end + 1) == Some('u')
        {
            self.hex4(end + 2)
                .ok_or(("Invalid \\uXXXX escape", end + 1))?;
            // CPython takes the second escape as the low half only when it is one; otherwise
            // it is scanned again as an escape of its own, which is just as valid.
            return Ok(end + 6);
        }
        Ok(end)
    }

    fn hex4(&self, i: usize) -> Option<u32> {
        let mut code = 0;
        for j in i..i + 4 {
            code = code * 16 + self.at(j)?.to_digit(16)?;
        }
        Some(code)
    }

    /// `JSONObject`: the members after the `{` at `i - 1`.
    fn object(&mut self, i: usize) -> Scan {
        let mut end = self.skip_ws(i);
        match self.at(end) {
            Some('}') => return Ok(end + 1),
            Some('"') => {}
            _ => return Err(("Expecting property name enclosed in double quotes", end)),
        }
        loop {
            end = self.string(end + 1)?;
            end = self.skip_ws(end);
            if self.at(end) != Some(':') {
                return Err(("Expecting ':' delimiter", end));
            }
            end = self.skip_ws(end + 1);
            end = self.value(end)?;
            end = self.skip_ws(end);
            match self.at(end) {
                Some('}') => return Ok(end + 1),
                Some(',') => {}
                _ => return Err(("Expecting ',' delimiter", end)),
            }
            end = self.skip_ws(end + 1);
            if self.at(end) != Some('"') {
                return Err(("Expecting property name enclosed in double quotes", end));
            }
        }
    }

    /// `JSONArray`: the items after the `[` at `i - 1`.
    fn array(&mut self, i: usize) -> Scan {
        let mut end = self.skip_ws(i);
        if self.at(end) == Some(']') {
            return Ok(end + 1);
        }
        loop {
            end = self.value(end)?;
            end = self.skip_ws(end);
            match self.at(end) {
                Some(']') => return Ok(end + 1),
                Some(',') => {}
                _ => return Err(("Expecting ',' delimiter", end)),
            }
            end = self.skip_ws(end + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `(document, message)` is what CPython 3.11.7's `json.loads` raised (`None`: it
    /// accepted the document).
    #[test]
    fn messages_are_pythons() {
        let cases: Vec<(String, Option<String>)> =
            serde_json::from_str(include_str!("pydecode_cases.json")).unwrap();
        assert!(cases.len() > 40);
        for (document, expected) in cases {
            assert_eq!(decode_error(&document), expected, "{document:?}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "[".repeat(100_000);
        assert_eq!(
            decode_error(&deep).as_deref(),
            Some("maximum recursion depth exceeded while decoding a JSON document")
        );
    }
}
