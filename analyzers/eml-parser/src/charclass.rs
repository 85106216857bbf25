//! The character classes of the `regex` crate's Unicode mode that eml_parser's patterns use
//! (`\w`, `\s`, `\d`, `\b` and case-insensitive ASCII letters), as predicates for the scanners
//! that replace those patterns.
//!
//! Compiling the patterns costs far more than running them: a sandboxed job is a fresh process,
//! and the Unicode classes, bounded repetitions and case folding of eml_parser's patterns took
//! over 150 ms to compile per job. The scanners accept exactly what the patterns accept; the
//! tests check every class here and in the scanners against `regex-syntax`'s own translation of
//! the original pattern text, over all of Unicode.

/// `\w`: the `regex` crate's own word-character table.
pub fn is_word(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    regex_syntax::is_word_character(c)
}

/// `\s`: the White_Space property, which is what `char::is_whitespace` tests.
pub fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// `\d` in Unicode mode: a decimal digit of any script (general category Nd).
pub fn is_digit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    DECIMAL_NUMBER
        .binary_search_by(|(start, end)| {
            if *end < c {
                std::cmp::Ordering::Less
            } else if *start > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// The ranges of `\d` (Unicode 16, as regex-syntax 0.8 has them; the test
/// `classes_are_the_regex_crates` compares them with regex-syntax's own `\d`). Kept here rather
/// than asking regex-syntax's parser for them at run time, which would link its parser and all
/// of its Unicode property tables into the module.
const DECIMAL_NUMBER: &[(char, char)] = &[
    ('\u{30}', '\u{39}'),
    ('\u{660}', '\u{669}'),
    ('\u{6F0}', '\u{6F9}'),
    ('\u{7C0}', '\u{7C9}'),
    ('\u{966}', '\u{96F}'),
    ('\u{9E6}', '\u{9EF}'),
    ('\u{A66}', '\u{A6F}'),
    ('\u{AE6}', '\u{AEF}'),
    ('\u{B66}', '\u{B6F}'),
    ('\u{BE6}', '\u{BEF}'),
    ('\u{C66}', '\u{C6F}'),
    ('\u{CE6}', '\u{CEF}'),
    ('\u{D66}', '\u{D6F}'),
    ('\u{DE6}', '\u{DEF}'),
    ('\u{E50}', '\u{E59}'),
    ('\u{ED0}', '\u{ED9}'),
    ('\u{F20}', '\u{F29}'),
    ('\u{1040}', '\u{1049}'),
    ('\u{1090}', '\u{1099}'),
    ('\u{17E0}', '\u{17E9}'),
    ('\u{1810}', '\u{1819}'),
    ('\u{1946}', '\u{194F}'),
    ('\u{19D0}', '\u{19D9}'),
    ('\u{1A80}', '\u{1A89}'),
    ('\u{1A90}', '\u{1A99}'),
    ('\u{1B50}', '\u{1B59}'),
    ('\u{1BB0}', '\u{1BB9}'),
    ('\u{1C40}', '\u{1C49}'),
    ('\u{1C50}', '\u{1C59}'),
    ('\u{A620}', '\u{A629}'),
    ('\u{A8D0}', '\u{A8D9}'),
    ('\u{A900}', '\u{A909}'),
    ('\u{A9D0}', '\u{A9D9}'),
    ('\u{A9F0}', '\u{A9F9}'),
    ('\u{AA50}', '\u{AA59}'),
    ('\u{ABF0}', '\u{ABF9}'),
    ('\u{FF10}', '\u{FF19}'),
    ('\u{104A0}', '\u{104A9}'),
    ('\u{10D30}', '\u{10D39}'),
    ('\u{10D40}', '\u{10D49}'),
    ('\u{11066}', '\u{1106F}'),
    ('\u{110F0}', '\u{110F9}'),
    ('\u{11136}', '\u{1113F}'),
    ('\u{111D0}', '\u{111D9}'),
    ('\u{112F0}', '\u{112F9}'),
    ('\u{11450}', '\u{11459}'),
    ('\u{114D0}', '\u{114D9}'),
    ('\u{11650}', '\u{11659}'),
    ('\u{116C0}', '\u{116C9}'),
    ('\u{116D0}', '\u{116E3}'),
    ('\u{11730}', '\u{11739}'),
    ('\u{118E0}', '\u{118E9}'),
    ('\u{11950}', '\u{11959}'),
    ('\u{11BF0}', '\u{11BF9}'),
    ('\u{11C50}', '\u{11C59}'),
    ('\u{11D50}', '\u{11D59}'),
    ('\u{11DA0}', '\u{11DA9}'),
    ('\u{11F50}', '\u{11F59}'),
    ('\u{16130}', '\u{16139}'),
    ('\u{16A60}', '\u{16A69}'),
    ('\u{16AC0}', '\u{16AC9}'),
    ('\u{16B50}', '\u{16B59}'),
    ('\u{16D70}', '\u{16D79}'),
    ('\u{1CCF0}', '\u{1CCF9}'),
    ('\u{1D7CE}', '\u{1D7FF}'),
    ('\u{1E140}', '\u{1E149}'),
    ('\u{1E2F0}', '\u{1E2F9}'),
    ('\u{1E4F0}', '\u{1E4F9}'),
    ('\u{1E5F1}', '\u{1E5FA}'),
    ('\u{1E950}', '\u{1E959}'),
    ('\u{1FBF0}', '\u{1FBF9}'),
];

/// The character of `text` ending at byte `pos`, if any.
pub fn char_before(text: &str, pos: usize) -> Option<char> {
    text[..pos].chars().next_back()
}

/// The character of `text` starting at byte `pos`, if any.
pub fn char_at(text: &str, pos: usize) -> Option<char> {
    text[pos..].chars().next()
}

/// `\b` at byte `pos`: a word character on exactly one side.
pub fn word_boundary(text: &str, pos: usize) -> bool {
    char_before(text, pos).is_some_and(is_word) != char_at(text, pos).is_some_and(is_word)
}

/// True if `c` matches the ASCII letter or digit `lower` under `(?i)`: its other case, and for
/// `k` and `s` also KELVIN SIGN and LATIN SMALL LETTER LONG S (Unicode simple case folding).
pub fn fold_eq(c: char, lower: u8) -> bool {
    let lower = lower as char;
    c == lower
        || c == lower.to_ascii_uppercase()
        || (lower == 'k' && c == '\u{212A}')
        || (lower == 's' && c == '\u{17F}')
}

/// The end of `literal` (lower-case ASCII) matched at byte `pos` of `text` under `(?i)`.
pub fn fold_prefix(text: &str, pos: usize, literal: &str) -> Option<usize> {
    let mut chars = text[pos..].char_indices();
    for want in literal.bytes() {
        let (_, c) = chars.next()?;
        let ok = if want.is_ascii_alphabetic() {
            fold_eq(c, want)
        } else {
            c == want as char
        };
        if !ok {
            return None;
        }
    }
    Some(chars.next().map_or(text.len(), |(i, _)| pos + i))
}

/// The end of the run of characters satisfying `class` that starts at byte `pos`, and its
/// length in characters, counting no further than `limit` characters.
pub fn run(text: &str, pos: usize, limit: usize, class: impl Fn(char) -> bool) -> (usize, usize) {
    let mut count = 0;
    for (i, c) in text[pos..].char_indices() {
        if count == limit || !class(c) {
            return (pos + i, count);
        }
        count += 1;
    }
    (text.len(), count)
}

/// The first position from byte `pos` (a character boundary) where a match may start: an ASCII
/// byte for which `ascii` holds, or any non-ASCII character, which the caller tests itself.
/// The scanners skip the bulk of the text with it instead of decoding every character.
pub fn next_candidate(text: &str, pos: usize, ascii: impl Fn(u8) -> bool) -> Option<usize> {
    text.as_bytes()
        .get(pos..)?
        .iter()
        .position(|b| !b.is_ascii() || ascii(*b))
        .map(|k| pos + k)
}

/// Test helpers: classes compared with regex-syntax over all of Unicode, random texts.
#[cfg(test)]
pub mod check {
    use super::*;
    use regex_syntax::hir::{Class, ClassUnicode, HirKind};

    /// The class regex-syntax makes of `pattern` (a single class, with its flags).
    pub fn class_of(pattern: &str) -> ClassUnicode {
        let hir = regex_syntax::parse(pattern).expect("pattern parses");
        match hir.kind() {
            HirKind::Class(Class::Unicode(class)) => class.clone(),
            HirKind::Literal(lit) => {
                let c = std::str::from_utf8(&lit.0)
                    .expect("UTF-8 literal")
                    .chars()
                    .next()
                    .expect("one char");
                ClassUnicode::new([regex_syntax::hir::ClassUnicodeRange::new(c, c)])
            }
            other => panic!("{pattern} is no class: {other:?}"),
        }
    }

    /// Panics unless `predicate` holds for exactly the characters of the class `pattern`.
    pub fn assert_class(pattern: &str, predicate: impl Fn(char) -> bool) {
        let class = class_of(pattern);
        let mut ranges = class.ranges().iter().peekable();
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            while ranges.peek().is_some_and(|r| r.end() < c) {
                ranges.next();
            }
            let expected = ranges.peek().is_some_and(|r| r.start() <= c);
            assert_eq!(
                predicate(c),
                expected,
                "{pattern}: U+{:04X} {c:?}",
                c as u32
            );
        }
    }

    /// A small deterministic generator (xorshift64*), so failures can be replayed.
    pub struct Rng(u64);

    impl Rng {
        /// A generator started from `seed`.
        pub fn new(seed: u64) -> Self {
            Self(seed.max(1))
        }

        /// A number below `n`.
        pub fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
        }

        /// Up to `max` pieces drawn from `pieces`, concatenated.
        pub fn text(&mut self, pieces: &[&str], max: usize) -> String {
            let n = self.below(max + 1);
            (0..n).map(|_| pieces[self.below(pieces.len())]).collect()
        }
    }

    /// `prefix`, `c` repeated `n` times and `suffix`, for each `n` from `around - 1` to
    /// `around + 1`: the texts at a repetition's bound.
    pub fn at_bound(prefix: &str, c: char, suffix: &str, around: usize) -> Vec<String> {
        (around - 1..=around + 1)
            .map(|n| format!("{prefix}{}{suffix}", c.to_string().repeat(n)))
            .collect()
    }

    /// The messages of the golden corpus (those under 1 MiB), as text: real HTML and plain
    /// bodies, headers and encodings for the scanners' tests.
    pub fn corpus_texts() -> Vec<String> {
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
        let mut texts: Vec<String> = std::fs::read_dir(corpus)
            .expect("corpus")
            .filter_map(|case| std::fs::read(case.expect("case").path().join("attachment")).ok())
            .filter(|bytes| bytes.len() < 1 << 20)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .collect();
        texts.sort();
        assert!(texts.len() >= 20, "{} corpus messages", texts.len());
        texts
    }

    /// Pieces that exercise the Unicode side of every class: case-folding partners of ASCII
    /// letters, digits and letters of other scripts, the bounds of the patterns' ranges,
    /// non-ASCII white space and punctuation, marks.
    pub const UNICODE_PIECES: &[&str] = &[
        "\u{17F}",
        "\u{212A}",
        "\u{660}",
        "\u{967}",
        "\u{FF11}",
        "\u{E01}",
        "\u{8FF}",
        "\u{900}",
        "\u{DFF}",
        "\u{E00}",
        "\u{FFF}",
        "\u{1000}",
        "\u{2017}",
        "\u{2018}",
        "\u{2019}",
        "\u{201C}",
        "\u{201D}",
        "\u{2020}",
        "\u{2026}",
        "\u{A0}",
        "\u{2003}",
        "\u{3000}",
        "\u{85}",
        "\u{AB}",
        "\u{BB}",
        "\u{301}",
        "\u{E9}",
        "\u{C9}",
        "\u{1F600}",
        "\u{200B}",
        "\u{10FFFF}",
        "\u{B5}",
        "\u{3B9}",
    ];

    #[test]
    fn classes_are_the_regex_crates() {
        assert_class(r"\w", is_word);
        assert_class(r"\s", is_space);
        assert_class(r"\d", is_digit);
        for c in b'a'..=b'z' {
            assert_class(&format!("(?i){}", c as char), |x| fold_eq(x, c));
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(fold_prefix("HTTP\u{17F}://", 0, "https"), Some(6));
        assert_eq!(fold_prefix("htt", 0, "http"), None);
        assert_eq!(run("ab1c", 0, 10, |c| c.is_alphabetic()), (2, 2));
        assert_eq!(run("aaaa", 1, 2, |c| c == 'a'), (3, 2));
        assert!(word_boundary("a b", 1) && !word_boundary("ab", 1) && word_boundary("a", 0));
        assert_eq!(next_candidate("ab\u{E9}x", 0, |b| b == b'x'), Some(2));
        assert_eq!(next_candidate("ab\u{E9}x", 4, |b| b == b'x'), Some(4));
        assert_eq!(next_candidate("abc", 1, |b| b == b'x'), None);
        assert_eq!(next_candidate("abc", 3, |_| true), None);
    }
}
