//! The typed card profile: everything that makes one emulated card differ from another.
//!
//! The harness reads profile files (YAML) and builds this value; the emulator never reads files.

use std::fmt;
use std::time::Duration;
use time::Date;

/// Which JPKI token the card presents in EF 0006 (docs/card.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A physical My Number Card: `JPKIAPICCTOKEN2`.
    Card,
    /// A smartphone secure element (スマホ用電子証明書): `JPKIAPGPSETOKEN`, no card-surface AP.
    Smartphone,
}

/// A standard card has PINs; a face-authentication card (since 2023-12) has none and no
/// signature certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardKind {
    Standard,
    FaceAuthentication,
}

/// Sex code as written on the card (1 male, 2 female, 9 not applicable).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
    NotApplicable,
}

impl Sex {
    pub fn code(self) -> u8 {
        match self {
            Sex::Male => b'1',
            Sex::Female => b'2',
            Sex::NotApplicable => b'9',
        }
    }
}

/// The synthetic card holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub name: String,
    pub birth_date: Date,
    pub sex: Sex,
    pub address: String,
    /// The 12-digit 個人番号 with a valid check digit (checked when the card is built).
    pub my_number: String,
}

/// A secret held by the card (PIN, password, 照合番号B). `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The value itself; callers must not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A PIN or password with the number of tries it has left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinSetting {
    pub value: Secret,
    pub tries_left: u8,
}

/// Validity and serial of one certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateSetting {
    pub serial: u64,
    pub not_before: Date,
    pub not_after: Date,
    /// Listed in the test CA's revocation list.
    pub revoked: bool,
}

/// Misbehaviour injected at the transport (docs/card-profiles.md: faults belong to the card profile).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Powers up (answers the ATR) but never answers an APDU.
    pub mute: bool,
    /// Extra delay before every response.
    pub delay_per_apdu: Option<Duration>,
    /// Tear: on the n-th APDU (1-based, counted from power-on) send only part of the
    /// response and drop off the bus.
    pub tear_on_apdu: Option<u32>,
}

/// Which of the fixture key pairs the holder's keys come from (0..=3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySlot(pub u8);

/// One emulated card, fully described.
#[derive(Clone, Debug, PartialEq)]
pub struct CardProfile {
    /// Short name, e.g. `valid`; used in reports and traces.
    pub name: String,
    pub token: TokenKind,
    pub kind: CardKind,
    pub holder: Holder,
    /// The face photo for DF27 as greyscale JPEG 2000 bytes; `None` leaves DF27 empty.
    pub photo_jp2: Option<Vec<u8>>,
    /// Card expiry year (part of 照合番号B) and the 4-digit security code.
    pub card_expiry_year: u16,
    pub security_code: Secret,
    pub auth_certificate: CertificateSetting,
    pub sign_certificate: CertificateSetting,
    /// `None` on a face-authentication card: no PIN is set.
    pub auth_pin: Option<PinSetting>,
    pub sign_password: Option<PinSetting>,
    pub text_pin: Option<PinSetting>,
    /// Tries left for 照合番号B (10 when fresh).
    pub surface_code_tries: u8,
    pub registered_for_insurance: bool,
    pub key_slot: KeySlot,
    pub faults: Faults,
}

impl CardProfile {
    /// A valid standard card with synthetic data and no photo: for tests, benchmarks and
    /// examples. Shipped profiles live in `scenarios/cards/` and are read by the harness.
    pub fn sample() -> Self {
        use time::macros::date;
        CardProfile {
            name: "sample".into(),
            token: TokenKind::Card,
            kind: CardKind::Standard,
            holder: Holder {
                name: "試験　花子".into(),
                birth_date: date!(1980 - 02 - 17),
                sex: Sex::Female,
                address: "東京都千代田区試験町１－２－３".into(),
                my_number: "123456789018".into(),
            },
            photo_jp2: None,
            card_expiry_year: 2035,
            security_code: Secret::new("2285"),
            auth_certificate: CertificateSetting {
                serial: 0x1001,
                not_before: date!(2025 - 02 - 17),
                not_after: date!(2030 - 02 - 17),
                revoked: false,
            },
            sign_certificate: CertificateSetting {
                serial: 0x2001,
                not_before: date!(2025 - 02 - 17),
                not_after: date!(2030 - 02 - 17),
                revoked: false,
            },
            auth_pin: Some(PinSetting {
                value: Secret::new("1234"),
                tries_left: 3,
            }),
            sign_password: Some(PinSetting {
                value: Secret::new("ABC123"),
                tries_left: 5,
            }),
            text_pin: Some(PinSetting {
                value: Secret::new("1234"),
                tries_left: 3,
            }),
            surface_code_tries: 10,
            registered_for_insurance: true,
            key_slot: KeySlot(0),
            faults: Faults::default(),
        }
    }
}
