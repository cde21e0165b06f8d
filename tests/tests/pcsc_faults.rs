//! Cards that misbehave give `error` verdicts through pcscd, and the run goes on.

use myna_hil_tests::{all_reader_slots, reader_slot, repo_root, run_conformance, shipped_profile};
use reports::Verdict;
use std::path::PathBuf;
use std::time::Duration;

fn fault_profile(name: &str) -> PathBuf {
    repo_root().join(format!("scenarios/cards/faults/{name}.yaml"))
}

#[test]
fn mute_torn_and_slow_cards_get_honest_verdicts_and_the_next_card_still_passes() {
    // Both readers: a reader left with a mute or torn card is re-inserted after its case
    // while the next case runs in the other.
    let slots = all_reader_slots();
    let site = || {
        harness::engine::CardSite::Vpcd(
            slots
                .iter()
                .map(|s| (s.port(), s.reader().to_owned()))
                .collect(),
        )
    };
    let run = |profile: &PathBuf, deadline| run_conformance(profile, site(), deadline);

    let mute = run(&fault_profile("mute-card"), Duration::from_millis(300));
    assert!(
        mute.iter().all(|r| r.verdict == Verdict::Error),
        "mute card: {:?}",
        mute.iter()
            .map(|r| (&r.id, r.verdict, &r.reason))
            .collect::<Vec<_>>()
    );
    assert!(mute[0]
        .reason
        .as_deref()
        .unwrap_or("")
        .contains("no response within"));

    let torn = run(&fault_profile("torn-card"), Duration::from_secs(2));
    // A card torn at the 3rd APDU after power-on, fresh for every case: checks of one or
    // two APDUs pass, every check that reaches the 3rd errors (empty response).
    assert!(
        torn.iter().all(|r| r.verdict == Verdict::Pass
            || (r.verdict == Verdict::Error
                && r.reason
                    .as_deref()
                    .unwrap_or("")
                    .contains("shorter than a status word"))),
        "{:?}",
        torn.iter()
            .map(|r| (&r.id, r.verdict, &r.reason))
            .collect::<Vec<_>>()
    );
    assert!(torn.iter().any(|r| r.verdict == Verdict::Pass));
    assert!(torn.iter().any(|r| r.verdict == Verdict::Error));

    let slow = run(&fault_profile("slow-card"), Duration::from_secs(2));
    assert!(slow
        .iter()
        .all(|r| matches!(r.verdict, Verdict::Pass | Verdict::Skip)));
    let fastest_apdu = slow
        .iter()
        .flat_map(|r| &r.measurements)
        .filter(|m| m.name == "apdu_max")
        .map(|m| m.value)
        .fold(f64::INFINITY, f64::min);
    assert!(
        fastest_apdu >= 20.0,
        "the slow card answered in {fastest_apdu} ms"
    );

    // The bench recovered: a good card in the same reader passes.
    let valid = run(
        &repo_root().join("scenarios/cards/valid.yaml"),
        Duration::from_secs(2),
    );
    assert!(
        valid.iter().all(|r| r.verdict == Verdict::Pass),
        "valid after faults: {:?}",
        valid
            .iter()
            .filter(|r| r.verdict != Verdict::Pass)
            .map(|r| (&r.id, r.verdict, &r.reason))
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_card_removed_and_inserted_on_command_is_seen_by_pcscd() {
    use card_emulator::vpcd::{VirtualCard, VpcdAddress};
    use harness::channel::pcsc_driver::{wait_for_card, wait_for_removal, PcscChannel};
    use harness::channel::CardChannel;
    use std::sync::Arc;

    let slot = reader_slot(1);
    let image = card_emulator::CardImage::build(&shipped_profile("valid")).unwrap();
    let address = VpcdAddress {
        port: slot.port(),
        ..VpcdAddress::default()
    };
    let card = VirtualCard::attach(card_emulator::Card::new(Arc::new(image)), &address).unwrap();
    wait_for_card(slot.reader(), Duration::from_secs(3)).unwrap();
    let get_challenge = [0x00, 0x84, 0x00, 0x00, 0x08];
    let mut channel = PcscChannel::connect(slot.reader(), Duration::from_secs(2)).unwrap();
    assert_eq!(channel.transmit(&get_challenge).unwrap().data().len(), 8);

    card.remove();
    wait_for_removal(slot.reader(), Duration::from_secs(3)).unwrap();
    assert!(
        channel.transmit(&get_challenge).is_err(),
        "no card, no answer"
    );

    std::thread::sleep(Duration::from_millis(450));
    card.insert();
    wait_for_card(slot.reader(), Duration::from_secs(3)).unwrap();
    // The old handle saw the removal; the channel reconnects with a new context.
    let again = channel
        .transmit(&get_challenge)
        .or_else(|_| channel.transmit(&get_challenge));
    assert_eq!(again.unwrap().data().len(), 8);
    drop(card);
    wait_for_removal(slot.reader(), Duration::from_secs(3)).unwrap();
    std::thread::sleep(Duration::from_millis(450));
}
