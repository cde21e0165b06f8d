//! What users read first, pinned: the `--help` of every command and subcommand of the three
//! binaries. A change to an option, a value or a word shows up as a snapshot diff to review
//! (`INSTA_UPDATE=always cargo test -p harness --test help_snapshots`, then read the diff).

use clap::CommandFactory;

/// `cmd`'s long help and that of every subcommand below it, as (path, text).
fn helps(cmd: &mut clap::Command, path: &str, out: &mut Vec<(String, String)>) {
    cmd.build();
    out.push((path.to_owned(), cmd.render_long_help().to_string()));
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .filter(|n| n != "help")
        .collect();
    for name in names {
        let sub = cmd.find_subcommand_mut(&name).expect("listed above");
        helps(sub, &format!("{path} {name}"), out);
    }
}

fn snapshot_all(mut cmd: clap::Command, binary: &str) {
    let mut out = Vec::new();
    helps(&mut cmd, binary, &mut out);
    for (path, text) in out {
        let name = path.replace(' ', "__");
        insta::assert_snapshot!(name, text);
    }
}

#[test]
fn help_of_myna_hil() {
    snapshot_all(harness::cli::args::Cli::command(), "myna-hil");
}

#[test]
fn help_of_myna_vicc() {
    snapshot_all(harness::cli::vicc::Args::command(), "myna-vicc");
}

#[test]
fn help_of_myna_dut_ref() {
    snapshot_all(harness::cli::dut_ref::Args::command(), "myna-dut-ref");
}

#[test]
fn version_names_the_build() {
    let version = harness::cli::args::Cli::command()
        .render_version()
        .to_string();
    assert!(
        version.starts_with(&format!("myna-hil {} (git ", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
}
