//! The front desk after the card path: the clinic staff apply the fallback ladder of the
//! rules to the documents the patient shows. Shared by every reader driver: the reference
//! reader has its desk built in, and a device under test is a card reader only, so the
//! harness plays its desk.

use super::ObservedOutcome;
use crate::rules::{judge, CardFailure, CardPath, Document, Patient, RuleSet, Situation, Visit};
use time::Date;

/// What the desk knows of the visit.
#[derive(Clone, Copy, Debug)]
pub struct DeskSetup {
    pub today: Date,
    pub rule_set: RuleSet,
    pub visit: Visit,
    /// Patient facts the desk holds (birth date and income for the share on a fallback).
    pub patient: Patient,
}

/// The desk's decision: the screen it shows (`desk_<route>`) and the outcome.
pub fn decide(
    setup: &DeskSetup,
    card_path: Option<CardPath>,
    documents: Vec<Document>,
) -> (String, ObservedOutcome) {
    let mut situation = Situation::new(setup.today, setup.patient)
        .with_rule_set(setup.rule_set)
        .with_visit(setup.visit)
        .with_online_lookup(!matches!(
            card_path,
            Some(CardPath::Failed(CardFailure::ServiceDown))
        ));
    if let Some(path) = card_path {
        situation = situation.with_card(path);
    }
    for d in documents {
        situation = situation.with_document(d);
    }
    let decided = judge(&situation);
    (
        format!("desk_{}", decided.route),
        ObservedOutcome {
            route: decided.route,
            share_percent: decided.share_percent,
            limit_applied: decided.limit_applied,
            qualification_data_only: decided.qualification_data_only,
        },
    )
}
