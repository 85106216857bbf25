//! Attachments as eml_parser's `traverse_multipart` lists them: every non-text or
//! non-inline leaf part and every embedded message, with size, extension, hashes, anomalies,
//! libmagic verdict, the data (base64) and the rendered part headers.

use crate::eml::decode_field;
use crate::magic;
use crate::mime::{Content, Part};
use crate::pyheader::render;
use md5::Md5;
use serde_json::{Map, Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

/// One attachment: its report entry and its decoded bytes.
pub struct Attachment {
    /// The eml_parser attachment dict (without the analyzer's `mime` key).
    pub meta: Map<String, Value>,
    /// The decoded bytes.
    pub data: Vec<u8>,
    /// The first Content-Type value as rendered, if the part has one.
    pub content_type: Option<String>,
}

/// The attachments of a message, in document order.
pub fn collect(root: &Part) -> Vec<Attachment> {
    let mut out = Vec::new();
    let mut counter = 0;
    traverse(root, &mut counter, &mut out);
    out
}

fn traverse(part: &Part, counter: &mut usize, out: &mut Vec<Attachment>) {
    match &part.content {
        Content::Multipart(children) => {
            for child in children {
                traverse(child, counter, out);
            }
        }
        Content::Message(inner, _) => {
            if part.has("content-type") && part.content_type() == "message/rfc822" {
                out.extend(prepare(part, counter));
            }
            traverse(inner, counter, out);
        }
        Content::Leaf(_) => out.extend(prepare(part, counter)),
    }
}

/// Python's `base64.b64encode`.
pub fn b64encode(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `pathlib.PurePosixPath(name).suffix`.
fn suffix(name: &str) -> &str {
    let base = name.rsplit('/').next().unwrap_or(name);
    match base.rfind('.') {
        Some(i) if i > 0 && i < base.len() - 1 => &base[i..],
        _ => "",
    }
}

/// Format characters (Unicode category Cf) that occur in file-name tricks.
fn is_format_char(c: char) -> bool {
    matches!(c, '\u{ad}' | '\u{600}'..='\u{605}' | '\u{61c}' | '\u{6dd}' | '\u{70f}' | '\u{180e}' | '\u{200b}'..='\u{200f}'
        | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
}

/// eml_parser's `find_filename_anomalies`.
fn anomalies(filename: &str, data: &[u8], mime: &str) -> Vec<&'static str> {
    const EXECUTABLE: &[&str] = &[
        "bat", "cmd", "com", "cpl", "dll", "exe", "hta", "jar", "js", "jse", "lnk", "msi", "pif",
        "ps1", "reg", "scr", "vbe", "vbs", "wsf", "wsh",
    ];
    const DECOY: &[&str] = &[
        "bmp", "csv", "doc", "docm", "docx", "gif", "htm", "html", "jpeg", "jpg", "pdf", "png",
        "ppt", "pptm", "pptx", "rtf", "tif", "tiff", "txt", "xls", "xlsm", "xlsx",
    ];
    const EXECUTABLE_MIME: &[&str] = &[
        "application/vnd.microsoft.portable-executable",
        "application/x-dosexec",
        "application/x-executable",
        "application/x-msdownload",
        "application/x-mach-binary",
        "application/x-sharedlib",
        "application/x-pie-executable",
    ];
    let mut out = Vec::new();
    let bidi = |c: char| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if filename.chars().any(bidi) {
        out.push("filename-bidi-control");
    } else if filename
        .chars()
        .any(|c| c.is_control() || is_format_char(c))
    {
        out.push("filename-control-chars");
    }
    let trimmed = filename.trim_end_matches([' ', '.']);
    let extensions: Vec<String> = trimmed
        .split('.')
        .skip(1)
        .map(|p| p.to_lowercase().trim().to_string())
        .collect();
    let n = extensions.len();
    if n >= 2
        && EXECUTABLE.contains(&extensions[n - 1].as_str())
        && DECOY.contains(&extensions[n - 2].as_str())
    {
        out.push("filename-double-extension");
    }
    if filename != trimmed {
        out.push("filename-trailing-dot-or-space");
    }
    if filename.contains("          ") {
        out.push("filename-padding");
    }
    let last = extensions.last().map_or("", String::as_str);
    let executable = EXECUTABLE_MIME.contains(&mime) || data.starts_with(b"\x7fELF") || {
        data.starts_with(b"MZ") && data.len() >= 64 && {
            let offset = u32::from_le_bytes([data[60], data[61], data[62], data[63]]) as usize;
            data.get(offset..offset.saturating_add(4)) == Some(b"PE\0\0")
        }
    };
    if (last.is_empty() || DECOY.contains(&last)) && executable {
        out.push("extension-content-mismatch");
    }
    out
}

/// `prepare_multipart_part_attachment`: the attachment entry of `part`, if it is one.
fn prepare(part: &Part, counter: &mut usize) -> Option<Attachment> {
    let disposition = part.disposition();
    let is_attachment = (part.has("content-disposition")
        && disposition.as_deref() != Some("inline"))
        || part.maintype() != "text";
    if !is_attachment {
        return None;
    }
    let data = match &part.content {
        Content::Message(_, bytes) if part.content_type() == "message/rfc822" => bytes.clone(),
        _ => part.decoded_payload(),
    };
    let number = *counter;
    *counter += 1;
    let raw_name = part.filename();
    let filename = if raw_name.is_empty() {
        format!("part-{number:03}")
    } else {
        decode_field(&raw_name)
    };
    let mut meta = Map::new();
    meta.insert("filename".into(), json!(filename));
    meta.insert("size".into(), json!(data.len()));
    let ext = suffix(&filename);
    if !ext.is_empty() {
        meta.insert("extension".into(), json!(ext[1..].to_lowercase()));
    }
    meta.insert(
        "hash".into(),
        json!({
            "md5": hex::encode(Md5::digest(&data)),
            "sha1": hex::encode(Sha1::digest(&data)),
            "sha256": hex::encode(Sha256::digest(&data)),
            "sha512": hex::encode(Sha512::digest(&data)),
        }),
    );
    let verdict = magic::detect(&data);
    let found = anomalies(&filename, &data, &verdict.mime);
    if !found.is_empty() {
        meta.insert("anomaly".into(), json!(found));
    }
    meta.insert("mime_type".into(), json!(verdict.description));
    meta.insert("mime_type_short".into(), json!(verdict.mime));
    meta.insert("raw".into(), json!(b64encode(&data)));
    let mut headers = Map::new();
    for (name, raw) in &part.headers {
        let value = render(name, raw);
        match headers
            .get_mut(&name.to_lowercase())
            .and_then(Value::as_array_mut)
        {
            Some(list) => list.push(json!(value)),
            None => {
                headers.insert(name.to_lowercase(), json!([value]));
            }
        }
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v[0].as_str())
        .map(str::to_string);
    meta.insert("content_header".into(), Value::Object(headers));
    Some(Attachment {
        meta,
        data,
        content_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_match_python() {
        assert_eq!(b64encode(b"hi"), "aGk=");
        assert_eq!(b64encode(b"hey!"), "aGV5IQ==");
        assert_eq!(suffix("archive.tar.gz"), ".gz");
        assert_eq!(suffix(".bashrc"), "");
        assert_eq!(
            anomalies("invoice.pdf.exe", b"x", "text/plain"),
            vec!["filename-double-extension"]
        );
        assert_eq!(
            anomalies("report.pdf  ", b"x", "text/plain"),
            vec!["filename-trailing-dot-or-space"]
        );
    }
}
