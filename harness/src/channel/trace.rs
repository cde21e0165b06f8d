//! APDU traces for evidence. Secrets never enter a trace: the data of VERIFY and CHANGE
//! REFERENCE DATA (PINs, passwords, 照合番号A/B) is replaced before the entry is stored.

use card_emulator::StatusWord;
use std::fmt;
use std::time::Duration;

/// Response bytes kept in a trace entry; certificates and photos are cut short.
const KEEP_RESPONSE_BYTES: usize = 32;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEntry {
    /// The command in hex, secrets redacted.
    pub command: String,
    /// The response in hex (shortened), or the channel error.
    pub response: String,
    pub sw: Option<StatusWord>,
    pub elapsed: Duration,
}

impl fmt::Display for TraceEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "> {}\n< {} ({:.3} ms)",
            self.command,
            self.response,
            self.elapsed.as_secs_f64() * 1e3
        )
    }
}

/// True for commands whose data is a secret: VERIFY, CHANGE REFERENCE DATA and
/// RESET RETRY COUNTER, whatever the class byte.
pub fn carries_secret(apdu: &[u8]) -> bool {
    matches!(apdu.get(1), Some(0x20 | 0x24 | 0x2C))
}

/// The command as hex with secret data replaced by its length.
pub fn redacted_hex(apdu: &[u8]) -> String {
    if carries_secret(apdu) && apdu.len() > 4 {
        let header = hex::encode_upper(&apdu[..4]);
        format!("{header} <{} byte(s) redacted>", apdu.len() - 4)
    } else {
        hex::encode_upper(apdu)
    }
}

/// Hex of a response, cut after [`KEEP_RESPONSE_BYTES`] data bytes.
pub fn response_hex(bytes: &[u8]) -> String {
    if bytes.len() <= KEEP_RESPONSE_BYTES + 2 {
        return hex::encode_upper(bytes);
    }
    let (data, sw) = bytes.split_at(bytes.len() - 2);
    format!(
        "{}…(+{} bytes) {}",
        hex::encode_upper(&data[..KEEP_RESPONSE_BYTES]),
        data.len() - KEEP_RESPONSE_BYTES,
        hex::encode_upper(sw)
    )
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    pub entries: Vec<TraceEntry>,
}

impl Trace {
    pub fn push(&mut self, entry: TraceEntry) {
        self.entries.push(entry);
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.entries {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_data_never_shows() {
        let verify = [0x00, 0x20, 0x00, 0x80, 0x04, b'1', b'2', b'3', b'4'];
        let text = redacted_hex(&verify);
        assert_eq!(text, "00200080 <5 byte(s) redacted>");
        assert!(!text.contains("31323334"));
        let change = [0x00, 0x24, 0x01, 0x80, 0x04, b'9', b'8', b'7', b'6'];
        assert!(!redacted_hex(&change).contains("39383736"));
        assert_eq!(redacted_hex(&[0x00, 0x20, 0x00, 0x80]), "00200080");
        assert_eq!(redacted_hex(&[0x00, 0xB0, 0x00, 0x00, 0x04]), "00B0000004");
    }
}
