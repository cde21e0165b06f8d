//! A mistake in an input file, located and rendered like a compiler error:
//!
//! ```text
//! error: unknown key `tries_lef`
//!   --> scenarios/cards/valid.yaml:14:5
//!    |
//! 14 |     tries_lef: 3
//!    |     ^^^^^^^^^
//!    = hint: did you mean `tries_left`?
//! ```

use std::fmt;
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// How many characters to underline (at least one caret is drawn).
    pub width: usize,
    pub message: String,
    pub hint: Option<String>,
    /// The text of the offending line, for the caret display.
    pub source_line: String,
}

impl Diagnostic {
    /// `file:line:column: message`, the one-line form for logs and tests.
    pub fn short(&self) -> String {
        format!(
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = self.line.to_string();
        let pad = " ".repeat(number.len());
        writeln!(f, "error: {}", self.message)?;
        writeln!(
            f,
            "{pad}--> {}:{}:{}",
            self.file.display(),
            self.line,
            self.column
        )?;
        writeln!(f, "{pad} |")?;
        writeln!(f, "{number} | {}", self.source_line)?;
        let lead: String = self
            .source_line
            .chars()
            .take(self.column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(f, "{pad} | {lead}{}", "^".repeat(self.width.max(1)))?;
        if let Some(hint) = &self.hint {
            write!(f, "\n{pad} = hint: {hint}")?;
        }
        Ok(())
    }
}

/// All the diagnostics of one or more files, shown one after the other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        let n = self.0.len();
        write!(f, "\n\n{n} error{} found", if n == 1 { "" } else { "s" })
    }
}

impl std::error::Error for Diagnostics {}

/// The closest of `candidates` to `word` by edit distance, if it is close enough to suggest.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

impl crate::failure::Classified for Diagnostics {
    fn class(&self) -> crate::failure::FailureClass {
        crate::failure::FailureClass::Input
    }

    fn rendered(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_under_the_spot() {
        let d = Diagnostic {
            file: "a.yaml".into(),
            line: 3,
            column: 5,
            width: 4,
            message: "unknown key `nmae`".into(),
            hint: Some("did you mean `name`?".into()),
            source_line: "    nmae: x".into(),
        };
        let text = d.to_string();
        assert!(text.contains("--> a.yaml:3:5"), "{text}");
        assert!(text.contains("3 |     nmae: x\n  |     ^^^^"), "{text}");
        assert!(text.ends_with("= hint: did you mean `name`?"), "{text}");
    }

    #[test]
    fn suggests_close_keys_only() {
        assert_eq!(
            closest("tries_lef", &["tries_left", "value"]),
            Some("tries_left")
        );
        assert_eq!(closest("zzzzzz", &["tries_left", "value"]), None);
    }
}
