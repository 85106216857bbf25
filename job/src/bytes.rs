//! The one way byte counts are written for people, in reports, warnings and routing reasons.

/// A byte count for people: whole KiB, MiB, GiB or TiB when exact ("16 MiB"), else one decimal
/// ("1.5 KiB"); below 1 KiB in bytes ("100 bytes"). Binary units throughout.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
    ];
    for (size, unit) in UNITS {
        if bytes >= size {
            return if bytes.is_multiple_of(size) {
                format!("{} {unit}", bytes / size)
            } else {
                format!("{:.1} {unit}", bytes as f64 / size as f64)
            };
        }
    }
    if bytes == 1 {
        "1 byte".to_owned()
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::format_bytes;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(format_bytes(268_435_456), "256 MiB");
        assert_eq!(format_bytes(16 * 1024 * 1024), "16 MiB");
        assert_eq!(format_bytes(65 * 1024 * 1024), "65 MiB");
        assert_eq!(format_bytes(1536 << 20), "1.5 GiB");
        assert_eq!(format_bytes(640 << 10), "640 KiB");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(3 << 30), "3 GiB");
        assert_eq!(format_bytes(1 << 40), "1 TiB");
        assert_eq!(format_bytes(100), "100 bytes");
        assert_eq!(format_bytes(1), "1 byte");
        assert_eq!(format_bytes(0), "0 bytes");
        assert_eq!(format_bytes(u64::MAX), "16777216.0 TiB");
    }
}
