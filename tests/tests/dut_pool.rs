//! A pool of devices under test (`--reader` repeated): the cases are spread over the
//! devices, each device serves one case at a time, and the verdicts are the ones the
//! reference reader gets in process. Two reference devices over TCP, their cards in the
//! two vpcd readers.

use myna_hil_tests::{
    all_reader_slots, fresh_dir, ref_dut_tcp, run_myna_hil, text, verdicts, Running,
};
use std::path::Path;

/// PIN-path, fallback and service-fault scenarios: quick on a device, no camera.
const FILES: [&str; 4] = [
    "scenarios/reception/pin-valid.yaml",
    "scenarios/reception/pin-wrong-then-right.yaml",
    "scenarios/reception/fallback-ladder.yaml",
    "scenarios/reception/service-faults.yaml",
];

fn run(extra: &[&str], out: &Path) -> std::process::Output {
    let mut args = vec!["run"];
    args.extend(FILES);
    args.extend(extra);
    args.extend(["--out", out.to_str().unwrap()]);
    run_myna_hil(&args)
}

#[test]
fn cases_spread_over_two_devices_get_the_in_process_verdicts() {
    let dir = fresh_dir("dut-pool");
    let inproc = dir.join("inprocess");
    let out = run(&[], &inproc);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let expected = verdicts(&inproc.join("results.json"));

    let _slots = all_reader_slots();
    let logs = [dir.join("device-a.log"), dir.join("device-b.log")];
    let devices: Vec<(Running, String)> = logs.iter().map(|log| ref_dut_tcp(log, &[])).collect();
    let readers: Vec<String> = devices
        .iter()
        .map(|(_, a)| format!("dut:tcp:{a}"))
        .collect();
    let pooled = dir.join("pool");
    let mut args = vec!["--card", "pcsc"];
    for r in &readers {
        args.extend(["--reader", r.as_str()]);
    }
    let out = run(&args, &pooled);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("on 2 devices"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(verdicts(&pooled.join("results.json")), expected);
    // Each case names the device that ran it.
    let json = std::fs::read_to_string(pooled.join("results.json")).unwrap();
    let results: serde_json::Value = serde_json::from_str(&json).unwrap();
    for case in results["cases"].as_array().unwrap() {
        let evidence = case["evidence"].as_str().unwrap_or_default();
        assert!(
            readers
                .iter()
                .any(|r| evidence.starts_with(&format!("device under test: {r}\n"))),
            "{}: {}",
            case["id"],
            evidence.lines().next().unwrap_or_default()
        );
    }
    drop(devices);
    // Both devices served cases, and between them every case once.
    let started: Vec<usize> = logs
        .iter()
        .map(|log| {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            log.lines().filter(|l| l.contains("case_start")).count()
        })
        .collect();
    assert!(
        started.iter().all(|&n| n > 0),
        "cases per device: {started:?}"
    );
    assert_eq!(started.iter().sum::<usize>(), expected.len(), "{started:?}");
}

#[test]
fn a_pool_is_of_devices_only_and_each_device_once() {
    let dir = fresh_dir("dut-pool-args");
    for (args, why) in [
        (
            vec!["--reader", "virtual", "--reader", "dut:tcp:127.0.0.1:9"],
            "--reader virtual stands alone",
        ),
        (
            vec![
                "--card",
                "pcsc",
                "--reader",
                "dut:tcp:127.0.0.1:9",
                "--reader",
                "dut:tcp:127.0.0.1:9",
            ],
            "a device is given twice",
        ),
    ] {
        let out = run(&args, &dir.join("out"));
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(text(&out.stderr).contains(why), "{}", text(&out.stderr));
    }
}
