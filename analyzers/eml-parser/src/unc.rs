//! Remote file shares in a body (eml_parser's `unc_regex` and `get_share_host`): UNC paths
//! (`\\host\share\path`, WebDAV `\\host@SSL\...`, `\\?\UNC\host\share`) and `file://` /
//! `smb://` URLs. Opening one makes the client contact the host (and leak an NTLM hash), so the
//! host is an indicator.

use crate::patterns::{obfuscated_ip, valid_domain_or_ip};
use regex::Regex;
use std::sync::LazyLock;

/// `unc_regex` without its look-behind, which [`shares`] checks by hand.
static SHARE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)\\{2}(?:\?\\UNC\\)?(?P<unc_host>[a-z0-9-]+(?:\.[a-z0-9-]+)*(?:@(?:ssl|\d{1,5}))?)\\[^\s\\/:*?"<>|]+(?:\\[^\s"'<>|)\]]*)?|(?:file://|file:////|smb://)(?P<url_host>[a-z0-9-]+(?:\.[a-z0-9-]+)*(?:@(?:ssl|\d{1,5}))?)(?:/[^\s"'<>)\]]*)?"#,
    )
    .expect("share pattern")
});

/// True when a UNC path may start after `prev`: not after a backslash, word character, colon or
/// dot (an escaped path such as `C:\\Users` is no share).
fn unc_may_follow(prev: Option<char>) -> bool {
    !prev.is_some_and(|c| c == '\\' || c == ':' || c == '.' || c.is_alphanumeric() || c == '_')
}

/// The shares in `text`, in order, with trailing `.`, `,` and `;` removed.
pub fn shares(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(found) = SHARE.find_at(text, at) {
        let is_unc = found.as_str().starts_with('\\');
        let prev = text[..found.start()].chars().next_back();
        if is_unc && !unc_may_follow(prev) {
            // The look-behind failed here; the search goes on one character further.
            at = found.start()
                + text[found.start()..]
                    .chars()
                    .next()
                    .map_or(1, char::len_utf8);
            continue;
        }
        out.push(found.as_str().trim_end_matches(['.', ',', ';']).to_string());
        at = found.end().max(found.start() + 1);
    }
    out
}

/// `get_share_host`: the host of a share if it is a domain or an IP address.
pub fn share_host(share: &str) -> Option<String> {
    let caps = SHARE
        .captures(share)
        .filter(|c| c.get(0).is_some_and(|m| m.start() == 0))?;
    let host = caps
        .name("unc_host")
        .or_else(|| caps.name("url_host"))?
        .as_str();
    let mut host = host.split('@').next().unwrap_or(host).to_lowercase();
    if let Some(encoded) = host.strip_suffix(".ipv6-literal.net") {
        host = encoded.replace('-', ":");
    }
    if host.contains('.') || host.contains(':') {
        valid_domain_or_ip(&host)
    } else {
        obfuscated_ip(&host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_shares_like_eml_parser() {
        let text =
            r"open \\files.evil.example\public\doc.lnk, or file://10.0.0.5/x and C:\\Users\\Bob.";
        assert_eq!(
            shares(text),
            vec![r"\\files.evil.example\public\doc.lnk", "file://10.0.0.5/x"]
        );
        assert_eq!(
            share_host(r"\\files.evil.example@SSL\DavWWWRoot\x").as_deref(),
            Some("files.evil.example")
        );
        assert_eq!(
            share_host("smb://3232235777/s").as_deref(),
            Some("192.168.1.1")
        );
        assert_eq!(share_host(r"\\fileserver\share"), None);
    }
}
