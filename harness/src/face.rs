//! The harness's side of the face path: builds a case's camera (a live clip synthesised
//! from a cached photo, or a recorded clip; perturbed; or made into a presentation attack),
//! lends the reader a face matcher, and runs one face-matching try at a time. Everything
//! about pixels and models is `camera_replay`'s; this module only wires it to cases.

use crate::cards::LoadedCard;
use crate::clips::{ClipFile, ClipFormat};
use crate::reader::{FaceCamera, FacePolicy, TryOutcome};
use crate::scenario::{Camera, CameraSource, Case, MatcherSettings};
use camera_replay::attack::{AttackClip, AttackOptions};
use camera_replay::frame::{Frame, RgbImage};
use camera_replay::liveness::{self, AttackCue, LivenessConfig};
use camera_replay::matcher::{
    rgb_from_luma, FaceMatcher, FaceTracker, MatcherConfig, TrackerConfig,
};
use camera_replay::perturb::{FaceBox, Perturbation, Perturbed};
use camera_replay::replay::{
    Next, Pacing, Replay, ReplayOptions, ReplaySummary, SteppedReplay, WhenFull,
};
use camera_replay::source::{ClipSpec, FrameSource, LiveClip, SourceOptions};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Face matchers shared by the cases of a run: loading one costs a few hundred
/// milliseconds, so each is loaded once (when the first face case needs it) and lent to one
/// case at a time. With them, what a run computes again and again and always gets the
/// same: a chip photo's enrolment, and the frames of a synthetic live clip.
#[derive(Clone, Default)]
pub struct MatcherPool {
    idle: Arc<Mutex<Vec<FaceMatcher>>>,
    enrolled: Arc<Mutex<Enrolled>>,
    clips: Arc<Mutex<LiveClips>>,
}

/// Chip photos enrolled in this run, by the photo's bytes and the enrolment settings: the
/// matcher is deterministic (one thread, the same model), so the template is the one a
/// fresh enrolment gives. At most [`MAX_ENROLLED`]; past it the map starts over.
#[derive(Default)]
struct Enrolled(std::collections::HashMap<(Vec<u8>, String), camera_replay::matcher::Template>);

const MAX_ENROLLED: usize = 256;

/// Synthetic live clips of this run and the frames made of them so far, by everything a
/// clip's pixels follow from (the photo's source, its face box, the spec): a clip's frame
/// is a pure function of those. The newest [`MAX_LIVE_CLIPS`] are kept (a 640×480 clip of
/// 45 frames holds 41 MB); cases that share one usually run close together.
#[derive(Default)]
struct LiveClips(std::collections::VecDeque<(String, Arc<SharedClip>)>);

const MAX_LIVE_CLIPS: usize = 6;

/// One live clip, its frames made on demand and kept.
struct SharedClip {
    clip: LiveClip,
    frames: Mutex<Vec<Option<Frame>>>,
}

impl SharedClip {
    fn frame(&self, index: u32) -> Frame {
        let at = index as usize;
        if let Some(frame) = self
            .frames
            .lock()
            .ok()
            .and_then(|f| f.get(at).cloned().flatten())
        {
            return frame;
        }
        let frame = self.clip.frame(index);
        if let Ok(mut frames) = self.frames.lock() {
            if frames.len() <= at {
                frames.resize(at + 1, None);
            }
            frames[at] = Some(frame.clone());
        }
        frame
    }
}

/// A case's view of a [`SharedClip`]: its own position, the shared frames.
struct SharedClipSource {
    clip: Arc<SharedClip>,
    next: u32,
}

impl FrameSource for SharedClipSource {
    fn next_frame(&mut self) -> Option<Result<Frame, camera_replay::source::SourceError>> {
        if self.next >= self.clip.clip.spec().frames {
            return None;
        }
        let frame = self.clip.frame(self.next);
        self.next += 1;
        Some(Ok(frame))
    }
    fn frame_rate(&self) -> f64 {
        self.clip.clip.frame_rate()
    }
    fn frame_size(&self) -> (u32, u32) {
        self.clip.clip.frame_size()
    }
    fn describe(&self) -> String {
        self.clip.clip.describe()
    }
    fn frame_count(&self) -> Option<u64> {
        self.clip.clip.frame_count()
    }
}

impl MatcherPool {
    /// `photo`'s live clip of `spec` (`key`: what the photo is), shared with the run's
    /// other cases that play the same clip.
    fn live_clip(
        &self,
        key: String,
        photo: &RgbImage,
        spec: ClipSpec,
    ) -> Result<SharedClipSource, String> {
        let key = format!("{key}|{spec:?}");
        let known = self.clips.lock().ok().and_then(|clips| {
            clips
                .0
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, c)| c.clone())
        });
        let clip = match known {
            Some(clip) => clip,
            None => {
                let clip = Arc::new(SharedClip {
                    clip: LiveClip::new(photo, spec).map_err(|e| e.to_string())?,
                    frames: Mutex::new(Vec::new()),
                });
                if let Ok(mut clips) = self.clips.lock() {
                    if clips.0.len() >= MAX_LIVE_CLIPS {
                        clips.0.pop_front();
                    }
                    clips.0.push_back((key, clip.clone()));
                }
                clip
            }
        };
        Ok(SharedClipSource { clip, next: 0 })
    }

    /// `matcher`'s enrolment of `image` (a decoded chip photo, `bytes` as read from the
    /// card), computed once per run for the same photo and settings.
    fn enrol(
        &self,
        matcher: &mut FaceMatcher,
        bytes: &[u8],
        image: &RgbImage,
    ) -> Result<camera_replay::matcher::Template, camera_replay::matcher::AcquireFailure> {
        let key = (bytes.to_vec(), format!("{:?}", matcher.config()));
        if let Some(t) = self
            .enrolled
            .lock()
            .ok()
            .and_then(|e| e.0.get(&key).cloned())
        {
            return Ok(t);
        }
        let template = matcher.enrol(image)?;
        if let Ok(mut enrolled) = self.enrolled.lock() {
            if enrolled.0.len() >= MAX_ENROLLED {
                enrolled.0.clear();
            }
            enrolled.0.insert(key, template.clone());
        }
        Ok(template)
    }
}

impl MatcherPool {
    pub fn new() -> Self {
        MatcherPool::default()
    }

    /// An idle matcher, or a new one; the error names the command that installs the runtime.
    pub fn lend(&self) -> Result<FaceMatcher, String> {
        if let Some(m) = self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            return Ok(m);
        }
        FaceMatcher::load(&MatcherConfig::default()).map_err(|e| format!("face matcher: {e}"))
    }

    /// Takes a matcher back, its settings reset to the defaults (a case's `matcher:` never
    /// leaks into the next case).
    pub fn give_back(&self, mut matcher: FaceMatcher) {
        with_settings(&mut matcher, &MatcherSettings::default());
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(matcher);
        }
    }
}

/// Where the face is in a photo (the largest the detector finds), so a clip made from it
/// frames the face as a camera would; `None` when it finds none.
pub fn framing(matcher: &mut FaceMatcher, photo: &RgbImage) -> Option<FaceBox> {
    matcher
        .detect(photo)
        .ok()
        .and_then(|faces| camera_replay::matcher::largest(&faces))
        .map(|f| FaceBox::from_xywh(f.bbox))
}

/// `matcher` with a case's settings (the defaults where the case says nothing).
pub fn with_settings(matcher: &mut FaceMatcher, settings: &MatcherSettings) {
    let default = MatcherConfig::default();
    let mut detector = default.detector;
    if let Some(t) = settings.detector_threshold {
        detector.score_threshold = t;
    }
    let mut enrolment = default.enrolment;
    if let Some(m) = settings.enrol_margin {
        enrolment.margin = m;
    }
    if let Some(t) = settings.enrol_fallback_threshold {
        enrolment.fallback_score_threshold = (t > 0.0).then_some(t);
    }
    matcher.set_thresholds(detector, default.quality, default.threshold);
    matcher.set_enrolment(enrolment);
}

/// The camera's frames, not started yet.
enum Footage {
    Photo {
        photo: RgbImage,
        face: Option<FaceBox>,
    },
    Clip(std::path::PathBuf),
}

/// Which clock the camera runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Clock {
    /// The in-process reader: frames on the clip's own clock, taken one by one, never
    /// dropped, so CPU load cannot change what a try sees (nor the verdict).
    Virtual,
    /// A device's camera (the reference device playing a clip it was sent): real time,
    /// frames the reader is too slow for are dropped, as a camera driver would.
    RealTime,
}

/// Wall time the in-process face path spent working on frames of its virtual clock (the
/// matcher and the liveness check). In process a try's "3 s" are 3 s of the clip, however
/// long the machine takes to look at them; the engine adds this time to the step's deadline,
/// so a loaded machine cannot turn a slow try into a missed deadline either. A device under
/// test has no such credit: its speed is part of what is measured.
#[derive(Clone, Debug, Default)]
pub struct StoppedClock(Arc<Mutex<Stopped>>);

#[derive(Debug, Default)]
struct Stopped {
    total: Duration,
    /// A try in progress since then: its time counts as it runs, so a deadline never falls
    /// in the middle of a try the credit would have covered.
    since: Option<Instant>,
}

impl StoppedClock {
    fn start(&self) {
        if let Ok(mut s) = self.0.lock() {
            s.since = Some(Instant::now());
        }
    }

    fn stop(&self) {
        if let Ok(mut s) = self.0.lock() {
            if let Some(t) = s.since.take() {
                s.total += t.elapsed();
            }
        }
    }

    /// Credits the time until the guard is dropped.
    fn running(&self) -> Running {
        self.start();
        Running(self.clone())
    }

    /// All the time credited so far, a try in progress included.
    pub fn total(&self) -> Duration {
        self.0.lock().map_or(Duration::ZERO, |s| {
            s.total + s.since.map_or(Duration::ZERO, |t| t.elapsed())
        })
    }
}

/// Credits a [`StoppedClock`] while it lives.
struct Running(StoppedClock);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// A playing camera.
enum Playing {
    Virtual(SteppedReplay<Box<dyn FrameSource>>),
    RealTime(Replay),
}

impl Playing {
    fn finish(self) -> ReplaySummary {
        match self {
            Playing::Virtual(r) => r.finish(),
            Playing::RealTime(r) => r.finish(),
        }
    }
}

/// The camera and matcher of one case.
pub struct FaceKit {
    clock: Clock,
    /// Credited with the time of every try on the virtual clock.
    stopped: StoppedClock,
    policy: FacePolicy,
    earlier_failures: u8,
    pool: MatcherPool,
    matcher: Option<FaceMatcher>,
    tracker: Option<FaceTracker>,
    footage: Footage,
    camera: Camera,
    replay: Option<Playing>,
    timings: Vec<(String, Duration)>,
}

impl Drop for FaceKit {
    fn drop(&mut self) {
        if let Some(replay) = self.replay.take() {
            replay.finish();
        }
        let matcher = self
            .tracker
            .take()
            .map(FaceTracker::into_matcher)
            .or(self.matcher.take());
        if let Some(m) = matcher {
            self.pool.give_back(m);
        }
    }
}

/// The case's camera: its own `camera:`, or the card's patient, live, with defaults.
pub fn camera_of(case: &Case, card: &LoadedCard) -> Result<Camera, String> {
    if let Some(c) = &case.camera {
        return Ok(c.clone());
    }
    let photo = card.faces.patient_photo.clone().ok_or_else(|| {
        format!(
            "no camera: the case has no `camera` and profile `{}` no `patient_photo`",
            card.profile.name
        )
    })?;
    Ok(Camera {
        source: CameraSource::Photo(photo),
        attack: None,
        perturb: Vec::new(),
        seed: 1,
        fps: 15.0,
        frames: 45,
        earlier_failures: 0,
        origin: crate::scenario::Origin {
            file: case.file.clone(),
            line: 0,
            column: 0,
        },
    })
}

impl FaceKit {
    /// The kit of a face case: a matcher lent from `pool` and the case's footage loaded
    /// (not yet playing). Runs at bench setup, so model loading is not part of any step.
    pub fn for_case(case: &Case, card: &LoadedCard, pool: &MatcherPool) -> Result<FaceKit, String> {
        let camera = camera_of(case, card)?;
        let mut matcher = pool.lend()?;
        with_settings(&mut matcher, &case.matcher);
        let footage = match &camera.source {
            CameraSource::Photo(name) => {
                let path = crate::photos::photo_path(name).map_err(|e| e.to_string())?;
                let photo = camera_replay::matcher::load_image(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let face = framing(&mut matcher, &photo);
                Footage::Photo { photo, face }
            }
            CameraSource::Clip { path, .. } => {
                // An unreadable clip is the bench's fault, found before the case runs.
                let options = SourceOptions {
                    fps: Some(camera.fps),
                    ..SourceOptions::default()
                };
                camera_replay::source::open(path, &options)
                    .map_err(|e| format!("camera clip: {e}"))?;
                Footage::Clip(path.clone())
            }
        };
        Ok(FaceKit {
            clock: Clock::Virtual,
            stopped: StoppedClock::default(),
            policy: FacePolicy::default(),
            earlier_failures: camera.earlier_failures,
            pool: pool.clone(),
            matcher: Some(matcher),
            tracker: None,
            footage,
            camera,
            replay: None,
            timings: Vec::new(),
        })
    }

    /// The clock the engine credits a step's deadline from.
    pub fn stopped_clock(&self) -> StoppedClock {
        self.stopped.clone()
    }

    /// The kit of a device that is handed a recorded clip (the reference DUT's camera): a
    /// matcher lent from `pool`, the clip checked readable.
    pub fn for_clip(
        path: &std::path::Path,
        fps: f64,
        pool: &MatcherPool,
    ) -> Result<FaceKit, String> {
        let camera = Camera {
            source: CameraSource::Clip {
                path: path.to_path_buf(),
                person: String::new(),
            },
            attack: None,
            perturb: Vec::new(),
            seed: 1,
            fps,
            frames: 0,
            earlier_failures: 0,
            origin: crate::scenario::Origin {
                file: path.to_path_buf(),
                line: 0,
                column: 0,
            },
        };
        let options = SourceOptions {
            fps: Some(fps),
            ..SourceOptions::default()
        };
        camera_replay::source::open(path, &options).map_err(|e| format!("camera clip: {e}"))?;
        Ok(FaceKit {
            clock: Clock::RealTime,
            stopped: StoppedClock::default(),
            policy: FacePolicy::default(),
            earlier_failures: 0,
            pool: pool.clone(),
            matcher: Some(pool.lend()?),
            tracker: None,
            footage: Footage::Clip(path.to_path_buf()),
            camera,
            replay: None,
            timings: Vec::new(),
        })
    }

    fn source(&self) -> Result<Box<dyn FrameSource>, String> {
        let c = &self.camera;
        let source: Box<dyn FrameSource> = match &self.footage {
            Footage::Photo { photo, face } => {
                let spec = ClipSpec {
                    frames: c.frames,
                    fps: c.fps,
                    seed: c.seed,
                    face: *face,
                    ..ClipSpec::default()
                };
                match &c.attack {
                    Some(name) => Box::new(
                        AttackClip::new(
                            photo,
                            crate::scenario::attack_species(name)?,
                            spec,
                            AttackOptions::default(),
                        )
                        .map_err(|e| e.to_string())?,
                    ),
                    None => Box::new(self.pool.live_clip(
                        format!("{:?}", c.source),
                        photo,
                        spec,
                    )?),
                }
            }
            Footage::Clip(path) => {
                let options = SourceOptions {
                    fps: Some(c.fps),
                    ..SourceOptions::default()
                };
                camera_replay::source::open(path, &options).map_err(|e| e.to_string())?
            }
        };
        if c.perturb.is_empty() {
            return Ok(source);
        }
        // Occlusion sits on the face: centred on the frame as the clip frames the face.
        let (w, h) = source.frame_size();
        let face = FaceBox::centred_default(w, h);
        let perturbations: Vec<Perturbation> =
            c.perturb.iter().map(|p| p.with_face_box(face)).collect();
        Ok(Box::new(Perturbed::new(source, perturbations, c.seed)))
    }
}

impl FaceCamera for FaceKit {
    fn policy(&self) -> FacePolicy {
        self.policy
    }

    fn earlier_failures(&self) -> u8 {
        self.earlier_failures
    }

    fn set_earlier_failures(&mut self, n: u8) {
        self.earlier_failures = n;
    }

    /// The case's camera as a clip a device is handed, made in memory (Y4M 4:4:4 full range
    /// is close to lossless, so a device sees what the reference reader sees in process;
    /// MJPEG AVI is far smaller and lossy).
    fn footage_key(&self) -> String {
        // Everything `source` reads, and nothing else (not the case's place or history).
        let c = &self.camera;
        format!(
            "{:?}|{:?}|{:?}|{}|{}|{}",
            c.source, c.attack, c.perturb, c.seed, c.fps, c.frames
        )
    }

    fn clip(&self, format: ClipFormat) -> Result<ClipFile, String> {
        use camera_replay::source::{MjpegAviWriter, Y4mChroma, Y4mFormat, Y4mWriter, YuvRange};
        let failed = |e: std::io::Error| format!("writing the camera's clip: {e}");
        let mut source = self.source()?;
        let fps = source.frame_rate();
        let size = source.frame_size();
        let mut frames = 0u32;
        let bytes = match format {
            // 4:4:4 full range: the frames the in-process reader would see, bit for bit
            // after the RGB → YUV → RGB round trip.
            ClipFormat::Y4m => {
                let y4m = Y4mFormat {
                    width: size.0,
                    height: size.1,
                    fps_num: (fps * 1000.0).round() as u32,
                    fps_den: 1000,
                    chroma: Y4mChroma::C444,
                    range: YuvRange::Full,
                };
                let mut writer = Y4mWriter::new(Vec::new(), y4m).map_err(failed)?;
                while let Some(frame) = source.next_frame() {
                    if let Ok(f) = frame {
                        writer.write_frame(&f.image).map_err(failed)?;
                        frames += 1;
                    }
                }
                writer.finish().map_err(failed)?
            }
            ClipFormat::AviMjpeg => {
                let out = std::io::Cursor::new(Vec::new());
                let mut writer =
                    MjpegAviWriter::new(out, size.0, size.1, fps, crate::clips::MJPEG_QUALITY)
                        .map_err(failed)?;
                while let Some(frame) = source.next_frame() {
                    if let Ok(f) = frame {
                        writer.write_frame(&f.image).map_err(failed)?;
                        frames += 1;
                    }
                }
                writer.finish().map_err(failed)?.into_inner()
            }
        };
        if bytes.len() as u64 > crate::clips::MAX_CLIP_BYTES {
            return Err(format!(
                "the camera's clip has {} bytes, more than a clip may have ({})",
                bytes.len(),
                crate::clips::MAX_CLIP_BYTES
            ));
        }
        Ok(ClipFile::new(format, bytes, fps, frames, size))
    }

    /// Decodes the chip photo (greyscale JPEG 2000) and enrols it.
    fn enrol_chip_photo(&mut self, jp2: &[u8]) -> Result<(), String> {
        let _credit = self.credit();
        let started = Instant::now();
        let grey = crate::photos::decode_chip_photo(jp2).map_err(|e| e.to_string())?;
        self.timings
            .push(("face.decode_chip_photo".into(), started.elapsed()));
        let mut matcher = self.matcher.take().ok_or("the matcher is already in use")?;
        match self.pool.enrol(&mut matcher, jp2, &rgb_from_luma(&grey)) {
            Ok(reference) => {
                self.tracker = Some(FaceTracker::new(
                    matcher,
                    reference,
                    TrackerConfig::default(),
                ));
                Ok(())
            }
            Err(e) => {
                self.matcher = Some(matcher);
                Err(format!("chip photo: {e}"))
            }
        }
    }

    /// Starts the camera: the footage plays at its frame rate from now on (on the virtual
    /// clock in process, in real time on a device).
    fn start_camera(&mut self) -> Result<(), String> {
        let source = self.source()?;
        self.replay = Some(match self.clock {
            Clock::Virtual => Playing::Virtual(SteppedReplay::new(source)),
            Clock::RealTime => Playing::RealTime(Replay::start(
                source,
                ReplayOptions {
                    pacing: Pacing::RealTime,
                    // A camera drops frames the reader is too slow for.
                    when_full: WhenFull::Drop,
                    ..ReplayOptions::default()
                },
            )),
        });
        Ok(())
    }

    /// One try: up to `frames_per_try` frames within `try_time`, scored against the chip
    /// photo, then the presentation-attack check on the same frames.
    fn attempt(&mut self) -> TryOutcome {
        let _credit = self.credit();
        self.attempt_on_camera()
    }

    /// Durations of the kit's sub-steps so far (decode, per-frame work).
    fn timings(&mut self) -> Vec<(String, Duration)> {
        std::mem::take(&mut self.timings)
    }

    /// Stops the camera; what the replay measured (frames, drops, release jitter).
    fn stop_camera(&mut self) -> Option<ReplaySummary> {
        self.replay.take().map(Playing::finish)
    }
}

impl FaceKit {
    /// On the virtual clock, the stopped clock running until the guard is dropped.
    fn credit(&self) -> Option<Running> {
        (self.clock == Clock::Virtual).then(|| self.stopped.running())
    }

    /// The body of [`FaceCamera::attempt`].
    fn attempt_on_camera(&mut self) -> TryOutcome {
        let mut outcome = TryOutcome {
            frames: 0,
            best_score: None,
            matched: false,
            presentation: Ok(()),
            camera_ended: false,
        };
        let (Some(replay), Some(tracker)) = (self.replay.as_mut(), self.tracker.as_mut()) else {
            outcome.camera_ended = true;
            return outcome;
        };
        // The try's time runs on the camera's clock.
        let virtual_deadline = match replay {
            Playing::Virtual(r) => r.now() + self.policy.try_time,
            Playing::RealTime(_) => Duration::ZERO,
        };
        let deadline = Instant::now() + self.policy.try_time;
        let mut seen: Vec<Frame> = Vec::new();
        let mut boxes: Vec<FaceBox> = Vec::new();
        let mut work = Duration::ZERO;
        while seen.len() < self.policy.frames_per_try {
            let next = match replay {
                Playing::Virtual(r) => r.next_before(virtual_deadline),
                Playing::RealTime(r) => r.next_before(deadline),
            };
            match next {
                Next::Frame(frame) => {
                    let result = tracker.process(&frame);
                    work += result.timings.total();
                    outcome.frames += 1;
                    if let Ok(m) = &result.outcome {
                        outcome.best_score = Some(outcome.best_score.unwrap_or(-1.0).max(m.score));
                        outcome.matched |= m.is_match;
                        boxes.push(FaceBox::from_xywh(m.probe.face.bbox));
                    }
                    seen.push(frame);
                }
                // A corrupt frame is skipped, as a camera's would be.
                Next::Error(_) => outcome.frames += 1,
                Next::TimedOut => break,
                Next::Ended => {
                    outcome.camera_ended = true;
                    break;
                }
            }
        }
        if outcome.frames > 0 {
            self.timings
                .push(("face.frame".into(), work / outcome.frames.max(1)));
        }
        // Liveness is judged on every try, matched or not (an attack that does not match
        // is still an attack), where the faces were found, else about the frame's centre.
        // Without any face, only a print's or a screen's own marks count: an empty scene
        // that does not move is no presentation at all.
        if seen.len() >= 2 {
            let face_boxes = (boxes.len() == seen.len()).then_some(boxes.as_slice());
            let decision = liveness::check(&seen, face_boxes, &LivenessConfig::default());
            let print_or_screen = matches!(
                decision.cue,
                Some(AttackCue::PeriodicPattern | AttackCue::NoColour | AttackCue::FlatPrint)
            );
            if !decision.bona_fide && (!boxes.is_empty() || print_or_screen) {
                outcome.presentation = Err(decision.reason);
            }
        }
        outcome
    }
}

/// Why `face compare` could not compare.
#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    #[error("{0}")]
    Bench(String),
    #[error("{0}")]
    Input(String),
}

impl crate::failure::Classified for FaceError {
    fn class(&self) -> crate::failure::FailureClass {
        match self {
            FaceError::Bench(_) => crate::failure::FailureClass::Bench,
            FaceError::Input(_) => crate::failure::FailureClass::Input,
        }
    }
}

/// What `face compare` prints.
pub struct Compared {
    pub score: f32,
    pub threshold: f32,
    pub faces: [(usize, [f32; 4]); 2],
}

impl std::fmt::Display for Compared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = if self.score >= self.threshold {
            "match"
        } else {
            "no match"
        };
        writeln!(
            f,
            "score {:.4} (threshold {:.3}): {verdict}",
            self.score, self.threshold
        )?;
        for (name, (count, b)) in ["A", "B"].iter().zip(&self.faces) {
            writeln!(
                f,
                "{name}: {count} face(s); compared the largest at x {:.0} y {:.0}, {:.0}×{:.0} px",
                b[0], b[1], b[2], b[3]
            )?;
        }
        Ok(())
    }
}

/// How `face compare` prepares the enrolment image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enrolment {
    AsIs,
    Greyscale,
    /// Made into the chip photo and decoded back, as the reader sees it.
    ChipPhoto,
}

/// Compares the largest face of `a` (enrolment) with that of `b` (probe).
pub fn compare_files(
    a: &std::path::Path,
    b: &std::path::Path,
    enrolment: Enrolment,
    threshold: Option<f32>,
) -> Result<Compared, FaceError> {
    let mut config = MatcherConfig::default();
    if let Some(t) = threshold {
        config.threshold = t;
    }
    let mut matcher = FaceMatcher::load(&config).map_err(|e| FaceError::Bench(e.to_string()))?;
    let load = |p: &std::path::Path| {
        camera_replay::matcher::load_image(p)
            .map_err(|e| FaceError::Input(format!("{}: {e}", p.display())))
    };
    let img_a = match enrolment {
        Enrolment::AsIs => load(a)?,
        Enrolment::Greyscale => rgb_from_luma(&image::DynamicImage::ImageRgb8(load(a)?).to_luma8()),
        Enrolment::ChipPhoto => {
            let input = |e: String| FaceError::Input(format!("{}: {e}", a.display()));
            let bytes = std::fs::read(a).map_err(|e| input(e.to_string()))?;
            let jp2 = crate::photos::encode_chip_photo(&bytes).map_err(|e| input(e.to_string()))?;
            let grey = crate::photos::decode_chip_photo(&jp2).map_err(|e| input(e.to_string()))?;
            rgb_from_luma(&grey)
        }
    };
    let img_b = load(b)?;
    let mut faces = [(0, [0f32; 4]); 2];
    let mut templates = Vec::new();
    for (i, (img, path)) in [(&img_a, a), (&img_b, b)].into_iter().enumerate() {
        let found = matcher.detect(img).map(|f| f.len()).unwrap_or(0);
        let t = matcher
            .enrol(img)
            .map_err(|e| FaceError::Input(format!("{}: {e}", path.display())))?;
        faces[i] = (found, t.face.bbox);
        templates.push(t);
    }
    Ok(Compared {
        score: camera_replay::matcher::compare(&templates[0], &templates[1]),
        threshold: config.threshold,
        faces,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stopped_clock_counts_a_try_while_it_runs_and_after() {
        let clock = StoppedClock::default();
        assert_eq!(clock.total(), Duration::ZERO);
        let running = clock.running();
        std::thread::sleep(Duration::from_millis(20));
        // In progress: already counted, so a deadline checked now is extended.
        let during = clock.total();
        assert!(during >= Duration::from_millis(20), "{during:?}");
        drop(running);
        let after = clock.total();
        assert!(after >= during);
        std::thread::sleep(Duration::from_millis(20));
        // Stopped: time no longer counts.
        assert_eq!(clock.total(), after);
    }
}
