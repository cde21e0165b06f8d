//! The example adapter a vendor copies (`examples/adapter-python/`), end to end: the Python
//! adapter listens on TCP as the device under test, reaches the emulated cards through the
//! vpcd readers (pyscard) and the qualification service over HTTP, and the reception suite
//! runs through it with `--card pcsc`. Every case that needs no face has its in-process
//! verdict; face cases are `skip` (the adapter has no `face` capability); no secret appears
//! in any output.

use myna_hil_tests::{
    all_reader_slots, assert_no_secret, fresh_dir, repo_root, run_myna_hil, text, verdicts, Running,
};
use reports::results::ResultsFile;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

/// A Python 3 that can import pyscard: `python3` on PATH, else the system's (a pyenv or
/// venv `python3` first on PATH does not see Debian's `python3-pyscard`). Fails, never
/// skips, when there is none: CI installs the package through `.ci/setup`.
fn python_with_pyscard() -> &'static str {
    for python in ["python3", "/usr/bin/python3"] {
        let ok = Command::new(python)
            .args(["-c", "import smartcard.System"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return python;
        }
    }
    panic!(
        "no python3 with pyscard: the example adapter needs python3-pyscard \
         (`apt-get install python3-pyscard`, which `bash .ci/setup` does)"
    );
}

/// The example adapter listening on a port it picked (`--port 0`; it prints `listening on
/// PORT` once it listens), its diagnostics in `log`.
fn example_adapter(log: &Path) -> (Running, String) {
    let script = repo_root().join("examples/adapter-python/adapter.py");
    let mut child = Command::new(python_with_pyscard())
        .arg(&script)
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(File::create(log).unwrap())
        .spawn()
        .expect("start the example adapter");
    let mut first = String::new();
    let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut first);
    let running = Running(child);
    let port = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| {
            panic!(
                "the example adapter did not listen ({first:?}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        })
        .to_owned();
    (running, format!("127.0.0.1:{port}"))
}

#[test]
fn the_example_adapter_has_the_in_process_verdicts_of_every_non_face_reception_case() {
    let python = python_with_pyscard();
    let dir = fresh_dir("example-adapter");
    let inproc = dir.join("inprocess");
    let out = run_myna_hil(&[
        "run",
        "scenarios/reception",
        "--out",
        inproc.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let expected = verdicts(&inproc.join("results.json"));

    let _slots = all_reader_slots();
    let log = dir.join("adapter.log");
    let (_adapter, addr) = example_adapter(&log);
    let via = dir.join("adapter");
    let out = run_myna_hil(&[
        "run",
        "scenarios/reception",
        "--card",
        "pcsc",
        "--reader",
        &format!("dut:tcp:{addr}"),
        "--out",
        via.to_str().unwrap(),
    ]);
    let results = via.join("results.json");
    assert!(
        results.exists(),
        "no results through the adapter ({python}): {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let cases = ResultsFile::read(&results).unwrap().cases;
    let mut differ = Vec::new();
    let mut face_skips = 0;
    for case in &cases {
        let reason = case.reason.as_deref().unwrap_or("");
        let verdict = case.verdict.as_str();
        if verdict == "skip" && reason.contains("face") {
            face_skips += 1;
            continue;
        }
        let want = expected.get(&case.id).map(String::as_str);
        if want != Some(verdict) {
            differ.push(format!(
                "{}: {verdict} through the adapter, {want:?} in process: {reason}",
                case.id
            ));
        }
    }
    assert_eq!(
        cases.len(),
        expected.len(),
        "the same cases through the adapter"
    );
    assert!(
        face_skips > 0,
        "face cases are skipped (no `face` capability)"
    );
    assert!(
        differ.is_empty(),
        "{} of {} cases differ:\n{}",
        differ.len(),
        cases.len(),
        differ.join("\n")
    );

    let mut files = vec![log];
    for d in [&inproc, &via] {
        for f in ["results.json", "junit.xml", "latency.md"] {
            files.push(d.join(f));
        }
    }
    assert_no_secret(&files);
}
