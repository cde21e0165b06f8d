//! Presentation-attack detection error rates (ISO/IEC 30107-3), reported apart from the
//! verification rates.
//!
//! - APCER of an attack species: attack presentations of that species wrongly accepted as bona
//!   fide / attack presentations of that species. Species are never pooled: the standard reports
//!   each, and the worst (highest APCER) as the system's APCER.
//! - BPCER: bona fide presentations wrongly classified as attacks / bona fide presentations.
//!
//! Every rate carries its Clopper-Pearson interval (presentation-level: it assumes independent
//! presentations). APCER means little without BPCER: a check that rejects everything has APCER
//! 0, so a BPCER at or above [`PadOptions::bpcer_limit`] is a warning, as is a species with too
//! few presentations for an APCER claim at [`PadOptions::rate_claim`].

use super::curve::rule_of_three_needed;
use super::markdown::{interval, level, pct, proportion, warnings};
use super::stats::{zero_upper_bound, Proportion};
use super::{AccuracyError, Warning, WarningCode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Attack presentations of one species and how many were wrongly accepted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AttackCounts {
    pub presentations: u64,
    pub accepted: u64,
}

/// The counts of one presentation-attack run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PadCounts {
    /// Per attack species (e.g. "printed photo", "screen replay").
    pub attacks: BTreeMap<String, AttackCounts>,
    pub bona_fide_presentations: u64,
    /// Bona fide presentations wrongly classified as attacks.
    pub bona_fide_rejected: u64,
}

/// What to compute and what to warn about.
#[derive(Clone, Debug, PartialEq)]
pub struct PadOptions {
    /// Confidence level of every interval. Default 0.95.
    pub confidence: f64,
    /// A BPCER at or above this makes APCER uninformative (`bpcer-above-limit`). Default 0.5:
    /// a check that rejects half the bona fide presentations is no better than a coin on them.
    /// In (0, 1].
    pub bpcer_limit: f64,
    /// The smallest APCER (or BPCER) the report should support: a species with fewer than
    /// 3 / `rate_claim` presentations gets `too-few-presentations`, a BPCER of 0 from fewer bona
    /// fide presentations `zero-rate`. Default 0.05 (60 presentations a species). In (0, 1).
    pub rate_claim: f64,
}

impl Default for PadOptions {
    fn default() -> Self {
        PadOptions {
            confidence: 0.95,
            bpcer_limit: 0.5,
            rate_claim: 0.05,
        }
    }
}

/// The APCER of one species.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpeciesApcer {
    pub species: String,
    pub apcer: Proportion,
}

/// APCER per species, the maximum, and BPCER.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PadSummary {
    pub confidence: f64,
    /// How every interval is computed.
    pub interval_method: String,
    /// Species with at least one presentation, in name order.
    pub apcer: Vec<SpeciesApcer>,
    /// The species with the highest APCER (the first by name on a tie).
    pub max_apcer: Option<SpeciesApcer>,
    /// `None` without bona fide presentations.
    pub bpcer: Option<Proportion>,
    /// [`PadOptions::bpcer_limit`] as used.
    pub bpcer_limit: f64,
    /// [`PadOptions::rate_claim`] as used.
    pub rate_claim: f64,
    pub warnings: Vec<Warning>,
}

/// Interval label of PAD rates.
pub const PRESENTATION_CLOPPER_PEARSON: &str =
    "Clopper-Pearson, presentation-level (assumes independent presentations)";

/// APCER per species (and the maximum) and BPCER, with intervals at `confidence` and the
/// default limits ([`PadOptions::default`]).
pub fn pad_summary(counts: &PadCounts, confidence: f64) -> Result<PadSummary, AccuracyError> {
    pad_summary_with(
        counts,
        &PadOptions {
            confidence,
            ..PadOptions::default()
        },
    )
}

/// APCER per species (and the maximum) and BPCER, as `options` say.
pub fn pad_summary_with(
    counts: &PadCounts,
    options: &PadOptions,
) -> Result<PadSummary, AccuracyError> {
    let confidence = options.confidence;
    let bad = |m: String| Err(AccuracyError::InvalidOption(m));
    if !(confidence > 0.0 && confidence < 1.0) {
        return bad(format!("confidence {confidence} not in (0, 1)"));
    }
    if !(options.bpcer_limit > 0.0 && options.bpcer_limit <= 1.0) {
        return bad(format!("BPCER limit {} not in (0, 1]", options.bpcer_limit));
    }
    if !(options.rate_claim > 0.0 && options.rate_claim < 1.0) {
        return bad(format!("rate claim {} not in (0, 1)", options.rate_claim));
    }
    let needed = rule_of_three_needed(options.rate_claim);
    let bound = |n: u64| {
        format!(
            "≤ {} (one-sided {} upper bound)",
            pct(zero_upper_bound(n, confidence)),
            level(confidence)
        )
    };
    let mut warnings = Vec::new();
    let mut apcer = Vec::new();
    for (species, c) in &counts.attacks {
        if c.accepted > c.presentations {
            return Err(AccuracyError::InvalidCounts(format!(
                "attack species {species:?}: {} accepted of {} presentations",
                c.accepted, c.presentations
            )));
        }
        match Proportion::new(c.accepted, c.presentations, confidence) {
            Some(p) => {
                if p.trials < needed {
                    let zero = if p.count == 0 {
                        format!("; its APCER of 0 reads as {}", bound(p.trials))
                    } else {
                        String::new()
                    };
                    warnings.push(Warning::new(
                        WarningCode::TooFewPresentations,
                        format!(
                            "attack species {species:?}: {} presentations; at least {needed} \
                             are needed to support APCER ≤ {} (rule of 3){zero}",
                            p.trials,
                            pct(options.rate_claim)
                        ),
                    ));
                }
                apcer.push(SpeciesApcer {
                    species: species.clone(),
                    apcer: p,
                });
            }
            None => warnings.push(Warning::new(
                WarningCode::NoPresentations,
                format!(
                    "attack species {species:?} has no presentations: its APCER is not defined"
                ),
            )),
        }
    }
    if counts.bona_fide_rejected > counts.bona_fide_presentations {
        return Err(AccuracyError::InvalidCounts(format!(
            "{} bona fide presentations rejected of {}",
            counts.bona_fide_rejected, counts.bona_fide_presentations
        )));
    }
    if counts.attacks.is_empty() {
        warnings.push(Warning::new(
            WarningCode::NoAttackSpecies,
            "no attack species: APCER is not defined",
        ));
    }
    let bpcer = Proportion::new(
        counts.bona_fide_rejected,
        counts.bona_fide_presentations,
        confidence,
    );
    match &bpcer {
        None => warnings.push(Warning::new(
            WarningCode::NoBonaFide,
            "no bona fide presentations: BPCER is not defined, and APCER alone says nothing \
             (a check that rejects everything has APCER 0)",
        )),
        Some(b) if b.rate >= options.bpcer_limit => warnings.push(Warning::new(
            WarningCode::BpcerAboveLimit,
            format!(
                "BPCER is {} ({} of {} bona fide presentations rejected), at or above {}: the \
                 check rejects so much that its APCER is uninformative (a check that rejects \
                 everything has APCER 0 trivially)",
                pct(b.rate),
                b.count,
                b.trials,
                pct(options.bpcer_limit)
            ),
        )),
        Some(b) if b.count == 0 && b.trials < needed => warnings.push(Warning::new(
            WarningCode::ZeroRate,
            format!(
                "BPCER is 0 of {}: read it as {}; {needed} presentations are needed to claim \
                 ≤ {}",
                b.trials,
                bound(b.trials),
                pct(options.rate_claim)
            ),
        )),
        Some(_) => {}
    }
    let max_apcer = apcer
        .iter()
        .fold(None::<&SpeciesApcer>, |best, s| match best {
            Some(b) if b.apcer.rate >= s.apcer.rate => Some(b),
            _ => Some(s),
        })
        .cloned();
    Ok(PadSummary {
        confidence,
        interval_method: PRESENTATION_CLOPPER_PEARSON.into(),
        apcer,
        max_apcer,
        bpcer,
        bpcer_limit: options.bpcer_limit,
        rate_claim: options.rate_claim,
        warnings,
    })
}

/// The Markdown of [`PadSummary::to_markdown`] (the shared words come from
/// [`super::markdown`]).
impl PadSummary {
    /// A short Markdown report.
    pub fn to_markdown(&self) -> String {
        markdown(self)
    }
}

fn markdown(s: &PadSummary) -> String {
    let ci = level(s.confidence);
    let mut out = String::from("### Presentation attack detection (ISO/IEC 30107-3)\n\n");
    if !s.apcer.is_empty() {
        let _ = writeln!(
            out,
            "| attack species | accepted / presentations | APCER | {ci} interval |\n|---|---|---|---|"
        );
        for a in &s.apcer {
            let _ = writeln!(
                out,
                "| {} | {} / {} | {} | {} |",
                a.species,
                a.apcer.count,
                a.apcer.trials,
                pct(a.apcer.rate),
                interval(&a.apcer.interval)
            );
        }
        out.push('\n');
    }
    if let Some(m) = &s.max_apcer {
        let _ = writeln!(
            out,
            "- Highest APCER: {} ({})",
            proportion(&m.apcer, s.confidence),
            m.species
        );
    }
    if let Some(b) = &s.bpcer {
        let _ = writeln!(out, "- BPCER: {}", proportion(b, s.confidence));
    }
    let _ = writeln!(out, "- Intervals: {ci} {}", s.interval_method);
    warnings(&mut out, &s.warnings);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts() -> PadCounts {
        let mut attacks = BTreeMap::new();
        attacks.insert(
            "printed photo".to_string(),
            AttackCounts {
                presentations: 100,
                accepted: 5,
            },
        );
        attacks.insert(
            "screen replay".to_string(),
            AttackCounts {
                presentations: 50,
                accepted: 0,
            },
        );
        attacks.insert(
            "mask".to_string(),
            AttackCounts {
                presentations: 20,
                accepted: 1,
            },
        );
        attacks.insert("empty".to_string(), AttackCounts::default());
        PadCounts {
            attacks,
            bona_fide_presentations: 200,
            bona_fide_rejected: 3,
        }
    }

    #[test]
    fn per_species_max_and_bpcer() {
        let s = pad_summary(&counts(), 0.95).unwrap();
        let names: Vec<_> = s.apcer.iter().map(|a| a.species.as_str()).collect();
        assert_eq!(names, ["mask", "printed photo", "screen replay"]);
        let max = s.max_apcer.as_ref().unwrap();
        assert_eq!(max.species, "mask"); // 1/20 = 5/100: the first by name
        assert_eq!(max.apcer.rate, 0.05);
        let printed = &s.apcer[1].apcer;
        assert!((printed.interval.lower - 0.016_431_879).abs() < 1e-8);
        assert!((printed.interval.upper - 0.112_834_911).abs() < 1e-8);
        let b = s.bpcer.unwrap();
        assert_eq!((b.count, b.trials), (3, 200));
        let codes: Vec<_> = s.warnings.iter().map(|w| w.code).collect();
        // "empty" has none; "mask" (20) and "screen replay" (50) are under 60.
        assert_eq!(
            codes,
            [
                WarningCode::NoPresentations,
                WarningCode::TooFewPresentations,
                WarningCode::TooFewPresentations
            ],
            "{:?}",
            s.warnings
        );
        assert!(s.warnings[0].message.contains("empty"));
        assert!(s.warnings[2].message.contains("screen replay"));
        // Its 0 of 50 is given as a bound, not as 0 alone.
        assert!(
            s.warnings[2].message.contains("≤ 5.82%"),
            "{}",
            s.warnings[2]
        );
        let md = s.to_markdown();
        assert!(md.contains("| printed photo | 5 / 100 |"), "{md}");
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<PadSummary>(&json).unwrap(), s);
    }

    #[test]
    fn impossible_counts_are_errors() {
        let mut c = counts();
        c.bona_fide_rejected = 201;
        assert!(matches!(
            pad_summary(&c, 0.95),
            Err(AccuracyError::InvalidCounts(_))
        ));
        let mut c = counts();
        c.attacks.get_mut("mask").unwrap().accepted = 21;
        assert!(pad_summary(&c, 0.95).is_err());
        let empty = pad_summary(&PadCounts::default(), 0.95).unwrap();
        let codes: Vec<_> = empty.warnings.iter().map(|w| w.code).collect();
        assert_eq!(
            codes,
            [WarningCode::NoAttackSpecies, WarningCode::NoBonaFide]
        );
        for bad in [
            PadOptions {
                bpcer_limit: 0.0,
                ..PadOptions::default()
            },
            PadOptions {
                rate_claim: 1.0,
                ..PadOptions::default()
            },
        ] {
            assert!(pad_summary_with(&counts(), &bad).is_err());
        }
    }

    fn codes(c: &PadCounts, o: &PadOptions) -> Vec<WarningCode> {
        pad_summary_with(c, o)
            .unwrap()
            .warnings
            .iter()
            .map(|w| w.code)
            .collect()
    }

    fn one_species(presentations: u64, accepted: u64, bona: u64, rejected: u64) -> PadCounts {
        PadCounts {
            attacks: BTreeMap::from([(
                "print".to_string(),
                AttackCounts {
                    presentations,
                    accepted,
                },
            )]),
            bona_fide_presentations: bona,
            bona_fide_rejected: rejected,
        }
    }

    #[test]
    fn bpcer_limit_warns_at_its_edge_and_not_below() {
        let o = PadOptions::default();
        let at = codes(&one_species(60, 0, 200, 100), &o);
        assert_eq!(at, [WarningCode::BpcerAboveLimit]);
        let s = pad_summary_with(&one_species(60, 0, 200, 100), &o).unwrap();
        assert!(s.warnings[0].message.contains("APCER 0 trivially"));
        assert!(codes(&one_species(60, 0, 200, 99), &o).is_empty());
        let strict = PadOptions {
            bpcer_limit: 0.1,
            ..o
        };
        assert_eq!(
            codes(&one_species(60, 0, 200, 20), &strict),
            [WarningCode::BpcerAboveLimit]
        );
    }

    #[test]
    fn too_few_presentations_and_zero_bpcer_at_their_edges() {
        let o = PadOptions::default(); // claim 5%: 60 presentations
        assert_eq!(
            codes(&one_species(59, 3, 200, 1), &o),
            [WarningCode::TooFewPresentations]
        );
        assert!(codes(&one_species(60, 3, 200, 1), &o).is_empty());
        // BPCER 0 of 59 bona fide: a bound; of 60: enough to claim ≤ 5%.
        assert_eq!(
            codes(&one_species(60, 3, 59, 0), &o),
            [WarningCode::ZeroRate]
        );
        assert!(codes(&one_species(60, 3, 60, 0), &o).is_empty());
    }
}
