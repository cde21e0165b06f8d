//! One accuracy campaign: every comparison of a face set through the reference matcher,
//! once as recorded and once under each perturbation asked for (the probe side is
//! perturbed, as a camera would be; the enrolment side optionally turned greyscale, as the
//! chip photo is). Each image is acquired once per condition and role, on `threads`
//! workers with a matcher each. Raw scores, metrics and plots go to `out/<condition>/`.

use super::args::{failing_codes, parse_folds, CampaignArgs, CampaignError, Outcome};
use super::face_set::{FaceImage, FaceSet, Pair};
use super::workers::{image_seed, parallel_map};
use crate::scenario::{DETECTOR_THRESHOLDS, ENROL_FALLBACK_THRESHOLDS, ENROL_MARGINS};
use camera_replay::matcher::{rgb_from_luma, FaceMatcher, MatcherConfig, Template};
use camera_replay::perturb::Perturbation;
use reports::accuracy::{
    AccuracyOptions, AccuracySummary, AcquisitionCounts, BootstrapOptions, ComparisonKind,
    LostRecord, Proportion, RawRow, ScoreRecord, Scores,
};
use reports::plots::PlotContext;
use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::ops::RangeInclusive;
use std::path::Path;
use std::time::Instant;

/// Under which conditions the probes are taken.
#[derive(Clone, Debug)]
struct Condition {
    /// Folder name and report label: `baseline`, `blur=2`, …
    name: String,
    perturbation: Option<Perturbation>,
}

/// What one condition measured.
pub struct ConditionResult {
    pub name: String,
    pub summary: AccuracySummary,
    /// Every comparison attempted: scored, or lost with why.
    pub rows: Vec<RawRow>,
    /// Failed acquisitions by side and kind, most frequent first.
    pub failures: Vec<FailureRow>,
}

/// One row of the failure table: the images of one side that failed in one way.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FailureRow {
    /// `enrolment` or `probe`.
    pub side: &'static str,
    /// The kind of failure, e.g. `NoFace` (camera_replay's `FailureKind`).
    pub kind: String,
    pub images: usize,
    /// One image it happened to, for a reader who wants to look.
    pub example: String,
}

pub fn run_campaign(args: &CampaignArgs) -> Result<Outcome, CampaignError> {
    // Every option is checked before anything runs.
    failing_codes(args)?;
    if super::device::wanted(args) {
        return super::device::run_device_campaign(args);
    }
    let config = matcher_config(args)?;
    let options = accuracy_options(args, &config)?;
    let species = super::attacks::chosen_species(&args.attacks)?;
    let set = FaceSet::open(&args.set).map_err(|e| CampaignError::Input(e.to_string()))?;
    let pairs = campaign_pairs(&set, args)?;
    let mut conditions = vec![Condition {
        name: "baseline".into(),
        perturbation: None,
    }];
    for spec in &args.perturb {
        conditions.push(condition(spec)?);
    }
    let _ = writeln!(
        std::io::stderr(),
        "accuracy: {} people, {} images, {} pairs ({} genuine){}, {} condition(s), {} thread(s)",
        set.people.len(),
        set.image_count(),
        pairs.len(),
        pairs.iter().filter(|p| p.genuine).count(),
        args.folds
            .as_ref()
            .map(|f| format!(" of folds {f}"))
            .unwrap_or_default(),
        conditions.len(),
        args.threads.max(1)
    );
    let mut matchers = load_matchers(&config, args.threads.max(1))?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| CampaignError::Output(format!("{}: {e}", args.out.display())))?;
    let mut results = Vec::new();
    for c in &conditions {
        let started = Instant::now();
        let result = run_condition(&pairs, c, args, &options, &set, &mut matchers)?;
        write_condition(&args.out.join(&c.name), &result, args, &config)?;
        let _ = writeln!(
            std::io::stderr(),
            "accuracy: {} done in {:.1} s: {}",
            c.name,
            started.elapsed().as_secs_f64(),
            one_line(&result.summary)
        );
        results.push(result);
    }
    let pad = if species.is_empty() {
        None
    } else {
        Some(super::attacks::run_attacks(
            &set,
            &pairs,
            args,
            &species,
            &mut matchers,
        )?)
    };
    write_overview(&args.out, args, &config, &results, pad.as_ref())?;
    let mut outcome = Outcome::default();
    outcome.warnings.extend(
        results
            .iter()
            .flat_map(|r| r.summary.warnings.iter())
            .chain(pad.iter().flat_map(|p| p.warnings.iter()))
            .cloned(),
    );
    if !outcome.warnings.is_empty() {
        let _ = writeln!(
            std::io::stderr(),
            "accuracy: warnings (listed in accuracy.md): {}",
            warning_counts(&outcome.warnings)
        );
    }
    let _ = writeln!(
        std::io::stderr(),
        "accuracy: reports in {}",
        args.out.display()
    );
    Ok(outcome)
}

/// The matcher as the options say: operating threshold, detector score threshold,
/// enrolment margin and second-try threshold, each checked against the ranges a scenario's
/// `matcher:` has.
pub(super) fn matcher_config(args: &CampaignArgs) -> Result<MatcherConfig, CampaignError> {
    let mut config = MatcherConfig::default();
    if let Some(t) = args.threshold {
        if !(-1.0..=1.0).contains(&t) {
            return Err(CampaignError::Input(format!(
                "--threshold {t}: a cosine similarity is in [-1, 1]"
            )));
        }
        config.threshold = t;
    }
    let within = |option: &str, v: f32, range: &RangeInclusive<f64>, what: &str| {
        if range.contains(&f64::from(v)) {
            Ok(v)
        } else {
            Err(CampaignError::Input(format!(
                "--{option} {v}: in [{}, {}] ({what})",
                range.start(),
                range.end()
            )))
        }
    };
    if let Some(t) = args.detector_threshold {
        config.detector.score_threshold = within(
            "detector-threshold",
            t,
            &DETECTOR_THRESHOLDS,
            "a detector score",
        )?;
    }
    if let Some(m) = args.enrol_margin {
        config.enrolment.margin = within(
            "enrol-margin",
            m,
            &ENROL_MARGINS,
            "a fraction of the image's side",
        )?;
    }
    if let Some(t) = args.enrol_fallback_threshold {
        let t = within(
            "enrol-fallback-threshold",
            t,
            &ENROL_FALLBACK_THRESHOLDS,
            "a detector score; 0: no second try",
        )?;
        config.enrolment.fallback_score_threshold = (t > 0.0).then_some(t);
    }
    Ok(config)
}

fn accuracy_options(
    args: &CampaignArgs,
    config: &MatcherConfig,
) -> Result<AccuracyOptions, CampaignError> {
    let options = AccuracyOptions {
        // Through its decimal form: 0.363, not 0.3630000054836273.
        operating_threshold: config.threshold.to_string().parse().ok(),
        bootstrap: (args.bootstrap > 0).then_some(BootstrapOptions {
            replicates: args.bootstrap,
            seed: args.seed,
        }),
        fta_limit: args.fta_limit,
        ..AccuracyOptions::default()
    };
    if !(options.fta_limit >= 0.0 && options.fta_limit < 1.0) {
        return Err(CampaignError::Input(format!(
            "--fta-limit {}: a rate in [0, 1)",
            options.fta_limit
        )));
    }
    Ok(options)
}

/// The pairs of the pairs file (only the folds asked for), or all genuine pairs and the
/// seeded impostor draw.
fn campaign_pairs(set: &FaceSet, args: &CampaignArgs) -> Result<Vec<Pair>, CampaignError> {
    let Some(file) = &args.pairs else {
        let mut pairs = set.genuine_pairs();
        pairs.extend(set.impostor_pairs(args.impostors, args.seed));
        return Ok(pairs);
    };
    let mut pairs = set
        .read_pairs(file)
        .map_err(|e| CampaignError::Input(e.to_string()))?;
    if let Some(spec) = &args.folds {
        let folds = parse_folds(spec)?;
        let present = pairs.iter().filter_map(|p| p.fold).max().unwrap_or(0);
        if let Some(f) = folds.iter().find(|f| **f > present) {
            return Err(CampaignError::Input(format!(
                "--folds {spec}: {} has {present} folds, no fold {f}",
                file.display()
            )));
        }
        pairs.retain(|p| p.fold.is_some_and(|f| folds.contains(&f)));
    }
    Ok(pairs)
}

fn condition(spec: &str) -> Result<Condition, CampaignError> {
    let bad = |why: String| CampaignError::Input(format!("--perturb {spec}: {why}"));
    let (name, value) = spec
        .split_once('=')
        .ok_or_else(|| bad("expected NAME=VALUE, e.g. blur=2".into()))?;
    let value: f64 = value
        .trim()
        .parse()
        .map_err(|_| bad(format!("`{value}` is not a number")))?;
    let p = Perturbation::from_name_value(name.trim(), value).map_err(|e| bad(e.to_string()))?;
    Ok(Condition {
        name: format!("{}={value}", name.trim()),
        perturbation: Some(p),
    })
}

pub(super) fn load_matchers(
    config: &MatcherConfig,
    threads: usize,
) -> Result<Vec<FaceMatcher>, CampaignError> {
    (0..threads)
        .map(|_| FaceMatcher::load(config).map_err(|e| CampaignError::Bench(e.to_string())))
        .collect()
}

/// Which side of a comparison an image is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Role {
    Enrolment,
    Probe,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Enrolment => "enrolment",
            Role::Probe => "probe",
        }
    }
}

/// A template, or the kind of failure (`NoFace`, …).
type Acquired = Result<Template, String>;

fn run_condition(
    pairs: &[Pair],
    condition: &Condition,
    args: &CampaignArgs,
    options: &AccuracyOptions,
    set: &FaceSet,
    matchers: &mut [FaceMatcher],
) -> Result<ConditionResult, CampaignError> {
    // Each image is acquired once per role it plays: enrolment pads and may turn grey, the
    // probe may be perturbed.
    let mut work: Vec<(FaceImage, Role)> = pairs
        .iter()
        .flat_map(|p| [(p.a.clone(), Role::Enrolment), (p.b.clone(), Role::Probe)])
        .collect();
    work.sort();
    work.dedup();
    let acquired = parallel_map(
        &work,
        matchers,
        |m, (img, r)| acquire(m, set, img, *r, condition, args),
        || Err("worker failed".into()),
    );
    let lookup: HashMap<(&FaceImage, Role), &Acquired> = work
        .iter()
        .zip(&acquired)
        .map(|((img, r), a)| ((img, *r), a))
        .collect();
    let mut rows = Vec::with_capacity(pairs.len());
    for p in pairs {
        let kind = if p.genuine {
            ComparisonKind::Genuine
        } else {
            ComparisonKind::Impostor
        };
        let (subject_a, image_a) = (p.a.person.clone(), format!("{}/{}", p.a.person, p.a.file));
        let (subject_b, image_b) = (p.b.person.clone(), format!("{}/{}", p.b.person, p.b.file));
        rows.push(
            match (
                lookup[&(&p.a, Role::Enrolment)],
                lookup[&(&p.b, Role::Probe)],
            ) {
                (Ok(a), Ok(b)) => RawRow::Scored(ScoreRecord {
                    kind,
                    subject_a,
                    image_a,
                    subject_b,
                    image_b,
                    score: f64::from(camera_replay::matcher::compare(a, b)),
                }),
                (a, b) => {
                    // The enrolment side's failure first: without a reference there is no
                    // comparison to make.
                    let failure = match (a, b) {
                        (Err(why), _) => format!("enrolment: {why}"),
                        (_, Err(why)) => format!("probe: {why}"),
                        _ => unreachable!("one side failed"),
                    };
                    RawRow::Lost(LostRecord {
                        kind,
                        subject_a,
                        image_a,
                        subject_b,
                        image_b,
                        failure,
                    })
                }
            },
        );
    }
    let counts = |role: Role| {
        let of_role = work.iter().zip(&acquired).filter(|((_, r), _)| *r == role);
        AcquisitionCounts {
            attempts: of_role.clone().count() as u64,
            failures: of_role.filter(|(_, a)| a.is_err()).count() as u64,
        }
    };
    let mut scores = Scores::from_rows(&rows);
    scores.enrolment = Some(counts(Role::Enrolment));
    scores.acquisition = Some(counts(Role::Probe));
    let summary = reports::accuracy::summarise(&scores, options)
        .map_err(|e| CampaignError::Output(format!("{}: {e}", condition.name)))?;
    Ok(ConditionResult {
        name: condition.name.clone(),
        summary,
        rows,
        failures: failure_table(&work, &acquired),
    })
}

/// The failed acquisitions grouped by side and kind, most frequent first.
fn failure_table(work: &[(FaceImage, Role)], acquired: &[Acquired]) -> Vec<FailureRow> {
    let mut groups: BTreeMap<(Role, &str), (usize, &FaceImage)> = BTreeMap::new();
    for ((img, role), a) in work.iter().zip(acquired) {
        if let Err(kind) = a {
            groups.entry((*role, kind.as_str())).or_insert((0, img)).0 += 1;
        }
    }
    let mut rows: Vec<FailureRow> = groups
        .into_iter()
        .map(|((role, kind), (images, example))| FailureRow {
            side: role.name(),
            kind: kind.to_owned(),
            images,
            example: format!("{}/{}", example.person, example.file),
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.images));
    rows
}

fn acquire(
    matcher: &mut FaceMatcher,
    set: &FaceSet,
    img: &FaceImage,
    role: Role,
    condition: &Condition,
    args: &CampaignArgs,
) -> Acquired {
    let path = set.path_of(img);
    // An image that cannot be read is a failure of its kind too, never a lost row.
    let mut pixels =
        camera_replay::matcher::load_image(&path).map_err(|e| format!("{:?}", e.kind()))?;
    match role {
        Role::Enrolment if args.grey_enrolment => {
            pixels = rgb_from_luma(&image::DynamicImage::ImageRgb8(pixels).to_luma8());
        }
        Role::Probe => {
            if let Some(p) = &condition.perturbation {
                pixels = p.apply(&pixels, image_seed(args.seed, img));
            }
        }
        Role::Enrolment => {}
    }
    let acquired = match role {
        Role::Enrolment => matcher.enrol(&pixels),
        Role::Probe => matcher.probe(&pixels),
    };
    // The kind only, so the failure table groups them (never a file name or a number).
    acquired.map_err(|e| format!("{:?}", e.kind()))
}

fn one_line(s: &AccuracySummary) -> String {
    let eer = s
        .eer
        .as_ref()
        .map_or("EER n/a".into(), |e| format!("EER {:.4}", e.eer));
    format!(
        "{} genuine, {} impostor, {eer}",
        s.genuine_comparisons, s.impostor_comparisons
    )
}

/// How the enrolment samples were taken, for titles and the overview.
fn enrolment_words(args: &CampaignArgs, config: &MatcherConfig) -> String {
    let tone = if args.grey_enrolment {
        "greyscale (as on the chip)"
    } else {
        "as recorded"
    };
    let margin = config.enrolment.margin;
    let padding = if margin > 0.0 {
        format!("padded {margin}")
    } else {
        "unpadded".to_string()
    };
    match config
        .enrolment
        .fallback_below(config.detector.score_threshold)
    {
        Some(t) => format!(
            "{tone}, {padding}, a second detection at score ≥ {t} where none reached {}",
            config.detector.score_threshold
        ),
        None => format!("{tone}, {padding}"),
    }
}

fn write_condition(
    dir: &Path,
    r: &ConditionResult,
    args: &CampaignArgs,
    config: &MatcherConfig,
) -> Result<(), CampaignError> {
    let out = |e: String| CampaignError::Output(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(|e| out(e.to_string()))?;
    reports::accuracy::write_raw_rows(&dir.join("scores.csv"), &r.rows)
        .map_err(|e| out(e.to_string()))?;
    let json = serde_json::json!({
        "condition": r.name,
        "summary": r.summary,
        "failures": r.failures,
    });
    write_atomic(
        &dir.join("summary.json"),
        serde_json::to_string_pretty(&json)
            .unwrap_or_default()
            .as_bytes(),
    )
    .map_err(out)?;
    let mut md = format!("# Accuracy: {}\n\n{}", r.name, r.summary.to_markdown());
    md.push_str(&failure_markdown(&r.failures));
    write_atomic(&dir.join("summary.md"), md.as_bytes()).map_err(out)?;
    let context = PlotContext {
        condition: r.name.clone(),
        enrolment: enrolment_words(args, config),
    };
    // A condition where nothing could be compared (every probe failed to acquire) has its
    // numbers but no plots.
    let scores = Scores::from_rows(&r.rows);
    if !scores.genuine.is_empty() || !scores.impostor.is_empty() {
        reports::plots::accuracy_plots_in(&scores, &r.summary, &context, dir)
            .map_err(|e| out(e.to_string()))?;
    }
    Ok(())
}

/// The failure table: one row per side and kind (never per file).
fn failure_markdown(failures: &[FailureRow]) -> String {
    if failures.is_empty() {
        return String::new();
    }
    let mut md = String::from(
        "\n## Failures to enrol and to acquire\n\n| side | kind | images | for example |\n|---|---|---:|---|\n",
    );
    for f in failures {
        md.push_str(&format!(
            "| {} | {} | {} | `{}` |\n",
            f.side,
            f.kind,
            f.images,
            common::text::markdown_cell(&f.example)
        ));
    }
    md
}

fn write_overview(
    out: &Path,
    args: &CampaignArgs,
    config: &MatcherConfig,
    results: &[ConditionResult],
    pad: Option<&reports::accuracy::PadSummary>,
) -> Result<(), CampaignError> {
    let mut md = String::from("# Accuracy campaign\n\n");
    md.push_str(&format!(
        "Face set `{}`{}; enrolment {}; detector score ≥ {}; threshold {}.\n\n",
        args.set.display(),
        args.pairs
            .as_ref()
            .map(|p| format!(
                ", pairs `{}`{}",
                p.display(),
                args.folds
                    .as_ref()
                    .map(|f| format!(" (folds {f} only)"))
                    .unwrap_or_default()
            ))
            .unwrap_or_else(|| format!(
                ", all genuine pairs + {} impostor pairs (seed {})",
                args.impostors, args.seed
            )),
        enrolment_words(args, config),
        config.detector.score_threshold,
        config.threshold,
    ));
    if args
        .folds
        .as_deref()
        .is_some_and(|f| parse_folds(f).is_ok_and(|f| f.contains(&TUNING_FOLD)))
        || (args.pairs.is_some() && args.folds.is_none())
    {
        md.push_str(&format!(
            "**Fold {TUNING_FOLD} is the tuning split** of the matcher's tuned constants \
             (enrolment margin, quality gate): a report on it is not an independent \
             evaluation; use `--folds 2-5`.\n\n"
        ));
    }
    md.push_str("Per comparison (FMR, FNMR: lost comparisons left out) and generalised (FAR, FRR: every lost comparison counted as a rejection, ISO/IEC 19795-1).\n\n");
    md.push_str("| condition | genuine | impostor | FTE | FTA | lost genuine / impostor | EER | generalised EER | FNMR@FMR=1e-3 | FMR / FNMR at threshold | FAR / FRR at threshold |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n");
    let pct = |p: Option<&Proportion>| p.map_or("n/a".into(), |p| format!("{:.4}", p.rate));
    for r in results {
        let s = &r.summary;
        let at = |target: f64| {
            s.fnmr_at_fmr
                .iter()
                .find(|f| (f.target_fmr - target).abs() < target * 1e-9)
                .map_or("n/a".into(), |f| format!("{:.4}", f.fnmr.rate))
        };
        let lost = s.lost.as_ref().map_or("n/a".into(), |l| {
            let n = |p: &Option<Proportion>| p.as_ref().map_or(0, |p| p.count);
            format!("{} / {}", n(&l.genuine), n(&l.impostor))
        });
        let generalised = s.generalised.as_ref();
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.name,
            s.genuine_comparisons,
            s.impostor_comparisons,
            pct(s.fte.as_ref()),
            pct(s.fta.as_ref()),
            lost,
            s.eer
                .as_ref()
                .map_or("n/a".into(), |e| format!("{:.4}", e.eer)),
            generalised.map_or("n/a".into(), |g| format!("{:.4}", g.eer.eer)),
            at(1e-3),
            s.at_threshold.as_ref().map_or("n/a".into(), |o| format!(
                "{:.4} / {:.4}",
                o.fmr.rate, o.fnmr.rate
            )),
            generalised
                .and_then(|g| g.at_threshold.as_ref())
                .map_or("n/a".into(), |o| format!(
                    "{:.4} / {:.4}",
                    o.far.rate, o.frr.rate
                )),
        ));
    }
    let warnings: Vec<String> = results
        .iter()
        .flat_map(|r| {
            r.summary
                .warnings
                .iter()
                .map(move |w| format!("- {}: {w}", r.name))
        })
        .chain(
            pad.iter()
                .flat_map(|p| p.warnings.iter().map(|w| format!("- attacks: {w}"))),
        )
        .collect();
    if !warnings.is_empty() {
        md.push_str(&format!("\n## Warnings\n\n{}\n", warnings.join("\n")));
    }
    if let Some(pad) = pad {
        md.push_str("\n## Presentation attacks\n\n");
        md.push_str(&pad.to_markdown());
    }
    let json = serde_json::json!({
        "matcher": {
            "threshold": config.threshold,
            "detector_score_threshold": config.detector.score_threshold,
            "enrolment_margin": config.enrolment.margin,
            "enrolment_fallback_score_threshold": config.enrolment.fallback_below(config.detector.score_threshold),
            "grey_enrolment": args.grey_enrolment,
        },
        "folds": args.folds.as_deref().map(parse_folds).transpose()?,
        "conditions": results.iter().map(|r| serde_json::json!({"condition": r.name, "summary": r.summary, "failures": r.failures})).collect::<Vec<_>>(),
        "presentation_attacks": pad,
    });
    let err = |e: String| CampaignError::Output(format!("{}: {e}", out.display()));
    write_atomic(&out.join("accuracy.md"), md.as_bytes()).map_err(err)?;
    write_atomic(
        &out.join("accuracy.json"),
        serde_json::to_string_pretty(&json)
            .unwrap_or_default()
            .as_bytes(),
    )
    .map_err(err)
}

/// `zero-rate ×14, too-few-impostors ×2`: how many warnings of each code.
pub(super) fn warning_counts(warnings: &[reports::accuracy::Warning]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for w in warnings {
        *counts.entry(w.code.name()).or_default() += 1;
    }
    counts
        .iter()
        .map(|(code, n)| format!("{code} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The LFW View 2 fold every tuned constant was chosen on (docs/enrolment.md).
pub const TUNING_FOLD: u32 = 1;

/// [`common::fs::write_atomic`] with the path in its error.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    common::fs::write_atomic(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}
