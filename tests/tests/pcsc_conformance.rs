//! The card conformance checks through the real pcscd + vpcd, compared with in process.

use harness::bench::{attach, CardSite};
use harness::channel::guard::{Policy, RunSecret};
use harness::conformance::run_all;
use myna_hil_tests::{reader_slot, shipped_profile, ReaderSlot};
use reports::{CaseResult, Verdict};
use std::time::Duration;

const CONFORMANT: [&str; 9] = [
    "valid",
    "cert-expired-in-grace",
    "cert-expired-beyond-grace",
    "auth-pin-locked",
    "face-auth-card",
    "photo-mismatch",
    "cert-revoked",
    "not-registered",
    "smartphone",
];

fn run(name: &str, site: &CardSite) -> Vec<CaseResult> {
    let profile = shipped_profile(name);
    let secret = RunSecret::generate();
    let policy = Policy {
        allow_destructive: false,
    };
    let mut attached = attach(&profile, site, &secret, policy, Duration::from_secs(2))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let results = run_all(&mut attached.channel, &profile, name, |_| {});
    attached.detach();
    results
}

fn vpcd_site(slot: &ReaderSlot) -> CardSite {
    CardSite::Vpcd {
        port: slot.port(),
        reader: slot.reader().to_owned(),
    }
}

fn verdicts(results: &[CaseResult]) -> Vec<(String, Verdict)> {
    results
        .iter()
        .map(|r| (r.name.clone(), r.verdict))
        .collect()
}

#[test]
fn every_conformant_profile_passes_through_pcscd_as_in_process() {
    let slot = reader_slot(0);
    for name in CONFORMANT {
        let through_pcscd = run(name, &vpcd_site(&slot));
        let failures: Vec<String> = through_pcscd
            .iter()
            .filter(|r| !matches!(r.verdict, Verdict::Pass | Verdict::Skip))
            .map(|r| format!("{}: {} {:?}\n{}", r.id, r.verdict, r.reason, r.evidence))
            .collect();
        assert!(
            failures.is_empty(),
            "{name} through pcscd:\n{}",
            failures.join("\n")
        );
        let passes = through_pcscd
            .iter()
            .filter(|r| r.verdict == Verdict::Pass)
            .count();
        assert!(passes >= 15, "{name}: only {passes} checks passed");
        // Every card identifies as this run's emulator: the destructive checks ran.
        assert!(through_pcscd[0]
            .evidence
            .contains("emulator attached in this run"));
        let in_process = run(name, &CardSite::InProcess);
        assert_eq!(verdicts(&through_pcscd), verdicts(&in_process), "{name}");
    }
}

#[test]
fn apdus_through_vpcd_avoid_the_delayed_ack_trap() {
    // Without TCP_QUICKACK after every read each APDU costs ~44 ms (PLATFORM.md).
    let slot = reader_slot(1);
    let results = run("valid", &vpcd_site(&slot));
    let slowest_ms = results
        .iter()
        .flat_map(|r| &r.measurements)
        .filter(|m| m.name == "apdu_max")
        .map(|m| m.value)
        .fold(0.0, f64::max);
    assert!(
        slowest_ms < 30.0,
        "an APDU took {slowest_ms} ms: the delayed-ACK trap is back"
    );
}
