//! Enrolment of chip-like tight crops on the evaluation set: LFW View 2 folds 2–5 (fold 1
//! chose the enrolment settings, `tests/enrolment_tuning.rs`; `docs/enrolment.md`).
//!
//! Every image is cut to the face box YuNet finds on it at OpenCV's settings and turned grey
//! ([`TightCrop::grey`]: a face that fills the picture, as on a card's chip). Each crop is
//! enrolled under [`settings`]; FTA is the share of crops not enrolled. The pairs score the
//! tight enrolment of their first image against the wide probe of their second.
//!
//! Whole evaluation set (2988 crops), measured before the second try existed: the default
//! border at score 0.9 FTA 1.24 % (above issue 13's 1 %), at score 0.6 0.03 %, unpadded 99.9 %.
//! The defaults now detect again at [`FALLBACK_SCORE_THRESHOLD`](camera_replay::matcher::enrolment::FALLBACK_SCORE_THRESHOLD) where 0.9 found nothing.
//!
//! CI runs a fixed sample, every [`SAMPLE_STRIDE`]th line of folds 2–5 (240 pairs, 459
//! images); the whole set (2400 pairs, 3004 images) is
//! `cargo test -p camera-replay --test tight_crops -- --ignored --nocapture`.
//! `MYNA_HIL_TEST_THREADS` sets the number of matchers (2 by default). Needs the face runtime
//! and the LFW set (`bash .ci/setup`, ../shared/data): a missing one fails the test.

mod matcher_support;

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use camera_replay::matcher::tight::TightCrop;
use camera_replay::matcher::{
    compare, DetectorConfig, EnrolmentConfig, FaceMatcher, FailureKind, MatcherConfig, Template,
};
use matcher_support::{
    eer, lfw, lfw_fold_pairs, matcher, pair_images, par_map, test_threads, tight_crop_of, LfwPair,
};

/// The CI sample takes every 10th line of folds 2–5 (about 50 s on 2 threads).
const SAMPLE_STRIDE: usize = 10;
/// Issue 13's target for the defaults: at most 1 % of the tight crops not enrolled.
const MAX_FTA: f32 = 0.01;
/// A guard on one detection at 0.9 (measured 1.24 % on the whole set), not a target.
const MAX_ONE_TRY_FTA: f32 = 0.02;
/// Unpadded enrolment must fail on at least half of them, or the set is not tight.
const MIN_UNPADDED_FTA: f32 = 0.5;

/// The enrolments measured, each with the detector's score threshold: the defaults (padding,
/// 0.9, then [`FALLBACK_SCORE_THRESHOLD`](camera_replay::matcher::enrolment::FALLBACK_SCORE_THRESHOLD); held to [`MAX_FTA`]), the default padding with one
/// detection at 0.9 (held to [`MAX_ONE_TRY_FTA`]) and no border (held to fail).
fn settings() -> [(&'static str, EnrolmentConfig, f32); 3] {
    let score = DetectorConfig::default().score_threshold;
    let one_try = EnrolmentConfig {
        fallback_score_threshold: None,
        ..EnrolmentConfig::default()
    };
    [
        ("defaults", EnrolmentConfig::default(), score),
        ("one detection", one_try, score),
        ("unpadded", EnrolmentConfig::unpadded(), score),
    ]
}

/// What one image gave.
struct Image {
    /// The probe template of the wide image (None: no face at 0.9, or refused by the gate).
    wide: Option<Template>,
    /// The tight crop's enrolment under each of [`settings`]; empty when no crop was cut (no
    /// face on the wide image).
    tight: Vec<Result<Template, FailureKind>>,
}

fn enrol_as(
    m: &mut FaceMatcher,
    crop: &image::RgbImage,
    enrolment: EnrolmentConfig,
    score: f32,
) -> Result<Template, FailureKind> {
    let defaults = m.config().clone();
    let detector = DetectorConfig {
        score_threshold: score,
        ..defaults.detector
    };
    m.set_thresholds(detector, defaults.quality, defaults.threshold);
    m.set_enrolment(enrolment);
    let t = m.enrol(crop).map_err(|e| e.kind());
    m.set_thresholds(defaults.detector, defaults.quality, defaults.threshold);
    m.set_enrolment(defaults.enrolment);
    t
}

fn run(stride: usize) {
    let t0 = Instant::now();
    let pairs: Vec<LfwPair> = (2..=5).flat_map(lfw_fold_pairs).step_by(stride).collect();
    let images = pair_images(&pairs);
    let mut ms: Vec<_> = (0..test_threads())
        .map(|_| matcher(&MatcherConfig::default()))
        .collect();
    let results = par_map(&images, &mut ms, |m, (person, n)| {
        let img = lfw(person, *n);
        let Some((face, crop)) = tight_crop_of(m, &img, &TightCrop::grey()) else {
            return Image {
                wide: None,
                tight: Vec::new(),
            };
        };
        Image {
            wide: m.template_for(&img, &face).ok(),
            tight: settings()
                .iter()
                .map(|(_, enrolment, score)| enrol_as(m, &crop, *enrolment, *score))
                .collect(),
        }
    });
    let by_key: HashMap<_, _> = images.iter().zip(&results).collect();
    let crops = results.iter().filter(|r| !r.tight.is_empty()).count();
    println!(
        "LFW folds 2-5, every {stride}. line: {} pairs, {} images, {crops} tight crops \
         ({} images without a face at 0.9); EER with the tight enrolment of the first image \
         against the wide probe of the second",
        pairs.len(),
        images.len(),
        images.len() - crops
    );
    let mut fta = Vec::new();
    for (i, (label, enrolment, score)) in settings().iter().enumerate() {
        let mut failures: BTreeMap<String, usize> = BTreeMap::new();
        for r in results.iter().filter(|r| !r.tight.is_empty()) {
            if let Err(kind) = &r.tight[i] {
                *failures.entry(format!("{kind:?}")).or_default() += 1;
            }
        }
        let failed: usize = failures.values().sum();
        let mut scores = [Vec::new(), Vec::new()];
        for p in &pairs {
            if let (Some(Ok(a)), Some(b)) = (by_key[&p.a].tight.get(i), &by_key[&p.b].wide) {
                scores[usize::from(p.genuine)].push(compare(a, b));
            }
        }
        println!(
            "{label:<14} margin {} {}, score {score} then {:?}: FTA {:.2} % ({failed}/{crops}: {failures:?}); \
             EER {:.2} % ({} genuine + {} impostor pairs)",
            enrolment.margin,
            enrolment.border,
            enrolment.fallback_below(*score),
            100.0 * failed as f32 / crops as f32,
            100.0 * eer(&scores[1], &scores[0]),
            scores[1].len(),
            scores[0].len()
        );
        fta.push(failed as f32 / crops as f32);
    }
    let mut wide = [Vec::new(), Vec::new()];
    for p in &pairs {
        if let (Some(a), Some(b)) = (&by_key[&p.a].wide, &by_key[&p.b].wide) {
            wide[usize::from(p.genuine)].push(compare(a, b));
        }
    }
    println!(
        "wide images both sides (as published, colour): EER {:.2} % ({} + {} pairs)",
        100.0 * eer(&wide[1], &wide[0]),
        wide[1].len(),
        wide[0].len()
    );
    println!(
        "{:.1} s on {} threads",
        t0.elapsed().as_secs_f32(),
        ms.len()
    );

    assert!(
        crops * 20 >= images.len() * 19,
        "only {crops} of {} images gave a tight crop",
        images.len()
    );
    let limits = [(fta[0], MAX_FTA), (fta[1], MAX_ONE_TRY_FTA)];
    for ((label, _, score), (fta, max)) in settings().iter().zip(limits) {
        assert!(
            fta <= max,
            "tight crops not enrolled ({label}, score {score}): {:.2} % > {:.0} %",
            100.0 * fta,
            100.0 * max
        );
    }
    assert!(
        fta[2] >= MIN_UNPADDED_FTA,
        "unpadded enrolment failed on only {:.2} % of the crops: the crops are not tight",
        100.0 * fta[2]
    );
}

#[test]
fn tight_crops_enrol_on_a_sample_of_folds_2_to_5() {
    run(SAMPLE_STRIDE);
}

#[test]
#[ignore = "the whole evaluation set (minutes): run with --ignored --nocapture"]
fn tight_crops_enrol_on_all_of_folds_2_to_5() {
    run(1);
}
