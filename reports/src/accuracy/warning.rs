//! Typed warnings: what a reader must know before trusting a number.
//!
//! Each warning has a stable kebab-case code (the JSON `{"code": …, "message": …}`), so a
//! caller can act on kinds of warnings (fail a run on any of them, or on some) without reading
//! the words, which may change. [`WarningCode::ALL`] is the name table.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The kind of a warning. Serialised as its [`WarningCode::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WarningCode {
    /// No genuine comparison was made: FNMR, EER and the DET curve are not defined.
    NoGenuine,
    /// No impostor comparison was made: FMR, EER and the DET curve are not defined.
    NoImpostor,
    /// Acquisition counts with no attempt: FTA (or FTE) is not defined.
    NoAcquisitionAttempts,
    /// The failure-to-acquire rate is above [`super::AccuracyOptions::fta_limit`].
    FtaAboveLimit,
    /// The failure-to-enrol rate is above [`super::AccuracyOptions::fta_limit`].
    FteAboveLimit,
    /// Samples failed to acquire but the comparisons they cost were not recorded, so the
    /// generalised rates (FAR, FRR) cannot be given.
    LostNotRecorded,
    /// Fewer impostor comparisons than the rule of 3 needs for an FMR target.
    TooFewImpostors,
    /// A rate observed as 0 from fewer trials than a claim at the chosen level needs.
    ZeroRate,
    /// Bootstrap replicates that drew no genuine or no impostor comparison were left out.
    BootstrapReplicatesDropped,
    /// A bootstrap was asked for but the scores carry no subject ids.
    BootstrapWithoutSubjects,
    /// PAD: no attack species at all.
    NoAttackSpecies,
    /// PAD: an attack species without presentations.
    NoPresentations,
    /// PAD: no bona fide presentations.
    NoBonaFide,
    /// PAD: BPCER at or above [`super::pad::PadOptions::bpcer_limit`]: APCER says little.
    BpcerAboveLimit,
    /// PAD: fewer presentations of a species than an APCER claim needs (rule of 3).
    TooFewPresentations,
}

impl WarningCode {
    /// Every code, in declaration order.
    pub const ALL: [WarningCode; 15] = [
        WarningCode::NoGenuine,
        WarningCode::NoImpostor,
        WarningCode::NoAcquisitionAttempts,
        WarningCode::FtaAboveLimit,
        WarningCode::FteAboveLimit,
        WarningCode::LostNotRecorded,
        WarningCode::TooFewImpostors,
        WarningCode::ZeroRate,
        WarningCode::BootstrapReplicatesDropped,
        WarningCode::BootstrapWithoutSubjects,
        WarningCode::NoAttackSpecies,
        WarningCode::NoPresentations,
        WarningCode::NoBonaFide,
        WarningCode::BpcerAboveLimit,
        WarningCode::TooFewPresentations,
    ];

    /// The code as written in JSON and Markdown, e.g. `fta-above-limit`.
    pub fn name(self) -> &'static str {
        match self {
            WarningCode::NoGenuine => "no-genuine",
            WarningCode::NoImpostor => "no-impostor",
            WarningCode::NoAcquisitionAttempts => "no-acquisition-attempts",
            WarningCode::FtaAboveLimit => "fta-above-limit",
            WarningCode::FteAboveLimit => "fte-above-limit",
            WarningCode::LostNotRecorded => "lost-not-recorded",
            WarningCode::TooFewImpostors => "too-few-impostors",
            WarningCode::ZeroRate => "zero-rate",
            WarningCode::BootstrapReplicatesDropped => "bootstrap-replicates-dropped",
            WarningCode::BootstrapWithoutSubjects => "bootstrap-without-subjects",
            WarningCode::NoAttackSpecies => "no-attack-species",
            WarningCode::NoPresentations => "no-presentations",
            WarningCode::NoBonaFide => "no-bona-fide",
            WarningCode::BpcerAboveLimit => "bpcer-above-limit",
            WarningCode::TooFewPresentations => "too-few-presentations",
        }
    }

    /// The code named `name` (as [`WarningCode::name`] writes it), e.g. for a
    /// `--fail-on-warning CODE` option.
    pub fn from_name(name: &str) -> Option<WarningCode> {
        WarningCode::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for WarningCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One warning: its code and the words for a person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub code: WarningCode,
    pub message: String,
}

impl Warning {
    pub fn new(code: WarningCode, message: impl Into<String>) -> Warning {
        Warning {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_serde_names_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for c in WarningCode::ALL {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.name()));
            assert_eq!(WarningCode::from_name(c.name()), Some(c));
            assert!(seen.insert(c.name()));
            assert!(c
                .name()
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch == '-'));
        }
        assert_eq!(WarningCode::from_name("nope"), None);
        let w = Warning::new(WarningCode::ZeroRate, "x");
        assert_eq!(
            serde_json::to_string(&w).unwrap(),
            r#"{"code":"zero-rate","message":"x"}"#
        );
    }
}
