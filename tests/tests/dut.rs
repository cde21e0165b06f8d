//! Devices under test over the adapter protocol, end to end: the reference device
//! `myna-dut-ref` over TCP and over a socat pty pair, and the faults a device on a bench
//! commits (silence, garbage, an over-long line, a dropped link, another protocol version),
//! injected by a proxy between the harness and the reference device. Every fault ends its
//! case in `error` and the run goes on.

use myna_hil_tests::{
    all_reader_slots, assert_exit_0, assert_no_secret, foreign_card, fresh_dir, profiles, pty_pair,
    reader_slot, ref_dut_tcp, repo_root, run_myna_hil, text, verdicts, workspace_binary, Running,
};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn the_shipped_suite_runs_over_a_pty_pair_with_the_in_process_verdicts() {
    let dir = fresh_dir("dut-suite");
    let inproc = dir.join("inprocess");
    let out = run_myna_hil(&["run", "scenarios", "--out", inproc.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let expected = verdicts(&inproc.join("results.json"));

    let _slots = all_reader_slots();
    // The suite with its cards in the vpcd readers, through the devices at `readers`.
    let suite_via = |readers: &[String], out: &Path| {
        let mut args = vec![
            "run",
            "scenarios",
            "--card",
            "pcsc",
            "--out",
            out.to_str().unwrap(),
        ];
        for r in readers {
            args.extend(["--reader", r.as_str()]);
        }
        assert_exit_0(&run_myna_hil(&args));
        verdicts(&out.join("results.json"))
    };
    // Over TCP the whole reception suite runs in `tests/certify.rs` (the README's
    // certification walk-through: certified only if every case passed); here, over a pty.
    // Over socat pty pairs, to a pool of two devices (each case on one of them).
    let [a, b] = profiles();
    let mut readers = Vec::new();
    let mut logs = Vec::new();
    let mut running = Vec::new();
    for name in ["a", "b"] {
        let pair = dir.join(name);
        std::fs::create_dir_all(&pair).unwrap();
        let (socat, harness_end, device_end) = pty_pair(&pair);
        let log = dir.join(format!("dut-serial-{name}.log"));
        let device = Running(
            Command::new(workspace_binary("myna-dut-ref"))
                .args([
                    "--serial",
                    device_end.to_str().unwrap(),
                    "--profiles",
                    &a,
                    &b,
                    "--log",
                ])
                .arg(&log)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        readers.push(format!("dut:serial:{}", harness_end.display()));
        logs.push(log);
        running.push((socat, device));
    }
    std::thread::sleep(Duration::from_millis(300));
    let serial = dir.join("serial");
    assert_eq!(
        suite_via(&readers, &serial),
        expected,
        "serial vs in process"
    );

    // Not one secret of the shipped profiles in any output of any of the runs.
    let mut files = logs;
    for d in [&inproc, &serial] {
        for f in ["results.json", "junit.xml", "latency.md"] {
            files.push(d.join(f));
        }
    }
    assert_no_secret(&files);
}

/// What the proxy does to the first connection (later ones pass through untouched).
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Forwards nothing more after the harness's `case_start`.
    Silent,
    /// Sends the harness a line that is not JSON after `case_start` is answered.
    Garbage,
    /// Sends the harness a line longer than the protocol's limit.
    OverLong,
    /// Closes the connection right after `case_start`.
    Drop,
    /// Says the device speaks protocol version 2.
    OtherVersion,
}

/// A line proxy between the harness (listening on the returned address) and `upstream`.
fn proxy(upstream: String, fault: Fault) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(harness) = conn else { return };
            let Ok(device) = TcpStream::connect(&upstream) else {
                return;
            };
            let faulty = n == 0 || matches!(fault, Fault::OtherVersion);
            let to_harness = Arc::new(Mutex::new(harness.try_clone().unwrap()));
            let mut to_device = device.try_clone().unwrap();
            let back = to_harness.clone();
            // Device → harness.
            std::thread::spawn(move || {
                for line in BufReader::new(device).lines() {
                    let Ok(mut line) = line else { break };
                    if faulty && matches!(fault, Fault::OtherVersion) && line.contains("\"hello\"")
                    {
                        line = line.replace("\"version\":1", "\"version\":2");
                    }
                    let sent = back
                        .lock()
                        .unwrap()
                        .write_all(format!("{line}\n").as_bytes());
                    if sent.is_err() {
                        break;
                    }
                }
            });
            // Harness → device, with the fault.
            std::thread::spawn(move || {
                let mut silent = false;
                for line in BufReader::new(harness).lines() {
                    let Ok(line) = line else { break };
                    let starts_case = faulty && line.contains("\"case_start\"");
                    if starts_case {
                        match fault {
                            Fault::Drop => {
                                let _ = to_harness.lock().unwrap().shutdown(Shutdown::Both);
                                let _ = to_device.shutdown(Shutdown::Both);
                                break;
                            }
                            Fault::Silent => silent = true,
                            Fault::Garbage => {
                                let _ = to_harness.lock().unwrap().write_all(b"%%% not json %%%\n");
                            }
                            Fault::OverLong => {
                                let mut long = vec![b'x'; 300 * 1024];
                                long.push(b'\n');
                                let _ = to_harness.lock().unwrap().write_all(&long);
                            }
                            Fault::OtherVersion => {}
                        }
                    }
                    if silent {
                        continue;
                    }
                    if to_device.write_all(format!("{line}\n").as_bytes()).is_err() {
                        break;
                    }
                }
                // The harness hung up: so does the proxy, towards the device.
                let _ = to_device.shutdown(Shutdown::Both);
            });
        }
    });
    addr
}

/// Two PIN-path cases with a short step deadline, in `dir`.
fn two_cases(dir: &Path) -> PathBuf {
    let scenarios = dir.join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    let card = repo_root().join("scenarios/cards/valid.yaml");
    std::fs::write(
        scenarios.join("pin.yaml"),
        format!(
            "title: PIN path\ndate: 2025-11-04\ncard: {}\nstep_deadline: 3s\n\
             insurance: {{ insurer_number: \"06139999\", number: \"1\", limit_category: A03 }}\n\
             matrix:\n  visit: [first, return]\nvisit: ${{visit}}\n\
             steps:\n  - place_card\n  - choose: pin\n  - enter_pin: correct\n  - consent: all\n\
             expect:\n  route: card_pin\n",
            card.display()
        ),
    )
    .unwrap();
    scenarios
}

/// Runs the two cases through a proxy with `fault` on its first connection.
fn run_with_fault(fault: Fault) -> (Output, Option<BTreeMap<String, String>>) {
    let dir = fresh_dir(&format!("dut-fault-{fault:?}"));
    let scenarios = two_cases(&dir);
    let _slots = all_reader_slots();
    let (_dut, addr) = ref_dut_tcp(&dir.join("dut.log"), &[]);
    let via = proxy(addr, fault);
    let out_dir = dir.join("out");
    let reader = format!("dut:tcp:{via}");
    let out = run_myna_hil(&[
        "run",
        scenarios.to_str().unwrap(),
        "--card",
        "pcsc",
        "--reader",
        &reader,
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let results = out_dir.join("results.json");
    let verdicts = results.exists().then(|| verdicts(&results));
    (out, verdicts)
}

/// The first case ends in `error` with `why`, the second passes on a new session.
fn assert_first_errs_then_passes(fault: Fault, why: &str) {
    let (out, verdicts) = run_with_fault(fault);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    let verdicts = verdicts.expect("results written");
    let first = verdicts
        .iter()
        .find(|(id, _)| id.contains("visit=first"))
        .unwrap();
    let second = verdicts
        .iter()
        .find(|(id, _)| id.contains("visit=return"))
        .unwrap();
    assert_eq!(first.1, "error", "{stdout}");
    assert_eq!(second.1, "pass", "{stdout}");
    assert!(stdout.contains(why), "`{why}` not in: {stdout}");
}

#[test]
fn a_silent_device_is_an_error_for_its_case_and_the_run_goes_on() {
    assert_first_errs_then_passes(Fault::Silent, "did not");
}

#[test]
fn a_garbage_line_is_an_error_for_its_case_and_the_run_goes_on() {
    assert_first_errs_then_passes(Fault::Garbage, "bad line");
}

#[test]
fn an_over_long_line_is_an_error_for_its_case_and_the_run_goes_on() {
    assert_first_errs_then_passes(Fault::OverLong, "longer than");
}

#[test]
fn a_device_gone_mid_case_is_an_error_for_its_case_and_the_run_goes_on() {
    assert_first_errs_then_passes(Fault::Drop, "closed");
}

#[test]
fn a_device_speaking_another_version_stops_the_run_as_a_bench_fault() {
    let (out, _) = run_with_fault(Fault::OtherVersion);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("version 2") && err.contains("version 1"),
        "{err}"
    );
}

/// A serial device that answers `hello` and `case_start`, then goes away: the harness sees
/// the link break (EOF / BrokenPipe) and the case ends in `error`.
#[test]
fn a_serial_device_gone_mid_case_is_an_error_and_the_run_goes_on() {
    let dir = fresh_dir("dut-serial-gone");
    let scenarios = two_cases(&dir);
    let (_socat, harness_end, device_end) = pty_pair(&dir);
    let device = std::thread::spawn(move || {
        for _session in 0..2 {
            let Ok(port) = serialport::new(device_end.to_str().unwrap(), 115_200)
                .timeout(Duration::from_secs(20))
                .open()
            else {
                return;
            };
            let mut out = port.try_clone().unwrap();
            let mut lines = BufReader::new(port).lines();
            while let Some(Ok(line)) = lines.next() {
                if line.contains("\"hello\"") {
                    let hello = r#"{"type":"hello","protocol":"myna-hil-dut","version":1,"vendor":"test","model":"gone","firmware":"0","capabilities":["pin","consent"]}"#;
                    out.write_all(format!("{hello}\n").as_bytes()).unwrap();
                } else if line.contains("\"case_start\"") {
                    let id = line
                        .split("\"id\":")
                        .nth(1)
                        .and_then(|r| r.split([',', '}']).next())
                        .unwrap_or("0")
                        .to_owned();
                    out.write_all(format!("{{\"type\":\"done\",\"id\":{id}}}\n").as_bytes())
                        .unwrap();
                } else {
                    // Gone: the port closes with the next stimulus unanswered.
                    break;
                }
            }
        }
    });
    let _slots = all_reader_slots();
    let out_dir = dir.join("out");
    let reader = format!("dut:serial:{}", harness_end.display());
    let out = run_myna_hil(&[
        "run",
        scenarios.to_str().unwrap(),
        "--card",
        "pcsc",
        "--reader",
        &reader,
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let _ = device.join();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    let v = verdicts(&out_dir.join("results.json"));
    assert_eq!(v.len(), 2, "{stdout}");
    assert!(v.values().all(|v| v == "error"), "{v:?}");
}

/// A real card on the device itself (`--card device`): a card the harness did not attach
/// (here an emulated one plugged in by the test, which the harness cannot tell from a real
/// one). Without --allow-destructive no PIN is typed; with it, PINs are typed only while
/// the device's pad shows at least 2 tries, so the card ends at 1 try, never blocked.
#[test]
fn a_real_card_on_the_device_never_gets_a_pin_by_default_and_never_its_last_try() {
    use card_emulator::PinRef;
    let slot = reader_slot(0);
    let card = foreign_card(&slot, "valid");
    let tries = || {
        card.card()
            .lock()
            .expect("card")
            .tries_left(PinRef::AuthPin)
    };
    let dir = fresh_dir("dut-real-card");
    let (_dut, addr) = ref_dut_tcp(&dir.join("dut.log"), &["--own-reader", slot.reader()]);
    let reader = format!("dut:tcp:{addr}");
    let scenarios = repo_root().join("scenarios/reception");
    let file = |name: &str| scenarios.join(format!("{name}.yaml")).display().to_string();
    // Cases run in id order: the one that leaves the card at 1 try goes in a run of its own.
    let harmless = [file("pin-valid"), file("pin-wrong-then-right")];
    let blocking = [file("pin-locked-after-three")];
    let run = |out: &Path, extra: &[&str], files: &[String]| {
        let mut args = vec!["run", "--card", "device", "--reader", &reader, "--out"];
        args.push(out.to_str().unwrap());
        args.extend(extra);
        args.extend(files.iter().map(String::as_str));
        assert_exit_0(&run_myna_hil(&args));
        reports::results::ResultsFile::read(&out.join("results.json"))
            .expect("results")
            .cases
    };
    let reason = |case: &reports::CaseResult| case.reason.clone().unwrap_or_default();

    let careful = dir.join("careful");
    let every = [harmless.as_slice(), blocking.as_slice()].concat();
    let cases = run(&careful, &[], &every);
    assert_eq!(cases.len(), 4);
    for case in &cases {
        assert_eq!(case.verdict.as_str(), "skip", "{case:?}");
        let why = reason(case);
        assert!(
            why.contains("refused to protect a real card") && why.contains("--allow-destructive"),
            "{why}"
        );
    }
    assert_eq!(tries(), 3, "no PIN reached the card");

    let allowed = dir.join("allowed");
    let cases = run(&allowed, &["--allow-destructive"], &harmless);
    let verdicts: Vec<&str> = cases.iter().map(|c| c.verdict.as_str()).collect();
    assert_eq!(verdicts, ["pass", "pass", "pass"], "{cases:?}");
    assert_eq!(tries(), 3, "the right PIN reset the counter");

    let blocked = dir.join("blocked");
    let cases = run(&blocked, &["--allow-destructive"], &blocking);
    assert_eq!(cases[0].verdict.as_str(), "skip", "{cases:?}");
    let last = reason(&cases[0]);
    assert!(last.contains("last try"), "{last}");
    assert_eq!(tries(), 1, "two wrong PINs typed, the last try kept");

    let mut outputs = vec![dir.join("dut.log")];
    for out in [&careful, &allowed, &blocked] {
        outputs.extend(["junit.xml", "results.json"].map(|f| out.join(f)));
    }
    assert_no_secret(&outputs);
}
