//! Where a run's results go, tried as a hostile user would: devices, FIFOs, links, folders,
//! a full and a read-only file system, a closed stdout, two runs on one folder. Each case
//! asserts the exit code and the message; none may exit 0 after losing a result, and no
//! special file is ever replaced.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Two quick cases (the grace period, in process).
const SCENARIO: &str = "../scenarios/reception/grace-period.yaml";

fn myna_hil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_myna-hil"))
        .args(args)
        .output()
        .expect("run myna-hil")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hostile-reports-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run_to(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["run", SCENARIO, "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    myna_hil(&args)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn cases_in(json: &Path) -> usize {
    reports::results::ResultsFile::read(json)
        .unwrap()
        .cases
        .len()
}

#[test]
fn dev_null_takes_the_report_and_stays_a_device() {
    let out = scratch("null");
    let o = run_to(&out, &["--junit", "/dev/null"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
    assert_eq!(cases_in(&out.join("results.json")), 2);
}

#[test]
fn a_device_that_refuses_the_write_is_exit_4_with_the_path() {
    let out = scratch("full");
    let o = run_to(&out, &["--junit", "/dev/full"]);
    assert_eq!(o.status.code(), Some(4));
    assert!(
        stderr(&o).contains("cannot write /dev/full: No space left on device"),
        "{}",
        stderr(&o)
    );
    // The other reports were still written, and the log holds every case.
    assert_eq!(cases_in(&out.join("results.json")), 2);
}

#[test]
fn a_folder_where_a_file_belongs_is_refused_before_anything_runs() {
    let out = scratch("folder");
    let o = run_to(&out, &["--junit", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("is a folder, not a file"),
        "{}",
        stderr(&o)
    );
    assert!(!out.join("results.jsonl").exists(), "nothing ran");
}

#[test]
fn a_json_file_in_a_missing_folder_gets_its_folder() {
    let out = scratch("missing");
    let json = out.join("deep/er/r.json");
    let o = run_to(&out, &["--json", json.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(cases_in(&json), 2);
}

#[test]
fn a_fifo_is_written_in_place_and_one_without_reader_is_exit_4() {
    let out = scratch("fifo");
    let fifo = out.join("junit.pipe");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let o = run_to(&out, &["--junit", fifo.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(4));
    assert!(
        stderr(&o).contains("No such device or address"),
        "{}",
        stderr(&o)
    );
    // With a reader, the XML arrives through the FIFO, which stays a FIFO.
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    // The reader opens first (it blocks until the writer comes).
    std::thread::sleep(std::time::Duration::from_millis(200));
    let o = run_to(&out, &["--junit", fifo.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(reader.join().unwrap().contains("<testsuites"));
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
}

#[test]
fn a_link_stays_a_link_and_the_file_it_names_is_written() {
    let out = scratch("link");
    let link = out.join("junit.xml");
    std::os::unix::fs::symlink("elsewhere.xml", &link).unwrap();
    let o = run_to(&out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::read_to_string(out.join("elsewhere.xml"))
        .unwrap()
        .contains("<testsuites"));
}

#[test]
fn a_closed_stdout_loses_nothing() {
    let out = scratch("stdout");
    let mut child = Command::new(env!("CARGO_BIN_EXE_myna-hil"))
        .args(["run", SCENARIO, "--out", out.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // `| head -0`
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert_eq!(cases_in(&out.join("results.json")), 2);
}

#[test]
fn closed_stdout_and_stderr_still_end_with_the_right_exit_code() {
    let out = scratch("both-closed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_myna-hil"))
        .args([
            "run",
            SCENARIO,
            "--out",
            out.to_str().unwrap(),
            "--junit",
            "/dev/full",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    // The error about /dev/full goes nowhere, but the exit code still says it.
    assert_eq!(child.wait().unwrap().code(), Some(4));
    assert_eq!(cases_in(&out.join("results.json")), 2);
}

#[test]
fn a_second_run_on_the_same_folder_is_refused() {
    let out = scratch("twice");
    let log = std::fs::File::create(out.join("results.jsonl")).unwrap();
    common::fs::try_lock_exclusive(&log).unwrap(); // as a running run holds it
    let o = run_to(&out, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("another myna-hil run is writing"),
        "{}",
        stderr(&o)
    );
}

/// A small tmpfs of our own (root only): a full and a read-only file system for real.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(name: &str, size: &str) -> Option<Tmpfs> {
        let dir = scratch(name);
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            Some(Tmpfs(dir))
        } else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs as root and must be able to mount a tmpfs"
            );
            eprintln!("skipped: cannot mount a tmpfs here (not root?)");
            None
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_file_system_is_exit_4_naming_each_lost_file() {
    let Some(fs) = Tmpfs::mount("fullfs", "48k") else {
        return;
    };
    let out = fs.0.join("out");
    let o = myna_hil(&[
        "run",
        "../scenarios/reception",
        "--filter",
        "grace",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("No space left on device"),
        "{}",
        stderr(&o)
    );
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.contains(".tmp-")),
        "temporary files left: {names:?}"
    );
}

#[test]
fn a_read_only_file_system_is_refused_before_anything_runs() {
    let Some(fs) = Tmpfs::mount("rofs", "1m") else {
        return;
    };
    std::fs::create_dir(fs.0.join("out")).unwrap();
    let remounted = Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(&fs.0)
        .status()
        .unwrap();
    assert!(remounted.success());
    let o = run_to(&fs.0.join("out"), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("Read-only file system"),
        "{}",
        stderr(&o)
    );
}
