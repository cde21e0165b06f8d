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
//! - Insurer number 77777777 only on `verbal_check` / `statement_form` when
//!   [`Situation::insurer_known`] is false; card and document routes name the insurer.
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
pub mod ladder;
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
pub use ladder::{judge, legal_routes, outcome_for, Outcome};
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
