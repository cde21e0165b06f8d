//! Card profile files (`scenarios/cards/*.yaml`) → typed [`CardProfile`].
//!
//! Every mistake in a file is reported at once with file:line:column; unknown keys are
//! rejected. The photo is named, not embedded: it comes from the photo cache and is turned
//! into the chip's greyscale JPEG 2000 by the photo resolver given to [`parse_profile`].

use crate::photos::PhotoCrop;
use crate::yaml::{Diagnostics, Document, Map, Node};
use card_emulator::profile::{
    CardKind, CardProfile, CertificateSetting, Faults, Holder, KeySlot, PinSetting, Secret, Sex,
    TokenKind,
};
use std::path::Path;

/// Why a profile file was refused: a file that cannot be read (`file:1:1`) or its
/// mistakes, as diagnostics.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{0}")]
    Invalid(Diagnostics),
}

impl crate::failure::Classified for ProfileError {
    fn class(&self) -> crate::failure::FailureClass {
        crate::failure::FailureClass::Input
    }

    fn rendered(&self) -> bool {
        true
    }
}

/// Turns a photo name from the file (and the file's `photo_crop`, if any) into chip-photo
/// bytes (JPEG 2000), or says why not.
pub type PhotoResolver<'a> = &'a dyn Fn(&str, Option<PhotoCrop>) -> Result<Vec<u8>, String>;

/// The real resolver: the named photo from the photo cache (checked by SHA-256), cut to the
/// crop, made into the chip's greyscale JPEG 2000.
pub fn cached_photo(name: &str, crop: Option<PhotoCrop>) -> Result<Vec<u8>, String> {
    let path = crate::photos::photo_path(name).map_err(|e| e.to_string())?;
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    crate::photos::encode_chip_photo_cropped(&bytes, crop).map_err(|e| e.to_string())
}

/// A resolver for checks that do not need pixels: every known name gives empty bytes.
pub fn no_photos(_: &str, _: Option<PhotoCrop>) -> Result<Vec<u8>, String> {
    Ok(Vec::new())
}

/// A [`PhotoResolver`] for checking files: a known photo name resolves to no bytes (nothing
/// is loaded), an unknown one is an error listing the known names.
pub fn named_photos(name: &str, _: Option<PhotoCrop>) -> Result<Vec<u8>, String> {
    let names: Vec<&str> = crate::photos::KNOWN_PHOTOS
        .iter()
        .map(|(n, _)| *n)
        .collect();
    if names.contains(&name) {
        Ok(Vec::new())
    } else {
        Err(format!("known photos: {}", names.join(", ")))
    }
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
    let text = crate::yaml::read_input(path)
        .map_err(|e| ProfileError::Invalid(Diagnostics(vec![e.diagnostic(path)])))?;
    parse_profile_file(path, &text, photos).map_err(ProfileError::Invalid)
}

/// The keys of a profile file.
pub const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "token",
    "kind",
    "holder",
    "photo",
    "photo_crop",
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

/// The keys a profile file must have.
pub const REQUIRED_TOP_KEYS: &[&str] = &[
    "name",
    "holder",
    "card_expiry_year",
    "security_code",
    "certificates",
];

/// The keys whose values are secrets: held as `Secret`, kept out of traces and reports,
/// masked in every diagnostic (`docs/card-profiles.md#secrets`). Paths of keys, as
/// `pins.authentication.value`.
pub const SECRET_KEYS: crate::yaml::SecretKeys = &[
    "security_code",
    "holder.my_number",
    "pins.authentication.value",
    "pins.signature.value",
    "pins.text_support.value",
];

/// The profile format, for its diagnostics.
pub const PROFILE_FORMAT: crate::yaml::Format = crate::yaml::Format {
    top_keys: &[TOP_KEYS],
    secrets: SECRET_KEYS,
};

/// `token:`.
pub const TOKENS: &[(&str, TokenKind)] = &[
    ("card", TokenKind::Card),
    ("smartphone", TokenKind::Smartphone),
];

/// `kind:`.
pub const CARD_KINDS: &[(&str, CardKind)] = &[
    ("standard", CardKind::Standard),
    ("face_authentication", CardKind::FaceAuthentication),
];

/// `card_expiry_year:`.
pub const CARD_EXPIRY_YEARS: std::ops::RangeInclusive<i64> = 2015..=2099;

/// Digits of the security code.
pub const SECURITY_CODE_DIGITS: usize = 4;

/// `surface_code_tries:` (照合番号B's tries left).
pub const SURFACE_CODE_TRIES: std::ops::RangeInclusive<i64> = 0..=10;

/// `key_slot:`: one of the fixture key pairs.
pub const KEY_SLOTS: std::ops::RangeInclusive<i64> = 0..=(card_emulator::pki::KEY_SLOTS as i64 - 1);

/// The keys of `holder:` (all required).
pub const HOLDER_KEYS: &[&str] = &["name", "birth_date", "sex", "address", "my_number"];

/// `holder.sex:`.
pub const SEXES: &[(&str, Sex)] = &[
    ("male", Sex::Male),
    ("female", Sex::Female),
    ("not_applicable", Sex::NotApplicable),
];

/// Digits of the 個人番号.
pub const MY_NUMBER_DIGITS: usize = 12;

/// The keys of `certificates:` (both required).
pub const CERTIFICATES_KEYS: &[&str] = &["authentication", "signature"];

/// The keys of one certificate, and those it must have.
pub const CERTIFICATE_KEYS: &[&str] = &["serial", "not_before", "not_after", "revoked"];
pub const REQUIRED_CERTIFICATE_KEYS: &[&str] = &["serial", "not_before", "not_after"];

/// The PINs of `pins:`, each with its most tries (the default of `tries_left`).
pub const PINS: &[(&str, i64)] = &[("authentication", 3), ("signature", 5), ("text_support", 3)];

/// The PIN that is a password (6 to 16 of A-Z and 0-9); the others are [`PIN_DIGITS`] digits.
pub const PASSWORD_PIN: &str = "signature";

/// Digits of a PIN (all but the signature password).
pub const PIN_DIGITS: usize = 4;

/// The signature password as the card accepts it (`card_emulator::pin::PinFormat::Password`).
pub const PASSWORD_PATTERN: &str = "^[A-Z0-9]{6,16}$";

/// The keys of one PIN, and those it must have.
pub const PIN_KEYS: &[&str] = &["value", "tries_left"];
pub const REQUIRED_PIN_KEYS: &[&str] = &["value"];

/// The keys of `faults:`.
pub const FAULT_KEYS: &[&str] = &["mute", "delay_per_apdu", "tear_on_apdu", "corrupt_photo"];

/// `faults.tear_on_apdu:` (1-based).
pub const TEAR_ON_APDU: std::ops::RangeInclusive<i64> = 1..=(u32::MAX as i64);

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
    let doc = Document::new(path, text).with_format(PROFILE_FORMAT);
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
    let map = root.root_map(TOP_KEYS)?;
    map.require_all(REQUIRED_TOP_KEYS);
    // Convert every field before combining, so each one reports its own mistakes.
    let name = map.get("name").and_then(|n| n.string());
    let token = optional(&map, "token", TokenKind::Card, |n| n.choice(TOKENS));
    let kind = optional(&map, "kind", CardKind::Standard, |n| n.choice(CARD_KINDS));
    let holder = map.get("holder").and_then(holder);
    let chip_photo = optional(&map, "photo", None, |n| known_photo(n).map(Some));
    let patient_photo = optional(&map, "patient_photo", None, |n| known_photo(n).map(Some));
    let crop = optional(&map, "photo_crop", None, |n| photo_crop(n).map(Some));
    if let (Some(n), None) = (map.get("photo_crop"), map.get("photo")) {
        n.report(
            "a crop without a photo",
            Some("add `photo`, or remove `photo_crop`"),
        );
    }
    let photo_jp2 = match (map.get("photo"), chip_photo.as_ref(), crop) {
        (Some(n), Some(Some(name)), Some(crop)) => match photos(name, crop) {
            Ok(bytes) => Some(Some(bytes)),
            Err(why) => {
                n.report(&format!("photo `{name}` is not available"), Some(&why));
                None
            }
        },
        (None, _, _) => Some(None),
        (Some(_), _, _) => None,
    };
    let card_expiry_year = map
        .get("card_expiry_year")
        .and_then(|n| n.integer(CARD_EXPIRY_YEARS))
        .map(|y| y as u16);
    let security_code = map
        .get("security_code")
        .and_then(|n| {
            n.digits(
                SECURITY_CODE_DIGITS..=SECURITY_CODE_DIGITS,
                "the security code",
            )
        })
        .map(Secret::new);
    let certificates = map.get("certificates").and_then(certificates);
    let pins = optional(&map, "pins", PinSettings::default(), pins);
    let surface_code_tries = optional(&map, "surface_code_tries", 10, |n| {
        n.integer(SURFACE_CODE_TRIES)
    })
    .map(|t| t as u8);
    let registered = optional(&map, "registered_for_insurance", true, |n| n.boolean());
    let key_slot =
        optional(&map, "key_slot", 0, |n| n.integer(KEY_SLOTS)).map(|s| KeySlot(s as u8));
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
    let map = node.map(HOLDER_KEYS)?;
    for key in HOLDER_KEYS {
        map.required(key);
    }
    let name = map.get("name").and_then(|n| n.string());
    let birth_date = map.get("birth_date").and_then(|n| n.date());
    let sex = map.get("sex").and_then(|n| n.choice(SEXES));
    let my_number = map.get("my_number").and_then(|n| {
        let number = n.digits(MY_NUMBER_DIGITS..=MY_NUMBER_DIGITS, "the 個人番号")?;
        if card_emulator::my_number::is_valid(&number) {
            Some(number)
        } else {
            // Never the right digit: that would complete a 個人番号 written down wrong.
            n.report(
                "the 個人番号 has a wrong check digit",
                Some("the 12th digit is a check digit of the first 11 (docs/card-profiles.md#holder)"),
            );
            None
        }
    });
    Some(Holder {
        name: name?,
        birth_date: birth_date?,
        sex: sex?,
        address: map.get("address").and_then(|n| n.string())?,
        my_number: my_number?,
    })
}

fn certificates(node: Node<'_, '_>) -> Option<(CertificateSetting, CertificateSetting)> {
    let map = node.map(CERTIFICATES_KEYS)?;
    for key in CERTIFICATES_KEYS {
        map.required(key);
    }
    let auth = map.get("authentication").and_then(certificate);
    let sign = map.get("signature").and_then(certificate);
    Some((auth?, sign?))
}

fn certificate(node: Node<'_, '_>) -> Option<CertificateSetting> {
    let map = node.map(CERTIFICATE_KEYS)?;
    map.require_all(REQUIRED_CERTIFICATE_KEYS);
    let serial = map
        .get("serial")
        .and_then(|n| n.integer(1..=i64::MAX))
        .map(|s| s as u64);
    let not_before = map.get("not_before").and_then(|n| n.date());
    let not_after = map.get("not_after").and_then(|n| n.date());
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
    let names: Vec<&str> = PINS.iter().map(|(n, _)| *n).collect();
    let map = node.map(&names)?;
    let digits = |n: Node<'_, '_>| n.digits(PIN_DIGITS..=PIN_DIGITS, "a 4-digit PIN");
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
    let mut settings = PinSettings::default();
    let mut ok = true;
    for (name, max_tries) in PINS {
        let value: &dyn Fn(Node<'_, '_>) -> Option<String> = if *name == PASSWORD_PIN {
            &password
        } else {
            &digits
        };
        let setting = optional(&map, name, None, |n| pin(n, *max_tries, value).map(Some));
        match (*name, setting) {
            (_, None) => ok = false,
            ("authentication", Some(s)) => settings.authentication = s,
            ("signature", Some(s)) => settings.signature = s,
            ("text_support", Some(s)) => settings.text_support = s,
            (other, Some(_)) => unreachable!("PINS names `{other}`, which no setting holds"),
        }
    }
    ok.then_some(settings)
}

fn pin(
    node: Node<'_, '_>,
    max_tries: i64,
    value: &dyn Fn(Node<'_, '_>) -> Option<String>,
) -> Option<PinSetting> {
    let map = node.map(PIN_KEYS)?;
    map.require_all(REQUIRED_PIN_KEYS);
    let v = map.get("value").and_then(value);
    let tries = optional(&map, "tries_left", max_tries, |n| n.integer(0..=max_tries));
    Some(PinSetting {
        value: Secret::new(v?),
        tries_left: tries? as u8,
    })
}

/// The card's faults, and whether its chip photo is corrupt.
/// The keys of `photo_crop`, all required.
pub const PHOTO_CROP_KEYS: &[&str] = &["x", "y", "width", "height"];
/// Range of each `photo_crop` number (pixels of the source photo).
pub const PHOTO_CROP_PIXELS: std::ops::RangeInclusive<i64> = 0..=20_000;

/// `photo_crop: { x, y, width, height }`; whether it lies inside the photo is checked when
/// the photo is read.
fn photo_crop(node: Node<'_, '_>) -> Option<PhotoCrop> {
    let map = node.map(PHOTO_CROP_KEYS)?;
    let mut values = [0u32; 4];
    let mut ok = true;
    for (key, v) in PHOTO_CROP_KEYS.iter().zip(&mut values) {
        map.required(key);
        match map.get(key).and_then(|n| n.integer(PHOTO_CROP_PIXELS)) {
            Some(i) => *v = i as u32,
            None => ok = false,
        }
    }
    let [x, y, width, height] = values;
    if ok && (width == 0 || height == 0) {
        node.report(
            "an empty crop",
            Some("width and height are at least 1 pixel"),
        );
        return None;
    }
    ok.then_some(PhotoCrop {
        x,
        y,
        width,
        height,
    })
}

fn faults(node: Node<'_, '_>) -> Option<(Faults, bool)> {
    let map = node.map(FAULT_KEYS)?;
    let corrupt_photo = optional(&map, "corrupt_photo", false, |n| n.boolean());
    let mute = optional(&map, "mute", false, |n| n.boolean());
    let delay = optional(&map, "delay_per_apdu", None, |n| n.duration().map(Some));
    let tear = optional(&map, "tear_on_apdu", None, |n| {
        n.integer(TEAR_ON_APDU).map(|i| Some(i as u32))
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
        // The check digit is never suggested, nor the number quoted.
        let text = err.to_string();
        assert!(!text.contains("123456789010"), "{text}");
        assert!(!text.contains("must be 8"), "{text}");
    }

    #[test]
    fn a_face_authentication_card_has_no_pins() {
        let face = VALID.replace("name: valid", "name: face\nkind: face_authentication");
        let err = parse_profile(Path::new("f.yaml"), &face, &no_photos).unwrap_err();
        assert!(err.0[0].message.contains("no PINs"), "{err}");
    }
}
