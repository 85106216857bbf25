//! Punycode (RFC 3492) as CPython's `punycode` codec does it: encoding for the A-labels `idna`
//! builds, and its strict decoding, which accepts what the codec accepts (any case, no check
//! that the result would encode back to the same text).

/// The RFC 3492 parameters.
const BASE: u64 = 36;
const T_MIN: u64 = 1;
const T_MAX: u64 = 26;
const SKEW: u64 = 38;
const DAMP: u64 = 700;
const INITIAL_BIAS: u64 = 72;
const INITIAL_N: u64 = 0x80;

/// The threshold for the digit at position `j` (RFC 3492 section 6.1, clamped to `[1, 26]`).
fn threshold(j: u64, bias: u64) -> u64 {
    (BASE * (j + 1)).saturating_sub(bias).clamp(T_MIN, T_MAX)
}

/// The bias adaptation function (RFC 3492 section 6.1).
fn adapt(delta: u64, first: bool, num_points: u64) -> u64 {
    let mut delta = if first { delta / DAMP } else { delta / 2 };
    delta += delta / num_points;
    let mut k = 0;
    while delta > ((BASE - T_MIN) * T_MAX) / 2 {
        delta /= BASE - T_MIN;
        k += BASE;
    }
    k + (BASE * delta) / (delta + SKEW)
}

/// The digit character for a value below 36: `a`-`z`, then `0`-`9`.
fn digit_char(d: u64) -> char {
    let d = u8::try_from(d).unwrap_or(0);
    if d < 26 {
        char::from(b'a' + d)
    } else {
        char::from(b'0' + d - 26)
    }
}

/// Encodes a label: its basic (ASCII) code points in order, a `-` if there were any, then the
/// variable-length deltas of the others.
pub fn encode(label: &str) -> String {
    let points: Vec<u64> = label.chars().map(|c| u64::from(u32::from(c))).collect();
    let mut out: String = label.chars().filter(char::is_ascii).collect();
    let basic = out.len() as u64;
    if basic > 0 {
        out.push('-');
    }
    let (mut n, mut delta, mut bias, mut handled) = (INITIAL_N, 0u64, INITIAL_BIAS, basic);
    while handled < points.len() as u64 {
        // The smallest code point not yet handled; labels are short, so the loop is cheap.
        let m = points
            .iter()
            .copied()
            .filter(|&p| p >= n)
            .min()
            .unwrap_or(n);
        delta += (m - n) * (handled + 1);
        n = m;
        for &p in &points {
            if p < n {
                delta += 1;
            }
            if p == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = threshold(k / BASE - 1, bias);
                    if q < t {
                        break;
                    }
                    out.push(digit_char(t + (q - t) % (BASE - t)));
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                out.push(digit_char(q));
                bias = adapt(delta, handled == basic, handled + 1);
                delta = 0;
                handled += 1;
            }
        }
        delta += 1;
        n += 1;
    }
    out
}

/// Decodes the part of an A-label after `xn--` as the strict codec does: the text before the
/// last `-` is kept as is, the rest are digits of any case. Returns the code points (a decoded
/// surrogate stays a number: no `char` can hold it), or `None` where the codec raises. Large
/// numbers are computed in `u128`; an overflow there means a code point far beyond U+10FFFF,
/// which the codec rejects too.
pub fn decode(text: &str) -> Option<Vec<u32>> {
    let (base, extended) = match text.rfind('-') {
        Some(pos) => (&text[..pos], &text[pos + 1..]),
        None => ("", text),
    };
    let mut output: Vec<u32> = base.chars().map(u32::from).collect();
    let extended = extended.as_bytes();
    let (mut n, mut pos, mut bias, mut extpos) =
        (u128::from(INITIAL_N as u32), -1i128, INITIAL_BIAS, 0usize);
    while extpos < extended.len() {
        let first = extpos == 0;
        // One generalised variable-length integer.
        let (mut delta, mut w, mut j) = (0u128, 1u128, 0u64);
        loop {
            let &byte = extended.get(extpos)?;
            extpos += 1;
            let digit = match byte.to_ascii_uppercase() {
                b @ b'A'..=b'Z' => u128::from(b - b'A'),
                b @ b'0'..=b'9' => u128::from(b - b'0' + 26),
                _ => return None,
            };
            let t = u128::from(threshold(j, bias));
            delta = delta.checked_add(digit.checked_mul(w)?)?;
            if digit < t {
                break;
            }
            w = w.checked_mul(36 - t)?;
            j += 1;
        }
        let len = output.len() as i128 + 1;
        pos = pos.checked_add(i128::try_from(delta).ok()?.checked_add(1)?)?;
        n = n.checked_add(u128::try_from(pos / len).ok()?)?;
        if n > 0x10FFFF {
            return None;
        }
        pos %= len;
        output.insert(usize::try_from(pos).ok()?, u32::try_from(n).ok()?);
        bias = adapt(u64::try_from(delta).ok()?, first, output.len() as u64);
    }
    Some(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(points: &[u32]) -> String {
        points
            .iter()
            .map(|&p| char::from_u32(p).unwrap_or('?'))
            .collect()
    }

    #[test]
    fn round_trips_the_rfc_examples() {
        assert_eq!(encode("bücher"), "bcher-kva");
        assert_eq!(encode("мвд"), "b1aew");
        assert_eq!(encode("ü"), "tda");
        assert_eq!(text(&decode("bcher-kva").unwrap()), "bücher");
        assert_eq!(
            text(&decode("BCHER-KVA").unwrap()),
            "BüCHER",
            "the base keeps its case"
        );
        assert_eq!(
            text(&decode("80ak6aa92e").unwrap()),
            text(&decode("80AK6AA92E").unwrap())
        );
    }

    #[test]
    fn rejects_what_the_codec_rejects() {
        assert_eq!(
            decode("a"),
            Some(vec![0x80]),
            "a lone digit is a whole number"
        );
        assert_eq!(decode("9"), None, "incomplete number");
        assert_eq!(decode("ab-c!"), None, "invalid digit");
        assert_eq!(decode(&"9".repeat(40)), None, "incomplete number");
        assert_eq!(decode(&format!("{}a", "9".repeat(40))), None, "overflow");
    }
}
