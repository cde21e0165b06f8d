//! Building blocks of the JSON Schemas (draft 2020-12, the dialect of OpenAPI 3.1) that the
//! wire types declare next to their definitions and [`super::api`] gathers into the OpenAPI
//! document. Enum values are written by serde from each type's `ALL`, so a schema says
//! exactly what the serde attributes say.

use serde::Serialize;
use serde_json::{json, Map, Value};

/// A string that is one of `values` as serde writes them.
pub(crate) fn one_of<T: Serialize>(values: &[T], description: &str) -> Value {
    let values: Vec<Value> = values
        .iter()
        .map(|v| serde_json::to_value(v).unwrap_or(Value::Null))
        .collect();
    json!({"type": "string", "enum": values, "description": description})
}

/// An object with exactly these properties, of which `required` must be present.
pub(crate) fn object(properties: Vec<(&str, Value)>, required: &[&str]) -> Value {
    let properties: Map<String, Value> = properties
        .into_iter()
        .map(|(name, schema)| (name.to_owned(), schema))
        .collect();
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// `schema` with a description added.
pub(crate) fn described(mut schema: Value, description: &str) -> Value {
    if let Some(map) = schema.as_object_mut() {
        map.insert("description".into(), description.into());
    }
    schema
}

pub(crate) fn string(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

pub(crate) fn boolean(description: &str) -> Value {
    json!({"type": "boolean", "description": description})
}

/// A string of exactly this regular expression (anchored).
pub(crate) fn pattern(regex: &str, description: &str) -> Value {
    json!({"type": "string", "pattern": regex, "description": description})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_values_are_what_serde_writes() {
        #[derive(Serialize)]
        enum Code {
            #[serde(rename = "1")]
            One,
            Two,
        }
        assert_eq!(
            one_of(&[Code::One, Code::Two], "d"),
            json!({"type": "string", "enum": ["1", "Two"], "description": "d"})
        );
        let schema = object(vec![("A", boolean("a"))], &["A"]);
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(schema["required"], json!(["A"]));
    }
}
