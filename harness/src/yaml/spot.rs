//! Where a value was written, kept past the conversion of its file: a mistake that shows
//! only when the file meets another (a birth date on the card after the scenario's visit)
//! is still reported at its place, with its line and a caret.

use super::diagnostic::Diagnostic;
use std::path::PathBuf;

/// A value's place: its file, line, column, width and the text of its line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spot {
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// How many characters the value takes on its line.
    pub width: usize,
    /// The text of the line, for the caret display.
    pub source_line: String,
}

impl Spot {
    /// A mistake at this place.
    pub fn diagnostic(&self, message: &str, hint: Option<&str>) -> Diagnostic {
        Diagnostic {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
            width: self.width,
            message: message.to_owned(),
            hint: hint.map(str::to_owned),
            source_line: self.source_line.clone(),
        }
    }
}
