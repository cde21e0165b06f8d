//! What users read, pinned: the JSON Schemas `myna-hil schema` prints, and the diagnostics
//! of every file in the corpus of wrong scenarios and profiles
//! (`tests/data/schema-wrong/`). A change shows up as a snapshot diff to review
//! (`INSTA_UPDATE=always cargo test -p harness --test output_snapshots`).

use std::path::{Path, PathBuf};

fn corpus(kind: &str) -> Vec<PathBuf> {
    // Relative to the package (cargo runs tests there), so paths in diagnostics are stable.
    let dir = Path::new("tests/data/schema-wrong").join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "{}: only {} files",
        dir.display(),
        files.len()
    );
    files
}

#[test]
fn schemas() {
    let pretty = |v: serde_json::Value| serde_json::to_string_pretty(&v).unwrap();
    insta::assert_snapshot!(
        "schema_scenario",
        pretty(harness::scenario::scenario_json_schema())
    );
    insta::assert_snapshot!(
        "schema_include",
        pretty(harness::scenario::scenario_include_json_schema())
    );
    insta::assert_snapshot!(
        "schema_profile",
        pretty(harness::cards::profile_json_schema())
    );
}

#[test]
fn diagnostics_of_wrong_scenarios() {
    let mut out = String::new();
    for file in corpus("scenarios") {
        let diagnostics = match harness::scenario::load_cases(&file, &[]) {
            Ok(cases) => panic!("{} was accepted ({} cases)", file.display(), cases.len()),
            Err(d) => d.to_string(),
        };
        out.push_str(&format!("==== {}\n{diagnostics}\n", file.display()));
    }
    insta::assert_snapshot!("diagnostics_scenarios", out);
}

#[test]
fn diagnostics_of_wrong_profiles() {
    let mut out = String::new();
    for file in corpus("profiles") {
        let diagnostics = match harness::cards::load_profile(&file, &harness::cards::named_photos) {
            Ok(_) => panic!("{} was accepted", file.display()),
            Err(e) => e.to_string(),
        };
        out.push_str(&format!("==== {}\n{diagnostics}\n", file.display()));
    }
    insta::assert_snapshot!("diagnostics_profiles", out);
}
