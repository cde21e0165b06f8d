//! Frame sources: each format round-trips through its writer (or ffmpeg), and bad input is an
//! error at open naming the path, or an `Err` for the bad frame with the stream going on.

#[path = "source_support/mod.rs"]
mod support;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use camera_replay::frame::RgbImage;
use camera_replay::source::{
    self, avi, detect_kind, open, write_mjpeg_avi, write_y4m, FrameSource, SourceError, SourceKind,
    SourceOptions, Y4mChroma, Y4mFormat, Y4mSource, Y4mWriter, YuvRange,
};
use support::{drain, mean_abs_diff, test_frames, TempDir};

fn oks(items: &[Result<camera_replay::frame::Frame, SourceError>]) -> Vec<bool> {
    items.iter().map(|r| r.is_ok()).collect()
}

// ---------------------------------------------------------------------------------------------
// Y4M
// ---------------------------------------------------------------------------------------------

#[test]
fn y4m_round_trips_in_every_written_layout() {
    let dir = TempDir::new("y4m");
    let frames = test_frames(37, 21, 3); // odd sizes exercise chroma rounding
    for (chroma, range, tolerance) in [
        (Y4mChroma::C444, YuvRange::Full, 1.5),
        (Y4mChroma::C444, YuvRange::Limited, 2.0),
        (Y4mChroma::C420jpeg, YuvRange::Limited, 12.0),
        (Y4mChroma::C420mpeg2, YuvRange::Full, 12.0),
        (Y4mChroma::C422, YuvRange::Limited, 10.0),
        (Y4mChroma::C411, YuvRange::Limited, 14.0),
        (Y4mChroma::C444Alpha, YuvRange::Full, 1.5),
    ] {
        let path = dir.path("clip.y4m");
        let format = Y4mFormat {
            width: 37,
            height: 21,
            fps_num: 30000,
            fps_den: 1001,
            chroma,
            range,
        };
        let mut w = Y4mWriter::new(std::fs::File::create(&path).unwrap(), format).unwrap();
        for f in &frames {
            w.write_frame(f).unwrap();
        }
        w.finish().unwrap();
        let mut src = open(&path, &SourceOptions::default()).unwrap();
        assert_eq!(src.frame_size(), (37, 21));
        assert!((src.frame_rate() - 29.97).abs() < 0.01);
        let got = drain(&mut src, 100);
        assert_eq!(got.len(), 3, "{chroma:?}");
        for (i, item) in got.iter().enumerate() {
            let f = item.as_ref().unwrap();
            assert_eq!(f.index, i as u64);
            assert_eq!(
                f.timestamp,
                Duration::from_nanos(i as u64 * 1001 * 1_000_000 / 30)
            );
            let d = mean_abs_diff(&f.image, &frames[i]);
            assert!(d < tolerance, "{chroma:?} {range:?}: mean difference {d}");
        }
    }
}

#[test]
fn y4m_mono_and_deep_samples() {
    let dir = TempDir::new("y4m-deep");
    // 2×2 mono, full range.
    let path = dir.path("mono.y4m");
    std::fs::write(
        &path,
        b"YUV4MPEG2 W2 H2 F15:1 Cmono XCOLORRANGE=FULL\nFRAME\n\x00\x40\x80\xff",
    )
    .unwrap();
    let mut s = Y4mSource::open(&path, None).unwrap();
    let f = s.next_frame().unwrap().unwrap();
    assert_eq!(
        f.image.as_raw(),
        &[0, 0, 0, 64, 64, 64, 128, 128, 128, 255, 255, 255]
    );
    assert!(s.next_frame().is_none());
    // 10-bit 4:4:4 limited range: Y=940 (white), Cb=Cr=512 (neutral) → white.
    let path = dir.path("deep.y4m");
    let mut bytes = b"YUV4MPEG2 W1 H1 F25:1 C444p10\nFRAME\n".to_vec();
    for v in [940u16, 512, 512] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(&path, &bytes).unwrap();
    let f = Y4mSource::open(&path, None)
        .unwrap()
        .next_frame()
        .unwrap()
        .unwrap();
    assert_eq!(f.image.as_raw(), &[255, 255, 255]);
    // Options override the header's range: limited black read as full is not black.
    let path = dir.path("black.y4m");
    std::fs::write(&path, b"YUV4MPEG2 W1 H1 F25:1 C444\nFRAME\n\x10\x80\x80").unwrap();
    let limited = Y4mSource::open(&path, None)
        .unwrap()
        .next_frame()
        .unwrap()
        .unwrap();
    assert_eq!(limited.image.as_raw(), &[0, 0, 0]);
    let full = Y4mSource::open(&path, Some(YuvRange::Full))
        .unwrap()
        .next_frame()
        .unwrap()
        .unwrap();
    assert_eq!(full.image.as_raw(), &[16, 16, 16]);
}

#[test]
fn y4m_bad_header_is_an_error_naming_the_path() {
    let dir = TempDir::new("y4m-bad");
    for (name, content) in [
        ("noheight.y4m", &b"YUV4MPEG2 W4 F25:1\nFRAME\n"[..]),
        ("badcs.y4m", b"YUV4MPEG2 W4 H4 F25:1 Cwhatever\n"),
        ("norate.y4m", b"YUV4MPEG2 W4 H4\n"),
        ("huge.y4m", b"YUV4MPEG2 W99999999 H99999999 F1:1\n"),
        ("noline.y4m", b"YUV4MPEG2 W4 H4 F25:1"),
    ] {
        let path = dir.path(name);
        std::fs::write(&path, content).unwrap();
        let err = open(&path, &SourceOptions::default()).err().expect(name);
        assert!(
            err.to_string().contains(name),
            "{name}: error does not name the file: {err}"
        );
    }
    // A .y4m file that is not Y4M at all.
    let path = dir.path("fake.y4m");
    std::fs::write(&path, b"hello").unwrap();
    let err = open(&path, &SourceOptions::default()).err().unwrap();
    assert!(err.to_string().contains("fake.y4m"), "{err}");
}

#[test]
fn y4m_garbled_and_truncated_frames_are_errors_and_the_stream_goes_on() {
    let dir = TempDir::new("y4m-garbled");
    let frames = test_frames(8, 8, 4);
    let path = dir.path("ok.y4m");
    write_y4m(&path, 15.0, &frames).unwrap();
    let good = std::fs::read(&path).unwrap();
    let header_len = good.iter().position(|&b| b == b'\n').unwrap() + 1;
    let frame_len = 6 + 8 * 8 + 2 * 4 * 4;
    // Garble the second frame's marker.
    let mut garbled = good.clone();
    garbled[header_len + frame_len..header_len + frame_len + 5].copy_from_slice(b"XXXXX");
    let path = dir.path("garbled.y4m");
    std::fs::write(&path, &garbled).unwrap();
    let mut s = open(&path, &SourceOptions::default()).unwrap();
    let got = drain(&mut s, 100);
    assert_eq!(oks(&got), [true, false, true, true]);
    let err = got[1].as_ref().unwrap_err();
    assert!(err.is_frame_error());
    assert!(err.to_string().contains("garbled.y4m"), "{err}");
    // Frame numbers and timestamps stay right after the bad frame.
    let third = got[2].as_ref().unwrap();
    assert_eq!(third.index, 2);
    assert_eq!(third.timestamp, Duration::from_nanos(2_000_000_000 / 15));
    assert!(mean_abs_diff(&third.image, &frames[2]) < 12.0);
    // Cut in the middle of the last frame.
    let path = dir.path("cut.y4m");
    std::fs::write(&path, &good[..good.len() - 10]).unwrap();
    let mut s = open(&path, &SourceOptions::default()).unwrap();
    let got = drain(&mut s, 100);
    assert_eq!(oks(&got), [true, true, true, false]);
    assert!(got[3]
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("cut short"));
}

// ---------------------------------------------------------------------------------------------
// MJPEG AVI
// ---------------------------------------------------------------------------------------------

fn write_avi(dir: &TempDir, name: &str, frames: &[RgbImage], fps: f64) -> std::path::PathBuf {
    let path = dir.path(name);
    write_mjpeg_avi(&path, fps, 90, frames).unwrap();
    path
}

#[test]
fn mjpeg_avi_round_trips() {
    let dir = TempDir::new("avi");
    let frames = test_frames(64, 48, 5);
    let path = write_avi(&dir, "clip.avi", &frames, 12.5);
    assert_eq!(detect_kind(&path).unwrap(), SourceKind::MjpegAvi);
    let mut s = open(&path, &SourceOptions::default()).unwrap();
    assert_eq!(s.frame_size(), (64, 48));
    assert_eq!(s.frame_rate(), 12.5);
    assert_eq!(s.frame_count(), Some(5));
    assert!(s.describe().contains("indexed"), "{}", s.describe());
    let got = drain(&mut s, 100);
    assert_eq!(got.len(), 5);
    for (i, item) in got.iter().enumerate() {
        let f = item.as_ref().unwrap();
        assert_eq!(f.index, i as u64);
        assert_eq!(f.timestamp, Duration::from_millis(80 * i as u64));
        assert!(mean_abs_diff(&f.image, &frames[i]) < 4.0);
    }
}

#[test]
fn mjpeg_avi_reads_with_ffmpeg_when_present() {
    if !ffmpeg_present() {
        return;
    }
    let dir = TempDir::new("avi-ffmpeg");
    let frames = test_frames(64, 48, 4);
    let path = write_avi(&dir, "clip.avi", &frames, 15.0);
    // ffmpeg reads what we write, and we read what ffmpeg writes.
    let theirs = dir.path("theirs.avi");
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&path)
        .args(["-c:v", "mjpeg", "-q:v", "3", "-an"])
        .arg(&theirs)
        .status()
        .unwrap();
    assert!(status.success());
    let mut s = source::MjpegAviSource::open(&theirs).unwrap();
    assert_eq!(s.frame_size(), (64, 48));
    assert!((s.frame_rate() - 15.0).abs() < 1e-9);
    let got = drain(&mut s, 100);
    assert_eq!(got.len(), 4);
    for (i, item) in got.iter().enumerate() {
        let f = item.as_ref().unwrap();
        assert!(mean_abs_diff(&f.image, &frames[i]) < 6.0);
    }
}

/// Offsets of the video chunks (`00dc`) in a file we wrote.
fn chunk_offsets(bytes: &[u8]) -> Vec<usize> {
    let movi = bytes.windows(4).position(|w| w == b"movi").unwrap() + 4;
    let mut pos = movi;
    let mut out = Vec::new();
    while &bytes[pos..pos + 4] == b"00dc" {
        out.push(pos);
        let size = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        pos += 8 + size + (size & 1);
    }
    out
}

#[test]
fn mjpeg_avi_corrupt_frame_is_an_error_and_the_stream_goes_on() {
    let dir = TempDir::new("avi-corrupt");
    let frames = test_frames(32, 32, 4);
    let path = write_avi(&dir, "ok.avi", &frames, 10.0);
    let good = std::fs::read(&path).unwrap();
    let offsets = chunk_offsets(&good);
    assert_eq!(offsets.len(), 4);

    // 1. The second JPEG's data garbled (indexed read).
    let mut bad = good.clone();
    for b in &mut bad[offsets[1] + 8..offsets[1] + 40] {
        *b = 0x5A;
    }
    let p = dir.path("badjpeg.avi");
    std::fs::write(&p, &bad).unwrap();
    let got = drain(&mut open(&p, &SourceOptions::default()).unwrap(), 100);
    assert_eq!(oks(&got), [true, false, true, true]);
    let err = got[1].as_ref().unwrap_err();
    assert!(err.to_string().contains("badjpeg.avi") && err.to_string().contains("frame 1"));
    assert_eq!(
        got[3].as_ref().unwrap().timestamp,
        Duration::from_millis(300)
    );

    // 2. The second chunk's header garbled (indexed read: exactly that frame is lost).
    let mut bad = good.clone();
    bad[offsets[1]..offsets[1] + 8].copy_from_slice(b"\x01\x02\x03\x04\xff\xff\xff\x7f");
    let p = dir.path("badchunk.avi");
    std::fs::write(&p, &bad).unwrap();
    let got = drain(&mut open(&p, &SourceOptions::default()).unwrap(), 100);
    assert_eq!(oks(&got), [true, false, true, true]);

    // 3. Same without idx1 (walking the chunks, then searching for the next frame).
    let movi_end = good.windows(4).rposition(|w| w == b"idx1").unwrap();
    let mut noindex = bad[..movi_end].to_vec();
    let riff = (noindex.len() - 8) as u32;
    noindex[4..8].copy_from_slice(&riff.to_le_bytes());
    let p = dir.path("badchunk-noindex.avi");
    std::fs::write(&p, &noindex).unwrap();
    let mut s = open(&p, &SourceOptions::default()).unwrap();
    assert!(s.describe().contains("no usable idx1"), "{}", s.describe());
    let got = drain(&mut s, 100);
    assert_eq!(oks(&got), [true, false, true, true]);
    assert!(mean_abs_diff(&got[3].as_ref().unwrap().image, &frames[3]) < 4.0);

    // 4. Cut in the middle of the third frame: two frames, an error, the end.
    let p = dir.path("cut.avi");
    std::fs::write(&p, &good[..offsets[2] + 30]).unwrap();
    let got = drain(&mut open(&p, &SourceOptions::default()).unwrap(), 100);
    assert_eq!(oks(&got), [true, true, false]);
    assert!(got[2]
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("cut short"));
}

#[test]
fn mjpeg_avi_duplicate_frame_chunks_repeat_the_previous_frame() {
    let dir = TempDir::new("avi-dup");
    let frames = test_frames(16, 16, 2);
    let p = dir.path("dup.avi");
    let mut w =
        source::MjpegAviWriter::new(std::fs::File::create(&p).unwrap(), 16, 16, 10.0, 90).unwrap();
    w.write_frame(&frames[0]).unwrap();
    w.write_jpeg(&[]).unwrap(); // "the previous frame again"
    w.write_frame(&frames[1]).unwrap();
    w.finish().unwrap();
    let got = drain(&mut open(&p, &SourceOptions::default()).unwrap(), 100);
    assert_eq!(oks(&got), [true, true, true]);
    let f: Vec<_> = got.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(f[1].image, f[0].image);
    assert_eq!(f[1].timestamp, Duration::from_millis(100));
    assert_eq!(f[2].index, 2);
}

#[test]
fn mjpeg_without_huffman_tables_decodes_like_with_them() {
    let img = test_frames(48, 40, 1).remove(0);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .encode_image(&img)
        .unwrap();
    // Remove every DHT segment (as Motion-JPEG "AVI1" frames come).
    let mut stripped = vec![0xFF, 0xD8];
    let mut pos = 2;
    loop {
        let marker = jpeg[pos + 1];
        if marker == 0xDA {
            stripped.extend_from_slice(&jpeg[pos..]);
            break;
        }
        let len = u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]) as usize;
        if marker != 0xC4 {
            stripped.extend_from_slice(&jpeg[pos..pos + 2 + len]);
        }
        pos += 2 + len;
    }
    assert!(stripped.len() < jpeg.len());
    assert!(avi::insert_default_huffman_tables(&jpeg).is_none());
    let with = source::decode_jpeg(&jpeg).unwrap();
    let without = source::decode_jpeg(&stripped).unwrap();
    assert_eq!(with, without);
}

#[test]
fn avi_that_is_not_mjpeg_goes_to_ffmpeg_and_garbage_is_rejected() {
    let dir = TempDir::new("avi-other");
    let frames = test_frames(16, 16, 1);
    let p = write_avi(&dir, "x.avi", &frames, 10.0);
    let mut bytes = std::fs::read(&p).unwrap();
    // Claim another codec in strh and strf.
    while let Some(i) = bytes.windows(4).position(|w| w == b"MJPG") {
        bytes[i..i + 4].copy_from_slice(b"H264");
    }
    let p2 = dir.path("h264.avi");
    std::fs::write(&p2, &bytes).unwrap();
    assert_eq!(detect_kind(&p2).unwrap(), SourceKind::Ffmpeg);
    let err = source::MjpegAviSource::open(&p2).err().unwrap();
    assert!(err.to_string().contains("H264") && err.to_string().contains("h264.avi"));
    // A RIFF AVI with nothing inside.
    let p3 = dir.path("empty.avi");
    std::fs::write(&p3, b"RIFF\x04\x00\x00\x00AVI ").unwrap();
    let err = source::MjpegAviSource::open(&p3).err().unwrap();
    assert!(err.to_string().contains("empty.avi"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Image sequences and detection
// ---------------------------------------------------------------------------------------------

#[test]
fn image_folder_is_sorted_by_number_and_bad_files_are_frame_errors() {
    let dir = TempDir::new("seq");
    let frames = test_frames(20, 10, 4);
    frames[0].save(dir.path("f1.png")).unwrap();
    frames[1].save(dir.path("f2.jpg")).unwrap();
    std::fs::write(dir.path("f3.png"), b"\x89PNG garbage").unwrap();
    frames[3].save(dir.path("f10.ppm")).unwrap();
    RgbImage::new(5, 5).save(dir.path("f11.png")).unwrap(); // wrong size
    std::fs::write(dir.path("notes.txt"), b"not a frame").unwrap();
    let mut s = open(&dir.0, &SourceOptions::default()).unwrap();
    assert_eq!(s.frame_size(), (20, 10));
    assert_eq!(s.frame_rate(), 15.0);
    assert_eq!(s.frame_count(), Some(5));
    let got = drain(&mut s, 100);
    assert_eq!(oks(&got), [true, true, false, true, false]);
    assert_eq!(got[0].as_ref().unwrap().image, frames[0]);
    assert!(mean_abs_diff(&got[1].as_ref().unwrap().image, &frames[1]) < 6.0);
    assert!(got[2].as_ref().unwrap_err().to_string().contains("f3.png"));
    assert_eq!(got[3].as_ref().unwrap().image, frames[3]);
    assert_eq!(
        got[3].as_ref().unwrap().timestamp,
        Duration::from_millis(200)
    );
    assert!(got[4].as_ref().unwrap_err().to_string().contains("differs"));
    // A chosen rate.
    let s = open(
        &dir.0,
        &SourceOptions {
            fps: Some(30.0),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(s.frame_rate(), 30.0);
}

#[test]
fn unreadable_or_unsupported_inputs_are_errors_naming_the_path() {
    let dir = TempDir::new("detect");
    let opts = SourceOptions::default();
    let check = |path: &Path, needle: &str| {
        let err = open(path, &opts).err().expect("an error");
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains(needle), "{text} lacks {needle}");
    };
    check(&dir.path("missing.mp4"), "No such file");
    std::fs::write(dir.path("empty.bin"), b"").unwrap();
    check(&dir.path("empty.bin"), "empty");
    std::fs::write(
        dir.path("random.bin"),
        b"\x00\x01\x02\x03\x04\x05\x06\x07garbage",
    )
    .unwrap();
    check(&dir.path("random.bin"), "unknown format");
    test_frames(8, 8, 1)[0].save(dir.path("still.jpg")).unwrap();
    check(&dir.path("still.jpg"), "still image");
    std::fs::create_dir(dir.path("empty-folder")).unwrap();
    check(&dir.path("empty-folder"), "no JPEG");
    std::fs::create_dir(dir.path("broken-folder")).unwrap();
    std::fs::write(dir.path("broken-folder/a.jpg"), b"\xff\xd8\xff broken").unwrap();
    check(&dir.path("broken-folder"), "none of its 1 image files");
}

// ---------------------------------------------------------------------------------------------
// ffmpeg
// ---------------------------------------------------------------------------------------------

fn ffmpeg_present() -> bool {
    let found = std::process::Command::new("ffmpeg")
        .arg("-version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !found {
        assert!(!support::on_ci(), "ffmpeg is missing (bash .ci/setup)");
        eprintln!("skipping: ffmpeg is not installed (bash .ci/setup)");
    }
    found
}

fn make_mp4(dir: &TempDir, frames: &[RgbImage], fps: f64) -> std::path::PathBuf {
    let y4m = dir.path("src.y4m");
    write_y4m(&y4m, fps, frames).unwrap();
    let mp4 = dir.path("clip.mp4");
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&y4m)
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-qp", "10", "-pix_fmt",
            "yuv420p",
        ])
        .arg(&mp4)
        .status()
        .unwrap();
    assert!(status.success(), "ffmpeg could not make an MP4");
    mp4
}

#[test]
fn mp4_through_ffmpeg() {
    if !ffmpeg_present() {
        return;
    }
    let dir = TempDir::new("mp4");
    let frames = test_frames(64, 48, 6);
    let mp4 = make_mp4(&dir, &frames, 20.0);
    assert_eq!(detect_kind(&mp4).unwrap(), SourceKind::Ffmpeg);
    let mut s = open(&mp4, &SourceOptions::default()).unwrap();
    assert_eq!(s.frame_size(), (64, 48));
    assert!((s.frame_rate() - 20.0).abs() < 1e-6, "{}", s.frame_rate());
    assert_eq!(s.frame_count(), Some(6));
    let got = drain(&mut s, 100);
    assert_eq!(got.len(), 6);
    for (i, item) in got.iter().enumerate() {
        let f = item.as_ref().unwrap();
        assert_eq!(f.index, i as u64);
        let want = Duration::from_millis(50 * i as u64);
        let diff = f.timestamp.abs_diff(want);
        assert!(
            diff < Duration::from_micros(100),
            "{:?} vs {want:?}",
            f.timestamp
        );
        assert!(mean_abs_diff(&f.image, &frames[i]) < 10.0);
    }
}

#[test]
fn mp4_cut_short_or_garbled_does_not_panic_and_ends() {
    if !ffmpeg_present() {
        return;
    }
    let dir = TempDir::new("mp4-bad");
    let frames = test_frames(64, 48, 10);
    let mp4 = make_mp4(&dir, &frames, 10.0);
    let good = std::fs::read(&mp4).unwrap();
    // Cut in half: either open fails naming the path, or frames come and the stream ends.
    let cut = dir.path("cut.mp4");
    std::fs::write(&cut, &good[..good.len() / 2]).unwrap();
    match open(&cut, &SourceOptions::default()) {
        Err(e) => assert!(e.to_string().contains("cut.mp4"), "{e}"),
        Ok(mut s) => {
            let got = drain(&mut s, 1000);
            assert!(got.len() <= 11);
        }
    }
    // Garbled in the middle.
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 200] {
        *b ^= 0xA5;
    }
    let garbled = dir.path("garbled.mp4");
    std::fs::write(&garbled, &bad).unwrap();
    if let Ok(mut s) = open(&garbled, &SourceOptions::default()) {
        let got = drain(&mut s, 1000);
        assert!(got.len() <= 11);
        for e in got.iter().filter_map(|r| r.as_ref().err()) {
            assert!(e.to_string().contains("garbled.mp4"), "{e}");
        }
    }
    // Dropping a source in the middle stops ffmpeg (no hang).
    let mut s = open(&mp4, &SourceOptions::default()).unwrap();
    assert!(s.next_frame().unwrap().is_ok());
    drop(s);
}

#[test]
fn missing_ffmpeg_says_how_to_install_it() {
    let dir = TempDir::new("noffmpeg");
    let p = dir.path("clip.mp4");
    let mut f = std::fs::File::create(&p).unwrap();
    f.write_all(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2")
        .unwrap();
    let opts = SourceOptions {
        ffmpeg: "/nonexistent/ffmpeg".into(),
        ffprobe: "/nonexistent/ffprobe".into(),
        ..Default::default()
    };
    let err = open(&p, &opts).err().unwrap();
    assert!(matches!(err, SourceError::FfmpegMissing { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("install ffmpeg: bash .ci/setup"), "{text}");
    assert!(text.contains("clip.mp4"), "{text}");
}
