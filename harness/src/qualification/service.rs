//! What the service answers, without HTTP: certificate check, lookup by certificate key,
//! result faults, and the consent held per facility. Kept apart from the server so the
//! rules can be tested without sockets.

use super::fault::{Fault, FaultTable};
use super::identity::CertificateKey;
use super::record::{
    CertificateStatus, Consent, InsuredRecord, QualificationResult, QualificationValidity,
    RecordError, ResultErrorCode, SegmentOfResult,
};
use super::trust::CertificateProblem;
use super::trust::TrustAnchor;
use super::wire::{Query, Registration};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use time::Date;

/// Consent remembered from queries of this run is capped, so a client cycling facility codes
/// cannot grow the server without bound. Past the cap new choices are still answered (echoed)
/// but not remembered.
pub const MAX_REMEMBERED_CONSENTS: usize = 10_000;

/// Registrations made during a run are capped the same way (only certificates the CA issued
/// can register at all). Past the cap a registration is refused as `NotRegistered` would be
/// answered anyway: 403 with the reason.
pub const MAX_REGISTRATIONS: usize = 10_000;

pub(crate) struct Service {
    records: HashMap<CertificateKey, Vec<InsuredRecord>>,
    trust: Arc<TrustAnchor>,
    faults: Mutex<FaultTable>,
    consents: Mutex<HashMap<(CertificateKey, String), Consent>>,
    /// Cards registered for insurance use: from the records, plus registrations of this run.
    registered: Mutex<HashSet<CertificateKey>>,
    today: Mutex<Option<Date>>,
}

/// Why a registration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RegistrationProblem {
    #[error(transparent)]
    Certificate(#[from] CertificateProblem),
    #[error("an expired certificate cannot be registered, even in its grace period")]
    InGracePeriod,
    #[error("the service holds {MAX_REGISTRATIONS} registrations of this run already")]
    Full,
}

impl RegistrationProblem {
    pub fn code(&self) -> ResultErrorCode {
        match self {
            RegistrationProblem::Certificate(problem) => problem.code(),
            RegistrationProblem::InGracePeriod => ResultErrorCode::CertificateExpired,
            RegistrationProblem::Full => ResultErrorCode::NotRegistered,
        }
    }
}

/// Locks a mutex, recovering from poisoning: every critical section here is a plain map
/// update that leaves the data consistent even if a thread panicked after taking the lock.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Service {
    /// Checks every record first: a broken record file must not half-run.
    pub fn new(
        records: Vec<InsuredRecord>,
        trust: impl Into<Arc<TrustAnchor>>,
        faults: FaultTable,
        today: Option<Date>,
    ) -> Result<Self, (usize, RecordError)> {
        let mut by_key: HashMap<CertificateKey, Vec<InsuredRecord>> = HashMap::new();
        let mut registered = HashSet::new();
        for (index, record) in records.into_iter().enumerate() {
            record.validate().map_err(|e| (index, e))?;
            if record.registered_for_insurance {
                registered.insert(record.certificate.clone());
            }
            by_key
                .entry(record.certificate.clone())
                .or_default()
                .push(record);
        }
        Ok(Service {
            records: by_key,
            trust: trust.into(),
            faults: Mutex::new(faults),
            consents: Mutex::new(HashMap::new()),
            registered: Mutex::new(registered),
            today: Mutex::new(today),
        })
    }

    pub fn faults(&self) -> FaultTable {
        lock(&self.faults).clone()
    }

    pub fn set_fault(&self, fault: Option<Fault>) {
        lock(&self.faults).server = fault;
    }

    pub fn set_record_fault(&self, key: &CertificateKey, fault: Option<Fault>) {
        let mut faults = lock(&self.faults);
        match fault {
            Some(fault) => {
                faults.per_record.insert(key.clone(), fault);
            }
            None => {
                faults.per_record.remove(key);
            }
        }
    }

    pub fn fault_for(&self, key: &CertificateKey) -> Option<Fault> {
        lock(&self.faults).fault_for(key).cloned()
    }

    /// The service's date: the scenario's when set, else today (UTC).
    pub fn today(&self) -> Date {
        lock(&self.today).unwrap_or_else(|| time::OffsetDateTime::now_utc().date())
    }

    pub fn set_today(&self, today: Option<Date>) {
        *lock(&self.today) = today;
    }

    pub fn trust(&self) -> &TrustAnchor {
        &self.trust
    }

    pub fn is_registered(&self, key: &CertificateKey) -> bool {
        lock(&self.registered).contains(key)
    }

    /// Registers the card for insurance use. The certificate must pass the same check as a
    /// query, and be within its validity: registration authenticates with JPKI, which an
    /// expired certificate cannot do even while it still confirms qualification.
    pub fn register(&self, registration: &Registration) -> Result<(), RegistrationProblem> {
        let status = self.trust.check(&registration.certificate, self.today())?;
        if status != CertificateStatus::Valid {
            return Err(RegistrationProblem::InGracePeriod);
        }
        let mut registered = lock(&self.registered);
        if registered.len() >= MAX_REGISTRATIONS && !registered.contains(&registration.key) {
            return Err(RegistrationProblem::Full);
        }
        registered.insert(registration.key.clone());
        Ok(())
    }

    /// The answer to `query` under `fault` (only result faults matter here; the server
    /// applies transport faults around this).
    pub fn answer(&self, query: &Query, fault: Option<&Fault>) -> QualificationResult {
        let status = match self.trust.check(&query.certificate, self.today()) {
            Ok(status) => status,
            Err(problem) => return QualificationResult::error(problem.code(), problem.to_string()),
        };
        let matches = self
            .records
            .get(&query.key)
            .map(Vec::as_slice)
            .unwrap_or_default();
        // Only a card the service knows can be known to be unregistered; an unknown one is
        // simply not found (4).
        if !matches.is_empty() && !self.is_registered(&query.key) {
            return QualificationResult::error(
                ResultErrorCode::NotRegistered,
                "the card is not registered for insurance use: register it at the reader \
                 or in the Mynaportal app",
            );
        }
        let mut single = None;
        let mut result = match (matches, fault) {
            (_, Some(Fault::SeveralMatches)) => {
                QualificationResult::processed(QualificationValidity::Several)
            }
            ([], _) => QualificationResult::processed(QualificationValidity::None),
            ([record], _) => {
                single = Some(record);
                QualificationResult::from_record(record)
            }
            _ => QualificationResult::processed(QualificationValidity::Several),
        };
        if fault == Some(&Fault::QualificationInvalid)
            && result.segment_of_result == SegmentOfResult::Ok
        {
            result.qualification_validity = Some(QualificationValidity::Invalid);
        }
        result.certificate_status = Some(status);
        if let (Some(record), true, CertificateStatus::Valid) =
            (single, result.qualification.is_some(), status)
        {
            result.consent = self.settle_consent(record, query);
        }
        result
    }

    /// The consent in force at the querying facility: the one sent now (remembered for a
    /// return visit), else the one remembered from earlier in this run, else the one the
    /// record holds from before the run. Never another facility's.
    fn settle_consent(&self, record: &InsuredRecord, query: &Query) -> Option<Consent> {
        let slot = (query.key.clone(), query.facility.clone());
        let mut held = lock(&self.consents);
        match query.consent {
            Some(consent) => {
                if held.len() < MAX_REMEMBERED_CONSENTS || held.contains_key(&slot) {
                    held.insert(slot, consent);
                }
                Some(consent)
            }
            None => held
                .get(&slot)
                .copied()
                .or_else(|| record.consent_at(&query.facility)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qualification::record::FacilityConsent;
    use crate::qualification::wire::{parse_query, parse_registration};
    use base64::Engine as _;
    use card_emulator::pki::TestPki;
    use card_emulator::{CardImage, CardProfile};
    use time::macros::date;

    struct Fixture {
        service: Service,
        cert_b64: String,
        key: CertificateKey,
    }

    fn fixture(records: impl FnOnce(&CertificateKey) -> Vec<InsuredRecord>) -> Fixture {
        let profile = CardProfile::sample();
        let image = CardImage::build(&profile).expect("card");
        let pki = TestPki::shared().expect("pki");
        let crl = pki.crl_for([&profile], date!(2025 - 11 - 01)).expect("crl");
        let trust = TrustAnchor::from_der(pki.ca_certificate_der(), &crl).expect("trust");
        let key = CertificateKey::test_card(profile.auth_certificate.serial);
        let service = Service::new(
            records(&key),
            trust,
            FaultTable::default(),
            Some(date!(2025 - 11 - 04)),
        )
        .expect("records");
        Fixture {
            service,
            cert_b64: base64::engine::general_purpose::STANDARD.encode(&image.auth_certificate),
            key,
        }
    }

    impl Fixture {
        fn ask(&self, facility: &str, consent: Option<Consent>) -> QualificationResult {
            let body = serde_json::json!({
                "certificate": self.cert_b64, "facility": facility, "consent": consent
            });
            let query = parse_query(body.to_string().as_bytes()).expect("query");
            let fault = self.service.fault_for(&query.key);
            self.service.answer(&query, fault.as_ref())
        }
    }

    #[test]
    fn one_record_is_answered_with_its_data_none_with_4_two_with_5() {
        let one = fixture(|key| vec![InsuredRecord::example(key.clone())]);
        let result = one.ask("F", None);
        assert_eq!(result.segment_of_result, SegmentOfResult::Ok);
        assert_eq!(
            result.qualification_validity,
            Some(QualificationValidity::Valid)
        );
        assert_eq!(result.certificate_status, Some(CertificateStatus::Valid));
        assert_eq!(
            result.qualification.map(|q| q.insurer_number),
            Some("06139999".into())
        );

        let none = fixture(|_| vec![InsuredRecord::example(CertificateKey::test_card(9))]);
        let result = none.ask("F", None);
        assert_eq!(
            result.qualification_validity,
            Some(QualificationValidity::None)
        );
        assert_eq!(result.qualification, None);

        let two = fixture(|key| {
            vec![
                InsuredRecord::example(key.clone()),
                InsuredRecord::example(key.clone()),
            ]
        });
        let result = two.ask("F", None);
        assert_eq!(
            result.qualification_validity,
            Some(QualificationValidity::Several)
        );
        assert_eq!(result.qualification, None);
    }

    #[test]
    fn result_faults_change_what_is_said_and_can_be_flipped() {
        let f = fixture(|key| vec![InsuredRecord::example(key.clone())]);
        f.service
            .set_record_fault(&f.key, Some(Fault::QualificationInvalid));
        let result = f.ask("F", None);
        assert_eq!(
            result.qualification_validity,
            Some(QualificationValidity::Invalid)
        );
        assert!(
            result.qualification.is_some(),
            "the data of the lost qualification"
        );
        f.service.set_fault(Some(Fault::SeveralMatches));
        assert_eq!(
            f.ask("F", None).qualification_validity,
            Some(QualificationValidity::Several)
        );
        f.service.set_fault(None);
        f.service.set_record_fault(&f.key, None);
        assert_eq!(
            f.ask("F", None).qualification_validity,
            Some(QualificationValidity::Valid)
        );
    }

    #[test]
    fn consent_is_held_per_facility_and_reused_on_a_return_visit() {
        let before = Consent {
            checkups: true,
            ..Consent::default()
        };
        let f = fixture(|key| {
            let mut record = InsuredRecord::example(key.clone());
            record.consent.push(FacilityConsent {
                facility: "HOME".into(),
                consent: before,
            });
            vec![record]
        });
        assert_eq!(f.ask("HOME", None).consent, Some(before));
        assert_eq!(f.ask("OTHER", None).consent, None, "never shared");
        assert_eq!(
            f.ask("OTHER", Some(Consent::ALL)).consent,
            Some(Consent::ALL)
        );
        assert_eq!(f.ask("OTHER", None).consent, Some(Consent::ALL), "reused");
        assert_eq!(f.ask("HOME", None).consent, Some(before));
        assert_eq!(
            f.ask("HOME", Some(Consent::default())).consent,
            Some(Consent::default()),
            "re-chosen"
        );
    }

    #[test]
    fn an_expired_certificate_in_its_grace_period_passes_qualification_data_only() {
        let f = fixture(|key| vec![InsuredRecord::example(key.clone())]);
        f.service.set_today(Some(date!(2030 - 03 - 10)));
        let result = f.ask("F", Some(Consent::ALL));
        assert_eq!(
            result.certificate_status,
            Some(CertificateStatus::ExpiredInGracePeriod)
        );
        assert!(result.qualification.is_some());
        assert_eq!(result.consent, None);
        f.service.set_today(Some(date!(2030 - 06 - 01)));
        let result = f.ask("F", None);
        assert_eq!(result.segment_of_result, SegmentOfResult::Error);
        assert_eq!(result.error_code, Some(ResultErrorCode::CertificateExpired));
        assert_eq!(result.qualification, None);
    }

    #[test]
    fn an_unregistered_card_is_refused_until_it_is_registered() {
        let f = fixture(|key| {
            let mut record = InsuredRecord::example(key.clone());
            record.registered_for_insurance = false;
            vec![record]
        });
        let result = f.ask("F", None);
        assert_eq!(result.segment_of_result, SegmentOfResult::Error);
        assert_eq!(result.error_code, Some(ResultErrorCode::NotRegistered));
        assert_eq!(result.qualification, None);
        assert!(!f.service.is_registered(&f.key));

        let body = serde_json::json!({ "certificate": f.cert_b64 });
        let registration = parse_registration(body.to_string().as_bytes()).expect("body");
        f.service.set_today(Some(date!(2030 - 03 - 01)));
        assert_eq!(
            f.service.register(&registration),
            Err(RegistrationProblem::InGracePeriod)
        );
        f.service.set_today(Some(date!(2025 - 11 - 04)));
        assert_eq!(f.service.register(&registration), Ok(()));
        assert!(f.service.is_registered(&f.key));
        assert_eq!(
            f.ask("F", None).qualification_validity,
            Some(QualificationValidity::Valid)
        );
    }

    #[test]
    fn a_broken_record_is_refused_with_its_index() {
        let pki = TestPki::shared().expect("pki");
        let crl = pki
            .crl(&[], date!(2025 - 11 - 01), date!(2025 - 11 - 02))
            .expect("crl");
        let trust = TrustAnchor::from_der(pki.ca_certificate_der(), &crl).expect("trust");
        let mut bad = InsuredRecord::example(CertificateKey::test_card(2));
        bad.qualification.insurer_number = "x".into();
        let records = vec![InsuredRecord::example(CertificateKey::test_card(1)), bad];
        match Service::new(records, trust, FaultTable::default(), None) {
            Err((index, RecordError::InsurerNumber(_))) => assert_eq!(index, 1),
            Err(other) => panic!("unexpected {other:?}"),
            Ok(_) => panic!("accepted a broken record"),
        }
    }
}
