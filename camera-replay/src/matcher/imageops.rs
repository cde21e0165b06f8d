//! Pixel work of the matcher, written to give what OpenCV gives:
//! - [`Letterbox`] + [`resize_bilinear`]: `cv::resize(INTER_LINEAR)` on 8-bit images
//!   (half-pixel centres, 11-bit fixed-point weights), then zero padding right and bottom;
//! - [`fill_bgr_planes`]: `dnn::blobFromImage` without scaling (NCHW float, BGR order);
//! - [`warp_affine_112`]: `cv::warpAffine(INTER_LINEAR, BORDER_CONSTANT 0)` as OpenCV 4.11+
//!   computes it for 8-bit images (single-precision coordinates and weights);
//! - [`laplacian_variance`]: variance of `cv::Laplacian(ksize = 1)` on the grey crop.

use image::RgbImage;

/// Side of YuNet's fixed square input.
pub const DETECT_SIDE: u32 = 640;
/// Side of SFace's aligned input.
pub const CROP_SIDE: u32 = 112;

/// How an image is fitted into the detector's square: scaled (aspect ratio kept) so it fits,
/// placed at the top left, the rest zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    pub src_width: u32,
    pub src_height: u32,
    /// Size of the scaled image inside the square.
    pub width: u32,
    pub height: u32,
}

impl Letterbox {
    /// Fits `src_width`×`src_height` into `side`×`side`. Sizes must be non-zero.
    pub fn new(src_width: u32, src_height: u32, side: u32) -> Letterbox {
        let (w, h) = (f64::from(src_width.max(1)), f64::from(src_height.max(1)));
        let s = (f64::from(side) / w).min(f64::from(side) / h);
        let fit = |v: f64| ((v * s + 0.5).floor() as u32).clamp(1, side);
        Letterbox {
            src_width,
            src_height,
            width: fit(w),
            height: fit(h),
        }
    }

    /// True when no resampling is needed (the image already fits exactly).
    pub fn is_identity(&self) -> bool {
        self.width == self.src_width && self.height == self.src_height
    }

    /// Horizontal and vertical scale from source to letterbox.
    pub fn scale(&self) -> (f32, f32) {
        (
            self.width as f32 / self.src_width as f32,
            self.height as f32 / self.src_height as f32,
        )
    }

    /// Maps a point of the letterboxed square back to the source image (pixel-corner
    /// coordinates, as YuNet gives them).
    pub fn to_source(&self, x: f32, y: f32) -> (f32, f32) {
        let (sx, sy) = self.scale();
        (x / sx, y / sy)
    }

    /// Maps a source point into the letterboxed square.
    pub fn to_letterbox(&self, x: f32, y: f32) -> (f32, f32) {
        let (sx, sy) = self.scale();
        (x * sx, y * sy)
    }
}

const COEF_BITS: i32 = 11;
const COEF_SCALE: f32 = (1 << COEF_BITS) as f32;

/// Per destination index: first source index, whether the second tap exists, and the two
/// fixed-point weights (as OpenCV's `resizeGeneric_` computes them).
/// `vertical`: OpenCV zeroes the weight past the last source column but only clamps the
/// row index past the last source row.
fn linear_taps(src: u32, dst: u32, vertical: bool) -> Vec<(usize, usize, i32, i32)> {
    let scale = f64::from(src) / f64::from(dst);
    (0..dst)
        .map(|d| {
            let mut f = ((f64::from(d) + 0.5) * scale - 0.5) as f32;
            let mut s = f.floor() as i64;
            f -= s as f32;
            if s < 0 {
                s = 0;
                f = 0.0;
            }
            if s >= i64::from(src) - 1 {
                s = i64::from(src) - 1;
                if !vertical {
                    f = 0.0;
                }
            }
            let s = s as usize;
            let s1 = (s + 1).min(src as usize - 1);
            let a0 = ((1.0 - f) * COEF_SCALE).round_ties_even() as i32;
            let a1 = (f * COEF_SCALE).round_ties_even() as i32;
            (s, s1, a0, a1)
        })
        .collect()
}

/// Bilinear resize of an RGB image into `out` (resized to `width`×`height`), with OpenCV's
/// `INTER_LINEAR` fixed-point arithmetic. Scratch buffers are reused between calls.
pub fn resize_bilinear(
    src: &RgbImage,
    width: u32,
    height: u32,
    out: &mut RgbImage,
    rows: &mut ResizeScratch,
) {
    let (sw, sh) = src.dimensions();
    if out.dimensions() != (width, height) {
        *out = RgbImage::new(width, height);
    }
    let xt = linear_taps(sw, width, false);
    let yt = linear_taps(sh, height, true);
    let n = width as usize * 3;
    rows.a.resize(n, 0);
    rows.b.resize(n, 0);
    let src_raw = src.as_raw();
    let stride = sw as usize * 3;
    let hresize = |row: usize, dst: &mut [i32]| {
        let line = &src_raw[row * stride..(row + 1) * stride];
        for (d, &(s0, s1, a0, a1)) in xt.iter().enumerate() {
            for c in 0..3 {
                dst[d * 3 + c] =
                    i32::from(line[s0 * 3 + c]) * a0 + i32::from(line[s1 * 3 + c]) * a1;
            }
        }
    };
    let (mut row_a, mut row_b) = (usize::MAX, usize::MAX);
    let out_raw: &mut [u8] = out;
    for (dy, &(s0, s1, b0, b1)) in yt.iter().enumerate() {
        // Keep the two horizontally resized source rows in `a` (row s0) and `b` (row s1).
        if row_a != s0 {
            if row_b == s0 {
                std::mem::swap(&mut rows.a, &mut rows.b);
                row_a = s0;
                row_b = usize::MAX;
            } else {
                hresize(s0, &mut rows.a);
                row_a = s0;
            }
        }
        if row_b != s1 {
            hresize(s1, &mut rows.b);
            row_b = s1;
        }
        let dst = &mut out_raw[dy * n..(dy + 1) * n];
        // OpenCV's SIMD vertical pass (VResizeLinearVec_32s8u): drop 4 bits, multiply-high,
        // then round the last 2 bits.
        for ((o, &a), &b) in dst.iter_mut().zip(&rows.a).zip(&rows.b) {
            let v = (((b0 * (a >> 4)) >> 16) + ((b1 * (b >> 4)) >> 16) + 2) >> 2;
            *o = v.clamp(0, 255) as u8;
        }
    }
}

/// Reusable rows for [`resize_bilinear`].
#[derive(Debug, Default, Clone)]
pub struct ResizeScratch {
    a: Vec<i32>,
    b: Vec<i32>,
}

/// Writes an RGB image into the top-left corner of a planar BGR float buffer of
/// `side`×`side` (what `blobFromImage(img)` gives for a BGR image: no scaling, no mean).
/// Only the image area is written: the caller keeps the padding at zero (see
/// [`PlanarCanvas`]).
pub fn fill_bgr_planes(img: &RgbImage, side: u32, planes: &mut [f32]) {
    let (w, h) = img.dimensions();
    let side = side as usize;
    let plane = side * side;
    debug_assert!(planes.len() >= 3 * plane && w as usize <= side && h as usize <= side);
    let (b_plane, rest) = planes.split_at_mut(plane);
    let (g_plane, rest) = rest.split_at_mut(plane);
    let r_plane = &mut rest[..plane];
    let raw = img.as_raw();
    let w = w as usize;
    for y in 0..h as usize {
        let line = &raw[y * w * 3..(y + 1) * w * 3];
        let o = y * side;
        let (b, g, r) = (
            &mut b_plane[o..o + w],
            &mut g_plane[o..o + w],
            &mut r_plane[o..o + w],
        );
        for (i, px) in line.chunks_exact(3).enumerate() {
            r[i] = f32::from(px[0]);
            g[i] = f32::from(px[1]);
            b[i] = f32::from(px[2]);
        }
    }
}

/// A planar float canvas that remembers which area holds image data, so only that area is
/// cleared when a smaller image comes next.
#[derive(Debug, Clone)]
pub struct PlanarCanvas {
    pub side: u32,
    pub data: Vec<f32>,
    used: (u32, u32),
}

impl PlanarCanvas {
    pub fn new(side: u32) -> PlanarCanvas {
        PlanarCanvas {
            side,
            data: vec![0.0; 3 * (side as usize) * (side as usize)],
            used: (0, 0),
        }
    }

    /// Puts `img` (at most `side`×`side`) at the top left, zero elsewhere.
    pub fn put_bgr(&mut self, img: &RgbImage) {
        let (w, h) = img.dimensions();
        let (uw, uh) = self.used;
        if uw > w || uh > h {
            let side = self.side as usize;
            for plane in self.data.chunks_exact_mut(side * side) {
                for y in 0..uh as usize {
                    let row = &mut plane[y * side..y * side + uw as usize];
                    if y >= h as usize {
                        row.fill(0.0);
                    } else if uw > w {
                        row[w as usize..].fill(0.0);
                    }
                }
            }
        }
        fill_bgr_planes(img, self.side, &mut self.data);
        self.used = (w, h);
    }
}

/// Inverts a 2×3 affine matrix the way `cv::warpAffine` does when not given
/// `WARP_INVERSE_MAP`.
pub fn invert_affine(m: &[f64; 6]) -> [f64; 6] {
    let d = m[0] * m[4] - m[1] * m[3];
    let d = if d != 0.0 { 1.0 / d } else { 0.0 };
    let (a11, a22) = (m[4] * d, m[0] * d);
    let (a12, a21) = (-m[1] * d, -m[3] * d);
    let b1 = -a11 * m[2] - a12 * m[5];
    let b2 = -a21 * m[2] - a22 * m[5];
    [a11, a12, b1, a21, a22, b2]
}

/// Warps `src` into a 112×112 RGB crop with the forward matrix `m` (source → crop),
/// bilinear, outside pixels black.
pub fn warp_affine_112(src: &RgbImage, m: &[f64; 6], out: &mut RgbImage) {
    let side = CROP_SIDE;
    if out.dimensions() != (side, side) {
        *out = RgbImage::new(side, side);
    }
    let inv = invert_affine(m);
    let mf: [f32; 6] = inv.map(|v| v as f32);
    let (sw, sh) = (src.width() as i64, src.height() as i64);
    let raw = src.as_raw();
    let stride = sw as usize * 3;
    let pixel = |x: i64, y: i64, c: usize| -> f32 {
        if x >= 0 && y >= 0 && x < sw && y < sh {
            f32::from(raw[y as usize * stride + x as usize * 3 + c])
        } else {
            0.0
        }
    };
    let out_raw: &mut [u8] = out;
    for y in 0..side as usize {
        let bx = y as f32 * mf[1] + mf[2];
        let by = y as f32 * mf[4] + mf[5];
        for x in 0..side as usize {
            let sx = x as f32 * mf[0] + bx;
            let sy = x as f32 * mf[3] + by;
            let (ix, iy) = (sx.floor(), sy.floor());
            let (ax, ay) = (sx - ix, sy - iy);
            let (ix, iy) = (ix as i64, iy as i64);
            let o = (y * side as usize + x) * 3;
            let inside = ix >= 0 && iy >= 0 && ix + 1 < sw && iy + 1 < sh;
            for c in 0..3 {
                let (p00, p01, p10, p11) = if inside {
                    let b = iy as usize * stride + ix as usize * 3 + c;
                    (
                        f32::from(raw[b]),
                        f32::from(raw[b + 3]),
                        f32::from(raw[b + stride]),
                        f32::from(raw[b + stride + 3]),
                    )
                } else {
                    (
                        pixel(ix, iy, c),
                        pixel(ix + 1, iy, c),
                        pixel(ix, iy + 1, c),
                        pixel(ix + 1, iy + 1, c),
                    )
                };
                let top = ax * (p01 - p00) + p00;
                let bottom = ax * (p11 - p10) + p10;
                let v = ay * (bottom - top) + top;
                out_raw[o + c] = v.round_ties_even().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// Writes an RGB crop as planar RGB floats (what `blobFromImage(bgr, swapRB = true)` gives
/// SFace: OpenCV's aligned crop is BGR, swapped back to RGB).
pub fn fill_rgb_planes(img: &RgbImage, planes: &mut [f32]) {
    let n = (img.width() * img.height()) as usize;
    debug_assert!(planes.len() >= 3 * n);
    let (r, rest) = planes.split_at_mut(n);
    let (g, b) = rest.split_at_mut(n);
    for (i, px) in img.as_raw().chunks_exact(3).enumerate() {
        r[i] = f32::from(px[0]);
        g[i] = f32::from(px[1]);
        b[i] = f32::from(px[2]);
    }
}

/// Grey level (ITU-R BT.601 weights, as `cv::cvtColor(RGB2GRAY)`) in 0..=255.
#[inline]
pub fn grey(px: &[u8]) -> f32 {
    0.299 * f32::from(px[0]) + 0.587 * f32::from(px[1]) + 0.114 * f32::from(px[2])
}

/// Variance of the 4-neighbour Laplacian of the grey image over the square
/// `[lo, hi)`×`[lo, hi)` (needs `1 <= lo` and `hi < size - 1`... clamped here).
pub fn laplacian_variance(img: &RgbImage, lo: u32, hi: u32) -> f32 {
    let (w, h) = img.dimensions();
    if w < 3 || h < 3 {
        return 0.0;
    }
    let x0 = lo.max(1);
    let y0 = lo.max(1);
    let x1 = hi.min(w - 1);
    let y1 = hi.min(h - 1);
    if x0 >= x1 || y0 >= y1 {
        return 0.0;
    }
    let g = |x: u32, y: u32| grey(&img.get_pixel(x, y).0);
    let (mut sum, mut sum2, mut n) = (0f64, 0f64, 0f64);
    for y in y0..y1 {
        for x in x0..x1 {
            let l = g(x - 1, y) + g(x + 1, y) + g(x, y - 1) + g(x, y + 1) - 4.0 * g(x, y);
            let l = f64::from(l);
            sum += l;
            sum2 += l * l;
            n += 1.0;
        }
    }
    let mean = sum / n;
    (sum2 / n - mean * mean).max(0.0) as f32
}

/// A greyscale image as RGB with the grey level in all three channels (the chip photo is
/// greyscale).
pub fn rgb_from_luma(grey: &image::GrayImage) -> RgbImage {
    let (w, h) = grey.dimensions();
    let mut out = Vec::with_capacity(grey.as_raw().len() * 3);
    for &v in grey.as_raw() {
        out.extend_from_slice(&[v, v, v]);
    }
    RgbImage::from_raw(w, h, out).unwrap_or_else(|| RgbImage::new(w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letterbox_landscape_and_portrait() {
        let lb = Letterbox::new(640, 480, 640);
        assert!(lb.is_identity());
        assert_eq!(lb.to_source(100.0, 50.0), (100.0, 50.0));

        let lb = Letterbox::new(1280, 720, 640);
        assert_eq!((lb.width, lb.height), (640, 360));
        assert_eq!(lb.to_source(320.0, 180.0), (640.0, 360.0));

        let lb = Letterbox::new(250, 250, 640);
        assert_eq!((lb.width, lb.height), (640, 640));
        let (x, y) = lb.to_source(640.0, 320.0);
        assert!((x - 250.0).abs() < 1e-4 && (y - 125.0).abs() < 1e-4);

        let lb = Letterbox::new(910, 1137, 640);
        assert_eq!(lb.height, 640);
        assert_eq!(lb.width, 512); // 910 * 640 / 1137 = 512.2
        let (x, y) = lb.to_letterbox(455.0, 1137.0);
        let (bx, by) = lb.to_source(x, y);
        assert!((bx - 455.0).abs() < 1e-3 && (by - 1137.0).abs() < 1e-3);
    }

    #[test]
    fn letterbox_of_extreme_shapes_stays_in_range() {
        let lb = Letterbox::new(10_000, 3, 640);
        assert_eq!((lb.width, lb.height), (640, 1));
        let lb = Letterbox::new(1, 1, 640);
        assert_eq!((lb.width, lb.height), (640, 640));
    }

    #[test]
    fn resize_identity_and_constant() {
        let img = RgbImage::from_fn(7, 5, |x, y| image::Rgb([x as u8 * 10, y as u8 * 20, 7]));
        let mut out = RgbImage::new(1, 1);
        let mut s = ResizeScratch::default();
        resize_bilinear(&img, 7, 5, &mut out, &mut s);
        assert_eq!(out, img);
        let flat = RgbImage::from_pixel(33, 17, image::Rgb([200, 100, 3]));
        resize_bilinear(&flat, 64, 40, &mut out, &mut s);
        assert!(out.pixels().all(|p| p.0 == [200, 100, 3]));
        resize_bilinear(&flat, 5, 3, &mut out, &mut s);
        assert!(out.pixels().all(|p| p.0 == [200, 100, 3]));
    }

    #[test]
    fn resize_upscale_interpolates_between_neighbours() {
        let img = RgbImage::from_fn(2, 1, |x, _| image::Rgb([x as u8 * 100; 3]));
        let mut out = RgbImage::new(1, 1);
        resize_bilinear(&img, 4, 1, &mut out, &mut ResizeScratch::default());
        // Centres of 4 outputs map to -0.25, 0.25, 0.75, 1.25 → 0, 25, 75, 100.
        let v: Vec<u8> = out.pixels().map(|p| p.0[0]).collect();
        assert_eq!(v, vec![0, 25, 75, 100]);
    }

    #[test]
    fn canvas_clears_what_a_larger_image_left() {
        let mut c = PlanarCanvas::new(8);
        c.put_bgr(&RgbImage::from_pixel(8, 8, image::Rgb([1, 2, 3])));
        assert_eq!(c.data[0], 3.0); // B plane first
        c.put_bgr(&RgbImage::from_pixel(4, 2, image::Rgb([1, 2, 3])));
        let nonzero = c.data.iter().filter(|v| **v != 0.0).count();
        assert_eq!(nonzero, 4 * 2 * 3);
    }

    #[test]
    fn warp_identity_translation_copies() {
        let img = RgbImage::from_fn(200, 150, |x, y| image::Rgb([x as u8, y as u8, 9]));
        let mut out = RgbImage::new(1, 1);
        // crop(x, y) = src(x + 10, y + 20)
        warp_affine_112(&img, &[1.0, 0.0, -10.0, 0.0, 1.0, -20.0], &mut out);
        assert_eq!(out.get_pixel(0, 0).0, [10, 20, 9]);
        assert_eq!(out.get_pixel(111, 111).0, [121, 131, 9]);
        // Outside the source: black.
        warp_affine_112(&img, &[1.0, 0.0, 150.0, 0.0, 1.0, 0.0], &mut out);
        assert_eq!(out.get_pixel(0, 0).0, [0, 0, 0]);
    }

    #[test]
    fn laplacian_of_flat_is_zero_and_of_checker_is_large() {
        let flat = RgbImage::from_pixel(112, 112, image::Rgb([90; 3]));
        assert_eq!(laplacian_variance(&flat, 16, 96), 0.0);
        let checker = RgbImage::from_fn(112, 112, |x, y| {
            image::Rgb([if (x + y) % 2 == 0 { 0 } else { 255 }; 3])
        });
        assert!(laplacian_variance(&checker, 16, 96) > 1e5);
    }

    #[test]
    fn luma_replicates() {
        let g = image::GrayImage::from_pixel(3, 2, image::Luma([77]));
        let rgb = rgb_from_luma(&g);
        assert_eq!(rgb.dimensions(), (3, 2));
        assert!(rgb.pixels().all(|p| p.0 == [77, 77, 77]));
    }
}
