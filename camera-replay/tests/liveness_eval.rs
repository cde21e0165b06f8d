//! Measures the liveness check on synthetic clips: BPCER on live clips and APCER per attack
//! species, over seeds × the seven profile photos. Slow in a debug build, so ignored by
//! default; run it with
//!
//! ```text
//! cargo test --release -p camera-replay --test liveness_eval -- --ignored --nocapture
//! ```
//!
//! (`LIVENESS_SEEDS=N` changes the number of seeds, default 20.)

#[path = "source_support/mod.rs"]
mod support;

use camera_replay::attack::{AttackClip, AttackOptions, AttackSpecies};
use camera_replay::liveness::{self, LivenessConfig, LivenessScores};
use camera_replay::perturb::FaceBox;
use camera_replay::source::{ClipSpec, LiveClip};

/// `None` = live.
type Kind = Option<AttackSpecies>;

fn kinds() -> Vec<Kind> {
    let mut v: Vec<Kind> = vec![None];
    v.extend(AttackSpecies::ALL.iter().map(|s| Some(*s)));
    v
}

fn kind_name(k: Kind) -> &'static str {
    k.map(|s| s.name()).unwrap_or("live")
}

fn run(photo: &image::RgbImage, face: FaceBox, kind: Kind, seed: u64) -> LivenessScores {
    let spec = ClipSpec {
        frames: 15,
        fps: 15.0,
        seed,
        face: Some(face),
        ..ClipSpec::default()
    };
    let (frames, boxes): (Vec<_>, Vec<FaceBox>) = match kind {
        None => {
            let c = LiveClip::new(photo, spec).unwrap();
            (0..15).map(|i| (c.frame(i), c.face_box(i))).unzip()
        }
        Some(s) => {
            let c = AttackClip::new(photo, s, spec, AttackOptions::default()).unwrap();
            (0..15).map(|i| (c.frame(i), c.face_box(i))).unzip()
        }
    };
    let imgs: Vec<&image::RgbImage> = frames.iter().map(|f| &f.image).collect();
    liveness::scores(&imgs, Some(&boxes), &LivenessConfig::default())
}

#[test]
#[ignore = "slow: run in release (see the file's docs)"]
fn liveness_error_rates() {
    let seeds: u64 = std::env::var("LIVENESS_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let mut photos = Vec::new();
    for (name, _) in support::PHOTOS {
        match support::photo(name) {
            Some(p) => photos.push((name, p)),
            None => return,
        }
    }
    let config = LivenessConfig::default();
    let jobs: Vec<(usize, Kind, u64)> = (0..photos.len())
        .flat_map(|p| {
            kinds()
                .into_iter()
                .flat_map(move |k| (0..seeds).map(move |s| (p, k, s)))
        })
        .collect();
    let results = std::sync::Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(&(p, k, s)) = jobs.get(i) else { break };
                let (_, (photo, face)) = &photos[p];
                let sc = run(photo, *face, k, s * 7919 + 1);
                results.lock().unwrap().push((p, k, s, sc));
            });
        }
    });
    let results = results.into_inner().unwrap();
    println!("kind              n   errors  rate    motion(min/med/max)  colour(min/med/max)  periodic(min/med/max)  black(min/med/max)");
    for k in kinds() {
        let rs: Vec<&LivenessScores> = results.iter().filter(|r| r.1 == k).map(|r| &r.3).collect();
        let errors = rs
            .iter()
            .filter(|sc| {
                let imgs_ok = decide(sc, &config);
                // Live: an error is a rejection; attack: an error is an acceptance.
                if k.is_none() {
                    !imgs_ok
                } else {
                    imgs_ok
                }
            })
            .count();
        let stat = |f: &dyn Fn(&LivenessScores) -> f64| {
            let mut v: Vec<f64> = rs.iter().map(|s| f(s)).collect();
            v.sort_by(|a, b| a.total_cmp(b));
            format!(
                "{:>7.1}/{:>7.1}/{:>7.1}",
                v[0],
                v[v.len() / 2],
                v[v.len() - 1]
            )
        };
        println!(
            "{:<16} {:>4} {:>6}  {:>5.1}%  {}  {}  {}  {}",
            kind_name(k),
            rs.len(),
            errors,
            100.0 * errors as f64 / rs.len() as f64,
            stat(&|s| s.motion),
            stat(&|s| s.colour),
            stat(&|s| s.periodic),
            stat(&|s| s.black_level),
        );
        if k.is_none() {
            for r in results
                .iter()
                .filter(|r| r.1 == k && !decide(&r.3, &config))
            {
                println!(
                    "   live rejected: photo {} seed {}: {:?}",
                    photos[r.0].0, r.2, r.3
                );
            }
        } else {
            for r in results.iter().filter(|r| r.1 == k && decide(&r.3, &config)) {
                println!(
                    "   attack accepted: photo {} seed {}: {:?}",
                    photos[r.0].0, r.2, r.3
                );
            }
        }
    }
}

/// The decision [`liveness::check`] makes from these scores (true = bona fide).
fn decide(s: &LivenessScores, c: &LivenessConfig) -> bool {
    s.frames >= 2
        && s.motion >= c.min_motion
        && s.colour >= c.min_colour
        && s.periodic <= c.max_periodic
        && s.black_level <= c.max_black
}
