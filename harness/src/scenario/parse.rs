//! Scenario files → [`Case`]s: includes, variables, matrices, and every mistake of a file at
//! once with file:line:column.
//!
//! A scenario file is a mapping; see `scenarios/README.md` for the format and
//! `myna-hil schema` for its JSON Schema.

use super::model::*;
use crate::rules::{ConsentChoice, ConsentItem, ConsentItems, ConsentStep, RuleSet, Visit};
use crate::yaml::{Diagnostics, Document, Map, Node};
use camera_replay::perturb::Perturbation;
use saphyr::MarkedYaml;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default deadline of a step when the scenario names none.
pub const DEFAULT_STEP_DEADLINE: Duration = Duration::from_secs(10);

/// Reads the scenario at `path` and expands it into cases. `overrides` (from `--var`) win
/// over the file's `vars` and matrix values.
pub fn load_cases(path: &Path, overrides: &[(String, String)]) -> Result<Vec<Case>, Diagnostics> {
    let text = crate::yaml::read_input(path).map_err(|e| Diagnostics(vec![e.diagnostic(path)]))?;
    parse_cases(path, &text, overrides)
}

/// An included file, kept alive while the scenario is converted.
struct Included {
    doc: Document,
    text: String,
}

/// Converts scenario text (`path` names it in diagnostics and resolves relative paths).
pub fn parse_cases(
    path: &Path,
    text: &str,
    overrides: &[(String, String)],
) -> Result<Vec<Case>, Diagnostics> {
    let doc = Document::new(path, text).with_format(SCENARIO_FORMAT);
    let Some(root) = doc.parse(text) else {
        return doc.finish(None);
    };
    let root_node = doc.node(&root);
    if is_conformance_file(&root) {
        let cases = conformance_cases(root_node, path);
        return doc.finish(cases);
    }
    let Some(map) = root_node.root_map(SCENARIO_KEYS) else {
        return doc.finish(None);
    };

    // Includes: their keys are defaults for the keys this file leaves out, in the order of
    // `read_includes`.
    let included = read_includes(&map, path);
    let mut include_errors = Vec::new();
    let mut include_roots: Vec<(&Document, MarkedYaml<'_>)> = Vec::new();
    for inc in &included {
        if let Some(r) = inc.doc.parse(&inc.text) {
            include_roots.push((&inc.doc, r));
        }
    }
    let include_maps: Vec<Map<'_, '_>> = include_roots
        .iter()
        .filter_map(|(d, r)| d.node(r).root_map(SCENARIO_KEYS))
        .collect();
    let lookup = |key: &str| -> Option<Node<'_, '_>> {
        map.get(key)
            .or_else(|| include_maps.iter().find_map(|m| m.get(key)))
    };

    let mut vars = read_vars(lookup("vars"));
    // A `--var` that names a matrix variable pins it: its combinations collapse into one,
    // and the case id says the value that ran.
    let mut combos: Vec<Vec<(String, String)>> =
        read_matrix(lookup("matrix"), overrides, max_cases()).unwrap_or_default();
    let mut seen = std::collections::HashSet::new();
    combos.retain(|c| seen.insert(c.clone()));
    // The variables this file knows, to tell a mistyped `--var` (`suite::unknown_vars`).
    let mut variables: Vec<String> = vars.iter().map(|(n, _)| n.clone()).collect();
    variables.extend(combos.first().into_iter().flatten().map(|(n, _)| n.clone()));
    referenced_vars(&root, &mut variables);
    for (_, r) in &include_roots {
        referenced_vars(r, &mut variables);
    }
    variables.sort();
    variables.dedup();
    let stem = scenario_stem(path);
    let mut cases = Vec::new();
    for combo in combos {
        vars.retain(|(n, _)| !combo.iter().any(|(m, _)| m == n));
        let mut all: Vec<(String, String)> = vars.clone();
        all.extend(combo.iter().cloned());
        all.retain(|(n, _)| !overrides.iter().any(|(o, _)| o == n));
        all.extend(overrides.iter().cloned());
        doc.set_vars(all.clone());
        for inc in &included {
            inc.doc.set_vars(all.clone());
        }
        let id = if combo.is_empty() {
            stem.clone()
        } else {
            let parts: Vec<String> = combo
                .iter()
                .map(|(n, v)| format!("{n}={}", short(v)))
                .collect();
            format!("{stem}[{}]", parts.join(","))
        };
        if let Some(mut case) = convert_case(&lookup, root_node, &id, path) {
            case.variables = variables.clone();
            cases.push(case);
        }
    }
    for inc in &included {
        include_errors.extend(inc.doc.take_errors());
    }
    let mut result = doc.finish(Some(cases));
    if !include_errors.is_empty() {
        let mut all = match result {
            Ok(_) => Vec::new(),
            Err(d) => d.0,
        };
        all.extend(include_errors);
        result = Err(Diagnostics(all));
    }
    // A mistake inside a matrix is reported once per combination: keep one.
    result.map_err(|mut d| {
        d.0.dedup_by(|a, b| a.short() == b.short());
        d
    })
}

fn is_conformance_file(root: &MarkedYaml<'_>) -> bool {
    match &root.data {
        saphyr::YamlData::Mapping(m) => m.keys().any(|k| {
            matches!(&k.data, saphyr::YamlData::Value(saphyr::Scalar::String(s)) if s == "conformance")
        }),
        _ => false,
    }
}

/// A conformance file: one case per (card, check).
fn conformance_cases(root: Node<'_, '_>, path: &Path) -> Option<Vec<Case>> {
    let map = root.map(CONFORMANCE_KEYS)?;
    map.require_all(REQUIRED_CONFORMANCE_KEYS);
    let title = map.get("title").and_then(|n| n.string());
    let tags = map
        .get("tags")
        .map(|n| {
            n.list()
                .map(|l| l.iter().filter_map(|t| t.string()).collect::<Vec<_>>())
        })
        .unwrap_or(Some(Vec::new()));
    let deadline = map
        .get("deadline")
        .map(|n| n.duration())
        .unwrap_or(Some(Duration::from_secs(4)));
    let cards: Vec<PathBuf> = map
        .get("conformance")?
        .list()?
        .iter()
        .filter_map(|n| {
            let name = n.string()?;
            let file = relative_to(path, &name);
            if file.exists() {
                Some(file)
            } else {
                n.report(
                    &format!("card profile `{}` does not exist", file.display()),
                    None,
                );
                None
            }
        })
        .collect();
    let (title, tags, deadline) = (title?, tags?, deadline?);
    let cases = super::model::conformance_cases(
        path,
        &scenario_stem(path),
        &title,
        &tags,
        &cards,
        deadline * 2,
    );
    Some(cases)
}

/// A matrix value as it appears in a case id: a file's stem, or the value itself.
fn short(value: &str) -> String {
    if value.ends_with(".yaml") {
        Path::new(value)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| value.to_owned())
    } else {
        value.to_owned()
    }
}

/// `reception/pin-first-visit.yaml` under `scenarios/` → `reception.pin-first-visit`.
fn scenario_stem(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match path.parent().and_then(Path::file_name) {
        Some(dir) if dir != "scenarios" => format!("{}.{stem}", dir.to_string_lossy()),
        _ => stem,
    }
}

/// The include-only files of the scenario at `path` whose root mapping is `map`, in the
/// order they give defaults: depth first, each file before the files it includes, so the
/// nearest file wins (the scenario, then its first include, what that one includes, then
/// its second include, …). A file is read once (a second include of it could give no
/// default the first did not); a cycle, a file that is not `.yaml`, includes deeper than
/// [`MAX_INCLUDE_DEPTH`] or more than [`MAX_INCLUDED_FILES`] files are errors at the
/// `include:` item.
fn read_includes(map: &Map<'_, '_>, path: &Path) -> Vec<Included> {
    let mut chain = vec![IncludeLink::of(path)];
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    include_list(map.get("include"), &mut chain, &mut seen, &mut out);
    out
}

/// A file on the way from the scenario to an include: its canonical path (what cycles
/// are found by) and the path as written (what they are shown by).
struct IncludeLink {
    canonical: PathBuf,
    shown: PathBuf,
}

impl IncludeLink {
    fn of(path: &Path) -> Self {
        IncludeLink {
            canonical: std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
            shown: path.to_path_buf(),
        }
    }
}

/// Reads the files of one `include:` list (and theirs) into `out`; `chain` holds the files
/// that include them, the scenario first.
fn include_list(
    node: Option<Node<'_, '_>>,
    chain: &mut Vec<IncludeLink>,
    seen: &mut std::collections::HashSet<PathBuf>,
    out: &mut Vec<Included>,
) {
    let Some(items) = node.and_then(|n| n.list()) else {
        return;
    };
    for item in items {
        let Some(name) = item.string() else { continue };
        let file = relative_to(item.doc.path(), &name);
        let yaml = file
            .extension()
            .is_some_and(|e| INCLUDE_EXTENSIONS.iter().any(|x| e == *x));
        if !yaml {
            item.report(
                &format!("`{}` is not a YAML file", file.display()),
                Some("an include-only file is named `_*.yaml` (or `.yml`)"),
            );
            continue;
        }
        let link = IncludeLink::of(&file);
        if let Some(at) = chain.iter().position(|l| l.canonical == link.canonical) {
            let cycle: Vec<String> = chain[at..]
                .iter()
                .chain([&link])
                .map(|l| l.shown.display().to_string())
                .collect();
            item.report(
                &format!("include cycle: {}", cycle.join(" → ")),
                Some("a file cannot include itself, directly or through another"),
            );
            continue;
        }
        if chain.len() > MAX_INCLUDE_DEPTH {
            item.report(
                &format!("includes nest deeper than {MAX_INCLUDE_DEPTH} files"),
                Some(&format!(
                    "{} includes it",
                    chain
                        .iter()
                        .map(|l| l.shown.display().to_string())
                        .collect::<Vec<_>>()
                        .join(" → ")
                )),
            );
            continue;
        }
        if seen.contains(&link.canonical) {
            continue;
        }
        if seen.len() >= MAX_INCLUDED_FILES {
            item.report(
                &format!("a scenario includes at most {MAX_INCLUDED_FILES} files"),
                None,
            );
            continue;
        }
        seen.insert(link.canonical.clone());
        let text = match crate::yaml::read_input(&file) {
            Ok(text) => text,
            Err(e) => {
                item.report(
                    &format!("cannot read include `{}`: {e}", file.display()),
                    None,
                );
                continue;
            }
        };
        let included = Included {
            doc: Document::new(&file, &text).with_format(SCENARIO_FORMAT),
            text,
        };
        // Its own includes come right after it. (It is parsed again for its keys: a tree
        // borrows its text, which moves into `out`; its diagnostics are reported once.)
        let mut nested = Vec::new();
        if let Some(root) = included.doc.parse(&included.text) {
            if let Some(map) = included.doc.node(&root).root_map(SCENARIO_KEYS) {
                chain.push(link);
                include_list(map.get("include"), chain, seen, &mut nested);
                chain.pop();
            }
        }
        out.push(included);
        out.append(&mut nested);
    }
}

/// `name` relative to the folder of `path`.
pub fn relative_to(path: &Path, name: &str) -> PathBuf {
    path.parent().unwrap_or(Path::new(".")).join(name)
}

/// The names of the variables `yaml` refers to (`${name}` in any string, key or value),
/// added to `out`.
fn referenced_vars(yaml: &MarkedYaml<'_>, out: &mut Vec<String>) {
    match &yaml.data {
        saphyr::YamlData::Value(saphyr::Scalar::String(text)) => {
            let mut rest: &str = text;
            while let Some(start) = rest.find("${") {
                let after = &rest[start + 2..];
                let Some(end) = after.find('}') else { break };
                out.push(after[..end].to_owned());
                rest = &after[end + 1..];
            }
        }
        saphyr::YamlData::Sequence(items) => {
            for item in items {
                referenced_vars(item, out);
            }
        }
        saphyr::YamlData::Mapping(mapping) => {
            for (k, v) in mapping.iter() {
                referenced_vars(k, out);
                referenced_vars(v, out);
            }
        }
        _ => {}
    }
}

fn read_vars(node: Option<Node<'_, '_>>) -> Vec<(String, String)> {
    let Some(node) = node else {
        return Vec::new();
    };
    let saphyr::YamlData::Mapping(mapping) = &node.yaml.data else {
        node.report("expected a mapping of variable names to values", None);
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in mapping.iter() {
        let key = node.doc.node(k);
        let value = node.doc.node(v);
        if let (Some(k), Some(v)) = (key.string(), value.text()) {
            out.push((k, v));
        }
    }
    out
}

/// The most cases a matrix may make: [`DEFAULT_MAX_CASES`], or `MYNA_HIL_MAX_CASES`
/// ([`MAX_CASES_ENV`]) when set; `Err` says what is wrong with the variable.
pub fn max_cases() -> Result<u64, String> {
    match std::env::var(MAX_CASES_ENV) {
        Err(std::env::VarError::NotPresent) => Ok(DEFAULT_MAX_CASES),
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!(
                "{MAX_CASES_ENV}=`{text}` is not a whole number of cases above 0"
            )),
        },
        Err(e) => Err(format!("{MAX_CASES_ENV}: {e}")),
    }
}

/// How many combinations lists of these lengths make; `None` past `u64::MAX`.
pub fn matrix_size(lengths: impl IntoIterator<Item = usize>) -> Option<u64> {
    lengths.into_iter().try_fold(1u64, |product, n| {
        product.checked_mul(u64::try_from(n).ok()?)
    })
}

/// The combinations of a matrix, each a list of (variable, value); one empty combination
/// when there is no matrix. A variable `overrides` names (a `--var`) has that one value.
/// A matrix that would make more than `limit` cases is refused before it is expanded.
fn read_matrix(
    node: Option<Node<'_, '_>>,
    overrides: &[(String, String)],
    limit: Result<u64, String>,
) -> Option<Vec<Vec<(String, String)>>> {
    let Some(node) = node else {
        return Some(vec![Vec::new()]);
    };
    let saphyr::YamlData::Mapping(mapping) = &node.yaml.data else {
        node.report(
            "expected a mapping of variable names to lists of values",
            None,
        );
        return None;
    };
    let mut variables: Vec<(String, Vec<String>)> = Vec::new();
    let mut ok = true;
    for (k, v) in mapping.iter() {
        let (key, list) = (node.doc.node(k), node.doc.node(v));
        let (Some(name), Some(items)) = (key.string(), list.list()) else {
            ok = false;
            continue;
        };
        if items.is_empty() {
            list.report("a matrix variable needs at least one value", None);
            ok = false;
            continue;
        }
        let values: Vec<Option<String>> = items.iter().map(Node::text).collect();
        let Some(values) = values.into_iter().collect::<Option<Vec<String>>>() else {
            ok = false;
            continue;
        };
        match overrides.iter().find(|(o, _)| *o == name) {
            Some((_, pinned)) => variables.push((name, vec![pinned.clone()])),
            None => variables.push((name, values)),
        }
    }
    if !ok {
        return None;
    }
    let limit = match limit {
        Ok(limit) => limit,
        Err(why) => {
            node.report(&why, None);
            return None;
        }
    };
    let size = matrix_size(variables.iter().map(|(_, values)| values.len()));
    if size.is_none_or(|size| size > limit) {
        let factors: Vec<String> = variables
            .iter()
            .map(|(name, values)| format!("{name}: {}", values.len()))
            .collect();
        let size = size.map_or_else(|| format!("more than {}", u64::MAX), |s| s.to_string());
        node.report(
            &format!(
                "this matrix makes {size} cases ({}), more than the limit of {limit}",
                factors.join(" × ")
            ),
            Some(&format!(
                "split it across files, pin a variable with --var NAME=VALUE, or raise the \
                 limit with {MAX_CASES_ENV}=N"
            )),
        );
        return None;
    }
    let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for (name, values) in &variables {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                values.iter().map(move |value| {
                    let mut c = c.clone();
                    c.push((name.clone(), value.clone()));
                    c
                })
            })
            .collect();
    }
    Some(combos)
}

fn origin(node: &Node<'_, '_>) -> Origin {
    let start = node.yaml.span.start;
    Origin {
        file: node.doc.path().to_path_buf(),
        line: start.line(),
        column: start.col() + 1,
    }
}

fn convert_case<'a, 'y>(
    lookup: &dyn Fn(&str) -> Option<Node<'a, 'y>>,
    root: Node<'_, '_>,
    id: &str,
    path: &Path,
) -> Option<Case> {
    for key in REQUIRED_SCENARIO_KEYS {
        if lookup(key).is_none() {
            root.report(&format!("missing key `{key}`"), None);
        }
    }
    let title = lookup("title").and_then(|n| n.string());
    let tags = lookup("tags")
        .map(|n| {
            n.list()
                .map(|l| l.iter().filter_map(|t| t.string()).collect())
        })
        .unwrap_or(Some(Vec::new()));
    let card = match lookup("card") {
        None => Some(None),
        Some(n) => n.string().and_then(|name| {
            if name == NONE {
                return Some(None);
            }
            let file = relative_to(n.doc.path(), &name);
            if file.exists() {
                Some(Some(file))
            } else {
                n.report(
                    &format!("card profile `{}` does not exist", file.display()),
                    Some("paths are relative to the file that names them"),
                );
                None
            }
        }),
    };
    let date_node = lookup("date");
    let date = date_node.and_then(|n| n.date());
    let facility = lookup("facility")
        .map(|n| n.string())
        .unwrap_or(Some("clinic-a".into()));
    let visit = lookup("visit")
        .map(|n| n.choice(VISITS))
        .unwrap_or(Some(Visit::First));
    let rule_set = lookup("rule_set")
        .map(|n| n.choice(RULE_SETS))
        .unwrap_or(Some(RuleSet::Seed));
    let insurance = match lookup("insurance") {
        None => Some(None),
        Some(n) if is_none(&n) => Some(None),
        Some(n) => insurance(n).map(Some),
    };
    let patient = patient_inputs(lookup, insurance.as_ref().and_then(|i| i.as_ref()));
    let consent_history = lookup("consent_history")
        .map(|n| {
            let items = n.list()?;
            let converted: Vec<Option<PastConsent>> = items.into_iter().map(past_consent).collect();
            converted.into_iter().collect::<Option<Vec<_>>>()
        })
        .unwrap_or(Some(Vec::new()));
    let service = lookup("service")
        .map(service_fault)
        .unwrap_or(Some(ServiceFault::None));
    let camera = match lookup("camera") {
        None => Some(None),
        Some(n) => camera(n).map(Some),
    };
    let matcher = lookup("matcher")
        .map(matcher_settings)
        .unwrap_or(Some(MatcherSettings::default()));
    let step_deadline = lookup("step_deadline")
        .map(|n| n.duration())
        .unwrap_or(Some(DEFAULT_STEP_DEADLINE));
    let steps = lookup("steps").and_then(|n| {
        let items = n.list()?;
        let mut ids: Vec<String> = Vec::new();
        let converted: Vec<Option<Step>> = items
            .into_iter()
            .map(|n| {
                let step = step(n, step_deadline)?;
                // An answer file names a prompt by its id: two alike could not be told apart.
                if let StepKind::Operator(p) = &step.kind {
                    if ids.contains(&p.id) {
                        n.report(
                            &format!("the prompt id `{}` is used twice in this case", p.id),
                            Some("give each operator step its own `id`"),
                        );
                        return None;
                    }
                    ids.push(p.id.clone());
                }
                Some(step)
            })
            .collect();
        converted.into_iter().collect::<Option<Vec<_>>>()
    });
    let expect = lookup("expect")
        .map(expect)
        .unwrap_or(Some(Expect::default()));
    if let Some(d) = lookup("description") {
        d.string();
    }
    Some(Case {
        id: id.to_owned(),
        kind: CaseKind::Reception,
        file: path.to_path_buf(),
        title: title?,
        tags: tags?,
        date: date?,
        date_at: date_node.map(|n| n.spot()),
        facility: facility?,
        visit: visit?,
        rule_set: rule_set?,
        card: card?,
        insurance: insurance?,
        patient: patient?,
        consent_history: consent_history?,
        service: service?,
        camera: camera?,
        matcher: matcher?,
        step_deadline: step_deadline?,
        steps: steps?,
        expect: expect?,
        variables: Vec::new(),
    })
}

/// `income:`, `cost:` and `patient_knows_insurer:`; an income that contradicts the record's
/// limit category is reported at `income`.
fn patient_inputs<'a, 'y>(
    lookup: &dyn Fn(&str) -> Option<Node<'a, 'y>>,
    insurance: Option<&Insurance>,
) -> Option<PatientInputs> {
    let income = match lookup("income") {
        None => Some(None),
        Some(n) => {
            let income = n.choice(INCOMES)?;
            let code = insurance.and_then(|i| i.limit_category.as_deref());
            let category = code.and_then(|c| crate::rules::LimitCategory::from_code(c).ok());
            if let (Some(code), Some(category)) = (code, category) {
                if !income.goes_with(category) {
                    let codes: Vec<&str> =
                        income.limit_categories().iter().map(|c| c.code()).collect();
                    n.report(
                        &format!(
                            "income `{}` ({}) contradicts the record's limit_category {code} ({})",
                            income.name(),
                            income.label(),
                            category.label()
                        ),
                        Some(&format!(
                            "{} goes with limit_category {}",
                            income.label(),
                            codes.join(", ")
                        )),
                    );
                    return None;
                }
            }
            Some(Some(income))
        }
    };
    let cost = match lookup("cost") {
        None => Some(None),
        Some(n) => n.integer(YEN).map(|v| Some(v as u64)),
    };
    let birth_node = lookup("birth_date");
    let birth_date = match &birth_node {
        None => Some(None),
        Some(n) => n.date().map(Some),
    };
    let knows = lookup("patient_knows_insurer")
        .map(|n| n.boolean())
        .unwrap_or(Some(true));
    Some(PatientInputs {
        birth_date: birth_date?,
        birth_date_at: birth_node.map(|n| n.spot()),
        income: income?,
        cost_yen: cost?,
        knows_insurer: knows?,
    })
}

fn is_none(node: &Node<'_, '_>) -> bool {
    matches!(
        &node.yaml.data,
        saphyr::YamlData::Value(saphyr::Scalar::Null)
    ) || matches!(&node.yaml.data, saphyr::YamlData::Value(saphyr::Scalar::String(s)) if s == NONE)
}

fn insurance(node: Node<'_, '_>) -> Option<Insurance> {
    let map = node.map(INSURANCE_KEYS)?;
    map.require_all(REQUIRED_INSURANCE_KEYS);
    let insurer_number = map
        .get("insurer_number")
        .and_then(|n| n.digits(INSURER_NUMBER_DIGITS, "the insurer number"));
    let symbol = map
        .get("symbol")
        .map(|n| n.string())
        .unwrap_or(Some(String::new()));
    let number = map.get("number").and_then(|n| n.string());
    let branch = map
        .get("branch")
        .map(|n| n.string())
        .unwrap_or(Some("00".into()));
    let family = map
        .get("family")
        .map(|n| n.boolean())
        .unwrap_or(Some(false));
    let limit_category = match map.get("limit_category") {
        None => Some(None),
        Some(n) => n
            .choice(&LIMIT_CODES.iter().map(|c| (*c, *c)).collect::<Vec<_>>())
            .map(|c| Some(c.to_owned())),
    };
    let qualification_date = map
        .get("qualification_date")
        .map(|n| n.date())
        .unwrap_or(time::Date::from_calendar_date(2020, time::Month::April, 1).ok());
    Some(Insurance {
        insurer_number: insurer_number?,
        symbol: symbol?,
        number: number?,
        branch: branch?,
        family: family?,
        limit_category: limit_category?,
        qualification_date: qualification_date?,
    })
}

fn past_consent(node: Node<'_, '_>) -> Option<PastConsent> {
    let map = node.map(PAST_CONSENT_KEYS)?;
    map.require_all(REQUIRED_PAST_CONSENT_KEYS);
    let facility = map.get("facility").and_then(|n| n.string());
    let on = match map.get("on") {
        Some(n) => n.date(),
        None => time::Date::from_calendar_date(2025, time::Month::January, 6).ok(),
    };
    let choice = map.get("choice").and_then(|n| match consent_step(n)? {
        ConsentStep::Choose(c) => Some(c),
        ConsentStep::Reuse => {
            n.report("an earlier visit records a choice, not `reuse`", None);
            None
        }
    });
    Some(PastConsent {
        facility: facility?,
        on: on?,
        choice: choice?,
    })
}

/// `all`, `none`, `reuse`, or a list of items agreed to individually.
fn consent_step(node: Node<'_, '_>) -> Option<ConsentStep> {
    if let saphyr::YamlData::Sequence(_) = &node.yaml.data {
        let items = node.list()?;
        let converted: Vec<Option<ConsentItem>> = items.iter().map(consent_item).collect();
        let items: ConsentItems = converted
            .into_iter()
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .collect();
        return Some(ConsentStep::Choose(ConsentChoice::Individually(items)));
    }
    node.choice(CONSENT_ANSWERS)
}

/// One consent item by its name ([`ConsentItem::NAMES`]); the names scenarios used before
/// get a hint with the new name.
fn consent_item(node: &Node<'_, '_>) -> Option<ConsentItem> {
    let text = node.string()?;
    if let Some(item) = ConsentItem::from_name(&text) {
        return Some(item);
    }
    let names: Vec<&str> = ConsentItem::NAMES.iter().map(|(n, _)| *n).collect();
    let hint = match RENAMED_CONSENT_ITEMS.iter().find(|(old, _)| *old == text) {
        Some((old, new)) => format!("`{old}` is now `{new}` (one of: {})", names.join(", ")),
        None => match crate::yaml::closest(&text, &names) {
            Some(c) => format!("did you mean `{c}`? (one of: {})", names.join(", ")),
            None => format!("one of: {}", names.join(", ")),
        },
    };
    node.report(&format!("`{text}` is not a consent item"), Some(&hint));
    None
}

fn service_fault(node: Node<'_, '_>) -> Option<ServiceFault> {
    // `service: timeout` or `service: { slow: 2s }` / `{ http: 503 }`.
    if let saphyr::YamlData::Mapping(mapping) = &node.yaml.data {
        let map = node.map(SERVICE_FAULT_KEYS)?;
        if mapping.len() > 1 {
            node.report("give `slow` or `http`, not both", None);
            return None;
        }
        if let Some(n) = map.get("slow") {
            return n.duration().map(ServiceFault::Slow);
        }
        if let Some(n) = map.get("http") {
            return n
                .integer(SERVICE_HTTP_CODES)
                .map(|c| ServiceFault::Http(c as u16));
        }
        node.report("expected `slow: DURATION` or `http: CODE`", None);
        return None;
    }
    choice_of(&node, SERVICE_FAULTS)
}

/// One of `table`'s names, for values that are not `Copy`.
fn choice_of<T: Clone>(node: &Node<'_, '_>, table: &[(&str, T)]) -> Option<T> {
    let indexed: Vec<(&str, usize)> = table
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (*n, i))
        .collect();
    node.choice(&indexed).map(|i| table[i].1.clone())
}

/// `matcher: { detector_threshold: 0.6, enrol_margin: 0 }`.
fn matcher_settings(node: Node<'_, '_>) -> Option<MatcherSettings> {
    let map = node.map(MATCHER_KEYS)?;
    let detector = map
        .get("detector_threshold")
        .map(|n| n.number(DETECTOR_THRESHOLDS).map(|v| v as f32));
    let margin = map
        .get("enrol_margin")
        .map(|n| n.number(ENROL_MARGINS).map(|v| v as f32));
    let fallback = map
        .get("enrol_fallback_threshold")
        .map(|n| n.number(ENROL_FALLBACK_THRESHOLDS).map(|v| v as f32));
    Some(MatcherSettings {
        detector_threshold: detector.map_or(Some(None), |v| v.map(Some))?,
        enrol_margin: margin.map_or(Some(None), |v| v.map(Some))?,
        enrol_fallback_threshold: fallback.map_or(Some(None), |v| v.map(Some))?,
    })
}

/// `camera: { photo: obama2.jpg, perturb: { blur: 2 }, attack: still_photo, seed: 3 }` or
/// `camera: { clip: clips/patient.mp4, person: obama }`.
fn camera(node: Node<'_, '_>) -> Option<Camera> {
    let map = node.map(CAMERA_KEYS)?;
    let source = match (map.get("photo"), map.get("clip")) {
        (Some(p), None) => {
            if let Some(person) = map.get("person") {
                person.report(
                    "`person` goes with `clip`",
                    Some("a cached photo's person comes from the photo cache's labels"),
                );
                None
            } else {
                p.string().map(CameraSource::Photo)
            }
        }
        (None, Some(c)) => {
            let person = map.required("person").and_then(|n| n.string());
            c.string().and_then(|name| {
                let path = relative_to(c.doc.path(), &name);
                if path.exists() {
                    Some(CameraSource::Clip {
                        path,
                        person: person?,
                    })
                } else {
                    c.report(
                        &format!("clip `{}` does not exist", path.display()),
                        Some("paths are relative to the file that names them"),
                    );
                    None
                }
            })
        }
        (Some(_), Some(c)) => {
            c.report("give `photo` or `clip`, not both", None);
            None
        }
        (None, None) => {
            node.report(
                "the camera needs `photo` (a cached photo) or `clip` (a recorded clip)",
                None,
            );
            None
        }
    };
    let attack = match map.get("attack") {
        None => Some(None),
        Some(n) => n
            .string()
            .and_then(|name| match super::attack_species(&name) {
                Ok(_) => Some(Some(name)),
                Err(hint) => {
                    n.report(&format!("unknown attack `{name}`"), Some(&hint));
                    None
                }
            }),
    };
    let perturb = match map.get("perturb") {
        None => Some(Vec::new()),
        Some(n) => perturbations(n),
    };
    let seed = optional_integer(&map, "seed", 1, 0..=i64::MAX).map(|s| s as u64);
    let fps = map
        .get("fps")
        .map(|n| n.number(CAMERA_FPS))
        .unwrap_or(Some(15.0));
    let frames = optional_integer(&map, "frames", 45, CAMERA_FRAMES).map(|f| f as u32);
    let earlier =
        optional_integer(&map, "earlier_failures", 0, CAMERA_EARLIER_FAILURES).map(|f| f as u8);
    Some(Camera {
        source: source?,
        attack: attack?,
        perturb: perturb?,
        seed: seed?,
        fps: fps?,
        frames: frames?,
        earlier_failures: earlier?,
        origin: origin(&node),
    })
}

fn optional_integer(
    map: &Map<'_, '_>,
    key: &str,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Option<i64> {
    map.get(key)
        .map(|n| n.integer(range))
        .unwrap_or(Some(default))
}

/// `perturb: { blur: 2.0, rotation: 10 }`, in the order written, or the same as text
/// (`perturb: "blur=2, rotation=10"`), which a matrix variable can carry.
fn perturbations(node: Node<'_, '_>) -> Option<Vec<Perturbation>> {
    let pairs: Vec<(Node<'_, '_>, Option<(String, f64)>)> = match &node.yaml.data {
        saphyr::YamlData::Mapping(mapping) => mapping
            .iter()
            .map(|(k, v)| {
                let key = node.doc.node(k);
                let value = node.doc.node(v).number(-1e6..=1e6);
                (key, key.string().zip(value))
            })
            .collect(),
        saphyr::YamlData::Value(_) => {
            let text = node.string()?;
            text.split(',')
                .filter(|part| !part.trim().is_empty())
                .map(|part| {
                    let parsed = part.split_once('=').and_then(|(k, v)| {
                        Some((k.trim().to_owned(), v.trim().parse::<f64>().ok()?))
                    });
                    if parsed.is_none() {
                        node.report(
                            &format!("`{}` is not NAME=VALUE", part.trim()),
                            Some("for example \"blur=2, noise=8\""),
                        );
                    }
                    (node, parsed)
                })
                .collect()
        }
        _ => {
            node.report(
                "expected a mapping of perturbation names to values",
                Some("for example `perturb: { blur: 2.0, noise: 8 }`"),
            );
            return None;
        }
    };
    let mut out = Some(Vec::new());
    for (at, pair) in pairs {
        let Some((name, amount)) = pair else {
            out = None;
            continue;
        };
        match Perturbation::from_name_value(&name, amount) {
            Ok(p) => {
                if let Some(list) = out.as_mut() {
                    list.push(p);
                }
            }
            Err(e) => {
                at.report(&e.to_string(), None);
                out = None;
            }
        }
    }
    out
}

/// A step: a bare name (`place_card`) or a one-key mapping (`choose: pin`), optionally
/// with `deadline:` beside it; `step_deadline` is the case's default (`None`: it was wrong,
/// and reported).
fn step(node: Node<'_, '_>, step_deadline: Option<Duration>) -> Option<Step> {
    let origin = origin(&node);
    let (name, arg, deadline) = match &node.yaml.data {
        saphyr::YamlData::Value(_) => (node.string()?, None, None),
        saphyr::YamlData::Mapping(mapping) => {
            let mut keys = STEP_NAMES.to_vec();
            keys.push(STEP_DEADLINE_KEY);
            let map = node.map(&keys)?;
            let mut named: Vec<String> = Vec::new();
            for (k, _) in mapping.iter() {
                if let Some(k) = node.doc.node(k).string() {
                    if k != STEP_DEADLINE_KEY && STEP_NAMES.contains(&k.as_str()) {
                        named.push(k);
                    }
                }
            }
            if named.len() != 1 {
                node.report(
                    &format!(
                        "a step names exactly one action, this one names {}",
                        named.len()
                    ),
                    Some(&format!("one of: {}", STEP_NAMES.join(", "))),
                );
                return None;
            }
            let name = named.remove(0);
            let deadline = match map.get(STEP_DEADLINE_KEY) {
                Some(d) => Some(d.duration()?),
                None => None,
            };
            (name.clone(), map.get(&name), deadline)
        }
        _ => {
            node.report(
                "expected a step",
                Some(&format!("one of: {}", STEP_NAMES.join(", "))),
            );
            return None;
        }
    };
    let needs_arg = |what: &str| -> Option<Node<'_, '_>> {
        if arg.is_none() {
            node.report(
                &format!("`{name}` needs {what}"),
                Some(&format!("write `{name}: ...`")),
            );
        }
        arg
    };
    let kind = match name.as_str() {
        "place_card" => StepKind::PlaceCard,
        "remove_card" => StepKind::RemoveCard,
        "choose" => StepKind::Choose(needs_arg("a method")?.choice(METHODS)?),
        "enter_pin" => {
            let n = needs_arg("`correct`, `wrong` or 4 digits in quotes")?;
            let text = n.string()?;
            match PIN_WORDS.iter().find(|(w, _)| *w == text) {
                Some((_, entry)) => StepKind::EnterPin(entry.clone()),
                None if text.len() == PIN_DIGITS && text.bytes().all(|b| b.is_ascii_digit()) => {
                    StepKind::EnterPin(PinEntry::Digits(text))
                }
                None => {
                    n.report(
                        "expected `correct`, `wrong` or 4 digits in quotes",
                        Some("enter_pin: correct"),
                    );
                    return None;
                }
            }
        }
        "consent" => StepKind::Consent(consent_step(needs_arg("a choice")?)?),
        "register" => {
            StepKind::Register(needs_arg("`accept` or `decline`")?.choice(REGISTER_ANSWERS)?)
        }
        "staff_check" => {
            StepKind::StaffCheck(needs_arg("`confirm` or `reject`")?.choice(STAFF_CHECK_ANSWERS)?)
        }
        "show" => {
            let n = needs_arg("documents")?;
            let nodes = match &n.yaml.data {
                saphyr::YamlData::Sequence(_) => n.list()?,
                _ => vec![n],
            };
            let shown: Vec<Option<Shown>> = nodes.iter().map(shown).collect();
            StepKind::Show(shown.into_iter().collect::<Option<Vec<_>>>()?)
        }
        "service" => StepKind::Service(service_fault(needs_arg("a behaviour")?)?),
        "wait" => {
            let n = needs_arg("a duration")?;
            let wait = n.duration()?;
            wait_fits(&n, wait, deadline, step_deadline)?;
            StepKind::Wait(wait)
        }
        "operator" => {
            let prompt = operator_prompt(needs_arg("a prompt: `id`, `ask` and an answer")?)?;
            // A person needs longer than a reader: the scenario's step_deadline is not theirs.
            return Some(Step {
                kind: StepKind::Operator(Box::new(prompt)),
                deadline: Some(deadline.unwrap_or(OPERATOR_DEADLINE)),
                origin,
            });
        }
        other => {
            let hint = crate::yaml::closest(other, STEP_NAMES)
                .map(|c| format!("did you mean `{c}`?"))
                .unwrap_or_else(|| format!("one of: {}", STEP_NAMES.join(", ")));
            node.report(&format!("unknown step `{other}`"), Some(&hint));
            return None;
        }
    };
    Some(Step {
        kind,
        deadline,
        origin,
    })
}

/// `operator: { id, ask: { ja, en }, confirm | choose | text }`.
fn operator_prompt(node: Node<'_, '_>) -> Option<OperatorPrompt> {
    let map = node.map(OPERATOR_KEYS)?;
    map.require_all(&["id", "ask"]);
    let id = map.get("id").and_then(|n| {
        let id = n.string()?;
        if !is_prompt_id(&id) {
            n.report(
                &format!("a prompt id is 1 to {MAX_PROMPT_ID} of a-z, 0-9 and inner `-`"),
                Some("e.g. `id: consent-four-items`"),
            );
            return None;
        }
        Some(id)
    });
    let ask = map.get("ask").and_then(|n| {
        let texts = n.map(OPERATOR_LANGUAGES)?;
        texts.require_all(OPERATOR_LANGUAGES);
        let text = |lang: &str| {
            let n = texts.get(lang)?;
            let t = n.string()?;
            if t.trim().is_empty() || t.len() > MAX_OPERATOR_TEXT {
                n.report(
                    &format!("a prompt's text is 1 to {MAX_OPERATOR_TEXT} bytes"),
                    None,
                );
                return None;
            }
            Some(t)
        };
        Some((text("ja"), text("en")))
    });
    let given: Vec<&str> = OPERATOR_ANSWER_KINDS
        .iter()
        .copied()
        .filter(|k| map.get(k).is_some())
        .collect();
    if given.len() != 1 {
        node.report(
            &format!(
                "an operator step asks for exactly one kind of answer, this one gives {}{}",
                given.len(),
                match given.is_empty() {
                    true => String::new(),
                    false => format!(": {}", given.join(", ")),
                }
            ),
            Some(&format!("one of: {}", OPERATOR_ANSWER_KINDS.join(", "))),
        );
        return None;
    }
    let meaning = |n: Node<'_, '_>| n.choice(OPERATOR_MEANINGS);
    let answer = match given[0] {
        "confirm" => {
            let answers = map.get("confirm")?.map(CONFIRM_ANSWERS)?;
            answers.require_all(CONFIRM_ANSWERS);
            let yes = answers.get("yes").and_then(meaning);
            let no = answers.get("no").and_then(meaning);
            OperatorAnswerKind::Confirm { yes: yes?, no: no? }
        }
        "choose" => OperatorAnswerKind::Choose(choices(map.get("choose")?)?),
        _ => OperatorAnswerKind::Text(meaning(map.get("text")?)?),
    };
    let (ja, en) = ask?;
    Some(OperatorPrompt {
        id: id?,
        ja: ja?,
        en: en?,
        answer,
    })
}

/// `choose: { LABEL: MEANING, ... }`: 2 to [`MAX_OPERATOR_CHOICES`] distinct labels.
fn choices(node: Node<'_, '_>) -> Option<Vec<(String, OperatorMeaning)>> {
    let saphyr::YamlData::Mapping(mapping) = &node.yaml.data else {
        node.report(
            "expected a mapping of answers to what each means",
            Some("e.g. `choose: { \"four items\": continue, fewer: fail }`"),
        );
        return None;
    };
    if !(2..=MAX_OPERATOR_CHOICES).contains(&mapping.len()) {
        node.report(
            &format!("`choose` offers 2 to {MAX_OPERATOR_CHOICES} answers"),
            None,
        );
        return None;
    }
    let mut out: Vec<(String, OperatorMeaning)> = Vec::new();
    let mut ok = true;
    for (k, v) in mapping.iter() {
        let (key, value) = (node.doc.node(k), node.doc.node(v));
        let label = key.string().filter(|l| {
            let fits = !l.trim().is_empty() && l.len() <= MAX_CHOICE_LABEL;
            if !fits {
                key.report(
                    &format!("an answer's label is 1 to {MAX_CHOICE_LABEL} bytes"),
                    None,
                );
            }
            fits
        });
        match (label, value.choice(OPERATOR_MEANINGS)) {
            (Some(label), Some(m)) if !out.iter().any(|(l, _)| *l == label) => out.push((label, m)),
            (Some(label), Some(_)) => {
                key.report(&format!("the answer `{label}` is offered twice"), None);
                ok = false;
            }
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

/// A wait takes exactly its duration, and every step has a deadline (its own `deadline:`,
/// or the case's `step_deadline`): a wait longer than its deadline could only end the case
/// in `error`, so it is refused before anything runs.
fn wait_fits(
    node: &Node<'_, '_>,
    wait: Duration,
    own: Option<Duration>,
    step_deadline: Option<Duration>,
) -> Option<()> {
    let (limit, hint) = match (own, step_deadline) {
        (Some(own), _) => (
            own,
            format!("a wait lasts exactly as long as it says: shorten it, or raise its `deadline` to {wait:?} or more"),
        ),
        (None, Some(default)) => (
            default,
            format!(
                "without a `deadline` of its own the step has `step_deadline` ({default:?}): \
                 write `{{ wait: {wait:?}, deadline: {wait:?} }}` or raise `step_deadline`"
            ),
        ),
        (None, None) => return Some(()),
    };
    if wait <= limit {
        return Some(());
    }
    node.report(
        &format!("this wait of {wait:?} is longer than its deadline of {limit:?}"),
        Some(&hint),
    );
    None
}

/// A document name, or a dated document: `{ qualification_certificate: { valid_until: D } }`.
fn shown(node: &Node<'_, '_>) -> Option<Shown> {
    let saphyr::YamlData::Mapping(entries) = &node.yaml.data else {
        return node.choice(DOCUMENTS_SHOWN);
    };
    let dated: Vec<&str> = DATED_DOCUMENTS.iter().map(|(n, _)| *n).collect();
    let map = node.map(&dated)?;
    if entries.len() != 1 {
        node.report(
            "one dated document per item",
            Some("e.g. `{ qualification_certificate: { valid_until: 2026-03-31 } }`"),
        );
        return None;
    }
    let (dated_form, dates) = DATED_DOCUMENTS
        .iter()
        .find_map(|(name, form)| Some((form, map.get(name)?)))?;
    let valid_until = dates
        .map(SHOWN_DOCUMENT_KEYS)
        .and_then(|m| m.required("valid_until"))
        .and_then(|d| d.date())?;
    Some(dated_form(valid_until))
}

fn expect(node: Node<'_, '_>) -> Option<Expect> {
    let map = node.map(EXPECT_KEYS)?;
    // A list of screen names of the vocabulary (a name outside it is a typo: it could never
    // be shown, so an expectation on it could never be judged).
    let screen_list = |key: &str| match map.get(key) {
        None => Some(None),
        Some(n) => n
            .list()
            .and_then(|l| l.iter().map(screen_name).collect::<Option<Vec<_>>>())
            .map(Some),
    };
    let face = match map.get("face") {
        None => Some(None),
        Some(n) => n.choice(FACE_EXPECTS).map(Some),
    };
    let route = match map.get("route") {
        Some(n) => Some(Some(n.choice(ROUTES)?)),
        None => Some(None),
    };
    let share = match map.get("share") {
        Some(n) => Some(Some(n.choice(SHARES)?)),
        None => Some(None),
    };
    let limit_applied = map
        .get("limit_applied")
        .map(|n| n.boolean().map(Some))
        .unwrap_or(Some(None));
    let data_only = map
        .get("qualification_data_only")
        .map(|n| n.boolean().map(Some))
        .unwrap_or(Some(None));
    let screens = screen_list("screens");
    let last_verify_sw = match map.get("last_verify_sw") {
        None => Some(None),
        Some(n) => status_word(&n).map(Some),
    };
    let verify_sws = match map.get("verify_sws") {
        None => Some(None),
        Some(n) => n
            .list()
            .and_then(|l| l.iter().map(status_word).collect::<Option<Vec<_>>>())
            .map(Some),
    };
    let screens_exactly = screen_list("screens_exactly");
    let refused = match map.get("refused") {
        None => Some(Vec::new()),
        Some(n) => n.list().and_then(|l| {
            l.iter()
                .map(|s| s.choice(&refusable_steps()).map(str::to_owned))
                .collect::<Option<Vec<_>>>()
        }),
    };
    let screens_absent = screen_list("screens_absent");
    let payment = match map.get("payment") {
        None => Some(None),
        Some(n) => n.integer(YEN).map(|v| Some(v as u64)),
    };
    let claim_insurer = match map.get("claim_insurer") {
        None => Some(None),
        Some(n) if n.text().as_deref() == Some(NO_CLAIM) => Some(Some(ClaimInsurer::NoClaim)),
        Some(n) => n
            .digits(INSURER_NUMBER_DIGITS, "the insurer number (or `none`)")
            .map(|d| Some(ClaimInsurer::Number(d))),
    };
    let latency = match map.get("latency") {
        None => Some(Vec::new()),
        Some(n) => latency(n),
    };
    Some(Expect {
        route: route?,
        share_percent: share?,
        limit_applied: limit_applied?,
        qualification_data_only: data_only?,
        screens: screens?.unwrap_or_default(),
        screens_exactly: screens_exactly?,
        screens_absent: screens_absent?.unwrap_or_default(),
        last_verify_sw: last_verify_sw?,
        verify_sws: verify_sws?,
        refused: refused?,
        payment_yen: payment?,
        claim_insurer: claim_insurer?,
        latency: latency?,
        face: face?,
        origin: Some(origin(&node)),
    })
}

/// A screen name of the vocabulary ([`is_screen`]).
fn screen_name(n: &Node<'_, '_>) -> Option<String> {
    let name = n.string()?;
    if is_screen(&name) {
        return Some(name);
    }
    let hint = match crate::yaml::closest(&name, SCREENS) {
        Some(close) => format!("did you mean `{close}`? (or desk_<route>)"),
        None => format!("one of {} or desk_<route>", SCREENS.join(", ")),
    };
    n.report(&format!("unknown screen `{name}`"), Some(&hint));
    None
}

/// A status word in hex, e.g. `"63C2"`.
fn status_word(n: &Node<'_, '_>) -> Option<u16> {
    let text = n.string()?;
    match u16::from_str_radix(&text, 16) {
        Ok(v) if text.len() == 4 => Some(v),
        _ => {
            n.report("expected a status word in hex, e.g. \"63C2\"", None);
            None
        }
    }
}

/// `latency: { enter_pin: { max: 2s, marginal: 1s }, total: { max: 10s } }`.
fn latency(node: Node<'_, '_>) -> Option<Vec<LatencyLimit>> {
    let saphyr::YamlData::Mapping(mapping) = &node.yaml.data else {
        node.report(
            "expected a mapping of step names (or `total`) to limits",
            None,
        );
        return None;
    };
    let measures = latency_measures();
    let mut out = Vec::new();
    let mut ok = true;
    for (k, v) in mapping.iter() {
        let key = node.doc.node(k);
        let value = node.doc.node(v);
        let Some(name) = key.string() else {
            ok = false;
            continue;
        };
        if !measures.contains(&name.as_str()) {
            let hint = crate::yaml::closest(&name, &measures)
                .map(|c| format!("did you mean `{c}`?"))
                .unwrap_or_else(|| format!("one of: {}", measures.join(", ")));
            key.report(&format!("nothing called `{name}` is measured"), Some(&hint));
            ok = false;
            continue;
        }
        let Some(limits) = value.map(LATENCY_LIMIT_KEYS) else {
            ok = false;
            continue;
        };
        limits.require_all(REQUIRED_LATENCY_LIMIT_KEYS);
        let max = limits.get("max").and_then(|n| n.duration());
        let marginal = match limits.get("marginal") {
            Some(n) => n.duration().map(Some),
            None => Some(None),
        };
        match (max, marginal) {
            (Some(max), Some(marginal)) => {
                if marginal.is_some_and(|m| m > max) {
                    value.report("the marginal band must start below `max`", None);
                    ok = false;
                    continue;
                }
                out.push(LatencyLimit {
                    measure: name,
                    max,
                    marginal,
                    origin: origin(&key),
                });
            }
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MATRIX: &str = "title: t\ncard: none\ndate: ${date}\nvisit: ${visit}\nmatrix:\n  date: [\"2025-12-01\", \"2025-12-02\"]\n  visit: [first, return]\nsteps:\n  - show: nothing\n";

    fn ids(cases: &[Case]) -> Vec<&str> {
        cases.iter().map(|c| c.id.as_str()).collect()
    }

    #[test]
    fn a_matrix_expands_into_stable_ids() {
        let cases = parse_cases(Path::new("scenarios/reception/m.yaml"), MATRIX, &[]).unwrap();
        assert_eq!(
            ids(&cases),
            [
                "reception.m[date=2025-12-01,visit=first]",
                "reception.m[date=2025-12-01,visit=return]",
                "reception.m[date=2025-12-02,visit=first]",
                "reception.m[date=2025-12-02,visit=return]",
            ]
        );
        assert_eq!(cases[3].visit, Visit::Return);
    }

    #[test]
    fn a_var_from_the_command_line_pins_a_matrix_variable() {
        let pinned = [("date".to_owned(), "2026-01-05".to_owned())];
        let cases = parse_cases(Path::new("scenarios/reception/m.yaml"), MATRIX, &pinned).unwrap();
        assert_eq!(
            ids(&cases),
            [
                "reception.m[date=2026-01-05,visit=first]",
                "reception.m[date=2026-01-05,visit=return]",
            ]
        );
        assert!(cases
            .iter()
            .all(|c| c.date == time::macros::date!(2026 - 01 - 05)));
    }

    fn errors(text: &str) -> Vec<String> {
        match parse_cases(Path::new("t.yaml"), text, &[]) {
            Ok(cases) => panic!("accepted: {} case(s)", cases.len()),
            Err(d) => d.0.iter().map(|d| d.short()).collect(),
        }
    }

    const BASE: &str = "title: t\ncard: none\ndate: 2025-11-04\nsteps:\n  - show: nothing\n";

    #[test]
    fn matrix_values_may_be_plain_numbers_and_booleans() {
        let text = format!("{BASE}matrix:\n  n: [1, 2.5, true]\nvars: {{ m: 7 }}\n");
        let cases = parse_cases(Path::new("t.yaml"), &text, &[]).unwrap();
        assert_eq!(ids(&cases), ["t[n=1]", "t[n=2.5]", "t[n=true]"]);
        let empty = format!("{BASE}matrix:\n  n: []\n");
        assert_eq!(
            errors(&empty),
            ["t.yaml:7:6: a matrix variable needs at least one value"]
        );
        let nested = format!("{BASE}matrix:\n  n: [1, [2]]\n");
        assert_eq!(
            errors(&nested),
            ["t.yaml:7:10: expected a value (text, a number or true/false), found a list"]
        );
    }

    /// A matrix with `n` variables of `each` values.
    fn matrix(n: usize, each: usize) -> String {
        let values: Vec<String> = (0..each).map(|i| i.to_string()).collect();
        let mut text = format!("{BASE}matrix:\n");
        for v in 0..n {
            text.push_str(&format!("  v{v}: [{}]\n", values.join(", ")));
        }
        text
    }

    #[test]
    fn a_matrix_over_the_limit_is_refused_before_it_is_expanded() {
        // 50^3 = 125,000 cases, just over the default limit.
        assert_eq!(
            errors(&matrix(3, 50)),
            ["t.yaml:7:3: this matrix makes 125000 cases (v0: 50 × v1: 50 × v2: 50), more than the limit of 100000"]
        );
        // 10^20 does not fit in 64 bits: refused all the same, at once.
        let err = errors(&matrix(20, 10));
        assert!(
            err[0].contains("makes more than 18446744073709551615 cases"),
            "{err:?}"
        );
        // Pinning variables with --var takes them out of the product.
        let pins: Vec<(String, String)> = ["v0", "v1"]
            .iter()
            .map(|v| (v.to_string(), "7".to_string()))
            .collect();
        let cases = parse_cases(Path::new("t.yaml"), &matrix(3, 50), &pins).unwrap();
        assert_eq!(cases.len(), 50);
        assert_eq!(cases[0].id, "t[v0=7,v1=7,v2=0]");
    }

    #[test]
    fn the_limit_is_checked_against_the_exact_product() {
        let text = matrix(2, 3);
        let doc = Document::new(Path::new("t.yaml"), &text);
        let root = doc.parse(&text).unwrap();
        let map = doc.node(&root).map(SCENARIO_KEYS).unwrap();
        let node = map.get("matrix");
        assert_eq!(read_matrix(node, &[], Ok(9)).map(|c| c.len()), Some(9));
        assert!(!doc.has_errors());
        assert_eq!(read_matrix(node, &[], Ok(8)), None);
        assert!(doc.has_errors());
    }

    proptest::proptest! {
        /// The product is exact while it fits in 64 bits, and `None` past it.
        #[test]
        fn matrix_size_is_the_checked_product(lengths in proptest::collection::vec(0usize..100_000, 0..8)) {
            let exact = lengths.iter().try_fold(1u128, |p, n| p.checked_mul(*n as u128));
            let expected = exact.and_then(|p| u64::try_from(p).ok());
            proptest::prop_assert_eq!(matrix_size(lengths.iter().copied()), expected);
        }
    }

    #[test]
    fn a_case_knows_the_variables_its_file_declares_and_uses() {
        let text = "title: t\ncard: none\ndate: ${day}\nvars: { pin: correct }\nmatrix:\n  visit: [first]\nvisit: ${visit}\nsteps:\n  - show: nothing\n";
        let day = [("day".to_owned(), "2025-11-04".to_owned())];
        let cases = parse_cases(Path::new("t.yaml"), text, &day).unwrap();
        assert_eq!(cases[0].variables, ["day", "pin", "visit"]);
    }

    #[test]
    fn dates_outside_1900_to_2100_are_refused_at_their_place() {
        let far = BASE.replace("2025-11-04", "9999-11-04");
        assert_eq!(
            errors(&far),
            ["t.yaml:3:7: the year 9999 is out of range (1900 to 2100)"]
        );
        let history =
            format!("{BASE}consent_history:\n  - {{ facility: a, on: 0000-01-06, choice: all }}\n");
        assert_eq!(
            errors(&history),
            ["t.yaml:7:24: the year 0 is out of range (1900 to 2100)"]
        );
        let negative = BASE.replace("2025-11-04", "-2025-11-04");
        assert_eq!(
            errors(&negative),
            ["t.yaml:3:7: expected a date (YYYY-MM-DD), found a string"]
        );
        let cases = parse_cases(Path::new("t.yaml"), BASE, &[]).unwrap();
        let at = cases[0].date_at.as_ref().unwrap();
        assert_eq!((at.line, at.column, at.width), (3, 7, 10));
        assert_eq!(at.source_line, "date: 2025-11-04");
    }

    #[test]
    fn a_wait_must_fit_in_its_deadline() {
        let steps = |s: &str| BASE.replace("  - show: nothing\n", s);
        assert_eq!(
            errors(&steps("  - { wait: 3s, deadline: 1s }\n")),
            ["t.yaml:5:13: this wait of 3s is longer than its deadline of 1s"]
        );
        // Without a deadline of its own, the case's step_deadline is the wait's deadline.
        assert_eq!(
            errors(&steps("  - wait: 11s\n")),
            ["t.yaml:5:11: this wait of 11s is longer than its deadline of 10s"]
        );
        let slow = format!("{}step_deadline: 20s\n", steps("  - wait: 11s\n"));
        let cases = parse_cases(Path::new("t.yaml"), &slow, &[]).unwrap();
        assert_eq!(
            cases[0].steps[0].kind,
            StepKind::Wait(Duration::from_secs(11))
        );
        let exact = steps("  - { wait: 1s, deadline: 1s }\n");
        parse_cases(Path::new("t.yaml"), &exact, &[]).unwrap();
    }

    #[test]
    fn an_operator_step_has_a_persons_deadline_and_an_id_of_its_own() {
        let steps = |s: &str| BASE.replace("  - show: nothing\n", s);
        let ask = "{ id: p, ask: { ja: 質問, en: Question? }, choose: { a: continue, b: inconc } }";
        let cases = parse_cases(
            Path::new("t.yaml"),
            &steps(&format!("  - operator: {ask}\n")),
            &[],
        )
        .unwrap();
        let step = &cases[0].steps[0];
        // Not the scenario's step_deadline: a person needs longer than a reader.
        assert_eq!(step.deadline, Some(OPERATOR_DEADLINE));
        let StepKind::Operator(prompt) = &step.kind else {
            panic!("{:?}", step.kind)
        };
        assert_eq!(
            prompt.answer,
            OperatorAnswerKind::Choose(vec![
                ("a".into(), OperatorMeaning::Continue),
                ("b".into(), OperatorMeaning::Inconc)
            ])
        );
        let own = steps(&format!("  - {{ operator: {ask}, deadline: 2s }}\n"));
        let cases = parse_cases(Path::new("t.yaml"), &own, &[]).unwrap();
        assert_eq!(cases[0].steps[0].deadline, Some(Duration::from_secs(2)));
        let twice = steps(&format!("  - operator: {ask}\n  - operator: {ask}\n"));
        assert_eq!(
            errors(&twice),
            ["t.yaml:6:5: the prompt id `p` is used twice in this case"]
        );
    }
}
