//! The live view as a person uses it: headless Chromium (Debian's `chromium`, driven over
//! the DevTools protocol through `--remote-debugging-pipe`) opens the page of a run with an
//! operator step, sees the prompt, clicks an answer with the mouse, and the run ends with the
//! verdict that answer implies. Without chromium a local run skips with a note; CI fails.

use myna_hil_tests::{
    chromium_available, fresh_dir, repo_root, text, workspace_binary, Running, CHROMIUM_FLAGS,
};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SCENARIO: &str = "tests/data/operator/consent-items.yaml";

/// A pipe: (read end, write end), both close-on-exec.
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [-1; 2];
    // SAFETY: pipe2 writes two descriptors into the array.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both were just opened and belong to no one else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// `fd` copied to a descriptor of 10 or more (close-on-exec), out of the way of 3 and 4.
fn high(fd: &OwnedFd) -> OwnedFd {
    // SAFETY: F_DUPFD_CLOEXEC duplicates an open descriptor; the new one is ours.
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 10) };
    assert!(new >= 10, "fcntl: {}", std::io::Error::last_os_error());
    // SAFETY: just opened, owned by no one else.
    unsafe { OwnedFd::from_raw_fd(new) }
}

/// Headless Chromium on a DevTools pipe: it reads commands on its fd 3 and writes answers
/// and events on its fd 4, each a JSON text ended by a NUL.
struct Browser {
    _child: Running,
    to: std::fs::File,
    from: BufReader<std::fs::File>,
    next: u64,
}

impl Browser {
    fn start(dir: &Path) -> Browser {
        let (to_read, to_write) = pipe();
        let (from_read, from_write) = pipe();
        let (child_in, child_out) = (high(&to_read), high(&from_write));
        let (fd_in, fd_out) = (child_in.as_raw_fd(), child_out.as_raw_fd());
        let mut command = Command::new("chromium");
        command
            .args(CHROMIUM_FLAGS)
            .arg("--remote-debugging-pipe")
            .arg(format!("--user-data-dir={}", dir.join("profile").display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: between fork and exec only dup2 runs (async-signal-safe); the copies on
        // 3 and 4 are not close-on-exec, so Chromium finds them there.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(fd_in, 3) < 0 || libc::dup2(fd_out, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("start chromium");
        drop((child_in, child_out, to_read, from_write));
        Browser {
            _child: Running(child),
            to: std::fs::File::from(to_write),
            from: BufReader::new(std::fs::File::from(from_read)),
            next: 0,
        }
    }

    /// Sends a command (to a page's session, if given) and returns its result; events on
    /// the way are passed over.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            message["sessionId"] = json!(s);
        }
        let mut bytes = message.to_string().into_bytes();
        bytes.push(0);
        self.to.write_all(&bytes).expect("write to chromium");
        loop {
            let mut raw = Vec::new();
            let n = self
                .from
                .read_until(0, &mut raw)
                .expect("read from chromium");
            assert!(n > 0, "chromium closed its DevTools pipe");
            raw.pop();
            let answer: Value = serde_json::from_slice(&raw).expect("DevTools JSON");
            if answer["id"] == json!(id) {
                assert!(
                    answer.get("error").is_none(),
                    "{method}: {}",
                    answer["error"]
                );
                return answer["result"].clone();
            }
        }
    }

    /// The value of a JavaScript expression in the page.
    fn eval(&mut self, session: &str, expression: &str) -> Value {
        let r = self.call(
            Some(session),
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true }),
        );
        r["result"]["value"].clone()
    }

    /// Waits until `expression` is true in the page.
    fn wait_for(&mut self, session: &str, expression: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.eval(session, expression) != json!(true) {
            assert!(
                Instant::now() < deadline,
                "the page never showed `{expression}`:\n{}",
                self.eval(session, "document.body.innerText")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the open prompt's button for `answer`, and clicks it.
    fn answer(&mut self, session: &str, answer: &str) {
        let button = format!(".prompt button[data-answer=\"{answer}\"]");
        self.wait_for(
            session,
            &format!("document.querySelector({}) !== null", json!(button)),
        );
        self.click(session, &button);
    }

    /// A left click with the mouse at the centre of the element `selector` names.
    fn click(&mut self, session: &str, selector: &str) {
        let rect = self.eval(
            session,
            &format!(
                "(() => {{ const r = document.querySelector({}).getBoundingClientRect(); \
                 return [r.x + r.width / 2, r.y + r.height / 2]; }})()",
                json!(selector)
            ),
        );
        let (x, y) = (rect[0].as_f64().unwrap(), rect[1].as_f64().unwrap());
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            self.call(
                Some(session),
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            );
        }
    }
}

/// A command whose live view is served: started with stdin on /dev/null (nobody at the
/// terminal), its output read until it prints the page's address.
struct Served {
    run: Running,
    stdout: BufReader<std::process::ChildStdout>,
    url: String,
    said: String,
}

impl Served {
    fn start(args: &[&str]) -> Served {
        let mut run = Command::new(workspace_binary("myna-hil"))
            .args(args)
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run myna-hil");
        let mut stdout = BufReader::new(run.stdout.take().unwrap());
        let mut url = String::new();
        let mut said = String::new();
        while url.is_empty() {
            let mut line = String::new();
            assert!(
                stdout.read_line(&mut line).unwrap() > 0,
                "no live view announced:\n{said}"
            );
            said.push_str(&line);
            if let Some(u) = line.trim().strip_prefix("live view: ") {
                url = u.to_owned();
            }
        }
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        Served {
            run: Running(run),
            stdout,
            url,
            said,
        }
    }

    /// Waits for the command to end: its exit code and everything it printed.
    fn finish(mut self) -> (Option<i32>, String) {
        let status = self.run.0.wait().expect("wait for myna-hil");
        let mut said = self.said;
        self.stdout.read_to_string(&mut said).unwrap();
        if let Some(mut e) = self.run.0.stderr.take() {
            e.read_to_string(&mut said).unwrap();
        }
        (status.code(), said)
    }
}

/// The page at `url` in a new tab: its DevTools session.
fn open(browser: &mut Browser, url: &str) -> String {
    let target = browser.call(None, "Target.createTarget", json!({ "url": url }));
    let attached = browser.call(
        None,
        "Target.attachToTarget",
        json!({ "targetId": target["targetId"], "flatten": true }),
    );
    attached["sessionId"].as_str().unwrap().to_owned()
}

#[test]
fn an_answer_clicked_on_the_live_page_decides_the_case() {
    if !chromium_available("clicks through the live view") {
        return;
    }
    let dir = fresh_dir("live-view");
    let out = dir.join("out");
    // The run: one case whose operator step waits up to 2 minutes, the live view on a
    // port of its own choosing, nobody on the terminal.
    let served = Served::start(&[
        "run",
        SCENARIO,
        "--filter",
        "three-items",
        "--var",
        "answer_within=120s",
        "--serve",
        "127.0.0.1:0",
        "--out",
        out.to_str().unwrap(),
    ]);
    let mut browser = Browser::start(&dir);
    let session = open(&mut browser, &served.url);
    // The prompt, in both languages, with its answers as buttons; the case is running.
    browser.wait_for(
        &session,
        "document.querySelector('.prompt button[data-answer=\"no\"]') !== null",
    );
    let shown = browser.eval(&session, "document.querySelector('.prompt').innerText");
    let shown = shown.as_str().unwrap();
    assert!(
        shown.contains("リーダーの同意画面に4つの個別項目"),
        "{shown}"
    );
    assert!(
        shown.contains("Does the reader's consent screen show"),
        "{shown}"
    );
    assert_eq!(
        browser.eval(
            &session,
            "document.querySelector('#case-0').getAttribute('data-state')"
        ),
        json!("running")
    );
    // "No": the scenario says the case fails on it.
    browser.answer(&session, "no");
    browser.wait_for(
        &session,
        "document.querySelector('#case-0').getAttribute('data-state') === 'fail'",
    );
    let row = browser.eval(&session, "document.querySelector('#case-0').innerText");
    assert!(row.as_str().unwrap().contains("operator-decided"), "{row}");

    let (code, said) = served.finish();
    // The page heard the run's end before the server went away.
    browser.wait_for(
        &session,
        "document.getElementById('status').textContent === \
         'ended: 1 cases: 0 pass, 1 fail, 0 error, 0 inconc, 0 skip'",
    );
    assert_eq!(code, Some(1), "{said}");
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let case = &results["cases"][0];
    assert_eq!(case["verdict"], "fail", "{}", text(said.as_bytes()));
    assert_eq!(case["operator"][0]["answer"], "no");
    let by = case["operator"][0]["by"].as_str().unwrap();
    assert!(by.starts_with("live page (127.0.0.1:"), "{by}");
}

/// `certify --serve`: a certification of the reference device whose plan has an operator
/// step. The device has a test UI too (`operator_ui`), but its person does not answer; the
/// answer clicked on the page decides, the device's prompt is withdrawn, and the device is
/// certified on that answer, which its results mark.
#[test]
fn a_certification_is_answered_on_the_live_page() {
    if !chromium_available("clicks through the live view of a certification") {
        return;
    }
    let _slots = myna_hil_tests::all_reader_slots();
    let dir = fresh_dir("live-view-certify");
    let cards = repo_root().join("scenarios/cards/valid.yaml");
    std::fs::write(
        dir.join("bench.yaml"),
        format!(
            "title: The operator confirms the consent screen's four items\n\
             date: 2025-11-04\nfacility: clinic-a\nvisit: first\nrule_set: seed\n\
             card: {}\n\
             insurance: {{ insurer_number: \"06139999\", symbol: 試験, number: \"1234\", \
             branch: \"01\", limit_category: A03 }}\n\
             steps:\n  - place_card\n  - choose: pin\n  - enter_pin: correct\n\
             \x20 - operator:\n      id: consent-four-items\n      ask:\n\
             \x20       ja: 同意画面に4つの個別項目がありますか？\n\
             \x20       en: Four individual items on the consent screen?\n\
             \x20     confirm: {{ yes: continue, no: fail }}\n    deadline: 120s\n\
             \x20 - consent: all\nexpect:\n  route: card_pin\n",
            cards.display()
        ),
    )
    .unwrap();
    let plan = dir.join("plan.yaml");
    std::fs::write(
        &plan,
        format!(
            "plan: bench-plan\nversion: 0.1.0\ntitle: a bench check\nscenario_root: {}\n\
             requirements:\n  - id: B-1\n    title: consent items\n    source: a test\n\
             \x20   mandatory: true\n    applies_if: consent\n    scenarios: [bench.yaml]\n",
            dir.display()
        ),
    )
    .unwrap();
    // The device's person answers nothing here.
    let nobody = dir.join("nobody.yaml");
    std::fs::write(
        &nobody,
        "answers:\n  - { case: none, prompt: none, answer: 'yes' }\n",
    )
    .unwrap();
    let (_dut, addr) = myna_hil_tests::ref_dut_tcp(
        &dir.join("dut.log"),
        &["--operator-ui", nobody.to_str().unwrap()],
    );
    let out = dir.join("bundle");
    let reader = format!("dut:tcp:{addr}");
    let ics = repo_root().join("ics/myna-dut-ref.yaml");
    let served = Served::start(&[
        "certify",
        "--plan",
        plan.to_str().unwrap(),
        "--ics",
        ics.to_str().unwrap(),
        "--reader",
        &reader,
        "--card",
        "pcsc",
        "--serve",
        "127.0.0.1:0",
        "--out",
        out.to_str().unwrap(),
    ]);
    let mut browser = Browser::start(&dir);
    let session = open(&mut browser, &served.url);
    browser.answer(&session, "yes");
    browser.wait_for(
        &session,
        "document.querySelector('#case-0').getAttribute('data-state') === 'pass'",
    );
    let (code, said) = served.finish();
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("CERTIFIED"), "{said}");
    // The decision says the pass rests on a person's word, and whose.
    assert!(said.contains("passed on an operator's answer: `yes` to `consent-four-items` by live page (127.0.0.1:"), "{said}");
    let results: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("attempts/1/results.json")).unwrap(),
    )
    .unwrap();
    let case = &results["cases"][0];
    assert_eq!(case["verdict"], "pass");
    let by = case["operator"][0]["by"].as_str().unwrap();
    assert!(by.starts_with("live page (127.0.0.1:"), "{by}");
    let log = std::fs::read_to_string(dir.join("dut.log")).unwrap();
    assert!(
        log.contains(r#"> {"type":"operator_withdraw","prompt":"consent-four-items"}"#),
        "{log}"
    );
}
