//! A small subset of libmagic (file 5.44): the description and MIME type of an attachment.
//!
//! The original asks libmagic for both (`mime`, `mime_type`, `mime_type_short`). A wasm guest
//! has no libmagic, so the formats seen in mail attachments most often are recognised here with
//! libmagic's exact wording: empty, PDF, PNG, GIF, ZIP, mail and HTML text, and the
//! text encodings with their line-terminator notes. Anything else is `data`; the README lists
//! this as an intentional difference.

/// A libmagic verdict: description and MIME type.
pub struct Verdict {
    /// libmagic's description (`magic.from_buffer`).
    pub description: String,
    /// The MIME type (`magic.detect_from_content(..).mime_type`).
    pub mime: String,
}

fn verdict(description: impl Into<String>, mime: &str) -> Verdict {
    Verdict {
        description: description.into(),
        mime: mime.to_string(),
    }
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

fn le16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

/// Binary formats recognised by their signature.
fn binary(data: &[u8]) -> Option<Verdict> {
    if let Some(rest) = data.strip_prefix(b"%PDF-") {
        let version: String = rest
            .iter()
            .take_while(|b| b.is_ascii_digit() || **b == b'.')
            .map(|b| *b as char)
            .collect();
        return Some(verdict(
            format!("PDF document, version {version}"),
            "application/pdf",
        ));
    }
    if data.starts_with(b"\x89PNG\r\n\x1a\n") && data.get(12..16) == Some(b"IHDR") {
        let (width, height) = (be32(data, 16)?, be32(data, 20)?);
        let depth = *data.get(24)?;
        let color = match data.get(25)? {
            0 => format!("{depth}-bit grayscale"),
            2 => format!("{depth}-bit/color RGB"),
            3 => format!("{depth}-bit colormap"),
            4 => format!("{depth}-bit gray+alpha"),
            6 => format!("{depth}-bit/color RGBA"),
            _ => return None,
        };
        let interlace = if data.get(28) == Some(&1) {
            "interlaced"
        } else {
            "non-interlaced"
        };
        return Some(verdict(
            format!("PNG image data, {width} x {height}, {color}, {interlace}"),
            "image/png",
        ));
    }
    if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        let version = String::from_utf8_lossy(&data[3..6]).into_owned();
        let (width, height) = (le16(data, 6)?, le16(data, 8)?);
        return Some(verdict(
            format!("GIF image data, version {version}, {width} x {height}"),
            "image/gif",
        ));
    }
    if data.starts_with(b"PK\x03\x04") && data.len() >= 30 {
        let version = le16(data, 4)?;
        let method = match le16(data, 8)? {
            0 => "store",
            8 => "deflate",
            _ => return None,
        };
        if version < 10 {
            return None;
        }
        let name_len = usize::from(le16(data, 26)?);
        let name = data.get(30..30 + name_len)?;
        if name.starts_with(b"META-INF/")
            || name == b"mimetype"
            || name.starts_with(b"[Content_Types]")
        {
            return None;
        }
        return Some(verdict(
            format!(
                "Zip archive data, at least v{}.{} to extract, compression method={method}",
                version / 10,
                version % 10
            ),
            "application/zip",
        ));
    }
    None
}

/// libmagic's text classes: `Some(name)` when every byte is text in that class.
fn encoding(data: &[u8]) -> Option<&'static str> {
    let ascii_text = |b: u8| (0x07..=0x0d).contains(&b) || b == 0x1b || (0x20..=0x7e).contains(&b);
    if data.iter().all(|b| ascii_text(*b)) {
        return Some("ASCII text");
    }
    if let Ok(text) = std::str::from_utf8(data)
        && text.chars().all(|c| !c.is_ascii() || ascii_text(c as u8))
    {
        return Some("Unicode text, UTF-8 text");
    }
    if data.iter().all(|b| ascii_text(*b) || *b >= 0xa0) {
        return Some("ISO-8859 text");
    }
    if data.iter().all(|b| ascii_text(*b) || *b >= 0x80) {
        return Some("Non-ISO extended-ASCII text");
    }
    None
}

/// The notes libmagic appends to a text verdict: long lines, line terminators, escapes.
fn text_notes(data: &[u8]) -> String {
    let (mut crlf, mut cr, mut lf) = (false, false, false);
    let (mut longest, mut current) = (0usize, 0usize);
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'\r' if data.get(i + 1) == Some(&b'\n') => {
                crlf = true;
                i += 1;
                current = 0;
            }
            b'\r' => {
                cr = true;
                current = 0;
            }
            b'\n' => {
                lf = true;
                current = 0;
            }
            _ => {
                current += 1;
                longest = longest.max(current);
            }
        }
        i += 1;
    }
    let mut notes = String::new();
    if longest > 300 {
        notes.push_str(&format!(", with very long lines ({longest})"));
    }
    if !(crlf || cr || lf) {
        notes.push_str(", with no line terminators");
    } else if crlf || cr {
        let kinds: Vec<&str> = [(crlf, "CRLF"), (cr, "CR"), (lf, "LF")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, k)| *k)
            .collect();
        notes.push_str(&format!(", with {} line terminators", kinds.join(", ")));
    }
    if data.contains(&0x1b) {
        notes.push_str(", with escape sequences");
    }
    notes
}

/// The kind of text document, from its first bytes.
fn text_kind(data: &[u8]) -> Option<(&'static str, &'static str)> {
    let starts_ci =
        |p: &str| data.len() >= p.len() && data[..p.len()].eq_ignore_ascii_case(p.as_bytes());
    if data.starts_with(b"Received:") {
        return Some(("RFC 822 mail", "message/rfc822"));
    }
    if starts_ci("return-path:") || starts_ci("delivered-to:") {
        return Some(("SMTP mail", "message/rfc822"));
    }
    if data.starts_with(b"From:") {
        return Some(("news or mail", "message/rfc822"));
    }
    if data.starts_with(b"MIME-Version:") {
        return Some(("MIME entity", "text/plain"));
    }
    let start = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(data.len());
    let head = &data[start..];
    let html = ["<!doctype html", "<html", "<head", "<body", "<title"]
        .iter()
        .any(|p| head.len() >= p.len() && head[..p.len()].eq_ignore_ascii_case(p.as_bytes()));
    html.then_some(("HTML document", "text/html"))
}

/// libmagic's verdict for `data`.
pub fn detect(data: &[u8]) -> Verdict {
    if data.is_empty() {
        return verdict("empty", "application/x-empty");
    }
    if let Some(found) = binary(data) {
        return found;
    }
    let Some(encoding) = encoding(data) else {
        return verdict("data", "application/octet-stream");
    };
    let notes = text_notes(data);
    match text_kind(data) {
        Some((kind, mime)) => verdict(format!("{kind}, {encoding}{notes}"), mime),
        None => verdict(format!("{encoding}{notes}"), "text/plain"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wording_matches_libmagic() {
        assert_eq!(detect(b"").description, "empty");
        assert_eq!(
            detect(b"%PDF-1.4\n").description,
            "PDF document, version 1.4"
        );
        assert_eq!(
            detect(b"hello\r\nworld").description,
            "ASCII text, with CRLF line terminators"
        );
        assert_eq!(
            detect(b"a\r\nb\nc\n").description,
            "ASCII text, with CRLF, LF line terminators"
        );
        assert_eq!(
            detect(b"<html>x</html>").description,
            "HTML document, ASCII text, with no line terminators"
        );
        assert_eq!(
            detect(b"Received: x\n").description,
            "RFC 822 mail, ASCII text"
        );
        assert_eq!(
            detect(b"caf\xc3\xa9\r\n").description,
            "Unicode text, UTF-8 text, with CRLF line terminators"
        );
        assert_eq!(detect(b"\x00\x01abc").mime, "application/octet-stream");
    }
}
