//! Percentile intervals for the EER and FNMR@FMR from a bootstrap by subject.
//!
//! Comparisons of one person are correlated, so resampling comparisons one by one understates
//! the spread. Each replicate draws as many subjects as there are, uniformly with replacement;
//! every comparison of a drawn subject (genuine: its subject; impostor: its probe subject) enters
//! the replicate as many times as its subject was drawn. The EER and FNMR@FMR of the replicate
//! use the same definitions as the point estimates ([`super::curve`]). The interval is the
//! percentile interval of the replicates (linear interpolation between order statistics).
//!
//! Cost: the scores are sorted once; each replicate is one pass over all comparisons.

use super::curve::CurveCounts;
use super::stats::Interval;
use super::{Scores, Subjects};
use common::rng::Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

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

/// Percentile intervals by subject bootstrap.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BootstrapSummary {
    pub replicates: u32,
    /// Replicates with at least one genuine and one impostor comparison (the others are left out).
    pub used_replicates: u32,
    pub subjects: u64,
    pub seed: u64,
    /// `None` if no replicate was usable.
    pub eer: Option<Interval>,
    /// One per FMR target; empty if no replicate was usable.
    pub fnmr_at_fmr: Vec<TargetInterval>,
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

pub(super) fn run(
    scores: &Scores,
    subjects: &Subjects,
    targets: &[f64],
    options: &BootstrapOptions,
    confidence: f64,
) -> BootstrapSummary {
    // Dense subject numbers.
    let mut dense = HashMap::new();
    for &s in subjects.genuine.iter().chain(&subjects.impostor) {
        let next = dense.len() as u32;
        dense.entry(s).or_insert(next);
    }
    let n_subjects = dense.len();

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

    let mut rng = Rng::new(options.seed);
    let mut weight = vec![0u64; n_subjects];
    let mut gen_at = vec![0u64; levels];
    let mut imp_at = vec![0u64; levels];
    let mut fm = vec![0u64; levels + 1];
    let mut fnm = vec![0u64; levels + 1];
    let mut eers = Vec::with_capacity(options.replicates as usize);
    let mut fnmrs: Vec<Vec<f64>> =
        vec![Vec::with_capacity(options.replicates as usize); targets.len()];

    for _ in 0..options.replicates {
        weight.fill(0);
        for _ in 0..n_subjects {
            weight[rng.below(n_subjects as u64) as usize] += 1;
        }
        gen_at.fill(0);
        imp_at.fill(0);
        for (&lk, &subj) in level_kind.iter().zip(&subject_of) {
            let w = weight[subj as usize];
            let level = (lk >> 1) as usize;
            if lk & 1 == 1 {
                gen_at[level] += w;
            } else {
                imp_at[level] += w;
            }
        }
        let genuine: u64 = gen_at.iter().sum();
        let impostor: u64 = imp_at.iter().sum();
        if genuine == 0 || impostor == 0 {
            continue;
        }
        // fnm[j] = genuine weight below level j; fm[j] = impostor weight at or above level j.
        let (mut below, mut at_or_above) = (0u64, impostor);
        for j in 0..levels {
            fnm[j] = below;
            fm[j] = at_or_above;
            below += gen_at[j];
            at_or_above -= imp_at[j];
        }
        fnm[levels] = genuine;
        fm[levels] = 0;
        let counts = CurveCounts {
            thresholds: &thresholds,
            false_matches: &fm,
            false_non_matches: &fnm,
            genuine,
            impostor,
        };
        eers.push(counts.eer().eer);
        for (t, out) in targets.iter().zip(&mut fnmrs) {
            let j = counts.index_at_fmr(*t);
            out.push(fnm[j] as f64 / genuine as f64);
        }
    }

    let used = eers.len() as u32;
    BootstrapSummary {
        replicates: options.replicates,
        used_replicates: used,
        subjects: n_subjects as u64,
        seed: options.seed,
        eer: (used > 0).then(|| interval(eers, confidence)),
        fnmr_at_fmr: if used > 0 {
            targets
                .iter()
                .zip(fnmrs)
                .map(|(&target_fmr, v)| TargetInterval {
                    target_fmr,
                    fnmr: interval(v, confidence),
                })
                .collect()
        } else {
            Vec::new()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::{summarise, AccuracyOptions};
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
        // with one subject (every replicate draws it once).
        let mut s = Scores::new(vec![0.9, 0.8, 0.35, 0.5], vec![0.1, 0.2, 0.4, 0.45, 0.3]);
        s.subjects = Some(Subjects {
            genuine: vec![5; 4],
            impostor: vec![5; 5],
        });
        let opts = AccuracyOptions {
            fmr_targets: vec![0.3],
            bootstrap: Some(BootstrapOptions {
                replicates: 3,
                seed: 0,
            }),
            ..Default::default()
        };
        let sum = summarise(&s, &opts).unwrap();
        let boot = sum.bootstrap.unwrap();
        let eer = sum.eer.unwrap().eer;
        assert_eq!(
            boot.eer.unwrap(),
            Interval {
                lower: eer,
                upper: eer
            }
        );
        let f = sum.fnmr_at_fmr[0].fnmr.rate;
        assert_eq!(boot.fnmr_at_fmr[0].fnmr, Interval { lower: f, upper: f });
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
        assert!(sum.warnings.iter().any(|w| w.contains("subject ids")));
    }
}
