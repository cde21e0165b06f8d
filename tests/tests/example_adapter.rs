//! The example adapter a vendor copies (`examples/adapter-python/`), end to end: the Python
//! adapter listens on TCP as the device under test, reaches the emulated cards through the
//! vpcd readers (pyscard) and the qualification service over HTTP, and the reception suite
//! is certified through it with `--card pcsc`, as its own ICS (`ics.yaml`, PIN only)
//! selects the cases of the shipped plan: every one of the 59 non-face reception cases
//! passes, the face cases are excluded by the plan, the signed bundle verifies, and no
//! secret appears in any output.

use myna_hil_tests::{
    all_reader_slots, assert_no_secret, fresh_dir, repo_root, run_myna_hil, text, Running,
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
fn the_example_adapter_is_certified_for_every_non_face_reception_case() {
    let python = python_with_pyscard();
    let dir = fresh_dir("example-adapter");
    let _slots = all_reader_slots();
    let log = dir.join("adapter.log");
    let (_adapter, addr) = example_adapter(&log);
    let key = dir.join("vendor");
    assert_eq!(
        run_myna_hil(&["keygen", "--out", key.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    // The adapter's own ICS selects the cases: the face cases are excluded by the plan.
    let bundle = dir.join("bundle");
    let out = run_myna_hil(&[
        "certify",
        "--plan",
        "plans/reception.yaml",
        "--ics",
        "examples/adapter-python/ics.yaml",
        "--reader",
        &format!("dut:tcp:{addr}"),
        "--card",
        "pcsc",
        "--sign",
        dir.join("vendor.key").to_str().unwrap(),
        "--out",
        bundle.to_str().unwrap(),
    ]);
    let said = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "through the adapter ({python}):\n{said}{}\n{}",
        text(&out.stderr),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(said.contains("69 of 114 case(s) selected"), "{said}");
    assert!(
        said.contains("CERTIFIED: every mandatory case passed"),
        "{said}"
    );
    let cases = ResultsFile::read(&bundle.join("results.json"))
        .unwrap()
        .cases;
    assert_eq!(cases.len(), 69);
    let not_passed: Vec<String> = cases
        .iter()
        .filter(|c| c.verdict.as_str() != "pass")
        .map(|c| format!("{}: {} {:?}", c.id, c.verdict.as_str(), c.reason))
        .collect();
    assert!(not_passed.is_empty(), "{}", not_passed.join("\n"));
    assert!(
        cases.iter().all(|c| !c.id.starts_with("reception.face-")),
        "no face case ran"
    );
    let tar = dir.join("bundle.tar");
    let verified = run_myna_hil(&[
        "verify",
        tar.to_str().unwrap(),
        "--key",
        dir.join("vendor.pub").to_str().unwrap(),
    ]);
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{}",
        text(&verified.stdout)
    );

    let mut files = vec![log];
    for f in ["results.json", "junit.xml", "latency.md", "report.html"] {
        files.push(bundle.join(f));
    }
    files.push(bundle.join("attempts/1/results.jsonl"));
    assert_no_secret(&files);
}
