//! Scenarios: the YAML format QA writes (see `scenarios/README.md`), converted into typed
//! [`Case`]s with every mistake reported at once.

mod model;
mod parse;
mod schema;
pub mod suite;

pub use model::*;
pub use parse::{load_cases, parse_cases, relative_to};
pub use schema::{json_schema, scenario_include_json_schema, scenario_json_schema, VAR_PATTERN};
