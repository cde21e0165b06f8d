//! Real cards are safe (docs/card.md, "Which card is real").
//!
//! A card counts as the emulator only when the harness attached it in this run and it
//! answers the run's nonce through the attach check (a proprietary command a real card
//! rejects). On any other card, a step that can spend a PIN try is refused unless
//! `--allow-destructive`, and even then the last try is never spent. Every exchange is
//! traced with secrets redacted.

use crate::channel::trace::{carries_secret, redacted_hex, response_hex, Trace, TraceEntry};
use crate::channel::{CardChannel, ChannelError, Response};
use card_emulator::card::{attach_answer, AID_SURFACE, AID_TEXT_SUPPORT, ATTACH_CHECK_HEADER};
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

impl std::fmt::Display for CardIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CardIdentity::Emulator => "emulator attached in this run",
            CardIdentity::Real => "real card (not this run's emulator)",
        })
    }
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

/// A response of a card-surface application: only its length and status word.
fn personal_data_hex(bytes: &[u8]) -> String {
    let (data, sw) = bytes.split_at(bytes.len().saturating_sub(2));
    format!(
        "<{} byte(s) of personal data redacted> {}",
        data.len(),
        hex::encode_upper(sw)
    )
}

/// What may be done to a real card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub allow_destructive: bool,
}

/// Why a PIN may not be typed now on a real card that the harness reaches only through a
/// device under test, given the PIN tries left the device's pad shows. The harness cannot
/// ask such a card itself, so this is [`GuardedChannel`]'s rule one level up: no PIN
/// without `--allow-destructive`, and never while a wrong one would spend the last try.
pub fn pin_entry_refusal(policy: Policy, tries_left_shown: Option<u8>) -> Option<String> {
    if !policy.allow_destructive {
        return Some(
            "typing a PIN can spend a PIN try of a real card \
             (pass --allow-destructive to allow it; the last try is never spent)"
                .into(),
        );
    }
    match tries_left_shown {
        None => Some(
            "the device's PIN pad shows no tries left (`tries_left` of `keypad_layout`), so \
             the last try cannot be protected"
                .into(),
        ),
        Some(n) if n <= 1 => Some(format!(
            "the PIN pad shows {n} try left on a real card: the last try is never spent"
        )),
        Some(_) => None,
    }
}

/// A channel that enforces the policy and records the trace.
pub struct GuardedChannel<C> {
    inner: C,
    identity: CardIdentity,
    policy: Policy,
    trace: Trace,
    /// A card-surface application is selected: what READ BINARY returns is personal data
    /// (個人番号, name, address, photo) and stays out of the trace.
    personal_data_selected: bool,
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
            personal_data_selected: false,
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
            Ok(r) => {
                let shown = if self.personal_data_selected && apdu.get(1) == Some(&0xB0) {
                    personal_data_hex(&r.bytes)
                } else {
                    response_hex(&r.bytes)
                };
                (shown, Some(r.sw()), r.elapsed)
            }
            Err(e) => (format!("error: {e}"), None, Duration::ZERO),
        };
        if let (Ok(r), [0x00, 0xA4, 0x04, _, _, aid @ ..]) = (&result, apdu) {
            if r.sw() == StatusWord::Ok {
                self.personal_data_selected = aid == AID_TEXT_SUPPORT || aid == AID_SURFACE;
            }
        }
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

    fn trace_text(&self) -> String {
        self.trace.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::inprocess::InProcessChannel;
    use card_emulator::{commands, Card, CardImage, CardProfile, PinRef};
    use std::sync::{Arc, OnceLock};

    fn image() -> Arc<CardImage> {
        static IMAGE: OnceLock<Arc<CardImage>> = OnceLock::new();
        IMAGE
            .get_or_init(|| Arc::new(CardImage::build(&CardProfile::sample()).unwrap()))
            .clone()
    }

    fn channel(
        card: Card,
        allow_destructive: bool,
        secret: &RunSecret,
    ) -> GuardedChannel<InProcessChannel> {
        let inner = InProcessChannel::new(card, Duration::from_secs(1));
        GuardedChannel::new(inner, Some(secret), Policy { allow_destructive })
    }

    const WRONG_PIN: [u8; 9] = [0x00, 0x20, 0x00, 0x80, 0x04, b'9', b'9', b'9', b'9'];

    fn select_pin(ch: &mut impl CardChannel) {
        let select_jpki = commands::select_aid(&card_emulator::card::AID_JPKI);
        assert_eq!(ch.transmit(&select_jpki).unwrap().sw(), StatusWord::Ok);
        let select_pin = commands::select_ef(0x0018);
        assert_eq!(ch.transmit(&select_pin).unwrap().sw(), StatusWord::Ok);
    }

    #[test]
    fn only_a_card_with_this_runs_secret_is_the_emulator() {
        let secret = RunSecret::generate();
        let ours = channel(
            Card::new(image()).with_attach_secret(secret.bytes()),
            false,
            &secret,
        );
        assert_eq!(ours.identity(), CardIdentity::Emulator);
        let other_run = RunSecret::generate();
        let foreign = Card::new(image()).with_attach_secret(other_run.bytes());
        assert_eq!(
            channel(foreign, false, &secret).identity(),
            CardIdentity::Real
        );
        assert_eq!(
            channel(Card::new(image()), false, &secret).identity(),
            CardIdentity::Real
        );
    }

    #[test]
    fn a_real_card_never_receives_a_pin_by_default() {
        let secret = RunSecret::generate();
        let mut ch = channel(Card::new(image()), false, &secret);
        select_pin(&mut ch);
        let err = ch.transmit(&WRONG_PIN).unwrap_err();
        assert!(matches!(err, ChannelError::Refused(_)), "{err}");
        let change = [0x00, 0x24, 0x01, 0x80, 0x04, b'1', b'1', b'1', b'1'];
        assert!(matches!(
            ch.transmit(&change),
            Err(ChannelError::Refused(_))
        ));
        // Asking for the tries left spends none and is allowed.
        assert_eq!(
            ch.transmit(&[0x00, 0x20, 0x00, 0x80]).unwrap().sw(),
            StatusWord::TriesLeft(3)
        );
        assert_eq!(ch.inner().card().tries_left(PinRef::AuthPin), 3);
        let trace = ch.trace().to_string();
        assert!(trace.contains("not sent"), "{trace}");
        assert!(
            !trace.contains("39393939"),
            "the refused PIN must not be traced: {trace}"
        );
    }

    #[test]
    fn allow_destructive_never_spends_the_last_try() {
        let secret = RunSecret::generate();
        let mut ch = channel(Card::new(image()), true, &secret);
        select_pin(&mut ch);
        assert_eq!(
            ch.transmit(&WRONG_PIN).unwrap().sw(),
            StatusWord::TriesLeft(2)
        );
        assert_eq!(
            ch.transmit(&WRONG_PIN).unwrap().sw(),
            StatusWord::TriesLeft(1)
        );
        let err = ch.transmit(&WRONG_PIN).unwrap_err();
        assert!(err.to_string().contains("last try"), "{err}");
        assert_eq!(ch.inner().card().tries_left(PinRef::AuthPin), 1);
    }

    #[test]
    fn a_pin_is_typed_on_a_real_card_only_when_allowed_and_not_the_last_try() {
        let careful = Policy {
            allow_destructive: false,
        };
        let allowed = Policy {
            allow_destructive: true,
        };
        for shown in [None, Some(0), Some(1), Some(2), Some(3), Some(255)] {
            let why = pin_entry_refusal(careful, shown).expect("refused by default");
            assert!(why.contains("--allow-destructive"), "{why}");
        }
        assert!(pin_entry_refusal(allowed, None).is_some());
        assert!(pin_entry_refusal(allowed, Some(0)).is_some());
        let last = pin_entry_refusal(allowed, Some(1)).expect("the last try");
        assert!(last.contains("last try"), "{last}");
        assert_eq!(pin_entry_refusal(allowed, Some(2)), None);
        assert_eq!(pin_entry_refusal(allowed, Some(3)), None);
    }

    #[test]
    fn the_emulator_may_be_blocked_on_purpose() {
        let secret = RunSecret::generate();
        let card = Card::new(image()).with_attach_secret(secret.bytes());
        let mut ch = channel(card, false, &secret);
        select_pin(&mut ch);
        for left in [2, 1, 0] {
            assert_eq!(
                ch.transmit(&WRONG_PIN).unwrap().sw(),
                StatusWord::TriesLeft(left)
            );
        }
        assert_eq!(
            ch.transmit(&WRONG_PIN).unwrap().sw(),
            StatusWord::ReferenceDataBlocked
        );
        assert!(!ch.trace().to_string().contains("39393939"));
    }
}
