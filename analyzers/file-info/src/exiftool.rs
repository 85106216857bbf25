//! What the original reads from ExifTool (`exiftool -G -j -sort`): the `File:FileType` string
//! (the report's "Filetype", which also decides whether the PE section runs) and the
//! non-`File` tags that make up the "Exif Info" section.
//!
//! ExifTool is a Perl program and cannot run in a wasm guest, so its file-type recognition is
//! re-implemented here for the formats listed in the README; the "Exif Info" section carries
//! ExifTool's own group (version, error, DOS-header warning) and the ELF header tags. The
//! format-specific groups of other formats are not ported (see the README).

use serde_json::{Map, Value, json};

use crate::encoding::Encoding;
use crate::magic::shebang_interpreter;

/// The ExifTool release whose output this module reproduces (the golden files' version).
pub const EXIFTOOL_VERSION: f64 = 12.57;

/// ExifTool's view of a file: its FileType (absent when ExifTool cannot tell) and the tags
/// the original keeps in "Exif Info".
#[derive(Debug, Clone, PartialEq)]
pub struct ExifView {
    /// `File:FileType`, e.g. `Win32 EXE`, `PNG`, `TXT`.
    pub file_type: Option<String>,
    /// The "Exif Info" section: every tag whose group is not `File`/`SourceFile`.
    pub tags: Map<String, Value>,
}

/// Recognises `data` as ExifTool does for the formats this port knows.
pub fn examine(data: &[u8], encoding: Encoding) -> ExifView {
    let mut tags = Map::new();
    tags.insert(
        "ExifTool:ExifToolVersion".to_owned(),
        json!(EXIFTOOL_VERSION),
    );
    let file_type = if data.is_empty() {
        tags.insert("ExifTool:Error".to_owned(), json!("File is empty"));
        None
    } else {
        let found = by_magic(data, &mut tags).or_else(|| by_text(data, encoding));
        if found.is_none() {
            tags.insert("ExifTool:Error".to_owned(), json!("Unknown file type"));
        }
        found
    };
    ExifView { file_type, tags }
}

/// Formats recognised by their leading bytes.
fn by_magic(data: &[u8], tags: &mut Map<String, Value>) -> Option<String> {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"\x89PNG\r\n\x1a\n", "PNG"),
        (b"GIF87a", "GIF"),
        (b"GIF89a", "GIF"),
        (b"\xff\xd8\xff", "JPEG"),
        (b"%PDF-", "PDF"),
        (b"\x1f\x8b\x08", "GZIP"),
        (b"PK\x03\x04", "ZIP"),
        (b"BZh", "BZ2"),
        (b"7z\xbc\xaf\x27\x1c", "7Z"),
        (b"Rar!\x1a\x07", "RAR"),
    ];
    if let Some((_, name)) = SIGNATURES.iter().find(|(sig, _)| data.starts_with(sig)) {
        match *name {
            "PNG" => crate::exif_tags::png_tags(data, tags),
            "GZIP" => crate::exif_tags::gzip_tags(data, tags),
            "ZIP" => crate::exif_tags::zip_tags(data, tags),
            _ => {}
        }
        return Some((*name).to_owned());
    }
    if data.starts_with(b"MZ") && data.len() >= 0x40 {
        return Some(dos_or_windows(data, tags));
    }
    if data.starts_with(b"\x7fELF") && data.len() >= 16 {
        return Some(elf(data, tags));
    }
    None
}

/// Text formats: HTML, XML, JSON objects, scripts, and plain text.
fn by_text(data: &[u8], encoding: Encoding) -> Option<String> {
    if !encoding.is_text {
        return None;
    }
    let start = data.trim_ascii_start();
    let lower: Vec<u8> = start.iter().take(64).map(u8::to_ascii_lowercase).collect();
    if lower.starts_with(b"<!doctype html") || lower.starts_with(b"<html") {
        return Some("HTML".to_owned());
    }
    if lower.starts_with(b"<?xml") {
        return Some("XML".to_owned());
    }
    // ExifTool reads a JSON file only when it holds an object.
    if start.starts_with(b"{") && serde_json::from_slice::<serde_json::Value>(data).is_ok() {
        return Some("JSON".to_owned());
    }
    if let Some((interpreter, _)) = shebang_interpreter(data) {
        return Some(format!("{interpreter} script"));
    }
    Some("TXT".to_owned())
}

/// DOS and Windows executables: `Win32 EXE`, `Win64 DLL`, `Win16 EXE`, ... or `DOS EXE`.
fn dos_or_windows(data: &[u8], tags: &mut Map<String, Value>) -> String {
    let u16_at = |o: usize| {
        data.get(o..o + 2)
            .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]))
    };
    let (cblp, cp) = (u32::from(u16_at(2)), u32::from(u16_at(4)));
    let dos_size = (cp.saturating_sub(u32::from(cblp != 0))) * 512 + cblp;
    if dos_size < 0x40 {
        tags.insert(
            "ExifTool:Warning".to_owned(),
            json!("Invalid file size in DOS header"),
        );
    }
    let lfanew = data.get(0x3c..0x40).map_or(usize::MAX, |b| {
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
    });
    let header = data.get(lfanew..).unwrap_or(&[]);
    if header.starts_with(b"PE") {
        let le16 = |o: usize| {
            header
                .get(o..o + 2)
                .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]))
        };
        let (machine, flags) = (le16(4), le16(22));
        // ExifTool calls a PE "Win64" when the name of its machine type contains "64"; its
        // 12.57 table names only these three (ARM64, 0xaa64, is unnamed, hence "Win32").
        let bits = if matches!(machine, 0x8664 | 0x0200 | 0x0284) {
            "Win64"
        } else {
            "Win32"
        };
        let kind = if flags & 0x2000 != 0 { "DLL" } else { "EXE" };
        crate::exif_tags::pe_tags(data, lfanew, tags);
        return format!("{bits} {kind}");
    }
    if header.starts_with(b"NE") && header.len() >= 0x40 {
        let kind = if header[0x0c] & 0x80 != 0 {
            "DLL"
        } else {
            "EXE"
        };
        return format!("Win16 {kind}");
    }
    if header.starts_with(b"LE") {
        return "Virtual Device Driver".to_owned();
    }
    "DOS EXE".to_owned()
}

/// ELF: the four header tags ExifTool reads and the file type by object type.
fn elf(data: &[u8], tags: &mut Map<String, Value>) -> String {
    let big = data[5] == 2;
    let u16_at = |o: usize| {
        data.get(o..o + 2).map(|b| {
            if big {
                u16::from_be_bytes([b[0], b[1]])
            } else {
                u16::from_le_bytes([b[0], b[1]])
            }
        })
    };
    let unknown = |v: u64| json!(format!("Unknown ({v})"));
    tags.insert(
        "EXE:CPUArchitecture".to_owned(),
        match data[4] {
            1 => json!("32 bit"),
            2 => json!("64 bit"),
            v => unknown(v.into()),
        },
    );
    tags.insert(
        "EXE:CPUByteOrder".to_owned(),
        match data[5] {
            1 => json!("Little endian"),
            2 => json!("Big endian"),
            v => unknown(v.into()),
        },
    );
    let object_type = u16_at(16);
    if let Some(t) = object_type {
        let name = match t {
            0 => json!("None"),
            1 => json!("Relocatable file"),
            2 => json!("Executable file"),
            3 => json!("Shared object file"),
            4 => json!("Core file"),
            v => unknown(v.into()),
        };
        tags.insert("EXE:ObjectFileType".to_owned(), name);
    }
    if let Some(cpu) = u16_at(18) {
        tags.insert(
            "EXE:CPUType".to_owned(),
            cpu_name(cpu).map_or_else(|| unknown(cpu.into()), |n| json!(n)),
        );
    }
    match object_type {
        Some(1) => "ELF object file",
        Some(3) => "ELF shared library",
        _ => "ELF executable",
    }
    .to_owned()
}

/// ExifTool's names for the common ELF machine numbers.
fn cpu_name(machine: u16) -> Option<&'static str> {
    Some(match machine {
        0 => "None",
        2 => "SPARC",
        3 => "i386",
        8 => "MIPS R3000",
        20 => "PowerPC",
        21 => "PowerPC 64-bit",
        22 => "IBM S/390",
        40 => "ARM",
        43 => "SPARC v9 64-bit",
        50 => "HP/Intel IA-64",
        62 => "AMD x86-64",
        183 => "ARM 64-bit",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::detect;

    fn file_type(data: &[u8]) -> Option<String> {
        examine(data, detect(data)).file_type
    }

    // Each expectation is what `exiftool -s3 -FileType` (12.57) prints for the input.
    #[test]
    fn file_types_match_exiftool() {
        assert_eq!(file_type(b""), None);
        assert_eq!(file_type(b"hello\x00world"), None);
        assert_eq!(file_type(b"plain\n").as_deref(), Some("TXT"));
        assert_eq!(file_type(b"[]\n").as_deref(), Some("TXT"));
        assert_eq!(file_type(b"{\"a\":1}").as_deref(), Some("JSON"));
        assert_eq!(
            file_type(b"#!/bin/bash\necho\n").as_deref(),
            Some("bash script")
        );
        assert_eq!(
            file_type(b"#!/usr/bin/env python3\n").as_deref(),
            Some("env script")
        );
        assert_eq!(
            file_type(b"<?xml version=\"1.0\"?>\n<a/>\n").as_deref(),
            Some("XML")
        );
        assert_eq!(
            file_type(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;").as_deref(),
            Some("GIF")
        );
    }

    #[test]
    fn errors_are_exiftool_group_tags() {
        let view = examine(b"", detect(b""));
        assert_eq!(
            view.tags.get("ExifTool:Error"),
            Some(&json!("File is empty"))
        );
        let view = examine(b"\x00\x01", detect(b"\x00\x01"));
        assert_eq!(
            view.tags.get("ExifTool:Error"),
            Some(&json!("Unknown file type"))
        );
    }
}
