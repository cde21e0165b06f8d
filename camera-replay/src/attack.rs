//! Presentation attacks, synthesised: the holder's photo turned into the clip a camera would
//! record when someone presents a print, a screen or a still image instead of a live face.
//!
//! Every species is deterministic from [`ClipSpec::seed`] and uses the same layout as the
//! live clip of [`LiveClip`] (same photo, same spec → the face in the same place), so a
//! scenario can swap a live clip for an attack and nothing else changes.
//!
//! | species | name | what the camera sees |
//! |---|---|---|
//! | [`AttackSpecies::GreyscalePrint`] | `print-greyscale` | a black-and-white laser print on warm paper, held in front of the camera: the whole sheet moves as one rigid plane (hand sway and tremor) |
//! | [`AttackSpecies::HalftonePrint`] | `print-halftone` | a colour print whose CMYK dot screens (cyan 15°, magenta 75°, yellow 0°, black 45°, a dot every ~4.5 camera pixels) are resolved by the camera; rigid motion |
//! | [`AttackSpecies::FlatPrint`] | `print-flat` | a matte colour print: inks cannot reach black nor paper white, so the dynamic range is compressed, colours a little washed out and tinted by the paper; rigid motion |
//! | [`AttackSpecies::ScreenReplay`] | `screen-replay` | a phone or monitor playing a video of the person: display gamma and white point, raised black level, the moiré of the pixel grid against the sensor, content changing at the screen's own frame rate ([`AttackOptions::screen_fps`]) while the device is held by hand |
//! | [`AttackSpecies::StillPhoto`] | `still-photo` | one image injected as every frame: identical frames, no motion, no fresh noise |
//!
//! These model the *artefacts* named above, not the physics of real prints and screens.

use common::rng::Rng;
use std::f64::consts::PI;

use crate::frame::{Frame, RgbImage};
use crate::imaging::{clamp_u8, gaussian_blur, mix_seed, seeded_rng, warp_affine, Border, FaceBox};
use crate::source::synth::{
    backdrop, light_and_noise, ClipError, ClipSpec, Layout, Lighting, LiveClip, Motion, Under,
};
use crate::source::{FrameSource, SourceError};

/// A kind of presentation attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttackSpecies {
    GreyscalePrint,
    HalftonePrint,
    FlatPrint,
    ScreenReplay,
    StillPhoto,
}

/// An unknown attack name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unknown presentation attack `{name}` (known: {known})")]
pub struct UnknownAttack {
    pub name: String,
    pub known: String,
}

impl AttackSpecies {
    pub const ALL: [AttackSpecies; 5] = [
        AttackSpecies::GreyscalePrint,
        AttackSpecies::HalftonePrint,
        AttackSpecies::FlatPrint,
        AttackSpecies::ScreenReplay,
        AttackSpecies::StillPhoto,
    ];

    /// Every species as `(name, description)`, in the order of [`AttackSpecies::ALL`].
    pub const KINDS: &'static [(&'static str, &'static str)] = &[
        (
            "print-greyscale",
            "black-and-white print on paper, moved by hand as a rigid plane",
        ),
        (
            "print-halftone",
            "colour print with visible CMYK halftone dots, moved as a rigid plane",
        ),
        (
            "print-flat",
            "matte colour print: compressed dynamic range and paper tint, moved as a rigid plane",
        ),
        (
            "screen-replay",
            "video of the person replayed on a screen: display gamma, moiré, the screen's frame rate",
        ),
        (
            "still-photo",
            "one still image as every frame: no motion, identical frames",
        ),
    ];

    pub fn name(&self) -> &'static str {
        Self::KINDS[self.position()].0
    }

    pub fn description(&self) -> &'static str {
        Self::KINDS[self.position()].1
    }

    fn position(&self) -> usize {
        Self::ALL.iter().position(|s| s == self).expect("in ALL")
    }

    pub fn from_name(name: &str) -> Result<AttackSpecies, UnknownAttack> {
        Self::KINDS
            .iter()
            .position(|(n, _)| *n == name)
            .map(|i| Self::ALL[i])
            .ok_or_else(|| UnknownAttack {
                name: name.to_string(),
                known: Self::KINDS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Prints of any kind.
    pub fn is_print(&self) -> bool {
        matches!(
            self,
            AttackSpecies::GreyscalePrint | AttackSpecies::HalftonePrint | AttackSpecies::FlatPrint
        )
    }
}

impl std::fmt::Display for AttackSpecies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Parameters of the attacks beyond the clip spec.
#[derive(Debug, Clone, PartialEq)]
pub struct AttackOptions {
    /// Screen replay: frames per second of the video shown on the screen. The camera sees
    /// each screen frame until the next one (below the camera's rate, frames repeat).
    pub screen_fps: f64,
    /// Halftone print: dot pitch in camera pixels.
    pub halftone_pitch: f64,
}

impl Default for AttackOptions {
    fn default() -> Self {
        AttackOptions {
            screen_fps: 30.0,
            halftone_pitch: 4.5,
        }
    }
}

/// Paper white (a little warm), as linear reflectance per channel.
const PAPER: [f32; 3] = [0.95, 0.93, 0.87];

/// A presentation-attack clip made from one photo. Frames are rendered on demand.
pub struct AttackClip {
    species: AttackSpecies,
    spec: ClipSpec,
    options: AttackOptions,
    layout: Layout,
    /// Prints: the sheet as the camera sees it at rest. Still photo: the one frame.
    surface: Option<RgbImage>,
    /// Screen replay: the video on the screen.
    screen: Option<LiveClip>,
    hand: Motion,
    lighting: Lighting,
    moire: Moire,
    next: u32,
}

#[derive(Debug, Clone, Copy)]
struct Moire {
    /// Fine grating: frequency (cycles per pixel), direction, depth.
    f1: f64,
    theta1: f64,
    depth1: f64,
    /// Beat band.
    f2: f64,
    theta2: f64,
    depth2: f64,
    phase: f64,
    drift: f64,
}

impl AttackClip {
    pub fn new(
        photo: &RgbImage,
        species: AttackSpecies,
        spec: ClipSpec,
        options: AttackOptions,
    ) -> Result<AttackClip, ClipError> {
        spec.check(photo)?;
        if species == AttackSpecies::ScreenReplay
            && !(options.screen_fps.is_finite() && options.screen_fps > 0.0)
        {
            return Err(ClipError::BadSpec(format!(
                "screen_fps {} is not positive",
                options.screen_fps
            )));
        }
        if species == AttackSpecies::HalftonePrint
            && !(options.halftone_pitch.is_finite() && options.halftone_pitch >= 2.0)
        {
            return Err(ClipError::BadSpec(format!(
                "halftone_pitch {} is below 2 pixels",
                options.halftone_pitch
            )));
        }
        let (w, h) = (spec.width, spec.height);
        let layout = Layout::new(photo, &spec);
        let mut rng = seeded_rng(mix_seed(spec.seed, 0xA77A_C0DE));
        // A hand holding a sheet or a phone: sway plus a little faster tremor.
        let hand = Motion::new(&mut rng, h as f64, 0.012, 1.5, 0.02, 0.2, 1.5);
        let lighting = Lighting::new(&mut rng, 0.03, 0.04);
        let moire = Moire {
            f1: rng.range(0.30, 0.40),
            theta1: rng.range(5.0, 40.0).to_radians(),
            depth1: rng.range(0.18, 0.26),
            f2: rng.range(0.02, 0.05),
            theta2: rng.range(-60.0, 60.0).to_radians(),
            depth2: rng.range(0.06, 0.12),
            phase: rng.range(0.0, 2.0 * PI),
            drift: rng.range(0.3, 1.2),
        };
        let mut surface = None;
        let mut screen = None;
        match species {
            AttackSpecies::GreyscalePrint
            | AttackSpecies::HalftonePrint
            | AttackSpecies::FlatPrint => {
                let paper = paper_colour();
                let placed = layout.place(photo, w, h, Under::Colour(paper));
                let printed = match species {
                    AttackSpecies::GreyscalePrint => greyscale_print(&placed),
                    AttackSpecies::FlatPrint => flat_print(&placed),
                    _ => halftone_print(&placed, options.halftone_pitch, &mut rng),
                };
                // The camera is focused on a sheet a little closer than a face would be.
                surface = Some(gaussian_blur(&printed, 0.6));
            }
            AttackSpecies::StillPhoto => {
                let back = backdrop(photo, w, h);
                let mut still = layout.place(photo, w, h, Under::Image(&back));
                let cols = vec![1.0f32; w as usize];
                light_and_noise(
                    &mut still,
                    &cols,
                    spec.noise_sigma,
                    mix_seed(spec.seed, 0x57),
                );
                surface = Some(still);
            }
            AttackSpecies::ScreenReplay => {
                let content_spec = ClipSpec {
                    seed: mix_seed(spec.seed, 0x5C2E),
                    noise_sigma: 0.0,
                    ..spec.clone()
                };
                screen = Some(LiveClip::new(photo, content_spec)?);
            }
        }
        Ok(AttackClip {
            species,
            spec,
            options,
            layout,
            surface,
            screen,
            hand,
            lighting,
            moire,
            next: 0,
        })
    }

    pub fn species(&self) -> AttackSpecies {
        self.species
    }

    pub fn spec(&self) -> &ClipSpec {
        &self.spec
    }

    fn centre(&self) -> (f64, f64) {
        (self.spec.width as f64 / 2.0, self.spec.height as f64 / 2.0)
    }

    /// Frame `index`.
    pub fn frame(&self, index: u32) -> Frame {
        let ts = self.spec.timestamp(index as u64);
        let t = ts.as_secs_f64();
        let noise_seed = mix_seed(self.spec.seed, 0xF4A3_0000 + index as u64);
        let (cx, cy) = self.centre();
        let image = match self.species {
            AttackSpecies::StillPhoto => self.surface.clone().expect("still image"),
            AttackSpecies::GreyscalePrint
            | AttackSpecies::HalftonePrint
            | AttackSpecies::FlatPrint => {
                let pose = self.hand.at(t, self.spec.motion);
                let inv = pose
                    .forward(cx, cy)
                    .inverse()
                    .unwrap_or(crate::imaging::Affine::IDENTITY);
                let surface = self.surface.as_ref().expect("print surface");
                let mut img = warp_affine(surface, &inv, Border::Clamp);
                let cols = self.lighting.columns(t, self.spec.width);
                light_and_noise(&mut img, &cols, self.spec.noise_sigma, noise_seed);
                img
            }
            AttackSpecies::ScreenReplay => {
                let screen = self.screen.as_ref().expect("screen content");
                // The screen shows its own frame k until frame k+1.
                let k = (t * self.options.screen_fps + 1e-9).floor();
                let shown = screen.render_clean(k / self.options.screen_fps);
                let displayed = display(&shown);
                let pose = self.hand.at(t, self.spec.motion);
                let inv = pose
                    .forward(cx, cy)
                    .inverse()
                    .unwrap_or(crate::imaging::Affine::IDENTITY);
                let mut img = warp_affine(&displayed, &inv, Border::Fill([6, 6, 8]));
                self.apply_moire(&mut img, t);
                let cols = self.lighting.columns(t, self.spec.width);
                light_and_noise(&mut img, &cols, self.spec.noise_sigma, noise_seed);
                img
            }
        };
        Frame {
            index: index as u64,
            timestamp: ts,
            image,
        }
    }

    fn apply_moire(&self, img: &mut RgbImage, t: f64) {
        let m = self.moire;
        let phase1 = m.phase + 2.0 * PI * m.drift * t;
        let phase2 = 0.37 * m.phase + 2.0 * PI * 0.3 * m.drift * t;
        let (w, h) = (img.width() as usize, img.height() as usize);
        // cos(u·x + v·y + φ) = cos(u·x)·cos(v·y + φ) − sin(u·x)·sin(v·y + φ): per-column and
        // per-row tables make it two products per pixel.
        let grating = |f: f64, theta: f64, phase: f64| {
            let (s, c) = theta.sin_cos();
            let cols: Vec<(f32, f32)> = (0..w)
                .map(|x| {
                    let (sn, cs) = (2.0 * PI * f * c * x as f64).sin_cos();
                    (cs as f32, sn as f32)
                })
                .collect();
            let rows: Vec<(f32, f32)> = (0..h)
                .map(|y| {
                    let (sn, cs) = (2.0 * PI * f * s * y as f64 + phase).sin_cos();
                    (cs as f32, sn as f32)
                })
                .collect();
            (cols, rows)
        };
        let (c1, r1) = grating(m.f1, m.theta1, phase1);
        let (c2, r2) = grating(m.f2, m.theta2, phase2);
        let (d1, d2) = (m.depth1 as f32, m.depth2 as f32);
        for (y, row) in img.chunks_exact_mut(w * 3).enumerate() {
            for (x, p) in row.chunks_exact_mut(3).enumerate() {
                let g1 = 0.5 + 0.5 * (c1[x].0 * r1[y].0 - c1[x].1 * r1[y].1);
                let g2 = 0.5 + 0.5 * (c2[x].0 * r2[y].0 - c2[x].1 * r2[y].1);
                let k = (1.0 - d1 * g1) * (1.0 - d2 * g2);
                for v in p.iter_mut() {
                    *v = clamp_u8(*v as f32 * k);
                }
            }
        }
    }

    /// The face box in frame `index` (moved with the sheet or screen; for the screen, with
    /// the head in the replayed video too).
    pub fn face_box(&self, index: u32) -> FaceBox {
        let t = self.spec.timestamp(index as u64).as_secs_f64();
        let (cx, cy) = self.centre();
        let face = self.layout.face;
        match self.species {
            AttackSpecies::StillPhoto => face,
            AttackSpecies::ScreenReplay => {
                let screen = self.screen.as_ref().expect("screen content");
                let k = (t * self.options.screen_fps + 1e-9).floor();
                let shown_index_time = k / self.options.screen_fps;
                let on_screen = screen.face_box_at(shown_index_time);
                self.hand
                    .at(t, self.spec.motion)
                    .move_box(&on_screen, cx, cy)
            }
            _ => self.hand.at(t, self.spec.motion).move_box(&face, cx, cy),
        }
    }

    /// All frames of the spec.
    pub fn frames(&self) -> Vec<Frame> {
        (0..self.spec.frames).map(|i| self.frame(i)).collect()
    }
}

impl FrameSource for AttackClip {
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
            "presentation attack {} ({} frames {}×{} at {} fps, seed {})",
            self.species,
            self.spec.frames,
            self.spec.width,
            self.spec.height,
            self.spec.fps,
            self.spec.seed
        )
    }

    fn frame_count(&self) -> Option<u64> {
        Some(self.spec.frames as u64)
    }
}

fn paper_colour() -> [u8; 3] {
    [
        (PAPER[0] * 255.0) as u8,
        (PAPER[1] * 255.0) as u8,
        (PAPER[2] * 255.0) as u8,
    ]
}

/// Black toner on paper: reflectance from the luminance, tinted by the paper.
fn greyscale_print(img: &RgbImage) -> RgbImage {
    let mut out = img.clone();
    for p in out.chunks_exact_mut(3) {
        let y = (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) / 255.0;
        let reflect = 0.06 + 0.94 * y.powf(1.1);
        for c in 0..3 {
            p[c] = clamp_u8(255.0 * PAPER[c] * reflect);
        }
    }
    out
}

/// A matte colour print: black ink still reflects, paper is never white, colours wash out.
fn flat_print(img: &RgbImage) -> RgbImage {
    let mut out = img.clone();
    for p in out.chunks_exact_mut(3) {
        let y = (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) / 255.0;
        for c in 0..3 {
            let v = p[c] as f32 / 255.0;
            let v = 0.75 * v + 0.25 * y; // washed out
            let reflect = 0.24 + 0.62 * v;
            p[c] = clamp_u8(255.0 * PAPER[c] * reflect);
        }
    }
    out
}

/// A CMYK halftone print with rotated screens of round dots.
fn halftone_print(img: &RgbImage, pitch: f64, rng: &mut Rng) -> RgbImage {
    let angles = [15.0f64, 75.0, 0.0, 45.0].map(|d| d.to_radians());
    let offsets: Vec<(f64, f64)> = (0..4)
        .map(|_| (rng.range(0.0, pitch), rng.range(0.0, pitch)))
        .collect();
    let rot: Vec<(f64, f64)> = angles.iter().map(|a| a.sin_cos()).collect();
    let mut out = img.clone();
    let w = img.width();
    for (i, p) in out.chunks_exact_mut(3).enumerate() {
        let x = (i as u32 % w) as f64 + 0.5;
        let y = (i as u32 / w) as f64 + 0.5;
        let (r, g, b) = (
            p[0] as f64 / 255.0,
            p[1] as f64 / 255.0,
            p[2] as f64 / 255.0,
        );
        // Simple grey-component replacement.
        let k = 1.0 - r.max(g).max(b);
        let (c, m, yl) = if k >= 0.999 {
            (0.0, 0.0, 0.0)
        } else {
            (
                (1.0 - r - k) / (1.0 - k),
                (1.0 - g - k) / (1.0 - k),
                (1.0 - b - k) / (1.0 - k),
            )
        };
        let mut ink = [0f64; 4];
        for (j, cov) in [c, m, yl, k].into_iter().enumerate() {
            let (s, co) = rot[j];
            let (ox, oy) = offsets[j];
            let u = ((x + ox) * co + (y + oy) * s) / pitch;
            let v = (-(x + ox) * s + (y + oy) * co) / pitch;
            // 0 at the dot centres, 1 between them.
            let threshold = 0.5 - 0.25 * ((2.0 * PI * u).cos() + (2.0 * PI * v).cos());
            ink[j] = ((cov - threshold) / 0.12 + 0.5).clamp(0.0, 1.0);
        }
        let kf = 1.0 - 0.9 * ink[3];
        let refl = [
            (1.0 - 0.85 * ink[0]) * kf,
            (1.0 - 0.85 * ink[1]) * kf,
            (1.0 - 0.85 * ink[2]) * kf,
        ];
        for ch in 0..3 {
            p[ch] = clamp_u8((255.0 * PAPER[ch] as f64 * refl[ch]) as f32);
        }
    }
    out
}

/// A display as the camera sees it: gamma mismatch, cool white point, glowing black.
fn display(img: &RgbImage) -> RgbImage {
    let white = [0.90f32, 0.95, 1.0];
    let luts: Vec<Vec<u8>> = white
        .iter()
        .map(|wp| {
            (0..256)
                .map(|v| {
                    let x = (v as f32 / 255.0).powf(1.3);
                    clamp_u8(255.0 * (0.05 + 0.9 * wp * x))
                })
                .collect()
        })
        .collect();
    let mut out = img.clone();
    for p in out.chunks_exact_mut(3) {
        for c in 0..3 {
            p[c] = luts[c][p[c] as usize];
        }
    }
    out
}
