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

pub fn matcher(config: &MatcherConfig) -> FaceMatcher {
    FaceMatcher::load(config).unwrap_or_else(|e| panic!("matcher tests need the face runtime: {e}"))
}

/// The 640×480 benchmark frame: obama.jpg cropped at (x, 0).
pub fn obama_frame(x: u32) -> image::RgbImage {
    let img = photo("obama.jpg");
    image::imageops::crop_imm(&img, x, 0, 640, 480).to_image()
}

/// One line of LFW View 2's pairs file: two images (person, LFW image number) and whether
/// they show the same person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LfwPair {
    pub a: (String, u32),
    pub b: (String, u32),
    pub genuine: bool,
}

/// The pairs of LFW View 2 fold `fold` (1-based): its 300 same-person lines, then its 300
/// different-person lines. Fold 1 (the first 600 pairs) is the tuning split; folds 2–5 are
/// for evaluation only.
pub fn lfw_fold_pairs(fold: usize) -> Vec<LfwPair> {
    let text = std::fs::read_to_string(lfw_root().join("pairs_folds1-5.txt")).expect("pairs file");
    let mut lines = text.lines();
    let head: Vec<usize> = lines
        .next()
        .expect("pairs header")
        .split_whitespace()
        .map(|v| v.parse().expect("pairs header"))
        .collect();
    let (folds, per) = (head[0], head[1]);
    assert!((1..=folds).contains(&fold), "fold {fold} of {folds}");
    lines
        .skip((fold - 1) * 2 * per)
        .take(2 * per)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.len() {
                3 => LfwPair {
                    a: (f[0].into(), f[1].parse().unwrap()),
                    b: (f[0].into(), f[2].parse().unwrap()),
                    genuine: true,
                },
                4 => LfwPair {
                    a: (f[0].into(), f[1].parse().unwrap()),
                    b: (f[2].into(), f[3].parse().unwrap()),
                    genuine: false,
                },
                _ => panic!("bad pairs line {l:?}"),
            }
        })
        .collect()
}

/// The images of `pairs`, each once, sorted.
pub fn pair_images(pairs: &[LfwPair]) -> Vec<(String, u32)> {
    let set: std::collections::BTreeSet<_> = pairs
        .iter()
        .flat_map(|p| [p.a.clone(), p.b.clone()])
        .collect();
    set.into_iter().collect()
}

/// Equal error rate (the mean of FNMR and FMR where they cross, scores at or above a
/// threshold accepted), from genuine and impostor scores.
pub fn eer(genuine: &[f32], impostor: &[f32]) -> f32 {
    if genuine.is_empty() || impostor.is_empty() {
        return f32::NAN;
    }
    let mut ts: Vec<f32> = genuine.iter().chain(impostor).copied().collect();
    ts.sort_by(f32::total_cmp);
    let (mut best, mut gap) = (f32::NAN, f32::INFINITY);
    for t in ts {
        let fnmr = genuine.iter().filter(|s| **s < t).count() as f32 / genuine.len() as f32;
        let fmr = impostor.iter().filter(|s| **s >= t).count() as f32 / impostor.len() as f32;
        if (fnmr - fmr).abs() < gap {
            gap = (fnmr - fmr).abs();
            best = (fnmr + fmr) / 2.0;
        }
    }
    best
}

/// Runs `f` over `items` on one thread per matcher (each thread owns one matcher), results
/// in the order of `items`.
pub fn par_map<T: Sync, R: Send>(
    items: &[T],
    matchers: &mut [FaceMatcher],
    f: impl Fn(&mut FaceMatcher, &T) -> R + Sync,
) -> Vec<R> {
    let n = matchers.len().max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut out: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    let results = std::sync::Mutex::new(&mut out);
    std::thread::scope(|s| {
        for m in matchers.iter_mut().take(n) {
            let (next, results, f) = (&next, &results, &f);
            s.spawn(move || loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= items.len() {
                    break;
                }
                let r = f(m, &items[i]);
                results.lock().unwrap()[i] = Some(r);
            });
        }
    });
    out.into_iter()
        .map(|r| r.expect("every item mapped"))
        .collect()
}

/// Threads for the LFW measurements: `MYNA_HIL_TEST_THREADS`, else 2.
pub fn test_threads() -> usize {
    std::env::var("MYNA_HIL_TEST_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(2)
}

/// The tight crop of an image's face ([`camera_replay::matcher::tight`]): the largest face
/// YuNet finds at OpenCV's settings (`m` must have the default detector), and its box cut and
/// finished as `how` says. `None` when no face is found.
pub fn tight_crop_of(
    m: &mut FaceMatcher,
    img: &image::RgbImage,
    how: &camera_replay::matcher::tight::TightCrop,
) -> Option<(camera_replay::matcher::Face, image::RgbImage)> {
    use camera_replay::matcher::{largest, tight, DetectorConfig};
    assert_eq!(
        m.config().detector,
        DetectorConfig::default(),
        "tight crops are cut at OpenCV's detector settings"
    );
    let face = largest(&m.detect(img).ok()?)?;
    let rect = tight::face_crop_rect(&face, img.width(), img.height())?;
    Some((face, tight::tight_crop(img, rect, how)?))
}
