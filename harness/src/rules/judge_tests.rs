//! Each step of the card path and the fallback ladder, judged end to end.

use super::ladder::rule_names;
use super::*;
use time::macros::date;
use time::Date;

const ON: Date = date!(2025 - 06 - 10);
const OLD_ENOUGH_NOT_AFTER: Date = date!(2029 - 01 - 01);

fn adult() -> Patient {
    Patient::new(date!(1985 - 04 - 20), LimitCategory::U)
}

fn succeeded(method: AuthMethod, certificate_not_after: Date) -> CardPath {
    CardPath::Succeeded {
        method,
        certificate_not_after,
    }
}

fn failed() -> CardPath {
    CardPath::Failed(CardFailure::ReaderError)
}

#[test]
fn card_routes_by_method_apply_the_limit() {
    for (method, route) in [
        (AuthMethod::Face, Route::CardFace),
        (AuthMethod::Pin, Route::CardPin),
        (AuthMethod::Visual, Route::CardVisual),
    ] {
        let s = Situation::new(ON, adult()).with_card(succeeded(method, OLD_ENOUGH_NOT_AFTER));
        let outcome = judge(&s);
        assert_eq!(outcome.route, route);
        assert_eq!(outcome.share_percent, 30);
        assert!(outcome.limit_applied);
        assert!(!outcome.qualification_data_only);
        assert_eq!(outcome.insurer_number, None);
        assert_eq!(outcome.rule, rule_names::CARD_VALID);
        assert_eq!(legal_routes(&s), vec![route]);
    }
}

#[test]
fn card_in_grace_passes_qualification_data_only() {
    let not_after = date!(2025 - 09 - 30);
    let s = Situation::new(date!(2025 - 12 - 31), adult())
        .with_card(succeeded(AuthMethod::Pin, not_after));
    let outcome = judge(&s);
    assert_eq!(outcome.route, Route::CardPin);
    assert!(outcome.qualification_data_only && outcome.limit_applied);
    assert_eq!(outcome.rule, rule_names::CARD_GRACE);
}

#[test]
fn card_beyond_grace_falls_back() {
    let not_after = date!(2025 - 09 - 30);
    let s = Situation::new(date!(2026 - 01 - 01), adult())
        .with_card(succeeded(AuthMethod::Face, not_after))
        .with_document(Document::PortalScreen);
    let outcome = judge(&s);
    assert_eq!(outcome.route, Route::PortalScreen);
    assert_eq!(outcome.share_percent, 30);
    assert!(!outcome.limit_applied && !outcome.qualification_data_only);
}

#[test]
fn step_1_portal_screen_or_pdf_with_the_failed_card() {
    for (document, route) in [
        (Document::PortalScreen, Route::PortalScreen),
        (Document::PortalPdf, Route::PortalPdf),
    ] {
        let s = Situation::new(ON, adult())
            .with_card(failed())
            .with_document(document);
        let outcome = judge(&s);
        assert_eq!(outcome.route, route);
        assert_eq!(outcome.share_percent, 30);
        assert!(!outcome.limit_applied);
        // Without the card the screen is not enough.
        let alone = Situation::new(ON, adult()).with_document(document);
        assert_eq!(judge(&alone).route, Route::NotConfirmed);
    }
}

#[test]
fn step_1_is_preferred_to_step_2() {
    let s = Situation::new(ON, adult())
        .with_card(failed())
        .with_document(Document::QualificationNotice)
        .with_document(Document::PortalPdf);
    assert_eq!(judge(&s).route, Route::PortalPdf);
    assert_eq!(
        legal_routes(&s),
        vec![Route::PortalPdf, Route::QualificationNotice]
    );
}

#[test]
fn step_2_notice_with_the_failed_card() {
    for rule_set in RuleSet::ALL {
        let s = Situation::new(ON, adult())
            .with_rule_set(rule_set)
            .with_card(failed())
            .with_document(Document::QualificationNotice);
        let outcome = judge(&s);
        assert_eq!(outcome.route, Route::QualificationNotice);
        assert_eq!(outcome.rule, "ladder.notice_with_card");
    }
}

#[test]
fn notice_alone_seed_refuses_interim_accepts_with_lookup() {
    let notice_alone = |rule_set, on| {
        Situation::new(on, adult())
            .with_rule_set(rule_set)
            .with_document(Document::QualificationNotice)
    };
    assert_eq!(
        judge(&notice_alone(RuleSet::Seed, ON)).route,
        Route::NotConfirmed
    );
    let interim = judge(&notice_alone(RuleSet::Interim2026, date!(2026 - 03 - 31)));
    assert_eq!(interim.route, Route::QualificationNotice);
    assert_eq!(interim.rule, "interim-2026.notice_with_lookup");
    assert_eq!(interim.share_percent, 30);
    assert_eq!(
        judge(&notice_alone(RuleSet::Interim2026, date!(2026 - 04 - 01))).route,
        Route::NotConfirmed
    );
    let no_lookup = notice_alone(RuleSet::Interim2026, ON).with_online_lookup(false);
    assert_eq!(judge(&no_lookup).route, Route::NotConfirmed);
}

#[test]
fn step_3_return_visit_verbal_check() {
    let s = Situation::new(ON, adult())
        .with_visit(Visit::Return)
        .with_card(failed());
    let outcome = judge(&s);
    assert_eq!(outcome.route, Route::VerbalCheck);
    assert_eq!(outcome.share_percent, 30);
    assert_eq!(outcome.insurer_number, None);
    assert!(!outcome.limit_applied);
    // The facility's records of the last visit name the insurer, whatever the patient knows.
    let unknown = judge(&s.clone().with_insurer_known(false));
    assert_eq!(unknown.insurer_number, None);
    assert_eq!(unknown.insurer_rule, rule_names::INSURER_RECORDS);
}

#[test]
fn step_4_first_visit_statement_form() {
    let s = Situation::new(ON, adult())
        .with_card(failed())
        .with_insurer_known(false);
    let outcome = judge(&s);
    assert_eq!(outcome.route, Route::StatementForm);
    assert_eq!(outcome.share_percent, 30);
    assert_eq!(outcome.insurer_number, Some("77777777"));
    assert_eq!(outcome.insurer_rule, rule_names::INSURER_UNKNOWN);
    assert_eq!(outcome.rule, rule_names::STATEMENT_FORM);
    let named = judge(&s.with_insurer_known(true));
    assert_eq!(named.insurer_number, None);
    assert_eq!(named.insurer_rule, rule_names::INSURER_PATIENT);
}

#[test]
fn statement_form_only_when_no_document_is_accepted() {
    let s = Situation::new(ON, adult())
        .with_card(failed())
        .with_document(Document::PortalScreen);
    assert_eq!(legal_routes(&s), vec![Route::PortalScreen]);
    let refused = Situation::new(ON, adult())
        .with_card(failed())
        .with_document(Document::QualificationCertificate {
            valid_until: date!(2025 - 01 - 31),
        });
    assert_eq!(legal_routes(&refused), vec![Route::StatementForm]);
}

#[test]
fn no_card_and_nothing_accepted_is_not_confirmed() {
    let outcome = judge(&Situation::new(ON, adult()).with_visit(Visit::Return));
    assert_eq!(outcome.route, Route::NotConfirmed);
    assert_eq!(outcome.share_percent, 100);
    assert_eq!(outcome.rule, rule_names::NOTHING_ACCEPTED);
}

#[test]
fn not_insured_is_not_confirmed_whatever_is_shown() {
    let s = Situation::new(ON, adult().uninsured())
        .with_card(succeeded(AuthMethod::Face, OLD_ENOUGH_NOT_AFTER))
        .with_document(Document::QualificationCertificate {
            valid_until: date!(2026 - 07 - 31),
        });
    let outcome = judge(&s);
    assert_eq!(outcome.route, Route::NotConfirmed);
    assert_eq!(outcome.share_percent, 100);
    assert!(!outcome.limit_applied);
    assert_eq!(outcome.rule, rule_names::NOT_INSURED);
    assert_eq!(legal_routes(&s), vec![Route::NotConfirmed]);
    let failed_card = Situation::new(ON, adult().uninsured()).with_card(failed());
    assert_eq!(judge(&failed_card).route, Route::NotConfirmed);
}

#[test]
fn qualification_certificate_any_time_it_is_valid() {
    let certificate = Document::QualificationCertificate {
        valid_until: date!(2026 - 07 - 31),
    };
    let alone = Situation::new(date!(2026 - 07 - 31), adult()).with_document(certificate);
    let outcome = judge(&alone);
    assert_eq!(outcome.route, Route::QualificationCertificate);
    assert!(!outcome.limit_applied);
    let expired = Situation::new(date!(2026 - 08 - 01), adult()).with_document(certificate);
    assert_eq!(judge(&expired).route, Route::NotConfirmed);
    // Legal beside a working card, which is preferred.
    let both = Situation::new(ON, adult())
        .with_card(succeeded(AuthMethod::Face, OLD_ENOUGH_NOT_AFTER))
        .with_document(certificate);
    assert_eq!(
        legal_routes(&both),
        vec![Route::CardFace, Route::QualificationCertificate]
    );
    assert_eq!(judge(&both).route, Route::CardFace);
}

#[test]
fn old_card_seed_to_2025_12_01_interim_to_2026_03_31_with_lookup() {
    let old_card = Document::OldInsuranceCard { valid_until: None };
    let s = |on, rule_set| {
        Situation::new(on, adult())
            .with_rule_set(rule_set)
            .with_document(old_card)
    };
    assert_eq!(
        judge(&s(date!(2025 - 12 - 01), RuleSet::Seed)).route,
        Route::OldInsuranceCard
    );
    assert_eq!(
        judge(&s(date!(2025 - 12 - 02), RuleSet::Seed)).route,
        Route::NotConfirmed
    );
    let interim = judge(&s(date!(2025 - 12 - 02), RuleSet::Interim2026));
    assert_eq!(
        (interim.route, interim.rule),
        (Route::OldInsuranceCard, "interim-2026.old_card_with_lookup")
    );
    assert_eq!(
        judge(&s(date!(2026 - 03 - 31), RuleSet::Interim2026)).route,
        Route::OldInsuranceCard
    );
    assert_eq!(
        judge(&s(date!(2026 - 04 - 01), RuleSet::Interim2026)).route,
        Route::NotConfirmed
    );
    let no_lookup = s(date!(2026 - 01 - 05), RuleSet::Interim2026).with_online_lookup(false);
    assert_eq!(judge(&no_lookup).route, Route::NotConfirmed);
}

#[test]
fn service_down_blocks_the_interim_lookup() {
    let s = Situation::new(date!(2026 - 01 - 05), adult())
        .with_rule_set(RuleSet::Interim2026)
        .with_card(CardPath::Failed(CardFailure::ServiceDown))
        .with_document(Document::OldInsuranceCard { valid_until: None });
    assert_eq!(judge(&s).route, Route::StatementForm);
    let reader_error = Situation {
        card: CardPresentation::Presented { path: failed() },
        ..s
    };
    assert_eq!(judge(&reader_error).route, Route::OldInsuranceCard);
}

#[test]
fn fallback_keeps_the_normal_share_of_the_elderly() {
    let birth = date!(1950 - 06 - 15);
    let elderly = Patient::new(birth, LimitCategory::General);
    let s = Situation::new(date!(2025 - 06 - 15), elderly).with_card(failed());
    let outcome = judge(&s);
    assert_eq!(outcome.route, Route::StatementForm);
    assert_eq!(outcome.share_percent, 10);
    let certain = Situation {
        patient: elderly.with_income(IncomeClass::CertainIncome),
        ..s
    };
    assert_eq!(judge(&certain).share_percent, 20);
}

#[test]
fn outcome_for_answers_legal_routes_only() {
    let s = Situation::new(ON, adult())
        .with_card(failed())
        .with_document(Document::PortalScreen)
        .with_document(Document::QualificationNotice);
    let notice = outcome_for(&s, Route::QualificationNotice).expect("legal");
    assert_eq!(notice.rule, "ladder.notice_with_card");
    assert_eq!(notice.share_percent, 30);
    assert!(outcome_for(&s, Route::StatementForm).is_none());
    assert!(outcome_for(&s, Route::NotConfirmed).is_none());
    let nothing = Situation::new(ON, adult());
    assert_eq!(
        outcome_for(&nothing, Route::NotConfirmed).map(|o| o.share_percent),
        Some(100)
    );
}
