//! The commands that run cases: `run` (scenarios), `conformance` (the APDU-level checks on
//! the cards of profiles) and `report merge`. Both runs go through the one engine, the one
//! report writer and the one summary.

use super::args::{CardArg, ConformanceArgs, ReaderArg, ReportArgs, RunArgs};
use super::{say, warn, CliError, Exit};
use crate::cards::cached_photo;
use crate::channel::guard::Policy;
use crate::engine::{CardSite, Partition, RunOptions};
use crate::scenario::suite::{self, Filter};
use crate::scenario::Case;
use reports::{CaseResult, Verdict};
use std::path::{Path, PathBuf};

pub(super) fn run_scenarios(args: RunArgs) -> Result<Exit, CliError> {
    let device_address = match &args.reader {
        ReaderArg::Virtual => None,
        ReaderArg::Dut(address) => Some(address.clone()),
    };
    let policy = Policy {
        allow_destructive: args.allow_destructive,
    };
    let cards =
        match (&args.card, &device_address) {
            // A card on the device itself is real to the harness: it attached none of it.
            (CardArg::Device, Some(_)) => CardSite::OnDevice(policy),
            (CardArg::Device, None) => {
                return Err(CliError::bad_input(
                    "--card device puts the card on a device under test: add --reader dut:…",
                ))
            }
            (CardArg::Reader(_), _) => return Err(CliError::bad_input(
                "scenarios bring their own emulated cards: use --card inprocess, pcsc or device",
            )),
            (CardArg::InProcess, Some(_)) => {
                return Err(CliError::bad_input(
                    "a device under test reads the emulated cards through pcscd: add --card pcsc \
                 (or --card device for a real card on the device)",
                ))
            }
            (CardArg::InProcess, None) => CardSite::InProcess,
            (CardArg::Pcsc, _) => CardSite::default_vpcd(),
        };
    if args.allow_destructive && args.card != CardArg::Device {
        return Err(CliError::bad_input(
            "--allow-destructive is for real cards (--card device); the emulator needs none",
        ));
    }
    let files = suite::scenario_files(&args.paths)?;
    // Everything is read and checked before the first case runs.
    let cases = suite::load_all(&files, &args.vars)?;
    let filter = Filter {
        tags: args.tags,
        id_contains: args.filter,
    };
    let loaded = cases.len();
    let cases: Vec<Case> = cases
        .into_iter()
        .filter(|c| filter.accepts(c))
        .filter(|c| args.partition.is_none_or(|p| p.contains(&c.id)))
        .collect();
    if cases.is_empty() && !args.allow_empty {
        return Err(CliError::bad_input(format!(
            "no case selected: {loaded} case(s) in {} file(s), none left after the filters \
             (--tag, --filter, --partition); --allow-empty accepts an empty run",
            files.len()
        )));
    }
    let device = match device_address {
        None => None,
        Some(address) => {
            let device = crate::dut::driver::Device::connect(address)?;
            let h = device.hello();
            warn(format!(
                "device under test: {} {} firmware {} ({})",
                h.vendor,
                h.model,
                h.firmware,
                h.capabilities
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            Some(device)
        }
    };
    say(format!(
        "running {} case(s) from {} file(s)",
        cases.len(),
        files.len()
    ));
    run_cases(cases, cards, device, args.partition, &args.reports)
}

/// `myna-hil conformance`: the conformance cases of each profile, run by the engine like
/// any other case.
pub(super) fn run_conformance(args: ConformanceArgs) -> Result<Exit, CliError> {
    let policy = Policy {
        allow_destructive: args.allow_destructive,
    };
    let cards = match args.card {
        CardArg::InProcess => CardSite::InProcess,
        CardArg::Pcsc => CardSite::default_vpcd(),
        CardArg::Reader(name) => CardSite::Reader { name, policy },
        CardArg::Device => {
            return Err(CliError::bad_input(
                "an APDU-level check needs the card within the harness's reach: \
                 --card inprocess, pcsc or pcsc:READER",
            ))
        }
    };
    if args.allow_destructive && !matches!(cards, CardSite::Reader { .. }) {
        return Err(CliError::bad_input(
            "--allow-destructive is for a card in a named reader (--card pcsc:READER); the \
             emulator needs none",
        ));
    }
    let profiles = suite::yaml_files(&args.profiles, suite::Wanted::Profiles)?;
    let cases = crate::scenario::conformance_cases(
        Path::new("conformance"),
        "conformance",
        "Card conformance",
        &["conformance".to_owned()],
        &profiles,
        args.deadline * 2,
    );
    say(format!(
        "running {} case(s) on {} card profile(s)",
        cases.len(),
        profiles.len()
    ));
    run_cases(cases, cards, None, None, &args.reports)
}

/// Loads the cases' cards, runs the cases, writes every report and prints the summary.
fn run_cases(
    cases: Vec<Case>,
    cards: CardSite,
    device: Option<std::sync::Arc<crate::dut::driver::Device>>,
    partition: Option<Partition>,
    reports: &ReportArgs,
) -> Result<Exit, CliError> {
    // Every profile is read and built before anything runs: a broken file never half-runs.
    let loaded = crate::cards::load_cards(
        cases.iter().filter_map(|c| c.card.as_deref()),
        &cached_photo,
    )?;
    std::fs::create_dir_all(&reports.out).map_err(|e| {
        CliError::bad_input(format!("cannot create {}: {e}", reports.out.display()))
    })?;
    let junit = reports
        .junit
        .clone()
        .unwrap_or_else(|| reports.out.join("junit.xml"));
    let json = reports
        .json
        .clone()
        .unwrap_or_else(|| reports.out.join("results.json"));
    let options = RunOptions {
        jobs: reports.jobs,
        cards,
        device,
        partition,
        junit: Some(junit.clone()),
        json: Some(json.clone()),
        progress: crate::engine::progress_wanted(),
    };
    let progress = options.progress;
    let results = crate::engine::run(cases, loaded, &options, move |r, done, total| {
        if progress {
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("\r\x1b[2K[{done}/{total}] ").as_bytes(),
            );
        }
        print_result(r);
    })?;
    if progress {
        let _ = std::io::Write::write_all(&mut std::io::stderr(), b"\r\x1b[2K");
    }
    let table = reports::latency::to_markdown(&reports::latency::latency_table(&results));
    let latency_path = reports.out.join("latency.md");
    if let Err(e) = common::fs::write_atomic(&latency_path, table.as_bytes()) {
        warn(format!(
            "error: cannot write {}: {e}",
            latency_path.display()
        ));
    }
    let plots = reports.out.join("latency");
    let plotted = std::fs::create_dir_all(&plots)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            reports::plots::latency_histograms(&reports::latency::latency_samples(&results), &plots)
                .map_err(|e| e.to_string())
        });
    if let Err(e) = plotted {
        warn(format!("error: latency plots in {}: {e}", plots.display()));
    }
    say(format!("\n{table}"));
    summarise(&results);
    say(format!(
        "reports: {}, {}, {}, {}/",
        junit.display(),
        json.display(),
        latency_path.display(),
        plots.display()
    ));
    Ok(verdict_exit(&results))
}

pub(super) fn merge_reports(
    shards: &[PathBuf],
    junit: Option<&Path>,
    json: Option<&Path>,
) -> Result<Exit, CliError> {
    let mut files = Vec::new();
    for s in shards {
        files.push(reports::results::ResultsFile::read(s).map_err(CliError::bad_input)?);
    }
    let merged = reports::results::merge(files).map_err(CliError::bad_input)?;
    let stamp = crate::engine::run_stamp();
    crate::engine::write_reports(junit, json, None, &merged.cases, &stamp);
    summarise(&merged.cases);
    Ok(verdict_exit(&merged.cases))
}

fn verdict_exit(results: &[CaseResult]) -> Exit {
    if results
        .iter()
        .any(|r| matches!(r.verdict, Verdict::Fail | Verdict::Error | Verdict::Inconc))
    {
        Exit::CasesFailed
    } else {
        Exit::Ok
    }
}

fn print_result(r: &CaseResult) {
    let reason = r
        .reason
        .as_deref()
        .map(|w| format!(": {w}"))
        .unwrap_or_default();
    say(format!(
        "{:<6} {} ({:.1} ms){reason}",
        r.verdict.as_str(),
        r.id,
        r.duration.as_secs_f64() * 1e3
    ));
}

fn summarise(results: &[CaseResult]) {
    let count = |v: Verdict| results.iter().filter(|r| r.verdict == v).count();
    say(format!(
        "\n{} cases: {} pass, {} fail, {} error, {} inconc, {} skip",
        results.len(),
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::Error),
        count(Verdict::Inconc),
        count(Verdict::Skip)
    ));
}
