//! Shared helpers of the matcher tests: where the photos and LFW are, and a loaded matcher.
//! Missing data or runtime fails the test with the command that fixes it (never a skip).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use camera_replay::matcher::{load_image, FaceMatcher, MatcherConfig};

/// The workspace root (the crate's parent folder).
pub const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The face set's default location, relative to the workspace root (as in
/// `.ci/check-accuracy`).
pub const DEFAULT_FACE_SET: &str = "../shared/data/faces/lfw-deepfunneled";

/// The LFW face set folder: `MYNA_HIL_FACE_SET` if set (a relative path counts from the
/// workspace root, as in `.ci/check-accuracy`), else [`DEFAULT_FACE_SET`]. The one place the
/// camera-replay tests learn where the face set is.
pub fn face_set_dir() -> PathBuf {
    let set = std::env::var_os("MYNA_HIL_FACE_SET")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_FACE_SET));
    Path::new(WORKSPACE).join(set)
}

pub fn cache_dir() -> PathBuf {
    std::env::var_os("MYNA_HIL_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/myna-hil")))
        .expect("neither MYNA_HIL_CACHE nor HOME is set: run `bash .ci/setup`")
}

fn must_load(path: &Path) -> image::RgbImage {
    if !path.is_file() {
        panic!("{} is missing: run `bash .ci/setup`", path.display());
    }
    load_image(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A photo from the setup's photo cache.
pub fn photo(name: &str) -> image::RgbImage {
    must_load(&cache_dir().join("photos").join(name))
}

/// [`face_set_dir`], checked: fails (never skips) when the set is not there.
pub fn lfw_root() -> PathBuf {
    let root = face_set_dir();
    if !root.join("pairs_folds1-5.txt").is_file() {
        panic!(
            "{} is missing: the LFW subset lives in ../shared/data beside the workspace, or \
             where MYNA_HIL_FACE_SET points (see `bash .ci/setup`, docs/platform.md)",
            root.display()
        );
    }
    root
}

/// An LFW image by person and LFW image number.
pub fn lfw(person: &str, number: u32) -> image::RgbImage {
    must_load(&lfw_root().join(person).join(format!("{number:04}.jpg")))
}

/// The same-person pairs of LFW fold 1 (person, first image, second image).
pub fn lfw_genuine_pairs() -> Vec<(String, u32, u32)> {
    let text = std::fs::read_to_string(lfw_root().join("pairs_folds1-5.txt")).expect("pairs file");
    text.lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() == 3)
        .take(300)
        .map(|f| {
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect()
}

pub fn matcher(config: &MatcherConfig) -> FaceMatcher {
    FaceMatcher::load(config).unwrap_or_else(|e| panic!("matcher tests need the face runtime: {e}"))
}

/// The 640×480 benchmark frame: obama.jpg cropped at (x, 0).
pub fn obama_frame(x: u32) -> image::RgbImage {
    let img = photo("obama.jpg");
    image::imageops::crop_imm(&img, x, 0, 640, 480).to_image()
}
