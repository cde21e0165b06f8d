//! The JSON Schemas are true: every shipped scenario (`scenarios/**/*.yaml`, include-only
//! files against the include schema) and every shipped card profile (`scenarios/cards/`)
//! validates with a real JSON Schema validator and is accepted by the parser; every file
//! of the wrong corpus (`tests/data/schema-wrong/`, each saying in its first line what is
//! wrong) is rejected by both.

use harness::cards::{no_photos, parse_profile_file, profile_json_schema};
use harness::rules::ConsentStep;
use harness::scenario::{
    parse_cases, scenario_include_json_schema, scenario_json_schema, StepKind, VAR_PATTERN,
};
use harness::yaml::yaml_to_json;
use jsonschema::Validator;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn is_profile(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "cards")
}

fn is_include(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('_'))
}

fn validator(schema: &Value) -> Validator {
    jsonschema::draft202012::new(schema).unwrap_or_else(|e| panic!("the schema is invalid: {e}"))
}

fn json_of(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    yaml_to_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The schema's complaints about `value`, one line each.
fn complaints(validator: &Validator, value: &Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

struct Validators {
    scenario: Validator,
    include: Validator,
    profile: Validator,
}

impl Validators {
    fn new() -> Self {
        Validators {
            scenario: validator(&scenario_json_schema()),
            include: validator(&scenario_include_json_schema()),
            profile: validator(&profile_json_schema()),
        }
    }

    /// The schema for a file: a profile, an include-only file or a scenario.
    fn for_file(&self, path: &Path, profile: bool) -> &Validator {
        if profile {
            &self.profile
        } else if is_include(path) {
            &self.include
        } else {
            &self.scenario
        }
    }
}

/// The parser's verdict on a file: `Err` with its diagnostics.
fn parse(path: &Path, profile: bool) -> Result<(), String> {
    let text = std::fs::read_to_string(path).unwrap();
    if profile {
        parse_profile_file(path, &text, &no_photos)
            .map(|_| ())
            .map_err(|d| d.to_string())
    } else {
        parse_cases(path, &text, &[])
            .map(|_| ())
            .map_err(|d| d.to_string())
    }
}

#[test]
fn every_shipped_file_validates_and_parses() {
    let v = Validators::new();
    // The shipped suite, the physical bench's scenarios and the operator tests' scenario.
    let mut files = yaml_files(&workspace().join("scenarios"));
    files.extend(yaml_files(
        &workspace().join("examples/physical-bench/scenarios"),
    ));
    files.extend(
        yaml_files(&workspace().join("tests/data/operator"))
            .into_iter()
            .filter(|p| p.file_name().is_some_and(|n| n != "answers.yaml")),
    );
    let mut wrong = Vec::new();
    let (mut scenarios, mut includes, mut profiles) = (0, 0, 0);
    for path in &files {
        let profile = is_profile(path);
        match (profile, is_include(path)) {
            (true, _) => profiles += 1,
            (false, true) => includes += 1,
            (false, false) => scenarios += 1,
        }
        for c in complaints(v.for_file(path, profile), &json_of(path)) {
            wrong.push(format!("{}: schema: {c}", path.display()));
        }
        // Include-only files are parsed through the scenarios that include them.
        if profile || !is_include(path) {
            if let Err(e) = parse(path, profile) {
                wrong.push(format!("{}: parser: {e}", path.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        scenarios >= 30 && includes >= 1 && profiles >= 10,
        "{scenarios} {includes} {profiles}"
    );
}

/// Every wrong file: a comment saying what is wrong, rejected by the schema and (except
/// include-only files, parsed through the scenario that includes them) by the parser.
fn wrong_corpus(kind: &str, profile: bool) {
    let v = Validators::new();
    let files = yaml_files(
        &workspace()
            .join("harness/tests/data/schema-wrong")
            .join(kind),
    );
    assert!(files.len() >= 15, "{kind}: only {} files", files.len());
    let mut wrong = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        if !text.starts_with("# Wrong") {
            wrong.push(format!(
                "{}: does not start with `# Wrong…`",
                path.display()
            ));
        }
        // A scenario whose mistake is in its include-only file is valid itself: the schema
        // rejects the include, the parser the scenario.
        let wrong_include = text.contains("include: [_");
        let accepted = complaints(v.for_file(path, profile), &json_of(path)).is_empty();
        if accepted && !wrong_include {
            wrong.push(format!("{}: the schema accepts it", path.display()));
        } else if !accepted && wrong_include {
            wrong.push(format!(
                "{}: the schema rejects it, not its include",
                path.display()
            ));
        }
        if is_include(path) {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let included = files.iter().any(|f| {
                std::fs::read_to_string(f)
                    .unwrap()
                    .contains(&format!("include: [{name}]"))
            });
            if !included {
                wrong.push(format!(
                    "{}: no file of the corpus includes it",
                    path.display()
                ));
            }
        } else if parse(path, profile).is_ok() {
            wrong.push(format!("{}: the parser accepts it", path.display()));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn wrong_scenarios_are_rejected_by_schema_and_parser() {
    wrong_corpus("scenarios", false);
}

#[test]
fn wrong_profiles_are_rejected_by_schema_and_parser() {
    wrong_corpus("profiles", true);
}

/// The files of the corpus are the valid bases below with one mistake each; the bases
/// themselves pass both.
#[test]
fn the_corpus_bases_are_valid() {
    let v = Validators::new();
    let scenario = "title: t\ndate: 2025-11-04\nsteps:\n  - place_card\n";
    assert!(v.scenario.is_valid(&yaml_to_json(scenario).unwrap()));
    parse_cases(Path::new("t.yaml"), scenario, &[]).unwrap();
    let profile = r#"name: x
holder: { name: "試験　太郎", birth_date: 1980-02-17, sex: male, address: "東京都", my_number: "123456789018" }
card_expiry_year: 2035
security_code: "2285"
certificates:
  authentication: { serial: 1, not_before: 2025-02-17, not_after: 2030-02-17 }
  signature: { serial: 2, not_before: 2025-02-17, not_after: 2030-02-17 }
"#;
    assert!(v.profile.is_valid(&yaml_to_json(profile).unwrap()));
    parse_profile_file(Path::new("p.yaml"), profile, &no_photos).unwrap();
}

#[test]
fn a_variable_stands_for_any_value_the_parser_substitutes() {
    let v = Validators::new();
    let text = r#"title: t
matrix:
  date: ["2025-11-04"]
  visit: [first]
  rules: [seed]
  fault: [timeout]
  pin: [correct]
  answer: [accept]
  shown: [portal_screen]
  method: [pin]
  earlier: ["3"]
  attack: [still_photo]
  item: [medication]
date: ${date}
visit: ${visit}
rule_set: ${rules}
service: ${fault}
camera:
  photo: obama.jpg
  attack: ${attack}
  earlier_failures: ${earlier}
steps:
  - choose: ${method}
  - enter_pin: ${pin}
  - register: ${answer}
  - show: ${shown}
  - consent: ["${item}"]
"#;
    let value = yaml_to_json(text).unwrap();
    assert_eq!(complaints(&v.scenario, &value), Vec::<String>::new());
    let cases = parse_cases(Path::new("t.yaml"), text, &[]).unwrap();
    assert_eq!(cases.len(), 1);
    // And a `${var}` is only a whole value.
    assert!(VAR_PATTERN.starts_with('^') && VAR_PATTERN.ends_with('$'));
    let half = text.replace("visit: ${visit}", "visit: x${visit}");
    assert!(!v.scenario.is_valid(&yaml_to_json(&half).unwrap()));
}

#[test]
fn old_consent_item_names_get_a_hint() {
    let text = "title: t\ndate: 2025-11-04\nsteps:\n  - consent: [surgery, checkups]\n";
    let err = parse_cases(Path::new("t.yaml"), text, &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("`surgery` is now `past_surgery`"), "{err}");
    assert!(err.contains("`checkups` is now `health_checkups`"), "{err}");
    let text = "title: t\ndate: 2025-11-04\nsteps:\n  - consent: [past_surgery, health_checkups]\n";
    let cases = parse_cases(Path::new("t.yaml"), text, &[]).unwrap();
    assert!(matches!(
        cases[0].steps[0].kind,
        StepKind::Consent(ConsentStep::Choose(_))
    ));
}

proptest::proptest! {
    /// The one date parser accepts exactly the days that exist in the years 1900 to 2100
    /// (`harness::units::parse_date`), and the schemas' date pattern agrees with it: it
    /// matches whatever the parser accepts, and a day that exists exactly when the parser
    /// accepts it (whether a day exists only the parser knows).
    #[test]
    fn the_date_parser_and_pattern_agree_on_the_years(
        year in -3000i32..12000,
        month in 0u8..14,
        day in 0u8..33,
    ) {
        use harness::units::{parse_date, DateError, DATE_YEARS};
        let text = format!("{year:04}-{month:02}-{day:02}");
        let real = time::Month::try_from(month)
            .ok()
            .and_then(|m| time::Date::from_calendar_date(year, m, day).ok());
        let expected = match real {
            _ if !(0..=9999).contains(&year) => Err(DateError::Format),
            _ if !DATE_YEARS.contains(&year) => Err(DateError::Year(year)),
            Some(d) => Ok(d),
            None => Err(DateError::Format),
        };
        let parsed = parse_date(&text);
        proptest::prop_assert_eq!(&parsed, &expected);
        let pattern = serde_json::json!({
            "type": "string",
            "pattern": harness::yaml::schema::DATE_PATTERN
        });
        let matched = validator(&pattern).is_valid(&Value::String(text.clone()));
        if parsed.is_ok() {
            proptest::prop_assert!(matched, "{}", text);
        }
        if real.is_some() {
            proptest::prop_assert_eq!(matched, parsed.is_ok(), "{}", text);
        }
    }
}

/// The shipped ICS files and plans validate against their schemas and parse, and the
/// schema and the parser both refuse the same broken declarations.
#[test]
fn shipped_ics_and_plans_validate_and_parse_and_both_refuse_wrong_ones() {
    use harness::certify::ics::parse_ics;
    use harness::certify::plan::parse_plan;
    use harness::certify::schema::{ics_json_schema, plan_json_schema};
    let ics_schema = validator(&ics_json_schema());
    let plan_schema = validator(&plan_json_schema());
    let mut declarations = yaml_files(&workspace().join("ics"));
    declarations.push(workspace().join("examples/adapter-python/ics.yaml"));
    for path in declarations {
        assert_eq!(
            complaints(&ics_schema, &json_of(&path)),
            Vec::<String>::new(),
            "{}",
            path.display()
        );
        let text = std::fs::read_to_string(&path).unwrap();
        parse_ics(&path, &text).unwrap_or_else(|e| panic!("{e}"));
        // Wrong in ways both must see.
        for (from, to) in [
            ("  desk: false\n", ""),
            ("  face_tries: 3", "  face_tries: 11"),
            ("transport: tcp", "transport: usb"),
            ("  pin_pad: true", "  pin_pad: yes please"),
        ] {
            assert!(text.contains(from), "{from}");
            let wrong = text.replacen(from, to, 1);
            let value = harness::yaml::yaml_to_json(&wrong).unwrap();
            assert!(
                !complaints(&ics_schema, &value).is_empty(),
                "schema took {to:?}"
            );
            assert!(parse_ics(&path, &wrong).is_err(), "parser took {to:?}");
        }
    }
    for path in yaml_files(&workspace().join("plans")) {
        assert_eq!(
            complaints(&plan_schema, &json_of(&path)),
            Vec::<String>::new(),
            "{}",
            path.display()
        );
        let text = std::fs::read_to_string(&path).unwrap();
        parse_plan(&path, &text).unwrap_or_else(|e| panic!("{e}"));
        for (from, to) in [
            ("mandatory: true", "mandatory: sometimes"),
            ("attempts: 2", "attempts: 9"),
        ] {
            let wrong = text.replacen(from, to, 1);
            let value = harness::yaml::yaml_to_json(&wrong).unwrap();
            assert!(
                !complaints(&plan_schema, &value).is_empty(),
                "schema took {to:?}"
            );
            assert!(parse_plan(&path, &wrong).is_err(), "parser took {to:?}");
        }
    }
}
