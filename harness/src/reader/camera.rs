//! What a reader needs of its camera and face matcher, as a trait the reader owns: the
//! reference reader drives the face path through it, a device driver has the camera made
//! into a clip through it, and the harness's face bench (`crate::face::FaceKit`) implements it.
//! So readers never depend on how frames are made or faces are matched.

use crate::clips::{ClipFile, ClipFormat};
use camera_replay::replay::ReplaySummary;
use std::time::Duration;

/// How the reference reader runs the face path.
#[derive(Clone, Copy, Debug)]
pub struct FacePolicy {
    /// Tries before the PIN is offered.
    pub tries: u8,
    /// Longest a try may look at the camera.
    pub try_time: Duration,
    /// Consecutive failures that lock the face path.
    pub lock_after: u8,
    /// Frames a try looks at before it decides (the liveness check needs several).
    pub frames_per_try: usize,
}

impl Default for FacePolicy {
    fn default() -> Self {
        FacePolicy {
            tries: 3,
            try_time: Duration::from_secs(3),
            lock_after: crate::rules::FACE_LOCK_AFTER,
            frames_per_try: 8,
        }
    }
}

/// One try at the camera.
#[derive(Clone, Debug)]
pub struct TryOutcome {
    pub frames: u32,
    pub best_score: Option<f32>,
    /// A frame scored at or above the threshold.
    pub matched: bool,
    /// The presentation-attack check: `Err` says why the presentation looks like an attack.
    pub presentation: Result<(), String>,
    /// The clip ran out: no further try can see anything.
    pub camera_ended: bool,
}

/// A case's camera and face matcher.
pub trait FaceCamera: Send {
    fn policy(&self) -> FacePolicy;
    /// Consecutive face failures of this card before the case (earlier visits).
    fn earlier_failures(&self) -> u8;
    /// Sets the consecutive failures before the case (a device told so by the bench).
    fn set_earlier_failures(&mut self, n: u8);
    /// Decodes the chip photo (greyscale JPEG 2000) and enrols it.
    fn enrol_chip_photo(&mut self, jp2: &[u8]) -> Result<(), String>;
    /// Starts the camera: the footage plays at its frame rate from now on.
    fn start_camera(&mut self) -> Result<(), String>;
    /// One try: frames within the policy's limits, scored against the chip photo, then the
    /// presentation-attack check.
    fn attempt(&mut self) -> TryOutcome;
    /// Durations of the camera's sub-steps so far (decode, per-frame work).
    fn timings(&mut self) -> Vec<(String, Duration)>;
    /// Stops the camera; what the replay measured (frames, drops, release jitter).
    fn stop_camera(&mut self) -> Option<ReplaySummary>;
    /// The camera's footage as a clip a device is handed, in `format`.
    fn clip(&self, format: ClipFormat) -> Result<ClipFile, String>;
    /// What the footage is made from: two cameras with the same key make the same clip (so
    /// a clip a device already holds need not be made again).
    fn footage_key(&self) -> String;
}
