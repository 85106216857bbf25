//! Differential test of the extractor: 50,000 generated strings, built from the pieces
//! the patterns care about (digits, hex, `:`, `.`, `%`, `/`, `@`, `\`, newlines, hive names,
//! user-agent prefixes, Unicode letters, digits, marks and joiners), classified by cortexutils
//! 2.2.1's `Extractor.check_string` and by the SDK's `check_str`; every type must agree. The
//! seed is fixed, so a failure is reproducible, and the failing strings are printed.

#[path = "parity/oracle.rs"]
mod oracle;

use cortex_sdk::check_str;
use cortex_sdk::serde_json::{self, Value};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Characters and fragments strings are assembled from.
const PIECES: &[&str] = &[
    "0",
    "1",
    "2",
    "5",
    "9",
    "25",
    "255",
    "256",
    "999",
    "1234",
    "a",
    "f",
    "F",
    "e",
    "g",
    "z",
    "Z",
    "ff",
    "fe80",
    "ffff",
    "dead",
    "beef",
    "abcd",
    ":",
    "::",
    ".",
    "..",
    "%",
    "eth0",
    "/",
    "//",
    "://",
    "@",
    "\\",
    "-",
    "_",
    " ",
    "\n",
    "\t",
    "http",
    "https",
    "HTTP",
    "smb",
    "ftp",
    "file",
    "com",
    "org",
    "example",
    "www",
    "HKEY",
    "HKLM",
    "HKCU",
    "HKCR",
    "HKCC",
    "_LOCAL_MACHINE",
    "_CURRENT_USER",
    "_CURRENT_CONFIG",
    "_CLASSES_ROOT",
    "Software",
    "Mozilla/5.0 ",
    "Mozilla/4.0 ",
    "AppleWebKit/537.36 ",
    "Chrome/12.0.1234.567 ",
    "Safari/537.36 ",
    "é",
    "e\u{301}",
    "²",
    "Ⅻ",
    "‿",
    "\u{200d}",
    "例",
    "١",
    "ा",
    "ǅ",
    "ʰ",
    "𝒳",
    "😀",
    "\u{a0}",
    "ß",
    "İ",
    "+",
    "[",
    "]",
];

/// A hex string of `len` characters.
fn hex(rng: &mut StdRng, len: usize) -> String {
    (0..len)
        .map(|_| char::from(b"0123456789abcdefABCDEF"[rng.random_range(0..22)]))
        .collect()
}

/// One generated string: a structured shape (dotted quad, colon groups, hash-length hex) or a
/// random concatenation of pieces, with an optional random suffix.
fn generate(rng: &mut StdRng) -> String {
    let mut s = match rng.random_range(0..6) {
        0 => {
            let parts = rng.random_range(2..6);
            (0..parts)
                .map(|_| rng.random_range(0..1200).to_string())
                .collect::<Vec<_>>()
                .join(".")
        }
        1 => {
            let groups = rng.random_range(1..10);
            let mut s: String = (0..groups)
                .map(|_| {
                    let len = rng.random_range(0..6);
                    hex(rng, len)
                })
                .collect::<Vec<_>>()
                .join(":");
            if rng.random_range(0..3) == 0 {
                let len = rng.random_range(0..3);
                s.push_str(&format!("%{}", hex(rng, len)));
            }
            if rng.random_range(0..3) == 0 {
                s.push_str(&format!(
                    ":{}.{}.{}.{}",
                    rng.random_range(0..300),
                    2,
                    3,
                    rng.random_range(0..300)
                ));
            }
            s
        }
        2 => {
            let len = [31, 32, 33, 39, 40, 41, 63, 64, 65][rng.random_range(0..9)];
            hex(rng, len)
        }
        3 => {
            // Dotted names, sometimes behind a scheme: domains, fqdns, urls, uri paths.
            let labels = [
                "www",
                "example",
                "com",
                "org",
                "例子",
                "e\u{301}x",
                "a-b",
                "x_y",
                "1",
                "ab1",
                "",
                "²",
            ];
            let schemes = [
                "", "", "", "http://", "https://", "smb://", "Http://", "user@",
            ];
            let n = rng.random_range(1..5);
            let name: Vec<&str> = (0..n)
                .map(|_| labels[rng.random_range(0..labels.len())])
                .collect();
            format!(
                "{}{}",
                schemes[rng.random_range(0..schemes.len())],
                name.join(".")
            )
        }
        _ => {
            let n = rng.random_range(1..8);
            (0..n)
                .map(|_| PIECES[rng.random_range(0..PIECES.len())])
                .collect()
        }
    };
    if rng.random_range(0..3) == 0 {
        s.push_str(PIECES[rng.random_range(0..PIECES.len())]);
    }
    s
}

#[test]
fn extractor_types_match_cortexutils_on_generated_strings() {
    let mut rng = StdRng::seed_from_u64(0x00c0_47e8);
    // `CORTEX_SDK_PARITY_STRINGS` raises the count for a longer local run.
    let count = std::env::var("CORTEX_SDK_PARITY_STRINGS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50_000);
    let strings: Vec<String> = (0..count).map(|_| generate(&mut rng)).collect();
    let python = oracle::oracle(&["types"], &serde_json::to_string(&strings).expect("JSON"));
    let python = python.as_array().expect("a list of types");
    assert_eq!(python.len(), strings.len());
    let mut seen_types = std::collections::BTreeSet::new();
    let mut differences = Vec::new();
    for (s, py) in strings.iter().zip(python) {
        let rust = check_str(s);
        seen_types.insert(rust);
        if Value::String(rust.to_owned()) != *py {
            differences.push(format!("{s:?}: cortexutils {py}, sdk {rust:?}"));
        }
    }
    assert!(
        differences.is_empty(),
        "{} strings differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
    // The generator must reach every type, or the comparison says little.
    let expected = [
        "",
        "domain",
        "fqdn",
        "hash",
        "ip",
        "mail",
        "registry",
        "uri_path",
        "url",
        "user-agent",
    ];
    assert_eq!(seen_types.into_iter().collect::<Vec<_>>(), expected);
}
