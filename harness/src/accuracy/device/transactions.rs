//! The transactions of a device campaign and what became of each. A transaction is one face
//! case of the engine: the `--card` profile with the chip photo of person A (an image of the
//! face set made into the chip's JPEG 2000), and before the camera a live clip (or an attack
//! clip) synthesised from an image of person B. The harness made both, so it knows the
//! ground truth; the device's decision is the face decision the engine saw it report, typed
//! ([`FaceClaim`]). Every decision must rest on the card's journal (照合番号B verified, the
//! chip photo read), and a match counts only if the engine's verdict on the case is `pass`:
//! every claim the device made is backed by the card's journal and the service's log.

use super::super::face_set::{FaceImage, FaceSet, Pair};
use super::super::workers::image_seed;
use crate::engine::FaceClaim;
use crate::reader::FaceResult;
use camera_replay::attack::{AttackClip, AttackOptions, AttackSpecies};
use camera_replay::frame::Frame;
use camera_replay::matcher::FaceMatcher;
use camera_replay::source::{ClipSpec, LiveClip};
use reports::{CaseResult, Verdict};
use std::path::{Path, PathBuf};

/// What the harness put before the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Truth {
    /// The camera shows the chip's person, live.
    Genuine,
    /// The camera shows someone else, live (a zero-effort impostor).
    Impostor,
    /// The camera shows the chip's person as a presentation attack of this species.
    Attack(AttackSpecies),
}

impl Truth {
    pub fn name(self) -> &'static str {
        match self {
            Truth::Genuine => "genuine",
            Truth::Impostor => "impostor",
            Truth::Attack(_) => "attack",
        }
    }

    pub fn species(self) -> Option<&'static str> {
        match self {
            Truth::Attack(s) => Some(s.name()),
            _ => None,
        }
    }

    pub fn bona_fide(self) -> bool {
        !matches!(self, Truth::Attack(_))
    }
}

/// One transaction to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    pub truth: Truth,
    /// On the chip (the claimed identity).
    pub chip: FaceImage,
    /// Before the camera.
    pub camera: FaceImage,
}

/// The device's decision, as the bench saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Face match accepted, and every claim of the device backed by the card and the service.
    Accepted,
    /// No match.
    Rejected,
    /// Rejected as a presentation attack.
    AttackRejected,
    /// No decision, or one the bench contradicts (a match without the chip photo read).
    Error,
}

impl Decision {
    pub const ALL: [Decision; 4] = [
        Decision::Accepted,
        Decision::Rejected,
        Decision::AttackRejected,
        Decision::Error,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Decision::Accepted => "accepted",
            Decision::Rejected => "rejected",
            Decision::AttackRejected => "attack_rejected",
            Decision::Error => "error",
        }
    }
}

/// The transactions of the campaign: genuine pairs (at most `genuine`, a seeded sample
/// spread over the people),
/// impostor pairs, then for the first `attack_limit` genuine pairs one attack per species
/// (the chip's person's own image as the attack instrument: the strongest an attacker has).
pub fn plan(
    genuine_pairs: Vec<Pair>,
    impostor_pairs: Vec<Pair>,
    genuine: Option<usize>,
    species: &[AttackSpecies],
    attack_limit: usize,
    seed: u64,
) -> Vec<Planned> {
    let mut genuine_pairs = genuine_pairs;
    if let Some(n) = genuine.filter(|n| *n < genuine_pairs.len()) {
        // A seeded shuffle, then each person's first pair before anyone's second: a sample
        // spread over as many subjects as it can be (what the bootstrap resamples).
        let mut rng = common::rng::Rng::new(seed ^ 0x6765_6e75);
        for i in (1..genuine_pairs.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            genuine_pairs.swap(i, j);
        }
        let mut seen: std::collections::HashMap<String, usize> = Default::default();
        let mut ranked: Vec<(usize, Pair)> = genuine_pairs
            .into_iter()
            .map(|p| {
                let k = seen.entry(p.a.person.clone()).or_default();
                *k += 1;
                (*k, p)
            })
            .collect();
        ranked.sort_by_key(|(k, _)| *k);
        genuine_pairs = ranked.into_iter().take(n).map(|(_, p)| p).collect();
    }
    let pair = |p: &Pair, truth| Planned {
        truth,
        chip: p.a.clone(),
        camera: p.b.clone(),
    };
    let mut out: Vec<Planned> = genuine_pairs
        .iter()
        .map(|p| pair(p, Truth::Genuine))
        .collect();
    out.extend(impostor_pairs.iter().map(|p| pair(p, Truth::Impostor)));
    for p in genuine_pairs.iter().take(attack_limit) {
        out.extend(species.iter().map(|s| pair(p, Truth::Attack(*s))));
    }
    out
}

/// Genuine and impostor pairs of `set`: from a pairs file (only `folds`), or every genuine
/// pair and `impostors` seeded impostor pairs.
pub fn pairs(
    set: &FaceSet,
    file: Option<&Path>,
    folds: Option<&[u32]>,
    impostors: usize,
    seed: u64,
) -> Result<(Vec<Pair>, Vec<Pair>), String> {
    let Some(file) = file else {
        return Ok((set.genuine_pairs(), set.impostor_pairs(impostors, seed)));
    };
    let mut all = set.read_pairs(file).map_err(|e| e.to_string())?;
    if let Some(folds) = folds {
        all.retain(|p| p.fold.is_some_and(|f| folds.contains(&f)));
    }
    let (genuine, mut impostor): (Vec<Pair>, Vec<Pair>) = all.into_iter().partition(|p| p.genuine);
    impostor.truncate(impostors);
    Ok((genuine, impostor))
}

/// The clip of `camera` (live, or an attack of `species`) as the device's camera sees it:
/// `frames` frames at 15 fps, the face framed where the detector finds it, written as
/// Motion-JPEG AVI (what a USB camera sends) under `dir`; the same image and species give
/// the same file. `Err` says why the clip cannot be made.
pub fn write_clip(
    matcher: &mut FaceMatcher,
    set: &FaceSet,
    camera: &FaceImage,
    species: Option<AttackSpecies>,
    frames: u32,
    seed: u64,
    dir: &Path,
) -> Result<PathBuf, String> {
    let clip_seed = image_seed(seed, camera);
    let kind = species.map_or("live", |s| s.name());
    let path = dir.join(format!("{clip_seed:016x}-{kind}.avi"));
    if path.is_file() {
        return Ok(path);
    }
    let image = set.path_of(camera);
    let photo = camera_replay::matcher::load_image(&image)
        .map_err(|e| format!("{}: {e}", image.display()))?;
    let face = crate::face::framing(matcher, &photo);
    let spec = ClipSpec {
        frames,
        fps: CLIP_FPS,
        seed: clip_seed,
        face,
        ..ClipSpec::default()
    };
    let made: Vec<Frame> = match species {
        None => LiveClip::new(&photo, spec).map(|c| c.frames()),
        Some(s) => AttackClip::new(&photo, s, spec, AttackOptions::default()).map(|c| c.frames()),
    }
    .map_err(|e| format!("{}: {e}", image.display()))?;
    camera_replay::source::write_mjpeg_avi(
        &path,
        CLIP_FPS,
        crate::clips::MJPEG_QUALITY,
        made.iter().map(|f| &f.image),
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// The camera's frame rate (the face cases' default).
pub const CLIP_FPS: f64 = 15.0;

/// The device's decision in one finished case (`face`: the face decision it reported, held
/// to the card's journal by the engine), and why when it is an error. A match is an accept
/// only if the case passed (a genuine face case that must end on the face route: nothing the
/// device claimed is contradicted by the card's journal, the service's log or the protocol);
/// a rejection is one whatever the later steps came to, but only if the card backs it
/// (照合番号B verified and the chip photo read: a device that rejects without looking at
/// the photo has decided nothing).
pub fn decision(result: &CaseResult, face: Option<&FaceClaim>) -> (Decision, Option<String>) {
    let reason = || result.reason.clone().unwrap_or_default();
    let Some(face) = face else {
        return (
            Decision::Error,
            Some(format!(
                "no face decision ({}): {}",
                result.verdict.as_str(),
                reason()
            )),
        );
    };
    if !face.unbacked.is_empty() {
        return (
            Decision::Error,
            Some(format!(
                "the device reported {} the bench does not back: {}",
                face.result,
                face.unbacked.join("; ")
            )),
        );
    }
    match face.result {
        FaceResult::Matched if result.verdict == Verdict::Pass => (Decision::Accepted, None),
        FaceResult::Matched => (
            Decision::Error,
            Some(format!(
                "the device reported a match the bench does not back ({}): {}",
                result.verdict.as_str(),
                reason()
            )),
        ),
        FaceResult::NoMatch => (Decision::Rejected, None),
        FaceResult::AttackRejected => (Decision::AttackRejected, None),
        other => (
            Decision::Error,
            Some(format!("the face path ended `{other}`: {}", reason())),
        ),
    }
}

/// From the card on the reader to the face decision: the `place_card` and `choose` steps.
pub fn transaction_millis(result: &CaseResult) -> Option<f64> {
    use crate::scenario::{Method, StepKind};
    let step = |kind: StepKind| {
        let name = format!("step.{}", kind.name());
        result
            .measurements
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.value)
    };
    Some(step(StepKind::PlaceCard)? + step(StepKind::Choose(Method::Face))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reports::Measurement;
    use std::time::Duration;

    fn result(verdict: Verdict) -> CaseResult {
        CaseResult {
            id: "accuracy.transaction-00001".into(),
            group: "accuracy".into(),
            name: "t".into(),
            verdict,
            reason: Some("why".into()),
            duration: Duration::ZERO,
            measurements: vec![
                Measurement::millis("step.place_card", Duration::from_millis(200)),
                Measurement::millis("step.choose", Duration::from_millis(900)),
            ],
            evidence: String::new(),
            operator: Vec::new(),
        }
    }

    fn claim(result: FaceResult) -> Option<FaceClaim> {
        Some(FaceClaim {
            result,
            unbacked: Vec::new(),
        })
    }

    #[test]
    fn decisions_rest_on_the_verdict_for_a_match_only() {
        let matched = claim(FaceResult::Matched);
        assert_eq!(
            decision(&result(Verdict::Pass), matched.as_ref()),
            (Decision::Accepted, None)
        );
        let (d, why) = decision(&result(Verdict::Fail), matched.as_ref());
        assert_eq!(d, Decision::Error);
        assert!(why.unwrap().contains("does not back (fail): why"));
        let rejected = claim(FaceResult::NoMatch);
        assert_eq!(
            decision(&result(Verdict::Error), rejected.as_ref()).0,
            Decision::Rejected
        );
        let attack = claim(FaceResult::AttackRejected);
        assert_eq!(
            decision(&result(Verdict::Fail), attack.as_ref()).0,
            Decision::AttackRejected
        );
        let locked = claim(FaceResult::Locked);
        assert_eq!(
            decision(&result(Verdict::Fail), locked.as_ref()).0,
            Decision::Error
        );
        assert_eq!(decision(&result(Verdict::Error), None).0, Decision::Error);
        assert_eq!(transaction_millis(&result(Verdict::Pass)), Some(1100.0));
    }

    #[test]
    fn a_rejection_without_the_photo_read_is_no_decision() {
        for result_kind in [FaceResult::NoMatch, FaceResult::AttackRejected] {
            let unbacked = FaceClaim {
                result: result_kind,
                unbacked: vec!["the chip's face photo was never read".into()],
            };
            let (d, why) = decision(&result(Verdict::Fail), Some(&unbacked));
            assert_eq!(d, Decision::Error);
            assert!(why
                .unwrap()
                .contains("does not back: the chip's face photo"));
        }
    }

    fn pair(a: (&str, &str), b: (&str, &str)) -> Pair {
        let img = |(p, f): (&str, &str)| FaceImage {
            person: p.into(),
            file: f.into(),
        };
        Pair {
            genuine: a.0 == b.0,
            a: img(a),
            b: img(b),
            fold: None,
        }
    }

    #[test]
    fn the_plan_samples_genuine_pairs_and_attacks_the_first_ones() {
        let genuine: Vec<Pair> = (0..10)
            .map(|i| pair(("P", &format!("{i}a")), ("P", &format!("{i}b"))))
            .collect();
        let impostor = vec![pair(("P", "1a"), ("Q", "1"))];
        let species = [AttackSpecies::ALL[0], AttackSpecies::ALL[1]];
        let p = plan(genuine.clone(), impostor, Some(3), &species, 2, 5);
        let count = |t: fn(&Truth) -> bool| p.iter().filter(|x| t(&x.truth)).count();
        assert_eq!(count(|t| *t == Truth::Genuine), 3);
        assert_eq!(count(|t| *t == Truth::Impostor), 1);
        assert_eq!(count(|t| matches!(t, Truth::Attack(_))), 4);
        assert_eq!(
            p,
            plan(
                genuine.clone(),
                vec![pair(("P", "1a"), ("Q", "1"))],
                Some(3),
                &species,
                2,
                5
            )
        );
        // An attack shows the chip's own person.
        assert!(p
            .iter()
            .all(|x| x.truth == Truth::Impostor || x.chip.person == x.camera.person));
        // A sample takes each person's first pair before anyone's second.
        let mut two = genuine.clone();
        two.push(pair(("R", "1"), ("R", "2")));
        let p = plan(two, Vec::new(), Some(2), &[], 0, 9);
        assert!(p.iter().any(|x| x.chip.person == "R"), "{p:?}");
        // Without a limit, every genuine pair.
        assert_eq!(plan(genuine, Vec::new(), None, &[], 0, 5).len(), 10);
    }
}
