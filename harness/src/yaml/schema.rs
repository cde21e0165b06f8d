//! Building blocks of the JSON Schemas of our YAML files (scenarios, card profiles), kept
//! beside the conversions they describe: a duration is what [`crate::units::parse_duration`]
//! reads, a date what [`super::Node::date`] reads, a mapping has exactly the keys a
//! parser's table names.

use serde_json::{json, Map, Value};

/// The JSON Schema dialect of every schema we write.
pub const SCHEMA_DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// A duration as [`crate::units::parse_duration`] reads it: a number and a unit.
pub const DURATION_PATTERN: &str = r"^\s*([0-9]+\.?[0-9]*|\.[0-9]+)\s*(us|µs|ms|s|min)\s*$";

/// A calendar date as [`super::Node::date`] reads it, `YYYY-MM-DD` with a year in
/// [`crate::units::DATE_YEARS`] (1900 to 2100; `harness/tests/schema.rs` checks that the
/// two agree). Whether the day exists (2025-02-30) only the parser knows.
pub const DATE_PATTERN: &str =
    r"^(19[0-9]{2}|20[0-9]{2}|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$";

/// A duration (a string with a unit).
pub fn duration(description: &str) -> Value {
    json!({
        "type": "string",
        "pattern": DURATION_PATTERN,
        "examples": ["500ms", "2s", "1.5s", "1min"],
        "description": format!("{description} (a number and a unit: us, ms, s, min)")
    })
}

/// A date, `YYYY-MM-DD`, 1900 to 2100.
pub fn date(description: &str) -> Value {
    json!({
        "type": "string",
        "pattern": DATE_PATTERN,
        "description": format!(
            "{description} (YYYY-MM-DD, {} to {})",
            crate::units::DATE_YEARS.start(),
            crate::units::DATE_YEARS.end()
        )
    })
}

pub fn string(description: &str) -> Value {
    json!({ "type": "string", "description": description })
}

pub fn strings(description: &str) -> Value {
    json!({ "type": "array", "items": { "type": "string" }, "description": description })
}

pub fn boolean(description: &str) -> Value {
    json!({ "type": "boolean", "description": description })
}

pub fn integer(range: std::ops::RangeInclusive<i64>, description: &str) -> Value {
    json!({
        "type": "integer",
        "minimum": range.start(),
        "maximum": range.end(),
        "description": description
    })
}

/// Digits in quotes (YAML keeps leading zeros only in a string), `lengths` of them.
pub fn digits(lengths: std::ops::RangeInclusive<usize>, description: &str) -> Value {
    let pattern = if lengths.start() == lengths.end() {
        format!("^[0-9]{{{}}}$", lengths.start())
    } else {
        format!("^[0-9]{{{},{}}}$", lengths.start(), lengths.end())
    };
    json!({
        "type": "string",
        "pattern": pattern,
        "description": format!("{description} (digits in quotes)")
    })
}

/// One of the names of a parser's table.
pub fn choice<T>(table: &[(&str, T)], description: &str) -> Value {
    let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
    json!({ "enum": names, "description": description })
}

/// A mapping with exactly the keys of a parser's table (`required` among them), each
/// described by `schema_of`. A key `schema_of` does not know is a programming error (the
/// table grew, the schema did not): it panics, and the schema tests catch it.
pub fn mapping(
    keys: &[&str],
    required: &[&str],
    schema_of: impl Fn(&str) -> Option<Value>,
) -> Value {
    let mut properties = Map::new();
    for key in keys {
        let schema = schema_of(key)
            .unwrap_or_else(|| panic!("the schema does not describe the key `{key}`"));
        properties.insert((*key).to_owned(), schema);
    }
    let mut out = json!({
        "type": "object",
        "additionalProperties": false,
        "properties": properties
    });
    if !required.is_empty() {
        out["required"] = json!(required);
    }
    out
}
