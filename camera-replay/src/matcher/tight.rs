//! Tight crops: chip-like images (the face fills the picture) cut from wide photos, to test
//! enrolment on what a card's chip holds when the shipped photos are all wide.
//!
//! The crop rule, reproducible in OpenCV (`reference/opencv_reference.py` does the same with
//! `cv2` calls):
//! 1. the box is the face YuNet finds on the full image at OpenCV's settings (score 0.9,
//!    NMS 0.3, the largest face: [`super::FaceMatcher::detect`] + [`super::largest`] with the
//!    default [`super::DetectorConfig`]);
//! 2. the rectangle is that box widened outward to whole pixels (floor of the top-left corner,
//!    ceiling of the bottom-right corner, in single precision) and clipped to the image:
//!    [`face_crop_rect`], i.e. [`crate::imaging::FaceBox::clipped`];
//! 3. the crop is those pixels (`img[y:y+h, x:x+w]`), optionally turned grey
//!    ([`grey_bt601`], `cv2.cvtColor(BGR2GRAY)` then back to three equal channels), optionally
//!    resized to a fixed size with OpenCV's `INTER_LINEAR` ([`super::imageops::resize_bilinear`]).
//!
//! The rectangle is kept as integers so that both sides of a comparison crop identically.

use image::RgbImage;

use super::detect::Face;
use super::imageops::{resize_bilinear, ResizeScratch};
use crate::imaging::{crop, FaceBox};

/// How a tight crop is finished after cutting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TightCrop {
    /// Greyscale, as the chip photo is ([`grey_bt601`]).
    pub grey: bool,
    /// Resize to this width × height (OpenCV `INTER_LINEAR`); `None` keeps the cut's size.
    pub size: Option<(u32, u32)>,
}

impl TightCrop {
    /// Greyscale, at the cut's own size: the set `tests/tight_crops.rs` measures.
    pub fn grey() -> TightCrop {
        TightCrop {
            grey: true,
            size: None,
        }
    }
}

/// The integer rectangle `[x, y, width, height]` of a face's box, widened to whole pixels
/// and clipped to a `width`×`height` image; `None` when nothing of it is inside.
pub fn face_crop_rect(face: &Face, width: u32, height: u32) -> Option<[u32; 4]> {
    FaceBox::from_xywh(face.bbox)
        .clipped(width, height)
        .map(|(x, y, w, h)| [x, y, w, h])
}

/// Cuts `rect` out of `img` and finishes it as `how` says; `None` when the rectangle is empty
/// or not inside the image.
pub fn tight_crop(img: &RgbImage, rect: [u32; 4], how: &TightCrop) -> Option<RgbImage> {
    let [x, y, w, h] = rect;
    let mut out = crop(img, (x, y, w, h))?;
    if how.grey {
        out = grey_bt601(&out);
    }
    if let Some((w, h)) = how.size {
        if w == 0 || h == 0 {
            return None;
        }
        if out.dimensions() != (w, h) {
            let mut resized = RgbImage::new(1, 1);
            resize_bilinear(&out, w, h, &mut resized, &mut ResizeScratch::default());
            out = resized;
        }
    }
    Some(out)
}

/// Grey (ITU-R BT.601) in all three channels, with `cv2.cvtColor(BGR2GRAY)`'s fixed-point
/// arithmetic for 8-bit images (15-bit weights; the 14-bit ones of older OpenCV differ on
/// about 1 pixel in 10⁴): `(9798 R + 19235 G + 3735 B + 2¹⁴) >> 15`.
pub fn grey_bt601(img: &RgbImage) -> RgbImage {
    let mut out = img.clone();
    for p in out.pixels_mut() {
        let v = luma_bt601(p.0);
        p.0 = [v; 3];
    }
    out
}

fn luma_bt601(rgb: [u8; 3]) -> u8 {
    let [r, g, b] = rgb.map(u32::from);
    // The weights add up to 2¹⁵: at most 255.
    ((9798 * r + 19235 * g + 3735 * b + (1 << 14)) >> 15) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(bbox: [f32; 4]) -> Face {
        Face {
            bbox,
            landmarks: [[0.0; 2]; 5],
            score: 0.95,
        }
    }

    #[test]
    fn rect_widens_to_whole_pixels_and_clips() {
        assert_eq!(
            face_crop_rect(&face([10.4, 20.6, 30.2, 40.0]), 250, 250),
            Some([10, 20, 31, 41])
        );
        assert_eq!(
            face_crop_rect(&face([-5.5, 200.0, 30.0, 80.0]), 250, 250),
            Some([0, 200, 25, 50])
        );
        assert_eq!(
            face_crop_rect(&face([300.0, 0.0, 10.0, 10.0]), 250, 250),
            None
        );
        assert_eq!(
            face_crop_rect(&face([f32::NAN, 0.0, 10.0, 10.0]), 250, 250),
            None
        );
    }

    #[test]
    fn crop_grey_and_resize() {
        let img = RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 5, y as u8 * 7, 200]));
        let c = tight_crop(&img, [10, 5, 20, 10], &TightCrop::default()).unwrap();
        assert_eq!(c.dimensions(), (20, 10));
        assert_eq!(c.get_pixel(0, 0).0, [50, 35, 200]);
        let g = tight_crop(&img, [10, 5, 20, 10], &TightCrop::grey()).unwrap();
        assert_eq!(g.get_pixel(0, 0).0, [luma_bt601([50, 35, 200]); 3]);
        let sized = TightCrop {
            grey: true,
            size: Some((60, 30)),
        };
        let s = tight_crop(&img, [10, 5, 20, 10], &sized).unwrap();
        assert_eq!(s.dimensions(), (60, 30));
        assert!(s.pixels().all(|p| p.0[0] == p.0[1] && p.0[1] == p.0[2]));
        assert!(tight_crop(&img, [30, 5, 20, 10], &TightCrop::default()).is_none());
        assert!(tight_crop(&img, [0, 0, 0, 10], &TightCrop::default()).is_none());
    }

    #[test]
    fn grey_of_white_and_primaries() {
        let img = RgbImage::from_fn(4, 1, |x, _| {
            image::Rgb(match x {
                0 => [255, 255, 255],
                1 => [255, 0, 0],
                2 => [0, 255, 0],
                _ => [0, 0, 255],
            })
        });
        let g: Vec<u8> = grey_bt601(&img).pixels().map(|p| p.0[0]).collect();
        assert_eq!(g, [255, 76, 150, 29]);
        // cv2.cvtColor gives 174 here; the 14-bit weights give 173.
        assert_eq!(luma_bt601([162, 188, 129]), 174);
    }
}
