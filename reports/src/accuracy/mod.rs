//! Biometric accuracy: verification error rates (ISO/IEC 19795-1) and presentation-attack
//! detection error rates (ISO/IEC 30107-3).
//!
//! - [`summarise`] / [`evaluate`]: from genuine and impostor comparison scores (higher = more
//!   alike, accept `score >= threshold`) the exact DET curve ([`DetCurve`]), the EER, FNMR at
//!   fixed FMR points with the threshold taken from the impostor scores (NIST FRTE style) and
//!   FMR/FNMR at a given operating threshold: the per-comparison rates. When the scores record
//!   the comparisons that could not be made ([`Scores::lost`]), the same rates generalised
//!   (FAR and FRR: a lost genuine comparison is a false rejection and a lost impostor comparison
//!   a correct rejection at every threshold). The failure-to-enrol (FTE) and failure-to-acquire
//!   (FTA) rates. Clopper-Pearson intervals for every rate (comparison-level: they assume
//!   independent comparisons), and by default percentile intervals from a bootstrap by subject
//!   for every verification rate. Typed [`Warning`]s for whatever a reader must know before
//!   trusting a number. Definitions are in [`curve`].
//! - [`pad_summary`]: APCER per attack species and the maximum over species, BPCER.
//! - [`raw`]: the CSV of raw comparison scores (and lost comparisons) the harness writes and
//!   reads back.
//!
//! Scores must be finite: NaN or ±∞ is an error, never silently dropped.

mod bootstrap;
pub mod curve;
pub(crate) mod markdown;
pub mod pad;
pub mod raw;
pub mod stats;
mod warning;

pub use bootstrap::{
    BootstrapOptions, BootstrapSummary, FarTargetInterval, GeneralisedIntervals,
    GeneralisedThresholdIntervals, TargetInterval, ThresholdIntervals, METHOD as BOOTSTRAP_METHOD,
};
pub use curve::{
    DetCurve, DetPoint, Eer, FnmrAtFmr, FrrAtFar, GeneralisedCurve, GeneralisedEer,
    GeneralisedPoint, NearestFmrPoint, OperatingPoint,
};
pub use pad::{
    pad_summary, pad_summary_with, AttackCounts, PadCounts, PadOptions, PadSummary, SpeciesApcer,
};
pub use raw::{
    read_raw_rows, read_raw_rows_from, read_raw_scores, read_raw_scores_from, write_raw_rows,
    write_raw_rows_to, write_raw_scores, write_raw_scores_to, ComparisonKind, LostRecord, RawRow,
    RawScoresError, ScoreRecord,
};
pub use stats::{clopper_pearson, zero_upper_bound, Interval, Proportion};
pub use warning::{Warning, WarningCode};

use serde::{Deserialize, Serialize};

/// How every [`Proportion`]'s interval is computed, as the reports label it.
pub const CLOPPER_PEARSON: &str =
    "Clopper-Pearson, comparison-level (assumes independent comparisons)";

/// Everything that can be wrong with the input.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AccuracyError {
    #[error("{kind} score #{index} is {value}: scores must be finite numbers")]
    NonFiniteScore {
        kind: &'static str,
        index: usize,
        value: f64,
    },
    #[error("no genuine comparison scores")]
    NoGenuine,
    #[error("no impostor comparison scores")]
    NoImpostor,
    #[error("{kind}: {subjects} subject ids for {scores} scores")]
    SubjectCount {
        kind: &'static str,
        scores: usize,
        subjects: usize,
    },
    #[error("invalid option: {0}")]
    InvalidOption(String),
    #[error("invalid counts: {0}")]
    InvalidCounts(String),
}

pub(crate) fn check_finite(kind: &'static str, scores: &[f64]) -> Result<(), AccuracyError> {
    match scores.iter().position(|s| !s.is_finite()) {
        Some(index) => Err(AccuracyError::NonFiniteScore {
            kind,
            index,
            value: scores[index],
        }),
        None => Ok(()),
    }
}

/// The subject of each comparison, for the bootstrap by subject: for a genuine comparison its
/// subject, for an impostor comparison the subject of its first sample (`subject_a` of the raw
/// file). Ids are any numbers; [`Scores::from_records`] numbers the subject names.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Subjects {
    pub genuine: Vec<u32>,
    pub impostor: Vec<u32>,
}

/// The comparisons that could not be made (a sample of the pair failed to enrol or to
/// acquire), one subject id each (same ids and same rule as [`Subjects`]), so the bootstrap
/// resamples them with their subjects. The counts are the lengths.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lost {
    pub genuine_subjects: Vec<u32>,
    pub impostor_subjects: Vec<u32>,
}

impl Lost {
    pub fn genuine(&self) -> u64 {
        self.genuine_subjects.len() as u64
    }

    pub fn impostor(&self) -> u64 {
        self.impostor_subjects.len() as u64
    }
}

/// Acquisition attempts and how many failed (no usable face: no template, so no score).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AcquisitionCounts {
    /// All attempts, failed ones included.
    pub attempts: u64,
    pub failures: u64,
}

/// The measured data of one accuracy run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scores {
    /// Scores of the genuine comparisons that were made.
    pub genuine: Vec<f64>,
    /// Scores of the impostor comparisons that were made.
    pub impostor: Vec<f64>,
    /// Needed only for the bootstrap by subject.
    pub subjects: Option<Subjects>,
    /// Probe (verification) acquisition attempts: the FTA rate.
    pub acquisition: Option<AcquisitionCounts>,
    /// Enrolment attempts: the FTE rate.
    pub enrolment: Option<AcquisitionCounts>,
    /// The comparisons that could not be made; `None` when they were not recorded (then no
    /// generalised rates: nothing says how many there were).
    pub lost: Option<Lost>,
}

impl Scores {
    pub fn new(genuine: Vec<f64>, impostor: Vec<f64>) -> Scores {
        Scores {
            genuine,
            impostor,
            ..Scores::default()
        }
    }

    /// Scores with subject ids from raw records (genuine: `subject_a`; impostor: `subject_a`).
    /// Records hold only comparisons that were made, so [`Scores::lost`] stays `None`: read
    /// the file with [`read_raw_rows`] and use [`Scores::from_rows`] to keep the lost ones.
    pub fn from_records(records: &[ScoreRecord]) -> Scores {
        let mut b = Builder::default();
        for r in records {
            b.push(r.kind, &r.subject_a, Some(r.score));
        }
        b.finish()
    }

    /// Scores, subject ids and the lost comparisons (with their subjects) from the rows of a raw
    /// file: [`Scores::lost`] is `Some` (perhaps empty), so the generalised rates are given.
    pub fn from_rows(rows: &[RawRow]) -> Scores {
        let mut b = Builder::default();
        b.scores.lost = Some(Lost::default());
        for r in rows {
            match r {
                RawRow::Scored(r) => b.push(r.kind, &r.subject_a, Some(r.score)),
                RawRow::Lost(r) => b.push(r.kind, &r.subject_a, None),
            }
        }
        b.finish()
    }

    /// Finite scores, matching subject counts, failures ≤ attempts.
    pub fn validate(&self) -> Result<(), AccuracyError> {
        check_finite("genuine", &self.genuine)?;
        check_finite("impostor", &self.impostor)?;
        if let Some(s) = &self.subjects {
            for (kind, scores, subjects) in [
                ("genuine", self.genuine.len(), s.genuine.len()),
                ("impostor", self.impostor.len(), s.impostor.len()),
            ] {
                if scores != subjects {
                    return Err(AccuracyError::SubjectCount {
                        kind,
                        scores,
                        subjects,
                    });
                }
            }
        }
        for (what, counts) in [("acquire", self.acquisition), ("enrol", self.enrolment)] {
            if let Some(a) = counts {
                if a.failures > a.attempts {
                    return Err(AccuracyError::InvalidCounts(format!(
                        "{} failures to {what} in {} attempts",
                        a.failures, a.attempts
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Numbers subject names as they come, for [`Scores::from_records`] and [`Scores::from_rows`].
#[derive(Default)]
struct Builder<'a> {
    ids: std::collections::HashMap<&'a str, u32>,
    subjects: Subjects,
    scores: Scores,
}

impl<'a> Builder<'a> {
    fn push(&mut self, kind: ComparisonKind, subject: &'a str, score: Option<f64>) {
        let next = self.ids.len() as u32;
        let id = *self.ids.entry(subject).or_insert(next);
        let s = &mut self.scores;
        match (kind, score) {
            (ComparisonKind::Genuine, Some(v)) => {
                s.genuine.push(v);
                self.subjects.genuine.push(id);
            }
            (ComparisonKind::Impostor, Some(v)) => {
                s.impostor.push(v);
                self.subjects.impostor.push(id);
            }
            (ComparisonKind::Genuine, None) => s
                .lost
                .get_or_insert_with(Lost::default)
                .genuine_subjects
                .push(id),
            (ComparisonKind::Impostor, None) => s
                .lost
                .get_or_insert_with(Lost::default)
                .impostor_subjects
                .push(id),
        }
    }

    fn finish(self) -> Scores {
        Scores {
            subjects: Some(self.subjects),
            ..self.scores
        }
    }
}

/// What to compute.
#[derive(Clone, Debug, PartialEq)]
pub struct AccuracyOptions {
    /// FMR targets for FNMR@FMR (and FAR targets for FRR@FAR), each in (0, 1). Default 1e-2,
    /// 1e-3, 1e-4.
    pub fmr_targets: Vec<f64>,
    /// Confidence level of every interval. Default 0.95.
    pub confidence: f64,
    /// Also report FMR and FNMR at this threshold (the matcher's configured one, e.g. 0.363).
    pub operating_threshold: Option<f64>,
    /// Percentile intervals from a bootstrap by subject (needs [`Scores::subjects`]). On by
    /// default ([`BootstrapOptions::default`]): comparisons of one person are not independent,
    /// and only the bootstrap says how much that widens the intervals.
    pub bootstrap: Option<BootstrapOptions>,
    /// An FTA or FTE rate above this gets a warning (`fta-above-limit`, `fte-above-limit`).
    /// Default 0.02: the house's limit (above it the acquisition, not the matcher, dominates
    /// the generalised rates), configurable per campaign. In [0, 1).
    pub fta_limit: f64,
    /// A rate observed as 0 claims nothing below its one-sided upper bound (≈ 3 / trials): it
    /// gets a `zero-rate` warning when it has fewer than 3 / claim trials. The claim is the
    /// smallest FMR target for FMR and FAR, and this for every other rate (FNMR, FRR, EER,
    /// FTA, FTE). Default 0.01. In (0, 1).
    pub zero_rate_claim: f64,
}

impl Default for AccuracyOptions {
    fn default() -> Self {
        AccuracyOptions {
            fmr_targets: vec![1e-2, 1e-3, 1e-4],
            confidence: 0.95,
            operating_threshold: None,
            bootstrap: Some(BootstrapOptions::default()),
            fta_limit: 0.02,
            zero_rate_claim: 0.01,
        }
    }
}

impl AccuracyOptions {
    fn validate(&self) -> Result<(), AccuracyError> {
        let bad = |m: String| Err(AccuracyError::InvalidOption(m));
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return bad(format!("confidence {} not in (0, 1)", self.confidence));
        }
        if let Some(t) = self.fmr_targets.iter().find(|t| !(**t > 0.0 && **t < 1.0)) {
            return bad(format!("FMR target {t} not in (0, 1)"));
        }
        if let Some(t) = self.operating_threshold.filter(|t| !t.is_finite()) {
            return bad(format!("operating threshold {t} is not finite"));
        }
        if let Some(b) = &self.bootstrap {
            if b.replicates == 0 {
                return bad("bootstrap with 0 replicates".into());
            }
        }
        if !(self.fta_limit >= 0.0 && self.fta_limit < 1.0) {
            return bad(format!("FTA limit {} not in [0, 1)", self.fta_limit));
        }
        if !(self.zero_rate_claim > 0.0 && self.zero_rate_claim < 1.0) {
            return bad(format!(
                "zero-rate claim {} not in (0, 1)",
                self.zero_rate_claim
            ));
        }
        Ok(())
    }
}

/// Count, range and mean of one score set.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreStats {
    pub count: u64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
}

impl ScoreStats {
    fn of(scores: &[f64]) -> Option<ScoreStats> {
        if scores.is_empty() {
            return None;
        }
        let (mut min, mut max, mut sum) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
        for &s in scores {
            min = min.min(s);
            max = max.max(s);
            sum += s;
        }
        Some(ScoreStats {
            count: scores.len() as u64,
            min,
            max,
            mean: sum / scores.len() as f64,
        })
    }
}

/// The comparisons that could not be made, per kind: lost of attempted (made + lost).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LostSummary {
    /// `None` without any genuine comparison attempted.
    pub genuine: Option<Proportion>,
    /// `None` without any impostor comparison attempted.
    pub impostor: Option<Proportion>,
}

/// The generalised rates (ISO/IEC 19795-1 FAR and FRR): the per-comparison ones with every lost
/// comparison counted (see [`curve`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GeneralisedRates {
    /// Genuine comparisons made + lost.
    pub genuine_attempted: u64,
    /// Impostor comparisons made + lost.
    pub impostor_attempted: u64,
    pub eer: GeneralisedEer,
    /// One per FMR target of the options (as a FAR target), in their order.
    pub frr_at_far: Vec<FrrAtFar>,
    pub at_threshold: Option<GeneralisedPoint>,
}

/// The verification accuracy of one run (JSON through serde; Markdown through
/// [`AccuracySummary::to_markdown`]). Per-comparison rates are named FMR / FNMR, generalised
/// ones FAR / FRR, as ISO/IEC 19795-1 names them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccuracySummary {
    /// Genuine comparisons made (scored).
    pub genuine_comparisons: u64,
    /// Impostor comparisons made (scored).
    pub impostor_comparisons: u64,
    pub genuine_scores: Option<ScoreStats>,
    pub impostor_scores: Option<ScoreStats>,
    /// Confidence level of every interval.
    pub confidence: f64,
    /// How every `interval` of a rate is computed: [`CLOPPER_PEARSON`].
    pub interval_method: String,
    /// `None` without genuine or without impostor scores.
    pub eer: Option<Eer>,
    /// One per FMR target; empty without genuine or impostor scores.
    pub fnmr_at_fmr: Vec<FnmrAtFmr>,
    pub at_threshold: Option<OperatingPoint>,
    /// Failure-to-acquire rate of the probe attempts; `None` without counts (or attempts).
    pub fta: Option<Proportion>,
    /// Failure-to-enrol rate; `None` without counts (or attempts).
    pub fte: Option<Proportion>,
    /// The limit FTA and FTE were checked against ([`AccuracyOptions::fta_limit`]).
    pub fta_limit: f64,
    /// `None` when the lost comparisons were not recorded.
    pub lost: Option<LostSummary>,
    /// `None` when the lost comparisons were not recorded, or nothing was attempted of a kind.
    pub generalised: Option<GeneralisedRates>,
    pub bootstrap: Option<BootstrapSummary>,
    /// Things the reader must know before trusting a number (too few comparisons, …).
    pub warnings: Vec<Warning>,
}

impl AccuracySummary {
    /// A short Markdown report.
    pub fn to_markdown(&self) -> String {
        markdown::accuracy(self)
    }

    /// Whether a warning of this kind was raised.
    pub fn has_warning(&self, code: WarningCode) -> bool {
        self.warnings.iter().any(|w| w.code == code)
    }
}

/// The summary and the full curve it was computed from (for plots).
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub summary: AccuracySummary,
    /// `None` without genuine or without impostor scores.
    pub curve: Option<DetCurve>,
}

/// The summary of `scores` (see the module docs).
pub fn summarise(
    scores: &Scores,
    options: &AccuracyOptions,
) -> Result<AccuracySummary, AccuracyError> {
    evaluate(scores, options).map(|e| e.summary)
}

/// A warning when a 0 of `p.trials` cannot support a claim at `claim` (rule of 3).
fn zero_rate(
    warnings: &mut Vec<Warning>,
    what: &str,
    p: Option<&Proportion>,
    claim: f64,
    confidence: f64,
) {
    let Some(p) = p.filter(|p| p.count == 0) else {
        return;
    };
    let needed = curve::rule_of_three_needed(claim);
    if p.trials < needed {
        warnings.push(Warning::new(
            WarningCode::ZeroRate,
            format!(
                "{what} is 0 of {}: read it as ≤ {} (one-sided {} upper bound); {needed} \
                 trials are needed to claim ≤ {}",
                p.trials,
                markdown::pct(zero_upper_bound(p.trials, confidence)),
                markdown::level(confidence),
                markdown::pct(claim),
            ),
        ));
    }
}

/// The summary and the curve of `scores`.
pub fn evaluate(scores: &Scores, options: &AccuracyOptions) -> Result<Evaluation, AccuracyError> {
    scores.validate()?;
    options.validate()?;
    let confidence = options.confidence;
    let mut warnings = Vec::new();
    let lost_g = scores.lost.as_ref().map_or(0, Lost::genuine);
    let lost_i = scores.lost.as_ref().map_or(0, Lost::impostor);

    let sorted_g = curve::sorted_scores(&scores.genuine);
    let sorted_i = curve::sorted_scores(&scores.impostor);
    let curve = match (sorted_g.is_empty(), sorted_i.is_empty()) {
        (false, false) => Some(DetCurve::from_sorted(&sorted_g, &sorted_i)),
        (g, i) => {
            let lost = |n: u64| {
                if n > 0 {
                    format!(" ({n} attempted, all lost)")
                } else {
                    String::new()
                }
            };
            if g {
                warnings.push(Warning::new(
                    WarningCode::NoGenuine,
                    format!(
                        "no genuine comparisons{}: FNMR, EER and the DET curve are not defined",
                        lost(lost_g)
                    ),
                ));
            }
            if i {
                warnings.push(Warning::new(
                    WarningCode::NoImpostor,
                    format!(
                        "no impostor comparisons{}: FMR, EER and the DET curve are not defined",
                        lost(lost_i)
                    ),
                ));
            }
            None
        }
    };

    let mut fnmr_at_fmr = Vec::new();
    let mut eer = None;
    let mut at_threshold = None;
    if let Some(c) = &curve {
        eer = Some(c.eer());
        for &target in &options.fmr_targets {
            let op = c.fnmr_at_fmr(target, confidence);
            if !op.enough_impostors {
                warnings.push(Warning::new(
                    WarningCode::TooFewImpostors,
                    format!(
                        "FMR {target:e}: {} impostor comparisons; at least {} are needed to \
                         support FMR ≤ {target:e} at 95% confidence (rule of 3)",
                        c.impostor_count(),
                        op.impostors_needed
                    ),
                ));
            }
            fnmr_at_fmr.push(op);
        }
        at_threshold = options
            .operating_threshold
            .map(|t| c.at_threshold(t, confidence));
    }

    let mut rate = |counts: Option<AcquisitionCounts>, name: &str, code: WarningCode| {
        let a = counts?;
        let p = Proportion::new(a.failures, a.attempts, confidence);
        match &p {
            None => warnings.push(Warning::new(
                WarningCode::NoAcquisitionAttempts,
                format!("no {name} attempts: the rate is not defined"),
            )),
            Some(p) if p.rate > options.fta_limit => warnings.push(Warning::new(
                code,
                format!(
                    "{} is {} ({} of {} attempts), above the limit of {}: acquisition, not \
                     comparison, drives the error rates; see the generalised rates",
                    if code == WarningCode::FtaAboveLimit {
                        "FTA (failure to acquire)"
                    } else {
                        "FTE (failure to enrol)"
                    },
                    markdown::pct(p.rate),
                    p.count,
                    p.trials,
                    markdown::pct(options.fta_limit)
                ),
            )),
            Some(_) => {}
        }
        p
    };
    let fta = rate(
        scores.acquisition,
        "probe acquisition",
        WarningCode::FtaAboveLimit,
    );
    let fte = rate(scores.enrolment, "enrolment", WarningCode::FteAboveLimit);

    let failures = |c: Option<AcquisitionCounts>| c.map_or(0, |c| c.failures);
    if scores.lost.is_none() && failures(scores.acquisition) + failures(scores.enrolment) > 0 {
        warnings.push(Warning::new(
            WarningCode::LostNotRecorded,
            "samples failed to acquire but the comparisons they cost were not recorded: the \
             per-comparison rates leave them out and the generalised rates (FAR, FRR) cannot \
             be given",
        ));
    }
    let lost = scores.lost.as_ref().map(|_| LostSummary {
        genuine: Proportion::new(lost_g, scores.genuine.len() as u64 + lost_g, confidence),
        impostor: Proportion::new(lost_i, scores.impostor.len() as u64 + lost_i, confidence),
    });

    let genuine_attempted = scores.genuine.len() as u64 + lost_g;
    let impostor_attempted = scores.impostor.len() as u64 + lost_i;
    let generalised = if scores.lost.is_some() && genuine_attempted > 0 && impostor_attempted > 0 {
        // Without scores of one kind (all lost) the curve is still defined on the other kind's
        // scores; it is only built here, never shown as a per-comparison curve.
        let own;
        let c = match &curve {
            Some(c) => c,
            None => {
                own = DetCurve::from_sorted(&sorted_g, &sorted_i);
                &own
            }
        };
        let g = c.generalised(lost_g, lost_i);
        Some(GeneralisedRates {
            genuine_attempted,
            impostor_attempted,
            eer: g.eer(),
            frr_at_far: options
                .fmr_targets
                .iter()
                .map(|&t| g.frr_at_far(t, confidence))
                .collect(),
            at_threshold: options
                .operating_threshold
                .map(|t| g.at_threshold(t, confidence)),
        })
    } else {
        None
    };

    // Zeros that claim more than their trials allow.
    let fmr_claim = options
        .fmr_targets
        .iter()
        .copied()
        .fold(options.zero_rate_claim, f64::min);
    let claim = options.zero_rate_claim;
    let w = &mut warnings;
    if let Some(op) = &at_threshold {
        let t = op.threshold;
        zero_rate(
            w,
            &format!("FMR at threshold {t}"),
            Some(&op.fmr),
            fmr_claim,
            confidence,
        );
        zero_rate(
            w,
            &format!("FNMR at threshold {t}"),
            Some(&op.fnmr),
            claim,
            confidence,
        );
    }
    for op in &fnmr_at_fmr {
        let what = format!("FNMR at FMR ≤ {:e}", op.target_fmr);
        zero_rate(w, &what, Some(&op.fnmr), claim, confidence);
    }
    if let (Some(e), Some(c)) = (&eer, &curve) {
        // An EER of 0 is two zeros; the smaller set bounds it.
        let n = c.genuine_count().min(c.impostor_count());
        let p = Proportion::new(0, n, confidence).filter(|_| e.eer == 0.0);
        zero_rate(w, "EER", p.as_ref(), claim, confidence);
    }
    if let Some(g) = &generalised {
        if let Some(op) = &g.at_threshold {
            let t = op.threshold;
            zero_rate(
                w,
                &format!("FAR at threshold {t}"),
                Some(&op.far),
                fmr_claim,
                confidence,
            );
            zero_rate(
                w,
                &format!("FRR at threshold {t}"),
                Some(&op.frr),
                claim,
                confidence,
            );
        }
        for op in &g.frr_at_far {
            let what = format!("FRR at FAR ≤ {:e}", op.target_far);
            zero_rate(w, &what, Some(&op.frr), claim, confidence);
        }
        let n = g.genuine_attempted.min(g.impostor_attempted);
        let p = Proportion::new(0, n, confidence).filter(|_| g.eer.eer == 0.0);
        zero_rate(w, "generalised EER", p.as_ref(), claim, confidence);
    }
    zero_rate(w, "FTA", fta.as_ref(), claim, confidence);
    zero_rate(w, "FTE", fte.as_ref(), claim, confidence);

    let bootstrap = match (&options.bootstrap, &scores.subjects, &curve) {
        (Some(b), Some(subjects), Some(_)) => {
            let plan = bootstrap::Plan {
                subjects,
                lost: scores
                    .lost
                    .as_ref()
                    .map(|l| (&l.genuine_subjects[..], &l.impostor_subjects[..])),
                targets: &options.fmr_targets,
                threshold: options.operating_threshold,
            };
            let summary = bootstrap::run(scores, &plan, b, confidence);
            if summary.used_replicates < summary.replicates {
                warnings.push(Warning::new(
                    WarningCode::BootstrapReplicatesDropped,
                    format!(
                        "bootstrap: {} of {} replicates drew no genuine or no impostor \
                         comparison and were left out",
                        summary.replicates - summary.used_replicates,
                        summary.replicates
                    ),
                ));
            }
            Some(summary)
        }
        (Some(_), None, Some(_)) => {
            warnings.push(Warning::new(
                WarningCode::BootstrapWithoutSubjects,
                "bootstrap requested but the scores carry no subject ids: only the \
                 comparison-level (Clopper-Pearson) intervals are given, and they assume \
                 independent comparisons",
            ));
            None
        }
        _ => None,
    };

    let summary = AccuracySummary {
        genuine_comparisons: scores.genuine.len() as u64,
        impostor_comparisons: scores.impostor.len() as u64,
        genuine_scores: ScoreStats::of(&scores.genuine),
        impostor_scores: ScoreStats::of(&scores.impostor),
        confidence,
        interval_method: CLOPPER_PEARSON.into(),
        eer,
        fnmr_at_fmr,
        at_threshold,
        fta,
        fte,
        fta_limit: options.fta_limit,
        lost,
        generalised,
        bootstrap,
        warnings,
    };
    Ok(Evaluation { summary, curve })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_boot() -> AccuracyOptions {
        AccuracyOptions {
            bootstrap: None,
            ..AccuracyOptions::default()
        }
    }

    fn codes(sum: &AccuracySummary, code: WarningCode) -> Vec<&Warning> {
        sum.warnings.iter().filter(|w| w.code == code).collect()
    }

    #[test]
    fn nan_and_infinite_scores_are_errors() {
        let s = Scores::new(vec![0.5, f64::NAN], vec![0.1]);
        let e = summarise(&s, &AccuracyOptions::default()).unwrap_err();
        assert!(matches!(
            e,
            AccuracyError::NonFiniteScore {
                kind: "genuine",
                index: 1,
                ..
            }
        ));
        let s = Scores::new(vec![0.5], vec![f64::NEG_INFINITY]);
        assert!(matches!(
            summarise(&s, &AccuracyOptions::default()),
            Err(AccuracyError::NonFiniteScore {
                kind: "impostor",
                ..
            })
        ));
        assert!(matches!(
            DetCurve::new(&[f64::NAN], &[0.0]),
            Err(AccuracyError::NonFiniteScore { .. })
        ));
    }

    #[test]
    fn missing_sets_give_warnings_not_numbers() {
        let s = Scores::new(vec![], vec![0.1, 0.2]);
        let sum = summarise(&s, &AccuracyOptions::default()).unwrap();
        assert!(sum.eer.is_none() && sum.fnmr_at_fmr.is_empty());
        assert_eq!(sum.warnings[0].code, WarningCode::NoGenuine);
        let s = Scores::new(vec![0.1], vec![]);
        let sum = summarise(&s, &AccuracyOptions::default()).unwrap();
        assert_eq!(sum.warnings[0].code, WarningCode::NoImpostor);
        let sum = summarise(&Scores::default(), &AccuracyOptions::default()).unwrap();
        assert_eq!(sum.warnings.len(), 2);
        assert!(sum.to_markdown().contains("`no-genuine`: no genuine"));
        assert_eq!(DetCurve::new(&[], &[1.0]), Err(AccuracyError::NoGenuine));
        assert_eq!(DetCurve::new(&[1.0], &[]), Err(AccuracyError::NoImpostor));
    }

    #[test]
    fn all_genuine_lost_still_gives_generalised_rates() {
        let mut s = Scores::new(vec![], vec![0.1, 0.2]);
        s.lost = Some(Lost {
            genuine_subjects: vec![0, 1],
            impostor_subjects: vec![],
        });
        let sum = summarise(&s, &no_boot()).unwrap();
        assert!(sum.eer.is_none());
        assert!(sum.warnings[0].message.contains("2 attempted, all lost"));
        let g = sum.generalised.unwrap();
        assert_eq!(g.genuine_attempted, 2);
        // Every genuine transaction is a rejection: FRR 1 at every threshold.
        assert!(g.frr_at_far.iter().all(|o| o.frr.rate == 1.0));
    }

    #[test]
    fn rule_of_three_warning_triggers_below_30000() {
        let gen = vec![0.9; 10];
        let imp: Vec<f64> = (0..29_999).map(|i| f64::from(i) * 1e-6).collect();
        let sum = summarise(&Scores::new(gen.clone(), imp), &no_boot()).unwrap();
        let w = codes(&sum, WarningCode::TooFewImpostors);
        assert_eq!(w.len(), 1, "{:?}", sum.warnings);
        assert!(w[0].message.contains("30000"), "{}", w[0]);
        assert!(!sum.fnmr_at_fmr[2].enough_impostors);
        assert!(sum.fnmr_at_fmr[1].enough_impostors);

        let imp: Vec<f64> = (0..30_000).map(|i| f64::from(i) * 1e-6).collect();
        let sum = summarise(&Scores::new(gen, imp), &no_boot()).unwrap();
        assert!(codes(&sum, WarningCode::TooFewImpostors).is_empty());
        assert!(sum.fnmr_at_fmr.iter().all(|o| o.enough_impostors));
    }

    #[test]
    fn fta_threshold_and_json_round_trip() {
        let mut s = Scores::new(vec![0.8, 0.7, 0.3], vec![0.1, 0.2, 0.4, 0.05]);
        s.acquisition = Some(AcquisitionCounts {
            attempts: 20,
            failures: 1,
        });
        s.enrolment = Some(AcquisitionCounts {
            attempts: 10,
            failures: 0,
        });
        s.lost = Some(Lost {
            genuine_subjects: vec![3],
            impostor_subjects: vec![],
        });
        let opts = AccuracyOptions {
            operating_threshold: Some(0.363),
            ..AccuracyOptions::default()
        };
        let sum = summarise(&s, &opts).unwrap();
        let fta = sum.fta.unwrap();
        assert_eq!((fta.count, fta.trials, fta.rate), (1, 20, 0.05));
        let fte = sum.fte.unwrap();
        assert_eq!((fte.count, fte.trials), (0, 10));
        let op = sum.at_threshold.as_ref().unwrap();
        assert_eq!((op.fmr.count, op.fnmr.count), (1, 1));
        let g = sum
            .generalised
            .as_ref()
            .unwrap()
            .at_threshold
            .as_ref()
            .unwrap();
        assert_eq!((g.far.count, g.far.trials), (1, 4));
        assert_eq!((g.frr.count, g.frr.trials), (2, 4));
        let lost = sum.lost.as_ref().unwrap();
        assert_eq!(lost.genuine.unwrap().count, 1);
        assert_eq!(sum.interval_method, CLOPPER_PEARSON);
        let json = serde_json::to_string_pretty(&sum).unwrap();
        let back: AccuracySummary = serde_json::from_str(&json).unwrap();
        assert_eq!(back, sum);
        for key in [
            "\"fte\"",
            "\"generalised\"",
            "\"frr_at_far\"",
            "\"lost\"",
            "\"interval_method\"",
            "\"fta_limit\"",
            "\"code\": \"fta-above-limit\"",
        ] {
            assert!(json.contains(key), "{key} in {json}");
        }
        let md = sum.to_markdown();
        for words in [
            "EER",
            "0.363",
            "generalised (FAR / FRR)",
            "FTE (failure to enrol): 0% [0%, 30.8%] (0 / 10; ≤ 25.9% one-sided 95%)",
            "comparison-level (assumes independent comparisons)",
            "FRR at fixed FAR (generalised)",
            "`fta-above-limit`",
        ] {
            assert!(md.contains(words), "{words} in {md}");
        }

        s.acquisition = Some(AcquisitionCounts {
            attempts: 1,
            failures: 2,
        });
        assert!(matches!(
            summarise(&s, &opts),
            Err(AccuracyError::InvalidCounts(_))
        ));
    }

    #[test]
    fn options_are_checked() {
        let s = Scores::new(vec![0.5], vec![0.1]);
        for opts in [
            AccuracyOptions {
                fmr_targets: vec![0.0],
                ..Default::default()
            },
            AccuracyOptions {
                confidence: 1.0,
                ..Default::default()
            },
            AccuracyOptions {
                operating_threshold: Some(f64::NAN),
                ..Default::default()
            },
            AccuracyOptions {
                fta_limit: 1.0,
                ..Default::default()
            },
            AccuracyOptions {
                zero_rate_claim: 0.0,
                ..Default::default()
            },
        ] {
            assert!(matches!(
                summarise(&s, &opts),
                Err(AccuracyError::InvalidOption(_))
            ));
        }
        // Bootstrap on by default: the intervals a reviewer needs are there unless refused.
        assert_eq!(
            AccuracyOptions::default().bootstrap,
            Some(BootstrapOptions::default())
        );
    }

    #[test]
    fn subject_count_mismatch_is_an_error() {
        let mut s = Scores::new(vec![0.5, 0.6], vec![0.1]);
        s.subjects = Some(Subjects {
            genuine: vec![1],
            impostor: vec![2],
        });
        assert!(matches!(
            s.validate(),
            Err(AccuracyError::SubjectCount {
                kind: "genuine",
                ..
            })
        ));
    }

    /// genuine 0.5 0.7 0.9; impostor 0.1 0.5 0.6 (curve.rs's tiny curve), and lost ones.
    fn tiny(lost_genuine: usize, lost_impostor: usize) -> Scores {
        let mut s = Scores::new(vec![0.9, 0.5, 0.7], vec![0.6, 0.1, 0.5]);
        s.lost = Some(Lost {
            genuine_subjects: vec![0; lost_genuine],
            impostor_subjects: vec![0; lost_impostor],
        });
        s
    }

    #[test]
    fn generalised_eer_by_hand() {
        // Per comparison: EER 1/3 at 0.6 (curve.rs). One genuine and one impostor lost:
        // t      0.1  0.5  0.6  0.7  0.9  +∞
        // FAR    3/4  2/4  1/4  0    0    0
        // FRR    1/4  1/4  2/4  2/4  3/4  1
        // FAR − FRR first ≤ 0 at 0.6; bracket 0.5 (sum 3/4) and 0.6 (sum 3/4): the tie takes
        // 0.5, EER (1/2 + 1/4) / 2 = 0.375.
        let sum = summarise(&tiny(1, 1), &no_boot()).unwrap();
        assert!((sum.eer.unwrap().eer - 1.0 / 3.0).abs() < 1e-15);
        let g = sum.generalised.unwrap();
        assert_eq!((g.genuine_attempted, g.impostor_attempted), (4, 4));
        assert_eq!(g.eer.eer, 0.375);
        assert_eq!((g.eer.far, g.eer.frr), (0.5, 0.25));
        assert_eq!(g.eer.threshold, Some(0.5));
        // Only a genuine lost: FAR 1, 2/3, 1/3, 0…; FRR 1/4, 1/4, 2/4, …: bracket 0.5 (sum
        // 11/12) and 0.6 (sum 10/12): EER (1/3 + 1/2) / 2 = 5/12 at 0.6.
        let g = summarise(&tiny(1, 0), &no_boot())
            .unwrap()
            .generalised
            .unwrap();
        assert!((g.eer.eer - 5.0 / 12.0).abs() < 1e-15, "{:?}", g.eer);
        assert_eq!(g.eer.threshold, Some(0.6));
        // Nothing lost: the generalised rates are the per-comparison ones.
        let sum = summarise(&tiny(0, 0), &no_boot()).unwrap();
        assert_eq!(sum.generalised.unwrap().eer.eer, sum.eer.unwrap().eer);
    }

    #[test]
    fn lost_impostors_lower_far_lost_genuines_raise_frr() {
        let opts = AccuracyOptions {
            operating_threshold: Some(0.55),
            fmr_targets: vec![0.3],
            ..no_boot()
        };
        let base = summarise(&tiny(0, 0), &opts).unwrap();
        let op = base.at_threshold.unwrap();
        assert_eq!((op.fmr.rate, op.fnmr.rate), (1.0 / 3.0, 1.0 / 3.0));
        let g = summarise(&tiny(0, 2), &opts).unwrap().generalised.unwrap();
        let at = g.at_threshold.unwrap();
        assert_eq!((at.far.count, at.far.trials), (1, 5));
        assert_eq!(at.frr.rate, 1.0 / 3.0);
        // FAR ≤ 0.3 is met one threshold lower than FMR ≤ 0.3: two lost impostors dilute it.
        assert_eq!(base.fnmr_at_fmr[0].boundary_score, 0.6);
        assert_eq!(g.frr_at_far[0].boundary_score, Some(0.5));
        assert_eq!(g.frr_at_far[0].far.rate, 1.0 / 5.0);
        let g = summarise(&tiny(2, 0), &opts).unwrap().generalised.unwrap();
        let at = g.at_threshold.unwrap();
        assert_eq!((at.frr.count, at.frr.trials), (3, 5));
        assert_eq!(at.far.rate, 1.0 / 3.0);
        // So many impostors lost that every scored one may be accepted: no boundary.
        let g = summarise(&tiny(0, 20), &opts).unwrap().generalised.unwrap();
        let f = &g.frr_at_far[0];
        assert_eq!((f.boundary_score, f.threshold), (None, Some(0.1)));
        assert_eq!((f.far.count, f.frr.count), (3, 0));
    }

    fn with_acquisition(fta: (u64, u64), fte: (u64, u64)) -> AccuracySummary {
        let mut s = tiny(0, 0);
        s.lost = None;
        s.acquisition = Some(AcquisitionCounts {
            failures: fta.0,
            attempts: fta.1,
        });
        s.enrolment = Some(AcquisitionCounts {
            failures: fte.0,
            attempts: fte.1,
        });
        summarise(&s, &no_boot()).unwrap()
    }

    #[test]
    fn fta_and_fte_limits_warn_above_and_not_at() {
        let at = with_acquisition((2, 100), (2, 100));
        assert!(!at.has_warning(WarningCode::FtaAboveLimit));
        assert!(!at.has_warning(WarningCode::FteAboveLimit));
        let above = with_acquisition((3, 100), (1, 100));
        assert!(above.has_warning(WarningCode::FtaAboveLimit));
        assert!(!above.has_warning(WarningCode::FteAboveLimit));
        let above = with_acquisition((1, 100), (3, 100));
        assert!(above.has_warning(WarningCode::FteAboveLimit));
        assert!(!above.has_warning(WarningCode::FtaAboveLimit));
        let none = with_acquisition((0, 0), (0, 100));
        assert_eq!(codes(&none, WarningCode::NoAcquisitionAttempts).len(), 1);
        // A stricter house limit is an option.
        let mut s = tiny(0, 0);
        s.acquisition = Some(AcquisitionCounts {
            failures: 1,
            attempts: 100,
        });
        let strict = AccuracyOptions {
            fta_limit: 0.005,
            ..no_boot()
        };
        assert!(summarise(&s, &strict)
            .unwrap()
            .has_warning(WarningCode::FtaAboveLimit));
    }

    #[test]
    fn unrecorded_losses_are_named() {
        // Failures to acquire with no record of the comparisons they cost.
        let s = with_acquisition((1, 100), (0, 100));
        assert!(s.has_warning(WarningCode::LostNotRecorded));
        assert!(s.generalised.is_none());
        assert!(!with_acquisition((0, 100), (0, 100)).has_warning(WarningCode::LostNotRecorded));
        let mut s = tiny(1, 0);
        s.acquisition = Some(AcquisitionCounts {
            failures: 1,
            attempts: 100,
        });
        let sum = summarise(&s, &no_boot()).unwrap();
        assert!(!sum.has_warning(WarningCode::LostNotRecorded));
    }

    /// `genuine` genuine scores 0.9, `impostor` impostor scores in [0, 0.03): every error 0.
    fn perfect(genuine: usize, impostor: u32) -> AccuracySummary {
        let s = Scores::new(
            vec![0.9; genuine],
            (0..impostor).map(|i| f64::from(i) * 1e-6).collect(),
        );
        let opts = AccuracyOptions {
            operating_threshold: Some(0.5),
            ..no_boot()
        };
        summarise(&s, &opts).unwrap()
    }

    #[test]
    fn zero_rates_warn_below_the_trials_a_claim_needs() {
        // Claim 1%: 300 genuine needed for FNMR (and the EER); 1e-4: 30,000 impostors for FMR.
        let below = perfect(299, 30_000);
        let z = codes(&below, WarningCode::ZeroRate);
        let what: Vec<&str> = z
            .iter()
            .map(|w| w.message.split(" is 0").next().unwrap())
            .collect();
        assert_eq!(
            what,
            [
                "FNMR at threshold 0.5",
                "FNMR at FMR ≤ 1e-2",
                "FNMR at FMR ≤ 1e-3",
                "FNMR at FMR ≤ 1e-4",
                "EER"
            ],
            "{z:?}"
        );
        // The bound, not 0 alone.
        assert!(
            z[0].message
                .contains("≤ 0.997% (one-sided 95% upper bound)"),
            "{}",
            z[0]
        );
        assert!(codes(&perfect(300, 30_000), WarningCode::ZeroRate).is_empty());
        let few_impostors = perfect(300, 29_999);
        let z = codes(&few_impostors, WarningCode::ZeroRate);
        assert_eq!(z.len(), 1, "{z:?}");
        assert!(z[0]
            .message
            .starts_with("FMR at threshold 0.5 is 0 of 29999"));
    }

    #[test]
    fn every_warning_code_can_be_raised() {
        let mut seen = std::collections::BTreeSet::new();
        let mut add = |w: &[Warning]| seen.extend(w.iter().map(|w| w.code));
        add(&summarise(&Scores::default(), &no_boot()).unwrap().warnings);
        add(&with_acquisition((3, 100), (0, 0)).warnings);
        add(&with_acquisition((0, 100), (3, 100)).warnings);
        add(&perfect(10, 10).warnings);
        add(&summarise(&tiny(0, 0), &AccuracyOptions::default())
            .unwrap()
            .warnings);
        // Two subjects, one of each kind: replicates drawing one twice are left out.
        let mut s = tiny(0, 0);
        s.subjects = Some(Subjects {
            genuine: vec![1; 3],
            impostor: vec![2; 3],
        });
        add(&summarise(&s, &AccuracyOptions::default()).unwrap().warnings);
        let pad = pad::pad_summary(&PadCounts::default(), 0.95).unwrap();
        add(&pad.warnings);
        let mut c = PadCounts {
            bona_fide_presentations: 10,
            bona_fide_rejected: 9,
            ..PadCounts::default()
        };
        c.attacks.insert("none".into(), AttackCounts::default());
        c.attacks.insert(
            "few".into(),
            AttackCounts {
                presentations: 5,
                accepted: 0,
            },
        );
        add(&pad::pad_summary(&c, 0.95).unwrap().warnings);
        c.bona_fide_rejected = 0;
        add(&pad::pad_summary(&c, 0.95).unwrap().warnings);
        let all: std::collections::BTreeSet<_> = WarningCode::ALL.into_iter().collect();
        assert_eq!(seen, all);
    }
}
