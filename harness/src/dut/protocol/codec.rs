//! One message ↔ one line, and the typed errors of reading lines.

use super::{ErrorCode, WireMessage, MAX_LINE, PROTOCOL, VERSION};
use serde_json::{Map, Value};
use std::io::{self, Write};

/// Why a line (or the stream) is not a message. Every variant but [`WireError::Io`] is about
/// one line: the reader has already moved past it, so reading can go on.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The line is longer than the limit. The reader gives up on it as soon as the limit is
    /// passed and skips to its end.
    #[error("line longer than {limit} bytes")]
    LineTooLong { limit: usize },
    /// The input ended in the middle of a line (no `\n`).
    #[error("the input ended in the middle of a line ({len} bytes without a newline)")]
    Unterminated { len: usize },
    #[error("the line is not UTF-8 (valid up to byte {valid_up_to})")]
    InvalidUtf8 { valid_up_to: usize },
    #[error("the line is not JSON: {message}")]
    InvalidJson { message: String },
    #[error("the line is JSON but not an object")]
    NotAnObject,
    #[error("the message has no \"type\"")]
    MissingType,
    #[error("unknown message type {type_name:?}")]
    UnknownType { type_name: String },
    #[error("{type_name}: missing field {field:?}")]
    MissingField { type_name: String, field: String },
    #[error("{type_name}: {message}")]
    InvalidValue { type_name: String, message: String },
    /// A `hello` names another protocol or version.
    #[error(
        "the peer speaks {protocol:?} version {version}; this side speaks {PROTOCOL:?} version {VERSION}"
    )]
    VersionMismatch { protocol: String, version: u64 },
    /// Reading failed. `TimedOut` and `WouldBlock` (a serial port with nothing to read) keep
    /// the partial line: call again.
    #[error("reading: {0}")]
    Io(#[from] io::Error),
}

impl WireError {
    /// The code a device answers this error with (`None` for I/O errors: nothing to answer).
    pub fn code(&self) -> Option<ErrorCode> {
        Some(match self {
            WireError::LineTooLong { .. } => ErrorCode::LineTooLong,
            WireError::UnknownType { .. } => ErrorCode::UnknownType,
            WireError::VersionMismatch { .. } => ErrorCode::VersionMismatch,
            WireError::Unterminated { .. } | WireError::Io(_) => return None,
            WireError::InvalidUtf8 { .. }
            | WireError::InvalidJson { .. }
            | WireError::NotAnObject
            | WireError::MissingType
            | WireError::MissingField { .. }
            | WireError::InvalidValue { .. } => ErrorCode::BadMessage,
        })
    }
}

/// One message as one line: compact JSON and `\n`. JSON strings escape control characters,
/// so the line holds no other newline.
pub fn encode<M: WireMessage>(message: &M) -> Vec<u8> {
    // Serialising these types cannot fail: every map key is a string and every custom
    // serialiser writes a string (a NaN would become `null`, which decoding refuses).
    let mut line = serde_json::to_vec(message).expect("wire messages always serialise");
    line.push(b'\n');
    line
}

/// [`encode`], refusing a message whose line would pass [`MAX_LINE`] (the peer would refuse
/// it).
pub fn encode_checked<M: WireMessage>(message: &M) -> Result<Vec<u8>, WireError> {
    let line = encode(message);
    if line.len() - 1 > MAX_LINE {
        Err(WireError::LineTooLong { limit: MAX_LINE })
    } else {
        Ok(line)
    }
}

/// Writes `message` as one line with one `write_all` and flushes.
pub fn write_message<W: Write, M: WireMessage>(out: &mut W, message: &M) -> Result<(), WireError> {
    let line = encode_checked(message)?;
    out.write_all(&line)?;
    out.flush()?;
    Ok(())
}

/// Decodes one line (without its `\n`; a trailing `\r` or blanks are allowed). Never panics.
pub fn decode<M: WireMessage>(line: &[u8]) -> Result<M, WireError> {
    if line.len() > MAX_LINE {
        return Err(WireError::LineTooLong { limit: MAX_LINE });
    }
    let text = std::str::from_utf8(line).map_err(|e| WireError::InvalidUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    let value: Value = serde_json::from_str(text).map_err(|e| WireError::InvalidJson {
        message: e.to_string(),
    })?;
    let Value::Object(object) = value else {
        return Err(WireError::NotAnObject);
    };
    let type_name = match object.get("type") {
        None => return Err(WireError::MissingType),
        Some(Value::String(t)) => t.clone(),
        Some(_) => {
            return Err(WireError::InvalidValue {
                type_name: "?".into(),
                message: "\"type\" must be a string".into(),
            })
        }
    };
    if !M::TYPES.contains(&type_name.as_str()) {
        return Err(WireError::UnknownType { type_name });
    }
    if type_name == "hello" {
        check_hello(&object)?;
    }
    let message: M = serde_json::from_value(Value::Object(object)).map_err(|e| {
        let message = e.to_string();
        match missing_field(&message) {
            Some(field) => WireError::MissingField {
                type_name: type_name.clone(),
                field,
            },
            None => WireError::InvalidValue {
                type_name: type_name.clone(),
                message,
            },
        }
    })?;
    message
        .validate()
        .map_err(|message| WireError::InvalidValue { type_name, message })?;
    Ok(message)
}

/// Protocol and version come first: a `hello` of another version may have another shape,
/// and must be told apart from a broken one.
fn check_hello(object: &Map<String, Value>) -> Result<(), WireError> {
    let missing = |field: &str| WireError::MissingField {
        type_name: "hello".into(),
        field: field.into(),
    };
    let protocol = match object.get("protocol") {
        None => return Err(missing("protocol")),
        Some(Value::String(p)) => p.clone(),
        Some(_) => {
            return Err(WireError::InvalidValue {
                type_name: "hello".into(),
                message: "\"protocol\" must be a string".into(),
            })
        }
    };
    let version = match object.get("version") {
        None => return Err(missing("version")),
        Some(v) => v.as_u64().ok_or_else(|| WireError::InvalidValue {
            type_name: "hello".into(),
            message: "\"version\" must be a whole number".into(),
        })?,
    };
    if protocol != PROTOCOL || version != u64::from(VERSION) {
        return Err(WireError::VersionMismatch { protocol, version });
    }
    Ok(())
}

/// serde's "missing field `x`" message, as the field name.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    let end = rest.find('`')?;
    Some(rest[..end].to_owned())
}
