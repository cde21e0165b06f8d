//! A reader's claims against what the bench saw. The harness owns the emulated card and
//! the qualification service, so what they answered is known, not reported: every VERIFY a
//! reader (a device under test, or the reference reader, judged the same way) says it sent
//! must have reached the card with that status word; a route through the card needs the
//! card's own work behind it (a PIN verified and a signature computed; 照合番号B verified
//! and the photo read; the certificate read) and the service's answer to this card's
//! certificate, whose share the reader must report; a face decision (a match, a non-match,
//! a rejected attack) compares the camera with the chip's photo, so it needs 照合番号B
//! verified and the photo read; a registration the reader shows as done must have reached
//! the service. A claim without its trace is the reader's `fail`.

use super::verdict::Observed;
use crate::qualification::{CertificateKey, CertificateStatus, Endpoint, Served};
use crate::reader::{EventKind, FaceResult};
use crate::rules::Route;
use card_emulator::card::{Data, Exchange, KeyRef, Operation};
use card_emulator::PinRef;

/// Every claim of `observed` that the card's journal or the service's log contradicts
/// (empty: none). `certificate`: the key of the case's emulated card; without it (no card,
/// a real card) the service's log is not held against the reader, nor is a missing journal.
pub fn contradictions(observed: &Observed, certificate: Option<&CertificateKey>) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(journal) = observed.journal.as_deref() {
        found.extend(verify_claims(observed, journal));
        let face = face_claim(observed);
        if let Some(outcome) = &observed.outcome {
            // A face route's photo work is the face decision's, named once, by the decision.
            let decided = face.as_ref().is_some_and(|f| f.result.compares_photo());
            found.extend(route_claims(outcome.route, journal, decided));
        }
        found.extend(face.into_iter().flat_map(|f| f.unbacked));
    }
    if let (Some(key), true) = (certificate, observed.journal.is_some()) {
        found.extend(service_claims(observed, &observed.served, key));
    }
    found
}

/// The service's side: a card route rests on an answer to this card's certificate, whose
/// share, limit and certificate status the reader reports; a registration shown as done reached the service.
fn service_claims(observed: &Observed, served: &[Served], key: &CertificateKey) -> Vec<String> {
    let mut found = Vec::new();
    let ours = |s: &&Served, endpoint: Endpoint| {
        s.route == endpoint && s.status == Some(200) && s.certificate.as_ref() == Some(key)
    };
    if let Some(outcome) = &observed.outcome {
        if outcome.route.is_card() {
            let answer = served
                .iter()
                .rev()
                .filter(|s| ours(s, Endpoint::Query))
                .filter_map(|s| s.result.as_ref())
                .find_map(|r| Some((r, r.qualification.as_ref()?)));
            match answer {
                None => found.push(format!(
                    "the device reported route {}, but the service answered no qualification \
                     for this card's certificate",
                    outcome.route
                )),
                Some((result, q)) => {
                    let share = q.insured_partial_contribution_ratio.percent();
                    if share != outcome.share_percent {
                        found.push(format!(
                            "the device reported share {}%, but the service answered {share}% \
                             for this card",
                            outcome.share_percent
                        ));
                    }
                    let limit = q
                        .limit_application_certificate_classification_flag
                        .is_some();
                    if limit != outcome.limit_applied {
                        found.push(format!(
                            "the device reported limit_applied {}, but the service's answer \
                             carries {} limit category",
                            outcome.limit_applied,
                            if limit { "a" } else { "no" }
                        ));
                    }
                    let grace =
                        result.certificate_status == Some(CertificateStatus::ExpiredInGracePeriod);
                    if grace != outcome.qualification_data_only {
                        found.push(format!(
                            "the device reported qualification_data_only {}, but the service \
                             judged the certificate {}",
                            outcome.qualification_data_only,
                            if grace {
                                "in its grace period"
                            } else {
                                "valid"
                            }
                        ));
                    }
                }
            }
        }
    }
    let shows_registered = observed
        .events
        .iter()
        .any(|e| matches!(&e.kind, EventKind::Screen { name } if name == "registration_done"));
    if shows_registered
        && !served
            .iter()
            .any(|s| ours(&s, Endpoint::Registration) && s.registered)
    {
        found.push(
            "the device showed `registration_done`, but the service registered no card with \
             this certificate"
                .into(),
        );
    }
    found
}

/// The VERIFYs reported (of the PIN or 照合番号B), in order, against those the card answered.
fn verify_claims(observed: &Observed, journal: &[Exchange]) -> Option<String> {
    let reported = observed.verify_sws();
    // Every VERIFY that presented a value: the PIN, or 照合番号B on the face path.
    let answered: Vec<u16> = journal
        .iter()
        .filter(|x| {
            matches!(
                x.operation,
                Operation::Verify {
                    with_data: true,
                    ..
                }
            )
        })
        .map(|x| x.sw)
        .collect();
    let n = reported.len().max(answered.len());
    (0..n).find_map(|i| match (reported.get(i), answered.get(i)) {
        (Some(r), Some(a)) if r != a => Some(format!(
            "the device reported VERIFY {r:04X} (VERIFY {}); the card answered {a:04X}",
            i + 1
        )),
        (Some(r), None) if answered.is_empty() => Some(format!(
            "the device reported VERIFY {r:04X}; the card received no VERIFY"
        )),
        (Some(r), None) => Some(format!(
            "the device reported VERIFY {r:04X} (VERIFY {}); the card received only {}",
            i + 1,
            answered.len()
        )),
        (None, Some(a)) => Some(format!(
            "the card answered a VERIFY ({a:04X}, the {}.) that the device did not report",
            i + 1
        )),
        _ => None,
    })
}

/// The face decision a reader reported (the end of its last face path), and the card work it
/// lacks: a decision that compares the camera with the chip's photo ([`FaceResult::
/// compares_photo`]) needs 照合番号B verified and the photo read; `locked` and `unavailable`
/// need nothing. Without a journal (no emulated card) nothing is held against it.
#[derive(Clone, Debug, PartialEq)]
pub struct FaceClaim {
    pub result: FaceResult,
    /// Why the card's journal does not back it, one sentence each (empty: backed).
    pub unbacked: Vec<String>,
}

/// The last `face_result` of `observed`, held to the card's journal.
pub fn face_claim(observed: &Observed) -> Option<FaceClaim> {
    let result = observed.face()?;
    let unbacked = match observed.journal.as_deref() {
        Some(journal) if result.compares_photo() => photo_work(journal)
            .into_iter()
            .filter(|(done, _)| !done)
            .map(|(_, why)| format!("the device reported face {result}, but {why}"))
            .collect(),
        _ => Vec::new(),
    };
    Some(FaceClaim { result, unbacked })
}

/// Whether an operation succeeded on the card (answered `9000`).
fn did(journal: &[Exchange], operation: Operation) -> bool {
    journal
        .iter()
        .any(|x| x.operation == operation && x.sw == 0x9000)
}

/// Whether a READ BINARY of `data` returned bytes.
fn read(journal: &[Exchange], data: Data) -> bool {
    journal.iter().any(|x| {
        matches!(x.operation, Operation::ReadBinary(Some(d), n) if d == data && n > 0)
            && x.sw == 0x9000
    })
}

/// What comparing a face with the chip's photo needs the card to have done.
fn photo_work(journal: &[Exchange]) -> [(bool, &'static str); 2] {
    [
        (
            did(
                journal,
                Operation::Verify {
                    pin: Some(PinRef::SurfaceCodeB),
                    with_data: true,
                },
            ),
            "no 照合番号B VERIFY succeeded",
        ),
        (
            read(journal, Data::Surface),
            "the chip's face photo was never read",
        ),
    ]
}

/// What a route through the card needs the card to have done; `face_decided`: a face
/// decision was reported, which answers for the photo work itself ([`face_claim`]).
fn route_claims(route: Route, journal: &[Exchange], face_decided: bool) -> Vec<String> {
    let did = |operation: Operation| did(journal, operation);
    let read = |data: Data| read(journal, data);
    let mut missing = Vec::new();
    let photo = photo_work(journal);
    let needs: &[(bool, &str)] = match route {
        Route::CardPin => &[
            (
                did(Operation::Verify {
                    pin: Some(PinRef::AuthPin),
                    with_data: true,
                }),
                "no PIN VERIFY succeeded",
            ),
            (
                did(Operation::Sign(Some(KeyRef::Auth))),
                "the card computed no signature with its authentication key",
            ),
            (
                read(Data::AuthCertificate),
                "the authentication certificate was never read",
            ),
        ],
        Route::CardVisual => &[(
            read(Data::AuthCertificate),
            "the authentication certificate was never read",
        )],
        Route::CardFace if face_decided => &[(
            read(Data::AuthCertificate),
            "the authentication certificate was never read",
        )],
        Route::CardFace => &[
            photo[0],
            photo[1],
            (
                read(Data::AuthCertificate),
                "the authentication certificate was never read",
            ),
        ],
        _ => &[],
    };
    for (done, why) in needs {
        if !done {
            missing.push(format!("the device reported route {route}, but {why}"));
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::{Event, ObservedOutcome};
    use std::time::Duration;

    fn x(operation: Operation, sw: u16) -> Exchange {
        Exchange { operation, sw }
    }

    const PIN: Operation = Operation::Verify {
        pin: Some(PinRef::AuthPin),
        with_data: true,
    };

    fn observed(claims: &[u16], route: Option<Route>, journal: Vec<Exchange>) -> Observed {
        let mut o = Observed::gone();
        o.events = claims
            .iter()
            .map(|&sw| Event {
                at: Duration::ZERO,
                kind: EventKind::VerifyAnswered { sw },
            })
            .collect();
        o.outcome = route.map(|route| ObservedOutcome {
            route,
            share_percent: 30,
            limit_applied: true,
            qualification_data_only: false,
        });
        o.journal = Some(journal);
        o
    }

    fn pin_path() -> Vec<Exchange> {
        vec![
            x(
                Operation::ReadBinary(Some(Data::AuthCertificate), 900),
                0x9000,
            ),
            x(PIN, 0x63C2),
            x(PIN, 0x9000),
            x(Operation::Sign(Some(KeyRef::Auth)), 0x9000),
        ]
    }

    #[test]
    fn an_honest_pin_path_has_nothing_against_it() {
        let o = observed(&[0x63C2, 0x9000], Some(Route::CardPin), pin_path());
        assert_eq!(contradictions(&o, None), Vec::<String>::new());
    }

    #[test]
    fn a_device_that_never_touched_the_card_is_caught() {
        let o = observed(&[0x9000], Some(Route::CardPin), Vec::new());
        let found = contradictions(&o, None);
        assert_eq!(
            found[0],
            "the device reported VERIFY 9000; the card received no VERIFY"
        );
        assert!(found.iter().any(|f| f.contains("computed no signature")));
    }

    #[test]
    fn a_wrong_pin_reported_as_accepted_is_caught() {
        let mut journal = pin_path();
        journal.truncate(2);
        let o = observed(&[0x9000], Some(Route::CardPin), journal);
        let found = contradictions(&o, None);
        assert!(found[0].contains("reported VERIFY 9000 (VERIFY 1); the card answered 63C2"));
    }

    #[test]
    fn an_unreported_verify_and_a_face_route_without_the_photo_are_caught() {
        let o = observed(&[], Some(Route::CardFace), vec![x(PIN, 0x63C2)]);
        let found = contradictions(&o, None);
        assert!(found[0].contains("did not report"));
        assert!(found.iter().any(|f| f.contains("照合番号B")));
        assert!(found.iter().any(|f| f.contains("face photo")));
    }

    fn face(result: FaceResult) -> Event {
        Event {
            at: Duration::ZERO,
            kind: EventKind::FaceResult {
                result,
                consecutive_failures: 1,
            },
        }
    }

    const SURFACE_CODE: Operation = Operation::Verify {
        pin: Some(PinRef::SurfaceCodeB),
        with_data: true,
    };

    #[test]
    fn a_face_decision_rests_on_the_chip_photo() {
        let photo_path = vec![
            x(SURFACE_CODE, 0x9000),
            x(Operation::ReadBinary(Some(Data::Surface), 3000), 0x9000),
        ];
        for result in [
            FaceResult::Matched,
            FaceResult::NoMatch,
            FaceResult::AttackRejected,
        ] {
            // Backed: 照合番号B verified, the photo read.
            let mut o = observed(&[0x9000], None, photo_path.clone());
            o.events.push(face(result));
            let claim = face_claim(&o).unwrap();
            assert_eq!((claim.result, claim.unbacked.len()), (result, 0));
            assert_eq!(contradictions(&o, None), Vec::<String>::new());
            // 照合番号B refused, the photo never read.
            let mut o = observed(&[0x6983], None, vec![x(SURFACE_CODE, 0x6983)]);
            o.events.push(face(result));
            let found = contradictions(&o, None);
            assert_eq!(
                found,
                [
                    format!("the device reported face {result}, but no 照合番号B VERIFY succeeded"),
                    format!(
                        "the device reported face {result}, but the chip's face photo was never read"
                    ),
                ]
            );
            assert_eq!(face_claim(&o).unwrap().unbacked, found);
        }
        // Locked and unavailable compare nothing: nothing to back.
        for result in [FaceResult::Locked, FaceResult::Unavailable] {
            let mut o = observed(&[], None, Vec::new());
            o.events.push(face(result));
            assert!(face_claim(&o).unwrap().unbacked.is_empty());
            assert!(contradictions(&o, None).is_empty());
        }
        // No journal (a real card): nothing held against it; no face path: no claim.
        let mut o = observed(&[], None, Vec::new());
        o.journal = None;
        o.events.push(face(FaceResult::NoMatch));
        assert!(face_claim(&o).unwrap().unbacked.is_empty());
        assert_eq!(face_claim(&observed(&[], None, Vec::new())), None);
    }

    #[test]
    fn a_face_route_names_the_missing_photo_once() {
        let mut o = observed(&[], Some(Route::CardFace), Vec::new());
        o.events.push(face(FaceResult::Matched));
        let found = contradictions(&o, None);
        assert_eq!(
            found.iter().filter(|f| f.contains("face photo")).count(),
            1,
            "{found:?}"
        );
        assert!(found
            .iter()
            .any(|f| f.contains("authentication certificate")));
    }

    fn served(key: &CertificateKey, route: Endpoint, ratio: Option<u8>) -> Served {
        use crate::qualification::{
            InsuredRecord, PartialContributionRatio, QualificationResult, ReferenceClassification,
            SegmentOfResult,
        };
        let mut record = InsuredRecord::example(key.clone());
        record
            .qualification
            .limit_application_certificate_classification_flag =
            Some(crate::rules::LimitCategory::General);
        if ratio == Some(10) {
            record.qualification.insured_partial_contribution_ratio = PartialContributionRatio::Ten;
        }
        Served {
            seq: 0,
            route,
            status: Some(200),
            error: None,
            certificate: Some(key.clone()),
            facility: None,
            consent: None,
            result: ratio.map(|_| QualificationResult {
                reference_classification: ReferenceClassification::Card,
                segment_of_result: SegmentOfResult::Ok,
                qualification_validity: None,
                error_code: None,
                error_message: None,
                certificate_status: None,
                qualification: Some(record.qualification.clone()),
                consent: None,
            }),
            truncated: false,
            fault: None,
            registered: route == Endpoint::Registration,
        }
    }

    #[test]
    fn a_card_route_rests_on_the_services_answer_to_this_card() {
        let key = CertificateKey::test_card(4097);
        let other = CertificateKey::test_card(9999);
        let mut o = observed(&[0x63C2, 0x9000], Some(Route::CardPin), pin_path());
        o.served = vec![served(&key, Endpoint::Query, Some(30))];
        assert_eq!(contradictions(&o, Some(&key)), Vec::<String>::new());
        // No query at all, or one for another card's certificate.
        for log in [vec![], vec![served(&other, Endpoint::Query, Some(30))]] {
            o.served = log;
            assert_eq!(
                contradictions(&o, Some(&key)),
                [
                    "the device reported route card_pin, but the service answered no \
                  qualification for this card's certificate"
                ]
            );
        }
        // The device says qualification data only; the service judged the certificate valid.
        o.served = vec![served(&key, Endpoint::Query, Some(30))];
        o.outcome.as_mut().unwrap().qualification_data_only = true;
        assert_eq!(
            contradictions(&o, Some(&key)),
            [
                "the device reported qualification_data_only true, but the service judged the \
              certificate valid"
            ]
        );
        o.outcome.as_mut().unwrap().qualification_data_only = false;
        // The service said 10 %, the device 30 %.
        o.served = vec![served(&key, Endpoint::Query, Some(10))];
        assert_eq!(
            contradictions(&o, Some(&key)),
            ["the device reported share 30%, but the service answered 10% for this card"]
        );
    }

    #[test]
    fn a_registration_shown_as_done_must_have_reached_the_service() {
        let key = CertificateKey::test_card(4097);
        let mut o = observed(&[], None, Vec::new());
        o.events.push(Event {
            at: Duration::ZERO,
            kind: EventKind::Screen {
                name: "registration_done".into(),
            },
        });
        assert_eq!(contradictions(&o, Some(&key)).len(), 1);
        o.served = vec![served(&key, Endpoint::Registration, None)];
        assert!(contradictions(&o, Some(&key)).is_empty());
    }

    #[test]
    fn without_a_journal_nothing_is_claimed_against() {
        let mut o = observed(&[0x9000], Some(Route::CardPin), Vec::new());
        o.journal = None;
        assert!(contradictions(&o, None).is_empty());
    }
}
