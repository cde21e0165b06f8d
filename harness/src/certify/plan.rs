//! Test plans (`plans/*.yaml`, `docs/certification.md`): versioned requirements, each with
//! its source, the scenarios that test it, whether it is mandatory and when it applies (an
//! expression over the ICS's capabilities). A plan and an ICS decide exactly which cases a
//! certification runs, and say why each case is in or out ([`select`]): a selection is
//! never silent.
//!
//! Pure but for reading the plan file; scenario files are named relative to the plan's
//! `scenario_root` and checked by [`check`].

use super::ics::{capability_names, is_capability, Ics};
use crate::yaml::{Diagnostics, Document, Node, Spot};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The top-level keys of a plan, and those required.
pub const TOP_KEYS: &[&str] = &[
    "plan",
    "version",
    "title",
    "scenario_root",
    "retry",
    "requirements",
];
pub const REQUIRED_TOP_KEYS: &[&str] = &["plan", "version", "title", "requirements"];
/// The keys of one requirement, and those required.
pub const REQUIREMENT_KEYS: &[&str] = &[
    "id",
    "title",
    "source",
    "mandatory",
    "applies_if",
    "scenarios",
];
pub const REQUIRED_REQUIREMENT_KEYS: &[&str] = &["id", "title", "source", "mandatory", "scenarios"];
/// The keys of `retry:`.
pub const RETRY_KEYS: &[&str] = &["attempts"];
/// `retry.attempts`: how many times in all a case that ended in a bench error is run.
pub const ATTEMPTS: std::ops::RangeInclusive<i64> = 1..=5;
/// The most requirements a plan may hold.
pub const MAX_REQUIREMENTS: usize = 1_000;

/// The plan format, for its diagnostics (a plan holds no secret).
pub const PLAN_FORMAT: crate::yaml::Format = crate::yaml::Format {
    top_keys: &[TOP_KEYS],
    secrets: &[],
};

/// An applicability expression over ICS capabilities: `face and not desk`, `(a or b)`,
/// `always`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    Always,
    Has(&'static str),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

impl Expr {
    pub fn holds(&self, ics: &Ics) -> bool {
        match self {
            Expr::Always => true,
            Expr::Has(name) => ics.has(name),
            Expr::Not(e) => !e.holds(ics),
            Expr::And(a, b) => a.holds(ics) && b.holds(ics),
            Expr::Or(a, b) => a.holds(ics) || b.holds(ics),
        }
    }

    /// The capabilities the expression reads, each with its value in `ics` (for a reason).
    fn names(&self, out: &mut BTreeSet<&'static str>) {
        match self {
            Expr::Always => {}
            Expr::Has(n) => {
                out.insert(n);
            }
            Expr::Not(e) => e.names(out),
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.names(out);
                b.names(out);
            }
        }
    }
}

/// Parses an applicability expression: `or` binds looser than `and`, `not` tighter;
/// parentheses group. `Err` says what is wrong and at which character (from 1).
pub fn parse_expr(text: &str) -> Result<Expr, String> {
    let tokens = tokenize(text)?;
    let mut p = Parser { tokens, at: 0 };
    let expr = p.or()?;
    match p.tokens.get(p.at) {
        None => Ok(expr),
        Some((tok, col)) => Err(format!("unexpected `{tok}` at character {col}")),
    }
}

fn tokenize(text: &str) -> Result<Vec<(String, usize)>, String> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            ' ' | '\t' => {}
            '(' | ')' => out.push((c.to_string(), i + 1)),
            c if c.is_ascii_alphanumeric() || c == '_' => {
                let mut word = c.to_string();
                while let Some((_, n)) = chars.peek() {
                    if n.is_ascii_alphanumeric() || *n == '_' {
                        word.push(*n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push((word, i + 1));
            }
            other => return Err(format!("`{other}` at character {} is not allowed", i + 1)),
        }
    }
    if out.is_empty() {
        return Err("the expression is empty (write `always` for every device)".into());
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<(String, usize)>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.at).map(|(t, _)| t.as_str())
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek() == Some("or") {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.not()?;
        while self.peek() == Some("and") {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.peek() == Some("not") {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, String> {
        let Some((tok, col)) = self.tokens.get(self.at).cloned() else {
            return Err("the expression ends too early".into());
        };
        self.at += 1;
        match tok.as_str() {
            "(" => {
                let e = self.or()?;
                match self.tokens.get(self.at) {
                    Some((t, _)) if t == ")" => {
                        self.at += 1;
                        Ok(e)
                    }
                    _ => Err(format!("the `(` at character {col} is not closed")),
                }
            }
            "always" => Ok(Expr::Always),
            name => match super::ics::CAPABILITIES.iter().find(|c| c.name == name) {
                Some(c) => Ok(Expr::Has(c.name)),
                None => Err(format!(
                    "`{name}` at character {col} is not a capability of the ICS{}",
                    crate::yaml::closest(name, &capability_names())
                        .map(|c| format!(" (did you mean `{c}`?)"))
                        .unwrap_or_default()
                )),
            },
        }
    }
}

/// One requirement.
#[derive(Clone, Debug)]
pub struct Requirement {
    pub id: String,
    pub title: String,
    /// Where the requirement comes from (a document and its section).
    pub source: String,
    pub mandatory: bool,
    /// The expression as written, and parsed.
    pub applies_if: (String, Expr),
    /// Scenario files, relative to the plan's scenario root.
    pub scenarios: Vec<(String, Spot)>,
}

/// A test plan.
#[derive(Clone, Debug)]
pub struct Plan {
    pub id: String,
    pub version: String,
    pub title: String,
    /// The folder scenario names are relative to (absolute: the plan file's folder joined
    /// with `scenario_root`).
    pub scenario_root: PathBuf,
    /// How many times in all a case that ended in a bench error is run.
    pub attempts: u8,
    pub requirements: Vec<Requirement>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Invalid(Diagnostics),
}

impl crate::failure::Classified for PlanError {
    fn class(&self) -> crate::failure::FailureClass {
        crate::failure::FailureClass::Input
    }

    fn rendered(&self) -> bool {
        true
    }
}

/// Reads a plan file.
pub fn load_plan(path: &Path) -> Result<Plan, PlanError> {
    let text = crate::yaml::read_input(path)
        .map_err(|e| PlanError::Invalid(Diagnostics(vec![e.diagnostic(path)])))?;
    parse_plan(path, &text).map_err(PlanError::Invalid)
}

/// Converts plan text; `path` names it in diagnostics and anchors `scenario_root`.
pub fn parse_plan(path: &Path, text: &str) -> Result<Plan, Diagnostics> {
    let doc = Document::new(path, text).with_format(PLAN_FORMAT);
    let plan = doc
        .parse(text)
        .and_then(|root| convert(path, doc.node(&root)));
    doc.finish(plan)
}

fn convert(path: &Path, root: Node<'_, '_>) -> Option<Plan> {
    let map = root.root_map(TOP_KEYS)?;
    map.require_all(REQUIRED_TOP_KEYS);
    let id = map.get("plan").and_then(|n| n.string());
    let version = map.get("version").and_then(|n| n.string());
    let title = map.get("title").and_then(|n| n.string());
    let root_dir = match map.get("scenario_root") {
        Some(n) => n.string().map(PathBuf::from),
        None => Some(PathBuf::from(".")),
    };
    let attempts = match map.get("retry") {
        None => Some(1),
        Some(n) => n.map(RETRY_KEYS).and_then(|m| {
            m.require_all(RETRY_KEYS);
            m.get("attempts").and_then(|a| a.integer(ATTEMPTS))
        }),
    };
    let requirements = map.get("requirements").and_then(|n| {
        let list = n.list()?;
        if list.is_empty() {
            n.report("a plan has at least one requirement", None);
            return None;
        }
        if list.len() > MAX_REQUIREMENTS {
            n.report(&format!("at most {MAX_REQUIREMENTS} requirements"), None);
            return None;
        }
        let converted: Vec<Option<Requirement>> = list.into_iter().map(requirement).collect();
        converted.into_iter().collect::<Option<Vec<_>>>()
    });
    let requirements = requirements?;
    let mut seen = BTreeSet::new();
    for r in &requirements {
        if !seen.insert(r.id.clone()) {
            map.get("requirements")?
                .report(&format!("requirement `{}` is listed twice", r.id), None);
            return None;
        }
    }
    let folder = path.parent().unwrap_or(Path::new("."));
    Some(Plan {
        id: id?,
        version: version?,
        title: title?,
        scenario_root: folder.join(root_dir?),
        attempts: attempts? as u8,
        requirements,
    })
}

fn requirement(node: Node<'_, '_>) -> Option<Requirement> {
    let map = node.map(REQUIREMENT_KEYS)?;
    map.require_all(REQUIRED_REQUIREMENT_KEYS);
    let id = map.get("id").and_then(|n| n.string());
    let title = map.get("title").and_then(|n| n.string());
    let source = map.get("source").and_then(|n| {
        let s = n.string()?;
        if s.trim().is_empty() {
            n.report("a requirement cites its source", None);
            return None;
        }
        Some(s)
    });
    let mandatory = map.get("mandatory").and_then(|n| n.boolean());
    let applies_if = match map.get("applies_if") {
        None => Some(("always".to_owned(), Expr::Always)),
        Some(n) => n.string().and_then(|text| match parse_expr(&text) {
            Ok(e) => Some((text, e)),
            Err(why) => {
                n.report(
                    &why,
                    Some("capability names of the ICS, `and`, `or`, `not`, parentheses, `always`"),
                );
                None
            }
        }),
    };
    let scenarios = map.get("scenarios").and_then(|n| {
        let list = n.list()?;
        if list.is_empty() {
            n.report("a requirement is tested by at least one scenario", None);
            return None;
        }
        list.into_iter()
            .map(|s| s.string().map(|name| (name, s.spot())))
            .collect::<Option<Vec<_>>>()
    });
    Some(Requirement {
        id: id?,
        title: title?,
        source: source?,
        mandatory: mandatory?,
        applies_if: applies_if?,
        scenarios: scenarios?,
    })
}

/// What `plan check` finds wrong beyond the file's format: scenarios that do not exist or
/// do not load. Each diagnostic points at the plan's line.
pub fn check(plan: &Plan) -> Vec<crate::yaml::Diagnostic> {
    let mut out = Vec::new();
    for r in &plan.requirements {
        for (name, spot) in &r.scenarios {
            let path = plan.scenario_root.join(name);
            if !path.is_file() {
                out.push(spot.diagnostic(
                    &format!(
                        "requirement `{}`: scenario `{name}` does not exist ({})",
                        r.id,
                        path.display()
                    ),
                    None,
                ));
                continue;
            }
            if let Err(e) = crate::scenario::load_cases(&path, &[]) {
                out.push(spot.diagnostic(
                    &format!("requirement `{}`: scenario `{name}` does not load", r.id),
                    Some(&e.to_string()),
                ));
            }
        }
    }
    out
}

/// Whether a case runs in a certification, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    pub case: String,
    /// The applicable requirements the case tests (empty: excluded).
    pub requirements: Vec<String>,
    /// Some applicable requirement it tests is mandatory.
    pub mandatory: bool,
    /// Why it is in or out, for people.
    pub reason: String,
}

impl Selection {
    pub fn selected(&self) -> bool {
        !self.requirements.is_empty()
    }
}

/// Whether each requirement applies to `ics`, with the reason.
pub fn applicability(plan: &Plan, ics: &Ics) -> Vec<(bool, String)> {
    plan.requirements
        .iter()
        .map(|r| {
            let holds = r.applies_if.1.holds(ics);
            let mut names = BTreeSet::new();
            r.applies_if.1.names(&mut names);
            let values: Vec<String> = names
                .iter()
                .map(|n| format!("{n}={}", ics.has(n)))
                .collect();
            let why = if values.is_empty() {
                format!("`{}`", r.applies_if.0)
            } else {
                format!("`{}` with {}", r.applies_if.0, values.join(", "))
            };
            (holds, why)
        })
        .collect()
}

/// Every case of the plan's scenarios, selected or excluded with the reason; `cases` are
/// the loaded cases of those scenarios (with their files).
pub fn select(plan: &Plan, ics: &Ics, cases: &[crate::scenario::Case]) -> Vec<Selection> {
    let applies = applicability(plan, ics);
    cases
        .iter()
        .map(|case| {
            let mut requirements = Vec::new();
            let mut mandatory = false;
            let mut excluded = Vec::new();
            for (r, (holds, why)) in plan.requirements.iter().zip(&applies) {
                let tests_it = r
                    .scenarios
                    .iter()
                    .any(|(name, _)| same_file(&plan.scenario_root.join(name), &case.file));
                if !tests_it {
                    continue;
                }
                if *holds {
                    requirements.push(r.id.clone());
                    mandatory |= r.mandatory;
                } else {
                    excluded.push(format!("{} does not apply ({why} is false)", r.id));
                }
            }
            let reason = if !requirements.is_empty() {
                format!(
                    "{} for {}",
                    if mandatory { "mandatory" } else { "optional" },
                    requirements.join(", ")
                )
            } else if excluded.is_empty() {
                "no requirement of the plan names its scenario".to_owned()
            } else {
                excluded.join("; ")
            };
            Selection {
                case: case.id.clone(),
                requirements,
                mandatory,
                reason,
            }
        })
        .collect()
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The scenario files of a plan (each once, in the plan's order).
pub fn scenario_files(plan: &Plan) -> Vec<PathBuf> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for r in &plan.requirements {
        for (name, _) in &r.scenarios {
            let path = plan.scenario_root.join(name);
            if seen.insert(path.clone()) {
                out.push(path);
            }
        }
    }
    out
}

/// Names in `text` that an expression could not use (for `plan check`'s summary).
pub fn unknown_capabilities(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty() && !matches!(*w, "and" | "or" | "not" | "always"))
        .filter(|w| !is_capability(w))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ics(caps: &[&'static str]) -> Ics {
        use super::super::ics::*;
        Ics {
            identity: Identity {
                vendor: "v".into(),
                model: "m".into(),
                hardware_revision: "r".into(),
                firmware: "f".into(),
                firmware_sha256: "0".repeat(64),
            },
            capabilities: caps.iter().copied().collect(),
            limits: Limits {
                face_tries: 3,
                face_try_time: std::time::Duration::from_secs(3),
                step_time: std::time::Duration::from_secs(10),
            },
            link: Link {
                transport: Transport::Tcp,
                baud: None,
            },
        }
    }

    #[test]
    fn expressions_bind_not_then_and_then_or() {
        let e = parse_expr("not desk and face or pin_pad").unwrap();
        assert_eq!(
            e,
            Expr::Or(
                Box::new(Expr::And(
                    Box::new(Expr::Not(Box::new(Expr::Has("desk")))),
                    Box::new(Expr::Has("face"))
                )),
                Box::new(Expr::Has("pin_pad"))
            )
        );
        assert!(e.holds(&ics(&["face"])));
        assert!(!e.holds(&ics(&["face", "desk"])));
        assert!(parse_expr("(face or desk) and not consent")
            .unwrap()
            .holds(&ics(&["desk"])));
    }

    #[test]
    fn bad_expressions_say_where() {
        assert_eq!(
            parse_expr("face and fase").unwrap_err(),
            "`fase` at character 10 is not a capability of the ICS (did you mean `face`?)"
        );
        assert!(parse_expr("(face").unwrap_err().contains("not closed"));
        assert!(parse_expr("face face")
            .unwrap_err()
            .contains("unexpected `face`"));
        assert!(parse_expr("").unwrap_err().contains("empty"));
        assert!(parse_expr("face & desk").unwrap_err().contains("`&`"));
        assert!(parse_expr("face and")
            .unwrap_err()
            .contains("ends too early"));
    }

    fn expr() -> impl Strategy<Value = Expr> {
        let leaf = prop_oneof![
            Just(Expr::Always),
            prop::sample::select(capability_names()).prop_map(Expr::Has),
        ];
        leaf.prop_recursive(4, 32, 2, |inner| {
            prop_oneof![
                inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Expr::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner).prop_map(|(a, b)| Expr::Or(Box::new(a), Box::new(b))),
            ]
        })
    }

    /// Fully parenthesised text of an expression.
    fn show(e: &Expr) -> String {
        match e {
            Expr::Always => "always".into(),
            Expr::Has(n) => (*n).into(),
            Expr::Not(e) => format!("not ({})", show(e)),
            Expr::And(a, b) => format!("({}) and ({})", show(a), show(b)),
            Expr::Or(a, b) => format!("({}) or ({})", show(a), show(b)),
        }
    }

    proptest! {
        /// Written out and parsed back, an expression decides every ICS as before.
        #[test]
        fn parsed_expressions_decide_as_written(e in expr(), caps in prop::sample::subsequence(capability_names(), 0..=13)) {
            let back = parse_expr(&show(&e)).unwrap();
            let ics = ics(&caps);
            prop_assert_eq!(back.holds(&ics), e.holds(&ics));
        }

        /// Hostile text never panics the parser.
        #[test]
        fn any_text_parses_or_is_refused(text in "\\PC{0,40}") {
            let _ = parse_expr(&text);
        }
    }
}
