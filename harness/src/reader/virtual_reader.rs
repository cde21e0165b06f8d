//! The reference face-authentication card reader (the `virtual` driver): the harness's own
//! model of a correct reader, and of the front desk behind it. It reads the card through a
//! [`CardChannel`] (in process or through pcscd), checks the certificate, runs the PIN path
//! on a shuffled pad, proves the card holds the key, shows the consent and registration
//! screens, asks the qualification service, and when the card path fails the desk applies
//! the fallback ladder of the rules.

mod face_path;

use super::events::{Event, EventKind, ObservedOutcome};
use super::keypad::Layout;
use super::{DriverError, PlacedCard, Stimulus};
use crate::channel::{CardChannel, ChannelError};
use crate::qualification::{
    BlockingQualificationClient, Consent, ParsedCertificates, QualificationResult,
    QualificationValidity, ResultErrorCode, SegmentOfResult,
};
use crate::rules::{
    certificate_status, AuthMethod, CardFailure, CardPath, CertificateStatus, ConsentChoice,
    ConsentStep, ConsentStore, Document, FacilityId, Patient, PatientId, RuleSet, Visit,
};
use card_emulator::card::AID_JPKI;
use card_emulator::{commands, StatusWord};
use openssl::hash::MessageDigest;
use std::time::{Duration, Instant};
use time::Date;

/// The certificates this process's readers have parsed, by their bytes: a reader checks
/// every card's certificate, and the same card comes back case after case (see
/// [`ParsedCertificates`]).
fn certificates() -> &'static ParsedCertificates {
    static PARSED: std::sync::OnceLock<ParsedCertificates> = std::sync::OnceLock::new();
    PARSED.get_or_init(ParsedCertificates::new)
}

/// What the reader needs to know about its surroundings.
pub struct ReaderSetup {
    pub today: Date,
    pub facility: String,
    pub rule_set: RuleSet,
    pub visit: Visit,
    /// Where the qualification service is.
    pub service: BlockingQualificationClient,
    /// Longest wait for the service.
    pub service_deadline: Duration,
    /// Consent choices from earlier visits (all facilities).
    pub consent: ConsentStore,
    /// Patient facts the desk holds (birth date and income for the share on a fallback).
    pub patient: Patient,
    /// The camera and the face matcher; `None`: a reader without a camera.
    pub face: Option<Box<dyn super::FaceCamera>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    ChooseMethod,
    PinEntry,
    Registration,
    Consent,
    /// The staff visual-check mode (目視確認) waits for the staff's answer.
    VisualCheck,
    /// The card path ended; the desk takes over if it failed.
    CardDone,
}

pub struct VirtualReader {
    setup: ReaderSetup,
    card: Option<Box<dyn CardChannel>>,
    state: State,
    started: Instant,
    events: Vec<Event>,
    layout: Option<Layout>,
    /// The PIN tries left the pad on screen shows.
    tries_left_shown: Option<u8>,
    certificate: Option<Vec<u8>>,
    /// The authentication certificate's public key (parsed once, used by the challenge).
    certificate_key: Option<openssl::pkey::PKey<openssl::pkey::Public>>,
    certificate_not_after: Option<Date>,
    smartphone: bool,
    card_path: Option<CardPath>,
    result: Option<QualificationResult>,
    consent: Option<ConsentChoice>,
    outcome: Option<ObservedOutcome>,
    last_verify_sw: Option<u16>,
    /// 照合番号B read off the placed card's surface (used once, never logged).
    surface_code_b: Option<card_emulator::profile::Secret>,
    /// Consecutive face failures of this card, earlier visits included.
    face_failures: u8,
    /// The face path failed and the PIN was offered instead.
    after_face_failure: bool,
    /// How the patient was authenticated.
    method: AuthMethod,
    /// Durations of the reader's own sub-steps (`face.enrol`, …) for latency limits.
    timings: Vec<(String, Duration)>,
}

impl VirtualReader {
    pub fn new(setup: ReaderSetup) -> Self {
        VirtualReader {
            setup,
            card: None,
            state: State::Idle,
            started: Instant::now(),
            events: Vec::new(),
            layout: None,
            tries_left_shown: None,
            certificate: None,
            certificate_key: None,
            certificate_not_after: None,
            smartphone: false,
            card_path: None,
            result: None,
            consent: None,
            outcome: None,
            last_verify_sw: None,
            surface_code_b: None,
            face_failures: 0,
            after_face_failure: false,
            method: AuthMethod::Pin,
            timings: Vec::new(),
        }
    }

    /// Gives the reader its camera and face matcher after it was set up (a device whose
    /// camera starts once the card is on the reader); the face path takes it as it would
    /// [`ReaderSetup::face`].
    pub fn set_face(&mut self, kit: Box<dyn super::FaceCamera>) {
        self.setup.face = Some(kit);
    }

    /// The reader's own sub-step durations (face path steps), in order.
    pub fn timings(&self) -> &[(String, Duration)] {
        &self.timings
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }

    pub fn outcome(&self) -> Option<&ObservedOutcome> {
        self.outcome.as_ref()
    }

    pub fn last_verify_sw(&self) -> Option<u16> {
        self.last_verify_sw
    }

    /// The keypad layout on screen now (what a patient, or the harness's robot finger, sees).
    pub fn layout(&self) -> Option<Layout> {
        self.layout
    }

    /// The card, back to the caller (for its trace) once the case is over.
    pub fn take_card(&mut self) -> Option<Box<dyn CardChannel>> {
        self.card.take()
    }

    fn log(&mut self, kind: EventKind) {
        self.events.push(Event {
            at: self.started.elapsed(),
            kind,
        });
    }

    fn screen(&mut self, name: &str) {
        // The reference reader speaks the vocabulary scenarios are checked against.
        debug_assert!(crate::scenario::is_screen(name), "screen `{name}`");
        self.log(EventKind::Screen { name: name.into() });
    }

    /// Applies one stimulus. Errors are the bench's (a stimulus that makes no sense now);
    /// a misbehaving card or service is part of the case and ends the card path instead.
    pub fn apply(&mut self, stimulus: Stimulus) -> Result<(), DriverError> {
        // Steps are what the patient would do when asked; once the card path has ended
        // nobody asks any more, which the log says.
        if (self.card_path_ended() || self.authenticated_already(&stimulus))
            && matches!(
                stimulus,
                Stimulus::Choose(_)
                    | Stimulus::PressKeys(_)
                    | Stimulus::Consent(_)
                    | Stimulus::Register(_)
                    | Stimulus::StaffCheck(_)
            )
        {
            self.log(EventKind::Note {
                text: "step not asked for: the card path had ended".into(),
            });
            return Ok(());
        }
        match stimulus {
            Stimulus::PlaceCard(card) => self.place_card(card),
            Stimulus::RemoveCard => {
                self.card = None;
                self.screen("idle");
                Ok(())
            }
            Stimulus::Choose(method) => self.choose(method),
            Stimulus::PressKeys(positions) => self.press_keys(&positions),
            Stimulus::Consent(step) => self.consent(step),
            Stimulus::Register(accept) => self.register(accept),
            Stimulus::StaffCheck(confirm) => self.staff_check(confirm),
            Stimulus::Show(documents) => self.desk(documents),
        }
    }

    /// A PIN step (or a method choice) after the patient was already authenticated, by
    /// face for instance: nobody asks for it.
    /// So are consent and registration while the PIN pad offered after a failed face
    /// path waits for a PIN the patient does not type.
    fn authenticated_already(&self, stimulus: &Stimulus) -> bool {
        let pin_step = matches!(stimulus, Stimulus::Choose(_) | Stimulus::PressKeys(_));
        let later_step = matches!(stimulus, Stimulus::Consent(_) | Stimulus::Register(_));
        (pin_step && matches!(self.state, State::Consent | State::Registration))
            || (later_step && self.after_face_failure && self.state == State::PinEntry)
    }

    fn expect_state(&self, wanted: State, what: &str) -> Result<(), DriverError> {
        if self.state == wanted {
            Ok(())
        } else {
            Err(DriverError::NotNow(format!(
                "{what} while the reader is at {:?}",
                self.state
            )))
        }
    }

    fn fail_card_path(&mut self, failure: CardFailure, why: &str) {
        self.log(EventKind::CardPath {
            ok: false,
            failure: Some(format!("{failure:?}: {why}")),
        });
        self.card_path = Some(CardPath::Failed(failure));
        self.state = State::CardDone;
        self.screen("card_error");
    }

    /// Sends `apdu` and returns its status word (for VERIFY, where 63Cx is an answer).
    fn transmit(&mut self, apdu: &[u8]) -> Result<StatusWord, ChannelError> {
        let card = self.card.as_mut().ok_or(ChannelError::Removed)?;
        card.transmit(apdu).map(|r| r.sw())
    }

    /// Sends `apdu`, expecting data and 9000.
    fn exchange(&mut self, apdu: &[u8]) -> Result<Vec<u8>, String> {
        let card = self.card.as_mut().ok_or("no card")?;
        match card.transmit(apdu) {
            Ok(r) if r.sw() == StatusWord::Ok => Ok(r.data().to_vec()),
            Ok(r) => Err(format!("SW {}", r.sw())),
            Err(e) => Err(e.to_string()),
        }
    }

    fn place_card(&mut self, placed: PlacedCard) -> Result<(), DriverError> {
        self.expect_state(State::Idle, "a card was placed")?;
        self.card = Some(placed.chip);
        self.surface_code_b = placed.surface_code_b;
        self.screen("reading_card");
        let token = self
            .exchange(&commands::select_aid(&AID_JPKI))
            .and_then(|_| self.exchange(&commands::select_ef(0x0006)))
            .and_then(|_| self.exchange(&commands::read_binary(0, 32)));
        let token = match token {
            Ok(t) => t,
            Err(why) => {
                self.fail_card_path(
                    CardFailure::ReaderError,
                    &format!("reading the card: {why}"),
                );
                return Ok(());
            }
        };
        self.smartphone = token.starts_with(b"JPKIAPGPSETOKEN");
        if !self.smartphone && !token.starts_with(b"JPKIAPICCTOKEN2") {
            self.fail_card_path(CardFailure::ReaderError, "not a My Number Card");
            return Ok(());
        }
        // On a phone the certificate is read after the PIN.
        if !self.smartphone && !self.read_and_check_certificate() {
            return Ok(());
        }
        self.state = State::ChooseMethod;
        self.screen("choose_method");
        Ok(())
    }

    /// Reads EF 000A and checks its dates; false when the card path failed.
    fn read_and_check_certificate(&mut self) -> bool {
        let der = self
            .exchange(&commands::select_ef(0x000A))
            .and_then(|_| self.read_whole_ef());
        let cert = match der.as_deref().map(|der| certificates().parse(der)) {
            Ok(Ok((cert, _))) => cert,
            Ok(Err(e)) => {
                self.fail_card_path(CardFailure::ReaderError, &format!("certificate: {e}"));
                return false;
            }
            Err(why) => {
                self.fail_card_path(CardFailure::ReaderError, &format!("certificate: {why}"));
                return false;
            }
        };
        let Some(not_after) = asn1_date(cert.not_after()) else {
            self.fail_card_path(CardFailure::ReaderError, "certificate notAfter unreadable");
            return false;
        };
        if certificate_status(not_after, self.setup.today) == CertificateStatus::Expired {
            self.fail_card_path(
                CardFailure::CertificateExpired,
                &format!("expired {not_after}, past the grace period"),
            );
            return false;
        }
        self.certificate = der.ok();
        self.certificate_key = cert.public_key().ok();
        self.certificate_not_after = Some(not_after);
        true
    }

    /// Reads the whole selected EF (a certificate).
    fn read_whole_ef(&mut self) -> Result<Vec<u8>, String> {
        let card = self.card.as_deref_mut().ok_or("no card")?;
        crate::channel::read_tlv_ef(card).map_err(|e| e.to_string())
    }

    fn choose(&mut self, method: crate::scenario::Method) -> Result<(), DriverError> {
        if self.after_face_failure && self.state == State::PinEntry {
            // The PIN pad is already offered after the face failed.
            return Ok(());
        }
        self.expect_state(State::ChooseMethod, "a method was chosen")?;
        match method {
            crate::scenario::Method::Face => self.face_path(),
            crate::scenario::Method::Pin => self.offer_pin(CardFailure::PinLocked),
        }
        Ok(())
    }

    /// Shows the PIN pad unless the PIN is blocked or unset (then the card path fails with
    /// `blocked`: the PIN lock, or the face failure that led here).
    fn offer_pin(&mut self, blocked: CardFailure) {
        // After the face path the card-surface application is selected: back to JPKI.
        let selected = if self.after_face_failure {
            self.exchange(&commands::select_aid(&AID_JPKI)).map(|_| ())
        } else {
            Ok(())
        };
        // Ask the tries left first: a blocked or unset PIN is told at once.
        let sw = selected
            .and_then(|_| self.exchange(&commands::select_ef(0x0018)))
            .and_then(|_| {
                self.transmit(&commands::verify(&[]))
                    .map_err(|e| e.to_string())
            });
        match sw {
            Ok(StatusWord::TriesLeft(0)) | Ok(StatusWord::ReferenceDataBlocked) => {
                self.screen("pin_locked");
                self.fail_card_path(blocked, "no PIN tries left");
            }
            Ok(StatusWord::TriesLeft(n)) => self.show_keypad(Some(n)),
            Ok(_) => self.show_keypad(None),
            Err(why) => self.fail_card_path(CardFailure::ReaderError, &why),
        }
    }

    /// Shows a freshly shuffled pad with the tries left, as readers in the field do.
    fn show_keypad(&mut self, tries_left: Option<u8>) {
        let layout = Layout::shuffled();
        self.layout = Some(layout);
        self.tries_left_shown = tries_left;
        self.state = State::PinEntry;
        self.screen("pin_entry");
        self.log(EventKind::KeypadLayout {
            digits: layout.digits,
            tries_left,
        });
    }

    fn press_keys(&mut self, positions: &[usize]) -> Result<(), DriverError> {
        self.expect_state(State::PinEntry, "keys were pressed")?;
        let layout = self
            .layout
            .take()
            .ok_or(DriverError::NotNow("no keypad".into()))?;
        self.log(EventKind::KeysPressed {
            count: positions.len(),
        });
        let Some(pin) = layout.digits_at(positions) else {
            return Err(DriverError::NotNow("a key outside the pad".into()));
        };
        let sw = self.transmit(&commands::verify(pin.as_bytes()));
        let sw = match sw {
            Ok(sw) => sw,
            Err(e) => {
                self.fail_card_path(CardFailure::ReaderError, &format!("VERIFY: {e}"));
                return Ok(());
            }
        };
        self.last_verify_sw = Some(sw.to_u16());
        self.log(EventKind::VerifyAnswered { sw: sw.to_u16() });
        match sw {
            StatusWord::Ok => self.authenticated(AuthMethod::Pin),
            StatusWord::TriesLeft(0) | StatusWord::ReferenceDataBlocked => {
                self.screen("pin_locked");
                self.fail_card_path(CardFailure::PinLocked, "the PIN is now blocked");
            }
            StatusWord::TriesLeft(n) => {
                self.screen("pin_wrong");
                self.show_keypad(Some(n));
            }
            other => self.fail_card_path(CardFailure::ReaderError, &format!("VERIFY: SW {other}")),
        }
        Ok(())
    }

    /// After a correct PIN or a face match: read the certificate on a phone, prove the key
    /// (the signature needs the PIN: by face the certificate goes on unsigned, as certified
    /// terminals may), ask the service.
    fn authenticated(&mut self, method: AuthMethod) {
        self.method = method;
        if self.smartphone && !self.read_and_check_certificate() {
            return;
        }
        if method == AuthMethod::Pin {
            if let Err(why) = self.challenge() {
                self.fail_card_path(CardFailure::ReaderError, &format!("challenge: {why}"));
                return;
            }
        }
        self.query_service(None);
    }

    /// Signs a fresh challenge with the authentication key and checks it against the
    /// certificate: the card really holds the key the certificate names.
    fn challenge(&mut self) -> Result<(), String> {
        let mut nonce = [0u8; 32];
        openssl::rand::rand_bytes(&mut nonce).map_err(|e| e.to_string())?;
        self.exchange(&commands::select_ef(0x0017))?;
        let signature = self.exchange(&commands::sign(&commands::sha256_digest_info(&nonce)))?;
        let key = self.certificate_key.as_ref().ok_or("no certificate key")?;
        let mut verifier = openssl::sign::Verifier::new(MessageDigest::sha256(), key)
            .map_err(|e| e.to_string())?;
        match verifier.verify_oneshot(&signature, &nonce) {
            Ok(true) => Ok(()),
            _ => Err("the signature does not match the certificate".into()),
        }
    }

    fn query_service(&mut self, consent: Option<Consent>) {
        let Some(der) = self.certificate.clone() else {
            self.fail_card_path(CardFailure::ReaderError, "no certificate");
            return;
        };
        self.screen("querying");
        let answer = self.setup.service.query_with_consent(
            &der,
            &self.setup.facility,
            consent,
            self.setup.service_deadline,
        );
        let result = match answer {
            Ok(r) => r,
            Err(e) => {
                self.log(EventKind::Qualification {
                    summary: format!("no answer: {e}"),
                });
                self.fail_card_path(CardFailure::ServiceDown, &e.to_string());
                return;
            }
        };
        self.log(EventKind::Qualification {
            summary: summarise(&result),
        });
        if result.segment_of_result == SegmentOfResult::Error {
            let failure = match result.error_code {
                Some(ResultErrorCode::CertificateRevoked) => CardFailure::CertificateRevoked,
                Some(ResultErrorCode::CertificateExpired) => CardFailure::CertificateExpired,
                Some(ResultErrorCode::NotRegistered) => {
                    self.state = State::Registration;
                    self.screen("registration");
                    return;
                }
                _ => CardFailure::ReaderError,
            };
            self.fail_card_path(failure, "the service refused the certificate");
            return;
        }
        match result.qualification_validity {
            Some(QualificationValidity::Valid)
            | Some(QualificationValidity::InvalidNewerExists) => {}
            Some(QualificationValidity::Invalid) => {
                // The service found the person and says they are not insured.
                self.card_path = Some(CardPath::Failed(CardFailure::NoRecord));
                self.result = Some(result);
                self.finish_not_insured();
                return;
            }
            Some(QualificationValidity::None) => {
                self.fail_card_path(CardFailure::NoRecord, "no qualification found");
                return;
            }
            _ => {
                self.fail_card_path(CardFailure::ServiceDown, "the service could not decide");
                return;
            }
        }
        self.result = Some(result);
        if self.consent.is_some() {
            self.finish_card_path();
        } else {
            self.state = State::Consent;
            let facility = FacilityId(self.setup.facility.clone());
            let reuse = self
                .setup
                .consent
                .offers_reuse(&self.patient_id(), &facility);
            self.screen(if reuse { "consent_reuse" } else { "consent" });
        }
    }

    fn patient_id(&self) -> PatientId {
        let key = self
            .certificate
            .as_deref()
            .map(|d| hex::encode(openssl::sha::sha256(d)))
            .unwrap_or_default();
        PatientId(key)
    }

    /// The staff's answer in the visual-check mode: confirmed, the holder is authenticated
    /// by the staff (`card_visual`); not, the card path ends as the face path did.
    fn staff_check(&mut self, confirm: bool) -> Result<(), DriverError> {
        self.expect_state(State::VisualCheck, "the staff checked the holder")?;
        if confirm {
            self.authenticated(crate::rules::AuthMethod::Visual);
        } else {
            self.fail_card_path(
                CardFailure::FaceMismatch,
                "the staff could not confirm the holder against the card",
            );
        }
        Ok(())
    }

    fn register(&mut self, accept: bool) -> Result<(), DriverError> {
        if self.state != State::Registration {
            // A registered card is never asked; the patient's readiness changes nothing.
            self.log(EventKind::Note {
                text: "registration not asked for".into(),
            });
            return Ok(());
        }
        if !accept {
            self.fail_card_path(
                CardFailure::NotRegistered,
                "the patient declined registration",
            );
            return Ok(());
        }
        self.screen("registration_terms");
        let der = self.certificate.clone().unwrap_or_default();
        match self
            .setup
            .service
            .register(&der, self.setup.service_deadline)
        {
            Ok(()) => {
                self.screen("registration_done");
                self.query_service(None);
            }
            Err(e) => self.fail_card_path(CardFailure::ServiceDown, &format!("registration: {e}")),
        }
        Ok(())
    }

    fn consent(&mut self, step: ConsentStep) -> Result<(), DriverError> {
        self.expect_state(State::Consent, "consent was given")?;
        let facility = FacilityId(self.setup.facility.clone());
        let patient = self.patient_id();
        let choice = self
            .setup
            .consent
            .visit(&patient, &facility, self.setup.today, step)
            .map_err(|e| DriverError::NotNow(e.to_string()))?;
        // Reuse applies the stored choice as it is (the guide's step 3): no further screen,
        // even for an earlier choice of individual items.
        if matches!(step, ConsentStep::Choose(ConsentChoice::Individually(_))) {
            self.screen("consent_items");
        }
        self.consent = Some(choice);
        self.finish_card_path();
        Ok(())
    }

    fn finish_card_path(&mut self) {
        let (Some(result), Some(not_after)) = (self.result.as_ref(), self.certificate_not_after)
        else {
            return;
        };
        let grace = matches!(
            certificate_status(not_after, self.setup.today),
            CertificateStatus::Grace { .. }
        );
        let qualification = result.qualification.as_ref();
        let share = qualification
            .map(|q| q.insured_partial_contribution_ratio.percent())
            .unwrap_or_else(|| self.setup.patient.copayment_percent(self.setup.today));
        let limit_applied = qualification
            .and_then(|q| q.limit_application_certificate_classification_flag)
            .is_some();
        self.card_path = Some(CardPath::Succeeded {
            method: self.method,
            certificate_not_after: not_after,
        });
        self.log(EventKind::CardPath {
            ok: true,
            failure: None,
        });
        self.state = State::CardDone;
        self.screen("result");
        self.report(ObservedOutcome {
            route: self.method.route(),
            share_percent: share,
            limit_applied,
            qualification_data_only: grace,
        });
    }

    fn finish_not_insured(&mut self) {
        self.state = State::CardDone;
        self.screen("not_insured");
        self.report(ObservedOutcome {
            route: crate::rules::Route::NotConfirmed,
            share_percent: 100,
            limit_applied: false,
            qualification_data_only: false,
        });
    }

    fn report(&mut self, outcome: ObservedOutcome) {
        self.outcome = Some(outcome.clone());
        self.log(EventKind::Outcome(outcome));
    }

    /// The front desk after a failed card path (or with no card): the fallback ladder.
    fn desk(&mut self, documents: Vec<Document>) -> Result<(), DriverError> {
        if self.outcome.is_some() {
            // The card path already confirmed the qualification: documents change nothing.
            return Ok(());
        }
        // A patient who leaves the reader mid-way (say, at the PIN pad) ends its card path.
        self.abandon();
        let desk = super::desk::DeskSetup {
            today: self.setup.today,
            rule_set: self.setup.rule_set,
            visit: self.setup.visit,
            patient: self.setup.patient,
        };
        let (screen, outcome) = super::desk::decide(&desk, self.card_path, documents);
        self.screen(&screen);
        self.report(outcome);
        Ok(())
    }

    /// Marks a card path that never finished (the case ran out of steps, or the patient
    /// went to the desk): after a failed face path, as that failure.
    pub fn abandon(&mut self) {
        if self.card.is_some() && self.card_path.is_none() {
            self.card_path = Some(CardPath::Failed(if self.after_face_failure {
                CardFailure::FaceMismatch
            } else {
                CardFailure::Abandoned
            }));
        }
    }

    /// Whether a PIN typed now should find a pad: not once the card path ended or the
    /// patient was authenticated.
    pub fn pin_pad_expected(&self) -> bool {
        !self.card_path_ended() && !matches!(self.state, State::Consent | State::Registration)
    }

    /// The card path is over (succeeded or failed): the desk may take over.
    pub fn card_path_ended(&self) -> bool {
        self.state == State::CardDone
    }

    pub fn card_path(&self) -> Option<CardPath> {
        self.card_path
    }
}

/// The calendar day of an ASN.1 time (UTC).
fn asn1_date(t: &openssl::asn1::Asn1TimeRef) -> Option<Date> {
    let epoch = openssl::asn1::Asn1Time::from_unix(0).ok()?;
    let diff = epoch.diff(t).ok()?;
    let days = i64::from(diff.days);
    Date::from_julian_day(time::macros::date!(1970 - 01 - 01).to_julian_day() + days as i32).ok()
}

fn summarise(r: &QualificationResult) -> String {
    format!(
        "segment {:?}, validity {:?}, error {:?}",
        r.segment_of_result, r.qualification_validity, r.error_code
    )
}

impl super::ReaderDriver for VirtualReader {
    fn apply(&mut self, stimulus: Stimulus) -> Result<(), DriverError> {
        VirtualReader::apply(self, stimulus)
    }

    fn layout(&self) -> Option<Layout> {
        VirtualReader::layout(self)
    }

    fn pin_pad_expected(&self) -> bool {
        VirtualReader::pin_pad_expected(self)
    }

    fn tries_left_known(&self) -> Result<Option<u8>, String> {
        Ok(self.layout.and(self.tries_left_shown))
    }

    fn finish(mut self: Box<Self>) -> super::ReaderReport {
        self.abandon();
        let card = self.take_card();
        let trace = card.as_ref().map(|c| c.trace_text()).unwrap_or_default();
        let journal = card.as_ref().and_then(|c| c.journal());
        super::ReaderReport {
            events: self.events,
            outcome: self.outcome,
            last_verify_sw: self.last_verify_sw,
            timings: self.timings,
            trace,
            breaches: Vec::new(),
            journal,
        }
    }
}
