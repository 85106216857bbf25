//! The MIME tree of a message (parsed by `mail-parser`) seen through the accessors of Python's
//! `email.message.Message` that eml_parser calls: content type with its defaults, parameters,
//! file name, disposition, transfer-decoded payload.

use crate::decode;
use crate::pyheader::{self, Param};
use mail_parser::{Message, MessageParser, PartType};
use std::borrow::Cow;

/// What a part holds.
#[derive(Debug)]
pub enum Content {
    /// A leaf part: its body as written (still transfer-encoded).
    Leaf(Vec<u8>),
    /// A multipart: its sub-parts in order.
    Multipart(Vec<Part>),
    /// A `message/rfc822` part: the embedded message and its bytes as Python re-serialises them.
    Message(Box<Part>, Vec<u8>),
}

/// One part of the tree (the root is the message itself).
#[derive(Debug)]
pub struct Part {
    /// Header fields in order: name as written, raw value (see [`pyheader::raw_value`]).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub content: Content,
}

/// True for a line Python's feed parser takes as part of the header block
/// (`^(From |[\041-\071\073-\176]*:|[\t ])`).
fn is_header_line(line: &[u8]) -> bool {
    if line.starts_with(b"From ") || line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
        return true;
    }
    let name_len = line
        .iter()
        .take_while(|b| (0x21..=0x7e).contains(*b) && **b != b':')
        .count();
    line.get(name_len) == Some(&b':')
}

/// The message as Python's parser splits it, rewritten so that mail-parser splits it the same
/// way: the header block ends at the first line that is neither a header nor a continuation
/// (a blank line is put there when the message has none), and a leading mbox `From ` line is
/// dropped.
fn python_split(raw: &[u8]) -> Cow<'_, [u8]> {
    let mut offset = 0;
    let mut skip_first = 0;
    while offset < raw.len() {
        let end = raw[offset..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(raw.len(), |p| offset + p + 1);
        let line = &raw[offset..end];
        if line.starts_with(b"\r\n") || line.starts_with(b"\n") || line.starts_with(b"\r") {
            break;
        }
        if !is_header_line(line) {
            let mut fixed = raw[skip_first..offset].to_vec();
            fixed.push(b'\n');
            fixed.extend_from_slice(&raw[offset..]);
            return Cow::Owned(fixed);
        }
        if offset == 0 && line.starts_with(b"From ") {
            skip_first = end;
        }
        offset = end;
    }
    if skip_first > 0 {
        Cow::Owned(raw[skip_first..].to_vec())
    } else {
        Cow::Borrowed(raw)
    }
}

/// Parses a whole message; an input mail-parser cannot read at all becomes a part without
/// headers whose body is the whole input, as Python's parser treats it.
pub fn parse(raw: &[u8]) -> Part {
    let prepared = python_split(raw);
    match MessageParser::default().parse(prepared.as_ref()) {
        Some(message) if !message.parts.is_empty() => convert(&message, 0),
        _ => Part {
            headers: Vec::new(),
            content: Content::Leaf(raw.to_vec()),
        },
    }
}

/// The bytes of `message` from `start` to `end`, empty when out of range.
fn slice<'m>(message: &'m Message<'_>, start: u32, end: u32) -> &'m [u8] {
    message
        .raw_message
        .get(start as usize..end as usize)
        .unwrap_or_default()
}

/// Python's generator writes an embedded message back with LF line endings.
fn crlf_to_lf(bytes: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(bytes.len());
    for (i, byte) in bytes.iter().enumerate() {
        if *byte == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            continue;
        }
        data.push(*byte);
    }
    data
}

fn convert(message: &Message<'_>, id: usize) -> Part {
    let Some(part) = message.parts.get(id) else {
        return Part {
            headers: Vec::new(),
            content: Content::Leaf(Vec::new()),
        };
    };
    let headers = part
        .headers
        .iter()
        .map(|h| {
            let name = slice(message, h.offset_field, h.offset_start);
            let name =
                String::from_utf8_lossy(name.strip_suffix(b":").unwrap_or(name)).into_owned();
            (
                name,
                pyheader::raw_value(slice(message, h.offset_start, h.offset_end)),
            )
        })
        .collect();
    let content = match &part.body {
        PartType::Multipart(children) => Content::Multipart(
            children
                .iter()
                .map(|c| convert(message, *c as usize))
                .collect(),
        ),
        PartType::Message(nested) => Content::Message(
            Box::new(convert(nested, 0)),
            crlf_to_lf(slice(message, part.offset_body, part.offset_end)),
        ),
        _ => Content::Leaf(slice(message, part.offset_body, part.offset_end).to_vec()),
    };
    Part { headers, content }
}

impl Part {
    /// The raw value of the first field called `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True when a field called `name` exists.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The parameters of the Content-Type field.
    fn type_params(&self) -> Vec<Param> {
        self.get("content-type")
            .map(|v| pyheader::split_params(&pyheader::unfold(v)).1)
            .unwrap_or_default()
    }

    /// `get_content_type()`: lower-cased `maintype/subtype`, `text/plain` when missing or invalid.
    pub fn content_type(&self) -> String {
        let Some(value) = self.get("content-type") else {
            return "text/plain".to_string();
        };
        let head = pyheader::split_params(&pyheader::unfold(value)).0;
        let ctype = head.split('(').next().unwrap_or("").trim().to_lowercase();
        if ctype.matches('/').count() != 1 || ctype.starts_with('/') || ctype.ends_with('/') {
            return "text/plain".to_string();
        }
        ctype.replace(' ', "")
    }

    /// `get_content_maintype()`.
    pub fn maintype(&self) -> String {
        self.content_type()
            .split('/')
            .next()
            .unwrap_or("text")
            .to_string()
    }

    /// `get_boundary()`.
    pub fn boundary(&self) -> Option<String> {
        pyheader::param(&self.type_params(), "boundary").map(|b| b.trim_end().to_string())
    }

    /// `get_content_charset()`: the charset parameter, lower-cased.
    pub fn charset(&self) -> Option<String> {
        pyheader::param(&self.type_params(), "charset").map(str::to_lowercase)
    }

    /// `get_content_disposition()`: the disposition type, lower-cased.
    pub fn disposition(&self) -> Option<String> {
        let value = self.get("content-disposition")?;
        let head = pyheader::split_params(&pyheader::unfold(value)).0;
        Some(head.trim().to_lowercase())
    }

    /// `get_filename('')`: Content-Disposition `filename`, else Content-Type `name`, stripped.
    pub fn filename(&self) -> String {
        let disposition = self.get("content-disposition").and_then(|v| {
            pyheader::param(&pyheader::split_params(&pyheader::unfold(v)).1, "filename")
                .map(str::to_string)
        });
        let name = disposition
            .or_else(|| pyheader::param(&self.type_params(), "name").map(str::to_string));
        name.map(|n| n.trim().to_string()).unwrap_or_default()
    }

    /// The Content-Transfer-Encoding, lower-cased and trimmed.
    pub fn transfer_encoding(&self) -> String {
        self.get("content-transfer-encoding")
            .map(|v| pyheader::unfold(v).trim().to_lowercase())
            .unwrap_or_default()
    }

    /// `get_payload(decode=True)` of a leaf part.
    pub fn decoded_payload(&self) -> Vec<u8> {
        match &self.content {
            Content::Leaf(raw) => decode::decode_transfer(raw, &self.transfer_encoding()),
            _ => Vec::new(),
        }
    }
}
