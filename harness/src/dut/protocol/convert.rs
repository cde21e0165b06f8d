//! The harness's vocabulary ↔ the wire: [`Action`] (a [`Stimulus`] without its card channel,
//! plus the steps only a remote device needs) ↔ [`ToDevice`], and [`Report`] (an [`Event`],
//! a timing, `done`, `error`, `hello`) ↔ [`FromDevice`].

use super::{
    Capability, Clip, DeviceHello, ErrorCode, ErrorReply, FromDevice, HarnessHello, KeyPositions,
    ToDevice, WireAnswerKind, WireConsent, WireConsentItem, WireConsentRecord, WireDocument,
    WireFaceResult, WireMessage, WireMethod, MAX_KEYS,
};
use crate::clips::ClipFormat;
use crate::reader::{
    DriverError, Event, EventKind, FaceResult, ObservedOutcome, PlacedCard, Stimulus,
};
use crate::rules::{
    ConsentChoice, ConsentItem, ConsentItems, ConsentStep, Document, LimitCategory,
};
use crate::scenario::PastConsent;
use crate::scenario::{Method, OperatorAnswerKind, OperatorPrompt};
use std::fmt;
use std::time::Duration;
use time::Date;

/// A duration as the wire's milliseconds (microsecond resolution).
pub fn millis(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

/// The wire's milliseconds as a duration, to the microsecond. Negative or non-finite values
/// (which decoding refuses) become zero; huge ones saturate.
pub fn millis_to_duration(ms: f64) -> Duration {
    if ms.is_finite() && ms > 0.0 {
        // `as` saturates: no overflow, no panic.
        Duration::from_micros((ms * 1000.0).round() as u64)
    } else {
        Duration::ZERO
    }
}

/// The card of `card_present`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardInfo {
    /// The card profile's name.
    pub profile: String,
    /// The PC/SC reader where the emulated card sits (`None`: on the device itself).
    pub reader: Option<String>,
    /// A real card, not the harness's emulator.
    pub real: bool,
}

/// What the camera sees.
#[derive(Clone, Debug, PartialEq)]
pub enum CameraSource {
    /// A clip the device holds (by its name), checked by its SHA-256.
    Clip {
        name: String,
        sha256: String,
        fps: f64,
    },
    /// Frames streamed as `camera_frame` lines (TCP only).
    Frames { fps: f64 },
}

/// The test-bench settings of `case_start` beyond its date, facility and service URL: what
/// a reference (or configurable) device needs to behave as the in-process reference reader
/// does. A real device may ignore them; every one is optional on the wire.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BenchSettings {
    /// The longest wait for the qualification service (the engine: 0.8 × the step deadline).
    pub service_deadline: Option<Duration>,
    /// The longest wait for one card answer (the engine: half the step deadline).
    pub card_deadline: Option<Duration>,
    /// The patient's consent choices at earlier visits.
    pub consent_history: Vec<PastConsent>,
    /// The patient's high-cost limit category.
    pub limit_category: Option<LimitCategory>,
    /// The card's consecutive face failures at earlier visits.
    pub earlier_face_failures: Option<u8>,
}

/// What the harness does to a device: the stimuli of [`Stimulus`] without the card channel
/// (the device reaches the card itself), and case start, camera and reset.
#[derive(Clone, PartialEq)]
pub enum Action {
    StartCase {
        case: String,
        today: Option<Date>,
        facility: Option<String>,
        service_url: Option<String>,
        /// The test-bench settings (optional fields of `case_start`).
        bench: BenchSettings,
    },
    PlaceCard(CardInfo),
    RemoveCard,
    /// A clip the camera will play is offered (`clip_offer`).
    ClipOffer {
        name: String,
        format: ClipFormat,
        size: u64,
        sha256: String,
    },
    /// One piece of it, and the SHA-256 sent with it (`clip_chunk`).
    ClipChunk {
        name: String,
        offset: u64,
        data: Vec<u8>,
        sha256: String,
    },
    /// All of it was sent (`clip_end`).
    ClipEnd {
        name: String,
    },
    CameraStart(CameraSource),
    CameraStop,
    Choose(Method),
    /// Key positions on the shuffled pad (never the digits).
    PressKeys(Vec<usize>),
    Consent(ConsentStep),
    Register(bool),
    StaffCheck(bool),
    Show(Vec<Document>),
    /// A question for the person at the device's test UI (`operator_prompt`).
    OperatorPrompt(OperatorQuestion),
    Reset,
}

/// An operator prompt as a device's test UI shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct OperatorQuestion {
    /// The prompt's id in its case.
    pub prompt: String,
    pub ja: String,
    pub en: String,
    pub kind: WireAnswerKind,
    /// The answers to offer (none for free text).
    pub offered: Vec<String>,
    /// How long the question stays open.
    pub deadline: Duration,
}

impl OperatorQuestion {
    /// The question of a scenario's `prompt`, open for `deadline`.
    pub fn of(prompt: &OperatorPrompt, deadline: Duration) -> OperatorQuestion {
        OperatorQuestion {
            prompt: prompt.id.clone(),
            ja: prompt.ja.clone(),
            en: prompt.en.clone(),
            kind: match prompt.answer {
                OperatorAnswerKind::Confirm { .. } => WireAnswerKind::Confirm,
                OperatorAnswerKind::Choose(_) => WireAnswerKind::Choose,
                OperatorAnswerKind::Text(_) => WireAnswerKind::Text,
            },
            offered: prompt.answer.offered(),
            deadline,
        }
    }
}

impl fmt::Debug for Action {
    /// As derived, but key positions show as a count (with the layout they are the PIN).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::StartCase {
                case,
                today,
                facility,
                service_url,
                bench,
            } => f
                .debug_struct("StartCase")
                .field("case", case)
                .field("today", today)
                .field("facility", facility)
                .field("service_url", service_url)
                .field("bench", bench)
                .finish(),
            Action::PlaceCard(c) => f.debug_tuple("PlaceCard").field(c).finish(),
            Action::RemoveCard => f.write_str("RemoveCard"),
            Action::ClipOffer {
                name,
                format,
                size,
                sha256,
            } => f
                .debug_struct("ClipOffer")
                .field("name", name)
                .field("format", format)
                .field("size", size)
                .field("sha256", sha256)
                .finish(),
            Action::ClipChunk {
                name, offset, data, ..
            } => write!(f, "ClipChunk({name}, {offset}, <{} bytes>)", data.len()),
            Action::ClipEnd { name } => f.debug_tuple("ClipEnd").field(name).finish(),
            Action::CameraStart(s) => f.debug_tuple("CameraStart").field(s).finish(),
            Action::CameraStop => f.write_str("CameraStop"),
            Action::Choose(m) => f.debug_tuple("Choose").field(m).finish(),
            Action::PressKeys(p) => write!(f, "PressKeys(<{} redacted>)", p.len()),
            Action::Consent(c) => f.debug_tuple("Consent").field(c).finish(),
            Action::Register(a) => f.debug_tuple("Register").field(a).finish(),
            Action::StaffCheck(a) => f.debug_tuple("StaffCheck").field(a).finish(),
            Action::Show(d) => f.debug_tuple("Show").field(d).finish(),
            Action::OperatorPrompt(q) => f.debug_tuple("OperatorPrompt").field(q).finish(),
            Action::Reset => f.write_str("Reset"),
        }
    }
}

/// Why an action or a stimulus has no wire form.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    #[error("placing a card needs the card's profile and reader (CardInfo)")]
    NoCardInfo,
    #[error("key position {0} is not on the pad (0-9)")]
    KeyOffPad(usize),
    #[error("{0} keys pressed at once (at most {MAX_KEYS})")]
    TooManyKeys(usize),
    #[error("{0}")]
    Invalid(String),
}

impl Action {
    /// The action of `stimulus`; placing a card needs `card`.
    pub fn from_stimulus(
        stimulus: &Stimulus,
        card: Option<CardInfo>,
    ) -> Result<Self, ConvertError> {
        Ok(match stimulus {
            Stimulus::PlaceCard(_) => Action::PlaceCard(card.ok_or(ConvertError::NoCardInfo)?),
            Stimulus::RemoveCard => Action::RemoveCard,
            Stimulus::Choose(m) => Action::Choose(*m),
            Stimulus::PressKeys(p) => Action::PressKeys(p.clone()),
            Stimulus::Consent(c) => Action::Consent(*c),
            Stimulus::Register(accept) => Action::Register(*accept),
            Stimulus::StaffCheck(confirm) => Action::StaffCheck(*confirm),
            Stimulus::Show(documents) => Action::Show(documents.clone()),
        })
    }

    /// The stimulus for an in-process reader (the reference DUT's side). Placing a card needs
    /// `card` (the device opened the reader of [`CardInfo`]); case start, camera and reset
    /// have no stimulus: they come back as `Err(self)` for the caller to handle.
    // The `Err` is the action itself, handed back unchanged (once per stimulus: its size
    // costs nothing worth a box).
    #[allow(clippy::result_large_err)]
    pub fn try_into_stimulus(self, card: Option<PlacedCard>) -> Result<Stimulus, Action> {
        Ok(match self {
            Action::PlaceCard(info) => match card {
                Some(card) => Stimulus::PlaceCard(card),
                None => return Err(Action::PlaceCard(info)),
            },
            Action::RemoveCard => Stimulus::RemoveCard,
            Action::Choose(m) => Stimulus::Choose(m),
            Action::PressKeys(p) => Stimulus::PressKeys(p),
            Action::Consent(c) => Stimulus::Consent(c),
            Action::Register(accept) => Stimulus::Register(accept),
            Action::StaffCheck(confirm) => Stimulus::StaffCheck(confirm),
            Action::Show(documents) => Stimulus::Show(documents),
            other @ (Action::StartCase { .. }
            | Action::ClipOffer { .. }
            | Action::ClipChunk { .. }
            | Action::ClipEnd { .. }
            | Action::CameraStart(_)
            | Action::CameraStop
            | Action::OperatorPrompt(_)
            | Action::Reset) => return Err(other),
        })
    }

    /// The capability a device must have announced for this action (`None`: every device).
    pub fn needs(&self) -> Option<Capability> {
        Some(match self {
            Action::Choose(Method::Face) => Capability::Face,
            Action::Choose(Method::Pin) | Action::PressKeys(_) => Capability::Pin,
            Action::CameraStart(CameraSource::Clip { .. })
            | Action::ClipOffer { .. }
            | Action::ClipChunk { .. }
            | Action::ClipEnd { .. } => Capability::CameraClips,
            Action::CameraStart(CameraSource::Frames { .. }) => Capability::CameraFrames,
            Action::Consent(_) => Capability::Consent,
            Action::Register(_) => Capability::Registration,
            Action::StaffCheck(_) => Capability::VisualCheck,
            Action::Show(_) => Capability::Desk,
            Action::OperatorPrompt(_) => Capability::OperatorUi,
            Action::StartCase { .. }
            | Action::PlaceCard(_)
            | Action::RemoveCard
            | Action::CameraStop
            | Action::Reset => return None,
        })
    }

    /// The message for this action, as stimulus `id`. The result passes the decoder's
    /// checks, or this is an error.
    pub fn to_message(&self, id: u64) -> Result<ToDevice, ConvertError> {
        let message = match self {
            Action::StartCase {
                case,
                today,
                facility,
                service_url,
                bench,
            } => ToDevice::CaseStart {
                id,
                case: case.clone(),
                today: *today,
                facility: facility.clone(),
                service_url: service_url.clone(),
                service_deadline_ms: bench.service_deadline.map(millis),
                card_deadline_ms: bench.card_deadline.map(millis),
                consent_history: bench
                    .consent_history
                    .iter()
                    .map(consent_record_to_wire)
                    .collect(),
                limit_category: bench.limit_category,
                earlier_face_failures: bench.earlier_face_failures,
            },
            Action::PlaceCard(card) => ToDevice::CardPresent {
                id,
                profile: card.profile.clone(),
                reader: card.reader.clone(),
                real: card.real,
            },
            Action::RemoveCard => ToDevice::CardRemoved { id },
            Action::ClipOffer {
                name,
                format,
                size,
                sha256,
            } => ToDevice::ClipOffer {
                id,
                name: name.clone(),
                format: *format,
                size: *size,
                sha256: sha256.clone(),
            },
            Action::ClipChunk {
                name,
                offset,
                data,
                sha256,
            } => ToDevice::ClipChunk {
                id,
                name: name.clone(),
                offset: *offset,
                data: data.clone(),
                sha256: sha256.clone(),
            },
            Action::ClipEnd { name } => ToDevice::ClipEnd {
                id,
                name: name.clone(),
            },
            Action::CameraStart(CameraSource::Clip { name, sha256, fps }) => {
                ToDevice::CameraStart {
                    id,
                    fps: *fps,
                    clip: Some(Clip {
                        name: name.clone(),
                        sha256: sha256.clone(),
                    }),
                }
            }
            Action::CameraStart(CameraSource::Frames { fps }) => ToDevice::CameraStart {
                id,
                fps: *fps,
                clip: None,
            },
            Action::CameraStop => ToDevice::CameraStop { id },
            Action::Choose(m) => ToDevice::ChooseMethod {
                id,
                method: match m {
                    Method::Face => WireMethod::Face,
                    Method::Pin => WireMethod::Pin,
                },
            },
            Action::PressKeys(positions) => {
                if positions.len() > MAX_KEYS {
                    return Err(ConvertError::TooManyKeys(positions.len()));
                }
                let keys = positions
                    .iter()
                    .map(|&p| match u8::try_from(p) {
                        Ok(k @ 0..=9) => Ok(k),
                        _ => Err(ConvertError::KeyOffPad(p)),
                    })
                    .collect::<Result<Vec<u8>, _>>()?;
                ToDevice::PinKeys {
                    id,
                    positions: KeyPositions(keys),
                }
            }
            Action::Consent(step) => {
                let (choice, items) = consent_to_wire(*step);
                ToDevice::Consent { id, choice, items }
            }
            Action::Register(accept) => ToDevice::Register {
                id,
                accept: *accept,
            },
            Action::StaffCheck(confirm) => ToDevice::StaffCheck {
                id,
                confirm: *confirm,
            },
            Action::Show(documents) => ToDevice::ShowDocuments {
                id,
                documents: documents.iter().map(|d| document_to_wire(*d)).collect(),
            },
            Action::OperatorPrompt(q) => ToDevice::OperatorPrompt {
                id,
                prompt: q.prompt.clone(),
                ja: q.ja.clone(),
                en: q.en.clone(),
                kind: q.kind,
                offered: q.offered.clone(),
                deadline_ms: millis(q.deadline),
            },
            Action::Reset => ToDevice::Reset { id },
        };
        message.validate().map_err(ConvertError::Invalid)?;
        Ok(message)
    }
}

impl ToDevice {
    /// The harness's `hello`.
    pub fn hello() -> Self {
        ToDevice::Hello(HarnessHello::ours())
    }

    /// The action of this message, and its id; `None` for `hello`, `camera_frame` and
    /// `operator_withdraw`.
    pub fn to_action(&self) -> Option<(u64, Action)> {
        let action = match self {
            ToDevice::Hello(_)
            | ToDevice::CameraFrame { .. }
            | ToDevice::OperatorWithdraw { .. } => return None,
            ToDevice::CaseStart {
                case,
                today,
                facility,
                service_url,
                service_deadline_ms,
                card_deadline_ms,
                consent_history,
                limit_category,
                earlier_face_failures,
                ..
            } => Action::StartCase {
                case: case.clone(),
                today: *today,
                facility: facility.clone(),
                service_url: service_url.clone(),
                bench: BenchSettings {
                    service_deadline: service_deadline_ms.map(millis_to_duration),
                    card_deadline: card_deadline_ms.map(millis_to_duration),
                    consent_history: consent_history
                        .iter()
                        .map(consent_record_from_wire)
                        .collect(),
                    limit_category: *limit_category,
                    earlier_face_failures: *earlier_face_failures,
                },
            },
            ToDevice::CardPresent {
                profile,
                reader,
                real,
                ..
            } => Action::PlaceCard(CardInfo {
                profile: profile.clone(),
                reader: reader.clone(),
                real: *real,
            }),
            ToDevice::CardRemoved { .. } => Action::RemoveCard,
            ToDevice::CameraStart { fps, clip, .. } => Action::CameraStart(match clip {
                Some(clip) => CameraSource::Clip {
                    name: clip.name.clone(),
                    sha256: clip.sha256.clone(),
                    fps: *fps,
                },
                None => CameraSource::Frames { fps: *fps },
            }),
            ToDevice::ClipOffer {
                name,
                format,
                size,
                sha256,
                ..
            } => Action::ClipOffer {
                name: name.clone(),
                format: *format,
                size: *size,
                sha256: sha256.clone(),
            },
            ToDevice::ClipChunk {
                name,
                offset,
                data,
                sha256,
                ..
            } => Action::ClipChunk {
                name: name.clone(),
                offset: *offset,
                data: data.clone(),
                sha256: sha256.clone(),
            },
            ToDevice::ClipEnd { name, .. } => Action::ClipEnd { name: name.clone() },
            ToDevice::CameraStop { .. } => Action::CameraStop,
            ToDevice::ChooseMethod { method, .. } => Action::Choose(match method {
                WireMethod::Face => Method::Face,
                WireMethod::Pin => Method::Pin,
            }),
            ToDevice::PinKeys { positions, .. } => {
                Action::PressKeys(positions.0.iter().map(|&p| usize::from(p)).collect())
            }
            ToDevice::Consent { choice, items, .. } => {
                Action::Consent(consent_from_wire(*choice, items))
            }
            ToDevice::Register { accept, .. } => Action::Register(*accept),
            ToDevice::OperatorPrompt {
                prompt,
                ja,
                en,
                kind,
                offered,
                deadline_ms,
                ..
            } => Action::OperatorPrompt(OperatorQuestion {
                prompt: prompt.clone(),
                ja: ja.clone(),
                en: en.clone(),
                kind: *kind,
                offered: offered.clone(),
                deadline: millis_to_duration(*deadline_ms),
            }),
            ToDevice::StaffCheck { confirm, .. } => Action::StaffCheck(*confirm),
            ToDevice::ShowDocuments { documents, .. } => {
                Action::Show(documents.iter().map(|d| document_from_wire(*d)).collect())
            }
            ToDevice::Reset { .. } => Action::Reset,
        };
        Some((self.id()?, action))
    }
}

fn consent_item_to_wire(item: ConsentItem) -> WireConsentItem {
    WireConsentItem::of(item)
}

fn consent_item_from_wire(item: WireConsentItem) -> ConsentItem {
    item.item()
}

/// `all`, `reuse`, `none` (choose individually, nothing ticked), or `items` with the ticked
/// items in the screen's order.
fn consent_to_wire(step: ConsentStep) -> (WireConsent, Vec<WireConsentItem>) {
    match step {
        ConsentStep::Reuse => (WireConsent::Reuse, Vec::new()),
        ConsentStep::Choose(ConsentChoice::AgreeToAll) => (WireConsent::All, Vec::new()),
        ConsentStep::Choose(ConsentChoice::Individually(items)) => {
            let items: Vec<_> = items.iter().map(consent_item_to_wire).collect();
            if items.is_empty() {
                (WireConsent::None, items)
            } else {
                (WireConsent::Items, items)
            }
        }
    }
}

fn consent_from_wire(choice: WireConsent, items: &[WireConsentItem]) -> ConsentStep {
    match choice {
        WireConsent::All => ConsentStep::Choose(ConsentChoice::AgreeToAll),
        WireConsent::Reuse => ConsentStep::Reuse,
        WireConsent::None => ConsentStep::Choose(ConsentChoice::Individually(ConsentItems::none())),
        WireConsent::Items => ConsentStep::Choose(ConsentChoice::Individually(
            items.iter().map(|i| consent_item_from_wire(*i)).collect(),
        )),
    }
}

fn consent_record_to_wire(past: &PastConsent) -> WireConsentRecord {
    let (choice, items) = consent_to_wire(ConsentStep::Choose(past.choice));
    WireConsentRecord {
        facility: past.facility.clone(),
        on: past.on,
        choice,
        items,
    }
}

/// A record's `reuse` (which decoding refuses) reads as "agreed to nothing".
fn consent_record_from_wire(record: &WireConsentRecord) -> PastConsent {
    let choice = match consent_from_wire(record.choice, &record.items) {
        ConsentStep::Choose(choice) => choice,
        ConsentStep::Reuse => ConsentChoice::Individually(ConsentItems::none()),
    };
    PastConsent {
        facility: record.facility.clone(),
        on: record.on,
        choice,
    }
}

fn document_to_wire(d: Document) -> WireDocument {
    match d {
        Document::PortalScreen => WireDocument::PortalScreen,
        Document::PortalPdf => WireDocument::PortalPdf,
        Document::QualificationNotice => WireDocument::QualificationNotice,
        Document::QualificationCertificate { valid_until } => {
            WireDocument::QualificationCertificate { valid_until }
        }
        Document::OldInsuranceCard { valid_until } => {
            WireDocument::OldInsuranceCard { valid_until }
        }
    }
}

fn document_from_wire(d: WireDocument) -> Document {
    match d {
        WireDocument::PortalScreen => Document::PortalScreen,
        WireDocument::PortalPdf => Document::PortalPdf,
        WireDocument::QualificationNotice => Document::QualificationNotice,
        WireDocument::QualificationCertificate { valid_until } => {
            Document::QualificationCertificate { valid_until }
        }
        WireDocument::OldInsuranceCard { valid_until } => {
            Document::OldInsuranceCard { valid_until }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Device → harness
// ---------------------------------------------------------------------------------------

/// A device's message in the harness's vocabulary.
#[derive(Clone, Debug, PartialEq)]
pub enum Report {
    Hello(DeviceHello),
    Done {
        id: u64,
    },
    /// The answer to a `clip_offer`: the bytes of the clip held.
    ClipHave {
        id: u64,
        offset: u64,
    },
    Error(ErrorReply),
    /// An event, as the reference reader logs it.
    Event(Event),
    /// A named sub-step's duration (the `timings` of `Observed`).
    Timing {
        at: Duration,
        name: String,
        took: Duration,
    },
    /// A person answered `prompt` on the device's test UI.
    OperatorAnswer {
        at: Duration,
        prompt: String,
        answer: String,
    },
}

fn face_result_to_wire(r: FaceResult) -> WireFaceResult {
    match r {
        FaceResult::Matched => WireFaceResult::Matched,
        FaceResult::NoMatch => WireFaceResult::NoMatch,
        FaceResult::AttackRejected => WireFaceResult::AttackRejected,
        FaceResult::Locked => WireFaceResult::Locked,
        FaceResult::Unavailable => WireFaceResult::Unavailable,
    }
}

fn face_result_from_wire(r: WireFaceResult) -> FaceResult {
    match r {
        WireFaceResult::Matched => FaceResult::Matched,
        WireFaceResult::NoMatch => FaceResult::NoMatch,
        WireFaceResult::AttackRejected => FaceResult::AttackRejected,
        WireFaceResult::Locked => FaceResult::Locked,
        WireFaceResult::Unavailable => FaceResult::Unavailable,
    }
}

impl FromDevice {
    /// The message of `event`, one to one.
    pub fn from_event(event: &Event) -> Self {
        let at_ms = millis(event.at);
        match &event.kind {
            EventKind::Screen { name } => FromDevice::Screen {
                at_ms,
                name: name.clone(),
            },
            EventKind::KeypadLayout { digits, tries_left } => FromDevice::KeypadLayout {
                at_ms,
                digits: *digits,
                tries_left: *tries_left,
            },
            EventKind::KeysPressed { count } => FromDevice::KeysPressed {
                at_ms,
                count: u64::try_from(*count).unwrap_or(u64::MAX),
            },
            EventKind::VerifyAnswered { sw } => FromDevice::VerifyAnswered { at_ms, sw: *sw },
            EventKind::CardPath { ok, failure } => FromDevice::CardPath {
                at_ms,
                ok: *ok,
                failure: failure.clone(),
            },
            EventKind::FaceAttempt {
                attempt,
                frames,
                best_score,
                matched,
                presentation,
            } => FromDevice::FaceAttempt {
                at_ms,
                attempt: *attempt,
                frames: *frames,
                best_score: *best_score,
                matched: *matched,
                presentation: presentation.clone(),
            },
            EventKind::FaceResult {
                result,
                consecutive_failures,
            } => FromDevice::FaceResult {
                at_ms,
                result: face_result_to_wire(*result),
                consecutive_failures: *consecutive_failures,
            },
            EventKind::Qualification { summary } => FromDevice::Qualification {
                at_ms,
                summary: summary.clone(),
            },
            EventKind::Outcome(o) => FromDevice::Outcome {
                at_ms,
                route: o.route,
                share_percent: o.share_percent,
                limit_applied: o.limit_applied,
                qualification_data_only: o.qualification_data_only,
            },
            EventKind::Note { text } => FromDevice::Note {
                at_ms,
                text: text.clone(),
            },
        }
    }

    /// The message of a sub-step timing (`name` took `took`, logged at `at`).
    pub fn timing(at: Duration, name: &str, took: Duration) -> Self {
        FromDevice::Timing {
            at_ms: millis(at),
            name: name.to_owned(),
            ms: millis(took),
        }
    }

    /// An `error` answer.
    pub fn error(id: Option<u64>, code: ErrorCode, message: impl Into<String>) -> Self {
        FromDevice::Error(ErrorReply {
            id,
            code,
            message: message.into(),
            supported_versions: None,
        })
    }

    /// The event of this message, if it is one (not `hello`, `done`, `error`, `timing`).
    pub fn to_event(&self) -> Option<Event> {
        match Report::from(self.clone()) {
            Report::Event(e) => Some(e),
            _ => None,
        }
    }
}

impl From<FromDevice> for Report {
    fn from(message: FromDevice) -> Self {
        let event = |at_ms: f64, kind: EventKind| {
            Report::Event(Event {
                at: millis_to_duration(at_ms),
                kind,
            })
        };
        match message {
            FromDevice::Hello(h) => Report::Hello(h),
            FromDevice::Done { id } => Report::Done { id },
            FromDevice::ClipHave { id, offset } => Report::ClipHave { id, offset },
            FromDevice::Error(e) => Report::Error(e),
            FromDevice::Screen { at_ms, name } => event(at_ms, EventKind::Screen { name }),
            FromDevice::KeypadLayout {
                at_ms,
                digits,
                tries_left,
            } => event(at_ms, EventKind::KeypadLayout { digits, tries_left }),
            FromDevice::KeysPressed { at_ms, count } => event(
                at_ms,
                EventKind::KeysPressed {
                    count: usize::try_from(count).unwrap_or(usize::MAX),
                },
            ),
            FromDevice::VerifyAnswered { at_ms, sw } => {
                event(at_ms, EventKind::VerifyAnswered { sw })
            }
            FromDevice::CardPath { at_ms, ok, failure } => {
                event(at_ms, EventKind::CardPath { ok, failure })
            }
            FromDevice::FaceAttempt {
                at_ms,
                attempt,
                frames,
                best_score,
                matched,
                presentation,
            } => event(
                at_ms,
                EventKind::FaceAttempt {
                    attempt,
                    frames,
                    best_score,
                    matched,
                    presentation,
                },
            ),
            FromDevice::FaceResult {
                at_ms,
                result,
                consecutive_failures,
            } => event(
                at_ms,
                EventKind::FaceResult {
                    result: face_result_from_wire(result),
                    consecutive_failures,
                },
            ),
            FromDevice::Qualification { at_ms, summary } => {
                event(at_ms, EventKind::Qualification { summary })
            }
            FromDevice::Outcome {
                at_ms,
                route,
                share_percent,
                limit_applied,
                qualification_data_only,
            } => event(
                at_ms,
                EventKind::Outcome(ObservedOutcome {
                    route,
                    share_percent,
                    limit_applied,
                    qualification_data_only,
                }),
            ),
            FromDevice::Timing { at_ms, name, ms } => Report::Timing {
                at: millis_to_duration(at_ms),
                name,
                took: millis_to_duration(ms),
            },
            FromDevice::Note { at_ms, text } => event(at_ms, EventKind::Note { text }),
            FromDevice::OperatorAnswer {
                at_ms,
                prompt,
                answer,
            } => Report::OperatorAnswer {
                at: millis_to_duration(at_ms),
                prompt,
                answer,
            },
        }
    }
}

impl From<Report> for FromDevice {
    fn from(report: Report) -> Self {
        match report {
            Report::Hello(h) => FromDevice::Hello(h),
            Report::Done { id } => FromDevice::Done { id },
            Report::ClipHave { id, offset } => FromDevice::ClipHave { id, offset },
            Report::Error(e) => FromDevice::Error(e),
            Report::Event(e) => FromDevice::from_event(&e),
            Report::Timing { at, name, took } => FromDevice::timing(at, &name, took),
            Report::OperatorAnswer { at, prompt, answer } => FromDevice::OperatorAnswer {
                at_ms: millis(at),
                prompt,
                answer,
            },
        }
    }
}

impl ErrorReply {
    /// The driver error of `not_now` and `unsupported`, the codes that are the scenario's or
    /// the device's limits rather than a broken bench; `None` for the others.
    pub fn driver_error(&self) -> Option<DriverError> {
        match self.code {
            ErrorCode::NotNow => Some(DriverError::NotNow(self.message.clone())),
            ErrorCode::Unsupported => Some(DriverError::Unsupported(self.message.clone())),
            _ => None,
        }
    }
}
