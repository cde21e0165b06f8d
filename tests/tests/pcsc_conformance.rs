//! The card conformance checks through the real pcscd + vpcd, compared with in process.

use harness::engine::CardSite;
use myna_hil_tests::{reader_slot, repo_root, run_conformance, vpcd_site};
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

/// The conformance cases of a shipped profile, run by the engine (as `myna-hil conformance`).
fn run(name: &str, site: CardSite) -> Vec<CaseResult> {
    let profile = repo_root().join(format!("scenarios/cards/{name}.yaml"));
    run_conformance(&profile, site, Duration::from_secs(2))
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
        let through_pcscd = run(name, vpcd_site(&slot));
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
        let in_process = run(name, CardSite::InProcess);
        assert_eq!(verdicts(&through_pcscd), verdicts(&in_process), "{name}");
    }
}

#[test]
fn apdus_through_vpcd_avoid_the_delayed_ack_trap() {
    // Without TCP_QUICKACK after every read each APDU costs ~44 ms (docs/platform.md).
    let slot = reader_slot(1);
    let results = run("valid", vpcd_site(&slot));
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
