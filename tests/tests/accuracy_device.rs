//! A device's accuracy end to end (docs/device-accuracy.md): `myna-hil accuracy --reader
//! dut:tcp:…` against the reference device `myna-dut-ref`, the emulated cards in the vpcd
//! readers of the real pcscd, a handful of LFW people read in place. The campaign records
//! the device's decisions, the FIDO-modelled policy cannot be supported by so few
//! transactions (exit 1), a permissive policy passes (exit 0), and a device that rejects
//! without reading the chip's photo gets errors, not rejections.
//!
//! Needs pcscd with vsmartcard-vpcd, the face runtime and the face set (`bash .ci/setup`).

use myna_hil_tests::{
    all_reader_slots, assert_no_secret, fresh_dir, linked_face_set, ref_dut_tcp, repo_root,
    run_myna_hil, text,
};
use serde_json::Value;
use std::path::Path;

/// People of LFW with 2 to 6 images each (the accuracy test of tests/face.rs uses them too).
const PEOPLE: [&str; 4] = [
    "Abel_Pacheco",
    "Akhmed_Zakayev",
    "Amber_Tamblyn",
    "Angela_Bassett",
];

fn report(out: &Path) -> Value {
    let path = out.join("accuracy.json");
    let body = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&body).unwrap()
}

fn campaign(set: &Path, reader: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    let card = repo_root().join("scenarios/cards/valid.yaml");
    let mut args = vec![
        "accuracy",
        set.to_str().unwrap(),
        "--reader",
        reader,
        "--card",
        card.to_str().unwrap(),
        "--frames",
        "16",
        "--bootstrap",
        "200",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run_myna_hil(&args)
}

#[test]
fn a_small_campaign_against_the_reference_device() {
    let started = std::time::Instant::now();
    let dir = fresh_dir("accuracy-device");
    let set = linked_face_set(&dir, &PEOPLE);
    let _slots = all_reader_slots();
    let log = dir.join("dut.log");
    let store = dir.join("clips");
    let (_dut, addr) = ref_dut_tcp(&log, &["--clips", store.to_str().unwrap()]);
    let reader = format!("dut:tcp:{addr}");

    // 3 genuine, 6 impostor and 1 still-photo attack transactions (clips of 16 frames: two
    // tries of the reference reader), judged by the FIDO
    // policy: far too few transactions for any of its claims.
    let out = dir.join("fido");
    let fido = repo_root().join("policies/fido-face.yaml");
    let run = campaign(
        &set,
        &reader,
        &out,
        &[
            "--policy",
            fido.to_str().unwrap(),
            "--genuine",
            "3",
            "--impostors",
            "6",
            "--attack",
            "still_photo",
            "--attack-limit",
            "1",
        ],
    );
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    let r = report(&out);
    let transactions = r["transactions"].as_array().unwrap();
    assert_eq!(transactions.len(), 10, "{stderr}");
    let decisions = ["accepted", "rejected", "attack_rejected", "error"];
    for t in transactions {
        assert!(decisions.contains(&t["decision"].as_str().unwrap()), "{t}");
        // Every transaction reached a decision of the device, timed, backed by the card.
        assert_ne!(t["decision"], "error", "{t}");
        assert_eq!(t["unbacked"], false, "{t}");
        assert!(t["millis"].as_f64().unwrap() > 0.0, "{t}");
    }
    let counts = &r["summary"]["counts"];
    let total = |kind: &str| -> u64 {
        decisions
            .iter()
            .map(|d| counts[kind][d].as_u64().unwrap())
            .sum()
    };
    assert_eq!(
        (
            total("genuine"),
            total("impostor"),
            total("attack:still-photo")
        ),
        (3, 6, 1),
        "{counts}"
    );
    // The reference device accepts no impostor and no still photo of so few.
    assert_eq!(counts["impostor"]["accepted"], 0, "{counts}");
    assert_eq!(counts["attack:still-photo"]["accepted"], 0, "{counts}");
    let summary = &r["summary"];
    assert_eq!(summary["frr"]["proportion"]["trials"], 3);
    assert_eq!(summary["far"]["proportion"]["trials"], 6);
    assert!(summary["frr"]["bootstrap"]["replicates"].as_u64() == Some(200));
    assert!(summary["times"]["median_ms"].as_f64().unwrap() > 0.0);
    assert!(summary["pad"]["bpcer"]["trials"].as_u64().unwrap() >= 9);
    // Every claim of the policy judged; FAR cannot be supported by 6 transactions of the
    // 16,094 its bound needs, and none is met.
    let claims = summary["claims"].as_array().unwrap();
    let verdict = |name: &str| {
        claims
            .iter()
            .find(|c| c["claim"] == name)
            .unwrap_or_else(|| panic!("no claim {name}: {claims:?}"))["verdict"]
            .clone()
    };
    assert_eq!(verdict("FAR"), "cannot_support");
    assert_eq!(verdict("IAPAR (still-photo)"), "cannot_support");
    let far = claims.iter().find(|c| c["claim"] == "FAR").unwrap();
    assert_eq!(far["needed_transactions"], 16094);
    assert!(claims.iter().all(|c| c["verdict"] != "met"), "{claims:?}");
    assert_eq!(r["policy"]["passed"], false);
    let md = std::fs::read_to_string(out.join("accuracy.md")).unwrap();
    assert!(
        md.contains("the campaign cannot support this claim") && md.contains("| genuine |"),
        "{md}"
    );
    assert!(stderr.contains("accuracy: policy: FAR"), "{stderr}");

    // A permissive policy on a smaller campaign: met, exit 0.
    let permissive = dir.join("permissive.yaml");
    std::fs::write(
        &permissive,
        "name: permissive\nconfidence: 0.8\nfrr: {max: 1}\nfar: {max: 1}\n",
    )
    .unwrap();
    let out2 = dir.join("permissive");
    let run = campaign(
        &set,
        &reader,
        &out2,
        &[
            "--policy",
            permissive.to_str().unwrap(),
            "--genuine",
            "1",
            "--impostors",
            "1",
        ],
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let r2 = report(&out2);
    assert_eq!(r2["policy"]["passed"], true);
    assert_eq!(r2["transactions"].as_array().unwrap().len(), 2);

    // A broken policy is refused with its place, before the device is touched.
    let broken = dir.join("broken.yaml");
    std::fs::write(&broken, "name: b\nconfidence: 0.8\nfar: {max: 2}\n").unwrap();
    let run = campaign(
        &set,
        &reader,
        &dir.join("broken"),
        &["--policy", broken.to_str().unwrap()],
    );
    assert_eq!(run.status.code(), Some(2));
    let err = text(&run.stderr);
    assert!(
        err.contains("broken.yaml:3:") && err.contains("out of range"),
        "{err}"
    );

    // A device that rejects without reading the chip's photo decided nothing: each of its
    // rejections is an error of the campaign, not a rejection to count.
    let blind = myna_hil_tests::liars::start(myna_hil_tests::liars::Liar::BlindFace, &addr);
    let out3 = dir.join("blind");
    let run = campaign(
        &set,
        &format!("dut:tcp:{blind}"),
        &out3,
        &["--genuine", "1", "--impostors", "1"],
    );
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("accuracy: 2 transaction(s): the device reported a face decision the bench does not back"),
        "{stderr}"
    );
    let r3 = report(&out3);
    let transactions = r3["transactions"].as_array().unwrap();
    assert_eq!(transactions.len(), 2, "{stderr}");
    for t in transactions {
        assert_eq!(
            (&t["decision"], &t["unbacked"]),
            (&"error".into(), &true.into()),
            "{t}"
        );
        let why = t["why"].as_str().unwrap();
        assert!(
            why.contains("the device reported no match the bench does not back")
                && why.contains("the chip's face photo was never read"),
            "{why}"
        );
    }

    assert_no_secret(&[
        out.join("accuracy.json"),
        out.join("accuracy.md"),
        out2.join("accuracy.json"),
        out3.join("accuracy.json"),
        log,
    ]);
    // The clips the campaign made are gone; the results stay.
    assert!(!out.join(".device-clips").exists());
    eprintln!("campaigns took {:.1} s", started.elapsed().as_secs_f64());
}
