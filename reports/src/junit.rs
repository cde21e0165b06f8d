//! JUnit XML: one testcase per case; fail → failure, error and inconc → error, skip →
//! skipped; the verdict and every measurement are properties; evidence goes to system-out.

use crate::verdict::{CaseResult, Verdict};
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum JunitError {
    #[error("cannot serialise JUnit: {0}")]
    Serialize(#[from] quick_junit::SerializeError),
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// The JUnit XML of `results`, one testsuite per group, in the order given.
pub fn to_xml(report_name: &str, results: &[CaseResult]) -> Result<String, JunitError> {
    let mut report = Report::new(report_name);
    let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
    for r in results {
        suites
            .entry(r.group.as_str())
            .or_insert_with(|| TestSuite::new(r.group.clone()))
            .add_test_case(test_case(r));
    }
    report.add_test_suites(suites.into_values());
    Ok(report.to_string()?)
}

fn test_case(r: &CaseResult) -> TestCase {
    let status = match r.verdict {
        Verdict::Pass => TestCaseStatus::success(),
        Verdict::Skip => TestCaseStatus::skipped(),
        Verdict::Fail => TestCaseStatus::non_success(NonSuccessKind::Failure),
        Verdict::Error | Verdict::Inconc => TestCaseStatus::non_success(NonSuccessKind::Error),
    };
    let mut status = status;
    if let Some(reason) = &r.reason {
        status.set_message(reason.clone());
        status.set_type(r.verdict.as_str());
    }
    let mut case = TestCase::new(r.name.clone(), status);
    case.set_classname(r.group.clone());
    case.set_time(r.duration);
    case.add_property(Property::new("verdict", r.verdict.as_str()));
    for m in &r.measurements {
        case.add_property(Property::new(
            m.name.clone(),
            format!("{} {}", m.value, m.unit),
        ));
    }
    if !r.evidence.is_empty() {
        case.set_system_out(r.evidence.clone());
    }
    case
}

/// Writes the XML atomically (temporary file, then rename), so a reader never sees half a
/// file and a killed run keeps the last complete one.
pub fn write(path: &Path, report_name: &str, results: &[CaseResult]) -> Result<(), JunitError> {
    let xml = to_xml(report_name, results)?;
    common::fs::write_atomic(path, xml.as_bytes()).map_err(|source| JunitError::Io {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Measurement;
    use std::time::Duration;

    fn case(name: &str, verdict: Verdict) -> CaseResult {
        CaseResult {
            id: format!("g.{name}"),
            group: "g".into(),
            name: name.into(),
            verdict,
            reason: (verdict != Verdict::Pass).then(|| format!("{name} because \x1b[31m<red>")),
            duration: Duration::from_millis(3),
            measurements: vec![Measurement::new("apdu_ms", 0.25, "ms")],
            evidence: "> 00A4\n< 9000".into(),
        }
    }

    #[test]
    fn maps_verdicts_and_escapes() {
        let results = [
            case("a", Verdict::Pass),
            case("b", Verdict::Fail),
            case("c", Verdict::Error),
            case("d", Verdict::Inconc),
            case("e", Verdict::Skip),
        ];
        let xml = to_xml("myna-hil", &results).unwrap();
        assert!(xml.contains(r#"tests="5""#), "{xml}");
        assert!(xml.contains(r#"failures="1""#), "{xml}");
        assert!(xml.contains(r#"errors="2""#), "{xml}");
        // quick-junit counts skipped cases as `disabled` on the suite; each has <skipped/>.
        assert!(
            xml.contains(r#"disabled="1""#) && xml.contains("<skipped"),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<property name="verdict" value="inconc"/>"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<property name="apdu_ms" value="0.25 ms"/>"#),
            "{xml}"
        );
        assert!(
            !xml.contains('\x1b'),
            "control characters must not reach the XML"
        );
        assert!(xml.contains("&lt;red&gt;"));
    }
}
