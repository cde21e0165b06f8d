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
use camera_replay::perturb::{FaceBox, Perturbation};
use camera_replay::source::{ClipSpec, LiveClip};

/// What a clip is.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Live,
    Attack(AttackSpecies),
    /// A live clip with a perturbation on every frame (robustness of the bona fide side).
    LivePerturbed(&'static str, f64),
    /// A live clip checked without face boxes (the default central box).
    LiveNoBox,
}

impl Kind {
    fn is_attack(&self) -> bool {
        matches!(self, Kind::Attack(_))
    }
    fn name(&self) -> String {
        match self {
            Kind::Live => "live".into(),
            Kind::Attack(s) => s.name().into(),
            Kind::LivePerturbed(n, v) => format!("live+{n}={v}"),
            Kind::LiveNoBox => "live, no face box".into(),
        }
    }
}

fn kinds() -> Vec<Kind> {
    let mut v = vec![Kind::Live];
    v.extend(AttackSpecies::ALL.iter().map(|s| Kind::Attack(*s)));
    v.extend([
        Kind::LiveNoBox,
        Kind::LivePerturbed("jpeg", 30.0),
        Kind::LivePerturbed("blur", 1.5),
        Kind::LivePerturbed("noise", 8.0),
        Kind::LivePerturbed("brightness", 40.0),
        Kind::LivePerturbed("brightness", -40.0),
        Kind::LivePerturbed("contrast", 0.6),
        Kind::LivePerturbed("occlusion", 0.5),
    ]);
    v
}

const FRAMES: u32 = 15;

fn run(photo: &image::RgbImage, face: FaceBox, kind: Kind, seed: u64) -> LivenessScores {
    let spec = ClipSpec {
        frames: FRAMES,
        fps: 15.0,
        seed,
        face: Some(face),
        ..ClipSpec::default()
    };
    let (mut frames, boxes): (Vec<_>, Vec<FaceBox>) = match kind {
        Kind::Attack(s) => {
            let c = AttackClip::new(photo, s, spec, AttackOptions::default()).unwrap();
            (0..FRAMES).map(|i| (c.frame(i), c.face_box(i))).unzip()
        }
        _ => {
            let c = LiveClip::new(photo, spec).unwrap();
            (0..FRAMES).map(|i| (c.frame(i), c.face_box(i))).unzip()
        }
    };
    if let Kind::LivePerturbed(name, value) = kind {
        for (f, b) in frames.iter_mut().zip(&boxes) {
            let p = Perturbation::from_name_value(name, value)
                .unwrap()
                .with_face_box(*b);
            f.image = p.apply(&f.image, seed ^ f.index);
        }
    }
    let imgs: Vec<&image::RgbImage> = frames.iter().map(|f| &f.image).collect();
    let boxes = (kind != Kind::LiveNoBox).then_some(&boxes[..]);
    liveness::scores(&imgs, boxes, &LivenessConfig::default())
}

#[test]
#[ignore = "slow: run in release (see the file's docs)"]
fn liveness_error_rates() {
    let seeds: u64 = std::env::var("LIVENESS_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let mut photos: Vec<(&str, (image::RgbImage, FaceBox))> = Vec::new();
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
    let mut headline_failures = Vec::new();
    println!("(rate: BPCER for live rows, APCER for attack rows)");
    println!("kind                     n   errors  rate    motion(min/med/max)  colour(min/med/max)  periodic(min/med/max)  black(min/med/max)     white(min/med/max)");
    for k in kinds() {
        let rs: Vec<&LivenessScores> = results.iter().filter(|r| r.1 == k).map(|r| &r.3).collect();
        let errors = rs
            .iter()
            .filter(|sc| {
                let imgs_ok = decide(sc, &config);
                // Live: an error is a rejection; attack: an error is an acceptance.
                if k.is_attack() {
                    imgs_ok
                } else {
                    !imgs_ok
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
        let rate = 100.0 * errors as f64 / rs.len() as f64;
        if matches!(k, Kind::Live | Kind::Attack(_)) && rate > 5.0 {
            headline_failures.push(format!("{}: {rate:.1}%", k.name()));
        }
        println!(
            "{:<23} {:>4} {:>6}  {:>5.1}%  {}  {}  {}  {}  {}",
            k.name(),
            rs.len(),
            errors,
            rate,
            stat(&|s| s.motion),
            stat(&|s| s.colour),
            stat(&|s| s.periodic),
            stat(&|s| s.black_level),
            stat(&|s| s.white_level),
        );
        if !k.is_attack() {
            for r in results
                .iter()
                .filter(|r| r.1 == k && !decide(&r.3, &config))
                .take(3)
            {
                println!(
                    "   live rejected: photo {} seed {}: {:?}",
                    photos[r.0].0, r.2, r.3
                );
            }
        } else {
            for r in results
                .iter()
                .filter(|r| r.1 == k && decide(&r.3, &config))
                .take(3)
            {
                println!(
                    "   attack accepted: photo {} seed {}: {:?}",
                    photos[r.0].0, r.2, r.3
                );
            }
        }
    }
    assert!(
        headline_failures.is_empty(),
        "error rates above 5%: {headline_failures:?}"
    );
}

/// The decision [`liveness::check`] makes from these scores (true = bona fide).
fn decide(s: &LivenessScores, c: &LivenessConfig) -> bool {
    s.frames >= 2
        && s.motion >= c.min_motion
        && s.colour >= c.min_colour
        && s.periodic <= c.max_periodic
        && !(s.black_level > c.max_black && s.white_level < c.print_white_max)
}
