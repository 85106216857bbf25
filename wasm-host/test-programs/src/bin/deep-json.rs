//! Hostile: writes a syntactically valid report nested 200,000 levels deep inside `full`, to
//! break a recursive JSON parser on the host.

/// Depth of the nested arrays inside `full`.
const DEPTH: usize = 200_000;

fn main() {
    let mut text = String::with_capacity(2 * DEPTH + 64);
    text.push_str(r#"{"success":true,"full":{"deep":"#);
    text.extend(std::iter::repeat_n('[', DEPTH));
    text.extend(std::iter::repeat_n(']', DEPTH));
    text.push_str("}}");
    std::fs::write(test_programs::output_dir().join("output.json"), text).expect("write");
}
