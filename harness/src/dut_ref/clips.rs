//! The reference device's clip store: the clips its camera plays, by name, in one folder.
//! They arrive over the link (`clip_offer`, `clip_chunk`, `clip_end`) or were put there
//! before the run (`myna-hil clips export`). The store outlives sessions, so a transfer cut
//! by a broken link resumes where it stopped; names are the clips' content
//! (`crate::clips::clip_name`), so several devices and runs can share one folder.
//!
//! Every chunk is checked (offset, length, SHA-256) before it is written, the whole clip
//! again before it gets its name, and a named clip once more (by SHA-256) when the camera
//! plays it: a corrupted clip is never played.

use crate::clips::{check_chunk, file_sha256, ChunkRefusal, ClipFormat, MAX_CLIP_BYTES};
use crate::dut::protocol::ErrorCode;
use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// A refusal: the protocol's code and a message for people.
pub type Refusal = (ErrorCode, String);

/// The clips of one device.
pub struct ClipStore {
    dir: PathBuf,
    /// The formats the device plays, its preferred first (its `hello`'s `clip_formats`).
    pub formats: Vec<ClipFormat>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Clips being received, by name.
    offers: HashMap<String, Offer>,
    /// SHA-256 of named clips, with the length and time of change it was computed for.
    hashes: HashMap<String, (u64, Option<SystemTime>, String)>,
}

#[derive(Clone, PartialEq, Eq)]
struct Offer {
    size: u64,
    sha256: String,
}

impl ClipStore {
    /// The store in `dir` (made if missing).
    pub fn open(dir: &Path, formats: Vec<ClipFormat>) -> io::Result<ClipStore> {
        std::fs::create_dir_all(dir)?;
        Ok(ClipStore {
            dir: dir.to_path_buf(),
            formats,
            state: Mutex::default(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The bytes being received go here: one file per process, so devices sharing the
    /// folder never write into each other's.
    fn partial(&self, name: &str) -> PathBuf {
        self.dir
            .join(format!(".{name}.{}.part", std::process::id()))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `clip_offer`: how many bytes of the clip are held (all: it is here already).
    pub fn offer(
        &self,
        name: &str,
        format: ClipFormat,
        size: u64,
        sha256: &str,
    ) -> Result<u64, Refusal> {
        if !self.formats.contains(&format) {
            return Err((
                ErrorCode::Unsupported,
                format!("this device does not play {} clips", format.name()),
            ));
        }
        if size > MAX_CLIP_BYTES {
            return Err((
                ErrorCode::Unsupported,
                format!("a clip of {size} bytes is larger than this device takes"),
            ));
        }
        if self.hash_of(name).ok().as_deref() == Some(sha256) {
            self.state().offers.remove(name);
            return Ok(size);
        }
        let offer = Offer {
            size,
            sha256: sha256.to_owned(),
        };
        let partial = self.partial(name);
        let mut state = self.state();
        // What this process received of the same clip before (a broken link) is kept;
        // anything else starts from nothing.
        let held = match state.offers.get(name) {
            Some(earlier) if *earlier == offer => {
                std::fs::metadata(&partial).map_or(0, |m| m.len())
            }
            _ => 0,
        };
        if held == 0 || held > size {
            std::fs::write(&partial, b"").map_err(|e| internal(&partial, &e))?;
        }
        state.offers.insert(name.to_owned(), offer);
        Ok(if held > size { 0 } else { held })
    }

    /// `clip_chunk`: checked, then appended.
    pub fn chunk(&self, name: &str, offset: u64, data: &[u8], sha256: &str) -> Result<(), Refusal> {
        let offer = self.offered(name)?;
        let partial = self.partial(name);
        let held = std::fs::metadata(&partial).map_or(0, |m| m.len());
        check_chunk(held, offer.size, offset, data, sha256).map_err(|e| {
            let code = match e {
                ChunkRefusal::Corrupt { .. } => ErrorCode::ClipMismatch,
                ChunkRefusal::WrongOffset { .. } | ChunkRefusal::TooLong { .. } => {
                    ErrorCode::BadMessage
                }
            };
            (code, e.to_string())
        })?;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&partial)
            .map_err(|e| internal(&partial, &e))?;
        file.write_all(data).map_err(|e| internal(&partial, &e))
    }

    /// `clip_end`: the whole clip checked, then named. A clip whose SHA-256 differs is
    /// thrown away.
    pub fn end(&self, name: &str) -> Result<(), Refusal> {
        let offer = self.offered(name)?;
        let partial = self.partial(name);
        let held = std::fs::metadata(&partial).map_or(0, |m| m.len());
        if held != offer.size {
            return Err((
                ErrorCode::BadMessage,
                format!("{held} of the clip's {} bytes were received", offer.size),
            ));
        }
        let actual = file_sha256(&partial).map_err(|e| internal(&partial, &e))?;
        self.state().offers.remove(name);
        if actual != offer.sha256 {
            let _ = std::fs::remove_file(&partial);
            return Err((
                ErrorCode::ClipMismatch,
                format!("the clip's SHA-256 is {actual}, not the one offered (thrown away)"),
            ));
        }
        let path = self.dir.join(name);
        std::fs::rename(&partial, &path).map_err(|e| internal(&path, &e))?;
        Ok(())
    }

    /// The clip `camera_start` names, checked: its path.
    pub fn play(&self, name: &str, sha256: &str) -> Result<PathBuf, Refusal> {
        let path = self.dir.join(name);
        match self.hash_of(name) {
            Ok(actual) if actual == sha256 => Ok(path),
            Ok(actual) => Err((
                ErrorCode::ClipMismatch,
                format!("clip {name}: SHA-256 is {actual}"),
            )),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err((
                ErrorCode::ClipMissing,
                format!("clip {name}: this device does not hold it"),
            )),
            Err(e) => Err((ErrorCode::ClipMissing, format!("clip {name}: {e}"))),
        }
    }

    fn offered(&self, name: &str) -> Result<Offer, Refusal> {
        self.state().offers.get(name).cloned().ok_or_else(|| {
            (
                ErrorCode::NotNow,
                format!("no `clip_offer` of {name} is being received"),
            )
        })
    }

    /// SHA-256 of the named clip, computed again only when the file changed.
    fn hash_of(&self, name: &str) -> io::Result<String> {
        let path = self.dir.join(name);
        let meta = std::fs::metadata(&path)?;
        if !meta.is_file() {
            return Err(io::Error::new(io::ErrorKind::NotFound, "not a file"));
        }
        let stamp = (meta.len(), meta.modified().ok());
        if let Some((len, modified, sha)) = self.state().hashes.get(name) {
            if (*len, *modified) == stamp {
                return Ok(sha.clone());
            }
        }
        let sha = file_sha256(&path)?;
        self.state()
            .hashes
            .insert(name.to_owned(), (stamp.0, stamp.1, sha.clone()));
        Ok(sha)
    }
}

fn internal(path: &Path, e: &io::Error) -> Refusal {
    (ErrorCode::Internal, format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clips::sha256_hex;

    fn store(name: &str) -> ClipStore {
        let dir =
            std::env::temp_dir().join(format!("myna-hil-clipstore-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        ClipStore::open(&dir, vec![ClipFormat::Y4m]).unwrap()
    }

    #[test]
    fn a_clip_received_in_chunks_is_played_and_offered_again_as_held() {
        let s = store("whole");
        let bytes = b"0123456789".to_vec();
        let sha = sha256_hex(&bytes);
        assert_eq!(s.offer("c.y4m", ClipFormat::Y4m, 10, &sha), Ok(0));
        s.chunk("c.y4m", 0, &bytes[..6], &sha256_hex(&bytes[..6]))
            .unwrap();
        // Cut here (a broken link): the same offer again resumes at 6.
        assert_eq!(s.offer("c.y4m", ClipFormat::Y4m, 10, &sha), Ok(6));
        s.chunk("c.y4m", 6, &bytes[6..], &sha256_hex(&bytes[6..]))
            .unwrap();
        s.end("c.y4m").unwrap();
        assert_eq!(
            std::fs::read(s.play("c.y4m", &sha).unwrap()).unwrap(),
            bytes
        );
        assert_eq!(s.offer("c.y4m", ClipFormat::Y4m, 10, &sha), Ok(10));
        let _ = std::fs::remove_dir_all(s.dir());
    }

    #[test]
    fn a_corrupted_chunk_or_clip_is_refused_and_never_played() {
        let s = store("corrupt");
        let bytes = b"abcdef".to_vec();
        let sha = sha256_hex(&bytes);
        s.offer("c.y4m", ClipFormat::Y4m, 6, &sha).unwrap();
        let refused = s
            .chunk("c.y4m", 0, b"abcXef", &sha256_hex(&bytes))
            .unwrap_err();
        assert_eq!(refused.0, ErrorCode::ClipMismatch);
        assert_eq!(
            s.chunk("c.y4m", 3, b"def", &sha256_hex(b"def"))
                .unwrap_err()
                .0,
            ErrorCode::BadMessage,
            "a chunk past what is held"
        );
        // A chunk that matches its own hash but not the clip: refused at the end.
        s.chunk("c.y4m", 0, b"abcXef", &sha256_hex(b"abcXef"))
            .unwrap();
        assert_eq!(s.end("c.y4m").unwrap_err().0, ErrorCode::ClipMismatch);
        assert_eq!(s.play("c.y4m", &sha).unwrap_err().0, ErrorCode::ClipMissing);
        // A named file changed behind the device's back is not played.
        std::fs::write(s.dir().join("d.y4m"), b"x").unwrap();
        assert_eq!(
            s.play("d.y4m", &sha).unwrap_err().0,
            ErrorCode::ClipMismatch
        );
        assert_eq!(
            s.offer("e.avi", ClipFormat::AviMjpeg, 1, &sha)
                .unwrap_err()
                .0,
            ErrorCode::Unsupported
        );
        let _ = std::fs::remove_dir_all(s.dir());
    }
}
