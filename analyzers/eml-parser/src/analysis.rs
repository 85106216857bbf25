//! The `full` report of EmlParser (the original's `parseEml`): raw message, selected headers,
//! text and HTML bodies, attachments, and the indicators with their context tags.

use crate::eml::{self, Decoded};
use crate::html;
use crate::mime;
use crate::urls::uri_ondata;
use regex::Regex;
use serde_json::{Map, Value, json};
use std::sync::LazyLock;

/// The analyzer's own IPv4 pattern (`IP_REGEX` in parse.py).
static IP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\b")
        .expect("ip pattern")
});
/// The analyzer's own address pattern (`EMAIL_REGEX` in parse.py).
static MAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}\b").expect("mail pattern")
});

/// Why the analysis stopped; the message is the original's exception text.
#[derive(Debug)]
pub struct Failure(pub String);

/// What the analysis produced: the `full` report and the attachment files to write, in order.
pub struct Analysis {
    /// The `full` report.
    pub full: Value,
    /// `(file name in output/, bytes)` for each attachment, in the order the original writes them.
    pub files: Vec<(String, Vec<u8>)>,
}

/// Options read from the job's configuration.
pub struct Options {
    /// `config.email_visualisation`, truthy.
    pub visualisation: bool,
    /// `config.wkhtmltoimage_path`.
    pub wkhtmltoimage: String,
}

/// parse.py's `_add_ioc`: add `data` with `tags`, merging the tags of an existing entry.
fn add_ioc(list: &mut Vec<Value>, data: &str, tags: &[&str]) {
    if let Some(existing) = list.iter_mut().find(|e| e["data"] == json!(data)) {
        if let Some(existing_tags) = existing["tag"].as_array_mut() {
            for tag in tags {
                if !existing_tags.iter().any(|t| t == tag) {
                    existing_tags.push(json!(tag));
                }
            }
        }
        return;
    }
    list.push(json!({"data": data, "tag": tags}));
}

/// parse.py's `_safe_attachment_filename`.
fn safe_attachment_filename(raw: &str) -> Option<String> {
    if raw.is_empty() || raw.contains('\0') {
        return None;
    }
    let normalised = raw.replace('\\', "/");
    let base = normalised.rsplit('/').next().unwrap_or("");
    let drive =
        base.len() >= 2 && base.as_bytes()[0].is_ascii_alphabetic() && base.as_bytes()[1] == b':';
    if base.is_empty() || base == "." || base == ".." || drive {
        return None;
    }
    Some(base.to_string())
}

/// parse.py's `_attachment_output_name`: the safe base name, or `attachment_<sha256 prefix>`.
pub fn attachment_output_name(raw: &str, sha256: &str) -> String {
    safe_attachment_filename(raw)
        .unwrap_or_else(|| format!("attachment_{}", sha256.get(..16).unwrap_or(sha256)))
}

fn list_or(header: &Map<String, Value>, key: &str, default: Value) -> Value {
    header.get(key).cloned().unwrap_or(default)
}

/// The `headers` object of the report.
fn headers(decoded: &Decoded) -> Value {
    let h = &decoded.header;
    let date = h
        .get("date")
        .and_then(|d| d.get(0))
        .cloned()
        .unwrap_or(json!(""));
    json!({
        "return-path": list_or(h, "return-path", json!("")),
        "delivered-to": list_or(h, "delivered-to", json!("")),
        "x-delivered-to": list_or(h, "x-delivered-to", json!("")),
        "from": list_or(h, "from", json!([])),
        "to": list_or(h, "to", json!([])),
        "cc": list_or(h, "cc", json!([])),
        "bcc": list_or(h, "bcc", json!([])),
        "reply-to": list_or(h, "reply-to", json!([])),
        "subject": list_or(h, "subject", json!("")),
        "date": date,
        "received": decoded.received,
    })
}

/// Runs the analysis on the bytes of a message.
pub fn analyse(raw: &[u8], options: &Options) -> Result<Analysis, Failure> {
    let root = mime::parse(raw);
    let mut decoded = eml::decode(&root);
    let (mut ip, mut domain, mut url, mut email, mut hash) =
        (vec![], vec![], vec![], vec![], vec![]);
    let (mut text_plain, mut text_html) = (vec![], vec![]);
    for mut body in std::mem::take(&mut decoded.bodies) {
        let content = body
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        match body.get("content_type").and_then(Value::as_str) {
            Some("text/plain") => {
                body.insert(
                    "beautified_text".into(),
                    json!(html::prettify_text(&content)),
                );
                for u in uri_ondata(&content) {
                    add_ioc(&mut url, &u, &["body:text/plain", "content-ioc"]);
                }
                for m in IP.find_iter(&content) {
                    add_ioc(&mut ip, m.as_str(), &["body:text/plain", "content-ioc"]);
                }
                for m in MAIL.find_iter(&content) {
                    add_ioc(&mut email, m.as_str(), &["body:text/plain", "content-ioc"]);
                }
                text_plain.push(Value::Object(body));
            }
            Some("text/html") => {
                for u in uri_ondata(&content) {
                    add_ioc(&mut url, &u, &["body:text/html", "content-ioc"]);
                }
                let visible = html::get_text(&content);
                for m in IP.find_iter(&visible) {
                    add_ioc(&mut ip, m.as_str(), &["body:text/html", "content-ioc"]);
                }
                for m in MAIL.find_iter(&visible) {
                    add_ioc(&mut email, m.as_str(), &["body:text/html", "content-ioc"]);
                }
                if options.visualisation {
                    // There is no wkhtmltoimage in the sandbox: imgkit's own error, as the
                    // original reports it when the program is missing.
                    return Err(Failure(format!(
                        "\nNo wkhtmltoimage executable found: \"{}\"\nIf this file exists please check that this process can read it.\nOtherwise please install wkhtmltopdf - http://wkhtmltopdf.org\n\n        ",
                        options.wkhtmltoimage
                    )));
                }
                text_html.push(Value::Object(body));
            }
            _ => {}
        }
    }
    let mut attachments = Vec::new();
    let mut files = Vec::new();
    for attachment in std::mem::take(&mut decoded.attachments) {
        let mut meta = attachment.meta;
        meta.insert("mime".into(), meta["mime_type"].clone());
        let sha256 = meta["hash"]["sha256"].as_str().unwrap_or("").to_string();
        let filename = meta["filename"].as_str().unwrap_or("").to_string();
        files.push((attachment_output_name(&filename, &sha256), attachment.data));
        let Some(content_type) = attachment.content_type else {
            return Err(Failure("'NoneType' object is not subscriptable".into()));
        };
        let tag = format!(
            "content-type:{}",
            content_type.split(';').next().unwrap_or("")
        );
        attachments.push(Value::Object(meta));
        hash.push(json!({"hash": sha256, "filename": filename, "tag": [tag]}));
    }
    for i in &decoded.received_ip {
        add_ioc(&mut ip, i, &["header:Received", "mail-relay"]);
    }
    for d in &decoded.received_domain {
        add_ioc(&mut domain, d, &["header:Received", "mail-relay"]);
    }
    for a in &decoded.cc {
        add_ioc(&mut email, a, &["header:Cc", "envelope"]);
    }
    for a in &decoded.delivered_to {
        add_ioc(&mut email, a, &["header:To", "envelope"]);
    }
    for a in &decoded.received_foremail {
        add_ioc(&mut email, a, &["header:Received_foremail", "envelope"]);
    }
    if let Some(from) = decoded.from.as_deref().filter(|f| !f.is_empty()) {
        add_ioc(&mut email, from, &["header:From", "envelope"]);
        if from.contains('@') {
            let d = from
                .rsplit('@')
                .next()
                .unwrap_or("")
                .trim()
                .trim_end_matches('>')
                .to_lowercase();
            if !d.is_empty() {
                add_ioc(&mut domain, &d, &["header:From", "sender-domain"]);
            }
        }
    }
    let reply_to: Vec<String> = decoded
        .header
        .get("reply-to")
        .and_then(Value::as_array)
        .map_or(vec![], |l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        });
    for value in reply_to {
        for m in MAIL.find_iter(&value) {
            add_ioc(&mut email, m.as_str(), &["header:Reply-To", "envelope"]);
            let d = m
                .as_str()
                .rsplit('@')
                .next()
                .unwrap_or("")
                .trim()
                .to_lowercase();
            if !d.is_empty() {
                add_ioc(&mut domain, &d, &["header:Reply-To", "reply-to-domain"]);
            }
        }
    }
    let full = json!({
        "raw_email": String::from_utf8_lossy(raw),
        "headers": headers(&decoded),
        "body": {"text_plain": text_plain, "text_html": text_html},
        "attachments": attachments,
        "iocs": {"ip": ip, "domain": domain, "url": url, "email": email, "hash": hash, "files": []},
    });
    Ok(Analysis { full, files })
}
