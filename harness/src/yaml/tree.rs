//! Reading a YAML file as a tree with spans and converting it to typed values by hand, so
//! that every mistake in a file is reported at once (serde stops at the first).
//!
//! Conversions return `Option`: `None` means "wrong here, already reported"; the caller
//! carries on with the next field. [`Document::finish`] turns the collected reports into
//! the result.

use super::diagnostic::{closest, Collected, Diagnostic, Diagnostics};
use super::secrets::{Masks, SecretKeys};
use super::spot::Spot;
use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Duration;
use time::Date;

/// The most characters of a line a diagnostic shows: a longer line is cut after them, and
/// not shown at all when the spot is beyond them (an 8 MiB line is not printed 50 times).
const MAX_LINE_CHARS: usize = 200;

/// The most characters of a message or a hint (they may quote the file).
const MAX_MESSAGE_CHARS: usize = 400;

/// The most characters of the file's text a message quotes.
const MAX_QUOTE_CHARS: usize = 60;

/// What the diagnostics of a file format need to know of it (its model's name tables).
#[derive(Clone, Copy, Debug)]
pub struct Format {
    /// The keys its top level may have (all tables, for a format with variants): a file
    /// that does not parse is shown only when a line of it starts with one of them; any
    /// other file is not of this format (`/etc/shadow` behind a `.yaml` name).
    pub top_keys: &'static [&'static [&'static str]],
    /// The keys whose values are secrets (see `yaml::secrets`).
    pub secrets: SecretKeys,
}

impl Format {
    /// No keys known, no secrets: every line may be shown.
    const ANY: Format = Format {
        top_keys: &[],
        secrets: &[],
    };

    /// True when a line of `lines` starts with one of the top-level keys (or no key is
    /// known).
    fn looks_like(&self, lines: &[&str]) -> bool {
        if self.top_keys.is_empty() {
            return true;
        }
        lines.iter().any(|line| {
            line.split_once(':').is_some_and(|(key, rest)| {
                (rest.is_empty() || rest.starts_with([' ', '\t']))
                    && self.top_keys.iter().any(|keys| keys.contains(&key))
            })
        })
    }
}

/// One YAML file being converted; collects diagnostics.
pub struct Document {
    file: PathBuf,
    text: String,
    /// Byte ranges of the lines, split where YAML splits them (`\n`, `\r\n` and `\r`), so
    /// the parser's line numbers name these lines.
    lines: Vec<(usize, usize)>,
    /// The format ([`Document::with_format`]).
    format: Format,
    masks: RefCell<Masks>,
    errors: RefCell<Collected>,
    /// Values for `${name}` in string scalars (scenario variables).
    vars: RefCell<Vec<(String, String)>>,
}

/// The first `max` characters of `text`, when it has more.
fn head(text: &str, max: usize) -> Option<&str> {
    text.char_indices().nth(max).map(|(at, _)| &text[..at])
}

/// `text` cut after `max` characters (with `…`).
fn bounded(text: &str, max: usize) -> String {
    match head(text, max) {
        Some(head) => format!("{head}…"),
        None => text.to_owned(),
    }
}

/// Byte ranges of the lines of `text`, YAML's way.
fn line_ranges(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push((start, i));
                start = i + 1;
            }
            b'\r' => {
                lines.push((start, i));
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < bytes.len() {
        lines.push((start, bytes.len()));
    }
    lines
}

impl Document {
    pub fn new(file: &Path, text: &str) -> Self {
        Document {
            file: file.to_path_buf(),
            text: text.to_owned(),
            lines: line_ranges(text),
            format: Format::ANY,
            masks: RefCell::new(Masks::default()),
            errors: RefCell::new(Collected::default()),
            vars: RefCell::new(Vec::new()),
        }
    }

    /// The file's format: its secrets are masked in every line shown and never quoted in a
    /// message; a file that does not parse and does not look like it shows no line.
    pub fn with_format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    pub fn path(&self) -> &Path {
        &self.file
    }

    fn line_text(&self, number: usize) -> Option<&str> {
        let (from, to) = *self.lines.get(number.checked_sub(1)?)?;
        Some(&self.text[from..to])
    }

    fn line_texts(&self) -> Vec<&str> {
        self.lines
            .iter()
            .map(|&(from, to)| &self.text[from..to])
            .collect()
    }

    /// Sets the values that `${name}` stands for in string scalars from now on.
    pub fn set_vars(&self, vars: Vec<(String, String)>) {
        *self.vars.borrow_mut() = vars;
    }

    /// `text` with every `${name}` replaced; an unknown name is reported at `node`.
    fn substitute(&self, node: &MarkedYaml<'_>, text: &str) -> Option<String> {
        if !text.contains("${") {
            return Some(text.to_owned());
        }
        let vars = self.vars.borrow();
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                self.report(node, "`${` without a closing `}`", None);
                return None;
            };
            let name = &after[..end];
            match vars.iter().find(|(n, _)| n == name) {
                Some((_, value)) => out.push_str(value),
                None => {
                    let known: Vec<&str> = vars.iter().map(|(n, _)| n.as_str()).collect();
                    let hint = match closest(name, &known) {
                        Some(c) => format!("did you mean `${{{c}}}`?"),
                        None if known.is_empty() => "define it under `vars:` or with --var".into(),
                        None => format!("defined here: {}", known.join(", ")),
                    };
                    self.report(node, &format!("unknown variable `{name}`"), Some(&hint));
                    return None;
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Some(out)
    }

    /// Parses `text` (the text this document was made with) into its document's root node.
    /// A syntax error, an empty file and a second document are reported; the first two
    /// give `None`.
    pub fn parse<'y>(&self, text: &'y str) -> Option<MarkedYaml<'y>> {
        let loaded = MarkedYaml::load_from_str(text);
        let lines = self.line_texts();
        match loaded {
            Ok(mut docs) => {
                *self.masks.borrow_mut() = Masks::from_tree(&docs, self.format.secrets, &lines);
                if docs.is_empty() {
                    self.report_at(1, 1, 1, "the file is empty", Some("expected a mapping"));
                    return None;
                }
                if docs.len() > 1 {
                    self.second_document(&docs, &lines);
                }
                Some(docs.swap_remove(0))
            }
            Err(e) => {
                *self.masks.borrow_mut() = Masks::from_text(&lines, self.format.secrets);
                let m = e.marker();
                let ours = self.format.looks_like(&lines);
                let hint = (!ours).then(|| {
                    "no line starts with a key of this format: is this the right file? (its \
                     text is not shown)"
                        .to_owned()
                });
                self.record(
                    m.line(),
                    m.col() + 1,
                    1,
                    &format!("YAML syntax error: {}", e.info()),
                    || hint,
                    ours,
                );
                None
            }
        }
    }

    /// Reports the `---` that starts the second of `docs`: a file holds one document, and
    /// what follows would be silently ignored.
    fn second_document(&self, docs: &[MarkedYaml<'_>], lines: &[&str]) {
        let first = docs[0].span.start.line();
        let second = docs[1].span.start;
        let marker = (first + 1..=second.line())
            .find(|&n| lines.get(n - 1).is_some_and(|l| l.starts_with("---")));
        let (line, column, width) = match marker {
            Some(n) => (n, 1, 3),
            None => (second.line(), second.col() + 1, 1),
        };
        self.report_at(
            line,
            column,
            width,
            "a second YAML document: a file holds one",
            Some("remove this `---` and what follows it, or move it to a file of its own"),
        );
    }

    pub fn report_at(
        &self,
        line: usize,
        column: usize,
        width: usize,
        message: &str,
        hint: Option<&str>,
    ) {
        self.record(
            line,
            column,
            width,
            message,
            || hint.map(str::to_owned),
            true,
        );
    }

    /// Reports a mistake about the file as a whole at its top, showing none of its text (a
    /// file that is not of this format may be anything).
    pub fn report_file(&self, message: &str, hint: Option<&str>) {
        self.record(1, 1, 1, message, || hint.map(str::to_owned), false);
    }

    /// Records a mistake; the hint is only made when the mistake will be shown.
    fn record(
        &self,
        line: usize,
        column: usize,
        width: usize,
        message: &str,
        hint: impl FnOnce() -> Option<String>,
        show_line: bool,
    ) {
        if !self.errors.borrow_mut().count(line, column, message) {
            return;
        }
        let source_line = if show_line {
            self.shown_line(line, column)
        } else {
            String::new()
        };
        let diagnostic = Diagnostic {
            file: self.file.clone(),
            line,
            column,
            width,
            message: bounded(message, MAX_MESSAGE_CHARS),
            hint: hint().map(|h| bounded(&h, MAX_MESSAGE_CHARS)),
            source_line,
        };
        self.errors.borrow_mut().keep(diagnostic);
    }

    /// Line `number` as a diagnostic shows it: secrets masked, at most [`MAX_LINE_CHARS`]
    /// characters (only `…` when `column` is beyond them).
    fn shown_line(&self, number: usize, column: usize) -> String {
        let Some(text) = self.line_text(number) else {
            return String::new();
        };
        let masks = self.masks.borrow();
        match head(text, MAX_LINE_CHARS) {
            None => masks.mask(number, text, self.format.secrets),
            Some(_) if column > MAX_LINE_CHARS => "…".into(),
            // Masked after the cut: what the cut leaves of a secret is masked all the same.
            Some(head) => format!("{}…", masks.mask(number, head, self.format.secrets)),
        }
    }

    /// Reports a mistake at `node`.
    pub fn report(&self, node: &MarkedYaml<'_>, message: &str, hint: Option<&str>) {
        self.report_with(node, message, || hint.map(str::to_owned));
    }

    /// [`Document::report`] with a hint made only when the mistake is shown.
    fn report_with(
        &self,
        node: &MarkedYaml<'_>,
        message: &str,
        hint: impl FnOnce() -> Option<String>,
    ) {
        let start = node.span.start;
        let end = node.span.end;
        let width = if end.line() == start.line() {
            end.col().saturating_sub(start.col()).max(1)
        } else {
            1
        };
        self.record(start.line(), start.col() + 1, width, message, hint, true);
    }

    /// Takes the diagnostics reported so far (for a document others still borrow).
    pub fn take_errors(&self) -> Vec<Diagnostic> {
        self.errors.borrow_mut().take(&self.file)
    }

    pub fn has_errors(&self) -> bool {
        self.errors.borrow().any()
    }

    /// `Ok(value)` when nothing was reported, else the diagnostics in file order.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, Diagnostics> {
        let mut errors = self.take_errors();
        match value {
            Some(v) if errors.is_empty() => Ok(v),
            _ => {
                if errors.is_empty() {
                    errors.push(Diagnostic::at_file(
                        &self.file,
                        "the file could not be converted".into(),
                        None,
                    ));
                }
                Err(Diagnostics(errors))
            }
        }
    }

    pub fn node<'d, 'y>(&'d self, yaml: &'d MarkedYaml<'y>) -> Node<'d, 'y> {
        Node { doc: self, yaml }
    }
}

/// A node of the tree, with the document that reports its mistakes.
#[derive(Clone, Copy)]
pub struct Node<'d, 'y> {
    pub doc: &'d Document,
    pub yaml: &'d MarkedYaml<'y>,
}

/// A mapping whose keys were checked against the keys the caller knows.
pub struct Map<'d, 'y> {
    node: Node<'d, 'y>,
    entries: Vec<(String, Node<'d, 'y>)>,
}

impl<'d, 'y> Node<'d, 'y> {
    pub fn report(&self, message: &str, hint: Option<&str>) {
        self.doc.report(self.yaml, message, hint);
    }

    fn scalar(&self) -> Option<&Scalar<'y>> {
        match &self.yaml.data {
            YamlData::Value(s) => Some(s),
            _ => None,
        }
    }

    fn kind(&self) -> &'static str {
        match &self.yaml.data {
            YamlData::Value(Scalar::Null) => "nothing",
            YamlData::Value(Scalar::Boolean(_)) => "a boolean",
            YamlData::Value(Scalar::Integer(_)) => "an integer",
            YamlData::Value(Scalar::FloatingPoint(_)) => "a number",
            YamlData::Value(Scalar::String(_)) => "a string",
            YamlData::Sequence(_) => "a list",
            YamlData::Mapping(_) => "a mapping",
            _ => "an unsupported value",
        }
    }

    fn expected(&self, what: &str, hint: Option<&str>) {
        self.report(&format!("expected {what}, found {}", self.kind()), hint);
    }

    /// True when this node holds a secret (it is under a secret key).
    pub fn is_secret(&self) -> bool {
        self.doc
            .masks
            .borrow()
            .holds_secret(self.yaml.span.start.index())
    }

    /// `text` of this node as a message may show it: cut short, or `None` for a secret.
    fn shown(&self, text: &str) -> Option<String> {
        (!self.is_secret()).then(|| bounded(text, MAX_QUOTE_CHARS))
    }

    /// `text` of this node quoted for a message: `` `text` `` (cut short), or "a secret
    /// value" when the node holds a secret.
    pub fn quote(&self, text: &str) -> String {
        match self.shown(text) {
            Some(t) => format!("`{t}`"),
            None => "a secret value".into(),
        }
    }

    /// The file's root as a mapping with only the `known` keys. A root that is not a
    /// mapping, or whose keys are all unknown, is not a file of this format (a wrong path,
    /// some other file named as an include): that is said once, quoting nothing of it.
    pub fn root_map(&self, known: &[&str]) -> Option<Map<'d, 'y>> {
        let mapping = match &self.yaml.data {
            YamlData::Mapping(mapping) => mapping,
            _ => {
                self.doc.report_file(
                    &format!("expected a mapping of keys, found {}", self.kind()),
                    Some("is this the right file? (its text is not shown)"),
                );
                return None;
            }
        };
        let count = mapping.len();
        let knows_one = mapping
            .keys()
            .any(|k| matches!(&k.data, YamlData::Value(Scalar::String(s)) if known.contains(&s.as_ref())));
        if count > 0 && !knows_one {
            self.doc.report_file(
                &format!("none of the {count} keys of this file is known here"),
                Some(&format!(
                    "is this the right file? (its text is not shown) Known keys: {}",
                    known.join(", ")
                )),
            );
            return None;
        }
        self.map(known)
    }

    /// This node as a mapping with only the `known` keys; unknown keys are reported with
    /// the closest known one as a hint.
    pub fn map(&self, known: &[&str]) -> Option<Map<'d, 'y>> {
        let YamlData::Mapping(mapping) = &self.yaml.data else {
            self.expected("a mapping", None);
            return None;
        };
        let mut entries = Vec::with_capacity(mapping.len());
        for (key, value) in mapping.iter() {
            let key_node = Node {
                doc: self.doc,
                yaml: key,
            };
            let Some(name) = key_node.scalar_text() else {
                key_node.expected("a key name", None);
                continue;
            };
            if !known.contains(&name.as_str()) {
                // The hint is only made for a mistake that is shown: a file of a million
                // wrong keys makes 50.
                let hint = || {
                    Some(match closest(&name, known) {
                        Some(c) => format!("did you mean `{c}`?"),
                        None => format!("known keys here: {}", known.join(", ")),
                    })
                };
                let message = format!("unknown key {}", key_node.quote(&name));
                self.doc.report_with(key, &message, hint);
                continue;
            }
            entries.push((
                name,
                Node {
                    doc: self.doc,
                    yaml: value,
                },
            ));
        }
        Some(Map {
            node: *self,
            entries,
        })
    }

    fn scalar_text(&self) -> Option<String> {
        match self.scalar()? {
            Scalar::String(s) => self.doc.substitute(self.yaml, s),
            Scalar::Integer(i) => Some(i.to_string()),
            Scalar::Boolean(b) => Some(b.to_string()),
            Scalar::FloatingPoint(f) => Some(f.to_string()),
            Scalar::Null => None,
        }
    }

    pub fn list(&self) -> Option<Vec<Node<'d, 'y>>> {
        match &self.yaml.data {
            YamlData::Sequence(items) => Some(
                items
                    .iter()
                    .map(|yaml| Node {
                        doc: self.doc,
                        yaml,
                    })
                    .collect(),
            ),
            _ => {
                self.expected("a list", None);
                None
            }
        }
    }

    /// Any scalar as text: a string (with `${var}`s replaced), or a number or boolean as
    /// written (`3`, `1.5`, `true`), for values that are text wherever they go (variables).
    pub fn text(&self) -> Option<String> {
        match self.scalar() {
            Some(Scalar::Null) | None => {
                self.expected("a value (text, a number or true/false)", None);
                None
            }
            Some(_) => self.scalar_text(),
        }
    }

    /// Where this node is, kept to report a mistake found after the file is converted.
    pub fn spot(&self) -> Spot {
        let (start, end) = (self.yaml.span.start, self.yaml.span.end);
        let one_line = end.line() == start.line();
        Spot {
            file: self.doc.file.clone(),
            line: start.line(),
            column: start.col() + 1,
            width: if one_line {
                end.col().saturating_sub(start.col()).max(1)
            } else {
                1
            },
            // Masked and bounded like every line a diagnostic shows.
            source_line: self.doc.shown_line(start.line(), start.col() + 1),
        }
    }

    pub fn string(&self) -> Option<String> {
        match self.scalar() {
            Some(Scalar::String(s)) => self.doc.substitute(self.yaml, s),
            _ => {
                self.expected("a string", None);
                None
            }
        }
    }

    /// A string of ASCII digits, which must be quoted so YAML keeps leading zeros.
    pub fn digits(&self, lengths: std::ops::RangeInclusive<usize>, what: &str) -> Option<String> {
        let hint = format!("write {what} in quotes, e.g. \"0123\"");
        let text = match self.scalar() {
            Some(Scalar::String(s)) => self.doc.substitute(self.yaml, s)?,
            Some(Scalar::Integer(_)) => {
                self.report(&format!("{what} must be a quoted string"), Some(&hint));
                return None;
            }
            _ => String::new(),
        };
        if lengths.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) {
            return Some(text);
        }
        let len = if lengths.start() == lengths.end() {
            lengths.start().to_string()
        } else {
            format!("{} to {}", lengths.start(), lengths.end())
        };
        self.expected(&format!("{what}: {len} digits in quotes"), Some(&hint));
        None
    }

    pub fn boolean(&self) -> Option<bool> {
        match self.scalar() {
            Some(Scalar::Boolean(b)) => Some(*b),
            _ => {
                self.expected("true or false", None);
                None
            }
        }
    }

    /// An integer in `range`.
    pub fn integer(&self, range: std::ops::RangeInclusive<i64>) -> Option<i64> {
        // A `${var}` arrives as a string.
        let substituted = match self.scalar() {
            Some(Scalar::String(s)) => self
                .doc
                .substitute(self.yaml, s)
                .and_then(|t| t.trim().parse::<i64>().ok()),
            _ => None,
        };
        let out_of_range = |i: i64| {
            self.out_of_range(&i.to_string(), range.start(), range.end());
            None
        };
        if let Some(i) = substituted {
            return if range.contains(&i) {
                Some(i)
            } else {
                out_of_range(i)
            };
        }
        match self.scalar() {
            Some(Scalar::Integer(i)) if range.contains(i) => Some(*i),
            Some(Scalar::Integer(i)) => out_of_range(*i),
            _ => {
                self.expected("an integer", None);
                None
            }
        }
    }

    /// Reports `value` (this node's) outside `start` to `end`.
    fn out_of_range(
        &self,
        value: &str,
        start: impl std::fmt::Display,
        end: impl std::fmt::Display,
    ) {
        let value = self.shown(value).unwrap_or_else(|| "the value".into());
        self.report(&format!("{value} is out of range ({start} to {end})"), None);
    }

    /// A number (integer or decimal, also from a `${var}`) in `range`.
    pub fn number(&self, range: std::ops::RangeInclusive<f64>) -> Option<f64> {
        let value = match self.scalar() {
            Some(Scalar::Integer(i)) => Some(*i as f64),
            Some(Scalar::FloatingPoint(f)) => Some(f.into_inner()),
            Some(Scalar::String(s)) => self
                .doc
                .substitute(self.yaml, s)
                .and_then(|t| t.trim().parse::<f64>().ok()),
            _ => None,
        };
        match value {
            Some(v) if v.is_finite() && range.contains(&v) => Some(v),
            Some(v) => {
                self.out_of_range(&v.to_string(), range.start(), range.end());
                None
            }
            None => {
                self.expected("a number", None);
                None
            }
        }
    }

    /// A calendar date written `YYYY-MM-DD`, as [`crate::units::parse_date`] reads it (its
    /// year in [`crate::units::DATE_YEARS`]).
    pub fn date(&self) -> Option<Date> {
        use crate::units::{parse_date, DateError, DATE_YEARS};
        let hint = format!(
            "for example 2025-12-01; the day must exist, the year be {} to {}",
            DATE_YEARS.start(),
            DATE_YEARS.end()
        );
        match self.scalar_text().as_deref().map(parse_date) {
            Some(Ok(d)) => Some(d),
            Some(Err(e @ DateError::Year(_))) => {
                self.report(&e.to_string(), Some(&hint));
                None
            }
            _ => {
                self.expected("a date (YYYY-MM-DD)", Some(&hint));
                None
            }
        }
    }

    /// A duration with a unit: `250us`, `50ms`, `1.5s`.
    pub fn duration(&self) -> Option<Duration> {
        let parsed = self
            .scalar_text()
            .as_deref()
            .and_then(crate::units::parse_duration);
        if parsed.is_none() {
            self.expected(
                "a duration with a unit",
                Some("for example 250us, 50ms or 1.5s"),
            );
        }
        parsed
    }

    /// One of `choices` (a string); reports the choices otherwise.
    pub fn choice<T: Copy>(&self, choices: &[(&str, T)]) -> Option<T> {
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        let text = self.scalar_text();
        match choices.iter().find(|(n, _)| Some(*n) == text.as_deref()) {
            Some((_, v)) => Some(*v),
            None => {
                // A secret's closest choice would say what it is like.
                let near = text.as_deref().filter(|_| !self.is_secret());
                let hint = match near.and_then(|t| closest(t, &names)) {
                    Some(c) => format!("did you mean `{c}`? (one of: {})", names.join(", ")),
                    None => format!("one of: {}", names.join(", ")),
                };
                self.report(
                    &format!(
                        "{} is not a valid value here",
                        self.quote(&text.unwrap_or_default())
                    ),
                    Some(&hint),
                );
                None
            }
        }
    }
}

impl<'d, 'y> Map<'d, 'y> {
    pub fn get(&self, key: &str) -> Option<Node<'d, 'y>> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, n)| *n)
    }

    /// Keys that must all be present; each absent one is reported at the mapping.
    pub fn require_all(&self, keys: &[&str]) {
        for key in keys {
            self.required(key);
        }
    }

    /// A key that must be present; its absence is reported at the mapping.
    pub fn required(&self, key: &str) -> Option<Node<'d, 'y>> {
        let found = self.get(key);
        if found.is_none() {
            self.node.report(&format!("missing key `{key}`"), None);
        }
        found
    }

    /// The node of the mapping itself.
    pub fn node(&self) -> Node<'d, 'y> {
        self.node
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagnostics(text: &str, format: Format, convert: impl Fn(Node<'_, '_>)) -> Vec<Diagnostic> {
        let doc = Document::new(Path::new("t.yaml"), text).with_format(format);
        if let Some(root) = doc.parse(text) {
            convert(doc.node(&root));
        }
        doc.take_errors()
    }

    const SECRET_PIN: Format = Format {
        top_keys: &[&["pin", "name"]],
        secrets: &["pin"],
    };

    #[test]
    fn a_long_line_is_cut_and_a_far_spot_is_not_shown() {
        let text = format!("{{zz: 1, pad: \"{}\", yy: 2}}\n", "x".repeat(1000));
        let found = diagnostics(&text, Format::ANY, |root| {
            root.map(&["pad"]);
        });
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].source_line.chars().count(), MAX_LINE_CHARS + 1);
        assert!(found[0].source_line.starts_with("{zz: 1, pad: \"xxx"));
        assert!(found[0].source_line.ends_with("x…"));
        assert_eq!(found[1].column, 1018);
        assert_eq!(found[1].source_line, "…");
    }

    #[test]
    fn a_second_document_is_reported_at_its_marker() {
        let found = diagnostics("---\na: 1\n---\nb: 2\n", Format::ANY, |_| {});
        let shorts: Vec<String> = found.iter().map(Diagnostic::short).collect();
        assert_eq!(
            shorts,
            ["t.yaml:3:1: a second YAML document: a file holds one"]
        );
        for one in ["a: 1\n", "---\na: 1\n", "a: 1\n...\n"] {
            assert!(diagnostics(one, Format::ANY, |_| {}).is_empty(), "{one}");
        }
    }

    #[test]
    fn a_file_that_is_not_of_the_format_shows_none_of_its_text() {
        let text = "root:x:0:0:root:/root:/bin/bash\nsecret: [\n";
        let found = diagnostics(text, SECRET_PIN, |_| {});
        assert_eq!(
            found[0].short(),
            "t.yaml:2:7: YAML syntax error: mapping values are not allowed in this context"
        );
        assert_eq!(found[0].source_line, "");
        // A line of ours: the line is shown.
        let found = diagnostics("name: a: b\n", SECRET_PIN, |_| {});
        assert_eq!(found[0].source_line, "name: a: b");

        for (text, message) in [
            (
                "just text\non lines\n",
                "expected a mapping of keys, found a string",
            ),
            (
                "password: hunter2\n",
                "none of the 1 keys of this file is known here",
            ),
        ] {
            let found = diagnostics(text, SECRET_PIN, |root| {
                root.root_map(&["name"]);
            });
            assert_eq!(found[0].short(), format!("t.yaml:1:1: {message}"));
            assert_eq!(found[0].source_line, "");
            assert!(!format!("{found:?}").contains("hunter2"));
        }
    }

    #[test]
    fn a_secret_is_never_quoted() {
        let found = diagnostics("pin: abcde\nname: abcde\n", SECRET_PIN, |root| {
            let map = root.map(&["pin", "name"]).unwrap();
            map.get("pin").unwrap().choice(&[("abcdf", 1)]);
            map.get("name").unwrap().choice(&[("abcdf", 1)]);
        });
        assert_eq!(found[0].message, "a secret value is not a valid value here");
        assert_eq!(found[0].hint.as_deref(), Some("one of: abcdf"));
        assert_eq!(found[0].source_line, "pin: *****");
        assert_eq!(found[1].message, "`abcde` is not a valid value here");
        assert_eq!(
            found[1].hint.as_deref(),
            Some("did you mean `abcdf`? (one of: abcdf)")
        );

        let found = diagnostics("pin: 12345\n", SECRET_PIN, |root| {
            root.map(&["pin"])
                .unwrap()
                .get("pin")
                .unwrap()
                .integer(0..=9);
        });
        assert_eq!(found[0].message, "the value is out of range (0 to 9)");
    }

    #[test]
    fn reports_every_mistake_with_position() {
        let text = "a: 1\nbb: x\nc: [1\n";
        let doc = Document::new(Path::new("t.yaml"), text);
        assert!(doc.parse(text).is_none());
        let err = doc.finish::<()>(None).unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert!(err.0[0].message.contains("syntax"), "{}", err);

        let text = "name: x\nnmae: y\nzzz: 1\n";
        let doc = Document::new(Path::new("t.yaml"), text);
        let root = doc.parse(text).unwrap();
        let map = doc.node(&root).map(&["name", "count"]).unwrap();
        assert!(map.required("count").is_none());
        let err = doc.finish::<()>(Some(())).unwrap_err();
        let shorts: Vec<String> = err.0.iter().map(|d| d.short()).collect();
        assert_eq!(
            shorts,
            [
                "t.yaml:1:1: missing key `count`",
                "t.yaml:2:1: unknown key `nmae`",
                "t.yaml:3:1: unknown key `zzz`"
            ]
        );
        assert_eq!(err.0[1].hint.as_deref(), Some("did you mean `name`?"));
    }
}
