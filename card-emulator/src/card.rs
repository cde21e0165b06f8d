//! The live card: an APDU state machine over a shared [`CardImage`].
//!
//! Architecture invariant: `Card::transmit` never panics, whatever bytes it is given; every
//! input ends in a response with a status word (see the proptest model tests).

use crate::apdu::Command;
use crate::image::CardImage;
use crate::pin::{Pin, PinFormat};
use crate::profile::{CardKind, TokenKind};
use crate::status::StatusWord;
use std::sync::Arc;

/// Contact ATR of the My Number Card, as matched by OpenSC's JPKI driver.
pub const ATR: [u8; 9] = [0x3B, 0xE0, 0x00, 0xFF, 0x81, 0x31, 0xFE, 0x45, 0x14];

pub const AID_JPKI: [u8; 10] = [0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];
pub const AID_TEXT_SUPPORT: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08];
pub const AID_SURFACE: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x02];

/// The proprietary "attach check" the harness uses to recognise its own emulator
/// (docs/card.md, "Which card is real"): `80 E8 4D 48 20 <32-byte nonce> 20` answers
/// SHA-256(attach secret ‖ nonce). A real card answers 6D00.
pub const ATTACH_CHECK_HEADER: [u8; 4] = [0x80, 0xE8, 0x4D, 0x48];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Application {
    Jpki,
    TextSupport,
    Surface,
}

/// Every secret reference on the card; the index into `Card::pins`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinRef {
    /// JPKI 0018: authentication PIN, 4 digits, 3 tries.
    AuthPin = 0,
    /// JPKI 001B: signature password, 6-16 A-Z0-9, 5 tries.
    SignPassword = 1,
    /// 券面事項入力補助AP 0011: 4 digits, 3 tries.
    TextPin = 2,
    /// 券面事項入力補助AP 0014: 照合番号A.
    TextCodeA = 3,
    /// 券面事項入力補助AP 0015: 照合番号B.
    TextCodeB = 4,
    /// 券面事項確認AP 0012: 照合番号B, 10 tries.
    SurfaceCodeB = 5,
    /// 券面事項確認AP 0013: 照合番号A.
    SurfaceCodeA = 6,
}

/// The data files a READ BINARY can return (named in the [`Exchange`] journal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Data {
    TokenInfo,
    AuthCertificate,
    SignCertificate,
    CaCertificate,
    MyNumber,
    BasicFour,
    Surface,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Free,
    Pin(PinRef),
    Either(PinRef, PinRef),
}

/// The card's private keys (named in the [`Exchange`] journal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRef {
    Auth,
    Sign,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ef {
    Binary(Data, Access),
    Pin(PinRef),
    Key(KeyRef),
}

/// One command the card answered, without its data: what a device under test did to the
/// card, as the card saw it (the harness judges a device's claims against it). Never holds
/// a PIN, a password or anything read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exchange {
    pub operation: Operation,
    /// The status word the card answered.
    pub sw: u16,
}

/// What a command asked for, in the card's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Power-up or reset.
    Reset,
    SelectApplication(Option<Application>),
    SelectFile(u16),
    /// READ BINARY of the selected file (`None`: not a data file), and how much came back.
    ReadBinary(Option<Data>, usize),
    /// VERIFY of the selected secret (`None`: no secret selected); `with_data`: a value was
    /// presented (without data the card only tells the tries left).
    Verify {
        pin: Option<PinRef>,
        with_data: bool,
    },
    ChangeReferenceData(Option<PinRef>),
    GetChallenge,
    /// COMPUTE DIGITAL SIGNATURE with the selected key.
    Sign(Option<KeyRef>),
    AttachCheck,
    Other {
        cla: u8,
        ins: u8,
    },
}

/// The most exchanges a card keeps (a case needs a few dozen); later ones are counted.
pub const JOURNAL_LIMIT: usize = 4096;

/// How the transport must deliver the response to the APDU just processed (faults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    Normal,
    /// Wait this long first (slow card).
    Delayed(std::time::Duration),
    /// Never answer (mute card).
    Silent,
    /// Drop off the bus before the response is complete (torn card): the card is gone
    /// until it is placed again.
    Torn,
}

pub struct Card {
    image: Arc<CardImage>,
    app: Option<Application>,
    ef: Option<Ef>,
    pins: [Pin; 7],
    attach_secret: Option<[u8; 32]>,
    apdus_since_power: u32,
    journal: Vec<Exchange>,
    /// Exchanges past [`JOURNAL_LIMIT`], not kept.
    journal_dropped: usize,
}

impl std::fmt::Debug for Card {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Card")
            .field("profile", &self.image.profile_name)
            .field("app", &self.app)
            .field("ef", &self.ef)
            .field("pins", &self.pins)
            .finish_non_exhaustive()
    }
}

impl Card {
    /// A fresh card: PIN counters as the profile says, powered off.
    pub fn new(image: Arc<CardImage>) -> Self {
        let pins = [
            Pin::new(image.auth_pin.as_ref(), 3, PinFormat::Digits(4)),
            Pin::new(image.sign_password.as_ref(), 5, PinFormat::Password),
            Pin::new(image.text_pin.as_ref(), 3, PinFormat::Digits(4)),
            Pin::new(Some(&image.surface_code_a), 10, PinFormat::Digits(12)),
            Pin::new(Some(&image.surface_code_b), 10, PinFormat::Digits(14)),
            Pin::new(Some(&image.surface_code_b), 10, PinFormat::Digits(14)),
            Pin::new(Some(&image.surface_code_a), 10, PinFormat::Digits(12)),
        ];
        Card {
            image,
            app: None,
            ef: None,
            pins,
            attach_secret: None,
            apdus_since_power: 0,
            journal: Vec::new(),
            journal_dropped: 0,
        }
    }

    /// Lets the harness recognise this card as its own emulator (see [`ATTACH_CHECK_HEADER`]).
    pub fn with_attach_secret(mut self, secret: [u8; 32]) -> Self {
        self.attach_secret = Some(secret);
        self
    }

    pub fn image(&self) -> &Arc<CardImage> {
        &self.image
    }

    /// Cold or warm reset: forgets the selection and every verified state; counters stay.
    pub fn reset(&mut self) -> &'static [u8] {
        self.record(Operation::Reset, StatusWord::Ok);
        self.app = None;
        self.ef = None;
        self.apdus_since_power = 0;
        for pin in &mut self.pins {
            pin.clear_verified();
        }
        &ATR
    }

    /// Every command this card answered since it was made, in order (data-free).
    pub fn journal(&self) -> &[Exchange] {
        &self.journal
    }

    /// How many exchanges did not fit in the journal.
    pub fn journal_dropped(&self) -> usize {
        self.journal_dropped
    }

    fn record(&mut self, operation: Operation, sw: StatusWord) {
        if self.journal.len() < JOURNAL_LIMIT {
            self.journal.push(Exchange {
                operation,
                sw: sw.to_u16(),
            });
        } else {
            self.journal_dropped += 1;
        }
    }

    /// What `cmd` asks of the card in its present state (before it runs).
    fn operation(&self, cmd: &Command<'_>) -> Operation {
        let pin = match self.ef {
            Some(Ef::Pin(p)) => Some(p),
            _ => None,
        };
        match (cmd.cla, cmd.ins) {
            (0x00, 0xA4) if cmd.p1 == 0x04 => Operation::SelectApplication(match cmd.data {
                d if d == AID_JPKI => Some(Application::Jpki),
                d if d == AID_TEXT_SUPPORT => Some(Application::TextSupport),
                d if d == AID_SURFACE => Some(Application::Surface),
                _ => None,
            }),
            (0x00, 0xA4) => Operation::SelectFile(match cmd.data {
                [hi, lo] => u16::from_be_bytes([*hi, *lo]),
                _ => 0,
            }),
            (0x00, 0xB0) => Operation::ReadBinary(
                match self.ef {
                    Some(Ef::Binary(data, _)) => Some(data),
                    _ => None,
                },
                0,
            ),
            (0x00, 0x20) => Operation::Verify {
                pin,
                with_data: !cmd.data.is_empty(),
            },
            (0x00, 0x24) => Operation::ChangeReferenceData(pin),
            (0x00, 0x84) => Operation::GetChallenge,
            (0x80, 0x2A) => Operation::Sign(match self.ef {
                Some(Ef::Key(k)) => Some(k),
                _ => None,
            }),
            (0x80, 0xE8) => Operation::AttachCheck,
            (cla, ins) => Operation::Other { cla, ins },
        }
    }

    /// Tries left of `pin` (for tests and the harness's own bookkeeping).
    pub fn tries_left(&self, pin: PinRef) -> u8 {
        self.pins[pin as usize].tries_left()
    }

    pub fn is_verified(&self, pin: PinRef) -> bool {
        self.pins[pin as usize].is_verified()
    }

    /// Counts the APDU against the profile's faults and says how to deliver its response.
    pub fn delivery(&mut self) -> Delivery {
        self.apdus_since_power = self.apdus_since_power.saturating_add(1);
        let faults = &self.image.faults;
        if faults.mute {
            Delivery::Silent
        } else if faults.tear_on_apdu == Some(self.apdus_since_power) {
            Delivery::Torn
        } else if let Some(delay) = faults.delay_per_apdu {
            Delivery::Delayed(delay)
        } else {
            Delivery::Normal
        }
    }

    /// Processes one command APDU and writes the response (data + SW1 SW2) into `out`.
    pub fn transmit(&mut self, apdu: &[u8], out: &mut Vec<u8>) {
        out.clear();
        let (sw, operation) = match Command::parse(apdu) {
            Ok(cmd) => {
                let operation = self.operation(&cmd);
                (self.dispatch(&cmd, out), operation)
            }
            Err(_) => (
                StatusWord::WrongLength,
                Operation::Other {
                    cla: apdu.first().copied().unwrap_or(0),
                    ins: apdu.get(1).copied().unwrap_or(0),
                },
            ),
        };
        if sw != StatusWord::Ok {
            out.clear();
        }
        let operation = match operation {
            Operation::ReadBinary(data, _) => Operation::ReadBinary(data, out.len()),
            other => other,
        };
        self.record(operation, sw);
        out.extend_from_slice(&sw.to_bytes());
    }

    fn dispatch(&mut self, cmd: &Command<'_>, out: &mut Vec<u8>) -> StatusWord {
        match (cmd.cla, cmd.ins) {
            (0x00, 0xA4) => self.select(cmd),
            (0x00, 0xB0) => self.read_binary(cmd, out),
            (0x00, 0x20) => self.verify(cmd),
            (0x00, 0x24) => self.change_reference_data(cmd),
            (0x00, 0x84) => get_challenge(cmd, out),
            (0x80, 0x2A) => self.sign(cmd, out),
            (0x80, 0xE8) => self.attach_check(cmd, out),
            (0x00 | 0x80, _) => StatusWord::InsNotSupported,
            _ => StatusWord::ClaNotSupported,
        }
    }

    fn has_application(&self, app: Application) -> bool {
        match app {
            Application::Jpki => true,
            // A smartphone token carries JPKI only.
            Application::TextSupport | Application::Surface => self.image.token == TokenKind::Card,
        }
    }

    fn select(&mut self, cmd: &Command<'_>) -> StatusWord {
        if cmd.p2 != 0x0C && cmd.p2 != 0x00 {
            return StatusWord::WrongP1P2;
        }
        match cmd.p1 {
            0x04 => {
                let app = match cmd.data {
                    d if d == AID_JPKI => Application::Jpki,
                    d if d == AID_TEXT_SUPPORT => Application::TextSupport,
                    d if d == AID_SURFACE => Application::Surface,
                    _ => return StatusWord::FileNotFound,
                };
                if !self.has_application(app) {
                    return StatusWord::FileNotFound;
                }
                self.app = Some(app);
                self.ef = None;
                // Selecting an application clears its verified state (OpenSC relies on it).
                for pin in &mut self.pins {
                    pin.clear_verified();
                }
                StatusWord::Ok
            }
            0x02 => {
                let fid = match cmd.data {
                    [hi, lo] => u16::from_be_bytes([*hi, *lo]),
                    _ => return StatusWord::WrongLength,
                };
                match self.app.and_then(|app| self.lookup(app, fid)) {
                    Some(ef) => {
                        self.ef = Some(ef);
                        StatusWord::Ok
                    }
                    None => StatusWord::FileNotFound,
                }
            }
            // Selection by file identifier: the master file 3F00 is not supported.
            0x00 if cmd.data.is_empty() => StatusWord::WrongP1P2,
            0x00 => StatusWord::FileNotFound,
            _ => StatusWord::WrongP1P2,
        }
    }

    /// The EF `fid` of `app` on this card, with its access rule.
    fn lookup(&self, app: Application, fid: u16) -> Option<Ef> {
        let phone = self.image.token == TokenKind::Smartphone;
        let face_card = self.image.kind == CardKind::FaceAuthentication;
        Some(match (app, fid) {
            (Application::Jpki, 0x0006) => Ef::Binary(Data::TokenInfo, Access::Free),
            // On a phone the authentication certificate needs the PIN first (docs/card.md).
            (Application::Jpki, 0x000A) if phone => {
                Ef::Binary(Data::AuthCertificate, Access::Pin(PinRef::AuthPin))
            }
            (Application::Jpki, 0x000A) => Ef::Binary(Data::AuthCertificate, Access::Free),
            (Application::Jpki, 0x000B | 0x0002) => Ef::Binary(Data::CaCertificate, Access::Free),
            // A face-authentication card has no signature certificate.
            (Application::Jpki, 0x0001) if face_card => return None,
            (Application::Jpki, 0x0001) => {
                Ef::Binary(Data::SignCertificate, Access::Pin(PinRef::SignPassword))
            }
            (Application::Jpki, 0x0017) => Ef::Key(KeyRef::Auth),
            (Application::Jpki, 0x0018) => Ef::Pin(PinRef::AuthPin),
            (Application::Jpki, 0x001A) => Ef::Key(KeyRef::Sign),
            (Application::Jpki, 0x001B) => Ef::Pin(PinRef::SignPassword),
            (Application::TextSupport, 0x0001) => Ef::Binary(
                Data::MyNumber,
                Access::Either(PinRef::TextPin, PinRef::TextCodeA),
            ),
            (Application::TextSupport, 0x0002) => Ef::Binary(
                Data::BasicFour,
                Access::Either(PinRef::TextPin, PinRef::TextCodeB),
            ),
            (Application::TextSupport, 0x0011) => Ef::Pin(PinRef::TextPin),
            (Application::TextSupport, 0x0014) => Ef::Pin(PinRef::TextCodeA),
            (Application::TextSupport, 0x0015) => Ef::Pin(PinRef::TextCodeB),
            (Application::Surface, 0x0002) => Ef::Binary(
                Data::Surface,
                Access::Either(PinRef::SurfaceCodeB, PinRef::SurfaceCodeA),
            ),
            (Application::Surface, 0x0012) => Ef::Pin(PinRef::SurfaceCodeB),
            (Application::Surface, 0x0013) => Ef::Pin(PinRef::SurfaceCodeA),
            _ => return None,
        })
    }

    fn allowed(&self, access: Access) -> bool {
        match access {
            Access::Free => true,
            Access::Pin(p) => self.pins[p as usize].is_verified(),
            Access::Either(a, b) => {
                self.pins[a as usize].is_verified() || self.pins[b as usize].is_verified()
            }
        }
    }

    fn data(&self, data: Data) -> &[u8] {
        let image = &*self.image;
        match data {
            Data::TokenInfo => &image.token_info,
            Data::AuthCertificate => &image.auth_certificate,
            Data::SignCertificate => &image.sign_certificate,
            Data::CaCertificate => &image.ca_certificate,
            Data::MyNumber => &image.my_number_ef,
            Data::BasicFour => &image.basic_four_ef,
            Data::Surface => &image.surface_ef,
        }
    }

    fn read_binary(&self, cmd: &Command<'_>, out: &mut Vec<u8>) -> StatusWord {
        // Bit 8 of P1 would select by short EF identifier, which this card does not offer.
        if cmd.p1 & 0x80 != 0 {
            return StatusWord::WrongP1P2;
        }
        let Some(le) = cmd.le else {
            return StatusWord::WrongLength;
        };
        if !cmd.data.is_empty() {
            return StatusWord::WrongLength;
        }
        let (data, access) = match self.ef {
            None => return StatusWord::NoCurrentEf,
            Some(Ef::Binary(data, access)) => (data, access),
            Some(_) => return StatusWord::IncompatibleFile,
        };
        if !self.allowed(access) {
            return StatusWord::SecurityNotSatisfied;
        }
        let bytes = self.data(data);
        let offset = usize::from(u16::from_be_bytes([cmd.p1, cmd.p2]));
        if offset >= bytes.len() {
            return StatusWord::WrongOffset;
        }
        let end = bytes.len().min(offset + le);
        out.extend_from_slice(&bytes[offset..end]);
        StatusWord::Ok
    }

    fn current_pin(&mut self) -> Result<&mut Pin, StatusWord> {
        match self.ef {
            Some(Ef::Pin(p)) => Ok(&mut self.pins[p as usize]),
            Some(_) => Err(StatusWord::IncompatibleFile),
            None => Err(StatusWord::NoCurrentEf),
        }
    }

    fn verify(&mut self, cmd: &Command<'_>) -> StatusWord {
        if (cmd.p1, cmd.p2) != (0x00, 0x80) {
            return StatusWord::WrongP1P2;
        }
        if cmd.le.is_some() {
            return StatusWord::WrongLength;
        }
        match self.current_pin() {
            Ok(pin) => pin.verify(cmd.data),
            Err(sw) => sw,
        }
    }

    fn change_reference_data(&mut self, cmd: &Command<'_>) -> StatusWord {
        if (cmd.p1, cmd.p2) != (0x01, 0x80) {
            return StatusWord::WrongP1P2;
        }
        if cmd.data.is_empty() || cmd.le.is_some() {
            return StatusWord::WrongLength;
        }
        match self.current_pin() {
            Ok(pin) => pin.change(cmd.data),
            Err(sw) => sw,
        }
    }

    /// COMPUTE DIGITAL SIGNATURE `80 2A 00 80`: PKCS#1 v1.5 over the DigestInfo as given,
    /// with the key EF selected and its PIN verified.
    fn sign(&self, cmd: &Command<'_>, out: &mut Vec<u8>) -> StatusWord {
        if (cmd.p1, cmd.p2) != (0x00, 0x80) {
            return StatusWord::WrongP1P2;
        }
        let (key, pin) = match self.ef {
            Some(Ef::Key(KeyRef::Auth)) => (&self.image.auth_key, PinRef::AuthPin),
            Some(Ef::Key(KeyRef::Sign)) => (&self.image.sign_key, PinRef::SignPassword),
            Some(_) => return StatusWord::IncompatibleFile,
            None => return StatusWord::NoCurrentEf,
        };
        // PKCS#1 v1.5 type 1 padding needs at least 11 bytes of the 256.
        if cmd.data.is_empty() || cmd.data.len() > 245 {
            return StatusWord::WrongLength;
        }
        if !self.pins[pin as usize].is_verified() {
            return StatusWord::SecurityNotSatisfied;
        }
        match crate::pki::sign_pkcs1(key, cmd.data) {
            Ok(signature) => {
                out.extend_from_slice(&signature);
                StatusWord::Ok
            }
            Err(_) => StatusWord::Unknown,
        }
    }

    fn attach_check(&self, cmd: &Command<'_>, out: &mut Vec<u8>) -> StatusWord {
        let Some(secret) = self.attach_secret else {
            return StatusWord::InsNotSupported;
        };
        if (cmd.p1, cmd.p2) != (ATTACH_CHECK_HEADER[2], ATTACH_CHECK_HEADER[3]) {
            return StatusWord::WrongP1P2;
        }
        if cmd.data.len() != 32 {
            return StatusWord::WrongLength;
        }
        out.extend_from_slice(&attach_answer(&secret, cmd.data));
        StatusWord::Ok
    }
}

/// The answer an emulator holding `secret` gives to the attach check with `nonce`.
pub fn attach_answer(secret: &[u8; 32], nonce: &[u8]) -> [u8; 32] {
    let mut hasher = openssl::sha::Sha256::new();
    hasher.update(secret);
    hasher.update(nonce);
    hasher.finish()
}

fn get_challenge(cmd: &Command<'_>, out: &mut Vec<u8>) -> StatusWord {
    if (cmd.p1, cmd.p2) != (0, 0) {
        return StatusWord::WrongP1P2;
    }
    let le = match cmd.le {
        Some(n @ 1..=256) if cmd.data.is_empty() => n,
        _ => return StatusWord::WrongLength,
    };
    let start = out.len();
    out.resize(start + le, 0);
    match openssl::rand::rand_bytes(&mut out[start..]) {
        Ok(()) => StatusWord::Ok,
        Err(_) => StatusWord::Unknown,
    }
}
