//! ISO 7816-4 command APDU parsing, short and extended length (all seven cases).
//!
//! Parsing borrows the input and never allocates: the emulator's hot path parses every APDU.

/// A parsed command APDU. `le` is the number of bytes the host will accept:
/// `Some(256)` for a short Le of `00`, `Some(65536)` for an extended Le of `00 00`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Command<'a> {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: &'a [u8],
    pub le: Option<usize>,
    pub extended: bool,
}

/// Why bytes are not a command APDU. Every variant maps to status word 6700.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("an APDU needs at least 4 header bytes, got {0}")]
    TooShort(usize),
    #[error("Lc says {lc} data bytes but the body length does not fit")]
    LengthMismatch { lc: usize },
    #[error("extended Lc of zero is not allowed")]
    ZeroExtendedLc,
}

impl<'a> Command<'a> {
    /// Parses `bytes` as one command APDU.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        let (header, body) = match bytes.split_first_chunk::<4>() {
            Some(split) => split,
            None => return Err(ParseError::TooShort(bytes.len())),
        };
        let [cla, ins, p1, p2] = *header;
        let mut cmd = Command {
            cla,
            ins,
            p1,
            p2,
            data: &[],
            le: None,
            extended: false,
        };
        match body {
            // Case 1.
            [] => {}
            // Case 2S.
            [le] => cmd.le = Some(short_le(*le)),
            // Extended cases start with a zero byte and are at least three bytes long.
            [0, rest @ ..] if rest.len() >= 2 => {
                cmd.extended = true;
                parse_extended(rest, &mut cmd)?;
            }
            [lc, rest @ ..] => {
                let lc = usize::from(*lc);
                if lc == 0 {
                    // A short Lc of zero does not exist; 00 opens an extended length.
                    return Err(ParseError::LengthMismatch { lc });
                }
                if rest.len() == lc {
                    // Case 3S.
                    cmd.data = rest;
                } else if rest.len() == lc + 1 {
                    // Case 4S.
                    cmd.data = &rest[..lc];
                    cmd.le = Some(short_le(rest[lc]));
                } else {
                    return Err(ParseError::LengthMismatch { lc });
                }
            }
        }
        Ok(cmd)
    }
}

fn short_le(byte: u8) -> usize {
    if byte == 0 {
        256
    } else {
        usize::from(byte)
    }
}

fn extended_le(hi: u8, lo: u8) -> usize {
    match u16::from_be_bytes([hi, lo]) {
        0 => 65536,
        n => usize::from(n),
    }
}

/// `rest` follows the leading zero byte of an extended body.
fn parse_extended<'a>(rest: &'a [u8], cmd: &mut Command<'a>) -> Result<(), ParseError> {
    if let [hi, lo] = rest {
        // Case 2E.
        cmd.le = Some(extended_le(*hi, *lo));
        return Ok(());
    }
    let lc = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
    if lc == 0 {
        return Err(ParseError::ZeroExtendedLc);
    }
    let tail = &rest[2..];
    if tail.len() == lc {
        // Case 3E.
        cmd.data = tail;
    } else if tail.len() == lc + 2 {
        // Case 4E.
        cmd.data = &tail[..lc];
        cmd.le = Some(extended_le(tail[lc], tail[lc + 1]));
    } else {
        return Err(ParseError::LengthMismatch { lc });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_seven_cases_parse() {
        let c1 = Command::parse(&[0, 0xA4, 4, 0x0C]).unwrap();
        assert_eq!((c1.data.len(), c1.le), (0, None));
        let c2 = Command::parse(&[0, 0xB0, 0, 0, 0]).unwrap();
        assert_eq!(c2.le, Some(256));
        let c3 = Command::parse(&[0, 0xA4, 2, 0x0C, 2, 0, 0x0A]).unwrap();
        assert_eq!(c3.data, &[0, 0x0A]);
        let c4 = Command::parse(&[0x80, 0x2A, 0, 0x80, 1, 0xAA, 0]).unwrap();
        assert_eq!((c4.data, c4.le), (&[0xAA][..], Some(256)));
        let c2e = Command::parse(&[0, 0xB0, 0, 0, 0, 0x01, 0x00]).unwrap();
        assert_eq!((c2e.le, c2e.extended), (Some(256), true));
        let c3e = Command::parse(&[0, 0x2A, 0, 0, 0, 0, 2, 1, 2]).unwrap();
        assert_eq!((c3e.data, c3e.le), (&[1, 2][..], None));
        let c4e = Command::parse(&[0, 0x2A, 0, 0, 0, 0, 1, 9, 0, 0]).unwrap();
        assert_eq!((c4e.data, c4e.le), (&[9][..], Some(65536)));
    }

    #[test]
    fn malformed_lengths_are_errors() {
        assert_eq!(Command::parse(&[0, 1]), Err(ParseError::TooShort(2)));
        assert!(Command::parse(&[0, 0xA4, 2, 0x0C, 5, 1]).is_err());
        assert!(Command::parse(&[0, 0xA4, 2, 0x0C, 0, 0, 0, 1]).is_err());
        // `00 xx` is neither a short Lc nor a complete extended length.
        assert!(Command::parse(&[0, 0x84, 0, 0, 0, 0]).is_err());
        assert!(Command::parse(&[0, 0xB0, 0, 0, 0, 0x10]).is_err());
    }
}
