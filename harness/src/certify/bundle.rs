//! Evidence bundles (docs/attestation.md): a folder of files sealed by a signed in-toto
//! statement, [`ENVELOPE`] at its top, and the folder's deterministic ustar archive.
//!
//! The invariant: [`verify`] accepts a folder only when the envelope's signature verifies
//! with the given key and the folder's regular files are exactly the statement's subjects,
//! byte for byte. Otherwise it reports every difference, each naming its file, so a
//! reviewer learns what was changed, added or removed, not merely that something was.
//!
//! A bundle under verification is hostile: symbolic links are reported, never followed
//! (files are opened with `O_NOFOLLOW`), special files are never opened, names that could
//! leave the folder are refused, and an archive is unpacked only into a folder made for it,
//! within limits on its size and number of entries. Folders are not subjects: an empty
//! folder carries no evidence and is ignored.

use super::attest::{self, AttestError, KeyPair, PublicKey, Statement, Subject};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The envelope's file, at the top of the bundle; the one file not among the subjects.
pub const ENVELOPE: &str = "attestation.dsse.json";
/// The most bytes of files an archive may unpack to.
pub const MAX_TAR_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// The most entries an archive may hold.
pub const MAX_TAR_ENTRIES: usize = 100_000;
/// The most entries (files, folders, others) a walk looks at before it gives up.
const MAX_WALK_ENTRIES: usize = 2 * attest::MAX_SUBJECTS;

const BLOCK: usize = 512;
/// The ustar name and prefix fields.
const NAME_FIELD: usize = 100;
const PREFIX_FIELD: usize = 155;
/// The largest size a 12-byte octal field holds (11 digits): 8 GiB less one byte.
const MAX_USTAR_SIZE: u64 = 0o777_7777_7777;

/// One way a folder differs from what its signed statement says, or cannot be checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// A `.tar` bundle could not be unpacked.
    Archive {
        why: String,
    },
    /// The envelope is missing, unreadable or malformed, or no signature verifies.
    BadSignature {
        why: String,
    },
    /// The signature verifies, but the payload is no statement this harness can check.
    BadStatement {
        why: String,
    },
    /// The walk stopped: the folder holds more entries than a bundle may.
    TooManyFiles {
        limit: usize,
    },
    /// The file's SHA-256 is not the signed one.
    Changed {
        name: String,
    },
    /// In the folder, not in the statement.
    Added {
        name: String,
    },
    /// In the statement, not in the folder.
    Removed {
        name: String,
    },
    /// A symbolic link, a FIFO, a device or a socket.
    NotAFile {
        name: String,
        what: &'static str,
    },
    /// A name no bundle holds (not UTF-8, a control character, too long).
    BadName {
        name: String,
        why: &'static str,
    },
    Unreadable {
        name: String,
        why: String,
    },
}

impl Finding {
    /// Findings about the whole bundle first, then by file name.
    fn sort_key(&self) -> (u8, &str) {
        match self {
            Finding::Archive { .. } => (0, ""),
            Finding::BadSignature { .. } => (1, ""),
            Finding::BadStatement { .. } => (2, ""),
            Finding::TooManyFiles { .. } => (3, ""),
            Finding::Changed { name }
            | Finding::Added { name }
            | Finding::Removed { name }
            | Finding::NotAFile { name, .. }
            | Finding::BadName { name, .. }
            | Finding::Unreadable { name, .. } => (4, name),
        }
    }

    /// The file the finding names, if it names one.
    pub fn name(&self) -> Option<&str> {
        match self.sort_key() {
            (4, name) => Some(name),
            _ => None,
        }
    }
}

impl Ord for Finding {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.sort_key(), self.to_string()).cmp(&(other.sort_key(), other.to_string()))
    }
}

impl PartialOrd for Finding {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |name: &str| common::text::escape_controls(name).into_owned();
        match self {
            Finding::Archive { why } => write!(f, "the archive cannot be unpacked: {why}"),
            Finding::BadSignature { why } => write!(f, "{ENVELOPE}: {why}"),
            Finding::BadStatement { why } => {
                write!(f, "{ENVELOPE}: the signed statement cannot be used: {why}")
            }
            Finding::TooManyFiles { limit } => write!(
                f,
                "the folder holds more than {limit} entries; the rest was not examined"
            ),
            Finding::Changed { name } => write!(
                f,
                "{}: changed (its SHA-256 is not the signed one)",
                shown(name)
            ),
            Finding::Added { name } => {
                write!(f, "{}: added (not in the signed statement)", shown(name))
            }
            Finding::Removed { name } => write!(
                f,
                "{}: removed (in the signed statement, not in the folder)",
                shown(name)
            ),
            Finding::NotAFile { name, what } => write!(
                f,
                "{}: is {what}, not a regular file (a bundle holds regular files only)",
                shown(name)
            ),
            Finding::BadName { name, why } => write!(f, "{}: {why}", shown(name)),
            Finding::Unreadable { name, why } => {
                write!(f, "{}: cannot be read: {why}", shown(name))
            }
        }
    }
}

/// Findings for people: one a line, in order.
pub fn render(findings: &[Finding]) -> String {
    let mut out = String::new();
    for finding in findings {
        out.push_str(&finding.to_string());
        out.push('\n');
    }
    out
}

/// Why a bundle could not be sealed or archived, or an archive unpacked.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: is not a folder", path.display())]
    NotAFolder { path: PathBuf },
    #[error("the folder holds what a bundle cannot:\n{}", render(.0).trim_end())]
    Tree(Vec<Finding>),
    #[error(transparent)]
    Attest(#[from] AttestError),
    #[error("{}: {source}", path.display())]
    Tar { path: PathBuf, source: TarError },
    #[error("{}: the archive would be inside the folder it archives", path.display())]
    TarInside { path: PathBuf },
    #[error("the envelope would be {size} bytes, more than the {limit} a verifier reads")]
    EnvelopeTooLarge { size: usize, limit: u64 },
}

/// Why an archive was refused.
#[derive(Debug, thiserror::Error)]
pub enum TarError {
    #[error("the archive ends early (in entry {entry}, or before its end blocks)")]
    Truncated { entry: usize },
    #[error("entry {entry}: the header's checksum is wrong (the archive is damaged)")]
    BadChecksum { entry: usize },
    #[error("entry {entry}: not a ustar header")]
    NotUstar { entry: usize },
    #[error("entry {entry}: its {field} is not an octal number")]
    BadNumber { entry: usize, field: &'static str },
    #[error("a zero block is followed by data: the archive is damaged")]
    BadEnd,
    #[error(
        "`{}` is {what}; a bundle archive holds only regular files and folders",
        shown(name)
    )]
    EntryType { name: String, what: &'static str },
    #[error("`{}`: {why}", shown(name))]
    BadName { name: String, why: &'static str },
    #[error("`{}` is in the archive twice", shown(name))]
    Duplicate { name: String },
    #[error("`{}` is both a file and a folder", shown(name))]
    Conflict { name: String },
    #[error("`{}` is a folder with a size", shown(name))]
    FolderSize { name: String },
    #[error("the archive's files hold more than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the archive holds more than {limit} entries")]
    TooManyEntries { limit: usize },
    #[error(
        "`{}`: the name does not fit ustar (100 bytes, or 155 and 100 split at a `/`)",
        shown(name)
    )]
    NameTooLong { name: String },
    #[error("`{}` is larger than ustar allows (8 GiB)", shown(name))]
    FileTooLarge { name: String },
    #[error("{0}")]
    Io(#[from] io::Error),
}

fn shown(name: &str) -> String {
    common::text::escape_controls(name).into_owned()
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A folder's regular files (names relative, `/` between parts, sorted) and whatever else
/// it holds that a bundle cannot.
struct Walk {
    files: Vec<String>,
    problems: Vec<Finding>,
}

/// Walks `dir` without following links. `skip_envelope`: the top-level [`ENVELOPE`] is
/// left out (it signs the rest). Fails only when `dir` itself is no readable folder.
fn walk(dir: &Path, skip_envelope: bool) -> Result<Walk, BundleError> {
    let meta = fs::symlink_metadata(dir).map_err(io_at(dir))?;
    if !meta.is_dir() {
        return Err(BundleError::NotAFolder {
            path: dir.to_owned(),
        });
    }
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let mut seen = 0usize;
    // Relative names of folders still to read; "" is the top.
    let mut pending = vec![String::new()];
    while let Some(folder) = pending.pop() {
        let path = if folder.is_empty() {
            dir.to_owned()
        } else {
            dir.join(&folder)
        };
        let entries = match fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) if folder.is_empty() => return Err(io_at(dir)(e)),
            Err(e) => {
                problems.push(Finding::Unreadable {
                    name: folder,
                    why: e.to_string(),
                });
                continue;
            }
        };
        for entry in entries {
            seen += 1;
            if seen > MAX_WALK_ENTRIES || files.len() > attest::MAX_SUBJECTS {
                problems.push(Finding::TooManyFiles {
                    limit: attest::MAX_SUBJECTS,
                });
                return Ok(sorted(files, problems));
            }
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    problems.push(Finding::Unreadable {
                        name: if folder.is_empty() {
                            ".".into()
                        } else {
                            folder.clone()
                        },
                        why: e.to_string(),
                    });
                    continue;
                }
            };
            let raw = entry.file_name();
            let join = |base: &str| {
                if folder.is_empty() {
                    base.to_owned()
                } else {
                    format!("{folder}/{base}")
                }
            };
            let Some(base) = raw.to_str() else {
                problems.push(Finding::BadName {
                    name: join(&raw.to_string_lossy()),
                    why: "the name is not UTF-8",
                });
                continue;
            };
            if skip_envelope && folder.is_empty() && base == ENVELOPE {
                continue;
            }
            let name = join(base);
            if let Err(why) = attest::check_name(&name) {
                problems.push(Finding::BadName { name, why });
                continue;
            }
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push(name),
                Ok(kind) if kind.is_file() => files.push(name),
                Ok(kind) => problems.push(Finding::NotAFile {
                    name,
                    what: common::fs::kind_name(kind),
                }),
                Err(e) => problems.push(Finding::Unreadable {
                    name,
                    why: e.to_string(),
                }),
            }
        }
    }
    if files.len() > attest::MAX_SUBJECTS {
        problems.push(Finding::TooManyFiles {
            limit: attest::MAX_SUBJECTS,
        });
    }
    Ok(sorted(files, problems))
}

fn sorted(mut files: Vec<String>, mut problems: Vec<Finding>) -> Walk {
    files.sort();
    problems.sort();
    Walk { files, problems }
}

/// Opens a regular file for reading: never through a link (`O_NOFOLLOW`), never blocking
/// on a FIFO put in its place, and checked again on the open descriptor.
fn open_regular(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                io::Error::other("it is a symbolic link (never followed)")
            } else {
                e
            }
        })?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(io::Error::other(format!(
            "it is {}, not a regular file",
            common::fs::kind_name(kind)
        )));
    }
    Ok(file)
}

/// Lower-case hex SHA-256 of the file at `path`, read in pieces.
fn hash_file(path: &Path) -> io::Result<String> {
    let mut file = open_regular(path)?;
    let mut hasher = openssl::sha::Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buffer[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hex::encode(hasher.finish()))
}

/// The SHA-256 of every regular file under `dir`, by relative name (`/` between parts),
/// sorted; all but the top-level [`ENVELOPE`]. A symbolic link, a special file or a name a
/// bundle cannot hold fails it, each named.
pub fn digest_tree(dir: &Path) -> Result<BTreeMap<String, String>, BundleError> {
    let walk = walk(dir, true)?;
    if !walk.problems.is_empty() {
        return Err(BundleError::Tree(walk.problems));
    }
    let mut out = BTreeMap::new();
    for name in walk.files {
        let path = dir.join(&name);
        let digest = hash_file(&path).map_err(io_at(&path))?;
        out.insert(name, digest);
    }
    Ok(out)
}

/// Seals `dir`: a statement over [`digest_tree`] with `predicate`, signed by `key`,
/// written to `dir/`[`ENVELOPE`] atomically (an earlier envelope is replaced). The
/// statement is returned.
pub fn seal(
    dir: &Path,
    predicate: serde_json::Value,
    predicate_type: &str,
    key: &KeyPair,
) -> Result<Statement, BundleError> {
    let path = dir.join(ENVELOPE);
    // write_atomic would write through a link; an envelope is a plain file.
    if let Ok(meta) = fs::symlink_metadata(&path) {
        if !meta.is_file() {
            return Err(BundleError::Tree(vec![Finding::NotAFile {
                name: ENVELOPE.to_owned(),
                what: common::fs::kind_name(meta.file_type()),
            }]));
        }
    }
    let subjects = digest_tree(dir)?
        .into_iter()
        .map(|(name, sha256)| Subject { name, sha256 })
        .collect();
    let statement = Statement::new(subjects, predicate_type, predicate)?;
    let envelope = attest::sign_envelope(&statement.to_json()?, key)?;
    let json = envelope.to_json()?;
    if json.len() as u64 > attest::MAX_ENVELOPE_BYTES {
        return Err(BundleError::EnvelopeTooLarge {
            size: json.len(),
            limit: attest::MAX_ENVELOPE_BYTES,
        });
    }
    common::fs::write_atomic(&path, &json).map_err(io_at(&path))?;
    Ok(statement)
}

/// A bundle that verified.
#[derive(Clone, Debug, PartialEq)]
pub struct Verified {
    /// The signed statement; its predicate is the caller's to read.
    pub statement: Statement,
    /// The id of the key whose signature verified.
    pub key_id: String,
}

/// Reads and decodes `dir/`[`ENVELOPE`] (not through a link), bounded.
fn read_envelope(dir: &Path) -> Result<attest::Envelope, String> {
    let path = dir.join(ENVELOPE);
    let file = open_regular(&path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => "there is none: the folder was never sealed".to_owned(),
        _ => format!("cannot be read: {e}"),
    })?;
    let mut bytes = Vec::new();
    file.take(attest::MAX_ENVELOPE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    attest::Envelope::from_json(&bytes).map_err(|e| e.to_string())
}

/// Verifies the bundle folder `dir` with `key`, as the module's comment says: the
/// signature first (without it the subjects mean nothing, so the folder is not compared
/// with them), then every file. All findings, sorted, or what verified.
pub fn verify(dir: &Path, key: &PublicKey) -> Result<Verified, Vec<Finding>> {
    let mut findings = Vec::new();
    let statement = match read_envelope(dir) {
        Err(why) => {
            findings.push(Finding::BadSignature { why });
            None
        }
        Ok(envelope) => match attest::verify_envelope(&envelope, key) {
            Err(e) => {
                findings.push(Finding::BadSignature { why: e.to_string() });
                None
            }
            Ok(payload) => match Statement::from_json(&payload) {
                Err(e) => {
                    findings.push(Finding::BadStatement { why: e.to_string() });
                    None
                }
                Ok(statement) => Some(statement),
            },
        },
    };
    let tree = match walk(dir, true) {
        Ok(tree) => tree,
        Err(e) => {
            findings.push(Finding::Unreadable {
                name: dir.display().to_string(),
                why: e.to_string(),
            });
            findings.sort();
            return Err(findings);
        }
    };
    let problem_names: BTreeSet<String> = tree
        .problems
        .iter()
        .filter_map(|f| f.name().map(str::to_owned))
        .collect();
    findings.extend(tree.problems);
    if let Some(statement) = &statement {
        let signed: BTreeMap<&str, &str> = statement
            .subjects
            .iter()
            .map(|s| (s.name.as_str(), s.sha256.as_str()))
            .collect();
        for name in &tree.files {
            let Some(&want) = signed.get(name.as_str()) else {
                findings.push(Finding::Added { name: name.clone() });
                continue;
            };
            match hash_file(&dir.join(name)) {
                Ok(got) if got == want => {}
                Ok(_) => findings.push(Finding::Changed { name: name.clone() }),
                Err(e) => findings.push(Finding::Unreadable {
                    name: name.clone(),
                    why: e.to_string(),
                }),
            }
        }
        let present: BTreeSet<&str> = tree.files.iter().map(String::as_str).collect();
        for name in signed.keys() {
            // A subject replaced by a link or a device is reported as that, not as gone.
            if !present.contains(name) && !problem_names.contains(*name) {
                findings.push(Finding::Removed {
                    name: (*name).to_owned(),
                });
            }
        }
    }
    match statement {
        Some(statement) if findings.is_empty() => Ok(Verified {
            statement,
            key_id: key.key_id().to_owned(),
        }),
        _ => {
            findings.sort();
            Err(findings)
        }
    }
}

/// Verifies a bundle archive: unpacked ([`unpack_tar`]) into a private folder under the
/// system's temporary folder, verified ([`verify`]), removed.
pub fn verify_archive(tar_path: &Path, key: &PublicKey) -> Result<Verified, Vec<Finding>> {
    let scratch = match scratch_folder() {
        Ok(scratch) => scratch,
        Err(e) => return Err(vec![Finding::Archive { why: e.to_string() }]),
    };
    let bundle = scratch.join("bundle");
    let result = match unpack_tar(tar_path, &bundle) {
        Ok(_) => verify(&bundle, key),
        Err(e) => Err(vec![Finding::Archive { why: e.to_string() }]),
    };
    let _ = fs::remove_dir_all(&scratch);
    result
}

/// A new folder of this process's own (mode 0700) under the temporary folder; a name taken
/// already, by anyone, is passed over.
fn scratch_folder() -> io::Result<PathBuf> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let base = std::env::temp_dir();
    for _ in 0..100 {
        let path = base.join(format!(
            "myna-hil-verify-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        match DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(
        "no free name for a temporary folder (100 tried)",
    ))
}

/// Splits a name into the ustar prefix and name fields.
fn split_name(name: &str) -> Result<(&[u8], &[u8]), TarError> {
    let bytes = name.as_bytes();
    if bytes.len() <= NAME_FIELD {
        return Ok((&[], bytes));
    }
    // The shortest prefix that leaves a name that fits: any split at a `/` is valid.
    for (i, _) in bytes.iter().enumerate().filter(|(_, &b)| b == b'/') {
        let rest = &bytes[i + 1..];
        if i > PREFIX_FIELD {
            break;
        }
        if !rest.is_empty() && rest.len() <= NAME_FIELD {
            return Ok((&bytes[..i], rest));
        }
    }
    Err(TarError::NameTooLong {
        name: name.to_owned(),
    })
}

/// Writes `value` in octal, zero-padded, NUL-terminated, filling `field`; false when it
/// does not fit.
fn put_octal(field: &mut [u8], value: u64) -> bool {
    let width = field.len().saturating_sub(1);
    let text = format!("{value:0width$o}");
    if text.len() != width {
        return false;
    }
    field[..width].copy_from_slice(text.as_bytes());
    field[width] = 0;
    true
}

/// A ustar header: mode 0644, owner 0:0, time 0, no user or group names.
fn ustar_header(name: &str, size: u64, typeflag: u8) -> Result<[u8; BLOCK], TarError> {
    let (prefix, base) = split_name(name)?;
    if size > MAX_USTAR_SIZE {
        return Err(TarError::FileTooLarge {
            name: name.to_owned(),
        });
    }
    let mut h = [0u8; BLOCK];
    h[..base.len()].copy_from_slice(base);
    let fits = put_octal(&mut h[100..108], 0o644)
        && put_octal(&mut h[108..116], 0)
        && put_octal(&mut h[116..124], 0)
        && put_octal(&mut h[124..136], size)
        && put_octal(&mut h[136..148], 0)
        && put_octal(&mut h[329..337], 0)
        && put_octal(&mut h[337..345], 0);
    if !fits {
        return Err(TarError::FileTooLarge {
            name: name.to_owned(),
        });
    }
    h[156] = typeflag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[345..345 + prefix.len()].copy_from_slice(prefix);
    // The checksum is summed with its own field as spaces, then written as six octal
    // digits, a NUL and a space.
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    Ok(h)
}

/// Writes the bundle folder `dir` as a ustar archive at `tar_path`, atomically: every
/// regular file (the envelope too), in sorted order, each with mode 0644, owner 0:0 and
/// time 0, so the same folder always makes the same bytes. A symbolic link, a special
/// file, or a name ustar cannot hold (over 100 bytes with no `/` to split it at 155) fails
/// it before anything is written.
pub fn write_tar(dir: &Path, tar_path: &Path) -> Result<(), BundleError> {
    let tree = walk(dir, false)?;
    if !tree.problems.is_empty() {
        return Err(BundleError::Tree(tree.problems));
    }
    let tar_err = |source| BundleError::Tar {
        path: tar_path.to_owned(),
        source,
    };
    for name in &tree.files {
        split_name(name).map_err(tar_err)?;
    }
    // An archive written into the folder would archive itself.
    let folder = fs::canonicalize(dir).map_err(io_at(dir))?;
    let parent = match tar_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(parent) = fs::canonicalize(parent) {
        if parent.starts_with(&folder) {
            return Err(BundleError::TarInside {
                path: tar_path.to_owned(),
            });
        }
    }
    common::fs::write_atomic_with(tar_path, |out| {
        for name in &tree.files {
            let path = dir.join(name);
            let in_words = |e: io::Error| io::Error::new(e.kind(), format!("{name}: {e}"));
            let file = open_regular(&path).map_err(in_words)?;
            let size = file.metadata().map_err(in_words)?.len();
            let header = ustar_header(name, size, b'0')
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
            out.write_all(&header)?;
            // Exactly the size the header says, though the file may change meanwhile.
            let copied = io::copy(&mut file.take(size), out)?;
            if copied != size {
                return Err(io::Error::other(format!(
                    "{name}: the file shrank while it was archived"
                )));
            }
            out.write_all(&[0u8; BLOCK][..padding(size)])?;
        }
        out.write_all(&[0u8; 2 * BLOCK])
    })
    .map_err(io_at(tar_path))
}

/// The zero bytes after `size` bytes of data, to the next block.
fn padding(size: u64) -> usize {
    // Below BLOCK, so the cast keeps every bit.
    ((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64) as usize
}

/// The limits an archive is unpacked under.
#[derive(Clone, Copy, Debug)]
struct Limits {
    bytes: u64,
    entries: usize,
}

const LIMITS: Limits = Limits {
    bytes: MAX_TAR_BYTES,
    entries: MAX_TAR_ENTRIES,
};

/// Unpacks the ustar archive `tar_path` into `into`, a new folder (mode 0700; refused if
/// it exists). Refused, and `into` removed again: an entry that is not a regular file or a
/// folder (a link, a device, a pax or GNU extension header), a name with `..`, an absolute
/// or non-normalised name, a name twice, a damaged header, a truncated archive, more than
/// [`MAX_TAR_ENTRIES`] entries or [`MAX_TAR_BYTES`] of files. The number of files is
/// returned.
pub fn unpack_tar(tar_path: &Path, into: &Path) -> Result<usize, BundleError> {
    unpack_limited(tar_path, into, LIMITS)
}

fn unpack_limited(tar_path: &Path, into: &Path, limits: Limits) -> Result<usize, BundleError> {
    let tar_err = |source| BundleError::Tar {
        path: tar_path.to_owned(),
        source,
    };
    // The archive may be named through a link; it must be a regular file.
    let meta = fs::metadata(tar_path).map_err(io_at(tar_path))?;
    if !meta.is_file() {
        return Err(tar_err(TarError::Io(io::Error::other(format!(
            "it is {}, not a regular file",
            common::fs::kind_name(meta.file_type())
        )))));
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(tar_path)
        .map_err(io_at(tar_path))?;
    DirBuilder::new()
        .mode(0o700)
        .create(into)
        .map_err(io_at(into))?;
    let result = unpack_into(io::BufReader::new(file), into, limits);
    if result.is_err() {
        // Ours, made just now, holding only what this call wrote.
        let _ = fs::remove_dir_all(into);
    }
    result.map_err(tar_err)
}

/// What a name already stands for in the archive being unpacked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen {
    File,
    Folder,
    /// A folder made for a file's parent, without an entry of its own.
    Parent,
}

fn read_block(r: &mut impl Read, entry: usize) -> Result<[u8; BLOCK], TarError> {
    let mut block = [0u8; BLOCK];
    r.read_exact(&mut block).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => TarError::Truncated { entry },
        _ => TarError::Io(e),
    })?;
    Ok(block)
}

/// A NUL-terminated (or full) text field.
fn text_field(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// An octal number field: optional leading spaces, digits, then NULs or spaces.
fn octal_field(field: &[u8], entry: usize, name: &'static str) -> Result<u64, TarError> {
    let bad = || TarError::BadNumber { entry, field: name };
    let start = field.iter().position(|&b| b != b' ').ok_or_else(bad)?;
    let digits = &field[start..];
    let end = digits
        .iter()
        .position(|&b| b == 0 || b == b' ')
        .unwrap_or(digits.len());
    if end == 0 || digits[end..].iter().any(|&b| b != 0 && b != b' ') {
        return Err(bad());
    }
    digits[..end].iter().try_fold(0u64, |n, &b| {
        if !(b'0'..=b'7').contains(&b) {
            return Err(bad());
        }
        n.checked_mul(8)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or_else(bad)
    })
}

fn type_name(typeflag: u8) -> &'static str {
    match typeflag {
        b'1' => "a hard link",
        b'2' => "a symbolic link",
        b'3' => "a character device",
        b'4' => "a block device",
        b'6' => "a FIFO",
        b'7' => "a contiguous file",
        b'x' | b'g' => "a pax extended header",
        b'L' | b'K' => "a GNU long name header",
        _ => "an entry of unknown type",
    }
}

fn unpack_into(mut r: impl Read, into: &Path, limits: Limits) -> Result<usize, TarError> {
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    let mut total = 0u64;
    let mut files = 0usize;
    let mut entry = 0usize;
    loop {
        entry += 1;
        let h = read_block(&mut r, entry)?;
        if h.iter().all(|&b| b == 0) {
            // The end: two zero blocks. What follows (padding to a record) is not read.
            let next = read_block(&mut r, entry)?;
            if next.iter().any(|&b| b != 0) {
                return Err(TarError::BadEnd);
            }
            return Ok(files);
        }
        if entry > limits.entries {
            return Err(TarError::TooManyEntries {
                limit: limits.entries,
            });
        }
        let stored = octal_field(&h[148..156], entry, "checksum")?;
        let sum: u64 = h
            .iter()
            .enumerate()
            .map(|(i, &b)| u64::from(if (148..156).contains(&i) { b' ' } else { b }))
            .sum();
        if stored != sum {
            return Err(TarError::BadChecksum { entry });
        }
        let posix = &h[257..263] == b"ustar\0" && &h[263..265] == b"00";
        let gnu = &h[257..265] == b"ustar  \0";
        if !posix && !gnu {
            return Err(TarError::NotUstar { entry });
        }
        let mut raw = Vec::with_capacity(NAME_FIELD + PREFIX_FIELD + 1);
        // GNU headers use the prefix's bytes for other things.
        let prefix = if posix { text_field(&h[345..500]) } else { &[] };
        if !prefix.is_empty() {
            raw.extend_from_slice(prefix);
            raw.push(b'/');
        }
        raw.extend_from_slice(text_field(&h[..NAME_FIELD]));
        let name = String::from_utf8(raw).map_err(|e| TarError::BadName {
            name: String::from_utf8_lossy(e.as_bytes()).into_owned(),
            why: "the name is not UTF-8",
        })?;
        let typeflag = h[156];
        let is_folder = match typeflag {
            b'0' | 0 => false,
            b'5' => true,
            other => {
                return Err(TarError::EntryType {
                    name,
                    what: type_name(other),
                })
            }
        };
        // A folder's name may end in one `/`.
        let name = match name.strip_suffix('/') {
            Some(stem) if is_folder => stem.to_owned(),
            _ => name,
        };
        attest::check_name(&name).map_err(|why| TarError::BadName {
            name: name.clone(),
            why,
        })?;
        let size = octal_field(&h[124..136], entry, "size")?;
        if is_folder && size != 0 {
            return Err(TarError::FolderSize { name });
        }
        total = total.saturating_add(size);
        if total > limits.bytes {
            return Err(TarError::TooLarge {
                limit: limits.bytes,
            });
        }
        record(&mut seen, &name, is_folder)?;
        let path = into.join(&name);
        if is_folder {
            fs::create_dir_all(&path)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)?;
        let copied = io::copy(&mut (&mut r).take(size), &mut file)?;
        if copied != size {
            return Err(TarError::Truncated { entry });
        }
        let mut pad = [0u8; BLOCK];
        r.read_exact(&mut pad[..padding(size)])
            .map_err(|_| TarError::Truncated { entry })?;
        files += 1;
    }
}

/// Records `name` as unpacked, refusing a name twice and a name that is a file in one
/// place and a folder in another. Everything written stays inside the new folder: names
/// are checked, parents are folders this call made, and no link is ever made.
fn record(seen: &mut BTreeMap<String, Seen>, name: &str, is_folder: bool) -> Result<(), TarError> {
    let conflict = || TarError::Conflict {
        name: name.to_owned(),
    };
    match (seen.get(name).copied(), is_folder) {
        (None, _) => {}
        (Some(Seen::Parent), true) => {}
        (Some(Seen::Parent), false) => return Err(conflict()),
        (Some(_), _) => {
            return Err(TarError::Duplicate {
                name: name.to_owned(),
            })
        }
    }
    let mut parent = name;
    while let Some((up, _)) = parent.rsplit_once('/') {
        match seen.get(up) {
            Some(Seen::File) => return Err(conflict()),
            Some(_) => {}
            None => {
                seen.insert(up.to_owned(), Seen::Parent);
            }
        }
        parent = up;
    }
    seen.insert(
        name.to_owned(),
        if is_folder { Seen::Folder } else { Seen::File },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("myna-bundle-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    const FILES: &[(&str, &[u8])] = &[
        ("summary.json", br#"{"certified":true}"#),
        ("cases/pin-01/log.txt", b"APDU 00A4...\n"),
        ("cases/pin-01/clip.y4m", b"\x00\x01\x02\xff binary"),
        ("cases/face-02/junit.xml", b"<testsuite/>"),
        ("empty.txt", b""),
    ];

    fn predicate() -> serde_json::Value {
        json!({"certified": true, "reasons": [], "plan": {"id": "jpki-face", "sha256": "00"}})
    }

    /// A sealed bundle of [`FILES`] in `scratch(name)/bundle`, and its key.
    fn sealed(name: &str) -> (PathBuf, KeyPair) {
        let dir = scratch(name).join("bundle");
        for (file, bytes) in FILES {
            let path = dir.join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, bytes).unwrap();
        }
        let key = KeyPair::generate().unwrap();
        seal(&dir, predicate(), attest::PREDICATE_TYPE, &key).unwrap();
        (dir, key)
    }

    fn public(key: &KeyPair) -> PublicKey {
        key.public_key().unwrap()
    }

    /// Verification fails with exactly `expected`.
    fn fails_with(dir: &Path, key: &PublicKey, expected: &[Finding]) {
        let findings = verify(dir, key).unwrap_err();
        assert_eq!(findings, expected, "{}", render(&findings));
    }

    fn signature_fails(dir: &Path, key: &PublicKey, words: &str) {
        let findings = verify(dir, key).unwrap_err();
        assert_eq!(findings.len(), 1, "{}", render(&findings));
        let text = findings[0].to_string();
        assert!(
            matches!(findings[0], Finding::BadSignature { .. }) && text.contains(words),
            "{text:?} lacks {words:?}"
        );
    }

    fn edit_envelope(dir: &Path, edit: impl FnOnce(&mut attest::Envelope)) {
        let path = dir.join(ENVELOPE);
        let mut envelope = attest::Envelope::from_json(&fs::read(&path).unwrap()).unwrap();
        edit(&mut envelope);
        fs::write(&path, envelope.to_json().unwrap()).unwrap();
    }

    #[test]
    fn a_sealed_bundle_verifies() {
        let (dir, key) = sealed("ok");
        let verified = verify(&dir, &public(&key)).unwrap();
        assert_eq!(verified.key_id, key.key_id());
        assert_eq!(verified.statement.predicate, predicate());
        assert_eq!(verified.statement.predicate_type, attest::PREDICATE_TYPE);
        let names: Vec<&str> = verified
            .statement
            .subjects
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        let mut expected: Vec<&str> = FILES.iter().map(|(n, _)| *n).collect();
        expected.sort();
        assert_eq!(names, expected, "sorted, the envelope left out");
        let empty = verified
            .statement
            .subjects
            .iter()
            .find(|s| s.name == "empty.txt");
        assert_eq!(empty.unwrap().sha256, attest::sha256_hex(b""));
        // Sealing again replaces the envelope, and still verifies.
        seal(&dir, predicate(), attest::PREDICATE_TYPE, &key).unwrap();
        assert!(verify(&dir, &public(&key)).is_ok());
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn one_changed_byte_in_any_file_is_named() {
        let (dir, key) = sealed("changed");
        let key = public(&key);
        for (name, bytes) in FILES {
            let path = dir.join(name);
            let mut tampered = bytes.to_vec();
            match tampered.last_mut() {
                Some(b) => *b ^= 1,
                None => tampered.push(0),
            }
            fs::write(&path, &tampered).unwrap();
            fails_with(
                &dir,
                &key,
                &[Finding::Changed {
                    name: (*name).into(),
                }],
            );
            fs::write(&path, bytes).unwrap();
            assert!(verify(&dir, &key).is_ok(), "{name} restored");
        }
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn added_removed_and_renamed_files_are_named() {
        let (dir, key) = sealed("added");
        let key = public(&key);
        fs::write(dir.join("cases/extra.txt"), b"x").unwrap();
        // A nested file named like the envelope is a file like any other.
        fs::write(dir.join("cases/attestation.dsse.json"), b"{}").unwrap();
        fails_with(
            &dir,
            &key,
            &[
                Finding::Added {
                    name: "cases/attestation.dsse.json".into(),
                },
                Finding::Added {
                    name: "cases/extra.txt".into(),
                },
            ],
        );
        fs::remove_file(dir.join("cases/extra.txt")).unwrap();
        fs::remove_file(dir.join("cases/attestation.dsse.json")).unwrap();

        fs::remove_file(dir.join("cases/face-02/junit.xml")).unwrap();
        fails_with(
            &dir,
            &key,
            &[Finding::Removed {
                name: "cases/face-02/junit.xml".into(),
            }],
        );

        fs::rename(dir.join("summary.json"), dir.join("summary2.json")).unwrap();
        let findings = verify(&dir, &key).unwrap_err();
        assert_eq!(
            findings,
            [
                Finding::Removed {
                    name: "cases/face-02/junit.xml".into()
                },
                Finding::Removed {
                    name: "summary.json".into()
                },
                Finding::Added {
                    name: "summary2.json".into()
                },
            ]
        );
        let text = render(&findings);
        assert!(text.contains("summary.json: removed (in the signed statement, not in the folder)"));
        assert!(
            text.contains("summary2.json: added (not in the signed statement)"),
            "{text}"
        );
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_payload_edited_to_match_a_tampered_file_fails_the_signature() {
        let (dir, key) = sealed("payload");
        let key = public(&key);
        let tampered = b"{\"certified\":false}";
        fs::write(dir.join("summary.json"), tampered).unwrap();
        edit_envelope(&dir, |e| {
            let mut statement = Statement::from_json(&e.payload).unwrap();
            for s in &mut statement.subjects {
                if s.name == "summary.json" {
                    s.sha256 = attest::sha256_hex(tampered);
                }
            }
            e.payload = statement.to_json().unwrap();
        });
        // Only the signature: unsigned subjects are never compared.
        signature_fails(
            &dir,
            &key,
            "does not verify: the payload or the signature was changed",
        );
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_changed_signature_payload_type_or_key_fails_in_words() {
        let (dir, key) = sealed("sig");
        let good = fs::read(dir.join(ENVELOPE)).unwrap();
        let public = public(&key);
        let restore = || fs::write(dir.join(ENVELOPE), &good).unwrap();

        edit_envelope(&dir, |e| e.signatures[0].sig[0] ^= 0x01);
        signature_fails(
            &dir,
            &public,
            "does not verify: the payload or the signature was changed",
        );
        restore();

        edit_envelope(&dir, |e| {
            e.payload_type = "application/vnd.in-toto+jsonx".into()
        });
        signature_fails(
            &dir,
            &public,
            "the payload type is `application/vnd.in-toto+jsonx`",
        );
        restore();

        edit_envelope(&dir, |e| e.signatures.clear());
        signature_fails(&dir, &public, "the envelope holds no signature");
        restore();

        let other = public_of_new_key();
        signature_fails(
            &dir,
            &other,
            &format!("not by the given key {}", other.key_id()),
        );

        fs::write(dir.join(ENVELOPE), b"not json").unwrap();
        signature_fails(&dir, &public, "not a DSSE JSON envelope");
        fs::remove_file(dir.join(ENVELOPE)).unwrap();
        signature_fails(&dir, &public, "there is none: the folder was never sealed");
        // An envelope that is a link is not followed, even to a good envelope.
        fs::write(dir.parent().unwrap().join("elsewhere.json"), &good).unwrap();
        std::os::unix::fs::symlink("../elsewhere.json", dir.join(ENVELOPE)).unwrap();
        signature_fails(&dir, &public, "is a symbolic link (never followed)");
        fs::remove_file(dir.join(ENVELOPE)).unwrap();
        fs::create_dir(dir.join(ENVELOPE)).unwrap();
        signature_fails(
            &dir,
            &public,
            "cannot be read: it is a folder, not a regular file",
        );
        fs::remove_dir(dir.join(ENVELOPE)).unwrap();
        restore();
        assert!(verify(&dir, &public).is_ok());
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    fn public_of_new_key() -> PublicKey {
        public(&KeyPair::generate().unwrap())
    }

    #[test]
    fn links_and_special_files_are_named_never_followed() {
        let (dir, key) = sealed("links");
        let key = public(&key);
        // A link to a signed file's own content still fails: links are never followed.
        std::os::unix::fs::symlink("summary.json", dir.join("alias.json")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.join("cases/etc")).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(dir.join("pipe"))
            .status()
            .unwrap();
        assert!(made.success());
        let findings = verify(&dir, &key).unwrap_err();
        assert_eq!(
            findings,
            [
                Finding::NotAFile {
                    name: "alias.json".into(),
                    what: "a symbolic link"
                },
                Finding::NotAFile {
                    name: "cases/etc".into(),
                    what: "a symbolic link"
                },
                Finding::NotAFile {
                    name: "pipe".into(),
                    what: "a FIFO"
                },
            ]
        );
        assert!(render(&findings).contains("alias.json: is a symbolic link, not a regular file"));
        // A signed file replaced by a link is named as a link, not as removed.
        fs::remove_file(dir.join("alias.json")).unwrap();
        fs::remove_file(dir.join("cases/etc")).unwrap();
        fs::remove_file(dir.join("pipe")).unwrap();
        fs::remove_file(dir.join("empty.txt")).unwrap();
        std::os::unix::fs::symlink("summary.json", dir.join("empty.txt")).unwrap();
        fails_with(
            &dir,
            &key,
            &[Finding::NotAFile {
                name: "empty.txt".into(),
                what: "a symbolic link",
            }],
        );
        // Sealing refuses them too.
        let e = seal(
            &dir,
            predicate(),
            attest::PREDICATE_TYPE,
            &KeyPair::generate().unwrap(),
        );
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("empty.txt: is a symbolic link"));
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn names_no_bundle_holds_are_refused() {
        use std::os::unix::ffi::OsStrExt;
        let dir = scratch("names");
        fs::write(dir.join("ok.txt"), b"").unwrap();
        fs::write(dir.join("bad\nname"), b"").unwrap();
        fs::write(dir.join(std::ffi::OsStr::from_bytes(b"latin\xe9")), b"").unwrap();
        fs::write(dir.join("back\\slash"), b"").unwrap();
        let Err(BundleError::Tree(problems)) = digest_tree(&dir) else {
            panic!("refused")
        };
        let text = render(&problems);
        assert_eq!(problems.len(), 3, "{text}");
        assert!(
            text.contains("bad\\x0aname: the name holds a control character"),
            "{text}"
        );
        assert!(
            text.contains("latin\u{fffd}: the name is not UTF-8"),
            "{text}"
        );
        assert!(
            text.contains("back\\slash: the name holds a backslash"),
            "{text}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_tar_is_deterministic_and_verifies_after_unpacking() {
        let (dir, key) = sealed("tar");
        let base = dir.parent().unwrap();
        // A long name takes the ustar prefix field.
        let long = format!("{}/{}.txt", "d".repeat(120), "n".repeat(90));
        fs::create_dir_all(dir.join("d".repeat(120))).unwrap();
        fs::write(dir.join(&long), b"long").unwrap();
        seal(&dir, predicate(), attest::PREDICATE_TYPE, &key).unwrap();
        let tar = base.join("bundle.tar");
        write_tar(&dir, &tar).unwrap();
        let bytes = fs::read(&tar).unwrap();
        write_tar(&dir, &base.join("again.tar")).unwrap();
        assert_eq!(
            fs::read(base.join("again.tar")).unwrap(),
            bytes,
            "deterministic"
        );
        assert_eq!(bytes.len() % BLOCK, 0);

        let into = base.join("unpacked");
        assert_eq!(unpack_tar(&tar, &into).unwrap(), FILES.len() + 2);
        let verified = verify(&into, &public(&key)).unwrap();
        assert!(verified.statement.subjects.iter().any(|s| s.name == long));
        assert!(verify_archive(&tar, &public(&key)).is_ok());
        let findings = verify_archive(&tar, &public_of_new_key()).unwrap_err();
        assert!(
            matches!(findings[..], [Finding::BadSignature { .. }]),
            "{findings:?}"
        );

        // The system's tar reads it as we wrote it.
        let listed = std::process::Command::new("tar")
            .arg("-tvf")
            .arg(&tar)
            .output()
            .unwrap();
        assert!(listed.status.success());
        let listing = String::from_utf8(listed.stdout).unwrap();
        assert!(listing.contains(&long), "{listing}");
        assert!(
            listing.lines().all(|l| l.starts_with("-rw-r--r-- 0/0")),
            "{listing}"
        );
        let by_tar = base.join("by-tar");
        fs::create_dir(&by_tar).unwrap();
        let extracted = std::process::Command::new("tar")
            .arg("-xf")
            .arg(&tar)
            .arg("-C")
            .arg(&by_tar)
            .status()
            .unwrap();
        assert!(extracted.success());
        assert!(verify(&by_tar, &public(&key)).is_ok());

        // Refused: unpacking into a folder that exists; an archive inside its folder.
        assert!(matches!(
            unpack_tar(&tar, &into),
            Err(BundleError::Io { .. })
        ));
        assert!(matches!(
            write_tar(&dir, &dir.join("x.tar")),
            Err(BundleError::TarInside { .. })
        ));
        fs::remove_dir_all(base).unwrap();
    }

    #[test]
    fn names_ustar_cannot_hold_are_refused_before_writing() {
        let dir = scratch("tarlong");
        let bundle = dir.join("b");
        fs::create_dir(&bundle).unwrap();
        fs::write(bundle.join("n".repeat(101)), b"").unwrap();
        let e = write_tar(&bundle, &dir.join("b.tar")).unwrap_err();
        assert!(e.to_string().contains("the name does not fit ustar"), "{e}");
        assert!(!dir.join("b.tar").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    /// An archive of raw entries (header, data), ended properly.
    fn archive(entries: &[([u8; BLOCK], &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (header, data) in entries {
            out.extend_from_slice(header);
            out.extend_from_slice(data);
            out.resize(out.len() + padding(data.len() as u64), 0);
        }
        out.resize(out.len() + 2 * BLOCK, 0);
        out
    }

    fn header(name: &str, data: &[u8], typeflag: u8) -> [u8; BLOCK] {
        ustar_header(name, data.len() as u64, typeflag).unwrap()
    }

    fn file(name: &str, data: &'static [u8]) -> ([u8; BLOCK], &'static [u8]) {
        (header(name, data, b'0'), data)
    }

    /// Unpacking `bytes` fails with words containing `words`, and leaves nothing.
    fn refused(base: &Path, bytes: &[u8], limits: Limits, words: &str) {
        let tar = base.join("hostile.tar");
        fs::write(&tar, bytes).unwrap();
        let into = base.join("into");
        let e = unpack_limited(&tar, &into, limits).unwrap_err().to_string();
        assert!(e.contains(words), "{e:?} lacks {words:?}");
        assert!(!into.exists(), "removed after {words}");
    }

    #[test]
    fn hostile_archives_are_refused() {
        let base = scratch("hostile");
        let ok = archive(&[file("a/b.txt", b"hello"), file("c.txt", b"")]);
        let tar = base.join("ok.tar");
        fs::write(&tar, &ok).unwrap();
        assert_eq!(unpack_tar(&tar, &base.join("ok")).unwrap(), 2);
        assert_eq!(fs::read(base.join("ok/a/b.txt")).unwrap(), b"hello");

        refused(
            &base,
            &archive(&[file("../x", b"x")]),
            LIMITS,
            "`../x`: the name holds a `..` part",
        );
        refused(
            &base,
            &archive(&[file("a/../../x", b"x")]),
            LIMITS,
            "`..` part",
        );
        refused(
            &base,
            &archive(&[file("/etc/x", b"x")]),
            LIMITS,
            "an absolute path",
        );
        refused(
            &base,
            &archive(&[file("./x", b"x")]),
            LIMITS,
            "not normalised",
        );
        refused(
            &base,
            &archive(&[(header("link", b"", b'2'), b"")]),
            LIMITS,
            "`link` is a symbolic link; a bundle archive holds only regular files and folders",
        );
        refused(
            &base,
            &archive(&[(header("hard", b"", b'1'), b"")]),
            LIMITS,
            "a hard link",
        );
        refused(
            &base,
            &archive(&[(header("dev", b"", b'3'), b"")]),
            LIMITS,
            "a character device",
        );
        refused(
            &base,
            &archive(&[(header("pax", b"", b'x'), b"")]),
            LIMITS,
            "a pax extended header",
        );
        refused(
            &base,
            &archive(&[file("a.txt", b"1"), file("a.txt", b"2")]),
            LIMITS,
            "`a.txt` is in the archive twice",
        );
        refused(
            &base,
            &archive(&[file("a", b"1"), file("a/b", b"2")]),
            LIMITS,
            "`a/b` is both a file and a folder",
        );
        refused(
            &base,
            &archive(&[file("a/b", b"1"), file("a", b"2")]),
            LIMITS,
            "`a` is both a file and a folder",
        );
        // Cut inside the data, inside a header, before the end blocks.
        refused(
            &base,
            &ok[..BLOCK + 3],
            LIMITS,
            "the archive ends early (in entry 1",
        );
        refused(
            &base,
            &ok[..2 * BLOCK + 100],
            LIMITS,
            "ends early (in entry 2",
        );
        refused(&base, &ok[..3 * BLOCK], LIMITS, "ends early");
        refused(&base, &ok[..ok.len() - BLOCK], LIMITS, "ends early");
        let mut damaged = ok.clone();
        damaged[3] ^= 0x20;
        refused(
            &base,
            &damaged,
            LIMITS,
            "entry 1: the header's checksum is wrong",
        );
        let mut not_ustar = ok.clone();
        not_ustar[257] = b'X';
        not_ustar[148..156].copy_from_slice(b"        ");
        let sum: u32 = not_ustar[..BLOCK].iter().map(|&b| u32::from(b)).sum();
        not_ustar[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        refused(&base, &not_ustar, LIMITS, "entry 1: not a ustar header");
        // GNU's base-256 size is not octal.
        let mut huge = header("big", b"", b'0');
        huge[124] = 0x80;
        huge[148..156].fill(b' ');
        let sum: u32 = huge.iter().map(|&b| u32::from(b)).sum();
        huge[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        refused(
            &base,
            &archive(&[(huge, b"")]),
            LIMITS,
            "its size is not an octal number",
        );
        // Limits: refused before the data is read (this header claims 5 GiB, has none).
        let claims = ustar_header("big", 5 << 30, b'0').unwrap();
        refused(
            &base,
            &archive(&[(claims, b"")]),
            LIMITS,
            "more than 4294967296 bytes",
        );
        let small = Limits {
            bytes: 4,
            entries: 1,
        };
        refused(&base, &ok, small, "more than 4 bytes");
        let small = Limits {
            bytes: 100,
            entries: 1,
        };
        refused(&base, &ok, small, "more than 1 entries");
        let mut trailing = ok.clone();
        trailing.truncate(ok.len() - BLOCK);
        trailing.extend_from_slice(&header("x", b"", b'0'));
        refused(&base, &trailing, LIMITS, "a zero block is followed by data");

        // Folders (with a trailing `/`) are fine; a verify of a hostile archive says why.
        let folders = archive(&[(header("d/", b"", b'5'), b""), file("d/f", b"1")]);
        fs::write(&tar, &folders).unwrap();
        assert_eq!(unpack_tar(&tar, &base.join("folders")).unwrap(), 1);
        fs::write(&tar, archive(&[file("../x", b"x")])).unwrap();
        let findings = verify_archive(&tar, &public_of_new_key()).unwrap_err();
        assert!(
            findings[0]
                .to_string()
                .starts_with("the archive cannot be unpacked:"),
            "{findings:?}"
        );
        fs::remove_dir_all(&base).unwrap();
    }

    /// The shell script of docs/attestation.md, "Checking a bundle with standard tools".
    fn documented_recipe() -> String {
        let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/attestation.md");
        let doc = fs::read_to_string(doc).unwrap();
        let (_, rest) = doc.split_once("<!-- recipe:begin -->\n```sh\n").unwrap();
        let (script, _) = rest.split_once("```\n<!-- recipe:end -->").unwrap();
        script.to_owned()
    }

    /// Whether `jq` and OpenSSL 3 (`pkeyutl -rawin`) are here.
    fn standard_tools() -> bool {
        let runs = |program: &str, arg: &str| {
            std::process::Command::new(program)
                .arg(arg)
                .output()
                .is_ok_and(|o| o.status.success() && !o.stdout.starts_with(b"OpenSSL 1"))
        };
        runs("jq", "--version") && runs("openssl", "version")
    }

    #[test]
    fn the_documented_shell_recipe_checks_a_bundle() {
        if !standard_tools() {
            eprintln!("skipped: jq or OpenSSL 3 is missing");
            return;
        }
        let (dir, key) = sealed("recipe");
        let base = dir.parent().unwrap();
        let script = base.join("check-bundle.sh");
        fs::write(&script, documented_recipe()).unwrap();
        let pub_path = base.join("vendor.pub");
        fs::write(&pub_path, key.public_pem().unwrap()).unwrap();
        let check_folder = |folder: &Path, pub_path: &Path| {
            let out = std::process::Command::new("sh")
                .arg(&script)
                .arg(folder)
                .arg(pub_path)
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            (out.status.success(), text)
        };
        let check = |pub_path: &Path| check_folder(&dir, pub_path);
        let (ok, text) = check(&pub_path);
        assert!(ok, "{text}");
        assert!(text.contains("Signature Verified Successfully"), "{text}");
        assert!(
            text.contains(&format!("signed by key {}", key.key_id())),
            "{text}"
        );

        fs::write(dir.join("summary.json"), b"{\"certified\":false}").unwrap();
        let (ok, text) = check(&pub_path);
        assert!(!ok && text.contains("summary.json: FAILED"), "{text}");
        fs::write(dir.join("summary.json"), FILES[0].1).unwrap();

        fs::write(dir.join("cases/extra.txt"), b"x").unwrap();
        let (ok, text) = check(&pub_path);
        assert!(!ok && text.contains("> cases/extra.txt"), "{text}");
        fs::remove_file(dir.join("cases/extra.txt")).unwrap();

        std::os::unix::fs::symlink("summary.json", dir.join("alias.json")).unwrap();
        let (ok, text) = check(&pub_path);
        assert!(!ok && text.contains("alias.json"), "{text}");
        fs::remove_file(dir.join("alias.json")).unwrap();

        let other = base.join("other.pub");
        fs::write(&other, KeyPair::generate().unwrap().public_pem().unwrap()).unwrap();
        let (ok, text) = check(&other);
        assert!(
            !ok && text.contains("Signature Verification Failure"),
            "{text}"
        );

        assert!(check(&pub_path).0, "restored");

        // A `.tar` bundle, unpacked by the system's tar as the document says.
        let tar = base.join("bundle.tar");
        write_tar(&dir, &tar).unwrap();
        let unpacked = base.join("b");
        fs::create_dir(&unpacked).unwrap();
        let status = std::process::Command::new("tar")
            .arg("-xf")
            .arg(&tar)
            .arg("-C")
            .arg(&unpacked)
            .status()
            .unwrap();
        assert!(status.success());
        let (ok, text) = check_folder(&unpacked, &pub_path);
        assert!(ok, "{text}");
        fs::remove_dir_all(base).unwrap();
    }
}
