//! Card profile files (`scenarios/cards/*.yaml`) → typed [`CardProfile`].
//!
//! Every mistake in a file is reported at once with file:line:column; unknown keys are
//! rejected. The photo is named, not embedded: it comes from the photo cache and is turned
//! into the chip's greyscale JPEG 2000 by the photo resolver given to [`parse_profile`].

use crate::yaml::{Diagnostics, Document, Map, Node};
use card_emulator::profile::{
    CardKind, CardProfile, CertificateSetting, Faults, Holder, KeySlot, PinSetting, Secret, Sex,
    TokenKind,
};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(Diagnostics),
}

/// Turns a photo name from the file into chip-photo bytes (JPEG 2000), or says why not.
pub type PhotoResolver<'a> = &'a dyn Fn(&str) -> Result<Vec<u8>, String>;

/// The real resolver: the named photo from the photo cache (checked by SHA-256), made into
/// the chip's greyscale JPEG 2000.
pub fn cached_photo(name: &str) -> Result<Vec<u8>, String> {
    let path = crate::photos::photo_path(name).map_err(|e| e.to_string())?;
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    crate::photos::encode_chip_photo(&bytes).map_err(|e| e.to_string())
}

/// A resolver for checks that do not need pixels: every known name gives empty bytes.
pub fn no_photos(_: &str) -> Result<Vec<u8>, String> {
    Ok(Vec::new())
}

/// A profile file: the card, and the faces around it that are not on the chip.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileFile {
    pub profile: CardProfile,
    pub faces: CardFaces,
}

/// The face path's ground truth for a card: which photos (and so which persons) are on
/// its chip and in front of the camera.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CardFaces {
    /// The cached photo the chip photo was made from (its person is the chip's face).
    pub chip_photo: Option<String>,
    /// The chip photo was damaged on purpose (`faults: { corrupt_photo: true }`).
    pub chip_photo_corrupt: bool,
    /// The cached photo of the patient who brings this card, as the reader's camera sees
    /// them: the default camera of a face case.
    pub patient_photo: Option<String>,
}

/// Reads and converts the profile file at `path`.
pub fn load_profile(path: &Path, photos: PhotoResolver<'_>) -> Result<CardProfile, ProfileError> {
    load_profile_file(path, photos).map(|f| f.profile)
}

/// [`load_profile`] with the faces around the card.
pub fn load_profile_file(
    path: &Path,
    photos: PhotoResolver<'_>,
) -> Result<ProfileFile, ProfileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse_profile_file(path, &text, photos).map_err(ProfileError::Invalid)
}

const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "token",
    "kind",
    "holder",
    "photo",
    "patient_photo",
    "card_expiry_year",
    "security_code",
    "certificates",
    "pins",
    "surface_code_tries",
    "registered_for_insurance",
    "key_slot",
    "faults",
];

/// Converts profile text; `path` is only used in diagnostics.
pub fn parse_profile(
    path: &Path,
    text: &str,
    photos: PhotoResolver<'_>,
) -> Result<CardProfile, Diagnostics> {
    parse_profile_file(path, text, photos).map(|f| f.profile)
}

/// [`parse_profile`] with the faces around the card.
pub fn parse_profile_file(
    path: &Path,
    text: &str,
    photos: PhotoResolver<'_>,
) -> Result<ProfileFile, Diagnostics> {
    let doc = Document::new(path, text);
    let profile = doc
        .parse(text)
        .and_then(|root| convert(doc.node(&root), photos));
    doc.finish(profile)
}

/// A photo name that must be in the photo cache's table (its person is the ground truth).
fn known_photo(node: Node<'_, '_>) -> Option<String> {
    let name = node.string()?;
    if crate::photos::person_of(&name).is_some() {
        return Some(name);
    }
    let known: Vec<&str> = crate::photos::PERSON_OF_PHOTO
        .iter()
        .map(|(n, _)| *n)
        .collect();
    node.report(
        &format!("`{name}` is not a photo of the photo cache"),
        Some(&format!("one of: {}", known.join(", "))),
    );
    None
}

fn convert(root: Node<'_, '_>, photos: PhotoResolver<'_>) -> Option<ProfileFile> {
    let map = root.map(TOP_KEYS)?;
    // Convert every field before combining, so each one reports its own mistakes.
    let name = map.required("name").and_then(|n| n.string());
    let token = optional(&map, "token", TokenKind::Card, |n| {
        n.choice(&[
            ("card", TokenKind::Card),
            ("smartphone", TokenKind::Smartphone),
        ])
    });
    let kind = optional(&map, "kind", CardKind::Standard, |n| {
        n.choice(&[
            ("standard", CardKind::Standard),
            ("face_authentication", CardKind::FaceAuthentication),
        ])
    });
    let holder = map.required("holder").and_then(holder);
    let chip_photo = optional(&map, "photo", None, |n| known_photo(n).map(Some));
    let patient_photo = optional(&map, "patient_photo", None, |n| known_photo(n).map(Some));
    let photo_jp2 = match (map.get("photo"), chip_photo.as_ref()) {
        (Some(n), Some(Some(name))) => match photos(name) {
            Ok(bytes) => Some(Some(bytes)),
            Err(why) => {
                n.report(&format!("photo `{name}` is not available"), Some(&why));
                None
            }
        },
        (None, _) => Some(None),
        (Some(_), _) => None,
    };
    let card_expiry_year = map
        .required("card_expiry_year")
        .and_then(|n| n.integer(2015..=2099))
        .map(|y| y as u16);
    let security_code = map
        .required("security_code")
        .and_then(|n| n.digits(4..=4, "the security code"))
        .map(Secret::new);
    let certificates = map.required("certificates").and_then(certificates);
    let pins = optional(&map, "pins", PinSettings::default(), pins);
    let surface_code_tries =
        optional(&map, "surface_code_tries", 10, |n| n.integer(0..=10)).map(|t| t as u8);
    let registered = optional(&map, "registered_for_insurance", true, |n| n.boolean());
    let key_slot = optional(&map, "key_slot", 0, |n| {
        n.integer(0..=i64::from(card_emulator::pki::KEY_SLOTS) - 1)
    })
    .map(|s| KeySlot(s as u8));
    let faults = optional(&map, "faults", (Faults::default(), false), faults);
    if let Some(d) = map.get("description") {
        d.string();
    }

    let kind = kind?;
    let pins = pins?;
    if kind == CardKind::FaceAuthentication && pins.any_set() {
        map.node().report(
            "a face-authentication card has no PINs",
            Some("remove `pins`, or use kind: standard"),
        );
        return None;
    }
    let (auth_certificate, sign_certificate) = certificates?;
    let (faults, corrupt_photo) = faults?;
    let mut photo_jp2 = photo_jp2?;
    if corrupt_photo {
        photo_jp2 = photo_jp2.map(|p| corrupted(&p));
    }
    let profile = CardProfile {
        name: name?,
        token: token?,
        kind,
        holder: holder?,
        photo_jp2,
        card_expiry_year: card_expiry_year?,
        security_code: security_code?,
        auth_certificate,
        sign_certificate,
        auth_pin: pins.authentication,
        sign_password: pins.signature,
        text_pin: pins.text_support,
        surface_code_tries: surface_code_tries?,
        registered_for_insurance: registered?,
        key_slot: key_slot?,
        faults,
    };
    Some(ProfileFile {
        profile,
        faces: CardFaces {
            chip_photo: chip_photo?,
            chip_photo_corrupt: corrupt_photo,
            patient_photo: patient_photo?,
        },
    })
}

/// The chip photo with its codestream damaged after the first 64 bytes: the header still
/// says JPEG 2000, the picture does not decode (a card with a broken DF27).
fn corrupted(jp2: &[u8]) -> Vec<u8> {
    let (header, rest) = jp2.split_at(jp2.len().min(64));
    let damaged = rest[..rest.len() / 2]
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ 0xA5 ^ i as u8);
    header.iter().copied().chain(damaged).collect()
}

/// The value at `key`, or `default` when the key is absent.
fn optional<'d, 'y, T>(
    map: &Map<'d, 'y>,
    key: &str,
    default: T,
    convert: impl FnOnce(Node<'d, 'y>) -> Option<T>,
) -> Option<T> {
    match map.get(key) {
        Some(n) => convert(n),
        None => Some(default),
    }
}

fn holder(node: Node<'_, '_>) -> Option<Holder> {
    let map = node.map(&["name", "birth_date", "sex", "address", "my_number"])?;
    let name = map.required("name").and_then(|n| n.string());
    let birth_date = map.required("birth_date").and_then(|n| n.date());
    let sex = map.required("sex").and_then(|n| {
        n.choice(&[
            ("male", Sex::Male),
            ("female", Sex::Female),
            ("not_applicable", Sex::NotApplicable),
        ])
    });
    let my_number = map.required("my_number").and_then(|n| {
        let number = n.digits(12..=12, "the 個人番号")?;
        if card_emulator::my_number::is_valid(&number) {
            Some(number)
        } else {
            let expected = card_emulator::my_number::check_digit(&number[..11]).unwrap_or(0);
            n.report(
                "the 個人番号 has a wrong check digit",
                Some(&format!(
                    "with these first 11 digits the 12th must be {expected}"
                )),
            );
            None
        }
    });
    Some(Holder {
        name: name?,
        birth_date: birth_date?,
        sex: sex?,
        address: map.required("address").and_then(|n| n.string())?,
        my_number: my_number?,
    })
}

fn certificates(node: Node<'_, '_>) -> Option<(CertificateSetting, CertificateSetting)> {
    let map = node.map(&["authentication", "signature"])?;
    let auth = map.required("authentication").and_then(certificate);
    let sign = map.required("signature").and_then(certificate);
    Some((auth?, sign?))
}

fn certificate(node: Node<'_, '_>) -> Option<CertificateSetting> {
    let map = node.map(&["serial", "not_before", "not_after", "revoked"])?;
    let serial = map
        .required("serial")
        .and_then(|n| n.integer(1..=i64::MAX))
        .map(|s| s as u64);
    let not_before = map.required("not_before").and_then(|n| n.date());
    let not_after = map.required("not_after").and_then(|n| n.date());
    let revoked = optional(&map, "revoked", false, |n| n.boolean());
    let (not_before, not_after) = (not_before?, not_after?);
    if not_after < not_before {
        map.node()
            .report("`not_after` is before `not_before`", None);
        return None;
    }
    Some(CertificateSetting {
        serial: serial?,
        not_before,
        not_after,
        revoked: revoked?,
    })
}

#[derive(Default)]
struct PinSettings {
    authentication: Option<PinSetting>,
    signature: Option<PinSetting>,
    text_support: Option<PinSetting>,
}

impl PinSettings {
    fn any_set(&self) -> bool {
        self.authentication.is_some() || self.signature.is_some() || self.text_support.is_some()
    }
}

fn pins(node: Node<'_, '_>) -> Option<PinSettings> {
    let map = node.map(&["authentication", "signature", "text_support"])?;
    let digits4 = |n: Node<'_, '_>| n.digits(4..=4, "a 4-digit PIN");
    let password = |n: Node<'_, '_>| {
        let text = n.string()?;
        if card_emulator::pin::PinFormat::Password.accepts(text.as_bytes()) {
            Some(text)
        } else {
            n.report(
                "the signature password must be 6 to 16 characters of A-Z and 0-9",
                None,
            );
            None
        }
    };
    let auth = optional(&map, "authentication", None, |n| {
        pin(n, 3, &digits4).map(Some)
    });
    let sign = optional(&map, "signature", None, |n| pin(n, 5, &password).map(Some));
    let text = optional(&map, "text_support", None, |n| {
        pin(n, 3, &digits4).map(Some)
    });
    Some(PinSettings {
        authentication: auth?,
        signature: sign?,
        text_support: text?,
    })
}

fn pin(
    node: Node<'_, '_>,
    max_tries: i64,
    value: &dyn Fn(Node<'_, '_>) -> Option<String>,
) -> Option<PinSetting> {
    let map = node.map(&["value", "tries_left"])?;
    let v = map.required("value").and_then(value);
    let tries = optional(&map, "tries_left", max_tries, |n| n.integer(0..=max_tries));
    Some(PinSetting {
        value: Secret::new(v?),
        tries_left: tries? as u8,
    })
}

/// The card's faults, and whether its chip photo is corrupt.
fn faults(node: Node<'_, '_>) -> Option<(Faults, bool)> {
    let map = node.map(&["mute", "delay_per_apdu", "tear_on_apdu", "corrupt_photo"])?;
    let corrupt_photo = optional(&map, "corrupt_photo", false, |n| n.boolean());
    let mute = optional(&map, "mute", false, |n| n.boolean());
    let delay = optional(&map, "delay_per_apdu", None, |n| n.duration().map(Some));
    let tear = optional(&map, "tear_on_apdu", None, |n| {
        n.integer(1..=i64::from(u32::MAX)).map(|i| Some(i as u32))
    });
    Some((
        Faults {
            mute: mute?,
            delay_per_apdu: delay?,
            tear_on_apdu: tear?,
        },
        corrupt_photo?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"
name: valid
holder:
  name: "試験　太郎"
  birth_date: 1980-02-17
  sex: male
  address: "東京都千代田区試験町１－２－３"
  my_number: "123456789018"
card_expiry_year: 2035
security_code: "2285"
certificates:
  authentication: { serial: 4097, not_before: 2025-02-17, not_after: 2030-02-17 }
  signature: { serial: 8193, not_before: 2025-02-17, not_after: 2030-02-17 }
pins:
  authentication: { value: "1234" }
  signature: { value: "ABC123", tries_left: 5 }
  text_support: { value: "1234" }
faults: { delay_per_apdu: 20ms }
"#;

    #[test]
    fn converts_a_valid_profile() {
        let p = parse_profile(Path::new("valid.yaml"), VALID, &no_photos).unwrap();
        assert_eq!(p.name, "valid");
        assert_eq!(p.holder.sex, Sex::Male);
        assert_eq!(p.auth_pin.as_ref().unwrap().tries_left, 3);
        assert_eq!(p.auth_certificate.serial, 4097);
        assert_eq!(
            p.faults.delay_per_apdu,
            Some(std::time::Duration::from_millis(20))
        );
        // The profile must build a card.
        card_emulator::CardImage::build(&p).unwrap();
    }

    #[test]
    fn reports_all_mistakes_at_once_with_positions() {
        let broken = VALID
            .replace("sex: male", "sex: mail")
            .replace("\"123456789018\"", "\"123456789010\"")
            .replace(
                "{ value: \"1234\" }\n  signature",
                "{ value: 1234 }\n  signature",
            )
            .replace("card_expiry_year: 2035", "card_expiry_yaer: 2035");
        let err = parse_profile(Path::new("broken.yaml"), &broken, &no_photos).unwrap_err();
        let shorts: Vec<String> = err.0.iter().map(|d| d.short()).collect();
        assert_eq!(
            shorts,
            [
                "broken.yaml:2:1: missing key `card_expiry_year`",
                "broken.yaml:6:8: `mail` is not a valid value here",
                "broken.yaml:8:14: the 個人番号 has a wrong check digit",
                "broken.yaml:9:1: unknown key `card_expiry_yaer`",
                "broken.yaml:15:28: a 4-digit PIN must be a quoted string",
            ],
            "{err}"
        );
        assert_eq!(
            err.0[1].hint.as_deref(),
            Some("did you mean `male`? (one of: male, female, not_applicable)")
        );
        assert_eq!(
            err.0[2].hint.as_deref(),
            Some("with these first 11 digits the 12th must be 8")
        );
    }

    #[test]
    fn a_face_authentication_card_has_no_pins() {
        let face = VALID.replace("name: valid", "name: face\nkind: face_authentication");
        let err = parse_profile(Path::new("f.yaml"), &face, &no_photos).unwrap_err();
        assert!(err.0[0].message.contains("no PINs"), "{err}");
    }
}
