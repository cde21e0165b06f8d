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
    /// SFace's template puts the eyes 35.2 px apart in its 112×112 crop: below 20 px the
    /// crop is magnified more than 1.75× and holds detail the model never saw at training
    /// resolution, and YuNet's landmarks (smallest anchors 8 px) get unreliable. Measured
    /// with this matcher on 495 LFW probes (`tests/matcher_quality.rs`): eye distance
    /// 24.5 px at least, 31 px at the 1st percentile, 41 px median, so the gate never
    /// rejects a usable evaluation image. (ISO/IEC 19794-5 asks 60 px of a token photo; a
    /// 640×480 camera sees about that at arm's length.)
    pub min_interocular_px: f32,
    /// Minimum variance of the 4-neighbour Laplacian of the grey aligned crop over
    /// [`SHARPNESS_REGION`].
    ///
    /// Measured with this matcher on the same 495 LFW probes: sharp crops score 31 at least
    /// (1st percentile 38, median 131). Blurred with a Gaussian of σ (in crop pixels, i.e.
    /// σ · eye distance / 35.2 in the image): σ = 1 → median 37; σ = 1.5 → median 16;
    /// σ = 2 → median 8, 95th percentile 15; σ = 3 → median 3. Genuine-pair FNMR at
    /// SFace's threshold rises from 2.8 % (sharp) to 4.8 % at σ = 2 and 12 % at σ = 3.
    /// 15 rejects about 95 % of σ = 2 and practically all stronger defocus, keeps σ ≤ 1,
    /// and leaves a 2× margin under the softest sharp LFW face.
    pub min_sharpness: f32,
}

impl Default for QualityConfig {
    fn default() -> Self {
        QualityConfig {
            min_interocular_px: 20.0,
            min_sharpness: 15.0,
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
