//! Test support shared by this crate's camera tests: where the face photos are, their face
//! boxes, and synthetic images for tests that need no photo.
#![allow(dead_code)]

use std::path::PathBuf;

use camera_replay::frame::RgbImage;
use camera_replay::perturb::{seeded_rng, FaceBox};

/// The profile photos (fetched by `.ci/fetch-photos`) with a face box for each, as fractions
/// of the photo's width and height (x, y, width, height), read off the photos by eye.
pub const PHOTOS: [(&str, [f32; 4]); 7] = [
    ("obama.jpg", [0.385, 0.085, 0.28, 0.265]),
    ("obama2.jpg", [0.33, 0.19, 0.45, 0.28]),
    ("obama3.jpg", [0.45, 0.105, 0.19, 0.155]),
    ("biden.jpg", [0.42, 0.065, 0.33, 0.175]),
    ("similarfaces-image1.jpg", [0.37, 0.18, 0.30, 0.35]),
    ("similarfaces-image2.jpg", [0.37, 0.18, 0.30, 0.35]),
    ("similarfaces-image3.jpg", [0.37, 0.20, 0.30, 0.36]),
];

pub fn photo_dir() -> PathBuf {
    let cache = std::env::var_os("MYNA_HIL_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/myna-hil")
        });
    cache.join("photos")
}

/// Whether a test that needs data must fail instead of skipping.
pub fn on_ci() -> bool {
    std::env::var("CI").map(|v| v == "true").unwrap_or(false)
}

/// A profile photo and its face box in pixels; `None` (after saying so) when the photos are
/// not fetched here; on CI that is a failure.
pub fn photo(name: &str) -> Option<(RgbImage, FaceBox)> {
    let path = photo_dir().join(name);
    if !path.exists() {
        assert!(
            !on_ci(),
            "{} is missing: run bash .ci/fetch-photos",
            path.display()
        );
        eprintln!(
            "skipping: {} is missing (bash .ci/fetch-photos)",
            path.display()
        );
        return None;
    }
    let img = camera_replay::source::load_photo(&path).expect("photo decodes");
    let frac = PHOTOS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
        .expect("a known photo");
    let (w, h) = (img.width() as f32, img.height() as f32);
    let face = FaceBox {
        x: frac[0] * w,
        y: frac[1] * h,
        width: frac[2] * w,
        height: frac[3] * h,
    };
    Some((img, face))
}

/// A smooth, colourful test image with some edges (no photo needed).
pub fn synthetic_image(w: u32, h: u32, seed: u64) -> RgbImage {
    let mut rng = seeded_rng(seed);
    let (a, b, c) = (
        rng.range(0.01, 0.05),
        rng.range(0.01, 0.05),
        rng.range(0.0, 6.0),
    );
    RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f64, y as f64);
        let r = 128.0 + 100.0 * (a * fx + c).sin();
        let g = 128.0 + 100.0 * (b * fy).cos();
        let bl = if ((x / 16) + (y / 16)) % 2 == 0 {
            60.0
        } else {
            190.0
        };
        image::Rgb([r as u8, g as u8, bl as u8])
    })
}

/// A temporary folder removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("camera-replay-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Reads every item of a source (at most `cap`), as Ok/Err flags and the frames.
pub fn drain(
    source: &mut dyn camera_replay::source::FrameSource,
    cap: usize,
) -> Vec<Result<camera_replay::frame::Frame, camera_replay::source::SourceError>> {
    let mut out = Vec::new();
    while out.len() < cap {
        match source.next_frame() {
            Some(item) => out.push(item),
            None => break,
        }
    }
    out
}

/// Mean absolute difference per channel between two images of the same size.
pub fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| (*x as i64 - *y as i64).unsigned_abs())
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

/// A few distinct frames of a smooth moving test pattern.
pub fn test_frames(w: u32, h: u32, n: usize) -> Vec<RgbImage> {
    (0..n)
        .map(|i| {
            RgbImage::from_fn(w, h, |x, y| {
                let fx = x as f64 + 3.0 * i as f64;
                let fy = y as f64;
                image::Rgb([
                    (128.0 + 90.0 * (fx / 23.0).sin()) as u8,
                    (128.0 + 90.0 * (fy / 17.0).cos()) as u8,
                    ((fx + fy) as u32 % 200 + 20) as u8,
                ])
            })
        })
        .collect()
}
