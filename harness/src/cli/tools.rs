//! The commands that run no case: `check`, `readers`, `face compare`,
//! `serve-qualification`.

use super::args::{SchemaFormat, ServeArgs};
use super::{say, warn, CliError, Exit};
use crate::scenario::suite::{self, Wanted};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Validates scenario and profile files: every file, every mistake, nothing run. `vars`
/// are the `--var`s a run would get: each must name a variable of some scenario.
pub(super) fn check(paths: &[PathBuf], vars: &[(String, String)]) -> Result<Exit, CliError> {
    let (profiles, scenarios): (Vec<PathBuf>, Vec<PathBuf>) =
        paths.iter().cloned().partition(|p| suite::is_profile(p));
    let mut bad = 0;
    let mut checked = 0;
    let profile_files = suite::yaml_files(&profiles, Wanted::Profiles)?;
    for file in &profile_files {
        checked += 1;
        // Photos are named, not loaded: a known name is enough.
        match crate::cards::load_profile(file, &crate::cards::named_photos) {
            Ok(_) => say(format!("ok     {}", file.display())),
            Err(e) => {
                bad += 1;
                warn(format!("{e}\n"));
            }
        }
    }
    let scenario_files = suite::scenario_files(&scenarios)?;
    let mut births = BTreeMap::new();
    let mut known = BTreeSet::new();
    for file in &scenario_files {
        checked += 1;
        let loaded = crate::scenario::load_cases(file, vars).and_then(|cases| {
            suite::born_after_visit(&cases, &birth_dates(&cases, &mut births)).map(|()| cases)
        });
        match loaded {
            Ok(cases) => {
                known.extend(cases.iter().flat_map(|c| c.variables.iter().cloned()));
                say(format!(
                    "ok     {} ({} case(s))",
                    file.display(),
                    cases.len()
                ))
            }
            Err(e) => {
                bad += 1;
                warn(format!("{e}\n"));
            }
        }
    }
    if bad == 0 {
        if let Err(e) = suite::unknown_vars(vars, known.iter().map(String::as_str)) {
            bad += 1;
            warn(format!("error: {e}\n"));
        }
    }
    say(format!("{checked} file(s) checked, {bad} with errors"));
    Ok(if bad == 0 { Exit::Ok } else { Exit::BadInput })
}

/// The holder's birth date of the cards `cases` name, by path, read once each into `read`
/// (photos named, not loaded). A profile that cannot be read is left out: `check` reports
/// profiles when it is given them, and `run` refuses them before anything runs.
fn birth_dates(
    cases: &[crate::scenario::Case],
    read: &mut BTreeMap<PathBuf, Option<time::Date>>,
) -> BTreeMap<crate::cards::CardKey, time::Date> {
    let mut out = BTreeMap::new();
    for key in cases.iter().filter_map(crate::scenario::Case::card_key) {
        let born = *read.entry(key.0.clone()).or_insert_with(|| {
            crate::cards::load_profile(&key.0, &crate::cards::named_photos)
                .ok()
                .map(|p| p.holder.birth_date)
        });
        if let Some(born) = key.1.or(born) {
            out.insert(key, born);
        }
    }
    out
}

pub(super) fn schema(format: SchemaFormat) -> Result<Exit, CliError> {
    let schema = match format {
        SchemaFormat::Scenario => crate::scenario::scenario_json_schema(),
        SchemaFormat::Include => crate::scenario::scenario_include_json_schema(),
        SchemaFormat::Profile => crate::cards::profile_json_schema(),
        SchemaFormat::Ics => crate::certify::schema::ics_json_schema(),
        SchemaFormat::Plan => crate::certify::schema::plan_json_schema(),
    };
    say(serde_json::to_string_pretty(&schema).map_err(CliError::bench)?);
    Ok(Exit::Ok)
}

/// The photo table: name, whose face, SHA-256, and the cache's state of each.
pub(super) fn photos() -> Result<Exit, CliError> {
    use crate::photos::Cached;
    let rows = crate::photos::photo_rows();
    say(format!(
        "{:<26} {:<16} {:<9} sha256",
        "photo", "person", "cache"
    ));
    let mut missing = false;
    for row in &rows {
        let state = match &row.cached {
            Cached::Present(_) => "present",
            Cached::Missing(_) => "missing",
            Cached::Wrong(_) => "WRONG",
        };
        missing |= !matches!(row.cached, Cached::Present(_));
        say(format!(
            "{:<26} {:<16} {:<9} {}",
            row.name, row.person, state, row.sha256
        ));
    }
    say(format!(
        "cache: {}{}",
        crate::photos::cache_dir().join("photos").display(),
        if missing {
            " (run `bash .ci/fetch-photos` for the missing or wrong ones)"
        } else {
            ""
        }
    ));
    Ok(Exit::Ok)
}

pub(super) fn readers() -> Result<Exit, CliError> {
    let readers = crate::channel::pcsc_driver::list_readers().map_err(CliError::bench)?;
    for r in readers {
        say(r);
    }
    Ok(Exit::Ok)
}

pub(super) fn face_compare(
    a: &Path,
    b: &Path,
    enrolment: crate::face::Enrolment,
    threshold: Option<f32>,
) -> Result<Exit, CliError> {
    let compared = crate::face::compare_files(a, b, enrolment, threshold)?;
    say(compared.to_string().trim_end());
    Ok(Exit::Ok)
}

pub(super) fn serve_qualification(args: ServeArgs) -> Result<Exit, CliError> {
    use crate::qualification::{serve, InsuredRecord, ServerConfig};
    let records: Vec<InsuredRecord> = match &args.records {
        None => Vec::new(),
        Some(path) => crate::yaml::read_input(path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
            .map_err(|e| CliError::bad_input(format!("{}: {e}", path.display())))?,
    };
    let pki = card_emulator::pki::TestPki::shared().map_err(CliError::bench)?;
    let on = args.date.unwrap_or(time::macros::date!(2025 - 01 - 01));
    let crl = pki.crl_for([], on).map_err(CliError::bench)?;
    let mut config = ServerConfig::new(records, pki.ca_certificate_der().to_vec(), crl);
    config.bind = args.bind;
    config.today = args.date;
    config.faults.server = args.fault;
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::bench)?;
    let served = runtime.block_on(async {
        // Register for SIGTERM before the address is printed: a caller may stop us at once.
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| e.to_string())?;
        let stop = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        serve(config, stop).await.map_err(|e| e.to_string())
    });
    served.map(|()| Exit::Ok).map_err(CliError::bench)
}

/// `rules explain`: the chain of rules of every selected case, loaded as `run` loads them.
pub(super) fn explain(args: super::args::RulesExplainArgs) -> Result<Exit, CliError> {
    let files = suite::scenario_files(&args.paths)?;
    let filter = args.selection.filter();
    let cases: Vec<_> = suite::load_all(&files, &args.selection.vars)?
        .into_iter()
        .filter(|c| filter.accepts(c) && c.kind == crate::scenario::CaseKind::Reception)
        .collect();
    if cases.is_empty() {
        return Err(CliError::bad_input(format!(
            "no reception case in {} file(s) after the filters",
            files.len()
        )));
    }
    let cards = crate::cards::load_cards(
        cases.iter().filter_map(crate::scenario::Case::card_key),
        &crate::cards::cached_photo,
    )?;
    suite::born_after_visit(&cases, &crate::cards::birth_dates(&cards))?;
    for case in &cases {
        let card = case.card_key().and_then(|k| cards.get(&k));
        say(crate::engine::explain::explain(case, card.map(|c| &**c)));
    }
    Ok(Exit::Ok)
}
