//! The shapes the original's submodules report in: a submodule entry holding a list of
//! sections, each `{"submodule_section_header", "submodule_section_content"}`.

use serde_json::{Value, json};

/// One section of a submodule's results, as `SubmoduleBaseclass.add_result_subsection` builds it.
pub fn section(header: &str, content: Value) -> Value {
    json!({"submodule_section_header": header, "submodule_section_content": content})
}

/// One entry of the report's `results` list: the submodule's name, results and summary.
/// A failed submodule has its error message as `results` and `null` as summary.
pub fn submodule(name: &str, results: Value, summary: Value) -> Value {
    json!({"submodule_name": name, "results": results, "summary": summary})
}

/// An info-level taxonomy in the `FileInfo` namespace.
pub fn taxonomy(predicate: &str, value: Value) -> Value {
    json!({"level": "info", "namespace": "FileInfo", "predicate": predicate, "value": value})
}
