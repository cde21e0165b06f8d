//! The PC/SC driver recovers from a pcscd restart with a new context.
//! Alone in its own test binary: restarting pcscd would disturb other tests.

use harness::bench::{attach, CardSite};
use harness::card_channel::CardChannel;
use harness::guard::{CardIdentity, Policy, RunSecret};
use myna_hil_tests::{all_reader_slots, restart_our_pcscd, shipped_profile, we_own_pcscd};
use std::time::Duration;

const SELECT_JPKI: [u8; 15] = [
    0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01,
];

#[test]
fn after_pcscd_restarts_one_call_fails_and_the_next_uses_a_new_context() {
    let slots = all_reader_slots();
    if !we_own_pcscd() {
        // A pcscd someone else started is theirs: never restart it. (On CI machines none
        // runs before the tests, so the test runs there.)
        eprintln!("skipped: pcscd was started by someone else, so this test may not restart it");
        return;
    }
    let site = CardSite::Vpcd {
        port: slots[0].port(),
        reader: slots[0].reader().to_owned(),
    };
    let secret = RunSecret::generate();
    let policy = Policy {
        allow_destructive: false,
    };
    let mut attached = attach(
        &shipped_profile("valid"),
        &site,
        &secret,
        policy,
        Duration::from_secs(2),
    )
    .unwrap();
    assert_eq!(attached.channel.identity(), CardIdentity::Emulator);
    let ch = &mut attached.channel;
    assert!(ch.transmit(&SELECT_JPKI).is_ok());

    assert!(restart_our_pcscd());
    // The emulated card reconnects to the new vpcd by itself; wait until pcscd sees it.
    harness::pcsc_driver::wait_for_card(slots[0].reader(), Duration::from_secs(5)).unwrap();

    let first = ch.transmit(&SELECT_JPKI);
    assert!(
        first.is_err(),
        "the old context cannot work after a restart"
    );
    let second = ch
        .transmit(&SELECT_JPKI)
        .expect("a new context reaches the card again");
    assert_eq!(second.sw(), card_emulator::StatusWord::Ok);
    attached.detach();
}
