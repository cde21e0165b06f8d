//! Presentation attacks in an accuracy campaign (ISO/IEC 30107-3): the reference reader's
//! attack check on clips made from the face set. For each of the first `--attack-limit`
//! genuine pairs, the probe image becomes a live clip (a bona fide presentation) and one
//! attack clip per species; the check's decisions give BPCER and APCER per species. The
//! attacks are synthesised, so this measures the check against these synthetic artefacts.

use super::args::{CampaignArgs, CampaignError};
use super::face_set::{FaceSet, Pair};
use super::workers::{image_seed, parallel_map};
use camera_replay::attack::{AttackClip, AttackOptions, AttackSpecies};
use camera_replay::frame::Frame;
use camera_replay::liveness::{self, LivenessConfig};
use camera_replay::matcher::FaceMatcher;
use camera_replay::perturb::FaceBox;
use camera_replay::source::{ClipSpec, LiveClip};
use reports::accuracy::{pad_summary, AttackCounts, PadCounts, PadSummary};
use std::io::Write as _;

/// Frames per presentation: what one try of the reference reader looks at.
const FRAMES: u32 = 8;

/// One presentation to judge.
#[derive(Clone, Copy)]
struct Job<'a> {
    pair: &'a Pair,
    /// `None`: bona fide.
    species: Option<AttackSpecies>,
}

pub fn run_attacks(
    set: &FaceSet,
    pairs: &[Pair],
    args: &CampaignArgs,
    species: &[AttackSpecies],
    matchers: &mut [FaceMatcher],
) -> Result<PadSummary, CampaignError> {
    let sources: Vec<&Pair> = pairs
        .iter()
        .filter(|p| p.genuine)
        .take(args.attack_limit)
        .collect();
    let mut jobs = Vec::new();
    for pair in &sources {
        jobs.push(Job {
            pair,
            species: None,
        });
        for s in species {
            jobs.push(Job {
                pair,
                species: Some(*s),
            });
        }
    }
    let _ = writeln!(
        std::io::stderr(),
        "accuracy: presentation attacks: {} bona fide and {} attack presentations ({} species)",
        sources.len(),
        sources.len() * species.len(),
        species.len()
    );
    let decisions = parallel_map(
        &jobs,
        matchers,
        |m, job| judged_bona_fide(m, set, *job, args.seed),
        || Err("worker failed".into()),
    );
    let mut counts = PadCounts::default();
    let mut unusable = 0;
    for (job, decision) in jobs.iter().zip(decisions) {
        let Ok(bona_fide) = decision else {
            unusable += 1;
            continue;
        };
        match job.species {
            None => {
                counts.bona_fide_presentations += 1;
                counts.bona_fide_rejected += u64::from(!bona_fide);
            }
            Some(s) => {
                let c: &mut AttackCounts = counts.attacks.entry(s.name().to_owned()).or_default();
                c.presentations += 1;
                c.accepted += u64::from(bona_fide);
            }
        }
    }
    if unusable > 0 {
        let _ = writeln!(
            std::io::stderr(),
            "accuracy: {unusable} presentation(s) could not be made (no usable image)"
        );
    }
    pad_summary(&counts, 0.95).map_err(|e| CampaignError::Output(e.to_string()))
}

/// The species `--attack` names (`all` for every one), checked before anything runs.
pub(super) fn chosen_species(names: &[String]) -> Result<Vec<AttackSpecies>, CampaignError> {
    let mut out = Vec::new();
    for name in names {
        if name == "all" {
            out.extend(AttackSpecies::ALL);
            continue;
        }
        let s = AttackSpecies::from_name(&name.replace('_', "-"))
            .map_err(|e| CampaignError::Input(format!("--attack {name}: {e}")))?;
        out.push(s);
    }
    out.sort_by_key(|s| s.name());
    out.dedup();
    Ok(out)
}

/// Whether the reader's check takes the presentation for a live person; `Err`: the clip
/// could not be made (the image has no usable face region).
fn judged_bona_fide(
    matcher: &mut FaceMatcher,
    set: &FaceSet,
    job: Job<'_>,
    seed: u64,
) -> Result<bool, String> {
    let photo =
        camera_replay::matcher::load_image(&set.path_of(&job.pair.b)).map_err(|e| e.to_string())?;
    let face = crate::face::framing(matcher, &photo);
    let spec = ClipSpec {
        frames: FRAMES,
        seed: image_seed(seed, &job.pair.b),
        face,
        ..ClipSpec::default()
    };
    let (frames, boxes): (Vec<Frame>, Vec<FaceBox>) = match job.species {
        None => {
            let clip = LiveClip::new(&photo, spec).map_err(|e| e.to_string())?;
            let boxes = (0..FRAMES).map(|i| clip.face_box(i)).collect();
            (clip.frames(), boxes)
        }
        Some(species) => {
            let clip = AttackClip::new(&photo, species, spec, AttackOptions::default())
                .map_err(|e| e.to_string())?;
            let boxes = (0..FRAMES).map(|i| clip.face_box(i)).collect();
            (clip.frames(), boxes)
        }
    };
    Ok(liveness::check(&frames, Some(&boxes), &LivenessConfig::default()).bona_fide)
}
