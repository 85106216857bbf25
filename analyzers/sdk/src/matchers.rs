//! One function per cortexutils 2.2.1 extractor pattern, each accepting exactly the strings for
//! which Python's `re.match(pattern, s)` finds a match. Every function names its pattern and says
//! why the straight-line code is equivalent: in these patterns consecutive parts use disjoint
//! character sets (`[\w.\-]+` then `@`, `[0-9]{1,3}` then `\.`), so a backtracking engine has only
//! one way to match, and the code takes it directly.

use std::sync::LazyLock;

use regex::Regex;

/// Python's `\w` on a `str` pattern: a letter or number of any script (Unicode categories L and
/// N, which is what `str.isalnum()` tests) or `_`. ASCII is answered without the table.
pub fn is_word(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    let ranges = &*WORD_RANGES;
    let i = ranges.partition_point(|&(_, end)| end < c);
    ranges.get(i).is_some_and(|&(start, _)| start <= c)
}

/// The ranges of `[\p{L}\p{N}]` from the Unicode tables of `regex-syntax`; parsing one class is
/// cheap (tens of microseconds) and happens only when a non-ASCII character is tested.
static WORD_RANGES: LazyLock<Vec<(char, char)>> = LazyLock::new(|| {
    use regex_syntax::hir::{Class, HirKind};
    // A constant class: the parse cannot fail, and every test exercises it.
    let hir = regex_syntax::parse(r"[\p{L}\p{N}]").expect("Unicode class parses");
    match hir.kind() {
        HirKind::Class(Class::Unicode(class)) => class
            .ranges()
            .iter()
            .map(|r| (r.start(), r.end()))
            .collect(),
        other => unreachable!("a Unicode class, not {other:?}"),
    }
});

/// Python's `X$` after a match of `X` that cannot consume `\n`: `X` must match all of the string
/// without one final newline.
fn before_final_newline(s: &str) -> &str {
    s.strip_suffix('\n').unwrap_or(s)
}

/// The length of the longest prefix of `s` whose characters satisfy `f`.
fn run(s: &str, f: impl Fn(char) -> bool) -> usize {
    s.char_indices()
        .find(|&(_, c)| !f(c))
        .map_or(s.len(), |(i, _)| i)
}

/// Whether `s` is non-empty and every character satisfies `f`.
fn all1(s: &str, f: impl Fn(char) -> bool) -> bool {
    !s.is_empty() && s.chars().all(f)
}

/// cortexutils' `(?!http://|https://)` at the start of several patterns.
fn not_http(s: &str) -> bool {
    !s.starts_with("http://") && !s.starts_with("https://")
}

/// `[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}` (no end anchor): three groups of one to
/// three digits each followed by a dot, then at least one digit.
pub fn ipv4(s: &str) -> bool {
    let mut rest = s;
    for _ in 0..3 {
        let digits = run(rest, |c| c.is_ascii_digit());
        if !(1..=3).contains(&digits) || !rest[digits..].starts_with('.') {
            return false;
        }
        rest = &rest[digits + 1..];
    }
    rest.starts_with(|c: char| c.is_ascii_digit())
}

/// cortexutils' IPv6 alternation, kept as a regular expression (it has twelve branches with
/// nested bounded repetitions). Every branch starts with `:` or with one to four hex digits and a
/// `:`, so strings without that start are answered without compiling it.
pub fn ipv6(s: &str) -> bool {
    let hex = run(s, |c| c.is_ascii_hexdigit());
    let could_match = s.starts_with(':') || ((1..=4).contains(&hex) && s[hex..].starts_with(':'));
    could_match && IPV6.is_match(s)
}

/// An IPv4 address in the IPv6 pattern, as cortexutils spells it.
const V4: &str =
    r"((25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])\.){3,3}(25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])";

/// The IPv6 pattern, anchored at the start only (`re.match`). It is ASCII only, so the `regex`
/// crate reads it as Python does.
static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    let h = "[0-9a-fA-F]";
    let branches = [
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
    ];
    // A constant pattern: a failure here is a bug that every test catches.
    Regex::new(&format!("^(?:{})", branches.join("|"))).expect("IPv6 pattern compiles")
});

/// `^(http://|https://)`.
pub fn url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// `^(?!http://|https://)^[\w\-]+\.[a-zA-Z]+$`: `[\w\-]` has no dot, so the name splits at its
/// first dot into a word part and an ASCII-letter part.
pub fn domain(s: &str) -> bool {
    let t = before_final_newline(s);
    not_http(s)
        && t.split_once('.').is_some_and(|(name, tld)| {
            all1(name, |c| is_word(c) || c == '-') && all1(tld, |c| c.is_ascii_alphabetic())
        })
}

/// `^([0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$`.
pub fn hash(s: &str) -> bool {
    let t = before_final_newline(s);
    matches!(t.len(), 32 | 40 | 64) && t.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `^(Mozilla/[45]\.0 |AppleWebKit/[0-9]{3}\.[0-9]{2} |Chrome/[0-9]{2}\.[0-9]\.[0-9]{4}\.[0-9]{3}
/// |Safari/[0-9]{3}\.[0-9]{2} ).*?$`: one of the prefixes, then anything without a newline
/// except one that ends the string.
pub fn user_agent(s: &str) -> bool {
    let rest = ua_prefix(s);
    rest.is_some_and(|rest| !before_final_newline(rest).contains('\n'))
}

/// What follows a user-agent prefix, if `s` starts with one.
fn ua_prefix(s: &str) -> Option<&str> {
    if let Some(r) = s.strip_prefix("Mozilla/") {
        return r.strip_prefix("4.0 ").or_else(|| r.strip_prefix("5.0 "));
    }
    // Each remaining prefix is a name and dot-separated digit groups of fixed lengths, then a space.
    let shapes: [(&str, &[usize]); 3] = [
        ("AppleWebKit/", &[3, 2]),
        ("Chrome/", &[2, 1, 4, 3]),
        ("Safari/", &[3, 2]),
    ];
    shapes.iter().find_map(|(name, groups)| {
        let mut rest = s.strip_prefix(name)?;
        for (i, &len) in groups.iter().enumerate() {
            let digits = rest.get(..len)?;
            if !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let sep = if i + 1 == groups.len() { ' ' } else { '.' };
            rest = rest[len..].strip_prefix(sep)?;
        }
        Some(rest)
    })
}

/// `^(?!http://|https://)[A-Za-z]*://`: ASCII letters (possibly none), then `://`.
pub fn uri_path(s: &str) -> bool {
    not_http(s) && s[run(s, |c| c.is_ascii_alphabetic())..].starts_with("://")
}

/// `^(HKEY|HKLM|HKCU|HKCR|HKCC)(_LOCAL_MACHINE|_CURRENT_USER|_CURRENT_CONFIG|_CLASSES_ROOT|)
/// [\\a-zA-Z0-9]+$`.
pub fn registry(s: &str) -> bool {
    const HIVES: [&str; 5] = ["HKEY", "HKLM", "HKCU", "HKCR", "HKCC"];
    const SUFFIXES: [&str; 5] = [
        "_LOCAL_MACHINE",
        "_CURRENT_USER",
        "_CURRENT_CONFIG",
        "_CLASSES_ROOT",
        "",
    ];
    let t = before_final_newline(s);
    let path = |r: &str| all1(r, |c| c == '\\' || c.is_ascii_alphanumeric());
    HIVES
        .iter()
        .filter_map(|hive| t.strip_prefix(hive))
        .any(|rest| {
            SUFFIXES
                .iter()
                .filter_map(|suffix| rest.strip_prefix(suffix))
                .any(path)
        })
}

/// `[\w.\-]+@\w+\.[\w.]+` (no end anchor): a local part, `@`, a word, a dot, and at least one
/// word character or dot.
pub fn mail(s: &str) -> bool {
    let local = run(s, |c| is_word(c) || c == '.' || c == '-');
    let Some(host) = s[local..].strip_prefix('@').filter(|_| local > 0) else {
        return false;
    };
    let label = run(host, is_word);
    label > 0
        && host[label..]
            .strip_prefix('.')
            .is_some_and(|rest| rest.starts_with(|c: char| is_word(c) || c == '.'))
}

/// `^(?!http://|https://)^[\w\-.]+\.[\w\-]+\.[a-zA-Z]+$`: the last label is ASCII letters, the
/// one before it a non-empty `[\w\-]` run, and before that at least one `[\w\-.]` character.
pub fn fqdn(s: &str) -> bool {
    let t = before_final_newline(s);
    let Some((rest, tld)) = t.rsplit_once('.') else {
        return false;
    };
    let Some((head, label)) = rest.rsplit_once('.') else {
        return false;
    };
    not_http(s)
        && all1(tld, |c| c.is_ascii_alphabetic())
        && all1(label, |c| is_word(c) || c == '-')
        && all1(head, |c| is_word(c) || c == '-' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_characters_are_letters_numbers_and_underscore() {
        for c in [
            'a', 'Z', '0', '_', 'é', 'ß', '²', 'Ⅻ', '١', '例', 'ǅ', 'ʰ', '𝒳',
        ] {
            assert!(is_word(c), "{c:?} is \\w in Python");
        }
        for c in [
            '-', '.', ' ', '\n', '\u{301}', '\u{200d}', '‿', '\u{93e}', '😀', '\u{a0}',
        ] {
            assert!(!is_word(c), "{c:?} is not \\w in Python");
        }
    }

    #[test]
    fn ipv6_is_only_compiled_for_candidates() {
        assert!(ipv6("::1") && ipv6("fe80::1%eth0") && ipv6("2001:db8::1"));
        assert!(!ipv6("12345::1") && !ipv6("Date: x") && !ipv6("2001:db8"));
    }
}
