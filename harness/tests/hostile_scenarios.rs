//! Scenario inputs from a hostile tester (issue 10), through the built `myna-hil`: each is
//! refused before anything runs with exit 2 and a message that says what and where, or (a
//! matrix of plain integers) accepted. The files are in `tests/data/hostile/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/hostile")
        .join(name)
}

fn scenario(name: &str) -> String {
    data(&format!("scenarios/{name}")).display().to_string()
}

/// `myna-hil ARGS` with `env` set (and `MYNA_HIL_MAX_CASES` unset unless `env` sets it);
/// reports go to a folder of their own.
fn myna_hil(args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = std::env::temp_dir().join(format!("myna-hil-hostile-{}", std::process::id()));
    let mut command = Command::new(env!("CARGO_BIN_EXE_myna-hil"));
    command.args(args).env_remove("MYNA_HIL_MAX_CASES");
    if args.first() == Some(&"run") {
        command.arg("--out").arg(&out);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("myna-hil runs")
}

/// Exit 2, with every one of `needles` in stdout + stderr; returns the text.
fn refused(out: &Output, needles: &[&str]) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(2), "{text}");
    for needle in needles {
        assert!(text.contains(needle), "`{needle}` not in:\n{text}");
    }
    text
}

#[test]
fn a_matrix_of_a_billion_cases_is_refused_before_it_is_expanded() {
    let file = scenario("matrix-billion.yaml");
    let started = std::time::Instant::now();
    for command in ["check", "run"] {
        let out = myna_hil(&[command, &file], &[]);
        refused(
            &out,
            &[
                "matrix-billion.yaml:6:3",
                "this matrix makes 1000000000 cases (a: 10 × b: 10",
                "more than the limit of 100000",
                "MYNA_HIL_MAX_CASES",
            ],
        );
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn the_matrix_limit_comes_from_the_environment() {
    let file = scenario("matrix-integers.yaml");
    let out = myna_hil(&["check", &file], &[("MYNA_HIL_MAX_CASES", "2")]);
    refused(
        &out,
        &["this matrix makes 3 cases (n: 3), more than the limit of 2"],
    );
    let out = myna_hil(&["check", &file], &[("MYNA_HIL_MAX_CASES", "lots")]);
    refused(&out, &["MYNA_HIL_MAX_CASES=`lots` is not a whole number"]);
    // Pinning the variable with --var makes one case of it.
    let out = myna_hil(
        &["check", &file, "--var", "n=2"],
        &[("MYNA_HIL_MAX_CASES", "2")],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn a_matrix_of_plain_integers_has_a_case_per_integer() {
    let out = myna_hil(&["check", &scenario("matrix-integers.yaml")], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(stdout.contains("(3 case(s))"), "{stdout}");
}

#[test]
fn a_mistyped_var_is_refused_naming_the_known_variables() {
    let file = scenario("var-visit.yaml");
    let when = "when=2025-11-04";
    for command in ["check", "run"] {
        let out = myna_hil(
            &[command, &file, "--var", when, "--var", "visti=first"],
            &[],
        );
        refused(
            &out,
            &[
                "--var visti: no selected scenario has a variable `visti`",
                "did you mean `visit`? known: pin, visit, when",
            ],
        );
    }
    // The variable a file only uses (`${when}`) is known too.
    let out = myna_hil(&["check", &file, "--var", when, "--var", "pin=wrong"], &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn dates_outside_1900_to_2100_are_refused_where_they_are_written() {
    let out = myna_hil(&["check", &scenario("date-year-9999.yaml")], &[]);
    refused(
        &out,
        &[
            "the year 9999 is out of range (1900 to 2100)",
            "date-year-9999.yaml:3:7",
        ],
    );
    let out = myna_hil(&["check", &scenario("dates-out-of-range.yaml")], &[]);
    refused(
        &out,
        &[
            "dates-out-of-range.yaml:8:23",
            "the year 0 is out of range",
            "dates-out-of-range.yaml:10:31",
            "expected a date (YYYY-MM-DD)",
        ],
    );
    let out = myna_hil(
        &[
            "check",
            &data("cards/birth-year-zero.yaml").display().to_string(),
        ],
        &[],
    );
    refused(
        &out,
        &[
            "birth-year-zero.yaml:5:15",
            "the year 0 is out of range",
            "birth-year-zero.yaml:12:70",
            "the year 9999 is out of range",
        ],
    );
    let out = myna_hil(&["serve-qualification", "--date", "9999-01-01"], &[]);
    refused(&out, &["the year 9999 is out of range"]);
}

#[test]
fn a_patient_born_after_the_visit_is_refused_before_anything_runs() {
    let file = scenario("born-after-visit.yaml");
    for command in ["check", "run"] {
        let out = myna_hil(&[command, &file], &[]);
        let text = refused(
            &out,
            &[
                "born-after-visit.yaml:4:7",
                "the visit on 2025-11-04 is before the patient's birth on 2030-01-01",
                "born-2030.yaml",
            ],
        );
        // No case ran: no verdict, no summary.
        assert!(!text.contains(" cases: "), "{text}");
    }
}

#[test]
fn a_wait_longer_than_its_deadline_is_refused() {
    let out = myna_hil(&["check", &scenario("wait-past-deadline.yaml")], &[]);
    refused(
        &out,
        &[
            "wait-past-deadline.yaml:7:13",
            "this wait of 3s is longer than its deadline of 1s",
            "wait-past-deadline.yaml:8:11",
            "this wait of 30s is longer than its deadline of 10s",
            "`step_deadline` (10s)",
        ],
    );
}
