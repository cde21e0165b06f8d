//! YAML input files (card profiles, scenarios): read within limits (`input`), a tree with
//! spans converted by hand so that all mistakes are reported at once, each with
//! file:line:column and a caret and never a secret (`secrets`); the same documents as JSON,
//! and the building blocks of their JSON Schemas.

mod diagnostic;
mod input;
mod json;
pub mod schema;
mod secrets;
mod spot;
mod tree;

pub use diagnostic::{closest, Diagnostic, Diagnostics, MAX_ERRORS_PER_FILE};
pub use input::{
    max_file_bytes, read_input, read_input_limited, InputError, DEFAULT_MAX_FILE_BYTES,
    MAX_FILE_BYTES_ENV,
};
pub use json::yaml_to_json;
pub use secrets::SecretKeys;
pub use spot::Spot;
pub use tree::{Document, Format, Map, Node};
