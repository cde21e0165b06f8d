//! Paced replay: a frame source played like a camera, on its own thread.
//!
//! [`Replay::start`] moves a [`FrameSource`] to a producer thread that decodes the next frame
//! ahead, waits until that frame is due — the source's timestamp relative to its first frame,
//! counted from when the first frame was ready (and not before
//! [`ReplayOptions::start_delay`]) ([`Pacing::RealTime`]) — and hands it over through a
//! bounded channel; or
//! hands frames over as fast as the consumer takes them ([`Pacing::AsFastAsPossible`]). The
//! consumer (the reader under test, or the reference reader) waits with a deadline:
//! [`Replay::next_before`].
//!
//! Every frame's release is timed: scheduled instant versus the instant it entered the
//! channel. [`Replay::finish`] returns a [`ReplaySummary`] with that release jitter (count,
//! mean, p50/p95/p99/max in µs). A full channel is a late consumer: with
//! [`WhenFull::Block`] the producer waits (the wait shows as jitter and later frames stay on
//! schedule relative to the start), with [`WhenFull::Drop`] the frame is dropped and counted,
//! as a camera driver would.
//!
//! Dropping the [`Replay`] (or calling [`Replay::finish`]) stops the producer: it notices
//! within 20 ms while waiting, or at its next hand-over.
//!
//! [`SteppedReplay`] is the same camera on a virtual clock ([`Pacing::Virtual`]): no thread,
//! frames are taken on the consumer's thread in order, none is ever dropped, and a deadline is
//! a point in the clip's own time. What the consumer sees then depends on the footage alone,
//! never on how busy the machine is: the harness's in-process reader uses it so a loaded CI
//! machine cannot change a verdict; a device under test keeps the real-time camera.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::frame::Frame;
use crate::source::{FrameSource, SourceError};

/// When frames are released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pacing {
    /// At the source's timestamps (relative to its first frame) after the start.
    #[default]
    RealTime,
    /// As soon as the consumer has room for them.
    AsFastAsPossible,
    /// On the clip's own clock ([`SteppedReplay`]): taken when asked for, never dropped.
    Virtual,
}

/// What the producer does when the consumer has not taken earlier frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenFull {
    /// Wait for room (no frame is lost; the wait counts as release jitter).
    #[default]
    Block,
    /// Drop this frame and count it (a camera's behaviour).
    Drop,
}

/// How to replay.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayOptions {
    pub pacing: Pacing,
    /// Frames the channel holds (at least 1).
    pub capacity: usize,
    pub when_full: WhenFull,
    /// The first frame is due this long after [`Replay::start`] (or when it is decoded, if
    /// that takes longer).
    pub start_delay: Duration,
    /// Playback speed for [`Pacing::RealTime`] (2.0 = twice as fast).
    pub speed: f64,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            pacing: Pacing::RealTime,
            capacity: 4,
            when_full: WhenFull::Block,
            start_delay: Duration::ZERO,
            speed: 1.0,
        }
    }
}

/// What [`Replay::next_before`] got.
#[derive(Debug)]
pub enum Next {
    Frame(Frame),
    /// The source could not read a frame (the replay goes on).
    Error(SourceError),
    /// Nothing arrived before the deadline.
    TimedOut,
    /// The source has no more frames (or the producer stopped).
    Ended,
}

/// Release jitter: actual minus scheduled release time of each frame, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct JitterSummary {
    pub count: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl JitterSummary {
    /// Summarises delays in microseconds (nearest-rank percentiles).
    pub fn from_samples(mut us: Vec<u64>) -> JitterSummary {
        if us.is_empty() {
            return JitterSummary::default();
        }
        us.sort_unstable();
        let n = us.len();
        let rank = |q: f64| us[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
        JitterSummary {
            count: n as u64,
            mean_us: us.iter().sum::<u64>() as f64 / n as f64,
            p50_us: rank(0.50),
            p95_us: rank(0.95),
            p99_us: rank(0.99),
            max_us: us[n - 1],
        }
    }
}

/// What happened during a replay.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplaySummary {
    /// The source's [`FrameSource::describe`].
    pub source: String,
    pub pacing: Pacing,
    /// Frames handed to the consumer.
    pub frames_released: u64,
    /// Frames dropped because the consumer was behind ([`WhenFull::Drop`]).
    pub frames_dropped: u64,
    /// Frame errors from the source (each also handed to the consumer).
    pub source_errors: u64,
    /// Release jitter of the released frames ([`Pacing::RealTime`] only; empty otherwise).
    pub jitter: JitterSummary,
    /// From start to the producer's end.
    pub elapsed: Duration,
    /// True when the consumer went away or asked to stop before the source ended.
    pub stopped_early: bool,
}

impl ReplaySummary {
    /// The summary of a replay of `source` that has released nothing yet.
    fn nothing_yet(source: String, pacing: Pacing) -> ReplaySummary {
        ReplaySummary {
            source,
            pacing,
            frames_released: 0,
            frames_dropped: 0,
            source_errors: 0,
            jitter: JitterSummary::default(),
            elapsed: Duration::ZERO,
            stopped_early: false,
        }
    }
}

/// A running replay; the consumer's end.
pub struct Replay {
    rx: Option<Receiver<Result<Frame, SourceError>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<ReplaySummary>>,
    ended: bool,
}

impl Replay {
    /// Starts replaying `source` on a new thread.
    pub fn start<S: FrameSource + 'static>(source: S, options: ReplayOptions) -> Replay {
        let (tx, rx) = mpsc::sync_channel(options.capacity.max(1));
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("camera-replay".into())
            .spawn(move || produce(source, options, tx, stop2))
            .expect("spawn the replay thread");
        Replay {
            rx: Some(rx),
            stop,
            thread: Some(thread),
            ended: false,
        }
    }

    /// The next frame (or frame error), waiting at most until `deadline`.
    pub fn next_before(&mut self, deadline: Instant) -> Next {
        if self.ended {
            return Next::Ended;
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        let Some(rx) = &self.rx else {
            return Next::Ended;
        };
        match rx.recv_timeout(wait) {
            Ok(Ok(f)) => Next::Frame(f),
            Ok(Err(e)) => Next::Error(e),
            Err(RecvTimeoutError::Timeout) => Next::TimedOut,
            Err(RecvTimeoutError::Disconnected) => {
                self.ended = true;
                Next::Ended
            }
        }
    }

    /// The next frame (or frame error), waiting as long as it takes.
    pub fn recv(&mut self) -> Next {
        if self.ended {
            return Next::Ended;
        }
        let Some(rx) = &self.rx else {
            return Next::Ended;
        };
        match rx.recv() {
            Ok(Ok(f)) => Next::Frame(f),
            Ok(Err(e)) => Next::Error(e),
            Err(_) => {
                self.ended = true;
                Next::Ended
            }
        }
    }

    /// Stops the producer (if it still runs) and returns the summary.
    pub fn finish(mut self) -> ReplaySummary {
        self.stop.store(true, Ordering::SeqCst);
        // Closing the channel also releases a producer waiting for room.
        drop(self.rx.take());
        let thread = self.thread.take().expect("joined once");
        match thread.join() {
            Ok(summary) => summary,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        // The producer sees the flag while waiting, or the closed channel at its next send;
        // it is not joined here (a source may be slow to decode its current frame).
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Waits until `due`: sleeps in slices (checking `stop`), then spins the last stretch.
/// False when told to stop.
fn wait_until(due: Instant, stop: &AtomicBool) -> bool {
    const SPIN: Duration = Duration::from_micros(300);
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= due {
            return true;
        }
        let left = due - now;
        if left > SPIN {
            std::thread::sleep((left - SPIN).min(Duration::from_millis(20)));
        } else {
            while Instant::now() < due {
                std::hint::spin_loop();
            }
            return true;
        }
    }
}

fn produce<S: FrameSource>(
    mut source: S,
    options: ReplayOptions,
    tx: SyncSender<Result<Frame, SourceError>>,
    stop: Arc<AtomicBool>,
) -> ReplaySummary {
    let start = Instant::now();
    // The clock starts when the first frame is ready, and not before the start delay.
    let mut t0: Option<Instant> = None;
    let speed = if options.speed.is_finite() && options.speed > 0.0 {
        options.speed
    } else {
        1.0
    };
    let mut summary = ReplaySummary::nothing_yet(source.describe(), options.pacing);
    let mut delays_us: Vec<u64> = Vec::new();
    let mut first_ts: Option<Duration> = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            summary.stopped_early = true;
            break;
        }
        let Some(item) = source.next_frame() else {
            break;
        };
        let frame = match item {
            Ok(f) => f,
            Err(e) => {
                summary.source_errors += 1;
                if tx.send(Err(e)).is_err() {
                    summary.stopped_early = true;
                    break;
                }
                continue;
            }
        };
        let due = match options.pacing {
            Pacing::RealTime => {
                let base = *first_ts.get_or_insert(frame.timestamp);
                let t0 =
                    *t0.get_or_insert_with(|| (start + options.start_delay).max(Instant::now()));
                let offset = frame.timestamp.saturating_sub(base).div_f64(speed);
                let due = t0 + offset;
                if !wait_until(due, &stop) {
                    summary.stopped_early = true;
                    break;
                }
                Some(due)
            }
            // `Replay` has no virtual clock of its own: frames go as fast as taken.
            Pacing::AsFastAsPossible | Pacing::Virtual => None,
        };
        let sent = match options.when_full {
            WhenFull::Block => tx.send(Ok(frame)).map_err(|_| ()),
            WhenFull::Drop => match tx.try_send(Ok(frame)) {
                Ok(()) => Ok(()),
                Err(TrySendError::Full(_)) => {
                    summary.frames_dropped += 1;
                    continue;
                }
                Err(TrySendError::Disconnected(_)) => Err(()),
            },
        };
        if sent.is_err() {
            summary.stopped_early = true;
            break;
        }
        summary.frames_released += 1;
        if let Some(due) = due {
            let late = Instant::now().saturating_duration_since(due);
            delays_us.push(late.as_micros().min(u64::MAX as u128) as u64);
        }
    }
    summary.jitter = JitterSummary::from_samples(delays_us);
    summary.elapsed = start.elapsed();
    summary
}

/// A replay on a virtual clock: the source is read on the caller's thread, one frame per
/// request, and time is the frames' timestamps relative to the first frame. A deadline is a
/// virtual instant: a frame due after it is kept for the next request (so a try that runs out
/// of time leaves the next frame to the next try, as a camera that kept running would not,
/// but deterministically).
pub struct SteppedReplay<S> {
    source: S,
    /// The first frame's timestamp: virtual zero.
    base: Option<Duration>,
    /// A frame read but due after the deadline it was read for.
    pending: Option<Frame>,
    /// Virtual time of the latest frame handed over.
    now: Duration,
    summary: ReplaySummary,
    started: Instant,
}

impl<S: FrameSource> SteppedReplay<S> {
    pub fn new(source: S) -> SteppedReplay<S> {
        let summary = ReplaySummary::nothing_yet(source.describe(), Pacing::Virtual);
        SteppedReplay {
            source,
            base: None,
            pending: None,
            now: Duration::ZERO,
            summary,
            started: Instant::now(),
        }
    }

    /// Virtual time: the latest frame's timestamp relative to the first frame.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// The next frame due at or before the virtual `deadline`; `TimedOut` (the frame kept)
    /// when the next one is due later.
    pub fn next_before(&mut self, deadline: Duration) -> Next {
        let frame = match self.pending.take() {
            Some(f) => f,
            None => match self.source.next_frame() {
                None => return Next::Ended,
                Some(Err(e)) => {
                    self.summary.source_errors += 1;
                    return Next::Error(e);
                }
                Some(Ok(f)) => f,
            },
        };
        let base = *self.base.get_or_insert(frame.timestamp);
        let at = frame.timestamp.saturating_sub(base);
        if at > deadline {
            self.pending = Some(frame);
            return Next::TimedOut;
        }
        self.now = self.now.max(at);
        self.summary.frames_released += 1;
        Next::Frame(frame)
    }

    /// What was taken (no jitter: nothing was paced).
    pub fn finish(mut self) -> ReplaySummary {
        self.summary.stopped_early = self.pending.is_some() || self.source.next_frame().is_some();
        self.summary.elapsed = self.started.elapsed();
        self.summary
    }
}
