//! The "Headers" section of the PE submodule: pefile's `FileInfo` (the version resource's
//! string table) followed by the compilation timestamp, target machine and entry point.
//! The original builds this table only when the image has a version resource; otherwise the
//! section's content is `null`.

use goblin::pe::options::ParseOptions;
use serde_json::{Value, json};

use crate::pe::PeImage;

/// The string-table keys goblin exposes, in the order linkers usually write them.
const KNOWN_KEYS: [&str; 12] = [
    "CompanyName",
    "FileDescription",
    "FileVersion",
    "InternalName",
    "LegalCopyright",
    "OriginalFilename",
    "ProductName",
    "ProductVersion",
    "Comments",
    "LegalTrademarks",
    "PrivateBuild",
    "SpecialBuild",
];

/// The Headers table, `null` without a version resource, or the error message the original
/// reports for a machine type its lookup table lacks.
pub fn headers(image: &PeImage<'_>) -> Result<Value, String> {
    // Certificates play no part in the report; skipping them keeps a bad table from failing the parse.
    let mut opts = ParseOptions::default();
    opts.parse_attribute_certificates = false;
    let Ok(pe) = goblin::pe::PE::parse_with_opts(image.data, &opts) else {
        return Ok(Value::Null);
    };
    let Some(version) = pe.resource_data.and_then(|r| r.version_info) else {
        return Ok(Value::Null);
    };
    let info = &version.string_info;
    let values = [
        info.company_name(),
        info.file_description(),
        info.file_version(),
        info.internal_name(),
        info.legal_copyright(),
        info.original_filename(),
        info.product_name(),
        info.product_version(),
        info.comments(),
        info.legal_trademarks(),
        info.private_build(),
        info.special_build(),
    ];
    let mut table: Vec<Value> = KNOWN_KEYS
        .iter()
        .zip(values)
        .filter_map(|(key, value)| value.map(|v| json!({"Info": key, "Value": v})))
        .collect();
    let coff = &image.header.coff_header;
    // The original's lookup table has "0x0200" for Itanium, which Python's hex() never
    // produces, so only these two machines avoid its KeyError.
    let machine = match coff.machine {
        0x14c => "x86",
        0x8664 => "x64",
        other => return Err(format!("'{other:#x}'")),
    };
    let entry = image
        .header
        .optional_header
        .map_or(0, |o| o.standard_fields.address_of_entry_point);
    table.push(json!({"Info": "Compilation Timestamp", "Value": coff.time_date_stamp}));
    table.push(json!({"Info": "Target machine", "Value": machine}));
    table.push(json!({"Info": "Entry Point", "Value": format!("{entry:#x}")}));
    Ok(Value::Array(table))
}
