//! From a case to the situation the rules judge: what the card path *should* come to,
//! predicted from the case's inputs alone (the card profile, the steps, the service), never
//! from what the reader did. The reader's outcome is then compared with the rules' verdict
//! on this situation.

use crate::rules::{
    certificate_status, AuthMethod, CardFailure, CardPath, CertificateStatus, Document,
    LimitCategory, Patient, Situation,
};
use crate::scenario::{Case, Method, PinEntry, ServiceFault, Shown, StepKind};
use card_emulator::profile::{CardKind, CardProfile};
use time::Date;

/// Why a case cannot be judged (yet).
pub enum Unjudgeable {
    /// The face path comes with the camera issue.
    FacePath,
}

/// The patient the desk knows: birth date from the card (or a default adult), income from
/// the insurance record's limit category.
pub fn patient(case: &Case, profile: Option<&CardProfile>) -> Patient {
    let birth = profile
        .map(|p| p.holder.birth_date)
        .unwrap_or(time::macros::date!(1980 - 01 - 01));
    let limit = case
        .insurance
        .as_ref()
        .and_then(|i| i.limit_category.as_deref())
        .and_then(|code| LimitCategory::from_code(code).ok())
        .unwrap_or_else(|| default_limit(birth, case.date));
    Patient::new(birth, limit)
}

/// Without a declared category: 一般 over 70, ウ under.
fn default_limit(birth: Date, on: Date) -> LimitCategory {
    if crate::rules::copayment::age_on(birth, on) >= 70 {
        LimitCategory::General
    } else {
        LimitCategory::U
    }
}

/// The documents of every `show` step.
pub fn documents(case: &Case) -> Vec<Document> {
    let mut out = Vec::new();
    for step in &case.steps {
        if let StepKind::Show(shown) = &step.kind {
            out.extend(shown.iter().filter_map(|s| document(*s, case.date)));
        }
    }
    out
}

/// A shown document as the rules see it. A 資格確認書 shown is taken as valid for a year
/// from the visit [soft: scenarios may need an expired one later].
pub fn document(shown: Shown, on: Date) -> Option<Document> {
    Some(match shown {
        Shown::PortalScreen => Document::PortalScreen,
        Shown::PortalPdf => Document::PortalPdf,
        Shown::QualificationNotice => Document::QualificationNotice,
        Shown::QualificationCertificate => Document::QualificationCertificate {
            valid_until: on.saturating_add(time::Duration::days(365)),
        },
        Shown::OldInsuranceCard => Document::OldInsuranceCard { valid_until: None },
        Shown::Nothing => return None,
    })
}

/// The card path the rules expect from the case's inputs.
pub fn predict_card_path(
    case: &Case,
    profile: Option<&CardProfile>,
) -> Result<Option<CardPath>, Unjudgeable> {
    let placed = case
        .steps
        .iter()
        .any(|s| matches!(s.kind, StepKind::PlaceCard));
    let Some(profile) = profile.filter(|_| placed) else {
        return Ok(None);
    };
    if case
        .steps
        .iter()
        .any(|s| matches!(s.kind, StepKind::Choose(Method::Face)))
    {
        return Err(Unjudgeable::FacePath);
    }
    let failed = |f| Ok(Some(CardPath::Failed(f)));
    if profile.faults.mute || profile.faults.tear_on_apdu.is_some_and(|n| n <= 6) {
        return failed(CardFailure::ReaderError);
    }
    let not_after = profile.auth_certificate.not_after;
    if certificate_status(not_after, case.date) == CertificateStatus::Expired {
        return failed(CardFailure::CertificateExpired);
    }
    // The PIN path: count the tries as the card would.
    if !case
        .steps
        .iter()
        .any(|s| matches!(s.kind, StepKind::Choose(Method::Pin)))
    {
        return failed(CardFailure::Abandoned);
    }
    let mut tries = match (&profile.kind, &profile.auth_pin) {
        (CardKind::FaceAuthentication, _) | (_, None) => 0,
        (_, Some(pin)) => pin.tries_left,
    };
    if tries == 0 {
        return failed(CardFailure::PinLocked);
    }
    let mut verified = false;
    for step in &case.steps {
        if let StepKind::EnterPin(entry) = &step.kind {
            let right = match entry {
                PinEntry::Correct => true,
                PinEntry::Wrong => false,
                PinEntry::Digits(d) => profile
                    .auth_pin
                    .as_ref()
                    .is_some_and(|p| p.value.expose() == d),
            };
            if right {
                verified = true;
                break;
            }
            tries -= 1;
            if tries == 0 {
                return failed(CardFailure::PinLocked);
            }
        }
    }
    if !verified {
        return failed(CardFailure::Abandoned);
    }
    // The service refuses a certificate that is revoked or not yet valid.
    if profile.auth_certificate.revoked {
        return failed(CardFailure::CertificateRevoked);
    }
    if profile.auth_certificate.not_before > case.date {
        return failed(CardFailure::ReaderError);
    }
    // The service, as it will be when the reader asks (the last fault set before consent).
    match service_at_query(case) {
        ServiceFault::Timeout | ServiceFault::Http(_) | ServiceFault::Malformed => {
            return failed(CardFailure::ServiceDown)
        }
        ServiceFault::Slow(d) if d >= service_deadline(case) => {
            return failed(CardFailure::ServiceDown)
        }
        ServiceFault::SeveralMatches => return failed(CardFailure::ServiceDown),
        _ => {}
    }
    if case.insurance.is_none() {
        return failed(CardFailure::NoRecord);
    }
    if !profile.registered_for_insurance
        && !case
            .steps
            .iter()
            .any(|s| matches!(s.kind, StepKind::Register(true)))
    {
        return failed(CardFailure::NotRegistered);
    }
    if !case
        .steps
        .iter()
        .any(|s| matches!(s.kind, StepKind::Consent(_)))
    {
        return failed(CardFailure::Abandoned);
    }
    Ok(Some(CardPath::Succeeded {
        method: AuthMethod::Pin,
        certificate_not_after: not_after,
    }))
}

/// How long the reader waits for the service: a little under the step deadline.
pub fn service_deadline(case: &Case) -> std::time::Duration {
    case.step_deadline.mul_f64(0.8)
}

/// The service fault in force when the PIN has been entered (`service` steps before it
/// change the case's initial fault).
fn service_at_query(case: &Case) -> ServiceFault {
    let mut fault = case.service.clone();
    for step in &case.steps {
        match &step.kind {
            StepKind::Service(f) => fault = f.clone(),
            StepKind::EnterPin(PinEntry::Correct) => break,
            _ => {}
        }
    }
    fault
}

/// The whole situation for the rules.
pub fn situation(case: &Case, profile: Option<&CardProfile>) -> Result<Situation, Unjudgeable> {
    let card_path = predict_card_path(case, profile)?;
    let mut patient = patient(case, profile);
    if matches!(service_at_query(case), ServiceFault::Invalid) && card_path.is_some() {
        patient = patient.uninsured();
    }
    let mut s = Situation::new(case.date, patient)
        .with_rule_set(case.rule_set)
        .with_visit(case.visit)
        .with_online_lookup(!matches!(
            card_path,
            Some(CardPath::Failed(CardFailure::ServiceDown))
        ))
        .with_insurer_known(case.insurance.is_some());
    if let Some(path) = card_path {
        s = s.with_card(path);
    }
    for d in documents(case) {
        s = s.with_document(d);
    }
    Ok(s)
}
