//! The Y4M, AVI and image parsers never panic, whatever the bytes: arbitrary input, and valid
//! files with bytes flipped or cut short. Every item is a frame or an error.

#[path = "source_support/mod.rs"]
mod support;

use camera_replay::source::{self, open, FrameSource, SourceOptions};
use proptest::prelude::*;
use support::{test_frames, TempDir};

/// Opens and reads everything (at most 50 items); only panics count as failure.
fn read_all(path: &std::path::Path) {
    if let Ok(mut s) = open(path, &SourceOptions::default()) {
        let _ = s.describe();
        let size = s.frame_size();
        for _ in 0..50 {
            match s.next_frame() {
                None => break,
                Some(Ok(f)) => assert_eq!(f.image.dimensions(), size),
                Some(Err(e)) => assert!(e.to_string().contains(&path.display().to_string())),
            }
        }
    }
}

fn valid_files() -> &'static (Vec<u8>, Vec<u8>) {
    static FILES: std::sync::OnceLock<(Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
    FILES.get_or_init(|| {
        let dir = TempDir::new("fuzz-seed");
        let frames = test_frames(16, 12, 3);
        let y = dir.path("a.y4m");
        source::write_y4m(&y, 15.0, &frames).unwrap();
        let a = dir.path("a.avi");
        source::write_mjpeg_avi(&a, 15.0, 80, &frames).unwrap();
        (std::fs::read(y).unwrap(), std::fs::read(a).unwrap())
    })
}

fn mutate(mut bytes: Vec<u8>, flips: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    for &(at, v) in flips {
        let n = bytes.len();
        if n > 0 {
            bytes[at % n] = v;
        }
    }
    if let Some(c) = cut {
        let n = bytes.len();
        bytes.truncate(c % (n + 1));
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn y4m_never_panics(body in proptest::collection::vec(any::<u8>(), 0..400), header in 0usize..4) {
        let dir = TempDir::new("fuzz-y4m");
        let heads: [&[u8]; 4] = [
            b"YUV4MPEG2 W4 H4 F15:1\n",
            b"YUV4MPEG2 W3 H5 F30000:1001 C444p10 XCOLORRANGE=FULL\n",
            b"YUV4MPEG2 W2 H2 F1:1 Cmono\nFRAME\n",
            b"YUV4MPEG2 ",
        ];
        let mut bytes = heads[header].to_vec();
        bytes.extend_from_slice(&body);
        let p = dir.path("x.y4m");
        std::fs::write(&p, &bytes).unwrap();
        read_all(&p);
    }

    #[test]
    fn mutated_y4m_never_panics(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
                                cut in proptest::option::of(any::<usize>())) {
        let dir = TempDir::new("fuzz-y4m-mut");
        let p = dir.path("x.y4m");
        std::fs::write(&p, mutate(valid_files().0.clone(), &flips, cut)).unwrap();
        read_all(&p);
    }

    #[test]
    fn avi_never_panics(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let dir = TempDir::new("fuzz-avi");
        let mut bytes = b"RIFF\x00\x00\x00\x00AVI ".to_vec();
        bytes.extend_from_slice(&body);
        let p = dir.path("x.avi");
        std::fs::write(&p, &bytes).unwrap();
        // Through the MJPEG reader directly (open() might hand it to ffmpeg).
        if let Ok(mut s) = source::MjpegAviSource::open(&p) {
            for _ in 0..50 {
                if s.next_frame().is_none() { break; }
            }
        }
    }

    #[test]
    fn mutated_avi_never_panics(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..12),
                                cut in proptest::option::of(any::<usize>())) {
        let dir = TempDir::new("fuzz-avi-mut");
        let p = dir.path("x.avi");
        std::fs::write(&p, mutate(valid_files().1.clone(), &flips, cut)).unwrap();
        if let Ok(mut s) = source::MjpegAviSource::open(&p) {
            let size = s.frame_size();
            for _ in 0..50 {
                match s.next_frame() {
                    None => break,
                    Some(Ok(f)) => prop_assert_eq!(f.image.dimensions(), size),
                    Some(Err(_)) => {}
                }
            }
        }
    }

    #[test]
    fn image_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), kind in 0usize..4) {
        let heads: [&[u8]; 4] = [b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"P6\n4 4\n255\n", b""];
        let mut v = heads[kind].to_vec();
        v.extend_from_slice(&bytes);
        let _ = source::decode_image(&v);
        let _ = source::avi::insert_default_huffman_tables(&v);
    }
}
