//! Accuracy campaigns (`myna-hil accuracy`): a face set through the reference matcher,
//! genuine and impostor comparisons, optionally under perturbations and presentation
//! attacks; raw scores and metrics through `reports`.

mod attacks;
mod campaign;
pub mod face_set;

pub use campaign::{run_campaign, CampaignArgs, CampaignError};
