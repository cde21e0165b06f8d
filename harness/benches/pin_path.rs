//! The PIN path of the reference reader, in process, on one core.
//!
//! Goal: at least 500 PIN-path cases per second per core. Every benchmark reports
//! `Throughput::Elements(1)`, so criterion prints cases (or operations) per second.
//!
//! - `pin_path/sign_and_verify`: the card's RSA-2048 PKCS#1 v1.5 signature over a SHA-256
//!   DigestInfo plus the reader's check with the public key: the floor of a PIN-path case.
//! - `pin_path/pin_case_in_process`: `pin-valid[visit=first]` start to finish with
//!   `run_case` (reader thread, emulated card, qualification service over loopback HTTP).
//! - `pin_path_pieces/*`: the parts of a case's bench timed alone, to see where a case's
//!   time goes (the client's own runtime, the service and its certificate check, the HTTP
//!   exchange, the reader thread).
//!
//! After the benchmarks (with `cargo bench` only) it prints the mean time of each step of
//! the case and, when `target/release/myna-hil` exists, the wall time of
//! `myna-hil run scenarios --jobs 2` (for the README).
//!
//! Run: `cargo bench -p harness --bench pin_path` (photos from `.ci/fetch-photos`).

use card_emulator::pki::{sign_pkcs1, CertKind, TestPki};
use card_emulator::profile::KeySlot;
use criterion::{Criterion, Throughput};
use harness::cards::LoadedCard;
use harness::channel::guard::RunSecret;
use harness::engine::{run_case, CaseContext, RunService};
use harness::qualification::{
    BlockingQualificationClient, CertificateKey, InsuredRecord, QualificationClient, Server,
    ServerConfig, ServerHandle, TrustAnchor,
};
use harness::scenario::Case;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::sign::Verifier;
use reports::Verdict;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

const CASE: &str = "pin-valid[visit=first]";
const QUERY_DEADLINE: Duration = Duration::from_secs(5);

/// Everything `run_case` needs, built once.
struct Fixture {
    case: Case,
    card: Arc<LoadedCard>,
    secret: RunSecret,
    ca_der: Vec<u8>,
    crl_der: Vec<u8>,
    runtime: tokio::runtime::Runtime,
    faces: harness::face::MatcherPool,
    /// The run's qualification service, as `myna-hil run` starts it (kept alive by `_server`).
    service: RunService,
    _server: ServerHandle,
}

impl Fixture {
    fn load() -> Fixture {
        let file = repo_root().join("scenarios/reception/pin-valid.yaml");
        let cases = harness::scenario::load_cases(&file, &[])
            .unwrap_or_else(|d| panic!("{}: {d}", file.display()));
        let cards: harness::cards::LoadedCards = harness::cards::load_cards(
            cases.iter().filter_map(harness::scenario::Case::card_key),
            &harness::cards::cached_photo,
        )
        .unwrap_or_else(|e| panic!("cards ({e}); photos: run .ci/fetch-photos"));
        let case = cases
            .into_iter()
            .find(|c| c.id.ends_with(CASE))
            .unwrap_or_else(|| panic!("no case {CASE} in {}", file.display()));
        let card = case
            .card_key()
            .and_then(|k| cards.get(&k))
            .cloned()
            .expect("the PIN case brings a card");
        let pki = TestPki::shared().expect("test PKI");
        let profiles = cards.values().map(|c| &c.profile);
        let crl_der = pki.crl_for(profiles, case.date).expect("test CRL");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let ca_der = pki.ca_certificate_der().to_vec();
        let server = runtime
            .block_on(Server::start(ServerConfig::new(
                Vec::new(),
                ca_der.clone(),
                crl_der.clone(),
            )))
            .expect("the run's qualification service");
        let service = RunService {
            control: server.control(),
            client: QualificationClient::new(server.addr()),
        };
        Fixture {
            case,
            card,
            secret: RunSecret::generate(),
            ca_der,
            crl_der,
            runtime,
            faces: harness::face::MatcherPool::new(),
            service,
            _server: server,
        }
    }

    fn context(&self) -> CaseContext<'_> {
        CaseContext {
            seq: 0,
            desk: None,
            events: None,
            card: Some(&self.card),
            secret: &self.secret,
            ca_der: &self.ca_der,
            crl_der: &self.crl_der,
            runtime: self.runtime.handle(),
            vpcd: None,
            faces: &self.faces,
            device: None,
            service: Some(&self.service),
            real_card: None,
            card_reader: None,
        }
    }

    /// The service as the case's bench starts it: one record for the card, the case's date.
    fn server_config(&self) -> ServerConfig {
        let key = CertificateKey::from_der(&self.card.image.auth_certificate).expect("cert key");
        let mut config = ServerConfig::new(
            vec![InsuredRecord::example(key)],
            self.ca_der.clone(),
            self.crl_der.clone(),
        );
        config.today = Some(self.case.date);
        config
    }

    fn start_server(&self) -> ServerHandle {
        self.runtime
            .block_on(Server::start(self.server_config()))
            .expect("qualification service")
    }

    fn facility(&self) -> &str {
        &self.case.facility
    }

    fn certificate(&self) -> &[u8] {
        &self.card.image.auth_certificate
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// A query with a [`QualificationClient`] on the shared runtime, answered on a plain
/// channel: what a reader thread could do without a runtime of its own.
fn query_on(handle: &tokio::runtime::Handle, client: QualificationClient, f: &Fixture) -> bool {
    let (tx, rx) = mpsc::sync_channel(1);
    let certificate = f.certificate().to_vec();
    let facility = f.facility().to_owned();
    handle.spawn(async move {
        let answer = client
            .query_with_consent(&certificate, &facility, None, QUERY_DEADLINE)
            .await;
        let _ = tx.send(answer.is_ok());
    });
    rx.recv().unwrap_or(false)
}

fn pin_path(c: &mut Criterion, f: &Fixture) {
    let first = run_case(&f.case, &f.context()).result;
    assert_eq!(
        first.verdict,
        Verdict::Pass,
        "{} must pass before it is timed: {:?}\n{}",
        first.id,
        first.reason,
        first.evidence
    );

    let mut group = c.benchmark_group("pin_path");
    group.throughput(Throughput::Elements(1));

    // 1. The card's signature and the reader's check: the floor of a PIN-path case.
    {
        let pki = TestPki::shared().expect("test PKI");
        let private = pki
            .holder_key(KeySlot(0), CertKind::Authentication)
            .expect("holder key");
        let rsa = private.rsa().expect("RSA key");
        let public: PKey<Public> =
            PKey::public_key_from_der(&private.public_key_to_der().expect("public DER"))
                .expect("public key");
        let nonce = [0x5Au8; 32];
        let digest_info = card_emulator::commands::sha256_digest_info(&nonce);
        group.bench_function("sign_and_verify", |b| {
            b.iter(|| {
                let signature = sign_pkcs1(&rsa, black_box(&digest_info)).expect("sign");
                let mut verifier = Verifier::new(MessageDigest::sha256(), &public).expect("v");
                assert!(verifier.verify_oneshot(&signature, &nonce).expect("verify"));
            })
        });
    }

    // 2. One whole case, as the engine runs it (minus the reports).
    {
        let ctx = f.context();
        group.bench_function("pin_case_in_process", |b| {
            b.iter(|| {
                let result = run_case(black_box(&f.case), &ctx).result;
                assert_eq!(result.verdict, Verdict::Pass, "{:?}", result.reason);
                result
            })
        });
    }
    group.finish();

    pieces(c, f);
}

/// The parts of a case's bench, timed alone.
fn pieces(c: &mut Criterion, f: &Fixture) {
    let mut group = c.benchmark_group("pin_path_pieces");
    group.throughput(Throughput::Elements(1));
    let server = f.start_server();
    let addr = server.control().addr();
    let handle = f.runtime.handle();

    // The reader's client: a multi-thread runtime with one worker, built and shut down.
    group.bench_function("blocking_client_new_drop", |b| {
        b.iter(|| BlockingQualificationClient::new(black_box(addr)).expect("client"))
    });

    // The case's service: trust anchor (CA + CRL), records, a loopback listener.
    group.bench_function("server_start_stop", |b| {
        b.iter(|| {
            let server = f.start_server();
            server.control().stop();
            server
        })
    });

    // What a case does: a new blocking client (own runtime), one query on a new
    // connection, and the client dropped.
    group.bench_function("query_blocking_client_per_case", |b| {
        b.iter(|| {
            let client = BlockingQualificationClient::new(addr).expect("client");
            let answer =
                client.query_with_consent(f.certificate(), f.facility(), None, QUERY_DEADLINE);
            assert!(answer.is_ok(), "{answer:?}");
        })
    });

    // The alternative: the query on the engine's runtime, a new connection each time.
    group.bench_function("query_shared_runtime_new_connection", |b| {
        b.iter(|| assert!(query_on(handle, QualificationClient::new(addr), f)))
    });

    // The HTTP floor: one client kept, the connection kept alive.
    {
        let client = QualificationClient::new(addr);
        group.bench_function("query_shared_runtime_keep_alive", |b| {
            b.iter(|| assert!(query_on(handle, client.clone(), f)))
        });
    }

    // The service's share of a start: CA and CRL parsed, the CRL's signature checked.
    group.bench_function("trust_anchor_from_der", |b| {
        b.iter(|| TrustAnchor::from_der(black_box(&f.ca_der), &f.crl_der).expect("anchor"))
    });

    // One parse of the card's certificate (a case parses it four times: the service's
    // record, the reader twice, the service's query).
    group.bench_function("x509_from_der", |b| {
        b.iter(|| openssl::x509::X509::from_der(black_box(f.certificate())).expect("X.509"))
    });

    // The service's share of a query: the card's certificate parsed and checked.
    {
        let anchor = TrustAnchor::from_der(&f.ca_der, &f.crl_der).expect("anchor");
        group.bench_function("trust_anchor_check_der", |b| {
            b.iter(|| {
                anchor
                    .check_der(black_box(f.certificate()), f.case.date)
                    .expect("a valid certificate")
            })
        });
    }

    // The reader's own thread.
    group.bench_function("reader_thread_spawn_join", |b| {
        b.iter(|| {
            std::thread::Builder::new()
                .name("reader:bench".into())
                .spawn(|| black_box(1))
                .expect("thread")
                .join()
                .expect("join")
        })
    });
    group.finish();
    server.control().stop();
}

/// Mean time of each step `run_case` measures, over `n` cases.
fn step_breakdown(f: &Fixture, n: u32) {
    let ctx = f.context();
    let mut sums: Vec<(String, f64)> = Vec::new();
    let cpu_before = process_cpu_seconds();
    let start = Instant::now();
    for _ in 0..n {
        let result = run_case(&f.case, &ctx).result;
        for m in result.measurements.iter().filter(|m| m.unit == "ms") {
            match sums.iter_mut().find(|(name, _)| *name == m.name) {
                Some((_, sum)) => *sum += m.value,
                None => sums.push((m.name.clone(), m.value)),
            }
        }
    }
    let wall = start.elapsed();
    let cpu = process_cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    println!(
        "\n{CASE}: {n} cases back to back in {:.3} s = {:.0} cases/s",
        wall.as_secs_f64(),
        f64::from(n) / wall.as_secs_f64()
    );
    if let Some(cpu) = cpu {
        println!(
            "CPU time of the process (every thread): {:.3} ms a case = {:.0} cases/s per core busy",
            cpu * 1e3 / f64::from(n),
            f64::from(n) / cpu
        );
    }
    println!("mean per step (as run_case measures it):");
    for (name, sum) in &sums {
        println!("  {name:<16} {:>8.3} ms", sum / f64::from(n));
    }
}

/// User + system CPU time of this process, all threads (Linux, 100 ticks a second).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

/// Wall time of the whole suite with the release binary, for the README.
fn full_run() {
    let root = repo_root();
    let binary = root.join("target/release/myna-hil");
    if !binary.exists() {
        println!(
            "\n{} not built: no full-run time (cargo build --release -p harness)",
            binary.display()
        );
        return;
    }
    let out = std::env::temp_dir().join(format!("myna-hil-pin-path-{}", std::process::id()));
    let args = ["run", "scenarios", "--jobs", "2", "--out"];
    let start = Instant::now();
    let output = std::process::Command::new(&binary)
        .args(args)
        .arg(&out)
        .current_dir(&root)
        .output();
    let wall = start.elapsed();
    let _ = std::fs::remove_dir_all(&out);
    let output = match output {
        Ok(o) => o,
        Err(e) => {
            println!("\ncannot run {}: {e}", binary.display());
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.contains(" cases: "))
        .unwrap_or("(no summary line)");
    let cases: f64 = summary
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(f64::NAN);
    println!(
        "\ntarget/release/myna-hil run scenarios --jobs 2 (reports to a temporary folder): \
         {:.2} s wall, {summary} ({:.1} cases/s, exit {})",
        wall.as_secs_f64(),
        cases / wall.as_secs_f64(),
        output
            .status
            .code()
            .map_or("signal".into(), |c| c.to_string()),
    );
    println!("(the pcscd/vpcd variant of the PIN case is not measured here)");
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .configure_from_args()
}

fn main() {
    let fixture = Fixture::load();
    let mut c = config();
    pin_path(&mut c, &fixture);
    c.final_summary();
    // `cargo bench` passes --bench; `cargo test --benches` does not (it runs each once).
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--list") {
        step_breakdown(&fixture, 1000);
        full_run();
    }
}
