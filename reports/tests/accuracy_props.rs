//! Property tests of the accuracy metrics against brute force on small random score sets.

mod common;

use proptest::prelude::*;
use reports::accuracy::{
    clopper_pearson, read_raw_scores_from, write_raw_scores_to, ComparisonKind, DetCurve,
    ScoreRecord,
};

/// Scores on a coarse grid (many ties, across kinds too) or continuous.
fn score_set(max_len: usize) -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        prop::collection::vec(
            (0i32..20).prop_map(|v| f64::from(v) / 10.0 - 1.0),
            1..max_len
        ),
        prop::collection::vec(-1.0f64..1.0, 1..max_len),
    ]
}

fn brute_errors(gen: &[f64], imp: &[f64], t: f64) -> (u64, u64) {
    (
        imp.iter().filter(|&&s| s >= t).count() as u64,
        gen.iter().filter(|&&s| s < t).count() as u64,
    )
}

/// Binomial P(X ≤ x) for small n, by direct summation in logs.
fn binom_cdf(x: u64, n: u64, p: f64) -> f64 {
    let ln_choose = |k: u64| -> f64 {
        (1..=k)
            .map(|i| ((n - k + i) as f64).ln() - (i as f64).ln())
            .sum()
    };
    (0..=x)
        .map(|k| (ln_choose(k) + k as f64 * p.ln() + (n - k) as f64 * (-p).ln_1p()).exp())
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn rates_are_monotone_and_span_zero_to_one(gen in score_set(60), imp in score_set(60)) {
        let c = DetCurve::new(&gen, &imp).unwrap();
        let pts: Vec<_> = c.points().collect();
        prop_assert_eq!((pts[0].fmr, pts[0].fnmr), (1.0, 0.0));
        let last = pts[pts.len() - 1];
        prop_assert_eq!((last.fmr, last.fnmr), (0.0, 1.0));
        for w in pts.windows(2) {
            prop_assert!(w[0].threshold < w[1].threshold);
            prop_assert!(w[1].fmr <= w[0].fmr, "FMR rose: {:?}", w);
            prop_assert!(w[1].fnmr >= w[0].fnmr, "FNMR fell: {:?}", w);
        }
    }

    #[test]
    fn errors_at_any_threshold_match_brute_force(
        gen in score_set(40), imp in score_set(40), t in -1.2f64..1.2,
    ) {
        let c = DetCurve::new(&gen, &imp).unwrap();
        prop_assert_eq!(c.errors_at(t), brute_errors(&gen, &imp, t));
        for p in c.points().filter(|p| p.threshold.is_finite()) {
            let (fm, fnm) = brute_errors(&gen, &imp, p.threshold);
            prop_assert_eq!(p.fmr, fm as f64 / imp.len() as f64);
            prop_assert_eq!(p.fnmr, fnm as f64 / gen.len() as f64);
        }
    }

    #[test]
    fn eer_lies_between_the_rates_at_the_crossing(gen in score_set(60), imp in score_set(60)) {
        let c = DetCurve::new(&gen, &imp).unwrap();
        let e = c.eer();
        prop_assert!(e.low <= e.eer && e.eer <= e.high);
        prop_assert_eq!(e.low, e.fmr.min(e.fnmr));
        // The crossing, by brute force: the last threshold with FMR > FNMR and the next one.
        let pts: Vec<_> = c.points().collect();
        let j2 = pts.iter().position(|p| p.fmr <= p.fnmr).unwrap();
        let bracket = if j2 == 0 { &pts[0..1] } else { &pts[j2 - 1..=j2] };
        let lo = bracket.iter().map(|p| p.fmr.min(p.fnmr)).fold(f64::INFINITY, f64::min);
        let hi = bracket.iter().map(|p| p.fmr.max(p.fnmr)).fold(0.0, f64::max);
        prop_assert!(lo <= e.eer && e.eer <= hi, "EER {} outside [{lo}, {hi}]", e.eer);
        // And it is taken at one of the bracketing thresholds.
        let t = e.threshold.unwrap_or(f64::INFINITY);
        prop_assert!(bracket.iter().any(|p| p.threshold == t));
    }

    #[test]
    fn nist_threshold_is_the_smallest_with_fmr_at_most_target(
        gen in score_set(50),
        imp in score_set(400),
        target in prop_oneof![Just(1e-2), Just(1e-3), 0.001f64..0.6],
    ) {
        let c = DetCurve::new(&gen, &imp).unwrap();
        let op = c.fnmr_at_fmr(target, 0.95);
        let (fm, fnm) = brute_errors(&gen, &imp, op.threshold);
        prop_assert_eq!((op.fmr.count, op.fnmr.count), (fm, fnm));
        prop_assert!(op.fmr.rate <= target);
        // Any threshold at or below the boundary score has FMR above the target.
        let (fm_at_boundary, _) = brute_errors(&gen, &imp, op.boundary_score);
        prop_assert!(fm_at_boundary as f64 / imp.len() as f64 > target);
        prop_assert!(imp.contains(&op.boundary_score));
        prop_assert_eq!(fnm, gen.iter().filter(|&&s| s <= op.boundary_score).count() as u64);
    }

    #[test]
    fn clopper_pearson_bounds_are_the_binomial_tail_quantiles(n in 1u64..150, frac in 0.0f64..=1.0) {
        let x = ((n as f64) * frac).round() as u64;
        let i = clopper_pearson(x, n, 0.95);
        let rate = x as f64 / n as f64;
        prop_assert!(i.lower <= rate && rate <= i.upper);
        if x < n {
            // P(X ≤ x; upper) = 2.5%
            prop_assert!((binom_cdf(x, n, i.upper) - 0.025).abs() < 1e-9, "{:?}", i);
        }
        if x > 0 {
            // P(X ≥ x; lower) = 2.5%
            prop_assert!((1.0 - binom_cdf(x - 1, n, i.lower) - 0.025).abs() < 1e-9, "{:?}", i);
        }
        if x < n {
            let next = clopper_pearson(x + 1, n, 0.95);
            prop_assert!(next.lower >= i.lower && next.upper >= i.upper);
        }
    }

    #[test]
    fn raw_scores_round_trip(
        rows in prop::collection::vec(
            ("[a-zA-Z ,\"é_-]{1,8}", "[a-z0-9/.]{0,6}", "[a-z0-9/.]{0,6}", -1.0e3f64..1.0e3, any::<bool>()),
            0..20,
        )
    ) {
        let records: Vec<ScoreRecord> = rows
            .into_iter()
            .map(|(subject, img_a, img_b, score, genuine)| ScoreRecord {
                kind: if genuine { ComparisonKind::Genuine } else { ComparisonKind::Impostor },
                subject_b: if genuine { subject.clone() } else { format!("{subject}-other") },
                subject_a: subject,
                image_a: img_a,
                image_b: img_b,
                score,
            })
            .collect();
        let mut buf = Vec::new();
        write_raw_scores_to(&mut buf, &records).unwrap();
        prop_assert_eq!(read_raw_scores_from(&buf[..]).unwrap(), records);
    }
}

#[test]
fn seeded_generator_is_stable() {
    // The pyeer test and the bench rely on these being the same everywhere.
    let mut rng = common::Rng::new(1);
    let first = rng.next_u64();
    assert_eq!(first, 0x910a_2dec_8902_5cc1);
}
