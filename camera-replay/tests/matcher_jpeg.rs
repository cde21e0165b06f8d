//! The matcher's JPEG decoder never panics on broken input and agrees with another decoder
//! up to rounding on anything an encoder writes.

use camera_replay::matcher::jpeg;
use proptest::prelude::*;

fn encode(img: &image::RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .unwrap();
    out
}

fn sample_image(w: u32, h: u32, seed: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        let v = x
            .wrapping_mul(2654435761)
            .wrapping_add(y.wrapping_mul(40503))
            .wrapping_add(seed);
        image::Rgb([(v >> 3) as u8, (x * 255 / w) as u8, (y * 255 / h) as u8])
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn broken_jpegs_never_panic(
        w in 1u32..80, h in 1u32..80, seed in any::<u32>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..12),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut jpg = encode(&sample_image(w, h, seed), 75);
        for (at, byte) in flips {
            let i = at.index(jpg.len());
            jpg[i] ^= byte;
        }
        let keep = 2 + cut.index(jpg.len() - 1);
        let _ = jpeg::decode(&jpg[..keep]);
        let _ = camera_replay::matcher::decode_image(&jpg[..keep]);
    }

    #[test]
    fn agrees_with_zune_jpeg_up_to_rounding(w in 1u32..120, h in 1u32..120, seed in any::<u32>(), q in 50u8..100) {
        let jpg = encode(&sample_image(w, h, seed), q);
        let ours = jpeg::decode(&jpg).unwrap();
        let theirs = image::load_from_memory(&jpg).unwrap().to_rgb8();
        prop_assert_eq!(ours.dimensions(), theirs.dimensions());
        let diffs: Vec<i32> = ours.as_raw().iter().zip(theirs.as_raw())
            .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs()).collect();
        let mean = diffs.iter().sum::<i32>() as f64 / diffs.len() as f64;
        prop_assert!(mean < 1.0, "mean difference {}", mean);
        prop_assert!(*diffs.iter().max().unwrap() <= 12);
    }
}
