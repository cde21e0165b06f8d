//! Presentation-attack detection error rates (ISO/IEC 30107-3), reported apart from the
//! verification rates.
//!
//! - APCER of an attack species: attack presentations of that species wrongly accepted as bona
//!   fide / attack presentations of that species. Species are never pooled: the standard reports
//!   each, and the worst (highest APCER) as the system's APCER.
//! - BPCER: bona fide presentations wrongly classified as attacks / bona fide presentations.
//!
//! Every rate carries its Clopper-Pearson interval.

use super::stats::Proportion;
use super::AccuracyError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    /// Species with at least one presentation, in name order.
    pub apcer: Vec<SpeciesApcer>,
    /// The species with the highest APCER (the first by name on a tie).
    pub max_apcer: Option<SpeciesApcer>,
    /// `None` without bona fide presentations.
    pub bpcer: Option<Proportion>,
    pub warnings: Vec<String>,
}

/// APCER per species (and the maximum) and BPCER, with intervals at `confidence`.
pub fn pad_summary(counts: &PadCounts, confidence: f64) -> Result<PadSummary, AccuracyError> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(AccuracyError::InvalidOption(format!(
            "confidence {confidence} not in (0, 1)"
        )));
    }
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
            Some(p) => apcer.push(SpeciesApcer {
                species: species.clone(),
                apcer: p,
            }),
            None => warnings.push(format!(
                "attack species {species:?} has no presentations: its APCER is not defined"
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
        warnings.push("no attack species: APCER is not defined".into());
    }
    let bpcer = Proportion::new(
        counts.bona_fide_rejected,
        counts.bona_fide_presentations,
        confidence,
    );
    if bpcer.is_none() {
        warnings.push("no bona fide presentations: BPCER is not defined".into());
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
        apcer,
        max_apcer,
        bpcer,
        warnings,
    })
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
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert!(s.warnings[0].contains("empty"));
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
        assert!(
            pad_summary(&PadCounts::default(), 0.95)
                .unwrap()
                .warnings
                .len()
                == 2
        );
    }
}
