//! Hostile input files through the built `myna-hil`: devices, FIFOs, files that are not
//! ours, oversize files, include cycles, a second document, floods of mistakes, escape
//! sequences. Each must end in exit 2 with a clear message, quickly and with a bounded
//! output, and never hang (a watchdog kills a command that would).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A hang guard, not a timing assertion: far above what any of these commands needs.
const HANG_GUARD: Duration = Duration::from_secs(120);

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn myna_hil(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_myna-hil"));
    command
        .args(args)
        .env_remove("MYNA_HIL_MAX_FILE_BYTES")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command.spawn().expect("spawn myna-hil");
    let id = child.id();
    let (done, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if wait.recv_timeout(HANG_GUARD).is_err() {
            // Kill the one process this test started, by its id.
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
        }
    });
    let out = child.wait_with_output().expect("wait for myna-hil");
    let _ = done.send(());
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn check(path: &Path) -> Output {
    myna_hil(&["check", path.to_str().unwrap()], &[])
}

/// A fresh folder for one test.
fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("myna-hostile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A scenario that is whole but for `extra` (added at its end).
fn scenario(extra: &str) -> String {
    format!("title: t\ndate: 2025-12-01\ncard: none\nsteps:\n  - show: portal_screen\n{extra}")
}

/// Writes `s.yaml` in `dir`, a scenario whole but for `extra`, and checks it.
fn check_scenario(dir: &Path, extra: &str) -> Output {
    let main = dir.join("s.yaml");
    std::fs::write(&main, scenario(extra)).unwrap();
    check(&main)
}

fn assert_refused(out: &Output, message: &str) {
    assert_eq!(
        out.code,
        Some(2),
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stderr.contains(message),
        "expected `{message}` in:\n{}",
        out.stderr
    );
}

#[test]
fn a_device_is_refused_unread() {
    let out = check(Path::new("/dev/zero"));
    assert_refused(&out, "/dev/zero:1:1");
    assert_refused(&out, "it is a character device, not a regular file");

    // Through an include named like YAML.
    let dir = folder("device");
    std::os::unix::fs::symlink("/dev/urandom", dir.join("_random.yaml")).unwrap();
    let out = check_scenario(&dir, "include: [_random.yaml]\n");
    assert_refused(&out, "cannot read include");
    assert_refused(&out, "it is a character device, not a regular file");
}

#[test]
fn an_include_that_is_not_yaml_is_refused_unread() {
    let dir = folder("not-yaml");
    let out = check_scenario(&dir, "include: [/dev/zero, /etc/passwd]\n");
    assert_refused(&out, "`/dev/zero` is not a YAML file");
    assert_refused(&out, "`/etc/passwd` is not a YAML file");
    assert!(!out.stderr.contains("root:"), "{}", out.stderr);
}

#[test]
fn a_fifo_never_blocks() {
    let dir = folder("fifo");
    let fifo = dir.join("_fifo.yaml");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let out = check_scenario(&dir, "include: [_fifo.yaml]\n");
    assert_refused(&out, "it is a FIFO, not a regular file");
    let out = check(&fifo);
    assert_refused(&out, "it is a FIFO, not a regular file");
}

#[test]
fn a_file_that_is_not_ours_is_not_echoed() {
    let dir = folder("passwd");
    // Behind `.yaml` names: a shadow file (a YAML syntax error), a passwd file (a string),
    // an environment file (a mapping of keys that are not ours).
    let shadow = "root:x:0:0:root:/root:/bin/bash\nalice:$6$salt$hashhashhash:19000:0:99999:7:::\n";
    std::fs::write(dir.join("_shadow.yaml"), shadow).unwrap();
    let passwd = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:/home/alice:/bin/sh\n";
    std::fs::write(dir.join("_passwd.yaml"), passwd).unwrap();
    std::fs::write(
        dir.join("_env.yaml"),
        "AWS_SECRET: hunter2\nTOKEN: abc123\n",
    )
    .unwrap();
    let out = check_scenario(&dir, "include: [_shadow.yaml, _passwd.yaml, _env.yaml]\n");
    assert_refused(&out, "_shadow.yaml:2:");
    assert_refused(&out, "no line starts with a key of this format");
    assert_refused(&out, "_passwd.yaml:1:1");
    assert_refused(&out, "expected a mapping of keys, found a string");
    assert_refused(&out, "_env.yaml:1:1");
    assert_refused(&out, "none of the 2 keys of this file is known here");
    for text in [
        "root",
        "alice",
        "hashhash",
        "AWS_SECRET",
        "hunter2",
        "abc123",
    ] {
        assert!(!out.stderr.contains(text), "{text} in:\n{}", out.stderr);
    }
}

#[test]
fn an_oversize_file_is_refused_at_the_limit() {
    let dir = folder("oversize");
    let big = dir.join("big.yaml");
    let mut text = scenario("description: \"");
    text.push_str(&"x".repeat(8 * 1024 * 1024));
    text.push_str("\"\n");
    std::fs::write(&big, &text).unwrap();
    let out = check(&big);
    assert_refused(&out, "it is larger than the limit of 8388608 bytes");
    assert!(out.stderr.len() < 4096, "{}", out.stderr.len());

    // The limit is configurable, and a limit that is not a number is an input error.
    let small = dir.join("small.yaml");
    std::fs::write(&small, scenario("")).unwrap();
    let path = small.to_str().unwrap();
    let out = myna_hil(&["check", path], &[("MYNA_HIL_MAX_FILE_BYTES", "20")]);
    assert_refused(&out, "it is larger than the limit of 20 bytes");
    let out = myna_hil(&["check", path], &[("MYNA_HIL_MAX_FILE_BYTES", "lots")]);
    assert_refused(
        &out,
        "$MYNA_HIL_MAX_FILE_BYTES is `lots`, not a number of bytes",
    );
    let out = myna_hil(&["check", path], &[("MYNA_HIL_MAX_FILE_BYTES", "100000")]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

#[test]
fn nested_includes_give_defaults() {
    let dir = folder("nested");
    // The scenario has no title, date or card: they come from an include's include.
    std::fs::write(
        dir.join("s.yaml"),
        "include: [_a.yaml]\nsteps:\n  - show: portal_screen\n",
    )
    .unwrap();
    std::fs::write(dir.join("_a.yaml"), "title: from a\ninclude: [_b.yaml]\n").unwrap();
    std::fs::write(
        dir.join("_b.yaml"),
        "title: from b\ndate: 2025-12-01\ncard: none\n",
    )
    .unwrap();
    let out = check(&dir.join("s.yaml"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("(1 case(s))"), "{}", out.stdout);
}

#[test]
fn an_include_cycle_is_named() {
    let dir = folder("cycle");
    std::fs::write(dir.join("_a.yaml"), "include: [_b.yaml]\n").unwrap();
    std::fs::write(dir.join("_b.yaml"), "include: [_a.yaml]\n").unwrap();
    let out = check_scenario(&dir, "include: [_a.yaml]\n");
    assert_refused(&out, "include cycle:");
    assert_refused(&out, "_a.yaml → ");
    assert_refused(&out, "_b.yaml → ");
}

#[test]
fn includes_nest_at_most_eight_deep() {
    let dir = folder("depth");
    for i in 1..=12 {
        std::fs::write(
            dir.join(format!("_{i}.yaml")),
            format!("include: [_{}.yaml]\n", i + 1),
        )
        .unwrap();
    }
    std::fs::write(dir.join("_13.yaml"), "tags: [deep]\n").unwrap();
    let out = check_scenario(&dir, "include: [_1.yaml]\n");
    assert_refused(&out, "includes nest deeper than 8 files");
    assert_refused(&out, "_8.yaml:1:");
}

#[test]
fn a_second_document_is_an_error_at_its_start() {
    let dir = folder("second");
    let out = check_scenario(&dir, "---\ntitle: another\n");
    assert_refused(&out, "a second YAML document: a file holds one");
    assert_refused(&out, "s.yaml:6:1");
}

#[test]
fn a_flood_of_mistakes_prints_a_page() {
    let dir = folder("flood");
    let keys: String = (0..100_000).map(|i| format!("k{i}: 1\n")).collect();
    let out = check_scenario(&dir, &keys);
    assert_refused(&out, "… and 99950 more errors in this file");
    assert_refused(&out, "100000 errors found");
    assert_eq!(out.stderr.matches("error: unknown key").count(), 50);
    assert!(out.stderr.len() < 64 * 1024, "{} bytes", out.stderr.len());
}

#[test]
fn escape_sequences_are_shown_escaped() {
    let dir = folder("escape");
    let out = check_scenario(&dir, "titel\x1b[2J: x\x1b]0;owned\x07\n");
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(!out.stderr.contains('\x1b'), "{:?}", out.stderr);
    assert!(!out.stderr.contains('\x07'), "{:?}", out.stderr);
    assert!(out.stderr.contains("\\x1b"), "{}", out.stderr);
}
