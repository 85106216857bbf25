//! Hostile: says something on stderr and exits with status 3 without writing any output.

fn main() {
    eprintln!("exit-3: giving up without a report");
    std::process::exit(3);
}
