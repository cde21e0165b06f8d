//! The face path and the face tools end to end through the CLI: `face compare`, the face
//! cases of a run with recorded clips (good, corrupt, unreadable, without a face), and
//! `accuracy` on a small face set. Photos come from the cache and ../shared/data; nothing
//! here is written into the repository.

use myna_hil_tests::{fresh_dir, linked_face_set, repo_root, run_myna_hil, text};
use std::path::{Path, PathBuf};

fn photo(name: &str) -> PathBuf {
    harness::photos::photo_path(name).unwrap_or_else(|e| panic!("{e}: run `bash .ci/setup`"))
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
    let set = linked_face_set(
        &dir,
        &[
            "Abel_Pacheco",
            "Akhmed_Zakayev",
            "Amber_Tamblyn",
            "Angela_Bassett",
        ],
    );
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
    let rows = reports::accuracy::read_raw_rows(&out.join("baseline/scores.csv")).unwrap();
    let kinds: Vec<_> = rows
        .iter()
        .filter_map(|r| match r {
            reports::accuracy::RawRow::Scored(r) => Some(r.kind),
            reports::accuracy::RawRow::Lost(_) => None,
        })
        .collect();
    assert!(kinds.contains(&reports::accuracy::ComparisonKind::Genuine));
    assert!(kinds.contains(&reports::accuracy::ComparisonKind::Impostor));
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

/// Three LFW people (linked, read in place) and one whose two images hold no face.
fn set_with_a_faceless_person(dir: &Path) -> PathBuf {
    let set = linked_face_set(dir, &["Abel_Pacheco", "Akhmed_Zakayev", "Amber_Tamblyn"]);
    std::fs::create_dir_all(set.join("Blank_Person")).unwrap();
    for (i, grey) in [(1, 90u8), (2, 160)] {
        image::RgbImage::from_pixel(250, 250, image::Rgb([grey; 3]))
            .save(set.join(format!("Blank_Person/{i:04}.png")))
            .unwrap();
    }
    set
}

#[test]
fn accuracy_counts_lost_comparisons_and_fails_on_warnings_when_asked() {
    let dir = fresh_dir("accuracy-lost");
    let set = set_with_a_faceless_person(&dir);
    let out = dir.join("out");
    let run_with = |extra: &[&str], out: &Path| {
        let mut args = vec![
            "accuracy",
            set.to_str().unwrap(),
            "--impostors",
            "80",
            "--bootstrap",
            "200",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        run_myna_hil(&args)
    };
    let run = run_with(&[], &out);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let err = text(&run.stderr);
    assert!(err.contains("fta-above-limit"), "{err}");

    // The lost comparisons are rows with their failure, never dropped.
    let rows = reports::accuracy::read_raw_rows(&out.join("baseline/scores.csv")).unwrap();
    let lost: Vec<_> = rows
        .iter()
        .filter_map(|r| match r {
            reports::accuracy::RawRow::Lost(l) => Some(l),
            reports::accuracy::RawRow::Scored(_) => None,
        })
        .collect();
    assert!(
        lost.iter()
            .any(|l| l.kind == reports::accuracy::ComparisonKind::Genuine
                && l.failure == "enrolment: NoFace"),
        "{lost:?}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("baseline/summary.json")).unwrap())
            .unwrap();
    let s = &summary["summary"];
    assert_eq!(s["lost"]["genuine"]["count"], 1, "{s}");
    assert!(s["fte"]["count"].as_u64() >= Some(1), "{s}");
    assert!(s["generalised"]["eer"]["eer"].is_number(), "{s}");
    assert_eq!(s["bootstrap"]["replicates"], 200, "{s}");
    assert_eq!(summary["failures"][0]["kind"], "NoFace", "{summary}");
    // One row per side and kind in the failure table, not one per file.
    let md = std::fs::read_to_string(out.join("baseline/summary.md")).unwrap();
    assert_eq!(md.matches("| NoFace |").count(), 2, "{md}");
    let overview = std::fs::read_to_string(out.join("accuracy.md")).unwrap();
    assert!(overview.contains("generalised EER"), "{overview}");
    assert!(overview.contains("## Warnings"), "{overview}");

    // --fail-on-warning: exit 1 on the listed code, 0 when only others are raised.
    let again = |codes: &str, name: &str| {
        run_with(&["--fail-on-warning", codes], &dir.join(name))
            .status
            .code()
    };
    assert_eq!(again("fte-above-limit", "fail"), Some(1));
    assert_eq!(again("bpcer-above-limit", "pass"), Some(0));
    // Bad options are refused before anything runs.
    let bad = run_with(&["--fail-on-warning", "fta-too-high"], &dir.join("bad"));
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("fta-above-limit"),
        "lists the codes"
    );
    assert!(!dir.join("bad").exists());
    let bad = run_with(&["--enrol-margin", "9"], &dir.join("bad"));
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
    assert!(!dir.join("bad").exists());
}

#[test]
fn accuracy_takes_the_folds_asked_for() {
    let dir = fresh_dir("accuracy-folds");
    let set = set_with_a_faceless_person(&dir);
    // Two folds of one genuine and one impostor pair each.
    let pairs = dir.join("pairs.txt");
    std::fs::write(
        &pairs,
        "2\t1\nAbel_Pacheco\t1\t2\nAbel_Pacheco\t1\tAmber_Tamblyn\t1\n\
         Akhmed_Zakayev\t1\t2\nAkhmed_Zakayev\t1\tBlank_Person\t1\n",
    )
    .unwrap();
    let run = |folds: &str, name: &str| {
        run_myna_hil(&[
            "accuracy",
            set.to_str().unwrap(),
            "--pairs",
            pairs.to_str().unwrap(),
            "--folds",
            folds,
            "--out",
            dir.join(name).to_str().unwrap(),
        ])
    };
    let two = run("2", "two");
    assert_eq!(two.status.code(), Some(0), "{}", text(&two.stderr));
    let rows = reports::accuracy::read_raw_rows(&dir.join("two/baseline/scores.csv")).unwrap();
    assert_eq!(rows.len(), 2, "only fold 2's pairs");
    let md = std::fs::read_to_string(dir.join("two/accuracy.md")).unwrap();
    assert!(md.contains("(folds 2 only)"), "{md}");
    assert!(!md.contains("tuning split"), "{md}");
    let one = run("1-2", "one");
    assert_eq!(one.status.code(), Some(0));
    let md = std::fs::read_to_string(dir.join("one/accuracy.md")).unwrap();
    assert!(md.contains("tuning split"), "fold 1 is flagged: {md}");
    let bad = run("3", "bad");
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("no fold 3"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn the_accuracy_page_lists_every_warning_code() {
    let page = std::fs::read_to_string(repo_root().join("docs/accuracy.md")).unwrap();
    for code in reports::accuracy::WarningCode::ALL {
        assert!(
            page.contains(&format!("| `{}` |", code.name())),
            "docs/accuracy.md does not explain `{}`",
            code.name()
        );
    }
}

#[test]
fn a_tight_chip_photo_enrols_only_with_its_border_or_a_second_try() {
    // The shipped tight-photo card, once as shipped (padded: a match) and once with the
    // reference reader's padding and second detection turned off by the scenario (no face
    // on the chip photo: no match, the PIN). `matcher:` tunes the reference reader only, so this case is not part
    // of the shipped suite a device runs.
    let dir = fresh_dir("tight-unpadded");
    let card = repo_root().join("scenarios/cards/tight-photo.yaml");
    let clinic = repo_root().join("scenarios/reception/_clinic.yaml");
    let scenario = dir.join("unpadded.yaml");
    std::fs::write(
        &scenario,
        format!(
            "title: Without padding a tightly cropped chip photo does not enrol\n\
             include: [{}]\ncard: {}\nmatcher: {{ enrol_margin: 0, enrol_fallback_threshold: 0 }}\n\
             steps: [place_card, {{ choose: face }}, {{ enter_pin: correct }}, {{ consent: all }}]\n\
             expect: {{ face: no_match, route: card_pin }}\n",
            clinic.display(),
            card.display()
        ),
    )
    .unwrap();
    let out = dir.join("out");
    let run = run_myna_hil(&[
        "run",
        scenario.to_str().unwrap(),
        repo_root()
            .join("scenarios/reception/face-tight-chip-photo.yaml")
            .to_str()
            .unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stdout));
    let results = std::fs::read_to_string(out.join("results.json")).unwrap();
    assert!(
        results.contains("chip photo unusable"),
        "the unpadded photo found no face"
    );
    assert!(
        results.contains("face try 1"),
        "the padded one went on to the camera"
    );
}
