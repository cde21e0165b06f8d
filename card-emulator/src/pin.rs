//! A PIN, password or 照合番号B held by the card, with its retry counter.
//!
//! The rules (docs/card.md): a wrong value answers 63Cx with x tries left; the attempt that
//! reaches zero answers 63C0; every later VERIFY with data answers 6984; an empty VERIFY
//! reports tries left without spending one (63C0 once blocked). A success resets the counter.
//! A PIN that was never set (face-authentication card) answers as a blocked one (soft).

use crate::profile::{PinSetting, Secret};
use crate::status::StatusWord;

/// What values a reference accepts when it is changed (CHANGE REFERENCE DATA).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinFormat {
    /// Exactly `n` ASCII digits.
    Digits(usize),
    /// 6 to 16 characters of A-Z and 0-9 (the signature password).
    Password,
}

impl PinFormat {
    pub fn accepts(self, value: &[u8]) -> bool {
        match self {
            PinFormat::Digits(n) => value.len() == n && value.iter().all(u8::is_ascii_digit),
            PinFormat::Password => {
                (6..=16).contains(&value.len())
                    && value
                        .iter()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            }
        }
    }
}

pub struct Pin {
    /// `None`: no value set (a face-authentication card); behaves as blocked.
    value: Option<Secret>,
    tries_left: u8,
    max_tries: u8,
    format: PinFormat,
    verified: bool,
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pin")
            .field("set", &self.value.is_some())
            .field("tries_left", &self.tries_left)
            .field("max_tries", &self.max_tries)
            .field("verified", &self.verified)
            .finish()
    }
}

impl Pin {
    pub fn new(setting: Option<&PinSetting>, max_tries: u8, format: PinFormat) -> Self {
        match setting {
            Some(s) => Pin {
                value: Some(s.value.clone()),
                tries_left: s.tries_left.min(max_tries),
                max_tries,
                format,
                verified: false,
            },
            None => Pin {
                value: None,
                tries_left: 0,
                max_tries,
                format,
                verified: false,
            },
        }
    }

    pub fn tries_left(&self) -> u8 {
        self.tries_left
    }

    pub fn is_verified(&self) -> bool {
        self.verified
    }

    pub fn clear_verified(&mut self) {
        self.verified = false;
    }

    /// VERIFY. `candidate` empty asks for the retry counter.
    pub fn verify(&mut self, candidate: &[u8]) -> StatusWord {
        let blocked = self.tries_left == 0 || self.value.is_none();
        if candidate.is_empty() {
            // Real cards answer 63Cx here even after a successful VERIFY, and OpenSC
            // rejects the card unless SW1 is 63 (docs/platform.md).
            return StatusWord::TriesLeft(if blocked { 0 } else { self.tries_left });
        }
        if blocked {
            return StatusWord::ReferenceDataBlocked;
        }
        let matches = self
            .value
            .as_ref()
            .is_some_and(|v| constant_time_eq(v.expose().as_bytes(), candidate));
        if matches {
            self.tries_left = self.max_tries;
            self.verified = true;
            StatusWord::Ok
        } else {
            self.tries_left -= 1;
            self.verified = false;
            StatusWord::TriesLeft(self.tries_left)
        }
    }

    /// CHANGE REFERENCE DATA with P1 = 01: the new value only, after a successful VERIFY.
    pub fn change(&mut self, new_value: &[u8]) -> StatusWord {
        if !self.verified {
            return StatusWord::SecurityNotSatisfied;
        }
        if !self.format.accepts(new_value) {
            return StatusWord::WrongData;
        }
        match std::str::from_utf8(new_value) {
            Ok(v) => {
                self.value = Some(Secret::new(v));
                StatusWord::Ok
            }
            Err(_) => StatusWord::WrongData,
        }
    }
}

/// Compares without an early exit, as a card would.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
