//! Channels coming and going while others transmit, as parallel cases do through pcscd.
//!
//! pcsc-lite's client library (1.9.9 here, and its master too) finds the context of an
//! `SCARDHANDLE` by walking the handle list of *every* context of the process under its
//! global lock, while `SCardConnect` and `SCardDisconnect` change their own context's list
//! under that context's lock only. A transmit in one thread racing a connect or disconnect
//! in another walks a list that is being changed: a run died of a general protection fault
//! in that walk (`list_seek` in libpcsclite). The harness driver keeps connects and
//! disconnects apart from the other calls (`pcsc_driver::HandleTable`); the test below
//! churns channels through it, and the ignored one shows the race with the bare `pcsc`
//! crate.

use card_emulator::card::Card;
use card_emulator::image::CardImage;
use card_emulator::vpcd::{VirtualCard, VpcdAddress};
use harness::channel::pcsc_driver::{self, PcscChannel};
use harness::channel::CardChannel;
use myna_hil_tests::{reader_slot, shipped_profile, ReaderSlot};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const GET_CHALLENGE: [u8; 5] = [0x00, 0x84, 0x00, 0x00, 0x08];
const THREADS_PER_READER: usize = 3;

fn plug(slot: &ReaderSlot) -> VirtualCard {
    let image = CardImage::build(&shipped_profile("valid")).expect("card image");
    let address = VpcdAddress {
        port: slot.port(),
        ..VpcdAddress::default()
    };
    let card = VirtualCard::attach(Card::new(Arc::new(image)), &address).expect("attach");
    pcsc_driver::wait_for_card(slot.reader(), Duration::from_secs(5)).expect("card seen");
    card
}

/// Runs `round` in THREADS_PER_READER threads on each of both readers for `period`;
/// returns how many rounds completed.
fn churn(period: Duration, round: fn(&str) -> Result<(), String>) -> u64 {
    let slots = [reader_slot(0), reader_slot(1)];
    let _cards: Vec<VirtualCard> = slots.iter().map(plug).collect();
    let rounds = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + period;
    let workers: Vec<_> = slots
        .iter()
        .flat_map(|slot| std::iter::repeat_n(slot.reader(), THREADS_PER_READER))
        .map(|reader| {
            let rounds = Arc::clone(&rounds);
            std::thread::spawn(move || {
                while Instant::now() < end {
                    round(reader).unwrap_or_else(|e| panic!("{reader}: {e}"));
                    rounds.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("worker");
    }
    rounds.load(Ordering::Relaxed)
}

/// One case's worth of PC/SC through the harness driver: connect, a few APDUs, drop.
fn through_the_driver(reader: &str) -> Result<(), String> {
    let mut channel =
        PcscChannel::connect(reader, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    for _ in 0..4 {
        channel
            .transmit(&GET_CHALLENGE)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The same with the bare `pcsc` crate, each thread with its own context as pcsc-lite asks.
fn bare(reader: &str) -> Result<(), String> {
    use pcsc::{Context, Disposition, Protocols, Scope, ShareMode};
    let ctx = Context::establish(Scope::User).map_err(|e| e.to_string())?;
    let name = std::ffi::CString::new(reader).map_err(|e| e.to_string())?;
    let card = ctx
        .connect(&name, ShareMode::Shared, Protocols::ANY)
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 258];
    for _ in 0..4 {
        card.transmit(&GET_CHALLENGE, &mut buf)
            .map_err(|e| e.to_string())?;
    }
    card.disconnect(Disposition::LeaveCard)
        .map_err(|(_, e)| e.to_string())?;
    Ok(())
}

/// How long to churn: `CHURN_SECS` in the environment, else `default` seconds.
fn period(default: u64) -> Duration {
    let secs = std::env::var("CHURN_SECS")
        .ok()
        .and_then(|s| s.parse().ok());
    Duration::from_secs(secs.unwrap_or(default))
}

#[test]
fn channels_come_and_go_while_others_transmit() {
    let period = period(8);
    let rounds = churn(period, through_the_driver);
    eprintln!("{rounds} connect/transmit/disconnect rounds in {period:?}");
    assert!(rounds > 100, "only {rounds} rounds completed");
}

/// Shows the pcsc-lite race: dies of SIGSEGV within seconds to minutes here.
/// `cargo test -p myna-hil-tests --test pcsc_churn -- --ignored`
#[test]
#[ignore = "crashes the test process by design (the pcsc-lite race the driver avoids)"]
fn bare_pcsc_lite_races() {
    let period = period(120);
    let rounds = churn(period, bare);
    eprintln!("{rounds} rounds in {period:?} without a crash");
}
