//! The JSON Schema of the scenario format, for editors (`myna-hil schema`). Built from the
//! same name tables the parser uses, so the two cannot drift apart on names.

use super::parse::{LIMIT_CODES, ROUTES, SCENARIO_KEYS, STEP_NAMES};
use serde_json::{json, Value};

fn names(list: &[&str]) -> Value {
    json!(list)
}

fn duration() -> Value {
    json!({ "type": "string", "pattern": "^[0-9.]+(us|ms|s|min)$", "examples": ["500ms", "2s"] })
}

fn step_schema() -> Value {
    let consent = json!({
        "oneOf": [
            { "enum": ["all", "none", "reuse"] },
            { "type": "array", "items": { "enum": ["surgery", "care_and_medication", "medication", "checkups"] } }
        ]
    });
    let shown = json!({ "enum": ["portal_screen", "portal_pdf", "qualification_notice",
        "qualification_certificate", "old_insurance_card", "nothing"] });
    let service = service_schema();
    json!({
        "oneOf": [
            { "enum": ["place_card", "remove_card"] },
            {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": false,
                "properties": {
                    "place_card": { "type": "null" },
                    "remove_card": { "type": "null" },
                    "choose": { "enum": ["face", "pin"] },
                    "enter_pin": { "type": "string", "pattern": "^(correct|wrong|[0-9]{4})$" },
                    "consent": consent,
                    "register": { "enum": ["accept", "decline"] },
                    "show": { "oneOf": [shown.clone(), { "type": "array", "items": shown }] },
                    "service": service,
                    "wait": duration(),
                    "deadline": duration()
                }
            }
        ],
        "description": format!("one of: {}", STEP_NAMES.join(", "))
    })
}

fn service_schema() -> Value {
    json!({
        "oneOf": [
            { "enum": ["none", "timeout", "malformed", "invalid", "several_matches"] },
            { "type": "object", "additionalProperties": false,
              "properties": { "slow": duration(), "http": { "type": "integer", "minimum": 400, "maximum": 599 } } }
        ]
    })
}

/// The schema as pretty JSON.
pub fn json_schema() -> String {
    let routes: Vec<&str> = ROUTES.iter().map(|(n, _)| *n).collect();
    let latency = json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "max": duration(),
            "marginal": duration()
        },
        "required": ["max"]
    });
    let mut measures: Vec<&str> = STEP_NAMES.to_vec();
    measures.push("total");
    let latency_props: serde_json::Map<String, Value> = measures
        .iter()
        .map(|m| ((*m).to_owned(), latency.clone()))
        .collect();
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "myna-hil scenario",
        "type": "object",
        "additionalProperties": false,
        "required": ["title", "date", "steps"],
        "propertyNames": { "enum": names(SCENARIO_KEYS) },
        "properties": {
            "title": { "type": "string" },
            "description": { "type": "string" },
            "tags": { "type": "array", "items": { "type": "string" } },
            "include": { "type": "array", "items": { "type": "string" } },
            "vars": { "type": "object", "additionalProperties": { "type": "string" } },
            "matrix": { "type": "object", "additionalProperties": { "type": "array", "items": { "type": "string" }, "minItems": 1 } },
            "card": { "type": "string", "description": "card profile path relative to this file, or `none`" },
            "date": { "type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$|\\$\\{" },
            "facility": { "type": "string" },
            "visit": { "enum": ["first", "return"] },
            "rule_set": { "enum": ["seed", "interim-2026"] },
            "insurance": {
                "oneOf": [
                    { "enum": ["none", null] },
                    { "type": "object", "additionalProperties": false, "required": ["insurer_number", "number"],
                      "properties": {
                        "insurer_number": { "type": "string", "pattern": "^[0-9]{6,8}$" },
                        "symbol": { "type": "string" }, "number": { "type": "string" },
                        "branch": { "type": "string" }, "family": { "type": "boolean" },
                        "limit_category": { "enum": names(LIMIT_CODES) },
                        "qualification_date": { "type": "string" } } }
                ]
            },
            "consent_history": { "type": "array", "items": { "type": "object", "additionalProperties": false,
                "required": ["facility", "choice"],
                "properties": { "facility": { "type": "string" }, "on": { "type": "string" },
                    "choice": { "oneOf": [ { "enum": ["all", "none"] }, { "type": "array", "items": { "type": "string" } } ] } } } },
            "service": service_schema(),
            "step_deadline": duration(),
            "steps": { "type": "array", "items": step_schema() },
            "expect": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "route": { "enum": routes },
                    "share": { "enum": ["10%", "20%", "30%", "100%"] },
                    "limit_applied": { "type": "boolean" },
                    "qualification_data_only": { "type": "boolean" },
                    "screens": { "type": "array", "items": { "type": "string" } },
                    "last_verify_sw": { "type": "string", "pattern": "^[0-9A-Fa-f]{4}$" },
                    "latency": { "type": "object", "additionalProperties": false, "properties": latency_props }
                }
            }
        }
    });
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}
