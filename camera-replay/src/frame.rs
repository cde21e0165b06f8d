//! One camera frame: the pixels and when the camera took them.

use std::time::Duration;

/// RGB, 8 bits per channel, row-major: the one pixel format every source produces and the
/// matcher consumes.
pub type RgbImage = image::RgbImage;

/// A frame of a camera stream.
#[derive(Debug, Clone)]
pub struct Frame {
    /// 0-based position in the stream.
    pub index: u64,
    /// Presentation time since the start of the stream (from the container, or index / fps).
    pub timestamp: Duration,
    pub image: RgbImage,
}
