//! The CI examples of docs/distributed.md, performed as written: `examples/ci/github-actions.yml`
//! and `examples/ci/gitlab-ci.yml` are read as their CI service reads them (the matrix size
//! N, the shard job's command, what its artifacts keep, when the merge job runs, the merge
//! command), and the test does what the service would do: runs shards 1..N of a small suite
//! (in process, no pcscd), each in its own workspace with the matrix variables filled in,
//! hands each shard's artifact to a fresh merge workspace the way the service does, and
//! runs the merge command there. The merged results must equal one unpartitioned run of
//! the same suite case for case (id, group, name, verdict, reason), every case must come
//! from exactly one shard, and the exit codes must be the ones docs/distributed.md states:
//! a shard and the merge exit 0 when every case passed, 1 when one did not; the merge exits
//! 2 when a shard is missing. So an edit to an example's flags is an edit this test runs.
//!
//! What stands in for the CI service: the setup and build steps are not run (the workspace
//! gets `target/release/myna-hil`, a link to the binary `cargo build --workspace --bins`
//! made, and `scenarios`, the suite); the commands after them run in the shell the service
//! would use (GitHub Actions `shell: bash`: `bash --noprofile --norc -eo pipefail`; GitLab:
//! `bash -eo pipefail`); GitHub's `${{ }}` expressions are filled in before the shell sees
//! the script, GitLab's `CI_NODE_INDEX`/`CI_NODE_TOTAL` are environment variables.

use myna_hil_tests::{fresh_dir, repo_root, text, workspace_binary};
use reports::results::ResultsFile;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The scenarios the shards share out: reception cases that need neither the face runtime
/// nor latency bounds (a loaded machine must not change a verdict between the whole run and
/// the shards), 20-odd cases, about two seconds a run.
const SUITE: &[&str] = &[
    "_clinic.yaml",
    "pin-wrong-then-right.yaml",
    "consent.yaml",
    "consent-reuse.yaml",
    "grace-period.yaml",
    "fallback-ladder.yaml",
    "old-insurance-card.yaml",
    "share-by-age.yaml",
    "not-registered.yaml",
    "payment-card-route.yaml",
    "smartphone.yaml",
    "qualification-certificate.yaml",
];

/// A case that does not pass: its expectation contradicts the rules (share 10 % where the
/// rules say 30 %), so it ends in `error`, and the run, its shard and the merge exit 1.
const WRONG: &str = "\
title: A deliberately wrong expectation (tests/tests/ci_matrix.rs)
tags: [reception, pin]
include: [_clinic.yaml]
steps:
  - place_card
  - choose: pin
  - enter_pin: correct
  - consent: all
expect:
  route: card_pin
  share: 10%
";

/// What a case came to, all but its times and evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Outcome {
    group: String,
    name: String,
    verdict: String,
    reason: Option<String>,
}

fn outcomes(file: &ResultsFile) -> Vec<(String, Outcome)> {
    file.cases
        .iter()
        .map(|c| {
            (
                c.id.clone(),
                Outcome {
                    group: c.group.clone(),
                    name: c.name.clone(),
                    verdict: c.verdict.as_str().to_owned(),
                    reason: c.reason.clone(),
                },
            )
        })
        .collect()
}

fn read_results(path: &Path) -> ResultsFile {
    ResultsFile::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Whether any case did not pass (the documented exit 1).
fn any_bad<'a>(cases: impl IntoIterator<Item = &'a Outcome>) -> bool {
    cases
        .into_iter()
        .any(|c| !matches!(c.verdict.as_str(), "pass" | "skip"))
}

/// A suite folder (`DIR/scenarios`) and its one unpartitioned run.
struct Suite {
    dir: PathBuf,
    whole: BTreeMap<String, Outcome>,
}

impl Suite {
    /// The suite in `dir`: every case passes, or one (`WRONG`) does not.
    fn make(dir: &Path, with_wrong: bool) -> Suite {
        let dir = dir.to_path_buf();
        let repo = repo_root().join("scenarios");
        let reception = dir.join("scenarios/reception");
        std::fs::create_dir_all(&reception).unwrap();
        symlink(&repo.join("cards"), &dir.join("scenarios/cards"));
        for file in SUITE {
            symlink(&repo.join("reception").join(file), &reception.join(file));
        }
        if with_wrong {
            std::fs::write(reception.join("deliberately-wrong.yaml"), WRONG).unwrap();
        }
        // The reference: the same suite in one run, no partition.
        let ws = workspace(&dir.join("whole-run"), &dir);
        let out = Command::new(ws.join("target/release/myna-hil"))
            .args(["run", "scenarios", "--out", "whole"])
            .current_dir(&ws)
            .output()
            .expect("run myna-hil");
        let results = read_results(&ws.join("whole/results.json"));
        let listed = outcomes(&results);
        let whole: BTreeMap<String, Outcome> = listed.iter().cloned().collect();
        assert_eq!(whole.len(), listed.len(), "a case id twice in one run");
        assert_eq!(any_bad(whole.values()), with_wrong, "{}", text(&out.stdout));
        assert_eq!(
            out.status.code(),
            Some(i32::from(with_wrong)),
            "the whole run: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        Suite { dir, whole }
    }
}

fn symlink(target: &Path, link: &Path) {
    std::os::unix::fs::symlink(target, link)
        .unwrap_or_else(|e| panic!("link {} → {}: {e}", link.display(), target.display()));
}

/// A job's checkout after setup and build: `scenarios` (the suite) and
/// `target/release/myna-hil`, the binary this test run was built with.
fn workspace(dir: &Path, suite: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("target/release")).unwrap();
    symlink(
        &workspace_binary("myna-hil"),
        &dir.join("target/release/myna-hil"),
    );
    symlink(&suite.join("scenarios"), &dir.join("scenarios"));
    dir.to_path_buf()
}

/// The part of a job the test performs: the commands after setup and build, in the job's
/// shell, with the environment the service gives the job.
struct Job {
    shell: Vec<String>,
    commands: Vec<String>,
    env: Vec<(String, String)>,
}

impl Job {
    /// Runs the commands in `ws` until one fails, as a CI job does: its exit code and all it
    /// printed.
    fn perform(&self, ws: &Path) -> (i32, String) {
        let mut printed = String::new();
        for command in &self.commands {
            let out = Command::new(&self.shell[0])
                .args(&self.shell[1..])
                .arg(command)
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .current_dir(ws)
                .output()
                .unwrap_or_else(|e| panic!("{}: {e}", self.shell[0]));
            printed.push_str(&format!(
                "$ {command}\n{}{}",
                text(&out.stdout),
                text(&out.stderr)
            ));
            let code = out
                .status
                .code()
                .expect("the command was killed by a signal");
            if code != 0 {
                return (code, printed);
            }
        }
        (0, printed)
    }

    /// The value of `flag` on the job's myna-hil command line, its variables filled in.
    fn flag(&self, flag: &str) -> String {
        let line = self
            .commands
            .iter()
            .find(|c| c.contains("myna-hil"))
            .expect("a myna-hil command");
        let line = expand_env(line, &self.env);
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = words
            .iter()
            .position(|w| *w == flag)
            .unwrap_or_else(|| panic!("`{line}` has no {flag}"));
        words
            .get(at + 1)
            .unwrap_or_else(|| panic!("`{line}`: {flag} without a value"))
            .to_string()
    }
}

/// `$NAME` and `${NAME}` of `env` filled in (to read a command line's flags; the shell does
/// the same when it runs it).
fn expand_env(text: &str, env: &[(String, String)]) -> String {
    let mut out = text.to_owned();
    for (name, value) in env {
        out = out
            .replace(&format!("${{{name}}}"), value)
            .replace(&format!("${name}"), value);
    }
    out
}

/// Puts shard k's artifact (from its workspace) into the merge job's workspace.
type HandOver = Box<dyn Fn(u32, &Path, &Path)>;

/// A CI file as the test performs it.
struct Pipeline {
    file: &'static str,
    /// N.
    shards: u32,
    /// The shard job of shard k (1..=N).
    shard_job: Box<dyn Fn(u32) -> Job>,
    /// Whether a shard whose job failed still hands its outputs to the merge.
    keeps_failed_shards: bool,
    /// Whether the merge job runs after a failed shard job.
    merges_after_failure: bool,
    /// Puts shard k's artifact (from its workspace) into the merge job's workspace, as the
    /// service's artifact store does.
    hand_over: HandOver,
    merge_job: Job,
    /// What the merge job publishes (paths in its workspace).
    published: Vec<String>,
}

fn load(file: &str) -> Value {
    let path = repo_root().join(file);
    let yaml = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    harness::yaml::yaml_to_json(&yaml).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn string<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"))
}

fn strings(v: &Value, what: &str) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().map(|i| string(i, what).to_owned()).collect(),
        other => panic!("{what} is neither a string nor a list: {other}"),
    }
}

/// `*` matches any run of characters (artifact names and paths of these files use no more).
fn glob_matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.starts_with(head)
                && (0..=name.len() - head.len())
                    .filter(|i| name.is_char_boundary(head.len() + i))
                    .any(|i| glob_matches(tail, &name[head.len() + i..]))
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Index of the one item of `items` that `is` picks.
fn only(items: &[Value], what: &str, is: impl Fn(&Value) -> bool) -> usize {
    let found: Vec<usize> = (0..items.len()).filter(|i| is(&items[*i])).collect();
    assert_eq!(found.len(), 1, "expected exactly one {what}");
    found[0]
}

/// Whether a GitHub Actions job or step with this `if:` runs after a failure before it
/// (without `if:`, `success()` applies: it does not).
fn github_runs_after_failure(condition: Option<&Value>) -> bool {
    condition
        .and_then(Value::as_str)
        .is_some_and(|c| c.contains("!cancelled()") || c.contains("always()"))
}

/// GitHub's `${{ }}` expressions of a shard's script filled in: `matrix.KEY`,
/// `strategy.job-index`, `strategy.job-total`. Any other expression is a change the test
/// must learn about.
fn github_expand(script: &str, matrix_key: &str, shard: Option<(u32, u32)>) -> String {
    let mut out = String::new();
    let mut rest = script;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = start + rest[start..].find("}}").expect("an unclosed ${{");
        let expression = rest[start + 3..end].trim();
        let value = match (expression, shard) {
            (e, Some((k, _))) if e == format!("matrix.{matrix_key}") => k.to_string(),
            ("strategy.job-index", Some((k, _))) => (k - 1).to_string(),
            ("strategy.job-total", Some((_, n))) => n.to_string(),
            (other, _) => panic!(
                "`${{{{ {other} }}}}` in `{script}`: the test fills in the shard's matrix \
                 expressions only"
            ),
        };
        out.push_str(&value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The shell GitHub Actions runs a `run:` step in: the step's `shell`, else the job's or
/// the workflow's `defaults.run.shell`.
fn github_shell(workflow: &Value, job: &Value, step: &Value) -> Vec<String> {
    let shell = [
        step.get("shell"),
        job.pointer("/defaults/run/shell"),
        workflow.pointer("/defaults/run/shell"),
    ]
    .into_iter()
    .flatten()
    .next()
    .map(|s| string(s, "shell"));
    let argv: &[&str] = match shell {
        Some("bash") => &["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"],
        None => &["bash", "-e", "-c"],
        Some(other) => panic!("shell `{other}`: the test knows bash"),
    };
    argv.iter().map(|s| s.to_string()).collect()
}

fn github() -> Pipeline {
    let file = "examples/ci/github-actions.yml";
    let wf = load(file);
    let jobs = wf["jobs"].as_object().expect("jobs");
    let (shard_id, shard) = jobs
        .iter()
        .find(|(_, j)| j.pointer("/strategy/matrix").is_some())
        .expect("a job with a matrix: the shards");
    let matrix = shard["strategy"]["matrix"].as_object().unwrap();
    assert_eq!(matrix.len(), 1, "the matrix has one variable: the shard");
    let (key, values) = matrix.iter().next().unwrap();
    let values: Vec<u64> = values
        .as_array()
        .expect("a list of shard numbers")
        .iter()
        .map(|v| v.as_u64().expect("a shard number"))
        .collect();
    let n = u32::try_from(values.len()).unwrap();
    assert_eq!(
        values,
        (1..=u64::from(n)).collect::<Vec<_>>(),
        "shards 1..N"
    );
    assert_eq!(
        shard.pointer("/strategy/fail-fast"),
        Some(&Value::Bool(false)),
        "fail-fast must be false: a failing shard must not cancel the others"
    );

    let steps = shard["steps"].as_array().expect("steps");
    let run_of = |s: &Value| {
        s.get("run")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let uses = |s: &Value, action: &str| {
        s.get("uses")
            .and_then(Value::as_str)
            .is_some_and(|u| u.starts_with(action))
    };
    let run = only(steps, "shard step running `myna-hil run`", |s| {
        run_of(s).contains("myna-hil run ")
    });
    let setup = only(steps, "setup step", |s| {
        run_of(s).contains("bash .ci/setup")
    });
    let build = only(steps, "build step", |s| {
        run_of(s).contains("cargo build --release")
    });
    assert!(setup < build && build < run, "setup, build, then run");
    let upload = only(steps, "upload step", |s| {
        uses(s, "actions/upload-artifact@")
    });
    assert!(upload > run, "the shard is uploaded after it ran");
    let upload = &steps[upload];
    let keeps_failed_shards = github_runs_after_failure(upload.get("if"));
    let name = string(&upload["with"]["name"], "the artifact's name").to_owned();
    let path = string(&upload["with"]["path"], "the artifact's path").to_owned();

    let script = run_of(&steps[run]);
    let shell = github_shell(&wf, shard, &steps[run]);
    let key = key.clone();
    let shard_job = {
        let key = key.clone();
        Box::new(move |k: u32| Job {
            shell: shell.clone(),
            commands: vec![github_expand(&script, &key, Some((k, n)))],
            env: Vec::new(),
        })
    };

    let (_, merge) = jobs
        .iter()
        .find(|(_, j)| {
            j.get("needs")
                .is_some_and(|needs| strings(needs, "needs").contains(shard_id))
        })
        .expect("a job that needs the shards: the merge");
    let merges_after_failure = github_runs_after_failure(merge.get("if"));
    let steps = merge["steps"].as_array().expect("steps");
    let download = only(steps, "download step", |s| {
        uses(s, "actions/download-artifact@")
    });
    let merging = only(steps, "merge step running `myna-hil report merge`", |s| {
        run_of(s).contains("myna-hil report merge ")
    });
    let build = only(steps, "build step", |s| {
        run_of(s).contains("cargo build --release")
    });
    assert!(build < merging && download < merging);
    let with = &steps[download]["with"];
    let pattern = string(&with["pattern"], "the download pattern").to_owned();
    let into = with.get("path").map_or(".".to_owned(), |p| {
        string(p, "the download path").to_owned()
    });
    let merge_multiple = with.get("merge-multiple") == Some(&Value::Bool(true));
    let hand_over = Box::new(move |k: u32, shard_ws: &Path, merge_ws: &Path| {
        let name = github_expand(&name, &key, Some((k, n)));
        let path = github_expand(&path, &key, Some((k, n)));
        let from = shard_ws.join(path.trim_end_matches('/'));
        // No folder, no artifact (upload-artifact warns); a name the pattern misses is not
        // downloaded.
        if from.is_dir() && glob_matches(&pattern, &name) {
            let to = if merge_multiple {
                merge_ws.join(&into)
            } else {
                merge_ws.join(&into).join(&name)
            };
            copy_dir(&from, &to);
        }
    });
    let merge_job = Job {
        shell: github_shell(&wf, merge, &steps[merging]),
        commands: vec![github_expand(&run_of(&steps[merging]), "", None)],
        env: Vec::new(),
    };
    let published = steps[merging + 1..]
        .iter()
        .filter(|s| uses(s, "actions/upload-artifact@"))
        .map(|s| string(&s["with"]["path"], "a published path").to_owned())
        .collect();
    Pipeline {
        file,
        shards: n,
        shard_job,
        keeps_failed_shards,
        merges_after_failure,
        hand_over,
        merge_job,
        published,
    }
}

fn gitlab() -> Pipeline {
    let file = "examples/ci/gitlab-ci.yml";
    let ci = load(file);
    let stages = strings(&ci["stages"], "stages");
    let stage_of = |job: &Value| {
        let stage = job.get("stage").map_or("test", |s| string(s, "stage"));
        stages
            .iter()
            .position(|s| s == stage)
            .unwrap_or_else(|| panic!("stage `{stage}` is not in `stages`"))
    };
    let jobs: Vec<(&String, &Value)> = ci
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, j)| j.get("script").is_some())
        .collect();
    let (shard_name, shard) = *jobs
        .iter()
        .find(|(_, j)| j.get("parallel").is_some())
        .expect("a job with `parallel`: the shards");
    let n = shard["parallel"].as_u64().unwrap_or_else(|| {
        panic!(
            "`parallel: {}`: the test performs `parallel: N`",
            shard["parallel"]
        )
    });
    let n = u32::try_from(n).unwrap();
    let script = strings(&shard["script"], "script");
    let line = |what: &str, text: &str| {
        script
            .iter()
            .position(|l| l.contains(text))
            .unwrap_or_else(|| panic!("the shard job has no {what} line"))
    };
    let (setup, build) = (
        line("setup", "bash .ci/setup"),
        line("build", "cargo build --release"),
    );
    let run = line("`myna-hil run`", "myna-hil run ");
    assert!(setup < build && build < run, "setup, build, then run");
    let commands: Vec<String> = script[run..].to_vec();
    let shell: Vec<String> = ["bash", "-eo", "pipefail", "-c"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let shard_job = {
        let shell = shell.clone();
        Box::new(move |k: u32| Job {
            shell: shell.clone(),
            commands: commands.clone(),
            env: vec![
                ("CI_NODE_INDEX".into(), k.to_string()),
                ("CI_NODE_TOTAL".into(), n.to_string()),
            ],
        })
    };
    let artifacts = &shard["artifacts"];
    let keeps_failed_shards = matches!(
        artifacts.get("when").and_then(Value::as_str),
        Some("always" | "on_failure")
    );
    let paths = strings(&artifacts["paths"], "artifacts:paths");

    let (_, merge) = *jobs
        .iter()
        .find(|(_, j)| {
            strings(&j["script"], "script")
                .iter()
                .any(|l| l.contains("myna-hil report merge "))
        })
        .expect("a job running `myna-hil report merge`");
    assert!(
        stage_of(merge) > stage_of(shard),
        "the merge runs in a later stage than the shards"
    );
    for key in ["needs", "dependencies"] {
        if let Some(list) = merge.get(key) {
            assert!(
                strings(list, key).contains(shard_name),
                "the merge's `{key}` must name the shard job"
            );
        }
    }
    let merges_after_failure = merge.get("when").and_then(Value::as_str) == Some("always");
    let script = strings(&merge["script"], "script");
    let merging = script
        .iter()
        .position(|l| l.contains("myna-hil report merge "))
        .unwrap();
    assert!(
        script[..merging]
            .iter()
            .any(|l| l.contains("cargo build --release")),
        "the merge job builds myna-hil first"
    );
    let merge_job = Job {
        shell,
        commands: script[merging..].to_vec(),
        env: Vec::new(),
    };
    let mut published = Vec::new();
    if let Some(artifacts) = merge.get("artifacts") {
        if let Some(p) = artifacts.get("paths") {
            published.extend(strings(p, "artifacts:paths"));
        }
        if let Some(j) = artifacts.pointer("/reports/junit") {
            published.extend(strings(j, "artifacts:reports:junit"));
        }
    }
    // Jobs of later stages get the artifacts of earlier ones, at the same paths.
    let hand_over = Box::new(move |_k: u32, shard_ws: &Path, merge_ws: &Path| {
        for pattern in &paths {
            let pattern = pattern.trim_end_matches('/');
            assert!(
                !pattern.contains('/'),
                "artifacts:paths `{pattern}`: the test hands over top-level paths"
            );
            for entry in std::fs::read_dir(shard_ws).unwrap() {
                let entry = entry.unwrap();
                let name = entry.file_name().to_string_lossy().into_owned();
                if glob_matches(pattern, &name) && entry.path().is_dir() {
                    copy_dir(&entry.path(), &merge_ws.join(&name));
                }
            }
        }
    });
    Pipeline {
        file,
        shards: n,
        shard_job,
        keeps_failed_shards,
        merges_after_failure,
        hand_over,
        merge_job,
        published,
    }
}

/// Performs the pipeline on a suite (with or without a case that does not pass) in
/// `root`, and holds it to the suite's whole run and to the documented exit codes.
fn perform(p: &Pipeline, with_wrong: bool, root: &Path) {
    let suite = &Suite::make(&root.join("suite"), with_wrong);
    let n = p.shards;
    let file = p.file;
    let merge_ws = workspace(&root.join("merge"), &suite.dir);
    let mut from_shards: BTreeMap<String, (Outcome, Vec<u32>)> = BTreeMap::new();
    let mut shard_workspaces = Vec::new();
    let mut a_shard_failed = false;
    for k in 1..=n {
        let ws = workspace(&root.join(format!("shard-{k}")), &suite.dir);
        let job = (p.shard_job)(k);
        let (code, printed) = job.perform(&ws);
        let results = read_results(&ws.join(job.flag("--out")).join("results.json"));
        assert_eq!(
            results.partition.as_deref(),
            Some(format!("{k}/{n}").as_str()),
            "{file}, shard {k}: the run's partition\n{printed}"
        );
        let cases = outcomes(&results);
        // An empty shard is exit 2 unless --allow-empty (docs/distributed.md): the suite is
        // large enough for the examples' N.
        assert!(
            !cases.is_empty(),
            "{file}, shard {k}/{n} selected no case: use fewer shards or a larger suite\n{printed}"
        );
        let expected = i32::from(any_bad(cases.iter().map(|(_, o)| o)));
        assert_eq!(
            code, expected,
            "{file}, shard {k}: exit {code}, docs/distributed.md says {expected}\n{printed}"
        );
        for (id, outcome) in cases {
            from_shards
                .entry(id)
                .or_insert_with(|| (outcome, Vec::new()))
                .1
                .push(k);
        }
        if code != 0 {
            a_shard_failed = true;
        }
        if code == 0 || p.keeps_failed_shards {
            (p.hand_over)(k, &ws, &merge_ws);
        }
        shard_workspaces.push(ws);
    }
    assert!(
        !a_shard_failed || p.keeps_failed_shards,
        "{file}: a shard whose case failed keeps no artifact, so the merge cannot judge it"
    );

    // Every case of the whole run in exactly one shard, with the same outcome.
    for (id, (_, shards)) in &from_shards {
        assert_eq!(shards.len(), 1, "{file}: {id} ran in shards {shards:?}");
    }
    let shards: BTreeMap<String, Outcome> = from_shards
        .into_iter()
        .map(|(id, (outcome, _))| (id, outcome))
        .collect();
    assert_eq!(
        shards, suite.whole,
        "{file}: the shards together differ from one run"
    );

    // The merge, on its own runner with the artifacts.
    assert!(
        !a_shard_failed || p.merges_after_failure,
        "{file}: after a failed shard the merge job would not run, and no merged verdict \
         would be reported"
    );
    let (code, printed) = p.merge_job.perform(&merge_ws);
    let merged = read_results(
        &merge_ws
            .join(p.merge_job.flag("--out"))
            .join("results.json"),
    );
    let listed = outcomes(&merged);
    let merged_cases: BTreeMap<String, Outcome> = listed.iter().cloned().collect();
    assert_eq!(
        merged_cases.len(),
        listed.len(),
        "{file}: a case twice in the merge"
    );
    assert_eq!(
        merged_cases, suite.whole,
        "{file}: the merged results differ from one run"
    );
    let expected = i32::from(with_wrong);
    assert_eq!(
        code, expected,
        "{file}: the merge exited {code}, docs/distributed.md says {expected}\n{printed}"
    );
    for path in &p.published {
        assert!(
            merge_ws.join(path).exists(),
            "{file}: the merge job publishes {path}, which the merge did not write"
        );
    }

    // Without the last shard's artifact the merge refuses: exit 2, naming it.
    if !with_wrong {
        let partial = workspace(&root.join("merge-without-last"), &suite.dir);
        for (k, ws) in (1..n).zip(&shard_workspaces) {
            (p.hand_over)(k, ws, &partial);
        }
        let (code, printed) = p.merge_job.perform(&partial);
        assert_eq!(code, 2, "{file}: a merge without shard {n}\n{printed}");
        assert!(
            printed.contains(&format!("missing shard(s) {n}/{n}")),
            "{file}: {printed}"
        );
    }
}

fn check(pipeline: Pipeline, name: &str) {
    let root = fresh_dir(name);
    perform(&pipeline, false, &root.join("passing"));
    perform(&pipeline, true, &root.join("failing"));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn the_github_actions_example_merges_to_the_whole_run() {
    check(github(), "ci-matrix-github");
}

#[test]
fn the_gitlab_example_merges_to_the_whole_run() {
    check(gitlab(), "ci-matrix-gitlab");
}

/// The fenced block of `doc` whose info string is `yaml FILE`.
fn doc_block(doc: &str, file: &str) -> String {
    let fence = format!("```yaml {file}\n");
    let start = doc
        .find(&fence)
        .unwrap_or_else(|| panic!("docs/distributed.md shows no ```yaml {file} block"))
        + fence.len();
    let end = start + doc[start..].find("\n```\n").expect("an unclosed block") + 1;
    doc[start..end].to_owned()
}

#[test]
fn the_doc_shows_the_example_files_verbatim() {
    let doc = std::fs::read_to_string(repo_root().join("docs/distributed.md")).unwrap();
    for file in [
        "examples/ci/github-actions.yml",
        "examples/ci/gitlab-ci.yml",
    ] {
        let shipped = std::fs::read_to_string(repo_root().join(file)).unwrap();
        assert!(
            doc_block(&doc, file) == shipped,
            "docs/distributed.md must show {file} as it is: copy the file into its block"
        );
    }
}

#[test]
fn globs_match_as_the_artifact_stores_do() {
    assert!(glob_matches("shard-*", "shard-12"));
    assert!(glob_matches("shard-*/", "shard-1/"));
    assert!(!glob_matches("shard-*", "merged"));
    assert!(glob_matches("*", ""));
    assert!(glob_matches("a*b*c", "a-b-b-c"));
    assert!(!glob_matches("a*b*c", "a-c-b"));
}
