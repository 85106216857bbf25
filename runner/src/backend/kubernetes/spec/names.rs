//! Names and label values the API server accepts, derived from job folders and worker ids.
//!
//! A Job's name becomes a label value (the controller's `job-name`), so it is held to the
//! stricter of the two rules: an RFC 1123 label (at most 63 characters of `[a-z0-9-]`, starting
//! and ending alphanumeric). Label values may also hold upper case, `_` and `.`.

use sha2::{Digest, Sha256};

/// The longest Kubernetes label value and RFC 1123 label.
pub const MAX_LABEL: usize = 63;

/// How many hex digits of sha256 make a name unique (48 bits: a collision among a million live
/// folders has odds of about one in 500).
const HASH_DIGITS: usize = 12;

/// The first `digits` hex digits of the sha256 of `text`.
fn short_hash(text: &str, digits: usize) -> String {
    let mut hex = hex::encode(Sha256::digest(text.as_bytes()));
    hex.truncate(digits);
    hex
}

/// The Job name for a job folder (relative to `jobs.root`): a readable prefix from the
/// folder's last component, lower-cased, each run of other characters made one `-`, then `-` and
/// the first 12 hex digits of the sha256 of the whole relative folder. The same folder always
/// gives the same name (a second submission meets `AlreadyExists`), and folders that read the
/// same once sanitised (`A.b`, `a-b`) still differ by their hash.
pub fn job_name(folder_rel: &str) -> String {
    let last = folder_rel
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let mut prefix = String::with_capacity(last.len());
    for c in last.chars() {
        if c.is_ascii_alphanumeric() {
            prefix.push(c.to_ascii_lowercase());
        } else if !prefix.ends_with('-') {
            prefix.push('-');
        }
    }
    let hash = short_hash(folder_rel, HASH_DIGITS);
    // The prefix, the `-` before the hash, the hash.
    let room = MAX_LABEL - 1 - HASH_DIGITS;
    prefix.truncate(room);
    let prefix = prefix.trim_matches('-');
    if prefix.is_empty() {
        format!("job-{hash}")
    } else {
        format!("{prefix}-{hash}")
    }
}

/// Whether `name` is an RFC 1123 label (what a Job name must be here).
pub fn is_rfc1123_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_LABEL
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Whether `value` is a valid label value: empty, or at most 63 characters of letters, digits,
/// `-`, `_`, `.`, starting and ending with a letter or digit.
pub fn is_label_value(value: &str) -> bool {
    value.is_empty()
        || (value.len() <= MAX_LABEL
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

/// Whether `key` is a valid label key: an optional DNS-subdomain prefix and `/`, then a name as
/// for [`is_label_value`] but not empty.
pub fn is_label_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let prefix_ok = prefix
        .is_none_or(|p| !p.is_empty() && p.len() <= 253 && p.split('.').all(is_rfc1123_label));
    prefix_ok && !name.is_empty() && is_label_value(name)
}

/// `value` as a label value: itself when it is one; otherwise each run of characters a label
/// value cannot hold becomes `-`, the ends are trimmed to letters or digits, and `-` plus the
/// first 8 hex digits of the sha256 of the original follows (so two values that sanitise alike
/// keep different labels), all within 63 characters.
pub fn label_value(value: &str) -> String {
    if is_label_value(value) {
        return value.to_string();
    }
    let mut clean = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '.') {
            clean.push(c);
        } else if !clean.ends_with('-') {
            clean.push('-');
        }
    }
    let hash = short_hash(value, 8);
    clean.truncate(MAX_LABEL - 1 - hash.len());
    let clean = clean.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if clean.is_empty() {
        hash
    } else {
        format!("{clean}-{hash}")
    }
}

/// The Cortex job id in a folder named as Cortex names it, `cortex-job-<id>-<random digits>`
/// (the last component of `folder_rel`); `None` for any other name.
pub fn cortex_job_id(folder_rel: &str) -> Option<&str> {
    let last = folder_rel.trim_end_matches('/').rsplit('/').next()?;
    let (id, random) = last.strip_prefix("cortex-job-")?.rsplit_once('-')?;
    (!id.is_empty() && !random.is_empty() && random.bytes().all(|b| b.is_ascii_digit()))
        .then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cortex_folder_keeps_its_name_readable_and_stable() {
        let rel = "cortex-job-AZQx-1b_k-8351972519274712345";
        let name = job_name(rel);
        assert_eq!(
            name,
            format!(
                "cortex-job-azqx-1b-k-8351972519274712345-{}",
                short_hash(rel, 12)
            )
        );
        assert!(is_rfc1123_label(&name), "{name}");
        assert_eq!(job_name(rel), name, "the same folder gives the same name");
        assert_eq!(name.len(), 40 + 1 + 12);
    }

    #[test]
    fn long_unicode_upper_case_and_dotted_folders_give_valid_names() {
        for rel in [
            "x".repeat(300).as_str(),
            "Ünïcødé-Ordner-名前",
            "名前",
            "UPPER.case.Folder",
            "...---...",
            "a/b/c/cortex-job-ID-1",
            "trailing/",
            "",
            "-",
            "9",
        ] {
            let name = job_name(rel);
            assert!(is_rfc1123_label(&name), "{rel:?} gave {name:?}");
            assert!(name.len() <= MAX_LABEL, "{rel:?} gave {name:?}");
        }
        assert_eq!(job_name(&"x".repeat(300)).len(), 63);
        assert_eq!(
            job_name("名前"),
            format!("job-{}", short_hash("名前", 12)),
            "no readable prefix: the hash alone, after `job-`"
        );
        assert!(job_name("Ünïcødé-Ordner-名前").starts_with("n-c-d-ordner-"));
        assert!(job_name("UPPER.case.Folder").starts_with("upper-case-folder-"));
    }

    #[test]
    fn folders_that_sanitise_alike_still_get_different_names() {
        let names: std::collections::BTreeSet<String> = [
            "A.b", "a-b", "a_b", "a b", "A-B", "x/a-b", "y/a-b", "a-b/", "a--b",
        ]
        .iter()
        .map(|rel| job_name(rel))
        .collect();
        assert_eq!(names.len(), 9, "{names:?}");
        // Long folders with a common 50-character prefix differ by their hash too.
        let long = "p".repeat(80);
        assert_ne!(job_name(&format!("{long}1")), job_name(&format!("{long}2")));
    }

    #[test]
    fn label_values_are_kept_when_valid_and_sanitised_with_a_hash_otherwise() {
        assert_eq!(label_value("FileInfo_8_0"), "FileInfo_8_0");
        assert_eq!(label_value("AZQx-1b_k"), "AZQx-1b_k");
        assert_eq!(label_value(""), "");
        let h = |s: &str| short_hash(s, 8);
        assert_eq!(label_value("Foo Bar"), format!("Foo-Bar-{}", h("Foo Bar")));
        assert_eq!(label_value("-x-"), format!("x-{}", h("-x-")));
        assert_eq!(label_value("名前"), h("名前"));
        assert_eq!(label_value("Ünï_8_0"), format!("n-_8_0-{}", h("Ünï_8_0")));
        let long = "W".repeat(70);
        let v = label_value(&long);
        assert_eq!(v, format!("{}-{}", "W".repeat(54), h(&long)));
        assert_eq!(v.len(), 63);
        for s in [
            "a b",
            "_a_",
            "x".repeat(64).as_str(),
            "a/b",
            "é",
            ".",
            "a..b!",
        ] {
            assert!(is_label_value(&label_value(s)), "{s:?}");
        }
    }

    #[test]
    fn label_checks_follow_the_api_server() {
        assert!(is_label_value("a.b_c-D9"));
        assert!(!is_label_value("-a"));
        assert!(!is_label_value("a_"));
        assert!(!is_label_value(&"a".repeat(64)));
        assert!(is_label_key("app.kubernetes.io/managed-by"));
        assert!(is_label_key("team"));
        assert!(!is_label_key("Example.com/x"), "upper case in the prefix");
        assert!(!is_label_key("/x"));
        assert!(!is_label_key("x/"));
        assert!(!is_label_key("a b"));
    }

    #[test]
    fn the_cortex_job_id_comes_from_cortex_folder_names_only() {
        assert_eq!(
            cortex_job_id("cortex-job-AZQx-1b_k-8351972519274712345"),
            Some("AZQx-1b_k")
        );
        assert_eq!(cortex_job_id("sub/cortex-job-abc-12"), Some("abc"));
        assert_eq!(cortex_job_id("cortex-job-abc-x12"), None);
        assert_eq!(cortex_job_id("cortex-job--12"), None);
        assert_eq!(cortex_job_id("job-abc-12"), None);
        assert_eq!(cortex_job_id("cortex-job-abc-"), None);
    }
}
