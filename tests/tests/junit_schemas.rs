//! JUnit that every consumer reads: a file with every verdict, characters XML 1.0 cannot
//! carry, markup, Japanese text, blank names, empty evidence and measurements validates
//! against both published schemas (the shipped suite's own JUnit is checked in scenarios.rs).

use myna_hil_tests::{assert_junit_valid, fresh_dir};
use reports::{CaseResult, Measurement, Verdict};
use std::time::Duration;

const HOSTILE: &str = "\u{fffe}\u{ffff} \x1b[31m\0\x0b ]]> <b> & \"q\" 'a' 保険者の確認\r\n\t";

fn case(group: &str, name: &str, verdict: Verdict) -> CaseResult {
    CaseResult {
        reason: (verdict != Verdict::Pass).then(|| format!("{HOSTILE} {verdict}")),
        duration: Duration::from_micros(1_234_567),
        ..CaseResult::new(group, name, verdict)
    }
}

#[test]
fn hostile_results_give_junit_valid_under_both_schemas() {
    use Verdict::*;
    let mut results = Vec::new();
    for (i, verdict) in [Pass, Fail, Error, Inconc, Skip].into_iter().enumerate() {
        // Each verdict twice: once plain, once with hostile evidence and measurements.
        results.push(case("conformance.valid", &format!("plain-{i}"), verdict));
        let mut c = case(HOSTILE, &format!("{HOSTILE}{i}"), verdict);
        c.evidence = format!("> 00A4\n< 9000\n{HOSTILE}\n").repeat(30);
        c.measurements = vec![
            Measurement::new(HOSTILE, 0.25, HOSTILE),
            Measurement::new("apdu_ms", f64::NAN, "ms"),
            Measurement::millis("", Duration::ZERO),
        ];
        results.push(c);
    }
    results.push(case(" ", "", Pass));
    let stamp = reports::junit::RunStamp {
        started: time::OffsetDateTime::now_utc(),
        hostname: HOSTILE.into(),
    };
    let junit = fresh_dir("junit-schemas").join("junit.xml");
    reports::junit::write(&junit, &results, &stamp).unwrap();
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        !xml.contains(['\u{fffe}', '\u{ffff}', '\x1b', '\0']),
        "{xml:?}"
    );
    assert!(xml.contains("保険者の確認"), "{xml}");
    assert_junit_valid(&junit);
}
