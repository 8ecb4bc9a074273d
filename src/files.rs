//! Files that hold secrets (the key file, the SQLite database): created so
//! that only their owner may read them, and refused when others may.
//!
//! Modes are set when a file is created, not changed afterwards: a `chmod`
//! after `create` leaves a moment in which the file is readable by others,
//! and `umask` is process-wide, so changing it would affect every other file
//! the process creates.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Read and write for the owner, nothing for group and others.
#[cfg(unix)]
pub const PRIVATE_MODE: u32 = 0o600;

/// Creates `path`, which must not exist yet, readable only by its owner.
pub fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, PRIVATE_MODE);
    options.open(path)
}

/// Creates an empty private file at `path` unless something is already
/// there; returns whether it created one. Two processes racing to create
/// it are both fine: `create_new` lets exactly one win.
pub fn ensure_private(path: &Path) -> io::Result<bool> {
    match create_private(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// The permission bits of `path` when group or others have any access to
/// it, else `None`. Always `None` where Unix modes do not exist.
pub fn open_to_others(path: &Path) -> io::Result<Option<u32>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
        Ok((mode & 0o077 != 0).then_some(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(None)
    }
}

/// The message for a secret file that others may read: what is wrong and
/// the command that fixes it.
pub fn too_open(what: &str, path: &Path, mode: u32) -> String {
    format!(
        "{what} {} is readable or writable by group or others (mode {mode:04o}): \
         run chmod 600 {}",
        path.display(),
        path.display()
    )
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_private_and_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        assert!(ensure_private(&path).unwrap());
        assert_eq!(mode(&path), 0o600);
        assert!(!ensure_private(&path).unwrap(), "an existing file is kept");
        assert!(create_private(&path).is_err(), "never overwrites");
    }

    #[test]
    fn group_or_other_access_is_reported_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        create_private(&path).unwrap();
        assert_eq!(open_to_others(&path).unwrap(), None);
        for loose in [0o644, 0o640, 0o620, 0o604, 0o700 | 0o001] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(loose)).unwrap();
            assert_eq!(open_to_others(&path).unwrap(), Some(loose), "{loose:o}");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(open_to_others(&path).unwrap(), None, "owner-only read");
        let msg = too_open("key file", &path, 0o644);
        assert!(msg.contains("(mode 0644)"), "{msg}");
        assert!(
            msg.ends_with(&format!("chmod 600 {}", path.display())),
            "{msg}"
        );
    }
}
