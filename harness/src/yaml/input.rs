//! The one way the harness reads an input file (a scenario, an include, a card profile, a
//! conformance file, a pairs file, service records): a regular file of UTF-8 text under a
//! size limit. Anything else is refused before it can cost anything: a FIFO would block
//! the reader forever, `/dev/zero` or `/dev/urandom` never end, a folder is no text.
//!
//! The limit is [`DEFAULT_MAX_FILE_BYTES`] unless `$MYNA_HIL_MAX_FILE_BYTES` says otherwise
//! (a number of bytes). It is checked on the file's size before reading, and again by
//! reading at most one byte more than it, so a file that grows, or lies about its size
//! (`/proc`), still costs at most the limit.

use super::diagnostic::Diagnostic;
use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The largest input file read, unless [`MAX_FILE_BYTES_ENV`] says otherwise: far above
/// any real scenario or profile (the largest shipped file is a few KiB), far below what
/// would slow a run down.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// The environment variable that sets the largest input file, in bytes.
pub const MAX_FILE_BYTES_ENV: &str = "MYNA_HIL_MAX_FILE_BYTES";

/// Why an input file was not read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("it is {0}, not a regular file")]
    NotAFile(&'static str),
    #[error(
        "it is larger than the limit of {limit} bytes (set ${MAX_FILE_BYTES_ENV} to change it)"
    )]
    TooLarge { limit: u64 },
    #[error("it is not UTF-8 text (byte {offset} is not)")]
    NotUtf8 { offset: usize },
    #[error("${MAX_FILE_BYTES_ENV} is `{0}`, not a number of bytes")]
    BadLimit(String),
}

impl InputError {
    /// The error as a diagnostic at `path`:1:1 (nothing of the file is shown).
    pub fn diagnostic(&self, path: &Path) -> Diagnostic {
        Diagnostic::at_file(path, format!("cannot read the file: {self}"), None)
    }
}

/// The size limit in force: [`MAX_FILE_BYTES_ENV`] if set, else [`DEFAULT_MAX_FILE_BYTES`].
pub fn max_file_bytes() -> Result<u64, InputError> {
    match std::env::var(MAX_FILE_BYTES_ENV) {
        Err(_) => Ok(DEFAULT_MAX_FILE_BYTES),
        Ok(text) => text
            .trim()
            .parse::<u64>()
            .map_err(|_| InputError::BadLimit(text)),
    }
}

/// Reads the input file at `path` under the limit in force (see the module's comment).
pub fn read_input(path: &Path) -> Result<String, InputError> {
    read_input_limited(path, max_file_bytes()?)
}

/// [`read_input`] with an explicit limit in bytes.
pub fn read_input_limited(path: &Path, limit: u64) -> Result<String, InputError> {
    // Before opening: opening a FIFO for reading blocks until a writer comes.
    regular(&std::fs::metadata(path)?)?;
    // Non-blocking, and checked again on the same descriptor: the path may have been
    // replaced by a FIFO or a device between the two looks.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    regular(&meta)?;
    if meta.len() > limit {
        return Err(InputError::TooLarge { limit });
    }
    read_bounded(file, limit)
}

/// At most `limit` bytes of `file` as UTF-8 text; one byte more is an error.
fn read_bounded(file: File, limit: u64) -> Result<String, InputError> {
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge { limit });
    }
    String::from_utf8(bytes).map_err(|e| InputError::NotUtf8 {
        offset: e.utf8_error().valid_up_to(),
    })
}

/// Ok for a regular file; what it is otherwise.
fn regular(meta: &Metadata) -> Result<(), InputError> {
    if meta.is_file() {
        Ok(())
    } else {
        Err(InputError::NotAFile(common::fs::kind_name(
            meta.file_type(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("myna-input-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn reads_a_regular_file_under_the_limit() {
        let dir = temp("ok");
        let file = dir.join("a.yaml");
        std::fs::write(&file, "name: x\n").unwrap();
        assert_eq!(read_input_limited(&file, 8).unwrap(), "name: x\n");
        assert!(matches!(
            read_input_limited(&file, 7),
            Err(InputError::TooLarge { limit: 7 })
        ));
    }

    #[test]
    fn refuses_what_is_not_a_regular_file() {
        let dir = temp("kinds");
        let fifo = dir.join("fifo.yaml");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Refused by its metadata: no open, so no blocking without a writer.
        assert!(matches!(
            read_input_limited(&fifo, 10),
            Err(InputError::NotAFile("a FIFO"))
        ));
        assert!(matches!(
            read_input_limited(&dir, 10),
            Err(InputError::NotAFile("a folder"))
        ));
        assert!(matches!(
            read_input_limited(Path::new("/dev/zero"), 10),
            Err(InputError::NotAFile("a character device"))
        ));
    }

    #[test]
    fn a_file_that_lies_about_its_size_costs_at_most_the_limit() {
        // /proc files say they are empty and are not.
        let text = read_input_limited(Path::new("/proc/self/status"), 1 << 20).unwrap();
        assert!(text.contains("Name:"), "{text}");
        assert!(matches!(
            read_input_limited(Path::new("/proc/self/status"), 16),
            Err(InputError::TooLarge { limit: 16 })
        ));
    }

    #[test]
    fn refuses_bytes_that_are_not_utf8() {
        let dir = temp("utf8");
        let file = dir.join("a.yaml");
        std::fs::write(&file, b"ab\xffc").unwrap();
        assert!(matches!(
            read_input_limited(&file, 100),
            Err(InputError::NotUtf8 { offset: 2 })
        ));
    }
}
