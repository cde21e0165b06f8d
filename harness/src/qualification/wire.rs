//! The request on the wire, and what makes one unacceptable.
//!
//! `POST /qualification` with `Content-Type: application/json` and
//! `{"certificate": BASE64-DER, "facility": "1312345678", "consent": {...} | null}`;
//! `POST /registration` with `{"certificate": BASE64-DER}`.
//! Unknown keys are refused, and so is anything that looks like a 個人番号 anywhere in the
//! body, the URL query or a header (a key named like it, or 12 digits however written): the
//! lookup is by certificate only, and
//! a reader that sends the number is leaking it, so the service says so loudly (400
//! `MyNumberRefused`) instead of ignoring it.

use super::identity::{CertificateKey, KeyError, ParsedCertificates};
use super::record::{Consent, ResultErrorCode};
use super::schema::{boolean, described, object, one_of, string};
use base64::Engine as _;
use openssl::x509::X509;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

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

/// The certificate of a request body, as the schemas describe it.
fn certificate_schema() -> Value {
    json!({
        "type": "string",
        "contentEncoding": "base64",
        "minLength": 1,
        "description": "The card's user-authentication certificate, DER, base64 (standard \
            alphabet, padded). The service identifies the holder by its issuer and serial \
            number, never by the 個人番号.",
    })
}

impl QueryBody {
    pub(crate) fn json_schema() -> Value {
        let facility = json!({
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_FACILITY_CHARS,
            "description": "The querying facility's code (医療機関コード, 10 digits on the real \
                system); printable, trimmed. Consent is held per facility.",
        });
        let consent = json!({"anyOf": [Consent::request_json_schema(), {"type": "null"}]});
        described(
            object(
                vec![
                    ("certificate", certificate_schema()),
                    ("facility", facility),
                    ("consent", consent),
                ],
                &["certificate", "facility"],
            ),
            "A qualification query. Nothing like a 個人番号 may appear anywhere in the request.",
        )
    }
}

impl RegistrationBody {
    pub(crate) fn json_schema() -> Value {
        described(
            object(
                vec![("certificate", certificate_schema())],
                &["certificate"],
            ),
            "Registers the card for insurance use (利用登録).",
        )
    }
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

impl RegistrationAnswer {
    pub fn json_schema() -> Value {
        described(
            object(
                vec![(
                    "Registered",
                    boolean("Always true: a refusal is an error answer"),
                )],
                &["Registered"],
            ),
            "The card is registered for insurance use.",
        )
    }
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
    pub fn code(&self) -> ErrorCode {
        match self {
            RequestError::MyNumberRefused(_) => ErrorCode::MyNumberRefused,
            RequestError::NotJson(_) => ErrorCode::NotJson,
            RequestError::WrongShape(_) => ErrorCode::WrongShape,
            RequestError::CertificateEncoding(_) => ErrorCode::CertificateEncoding,
            RequestError::NotACertificate(_) => ErrorCode::NotACertificate,
            RequestError::Facility => ErrorCode::Facility,
        }
    }
}

/// The `Error` of an error answer: every reason the service gives, with its status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorCode {
    /// 400: something like a 個人番号 in the body, the URL query or a header.
    MyNumberRefused,
    /// 400: the body is not JSON; 415: the Content-Type is not `application/json`.
    NotJson,
    /// 400: not the fields of this request (unknown or missing keys, wrong types).
    WrongShape,
    /// 400: `certificate` is not base64.
    CertificateEncoding,
    /// 400: `certificate` is not a DER X.509 certificate.
    NotACertificate,
    /// 400: `facility` is empty, too long or has control characters.
    Facility,
    /// 400: the body broke off.
    BodyError,
    /// 408: the body did not arrive within `Limits::body_read_timeout`.
    BodyTimeout,
    /// 413: the body is larger than `Limits::max_body_bytes`.
    BodyTooLarge,
    /// 403 (registration): the certificate is revoked.
    CertificateRevoked,
    /// 403 (registration): the certificate has expired (its grace period does not count).
    CertificateExpired,
    /// 403 (registration): the certificate is not valid yet.
    CertificateNotYetValid,
    /// 403 (registration): the certificate was not issued by the trusted CA.
    CertificateNotTrusted,
    /// 403 (registration): the service holds as many registrations as it may.
    NotRegistered,
    /// 404: no such route.
    NotFound,
    /// 405: the route exists with another method.
    MethodNotAllowed,
    /// 5xx: an injected `Http5xx` fault.
    ServiceFault,
    /// 503: every connection has a request in progress; try again.
    Busy,
    /// 500: the answer could not be encoded.
    Internal,
}

impl ErrorCode {
    /// Every code, for the JSON Schema.
    pub const ALL: [ErrorCode; 19] = [
        ErrorCode::MyNumberRefused,
        ErrorCode::NotJson,
        ErrorCode::WrongShape,
        ErrorCode::CertificateEncoding,
        ErrorCode::NotACertificate,
        ErrorCode::Facility,
        ErrorCode::BodyError,
        ErrorCode::BodyTimeout,
        ErrorCode::BodyTooLarge,
        ErrorCode::CertificateRevoked,
        ErrorCode::CertificateExpired,
        ErrorCode::CertificateNotYetValid,
        ErrorCode::CertificateNotTrusted,
        ErrorCode::NotRegistered,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::ServiceFault,
        ErrorCode::Busy,
        ErrorCode::Internal,
    ];
}

/// A refused registration says why with the code a query's answer would carry.
impl From<ResultErrorCode> for ErrorCode {
    fn from(code: ResultErrorCode) -> Self {
        match code {
            ResultErrorCode::CertificateRevoked => ErrorCode::CertificateRevoked,
            ResultErrorCode::CertificateExpired => ErrorCode::CertificateExpired,
            ResultErrorCode::CertificateNotYetValid => ErrorCode::CertificateNotYetValid,
            ResultErrorCode::CertificateNotTrusted => ErrorCode::CertificateNotTrusted,
            ResultErrorCode::NotRegistered => ErrorCode::NotRegistered,
        }
    }
}

/// The body of every error answer: `{"Error": CODE, "Message": TEXT}`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorBody {
    pub error: ErrorCode,
    pub message: String,
}

impl ErrorBody {
    pub fn json_schema() -> Value {
        described(
            object(
                vec![
                    ("Error", one_of(&ErrorCode::ALL, "Why, for programs")),
                    ("Message", string("Why, for people")),
                ],
                &["Error", "Message"],
            ),
            "The body of every error answer (4xx, 5xx).",
        )
    }
}

/// Parses and checks a query body. Never panics: serde_json limits nesting (128 levels),
/// and the body size was limited before this is called.
#[cfg(test)]
pub(crate) fn parse_query(body: &[u8]) -> Result<Query, RequestError> {
    parse_query_with(body, &ParsedCertificates::new())
}

/// [`parse_query`] with the certificate parsed through `certificates`.
pub(crate) fn parse_query_with(
    body: &[u8],
    certificates: &ParsedCertificates,
) -> Result<Query, RequestError> {
    let body: QueryBody = parse_private(body)?;
    let facility = body.facility.trim();
    if facility.is_empty()
        || facility.chars().count() > MAX_FACILITY_CHARS
        || facility.chars().any(char::is_control)
    {
        return Err(RequestError::Facility);
    }
    let (certificate, key) = certificate(&body.certificate, certificates)?;
    Ok(Query {
        certificate,
        key,
        facility: facility.to_owned(),
        consent: body.consent,
    })
}

/// Parses and checks a registration body.
#[cfg(test)]
pub(crate) fn parse_registration(body: &[u8]) -> Result<Registration, RequestError> {
    parse_registration_with(body, &ParsedCertificates::new())
}

/// [`parse_registration`] with the certificate parsed through `certificates`.
pub(crate) fn parse_registration_with(
    body: &[u8],
    certificates: &ParsedCertificates,
) -> Result<Registration, RequestError> {
    let body: RegistrationBody = parse_private(body)?;
    let (certificate, key) = certificate(&body.certificate, certificates)?;
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
fn certificate(
    base64_der: &str,
    certificates: &ParsedCertificates,
) -> Result<(X509, CertificateKey), RequestError> {
    let der = base64::engine::general_purpose::STANDARD
        .decode(base64_der.trim())
        .map_err(|e| RequestError::CertificateEncoding(e.to_string()))?;
    certificates.parse(&der).map_err(|e| match e {
        KeyError::NotACertificate(reason) | KeyError::Serial(reason) => {
            RequestError::NotACertificate(reason)
        }
        KeyError::EmptyIssuer => RequestError::NotACertificate("empty issuer".into()),
    })
}

/// Where in `value` something like a 個人番号 sits: a key named like one (`my_number`,
/// `MyNumber`, `mynumber`, `個人番号`, `kojin_bango`, `individual_number`), or any string or
/// number that holds one ([`holds_my_number`]). The certificate is not searched: it is
/// base64 (digits and slashes by chance) and is checked as a certificate.
pub fn find_my_number(value: &Value) -> Option<String> {
    fn walk(value: &Value, path: &mut String) -> Option<String> {
        match value {
            Value::String(s) if holds_my_number(s) => Some(path.clone()),
            Value::Number(n) if holds_my_number(&n.to_string()) => Some(path.clone()),
            Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(item, path);
                path.truncate(len);
                found
            }),
            Value::Object(map) => map.iter().find_map(|(key, item)| {
                // A key can carry the number as well as a value can; the place is then
                // told without the key, which is the number.
                if holds_my_number(key) {
                    return Some(format!("a key of {path}"));
                }
                let len = path.len();
                path.push('.');
                path.push_str(key);
                let found = if is_my_number_key(key) {
                    Some(path.clone())
                } else if key == "certificate" && item.is_string() {
                    None
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

/// Whether `text` holds a run of exactly 12 digits (with or without a valid check digit: a
/// leak is a leak), as a person or a program might write one: ASCII or full-width digits,
/// grouped by spaces, hyphens, dots or slashes (ASCII or full-width), with letters or
/// anything else around it (`A123456789018`). 10-digit facility codes and 13-digit numbers
/// are not one. A colon ends a run, so a time or a `host:port` never adds up to one.
pub fn holds_my_number(text: &str) -> bool {
    let mut run = 0usize;
    for c in text.chars() {
        if is_digit(c) {
            run += 1;
        } else if !is_separator(c) {
            if run == 12 {
                return true;
            }
            run = 0;
        }
    }
    run == 12
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || ('\u{ff10}'..='\u{ff19}').contains(&c)
}

/// What groups the digits of a number without ending it: spaces, hyphens and dashes, dots,
/// slashes, in ASCII and full width (the forms NFKC folds to them, and the long vowel mark
/// that Japanese input methods type for a hyphen).
fn is_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '-' | '.' | '/' | '\u{3000}' | '\u{2010}'
            ..='\u{2015}'
                | '\u{2212}'
                | '\u{30fc}'
                | '\u{ff0d}'
                | '\u{ff0e}'
                | '\u{ff0f}'
                | '\u{ff65}'
                | '\u{30fb}'
    )
}

/// Where in a request's head something like a 個人番号 sits: the URL query (decoded) or a
/// header's value. `Host` is not searched (an address and port, never a number a person
/// typed), nor are names (the standard's, or the client's own).
pub fn find_my_number_in_head<'h>(
    query: Option<&str>,
    headers: impl IntoIterator<Item = (&'h str, &'h [u8])>,
) -> Option<String> {
    if query.is_some_and(|q| holds_my_number(&decoded_query(q))) {
        return Some("the URL query".into());
    }
    headers
        .into_iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
        .find(|(_, value)| holds_my_number(&String::from_utf8_lossy(value)))
        .map(|(name, _)| format!("the header {name}"))
}

/// The text of a URL query with `%XX` decoded (as UTF-8, lossily) and `+` as a space, for
/// [`holds_my_number`].
pub fn decoded_query(query: &str) -> String {
    let bytes = query.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
            Some(ErrorCode::WrongShape)
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
        // Written as people and programs write it: full width, a letter prefix, dots,
        // slashes, full-width hyphens.
        for text in [
            "１２３４５６７８９０１８",
            "A123456789018",
            "no.123456789018",
            "1234.5678.9018",
            "1234/5678/9018",
            "１２３４－５６７８－９０１８",
            "1234\u{3000}5678\u{3000}9018",
        ] {
            let body = json!({"certificate": cert, "facility": text});
            assert!(
                matches!(
                    parse_query(body.to_string().as_bytes()),
                    Err(RequestError::MyNumberRefused(_))
                ),
                "{text}"
            );
        }
        // Not one: a date, a time, a host and port, a 10-digit facility code.
        for text in [
            "2025-11-04",
            "2025-11-04 12:30:15",
            "10.20.30.40:5000",
            "1312345678",
        ] {
            assert!(!holds_my_number(text), "{text}");
        }
        // 10- and 13-digit values are not a 個人番号 (a facility code has 10 digits).
        assert_eq!(find_my_number(&json!({"facility": "1312345678"})), None);
        assert_eq!(find_my_number(&json!({"n": "1234567890123"})), None);
        assert_eq!(
            find_my_number(&json!({"consent": {"1234-5678-9018": true}})),
            Some("a key of $.consent".into())
        );
        assert_eq!(
            find_my_number(&json!({"a": [{"b": "123456789018"}]})),
            Some("$.a[0].b".into())
        );
    }

    #[test]
    fn a_my_number_in_the_query_or_a_header_is_found() {
        let none: [(&str, &[u8]); 0] = [];
        assert_eq!(
            find_my_number_in_head(
                Some("id=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94567890123"),
                none
            ),
            None,
            "13 digits"
        );
        assert_eq!(
            find_my_number_in_head(
                Some("id=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%9456789018"),
                none
            ),
            Some("the URL query".into())
        );
        assert_eq!(
            find_my_number_in_head(Some("n=1234+5678+9018"), none),
            Some("the URL query".into())
        );
        let headers: [(&str, &[u8]); 3] = [
            ("host", b"192.168.100.200"),
            ("user-agent", b"reader/1.0"),
            ("x-patient", b"1234-5678-9018"),
        ];
        assert_eq!(
            find_my_number_in_head(None, headers),
            Some("the header x-patient".into())
        );
        assert_eq!(decoded_query("a%2"), "a%2", "a cut escape stays as it is");
    }

    #[test]
    fn broken_requests_get_a_reason_not_a_panic() {
        let cases: [(&[u8], ErrorCode); 8] = [
            (b"", ErrorCode::NotJson),
            (b"{", ErrorCode::NotJson),
            (b"\xff\xfe", ErrorCode::NotJson),
            (b"[]", ErrorCode::WrongShape),
            (
                br#"{"certificate": "AAAA", "facility": "F", "x": 1}"#,
                ErrorCode::WrongShape,
            ),
            (
                br#"{"certificate": "***", "facility": "F"}"#,
                ErrorCode::CertificateEncoding,
            ),
            (
                br#"{"certificate": "AAAA", "facility": "F"}"#,
                ErrorCode::NotACertificate,
            ),
            (
                br#"{"certificate": "AAAA", "facility": ""}"#,
                ErrorCode::Facility,
            ),
        ];
        for (body, code) in cases {
            let err = parse_query(body).err().expect("refused");
            assert_eq!(err.code(), code, "{}", String::from_utf8_lossy(body));
        }
        let deep = "[".repeat(10_000);
        assert_eq!(
            parse_query(deep.as_bytes()).err().map(|e| e.code()),
            Some(ErrorCode::NotJson)
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
