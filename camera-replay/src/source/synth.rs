//! A synthetic "live camera" clip from one still photo.
//!
//! This is how a card profile's camera video is made from another photo of the same face:
//! the photo is placed in a camera frame (by default 640×480) in front of a blurred copy of
//! itself standing in for the room, and the head — an elliptical region around the face —
//! moves against that static background the way a person in front of a reader does: a small
//! translation, in-plane rotation and scale change (each a sum of two slow sinusoids, 0.15–0.8
//! Hz, with phases from the seed), while the light drifts a little (overall gain and a
//! left–right gradient) and the sensor adds Gaussian noise to every frame. Everything follows
//! from [`ClipSpec::seed`]: the same photo and spec always give the same pixels.
//!
//! Where the face goes: with [`ClipSpec::face`] (the face box in the photo, e.g. from the
//! face detector) the photo is scaled so the face box is [`ClipSpec::face_height`] of the
//! frame height and centred a little above the middle; without it the whole photo is fitted
//! into the frame, and the head region is assumed to be the centre of the photo.
//!
//! It is no replacement for a real camera: there is no depth, no blinking, no expression
//! change. It gives a matcher and a liveness check frames whose motion, light and noise vary
//! the way a live capture's do.

use common::rng::Rng;
use std::f64::consts::PI;

use super::{FrameSource, SourceError};
use crate::frame::{Frame, RgbImage};
use crate::imaging::{
    clamp_u8, gaussian_blur, gaussian_table, mix_seed, resize, seeded_rng, warp_affine,
    warp_affine_into, Affine, Border, FaceBox,
};

/// What clip to synthesise.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipSpec {
    /// Number of frames.
    pub frames: u32,
    /// Frames per second.
    pub fps: f64,
    /// Output frame size.
    pub width: u32,
    pub height: u32,
    /// Everything random (motion, light, noise) follows from this.
    pub seed: u64,
    /// The face box in the photo's pixel coordinates, when known.
    pub face: Option<FaceBox>,
    /// With `face`: the face box's height as a fraction of the frame height.
    pub face_height: f64,
    /// Sensor noise, standard deviation in 8-bit levels.
    pub noise_sigma: f64,
    /// Scale of the motion (1 = the natural amplitudes above, 0 = none).
    pub motion: f64,
}

impl Default for ClipSpec {
    fn default() -> Self {
        ClipSpec {
            frames: 30,
            fps: 15.0,
            width: 640,
            height: 480,
            seed: 0,
            face: None,
            face_height: 0.42,
            noise_sigma: 2.0,
            motion: 1.0,
        }
    }
}

/// A clip could not be synthesised.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClipError {
    #[error("the photo is empty (0×0)")]
    EmptyPhoto,
    #[error("clip spec: {0}")]
    BadSpec(String),
}

impl ClipSpec {
    pub(crate) fn check(&self, photo: &RgbImage) -> Result<(), ClipError> {
        if photo.width() == 0 || photo.height() == 0 {
            return Err(ClipError::EmptyPhoto);
        }
        if self.width < 16 || self.height < 16 || self.width > 8192 || self.height > 8192 {
            return Err(ClipError::BadSpec(format!(
                "frame size {}×{} is outside 16..=8192",
                self.width, self.height
            )));
        }
        if !(self.fps.is_finite() && self.fps > 0.0 && self.fps <= 1000.0) {
            return Err(ClipError::BadSpec(format!(
                "frame rate {} is outside (0, 1000]",
                self.fps
            )));
        }
        if let Some(f) = self.face {
            if !(f.width > 0.0 && f.height > 0.0 && f.x.is_finite() && f.y.is_finite()) {
                return Err(ClipError::BadSpec(format!("face box {f:?} is empty")));
            }
        }
        if !(self.face_height > 0.01 && self.face_height <= 2.0) {
            return Err(ClipError::BadSpec(format!(
                "face_height {} is outside (0.01, 2]",
                self.face_height
            )));
        }
        if !(self.noise_sigma >= 0.0 && self.noise_sigma <= 128.0) {
            return Err(ClipError::BadSpec(format!(
                "noise_sigma {} is outside 0..=128",
                self.noise_sigma
            )));
        }
        if !(self.motion >= 0.0 && self.motion <= 10.0) {
            return Err(ClipError::BadSpec(format!(
                "motion {} is outside 0..=10",
                self.motion
            )));
        }
        Ok(())
    }

    /// Timestamp of frame `index`.
    pub fn timestamp(&self, index: u64) -> std::time::Duration {
        let (n, d) = super::rate_fraction(self.fps);
        super::timestamp_at(index, n, d)
    }
}

/// Where the photo lands in the frame: `out = scale · photo + offset`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    pub scale: f64,
    pub offset: (f64, f64),
    /// The photo's rectangle in the frame: x, y, width, height.
    pub placed: (f64, f64, f64, f64),
    /// The face box in the frame (from the spec's, or assumed).
    pub face: FaceBox,
    pub face_known: bool,
}

impl Layout {
    pub fn new(photo: &RgbImage, spec: &ClipSpec) -> Layout {
        let (pw, ph) = (photo.width() as f64, photo.height() as f64);
        let (w, h) = (spec.width as f64, spec.height as f64);
        let (scale, offset) = match spec.face {
            Some(f) => {
                let k = spec.face_height * h / f.height as f64;
                let (fcx, fcy) = f.centre();
                (k, (w / 2.0 - k * fcx as f64, 0.47 * h - k * fcy as f64))
            }
            None => {
                let k = (w / pw).min(h / ph);
                (k, ((w - k * pw) / 2.0, (h - k * ph) / 2.0))
            }
        };
        let placed = (offset.0, offset.1, scale * pw, scale * ph);
        let face = match spec.face {
            Some(f) => FaceBox {
                x: (scale * f.x as f64 + offset.0) as f32,
                y: (scale * f.y as f64 + offset.1) as f32,
                width: (scale * f.width as f64) as f32,
                height: (scale * f.height as f64) as f32,
            },
            None => {
                // The centre of the placed photo, sized like FaceBox::centred_default.
                let s = placed.2.min(placed.3);
                let (fw, fh) = (0.4 * s, 0.5 * s);
                FaceBox {
                    x: (placed.0 + (placed.2 - fw) / 2.0) as f32,
                    y: (placed.1 + (placed.3 - fh) / 2.0) as f32,
                    width: fw as f32,
                    height: fh as f32,
                }
            }
        };
        Layout {
            scale,
            offset,
            placed,
            face,
            face_known: spec.face.is_some(),
        }
    }

    /// The photo resampled to frame scale and placed over `background` (same size as the
    /// frame); `None` as background fills the rest with `fill`.
    pub fn place(&self, photo: &RgbImage, out_w: u32, out_h: u32, under: Under<'_>) -> RgbImage {
        let sw = (self.placed.2.round() as u32).max(1);
        let sh = (self.placed.3.round() as u32).max(1);
        // Resample only the part that can be visible (a huge zoom stays cheap).
        let scaled = if sw as u64 * sh as u64 <= 4 * out_w as u64 * out_h as u64 {
            Some(resize(photo, sw, sh))
        } else {
            None
        };
        let m = match &scaled {
            Some(s) => Affine {
                a: s.width() as f64 / self.placed.2,
                b: 0.0,
                c: -self.offset.0 * s.width() as f64 / self.placed.2,
                d: 0.0,
                e: s.height() as f64 / self.placed.3,
                f: -self.offset.1 * s.height() as f64 / self.placed.3,
            },
            None => Affine {
                a: 1.0 / self.scale,
                b: 0.0,
                c: -self.offset.0 / self.scale,
                d: 0.0,
                e: 1.0 / self.scale,
                f: -self.offset.1 / self.scale,
            },
        };
        let src = scaled.as_ref().unwrap_or(photo);
        let mut out = warp_affine_into(src, &m, Border::Clamp, out_w, out_h);
        let (x0, y0) = (self.placed.0, self.placed.1);
        let (x1, y1) = (x0 + self.placed.2, y0 + self.placed.3);
        for (x, y, p) in out.enumerate_pixels_mut() {
            let (fx, fy) = (x as f64 + 0.5, y as f64 + 0.5);
            if fx < x0 || fy < y0 || fx >= x1 || fy >= y1 {
                *p = match under {
                    Under::Image(bg) => *bg.get_pixel(x, y),
                    Under::Colour(c) => image::Rgb(c),
                };
            }
        }
        out
    }
}

/// What lies outside the placed photo.
#[derive(Clone, Copy)]
pub(crate) enum Under<'a> {
    Image(&'a RgbImage),
    Colour([u8; 3]),
}

/// The photo blurred and scaled to cover the whole frame: a stand-in for the room.
pub(crate) fn backdrop(photo: &RgbImage, w: u32, h: u32) -> RgbImage {
    let (pw, ph) = (photo.width() as f64, photo.height() as f64);
    let k = (w as f64 / pw).max(h as f64 / ph);
    // Work at 1/8 scale: a heavy blur there is cheap, then scale up.
    let (sw, sh) = ((w / 8).max(2), (h / 8).max(2));
    let cover_w = (pw * k / 8.0).round().max(1.0) as u32;
    let cover_h = (ph * k / 8.0).round().max(1.0) as u32;
    let cover = resize(photo, cover_w.max(sw), cover_h.max(sh));
    let m = Affine {
        a: 1.0,
        b: 0.0,
        c: (cover.width() as f64 - sw as f64) / 2.0,
        d: 0.0,
        e: 1.0,
        f: (cover.height() as f64 - sh as f64) / 2.0,
    };
    let small = warp_affine_into(&cover, &m, Border::Clamp, sw, sh);
    let small = gaussian_blur(&small, 2.0);
    // Darken it a little, like a room behind a lit face.
    let mut big = resize(&small, w, h);
    for p in big.iter_mut() {
        *p = (*p as u16 * 7 / 8) as u8;
    }
    big
}

/// One smooth random trajectory: a sum of two sinusoids.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wave {
    parts: [(f64, f64, f64); 2], // amplitude, frequency (Hz), phase
}

impl Wave {
    pub fn new(rng: &mut Rng, amplitude: f64, f_lo: f64, f_hi: f64) -> Wave {
        let a1 = rng.range(0.55, 0.8);
        let mut parts = [(0.0, 0.0, 0.0); 2];
        for (i, p) in parts.iter_mut().enumerate() {
            let share = if i == 0 { a1 } else { 1.0 - a1 };
            *p = (
                amplitude * share,
                rng.range(f_lo, f_hi),
                rng.range(0.0, 2.0 * PI),
            );
        }
        Wave { parts }
    }

    pub fn at(&self, t: f64) -> f64 {
        self.parts
            .iter()
            .map(|(a, f, p)| a * (2.0 * PI * f * t + p).sin())
            .sum()
    }
}

/// Rigid in-plane motion over time: translation (pixels), rotation (radians), scale.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Motion {
    tx: Wave,
    ty: Wave,
    angle: Wave,
    log_scale: Wave,
}

/// A pose at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pose {
    pub tx: f64,
    pub ty: f64,
    pub angle: f64,
    pub scale: f64,
}

impl Motion {
    /// Amplitudes: translation as a fraction of the frame height, rotation in degrees, scale
    /// as a relative change.
    pub fn new(
        rng: &mut Rng,
        frame_h: f64,
        translate: f64,
        rotate_deg: f64,
        scale: f64,
        f_lo: f64,
        f_hi: f64,
    ) -> Motion {
        Motion {
            tx: Wave::new(rng, translate * frame_h, f_lo, f_hi),
            ty: Wave::new(rng, 0.7 * translate * frame_h, f_lo, f_hi),
            angle: Wave::new(rng, rotate_deg.to_radians(), f_lo, f_hi),
            log_scale: Wave::new(rng, scale, f_lo, f_hi),
        }
    }

    pub fn at(&self, t: f64, amount: f64) -> Pose {
        Pose {
            tx: amount * self.tx.at(t),
            ty: amount * self.ty.at(t),
            angle: amount * self.angle.at(t),
            scale: (amount * self.log_scale.at(t)).exp(),
        }
    }
}

impl Pose {
    /// The forward map of this pose about `(cx, cy)`.
    pub fn forward(&self, cx: f64, cy: f64) -> Affine {
        Affine::similarity(cx, cy, self.angle, self.scale, self.tx, self.ty)
    }

    /// A face box moved by this pose about `(cx, cy)` (kept axis-aligned).
    pub fn move_box(&self, b: &FaceBox, cx: f64, cy: f64) -> FaceBox {
        let (fcx, fcy) = b.centre();
        let (nx, ny) = self.forward(cx, cy).apply(fcx as f64, fcy as f64);
        let (w, h) = (b.width as f64 * self.scale, b.height as f64 * self.scale);
        FaceBox {
            x: (nx - w / 2.0) as f32,
            y: (ny - h / 2.0) as f32,
            width: w as f32,
            height: h as f32,
        }
    }
}

/// Slowly drifting light: overall gain and a left–right gradient.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lighting {
    gain: Wave,
    gradient: Wave,
}

impl Lighting {
    pub fn new(rng: &mut Rng, gain: f64, gradient: f64) -> Lighting {
        Lighting {
            gain: Wave::new(rng, gain, 0.05, 0.3),
            gradient: Wave::new(rng, gradient, 0.05, 0.3),
        }
    }

    /// Per-column multipliers at time `t`.
    pub fn columns(&self, t: f64, width: u32) -> Vec<f32> {
        let g = 1.0 + self.gain.at(t);
        let d = self.gradient.at(t);
        (0..width)
            .map(|x| (g * (1.0 + d * ((x as f64 + 0.5) / width as f64 - 0.5))) as f32)
            .collect()
    }
}

/// Multiplies by per-column light and adds sensor noise in one pass.
pub(crate) fn light_and_noise(image: &mut RgbImage, columns: &[f32], sigma: f64, seed: u64) {
    let table = gaussian_table();
    let mut rng = seeded_rng(seed);
    let s = sigma as f32;
    let w = image.width() as usize;
    let mut bits = 0u64;
    let mut left = 0;
    for (i, p) in image.iter_mut().enumerate() {
        let x = (i / 3) % w;
        let mut v = *p as f32 * columns[x];
        if s > 0.0 {
            if left == 0 {
                bits = rng.next_u64();
                left = 4;
            }
            v += s * table[(bits & 0xFFFF) as usize];
            bits >>= 16;
            left -= 1;
        }
        *p = clamp_u8(v);
    }
}

/// A soft ellipse mask (1 inside, 0 outside, feathered over `feather` of the radius).
pub(crate) fn ellipse_mask(
    w: u32,
    h: u32,
    cx: f64,
    cy: f64,
    ax: f64,
    ay: f64,
    feather: f64,
) -> Vec<f32> {
    let mut m = vec![0f32; w as usize * h as usize];
    for y in 0..h {
        for x in 0..w {
            let dx = (x as f64 + 0.5 - cx) / ax;
            let dy = (y as f64 + 0.5 - cy) / ay;
            let r = (dx * dx + dy * dy).sqrt();
            let v = ((1.0 - r) / feather).clamp(0.0, 1.0);
            m[(y * w + x) as usize] = (v * v * (3.0 - 2.0 * v)) as f32;
        }
    }
    m
}

/// A live-camera clip synthesised from one photo (see the module docs). Frames are rendered
/// on demand, so a long clip costs no memory; [`LiveClip::frame`] gives any frame directly.
pub struct LiveClip {
    spec: ClipSpec,
    /// The static scene: backdrop with the photo placed on it.
    still: RgbImage,
    head_mask: Vec<f32>,
    head_centre: (f64, f64),
    layout: Layout,
    motion: Motion,
    lighting: Lighting,
    next: u32,
}

impl LiveClip {
    pub fn new(photo: &RgbImage, spec: ClipSpec) -> Result<LiveClip, ClipError> {
        spec.check(photo)?;
        let (w, h) = (spec.width, spec.height);
        let layout = Layout::new(photo, &spec);
        let back = backdrop(photo, w, h);
        let still = layout.place(photo, w, h, Under::Image(&back));
        let f = layout.face;
        // The head: the face box and some hair above it.
        let head_centre = (
            f.x as f64 + f.width as f64 / 2.0,
            f.y as f64 + 0.42 * f.height as f64,
        );
        let head_mask = ellipse_mask(
            w,
            h,
            head_centre.0,
            head_centre.1,
            0.95 * f.width as f64,
            1.05 * f.height as f64,
            0.35,
        );
        let mut rng = seeded_rng(mix_seed(spec.seed, 0x11FE));
        let motion = Motion::new(&mut rng, h as f64, 0.012, 2.5, 0.03, 0.15, 0.8);
        let lighting = Lighting::new(&mut rng, 0.04, 0.08);
        Ok(LiveClip {
            spec,
            still,
            head_mask,
            head_centre,
            layout,
            motion,
            lighting,
            next: 0,
        })
    }

    pub fn spec(&self) -> &ClipSpec {
        &self.spec
    }

    fn pose(&self, t: f64) -> Pose {
        self.motion.at(t, self.spec.motion)
    }

    /// The scene at time `t` (seconds) with light drift but without sensor noise: what a
    /// screen showing a recording of this person would show.
    pub fn render_clean(&self, t: f64) -> RgbImage {
        let mut img = self.render_motion(t);
        let cols = self.lighting.columns(t, self.spec.width);
        light_and_noise(&mut img, &cols, 0.0, 0);
        img
    }

    fn render_motion(&self, t: f64) -> RgbImage {
        let pose = self.pose(t);
        let inv = pose
            .forward(self.head_centre.0, self.head_centre.1)
            .inverse()
            .unwrap_or(Affine::IDENTITY);
        let moved = warp_affine(&self.still, &inv, Border::Clamp);
        let mut out = self.still.clone();
        for ((o, m), a) in out
            .chunks_exact_mut(3)
            .zip(moved.chunks_exact(3))
            .zip(self.head_mask.iter())
        {
            if *a > 0.0 {
                for c in 0..3 {
                    o[c] = clamp_u8(o[c] as f32 + (m[c] as f32 - o[c] as f32) * a);
                }
            }
        }
        out
    }

    /// Frame `index` (any index; frames past `spec.frames` continue the motion).
    pub fn frame(&self, index: u32) -> Frame {
        let ts = self.spec.timestamp(index as u64);
        let t = ts.as_secs_f64();
        let mut img = self.render_motion(t);
        let cols = self.lighting.columns(t, self.spec.width);
        light_and_noise(
            &mut img,
            &cols,
            self.spec.noise_sigma,
            mix_seed(self.spec.seed, 0x5E45_0000 + index as u64),
        );
        Frame {
            index: index as u64,
            timestamp: ts,
            image: img,
        }
    }

    /// The face box in frame `index` (moved with the head): exact up to the box staying
    /// axis-aligned when the spec gave the photo's face box, else the assumed central box.
    pub fn face_box(&self, index: u32) -> FaceBox {
        self.face_box_at(self.spec.timestamp(index as u64).as_secs_f64())
    }

    /// The face box at time `t` (seconds).
    pub fn face_box_at(&self, t: f64) -> FaceBox {
        self.pose(t)
            .move_box(&self.layout.face, self.head_centre.0, self.head_centre.1)
    }

    /// Whether [`LiveClip::face_box`] comes from a known face box (else it is assumed).
    pub fn face_box_known(&self) -> bool {
        self.layout.face_known
    }

    /// All frames of the spec.
    pub fn frames(&self) -> Vec<Frame> {
        (0..self.spec.frames).map(|i| self.frame(i)).collect()
    }
}

impl FrameSource for LiveClip {
    fn next_frame(&mut self) -> Option<Result<Frame, SourceError>> {
        if self.next >= self.spec.frames {
            return None;
        }
        let f = self.frame(self.next);
        self.next += 1;
        Some(Ok(f))
    }

    fn frame_rate(&self) -> f64 {
        self.spec.fps
    }

    fn frame_size(&self) -> (u32, u32) {
        (self.spec.width, self.spec.height)
    }

    fn describe(&self) -> String {
        format!(
            "synthetic live clip ({} frames {}×{} at {} fps, seed {}, face box {})",
            self.spec.frames,
            self.spec.width,
            self.spec.height,
            self.spec.fps,
            self.spec.seed,
            if self.layout.face_known {
                "given"
            } else {
                "assumed central"
            }
        )
    }

    fn frame_count(&self) -> Option<u64> {
        Some(self.spec.frames as u64)
    }
}
