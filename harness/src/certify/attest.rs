//! Signed statements over evidence (docs/attestation.md): an in-toto Statement v1 naming
//! every file of a bundle by its SHA-256, carried in a DSSE envelope signed with Ed25519.
//!
//! The invariant: a payload is returned only when one of the envelope's signatures verifies,
//! with the key the caller gave, over `PAE(payloadType, payload)`, the payload type is
//! in-toto's, and the signature names that key's id; a statement is returned only when every
//! subject has a valid relative path for a name (no `..`, nothing absolute, nothing to
//! normalise) and a 64-digit lower-case SHA-256, and no name is there twice. So a caller that
//! compares files against a verified statement never opens a path outside the bundle, and
//! every way an envelope fails says what is wrong in words.
//!
//! Standard formats, so a bundle can be checked without myna-hil (`openssl pkeyutl`,
//! `sha256sum`): the DSSE protocol and envelope
//! (<https://github.com/secure-systems-lab/dsse/blob/master/protocol.md>) and the in-toto
//! Statement (<https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md>).
//!
//! Pure but for the key files ([`write_key_pair`], [`read_private`], [`read_public`]). An
//! envelope is hostile input: its size, its number of signatures and subjects are bounded
//! before anything costs more than reading it.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::sign::{Signer, Verifier};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The DSSE payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The statement's `_type`.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The predicate type of myna-hil's certification decision (docs/attestation.md).
pub const PREDICATE_TYPE: &str = "https://myna-hil.dev/certification/v1";

/// The largest envelope read: a statement over 100,000 files is some 15 MiB.
pub const MAX_ENVELOPE_BYTES: u64 = 64 * 1024 * 1024;
/// The most subjects a statement may name.
pub const MAX_SUBJECTS: usize = 100_000;
/// The most signatures an envelope may carry (each costs a verification).
pub const MAX_SIGNATURES: usize = 64;
/// The longest subject name, in bytes.
pub const MAX_NAME_BYTES: usize = 1024;
/// The largest key file read: an Ed25519 PEM is about 120 bytes.
pub const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;
/// The length of an Ed25519 signature.
const SIGNATURE_BYTES: usize = 64;
/// How much of a hostile string (a key id, a payload type) a message shows.
const SHOWN_CHARS: usize = 80;

/// Why a key, an envelope or a statement was refused.
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    #[error("the envelope is larger than the limit of {limit} bytes")]
    EnvelopeTooLarge { limit: u64 },
    #[error("the envelope is not a DSSE JSON envelope: {0}")]
    Envelope(String),
    #[error("the envelope's {field} is not base64")]
    Base64 { field: &'static str },
    #[error("the envelope holds {count} signatures, more than the limit of {limit}")]
    TooManySignatures { count: usize, limit: usize },
    #[error(
        "the payload type is `{}`, not `{PAYLOAD_TYPE}`: it was changed, or this is not an \
         in-toto attestation",
        shown(found)
    )]
    UnsupportedPayloadType { found: String },
    #[error("the envelope holds no signature")]
    NoSignatures,
    #[error(
        "the signature by key {} is {len} bytes, not the {SIGNATURE_BYTES} of an Ed25519 \
         signature: it was changed",
        shown(keyid)
    )]
    MalformedSignature { keyid: String, len: usize },
    #[error("{}", mismatch(keyid))]
    SignatureMismatch { keyid: String },
    #[error(
        "the signature verifies with the given key but names key {}, not {expected}: its key \
         id was changed",
        shown(found)
    )]
    KeyIdMismatch { found: String, expected: String },
    #[error(
        "the envelope is signed by key {}, not by the given key {expected}",
        signed_by.iter().map(|k| shown(k)).collect::<Vec<_>>().join(", ")
    )]
    WrongKey {
        expected: String,
        signed_by: Vec<String>,
    },
    #[error("the payload is not an in-toto Statement v1: {0}")]
    Statement(String),
    #[error("subject `{}`: {why}", shown(name))]
    SubjectName { name: String, why: &'static str },
    #[error("subject `{}` is named twice", shown(name))]
    DuplicateSubject { name: String },
    #[error(
        "subject `{}`: its sha256 is not 64 lower-case hex digits",
        shown(name)
    )]
    SubjectDigest { name: String },
    #[error("the statement names {count} subjects, more than the limit of {MAX_SUBJECTS}")]
    TooManySubjects { count: usize },
    #[error("the key is {found}, not an Ed25519 key")]
    NotEd25519 { found: String },
    #[error("{}: not a PEM key: {why}", path.display())]
    NotAKey { path: PathBuf, why: String },
    #[error("{}: is a private key; give the public key (the .pub file)", path.display())]
    PrivateNotPublic { path: PathBuf },
    #[error("{}: exists already; a key file is never replaced", path.display())]
    KeyExists { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Input {
        path: PathBuf,
        source: crate::yaml::InputError,
    },
    #[error("cryptography failed: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
}

/// A hostile string as a message shows it: control characters escaped, at most
/// [`SHOWN_CHARS`] characters.
fn shown(text: &str) -> String {
    let mut out: String = text.chars().take(SHOWN_CHARS).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    if out.is_empty() {
        return "(none)".to_owned();
    }
    common::text::escape_controls(&out).into_owned()
}

fn mismatch(keyid: &str) -> String {
    if keyid.is_empty() {
        // Without a key id the two causes cannot be told apart.
        "the signature does not verify with the given key: the payload or the signature was \
         changed after signing, or another key made it"
            .to_owned()
    } else {
        format!(
            "the signature by key {} does not verify: the payload or the signature was changed \
             after signing",
            shown(keyid)
        )
    }
}

/// DSSE's pre-authentication encoding, the bytes a signature covers:
/// `DSSEv1 SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal. Binding the
/// type and both lengths means neither can change without the signature failing.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    out.extend_from_slice(
        format!(
            "DSSEv1 {} {payload_type} {} ",
            payload_type.len(),
            payload.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(payload);
    out
}

/// Lower-case hex SHA-256 of `bytes`.
pub use crate::clips::sha256_hex;

/// Whether `digest` is a SHA-256 as statements write it: 64 lower-case hex digits.
pub fn is_sha256_hex(digest: &str) -> bool {
    digest.len() == 64
        && digest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Checks a subject name: a normalised relative path with `/` between its parts. Every
/// name a statement holds can be joined to the bundle folder and never leave it.
pub fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("the name is empty");
    }
    if name.len() > MAX_NAME_BYTES {
        return Err("the name is longer than 1024 bytes");
    }
    if name.contains('\0') {
        return Err("the name holds a NUL");
    }
    if name.chars().any(char::is_control) {
        // A newline or an escape would break `sha256sum -c` lists and terminals.
        return Err("the name holds a control character");
    }
    if name.contains('\\') {
        return Err("the name holds a backslash");
    }
    if name.starts_with('/') {
        return Err("the name is an absolute path");
    }
    for part in name.split('/') {
        match part {
            "" => return Err("the name is not normalised (an empty part: `//` or a final `/`)"),
            "." => return Err("the name is not normalised (a `.` part)"),
            ".." => return Err("the name holds a `..` part"),
            _ => {}
        }
    }
    Ok(())
}

/// One file a statement vouches for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Subject {
    /// Relative path in the bundle, `/` between parts ([`check_name`]).
    pub name: String,
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
}

/// An in-toto Statement v1: the subjects and an opaque predicate.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    pub subjects: Vec<Subject>,
    pub predicate_type: String,
    pub predicate: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
struct WireStatement {
    #[serde(rename = "_type")]
    type_: String,
    #[serde(deserialize_with = "bounded_subjects")]
    subject: Vec<WireSubject>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    // Optional in in-toto v1: absent reads as null.
    #[serde(default)]
    predicate: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
struct WireSubject {
    name: String,
    digest: WireDigest,
}

// Other algorithms in a digest set are ignored (in-toto allows several); sha256 is required.
#[derive(Serialize, Deserialize)]
struct WireDigest {
    sha256: String,
}

/// The subject list, refused past [`MAX_SUBJECTS`] before more is allocated.
fn bounded_subjects<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<WireSubject>, D::Error> {
    struct Bounded;
    impl<'de> serde::de::Visitor<'de> for Bounded {
        type Value = Vec<WireSubject>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a list of at most {MAX_SUBJECTS} subjects")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(subject) = seq.next_element()? {
                if out.len() == MAX_SUBJECTS {
                    return Err(serde::de::Error::custom(format!(
                        "more than {MAX_SUBJECTS} subjects"
                    )));
                }
                out.push(subject);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_seq(Bounded)
}

impl Statement {
    /// A statement over `subjects`, checked as [`Statement::check`] says.
    pub fn new(
        subjects: Vec<Subject>,
        predicate_type: &str,
        predicate: serde_json::Value,
    ) -> Result<Statement, AttestError> {
        let statement = Statement {
            subjects,
            predicate_type: predicate_type.to_owned(),
            predicate,
        };
        statement.check()?;
        Ok(statement)
    }

    /// Checks the subjects: at most [`MAX_SUBJECTS`], each a valid name ([`check_name`])
    /// with a valid SHA-256 ([`is_sha256_hex`]), no name twice; and a predicate type.
    pub fn check(&self) -> Result<(), AttestError> {
        if self.subjects.len() > MAX_SUBJECTS {
            return Err(AttestError::TooManySubjects {
                count: self.subjects.len(),
            });
        }
        if self.predicate_type.is_empty() {
            return Err(AttestError::Statement(
                "the predicateType is empty".to_owned(),
            ));
        }
        let mut seen = BTreeSet::new();
        for subject in &self.subjects {
            check_name(&subject.name).map_err(|why| AttestError::SubjectName {
                name: subject.name.clone(),
                why,
            })?;
            if !is_sha256_hex(&subject.sha256) {
                return Err(AttestError::SubjectDigest {
                    name: subject.name.clone(),
                });
            }
            if !seen.insert(subject.name.as_str()) {
                return Err(AttestError::DuplicateSubject {
                    name: subject.name.clone(),
                });
            }
        }
        Ok(())
    }

    /// The statement as in-toto v1 JSON (compact): the bytes an envelope signs.
    pub fn to_json(&self) -> Result<Vec<u8>, AttestError> {
        self.check()?;
        let wire = WireStatement {
            type_: STATEMENT_TYPE.to_owned(),
            subject: self
                .subjects
                .iter()
                .map(|s| WireSubject {
                    name: s.name.clone(),
                    digest: WireDigest {
                        sha256: s.sha256.clone(),
                    },
                })
                .collect(),
            predicate_type: self.predicate_type.clone(),
            predicate: self.predicate.clone(),
        };
        serde_json::to_vec(&wire).map_err(|e| AttestError::Statement(e.to_string()))
    }

    /// Reads a statement back, strictly: the right `_type`, then [`Statement::check`].
    /// Unknown fields are ignored, as in-toto's parsing rules ask; a field given twice is
    /// refused.
    pub fn from_json(bytes: &[u8]) -> Result<Statement, AttestError> {
        if bytes.len() as u64 > MAX_ENVELOPE_BYTES {
            return Err(AttestError::EnvelopeTooLarge {
                limit: MAX_ENVELOPE_BYTES,
            });
        }
        let wire: WireStatement = from_object(bytes).map_err(AttestError::Statement)?;
        if wire.type_ != STATEMENT_TYPE {
            return Err(AttestError::Statement(format!(
                "its _type is `{}`, not `{STATEMENT_TYPE}`",
                shown(&wire.type_)
            )));
        }
        Statement::new(
            wire.subject
                .into_iter()
                .map(|s| Subject {
                    name: s.name,
                    sha256: s.digest.sha256,
                })
                .collect(),
            &wire.predicate_type,
            wire.predicate,
        )
    }
}

/// An Ed25519 key pair (the private key stays in memory; `Debug` shows only its id).
#[derive(Clone)]
pub struct KeyPair {
    key: PKey<Private>,
    key_id: String,
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// An Ed25519 public key.
#[derive(Clone)]
pub struct PublicKey {
    key: PKey<Public>,
    key_id: String,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Refuses a key of another algorithm, by name.
fn ed25519_only(id: Id) -> Result<(), AttestError> {
    if id == Id::ED25519 {
        return Ok(());
    }
    let found = match id {
        Id::RSA => "an RSA key".to_owned(),
        Id::EC => "an EC (ECDSA) key".to_owned(),
        Id::ED448 => "an Ed448 key".to_owned(),
        Id::DSA => "a DSA key".to_owned(),
        other => format!("a key of type {}", other.as_raw()),
    };
    Err(AttestError::NotEd25519 { found })
}

/// The key id: lower-case hex SHA-256 of the public key's DER SubjectPublicKeyInfo
/// (`openssl pkey -pubin -outform DER | sha256sum` gives the same).
fn key_id_of(spki_der: &[u8]) -> String {
    sha256_hex(spki_der)
}

impl KeyPair {
    /// A new random key pair.
    pub fn generate() -> Result<KeyPair, AttestError> {
        KeyPair::from_key(PKey::generate_ed25519()?)
    }

    fn from_key(key: PKey<Private>) -> Result<KeyPair, AttestError> {
        ed25519_only(key.id())?;
        let key_id = key_id_of(&key.public_key_to_der()?);
        Ok(KeyPair { key, key_id })
    }

    /// The key pair in a PEM private key (PKCS#8 `PRIVATE KEY`, unencrypted).
    pub fn from_pem(pem: &[u8]) -> Result<KeyPair, AttestError> {
        KeyPair::from_key(PKey::private_key_from_pem(pem)?)
    }

    /// The private key as PKCS#8 PEM, unencrypted: keep it where only the signer reads it.
    pub fn to_pem_private(&self) -> Result<Vec<u8>, AttestError> {
        Ok(self.key.private_key_to_pem_pkcs8()?)
    }

    /// The public key as PEM (`PUBLIC KEY`, SubjectPublicKeyInfo).
    pub fn public_pem(&self) -> Result<Vec<u8>, AttestError> {
        Ok(self.key.public_key_to_pem()?)
    }

    pub fn public_key(&self) -> Result<PublicKey, AttestError> {
        PublicKey::from_pem(&self.public_pem()?)
    }

    /// Lower-case hex SHA-256 of the public key's DER SubjectPublicKeyInfo.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The Ed25519 signature of `message` (64 bytes; Ed25519 hashes internally).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, AttestError> {
        Ok(Signer::new_without_digest(&self.key)?.sign_oneshot_to_vec(message)?)
    }
}

impl PublicKey {
    /// The key in a PEM public key (`PUBLIC KEY`); an Ed25519 key only.
    pub fn from_pem(pem: &[u8]) -> Result<PublicKey, AttestError> {
        let key = PKey::public_key_from_pem(pem)?;
        ed25519_only(key.id())?;
        let key_id = key_id_of(&key.public_key_to_der()?);
        Ok(PublicKey { key, key_id })
    }

    pub fn to_pem(&self) -> Result<Vec<u8>, AttestError> {
        Ok(self.key.public_key_to_pem()?)
    }

    /// Lower-case hex SHA-256 of the key's DER SubjectPublicKeyInfo.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Whether `signature` is this key's Ed25519 signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        if signature.len() != SIGNATURE_BYTES {
            return false;
        }
        // An error (a malformed point) is as good as a failed check.
        Verifier::new_without_digest(&self.key)
            .and_then(|mut v| v.verify_oneshot(signature, message))
            .unwrap_or(false)
    }
}

/// A DSSE envelope, decoded: the payload and signatures as bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub payload_type: String,
    pub payload: Vec<u8>,
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of an envelope. The key id is a hint, not signed: it never decides
/// whether a signature is accepted, only which message a failure gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvelopeSignature {
    /// Empty when the envelope gives none.
    pub keyid: String,
    pub sig: Vec<u8>,
}

// Empty fields may be omitted (DSSE envelope.md).
#[derive(Serialize, Deserialize)]
struct WireEnvelope {
    #[serde(default)]
    payload: String,
    #[serde(rename = "payloadType", default)]
    payload_type: String,
    #[serde(default)]
    signatures: Vec<WireSignature>,
}

#[derive(Serialize, Deserialize)]
struct WireSignature {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    keyid: String,
    #[serde(default)]
    sig: String,
}

/// A JSON object read into `T`. Serde would also take a list for a struct: refused.
fn from_object<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => serde_json::from_slice(bytes).map_err(|e| e.to_string()),
        _ => Err("it is not a JSON object".to_owned()),
    }
}

/// Standard or URL-safe base64, padded or not: DSSE verifiers must take either alphabet.
fn decode_base64(text: &str, field: &'static str) -> Result<Vec<u8>, AttestError> {
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    GeneralPurpose::new(&alphabet::STANDARD, config)
        .decode(text)
        .or_else(|_| GeneralPurpose::new(&alphabet::URL_SAFE, config).decode(text))
        .map_err(|_| AttestError::Base64 { field })
}

impl Envelope {
    /// The envelope as DSSE JSON (standard base64, indented, a final newline).
    pub fn to_json(&self) -> Result<Vec<u8>, AttestError> {
        let wire = WireEnvelope {
            payload: STANDARD.encode(&self.payload),
            payload_type: self.payload_type.clone(),
            signatures: self
                .signatures
                .iter()
                .map(|s| WireSignature {
                    keyid: s.keyid.clone(),
                    sig: STANDARD.encode(&s.sig),
                })
                .collect(),
        };
        let mut out =
            serde_json::to_vec_pretty(&wire).map_err(|e| AttestError::Envelope(e.to_string()))?;
        out.push(b'\n');
        Ok(out)
    }

    /// Reads DSSE JSON: at most [`MAX_ENVELOPE_BYTES`] and [`MAX_SIGNATURES`]; the payload
    /// and signatures must be base64. Nothing is verified yet ([`verify_envelope`]).
    pub fn from_json(bytes: &[u8]) -> Result<Envelope, AttestError> {
        if bytes.len() as u64 > MAX_ENVELOPE_BYTES {
            return Err(AttestError::EnvelopeTooLarge {
                limit: MAX_ENVELOPE_BYTES,
            });
        }
        let wire: WireEnvelope = from_object(bytes).map_err(AttestError::Envelope)?;
        if wire.signatures.len() > MAX_SIGNATURES {
            return Err(AttestError::TooManySignatures {
                count: wire.signatures.len(),
                limit: MAX_SIGNATURES,
            });
        }
        let signatures = wire
            .signatures
            .into_iter()
            .map(|s| {
                Ok(EnvelopeSignature {
                    keyid: s.keyid,
                    sig: decode_base64(&s.sig, "signature")?,
                })
            })
            .collect::<Result<_, AttestError>>()?;
        Ok(Envelope {
            payload: decode_base64(&wire.payload, "payload")?,
            payload_type: wire.payload_type,
            signatures,
        })
    }
}

/// Signs `statement_json` (an in-toto statement's bytes) into an envelope with one
/// signature by `key`, over `PAE(PAYLOAD_TYPE, statement_json)`.
pub fn sign_envelope(statement_json: &[u8], key: &KeyPair) -> Result<Envelope, AttestError> {
    let sig = key.sign(&pae(PAYLOAD_TYPE, statement_json))?;
    Ok(Envelope {
        payload_type: PAYLOAD_TYPE.to_owned(),
        payload: statement_json.to_vec(),
        signatures: vec![EnvelopeSignature {
            keyid: key.key_id().to_owned(),
            sig,
        }],
    })
}

/// The payload of `envelope` once a signature by `key` verifies (the module's invariant).
/// A failure says which of these it is: the payload type changed, no signature, a
/// signature of the wrong length, a signature that does not match the payload, a key id
/// changed on a good signature, or a signature by another key.
pub fn verify_envelope(envelope: &Envelope, key: &PublicKey) -> Result<Vec<u8>, AttestError> {
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(AttestError::UnsupportedPayloadType {
            found: envelope.payload_type.clone(),
        });
    }
    if envelope.signatures.is_empty() {
        return Err(AttestError::NoSignatures);
    }
    if envelope.signatures.len() > MAX_SIGNATURES {
        return Err(AttestError::TooManySignatures {
            count: envelope.signatures.len(),
            limit: MAX_SIGNATURES,
        });
    }
    let message = pae(&envelope.payload_type, &envelope.payload);
    let mut failure: Option<AttestError> = None;
    // Most telling first: a good signature under a changed id, then a malformed or a
    // failing signature that names this key; a signature by another key last.
    let rank = |e: &AttestError| match e {
        AttestError::KeyIdMismatch { .. } => 0,
        AttestError::MalformedSignature { .. } => 1,
        AttestError::SignatureMismatch { .. } => 2,
        _ => 3,
    };
    for signature in &envelope.signatures {
        // No key id is no hint: any key may have made it.
        let named = signature.keyid.is_empty() || signature.keyid == key.key_id();
        let verifies = key.verifies(&message, &signature.sig);
        let error = match (named, verifies) {
            (true, true) => return Ok(envelope.payload.clone()),
            (false, true) => AttestError::KeyIdMismatch {
                found: signature.keyid.clone(),
                expected: key.key_id().to_owned(),
            },
            (true, false) if signature.sig.len() != SIGNATURE_BYTES => {
                AttestError::MalformedSignature {
                    keyid: signature.keyid.clone(),
                    len: signature.sig.len(),
                }
            }
            (true, false) => AttestError::SignatureMismatch {
                keyid: signature.keyid.clone(),
            },
            (false, false) => AttestError::WrongKey {
                expected: key.key_id().to_owned(),
                signed_by: envelope
                    .signatures
                    .iter()
                    .map(|s| s.keyid.clone())
                    .collect(),
            },
        };
        if failure.as_ref().is_none_or(|f| rank(&error) < rank(f)) {
            failure = Some(error);
        }
    }
    Err(failure.unwrap_or(AttestError::NoSignatures))
}

/// [`verify_envelope`], then the payload read as a statement ([`Statement::from_json`]).
pub fn open_envelope(envelope: &Envelope, key: &PublicKey) -> Result<Statement, AttestError> {
    Statement::from_json(&verify_envelope(envelope, key)?)
}

/// The paths of a key pair's files: `PREFIX.key` and `PREFIX.pub`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFiles {
    pub private: PathBuf,
    pub public: PathBuf,
    pub key_id: String,
}

/// `PREFIX.key` and `PREFIX.pub` (the suffix is added, never replacing a dot in PREFIX).
pub fn key_file_paths(prefix: &Path) -> (PathBuf, PathBuf) {
    let with = |suffix: &str| {
        let mut name = prefix.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    (with(".key"), with(".pub"))
}

/// Generates a key pair and writes `PREFIX.key` (PKCS#8 PEM, mode 0600) and `PREFIX.pub`
/// (mode 0644). Both are created exclusively (`O_EXCL`): if either exists (even as a
/// dangling link) nothing is written, so a key is never replaced. When the public file
/// cannot be written, the private one just made is removed.
pub fn write_key_pair(prefix: &Path) -> Result<KeyFiles, AttestError> {
    let (private, public) = key_file_paths(prefix);
    for path in [&private, &public] {
        if std::fs::symlink_metadata(path).is_ok() {
            return Err(AttestError::KeyExists { path: path.clone() });
        }
    }
    let pair = KeyPair::generate()?;
    let private_pem = pair.to_pem_private()?;
    let public_pem = pair.public_pem()?;
    write_new(&private, &private_pem, 0o600)?;
    if let Err(e) = write_new(&public, &public_pem, 0o644) {
        // Ours, made just now: no half pair is left behind.
        let _ = std::fs::remove_file(&private);
        return Err(e);
    }
    Ok(KeyFiles {
        private,
        public,
        key_id: pair.key_id().to_owned(),
    })
}

/// Creates `path` (never replacing anything), writes `bytes`, syncs.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), AttestError> {
    let io = |source| AttestError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => AttestError::KeyExists {
                path: path.to_owned(),
            },
            _ => io(e),
        })?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(path);
        return Err(io(e));
    }
    Ok(())
}

fn read_key_file(path: &Path) -> Result<String, AttestError> {
    crate::yaml::read_input_limited(path, MAX_KEY_FILE_BYTES).map_err(|source| AttestError::Input {
        path: path.to_owned(),
        source,
    })
}

/// Reads a private key file (PKCS#8 PEM, at most [`MAX_KEY_FILE_BYTES`]); an Ed25519 key
/// only.
pub fn read_private(path: &Path) -> Result<KeyPair, AttestError> {
    let text = read_key_file(path)?;
    let key = PKey::private_key_from_pem(text.as_bytes()).map_err(|e| AttestError::NotAKey {
        path: path.to_owned(),
        why: first_reason(&e),
    })?;
    KeyPair::from_key(key)
}

/// Reads a public key file (PEM `PUBLIC KEY`, at most [`MAX_KEY_FILE_BYTES`]); an Ed25519
/// key only. A private key given by mistake is named as such.
pub fn read_public(path: &Path) -> Result<PublicKey, AttestError> {
    let text = read_key_file(path)?;
    match PKey::public_key_from_pem(text.as_bytes()) {
        Ok(_) => PublicKey::from_pem(text.as_bytes()),
        Err(e) => {
            if PKey::private_key_from_pem(text.as_bytes()).is_ok() {
                return Err(AttestError::PrivateNotPublic {
                    path: path.to_owned(),
                });
            }
            Err(AttestError::NotAKey {
                path: path.to_owned(),
                why: first_reason(&e),
            })
        }
    }
}

/// OpenSSL's first reason, in words (its full stack is for developers).
fn first_reason(e: &openssl::error::ErrorStack) -> String {
    e.errors()
        .first()
        .and_then(|e| e.reason().map(str::to_owned))
        .unwrap_or_else(|| "no PEM key found".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("myna-attest-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn statement() -> Statement {
        Statement::new(
            vec![
                Subject {
                    name: "report/summary.json".into(),
                    sha256: sha256_hex(b"summary"),
                },
                Subject {
                    name: "log.txt".into(),
                    sha256: sha256_hex(b"log"),
                },
            ],
            PREDICATE_TYPE,
            json!({"certified": true, "reasons": []}),
        )
        .unwrap()
    }

    fn signed() -> (KeyPair, Envelope) {
        let key = KeyPair::generate().unwrap();
        let envelope = sign_envelope(&statement().to_json().unwrap(), &key).unwrap();
        (key, envelope)
    }

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // protocol.md, "Test Vectors".
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
        // Lengths are of bytes, not characters; an empty body still ends in a space.
        assert_eq!(pae("ä", b""), "DSSEv1 2 ä 0 ".as_bytes());
    }

    #[test]
    fn ed25519_over_pae_matches_a_dsse_vector() {
        // The DSSE repository's testvectors/vectors.json, "single-signature": key A is
        // RFC 8032's TEST 1 key, so the signature is deterministic.
        let seed = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap();
        let key = KeyPair::from_key(PKey::private_key_from_raw_bytes(&seed, Id::ED25519).unwrap())
            .unwrap();
        let payload = br#"{"_type":"https://in-toto.io/Statement/v1"}"#;
        let message = pae(PAYLOAD_TYPE, payload);
        assert_eq!(
            hex::encode(&message),
            "445353457631203238206170706c69636174696f6e2f766e642e696e2d746f746f2b6a736f6e20\
             3433207b225f74797065223a2268747470733a2f2f696e2d746f746f2e696f2f53746174656d656e\
             742f7631227d"
        );
        assert_eq!(
            STANDARD.encode(key.sign(&message).unwrap()),
            "2WAfaHm5jluo0w+0rk8uVkluELJYWjSmU9x7EUzx+AyteDGJ4/nqyJXfmAUVFIAoQafWm7AxBZNw5M9ixNHiCA=="
        );
        // Its URL-safe vector verifies too: verifiers take either alphabet.
        let envelope = Envelope::from_json(
            br#"{"payload":"-_-_Pj8=","payloadType":"application/vnd.in-toto+json",
                 "signatures":[{"sig":"P-_KHICeR7tI6S_YyejJTRtrXhcQyQ2LYPaL8h90KjC9qN8HU_svOQ6TuDOT1HIrsGW886DbWNWcCmX5twLrAw=="}]}"#,
        )
        .unwrap();
        assert_eq!(
            verify_envelope(&envelope, &key.public_key().unwrap()).unwrap(),
            [0xfb, 0xff, 0xbf, 0x3e, 0x3f]
        );
    }

    #[test]
    fn a_statement_is_in_toto_v1_json_and_reads_back() {
        let s = statement();
        let bytes = s.to_json().unwrap();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            value,
            json!({
                "_type": "https://in-toto.io/Statement/v1",
                "subject": [
                    {"name": "report/summary.json", "digest": {"sha256": sha256_hex(b"summary")}},
                    {"name": "log.txt", "digest": {"sha256": sha256_hex(b"log")}},
                ],
                "predicateType": "https://myna-hil.dev/certification/v1",
                "predicate": {"certified": true, "reasons": []},
            })
        );
        assert_eq!(Statement::from_json(&bytes).unwrap(), s);
    }

    #[test]
    fn statements_are_read_strictly() {
        let good = sha256_hex(b"x");
        let with = |subject: serde_json::Value| {
            serde_json::to_vec(&json!({
                "_type": STATEMENT_TYPE,
                "subject": subject,
                "predicateType": PREDICATE_TYPE,
                "predicate": {},
            }))
            .unwrap()
        };
        let one =
            |name: &str, digest: &str| with(json!([{"name": name, "digest": {"sha256": digest}}]));
        assert!(Statement::from_json(&one("a/b.txt", &good)).is_ok());
        for bad in [
            "../x",
            "a/../x",
            "/etc/passwd",
            "a//b",
            "a/",
            "./a",
            "a/./b",
            "a\\b",
            "a\0b",
            "a\nb",
            "",
            "..",
        ] {
            let e = Statement::from_json(&one(bad, &good)).unwrap_err();
            assert!(matches!(e, AttestError::SubjectName { .. }), "{bad:?}: {e}");
        }
        let long = "a".repeat(MAX_NAME_BYTES + 1);
        assert!(Statement::from_json(&one(&long, &good)).is_err());
        for bad in [
            &good.to_uppercase(),
            &good[1..],
            &format!("{}g", &good[1..]),
            "",
        ] {
            let e = Statement::from_json(&one("a", bad)).unwrap_err();
            assert!(
                matches!(e, AttestError::SubjectDigest { .. }),
                "{bad:?}: {e}"
            );
        }
        let twice = with(json!([
            {"name": "a", "digest": {"sha256": good}},
            {"name": "a", "digest": {"sha256": good}},
        ]));
        let e = Statement::from_json(&twice).unwrap_err();
        assert_eq!(e.to_string(), "subject `a` is named twice");
        // No sha256 in the digest set; another _type; a field twice.
        let e = Statement::from_json(&with(json!([{"name": "a", "digest": {"sha512": good}}])));
        assert!(e.unwrap_err().to_string().contains("sha256"));
        let v01 =
            br#"{"_type":"https://in-toto.io/Statement/v0.1","subject":[],"predicateType":"x"}"#;
        assert!(Statement::from_json(v01)
            .unwrap_err()
            .to_string()
            .contains("v0.1"));
        let dup = br#"{"_type":"https://in-toto.io/Statement/v1","_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x"}"#;
        assert!(Statement::from_json(dup)
            .unwrap_err()
            .to_string()
            .contains("duplicate"));
        // Unsorted names are fine.
        let unsorted = with(json!([
            {"name": "b", "digest": {"sha256": good}},
            {"name": "a", "digest": {"sha256": good}},
        ]));
        assert_eq!(
            Statement::from_json(&unsorted).unwrap().subjects[0].name,
            "b"
        );
    }

    #[test]
    fn too_many_subjects_are_refused_while_reading() {
        let subject = format!(
            r#"{{"name":"a","digest":{{"sha256":"{}"}}}},"#,
            sha256_hex(b"")
        );
        let mut text = format!(r#"{{"_type":"{STATEMENT_TYPE}","predicateType":"x","subject":["#);
        for _ in 0..=MAX_SUBJECTS {
            text.push_str(&subject);
        }
        text.pop();
        text.push_str("]}");
        let e = Statement::from_json(text.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("more than 100000 subjects"), "{e}");
    }

    #[test]
    fn a_signed_envelope_verifies_and_round_trips_through_json() {
        let (key, envelope) = signed();
        let json = envelope.to_json().unwrap();
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["payloadType"], PAYLOAD_TYPE);
        assert_eq!(value["signatures"][0]["keyid"], key.key_id());
        let back = Envelope::from_json(&json).unwrap();
        assert_eq!(back, envelope);
        let public = key.public_key().unwrap();
        assert_eq!(public.key_id(), key.key_id());
        assert_eq!(open_envelope(&back, &public).unwrap(), statement());
    }

    #[test]
    fn every_tampering_of_an_envelope_fails_with_its_own_words() {
        let (key, envelope) = signed();
        let public = key.public_key().unwrap();
        let check = |e: &Envelope, k: &PublicKey, words: &str| {
            let error = verify_envelope(e, k).unwrap_err().to_string();
            assert!(error.contains(words), "{error:?} lacks {words:?}");
        };

        let mut e = envelope.clone();
        let last = e.payload.len() - 2;
        e.payload[last] ^= 1;
        check(
            &e,
            &public,
            "does not verify: the payload or the signature was changed",
        );

        let mut e = envelope.clone();
        e.signatures[0].sig[10] ^= 0x40;
        check(
            &e,
            &public,
            "does not verify: the payload or the signature was changed",
        );

        let mut e = envelope.clone();
        e.signatures[0].sig.pop();
        check(
            &e,
            &public,
            "is 63 bytes, not the 64 of an Ed25519 signature",
        );

        let mut e = envelope.clone();
        e.payload_type = "application/json".into();
        check(&e, &public, "the payload type is `application/json`");

        let mut e = envelope.clone();
        e.signatures.clear();
        check(&e, &public, "holds no signature");

        let mut e = envelope.clone();
        e.signatures[0].keyid = "someone-else".into();
        check(&e, &public, "names key someone-else, not");

        let other = KeyPair::generate().unwrap().public_key().unwrap();
        check(
            &envelope,
            &other,
            &format!(
                "signed by key {}, not by the given key {}",
                key.key_id(),
                other.key_id()
            ),
        );

        // Without a key id a good signature verifies (the id is optional), another key's
        // does not.
        let mut e = envelope.clone();
        e.signatures[0].keyid.clear();
        assert!(verify_envelope(&e, &public).is_ok());
        check(&e, &other, "or another key made it");

        // A good signature among bad ones is enough.
        let mut e = envelope.clone();
        e.signatures.insert(
            0,
            EnvelopeSignature {
                keyid: "x".into(),
                sig: vec![0; 64],
            },
        );
        assert!(verify_envelope(&e, &public).is_ok());
    }

    #[test]
    fn hostile_envelopes_are_refused_in_words() {
        let e = Envelope::from_json(b"[]").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("the envelope is not a DSSE JSON envelope"),
            "{e}"
        );
        let e = Envelope::from_json(br#"{"payload":"%%%","payloadType":"x","signatures":[]}"#);
        assert_eq!(
            e.unwrap_err().to_string(),
            "the envelope's payload is not base64"
        );
        let many = format!(
            r#"{{"signatures":[{}]}}"#,
            vec![r#"{"sig":""}"#; 65].join(",")
        );
        assert!(matches!(
            Envelope::from_json(many.as_bytes()),
            Err(AttestError::TooManySignatures { count: 65, .. })
        ));
        let e = AttestError::UnsupportedPayloadType {
            found: format!("\x1b[31m{}", "x".repeat(200)),
        };
        let text = e.to_string();
        assert!(
            text.contains("\\x1b[31m") && text.contains('…') && text.len() < 250,
            "{text}"
        );
    }

    #[test]
    fn key_files_are_private_exclusive_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("keys");
        let prefix = dir.join("lab.2025");
        let files = write_key_pair(&prefix).unwrap();
        assert_eq!(files.private, dir.join("lab.2025.key"));
        assert_eq!(files.public, dir.join("lab.2025.pub"));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&files.private), 0o600);
        assert_eq!(mode(&files.public) & 0o600, 0o600);
        let pair = read_private(&files.private).unwrap();
        let public = read_public(&files.public).unwrap();
        assert_eq!(pair.key_id(), files.key_id);
        assert_eq!(public.key_id(), files.key_id);
        let pem = std::fs::read_to_string(&files.private).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8");
        assert!(!format!("{pair:?}").contains("BEGIN"));

        // Never replaced: neither file changes, whichever exists.
        let before = std::fs::read(&files.private).unwrap();
        let e = write_key_pair(&prefix).unwrap_err();
        assert!(
            e.to_string()
                .contains("exists already; a key file is never replaced"),
            "{e}"
        );
        assert_eq!(std::fs::read(&files.private).unwrap(), before);
        let only_pub = dir.join("other");
        std::fs::write(dir.join("other.pub"), b"mine").unwrap();
        assert!(matches!(
            write_key_pair(&only_pub),
            Err(AttestError::KeyExists { .. })
        ));
        assert!(!dir.join("other.key").exists());
        assert_eq!(std::fs::read(dir.join("other.pub")).unwrap(), b"mine");
        // A dangling link counts as existing: the key is not written through it.
        std::os::unix::fs::symlink(dir.join("elsewhere"), dir.join("linked.key")).unwrap();
        assert!(write_key_pair(&dir.join("linked")).is_err());
        assert!(!dir.join("elsewhere").exists());

        // Wrong kinds of key, each named.
        let e = read_public(&files.private).unwrap_err();
        assert!(
            e.to_string()
                .contains("is a private key; give the public key"),
            "{e}"
        );
        let rsa = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        std::fs::write(dir.join("rsa.pub"), rsa.public_key_to_pem().unwrap()).unwrap();
        std::fs::write(dir.join("rsa.key"), rsa.private_key_to_pem_pkcs8().unwrap()).unwrap();
        let e = read_public(&dir.join("rsa.pub")).unwrap_err();
        assert_eq!(e.to_string(), "the key is an RSA key, not an Ed25519 key");
        assert!(matches!(
            read_private(&dir.join("rsa.key")),
            Err(AttestError::NotEd25519 { .. })
        ));
        std::fs::write(dir.join("junk.pub"), b"hello").unwrap();
        assert!(matches!(
            read_public(&dir.join("junk.pub")),
            Err(AttestError::NotAKey { .. })
        ));
        std::fs::write(dir.join("big.pub"), vec![b'a'; 70 * 1024]).unwrap();
        let e = read_public(&dir.join("big.pub")).unwrap_err();
        assert!(e.to_string().contains("larger than the limit"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_key_id_is_the_sha256_of_the_der_public_key() {
        let key = KeyPair::generate().unwrap();
        let der = key.key.public_key_to_der().unwrap();
        // Ed25519 SubjectPublicKeyInfo: a 12-byte header, then the 32-byte key.
        assert_eq!(der.len(), 44);
        assert_eq!(hex::encode(&der[..12]), "302a300506032b6570032100");
        assert_eq!(key.key_id(), sha256_hex(&der));
    }
}
