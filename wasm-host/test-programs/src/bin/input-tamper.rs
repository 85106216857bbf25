//! Hostile: tries to write, truncate, append to, rename, delete, re-permission and re-time the
//! read-only `input/` folder, to add files and folders to it, and to smuggle `input.json` into
//! `output/` by rename or hard link; then reports each outcome.

use std::fs::{self, OpenOptions};
use std::io::Write;

use serde_json::json;
use test_programs::{attempt, input_dir, output_dir};

fn main() {
    let input = input_dir();
    let json_path = input.join("input.json");
    let mut attempts = vec![
        attempt(
            "open input.json for write",
            OpenOptions::new().write(true).open(&json_path).map(|_| ()),
        ),
        attempt(
            "open input.json with truncate",
            OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&json_path)
                .map(|_| ()),
        ),
        attempt(
            "open input.json for append",
            OpenOptions::new()
                .append(true)
                .open(&json_path)
                .and_then(|mut f| f.write_all(b"x")),
        ),
        attempt("write input.json", fs::write(&json_path, b"{}")),
        attempt(
            "create input/new.txt",
            fs::write(input.join("new.txt"), b"x"),
        ),
        attempt("create_dir input/sub", fs::create_dir(input.join("sub"))),
        attempt(
            "rename input.json -> input/moved.json",
            fs::rename(&json_path, input.join("moved.json")),
        ),
        attempt(
            "rename input.json -> output/moved.json",
            fs::rename(&json_path, output_dir().join("moved.json")),
        ),
        attempt(
            "hard_link input.json -> output/linked.json",
            fs::hard_link(&json_path, output_dir().join("linked.json")),
        ),
        attempt(
            "symlink input/link -> input.json",
            test_programs::symlink("input.json", &input.join("link")),
        ),
        attempt("remove_file input.json", fs::remove_file(&json_path)),
        attempt("remove_dir input", fs::remove_dir(&input)),
    ];
    // Read-only open succeeds; changing the length or times through that handle must not.
    let set_len = OpenOptions::new()
        .read(true)
        .open(&json_path)
        .and_then(|f| f.set_len(0));
    attempts.push(attempt("set_len(0) on read handle of input.json", set_len));
    let set_times = fs::File::open(&json_path).and_then(|f| {
        f.set_times(fs::FileTimes::new().set_modified(std::time::SystemTime::UNIX_EPOCH))
    });
    attempts.push(attempt("set_times on input.json", set_times));
    let mut permissions = fs::metadata(&json_path)
        .map(|m| m.permissions())
        .expect("stat input.json");
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    attempts.push(attempt(
        "set_permissions input.json",
        fs::set_permissions(&json_path, permissions),
    ));
    // The honest read still works, so the test can tell "denied" from "broken".
    attempts.push(attempt(
        "read input.json",
        fs::read(&json_path).map(|b| b.len()),
    ));
    test_programs::write_report(&test_programs::success(json!({ "attempts": attempts })));
}
