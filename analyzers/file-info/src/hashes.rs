//! Digests of a byte buffer, as hex strings: md5, sha1, sha256, sha512 and ssdeep.

use md5::{Digest, Md5};
use sha1::Sha1;
use sha2::{Sha256, Sha512};

/// Lower-case hex MD5 of `data`.
pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// Lower-case hex SHA-1 of `data`.
pub fn sha1_hex(data: &[u8]) -> String {
    hex::encode(Sha1::digest(data))
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Lower-case hex SHA-512 of `data`.
pub fn sha512_hex(data: &[u8]) -> String {
    hex::encode(Sha512::digest(data))
}

/// The ssdeep (CTPH) digest of `data`, as libfuzzy's `fuzzy_digest` prints it with no flags
/// (no sequence elimination, block hashes truncated as usual).
///
/// libfuzzy refuses inputs larger than its maximum (192 GiB at the largest block size); a
/// buffer held in memory here cannot reach that, so the error case only names the limit.
pub fn ssdeep(data: &[u8]) -> String {
    match ssdeep::hash_buf(data) {
        Ok(hash) => hash.to_string(),
        Err(e) => format!("ssdeep error: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_of_the_empty_input_are_the_well_known_ones() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(&sha512_hex(b"")[..16], "cf83e1357eefb8bd");
        assert_eq!(ssdeep(b""), "3::");
    }

    #[test]
    fn ssdeep_matches_libfuzzy_on_short_text() {
        // Computed with the Python `ssdeep` binding (libfuzzy 2.14.1).
        assert_eq!(
            ssdeep(b"hello world\nsecond line\n"),
            "3:iKFSMPOAGQBOK:rJP+K"
        );
    }
}
