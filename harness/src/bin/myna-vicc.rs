//! myna-vicc: put an emulated My Number Card into your own pcscd through vpcd.
//!
//! ```text
//! myna-vicc --profile scenarios/cards/valid.yaml [--host 127.0.0.1] [--port 35963]
//! ```
//! The card stays inserted until the process ends. Commands on standard input:
//! `remove`, `insert`, `status`, `quit`.

use card_emulator::{Card, CardImage, PinRef};
use clap::Parser;
use harness::cards::{cached_photo, load_profile};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    version,
    about = "Put an emulated My Number Card into pcscd through vsmartcard's vpcd"
)]
struct Args {
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

fn main() -> ExitCode {
    let args = Args::parse();
    let profile = match load_profile(&args.profile, &cached_photo) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let image = match CardImage::build(&profile) {
        Ok(i) => Arc::new(i),
        Err(e) => {
            eprintln!("error: cannot build the card: {e}");
            return ExitCode::from(2);
        }
    };
    let address = card_emulator::vpcd::VpcdAddress {
        host: args.host.clone(),
        port: args.port,
    };
    let card = match card_emulator::vpcd::VirtualCard::attach(Card::new(image), &address) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot plug the card in: {e}");
            return ExitCode::from(1);
        }
    };
    println!(
        "card `{}` inserted into vpcd at {}:{} (commands: remove, insert, status, quit)",
        profile.name, args.host, args.port
    );
    // Serve until stdin closes with `quit`; with no terminal attached, serve until killed.
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        match line.trim() {
            "remove" => {
                card.remove();
                println!("removed");
            }
            "insert" => {
                card.insert();
                println!("inserted");
            }
            "status" => {
                if let Ok(c) = card.card().lock() {
                    println!(
                        "inserted: {}, authentication PIN tries left: {}",
                        card.is_inserted(),
                        c.tries_left(PinRef::AuthPin)
                    );
                }
            }
            "quit" | "exit" => return ExitCode::SUCCESS,
            "" => {}
            other => println!("unknown command `{other}` (remove, insert, status, quit)"),
        }
    }
    // Standard input closed (e.g. started in the background): keep the card in the reader.
    loop {
        std::thread::park();
    }
}
