//! `myna-hil`'s arguments: clap structs with their value parsers, every value listed in its
//! help.

use super::version;
use crate::dut::link::Address;
use crate::engine::Partition;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "myna-hil",
    version = version(),
    about = "Test and certification harness for My Number Card readers and cards",
    after_help = super::exit_codes_help()
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run scenarios (files or folders) against a reader, writing JUnit, JSON, an HTML report
    /// and latency.
    Run(RunArgs),
    /// Run the APDU-level conformance checks on the card of each profile, through the same
    /// engine as `run` (case ids `conformance[PROFILE].CHECK`).
    Conformance(ConformanceArgs),
    /// Validate scenario and profile files without running anything.
    Check {
        /// Scenario and card-profile files or folders of them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Set a scenario variable as `run --var` would (repeatable; each must name a
        /// variable of some scenario).
        #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
        vars: Vec<(String, String)>,
    },
    /// Print a JSON Schema (draft 2020-12) of an input format, for editors and validators.
    Schema {
        /// Which format: `scenario` (scenario and conformance files), `include` (include-only
        /// `_*.yaml` files), `profile` (card profiles), `ics` or `plan` (certification).
        #[arg(value_enum, default_value = "scenario")]
        format: SchemaFormat,
    },
    /// List the cached test photos, whose face each shows, and whether each is in the cache.
    Photos,
    /// Join the JSON results of partitioned runs into one JUnit and JSON.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// List the PC/SC readers pcscd knows.
    Readers,
    /// Certify a device under test against a test plan, as its ICS declares it: the
    /// selected cases, bench errors retried as the plan allows, the decision, and a signed
    /// evidence bundle (OUT and OUT.tar).
    Certify(CertifyArgs),
    /// Check a certification bundle: the signature, every file's digest, the retry policy
    /// and the decision, judged again from the bundle's results and plan.
    Verify {
        /// The bundle: its folder or its .tar.
        bundle: PathBuf,
        /// The public key it must be signed with (from `myna-hil keygen`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
    /// Make an Ed25519 key pair for signing bundles: PREFIX.key (private, mode 0600, never
    /// overwritten) and PREFIX.pub.
    Keygen {
        /// Where to write, e.g. target/cert/vendor (gives vendor.key and vendor.pub).
        #[arg(long, value_name = "PREFIX")]
        out: PathBuf,
    },
    /// Test plans: check one, or show which cases a device's ICS selects from it and why.
    Plan {
        #[command(subcommand)]
        command: PlanCommand,
    },
    /// The reception rules: which rules decide a case, and why.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Camera clips of face cases, for benches that play them outside the adapter link.
    Clips {
        #[command(subcommand)]
        command: ClipsCommand,
    },
    /// The reference face matcher on images.
    Face {
        #[command(subcommand)]
        command: FaceCommand,
    },
    /// Match accuracy on a face set (a folder per person): genuine and impostor scores,
    /// FMR/FNMR, EER, FNMR at fixed FMR, FTA, APCER/BPCER, DET and score plots.
    Accuracy(crate::accuracy::CampaignArgs),
    /// Run the qualification service simulator alone until Ctrl-C or SIGTERM.
    ServeQualification(ServeArgs),
}

/// The formats `schema` describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaFormat {
    /// Scenario and conformance files.
    Scenario,
    /// Include-only files (`_*.yaml`).
    Include,
    /// Card profiles.
    Profile,
    /// A device's ICS (certification).
    Ics,
    /// Test plans (certification).
    Plan,
}

/// Where the cases' cards are (`--card`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CardArg {
    /// `inprocess`: the emulator called directly.
    InProcess,
    /// `pcsc`: the emulator in the vpcd readers, reached through the real pcscd.
    Pcsc,
    /// `pcsc:READER`: whatever card lies in READER (a vendor's card; the guard protects it).
    Reader(String),
    /// `device`: a real card placed on the device under test itself.
    Device,
}

/// Parses `--card`.
pub fn parse_card(text: &str) -> Result<CardArg, String> {
    match text {
        "inprocess" => Ok(CardArg::InProcess),
        "pcsc" => Ok(CardArg::Pcsc),
        "device" => Ok(CardArg::Device),
        _ => match text.strip_prefix("pcsc:") {
            Some(reader) if !reader.is_empty() => Ok(CardArg::Reader(reader.to_owned())),
            _ => Err(format!(
                "`{text}`: expected inprocess, pcsc, pcsc:READER or device"
            )),
        },
    }
}

/// The reader under test (`--reader`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReaderArg {
    /// `virtual`: the built-in reference reader.
    Virtual,
    /// `dut:` and a link address (`serial:`, `tcp:`, `rfc2217://`): a device over the
    /// adapter protocol.
    Dut(Address),
}

/// Parses `--reader`.
pub fn parse_reader(text: &str) -> Result<ReaderArg, String> {
    if text == "virtual" {
        return Ok(ReaderArg::Virtual);
    }
    match text.strip_prefix("dut:") {
        Some(address) => address.parse().map(ReaderArg::Dut),
        None => Err(format!(
            "`{text}`: expected virtual, or dut: and {}",
            crate::dut::link::FORMS
        )),
    }
}

/// Parses `--var NAME=VALUE`.
pub fn parse_var(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{text}` is not NAME=VALUE")),
    }
}

/// Parses a duration like `500ms`, `2s`, `1.5s`, `2min` (the scenario files' own syntax).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::units::parse_duration(text)
        .ok_or_else(|| format!("`{text}` is not a duration like 500ms, 2s or 1.5s"))
}

/// Where reports go: shared by `run` and `conformance`.
#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// Folder for reports: the run log (results.jsonl, appended as cases finish), and at
    /// the end JUnit, JSON, report.html, latency.md and latency/ histograms.
    #[arg(long, default_value = "target/myna-hil")]
    pub out: PathBuf,
    /// JUnit XML file [default: OUT/junit.xml].
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// JSON results file [default: OUT/results.json].
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Cases run at the same time (with devices under test: one at a time on each; with a
    /// named reader: one at a time).
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Scenario files or folders of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The reader under test: `virtual` (the built-in reference reader), or a device under
    /// test over the adapter protocol (docs/adapter-protocol.md): `dut:serial:PATH[@BAUD]`,
    /// `dut:tcp:HOST:PORT` or `dut:rfc2217://HOST:PORT[@BAUD]` (with --card pcsc or --card
    /// device). Repeat it for a pool of devices: the cases are spread over them, one case
    /// at a time on each.
    #[arg(long, default_value = "virtual", value_parser = parse_reader, value_name = "READER")]
    pub reader: Vec<ReaderArg>,
    /// Where the cards are: `inprocess` (the emulator called directly), `pcsc` (the
    /// emulator in the vpcd readers, reached through the real pcscd) or `device` (a real
    /// card placed on the device under test itself: PIN steps need --allow-destructive).
    #[arg(long, default_value = "inprocess", value_parser = parse_card, value_name = "SITE")]
    pub card: CardArg,
    /// With --card device: type PINs on the real card, but only while the device's pad
    /// shows at least 2 tries left (the last try is never spent).
    #[arg(long)]
    pub allow_destructive: bool,
    /// Run only shard K of N (stable by case id), e.g. 1/3.
    #[arg(long, value_parser = Partition::parse, value_name = "K/N")]
    pub partition: Option<Partition>,
    #[command(flatten)]
    pub selection: CaseSelection,
    /// Exit 0 when the filters select no case (without it, selecting nothing is exit 2: a
    /// mistyped filter must not look like a green run).
    #[arg(long)]
    pub allow_empty: bool,
    #[command(flatten)]
    pub reports: ReportArgs,
    #[command(flatten)]
    pub operator: OperatorArgs,
}

/// How `operator` steps are answered: shared by `run` and `certify`.
#[derive(Args, Debug, Clone, Default)]
pub struct OperatorArgs {
    /// Scripted answers to operator steps, for CI (docs/operator.md): a prompt the file
    /// does not answer waits for a person (on the terminal), or ends its case inconc.
    #[arg(long = "operator", value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// Serve a live view of the run on this address (e.g. 127.0.0.1:8080; port 0 picks
    /// one): the cases as they run, and the operator's prompts with their answers to click.
    #[arg(long, value_name = "ADDRESS")]
    pub serve: Option<std::net::SocketAddr>,
    /// Let --serve listen on an address other than loopback: anyone who reaches it sees
    /// the run and can answer its prompts.
    #[arg(long, requires = "serve")]
    pub serve_exposed: bool,
}

#[derive(Args, Debug)]
pub struct ConformanceArgs {
    /// Card profiles (YAML files or folders of them), e.g. scenarios/cards.
    #[arg(required = true)]
    pub profiles: Vec<PathBuf>,
    /// Where the card is: `inprocess` (the emulator, called directly), `pcsc` (the emulator
    /// in the vpcd readers, reached through the real pcscd) or `pcsc:READER` (the card
    /// already in READER, described by the profile: a real card is protected by the guard).
    #[arg(long, default_value = "inprocess", value_parser = parse_card, value_name = "SITE")]
    pub card: CardArg,
    /// Deadline for every APDU.
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "DURATION")]
    pub deadline: Duration,
    /// Allow checks that can spend a PIN try on a card that is not this run's emulator
    /// (the last try is never spent).
    #[arg(long)]
    pub allow_destructive: bool,
    #[command(flatten)]
    pub reports: ReportArgs,
}

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// Merge the results of shards (`--partition K/N`): every shard of the partition, each
    /// once, as results.json or run logs (results.jsonl); writes a whole report set.
    Merge {
        /// The shards' results.json or results.jsonl files.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Folder for the merged reports (JUnit, JSON, report.html, latency.md, latency/
        /// histograms).
        #[arg(long)]
        out: PathBuf,
        /// The merged JUnit XML file [default: OUT/junit.xml].
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// The merged JSON results file [default: OUT/results.json].
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Write the reports of a run again from its log (OUT/results.jsonl): after a run was
    /// killed, or when a report was lost. Cases without a result are errors `not run`.
    Rebuild {
        /// The run's output folder (its --out).
        out: PathBuf,
        /// JUnit XML file [default: OUT/junit.xml].
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// JSON results file [default: OUT/results.json].
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct CertifyArgs {
    /// The test plan (plans/*.yaml).
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// The device's ICS: its declaration (YAML); required, never empty.
    #[arg(long, value_name = "FILE")]
    pub ics: PathBuf,
    /// The device under test: `dut:serial:PATH[@BAUD]`, `dut:tcp:HOST:PORT` or
    /// `dut:rfc2217://HOST:PORT[@BAUD]`.
    #[arg(long, value_parser = parse_reader, value_name = "READER")]
    pub reader: ReaderArg,
    /// Where the cards are: `pcsc` (the emulator in the vpcd readers) or `device`.
    #[arg(long, default_value = "pcsc", value_parser = parse_card, value_name = "SITE")]
    pub card: CardArg,
    /// Sign the bundle with this private key (from `myna-hil keygen`).
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// The bundle's folder (new or empty); the archive is written beside it as OUT.tar.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Cases run at once (one at a time on the device: it has one reader).
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    #[command(flatten)]
    pub operator: OperatorArgs,
}

#[derive(Subcommand, Debug)]
pub enum PlanCommand {
    /// Check plans: every requirement has a source and scenarios, every scenario exists and
    /// loads, every applicability expression names capabilities of the ICS format.
    Check {
        /// Plan files (plans/*.yaml).
        #[arg(required = true)]
        plans: Vec<PathBuf>,
    },
    /// Print every requirement (applies or not, and why) and every case of the plan,
    /// selected or excluded for the device the ICS declares, with the reason.
    Show {
        /// The plan file.
        plan: PathBuf,
        /// The device's ICS (its declaration, YAML).
        #[arg(long, value_name = "FILE")]
        ics: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum ClipsCommand {
    /// Write every clip the selected face cases will play, named as the harness offers them
    /// to a device, and manifest.json (name, SHA-256, format, size, fps, frames, size in
    /// pixels, and the cases of each).
    Export(ClipsExportArgs),
}

/// Which cases of the scenario files a command takes (`run`, `rules explain`, `clips
/// export`): the same options everywhere.
#[derive(Args, Debug)]
pub struct CaseSelection {
    /// Set a scenario variable (repeatable; wins over the files; must name a variable of
    /// some selected scenario).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Only cases with this tag (repeatable: all must match).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Only cases whose id contains this text.
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
}

impl CaseSelection {
    /// The tags and id filter.
    pub fn filter(&self) -> crate::scenario::suite::Filter {
        crate::scenario::suite::Filter {
            tags: self.tags.clone(),
            id_contains: self.filter.clone(),
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// Print, for each selected case, the chain of rules that decides it: the day and rule
    /// set, the patient (age band, income, limit category), the card path and face path the
    /// oracle predicts, then route, share, limit, data, claim insurer and payment, each with
    /// the rule id that decided it (docs/reception-rules.md, "Rule ids").
    Explain(RulesExplainArgs),
}

#[derive(Args, Debug)]
pub struct RulesExplainArgs {
    /// Scenario files or folders of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub selection: CaseSelection,
}

#[derive(Args, Debug)]
pub struct ClipsExportArgs {
    /// Folder to write into (made if missing); clips already there are replaced atomically.
    pub dir: PathBuf,
    /// Scenario files or folders of them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Clip format: y4m (lossless) or avi_mjpeg.
    #[arg(long, default_value = "y4m", value_parser = parse_clip_format, value_name = "FORMAT")]
    pub format: crate::clips::ClipFormat,
    #[command(flatten)]
    pub selection: CaseSelection,
}

/// A clip format by its name (`y4m`, `avi_mjpeg`).
pub fn parse_clip_format(name: &str) -> Result<crate::clips::ClipFormat, String> {
    use crate::clips::ClipFormat;
    ClipFormat::from_name(name).ok_or_else(|| {
        format!(
            "`{name}` is not a clip format (one of: {})",
            ClipFormat::ALL.map(ClipFormat::name).join(", ")
        )
    })
}

#[derive(Subcommand, Debug)]
pub enum FaceCommand {
    /// Print the similarity of the largest face of A (enrolment) and of B (probe).
    Compare {
        /// The enrolment image.
        a: PathBuf,
        /// The probe image.
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

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Insured records: a JSON array of InsuredRecord (the service's PascalCase fields).
    #[arg(long, value_name = "FILE")]
    pub records: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8700")]
    pub bind: std::net::SocketAddr,
    /// The service's date for certificate checks (YYYY-MM-DD) [default: today].
    #[arg(long, value_parser = parse_date, value_name = "YYYY-MM-DD")]
    pub date: Option<time::Date>,
    /// A fault for every query: slow:DURATION (e.g. slow:1.5s), timeout, http:CODE (e.g.
    /// http:503), malformed, invalid or several.
    #[arg(long, value_parser = parse_fault, value_name = "FAULT")]
    pub fault: Option<crate::qualification::Fault>,
}

fn parse_date(text: &str) -> Result<time::Date, String> {
    crate::units::parse_date(text).map_err(|e| format!("`{text}`: {e}"))
}

fn parse_fault(text: &str) -> Result<crate::qualification::Fault, String> {
    text.parse()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn card_and_reader_values() {
        assert_eq!(parse_card("pcsc"), Ok(CardArg::Pcsc));
        assert_eq!(
            parse_card("pcsc:ACS ACR39U 00"),
            Ok(CardArg::Reader("ACS ACR39U 00".into()))
        );
        assert!(parse_card("pcsc:").is_err());
        assert!(parse_card("usb").unwrap_err().contains("inprocess, pcsc"));
        assert_eq!(parse_reader("virtual"), Ok(ReaderArg::Virtual));
        assert!(matches!(
            parse_reader("dut:tcp:127.0.0.1:7700"),
            Ok(ReaderArg::Dut(_))
        ));
        assert!(parse_reader("dut:usb:x").is_err());
        assert_eq!(parse_var("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_var("=x").is_err());
        // The command line and the scenario files read durations the same way.
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
    }
}
