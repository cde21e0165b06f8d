//! Readers the engine drives. Today: the `virtual` reference reader. The engine speaks to a
//! reader in stimuli (what the patient and the desk do) and reads back its events.

mod events;
mod keypad;
mod virtual_reader;

pub use events::{Event, EventKind, ObservedOutcome};
pub use keypad::Layout;
pub use virtual_reader::{ReaderSetup, VirtualReader};

use crate::card_channel::CardChannel;
use crate::rules::{ConsentStep, Document};

/// How the patient proves the card is theirs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Face,
    Pin,
}

/// One thing done to the reader.
pub enum Stimulus {
    PlaceCard(Box<dyn CardChannel>),
    RemoveCard,
    Choose(Method),
    /// Key positions on the shuffled pad (never the digits).
    PressKeys(Vec<usize>),
    Consent(ConsentStep),
    Register(bool),
    /// Documents shown at the desk.
    Show(Vec<Document>),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// The stimulus makes no sense in the reader's state (a scenario mistake).
    #[error("not possible now: {0}")]
    NotNow(String),
    /// The reader cannot do this (yet).
    #[error("not supported: {0}")]
    Unsupported(String),
}
