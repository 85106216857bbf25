//! The "Basic properties" submodule, which the original runs on every file: hashes, the
//! ExifTool tags ("Exif Info"), and libmagic's charset and MIME type with ExifTool's file type
//! and the size ("File information"). Its summary is one `Filetype` taxonomy.

use serde_json::{Value, json};

use crate::encoding;
use crate::exiftool::{self, ExifView};
use crate::hashes::{md5_hex, sha1_hex, sha256_hex, ssdeep};
use crate::magic;
use crate::report::{section, submodule, taxonomy};

/// What the analyzer needs to know about a file before choosing submodules.
#[derive(Debug, Clone, PartialEq)]
pub struct FileFacts {
    /// ExifTool's view: file type and the "Exif Info" tags.
    pub exif: ExifView,
    /// libmagic's charset (`magic.Magic(mime_encoding=True)`).
    pub charset: &'static str,
    /// libmagic's MIME type without charset (`magic.Magic(mime=True)`).
    pub mime_type: String,
}

impl FileFacts {
    /// Examines `data` the way the original does before running any submodule.
    pub fn examine(data: &[u8]) -> FileFacts {
        let encoding = encoding::detect(data);
        FileFacts {
            exif: exiftool::examine(data, encoding),
            charset: encoding.charset,
            mime_type: magic::mime_type(data, encoding),
        }
    }

    /// The "Filetype" value: ExifTool's FileType, or `0` (pyexifinfo's default) when ExifTool
    /// does not recognise the file.
    pub fn filetype_value(&self) -> Value {
        self.exif
            .file_type
            .as_deref()
            .map_or(json!(0), |t| json!(t))
    }
}

/// The submodule's entry in the report's `results` list.
pub fn basic_properties(data: &[u8], facts: &FileFacts) -> Value {
    let hashes = json!({
        "md5": md5_hex(data),
        "sha1": sha1_hex(data),
        "sha256": sha256_hex(data),
        "ssdeep": ssdeep(data),
    });
    let information = json!({
        "Magic literal": facts.charset,
        "MimeType": format!("{}; charset={}", facts.mime_type, facts.charset),
        "Filetype": facts.filetype_value(),
        "Filesize": data.len(),
    });
    let results = json!([
        section("Hashes", hashes),
        section("Exif Info", Value::Object(facts.exif.tags.clone())),
        section("File information", information),
    ]);
    let summary = json!({"taxonomies": [taxonomy("Filetype", facts.filetype_value())]});
    submodule("Basic properties", results, summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_file_information_matches_the_original() {
        let data = b"hello world\nsecond line\n";
        let entry = basic_properties(data, &FileFacts::examine(data));
        let info = &entry["results"][2]["submodule_section_content"];
        assert_eq!(info["Magic literal"], "us-ascii");
        assert_eq!(info["MimeType"], "text/plain; charset=us-ascii");
        assert_eq!(info["Filetype"], "TXT");
        assert_eq!(info["Filesize"], 24);
        assert_eq!(entry["summary"]["taxonomies"][0]["value"], "TXT");
    }

    #[test]
    fn unknown_files_have_filetype_zero() {
        let data = b"\x00\x01\x02";
        let entry = basic_properties(data, &FileFacts::examine(data));
        assert_eq!(
            entry["results"][2]["submodule_section_content"]["Filetype"],
            0
        );
        assert_eq!(entry["summary"]["taxonomies"][0]["value"], 0);
    }
}
