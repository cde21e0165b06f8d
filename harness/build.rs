//! Records the git commit the binaries are built from, and whether the tree was dirty, for
//! `--version` and the reports (`MYNA_HIL_GIT`: `<sha>`, `<sha>, dirty` or `unknown`).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn main() {
    let described = match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(sha) if !sha.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{sha}, dirty")
            } else {
                sha
            }
        }
        _ => "unknown".to_owned(),
    };
    println!("cargo:rustc-env=MYNA_HIL_GIT={described}");
    // A new commit or a change to what is staged or tracked: build again.
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/index");
        if let Some(head) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={dir}/{head}");
        }
    }
    // An edit anywhere in the workspace's sources can make the tree dirty.
    for dir in [
        "src",
        "../common/src",
        "../card-emulator/src",
        "../camera-replay/src",
        "../reports/src",
    ] {
        println!("cargo:rerun-if-changed={dir}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
