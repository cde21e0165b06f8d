//! Scripted answers (`--operator answers.yaml`): what CI answers in place of a person.
//!
//! ```yaml
//! answers:
//!   - case: reception.operator-consent-items   # a case id; `*` matches any run of characters
//!     prompt: consent-four-items
//!     answer: "yes"                            # yes/no, a choice's label or number, or text
//! ```
//!
//! The first entry that matches a prompt answers it. An answer that does not fit its prompt
//! is no answer (the prompt waits for a person, or runs to its deadline).

use crate::yaml::{Diagnostics, Document, Node};
use std::path::Path;

pub const TOP_KEYS: &[&str] = &["answers"];
pub const ENTRY_KEYS: &[&str] = &["case", "prompt", "answer"];
/// The most entries a file may hold.
pub const MAX_ANSWERS: usize = 10_000;

pub const FORMAT: crate::yaml::Format = crate::yaml::Format {
    top_keys: &[TOP_KEYS],
    secrets: &[],
};

/// A file of scripted answers.
#[derive(Clone, Debug)]
pub struct Answers {
    file: String,
    entries: Vec<Entry>,
}

#[derive(Clone, Debug)]
struct Entry {
    case: String,
    prompt: String,
    answer: String,
}

impl Answers {
    /// The first answer for `prompt` of `case_id`, with the file it came from.
    pub fn find(&self, case_id: &str, prompt: &str) -> Option<(&str, &str)> {
        self.entries
            .iter()
            .find(|e| e.prompt == prompt && matches(&e.case, case_id))
            .map(|e| (e.answer.as_str(), self.file.as_str()))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Whether `pattern` (where `*` matches any run of characters) matches all of `text`.
pub fn matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Reads and checks an answers file (size-limited, every mistake reported at its place).
pub fn load(path: &Path) -> Result<Answers, Diagnostics> {
    let text = crate::yaml::read_input(path).map_err(|e| Diagnostics(vec![e.diagnostic(path)]))?;
    parse(path, &text)
}

/// Converts answers text; `path` names it in diagnostics and in the evidence.
pub fn parse(path: &Path, text: &str) -> Result<Answers, Diagnostics> {
    let doc = Document::new(path, text).with_format(FORMAT);
    let answers = doc
        .parse(text)
        .and_then(|root| convert(path, doc.node(&root)));
    doc.finish(answers)
}

fn convert(path: &Path, root: Node<'_, '_>) -> Option<Answers> {
    let map = root.root_map(TOP_KEYS)?;
    let list = map.required("answers")?;
    let items = list.list()?;
    if items.len() > MAX_ANSWERS {
        list.report(
            &format!(
                "{} answers, more than a file may hold ({MAX_ANSWERS})",
                items.len()
            ),
            None,
        );
        return None;
    }
    let entries: Vec<Option<Entry>> = items
        .iter()
        .map(|item| {
            let m = item.map(ENTRY_KEYS)?;
            m.require_all(ENTRY_KEYS);
            let case = m.get("case").and_then(|n| n.string());
            let prompt = m.get("prompt").and_then(|n| n.string());
            let answer = m.get("answer").and_then(|n| n.text());
            Some(Entry {
                case: case?,
                prompt: prompt?,
                answer: answer?,
            })
        })
        .collect();
    Some(Answers {
        file: path.display().to_string(),
        entries: entries.into_iter().collect::<Option<Vec<_>>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn patterns_match_whole_case_ids() {
        assert!(matches("reception.a", "reception.a"));
        assert!(!matches("reception.a", "reception.ab"));
        assert!(matches("reception.*", "reception.ab"));
        assert!(matches("*[card=valid]", "reception.x[card=valid]"));
        assert!(matches("a*b*c", "a-b-b-c"));
        assert!(!matches("a*b*c", "a-c-b"));
        assert!(matches("*", ""));
        assert!(!matches("ab*ba", "aba"));
    }

    proptest! {
        #[test]
        fn a_star_in_place_of_any_middle_matches(text in "[a-z.\\[\\]=-]{0,20}", from in 0usize..21, to in 0usize..21) {
            let (from, to) = (from.min(text.len()), to.min(text.len()));
            let (from, to) = (from.min(to), from.max(to));
            let pattern = format!("{}*{}", &text[..from], &text[to..]);
            prop_assert!(matches(&pattern, &text));
            prop_assert!(matches(&text, &text));
        }
    }

    #[test]
    fn the_first_matching_entry_answers() {
        let text = "answers:\n  - { case: 'r.*', prompt: p, answer: 'no' }\n  - { case: r.a, prompt: p, answer: 'yes' }\n";
        let answers = parse(Path::new("a.yaml"), text).expect("valid");
        assert_eq!(answers.find("r.a", "p"), Some(("no", "a.yaml")));
        assert_eq!(answers.find("s.a", "p"), None);
        assert_eq!(answers.find("r.a", "q"), None);
    }

    #[test]
    fn mistakes_are_reported_at_their_place() {
        let text =
            "answers:\n  - { case: r.a, prompt: p }\n  - { case: r.b, promt: p, answer: x }\n";
        let errors = parse(Path::new("a.yaml"), text).unwrap_err().to_string();
        assert!(errors.contains("a.yaml:2:"), "{errors}");
        assert!(errors.contains("answer"), "{errors}");
        assert!(errors.contains("did you mean `prompt`?"), "{errors}");
    }
}
