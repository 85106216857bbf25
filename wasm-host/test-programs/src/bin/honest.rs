//! An honest analyzer: parses `input.json`, hashes the observable with SHA-256 and writes a
//! success report with one taxonomy. It is also the small analyzer of the benchmark.

use serde_json::json;
use sha2::{Digest, Sha256};

fn main() {
    let input = test_programs::read_input();
    let data = input["data"].as_str().unwrap_or_default();
    let digest = hex::encode(Sha256::digest(data.as_bytes()));
    let report = json!({
        "success": true,
        "full": {"dataType": input["dataType"], "sha256": digest},
        "summary": {"taxonomies": [{
            "level": "info", "namespace": "Honest", "predicate": "sha256", "value": &digest[..8],
        }]},
        "artifacts": [],
        "operations": [],
    });
    test_programs::write_report(&report);
}
