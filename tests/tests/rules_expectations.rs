//! The wrong-expectation twins (`tests/data/rules-wrong/`, issue 14): each shipped rules
//! scenario has a twin with one expectation the rules contradict, and every twin ends in
//! `error` naming the rule that decided the value in dispute (the `# error: RULE` line of
//! its file). Their shipped originals pass in the suite run (`scenarios/reception/`).

use myna_hil_tests::{fresh_dir, repo_root, run_myna_hil, text};
use std::collections::BTreeMap;

#[test]
fn every_twin_ends_in_error_naming_its_rule() {
    let corpus = repo_root().join("tests/data/rules-wrong");
    let mut rules: BTreeMap<String, String> = BTreeMap::new();
    for entry in std::fs::read_dir(&corpus).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let body = std::fs::read_to_string(&path).unwrap();
            let rule = body
                .lines()
                .find_map(|l| l.strip_prefix("# error: "))
                .unwrap_or_else(|| panic!("{}: no `# error: RULE` line", path.display()));
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            // Each twin names its shipped original on its first line, which exists.
            let original = body
                .lines()
                .next()
                .and_then(|l| l.split("scenarios/reception/").nth(1))
                .and_then(|rest| rest.split(".yaml").next())
                .unwrap_or_else(|| panic!("{stem}: no `Twin of scenarios/reception/…` line"));
            assert!(
                repo_root()
                    .join(format!("scenarios/reception/{original}.yaml"))
                    .exists(),
                "{stem}: no shipped original {original}"
            );
            rules.insert(stem, rule.to_owned());
        }
    }
    assert!(rules.len() >= 6, "{rules:?}");
    let out = fresh_dir("rules-wrong").join("out");
    let run = run_myna_hil(&[
        "run",
        corpus.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_ne!(run.status.code(), Some(0), "{}", text(&run.stdout));
    let cases = reports::results::ResultsFile::read(&out.join("results.json"))
        .unwrap()
        .cases;
    assert_eq!(cases.len(), rules.len());
    for case in cases {
        let stem = case.id.trim_start_matches("rules-wrong.");
        let reason = case.reason.clone().unwrap_or_default();
        assert_eq!(case.verdict.as_str(), "error", "{}: {reason}", case.id);
        let rule = &rules[stem];
        assert!(
            reason.contains("the scenario expects") && reason.contains(&format!("(rule `{rule}`)")),
            "{}: `{rule}` not named in: {reason}",
            case.id
        );
    }
}
