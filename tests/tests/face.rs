//! The face path and the face tools end to end through the CLI: `face compare`, the face
//! cases of a run with recorded clips (good, corrupt, unreadable, without a face), and
//! `accuracy` on a small face set. Photos come from the cache and ../shared/data; nothing
//! here is written into the repository.

use myna_hil_tests::{face_set_dir, fresh_dir, repo_root, run_myna_hil, text};
use std::path::{Path, PathBuf};

fn photo(name: &str) -> PathBuf {
    harness::photos::photo_path(name).unwrap_or_else(|e| panic!("{e}: run `bash .ci/setup`"))
}

fn lfw() -> PathBuf {
    let dir = face_set_dir();
    assert!(
        dir.is_dir(),
        "{} is missing: the face set lives beside the repository, or where MYNA_HIL_FACE_SET \
         points",
        dir.display()
    );
    dir
}

#[test]
fn face_compare_prints_the_score_and_says_match_or_not() {
    let (a, b, c) = (photo("obama.jpg"), photo("obama2.jpg"), photo("biden.jpg"));
    let out = run_myna_hil(&["face", "compare", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let same = text(&out.stdout);
    assert!(
        same.starts_with("score 0.") && same.contains(": match"),
        "{same}"
    );

    let out = run_myna_hil(&[
        "face",
        "compare",
        "--chip",
        a.to_str().unwrap(),
        c.to_str().unwrap(),
    ]);
    let other = text(&out.stdout);
    assert!(other.contains(": no match"), "{other}");
}

#[test]
fn face_compare_errors_name_the_file_or_the_fix() {
    let a = photo("obama.jpg");
    let out = run_myna_hil(&["face", "compare", a.to_str().unwrap(), "/nonexistent.jpg"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("/nonexistent.jpg"),
        "{}",
        text(&out.stderr)
    );

    // An image without a face: a clear error, not a panic.
    let dir = fresh_dir("face-noface");
    let blank = dir.join("blank.png");
    image::RgbImage::from_pixel(320, 240, image::Rgb([120, 130, 140]))
        .save(&blank)
        .unwrap();
    let out = run_myna_hil(&[
        "face",
        "compare",
        a.to_str().unwrap(),
        blank.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no face found"),
        "{}",
        text(&out.stderr)
    );

    // No ONNX Runtime: the bench exit code and the command that fixes it.
    let out = std::process::Command::new(myna_hil_tests::workspace_binary("myna-hil"))
        .args(["face", "compare", a.to_str().unwrap(), a.to_str().unwrap()])
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("/nonexistent/libonnxruntime.so"), "{err}");
    assert!(
        err.contains(".ci/fetch-face-runtime") || err.contains(".ci/setup"),
        "{err}"
    );
}

/// A scenario file in `dir` with a camera clip, on the valid card (chip: similarfaces-a).
fn clip_scenario(dir: &Path, name: &str, clip: &str, person: &str, expect: &str) {
    let card = repo_root().join("scenarios/cards/valid.yaml");
    let body = format!(
        "title: {name}\ndate: 2025-11-04\ncard: {}\ninsurance: {{ insurer_number: \"06139999\", number: \"1\" }}\n\
         camera: {{ clip: {clip}, person: {person}, fps: 15 }}\n\
         steps:\n  - place_card\n  - choose: face\n  - enter_pin: correct\n  - consent: all\n\
         expect:\n  face: {expect}\n",
        card.display()
    );
    std::fs::write(dir.join(format!("{name}.yaml")), body).unwrap();
}

/// Frames of the valid card's patient (similarfaces-image2), as a live clip.
fn live_frames(n: u32) -> Vec<image::RgbImage> {
    let photo = camera_replay::matcher::load_image(&photo("similarfaces-image2.jpg")).unwrap();
    let spec = camera_replay::source::ClipSpec {
        frames: n,
        seed: 5,
        ..Default::default()
    };
    camera_replay::source::LiveClip::new(&photo, spec)
        .unwrap()
        .frames()
        .into_iter()
        .map(|f| f.image)
        .collect()
}

#[test]
fn recorded_clips_good_corrupt_unreadable_or_faceless_each_get_their_verdict() {
    let dir = fresh_dir("face-clips");
    let frames = live_frames(30);

    // A good MJPEG AVI of the holder.
    let good = dir.join("good.avi");
    camera_replay::source::write_mjpeg_avi(&good, 15.0, 90, frames.iter()).unwrap();
    clip_scenario(&dir, "good", "good.avi", "similarfaces-a", "match");

    // The same clip with every third frame's JPEG destroyed: those frames are skipped.
    let mut bytes = std::fs::read(&good).unwrap();
    let mut n = 0;
    let mut i = 0;
    while let Some(at) = bytes[i..]
        .windows(4)
        .position(|w| w == b"00dc")
        .map(|p| p + i)
    {
        if n % 3 == 1 && at + 12 < bytes.len() {
            bytes[at + 8..at + 12].copy_from_slice(&[0, 0, 0, 0]);
        }
        n += 1;
        i = at + 4;
    }
    std::fs::write(dir.join("corrupt.avi"), &bytes).unwrap();
    clip_scenario(&dir, "corrupt", "corrupt.avi", "similarfaces-a", "match");

    // Not a video at all.
    std::fs::write(
        dir.join("garbage.avi"),
        b"RIFF\x10\x00\x00\x00AVI junk junk",
    )
    .unwrap();
    clip_scenario(&dir, "garbage", "garbage.avi", "similarfaces-a", "match");

    // An image folder without a face: no match, the PIN is offered and typed.
    let blank = dir.join("blank");
    std::fs::create_dir_all(&blank).unwrap();
    for k in 0..20u8 {
        image::RgbImage::from_fn(640, 480, |x, y| {
            image::Rgb([(x / 3) as u8, (y / 2) as u8, k.wrapping_mul(9)])
        })
        .save(blank.join(format!("{k:03}.png")))
        .unwrap();
    }
    clip_scenario(&dir, "faceless", "blank", "similarfaces-a", "no_match");

    let out_dir = dir.join("out");
    let out = run_myna_hil(&[
        "run",
        dir.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the garbage clip fails the run: {stdout}"
    );
    let results = reports::results::ResultsFile::read(&out_dir.join("results.json")).unwrap();
    let verdict = |id: &str| {
        let c = results
            .cases
            .iter()
            .find(|c| c.id.ends_with(id))
            .unwrap_or_else(|| panic!("no case {id}: {stdout}"));
        (
            c.verdict.as_str().to_owned(),
            c.reason.clone().unwrap_or_default(),
        )
    };
    assert_eq!(verdict("good").0, "pass", "{stdout}");
    assert_eq!(verdict("corrupt").0, "pass", "{stdout}");
    assert_eq!(verdict("faceless").0, "pass", "{stdout}");
    let (v, why) = verdict("garbage");
    assert_eq!(v, "error", "{stdout}");
    assert!(why.contains("garbage.avi"), "{why}");
}

#[test]
fn accuracy_on_a_small_face_set_writes_scores_metrics_and_plots() {
    let dir = fresh_dir("accuracy");
    let set = dir.join("set");
    std::fs::create_dir_all(&set).unwrap();
    let people = [
        "Abel_Pacheco",
        "Akhmed_Zakayev",
        "Amber_Tamblyn",
        "Angela_Bassett",
    ];
    for p in people {
        std::os::unix::fs::symlink(lfw().join(p), set.join(p)).unwrap();
    }
    let out = dir.join("out");
    let run = run_myna_hil(&[
        "accuracy",
        set.to_str().unwrap(),
        "--impostors",
        "60",
        "--perturb",
        "jpeg=30",
        "--attack",
        "still_photo",
        "--attack-limit",
        "4",
        "--grey-enrolment",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    for file in [
        "accuracy.md",
        "accuracy.json",
        "baseline/scores.csv",
        "baseline/summary.json",
        "baseline/summary.md",
        "baseline/det.png",
        "baseline/det.svg",
        "baseline/scores.png",
        "baseline/scores.svg",
        "jpeg=30/scores.csv",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let records = reports::accuracy::read_raw_scores(&out.join("baseline/scores.csv")).unwrap();
    assert!(records
        .iter()
        .any(|r| r.kind == reports::accuracy::ComparisonKind::Genuine));
    assert!(records
        .iter()
        .any(|r| r.kind == reports::accuracy::ComparisonKind::Impostor));
    let overview = std::fs::read_to_string(out.join("accuracy.md")).unwrap();
    assert!(
        overview.contains("| baseline |") && overview.contains("still-photo"),
        "{overview}"
    );

    // A pairs file with a mistake: its file:line:column, nothing run.
    let pairs = dir.join("pairs.txt");
    std::fs::write(
        &pairs,
        "1\t1\nAbel_Pacheco\t1\t4\nAbel_Pacheco\t1\tNobody\t1\n",
    )
    .unwrap();
    let run = run_myna_hil(&[
        "accuracy",
        set.to_str().unwrap(),
        "--pairs",
        pairs.to_str().unwrap(),
        "--out",
        dir.join("bad").to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    let err = text(&run.stderr);
    assert!(err.contains("pairs.txt:3:"), "{err}");
    assert!(err.contains("Nobody"), "{err}");
}
