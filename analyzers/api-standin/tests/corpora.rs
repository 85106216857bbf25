//! The network analyzers' corpora (`analyzers/{abuseipdb,urlhaus,greynoise}/tests/corpus`) keep
//! the placeholder convention: every input reaches the stand-in through
//! `config.proxy.https = "http://127.0.0.1:STANDIN_PORT"` with `config.cacerts = "STANDIN_CA_PEM"`,
//! every case has its golden, and no golden holds a run's port or CA.

use std::fs;
use std::path::Path;

use api_standin::placeholders::{CA_PEM, PORT};
use serde_json::Value;

const PORTS: [&str; 3] = ["abuseipdb", "urlhaus", "greynoise"];

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn inputs_use_the_placeholders_and_goldens_hold_no_run_values() {
    let analyzers = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    for port in PORTS {
        let corpus = analyzers.join(port).join("tests").join("corpus");
        let mut entries: Vec<_> = fs::read_dir(&corpus)
            .unwrap_or_else(|e| panic!("{}: {e}", corpus.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        entries.sort();
        assert!(
            entries.len() >= 15,
            "{}: {} cases",
            corpus.display(),
            entries.len()
        );
        for case in entries {
            let input = read_json(&case.join("input.json"));
            assert_eq!(
                input["config"]["proxy"]["https"],
                format!("http://127.0.0.1:{PORT}"),
                "{}",
                case.display()
            );
            assert_eq!(input["config"]["cacerts"], CA_PEM, "{}", case.display());
            let golden = fs::read_to_string(case.join("expected.json"))
                .unwrap_or_else(|e| panic!("{}: {e}", case.display()));
            assert!(
                !golden.contains("BEGIN CERTIFICATE"),
                "{}: a CA in the golden",
                case.display()
            );
            let run_port = golden
                .match_indices("127.0.0.1:")
                .any(|(at, m)| golden[at + m.len()..].starts_with(|c: char| c.is_ascii_digit()));
            assert!(!run_port, "{}: a run's port in the golden", case.display());
        }
    }
}
