//! The vpcd readers of a run through the real pcscd. Each reader keeps one emulated card
//! plugged in for the whole run; a case swaps in its own fresh card and resets it with
//! SCardReconnect (unpower), which costs a few ms, where a remove and re-insert would cost
//! about 0.85 s (pcscd polls every 400 ms). A card left silent or torn is re-inserted.

use super::pool::{Pool, Taken};
use crate::channel::pcsc_driver::{self, PcscChannel};
use card_emulator::vpcd::{VirtualCard, VpcdAddress};
use card_emulator::Card;
use std::time::Duration;

const SEEN: Duration = Duration::from_secs(3);
/// After a removal pcscd must notice before the card comes back.
const REINSERT_GAP: Duration = Duration::from_millis(450);

pub struct Slot {
    pub reader: String,
    card: VirtualCard,
}

impl Slot {
    /// Puts `card` in this reader in place of the previous one.
    pub fn swap_in(&self, card: Card) -> Result<(), String> {
        let mut current = self
            .card
            .card()
            .lock()
            .map_err(|_| "card state poisoned".to_owned())?;
        *current = card;
        Ok(())
    }

    /// What the card now in this reader recorded (data-free).
    pub fn journal(&self) -> Vec<card_emulator::card::Exchange> {
        self.card
            .card()
            .lock()
            .map(|card| card.journal().to_vec())
            .unwrap_or_default()
    }

    /// Makes sure the card is in and answers; re-inserts it when it is not.
    fn heal(&self) {
        let answers = PcscChannel::connect(&self.reader, Duration::from_millis(300))
            .and_then(|mut ch| {
                use crate::channel::CardChannel;
                ch.transmit(&card_emulator::commands::get_challenge(8))
            })
            .is_ok();
        if answers && self.card.is_inserted() {
            return;
        }
        self.card.remove();
        let _ = pcsc_driver::wait_for_removal(&self.reader, SEEN);
        std::thread::sleep(REINSERT_GAP);
        self.card.insert();
        let _ = pcsc_driver::wait_for_card(&self.reader, SEEN);
    }
}

pub struct VpcdPool {
    slots: Pool<Slot>,
}

impl VpcdPool {
    /// Plugs `placeholder` cards into the readers at these (port, reader name) pairs and
    /// waits until pcscd sees each.
    pub fn open(readers: &[(u16, String)], placeholder: impl Fn() -> Card) -> Result<Self, String> {
        let mut slots = Vec::new();
        for (port, reader) in readers {
            let address = VpcdAddress {
                port: *port,
                ..VpcdAddress::default()
            };
            let card = VirtualCard::attach(placeholder(), &address)
                .map_err(|e| format!("cannot plug a card into a vpcd reader: {e}"))?;
            pcsc_driver::wait_for_card(reader, SEEN)
                .map_err(|e| format!("pcscd did not see the card in `{reader}`: {e}"))?;
            slots.push(Slot {
                reader: reader.clone(),
                card,
            });
        }
        Ok(VpcdPool {
            slots: Pool::new(slots),
        })
    }

    /// Waits for a free reader.
    pub fn take(&self) -> Option<SlotGuard<'_>> {
        self.slots.take().map(SlotGuard)
    }
}

/// A reader taken for one case; healed, then given back, on drop.
pub struct SlotGuard<'a>(Taken<'a, Slot>);

impl SlotGuard<'_> {
    /// The reader.
    pub fn slot(&self) -> &Slot {
        &self.0
    }
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        // Before the slot goes back (when the `Taken` drops, after this).
        self.0.heal();
    }
}
