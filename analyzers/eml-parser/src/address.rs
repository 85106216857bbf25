//! Address lists (From, To, Cc, ...) parsed and rendered as CPython's `email.headerregistry` does.
//!
//! Python renders an address header as `Display Name <local@domain>` entries joined by `, `,
//! quoting a display name only when it holds one of `()<>@,:;."[]`, dropping comments and
//! decoding encoded words; groups render as `name: a, b;`.

use crate::pyheader::decode_unstructured;

/// One entry of an address list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A single mailbox: display name (possibly empty) and addr-spec.
    Mailbox(String, String),
    /// A named group of mailboxes.
    Group(String, Vec<(String, String)>),
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
    decode_unstructured(&words.join(" "))
}

/// The addr-spec of a mailbox without blanks and comments.
fn addr_spec(text: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            ' ' | '\t' if !quoted => {}
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    // A source route (`<@relay:user@host>`) is obsolete syntax; the address is after the colon.
    match out.rfind(':') {
        Some(colon) if out.starts_with('@') => out[colon + 1..].to_string(),
        _ => out,
    }
}

/// One mailbox: `phrase <addr>` or a bare addr-spec.
fn mailbox(text: &str) -> Option<(String, String)> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return None;
    }
    if let (Some(open), Some(close)) = (trimmed.find('<'), trimmed.rfind('>'))
        && open < close
    {
        return Some((
            phrase(&trimmed[..open]),
            addr_spec(&trimmed[open + 1..close]),
        ));
    }
    Some((String::new(), addr_spec(trimmed)))
}

/// Parses an (unfolded) address-list value.
pub fn parse_list(value: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut group: Option<(String, Vec<(String, String)>)> = None;
    for (piece, separator) in split_top(value, &[',', ':', ';']) {
        match separator {
            Some(':') if group.is_none() => group = Some((phrase(&piece), Vec::new())),
            Some(';') => {
                if let Some((name, mut members)) = group.take() {
                    members.extend(mailbox(&piece));
                    entries.push(Entry::Group(name, members));
                } else {
                    entries.extend(mailbox(&piece).map(|(d, a)| Entry::Mailbox(d, a)));
                }
            }
            _ => match group.as_mut() {
                Some((_, members)) => members.extend(mailbox(&piece)),
                None => entries.extend(mailbox(&piece).map(|(d, a)| Entry::Mailbox(d, a))),
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

/// `str(Address)`: `Display <addr>` or the bare addr-spec.
fn render_mailbox(display: &str, addr: &str) -> String {
    if display.is_empty() {
        addr.to_string()
    } else {
        format!("{} <{}>", quote_display(display), addr)
    }
}

/// `str()` of an address header.
pub fn render_list(value: &str) -> String {
    parse_list(value)
        .iter()
        .map(|entry| match entry {
            Entry::Mailbox(display, addr) => render_mailbox(display, addr),
            Entry::Group(name, members) => {
                let list: Vec<String> = members.iter().map(|(d, a)| render_mailbox(d, a)).collect();
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

/// The addr-specs of an address header, lower-cased, as `email.utils.getaddresses` lists them
/// for eml_parser (empty ones skipped).
pub fn addresses(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    for entry in parse_list(value) {
        match entry {
            Entry::Mailbox(_, addr) => out.push(addr),
            Entry::Group(_, members) => out.extend(members.into_iter().map(|(_, a)| a)),
        }
    }
    out.into_iter()
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
    }
}
