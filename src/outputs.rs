//! The paths a command will write, checked before it does anything else:
//! a usage error names the flag and the real path before the first IO on
//! a processor's behalf, not after a whole lane has run.
//!
//! **Invariant:** a check leaves nothing behind but the folders it was
//! asked to create.

use std::path::Path;

/// Creates the folder `path` (and its parents) and proves it writable.
pub fn create_writable(path: &Path) -> Result<(), String> {
    std::fs::create_dir_all(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    probe(path).map_err(|e| format!("cannot write in {}: {e}", path.display()))
}

/// A report file to be written at the end: not a folder, and its folder
/// can be written (or made: see [`check_folder_to_write`]).
pub fn check_report_file(path: &Path) -> Result<(), String> {
    if path.is_dir() {
        return Err(format!("{} is a folder, not a file", path.display()));
    }
    check_folder_to_write(parent(path)).map_err(|m| format!("{}: {m}", path.display()))
}

/// A folder written later: the folder itself or, when it does not exist
/// yet, its nearest existing ancestor must be a writable folder (the rest
/// is created when written). Nothing is created now.
pub fn check_folder_to_write(path: &Path) -> Result<(), String> {
    let mut existing = path;
    while !existing.exists() {
        existing = parent(existing);
        if existing == Path::new(".") && !existing.exists() {
            break;
        }
    }
    if !existing.is_dir() {
        return Err(format!(
            "{} cannot be made: {} is not a folder",
            path.display(),
            existing.display()
        ));
    }
    probe(existing).map_err(|e| format!("cannot write in {}: {e}", existing.display()))
}

/// A folder read (and written, unless read-only) in place: it must exist
/// already, or its parent must, so that a mistyped path is not created.
pub fn check_existing_or_child(path: &Path) -> Result<(), String> {
    if path.is_dir() {
        return Ok(());
    }
    if path.exists() {
        return Err(format!("{} is not a folder", path.display()));
    }
    if parent(path).is_dir() {
        Ok(())
    } else {
        Err(format!(
            "{} does not exist (nor does the folder above it)",
            path.display()
        ))
    }
}

/// The folder holding `path` (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Proves `folder` writable: creates a file in it and removes it.
fn probe(folder: &Path) -> std::io::Result<()> {
    let probe = folder.join(format!(".theory-conform-probe-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)?;
    std::fs::remove_file(&probe)
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn a_writable_folder_is_made_and_left_empty() {
        let dir = Path::new("/tmp").join(format!("outputs-test-{}", std::process::id()));
        let made = dir.join("a/b");
        create_writable(&made).unwrap();
        assert_eq!(std::fs::read_dir(&made).unwrap().count(), 0);
        check_report_file(&made.join("r.json")).unwrap();
        assert_eq!(std::fs::read_dir(&made).unwrap().count(), 0);
        check_existing_or_child(&made.join("new")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unwritable_missing_and_misplaced_paths_are_named() {
        assert!(
            create_writable(Path::new("/proc/nope"))
                .unwrap_err()
                .contains("/proc/nope")
        );
        assert!(
            check_report_file(Path::new("/"))
                .unwrap_err()
                .contains("is a folder")
        );
        assert!(
            check_report_file(Path::new("/etc/hostname/r.xml"))
                .unwrap_err()
                .contains("is not a folder")
        );
        assert!(check_report_file(Path::new("/proc/r.xml")).is_err());
        assert!(check_existing_or_child(Path::new("/nonexistent/dir")).is_err());
    }
}
