//! The adapter protocol between the harness and a device under test (DUT): versioned JSON
//! lines over a serial line or TCP. The specification a vendor implements is
//! `docs/adapter-protocol.md`; this module is its codec, and the tests keep the two in
//! agreement (every example in the document is decoded by the test suite as written).
//!
//! - [`ToDevice`]: what the harness sends (hello, case start, stimuli, operator prompts,
//!   reset); every message but `hello`, `camera_frame` and `operator_withdraw` carries an
//!   `id` the device answers with `done` or `error`.
//! - [`FromDevice`]: what the device sends (hello, `done`, `error`, events, timings).
//! - [`encode`] / [`write_message`]: one message, one line.
//! - [`LineReader`]: a streaming reader over any [`std::io::Read`] with the line limit
//!   enforced while reading; [`decode`] (one line) and [`decode_lines`] (a byte slice).
//! - [`Action`] / [`Report`]: the harness's own vocabulary (stimuli without the card channel,
//!   [`crate::reader::Event`]s, timings) and the conversions to and from the wire.
//!
//! Architecture invariant: decoding never panics and never buffers more than
//! [`MAX_LINE`] + one read chunk of unread input, whatever the peer sends (see the fuzz tests
//! in `harness/tests/dut_protocol_fuzz.rs`). A decoded message is valid: values the harness
//! would misread (a keypad digit of 12, a share of 300 %, a negative time) are refused at
//! decoding, not found later.

mod codec;
mod convert;
mod lines;
#[cfg(test)]
mod tests;

pub use codec::{decode, encode, encode_checked, write_message, WireError};
pub use convert::{
    millis, millis_to_duration, Action, BenchSettings, CameraSource, CardInfo, ConvertError,
    OperatorQuestion, Report,
};
pub use lines::{decode_lines, LineReader};

use crate::clips::ClipFormat;

use crate::rules::{LimitCategory, Route};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;
use time::Date;

/// The protocol's name, sent in both `hello`s.
pub const PROTOCOL: &str = "myna-hil-dut";
/// The protocol version this codec speaks.
pub const VERSION: u32 = 1;
/// The longest line either side accepts, in bytes, not counting the `\n`. A base64 JPEG frame
/// of up to about 190 KB fits; anything longer is a protocol error.
pub const MAX_LINE: usize = 256 * 1024;
/// How much [`LineReader`] asks of its source at a time.
pub const READ_CHUNK: usize = 8 * 1024;

/// How long the device may take to answer `hello`.
pub const HELLO_DEADLINE: Duration = Duration::from_secs(5);
/// How long a `reset` at the end of a case may take before the link is dropped.
pub const RESET_DEADLINE: Duration = Duration::from_secs(3);
/// How long a device may take to answer one `clip_offer`, `clip_chunk` or `clip_end` (the
/// last hashes the whole clip).
pub const CLIP_DEADLINE: Duration = Duration::from_secs(10);
/// How long a device may take to answer an `operator_prompt` with `done` once the harness
/// sent `operator_withdraw` (the prompt's own deadline is the scenario's, in `deadline_ms`).
pub const WITHDRAW_DEADLINE: Duration = Duration::from_secs(3);
/// The fixed deadlines, by the message they bound, as the document's "Deadlines" table
/// lists them (a test compares the two). `case_start`, `camera_start` and every stimulus
/// have the case's step deadline instead; `operator_prompt` has its own `deadline_ms`.
pub const FIXED_DEADLINES: [(&str, Duration); 6] = [
    ("hello", HELLO_DEADLINE),
    ("reset", RESET_DEADLINE),
    ("clip_offer", CLIP_DEADLINE),
    ("clip_chunk", CLIP_DEADLINE),
    ("clip_end", CLIP_DEADLINE),
    ("operator_withdraw", WITHDRAW_DEADLINE),
];
/// The most lines a device may send for one case (events, timings, notes) before the case
/// ends in `error`: a flood cannot fill the harness's memory or the reports.
pub const MAX_LINES_PER_CASE: usize = 10_000;
/// The most bytes of a device's free text (a note, a failure, an error message, a screen
/// name, an unknown `type`) the harness keeps; longer text is cut at a character boundary.
pub const MAX_DEVICE_TEXT: usize = 200;

/// `text` cut to [`MAX_DEVICE_TEXT`] bytes at a character boundary, marked with `…`.
pub fn clip_device_text(text: &mut String) {
    common::text::clip(text, MAX_DEVICE_TEXT);
}

/// A message type of one direction: its `type` names and its validity rules.
pub trait WireMessage: Serialize + serde::de::DeserializeOwned + fmt::Debug {
    /// Every `type` of this direction (the decoder answers any other with
    /// [`WireError::UnknownType`]).
    const TYPES: &'static [&'static str];

    /// The `type` of this message.
    fn type_name(&self) -> &'static str;

    /// Checks the values serde cannot (ranges, formats); `Err` says what is wrong.
    fn validate(&self) -> Result<(), String>;
}

// ---------------------------------------------------------------------------------------
// Harness → device
// ---------------------------------------------------------------------------------------

/// A message from the harness to the device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToDevice {
    /// First message of a session.
    Hello(HarnessHello),
    /// A case begins: the device returns to idle and its `at_ms` clock starts at 0.
    CaseStart {
        id: u64,
        /// The case's id (for the device's own log).
        case: String,
        /// The case's date, for a device whose test setup can set its clock.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_date")]
        today: Option<Date>,
        /// The facility (医療機関コード) the case runs at.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        facility: Option<String>,
        /// Where the harness's qualification-service simulator listens, for a device that
        /// can be pointed at one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service_url: Option<String>,
        /// Test-bench setting: the longest wait for the qualification service, ms.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service_deadline_ms: Option<f64>,
        /// Test-bench setting: the longest wait for one card answer, ms.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        card_deadline_ms: Option<f64>,
        /// Test-bench setting: the consent choices of this case's patient at earlier visits.
        #[serde(
            default,
            skip_serializing_if = "Vec::is_empty",
            deserialize_with = "null_as_empty"
        )]
        consent_history: Vec<WireConsentRecord>,
        /// Test-bench setting: the patient's high-cost limit category (`A01`…), which the
        /// share falls back on when the service names none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit_category: Option<LimitCategory>,
        /// Test-bench setting: the card's consecutive face-authentication failures at
        /// earlier visits (the per-card counter a device keeps).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        earlier_face_failures: Option<u8>,
    },
    /// A card was placed on the reader.
    CardPresent {
        id: u64,
        /// The card profile's name (e.g. `valid`).
        profile: String,
        /// The PC/SC reader where the emulated card sits; absent when the card is on the
        /// device itself.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reader: Option<String>,
        /// A real card, not the harness's emulator: never spend a PIN try on your own.
        real: bool,
    },
    CardRemoved {
        id: u64,
    },
    /// A clip the camera will play (capability `camera_clips`): the device answers
    /// `clip_have` with how many of its bytes it already holds (all of them: nothing is
    /// sent; fewer: `clip_chunk`s follow from there, then `clip_end`).
    ClipOffer {
        id: u64,
        /// Its name ([`crate::clips::is_clip_name`]), usable as a file name.
        name: String,
        format: ClipFormat,
        /// Its length in bytes, at most [`crate::clips::MAX_CLIP_BYTES`].
        size: u64,
        /// SHA-256 of the whole clip, 64 lower-case hex digits.
        sha256: String,
    },
    /// One piece of the offered clip, at `offset`.
    ClipChunk {
        id: u64,
        name: String,
        offset: u64,
        /// The bytes, base64 (standard alphabet, padded); at most
        /// [`crate::clips::CHUNK_BYTES`].
        #[serde(with = "base64_bytes")]
        data: Vec<u8>,
        /// SHA-256 of those bytes: the device refuses a chunk that does not match.
        sha256: String,
    },
    /// Every byte of the clip has been sent: the device checks the whole clip's SHA-256.
    ClipEnd {
        id: u64,
        name: String,
    },
    /// The camera starts seeing: a clip the device holds (sent by `clip_offer`, or put there
    /// before the run), or (without `clip`) `camera_frame` lines that follow.
    CameraStart {
        id: u64,
        /// Frames per second to play the clip at (or at which frames will come).
        fps: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        clip: Option<Clip>,
    },
    /// One frame of a streamed camera (TCP only). No `id`, no answer.
    CameraFrame {
        /// When the frame was taken, ms since the camera started.
        t_ms: f64,
        /// The JPEG, base64 (standard alphabet, padded).
        #[serde(with = "base64_bytes")]
        jpeg: Vec<u8>,
    },
    CameraStop {
        id: u64,
    },
    ChooseMethod {
        id: u64,
        method: WireMethod,
    },
    /// Keys pressed on the shuffled PIN pad, as positions (0-9) of the last `keypad_layout`.
    PinKeys {
        id: u64,
        positions: KeyPositions,
    },
    /// The patient's answer on the consent screens.
    Consent {
        id: u64,
        choice: WireConsent,
        /// The items agreed to, with `choice: items`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        items: Vec<WireConsentItem>,
    },
    /// Register the card for insurance use (accept the terms) or decline.
    Register {
        id: u64,
        accept: bool,
    },
    /// The staff's answer in the visual-check mode: the holder confirmed or not.
    StaffCheck {
        id: u64,
        confirm: bool,
    },
    /// Documents the patient shows at the front desk.
    ShowDocuments {
        id: u64,
        documents: Vec<WireDocument>,
    },
    /// A question for the person at the device's own test UI (capability `operator_ui`).
    /// The device shows it until a person answers there (`operator_answer`, then `done`) or
    /// the harness withdraws it (`operator_withdraw`, then `done` without an answer).
    OperatorPrompt {
        id: u64,
        /// The prompt's id in its case ([`crate::scenario::is_prompt_id`]).
        prompt: String,
        /// The question, in Japanese and in English (at most
        /// [`crate::scenario::MAX_OPERATOR_TEXT`] bytes each).
        ja: String,
        en: String,
        kind: WireAnswerKind,
        /// The answers to offer, in order: `yes` and `no` for `confirm`, the labels for
        /// `choose`; none for `text`.
        #[serde(
            default,
            skip_serializing_if = "Vec::is_empty",
            deserialize_with = "null_as_empty"
        )]
        offered: Vec<String>,
        /// How long the question stays open, ms.
        deadline_ms: f64,
    },
    /// The prompt was answered elsewhere (the terminal, the live page, a file) or its
    /// deadline passed: the device takes it off its UI and answers its `operator_prompt`
    /// with `done`. No `id`, no answer of its own.
    OperatorWithdraw {
        prompt: String,
    },
    /// Abandon everything and return to idle.
    Reset {
        id: u64,
    },
}

/// The kind of answer an `operator_prompt` asks for
/// ([`crate::scenario::OPERATOR_ANSWER_KINDS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireAnswerKind {
    /// `yes` or `no`.
    Confirm,
    /// One of `offered`.
    Choose,
    /// Free text.
    Text,
}

/// The harness's `hello`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HarnessHello {
    pub protocol: String,
    pub version: u32,
    /// The harness's version (`myna-hil` x.y.z).
    pub harness: String,
}

impl HarnessHello {
    /// This harness's hello.
    pub fn ours() -> Self {
        HarnessHello {
            protocol: PROTOCOL.into(),
            version: VERSION,
            harness: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// An earlier visit's consent choice (`case_start`'s `consent_history`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireConsentRecord {
    /// The facility of that visit.
    pub facility: String,
    /// The day of that visit.
    #[serde(with = "date")]
    pub on: Date,
    /// `all`, `none` or `items` (never `reuse`: a record is a choice that was made).
    pub choice: WireConsent,
    /// The items agreed to, with `choice: items`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<WireConsentItem>,
}

/// A clip the device holds, by its name ([`crate::clips::is_clip_name`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clip {
    pub name: String,
    /// SHA-256 of the clip, 64 lower-case hex digits: the device checks it before playing.
    pub sha256: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireMethod {
    Face,
    Pin,
}

/// Key positions on the PIN pad. Together with the keypad layout they are the PIN, so
/// `Debug` shows only how many there are.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyPositions(pub Vec<u8>);

impl fmt::Debug for KeyPositions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyPositions(<{} redacted>)", self.0.len())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireConsent {
    /// "Agree to all".
    All,
    /// Choose individually, agreeing to nothing.
    None,
    /// Reuse the earlier choice at this facility.
    Reuse,
    /// Choose individually: the items listed.
    Items,
}

/// A consent item on the wire, by the name the rules give it
/// ([`crate::rules::ConsentItem::NAMES`]: `past_surgery`, `care_and_medication`,
/// `medication`, `health_checkups`), the same names scenarios use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireConsentItem {
    PastSurgery,
    CareAndMedication,
    Medication,
    HealthCheckups,
}

impl WireConsentItem {
    /// The rules' item.
    pub fn item(self) -> crate::rules::ConsentItem {
        use crate::rules::ConsentItem;
        match self {
            WireConsentItem::PastSurgery => ConsentItem::PastSurgery,
            WireConsentItem::CareAndMedication => ConsentItem::CareAndMedication,
            WireConsentItem::Medication => ConsentItem::Medication,
            WireConsentItem::HealthCheckups => ConsentItem::HealthCheckups,
        }
    }

    /// The wire's item for the rules' `item`.
    pub fn of(item: crate::rules::ConsentItem) -> WireConsentItem {
        use crate::rules::ConsentItem;
        match item {
            ConsentItem::PastSurgery => WireConsentItem::PastSurgery,
            ConsentItem::CareAndMedication => WireConsentItem::CareAndMedication,
            ConsentItem::Medication => WireConsentItem::Medication,
            ConsentItem::HealthCheckups => WireConsentItem::HealthCheckups,
        }
    }
}

impl Serialize for WireConsentItem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.item().name())
    }
}

impl<'de> Deserialize<'de> for WireConsentItem {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use crate::rules::ConsentItem;
        let name = String::deserialize(deserializer)?;
        match ConsentItem::from_name(&name) {
            Some(item) => Ok(WireConsentItem::of(item)),
            None => {
                let known: Vec<String> = ConsentItem::NAMES
                    .iter()
                    .map(|(n, _)| format!("`{n}`"))
                    .collect();
                Err(serde::de::Error::custom(format!(
                    "unknown variant `{name}`, expected one of {}",
                    known.join(", ")
                )))
            }
        }
    }
}

/// A document shown at the desk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WireDocument {
    PortalScreen,
    PortalPdf,
    QualificationNotice,
    QualificationCertificate {
        /// Last valid day, inclusive (`YYYY-MM-DD`).
        #[serde(with = "date")]
        valid_until: Date,
    },
    OldInsuranceCard {
        /// The date printed on it, if any.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_date")]
        valid_until: Option<Date>,
    },
}

impl WireMessage for ToDevice {
    const TYPES: &'static [&'static str] = &[
        "hello",
        "case_start",
        "card_present",
        "card_removed",
        "clip_offer",
        "clip_chunk",
        "clip_end",
        "camera_start",
        "camera_frame",
        "camera_stop",
        "choose_method",
        "pin_keys",
        "consent",
        "register",
        "staff_check",
        "show_documents",
        "operator_prompt",
        "operator_withdraw",
        "reset",
    ];

    fn type_name(&self) -> &'static str {
        match self {
            ToDevice::Hello(_) => "hello",
            ToDevice::CaseStart { .. } => "case_start",
            ToDevice::CardPresent { .. } => "card_present",
            ToDevice::CardRemoved { .. } => "card_removed",
            ToDevice::ClipOffer { .. } => "clip_offer",
            ToDevice::ClipChunk { .. } => "clip_chunk",
            ToDevice::ClipEnd { .. } => "clip_end",
            ToDevice::CameraStart { .. } => "camera_start",
            ToDevice::CameraFrame { .. } => "camera_frame",
            ToDevice::CameraStop { .. } => "camera_stop",
            ToDevice::ChooseMethod { .. } => "choose_method",
            ToDevice::PinKeys { .. } => "pin_keys",
            ToDevice::Consent { .. } => "consent",
            ToDevice::Register { .. } => "register",
            ToDevice::StaffCheck { .. } => "staff_check",
            ToDevice::ShowDocuments { .. } => "show_documents",
            ToDevice::OperatorPrompt { .. } => "operator_prompt",
            ToDevice::OperatorWithdraw { .. } => "operator_withdraw",
            ToDevice::Reset { .. } => "reset",
        }
    }

    fn validate(&self) -> Result<(), String> {
        match self {
            ToDevice::CameraStart { fps, clip, .. } => {
                if !(fps.is_finite() && *fps > 0.0 && *fps <= MAX_FPS) {
                    return Err(format!("fps must be above 0 and at most {MAX_FPS}"));
                }
                if let Some(clip) = clip {
                    check_clip_name(&clip.name)?;
                    if !is_sha256_hex(&clip.sha256) {
                        return Err("clip.sha256 must be 64 lower-case hex digits".into());
                    }
                }
                Ok(())
            }
            ToDevice::ClipOffer {
                name, size, sha256, ..
            } => {
                check_clip_name(name)?;
                if *size > crate::clips::MAX_CLIP_BYTES {
                    return Err(format!(
                        "size must be at most {} bytes",
                        crate::clips::MAX_CLIP_BYTES
                    ));
                }
                if !is_sha256_hex(sha256) {
                    return Err("sha256 must be 64 lower-case hex digits".into());
                }
                Ok(())
            }
            ToDevice::ClipChunk {
                name,
                offset,
                data,
                sha256,
                ..
            } => {
                check_clip_name(name)?;
                if data.len() > crate::clips::CHUNK_BYTES {
                    return Err(format!(
                        "data must be at most {} bytes",
                        crate::clips::CHUNK_BYTES
                    ));
                }
                if *offset >= crate::clips::MAX_CLIP_BYTES {
                    return Err("offset is past the largest clip".into());
                }
                if !is_sha256_hex(sha256) {
                    return Err("sha256 must be 64 lower-case hex digits".into());
                }
                Ok(())
            }
            ToDevice::ClipEnd { name, .. } => check_clip_name(name),
            ToDevice::CameraFrame { t_ms, .. } => check_millis("t_ms", *t_ms),
            ToDevice::PinKeys { positions, .. } => {
                if positions.0.len() > MAX_KEYS {
                    Err(format!("at most {MAX_KEYS} positions"))
                } else if positions.0.iter().any(|&p| p > 9) {
                    Err("positions are 0-9".into())
                } else {
                    Ok(())
                }
            }
            ToDevice::Consent { choice, items, .. } => {
                if *choice != WireConsent::Items && !items.is_empty() {
                    Err("items go with choice `items` only".into())
                } else {
                    Ok(())
                }
            }
            ToDevice::CaseStart {
                service_deadline_ms,
                card_deadline_ms,
                consent_history,
                ..
            } => {
                if let Some(ms) = service_deadline_ms {
                    check_millis("service_deadline_ms", *ms)?;
                }
                if let Some(ms) = card_deadline_ms {
                    check_millis("card_deadline_ms", *ms)?;
                }
                for record in consent_history {
                    if record.choice == WireConsent::Reuse {
                        return Err("an earlier consent is `all`, `none` or `items`".into());
                    }
                    if record.choice != WireConsent::Items && !record.items.is_empty() {
                        return Err("items go with choice `items` only".into());
                    }
                }
                Ok(())
            }
            ToDevice::OperatorPrompt {
                prompt,
                ja,
                en,
                kind,
                offered,
                deadline_ms,
                ..
            } => {
                use crate::scenario::{
                    CONFIRM_ANSWERS, MAX_CHOICE_LABEL, MAX_OPERATOR_CHOICES, MAX_OPERATOR_TEXT,
                };
                check_prompt_id(prompt)?;
                for (name, text) in [("ja", ja), ("en", en)] {
                    if text.trim().is_empty() || text.len() > MAX_OPERATOR_TEXT {
                        return Err(format!("{name} is 1 to {MAX_OPERATOR_TEXT} bytes of text"));
                    }
                }
                match kind {
                    WireAnswerKind::Confirm
                        if offered
                            .iter()
                            .map(String::as_str)
                            .ne(CONFIRM_ANSWERS.iter().copied()) =>
                    {
                        return Err("a `confirm` offers `yes` and `no`, in that order".into())
                    }
                    WireAnswerKind::Choose
                        if offered.is_empty()
                            || offered.len() > MAX_OPERATOR_CHOICES
                            || offered
                                .iter()
                                .any(|l| l.trim().is_empty() || l.len() > MAX_CHOICE_LABEL) =>
                    {
                        return Err(format!(
                            "a `choose` offers 1 to {MAX_OPERATOR_CHOICES} labels of 1 to \
                             {MAX_CHOICE_LABEL} bytes"
                        ))
                    }
                    WireAnswerKind::Text if !offered.is_empty() => {
                        return Err("a `text` offers nothing".into())
                    }
                    _ => {}
                }
                check_millis("deadline_ms", *deadline_ms)
            }
            ToDevice::OperatorWithdraw { prompt } => check_prompt_id(prompt),
            _ => Ok(()),
        }
    }
}

/// Highest frame rate the protocol carries.
pub const MAX_FPS: f64 = 1000.0;
/// Most key positions in one `pin_keys` (a 4-digit PIN needs 4).
pub const MAX_KEYS: usize = 16;

// ---------------------------------------------------------------------------------------
// Device → harness
// ---------------------------------------------------------------------------------------

/// A message from the device to the harness.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromDevice {
    /// The answer to the harness's `hello`.
    Hello(DeviceHello),
    /// Every event the stimulus `id` caused has been sent.
    Done { id: u64 },
    /// The answer to `clip_offer` `id`: the first `offset` bytes of the clip are held (and
    /// checked chunk by chunk); all of them when it equals the offered size.
    ClipHave { id: u64, offset: u64 },
    /// The stimulus `id` (or, without `id`, the last line or the device itself) failed.
    Error(ErrorReply),
    /// A screen appeared (`pin_entry`, `consent`, …).
    Screen { at_ms: f64, name: String },
    /// The digit at each of the ten key positions of the shuffled PIN pad, and the PIN
    /// tries left the pad shows (from a VERIFY without data) when the device knows them.
    KeypadLayout {
        at_ms: f64,
        digits: [u8; 10],
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tries_left: Option<u8>,
    },
    /// The patient pressed this many keys (which ones is a secret).
    KeysPressed { at_ms: f64, count: u64 },
    /// Status word of a VERIFY the device sent, 4 hex digits (`63C2`).
    VerifyAnswered {
        at_ms: f64,
        #[serde(with = "sw_hex")]
        sw: u16,
    },
    /// The card path ended; `failure` says why when it failed.
    CardPath {
        at_ms: f64,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failure: Option<String>,
    },
    /// One face-matching try.
    FaceAttempt {
        at_ms: f64,
        attempt: u8,
        frames: u32,
        /// Best similarity score of the try (`null`: no face was found).
        #[serde(default)]
        best_score: Option<f32>,
        matched: bool,
        /// How the presentation looked: `live`, or the attack the device saw.
        presentation: String,
    },
    /// How the face path ended.
    FaceResult {
        at_ms: f64,
        result: WireFaceResult,
        consecutive_failures: u8,
    },
    /// The qualification service answered (or not), in a line.
    Qualification { at_ms: f64, summary: String },
    /// The final answer of the reception.
    Outcome {
        at_ms: f64,
        route: Route,
        share_percent: u8,
        limit_applied: bool,
        qualification_data_only: bool,
    },
    /// A named sub-step took `ms` (`face.match`, …).
    Timing { at_ms: f64, name: String, ms: f64 },
    /// Anything worth knowing in a failed case.
    Note { at_ms: f64, text: String },
    /// A person answered `prompt` on the device's test UI: one of its `offered` answers,
    /// or free text.
    OperatorAnswer {
        at_ms: f64,
        prompt: String,
        answer: String,
    },
}

impl FromDevice {
    /// Every free text of the message (what a device could put anything in): where the
    /// harness looks for disclosed secrets and cuts over-long text before keeping it.
    pub fn texts_mut(&mut self) -> Vec<&mut String> {
        match self {
            FromDevice::Hello(h) => h.texts_mut(),
            FromDevice::Error(e) => {
                let mut texts = vec![&mut e.message];
                if let ErrorCode::Other(code) = &mut e.code {
                    texts.push(code);
                }
                texts
            }
            FromDevice::Screen { name: text, .. }
            | FromDevice::FaceAttempt {
                presentation: text, ..
            }
            | FromDevice::Qualification { summary: text, .. }
            | FromDevice::Timing { name: text, .. }
            | FromDevice::Note { text, .. } => vec![text],
            FromDevice::CardPath { failure, .. } => failure.iter_mut().collect(),
            FromDevice::OperatorAnswer { prompt, answer, .. } => vec![prompt, answer],
            FromDevice::Done { .. }
            | FromDevice::ClipHave { .. }
            | FromDevice::KeypadLayout { .. }
            | FromDevice::KeysPressed { .. }
            | FromDevice::VerifyAnswered { .. }
            | FromDevice::FaceResult { .. }
            | FromDevice::Outcome { .. } => Vec::new(),
        }
    }
}

/// The device's `hello`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceHello {
    pub protocol: String,
    pub version: u32,
    pub vendor: String,
    pub model: String,
    pub firmware: String,
    /// The device's serial number, for the certification bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    pub capabilities: Vec<Capability>,
    /// The clip formats the device plays, its preferred first (`y4m`, `avi_mjpeg`);
    /// absent: `y4m` only.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub clip_formats: Vec<String>,
}

impl DeviceHello {
    pub fn has(&self, capability: &Capability) -> bool {
        self.capabilities.contains(capability)
    }

    /// The device's own words (see [`FromDevice::texts_mut`]).
    pub fn texts_mut(&mut self) -> Vec<&mut String> {
        let mut texts = vec![
            &mut self.protocol,
            &mut self.vendor,
            &mut self.model,
            &mut self.firmware,
        ];
        texts.extend(self.serial.as_mut());
        texts.extend(self.clip_formats.iter_mut());
        texts.extend(self.capabilities.iter_mut().filter_map(|c| match c {
            Capability::Other(name) => Some(name),
            _ => None,
        }));
        texts
    }
}

/// What a device can do. Names this codec does not know are kept as [`Capability::Other`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Capability {
    /// The shuffled PIN pad (`choose_method pin`, `pin_keys`).
    Pin,
    /// Face authentication (`choose_method face`).
    Face,
    /// Plays clips stored on its side (`camera_start` with `clip`).
    CameraClips,
    /// Takes streamed frames (`camera_start` without `clip`, `camera_frame`; TCP only).
    CameraFrames,
    /// The consent screens (`consent`).
    Consent,
    /// Registration for insurance use at the reader (`register`).
    Registration,
    /// A front desk that judges shown documents (`show_documents`).
    Desk,
    /// The staff visual-check mode for a face-authentication card whose face path failed
    /// (`staff_check`).
    VisualCheck,
    /// A test UI where a person answers the harness's operator prompts
    /// (`operator_prompt`, `operator_withdraw`, `operator_answer`).
    OperatorUi,
    Other(String),
}

impl Capability {
    pub const KNOWN: [Capability; 9] = [
        Capability::Pin,
        Capability::Face,
        Capability::CameraClips,
        Capability::CameraFrames,
        Capability::Consent,
        Capability::Registration,
        Capability::Desk,
        Capability::VisualCheck,
        Capability::OperatorUi,
    ];

    pub fn as_str(&self) -> &str {
        match self {
            Capability::Pin => "pin",
            Capability::Face => "face",
            Capability::CameraClips => "camera_clips",
            Capability::CameraFrames => "camera_frames",
            Capability::Consent => "consent",
            Capability::Registration => "registration",
            Capability::Desk => "desk",
            Capability::VisualCheck => "visual_check",
            Capability::OperatorUi => "operator_ui",
            Capability::Other(name) => name,
        }
    }
}

impl From<String> for Capability {
    fn from(name: String) -> Self {
        Capability::KNOWN
            .into_iter()
            .find(|c| c.as_str() == name)
            .unwrap_or(Capability::Other(name))
    }
}

impl From<Capability> for String {
    fn from(c: Capability) -> String {
        match c {
            Capability::Other(name) => name,
            known => known.as_str().to_owned(),
        }
    }
}

/// The device's `error`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// The stimulus that failed; absent when the line had no readable `id` or the device
    /// itself failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    pub code: ErrorCode,
    /// For people: what went wrong.
    #[serde(default)]
    pub message: String,
    /// With `version_mismatch`: the versions the device speaks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_versions: Option<Vec<u32>>,
}

/// Why a device refused a line. Codes this codec does not know are kept as
/// [`ErrorCode::Other`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ErrorCode {
    /// The harness's `hello` names another protocol or version.
    VersionMismatch,
    /// A `type` the device does not know.
    UnknownType,
    /// Not a message: invalid UTF-8 or JSON, a missing field or a bad value.
    BadMessage,
    /// A line longer than the limit.
    LineTooLong,
    /// The stimulus makes no sense in the device's state (a scenario or harness mistake).
    NotNow,
    /// The device cannot do this (a capability it did not announce).
    Unsupported,
    /// The clip of `camera_start` is not on the device.
    ClipMissing,
    /// The clip's SHA-256 differs.
    ClipMismatch,
    /// The adapter could not reach the card (the PC/SC reader named in `card_present`).
    CardUnreachable,
    /// A stimulus came while another was still being handled.
    Busy,
    /// The stimulus was abandoned because a `reset` came.
    Aborted,
    /// Anything else that broke on the device's side.
    Internal,
    Other(String),
}

impl ErrorCode {
    pub const KNOWN: [ErrorCode; 12] = [
        ErrorCode::VersionMismatch,
        ErrorCode::UnknownType,
        ErrorCode::BadMessage,
        ErrorCode::LineTooLong,
        ErrorCode::NotNow,
        ErrorCode::Unsupported,
        ErrorCode::ClipMissing,
        ErrorCode::ClipMismatch,
        ErrorCode::CardUnreachable,
        ErrorCode::Busy,
        ErrorCode::Aborted,
        ErrorCode::Internal,
    ];

    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::VersionMismatch => "version_mismatch",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::BadMessage => "bad_message",
            ErrorCode::LineTooLong => "line_too_long",
            ErrorCode::NotNow => "not_now",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::ClipMissing => "clip_missing",
            ErrorCode::ClipMismatch => "clip_mismatch",
            ErrorCode::CardUnreachable => "card_unreachable",
            ErrorCode::Busy => "busy",
            ErrorCode::Aborted => "aborted",
            ErrorCode::Internal => "internal",
            ErrorCode::Other(code) => code,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for ErrorCode {
    fn from(code: String) -> Self {
        ErrorCode::KNOWN
            .into_iter()
            .find(|c| c.as_str() == code)
            .unwrap_or(ErrorCode::Other(code))
    }
}

impl From<ErrorCode> for String {
    fn from(c: ErrorCode) -> String {
        match c {
            ErrorCode::Other(code) => code,
            known => known.as_str().to_owned(),
        }
    }
}

/// How a face path ended ([`crate::reader::FaceResult`] on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireFaceResult {
    Matched,
    NoMatch,
    AttackRejected,
    Locked,
    Unavailable,
}

impl WireMessage for FromDevice {
    const TYPES: &'static [&'static str] = &[
        "hello",
        "done",
        "clip_have",
        "error",
        "screen",
        "keypad_layout",
        "keys_pressed",
        "verify_answered",
        "card_path",
        "face_attempt",
        "face_result",
        "qualification",
        "outcome",
        "timing",
        "note",
        "operator_answer",
    ];

    fn type_name(&self) -> &'static str {
        match self {
            FromDevice::Hello(_) => "hello",
            FromDevice::Done { .. } => "done",
            FromDevice::ClipHave { .. } => "clip_have",
            FromDevice::Error(_) => "error",
            FromDevice::Screen { .. } => "screen",
            FromDevice::KeypadLayout { .. } => "keypad_layout",
            FromDevice::KeysPressed { .. } => "keys_pressed",
            FromDevice::VerifyAnswered { .. } => "verify_answered",
            FromDevice::CardPath { .. } => "card_path",
            FromDevice::FaceAttempt { .. } => "face_attempt",
            FromDevice::FaceResult { .. } => "face_result",
            FromDevice::Qualification { .. } => "qualification",
            FromDevice::Outcome { .. } => "outcome",
            FromDevice::Timing { .. } => "timing",
            FromDevice::Note { .. } => "note",
            FromDevice::OperatorAnswer { .. } => "operator_answer",
        }
    }

    fn validate(&self) -> Result<(), String> {
        if let Some(at) = self.at_ms() {
            check_millis("at_ms", at)?;
        }
        match self {
            FromDevice::KeypadLayout { digits, .. } if digits.iter().any(|&d| d > 9) => {
                Err("keypad digits are 0-9".into())
            }
            FromDevice::KeypadLayout {
                tries_left: Some(n),
                ..
            } if *n > 15 => Err("tries_left is 0-15 (the x of 63Cx)".into()),
            FromDevice::Outcome { share_percent, .. } if *share_percent > 100 => {
                Err("share_percent is at most 100".into())
            }
            FromDevice::Timing { ms, .. } => check_millis("ms", *ms),
            FromDevice::OperatorAnswer { prompt, answer, .. } => {
                check_prompt_id(prompt)?;
                if answer.trim().is_empty() {
                    Err("answer is empty".into())
                } else {
                    Ok(())
                }
            }
            FromDevice::FaceAttempt {
                best_score: Some(s),
                ..
            } if !s.is_finite() => Err("best_score must be a finite number".into()),
            _ => Ok(()),
        }
    }
}

impl FromDevice {
    /// `at_ms` of an event or a timing.
    pub fn at_ms(&self) -> Option<f64> {
        match self {
            FromDevice::Hello(_)
            | FromDevice::Done { .. }
            | FromDevice::ClipHave { .. }
            | FromDevice::Error(_) => None,
            FromDevice::Screen { at_ms, .. }
            | FromDevice::KeypadLayout { at_ms, .. }
            | FromDevice::KeysPressed { at_ms, .. }
            | FromDevice::VerifyAnswered { at_ms, .. }
            | FromDevice::CardPath { at_ms, .. }
            | FromDevice::FaceAttempt { at_ms, .. }
            | FromDevice::FaceResult { at_ms, .. }
            | FromDevice::Qualification { at_ms, .. }
            | FromDevice::Outcome { at_ms, .. }
            | FromDevice::Timing { at_ms, .. }
            | FromDevice::Note { at_ms, .. }
            | FromDevice::OperatorAnswer { at_ms, .. } => Some(*at_ms),
        }
    }

    /// The stimulus this message answers (`done`, `clip_have`, `error`).
    pub fn answers(&self) -> Option<u64> {
        match self {
            FromDevice::Done { id } | FromDevice::ClipHave { id, .. } => Some(*id),
            FromDevice::Error(e) => e.id,
            _ => None,
        }
    }
}

impl ToDevice {
    /// The id the device must answer; `None` for `hello`, `camera_frame` and
    /// `operator_withdraw`.
    pub fn id(&self) -> Option<u64> {
        match self {
            ToDevice::Hello(_)
            | ToDevice::CameraFrame { .. }
            | ToDevice::OperatorWithdraw { .. } => None,
            ToDevice::CaseStart { id, .. }
            | ToDevice::CardPresent { id, .. }
            | ToDevice::CardRemoved { id }
            | ToDevice::ClipOffer { id, .. }
            | ToDevice::ClipChunk { id, .. }
            | ToDevice::ClipEnd { id, .. }
            | ToDevice::CameraStart { id, .. }
            | ToDevice::CameraStop { id }
            | ToDevice::ChooseMethod { id, .. }
            | ToDevice::PinKeys { id, .. }
            | ToDevice::Consent { id, .. }
            | ToDevice::Register { id, .. }
            | ToDevice::StaffCheck { id, .. }
            | ToDevice::ShowDocuments { id, .. }
            | ToDevice::OperatorPrompt { id, .. }
            | ToDevice::Reset { id } => Some(*id),
        }
    }

    /// The message as a line for a log or a report: key positions are replaced by their
    /// count and frames by their size (never the PIN, never a face).
    pub fn redacted(&self) -> String {
        match self {
            ToDevice::PinKeys { id, positions } => format!(
                r#"{{"type":"pin_keys","id":{id},"positions":"<{} redacted>"}}"#,
                positions.0.len()
            ),
            ToDevice::CameraFrame { t_ms, jpeg } => format!(
                r#"{{"type":"camera_frame","t_ms":{t_ms},"jpeg":"<{} bytes>"}}"#,
                jpeg.len()
            ),
            ToDevice::ClipChunk {
                id,
                name,
                offset,
                data,
                sha256,
            } => format!(
                r#"{{"type":"clip_chunk","id":{id},"name":{},"offset":{offset},"data":"<{} bytes>","sha256":"{sha256}"}}"#,
                serde_json::to_string(name).unwrap_or_default(),
                data.len()
            ),
            other => {
                let line = encode(other);
                String::from_utf8_lossy(line.strip_suffix(b"\n").unwrap_or(&line)).into_owned()
            }
        }
    }
}

/// Times on the wire: milliseconds, finite, not negative, below 2^53 (exact in every JSON
/// implementation).
fn check_millis(name: &str, ms: f64) -> Result<(), String> {
    if ms.is_finite() && (0.0..MAX_MILLIS).contains(&ms) {
        Ok(())
    } else {
        Err(format!(
            "{name} must be a number of milliseconds from 0 to 2^53"
        ))
    }
}

const MAX_MILLIS: f64 = 9_007_199_254_740_992.0;

fn check_clip_name(name: &str) -> Result<(), String> {
    if crate::clips::is_clip_name(name) {
        Ok(())
    } else {
        Err(format!(
            "a clip name is 1 to {} of A-Z a-z 0-9 . _ - and does not start with a dot",
            crate::clips::MAX_CLIP_NAME
        ))
    }
}

fn check_prompt_id(prompt: &str) -> Result<(), String> {
    if crate::scenario::is_prompt_id(prompt) {
        Ok(())
    } else {
        Err(format!(
            "a prompt id is 1 to {} of a-z, 0-9 and inner `-`",
            crate::scenario::MAX_PROMPT_ID
        ))
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

// ---------------------------------------------------------------------------------------
// Field formats
// ---------------------------------------------------------------------------------------

const DATE_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

fn format_date(d: &Date) -> String {
    d.format(DATE_FORMAT)
        .unwrap_or_else(|_| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
}

fn parse_date<E: serde::de::Error>(s: &str) -> Result<Date, E> {
    Date::parse(s, DATE_FORMAT).map_err(|_| E::custom(format!("bad date {s:?} (YYYY-MM-DD)")))
}

/// A list that may also be sent as `null` (an optional field).
fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// `YYYY-MM-DD`.
mod date {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    pub fn serialize<S: Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_date(d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_date(&s)
    }
}

/// `YYYY-MM-DD` or absent (or `null`).
mod opt_date {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    pub fn serialize<S: Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&super::format_date(d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(s) => super::parse_date(&s).map(Some),
            None => Ok(None),
        }
    }
}

/// A status word as 4 hex digits (`9000`, `63C2`); either case is read.
mod sw_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(sw: &u16, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{sw:04X}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() == 4 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            u16::from_str_radix(&s, 16).map_err(serde::de::Error::custom)
        } else {
            Err(serde::de::Error::custom(format!(
                "bad status word {s:?} (4 hex digits, e.g. \"63C2\")"
            )))
        }
    }
}

/// Bytes as standard, padded base64.
mod base64_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("bad base64: {e}")))
    }
}
