//! The `full` report of EmlParser (the original's `parseEml`): raw message, selected headers,
//! text and HTML bodies, attachments, and the indicators with their context tags.

use crate::charclass::{char_at, is_digit, next_candidate, word_boundary};
use crate::eml::{self, Decoded};
use crate::html;
use crate::mime;
use crate::urls::uri_ondata;
use serde_json::{Map, Value, json};

/// The analyzer's own IPv4 pattern (`IP_REGEX` in parse.py), which [`ips`] matches.
#[cfg(test)]
const IP: &str = r"\b(?:(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\b";
/// The analyzer's own address pattern (`EMAIL_REGEX` in parse.py), which [`mails`] matches.
#[cfg(test)]
const MAIL: &str = r"\b[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}\b";

/// Where an octet of `IP` starting at byte `i` can end, in the order the pattern tries them
/// (`25[0-5]`, `2[0-4]\d`, `[01]?\d\d?` with each optional part first taken, then not; `\d`
/// is any decimal digit).
fn octet_ends(text: &str, i: usize) -> Vec<usize> {
    let digit_after = |j: usize| {
        char_at(text, j)
            .filter(|c| is_digit(*c))
            .map(|c| j + c.len_utf8())
    };
    let bytes = text.as_bytes();
    let mut ends = Vec::with_capacity(6);
    if i == bytes.len() {
        return ends;
    }
    if bytes[i..].starts_with(b"25") && bytes.get(i + 2).is_some_and(|b| (b'0'..=b'5').contains(b))
    {
        ends.push(i + 3);
    }
    if bytes[i] == b'2'
        && bytes.get(i + 1).is_some_and(|b| (b'0'..=b'4').contains(b))
        && let Some(end) = digit_after(i + 2)
    {
        ends.push(end);
    }
    let optional = matches!(bytes[i], b'0' | b'1').then_some(i + 1);
    for start in optional.into_iter().chain([i]) {
        if let Some(first) = digit_after(start) {
            ends.extend(digit_after(first));
            ends.push(first);
        }
    }
    ends
}

/// `IP` at byte `start`: the end of the first way through, in the pattern's order.
fn ip_at(text: &str, start: usize) -> Option<usize> {
    fn octets(text: &str, i: usize, left: usize) -> Option<usize> {
        octet_ends(text, i).into_iter().find_map(|end| {
            if left == 1 {
                word_boundary(text, end).then_some(end)
            } else if text[end..].starts_with('.') {
                octets(text, end + 1, left - 1)
            } else {
                None
            }
        })
    }
    if !word_boundary(text, start) {
        return None;
    }
    octets(text, start, 4)
}

/// `IP_REGEX.findall`: the leftmost-first, non-overlapping matches of `IP`.
fn ips(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut next = next_candidate(text, 0, |b| b.is_ascii_digit());
    while let Some(p) = next {
        let Some(c) = char_at(text, p) else {
            break;
        };
        let resume = match is_digit(c).then(|| ip_at(text, p)).flatten() {
            Some(end) => {
                out.push(&text[p..end]);
                end
            }
            None => p + c.len_utf8(),
        };
        next = next_candidate(text, resume, |b| b.is_ascii_digit());
    }
    out
}

/// The local-part characters of `MAIL`.
fn mail_local_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"._%+-".contains(&c)
}

/// The domain characters of `MAIL`.
fn mail_domain_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b".-".contains(&c)
}

/// `MAIL`'s domain after the `@` at byte `at`: the greedy domain run gives back characters
/// until a dot is followed by two or more letters that end at a word boundary.
fn mail_domain_end(text: &str, at: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let run_end = at
        + 1
        + bytes[at + 1..]
            .iter()
            .take_while(|b| mail_domain_char(**b))
            .count();
    (at + 2..run_end).rev().find_map(|dot| {
        if bytes[dot] != b'.' {
            return None;
        }
        let letters = bytes[dot + 1..run_end]
            .iter()
            .take_while(|b| b.is_ascii_alphabetic())
            .count();
        let end = dot + 1 + letters;
        (letters >= 2 && word_boundary(text, end)).then_some(end)
    })
}

/// `EMAIL_REGEX.findall`: the leftmost-first, non-overlapping matches of `MAIL`. Every start
/// in a run of local-part characters reaches the same `@`, so the match starts at the first
/// word boundary of the run.
fn mails(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !mail_local_char(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && mail_local_char(bytes[i]) {
            i += 1;
        }
        if bytes.get(i) != Some(&b'@') {
            continue;
        }
        let Some(end) = mail_domain_end(text, i) else {
            continue;
        };
        if let Some(first) = (start..i).find(|p| word_boundary(text, *p)) {
            out.push(&text[first..end]);
            i = end;
        }
    }
    out
}

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
                for m in ips(&content) {
                    add_ioc(&mut ip, m, &["body:text/plain", "content-ioc"]);
                }
                for m in mails(&content) {
                    add_ioc(&mut email, m, &["body:text/plain", "content-ioc"]);
                }
                text_plain.push(Value::Object(body));
            }
            Some("text/html") => {
                for u in uri_ondata(&content) {
                    add_ioc(&mut url, &u, &["body:text/html", "content-ioc"]);
                }
                let visible = html::get_text(&content);
                for m in ips(&visible) {
                    add_ioc(&mut ip, m, &["body:text/html", "content-ioc"]);
                }
                for m in mails(&visible) {
                    add_ioc(&mut email, m, &["body:text/html", "content-ioc"]);
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
        for m in mails(&value) {
            add_ioc(&mut email, m, &["header:Reply-To", "envelope"]);
            let d = m.rsplit('@').next().unwrap_or("").trim().to_lowercase();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charclass::check::{Rng, UNICODE_PIECES, corpus_texts};
    use regex::Regex;

    #[test]
    fn scanners_match_the_patterns() {
        let (ip, mail) = (Regex::new(IP).expect("ip"), Regex::new(MAIL).expect("mail"));
        let ip_pieces: Vec<&str> = [
            "25",
            "255",
            "256",
            "2",
            "24",
            "0",
            "1",
            "01",
            "199",
            "249",
            "250",
            "9",
            "1.2.3.4",
            ".",
            ".",
            ".",
            "\u{661}",
            "\u{663}\u{665}",
            "\u{967}",
            "a",
            "_",
            " ",
            "x",
            ",",
        ]
        .into_iter()
        .chain(UNICODE_PIECES.iter().copied())
        .collect();
        let mail_pieces: Vec<&str> = [
            "a",
            "bc",
            "x.y",
            "@",
            "@",
            "@",
            ".",
            ".",
            "com",
            "de",
            "q",
            "-",
            "%",
            "+",
            "_",
            "1",
            " ",
            "..",
            ".c",
            "Z",
            "2",
            "\u{E9}",
            "\u{17F}",
            "\u{212A}",
            "\u{300}",
            "a@b.co",
            "x@y",
            "@ex.org",
            "user@",
            "j.doe@mail.example.com",
            ".com",
            "\u{660}",
            "\u{3000}",
        ]
        .into_iter()
        .collect();
        let mut rng = Rng::new(17);
        let (mut ip_found, mut mail_found) = (0, 0);
        for text in corpus_texts() {
            let expected: Vec<&str> = ip.find_iter(&text).map(|m| m.as_str()).collect();
            assert_eq!(ips(&text), expected, "ip in a corpus message");
            let expected: Vec<&str> = mail.find_iter(&text).map(|m| m.as_str()).collect();
            assert_eq!(mails(&text), expected, "mail in a corpus message");
        }
        for _ in 0..40_000 {
            let text = rng.text(&ip_pieces, 14);
            let expected: Vec<&str> = ip.find_iter(&text).map(|m| m.as_str()).collect();
            ip_found += usize::from(!expected.is_empty());
            assert_eq!(ips(&text), expected, "ip {text:?}");
            let text = rng.text(&mail_pieces, 14);
            let expected: Vec<&str> = mail.find_iter(&text).map(|m| m.as_str()).collect();
            mail_found += usize::from(!expected.is_empty());
            assert_eq!(mails(&text), expected, "mail {text:?}");
        }
        assert!(
            ip_found > 1_000 && mail_found > 1_000,
            "{ip_found} {mail_found}"
        );
    }
}
