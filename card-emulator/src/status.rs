//! Status words as a typed enum (docs/card.md, "Status words").

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusWord {
    /// 9000
    Ok,
    /// 63Cx: wrong PIN (x tries left), or tries left after an empty VERIFY.
    /// `tries_left == 0` is 63C0, the attempt that blocks (and an empty VERIFY once blocked).
    TriesLeft(u8),
    /// 6700
    WrongLength,
    /// 6981: command incompatible with the file structure (READ BINARY on a PIN EF).
    IncompatibleFile,
    /// 6982
    SecurityNotSatisfied,
    /// 6984: reference data not usable (every VERIFY with data on a blocked PIN).
    ReferenceDataBlocked,
    /// 6985
    ConditionsNotSatisfied,
    /// 6986: command not allowed, no current EF.
    NoCurrentEf,
    /// 6A80
    WrongData,
    /// 6A82
    FileNotFound,
    /// 6A86
    WrongP1P2,
    /// 6B00: offset outside the EF.
    WrongOffset,
    /// 6D00
    InsNotSupported,
    /// 6E00
    ClaNotSupported,
    /// 6F00: no precise diagnosis.
    Unknown,
    /// Any other value seen from a card under test.
    Other(u16),
}

impl StatusWord {
    pub fn to_u16(self) -> u16 {
        match self {
            StatusWord::Ok => 0x9000,
            StatusWord::TriesLeft(n) => 0x63C0 | u16::from(n.min(15)),
            StatusWord::WrongLength => 0x6700,
            StatusWord::IncompatibleFile => 0x6981,
            StatusWord::SecurityNotSatisfied => 0x6982,
            StatusWord::ReferenceDataBlocked => 0x6984,
            StatusWord::ConditionsNotSatisfied => 0x6985,
            StatusWord::NoCurrentEf => 0x6986,
            StatusWord::WrongData => 0x6A80,
            StatusWord::FileNotFound => 0x6A82,
            StatusWord::WrongP1P2 => 0x6A86,
            StatusWord::WrongOffset => 0x6B00,
            StatusWord::InsNotSupported => 0x6D00,
            StatusWord::ClaNotSupported => 0x6E00,
            StatusWord::Unknown => 0x6F00,
            StatusWord::Other(v) => v,
        }
    }

    pub fn from_u16(v: u16) -> Self {
        match v {
            0x9000 => StatusWord::Ok,
            0x63C0..=0x63CF => StatusWord::TriesLeft((v & 0x0F) as u8),
            0x6700 => StatusWord::WrongLength,
            0x6981 => StatusWord::IncompatibleFile,
            0x6982 => StatusWord::SecurityNotSatisfied,
            0x6984 => StatusWord::ReferenceDataBlocked,
            0x6985 => StatusWord::ConditionsNotSatisfied,
            0x6986 => StatusWord::NoCurrentEf,
            0x6A80 => StatusWord::WrongData,
            0x6A82 => StatusWord::FileNotFound,
            0x6A86 => StatusWord::WrongP1P2,
            0x6B00 => StatusWord::WrongOffset,
            0x6D00 => StatusWord::InsNotSupported,
            0x6E00 => StatusWord::ClaNotSupported,
            0x6F00 => StatusWord::Unknown,
            other => StatusWord::Other(other),
        }
    }

    pub fn to_bytes(self) -> [u8; 2] {
        self.to_u16().to_be_bytes()
    }

    /// The status word closing a response APDU, if it has one.
    pub fn of_response(response: &[u8]) -> Option<Self> {
        match response {
            [.., sw1, sw2] => Some(Self::from_u16(u16::from_be_bytes([*sw1, *sw2]))),
            _ => None,
        }
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.to_u16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_value() {
        for v in 0..=u16::MAX {
            assert_eq!(StatusWord::from_u16(v).to_u16(), v);
        }
    }
}
