//! The certification decision, from the cases' results and the plan's policy alone, so that
//! `certify` and an independent `verify` reach it the same way: **certified only if every
//! mandatory selected case passed**, after bench errors were retried as the plan allows.
//! A mandatory case that failed, erred, was skipped or never ran means not certified, and
//! the reasons name each one.

use reports::{CaseResult, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A selected case as the bundle records it: which requirements it tests, and whether any
/// of them is mandatory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectedCase {
    pub case: String,
    pub requirements: Vec<String>,
    pub mandatory: bool,
}

/// The decision and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub certified: bool,
    /// Why not (each mandatory case that did not pass); empty when certified.
    pub reasons: Vec<String>,
    /// What does not block certification but a reader of the report should see (optional
    /// cases that did not pass, retried bench errors).
    pub notes: Vec<String>,
}

/// The marker of a bench error in a case's reason: the harness could not set the case up
/// or the PC/SC stack broke under it (`engine::case_runner`). A failure to reach or use
/// the device under test is the device's, never retried.
pub fn is_bench_error(result: &CaseResult) -> bool {
    let reason = result.reason.as_deref().unwrap_or_default();
    result.verdict == Verdict::Error
        && ((reason.starts_with("bench: ") && !reason.starts_with("bench: device under test"))
            || reason.contains("a bench fault"))
}

/// Each case's final result: its last attempt (attempts in order; a case is in a later
/// attempt only when it was retried).
pub fn final_results(attempts: &[Vec<CaseResult>]) -> BTreeMap<String, CaseResult> {
    let mut out = BTreeMap::new();
    for attempt in attempts {
        for r in attempt {
            out.insert(r.id.clone(), r.clone());
        }
    }
    out
}

/// The cases to run again after `latest`: those whose result is a bench error.
pub fn to_retry(latest: &BTreeMap<String, CaseResult>) -> Vec<String> {
    latest
        .values()
        .filter(|r| is_bench_error(r))
        .map(|r| r.id.clone())
        .collect()
}

/// Checks that the attempts follow the plan's retry policy: the first holds every selected
/// case once, each later one only cases the attempt before left with a bench error, and
/// there are at most `attempts` of them. `Err` says how they do not.
pub fn check_attempts(
    selected: &[SelectedCase],
    attempts: &[Vec<CaseResult>],
    max_attempts: u8,
) -> Result<(), String> {
    if attempts.is_empty() {
        return Err("no attempt was recorded".into());
    }
    if attempts.len() > usize::from(max_attempts) {
        return Err(format!(
            "{} attempts, the plan allows {max_attempts}",
            attempts.len()
        ));
    }
    let mut first: Vec<&str> = attempts[0].iter().map(|r| r.id.as_str()).collect();
    first.sort_unstable();
    let mut wanted: Vec<&str> = selected.iter().map(|s| s.case.as_str()).collect();
    wanted.sort_unstable();
    if first != wanted {
        return Err("the first attempt does not hold exactly the selected cases".into());
    }
    for n in 1..attempts.len() {
        let before = final_results(&attempts[..n]);
        let allowed = to_retry(&before);
        for r in &attempts[n] {
            if !allowed.contains(&r.id) {
                return Err(format!(
                    "attempt {} ran {} again, which had no bench error",
                    n + 1,
                    r.id
                ));
            }
        }
    }
    Ok(())
}

/// The decision for `selected` given each case's final result.
pub fn decide(selected: &[SelectedCase], results: &BTreeMap<String, CaseResult>) -> Decision {
    let mut reasons = Vec::new();
    let mut notes = Vec::new();
    for s in selected {
        let why = match results.get(&s.case) {
            None => Some("never ran".to_owned()),
            Some(r) if r.verdict == Verdict::Pass => {
                // A pass on a person's word: the certifier sees whose, and what.
                for a in &r.operator {
                    notes.push(format!(
                        "case {} ({}) passed on an operator's answer: `{}` to `{}` by {}",
                        s.case,
                        s.requirements.join(", "),
                        a.answer.as_deref().unwrap_or("(none)"),
                        a.prompt,
                        a.by.as_deref().unwrap_or("nobody")
                    ));
                }
                None
            }
            Some(r) => Some(format!(
                "ended {}{}",
                r.verdict.as_str(),
                r.reason
                    .as_deref()
                    .map(|w| format!(": {}", first_line(w)))
                    .unwrap_or_default()
            )),
        };
        if let Some(why) = why {
            let line = format!("{} ({}) {why}", s.case, s.requirements.join(", "));
            if s.mandatory {
                reasons.push(format!("mandatory case {line}"));
            } else {
                notes.push(format!("optional case {line}"));
            }
        }
    }
    Decision {
        certified: reasons.is_empty(),
        reasons,
        notes,
    }
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    let mut cut: String = line.chars().take(300).collect();
    if cut.len() < line.len() {
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(id: &str, verdict: Verdict, reason: Option<&str>) -> CaseResult {
        let mut r = CaseResult::new("g", id, verdict);
        r.id = id.to_owned();
        r.reason = reason.map(str::to_owned);
        r
    }

    fn selected(case: &str, mandatory: bool) -> SelectedCase {
        SelectedCase {
            case: case.into(),
            requirements: vec!["R-1".into()],
            mandatory,
        }
    }

    #[test]
    fn only_bench_errors_are_retried() {
        assert!(is_bench_error(&result(
            "a",
            Verdict::Error,
            Some("bench: qualification service: address in use")
        )));
        assert!(is_bench_error(&result(
            "a",
            Verdict::Error,
            Some("the PC/SC stack failed under the case (x): a bench fault")
        )));
        for (v, why) in [
            (
                Verdict::Error,
                "bench: device under test: the device did not answer",
            ),
            (Verdict::Error, "step did not finish within its deadline"),
            (Verdict::Fail, "bench: x"),
        ] {
            assert!(!is_bench_error(&result("a", v, Some(why))), "{why}");
        }
    }

    #[test]
    fn certified_only_when_every_mandatory_case_passed() {
        let sel = [selected("a", true), selected("b", false)];
        let attempt = vec![
            result("a", Verdict::Pass, None),
            result("b", Verdict::Fail, Some("wrong route\nmore")),
        ];
        let d = decide(&sel, &final_results(&[attempt]));
        assert!(d.certified, "{d:?}");
        assert_eq!(d.notes, ["optional case b (R-1) ended fail: wrong route"]);
        for bad in [
            Verdict::Fail,
            Verdict::Error,
            Verdict::Skip,
            Verdict::Inconc,
        ] {
            let d = decide(&sel, &final_results(&[vec![result("a", bad, Some("why"))]]));
            assert!(!d.certified);
            assert!(
                d.reasons[0].starts_with("mandatory case a (R-1) ended"),
                "{d:?}"
            );
        }
        let d = decide(&sel, &BTreeMap::new());
        assert_eq!(d.reasons, ["mandatory case a (R-1) never ran"]);
    }

    #[test]
    fn a_pass_on_an_operators_answer_is_noted() {
        let mut a = result("a", Verdict::Pass, None);
        a.operator.push(reports::OperatorAnswer {
            prompt: "consent-four-items".into(),
            question: "Four items?".into(),
            asked_at: "2026-12-04T00:00:00Z".into(),
            answered_at: Some("2026-12-04T00:00:05Z".into()),
            answer: Some("yes".into()),
            by: Some("live page (127.0.0.1:5)".into()),
            meaning: "continue".into(),
        });
        let d = decide(&[selected("a", true)], &final_results(&[vec![a]]));
        assert!(d.certified);
        assert_eq!(
            d.notes,
            ["case a (R-1) passed on an operator's answer: `yes` to `consent-four-items` by live page (127.0.0.1:5)"]
        );
    }

    #[test]
    fn a_retried_bench_error_counts_by_its_last_attempt_and_retries_follow_the_policy() {
        let sel = [selected("a", true), selected("b", true)];
        let first = vec![
            result("a", Verdict::Error, Some("bench: pcscd went away")),
            result("b", Verdict::Pass, None),
        ];
        let second = vec![result("a", Verdict::Pass, None)];
        let attempts = [first.clone(), second];
        assert!(decide(&sel, &final_results(&attempts)).certified);
        assert_eq!(check_attempts(&sel, &attempts, 2), Ok(()));
        assert!(check_attempts(&sel, &attempts, 1).is_err());
        let cheat = [first, vec![result("b", Verdict::Pass, None)]];
        assert!(check_attempts(&sel, &cheat, 2)
            .unwrap_err()
            .contains("had no bench error"));
        assert!(check_attempts(&sel, &[vec![]], 2)
            .unwrap_err()
            .contains("exactly the selected"));
    }
}
