//! The quality gate's thresholds against LFW (see `QualityConfig`'s documentation for the
//! full measurement): sharp evaluation faces pass, strongly defocused ones are refused.
//! Needs the face runtime and ../shared/data (`bash .ci/setup`).

mod matcher_support;

use camera_replay::matcher::{AcquireFailure, MatcherConfig, QualityConfig};
use matcher_support::{lfw, lfw_fold_pairs, matcher};

fn percentile(v: &mut [f32], p: f32) -> f32 {
    v.sort_by(f32::total_cmp);
    v[((v.len() - 1) as f32 * p).round() as usize]
}

#[test]
fn lfw_faces_pass_and_defocused_faces_fail() {
    let gate = QualityConfig::default();
    let mut m = matcher(&MatcherConfig {
        quality: QualityConfig::disabled(),
        ..MatcherConfig::default()
    });
    // Every 6th same-person pair of fold 1: 50 probe images.
    let pairs: Vec<_> = lfw_fold_pairs(1)
        .into_iter()
        .filter(|p| p.genuine)
        .step_by(6)
        .collect();
    let (mut iod, mut sharp, mut blurred) = (Vec::new(), Vec::new(), Vec::new());
    let mut rejected_sharp = Vec::new();
    let mut refused_blur = 0;
    for (person, n) in pairs.iter().map(|p| &p.b) {
        let img = lfw(person, *n);
        let t = match m.probe(&img) {
            Ok(t) => t,
            Err(AcquireFailure::NoFace) => continue,
            Err(e) => panic!("{person}/{n}: {e}"),
        };
        iod.push(t.quality.interocular_px);
        sharp.push(t.quality.sharpness);
        if t.quality.interocular_px < gate.min_interocular_px
            || t.quality.sharpness < gate.min_sharpness
        {
            rejected_sharp.push(format!("{person}/{n}: {:?}", t.quality));
        }
        // Defocus of σ = 3 crop pixels.
        let sigma = 3.0 * t.quality.interocular_px / 35.2;
        let soft = image::imageops::blur(&img, sigma);
        let b = m.template_for(&soft, &t.face).expect("gate is off");
        blurred.push(b.quality.sharpness);
        if b.quality.sharpness < gate.min_sharpness {
            refused_blur += 1;
        }
    }
    let n = iod.len();
    println!(
        "{n} LFW probes: eye distance min {:.1} median {:.1}; sharpness min {:.1} median {:.1}; \
         blurred (σ=3) median {:.1} max {:.1}; refused blurred {refused_blur}/{n}",
        percentile(&mut iod, 0.0),
        percentile(&mut iod, 0.5),
        percentile(&mut sharp, 0.0),
        percentile(&mut sharp, 0.5),
        percentile(&mut blurred, 0.5),
        percentile(&mut blurred, 1.0),
    );
    assert!(n >= 45, "only {n} faces found");
    assert!(
        rejected_sharp.is_empty(),
        "sharp LFW faces rejected: {rejected_sharp:?}"
    );
    assert!(
        refused_blur * 10 >= n * 9,
        "only {refused_blur} of {n} blurred faces refused"
    );
}

/// The measurement behind `QualityConfig`'s defaults, on the tuning split only: every image of
/// LFW fold 1 (folds 2–5 are never looked at here). Minutes of work:
/// `cargo test -p camera-replay --test matcher_quality -- --ignored --nocapture`.
#[test]
#[ignore]
fn quality_gate_measurement_on_fold_1() {
    let mut m = matcher(&MatcherConfig {
        quality: QualityConfig::disabled(),
        ..MatcherConfig::default()
    });
    let mut images: Vec<(String, u32)> = lfw_fold_pairs(1)
        .into_iter()
        .flat_map(|p| [p.a, p.b])
        .collect();
    images.sort();
    images.dedup();
    let (mut iod, mut sharp) = (Vec::new(), Vec::new());
    let mut blurred: Vec<(f32, Vec<f32>)> = [1.0f32, 1.5, 2.0, 3.0]
        .into_iter()
        .map(|s| (s, Vec::new()))
        .collect();
    for (person, n) in &images {
        let img = lfw(person, *n);
        let Ok(t) = m.probe(&img) else { continue };
        iod.push(t.quality.interocular_px);
        sharp.push(t.quality.sharpness);
        for (sigma, out) in &mut blurred {
            let soft = image::imageops::blur(&img, *sigma * t.quality.interocular_px / 35.2);
            if let Ok(b) = m.template_for(&soft, &t.face) {
                out.push(b.quality.sharpness);
            }
        }
    }
    let n = iod.len();
    println!(
        "fold 1: {} images, {n} with a face; eye distance min {:.1} p1 {:.1} median {:.1}; \
         sharpness min {:.1} p1 {:.1} median {:.1}",
        images.len(),
        percentile(&mut iod, 0.0),
        percentile(&mut iod, 0.01),
        percentile(&mut iod, 0.5),
        percentile(&mut sharp, 0.0),
        percentile(&mut sharp, 0.01),
        percentile(&mut sharp, 0.5),
    );
    for (sigma, mut v) in blurred {
        let refused = v
            .iter()
            .filter(|s| **s < QualityConfig::default().min_sharpness)
            .count();
        println!(
            "blur σ = {sigma} crop px: sharpness median {:.1} p95 {:.1}; refused {refused} of {}",
            percentile(&mut v, 0.5),
            percentile(&mut v, 0.95),
            v.len()
        );
    }
}
