//! The judge: the card path, then the fallback ladder (docs/reception-rules.md, "Fallback ladder when the
//! card path fails" \[firm]; docs/reception-rules.md, "Reception rules (the oracle)").
//!
//! 1. The card path: authenticated by face, PIN or visual check with a valid certificate, or one
//!    in its grace period (qualification data only) → `card_face` / `card_pin` / `card_visual`.
//!    A certificate beyond grace counts as a failed card path.
//! 2. Documents, by [`super::documents::ACCEPTANCES`]: with the failed card, the Mynaportal
//!    screen or its PDF, then 資格情報のお知らせ; standing alone, a valid 資格確認書, the old
//!    健康保険証 to 2025-12-01; under `interim-2026`, the online-lookup rows.
//! 3. Nothing accepted, card presented and failed: return visit → `verbal_check`, first visit →
//!    `statement_form`.
//! 4. Otherwise `not_confirmed` (10割).
//!
//! Every route but `not_confirmed` ends at the patient's normal share; the high-cost limit is
//! applied only on a card route.

use super::certificate::{certificate_status, CertificateStatus};
use super::documents::{accepted, Circumstances};
use super::route::Route;
use super::situation::{CardFailure, CardPath, CardPresentation, Situation, Visit};
use serde::Serialize;

/// What the oracle expects at the counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub route: Route,
    /// The patient's share in percent: the normal co-payment on every route, 100 only on
    /// `not_confirmed`.
    pub share_percent: u8,
    /// The high-cost limit applies at the counter: only on a card route (docs/reception-rules.md: "Confirmed
    /// through the card, the limit applies at the counter with no paper certificate").
    pub limit_applied: bool,
    /// The card confirmed the qualification in the certificate's grace period: qualification
    /// data only, no care or medication data. `false` on every other route (no card data).
    pub qualification_data_only: bool,
    /// `Some` only when the claim must use the unknown-insurer number (verbal check or
    /// statement form with the insurer unknown); `None`: the insurer's own number (from the
    /// qualification result, the document, or the facility's records).
    pub insurer_number: Option<&'static str>,
    /// The rule that decided the route (and with it `qualification_data_only`), for
    /// reports (`card.valid`, `ladder.portal_screen`, …).
    pub rule: &'static str,
    /// The rule that decided `share_percent` (a row of the co-payment table, or
    /// `not_confirmed.full_cost`).
    pub share_rule: &'static str,
    /// The rule that decided `limit_applied`.
    pub limit_rule: &'static str,
    /// The rule that decided the claim's insurer.
    pub insurer_rule: &'static str,
}

/// Rule names of the routes not in the document table.
pub mod rule_names {
    pub const CARD_VALID: &str = "card.valid";
    pub const CARD_GRACE: &str = "card.grace";
    pub const VERBAL_CHECK: &str = "ladder.verbal_check";
    pub const STATEMENT_FORM: &str = "ladder.statement_form";
    pub const NOT_INSURED: &str = "not_confirmed.not_insured";
    pub const NOTHING_ACCEPTED: &str = "not_confirmed.nothing_accepted";
    /// Not confirmed: the patient pays the full cost (10割).
    pub const FULL_COST: &str = "not_confirmed.full_cost";
    /// A card route: the limit applies at the counter with no paper certificate.
    pub const LIMIT_CARD: &str = "limit.card_route";
    /// Any other route: no limit at the counter (the patient claims it back later).
    pub const LIMIT_FALLBACK: &str = "limit.fallback";
    /// The insurer is named by the qualification result or the document shown.
    pub const INSURER_SHOWN: &str = "insurer.shown";
    /// A return visit's verbal check: the facility's records of the last visit name it.
    pub const INSURER_RECORDS: &str = "insurer.facility_records";
    /// The statement form: the patient names the insurer.
    pub const INSURER_PATIENT: &str = "insurer.patient_names";
    /// The statement form, the patient cannot name it: the unknown-insurer number.
    pub const INSURER_UNKNOWN: &str = "insurer.unknown";
    /// Not confirmed: no claim.
    pub const INSURER_NONE: &str = "insurer.no_claim";
    /// The card counts its PIN tries: a wrong PIN answers 63Cn, the right one 9000.
    pub const PIN_TRIES: &str = "pin.tries";
    /// Face screens come only on the face path.
    pub const FACE_SCREENS: &str = "screens.face_path";
    /// A face-authentication card has no PIN: after a failed face path, the staff visual
    /// check (目視確認), never a PIN pad.
    pub const VISUAL_CHECK: &str = "card.visual_check";
}

/// A legal route with what it implies.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    route: Route,
    rule: &'static str,
    data_only: bool,
}

/// How the card path ended, once the certificate's date is taken into account.
enum CardState {
    Absent,
    Confirmed { candidate: Candidate },
    Failed(CardFailure),
}

fn card_state(s: &Situation) -> CardState {
    match s.card {
        CardPresentation::NotPresented => CardState::Absent,
        CardPresentation::Presented {
            path: CardPath::Failed(failure),
        } => CardState::Failed(failure),
        CardPresentation::Presented {
            path:
                CardPath::Succeeded {
                    method,
                    certificate_not_after,
                },
        } => {
            let (rule, data_only) = match certificate_status(certificate_not_after, s.on) {
                CertificateStatus::Valid => (rule_names::CARD_VALID, false),
                CertificateStatus::Grace { .. } => (rule_names::CARD_GRACE, true),
                CertificateStatus::Expired => {
                    return CardState::Failed(CardFailure::CertificateExpired)
                }
            };
            CardState::Confirmed {
                candidate: Candidate {
                    route: method.route(),
                    rule,
                    data_only,
                },
            }
        }
    }
}

/// Every legal route, in the oracle's order of preference (may repeat a route under two rules).
fn candidates(s: &Situation) -> Vec<Candidate> {
    let mut out = Vec::new();
    if !s.patient.insured {
        return out;
    }
    let policy = s.rule_set.policy();
    let state = card_state(s);
    let card_failed = matches!(state, CardState::Failed(_));
    if let CardState::Confirmed { candidate } = state {
        out.push(candidate);
    }
    let service_down = matches!(state, CardState::Failed(CardFailure::ServiceDown));
    let circumstances = Circumstances {
        on: s.on,
        rule_set: s.rule_set,
        card_failed,
        lookup_confirms: s.online_lookup && !(service_down && policy.service_down_blocks_lookup),
    };
    let documents_before = out.len();
    out.extend(
        accepted(&s.documents, &circumstances).map(|(row, _)| Candidate {
            route: row.kind.route(),
            rule: row.rule,
            data_only: false,
        }),
    );
    let nothing_accepted = out.len() == documents_before;
    let card_allows_statement =
        card_failed || (!policy.statement_needs_failed_card && matches!(state, CardState::Absent));
    if nothing_accepted && card_allows_statement {
        out.push(match s.visit {
            Visit::Return => Candidate {
                route: Route::VerbalCheck,
                rule: rule_names::VERBAL_CHECK,
                data_only: false,
            },
            Visit::First => Candidate {
                route: Route::StatementForm,
                rule: rule_names::STATEMENT_FORM,
                data_only: false,
            },
        });
    }
    out
}

fn outcome(s: &Situation, candidate: Candidate) -> Outcome {
    // Only the statement form depends on what the patient can tell: the verbal check of a
    // return visit takes the insurer from the facility's records of the last visit.
    let insurer_rule = match candidate.route {
        Route::StatementForm if s.insurer_known => rule_names::INSURER_PATIENT,
        Route::StatementForm => rule_names::INSURER_UNKNOWN,
        Route::VerbalCheck => rule_names::INSURER_RECORDS,
        _ => rule_names::INSURER_SHOWN,
    };
    let card = candidate.route.is_card();
    Outcome {
        route: candidate.route,
        share_percent: s.patient.copayment_percent(s.on),
        limit_applied: card,
        qualification_data_only: candidate.data_only,
        insurer_number: (insurer_rule == rule_names::INSURER_UNKNOWN)
            .then_some(s.rule_set.policy().unknown_insurer_number),
        rule: candidate.rule,
        share_rule: s.patient.share_rule(s.on),
        limit_rule: if card {
            rule_names::LIMIT_CARD
        } else {
            rule_names::LIMIT_FALLBACK
        },
        insurer_rule,
    }
}

fn not_confirmed(s: &Situation) -> Outcome {
    Outcome {
        route: Route::NotConfirmed,
        share_percent: 100,
        limit_applied: false,
        qualification_data_only: false,
        insurer_number: None,
        rule: if s.patient.insured {
            rule_names::NOTHING_ACCEPTED
        } else {
            rule_names::NOT_INSURED
        },
        share_rule: rule_names::FULL_COST,
        limit_rule: rule_names::LIMIT_FALLBACK,
        insurer_rule: rule_names::INSURER_NONE,
    }
}

/// The expected outcome: the most preferred legal route, or `not_confirmed` when nothing is
/// legal (the qualification is invalid, or nothing the patient brought confirms it).
pub fn judge(s: &Situation) -> Outcome {
    candidates(s)
        .first()
        .map_or_else(|| not_confirmed(s), |candidate| outcome(s, *candidate))
}

/// Every route the rules allow in `s`, most preferred first; `[not_confirmed]` exactly when no
/// other route is legal. `judge(s).route` is always the first element.
pub fn legal_routes(s: &Situation) -> Vec<Route> {
    let mut routes: Vec<Route> = Vec::new();
    for candidate in candidates(s) {
        if !routes.contains(&candidate.route) {
            routes.push(candidate.route);
        }
    }
    if routes.is_empty() {
        routes.push(Route::NotConfirmed);
    }
    routes
}

/// The outcome if the counter takes `route` (e.g. the one a device under test reported);
/// `None` when the route is not legal in `s`.
pub fn outcome_for(s: &Situation, route: Route) -> Option<Outcome> {
    let candidates = candidates(s);
    if candidates.is_empty() {
        return (route == Route::NotConfirmed).then(|| not_confirmed(s));
    }
    candidates
        .into_iter()
        .find(|candidate| candidate.route == route)
        .map(|candidate| outcome(s, candidate))
}
