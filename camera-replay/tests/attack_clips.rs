//! Presentation attacks: the names table, determinism, and the artefact each species is meant
//! to carry.

#[path = "source_support/mod.rs"]
mod support;

use camera_replay::attack::{AttackClip, AttackOptions, AttackSpecies};
use camera_replay::source::{ClipError, ClipSpec, FrameSource};
use support::synthetic_image;

fn spec(seed: u64) -> ClipSpec {
    ClipSpec {
        frames: 4,
        fps: 15.0,
        width: 160,
        height: 120,
        seed,
        ..ClipSpec::default()
    }
}

#[test]
fn names_round_trip() {
    assert_eq!(AttackSpecies::KINDS.len(), AttackSpecies::ALL.len());
    for s in AttackSpecies::ALL {
        assert_eq!(AttackSpecies::from_name(s.name()).unwrap(), s);
        assert!(!s.description().is_empty());
        assert_eq!(s.to_string(), s.name());
    }
    let err = AttackSpecies::from_name("mask-3d").unwrap_err().to_string();
    assert!(
        err.contains("mask-3d") && err.contains("print-halftone"),
        "{err}"
    );
    assert!(AttackSpecies::FlatPrint.is_print() && !AttackSpecies::StillPhoto.is_print());
}

#[test]
fn every_species_is_deterministic_and_sized() {
    let photo = synthetic_image(80, 100, 5);
    for s in AttackSpecies::ALL {
        let a = AttackClip::new(&photo, s, spec(3), AttackOptions::default()).unwrap();
        let b = AttackClip::new(&photo, s, spec(3), AttackOptions::default()).unwrap();
        let fa = a.frames();
        assert_eq!(fa.len(), 4);
        for (i, (x, y)) in fa.iter().zip(b.frames()).enumerate() {
            assert_eq!(x.image.dimensions(), (160, 120), "{s}");
            assert_eq!(x.image, y.image, "{s} frame {i}");
            assert_eq!(x.index, i as u64);
        }
        let c = AttackClip::new(&photo, s, spec(4), AttackOptions::default()).unwrap();
        assert_ne!(
            fa[1].image,
            c.frame(1).image,
            "{s}: the seed changes nothing"
        );
        let mut src = AttackClip::new(&photo, s, spec(3), AttackOptions::default()).unwrap();
        assert_eq!(support::drain(&mut src, 10).len(), 4);
        assert!(src.describe().contains(s.name()));
    }
}

#[test]
fn each_species_carries_its_artefact() {
    let photo = synthetic_image(80, 100, 6);
    let quiet = ClipSpec {
        noise_sigma: 0.0,
        ..spec(9)
    };
    let make = |s| AttackClip::new(&photo, s, quiet.clone(), AttackOptions::default()).unwrap();
    // Still photo: identical frames.
    let still = make(AttackSpecies::StillPhoto).frames();
    assert!(still.windows(2).all(|w| w[0].image == w[1].image));
    // Greyscale print: colour only from the paper tint (channels nearly equal).
    let grey = make(AttackSpecies::GreyscalePrint).frame(2).image;
    let spread = grey
        .pixels()
        .map(|p| p.0.iter().max().unwrap() - p.0.iter().min().unwrap())
        .max()
        .unwrap();
    assert!(spread <= 25, "greyscale print has colour spread {spread}");
    // Flat print: nothing is dark.
    let flat = make(AttackSpecies::FlatPrint).frame(2).image;
    let darkest = flat
        .pixels()
        .map(|p| 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64)
        .fold(f64::MAX, f64::min);
    assert!(darkest > 40.0, "flat print darkest luma {darkest}");
    // Prints and screens move (hand-held), unlike the still photo.
    for s in [AttackSpecies::HalftonePrint, AttackSpecies::ScreenReplay] {
        let c = make(s);
        assert_ne!(c.frame(0).image, c.frame(3).image, "{s}");
    }
}

#[test]
fn bad_options_are_errors() {
    let photo = synthetic_image(20, 20, 0);
    let bad_screen = AttackOptions {
        screen_fps: 0.0,
        ..AttackOptions::default()
    };
    assert!(matches!(
        AttackClip::new(&photo, AttackSpecies::ScreenReplay, spec(0), bad_screen),
        Err(ClipError::BadSpec(_))
    ));
    let bad_pitch = AttackOptions {
        halftone_pitch: 1.0,
        ..AttackOptions::default()
    };
    assert!(AttackClip::new(&photo, AttackSpecies::HalftonePrint, spec(0), bad_pitch).is_err());
}
