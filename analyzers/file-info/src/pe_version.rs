//! The "Headers" section of the PE submodule: the compilation timestamp (as pefile's
//! `dump_dict` prints it), target machine and entry point. The original builds this table
//! only when pefile found a version resource (`pe.FileInfo`); otherwise the content is `null`.

use goblin::pe::options::ParseOptions;
use serde_json::{Value, json};

use crate::exif_tags::civil;
use crate::pe::PeImage;

/// pefile's `dump_dict` rendering of a time stamp: `0x%-8X [<asctime> UTC]`.
pub fn pefile_timestamp(seconds: u32) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (year, month, day, hour, minute, second, weekday) = civil(seconds);
    let hex = format!("0x{:<8}", format!("{seconds:X}"));
    let month = MONTHS[(month - 1) as usize];
    format!(
        "{hex} [{} {month} {day:>2} {hour:02}:{minute:02}:{second:02} {year} UTC]",
        DAYS[weekday]
    )
}

/// The Headers table, `null` without a version resource, or the error message the original
/// reports for a machine type its lookup table lacks.
pub fn headers(image: &PeImage<'_>) -> Result<Value, String> {
    // Certificates play no part in the report; skipping them keeps a bad table from failing the parse.
    let mut opts = ParseOptions::default();
    opts.parse_attribute_certificates = false;
    let Ok(pe) = goblin::pe::PE::parse_with_opts(image.data, &opts) else {
        return Ok(Value::Null);
    };
    if pe.resource_data.and_then(|r| r.version_info).is_none() {
        return Ok(Value::Null);
    }
    // The original walks `pe.FileInfo` expecting structures, but pefile 2024 holds a list of
    // lists there, so no string-table entry is ever added: only the three fixed rows remain.
    let mut table = Vec::new();
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
    table.push(
        json!({"Info": "Compilation Timestamp", "Value": pefile_timestamp(coff.time_date_stamp)}),
    );
    table.push(json!({"Info": "Target machine", "Value": machine}));
    table.push(json!({"Info": "Entry Point", "Value": format!("{entry:#x}")}));
    Ok(Value::Array(table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_like_pefile() {
        // "0x%-8X [%s UTC]" % (t, time.asctime(time.gmtime(t))) in CPython.
        assert_eq!(
            pefile_timestamp(0x6500_0000),
            "0x65000000 [Tue Sep 12 06:06:56 2023 UTC]"
        );
        assert_eq!(
            pefile_timestamp(0),
            "0x0        [Thu Jan  1 00:00:00 1970 UTC]"
        );
        assert_eq!(
            pefile_timestamp(0x5F5E_1000),
            "0x5F5E1000 [Sun Sep 13 12:26:40 2020 UTC]"
        );
    }
}
