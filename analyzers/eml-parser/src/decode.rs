//! Transfer and charset decoding with the semantics of CPython's `email` and `binascii` modules.
//!
//! The original reports hashes, sizes and text of decoded parts, so a lenient decoder that
//! recovers different bytes from a damaged part would change the report: these functions follow
//! CPython 3.11 byte for byte on malformed input (invalid base64 characters, missing padding,
//! stray `=` in quoted-printable, undecodable bytes in a declared charset).

use std::borrow::Cow;

/// The value of a base64 alphabet byte, or `None` for any other byte.
fn b64_value(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// `binascii.a2b_base64(data)` in its default (non-strict) mode: bytes outside the alphabet are
/// skipped, a complete padding ends the data, and a dangling quad is an error.
pub fn a2b_base64(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 3);
    let mut quad_pos = 0u8;
    let mut left = 0u8;
    let mut pads = 0u8;
    for &byte in data {
        if byte == b'=' {
            if quad_pos >= 2 {
                pads += 1;
                if quad_pos + pads >= 4 {
                    return Some(out);
                }
            }
            continue;
        }
        let Some(value) = b64_value(byte) else {
            continue;
        };
        pads = 0;
        match quad_pos {
            0 => {
                left = value;
                quad_pos = 1;
            }
            1 => {
                out.push((left << 2) | (value >> 4));
                left = value & 0x0f;
                quad_pos = 2;
            }
            2 => {
                out.push((left << 4) | (value >> 2));
                left = value & 0x03;
                quad_pos = 3;
            }
            _ => {
                out.push((left << 6) | value);
                quad_pos = 0;
            }
        }
    }
    (quad_pos == 0).then_some(out)
}

/// `base64.b64decode(data, validate=True)`: only the alphabet followed by at most two `=`.
fn b64decode_validated(data: &[u8]) -> Option<Vec<u8>> {
    let body_len = data.iter().position(|b| *b == b'=').unwrap_or(data.len());
    let (body, pad) = data.split_at(body_len);
    let valid = body.iter().all(|b| b64_value(*b).is_some())
        && pad.len() <= 2
        && pad.iter().all(|b| *b == b'=');
    if valid { a2b_base64(data) } else { None }
}

/// The body of a base64 part as `Message.get_payload(decode=True)` returns it (`decode_b`):
/// strict decoding with fixed padding first, then lenient, then lenient with extra padding, and
/// the encoded bytes themselves when nothing works.
pub fn decode_base64_payload(payload: &[u8]) -> Vec<u8> {
    let encoded: Vec<u8> = payload
        .iter()
        .copied()
        .filter(|b| *b != b'\r' && *b != b'\n')
        .collect();
    let pad_err = encoded.len() % 4;
    let mut padded = encoded.clone();
    if pad_err != 0 {
        padded.extend(std::iter::repeat_n(b'=', 4 - pad_err));
    }
    if let Some(decoded) = b64decode_validated(&padded) {
        return decoded;
    }
    if let Some(decoded) = a2b_base64(&encoded) {
        return decoded;
    }
    let mut extra = encoded.clone();
    extra.extend_from_slice(b"==");
    a2b_base64(&extra).unwrap_or(encoded)
}

/// `quopri.decodestring`: `=XX` escapes and soft line breaks; anything else is kept as written.
pub fn decode_quoted_printable(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        let byte = data[i];
        if byte != b'=' {
            out.push(byte);
            i += 1;
            continue;
        }
        let next = data.get(i + 1).copied();
        let after = data.get(i + 2).copied();
        match (next, after) {
            (Some(b'\n'), _) => i += 2,
            (Some(b'\r'), Some(b'\n')) => i += 3,
            (None, _) => i += 1,
            (Some(high), Some(low)) if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() => {
                let text = [high, low];
                let hex = std::str::from_utf8(&text).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
                i += 3;
            }
            _ => {
                out.push(b'=');
                i += 1;
            }
        }
    }
    out
}

/// The transfer-decoded payload of a leaf part, keyed by its (already lower-cased)
/// Content-Transfer-Encoding value, as `get_payload(decode=True)` returns it.
pub fn decode_transfer(payload: &[u8], cte: &str) -> Vec<u8> {
    match cte {
        "base64" => decode_base64_payload(payload),
        "quoted-printable" => decode_quoted_printable(payload),
        _ => payload.to_vec(),
    }
}

/// Decodes `data` with a Python codec name and `errors="replace"`; `None` for an unknown codec.
pub fn decode_with_charset(data: &[u8], charset: &str) -> Option<String> {
    let label = charset.trim().to_ascii_lowercase().replace('_', "-");
    match label.as_str() {
        "utf-8" | "utf8" | "u8" | "utf" | "utf-8-sig" => {
            Some(String::from_utf8_lossy(data).into_owned())
        }
        "us-ascii" | "ascii" | "646" | "ansi-x3.4-1968" | "us" => Some(
            data.iter()
                .map(|b| if b.is_ascii() { *b as char } else { '\u{fffd}' })
                .collect(),
        ),
        "iso-8859-1" | "iso8859-1" | "latin-1" | "latin1" | "l1" | "8859" | "cp819"
        | "iso-ir-100" => Some(data.iter().map(|b| *b as char).collect()),
        _ => {
            let encoding = encoding_rs::Encoding::for_label(label.as_bytes())?;
            let (text, _) = encoding.decode_without_bom_handling(data);
            Some(text.into_owned())
        }
    }
}

/// eml_parser's `decode_body`: decode with the declared charset (or detect one), then turn every
/// U+FFFD into a space so that undecodable bytes separate indicators instead of joining them.
///
/// The charset detection of the original (`charset_normalizer`) is approximated: UTF-8 when the
/// bytes are valid UTF-8, Latin-1 otherwise (see the README).
pub fn decode_body(data: &[u8], charset: Option<&str>) -> String {
    let detected = || -> Cow<'_, str> {
        match std::str::from_utf8(data) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => Cow::Owned(data.iter().map(|b| *b as char).collect()),
        }
    };
    let text: String = match charset.and_then(|c| decode_with_charset(data, c)) {
        Some(text) => {
            let damage = text.matches('\u{fffd}').count();
            if damage > 0 && data.len() <= 256 * 1024 {
                let other = detected();
                if other.matches('\u{fffd}').count() < damage {
                    other.into_owned()
                } else {
                    text
                }
            } else {
                text
            }
        }
        None => detected().into_owned(),
    };
    text.replace('\u{fffd}', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_skips_junk_and_stops_at_padding() {
        assert_eq!(a2b_base64(b"aGk=").unwrap(), b"hi");
        assert_eq!(a2b_base64(b"a!G*k=").unwrap(), b"hi");
        assert_eq!(a2b_base64(b"aGk=bm90").unwrap(), b"hi");
        assert_eq!(a2b_base64(b"aGk"), None);
        assert_eq!(decode_base64_payload(b"aGk"), b"hi");
        assert_eq!(decode_base64_payload(b"a"), b"a");
    }

    #[test]
    fn quoted_printable_keeps_bad_escapes() {
        assert_eq!(decode_quoted_printable(b"a=3Db=\nc=ZZ=\r\nd"), b"a=bc=ZZd");
    }

    #[test]
    fn ascii_replacement_becomes_space() {
        assert_eq!(decode_body(b"caf\xe9", Some("us-ascii")), "caf\u{e9}");
        assert_eq!(decode_body(b"a\xff\xfeb", Some("utf-8")), "a\u{ff}\u{fe}b");
    }
}
