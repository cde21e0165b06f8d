//! The emulated card called directly, in process: no pcscd, same interface and the same
//! faults (slow, mute, torn) as through vpcd.

use crate::channel::{checked_response, CardChannel, ChannelError, Response};
use card_emulator::{Card, Delivery};
use std::time::{Duration, Instant};

pub struct InProcessChannel {
    card: Card,
    out: Vec<u8>,
    deadline: Duration,
    /// Set when a torn card dropped off; cleared by `reset` (the card is placed again).
    removed: bool,
}

impl InProcessChannel {
    pub fn new(mut card: Card, deadline: Duration) -> Self {
        card.reset();
        InProcessChannel {
            card,
            out: Vec::with_capacity(512),
            deadline,
            removed: false,
        }
    }

    pub fn card(&self) -> &Card {
        &self.card
    }
}

impl CardChannel for InProcessChannel {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Response, ChannelError> {
        if self.removed {
            return Err(ChannelError::Removed);
        }
        let start = Instant::now();
        self.card.transmit(apdu, &mut self.out);
        match self.card.delivery() {
            Delivery::Normal => {}
            Delivery::Delayed(d) if d <= self.deadline => std::thread::sleep(d),
            // Too slow or never: the host waits out its deadline, as it would on a reader.
            Delivery::Delayed(_) | Delivery::Silent => {
                std::thread::sleep(self.deadline);
                return Err(ChannelError::Timeout(self.deadline));
            }
            Delivery::Torn => {
                // As through pcscd: an empty response, then the card is gone.
                self.removed = true;
                self.out.clear();
            }
        }
        checked_response(self.out.clone(), start.elapsed())
    }

    fn reset(&mut self) -> Result<(), ChannelError> {
        self.removed = false;
        self.card.reset();
        Ok(())
    }

    fn describe(&self) -> String {
        format!("in-process emulator ({})", self.card.image().profile_name)
    }
    fn journal(&self) -> Option<Vec<card_emulator::card::Exchange>> {
        Some(self.card.journal().to_vec())
    }
}
