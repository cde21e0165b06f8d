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

#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    #[error("{0}")]
    Input(String),
    /// The matcher or the runtime cannot start.
    #[error("{0}")]
    Bench(String),
    #[error("{0}")]
    Output(String),
}

impl crate::failure::Classified for CampaignError {
    /// The runtime or a model failing is the test bench's fault; the rest is the input's.
    fn class(&self) -> crate::failure::FailureClass {
        match self {
            CampaignError::Bench(_) => crate::failure::FailureClass::Bench,
            CampaignError::Input(_) | CampaignError::Output(_) => {
                crate::failure::FailureClass::Input
            }
        }
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
