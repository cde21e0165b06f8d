//! The evidence arithmetic of a device campaign, on decisions (an accept or a reject per
//! transaction, never a score): one-sided upper confidence bounds (Clopper-Pearson), the
//! fewest transactions that can support a claim when none fails (the zero-failure bound),
//! and a bootstrap by subject of a rate of 0/1 decisions. Pure functions.

use common::rng::Rng;
use reports::accuracy::{clopper_pearson, zero_upper_bound, Interval};

/// The one-sided upper confidence bound at `confidence` (in (0.5, 1)) of a rate observed as
/// `events` in `trials` (exact, Clopper-Pearson): the upper end of the two-sided interval
/// at `2 × confidence − 1`. `trials` must be above 0.
pub fn upper_bound(events: u64, trials: u64, confidence: f64) -> f64 {
    match events {
        0 => zero_upper_bound(trials, confidence),
        e if e >= trials => 1.0,
        e => clopper_pearson(e, trials, 2.0 * confidence - 1.0).upper,
    }
}

/// The one-sided lower confidence bound at `confidence`, the mirror of [`upper_bound`].
pub fn lower_bound(events: u64, trials: u64, confidence: f64) -> f64 {
    match events {
        0 => 0.0,
        e if e >= trials => 1.0 - zero_upper_bound(trials, confidence),
        e => clopper_pearson(e, trials, 2.0 * confidence - 1.0).lower,
    }
}

/// The fewest transactions that can support "rate ≤ `max`" at `confidence` when none of
/// them fails: the smallest n with 1 − (1 − confidence)^(1/n) ≤ max, i.e.
/// n = ⌈ln(1 − confidence) / ln(1 − max)⌉ (≈ 3 / max at 95 %: the rule of 3).
pub fn zero_failure_minimum(max: f64, confidence: f64) -> u64 {
    if max >= 1.0 {
        return 1;
    }
    let estimate = ((1.0 - confidence).ln() / (-max).ln_1p()).ceil();
    let mut n = if estimate.is_finite() && estimate >= 1.0 {
        estimate as u64
    } else {
        1
    };
    // The closed form can be one off in floating point: settle on the exact smallest.
    while n > 1 && zero_upper_bound(n - 1, confidence) <= max {
        n -= 1;
    }
    while zero_upper_bound(n, confidence) > max {
        n += 1;
    }
    n
}

/// The decisions of one subject for one rate: how many counted (a false accept, a false
/// reject) of how many transactions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub events: u64,
    pub trials: u64,
}

/// What a bootstrap by subject gives one rate.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct BootstrapBounds {
    /// Two-sided percentile interval at the report's confidence.
    pub interval: Interval,
    /// One-sided upper percentile bound at the policy's confidence.
    pub upper: f64,
    pub replicates: u32,
    pub subjects: u64,
}

/// The value at quantile `q` of sorted `v`, linear between order statistics (as the
/// score bootstrap of `reports` and numpy).
fn quantile(v: &[f64], q: f64) -> f64 {
    let h = (v.len() - 1) as f64 * q;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

/// A bootstrap by subject of the rate Σ events / Σ trials: each of `replicates` replicates
/// draws as many subjects as there are (those with at least one transaction), uniformly
/// with replacement, seeded; a subject drawn k times counts k times. Transactions of one
/// person are correlated, which resampling transactions one by one (or Clopper-Pearson)
/// ignores. `None` without subjects or replicates.
pub fn subject_bootstrap(
    subjects: &[Tally],
    replicates: u32,
    seed: u64,
    two_sided: f64,
    one_sided: f64,
) -> Option<BootstrapBounds> {
    let subjects: Vec<Tally> = subjects.iter().copied().filter(|t| t.trials > 0).collect();
    if subjects.is_empty() || replicates == 0 {
        return None;
    }
    let mut rng = Rng::new(seed);
    let n = subjects.len() as u64;
    let mut rates: Vec<f64> = (0..replicates)
        .map(|_| {
            let (mut events, mut trials) = (0u64, 0u64);
            for _ in 0..n {
                let t = subjects[rng.below(n) as usize];
                events += t.events;
                trials += t.trials;
            }
            events as f64 / trials as f64
        })
        .collect();
    rates.sort_unstable_by(f64::total_cmp);
    let tail = (1.0 - two_sided) / 2.0;
    Some(BootstrapBounds {
        interval: Interval {
            lower: quantile(&rates, tail),
            upper: quantile(&rates, 1.0 - tail),
        },
        upper: quantile(&rates, one_sided),
        replicates,
        subjects: n,
    })
}

/// The median and the 95th percentile of `values` (linear between order statistics);
/// `None` when there are none.
pub fn median_p95(values: &[f64]) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_unstable_by(f64::total_cmp);
    Some((quantile(&v, 0.5), quantile(&v, 0.95)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_fido_minimums_follow_from_the_zero_failure_bound_at_80_percent() {
        // ln(0.2) / ln(1 − p), rounded up.
        assert_eq!(zero_failure_minimum(0.03, 0.8), 53);
        assert_eq!(zero_failure_minimum(0.0001, 0.8), 16_094);
        assert_eq!(zero_failure_minimum(0.07, 0.8), 23);
        // The rule of 3 at 95 %: 3 / p, give or take the rounding.
        assert_eq!(zero_failure_minimum(0.01, 0.95), 299);
        assert_eq!(zero_failure_minimum(1.0, 0.8), 1);
        for (p, c) in [(0.03, 0.8), (1e-4, 0.8), (0.07, 0.8), (0.2, 0.9)] {
            let n = zero_failure_minimum(p, c);
            assert!(zero_upper_bound(n, c) <= p && zero_upper_bound(n - 1, c) > p);
        }
    }

    #[test]
    fn one_sided_bounds_match_the_closed_forms() {
        // 0 of 53 at 80 %: 1 − 0.2^(1/53).
        let u = upper_bound(0, 53, 0.8);
        assert!((u - (1.0 - 0.2f64.powf(1.0 / 53.0))).abs() < 1e-12, "{u}");
        assert_eq!(upper_bound(5, 5, 0.8), 1.0);
        assert_eq!(lower_bound(0, 5, 0.8), 0.0);
        // 1 of 10: between the rate and 1, and the lower bound below the rate.
        let (lo, hi) = (lower_bound(1, 10, 0.8), upper_bound(1, 10, 0.8));
        assert!(lo < 0.1 && hi > 0.1 && hi < 1.0, "{lo} {hi}");
        // The 80 % one-sided bound is the 60 % two-sided interval's end.
        assert_eq!(hi, clopper_pearson(1, 10, 0.6).upper);
    }

    #[test]
    fn the_bootstrap_is_seeded_and_degenerate_when_every_subject_agrees() {
        let same = [Tally {
            events: 1,
            trials: 4,
        }; 5];
        let b = subject_bootstrap(&same, 200, 7, 0.95, 0.8).unwrap();
        assert_eq!(
            (b.interval.lower, b.interval.upper, b.upper),
            (0.25, 0.25, 0.25)
        );
        let mixed = [
            Tally {
                events: 0,
                trials: 5,
            },
            Tally {
                events: 2,
                trials: 5,
            },
            Tally {
                events: 5,
                trials: 5,
            },
        ];
        let a = subject_bootstrap(&mixed, 300, 1, 0.95, 0.8).unwrap();
        assert_eq!(a, subject_bootstrap(&mixed, 300, 1, 0.95, 0.8).unwrap());
        assert!(a.interval.lower < a.upper && a.upper <= a.interval.upper);
        assert_eq!(a.subjects, 3);
        assert!(subject_bootstrap(&[], 100, 1, 0.95, 0.8).is_none());
        assert!(subject_bootstrap(&mixed, 0, 1, 0.95, 0.8).is_none());
    }

    #[test]
    fn median_and_p95() {
        assert_eq!(median_p95(&[]), None);
        assert_eq!(median_p95(&[3.0, 1.0, 2.0]), Some((2.0, 2.9)));
    }

    proptest! {
        /// A ratio of sums lies between the smallest and the largest ratio of its parts:
        /// every replicate, and so the interval, stays within the subjects' own rates.
        #[test]
        fn the_bootstrap_stays_within_the_subjects_rates(
            tallies in proptest::collection::vec((0u64..6, 1u64..6), 1..12),
            seed in 0u64..1000,
        ) {
            let subjects: Vec<Tally> = tallies
                .iter()
                .map(|&(e, t)| Tally { events: e.min(t), trials: t })
                .collect();
            let rates: Vec<f64> =
                subjects.iter().map(|t| t.events as f64 / t.trials as f64).collect();
            let lo = rates.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = rates.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let b = subject_bootstrap(&subjects, 50, seed, 0.95, 0.8).unwrap();
            prop_assert!(lo - 1e-12 <= b.interval.lower);
            prop_assert!(b.interval.lower <= b.upper + 1e-12);
            prop_assert!(b.upper <= b.interval.upper + 1e-12);
            prop_assert!(b.interval.upper <= hi + 1e-12);
        }

        /// More failures never lower the upper bound; more clean trials never raise it.
        #[test]
        fn the_upper_bound_is_monotone(events in 0u64..50, trials in 1u64..200) {
            let e = events.min(trials);
            let u = upper_bound(e, trials, 0.8);
            prop_assert!(lower_bound(e, trials, 0.8) <= e as f64 / trials as f64 + 1e-12);
            prop_assert!(u + 1e-12 >= e as f64 / trials as f64);
            if e < trials {
                prop_assert!(upper_bound(e + 1, trials, 0.8) >= u);
            }
            prop_assert!(upper_bound(e, trials + 1, 0.8) <= u + 1e-12);
        }
    }
}
