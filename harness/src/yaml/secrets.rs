//! Secret values (PINs, the signature password, the security code, the 個人番号) never
//! appear in a diagnostic: the lines a diagnostic shows have them masked, character for
//! character (`my_number: **************`), whichever key of the line the mistake is on.
//!
//! Which keys hold secrets is the format's business (a name table in its model); here a
//! key is secret when its name is one of those names or a typo of one (a misspelt
//! `my_numbr:` still holds a 個人番号), wherever it stands in the file. What is masked:
//!
//! - from the parsed tree, every scalar under a secret key (keys and values of a mapping
//!   written there too, block scalars over their lines), and the values of the variables a
//!   secret scalar names (`vars: { pin: "1234" }` for `enter_pin: ${pin}`);
//! - from the text, on every line shown, the value after `secret_key:`, and when the file
//!   does not parse, the lines that continue a secret key written without a value on its own
//!   line: the tree cannot say where those end.

use super::diagnostic::edit_distance;
use saphyr::{MarkedYaml, Scalar, YamlData};
use std::collections::{BTreeMap, HashSet};

/// The secret keys of a format: paths of keys (`pins.authentication.value`) whose last
/// segment names the key.
pub type SecretKeys = &'static [&'static str];

/// Character ranges (0-based, end excluded) to mask, by 1-based line.
#[derive(Debug, Default)]
pub(super) struct Masks {
    by_line: BTreeMap<usize, Vec<(usize, usize)>>,
    /// Where secret scalars start (character index in the file), so a conversion can tell
    /// it holds one and keep its text out of messages.
    starts: HashSet<usize>,
}

impl Masks {
    /// True when a secret scalar (or a mapping or list under a secret key) starts at
    /// `index`.
    pub fn holds_secret(&self, index: usize) -> bool {
        self.starts.contains(&index)
    }

    fn add(&mut self, line: usize, from: usize, to: usize) {
        self.by_line.entry(line).or_default().push((from, to));
    }

    /// The masks of the secret scalars in `docs` (every document: a second one is an
    /// error whose line is shown too). `lines` are the file's lines.
    pub fn from_tree(docs: &[MarkedYaml<'_>], secrets: SecretKeys, lines: &[&str]) -> Masks {
        let mut masks = Masks::default();
        let mut variables = HashSet::new();
        for doc in docs {
            masks.walk(doc, secrets, lines, &mut variables);
        }
        if !variables.is_empty() {
            let names: Vec<&str> = variables.iter().map(String::as_str).collect();
            for doc in docs {
                masks.walk_variables(doc, &names, lines);
            }
        }
        masks
    }

    fn walk(
        &mut self,
        node: &MarkedYaml<'_>,
        secrets: SecretKeys,
        lines: &[&str],
        variables: &mut HashSet<String>,
    ) {
        match &node.data {
            YamlData::Mapping(mapping) => {
                for (key, value) in mapping.iter() {
                    if key_text(key).is_some_and(|k| is_secret_key(k, secrets)) {
                        self.mask_subtree(value, lines, variables);
                    } else {
                        self.walk(value, secrets, lines, variables);
                    }
                }
            }
            YamlData::Sequence(items) => {
                for item in items {
                    self.walk(item, secrets, lines, variables);
                }
            }
            _ => {}
        }
    }

    /// Masks `node` and everything under it; collects the `${names}` its strings use.
    fn mask_subtree(
        &mut self,
        node: &MarkedYaml<'_>,
        lines: &[&str],
        variables: &mut HashSet<String>,
    ) {
        self.starts.insert(node.span.start.index());
        match &node.data {
            YamlData::Mapping(mapping) => {
                for (key, value) in mapping.iter() {
                    self.mask_subtree(key, lines, variables);
                    self.mask_subtree(value, lines, variables);
                }
            }
            YamlData::Sequence(items) => {
                for item in items {
                    self.mask_subtree(item, lines, variables);
                }
            }
            _ => {
                if let YamlData::Value(Scalar::String(s)) = &node.data {
                    variables.extend(referenced_variables(s));
                }
                self.mask_scalar(node, lines);
            }
        }
    }

    /// The values of the variables in `names` (under `vars:` or `matrix:`, or anywhere).
    fn walk_variables(&mut self, node: &MarkedYaml<'_>, names: &[&str], lines: &[&str]) {
        match &node.data {
            YamlData::Mapping(mapping) => {
                for (key, value) in mapping.iter() {
                    if key_text(key).is_some_and(|k| names.contains(&k)) {
                        self.mask_subtree(value, lines, &mut HashSet::new());
                    } else {
                        self.walk_variables(value, names, lines);
                    }
                }
            }
            YamlData::Sequence(items) => {
                for item in items {
                    self.walk_variables(item, names, lines);
                }
            }
            _ => {}
        }
    }

    /// A scalar's characters, over every line it spans.
    fn mask_scalar(&mut self, node: &MarkedYaml<'_>, lines: &[&str]) {
        let (start, end) = (node.span.start, node.span.end);
        if end.line() < start.line() {
            return;
        }
        for line in start.line()..=end.line() {
            let text = lines.get(line.wrapping_sub(1)).copied().unwrap_or("");
            let from = if line == start.line() {
                start.col()
            } else {
                text.chars().take_while(|c| c.is_whitespace()).count()
            };
            let to = if line == end.line() {
                end.col()
            } else {
                usize::MAX
            };
            self.add(line, from, to);
        }
    }

    /// For a file that does not parse: the lines that continue a secret key written with
    /// no value on its own line (`my_number:` then the value below, or a block scalar),
    /// masked whole, up to the next line indented no deeper than the key.
    pub fn from_text(lines: &[&str], secrets: SecretKeys) -> Masks {
        let mut masks = Masks::default();
        let mut open: Option<usize> = None;
        for (i, line) in lines.iter().enumerate() {
            let indent = line.chars().take_while(|c| *c == ' ').count();
            if let Some(key_indent) = open {
                if line.trim().is_empty() || indent > key_indent {
                    masks.add(i + 1, 0, usize::MAX);
                    continue;
                }
                open = None;
            }
            let ends_open = text_spans(line, secrets)
                .last()
                .is_some_and(|&(from, to)| from == to || block_indicator(line, from, to));
            if ends_open {
                open = Some(indent);
            }
        }
        masks
    }

    /// `line` (the file's line `number`) with every secret masked.
    pub fn mask(&self, number: usize, line: &str, secrets: SecretKeys) -> String {
        let mut ranges = text_spans(line, secrets);
        if let Some(tree) = self.by_line.get(&number) {
            ranges.extend(tree.iter().copied());
        }
        if ranges.is_empty() {
            return line.to_owned();
        }
        line.chars()
            .enumerate()
            .map(|(i, c)| {
                let masked = ranges.iter().any(|&(from, to)| i >= from && i < to);
                if masked && !c.is_whitespace() {
                    '*'
                } else {
                    c
                }
            })
            .collect()
    }
}

/// True for a key that holds a secret: one of `secrets`' names, or a typo of one.
fn is_secret_key(key: &str, secrets: SecretKeys) -> bool {
    let length = key.chars().count();
    secrets.iter().any(|path| {
        let name = path.rsplit('.').next().unwrap_or(path);
        key == name
            || (length.abs_diff(name.chars().count()) <= TYPO_EDITS
                && edit_distance(key, name) <= TYPO_EDITS)
    })
}

/// How many edits a key may be from a secret key's name and still be taken for it.
const TYPO_EDITS: usize = 2;

fn key_text<'a>(key: &'a MarkedYaml<'_>) -> Option<&'a str> {
    match &key.data {
        YamlData::Value(Scalar::String(s)) => Some(s),
        _ => None,
    }
}

/// The names in `${name}` of `text`.
fn referenced_variables(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split("${")
        .skip(1)
        .filter_map(|part| part.split_once('}').map(|(name, _)| name.to_owned()))
}

/// True when the value found at `from..to` of `line` is a block scalar's indicator
/// (`|`, `>-`, …): its text is on the lines below.
fn block_indicator(line: &str, from: usize, to: usize) -> bool {
    let value: String = line.chars().skip(from).take(to - from).collect();
    value.starts_with('|') || value.starts_with('>')
}

/// The character ranges of the values written after a secret key on `line`, found in the
/// text alone (`key: value`, `key: "value"`, `{ key: value, other: 1 }`); an empty range
/// at the end of the line for a key with no value on it.
fn text_spans(line: &str, secrets: SecretKeys) -> Vec<(usize, usize)> {
    let chars: Vec<char> = line.chars().collect();
    let first_bracket = chars.iter().position(|c| matches!(c, '{' | '['));
    let mut spans = Vec::new();
    for (i, _) in chars.iter().enumerate().filter(|(_, c)| **c == ':') {
        let next = chars.get(i + 1).copied();
        if !matches!(next, None | Some(' ' | '\t' | '"' | '\'')) {
            continue;
        }
        let key = key_before(&chars, i);
        if key.is_empty() || !is_secret_key(&key, secrets) {
            continue;
        }
        let flow = first_bracket.is_some_and(|b| b < i);
        spans.push(value_after(&chars, i + 1, flow));
    }
    spans
}

/// The key that ends just before the `:` at `colon`, without quotes.
fn key_before(chars: &[char], colon: usize) -> String {
    let mut end = colon;
    while end > 0 && chars[end - 1] == ' ' {
        end -= 1;
    }
    let quoted = end > 0 && matches!(chars[end - 1], '"' | '\'');
    let inner_end = if quoted { end - 1 } else { end };
    let mut start = inner_end;
    while start > 0 {
        let c = chars[start - 1];
        let stop = if quoted {
            c == chars[end - 1]
        } else {
            c.is_whitespace() || matches!(c, '{' | '[' | ',' | '-')
        };
        if stop {
            break;
        }
        start -= 1;
    }
    chars[start..inner_end].iter().collect()
}

/// The range of the value that starts after `from` (spaces skipped). Outside a flow
/// collection a value runs to the end of the line (a comment too: a file that does not
/// parse may hold anything there); inside one, to the next `,`, `}` or `]` after its
/// first token (a quoted string, a flow collection, a plain scalar).
fn value_after(chars: &[char], from: usize, flow: bool) -> (usize, usize) {
    let mut start = from;
    while start < chars.len() && matches!(chars[start], ' ' | '\t') {
        start += 1;
    }
    if !flow {
        return (start.min(chars.len()), chars.len());
    }
    let token_end = match chars.get(start) {
        None => return (chars.len(), chars.len()),
        Some(&quote @ ('"' | '\'')) => {
            let mut i = start + 1;
            while i < chars.len() && chars[i] != quote {
                i += if quote == '"' && chars[i] == '\\' {
                    2
                } else {
                    1
                };
            }
            (i + 1).min(chars.len())
        }
        Some(&open @ ('[' | '{')) => {
            let close = if open == '[' { ']' } else { '}' };
            chars[start..]
                .iter()
                .position(|c| *c == close)
                .map_or(chars.len(), |p| start + p + 1)
        }
        Some(_) => start,
    };
    let end = chars[token_end..]
        .iter()
        .position(|c| matches!(c, ',' | '}' | ']'))
        .map_or(chars.len(), |p| token_end + p);
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use saphyr::LoadableYamlNode;

    const SECRETS: SecretKeys = &["holder.my_number", "pins.authentication.value"];

    fn masked(text: &str) -> Vec<String> {
        let lines: Vec<&str> = text.lines().collect();
        let masks = match MarkedYaml::load_from_str(text) {
            Ok(docs) => Masks::from_tree(&docs, SECRETS, &lines),
            Err(_) => Masks::from_text(&lines, SECRETS),
        };
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| masks.mask(i + 1, l, SECRETS))
            .collect()
    }

    #[test]
    fn masks_secret_values_in_block_and_flow_style() {
        let text = "holder:\n  my_number: \"123456789018\"\n  name: x\npins: { authentication: { value: '1234', tries_left: 3 } }\n";
        assert_eq!(
            masked(text),
            [
                "holder:",
                "  my_number: **************",
                "  name: x",
                "pins: { authentication: { value: ******, tries_left: 3 } }",
            ]
        );
    }

    #[test]
    fn masks_typos_of_secret_keys_and_values_below_them() {
        let text = "my_numbr:\n  \"123456789018\"\nvlaue: |\n  1234\nname: 1234\n";
        assert_eq!(
            masked(text),
            [
                "my_numbr:",
                "  **************",
                "vlaue: *",
                "  ****",
                "name: 1234"
            ]
        );
    }

    #[test]
    fn masks_what_it_can_in_a_file_that_does_not_parse() {
        let text = "holder: { my_number: \"123456789018\", name: [\nvalue:\n  \"1234\"\nname: x\n";
        assert!(MarkedYaml::load_from_str(text).is_err());
        assert_eq!(
            masked(text),
            [
                "holder: { my_number: **************, name: [",
                "value:",
                "  ******",
                "name: x",
            ]
        );
    }

    #[test]
    fn masks_the_variables_a_secret_uses() {
        const STEPS: SecretKeys = &["steps.enter_pin"];
        let text = "vars: { pin: \"1234\", date: 2025-01-01 }\nsteps:\n  - enter_pin: ${pin}\n";
        let lines: Vec<&str> = text.lines().collect();
        let docs = MarkedYaml::load_from_str(text).unwrap();
        let masks = Masks::from_tree(&docs, STEPS, &lines);
        assert_eq!(
            masks.mask(1, lines[0], STEPS),
            "vars: { pin: ******, date: 2025-01-01 }"
        );
        assert_eq!(masks.mask(3, lines[2], STEPS), "  - enter_pin: ******");
    }
}
