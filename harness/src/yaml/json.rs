//! A YAML document as JSON, to validate it against a JSON Schema (editors do the same).
//! Scalars keep the types YAML 1.2's core schema gives them (saphyr's): `2025-11-04` and
//! `2s` are strings, `15` an integer, `1.5` a number, `~` null.

use saphyr::{LoadableYamlNode, Scalar, Yaml};
use serde_json::{Map, Number, Value};

/// The first document of `text` as JSON; `Err` says why not (a syntax error, a key that is
/// not a scalar, an alias, a non-finite number).
pub fn yaml_to_json(text: &str) -> Result<Value, String> {
    let docs = Yaml::load_from_str(text).map_err(|e| e.to_string())?;
    match docs.first() {
        Some(doc) => convert(doc),
        None => Ok(Value::Null),
    }
}

fn convert(yaml: &Yaml<'_>) -> Result<Value, String> {
    Ok(match yaml {
        Yaml::Value(scalar) => scalar_value(scalar)?,
        Yaml::Sequence(items) => Value::Array(items.iter().map(convert).collect::<Result<_, _>>()?),
        Yaml::Mapping(mapping) => {
            let mut out = Map::new();
            for (k, v) in mapping.iter() {
                let key = match k {
                    Yaml::Value(Scalar::String(s)) => s.to_string(),
                    Yaml::Value(s) => match scalar_value(s)? {
                        Value::String(s) => s,
                        other => other.to_string(),
                    },
                    other => return Err(format!("a mapping key that is not a scalar: {other:?}")),
                };
                out.insert(key, convert(v)?);
            }
            Value::Object(out)
        }
        Yaml::Tagged(_, inner) => convert(inner)?,
        Yaml::Representation(text, _, _) => Value::String(text.to_string()),
        other => return Err(format!("unsupported YAML node: {other:?}")),
    })
}

fn scalar_value(scalar: &Scalar<'_>) -> Result<Value, String> {
    Ok(match scalar {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::Number((*i).into()),
        Scalar::FloatingPoint(f) => Number::from_f64(f.into_inner())
            .map(Value::Number)
            .ok_or_else(|| format!("{} has no JSON form", f.into_inner()))?,
        Scalar::String(s) => Value::String(s.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_keep_their_yaml_types() {
        let v = yaml_to_json(
            "a: 2025-11-04\nb: 2s\nc: 15\nd: 1.5\ne: ~\nf: [x, true]\ng: { h: \"06\" }\n",
        )
        .unwrap();
        assert_eq!(
            v,
            json!({ "a": "2025-11-04", "b": "2s", "c": 15, "d": 1.5, "e": null,
                    "f": ["x", true], "g": { "h": "06" } })
        );
    }
}
