//! The request on the wire, and what makes one unacceptable.
//!
//! `POST /qualification` with `Content-Type: application/json` and
//! `{"certificate": BASE64-DER, "facility": "1312345678", "consent": {...} | null}`;
//! `POST /registration` with `{"certificate": BASE64-DER}`.
//! Unknown keys are refused, and so is anything that looks like a 個人番号 anywhere in the
//! body (a key named like it, or a 12-digit value): the lookup is by certificate only, and
//! a reader that sends the number is leaking it, so the service says so loudly (400
//! `MyNumberRefused`) instead of ignoring it.

use super::identity::{CertificateKey, KeyError};
use super::record::Consent;
use base64::Engine as _;
use openssl::x509::X509;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest facility code accepted (the real 医療機関コード has 10 digits).
pub const MAX_FACILITY_CHARS: usize = 64;

/// The request body as the client sends it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueryBody {
    pub certificate: String,
    pub facility: String,
    #[serde(default)]
    pub consent: Option<Consent>,
}

/// The registration body: `{"certificate": BASE64-DER}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegistrationBody {
    pub certificate: String,
}

/// The answer to a registration: `{"Registered": true}`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct RegistrationAnswer {
    pub registered: bool,
}

/// A checked registration.
pub(crate) struct Registration {
    pub certificate: X509,
    pub key: CertificateKey,
}

/// A checked query.
pub(crate) struct Query {
    pub certificate: X509,
    pub key: CertificateKey,
    pub facility: String,
    pub consent: Option<Consent>,
}

/// Why a request is refused with 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("the body carries something like a 個人番号 ({0}); the lookup is by certificate only")]
    MyNumberRefused(String),
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the body does not have the fields of this request: {0}")]
    WrongShape(String),
    #[error("`certificate` is not base64: {0}")]
    CertificateEncoding(String),
    #[error("`certificate` is not a DER X.509 certificate: {0}")]
    NotACertificate(String),
    #[error("`facility` must be 1 to {MAX_FACILITY_CHARS} printable characters")]
    Facility,
}

impl RequestError {
    /// The machine-readable code in the error body.
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::MyNumberRefused(_) => "MyNumberRefused",
            RequestError::NotJson(_) => "NotJson",
            RequestError::WrongShape(_) => "WrongShape",
            RequestError::CertificateEncoding(_) => "CertificateEncoding",
            RequestError::NotACertificate(_) => "NotACertificate",
            RequestError::Facility => "Facility",
        }
    }
}

/// The body of every error answer: `{"Error": CODE, "Message": TEXT}`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}

/// Parses and checks a query body. Never panics: serde_json limits nesting (128 levels),
/// and the body size was limited before this is called.
pub(crate) fn parse_query(body: &[u8]) -> Result<Query, RequestError> {
    let body: QueryBody = parse_private(body)?;
    let facility = body.facility.trim();
    if facility.is_empty()
        || facility.chars().count() > MAX_FACILITY_CHARS
        || facility.chars().any(char::is_control)
    {
        return Err(RequestError::Facility);
    }
    let (certificate, key) = certificate(&body.certificate)?;
    Ok(Query {
        certificate,
        key,
        facility: facility.to_owned(),
        consent: body.consent,
    })
}

/// Parses and checks a registration body.
pub(crate) fn parse_registration(body: &[u8]) -> Result<Registration, RequestError> {
    let body: RegistrationBody = parse_private(body)?;
    let (certificate, key) = certificate(&body.certificate)?;
    Ok(Registration { certificate, key })
}

/// JSON, free of anything like a 個人番号, of the expected shape.
fn parse_private<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, RequestError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| RequestError::NotJson(e.to_string()))?;
    if let Some(where_) = find_my_number(&value) {
        return Err(RequestError::MyNumberRefused(where_));
    }
    serde_json::from_value(value).map_err(|e| RequestError::WrongShape(e.to_string()))
}

/// The certificate of a body (base64 DER) and its key.
fn certificate(base64_der: &str) -> Result<(X509, CertificateKey), RequestError> {
    let der = base64::engine::general_purpose::STANDARD
        .decode(base64_der.trim())
        .map_err(|e| RequestError::CertificateEncoding(e.to_string()))?;
    let certificate =
        X509::from_der(&der).map_err(|e| RequestError::NotACertificate(e.to_string()))?;
    let key = CertificateKey::of_certificate(&certificate).map_err(|e| match e {
        KeyError::NotACertificate(reason) | KeyError::Serial(reason) => {
            RequestError::NotACertificate(reason)
        }
        KeyError::EmptyIssuer => RequestError::NotACertificate("empty issuer".into()),
    })?;
    Ok((certificate, key))
}

/// Where in `value` something like a 個人番号 sits: a key named like one (`my_number`,
/// `MyNumber`, `mynumber`, `個人番号`, `kojin_bango`, `individual_number`), or any string or
/// number that is 12 digits once spaces and hyphens are dropped (with or without a valid
/// check digit: a leak is a leak).
pub fn find_my_number(value: &Value) -> Option<String> {
    fn walk(value: &Value, path: &mut String) -> Option<String> {
        match value {
            Value::String(s) if looks_like_my_number(s) => Some(path.clone()),
            Value::Number(n) if looks_like_my_number(&n.to_string()) => Some(path.clone()),
            Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(item, path);
                path.truncate(len);
                found
            }),
            Value::Object(map) => map.iter().find_map(|(key, item)| {
                let len = path.len();
                path.push('.');
                path.push_str(key);
                let found = if is_my_number_key(key) {
                    Some(path.clone())
                } else {
                    walk(item, path)
                };
                path.truncate(len);
                found
            }),
            _ => None,
        }
    }
    walk(value, &mut String::from("$"))
}

fn is_my_number_key(key: &str) -> bool {
    let folded: String = key
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | ' ' | '.'))
        .flat_map(char::to_lowercase)
        .collect();
    matches!(
        folded.as_str(),
        "mynumber" | "個人番号" | "kojinbango" | "kojinbangou" | "individualnumber"
    )
}

fn looks_like_my_number(text: &str) -> bool {
    let mut digits = 0usize;
    for c in text.trim().chars() {
        match c {
            '0'..='9' => digits += 1,
            ' ' | '-' => {}
            _ => return false,
        }
    }
    digits == 12
}

#[cfg(test)]
mod tests {
    use super::*;
    use card_emulator::{CardImage, CardProfile};
    use serde_json::json;

    fn certificate_b64() -> String {
        let image = CardImage::build(&CardProfile::sample()).expect("card");
        base64::engine::general_purpose::STANDARD.encode(&image.auth_certificate)
    }

    #[test]
    fn a_good_query_parses_to_the_certificate_key() {
        let body = json!({
            "certificate": certificate_b64(),
            "facility": "1312345678",
            "consent": {"checkups": true, "medication": false, "care": true, "surgery": false}
        });
        let query = parse_query(body.to_string().as_bytes()).expect("parses");
        assert_eq!(query.key, CertificateKey::test_card(0x1001));
        assert_eq!(query.facility, "1312345678");
        let consent = query.consent.expect("consent");
        assert!(consent.checkups && consent.care && !consent.medication);
        let no_consent = json!({"certificate": certificate_b64(), "facility": "F"});
        assert!(parse_query(no_consent.to_string().as_bytes()).is_ok());
    }

    #[test]
    fn a_registration_needs_a_certificate_and_nothing_else() {
        let body = json!({"certificate": certificate_b64()});
        let registration = parse_registration(body.to_string().as_bytes()).expect("parses");
        assert_eq!(registration.key, CertificateKey::test_card(0x1001));
        let leaking = json!({"certificate": certificate_b64(), "my_number": "123456789018"});
        assert!(matches!(
            parse_registration(leaking.to_string().as_bytes()).err(),
            Some(RequestError::MyNumberRefused(_))
        ));
        let extra = json!({"certificate": certificate_b64(), "facility": "F"});
        assert_eq!(
            parse_registration(extra.to_string().as_bytes())
                .err()
                .map(|e| e.code()),
            Some("WrongShape")
        );
    }

    #[test]
    fn anything_like_a_my_number_is_refused() {
        let cert = certificate_b64();
        let bodies = [
            json!({"certificate": cert, "facility": "F", "my_number": "123456789018"}),
            json!({"certificate": cert, "facility": "F", "MyNumber": null}),
            json!({"certificate": cert, "facility": "F", "個人番号": "x"}),
            json!({"certificate": cert, "facility": "123456789018"}),
            json!({"certificate": cert, "facility": "F", "extra": {"id": 123456789018u64}}),
            json!({"certificate": cert, "facility": "F", "list": ["1234-5678-9018"]}),
            json!({"certificate": cert, "facility": "F", "note": "1234 5678 9012"}),
        ];
        for body in bodies {
            let refused = parse_query(body.to_string().as_bytes()).err();
            assert!(
                matches!(refused, Some(RequestError::MyNumberRefused(_))),
                "{body}: {refused:?}"
            );
        }
        // 10- and 13-digit values are not a 個人番号 (a facility code has 10 digits).
        assert_eq!(find_my_number(&json!({"facility": "1312345678"})), None);
        assert_eq!(find_my_number(&json!({"n": "1234567890123"})), None);
        assert_eq!(
            find_my_number(&json!({"a": [{"b": "123456789018"}]})),
            Some("$.a[0].b".into())
        );
    }

    #[test]
    fn broken_requests_get_a_reason_not_a_panic() {
        let cases: [(&[u8], &str); 8] = [
            (b"", "NotJson"),
            (b"{", "NotJson"),
            (b"\xff\xfe", "NotJson"),
            (b"[]", "WrongShape"),
            (
                br#"{"certificate": "AAAA", "facility": "F", "x": 1}"#,
                "WrongShape",
            ),
            (
                br#"{"certificate": "***", "facility": "F"}"#,
                "CertificateEncoding",
            ),
            (
                br#"{"certificate": "AAAA", "facility": "F"}"#,
                "NotACertificate",
            ),
            (br#"{"certificate": "AAAA", "facility": ""}"#, "Facility"),
        ];
        for (body, code) in cases {
            let err = parse_query(body).err().expect("refused");
            assert_eq!(err.code(), code, "{}", String::from_utf8_lossy(body));
        }
        let deep = "[".repeat(10_000);
        assert_eq!(
            parse_query(deep.as_bytes()).err().map(|e| e.code()),
            Some("NotJson")
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any bytes get a verdict, never a panic.
        #[test]
        fn any_bytes_are_parsed_or_refused(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_query(&body);
        }

        /// Any JSON-shaped text too, including near misses of a real query.
        #[test]
        fn any_json_like_text_is_parsed_or_refused(
            key in "[a-zA-Z_]{0,12}",
            value in "[0-9 -]{0,16}|[A-Za-z0-9+/=]{0,40}",
            consent in proptest::bool::ANY,
        ) {
            let body = format!(
                r#"{{"certificate": "{value}", "facility": "{value}", "{key}": "{value}", "consent": {}}}"#,
                if consent { r#"{"checkups": true}"# } else { "null" }
            );
            let _ = parse_query(body.as_bytes());
        }
    }
}
