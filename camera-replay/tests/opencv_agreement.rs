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
//! Decoding is checked bit for bit: the reference holds a hash of OpenCV's pixels
//! (`cv2.imdecode`) for every image, and [`every_image_decodes_as_opencv`] requires the same
//! hash from `matcher::decode_image`, [`mjpeg_avi_frames_decode_and_score_as_opencv`] from the
//! frames of an MJPEG AVI (built here with our writer from the cached photos' JPEG bytes,
//! unchanged) and [`image_folder_frames_decode_and_score_as_opencv`] from an image folder (LFW
//! files linked in place); both also score their frames within [`MAX_SCORE_DIFF`] of OpenCV.
//!
//! [`padded_enrolment_of_tight_crops_agrees_with_opencv`] does the same for enrolment of chip-like
//! tight crops: every image cut to OpenCV's face box and turned grey, padded with
//! `cv2.copyMakeBorder` under the default margin and border, then detected, aligned and
//! embedded; the crops and padded images must be OpenCV's pixels, the faces and the scores
//! against the wide images OpenCV's (same tolerances). Measured when the reference was
//! written: no face in any of the 51 crops unpadded (ours and OpenCV's), a face in 50 padded,
//! max |score diff| 0.00010 over 43 pairs, faces within 0.0001 px.
//!
//! It needs the face runtime, the cached photos and the LFW face set (`../shared/data`, or
//! `MYNA_HIL_FACE_SET`): when any is missing it fails (it never skips) and says to run
//! `bash .ci/setup`.

mod matcher_support;

use std::collections::HashMap;
use std::path::PathBuf;

use camera_replay::matcher::enrolment::pad;
use camera_replay::matcher::tight::{self, TightCrop};
use camera_replay::matcher::{
    decode_image, largest, AcquireFailure, DetectorConfig, EnrolmentConfig, Face, FaceMatcher,
    MatcherConfig, QualityConfig, Template,
};
use camera_replay::source::{self, FrameSource, MjpegAviWriter, SourceKind, SourceOptions};
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
    decode_image(&read(reference)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The file's bytes, unchanged.
fn read(reference: &str) -> Vec<u8> {
    let path = resolve(reference);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}): the agreement test needs the cached photos and the LFW \
             face set (../shared/data or MYNA_HIL_FACE_SET); run `bash .ci/setup`",
            path.display()
        )
    })
}

/// The reference's pixel hash: the sum over the RGB bytes `b_i` (row-major) of
/// `(b_i + 1) · M^i` modulo 2^64, M = 0x100000001B3 (`opencv_reference.py`, `pixel_hash`).
fn pixel_hash(img: &image::RgbImage) -> String {
    const M: u64 = 0x0000_0100_0000_01B3;
    let (mut h, mut p) = (0u64, 1u64);
    for &b in img.as_raw() {
        h = h.wrapping_add((u64::from(b) + 1).wrapping_mul(p));
        p = p.wrapping_mul(M);
    }
    format!("{h:016x}")
}

fn reference() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(REFERENCE).expect("tests/data/opencv_reference.json"),
    )
    .expect("reference JSON")
}

/// OpenCV's pixel hash of an image of the reference.
fn opencv_hash<'a>(doc: &'a Value, reference: &str) -> &'a str {
    doc["images"][reference]["rgb_hash"]
        .as_str()
        .unwrap_or_else(|| panic!("{reference}: no rgb_hash in the reference (rerun the script)"))
}

/// OpenCV's score of a pair of the reference (either order).
fn opencv_score(doc: &Value, a: &str, b: &str) -> Option<f32> {
    doc["pairs"].as_array()?.iter().find_map(|p| {
        let (pa, pb) = (p["a"].as_str()?, p["b"].as_str()?);
        ((pa, pb) == (a, b) || (pa, pb) == (b, a)).then(|| p["score"].as_f64().map(|v| v as f32))?
    })
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

/// The largest difference of a box coordinate or landmark between two faces, in pixels.
fn face_offset(ours: &Face, cv: &Face) -> f32 {
    (0..4)
        .map(|k| (ours.bbox[k] - cv.bbox[k]).abs())
        .chain(
            (0..5).flat_map(|k| {
                (0..2).map(move |c| (ours.landmarks[k][c] - cv.landmarks[k][c]).abs())
            }),
        )
        .fold(0f32, f32::max)
}

/// Problems (empty when none) of our faces against OpenCV's `entry` (`faces`, `chosen`).
fn faces_differ(name: &str, ours: &[Face], entry: &Value) -> Vec<String> {
    let theirs = entry["faces"].as_array().map_or(0, Vec::len);
    let mut problems = Vec::new();
    if ours.len() != theirs {
        problems.push(format!("{name}: {} faces, OpenCV {theirs}", ours.len()));
    }
    match (largest(ours), opencv_face(entry)) {
        (Some(face), Some(cv)) if face_offset(&face, &cv) > BOX_TOLERANCE_PX => {
            problems.push(format!(
                "{name}: face differs by {:.3} px: ours {face:?}, OpenCV {cv:?}",
                face_offset(&face, &cv)
            ))
        }
        (Some(_), None) => problems.push(format!("{name}: we found a face, OpenCV did not")),
        (None, Some(_)) => problems.push(format!("{name}: OpenCV found a face, we did not")),
        _ => {}
    }
    problems
}

/// Scores every pair of `pairs` that OpenCV scored, `a` from `a_side` and `b` from `b_side`:
/// the largest |ours − OpenCV| and one report line per pair (largest difference last); a pair
/// off by more than
/// [`MAX_SCORE_DIFF`] or without our template is a problem.
fn score_pairs(
    pairs: &Value,
    a_side: &HashMap<&str, Template>,
    b_side: &HashMap<&str, Template>,
    problems: &mut Vec<String>,
) -> (f32, Vec<String>) {
    let mut max_diff = 0f32;
    let mut report = Vec::new();
    for p in pairs.as_array().expect("pairs") {
        let (a, b) = (p["a"].as_str().unwrap(), p["b"].as_str().unwrap());
        let Some(cv) = p["score"].as_f64().map(|v| v as f32) else {
            continue;
        };
        let (Some(ta), Some(tb)) = (a_side.get(a), b_side.get(b)) else {
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
    (max_diff, report)
}

fn matcher() -> FaceMatcher {
    matcher_with(MatcherConfig::default())
}

fn matcher_with(config: MatcherConfig) -> FaceMatcher {
    let config = MatcherConfig {
        // OpenCV has no quality gate: compare the bare pipelines.
        quality: QualityConfig::disabled(),
        ..config
    };
    FaceMatcher::load(&config)
        .unwrap_or_else(|e| panic!("the agreement test needs the face runtime: {e}"))
}

#[test]
fn scores_and_boxes_agree_with_opencv() {
    let doc = reference();
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
        // Same pixels in (our JPEG decoder matches libjpeg-turbo's), same network: the boxes
        // and landmarks agree to about 1e-4 px; BOX_TOLERANCE_PX leaves room for another
        // CPU's float rounding.
        problems.extend(faces_differ(name, &faces, entry));
        if let (Some(face), Some(cv)) = (largest(&faces), opencv_face(entry)) {
            max_box = max_box.max(face_offset(&face, &cv));
            let template = m
                .template_for(&img, &face)
                .unwrap_or_else(|e: AcquireFailure| panic!("{name}: {e}"));
            ours.insert(name.as_str(), template);
        }
    }

    let (max_diff, report) = score_pairs(&doc["pairs"], &ours, &ours, &mut problems);
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

/// Padded enrolment of tight crops (`tight` in the reference, steps 6–9 of
/// `opencv_reference.py`): every image of the reference cut to OpenCV's face box and turned
/// grey, then enrolled as [`FaceMatcher::enrol`] does under the reference's margin and border
/// (the defaults). The crops and the padded images must have OpenCV's pixels, the faces found
/// with and without the border OpenCV's faces, and the scores of the tight enrolments against
/// the wide images OpenCV's scores.
#[test]
fn padded_enrolment_of_tight_crops_agrees_with_opencv() {
    let doc = reference();
    let tight = &doc["tight"];
    let enrolment = EnrolmentConfig {
        margin: tight["margin"].as_f64().expect("tight margin") as f32,
        border: tight["border"]
            .as_str()
            .expect("tight border")
            .parse()
            .expect("tight border"),
        fallback_score_threshold: tight["fallback_score_threshold"].as_f64().map(|v| v as f32),
    };
    assert_eq!(
        enrolment,
        EnrolmentConfig::default(),
        "the reference was written for other enrolment settings: rerun opencv_reference.py"
    );
    let mut m = matcher();
    m.set_enrolment(enrolment);
    // The second try's detector, to hold its faces to OpenCV's on every padded crop.
    let mut low = matcher_with(MatcherConfig {
        detector: DetectorConfig {
            score_threshold: enrolment.fallback_score_threshold.expect("a fallback"),
            ..DetectorConfig::default()
        },
        ..MatcherConfig::default()
    });
    let crops = tight["crops"].as_object().expect("tight crops");
    let (mut problems, mut max_box) = (Vec::new(), 0f32);
    let (mut enrolled, mut wide) = (HashMap::new(), HashMap::new());
    let (mut unpadded_found, mut padded_found, mut second_tries) = (0, 0, 0);
    for (name, c) in crops {
        let img = load(name);
        let rect: Vec<u32> = f32s(&c["rect"]).iter().map(|v| *v as u32).collect();
        let rect = [rect[0], rect[1], rect[2], rect[3]];
        // Our own box gives the same rectangle (a coordinate within BOX_TOLERANCE_PX of a whole
        // pixel may round the other way: 1 px).
        let face = largest(&m.detect(&img).unwrap_or_else(|e| panic!("{name}: {e}")));
        let ours_rect = face.and_then(|f| tight::face_crop_rect(&f, img.width(), img.height()));
        if !ours_rect.is_some_and(|r| (0..4).all(|k| r[k].abs_diff(rect[k]) <= 1)) {
            problems.push(format!("{name}: crop {ours_rect:?}, OpenCV's {rect:?}"));
        }
        if let Some(f) = face {
            let t = m
                .template_for(&img, &f)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            wide.insert(name.as_str(), t);
        }
        let grey = tight::tight_crop(&img, rect, &TightCrop::grey()).expect("rect inside");
        if pixel_hash(&grey) != c["grey_hash"].as_str().expect("grey_hash") {
            problems.push(format!("{name}: grey crop differs from cv2.cvtColor's"));
        }
        let unpadded = m.detect(&grey).unwrap_or_else(|e| panic!("{name}: {e}"));
        unpadded_found += usize::from(!unpadded.is_empty());
        problems.extend(faces_differ(
            &format!("{name} (tight)"),
            &unpadded,
            &c["unpadded"],
        ));

        let (px, py) = enrolment.padding(grey.width(), grey.height());
        assert_eq!(
            [px, py],
            [c["padding"][0].as_u64(), c["padding"][1].as_u64()].map(|v| v.unwrap() as u32),
            "{name}: padding"
        );
        let padded = pad(&grey, px, py, enrolment.border);
        if pixel_hash(&padded) != c["padded_hash"].as_str().expect("padded_hash") {
            problems.push(format!(
                "{name}: padded crop differs from cv2.copyMakeBorder's"
            ));
        }
        let faces = m.detect(&padded).unwrap_or_else(|e| panic!("{name}: {e}"));
        problems.extend(faces_differ(
            &format!("{name} (padded)"),
            &faces,
            &c["padded"],
        ));
        let faces = low
            .detect(&padded)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        problems.extend(faces_differ(
            &format!("{name} (padded, second try)"),
            &faces,
            &c["padded_fallback"],
        ));
        let cv = opencv_face(&c["padded"]).or_else(|| opencv_face(&c["padded_fallback"]));
        second_tries += usize::from(opencv_face(&c["padded"]).is_none() && cv.is_some());
        match (m.enrol(&grey), cv) {
            (Ok(t), Some(cv)) => {
                // enrol reports the face on the crop: OpenCV's on the padded image, moved back.
                let offset = face_offset(&t.face, &cv.translated(-(px as f32), -(py as f32)));
                max_box = max_box.max(offset);
                if offset > BOX_TOLERANCE_PX {
                    problems.push(format!("{name}: enrolled face differs by {offset:.3} px"));
                }
                padded_found += 1;
                enrolled.insert(name.as_str(), t);
            }
            (Err(AcquireFailure::NoFace), None) => {}
            (ours, cv) => problems.push(format!(
                "{name}: enrol gave {:?}, OpenCV's face {cv:?}",
                ours.map(|t| t.face)
            )),
        }
    }
    let (max_diff, report) = score_pairs(&tight["pairs"], &enrolled, &wide, &mut problems);
    println!("{}", report.join("\n"));
    println!(
        "{} tight crops (margin {}, {}, second try at {:?}): faces in {unpadded_found} \
         unpadded, {padded_found} padded ({second_tries} at the second try); max |score diff| \
         {max_diff:.5} over {} pairs; worst box/landmark offset {max_box:.5} px",
        crops.len(),
        enrolment.margin,
        enrolment.border,
        enrolment.fallback_score_threshold,
        report.len()
    );
    assert!(
        second_tries > 0,
        "no crop needed the second try: the reference does not test it"
    );
    assert!(!report.is_empty(), "no tight pair scored");
    assert!(
        problems.is_empty(),
        "disagreements with OpenCV:\n{}",
        problems.join("\n")
    );
}

/// Every image of the reference, decoded by `matcher::decode_image`, has OpenCV's pixels.
#[test]
fn every_image_decodes_as_opencv() {
    let doc = reference();
    let mut differ = Vec::new();
    let images = doc["images"].as_object().expect("images");
    for name in images.keys() {
        if pixel_hash(&load(name)) != opencv_hash(&doc, name) {
            differ.push(name.as_str());
        }
    }
    println!(
        "{} images, {} differ from cv2.imdecode",
        images.len(),
        differ.len()
    );
    assert!(differ.is_empty(), "pixels differ from OpenCV's: {differ:?}");
}

/// Decodes every frame of `source`, checks it against OpenCV's pixels of the JPEG it was made
/// from (`frames[i]`), then scores every pair of frames that the reference scores.
fn check_frames(doc: &Value, mut source: Box<dyn FrameSource>, frames: &[&str]) {
    let mut m = matcher();
    let mut templates: Vec<Option<Template>> = Vec::new();
    let mut problems = Vec::new();
    for (i, name) in frames.iter().enumerate() {
        let frame = source
            .next_frame()
            .unwrap_or_else(|| panic!("the source ended before frame {i} ({name})"))
            .unwrap_or_else(|e| panic!("frame {i} ({name}): {e}"));
        assert_eq!(frame.index, i as u64);
        if pixel_hash(&frame.image) != opencv_hash(doc, name) {
            problems.push(format!(
                "frame {i} ({name}): pixels differ from cv2.imdecode"
            ));
        }
        let faces = m
            .detect(&frame.image)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        templates.push(largest(&faces).map(|f| {
            m.template_for(&frame.image, &f)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
        }));
    }
    assert!(source.next_frame().is_none(), "more frames than written");
    let mut scored = 0;
    for i in 0..frames.len() {
        for j in i + 1..frames.len() {
            let Some(cv) = opencv_score(doc, frames[i], frames[j]) else {
                continue;
            };
            let (Some(a), Some(b)) = (&templates[i], &templates[j]) else {
                problems.push(format!(
                    "frames {i}, {j}: OpenCV scored {cv}, we found no face"
                ));
                continue;
            };
            let score = camera_replay::matcher::compare(a, b);
            println!(
                "frames {i} / {j}: ours {score:+.5} opencv {cv:+.5} |diff| {:.5}",
                (score - cv).abs()
            );
            if (score - cv).abs() > MAX_SCORE_DIFF {
                problems.push(format!("frames {i} / {j}: ours {score:.5}, OpenCV {cv:.5}"));
            }
            scored += 1;
        }
    }
    assert!(scored > 0, "no pair of these frames is in the reference");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("opencv-agreement-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An MJPEG AVI whose frames are the cached photos' JPEG files, byte for byte: the frames our
/// AVI source decodes are OpenCV's pixels for those bytes, and score as OpenCV scores them.
#[test]
fn mjpeg_avi_frames_decode_and_score_as_opencv() {
    let doc = reference();
    let frames = [
        "photos:similarfaces-image1.jpg",
        "photos:similarfaces-image2.jpg",
        "photos:similarfaces-image3.jpg",
    ];
    let dir = scratch_dir("avi");
    let path = dir.join("clip.avi");
    {
        let (w, h) = (
            doc["images"][frames[0]]["width"].as_u64().unwrap() as u32,
            doc["images"][frames[0]]["height"].as_u64().unwrap() as u32,
        );
        let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut writer = MjpegAviWriter::new(file, w, h, 15.0, 90).unwrap();
        for name in frames {
            writer.write_jpeg(&read(name)).unwrap();
        }
        writer.finish().unwrap();
    }
    assert_eq!(source::detect_kind(&path).unwrap(), SourceKind::MjpegAvi);
    let src = source::open(&path, &SourceOptions::default()).unwrap();
    check_frames(&doc, src, &frames);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An image folder of LFW files (linked in place, never copied): the frames our image
/// sequence decodes are OpenCV's pixels, and score as OpenCV scores them.
#[test]
fn image_folder_frames_decode_and_score_as_opencv() {
    let doc = reference();
    // The first LFW pairs of the reference, genuine and impostor, as consecutive frames.
    let mut frames: Vec<&str> = Vec::new();
    for p in doc["pairs"].as_array().unwrap() {
        let (a, b) = (p["a"].as_str().unwrap(), p["b"].as_str().unwrap());
        if a.starts_with("lfw:") && p["score"].is_number() && frames.len() < 8 {
            frames.extend([a, b]);
        }
    }
    assert_eq!(frames.len(), 8);
    let dir = scratch_dir("folder");
    for (i, name) in frames.iter().enumerate() {
        std::os::unix::fs::symlink(resolve(name), dir.join(format!("frame{}.jpg", i + 1))).unwrap();
    }
    assert_eq!(
        source::detect_kind(&dir).unwrap(),
        SourceKind::ImageSequence
    );
    let src = source::open(&dir, &SourceOptions::default()).unwrap();
    check_frames(&doc, src, &frames);
    std::fs::remove_dir_all(&dir).unwrap();
}
