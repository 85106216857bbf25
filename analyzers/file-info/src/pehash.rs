//! The two PE fingerprints of the "Hashes" section: Mandiant's imphash (pefile's
//! `get_imphash`) and peHashNG (AnyMaster's `pehashng`, a SHA-256 of structural properties).

use std::io::Write;

use crate::hashes::{md5_hex, sha256_hex};
use crate::pe::{ImportedDll, PeImage};

/// imphash: MD5 of `lib.function` pairs, lower-cased, comma-joined, in import order; the
/// library's `.dll`/`.ocx`/`.sys` extension is dropped and an import by ordinal is named
/// `ord<N>`. An image without import descriptors has the empty string.
pub fn imphash(imported: &[ImportedDll]) -> String {
    if imported.is_empty() {
        return String::new();
    }
    let mut parts = Vec::new();
    for dll in imported {
        let lower = dll.dll.to_lowercase();
        let library = match lower.rsplit_once('.') {
            Some((stem, "ocx" | "sys" | "dll")) => stem.to_owned(),
            _ => lower.clone(),
        };
        for import in &dll.imports {
            let function = match import {
                Ok(name) => name.to_lowercase(),
                Err(ordinal) => format!("ord{ordinal}"),
            };
            parts.push(format!("{library}.{function}"));
        }
    }
    md5_hex(parts.join(",").as_bytes())
}

/// The largest power of two not above `n` (0 for 0).
fn align_down_p2(n: u64) -> u64 {
    if n == 0 {
        0
    } else {
        1 << (63 - n.leading_zeros())
    }
}

/// `n` rounded up to a multiple of the power of two `boundary`.
fn align_up(n: u64, boundary: u64) -> u64 {
    (n + boundary - 1) & !(boundary - 1)
}

/// The size of `data` compressed by bzip2 at level 9, as Python's `bz2.compress` makes it.
fn bz2_len(data: &[u8]) -> usize {
    let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
    // Writing to a Vec cannot fail.
    encoder
        .write_all(data)
        .and_then(|()| encoder.finish())
        .map_or(0, |v| v.len())
}

/// peHashNG of a parsed image.
pub fn pehashng(image: &PeImage<'_>) -> String {
    const CHARACTERISTICS_MASK: u16 = 0b0111_1111_0010_0011;
    const DIRECTORY_MASK: u16 = 0b0111_1110_0111_1111;
    let coff = &image.header.coff_header;
    let mut data = Vec::new();
    data.extend((coff.characteristics & CHARACTERISTICS_MASK).to_be_bytes());
    if let Some(optional) = &image.header.optional_header {
        let w = &optional.windows_fields;
        data.extend(w.subsystem.to_be_bytes());
        data.extend((align_down_p2(w.section_alignment.into()) as u32).to_be_bytes());
        data.extend((align_down_p2(w.file_alignment.into()) as u32).to_be_bytes());
        data.extend(align_up(w.size_of_stack_commit, 4096).to_be_bytes());
        data.extend(align_up(w.size_of_heap_commit, 4096).to_be_bytes());
    }
    let mut dirs: u16 = 0;
    for (i, &address) in image.directory_addresses.iter().enumerate() {
        if address != 0 {
            dirs |= 1 << i;
        }
    }
    data.extend((dirs & DIRECTORY_MASK).to_be_bytes());
    for section in &image.sections {
        data.extend((align_up(section.virtual_address.into(), 512) as u32).to_be_bytes());
        data.extend((align_up(section.size_of_raw_data.into(), 512) as u32).to_be_bytes());
        data.push((section.characteristics >> 24) as u8);
        let complexity = if section.size_of_raw_data == 0 {
            0
        } else {
            let ratio = bz2_len(image.section_data(section)) as f64 * 7.0
                / f64::from(section.size_of_raw_data);
            // Python's round() rounds halves to even.
            if ratio > 7.0 {
                8
            } else {
                ratio.round_ties_even() as u8
            }
        };
        data.push(complexity);
    }
    sha256_hex(&data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imphash_drops_known_extensions_and_names_ordinals() {
        let imported = vec![
            ImportedDll {
                dll: "KERNEL32.dll".into(),
                imports: vec![Ok("ExitProcess".into())],
            },
            ImportedDll {
                dll: "MYLIB.dll".into(),
                imports: vec![Err(7), Ok("DoWork".into())],
            },
        ];
        // md5("kernel32.exitprocess,mylib.ord7,mylib.dowork"), as pefile computes it.
        assert_eq!(imphash(&imported), "008dc136d2d5ff8369a6ffbe38c514b3");
        assert_eq!(imphash(&[]), "");
    }

    #[test]
    fn alignment_helpers_match_pehashng() {
        assert_eq!(align_down_p2(0), 0);
        assert_eq!(align_down_p2(0x1000), 0x1000);
        assert_eq!(align_down_p2(0x1fff), 0x1000);
        assert_eq!(align_up(0x1001, 512), 0x1200);
        assert_eq!(align_up(0, 4096), 0);
    }

    #[test]
    fn bzip2_output_size_matches_python() {
        // len(bz2.compress(b"a" * 1000)) and len(bz2.compress(b"")) in CPython 3.11.
        assert_eq!(bz2_len(&[b'a'; 1000]), 45);
        assert_eq!(bz2_len(b""), 14);
    }
}
