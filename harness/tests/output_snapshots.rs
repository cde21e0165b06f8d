//! What users read, pinned: the JSON Schemas `myna-hil schema` prints, and the diagnostics
//! of every file in the corpus of wrong scenarios and profiles
//! (`tests/data/schema-wrong/`) and of broken files that hold secrets
//! (`tests/data/hostile/inputs/`, whose diagnostics must never show one). A change shows up
//! as a snapshot diff to review
//! (`INSTA_UPDATE=always cargo test -p harness --test output_snapshots`).

use std::path::{Path, PathBuf};

fn corpus(kind: &str) -> Vec<PathBuf> {
    files_in(&Path::new("tests/data/schema-wrong").join(kind), 10)
}

/// The YAML files of `dir`, at least `min` of them.
fn files_in(dir: &Path, min: usize) -> Vec<PathBuf> {
    // Relative to the package (cargo runs tests there), so paths in diagnostics are stable.
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= min,
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

/// The diagnostics of each scenario file, which must all be refused.
fn scenario_diagnostics(files: &[PathBuf]) -> String {
    let mut out = String::new();
    for file in files {
        let diagnostics = match harness::scenario::load_cases(file, &[]) {
            Ok(cases) => panic!("{} was accepted ({} cases)", file.display(), cases.len()),
            Err(d) => d.to_string(),
        };
        out.push_str(&format!("==== {}\n{diagnostics}\n", file.display()));
    }
    out
}

/// The diagnostics of each profile, which must all be refused.
fn profile_diagnostics(files: &[PathBuf]) -> String {
    let mut out = String::new();
    for file in files {
        let diagnostics = match harness::cards::load_profile(file, &harness::cards::named_photos) {
            Ok(_) => panic!("{} was accepted", file.display()),
            Err(e) => e.to_string(),
        };
        out.push_str(&format!("==== {}\n{diagnostics}\n", file.display()));
    }
    out
}

#[test]
fn diagnostics_of_wrong_scenarios() {
    let out = scenario_diagnostics(&corpus("scenarios"));
    insta::assert_snapshot!("diagnostics_scenarios", out);
}

#[test]
fn diagnostics_of_wrong_profiles() {
    let out = profile_diagnostics(&corpus("profiles"));
    insta::assert_snapshot!("diagnostics_profiles", out);
}

/// Every value under a secret key in `tests/data/hostile/inputs/`, none of which a
/// diagnostic may show.
const HOSTILE_SECRETS: &[&str] = &[
    // 個人番号
    "123456789018",
    "314159265353",
    "987654321093",
    "551234567892",
    "271828182840",
    // security codes
    "6048",
    "73915",
    "7777",
    "1357",
    "2468",
    // PINs and the signature password
    "4827",
    "s3cretpw",
    "6161",
    "9753",
    "8642",
    "24680",
    "3579",
    "8080",
    "9191",
    "7171",
    "6262",
    "4545",
];

/// What a diagnostic must not show either: the 個人番号 that `314159265353` (a wrong check
/// digit) would be corrected to.
const CORRECTED: &str = "314159265352";

#[test]
fn diagnostics_of_broken_files_never_show_a_secret() {
    let dir = Path::new("tests/data/hostile/inputs");
    let profiles = profile_diagnostics(&files_in(&dir.join("profiles"), 10));
    // Include-only files are read through the scenarios that include them.
    let mut scenario_files = files_in(&dir.join("scenarios"), 6);
    scenario_files.retain(|p| !p.file_name().unwrap().to_string_lossy().starts_with('_'));
    let scenarios = scenario_diagnostics(&scenario_files);
    // The list is the corpus's: each secret is in one of its files.
    let corpus_text: String = ["profiles", "scenarios"]
        .iter()
        .flat_map(|kind| std::fs::read_dir(dir.join(kind)).unwrap())
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    for secret in HOSTILE_SECRETS {
        assert!(
            corpus_text.contains(secret),
            "{secret} is in no corpus file"
        );
        for (what, out) in [("profiles", &profiles), ("scenarios", &scenarios)] {
            assert!(
                !out.contains(secret),
                "a diagnostic of the {what} shows {secret}:\n{out}"
            );
        }
    }
    assert!(!profiles.contains(CORRECTED), "{profiles}");
    // The lines are shown, masked.
    assert!(
        profiles.matches("**************").count() >= 3,
        "{profiles}"
    );
    insta::assert_snapshot!("diagnostics_hostile_profiles", profiles);
    insta::assert_snapshot!("diagnostics_hostile_scenarios", scenarios);
}
