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
        }
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
