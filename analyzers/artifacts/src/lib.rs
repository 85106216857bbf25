//! The built-in wasm analyzers, compiled in release mode, without debug info, by this crate's
//! build script: the offline ones for `wasm32-wasip1` (core modules), the ones that use the
//! network (AbuseIPDB, URLhaus, GreyNoise) for `wasm32-wasip2` (components, for wasi-http):
//!
//! - [`EMBEDDED`], every `(worker name, module bytes)` pair, and [`module_bytes`]: the modules
//!   themselves, compiled into whatever binary links this crate, so a runner copied to another
//!   machine or into an image still has them (what the runner uses);
//! - one `pub const` per analyzer binary with its path in the build's target directory (named
//!   exactly as the Cortex worker, e.g. `EMLPARSER` for `EmlParser`), [`ALL`] as
//!   `(worker name, .wasm path)` pairs, [`module_path`](fn@module_path) and [`module_dir`]: for
//!   tests and tools on the machine that built them.

include!(concat!(env!("OUT_DIR"), "/analyzers.rs"));
include!(concat!(env!("OUT_DIR"), "/analyzers_embedded.rs"));

/// The embedded module of the built-in analyzer named `worker`, if there is one.
pub fn module_bytes(worker: &str) -> Option<&'static [u8]> {
    EMBEDDED
        .iter()
        .find(|(name, _)| *name == worker)
        .map(|(_, bytes)| *bytes)
}

/// The `.wasm` file of the built-in analyzer named `worker`, if there is one.
pub fn module_path(worker: &str) -> Option<&'static str> {
    ALL.iter()
        .find(|(name, _)| *name == worker)
        .map(|(_, path)| *path)
}

/// The folder holding every built-in analyzer module (`<worker name>.wasm`), usable as a wasm
/// module directory in the runner's configuration.
pub fn module_dir() -> &'static std::path::Path {
    std::path::Path::new(ALL[0].1)
        .parent()
        .expect("a built module path has a parent folder")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_analyzer_is_built_and_named_as_its_cortex_worker() {
        let names: Vec<&str> = ALL.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            names,
            [
                "AbuseIPDB",
                "EmlParser",
                "FileInfo",
                "GreyNoise",
                "MSDefenderOffice365_SafeLinksDecoder",
                "URLhaus",
                "ValidateObservable"
            ]
        );
        for (name, path) in ALL {
            let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{name}: {path}: {e}"));
            assert_eq!(&bytes[..4], b"\0asm", "{name} is not wasm");
            // The version and layer after the magic: 1, 0 for a core module; 0x0d, 1 for a
            // component.
            let expected: &[u8] = if NETWORK.contains(name) {
                b"\x0d\0\x01\0"
            } else {
                b"\x01\0\0\0"
            };
            assert_eq!(&bytes[4..8], expected, "{name}");
            assert_eq!(module_path(name), Some(*path));
            assert_eq!(std::path::Path::new(path).parent(), Some(module_dir()));
        }
        assert_eq!(module_path("NoSuchAnalyzer"), None);
    }

    #[test]
    fn every_analyzer_is_embedded_with_the_bytes_of_its_built_file() {
        let embedded: Vec<&str> = EMBEDDED.iter().map(|(name, _)| *name).collect();
        let built: Vec<&str> = ALL.iter().map(|(name, _)| *name).collect();
        assert_eq!(embedded, built);
        for (name, path) in ALL {
            let bytes = module_bytes(name).unwrap();
            assert_eq!(bytes, std::fs::read(path).unwrap(), "{name}");
        }
        assert_eq!(module_bytes("NoSuchAnalyzer"), None);
    }

    /// The workspace's release profile keeps line tables for the host binary; the shipped modules
    /// must not carry them (7.2 to 10.0 MB each with them, 0.5 to 1.9 MB without).
    #[test]
    fn the_shipped_modules_carry_no_debug_info() {
        for (name, bytes) in EMBEDDED {
            let custom = custom_sections(bytes);
            assert_eq!(
                custom
                    .iter()
                    .filter(|s| s.starts_with(".debug"))
                    .collect::<Vec<_>>(),
                Vec::<&String>::new(),
                "{name}"
            );
            assert!(custom.contains(&"name".to_string()), "{name}: {custom:?}");
            assert!(
                bytes.len() < 3 * 1024 * 1024,
                "{name}: {} bytes",
                bytes.len()
            );
        }
    }

    /// The analyzers built as components.
    const NETWORK: [&str; 3] = ["AbuseIPDB", "GreyNoise", "URLhaus"];

    /// The names of the custom sections of a wasm module, or of a component and every core
    /// module and component nested in it.
    fn custom_sections(bytes: &[u8]) -> Vec<String> {
        fn leb(bytes: &[u8], at: &mut usize) -> usize {
            let (mut value, mut shift) = (0usize, 0);
            loop {
                let byte = bytes[*at];
                *at += 1;
                value |= usize::from(byte & 0x7f) << shift;
                shift += 7;
                if byte < 0x80 {
                    return value;
                }
            }
        }
        assert_eq!(&bytes[..4], b"\0asm");
        let component = &bytes[4..8] == b"\x0d\0\x01\0";
        assert!(component || &bytes[4..8] == b"\x01\0\0\0");
        let (mut names, mut at) = (Vec::new(), 8);
        while at < bytes.len() {
            let id = bytes[at];
            at += 1;
            let size = leb(bytes, &mut at);
            let end = at + size;
            if id == 0 {
                let len = leb(bytes, &mut at);
                names.push(String::from_utf8_lossy(&bytes[at..at + len]).into_owned());
            } else if component && (id == 1 || id == 4) {
                // A nested core module (1) or component (4): a whole binary of its own.
                names.extend(custom_sections(&bytes[at..end]));
            }
            at = end;
        }
        names
    }
}
