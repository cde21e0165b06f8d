//! Biometric accuracy: verification error rates (ISO/IEC 19795-1) and presentation-attack
//! detection error rates (ISO/IEC 30107-3).
//!
//! - [`summarise`] / [`evaluate`]: from genuine and impostor comparison scores (higher = more
//!   alike, accept `score >= threshold`) the exact DET curve ([`DetCurve`]), the EER, FNMR at
//!   fixed FMR points with the threshold taken from the impostor scores (NIST FRTE style),
//!   FMR/FNMR at a given operating threshold, the failure-to-acquire rate, Clopper-Pearson
//!   intervals for every rate, a rule-of-3 warning when there are too few impostor comparisons
//!   for an FMR claim, and optionally percentile intervals from a bootstrap by subject.
//!   Definitions are in [`curve`].
//! - [`pad_summary`]: APCER per attack species and the maximum over species, BPCER.
//! - [`raw`]: the CSV of raw comparison scores the harness writes and reads back.
//!
//! Scores must be finite: NaN or ±∞ is an error, never silently dropped.

mod bootstrap;
pub mod curve;
pub(crate) mod markdown;
pub mod pad;
pub mod raw;
pub mod stats;

pub use bootstrap::{BootstrapOptions, BootstrapSummary, TargetInterval};
pub use curve::{DetCurve, DetPoint, Eer, FnmrAtFmr, NearestFmrPoint, OperatingPoint};
pub use pad::{pad_summary, AttackCounts, PadCounts, PadSummary, SpeciesApcer};
pub use raw::{
    read_raw_scores, read_raw_scores_from, write_raw_scores, write_raw_scores_to, ComparisonKind,
    RawScoresError, ScoreRecord,
};
pub use stats::{clopper_pearson, Interval, Proportion};

use serde::{Deserialize, Serialize};

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
/// subject, for an impostor comparison the subject of its first (probe) sample. Ids are any
/// numbers; [`Scores::from_records`] numbers the subject names.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Subjects {
    pub genuine: Vec<u32>,
    pub impostor: Vec<u32>,
}

/// Acquisition attempts and how many failed to acquire (no usable face: not scored).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AcquisitionCounts {
    /// All attempts, failed ones included.
    pub attempts: u64,
    pub failures: u64,
}

/// The measured data of one accuracy run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scores {
    pub genuine: Vec<f64>,
    pub impostor: Vec<f64>,
    /// Needed only for the bootstrap by subject.
    pub subjects: Option<Subjects>,
    /// Needed only for the FTA rate.
    pub acquisition: Option<AcquisitionCounts>,
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
    pub fn from_records(records: &[ScoreRecord]) -> Scores {
        let mut ids = std::collections::HashMap::<&str, u32>::new();
        let mut scores = Scores::default();
        let mut subjects = Subjects::default();
        for r in records {
            let next = ids.len() as u32;
            let id = *ids.entry(r.subject_a.as_str()).or_insert(next);
            match r.kind {
                ComparisonKind::Genuine => {
                    scores.genuine.push(r.score);
                    subjects.genuine.push(id);
                }
                ComparisonKind::Impostor => {
                    scores.impostor.push(r.score);
                    subjects.impostor.push(id);
                }
            }
        }
        scores.subjects = Some(subjects);
        scores
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
        if let Some(a) = self.acquisition {
            if a.failures > a.attempts {
                return Err(AccuracyError::InvalidCounts(format!(
                    "{} failures to acquire in {} attempts",
                    a.failures, a.attempts
                )));
            }
        }
        Ok(())
    }
}

/// What to compute.
#[derive(Clone, Debug, PartialEq)]
pub struct AccuracyOptions {
    /// FMR targets for FNMR@FMR, each in (0, 1). Default 1e-2, 1e-3, 1e-4.
    pub fmr_targets: Vec<f64>,
    /// Confidence level of every interval. Default 0.95.
    pub confidence: f64,
    /// Also report FMR and FNMR at this threshold (the matcher's configured one, e.g. 0.363).
    pub operating_threshold: Option<f64>,
    /// Percentile intervals from a bootstrap by subject (needs [`Scores::subjects`]).
    pub bootstrap: Option<BootstrapOptions>,
}

impl Default for AccuracyOptions {
    fn default() -> Self {
        AccuracyOptions {
            fmr_targets: vec![1e-2, 1e-3, 1e-4],
            confidence: 0.95,
            operating_threshold: None,
            bootstrap: None,
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

/// The verification accuracy of one run (JSON through serde; Markdown through
/// [`AccuracySummary::to_markdown`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccuracySummary {
    pub genuine_comparisons: u64,
    pub impostor_comparisons: u64,
    pub genuine_scores: Option<ScoreStats>,
    pub impostor_scores: Option<ScoreStats>,
    /// Confidence level of every interval.
    pub confidence: f64,
    /// `None` without genuine or without impostor scores.
    pub eer: Option<Eer>,
    /// One per FMR target, in the order given; empty without genuine or impostor scores.
    pub fnmr_at_fmr: Vec<FnmrAtFmr>,
    pub at_threshold: Option<OperatingPoint>,
    /// Failure-to-acquire rate; `None` without acquisition counts (or with 0 attempts).
    pub fta: Option<Proportion>,
    pub bootstrap: Option<BootstrapSummary>,
    /// Things the reader must know before trusting a number (too few comparisons, …).
    pub warnings: Vec<String>,
}

impl AccuracySummary {
    /// A short Markdown report.
    pub fn to_markdown(&self) -> String {
        markdown::accuracy(self)
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

/// The summary and the curve of `scores`.
pub fn evaluate(scores: &Scores, options: &AccuracyOptions) -> Result<Evaluation, AccuracyError> {
    scores.validate()?;
    options.validate()?;
    let confidence = options.confidence;
    let mut warnings = Vec::new();

    let curve = match (scores.genuine.is_empty(), scores.impostor.is_empty()) {
        (false, false) => Some(DetCurve::from_sorted(
            &curve::sorted_scores(&scores.genuine),
            &curve::sorted_scores(&scores.impostor),
        )),
        (g, i) => {
            if g {
                warnings.push(
                    "no genuine comparisons: FNMR, EER and the DET curve are not defined".into(),
                );
            }
            if i {
                warnings.push(
                    "no impostor comparisons: FMR, EER and the DET curve are not defined".into(),
                );
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
                warnings.push(format!(
                    "FMR {target:e}: {} impostor comparisons; at least {} are needed to support \
                     FMR ≤ {target:e} at 95% confidence (rule of 3)",
                    c.impostor_count(),
                    op.impostors_needed
                ));
            }
            fnmr_at_fmr.push(op);
        }
        at_threshold = options
            .operating_threshold
            .map(|t| c.at_threshold(t, confidence));
    }

    let fta = scores.acquisition.and_then(|a| {
        let p = Proportion::new(a.failures, a.attempts, confidence);
        if p.is_none() {
            warnings.push("no acquisition attempts: the FTA rate is not defined".into());
        }
        p
    });

    let bootstrap = match (&options.bootstrap, &scores.subjects, &curve) {
        (Some(b), Some(subjects), Some(_)) => {
            let summary = bootstrap::run(scores, subjects, &options.fmr_targets, b, confidence);
            if summary.used_replicates < summary.replicates {
                warnings.push(format!(
                    "bootstrap: {} of {} replicates drew no genuine or no impostor comparison \
                     and were left out",
                    summary.replicates - summary.used_replicates,
                    summary.replicates
                ));
            }
            Some(summary)
        }
        (Some(_), None, _) => {
            warnings.push("bootstrap requested but the scores carry no subject ids".into());
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
        eer,
        fnmr_at_fmr,
        at_threshold,
        fta,
        bootstrap,
        warnings,
    };
    Ok(Evaluation { summary, curve })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(sum.warnings[0].contains("no genuine"));
        let s = Scores::new(vec![0.1], vec![]);
        let sum = summarise(&s, &AccuracyOptions::default()).unwrap();
        assert!(sum.warnings[0].contains("no impostor"));
        let sum = summarise(&Scores::default(), &AccuracyOptions::default()).unwrap();
        assert_eq!(sum.warnings.len(), 2);
        assert!(sum.to_markdown().contains("no genuine"));
        assert_eq!(DetCurve::new(&[], &[1.0]), Err(AccuracyError::NoGenuine));
        assert_eq!(DetCurve::new(&[1.0], &[]), Err(AccuracyError::NoImpostor));
    }

    #[test]
    fn rule_of_three_warning_triggers_below_30000() {
        let gen = vec![0.9; 10];
        let imp: Vec<f64> = (0..29_999).map(|i| f64::from(i) * 1e-6).collect();
        let sum = summarise(&Scores::new(gen.clone(), imp), &AccuracyOptions::default()).unwrap();
        let w: Vec<_> = sum
            .warnings
            .iter()
            .filter(|w| w.contains("rule of 3"))
            .collect();
        assert_eq!(w.len(), 1, "{:?}", sum.warnings);
        assert!(w[0].contains("30000"), "{}", w[0]);
        assert!(!sum.fnmr_at_fmr[2].enough_impostors);
        assert!(sum.fnmr_at_fmr[1].enough_impostors);

        let imp: Vec<f64> = (0..30_000).map(|i| f64::from(i) * 1e-6).collect();
        let sum = summarise(&Scores::new(gen, imp), &AccuracyOptions::default()).unwrap();
        assert!(sum.warnings.is_empty(), "{:?}", sum.warnings);
        assert!(sum.fnmr_at_fmr.iter().all(|o| o.enough_impostors));
    }

    #[test]
    fn fta_threshold_and_json_round_trip() {
        let mut s = Scores::new(vec![0.8, 0.7, 0.3], vec![0.1, 0.2, 0.4, 0.05]);
        s.acquisition = Some(AcquisitionCounts {
            attempts: 20,
            failures: 1,
        });
        let opts = AccuracyOptions {
            operating_threshold: Some(0.363),
            ..AccuracyOptions::default()
        };
        let sum = summarise(&s, &opts).unwrap();
        let fta = sum.fta.unwrap();
        assert_eq!((fta.count, fta.trials, fta.rate), (1, 20, 0.05));
        let op = sum.at_threshold.as_ref().unwrap();
        assert_eq!((op.fmr.count, op.fnmr.count), (1, 1));
        let json = serde_json::to_string_pretty(&sum).unwrap();
        let back: AccuracySummary = serde_json::from_str(&json).unwrap();
        assert_eq!(back, sum);
        let md = sum.to_markdown();
        assert!(md.contains("EER"), "{md}");
        assert!(md.contains("0.363"), "{md}");

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
        ] {
            assert!(matches!(
                summarise(&s, &opts),
                Err(AccuracyError::InvalidOption(_))
            ));
        }
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
}
