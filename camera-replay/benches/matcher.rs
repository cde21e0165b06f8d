//! Matcher speed per 640×480 camera frame, one intra-op thread (compare with OpenCV:
//! `camera-replay/reference/opencv_bench.py` times the same steps on the same frame).
//!
//! Run: `cargo bench -p camera-replay --bench matcher` (needs `bash .ci/fetch-face-runtime`).
//! The frame is obama.jpg from the photo cache cropped to x 135..775, y 0..480: a crop is
//! the same pixels in both programs, where a resize would not be.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use camera_replay::frame::Frame;
use camera_replay::matcher::{
    load_image, FaceMatcher, FaceTracker, MatcherConfig, QualityConfig, TrackerConfig,
};
use criterion::{criterion_group, criterion_main, Criterion};

/// Crop of the benchmark frame inside obama.jpg.
const CROP: (u32, u32, u32, u32) = (135, 0, 640, 480);

fn photo(name: &str) -> PathBuf {
    let cache = std::env::var_os("MYNA_HIL_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/myna-hil")))
        .unwrap_or_default();
    cache.join("photos").join(name)
}

fn setup() -> Result<(FaceMatcher, image::RgbImage), String> {
    let config = MatcherConfig {
        quality: QualityConfig::disabled(),
        ..MatcherConfig::default()
    };
    let matcher = FaceMatcher::load(&config).map_err(|e| e.to_string())?;
    let path = photo("obama.jpg");
    let img = load_image(&path).map_err(|e| format!("{e} (photos come from `bash .ci/setup`)"))?;
    let (x, y, w, h) = CROP;
    Ok((
        matcher,
        image::imageops::crop_imm(&img, x, y, w, h).to_image(),
    ))
}

fn bench(c: &mut Criterion) {
    let (mut matcher, frame) = match setup() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("matcher bench cannot run: {e}");
            std::process::exit(1);
        }
    };
    // Warm up and get the crop for the embedding-only case.
    let template = matcher
        .probe(&frame)
        .expect("a face in the benchmark frame");
    let crop = matcher.last_crop().clone();

    let mut g = c.benchmark_group("matcher");
    g.sample_size(30)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    g.bench_function("detect_640x480", |b| {
        b.iter(|| black_box(matcher.detect(black_box(&frame)).unwrap()))
    });
    g.bench_function("embed_112", |b| {
        b.iter(|| black_box(matcher.embed_aligned(black_box(&crop)).unwrap()))
    });
    g.bench_function("frame_640x480_detect_align_embed", |b| {
        b.iter(|| black_box(matcher.probe(black_box(&frame)).unwrap()))
    });
    // A tracked stream: the same frame again, so landmarks are reused (align + embed).
    let mut tracker = FaceTracker::new(
        matcher,
        template,
        TrackerConfig {
            redetect_every: u32::MAX,
            ..TrackerConfig::default()
        },
    );
    let f = Frame {
        index: 0,
        timestamp: Duration::ZERO,
        image: frame,
    };
    tracker.process(&f);
    g.bench_function("tracked_frame_640x480", |b| {
        b.iter(|| black_box(tracker.process(black_box(&f))))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
