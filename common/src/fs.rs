//! The one way the workspace writes an output file. A reader (or a run killed mid-write)
//! sees the old file or the new one, never half of either; and a path the user pointed at
//! something that is not a regular file is never turned into one:
//!
//! - a regular file, or nothing yet: written to a temporary file beside it (a name unique to
//!   the process and call), synced, renamed over it; the temporary is removed on failure;
//! - a symbolic link: the same, at the file the link finally names (the link stays a link);
//! - a character device (`/dev/null`, a terminal) or a FIFO: written in place, as the user
//!   asked (a FIFO without a reader is an error, never a hang);
//! - anything else (a folder, a block device, a socket): refused.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// How a path is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Replaced atomically: this is the regular file (or the place for a new one).
    Replace(PathBuf),
    /// Written in place: a character device or a FIFO.
    InPlace(PathBuf),
}

/// Decides how `path` would be written, without writing: the check a command runs on its
/// output paths before it starts work. Fails for a folder, a block device, a socket, a
/// dangling chain of links, or a folder that does not exist.
pub fn output_target(path: &Path) -> io::Result<Output> {
    let target = resolve_links(path)?;
    match fs::metadata(&target) {
        Ok(meta) => {
            let kind = meta.file_type();
            if kind.is_file() {
                Ok(Output::Replace(target))
            } else if kind.is_char_device() || kind.is_fifo() {
                Ok(Output::InPlace(target))
            } else if kind.is_dir() {
                Err(io::Error::new(
                    io::ErrorKind::IsADirectory,
                    "is a folder, not a file",
                ))
            } else {
                Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "is a block device or socket, not a file",
                ))
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let parent = parent_of(&target);
            if !fs::metadata(parent).map(|m| m.is_dir()).unwrap_or(false) {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("its folder {} does not exist", parent.display()),
                ));
            }
            Ok(Output::Replace(target))
        }
        Err(e) => Err(e),
    }
}

/// Checks that a file can be created in `folder` (it exists, is a folder, is writable, the
/// file system is not read-only) by creating and removing a temporary file there.
pub fn probe_folder(folder: &Path) -> io::Result<()> {
    let probe = temporary_beside(&folder.join("probe"))?;
    fs::File::create(&probe)?;
    fs::remove_file(&probe)
}

/// What a file system entry is, in words, for a message that refuses it ("a folder", "a
/// FIFO", …): the one such table of the workspace (input files, bundles).
pub fn kind_name(kind: fs::FileType) -> &'static str {
    if kind.is_file() {
        "a file"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_dir() {
        "a folder"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

/// Takes an exclusive advisory lock on `file` without waiting: `WouldBlock` when another
/// process holds it (two runs writing one output folder). Released when the file closes.
pub fn try_lock_exclusive(file: &fs::File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor this `File` owns; no memory is passed.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Writes `bytes` to `path` as the module comment says.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// [`write_atomic`] for output made piece by piece: `fill` writes into a buffered writer
/// (the temporary file, or the device in place), so a large report is never held whole in
/// memory.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    match output_target(path)? {
        Output::Replace(target) => replace(&target, fill),
        Output::InPlace(target) => {
            // Non-blocking open: a FIFO nobody reads fails (ENXIO) instead of hanging.
            let f = fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&target)?;
            let mut w = io::BufWriter::new(f);
            fill(&mut w)?;
            w.flush()
        }
    }
}

fn replace(path: &Path, fill: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    let tmp = temporary_beside(path)?;
    let result = (|| {
        let mut w = io::BufWriter::new(fs::File::create(&tmp)?);
        fill(&mut w)?;
        let f = w.into_inner().map_err(io::IntoInnerError::into_error)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The file a chain of symbolic links finally names (relative links resolve against the
/// folder of the link); `path` itself when it is not a link. At most 40 links, like the
/// kernel.
fn resolve_links(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let next = fs::read_link(&current)?;
                current = parent_of(&current).join(next);
            }
            _ => return Ok(current),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        "too many levels of symbolic links",
    ))
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `.<name>.tmp-<pid>-<n>` in `path`'s folder.
fn temporary_beside(path: &Path) -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    Ok(path.with_file_name(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("common-fs-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = scratch("replace");
        let path = dir.join("out.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.json"]);
    }

    #[test]
    fn a_failed_write_leaves_no_temporary() {
        let dir = scratch("fail");
        // Renaming a file over a folder fails after the temporary was written.
        let path = dir.join("taken");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("x"), b"").unwrap();
        assert!(write_atomic(&path, b"data").is_err());
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["taken"]);
    }

    #[test]
    fn no_file_name_is_an_error() {
        assert!(write_atomic(Path::new("/"), b"x").is_err());
    }

    #[test]
    fn a_second_lock_is_refused_until_the_first_closes() {
        let path = scratch("lock").join("log");
        let first = fs::File::create(&path).unwrap();
        try_lock_exclusive(&first).unwrap();
        let second = fs::OpenOptions::new().write(true).open(&path).unwrap();
        let e = try_lock_exclusive(&second).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        drop(first);
        try_lock_exclusive(&second).unwrap();
    }

    #[test]
    fn a_link_stays_a_link_and_its_target_is_replaced() {
        let dir = scratch("link");
        let real = dir.join("real.xml");
        fs::write(&real, b"old").unwrap();
        let link = dir.join("junit.xml");
        std::os::unix::fs::symlink("real.xml", &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&real).unwrap(), b"new");
        // A dangling link creates its target.
        let dangling = dir.join("d.xml");
        std::os::unix::fs::symlink("made.xml", &dangling).unwrap();
        write_atomic(&dangling, b"x").unwrap();
        assert_eq!(fs::read(dir.join("made.xml")).unwrap(), b"x");
    }

    #[test]
    fn devices_are_written_in_place_and_never_replaced() {
        // /dev/null takes the bytes and stays a device (a rename would need root, but the
        // decision is taken before any rename).
        assert_eq!(
            output_target(Path::new("/dev/null")).unwrap(),
            Output::InPlace("/dev/null".into())
        );
        write_atomic(Path::new("/dev/null"), b"x").unwrap();
        assert!(fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device());
        // /dev/full is a device whose writes fail: the error comes back.
        let e = write_atomic(Path::new("/dev/full"), b"x").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(28), "{e}"); // ENOSPC
    }

    #[test]
    fn a_fifo_without_reader_is_an_error_not_a_hang() {
        let dir = scratch("fifo");
        let fifo = dir.join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        assert_eq!(output_target(&fifo).unwrap(), Output::InPlace(fifo.clone()));
        let e = write_atomic(&fifo, b"x").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(6), "{e}"); // ENXIO
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    }

    #[test]
    fn folders_missing_folders_and_read_only_folders_are_refused() {
        let dir = scratch("refuse");
        assert_eq!(
            output_target(&dir).unwrap_err().kind(),
            io::ErrorKind::IsADirectory
        );
        let missing = dir.join("no/such/file.json");
        assert!(output_target(&missing).is_err());
        assert!(write_atomic(&missing, b"x").is_err());
        assert!(probe_folder(&dir).is_ok());
        assert!(probe_folder(&dir.join("no")).is_err());
        assert!(probe_folder(Path::new("/proc")).is_err());
        let names: Vec<_> = fs::read_dir(&dir).unwrap().collect();
        assert!(names.is_empty(), "the probe leaves nothing behind");
    }
}
