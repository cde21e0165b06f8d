//! FMR(t) and FNMR(t) at every threshold, exactly, from sorted scores; the EER and the FNMR at
//! fixed FMR points.
//!
//! # Decision rule and rates
//!
//! Scores are similarities (higher = more alike). A comparison is accepted as a match when
//! `score >= t`. So
//!
//! - FMR(t)  = #{impostor scores ≥ t} / #impostor comparisons,
//! - FNMR(t) = #{genuine scores  < t} / #genuine comparisons.
//!
//! FMR is non-increasing and FNMR non-decreasing in t, and both are constant between observed
//! scores, so the whole curve is given by the thresholds t₀ < t₁ < … < t_m: every distinct
//! observed score (genuine or impostor), followed by t = +∞ (reject everything: FMR 0, FNMR 1).
//! t₀ (the lowest score) accepts everything: FMR 1, FNMR 0. Building it costs one sort of each
//! score set and one merge: O(n log n), no threshold grid.
//!
//! # EER (the FVC2000 definition, as pyeer 0.5.6 implements it)
//!
//! Let j₂ be the first threshold index with FMR(t_j) − FNMR(t_j) ≤ 0 (it exists: at +∞ the
//! difference is −1). Let j₁ = j₂ − 1, unless the difference at j₂ is exactly 0 (or j₂ = 0), in
//! which case j₁ = j₂: the sign of FMR − FNMR changes between t_{j₁} and t_{j₂}. Of these two
//! thresholds take the one with the smaller FMR + FNMR (t_{j₁} on a tie); the EER is the mean of
//! its FMR and FNMR, and [min, max] of the two rates there is the EER interval
//! (EER_low, EER_high) of Maio et al., "FVC2000: Fingerprint verification competition", IEEE
//! TPAMI 24(3), 2002. This is exactly `pyeer.eer_stats.get_eer_values` applied to
//! `pyeer.eer_stats.calculate_roc` (same thresholds, same accept rule `score >= t`, same floating
//! point operations), with one difference: pyeer has no +∞ threshold, so when its curves never
//! cross inside the observed scores (for instance, all scores equal) it warns and returns an EER
//! of 1, where this module finds the crossing at +∞ (all-equal scores give EER 0.5).
//!
//! # FNMR at a fixed FMR (NIST FRTE style)
//!
//! For a target α the threshold comes from the impostor scores alone: the smallest threshold
//! with FMR(t) ≤ α. With k the largest count such that k / #impostor ≤ α, and b the (k+1)-th
//! highest impostor score (ties counted), FMR(t) ≤ α exactly when t > b, so the threshold is the
//! next `f64` above b, and
//!
//! - achieved FMR = #{impostor > b} / #impostor (≤ α),
//! - FNMR = #{genuine ≤ b} / #genuine.
//!
//! pyeer reports a different operating point ("FMR100", "FMR1000"): the FNMR at the observed
//! threshold whose FMR is *closest* to α (first such threshold on ties), which may have an FMR
//! above α. [`DetCurve::fnmr_at_fmr_nearest`] implements that one, for the comparison with pyeer
//! only; the summary reports the NIST one.
//!
//! # Generalised rates (ISO/IEC 19795-1: FAR and FRR)
//!
//! FMR and FNMR count only the comparisons that were made. A pair whose sample failed to enrol
//! or to acquire gives no score; the transaction still happened. [`GeneralisedCurve`] counts
//! such a *lost* comparison as a false rejection at every threshold when it is genuine, and as a
//! correct rejection at every threshold when it is an impostor. With L_g and L_i lost:
//!
//! - FAR(t) = #{impostor scores ≥ t} / (#impostor + L_i),
//! - FRR(t) = (#{genuine scores < t} + L_g) / (#genuine + L_g).
//!
//! This is the standard's FAR = FMR·(1 − FTA) and FRR = FTA + FNMR·(1 − FTA) for one attempt
//! per transaction, counted comparison by comparison. The generalised EER, FRR at a FAR target
//! and the rates at a threshold use the same definitions as above on these rates (thresholds
//! still the observed scores and +∞). One difference: when so many impostor comparisons were
//! lost that accepting every scored impostor keeps FAR within the target, the FAR-target
//! threshold is the lowest score (no impostor score needs rejecting: no boundary).

use super::stats::Proportion;
use super::AccuracyError;
use serde::{Deserialize, Serialize};

/// The equal error rate and where it was taken.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Eer {
    /// (FMR + FNMR) / 2 at the chosen threshold.
    pub eer: f64,
    /// min(FMR, FNMR) at that threshold.
    pub low: f64,
    /// max(FMR, FNMR) at that threshold.
    pub high: f64,
    /// The threshold (accept `score >= threshold`); `None` is "above every score" (reject all).
    pub threshold: Option<f64>,
    pub fmr: f64,
    pub fnmr: f64,
}

/// FNMR at the smallest threshold whose FMR is at most `target_fmr` (NIST FRTE style).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FnmrAtFmr {
    pub target_fmr: f64,
    /// Accept `score >= threshold`: the next `f64` above `boundary_score`.
    pub threshold: f64,
    /// The highest impostor score that must be rejected to keep FMR ≤ target (the (k+1)-th
    /// highest impostor score); the decision is `score > boundary_score`.
    pub boundary_score: f64,
    /// The FMR achieved at the threshold (≤ target), with its interval.
    pub fmr: Proportion,
    /// The FNMR at the threshold, with its interval.
    pub fnmr: Proportion,
    /// Impostor comparisons needed to support FMR ≤ target at 95% by the rule of 3 (3 / target).
    pub impostors_needed: u64,
    /// Whether there were at least `impostors_needed` impostor comparisons.
    pub enough_impostors: bool,
}

/// FMR and FNMR at one given threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OperatingPoint {
    pub threshold: f64,
    pub fmr: Proportion,
    pub fnmr: Proportion,
}

/// The generalised EER: the EER definition applied to FAR and FRR.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GeneralisedEer {
    /// (FAR + FRR) / 2 at the chosen threshold.
    pub eer: f64,
    pub low: f64,
    pub high: f64,
    /// Accept `score >= threshold`; `None` is "above every score".
    pub threshold: Option<f64>,
    pub far: f64,
    pub frr: f64,
}

/// FRR at the smallest threshold whose FAR is at most `target_far`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrrAtFar {
    pub target_far: f64,
    /// Accept `score >= threshold`; `None` only when no comparison was scored.
    pub threshold: Option<f64>,
    /// The highest impostor score rejected to keep FAR ≤ target; `None` when every scored
    /// impostor may be accepted (so many impostor comparisons were lost).
    pub boundary_score: Option<f64>,
    pub far: Proportion,
    pub frr: Proportion,
    /// Impostor transactions (scored + lost) needed by the rule of 3 for this target.
    pub impostors_needed: u64,
    pub enough_impostors: bool,
}

/// FAR and FRR at one given threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GeneralisedPoint {
    pub threshold: f64,
    pub far: Proportion,
    pub frr: Proportion,
}

/// FAR(t) and FRR(t): a [`DetCurve`] with the lost comparisons counted (see the module docs).
#[derive(Clone, Copy)]
pub struct GeneralisedCurve<'a> {
    counts: CurveCounts<'a>,
}

impl GeneralisedCurve<'_> {
    pub fn len(&self) -> usize {
        self.counts.thresholds.len()
    }

    /// Never true (there is always the +∞ point).
    pub fn is_empty(&self) -> bool {
        self.counts.thresholds.is_empty()
    }

    /// Point `j` as (threshold, FAR, FRR) in a [`DetPoint`] (its `fmr` is FAR, `fnmr` FRR).
    pub fn point(&self, j: usize) -> DetPoint {
        DetPoint {
            threshold: self.counts.thresholds[j],
            fmr: self.counts.fmr(j),
            fnmr: self.counts.fnmr(j),
        }
    }

    pub fn points(&self) -> impl Iterator<Item = DetPoint> + '_ {
        (0..self.len()).map(|j| self.point(j))
    }

    pub fn eer(&self) -> GeneralisedEer {
        let e = self.counts.eer();
        GeneralisedEer {
            eer: e.eer,
            low: e.low,
            high: e.high,
            threshold: e.threshold,
            far: e.fmr,
            frr: e.fnmr,
        }
    }

    /// FRR at the smallest threshold with FAR ≤ `target`, 0 < target < 1.
    pub fn frr_at_far(&self, target: f64, confidence: f64) -> FrrAtFar {
        self.counts.frr_at_far(target, confidence)
    }

    /// FAR and FRR at `threshold` with Clopper-Pearson intervals.
    pub fn at_threshold(&self, threshold: f64, confidence: f64) -> GeneralisedPoint {
        let c = &self.counts;
        let (fa, fr) = c.errors(c.index_at_threshold(threshold));
        GeneralisedPoint {
            threshold,
            far: Proportion::new(fa, c.impostor_trials(), confidence).expect("impostor trials"),
            frr: Proportion::new(fr, c.genuine_trials(), confidence).expect("genuine trials"),
        }
    }
}

/// pyeer's operating point for a target FMR (see the module documentation): for comparison
/// with pyeer only.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NearestFmrPoint {
    pub threshold: f64,
    pub fmr: f64,
    pub fnmr: f64,
}

/// One point of the curve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DetPoint {
    /// Accept `score >= threshold`; `+∞` for the final point (reject all).
    pub threshold: f64,
    pub fmr: f64,
    pub fnmr: f64,
}

/// FMR(t) and FNMR(t) at every distinct observed score and at +∞ (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct DetCurve {
    thresholds: Vec<f64>,
    /// #{impostor ≥ t}.
    false_matches: Vec<u64>,
    /// #{genuine < t}.
    false_non_matches: Vec<u64>,
    genuine: u64,
    impostor: u64,
}

/// The rule-of-3 sample size for a target FMR: ⌈3 / target⌉ (3 / 1e-4 = 30,000).
pub fn rule_of_three_needed(target: f64) -> u64 {
    let x = 3.0 / target;
    let r = x.round();
    // 3 / 1e-4 is 29999.999999999996 in binary; do not round that up to 30001.
    if (x - r).abs() <= 1e-9 * r {
        r as u64
    } else {
        x.ceil() as u64
    }
}

/// The smallest `f64` greater than `x` (`f64::next_up`, which needs Rust 1.86).
pub(crate) fn next_up(x: f64) -> f64 {
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f64::from_bits(1);
    }
    let bits = x.to_bits();
    if x > 0.0 {
        f64::from_bits(bits + 1)
    } else {
        f64::from_bits(bits - 1)
    }
}

/// Sorts finite scores ascending, with −0.0 made +0.0 so equal scores compare equal.
pub(crate) fn sorted_scores(scores: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = scores.iter().map(|s| s + 0.0).collect();
    v.sort_unstable_by(f64::total_cmp);
    v
}

/// The first index in `0..n` where `pred` is false, for `pred` true-then-false.
fn first_false(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The counts behind a curve, borrowed: shared by [`DetCurve`], [`GeneralisedCurve`] and the
/// bootstrap. With `lost_*` 0 the rates are FMR and FNMR; otherwise FAR and FRR.
#[derive(Clone, Copy)]
pub(crate) struct CurveCounts<'a> {
    pub thresholds: &'a [f64],
    pub false_matches: &'a [u64],
    pub false_non_matches: &'a [u64],
    pub genuine: u64,
    pub impostor: u64,
    /// Genuine comparisons not made: a false rejection at every threshold.
    pub lost_genuine: u64,
    /// Impostor comparisons not made: a correct rejection at every threshold.
    pub lost_impostor: u64,
}

impl CurveCounts<'_> {
    // With nothing lost these are exactly the FMR / FNMR divisions (x + 0 is exact), so the
    // per-comparison numbers stay bit-identical to pyeer's.
    pub fn fmr(&self, j: usize) -> f64 {
        self.false_matches[j] as f64 / (self.impostor + self.lost_impostor) as f64
    }

    pub fn fnmr(&self, j: usize) -> f64 {
        (self.false_non_matches[j] + self.lost_genuine) as f64
            / (self.genuine + self.lost_genuine) as f64
    }

    pub fn impostor_trials(&self) -> u64 {
        self.impostor + self.lost_impostor
    }

    pub fn genuine_trials(&self) -> u64 {
        self.genuine + self.lost_genuine
    }

    /// (false matches or accepts, false non-matches or rejects) at index `j`, with lost ones.
    pub fn errors(&self, j: usize) -> (u64, u64) {
        (
            self.false_matches[j],
            self.false_non_matches[j] + self.lost_genuine,
        )
    }

    /// The index of the first threshold ≥ `threshold` (the decision `score >= threshold`).
    pub fn index_at_threshold(&self, threshold: f64) -> usize {
        self.thresholds.partition_point(|&t| t < threshold)
    }

    pub fn eer(&self) -> Eer {
        let n = self.thresholds.len();
        let diff = |j: usize| self.fmr(j) - self.fnmr(j);
        // The last threshold (+∞) has diff −1, so j2 < n.
        let j2 = first_false(n, |j| diff(j) > 0.0);
        let j1 = if diff(j2) != 0.0 && j2 != 0 {
            j2 - 1
        } else {
            j2
        };
        let sum = |j: usize| self.fmr(j) + self.fnmr(j);
        let j = if sum(j1) <= sum(j2) { j1 } else { j2 };
        let (fmr, fnmr) = (self.fmr(j), self.fnmr(j));
        let t = self.thresholds[j];
        Eer {
            eer: (fnmr + fmr) / 2.0,
            low: fmr.min(fnmr),
            high: fmr.max(fnmr),
            threshold: t.is_finite().then_some(t),
            fmr,
            fnmr,
        }
    }

    /// The index of the smallest threshold with FMR ≤ target, for 0 < target < 1 (≥ 1 without
    /// lost impostors: the lowest threshold has FMR 1; may be 0 for FAR).
    pub fn index_at_fmr(&self, target: f64) -> usize {
        first_false(self.thresholds.len(), |j| self.fmr(j) > target)
    }

    pub fn frr_at_far(&self, target: f64, confidence: f64) -> FrrAtFar {
        let j = self.index_at_fmr(target);
        let boundary = j.checked_sub(1).map(|b| self.thresholds[b]);
        let t = self.thresholds[j];
        let needed = rule_of_three_needed(target);
        let (fa, fr) = self.errors(j);
        FrrAtFar {
            target_far: target,
            threshold: match boundary {
                Some(b) => Some(next_up(b)),
                None => t.is_finite().then_some(t),
            },
            boundary_score: boundary,
            far: Proportion::new(fa, self.impostor_trials(), confidence)
                .expect("impostor trials present"),
            frr: Proportion::new(fr, self.genuine_trials(), confidence)
                .expect("genuine trials present"),
            impostors_needed: needed,
            enough_impostors: self.impostor_trials() >= needed,
        }
    }

    pub fn fnmr_at_fmr(&self, target: f64, confidence: f64) -> FnmrAtFmr {
        let j = self.index_at_fmr(target);
        let boundary = self.thresholds[j - 1];
        let needed = rule_of_three_needed(target);
        FnmrAtFmr {
            target_fmr: target,
            threshold: next_up(boundary),
            boundary_score: boundary,
            fmr: Proportion::new(self.false_matches[j], self.impostor, confidence)
                .expect("impostor comparisons present"),
            fnmr: Proportion::new(self.false_non_matches[j], self.genuine, confidence)
                .expect("genuine comparisons present"),
            impostors_needed: needed,
            enough_impostors: self.impostor >= needed,
        }
    }
}

impl DetCurve {
    /// The curve of these scores. Both sets must be non-empty and every score finite.
    pub fn new(genuine: &[f64], impostor: &[f64]) -> Result<DetCurve, AccuracyError> {
        super::check_finite("genuine", genuine)?;
        super::check_finite("impostor", impostor)?;
        if genuine.is_empty() {
            return Err(AccuracyError::NoGenuine);
        }
        if impostor.is_empty() {
            return Err(AccuracyError::NoImpostor);
        }
        Ok(Self::from_sorted(
            &sorted_scores(genuine),
            &sorted_scores(impostor),
        ))
    }

    /// From scores already sorted ascending (finite, no −0.0), both non-empty.
    pub(crate) fn from_sorted(genuine: &[f64], impostor: &[f64]) -> DetCurve {
        let (g_total, i_total) = (genuine.len(), impostor.len());
        let cap = g_total + i_total + 1;
        let mut thresholds = Vec::with_capacity(cap);
        let mut false_matches = Vec::with_capacity(cap);
        let mut false_non_matches = Vec::with_capacity(cap);
        let (mut gi, mut ii) = (0usize, 0usize);
        while gi < g_total || ii < i_total {
            let v = match (genuine.get(gi), impostor.get(ii)) {
                (Some(&g), Some(&i)) => g.min(i),
                (Some(&g), None) => g,
                (None, Some(&i)) => i,
                (None, None) => unreachable!(),
            };
            thresholds.push(v);
            false_non_matches.push(gi as u64);
            false_matches.push((i_total - ii) as u64);
            while gi < g_total && genuine[gi] == v {
                gi += 1;
            }
            while ii < i_total && impostor[ii] == v {
                ii += 1;
            }
        }
        thresholds.push(f64::INFINITY);
        false_matches.push(0);
        false_non_matches.push(g_total as u64);
        DetCurve {
            thresholds,
            false_matches,
            false_non_matches,
            genuine: g_total as u64,
            impostor: i_total as u64,
        }
    }

    pub(crate) fn counts(&self) -> CurveCounts<'_> {
        CurveCounts {
            thresholds: &self.thresholds,
            false_matches: &self.false_matches,
            false_non_matches: &self.false_non_matches,
            genuine: self.genuine,
            impostor: self.impostor,
            lost_genuine: 0,
            lost_impostor: 0,
        }
    }

    /// The generalised curve (FAR and FRR) of these scores with `lost_genuine` genuine and
    /// `lost_impostor` impostor comparisons that could not be made (see the module docs).
    pub fn generalised(&self, lost_genuine: u64, lost_impostor: u64) -> GeneralisedCurve<'_> {
        GeneralisedCurve {
            counts: CurveCounts {
                lost_genuine,
                lost_impostor,
                ..self.counts()
            },
        }
    }

    /// Number of points: distinct scores + 1.
    pub fn len(&self) -> usize {
        self.thresholds.len()
    }

    /// Never true (there is always the +∞ point); for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.thresholds.is_empty()
    }

    pub fn genuine_count(&self) -> u64 {
        self.genuine
    }

    pub fn impostor_count(&self) -> u64 {
        self.impostor
    }

    /// Point `j`, thresholds ascending (FMR falling from 1 to 0, FNMR rising from 0 to 1).
    pub fn point(&self, j: usize) -> DetPoint {
        let c = self.counts();
        DetPoint {
            threshold: self.thresholds[j],
            fmr: c.fmr(j),
            fnmr: c.fnmr(j),
        }
    }

    pub fn points(&self) -> impl Iterator<Item = DetPoint> + '_ {
        (0..self.len()).map(|j| self.point(j))
    }

    /// (false matches, false non-matches) when accepting `score >= threshold`.
    pub fn errors_at(&self, threshold: f64) -> (u64, u64) {
        let j = self.thresholds.partition_point(|&t| t < threshold);
        (self.false_matches[j], self.false_non_matches[j])
    }

    /// FMR and FNMR at `threshold` with Clopper-Pearson intervals.
    pub fn at_threshold(&self, threshold: f64, confidence: f64) -> OperatingPoint {
        let (fm, fnm) = self.errors_at(threshold);
        OperatingPoint {
            threshold,
            fmr: Proportion::new(fm, self.impostor, confidence).expect("impostors present"),
            fnmr: Proportion::new(fnm, self.genuine, confidence).expect("genuines present"),
        }
    }

    /// The EER (FVC2000 / pyeer definition, see the module docs).
    pub fn eer(&self) -> Eer {
        self.counts().eer()
    }

    /// The FNMR at the smallest threshold with FMR ≤ `target` (NIST FRTE style), 0 < target < 1.
    pub fn fnmr_at_fmr(&self, target: f64, confidence: f64) -> FnmrAtFmr {
        self.counts().fnmr_at_fmr(target, confidence)
    }

    /// pyeer's operating point: among the observed-score thresholds (not +∞), the first one
    /// whose |FMR − target| is smallest. Not the NIST definition; for the pyeer check only.
    pub fn fnmr_at_fmr_nearest(&self, target: f64) -> NearestFmrPoint {
        let c = self.counts();
        let mut best = 0;
        let mut best_dist = f64::INFINITY;
        for j in 0..self.len() - 1 {
            let d = (c.fmr(j) - target).abs();
            if d < best_dist {
                best = j;
                best_dist = d;
            }
        }
        NearestFmrPoint {
            threshold: self.thresholds[best],
            fmr: c.fmr(best),
            fnmr: c.fnmr(best),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_curve_by_hand() {
        // genuine 0.5 0.7 0.9; impostor 0.1 0.5 0.6
        let c = DetCurve::new(&[0.9, 0.5, 0.7], &[0.6, 0.1, 0.5]).unwrap();
        let pts: Vec<_> = c.points().map(|p| (p.threshold, p.fmr, p.fnmr)).collect();
        let third = 1.0 / 3.0;
        let two_thirds = 2.0 / 3.0;
        assert_eq!(
            pts,
            vec![
                (0.1, 1.0, 0.0),
                (0.5, two_thirds, 0.0),
                (0.6, third, third),
                (0.7, 0.0, third),
                (0.9, 0.0, two_thirds),
                (f64::INFINITY, 0.0, 1.0),
            ]
        );
        // First FMR ≤ FNMR at 0.6 (equal): j1 = j2 → EER 1/3 at 0.6.
        let e = c.eer();
        assert_eq!(e.threshold, Some(0.6));
        assert!((e.eer - third).abs() < 1e-15);
        assert_eq!(c.errors_at(0.55), (1, 1));
        assert_eq!(c.errors_at(-5.0), (3, 0));
        assert_eq!(c.errors_at(5.0), (0, 3));
    }

    #[test]
    fn eer_takes_the_smaller_sum_of_the_bracket() {
        // genuine 0.4 0.8 0.9 0.95; impostor 0.1 0.2 0.3 0.85
        let c = DetCurve::new(&[0.4, 0.8, 0.9, 0.95], &[0.1, 0.2, 0.3, 0.85]).unwrap();
        // t=0.4: FMR .25 FNMR 0 (diff > 0); t=0.8: FMR .25 FNMR .25 (diff 0) → j1 = j2 = 0.8.
        let e = c.eer();
        assert_eq!(e.threshold, Some(0.8));
        assert_eq!(e.eer, 0.25);
    }

    #[test]
    fn all_equal_scores_cross_at_infinity() {
        let c = DetCurve::new(&[0.5; 4], &[0.5; 6]).unwrap();
        assert_eq!(c.len(), 2);
        let e = c.eer();
        assert_eq!(e.eer, 0.5);
        // Tie of sums (1 and 1): the lower threshold.
        assert_eq!(e.threshold, Some(0.5));
        let op = c.fnmr_at_fmr(0.01, 0.95);
        assert_eq!(op.boundary_score, 0.5);
        assert_eq!(op.fmr.count, 0);
        assert_eq!(op.fnmr.count, 4);
    }

    #[test]
    fn nist_threshold_rejects_the_boundary_impostor_and_tied_genuines() {
        // 100 impostors 0..99 (/100), genuine scores on and around the 99th-percentile.
        let imp: Vec<f64> = (0..100).map(|i| f64::from(i) / 100.0).collect();
        let gen = [0.97, 0.98, 0.985, 0.99, 1.5];
        let c = DetCurve::new(&gen, &imp).unwrap();
        // FMR ≤ 1%: at most 1 impostor accepted: reject 0.98, accept 0.99.
        let op = c.fnmr_at_fmr(0.01, 0.95);
        assert_eq!(op.boundary_score, 0.98);
        assert!(op.threshold > 0.98 && op.threshold < 0.98 + 1e-15);
        assert_eq!(op.fmr.count, 1);
        assert_eq!(op.fnmr.count, 2); // 0.97 and 0.98 (tied with the boundary) rejected
        assert_eq!(op.impostors_needed, 300);
        assert!(!op.enough_impostors);
        // pyeer's nearest point: FMR is exactly 0.01 first at the genuine score 0.985.
        let near = c.fnmr_at_fmr_nearest(0.01);
        assert_eq!((near.threshold, near.fmr, near.fnmr), (0.985, 0.01, 0.4));
    }

    #[test]
    fn rule_of_three_sizes() {
        assert_eq!(rule_of_three_needed(1e-2), 300);
        assert_eq!(rule_of_three_needed(1e-3), 3000);
        assert_eq!(rule_of_three_needed(1e-4), 30_000);
        assert_eq!(rule_of_three_needed(0.07), 43);
    }

    #[test]
    fn next_up_steps_one_ulp() {
        assert_eq!(next_up(1.0), 1.0 + f64::EPSILON);
        assert_eq!(next_up(-0.0), f64::from_bits(1));
        assert!(next_up(-1.0) > -1.0);
        assert_eq!(next_up(f64::MAX), f64::INFINITY);
    }
}
