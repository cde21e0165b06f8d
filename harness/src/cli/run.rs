//! The commands that run cases: `run` (scenarios), `conformance` (the APDU-level checks on
//! the cards of profiles) and `report merge`. Both runs go through the one engine, the one
//! report writer and the one summary.

use super::args::{CardArg, ConformanceArgs, ReaderArg, ReportArgs, RunArgs};
use super::interrupt;
use super::{say, warn, CliError, Exit};
use crate::cards::cached_photo;
use crate::channel::guard::Policy;
use crate::engine::{CardSite, Partition, RunOptions};
use crate::scenario::suite;
use crate::scenario::Case;
use reports::cases::{Cases, Tally};
use reports::junit::RunStamp;
use reports::log::{LogWriter, RunHeader, RunLog};
use reports::set::ReportPaths;
use reports::CaseResult;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub(super) fn run_scenarios(args: RunArgs) -> Result<Exit, CliError> {
    let addresses = device_addresses(&args.reader)?;
    let cards = card_site(&args.card, !addresses.is_empty(), args.allow_destructive)?;
    let files = suite::scenario_files(&args.paths)?;
    // Everything is read and checked before the first case runs.
    let cases = suite::load_all(&files, &args.selection.vars)?;
    let filter = args.selection.filter();
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
    let devices = addresses
        .into_iter()
        .map(connect_device)
        .collect::<Result<Vec<_>, _>>()?;
    // Operator steps need someone to answer them (perhaps on the devices' test UI), known
    // before any case runs.
    let people = super::operator::desk_for(&cases, &args.operator, &devices)?;
    say(format!(
        "running {} case(s) from {} file(s){}",
        cases.len(),
        files.len(),
        match devices.len() {
            0 | 1 => String::new(),
            n => format!(" on {n} devices"),
        }
    ));
    run_cases(
        cases,
        cards,
        devices,
        args.partition,
        &args.reports,
        Some(people),
    )
}

/// The devices of `--reader` (repeated for a pool): none for `virtual`, which stands alone;
/// each address once.
fn device_addresses(readers: &[ReaderArg]) -> Result<Vec<crate::dut::link::Address>, CliError> {
    let mut addresses = Vec::new();
    for reader in readers {
        match reader {
            ReaderArg::Virtual if readers.len() == 1 => {}
            ReaderArg::Virtual => {
                return Err(CliError::bad_input(
                    "--reader virtual stands alone: repeat --reader only for devices (dut:…)",
                ))
            }
            ReaderArg::Dut(address) if addresses.contains(address) => {
                return Err(CliError::bad_input(
                    "a device is given twice in --reader: each device serves one case at a time",
                ))
            }
            ReaderArg::Dut(address) => addresses.push(address.clone()),
        }
    }
    Ok(addresses)
}

/// Connects to the device under test and says who it is.
pub(super) fn connect_device(
    address: crate::dut::link::Address,
) -> Result<Arc<crate::dut::driver::Device>, CliError> {
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
    Ok(device)
}

/// Where a run's cards go, from `--card` (and whether a device under test reads them).
pub(super) fn card_site(
    card: &CardArg,
    device: bool,
    allow_destructive: bool,
) -> Result<CardSite, CliError> {
    let policy = Policy { allow_destructive };
    let cards =
        match (card, device) {
            // A card on the device itself is real to the harness: it attached none of it.
            (CardArg::Device, true) => CardSite::OnDevice(policy),
            (CardArg::Device, false) => {
                return Err(CliError::bad_input(
                    "--card device puts the card on a device under test: add --reader dut:…",
                ))
            }
            (CardArg::Reader(_), _) => return Err(CliError::bad_input(
                "scenarios bring their own emulated cards: use --card inprocess, pcsc or device",
            )),
            (CardArg::InProcess, true) => {
                return Err(CliError::bad_input(
                    "a device under test reads the emulated cards through pcscd: add --card pcsc \
                 (or --card device for a real card on the device)",
                ))
            }
            (CardArg::InProcess, false) => CardSite::InProcess,
            (CardArg::Pcsc, _) => CardSite::default_vpcd(),
        };
    if allow_destructive && *card != CardArg::Device {
        return Err(CliError::bad_input(
            "--allow-destructive is for real cards (--card device); the emulator needs none",
        ));
    }
    Ok(cards)
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
    run_cases(cases, cards, Vec::new(), None, &args.reports, None)
}

/// Loads the cases' cards, runs the cases, writes every report and prints the summary.
///
/// The run log is the record: each finished case is appended to it; the other reports are
/// written from it at the end (also after an interrupt), the same way `report rebuild` does.
pub(super) fn run_cases(
    cases: Vec<Case>,
    cards: CardSite,
    devices: Vec<Arc<crate::dut::driver::Device>>,
    partition: Option<Partition>,
    reports: &ReportArgs,
    people: Option<super::operator::People>,
) -> Result<Exit, CliError> {
    // Every profile is read and built before anything runs: a broken file never half-runs.
    let loaded = crate::cards::load_cards(cases.iter().filter_map(Case::card_key), &cached_photo)?;
    suite::born_after_visit(&cases, &crate::cards::birth_dates(&loaded))?;
    // Every output is checked before the first case: a run never finds out at the end
    // that its results have nowhere to go.
    let paths = ReportPaths::in_folder(
        &reports.out,
        reports.junit.as_deref(),
        reports.json.as_deref(),
    );
    paths.prepare().map_err(CliError::bad_input)?;
    let header = RunHeader {
        log_format: reports::log::LOG_FORMAT,
        tool: format!("myna-hil {}", super::version()),
        partition: partition.map(|p| format!("{}/{}", p.index, p.count)),
        started: crate::units::now_rfc3339(),
        hostname: hostname(),
        selected: cases.iter().map(crate::engine::planned).collect(),
    };
    let log = open_log(&paths.log)?;
    let writer = LogWriter::start(log, &header).map_err(|e| unwritten(&paths.log, e))?;
    remove_stale(&paths);

    // The live view, when asked for: up before the first case, down after the reports.
    let live = match &people {
        Some(p) => {
            let title = format!(
                "{} case(s), reports in {}",
                cases.len(),
                reports.out.display()
            );
            super::operator::serve(p, &title, &cases)?
        }
        None => None,
    };
    let hub = live.as_ref().map(|(hub, _)| hub.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let signals = interrupt::watch(stop.clone());
    let sink = Arc::new(Sink {
        writer: Mutex::new(Some(writer)),
        failure: Mutex::new(None),
        stop: stop.clone(),
        progress: crate::engine::progress_wanted(),
        hub: hub.clone(),
    });
    let options = RunOptions {
        jobs: reports.jobs,
        cards,
        devices,
        stop,
        desk: people.map(|p| p.desk),
        events: hub.clone().map(|hub| {
            Arc::new(move |e: &crate::engine::RunEvent| hub.run_event(e))
                as crate::engine::RunEvents
        }),
    };
    let hook = sink.clone();
    crate::engine::run(cases, loaded, &options, move |f| hook.finished(f))?;
    if sink.progress {
        let _ = std::io::Write::write_all(&mut std::io::stderr(), b"\r\x1b[2K");
    }
    let interrupted = signals.interrupted();
    let mut failures: Vec<String> = Vec::new();
    if let Some(e) = sink.failure.lock().ok().and_then(|mut f| f.take()) {
        failures.push(e);
    }
    let writer = sink.writer.lock().ok().and_then(|mut w| w.take());
    let _lock = match writer.map(|w| w.finish(interrupted)) {
        Some(Ok(file)) => Some(file),
        Some(Err(e)) => {
            failures.push(unwritten(&paths.log, e).to_string());
            None
        }
        None => None,
    };
    // The reports come from the log, as `report rebuild` makes them.
    let run =
        RunLog::read(&paths.log).map_err(|e| CliError::Unwritten(format!("{e} (the run log)")))?;
    let tally = write_set(
        &paths,
        &run,
        header.partition.as_deref(),
        &header.stamp(),
        &mut failures,
    );
    if let Some(hub) = &hub {
        hub.ended(&tally_line(&tally));
    }
    drop(live);
    if !failures.is_empty() {
        return Err(CliError::Unwritten(failures.join("\nerror: ")));
    }
    if interrupted {
        warn("interrupted: the reports hold the finished cases; the rest are errors `not run`");
        return Ok(Exit::Interrupted);
    }
    Ok(verdict_exit(&tally))
}

/// Where finished cases go, from the engine's worker threads.
struct Sink {
    writer: Mutex<Option<LogWriter>>,
    /// The first failure to append to the log; the run stops at it.
    failure: Mutex<Option<String>>,
    stop: Arc<AtomicBool>,
    progress: bool,
    /// The live view's state, when one is served.
    hub: Option<Arc<crate::live::Hub>>,
}

impl Sink {
    fn finished(&self, f: crate::engine::Finished) {
        let appended = match self.writer.lock() {
            Ok(mut w) => match w.as_mut() {
                Some(w) => w.append(f.seq, &f.result).map_err(|e| e.to_string()),
                None => Err("the run log is closed".to_owned()),
            },
            Err(_) => Err("the run log's lock is poisoned".to_owned()),
        };
        if let Err(e) = appended {
            if let Ok(mut failure) = self.failure.lock() {
                failure.get_or_insert_with(|| {
                    format!("cannot append to the run log: {e}; the run stopped")
                });
            }
            self.stop.store(true, Ordering::SeqCst);
        }
        if self.progress {
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("\r\x1b[2K[{}/{}] ", f.done, f.total).as_bytes(),
            );
        }
        if let Some(hub) = &self.hub {
            hub.finished(f.seq, &f.result);
        }
        print_result(&f.result);
    }
}

/// Opens the run log for this run alone: locked (a second run on the same folder is
/// refused, never interleaved), then emptied.
fn open_log(path: &Path) -> Result<std::fs::File, CliError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(path)
        .map_err(|e| unwritten(path, e))?;
    match common::fs::try_lock_exclusive(&file) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            return Err(CliError::bad_input(format!(
                "another myna-hil run is writing {} (its run log is locked): give this run \
                 its own --out",
                path.display()
            )))
        }
        Err(e) => return Err(unwritten(path, e)),
    }
    file.set_len(0).map_err(|e| unwritten(path, e))?;
    Ok(file)
}

/// Reports of an earlier run in the same place must never pass for this run's (a killed
/// run leaves none, and its log): regular files are removed, devices and FIFOs are left.
fn remove_stale(paths: &ReportPaths) {
    for file in [&paths.junit, &paths.json, &paths.latency_table, &paths.html] {
        if let Ok(common::fs::Output::Replace(target)) = common::fs::output_target(file) {
            let _ = std::fs::remove_file(target);
        }
    }
}

fn unwritten(path: &Path, e: std::io::Error) -> CliError {
    CliError::Unwritten(format!("cannot write {}: {e}", path.display()))
}

/// Writes the reports of `cases` and prints the latency table and the summary; every
/// failure is added to `failures` with its path.
fn write_set(
    paths: &ReportPaths,
    cases: &dyn Cases,
    partition: Option<&str>,
    stamp: &RunStamp,
    failures: &mut Vec<String>,
) -> Tally {
    let written = paths.write(cases, partition, stamp);
    failures.extend(written.failures.iter().map(ToString::to_string));
    say(format!(
        "\n{}",
        reports::latency::to_markdown(&written.latency)
    ));
    summarise(&written.tally);
    say(format!(
        "reports: {}, {}, {}, {}, {}, {}/",
        paths.log.display(),
        paths.junit.display(),
        paths.json.display(),
        paths.html.display(),
        paths.latency_table.display(),
        paths.latency_plots.display()
    ));
    written.tally
}

/// `report merge`: every shard of a partition (or whole runs), into one report set.
pub(super) fn merge_reports(
    shards: &[PathBuf],
    out: &Path,
    junit: Option<&Path>,
    json: Option<&Path>,
) -> Result<Exit, CliError> {
    let mut files = Vec::new();
    for s in shards {
        files.push(reports::set::read_results(s).map_err(CliError::bad_input)?);
    }
    let merged = reports::results::merge(files).map_err(CliError::bad_input)?;
    // A merged report is stamped when and where it was merged.
    let stamp = RunStamp {
        started: time::OffsetDateTime::now_utc(),
        hostname: hostname(),
    };
    write_reports_of(
        &merged.cases,
        merged.partition.as_deref(),
        &stamp,
        out,
        junit,
        json,
    )
}

/// `report rebuild`: the reports of a run again, from its log.
pub(super) fn rebuild_reports(
    out: &Path,
    junit: Option<&Path>,
    json: Option<&Path>,
) -> Result<Exit, CliError> {
    let path = out.join(reports::log::LOG_FILE);
    let log = RunLog::read(&path).map_err(CliError::bad_input)?;
    match log.interrupted {
        None => warn(format!(
            "the run did not end (killed, or still running): {} of {} cases have results; \
             the rest are errors `not run`",
            log.finished(),
            log.header.selected.len()
        )),
        Some(true) => warn("the run was interrupted: cases without a result are errors `not run`"),
        Some(false) => {}
    }
    let stamp = log.header.stamp();
    let partition = log.header.partition.clone();
    write_reports_of(&log, partition.as_deref(), &stamp, out, junit, json)
}

fn write_reports_of(
    cases: &dyn Cases,
    partition: Option<&str>,
    stamp: &RunStamp,
    out: &Path,
    junit: Option<&Path>,
    json: Option<&Path>,
) -> Result<Exit, CliError> {
    let paths = ReportPaths::in_folder(out, junit, json);
    paths.prepare().map_err(CliError::bad_input)?;
    let mut failures = Vec::new();
    let tally = write_set(&paths, cases, partition, stamp, &mut failures);
    if !failures.is_empty() {
        return Err(CliError::Unwritten(failures.join("\nerror: ")));
    }
    Ok(verdict_exit(&tally))
}

/// The machine's name, for the reports (JUnit's `hostname`).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

fn verdict_exit(tally: &Tally) -> Exit {
    if tally.any_bad() {
        Exit::CasesFailed
    } else {
        Exit::Ok
    }
}

fn print_result(r: &CaseResult) {
    use common::text::escape_controls;
    let reason = r
        .reason
        .as_deref()
        .map(|w| format!(": {}", escape_controls(w)))
        .unwrap_or_default();
    say(format!(
        "{:<6} {} ({:.1} ms){reason}",
        r.verdict.as_str(),
        escape_controls(&r.id),
        r.duration.as_secs_f64() * 1e3
    ));
}

fn summarise(t: &Tally) {
    say(format!("\n{}", tally_line(t)));
}

/// `N cases: P pass, …`: the run's summary line (the terminal's and the live view's).
fn tally_line(t: &Tally) -> String {
    format!(
        "{} cases: {} pass, {} fail, {} error, {} inconc, {} skip",
        t.total(),
        t.pass,
        t.fail,
        t.error,
        t.inconc,
        t.skip
    )
}
