//! The JUnit a small fixed run produces, pinned: a change to what CI tools read shows up as a
//! snapshot diff to review (`INSTA_UPDATE=always cargo test -p reports --test junit_snapshot`).
//! Schema validation of the same shapes is in the tests crate (tests/tests/junit_schemas.rs).

use reports::junit::{to_xml, RunStamp};
use reports::{CaseResult, Measurement, Verdict};
use std::time::Duration;

fn case(group: &str, name: &str, verdict: Verdict, reason: Option<&str>) -> CaseResult {
    CaseResult {
        reason: reason.map(str::to_owned),
        duration: Duration::from_micros(12_345),
        ..CaseResult::new(group, name, verdict)
    }
}

#[test]
fn junit_of_a_small_run() {
    let mut pass = case("conformance.valid", "select_jpki_ap", Verdict::Pass, None);
    pass.measurements = vec![Measurement::new("apdu_ms", 0.25, "ms")];
    pass.evidence = "> 00A4040C0A\n< 9000\n".into();
    let mut fail = case(
        "conformance.valid",
        "verify_pin",
        Verdict::Fail,
        Some("expected 63C2, got 9000"),
    );
    fail.evidence = "> 0020008004 (PIN redacted)\n< 9000".into();
    let results = [
        pass,
        fail,
        case(
            "conformance.valid",
            "sign",
            Verdict::Skip,
            Some("no signature AP on this card"),
        ),
        case(
            "reception.grace",
            "in",
            Verdict::Inconc,
            Some("reader gone <USB>"),
        ),
        case(
            "reception.grace",
            "out",
            Verdict::Error,
            Some("bench: vpcd port 35963 busy"),
        ),
    ];
    let stamp = RunStamp {
        started: time::macros::datetime!(2026-04-01 09:30:05 UTC),
        hostname: "bench-1".into(),
    };
    insta::assert_snapshot!("junit_small_run", to_xml(&results, &stamp));
}
