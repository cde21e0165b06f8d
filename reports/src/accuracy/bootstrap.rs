//! Percentile intervals from a bootstrap by subject, for every rate the summary reports: the
//! EER, FNMR at each FMR target, FMR and FNMR at the operating threshold, and their generalised
//! counterparts (generalised EER, FRR at each FAR target, FAR and FRR at the threshold).
//!
//! Comparisons of one person are correlated, so resampling comparisons one by one understates
//! the spread (and Clopper-Pearson, which assumes independent comparisons, does too). Each
//! replicate draws as many subjects as there are, uniformly with replacement; every comparison
//! of a drawn subject (genuine: its subject; impostor: the subject of its first sample) enters
//! the replicate as many times as its subject was drawn, and so does every comparison of that
//! subject that could not be made (lost). The rates of the replicate use the same definitions
//! as the point estimates ([`super::curve`]). The interval is the percentile interval of the
//! replicates (linear interpolation between order statistics). The method is named in the
//! JSON and the reports as [`METHOD`].
//!
//! Cost: the scores are sorted once; each replicate is one pass over all comparisons (the
//! weighted DET counts are built as prefix sums in that same pass, from the replicate's totals,
//! which cost one pass over the subjects), then binary searches.

use super::curve::CurveCounts;
use super::stats::Interval;
use super::{Scores, Subjects};
use common::rng::Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How the bootstrap intervals are made, as the reports name it.
pub const METHOD: &str = "subject bootstrap, percentile";

/// How many replicates, from which seed (the result is a function of the seed).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BootstrapOptions {
    /// Default 1000. Each costs one pass over all comparisons.
    pub replicates: u32,
    pub seed: u64,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        BootstrapOptions {
            replicates: 1000,
            seed: 0x6d79_6e61,
        }
    }
}

/// The bootstrap interval of FNMR at one FMR target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetInterval {
    pub target_fmr: f64,
    pub fnmr: Interval,
}

/// The bootstrap interval of the generalised FRR at one FAR target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FarTargetInterval {
    pub target_far: f64,
    pub frr: Interval,
}

/// Bootstrap intervals of FMR and FNMR at the operating threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdIntervals {
    pub threshold: f64,
    pub fmr: Interval,
    pub fnmr: Interval,
}

/// Bootstrap intervals of FAR and FRR at the operating threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GeneralisedThresholdIntervals {
    pub threshold: f64,
    pub far: Interval,
    pub frr: Interval,
}

/// Bootstrap intervals of the generalised rates (lost comparisons resampled with their
/// subjects).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GeneralisedIntervals {
    pub eer: Interval,
    pub frr_at_far: Vec<FarTargetInterval>,
    pub at_threshold: Option<GeneralisedThresholdIntervals>,
}

/// Percentile intervals by subject bootstrap.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BootstrapSummary {
    /// [`METHOD`].
    pub method: String,
    pub replicates: u32,
    /// Replicates with at least one genuine and one impostor comparison (the others are left out).
    pub used_replicates: u32,
    /// Distinct subjects resampled (of scored and of lost comparisons).
    pub subjects: u64,
    pub seed: u64,
    /// `None` if no replicate was usable.
    pub eer: Option<Interval>,
    /// One per FMR target; empty if no replicate was usable.
    pub fnmr_at_fmr: Vec<TargetInterval>,
    /// With an operating threshold and a usable replicate.
    pub at_threshold: Option<ThresholdIntervals>,
    /// With lost comparisons recorded and a usable replicate.
    pub generalised: Option<GeneralisedIntervals>,
}

/// What to resample besides the scores.
pub(super) struct Plan<'a> {
    pub subjects: &'a Subjects,
    /// The subjects of lost (genuine, impostor) comparisons; `None` when not recorded.
    pub lost: Option<(&'a [u32], &'a [u32])>,
    pub targets: &'a [f64],
    pub threshold: Option<f64>,
}

/// The value at quantile `q` of sorted `v` (linear between order statistics, like numpy).
fn quantile(v: &[f64], q: f64) -> f64 {
    let h = (v.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

fn interval(mut v: Vec<f64>, confidence: f64) -> Interval {
    v.sort_unstable_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    Interval {
        lower: quantile(&v, tail),
        upper: quantile(&v, 1.0 - tail),
    }
}

/// One replicate's values, pushed side by side so each `Vec` has one value per used replicate.
#[derive(Default)]
struct Samples {
    eer: Vec<f64>,
    fnmr: Vec<Vec<f64>>,
    fmr_at: Vec<f64>,
    fnmr_at: Vec<f64>,
    g_eer: Vec<f64>,
    frr: Vec<Vec<f64>>,
    far_at: Vec<f64>,
    frr_at: Vec<f64>,
}

pub(super) fn run(
    scores: &Scores,
    plan: &Plan<'_>,
    options: &BootstrapOptions,
    confidence: f64,
) -> BootstrapSummary {
    let subjects = plan.subjects;
    let (lost_g, lost_i): (&[u32], &[u32]) = plan.lost.unwrap_or((&[], &[]));
    // Dense subject numbers, over scored and lost comparisons alike.
    let mut dense = HashMap::new();
    for &s in subjects
        .genuine
        .iter()
        .chain(&subjects.impostor)
        .chain(lost_g)
        .chain(lost_i)
    {
        let next = dense.len() as u32;
        dense.entry(s).or_insert(next);
    }
    let n_subjects = dense.len();

    // Per subject: scored genuine, scored impostor, lost genuine, lost impostor comparisons
    // (the replicate's totals are Σ weight × these: a pass over subjects, not comparisons).
    let mut per_subject = vec![[0u64; 4]; n_subjects];
    for (ids, k) in [
        (&subjects.genuine[..], 0),
        (&subjects.impostor[..], 1),
        (lost_g, 2),
        (lost_i, 3),
    ] {
        for id in ids {
            per_subject[dense[id] as usize][k] += 1;
        }
    }

    // All comparisons sorted by score: (score, genuine?, dense subject).
    let mut items: Vec<(f64, bool, u32)> =
        Vec::with_capacity(scores.genuine.len() + scores.impostor.len());
    items.extend(
        scores
            .genuine
            .iter()
            .zip(&subjects.genuine)
            .map(|(&s, id)| (s + 0.0, true, dense[id])),
    );
    items.extend(
        scores
            .impostor
            .iter()
            .zip(&subjects.impostor)
            .map(|(&s, id)| (s + 0.0, false, dense[id])),
    );
    items.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));

    // Distinct score levels, and per comparison: level << 1 | genuine, and its subject.
    let mut thresholds: Vec<f64> = Vec::new();
    let mut level_kind: Vec<u32> = Vec::with_capacity(items.len());
    let mut subject_of: Vec<u32> = Vec::with_capacity(items.len());
    for &(s, genuine, subj) in &items {
        if thresholds.last() != Some(&s) {
            thresholds.push(s);
        }
        let level = (thresholds.len() - 1) as u32;
        level_kind.push(level << 1 | u32::from(genuine));
        subject_of.push(subj);
    }
    drop(items);
    let levels = thresholds.len();
    thresholds.push(f64::INFINITY);
    let at_index = plan
        .threshold
        .map(|t| thresholds.partition_point(|&x| x < t));

    let mut rng = Rng::new(options.seed);
    let mut weight = vec![0u64; n_subjects];
    let mut fm = vec![0u64; levels + 1];
    let mut fnm = vec![0u64; levels + 1];
    let r = options.replicates as usize;
    let mut out = Samples {
        fnmr: vec![Vec::with_capacity(r); plan.targets.len()],
        frr: vec![Vec::with_capacity(r); plan.targets.len()],
        ..Samples::default()
    };

    for _ in 0..options.replicates {
        weight.fill(0);
        for _ in 0..n_subjects {
            weight[rng.below(n_subjects as u64) as usize] += 1;
        }
        let mut totals = [0u64; 4];
        for (w, n) in weight.iter().zip(&per_subject) {
            for k in 0..4 {
                totals[k] += w * n[k];
            }
        }
        let [genuine, impostor, lost_genuine, lost_impostor] = totals;
        if genuine == 0 || impostor == 0 {
            continue;
        }
        // One pass, levels ascending: fnm[j] = genuine weight below level j, fm[j] = impostor
        // weight at or above level j (the total minus what lies below).
        let (mut g_below, mut i_below) = (0u64, 0u64);
        let mut current = u32::MAX;
        for (&lk, &subj) in level_kind.iter().zip(&subject_of) {
            let level = lk >> 1;
            if level != current {
                current = level;
                fnm[level as usize] = g_below;
                fm[level as usize] = impostor - i_below;
            }
            let w = weight[subj as usize];
            if lk & 1 == 1 {
                g_below += w;
            } else {
                i_below += w;
            }
        }
        fnm[levels] = genuine;
        fm[levels] = 0;
        let counts = CurveCounts {
            thresholds: &thresholds,
            false_matches: &fm,
            false_non_matches: &fnm,
            genuine,
            impostor,
            lost_genuine: 0,
            lost_impostor: 0,
        };
        out.eer.push(counts.eer().eer);
        for (t, v) in plan.targets.iter().zip(&mut out.fnmr) {
            v.push(counts.fnmr(counts.index_at_fmr(*t)));
        }
        if let Some(j) = at_index {
            out.fmr_at.push(counts.fmr(j));
            out.fnmr_at.push(counts.fnmr(j));
        }
        if plan.lost.is_some() {
            let g = CurveCounts {
                lost_genuine,
                lost_impostor,
                ..counts
            };
            out.g_eer.push(g.eer().eer);
            for (t, v) in plan.targets.iter().zip(&mut out.frr) {
                let j = g.index_at_fmr(*t);
                v.push(g.fnmr(j));
            }
            if let Some(j) = at_index {
                out.far_at.push(g.fmr(j));
                out.frr_at.push(g.fnmr(j));
            }
        }
    }

    let used = out.eer.len() as u32;
    let ci = |v: Vec<f64>| interval(v, confidence);
    let usable = used > 0;
    let threshold = plan.threshold.filter(|_| usable);
    let generalised = (usable && plan.lost.is_some()).then(|| GeneralisedIntervals {
        eer: ci(out.g_eer),
        frr_at_far: plan
            .targets
            .iter()
            .zip(out.frr)
            .map(|(&target_far, v)| FarTargetInterval {
                target_far,
                frr: ci(v),
            })
            .collect(),
        at_threshold: threshold.map(|threshold| GeneralisedThresholdIntervals {
            threshold,
            far: ci(out.far_at),
            frr: ci(out.frr_at),
        }),
    });
    BootstrapSummary {
        method: METHOD.into(),
        replicates: options.replicates,
        used_replicates: used,
        subjects: n_subjects as u64,
        seed: options.seed,
        eer: usable.then(|| ci(out.eer)),
        fnmr_at_fmr: if usable {
            plan.targets
                .iter()
                .zip(out.fnmr)
                .map(|(&target_fmr, v)| TargetInterval {
                    target_fmr,
                    fnmr: ci(v),
                })
                .collect()
        } else {
            Vec::new()
        },
        at_threshold: threshold.map(|threshold| ThresholdIntervals {
            threshold,
            fmr: ci(out.fmr_at),
            fnmr: ci(out.fnmr_at),
        }),
        generalised,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{summarise, AccuracyOptions, Lost};
    use super::*;

    fn scores_with_subjects() -> Scores {
        // 40 subjects, 3 genuine each, impostors against the next subjects.
        let mut rng = Rng::new(7);
        let mut u = || rng.next_f64();
        let mut s = Scores::default();
        let mut subj = Subjects::default();
        for id in 0..40u32 {
            for _ in 0..3 {
                s.genuine.push(0.5 + 0.4 * u());
                subj.genuine.push(id * 10);
            }
            for _ in 0..30 {
                s.impostor.push(0.6 * u());
                subj.impostor.push(id * 10);
            }
        }
        s.subjects = Some(subj);
        s
    }

    #[test]
    fn bootstrap_is_seeded_and_brackets_the_estimate() {
        let s = scores_with_subjects();
        let opts = AccuracyOptions {
            fmr_targets: vec![1e-2],
            bootstrap: Some(BootstrapOptions {
                replicates: 300,
                seed: 1,
            }),
            ..Default::default()
        };
        let a = summarise(&s, &opts).unwrap();
        let b = summarise(&s, &opts).unwrap();
        assert_eq!(a, b);
        let boot = a.bootstrap.as_ref().unwrap();
        assert_eq!(boot.subjects, 40);
        assert_eq!(boot.used_replicates, 300);
        let eer = a.eer.unwrap().eer;
        let i = boot.eer.unwrap();
        assert!(i.lower <= eer && eer <= i.upper, "{i:?} vs {eer}");
        let f = &boot.fnmr_at_fmr[0];
        let point = a.fnmr_at_fmr[0].fnmr.rate;
        assert!(
            f.fnmr.lower <= point && point <= f.fnmr.upper,
            "{f:?} {point}"
        );
    }

    #[test]
    fn replicate_with_all_weights_one_is_the_point_estimate() {
        // Weighted counts with unit weights must reproduce the curve: check through a bootstrap
        // with one subject (every replicate draws it once), lost comparisons included.
        let mut s = Scores::new(vec![0.9, 0.8, 0.35, 0.5], vec![0.1, 0.2, 0.4, 0.45, 0.3]);
        s.subjects = Some(Subjects {
            genuine: vec![5; 4],
            impostor: vec![5; 5],
        });
        s.lost = Some(Lost {
            genuine_subjects: vec![5; 2],
            impostor_subjects: vec![5],
        });
        let opts = AccuracyOptions {
            fmr_targets: vec![0.3],
            operating_threshold: Some(0.42),
            bootstrap: Some(BootstrapOptions {
                replicates: 3,
                seed: 0,
            }),
            ..Default::default()
        };
        let sum = summarise(&s, &opts).unwrap();
        let boot = sum.bootstrap.unwrap();
        let point = |v: f64| Interval { lower: v, upper: v };
        assert_eq!(boot.eer.unwrap(), point(sum.eer.unwrap().eer));
        assert_eq!(
            boot.fnmr_at_fmr[0].fnmr,
            point(sum.fnmr_at_fmr[0].fnmr.rate)
        );
        let op = sum.at_threshold.unwrap();
        let bt = boot.at_threshold.unwrap();
        assert_eq!((bt.fmr, bt.fnmr), (point(op.fmr.rate), point(op.fnmr.rate)));
        let g = sum.generalised.unwrap();
        let bg = boot.generalised.unwrap();
        assert_eq!(bg.eer, point(g.eer.eer));
        assert_eq!(bg.frr_at_far[0].frr, point(g.frr_at_far[0].frr.rate));
        let gt = g.at_threshold.unwrap();
        let bgt = bg.at_threshold.unwrap();
        assert_eq!((bgt.far, bgt.frr), (point(gt.far.rate), point(gt.frr.rate)));
        assert_eq!(boot.method, "subject bootstrap, percentile");
    }

    #[test]
    fn bootstrap_resamples_lost_comparisons_with_their_subjects() {
        // The lost genuine comparisons all belong to subjects 0..4 (of 40): the generalised FRR
        // then varies with how often those subjects are drawn, beyond the per-comparison FNMR.
        let mut s = scores_with_subjects();
        s.lost = Some(Lost {
            genuine_subjects: (0..5).flat_map(|id| [id * 10; 4]).collect(),
            // A subject with lost comparisons only still counts as a subject.
            impostor_subjects: vec![999; 10],
        });
        let opts = AccuracyOptions {
            fmr_targets: vec![1e-2],
            operating_threshold: Some(0.55),
            bootstrap: Some(BootstrapOptions {
                replicates: 400,
                seed: 3,
            }),
            ..Default::default()
        };
        let a = summarise(&s, &opts).unwrap();
        assert_eq!(a, summarise(&s, &opts).unwrap(), "deterministic per seed");
        let boot = a.bootstrap.as_ref().unwrap();
        assert_eq!(boot.subjects, 41);
        assert_eq!(boot.used_replicates, 400);
        let g = a.generalised.as_ref().unwrap();
        let bg = boot.generalised.as_ref().unwrap();
        let frr = g.at_threshold.as_ref().unwrap().frr.rate;
        let i = bg.at_threshold.as_ref().unwrap().frr;
        assert!(i.lower <= frr && frr <= i.upper, "{i:?} vs {frr}");
        let fnmr_i = boot.at_threshold.as_ref().unwrap().fnmr;
        // 20 lost of 140 genuine: the FRR interval sits well above the FNMR one.
        assert!(
            i.lower > fnmr_i.lower && i.upper > fnmr_i.upper,
            "{i:?} {fnmr_i:?}"
        );
        let e = g.eer.eer;
        assert!(
            bg.eer.lower <= e && e <= bg.eer.upper,
            "{:?} vs {e}",
            bg.eer
        );
        // Without the lost comparisons the replicate draws are the same; with them the
        // generalised intervals differ from the per-comparison ones.
        let mut plain = s.clone();
        plain.lost = None;
        let p = summarise(&plain, &opts).unwrap();
        let pb = p.bootstrap.unwrap();
        assert!(pb.generalised.is_none());
        assert_ne!(pb.at_threshold.as_ref().unwrap().fnmr, i);
        // Another seed, other intervals.
        let other = AccuracyOptions {
            bootstrap: Some(BootstrapOptions {
                replicates: 400,
                seed: 4,
            }),
            ..opts
        };
        let b = summarise(&s, &other).unwrap();
        assert_ne!(b.bootstrap.unwrap().generalised.unwrap().eer, bg.eer);
    }

    #[test]
    fn bootstrap_without_subjects_warns() {
        let s = Scores::new(vec![0.9], vec![0.1]);
        let opts = AccuracyOptions {
            bootstrap: Some(BootstrapOptions::default()),
            ..Default::default()
        };
        let sum = summarise(&s, &opts).unwrap();
        assert!(sum.bootstrap.is_none());
        assert!(sum.has_warning(super::super::WarningCode::BootstrapWithoutSubjects));
    }
}
