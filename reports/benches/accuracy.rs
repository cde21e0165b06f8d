//! DET curve + EER over 1,000,000 scores (10,000 genuine + 990,000 impostor, seeded).
//! Goal: ≤ 1 s. The same scores are written to `<target>/accuracy-bench/scores-1e6.csv` for
//! `reports/reference/bench_pyeer.py`, which times pyeer on them.
//!
//! Run: `cargo bench -p reports --bench accuracy`

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use reports::accuracy::{
    evaluate, summarise, write_raw_scores, AccuracyOptions, BootstrapOptions, ComparisonKind,
    DetCurve, ScoreRecord, Scores, Subjects,
};
use reports::plots::det_plot;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

const GENUINE: usize = 10_000;
const IMPOSTOR: usize = 990_000;
const SEED: u64 = 20_251_125;

/// `<target>/accuracy-bench/`, from this executable's path (`<target>/release/deps/…`).
fn out_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("bench binary lives in <target>/<profile>/deps")
        .to_path_buf();
    target.join("accuracy-bench")
}

fn write_scores(genuine: &[f64], impostor: &[f64]) {
    let dir = out_dir();
    std::fs::create_dir_all(&dir).expect("create accuracy-bench dir");
    let path = dir.join("scores-1e6.csv");
    let record = |kind, i: usize, s: f64| ScoreRecord {
        kind,
        subject_a: format!("s{i}"),
        image_a: "1".into(),
        subject_b: match kind {
            ComparisonKind::Genuine => format!("s{i}"),
            ComparisonKind::Impostor => format!("t{i}"),
        },
        image_b: "2".into(),
        score: s,
    };
    let records: Vec<ScoreRecord> = genuine
        .iter()
        .enumerate()
        .map(|(i, &s)| record(ComparisonKind::Genuine, i, s))
        .chain(
            impostor
                .iter()
                .enumerate()
                .map(|(i, &s)| record(ComparisonKind::Impostor, i, s)),
        )
        .collect();
    write_raw_scores(&path, &records).expect("write bench scores");
    eprintln!("bench scores written to {}", path.display());
}

fn bench(c: &mut Criterion) {
    let (genuine, impostor) = common::sface_like(SEED, GENUINE, IMPOSTOR);
    write_scores(&genuine, &impostor);
    let eer = DetCurve::new(&genuine, &impostor).unwrap().eer();
    eprintln!("EER of the bench scores: {:.6}", eer.eer);

    let mut group = c.benchmark_group("accuracy-1e6");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(6));
    group.bench_function("det+eer", |b| {
        b.iter(|| {
            let curve = DetCurve::new(black_box(&genuine), black_box(&impostor)).unwrap();
            black_box(curve.eer())
        })
    });
    let scores = Scores::new(genuine.clone(), impostor.clone());
    let options = AccuracyOptions::default();
    group.bench_function("summarise (det+eer+fnmr@fmr+intervals)", |b| {
        b.iter(|| black_box(summarise(black_box(&scores), &options).unwrap()))
    });
    group.finish();

    // For the record, not goals: plotting the 10⁶-point curve, and a bootstrap by subject
    // (1,000 subjects, 100 replicates) over the same 10⁶ comparisons.
    let mut slow = c.benchmark_group("accuracy-1e6-extras");
    slow.sample_size(10);
    slow.measurement_time(Duration::from_secs(8));
    let eval = evaluate(&scores, &options).unwrap();
    let plot_dir = out_dir().join("plots");
    slow.bench_function("det_plot (PNG + SVG)", |b| {
        b.iter(|| {
            det_plot(
                eval.curve.as_ref().unwrap(),
                &eval.summary,
                &plot_dir,
                "det-1e6",
            )
            .unwrap()
        })
    });
    let mut with_subjects = scores.clone();
    with_subjects.subjects = Some(Subjects {
        genuine: (0..GENUINE as u32).map(|i| i % 1000).collect(),
        impostor: (0..IMPOSTOR as u32).map(|i| i % 1000).collect(),
    });
    let boot = AccuracyOptions {
        bootstrap: Some(BootstrapOptions {
            replicates: 100,
            seed: 1,
        }),
        ..AccuracyOptions::default()
    };
    slow.bench_function("summarise + bootstrap 100 replicates", |b| {
        b.iter(|| black_box(summarise(&with_subjects, &boot).unwrap()))
    });
    slow.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
