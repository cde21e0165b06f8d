//! The bench: emulated cards the harness itself attaches for a run, in process or to the
//! real pcscd through vpcd. Only cards attached here answer the run's secret, so only they
//! count as the emulator (see [`crate::channel::guard`]).

use crate::channel::guard::{GuardedChannel, Policy, RunSecret};
use crate::channel::inprocess::InProcessChannel;
use crate::channel::pcsc_driver::{self, PcscChannel};
use crate::channel::{CardChannel, ChannelError};
use card_emulator::vpcd::{VirtualCard, VpcdAddress};
use card_emulator::{Card, CardImage, CardProfile};
use std::sync::Arc;
use std::time::Duration;

/// pcscd polls readers every 400 ms; an insertion or removal may take that long to show.
const INSERT_TIMEOUT: Duration = Duration::from_secs(3);
/// After a removal, wait this long before the next insertion or it may go unseen.
const REINSERT_GAP: Duration = Duration::from_millis(450);

/// Where the cards of a run are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CardSite {
    /// The emulator called directly.
    InProcess,
    /// The emulator attached to vpcd (`port`), reached through pcscd as `reader`.
    Vpcd { port: u16, reader: String },
    /// Whatever card is in this PC/SC reader (a vendor's card, or a `myna-vicc`).
    Reader(String),
}

impl CardSite {
    /// Parses `inprocess`, `pcsc` (the first vpcd reader) or `pcsc:READER`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "inprocess" => Ok(CardSite::InProcess),
            "pcsc" => Ok(CardSite::Vpcd {
                port: card_emulator::vpcd::DEFAULT_PORT,
                reader: vpcd_reader_name(0),
            }),
            _ => match text.strip_prefix("pcsc:") {
                Some(reader) if !reader.is_empty() => Ok(CardSite::Reader(reader.to_owned())),
                _ => Err(format!(
                    "`{text}` is not a card site: use inprocess, pcsc or pcsc:READER"
                )),
            },
        }
    }
}

/// The PC/SC name of the n-th vpcd reader.
pub fn vpcd_reader_name(index: u16) -> String {
    format!("Virtual PCD 00 {index:02}")
}

/// A guarded channel to the card of one profile, and what keeps that card alive.
pub struct Attached {
    pub channel: GuardedChannel<Box<dyn CardChannel>>,
    /// The card in vpcd; dropping it takes the card out.
    virtual_card: Option<VirtualCard>,
    reader: Option<String>,
}

impl Attached {
    /// Takes the card out of the reader and waits until pcscd has seen it go.
    pub fn detach(mut self) {
        if let (Some(card), Some(reader)) = (self.virtual_card.take(), self.reader.take()) {
            drop(card);
            let _ = pcsc_driver::wait_for_removal(&reader, INSERT_TIMEOUT);
            std::thread::sleep(REINSERT_GAP);
        }
    }
}

/// Puts the card of `profile` where `site` says and connects to it.
pub fn attach(
    profile: &CardProfile,
    site: &CardSite,
    secret: &RunSecret,
    policy: Policy,
    deadline: Duration,
) -> Result<Attached, String> {
    let build = || -> Result<Card, String> {
        let image = CardImage::build(profile).map_err(|e| format!("cannot build the card: {e}"))?;
        Ok(Card::new(Arc::new(image)).with_attach_secret(secret.bytes()))
    };
    let (channel, virtual_card, reader): (Box<dyn CardChannel>, _, _) = match site {
        CardSite::InProcess => (
            Box::new(InProcessChannel::new(build()?, deadline)),
            None,
            None,
        ),
        CardSite::Vpcd { port, reader } => {
            let address = VpcdAddress {
                port: *port,
                ..VpcdAddress::default()
            };
            let card = VirtualCard::attach(build()?, &address)
                .map_err(|e| format!("cannot attach the card to a vpcd reader: {e}"))?;
            pcsc_driver::wait_for_card(reader, INSERT_TIMEOUT)
                .map_err(|e| format!("pcscd did not see the card in `{reader}`: {e}"))?;
            let channel = PcscChannel::connect(reader, deadline).map_err(describe)?;
            (Box::new(channel), Some(card), Some(reader.clone()))
        }
        CardSite::Reader(reader) => {
            let channel = PcscChannel::connect(reader, deadline).map_err(describe)?;
            (Box::new(channel), None, None)
        }
    };
    Ok(Attached {
        channel: GuardedChannel::new(channel, Some(secret), policy),
        virtual_card,
        reader,
    })
}

fn describe(e: ChannelError) -> String {
    format!("cannot connect to the card: {e}")
}
