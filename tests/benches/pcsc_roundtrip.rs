//! PC/SC round trip through the real pcscd + vpcd: what the harness driver costs on top of
//! the PC/SC floor, measured side by side on one reader and one emulated card.
//!
//! Methods, all on reader "Virtual PCD 00 01" (slot 1) with the `valid` card:
//! - C: `benches/scard_loop.c`, a plain `SCardTransmit` loop in its own process, compiled
//!   at run time with `cc -O2` into the target dir and run while the Rust side is idle;
//! - the `pcsc` crate's `Card::transmit` on the calling thread (no deadline);
//! - the harness driver `PcscChannel` (a worker thread per channel, deadline 2 s);
//! - `GuardedChannel` over it, as the harness really uses it (policy check, trace);
//! - alternative handoffs between caller and worker (std only, bench-local, the driver is
//!   not changed): a replica of the driver's `mpsc` pair, the same with the caller first
//!   polling `try_recv` + `sched_yield` (the proposed driver change), `sync_channel(0)`,
//!   `Mutex` + `Condvar`, and poll-then-park variants on an atomic with park/unpark, each
//!   with the same deadline;
//! - the handoff alone: ping-pong with a worker that answers at once (no PC/SC).
//!
//! APDUs: after SELECT JPKI-AP, READ BINARY 4 bytes of EF 0006 ("short") and READ BINARY
//! 255 bytes of EF 000A ("255-byte"). Each method's own percentiles come from single calls
//! timed with `Instant` (CLOCK_MONOTONIC, as the C loop): 10 rounds of 200 calls per
//! method, each round starting with the next method, so drift and other load on this shared
//! machine hit all methods alike; criterion's estimates are printed as well (they see that
//! drift, the table does not). The end is a Markdown table per APDU: method | median µs |
//! p95 µs | overhead vs C (median) | vs pcsc crate (median), then p99, throughput and CPU.
//!
//! Goal: median overhead of the harness driver over the C loop ≤ 10 µs with deadlines on.
//!
//! Reading the figures on a small VM (2 vCPUs, Firecracker, `guest_halt_poll_ns` 0): every
//! wake-up of a sleeping vCPU costs a VM exit, about 20 µs, and dominates everything else.
//! The C process (fresh each round) often lands in another scheduling regime than the
//! long-lived threads here, by ±30 µs either way; hence the extra column against the
//! `pcsc` crate on the calling thread, the same floor inside this process.
//!
//! Without pcscd or vpcd the bench says so and exits 0 without measuring.
//!
//! Run: `cargo bench -p myna-hil-tests --bench pcsc_roundtrip` (about 30 s).

use criterion::{Criterion, Throughput};
use harness::bench::{attach, Attached, CardSite};
use harness::card_channel::CardChannel;
use harness::guard::{Policy, RunSecret};
use harness::pcsc_driver::PcscChannel;
use myna_hil_tests::{reader_slot, shipped_profile, PCSCD};
use std::cell::RefCell;
use std::ffi::CString;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// The slot (and so the reader) this bench uses.
const SLOT: usize = 1;
/// The deadline of every deadline-carrying method (the harness default).
const DEADLINE: Duration = Duration::from_secs(2);
const VPCD_CONF: &str = "/etc/reader.conf.d/vpcd";

const SELECT_JPKI: [u8; 15] = [
    0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01,
];

/// One of the two APDUs measured.
struct Apdu {
    /// Criterion group and C loop argument.
    key: &'static str,
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

/// How much to measure.
#[derive(Clone, Copy)]
struct Plan {
    /// Interleaved rounds; each method does one block of `block` timed calls per round.
    rounds: usize,
    block: usize,
    warm_up: usize,
    /// Calls of the no-card handoff ping-pong per variant.
    ping_pong: usize,
}

const FULL: Plan = Plan {
    rounds: 10,
    block: 200,
    warm_up: 20,
    ping_pong: 5_000,
};
/// `cargo test --benches`: only check that everything works.
const QUICK: Plan = Plan {
    rounds: 1,
    block: 20,
    warm_up: 5,
    ping_pong: 100,
};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    if has("--list") {
        for apdu in &APDUS {
            for name in CRITERION_METHODS {
                println!("{}/{name}: benchmark", apdu.key);
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
    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1200))
        .without_plots()
        .configure_from_args();

    let c_loop = match build_c_loop() {
        Ok(path) => Some(path),
        Err(e) => {
            println!("pcsc_roundtrip: the C loop is left out: {e}");
            None
        }
    };

    let slot = reader_slot(SLOT);
    let reader = slot.reader();
    let profile = shipped_profile("valid");
    let site = CardSite::Vpcd {
        port: slot.port(),
        reader: reader.to_owned(),
    };
    let policy = Policy {
        allow_destructive: false,
    };
    let attached = attach(&profile, &site, &RunSecret::generate(), policy, DEADLINE)
        .unwrap_or_else(|e| panic!("cannot put the card into {reader}: {e}"));
    let attached = RefCell::new(attached);
    let started = Instant::now();

    let tables = {
        let mut methods = methods(reader, &attached);
        for apdu in &APDUS {
            criterion_group(&mut criterion, apdu, &mut methods);
        }
        criterion.final_summary();
        APDUS
            .iter()
            .map(|apdu| measure(apdu, plan, reader, c_loop.as_deref(), &mut methods))
            .collect::<Vec<_>>()
    };
    let ping_pong = handoff_ping_pong(plan.ping_pong);
    let measuring = started.elapsed();
    attached.into_inner().detach();
    drop(slot);

    println!();
    println!("## PC/SC round trip on {reader} (vpcd, emulated `valid` card)");
    println!();
    println!(
        "Percentiles of single calls timed one by one (CLOCK_MONOTONIC), {} rounds x {} calls \
         per method, interleaved; measuring took {:.1} s.",
        plan.rounds,
        plan.block,
        measuring.as_secs_f64()
    );
    println!(
        "CPU µs/call: user + system time of this process (callers, workers, the emulated \
         card), plus the C process for the C row; pcscd is not counted."
    );
    for (apdu, rows) in APDUS.iter().zip(&tables) {
        print_table(apdu, rows);
    }
    print_ping_pong(&ping_pong);
}

/// Why the real PC/SC stack is not there, if it is not.
fn missing_pc_sc_stack() -> Option<String> {
    if !Path::new(PCSCD).exists() {
        return Some(format!(
            "{PCSCD} is missing (apt packages pcscd vsmartcard-vpcd, see PLATFORM.md)"
        ));
    }
    if !Path::new(VPCD_CONF).exists() {
        return Some(format!(
            "{VPCD_CONF} is missing: vsmartcard-vpcd is not installed"
        ));
    }
    None
}

// ---------------------------------------------------------------------------------------
// The methods

/// Sends one APDU and returns the response length; an error unless the SW is 9000.
type Call<'a> = Box<dyn FnMut(&[u8]) -> Result<usize, String> + 'a>;

struct Method<'a> {
    /// Criterion name.
    id: &'static str,
    label: String,
    call: Call<'a>,
    /// Runs between measurements (outside any timing), e.g. to empty the trace.
    tidy: Option<Box<dyn FnMut() + 'a>>,
    /// Part of the main comparison (not an alternative).
    main: bool,
}

/// The methods criterion measures too (the rest only in the table).
const CRITERION_METHODS: [&str; 4] = [
    "pcsc_crate",
    "pcsc_channel",
    "guarded_channel",
    "mpsc_yield_poll",
];

fn ok_len(response: &[u8]) -> Result<usize, String> {
    match response {
        [.., 0x90, 0x00] => Ok(response.len()),
        _ => Err(format!("unexpected response {response:02X?}")),
    }
}

/// Caller poll budget of the poll-then-park variants: longer than a 255-byte round trip,
/// so a caller in a busy loop never parks.
const CALLER_POLL: Duration = Duration::from_micros(300);
/// Worker spin budget: how long a worker waits for the next request before it parks.
const WORKER_SPIN: Duration = Duration::from_micros(100);

fn handoff_variants() -> Vec<(&'static str, String, Handoff)> {
    let poll = |caller_poll, caller_budget, worker_spin| Handoff::PollPark {
        caller_poll,
        caller_budget,
        worker_spin,
    };
    vec![
        (
            "mpsc_replica",
            "alt: mpsc pair + recv_timeout (replica of the driver)".into(),
            Handoff::Mpsc,
        ),
        (
            "mpsc_yield_poll",
            format!(
                "alt: mpsc pair, caller polls try_recv + sched_yield {} µs, then recv_timeout \
                 (proposed driver change)",
                CALLER_POLL.as_micros()
            ),
            Handoff::MpscYieldPoll(CALLER_POLL),
        ),
        (
            "sync_channel_0",
            "alt: sync_channel(0) pair + recv_timeout".into(),
            Handoff::Rendezvous,
        ),
        (
            "condvar",
            "alt: Mutex + Condvar (wait_timeout)".into(),
            Handoff::Condvar,
        ),
        (
            "park_only",
            "alt: atomic + park/unpark, no spin".into(),
            poll(Poll::Spin, Duration::ZERO, Duration::ZERO),
        ),
        (
            "worker_spins",
            format!(
                "alt: worker spins {} µs for the next request, caller parks",
                WORKER_SPIN.as_micros()
            ),
            poll(Poll::Spin, Duration::ZERO, WORKER_SPIN),
        ),
        (
            "caller_spins",
            format!(
                "alt: caller spins {} µs for the reply, worker parks",
                CALLER_POLL.as_micros()
            ),
            poll(Poll::Spin, CALLER_POLL, Duration::ZERO),
        ),
        (
            "caller_yields",
            format!(
                "alt: caller polls with sched_yield {} µs, worker parks",
                CALLER_POLL.as_micros()
            ),
            poll(Poll::Yield, CALLER_POLL, Duration::ZERO),
        ),
        (
            "both_poll",
            format!(
                "alt: caller polls with sched_yield {} µs, worker spins {} µs",
                CALLER_POLL.as_micros(),
                WORKER_SPIN.as_micros()
            ),
            poll(Poll::Yield, CALLER_POLL, WORKER_SPIN),
        ),
    ]
}

fn methods<'a>(reader: &str, attached: &'a RefCell<Attached>) -> Vec<Method<'a>> {
    let reader_c = CString::new(reader).expect("reader name without NUL");
    let ctx = pcsc::Context::establish(pcsc::Scope::User).expect("SCardEstablishContext");
    let card = ctx
        .connect(&reader_c, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
        .expect("SCardConnect");
    let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE];
    let mut channel = PcscChannel::connect(reader, DEADLINE).expect("PcscChannel::connect");

    let mut methods = vec![
        Method {
            id: "pcsc_crate",
            label: "pcsc crate `Card::transmit`, calling thread, no deadline".into(),
            call: Box::new(move |apdu| {
                // The context must outlive the card handle.
                let _ = &ctx;
                let response = card.transmit(apdu, &mut buf).map_err(|e| e.to_string())?;
                ok_len(response)
            }),
            tidy: None,
            main: true,
        },
        Method {
            id: "pcsc_channel",
            label: "harness `PcscChannel` (worker thread, deadline 2 s)".into(),
            call: Box::new(move |apdu| {
                let response = channel.transmit(apdu).map_err(|e| e.to_string())?;
                ok_len(&response.bytes)
            }),
            tidy: None,
            main: true,
        },
        Method {
            id: "guarded_channel",
            label: "harness `GuardedChannel<PcscChannel>` (as the harness runs)".into(),
            call: Box::new(move |apdu| {
                let mut attached = attached.borrow_mut();
                let response = attached.channel.transmit(apdu).map_err(|e| e.to_string())?;
                ok_len(&response.bytes)
            }),
            tidy: Some(Box::new(move || {
                attached.borrow_mut().channel.take_trace();
            })),
            main: true,
        },
    ];
    for (id, label, handoff) in handoff_variants() {
        let mut link = start_link(handoff, pcsc_server(reader_c.clone()), DEADLINE)
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        methods.push(Method {
            id,
            label,
            call: Box::new(move |apdu| ok_len(&link.call(apdu)?)),
            tidy: None,
            main: false,
        });
    }
    methods
}

fn select(method: &mut Method, apdu: &Apdu) {
    for command in [&SELECT_JPKI[..], &apdu.select_ef[..]] {
        let len = (method.call)(command).unwrap_or_else(|e| panic!("{}: {e}", method.label));
        assert_eq!(len, 2, "{}: SELECT answered data", method.label);
    }
}

fn read(method: &mut Method, apdu: &Apdu) {
    match (method.call)(&apdu.read) {
        Ok(len) if len == apdu.data_len + 2 => {}
        Ok(len) => panic!("{}: READ BINARY answered {len} bytes", method.label),
        Err(e) => panic!("{}: {e}", method.label),
    }
}

// ---------------------------------------------------------------------------------------
// Criterion

fn criterion_group(criterion: &mut Criterion, apdu: &Apdu, methods: &mut [Method]) {
    let mut group = criterion.benchmark_group(apdu.key);
    group.throughput(if apdu.data_len > 4 {
        Throughput::Bytes(apdu.data_len as u64)
    } else {
        Throughput::Elements(1)
    });
    for method in methods
        .iter_mut()
        .filter(|m| CRITERION_METHODS.contains(&m.id))
    {
        select(method, apdu);
        group.bench_function(method.id, |b| {
            b.iter(|| {
                let len = (method.call)(black_box(&apdu.read));
                black_box(len)
            })
        });
        read(method, apdu);
        if let Some(tidy) = method.tidy.as_mut() {
            tidy();
        }
    }
    group.finish();
}

// ---------------------------------------------------------------------------------------
// Single calls, interleaved rounds

struct Row {
    label: String,
    main: bool,
    is_c: bool,
    is_crate: bool,
    samples_ns: Vec<u64>,
    /// CPU time (user + system) of this process, plus the C loop's for the C row, over
    /// the timed calls: what a call costs the machine besides pcscd.
    cpu_ns: u64,
}

/// CPU time (user + system) of this process or of its waited-for children, in ns.
fn cpu_ns(who: libc::c_int) -> u64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut usage);
        usage
    };
    let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    ns(usage.ru_utime) + ns(usage.ru_stime)
}

impl Row {
    fn sorted(&self) -> Vec<u64> {
        let mut s = self.samples_ns.clone();
        s.sort_unstable();
        s
    }
}

/// Nearest-rank percentile in µs (as the C loop computes it).
fn percentile_us(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1e3
}

fn measure(
    apdu: &Apdu,
    plan: Plan,
    reader: &str,
    c_loop: Option<&Path>,
    methods: &mut [Method],
) -> Vec<Row> {
    let mut c_row = c_loop.map(|_| Row {
        label: "C `SCardTransmit` loop (scard_loop.c, -O2)".into(),
        main: true,
        is_c: true,
        is_crate: false,
        samples_ns: Vec::new(),
        cpu_ns: 0,
    });
    let mut rows: Vec<Row> = methods
        .iter()
        .map(|m| Row {
            label: m.label.clone(),
            main: m.main,
            is_c: false,
            is_crate: m.id == "pcsc_crate",
            samples_ns: Vec::with_capacity(plan.rounds * plan.block),
            cpu_ns: 0,
        })
        .collect();
    // Each round runs every method once, starting one further along each time, so no
    // method always follows the C process (or any other) and bursts of other load on this
    // shared machine spread over all of them.
    let with_c = usize::from(c_row.is_some());
    let entries = methods.len() + with_c;
    for round in 0..plan.rounds {
        for k in 0..entries {
            let index = (round + k) % entries;
            if index < with_c {
                if let (Some(path), Some(row)) = (c_loop, c_row.as_mut()) {
                    let cpu_before = cpu_ns(libc::RUSAGE_SELF);
                    let (line, samples) = run_c_loop(path, reader, apdu, plan.block)
                        .unwrap_or_else(|e| panic!("C loop: {e}"));
                    // The C process's own CPU over its timed calls, plus this process's
                    // (the emulated card) pro rata over all the calls it served.
                    let card_ns = cpu_ns(libc::RUSAGE_SELF).saturating_sub(cpu_before);
                    let served = plan.block as u64 + 2 + c_field(&line, "warm_up_calls") as u64;
                    row.cpu_ns += (c_field(&line, "cpu_us_per_call") * 1e3) as u64
                        * plan.block as u64
                        + card_ns * plan.block as u64 / served;
                    println!("{} round {:2}: {line}", apdu.key, round + 1);
                    row.samples_ns.extend(samples);
                }
                continue;
            }
            let method = &mut methods[index - with_c];
            let row = &mut rows[index - with_c];
            select(method, apdu);
            for _ in 0..plan.warm_up {
                read(method, apdu);
            }
            let cpu_before = cpu_ns(libc::RUSAGE_SELF);
            for _ in 0..plan.block {
                let start = Instant::now();
                let result = (method.call)(&apdu.read);
                let took = start.elapsed();
                match result {
                    Ok(len) if len == apdu.data_len + 2 => {}
                    other => panic!("{}: READ BINARY: {other:?}", method.label),
                }
                row.samples_ns.push(took.as_nanos() as u64);
            }
            row.cpu_ns += cpu_ns(libc::RUSAGE_SELF).saturating_sub(cpu_before);
            if let Some(tidy) = method.tidy.as_mut() {
                tidy();
            }
        }
    }
    c_row.into_iter().chain(rows).collect()
}

fn print_table(apdu: &Apdu, rows: &[Row]) {
    let c_median = rows
        .iter()
        .find(|r| r.is_c)
        .map(|r| percentile_us(&r.sorted(), 50.0));
    // The same floor inside this process, for when the C process sits in another
    // scheduling regime than the long-lived threads here (see the module docs).
    let crate_median = rows
        .iter()
        .find(|r| r.is_crate)
        .map(|r| percentile_us(&r.sorted(), 50.0));
    println!();
    println!("### {}", apdu.title);
    println!();
    println!("| method | median µs | p95 µs | overhead vs C (median) | vs pcsc crate (median) |");
    println!("|---|---:|---:|---:|---:|");
    let mut details = Vec::new();
    for main in [true, false] {
        for row in rows.iter().filter(|r| r.main == main) {
            let sorted = row.sorted();
            let median = percentile_us(&sorted, 50.0);
            let overhead = match c_median {
                _ if row.is_c => "—".to_owned(),
                Some(c) => format!("{:+.1} µs", median - c),
                None => "n/a (no C loop)".to_owned(),
            };
            let vs_crate = match crate_median {
                _ if row.is_crate => "—".to_owned(),
                Some(c) => format!("{:+.1} µs", median - c),
                None => "n/a".to_owned(),
            };
            println!(
                "| {} | {median:.1} | {:.1} | {overhead} | {vs_crate} |",
                row.label,
                percentile_us(&sorted, 95.0)
            );
            let mean_ns = sorted.iter().sum::<u64>() as f64 / sorted.len().max(1) as f64;
            details.push(format!(
                "- {}: n={} p99 {:.1} µs, mean {:.1} µs, {:.0} calls/s, {:.0} kB/s, \
                 CPU {:.1} µs/call",
                row.label,
                sorted.len(),
                percentile_us(&sorted, 99.0),
                mean_ns / 1e3,
                1e9 / mean_ns,
                1e9 / mean_ns * apdu.data_len as f64 / 1e3,
                row.cpu_ns as f64 / sorted.len().max(1) as f64 / 1e3
            ));
        }
    }
    println!();
    for line in details {
        println!("{line}");
    }
}

// ---------------------------------------------------------------------------------------
// The C loop

/// Compiles `scard_loop.c` into the target dir; returns the binary.
fn build_c_loop() -> Result<PathBuf, String> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/scard_loop.c");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "libpcsclite"])
        .output()
        .map_err(|e| format!("cannot run pkg-config: {e}"))?;
    if !flags.status.success() {
        return Err(format!(
            "pkg-config libpcsclite failed: {}",
            String::from_utf8_lossy(&flags.stderr).trim()
        ));
    }
    let flags = String::from_utf8_lossy(&flags.stdout).into_owned();
    let binary = dir.join("scard_loop");
    let partial = dir.join(format!("scard_loop.{}.tmp", std::process::id()));
    let out = Command::new("cc")
        .arg("-O2")
        .arg("-o")
        .arg(&partial)
        .arg(&source)
        .args(flags.split_whitespace())
        .output()
        .map_err(|e| format!("cannot run cc: {e}"))?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&partial);
        return Err(format!(
            "cc failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    std::fs::rename(&partial, &binary).map_err(|e| format!("{}: {e}", binary.display()))?;
    Ok(binary)
}

/// A number from the C loop's line (`key=value`); 0 when missing.
fn c_field(line: &str, key: &str) -> f64 {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0.0)
}

/// Runs `iterations` calls of the C loop; returns its line and the single call times (ns).
fn run_c_loop(
    binary: &Path,
    reader: &str,
    apdu: &Apdu,
    iterations: usize,
) -> Result<(String, Vec<u64>), String> {
    let samples_path = binary.with_file_name(format!("scard_loop.{}.samples", std::process::id()));
    let out = Command::new(binary)
        .arg(reader)
        .arg(iterations.to_string())
        .arg(apdu.c_kind)
        .arg(&samples_path)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            binary.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !line.starts_with("scard_loop ") || !line.contains("median_us=") {
        return Err(format!("unexpected output: {line}"));
    }
    let text = std::fs::read_to_string(&samples_path)
        .map_err(|e| format!("{}: {e}", samples_path.display()))?;
    let _ = std::fs::remove_file(&samples_path);
    let samples = text
        .lines()
        .map(|l| {
            l.trim()
                .parse::<u64>()
                .map_err(|e| format!("sample {l:?}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if samples.len() != iterations {
        return Err(format!("{} samples instead of {iterations}", samples.len()));
    }
    Ok((line, samples))
}

// ---------------------------------------------------------------------------------------
// Alternative caller/worker handoffs (bench-local; the driver is not changed here)

/// What a worker does with a request: runs on the worker thread only.
type Server = Box<dyn FnMut(&[u8]) -> Result<Vec<u8>, String>>;
/// Builds the server on the worker thread (a PC/SC connection, or nothing at all).
type MakeServer = Box<dyn FnOnce() -> Result<Server, String> + Send>;

/// A worker holding its own context and card handle, like the driver's.
fn pcsc_server(reader: CString) -> MakeServer {
    Box::new(move || {
        let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(|e| e.to_string())?;
        let card = ctx
            .connect(&reader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
            .map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
        Ok(Box::new(move |apdu: &[u8]| {
            let _ = &ctx;
            card.transmit(apdu, &mut buf)
                .map(<[u8]>::to_vec)
                .map_err(|e| e.to_string())
        }) as Server)
    })
}

/// A worker that answers 9000 at once: the handoff alone.
fn echo_server() -> MakeServer {
    Box::new(|| Ok(Box::new(|_: &[u8]| Ok(vec![0x90u8, 0x00])) as Server))
}

#[derive(Clone, Copy, Debug)]
enum Handoff {
    /// `mpsc::channel` each way, `recv_timeout` (what `pcsc_driver` does today).
    Mpsc,
    /// The same, but the caller first polls `try_recv` + `yield_now` this long.
    MpscYieldPoll(Duration),
    /// `mpsc::sync_channel(0)` each way, `recv_timeout`.
    Rendezvous,
    /// One slot under a `Mutex`, a `Condvar` each way, `wait_timeout`.
    Condvar,
    /// An atomic state word; each side polls up to its budget, then parks.
    PollPark {
        caller_poll: Poll,
        caller_budget: Duration,
        worker_spin: Duration,
    },
}

/// How the caller polls for the reply before it parks.
#[derive(Clone, Copy, Debug)]
enum Poll {
    /// `spin_loop` hint: keeps the CPU.
    Spin,
    /// `sched_yield`: keeps the CPU out of idle but lets runnable threads (pcscd, the
    /// card) run on it.
    Yield,
}

trait Link {
    /// Sends `apdu` to the worker and waits at most the deadline for its answer.
    fn call(&mut self, apdu: &[u8]) -> Result<Vec<u8>, String>;
}

fn start_link(
    handoff: Handoff,
    make: MakeServer,
    deadline: Duration,
) -> Result<Box<dyn Link>, String> {
    Ok(match handoff {
        Handoff::Mpsc => Box::new(MpscLink::start(make, deadline, Duration::ZERO)?),
        Handoff::MpscYieldPoll(poll) => Box::new(MpscLink::start(make, deadline, poll)?),
        Handoff::Rendezvous => Box::new(RendezvousLink::start(make, deadline)?),
        Handoff::Condvar => Box::new(CondvarLink::start(make, deadline)?),
        Handoff::PollPark {
            caller_poll,
            caller_budget,
            worker_spin,
        } => Box::new(PollParkLink::start(
            make,
            deadline,
            caller_poll,
            caller_budget,
            worker_spin,
        )?),
    })
}

/// Spawns the worker; `serve` runs with the server once it is built. Returns the worker's
/// `Thread` once it is ready.
fn spawn_worker(
    make: MakeServer,
    serve: impl FnOnce(Server) + Send + 'static,
) -> Result<Thread, String> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let handle = thread::Builder::new()
        .name("bench-worker".into())
        .spawn(move || match make() {
            Ok(server) => {
                let _ = ready_tx.send(Ok(()));
                serve(server);
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e));
            }
        })
        .map_err(|e| format!("cannot start a worker: {e}"))?;
    match ready_rx.recv_timeout(Duration::from_secs(5)) {
        Ok(Ok(())) => Ok(handle.thread().clone()),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(format!("worker did not start: {e}")),
    }
}

type Reply = Result<Vec<u8>, String>;

fn recv_reply(replies: &Receiver<Reply>, deadline: Duration) -> Reply {
    match replies.recv_timeout(deadline) {
        Ok(reply) => reply,
        Err(RecvTimeoutError::Timeout) => Err(format!("no response within {deadline:?}")),
        Err(RecvTimeoutError::Disconnected) => Err("the worker stopped".into()),
    }
}

struct MpscLink {
    requests: Sender<Vec<u8>>,
    replies: Receiver<Reply>,
    deadline: Duration,
    /// Poll with `try_recv` + `yield_now` this long before `recv_timeout` (zero: none).
    poll: Duration,
}

impl MpscLink {
    fn start(make: MakeServer, deadline: Duration, poll: Duration) -> Result<Self, String> {
        let (requests, inbox) = mpsc::channel::<Vec<u8>>();
        let (outbox, replies) = mpsc::channel::<Reply>();
        spawn_worker(make, move |mut server| {
            for apdu in inbox {
                if outbox.send(server(&apdu)).is_err() {
                    return;
                }
            }
        })?;
        Ok(MpscLink {
            requests,
            replies,
            deadline,
            poll,
        })
    }
}

impl Link for MpscLink {
    fn call(&mut self, apdu: &[u8]) -> Reply {
        self.requests
            .send(apdu.to_vec())
            .map_err(|_| "the worker stopped".to_owned())?;
        if self.poll.is_zero() {
            return recv_reply(&self.replies, self.deadline);
        }
        // The proposed driver change: poll for the reply, giving the CPU to any runnable
        // thread (pcscd, the card) meanwhile, and sleep only after `poll`.
        let start = Instant::now();
        let budget = self.poll.min(self.deadline);
        loop {
            match self.replies.try_recv() {
                Ok(reply) => return reply,
                Err(TryRecvError::Disconnected) => return Err("the worker stopped".into()),
                Err(TryRecvError::Empty) if start.elapsed() < budget => thread::yield_now(),
                Err(TryRecvError::Empty) => break,
            }
        }
        recv_reply(&self.replies, self.deadline.saturating_sub(start.elapsed()))
    }
}

struct RendezvousLink {
    requests: SyncSender<Vec<u8>>,
    replies: Receiver<Reply>,
    deadline: Duration,
}

impl RendezvousLink {
    fn start(make: MakeServer, deadline: Duration) -> Result<Self, String> {
        let (requests, inbox) = mpsc::sync_channel::<Vec<u8>>(0);
        let (outbox, replies) = mpsc::sync_channel::<Reply>(0);
        spawn_worker(make, move |mut server| {
            for apdu in inbox {
                if outbox.send(server(&apdu)).is_err() {
                    return;
                }
            }
        })?;
        Ok(RendezvousLink {
            requests,
            replies,
            deadline,
        })
    }
}

impl Link for RendezvousLink {
    fn call(&mut self, apdu: &[u8]) -> Reply {
        // The worker waits in `recv` between calls, so this hands over at once.
        self.requests
            .send(apdu.to_vec())
            .map_err(|_| "the worker stopped".to_owned())?;
        recv_reply(&self.replies, self.deadline)
    }
}

#[derive(Default)]
struct Slot {
    request: Option<Vec<u8>>,
    reply: Option<Reply>,
    closed: bool,
}

#[derive(Default)]
struct CondvarShared {
    slot: Mutex<Slot>,
    to_worker: Condvar,
    to_caller: Condvar,
}

struct CondvarLink {
    shared: Arc<CondvarShared>,
    deadline: Duration,
}

impl CondvarLink {
    fn start(make: MakeServer, deadline: Duration) -> Result<Self, String> {
        let shared = Arc::new(CondvarShared::default());
        let worker_side = Arc::clone(&shared);
        spawn_worker(make, move |mut server| loop {
            let apdu = {
                let mut slot = worker_side.slot.lock().expect("slot");
                loop {
                    if slot.closed {
                        return;
                    }
                    if let Some(apdu) = slot.request.take() {
                        break apdu;
                    }
                    slot = worker_side.to_worker.wait(slot).expect("slot");
                }
            };
            let reply = server(&apdu);
            worker_side.slot.lock().expect("slot").reply = Some(reply);
            worker_side.to_caller.notify_one();
        })?;
        Ok(CondvarLink { shared, deadline })
    }
}

impl Link for CondvarLink {
    fn call(&mut self, apdu: &[u8]) -> Reply {
        let end = Instant::now() + self.deadline;
        let mut slot = self.shared.slot.lock().expect("slot");
        slot.request = Some(apdu.to_vec());
        self.shared.to_worker.notify_one();
        loop {
            if let Some(reply) = slot.reply.take() {
                return reply;
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("no response within {:?}", self.deadline));
            }
            slot = self
                .shared
                .to_caller
                .wait_timeout(slot, left)
                .expect("slot")
                .0;
        }
    }
}

impl Drop for CondvarLink {
    fn drop(&mut self) {
        if let Ok(mut slot) = self.shared.slot.lock() {
            slot.closed = true;
        }
        self.shared.to_worker.notify_one();
    }
}

const IDLE: u8 = 0;
const REQUEST: u8 = 1;
const REPLY: u8 = 2;
const CLOSED: u8 = 3;

struct SpinShared {
    state: AtomicU8,
    request: Mutex<Vec<u8>>,
    reply: Mutex<Option<Reply>>,
    /// The thread waiting for the reply (the channel may move between threads).
    caller: Mutex<Option<Thread>>,
}

/// Poll-then-park: the caller publishes the request and unparks the worker (a no-op
/// unless it is parked), then polls the state word for up to `caller_budget` before it
/// parks with the rest of the deadline. The worker polls for the next request for up to
/// `worker_spin` after each reply before it parks. `unpark` costs a futex wake only when
/// the other side really sleeps.
struct PollParkLink {
    shared: Arc<SpinShared>,
    worker: Thread,
    deadline: Duration,
    caller_poll: Poll,
    caller_budget: Duration,
}

impl PollParkLink {
    fn start(
        make: MakeServer,
        deadline: Duration,
        caller_poll: Poll,
        caller_budget: Duration,
        worker_spin: Duration,
    ) -> Result<Self, String> {
        let shared = Arc::new(SpinShared {
            state: AtomicU8::new(IDLE),
            request: Mutex::new(Vec::new()),
            reply: Mutex::new(None),
            caller: Mutex::new(None),
        });
        let worker_side = Arc::clone(&shared);
        let worker = spawn_worker(make, move |mut server| {
            let shared = worker_side;
            loop {
                let idle_since = Instant::now();
                loop {
                    match shared.state.load(Ordering::Acquire) {
                        REQUEST => break,
                        CLOSED => return,
                        _ => {}
                    }
                    if idle_since.elapsed() < worker_spin {
                        std::hint::spin_loop();
                    } else {
                        thread::park();
                    }
                }
                let apdu = std::mem::take(&mut *shared.request.lock().expect("request"));
                let reply = server(&apdu);
                *shared.reply.lock().expect("reply") = Some(reply);
                if shared
                    .state
                    .compare_exchange(REQUEST, REPLY, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
                {
                    return; // closed meanwhile
                }
                if let Some(caller) = shared.caller.lock().expect("caller").as_ref() {
                    caller.unpark();
                }
            }
        })?;
        Ok(PollParkLink {
            shared,
            worker,
            deadline,
            caller_poll,
            caller_budget,
        })
    }
}

impl Link for PollParkLink {
    fn call(&mut self, apdu: &[u8]) -> Reply {
        {
            let mut caller = self.shared.caller.lock().expect("caller");
            let me = thread::current();
            if caller.as_ref().map(Thread::id) != Some(me.id()) {
                *caller = Some(me);
            }
        }
        {
            let mut request = self.shared.request.lock().expect("request");
            request.clear();
            request.extend_from_slice(apdu);
        }
        self.shared.state.store(REQUEST, Ordering::Release);
        self.worker.unpark();
        let start = Instant::now();
        loop {
            if self
                .shared
                .state
                .compare_exchange(REPLY, IDLE, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return self
                    .shared
                    .reply
                    .lock()
                    .expect("reply")
                    .take()
                    .unwrap_or_else(|| Err("no reply stored".into()));
            }
            let waited = start.elapsed();
            if waited >= self.deadline {
                // The worker is stuck; a real driver would abandon it and start afresh.
                return Err(format!("no response within {:?}", self.deadline));
            }
            if waited < self.caller_budget {
                match self.caller_poll {
                    Poll::Spin => std::hint::spin_loop(),
                    Poll::Yield => thread::yield_now(),
                }
            } else {
                thread::park_timeout(self.deadline - waited);
            }
        }
    }
}

impl Drop for PollParkLink {
    fn drop(&mut self) {
        self.shared.state.store(CLOSED, Ordering::Release);
        self.worker.unpark();
    }
}

// ---------------------------------------------------------------------------------------
// The handoff alone: ping-pong with a worker that answers at once

struct PingPong {
    label: String,
    median_us: f64,
    p95_us: f64,
}

fn handoff_ping_pong(calls: usize) -> Vec<PingPong> {
    handoff_variants()
        .into_iter()
        .map(|(_, label, handoff)| {
            let mut link =
                start_link(handoff, echo_server(), DEADLINE).expect("echo worker starts");
            for _ in 0..calls / 10 {
                link.call(&[0x00]).expect("echo");
            }
            let mut samples = Vec::with_capacity(calls);
            for _ in 0..calls {
                let start = Instant::now();
                black_box(link.call(black_box(&[0x00])).expect("echo"));
                samples.push(start.elapsed().as_nanos() as u64);
            }
            samples.sort_unstable();
            PingPong {
                label: label.trim_start_matches("alt: ").to_owned(),
                median_us: percentile_us(&samples, 50.0),
                p95_us: percentile_us(&samples, 95.0),
            }
        })
        .collect()
}

fn print_ping_pong(rows: &[PingPong]) {
    println!();
    println!("### The handoff alone (worker answers at once, no PC/SC)");
    println!();
    println!("| handoff | median µs | p95 µs |");
    println!("|---|---:|---:|");
    for row in rows {
        println!(
            "| {} | {:.2} | {:.2} |",
            row.label, row.median_us, row.p95_us
        );
    }
}
