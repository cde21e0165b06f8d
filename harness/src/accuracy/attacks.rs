//! Presentation attacks in an accuracy campaign (ISO/IEC 30107-3): APCER per species and
//! BPCER of the reference reader's attack check.

use super::campaign::{CampaignArgs, CampaignError};
use super::face_set::{FaceSet, Pair};
use camera_replay::matcher::{FaceMatcher, MatcherConfig};
use reports::accuracy::PadSummary;

pub fn run_attacks(
    _set: &FaceSet,
    _pairs: &[Pair],
    _args: &CampaignArgs,
    _config: &MatcherConfig,
    _matchers: &mut [FaceMatcher],
) -> Result<PadSummary, CampaignError> {
    Err(CampaignError::Input("attacks: not yet".into()))
}
