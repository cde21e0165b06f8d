//! Decode rate of camera clips and cost of perturbations, single thread.
//!
//! At start a 640×480 clip of 30 frames is synthesised from a profile photo (obama.jpg from
//! `$MYNA_HIL_CACHE/photos`, or a synthetic pattern when the photos are not fetched) and
//! written to a temporary folder as JPEG files (quality 90), an MJPEG AVI (quality 90) and a
//! Y4M file; the folder is removed at the end. Goal: at least 300 frames/s for the JPEG folder
//! and the MJPEG AVI.
//!
//! ```text
//! cargo bench -p camera-replay --bench decode
//! cargo bench -p camera-replay --bench decode -- decode/   # only the decoders
//! cargo bench -p camera-replay --bench decode -- replay    # only the replay jitter
//! ```
//!
//! The replay jitter is not a criterion benchmark: a 10 s real-time replay runs once and its
//! [`ReplaySummary`](camera_replay::replay::ReplaySummary) jitter is printed.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use camera_replay::attack::{AttackClip, AttackOptions, AttackSpecies};
use camera_replay::frame::RgbImage;
use camera_replay::perturb::Perturbation;
use camera_replay::replay::{Next, Replay, ReplayOptions};
use camera_replay::source::{self, ClipSpec, FrameSource, LiveClip, SourceOptions};
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};

const FRAMES: usize = 30;

struct Fixture {
    dir: PathBuf,
    photo: RgbImage,
    frames: Vec<RgbImage>,
}

fn photo() -> RgbImage {
    let cache = std::env::var_os("MYNA_HIL_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/myna-hil")
        });
    let path = cache.join("photos/obama.jpg");
    match source::load_photo(&path) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}; benchmarking a synthetic pattern instead");
            RgbImage::from_fn(600, 800, |x, y| {
                image::Rgb([
                    (x * 255 / 600) as u8,
                    (y * 255 / 800) as u8,
                    (((x / 7) ^ (y / 5)) & 0xFF) as u8,
                ])
            })
        }
    }
}

fn fixture() -> &'static Fixture {
    static F: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    F.get_or_init(|| {
        let dir = fixture_dir();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("jpegs")).unwrap();
        let photo = photo();
        let clip = LiveClip::new(
            &photo,
            ClipSpec {
                frames: FRAMES as u32,
                ..ClipSpec::default()
            },
        )
        .unwrap();
        let frames: Vec<RgbImage> = clip.frames().into_iter().map(|f| f.image).collect();
        for (i, f) in frames.iter().enumerate() {
            let mut jpeg = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
                .encode_image(f)
                .unwrap();
            std::fs::write(dir.join(format!("jpegs/frame{i:04}.jpg")), jpeg).unwrap();
        }
        source::write_mjpeg_avi(&dir.join("clip.avi"), 15.0, 90, &frames).unwrap();
        source::write_y4m(&dir.join("clip.y4m"), 15.0, &frames).unwrap();
        Fixture { dir, photo, frames }
    })
}

fn read_all(path: &Path) -> usize {
    let mut s = source::open(path, &SourceOptions::default()).unwrap();
    let mut n = 0;
    while let Some(f) = s.next_frame() {
        black_box(f.unwrap());
        n += 1;
    }
    assert_eq!(n, FRAMES);
    n
}

fn decode(c: &mut Criterion) {
    let fx = fixture();
    let mut g = c.benchmark_group("decode");
    g.sample_size(20);
    g.throughput(Throughput::Elements(FRAMES as u64));
    for (name, path) in [
        ("jpeg-folder-640x480", fx.dir.join("jpegs")),
        ("mjpeg-avi-640x480", fx.dir.join("clip.avi")),
        ("y4m-420-640x480", fx.dir.join("clip.y4m")),
    ] {
        g.bench_function(name, |b| b.iter(|| read_all(&path)));
    }
    g.finish();
}

fn perturb(c: &mut Criterion) {
    let fx = fixture();
    let frame = &fx.frames[0];
    let mut g = c.benchmark_group("perturb-640x480");
    g.sample_size(20);
    g.throughput(Throughput::Elements(1));
    let cases = [
        ("brightness", 30.0),
        ("contrast", 0.7),
        ("blur", 2.0),
        ("noise", 8.0),
        ("rotation", 10.0),
        ("distance", 1.5),
        ("occlusion", 0.5),
        ("jpeg", 40.0),
    ];
    for (name, value) in cases {
        let p = Perturbation::from_name_value(name, value).unwrap();
        g.bench_with_input(BenchmarkId::new(name, value), &p, |b, p| {
            b.iter(|| black_box(p.apply(frame, 7)))
        });
    }
    g.finish();
}

fn synthesise(c: &mut Criterion) {
    let fx = fixture();
    let mut g = c.benchmark_group("synthesise-640x480");
    g.sample_size(20);
    g.throughput(Throughput::Elements(1));
    let live = LiveClip::new(&fx.photo, ClipSpec::default()).unwrap();
    g.bench_function("live-frame", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            black_box(live.frame(i % 300))
        })
    });
    for s in [AttackSpecies::HalftonePrint, AttackSpecies::ScreenReplay] {
        let a =
            AttackClip::new(&fx.photo, s, ClipSpec::default(), AttackOptions::default()).unwrap();
        g.bench_function(format!("{s}-frame"), |b| {
            let mut i = 0;
            b.iter(|| {
                i += 1;
                black_box(a.frame(i % 300))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, decode, perturb, synthesise);

/// The MJPEG AVI played `loops` times in a row as one stream at `fps` (decoding included).
struct Looped {
    path: PathBuf,
    loops: u32,
    done: u32,
    fps: f64,
    index: u64,
    current: Box<dyn FrameSource>,
}

impl FrameSource for Looped {
    fn next_frame(&mut self) -> Option<Result<camera_replay::frame::Frame, source::SourceError>> {
        loop {
            match self.current.next_frame() {
                Some(item) => {
                    let i = self.index;
                    self.index += 1;
                    return Some(item.map(|mut f| {
                        f.index = i;
                        f.timestamp = std::time::Duration::from_secs_f64(i as f64 / self.fps);
                        f
                    }));
                }
                None => {
                    self.done += 1;
                    if self.done >= self.loops {
                        return None;
                    }
                    self.current = source::open(&self.path, &SourceOptions::default()).ok()?;
                }
            }
        }
    }
    fn frame_rate(&self) -> f64 {
        self.fps
    }
    fn frame_size(&self) -> (u32, u32) {
        self.current.frame_size()
    }
    fn describe(&self) -> String {
        format!(
            "{} ×{} at {} fps",
            self.current.describe(),
            self.loops,
            self.fps
        )
    }
}

/// Release jitter of a real-time replay: 300 frames of the 640×480 MJPEG AVI at 30 fps
/// (10 s), decoded on the replay thread, taken by a consumer as they come.
fn replay_jitter() {
    let fx = fixture();
    let path = fx.dir.join("clip.avi");
    let src = Looped {
        current: source::open(&path, &SourceOptions::default()).unwrap(),
        path,
        loops: 10,
        done: 0,
        fps: 30.0,
        index: 0,
    };
    let mut r = Replay::start(src, ReplayOptions::default());
    let mut n = 0;
    while let Next::Frame(f) = r.recv() {
        black_box(f);
        n += 1;
    }
    let s = r.finish();
    let j = s.jitter;
    println!(
        "replay/jitter-mjpeg-avi-640x480-30fps: {n} frames, release delay µs: mean {:.0}, p50 {}, p95 {}, p99 {}, max {}",
        j.mean_us, j.p50_us, j.p95_us, j.p99_us, j.max_us
    );
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // `cargo bench --bench decode -- replay` (or no filter) also measures replay jitter.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if filters.is_empty() || filters.iter().any(|f| "replay/jitter".contains(f.as_str())) {
        replay_jitter();
    }
    let _ = std::fs::remove_dir_all(fixture_dir());
}

fn fixture_dir() -> PathBuf {
    std::env::temp_dir().join(format!("camera-replay-bench-{}", std::process::id()))
}
