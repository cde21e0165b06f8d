//! The accuracy of a device under test (`myna-hil accuracy SET --reader dut:… --card
//! PROFILE`): a campaign of face transactions through the device, its own decisions
//! recorded (never a score), judged against a policy (docs/device-accuracy.md).
//!
//! Each transaction is a face case of the engine, so the device is driven and judged as in
//! `myna-hil run`: the `--card` profile with the chip photo of one face-set image, in a
//! vpcd reader the device reads through pcscd; a clip of another image (live, or an
//! attack) sent over the link; the qualification service on loopback. `transactions` plans
//! them and reads the decisions back, `evidence` is the arithmetic, `policy` the policy
//! file and its judgement, `report` the summary and its files.

mod evidence;
pub mod policy;
mod report;
mod transactions;

use super::args::{parse_folds, CampaignArgs, CampaignError, Outcome};
use super::face_set::{FaceImage, FaceSet};
use crate::cards::LoadedCard;
use crate::failure::{Classified, FailureClass};
use crate::scenario::{Camera, CameraSource, Case, StepKind};
use report::{Header, Record, Resampling};
use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use transactions::{Decision, Planned, Truth};

pub use super::device_args::DeviceArgs;

/// The most frames a clip may have (a minute at 15 fps).
const MOST_FRAMES: u32 = 900;

/// Whether `args` ask for a device campaign (rather than the reference matcher's).
pub fn wanted(args: &CampaignArgs) -> bool {
    args.device.reader.is_some()
}

fn input(why: impl Into<String>) -> CampaignError {
    CampaignError::Input(why.into())
}

/// A typed error of the library as a campaign error of its class (a rendered diagnostic
/// stays rendered).
fn classified(e: impl Classified) -> CampaignError {
    let text = e.to_string();
    match (e.class(), e.rendered()) {
        (FailureClass::Bench, _) => CampaignError::Bench(text),
        (FailureClass::Input, true) => CampaignError::Diagnostics(text),
        (FailureClass::Input, false) => CampaignError::Input(text),
    }
}

/// The matcher's options measure the reference matcher; a device decides at its own
/// operating point.
fn refuse_matcher_options(args: &CampaignArgs) -> Result<(), CampaignError> {
    let given = [
        (!args.perturb.is_empty(), "--perturb"),
        (args.threshold.is_some(), "--threshold"),
        (args.detector_threshold.is_some(), "--detector-threshold"),
        (args.enrol_margin.is_some(), "--enrol-margin"),
        (
            args.enrol_fallback_threshold.is_some(),
            "--enrol-fallback-threshold",
        ),
        (args.grey_enrolment, "--grey-enrolment"),
    ];
    match given.iter().find(|(g, _)| *g) {
        Some((_, option)) => Err(input(format!(
            "{option} tunes the reference matcher; a device under test (--reader) decides at \
             its own operating point"
        ))),
        None if args.device.frames == 0 || args.device.frames > MOST_FRAMES => Err(input(format!(
            "--frames {}: from 1 to {MOST_FRAMES}",
            args.device.frames
        ))),
        None => Ok(()),
    }
}

/// Runs the device campaign `args` ask for.
pub fn run_device_campaign(args: &CampaignArgs) -> Result<Outcome, CampaignError> {
    let dev = &args.device;
    let address = dev
        .reader
        .clone()
        .ok_or_else(|| input("--reader dut:… is needed"))?;
    let card_path = dev
        .card
        .clone()
        .ok_or_else(|| input("--reader needs --card PROFILE.yaml"))?;
    refuse_matcher_options(args)?;
    // Every input is read and checked before the device is touched.
    let policy = match &dev.policy {
        Some(path) => Some((path.clone(), policy::load_policy(path).map_err(classified)?)),
        None => None,
    };
    let profile = crate::cards::load_profile_file(&card_path, &crate::cards::named_photos)
        .map_err(classified)?;
    let Some(chip_name) = profile.faces.chip_photo.clone() else {
        return Err(input(format!(
            "{}: the card profile names no `photo`; a campaign puts each enrolment image \
             where it is",
            card_path.display()
        )));
    };
    let species = super::attacks::chosen_species(&args.attacks)?;
    let set = FaceSet::open(&args.set).map_err(|e| input(e.to_string()))?;
    let folds = args.folds.as_deref().map(parse_folds).transpose()?;
    let (genuine, impostor) = transactions::pairs(
        &set,
        args.pairs.as_deref(),
        folds.as_deref(),
        args.impostors,
        args.seed,
    )
    .map_err(input)?;
    let planned = transactions::plan(
        genuine,
        impostor,
        dev.genuine,
        &species,
        args.attack_limit,
        args.seed,
    );
    if planned.is_empty() {
        return Err(input(format!(
            "{}: no transaction to run (no genuine or impostor pair)",
            args.set.display()
        )));
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| CampaignError::Output(format!("{}: {e}", args.out.display())))?;

    // The rules must see a face transaction on this card end on the face route; otherwise
    // an accept could never be told from a refusal the device was right to make.
    let checked =
        crate::cards::load_cards([(card_path.clone(), None)], &crate::cards::named_photos)
            .map_err(classified)?;
    let check_card = checked.values().next().ok_or_else(|| input("no card"))?;
    prototype_case(&card_path, false, dev.step_deadline, check_card)?;

    let device = crate::dut::driver::Device::connect(address).map_err(classified)?;
    let hello = device.hello().clone();
    // After a rejection the patient types the PIN, so every transaction ends with an
    // outcome and its step times (a device without a PIN pad goes straight to consent).
    let with_pin = hello.has(&crate::dut::protocol::Capability::Pin);
    let prototype = prototype_case(&card_path, with_pin, dev.step_deadline, check_card)?;
    let steps: Vec<StepKind> = prototype.steps.iter().map(|s| s.kind.clone()).collect();
    if let Some(why) = crate::dut::driver::missing_capability(&hello, &steps) {
        return Err(CampaignError::Bench(format!(
            "the device cannot take part in a face campaign: {why}"
        )));
    }
    say(format!(
        "accuracy: device {} {} firmware {}; {} transactions ({} genuine, {} impostor, {} attack)",
        hello.vendor,
        hello.model,
        hello.firmware,
        planned.len(),
        planned.iter().filter(|p| p.truth == Truth::Genuine).count(),
        planned
            .iter()
            .filter(|p| p.truth == Truth::Impostor)
            .count(),
        planned.iter().filter(|p| !p.truth.bona_fide()).count(),
    ));

    let work = args.out.join(".device-clips");
    let result = prepare_and_run(
        args, &card_path, &chip_name, &set, &planned, &prototype, device, &work,
    );
    // The clips are made again from the seed; they are bench material, not results.
    let _ = std::fs::remove_dir_all(&work);
    let records = result?;

    let resampling = Resampling {
        replicates: args.bootstrap,
        seed: args.seed,
        one_sided: policy.as_ref().map_or(0.8, |(_, p)| p.confidence),
    };
    let summary = report::summarise(&records, policy.as_ref().map(|(_, p)| p), &resampling)
        .map_err(CampaignError::Output)?;
    let header = Header {
        device: &hello,
        card: &profile.profile.name,
        set: &args.set,
        policy: policy.as_ref().map(|(path, p)| (path.as_path(), p)),
        frames: dev.frames,
        seed: args.seed,
        replicates: args.bootstrap,
    };
    report::write(&args.out, &header, &summary, &records).map_err(CampaignError::Output)?;
    for line in one_lines(&summary) {
        say(line);
    }
    for w in &summary.warnings {
        say(format!("accuracy: warning: {w}"));
    }
    let unbacked = records.iter().filter(|r| r.unbacked).count();
    if unbacked > 0 {
        say(format!(
            "accuracy: {unbacked} transaction(s): the device reported a face decision the bench \
             does not back (no 照合番号B verified, or the chip's photo never read)"
        ));
    }
    say(format!("accuracy: reports in {}", args.out.display()));
    Ok(Outcome {
        unbacked,
        warnings: summary.warnings.clone(),
        policy_failed: summary
            .claims
            .iter()
            .any(|c| c.verdict != policy::ClaimVerdict::Met),
    })
}

/// A line on stderr (progress and the summary; the reports are the results).
fn say(text: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

fn one_lines(s: &report::Summary) -> Vec<String> {
    let rate = |name: &str, r: Option<&report::Rate>| match r {
        Some(r) => format!(
            "accuracy: {name} {:.4} ({} of {})",
            r.proportion.rate, r.proportion.count, r.proportion.trials
        ),
        None => format!("accuracy: {name} n/a"),
    };
    let mut out = vec![rate("FRR", s.frr.as_ref()), rate("FAR", s.far.as_ref())];
    out.extend(s.claims.iter().map(|c| {
        format!(
            "accuracy: policy: {} ≤ {}: {} ({})",
            c.claim,
            c.max,
            c.verdict.words(),
            c.why
        )
    }));
    out
}

/// Makes the cards and the clips, runs every transaction through the engine, and reads
/// each decision back.
#[allow(clippy::too_many_arguments)]
fn prepare_and_run(
    args: &CampaignArgs,
    card_path: &Path,
    chip_name: &str,
    set: &FaceSet,
    planned: &[Planned],
    prototype: &Case,
    device: Arc<crate::dut::driver::Device>,
    work: &Path,
) -> Result<Vec<Record>, CampaignError> {
    let dev = &args.device;
    // The chip of every enrolment image: the profile with that image as its photo.
    let mut cards: crate::cards::LoadedCards = BTreeMap::new();
    let mut card_of: HashMap<&FaceImage, PathBuf> = HashMap::new();
    for p in planned {
        if card_of.contains_key(&p.chip) {
            continue;
        }
        let image = set.path_of(&p.chip);
        let bytes =
            std::fs::read(&image).map_err(|e| input(format!("{}: {e}", image.display())))?;
        let jp2 = crate::photos::encode_chip_photo(&bytes)
            .map_err(|e| input(format!("{}: {e}", image.display())))?;
        let resolver = move |_: &str, _: Option<crate::photos::PhotoCrop>| Ok(jp2.clone());
        let loaded = crate::cards::load_cards([(card_path.to_path_buf(), None)], &resolver)
            .map_err(classified)?;
        let card = loaded
            .into_values()
            .next()
            .ok_or_else(|| input("no card"))?;
        // The engine finds a case's card by path: one key per chip.
        let key = PathBuf::from(format!(
            "{}#chip={}/{}",
            card_path.display(),
            p.chip.person,
            p.chip.file
        ));
        cards.insert((key.clone(), None), card);
        card_of.insert(&p.chip, key);
    }
    std::fs::create_dir_all(work)
        .map_err(|e| CampaignError::Output(format!("{}: {e}", work.display())))?;
    let config = camera_replay::matcher::MatcherConfig::default();
    let mut matcher = camera_replay::matcher::FaceMatcher::load(&config)
        .map_err(|e| CampaignError::Bench(e.to_string()))?;
    // The oracle knows whose face it is from the profile's photo label: every camera is
    // labelled with it, so the engine judges each transaction as a genuine face case (its
    // verdict then checks an accept against the card and the service); the campaign's own
    // ground truth is `Planned::truth`.
    let person = crate::photos::person_of(chip_name)
        .unwrap_or_default()
        .to_owned();
    let mut cases = Vec::with_capacity(planned.len());
    for (i, p) in planned.iter().enumerate() {
        let species = match p.truth {
            Truth::Attack(s) => Some(s),
            _ => None,
        };
        let clip = transactions::write_clip(
            &mut matcher,
            set,
            &p.camera,
            species,
            dev.frames,
            args.seed,
            work,
        )
        .map_err(input)?;
        let mut case = prototype.clone();
        // Opaque: the device sees this id, which must not give the ground truth away.
        case.id = format!("accuracy.transaction-{:05}", i + 1);
        case.card = Some(card_of[&p.chip].clone());
        case.camera = Some(Camera {
            source: CameraSource::Clip {
                path: clip,
                person: person.clone(),
            },
            attack: None,
            perturb: Vec::new(),
            seed: args.seed,
            fps: transactions::CLIP_FPS,
            frames: dev.frames,
            earlier_failures: 0,
            origin: origin(&case.file),
        });
        cases.push(case);
    }
    drop(matcher);

    let total = cases.len();
    type Done = Option<(reports::CaseResult, Option<crate::engine::FaceClaim>)>;
    let done: Arc<Mutex<Vec<Done>>> = Arc::new(Mutex::new(vec![None; total]));
    let sink = done.clone();
    let options = crate::engine::RunOptions {
        jobs: 1,
        cards: crate::engine::CardSite::default_vpcd(),
        stop: Default::default(),
        devices: vec![device],
        desk: None,
        events: None,
    };
    crate::engine::run(cases, cards, &options, move |f| {
        let (decision, _) = transactions::decision(&f.result, f.face.as_ref());
        if f.done % 25 == 0 || f.done == f.total {
            say(format!(
                "accuracy: {}/{} ({})",
                f.done,
                f.total,
                decision.name()
            ));
        }
        if let Ok(mut d) = sink.lock() {
            // Only what the report needs: the evidence may be long.
            let mut r = f.result;
            if let Some(slot) = d.get_mut(f.seq) {
                r.evidence.clear();
                *slot = Some((r, f.face));
            }
        }
    })
    .map_err(classified)?;
    let results = std::mem::take(
        &mut *done
            .lock()
            .map_err(|_| CampaignError::Bench("results lock".into()))?,
    );
    let mut records = Vec::with_capacity(total);
    for (i, (p, r)) in planned.iter().zip(results).enumerate() {
        let (decision, why, millis, unbacked) = match &r {
            Some((r, face)) => {
                let (d, why) = transactions::decision(r, face.as_ref());
                let unbacked = face.as_ref().is_some_and(|f| !f.unbacked.is_empty());
                (d, why, transactions::transaction_millis(r), unbacked)
            }
            None => (Decision::Error, Some("not run".to_owned()), None, false),
        };
        records.push(Record {
            id: format!("accuracy.transaction-{:05}", i + 1),
            truth: p.truth.name(),
            species: p.truth.species(),
            chip: format!("{}/{}", p.chip.person, p.chip.file),
            camera: format!("{}/{}", p.camera.person, p.camera.file),
            decision,
            why,
            unbacked,
            millis,
            kind: p.truth,
            subject: p.chip.person.clone(),
        });
    }
    Ok(records)
}

/// Where a transaction's camera says it was written (for messages at run time).
fn origin(file: &Path) -> crate::scenario::Origin {
    crate::scenario::Origin {
        file: file.to_path_buf(),
        line: 1,
        column: 1,
    }
}

/// The scenario every transaction is a copy of: a first visit at a clinic whose service
/// knows the patient, the card placed, face chosen, (the PIN after a rejection,) consent
/// to all. The date is the first day of the card's authentication certificate.
fn prototype_case(
    card_path: &Path,
    with_pin: bool,
    deadline: Duration,
    card: &LoadedCard,
) -> Result<Case, CampaignError> {
    let date = card.profile.auth_certificate.not_before;
    let pin = if with_pin {
        "{enter_pin: correct}, "
    } else {
        ""
    };
    let text = format!(
        "title: one transaction of a device accuracy campaign\ndate: {date}\n\
         facility: accuracy-bench\nvisit: first\nstep_deadline: {}ms\n\
         insurance: {{insurer_number: \"06139999\", number: \"1234\", branch: \"01\"}}\n\
         steps: [place_card, {{choose: face}}, {pin}{{consent: all}}]\n",
        deadline.as_millis(),
    );
    let file = card_path.with_extension("accuracy-transaction.yaml");
    let mut case = crate::scenario::parse_cases(&file, &text, &[])
        .map_err(|d| CampaignError::Bench(format!("the transaction's scenario: {d}")))?
        .into_iter()
        .next()
        .ok_or_else(|| CampaignError::Bench("the transaction's scenario has no case".into()))?;
    case.card = Some(card_path.to_path_buf());
    case.camera = Some(Camera {
        source: CameraSource::Clip {
            path: PathBuf::new(),
            person: card
                .faces
                .chip_photo
                .as_deref()
                .and_then(crate::photos::person_of)
                .unwrap_or_default()
                .to_owned(),
        },
        attack: None,
        perturb: Vec::new(),
        seed: 1,
        fps: transactions::CLIP_FPS,
        frames: 1,
        earlier_failures: 0,
        origin: origin(&file),
    });
    let (situation, _) = crate::engine::oracle::situation(&case, Some(card))
        .map_err(|e| input(format!("{}: {e}", card_path.display())))?;
    let rules = crate::rules::judge(&situation);
    if rules.route != crate::rules::Route::CardFace {
        return Err(input(format!(
            "{}: a face match with this card ends on route {}, not card_face (rule `{}`): use a \
             valid card registered for insurance, e.g. scenarios/cards/valid.yaml",
            card_path.display(),
            rules.route,
            rules.rule
        )));
    }
    Ok(case)
}
