//! The subset of eml_parser's `decode_email_bytes` result that the analyzer reads: the rendered
//! header fields, sender and recipients, the parsed Received lines with their relays, the text
//! body parts with their indicators, and the attachments with hashes.

use crate::address;
use crate::bodyscan;
use crate::decode::decode_body;
use crate::mime::{Content, Part};
use crate::patterns;
use crate::pyheader::{decode_unstructured, render};
use crate::received;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The parts of eml_parser's result the analyzer uses.
#[derive(Default)]
pub struct Decoded {
    /// `header.header`: rendered values grouped by lower-cased name, in order of first occurrence.
    pub header: Map<String, Value>,
    /// `header.from`.
    pub from: Option<String>,
    /// `header.cc` and `header.delivered_to`.
    pub cc: Vec<String>,
    /// `header.delivered_to`.
    pub delivered_to: Vec<String>,
    /// `header.received`.
    pub received: Vec<Value>,
    /// `header.received_ip`, `header.received_domain`, `header.received_foremail`.
    pub received_ip: Vec<String>,
    /// `header.received_domain`.
    pub received_domain: Vec<String>,
    /// `header.received_foremail`.
    pub received_foremail: Vec<String>,
    /// `body`: one dict per text part.
    pub bodies: Vec<Map<String, Value>>,
    /// `attachment`: the attachment parts (see [`crate::attachments`]).
    pub attachments: Vec<crate::attachments::Attachment>,
}

fn dedupe(values: Vec<String>) -> Vec<String> {
    let mut set = bodyscan::Ordered::default();
    for v in &values {
        set.add(v);
    }
    set.items().to_vec()
}

/// Python's `re.sub(r'\s+', ' ', text)`.
fn collapse_ws(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_ws = false;
    for c in text.chars() {
        if crate::html::py_space(c) {
            if !in_ws {
                out.push(' ');
            }
            in_ws = true;
        } else {
            out.push(c);
            in_ws = false;
        }
    }
    out
}

/// Decodes a parsed message as eml_parser does with `include_raw_body` and attachment data.
pub fn decode(root: &Part) -> Decoded {
    let mut out = Decoded::default();
    for (name, raw) in &root.headers {
        let rendered = render(name, raw);
        if rendered.is_empty() {
            continue;
        }
        let key = name.to_lowercase();
        match out.header.get_mut(&key).and_then(Value::as_array_mut) {
            Some(list) => list.push(json!(rendered)),
            None => {
                out.header.insert(key, json!([rendered]));
            }
        }
    }
    let all = |name: &str| -> Vec<String> {
        root.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(n, v)| render(n, v))
            .collect()
    };
    if let Some(from) = root
        .get("from")
        .map(|v| render("from", v).to_lowercase())
        .filter(|f| !f.is_empty())
    {
        out.from = Some(match address::addresses(&from).into_iter().next() {
            Some(addr) => addr,
            None => patterns::emails(&from)
                .first()
                .map_or(from.clone(), |m| m.to_string()),
        });
    }
    out.cc = all("cc")
        .iter()
        .flat_map(|v| address::addresses(v))
        .collect();
    out.delivered_to = all("delivered-to")
        .iter()
        .flat_map(|v| address::addresses(v))
        .collect();
    let (mut ips, mut domains, mut foremail) = (Vec::new(), Vec::new(), Vec::new());
    for line in all("received") {
        let flat = collapse_ws(&line.to_lowercase());
        let routing = received::parse_routing(&flat);
        if let Some(list) = routing.get("for").and_then(Value::as_array) {
            foremail.extend(list.iter().filter_map(Value::as_str).map(str::to_string));
        }
        out.received.push(Value::Object(routing));
        for ip in patterns::ipv6s(&flat)
            .into_iter()
            .chain(patterns::ipv4s(&flat))
        {
            ips.extend(patterns::valid_domain_or_ip(ip));
        }
        for domain in received::relay_domains(&flat) {
            if patterns::parse_python_ip(domain).is_none() {
                domains.push(domain.to_string());
            }
        }
    }
    out.received_ip = dedupe(ips);
    out.received_domain = dedupe(domains);
    out.received_foremail = dedupe(foremail);
    let mut raw_bodies = Vec::new();
    collect_bodies(root, None, &mut raw_bodies);
    let multipart = raw_bodies.len() != 1;
    out.bodies = raw_bodies
        .into_iter()
        .map(|(part, text, boundary)| body_dict(part, &text, boundary, multipart))
        .collect();
    out.attachments = crate::attachments::collect(root);
    out
}

/// `is_text_part`: text parts that are not attachments, and scriptable attachments.
fn is_text_part(part: &Part, filename: &str) -> bool {
    const TYPES: &[&str] = &[
        "application/hta",
        "application/javascript",
        "application/rtf",
        "application/x-javascript",
        "application/x-sh",
        "application/xhtml+xml",
        "image/svg+xml",
    ];
    const EXTENSIONS: &[&str] = &[
        "bat", "cmd", "eml", "hta", "htm", "html", "ics", "js", "jse", "mht", "mhtml", "php",
        "ps1", "psm1", "py", "rtf", "sh", "shtml", "svg", "txt", "url", "vbe", "vbs", "wsf", "wsh",
        "xhtml",
    ];
    let attachment = part.disposition().as_deref() == Some("attachment");
    let text = (part.maintype() == "text" && !attachment)
        || TYPES.contains(&part.content_type().as_str())
        || EXTENSIONS
            .iter()
            .any(|e| filename.ends_with(&format!(".{e}")));
    let size = match &part.content {
        Content::Leaf(raw) => raw.len(),
        _ => 0,
    };
    // A text attachment larger than 10 MiB (encoded) is not scanned.
    text && !(attachment && size > 10 * 1024 * 1024)
}

/// `get_raw_body_text`: the text parts, with their decoded text and enclosing boundary.
fn collect_bodies<'p>(
    part: &'p Part,
    boundary: Option<String>,
    out: &mut Vec<(&'p Part, String, Option<String>)>,
) {
    match &part.content {
        Content::Multipart(children) => {
            let own = part.boundary();
            for child in children {
                collect_bodies(child, own.clone(), out);
            }
        }
        Content::Message(inner, _) => collect_bodies(inner, part.boundary(), out),
        Content::Leaf(_) => {
            if is_text_part(part, &part.filename().to_lowercase()) {
                let text = decode_body(&part.decoded_payload(), part.charset().as_deref());
                out.push((part, text, boundary));
            }
        }
    }
}

/// One body dict: indicators, `content_header`, `content`, `content_type`, `hash`, `boundary`.
fn body_dict(
    part: &Part,
    text: &str,
    boundary: Option<String>,
    multipart: bool,
) -> Map<String, Value> {
    let mut body = bodyscan::scan(text);
    let mut headers = Map::new();
    for (name, raw) in &part.headers {
        let key = name.to_lowercase().replace('.', ":");
        if !multipart && !key.starts_with("content") {
            continue;
        }
        let value = render(name, raw);
        match headers.get_mut(&key).and_then(Value::as_array_mut) {
            Some(list) => list.push(json!(value)),
            None => {
                headers.insert(key, json!([value]));
            }
        }
    }
    let content_type = headers
        .get("content-type")
        .and_then(Value::as_array)
        .and_then(|l| l.last())
        .and_then(Value::as_str)
        .map(|v| v.split(';').next().unwrap_or("").trim().to_string());
    body.insert("content_header".into(), Value::Object(headers));
    body.insert("content".into(), json!(text));
    if let Some(ct) = content_type {
        body.insert("content_type".into(), json!(ct));
    }
    body.insert(
        "hash".into(),
        json!(hex::encode(Sha256::digest(text.as_bytes()))),
    );
    if let Some(b) = boundary {
        body.insert("boundary".into(), json!(b));
    }
    body
}

/// `decode_field` of a file name: encoded words decoded.
pub fn decode_field(value: &str) -> String {
    decode_unstructured(value)
}
