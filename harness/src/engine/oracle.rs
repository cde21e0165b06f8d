//! From a case to the situation the rules judge: what the card path *should* come to,
//! predicted from the case's inputs alone (the card profile, the steps, the service), never
//! from what the reader did. The reader's outcome is then compared with the rules' verdict
//! on this situation.

use crate::cards::CardFaces;
use crate::cards::LoadedCard;
use crate::rules::{
    certificate_status, AuthMethod, CardFailure, CardPath, CertificateStatus, Document,
    LimitCategory, Patient, Situation,
};
use crate::scenario::{
    CameraSource, Case, FaceExpect, Method, PinEntry, ServiceFault, Shown, StepKind,
};
use card_emulator::profile::{CardKind, CardProfile, PinSetting, TokenKind};
use time::Date;

/// Why a case cannot be judged: the scenario lacks an input the prediction needs.
#[derive(Debug)]
pub enum Unjudgeable {
    /// The face path is chosen but nothing says who stands before the camera.
    NoCamera(String),
}

impl std::fmt::Display for Unjudgeable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unjudgeable::NoCamera(why) => write!(f, "the face path cannot be judged: {why}"),
        }
    }
}

/// How the face path must end, from the case's inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FacePrediction {
    /// The camera shows the chip photo's person, live: a match (or, where the scenario
    /// says so, a non-match: a false non-match breaks no rule, a false match does).
    Match,
    /// Another person, or a chip photo read but with no usable face: no match.
    NoMatch,
    /// A presentation attack: rejected.
    AttackRejected,
    /// Locked by earlier failures: not attempted.
    Locked,
    /// No face path on this token (a smartphone has no card-surface application), or no
    /// chip photo to compare with (照合番号B blocked, no photo on the chip).
    Unavailable,
}

impl FacePrediction {
    /// Whether a scenario's `expect.face` agrees with the rules' prediction.
    pub fn allows(self, expect: FaceExpect) -> bool {
        matches!(
            (self, expect),
            (
                FacePrediction::Match,
                FaceExpect::Match | FaceExpect::NoMatch
            ) | (FacePrediction::NoMatch, FaceExpect::NoMatch)
                | (FacePrediction::AttackRejected, FaceExpect::AttackRejected)
                | (FacePrediction::Locked, FaceExpect::Locked)
        )
    }
}

/// The person before the camera, and whether it is an attack.
fn presenter(
    case: &Case,
    profile: &CardProfile,
    faces: &CardFaces,
) -> Result<(String, bool), Unjudgeable> {
    let photo_person = |name: &str| {
        crate::photos::person_of(name)
            .map(str::to_owned)
            .ok_or_else(|| Unjudgeable::NoCamera(format!("`{name}` is not a known photo")))
    };
    match &case.camera {
        Some(camera) => {
            let person = match &camera.source {
                CameraSource::Photo(name) => photo_person(name)?,
                CameraSource::Clip { person, .. } => person.clone(),
            };
            Ok((person, camera.attack.is_some()))
        }
        None => match &faces.patient_photo {
            Some(name) => Ok((photo_person(name)?, false)),
            None => Err(Unjudgeable::NoCamera(format!(
                "the case has no `camera` and card profile `{}` no `patient_photo`",
                profile.name
            ))),
        },
    }
}

/// The face path's end, predicted from the card, the camera and the scenario.
pub fn predict_face(
    case: &Case,
    profile: &CardProfile,
    faces: &CardFaces,
) -> Result<FacePrediction, Unjudgeable> {
    if profile.token == TokenKind::Smartphone {
        return Ok(FacePrediction::Unavailable);
    }
    let earlier = case.camera.as_ref().map_or(0, |c| c.earlier_failures);
    if earlier >= crate::rules::FACE_LOCK_AFTER {
        return Ok(FacePrediction::Locked);
    }
    // In the reader's order: 照合番号B and the photo, its enrolment, then the camera.
    if profile.surface_code_tries == 0 || profile.photo_jp2.is_none() {
        return Ok(FacePrediction::Unavailable);
    }
    if faces.chip_photo_corrupt {
        return Ok(FacePrediction::NoMatch);
    }
    let (person, attack) = presenter(case, profile, faces)?;
    if attack {
        return Ok(FacePrediction::AttackRejected);
    }
    let chip_person = faces
        .chip_photo
        .as_deref()
        .and_then(crate::photos::person_of);
    if chip_person != Some(person.as_str()) {
        return Ok(FacePrediction::NoMatch);
    }
    Ok(FacePrediction::Match)
}

/// The patient the desk knows: birth date from the card (or a default adult); the limit
/// category from the insurance record, else from the scenario's `income` for the age, else
/// the default for the age; the co-payment class from `income`, else from the category.
pub fn patient(case: &Case, profile: Option<&CardProfile>) -> Patient {
    // The scenario's birth date (the card is built with it), else the card's, else an adult.
    let birth = case
        .patient
        .birth_date
        .or(profile.map(|p| p.holder.birth_date))
        .unwrap_or(time::macros::date!(1980 - 01 - 01));
    let income = case.patient.income;
    let limit = case
        .insurance
        .as_ref()
        .and_then(|i| i.limit_category.as_deref())
        .and_then(|code| LimitCategory::from_code(code).ok())
        .or_else(|| income.map(|i| i.limit_category(birth, case.date)))
        .unwrap_or_else(|| LimitCategory::default_for(birth, case.date));
    let patient = Patient::new(birth, limit);
    match income {
        Some(i) => patient.with_income(i.copayment_class()),
        None => patient,
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

/// A shown document as the rules see it. A 資格確認書 without `valid_until` is taken as valid
/// for a year from the visit [soft]; an old 健康保険証 without one has no printed end.
pub fn document(shown: Shown, on: Date) -> Option<Document> {
    Some(match shown {
        Shown::PortalScreen => Document::PortalScreen,
        Shown::PortalPdf => Document::PortalPdf,
        Shown::QualificationNotice => Document::QualificationNotice,
        Shown::QualificationCertificate { valid_until } => Document::QualificationCertificate {
            valid_until: valid_until.unwrap_or(on.saturating_add(time::Duration::days(365))),
        },
        Shown::OldInsuranceCard { valid_until } => Document::OldInsuranceCard { valid_until },
        Shown::Nothing => return None,
    })
}

/// The card path the rules expect from the case's inputs, and the face path's end when
/// the patient chose it.
pub fn predict_card_path(
    case: &Case,
    card: Option<&LoadedCard>,
) -> Result<(Option<CardPath>, Option<FacePrediction>), Unjudgeable> {
    let placed = case
        .steps
        .iter()
        .any(|s| matches!(s.kind, StepKind::PlaceCard));
    let Some(card) = card.filter(|_| placed) else {
        return Ok((None, None));
    };
    let face = if case.chooses(Method::Face) {
        Some(predict_face(case, &card.profile, &card.faces)?)
    } else {
        None
    };
    let path = predict_after_face(case, &card.profile, face)?;
    Ok((path, face))
}

fn predict_after_face(
    case: &Case,
    profile: &CardProfile,
    face: Option<FacePrediction>,
) -> Result<Option<CardPath>, Unjudgeable> {
    let failed = |f| Ok(Some(CardPath::Failed(f)));
    if let Some(failure) = fails_on_reading(case, profile) {
        return failed(failure);
    }
    // A match by face (unless the scenario declares a false non-match) ends the
    // authentication; any other face end offers the PIN, which the patient may type, or on
    // a face-authentication card (no PIN) the staff visual check.
    let face_matched =
        face == Some(FacePrediction::Match) && case.expect.face != Some(FaceExpect::NoMatch);
    if face.is_some() && !face_matched && profile.kind == CardKind::FaceAuthentication {
        let staff = case.steps.iter().find_map(|s| match s.kind {
            StepKind::StaffCheck(confirm) => Some(confirm),
            _ => None,
        });
        return match staff {
            Some(true) => finish_prediction(case, profile, AuthMethod::Visual),
            _ => failed(CardFailure::FaceMismatch),
        };
    }
    let method = if face_matched {
        AuthMethod::Face
    } else {
        AuthMethod::Pin
    };
    let pin_typed = case
        .steps
        .iter()
        .any(|s| matches!(s.kind, StepKind::EnterPin(_)));
    let pin_entered = case.chooses(Method::Pin) || (face.is_some() && pin_typed);
    if !(face_matched || pin_entered) {
        return failed(if face.is_some() {
            CardFailure::FaceMismatch
        } else {
            CardFailure::Abandoned
        });
    }
    if !face_matched {
        if let Some(path) = predict_pin(case, profile, face.is_some()) {
            return Ok(Some(path));
        }
    }
    finish_prediction(case, profile, method)
}

/// How the card path fails when the reader reads the card, before any method is chosen: a
/// card it cannot read, or a certificate beyond its grace period.
fn fails_on_reading(case: &Case, profile: &CardProfile) -> Option<CardFailure> {
    if profile.faults.mute || profile.faults.tear_on_apdu.is_some_and(|n| n <= 6) {
        return Some(CardFailure::ReaderError);
    }
    let expired = certificate_status(profile.auth_certificate.not_after, case.date)
        == CertificateStatus::Expired;
    expired.then_some(CardFailure::CertificateExpired)
}

/// The case's PIN entries as the card answers them, from the PIN's tries left: the status
/// word of each VERIFY (`63Cn` for a wrong PIN, n tries left; `9000` for the right one;
/// none once the PIN is blocked or verified) and the tries left after them.
fn pin_attempts(case: &Case, pin: &PinSetting) -> (Vec<u16>, u8) {
    let right = pin.value.expose();
    let mut tries = pin.tries_left;
    let mut out = Vec::new();
    for step in &case.steps {
        let StepKind::EnterPin(entry) = &step.kind else {
            continue;
        };
        if tries == 0 {
            break;
        }
        if entry.digits(right) == right {
            out.push(0x9000);
            break;
        }
        tries -= 1;
        out.push(0x63C0 | u16::from(tries.min(15)));
    }
    (out, tries)
}

/// The status words of the VERIFYs a PIN-only case makes the card answer, as the card counts
/// its tries ([`pin_attempts`]). `None` when the case is not judged this way: the card path
/// ends before the PIN pad (or may tear during it), a face path (its 照合番号B VERIFY), a
/// card without a PIN (a real card is the caller's to leave out: its tries are its own).
pub fn predict_verify_sws(case: &Case, profile: &CardProfile) -> Option<Vec<u16>> {
    let unread = fails_on_reading(case, profile).is_some() || profile.faults.tear_on_apdu.is_some();
    if unread || case.chooses(Method::Face) || profile.kind == CardKind::FaceAuthentication {
        return None;
    }
    let pin = profile.auth_pin.as_ref()?;
    Some(pin_attempts(case, pin).0)
}

/// The PIN path: counts the tries as the card would ([`pin_attempts`]); `None` when the PIN
/// was verified. After a failed face path, a card without a PIN fails as the face did.
fn predict_pin(case: &Case, profile: &CardProfile, after_face: bool) -> Option<CardPath> {
    let failed = |f| Some(CardPath::Failed(f));
    let pin = match (&profile.kind, &profile.auth_pin) {
        (CardKind::FaceAuthentication, _) | (_, None) if after_face => {
            return failed(CardFailure::FaceMismatch)
        }
        (CardKind::FaceAuthentication, _) | (_, None) => return failed(CardFailure::PinLocked),
        (_, Some(pin)) => pin,
    };
    let (answers, tries_left) = pin_attempts(case, pin);
    if answers.last() == Some(&0x9000) {
        return None;
    }
    if tries_left == 0 {
        return failed(CardFailure::PinLocked);
    }
    failed(if after_face {
        CardFailure::FaceMismatch
    } else {
        CardFailure::Abandoned
    })
}

/// After authentication: the service, registration and consent decide.
fn finish_prediction(
    case: &Case,
    profile: &CardProfile,
    method: AuthMethod,
) -> Result<Option<CardPath>, Unjudgeable> {
    let failed = |f| Ok(Some(CardPath::Failed(f)));
    let not_after = profile.auth_certificate.not_after;
    // The service refuses a certificate that is revoked or not yet valid.
    if profile.auth_certificate.revoked {
        return failed(CardFailure::CertificateRevoked);
    }
    if profile.auth_certificate.not_before > case.date {
        return failed(CardFailure::ReaderError);
    }
    // The service, as it will be when the reader asks (the last fault set before consent).
    match service_at_query(case, method) {
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
        method,
        certificate_not_after: not_after,
    }))
}

/// How long the reader waits for the service: a little under the step deadline.
pub fn service_deadline(case: &Case) -> std::time::Duration {
    case.step_deadline.mul_f64(0.8)
}

/// The service fault in force when the patient has authenticated (`service` steps before
/// it change the case's initial fault).
fn service_at_query(case: &Case, method: AuthMethod) -> ServiceFault {
    let mut fault = case.service.clone();
    for step in &case.steps {
        match (&step.kind, method) {
            (StepKind::Service(f), _) => fault = f.clone(),
            (StepKind::EnterPin(PinEntry::Correct), AuthMethod::Pin)
            | (StepKind::Choose(Method::Face), AuthMethod::Face)
            | (StepKind::StaffCheck(true), AuthMethod::Visual) => break,
            _ => {}
        }
    }
    fault
}

/// The whole situation for the rules, and the face path's predicted end.
pub fn situation(
    case: &Case,
    card: Option<&LoadedCard>,
) -> Result<(Situation, Option<FacePrediction>), Unjudgeable> {
    let (card_path, face) = predict_card_path(case, card)?;
    let mut patient = patient(case, card.map(|c| &c.profile));
    let method = match card_path {
        Some(CardPath::Succeeded { method, .. }) => method,
        _ => AuthMethod::Pin,
    };
    if matches!(service_at_query(case, method), ServiceFault::Invalid) && card_path.is_some() {
        patient = patient.uninsured();
    }
    let mut s = Situation::new(case.date, patient)
        .with_rule_set(case.rule_set)
        .with_visit(case.visit)
        .with_online_lookup(!matches!(
            card_path,
            Some(CardPath::Failed(CardFailure::ServiceDown))
        ))
        .with_insurer_known(case.patient.knows_insurer);
    if let Some(path) = card_path {
        s = s.with_card(path);
    }
    for d in documents(case) {
        s = s.with_document(d);
    }
    Ok((s, face))
}

#[cfg(test)]
mod face_tests {
    use super::*;
    use crate::scenario::{Camera, Origin};
    use proptest::prelude::*;

    const PHOTOS: [&str; 7] = [
        "similarfaces-image1.jpg",
        "similarfaces-image2.jpg",
        "similarfaces-image3.jpg",
        "obama.jpg",
        "obama2.jpg",
        "obama3.jpg",
        "biden.jpg",
    ];

    fn case(camera: Option<Camera>) -> Case {
        let text = "title: t\ndate: 2025-11-04\nsteps: [place_card, {choose: face}]\n";
        let mut cases =
            crate::scenario::parse_cases(std::path::Path::new("t.yaml"), text, &[]).unwrap();
        let mut c = cases.remove(0);
        c.camera = camera;
        c
    }

    fn camera(photo: &str, attack: Option<&str>, earlier: u8) -> Camera {
        Camera {
            source: CameraSource::Photo(photo.into()),
            attack: attack.map(str::to_owned),
            perturb: Vec::new(),
            seed: 1,
            fps: 15.0,
            frames: 45,
            earlier_failures: earlier,
            origin: Origin {
                file: "t.yaml".into(),
                line: 1,
                column: 1,
            },
        }
    }

    fn card(chip: &str) -> (CardProfile, CardFaces) {
        let mut p = CardProfile::sample();
        p.photo_jp2 = Some(vec![0]);
        let faces = CardFaces {
            chip_photo: Some(chip.into()),
            chip_photo_corrupt: false,
            patient_photo: Some(chip.into()),
        };
        (p, faces)
    }

    #[test]
    fn the_holder_matches_and_anyone_else_does_not() {
        let (p, f) = card("obama.jpg");
        let predict = |cam| predict_face(&case(cam), &p, &f).unwrap();
        assert_eq!(
            predict(Some(camera("obama2.jpg", None, 0))),
            FacePrediction::Match
        );
        assert_eq!(
            predict(None),
            FacePrediction::Match,
            "the profile's patient"
        );
        assert_eq!(
            predict(Some(camera("biden.jpg", None, 0))),
            FacePrediction::NoMatch
        );
        assert_eq!(
            predict(Some(camera("obama.jpg", Some("still_photo"), 0))),
            FacePrediction::AttackRejected
        );
        assert_eq!(
            predict(Some(camera("obama2.jpg", None, 10))),
            FacePrediction::Locked
        );
        assert_eq!(
            predict(Some(camera("obama2.jpg", None, 9))),
            FacePrediction::Match
        );
    }

    #[test]
    fn a_card_that_cannot_show_its_photo_never_matches() {
        let (mut p, mut f) = card("obama.jpg");
        let c = case(Some(camera("obama2.jpg", None, 0)));
        // A photo read but unusable: compared with nothing, a non-match.
        f.chip_photo_corrupt = true;
        assert_eq!(predict_face(&c, &p, &f).unwrap(), FacePrediction::NoMatch);
        // No photo to read (照合番号B blocked, none on the chip): the path cannot run.
        f.chip_photo_corrupt = false;
        p.surface_code_tries = 0;
        assert_eq!(
            predict_face(&c, &p, &f).unwrap(),
            FacePrediction::Unavailable
        );
        p.surface_code_tries = 10;
        p.photo_jp2 = None;
        assert_eq!(
            predict_face(&c, &p, &f).unwrap(),
            FacePrediction::Unavailable
        );
        p.token = TokenKind::Smartphone;
        assert_eq!(
            predict_face(&c, &p, &f).unwrap(),
            FacePrediction::Unavailable
        );
    }

    #[test]
    fn no_camera_is_unjudgeable() {
        let (p, mut f) = card("obama.jpg");
        f.patient_photo = None;
        assert!(matches!(
            predict_face(&case(None), &p, &f),
            Err(Unjudgeable::NoCamera(_))
        ));
    }

    #[test]
    fn expectations_the_rules_allow() {
        use FaceExpect as E;
        use FacePrediction as P;
        // A false non-match of the holder breaks no rule; a match of anyone else does.
        assert!(P::Match.allows(E::Match) && P::Match.allows(E::NoMatch));
        assert!(!P::NoMatch.allows(E::Match));
        assert!(!P::AttackRejected.allows(E::Match) && !P::AttackRejected.allows(E::NoMatch));
        assert!(P::Locked.allows(E::Locked) && !P::Locked.allows(E::Match));
        assert!(!P::Unavailable.allows(E::Match));
    }

    proptest! {
        /// A match is predicted only for the chip's own person, live, with a usable chip
        /// photo, readable 照合番号B and fewer than ten earlier failures.
        #[test]
        fn a_match_needs_the_chips_person_live(
            chip in 0..PHOTOS.len(),
            shown in 0..PHOTOS.len(),
            attack in proptest::option::of(prop::sample::select(vec![
                "print_greyscale", "print_halftone", "print_flat", "screen_replay", "still_photo",
            ])),
            earlier in 0u8..=10,
            corrupt in any::<bool>(),
            tries in 0u8..=10,
        ) {
            let (mut p, mut f) = card(PHOTOS[chip]);
            f.chip_photo_corrupt = corrupt;
            p.surface_code_tries = tries;
            let c = case(Some(camera(PHOTOS[shown], attack, earlier)));
            let predicted = predict_face(&c, &p, &f).unwrap();
            let same = crate::photos::person_of(PHOTOS[chip])
                == crate::photos::person_of(PHOTOS[shown]);
            let should_match =
                same && attack.is_none() && earlier < crate::rules::FACE_LOCK_AFTER && !corrupt && tries > 0;
            prop_assert_eq!(predicted == FacePrediction::Match, should_match);
            // In the reader's order: the lock, the photo (none to read; unusable), the camera.
            let unlocked = earlier < crate::rules::FACE_LOCK_AFTER;
            if unlocked && tries == 0 {
                prop_assert_eq!(predicted, FacePrediction::Unavailable);
            } else if unlocked && corrupt {
                prop_assert_eq!(predicted, FacePrediction::NoMatch);
            } else if unlocked && attack.is_some() {
                prop_assert_eq!(predicted, FacePrediction::AttackRejected);
            }
        }
    }
}
