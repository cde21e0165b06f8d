//! Certification end to end, as a vendor and a certifier would do it: the README's
//! walk-through run as written (keygen, an ICS, `plan show`, `certify` against
//! `myna-dut-ref` with the shipped plan, `verify`) ends certified with a bundle `verify`
//! accepts, as a folder and as a `.tar`; one changed byte in any kind of bundle file, an
//! added or a removed file, or the wrong key makes `verify` fail naming it; a misbehaving
//! device is not certified, with the reasons; and a device that does not match its ICS, or
//! a missing or empty ICS, stops the run before its first case.

use myna_hil_tests::liars::{self, Liar};
use myna_hil_tests::{
    all_reader_slots, free_port, fresh_dir, ref_dut_tcp, repo_root, run_myna_hil, text,
    workspace_binary,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The README's walk-through block, as written.
fn walkthrough() -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let start = readme
        .find("```sh certify-walkthrough\n")
        .expect("the README has the walk-through");
    let body = &readme[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("\n```").unwrap()].to_owned()
}

fn verify(bundle: &Path, key: &Path) -> Output {
    run_myna_hil(&[
        "verify",
        bundle.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ])
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// One file of each kind in a bundle (relative paths).
fn sample_files(bundle: &Path) -> Vec<String> {
    let mut out = vec![
        "manifest.json".to_owned(),
        "decision.json".to_owned(),
        "selection.json".to_owned(),
        "results.json".to_owned(),
        "junit.xml".to_owned(),
        "ics.yaml".to_owned(),
        "plan.yaml".to_owned(),
        "evidence.json".to_owned(),
        "attempts/1/results.jsonl".to_owned(),
        "attempts/1/results.json".to_owned(),
    ];
    let evidence = std::fs::read_dir(bundle.join("evidence"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name();
    out.push(format!("evidence/{}", evidence.to_string_lossy()));
    if bundle.join("report.html").exists() {
        out.push("report.html".to_owned());
    }
    out
}

#[test]
fn the_readme_walkthrough_certifies_myna_dut_ref_and_verify_catches_every_tampering() {
    let _slots = all_reader_slots();
    let dir = fresh_dir("certify-walkthrough");
    let port = free_port().to_string();
    let bin = workspace_binary("myna-hil");
    let bin_dir = bin.parent().unwrap();
    let script = walkthrough()
        .replace("target/cert", dir.to_str().unwrap())
        .replace("127.0.0.1:7700", &format!("127.0.0.1:{port}"))
        .replace("B=target/debug", &format!("B={}", bin_dir.display()));
    // The device started in the background stops with the script, however it ends.
    let script = format!("set -e\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\n{script}");
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(repo_root())
        .output()
        .expect("bash");
    let said = text(&out.stdout);
    assert!(
        out.status.success(),
        "the walk-through failed:\n{said}{}",
        text(&out.stderr)
    );
    assert!(
        said.contains("CERTIFIED: every mandatory case passed"),
        "{said}"
    );
    assert!(
        said.contains("signature and every file's digest verified"),
        "{said}"
    );
    assert!(said.contains("114 selected, 0 excluded"), "{said}");

    let bundle = dir.join("run1");
    let key = dir.join("vendor.pub");
    // The folder verifies too.
    let folder = verify(&bundle, &key);
    assert_eq!(folder.status.code(), Some(0), "{}", text(&folder.stdout));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["plan"]["id"], "myna-hil-reception");
    assert_eq!(
        manifest["device"]["model"],
        "myna-dut-ref (reference reader)"
    );
    let kinds: Vec<&str> = manifest["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    for kind in ["scenario", "include", "profile", "photo", "model"] {
        assert!(kinds.contains(&kind), "no {kind} input in the manifest");
    }

    // One changed byte in any kind of file: verify fails and names it.
    for name in sample_files(&bundle) {
        let copy = dir.join("tampered");
        let _ = std::fs::remove_dir_all(&copy);
        copy_tree(&bundle, &copy);
        let path = copy.join(&name);
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x01;
        std::fs::write(&path, bytes).unwrap();
        let out = verify(&copy, &key);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out.stdout));
        assert!(
            text(&out.stdout).contains(&name),
            "{name}: {}",
            text(&out.stdout)
        );
    }
    // An added file, a removed file, the wrong key, a changed signature.
    let copy = dir.join("tampered");
    let _ = std::fs::remove_dir_all(&copy);
    copy_tree(&bundle, &copy);
    std::fs::write(copy.join("evidence/extra.txt"), b"planted").unwrap();
    let out = verify(&copy, &key);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stdout).contains("evidence/extra.txt"),
        "{}",
        text(&out.stdout)
    );
    std::fs::remove_file(copy.join("evidence/extra.txt")).unwrap();
    std::fs::remove_file(copy.join("decision.json")).unwrap();
    let out = verify(&copy, &key);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stdout).contains("decision.json"),
        "{}",
        text(&out.stdout)
    );
    let other = dir.join("other");
    assert_eq!(
        run_myna_hil(&["keygen", "--out", other.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let out = verify(&bundle, &dir.join("other.pub"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    // The key is never replaced.
    let again = run_myna_hil(&["keygen", "--out", other.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again.stderr));
}

/// A plan of its own over two shipped scenarios (a test fixture: `scenario_root` is the
/// repository's scenarios).
fn small_plan(dir: &Path) -> PathBuf {
    let path = dir.join("plan.yaml");
    std::fs::write(
        &path,
        format!(
            "plan: test-plan\nversion: 0.1.0\ntitle: two cases\nscenario_root: {}\n\
             requirements:\n  - id: T-1\n    title: PIN\n    source: a test\n    mandatory: true\n\
             \x20   applies_if: pin_pad\n    scenarios: [reception/pin-valid.yaml]\n",
            repo_root().join("scenarios").display()
        ),
    )
    .unwrap();
    path
}

fn certify(plan: &Path, ics: &Path, addr: &str, out: &Path, key: &Path) -> Output {
    run_myna_hil(&[
        "certify",
        "--plan",
        plan.to_str().unwrap(),
        "--ics",
        ics.to_str().unwrap(),
        "--reader",
        &format!("dut:tcp:{addr}"),
        "--card",
        "pcsc",
        "--sign",
        key.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

#[test]
fn a_misbehaving_device_is_not_certified_and_a_device_unlike_its_ics_is_not_run() {
    let _slots = all_reader_slots();
    let dir = fresh_dir("certify-liar");
    let plan = small_plan(&dir);
    let ics = repo_root().join("ics/myna-dut-ref.yaml");
    let prefix = dir.join("vendor");
    assert_eq!(
        run_myna_hil(&["keygen", "--out", prefix.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let key = dir.join("vendor.key");
    let (_dut, addr) = ref_dut_tcp(&dir.join("dut.log"), &[]);

    // A device that reports the wrong co-payment share.
    let liar = liars::start(Liar::WrongShare, &addr);
    let out_dir = dir.join("liar");
    let out = certify(&plan, &ics, &liar, &out_dir, &key);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}{}", text(&out.stderr));
    assert!(said.contains("NOT CERTIFIED"), "{said}");
    assert!(
        said.contains("mandatory case reception.pin-valid"),
        "{said}"
    );
    assert!(said.contains("(T-1) ended fail"), "{said}");
    // The bundle of a failed certification verifies, and says so.
    let v = verify(&dir.join("liar.tar"), &dir.join("vendor.pub"));
    assert_eq!(v.status.code(), Some(1), "{}", text(&v.stdout));
    assert!(text(&v.stdout).contains("NOT CERTIFIED"));

    // A device that does not announce what its ICS declares: nothing runs.
    let desk = dir.join("desk-ics.yaml");
    std::fs::write(
        &desk,
        std::fs::read_to_string(&ics)
            .unwrap()
            .replace("  desk: false", "  desk: true"),
    )
    .unwrap();
    let out_dir = dir.join("mismatch");
    let out = certify(&plan, &desk, &addr, &out_dir, &key);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("the ICS declares desk that the device does not announce"),
        "{}",
        text(&out.stderr)
    );
    assert!(!out_dir.join("attempts").exists(), "no case ran");

    // A missing or empty ICS is refused before anything.
    let empty = dir.join("empty.yaml");
    std::fs::write(&empty, "").unwrap();
    for bad in [&empty, &dir.join("absent.yaml")] {
        let out = certify(&plan, bad, &addr, &dir.join("never"), &key);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    }
    assert!(!dir.join("never").exists());
}

/// `plan show` explains every case: a PIN-only reader's ICS excludes the face cases, each
/// with the requirement that does not apply and the capability that decided it.
#[test]
fn plan_show_selects_and_excludes_every_case_with_its_reason() {
    let dir = fresh_dir("certify-plan-show");
    let ics = dir.join("pin-only.yaml");
    let declared = std::fs::read_to_string(repo_root().join("ics/myna-dut-ref.yaml"))
        .unwrap()
        .replace("  face: true", "  face: false")
        .replace("  camera_clips: true", "  camera_clips: false")
        .replace(
            "  face_card_without_pin: true",
            "  face_card_without_pin: false",
        );
    std::fs::write(&ics, declared).unwrap();
    let out = run_myna_hil(&[
        "plan",
        "show",
        "plans/reception.yaml",
        "--ics",
        ics.to_str().unwrap(),
    ]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}{}", text(&out.stderr));
    assert!(
        said.contains("RCP-FACE-01  mandatory does not apply `face` with face=false"),
        "{said}"
    );
    let excluded: Vec<&str> = said
        .lines()
        .filter(|l| l.trim_start().starts_with("excluded"))
        .collect();
    assert!(
        said.contains("cases (114: 69 selected, 45 excluded)"),
        "{said}"
    );
    assert!(!excluded.is_empty());
    for line in &excluded {
        assert!(line.contains("face"), "{line}");
        assert!(line.contains("does not apply"), "{line}");
    }
    assert!(said
        .lines()
        .any(|l| l.contains("selected") && l.contains("pin-valid")));

    // An inconsistent ICS is refused with its place.
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&ics)
            .unwrap()
            .replace("  face: false", "  face: true"),
    )
    .unwrap();
    let out = run_myna_hil(&[
        "plan",
        "show",
        "plans/reception.yaml",
        "--ics",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("`face` is declared without `camera_clips`"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("bad.yaml:"),
        "{}",
        text(&out.stderr)
    );

    // plan check catches a missing scenario at its line.
    let plan = dir.join("plan.yaml");
    std::fs::write(
        &plan,
        std::fs::read_to_string(repo_root().join("plans/reception.yaml"))
            .unwrap()
            .replace("reception/pin-valid.yaml", "reception/pin-valid-typo.yaml")
            .replace(
                "scenario_root: ../scenarios",
                &format!("scenario_root: {}", repo_root().join("scenarios").display()),
            ),
    )
    .unwrap();
    let out = run_myna_hil(&["plan", "check", plan.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("scenario `reception/pin-valid-typo.yaml` does not exist"),
        "{}",
        text(&out.stderr)
    );
}
