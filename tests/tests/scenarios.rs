//! The shipped scenario suite through the CLI: in process and through pcscd with the same
//! verdicts, every mistake of a scenario file at once, reports that survive a killed run,
//! partitions that join back into the whole run.

use myna_hil_tests::{
    all_reader_slots, assert_exit_0, assert_junit_valid, fresh_dir, repo_root, run_myna_hil, text,
    verdicts, workspace_binary,
};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn run_suite(card: &str, out: &Path) -> Output {
    run_myna_hil(&[
        "run",
        "scenarios",
        "--card",
        card,
        "--out",
        out.to_str().unwrap(),
    ])
}

#[test]
fn the_shipped_suite_passes_in_process_and_through_pcscd_alike() {
    let inproc = fresh_dir("inprocess");
    let out = run_suite("inprocess", &inproc);
    assert_exit_0(&out);
    let a = verdicts(&inproc.join("results.json"));
    assert!(a.len() >= 50, "only {} cases", a.len());
    for (id, v) in &a {
        // Skips: conformance checks that do not apply to a card (a phone token has no
        // card-surface AP, a blocked PIN cannot sign...).
        let may_skip = id.starts_with("conformance.");
        assert!(v == "pass" || (v == "skip" && may_skip), "{id}: {v}");
    }
    let junit = std::fs::read_to_string(inproc.join("junit.xml")).unwrap();
    assert!(junit.contains("<testsuites") && !junit.contains("<failure"));
    assert_junit_valid(&inproc.join("junit.xml"));
    let latency = std::fs::read_to_string(inproc.join("latency.md")).unwrap();
    assert!(latency.contains("| step.enter_pin |"), "{latency}");
    assert!(latency.contains("| step.face.match |"), "{latency}");
    assert!(inproc.join("latency/latency-step_face_match.png").is_file());
    assert!(inproc.join("latency/latency-step_face_match.svg").is_file());
    // The face path is live: matches, mismatches, attacks and locks all ran.
    for kind in ["face-match", "face-mismatch", "face-attacks", "face-lock"] {
        assert!(
            a.keys().any(|id| id.contains(kind)),
            "no {kind} case in the suite"
        );
    }

    let _slots = all_reader_slots();
    let pcsc = fresh_dir("pcsc");
    let out = run_suite("pcsc", &pcsc);
    assert_exit_0(&out);
    assert_eq!(
        verdicts(&pcsc.join("results.json")),
        a,
        "same verdicts both ways"
    );
    assert_junit_valid(&pcsc.join("junit.xml"));

    // Not one secret of any shipped profile in any output of either run.
    let mut outputs = Vec::new();
    for dir in [&inproc, &pcsc] {
        for file in ["results.json", "junit.xml", "latency.md"] {
            outputs.push(dir.join(file));
        }
    }
    myna_hil_tests::assert_no_secret(&outputs);
    // Secrets never reach a report: no PIN in a VERIFY, no password, and the keys
    // pressed are only ever counted.
    for dir in [&inproc, &pcsc] {
        for file in ["results.json", "junit.xml"] {
            let body = std::fs::read_to_string(dir.join(file)).unwrap();
            // PIN 1234 in a VERIFY, the signature password, and valid.yaml's 照合番号B
            // (55021720352285) as text and as the hex of its VERIFY.
            for secret in [
                "002000800431323334",
                "TEST2025",
                "5445535432303235",
                "55021720352285",
                "3535303231373230333532323835",
            ] {
                assert!(!body.contains(secret), "{secret} in {file}");
            }
            assert!(body.contains("keypad layout"), "the layout is recorded");
            assert!(body.contains("key(s) pressed"));
        }
    }
}

#[test]
fn every_mistake_in_a_scenario_is_reported_at_once_and_nothing_runs() {
    let dir = fresh_dir("broken");
    std::fs::create_dir_all(dir.join("cards")).unwrap();
    std::fs::copy(
        repo_root().join("scenarios/cards/valid.yaml"),
        dir.join("cards/valid.yaml"),
    )
    .unwrap();
    let file = dir.join("broken.yaml");
    std::fs::write(
        &file,
        "title: broken\ncard: cards/valid.yaml\ndate: 2025-11-04\nvisti: first\nsteps:\n  - place_card\n  - choose: pni\n  - enter_pin: ${pin}\nexpect:\n  route: card_pine\n",
    )
    .unwrap();
    let out = run_myna_hil(&["check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    for (position, what) in [
        ("broken.yaml:4:1", "unknown key `visti`"),
        ("broken.yaml:7:13", "`pni` is not a valid value here"),
        ("broken.yaml:8:16", "unknown variable `pin`"),
        ("broken.yaml:10:10", "`card_pine` is not a valid value here"),
    ] {
        assert!(err.contains(position), "{position} missing:\n{err}");
        assert!(err.contains(what), "{what} missing:\n{err}");
    }
    assert!(err.contains("did you mean `visit`?"), "{err}");
    assert!(err.contains("4 errors found"), "{err}");
    // `run` refuses the same file before running anything.
    let out_dir = fresh_dir("broken-run");
    let out = run_myna_hil(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !out_dir.join("results.json").exists(),
        "nothing may half-run"
    );
}

#[test]
fn a_killed_run_leaves_every_finished_case_in_its_log_and_rebuild_writes_the_reports() {
    let dir = fresh_dir("killed");
    // A report of an earlier run in the same folder must not pass for this one's.
    std::fs::write(dir.join("junit.xml"), "<testsuites/>").unwrap();
    let mut child = Command::new(workspace_binary("myna-hil"))
        .args(["run", "scenarios/reception", "--jobs", "1", "--out"])
        .arg(&dir)
        .current_dir(repo_root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let log = dir.join("results.jsonl");
    let start = Instant::now();
    // Kill once a few cases are in the log (the run is far from over by then).
    loop {
        if let Ok(run) = reports::log::RunLog::read(&log) {
            if run.finished() >= 5 {
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no results appeared"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !dir.join("junit.xml").exists(),
        "the earlier run's JUnit was removed when this run started"
    );
    let run = reports::log::RunLog::read(&log).expect("log readable after SIGKILL");
    let finished = run.finished();
    assert!(finished >= 5 && finished < run.header.selected.len());
    assert_eq!(run.interrupted, None, "no end line: the run was killed");

    let out = run_myna_hil(&["report", "rebuild", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("the run did not end"));
    let file = reports::results::ResultsFile::read(&dir.join("results.json")).unwrap();
    assert_eq!(file.cases.len(), run.header.selected.len());
    let not_run = file
        .cases
        .iter()
        .filter(|c| c.reason.as_deref() == Some(reports::log::NOT_RUN))
        .count();
    assert_eq!(not_run, file.cases.len() - finished);
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), file.cases.len());
    assert!(dir.join("latency.md").exists());
}

#[test]
fn sigint_stops_the_run_and_writes_the_reports_of_what_finished() {
    let dir = fresh_dir("sigint");
    let child = Command::new(workspace_binary("myna-hil"))
        .args(["run", "scenarios/reception", "--jobs", "1", "--out"])
        .arg(&dir)
        .current_dir(repo_root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let log = dir.join("results.jsonl");
    let start = Instant::now();
    while reports::log::RunLog::read(&log).map_or(0, |r| r.finished()) < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no results appeared"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("interrupted"));
    let run = reports::log::RunLog::read(&log).unwrap();
    assert_eq!(run.interrupted, Some(true));
    let file = reports::results::ResultsFile::read(&dir.join("results.json")).unwrap();
    assert_eq!(file.cases.len(), run.header.selected.len());
    assert!(file
        .cases
        .iter()
        .any(|c| c.reason.as_deref() == Some(reports::log::NOT_RUN)));
}

#[test]
fn partitions_join_back_into_the_whole_run() {
    let whole = fresh_dir("whole");
    let out = run_myna_hil(&[
        "run",
        "scenarios/reception",
        "--out",
        whole.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let mut shard_files = Vec::new();
    for k in 1..=3 {
        let dir = fresh_dir(&format!("shard{k}"));
        let part = format!("{k}/3");
        let out = run_myna_hil(&[
            "run",
            "scenarios/reception",
            "--partition",
            &part,
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
        shard_files.push(dir.join("results.json"));
    }
    let merged = fresh_dir("merged");
    let json = merged.join("all.json");
    let junit = merged.join("all.xml");
    // Two shards of three: refused, naming the missing one.
    let mut args: Vec<String> = vec!["report".into(), "merge".into()];
    args.extend(shard_files[..2].iter().map(|p| p.display().to_string()));
    args.extend(["--out".into(), merged.display().to_string()]);
    let partial: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_myna_hil(&partial);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("missing shard(s) 3/3"),
        "{}",
        text(&out.stderr)
    );
    // All three, one as its run log.
    let mut args: Vec<String> = vec!["report".into(), "merge".into()];
    args.extend(shard_files[..2].iter().map(|p| p.display().to_string()));
    args.push(
        shard_files[2]
            .with_file_name("results.jsonl")
            .display()
            .to_string(),
    );
    args.extend(["--out".into(), merged.display().to_string()]);
    args.extend(["--json".into(), json.display().to_string()]);
    args.extend(["--junit".into(), junit.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_myna_hil(&args);
    assert_exit_0(&out);
    assert_eq!(verdicts(&json), verdicts(&whole.join("results.json")));
    assert!(std::fs::read_to_string(&junit)
        .unwrap()
        .contains("<testsuites"));
    assert!(
        merged.join("latency.md").exists(),
        "merge writes the latency table"
    );
    assert!(std::fs::read_dir(merged.join("latency")).unwrap().count() > 0);
    assert_junit_valid(&junit);
}

#[test]
fn the_schema_is_json_and_names_every_step_and_route() {
    let out = run_myna_hil(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let text = schema.to_string();
    for name in harness::scenario::STEP_NAMES {
        assert!(text.contains(&format!("\"{name}\"")), "step {name} missing");
    }
    for (route, _) in harness::scenario::ROUTES {
        assert!(
            text.contains(&format!("\"{route}\"")),
            "route {route} missing"
        );
    }
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    // Unknown keys are refused, in scenario files and in conformance files.
    for def in ["scenario_keys", "conformance"] {
        assert_eq!(
            schema["$defs"][def]["additionalProperties"],
            serde_json::Value::Bool(false),
            "{def}"
        );
    }
}

#[test]
fn serve_qualification_runs_alone_answers_http_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut child = Command::new(workspace_binary("myna-hil"))
        .args([
            "serve-qualification",
            "--bind",
            "127.0.0.1:0",
            "--date",
            "2025-11-04",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .rsplit("http://")
        .next()
        .expect("the listening address")
        .to_owned();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    let body = r#"{"certificate":"AAAA","facility":"clinic-a"}"#;
    write!(
        stream,
        "POST /qualification HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 400"),
        "not a certificate: {answer}"
    );
    // SAFETY: a plain signal to our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    assert!(child.wait().unwrap().success(), "SIGTERM stops it cleanly");
}
