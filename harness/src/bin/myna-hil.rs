//! myna-hil: the test and certification harness for My Number Card readers and cards.
//! A thin shell over the `harness` library; exit codes are in [`exit`] and the README.

use clap::{Parser, Subcommand};
use harness::bench::{attach, CardSite};
use harness::cards::{cached_photo, load_profile, ProfileError};
use harness::channel::guard::{Policy, RunSecret};
use harness::conformance;
use reports::{CaseResult, Verdict};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Exit codes (documented in the README).
mod exit {
    /// Every case passed or was skipped.
    pub const OK: u8 = 0;
    /// At least one case ended fail, error or inconc.
    pub const CASES_FAILED: u8 = 1;
    /// Bad input: a file with mistakes, a bad option.
    pub const BAD_INPUT: u8 = 2;
    /// The bench could not be set up (pcscd not running, reader missing).
    pub const BENCH: u8 = 3;
}

/// Why a command ended early: its exit code and what to print.
struct Stop {
    code: u8,
    message: String,
}

/// A command's exit code, or why it stopped.
type Outcome = Result<u8, Stop>;

/// Maps any error to a `Stop` with `code`, printed as `error: ...`.
fn stop<E: std::fmt::Display>(code: u8) -> impl Fn(E) -> Stop {
    move |e| Stop {
        code,
        message: format!("error: {e}"),
    }
}

/// A `Stop` whose message is already formatted (diagnostics with carets).
fn stop_verbatim(code: u8, message: impl std::fmt::Display) -> Stop {
    Stop {
        code,
        message: message.to_string(),
    }
}

#[derive(Parser)]
#[command(
    version,
    about = "Test and certification harness for My Number Card readers and cards"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios (files or folders) against a reader, writing JUnit, JSON and latency.
    Run {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The reader under test: `virtual` (the built-in reference reader), or a device
        /// under test over the adapter protocol (docs/adapter-protocol.md):
        /// `dut:serial:PATH[@BAUD]` or `dut:tcp:HOST:PORT` (with --card pcsc).
        #[arg(long, default_value = "virtual")]
        reader: String,
        /// Where the cards are: `inprocess` (the emulator called directly), `pcsc` (the
        /// emulator in the vpcd readers, reached through the real pcscd) or `device` (a real
        /// card placed on the device under test itself: PIN steps need --allow-destructive).
        #[arg(long, default_value = "inprocess")]
        card: String,
        /// With --card device: type PINs on the real card, but only while the device's pad
        /// shows at least 2 tries left (the last try is never spent).
        #[arg(long)]
        allow_destructive: bool,
        /// Cases run at the same time.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        /// Run only shard K of N (stable by case id), e.g. 1/3.
        #[arg(long)]
        partition: Option<String>,
        /// JUnit XML file [default: OUT/junit.xml].
        #[arg(long)]
        junit: Option<PathBuf>,
        /// JSON results file [default: OUT/results.json].
        #[arg(long)]
        json: Option<PathBuf>,
        /// Folder for reports.
        #[arg(long, default_value = "target/myna-hil")]
        out: PathBuf,
        /// Set a scenario variable: NAME=VALUE (repeatable; wins over the files).
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        /// Run only cases with this tag (repeatable: all must match).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Run only cases whose id contains this text.
        #[arg(long)]
        filter: Option<String>,
    },
    /// Join the JSON results of partitioned runs into one JUnit and JSON.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Print the JSON Schema of the scenario format (for editors).
    Schema,
    /// Run the qualification service simulator alone until Ctrl-C or SIGTERM.
    ServeQualification {
        /// Insured records: a JSON array of InsuredRecord (the service's PascalCase fields).
        #[arg(long)]
        records: Option<PathBuf>,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8700")]
        bind: std::net::SocketAddr,
        /// The service's date (YYYY-MM-DD) for certificate checks [default: today].
        #[arg(long)]
        date: Option<String>,
        /// A fault for every query: slow:250ms, timeout, http:503, malformed, invalid, several.
        #[arg(long)]
        fault: Option<String>,
    },
    /// Run the APDU-level card conformance checks on the card of each profile.
    Conformance {
        /// Card profiles (YAML files or folders of them), e.g. scenarios/cards.
        #[arg(required = true)]
        profiles: Vec<PathBuf>,
        /// Where the card is: `inprocess` (the emulator, called directly), `pcsc` (the
        /// emulator attached to vpcd and reached through the real pcscd) or `pcsc:READER`
        /// (the card already in READER: a real card is protected by the guard).
        #[arg(long, default_value = "inprocess")]
        card: String,
        /// Write JUnit XML here (rewritten after every case).
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Deadline for every APDU.
        #[arg(long, default_value = "2s", value_parser = parse_duration)]
        deadline: Duration,
        /// Allow steps that can spend a PIN try on a card that is not this run's emulator
        /// (the last try is never spent).
        #[arg(long)]
        allow_destructive: bool,
    },
    /// Validate scenario and profile files without running anything.
    Check {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// List the PC/SC readers pcscd knows.
    Readers,
    /// The reference face matcher on images.
    Face {
        #[command(subcommand)]
        command: FaceCommand,
    },
    /// Match accuracy on a face set (a folder per person): genuine and impostor scores,
    /// FMR/FNMR, EER, FNMR at fixed FMR, FTA, APCER/BPCER, DET and score plots.
    Accuracy(harness::accuracy::CampaignArgs),
}

#[derive(Subcommand)]
enum FaceCommand {
    /// Print the similarity of the largest face of A (enrolment) and of B (probe).
    Compare {
        a: PathBuf,
        b: PathBuf,
        /// Turn A greyscale first.
        #[arg(long)]
        grey_enrolment: bool,
        /// Make A into the chip photo first (greyscale 240×300 JPEG 2000, decoded back), as
        /// the reader sees it on the card.
        #[arg(long, conflicts_with = "grey_enrolment")]
        chip: bool,
        /// Match threshold (cosine) [default: SFace's 0.363].
        #[arg(long)]
        threshold: Option<f32>,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Merge shard results: `myna-hil report merge a.json b.json --junit all.xml --json all.json`.
    Merge {
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        #[arg(long)]
        junit: Option<PathBuf>,
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    harness::yaml::parse_duration(text)
        .ok_or_else(|| format!("`{text}` is not a duration like 2s or 500ms"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run {
            paths,
            reader,
            card,
            allow_destructive,
            jobs,
            partition,
            junit,
            json,
            out,
            vars,
            tags,
            filter,
        } => {
            let options = RunArgs {
                reader,
                card,
                allow_destructive,
                jobs,
                partition,
                junit,
                json,
                out,
                vars,
                filter: harness::scenario::suite::Filter {
                    tags,
                    id_contains: filter,
                },
            };
            run_scenarios(&paths, options)
        }
        Command::Report {
            command:
                ReportCommand::Merge {
                    shards,
                    junit,
                    json,
                },
        } => merge_reports(&shards, junit.as_deref(), json.as_deref()),
        Command::ServeQualification {
            records,
            bind,
            date,
            fault,
        } => serve_qualification(records.as_deref(), bind, date.as_deref(), fault.as_deref()),
        Command::Schema => {
            println!("{}", harness::scenario::json_schema());
            Ok(exit::OK)
        }
        Command::Conformance {
            profiles,
            card,
            junit,
            deadline,
            allow_destructive,
        } => run_conformance(
            &profiles,
            &card,
            junit.as_deref(),
            deadline,
            allow_destructive,
        ),
        Command::Check { paths } => check(&paths),
        Command::Face {
            command:
                FaceCommand::Compare {
                    a,
                    b,
                    grey_enrolment,
                    chip,
                    threshold,
                },
        } => {
            let enrolment = match (chip, grey_enrolment) {
                (true, _) => harness::face::Enrolment::ChipPhoto,
                (false, true) => harness::face::Enrolment::Greyscale,
                (false, false) => harness::face::Enrolment::AsIs,
            };
            face_compare(&a, &b, enrolment, threshold)
        }
        Command::Accuracy(args) => harness::accuracy::run_campaign(&args)
            .map(|()| exit::OK)
            .map_err(|e| Stop {
                code: if e.is_bench() {
                    exit::BENCH
                } else {
                    exit::BAD_INPUT
                },
                message: format!("error: {e}"),
            }),
        Command::Readers => harness::channel::pcsc_driver::list_readers()
            .map(|readers| {
                for r in readers {
                    println!("{r}");
                }
                exit::OK
            })
            .map_err(stop(exit::BENCH)),
    };
    let code = code.unwrap_or_else(|stop| {
        eprintln!("{}", stop.message);
        stop.code
    });
    ExitCode::from(code)
}

/// The YAML files named by `paths` (folders are searched, sorted by name).
fn yaml_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries =
                std::fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            found.sort();
            files.extend(found);
        } else if path.exists() {
            files.push(path.clone());
        } else {
            return Err(format!("{}: no such file or folder", path.display()));
        }
    }
    Ok(files)
}

fn check(paths: &[PathBuf]) -> Outcome {
    let mut profiles = Vec::new();
    let mut scenario_paths = Vec::new();
    for p in paths {
        if harness::scenario::suite::is_profile(p) {
            profiles.push(p.clone());
        } else {
            scenario_paths.push(p.clone());
        }
    }
    let mut bad = 0;
    let mut checked = 0;
    let profile_files = yaml_files(&profiles).map_err(stop(exit::BAD_INPUT))?;
    let known = |name: &str| -> Result<Vec<u8>, String> {
        if harness::photos::KNOWN_PHOTOS
            .iter()
            .any(|(n, _)| *n == name)
        {
            Ok(Vec::new())
        } else {
            let names: Vec<&str> = harness::photos::KNOWN_PHOTOS
                .iter()
                .map(|(n, _)| *n)
                .collect();
            Err(format!("known photos: {}", names.join(", ")))
        }
    };
    for file in &profile_files {
        checked += 1;
        match load_profile(file, &known) {
            Ok(_) => println!("ok     {}", file.display()),
            Err(e) => {
                bad += 1;
                eprintln!("{e}\n");
            }
        }
    }
    let scenario_files =
        harness::scenario::suite::scenario_files(&scenario_paths).map_err(stop(exit::BAD_INPUT))?;
    for file in &scenario_files {
        checked += 1;
        match harness::scenario::load_cases(file, &[]) {
            Ok(cases) => println!("ok     {} ({} case(s))", file.display(), cases.len()),
            Err(e) => {
                bad += 1;
                eprintln!("{e}\n");
            }
        }
    }
    println!("{checked} file(s) checked, {bad} with errors");
    Ok(if bad == 0 { exit::OK } else { exit::BAD_INPUT })
}

struct RunArgs {
    reader: String,
    card: String,
    allow_destructive: bool,
    jobs: usize,
    partition: Option<String>,
    junit: Option<PathBuf>,
    json: Option<PathBuf>,
    out: PathBuf,
    vars: Vec<String>,
    filter: harness::scenario::suite::Filter,
}

fn run_scenarios(paths: &[PathBuf], args: RunArgs) -> Outcome {
    let bad_input = stop(exit::BAD_INPUT);
    let device_address = match args.reader.as_str() {
        "virtual" => None,
        other => match other.strip_prefix("dut:") {
            Some(address) => Some(
                address
                    .parse::<harness::dut::link::Address>()
                    .map_err(&bad_input)?,
            ),
            None => {
                let why = format!(
                    "reader `{other}`: expected virtual, dut:serial:PATH[@BAUD] or dut:tcp:HOST:PORT"
                );
                return Err(bad_input(why));
            }
        },
    };
    // A card on the device itself is real to the harness: it attached none of it.
    let cards_on_device = args.card == "device";
    if cards_on_device && device_address.is_none() {
        let why = "--card device puts the card on a device under test: add --reader dut:…";
        return Err(bad_input(why.to_owned()));
    }
    if args.allow_destructive && !cards_on_device {
        let why = "--allow-destructive is for real cards (--card device); the emulator needs none";
        return Err(bad_input(why.to_owned()));
    }
    let card_site = if cards_on_device {
        CardSite::InProcess
    } else {
        CardSite::parse(&args.card).map_err(&bad_input)?
    };
    if device_address.is_some() && !cards_on_device && !matches!(card_site, CardSite::Vpcd { .. }) {
        let why = "a device under test reads the emulated cards through pcscd: add --card pcsc \
                   (or --card device for a real card on the device)";
        return Err(bad_input(why.to_owned()));
    }
    let vpcd_readers = match card_site {
        CardSite::InProcess => Vec::new(),
        // The cards go through pcscd: both default vpcd readers, one case on each at a time.
        CardSite::Vpcd { .. } => (0..2u16)
            .map(|i| {
                (
                    card_emulator::vpcd::DEFAULT_PORT + i,
                    harness::bench::vpcd_reader_name(i),
                )
            })
            .collect(),
        CardSite::Reader(_) => {
            let why = "scenarios bring their own emulated cards: use --card inprocess or pcsc";
            return Err(bad_input(why.to_owned()));
        }
    };
    let mut vars = Vec::new();
    for v in &args.vars {
        match v.split_once('=') {
            Some((k, val)) if !k.is_empty() => vars.push((k.to_owned(), val.to_owned())),
            _ => return Err(bad_input(format!("--var `{v}` is not NAME=VALUE"))),
        }
    }
    let partition = args
        .partition
        .as_deref()
        .map(harness::engine::Partition::parse)
        .transpose()
        .map_err(&bad_input)?;
    let files = harness::scenario::suite::scenario_files(paths).map_err(&bad_input)?;
    // Everything is read and checked before the first case runs.
    let cases = harness::scenario::suite::load_all(&files, &vars)
        .map_err(|d| stop_verbatim(exit::BAD_INPUT, d))?;
    let cases: Vec<_> = cases
        .into_iter()
        .filter(|c| args.filter.accepts(c))
        .filter(|c| partition.is_none_or(|p| p.contains(&c.id)))
        .collect();
    let cards = harness::cards::load_cards(
        cases.iter().filter_map(|c| c.card.as_deref()),
        &cached_photo,
    )
    .map_err(|e| stop_verbatim(exit::BAD_INPUT, e))?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| bad_input(format!("cannot create {}: {e}", args.out.display())))?;
    let junit = args.junit.unwrap_or_else(|| args.out.join("junit.xml"));
    let json = args.json.unwrap_or_else(|| args.out.join("results.json"));
    let device = match device_address {
        None => None,
        Some(address) => {
            let device = harness::dut::driver::Device::connect(address)
                .map_err(|e| stop(exit::BENCH)(format!("device under test: {e}")))?;
            let h = device.hello();
            eprintln!(
                "device under test: {} {} firmware {} ({})",
                h.vendor,
                h.model,
                h.firmware,
                h.capabilities
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Some(device)
        }
    };
    let options = harness::engine::RunOptions {
        jobs: args.jobs,
        device,
        vpcd_readers,
        partition,
        junit: Some(junit.clone()),
        json: Some(json.clone()),
        progress: harness::engine::progress_wanted(),
        real_cards_on_device: cards_on_device.then_some(Policy {
            allow_destructive: args.allow_destructive,
        }),
    };
    let progress = options.progress;
    let total = cases.len();
    println!("running {total} case(s) from {} file(s)", files.len());
    let results = harness::engine::run(cases, cards, &options, move |r, done, total| {
        if progress {
            eprint!("\r\x1b[2K[{done}/{total}] ");
        }
        print_result(r);
    })
    .map_err(stop(exit::BENCH))?;
    if progress {
        eprint!("\r\x1b[2K");
    }
    let table = reports::latency::to_markdown(&reports::latency::latency_table(&results));
    let latency_path = args.out.join("latency.md");
    if let Err(e) = std::fs::write(&latency_path, &table) {
        eprintln!("error: cannot write {}: {e}", latency_path.display());
    }
    let plots = args.out.join("latency");
    let plotted = std::fs::create_dir_all(&plots)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            reports::plots::latency_histograms(&reports::latency::latency_samples(&results), &plots)
                .map_err(|e| e.to_string())
        });
    if let Err(e) = plotted {
        eprintln!("error: latency plots in {}: {e}", plots.display());
    }
    println!("\n{table}");
    summarise(&results);
    println!(
        "reports: {}, {}, {}, {}/",
        junit.display(),
        json.display(),
        latency_path.display(),
        plots.display()
    );
    Ok(verdict_exit(&results))
}

fn verdict_exit(results: &[CaseResult]) -> u8 {
    if results
        .iter()
        .any(|r| matches!(r.verdict, Verdict::Fail | Verdict::Error | Verdict::Inconc))
    {
        exit::CASES_FAILED
    } else {
        exit::OK
    }
}

fn serve_qualification(
    records: Option<&Path>,
    bind: std::net::SocketAddr,
    date: Option<&str>,
    fault: Option<&str>,
) -> Outcome {
    use harness::qualification::{serve, Fault, InsuredRecord, ServerConfig};
    let bad_input = stop(exit::BAD_INPUT);
    let records: Vec<InsuredRecord> = match records {
        None => Vec::new(),
        Some(path) => std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            .map_err(|e| bad_input(format!("{}: {e}", path.display())))?,
    };
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    let today = date
        .map(|d| time::Date::parse(d, date_format))
        .transpose()
        .map_err(|_| bad_input("--date must be YYYY-MM-DD".to_owned()))?;
    let fault: Option<Fault> = fault.map(str::parse).transpose().map_err(&bad_input)?;
    let pki = card_emulator::pki::TestPki::shared().map_err(stop(exit::BENCH))?;
    let on = today.unwrap_or(time::macros::date!(2025 - 01 - 01));
    let crl = pki.crl_for([], on).map_err(stop(exit::BENCH))?;
    let mut config = ServerConfig::new(records, pki.ca_certificate_der().to_vec(), crl);
    config.bind = bind;
    config.today = today;
    config.faults.server = fault;
    let runtime = tokio::runtime::Runtime::new().map_err(stop(exit::BENCH))?;
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
    served.map(|()| exit::OK).map_err(stop(exit::BENCH))
}

fn face_compare(
    a: &Path,
    b: &Path,
    enrolment: harness::face::Enrolment,
    threshold: Option<f32>,
) -> Outcome {
    use std::io::Write;
    let compared = harness::face::compare_files(a, b, enrolment, threshold).map_err(|e| Stop {
        code: if e.is_bench() {
            exit::BENCH
        } else {
            exit::BAD_INPUT
        },
        message: format!("error: {e}"),
    })?;
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = write!(std::io::stdout(), "{compared}");
    Ok(exit::OK)
}

fn merge_reports(shards: &[PathBuf], junit: Option<&Path>, json: Option<&Path>) -> Outcome {
    let mut files = Vec::new();
    for s in shards {
        files.push(reports::results::ResultsFile::read(s).map_err(stop(exit::BAD_INPUT))?);
    }
    let merged = reports::results::merge(files).map_err(stop(exit::BAD_INPUT))?;
    harness::engine::write_reports(junit, json, None, &merged.cases);
    summarise(&merged.cases);
    Ok(verdict_exit(&merged.cases))
}

fn run_conformance(
    paths: &[PathBuf],
    card: &str,
    junit: Option<&Path>,
    deadline: Duration,
    allow_destructive: bool,
) -> Outcome {
    let site = CardSite::parse(card).map_err(stop(exit::BAD_INPUT))?;
    let files = yaml_files(paths).map_err(stop(exit::BAD_INPUT))?;
    // Every profile is read before anything runs: a broken file never half-runs a suite.
    let mut profiles = Vec::new();
    let mut broken = false;
    for file in &files {
        match load_profile(file, &cached_photo) {
            Ok(p) => profiles.push(p),
            Err(e @ (ProfileError::Invalid(_) | ProfileError::Io { .. })) => {
                broken = true;
                eprintln!("{e}\n");
            }
        }
    }
    if broken {
        return Ok(exit::BAD_INPUT);
    }
    let secret = RunSecret::generate();
    let policy = Policy { allow_destructive };
    let mut results: Vec<CaseResult> = Vec::new();
    let mut bench_failed = false;
    for profile in &profiles {
        let group = format!("conformance.{}", profile.name);
        let mut attached = match attach(profile, &site, &secret, policy, deadline) {
            Ok(a) => a,
            Err(why) => {
                eprintln!("error  {group}: {why}");
                bench_failed = true;
                continue;
            }
        };
        conformance::run_all(&mut attached.channel, profile, &group, |r| {
            print_result(r);
            results.push(r.clone());
            if let Some(path) = junit {
                if let Err(e) = reports::junit::write(path, "myna-hil conformance", &results) {
                    eprintln!("error: {e}");
                }
            }
        });
        attached.detach();
    }
    summarise(&results);
    Ok(match verdict_exit(&results) {
        exit::OK if bench_failed => exit::BENCH,
        code => code,
    })
}

fn print_result(r: &CaseResult) {
    let reason = r
        .reason
        .as_deref()
        .map(|w| format!(": {w}"))
        .unwrap_or_default();
    println!(
        "{:<6} {} ({:.1} ms){reason}",
        r.verdict.as_str(),
        r.id,
        r.duration.as_secs_f64() * 1e3
    );
}

fn summarise(results: &[CaseResult]) {
    let count = |v: Verdict| results.iter().filter(|r| r.verdict == v).count();
    println!(
        "\n{} cases: {} pass, {} fail, {} error, {} inconc, {} skip",
        results.len(),
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::Error),
        count(Verdict::Inconc),
        count(Verdict::Skip)
    );
}
