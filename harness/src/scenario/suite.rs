//! Finding and loading the scenario files of a run: folders are searched recursively,
//! skipping card profiles (`cards/`) and include-only files (`_*.yaml`); every file is
//! read and checked before anything runs, and all their mistakes are reported together.

use crate::scenario::{load_cases, Case};
use crate::yaml::{Diagnostic, Diagnostics};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use time::Date;

/// True for files that hold card profiles rather than scenarios.
pub fn is_profile(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "cards")
}

/// What a search for YAML files looks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wanted {
    /// Scenario files: folders searched recursively, skipping card-profile folders
    /// (`cards/`), hidden folders and include-only files (`_*.yaml`).
    Scenarios,
    /// Card profiles: the YAML files directly in each folder (`scenarios/cards` without its
    /// `faults/`).
    Profiles,
}

/// Why the files of a run could not be found: always the input's fault.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("{0}: no such file or folder")]
    NotFound(PathBuf),
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl crate::failure::Classified for DiscoveryError {
    fn class(&self) -> crate::failure::FailureClass {
        crate::failure::FailureClass::Input
    }
}

/// The one discovery of YAML files: the files under `paths` (a file named is taken as
/// given), sorted, without duplicates.
pub fn yaml_files(paths: &[PathBuf], wanted: Wanted) -> Result<Vec<PathBuf>, DiscoveryError> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, wanted, &mut out).map_err(|source| DiscoveryError::Read {
                path: path.clone(),
                source,
            })?;
        } else if path.exists() {
            out.push(path.clone());
        } else {
            return Err(DiscoveryError::NotFound(path.clone()));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The scenario files under `paths`.
pub fn scenario_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, DiscoveryError> {
    yaml_files(paths, Wanted::Scenarios)
}

fn walk(dir: &Path, wanted: Wanted, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.is_dir() {
            if wanted == Wanted::Scenarios && name != "cards" && !name.starts_with('.') {
                walk(&path, wanted, out)?;
            }
        } else if (name.ends_with(".yaml") || name.ends_with(".yml"))
            && !(wanted == Wanted::Scenarios && name.starts_with('_'))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// Which cases to run.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Every one of these tags.
    pub tags: Vec<String>,
    /// A substring of the case id.
    pub id_contains: Option<String>,
}

impl Filter {
    pub fn accepts(&self, case: &Case) -> bool {
        self.tags.iter().all(|t| case.tags.contains(t))
            && self
                .id_contains
                .as_ref()
                .is_none_or(|s| case.id.contains(s.as_str()))
    }
}

/// Why the cases of a run could not be loaded: mistakes in the files, or a `--var` that no
/// file knows (always the input's fault).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Files(#[from] Diagnostics),
    #[error(transparent)]
    UnknownVar(#[from] UnknownVar),
}

impl crate::failure::Classified for LoadError {
    fn class(&self) -> crate::failure::FailureClass {
        crate::failure::FailureClass::Input
    }

    fn rendered(&self) -> bool {
        matches!(self, LoadError::Files(_))
    }
}

/// A `--var` whose name no selected scenario file declares or uses: a mistyped name would
/// otherwise be ignored, and the run would test the files' own values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("--var {name}: no selected scenario has a variable `{name}` ({})", known_hint(.name, .known))]
pub struct UnknownVar {
    pub name: String,
    /// The variables the selected files know.
    pub known: Vec<String>,
}

fn known_hint(name: &str, known: &[String]) -> String {
    let names: Vec<&str> = known.iter().map(String::as_str).collect();
    match crate::yaml::closest(name, &names) {
        _ if names.is_empty() => "the selected files have no variables".to_owned(),
        Some(c) => format!("did you mean `{c}`? known: {}", names.join(", ")),
        None => format!("known: {}", names.join(", ")),
    }
}

/// The first of `overrides` (`--var`s) whose name is not `known` (the
/// [`Case::variables`] of the selected files).
pub fn unknown_vars<'a>(
    overrides: &[(String, String)],
    known: impl IntoIterator<Item = &'a str>,
) -> Result<(), UnknownVar> {
    let known: std::collections::BTreeSet<&str> = known.into_iter().collect();
    match overrides
        .iter()
        .find(|(name, _)| !known.contains(name.as_str()))
    {
        None => Ok(()),
        Some((name, _)) => Err(UnknownVar {
            name: name.clone(),
            known: known.into_iter().map(str::to_owned).collect(),
        }),
    }
}

/// Cases whose patient is born after the visit: the holder's birth date is the scenario's
/// `birth_date`, else the card profile's (`birth_dates`, by card key, from the loaded
/// cards), the visit date the scenario's. Such a case has no meaning (an age below zero), so
/// it is refused before anything runs, at the scenario's `birth_date:` or `date:`; each
/// distinct mistake once.
pub fn born_after_visit(
    cases: &[Case],
    birth_dates: &BTreeMap<(PathBuf, Option<Date>), Date>,
) -> Result<(), Diagnostics> {
    let mut out: Vec<Diagnostic> = Vec::new();
    for case in cases {
        let Some(at) = &case.date_at else {
            continue;
        };
        let key = case.card_key();
        let born = case
            .patient
            .birth_date
            .or(key.as_ref().and_then(|k| birth_dates.get(k)).copied());
        let Some(born) = born.filter(|born| *born > case.date) else {
            continue;
        };
        let (at, hint) = match &case.patient.birth_date_at {
            Some(b) if case.patient.birth_date.is_some() => (
                b,
                "the scenario's `birth_date` must be on or before the visit date",
            ),
            _ => (
                at,
                "the holder's `birth_date` in the card profile must be on or before the visit date",
            ),
        };
        let d = at.diagnostic(
            &format!(
                "the visit on {} is before the patient's birth on {born} ({})",
                case.date,
                key.as_ref()
                    .map_or("no card".into(), |k| k.0.display().to_string())
            ),
            Some(hint),
        );
        if !out.contains(&d) {
            out.push(d);
        }
    }
    if out.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(out))
    }
}

/// Loads every case of every file; all diagnostics of all files at once; then every
/// `--var` must name a variable of some file.
pub fn load_all(files: &[PathBuf], vars: &[(String, String)]) -> Result<Vec<Case>, LoadError> {
    let mut cases = Vec::new();
    let mut errors: Vec<Diagnostic> = Vec::new();
    for file in files {
        match load_cases(file, vars) {
            Ok(c) => cases.extend(c),
            Err(d) => errors.extend(d.0),
        }
    }
    let mut seen = std::collections::HashSet::new();
    for case in &cases {
        if !seen.insert(case.id.clone()) {
            errors.push(Diagnostic {
                file: case.file.clone(),
                line: 1,
                column: 1,
                width: 1,
                message: format!("two cases have the id `{}`", case.id),
                hint: Some("rename one of the files, or add a matrix variable".into()),
                source_line: String::new(),
            });
        }
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors).into());
    }
    unknown_vars(
        vars,
        cases
            .iter()
            .flat_map(|c| c.variables.iter().map(String::as_str)),
    )?;
    Ok(cases)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cases(text: &str) -> Vec<Case> {
        crate::scenario::parse_cases(Path::new("s.yaml"), text, &[]).unwrap()
    }

    #[test]
    fn a_var_must_name_a_variable_of_some_case() {
        let vars = |names: &[&str]| -> Vec<(String, String)> {
            names.iter().map(|n| (n.to_string(), "x".into())).collect()
        };
        let known = ["date", "visit"];
        assert_eq!(unknown_vars(&vars(&["visit"]), known), Ok(()));
        let err = unknown_vars(&vars(&["visit", "dtae"]), known).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--var dtae: no selected scenario has a variable `dtae` (did you mean `date`? known: \
             date, visit)"
        );
        let err = unknown_vars(&vars(&["x"]), []).unwrap_err();
        assert!(err
            .to_string()
            .ends_with("(the selected files have no variables)"));
    }

    #[test]
    fn a_birth_after_the_visit_is_reported_once_at_the_date() {
        let card = Path::new("../cards/valid.yaml");
        let text = "title: t\ncard: none\ndate: ${d}\nmatrix:\n  d: [\"2025-11-04\", \"2030-01-01\"]\n  v: [first, return]\nsteps:\n  - show: nothing\n";
        let mut all = cases(text);
        for case in &mut all {
            case.card = Some(card.to_path_buf());
        }
        let born = |d: Date| BTreeMap::from([((card.to_path_buf(), None), d)]);
        // The scenario's own birth date wins over the profile's, and is reported at itself.
        let mut own = all.clone();
        for case in &mut own {
            case.patient.birth_date = Some(time::macros::date!(2027 - 01 - 01));
            case.patient.birth_date_at = case.date_at.clone();
        }
        let err = born_after_visit(&own, &born(time::macros::date!(1980 - 01 - 01))).unwrap_err();
        assert!(err.0[0]
            .short()
            .contains("before the patient's birth on 2027-01-01"));
        // Born on the day of the visit: a newborn, fine.
        assert_eq!(
            born_after_visit(&all, &born(time::macros::date!(2025 - 11 - 04))),
            Ok(())
        );
        let err = born_after_visit(&all, &born(time::macros::date!(2026 - 01 - 01))).unwrap_err();
        let shorts: Vec<String> = err.0.iter().map(|d| d.short()).collect();
        assert_eq!(
            shorts,
            [
                "s.yaml:3:7: the visit on 2025-11-04 is before the patient's birth on 2026-01-01 \
              (../cards/valid.yaml)"
            ]
        );
        assert_eq!(err.0[0].source_line, "date: ${d}");
        // A card the map does not know (not loaded) is not judged.
        assert_eq!(born_after_visit(&all, &BTreeMap::new()), Ok(()));
    }
}
