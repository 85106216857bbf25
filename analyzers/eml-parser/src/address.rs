//! Address lists (From, To, Cc, ...) parsed and rendered as CPython's `email.headerregistry` does.
//!
//! Python renders an address header as `Display Name <local@domain>` entries joined by `, `,
//! quoting a display name only when it holds one of `()<>@,:;."[]`, dropping comments and
//! decoding encoded words; groups render as `name: a, b;`.

use crate::pyheader::decode_unstructured;

/// One mailbox: display name (possibly empty), local part and domain (possibly empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    display: String,
    local: String,
    domain: String,
}

/// One entry of an address list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A single mailbox.
    Mailbox(Mailbox),
    /// A named group of mailboxes.
    Group(String, Vec<Mailbox>),
}

/// Characters that force a display name into quotes (`parser.SPECIALS`).
const SPECIALS: &[char] = &['(', ')', '<', '>', '@', ',', ':', ';', '.', '"', '[', ']'];

/// Splits `value` at top-level occurrences of `separators` (outside quotes, comments and angle
/// brackets); the separator found is returned with each piece.
fn split_top(value: &str, separators: &[char]) -> Vec<(String, Option<char>)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut escaped, mut depth, mut angle) = (false, false, 0usize, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
            current.push(c);
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => escaped = true,
            '"' if depth == 0 => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            '<' if !quoted && depth == 0 => angle = true,
            '>' if !quoted && depth == 0 => angle = false,
            _ if !quoted && depth == 0 && !angle && separators.contains(&c) => {
                out.push((std::mem::take(&mut current), Some(c)));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out.push((current, None));
    out
}

/// The words of a phrase (display name): quoted strings unquoted, comments dropped, encoded
/// words decoded, runs of blanks collapsed to one space.
fn phrase(text: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    let flush = |current: &mut String, words: &mut Vec<String>| {
        if !current.is_empty() {
            words.push(std::mem::take(current));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut quoted = String::new();
                while let Some(q) = chars.next() {
                    match q {
                        '\\' => quoted.extend(chars.next()),
                        '"' => break,
                        _ => quoted.push(q),
                    }
                }
                current.push_str(&decode_unstructured(&quoted));
            }
            '(' => {
                let mut depth = 1;
                for q in chars.by_ref() {
                    match q {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                flush(&mut current, &mut words);
            }
            ' ' | '\t' | '\r' | '\n' => flush(&mut current, &mut words),
            _ => current.push(c),
        }
    }
    flush(&mut current, &mut words);
    // Each word is decoded on its own: unlike unstructured text, a phrase keeps the blank
    // between two encoded words.
    words
        .iter()
        .map(|w| decode_unstructured(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Text without comments (nested parentheses outside quoted strings).
fn strip_comments(text: &str) -> String {
    let mut out = String::new();
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in text.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
                continue;
            }
            '"' if depth == 0 => quoted = !quoted,
            '(' if !quoted => {
                depth += 1;
                continue;
            }
            ')' if !quoted && depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    out.push(' ');
                }
                continue;
            }
            _ => {}
        }
        if depth == 0 {
            out.push(c);
        }
    }
    out
}

/// The local part of an addr-spec as Python keeps it: a quoted string unquoted.
fn local_part(text: &str) -> String {
    let text = text.trim();
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => text.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

/// An addr-spec: local part and domain; text after the domain is junk Python drops.
fn addr_spec(text: &str) -> (String, String) {
    let text = strip_comments(text);
    let text = text.trim();
    // A source route (`@relay:user@host`) is obsolete syntax; the address is after the colon.
    let text = match text.rfind(':') {
        Some(colon) if text.starts_with('@') => &text[colon + 1..],
        _ => text,
    };
    match text.rfind('@') {
        Some(at) => {
            let domain = text[at + 1..]
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string();
            (local_part(&text[..at]), domain)
        }
        None => (local_part(text), String::new()),
    }
}

/// One mailbox: `phrase <addr>` or a bare addr-spec.
fn mailbox(text: &str) -> Option<Mailbox> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return None;
    }
    if let (Some(open), Some(close)) = (trimmed.find('<'), trimmed.rfind('>'))
        && open < close
    {
        let (local, domain) = addr_spec(&trimmed[open + 1..close]);
        return Some(Mailbox {
            display: phrase(&trimmed[..open]),
            local,
            domain,
        });
    }
    let bare = strip_comments(trimmed);
    let first = match bare.find('@') {
        // Only the first addr-spec counts: `a@x.y b@x.y` is `a@x.y` and junk.
        Some(at) => {
            let end = bare[at..]
                .find(char::is_whitespace)
                .map_or(bare.len(), |e| at + e);
            bare[..end].to_string()
        }
        None => bare,
    };
    let (local, domain) = addr_spec(&first);
    Some(Mailbox {
        display: String::new(),
        local,
        domain,
    })
}

/// Parses an (unfolded) address-list value. As in Python, a `;` that closes no group ends the
/// mailbox before it, and what follows up to the next comma is dropped.
pub fn parse_list(value: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut group: Option<(String, Vec<Mailbox>)> = None;
    let mut skipping = false;
    for (piece, separator) in split_top(value, &[',', ':', ';']) {
        if skipping {
            skipping = separator != Some(',');
            continue;
        }
        match separator {
            Some(':') if group.is_none() => group = Some((phrase(&piece), Vec::new())),
            Some(';') => match group.take() {
                Some((name, mut members)) => {
                    members.extend(mailbox(&piece));
                    entries.push(Entry::Group(name, members));
                }
                None => {
                    entries.extend(mailbox(&piece).map(Entry::Mailbox));
                    skipping = true;
                }
            },
            _ => match group.as_mut() {
                Some((_, members)) => members.extend(mailbox(&piece)),
                None => entries.extend(mailbox(&piece).map(Entry::Mailbox)),
            },
        }
    }
    if let Some((name, members)) = group {
        entries.push(Entry::Group(name, members));
    }
    entries
}

/// Quotes a display name when it holds a special character.
fn quote_display(display: &str) -> String {
    if display.contains(SPECIALS) {
        format!("\"{}\"", display.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        display.to_string()
    }
}

/// Characters that force a local part into quotes (`parser.DOT_ATOM_ENDS`).
const DOT_ATOM_ENDS: &[char] = &[
    '(', ')', '<', '>', '@', ',', ':', ';', '"', '[', ']', '\\', ' ', '\t',
];

/// `Address.addr_spec`: the local part quoted when needed, `@domain`, or `<>` when empty.
fn render_addr_spec(mailbox: &Mailbox) -> String {
    let local = if mailbox.local.contains(DOT_ATOM_ENDS) {
        format!(
            "\"{}\"",
            mailbox.local.replace('\\', "\\\\").replace('"', "\\\"")
        )
    } else {
        mailbox.local.clone()
    };
    match (mailbox.domain.is_empty(), local.is_empty()) {
        (false, _) => format!("{local}@{}", mailbox.domain),
        (true, true) => "<>".to_string(),
        (true, false) => local,
    }
}

/// `str(Address)`: `Display <addr>` or the bare addr-spec.
fn render_mailbox(mailbox: &Mailbox) -> String {
    let spec = render_addr_spec(mailbox);
    if mailbox.display.is_empty() {
        spec
    } else {
        format!(
            "{} <{}>",
            quote_display(&mailbox.display),
            if spec == "<>" { "" } else { &spec }
        )
    }
}

/// `str()` of an address header.
pub fn render_list(value: &str) -> String {
    parse_list(value)
        .iter()
        .map(|entry| match entry {
            Entry::Mailbox(mailbox) => render_mailbox(mailbox),
            Entry::Group(name, members) => {
                let list: Vec<String> = members.iter().map(render_mailbox).collect();
                let list = if list.is_empty() {
                    String::new()
                } else {
                    format!(" {}", list.join(", "))
                };
                format!("{}:{};", quote_display(name), list)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The addresses of an address header, lower-cased, as `email.utils.getaddresses` lists them
/// for eml_parser (empty ones skipped).
pub fn addresses(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    for entry in parse_list(value) {
        match entry {
            Entry::Mailbox(mailbox) => out.push(mailbox),
            Entry::Group(_, members) => out.extend(members),
        }
    }
    out.into_iter()
        .map(|m| {
            if m.domain.is_empty() {
                m.local
            } else {
                format!("{}@{}", m.local, m.domain)
            }
        })
        .filter(|a| !a.is_empty())
        .map(|a| a.to_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_python() {
        assert_eq!(
            render_list("\"Microsoft 365 Security\" <no-reply@microsoft.com>"),
            "Microsoft 365 Security <no-reply@microsoft.com>"
        );
        assert_eq!(
            render_list("dave@example.org, \"Eve, Finance\" <eve@example.org>"),
            "dave@example.org, \"Eve, Finance\" <eve@example.org>"
        );
        assert_eq!(
            render_list("undisclosed-recipients:;"),
            "undisclosed-recipients:;"
        );
        assert_eq!(render_list("a@b.c (Comment Name)"), "a@b.c");
        assert_eq!(
            render_list("=?UTF-8?Q?Ren=C3=A9e_M=C3=BCller?= <renee@example.de>"),
            "Ren\u{e9}e M\u{fc}ller <renee@example.de>"
        );
        assert_eq!(addresses("A <X@Y.z>, b@c.d"), vec!["x@y.z", "b@c.d"]);
        assert_eq!(
            render_list("Name <a@x.y>; Other <b@x.y>, c@x.y"),
            "Name <a@x.y>, c@x.y"
        );
        assert_eq!(render_list("a@x.y b@x.y"), "a@x.y");
        assert_eq!(render_list("John Smith"), "\"John Smith\"");
        assert_eq!(render_list("x; a@x.y"), "x");
        assert_eq!(render_list("\"q\" junk <a@x.y>"), "q junk <a@x.y>");
    }
}
