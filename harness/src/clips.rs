//! Camera clips for a device under test: the formats, how a clip is named, and how it is cut
//! into the chunks that travel over the adapter link (docs/adapter-protocol.md, "Camera
//! clips"). Pure: no I/O. The face bench writes a [`ClipFile`] (`reader::FaceCamera::clip`),
//! and the harness's driver, `myna-hil clips export` and the reference device import the
//! rest, so the name a clip is exported under is the name it is offered under, and both
//! sides cut and check chunks the same way.
//!
//! A clip is named after its content (`clip-<first 16 hex digits of its SHA-256>.<ext>`):
//! cases whose cameras see the same footage share one clip, a device holding it already is
//! sent nothing, and a name never collides with a different clip.

use serde::{Deserialize, Serialize};

/// The most bytes one clip may have: the harness never offers a larger one, and a device
/// may refuse a larger offer.
pub const MAX_CLIP_BYTES: u64 = 256 * 1024 * 1024;
/// Bytes of clip per `clip_chunk`: base64 makes 128 KiB of text, half the line limit.
pub const CHUNK_BYTES: usize = 96 * 1024;
/// The longest name a clip may have.
pub const MAX_CLIP_NAME: usize = 64;
/// How many times one transfer starts again (a new session after a broken link, or a
/// chunk the device refused) before the case ends in `error`.
pub const MAX_RESUMES: usize = 3;

/// A clip's file format, by the name used on the wire, in `hello` and in the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ClipFormat {
    /// YUV4MPEG2, `C444` full range: lossless, so a device sees exactly the harness's
    /// frames (large: width × height × 3 bytes a frame).
    #[serde(rename = "y4m")]
    Y4m,
    /// Motion JPEG in an AVI 1.0 file (RIFF, an `idx1` index, fourcc `MJPG`), each frame a
    /// baseline JPEG at quality [`MJPEG_QUALITY`]: far smaller, and lossy.
    #[serde(rename = "avi_mjpeg")]
    AviMjpeg,
}

/// The JPEG quality of [`ClipFormat::AviMjpeg`] frames.
pub const MJPEG_QUALITY: u8 = 92;

impl ClipFormat {
    /// Every format, the harness's preference first (lossless).
    pub const ALL: [ClipFormat; 2] = [ClipFormat::Y4m, ClipFormat::AviMjpeg];

    pub fn name(self) -> &'static str {
        match self {
            ClipFormat::Y4m => "y4m",
            ClipFormat::AviMjpeg => "avi_mjpeg",
        }
    }

    /// The file name extension (without the dot).
    pub fn extension(self) -> &'static str {
        match self {
            ClipFormat::Y4m => "y4m",
            ClipFormat::AviMjpeg => "avi",
        }
    }

    pub fn from_name(name: &str) -> Option<ClipFormat> {
        ClipFormat::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The format a device that lists `wanted` in its `hello` (`clip_formats`, in its order
    /// of preference) gets: the first one the harness writes; `y4m` when it lists none.
    /// `None` when it lists only formats the harness does not know.
    pub fn choose<'a>(wanted: impl IntoIterator<Item = &'a str>) -> Option<ClipFormat> {
        let mut any = false;
        for name in wanted {
            any = true;
            if let Some(format) = ClipFormat::from_name(name) {
                return Some(format);
            }
        }
        (!any).then_some(ClipFormat::Y4m)
    }
}

/// The name of the clip with this SHA-256 (lower-case hex) in `format`.
pub fn clip_name(sha256: &str, format: ClipFormat) -> String {
    let short: String = sha256.chars().take(16).collect();
    format!("clip-{short}.{}", format.extension())
}

/// Whether `name` is a clip name a device can use as a file name as it is: 1 to
/// [`MAX_CLIP_NAME`] of `A-Z a-z 0-9 . _ -`, not starting with a dot.
pub fn is_clip_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_CLIP_NAME
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(openssl::sha::sha256(bytes))
}

/// SHA-256 of a file, lower-case hex, read in pieces (a clip may be hundreds of MiB): the
/// one file digest of the harness (clips, certification inputs).
pub fn file_sha256(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = openssl::sha::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finish()))
}

/// A clip made for a case: its bytes and what the manifest says of it.
#[derive(Clone, PartialEq)]
pub struct ClipFile {
    pub format: ClipFormat,
    pub bytes: Vec<u8>,
    pub sha256: String,
    pub fps: f64,
    pub frames: u32,
    pub width: u32,
    pub height: u32,
}

impl std::fmt::Debug for ClipFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipFile")
            .field("name", &self.name())
            .field("size", &self.bytes.len())
            .field("fps", &self.fps)
            .field("frames", &self.frames)
            .finish()
    }
}

/// What identifies a clip without its bytes: what an offer says of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClipId {
    pub name: String,
    pub format: ClipFormat,
    pub size: u64,
    pub sha256: String,
    /// Its frame rate, in thousandths (so the id is `Eq`).
    pub fps_milli: u64,
}

impl ClipId {
    pub fn fps(&self) -> f64 {
        self.fps_milli as f64 / 1000.0
    }
}

impl ClipFile {
    /// The clip without its bytes.
    pub fn id(&self) -> ClipId {
        ClipId {
            name: self.name(),
            format: self.format,
            size: self.size(),
            sha256: self.sha256.clone(),
            fps_milli: (self.fps * 1000.0).round() as u64,
        }
    }

    pub fn new(
        format: ClipFormat,
        bytes: Vec<u8>,
        fps: f64,
        frames: u32,
        (width, height): (u32, u32),
    ) -> ClipFile {
        ClipFile {
            format,
            sha256: sha256_hex(&bytes),
            bytes,
            fps,
            frames,
            width,
            height,
        }
    }

    pub fn name(&self) -> String {
        clip_name(&self.sha256, self.format)
    }

    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// The chunks from byte `from` on: (offset, bytes), each at most [`CHUNK_BYTES`].
    pub fn chunks_from(&self, from: u64) -> impl Iterator<Item = (u64, &[u8])> {
        let start = usize::try_from(from)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        self.bytes[start..]
            .chunks(CHUNK_BYTES)
            .enumerate()
            .map(move |(i, chunk)| ((start + i * CHUNK_BYTES) as u64, chunk))
    }
}

/// Why a device refuses a chunk (the receiving side's check, shared by every device built
/// on this crate).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChunkRefusal {
    #[error(
        "chunk at byte {offset}: expected byte {held} next (send from the offset `clip_have` gave)"
    )]
    WrongOffset { offset: u64, held: u64 },
    #[error("chunk at byte {offset}: its bytes do not have the SHA-256 sent with it")]
    Corrupt { offset: u64 },
    #[error("chunk at byte {offset}: {len} bytes would pass the offered size of {size}")]
    TooLong { offset: u64, len: u64, size: u64 },
}

/// Checks a chunk against what the receiver holds: `held` bytes of a clip of `size`.
pub fn check_chunk(
    held: u64,
    size: u64,
    offset: u64,
    data: &[u8],
    sha256: &str,
) -> Result<(), ChunkRefusal> {
    if offset != held {
        return Err(ChunkRefusal::WrongOffset { offset, held });
    }
    let len = data.len() as u64;
    if offset.saturating_add(len) > size {
        return Err(ChunkRefusal::TooLong { offset, len, size });
    }
    if sha256_hex(data) != sha256 {
        return Err(ChunkRefusal::Corrupt { offset });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn clip(len: usize) -> ClipFile {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        ClipFile::new(ClipFormat::Y4m, bytes, 15.0, 1, (1, 1))
    }

    #[test]
    fn names_are_the_content_and_the_format() {
        let c = clip(10);
        assert_eq!(c.name(), format!("clip-{}.y4m", &c.sha256[..16]));
        assert!(is_clip_name(&c.name()));
        assert_eq!(
            clip_name(&c.sha256, ClipFormat::AviMjpeg),
            format!("clip-{}.avi", &c.sha256[..16])
        );
    }

    #[test]
    fn a_clip_name_is_a_plain_file_name() {
        for bad in [
            "",
            ".hidden",
            "../x",
            "a/b",
            "a b",
            "é.y4m",
            &"x".repeat(65),
        ] {
            assert!(!is_clip_name(bad), "{bad:?}");
        }
        for good in [
            "a",
            "clip-0123456789abcdef.y4m",
            "A_b-c.avi",
            &"x".repeat(64),
        ] {
            assert!(is_clip_name(good), "{good:?}");
        }
    }

    #[test]
    fn the_format_is_the_first_the_device_lists_that_the_harness_writes() {
        assert_eq!(ClipFormat::choose([]), Some(ClipFormat::Y4m));
        assert_eq!(
            ClipFormat::choose(["h264", "avi_mjpeg", "y4m"]),
            Some(ClipFormat::AviMjpeg)
        );
        assert_eq!(ClipFormat::choose(["y4m"]), Some(ClipFormat::Y4m));
        assert_eq!(ClipFormat::choose(["h264"]), None);
    }

    #[test]
    fn chunks_refused_for_offset_length_and_content() {
        let data = b"abc";
        let sha = sha256_hex(data);
        assert_eq!(check_chunk(0, 3, 0, data, &sha), Ok(()));
        assert_eq!(
            check_chunk(3, 6, 0, data, &sha),
            Err(ChunkRefusal::WrongOffset { offset: 0, held: 3 })
        );
        assert_eq!(
            check_chunk(0, 2, 0, data, &sha),
            Err(ChunkRefusal::TooLong {
                offset: 0,
                len: 3,
                size: 2
            })
        );
        assert_eq!(
            check_chunk(0, 3, 0, b"abd", &sha),
            Err(ChunkRefusal::Corrupt { offset: 0 })
        );
    }

    proptest! {
        /// From any resumption point, the chunks are contiguous, within the limit, and put
        /// back together give the clip's bytes from there on.
        #[test]
        fn chunks_from_any_offset_rebuild_the_rest(len in 0usize..400_000, from in 0u64..400_001) {
            let c = clip(len);
            let mut next = from.min(len as u64);
            let mut rebuilt = Vec::new();
            for (offset, chunk) in c.chunks_from(from) {
                prop_assert_eq!(offset, next);
                prop_assert!(!chunk.is_empty() && chunk.len() <= CHUNK_BYTES);
                next += chunk.len() as u64;
                rebuilt.extend_from_slice(chunk);
            }
            prop_assert_eq!(next, len as u64);
            prop_assert_eq!(&rebuilt[..], &c.bytes[from.min(len as u64) as usize..]);
        }
    }
}
