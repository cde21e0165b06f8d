//! The JSON Schemas (draft 2020-12) of ICS files and test plans, built from the name tables
//! and ranges their parsers use ([`super::ics`], [`super::plan`]), so they cannot drift
//! apart; `harness/tests/schema.rs` validates the shipped ICS and plan against them.

use super::ics::{self, CAPABILITIES};
use super::plan;
use crate::yaml::schema::{boolean, choice, duration, integer, mapping, string, SCHEMA_DIALECT};
use serde_json::{json, Value};

/// The JSON Schema of an ICS file.
pub fn ics_json_schema() -> Value {
    let names: Vec<&str> = CAPABILITIES.iter().map(|c| c.name).collect();
    let mut schema = mapping(ics::TOP_KEYS, ics::TOP_KEYS, |key| {
        Some(match key {
            "ics_version" => integer(
                ics::ICS_VERSION..=ics::ICS_VERSION,
                "the ICS format's version",
            ),
            "identity" => mapping(ics::IDENTITY_KEYS, ics::IDENTITY_KEYS, |k| {
                Some(match k {
                    "firmware_sha256" => json!({
                        "type": "string",
                        "pattern": "^[0-9a-f]{64}$",
                        "description": "SHA-256 of the firmware image, 64 lower-case hex digits"
                    }),
                    "firmware" => json!({
                        "type": ["string", "number"],
                        "description": "the firmware version, as the device's hello says it"
                    }),
                    other => string(other),
                })
            }),
            "capabilities" => mapping(&names, &names, |k| {
                let c = CAPABILITIES.iter().find(|c| c.name == k)?;
                Some(boolean(c.meaning))
            }),
            "limits" => mapping(ics::LIMIT_KEYS, ics::LIMIT_KEYS, |k| {
                Some(match k {
                    "face_tries" => {
                        integer(ics::FACE_TRIES, "face tries before the PIN is offered")
                    }
                    "face_try_time" => duration("the longest one face try looks at the camera"),
                    "step_time" => duration("the longest one step takes"),
                    _ => return None,
                })
            }),
            "link" => mapping(ics::LINK_KEYS, ics::REQUIRED_LINK_KEYS, |k| {
                Some(match k {
                    "transport" => choice(ics::TRANSPORTS, "how the device is reached"),
                    "baud" => integer(ics::BAUDS, "the serial line's baud rate (serial only)"),
                    _ => return None,
                })
            }),
            _ => return None,
        })
    });
    schema["$schema"] = json!(SCHEMA_DIALECT);
    schema["title"] = json!("myna-hil ICS");
    schema["description"] = json!(
        "A device's declaration for certification (docs/certification.md); every key required"
    );
    schema
}

/// The JSON Schema of a test plan.
pub fn plan_json_schema() -> Value {
    let requirement = mapping(
        plan::REQUIREMENT_KEYS,
        plan::REQUIRED_REQUIREMENT_KEYS,
        |k| {
            Some(match k {
                "id" => string("the requirement's id, unique in the plan"),
                "title" => string("what is required"),
                "source" => string("where the requirement comes from"),
                "mandatory" => boolean("a device is certified only if every mandatory case passed"),
                "applies_if" => string(
                    "an expression over ICS capabilities: names, and, or, not, parentheses, always",
                ),
                "scenarios" => json!({
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "string"},
                    "description": "scenario files, relative to scenario_root"
                }),
                _ => return None,
            })
        },
    );
    let mut schema = mapping(plan::TOP_KEYS, plan::REQUIRED_TOP_KEYS, |key| {
        Some(match key {
            "plan" => string("the plan's id"),
            "version" => string("the plan's version"),
            "title" => string("what the plan certifies"),
            "scenario_root" => {
                string("the folder scenario names are relative to (from the plan file)")
            }
            "retry" => mapping(plan::RETRY_KEYS, plan::RETRY_KEYS, |k| {
                (k == "attempts").then(|| {
                    integer(
                        plan::ATTEMPTS,
                        "runs in all of a case that ended in a bench error",
                    )
                })
            }),
            "requirements" => json!({
                "type": "array",
                "minItems": 1,
                "maxItems": plan::MAX_REQUIREMENTS,
                "items": requirement
            }),
            _ => return None,
        })
    });
    schema["$schema"] = json!(SCHEMA_DIALECT);
    schema["title"] = json!("myna-hil test plan");
    schema["description"] = json!("A versioned certification test plan (docs/certification.md)");
    schema
}
