//! YAML input files (card profiles, scenarios): a tree with spans, converted by hand so that
//! all mistakes are reported at once, each with file:line:column and a caret; the same
//! documents as JSON, and the building blocks of their JSON Schemas.

mod diagnostic;
mod json;
pub mod schema;
mod spot;
mod tree;

pub use diagnostic::{closest, Diagnostic, Diagnostics};
pub use json::yaml_to_json;
pub use spot::Spot;
pub use tree::{Document, Map, Node};
