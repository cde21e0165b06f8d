//! The My Number Card, emulated: an APDU state machine ([`card::Card`]) over a static
//! [`image::CardImage`] built from a typed [`profile::CardProfile`] by the test PKI, and the
//! vpcd transport ([`vpcd`]) that shows it to a real pcscd.
//!
//! This crate reads no files and knows nothing of YAML or the harness.

pub mod apdu;
pub mod card;
pub mod commands;
pub mod image;
pub mod my_number;
pub mod pin;
pub mod pki;
pub mod profile;
pub mod records;
pub mod status;
pub mod tlv;
pub mod vpcd;

pub use card::{Card, Delivery, PinRef, ATR};
pub use image::{BuildError, CardImage};
pub use profile::CardProfile;
pub use status::StatusWord;
