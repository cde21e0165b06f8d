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
//! The image kernels the perturbations share with synthetic clips and attacks live in
//! [`crate::imaging`] and are re-exported here under their old paths. The JPEG round trip
//! decodes through [`crate::codec::decode_jpeg`], the one JPEG decoder of the crate.

use std::fmt;

use crate::frame::{Frame, RgbImage};
use crate::imaging::{centre, clamp_u8, edge_mean, map_lut, mean_luma, smoothstep};
use crate::source::{FrameSource, SourceError};

// The kernels' old public paths (`camera_replay::perturb::FaceBox`, …) keep working.
pub use crate::imaging::{
    add_gaussian_noise, gaussian_blur, mix_seed, resize, seeded_rng, warp_affine, warp_affine_into,
    Affine, Border, FaceBox,
};

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
// The perturbations' own image operations
// ---------------------------------------------------------------------------------------------

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

/// Encodes as JPEG at `quality` (1–100) and decodes again.
pub fn jpeg_roundtrip(image: &RgbImage, quality: u8) -> RgbImage {
    let mut buf = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality.clamp(1, 100));
    if image.write_with_encoder(enc).is_err() {
        return image.clone();
    }
    match crate::codec::decode_jpeg(&buf) {
        Ok(img) if img.dimensions() == image.dimensions() => img,
        _ => image.clone(),
    }
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

    /// The JPEG perturbation decodes through the crate's one JPEG path: the pixels are our
    /// libjpeg-turbo-exact decoder's, not the `image` crate's.
    #[test]
    fn jpeg_perturbation_decodes_on_the_exact_path() {
        let img = RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, ((x * y) % 251) as u8])
        });
        let out = Perturbation::Jpeg(70.0).apply(&img, 1);
        let mut buf = Vec::new();
        let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 70);
        img.write_with_encoder(enc).unwrap();
        let (exact, path) = crate::codec::decode_jpeg_with(&buf).unwrap();
        assert_eq!(path, crate::codec::JpegPath::Exact);
        assert_eq!(out, exact);
    }
}
