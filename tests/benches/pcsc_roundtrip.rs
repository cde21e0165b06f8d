//! PC/SC round trip through the real pcscd + vpcd: what the harness driver costs on top of
//! the PC/SC floor, measured side by side in one run on one reader and one emulated card.
//!
//! Methods, all on reader "Virtual PCD 00 01" (slot 1) with the `valid` card:
//! - C: `benches/scard_loop.c`, a plain `SCardTransmit` loop in its own process, compiled
//!   at run time with `cc -O2` into the target dir;
//! - the `pcsc` crate's `Card::transmit` on the calling thread (no deadline);
//! - the harness driver `PcscChannel` (a worker thread per channel, deadline 2 s);
//! - `GuardedChannel` over it, as the harness really uses it (policy check, trace).
//!
//! APDUs: after SELECT JPKI-AP, READ BINARY 4 bytes of EF 0006 ("short") and 255 bytes of
//! EF 000A. Percentiles come from single calls timed with `Instant` (CLOCK_MONOTONIC, as
//! the C loop): 10 rounds of 200 calls per method, each round starting with the next
//! method, so drift and other load on this shared machine hit all methods alike. Criterion
//! measures the in-process methods too; its estimates see that drift, the table does not.
//!
//! Goal: median overhead of the harness driver over the C loop ≤ 10 µs with deadlines on.
//!
//! On this VM (2 vCPUs, `guest_halt_poll_ns` 0) every wake-up of a sleeping vCPU costs
//! about 20 µs, which dominates everything else. The C process (fresh each round) often
//! lands in another scheduling regime than the long-lived threads here, by ±30 µs either
//! way; hence the column against the `pcsc` crate, the same floor inside this process.
//!
//! The driver's handoff (poll `try_recv` + `yield_now`, then `recv_timeout`) was chosen
//! here against `sync_channel(0)`, `Mutex` + `Condvar`, park/unpark and spinning on either
//! side, since removed: every sleeping handoff costs a ~20 µs vCPU wake-up per call, and
//! spinning starves pcscd and the card on 2 vCPUs.
//!
//! Without pcscd or vpcd the bench says so and exits 0 without measuring.
//!
//! Run: `cargo bench -p myna-hil-tests --bench pcsc_roundtrip` (about 20 s).

use criterion::Criterion;
use harness::channel::guard::{GuardedChannel, Policy, RunSecret};
use harness::channel::pcsc_driver::PcscChannel;
use harness::channel::CardChannel;
use myna_hil_tests::{attach, Attached, CardSite};
use myna_hil_tests::{reader_slot, shipped_profile, ReaderSlot, PCSCD};
use std::ffi::CString;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The slot (and so the reader) this bench uses.
const SLOT: usize = 1;
/// The deadline of the harness channels (the harness default).
const DEADLINE: Duration = Duration::from_secs(2);
const VPCD_CONF: &str = "/etc/reader.conf.d/vpcd";

const SELECT_JPKI: [u8; 15] = [
    0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01,
];

/// One of the two APDUs measured.
struct Apdu {
    /// Criterion group name.
    key: &'static str,
    /// The C loop's argument for it.
    c_kind: &'static str,
    title: &'static str,
    select_ef: [u8; 7],
    read: [u8; 5],
    /// Response data bytes (without the status word).
    data_len: usize,
}

const APDUS: [Apdu; 2] = [
    Apdu {
        key: "short_apdu",
        c_kind: "short",
        title: "Short APDU: READ BINARY 4 bytes of EF 0006 (00 B0 00 00 04)",
        select_ef: [0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x06],
        read: [0x00, 0xB0, 0x00, 0x00, 0x04],
        data_len: 4,
    },
    Apdu {
        key: "read_binary_255",
        c_kind: "long",
        title: "255-byte APDU: READ BINARY 255 bytes of EF 000A (00 B0 00 00 FF)",
        select_ef: [0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0A],
        read: [0x00, 0xB0, 0x00, 0x00, 0xFF],
        data_len: 255,
    },
];

/// How much to measure: `rounds` interleaved rounds, in each one block of `block` timed
/// calls per method after `warm_up` untimed ones.
#[derive(Clone, Copy)]
struct Plan {
    rounds: usize,
    block: usize,
    warm_up: usize,
}

const FULL: Plan = Plan {
    rounds: 10,
    block: 200,
    warm_up: 20,
};
/// `cargo test --benches`: only check that everything works.
const QUICK: Plan = Plan {
    rounds: 1,
    block: 20,
    warm_up: 5,
};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    if has("--list") {
        // Answered without pcscd, so listing works on any machine.
        for apdu in &APDUS {
            for id in ["pcsc_crate", "pcsc_channel", "guarded_channel"] {
                println!("{}/{id}: benchmark", apdu.key);
            }
        }
        return;
    }
    if let Some(why) = missing_pc_sc_stack() {
        println!("pcsc_roundtrip: skipped, nothing measured: {why}");
        return;
    }
    let plan = if has("--bench") && !has("--test") {
        FULL
    } else {
        QUICK
    };
    let c_loop = build_c_loop()
        .map_err(|e| println!("pcsc_roundtrip: the C loop is left out: {e}"))
        .ok();

    let slot = reader_slot(SLOT);
    let reader = slot.reader();
    let mut attached = attach_valid_card(&slot);
    let started = Instant::now();
    let tables: Vec<Vec<Row>> = {
        let mut methods = methods(reader, c_loop, &mut attached.channel);
        run_criterion(&mut methods);
        APDUS
            .iter()
            .map(|apdu| measure(apdu, plan, &mut methods))
            .collect()
    };
    let measuring = started.elapsed();
    attached.detach();
    drop(slot);

    println!();
    println!("## PC/SC round trip on {reader} (vpcd, emulated `valid` card)");
    println!();
    println!(
        "Percentiles of single calls (CLOCK_MONOTONIC), {} rounds x {} calls per method, \
         interleaved; measuring took {:.1} s.",
        plan.rounds,
        plan.block,
        measuring.as_secs_f64()
    );
    for (apdu, rows) in APDUS.iter().zip(&tables) {
        print_table(apdu, rows);
    }
}

/// Why the real PC/SC stack is not there, if it is not.
fn missing_pc_sc_stack() -> Option<String> {
    if !Path::new(PCSCD).exists() {
        return Some(format!(
            "{PCSCD} is missing (apt packages pcscd vsmartcard-vpcd, see docs/platform.md)"
        ));
    }
    if !Path::new(VPCD_CONF).exists() {
        return Some(format!(
            "{VPCD_CONF} is missing: vsmartcard-vpcd is not installed"
        ));
    }
    None
}

/// Puts the emulated `valid` card into the slot's reader, as a harness run does.
fn attach_valid_card(slot: &ReaderSlot) -> Attached {
    let site = CardSite::Vpcd {
        port: slot.port(),
        reader: slot.reader().to_owned(),
    };
    let policy = Policy {
        allow_destructive: false,
    };
    attach(
        &shipped_profile("valid"),
        &site,
        &RunSecret::generate(),
        policy,
        DEADLINE,
    )
    .unwrap_or_else(|e| panic!("cannot put the card into {}: {e}", slot.reader()))
}

// ---------------------------------------------------------------------------------------
// The methods

/// A method measured in this process.
enum Channel<'a> {
    PcscCrate(pcsc::Card),
    Driver(PcscChannel),
    Guarded(&'a mut GuardedChannel<Box<dyn CardChannel>>),
}

/// A row of the table.
enum Method<'a> {
    /// The C loop: a fresh process per block.
    CLoop {
        binary: PathBuf,
        reader: &'static str,
    },
    InProcess(Channel<'a>),
}

fn methods<'a>(
    reader: &'static str,
    c_loop: Option<PathBuf>,
    guarded: &'a mut GuardedChannel<Box<dyn CardChannel>>,
) -> Vec<Method<'a>> {
    let reader_c = CString::new(reader).expect("reader name without NUL");
    // The card keeps its context alive.
    let card = pcsc::Context::establish(pcsc::Scope::User)
        .and_then(|ctx| ctx.connect(&reader_c, pcsc::ShareMode::Shared, pcsc::Protocols::ANY))
        .expect("SCardEstablishContext + SCardConnect");
    let driver = PcscChannel::connect(reader, DEADLINE).expect("PcscChannel::connect");
    let in_process = [
        Channel::PcscCrate(card),
        Channel::Driver(driver),
        Channel::Guarded(guarded),
    ];
    c_loop
        .map(|binary| Method::CLoop { binary, reader })
        .into_iter()
        .chain(in_process.into_iter().map(Method::InProcess))
        .collect()
}

impl Method<'_> {
    fn label(&self) -> &'static str {
        match self {
            Method::CLoop { .. } => "C `SCardTransmit` loop (scard_loop.c, -O2)",
            Method::InProcess(channel) => channel.label(),
        }
    }

    /// One block of `plan.block` timed READ BINARY calls; their times in ns.
    fn timed_block(&mut self, apdu: &Apdu, plan: Plan) -> Vec<u64> {
        match self {
            Method::CLoop { binary, reader } => run_c_loop(binary, reader, apdu, plan.block)
                .unwrap_or_else(|e| panic!("C loop: {e}")),
            Method::InProcess(channel) => {
                channel.select(apdu);
                for _ in 0..plan.warm_up {
                    channel.read_binary(apdu);
                }
                let samples = (0..plan.block)
                    .map(|_| channel.read_binary(apdu).as_nanos() as u64)
                    .collect();
                channel.tidy();
                samples
            }
        }
    }
}

impl Channel<'_> {
    /// Also the criterion id.
    fn id(&self) -> &'static str {
        match self {
            Channel::PcscCrate(_) => "pcsc_crate",
            Channel::Driver(_) => "pcsc_channel",
            Channel::Guarded(_) => "guarded_channel",
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Channel::PcscCrate(_) => "pcsc crate `Card::transmit`, calling thread, no deadline",
            Channel::Driver(_) => "harness `PcscChannel` (worker thread, deadline 2 s)",
            Channel::Guarded(_) => "harness `GuardedChannel<PcscChannel>` (as the harness runs)",
        }
    }

    /// Sends one APDU; returns the response length, or an error unless the SW is 9000.
    fn transmit(&mut self, apdu: &[u8]) -> Result<usize, String> {
        match self {
            Channel::PcscCrate(card) => {
                let mut buf = [0; pcsc::MAX_BUFFER_SIZE];
                ok_len(card.transmit(apdu, &mut buf).map_err(|e| e.to_string())?)
            }
            Channel::Driver(channel) => {
                ok_len(&channel.transmit(apdu).map_err(|e| e.to_string())?.bytes)
            }
            Channel::Guarded(channel) => {
                ok_len(&channel.transmit(apdu).map_err(|e| e.to_string())?.bytes)
            }
        }
    }

    fn select(&mut self, apdu: &Apdu) {
        for command in [&SELECT_JPKI[..], &apdu.select_ef[..]] {
            let len = self
                .transmit(command)
                .unwrap_or_else(|e| panic!("{}: SELECT: {e}", self.label()));
            assert_eq!(len, 2, "{}: SELECT answered data", self.label());
        }
    }

    /// One checked READ BINARY; returns how long the transmit alone took.
    fn read_binary(&mut self, apdu: &Apdu) -> Duration {
        let start = Instant::now();
        let result = self.transmit(&apdu.read);
        let took = start.elapsed();
        match result {
            Ok(len) if len == apdu.data_len + 2 => took,
            other => panic!("{}: READ BINARY: {other:?}", self.label()),
        }
    }

    /// Between measurements: empties the guarded channel's trace, so it does not grow
    /// over the whole run.
    fn tidy(&mut self) {
        if let Channel::Guarded(channel) = self {
            channel.take_trace();
        }
    }
}

fn ok_len(response: &[u8]) -> Result<usize, String> {
    match response {
        [.., 0x90, 0x00] => Ok(response.len()),
        _ => Err(format!("unexpected response {response:02X?}")),
    }
}

// ---------------------------------------------------------------------------------------
// Measuring

fn run_criterion(methods: &mut [Method]) {
    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1200))
        .without_plots()
        .configure_from_args();
    for apdu in &APDUS {
        let mut group = criterion.benchmark_group(apdu.key);
        for method in methods.iter_mut() {
            let Method::InProcess(channel) = method else {
                continue;
            };
            channel.select(apdu);
            group.bench_function(channel.id(), |b| {
                b.iter(|| black_box(channel.transmit(black_box(&apdu.read))))
            });
            // The bench loop does not check answers; one checked call after it does.
            channel.read_binary(apdu);
            channel.tidy();
        }
        group.finish();
    }
    criterion.final_summary();
}

struct Row {
    label: &'static str,
    is_c: bool,
    is_crate: bool,
    /// Sorted single call times, ns.
    sorted_ns: Vec<u64>,
}

/// Interleaved rounds: each round runs every method once, starting one further along each
/// time, so no method always follows the C process (or any other) and bursts of other
/// load on this shared machine spread over all of them.
fn measure(apdu: &Apdu, plan: Plan, methods: &mut [Method]) -> Vec<Row> {
    let mut samples = vec![Vec::new(); methods.len()];
    for round in 0..plan.rounds {
        for k in 0..methods.len() {
            let index = (round + k) % methods.len();
            samples[index].extend(methods[index].timed_block(apdu, plan));
        }
    }
    methods
        .iter()
        .zip(samples)
        .map(|(method, mut sorted_ns)| {
            sorted_ns.sort_unstable();
            Row {
                label: method.label(),
                is_c: matches!(method, Method::CLoop { .. }),
                is_crate: matches!(method, Method::InProcess(Channel::PcscCrate(_))),
                sorted_ns,
            }
        })
        .collect()
}

/// Nearest-rank percentile in µs.
fn percentile_us(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1e3
}

fn print_table(apdu: &Apdu, rows: &[Row]) {
    let median_of = |row: &Row| percentile_us(&row.sorted_ns, 50.0);
    let c_median = rows.iter().find(|r| r.is_c).map(median_of);
    let crate_median = rows.iter().find(|r| r.is_crate).map(median_of);
    let versus = |median: f64, floor: Option<f64>, is_floor: bool| match floor {
        _ if is_floor => "—".to_owned(),
        Some(floor) => format!("{:+.1} µs", median - floor),
        None => "n/a".to_owned(),
    };
    println!();
    println!("### {}", apdu.title);
    println!();
    println!("| method | median µs | p95 µs | vs C | vs pcsc crate |");
    println!("|---|---:|---:|---:|---:|");
    for row in rows {
        let median = median_of(row);
        println!(
            "| {} | {median:.1} | {:.1} | {} | {} |",
            row.label,
            percentile_us(&row.sorted_ns, 95.0),
            versus(median, c_median, row.is_c),
            versus(median, crate_median, row.is_crate)
        );
    }
}

// ---------------------------------------------------------------------------------------
// The C loop

/// Compiles `scard_loop.c` into the target dir; returns the binary.
fn build_c_loop() -> Result<PathBuf, String> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/scard_loop.c");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let flags = run(Command::new("pkg-config").args(["--cflags", "--libs", "libpcsclite"]))?;
    // Built under a private name and renamed, so concurrent runs never see half a binary.
    let binary = dir.join("scard_loop");
    let partial = dir.join(format!("scard_loop.{}.tmp", std::process::id()));
    let mut cc = Command::new("cc");
    cc.arg("-O2").arg("-o").arg(&partial).arg(&source);
    run(cc.args(flags.split_whitespace())).inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })?;
    std::fs::rename(&partial, &binary).map_err(|e| format!("{}: {e}", binary.display()))?;
    Ok(binary)
}

/// Runs `command`; returns its stdout, or an error with its stderr.
fn run(command: &mut Command) -> Result<String, String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let out = command
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `calls` timed calls of the C loop; returns their times in ns.
fn run_c_loop(binary: &Path, reader: &str, apdu: &Apdu, calls: usize) -> Result<Vec<u64>, String> {
    let mut command = Command::new(binary);
    command.arg(reader).arg(calls.to_string()).arg(apdu.c_kind);
    let out = run(&mut command)?;
    let samples = out
        .lines()
        .map(|l| l.parse().map_err(|e| format!("sample {l:?}: {e}")))
        .collect::<Result<Vec<u64>, _>>()?;
    if samples.len() != calls {
        return Err(format!("{} samples instead of {calls}", samples.len()));
    }
    Ok(samples)
}
