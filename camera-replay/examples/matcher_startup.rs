//! Times what a face case pays once and per frame: `FaceMatcher::load` (ONNX Runtime, YuNet,
//! SFace read and prepared), the first probe of a 640×480 frame, then the median of further
//! probes and of SFace alone. Prints one line per measure; run several times and compare
//! medians (the machine is shared). Also says what `prelu::prepare` changes in SFace and,
//! when an older setup left `face_recognition_sface_2021dec.stripped.onnx` (made by the
//! `onnx` package) in the cache, whether our strip gives the same bytes.
//!
//! `cargo run --release -p camera-replay --example matcher_startup [ROUNDS]`
//! (needs `bash .ci/fetch-face-runtime` and the photo cache).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use camera_replay::matcher::{load_image, prelu, FaceMatcher, MatcherConfig, QualityConfig};
use camera_replay::runtime::{RuntimePaths, SFACE};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    let cache = std::env::var_os("MYNA_HIL_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/myna-hil")))
        .expect("MYNA_HIL_CACHE or HOME");
    let img = load_image(&cache.join("photos/obama.jpg")).expect("obama.jpg from the photo cache");
    // The bench's frame: a crop is the same pixels everywhere.
    let frame = image::imageops::crop_imm(&img, 135, 0, 640, 480).to_image();
    let config = MatcherConfig {
        quality: QualityConfig::disabled(),
        ..MatcherConfig::default()
    };
    let t0 = Instant::now();
    let mut m = FaceMatcher::load(&config).unwrap_or_else(|e| panic!("{e}"));
    let load = t0.elapsed();
    let t1 = Instant::now();
    m.probe(&frame).expect("a face");
    let first = t1.elapsed();
    let crop = m.last_crop().clone();
    let mut frames = Vec::new();
    let mut embeds = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        m.probe(&frame).expect("a face");
        frames.push(t.elapsed());
        let t = Instant::now();
        m.embed_aligned(&crop).expect("embedding");
        embeds.push(t.elapsed());
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let models = RuntimePaths::from_env().expect("paths").models_dir;
    let original = std::fs::read(models.join(SFACE.file)).expect("SFace");
    let (_, done) = prelu::prepare(&original, true).expect("SFace is prepared");
    println!(
        "sface prepared: {} initializer inputs dropped, {} PRelu rewritten",
        done.inputs_removed, done.prelu_rewritten
    );
    if let Ok(old) = std::fs::read(models.join("face_recognition_sface_2021dec.stripped.onnx")) {
        let ours = prelu::strip_initializer_inputs(&original)
            .expect("inputs to strip")
            .0;
        println!(
            "old setup's stripped file: {} bytes, ours {} bytes, identical: {}",
            old.len(),
            ours.len(),
            old == ours
        );
        // What ONNX Runtime was given before (the stripped file, PRelu rewritten at load) and
        // now (the published file, prepared at load).
        let before = prelu::rewrite_prelu(&old).expect("PRelu to rewrite").0;
        let now = prelu::prepare(&original, true)
            .expect("SFace is prepared")
            .0;
        println!(
            "model given to ONNX Runtime identical to before: {}",
            before == now
        );
    }
    println!("load            {:8.1} ms", ms(load));
    println!("first frame     {:8.1} ms", ms(first));
    println!("load+first      {:8.1} ms", ms(load + first));
    println!(
        "frame (median)  {:8.2} ms over {rounds}",
        ms(median(frames))
    );
    println!(
        "sface (median)  {:8.2} ms over {rounds}",
        ms(median(embeds))
    );
}
