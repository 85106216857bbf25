//! The built-in wasm analyzers, compiled for `wasm32-wasip1` in release mode by this crate's build
//! script: one `pub const` per analyzer binary (named exactly as the Cortex worker, e.g.
//! `EMLPARSER` for `EmlParser`), [`ALL`] as `(worker name, .wasm path)` pairs, and
//! [`module_path`] to look one up by worker name.

include!(concat!(env!("OUT_DIR"), "/analyzers.rs"));

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
                "EmlParser",
                "FileInfo",
                "MSDefenderOffice365_SafeLinksDecoder",
                "ValidateObservable"
            ]
        );
        for (name, path) in ALL {
            let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{name}: {path}: {e}"));
            assert_eq!(&bytes[..4], b"\0asm", "{name} is not a wasm module");
            assert_eq!(module_path(name), Some(*path));
            assert_eq!(std::path::Path::new(path).parent(), Some(module_dir()));
        }
        assert_eq!(module_path("NoSuchAnalyzer"), None);
    }
}
