//! The matcher against OpenCV's FaceDetectorYN + FaceRecognizerSF.
//!
//! `tests/data/opencv_reference.json` holds OpenCV 5.0.0's faces and scores for 43 image
//! pairs (the 7 cached photos pairwise, 22 LFW pairs), written by
//! `camera-replay/reference/opencv_reference.py` (its header says how to rerun it). This
//! test computes the same with our matcher and requires every score within
//! [`MAX_SCORE_DIFF`] of OpenCV's and the chosen face boxes close.
//!
//! Measured when the reference was written: max |score diff| 0.00009 over the 43 pairs,
//! boxes and landmarks within 0.0002 px (the pixels are identical: our baseline JPEG decoder
//! matches libjpeg-turbo, our resize and warp match OpenCV's; what is left is float
//! rounding between ONNX Runtime and OpenCV's DNN engine).
//!
//! It needs the face runtime, the cached photos and the LFW face set (`../shared/data`, or
//! `MYNA_HIL_FACE_SET`): when any is missing it fails (it never skips) and says to run
//! `bash .ci/setup`.

mod matcher_support;

use std::collections::HashMap;
use std::path::PathBuf;

use camera_replay::matcher::{
    decode_image, largest, AcquireFailure, Face, FaceMatcher, MatcherConfig, QualityConfig,
    Template,
};
use serde_json::Value;

/// Largest allowed |ours − OpenCV| of a cosine score.
const MAX_SCORE_DIFF: f32 = 0.005;

/// Largest allowed difference of a box coordinate or landmark, in image pixels.
const BOX_TOLERANCE_PX: f32 = 0.1;

const REFERENCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/opencv_reference.json"
);

fn resolve(reference: &str) -> PathBuf {
    let (root, rel) = reference
        .split_once(':')
        .unwrap_or_else(|| panic!("bad image reference {reference}"));
    match root {
        "photos" => matcher_support::cache_dir().join("photos").join(rel),
        "lfw" => matcher_support::face_set_dir().join(rel),
        other => panic!("unknown image root {other} in {reference}"),
    }
}

fn load(reference: &str) -> image::RgbImage {
    let path = resolve(reference);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}): the agreement test needs the cached photos and the LFW \
             face set (../shared/data or MYNA_HIL_FACE_SET); run `bash .ci/setup`",
            path.display()
        )
    });
    decode_image(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

/// OpenCV's chosen face of an image.
fn opencv_face(entry: &Value) -> Option<Face> {
    let i = entry["chosen"].as_u64()? as usize;
    let f = &entry["faces"][i];
    let b = f32s(&f["box"]);
    let lm: Vec<Vec<f32>> = f["landmarks"]
        .as_array()
        .expect("landmarks")
        .iter()
        .map(f32s)
        .collect();
    Some(Face {
        bbox: [b[0], b[1], b[2], b[3]],
        landmarks: std::array::from_fn(|k| [lm[k][0], lm[k][1]]),
        score: f["score"].as_f64().expect("score") as f32,
    })
}

fn matcher() -> FaceMatcher {
    let config = MatcherConfig {
        // OpenCV has no quality gate: compare the bare pipelines.
        quality: QualityConfig::disabled(),
        ..MatcherConfig::default()
    };
    FaceMatcher::load(&config)
        .unwrap_or_else(|e| panic!("the agreement test needs the face runtime: {e}"))
}

#[test]
fn scores_and_boxes_agree_with_opencv() {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(REFERENCE).expect("tests/data/opencv_reference.json"),
    )
    .expect("reference JSON");
    let mut m = matcher();
    assert_eq!(
        doc["score_threshold"].as_f64().map(|v| v as f32),
        Some(m.config().detector.score_threshold)
    );
    assert_eq!(
        doc["nms_threshold"].as_f64().map(|v| v as f32),
        Some(m.config().detector.nms_threshold)
    );

    let images = doc["images"].as_object().expect("images");
    let mut ours: HashMap<&str, Template> = HashMap::new();
    let mut problems = Vec::new();
    let mut max_box = 0f32;
    for (name, entry) in images {
        let img = load(name);
        assert_eq!(
            (img.width() as u64, img.height() as u64),
            (
                entry["width"].as_u64().unwrap(),
                entry["height"].as_u64().unwrap()
            ),
            "{name}: decoded size differs from OpenCV's"
        );
        let faces = m.detect(&img).unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = opencv_face(entry);
        let chosen = largest(&faces);
        match (expected, chosen) {
            (None, None) => continue,
            (Some(_), None) => {
                problems.push(format!("{name}: OpenCV found a face, we did not"));
                continue;
            }
            (None, Some(_)) => {
                problems.push(format!("{name}: we found a face, OpenCV did not"));
                continue;
            }
            (Some(cv), Some(face)) => {
                // Same pixels in (our JPEG decoder matches libjpeg-turbo's), same network: the
                // boxes and landmarks agree to about 1e-4 px; 0.1 px leaves room for another
                // CPU's float rounding.
                let tol = BOX_TOLERANCE_PX;
                let worst = (0..4)
                    .map(|k| (face.bbox[k] - cv.bbox[k]).abs())
                    .chain((0..5).flat_map(|k| {
                        (0..2).map(move |c| (face.landmarks[k][c] - cv.landmarks[k][c]).abs())
                    }))
                    .fold(0f32, f32::max);
                max_box = max_box.max(worst);
                if worst > tol {
                    problems.push(format!(
                        "{name}: face differs by {worst:.3} px (tolerance {tol:.2}): ours {face:?}, OpenCV {cv:?}"
                    ));
                }
                if faces.len() != entry["faces"].as_array().unwrap().len() {
                    problems.push(format!(
                        "{name}: {} faces, OpenCV {}",
                        faces.len(),
                        entry["faces"].as_array().unwrap().len()
                    ));
                }
                let template = m
                    .template_for(&img, &face)
                    .unwrap_or_else(|e: AcquireFailure| panic!("{name}: {e}"));
                ours.insert(name.as_str(), template);
            }
        }
    }

    let mut max_diff = 0f32;
    let mut report = Vec::new();
    for p in doc["pairs"].as_array().expect("pairs") {
        let (a, b) = (p["a"].as_str().unwrap(), p["b"].as_str().unwrap());
        let Some(cv) = p["score"].as_f64().map(|v| v as f32) else {
            continue;
        };
        let (Some(ta), Some(tb)) = (ours.get(a), ours.get(b)) else {
            problems.push(format!("{a} / {b}: OpenCV scored {cv}, we found no face"));
            continue;
        };
        let score = camera_replay::matcher::compare(ta, tb);
        let diff = (score - cv).abs();
        max_diff = max_diff.max(diff);
        report.push(format!(
            "{diff:.5}  ours {score:+.5}  opencv {cv:+.5}  {a} / {b}"
        ));
        if diff > MAX_SCORE_DIFF {
            problems.push(format!(
                "{a} / {b}: ours {score:.5}, OpenCV {cv:.5}, |diff| {diff:.5} > {MAX_SCORE_DIFF}"
            ));
        }
    }
    report.sort();
    println!("{}", report.join("\n"));
    println!(
        "max |score diff| {max_diff:.5} over {} pairs; worst box/landmark offset {max_box:.5} px",
        report.len()
    );
    assert!(
        problems.is_empty(),
        "disagreements with OpenCV:\n{}",
        problems.join("\n")
    );
}
