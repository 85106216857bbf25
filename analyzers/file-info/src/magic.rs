//! The MIME type libmagic (`file --mime-type`, python-magic's `Magic(mime=True)`) reports for a
//! buffer, from the `infer` crate's magic-number matchers mapped onto libmagic's names.
//!
//! libmagic itself cannot run in a wasm guest. Its order is kept where it matters: an empty
//! buffer, then JSON and CSV (checked before any magic number), then magic numbers, then plain
//! text. Where `infer` and libmagic name a type differently, [`libmagic_name`] maps it.

use crate::encoding::Encoding;

/// The MIME type libmagic would report for `data`, whose charset is `encoding`.
pub fn mime_type(data: &[u8], encoding: Encoding) -> String {
    if data.is_empty() {
        return "inode/x-empty".to_owned();
    }
    if encoding.is_text && is_json(data) {
        return "application/json".to_owned();
    }
    if encoding.is_text && is_csv(data) {
        return "text/csv".to_owned();
    }
    if let Some(mime) = script_mime(data) {
        return mime.to_owned();
    }
    if let Some(mime) = infer::get(data).and_then(|kind| libmagic_name(kind.mime_type(), data)) {
        return mime;
    }
    if encoding.is_text {
        "text/plain"
    } else {
        "application/octet-stream"
    }
    .to_owned()
}

/// libmagic's JSON test: the whole buffer is one JSON object or array.
fn is_json(data: &[u8]) -> bool {
    let trimmed = data.trim_ascii_start();
    (trimmed.starts_with(b"{") || trimmed.starts_with(b"["))
        && serde_json::from_slice::<serde_json::Value>(data).is_ok()
}

/// libmagic's CSV test: more than two lines, each with the same non-zero number of commas
/// outside double quotes; after ten lines the tenth decides.
fn is_csv(data: &[u8]) -> bool {
    const CSV_LINES: usize = 10;
    let (mut fields, mut first, mut lines) = (0usize, 0usize, 0usize);
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'"' => {
                // Skip a quoted field; a doubled quote inside it is an escaped quote.
                i += 1;
                while i < data.len() {
                    if data[i] == b'"' {
                        if data.get(i + 1) == Some(&b'"') {
                            i += 1;
                        } else {
                            break;
                        }
                    }
                    i += 1;
                }
            }
            b',' => fields += 1,
            b'\n' => {
                lines += 1;
                if lines == CSV_LINES {
                    return first != 0 && first == fields;
                }
                if first == 0 {
                    if fields == 0 {
                        return false;
                    }
                    first = fields;
                } else if first != fields {
                    return false;
                }
                fields = 0;
            }
            _ => {}
        }
        i += 1;
    }
    first != 0 && lines > 2
}

/// The interpreter named by a `#!` line, as its base name (`/usr/bin/env python3` gives
/// `env`, which is what ExifTool keeps; libmagic looks past `env`).
pub fn shebang_interpreter(data: &[u8]) -> Option<(&str, Option<&str>)> {
    let line = data.strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split_ascii_whitespace();
    let program = words.next()?;
    let base = program.rsplit('/').next().unwrap_or(program);
    Some((base, words.next()))
}

/// libmagic's MIME type for a script, by interpreter.
fn script_mime(data: &[u8]) -> Option<&'static str> {
    let (base, arg) = shebang_interpreter(data)?;
    let interpreter = if base == "env" { arg? } else { base };
    let family = interpreter.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    Some(match family {
        "sh" | "bash" | "dash" | "ash" | "ksh" | "zsh" | "csh" | "tcsh" => "text/x-shellscript",
        "python" => "text/x-script.python",
        "perl" => "text/x-perl",
        "ruby" => "text/x-ruby",
        "php" => "text/x-php",
        "node" | "nodejs" => "application/javascript",
        "awk" | "gawk" | "nawk" => "text/x-awk",
        _ => return None,
    })
}

/// Maps an `infer` MIME type onto libmagic's name for the same format; `None` leaves the
/// buffer to the text / data fallback (libmagic has no rule for it either).
fn libmagic_name(infer_mime: &str, data: &[u8]) -> Option<String> {
    let name = match infer_mime {
        // infer calls anything starting with "MZ" a PE; libmagic wants the PE signature at
        // e_lfanew, and calls the rest a DOS executable.
        "application/vnd.microsoft.portable-executable" => {
            if crate::pe::has_pe_signature(data) {
                infer_mime
            } else {
                "application/x-dosexec"
            }
        }
        // infer calls every ELF an executable; libmagic names it by e_type.
        "application/x-executable" => match elf_type(data) {
            Some(1) => "application/x-object",
            Some(3) => "application/x-sharedlib",
            Some(4) => "application/x-coredump",
            _ => "application/x-executable",
        },
        "text/x-shellscript" => return None,
        "application/vnd.rar" => "application/x-rar",
        "application/x-ole-storage" => "application/CDFV2",
        "application/vnd.ms-cab-compressed" => "application/vnd.ms-cab-compressed",
        "image/vnd.adobe.photoshop" => "image/vnd.adobe.photoshop",
        "audio/x-flac" => "audio/flac",
        "video/x-matroska" => "video/x-matroska",
        other => other,
    };
    Some(name.to_owned())
}

/// The ELF header's e_type, read with the header's own byte order.
pub fn elf_type(data: &[u8]) -> Option<u16> {
    let raw = [*data.get(16)?, *data.get(17)?];
    Some(match data.get(5) {
        Some(2) => u16::from_be_bytes(raw),
        _ => u16::from_le_bytes(raw),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::detect;

    fn mime(data: &[u8]) -> String {
        mime_type(data, detect(data))
    }

    // Each expectation is what `file -b --mime-type` (libmagic 5.44) prints for the input.
    #[test]
    fn text_kinds_match_libmagic() {
        assert_eq!(mime(b"a,b\nc,d\n"), "text/plain");
        assert_eq!(mime(b"a,b\nc,d\ne,f\n"), "text/csv");
        assert_eq!(mime(b"[]\n"), "application/json");
        assert_eq!(mime(b"1\n"), "text/plain");
        assert_eq!(mime(b"#!/bin/bash\necho hi\n"), "text/x-shellscript");
        assert_eq!(
            mime(b"#!/usr/bin/env python3\nprint(1)\n"),
            "text/x-script.python"
        );
        assert_eq!(mime(b"#!/usr/bin/perl\nprint 1;\n"), "text/x-perl");
        assert_eq!(mime(b"<html><body>x</body></html>\n"), "text/html");
        assert_eq!(mime(b"<?xml version=\"1.0\"?>\n<a/>\n"), "text/xml");
    }

    #[test]
    fn binary_kinds_match_libmagic() {
        assert_eq!(mime(b""), "inode/x-empty");
        assert_eq!(mime(b"hello\x00world"), "application/octet-stream");
        assert_eq!(mime(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"), "image/gif");
        let mut mz = b"MZ".to_vec();
        mz.resize(64, 0);
        assert_eq!(mime(&mz), "application/x-dosexec");
    }
}
