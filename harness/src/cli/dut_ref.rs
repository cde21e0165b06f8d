//! myna-dut-ref: the reference reader behind the adapter protocol (docs/adapter-protocol.md),
//! a device under test that passes every shipped scenario.
//!
//! ```text
//! myna-dut-ref (--serial PATH[@BAUD] | --listen ADDR) [--profiles DIR...] [--log FILE]
//!              [--own-reader READER] [--clips DIR] [--clip-formats FORMAT,...]
//!              [--pace DURATION] [--operator-ui FILE]
//! ```
//! - `--serial`: one end of a serial line (e.g. a socat pty pair); the harness opens the
//!   other. The line is opened again when it goes away (a restarted socat).
//! - `--listen`: a TCP address (`127.0.0.1:7700`, port 0 for any); one harness connection at
//!   a time, then the next. The address is printed on standard output once listening.
//! - `--profiles`: folders of card profiles (`scenarios/cards scenarios/cards/faults`): the
//!   card named in `card_present` is looked up there for what its surface shows (the
//!   reader's OCR of 照合番号B).
//! - `--log`: a log of the sessions (PINs, key positions with layouts and 照合番号B never).
//! - `--own-reader`: the device's own card slot, a PC/SC reader: where the card of a
//!   `card_present` without `reader` lies (a real card a person placed on the device).
//! - `--clips`: the folder of the camera's clips: those the harness sends over the link are
//!   kept there, and those `myna-hil clips export` wrote there are played without being
//!   sent (default: `myna-dut-ref-clips` in the temp folder).
//! - `--clip-formats`: the clip formats announced in `hello`, preferred first (default
//!   `y4m,avi_mjpeg`).
//! - `--operator-ui`: a test UI for the harness's operator prompts (capability
//!   `operator_ui`), its person scripted by a file of answers in the format of
//!   `myna-hil run --operator` (docs/operator.md); a prompt without an answer there stays
//!   on screen until the harness withdraws it.
//!
//! Runs until SIGTERM or ctrl-c. Exit codes (the table of every binary): 2 bad arguments or
//! profiles, 3 the line or the address cannot be opened.

use super::{finish, say, version, warn, CliError, Exit};
use crate::clips::ClipFormat;
use crate::dut::link::{open_serial, Link, DEFAULT_BAUD};
use crate::dut::protocol::CardInfo;
use crate::dut_ref::{
    default_clip_dir, pcsc_connector, serve, ClipStore, DeviceConfig, Log, Profiles, SessionEnd,
};
use clap::Parser;
use std::net::{Shutdown, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "myna-dut-ref",
    version = version(),
    after_help = super::exit_codes_help(),
    about = "The reference face-authentication card reader behind the myna-hil-dut adapter protocol"
)]
#[command(group(clap::ArgGroup::new("link").required(true).args(["serial", "listen"])))]
pub struct Args {
    /// Serial line to serve on, PATH[@BAUD] (115200 unless given), e.g. /tmp/dut@115200.
    #[arg(long, value_name = "PATH[@BAUD]")]
    serial: Option<String>,
    /// TCP address to listen on, e.g. 127.0.0.1:7700 (port 0: any free port).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Folders of card profiles (YAML), e.g. scenarios/cards scenarios/cards/faults.
    #[arg(long, value_name = "DIR", num_args = 1..)]
    profiles: Vec<PathBuf>,
    /// Append a log of the sessions to FILE.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// The device's own card slot (a PC/SC reader), for cards placed on the device itself.
    #[arg(long, value_name = "READER")]
    own_reader: Option<String>,
    /// Folder of the camera's clips (received ones are kept; exported ones are played
    /// without a transfer). Default: myna-dut-ref-clips in the temp folder.
    #[arg(long, value_name = "DIR")]
    clips: Option<PathBuf>,
    /// Clip formats to announce, preferred first: y4m, avi_mjpeg.
    #[arg(long, value_name = "FORMAT,...", value_delimiter = ',', value_parser = super::args::parse_clip_format)]
    clip_formats: Vec<ClipFormat>,
    /// Take at least this long over each message acted on, as a real reader's screens do
    /// (e.g. 300ms; for measuring a pool of devices whose pace is not the harness's CPU).
    #[arg(long, value_name = "DURATION", value_parser = super::args::parse_duration)]
    pace: Option<Duration>,
    /// Show the harness's operator prompts on a test UI (capability operator_ui), answered
    /// from FILE, in the format of `myna-hil run --operator` (docs/operator.md); a prompt
    /// without an answer there waits until the harness withdraws it.
    #[arg(long, value_name = "FILE")]
    operator_ui: Option<PathBuf>,
}

/// How often a read gives the session a chance to notice its end.
const READ_POLL: Duration = Duration::from_millis(200);
/// How long to wait before opening a serial line again.
const REOPEN: Duration = Duration::from_millis(300);

/// `myna-dut-ref`'s `main`.
pub fn main() -> ExitCode {
    finish(start(Args::parse()))
}

fn start(args: Args) -> Result<Exit, CliError> {
    let profiles = Profiles::load(&args.profiles)
        .map_err(|e| CliError::bad_input(format!("card profiles:\n{e}")))?;
    if profiles.is_empty() {
        warn(
            "warning: no card profiles (--profiles DIR...): the face path cannot read 照合番号B \
             and earlier consent is not known",
        );
    }
    let mut config = DeviceConfig::new(profiles)
        .map_err(|e| CliError::bench(format!("cannot start the runtime: {e}")))?;
    if let Some(own) = args.own_reader.clone() {
        config.connector = Arc::new(move |info: &CardInfo, deadline| {
            let mut info = info.clone();
            info.reader.get_or_insert_with(|| own.clone());
            pcsc_connector(&info, deadline)
        });
    }
    if args.clips.is_some() || !args.clip_formats.is_empty() {
        let dir = args.clips.clone().unwrap_or_else(default_clip_dir);
        let formats = if args.clip_formats.is_empty() {
            ClipFormat::ALL.to_vec()
        } else {
            args.clip_formats.clone()
        };
        config.clips = ClipStore::open(&dir, formats)
            .map_err(|e| CliError::bad_input(format!("--clips {}: {e}", dir.display())))?;
    }
    if let Some(pace) = args.pace {
        config.pace = pace;
    }
    if let Some(path) = &args.operator_ui {
        config.operator_ui = Some(crate::operator::script::load(path)?);
    }
    if let Some(path) = &args.log {
        let log = Log::to_file(path)
            .map_err(|e| CliError::bad_input(format!("log {}: {e}", path.display())))?;
        config.log = Some(log);
    }
    if let Some(log) = &config.log {
        log.line(&format!(
            "myna-dut-ref {} started with {} card profile(s)",
            version(),
            config.profiles.len()
        ));
    }
    match (&args.serial, &args.listen) {
        (Some(line), _) => serve_serial(&config, line),
        (None, Some(addr)) => serve_tcp(&config, addr),
        (None, None) => Err(CliError::bad_input("--serial or --listen is needed")),
    }
}

fn serve_tcp(config: &DeviceConfig, addr: &str) -> Result<Exit, CliError> {
    let listener = TcpListener::bind(addr)
        .map_err(|e| CliError::bench(format!("cannot listen on {addr}: {e}")))?;
    match listener.local_addr() {
        Ok(a) => say(format!("listening on {a}")),
        Err(_) => say(format!("listening on {addr}")),
    }
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(s) => s,
            Err(e) => {
                warn(format!("accept: {e}"));
                std::thread::sleep(REOPEN);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let input = match stream.try_clone() {
            Ok(i) => i,
            Err(e) => {
                warn(format!("{peer}: {e}"));
                continue;
            }
        };
        let _ = input.set_read_timeout(Some(READ_POLL));
        if let Some(log) = &config.log {
            log.line(&format!("connection from {peer}"));
        }
        let mut output = stream;
        let end = serve(config, input, &mut output, true);
        let _ = output.shutdown(Shutdown::Both);
        if let Some(log) = &config.log {
            log.line(&format!("connection from {peer} ended: {end:?}"));
        }
    }
}

fn serve_serial(config: &DeviceConfig, line: &str) -> Result<Exit, CliError> {
    let (path, baud) = match line.rsplit_once('@') {
        Some((path, baud)) => match baud.parse() {
            Ok(b) => (path, b),
            Err(_) => {
                return Err(CliError::bad_input(format!(
                    "`{baud}` is not a baud rate (--serial PATH[@BAUD])"
                )))
            }
        },
        None => (line, DEFAULT_BAUD),
    };
    let mut first = true;
    loop {
        let link = match open_serial(path, baud) {
            Ok(l) => l,
            Err(e) if first => {
                return Err(CliError::bench(format!("cannot open the serial line: {e}")))
            }
            Err(_) => {
                // Gone (socat restarting): wait for it to come back.
                std::thread::sleep(REOPEN);
                continue;
            }
        };
        if first {
            say(format!("serving on serial {path}@{baud}"));
            first = false;
        }
        let input = link
            .try_clone_link()
            .map_err(|e| CliError::bench(format!("{path}: {e}")))?;
        let mut output = link;
        let end = serve(config, input, &mut output, false);
        drop(output);
        if let SessionEnd::LinkFailed(why) = &end {
            if let Some(log) = &config.log {
                log.line(&format!("serial {path}: {why}"));
            }
        }
        // Open the line again (a pty whose socat restarted is a new line).
        std::thread::sleep(REOPEN);
    }
}
