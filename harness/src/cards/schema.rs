//! The JSON Schema (draft 2020-12) of card profile files (`docs/card-profiles.md`), built
//! from the name tables and ranges the profile parser uses ([`super::profile_file`]), so the
//! two cannot drift apart. Secret values (PINs, the signature password, the security code,
//! the 個人番号: [`SECRET_KEYS`]) say so in their `description`.

use super::profile_file::*;
use crate::yaml::schema::{
    boolean, choice, date, digits, duration, integer, mapping, string, SCHEMA_DIALECT,
};
use serde_json::{json, Value};

/// Marks the description of a secret value.
fn secret(mut schema: Value, path: &str) -> Value {
    debug_assert!(SECRET_KEYS.contains(&path), "{path} is not in SECRET_KEYS");
    let said = schema["description"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    schema["description"] = json!(format!(
        "SECRET: {said}. Kept out of traces and reports; for a real card keep the file out of version control"
    ));
    schema
}

fn photo(description: &str) -> Value {
    let photos: Vec<(&str, &str)> = crate::photos::PERSON_OF_PHOTO.to_vec();
    choice(
        &photos,
        &format!("{description}: a photo of the photo cache"),
    )
}

fn holder() -> Value {
    mapping(HOLDER_KEYS, HOLDER_KEYS, |key| {
        Some(match key {
            "name" => string("the holder's name"),
            "birth_date" => date("the holder's birth date"),
            "sex" => choice(SEXES, "the holder's sex"),
            "address" => string("the holder's address"),
            "my_number" => secret(
                digits(
                    MY_NUMBER_DIGITS..=MY_NUMBER_DIGITS,
                    "the 個人番号, with a valid check digit",
                ),
                "holder.my_number",
            ),
            _ => return None,
        })
    })
}

fn certificate() -> Value {
    mapping(CERTIFICATE_KEYS, REQUIRED_CERTIFICATE_KEYS, |key| {
        Some(match key {
            "serial" => integer(1..=i64::MAX, "the certificate's serial number"),
            "not_before" => date("first day of validity"),
            "not_after" => date("last day of validity, not before `not_before`"),
            "revoked" => boolean("listed in the test CA's revocation list"),
            _ => return None,
        })
    })
}

fn pins() -> Value {
    let names: Vec<&str> = PINS.iter().map(|(n, _)| *n).collect();
    mapping(&names, &[], |key| {
        let (name, max_tries) = PINS.iter().find(|(n, _)| *n == key)?;
        let value = if *name == PASSWORD_PIN {
            json!({
                "type": "string",
                "pattern": PASSWORD_PATTERN,
                "description": "the password: 6 to 16 characters of A-Z and 0-9"
            })
        } else {
            digits(PIN_DIGITS..=PIN_DIGITS, "the PIN")
        };
        let value = secret(value, &format!("pins.{name}.value"));
        Some(mapping(PIN_KEYS, REQUIRED_PIN_KEYS, |k| {
            Some(match k {
                "value" => value.clone(),
                "tries_left" => integer(0..=*max_tries, "tries left (0: blocked)"),
                _ => return None,
            })
        }))
    })
}

fn faults() -> Value {
    mapping(FAULT_KEYS, &[], |key| {
        Some(match key {
            "mute" => boolean("answers the ATR, never an APDU"),
            "delay_per_apdu" => duration("waits this long before every response"),
            "tear_on_apdu" => integer(
                TEAR_ON_APDU,
                "drops off the bus mid-response on this APDU after power-on (1-based)",
            ),
            "corrupt_photo" => boolean("the chip photo does not decode"),
            _ => return None,
        })
    })
}

/// The JSON Schema of a card profile file.
pub fn profile_json_schema() -> Value {
    let mut schema = mapping(TOP_KEYS, REQUIRED_TOP_KEYS, |key| {
        Some(match key {
            "name" => string("short name used in reports and traces"),
            "description" => string("free text"),
            "token" => choice(TOKENS, "a physical card or a smartphone secure element"),
            "kind" => choice(
                CARD_KINDS,
                "a standard card or a face-authentication card (no PINs)",
            ),
            "holder" => holder(),
            "photo" => photo("the chip photo (DF27)"),
            "photo_crop" => mapping(PHOTO_CROP_KEYS, PHOTO_CROP_KEYS, |key| {
                Some(integer(
                    PHOTO_CROP_PIXELS,
                    &format!("the crop's {key} in pixels of the source photo"),
                ))
            }),
            "patient_photo" => photo("the patient who brings this card, as the camera sees them"),
            "card_expiry_year" => integer(
                CARD_EXPIRY_YEARS,
                "the card's expiry year (part of 照合番号B)",
            ),
            "security_code" => secret(
                digits(
                    SECURITY_CODE_DIGITS..=SECURITY_CODE_DIGITS,
                    "the security code printed on the card (part of 照合番号B)",
                ),
                "security_code",
            ),
            "certificates" => mapping(
                CERTIFICATES_KEYS,
                CERTIFICATES_KEYS,
                |_| Some(certificate()),
            ),
            "pins" => pins(),
            "surface_code_tries" => {
                integer(SURFACE_CODE_TRIES, "tries left of 照合番号B (0: blocked)")
            }
            "registered_for_insurance" => boolean("registered for health-insurance use"),
            "key_slot" => integer(
                KEY_SLOTS,
                "which fixture key pair the holder's keys come from",
            ),
            "faults" => faults(),
            _ => return None,
        })
    });
    schema["$schema"] = json!(SCHEMA_DIALECT);
    schema["title"] = json!("myna-hil card profile");
    schema["description"] = json!(format!(
        "An emulated My Number Card (docs/card-profiles.md). Secret values: {}.",
        SECRET_KEYS.join(", ")
    ));
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_secret_says_so() {
        let text = serde_json::to_string(&profile_json_schema()).unwrap();
        assert_eq!(
            text.matches("SECRET: ").count(),
            SECRET_KEYS.len(),
            "{text}"
        );
    }
}
