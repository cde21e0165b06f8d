//! A device on another machine, through a real RFC 2217 server: Debian's `ser2net` serves one
//! end of a socat pty pair as `telnet(rfc2217)` on loopback, and the harness reaches the
//! device at `--reader dut:rfc2217://127.0.0.1:PORT`. Cases run this way have the verdicts
//! they have in process (as over the pty itself, `tests/dut.rs`); every byte value, 0xFF
//! included, passes both ways; the round trip of one message is measured beside the pty's.
//!
//! Needs ser2net (`bash .ci/setup` installs it): without it these tests fail, never skip.
//! The case runs also need pcscd with vsmartcard-vpcd, and the face case the face runtime.

use harness::dut::link::{self, Address, Link};
use harness::dut::protocol::{write_message, FromDevice, LineReader, ToDevice};
use myna_hil_tests::{
    all_reader_slots, assert_exit_0, free_port, fresh_dir, profiles, pty_pair, run_myna_hil,
    verdicts, workspace_binary, Running,
};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SER2NET: &str = "/usr/sbin/ser2net";

/// The ser2net configuration the tests use (and docs/platform.md shows): `serial` served
/// as telnet with RFC 2217 on 127.0.0.1:`port`, 115200 8N1 until the client sets the line,
/// modem lines ignored (`local`), a new client taking the port from a lingering one, each
/// line of the device sent on at its newline, the harness's clips in large pieces.
/// `telnet` is the accepter's first layer: `telnet(rfc2217)`, or a bare `telnet`.
fn ser2net_config(telnet: &str, port: u16, serial: &Path) -> String {
    format!(
        "%YAML 1.1\n---\n\
         connection: &dut\n\
         \x20   accepter: {telnet},tcp,127.0.0.1,{port}\n\
         \x20   connector: serialdev,{},115200n81,local\n\
         \x20   options:\n\
         \x20     kickolduser: true\n\
         \x20     sendon: '\\n'\n\
         \x20     net-to-dev-bufsize: 65536\n",
        serial.display()
    )
}

/// ser2net in the foreground, serving `serial` on a free loopback port; stopped by its PID
/// when dropped.
struct Ser2net {
    _running: Running,
    port: u16,
    log: PathBuf,
}

impl Ser2net {
    fn start(dir: &Path, serial: &Path) -> Ser2net {
        Ser2net::start_as("telnet(rfc2217)", dir, serial)
    }

    fn start_as(telnet: &str, dir: &Path, serial: &Path) -> Ser2net {
        assert!(
            Path::new(SER2NET).exists(),
            "{SER2NET} is missing: the RFC 2217 tests need Debian's ser2net (bash .ci/setup \
             installs it: apt-get install ser2net); they never skip"
        );
        let port = free_port();
        let conf = dir.join("ser2net.yaml");
        std::fs::write(&conf, ser2net_config(telnet, port, serial)).expect("write ser2net.yaml");
        let log = dir.join("ser2net.log");
        let out = std::fs::File::create(&log).expect("ser2net log");
        let err = out.try_clone().expect("ser2net log");
        let child = Command::new(SER2NET)
            .args(["-n", "-d", "-c"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {SER2NET}: {e}"));
        let mut running = Running(child);
        // Listening is seen in /proc/net/tcp: a probe connection would open the port.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !listening(port) {
            if let Ok(Some(status)) = running.0.try_wait() {
                panic!(
                    "ser2net exited ({status}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "ser2net never listened on 127.0.0.1:{port}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ser2net {
            _running: running,
            port,
            log,
        }
    }

    fn reader(&self) -> String {
        format!("dut:rfc2217://127.0.0.1:{}", self.port)
    }

    fn address(&self) -> Address {
        Address::Rfc2217 {
            host_port: format!("127.0.0.1:{}", self.port),
            baud: 115_200,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// True when something listens on 127.0.0.1:`port`.
fn listening(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let local = format!("0100007F:{port:04X}");
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.get(1) == Some(&local.as_str()) && fields.get(3) == Some(&"0A")
    })
}

/// The reference device on the serial line `path`, with an empty clip store in `clips`
/// (so a face case's clip travels over the link).
fn ref_dut_serial(path: &Path, log: &Path, clips: &Path) -> Running {
    let [a, b] = profiles();
    let _ = std::fs::remove_dir_all(clips);
    std::fs::create_dir_all(clips).expect("the device's clip folder");
    let device = Running(
        Command::new(workspace_binary("myna-dut-ref"))
            .arg("--serial")
            .arg(path)
            .args(["--profiles", &a, &b, "--log"])
            .arg(log)
            .arg("--clips")
            .arg(clips)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start myna-dut-ref"),
    );
    std::thread::sleep(Duration::from_millis(300));
    device
}

/// The PIN-path files and the face case run over each link.
const PIN_FILES: [&str; 3] = [
    "scenarios/reception/pin-valid.yaml",
    "scenarios/reception/pin-wrong-then-right.yaml",
    "scenarios/reception/pin-locked-after-three.yaml",
];
const FACE_FILE: &str = "scenarios/reception/face-match.yaml";
const FACE_CASE: &str = "face-match[card=valid,visit=first]";

/// Runs the PIN files and the face case with `extra` arguments into `out`/{pin,face}: the
/// verdicts, and each case's time.
fn run_cases(out: &Path, extra: &[&str]) -> (BTreeMap<String, String>, BTreeMap<String, Duration>) {
    let mut verdict = BTreeMap::new();
    let mut took = BTreeMap::new();
    let face_args = ["--filter", FACE_CASE, FACE_FILE];
    for (name, files) in [("pin", &PIN_FILES[..]), ("face", &face_args[..])] {
        let dir = out.join(name);
        let mut args = vec!["run", "--out", dir.to_str().unwrap()];
        args.extend(extra);
        args.extend(files);
        assert_exit_0(&run_myna_hil(&args));
        let results = dir.join("results.json");
        verdict.extend(verdicts(&results));
        for case in reports::results::ResultsFile::read(&results)
            .expect("results")
            .cases
        {
            took.insert(case.id, case.duration);
        }
    }
    (verdict, took)
}

#[test]
fn pin_and_face_cases_over_rfc2217_have_the_in_process_verdicts() {
    let dir = fresh_dir("rfc2217-cases");
    let (expected, _) = run_cases(&dir.join("inprocess"), &[]);
    assert!(
        expected.len() >= 4 && expected.keys().any(|id| id.contains("face-match")),
        "{expected:?}"
    );

    let _slots = all_reader_slots();
    let (_socat, served, device_end) = pty_pair(&dir);
    let clips = dir.join("clips");
    let device = ref_dut_serial(&device_end, &dir.join("dut.log"), &clips);
    let ser2net = Ser2net::start(&dir, &served);
    let reader = ser2net.reader();
    let over = ["--card", "pcsc", "--reader", reader.as_str()];
    let started = Instant::now();
    let (remote, remote_took) = run_cases(&dir.join("rfc2217"), &over);
    let remote_wall = started.elapsed();
    assert_eq!(
        remote,
        expected,
        "rfc2217 vs in process; ser2net: {}",
        ser2net.log()
    );
    let chunks = count(&dir.join("dut.log"), "\"clip_chunk\"");
    assert!(
        chunks > 0,
        "the face case's clip did not travel over rfc2217"
    );

    // The same cases on the pty itself, once ser2net has let it go: for the comparison of
    // times (printed, not asserted: timing is measured, never a verdict), the clip sent
    // again to a device with an empty store.
    drop(ser2net);
    drop(device);
    let _device = ref_dut_serial(&device_end, &dir.join("dut-pty.log"), &clips);
    let direct = format!("dut:serial:{}", served.display());
    let over = ["--card", "pcsc", "--reader", direct.as_str()];
    let started = Instant::now();
    let (pty, pty_took) = run_cases(&dir.join("pty"), &over);
    let pty_wall = started.elapsed();
    assert_eq!(pty, expected, "pty vs in process");
    eprintln!("case                                              rfc2217       pty");
    for (id, t) in &remote_took {
        let p = pty_took.get(id).copied().unwrap_or_default();
        eprintln!("{id:<48} {:>8.1} ms {:>8.1} ms", ms(*t), ms(p));
    }
    eprintln!(
        "all runs (wall, with start-up)                   {:>8.1} ms {:>8.1} ms",
        ms(remote_wall),
        ms(pty_wall)
    );
}

/// How many lines of `log` contain `text`.
fn count(log: &Path, text: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(text))
        .count()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// An echo on the device's end of the pty: every byte read is written back.
fn echo(path: PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut port = serialport::new(path.to_str().unwrap(), 115_200)
            .timeout(Duration::from_millis(50))
            .open()
            .expect("open the device's end");
        let mut buf = [0u8; 4096];
        while !stop.load(Ordering::SeqCst) {
            match port.read(&mut buf) {
                Ok(0) => {}
                Ok(n) => port.write_all(&buf[..n]).expect("echo"),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => panic!("echo: {e}"),
            }
        }
    })
}

#[test]
fn every_byte_value_passes_through_ser2net_both_ways() {
    let dir = fresh_dir("rfc2217-bytes");
    let (_socat, served, device_end) = pty_pair(&dir);
    let stop = Arc::new(AtomicBool::new(false));
    let echoing = echo(device_end, stop.clone());
    let ser2net = Ser2net::start(&dir, &served);
    let mut link = link::connect(&ser2net.address(), Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{e}; ser2net: {}", ser2net.log()));
    link.set_read_timeout(Duration::from_secs(5)).unwrap();
    let mut writer = link.try_clone_link().unwrap();
    // Every value, 0xFF runs and the bytes a tty would eat (XON/XOFF, CR, ^C) among them.
    let mut sent: Vec<u8> = (0..=255u8).cycle().take(256 * 16).collect();
    sent.extend([0xFF; 64]);
    sent.extend([0x11, 0x13, 0x0D, 0x03, 0xFF, 0x0D, 0x0A, 0xFF, 0xFF, 0x00]);
    let to_send = sent.clone();
    let writing = std::thread::spawn(move || {
        for chunk in to_send.chunks(61) {
            writer.write_all(chunk).unwrap();
        }
    });
    let mut got = vec![0u8; sent.len()];
    let read = link.read_exact(&mut got);
    writing.join().unwrap();
    stop.store(true, Ordering::SeqCst);
    echoing.join().unwrap();
    read.unwrap_or_else(|e| panic!("{e}; ser2net: {}", ser2net.log()));
    let first_wrong = got.iter().zip(&sent).position(|(g, s)| g != s);
    assert_eq!(first_wrong, None, "the echo differs from what was sent");
}

/// The reference device's `reset` → `done`, `n` times over `address`: the mean round trip.
fn mean_round_trip(address: &Address, n: u32) -> Duration {
    let mut link = link::connect(address, Duration::from_secs(5)).expect("connect");
    link.set_read_timeout(Duration::from_secs(5)).unwrap();
    let mut out: Box<dyn Link> = link.try_clone_link().unwrap();
    let mut lines = LineReader::new(link);
    write_message(&mut out, &ToDevice::hello()).unwrap();
    loop {
        match lines.read_message::<FromDevice>() {
            Ok(Some(FromDevice::Hello(_))) => break,
            Ok(Some(_)) => {}
            other => panic!("no hello: {other:?}"),
        }
    }
    let started = Instant::now();
    for id in 1..=u64::from(n) {
        write_message(&mut out, &ToDevice::Reset { id }).unwrap();
        loop {
            match lines.read_message::<FromDevice>() {
                Ok(Some(m)) if m.answers() == Some(id) => break,
                Ok(Some(_)) => {}
                other => panic!("no answer to reset {id}: {other:?}"),
            }
        }
    }
    started.elapsed() / n
}

#[test]
fn a_message_round_trip_over_rfc2217_beside_the_pty() {
    let dir = fresh_dir("rfc2217-round-trip");
    let (_socat, served, device_end) = pty_pair(&dir);
    let _device = ref_dut_serial(&device_end, &dir.join("dut.log"), &dir.join("clips"));
    let ser2net = Ser2net::start(&dir, &served);
    let remote = mean_round_trip(&ser2net.address(), 200);
    drop(ser2net);
    std::thread::sleep(Duration::from_millis(200));
    let pty = mean_round_trip(
        &Address::Serial {
            path: served.display().to_string(),
            baud: 115_200,
        },
        200,
    );
    eprintln!(
        "reset → done, mean of 200: rfc2217 via ser2net {:.3} ms, pty {:.3} ms",
        ms(remote),
        ms(pty)
    );
}

#[test]
fn a_telnet_server_without_rfc2217_is_refused_with_the_reason() {
    let dir = fresh_dir("rfc2217-plain-telnet");
    let (_socat, served, _device_end) = pty_pair(&dir);
    let ser2net = Ser2net::start_as("telnet", &dir, &served);
    let err = link::connect(&ser2net.address(), Duration::from_secs(5))
        .err()
        .expect("a bare telnet accepter cannot set the line");
    let why = err.to_string();
    assert!(
        why.contains("refused COM-PORT-OPTION") && why.contains("telnet(rfc2217)"),
        "{why}"
    );
}
