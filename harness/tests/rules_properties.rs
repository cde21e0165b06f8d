//! Properties of the reception rules (the oracle) over random situations: dates 2024-2027,
//! ages 0-100, every subset of documents, both rule sets, both visits, random card outcomes.

use harness::rules::{
    certificate_status, copayment_percent, judge, legal_routes, monthly_limit, outcome_for,
    AuthMethod, CardFailure, CardPath, CardPresentation, CertificateStatus, Document, IncomeClass,
    LimitCategory, Patient, Route, RuleSet, Scope, Situation, Visit,
};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use std::collections::BTreeSet;
use time::macros::date;
use time::{Date, Duration};

const FIRST_DAY: Date = date!(2024 - 01 - 01);
const LAST_DAY: Date = date!(2027 - 12 - 31);

fn day_in_range() -> impl Strategy<Value = Date> {
    (FIRST_DAY.to_julian_day()..=LAST_DAY.to_julian_day())
        .prop_map(|day| Date::from_julian_day(day).expect("within the calendar"))
}

fn days_from(on: Date, days: i64) -> Date {
    on.checked_add(Duration::days(days))
        .expect("within the calendar")
}

fn income() -> impl Strategy<Value = IncomeClass> {
    select(vec![
        IncomeClass::General,
        IncomeClass::CertainIncome,
        IncomeClass::ActiveLevel,
    ])
}

fn card(on: Date) -> impl Strategy<Value = CardPresentation> {
    let method = select(vec![AuthMethod::Face, AuthMethod::Pin, AuthMethod::Visual]);
    prop_oneof![
        Just(CardPresentation::NotPresented),
        // Certificates from well expired (beyond grace) to valid for years.
        (method, -400i64..=2000).prop_map(move |(method, offset)| CardPresentation::Presented {
            path: CardPath::Succeeded {
                method,
                certificate_not_after: days_from(on, offset),
            },
        }),
        select(CardFailure::ALL.to_vec()).prop_map(|failure| CardPresentation::Presented {
            path: CardPath::Failed(failure),
        }),
    ]
}

fn documents(on: Date) -> impl Strategy<Value = Vec<Document>> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(-400i64..=400),
        proptest::option::of(proptest::option::of(-400i64..=400)),
    )
        .prop_map(move |(screen, pdf, notice, certificate, old_card)| {
            let mut documents = Vec::new();
            if screen {
                documents.push(Document::PortalScreen);
            }
            if pdf {
                documents.push(Document::PortalPdf);
            }
            if notice {
                documents.push(Document::QualificationNotice);
            }
            if let Some(offset) = certificate {
                documents.push(Document::QualificationCertificate {
                    valid_until: days_from(on, offset),
                });
            }
            if let Some(valid_until) = old_card {
                documents.push(Document::OldInsuranceCard {
                    valid_until: valid_until.map(|offset| days_from(on, offset)),
                });
            }
            documents
        })
}

fn situation() -> impl Strategy<Value = Situation> {
    day_in_range().prop_flat_map(|on| {
        (
            0i64..=(101 * 366),
            select(LimitCategory::ALL.to_vec()),
            income(),
            prop::bool::weighted(0.9),
            select(RuleSet::ALL.to_vec()),
            select(vec![Visit::First, Visit::Return]),
            card(on),
            documents(on),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                move |(
                    age_days,
                    limit,
                    income,
                    insured,
                    rule_set,
                    visit,
                    card,
                    documents,
                    online_lookup,
                    insurer_known,
                )| Situation {
                    on,
                    rule_set,
                    visit,
                    card,
                    documents,
                    patient: Patient {
                        birth: days_from(on, -age_days),
                        income,
                        limit,
                        insured,
                    },
                    online_lookup,
                    insurer_known,
                },
            )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// (1) The judged route is legal, and it is the most preferred legal route.
    #[test]
    fn judged_route_is_legal(s in situation()) {
        let outcome = judge(&s);
        let legal = legal_routes(&s);
        prop_assert!(legal.contains(&outcome.route), "{:?} not in {:?}", outcome.route, legal);
        prop_assert_eq!(legal.first().copied(), Some(outcome.route));
        let mut unique = legal.clone();
        unique.sort();
        unique.dedup();
        prop_assert_eq!(unique.len(), legal.len(), "duplicates in {:?}", legal);
        // not_confirmed is legal only alone.
        prop_assert!(!legal.contains(&Route::NotConfirmed) || legal == vec![Route::NotConfirmed]);
    }

    /// (2) Every fallback ends at the patient's normal share, never 10割; only not_confirmed
    /// pays 100%.
    #[test]
    fn fallback_keeps_the_normal_share(s in situation()) {
        let outcome = judge(&s);
        let normal = copayment_percent(s.patient.birth, s.on, s.patient.income);
        if outcome.route.is_fallback() || outcome.route.is_card() {
            prop_assert_eq!(outcome.share_percent, normal);
            prop_assert_ne!(outcome.share_percent, 100);
        } else {
            prop_assert_eq!(outcome.share_percent, 100);
        }
        // The same holds for every legal route, not only the judged one.
        for route in legal_routes(&s) {
            let other = outcome_for(&s, route);
            prop_assert!(other.is_some(), "{:?} legal but without an outcome", route);
            if let Some(other) = other {
                prop_assert_eq!(other.route, route);
                if route.is_fallback() {
                    prop_assert_eq!(other.share_percent, normal);
                    prop_assert!(!other.limit_applied);
                }
            }
        }
        for route in Route::ALL {
            if !legal_routes(&s).contains(&route) {
                prop_assert!(outcome_for(&s, route).is_none(), "{:?} illegal but answered", route);
            }
        }
    }

    /// (3) The high-cost limit and the grace period's data-only mode come only through the card;
    /// the unknown-insurer number only on the verbal check and the statement form.
    #[test]
    fn card_only_effects(s in situation()) {
        let outcome = judge(&s);
        if outcome.limit_applied || outcome.qualification_data_only {
            prop_assert!(outcome.route.is_card(), "{:?}", outcome);
        }
        if outcome.insurer_number.is_some() {
            prop_assert!(matches!(outcome.route, Route::VerbalCheck | Route::StatementForm));
            prop_assert!(!s.insurer_known);
        }
        if !s.patient.insured {
            prop_assert_eq!(outcome.route, Route::NotConfirmed);
        }
    }

    /// (4) The other rule functions never panic and stay in range.
    #[test]
    fn rule_functions_stay_in_range(
        on in day_in_range(),
        offset in -2000i64..=2000,
        age_days in 0i64..=(101 * 366),
        income in income(),
        category in select(LimitCategory::ALL.to_vec()),
        cost in any::<u64>(),
        many_times in any::<bool>(),
        scope in select(vec![Scope::Outpatient, Scope::Household]),
    ) {
        let percent = copayment_percent(days_from(on, -age_days), on, income);
        prop_assert!([10, 20, 30].contains(&percent));
        let not_after = days_from(on, offset);
        match certificate_status(not_after, on) {
            CertificateStatus::Valid => prop_assert!(on <= not_after),
            CertificateStatus::Grace { until } => prop_assert!(not_after < on && on <= until),
            CertificateStatus::Expired => prop_assert!(not_after < on),
        }
        let limit = monthly_limit(category, cost, on, many_times, scope);
        prop_assert_eq!(limit.is_ok(), on < date!(2026 - 08 - 01));
    }
}

/// The generator is not degenerate: a fixed-seed sample of situations reaches every route as
/// the judged one, and both the grace period and the unknown-insurer number occur.
#[test]
fn random_situations_reach_every_route() {
    let mut runner = TestRunner::deterministic();
    let strategy = situation();
    let mut routes = BTreeSet::new();
    let (mut grace, mut unknown_insurer) = (false, false);
    for _ in 0..5000 {
        let s = strategy
            .new_tree(&mut runner)
            .expect("a situation")
            .current();
        let outcome = judge(&s);
        routes.insert(outcome.route);
        grace |= outcome.qualification_data_only;
        unknown_insurer |= outcome.insurer_number.is_some();
    }
    let missing: Vec<_> = Route::ALL
        .into_iter()
        .filter(|r| !routes.contains(r))
        .collect();
    assert!(missing.is_empty(), "never judged: {missing:?}");
    assert!(grace && unknown_insurer);
}
