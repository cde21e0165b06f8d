//! The quality gate: a face must be big enough and sharp enough to be compared at all.
//! Failing it is a failure to acquire (ISO/IEC 19795-1 FTA), not a non-match.

use image::RgbImage;

use super::imageops::laplacian_variance;

/// Region of the aligned 112×112 crop where sharpness is measured: the inner face (eyes,
/// nose, mouth), away from the crop border where a face near the image edge leaves black
/// fill whose hard edge would read as "sharp".
pub const SHARPNESS_REGION: (u32, u32) = (24, 100);

/// Thresholds of the gate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityConfig {
    /// Minimum distance between the eye landmarks, in pixels of the image the face was found
    /// in.
    ///
    /// SFace's template puts the eyes 35.2 px apart in its 112×112 crop. Below 24 px the
    /// crop is magnified more than 1.5× and holds no detail the model was trained on; such
    /// faces are also where YuNet's landmarks become unreliable (its smallest anchors are
    /// 8 px). 24 px is below every face of the LFW subset used for evaluation (250×250
    /// photos, eye distance 38-56 px as measured with this detector, see
    /// `tests/matcher_quality.rs`), so the gate never rejects a usable evaluation image, and
    /// well under the 60 px ISO/IEC 19794-5 asks of a token photo.
    pub min_interocular_px: f32,
    /// Minimum variance of the 4-neighbour Laplacian of the grey aligned crop over
    /// [`SHARPNESS_REGION`].
    ///
    /// Measured with this matcher (`tests/matcher_quality.rs`): sharp LFW crops score in the
    /// hundreds (1st percentile about 60); the same crops after a Gaussian blur of σ = 2 px
    /// (in 112-px crop units, a badly defocused camera) fall to about 5-15. 20 separates the
    /// two with margin on both sides: genuine scores on σ = 2 blurred probes are already
    /// degraded, which is what the gate is meant to catch.
    pub min_sharpness: f32,
}

impl Default for QualityConfig {
    fn default() -> Self {
        QualityConfig {
            min_interocular_px: 24.0,
            min_sharpness: 20.0,
        }
    }
}

impl QualityConfig {
    /// A gate that lets every detected face through (for measurements of the bare
    /// pipeline).
    pub fn disabled() -> QualityConfig {
        QualityConfig {
            min_interocular_px: 0.0,
            min_sharpness: 0.0,
        }
    }
}

/// Sharpness of an aligned crop (see [`QualityConfig::min_sharpness`]).
pub fn sharpness(crop: &RgbImage) -> f32 {
    laplacian_variance(crop, SHARPNESS_REGION.0, SHARPNESS_REGION.1)
}
