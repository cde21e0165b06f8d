//! The reference face matcher: YuNet (detection, 5 landmarks) and SFace (128-d embedding)
//! on ONNX Runtime, computing what OpenCV's `FaceDetectorYN` + `FaceRecognizerSF` compute
//! (`tests/opencv_agreement.rs` checks it against OpenCV itself).
//!
//! Pipeline for one image:
//! 1. letterbox into 640×640 (scale to fit, keep aspect ratio, zeros right and bottom),
//!    planar BGR floats as OpenCV feeds YuNet; decode, NMS, map back to the image;
//! 2. take the largest face; align it to SFace's 112×112 template with a similarity
//!    transform of its five landmarks (on the original image, not the letterbox);
//! 3. quality gate (eye distance, sharpness): failure is a failure to acquire;
//! 4. SFace on the RGB crop; L2-normalised embedding = [`Template`]; comparison is the
//!    cosine similarity, a match at or above [`MatcherConfig::threshold`] (OpenCV's 0.363).
//!
//! One [`FaceMatcher`] owns its two ONNX Runtime sessions and scratch buffers: use one per
//! thread (it is `Send`). For video, [`FaceTracker`] skips detection on frames where the
//! face has not moved.

pub mod align;
pub mod detect;
pub mod enrolment;
pub mod imageops;
/// The baseline JPEG decoder lives in [`crate::codec::jpeg`]; its old path stays.
pub use crate::codec::jpeg;
pub mod prelu;
pub mod quality;
pub mod tight;
mod track;

use std::path::Path;
use std::time::{Duration, Instant};

use image::RgbImage;
use ort::session::Session;
use ort::value::TensorRef;

use crate::runtime::{self, RuntimeError, RuntimePaths, SessionOptions};

pub use detect::{DetectorConfig, Face};
pub use enrolment::{EnrolmentConfig, PadBorder};
pub use quality::QualityConfig;
pub use track::{FaceTracker, FrameMatch, FrameResult, TrackerConfig};

use detect::StrideOutputs;
use imageops::{Letterbox, PlanarCanvas, ResizeScratch, CROP_SIDE, DETECT_SIDE};

/// OpenCV's cosine-similarity threshold for SFace (`cosine >= 0.363` is the same person).
pub const DEFAULT_THRESHOLD: f32 = 0.363;
/// Length of an SFace embedding.
pub const EMBEDDING_LEN: usize = 128;
/// Images smaller than this on either side are refused before detection.
pub const MIN_IMAGE_SIDE: u32 = 16;

const YUNET_OUTPUTS: [&str; 12] = [
    "cls_8", "cls_16", "cls_32", "obj_8", "obj_16", "obj_32", "bbox_8", "bbox_16", "bbox_32",
    "kps_8", "kps_16", "kps_32",
];

/// Everything the matcher can be told.
#[derive(Debug, Clone, PartialEq)]
pub struct MatcherConfig {
    /// Where ONNX Runtime and the models are; `None`: from the environment
    /// ([`RuntimePaths::from_env`]).
    pub runtime: Option<RuntimePaths>,
    pub session: SessionOptions,
    pub detector: DetectorConfig,
    pub quality: QualityConfig,
    /// How [`FaceMatcher::enrol`] pads its image before detection (the probe side never
    /// pads).
    pub enrolment: EnrolmentConfig,
    /// Cosine similarity at or above which two faces match.
    pub threshold: f32,
    /// Rewrite SFace's PRelu activations for ONNX Runtime (same function, about twice as
    /// fast; see [`prelu`]). Off: PRelu as published. Either way SFace's initializers are
    /// dropped from its graph inputs at load ([`prelu::prepare`]).
    pub fast_prelu: bool,
}

impl Default for MatcherConfig {
    fn default() -> Self {
        MatcherConfig {
            runtime: None,
            session: SessionOptions::default(),
            detector: DetectorConfig::default(),
            quality: QualityConfig::default(),
            enrolment: EnrolmentConfig::default(),
            threshold: DEFAULT_THRESHOLD,
            fast_prelu: true,
        }
    }
}

/// The matcher could not start (or ONNX Runtime failed outside an acquisition).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MatcherError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("{model} model does not have the expected inputs/outputs: {message}")]
    Model {
        model: &'static str,
        message: String,
    },
    #[error("inference failed: {0}")]
    Inference(String),
}

/// Why no template could be made from an image.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AcquireFailure {
    #[error("image could not be decoded: {0}")]
    Undecodable(String),
    #[error("image is {width}×{height}, smaller than {MIN_IMAGE_SIDE} px on a side")]
    ImageTooSmall { width: u32, height: u32 },
    #[error("no face found")]
    NoFace,
    #[error("face landmarks are degenerate (no alignment possible)")]
    BadLandmarks { face: Face },
    #[error("face too small: eyes {interocular_px:.1} px apart, at least {min_px:.1} needed")]
    FaceTooSmall {
        face: Face,
        interocular_px: f32,
        min_px: f32,
    },
    #[error("face too blurred: sharpness {sharpness:.1}, at least {min:.1} needed")]
    TooBlurred {
        face: Face,
        sharpness: f32,
        min: f32,
    },
    /// ONNX Runtime failed: a fault of the test system, not of the presentation.
    #[error("matcher engine failed: {0}")]
    Engine(String),
}

/// The kind of failure, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    Undecodable,
    ImageTooSmall,
    NoFace,
    BadLandmarks,
    FaceTooSmall,
    TooBlurred,
    Engine,
}

impl AcquireFailure {
    pub fn kind(&self) -> FailureKind {
        match self {
            AcquireFailure::Undecodable(_) => FailureKind::Undecodable,
            AcquireFailure::ImageTooSmall { .. } => FailureKind::ImageTooSmall,
            AcquireFailure::NoFace => FailureKind::NoFace,
            AcquireFailure::BadLandmarks { .. } => FailureKind::BadLandmarks,
            AcquireFailure::FaceTooSmall { .. } => FailureKind::FaceTooSmall,
            AcquireFailure::TooBlurred { .. } => FailureKind::TooBlurred,
            AcquireFailure::Engine(_) => FailureKind::Engine,
        }
    }

    /// True for failures of the presentation (count as failure to acquire); false for
    /// [`AcquireFailure::Engine`], a fault of the test system.
    pub fn is_failure_to_acquire(&self) -> bool {
        !matches!(self, AcquireFailure::Engine(_))
    }

    /// The same failure with its face (if any) moved by `(dx, dy)`.
    pub fn translated(self, dx: f32, dy: f32) -> AcquireFailure {
        match self {
            AcquireFailure::BadLandmarks { face } => AcquireFailure::BadLandmarks {
                face: face.translated(dx, dy),
            },
            AcquireFailure::FaceTooSmall {
                face,
                interocular_px,
                min_px,
            } => AcquireFailure::FaceTooSmall {
                face: face.translated(dx, dy),
                interocular_px,
                min_px,
            },
            AcquireFailure::TooBlurred {
                face,
                sharpness,
                min,
            } => AcquireFailure::TooBlurred {
                face: face.translated(dx, dy),
                sharpness,
                min,
            },
            other => other,
        }
    }

    /// The face the failure is about, when one was found.
    pub fn face(&self) -> Option<&Face> {
        match self {
            AcquireFailure::BadLandmarks { face }
            | AcquireFailure::FaceTooSmall { face, .. }
            | AcquireFailure::TooBlurred { face, .. } => Some(face),
            _ => None,
        }
    }
}

impl From<MatcherError> for AcquireFailure {
    fn from(e: MatcherError) -> Self {
        AcquireFailure::Engine(e.to_string())
    }
}

/// Time spent in each step of one acquisition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepTimings {
    /// Letterbox, YuNet, decoding and NMS (zero when a tracker reused landmarks).
    pub detect: Duration,
    /// Similarity transform, warp, quality gate.
    pub align: Duration,
    /// SFace and normalisation.
    pub embed: Duration,
}

impl StepTimings {
    pub fn total(&self) -> Duration {
        self.detect + self.align + self.embed
    }
}

/// Measures of the quality gate for an accepted face.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityMeasures {
    pub interocular_px: f32,
    pub sharpness: f32,
}

/// An enrolled or probed face: its L2-normalised SFace embedding and where it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    embedding: [f32; EMBEDDING_LEN],
    pub face: Face,
    pub quality: QualityMeasures,
    pub timings: StepTimings,
}

impl Template {
    /// The unit-length embedding.
    pub fn embedding(&self) -> &[f32; EMBEDDING_LEN] {
        &self.embedding
    }

    /// Builds a template from a raw embedding (normalised here), e.g. one stored earlier.
    /// `None` when the vector is zero or not finite.
    pub fn from_embedding(
        raw: &[f32; EMBEDDING_LEN],
        face: Face,
        quality: QualityMeasures,
    ) -> Option<Template> {
        let embedding = normalise(raw)?;
        Some(Template {
            embedding,
            face,
            quality,
            timings: StepTimings::default(),
        })
    }
}

fn normalise(raw: &[f32; EMBEDDING_LEN]) -> Option<[f32; EMBEDDING_LEN]> {
    let norm = raw
        .iter()
        .map(|v| f64::from(*v).powi(2))
        .sum::<f64>()
        .sqrt();
    if !(norm.is_finite() && norm > 0.0) {
        return None;
    }
    Some(raw.map(|v| (f64::from(v) / norm) as f32))
}

/// Cosine similarity of two templates, in [-1, 1].
pub fn compare(a: &Template, b: &Template) -> f32 {
    cosine(&a.embedding, &b.embedding)
}

/// Cosine similarity of two vectors (0 when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa <= 0.0 || bb <= 0.0 {
        return 0.0;
    }
    (ab / (aa.sqrt() * bb.sqrt())) as f32
}

/// Result of comparing two images.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub score: f32,
    pub threshold: f32,
    pub is_match: bool,
    pub a: Template,
    pub b: Template,
}

/// Decodes an encoded image (JPEG, PNG, PNM); greyscale becomes RGB with equal channels.
///
/// JPEGs go through [`crate::codec::decode_jpeg`], the crate's one JPEG path: baseline JPEGs
/// are decoded by [`jpeg`] to exactly the pixels libjpeg-turbo (OpenCV's `imread`) gives,
/// other JPEGs and other formats by the `image` crate. EXIF orientation is not applied (as
/// `cv::IMREAD_IGNORE_ORIENTATION`).
pub fn decode_image(bytes: &[u8]) -> Result<RgbImage, AcquireFailure> {
    crate::codec::decode_image(bytes).map_err(AcquireFailure::Undecodable)
}

/// Reads and decodes an image file.
pub fn load_image(path: &Path) -> Result<RgbImage, AcquireFailure> {
    let bytes = std::fs::read(path)
        .map_err(|e| AcquireFailure::Undecodable(format!("{}: {e}", path.display())))?;
    decode_image(&bytes)
}

pub use imageops::rgb_from_luma;

/// The matcher: two ONNX Runtime sessions and reusable buffers.
pub struct FaceMatcher {
    config: MatcherConfig,
    detector: Session,
    recognizer: Session,
    canvas: PlanarCanvas,
    resized: RgbImage,
    scratch: ResizeScratch,
    padded: RgbImage,
    crop: RgbImage,
    crop_planes: Vec<f32>,
    candidates: Vec<Face>,
}

impl std::fmt::Debug for FaceMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaceMatcher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn check_io(
    session: &Session,
    model: &'static str,
    inputs: &[&str],
    outputs: &[&str],
) -> Result<(), MatcherError> {
    for name in inputs {
        if !session.inputs().iter().any(|o| o.name() == *name) {
            return Err(MatcherError::Model {
                model,
                message: format!("no input {name}"),
            });
        }
    }
    for name in outputs {
        if !session.outputs().iter().any(|o| o.name() == *name) {
            return Err(MatcherError::Model {
                model,
                message: format!("no output {name}"),
            });
        }
    }
    Ok(())
}

impl FaceMatcher {
    /// Checks the runtime and models, loads ONNX Runtime (once per process) and opens both
    /// models. Never panics when something is missing: see [`RuntimeError`].
    pub fn load(config: &MatcherConfig) -> Result<FaceMatcher, MatcherError> {
        let paths = match &config.runtime {
            Some(p) => p.clone(),
            None => RuntimePaths::from_env()?,
        };
        let files = paths.check()?;
        let env = runtime::environment(&paths)?;
        let detector = runtime::session(&env, &files.yunet, &config.session)?;
        // SFace is read as published and prepared here, in memory (see [`prelu`]).
        let bytes = std::fs::read(&files.sface).map_err(|e| RuntimeError::Session {
            path: files.sface.clone(),
            message: e.to_string(),
        })?;
        let recognizer = match prelu::prepare(&bytes, config.fast_prelu) {
            Some((model, _)) => {
                runtime::session_from_bytes(&env, &model, &files.sface, &config.session)?
            }
            None => runtime::session_from_bytes(&env, &bytes, &files.sface, &config.session)?,
        };
        check_io(&detector, "YuNet", &["input"], &YUNET_OUTPUTS)?;
        check_io(&recognizer, "SFace", &["data"], &["fc1"])?;
        Ok(FaceMatcher {
            config: config.clone(),
            detector,
            recognizer,
            canvas: PlanarCanvas::new(DETECT_SIDE),
            resized: RgbImage::new(1, 1),
            scratch: ResizeScratch::default(),
            padded: RgbImage::new(1, 1),
            crop: RgbImage::new(CROP_SIDE, CROP_SIDE),
            crop_planes: vec![0.0; 3 * (CROP_SIDE * CROP_SIDE) as usize],
            candidates: Vec::new(),
        })
    }

    pub fn config(&self) -> &MatcherConfig {
        &self.config
    }

    /// Changes the detector and quality settings and the threshold (the runtime and session
    /// settings are fixed at load).
    pub fn set_thresholds(
        &mut self,
        detector: DetectorConfig,
        quality: QualityConfig,
        threshold: f32,
    ) {
        self.config.detector = detector;
        self.config.quality = quality;
        self.config.threshold = threshold;
    }

    /// Changes how [`FaceMatcher::enrol`] pads its image.
    pub fn set_enrolment(&mut self, enrolment: EnrolmentConfig) {
        self.config.enrolment = enrolment;
    }

    /// All faces in the image, best score first, in image coordinates.
    pub fn detect(&mut self, img: &RgbImage) -> Result<Vec<Face>, AcquireFailure> {
        let (w, h) = img.dimensions();
        if w < MIN_IMAGE_SIDE || h < MIN_IMAGE_SIDE {
            return Err(AcquireFailure::ImageTooSmall {
                width: w,
                height: h,
            });
        }
        let lb = Letterbox::new(w, h, DETECT_SIDE);
        if lb.is_identity() {
            self.canvas.put_bgr(img);
        } else {
            imageops::resize_bilinear(
                img,
                lb.width,
                lb.height,
                &mut self.resized,
                &mut self.scratch,
            );
            self.canvas.put_bgr(&self.resized);
        }
        let side = i64::from(DETECT_SIDE);
        let input = TensorRef::from_array_view(([1i64, 3, side, side], &self.canvas.data[..]))
            .map_err(|e| AcquireFailure::Engine(e.to_string()))?;
        let outputs = self
            .detector
            .run(ort::inputs!["input" => input])
            .map_err(|e| AcquireFailure::Engine(e.to_string()))?;
        let mut tensors: [&[f32]; 12] = [&[]; 12];
        for (slot, name) in tensors.iter_mut().zip(YUNET_OUTPUTS) {
            let value = outputs
                .get(name)
                .ok_or_else(|| AcquireFailure::Engine(format!("YuNet gave no {name}")))?;
            *slot = value
                .try_extract_tensor::<f32>()
                .map_err(|e| AcquireFailure::Engine(e.to_string()))?
                .1;
        }
        let strides: [StrideOutputs<'_>; 3] = std::array::from_fn(|i| StrideOutputs {
            stride: 8 << i,
            cls: tensors[i],
            obj: tensors[3 + i],
            bbox: tensors[6 + i],
            kps: tensors[9 + i],
        });
        self.candidates.clear();
        detect::decode(
            &strides,
            DETECT_SIDE,
            self.config.detector.score_threshold,
            &mut self.candidates,
        );
        drop(outputs);
        let faces = detect::nms(std::mem::take(&mut self.candidates), &self.config.detector);
        Ok(faces.into_iter().map(|f| f.to_source(&lb)).collect())
    }

    /// Aligns a face found by [`FaceMatcher::detect`] (or kept from an earlier frame),
    /// applies the quality gate and embeds it. The template's `timings.detect` is zero.
    pub fn template_for(
        &mut self,
        img: &RgbImage,
        face: &Face,
    ) -> Result<Template, AcquireFailure> {
        self.template_timed(img, face, StepTimings::default())
    }

    /// [`FaceMatcher::template_for`], filling in align and embed times on top of `timings`.
    pub(crate) fn template_timed(
        &mut self,
        img: &RgbImage,
        face: &Face,
        timings: StepTimings,
    ) -> Result<Template, AcquireFailure> {
        let mut timings = timings;
        let t0 = Instant::now();
        let q = self.config.quality;
        let interocular_px = face.interocular();
        if interocular_px < q.min_interocular_px {
            return Err(AcquireFailure::FaceTooSmall {
                face: *face,
                interocular_px,
                min_px: q.min_interocular_px,
            });
        }
        let m = align::similarity_transform(&face.landmarks)
            .ok_or(AcquireFailure::BadLandmarks { face: *face })?;
        imageops::warp_affine_112(img, &m, &mut self.crop);
        let sharpness = quality::sharpness(&self.crop);
        if sharpness < q.min_sharpness {
            return Err(AcquireFailure::TooBlurred {
                face: *face,
                sharpness,
                min: q.min_sharpness,
            });
        }
        let t1 = Instant::now();
        timings.align = t1 - t0;
        let raw = self.embed_crop()?;
        let embedding = normalise(&raw).ok_or_else(|| {
            AcquireFailure::Engine("SFace gave a zero or non-finite embedding".into())
        })?;
        timings.embed = t1.elapsed();
        Ok(Template {
            embedding,
            face: *face,
            quality: QualityMeasures {
                interocular_px,
                sharpness,
            },
            timings,
        })
    }

    /// The aligned 112×112 RGB crop of the last [`FaceMatcher::template_for`] (or
    /// [`FaceMatcher::embed_aligned`]).
    pub fn last_crop(&self) -> &RgbImage {
        &self.crop
    }

    /// SFace on an already aligned 112×112 RGB crop: the raw (not normalised) embedding.
    pub fn embed_aligned(
        &mut self,
        crop: &RgbImage,
    ) -> Result<[f32; EMBEDDING_LEN], AcquireFailure> {
        if crop.dimensions() != (CROP_SIDE, CROP_SIDE) {
            return Err(AcquireFailure::Engine(format!(
                "aligned crop must be {CROP_SIDE}×{CROP_SIDE}, got {:?}",
                crop.dimensions()
            )));
        }
        self.crop.clone_from(crop);
        self.embed_crop()
    }

    fn embed_crop(&mut self) -> Result<[f32; EMBEDDING_LEN], AcquireFailure> {
        imageops::fill_rgb_planes(&self.crop, &mut self.crop_planes);
        let side = i64::from(CROP_SIDE);
        let input = TensorRef::from_array_view(([1i64, 3, side, side], &self.crop_planes[..]))
            .map_err(|e| AcquireFailure::Engine(e.to_string()))?;
        let outputs = self
            .recognizer
            .run(ort::inputs!["data" => input])
            .map_err(|e| AcquireFailure::Engine(e.to_string()))?;
        let value = outputs
            .get("fc1")
            .ok_or_else(|| AcquireFailure::Engine("SFace gave no fc1".into()))?;
        let (_, data) = value
            .try_extract_tensor::<f32>()
            .map_err(|e| AcquireFailure::Engine(e.to_string()))?;
        if data.len() != EMBEDDING_LEN {
            return Err(AcquireFailure::Engine(format!(
                "SFace gave {} values, expected {EMBEDDING_LEN}",
                data.len()
            )));
        }
        Ok(std::array::from_fn(|i| data[i]))
    }

    /// Detects, takes the largest face (highest score among equals), gates and embeds it.
    pub fn acquire(&mut self, img: &RgbImage) -> Result<Template, AcquireFailure> {
        self.acquire_since(img, Instant::now())
    }

    /// [`FaceMatcher::acquire`], its detection time counted from `t0`.
    fn acquire_since(&mut self, img: &RgbImage, t0: Instant) -> Result<Template, AcquireFailure> {
        let faces = self.detect(img)?;
        let face = largest(&faces).ok_or(AcquireFailure::NoFace)?;
        let timings = StepTimings {
            detect: t0.elapsed(),
            ..StepTimings::default()
        };
        self.template_timed(img, &face, timings)
    }

    /// The reference template from an enrolment image (e.g. the chip photo; for a
    /// greyscale image use [`rgb_from_luma`] or [`decode_image`] first).
    ///
    /// The image is first padded as [`MatcherConfig::enrolment`] says
    /// ([`enrolment::pad`], `cv2.copyMakeBorder`); detection, alignment and the quality gate
    /// run on the padded image (a landmark near the edge keeps its context in the warp), and
    /// the template's `face` (and the face of a failure) is given in the coordinates of
    /// `img`. Where no face reaches the detector's score threshold, a second detection runs
    /// at [`EnrolmentConfig::fallback_score_threshold`]. The time spent padding (and on a
    /// first detection that found nothing) counts as detection.
    pub fn enrol(&mut self, img: &RgbImage) -> Result<Template, AcquireFailure> {
        let t0 = Instant::now();
        let (w, h) = img.dimensions();
        let (px, py) = self.config.enrolment.padding(w, h);
        if w < MIN_IMAGE_SIDE || h < MIN_IMAGE_SIDE || (px, py) == (0, 0) {
            return self.enrol_since(img, t0);
        }
        let mut padded = std::mem::take(&mut self.padded);
        enrolment::pad_into(img, px, py, self.config.enrolment.border, &mut padded);
        let result = self.enrol_since(&padded, t0);
        self.padded = padded;
        let (dx, dy) = (-(px as f32), -(py as f32));
        match result {
            Ok(mut t) => {
                t.face = t.face.translated(dx, dy);
                Ok(t)
            }
            Err(e) => Err(e.translated(dx, dy)),
        }
    }

    /// [`FaceMatcher::acquire_since`], then, if no face reached the detector's threshold,
    /// once more at [`EnrolmentConfig::fallback_score_threshold`].
    fn enrol_since(&mut self, img: &RgbImage, t0: Instant) -> Result<Template, AcquireFailure> {
        let first = self.acquire_since(img, t0);
        let usual = self.config.detector.score_threshold;
        match (first, self.config.enrolment.fallback_below(usual)) {
            (Err(AcquireFailure::NoFace), Some(low)) => {
                self.config.detector.score_threshold = low;
                let second = self.acquire_since(img, t0);
                self.config.detector.score_threshold = usual;
                second
            }
            (first, _) => first,
        }
    }

    /// A probe template from a camera image.
    pub fn probe(&mut self, img: &RgbImage) -> Result<Template, AcquireFailure> {
        self.acquire(img)
    }

    /// Cosine similarity of two templates.
    pub fn compare(&self, a: &Template, b: &Template) -> f32 {
        compare(a, b)
    }

    /// Whether a score is a match under this matcher's threshold.
    pub fn is_match(&self, score: f32) -> bool {
        score >= self.config.threshold
    }

    /// Enrols `a`, probes `b` and compares them.
    pub fn compare_images(
        &mut self,
        a: &RgbImage,
        b: &RgbImage,
    ) -> Result<Comparison, AcquireFailure> {
        let a = self.enrol(a)?;
        let b = self.probe(b)?;
        let score = compare(&a, &b);
        Ok(Comparison {
            score,
            threshold: self.config.threshold,
            is_match: self.is_match(score),
            a,
            b,
        })
    }
}

/// The face with the largest box (the higher score among equal areas).
pub fn largest(faces: &[Face]) -> Option<Face> {
    faces.iter().copied().reduce(|best, f| {
        if f.area() > best.area() || (f.area() == best.area() && f.score > best.score) {
            f
        } else {
            best
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(w: f32, score: f32) -> Face {
        Face {
            bbox: [0.0, 0.0, w, w],
            landmarks: [[0.0; 2]; 5],
            score,
        }
    }

    #[test]
    fn cosine_basics() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-7);
        assert!(cosine(&[1.0, 0.0], &[0.0, 3.0]).abs() < 1e-7);
        assert!((cosine(&[1.0, 1.0], &[-2.0, -2.0]) + 1.0).abs() < 1e-7);
        assert!((cosine(&[3.0, 4.0], &[4.0, 3.0]) - 0.96).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }

    #[test]
    fn templates_are_normalised_and_compare_by_cosine() {
        let mut a = [0.0f32; EMBEDDING_LEN];
        let mut b = [0.0f32; EMBEDDING_LEN];
        a[0] = 3.0;
        a[1] = 4.0;
        b[0] = 4.0;
        b[1] = 3.0;
        let q = QualityMeasures {
            interocular_px: 40.0,
            sharpness: 100.0,
        };
        let ta = Template::from_embedding(&a, face(10.0, 0.9), q).unwrap();
        let tb = Template::from_embedding(&b, face(10.0, 0.9), q).unwrap();
        let n: f32 = ta.embedding().iter().map(|v| v * v).sum();
        assert!((n - 1.0).abs() < 1e-6);
        assert!((compare(&ta, &tb) - 0.96).abs() < 1e-6);
        assert!(Template::from_embedding(&[0.0; EMBEDDING_LEN], face(1.0, 1.0), q).is_none());
        assert!(Template::from_embedding(&[f32::NAN; EMBEDDING_LEN], face(1.0, 1.0), q).is_none());
    }

    #[test]
    fn largest_face_wins_then_score() {
        let faces = [
            face(10.0, 0.99),
            face(30.0, 0.91),
            face(30.0, 0.95),
            face(20.0, 0.97),
        ];
        assert_eq!(largest(&faces), Some(face(30.0, 0.95)));
        assert_eq!(largest(&[]), None);
    }

    #[test]
    fn corrupt_and_empty_input_is_a_typed_failure() {
        assert!(matches!(
            decode_image(b"not an image"),
            Err(AcquireFailure::Undecodable(_))
        ));
        assert!(matches!(
            decode_image(&[0xff, 0xd8, 0xff, 0xe0, 0, 16]),
            Err(AcquireFailure::Undecodable(_))
        ));
        assert!(matches!(
            decode_image(&[]),
            Err(AcquireFailure::Undecodable(_))
        ));
        let e = load_image(Path::new("/nonexistent/x.jpg")).unwrap_err();
        assert_eq!(e.kind(), FailureKind::Undecodable);
        assert!(e.is_failure_to_acquire());
        assert!(!AcquireFailure::Engine("x".into()).is_failure_to_acquire());
    }

    #[test]
    fn greyscale_png_decodes_to_equal_channels() {
        let g = image::GrayImage::from_fn(20, 10, |x, _| image::Luma([x as u8 * 10]));
        let mut png = Vec::new();
        image::DynamicImage::ImageLuma8(g)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let rgb = decode_image(&png).unwrap();
        assert_eq!(rgb.get_pixel(3, 4).0, [30, 30, 30]);
    }

    #[test]
    fn matcher_is_send() {
        fn is_send<T: Send>() {}
        is_send::<FaceMatcher>();
        is_send::<Template>();
    }
}
