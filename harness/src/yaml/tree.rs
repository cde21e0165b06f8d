//! Reading a YAML file as a tree with spans and converting it to typed values by hand, so
//! that every mistake in a file is reported at once (serde stops at the first).
//!
//! Conversions return `Option`: `None` means "wrong here, already reported"; the caller
//! carries on with the next field. [`Document::finish`] turns the collected reports into
//! the result.

use super::diagnostic::{closest, Diagnostic, Diagnostics};
use super::spot::Spot;
use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Duration;
use time::Date;

/// One YAML file being converted; collects diagnostics.
pub struct Document {
    file: PathBuf,
    lines: Vec<String>,
    errors: RefCell<Vec<Diagnostic>>,
    /// Values for `${name}` in string scalars (scenario variables).
    vars: RefCell<Vec<(String, String)>>,
}

impl Document {
    pub fn new(file: &Path, text: &str) -> Self {
        Document {
            file: file.to_path_buf(),
            lines: text.lines().map(str::to_owned).collect(),
            errors: RefCell::new(Vec::new()),
            vars: RefCell::new(Vec::new()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.file
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

    /// Parses `text` into its first document's root node. A syntax error is reported and
    /// gives `None`.
    pub fn parse<'y>(&self, text: &'y str) -> Option<MarkedYaml<'y>> {
        match MarkedYaml::load_from_str(text) {
            Ok(mut docs) if !docs.is_empty() => Some(docs.swap_remove(0)),
            Ok(_) => {
                self.report_at(1, 1, 1, "the file is empty", Some("expected a mapping"));
                None
            }
            Err(e) => {
                let m = e.marker();
                self.report_at(
                    m.line(),
                    m.col() + 1,
                    1,
                    &format!("YAML syntax error: {}", e.info()),
                    None,
                );
                None
            }
        }
    }

    pub fn report_at(
        &self,
        line: usize,
        column: usize,
        width: usize,
        message: &str,
        hint: Option<&str>,
    ) {
        let source_line = self
            .lines
            .get(line.saturating_sub(1))
            .cloned()
            .unwrap_or_default();
        self.errors.borrow_mut().push(Diagnostic {
            file: self.file.clone(),
            line,
            column,
            width,
            message: message.to_owned(),
            hint: hint.map(str::to_owned),
            source_line,
        });
    }

    /// Reports a mistake at `node`.
    pub fn report(&self, node: &MarkedYaml<'_>, message: &str, hint: Option<&str>) {
        let start = node.span.start;
        let end = node.span.end;
        let width = if end.line() == start.line() {
            end.col().saturating_sub(start.col()).max(1)
        } else {
            1
        };
        self.report_at(start.line(), start.col() + 1, width, message, hint);
    }

    /// Takes the diagnostics reported so far (for a document others still borrow).
    pub fn take_errors(&self) -> Vec<Diagnostic> {
        std::mem::take(&mut *self.errors.borrow_mut())
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.borrow().is_empty()
    }

    /// `Ok(value)` when nothing was reported, else every diagnostic in file order.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, Diagnostics> {
        let mut errors = self.errors.into_inner();
        match value {
            Some(v) if errors.is_empty() => Ok(v),
            _ => {
                errors.sort_by_key(|d| (d.line, d.column));
                if errors.is_empty() {
                    errors.push(Diagnostic {
                        file: self.file,
                        line: 1,
                        column: 1,
                        width: 1,
                        message: "the file could not be converted".into(),
                        hint: None,
                        source_line: String::new(),
                    });
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
                let hint = match closest(&name, known) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => format!("known keys here: {}", known.join(", ")),
                };
                key_node.report(&format!("unknown key `{name}`"), Some(&hint));
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
            source_line: self
                .doc
                .lines
                .get(start.line().saturating_sub(1))
                .cloned()
                .unwrap_or_default(),
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
        if let Some(i) = substituted {
            return if range.contains(&i) {
                Some(i)
            } else {
                self.report(
                    &format!("{i} is out of range ({} to {})", range.start(), range.end()),
                    None,
                );
                None
            };
        }
        match self.scalar() {
            Some(Scalar::Integer(i)) if range.contains(i) => Some(*i),
            Some(Scalar::Integer(i)) => {
                self.report(
                    &format!("{i} is out of range ({} to {})", range.start(), range.end()),
                    None,
                );
                None
            }
            _ => {
                self.expected("an integer", None);
                None
            }
        }
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
                self.report(
                    &format!("{v} is out of range ({} to {})", range.start(), range.end()),
                    None,
                );
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
                let hint = match text.as_deref().and_then(|t| closest(t, &names)) {
                    Some(c) => format!("did you mean `{c}`? (one of: {})", names.join(", ")),
                    None => format!("one of: {}", names.join(", ")),
                };
                self.report(
                    &format!("`{}` is not a valid value here", text.unwrap_or_default()),
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
