//! The liar's corpus (`myna_hil_tests::liars`) against the harness: a device that fakes the
//! card and service, leaks a secret, lies about VERIFY answers or PIN tries, shows a bad
//! PIN pad, rejects a face without reading the chip's photo, runs its clock backwards,
//! floods, drips or talks between cases never gets a
//! `pass` where its lie shows, and the reason names the lie. A lying `tries_left` never
//! spends a real card's last try, and a dripping device leaks no thread or connection.

use myna_hil_tests::liars::{self, Liar};
use myna_hil_tests::{
    all_reader_slots, assert_no_secret, foreign_card, fresh_dir, reader_slot, ref_dut_tcp,
    repo_root, run_myna_hil, shipped_profile, text, workspace_binary,
};
use reports::CaseResult;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn shipped(name: &str) -> String {
    repo_root()
        .join(format!("scenarios/reception/{name}.yaml"))
        .display()
        .to_string()
}

/// Two PIN-path cases (first and return visit) with a 3 s step deadline, in `dir`.
fn short_cases(dir: &Path, cases: usize) -> String {
    let scenarios = dir.join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    let card = repo_root().join("scenarios/cards/valid.yaml");
    let n: Vec<String> = (0..cases).map(|i| i.to_string()).collect();
    std::fs::write(
        scenarios.join("pin.yaml"),
        format!(
            "title: PIN path\ndate: 2025-11-04\ncard: {}\nstep_deadline: {}\n\
             insurance: {{ insurer_number: \"06139999\", number: \"1\", limit_category: A03 }}\n\
             matrix:\n  n: [{}]\n\
             steps:\n  - place_card\n  - choose: pin\n  - enter_pin: correct\n  - consent: all\n\
             expect:\n  route: card_pin\n",
            card.display(),
            if cases > 2 { "300ms" } else { "3s" },
            n.join(", ")
        ),
    )
    .unwrap();
    scenarios.display().to_string()
}

/// Runs `files` through `liar` (in front of a fresh `myna-dut-ref`); the cases and the
/// report files.
fn run_liar(name: &str, liar: Liar, files: &[String]) -> (Vec<CaseResult>, Vec<PathBuf>) {
    let dir = fresh_dir(&format!("liar-{name}"));
    let _slots = all_reader_slots();
    let (_dut, honest) = ref_dut_tcp(&dir.join("dut.log"), &[]);
    let addr = liars::start(liar, &honest);
    let out = dir.join("out");
    let reader = format!("dut:tcp:{addr}");
    let mut args = vec!["run", "--card", "pcsc", "--reader", &reader, "--out"];
    args.push(out.to_str().unwrap());
    args.extend(files.iter().map(String::as_str));
    let run = run_myna_hil(&args);
    assert_ne!(run.status.code(), Some(0), "{}", text(&run.stdout));
    let cases = reports::results::ResultsFile::read(&out.join("results.json"))
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&run.stdout), text(&run.stderr)))
        .cases;
    let files = ["results.json", "results.jsonl", "junit.xml"].map(|f| out.join(f));
    (cases, files.to_vec())
}

/// No case passed, and each one's reason holds `why`.
fn assert_caught(cases: &[CaseResult], verdict: &str, why: &str) {
    assert!(!cases.is_empty());
    for case in cases {
        let reason = case.reason.clone().unwrap_or_default();
        assert_eq!(case.verdict.as_str(), verdict, "{}: {reason}", case.id);
        assert!(
            reason.contains(why),
            "{}: `{why}` not in: {reason}",
            case.id
        );
    }
}

#[test]
fn a_fake_that_never_touched_the_card_or_the_service_fails() {
    let (cases, _) = run_liar(
        "fake",
        Liar::Fake,
        &[shipped("pin-valid"), shipped("pin-locked-card-portal")],
    );
    assert_eq!(cases.len(), 3);
    assert_caught(&cases, "fail", "");
    let valid: Vec<CaseResult> = cases
        .iter()
        .filter(|c| c.id.contains("pin-valid"))
        .cloned()
        .collect();
    assert_eq!(valid.len(), 2);
    assert_caught(
        &valid,
        "fail",
        "the device reported VERIFY 9000; the card received no VERIFY",
    );
    assert_caught(
        &valid,
        "fail",
        "the service answered no qualification for this card",
    );
}

#[test]
fn a_face_rejection_without_the_chip_photo_fails() {
    // The scenario expects exactly this non-match: only the card's journal gives it away.
    let (cases, _) = run_liar(
        "blind-face",
        Liar::BlindFace,
        &[shipped("face-mismatch-then-pin")],
    );
    assert_eq!(cases.len(), 1);
    assert_caught(
        &cases,
        "fail",
        "the device reported face no match, but no 照合番号B VERIFY succeeded",
    );
    assert_caught(
        &cases,
        "fail",
        "the device reported face no match, but the chip's face photo was never read",
    );
}

#[test]
fn a_device_that_leaks_a_secret_fails_and_the_secret_is_masked() {
    let valid = shipped_profile("valid");
    let pin = valid.auth_pin.unwrap().value.expose().to_owned();
    let n = valid.holder.my_number.clone();
    let spaced_number = format!("{} {} {}", &n[..4], &n[4..8], &n[8..]);
    for (name, leak, kind) in [
        ("pin", format!("debug: typed {pin}"), "a PIN of the card"),
        (
            "my-number",
            format!("card holder 番号 {spaced_number}"),
            "the holder's 個人番号",
        ),
    ] {
        let (cases, files) = run_liar(
            &format!("leaky-{name}"),
            Liar::Leaky(leak.clone()),
            &[shipped("pin-valid")],
        );
        assert_caught(&cases, "fail", &format!("the device disclosed {kind}"));
        assert_no_secret(&files);
        for file in &files {
            let body = std::fs::read_to_string(file).unwrap();
            assert!(!body.contains(&leak), "the leak is in {}", file.display());
            assert!(!body.contains(&n), "the 個人番号 is in {}", file.display());
        }
    }
}

/// An operator's answer the harness never asked for is the device's invention: a breach,
/// and a PIN in it is masked (a person's text, not held against the device as a leak).
#[test]
fn an_answer_to_a_prompt_never_asked_fails_and_its_secret_is_masked() {
    let pin = shipped_profile("valid")
        .auth_pin
        .unwrap()
        .value
        .expose()
        .to_owned();
    let answer = format!("yes, PIN {pin}");
    let (cases, files) = run_liar(
        "unasked-answer",
        Liar::UnaskedAnswer(answer.clone()),
        &[shipped("pin-valid")],
    );
    assert_caught(
        &cases,
        "fail",
        "sent an `operator_answer` to `card-on-reader`, which is not on its test UI now",
    );
    assert_no_secret(&files);
    for file in &files {
        let body = std::fs::read_to_string(file).unwrap();
        assert!(!body.contains(&answer), "the leak is in {}", file.display());
    }
}

#[test]
fn a_device_that_reports_9000_for_a_wrong_pin_fails() {
    let (cases, _) = run_liar(
        "verify",
        Liar::Verify9000,
        &[shipped("pin-wrong-then-right")],
    );
    assert_caught(
        &cases,
        "fail",
        "the device reported VERIFY 9000 (VERIFY 1); the card answered 63C2",
    );
}

#[test]
fn a_device_that_shows_more_tries_than_the_card_has_fails() {
    let (cases, _) = run_liar("tries", Liar::TriesLiar, &[shipped("pin-wrong-then-right")]);
    assert_caught(&cases, "fail", "shows 3 tries left, but the card has 2");
}

#[test]
fn a_pin_pad_that_is_not_a_fresh_shuffle_fails() {
    let (cases, _) = run_liar("unshuffled", Liar::UnshuffledPad, &[shipped("pin-valid")]);
    assert_caught(&cases, "fail", "the PIN pad is not shuffled");
    let (cases, _) = run_liar(
        "permutation",
        Liar::NotAPermutation,
        &[shipped("pin-valid")],
    );
    assert_caught(&cases, "fail", "not a permutation of the digits 0-9");
}

#[test]
fn a_clock_that_goes_back_fails() {
    let (cases, _) = run_liar("time", Liar::BackwardsTime, &[shipped("pin-valid")]);
    assert_caught(&cases, "fail", "`at_ms` went back");
}

#[test]
fn a_wrong_share_fails_against_the_rules_and_the_service() {
    let (cases, _) = run_liar("share", Liar::WrongShare, &[shipped("pin-valid")]);
    assert_caught(
        &cases,
        "fail",
        "the device reported share 10%, but the service answered 30% for this card",
    );
    assert_caught(&cases, "fail", "share 10%, the rules say 30%");
}

#[test]
fn events_after_a_reset_fail_the_case_and_never_reach_the_next() {
    let dir = fresh_dir("liar-stale-cases");
    let (cases, _) = run_liar("stale", Liar::Stale, &[short_cases(&dir, 2)]);
    assert_caught(&cases, "fail", "line(s) after a `reset` was done");
    for case in &cases {
        // The late outcome was dropped, not judged as the next case's.
        assert!(!case.evidence.contains("1000000"), "{}", case.evidence);
    }
}

/// The longest a case through a stalling device may take: its step deadline, the `reset`'s
/// and room for a busy machine. Without the bounds on whole exchanges it took 21-25 s.
const STALLED_CASE: Duration = Duration::from_secs(3 + 3 + 4);

#[test]
fn a_flood_or_a_drip_ends_in_error_within_the_deadline() {
    for (name, liar) in [
        ("flood", Liar::Flood),
        ("drip", Liar::Drip(Duration::from_millis(30))),
    ] {
        let dir = fresh_dir(&format!("liar-{name}-cases"));
        let (cases, _) = run_liar(name, liar, &[short_cases(&dir, 2)]);
        assert_caught(&cases, "error", "");
        for case in &cases {
            assert!(
                case.duration < STALLED_CASE,
                "{name}: {} took {:?}",
                case.id,
                case.duration
            );
        }
    }
}

/// Threads and open files of process `pid` now.
fn threads_and_fds(pid: u32) -> Option<(usize, usize)> {
    let count = |dir: String| std::fs::read_dir(dir).ok().map(|d| d.count());
    Some((
        count(format!("/proc/{pid}/task"))?,
        count(format!("/proc/{pid}/fd"))?,
    ))
}

#[test]
fn a_hundred_cases_against_a_dripping_device_leak_no_thread_and_no_connection() {
    let dir = fresh_dir("liar-drip-hundred");
    let scenarios = short_cases(&dir, 100);
    let _slots = all_reader_slots();
    let (_dut, honest) = ref_dut_tcp(&dir.join("dut.log"), &[]);
    let addr = liars::start(Liar::Drip(Duration::from_millis(30)), &honest);
    let out = dir.join("out");
    let mut child = std::process::Command::new(workspace_binary("myna-hil"))
        .args([
            "run",
            "--card",
            "pcsc",
            "--reader",
            &format!("dut:tcp:{addr}"),
        ])
        .arg("--out")
        .arg(&out)
        .arg(&scenarios)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("myna-hil");
    let mut peak = (0, 0);
    let mut samples = Vec::new();
    while child.try_wait().expect("wait").is_none() {
        if let Some((threads, fds)) = threads_and_fds(child.id()) {
            peak = (peak.0.max(threads), peak.1.max(fds));
            samples.push((threads, fds));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let cases = reports::results::ResultsFile::read(&out.join("results.json"))
        .expect("results")
        .cases;
    assert_eq!(cases.len(), 100);
    assert!(cases.iter().all(|c| c.verdict.as_str() == "error"));
    eprintln!(
        "100 cases against a dripping device: peak {} threads, {} open files ({} samples)",
        peak.0,
        peak.1,
        samples.len()
    );
    // A thread or a socket per case would pass 100; the run's own stay well below.
    assert!(samples.len() > 20, "{} samples", samples.len());
    assert!(
        peak.0 < 40 && peak.1 < 60,
        "peak {} threads, {} open files",
        peak.0,
        peak.1
    );
    // And they do not grow: the last quarter's peak is no higher than the first quarter's.
    let quarter = samples.len() / 4;
    let max_of = |s: &[(usize, usize)]| s.iter().fold((0, 0), |a, b| (a.0.max(b.0), a.1.max(b.1)));
    let (early, late) = (
        max_of(&samples[quarter..2 * quarter]),
        max_of(&samples[3 * quarter..]),
    );
    assert!(
        late.0 <= early.0 + 2 && late.1 <= early.1 + 2,
        "threads/files grew from {early:?} to {late:?}"
    );
}

/// A real card on the device (a card the harness did not attach): the device shows 3 tries
/// after the card answered 63C2. The harness believes what it saw, refuses the next PIN and
/// fails the device; the card keeps 2 tries.
#[test]
fn a_lying_tries_left_never_spends_a_real_cards_tries() {
    use card_emulator::PinRef;
    let slot = reader_slot(0);
    let card = foreign_card(&slot, "valid");
    let dir = fresh_dir("liar-real-card");
    let (_dut, honest) = ref_dut_tcp(&dir.join("dut.log"), &["--own-reader", slot.reader()]);
    let addr = liars::start(Liar::TriesLiar, &honest);
    let out = dir.join("out");
    let run = run_myna_hil(&[
        "run",
        "--card",
        "device",
        "--allow-destructive",
        "--reader",
        &format!("dut:tcp:{addr}"),
        "--out",
        out.to_str().unwrap(),
        &shipped("pin-locked-after-three"),
    ]);
    let cases = reports::results::ResultsFile::read(&out.join("results.json"))
        .unwrap_or_else(|e| panic!("{e}: {}", text(&run.stdout)))
        .cases;
    assert_caught(&cases, "fail", "shows 3 tries left, but the card has 2");
    assert_caught(&cases, "fail", "refused to protect a real card");
    let tries = card
        .card()
        .lock()
        .expect("card")
        .tries_left(PinRef::AuthPin);
    assert_eq!(tries, 2, "one wrong PIN typed, then none");
}
