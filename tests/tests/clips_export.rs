//! `myna-hil clips export`: the clips a suite's face cases will play, written ahead of time
//! with a manifest that says the truth about each file (SHA-256, size, format, frame rate,
//! frames, size in pixels, read back by ffprobe), named exactly as the harness offers them
//! to a device, so a device given the folder is sent nothing. Bad folders and selections
//! without a face case are refused before anything is written.

use myna_hil_tests::{
    all_reader_slots, assert_exit_0, fresh_dir, ref_dut_tcp, run_myna_hil, text, verdicts,
};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const CASE: &str = "face-match[card=valid,visit=first]";

fn export(dir: &Path, format: &str) -> Value {
    let out = run_myna_hil(&[
        "clips",
        "export",
        dir.to_str().unwrap(),
        "scenarios",
        "--filter",
        CASE,
        "--format",
        format,
    ]);
    assert_exit_0(&out);
    let manifest = std::fs::read(dir.join("manifest.json")).expect("manifest.json");
    serde_json::from_slice(&manifest).expect("the manifest is JSON")
}

/// One ffprobe field of the first video stream.
fn probe(file: &Path, field: &str) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-count_frames"])
        .args(["-show_entries", &format!("stream={field}")])
        .args(["-of", "default=nokey=1:noprint_wrappers=1"])
        .arg(file)
        .output()
        .expect("ffprobe (installed by .ci/setup)");
    assert!(out.status.success(), "ffprobe: {}", text(&out.stderr));
    text(&out.stdout).trim().to_owned()
}

#[test]
fn the_manifest_describes_each_clip_as_ffprobe_reads_it() {
    for (format, codec, pixels) in [
        ("y4m", "rawvideo", "yuv444p"),
        ("avi_mjpeg", "mjpeg", "yuvj444p"),
    ] {
        let dir = fresh_dir(&format!("clips-export-{format}"));
        let manifest = export(&dir, format);
        assert_eq!(manifest["manifest_version"], 1);
        let clips = manifest["clips"].as_array().unwrap();
        assert_eq!(clips.len(), 1, "{manifest}");
        let clip = &clips[0];
        let name = clip["name"].as_str().unwrap();
        let file = dir.join(name);
        let bytes = std::fs::read(&file).unwrap();
        let sha = harness::clips::sha256_hex(&bytes);
        assert_eq!(clip["sha256"], sha.as_str());
        assert_eq!(clip["size"], bytes.len() as u64);
        assert_eq!(clip["format"], format);
        let extension = if format == "y4m" { "y4m" } else { "avi" };
        assert_eq!(name, format!("clip-{}.{extension}", &sha[..16]));
        assert_eq!(clip["cases"][0], format!("reception.{CASE}"));
        // The file is what the manifest says, as an independent reader sees it.
        assert_eq!(probe(&file, "codec_name"), codec);
        assert_eq!(probe(&file, "pix_fmt"), pixels);
        assert_eq!(probe(&file, "width"), clip["width"].to_string());
        assert_eq!(probe(&file, "height"), clip["height"].to_string());
        assert_eq!(probe(&file, "nb_read_frames"), clip["frames"].to_string());
        let fps = clip["fps"].as_f64().unwrap();
        assert_eq!(probe(&file, "r_frame_rate"), format!("{}/1", fps as u32));
        // Exported again: the same bytes under the same name (the clip is the case's).
        let again = export(&dir, format);
        assert_eq!(again["clips"], manifest["clips"]);
        let files = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(files, 2, "one clip and the manifest, no temporary left");
    }
}

#[test]
fn a_device_given_the_exported_clips_is_sent_none() {
    let dir = fresh_dir("clips-export-device");
    let clips = dir.join("clips");
    let manifest = export(&clips, "y4m");
    let size = manifest["clips"][0]["size"].as_u64().unwrap();
    let _slots = all_reader_slots();
    let log = dir.join("dut.log");
    let (_dut, addr) = ref_dut_tcp(&log, &["--clips", clips.to_str().unwrap()]);
    let out = dir.join("out");
    assert_exit_0(&run_myna_hil(&[
        "run",
        "scenarios",
        "--filter",
        CASE,
        "--card",
        "pcsc",
        "--reader",
        &format!("dut:tcp:{addr}"),
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(
        verdicts(&out.join("results.json"))
            .into_values()
            .collect::<Vec<_>>(),
        ["pass"]
    );
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains(&format!(r#""type":"clip_have","id":1,"offset":{size}}}"#)),
        "the device holds the whole clip:\n{log}"
    );
    assert!(!log.contains("clip_chunk"), "nothing was sent:\n{log}");
    assert!(log.contains(r#""type":"camera_start""#));
}

#[test]
fn bad_folders_and_empty_selections_are_refused_before_anything_is_written() {
    let dir = fresh_dir("clips-export-refused");
    let file = dir.join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let out = run_myna_hil(&["clips", "export", file.to_str().unwrap(), "scenarios"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("not a folder"),
        "{}",
        text(&out.stderr)
    );

    let empty = dir.join("empty");
    let out = run_myna_hil(&[
        "clips",
        "export",
        empty.to_str().unwrap(),
        "scenarios",
        "--filter",
        "pin-valid",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no face case"),
        "{}",
        text(&out.stderr)
    );
    assert!(!empty.join("manifest.json").exists());

    let out = run_myna_hil(&[
        "clips",
        "export",
        empty.to_str().unwrap(),
        "scenarios",
        "--format",
        "h264",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not a clip format"));
}

#[test]
fn a_device_that_asks_for_mjpeg_avi_gets_it_and_its_face_cases_pass() {
    let dir = fresh_dir("clips-avi-device");
    let clips = dir.join("clips");
    let _slots = all_reader_slots();
    let log = dir.join("dut.log");
    let (_dut, addr) = ref_dut_tcp(
        &log,
        &[
            "--clips",
            clips.to_str().unwrap(),
            "--clip-formats",
            "avi_mjpeg",
        ],
    );
    let out = dir.join("out");
    assert_exit_0(&run_myna_hil(&[
        "run",
        "scenarios",
        "--filter",
        "face-match[card=valid",
        "--card",
        "pcsc",
        "--reader",
        &format!("dut:tcp:{addr}"),
        "--out",
        out.to_str().unwrap(),
    ]));
    let verdicts = verdicts(&out.join("results.json"));
    assert_eq!(verdicts.len(), 2);
    assert!(verdicts.values().all(|v| v == "pass"), "{verdicts:?}");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains(r#""format":"avi_mjpeg""#), "{log}");
    assert!(!log.contains(r#""format":"y4m""#), "{log}");
    // What the device keeps is an MJPEG AVI, under the name the offer gave.
    let kept: Vec<_> = std::fs::read_dir(&clips)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(probe(&kept[0], "codec_name"), "mjpeg");
}
