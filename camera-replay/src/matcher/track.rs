//! Face tracking over a video stream: detection runs only when needed.
//!
//! Detection (YuNet on 640×640) costs more than alignment and embedding together, and a
//! face in front of a reader barely moves between frames. The tracker keeps the landmarks
//! of the last detection and reuses them while
//! - fewer than [`TrackerConfig::redetect_every`] frames have passed since the detection,
//! - the face region still looks the same: a 16×16 grey thumbnail of the face box differs
//!   from the one taken at detection by at most [`TrackerConfig::max_region_change`] grey
//!   levels on average (camera noise is 1-3 levels; a head turn, a step aside, a hand or a
//!   photo swapped in front of the camera changes it by tens), and
//! - the frame has the same size.
//!
//! A reused face that fails the quality gate is detected again on the same frame, so a
//! failure is never reported from stale landmarks.

use std::time::{Duration, Instant};

use image::RgbImage;

use super::detect::{iou, Face};
use super::imageops::grey;
use super::{largest, AcquireFailure, FaceMatcher, StepTimings, Template};
use crate::frame::Frame;

/// When the tracker detects again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerConfig {
    /// Detect at least every this many frames (1: every frame).
    pub redetect_every: u32,
    /// Detect when the face region's mean absolute grey change since the last detection
    /// exceeds this (0-255 scale).
    pub max_region_change: f32,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            redetect_every: 10,
            max_region_change: 8.0,
        }
    }
}

/// A successful frame: the probe and its score against the reference.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameMatch {
    pub score: f32,
    pub is_match: bool,
    pub probe: Template,
}

/// What the tracker made of one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameResult {
    pub index: u64,
    pub timestamp: Duration,
    /// Whether the detector ran on this frame (false: landmarks of an earlier frame reused).
    pub detected: bool,
    pub outcome: Result<FrameMatch, AcquireFailure>,
    /// `detect` includes the region check; it is that check alone when the detector did not
    /// run.
    pub timings: StepTimings,
}

impl FrameResult {
    pub fn score(&self) -> Option<f32> {
        self.outcome.as_ref().ok().map(|m| m.score)
    }
}

const THUMB: usize = 16;

/// Mean grey of a THUMB×THUMB grid of cells over the box (each cell sampled on up to 4×4
/// points), clipped to the image.
fn thumbnail(img: &RgbImage, bbox: &[f32; 4]) -> Vec<f32> {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let mut out = Vec::with_capacity(THUMB * THUMB);
    let cell_w = bbox[2] / THUMB as f32;
    let cell_h = bbox[3] / THUMB as f32;
    for cy in 0..THUMB {
        for cx in 0..THUMB {
            let (mut sum, mut n) = (0f32, 0f32);
            for sy in 0..4 {
                for sx in 0..4 {
                    let x = bbox[0] + (cx as f32 + (sx as f32 + 0.5) / 4.0) * cell_w;
                    let y = bbox[1] + (cy as f32 + (sy as f32 + 0.5) / 4.0) * cell_h;
                    if x >= 0.0 && y >= 0.0 && x < w && y < h {
                        sum += grey(&img.get_pixel(x as u32, y as u32).0);
                        n += 1.0;
                    }
                }
            }
            out.push(if n > 0.0 { sum / n } else { 0.0 });
        }
    }
    out
}

fn mean_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() || a.is_empty() {
        return f32::INFINITY;
    }
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
}

struct Track {
    face: Face,
    thumb: Vec<f32>,
    frame_size: (u32, u32),
    since_detect: u32,
}

/// Scores a stream of frames against one reference template.
pub struct FaceTracker {
    matcher: FaceMatcher,
    reference: Template,
    config: TrackerConfig,
    track: Option<Track>,
}

impl FaceTracker {
    pub fn new(matcher: FaceMatcher, reference: Template, config: TrackerConfig) -> FaceTracker {
        FaceTracker {
            matcher,
            reference,
            config,
            track: None,
        }
    }

    pub fn reference(&self) -> &Template {
        &self.reference
    }

    /// Forgets the tracked face (the next frame is detected).
    pub fn reset(&mut self) {
        self.track = None;
    }

    /// Gives the matcher back.
    pub fn into_matcher(self) -> FaceMatcher {
        self.matcher
    }

    /// Scores every frame of an iterator, lazily.
    pub fn process_all<'a, I>(&'a mut self, frames: I) -> impl Iterator<Item = FrameResult> + 'a
    where
        I: IntoIterator<Item = Frame>,
        I::IntoIter: 'a,
    {
        frames.into_iter().map(move |f| self.process(&f))
    }

    /// Scores one frame.
    pub fn process(&mut self, frame: &Frame) -> FrameResult {
        let img = &frame.image;
        let t0 = Instant::now();
        let reference = &self.reference;
        let threshold = self.matcher.config().threshold;
        let result = |detected: bool, outcome: Result<Template, AcquireFailure>, timings| {
            let outcome = outcome.map(|probe| {
                let score = super::compare(reference, &probe);
                FrameMatch {
                    score,
                    is_match: score >= threshold,
                    probe,
                }
            });
            FrameResult {
                index: frame.index,
                timestamp: frame.timestamp,
                detected,
                outcome,
                timings,
            }
        };

        // Try the tracked face first.
        if let Some(track) = &mut self.track {
            let reuse = track.since_detect + 1 < self.config.redetect_every
                && track.frame_size == img.dimensions()
                && mean_abs_diff(&thumbnail(img, &track.face.bbox), &track.thumb)
                    <= self.config.max_region_change;
            if reuse {
                let face = track.face;
                let timings = StepTimings {
                    detect: t0.elapsed(),
                    ..StepTimings::default()
                };
                match self.matcher.template_timed(img, &face, timings) {
                    Ok(t) => {
                        if let Some(track) = &mut self.track {
                            track.since_detect += 1;
                        }
                        let timings = t.timings;
                        return result(false, Ok(t), timings);
                    }
                    Err(AcquireFailure::Engine(e)) => {
                        return result(false, Err(AcquireFailure::Engine(e)), timings);
                    }
                    Err(_) => {} // detect on this frame
                }
            }
        }

        let faces = match self.matcher.detect(img) {
            Ok(f) => f,
            Err(e) => {
                self.track = None;
                let timings = StepTimings {
                    detect: t0.elapsed(),
                    ..StepTimings::default()
                };
                return result(true, Err(e), timings);
            }
        };
        // Prefer the face that overlaps the tracked one (the same person staying in front
        // of the camera), else the largest.
        let previous = self.track.as_ref().map(|t| t.face);
        let chosen = previous
            .and_then(|p| {
                faces
                    .iter()
                    .map(|f| (iou(&f.bbox, &p.bbox), *f))
                    .filter(|(o, _)| *o > 0.3)
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(_, f)| f)
            })
            .or_else(|| largest(&faces));
        let Some(face) = chosen else {
            self.track = None;
            let timings = StepTimings {
                detect: t0.elapsed(),
                ..StepTimings::default()
            };
            return result(true, Err(AcquireFailure::NoFace), timings);
        };
        self.track = Some(Track {
            face,
            thumb: thumbnail(img, &face.bbox),
            frame_size: img.dimensions(),
            since_detect: 0,
        });
        let timings = StepTimings {
            detect: t0.elapsed(),
            ..StepTimings::default()
        };
        let outcome = self.matcher.template_timed(img, &face, timings);
        let timings = match &outcome {
            Ok(t) => t.timings,
            Err(_) => StepTimings {
                align: t0.elapsed().saturating_sub(timings.detect),
                ..timings
            },
        };
        result(true, outcome, timings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnail_change_is_small_for_noise_and_large_for_a_shift() {
        let img = RgbImage::from_fn(200, 200, |x, y| {
            let v = ((x / 10 + y / 7) % 2) as u8 * 200;
            image::Rgb([v, v, v])
        });
        let noisy = RgbImage::from_fn(200, 200, |x, y| {
            let p = img.get_pixel(x, y).0[0];
            let n = ((x * 31 + y * 17) % 5) as u8; // 0..4 levels of "noise"
            let v = p.saturating_add(n);
            image::Rgb([v, v, v])
        });
        let bbox = [50.0, 50.0, 100.0, 100.0];
        let a = thumbnail(&img, &bbox);
        assert!(mean_abs_diff(&a, &thumbnail(&noisy, &bbox)) < 3.0);
        let shifted = [58.0, 50.0, 100.0, 100.0];
        assert!(mean_abs_diff(&a, &thumbnail(&img, &shifted)) > 20.0);
        // A box partly outside the image is clipped, not read out of range.
        let _ = thumbnail(&img, &[-50.0, 150.0, 400.0, 400.0]);
    }
}
