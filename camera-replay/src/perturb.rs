//! Perturbations of camera frames, deterministic from a seed.
//!
//! A [`Perturbation`] is one typed, parameterised change to an image: brightness, contrast,
//! Gaussian blur, Gaussian noise, rotation, distance, a surgical-mask occlusion, or JPEG
//! recompression. [`Perturbation::apply`] returns a new image of the same size; the same
//! `(perturbation, image, seed)` always gives the same pixels. [`Perturbation::KINDS`] lists
//! every kind with its parameter, unit, range and neutral value, so the harness can build its
//! scenario schema from this table and parse `(name, value)` pairs with
//! [`Perturbation::from_name_value`].
//!
//! The small image operations the synthetic clips and attacks share (a seeded random number
//! generator, affine warping, blur, noise, JPEG round trip) live here too.

use common::rng::Rng;
use std::fmt;

use crate::frame::{Frame, RgbImage};
use crate::source::{FrameSource, SourceError};

// ---------------------------------------------------------------------------------------------
// Seeded random numbers
// ---------------------------------------------------------------------------------------------

/// The camera's generator for `seed`: the workspace's one RNG ([`Rng`]), its state salted so
/// that perturbations, clips and attacks are reproducible from a `u64` seed on every platform.
pub fn seeded_rng(seed: u64) -> Rng {
    Rng::new(seed ^ 0x6A09_E667_F3BC_C908)
}

/// Derives an independent seed for a sub-stream (a frame, a layer) from a seed and a salt.
pub fn mix_seed(seed: u64, salt: u64) -> u64 {
    let mut rng = seeded_rng(seed ^ salt.wrapping_mul(0xD1B5_4A32_D192_ED03));
    rng.next_u64()
}

// ---------------------------------------------------------------------------------------------
// Face box
// ---------------------------------------------------------------------------------------------

/// An axis-aligned face box in pixel coordinates of the image it refers to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceBox {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

impl FaceBox {
    /// The box of a detector's `[x, y, width, height]` (the matcher's `Face::bbox`).
    pub fn from_xywh(b: [f32; 4]) -> FaceBox {
        FaceBox {
            x: b[0],
            y: b[1],
            width: b[2],
            height: b[3],
        }
    }

    /// The face box assumed when none is known: centred on the image, `0.4·s` wide and `0.5·s`
    /// tall where `s = min(width, height)`. That fits a centred portrait such as an LFW
    /// deep-funneled image (250×250: box 100×125) or a synthetic live clip made without a face
    /// box; anything else should pass the box from a face detector.
    pub fn centred_default(width: u32, height: u32) -> FaceBox {
        let s = width.min(height) as f32;
        let (w, h) = (0.4 * s, 0.5 * s);
        FaceBox {
            x: (width as f32 - w) / 2.0,
            y: (height as f32 - h) / 2.0,
            width: w,
            height: h,
        }
    }

    /// The box grown (or shrunk) by `factor` about its centre.
    pub fn scaled(&self, factor: f32) -> FaceBox {
        let (cx, cy) = self.centre();
        let (w, h) = (self.width * factor, self.height * factor);
        FaceBox {
            x: cx - w / 2.0,
            y: cy - h / 2.0,
            width: w,
            height: h,
        }
    }

    pub fn centre(&self) -> (f32, f32) {
        (self.x + self.width / 2.0, self.y + self.height / 2.0)
    }

    /// The box clipped to an image; `None` when nothing of it is inside.
    pub fn clipped(&self, width: u32, height: u32) -> Option<(u32, u32, u32, u32)> {
        let x0 = self.x.max(0.0).floor() as i64;
        let y0 = self.y.max(0.0).floor() as i64;
        let x1 = ((self.x + self.width).ceil() as i64).min(width as i64);
        let y1 = ((self.y + self.height).ceil() as i64).min(height as i64);
        if x1 <= x0 || y1 <= y0 {
            return None;
        }
        Some((x0 as u32, y0 as u32, (x1 - x0) as u32, (y1 - y0) as u32))
    }
}

// ---------------------------------------------------------------------------------------------
// The perturbations
// ---------------------------------------------------------------------------------------------

/// One kind of perturbation as the harness sees it: its name, what its value means, and the
/// accepted range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerturbationKind {
    /// The name used in scenarios (`brightness`, `blur`, …).
    pub name: &'static str,
    /// What the value is, with its unit.
    pub parameter: &'static str,
    pub description: &'static str,
    /// Inclusive range of accepted values.
    pub min: f64,
    pub max: f64,
    /// The value that leaves the image unchanged (or nearly so).
    pub neutral: f64,
}

/// A typed, parameterised change to one image. See [`Perturbation::KINDS`] for the meaning
/// and range of each value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Perturbation {
    /// Add this many 8-bit levels to every channel (negative: darker).
    Brightness(f64),
    /// Scale each channel's distance from the image's mean luminance by this factor.
    Contrast(f64),
    /// Gaussian blur with this standard deviation in pixels.
    Blur(f64),
    /// Add Gaussian noise with this standard deviation in 8-bit levels, independently per
    /// pixel and channel.
    Noise(f64),
    /// Rotate by this many degrees (counter-clockwise) about the image centre; corners are
    /// filled from the nearest edge pixel.
    Rotation(f64),
    /// Move the face this many times farther away: the image is scaled by `1 / value` about
    /// its centre (2.0 = half the size; 0.5 = twice as close). Uncovered borders take the
    /// mean colour of the image's edge.
    Distance(f64),
    /// A surgical-mask-like shape over the lower face, covering `coverage` of the face box's
    /// height measured up from the chin (0.5: from the middle of the nose down). Placed
    /// relative to `face` when given, else relative to [`FaceBox::centred_default`].
    Occlusion {
        coverage: f64,
        face: Option<FaceBox>,
    },
    /// Encode as JPEG at this quality (1–100) and decode again.
    Jpeg(f64),
}

/// A perturbation could not be built from a name and value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PerturbError {
    #[error("unknown perturbation `{name}` (known: {known})")]
    UnknownKind { name: String, known: String },
    #[error("perturbation `{name}`: value {value} is outside {min}..={max} ({parameter})")]
    OutOfRange {
        name: &'static str,
        parameter: &'static str,
        value: f64,
        min: f64,
        max: f64,
    },
}

impl Perturbation {
    /// Every kind of perturbation, in a stable order.
    pub const KINDS: &'static [PerturbationKind] = &[
        PerturbationKind {
            name: "brightness",
            parameter: "offset in 8-bit levels added to every channel",
            description: "brighter (positive) or darker (negative) exposure",
            min: -255.0,
            max: 255.0,
            neutral: 0.0,
        },
        PerturbationKind {
            name: "contrast",
            parameter: "factor on the distance from the mean luminance",
            description: "flatter (<1) or harsher (>1) contrast",
            min: 0.0,
            max: 5.0,
            neutral: 1.0,
        },
        PerturbationKind {
            name: "blur",
            parameter: "Gaussian sigma in pixels",
            description: "out of focus or motion-smeared camera",
            min: 0.0,
            max: 50.0,
            neutral: 0.0,
        },
        PerturbationKind {
            name: "noise",
            parameter: "Gaussian sigma in 8-bit levels",
            description: "sensor noise of a cheap or dim-lit camera",
            min: 0.0,
            max: 128.0,
            neutral: 0.0,
        },
        PerturbationKind {
            name: "rotation",
            parameter: "degrees counter-clockwise about the image centre",
            description: "tilted head or camera",
            min: -180.0,
            max: 180.0,
            neutral: 0.0,
        },
        PerturbationKind {
            name: "distance",
            parameter: "relative distance (2 = twice as far: face half the size)",
            description: "face farther from or closer to the camera",
            min: 0.1,
            max: 20.0,
            neutral: 1.0,
        },
        PerturbationKind {
            name: "occlusion",
            parameter: "fraction of the face height covered, up from the chin",
            description: "surgical mask over the lower face",
            min: 0.0,
            max: 1.0,
            neutral: 0.0,
        },
        PerturbationKind {
            name: "jpeg",
            parameter: "JPEG quality 1-100",
            description: "recompression artefacts of a lossy camera or link",
            min: 1.0,
            max: 100.0,
            neutral: 100.0,
        },
    ];

    /// Builds a perturbation from its scenario name and value, checking the range.
    /// An occlusion built this way has no face box (see [`Perturbation::with_face_box`]).
    pub fn from_name_value(name: &str, value: f64) -> Result<Perturbation, PerturbError> {
        let kind = Self::KINDS.iter().find(|k| k.name == name).ok_or_else(|| {
            PerturbError::UnknownKind {
                name: name.to_string(),
                known: Self::KINDS
                    .iter()
                    .map(|k| k.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        })?;
        if !(value >= kind.min && value <= kind.max) {
            return Err(PerturbError::OutOfRange {
                name: kind.name,
                parameter: kind.parameter,
                value,
                min: kind.min,
                max: kind.max,
            });
        }
        Ok(match kind.name {
            "brightness" => Perturbation::Brightness(value),
            "contrast" => Perturbation::Contrast(value),
            "blur" => Perturbation::Blur(value),
            "noise" => Perturbation::Noise(value),
            "rotation" => Perturbation::Rotation(value),
            "distance" => Perturbation::Distance(value),
            "occlusion" => Perturbation::Occlusion {
                coverage: value,
                face: None,
            },
            "jpeg" => Perturbation::Jpeg(value),
            _ => unreachable!("every KINDS entry is matched"),
        })
    }

    /// The same perturbation placed relative to a face box (only occlusion uses one).
    pub fn with_face_box(self, face_box: FaceBox) -> Perturbation {
        match self {
            Perturbation::Occlusion { coverage, .. } => Perturbation::Occlusion {
                coverage,
                face: Some(face_box),
            },
            other => other,
        }
    }

    pub fn name(&self) -> &'static str {
        self.kind().name
    }

    pub fn value(&self) -> f64 {
        match *self {
            Perturbation::Brightness(v)
            | Perturbation::Contrast(v)
            | Perturbation::Blur(v)
            | Perturbation::Noise(v)
            | Perturbation::Rotation(v)
            | Perturbation::Distance(v)
            | Perturbation::Jpeg(v) => v,
            Perturbation::Occlusion { coverage, .. } => coverage,
        }
    }

    pub fn kind(&self) -> &'static PerturbationKind {
        let i = match self {
            Perturbation::Brightness(_) => 0,
            Perturbation::Contrast(_) => 1,
            Perturbation::Blur(_) => 2,
            Perturbation::Noise(_) => 3,
            Perturbation::Rotation(_) => 4,
            Perturbation::Distance(_) => 5,
            Perturbation::Occlusion { .. } => 6,
            Perturbation::Jpeg(_) => 7,
        };
        &Self::KINDS[i]
    }

    /// Applies the perturbation. The result has the size of `image`; the same inputs always
    /// give the same pixels (only `noise` uses the seed). Values outside the kind's range are
    /// clamped into it.
    pub fn apply(&self, image: &RgbImage, seed: u64) -> RgbImage {
        let k = self.kind();
        let v = {
            let v = self.value();
            if v.is_nan() {
                k.neutral
            } else {
                v.clamp(k.min, k.max)
            }
        };
        if image.width() == 0 || image.height() == 0 {
            return image.clone();
        }
        match self {
            Perturbation::Brightness(_) => brightness(image, v),
            Perturbation::Contrast(_) => contrast(image, v),
            Perturbation::Blur(_) => gaussian_blur(image, v),
            Perturbation::Noise(_) => {
                let mut out = image.clone();
                add_gaussian_noise(&mut out, v, &mut seeded_rng(seed));
                out
            }
            Perturbation::Rotation(_) => {
                let (cx, cy) = centre(image);
                let m = Affine::similarity_about(cx, cy, v.to_radians(), 1.0, 0.0, 0.0);
                warp_affine(image, &m, Border::Clamp)
            }
            Perturbation::Distance(_) => {
                let (cx, cy) = centre(image);
                let m = Affine::similarity_about(cx, cy, 0.0, 1.0 / v, 0.0, 0.0);
                warp_affine(image, &m, Border::Fill(edge_mean(image)))
            }
            Perturbation::Occlusion { face, .. } => {
                let face =
                    face.unwrap_or_else(|| FaceBox::centred_default(image.width(), image.height()));
                let mut out = image.clone();
                draw_surgical_mask(&mut out, &face, v);
                out
            }
            Perturbation::Jpeg(_) => jpeg_roundtrip(image, v.round() as u8),
        }
    }
}

impl fmt::Display for Perturbation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name(), self.value())
    }
}

/// Applies perturbations in order, each with its own seed derived from `seed`.
pub fn apply_all(perturbations: &[Perturbation], image: &RgbImage, seed: u64) -> RgbImage {
    let mut out = image.clone();
    for (i, p) in perturbations.iter().enumerate() {
        out = p.apply(&out, mix_seed(seed, i as u64 + 1));
    }
    out
}

/// A frame source with perturbations applied to every frame; frame `i` uses the seed
/// `mix_seed(seed, i)`, so noise differs from frame to frame but the stream is reproducible.
pub struct Perturbed<S> {
    inner: S,
    perturbations: Vec<Perturbation>,
    seed: u64,
}

impl<S: FrameSource> Perturbed<S> {
    pub fn new(inner: S, perturbations: Vec<Perturbation>, seed: u64) -> Self {
        Perturbed {
            inner,
            perturbations,
            seed,
        }
    }
}

impl<S: FrameSource> FrameSource for Perturbed<S> {
    fn next_frame(&mut self) -> Option<Result<Frame, SourceError>> {
        let r = self.inner.next_frame()?;
        Some(r.map(|mut f| {
            f.image = apply_all(&self.perturbations, &f.image, mix_seed(self.seed, f.index));
            f
        }))
    }
    fn frame_rate(&self) -> f64 {
        self.inner.frame_rate()
    }
    fn frame_size(&self) -> (u32, u32) {
        self.inner.frame_size()
    }
    fn describe(&self) -> String {
        let list: Vec<String> = self.perturbations.iter().map(|p| p.to_string()).collect();
        format!(
            "{} perturbed by [{}] (seed {})",
            self.inner.describe(),
            list.join(", "),
            self.seed
        )
    }
    fn frame_count(&self) -> Option<u64> {
        self.inner.frame_count()
    }
}

// ---------------------------------------------------------------------------------------------
// Image operations shared by perturbations, synthetic clips and attacks
// ---------------------------------------------------------------------------------------------

fn centre(image: &RgbImage) -> (f64, f64) {
    (image.width() as f64 / 2.0, image.height() as f64 / 2.0)
}

#[inline]
pub(crate) fn clamp_u8(v: f32) -> u8 {
    // `as` saturates and maps NaN to 0.
    (v + 0.5) as u8
}

fn brightness(image: &RgbImage, offset: f64) -> RgbImage {
    let off = offset as f32;
    let lut: Vec<u8> = (0..256).map(|i| clamp_u8(i as f32 + off)).collect();
    map_lut(image, &lut)
}

fn contrast(image: &RgbImage, factor: f64) -> RgbImage {
    let mean = mean_luma(image) as f32;
    let f = factor as f32;
    let lut: Vec<u8> = (0..256)
        .map(|i| clamp_u8(mean + (i as f32 - mean) * f))
        .collect();
    map_lut(image, &lut)
}

pub(crate) fn map_lut(image: &RgbImage, lut: &[u8]) -> RgbImage {
    let mut out = image.clone();
    for p in out.iter_mut() {
        *p = lut[*p as usize];
    }
    out
}

/// Mean BT.601 luma of an image.
pub(crate) fn mean_luma(image: &RgbImage) -> f64 {
    let n = (image.width() as u64 * image.height() as u64).max(1);
    let mut sum = 0u64;
    for p in image.pixels() {
        sum += 299 * p[0] as u64 + 587 * p[1] as u64 + 114 * p[2] as u64;
    }
    sum as f64 / 1000.0 / n as f64
}

/// The mean colour of an image's outermost rows and columns.
pub(crate) fn edge_mean(image: &RgbImage) -> [u8; 3] {
    let (w, h) = image.dimensions();
    let mut sum = [0u64; 3];
    let mut n = 0u64;
    let mut add = |x: u32, y: u32| {
        let p = image.get_pixel(x, y);
        for c in 0..3 {
            sum[c] += p[c] as u64;
        }
        n += 1;
    };
    for x in 0..w {
        add(x, 0);
        add(x, h - 1);
    }
    for y in 0..h {
        add(0, y);
        add(w - 1, y);
    }
    let n = n.max(1);
    [(sum[0] / n) as u8, (sum[1] / n) as u8, (sum[2] / n) as u8]
}

/// An affine map from destination pixel coordinates to source pixel coordinates:
/// `sx = a·x + b·y + c`, `sy = d·x + e·y + f` (pixel centres at `+0.5`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    pub a: f64,
    pub b: f64,
    pub c: f64,
    pub d: f64,
    pub e: f64,
    pub f: f64,
}

impl Affine {
    pub const IDENTITY: Affine = Affine {
        a: 1.0,
        b: 0.0,
        c: 0.0,
        d: 0.0,
        e: 1.0,
        f: 0.0,
    };

    /// The forward map "rotate by `angle` (radians, counter-clockwise on screen) and scale by
    /// `scale` about `(cx, cy)`, then translate by `(tx, ty)`": source → destination.
    pub fn similarity(cx: f64, cy: f64, angle: f64, scale: f64, tx: f64, ty: f64) -> Affine {
        // y points down, so counter-clockwise on screen is x' = cos·x + sin·y, y' = −sin·x + cos·y.
        let (sin, cos) = angle.sin_cos();
        let (a, b, d, e) = (scale * cos, scale * sin, -scale * sin, scale * cos);
        Affine {
            a,
            b,
            c: cx + tx - a * cx - b * cy,
            d,
            e,
            f: cy + ty - d * cx - e * cy,
        }
    }

    /// The destination → source map of [`Affine::similarity`], ready for [`warp_affine`].
    pub fn similarity_about(cx: f64, cy: f64, angle: f64, scale: f64, tx: f64, ty: f64) -> Affine {
        Affine::similarity(cx, cy, angle, scale.max(1e-6), tx, ty)
            .inverse()
            .unwrap_or(Affine::IDENTITY)
    }

    /// The composition `x ↦ self(other(x))`.
    pub fn then(&self, other: &Affine) -> Affine {
        // self(other(x))
        Affine {
            a: self.a * other.a + self.b * other.d,
            b: self.a * other.b + self.b * other.e,
            c: self.a * other.c + self.b * other.f + self.c,
            d: self.d * other.a + self.e * other.d,
            e: self.d * other.b + self.e * other.e,
            f: self.d * other.c + self.e * other.f + self.f,
        }
    }

    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        (
            self.a * x + self.b * y + self.c,
            self.d * x + self.e * y + self.f,
        )
    }

    pub fn inverse(&self) -> Option<Affine> {
        let det = self.a * self.e - self.b * self.d;
        if det.abs() < 1e-12 {
            return None;
        }
        let (a, b, d, e) = (self.e / det, -self.b / det, -self.d / det, self.a / det);
        Some(Affine {
            a,
            b,
            c: -(a * self.c + b * self.f),
            d,
            e,
            f: -(d * self.c + e * self.f),
        })
    }
}

/// What a warp samples outside the source image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Border {
    /// The nearest edge pixel.
    Clamp,
    /// A constant colour.
    Fill([u8; 3]),
}

/// Resamples `src` through a destination→source affine map with bilinear interpolation into
/// an image of the same size as `src`.
pub fn warp_affine(src: &RgbImage, m: &Affine, border: Border) -> RgbImage {
    warp_affine_into(src, m, border, src.width(), src.height())
}

/// Like [`warp_affine`] with a chosen output size.
pub fn warp_affine_into(
    src: &RgbImage,
    m: &Affine,
    border: Border,
    out_w: u32,
    out_h: u32,
) -> RgbImage {
    let mut out = RgbImage::new(out_w, out_h);
    let (sw, sh) = (src.width() as i64, src.height() as i64);
    if sw == 0 || sh == 0 {
        return out;
    }
    let data = src.as_raw();
    let stride = sw as usize * 3;
    let (a, d) = (m.a as f32, m.d as f32);
    let out_stride = out_w as usize * 3;
    let (max_x, max_y) = ((sw - 1) as f32, (sh - 1) as f32);
    let buf: &mut [u8] = &mut out;
    for y in 0..out_h as usize {
        let yc = y as f64 + 0.5;
        // Source coordinate of this row's first pixel centre, in "pixel index" space.
        let sx0 = (m.a * 0.5 + m.b * yc + m.c - 0.5) as f32;
        let sy0 = (m.d * 0.5 + m.e * yc + m.f - 0.5) as f32;
        let row = &mut buf[y * out_stride..(y + 1) * out_stride];
        for x in 0..out_w as usize {
            let sx = sx0 + a * x as f32;
            let sy = sy0 + d * x as f32;
            let px = &mut row[x * 3..x * 3 + 3];
            // Fast path: all four neighbours inside (truncation is floor for non-negatives).
            if sx >= 0.0 && sy >= 0.0 && sx < max_x && sy < max_y {
                let (x0, y0) = (sx as usize, sy as usize);
                let (tx, ty) = (sx - x0 as f32, sy - y0 as f32);
                let i00 = y0 * stride + x0 * 3;
                let top = &data[i00..i00 + 6];
                let bot = &data[i00 + stride..i00 + stride + 6];
                for c in 0..3 {
                    let t = top[c] as f32 + (top[c + 3] as f32 - top[c] as f32) * tx;
                    let b = bot[c] as f32 + (bot[c + 3] as f32 - bot[c] as f32) * tx;
                    px[c] = clamp_u8(t + (b - t) * ty);
                }
                continue;
            }
            let fx0 = sx.floor();
            let fy0 = sy.floor();
            let (tx, ty) = (sx - fx0, sy - fy0);
            let (x0, y0) = (fx0 as i64, fy0 as i64);
            if x0 >= 0 && y0 >= 0 && x0 + 1 < sw && y0 + 1 < sh {
                let i00 = y0 as usize * stride + x0 as usize * 3;
                let i10 = i00 + 3;
                let i01 = i00 + stride;
                let i11 = i01 + 3;
                for c in 0..3 {
                    let top =
                        data[i00 + c] as f32 + (data[i10 + c] as f32 - data[i00 + c] as f32) * tx;
                    let bot =
                        data[i01 + c] as f32 + (data[i11 + c] as f32 - data[i01 + c] as f32) * tx;
                    px[c] = clamp_u8(top + (bot - top) * ty);
                }
                continue;
            }
            match border {
                Border::Fill(colour) => {
                    // Outside by more than a pixel: the fill; at the rim: blend with it.
                    if x0 < -1
                        || y0 < -1
                        || x0 >= sw
                        || y0 >= sh
                        || !sx.is_finite()
                        || !sy.is_finite()
                    {
                        px.copy_from_slice(&colour);
                        continue;
                    }
                    let get = |xx: i64, yy: i64, c: usize| -> f32 {
                        if xx < 0 || yy < 0 || xx >= sw || yy >= sh {
                            colour[c] as f32
                        } else {
                            data[yy as usize * stride + xx as usize * 3 + c] as f32
                        }
                    };
                    for (c, out) in px.iter_mut().enumerate() {
                        let top = get(x0, y0, c) + (get(x0 + 1, y0, c) - get(x0, y0, c)) * tx;
                        let bot =
                            get(x0, y0 + 1, c) + (get(x0 + 1, y0 + 1, c) - get(x0, y0 + 1, c)) * tx;
                        *out = clamp_u8(top + (bot - top) * ty);
                    }
                }
                Border::Clamp => {
                    if !sx.is_finite() || !sy.is_finite() {
                        continue;
                    }
                    let cx = |v: i64| v.clamp(0, sw - 1) as usize;
                    let cy = |v: i64| v.clamp(0, sh - 1) as usize;
                    let (xa, xb) = (cx(x0), cx(x0 + 1));
                    let (ya, yb) = (cy(y0), cy(y0 + 1));
                    for c in 0..3 {
                        let g = |xx: usize, yy: usize| data[yy * stride + xx * 3 + c] as f32;
                        let top = g(xa, ya) + (g(xb, ya) - g(xa, ya)) * tx;
                        let bot = g(xa, yb) + (g(xb, yb) - g(xa, yb)) * tx;
                        px[c] = clamp_u8(top + (bot - top) * ty);
                    }
                }
            }
        }
    }
    out
}

/// Resizes with bilinear interpolation (area-averaged first when shrinking by more than 2, so
/// fine detail does not alias).
pub fn resize(src: &RgbImage, out_w: u32, out_h: u32) -> RgbImage {
    if out_w == 0 || out_h == 0 || src.width() == 0 || src.height() == 0 {
        return RgbImage::new(out_w, out_h);
    }
    let mut src_ref: std::borrow::Cow<RgbImage> = std::borrow::Cow::Borrowed(src);
    // Box-filter down by integer factors while the image is more than twice the target.
    loop {
        let fx = src_ref.width() / out_w.max(1);
        let fy = src_ref.height() / out_h.max(1);
        let k = fx.min(fy);
        if k < 2 {
            break;
        }
        src_ref = std::borrow::Cow::Owned(box_shrink(&src_ref, k.min(4)));
    }
    let sx = src_ref.width() as f64 / out_w as f64;
    let sy = src_ref.height() as f64 / out_h as f64;
    let m = Affine {
        a: sx,
        b: 0.0,
        c: 0.0,
        d: 0.0,
        e: sy,
        f: 0.0,
    };
    warp_affine_into(&src_ref, &m, Border::Clamp, out_w, out_h)
}

fn box_shrink(src: &RgbImage, k: u32) -> RgbImage {
    let (w, h) = (src.width() / k, src.height() / k);
    let mut out = RgbImage::new(w.max(1), h.max(1));
    let n = k * k;
    for y in 0..out.height() {
        for x in 0..out.width() {
            let mut s = [0u32; 3];
            for dy in 0..k {
                for dx in 0..k {
                    let p = src.get_pixel(
                        (x * k + dx).min(src.width() - 1),
                        (y * k + dy).min(src.height() - 1),
                    );
                    for c in 0..3 {
                        s[c] += p[c] as u32;
                    }
                }
            }
            out.put_pixel(
                x,
                y,
                image::Rgb([
                    ((s[0] + n / 2) / n) as u8,
                    ((s[1] + n / 2) / n) as u8,
                    ((s[2] + n / 2) / n) as u8,
                ]),
            );
        }
    }
    out
}

/// Separable Gaussian blur (edges clamped). `sigma <= 0` returns a copy.
pub fn gaussian_blur(src: &RgbImage, sigma: f64) -> RgbImage {
    if sigma <= 0.0 || !sigma.is_finite() || src.width() == 0 || src.height() == 0 {
        return src.clone();
    }
    let radius = ((3.0 * sigma).ceil() as usize).clamp(1, 1024);
    let kernel: Vec<f32> = {
        let k: Vec<f64> = (0..=2 * radius)
            .map(|i| {
                let x = i as f64 - radius as f64;
                (-x * x / (2.0 * sigma * sigma)).exp()
            })
            .collect();
        let sum: f64 = k.iter().sum();
        k.iter().map(|v| (v / sum) as f32).collect()
    };
    let (w, h) = (src.width() as usize, src.height() as usize);
    let data = src.as_raw();
    // Horizontal pass into f32, over a row padded with its edge pixels.
    let mut tmp = vec![0f32; w * h * 3];
    let mut padded = vec![0f32; (w + 2 * radius) * 3];
    for y in 0..h {
        let row = &data[y * w * 3..(y + 1) * w * 3];
        for (i, p) in padded.chunks_exact_mut(3).enumerate() {
            let xx = (i as i64 - radius as i64).clamp(0, w as i64 - 1) as usize;
            p.copy_from_slice(&[
                row[xx * 3] as f32,
                row[xx * 3 + 1] as f32,
                row[xx * 3 + 2] as f32,
            ]);
        }
        let out = &mut tmp[y * w * 3..(y + 1) * w * 3];
        for x in 0..w {
            let window = &padded[x * 3..(x + 2 * radius + 1) * 3];
            let mut acc = [0f32; 3];
            for (kv, p) in kernel.iter().zip(window.chunks_exact(3)) {
                acc[0] += kv * p[0];
                acc[1] += kv * p[1];
                acc[2] += kv * p[2];
            }
            out[x * 3..x * 3 + 3].copy_from_slice(&acc);
        }
    }
    // Vertical pass.
    let mut out = RgbImage::new(w as u32, h as u32);
    let buf: &mut [u8] = &mut out;
    let mut acc = vec![0f32; w * 3];
    for y in 0..h {
        acc.iter_mut().for_each(|v| *v = 0.0);
        for (i, &kv) in kernel.iter().enumerate() {
            let yy = (y as i64 + i as i64 - radius as i64).clamp(0, h as i64 - 1) as usize;
            let row = &tmp[yy * w * 3..(yy + 1) * w * 3];
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += kv * v;
            }
        }
        for (o, &a) in buf[y * w * 3..(y + 1) * w * 3].iter_mut().zip(&acc) {
            *o = clamp_u8(a);
        }
    }
    out
}

/// Adds independent Gaussian noise of standard deviation `sigma` (8-bit levels) to every
/// channel of every pixel.
///
/// The normal samples come from a fixed table of 65,536 standard-normal values, picked by the
/// seeded generator 16 bits at a time: as Gaussian as needed here, and about ten times faster
/// than computing each value.
pub fn add_gaussian_noise(image: &mut RgbImage, sigma: f64, rng: &mut Rng) {
    if sigma <= 0.0 || !sigma.is_finite() {
        return;
    }
    let s = sigma as f32;
    let table = gaussian_table();
    for chunk in image.chunks_mut(4) {
        let mut bits = rng.next_u64();
        for p in chunk {
            let z = table[(bits & 0xFFFF) as usize];
            bits >>= 16;
            *p = clamp_u8(*p as f32 + s * z);
        }
    }
}

/// 65,536 standard-normal samples (fixed, the same on every platform).
pub(crate) fn gaussian_table() -> &'static [f32] {
    static TABLE: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut rng = seeded_rng(0x5EED_6A05);
        (0..65536).map(|_| rng.normal() as f32).collect()
    })
}

/// Encodes as JPEG at `quality` (1–100) and decodes again.
pub fn jpeg_roundtrip(image: &RgbImage, quality: u8) -> RgbImage {
    let mut buf = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality.clamp(1, 100));
    if image.write_with_encoder(enc).is_err() {
        return image.clone();
    }
    match crate::source::decode_jpeg(&buf) {
        Ok(img) if img.dimensions() == image.dimensions() => img,
        _ => image.clone(),
    }
}

/// Smooth step from 0 (at `edge0`) to 1 (at `edge1`).
#[inline]
pub(crate) fn smoothstep(edge0: f32, edge1: f32, x: f32) -> f32 {
    let t = ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Draws a pale-blue pleated surgical mask over the lower `coverage` of `face` (ear loops
/// running out to the sides of the box), anti-aliased at its edge.
fn draw_surgical_mask(image: &mut RgbImage, face: &FaceBox, coverage: f64) {
    if coverage <= 0.0 || face.width <= 0.0 || face.height <= 0.0 {
        return;
    }
    let cov = coverage.min(1.0) as f32;
    let (fw, fh) = (face.width, face.height);
    // In face-box units: u across (0..1), v down (0..1).
    let v_top = 1.0 - cov; // top edge at the centre line
    let v_bot = 1.04; // just under the chin
    let half_w_top = 0.47;
    let colour = [196.0f32, 218.0, 232.0];
    let (w, h) = image.dimensions();
    // Bounding box in pixels.
    let x0 = (face.x - 0.1 * fw).floor().max(0.0) as u32;
    let x1 = ((face.x + 1.1 * fw).ceil().max(0.0) as u32).min(w);
    let y0 = (face.y + (v_top - 0.1) * fh).floor().max(0.0) as u32;
    let y1 = ((face.y + (v_bot + 0.02) * fh).ceil().max(0.0) as u32).min(h);
    let aa = 1.0 / fw.min(fh).max(1.0); // one pixel in face units
    for y in y0..y1 {
        for x in x0..x1 {
            let u = (x as f32 + 0.5 - face.x) / fw - 0.5;
            let v = (y as f32 + 0.5 - face.y) / fh;
            // The top edge rises a little over the nose.
            let top = v_top + 0.06 * cov * (u / half_w_top).powi(2);
            let t = ((v - top) / (v_bot - top)).clamp(0.0, 1.0);
            // Narrowing towards the chin like the lower half of an ellipse.
            let narrowing = ((t - 0.35).max(0.0) / 0.65).min(1.0);
            let half_w = half_w_top * (1.0 - narrowing * narrowing).max(0.0).sqrt().max(0.05);
            let inside_v =
                smoothstep(top - aa, top + aa, v) * (1.0 - smoothstep(v_bot - aa, v_bot + aa, v));
            let inside_u = 1.0 - smoothstep(half_w - aa, half_w + aa, u.abs());
            let mut alpha = inside_v * inside_u;
            let mut c = colour;
            if alpha > 0.0 {
                // Three horizontal pleats and a little shading towards the sides.
                let pleat = (t * 4.0 * std::f32::consts::PI).cos();
                let shade =
                    1.0 - 0.06 * pleat.max(0.0).powi(8) - 0.12 * (u.abs() / half_w_top).powi(2);
                for ch in c.iter_mut() {
                    *ch *= shade;
                }
            }
            // Ear loops: thin strings from the mask's upper corners out to the box's sides.
            let loop_v = top + 0.12 * cov;
            let loop_dist = (v - loop_v).abs();
            if alpha < 0.5 && u.abs() > half_w && u.abs() < 0.58 && loop_dist < 1.5 * aa {
                alpha = 0.8;
                c = [235.0, 235.0, 235.0];
            }
            if alpha <= 0.0 {
                continue;
            }
            let p = image.get_pixel_mut(x, y);
            for ch in 0..3 {
                p[ch] = clamp_u8(p[ch] as f32 * (1.0 - alpha) + c[ch] * alpha);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affine_similarity_round_trips() {
        let m = Affine::similarity_about(10.0, 20.0, 0.3, 1.5, 2.0, -3.0);
        let inv = m.inverse().unwrap();
        let (x, y) = inv.apply(4.0, 7.0);
        let (bx, by) = m.apply(x, y);
        assert!((bx - 4.0).abs() < 1e-9 && (by - 7.0).abs() < 1e-9);
        let id = m.then(&inv);
        assert!((id.a - 1.0).abs() < 1e-9 && id.b.abs() < 1e-9 && id.c.abs() < 1e-9);
    }

    #[test]
    fn rng_is_deterministic_and_roughly_normal() {
        let mut a = seeded_rng(7);
        let mut b = seeded_rng(7);
        assert_eq!(a.next_u64(), b.next_u64());
        let n = 20000;
        let xs: Vec<f64> = (0..n).map(|_| a.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.05, "{mean}");
        assert!((var - 1.0).abs() < 0.05, "{var}");
    }
}
