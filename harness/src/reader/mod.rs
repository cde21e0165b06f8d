//! Readers the engine drives, behind [`ReaderDriver`]: the `virtual` reference reader here,
//! and devices under test (`crate::dut`). The engine speaks to a reader in stimuli (what the
//! patient and the desk do) and reads back its events.

mod camera;
pub mod desk;
mod events;
mod keypad;
mod virtual_reader;

pub use camera::{FaceCamera, FacePolicy, TryOutcome};
pub use events::{Event, EventKind, FaceResult, ObservedOutcome};
pub use keypad::Layout;
pub use virtual_reader::{ReaderSetup, VirtualReader};

use crate::channel::CardChannel;
use crate::rules::{ConsentStep, Document};
use crate::scenario::{Method, OperatorPrompt};
use std::time::Duration;

/// One thing done to the reader.
pub enum Stimulus {
    PlaceCard(PlacedCard),
    RemoveCard,
    Choose(Method),
    /// Key positions on the shuffled pad (never the digits).
    PressKeys(Vec<usize>),
    Consent(ConsentStep),
    Register(bool),
    /// The staff's visual check of the holder against the card (目視確認): confirmed or not.
    StaffCheck(bool),
    /// Documents shown at the desk.
    Show(Vec<Document>),
}

/// A card on the reader: its chip, and what the reader's camera reads off its printed
/// surface for the face path (照合番号B: birth date, expiry year and security code).
pub struct PlacedCard {
    pub chip: Box<dyn CardChannel>,
    /// 照合番号B as printed, read by the reader's OCR; `None` when unreadable. A secret:
    /// never logged (the guard redacts its VERIFY too).
    pub surface_code_b: Option<card_emulator::profile::Secret>,
}

/// What a reader left behind when its case ended.
#[derive(Clone, Debug, Default)]
pub struct ReaderReport {
    pub events: Vec<Event>,
    pub outcome: Option<ObservedOutcome>,
    pub last_verify_sw: Option<u16>,
    /// The reader's own sub-step durations (`face.match`, …).
    pub timings: Vec<(String, std::time::Duration)>,
    /// The card's APDU trace as the harness saw it, secrets redacted (empty when the device
    /// talks to the card itself).
    pub trace: String,
    /// Where a device broke the protocol's contract (a PIN pad that is not a fresh shuffle,
    /// a clock that went back, a disclosed secret, PIN tries that contradict what the
    /// harness saw): each one fails the case.
    pub breaches: Vec<String>,
    /// What the emulated card recorded (when the reader was handed the channel in process).
    pub journal: Option<Vec<card_emulator::card::Exchange>>,
}

/// A card reader the engine drives: the reference reader in process, or a device under test.
pub trait ReaderDriver: Send {
    /// Applies one stimulus and returns when the reader has dealt with it.
    fn apply(&mut self, stimulus: Stimulus) -> Result<(), DriverError>;
    /// The case's card is placed where the device reaches it itself (a device under test
    /// reads the emulated card through its own PC/SC reader).
    fn place_remote_card(&mut self) -> Result<(), DriverError> {
        Err(DriverError::Unsupported(
            "this reader is handed its card channel".into(),
        ))
    }
    /// The PIN pad layout on screen now.
    fn layout(&self) -> Option<Layout>;
    /// The PIN tries left on the card as far as the harness can tell (`None`: unknown), or
    /// why it cannot tell (the device contradicted what the harness saw).
    fn tries_left_known(&self) -> Result<Option<u8>, String>;
    /// The harness is about to type a PIN; `right`: the card's own.
    fn typing(&mut self, _right: bool) {}
    /// Whether a PIN typed now should find a pad (not once the card path ended or the
    /// patient was authenticated).
    fn pin_pad_expected(&self) -> bool;
    /// Shows `prompt` on the reader's own test UI (open for `deadline`) until a person
    /// answers there, which goes to `relay`, or `relay` closes it (answered elsewhere, or
    /// its deadline passed); returns once the reader has let go of it.
    fn relay_operator(
        &mut self,
        _prompt: &OperatorPrompt,
        _deadline: Duration,
        _relay: &dyn OperatorRelay,
    ) -> Result<(), DriverError> {
        Err(DriverError::Unsupported(
            "this reader has no test UI for operator prompts".into(),
        ))
    }
    /// The case is over: what the reader showed and decided.
    fn finish(self: Box<Self>) -> ReaderReport;
}

/// Where a person's answer on a reader's test UI goes: the run's desk, for one prompt.
pub trait OperatorRelay: Send {
    /// Whether the prompt is still open (not answered elsewhere, its deadline not passed).
    fn is_open(&self) -> bool;
    /// Offers `text` as the answer; `Err` says why it was not taken.
    fn answer(&self, text: &str) -> Result<(), String>;
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// The stimulus makes no sense in the reader's state (a scenario mistake).
    #[error("not possible now: {0}")]
    NotNow(String),
    /// The reader cannot do this (yet).
    #[error("not supported: {0}")]
    Unsupported(String),
    /// The device under test failed: silent past the deadline, a bad line, the link gone.
    #[error("device: {0}")]
    Device(String),
    /// The harness will not do this to a real card (docs/card.md, "Which card is real").
    #[error("refused to protect a real card: {0}")]
    Refused(String),
}
