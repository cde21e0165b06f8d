//! Frame sources: camera video in, timestamped [`Frame`]s out.
//!
//! Every source implements [`FrameSource`]; [`open`] picks one for a path by its magic bytes
//! (then its extension):
//!
//! | input | module | notes |
//! |---|---|---|
//! | a folder of JPEG/PNG/PNM files | [`images`] | sorted by name (numbers in names compare as numbers); rate from [`SourceOptions::fps`], default 15 |
//! | YUV4MPEG2 (`.y4m`) | [`y4m`] | 4:2:0 (all sitings), 4:2:2, 4:4:4, 4:1:1, mono, 8–16 bits; BT.601 limited or full range |
//! | AVI with Motion-JPEG video | [`avi`] | RIFF walk of `movi` (`NNdc`/`NNdb`), `idx1` optional, OpenDML `AVIX` parts |
//! | anything ffmpeg reads (MP4/H.264, MKV, AVI with other codecs, …) | [`ffmpeg`] | the `ffmpeg`/`ffprobe` binaries as subprocesses |
//! | a still photo | [`synth`] | a synthetic "live camera" clip, deterministic from a seed |
//!
//! Errors follow one rule: what makes the whole input unusable (missing, unreadable, not a
//! video we know, a broken header) is an error from [`open`] naming the path; a frame that
//! cannot be decoded is an `Err` item for that frame, and the stream goes on with the next
//! frame wherever the container lets us find it. No input makes a source panic.

pub mod avi;
pub mod ffmpeg;
pub mod images;
pub mod synth;
pub mod y4m;

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::codec::hex_preview;
use crate::frame::{Frame, RgbImage};

pub use avi::{write_mjpeg_avi, MjpegAviSource, MjpegAviWriter};
pub use ffmpeg::FfmpegSource;
pub use images::ImageSequence;
pub use synth::{ClipError, ClipSpec, LiveClip};
pub use y4m::{write_y4m, Y4mChroma, Y4mFormat, Y4mSource, Y4mWriter};

/// The largest frame any source will allocate (64 megapixels): a header claiming more is
/// treated as corrupt rather than trusted. Defined with the decoders in [`crate::codec`].
pub use crate::codec::MAX_FRAME_PIXELS;

/// Still images are decoded by [`crate::codec`], the crate's one JPEG decoding path; these
/// are its functions under their old paths.
pub use crate::codec::{decode_image, decode_jpeg};

/// A stream of camera frames.
///
/// `next_frame` returns `None` at the end, `Some(Err(..))` for a frame that could not be
/// decoded (the next call goes on with the following frame where possible), and frames in
/// presentation order with non-decreasing timestamps otherwise.
pub trait FrameSource: Send {
    fn next_frame(&mut self) -> Option<Result<Frame, SourceError>>;
    /// Nominal frames per second.
    fn frame_rate(&self) -> f64;
    /// `(width, height)` of every frame.
    fn frame_size(&self) -> (u32, u32);
    /// One line for logs and reports: kind, path, size, rate.
    fn describe(&self) -> String;
    /// The number of frames, when the container says so (a hint, not a promise).
    fn frame_count(&self) -> Option<u64> {
        None
    }
    /// The frames as an iterator.
    fn into_frames(self) -> Frames<Self>
    where
        Self: Sized,
    {
        Frames(self)
    }
}

impl<S: FrameSource + ?Sized> FrameSource for Box<S> {
    fn next_frame(&mut self) -> Option<Result<Frame, SourceError>> {
        (**self).next_frame()
    }
    fn frame_rate(&self) -> f64 {
        (**self).frame_rate()
    }
    fn frame_size(&self) -> (u32, u32) {
        (**self).frame_size()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn frame_count(&self) -> Option<u64> {
        (**self).frame_count()
    }
}

/// Iterator over a source's frames ([`FrameSource::into_frames`]).
pub struct Frames<S>(pub S);

impl<S: FrameSource> Iterator for Frames<S> {
    type Item = Result<Frame, SourceError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next_frame()
    }
}

/// Why a source could not be opened or a frame could not be read. Every variant names the
/// path.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: not a camera video this harness reads: {reason}", path.display())]
    Unsupported { path: PathBuf, reason: String },
    #[error("{}: {reason}", path.display())]
    Malformed { path: PathBuf, reason: String },
    #[error("{}: frame {index}: {reason}", path.display())]
    Frame {
        path: PathBuf,
        index: u64,
        reason: String,
    },
    #[error("{}: needs `{program}`, which was not found (install ffmpeg: bash .ci/setup)", path.display())]
    FfmpegMissing { path: PathBuf, program: String },
    #[error("{}: ffmpeg: {reason}", path.display())]
    Ffmpeg { path: PathBuf, reason: String },
}

impl SourceError {
    /// The file or folder the error is about.
    pub fn path(&self) -> &Path {
        match self {
            SourceError::Io { path, .. }
            | SourceError::Unsupported { path, .. }
            | SourceError::Malformed { path, .. }
            | SourceError::Frame { path, .. }
            | SourceError::FfmpegMissing { path, .. }
            | SourceError::Ffmpeg { path, .. } => path,
        }
    }

    /// True for an error about one frame (the stream may go on).
    pub fn is_frame_error(&self) -> bool {
        matches!(self, SourceError::Frame { .. })
    }

    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        SourceError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
    pub(crate) fn malformed(path: &Path, reason: impl Into<String>) -> Self {
        SourceError::Malformed {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
    pub(crate) fn unsupported(path: &Path, reason: impl Into<String>) -> Self {
        SourceError::Unsupported {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
    pub(crate) fn frame(path: &Path, index: u64, reason: impl Into<String>) -> Self {
        SourceError::Frame {
            path: path.to_path_buf(),
            index,
            reason: reason.into(),
        }
    }
}

/// BT.601 YUV quantisation range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum YuvRange {
    /// Y 16–235, Cb/Cr 16–240 ("TV", MPEG range): the Y4M default.
    #[default]
    Limited,
    /// Y, Cb, Cr 0–255 ("PC", JPEG range).
    Full,
}

/// The kind of source [`open`] chose (or is told to use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    ImageSequence,
    Y4m,
    MjpegAvi,
    Ffmpeg,
}

/// How to open a source.
#[derive(Debug, Clone)]
pub struct SourceOptions {
    /// Frame rate for inputs that carry none (image sequences; default 15). Containers with
    /// a rate (Y4M, AVI, MP4) keep their own.
    pub fps: Option<f64>,
    /// Use this kind instead of detecting it.
    pub kind: Option<SourceKind>,
    /// Y4M quantisation range, overriding the header (`XCOLORRANGE`, default limited).
    pub y4m_range: Option<YuvRange>,
    /// The `ffmpeg` and `ffprobe` programs (default: found on `PATH`).
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
}

impl Default for SourceOptions {
    fn default() -> Self {
        SourceOptions {
            fps: None,
            kind: None,
            y4m_range: None,
            ffmpeg: PathBuf::from("ffmpeg"),
            ffprobe: PathBuf::from("ffprobe"),
        }
    }
}

/// The default rate of an image sequence.
pub const DEFAULT_SEQUENCE_FPS: f64 = 15.0;

/// Extensions [`open`] hands to ffmpeg when the magic bytes say nothing we know.
const FFMPEG_EXTENSIONS: &[&str] = &[
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "ts", "mts", "m2ts", "mpg", "mpeg", "flv", "wmv",
    "3gp", "h264", "264", "h265", "265", "hevc", "ogv",
];

/// Opens a camera video, choosing the reader by magic bytes, then extension (see the module
/// docs). Errors name the path.
pub fn open(path: &Path, options: &SourceOptions) -> Result<Box<dyn FrameSource>, SourceError> {
    let kind = match options.kind {
        Some(k) => k,
        None => detect_kind(path)?,
    };
    Ok(match kind {
        SourceKind::ImageSequence => Box::new(ImageSequence::open(
            path,
            options.fps.unwrap_or(DEFAULT_SEQUENCE_FPS),
        )?),
        SourceKind::Y4m => Box::new(Y4mSource::open(path, options.y4m_range)?),
        SourceKind::MjpegAvi => Box::new(MjpegAviSource::open(path)?),
        SourceKind::Ffmpeg => Box::new(FfmpegSource::open(path, options)?),
    })
}

/// Which reader [`open`] would use for `path`.
pub fn detect_kind(path: &Path) -> Result<SourceKind, SourceError> {
    let meta = std::fs::metadata(path).map_err(|e| SourceError::io(path, e))?;
    if meta.is_dir() {
        return Ok(SourceKind::ImageSequence);
    }
    let mut head = [0u8; 16];
    let n = {
        let mut f = File::open(path).map_err(|e| SourceError::io(path, e))?;
        read_up_to(&mut f, &mut head).map_err(|e| SourceError::io(path, e))?
    };
    let head = &head[..n];
    if n == 0 {
        return Err(SourceError::unsupported(path, "the file is empty"));
    }
    if head.starts_with(b"YUV4MPEG2") {
        return Ok(SourceKind::Y4m);
    }
    if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"AVI " {
        return Ok(match avi::probe_video_codec(path) {
            Ok(codec) if avi::is_mjpeg_fourcc(&codec) => SourceKind::MjpegAvi,
            // Another codec (or a header we cannot walk): ffmpeg decides.
            _ => SourceKind::Ffmpeg,
        });
    }
    if head.len() >= 8 && &head[4..8] == b"ftyp" {
        return Ok(SourceKind::Ffmpeg);
    }
    if head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Ok(SourceKind::Ffmpeg); // Matroska / WebM
    }
    if head.starts_with(&[0xFF, 0xD8, 0xFF])
        || head.starts_with(b"\x89PNG")
        || (head.len() >= 2 && head[0] == b'P' && (b'1'..=b'7').contains(&head[1]))
    {
        return Err(SourceError::unsupported(
            path,
            "a still image, not a video: put frames in a folder for an image sequence, or \
             make a clip from a photo with camera_replay::source::synth::LiveClip",
        ));
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    match ext {
        Some(e) if e == "y4m" => Err(SourceError::malformed(
            path,
            "a .y4m file must start with `YUV4MPEG2`",
        )),
        Some(e) if FFMPEG_EXTENSIONS.contains(&e.as_str()) => Ok(SourceKind::Ffmpeg),
        _ => Err(SourceError::unsupported(
            path,
            format!(
                "unknown format (starts with {}); expected an image folder, .y4m, MJPEG .avi, \
                 or a video ffmpeg reads (.mp4, .mkv, …)",
                hex_preview(head)
            ),
        )),
    }
}

/// Reads until `buf` is full or the reader ends; returns the count.
pub(crate) fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Loads a still photo (JPEG, PNG or PNM) as RGB, e.g. for [`LiveClip::new`].
pub fn load_photo(path: &Path) -> Result<RgbImage, SourceError> {
    let bytes = std::fs::read(path).map_err(|e| SourceError::io(path, e))?;
    decode_image(&bytes).map_err(|e| SourceError::malformed(path, e))
}

/// Frames held in memory (a synthesised clip, an attack, a test fixture) as a source.
pub struct MemorySource {
    frames: std::vec::IntoIter<Frame>,
    fps: f64,
    size: (u32, u32),
    count: u64,
    description: String,
}

impl MemorySource {
    /// Frames in order; the size is the first frame's.
    pub fn new(frames: Vec<Frame>, fps: f64, description: impl Into<String>) -> Self {
        let size = frames
            .first()
            .map(|f| f.image.dimensions())
            .unwrap_or((0, 0));
        let count = frames.len() as u64;
        MemorySource {
            frames: frames.into_iter(),
            fps,
            size,
            count,
            description: description.into(),
        }
    }
}

impl FrameSource for MemorySource {
    fn next_frame(&mut self) -> Option<Result<Frame, SourceError>> {
        self.frames.next().map(Ok)
    }
    fn frame_rate(&self) -> f64 {
        self.fps
    }
    fn frame_size(&self) -> (u32, u32) {
        self.size
    }
    fn describe(&self) -> String {
        format!(
            "{} ({} frames {}×{} at {} fps, in memory)",
            self.description, self.count, self.size.0, self.size.1, self.fps
        )
    }
    fn frame_count(&self) -> Option<u64> {
        Some(self.count)
    }
}

/// Compares file names so that `frame2` sorts before `frame10`: runs of ASCII digits compare
/// by value, everything else byte by byte.
pub(crate) fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let si = i;
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let na = trim_zeros(&a[si..i]);
            let nb = trim_zeros(&b[sj..j]);
            let ord = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if ord != Ordering::Equal {
                return ord;
            }
        } else {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).cmp(&(b.len() - j)).then_with(|| a.cmp(b))
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let k = d.iter().position(|&c| c != b'0').unwrap_or(d.len());
    &d[k..]
}

/// The timestamp of frame `index` at `num/den` frames per second.
pub(crate) fn timestamp_at(index: u64, rate_num: u64, rate_den: u64) -> std::time::Duration {
    if rate_num == 0 {
        return std::time::Duration::ZERO;
    }
    let nanos = index as u128 * rate_den as u128 * 1_000_000_000u128 / rate_num as u128;
    std::time::Duration::from_nanos(nanos.min(u64::MAX as u128) as u64)
}

/// A frame rate as a fraction, for exact timestamps (`fps` ≈ `num / den`).
pub(crate) fn rate_fraction(fps: f64) -> (u64, u64) {
    if !(fps.is_finite() && fps > 0.0) {
        return (0, 1);
    }
    let den = 1000u64;
    ((fps * den as f64).round().max(1.0) as u64, den)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut v = vec!["f10.jpg", "f2.jpg", "f1.jpg", "f02.jpg", "a.jpg", "f1a.jpg"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            ["a.jpg", "f1.jpg", "f1a.jpg", "f02.jpg", "f2.jpg", "f10.jpg"]
        );
    }

    #[test]
    fn timestamps_are_exact() {
        assert_eq!(timestamp_at(3, 30000, 1001).as_nanos(), 100_100_000);
        assert_eq!(timestamp_at(15, 15, 1).as_secs(), 1);
    }
}
