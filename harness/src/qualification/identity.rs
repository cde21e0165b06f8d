//! The identity key: who a query is about. The service identifies the card holder by the
//! issuer and serial number of the user-authentication certificate, the way a certified
//! terminal does without a PIN, and never by the 個人番号 (docs/reception-rules.md, firm).

use openssl::x509::{X509NameRef, X509Ref, X509};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

/// Issuer of every certificate the test CA (`card_emulator::pki::TestPki`) issues, in the
/// form [`distinguished_name`] writes. A record that names no issuer gets this one.
pub const TEST_CA_ISSUER: &str =
    "C=JP, O=myna-hil TEST ONLY, OU=Test JPKI CA - not a real certification authority";

/// Issuer + serial number of a user-authentication certificate.
///
/// The serial is written in upper-case hexadecimal without leading zeros (`"1001"` for the
/// sample card's 0x1001), so the same certificate always gives the same key, whether it came
/// from a record file or from a certificate's DER.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", try_from = "RawKey")]
pub struct CertificateKey {
    issuer: String,
    serial_number: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("serial number {0:?} is not hexadecimal")]
    Serial(String),
    #[error("issuer must not be empty")]
    EmptyIssuer,
    #[error("not a DER X.509 certificate: {0}")]
    NotACertificate(String),
}

/// The serialised form, checked and normalised by `TryFrom`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct RawKey {
    #[serde(default = "test_ca_issuer")]
    issuer: String,
    serial_number: String,
}

fn test_ca_issuer() -> String {
    TEST_CA_ISSUER.to_owned()
}

impl TryFrom<RawKey> for CertificateKey {
    type Error = KeyError;
    fn try_from(raw: RawKey) -> Result<Self, KeyError> {
        CertificateKey::new(raw.issuer, &raw.serial_number)
    }
}

impl CertificateKey {
    /// A key from an issuer DN (as [`distinguished_name`] writes it) and a hexadecimal serial
    /// (an optional `0x` and leading zeros are accepted and dropped).
    pub fn new(issuer: impl Into<String>, serial_hex: &str) -> Result<Self, KeyError> {
        let issuer = issuer.into();
        if issuer.trim().is_empty() {
            return Err(KeyError::EmptyIssuer);
        }
        Ok(CertificateKey {
            issuer,
            serial_number: normalise_serial(serial_hex)?,
        })
    }

    /// The key of a certificate the test CA issued with `serial` (a card profile's
    /// `auth_certificate.serial`).
    pub fn test_card(serial: u64) -> Self {
        CertificateKey {
            issuer: test_ca_issuer(),
            serial_number: format!("{serial:X}"),
        }
    }

    /// The key of a parsed certificate.
    pub fn of_certificate(cert: &X509Ref) -> Result<Self, KeyError> {
        let serial = cert
            .serial_number()
            .to_bn()
            .and_then(|bn| bn.to_hex_str().map(|s| s.to_string()))
            .map_err(|e| KeyError::NotACertificate(e.to_string()))?;
        CertificateKey::new(distinguished_name(cert.issuer_name()), &serial)
    }

    /// The key of a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        let cert = X509::from_der(der).map_err(|e| KeyError::NotACertificate(e.to_string()))?;
        CertificateKey::of_certificate(&cert)
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Upper-case hexadecimal, no leading zeros.
    pub fn serial_number(&self) -> &str {
        &self.serial_number
    }
}

impl fmt::Debug for CertificateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertificateKey({} #{})", self.issuer, self.serial_number)
    }
}

impl fmt::Display for CertificateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "serial {} of {}", self.serial_number, self.issuer)
    }
}

/// Certificates parsed once: a bounded map from DER bytes to the parsed certificate and its
/// key. OpenSSL 3 takes about as long to decode a certificate as to check its signature,
/// and a run sees the same few cards' certificates in every case; the bytes are the key, so
/// a certificate that differs in one bit is parsed (and judged) afresh. Only parsing is
/// remembered: every check against the CA and CRL still runs on every request.
pub struct ParsedCertificates {
    parsed: Mutex<HashMap<Vec<u8>, (X509, CertificateKey)>>,
}

/// Certificates a [`ParsedCertificates`] keeps; past it, the map starts over (a run has
/// one certificate per card profile, a few dozen).
pub const MAX_PARSED_CERTIFICATES: usize = 256;

impl Default for ParsedCertificates {
    fn default() -> Self {
        Self::new()
    }
}

impl ParsedCertificates {
    pub fn new() -> Self {
        ParsedCertificates {
            parsed: Mutex::new(HashMap::new()),
        }
    }

    /// `der` parsed, and its key.
    pub fn parse(&self, der: &[u8]) -> Result<(X509, CertificateKey), KeyError> {
        let remembered = |map: &HashMap<Vec<u8>, (X509, CertificateKey)>| map.get(der).cloned();
        if let Some(hit) = self.parsed.lock().ok().as_deref().and_then(remembered) {
            return Ok(hit);
        }
        let cert = X509::from_der(der).map_err(|e| KeyError::NotACertificate(e.to_string()))?;
        let key = CertificateKey::of_certificate(&cert)?;
        if let Ok(mut map) = self.parsed.lock() {
            if map.len() >= MAX_PARSED_CERTIFICATES {
                map.clear();
            }
            map.insert(der.to_vec(), (cert.clone(), key.clone()));
        }
        Ok((cert, key))
    }
}

fn normalise_serial(text: &str) -> Result<String, KeyError> {
    let bad = || KeyError::Serial(text.to_owned());
    let trimmed = text.trim();
    let (negative, digits) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let digits = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
        .unwrap_or(digits);
    if digits.is_empty() || digits.len() > 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let significant = digits.trim_start_matches('0');
    let significant = if significant.is_empty() {
        "0"
    } else {
        significant
    };
    let sign = if negative && significant != "0" {
        "-"
    } else {
        ""
    };
    Ok(format!("{sign}{}", significant.to_ascii_uppercase()))
}

/// A distinguished name as `C=JP, O=..., OU=...`, entries in certificate order, with `,`, `+`,
/// `=` and `\` in values escaped by a backslash. Only used to compare and show names, so it
/// needs to be stable, not RFC 4514 in every corner.
pub fn distinguished_name(name: &X509NameRef) -> String {
    let mut parts = Vec::new();
    for entry in name.entries() {
        let object = entry.object();
        let label = object
            .nid()
            .short_name()
            .map(str::to_owned)
            .unwrap_or_else(|_| object.to_string());
        let value = match entry.data().to_string() {
            Ok(text) => escape(&text),
            Err(_) => format!("#{}", hex::encode(entry.data().as_slice())),
        };
        parts.push(format!("{label}={value}"));
    }
    parts.join(", ")
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, ',' | '+' | '=' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use card_emulator::pki::TestPki;
    use card_emulator::{CardImage, CardProfile};

    #[test]
    fn parsed_certificates_answer_like_a_fresh_parse() {
        let image = CardImage::build(&CardProfile::sample()).expect("card");
        let der = &image.auth_certificate;
        let memo = ParsedCertificates::new();
        let (first, key) = memo.parse(der).expect("parses");
        let (again, key_again) = memo.parse(der).expect("parses again");
        assert_eq!(key, CertificateKey::from_der(der).expect("key"));
        assert_eq!(key_again, key);
        assert_eq!(again.to_der().ok(), first.to_der().ok());
        // One bit off: not the remembered certificate.
        let mut flipped = der.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        let other = memo.parse(&flipped).map(|(c, _)| c.to_der().ok());
        assert_ne!(other.ok().flatten().as_deref(), Some(der.as_slice()));
        assert!(memo.parse(b"not a certificate").is_err());
    }

    #[test]
    fn the_test_ca_issuer_constant_matches_the_test_ca() {
        let pki = TestPki::shared().expect("test PKI");
        assert_eq!(
            distinguished_name(pki.ca_certificate().subject_name()),
            TEST_CA_ISSUER
        );
    }

    #[test]
    fn a_card_certificate_gives_the_same_key_as_its_profile() {
        let profile = CardProfile::sample();
        let image = CardImage::build(&profile).expect("card");
        let key = CertificateKey::from_der(&image.auth_certificate).expect("key");
        assert_eq!(
            key,
            CertificateKey::test_card(profile.auth_certificate.serial)
        );
        assert_eq!(key.serial_number(), "1001");
    }

    #[test]
    fn serials_are_normalised_and_checked() {
        let key = |s| CertificateKey::new(TEST_CA_ISSUER, s).map(|k| k.serial_number);
        assert_eq!(key("0x0001001"), Ok("1001".into()));
        assert_eq!(key("00ab"), Ok("AB".into()));
        assert_eq!(key("0"), Ok("0".into()));
        assert!(key("").is_err());
        assert!(key("12G").is_err());
        assert!(CertificateKey::new(" ", "1").is_err());
        assert!(CertificateKey::from_der(b"not a certificate").is_err());
    }

    #[test]
    fn keys_deserialise_with_the_test_ca_as_default_issuer() {
        let key: CertificateKey =
            serde_json::from_str(r#"{"SerialNumber": "0x1001"}"#).expect("parses");
        assert_eq!(key, CertificateKey::test_card(0x1001));
        assert!(serde_json::from_str::<CertificateKey>(r#"{"SerialNumber": "x"}"#).is_err());
        assert!(
            serde_json::from_str::<CertificateKey>(r#"{"SerialNumber": "1", "Other": 1}"#).is_err()
        );
    }
}
