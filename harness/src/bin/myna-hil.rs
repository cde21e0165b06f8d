//! myna-hil: the test and certification harness for My Number Card readers and cards.
//! A thin shell over the `harness` library; exit codes are in [`exit`] and the README.

use clap::{Parser, Subcommand};
use harness::bench::{attach, CardSite};
use harness::conformance;
use harness::guard::{Policy, RunSecret};
use harness::profile_file::{cached_photo, load_profile, ProfileError};
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
    /// Validate profile files without running anything.
    Check {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// List the PC/SC readers pcscd knows.
    Readers,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    harness::yaml::parse_duration(text)
        .ok_or_else(|| format!("`{text}` is not a duration like 2s or 500ms"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
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
        Command::Readers => match harness::pcsc_driver::list_readers() {
            Ok(readers) => {
                for r in readers {
                    println!("{r}");
                }
                exit::OK
            }
            Err(e) => {
                eprintln!("error: {e}");
                exit::BENCH
            }
        },
    };
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

fn check(paths: &[PathBuf]) -> u8 {
    let files = match yaml_files(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::BAD_INPUT;
        }
    };
    let known = |name: &str| -> Result<Vec<u8>, String> {
        if harness::photo_cache::KNOWN_PHOTOS
            .iter()
            .any(|(n, _)| *n == name)
        {
            Ok(Vec::new())
        } else {
            let names: Vec<&str> = harness::photo_cache::KNOWN_PHOTOS
                .iter()
                .map(|(n, _)| *n)
                .collect();
            Err(format!("known photos: {}", names.join(", ")))
        }
    };
    let mut bad = 0;
    for file in &files {
        match load_profile(file, &known) {
            Ok(_) => println!("ok     {}", file.display()),
            Err(e) => {
                bad += 1;
                eprintln!("{e}\n");
            }
        }
    }
    println!("{} file(s) checked, {bad} with errors", files.len());
    if bad == 0 {
        exit::OK
    } else {
        exit::BAD_INPUT
    }
}

fn run_conformance(
    paths: &[PathBuf],
    card: &str,
    junit: Option<&Path>,
    deadline: Duration,
    allow_destructive: bool,
) -> u8 {
    let site = match CardSite::parse(card) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::BAD_INPUT;
        }
    };
    let files = match yaml_files(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::BAD_INPUT;
        }
    };
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
        return exit::BAD_INPUT;
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
    if results
        .iter()
        .any(|r| matches!(r.verdict, Verdict::Fail | Verdict::Error | Verdict::Inconc))
    {
        exit::CASES_FAILED
    } else if bench_failed {
        exit::BENCH
    } else {
        exit::OK
    }
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
