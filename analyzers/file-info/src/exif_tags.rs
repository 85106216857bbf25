//! ExifTool's format groups that this port reproduces beyond the file type: the `EXE` group
//! of a Windows PE header (with ExifTool's resource-directory warning), the `PNG` header
//! group with its `Composite` image size, and the `ZIP` group of gzip and ZIP archives. Tag names and printed values follow ExifTool
//! 12.57; dates are printed in UTC, as ExifTool does on a host whose time zone is UTC.

use serde_json::{Map, Value, json};

fn u16_at(data: &[u8], o: usize) -> Option<u16> {
    data.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(data: &[u8], o: usize) -> Option<u32> {
    data.get(o..o + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Records an ExifTool warning; only the first one shows in ExifTool's JSON output.
fn warn(tags: &mut Map<String, Value>, message: &str) {
    tags.entry("ExifTool:Warning")
        .or_insert_with(|| json!(message));
}

/// A `major.minor` version pair, which ExifTool prints as a JSON number.
fn version_number(major: u32, minor: u32) -> Value {
    format!("{major}.{minor}")
        .parse::<f64>()
        .map_or(Value::Null, |v| json!(v))
}

/// A UTC calendar time: year, month, day, hour, minute, second, weekday (0 = Sunday).
pub type Civil = (i64, i64, i64, u32, u32, u32, usize);

/// The UTC calendar time of a Unix time stamp (Howard Hinnant's days-to-civil algorithm).
pub fn civil(seconds: u32) -> Civil {
    let days = i64::from(seconds / 86_400);
    let rest = seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // 1970-01-01 was a Thursday.
    let weekday = ((days + 4) % 7) as usize;
    (
        year,
        month,
        day,
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        weekday,
    )
}

/// ExifTool's `ConvertUnixTime(t, 1)` in UTC: `YYYY:MM:DD HH:MM:SS+00:00`, and the zero
/// date for 0.
pub fn exif_date(seconds: u32) -> String {
    if seconds == 0 {
        return "0000:00:00 00:00:00".to_owned();
    }
    let (year, month, day, hour, minute, second, _) = civil(seconds);
    format!("{year:04}:{month:02}:{day:02} {hour:02}:{minute:02}:{second:02}+00:00")
}

/// The `EXE` tags of a PE file whose `PE\0\0` signature is at `nt`, plus ExifTool's warnings.
pub fn pe_tags(data: &[u8], nt: usize, tags: &mut Map<String, Value>) {
    let coff = nt + 4;
    let optional_size = u16_at(data, coff + 16).unwrap_or(0) as usize;
    // ExifTool reads 64 bytes at the signature, then the rest of the optional header.
    let header_end = nt + (optional_size + 24).max(0x40);
    if optional_size + 24 > 0x40 && data.len() < header_end {
        warn(tags, "Error reading optional header");
    }
    let header = &data[coff.min(data.len())..header_end.min(data.len()).max(coff.min(data.len()))];
    let mut put = |name: &str, value: Option<Value>| {
        if let Some(v) = value {
            tags.insert(format!("EXE:{name}"), v);
        }
    };
    put(
        "MachineType",
        u16_at(header, 0).map(|m| json!(machine_name(m))),
    );
    put("TimeStamp", u32_at(header, 4).map(|t| json!(exif_date(t))));
    put(
        "ImageFileCharacteristics",
        u16_at(header, 18).map(|c| json!(characteristics(c))),
    );
    put(
        "PEType",
        u16_at(header, 20).map(|m| match m {
            0x107 => json!("ROM Image"),
            0x10b => json!("PE32"),
            0x20b => json!("PE32+"),
            other => json!(format!("Unknown ({other:#x})")),
        }),
    );
    put(
        "LinkerVersion",
        header
            .get(22..24)
            .map(|v| version_number(v[0].into(), v[1].into())),
    );
    put("CodeSize", u32_at(header, 24).map(|v| json!(v)));
    put("InitializedDataSize", u32_at(header, 28).map(|v| json!(v)));
    put(
        "UninitializedDataSize",
        u32_at(header, 32).map(|v| json!(v)),
    );
    put(
        "EntryPoint",
        u32_at(header, 36).map(|v| json!(format!("0x{v:04x}"))),
    );
    for (name, offset) in [
        ("OSVersion", 60),
        ("ImageVersion", 64),
        ("SubsystemVersion", 68),
    ] {
        put(
            name,
            u16_at(header, offset)
                .zip(u16_at(header, offset + 2))
                .map(|(a, b)| version_number(a.into(), b.into())),
        );
    }
    put(
        "Subsystem",
        u16_at(header, 88).map(|s| json!(subsystem_name(s))),
    );
    if !resources_readable(data, header_end, u16_at(data, coff + 2).unwrap_or(0)) {
        warn(tags, "Error processing PE data dictionary");
    }
}

/// ExifTool's walk of the PE resource directory: it reads the first `.rsrc` section (or the
/// first `.text` section when there is none) as a resource directory, and warns when that
/// fails. A section table that cannot be read is not walked at all.
fn resources_readable(data: &[u8], table: usize, count: u16) -> bool {
    let Some(raw) = data.get(table..table + 40 * usize::from(count)) else {
        return true;
    };
    let mut chosen: Option<usize> = None;
    let mut rsrc_found = false;
    for entry in raw.chunks(40) {
        let offset = u32_at(entry, 20).unwrap_or(0) as usize;
        if &entry[..8] == b".rsrc\0\0\0" && !rsrc_found {
            rsrc_found = true;
            chosen = Some(offset);
        } else if &entry[..8] == b".text\0\0\0" && chosen.is_none() {
            chosen = Some(offset);
        }
    }
    chosen.is_none_or(|base| directory_readable(data, base, 0, 0))
}

/// One level of the resource directory: its header and entries must be readable, and so
/// must every sub-directory of a `Version` resource (type 16) below the first level.
fn directory_readable(data: &[u8], base: usize, start: usize, level: u32) -> bool {
    if level > 10 {
        return false;
    }
    let at = base + start;
    let Some(head) = data.get(at..at + 16) else {
        return false;
    };
    let count =
        usize::from(u16_at(head, 12).unwrap_or(0)) + usize::from(u16_at(head, 14).unwrap_or(0));
    let Some(entries) = data.get(at + 16..at + 16 + count * 8) else {
        return false;
    };
    for entry in entries.chunks(8) {
        let (name, position) = (u32_at(entry, 0).unwrap_or(0), u32_at(entry, 4).unwrap_or(0));
        // At the top level only the Version resource is followed.
        if level == 0 && name != 16 {
            continue;
        }
        if position & 0x8000_0000 != 0
            && !directory_readable(data, base, (position & 0x7fff_ffff) as usize, level + 1)
        {
            return false;
        }
    }
    true
}

fn machine_name(machine: u16) -> String {
    match machine {
        0x014c => "Intel 386 or later, and compatibles",
        0x0162 => "MIPS R3000",
        0x0166 => "MIPS little endian (R4000)",
        0x01c0 => "ARM little endian",
        0x01c2 => "Thumb",
        0x01f0 => "PowerPC little endian",
        0x0200 => "Intel IA64",
        0x0284 => "Alpha AXP 64-bit",
        0x0ebc => "EFI Byte Code",
        0x8664 => "AMD AMD64",
        0xc0ee => "clr pure MSIL",
        other => return format!("Unknown (0x{other:04x})"),
    }
    .to_owned()
}

fn characteristics(flags: u16) -> String {
    const NAMES: [&str; 16] = [
        "No relocs",
        "Executable",
        "No line numbers",
        "No symbols",
        "Aggressive working-set trim",
        "Large address aware",
        "[6]",
        "Bytes reversed lo",
        "32-bit",
        "No debug",
        "Removable run from swap",
        "Net run from swap",
        "System file",
        "DLL",
        "Uniprocessor only",
        "Bytes reversed hi",
    ];
    let set: Vec<&str> = (0..16)
        .filter(|bit| flags & (1 << bit) != 0)
        .map(|bit| NAMES[bit])
        .collect();
    if set.is_empty() {
        "(none)".to_owned()
    } else {
        set.join(", ")
    }
}

fn subsystem_name(subsystem: u16) -> String {
    match subsystem {
        0 => "Unknown",
        1 => "Native",
        2 => "Windows GUI",
        3 => "Windows command line",
        5 => "OS/2 command line",
        7 => "POSIX command line",
        9 => "Windows CE GUI",
        10 => "EFI application",
        11 => "EFI boot service",
        12 => "EFI runtime driver",
        13 => "EFI ROM",
        14 => "XBOX",
        other => return format!("Unknown ({other})"),
    }
    .to_owned()
}

/// The `PNG` header tags of the IHDR chunk and the `Composite` size tags.
pub fn png_tags(data: &[u8], tags: &mut Map<String, Value>) {
    let Some(ihdr) = data.get(8..33).filter(|c| &c[4..8] == b"IHDR") else {
        return;
    };
    let be32 = |o: usize| u32::from_be_bytes([ihdr[o], ihdr[o + 1], ihdr[o + 2], ihdr[o + 3]]);
    let (width, height) = (be32(8), be32(12));
    let named = |value: u8, names: &[(u8, &str)]| {
        names
            .iter()
            .find(|(v, _)| *v == value)
            .map_or_else(|| json!(format!("Unknown ({value})")), |(_, n)| json!(n))
    };
    tags.insert("PNG:ImageWidth".to_owned(), json!(width));
    tags.insert("PNG:ImageHeight".to_owned(), json!(height));
    tags.insert("PNG:BitDepth".to_owned(), json!(ihdr[16]));
    let colors = [
        (0, "Grayscale"),
        (2, "RGB"),
        (3, "Palette"),
        (4, "Grayscale with Alpha"),
        (6, "RGB with Alpha"),
    ];
    tags.insert("PNG:ColorType".to_owned(), named(ihdr[17], &colors));
    tags.insert(
        "PNG:Compression".to_owned(),
        named(ihdr[18], &[(0, "Deflate/Inflate")]),
    );
    tags.insert("PNG:Filter".to_owned(), named(ihdr[19], &[(0, "Adaptive")]));
    tags.insert(
        "PNG:Interlace".to_owned(),
        named(ihdr[20], &[(0, "Noninterlaced"), (1, "Adam7 Interlace")]),
    );
    tags.insert(
        "Composite:ImageSize".to_owned(),
        json!(format!("{width}x{height}")),
    );
    let megapixels = f64::from(width) * f64::from(height) / 1_000_000.0;
    let precision = if megapixels >= 1.0 {
        1
    } else if megapixels >= 0.001 {
        3
    } else {
        6
    };
    let printed = format!("{megapixels:.precision$}");
    tags.insert(
        "Composite:Megapixels".to_owned(),
        printed.parse::<f64>().map_or(json!(printed), |v| json!(v)),
    );
}

/// The `ZIP` group ExifTool reads from a gzip header (first member only).
pub fn gzip_tags(data: &[u8], tags: &mut Map<String, Value>) {
    let Some(head) = data.get(..10) else { return };
    let flags = head[3];
    tags.insert(
        "ZIP:Compression".to_owned(),
        if head[2] == 8 {
            json!("Deflated")
        } else {
            json!(format!("Unknown ({})", head[2]))
        },
    );
    const FLAG_NAMES: [&str; 5] = ["Text", "CRC16", "ExtraFields", "FileName", "Comment"];
    let set: Vec<String> = (0..8)
        .filter(|bit| flags & (1 << bit) != 0)
        .map(|bit| {
            FLAG_NAMES
                .get(bit)
                .map_or_else(|| format!("[{bit}]"), |n| (*n).to_owned())
        })
        .collect();
    tags.insert(
        "ZIP:Flags".to_owned(),
        json!(if set.is_empty() {
            "(none)".to_owned()
        } else {
            set.join(", ")
        }),
    );
    tags.insert(
        "ZIP:ModifyDate".to_owned(),
        json!(exif_date(u32_at(head, 4).unwrap_or(0))),
    );
    let extra = match head[8] {
        0 => "(none)".to_owned(),
        2 => "Maximum Compression".to_owned(),
        4 => "Fastest Algorithm".to_owned(),
        other => format!("Unknown ({other})"),
    };
    tags.insert("ZIP:ExtraFlags".to_owned(), json!(extra));
    let os = match head[9] {
        0 => "FAT filesystem (MS-DOS, OS/2, NT/Win32)",
        1 => "Amiga",
        2 => "VMS (or OpenVMS)",
        3 => "Unix",
        4 => "VM/CMS",
        5 => "Atari TOS",
        6 => "HPFS filesystem (OS/2, NT)",
        7 => "Macintosh",
        8 => "Z-System",
        9 => "CP/M",
        10 => "TOPS-20",
        11 => "NTFS filesystem (NT)",
        12 => "QDOS",
        13 => "Acorn RISCOS",
        255 => "unknown",
        _ => "",
    };
    let os = if os.is_empty() {
        format!("Unknown ({})", head[9])
    } else {
        os.to_owned()
    };
    tags.insert("ZIP:OperatingSystem".to_owned(), json!(os));
    // The optional name and comment follow the optional extra field, NUL-terminated.
    let mut at = 10;
    if flags & 0x04 != 0 {
        at += 2 + usize::from(u16_at(data, at).unwrap_or(0));
    }
    for (bit, name) in [(0x08, "ZIP:ArchivedFileName"), (0x10, "ZIP:Comment")] {
        if flags & bit != 0 {
            let rest = data.get(at..).unwrap_or(&[]);
            let len = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            tags.insert(
                name.to_owned(),
                json!(
                    rest[..len]
                        .iter()
                        .map(|&b| char::from(b))
                        .collect::<String>()
                ),
            );
            at += len + 1;
        }
    }
}

/// The `ZIP` group ExifTool reads from the first local file header of a ZIP archive.
pub fn zip_tags(data: &[u8], tags: &mut Map<String, Value>) {
    let Some(head) = data.get(..30) else { return };
    let flag = u16_at(head, 6).unwrap_or(0);
    let method = u16_at(head, 8).unwrap_or(0);
    let dos = u32_at(head, 10).unwrap_or(0);
    let name_len = usize::from(u16_at(head, 26).unwrap_or(0));
    tags.insert(
        "ZIP:ZipRequiredVersion".to_owned(),
        json!(u16_at(head, 4).unwrap_or(0)),
    );
    tags.insert(
        "ZIP:ZipBitFlag".to_owned(),
        if flag == 0 {
            json!(0)
        } else {
            json!(format!("0x{flag:04x}"))
        },
    );
    let compression = match method {
        0 => "None",
        1 => "Shrunk",
        6 => "Imploded",
        8 => "Deflated",
        9 => "Enhanced Deflate using Deflate64(tm)",
        12 => "BZIP2",
        14 => "LZMA (EFS)",
        98 => "PPMd version I, Rev 1",
        _ => "",
    };
    let compression = if compression.is_empty() {
        format!("Unknown ({method})")
    } else {
        compression.to_owned()
    };
    tags.insert("ZIP:ZipCompression".to_owned(), json!(compression));
    let date = format!(
        "{:04}:{:02}:{:02} {:02}:{:02}:{:02}",
        (dos >> 25) + 1980,
        (dos >> 21) & 0x0f,
        (dos >> 16) & 0x1f,
        (dos >> 11) & 0x1f,
        (dos >> 5) & 0x3f,
        (dos & 0x1f) * 2
    );
    tags.insert("ZIP:ZipModifyDate".to_owned(), json!(date));
    tags.insert(
        "ZIP:ZipCRC".to_owned(),
        json!(format!("0x{:08x}", u32_at(head, 14).unwrap_or(0))),
    );
    tags.insert(
        "ZIP:ZipCompressedSize".to_owned(),
        json!(u32_at(head, 18).unwrap_or(0)),
    );
    tags.insert(
        "ZIP:ZipUncompressedSize".to_owned(),
        json!(u32_at(head, 22).unwrap_or(0)),
    );
    if let Some(name) = data.get(30..30 + name_len) {
        tags.insert(
            "ZIP:ZipFileName".to_owned(),
            json!(String::from_utf8_lossy(name)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_exiftool_style_utc() {
        assert_eq!(exif_date(0), "0000:00:00 00:00:00");
        assert_eq!(exif_date(0x5F5E_1000), "2020:09:13 12:26:40+00:00");
        assert_eq!(exif_date(0x1234_5678), "1979:09:05 22:51:36+00:00");
    }

    #[test]
    fn characteristics_are_listed_by_bit() {
        assert_eq!(characteristics(0x0102), "Executable, 32-bit");
        assert_eq!(
            characteristics(0x2022),
            "Executable, Large address aware, DLL"
        );
        assert_eq!(characteristics(0), "(none)");
    }
}
