//! In-process face cases replay their camera on a virtual clock, so how busy the machine is
//! cannot change what the reader sees: the same cases run on a quiet machine and beside
//! threads that keep every core busy end with the same verdicts, the same reasons and the
//! same face tries (frames, best score, outcome, presentation) line for line.

use myna_hil_tests::{assert_exit_0, fresh_dir, repo_root, run_myna_hil};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The face scenarios whose verdicts sit nearest a threshold (perturbed camera, attacks).
const FILES: [&str; 3] = [
    "scenarios/reception/face-perturbed-severe.yaml",
    "scenarios/reception/face-perturbed.yaml",
    "scenarios/reception/face-attacks.yaml",
];

/// Per case: verdict, reason and the face lines of its event log, times stripped.
fn outcomes(out: &Path) -> BTreeMap<String, (String, Option<String>, Vec<String>)> {
    let file = reports::results::ResultsFile::read(&out.join("results.json")).unwrap();
    file.cases
        .into_iter()
        .map(|c| {
            let face: Vec<String> = c
                .evidence
                .lines()
                .filter_map(|l| {
                    let (_, text) = l.trim_start().split_once(" ms  ")?;
                    (text.starts_with("face try") || text.starts_with("camera"))
                        .then(|| text.to_owned())
                })
                .collect();
            (c.id, (c.verdict.as_str().to_owned(), c.reason, face))
        })
        .collect()
}

fn run(out: &Path) {
    let mut args = vec!["run"];
    let files: Vec<String> = FILES
        .iter()
        .map(|f| repo_root().join(f).display().to_string())
        .collect();
    args.extend(files.iter().map(String::as_str));
    args.extend(["--card", "inprocess", "--jobs", "2", "--out"]);
    let out_s = out.display().to_string();
    args.push(&out_s);
    assert_exit_0(&run_myna_hil(&args));
}

#[test]
fn face_verdicts_do_not_depend_on_the_load() {
    let quiet = fresh_dir("face-quiet");
    run(&quiet);
    let expected = outcomes(&quiet);
    assert!(expected.len() >= 15, "only {} cases", expected.len());
    assert!(
        expected
            .values()
            .all(|(_, _, face)| face.iter().any(|l| l.starts_with("camera (virtual clock)"))),
        "every in-process face case runs on the virtual clock"
    );

    // Two busy threads per core, for the whole second run.
    let stop = Arc::new(AtomicBool::new(false));
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let hogs: Vec<_> = (0..2 * cores)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut x = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            })
        })
        .collect();
    let loaded = fresh_dir("face-loaded");
    run(&loaded);
    stop.store(true, Ordering::Relaxed);
    for h in hogs {
        h.join().unwrap();
    }
    let got = outcomes(&loaded);
    for (id, want) in &expected {
        assert_eq!(got.get(id), Some(want), "{id} changed under load");
    }
    assert_eq!(got.len(), expected.len());
}
