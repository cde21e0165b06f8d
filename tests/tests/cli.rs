//! The command-line tools as a user runs them: exit codes, diagnostics, reports.

use myna_hil_tests::{
    assert_exit_0, fresh_dir, reader_slot, repo_root, run_myna_hil, text, workspace_binary,
};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn check_accepts_every_shipped_profile() {
    let out = run_myna_hil(&["check", "scenarios/cards", "scenarios/cards/faults"]);
    assert_exit_0(&out);
    assert!(text(&out.stdout).contains("15 file(s) checked, 0 with errors"));
}

#[test]
fn check_reports_a_mistyped_key_with_file_line_and_column() {
    let dir = fresh_dir(&format!("cli-{:?}", std::thread::current().id()));
    let valid = std::fs::read_to_string(repo_root().join("scenarios/cards/valid.yaml")).unwrap();
    let broken = valid
        .replace("tries_left: 3 }", "tries_lef: 3 }")
        .replace("sex: male", "sex: mal");
    // Files under a `cards/` folder are card profiles.
    std::fs::create_dir_all(dir.join("cards")).unwrap();
    let file = dir.join("cards/broken.yaml");
    std::fs::write(&file, broken).unwrap();
    let out = run_myna_hil(&["check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    // Both mistakes at once, each with file:line:column, a caret and a hint.
    assert!(err.contains("broken.yaml:8:8"), "{err}");
    assert!(err.contains("broken.yaml:19:36"), "{err}");
    assert!(err.contains("did you mean `male`?"), "{err}");
    assert!(err.contains("unknown key `tries_lef`"), "{err}");
    assert!(err.contains("did you mean `tries_left`?"), "{err}");
    assert!(err.contains('^'), "{err}");
}

#[test]
fn conformance_in_process_writes_junit_and_exits_zero() {
    let dir = fresh_dir(&format!("cli-{:?}", std::thread::current().id()));
    let junit = dir.join("conformance.xml");
    let out = run_myna_hil(&[
        "conformance",
        "scenarios/cards/valid.yaml",
        "--out",
        dir.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(r#"tests="22""#) && xml.contains(r#"failures="0""#),
        "{xml}"
    );
    // The PIN, the password and 照合番号B of the profile never reach a report, nor does the
    // 個人番号 (123456789018) read from the text-support AP.
    let secrets = [
        "002000800431323334",
        "TEST2025",
        "5445535432303235",
        "55021720352285",
        "3535303231373230333532323835",
        "123456789018",
        "313233343536373839303138",
    ];
    for secret in secrets {
        assert!(!xml.contains(secret), "secret {secret} leaked into JUnit");
        assert!(!text(&out.stdout).contains(secret));
    }
}

#[test]
fn a_mute_card_ends_in_error_and_the_run_goes_on() {
    let dir = fresh_dir("cli-mute-card");
    let out = run_myna_hil(&[
        "conformance",
        "--out",
        dir.to_str().unwrap(),
        "--deadline",
        "50ms",
        "scenarios/cards/faults/mute-card.yaml",
        "scenarios/cards/valid.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("error  conformance[mute-card].select_jpki_ap"),
        "{stdout}"
    );
    assert!(
        stdout.contains("pass   conformance[valid].pin_blocks_after_three_wrong"),
        "{stdout}"
    );
}

#[test]
fn a_card_the_run_did_not_attach_is_treated_as_real() {
    // A card put in by hand (myna-vicc) does not know this run's secret: the harness
    // must refuse every step that could spend a PIN try, and leave the card unchanged.
    let slot = reader_slot(1);
    let mut vicc = Command::new(workspace_binary("myna-vicc"))
        .args(["--profile", "scenarios/cards/valid.yaml", "--port"])
        .arg(slot.port().to_string())
        .current_dir(repo_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start myna-vicc");
    let mut lines = BufReader::new(vicc.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("inserted into vpcd"), "{first}");
    harness::channel::pcsc_driver::wait_for_card(slot.reader(), std::time::Duration::from_secs(3))
        .unwrap();

    let site = format!("pcsc:{}", slot.reader());
    let dir = fresh_dir("cli-real-card");
    let out = run_myna_hil(&[
        "conformance",
        "--card",
        &site,
        "--out",
        dir.to_str().unwrap(),
        "scenarios/cards/valid.yaml",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("skip   conformance[valid].pin_blocks_after_three_wrong")
            && stdout.contains("refused"),
        "{stdout}"
    );
    assert!(
        stdout.contains("pass   conformance[valid].get_challenge"),
        "{stdout}"
    );

    use std::io::Write;
    let stdin = vicc.stdin.as_mut().unwrap();
    writeln!(stdin, "status").unwrap();
    let status = lines.next().unwrap().unwrap();
    assert!(
        status.contains("authentication PIN tries left: 3"),
        "{status}"
    );
    writeln!(stdin, "quit").unwrap();
    vicc.wait().unwrap();
    harness::channel::pcsc_driver::wait_for_removal(
        slot.reader(),
        std::time::Duration::from_secs(3),
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(450));
}

#[test]
fn real_card_options_are_refused_where_they_make_no_sense() {
    let cases: [(&[&str], &str); 3] = [
        (
            &["run", "scenarios", "--card", "device"],
            "add --reader dut:",
        ),
        (
            &["run", "scenarios", "--allow-destructive"],
            "--allow-destructive is for real cards (--card device)",
        ),
        (
            &["run", "scenarios", "--reader", "dut:tcp:127.0.0.1:9"],
            "add --card pcsc",
        ),
    ];
    for (args, said) in cases {
        let out = run_myna_hil(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(said), "{args:?}: {err}");
    }
}

/// Two runs at once on one machine would swap their cards into the same vpcd readers and
/// judge each other's cards: a reader another process holds stops the second run before
/// its first case (exit 3), with the reason.
#[test]
fn a_vpcd_reader_in_use_by_another_process_stops_the_run_before_any_case() {
    use card_emulator::vpcd::{VirtualCard, VpcdAddress};
    use card_emulator::{Card, CardImage};
    let slot = reader_slot(0);
    let image = CardImage::build(&myna_hil_tests::shipped_profile("valid")).unwrap();
    let address = VpcdAddress {
        port: slot.port(),
        ..VpcdAddress::default()
    };
    let _held = VirtualCard::attach(Card::new(std::sync::Arc::new(image)), &address).unwrap();
    let dir = fresh_dir(&format!("cli-{:?}", std::thread::current().id()));
    let out = run_myna_hil(&[
        "run",
        "scenarios/reception/pin-valid.yaml",
        "--card",
        "pcsc",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{}{err}", text(&out.stdout));
    assert!(err.contains("in use by another process"), "{err}");
    assert!(!dir.join("results.json").exists(), "no case may have run");
}

#[test]
fn a_filter_that_selects_nothing_is_bad_input_unless_allowed() {
    let dir = fresh_dir("cli-empty-selection");
    let out_dir = dir.to_str().unwrap();
    let nothing = [
        "run",
        "scenarios/reception",
        "--filter",
        "no-such-case",
        "--out",
        out_dir,
    ];
    let out = run_myna_hil(&nothing);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("no case selected") && err.contains("--allow-empty"),
        "{err}"
    );
    let mut allowed = nothing.to_vec();
    allowed.push("--allow-empty");
    let out = run_myna_hil(&allowed);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("0 cases"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn rules_explain_works_on_every_shipped_reception_case_and_names_the_rules() {
    let out = run_myna_hil(&["rules", "explain", "scenarios/reception"]);
    assert_exit_0(&out);
    let said = text(&out.stdout);
    let check = run_myna_hil(&["check", "scenarios/reception"]);
    let cases: usize = text(&check.stdout)
        .lines()
        .filter_map(|l| {
            l.split(" (")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .sum();
    assert!(cases > 100, "{}", text(&check.stdout));
    // One block per case, each ending on the legal routes.
    assert_eq!(
        said.matches("\n  legal routes    ").count(),
        cases,
        "{said}"
    );
    let block = said
        .split("\n\n")
        .find(|b| b.starts_with("reception.income-certain-income "))
        .unwrap_or_else(|| panic!("{said}"));
    for line in [
        "income          一定以上所得 (certain_income, the scenario's `income`)",
        "limit category  B04 一般 (the record's `limit_category`)",
        "rule `share.75_plus.certain_income`",
        "payment         ¥18000 of ¥200000 (share ¥40000, limit ¥18000) rule `payment.capped`",
    ] {
        assert!(block.contains(line), "`{line}` not in:\n{block}");
    }
    // A filter that selects nothing is refused.
    let none = run_myna_hil(&[
        "rules",
        "explain",
        "scenarios/reception",
        "--filter",
        "nope",
    ]);
    assert_eq!(none.status.code(), Some(2));
}
