//! Finding and loading the scenario files of a run: folders are searched recursively,
//! skipping card profiles (`cards/`) and include-only files (`_*.yaml`); every file is
//! read and checked before anything runs, and all their mistakes are reported together.

use crate::scenario::{load_cases, Case};
use crate::yaml::{Diagnostic, Diagnostics};
use std::path::{Path, PathBuf};

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

/// Loads every case of every file; all diagnostics of all files at once.
pub fn load_all(files: &[PathBuf], vars: &[(String, String)]) -> Result<Vec<Case>, Diagnostics> {
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
    if errors.is_empty() {
        Ok(cases)
    } else {
        Err(Diagnostics(errors))
    }
}
