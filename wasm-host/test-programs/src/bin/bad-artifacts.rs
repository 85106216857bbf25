//! Hostile: a success report whose file artifacts point outside `output/`, into a subfolder, at a
//! missing file, plus one honest artifact.

use serde_json::json;

fn main() {
    let output = test_programs::output_dir();
    std::fs::create_dir(output.join("sub")).expect("create output/sub");
    std::fs::write(output.join("sub/nested.txt"), b"nested\n")
        .expect("write output/sub/nested.txt");
    std::fs::write(output.join("good.txt"), b"good\n").expect("write output/good.txt");
    let file = |name: &str| json!({"dataType": "file", "file": name, "filename": "x.txt"});
    let report = json!({
        "success": true,
        "full": {},
        "summary": {"taxonomies": []},
        "artifacts": [
            file("../input/input.json"),
            file("/etc/passwd"),
            file("sub/nested.txt"),
            file("sub"),
            file("missing.bin"),
            file("good.txt"),
            {"dataType": "ip", "data": "192.0.2.1"},
        ],
        "operations": [],
    });
    test_programs::write_report(&report);
}
