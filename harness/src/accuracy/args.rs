//! What an accuracy campaign is asked to do (`myna-hil accuracy`'s arguments) and how it
//! can fail.

use std::path::PathBuf;

/// The command line of `myna-hil accuracy`.
#[derive(clap::Args, Debug, Clone)]
pub struct CampaignArgs {
    /// The face set: a folder per person with JPEG, PNG or PNM images.
    pub set: PathBuf,
    /// An LFW View 2 pairs file; without it every genuine pair runs, with `--impostors`
    /// impostor pairs drawn at random (seeded).
    #[arg(long)]
    pub pairs: Option<PathBuf>,
    /// Impostor pairs to draw when there is no pairs file.
    #[arg(long, default_value_t = 30_000)]
    pub impostors: usize,
    /// Seed of the impostor draw and of the perturbations.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also run with this perturbation on the probe images (repeatable).
    #[arg(long = "perturb", value_name = "NAME=VALUE", help = perturb_help())]
    pub perturb: Vec<String>,
    /// Presentation attacks to run (repeatable).
    #[arg(long = "attack", value_name = "SPECIES", help = attack_help())]
    pub attacks: Vec<String>,
    /// Attack (and bona fide) presentations per species, from the genuine pairs.
    #[arg(long, default_value_t = 100)]
    pub attack_limit: usize,
    /// Turn enrolment images greyscale, as the chip photo is.
    #[arg(long)]
    pub grey_enrolment: bool,
    /// Operating threshold (cosine) [default: SFace's 0.363].
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Face detector score threshold (YuNet), in (0, 1) [default: OpenCV's 0.9].
    #[arg(long, value_name = "SCORE")]
    pub detector_threshold: Option<f32>,
    /// Border added around each enrolment image before detection, as a fraction of its
    /// width and height (0 turns padding off) [default: 0.5, tuned on LFW fold 1].
    #[arg(long, value_name = "FRACTION")]
    pub enrol_margin: Option<f32>,
    /// Detector score threshold of a second try on an enrolment image where the first found
    /// no face (0 turns the second try off) [default: 0.6, tuned on LFW fold 1].
    #[arg(long, value_name = "SCORE")]
    pub enrol_fallback_threshold: Option<f32>,
    /// Only the pairs of these folds of the pairs file, e.g. `2-5` or `1,3`: LFW fold 1 is
    /// the tuning split of every tuned constant, so an honest report uses `2-5`.
    #[arg(long, value_name = "FOLDS", requires = "pairs")]
    pub folds: Option<String>,
    /// A failure-to-acquire (or -enrol) rate above this gets a warning.
    #[arg(long, default_value_t = 0.02, value_name = "RATE")]
    pub fta_limit: f64,
    /// Subject-level bootstrap replicates for the intervals (0 turns the bootstrap off and
    /// leaves only comparison-level Clopper-Pearson intervals).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub bootstrap: u32,
    /// Exit 1 when the report has a warning (any, or only the codes listed, comma
    /// separated, e.g. `fta-above-limit,too-few-impostors`).
    #[arg(long, value_name = "CODES", num_args = 0..=1, default_missing_value = "all")]
    pub fail_on_warning: Option<String>,
    #[command(flatten)]
    pub device: super::device_args::DeviceArgs,
    /// Worker threads, each with its own matcher.
    #[arg(long, default_value_t = default_threads())]
    pub threads: usize,
    /// Where the scores, metrics and plots go.
    #[arg(long, default_value = "target/myna-hil/accuracy")]
    pub out: PathBuf,
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// How a campaign that ran ended: the warnings of its reports, and whether a policy's claim
/// failed.
#[derive(Debug, Default)]
pub struct Outcome {
    pub warnings: Vec<reports::accuracy::Warning>,
    /// A device campaign's policy was not met (or the evidence cannot support its claim).
    pub policy_failed: bool,
    /// Transactions of a device campaign whose face decision the card's journal does not
    /// back (no 照合番号B verified, no chip photo read): the device's fail, as in a run.
    pub unbacked: usize,
}

impl Outcome {
    /// Whether `--fail-on-warning` (as given in `args`) turns this outcome into a failure.
    pub fn fails(&self, args: &CampaignArgs) -> Result<bool, CampaignError> {
        if self.policy_failed || self.unbacked > 0 {
            return Ok(true);
        }
        Ok(failing_codes(args)?
            .is_some_and(|codes| self.warnings.iter().any(|w| codes.contains(&w.code))))
    }
}

/// The warning codes `--fail-on-warning` names (every code for `all`, or with no list), or
/// `None` without the option; an unknown code is an input error, found before anything runs.
pub fn failing_codes(
    args: &CampaignArgs,
) -> Result<Option<Vec<reports::accuracy::WarningCode>>, CampaignError> {
    use reports::accuracy::WarningCode;
    let Some(codes) = &args.fail_on_warning else {
        return Ok(None);
    };
    if codes == "all" {
        return Ok(Some(WarningCode::ALL.to_vec()));
    }
    codes
        .split(',')
        .map(str::trim)
        .map(|name| {
            WarningCode::from_name(name).ok_or_else(|| {
                let known: Vec<&str> = WarningCode::ALL.iter().map(|c| c.name()).collect();
                CampaignError::Input(format!(
                    "--fail-on-warning: `{name}` is not a warning code; known: all, {}",
                    known.join(", ")
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `--folds`: `2-5`, `1,3`, `2-3,5` → the fold numbers, each ≥ 1.
pub fn parse_folds(spec: &str) -> Result<Vec<u32>, CampaignError> {
    let bad = || {
        CampaignError::Input(format!(
            "--folds {spec}: expected fold numbers from 1, e.g. 2-5 or 1,3"
        ))
    };
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let (lo, hi): (u32, u32) = (
            lo.parse().map_err(|_| bad())?,
            hi.parse().map_err(|_| bad())?,
        );
        if lo == 0 || hi < lo || hi - lo > 1000 {
            return Err(bad());
        }
        out.extend(lo..=hi);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    #[error("{0}")]
    Input(String),
    /// The matcher or the runtime cannot start.
    #[error("{0}")]
    Bench(String),
    #[error("{0}")]
    Output(String),
    /// Diagnostics already rendered (file:line:column, caret, hint) of an input file.
    #[error("{0}")]
    Diagnostics(String),
}

impl crate::failure::Classified for CampaignError {
    /// The runtime or a model failing is the test bench's fault; the rest is the input's.
    fn class(&self) -> crate::failure::FailureClass {
        match self {
            CampaignError::Bench(_) => crate::failure::FailureClass::Bench,
            CampaignError::Input(_) | CampaignError::Output(_) | CampaignError::Diagnostics(_) => {
                crate::failure::FailureClass::Input
            }
        }
    }

    fn rendered(&self) -> bool {
        matches!(self, CampaignError::Diagnostics(_))
    }
}

/// `--perturb`'s help, listing every perturbation camera-replay knows with its range.
fn perturb_help() -> String {
    let kinds: Vec<String> = camera_replay::perturb::Perturbation::KINDS
        .iter()
        .map(|k| format!("{} ({}..{})", k.name, k.min, k.max))
        .collect();
    format!(
        "Also run with this perturbation on the probe images (repeatable), e.g. blur=2; \
         NAME is one of: {}",
        kinds.join(", ")
    )
}

/// `--attack`'s help, listing every species.
fn attack_help() -> String {
    let species: Vec<&str> = camera_replay::attack::AttackSpecies::KINDS
        .iter()
        .map(|(name, _)| *name)
        .collect();
    format!(
        "Presentation attacks to run (repeatable): all, or one of {}",
        species.join(", ")
    )
}
