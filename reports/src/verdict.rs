//! TTCN-3 verdicts and the result of one case.

use std::fmt;
use std::time::Duration;

/// `pass` < `inconc` < `fail` < `error` in badness; `skip` stands apart (nothing ran).
/// A merged verdict only gets worse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Skip,
    Inconc,
    Fail,
    Error,
}

impl Verdict {
    fn badness(self) -> u8 {
        match self {
            Verdict::Skip => 0,
            Verdict::Pass => 1,
            Verdict::Inconc => 2,
            Verdict::Fail => 3,
            Verdict::Error => 4,
        }
    }

    /// The worse of the two.
    pub fn merge(self, other: Verdict) -> Verdict {
        if other.badness() > self.badness() {
            other
        } else {
            self
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Skip => "skip",
            Verdict::Inconc => "inconc",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A measured value with its unit.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Measurement {
    pub name: String,
    pub value: f64,
    pub unit: String,
}

impl Measurement {
    pub fn new(name: impl Into<String>, value: f64, unit: &str) -> Self {
        Measurement {
            name: name.into(),
            value,
            unit: unit.to_owned(),
        }
    }

    /// A duration in milliseconds, rounded to the microsecond.
    pub fn millis(name: impl Into<String>, d: Duration) -> Self {
        Measurement::new(name, (d.as_secs_f64() * 1e6).round() / 1e3, "ms")
    }
}

/// One finished case.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CaseResult {
    /// Stable id, e.g. `conformance[valid].select_jpki_ap` or `reception.grace[in]`.
    pub id: String,
    /// The group it belongs to (JUnit classname), e.g. `conformance.valid`.
    pub group: String,
    pub name: String,
    pub verdict: Verdict,
    /// Why, for anything but a pass.
    pub reason: Option<String>,
    #[serde(with = "seconds")]
    pub duration: Duration,
    pub measurements: Vec<Measurement>,
    /// Evidence: APDU trace (secrets redacted) and event log.
    pub evidence: String,
    /// The questions put to the person at the bench, and their answers: when there is one,
    /// the verdict rests on an operator's word ([`CaseResult::operator_decided`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operator: Vec<OperatorAnswer>,
}

/// A question the bench put to a person during a case, and what came of it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OperatorAnswer {
    /// The prompt's id in the scenario.
    pub prompt: String,
    /// The question as asked (English; the Japanese is in the scenario).
    pub question: String,
    /// When it was asked (RFC 3339, UTC).
    pub asked_at: String,
    /// When it was answered; none when nobody answered by the deadline.
    pub answered_at: Option<String>,
    /// The answer (`yes`, `no`, a choice's label, or free text with the card's secrets
    /// masked).
    pub answer: Option<String>,
    /// Who answered: `terminal`, `live page (ADDRESS)`, `device (ADDRESS)`, `script (FILE)`.
    pub by: Option<String>,
    /// What the answer meant for the verdict: `continue`, `fail`, `inconc`, or
    /// `unanswered` (inconc).
    pub meaning: String,
}

impl CaseResult {
    /// `group.name` with `verdict` and nothing else yet (no reason, time, measurement or
    /// evidence): the fields are public to fill in.
    pub fn new(group: &str, name: &str, verdict: Verdict) -> Self {
        CaseResult {
            id: format!("{group}.{name}"),
            group: group.to_owned(),
            name: name.to_owned(),
            verdict,
            reason: None,
            duration: Duration::ZERO,
            measurements: Vec::new(),
            evidence: String::new(),
            operator: Vec::new(),
        }
    }

    /// Whether the verdict rests on an operator's answer (or on the lack of one).
    pub fn operator_decided(&self) -> bool {
        !self.operator.is_empty()
    }
}

/// Durations as seconds (a float) in JSON.
mod seconds {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

/// A passing case with one `total` measurement and a line of evidence, for tests.
#[cfg(test)]
pub(crate) fn sample_case(id: &str) -> CaseResult {
    CaseResult {
        id: id.into(),
        group: "g".into(),
        name: id.into(),
        verdict: Verdict::Pass,
        reason: None,
        duration: Duration::from_millis(5),
        measurements: vec![Measurement::new("total", 1.5, "ms")],
        evidence: "> 00A4\n< 9000".into(),
        operator: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_only_gets_worse() {
        use Verdict::*;
        let all = [Pass, Skip, Inconc, Fail, Error];
        for a in all {
            for b in all {
                let m = a.merge(b);
                assert!(m.badness() >= a.badness() && m.badness() >= b.badness());
                assert!(m == a || m == b);
            }
        }
        assert_eq!(Pass.merge(Fail), Fail);
        assert_eq!(Error.merge(Pass), Error);
        assert_eq!(Skip.merge(Pass), Pass);
    }
}
