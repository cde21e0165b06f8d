//! Accuracy campaigns (`myna-hil accuracy`): a face set through the reference matcher,
//! genuine and impostor comparisons, optionally under perturbations and presentation
//! attacks; raw scores and metrics through `reports`.

mod args;
mod attacks;
mod campaign;
pub mod device;
mod device_args;
pub mod face_set;
mod workers;

pub use args::{CampaignArgs, CampaignError, Outcome};
pub use campaign::run_campaign;
