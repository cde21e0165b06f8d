//! myna-vicc: put an emulated My Number Card into your own pcscd through vpcd.
//!
//! ```text
//! myna-vicc --profile scenarios/cards/valid.yaml [--host 127.0.0.1] [--port 35963]
//! ```
//! The card stays inserted until the process ends. Commands on standard input:
//! `remove`, `insert`, `status`, `quit`.

use super::{finish, say, version, CliError, Exit};
use crate::cards::{cached_photo, load_profile};
use card_emulator::{Card, CardImage, PinRef};
use clap::Parser;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "myna-vicc",
    version = version(),
    after_help = super::exit_codes_help(),
    about = "Put an emulated My Number Card into pcscd through vsmartcard's vpcd"
)]
pub struct Args {
    /// Card profile (YAML), e.g. scenarios/cards/valid.yaml.
    #[arg(long)]
    profile: PathBuf,
    /// Host where vpcd listens.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// vpcd port: 35963 is "Virtual PCD 00 00", 35964 is "Virtual PCD 00 01".
    #[arg(long, default_value_t = card_emulator::vpcd::DEFAULT_PORT)]
    port: u16,
}

/// `myna-vicc`'s `main`.
pub fn main() -> ExitCode {
    finish(serve(Args::parse()))
}

fn serve(args: Args) -> Result<Exit, CliError> {
    let profile = load_profile(&args.profile, &cached_photo)?;
    let image = CardImage::build(&profile)
        .map(Arc::new)
        .map_err(|e| CliError::bad_input(format!("cannot build the card: {e}")))?;
    let address = card_emulator::vpcd::VpcdAddress {
        host: args.host.clone(),
        port: args.port,
    };
    // The reader is in use (another run or myna-vicc) or vpcd is not there: the bench.
    let card = card_emulator::vpcd::VirtualCard::attach(Card::new(image), &address)
        .map_err(|e| CliError::bench(format!("cannot plug the card in: {e}")))?;
    say(format!(
        "card `{}` inserted into vpcd at {}:{} (commands: remove, insert, status, quit)",
        profile.name, args.host, args.port
    ));
    // Serve until stdin closes with `quit`; with no terminal attached, serve until killed.
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        match line.trim() {
            "remove" => {
                card.remove();
                say("removed");
            }
            "insert" => {
                card.insert();
                say("inserted");
            }
            "status" => {
                if let Ok(c) = card.card().lock() {
                    say(format!(
                        "inserted: {}, authentication PIN tries left: {}",
                        card.is_inserted(),
                        c.tries_left(PinRef::AuthPin)
                    ));
                }
            }
            "quit" | "exit" => return Ok(Exit::Ok),
            "" => {}
            other => say(format!(
                "unknown command `{other}` (remove, insert, status, quit)"
            )),
        }
    }
    // Standard input closed (e.g. started in the background): keep the card in the reader.
    loop {
        std::thread::park();
    }
}
