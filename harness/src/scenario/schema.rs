//! The JSON Schema (draft 2020-12) of the scenario format, for editors (`myna-hil schema`).
//!
//! Built from the name tables the parser uses ([`super::model`]: keys, steps, routes, consent
//! answers, documents, service faults, …; [`crate::rules::ConsentItem::NAMES`]; the photo
//! cache's table; camera-replay's attack species and perturbations), so the parser and the
//! schema cannot drift apart on names. Where the parser substitutes `${var}` in a value, the
//! schema accepts [`VAR_PATTERN`] besides the value. `harness/tests/schema.rs` validates every
//! shipped scenario against it, and a corpus of wrong files that both must reject.
//!
//! One schema covers the three kinds of file: a conformance file (it has a `conformance`
//! key), a scenario, and (through [`scenario_include_json_schema`]) an include-only file
//! (`_*.yaml`), which is partial: nothing is required of it.

use super::model::*;
use crate::rules::{ConsentItem, ConsentStep};
use crate::yaml::schema::{self as base, boolean, mapping, string, strings, SCHEMA_DIALECT};
use serde_json::{json, Map, Value};

/// A value that is a whole `${var}` reference (a variable from `vars`, `matrix` or `--var`).
pub const VAR_PATTERN: &str = r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$";

/// A number as Rust's `f64` parser reads it (the text form of `perturb`).
const NUMBER_PATTERN: &str = r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?";

fn var() -> Value {
    json!({
        "type": "string",
        "pattern": VAR_PATTERN,
        "description": "a variable: `${name}` from `vars`, `matrix` or `--var name=value`"
    })
}

/// `schema`, or a `${var}` standing for it (the description moves out, for editors).
fn or_var(mut schema: Value) -> Value {
    let description = schema.as_object_mut().and_then(|o| o.remove("description"));
    let mut out = json!({ "anyOf": [schema, var()] });
    if let Some(d) = description {
        out["description"] = d;
    }
    out
}

/// One of the names of a parser table (or a variable).
fn choice<T>(table: &[(&str, T)], description: &str) -> Value {
    or_var(base::choice(table, description))
}

fn duration(description: &str) -> Value {
    or_var(base::duration(description))
}

fn date(description: &str) -> Value {
    or_var(base::date(description))
}

fn integer(range: std::ops::RangeInclusive<i64>, description: &str) -> Value {
    or_var(base::integer(range, description))
}

fn number(range: std::ops::RangeInclusive<f64>, description: &str) -> Value {
    or_var(json!({
        "type": "number",
        "minimum": range.start(),
        "maximum": range.end(),
        "description": description
    }))
}

/// The value of a variable: any scalar, as text (`3` is `"3"`).
fn variable_value() -> Value {
    json!({ "type": ["string", "number", "boolean"] })
}

fn consent_item() -> Value {
    choice(&ConsentItem::NAMES, "a consent item")
}

/// `consent:` in a step (`reuse` included) or in `consent_history` (a choice made).
fn consent(with_reuse: bool) -> Value {
    let answers: Vec<(&str, ())> = CONSENT_ANSWERS
        .iter()
        .filter(|(_, step)| with_reuse || matches!(step, ConsentStep::Choose(_)))
        .map(|(n, _)| (*n, ()))
        .collect();
    json!({
        "anyOf": [
            choice(&answers, "agree to all, to none, or reuse the earlier choice here"),
            { "type": "array", "items": consent_item(), "description": "the items agreed to, one by one" }
        ]
    })
}

fn shown() -> Value {
    let dated = |name: &str| {
        json!({
            "type": "object",
            "properties": { name: mapping(SHOWN_DOCUMENT_KEYS, SHOWN_DOCUMENT_KEYS, |key| match key {
                "valid_until" => Some(date("the last day it is valid (printed on it)")),
                _ => None,
            }) },
            "required": [name],
            "additionalProperties": false
        })
    };
    let mut any = vec![choice(DOCUMENTS_SHOWN, "a document shown at the desk")];
    any.extend(DATED_DOCUMENTS.iter().map(|(name, _)| dated(name)));
    json!({ "anyOf": any })
}

fn service() -> Value {
    let faults = mapping(SERVICE_FAULT_KEYS, &[], |key| match key {
        "slow" => Some(duration("the service answers after this long")),
        "http" => Some(integer(
            SERVICE_HTTP_CODES,
            "the service answers with this HTTP status",
        )),
        _ => None,
    });
    let mut faults = faults;
    faults["minProperties"] = json!(1);
    faults["maxProperties"] = json!(1);
    json!({
        "anyOf": [choice(SERVICE_FAULTS, "how the qualification service behaves"), faults]
    })
}

fn enter_pin() -> Value {
    or_var(json!({
        "type": "string",
        "anyOf": [
            { "enum": PIN_WORDS.iter().map(|(w, _)| *w).collect::<Vec<_>>() },
            { "pattern": format!("^[0-9]{{{PIN_DIGITS}}}$") }
        ],
        "description": "the card's PIN (`correct`), another (`wrong`), or digits in quotes (never shown in any report)"
    }))
}

/// The argument of a step, by its name.
fn step_argument(name: &str) -> Option<Value> {
    Some(match name {
        "place_card" => {
            json!({ "type": "null", "description": "the patient places the card on the reader" })
        }
        "remove_card" => {
            json!({ "type": "null", "description": "the patient takes the card away" })
        }
        "choose" => choice(METHODS, "how the patient proves the card is theirs"),
        "enter_pin" => enter_pin(),
        "consent" => consent(true),
        "register" => choice(
            REGISTER_ANSWERS,
            "register the card for insurance use, or not",
        ),
        "staff_check" => choice(
            STAFF_CHECK_ANSWERS,
            "the staff's visual check of the holder (目視確認) after a face-authentication card's face path failed",
        ),
        "show" => json!({ "anyOf": [shown(), { "type": "array", "items": shown() }] }),
        "service" => service(),
        "wait" => duration("wait this long, within the step's deadline"),
        "operator" => operator(),
        _ => return None,
    })
}

/// `operator:`: a question put to the person at the bench (docs/operator.md).
fn operator() -> Value {
    let meaning = || choice(OPERATOR_MEANINGS, "what this answer means for the verdict");
    let text = |what: &str| {
        json!({
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_OPERATOR_TEXT,
            "description": what
        })
    };
    let mut prompt = mapping(OPERATOR_KEYS, &["id", "ask"], |key| {
        Some(match key {
            "id" => json!({
                "type": "string",
                "pattern": format!("^[a-z0-9]([a-z0-9-]{{0,{}}}[a-z0-9])?$", MAX_PROMPT_ID - 2),
                "description": "the prompt's id, unique in the case (an answer file names it)"
            }),
            "ask" => mapping(OPERATOR_LANGUAGES, OPERATOR_LANGUAGES, |lang| {
                Some(match lang {
                    "ja" => text("the question in Japanese"),
                    _ => text("the question in English"),
                })
            }),
            "confirm" => mapping(CONFIRM_ANSWERS, CONFIRM_ANSWERS, |_| Some(meaning())),
            "choose" => json!({
                "type": "object",
                "minProperties": 2,
                "maxProperties": MAX_OPERATOR_CHOICES,
                "propertyNames": { "minLength": 1, "maxLength": MAX_CHOICE_LABEL },
                "additionalProperties": meaning(),
                "description": "the answers offered, each with what it means"
            }),
            "text" => choice(
                OPERATOR_MEANINGS,
                "free text (kept, the card's secrets masked); what any answer means",
            ),
            _ => return None,
        })
    });
    // Exactly one kind of answer.
    prompt["oneOf"] = json!(OPERATOR_ANSWER_KINDS
        .iter()
        .map(|k| json!({ "required": [k] }))
        .collect::<Vec<_>>());
    prompt["description"] = json!(format!(
        "a question for the person at the bench; no answer by the step's deadline \
         (default {} s) makes the case inconc",
        OPERATOR_DEADLINE.as_secs()
    ));
    prompt
}

fn step() -> Value {
    let mut forms = vec![or_var(json!({
        "enum": STEPS_WITHOUT_ARGUMENT,
        "description": "a step without an argument, by its name"
    }))];
    for name in STEP_NAMES {
        let argument = step_argument(name)
            .unwrap_or_else(|| panic!("the scenario schema does not describe the step `{name}`"));
        let mut properties = Map::new();
        properties.insert((*name).to_owned(), argument);
        properties.insert(
            STEP_DEADLINE_KEY.to_owned(),
            duration("longest this step may take"),
        );
        forms.push(json!({
            "type": "object",
            "additionalProperties": false,
            "required": [name],
            "properties": properties
        }));
    }
    json!({
        "oneOf": forms,
        "description": format!("one step: {}", STEP_NAMES.join(", "))
    })
}

fn insurance() -> Value {
    let record = mapping(INSURANCE_KEYS, REQUIRED_INSURANCE_KEYS, |key| {
        Some(match key {
            "insurer_number" => or_var(base::digits(INSURER_NUMBER_DIGITS, "the insurer number")),
            "symbol" => string("記号"),
            "number" => string("番号"),
            "branch" => string("枝番 (default 00)"),
            "family" => boolean("a family member (被扶養者)"),
            "limit_category" => {
                let codes: Vec<(&str, ())> = LIMIT_CODES.iter().map(|c| (*c, ())).collect();
                choice(&codes, "LimitApplicationCertificateClassificationFlag")
            }
            "qualification_date" => date("資格取得年月日"),
            _ => return None,
        })
    });
    json!({
        "anyOf": [
            { "enum": [NONE, null], "description": "the service knows no one" },
            record
        ],
        "description": "the record the qualification service holds for the card"
    })
}

fn consent_history() -> Value {
    let entry = mapping(PAST_CONSENT_KEYS, REQUIRED_PAST_CONSENT_KEYS, |key| {
        Some(match key {
            "facility" => string("the facility of that visit"),
            "on" => date("the day of that visit"),
            "choice" => consent(false),
            _ => return None,
        })
    });
    json!({ "type": "array", "items": entry, "description": "earlier visits' consent choices" })
}

fn perturb() -> Value {
    use camera_replay::perturb::Perturbation;
    let mut properties = Map::new();
    for kind in Perturbation::KINDS {
        properties.insert(
            kind.name.to_owned(),
            number(
                kind.min..=kind.max,
                &format!("{}: {}", kind.description, kind.parameter),
            ),
        );
    }
    let kinds: Vec<&str> = Perturbation::KINDS.iter().map(|k| k.name).collect();
    let item = format!(r"({})\s*=\s*{NUMBER_PATTERN}\s*", kinds.join("|"));
    json!({
        "anyOf": [
            { "type": "object", "additionalProperties": false, "properties": properties },
            {
                "type": "string",
                "pattern": format!(r"^\s*({item})?(,\s*({item})?)*$"),
                "examples": ["blur=2, noise=8"]
            },
            var()
        ],
        "description": format!("perturbations applied in order: {}", kinds.join(", "))
    })
}

fn camera() -> Value {
    let photos: Vec<(&str, ())> = crate::photos::PERSON_OF_PHOTO
        .iter()
        .map(|(n, _)| (*n, ()))
        .collect();
    let attacks = attack_names();
    let mut schema = mapping(CAMERA_KEYS, &[], |key| {
        Some(match key {
            "photo" => choice(
                &photos,
                "a cached photo, made into a live clip (whose face it is: the photo cache's label)",
            ),
            "clip" => string("a recorded clip (video file or image folder), relative to this file"),
            "person" => string("the person the clip shows"),
            "attack" => {
                let table: Vec<(&str, ())> = attacks.iter().map(|a| (a.as_str(), ())).collect();
                choice(&table, "a presentation attack made from the photo")
            }
            "perturb" => perturb(),
            "seed" => integer(0..=i64::MAX, "seed of the motion, perturbations and attack"),
            "fps" => number(CAMERA_FPS, "frames per second"),
            "frames" => integer(CAMERA_FRAMES, "how many frames the clip has"),
            "earlier_failures" => integer(
                CAMERA_EARLIER_FAILURES,
                "consecutive face failures before this visit",
            ),
            _ => return None,
        })
    });
    schema["oneOf"] = json!([
        { "required": ["photo"], "not": { "anyOf": [{ "required": ["clip"] }, { "required": ["person"] }] } },
        { "required": ["clip", "person"], "not": { "required": ["photo"] } }
    ]);
    schema["description"] =
        json!("who stands before the reader's camera: `photo`, or `clip` with `person`");
    schema
}

fn latency() -> Value {
    let limit = mapping(LATENCY_LIMIT_KEYS, REQUIRED_LATENCY_LIMIT_KEYS, |key| {
        Some(match key {
            "max" => duration("longer fails"),
            "marginal" => duration("longer passes with a warning"),
            _ => return None,
        })
    });
    let measures = latency_measures();
    mapping(&measures, &[], |_| Some(limit.clone()))
}

fn expect() -> Value {
    mapping(EXPECT_KEYS, &[], |key| {
        Some(match key {
            "route" => choice(ROUTES, "the route that confirms the qualification"),
            "share" => choice(SHARES, "the co-payment share"),
            "limit_applied" => boolean("the high-cost limit is applied"),
            "qualification_data_only" => boolean("only qualification data is passed"),
            "payment" => integer(
                YEN,
                "what the patient pays at the counter, in yen (needs `cost`)",
            ),
            "claim_insurer" => json!({
                "anyOf": [
                    { "enum": [NO_CLAIM], "description": "no claim (not confirmed)" },
                    or_var(base::digits(INSURER_NUMBER_DIGITS, "the insurer number the claim uses"))
                ]
            }),
            "screens" => screens("screens that must have been shown, in this order"),
            "screens_exactly" => screens("every screen shown, in this order, and no other"),
            "screens_absent" => screens("screens that must not have been shown"),
            "refused" => json!({
                "type": "array",
                "items": choice(&refusable_steps(), "a step"),
                "description": "steps the reader must refuse, by name: the first step of that name (the first n when named n times); the case goes on after them"
            }),
            "verify_sws" => json!({
                "type": "array",
                "items": or_var(json!({ "type": "string", "pattern": "^[0-9A-Fa-f]{4}$" })),
                "description": "status words of every VERIFY the reader sent, in order, in hex"
            }),
            "last_verify_sw" => or_var(json!({
                "type": "string",
                "pattern": "^[0-9A-Fa-f]{4}$",
                "description": "status word of the last VERIFY, in hex"
            })),
            "latency" => latency(),
            "face" => choice(FACE_EXPECTS, "how the face path must end"),
            _ => return None,
        })
    })
}

/// A list of screen names of the vocabulary ([`SCREENS`], `desk_<route>`).
fn screens(description: &str) -> Value {
    let routes: Vec<&str> = ROUTES.iter().map(|(n, _)| *n).collect();
    json!({
        "type": "array",
        "items": {
            "anyOf": [
                { "enum": SCREENS },
                { "type": "string", "pattern": format!("^{DESK_SCREEN_PREFIX}({})$", routes.join("|")) },
                var()
            ]
        },
        "description": description
    })
}

/// `income` and the record's `limit_category` in one file must go together
/// ([`crate::rules::Income::limit_categories`]).
fn income_goes_with_the_limit_category() -> Value {
    let rules: Vec<Value> = INCOMES
        .iter()
        .map(|(name, income)| {
            let codes: Vec<&str> = income.limit_categories().iter().map(|c| c.code()).collect();
            json!({
                "if": { "required": ["income"], "properties": { "income": { "const": name } } },
                "then": { "properties": { "insurance": { "anyOf": [
                    { "not": { "type": "object" } },
                    { "not": { "required": ["limit_category"] } },
                    { "properties": { "limit_category": { "enum": codes } } },
                    { "properties": { "limit_category": { "type": "string", "pattern": VAR_PATTERN } } }
                ] } } }
            })
        })
        .collect();
    Value::Array(rules)
}

/// An include's name ends in one of [`INCLUDE_EXTENSIONS`].
fn include_pattern() -> String {
    format!("\\.({})$", INCLUDE_EXTENSIONS.join("|"))
}

/// The keys of a scenario (or include-only) file, none required.
fn scenario_keys() -> Value {
    mapping(SCENARIO_KEYS, &[], |key| {
        Some(match key {
            "title" => string("what the scenario shows"),
            "description" => string("free text"),
            "tags" => strings("for --tag filters"),
            "include" => json!({
                "type": "array",
                "items": { "type": "string", "pattern": include_pattern() },
                "description": format!(
                    "include-only files (relative to this file) whose keys are defaults for \
                     the keys this file leaves out; they may include others, at most \
                     {MAX_INCLUDE_DEPTH} deep and {MAX_INCLUDED_FILES} files, the nearest \
                     file giving each key"
                )
            }),
            "vars" => json!({
                "type": "object",
                "additionalProperties": variable_value(),
                "description": "values for ${name}; --var name=value overrides"
            }),
            "matrix" => json!({
                "type": "object",
                "additionalProperties": { "type": "array", "items": variable_value(), "minItems": 1 },
                "description": format!(
                    "one case per combination; the values become variables; at most {DEFAULT_MAX_CASES} \
                     combinations ({MAX_CASES_ENV} sets another limit)"
                )
            }),
            "card" => string("the patient's card profile relative to this file, or `none`"),
            "date" => date("the visit date: the rules in force that day apply"),
            "facility" => string("the facility of this visit"),
            "visit" => choice(VISITS, "first or return visit"),
            "rule_set" => choice(RULE_SETS, "the rule set"),
            "insurance" => insurance(),
            "birth_date" => date(
                "the patient's birth date instead of the card profile's; the card is built with it",
            ),
            "income" => choice(
                INCOMES,
                "the income class the insurer records (一般, 一定以上所得, 現役並みⅠ-Ⅲ, 低所得Ⅱ/Ⅰ); must go with the record's limit_category",
            ),
            "cost" => integer(YEN, "the month's cost of care (10割), in yen, for expect.payment"),
            "patient_knows_insurer" => boolean(
                "the patient can name their insurer on the statement form [default true]",
            ),
            "consent_history" => consent_history(),
            "service" => service(),
            "camera" => camera(),
            "matcher" => mapping(MATCHER_KEYS, &[], |key| {
                Some(match key {
                    "detector_threshold" => number(
                        DETECTOR_THRESHOLDS,
                        "the reference reader's face detector score threshold [default 0.9]",
                    ),
                    "enrol_margin" => number(
                        ENROL_MARGINS,
                        "border added around the chip photo before detection, a fraction of its side [default 0.5]",
                    ),
                    "enrol_fallback_threshold" => number(
                        ENROL_FALLBACK_THRESHOLDS,
                        "detector score threshold of a second try on the chip photo where the first found no face; 0: none [default 0.6]",
                    ),
                    _ => return None,
                })
            }),
            "step_deadline" => duration("default deadline of every step"),
            "steps" => json!({ "type": "array", "items": step() }),
            "expect" => expect(),
            _ => return None,
        })
    })
}

fn conformance() -> Value {
    mapping(CONFORMANCE_KEYS, REQUIRED_CONFORMANCE_KEYS, |key| {
        Some(match key {
            "title" => string("what the suite checks"),
            "description" => string("free text"),
            "tags" => strings("for --tag filters"),
            "conformance" => strings(
                "card profiles (relative to this file); every conformance check runs on each",
            ),
            "deadline" => duration("deadline of one APDU exchange"),
            _ => return None,
        })
    })
}

fn defs() -> Value {
    json!({
        "scenario_keys": scenario_keys(),
        "scenario": {
            "$ref": "#/$defs/scenario_keys",
            "allOf": income_goes_with_the_limit_category(),
            "if": { "not": { "required": ["include"] } },
            "then": { "required": REQUIRED_SCENARIO_KEYS }
        },
        "include": {
            "$ref": "#/$defs/scenario_keys",
            "description": "an include-only file (`_*.yaml`): defaults for the scenarios that include it; nothing is required"
        },
        "conformance": conformance()
    })
}

/// The JSON Schema of a scenario file: a conformance file (it has a `conformance` key) or
/// a scenario (which must have `title`, `date` and `steps` unless it has an `include`).
pub fn scenario_json_schema() -> Value {
    json!({
        "$schema": SCHEMA_DIALECT,
        "title": "myna-hil scenario",
        "description": "A scenario (scenarios/README.md) or a conformance file. Include-only files (`_*.yaml`) have their own schema (`#/$defs/include`).",
        "$defs": defs(),
        "if": { "type": "object", "required": ["conformance"] },
        "then": { "$ref": "#/$defs/conformance" },
        "else": { "$ref": "#/$defs/scenario" }
    })
}

/// The JSON Schema of an include-only file (`_*.yaml`, named by `include:`): the keys of a
/// scenario, none required.
pub fn scenario_include_json_schema() -> Value {
    json!({
        "$schema": SCHEMA_DIALECT,
        "title": "myna-hil scenario include",
        "description": "An include-only file (`_*.yaml`): defaults for the scenarios that include it.",
        "$defs": defs(),
        "$ref": "#/$defs/include"
    })
}

/// [`scenario_json_schema`] as pretty JSON.
pub fn json_schema() -> String {
    serde_json::to_string_pretty(&scenario_json_schema()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_is_described() {
        for name in STEP_NAMES {
            assert!(step_argument(name).is_some(), "{name}");
        }
        assert!(step_argument("dance").is_none());
        // Building the schemas describes every key of every table (or panics).
        scenario_json_schema();
        scenario_include_json_schema();
    }
}
