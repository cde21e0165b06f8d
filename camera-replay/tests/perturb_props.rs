//! Perturbations: deterministic for a seed, size-preserving, parsed from the kinds table, and
//! each does what its name says.

#[path = "source_support/mod.rs"]
mod support;

use camera_replay::frame::RgbImage;
use camera_replay::perturb::{apply_all, FaceBox, PerturbError, Perturbation};
use proptest::prelude::*;
use support::synthetic_image;

fn mean(img: &RgbImage) -> f64 {
    img.as_raw().iter().map(|&v| v as f64).sum::<f64>() / img.as_raw().len() as f64
}

/// Sum of squared horizontal neighbour differences (high-frequency energy).
fn roughness(img: &RgbImage) -> f64 {
    let mut s = 0.0;
    for y in 0..img.height() {
        for x in 1..img.width() {
            for c in 0..3 {
                s += (img.get_pixel(x, y)[c] as f64 - img.get_pixel(x - 1, y)[c] as f64).powi(2);
            }
        }
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn deterministic_and_size_preserving(
        kind in 0usize..Perturbation::KINDS.len(),
        t in 0.0f64..=1.0,
        seed in any::<u64>(),
        w in 1u32..48,
        h in 1u32..48,
        img_seed in any::<u64>(),
    ) {
        let k = &Perturbation::KINDS[kind];
        // Keep the expensive ends (huge blur) modest in a debug build.
        let max = if k.name == "blur" { 6.0 } else { k.max };
        let value = k.min + t * (max - k.min);
        let p = Perturbation::from_name_value(k.name, value).unwrap();
        let img = synthetic_image(w, h, img_seed);
        let a = p.apply(&img, seed);
        let b = p.apply(&img, seed);
        prop_assert_eq!(a.dimensions(), img.dimensions());
        prop_assert_eq!(&a, &b);
        let chained = apply_all(&[p, Perturbation::Noise(3.0)], &img, seed);
        prop_assert_eq!(chained.dimensions(), img.dimensions());
        prop_assert_eq!(chained, apply_all(&[p, Perturbation::Noise(3.0)], &img, seed));
    }
}

#[test]
fn the_table_parses_every_kind_and_rejects_the_rest() {
    for k in Perturbation::KINDS {
        let p = Perturbation::from_name_value(k.name, k.neutral).unwrap();
        assert_eq!(p.name(), k.name);
        assert_eq!(p.value(), k.neutral);
        assert_eq!(p.kind(), k);
        assert!(k.min <= k.neutral && k.neutral <= k.max);
        assert!(!k.description.is_empty() && !k.parameter.is_empty());
        let err = Perturbation::from_name_value(k.name, k.max + 1.0).unwrap_err();
        assert!(matches!(err, PerturbError::OutOfRange { .. }));
        assert!(err.to_string().contains(k.name));
        assert!(Perturbation::from_name_value(k.name, f64::NAN).is_err());
    }
    let err = Perturbation::from_name_value("sepia", 1.0).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("sepia") && text.contains("brightness") && text.contains("jpeg"));
    assert_eq!(Perturbation::Blur(1.5).to_string(), "blur=1.5");
}

#[test]
fn neutral_values_leave_the_image_alone() {
    let img = synthetic_image(33, 27, 5);
    for k in Perturbation::KINDS {
        let out = Perturbation::from_name_value(k.name, k.neutral)
            .unwrap()
            .apply(&img, 1);
        if k.name == "jpeg" {
            assert!(support::mean_abs_diff(&out, &img) < 3.0);
        } else {
            assert_eq!(out, img, "{}", k.name);
        }
    }
}

#[test]
fn each_perturbation_does_what_it_says() {
    let img = synthetic_image(64, 48, 9);
    let m = mean(&img);
    // Brightness and contrast.
    let brighter = Perturbation::Brightness(20.0).apply(&img, 0);
    assert!((mean(&brighter) - m - 20.0).abs() < 3.0);
    let flat = Perturbation::Contrast(0.0).apply(&img, 0);
    assert!(roughness(&flat) == 0.0);
    assert!(roughness(&Perturbation::Contrast(2.0).apply(&img, 0)) > roughness(&img));
    // Blur smooths, noise roughens, with the asked sigma, differently per seed.
    assert!(roughness(&Perturbation::Blur(2.0).apply(&img, 0)) < 0.5 * roughness(&img));
    let grey = RgbImage::from_pixel(100, 100, image::Rgb([128, 128, 128]));
    let noisy = Perturbation::Noise(10.0).apply(&grey, 1);
    let var = noisy
        .as_raw()
        .iter()
        .map(|&v| (v as f64 - 128.0).powi(2))
        .sum::<f64>()
        / noisy.as_raw().len() as f64;
    assert!((var.sqrt() - 10.0).abs() < 0.5, "sigma {}", var.sqrt());
    assert_ne!(noisy, Perturbation::Noise(10.0).apply(&grey, 2));
    // Rotation: +90° is counter-clockwise, so the top-left corner goes to the bottom-left.
    let mut marked = RgbImage::from_pixel(40, 40, image::Rgb([0, 0, 0]));
    for y in 0..8 {
        for x in 0..8 {
            marked.put_pixel(x, y, image::Rgb([255, 0, 0]));
        }
    }
    let rotated = Perturbation::Rotation(90.0).apply(&marked, 0);
    assert!(
        rotated.get_pixel(3, 36)[0] > 200,
        "{:?}",
        rotated.get_pixel(3, 36)
    );
    assert!(rotated.get_pixel(3, 3)[0] < 50);
    // Distance 2: a centred square shrinks to half its side.
    let mut square = RgbImage::from_pixel(80, 80, image::Rgb([0, 0, 0]));
    for y in 30..50 {
        for x in 30..50 {
            square.put_pixel(x, y, image::Rgb([255, 255, 255]));
        }
    }
    let far = Perturbation::Distance(2.0).apply(&square, 0);
    let white = far.pixels().filter(|p| p[0] > 127).count();
    assert!(
        (80..=120).contains(&white),
        "{white} white pixels, want about 100"
    );
    let near = Perturbation::Distance(0.5).apply(&square, 0);
    let white = near.pixels().filter(|p| p[0] > 127).count();
    assert!(
        (1500..=1700).contains(&white),
        "{white} white pixels, want about 1600"
    );
    // JPEG: lower quality, bigger change.
    let q10 = support::mean_abs_diff(&Perturbation::Jpeg(10.0).apply(&img, 0), &img);
    let q95 = support::mean_abs_diff(&Perturbation::Jpeg(95.0).apply(&img, 0), &img);
    assert!(q10 > q95, "{q10} vs {q95}");
}

#[test]
fn occlusion_covers_the_lower_face_only() {
    let img = RgbImage::from_pixel(200, 200, image::Rgb([90, 60, 40]));
    let face = FaceBox {
        x: 50.0,
        y: 40.0,
        width: 100.0,
        height: 120.0,
    };
    let p = Perturbation::from_name_value("occlusion", 0.5)
        .unwrap()
        .with_face_box(face);
    let out = p.apply(&img, 0);
    // Mouth area (lower middle of the box): mask colour, pale blue.
    let mouth = out.get_pixel(100, 135);
    assert!(mouth[2] > 180 && mouth[2] > mouth[0], "{mouth:?}");
    // Eyes (upper part of the box) and outside the box: untouched.
    assert_eq!(out.get_pixel(100, 70), img.get_pixel(100, 70));
    assert_eq!(out.get_pixel(10, 190), img.get_pixel(10, 190));
    // Without a box it sits relative to the image centre.
    let centred = Perturbation::from_name_value("occlusion", 0.5)
        .unwrap()
        .apply(&img, 0);
    let c = centred.get_pixel(100, 135);
    assert!(c[2] > 180, "{c:?}");
    assert_eq!(centred.get_pixel(100, 60), img.get_pixel(100, 60));
}

#[test]
fn a_perturbed_source_perturbs_every_frame_reproducibly() {
    use camera_replay::frame::Frame;
    use camera_replay::perturb::Perturbed;
    use camera_replay::source::{FrameSource, MemorySource};
    let frames: Vec<Frame> = (0..3)
        .map(|i| Frame {
            index: i,
            timestamp: std::time::Duration::from_millis(100 * i),
            image: synthetic_image(24, 16, i),
        })
        .collect();
    let list = vec![Perturbation::Brightness(10.0), Perturbation::Noise(4.0)];
    let run = || {
        let mut s = Perturbed::new(
            MemorySource::new(frames.clone(), 10.0, "clip"),
            list.clone(),
            5,
        );
        assert!(s.describe().contains("brightness=10") && s.describe().contains("noise=4"));
        assert_eq!(
            (s.frame_rate(), s.frame_size(), s.frame_count()),
            (10.0, (24, 16), Some(3))
        );
        support::drain(&mut s, 10)
            .into_iter()
            .map(|r| r.unwrap())
            .collect::<Vec<_>>()
    };
    let (a, b) = (run(), run());
    assert_eq!(a.len(), 3);
    for ((x, y), orig) in a.iter().zip(&b).zip(&frames) {
        assert_eq!(x.image, y.image);
        assert_eq!(x.timestamp, orig.timestamp);
        assert!(mean(&x.image) > mean(&orig.image) + 5.0);
    }
    // Noise differs from frame to frame even for identical input frames.
    assert_ne!(
        apply_all(&list, &frames[0].image, 1),
        apply_all(&list, &frames[0].image, 2)
    );
}
