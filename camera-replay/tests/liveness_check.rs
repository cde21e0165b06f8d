//! The liveness check on one photo and seed: the live clip passes, each attack species is
//! caught by the cue meant for it. (Error rates over many seeds: tests/liveness_eval.rs.)

#[path = "source_support/mod.rs"]
mod support;

use camera_replay::attack::{AttackClip, AttackOptions, AttackSpecies};
use camera_replay::liveness::{check, AttackCue, LivenessConfig};
use camera_replay::perturb::FaceBox;
use camera_replay::source::{ClipSpec, LiveClip};

fn spec(face: FaceBox) -> ClipSpec {
    ClipSpec {
        frames: 8,
        fps: 15.0,
        seed: 42,
        face: Some(face),
        ..ClipSpec::default()
    }
}

#[test]
fn live_passes_and_each_attack_is_caught_by_its_cue() {
    let Some((photo, face)) = support::photo("similarfaces-image1.jpg") else {
        return;
    };
    let config = LivenessConfig::default();
    let live = LiveClip::new(&photo, spec(face)).unwrap();
    let frames = live.frames();
    let boxes: Vec<FaceBox> = (0..8).map(|i| live.face_box(i)).collect();
    let d = check(&frames, Some(&boxes), &config);
    assert!(d.bona_fide, "live clip rejected: {}", d.reason);
    assert_eq!(d.cue, None);
    assert_eq!(d.scores.frames, 8);

    for (species, cue) in [
        (AttackSpecies::StillPhoto, AttackCue::NoMotion),
        (AttackSpecies::GreyscalePrint, AttackCue::NoColour),
        (AttackSpecies::HalftonePrint, AttackCue::PeriodicPattern),
        (AttackSpecies::ScreenReplay, AttackCue::PeriodicPattern),
        (AttackSpecies::FlatPrint, AttackCue::FlatPrint),
    ] {
        let clip = AttackClip::new(&photo, species, spec(face), AttackOptions::default()).unwrap();
        let frames = clip.frames();
        let boxes: Vec<FaceBox> = (0..8).map(|i| clip.face_box(i)).collect();
        let d = check(&frames, Some(&boxes), &config);
        assert!(!d.bona_fide, "{species} accepted: {}", d.reason);
        assert_eq!(d.cue, Some(cue), "{species}: {}", d.reason);
        assert!(!d.reason.is_empty());
    }

    // One frame cannot show motion.
    let d = check(&frames[..1], None, &config);
    assert_eq!(d.cue, Some(AttackCue::TooFewFrames));
}

#[test]
fn no_frames_or_tiny_frames_do_not_panic() {
    let config = LivenessConfig::default();
    let d = check(&[], None, &config);
    assert!(!d.bona_fide);
    let tiny: Vec<_> = (0..3)
        .map(|i| camera_replay::frame::Frame {
            index: i,
            timestamp: std::time::Duration::ZERO,
            image: support::synthetic_image(3, 2, i),
        })
        .collect();
    let _ = check(&tiny, None, &config);
    let outside = [FaceBox {
        x: -100.0,
        y: -100.0,
        width: 10.0,
        height: 10.0,
    }];
    let _ = check(&tiny, Some(&outside), &config);
}
