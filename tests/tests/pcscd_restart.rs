//! The PC/SC driver recovers from a pcscd restart with a new context.
//! Alone in its own test binary: restarting pcscd would disturb other tests.

use harness::channel::guard::{CardIdentity, Policy, RunSecret};
use harness::channel::CardChannel;
use myna_hil_tests::{all_reader_slots, restart_our_pcscd, shipped_profile, we_own_pcscd};
use myna_hil_tests::{attach, CardSite};
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
    harness::channel::pcsc_driver::wait_for_card(slots[0].reader(), Duration::from_secs(5))
        .unwrap();

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

/// pcscd killed and started again in the middle of a run: the cases caught by it end in
/// `error` or `inconc`, the cases after it pass on a new context, and every case has its
/// verdict in the reports.
#[test]
fn a_run_survives_pcscd_restarting_mid_run() {
    let _slots = all_reader_slots();
    if !we_own_pcscd() {
        eprintln!("skipped: pcscd was started by someone else, so this test may not restart it");
        return;
    }
    let dir = myna_hil_tests::fresh_dir("pcscd-restart-run");
    let card = myna_hil_tests::repo_root().join("scenarios/cards/valid.yaml");
    let cases: Vec<String> = (1..=16).map(|i| format!("\"{i}\"")).collect();
    std::fs::write(
        dir.join("pin.yaml"),
        format!(
            "title: PIN path\ndate: 2025-11-04\ncard: {}\nstep_deadline: 3s\n\
             insurance: {{ insurer_number: \"06139999\", number: \"1\", limit_category: A03 }}\n\
             matrix:\n  n: [{}]\n\
             steps:\n  - place_card\n  - choose: pin\n  - wait: 150ms\n  - enter_pin: correct\n  - consent: all\n",
            card.display(),
            cases.join(", ")
        ),
    )
    .unwrap();
    let out = dir.join("out");
    let mut run = std::process::Command::new(myna_hil_tests::workspace_binary("myna-hil"))
        .args([
            "run",
            dir.to_str().unwrap(),
            "--card",
            "pcsc",
            "--jobs",
            "1",
            "--out",
        ])
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Restart once a few cases are done.
    let results = out.join("results.json");
    let started = std::time::Instant::now();
    loop {
        let done = reports::results::ResultsFile::read(&results)
            .map(|f| f.cases.len())
            .unwrap_or(0);
        if done >= 4 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run never got going"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(restart_our_pcscd());
    let status = run.wait().unwrap();
    let file = reports::results::ResultsFile::read(&results).unwrap();
    assert_eq!(file.cases.len(), 16, "every case has its verdict");
    let verdicts: Vec<&str> = file.cases.iter().map(|c| c.verdict.as_str()).collect();
    for c in &file.cases {
        assert!(
            matches!(c.verdict.as_str(), "pass" | "error" | "inconc"),
            "{}: {} {:?}\n{}",
            c.id,
            c.verdict.as_str(),
            c.reason,
            c.evidence
        );
    }
    // The last cases run on new contexts after the restart.
    assert!(
        verdicts[verdicts.len() - 4..].iter().all(|v| *v == "pass"),
        "{verdicts:?}"
    );
    assert!(status.code() == Some(0) || status.code() == Some(1));
}
