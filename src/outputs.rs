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

/// Writes `bytes` as `<folder>/<reserved>/<name>` in a folder a processor
/// shares (CONTRACT.md §7: the envelope beside the artifacts, in the folder
/// the contract reserves), never through a link a processor planted: the
/// reserved folder is created (or reused) and opened without following a
/// link, the bytes go to a new file in it, which is renamed over `name`
/// (a rename replaces the name; it never writes where a link points).
///
/// # Errors
///
/// `reserved` or `name` is a link or not what it should be (a file where a
/// folder must be), or any IO error; nothing is written outside `folder`.
pub fn write_reserved(
    folder: &Path,
    reserved: &str,
    name: &str,
    bytes: &[u8],
) -> std::io::Result<()> {
    use rustix::fs::{CWD, Mode, OFlags};
    use std::io::Write as _;

    std::fs::create_dir_all(folder)?;
    let dir = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC;
    let root = rustix::fs::openat(CWD, folder, dir, Mode::empty())?;
    match rustix::fs::mkdirat(&root, reserved, Mode::from_raw_mode(0o755)) {
        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
        Err(e) => return Err(e.into()),
    }
    let home = rustix::fs::openat(&root, reserved, dir | OFlags::NOFOLLOW, Mode::empty())
        .map_err(|e| refused(&root, reserved, e))?;
    let temporary = format!(".{name}.{}.tmp", std::process::id());
    let file = rustix::fs::openat(
        &home,
        temporary.as_str(),
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )?;
    let written = std::fs::File::from(file).write_all(bytes);
    let renamed = written.and_then(|()| {
        rustix::fs::renameat(&home, temporary.as_str(), &home, name)
            .map_err(|e| refused(&home, name, e))
    });
    if renamed.is_err() {
        let _ = rustix::fs::unlinkat(&home, temporary.as_str(), rustix::fs::AtFlags::empty());
    }
    renamed
}

/// An error naming what was in `dir` as `what`, a link above all.
fn refused(dir: &std::os::fd::OwnedFd, what: &str, e: rustix::io::Errno) -> std::io::Error {
    let kind = rustix::fs::statat(dir, what, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
        .map(|st| rustix::fs::FileType::from_raw_mode(st.st_mode));
    let why = match (kind, e) {
        (Ok(rustix::fs::FileType::Symlink), _) => "is a link (not followed)".to_owned(),
        (_, rustix::io::Errno::NOTDIR) => "is not a folder".to_owned(),
        (_, rustix::io::Errno::ISDIR) => "is a folder".to_owned(),
        (_, e) => e.to_string(),
    };
    std::io::Error::other(format!("{what} {why}"))
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
    fn a_reserved_file_is_written_fresh_and_replaced_on_a_rerun() {
        let dir = tempfile::tempdir().unwrap();
        write_reserved(dir.path(), ".theory", "envelope.json", b"one").unwrap();
        write_reserved(dir.path(), ".theory", "envelope.json", b"two").unwrap();
        let reserved = dir.path().join(".theory");
        assert_eq!(
            std::fs::read(reserved.join("envelope.json")).unwrap(),
            b"two"
        );
        // Nothing but the file: the temporary one was renamed.
        assert_eq!(std::fs::read_dir(&reserved).unwrap().count(), 1);
    }

    #[test]
    fn a_link_planted_in_the_reserved_place_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = tempfile::tempdir().unwrap();
        let victim_file = victim.path().join("victim.txt");
        std::fs::write(&victim_file, b"mine").unwrap();

        // The reserved folder is a link to a folder elsewhere: refused.
        let folder = dir.path().join("a");
        std::fs::create_dir(&folder).unwrap();
        std::os::unix::fs::symlink(victim.path(), folder.join(".theory")).unwrap();
        let e = write_reserved(&folder, ".theory", "envelope.json", b"x").unwrap_err();
        assert!(e.to_string().contains(".theory is a link"), "{e}");
        assert_eq!(std::fs::read_dir(victim.path()).unwrap().count(), 1);

        // The file is a link to a file elsewhere: the link is replaced,
        // the file it pointed at is untouched.
        let folder = dir.path().join("b");
        std::fs::create_dir_all(folder.join(".theory")).unwrap();
        std::os::unix::fs::symlink(&victim_file, folder.join(".theory/envelope.json")).unwrap();
        write_reserved(&folder, ".theory", "envelope.json", b"x").unwrap();
        assert_eq!(std::fs::read(&victim_file).unwrap(), b"mine");
        let written = folder.join(".theory/envelope.json");
        assert!(std::fs::symlink_metadata(&written).unwrap().is_file());
        assert_eq!(std::fs::read(&written).unwrap(), b"x");

        // The reserved name is a file: refused, the file kept.
        let folder = dir.path().join("c");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join(".theory"), b"processor's").unwrap();
        let e = write_reserved(&folder, ".theory", "envelope.json", b"x").unwrap_err();
        assert!(e.to_string().contains("is not a folder"), "{e}");
        assert_eq!(
            std::fs::read(folder.join(".theory")).unwrap(),
            b"processor's"
        );
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
