//! `myna-hil certify`: a device certified against a test plan, as its ICS declares it.
//!
//! Everything is checked before the first case (the ICS, the plan and its scenarios, the
//! signing key, an empty output folder, the device's `hello` against its ICS); exactly the
//! selected cases run; bench errors are run again as the plan allows, every attempt kept;
//! the decision follows `certify::decision`; and the output folder becomes the evidence
//! bundle (docs/certification.md): the manifest, the ICS and the plan, every attempt's run
//! log and reports, the final reports, each case's evidence named by its SHA-256, and over
//! all of it a signed in-toto statement in a DSSE envelope, plus the same as a `.tar`.

use super::args::CertifyArgs;
use super::run::{card_site, connect_device, run_cases};
use super::{say, warn, CliError, Exit};
use crate::certify::decision::{self, Decision, SelectedCase};
use crate::certify::ics::load_ics;
use crate::certify::plan;
use crate::dut::link::Address;
use reports::CaseResult;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The manifest's format version.
pub const MANIFEST_VERSION: u32 = 1;
/// The files of a bundle the harness writes at its top.
pub const MANIFEST: &str = "manifest.json";
pub const SELECTION: &str = "selection.json";
pub const DECISION: &str = "decision.json";
pub const EVIDENCE_INDEX: &str = "evidence.json";
pub const ICS_COPY: &str = "ics.yaml";
pub const PLAN_COPY: &str = "plan.yaml";
pub const ATTEMPTS: &str = "attempts";

/// `manifest.json`: what produced the verdicts.
#[derive(Serialize)]
struct Manifest {
    manifest_version: u32,
    harness: Harness,
    plan: PlanId,
    ics: Digest,
    device: crate::dut::protocol::DeviceHello,
    host: Host,
    started: String,
    ended: String,
    attempts: usize,
    /// Every input file that shaped a verdict, by kind, with its SHA-256.
    inputs: Vec<Input>,
}

#[derive(Serialize)]
struct Harness {
    version: &'static str,
    git_sha: String,
    dirty: bool,
}

#[derive(Serialize)]
struct PlanId {
    id: String,
    version: String,
    file: String,
    sha256: String,
}

#[derive(Serialize)]
struct Digest {
    file: String,
    sha256: String,
}

#[derive(Serialize)]
struct Host {
    os: String,
    kernel: String,
    arch: &'static str,
    hostname: String,
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
struct Input {
    kind: &'static str,
    path: String,
    sha256: String,
}

pub(super) fn certify(args: CertifyArgs) -> Result<Exit, CliError> {
    // Every input checked before anything runs.
    let ics = load_ics(&args.ics)?;
    let (p, cases) = super::plan::plan_and_cases(&args.plan)?;
    let selection = plan::select(&p, &ics, &cases);
    let selected: Vec<SelectedCase> = selection
        .iter()
        .filter(|s| s.selected())
        .map(|s| SelectedCase {
            case: s.case.clone(),
            requirements: s.requirements.clone(),
            mandatory: s.mandatory,
        })
        .collect();
    if selected.is_empty() {
        return Err(CliError::bad_input(format!(
            "the ICS {} selects no case of plan {}: see `myna-hil plan show`",
            args.ics.display(),
            args.plan.display()
        )));
    }
    let key = match &args.sign {
        Some(path) => Some(
            crate::certify::attest::read_private(path)
                .map_err(|e| CliError::bad_input(format!("--sign {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let address: Address = match &args.reader {
        super::args::ReaderArg::Dut(a) => a.clone(),
        super::args::ReaderArg::Virtual => {
            return Err(CliError::bad_input(format!(
                "certify judges a device under test: --reader dut: and {}",
                crate::dut::link::FORMS
            )))
        }
    };
    let site = card_site(&args.card, true, false)?;
    let selected_cases: Vec<crate::scenario::Case> = {
        let ids: std::collections::BTreeSet<&str> =
            selected.iter().map(|s| s.case.as_str()).collect();
        cases
            .iter()
            .filter(|c| ids.contains(c.id.as_str()))
            .cloned()
            .collect()
    };
    empty_folder(&args.out)?;
    let tar = tar_path(&args.out)?;

    // The device, held to its declaration before the first case.
    let started = crate::units::now_rfc3339();
    let device = connect_device(address)?;
    if let Some(why) = ics.hello_mismatch(device.hello()) {
        return Err(CliError::bad_input(format!(
            "the device does not match its ICS ({}): {why}; no case was run",
            args.ics.display()
        )));
    }
    let people = super::operator::desk_for(
        &selected_cases,
        &args.operator,
        std::slice::from_ref(&device),
    )?;
    say(format!(
        "certifying against {} {}: {} of {} case(s) selected ({} mandatory)",
        p.id,
        p.version,
        selected.len(),
        selection.len(),
        selected.iter().filter(|s| s.mandatory).count()
    ));

    // The attempts: all selected cases, then the bench errors again as the plan allows.
    let by_id: BTreeMap<&str, &crate::scenario::Case> =
        cases.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut attempts: Vec<Vec<CaseResult>> = Vec::new();
    let mut to_run: Vec<String> = selected.iter().map(|s| s.case.clone()).collect();
    for n in 1..=usize::from(p.attempts) {
        if to_run.is_empty() {
            break;
        }
        if n > 1 {
            warn(format!(
                "attempt {n}: {} case(s) ended in a bench error; running them again",
                to_run.len()
            ));
        }
        let run: Vec<crate::scenario::Case> = to_run
            .iter()
            .filter_map(|id| by_id.get(id.as_str()).map(|c| (*c).clone()))
            .collect();
        let reports = super::args::ReportArgs {
            out: args.out.join(ATTEMPTS).join(n.to_string()),
            junit: None,
            json: None,
            jobs: args.jobs,
        };
        std::fs::create_dir_all(&reports.out).map_err(|e| unwritten(&reports.out, e))?;
        let exit = run_cases(
            run,
            site.clone(),
            vec![device.clone()],
            None,
            &reports,
            Some(people.clone()),
        )?;
        if exit == Exit::Interrupted {
            warn("interrupted: no bundle is made of an interrupted certification");
            return Ok(Exit::Interrupted);
        }
        let results = reports::set::read_results(&reports.out.join("results.json"))
            .map_err(|e| CliError::Unwritten(e.to_string()))?;
        attempts.push(results.cases);
        to_run = decision::to_retry(&decision::final_results(&attempts));
    }
    let ended = crate::units::now_rfc3339();

    // The decision, from the final results and the plan's policy.
    let finals = decision::final_results(&attempts);
    let decided = decision::decide(&selected, &finals);
    let final_cases: Vec<CaseResult> = selected
        .iter()
        .filter_map(|s| finals.get(&s.case).cloned())
        .collect();
    let identity = vec![
        (
            "device".to_owned(),
            format!("{} {}", ics.identity.vendor, ics.identity.model),
        ),
        ("firmware".to_owned(), ics.identity.firmware.clone()),
        ("plan".to_owned(), format!("{} {}", p.id, p.version)),
        ("ICS SHA-256".to_owned(), file_sha256(&args.ics)?),
        ("harness".to_owned(), super::version().to_owned()),
        ("started".to_owned(), started.clone()),
        ("ended".to_owned(), ended.clone()),
        (
            "decision".to_owned(),
            if decided.certified {
                "certified"
            } else {
                "not certified"
            }
            .to_owned(),
        ),
    ];
    // The traceability matrix: each applicable requirement and its selected cases.
    let requirements: Vec<reports::html::Requirement> = p
        .requirements
        .iter()
        .filter(|r| selected.iter().any(|s| s.requirements.contains(&r.id)))
        .map(|r| reports::html::Requirement {
            id: r.id.clone(),
            title: r.title.clone(),
            source: r.source.clone(),
            mandatory: r.mandatory,
            cases: selected
                .iter()
                .filter(|s| s.requirements.contains(&r.id))
                .map(|s| s.case.clone())
                .collect(),
        })
        .collect();
    let extras = reports::html::HtmlExtras {
        title: Some(format!(
            "Certification of {} {} firmware {} against {} {}",
            ics.identity.vendor, ics.identity.model, ics.identity.firmware, p.id, p.version
        )),
        identity,
        requirements: Some(requirements),
        accuracy: None,
    };
    write_final_reports(&args.out, &final_cases, &extras)?;

    // The bundle.
    let files = |e: std::io::Error| CliError::Unwritten(format!("{}: {e}", args.out.display()));
    std::fs::copy(&args.ics, args.out.join(ICS_COPY)).map_err(files)?;
    std::fs::copy(&args.plan, args.out.join(PLAN_COPY)).map_err(files)?;
    write_json(&args.out.join(SELECTION), &selected)?;
    write_json(&args.out.join(DECISION), &decided)?;
    write_evidence(&args.out, &attempts)?;
    let manifest = Manifest {
        manifest_version: MANIFEST_VERSION,
        harness: harness_id(),
        plan: PlanId {
            id: p.id.clone(),
            version: p.version.clone(),
            file: PLAN_COPY.into(),
            sha256: file_sha256(&args.plan)?,
        },
        ics: Digest {
            file: ICS_COPY.into(),
            sha256: file_sha256(&args.ics)?,
        },
        device: device.hello().clone(),
        host: host(),
        started,
        ended,
        attempts: attempts.len(),
        inputs: inputs(&p, &cases, &selected)?,
    };
    write_json(&args.out.join(MANIFEST), &manifest)?;
    if let Some(key) = &key {
        // docs/attestation.md, "The predicate".
        let predicate = serde_json::json!({
            "certified": decided.certified,
            "reasons": &decided.reasons,
            "plan": {"id": p.id, "version": p.version, "sha256": manifest.plan.sha256},
            "ics": {"sha256": manifest.ics.sha256},
            "harness": &manifest.harness,
            "device": {
                "vendor": ics.identity.vendor,
                "model": ics.identity.model,
                "hardware_revision": ics.identity.hardware_revision,
                "firmware": ics.identity.firmware,
                "firmware_sha256": ics.identity.firmware_sha256,
                "serial": manifest.device.serial,
            },
        });
        crate::certify::bundle::seal(
            &args.out,
            predicate,
            crate::certify::attest::PREDICATE_TYPE,
            key,
        )
        .map_err(|e| CliError::Unwritten(format!("signing the bundle: {e}")))?;
    } else {
        warn("the bundle is not signed (no --sign KEY): `myna-hil verify` will refuse it");
    }
    crate::certify::bundle::write_tar(&args.out, &tar)
        .map_err(|e| CliError::Unwritten(format!("{}: {e}", tar.display())))?;

    print_decision(&decided);
    say(format!(
        "bundle: {} and {}",
        args.out.display(),
        tar.display()
    ));
    Ok(if decided.certified {
        Exit::Ok
    } else {
        Exit::CasesFailed
    })
}

pub(super) fn print_decision(d: &Decision) {
    if d.certified {
        say("\nCERTIFIED: every mandatory case passed");
    } else {
        say(format!(
            "\nNOT CERTIFIED: {} mandatory case(s) did not pass",
            d.reasons.len()
        ));
        for r in &d.reasons {
            say(format!("  - {r}"));
        }
    }
    for n in &d.notes {
        say(format!("  note: {n}"));
    }
}

/// A bundle is made in a folder of its own: an older run's files must never pass for
/// this run's evidence.
fn empty_folder(dir: &Path) -> Result<(), CliError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(CliError::bad_input(format!(
                    "{} is not empty: a certification bundle is made in a new or empty folder",
                    dir.display()
                )));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(CliError::bad_input(format!("{}: {e}", dir.display()))),
    }
    std::fs::create_dir_all(dir)
        .and_then(|()| common::fs::probe_folder(dir))
        .map_err(|e| CliError::bad_input(format!("{}: {e}", dir.display())))
}

/// `DIR.tar` beside the folder.
fn tar_path(dir: &Path) -> Result<PathBuf, CliError> {
    let name = dir
        .file_name()
        .ok_or_else(|| CliError::bad_input(format!("{}: name a folder", dir.display())))?;
    let mut tar = name.to_os_string();
    tar.push(".tar");
    Ok(dir.with_file_name(tar))
}

fn write_final_reports(
    out: &Path,
    cases: &[CaseResult],
    extras: &reports::html::HtmlExtras<'_>,
) -> Result<(), CliError> {
    let paths = reports::set::ReportPaths::in_folder(out, None, None);
    paths.prepare().map_err(CliError::bad_input)?;
    let stamp = reports::junit::RunStamp {
        started: time::OffsetDateTime::now_utc(),
        hostname: host().hostname,
    };
    let written = paths.write_with(&cases, None, &stamp, extras);
    if let Some(f) = written.failures.first() {
        return Err(CliError::Unwritten(f.to_string()));
    }
    Ok(())
}

/// Each attempt's evidence of each case as a file named by its SHA-256, and the index.
fn write_evidence(out: &Path, attempts: &[Vec<CaseResult>]) -> Result<(), CliError> {
    let dir = out.join("evidence");
    std::fs::create_dir_all(&dir).map_err(|e| unwritten(&dir, e))?;
    let mut index: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for (n, attempt) in attempts.iter().enumerate() {
        for r in attempt {
            let sha = crate::clips::sha256_hex(r.evidence.as_bytes());
            let name = format!("evidence/{sha}.txt");
            let path = out.join(&name);
            if !path.exists() {
                common::fs::write_atomic(&path, r.evidence.as_bytes())
                    .map_err(|e| unwritten(&path, e))?;
            }
            index
                .entry(r.id.clone())
                .or_default()
                .push(serde_json::json!({
                    "attempt": n + 1,
                    "verdict": r.verdict.as_str(),
                    "file": name,
                }));
        }
    }
    write_json(&out.join(EVIDENCE_INDEX), &index)
}

/// Every input file that shaped a verdict: the plan's scenario files and the includes
/// beside them, the cards' profiles and photos, the face models and the runtime.
fn inputs(
    p: &plan::Plan,
    cases: &[crate::scenario::Case],
    selected: &[SelectedCase],
) -> Result<Vec<Input>, CliError> {
    let chosen: BTreeSet<&str> = selected.iter().map(|s| s.case.as_str()).collect();
    let mut out = BTreeSet::new();
    let mut add = |kind: &'static str, path: &Path| -> Result<(), CliError> {
        out.insert(Input {
            kind,
            path: path.display().to_string(),
            sha256: file_sha256(path)?,
        });
        Ok(())
    };
    for file in plan::scenario_files(p) {
        add("scenario", &file)?;
        if let Some(dir) = file.parent() {
            for entry in std::fs::read_dir(dir).map_err(|e| unwritten(dir, e))? {
                let path = entry.map_err(|e| unwritten(dir, e))?.path();
                let include = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('_') && n.ends_with(".yaml"));
                if include {
                    add("include", &path)?;
                }
            }
        }
    }
    let mut photos = BTreeSet::new();
    for case in cases.iter().filter(|c| chosen.contains(c.id.as_str())) {
        if let Some(card) = &case.card {
            add("profile", card)?;
            if let Ok(f) = crate::cards::load_profile_file(card, &crate::cards::no_photos) {
                photos.extend(f.faces.chip_photo);
                photos.extend(f.faces.patient_photo);
            }
        }
    }
    for name in photos {
        if let Ok(path) = crate::photos::photo_path(&name) {
            add("photo", &path)?;
        }
    }
    if let Ok(paths) = camera_replay::runtime::RuntimePaths::from_env() {
        if let Ok(models) = paths.check() {
            add("model", &models.yunet)?;
            add("model", &models.sface)?;
        }
        if paths.library.is_file() {
            add("runtime", &paths.library)?;
        }
    }
    Ok(out.into_iter().collect())
}

fn harness_id() -> Harness {
    let git = env!("MYNA_HIL_GIT");
    let (sha, dirty) = match git.split_once(", ") {
        Some((sha, flag)) => (sha, flag == "dirty"),
        None => (git, false),
    };
    Harness {
        version: env!("CARGO_PKG_VERSION"),
        git_sha: sha.to_owned(),
        dirty,
    }
}

fn host() -> Host {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let os = read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_owned())
        .unwrap_or_else(|| std::env::consts::OS.to_owned());
    Host {
        os,
        kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
        arch: std::env::consts::ARCH,
        hostname: Some(read("/proc/sys/kernel/hostname").trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into()),
    }
}

fn file_sha256(path: &Path) -> Result<String, CliError> {
    crate::clips::file_sha256(path)
        .map_err(|e| CliError::bad_input(format!("{}: {e}", path.display())))
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), CliError> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| CliError::Unwritten(format!("{}: {e}", path.display())))?;
    bytes.push(b'\n');
    common::fs::write_atomic(path, &bytes).map_err(|e| unwritten(path, e))
}

fn unwritten(path: &Path, e: std::io::Error) -> CliError {
    CliError::Unwritten(format!("cannot write {}: {e}", path.display()))
}

/// `myna-hil keygen --out PREFIX`.
pub(super) fn keygen(prefix: &Path) -> Result<Exit, CliError> {
    let files = crate::certify::attest::write_key_pair(prefix)
        .map_err(|e| CliError::bad_input(e.to_string()))?;
    say(format!(
        "private key {} (keep it secret), public key {} (hand it to whoever verifies), key id {}",
        files.private.display(),
        files.public.display(),
        files.key_id
    ));
    Ok(Exit::Ok)
}

/// `myna-hil verify BUNDLE --key PUB`: the signature and every digest, then the decision
/// judged again from the bundle's own results, selection and plan. Exit 0: verified and
/// certified; 1: verified, not certified; 2: the bundle does not verify (each finding named).
pub(super) fn verify(bundle: &Path, key: &Path) -> Result<Exit, CliError> {
    let key = crate::certify::attest::read_public(key)
        .map_err(|e| CliError::bad_input(format!("--key {}: {e}", key.display())))?;
    // A `.tar` is unpacked into a private folder of its own, checked there, and removed.
    let unpacked = Unpacked::new()?;
    let dir = if bundle.is_file() {
        if let Err(e) = crate::certify::bundle::unpack_tar(bundle, &unpacked.0) {
            say(format!("{}: DOES NOT VERIFY", bundle.display()));
            say(format!("  - {e}"));
            return Ok(Exit::BadInput);
        }
        unpacked.0.clone()
    } else {
        bundle.to_path_buf()
    };
    let verified = match crate::certify::bundle::verify(&dir, &key) {
        Ok(v) => v,
        Err(findings) => {
            say(format!("{}: DOES NOT VERIFY", bundle.display()));
            for f in &findings {
                say(format!("  - {f}"));
            }
            return Ok(Exit::BadInput);
        }
    };
    let statement = &verified.statement;
    if statement.predicate_type != crate::certify::attest::PREDICATE_TYPE {
        say(format!(
            "{}: DOES NOT VERIFY\n  - the statement's predicate is {:?}, not a myna-hil certification",
            bundle.display(),
            statement.predicate_type
        ));
        return Ok(Exit::BadInput);
    }
    let judged = rejudge(&dir).and_then(|decided| {
        // The signed predicate must say what the bundle's results say.
        let said = statement
            .predicate
            .get("certified")
            .and_then(|v| v.as_bool());
        if said == Some(decided.certified) {
            Ok(decided)
        } else {
            Err(vec![format!(
                "the signed predicate says certified={said:?}, the results and the plan say {}",
                decided.certified
            )])
        }
    });
    match judged {
        Err(problems) => {
            say(format!(
                "{}: signed and intact, but its contents do not hold together:",
                bundle.display()
            ));
            for p in &problems {
                say(format!("  - {p}"));
            }
            Ok(Exit::BadInput)
        }
        Ok(decided) => {
            say(format!(
                "{}: signature and every file's digest verified; decision judged again from \
                 the bundle's results and plan",
                bundle.display()
            ));
            print_decision(&decided);
            Ok(if decided.certified {
                Exit::Ok
            } else {
                Exit::CasesFailed
            })
        }
    }
}

/// Where a `.tar` is unpacked (made by `unpack_tar`, which wants a path that does not
/// exist yet), removed when dropped.
struct Unpacked(PathBuf);

impl Unpacked {
    fn new() -> Result<Unpacked, CliError> {
        let dir = std::env::temp_dir().join(format!(
            "myna-hil-verify-{}-{}",
            std::process::id(),
            time::OffsetDateTime::now_utc().unix_timestamp_nanos()
        ));
        Ok(Unpacked(dir))
    }
}

impl Drop for Unpacked {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The decision judged again from what the bundle holds: its selection against its plan
/// (every requirement named exists, mandatory as the plan says), its attempts against the
/// plan's retry policy, the final reports against the last attempts, and the recorded
/// decision against the one these give. `Err` lists every disagreement.
fn rejudge(dir: &Path) -> Result<Decision, Vec<String>> {
    let mut problems = Vec::new();
    let read = |name: &str| -> Result<Vec<u8>, String> {
        std::fs::read(dir.join(name)).map_err(|e| format!("{name}: {e}"))
    };
    let json = |name: &str| -> Result<serde_json::Value, String> {
        serde_json::from_slice(&read(name)?).map_err(|e| format!("{name}: {e}"))
    };
    let selected: Vec<SelectedCase> = match read(SELECTION)
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| format!("{SELECTION}: {e}")))
    {
        Ok(s) => s,
        Err(e) => return Err(vec![e]),
    };
    let recorded: Decision = match read(DECISION)
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| format!("{DECISION}: {e}")))
    {
        Ok(d) => d,
        Err(e) => return Err(vec![e]),
    };
    let plan = match plan::parse_plan(
        &dir.join(PLAN_COPY),
        &String::from_utf8_lossy(&read(PLAN_COPY).map_err(|e| vec![e])?),
    ) {
        Ok(p) => p,
        Err(d) => return Err(vec![format!("{PLAN_COPY}: {d}")]),
    };
    // The selection against the plan.
    for s in &selected {
        let mut mandatory = false;
        for id in &s.requirements {
            match plan.requirements.iter().find(|r| &r.id == id) {
                Some(r) => mandatory |= r.mandatory,
                None => problems.push(format!("{}: requirement {id} is not in the plan", s.case)),
            }
        }
        if mandatory != s.mandatory {
            problems.push(format!(
                "{}: recorded as {} but its requirements make it {}",
                s.case,
                if s.mandatory { "mandatory" } else { "optional" },
                if mandatory { "mandatory" } else { "optional" }
            ));
        }
    }
    // The attempts against the retry policy.
    let mut attempts = Vec::new();
    for n in 1.. {
        let path = dir.join(ATTEMPTS).join(n.to_string()).join("results.json");
        if !path.exists() {
            break;
        }
        match reports::set::read_results(&path) {
            Ok(r) => attempts.push(r.cases),
            Err(e) => problems.push(e.to_string()),
        }
    }
    if let Err(why) = decision::check_attempts(&selected, &attempts, plan.attempts) {
        problems.push(format!("the attempts break the plan's retry policy: {why}"));
    }
    // The final reports are the last attempts.
    let finals = decision::final_results(&attempts);
    match reports::set::read_results(&dir.join("results.json")) {
        Ok(r) => {
            for c in &r.cases {
                match finals.get(&c.id) {
                    Some(last) if last.verdict == c.verdict => {}
                    Some(last) => problems.push(format!(
                        "{}: results.json says {}, its last attempt {}",
                        c.id,
                        c.verdict.as_str(),
                        last.verdict.as_str()
                    )),
                    None => problems.push(format!("{}: in results.json but in no attempt", c.id)),
                }
            }
            if r.cases.len() != finals.len() {
                problems.push(format!(
                    "results.json holds {} case(s), the attempts {}",
                    r.cases.len(),
                    finals.len()
                ));
            }
        }
        Err(e) => problems.push(e.to_string()),
    }
    // The decision.
    let decided = decision::decide(&selected, &finals);
    if decided != recorded {
        problems.push(format!(
            "{DECISION} says certified={}, the results and the plan say certified={}",
            recorded.certified, decided.certified
        ));
    }
    if let Ok(manifest) = json(MANIFEST) {
        for (file, field) in [(PLAN_COPY, "/plan/sha256"), (ICS_COPY, "/ics/sha256")] {
            let said = manifest.pointer(field).and_then(|v| v.as_str());
            let actual = crate::clips::file_sha256(&dir.join(file)).ok();
            if said != actual.as_deref() {
                problems.push(format!("{MANIFEST}: {field} is not the SHA-256 of {file}"));
            }
        }
    } else {
        problems.push(format!("{MANIFEST} is missing or not JSON"));
    }
    if problems.is_empty() {
        Ok(decided)
    } else {
        Err(problems)
    }
}
