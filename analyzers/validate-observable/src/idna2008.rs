//! `idna.encode(domain)` of the Python `idna` package (3.x) with its defaults: IDNA 2008
//! (RFC 5891-5893) without UTS #46 mapping, labels split on the four Unicode full stops. Only
//! what the original needs: the A-label form of a domain, or the fact that `IDNAError` is
//! raised (the original never shows which one).
//!
//! Not the `idna` crate: that implements UTS #46, which maps (`Bücher` becomes `bücher`) where
//! IDNA 2008 rejects, and carries a newer Unicode than the original's runtime.

use unicode_normalization::UnicodeNormalization;

use crate::punycode;
use crate::unicode::{
    Bidi, IdnaClass, JoiningType, Script, bidi_class, idna_class, in_script, is_mark, is_virama,
    joining_type,
};

/// `idna.IDNAError`: the domain is not a valid IDNA 2008 domain name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdnaError;

/// The label separators of non-strict `idna.encode`: full stop, ideographic full stop,
/// fullwidth full stop, halfwidth ideographic full stop.
const DOTS: [char; 4] = ['.', '\u{3002}', '\u{ff0e}', '\u{ff61}'];

/// `idna.encode(domain).decode()`: the ASCII form of the domain, or the error.
pub fn encode(domain: &str) -> Result<String, IdnaError> {
    let mut labels: Vec<&str> = domain.split(DOTS).collect();
    if labels == [""] {
        return Err(IdnaError);
    }
    let trailing_dot = labels.last() == Some(&"");
    if trailing_dot {
        labels.pop();
    }
    let mut out = Vec::with_capacity(labels.len() + 1);
    for label in labels {
        out.push(alabel(label)?);
    }
    if trailing_dot {
        out.push(String::new());
    }
    let joined = out.join(".");
    let limit = if trailing_dot { 254 } else { 253 };
    if joined.len() > limit {
        return Err(IdnaError);
    }
    Ok(joined)
}

/// `idna.alabel`: an ASCII label is checked (as a U-label, or decoded first when it is an
/// A-label) and kept as written; any other label is checked and Punycode-encoded. Either way
/// the result may not exceed 63 bytes.
fn alabel(label: &str) -> Result<String, IdnaError> {
    // A label whose A-label cannot fit in 63 bytes fails whatever the checks say (the length is
    // tested last, but every other outcome is an error too), so long labels stop here instead of
    // being decoded or normalised: a Punycode decode of a huge `xn--` label is quadratic. An
    // A-label of a non-ASCII label takes `xn--` plus at least one byte per character.
    let shortest = if label.is_ascii() {
        label.len()
    } else {
        4 + label.chars().count()
    };
    if shortest > 63 {
        return Err(IdnaError);
    }
    let encoded = if label.is_ascii() {
        check_ascii_label(label)?;
        label.to_owned()
    } else {
        let points: Vec<u32> = label.chars().map(u32::from).collect();
        check_label(&points)?;
        format!("xn--{}", punycode::encode(label))
    };
    if encoded.len() > 63 {
        Err(IdnaError)
    } else {
        Ok(encoded)
    }
}

/// `idna.ulabel` on an ASCII label: lower-cased, an `xn--` label must hold Punycode that does
/// not end with a hyphen and decodes to a valid label; any other label must itself be valid.
fn check_ascii_label(label: &str) -> Result<(), IdnaError> {
    let lower = label.to_ascii_lowercase();
    match lower.strip_prefix("xn--") {
        Some(rest) => {
            if rest.is_empty() || rest.ends_with('-') {
                return Err(IdnaError);
            }
            let decoded = punycode::decode(rest).ok_or(IdnaError)?;
            check_label(&decoded)
        }
        None => check_label(&lower.chars().map(u32::from).collect::<Vec<_>>()),
    }
}

/// `idna.check_label`: NFC, hyphen rules, no leading combining mark, every code point PVALID
/// or allowed in its context, and the bidi rule. Code points come as numbers because a decoded
/// A-label may hold a surrogate, which is never valid.
fn check_label(points: &[u32]) -> Result<(), IdnaError> {
    let chars: Vec<char> = points
        .iter()
        .map(|&p| char::from_u32(p))
        .collect::<Option<_>>()
        .ok_or(IdnaError)?;
    let Some(&first) = chars.first() else {
        return Err(IdnaError);
    };
    // A string of code points CPython's Unicode assigns normalises the same way under any
    // later Unicode version (the normalisation stability policy); a string with others fails
    // the bidi check below anyway, so a newer NFC table cannot change the verdict.
    if !chars.iter().copied().eq(chars.iter().copied().nfc()) {
        return Err(IdnaError);
    }
    if (chars.len() >= 4 && chars[2] == '-' && chars[3] == '-')
        || first == '-'
        || chars.last() == Some(&'-')
    {
        return Err(IdnaError);
    }
    if is_mark(first) {
        return Err(IdnaError);
    }
    for pos in 0..chars.len() {
        let allowed = match idna_class(chars[pos]) {
            Some(IdnaClass::Pvalid) => true,
            Some(IdnaClass::ContextJ) => valid_contextj(&chars, pos),
            Some(IdnaClass::ContextO) => valid_contexto(&chars, pos),
            None => false,
        };
        if !allowed {
            return Err(IdnaError);
        }
    }
    check_bidi(&chars)
}

/// RFC 5892 appendix A.1 (ZERO WIDTH NON-JOINER) and A.2 (ZERO WIDTH JOINER).
///
/// Python raises for a preceding code point without a name; such a code point is not assigned
/// in its Unicode version, so the label fails the bidi check anyway and the verdict is the same.
fn valid_contextj(chars: &[char], pos: usize) -> bool {
    let after_virama = pos > 0 && is_virama(chars[pos - 1]);
    match chars[pos] {
        '\u{200c}' => {
            if after_virama {
                return true;
            }
            let before = chars[..pos]
                .iter()
                .rev()
                .map(|&c| joining_type(c))
                .find(|t| *t != Some(JoiningType::T));
            let after = chars[pos + 1..]
                .iter()
                .map(|&c| joining_type(c))
                .find(|t| *t != Some(JoiningType::T));
            matches!(before, Some(Some(JoiningType::L | JoiningType::D)))
                && matches!(after, Some(Some(JoiningType::R | JoiningType::D)))
        }
        '\u{200d}' => after_virama,
        _ => false,
    }
}

/// RFC 5892 appendix A.3 to A.9, as the `idna` package applies them.
fn valid_contexto(chars: &[char], pos: usize) -> bool {
    let c = chars[pos];
    match c {
        // MIDDLE DOT: between two `l`.
        '\u{b7}' => {
            pos > 0 && pos + 1 < chars.len() && chars[pos - 1] == 'l' && chars[pos + 1] == 'l'
        }
        // GREEK LOWER NUMERAL SIGN: followed by a Greek character.
        '\u{375}' => pos + 1 < chars.len() && in_script(chars[pos + 1], Script::Greek),
        // HEBREW GERESH and GERSHAYIM: preceded by a Hebrew character.
        '\u{5f3}' | '\u{5f4}' => pos > 0 && in_script(chars[pos - 1], Script::Hebrew),
        // KATAKANA MIDDLE DOT: somewhere a Hiragana, Katakana or Han character.
        '\u{30fb}' => chars.iter().any(|&other| {
            other != '\u{30fb}'
                && (in_script(other, Script::Hiragana)
                    || in_script(other, Script::Katakana)
                    || in_script(other, Script::Han))
        }),
        // ARABIC-INDIC DIGITS and EXTENDED ARABIC-INDIC DIGITS do not mix.
        '\u{660}'..='\u{669}' => !chars
            .iter()
            .any(|other| ('\u{6f0}'..='\u{6f9}').contains(other)),
        '\u{6f0}'..='\u{6f9}' => !chars
            .iter()
            .any(|other| ('\u{660}'..='\u{669}').contains(other)),
        _ => false,
    }
}

/// The bidi rule of RFC 5893 section 2, applied only to labels with a right-to-left or
/// Arabic-number character; any code point without a bidirectional class fails.
fn check_bidi(chars: &[char]) -> Result<(), IdnaError> {
    let mut classes = Vec::with_capacity(chars.len());
    for &c in chars {
        classes.push(bidi_class(c).ok_or(IdnaError)?);
    }
    if !classes
        .iter()
        .any(|b| matches!(b, Bidi::R | Bidi::AL | Bidi::AN))
    {
        return Ok(());
    }
    let rtl = match classes[0] {
        Bidi::R | Bidi::AL => true,
        Bidi::L => false,
        _ => return Err(IdnaError),
    };
    let mut valid_ending = false;
    let mut number_type = None;
    for &class in &classes {
        use Bidi::*;
        if rtl {
            if !matches!(class, R | AL | AN | EN | ES | CS | ET | ON | BN | NSM) {
                return Err(IdnaError);
            }
            if matches!(class, R | AL | EN | AN) {
                valid_ending = true;
            } else if class != NSM {
                valid_ending = false;
            }
            if matches!(class, AN | EN) {
                match number_type {
                    None => number_type = Some(class),
                    Some(seen) if seen != class => return Err(IdnaError),
                    Some(_) => {}
                }
            }
        } else {
            if !matches!(class, L | EN | ES | CS | ET | ON | BN | NSM) {
                return Err(IdnaError);
            }
            if matches!(class, L | EN) {
                valid_ending = true;
            } else if class != NSM {
                valid_ending = false;
            }
        }
    }
    if valid_ending { Ok(()) } else { Err(IdnaError) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_the_idna_package() {
        assert_eq!(encode("example.com"), Ok("example.com".into()));
        assert_eq!(encode("EXAMPLE.com."), Ok("EXAMPLE.com.".into()));
        assert_eq!(encode("bücher.de"), Ok("xn--bcher-kva.de".into()));
        assert_eq!(encode("example\u{3002}com"), Ok("example.com".into()));
        assert_eq!(
            encode("col\u{b7}lecci\u{f3}.cat"),
            Ok("xn--collecci-ioa91d.cat".into())
        );
        assert_eq!(
            encode("\u{915}\u{94d}\u{200c}\u{937}.com"),
            Ok("xn--11b2ezcs70k.com".into())
        );
    }

    #[test]
    fn rejects_like_the_idna_package() {
        for bad in [
            "",
            ".",
            "a..b",
            "Bücher.de",
            "my_host.example.com",
            "ab--c.com",
            "-a.com",
            "xn--a-.com",
            "xn--.com",
            "exa\u{200d}mple.com",
            "a\u{5d0}.com",
            "\u{301}a.com",
            "pa\u{b7}l.cat",
        ] {
            assert_eq!(encode(bad), Err(IdnaError), "{bad:?}");
        }
        assert_eq!(encode(&format!("{}.com", "a".repeat(64))), Err(IdnaError));
        let longest = format!("{}.{}", vec!["a".repeat(63); 3].join("."), "a".repeat(61));
        assert_eq!(encode(&longest), Ok(longest.clone()));
        assert_eq!(encode(&format!("{longest}.")), Ok(format!("{longest}.")));
        assert_eq!(encode(&format!("{longest}b")), Err(IdnaError));
    }
}
