//! The scenario engine: runs cases in parallel on a tokio runtime, each case on a blocking
//! thread with its own test bench, and keeps the JUnit and JSON reports on disk valid after every
//! finished case (rewritten through a temporary file and a rename), so a killed run keeps
//! everything it finished.

mod case_runner;
pub mod oracle;
mod verdict;
mod vpcd_pool;

pub use case_runner::{run_case, CaseContext};
pub use verdict::{judge_case, Observed};
pub use vpcd_pool::vpcd_reader_name;

use crate::cards::LoadedCard;
use crate::channel::guard::{Policy, RunSecret};
use crate::scenario::Case;
use card_emulator::pki::TestPki;
use reports::junit::RunStamp;
use reports::results::ResultsFile;
use reports::CaseResult;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
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
    /// The two default vpcd readers.
    pub fn default_vpcd() -> CardSite {
        CardSite::Vpcd(
            (0..2u16)
                .map(|i| {
                    (
                        card_emulator::vpcd::DEFAULT_PORT + i,
                        vpcd_pool::vpcd_reader_name(i),
                    )
                })
                .collect(),
        )
    }
}

pub struct RunOptions {
    pub jobs: usize,
    pub cards: CardSite,
    pub partition: Option<Partition>,
    pub junit: Option<PathBuf>,
    pub json: Option<PathBuf>,
    /// Print a progress line on stderr (when it is a terminal).
    pub progress: bool,
    /// A device under test instead of the reference reader (cards then go through pcscd
    /// or lie on the device).
    pub device: Option<Arc<crate::dut::driver::Device>>,
}

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

/// Runs `cases` (already filtered) and returns their results in case order.
pub fn run(
    cases: Vec<Case>,
    cards: BTreeMap<PathBuf, Arc<LoadedCard>>,
    options: &RunOptions,
    on_result: impl Fn(&CaseResult, usize, usize) + Send + Sync + 'static,
) -> Result<Vec<CaseResult>, RunError> {
    run_inner(cases, cards, options, on_result).map_err(RunError)
}

fn run_inner(
    cases: Vec<Case>,
    cards: BTreeMap<PathBuf, Arc<LoadedCard>>,
    options: &RunOptions,
    on_result: impl Fn(&CaseResult, usize, usize) + Send + Sync + 'static,
) -> Result<Vec<CaseResult>, String> {
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
        collected: Mutex::new(Vec::new()),
        junit: options.junit.clone(),
        json: options.json.clone(),
        stamp: run_stamp(),
        partition: options
            .partition
            .map(|p| format!("{}/{}", p.index, p.count)),
        total: cases.len(),
        on_result: Box::new(on_result),
        faces: crate::face::MatcherPool::new(),
    });
    // A device under test serves one case at a time, and so does a card in a named reader.
    let jobs = if options.device.is_some() || matches!(options.cards, CardSite::Reader { .. }) {
        1
    } else {
        options.jobs.max(1)
    };
    // The vpcd readers are opened only when a case has a card to put into them.
    let placeholder = shared.cards.values().next().map(|c| c.image.clone());
    let pool = match (&options.cards, placeholder) {
        (CardSite::Vpcd(readers), Some(placeholder)) => {
            Some(Arc::new(vpcd_pool::VpcdPool::open(readers, || {
                card_emulator::Card::new(placeholder.clone())
            })?))
        }
        _ => None,
    };
    runtime.block_on(async {
        let limit = Arc::new(tokio::sync::Semaphore::new(jobs));
        let mut tasks = Vec::with_capacity(cases.len());
        for (index, case) in cases.into_iter().enumerate() {
            let permit = limit.clone().acquire_owned().await;
            let shared = shared.clone();
            let pool = pool.clone();
            let device = options.device.clone();
            let cards = options.cards.clone();
            let handle = tokio::runtime::Handle::current();
            tasks.push(tokio::task::spawn_blocking(move || {
                let _permit = permit;
                let card = case
                    .card
                    .as_ref()
                    .and_then(|p| shared.cards.get(p))
                    .cloned();
                let ctx = CaseContext {
                    card: card.as_deref(),
                    secret: &shared.secret,
                    ca_der: &shared.ca,
                    crl_der: &shared.crl,
                    runtime: &handle,
                    vpcd: pool.as_deref(),
                    faces: &shared.faces,
                    device: device.as_ref(),
                    real_card: match &cards {
                        CardSite::OnDevice(policy) => Some(*policy),
                        _ => None,
                    },
                    card_reader: match &cards {
                        CardSite::Reader { name, policy } => Some((name.as_str(), *policy)),
                        _ => None,
                    },
                };
                let result = run_case(&case, &ctx);
                shared.finished(index, result);
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    let mut collected = shared
        .collected
        .lock()
        .map_err(|_| "results lock poisoned".to_owned())?
        .clone();
    collected.sort_by_key(|(i, _)| *i);
    Ok(collected.into_iter().map(|(_, r)| r).collect())
}

type ResultHook = Box<dyn Fn(&CaseResult, usize, usize) + Send + Sync>;

struct Shared {
    secret: RunSecret,
    ca: Vec<u8>,
    crl: Vec<u8>,
    cards: BTreeMap<PathBuf, Arc<LoadedCard>>,
    collected: Mutex<Vec<(usize, CaseResult)>>,
    junit: Option<PathBuf>,
    json: Option<PathBuf>,
    stamp: RunStamp,
    partition: Option<String>,
    total: usize,
    on_result: ResultHook,
    faces: crate::face::MatcherPool,
}

impl Shared {
    /// Records a finished case and rewrites the reports with everything finished so far.
    fn finished(&self, index: usize, result: CaseResult) {
        let Ok(mut collected) = self.collected.lock() else {
            return;
        };
        collected.push((index, result.clone()));
        let mut ordered = collected.clone();
        ordered.sort_by_key(|(i, _)| *i);
        let results: Vec<CaseResult> = ordered.into_iter().map(|(_, r)| r).collect();
        write_reports(
            self.junit.as_deref(),
            self.json.as_deref(),
            self.partition.clone(),
            &results,
            &self.stamp,
        );
        (self.on_result)(&result, collected.len(), self.total);
    }
}

/// Writes JUnit and JSON for `results`; a write error is printed, the run goes on.
pub fn write_reports(
    junit: Option<&Path>,
    json: Option<&Path>,
    partition: Option<String>,
    results: &[CaseResult],
    stamp: &RunStamp,
) {
    if let Some(path) = junit {
        if let Err(e) = reports::junit::write(path, results, stamp) {
            eprintln!("error: {e}");
        }
    }
    if let Some(path) = json {
        if let Err(e) = ResultsFile::new(partition, results.to_vec()).write(path) {
            eprintln!("error: {e}");
        }
    }
}

/// Now, and this host's name as the kernel has it (blank when unreadable: JUnit then says
/// "localhost").
pub fn run_stamp() -> RunStamp {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    RunStamp {
        started: time::OffsetDateTime::now_utc(),
        hostname: hostname.trim().to_owned(),
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
