//! The vpcd readers of a run through the real pcscd. Each reader keeps one emulated card
//! plugged in for the whole run; a case swaps in its own fresh card and resets it with
//! SCardReconnect (unpower), which costs a few ms, where a remove and re-insert would cost
//! about 0.85 s (pcscd polls every 400 ms). A card left silent or torn is re-inserted.
//! That check, and a re-insertion, run on their own thread after the case has ended, so
//! the next case starts at once (in another reader: the pool holds a spare when pcscd
//! offers one).

use super::pool::Pool;
use crate::channel::pcsc_driver::{self, PcscChannel};
use card_emulator::vpcd::{VirtualCard, VpcdAddress};
use card_emulator::Card;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
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
    slots: Arc<Pool<Slot>>,
    /// Readers being checked (and re-inserted) after their case.
    healing: Mutex<Vec<JoinHandle<()>>>,
}

/// Readers a pool keeps beyond the cases that run at once, when pcscd offers them: a
/// reader being re-inserted (about 2 s) does not hold up the next case.
pub const SPARE_READERS: usize = 2;

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
            slots: Arc::new(Pool::new(slots)),
            healing: Mutex::new(Vec::new()),
        })
    }

    /// Waits for a free reader.
    pub fn take(&self) -> Option<SlotGuard<'_>> {
        let slot = self.slots.take()?.detach();
        Some(SlotGuard {
            pool: self,
            slot: Some(slot),
        })
    }

    /// Heals `slot` on its own thread, then gives it back.
    fn heal_and_return(&self, slot: Slot) {
        let slots = self.slots.clone();
        let spawned = std::thread::Builder::new()
            .name("vpcd-heal".into())
            .spawn(move || {
                slot.heal();
                slots.put_back(slot);
            });
        if let Ok(mut healing) = self.healing.lock() {
            healing.retain(|h| !h.is_finished());
            // No thread to spare: the reader is lost to this run (the others still serve;
            // with none left, cases wait as for a busy reader).
            if let Ok(handle) = spawned {
                healing.push(handle);
            }
        }
    }
}

impl Drop for VpcdPool {
    /// Every reader is back, and its card answering, before the cards are unplugged.
    fn drop(&mut self) {
        let healing = self
            .healing
            .lock()
            .map(|mut h| std::mem::take(&mut *h))
            .unwrap_or_default();
        for handle in healing {
            let _ = handle.join();
        }
    }
}

/// A reader taken for one case; healed (in the background), then given back, on drop.
pub struct SlotGuard<'a> {
    pool: &'a VpcdPool,
    slot: Option<Slot>,
}

impl SlotGuard<'_> {
    /// The reader.
    pub fn slot(&self) -> &Slot {
        // Present from `take` until `drop`.
        self.slot
            .as_ref()
            .expect("a taken reader is held until dropped")
    }
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.pool.heal_and_return(slot);
        }
    }
}
