//! The one interface through which the harness talks to any card: the emulator in process
//! ([`inprocess`]), or any card in any PC/SC reader ([`pcsc_driver`]); the same checks run over
//! both. [`guard`] keeps real cards safe on top of either and keeps the redacted [`trace`].

pub mod guard;
pub mod inprocess;
pub mod pcsc_driver;
pub mod trace;

use card_emulator::StatusWord;
use std::time::Duration;

/// A response APDU with the time it took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Data and the two status bytes (always at least 2 bytes long).
    pub bytes: Vec<u8>,
    pub elapsed: Duration,
}

impl Response {
    pub fn sw(&self) -> StatusWord {
        StatusWord::of_response(&self.bytes).unwrap_or(StatusWord::Unknown)
    }

    pub fn data(&self) -> &[u8] {
        &self.bytes[..self.bytes.len().saturating_sub(2)]
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    #[error("no response within {0:?}")]
    Timeout(Duration),
    #[error(
        "response of {0} byte(s) is shorter than a status word: the card dropped mid-response"
    )]
    ShortResponse(usize),
    #[error("the card was removed")]
    Removed,
    #[error("reader: {0}")]
    Reader(String),
    #[error("refused to protect a real card: {0}")]
    Refused(String),
    /// The PC/SC stack itself failed (pcscd stopped or restarted, a stale context): the
    /// bench's fault, not the card's or the reader's.
    #[error("PC/SC stack: {0}")]
    Stack(String),
}

/// A card the harness can send APDUs to.
pub trait CardChannel: Send {
    /// Sends one command APDU and waits at most the channel's deadline for the answer.
    fn transmit(&mut self, apdu: &[u8]) -> Result<Response, ChannelError>;
    /// Resets the card (cold, with unpower) so the next case starts from a fresh session.
    fn reset(&mut self) -> Result<(), ChannelError>;
    /// The reader or channel, for reports ("in-process", "Virtual PCD 00 00").
    fn describe(&self) -> String;
    /// The APDU trace recorded so far, secrets redacted (empty for channels that keep none).
    fn trace_text(&self) -> String {
        String::new()
    }
    /// What the card itself recorded of this channel's commands, when the card is the
    /// harness's own emulator in this process (`None` otherwise).
    fn journal(&self) -> Option<Vec<card_emulator::card::Exchange>> {
        None
    }
}

impl<C: CardChannel + ?Sized> CardChannel for Box<C> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Response, ChannelError> {
        (**self).transmit(apdu)
    }
    fn reset(&mut self) -> Result<(), ChannelError> {
        (**self).reset()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn trace_text(&self) -> String {
        (**self).trace_text()
    }
    fn journal(&self) -> Option<Vec<card_emulator::card::Exchange>> {
        (**self).journal()
    }
}

/// Wraps a raw response, rejecting one too short to hold a status word (docs/platform.md: a card
/// that drops mid-APDU makes pcsc-lite return `Ok` with an empty response).
pub fn checked_response(bytes: Vec<u8>, elapsed: Duration) -> Result<Response, ChannelError> {
    if bytes.len() < 2 {
        return Err(ChannelError::ShortResponse(bytes.len()));
    }
    Ok(Response { bytes, elapsed })
}

/// Why a whole EF could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EfReadError {
    /// The channel broke (timeout, removal, reader error).
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// The card answered, but not with the EF.
    #[error("{0}")]
    Card(String),
}

/// Reads the whole selected EF, which starts with a BER-TLV header (a certificate's
/// `30 82 LL LL`, a record's `FF 20 82 LL LL`), in 256-byte chunks with a short Le, as
/// OpenSC does.
pub fn read_tlv_ef(channel: &mut dyn CardChannel) -> Result<Vec<u8>, EfReadError> {
    let read = |channel: &mut dyn CardChannel, offset: usize, le: u8| {
        let r = channel.transmit(&card_emulator::commands::read_binary(offset as u16, le))?;
        if r.sw() != StatusWord::Ok {
            return Err(EfReadError::Card(format!(
                "READ BINARY at {offset}: expected SW 9000, got {}",
                r.sw()
            )));
        }
        Ok(r.data().to_vec())
    };
    let head = read(channel, 0, 8)?;
    let Some((_, header_len, value_len)) = card_emulator::tlv::read_header(&head) else {
        return Err(EfReadError::Card(
            "the EF does not start with a TLV header".into(),
        ));
    };
    let total = header_len + value_len;
    let mut out = Vec::with_capacity(total);
    while out.len() < total {
        let offset = out.len();
        if offset > 0x7FFF {
            return Err(EfReadError::Card(
                "EF longer than a 15-bit offset reaches".into(),
            ));
        }
        let chunk = (total - offset).min(256);
        let part = read(channel, offset, if chunk == 256 { 0 } else { chunk as u8 })?;
        if part.is_empty() {
            return Err(EfReadError::Card(format!(
                "READ BINARY at {offset} returned no data"
            )));
        }
        out.extend_from_slice(&part);
    }
    Ok(out)
}
