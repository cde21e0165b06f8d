//! Accuracy policies: what a device campaign must show, and the evidence each claim needs
//! (docs/device-accuracy.md, "The policy file"). A policy is a YAML file read through
//! `yaml::read_input` (bounded), every mistake reported at once with file:line:column; the
//! judgement of one claim on the campaign's evidence is a pure function.

use super::evidence::{lower_bound, upper_bound, zero_failure_minimum};
use crate::yaml::{Diagnostics, Document, Format, Map, Node};
use std::path::Path;

/// The keys of a policy file.
pub const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "source",
    "confidence",
    "frr",
    "far",
    "bpcer",
    "attacks",
];
/// The keys of `frr`, `far` and `bpcer`.
pub const RATE_KEYS: &[&str] = &["max", "min_transactions", "min_subjects"];
/// The keys of one entry of `attacks`.
pub const ATTACK_KEYS: &[&str] = &[
    "max_apcer",
    "max_iapar",
    "min_presentations",
    "min_subjects",
];
/// The key of `attacks` that stands for every species the campaign ran.
pub const ANY_SPECIES: &str = "any";

/// The policy format, for its diagnostics (a policy holds no secret).
pub const POLICY_FORMAT: Format = Format {
    top_keys: &[TOP_KEYS],
    secrets: &[],
};

/// The confidence levels a policy may ask for: one-sided bounds below 50 % would be below
/// the observed rate.
const CONFIDENCE: std::ops::RangeInclusive<f64> = 0.5..=0.999_999;
/// The most transactions or subjects a claim may ask for.
const MOST: i64 = 1_000_000_000;

/// A policy: its claims, judged at one confidence level.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub name: String,
    pub description: Option<String>,
    pub source: Option<String>,
    /// The one-sided confidence level of every upper bound, e.g. 0.8.
    pub confidence: f64,
    pub claims: Vec<Claim>,
}

/// Which rate a claim is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Measure {
    Frr,
    Far,
    Bpcer,
    /// APCER of a species (`None`: each species the campaign ran).
    Apcer(Option<String>),
    /// IAPAR of a species (`None`: each species the campaign ran).
    Iapar(Option<String>),
}

impl Measure {
    /// How reports name the rate, e.g. `FRR`, `APCER (print-flat)`.
    pub fn label(&self) -> String {
        let species = |s: &Option<String>| s.as_deref().unwrap_or(ANY_SPECIES).to_owned();
        match self {
            Measure::Frr => "FRR".into(),
            Measure::Far => "FAR".into(),
            Measure::Bpcer => "BPCER".into(),
            Measure::Apcer(s) => format!("APCER ({})", species(s)),
            Measure::Iapar(s) => format!("IAPAR ({})", species(s)),
        }
    }
}

/// "The rate is at most `max`", with the evidence that claim needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    pub measure: Measure,
    pub max: f64,
    /// The fewest transactions (presentations) the policy asks for; the zero-failure
    /// minimum applies whatever it says.
    pub min_transactions: Option<u64>,
    pub min_subjects: Option<u64>,
}

/// Why a policy could not be read: its diagnostics, already rendered.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub Diagnostics);

impl crate::failure::Classified for PolicyError {
    fn class(&self) -> crate::failure::FailureClass {
        crate::failure::FailureClass::Input
    }

    fn rendered(&self) -> bool {
        true
    }
}

/// Reads the policy at `path` (bounded by `yaml::read_input`).
pub fn load_policy(path: &Path) -> Result<Policy, PolicyError> {
    let text = crate::yaml::read_input(path)
        .map_err(|e| PolicyError(Diagnostics(vec![e.diagnostic(path)])))?;
    parse_policy(path, &text).map_err(PolicyError)
}

/// Converts policy text (`path` names it in diagnostics).
pub fn parse_policy(path: &Path, text: &str) -> Result<Policy, Diagnostics> {
    let doc = Document::new(path, text).with_format(POLICY_FORMAT);
    let policy = doc.parse(text).and_then(|root| convert(doc.node(&root)));
    doc.finish(policy)
}

fn convert(root: Node<'_, '_>) -> Option<Policy> {
    let map = root.root_map(TOP_KEYS)?;
    map.require_all(&["name", "confidence"]);
    let name = map.get("name").and_then(|n| n.string());
    let description = optional_text(&map, "description");
    let source = optional_text(&map, "source");
    let confidence = map.get("confidence").and_then(|n| n.number(CONFIDENCE));
    let mut claims = Vec::new();
    let mut complete = true;
    for (key, measure) in [
        ("frr", Measure::Frr),
        ("far", Measure::Far),
        ("bpcer", Measure::Bpcer),
    ] {
        if let Some(node) = map.get(key) {
            match rate_claim(node, measure) {
                Some(c) => claims.push(c),
                None => complete = false,
            }
        }
    }
    if let Some(node) = map.get("attacks") {
        match attack_claims(node) {
            Some(c) => claims.extend(c),
            None => complete = false,
        }
    }
    if complete && claims.is_empty() {
        map.node().report(
            "the policy makes no claim",
            Some("give at least one of frr, far, bpcer, attacks"),
        );
        return None;
    }
    Some(Policy {
        name: name?,
        description: description?,
        source: source?,
        confidence: confidence?,
        claims: complete.then_some(claims)?,
    })
}

/// `Some(None)` when absent, `None` when wrong (reported).
fn optional_text(map: &Map<'_, '_>, key: &str) -> Option<Option<String>> {
    match map.get(key) {
        None => Some(None),
        Some(n) => n.string().map(Some),
    }
}

/// A limit: a rate in (0, 1].
fn limit(node: Node<'_, '_>) -> Option<f64> {
    let v = node.number(0.0..=1.0)?;
    if v == 0.0 {
        node.report(
            "a limit of 0 can never be shown by a finite campaign",
            Some("give a rate above 0, e.g. 0.0001"),
        );
        return None;
    }
    Some(v)
}

/// An optional count in 1..=MOST.
fn count(map: &Map<'_, '_>, key: &str) -> Option<Option<u64>> {
    match map.get(key) {
        None => Some(None),
        Some(n) => n.integer(1..=MOST).map(|v| Some(v as u64)),
    }
}

fn rate_claim(node: Node<'_, '_>, measure: Measure) -> Option<Claim> {
    let map = node.map(RATE_KEYS)?;
    let max = map.required("max").and_then(limit);
    let min_transactions = count(&map, "min_transactions");
    let min_subjects = count(&map, "min_subjects");
    Some(Claim {
        measure,
        max: max?,
        min_transactions: min_transactions?,
        min_subjects: min_subjects?,
    })
}

/// `attacks:` — species (or `any`) → limits; each limit is one claim.
fn attack_claims(node: Node<'_, '_>) -> Option<Vec<Claim>> {
    let mut keys: Vec<&str> = camera_replay::attack::AttackSpecies::ALL
        .iter()
        .map(|s| s.name())
        .collect();
    keys.push(ANY_SPECIES);
    let map = node.map(&keys)?;
    let mut claims = Vec::new();
    let mut ok = true;
    for key in keys {
        let Some(entry) = map.get(key) else { continue };
        let species = (key != ANY_SPECIES).then(|| key.to_owned());
        let Some(limits) = entry.map(ATTACK_KEYS) else {
            ok = false;
            continue;
        };
        let apcer = limits.get("max_apcer").map(limit);
        let iapar = limits.get("max_iapar").map(limit);
        let min_transactions = count(&limits, "min_presentations");
        let min_subjects = count(&limits, "min_subjects");
        if apcer.is_none() && iapar.is_none() {
            limits.node().report(
                "no limit for this species",
                Some("give max_apcer, max_iapar or both"),
            );
            ok = false;
            continue;
        }
        let (Some(min_transactions), Some(min_subjects)) = (min_transactions, min_subjects) else {
            ok = false;
            continue;
        };
        for (max, measure) in [
            (apcer, Measure::Apcer(species.clone())),
            (iapar, Measure::Iapar(species.clone())),
        ] {
            match max {
                Some(Some(max)) => claims.push(Claim {
                    measure,
                    max,
                    min_transactions,
                    min_subjects,
                }),
                Some(None) => ok = false,
                None => {}
            }
        }
    }
    ok.then_some(claims)
}

/// What the campaign measured for one claim.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evidence {
    /// Errors of the kind the claim bounds (false accepts, false rejects, …).
    pub events: u64,
    pub trials: u64,
    /// Distinct subjects among the trials.
    pub subjects: u64,
    /// The subject bootstrap's one-sided upper bound at the policy's confidence, if run.
    pub bootstrap_upper: Option<f64>,
}

/// A claim's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimVerdict {
    Met,
    NotMet,
    /// Too few transactions or subjects for the claim either way.
    CannotSupport,
}

impl ClaimVerdict {
    pub fn words(self) -> &'static str {
        match self {
            ClaimVerdict::Met => "met",
            ClaimVerdict::NotMet => "not met",
            ClaimVerdict::CannotSupport => "the campaign cannot support this claim",
        }
    }
}

/// One claim judged, with every number the verdict rests on.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Judged {
    pub claim: String,
    pub max: f64,
    pub confidence: f64,
    pub verdict: ClaimVerdict,
    pub events: u64,
    pub trials: u64,
    pub subjects: u64,
    pub rate: Option<f64>,
    /// Clopper-Pearson one-sided upper bound (transaction-level).
    pub clopper_pearson_upper: Option<f64>,
    /// Subject bootstrap one-sided upper bound.
    pub bootstrap_upper: Option<f64>,
    /// The bound the verdict uses: the larger of the two (a zero count never reads as a
    /// zero bound, and correlated transactions never narrow it).
    pub upper: Option<f64>,
    /// The fewest transactions the claim needs: the policy's, or the zero-failure minimum
    /// at the policy's confidence if that is more.
    pub needed_transactions: u64,
    /// The zero-failure minimum alone: ⌈ln(1 − confidence) / ln(1 − max)⌉.
    pub zero_failure_minimum: u64,
    pub needed_subjects: u64,
    pub why: String,
}

/// Judges `claim` at `confidence` on `evidence` (`None`: the campaign measured nothing of
/// its kind). Met: enough transactions and subjects, and the upper bound at most `max`. Not
/// met: the upper bound above `max` with enough evidence, or even the lower bound above it
/// without. Otherwise the campaign cannot support the claim.
pub fn judge(claim: &Claim, confidence: f64, evidence: Option<&Evidence>) -> Judged {
    let derived = zero_failure_minimum(claim.max, confidence);
    let needed = claim.min_transactions.unwrap_or(0).max(derived);
    let needed_subjects = claim.min_subjects.unwrap_or(1);
    let mut judged = Judged {
        claim: claim.measure.label(),
        max: claim.max,
        confidence,
        verdict: ClaimVerdict::CannotSupport,
        events: 0,
        trials: 0,
        subjects: 0,
        rate: None,
        clopper_pearson_upper: None,
        bootstrap_upper: None,
        upper: None,
        needed_transactions: needed,
        zero_failure_minimum: derived,
        needed_subjects,
        why: String::new(),
    };
    let Some(e) = evidence.filter(|e| e.trials > 0) else {
        judged.why = "the campaign has no transaction of this kind".into();
        return judged;
    };
    let cp = upper_bound(e.events, e.trials, confidence);
    let upper = e.bootstrap_upper.map_or(cp, |b| b.max(cp));
    judged.events = e.events;
    judged.trials = e.trials;
    judged.subjects = e.subjects;
    judged.rate = Some(e.events as f64 / e.trials as f64);
    judged.clopper_pearson_upper = Some(cp);
    judged.bootstrap_upper = e.bootstrap_upper;
    judged.upper = Some(upper);
    let level = format!("{:.0}%", confidence * 100.0);
    let lower = lower_bound(e.events, e.trials, confidence);
    let short = |what: &str, have: u64, need: u64| format!("{have} {what} of the {need} needed");
    let missing: Vec<String> = [
        (e.trials < needed).then(|| short("transactions", e.trials, needed)),
        (e.subjects < needed_subjects).then(|| short("subjects", e.subjects, needed_subjects)),
    ]
    .into_iter()
    .flatten()
    .collect();
    (judged.verdict, judged.why) = if !missing.is_empty() && lower > claim.max {
        (
            ClaimVerdict::NotMet,
            format!(
                "even the {level} lower bound {lower:.6} is above {}",
                claim.max
            ),
        )
    } else if !missing.is_empty() {
        (ClaimVerdict::CannotSupport, missing.join(", "))
    } else if upper <= claim.max {
        (
            ClaimVerdict::Met,
            format!("{level} upper bound {upper:.6} ≤ {}", claim.max),
        )
    } else {
        (
            ClaimVerdict::NotMet,
            format!("{level} upper bound {upper:.6} > {}", claim.max),
        )
    };
    judged
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(text: &str) -> Result<Policy, String> {
        parse_policy(Path::new("p.yaml"), text).map_err(|d| d.to_string())
    }

    #[test]
    fn the_shipped_fido_policy_reads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/fido-face.yaml");
        let p = load_policy(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.confidence, 0.8);
        let frr = p.claims.iter().find(|c| c.measure == Measure::Frr).unwrap();
        assert_eq!(frr.max, 0.03);
        let far = p.claims.iter().find(|c| c.measure == Measure::Far).unwrap();
        assert_eq!(far.max, 0.0001);
        // The policy's own minimums are at least the zero-failure ones it says it derives.
        for c in &p.claims {
            let derived = zero_failure_minimum(c.max, p.confidence);
            assert!(
                c.min_transactions.unwrap_or(0) >= derived,
                "{c:?} needs {derived}"
            );
        }
        assert!(p.claims.contains(&Claim {
            measure: Measure::Apcer(None),
            max: 0.07,
            min_transactions: Some(23),
            min_subjects: None,
        }));
    }

    #[test]
    fn every_mistake_is_reported_at_once_with_its_place() {
        let e = parse(
            "name: p\nconfidence: 1.5\nfrr: {max: 0, min_subject: 3}\nattacks:\n  printed: {max_apcer: 0.1}\n  print-flat: {min_presentations: 5}\n",
        )
        .unwrap_err();
        assert!(e.contains("p.yaml:2:13"), "{e}");
        assert!(e.contains("out of range"), "{e}");
        assert!(e.contains("a limit of 0"), "{e}");
        assert!(e.contains("did you mean `min_subjects`?"), "{e}");
        assert!(e.contains("unknown key `printed`"), "{e}");
        assert!(e.contains("no limit for this species"), "{e}");
        assert!(e.contains("5 errors found"), "{e}");
        let e = parse("name: p\nconfidence: 0.8\n").unwrap_err();
        assert!(e.contains("the policy makes no claim"), "{e}");
        let e = parse("- just\n- a list\n").unwrap_err();
        assert!(e.contains("expected a mapping"), "{e}");
    }

    fn claim(max: f64, min_transactions: Option<u64>, min_subjects: Option<u64>) -> Claim {
        Claim {
            measure: Measure::Frr,
            max,
            min_transactions,
            min_subjects,
        }
    }

    fn evidence(events: u64, trials: u64, subjects: u64) -> Evidence {
        Evidence {
            events,
            trials,
            subjects,
            bootstrap_upper: None,
        }
    }

    #[test]
    fn met_not_met_and_cannot_support() {
        let c = claim(0.03, None, Some(10));
        // 0 of 53 from 10 subjects: exactly the zero-failure minimum.
        let j = judge(&c, 0.8, Some(&evidence(0, 53, 10)));
        assert_eq!(j.verdict, ClaimVerdict::Met, "{j:?}");
        assert_eq!((j.needed_transactions, j.zero_failure_minimum), (53, 53));
        // One transaction fewer cannot support it.
        let j = judge(&c, 0.8, Some(&evidence(0, 52, 10)));
        assert_eq!(j.verdict, ClaimVerdict::CannotSupport);
        assert_eq!(j.why, "52 transactions of the 53 needed");
        // Too few subjects, too.
        let j = judge(&c, 0.8, Some(&evidence(0, 100, 9)));
        assert_eq!(j.verdict, ClaimVerdict::CannotSupport);
        // Enough of both, but 3 of 100 is not shown ≤ 3 %.
        assert_eq!(
            judge(&c, 0.8, Some(&evidence(3, 100, 10))).verdict,
            ClaimVerdict::NotMet
        );
        // Too few, but already failing whatever more would come.
        assert_eq!(
            judge(&c, 0.8, Some(&evidence(5, 6, 2))).verdict,
            ClaimVerdict::NotMet
        );
        // Nothing measured.
        assert_eq!(judge(&c, 0.8, None).verdict, ClaimVerdict::CannotSupport);
        // A bootstrap bound above Clopper-Pearson's decides.
        let mut e = evidence(0, 200, 10);
        assert_eq!(judge(&c, 0.8, Some(&e)).verdict, ClaimVerdict::Met);
        e.bootstrap_upper = Some(0.05);
        assert_eq!(judge(&c, 0.8, Some(&e)).verdict, ClaimVerdict::NotMet);
        // The policy may ask for more than the arithmetic.
        let j = judge(
            &claim(0.03, Some(1225), None),
            0.8,
            Some(&evidence(0, 600, 1)),
        );
        assert_eq!(j.verdict, ClaimVerdict::CannotSupport);
        assert_eq!(j.needed_transactions, 1225);
    }

    fn rank(v: ClaimVerdict) -> u8 {
        match v {
            ClaimVerdict::NotMet => 0,
            ClaimVerdict::CannotSupport => 1,
            ClaimVerdict::Met => 2,
        }
    }

    proptest! {
        /// More failures never make a verdict better; a met claim stays met with more
        /// clean transactions or more subjects.
        #[test]
        fn verdicts_are_monotone(
            events in 0u64..40,
            trials in 1u64..400,
            subjects in 1u64..50,
            max in 0.001f64..0.5,
            needed in proptest::option::of(1u64..300),
        ) {
            let c = claim(max, needed, Some(5));
            let e = events.min(trials);
            let here = rank(judge(&c, 0.8, Some(&evidence(e, trials, subjects))).verdict);
            if e < trials {
                let worse = judge(&c, 0.8, Some(&evidence(e + 1, trials, subjects))).verdict;
                prop_assert!(rank(worse) <= here);
            }
            // (Evidence may turn "cannot support" into "not met": that is deciding.)
            if here == rank(ClaimVerdict::Met) {
                let more = judge(&c, 0.8, Some(&evidence(e, trials + 1, subjects))).verdict;
                prop_assert_eq!(more, ClaimVerdict::Met);
                let people = judge(&c, 0.8, Some(&evidence(e, trials, subjects + 1))).verdict;
                prop_assert_eq!(people, ClaimVerdict::Met);
            }
        }
    }
}
