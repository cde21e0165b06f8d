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

// Text from a file or a path is printed with its control characters escaped.
use common::text::escape_controls as shown;
use std::collections::HashSet;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

/// The most carets drawn under a spot (a long scalar is underlined this far).
const MAX_CARETS: usize = 120;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based line; 0 for a note about the file as a whole ([`Diagnostic::omitted`]).
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// How many characters to underline (at least one caret is drawn); in a note of
    /// omitted errors, how many it stands for.
    pub width: usize,
    pub message: String,
    pub hint: Option<String>,
    /// The text of the offending line, for the caret display (secrets masked, bounded:
    /// see `Document::report_at`).
    pub source_line: String,
}

impl Diagnostic {
    /// A mistake about the file as a whole, at its first line and column (a file that
    /// cannot be read, that is not ours): nothing of its text is shown.
    pub fn at_file(file: &Path, message: String, hint: Option<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            line: 1,
            column: 1,
            width: 1,
            message,
            hint,
            source_line: String::new(),
        }
    }

    /// The note that stands for `count` more errors of `file` that are not shown.
    pub fn omitted(file: &Path, count: usize) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            line: 0,
            column: 0,
            width: count,
            message: format!(
                "… and {count} more error{} in this file",
                if count == 1 { "" } else { "s" }
            ),
            hint: None,
            source_line: String::new(),
        }
    }

    /// How many errors this stands for: one, or those a note of omitted errors counts.
    pub fn errors(&self) -> usize {
        if self.line == 0 {
            self.width
        } else {
            1
        }
    }

    /// `file:line:column: message`, the one-line form for logs and tests (control
    /// characters escaped, as everywhere a diagnostic is printed).
    pub fn short(&self) -> String {
        format!(
            "{}:{}:{}: {}",
            shown(&self.file.display().to_string()),
            self.line,
            self.column,
            shown(&self.message)
        )
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display().to_string();
        if self.line == 0 {
            return write!(f, "note: {}\n --> {}", shown(&self.message), shown(&file));
        }
        let number = self.line.to_string();
        let pad = " ".repeat(number.len());
        writeln!(f, "error: {}", shown(&self.message))?;
        writeln!(f, "{pad}--> {}:{}:{}", shown(&file), self.line, self.column)?;
        writeln!(f, "{pad} |")?;
        // The caret goes under the escaped text: an escape takes more than one column.
        let before: String = self
            .source_line
            .chars()
            .take(self.column.saturating_sub(1))
            .collect();
        let rest = &self.source_line[before.len()..];
        let before = shown(&before);
        writeln!(f, "{number} | {before}{}", shown(rest))?;
        let lead: String = before
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let underlined: String = rest.chars().take(self.width).collect();
        let beyond = self.width.saturating_sub(underlined.chars().count());
        let carets = (shown(&underlined).chars().count() + beyond).clamp(1, MAX_CARETS);
        write!(f, "{pad} | {lead}{}", "^".repeat(carets))?;
        if let Some(hint) = &self.hint {
            write!(f, "\n{pad} = hint: {}", shown(hint))?;
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
        let n: usize = self.0.iter().map(Diagnostic::errors).sum();
        write!(f, "\n\n{n} error{} found", if n == 1 { "" } else { "s" })
    }
}

impl std::error::Error for Diagnostics {}

/// The most diagnostics shown for one file (the first ones, in file order); the others are
/// counted in a last line. A file of a million wrong keys is still read through, but
/// prints a page.
pub const MAX_ERRORS_PER_FILE: usize = 50;

/// The diagnostics of one file: each mistake once (a matrix converts the same node once
/// per combination), the first [`MAX_ERRORS_PER_FILE`] in file order kept, the others
/// counted.
#[derive(Default)]
pub(super) struct Collected {
    kept: Vec<Diagnostic>,
    seen: HashSet<u64>,
    total: usize,
    /// Once [`MAX_ERRORS_PER_FILE`] are kept, the position of the last of them: a mistake
    /// after it will not be shown.
    cutoff: Option<(usize, usize)>,
}

impl Collected {
    /// Counts a mistake; true when it is new and may be among those shown.
    pub fn count(&mut self, line: usize, column: usize, message: &str) -> bool {
        let mut hasher = DefaultHasher::new();
        (line, column, message).hash(&mut hasher);
        if !self.seen.insert(hasher.finish()) {
            return false;
        }
        self.total += 1;
        self.cutoff.is_none_or(|c| (line, column) <= c)
    }

    /// True when a mistake was counted.
    pub fn any(&self) -> bool {
        self.total > 0
    }

    pub fn keep(&mut self, diagnostic: Diagnostic) {
        self.kept.push(diagnostic);
        if self.kept.len() >= 2 * MAX_ERRORS_PER_FILE {
            self.trim();
            self.cutoff = self.kept.last().map(|d| (d.line, d.column));
        }
    }

    fn trim(&mut self) {
        self.kept.sort_by_key(|d| (d.line, d.column));
        self.kept.truncate(MAX_ERRORS_PER_FILE);
    }

    /// The diagnostics shown, in file order, and a note counting the others.
    pub fn take(&mut self, file: &Path) -> Vec<Diagnostic> {
        self.trim();
        let total = self.total;
        let mut shown = std::mem::take(self).kept;
        if total > shown.len() {
            shown.push(Diagnostic::omitted(file, total - shown.len()));
        }
        shown
    }
}

/// The closest of `candidates` to `word` by edit distance, if it is close enough to suggest.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let length = word.chars().count();
    candidates
        .iter()
        // The distance is at least the difference in length: a long word (a hostile key of
        // megabytes) is never compared character by character.
        .filter(|c| length.abs_diff(c.chars().count()) <= allowed(c))
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, c)| *d <= allowed(c))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// How many edits away a word may be from `candidate` to be suggested.
fn allowed(candidate: &str) -> usize {
    2.max(candidate.len() / 3)
}

/// The Levenshtein distance between `a` and `b`, in characters.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
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
    fn control_characters_are_escaped_and_the_caret_follows() {
        let d = Diagnostic {
            file: "a\x1b.yaml".into(),
            line: 1,
            column: 8,
            width: 3,
            message: "unknown key `x\x1b[2Jy`".into(),
            hint: Some("\x07".into()),
            source_line: "a\x1b[2J: bad".into(),
        };
        let text = d.to_string();
        assert!(!text.contains(['\x1b', '\x07']), "{text:?}");
        assert!(text.contains("--> a\\x1b.yaml:1:8"), "{text}");
        assert!(text.contains("error: unknown key `x\\x1b[2Jy`"), "{text}");
        // `\x1b` takes four columns: the caret moves with it, under `bad`.
        assert!(
            text.contains("1 | a\\x1b[2J: bad\n  |           ^^^"),
            "{text}"
        );
        assert!(text.ends_with("= hint: \\x07"), "{text}");
        assert_eq!(d.short(), "a\\x1b.yaml:1:8: unknown key `x\\x1b[2Jy`");
    }

    #[test]
    fn a_long_spot_draws_a_bounded_caret() {
        let d = Diagnostic {
            width: 1_000_000,
            source_line: "x".repeat(100),
            ..Diagnostic::at_file(Path::new("a.yaml"), "m".into(), None)
        };
        assert_eq!(d.to_string().matches('^').count(), MAX_CARETS);
    }

    fn at(line: usize, message: &str) -> Diagnostic {
        Diagnostic {
            line,
            ..Diagnostic::at_file(Path::new("a.yaml"), message.into(), None)
        }
    }

    #[test]
    fn a_file_shows_its_first_mistakes_once_each_and_counts_the_others() {
        let mut collected = Collected::default();
        // Reported out of file order, each twice (as a matrix does).
        for round in 0..2 {
            for line in (1..=500).rev() {
                let message = format!("mistake {line}");
                let new = collected.count(line, 1, &message);
                assert!(round == 0 || !new, "line {line} counted twice");
                if new {
                    collected.keep(at(line, &message));
                }
            }
        }
        let shown = collected.take(Path::new("a.yaml"));
        assert_eq!(shown.len(), MAX_ERRORS_PER_FILE + 1);
        let lines: Vec<usize> = shown.iter().map(|d| d.line).collect();
        assert_eq!(lines[..MAX_ERRORS_PER_FILE], (1..=50).collect::<Vec<_>>());
        let note = &shown[MAX_ERRORS_PER_FILE];
        assert_eq!(note.message, "… and 450 more errors in this file");
        let all = Diagnostics(shown);
        assert!(all.to_string().ends_with("500 errors found"), "{all}");
        assert!(all
            .to_string()
            .contains("note: … and 450 more errors in this file\n --> a.yaml"));
    }

    #[test]
    fn suggests_close_keys_only() {
        assert_eq!(
            closest("tries_lef", &["tries_left", "value"]),
            Some("tries_left")
        );
        assert_eq!(closest("zzzzzz", &["tries_left", "value"]), None);
        // A key of megabytes is not compared character by character.
        assert_eq!(closest(&"v".repeat(1 << 20), &["value"]), None);
    }
}
