//! Real cards are safe (DESIGN.md, "Which card is real").
//!
//! A card counts as the emulator only when the harness attached it in this run and it
//! answers the run's nonce through the attach check (a proprietary command a real card
//! rejects). On any other card, a step that can spend a PIN try is refused unless
//! `--allow-destructive`, and even then the last try is never spent. Every exchange is
//! traced with secrets redacted.

use crate::card_channel::{CardChannel, ChannelError, Response};
use crate::trace::{carries_secret, redacted_hex, response_hex, Trace, TraceEntry};
use card_emulator::card::{attach_answer, ATTACH_CHECK_HEADER};
use card_emulator::StatusWord;
use std::time::Duration;

/// The secret of this run: emulated cards the harness attaches get it; nothing else has it.
#[derive(Clone)]
pub struct RunSecret([u8; 32]);

impl RunSecret {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        // A failing RNG leaves zeros, which still identify only cards given this value.
        let _ = openssl::rand::rand_bytes(&mut bytes);
        RunSecret(bytes)
    }

    pub fn bytes(&self) -> [u8; 32] {
        self.0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardIdentity {
    /// Our emulator, attached in this run.
    Emulator,
    /// Anything else: treated as a real card.
    Real,
}

/// Asks the card for the attach-check answer to a fresh nonce.
pub fn identify(channel: &mut dyn CardChannel, secret: Option<&RunSecret>) -> CardIdentity {
    let Some(secret) = secret else {
        return CardIdentity::Real;
    };
    let mut nonce = [0u8; 32];
    if openssl::rand::rand_bytes(&mut nonce).is_err() {
        return CardIdentity::Real;
    }
    let mut apdu = ATTACH_CHECK_HEADER.to_vec();
    apdu.push(32);
    apdu.extend_from_slice(&nonce);
    apdu.push(32);
    match channel.transmit(&apdu) {
        Ok(r) if r.sw() == StatusWord::Ok && r.data() == attach_answer(&secret.0, &nonce) => {
            CardIdentity::Emulator
        }
        _ => CardIdentity::Real,
    }
}

/// What may be done to a real card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub allow_destructive: bool,
}

/// A channel that enforces the policy and records the trace.
pub struct GuardedChannel<C> {
    inner: C,
    identity: CardIdentity,
    policy: Policy,
    trace: Trace,
}

/// INS codes whose data can spend a try of a PIN: VERIFY, CHANGE REFERENCE DATA,
/// RESET RETRY COUNTER.
fn can_spend_a_try(apdu: &[u8]) -> bool {
    carries_secret(apdu) && apdu.len() > 4
}

impl<C: CardChannel> GuardedChannel<C> {
    /// Identifies the card behind `inner` and wraps it.
    pub fn new(mut inner: C, secret: Option<&RunSecret>, policy: Policy) -> Self {
        let identity = identify(&mut inner, secret);
        GuardedChannel {
            inner,
            identity,
            policy,
            trace: Trace::default(),
        }
    }

    pub fn identity(&self) -> CardIdentity {
        self.identity
    }

    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    pub fn take_trace(&mut self) -> Trace {
        std::mem::take(&mut self.trace)
    }

    pub fn inner(&self) -> &C {
        &self.inner
    }

    /// Why `apdu` must not reach this card, if it must not.
    fn refusal(&mut self, apdu: &[u8]) -> Option<String> {
        if self.identity == CardIdentity::Emulator || !can_spend_a_try(apdu) {
            return None;
        }
        if !self.policy.allow_destructive {
            return Some(
                "this step can spend a PIN try and the card is not this run's emulator \
                 (pass --allow-destructive to allow it on a real card)"
                    .into(),
            );
        }
        // Ask the card how many tries are left (an empty VERIFY spends none).
        let mut probe = apdu[..4].to_vec();
        probe[1] = 0x20;
        probe[2] = 0x00;
        match self.inner.transmit(&probe).map(|r| r.sw()) {
            Ok(StatusWord::TriesLeft(n)) if n > 1 => None,
            Ok(StatusWord::TriesLeft(n)) => Some(format!(
                "only {n} try left on a real card: the last try is never spent"
            )),
            Ok(StatusWord::Ok) => None,
            Ok(other) => Some(format!(
                "could not read the tries left on a real card (SW {other}): refusing"
            )),
            Err(e) => Some(format!("could not read the tries left: {e}")),
        }
    }
}

impl<C: CardChannel> CardChannel for GuardedChannel<C> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Response, ChannelError> {
        if let Some(why) = self.refusal(apdu) {
            self.trace.push(TraceEntry {
                command: redacted_hex(apdu),
                response: format!("not sent: {why}"),
                sw: None,
                elapsed: Duration::ZERO,
            });
            return Err(ChannelError::Refused(why));
        }
        let result = self.inner.transmit(apdu);
        let (response, sw, elapsed) = match &result {
            Ok(r) => (response_hex(&r.bytes), Some(r.sw()), r.elapsed),
            Err(e) => (format!("error: {e}"), None, Duration::ZERO),
        };
        self.trace.push(TraceEntry {
            command: redacted_hex(apdu),
            response,
            sw,
            elapsed,
        });
        result
    }

    fn reset(&mut self) -> Result<(), ChannelError> {
        self.inner.reset()
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}
