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
/// device under test, given the PIN tries left known ([`TriesLedger::known`]). The harness
/// cannot ask such a card itself, so this is [`GuardedChannel`]'s rule one level up: no PIN
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

/// What the harness knows of the PIN tries left on a real card it reaches only through a
/// device: the least of what the device's pad shows, what the card's VERIFY answers said
/// (as the device reported them) and what the harness has typed since. The device is one
/// witness among three, never the only one: when it disagrees with what the harness
/// already knows, no further PIN is typed on the card and the device fails.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TriesLedger {
    known: Option<u8>,
    /// A PIN typed whose VERIFY answer has not come yet: whether it was the right one.
    pending: Option<bool>,
    contradiction: Option<String>,
}

impl TriesLedger {
    /// The tries left known now (`None`: nothing known yet).
    pub fn known(&self) -> Option<u8> {
        self.known
    }

    /// The first disagreement seen, if any.
    pub fn contradiction(&self) -> Option<&str> {
        self.contradiction.as_deref()
    }

    fn contradict(&mut self, why: String) {
        self.contradiction.get_or_insert(why);
    }

    /// The device's pad shows `tries` tries left.
    pub fn shown(&mut self, tries: Option<u8>) {
        let Some(shown) = tries else { return };
        match self.known {
            Some(known) if shown != known => {
                self.contradict(format!(
                    "the device's PIN pad shows {shown} tries left, but the card has {known} \
                     by what the harness saw (its VERIFY answers and the PINs typed since)"
                ));
                self.known = Some(known.min(shown));
            }
            _ => self.known = Some(shown),
        }
    }

    /// The harness types a PIN; `right`: the card's PIN as its profile gives it.
    pub fn typed(&mut self, right: bool) {
        if !right {
            // Spent until the card's answer says otherwise.
            self.known = self.known.map(|k| k.saturating_sub(1));
        }
        self.pending = Some(right);
    }

    /// The device reports the card's answer `sw` to a VERIFY with data. Only the answer to
    /// a PIN the harness typed counts: a device also verifies 照合番号B on the face path,
    /// which has a counter of its own.
    pub fn verify_answered(&mut self, sw: u16) {
        let Some(right) = self.pending.take() else {
            return;
        };
        let typed = Some(right);
        match sw {
            0x9000 if typed == Some(false) => self.contradict(
                "the device reported VERIFY 9000 for a PIN the harness typed wrong".into(),
            ),
            // The right PIN resets the card's counter to its maximum, which the next pad shows.
            0x9000 => self.known = None,
            0x63C0..=0x63CF => {
                let left = (sw & 0x0F) as u8;
                self.known = Some(self.known.map_or(left, |k| k.min(left)));
            }
            0x6983 | 0x6984 => self.known = Some(0),
            _ => {}
        }
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
    fn journal(&self) -> Option<Vec<card_emulator::card::Exchange>> {
        self.inner.journal()
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
    fn a_device_that_shows_more_tries_than_the_card_has_is_caught() {
        let mut ledger = TriesLedger::default();
        ledger.shown(Some(3));
        ledger.typed(false);
        ledger.verify_answered(0x63C2);
        ledger.typed(false);
        ledger.verify_answered(0x63C1);
        assert_eq!(ledger.known(), Some(1));
        // The liar shows 3 again: the harness keeps 1 and the last try is safe.
        ledger.shown(Some(3));
        assert_eq!(ledger.known(), Some(1));
        assert!(ledger
            .contradiction()
            .unwrap()
            .contains("shows 3 tries left"));
        let allowed = Policy {
            allow_destructive: true,
        };
        assert!(pin_entry_refusal(allowed, ledger.known()).is_some());
    }

    #[test]
    fn a_verify_the_harness_did_not_type_for_is_not_the_pins() {
        let mut ledger = TriesLedger::default();
        ledger.shown(Some(3));
        // 照合番号B blocked on the face path: another counter.
        ledger.verify_answered(0x6983);
        ledger.shown(Some(3));
        assert_eq!((ledger.known(), ledger.contradiction()), (Some(3), None));
    }

    #[test]
    fn a_typed_wrong_pin_counts_even_when_the_device_stays_silent() {
        let mut ledger = TriesLedger::default();
        ledger.shown(Some(2));
        ledger.typed(false);
        assert_eq!(ledger.known(), Some(1));
        ledger.shown(Some(2));
        assert!(ledger.contradiction().is_some());
        assert_eq!(ledger.known(), Some(1));
    }

    #[test]
    fn a_wrong_pin_reported_as_accepted_is_a_contradiction() {
        let mut ledger = TriesLedger::default();
        ledger.shown(Some(3));
        ledger.typed(false);
        ledger.verify_answered(0x9000);
        assert!(ledger.contradiction().unwrap().contains("typed wrong"));
        let mut honest = TriesLedger::default();
        honest.shown(Some(2));
        honest.typed(true);
        honest.verify_answered(0x9000);
        honest.shown(Some(3));
        assert_eq!((honest.known(), honest.contradiction()), (Some(3), None));
    }

    proptest::proptest! {
        /// Whatever the device shows and reports, the ledger never knows more tries than
        /// the card can have: the PINs typed wrong since the last answer are always counted.
        #[test]
        fn the_ledger_never_exceeds_what_was_seen(
            steps in proptest::collection::vec((0u8..4, 0u8..4, proptest::bool::ANY), 1..20)
        ) {
            let mut ledger = TriesLedger::default();
            for (shown, answered, typed_wrong) in steps {
                let before = ledger.known();
                ledger.shown(Some(shown));
                if let Some(b) = before {
                    proptest::prop_assert!(ledger.known().unwrap() <= b);
                }
                ledger.typed(!typed_wrong);
                ledger.verify_answered(0x63C0 | u16::from(answered));
                proptest::prop_assert!(ledger.known().unwrap() <= answered);
            }
        }
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
