//! The verdict of one case: what the reader did, against the rules and against the
//! scenario's own expectations.

use super::oracle::FacePrediction;
use crate::reader::{Event, EventKind, FaceResult, ObservedOutcome};
use crate::rules::{judge, legal_routes, Situation};
use crate::scenario::Case;
use crate::scenario::FaceExpect;
use reports::{Measurement, Verdict};
use std::time::Duration;

/// What the reader left behind.
pub struct Observed {
    pub events: Vec<Event>,
    pub outcome: Option<ObservedOutcome>,
    pub last_verify_sw: Option<u16>,
    /// The reader's own sub-step durations (`face.match`, …).
    pub timings: Vec<(String, Duration)>,
    /// The card's APDU trace, secrets redacted.
    pub trace: String,
    /// The device's breaches of the protocol's contract ([`crate::reader::ReaderReport`]).
    pub breaches: Vec<String>,
    /// The steps (indices into the case's steps) the reader refused as the scenario expected.
    pub refused: Vec<usize>,
    /// What the emulated card recorded of the case, when the harness could read it.
    pub journal: Option<Vec<card_emulator::card::Exchange>>,
    /// What the case's qualification service served.
    pub served: Vec<crate::qualification::Served>,
}

impl Observed {
    /// The reader thread never reported back.
    pub fn gone() -> Self {
        Observed {
            events: Vec::new(),
            outcome: None,
            last_verify_sw: None,
            timings: Vec::new(),
            trace: String::new(),
            breaches: Vec::new(),
            refused: Vec::new(),
            journal: None,
            served: Vec::new(),
        }
    }

    /// How the face path ended, from the reader's events (the last `face_result`).
    pub(super) fn face(&self) -> Option<FaceResult> {
        self.events.iter().rev().find_map(|e| match &e.kind {
            EventKind::FaceResult { result, .. } => Some(*result),
            _ => None,
        })
    }

    /// The status words of the VERIFYs the reader reported, in order.
    pub(super) fn verify_sws(&self) -> Vec<u16> {
        self.events
            .iter()
            .filter_map(|e| match e.kind {
                EventKind::VerifyAnswered { sw } => Some(sw),
                _ => None,
            })
            .collect()
    }

    fn screens(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Screen { name } => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// Compares; returns the verdict, the reasons (all of them), and the step latencies.
pub fn judge_case(
    case: &Case,
    situation: &Situation,
    face: Option<FacePrediction>,
    verify_sws: Option<&[u16]>,
    observed: &Observed,
    step_times: &[(String, Duration)],
) -> (Verdict, Option<String>, Vec<Measurement>) {
    let mut verdict = Verdict::Pass;
    let mut reasons: Vec<String> = Vec::new();
    let mut fail = |v: Verdict, why: String, verdict: &mut Verdict| {
        *verdict = verdict.merge(v);
        reasons.push(why);
    };
    let rules = judge(situation);
    let e = &case.expect;
    let origin = e
        .origin
        .as_ref()
        .map(|o| format!("{o}: "))
        .unwrap_or_default();

    // A scenario that contradicts the rules is a broken test, not a broken reader; each
    // contradiction names the rule that decided the value in dispute.
    let payment = expected_payment(case, situation, &rules);
    let claim = claim_insurer(case, &rules);
    let contradictions: Vec<(String, &str)> = [
        e.route.filter(|r| *r != rules.route).map(|r| {
            (
                format!("route {r}, the rules say {}", rules.route),
                rules.rule,
            )
        }),
        e.share_percent
            .filter(|s| *s != rules.share_percent)
            .map(|s| {
                (
                    format!("share {s}%, the rules say {}%", rules.share_percent),
                    rules.share_rule,
                )
            }),
        e.limit_applied
            .filter(|l| *l != rules.limit_applied)
            .map(|l| {
                (
                    format!("limit_applied {l}, the rules say {}", rules.limit_applied),
                    rules.limit_rule,
                )
            }),
        e.qualification_data_only
            .filter(|d| *d != rules.qualification_data_only)
            .map(|d| {
                (
                    format!(
                        "qualification_data_only {d}, the rules say {}",
                        rules.qualification_data_only
                    ),
                    rules.rule,
                )
            }),
        match (e.payment_yen, &payment) {
            (Some(_), Err(why)) => Some((format!("a payment, but {why}"), PAYMENT_UNKNOWN)),
            (Some(want), Ok(p)) if want != p.yen => Some((
                format!(
                    "payment ¥{want}, the rules say ¥{}{}",
                    p.yen,
                    payment_words(p)
                ),
                p.rule,
            )),
            _ => None,
        },
        match (&e.claim_insurer, &claim) {
            (Some(_), Err(why)) => {
                Some((format!("a claim insurer, but {why}"), rules.insurer_rule))
            }
            (Some(want), Ok(got)) if want != got => Some((
                format!(
                    "claim_insurer {}, the rules say {}",
                    claim_name(want),
                    claim_name(got)
                ),
                rules.insurer_rule,
            )),
            _ => None,
        },
        refusal_contradiction(case),
        match (&e.verify_sws, verify_sws) {
            (Some(want), Some(card)) if want.as_slice() != card => Some((
                format!(
                    "VERIFYs answered {}, the card's tries say {}",
                    hex_sws(want),
                    hex_sws(card)
                ),
                crate::rules::rule_names::PIN_TRIES,
            )),
            _ => None,
        },
        screens_contradiction(case),
        match (e.face, face) {
            (Some(wanted), Some(predicted)) if !predicted.allows(wanted) => Some((
                format!(
                    "face {}, the rules say {}",
                    face_name(wanted),
                    prediction_name(predicted)
                ),
                FACE_RULE,
            )),
            (Some(wanted), None) => Some((
                format!(
                    "face {}, but the case never chooses the face path",
                    face_name(wanted)
                ),
                FACE_RULE,
            )),
            _ => None,
        },
    ]
    .into_iter()
    .flatten()
    .collect();
    for (c, rule) in contradictions {
        fail(
            Verdict::Error,
            format!("{origin}the scenario expects {c} (rule `{rule}`)"),
            &mut verdict,
        );
    }

    match &observed.outcome {
        None => fail(
            Verdict::Fail,
            "the reader gave no outcome".into(),
            &mut verdict,
        ),
        Some(o) => {
            if o.route != rules.route {
                let legal = legal_routes(situation);
                let note = if legal.contains(&o.route) {
                    "a legal route, but not the preferred one"
                } else {
                    "not a legal route here"
                };
                fail(
                    Verdict::Fail,
                    format!(
                        "route {}, the rules say {} ({note}; rule `{}`)",
                        o.route, rules.route, rules.rule
                    ),
                    &mut verdict,
                );
            }
            if o.share_percent != rules.share_percent {
                fail(
                    Verdict::Fail,
                    format!(
                        "share {}%, the rules say {}% (rule `{}`)",
                        o.share_percent, rules.share_percent, rules.share_rule
                    ),
                    &mut verdict,
                );
            }
            if o.limit_applied != rules.limit_applied {
                fail(
                    Verdict::Fail,
                    format!(
                        "limit_applied {}, the rules say {} (rule `{}`)",
                        o.limit_applied, rules.limit_applied, rules.limit_rule
                    ),
                    &mut verdict,
                );
            }
            if o.qualification_data_only != rules.qualification_data_only {
                fail(
                    Verdict::Fail,
                    format!(
                        "qualification_data_only {}, the rules say {} (rule `{}`)",
                        o.qualification_data_only, rules.qualification_data_only, rules.rule
                    ),
                    &mut verdict,
                );
            }
            // What the reader's outcome makes the patient pay, against the rules.
            if let (Some(cost), Ok(want)) = (case.patient.cost_yen, &payment) {
                let paid = crate::rules::payment(
                    o.share_percent,
                    o.limit_applied,
                    situation.patient.limit,
                    cost,
                    case.date,
                );
                if let Some(paid) = paid.ok().filter(|p| p.yen != want.yen) {
                    fail(
                        Verdict::Fail,
                        format!(
                            "the reader's outcome makes the patient pay ¥{}, the rules say ¥{} (rule `{}`)",
                            paid.yen, want.yen, want.rule
                        ),
                        &mut verdict,
                    );
                }
            }
        }
    }

    if let Some(wanted) = e.face {
        let got = observed.face();
        if got != Some(observed_face(wanted)) {
            fail(
                Verdict::Fail,
                format!(
                    "{origin}face path ended {}, expected {}",
                    got.map_or("without a result".into(), |g| g.to_string()),
                    face_name(wanted)
                ),
                &mut verdict,
            );
        }
    }

    // Screens in order (others may come between).
    let shown = observed.screens();
    let mut rest = shown.iter();
    for wanted in &e.screens {
        if !rest.any(|s| s == wanted) {
            fail(
                Verdict::Fail,
                format!(
                    "{origin}screen `{wanted}` was not shown in order (shown: {})",
                    shown.join(", ")
                ),
                &mut verdict,
            );
            break;
        }
    }
    if let Some(exactly) = &e.screens_exactly {
        if shown != *exactly {
            fail(
                Verdict::Fail,
                format!(
                    "{origin}screens shown: {}; expected exactly: {}",
                    shown.join(", "),
                    exactly.join(", ")
                ),
                &mut verdict,
            );
        }
    }
    for absent in &e.screens_absent {
        if shown.contains(&absent.as_str()) {
            fail(
                Verdict::Fail,
                format!(
                    "{origin}screen `{absent}` was shown (shown: {})",
                    shown.join(", ")
                ),
                &mut verdict,
            );
        }
    }
    for index in case.expected_refusals() {
        if !observed.refused.contains(&index) {
            let step = &case.steps[index];
            fail(
                Verdict::Fail,
                format!(
                    "{}: step `{}` was not refused",
                    step.origin,
                    step.kind.name()
                ),
                &mut verdict,
            );
        }
    }
    if let Some(want) = &e.verify_sws {
        let got = observed.verify_sws();
        if got != *want {
            fail(
                Verdict::Fail,
                format!(
                    "{origin}VERIFYs answered {}; expected {}",
                    hex_sws(&got),
                    hex_sws(want)
                ),
                &mut verdict,
            );
        }
    }
    if let Some(sw) = e.last_verify_sw {
        if observed.last_verify_sw != Some(sw) {
            let got = observed
                .last_verify_sw
                .map(|s| format!("{s:04X}"))
                .unwrap_or_else(|| "no VERIFY".into());
            fail(
                Verdict::Fail,
                format!("{origin}last VERIFY answered {got}, expected {sw:04X}"),
                &mut verdict,
            );
        }
    }

    let mut measurements: Vec<Measurement> = Vec::new();
    for (name, took) in step_times {
        measurements.push(Measurement::millis(format!("step.{name}"), *took));
    }
    for limit in &e.latency {
        let took: Duration = if limit.measure == "total" {
            step_times.iter().map(|(_, d)| *d).sum()
        } else {
            step_times
                .iter()
                .filter(|(n, _)| *n == limit.measure)
                .map(|(_, d)| *d)
                .max()
                .unwrap_or_default()
        };
        if took > limit.max {
            fail(
                Verdict::Fail,
                format!(
                    "{}: {} took {took:?}, limit {:?}",
                    limit.origin, limit.measure, limit.max
                ),
                &mut verdict,
            );
        } else if limit.marginal.is_some_and(|m| took > m) {
            measurements.push(Measurement::new(
                format!("marginal.{}", limit.measure),
                1.0,
                "flag",
            ));
        }
    }
    let reason = (!reasons.is_empty()).then(|| reasons.join("; "));
    (verdict, reason, measurements)
}

/// A scenario that expects its consent reuse refused while the case has an earlier consent
/// at the same facility to reuse, or the reverse is not judged here: a reuse with something
/// to reuse must not be refused, and the scenario saying so contradicts the rules.
fn refusal_contradiction(case: &Case) -> Option<(String, &'static str)> {
    use crate::rules::consent::rule_names;
    use crate::rules::ConsentStep;
    use crate::scenario::StepKind;
    let reuse_expected_refused = case
        .expected_refusals()
        .iter()
        .any(|&i| case.steps[i].kind == StepKind::Consent(ConsentStep::Reuse));
    let earlier = case
        .consent_history
        .iter()
        .any(|p| p.facility == case.facility);
    (reuse_expected_refused && earlier).then(|| {
        (
            format!(
                "step `consent` refused, the rules say the earlier consent at {} is reused",
                case.facility
            ),
            rule_names::REUSE,
        )
    })
}

/// Status words in hex, comma-separated (`none` for none).
fn hex_sws(v: &[u16]) -> String {
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.iter()
            .map(|s| format!("{s:04X}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Expected screens the rules rule out: face screens on a case that never chooses face, an
/// items screen on a consent reuse (applied as it is), a PIN pad on a face-authentication
/// card (which has none: the staff visual check instead).
fn screens_contradiction(case: &Case) -> Option<(String, &'static str)> {
    use crate::rules::rule_names as r;
    use crate::rules::ConsentStep;
    use crate::scenario::{Method, StepKind};
    let e = &case.expect;
    let expected: Vec<&str> = e
        .screens
        .iter()
        .chain(e.screens_exactly.iter().flatten())
        .map(String::as_str)
        .collect();
    let face_screen = expected.iter().find(|s| s.starts_with("face_"));
    if let (Some(s), false) = (face_screen, case.chooses(Method::Face)) {
        return Some((
            format!("screen `{s}`, but the case never chooses the face path"),
            r::FACE_SCREENS,
        ));
    }
    let reuses = case
        .steps
        .iter()
        .any(|s| s.kind == StepKind::Consent(ConsentStep::Reuse));
    let chooses_items = case.steps.iter().any(|s| {
        matches!(
            s.kind,
            StepKind::Consent(ConsentStep::Choose(
                crate::rules::ConsentChoice::Individually(_)
            ))
        )
    });
    if reuses && !chooses_items && expected.contains(&"consent_items") {
        return Some((
            "screen `consent_items`, but a reused consent applies as it is".to_owned(),
            crate::rules::consent::rule_names::REUSE,
        ));
    }
    // A staff visual check is only ever offered to a face-authentication card.
    let visual_check = case
        .steps
        .iter()
        .any(|s| matches!(s.kind, StepKind::StaffCheck(_)));
    let pin_screen = expected
        .iter()
        .find(|s| matches!(**s, "pin_entry" | "pin_wrong" | "pin_locked"));
    if let (true, Some(s)) = (visual_check, pin_screen) {
        return Some((
            format!("screen `{s}`, but a face-authentication card has no PIN"),
            r::VISUAL_CHECK,
        ));
    }
    None
}

/// The rule behind a face contradiction: the oracle's prediction from the card, the camera
/// and the lock (`engine::oracle::predict_face`).
const FACE_RULE: &str = "face.prediction";

/// The rule id of an expected payment the rules cannot compute (no `cost`, no limit table).
const PAYMENT_UNKNOWN: &str = "payment.unknown";

/// What the patient pays by the rules; `Err` says why it cannot be known.
pub(super) fn expected_payment(
    case: &Case,
    situation: &Situation,
    rules: &crate::rules::Outcome,
) -> Result<crate::rules::Payment, String> {
    let cost = case
        .patient
        .cost_yen
        .ok_or("the case gives no `cost` (the month's cost of care)")?;
    if let Some(why) = crate::rules::payment::unmodelled(&situation.patient, case.date) {
        return Err(why.to_owned());
    }
    crate::rules::payment(
        rules.share_percent,
        rules.limit_applied,
        situation.patient.limit,
        cost,
        case.date,
    )
    .map_err(|e| e.to_string())
}

/// How a payment came about, for a message.
fn payment_words(p: &crate::rules::Payment) -> String {
    match p.limit_yen {
        Some(limit) if p.yen == limit && p.share_yen > limit => {
            format!(" (the share ¥{} capped at the limit ¥{limit})", p.share_yen)
        }
        Some(limit) => format!(" (the share, under the limit ¥{limit})"),
        None => " (the share, no limit at the counter)".into(),
    }
}

/// The insurer number the claim uses by the rules; `Err` when the bench cannot know it.
pub(super) fn claim_insurer(
    case: &Case,
    rules: &crate::rules::Outcome,
) -> Result<crate::scenario::ClaimInsurer, String> {
    use crate::scenario::ClaimInsurer;
    if rules.route == crate::rules::Route::NotConfirmed {
        return Ok(ClaimInsurer::NoClaim);
    }
    if let Some(n) = rules.insurer_number {
        return Ok(ClaimInsurer::Number(n.to_owned()));
    }
    case.insurance
        .as_ref()
        .map(|i| ClaimInsurer::Number(i.insurer_number.clone()))
        .ok_or_else(|| "the case has no `insurance`: the insurer's own number is unknown".into())
}

pub(super) fn claim_name(c: &crate::scenario::ClaimInsurer) -> String {
    match c {
        crate::scenario::ClaimInsurer::Number(n) => n.clone(),
        crate::scenario::ClaimInsurer::NoClaim => "none (no claim)".into(),
    }
}

fn observed_face(expect: FaceExpect) -> FaceResult {
    match expect {
        FaceExpect::Match => FaceResult::Matched,
        FaceExpect::NoMatch => FaceResult::NoMatch,
        FaceExpect::AttackRejected => FaceResult::AttackRejected,
        FaceExpect::Locked => FaceResult::Locked,
    }
}

fn face_name(expect: FaceExpect) -> &'static str {
    match expect {
        FaceExpect::Match => "match",
        FaceExpect::NoMatch => "no_match",
        FaceExpect::AttackRejected => "attack_rejected",
        FaceExpect::Locked => "locked",
    }
}

fn prediction_name(p: FacePrediction) -> &'static str {
    match p {
        FacePrediction::Match => "match",
        FacePrediction::NoMatch => "no_match (the camera does not show the chip's person)",
        FacePrediction::AttackRejected => "attack_rejected",
        FacePrediction::Locked => "locked",
        FacePrediction::Unavailable => {
            "no face path on this card (no card-surface application, 照合番号B blocked or no chip photo)"
        }
    }
}
