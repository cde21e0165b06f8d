//! The plots are written (PNG + SVG, atomically) and decode; set `REPORTS_PLOT_DIR` to keep them
//! for a look.

mod common;

use reports::accuracy::summarise;
use reports::accuracy::{evaluate, AccuracyOptions, Scores};
use reports::plots::{
    accuracy_plots, det_plot, latency_histograms, score_histograms, Marker, FIGURE_SIZE,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn out_dir(name: &str) -> PathBuf {
    match std::env::var_os("REPORTS_PLOT_DIR") {
        Some(d) => {
            let d = PathBuf::from(d).join(name);
            std::fs::create_dir_all(&d).unwrap();
            d
        }
        None => common::temp_dir(name),
    }
}

fn check_png_and_svg(png: &Path, svg: &Path, must_say: &[&str]) {
    let img = image::open(png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    assert_eq!((img.width(), img.height()), FIGURE_SIZE);
    let text = std::fs::read_to_string(svg).unwrap();
    assert!(text.starts_with("<svg"), "{}", &text[..50.min(text.len())]);
    for s in must_say {
        assert!(text.contains(s), "{} lacks {s:?}", svg.display());
    }
}

fn no_temp_files(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains(".tmp-"), "left behind: {name}");
    }
}

#[test]
fn det_and_score_plots() {
    let dir = out_dir("accuracy-plots");
    let (g, i) = common::sface_like(3, 10_000, 100_000);
    let eval = evaluate(
        &Scores::new(g.clone(), i.clone()),
        &AccuracyOptions {
            operating_threshold: Some(0.363),
            ..Default::default()
        },
    )
    .unwrap();
    let curve = eval.curve.as_ref().unwrap();
    let det = det_plot(curve, &eval.summary, &dir, "det").unwrap();
    assert_eq!(det.png, dir.join("det.png"));
    check_png_and_svg(
        &det.png,
        &det.svg,
        &["False match rate", "EER", "FNMR", "0.01%"],
    );

    let markers = [
        Marker::new("threshold 0.363", 0.363),
        Marker::new(
            "FMR ≤ 1e-3 threshold",
            eval.summary.fnmr_at_fmr[1].threshold,
        ),
    ];
    let h = score_histograms(&g, &i, &markers, &dir, "scores").unwrap();
    check_png_and_svg(&h.png, &h.svg, &["genuine", "impostor", "threshold 0.363"]);
    no_temp_files(&dir);

    // A weak matcher: FNMR climbs above 50% on the axis; a tiny set: few points.
    let mut rng = common::Rng::new(9);
    let weak = evaluate(
        &Scores::new(rng.normals(2_000, 0.5, 1.0), rng.normals(20_000, 0.0, 1.0)),
        &AccuracyOptions::default(),
    )
    .unwrap();
    let w = det_plot(
        weak.curve.as_ref().unwrap(),
        &weak.summary,
        &dir,
        "det-weak",
    )
    .unwrap();
    check_png_and_svg(&w.png, &w.svg, &["90%"]);
    let tiny = evaluate(
        &Scores::new(vec![0.9, 0.4, 0.8], vec![0.1, 0.5, 0.2, 0.3]),
        &AccuracyOptions::default(),
    )
    .unwrap();
    det_plot(
        tiny.curve.as_ref().unwrap(),
        &tiny.summary,
        &dir,
        "det-tiny",
    )
    .unwrap();
    let same = score_histograms(&[0.5; 3], &[0.5; 3], &[], &dir, "scores-equal").unwrap();
    check_png_and_svg(&same.png, &same.svg, &[]);
    assert!(score_histograms(&[f64::NAN], &[], &[], &dir, "x").is_err());
    assert!(score_histograms(&[], &[], &[], &dir, "x").is_err());
}

#[test]
fn accuracy_plots_in_one_call() {
    let dir = out_dir("accuracy-one-call");
    let (g, i) = common::sface_like(4, 3_000, 30_000);
    let scores = Scores::new(g, i);
    let opts = AccuracyOptions {
        operating_threshold: Some(0.363),
        ..Default::default()
    };
    let summary = summarise(&scores, &opts).unwrap();
    let files = accuracy_plots(&scores, &summary, &dir).unwrap();
    let det = files.det.unwrap();
    assert_eq!(det.svg, dir.join("det.svg"));
    check_png_and_svg(&det.png, &det.svg, &["EER"]);
    check_png_and_svg(
        &files.scores.png,
        &files.scores.svg,
        &["operating threshold 0.363", "FMR ≤ 0.1%"],
    );
    // No genuine scores: no DET, still a histogram.
    let only_impostors = Scores::new(vec![], vec![0.1, 0.2]);
    let summary = summarise(&only_impostors, &opts).unwrap();
    let files = accuracy_plots(&only_impostors, &summary, &dir.join("impostors-only")).unwrap();
    assert!(files.det.is_none());
    check_png_and_svg(&files.scores.png, &files.scores.svg, &["impostor (n = 2)"]);
    // A threshold outside the scores still shows: the axis extends to it.
    let far = score_histograms(
        &[],
        &[0.1, 0.2],
        &[Marker::new("threshold 0.363", 0.363)],
        &dir,
        "scores-far-threshold",
    )
    .unwrap();
    check_png_and_svg(&far.png, &far.svg, &["threshold 0.363"]);
}

#[test]
fn latency_plot_per_step() {
    let dir = out_dir("latency-plots");
    let mut rng = common::Rng::new(5);
    let mut samples = BTreeMap::new();
    let ms = |v: f64| Duration::from_secs_f64(v.max(0.01) / 1e3);
    samples.insert(
        "read card/JPKI".to_string(),
        (0..500).map(|_| ms(rng.normal(42.0, 6.0))).collect(),
    );
    samples.insert(
        "read card:JPKI".to_string(),
        (0..50).map(|_| ms(rng.normal(12.0, 1.0))).collect(),
    );
    samples.insert(
        "face match".to_string(),
        (0..200).map(|_| ms(rng.normal(180.0, 25.0))).collect(),
    );
    samples.insert("never ran".to_string(), Vec::new());
    samples.insert("once".to_string(), vec![ms(3.0)]);
    samples.insert("x<y & z".to_string(), vec![ms(1.0), ms(2.0)]);
    let files = latency_histograms(&samples, &dir).unwrap();
    let names: Vec<_> = files
        .iter()
        .map(|(step, f)| (step.as_str(), f.png.file_name().unwrap().to_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("face match", "latency-face_match.png"),
            ("once", "latency-once.png"),
            ("read card/JPKI", "latency-read_card_JPKI.png"),
            ("read card:JPKI", "latency-read_card_JPKI-2.png"),
            ("x<y & z", "latency-x_y___z.png"),
        ]
    );
    // Text is escaped in the SVG.
    let svg = std::fs::read_to_string(&files[4].1.svg).unwrap();
    assert!(
        svg.contains("x&lt;y &amp; z") && !svg.contains("x<y"),
        "{svg}"
    );
    for (_, f) in &files {
        check_png_and_svg(&f.png, &f.svg, &["duration (ms)", "median", "p95"]);
    }
    no_temp_files(&dir);
}
