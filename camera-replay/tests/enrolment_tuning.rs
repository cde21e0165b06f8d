//! How the enrolment defaults ([`EnrolmentConfig`], the detector's score threshold) were
//! chosen: measurements on LFW View 2 fold 1 only (the first 600 pairs of
//! `pairs_folds1-5.txt`, the tuning split). Folds 2–5 are the evaluation set: nothing here
//! reads them (`tests/tight_crops.rs` does, to check the chosen defaults).
//!
//! Every test is `#[ignore]`d (minutes of work, measurements rather than checks); run with
//! `cargo test -p camera-replay --test enrolment_tuning -- --ignored --nocapture`.
//! The tight set: every image of fold 1 cut to the face box YuNet finds at OpenCV's settings
//! and turned grey ([`TightCrop::grey`]). Each row: failures to enrol over the images, and
//! the scores of the pairs (enrolment side tight, probe side the wide LFW image, unpadded).
//! `MYNA_HIL_TEST_THREADS` sets the number of matchers (2 by default).

mod matcher_support;

use std::collections::HashMap;
use std::time::Instant;

use camera_replay::matcher::enrolment::FALLBACK_SCORE_THRESHOLD;
use camera_replay::matcher::tight::TightCrop;
use camera_replay::matcher::{
    compare, DetectorConfig, EnrolmentConfig, FaceMatcher, MatcherConfig, PadBorder, Template,
};
use image::RgbImage;
use matcher_support::{
    eer, lfw, lfw_fold_pairs, matcher, pair_images, par_map, test_threads, tight_crop_of, LfwPair,
};

type Key = (String, u32);

struct Fold1 {
    pairs: Vec<LfwPair>,
    images: Vec<Key>,
    /// Probe templates of the wide images, default matcher.
    probes: HashMap<Key, Template>,
}

fn matchers(config: &MatcherConfig) -> Vec<FaceMatcher> {
    (0..test_threads()).map(|_| matcher(config)).collect()
}

fn fold1() -> Fold1 {
    let pairs = lfw_fold_pairs(1);
    let images = pair_images(&pairs);
    let mut ms = matchers(&MatcherConfig::default());
    let probes = par_map(&images, &mut ms, |m, (p, n)| m.probe(&lfw(p, *n)).ok());
    let probes = images
        .iter()
        .cloned()
        .zip(probes)
        .filter_map(|(k, t)| Some((k, t?)))
        .collect();
    Fold1 {
        pairs,
        images,
        probes,
    }
}

/// The tight grey crops of the images (those whose full image has a face at 0.9).
fn tight_set(images: &[Key]) -> HashMap<Key, RgbImage> {
    let mut ms = matchers(&MatcherConfig::default());
    let crops = par_map(images, &mut ms, |m, (p, n)| {
        tight_crop_of(m, &lfw(p, *n), &TightCrop::grey()).map(|(_, c)| c)
    });
    images
        .iter()
        .cloned()
        .zip(crops)
        .filter_map(|(k, c)| Some((k, c?)))
        .collect()
}

struct Row {
    fta: f32,
    failed: usize,
    tried: usize,
    genuine: Vec<f32>,
    impostor: Vec<f32>,
}

impl Row {
    fn line(&self, label: &str) -> String {
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len().max(1) as f32;
        let fnmr =
            self.genuine.iter().filter(|s| **s < 0.363).count() as f32 / self.genuine.len() as f32;
        format!(
            "{label:<34} FTA {:6.2} % ({:4}/{:4})  genuine mean {:.4}  impostor mean {:.4}  \
             FNMR@0.363 {:5.2} %  EER {:5.2} %  ({} + {} pairs)",
            100.0 * self.fta,
            self.failed,
            self.tried,
            mean(&self.genuine),
            mean(&self.impostor),
            100.0 * fnmr,
            100.0 * eer(&self.genuine, &self.impostor),
            self.genuine.len(),
            self.impostor.len()
        )
    }
}

/// Enrols every image of `set` under `config` and scores fold 1's pairs against the wide
/// probes.
fn measure(config: &MatcherConfig, set: &HashMap<Key, RgbImage>, f: &Fold1) -> Row {
    let keys: Vec<&Key> = set.keys().collect();
    let mut ms = matchers(config);
    let enrolled = par_map(&keys, &mut ms, |m, k| m.enrol(&set[*k]).ok());
    let enrolled: HashMap<&Key, Template> = keys
        .iter()
        .copied()
        .zip(enrolled)
        .filter_map(|(k, t)| Some((k, t?)))
        .collect();
    let (mut genuine, mut impostor) = (Vec::new(), Vec::new());
    for p in &f.pairs {
        if let (Some(a), Some(b)) = (enrolled.get(&p.a), f.probes.get(&p.b)) {
            let s = compare(a, b);
            if p.genuine {
                genuine.push(s)
            } else {
                impostor.push(s)
            }
        }
    }
    let failed = keys.len() - enrolled.len();
    Row {
        fta: failed as f32 / keys.len() as f32,
        failed,
        tried: keys.len(),
        genuine,
        impostor,
    }
}

/// One detection at `score` (no second try at a lower one).
fn config(score: f32, margin: f32, border: PadBorder) -> MatcherConfig {
    MatcherConfig {
        detector: DetectorConfig {
            score_threshold: score,
            ..DetectorConfig::default()
        },
        enrolment: EnrolmentConfig {
            margin,
            border,
            fallback_score_threshold: None,
        },
        ..MatcherConfig::default()
    }
}

const BORDERS: [PadBorder; 6] = [
    PadBorder::Constant([0, 0, 0]),
    PadBorder::Constant([128, 128, 128]),
    PadBorder::Mean,
    PadBorder::Replicate,
    PadBorder::Reflect,
    PadBorder::Reflect101,
];

fn header(f: &Fold1, set: &HashMap<Key, RgbImage>) {
    println!(
        "LFW fold 1: {} pairs, {} images, {} wide probes acquired, {} tight crops (faces found \
         at 0.9 on the full image)",
        f.pairs.len(),
        f.images.len(),
        f.probes.len(),
        set.len()
    );
}

/// Measures fold 1's tight set under each `(margin, border, score)`, a line each.
fn tight_table(rows: impl IntoIterator<Item = (f32, PadBorder, f32)>) {
    let t0 = Instant::now();
    let f = fold1();
    let tight = tight_set(&f.images);
    header(&f, &tight);
    for (margin, border, score) in rows {
        let label = match margin {
            0.0 => format!("unpadded @{score}"),
            _ => format!("{border} m={margin} @{score}"),
        };
        let row = measure(&config(score, margin, border), &tight, &f);
        println!("{}", row.line(&label));
    }
    println!("{:.0} s", t0.elapsed().as_secs_f32());
}

/// Which border: no border at 0.9 and 0.6, then every border at margins 0.25 and 0.5, 0.9.
#[test]
#[ignore = "measurement (minutes): run with --ignored --nocapture"]
fn fold1_tight_borders() {
    let unpadded = [0.9f32, 0.6].map(|score| (0.0, PadBorder::Mean, score));
    let padded = [0.25f32, 0.5]
        .into_iter()
        .flat_map(|margin| BORDERS.map(|border| (margin, border, 0.9)));
    tight_table(unpadded.into_iter().chain(padded));
}

/// Margins for one border (`TUNE_BORDER` as `PadBorder` parses it, default `mean`),
/// thresholds 0.9 and 0.6.
#[test]
#[ignore = "measurement (minutes): run with --ignored --nocapture"]
fn fold1_tight_margins() {
    let border: PadBorder = std::env::var("TUNE_BORDER")
        .unwrap_or_else(|_| "mean".into())
        .parse()
        .unwrap_or_else(|e| panic!("TUNE_BORDER: {e}"));
    tight_table(
        [0.35f32, 0.5, 0.75, 1.0]
            .into_iter()
            .flat_map(|margin| [0.9f32, 0.6].map(|score| (margin, border, score))),
    );
}

/// Wide LFW images (as published, colour) enrolled with the old protocol (no padding) and
/// with padding: do the defaults hurt wide photos?
#[test]
#[ignore = "measurement (minutes): run with --ignored --nocapture"]
fn fold1_wide_before_after() {
    let t0 = Instant::now();
    let f = fold1();
    let wide = wide_set(&f);
    let old = MatcherConfig {
        enrolment: EnrolmentConfig::unpadded(),
        ..MatcherConfig::default()
    };
    println!(
        "{}",
        measure(&old, &wide, &f).line("old default (unpadded @0.9)")
    );
    for (label, c) in score_rows() {
        println!("{}", measure(&c, &wide, &f).line(&label));
    }
    let grid: Vec<(f32, PadBorder)> = std::env::var("TUNE_WIDE_GRID")
        .map(|_| {
            [0.25f32, 0.5, 1.0]
                .into_iter()
                .flat_map(|m| BORDERS.map(move |b| (m, b)))
                .collect()
        })
        .unwrap_or_default();
    for (margin, border) in grid {
        let row = measure(&config(0.9, margin, border), &wide, &f);
        println!("{}", row.line(&format!("{border} m={margin} @0.9")));
    }
    println!("{:.0} s", t0.elapsed().as_secs_f32());
}

/// The wide LFW images of fold 1, as published.
fn wide_set(f: &Fold1) -> HashMap<Key, RgbImage> {
    println!(
        "LFW fold 1: {} pairs, {} images, {} wide probes acquired",
        f.pairs.len(),
        f.images.len(),
        f.probes.len()
    );
    f.images
        .iter()
        .map(|(p, n)| ((p.clone(), *n), lfw(p, *n)))
        .collect()
}

/// The default border and margin with the three ways to set the score: one detection at
/// 0.9, one at [`FALLBACK_SCORE_THRESHOLD`], and the default (0.9, then the fallback where
/// 0.9 found nothing).
fn score_rows() -> [(String, MatcherConfig); 3] {
    let d = MatcherConfig::default();
    let (m, b) = (d.enrolment.margin, d.enrolment.border);
    [
        (format!("m={m} {b} @0.9 only"), config(0.9, m, b)),
        (
            format!("m={m} {b} @{FALLBACK_SCORE_THRESHOLD} only"),
            config(FALLBACK_SCORE_THRESHOLD, m, b),
        ),
        (
            format!(
                "default: @{} then @{:?}",
                d.detector.score_threshold, d.enrolment.fallback_score_threshold
            ),
            d,
        ),
    ]
}

/// The decision on the score: the three ways of [`score_rows`] on fold 1's wide images and
/// on its tight crops.
#[test]
#[ignore = "measurement (minutes): run with --ignored --nocapture"]
fn fold1_fallback_score() {
    let t0 = Instant::now();
    let f = fold1();
    let wide = wide_set(&f);
    let tight = tight_set(&f.images);
    println!("{} tight crops", tight.len());
    for (label, c) in score_rows() {
        println!("{}", measure(&c, &wide, &f).line(&format!("wide  {label}")));
        println!(
            "{}",
            measure(&c, &tight, &f).line(&format!("tight {label}"))
        );
    }
    println!("{:.0} s", t0.elapsed().as_secs_f32());
}
