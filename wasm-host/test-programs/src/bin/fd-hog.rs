//! Hostile: opens `input/input.json` again and again, keeping every file open, until an open
//! fails; holds them all for a second (so that a neighbouring run in the same process has to work
//! while they are held), closes them, and reports how many it opened and the errno that stopped
//! it.

use std::fs::File;
use std::time::Duration;

use serde_json::json;

/// Stop here even if nothing refuses: enough to exhaust a process's usual limit.
const MAX_TRIES: usize = 100_000;

fn main() {
    let path = test_programs::input_dir().join("input.json");
    let mut held = Vec::new();
    let mut errno = None;
    while held.len() < MAX_TRIES {
        match File::open(&path) {
            Ok(file) => held.push(file),
            Err(e) => {
                errno = e.raw_os_error();
                break;
            }
        }
    }
    let opened = held.len();
    std::thread::sleep(Duration::from_secs(1));
    drop(held);
    test_programs::write_report(&test_programs::success(json!({
        "opened": opened,
        "errno": errno,
    })));
}
