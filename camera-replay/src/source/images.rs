//! A folder of still images as a camera stream.
//!
//! The files whose names end in `.jpg`, `.jpeg`, `.png`, `.ppm`, `.pgm`, `.pbm`, `.pnm` or
//! `.pam` (any case) are the frames, sorted by name with numbers compared by value (`f2`
//! before `f10`). Each file is decoded by its magic bytes, not its extension, through
//! [`crate::codec::decode_image`] (JPEGs exactly as OpenCV decodes them). Frame `i` is
//! stamped `i / fps`. The frame size is the first decodable file's; a file that cannot be
//! decoded, or has another size, is an `Err` for that frame and the stream goes on.

use std::path::{Path, PathBuf};

use super::{natural_cmp, rate_fraction, timestamp_at, FrameSource, SourceError};
use crate::codec::decode_image;
use crate::frame::Frame;

const EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "ppm", "pgm", "pbm", "pnm", "pam"];

/// Frames from the image files in a folder.
pub struct ImageSequence {
    dir: PathBuf,
    files: Vec<PathBuf>,
    next: usize,
    fps: f64,
    rate: (u64, u64),
    size: (u32, u32),
}

impl ImageSequence {
    /// Lists the folder; errors when it cannot be read, holds no image files, or none of them
    /// can be decoded.
    pub fn open(dir: &Path, fps: f64) -> Result<ImageSequence, SourceError> {
        if !(fps.is_finite() && fps > 0.0) {
            return Err(SourceError::malformed(
                dir,
                format!("frame rate must be positive, not {fps}"),
            ));
        }
        let entries = std::fs::read_dir(dir).map_err(|e| SourceError::io(dir, e))?;
        let mut files: Vec<(String, PathBuf)> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| SourceError::io(dir, e))?;
            let path = entry.path();
            let is_image = path
                .extension()
                .and_then(|e| e.to_str())
                .map(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
                .unwrap_or(false);
            if !is_image || path.is_dir() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            files.push((name, path));
        }
        if files.is_empty() {
            return Err(SourceError::unsupported(
                dir,
                "the folder holds no JPEG, PNG or PNM images",
            ));
        }
        files.sort_by(|a, b| natural_cmp(&a.0, &b.0));
        let files: Vec<PathBuf> = files.into_iter().map(|(_, p)| p).collect();
        let size = files
            .iter()
            .find_map(|p| image_dimensions(p))
            .ok_or_else(|| {
                SourceError::malformed(
                    dir,
                    format!("none of its {} image files can be decoded", files.len()),
                )
            })?;
        Ok(ImageSequence {
            dir: dir.to_path_buf(),
            files,
            next: 0,
            fps,
            rate: rate_fraction(fps),
            size,
        })
    }

    /// The frame files in order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

/// The size from the image header (without decoding the pixels).
fn image_dimensions(path: &Path) -> Option<(u32, u32)> {
    let dims = image::ImageReader::open(path)
        .ok()?
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()?;
    (dims.0 > 0 && dims.1 > 0).then_some(dims)
}

impl FrameSource for ImageSequence {
    fn next_frame(&mut self) -> Option<Result<Frame, SourceError>> {
        let path = self.files.get(self.next)?.clone();
        let index = self.next as u64;
        self.next += 1;
        let result = std::fs::read(&path)
            .map_err(|e| SourceError::frame(&path, index, e.to_string()))
            .and_then(|bytes| decode_image(&bytes).map_err(|e| SourceError::frame(&path, index, e)))
            .and_then(|image| {
                if image.dimensions() != self.size {
                    Err(SourceError::frame(
                        &path,
                        index,
                        format!(
                            "size {}×{} differs from the sequence's {}×{}",
                            image.width(),
                            image.height(),
                            self.size.0,
                            self.size.1
                        ),
                    ))
                } else {
                    Ok(Frame {
                        index,
                        timestamp: timestamp_at(index, self.rate.0, self.rate.1),
                        image,
                    })
                }
            });
        Some(result)
    }

    fn frame_rate(&self) -> f64 {
        self.fps
    }

    fn frame_size(&self) -> (u32, u32) {
        self.size
    }

    fn describe(&self) -> String {
        format!(
            "image sequence {} ({} frames {}×{} at {} fps)",
            self.dir.display(),
            self.files.len(),
            self.size.0,
            self.size.1,
            self.fps
        )
    }

    fn frame_count(&self) -> Option<u64> {
        Some(self.files.len() as u64)
    }
}
