//! Operator steps as a bench's people meet them (docs/operator.md): answered from a file of
//! scripted answers, typed on a terminal (a real pty: the child's stdin is a terminal),
//! left unanswered until the deadline, or impossible to answer (the run refuses to start).

use myna_hil_tests::{fresh_dir, repo_root, run_myna_hil, text, workspace_binary, Running};
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SCENARIO: &str = "tests/data/operator/consent-items.yaml";
const ANSWERS: &str = "tests/data/operator/answers.yaml";

fn results(out: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(out.join("results.json")).expect("results.json");
    serde_json::from_str(&text).expect("JSON")
}

fn case<'a>(results: &'a serde_json::Value, id_part: &str) -> &'a serde_json::Value {
    results["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["id"].as_str().is_some_and(|id| id.contains(id_part)))
        .unwrap_or_else(|| panic!("no case {id_part}"))
}

#[test]
fn scripted_answers_decide_the_verdicts_and_every_report_marks_them() {
    let dir = fresh_dir("operator-script");
    let out = dir.join("out");
    let run = run_myna_hil(&[
        "run",
        SCENARIO,
        "--operator",
        ANSWERS,
        "--out",
        out.to_str().unwrap(),
    ]);
    // One answer is `no`, which the scenario says fails the case.
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    let r = results(&out);
    let yes = case(&r, "four-items");
    assert_eq!(yes["verdict"], "pass");
    assert_eq!(yes["operator"][0]["answer"], "yes");
    assert_eq!(yes["operator"][0]["meaning"], "continue");
    assert_eq!(yes["operator"][0]["by"], format!("script ({ANSWERS})"));
    assert!(yes["operator"][0]["answered_at"].as_str().is_some());
    let no = case(&r, "three-items");
    assert_eq!(no["verdict"], "fail");
    let reason = no["reason"].as_str().unwrap();
    assert!(reason.contains("the operator answered `no`"), "{reason}");
    assert!(no["evidence"]
        .as_str()
        .unwrap()
        .contains("operator: `consent-four-items` asked "));
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(
        junit.contains(r#".operator_decided" value="true"/>"#),
        "{junit}"
    );
    assert!(junit.contains("[operator-decided]"), "{junit}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches(">operator-decided</span>").count(), 2);
}

#[test]
fn a_run_with_operator_steps_and_no_way_to_answer_does_not_start() {
    let dir = fresh_dir("operator-none");
    let out = dir.join("out");
    let run = Command::new(workspace_binary("myna-hil"))
        .args(["run", SCENARIO, "--out", out.to_str().unwrap()])
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .expect("run myna-hil");
    assert_eq!(run.status.code(), Some(2));
    let err = text(&run.stderr);
    assert!(err.contains("2 case(s) ask the operator"), "{err}");
    assert!(err.contains("--operator FILE"), "{err}");
    // Refused before anything ran: no run log.
    assert!(!out.join("results.jsonl").exists());
}

#[test]
fn an_answers_file_with_a_mistake_is_refused_at_its_place() {
    let dir = fresh_dir("operator-bad-answers");
    let answers = dir.join("answers.yaml");
    std::fs::write(
        &answers,
        "answers:\n  - { case: '*', prompt: consent-four-items, answr: 'yes' }\n",
    )
    .unwrap();
    let run = run_myna_hil(&[
        "run",
        SCENARIO,
        "--operator",
        answers.to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    let err = text(&run.stderr);
    assert!(err.contains("answers.yaml:2:"), "{err}");
    assert!(err.contains("did you mean `answer`?"), "{err}");
}

/// A pty pair: (master, slave) file descriptors.
fn openpty() -> (OwnedFd, OwnedFd) {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two descriptors into the given ints; the name, termios and
    // window-size pointers may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened and are owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

/// `myna-hil run` with a terminal on stdin, stdout and stderr; what it writes to the
/// terminal is collected as it comes.
struct OnTerminal {
    child: Running,
    master: std::fs::File,
    seen: Arc<Mutex<String>>,
}

impl OnTerminal {
    fn start(args: &[&str]) -> OnTerminal {
        let (master, slave) = openpty();
        let child = Command::new(workspace_binary("myna-hil"))
            .args(args)
            .current_dir(repo_root())
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave))
            .spawn()
            .expect("run myna-hil on a pty");
        let master = std::fs::File::from(master);
        let mut reader = master.try_clone().unwrap();
        let seen = Arc::new(Mutex::new(String::new()));
        let sink = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends when the last slave closes (EIO) with the child.
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        OnTerminal {
            child: Running(child),
            master,
            seen,
        }
    }

    fn wait_for(&self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.seen.lock().unwrap().contains(what) {
            assert!(
                Instant::now() < deadline,
                "never saw {what:?} on the terminal:\n{}",
                self.seen.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn type_line(&mut self, line: &str) {
        self.master
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
    }

    fn exit_code(mut self) -> Option<i32> {
        let status = self.child.0.wait().expect("wait for myna-hil");
        status.code()
    }
}

#[test]
fn an_answer_typed_on_the_terminal_decides_and_none_by_the_deadline_is_inconc() {
    let dir = fresh_dir("operator-pty");
    let typed = dir.join("typed");
    let mut run = OnTerminal::start(&[
        "run",
        SCENARIO,
        "--filter",
        "four-items",
        "--out",
        typed.to_str().unwrap(),
    ]);
    // The prompt in both languages, with its answers numbered.
    run.wait_for("Does the reader's consent screen show the four individual items?");
    run.wait_for("リーダーの同意画面に4つの個別項目が表示されていますか？");
    run.wait_for("answer (1 yes / 2 no): ");
    // A wrong answer is explained, and the prompt stays open.
    run.type_line("perhaps");
    run.wait_for("answer yes or no");
    run.type_line("1");
    assert_eq!(run.exit_code(), Some(0));
    let r = results(&typed);
    let c = case(&r, "four-items");
    assert_eq!(c["verdict"], "pass");
    assert_eq!(c["operator"][0]["by"], "terminal");
    assert_eq!(c["operator"][0]["answer"], "yes");

    // Nobody types: the 3 s deadline passes, the case is inconclusive, never a pass.
    let silent = dir.join("silent");
    let run = OnTerminal::start(&[
        "run",
        SCENARIO,
        "--filter",
        "three-items",
        "--out",
        silent.to_str().unwrap(),
    ]);
    let started = Instant::now();
    assert_eq!(run.exit_code(), Some(1));
    assert!(started.elapsed() >= Duration::from_secs(3));
    let r = results(&silent);
    let c = case(&r, "three-items");
    assert_eq!(c["verdict"], "inconc");
    assert_eq!(c["operator"][0]["meaning"], "unanswered");
    assert!(c["operator"][0]["answer"].is_null());
    let reason = c["reason"].as_str().unwrap();
    assert!(reason.contains("within its deadline of 3s"), "{reason}");
}

#[test]
fn the_physical_bench_scenarios_pass_a_dry_run_on_the_reference_reader() {
    let dir = fresh_dir("operator-physical");
    let out = dir.join("out");
    let run = run_myna_hil(&[
        "run",
        "examples/physical-bench/scenarios",
        "--operator",
        "examples/physical-bench/answers-dry-run.yaml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stdout));
    let r = results(&out);
    let cases = r["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    // Every verdict rests on an operator's answer, and says so.
    assert!(cases
        .iter()
        .all(|c| c["verdict"] == "pass" && c["operator"].as_array().is_some_and(|a| a.len() == 1)));
}

/// The reference device with a test UI (`--operator-ui`), its person scripted by `answers`.
fn device_with_ui(dir: &std::path::Path, answers: &str) -> (Running, String) {
    myna_hil_tests::ref_dut_tcp(&dir.join("dut.log"), &["--operator-ui", answers])
}

fn run_on_device(addr: &str, out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let reader = format!("dut:tcp:{addr}");
    let mut args = vec![
        "run",
        SCENARIO,
        "--card",
        "pcsc",
        "--reader",
        &reader,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    Command::new(workspace_binary("myna-hil"))
        .args(&args)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .expect("run myna-hil")
}

/// A person answers on the device's own test UI (capability `operator_ui`): the run starts
/// without a terminal, a page or a file, and each answer decides its case as one typed on
/// the terminal would, named as the device's in the evidence.
#[test]
fn answers_on_a_devices_test_ui_decide_and_unanswered_prompts_are_withdrawn() {
    let _slots = myna_hil_tests::all_reader_slots();
    let dir = fresh_dir("operator-device-ui");
    let answers = repo_root().join(ANSWERS);
    let (_dut, addr) = device_with_ui(&dir, answers.to_str().unwrap());
    let out = dir.join("out");
    let run = run_on_device(&addr, &out, &[]);
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}{}",
        text(&run.stdout),
        text(&run.stderr)
    );
    let r = results(&out);
    let by = format!("device (tcp:{addr})");
    let yes = case(&r, "four-items");
    assert_eq!(yes["verdict"], "pass", "{}", yes["reason"]);
    assert_eq!(yes["operator"][0]["answer"], "yes");
    assert_eq!(yes["operator"][0]["by"], by.as_str());
    let evidence = yes["evidence"].as_str().unwrap();
    assert!(
        evidence.contains("`yes` answered to `consent-four-items` on the device's test UI (taken)"),
        "{evidence}"
    );
    let no = case(&r, "three-items");
    assert_eq!(no["verdict"], "fail");
    assert_eq!(no["operator"][0]["by"], by.as_str());
    assert!(no["reason"]
        .as_str()
        .unwrap()
        .contains("the operator answered `no`"));

    // A device whose person answers only the four-item screen: the other prompt is
    // withdrawn at its deadline (inconc), and the device is sound for the next case.
    let dir = fresh_dir("operator-device-ui-silent");
    let some = dir.join("some.yaml");
    std::fs::write(
        &some,
        "answers:\n  - { case: '*[screen=four-items]', prompt: consent-four-items, answer: 'yes' }\n",
    )
    .unwrap();
    let (_dut, addr) = device_with_ui(&dir, some.to_str().unwrap());
    let out = dir.join("out");
    let run = run_on_device(&addr, &out, &["--var", "answer_within=2s", "--jobs", "1"]);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stdout));
    let r = results(&out);
    let silent = case(&r, "three-items");
    assert_eq!(silent["verdict"], "inconc", "{}", silent["reason"]);
    assert!(silent["reason"]
        .as_str()
        .unwrap()
        .contains("within its deadline of 2s"));
    assert_eq!(case(&r, "four-items")["verdict"], "pass");
    let log = std::fs::read_to_string(dir.join("dut.log")).unwrap();
    // Withdrawn once: the unanswered prompt, not the one answered on the device.
    assert_eq!(
        log.matches(r#"> {"type":"operator_withdraw","prompt":"consent-four-items"}"#)
            .count(),
        1,
        "{log}"
    );

    // Answers from a file come first: the device is not asked at all.
    let out = dir.join("scripted");
    let run = run_on_device(&addr, &out, &["--operator", ANSWERS]);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stdout));
    let r = results(&out);
    assert_eq!(
        case(&r, "three-items")["operator"][0]["by"],
        format!("script ({ANSWERS})")
    );
}
