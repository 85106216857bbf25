//! Lookups in the generated Unicode tables (`unicode_tables.rs`): the character properties the
//! original reads from CPython's `unicodedata` and `re` and from the `idna` package.

use crate::unicode_tables as tables;

/// The IDNA 2008 class of a code point that may appear in a label (RFC 5892).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdnaClass {
    /// Allowed anywhere in a label.
    Pvalid,
    /// A joiner (ZWNJ, ZWJ), allowed only in the contexts RFC 5892 appendix A.1 and A.2 name.
    ContextJ,
    /// Allowed only in the contexts of RFC 5892 appendix A.3 to A.9.
    ContextO,
}

/// The joining types the CONTEXTJ rule for ZWNJ distinguishes; every other code point has
/// none of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoiningType {
    /// Transparent.
    T,
    /// Left joining.
    L,
    /// Dual joining.
    D,
    /// Right joining.
    R,
}

/// A Unicode bidirectional class, named as `unicodedata.bidirectional` names it.
#[allow(clippy::upper_case_acronyms, missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bidi {
    AL,
    AN,
    B,
    BN,
    CS,
    EN,
    ES,
    ET,
    FSI,
    L,
    LRE,
    LRI,
    LRO,
    NSM,
    ON,
    PDF,
    PDI,
    R,
    RLE,
    RLI,
    RLO,
    S,
    WS,
}

/// The scripts the CONTEXTO rules test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// Greek.
    Greek,
    /// Hebrew.
    Hebrew,
    /// Hiragana.
    Hiragana,
    /// Katakana.
    Katakana,
    /// Han.
    Han,
}

/// The value of the range of `table` that holds `c`, if any; `table` is sorted and disjoint.
fn lookup<T: Copy>(table: &[(u32, u32, T)], c: char) -> Option<T> {
    let cp = u32::from(c);
    let i = table.partition_point(|&(_, end, _)| end < cp);
    table
        .get(i)
        .filter(|&&(start, _, _)| start <= cp)
        .map(|&(_, _, v)| v)
}

/// Whether one of the sorted, disjoint ranges of `table` holds `c`.
fn contains(table: &[(u32, u32)], c: char) -> bool {
    let cp = u32::from(c);
    let i = table.partition_point(|&(_, end)| end < cp);
    table.get(i).is_some_and(|&(start, _)| start <= cp)
}

/// The IDNA 2008 class of `c`; `None` means DISALLOWED or UNASSIGNED.
pub fn idna_class(c: char) -> Option<IdnaClass> {
    lookup(tables::IDNA_CLASSES, c)
}

/// The joining type of `c` if it is one of T, L, D, R.
pub fn joining_type(c: char) -> Option<JoiningType> {
    lookup(tables::JOINING_TYPES, c)
}

/// The bidirectional class of `c`; `None` where CPython's `unicodedata` has none (a code point
/// its Unicode version does not assign).
pub fn bidi_class(c: char) -> Option<Bidi> {
    lookup(tables::BIDI_CLASSES, c)
}

/// Whether `c` is a combining mark (general category Mn, Mc or Me).
pub fn is_mark(c: char) -> bool {
    contains(tables::COMBINING_MARKS, c)
}

/// Whether `c` has canonical combining class 9 (a virama).
pub fn is_virama(c: char) -> bool {
    contains(tables::VIRAMAS, c)
}

/// Whether `c` belongs to `script`.
pub fn in_script(c: char, script: Script) -> bool {
    let table = match script {
        Script::Greek => tables::SCRIPT_GREEK,
        Script::Hebrew => tables::SCRIPT_HEBREW,
        Script::Hiragana => tables::SCRIPT_HIRAGANA,
        Script::Katakana => tables::SCRIPT_KATAKANA,
        Script::Han => tables::SCRIPT_HAN,
    };
    contains(table, c)
}

/// Whether Python's `\w` (in a str pattern) matches `c`.
pub fn is_python_word(c: char) -> bool {
    contains(tables::PYTHON_WORD, c)
}

/// Whether Python's `str.isprintable()` holds for `c`.
pub fn is_python_printable(c: char) -> bool {
    contains(tables::PYTHON_PRINTABLE, c)
}

/// Python's `repr()` of a str, as exception messages show it: single quotes unless the text
/// holds a single quote and no double quote, backslash escapes for the quote, the backslash,
/// `\t`, `\n`, `\r`, and `\x`/`\u`/`\U` escapes for what is not printable.
pub fn python_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            _ if c == quote || c == '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ if c.is_ascii() && (c < ' ' || c == '\x7f') => {
                out.push_str(&format!("\\x{:02x}", u32::from(c)))
            }
            _ if c.is_ascii() || is_python_printable(c) => out.push(c),
            _ if u32::from(c) <= 0xff => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            _ if u32::from(c) <= 0xffff => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            _ => out.push_str(&format!("\\U{:08x}", u32::from(c))),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_answer_as_cpython_does() {
        assert_eq!(idna_class('a'), Some(IdnaClass::Pvalid));
        assert_eq!(idna_class('A'), None);
        assert_eq!(idna_class('\u{200d}'), Some(IdnaClass::ContextJ));
        assert_eq!(bidi_class('\u{5d0}'), Some(Bidi::R));
        assert_eq!(bidi_class('\u{10ffff}'), None);
        assert!(is_virama('\u{94d}'));
        assert!(is_mark('\u{301}'));
        assert!(is_python_word('\u{b2}') && !is_python_word('\u{200d}'));
        assert!(in_script('\u{3042}', Script::Hiragana));
        assert_eq!(joining_type('\u{628}'), Some(JoiningType::D));
    }

    #[test]
    fn repr_matches_python() {
        assert_eq!(python_repr("foo"), "'foo'");
        assert_eq!(python_repr("it's"), "\"it's\"");
        assert_eq!(python_repr("a'\"b"), "'a\\'\"b'");
        assert_eq!(
            python_repr("\u{1}\u{7f}\u{a0}\u{200e}é\u{e0000}"),
            "'\\x01\\x7f\\xa0\\u200eé\\U000e0000'"
        );
    }
}
