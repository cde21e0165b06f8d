//! The synthetic live clip: deterministic from its seed, the asked size, rate and count, the
//! face where the spec puts it, and motion that moves the head.

#[path = "source_support/mod.rs"]
mod support;

use std::time::Duration;

use camera_replay::perturb::FaceBox;
use camera_replay::source::{ClipError, ClipSpec, FrameSource, LiveClip};
use support::{mean_abs_diff, synthetic_image};

fn small_spec(seed: u64) -> ClipSpec {
    ClipSpec {
        frames: 6,
        fps: 10.0,
        width: 160,
        height: 120,
        seed,
        ..ClipSpec::default()
    }
}

#[test]
fn deterministic_from_the_seed() {
    let photo = synthetic_image(90, 110, 3);
    let a = LiveClip::new(&photo, small_spec(7)).unwrap().frames();
    let b = LiveClip::new(&photo, small_spec(7)).unwrap().frames();
    let c = LiveClip::new(&photo, small_spec(8)).unwrap().frames();
    assert_eq!(a.len(), 6);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.image, y.image);
        assert_eq!(x.timestamp, y.timestamp);
    }
    assert!(a.iter().zip(&c).any(|(x, y)| x.image != y.image));
}

#[test]
fn size_rate_count_and_timestamps() {
    let photo = synthetic_image(50, 50, 1);
    let mut clip = LiveClip::new(&photo, small_spec(1)).unwrap();
    assert_eq!(clip.frame_size(), (160, 120));
    assert_eq!(clip.frame_rate(), 10.0);
    assert_eq!(clip.frame_count(), Some(6));
    assert!(clip.describe().contains("seed 1"));
    let mut n = 0;
    while let Some(f) = clip.next_frame() {
        let f = f.unwrap();
        assert_eq!(f.index, n);
        assert_eq!(f.timestamp, Duration::from_millis(100 * n));
        assert_eq!(f.image.dimensions(), (160, 120));
        n += 1;
    }
    assert_eq!(n, 6);
}

#[test]
fn the_head_moves_and_the_background_stays() {
    let photo = synthetic_image(120, 120, 4);
    let spec = ClipSpec {
        noise_sigma: 0.0,
        frames: 10,
        motion: 3.0, // well above the light drift at this small size
        ..small_spec(11)
    };
    let clip = LiveClip::new(&photo, spec).unwrap();
    let f0 = clip.frame(0).image;
    let f9 = clip.frame(9).image;
    // The head region changes a lot more than the corners (light drifts everywhere).
    let b0 = clip.face_box(0);
    let (cx, cy) = b0.centre();
    let patch = |img: &image::RgbImage, x0: u32, y0: u32| {
        image::imageops::crop_imm(img, x0, y0, 16, 16).to_image()
    };
    let head = mean_abs_diff(
        &patch(&f0, cx as u32 - 8, cy as u32 - 8),
        &patch(&f9, cx as u32 - 8, cy as u32 - 8),
    );
    let corner = mean_abs_diff(&patch(&f0, 0, 0), &patch(&f9, 0, 0));
    assert!(head > 2.0 * corner + 1.0, "head {head}, corner {corner}");
    assert_ne!(clip.face_box(0), clip.face_box(9));
}

#[test]
fn a_given_face_box_is_placed_and_sized() {
    let photo = synthetic_image(300, 400, 2);
    let face = FaceBox {
        x: 100.0,
        y: 60.0,
        width: 90.0,
        height: 110.0,
    };
    let spec = ClipSpec {
        face: Some(face),
        motion: 0.0,
        width: 640,
        height: 480,
        frames: 1,
        ..ClipSpec::default()
    };
    let clip = LiveClip::new(&photo, spec).unwrap();
    assert!(clip.face_box_known());
    let b = clip.face_box(0);
    assert!((b.height - 0.42 * 480.0).abs() < 0.5, "{b:?}");
    let (cx, cy) = b.centre();
    assert!(
        (cx - 320.0).abs() < 0.5 && (cy - 0.47 * 480.0).abs() < 0.5,
        "{b:?}"
    );
    let no_box = LiveClip::new(&photo, ClipSpec::default()).unwrap();
    assert!(!no_box.face_box_known());
}

#[test]
fn bad_specs_are_errors() {
    let photo = synthetic_image(20, 20, 0);
    let empty = image::RgbImage::new(0, 0);
    assert_eq!(
        LiveClip::new(&empty, ClipSpec::default()).err(),
        Some(ClipError::EmptyPhoto)
    );
    for spec in [
        ClipSpec {
            fps: 0.0,
            ..ClipSpec::default()
        },
        ClipSpec {
            width: 0,
            ..ClipSpec::default()
        },
        ClipSpec {
            noise_sigma: -1.0,
            ..ClipSpec::default()
        },
        ClipSpec {
            face_height: f64::NAN,
            ..ClipSpec::default()
        },
        ClipSpec {
            face: Some(FaceBox {
                x: 0.0,
                y: 0.0,
                width: 0.0,
                height: 5.0,
            }),
            ..ClipSpec::default()
        },
    ] {
        assert!(matches!(
            LiveClip::new(&photo, spec),
            Err(ClipError::BadSpec(_))
        ));
    }
}
