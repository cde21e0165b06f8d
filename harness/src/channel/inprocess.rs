//! The emulated card called directly, in process: no pcscd, same interface and the same
//! faults (slow, mute, torn) as through vpcd. A slow or mute card's wait passes on the
//! case's clock (simulated in an in-process run: no wall time).

use crate::channel::{checked_response, CardChannel, ChannelError, Response};
use crate::sim_clock::SimClock;
use card_emulator::{Card, Delivery};
use std::time::{Duration, Instant};

pub struct InProcessChannel {
    card: Card,
    out: Vec<u8>,
    deadline: Duration,
    /// Set when a torn card dropped off; cleared by `reset` (the card is placed again).
    removed: bool,
    clock: SimClock,
}

impl InProcessChannel {
    pub fn new(mut card: Card, deadline: Duration) -> Self {
        card.reset();
        InProcessChannel {
            card,
            out: Vec::with_capacity(512),
            deadline,
            removed: false,
            clock: SimClock::real(),
        }
    }

    /// The card's waits pass on `clock`.
    pub fn on_clock(mut self, clock: SimClock) -> Self {
        self.clock = clock;
        self
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
        let simulated_before = self.clock.total();
        self.card.transmit(apdu, &mut self.out);
        match self.card.delivery() {
            Delivery::Normal => {}
            Delivery::Delayed(d) if d <= self.deadline => self.clock.pass(d),
            // Too slow or never: the host waits out its deadline, as it would on a reader.
            Delivery::Delayed(_) | Delivery::Silent => {
                self.clock.pass(self.deadline);
                return Err(ChannelError::Timeout(self.deadline));
            }
            Delivery::Torn => {
                // As through pcscd: an empty response, then the card is gone.
                self.removed = true;
                self.out.clear();
            }
        }
        let simulated = self.clock.total().saturating_sub(simulated_before);
        checked_response(self.out.clone(), start.elapsed() + simulated)
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
