//! Named rule sets a scenario can choose, and the policy choices each one makes where
//! the sources are silent (docs/reception-rules.md). The dated document rules of each set are in [`super::documents`].

use super::RuleError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which reading of the reception rules a scenario is judged by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RuleSet {
    /// `seed` (the default): the seed and the official pages (docs/reception-rules.md, "Fallback ladder"
    /// \[firm]). 資格情報のお知らせ counts only with the card; the old 健康保険証 is accepted
    /// until 2025-12-01 inclusive; a valid 資格確認書 any time from 2024-12-02.
    #[default]
    #[serde(rename = "seed")]
    Seed,
    /// `interim-2026`: the seed plus the interim rule to 2026-03-31 \[soft: several
    /// secondary sources]: an expired 健康保険証, or a 資格情報のお知らせ on its own, is
    /// accepted when an online lookup by its numbers confirms the qualification.
    #[serde(rename = "interim-2026")]
    Interim2026,
}

impl RuleSet {
    /// Every rule set.
    pub const ALL: [RuleSet; 2] = [RuleSet::Seed, RuleSet::Interim2026];

    /// The name a scenario uses: `seed` or `interim-2026`.
    pub const fn name(self) -> &'static str {
        match self {
            RuleSet::Seed => "seed",
            RuleSet::Interim2026 => "interim-2026",
        }
    }

    /// The rule set called `name`; [`RuleError::UnknownRuleSet`] for any other name.
    pub fn from_name(name: &str) -> Result<Self, RuleError> {
        RuleSet::ALL
            .into_iter()
            .find(|set| set.name() == name)
            .ok_or_else(|| RuleError::UnknownRuleSet(name.to_owned()))
    }

    /// The policy choices of this rule set.
    pub const fn policy(self) -> &'static Policy {
        match self {
            RuleSet::Seed | RuleSet::Interim2026 => &DEFAULT_POLICY,
        }
    }
}

impl fmt::Display for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RuleSet {
    type Err = RuleError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        RuleSet::from_name(name)
    }
}

/// Choices the sources leave open (docs/reception-rules.md). Each field is \[soft]; both rule sets share
/// [`DEFAULT_POLICY`] today, and a new rule set can choose differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The verbal check (return visit) and the 被保険者資格申立書 (first visit) need the card to
    /// have been presented and failed. the sources put both steps on the ladder "when the card
    /// path fails"; a patient who brings neither the card nor an accepted document is not
    /// confirmed (pays 10割 and claims later). Default `true` \[soft].
    pub statement_needs_failed_card: bool,
    /// When the card path failed because the qualification service is down, an online lookup
    /// by a document's numbers (the interim rule) cannot be made either: it is the same
    /// service. Default `true` \[soft].
    pub service_down_blocks_lookup: bool,
    /// The insurer number a claim uses when the insurer is unknown, on the verbal-check and
    /// statement-form routes (docs/reception-rules.md: "claims with an unknown insurer use insurer number
    /// 77777777" \[firm]). Card and document routes always name the insurer.
    pub unknown_insurer_number: &'static str,
}

/// The policy of [`RuleSet::Seed`] and [`RuleSet::Interim2026`].
pub const DEFAULT_POLICY: Policy = Policy {
    statement_needs_failed_card: true,
    service_down_blocks_lookup: true,
    unknown_insurer_number: "77777777",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_seed_is_the_default() {
        for set in RuleSet::ALL {
            assert_eq!(RuleSet::from_name(set.name()).ok(), Some(set));
            assert_eq!(set.to_string().parse::<RuleSet>().ok(), Some(set));
            let json = serde_json::to_string(&set).expect("serialises");
            assert_eq!(json, format!("\"{}\"", set.name()));
        }
        assert_eq!(RuleSet::default(), RuleSet::Seed);
        assert!(matches!(
            RuleSet::from_name("interim"),
            Err(RuleError::UnknownRuleSet(name)) if name == "interim"
        ));
    }

    #[test]
    fn unknown_insurer_number_is_seven_sevens() {
        assert_eq!(RuleSet::Seed.policy().unknown_insurer_number, "77777777");
    }
}
