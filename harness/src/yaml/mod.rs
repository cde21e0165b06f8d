//! YAML input files (scenarios and card profiles): a tree with spans, converted by hand so
//! that all mistakes are reported at once, each with file:line:column and a caret.

mod diagnostic;
mod tree;

pub use diagnostic::{closest, Diagnostic, Diagnostics};
pub use tree::{Document, Map, Node};
