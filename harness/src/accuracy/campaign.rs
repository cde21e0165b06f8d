//! One accuracy campaign: every comparison of a face set through the reference matcher,
//! once as recorded and once under each perturbation asked for (the probe side is
//! perturbed, as a camera would be; the enrolment side optionally turned greyscale, as the
//! chip photo is). Each image is acquired once per condition and role, on `threads`
//! workers with a matcher each. Raw scores, metrics and plots go to `out/<condition>/`.

use super::args::{CampaignArgs, CampaignError};
use super::face_set::{FaceImage, FaceSet, Pair};
use super::workers::{image_seed, parallel_map};
use camera_replay::matcher::{rgb_from_luma, FaceMatcher, MatcherConfig, Template};
use camera_replay::perturb::Perturbation;
use reports::accuracy::{
    AccuracyOptions, AccuracySummary, AcquisitionCounts, ComparisonKind, ScoreRecord, Scores,
};
use std::collections::HashMap;
use std::io::Write as _;
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
    pub records: Vec<ScoreRecord>,
    /// Acquisitions that failed, by reason.
    pub failures: Vec<(String, usize)>,
}

pub fn run_campaign(args: &CampaignArgs) -> Result<(), CampaignError> {
    let set = FaceSet::open(&args.set).map_err(|e| CampaignError::Input(e.to_string()))?;
    let pairs = match &args.pairs {
        Some(file) => set
            .read_pairs(file)
            .map_err(|e| CampaignError::Input(e.to_string()))?,
        None => {
            let mut pairs = set.genuine_pairs();
            pairs.extend(set.impostor_pairs(args.impostors, args.seed));
            pairs
        }
    };
    let mut conditions = vec![Condition {
        name: "baseline".into(),
        perturbation: None,
    }];
    for spec in &args.perturb {
        conditions.push(condition(spec)?);
    }
    let mut config = MatcherConfig::default();
    if let Some(t) = args.threshold {
        config.threshold = t;
    }
    let _ = writeln!(
        std::io::stderr(),
        "accuracy: {} people, {} images, {} pairs ({} genuine), {} condition(s), {} thread(s)",
        set.people.len(),
        set.image_count(),
        pairs.len(),
        pairs.iter().filter(|p| p.genuine).count(),
        conditions.len(),
        args.threads.max(1)
    );
    let matchers = load_matchers(&config, args.threads.max(1))?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| CampaignError::Output(format!("{}: {e}", args.out.display())))?;
    let mut results = Vec::new();
    let mut matchers = matchers;
    for c in &conditions {
        let started = Instant::now();
        let result = run_condition(&set, &pairs, c, args, &config, &mut matchers)?;
        write_condition(&args.out.join(&c.name), &result)?;
        let _ = writeln!(
            std::io::stderr(),
            "accuracy: {} done in {:.1} s: {}",
            c.name,
            started.elapsed().as_secs_f64(),
            one_line(&result.summary)
        );
        results.push(result);
    }
    let pad = if args.attacks.is_empty() {
        None
    } else {
        Some(super::attacks::run_attacks(
            &set,
            &pairs,
            args,
            &mut matchers,
        )?)
    };
    write_overview(&args.out, args, &results, pad.as_ref())?;
    let _ = writeln!(
        std::io::stderr(),
        "accuracy: reports in {}",
        args.out.display()
    );
    Ok(())
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Role {
    Enrolment,
    Probe,
}

type Acquired = Result<Template, String>;

fn run_condition(
    set: &FaceSet,
    pairs: &[Pair],
    condition: &Condition,
    args: &CampaignArgs,
    config: &MatcherConfig,
    matchers: &mut [FaceMatcher],
) -> Result<ConditionResult, CampaignError> {
    // Without a perturbation or greyscale, an image is the same in both roles.
    let one_role = condition.perturbation.is_none() && !args.grey_enrolment;
    let role = |r: Role| if one_role { Role::Enrolment } else { r };
    let mut work: Vec<(FaceImage, Role)> = pairs
        .iter()
        .flat_map(|p| {
            [
                (p.a.clone(), role(Role::Enrolment)),
                (p.b.clone(), role(Role::Probe)),
            ]
        })
        .collect();
    work.sort_by(|x, y| (&x.0, x.1 as u8).cmp(&(&y.0, y.1 as u8)));
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
    let mut records = Vec::new();
    for p in pairs {
        let a = lookup[&(&p.a, role(Role::Enrolment))];
        let b = lookup[&(&p.b, role(Role::Probe))];
        if let (Ok(a), Ok(b)) = (a, b) {
            records.push(ScoreRecord {
                kind: if p.genuine {
                    ComparisonKind::Genuine
                } else {
                    ComparisonKind::Impostor
                },
                subject_a: p.a.person.clone(),
                image_a: format!("{}/{}", p.a.person, p.a.file),
                subject_b: p.b.person.clone(),
                image_b: format!("{}/{}", p.b.person, p.b.file),
                score: f64::from(camera_replay::matcher::compare(a, b)),
            });
        }
    }
    let mut failures: HashMap<String, usize> = HashMap::new();
    for a in &acquired {
        if let Err(why) = a {
            *failures.entry(why.clone()).or_default() += 1;
        }
    }
    let mut scores = Scores::from_records(&records);
    scores.acquisition = Some(AcquisitionCounts {
        attempts: acquired.len() as u64,
        failures: acquired.iter().filter(|a| a.is_err()).count() as u64,
    });
    let options = AccuracyOptions {
        // Through its decimal form: 0.363, not 0.3630000054836273.
        operating_threshold: config.threshold.to_string().parse().ok(),
        ..AccuracyOptions::default()
    };
    let summary = reports::accuracy::summarise(&scores, &options)
        .map_err(|e| CampaignError::Output(format!("{}: {e}", condition.name)))?;
    let mut failures: Vec<(String, usize)> = failures.into_iter().collect();
    failures.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(ConditionResult {
        name: condition.name.clone(),
        summary,
        records,
        failures,
    })
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
    let mut pixels = camera_replay::matcher::load_image(&path).map_err(|e| e.to_string())?;
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
    // One reason per kind, so the failure table groups them.
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

fn write_condition(dir: &Path, r: &ConditionResult) -> Result<(), CampaignError> {
    let out = |e: String| CampaignError::Output(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(|e| out(e.to_string()))?;
    reports::accuracy::write_raw_scores(&dir.join("scores.csv"), &r.records)
        .map_err(|e| out(e.to_string()))?;
    let json = serde_json::json!({
        "condition": r.name,
        "summary": r.summary,
        "failures_to_acquire": r.failures.iter().map(|(k, n)| serde_json::json!({"reason": k, "count": n})).collect::<Vec<_>>(),
    });
    write_atomic(
        &dir.join("summary.json"),
        serde_json::to_string_pretty(&json)
            .unwrap_or_default()
            .as_bytes(),
    )
    .map_err(out)?;
    let mut md = format!("# Accuracy: {}\n\n{}", r.name, r.summary.to_markdown());
    if !r.failures.is_empty() {
        md.push_str("\n## Failures to acquire\n\n| reason | count |\n|---|---:|\n");
        for (k, n) in &r.failures {
            md.push_str(&format!("| {k} | {n} |\n"));
        }
    }
    write_atomic(&dir.join("summary.md"), md.as_bytes()).map_err(out)?;
    // A condition where nothing could be compared (every probe failed to acquire) has
    // its numbers but no plots.
    if !r.records.is_empty() {
        reports::plots::accuracy_plots(&Scores::from_records(&r.records), &r.summary, dir)
            .map_err(|e| out(e.to_string()))?;
    }
    Ok(())
}

fn write_overview(
    out: &Path,
    args: &CampaignArgs,
    results: &[ConditionResult],
    pad: Option<&reports::accuracy::PadSummary>,
) -> Result<(), CampaignError> {
    let mut md = String::from("# Accuracy campaign\n\n");
    md.push_str(&format!(
        "Face set `{}`{}; enrolment {}; threshold {}.\n\n",
        args.set.display(),
        args.pairs
            .as_ref()
            .map(|p| format!(", pairs `{}`", p.display()))
            .unwrap_or_else(|| format!(
                ", all genuine pairs + {} impostor pairs (seed {})",
                args.impostors, args.seed
            )),
        if args.grey_enrolment {
            "greyscale (as on the chip)"
        } else {
            "as recorded"
        },
        args.threshold
            .unwrap_or(camera_replay::matcher::DEFAULT_THRESHOLD),
    ));
    md.push_str("| condition | genuine | impostor | FTA | EER | FNMR@FMR=1e-2 | FNMR@FMR=1e-3 | FMR / FNMR at threshold |\n|---|---:|---:|---:|---:|---:|---:|---|\n");
    for r in results {
        let s = &r.summary;
        let at = |target: f64| {
            s.fnmr_at_fmr
                .iter()
                .find(|f| (f.target_fmr - target).abs() < target * 1e-9)
                .map_or("n/a".into(), |f| format!("{:.4}", f.fnmr.rate))
        };
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.name,
            s.genuine_comparisons,
            s.impostor_comparisons,
            s.fta
                .as_ref()
                .map_or("n/a".into(), |f| format!("{:.4}", f.rate)),
            s.eer
                .as_ref()
                .map_or("n/a".into(), |e| format!("{:.4}", e.eer)),
            at(1e-2),
            at(1e-3),
            s.at_threshold.as_ref().map_or("n/a".into(), |o| format!(
                "{:.4} / {:.4}",
                o.fmr.rate, o.fnmr.rate
            )),
        ));
    }
    if let Some(pad) = pad {
        md.push_str("\n## Presentation attacks\n\n");
        md.push_str(&pad.to_markdown());
    }
    let json = serde_json::json!({
        "conditions": results.iter().map(|r| serde_json::json!({"condition": r.name, "summary": r.summary})).collect::<Vec<_>>(),
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

/// [`common::fs::write_atomic`] with the path in its error.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    common::fs::write_atomic(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}
