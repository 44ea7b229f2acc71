//! Registry files for tests, built from typed values and written by serde
//! ([`Document`], the registry's own first stage): no test writes registry
//! YAML by hand.

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use theory_conform::registry::{Document, DocumentEntry};
use theory_conform::vocab::{ArtifactSource, TargetKind, Transport};

use super::fixture;
use super::lanes::{FINGERPRINT, NAME};

/// The reference processor's entry as the tests use it: its fixtures, its
/// declared runtime and every transport; no target yet.
pub fn reference() -> DocumentEntry {
    DocumentEntry::default()
        .env("THEORY_ENV_FINGERPRINT", FINGERPRINT)
        .transports(&Transport::ALL)
        .fixtures(fixture("fixtures/reference-processor/inputs"))
}

/// [`reference`] with a 20 s run budget, as lanes against a remote use;
/// the remote is a native process on this machine, so its artifacts are
/// declared `shared`.
pub fn reference_remote() -> DocumentEntry {
    reference()
        .run_timeout(Duration::from_secs(20))
        .artifacts(TargetKind::Url, ArtifactSource::Shared)
}

/// `doc` written to `dir/registry.yaml`.
pub fn write(dir: &Path, doc: &Document) -> PathBuf {
    write_as(&dir.join("registry.yaml"), doc)
}

/// `doc` written to `path`.
pub fn write_as(path: &Path, doc: &Document) -> PathBuf {
    std::fs::write(path, doc.to_yaml()).expect("write registry");
    path.to_path_buf()
}

/// A registry holding only the reference processor, as `entry`, in
/// `dir/registry.yaml`.
pub fn write_entry(dir: &Path, entry: DocumentEntry) -> PathBuf {
    write(dir, &Document::new().processor(NAME, entry))
}

/// The 1-based line and column where `needle` first appears in the file at
/// `path`: where a loader must point its error.
pub fn position_of(path: &Path, needle: &str) -> (usize, usize) {
    let text = std::fs::read_to_string(path).expect("read registry");
    text.lines()
        .enumerate()
        .find_map(|(i, line)| line.find(needle).map(|col| (i + 1, col + 1)))
        .unwrap_or_else(|| panic!("{needle:?} is not in {}:\n{text}", path.display()))
}
