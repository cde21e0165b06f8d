//! The matcher's public API on real photos: enrol/probe/compare, typed failures for bad
//! input, greyscale enrolment, several threads, the tracker, and a missing runtime.
//! Needs the face runtime and the photo cache (`bash .ci/setup`).

mod matcher_support;

use std::path::PathBuf;
use std::time::Duration;

use camera_replay::frame::Frame;
use camera_replay::matcher::{
    decode_image, rgb_from_luma, AcquireFailure, FaceMatcher, FaceTracker, FailureKind,
    MatcherConfig, MatcherError, QualityConfig, TrackerConfig,
};
use camera_replay::runtime::{RuntimeError, RuntimePaths};
use matcher_support::{matcher, obama_frame, photo};

fn default_matcher() -> FaceMatcher {
    matcher(&MatcherConfig::default())
}

#[test]
fn genuine_and_impostor_photos() {
    let mut m = default_matcher();
    let c = m
        .compare_images(&photo("obama.jpg"), &photo("obama2.jpg"))
        .unwrap();
    assert!(c.is_match && c.score > 0.7, "{}", c.score);
    assert_eq!(c.threshold, 0.363);
    let c = m
        .compare_images(&photo("obama.jpg"), &photo("biden.jpg"))
        .unwrap();
    assert!(!c.is_match && c.score < 0.2, "{}", c.score);
    // Boxes are in the images' own pixels and timings are filled in.
    let [x, y, w, h] = c.a.face.bbox;
    assert!(
        x > 300.0 && y > 50.0 && w > 200.0 && h > 250.0,
        "{:?}",
        c.a.face
    );
    assert!(c.a.timings.detect > Duration::ZERO && c.a.timings.embed > Duration::ZERO);
    assert!(c.a.quality.interocular_px > 100.0);
}

#[test]
fn greyscale_enrolment_photo() {
    let mut m = default_matcher();
    let grey = image::DynamicImage::ImageRgb8(photo("obama.jpg")).to_luma8();
    let reference = m.enrol(&rgb_from_luma(&grey)).unwrap();
    let same = m.probe(&photo("obama2.jpg")).unwrap();
    let other = m.probe(&photo("biden.jpg")).unwrap();
    assert!(m.is_match(m.compare(&reference, &same)));
    assert!(!m.is_match(m.compare(&reference, &other)));
}

#[test]
fn bad_input_is_a_typed_failure_never_a_panic() {
    let mut m = default_matcher();
    let flat = image::RgbImage::from_pixel(640, 480, image::Rgb([120, 120, 120]));
    assert_eq!(m.probe(&flat).unwrap_err(), AcquireFailure::NoFace);
    for (w, h) in [(0, 0), (1, 1), (8, 400), (400, 15)] {
        let e = m.probe(&image::RgbImage::new(w, h)).unwrap_err();
        assert_eq!(e.kind(), FailureKind::ImageTooSmall, "{w}x{h}");
    }
    // Extreme aspect ratio: letterboxed to 640×1, no face, no panic.
    let strip = image::RgbImage::from_pixel(4000, 16, image::Rgb([10, 200, 30]));
    assert_eq!(m.probe(&strip).unwrap_err(), AcquireFailure::NoFace);
    // Corrupt and truncated files.
    assert_eq!(
        decode_image(b"\xff\xd8\xff\xe0garbage").unwrap_err().kind(),
        FailureKind::Undecodable
    );
    let bytes = std::fs::read(matcher_support::cache_dir().join("photos/obama2.jpg")).unwrap();
    for cut in [100, 1000, bytes.len() / 3, bytes.len() - 10] {
        if let Ok(img) = decode_image(&bytes[..cut]) {
            let _ = m.probe(&img); // whatever it finds, it does not panic
        }
    }
    let mut flipped = bytes.clone();
    for i in (2000..flipped.len()).step_by(997) {
        flipped[i] ^= 0xA5;
    }
    if let Ok(img) = decode_image(&flipped) {
        let _ = m.probe(&img);
    }
}

#[test]
fn quality_gate_rejects_small_and_blurred_faces() {
    let mut m = default_matcher();
    let img = photo("obama.jpg");
    // Eyes 116 px apart; a seventh of that is under the 20 px minimum.
    let small = image::imageops::resize(&img, 130, 162, image::imageops::FilterType::Triangle);
    match m.probe(&small) {
        Err(AcquireFailure::FaceTooSmall { interocular_px, .. }) => {
            assert!(interocular_px < 20.0)
        }
        other => panic!("expected FaceTooSmall, got {other:?}"),
    }
    // A defocus of about σ = 3 px in crop units.
    let blurred = image::imageops::blur(&img, 10.0);
    match m.probe(&blurred) {
        Err(AcquireFailure::TooBlurred { sharpness, min, .. }) => assert!(sharpness < min),
        other => panic!("expected TooBlurred, got {other:?}"),
    }
    // With the gate off both are templates.
    m.set_thresholds(
        m.config().detector,
        QualityConfig::disabled(),
        m.config().threshold,
    );
    assert!(m.probe(&blurred).is_ok());
    assert!(m.probe(&small).is_ok());
}

#[test]
fn matchers_on_several_threads_agree() {
    let pairs = [("obama.jpg", "obama3.jpg"), ("biden.jpg", "obama2.jpg")];
    let single: Vec<f32> = {
        let mut m = default_matcher();
        pairs
            .iter()
            .map(|(a, b)| m.compare_images(&photo(a), &photo(b)).unwrap().score)
            .collect()
    };
    let handles: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                let mut m = default_matcher();
                pairs
                    .iter()
                    .map(|(a, b)| m.compare_images(&photo(a), &photo(b)).unwrap().score)
                    .collect::<Vec<f32>>()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), single);
    }
    // A matcher can also move to another thread.
    let mut m = default_matcher();
    let t = std::thread::spawn(move || m.probe(&photo("obama.jpg")).is_ok());
    assert!(t.join().unwrap());
}

#[test]
fn tracker_skips_detection_while_the_face_stays() {
    let mut m = default_matcher();
    let reference = m.enrol(&photo("obama2.jpg")).unwrap();
    let mut tracker = FaceTracker::new(m, reference, TrackerConfig::default());
    let still = obama_frame(135);
    let frame = |index: u64, image: &image::RgbImage| Frame {
        index,
        timestamp: Duration::from_millis(index * 33),
        image: image.clone(),
    };
    let mut detected = Vec::new();
    let mut scores = Vec::new();
    for i in 0..12 {
        let r = tracker.process(&frame(i, &still));
        assert_eq!(r.index, i);
        detected.push(r.detected);
        let m = r.outcome.expect("a face");
        assert!(m.is_match);
        scores.push(m.score);
        if !r.detected {
            assert!(r.timings.embed > Duration::ZERO);
        }
    }
    // Detection on the first frame and again after `redetect_every` (10) frames.
    let expected: Vec<bool> = (0..12).map(|i| i == 0 || i == 10).collect();
    assert_eq!(detected, expected);
    assert!(scores.iter().all(|s| (s - scores[0]).abs() < 1e-4));

    // The face moves 60 px: the region check sends the next frame to the detector.
    let moved = obama_frame(75);
    let r = tracker.process(&frame(12, &moved));
    assert!(r.detected);
    assert!(r.outcome.unwrap().is_match);
    let r = tracker.process(&frame(13, &moved));
    assert!(!r.detected);

    // The face leaves: no face, detected on that frame; it comes back: detected again.
    let empty = image::RgbImage::from_pixel(640, 480, image::Rgb([90, 90, 90]));
    let r = tracker.process(&frame(14, &empty));
    assert!(r.detected);
    assert_eq!(r.outcome.unwrap_err(), AcquireFailure::NoFace);
    let r = tracker.process(&frame(15, &still));
    assert!(r.detected && r.outcome.is_ok());

    // Someone else steps in at the same place: detected (region changed), not a match.
    let biden = photo("biden.jpg");
    let other = image::imageops::crop_imm(&biden, 100, 100, 640, 480).to_image();
    let results: Vec<_> = tracker
        .process_all((16..18).map(|i| frame(i, &other)))
        .collect();
    assert!(results[0].detected);
    assert!(results
        .iter()
        .all(|r| r.outcome.as_ref().map_or(true, |m| !m.is_match)));
}

/// A missing library is an error naming the path and the fix, before ort is touched.
#[test]
fn missing_runtime_is_a_typed_error() {
    let mut paths = RuntimePaths::from_env().expect("HOME or MYNA_HIL_CACHE");
    paths.library = PathBuf::from("/nonexistent/libonnxruntime.so");
    let config = MatcherConfig {
        runtime: Some(paths),
        ..MatcherConfig::default()
    };
    let err = FaceMatcher::load(&config).unwrap_err();
    assert!(matches!(
        err,
        MatcherError::Runtime(RuntimeError::LibraryMissing { .. })
    ));
    let msg = err.to_string();
    for needle in [
        "/nonexistent/libonnxruntime.so",
        "bash .ci/fetch-face-runtime",
        "bash .ci/setup",
    ] {
        assert!(msg.contains(needle), "{msg}");
    }
}

const CHILD: &str = "MYNA_HIL_MATCHER_TEST_CHILD";

/// Run in a child process (see below) with ORT_DYLIB_PATH pointing nowhere.
#[test]
fn child_load_with_bad_ort_dylib_path() {
    if std::env::var_os(CHILD).is_none() {
        return; // only meaningful as the child of the test below
    }
    match FaceMatcher::load(&MatcherConfig::default()) {
        Err(MatcherError::Runtime(RuntimeError::LibraryMissing { path, origin })) => {
            println!("CHILD-OK {} ({origin})", path.display())
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("loaded without a library"),
    }
}

#[test]
fn env_pointing_at_a_missing_library_fails_cleanly_in_a_fresh_process() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "child_load_with_bad_ort_dylib_path",
            "--exact",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .env("ORT_DYLIB_PATH", "/nonexistent/dir/libonnxruntime.so")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("CHILD-OK /nonexistent/dir/libonnxruntime.so (from ORT_DYLIB_PATH)"),
        "{stdout}"
    );
}
