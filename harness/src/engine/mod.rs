//! The scenario engine: runs cases in parallel on a tokio runtime, each case on a blocking
//! thread with its own test bench, and hands each finished case to the caller (who appends it
//! to the run log, `reports::log`). The engine keeps no results and writes no file: its cost
//! per case does not grow with the run.

mod case_runner;
pub mod explain;
mod ground_truth;
pub mod oracle;
mod pool;
mod schedule;
mod verdict;
pub mod vpcd_conf;
mod vpcd_pool;

pub use case_runner::{planned, run_case, CaseContext, CaseRun, RunService};
pub use ground_truth::FaceClaim;
pub use verdict::{judge_case, Observed};

use crate::cards::LoadedCards;
use crate::channel::guard::{Policy, RunSecret};
use crate::scenario::Case;
use card_emulator::pki::TestPki;
use reports::CaseResult;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// `--partition K/N`: run the cases whose stable id hashes to shard K of N.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    pub index: u32,
    pub count: u32,
}

impl Partition {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not a partition like 1/3");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(format!("partition {text}: K must be 1..=N"));
        }
        Ok(Partition { index, count })
    }

    /// Stable across machines and runs: FNV-1a of the case id.
    pub fn contains(&self, case_id: &str) -> bool {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in case_id.bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hash % u64::from(self.count) == u64::from(self.index - 1)
    }
}

/// Where the cases' cards are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CardSite {
    /// The emulator called directly.
    InProcess,
    /// The emulator swapped into these vpcd readers (port, PC/SC name), reached through pcscd.
    Vpcd(Vec<(u16, String)>),
    /// Whatever card lies in this PC/SC reader (a vendor's card described by the case's
    /// profile): real unless it answers this run's nonce, so PIN-spending commands follow
    /// the policy. One case at a time.
    Reader { name: String, policy: Policy },
    /// Real cards on the device under test, out of the harness's reach: PINs are typed
    /// under this policy.
    OnDevice(Policy),
}

impl CardSite {
    /// The vpcd readers pcscd is configured with (`/etc/reader.conf.d`; `.ci/vpcd-readers`
    /// sets up 16), or Debian's default two.
    pub fn default_vpcd() -> CardSite {
        CardSite::Vpcd(vpcd_conf::installed_vpcd_readers())
    }
}

pub struct RunOptions {
    pub jobs: usize,
    pub cards: CardSite,
    /// Once set, no further case starts (the running ones finish): an interrupt, or a run
    /// log that can no longer be written.
    pub stop: Arc<AtomicBool>,
    /// Devices under test instead of the reference reader (cards then go through pcscd
    /// or lie on the devices): each serves one case at a time, and the cases are spread
    /// over them. Empty: the reference reader.
    pub devices: Vec<Arc<crate::dut::driver::Device>>,
    /// Where `operator` steps are asked and answered; `None`: a case with one is an error
    /// (the command line refuses such a run before it starts).
    pub desk: Option<crate::operator::Desk>,
    /// Told when a case starts and when each of its steps starts (a live view).
    pub events: Option<RunEvents>,
}

/// What a run tells a live view as it goes (a case's end comes with its result, through
/// the run's `on_result`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunEvent {
    CaseStarted {
        seq: usize,
        id: String,
    },
    Step {
        seq: usize,
        index: usize,
        name: &'static str,
    },
}

/// Where a run's events go.
pub type RunEvents = Arc<dyn Fn(&RunEvent) + Send + Sync>;

/// Why a run could not run: always the test bench's fault (a case's own failures are its
/// verdicts, never this).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RunError(String);

impl crate::failure::Classified for RunError {
    fn class(&self) -> crate::failure::FailureClass {
        crate::failure::FailureClass::Bench
    }
}

/// A finished case: its position among the cases given, its result, the face decision the
/// reader reported in it, how many have finished so far (this one included) and how many
/// there are.
pub struct Finished {
    pub seq: usize,
    pub result: CaseResult,
    pub face: Option<FaceClaim>,
    pub done: usize,
    pub total: usize,
}

/// Runs `cases` (already filtered), handing each result to `on_result` as it finishes (from
/// the worker thread that ran it, in finishing order). What finished is what `on_result`
/// was given; a case not started after a stop is given nothing.
pub fn run(
    cases: Vec<Case>,
    cards: LoadedCards,
    options: &RunOptions,
    on_result: impl Fn(Finished) + Send + Sync + 'static,
) -> Result<(), RunError> {
    run_inner(cases, cards, options, on_result).map_err(RunError)
}

/// [`run`] keeping every result, in case order: for library users and tests with few cases.
pub fn run_collect(
    cases: Vec<Case>,
    cards: LoadedCards,
    options: &RunOptions,
) -> Result<Vec<CaseResult>, RunError> {
    let collected = Arc::new(Mutex::new(Vec::new()));
    let sink = collected.clone();
    run(cases, cards, options, move |f| {
        if let Ok(mut c) = sink.lock() {
            c.push((f.seq, f.result));
        }
    })?;
    let mut collected = std::mem::take(
        &mut *collected
            .lock()
            .map_err(|_| RunError("results lock poisoned".into()))?,
    );
    collected.sort_by_key(|(i, _)| *i);
    Ok(collected.into_iter().map(|(_, r)| r).collect())
}

fn run_inner(
    cases: Vec<Case>,
    cards: LoadedCards,
    options: &RunOptions,
    on_result: impl Fn(Finished) + Send + Sync + 'static,
) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let pki = TestPki::shared().map_err(|e| e.to_string())?;
    let profiles: Vec<&card_emulator::CardProfile> = cards.values().map(|c| &c.profile).collect();
    let today = cases
        .iter()
        .map(|c| c.date)
        .min()
        .unwrap_or(time::macros::date!(2025 - 01 - 01));
    let crl = pki
        .crl_for(profiles, today)
        .map_err(|e| format!("test CA revocation list: {e}"))?;
    let shared = Arc::new(Shared {
        secret: RunSecret::generate(),
        ca: pki.ca_certificate_der().to_vec(),
        crl,
        cards,
        done: AtomicUsize::new(0),
        stop: options.stop.clone(),
        total: cases.len(),
        on_result: Box::new(on_result),
        faces: crate::face::MatcherPool::new(),
    });
    // A device under test serves one case at a time (so as many run at once as there are
    // devices), and so does a card in a named reader.
    let jobs = if !options.devices.is_empty() {
        options.devices.len()
    } else if matches!(options.cards, CardSite::Reader { .. }) {
        1
    } else {
        options.jobs.max(1)
    };
    let devices = Arc::new(pool::Pool::new(options.devices.clone()));
    let with_devices = !options.devices.is_empty();
    // The vpcd readers are opened only when a case has a card to put into them.
    let placeholder = shared.cards.values().next().map(|c| c.image.clone());
    let pool = match (&options.cards, placeholder) {
        // As many readers as cases run at once, and a spare: each is plugged and checked
        // at the start.
        (CardSite::Vpcd(readers), Some(placeholder)) => {
            let readers = &readers[..(jobs + vpcd_pool::SPARE_READERS).min(readers.len())];
            Some(Arc::new(vpcd_pool::VpcdPool::open(readers, || {
                card_emulator::Card::new(placeholder.clone())
            })?))
        }
        _ => None,
    };
    // One qualification service for the run's in-process cases (each case opens its own
    // service on it); a device under test gets a server per case (case_runner).
    let server = runtime
        .block_on(crate::qualification::Server::start(
            crate::qualification::ServerConfig::new(
                Vec::new(),
                shared.ca.clone(),
                shared.crl.clone(),
            ),
        ))
        .map_err(|e| format!("qualification service: {e}"))?;
    let service = Arc::new(RunService {
        control: server.control(),
        client: crate::qualification::QualificationClient::new(server.addr()),
    });
    // The longest cases start first (schedule.rs); each keeps its position for the reports.
    let costs: Vec<_> = cases
        .iter()
        .map(|c| {
            let card = c.card_key().and_then(|k| shared.cards.get(&k));
            schedule::expected_cost(c, card.map(|c| c.as_ref()))
        })
        .collect();
    let mut slots: Vec<Option<Case>> = cases.into_iter().map(Some).collect();
    let in_order: Vec<(usize, Case)> = schedule::start_order(&costs)
        .into_iter()
        .filter_map(|i| slots[i].take().map(|c| (i, c)))
        .collect();
    runtime.block_on(async {
        let limit = Arc::new(tokio::sync::Semaphore::new(jobs));
        let mut tasks = Vec::with_capacity(in_order.len());
        for (index, case) in in_order {
            let permit = limit.clone().acquire_owned().await;
            let shared = shared.clone();
            let pool = pool.clone();
            let devices = devices.clone();
            let service = service.clone();
            let cards = options.cards.clone();
            let desk = options.desk.clone();
            let events = options.events.clone();
            let handle = tokio::runtime::Handle::current();
            tasks.push(tokio::task::spawn_blocking(move || {
                let _permit = permit;
                if shared.stop.load(Ordering::SeqCst) {
                    return;
                }
                let card = case.card_key().and_then(|k| shared.cards.get(&k)).cloned();
                // A free device (there is one for every permit), held for the whole case.
                let device = with_devices.then(|| devices.take()).flatten();
                if let Some(tell) = &events {
                    tell(&RunEvent::CaseStarted {
                        seq: index,
                        id: case.id.clone(),
                    });
                }
                let ctx = CaseContext {
                    seq: index,
                    desk: desk.as_ref(),
                    events: events.as_ref(),
                    card: card.as_deref(),
                    secret: &shared.secret,
                    ca_der: &shared.ca,
                    crl_der: &shared.crl,
                    runtime: &handle,
                    vpcd: pool.as_deref(),
                    faces: &shared.faces,
                    device: device.as_deref(),
                    service: Some(&service),
                    real_card: match &cards {
                        CardSite::OnDevice(policy) => Some(*policy),
                        _ => None,
                    },
                    card_reader: match &cards {
                        CardSite::Reader { name, policy } => Some((name.as_str(), *policy)),
                        _ => None,
                    },
                };
                shared.finished(index, run_case(&case, &ctx));
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        server.shutdown().await;
    });
    Ok(())
}

type ResultHook = Box<dyn Fn(Finished) + Send + Sync>;

struct Shared {
    secret: RunSecret,
    ca: Vec<u8>,
    crl: Vec<u8>,
    cards: LoadedCards,
    done: AtomicUsize,
    stop: Arc<AtomicBool>,
    total: usize,
    on_result: ResultHook,
    faces: crate::face::MatcherPool,
}

impl Shared {
    /// Hands a finished case to the caller.
    fn finished(&self, seq: usize, run: CaseRun) {
        let done = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        (self.on_result)(Finished {
            seq,
            result: run.result,
            face: run.face,
            done,
            total: self.total,
        });
    }
}

/// Whether a progress line suits stderr now.
pub fn progress_wanted() -> bool {
    std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_cover_every_case_exactly_once() {
        let ids: Vec<String> = (0..500).map(|i| format!("reception.case-{i}")).collect();
        let parts: Vec<Partition> = (1..=3).map(|k| Partition { index: k, count: 3 }).collect();
        for id in &ids {
            assert_eq!(parts.iter().filter(|p| p.contains(id)).count(), 1, "{id}");
        }
        let sizes: Vec<usize> = parts
            .iter()
            .map(|p| ids.iter().filter(|id| p.contains(id)).count())
            .collect();
        assert!(sizes.iter().all(|&n| n > 120), "balanced enough: {sizes:?}");
        assert!(Partition::parse("0/3").is_err());
        assert!(Partition::parse("4/3").is_err());
        assert_eq!(
            Partition::parse("2/3"),
            Ok(Partition { index: 2, count: 3 })
        );
    }
}
