//! Reception rules: the oracle (docs/reception-rules.md, "Reception rules (the oracle)").
//!
//! Given one reception — the day, the rule set, first or return visit, how the card path
//! ended, the documents shown, the patient — [`judge`] says which route confirms the
//! qualification and what follows from it (share, high-cost limit, data passed, insurer
//! number), and [`legal_routes`] lists every route the rules allow. Everything is pure: no
//! I/O, no clock, no panics on any input.
//!
//! The rules are dated data, so a scenario dated 2025-11-01 and one dated 2026-04-01 are judged
//! by the rules in force on those days:
//! - [`copayment`]: share by age band and income ([`copayment::SHARE_TABLE`], `since` dates);
//! - [`high_cost`]: monthly limits ([`high_cost::LIMIT_TABLES`], known before 2026-08-01 only);
//! - [`certificate`]: the certificate's grace period ([`certificate::GRACE_RULES`]);
//! - [`documents`]: accepted documents by date and rule set ([`documents::ACCEPTANCES`]);
//! - [`rule_set`]: the named rule sets and their policy choices;
//! - [`ladder`]: the card path and the fallback ladder ([`judge`], [`legal_routes`]);
//! - [`consent`]: consent choices per (patient, facility).
//!
//! # Choices where the sources are silent (docs/reception-rules.md) (\[soft])
//! - `Date::MIN` as `since` where the sources give no start date: the row holds for every date
//!   the oracle judges (e.g. the ladder's steps, the interim rows' start).
//! - Not insured (qualification invalid): no route is legal, not even a document or the
//!   statement form → `not_confirmed`, share 100.
//! - Verbal check and statement form need the card presented and failed, and are legal only
//!   when no document is accepted ("nothing presented"); with no card and nothing accepted the
//!   patient is not confirmed ([`rule_set::Policy::statement_needs_failed_card`]).
//! - When the card path succeeded, the standalone documents (資格確認書, old 健康保険証, the
//!   interim lookup rows) are legal too, but the card route is preferred; the ladder's
//!   with-card steps are not (there is no failure to fall back from).
//! - Preference when several documents are accepted: the table order of
//!   [`documents::ACCEPTANCES`] (portal screen, PDF, notice with card, 資格確認書, old card,
//!   interim rows).
//! - The interim rule's "online lookup confirms" = [`Situation::online_lookup`] and the patient
//!   is insured, and not when the card failed with [`CardFailure::ServiceDown`]
//!   ([`rule_set::Policy::service_down_blocks_lookup`]).
//! - Insurer number 77777777 only on `statement_form` when [`Situation::insurer_known`]
//!   (the patient can name the insurer) is false; a return visit's `verbal_check` takes the
//!   insurer from the facility's records of the last visit; card and document routes name it.
//! - `limit_applied` is true on every card route (grace included: the limit category is
//!   qualification data); false on every fallback, even a 資格確認書.
//! - Age edges for a birth on 29 February: the age is attained on 28 February in a common
//!   year, so the "75th birthday" is 1 March.
//! - 一定以上所得 before 75 counts as 一般; A06 オ(境) and B07/B08 take the amounts of オ and
//!   低所得Ⅰ; the 1% part of a sliding limit is rounded half up to the yen, and not below the
//!   threshold.

mod calendar;
pub mod certificate;
pub mod consent;
pub mod copayment;
pub mod documents;
pub mod face;
pub mod high_cost;
pub mod income;
pub mod ladder;
pub mod payment;
pub mod route;
pub mod rule_set;
pub mod situation;

#[cfg(test)]
mod judge_tests;

pub use certificate::{certificate_status, CertificateStatus};
pub use consent::{
    ConsentChoice, ConsentError, ConsentItem, ConsentItems, ConsentStep, ConsentStore, FacilityId,
    PatientId,
};
pub use copayment::{copayment_percent, AgeBand, IncomeClass};
pub use documents::{Document, DocumentKind};
pub use face::FACE_LOCK_AFTER;
pub use high_cost::{monthly_limit, LimitCategory, Scope};
pub use income::Income;
pub use ladder::{judge, legal_routes, outcome_for, rule_names, Outcome};
pub use payment::{payment, Payment};
pub use route::Route;
pub use rule_set::{Policy, RuleSet};
pub use situation::{
    AuthMethod, CardFailure, CardPath, CardPresentation, Patient, Situation, Visit,
};

use time::Date;

/// Errors of the rules' lookups and parsers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("unknown route {0:?} (expected one of the route names, e.g. card_face)")]
    UnknownRoute(String),
    #[error("unknown rule set {0:?} (expected \"seed\" or \"interim-2026\")")]
    UnknownRuleSet(String),
    #[error("unknown limit category code {0:?} (expected A01-A06 or B01-B08)")]
    UnknownLimitCode(String),
    #[error(
        "no high-cost limit table is known for {on}: the amounts hold before \
         2026-08-01 and the revision from 2026-08 is not in the rules"
    )]
    NoLimitTable { on: Date },
    #[error("the high-cost limit table in force on {on} has no row for {category:?} ({scope:?})")]
    NoLimitRow {
        category: LimitCategory,
        scope: Scope,
        on: Date,
    },
}

/// Every rule id a verdict, a report or `rules explain` may name, with what it decides
/// (docs/reception-rules.md, "Rule ids", holds the same table: a test keeps them equal).
pub fn rule_ids() -> Vec<(&'static str, &'static str)> {
    use ladder::rule_names as n;
    let mut ids = vec![
        (n::CARD_VALID, "route: the card path succeeded with a valid certificate"),
        (
            n::CARD_GRACE,
            "route: the card path succeeded in the certificate's grace period (qualification data only)",
        ),
    ];
    ids.extend(
        documents::ACCEPTANCES
            .iter()
            .map(|a| (a.rule, "route: the document shown is accepted on the day")),
    );
    ids.extend([
        (
            n::VERBAL_CHECK,
            "route: return visit, nothing accepted: staff confirm verbally",
        ),
        (
            n::STATEMENT_FORM,
            "route: first visit, nothing accepted: 被保険者資格申立書",
        ),
        (
            n::NOT_INSURED,
            "route: the qualification is invalid: not confirmed",
        ),
        (
            n::NOTHING_ACCEPTED,
            "route: nothing confirms the qualification: not confirmed",
        ),
    ]);
    ids.extend(copayment::SHARE_TABLE.iter().map(|row| {
        (
            row.rule,
            "share: the co-payment table's row for the age band and income",
        )
    }));
    ids.extend([
        (
            "share.default",
            "share: no row (never reached: the table covers every band and income)",
        ),
        (n::FULL_COST, "share: not confirmed, the patient pays 100 %"),
        (
            n::LIMIT_CARD,
            "limit: a card route applies the high-cost limit at the counter",
        ),
        (n::LIMIT_FALLBACK, "limit: any other route applies none"),
        (
            n::INSURER_SHOWN,
            "claim insurer: named by the qualification result or the document",
        ),
        (
            n::INSURER_RECORDS,
            "claim insurer: a return visit's verbal check, from the facility's records",
        ),
        (
            n::INSURER_PATIENT,
            "claim insurer: the statement form, as the patient names it",
        ),
        (
            n::INSURER_UNKNOWN,
            "claim insurer: the statement form, nobody can name it: 77777777",
        ),
        (n::INSURER_NONE, "claim insurer: not confirmed, no claim"),
        (
            payment::rule_names::SHARE,
            "payment: the share of the cost, rounded to 10 yen, under the limit or with none",
        ),
        (
            payment::rule_names::CAPPED,
            "payment: the share capped at the month's high-cost limit",
        ),
        (
            "face.prediction",
            "face: the oracle's prediction from the card, the camera and the lock",
        ),
        (n::PIN_TRIES, "VERIFY: the card counts its PIN tries (63Cn for a wrong PIN, 9000 for the right one)"),
        (n::FACE_SCREENS, "screens: face screens come only on the face path"),
        (n::VISUAL_CHECK, "screens: a face-authentication card has no PIN: after a failed face path the staff visual check, never a PIN pad"),
        (consent::rule_names::REUSE, "consent: an earlier consent at the same facility is reused as it is, with no further screen"),
        (consent::rule_names::NOTHING_TO_REUSE, "consent: no earlier consent at this facility: a reuse is refused"),
    ]);
    ids
}
