//! The "PE Information" submodule: what the original reads with `pefile` (2024.8.26) and
//! `pehashng` — version-info headers, imphash and peHashNG, the import tables and the section
//! table with entropy and digests — rebuilt on `goblin` with pefile's conventions.
//!
//! pefile's conventions matter because they show in the report: sections are sorted by
//! virtual address and read from `PointerToRawData` rounded down to 512 bytes; entropy sums
//! byte frequencies in order of first occurrence (Python's `Counter`), so the float is the
//! same to the last bit; section names keep their NUL padding.

use goblin::pe::header::Header;
use goblin::pe::import::SyntheticImportLookupTableEntry;
use goblin::pe::options::ParseOptions;
use serde_json::{Value, json};

use crate::hashes::{md5_hex, sha1_hex, sha256_hex, sha512_hex};
use crate::pehash::{imphash, pehashng};
use crate::report::section;

/// The pefile release the original reports in this submodule's summary.
pub const PEFILE_VERSION: &str = "2024.8.26";

/// Whether `data` is an MZ file with a `PE\0\0` signature at `e_lfanew`.
pub fn has_pe_signature(data: &[u8]) -> bool {
    let Some(raw) = data.get(0x3c..0x40) else {
        return false;
    };
    let lfanew = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize;
    data.starts_with(b"MZ") && data.get(lfanew..lfanew.saturating_add(4)) == Some(b"PE\0\0")
}

/// One entry of the section table, with the fields pefile's report reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The 8 name bytes, NUL padding included.
    pub name: [u8; 8],
    /// `Misc_VirtualSize`.
    pub virtual_size: u32,
    /// `VirtualAddress`.
    pub virtual_address: u32,
    /// `SizeOfRawData`.
    pub size_of_raw_data: u32,
    /// `PointerToRawData`.
    pub pointer_to_raw_data: u32,
    /// `Characteristics`.
    pub characteristics: u32,
}

/// The parts of a PE image the report needs.
#[derive(Debug)]
pub struct PeImage<'a> {
    /// The whole file.
    pub data: &'a [u8],
    /// The COFF and optional headers, as goblin parsed them.
    pub header: Header<'a>,
    /// The section table in pefile's order (sorted by virtual address).
    pub sections: Vec<Section>,
    /// The VirtualAddress of each data directory pefile reads (at most 16).
    pub directory_addresses: Vec<u32>,
}

fn u32_at(data: &[u8], offset: usize) -> u32 {
    data.get(offset..offset + 4)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

impl<'a> PeImage<'a> {
    /// Parses the headers and the section table; an error where pefile raises `PEFormatError`.
    pub fn parse(data: &'a [u8]) -> Result<PeImage<'a>, String> {
        let header = Header::parse(data).map_err(|e| e.to_string())?;
        let optional = header.optional_header.ok_or("no optional header")?;
        let nt = header.dos_header.pe_pointer as usize;
        let optional_start = nt + 4 + 20;
        let is64 = optional.standard_fields.magic == goblin::pe::optional_header::MAGIC_64;
        let directories_start = optional_start + if is64 { 112 } else { 96 };
        let count = (optional.windows_fields.number_of_rva_and_sizes as usize).min(16);
        let directory_addresses = (0..count)
            .map(|i| u32_at(data, directories_start + 8 * i))
            .collect();
        let table = optional_start + header.coff_header.size_of_optional_header as usize;
        let sections = parse_sections(
            data,
            table,
            header.coff_header.number_of_sections,
            &optional,
        )?;
        Ok(PeImage {
            data,
            header,
            sections,
            directory_addresses,
        })
    }

    /// pefile's `SectionStructure.get_data()`: the raw bytes of a section.
    pub fn section_data(&self, section: &Section) -> &'a [u8] {
        let alignment = self
            .header
            .optional_header
            .map_or(0, |o| o.windows_fields.section_alignment);
        let mut offset = (section.pointer_to_raw_data & !0x1ff) as usize;
        if alignment < 0x1000 && section.pointer_to_raw_data == section.virtual_address {
            offset = section.virtual_address as usize;
        }
        let mut end = offset + section.size_of_raw_data as usize;
        end = end.min(section.pointer_to_raw_data as usize + section.size_of_raw_data as usize);
        // Python slicing: out-of-range bounds are clamped, an inverted range is empty.
        let len = self.data.len();
        let (start, end) = (offset.min(len), end.min(len));
        if start >= end {
            &[]
        } else {
            &self.data[start..end]
        }
    }
}

/// pefile's `parse_sections`: stops at an all-zero or missing entry, skips the rest after an
/// entry with three or more simultaneous errors, and sorts by virtual address.
fn parse_sections(
    data: &[u8],
    table: usize,
    count: u16,
    optional: &goblin::pe::optional_header::OptionalHeader,
) -> Result<Vec<Section>, String> {
    let file_alignment = optional.windows_fields.file_alignment;
    let mut sections = Vec::new();
    for i in 0..usize::from(count.min(0x800)) {
        let start = table + 40 * i;
        let raw = data
            .get(start.min(data.len())..(start + 40).min(data.len()))
            .unwrap_or(&[]);
        if raw.is_empty() || (raw.len() == 40 && raw.iter().all(|&b| b == 0)) {
            break;
        }
        if raw.len() < 40 {
            return Err("Data length less than expected header length.".to_owned());
        }
        let mut name = [0u8; 8];
        name.copy_from_slice(&raw[..8]);
        let section = Section {
            name,
            virtual_size: u32_at(raw, 8),
            virtual_address: u32_at(raw, 12),
            size_of_raw_data: u32_at(raw, 16),
            pointer_to_raw_data: u32_at(raw, 20),
            characteristics: u32_at(raw, 36),
        };
        let mut errors = 0;
        errors += usize::from(
            section.size_of_raw_data as usize + section.pointer_to_raw_data as usize > data.len(),
        );
        errors += usize::from((section.pointer_to_raw_data & !0x1ff) as usize > data.len());
        errors += usize::from(section.virtual_size > 0x1000_0000);
        errors +=
            usize::from(adjusted_virtual_address(section.virtual_address, optional) > 0x1000_0000);
        errors += usize::from(
            file_alignment != 0 && !section.pointer_to_raw_data.is_multiple_of(file_alignment),
        );
        if errors >= 3 {
            break;
        }
        sections.push(section);
    }
    sections.sort_by_key(|s| s.virtual_address);
    Ok(sections)
}

/// pefile's `adjust_SectionAlignment`: the virtual address rounded down to the section
/// alignment (the file alignment when the section alignment is below a page).
fn adjusted_virtual_address(
    va: u32,
    optional: &goblin::pe::optional_header::OptionalHeader,
) -> u32 {
    let (section_alignment, file_alignment) = (
        optional.windows_fields.section_alignment,
        optional.windows_fields.file_alignment,
    );
    let alignment = if section_alignment < 0x1000 {
        file_alignment
    } else {
        section_alignment
    };
    if alignment != 0 && !va.is_multiple_of(alignment) {
        alignment * (va / alignment)
    } else {
        va
    }
}

/// One import descriptor: the DLL name and its imports (a name, or an ordinal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedDll {
    /// The DLL name as stored.
    pub dll: String,
    /// Each import: `Ok(name)` or `Err(ordinal)`.
    pub imports: Vec<Result<String, u16>>,
}

/// The import directory, or an empty list where it cannot be read (pefile then has no
/// `DIRECTORY_ENTRY_IMPORT` and only records a warning).
pub fn imports(data: &[u8]) -> Vec<ImportedDll> {
    // Certificates play no part in the report; skipping them keeps a bad table from failing the parse.
    let mut opts = ParseOptions::default();
    opts.parse_attribute_certificates = false;
    let Ok(pe) = goblin::pe::PE::parse_with_opts(data, &opts) else {
        return Vec::new();
    };
    let Some(import_data) = pe.import_data else {
        return Vec::new();
    };
    import_data
        .import_data
        .iter()
        .map(|entry| ImportedDll {
            dll: entry.name.to_owned(),
            imports: entry
                .import_lookup_table
                .iter()
                .flatten()
                .map(|item| match item {
                    SyntheticImportLookupTableEntry::OrdinalNumber(n) => Err(*n),
                    SyntheticImportLookupTableEntry::HintNameTableRVA((_, hint)) => {
                        Ok(hint.name.to_owned())
                    }
                })
                .collect(),
        })
        .collect()
}

/// Shannon entropy in bits per byte, summed in the order pefile's `Counter` yields.
pub fn entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut counts = [0u64; 256];
    let mut order = Vec::with_capacity(256);
    for &b in data {
        if counts[b as usize] == 0 {
            order.push(b);
        }
        counts[b as usize] += 1;
    }
    let len = data.len() as f64;
    let mut total = 0.0;
    for b in order {
        let p = counts[b as usize] as f64 / len;
        // Python's math.log(p, 2) is log(p) / log(2), not log2(p): keep its rounding, with a
        // logarithm that is the same on every target (see `log.rs`).
        total -= p * (crate::log::ln(p) / std::f64::consts::LN_2);
    }
    total
}

/// The submodule's `results`: its sections in the original's order, or the message the
/// original's failure path produces.
pub fn analyze(data: &[u8]) -> Result<Value, String> {
    let image =
        PeImage::parse(data).map_err(|_| "too many values to unpack (expected 2)".to_owned())?;
    let imported = imports(data);
    let headers = crate::pe_version::headers(&image)?;
    let iat: Vec<Value> = imported
        .iter()
        .map(|d| json!({"entryname": d.dll, "symbols": d.imports.iter().filter_map(|i| i.as_ref().ok()).collect::<Vec<_>>()}))
        .collect();
    let sections: Vec<Value> = image
        .sections
        .iter()
        .map(|s| {
            let bytes = image.section_data(s);
            json!({
                "entryname": String::from_utf8_lossy(&s.name),
                "SizeOfRawData": format!("{:#x}", s.size_of_raw_data),
                "Entropy": entropy(bytes),
                "MD5": md5_hex(bytes),
                "SHA1": sha1_hex(bytes),
                "SHA256": sha256_hex(bytes),
                "SHA512": sha512_hex(bytes),
            })
        })
        .collect();
    Ok(Value::Array(vec![
        section("Headers", headers),
        section(
            "Hashes",
            json!({"impash": imphash(&imported), "pehash": pehashng(&image)}),
        ),
        section("Import Adress Tables", Value::Array(iat)),
        section("Sections", Value::Array(sections)),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_matches_pefile() {
        // pefile's entropy_H of these buffers, printed by Python's repr.
        assert_eq!(entropy(b""), 0.0);
        assert_eq!(entropy(b"aaaa"), 0.0);
        assert_eq!(entropy(b"ab"), 1.0);
        assert_eq!(entropy(b"abcabcabd"), 1.8910611120726526);
    }

    #[test]
    fn entropy_floats_survive_a_json_round_trip() {
        // The pe32-exe corpus case's .idata entropy: without serde_json's float_roundtrip the
        // parser reads it one unit in the last place off, and a re-serialised report changes.
        let value: f64 = serde_json::from_str("1.5524475057425033").unwrap();
        assert_eq!(value, 1.5524475057425033);
        assert_eq!(serde_json::to_string(&value).unwrap(), "1.5524475057425033");
    }

    #[test]
    fn pe_signature_needs_pe_at_lfanew() {
        let mut mz = vec![0u8; 0x48];
        mz[..2].copy_from_slice(b"MZ");
        mz[0x3c] = 0x40;
        assert!(!has_pe_signature(&mz));
        mz[0x40..0x44].copy_from_slice(b"PE\0\0");
        assert!(has_pe_signature(&mz));
    }
}
