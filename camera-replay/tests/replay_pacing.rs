//! Paced replay: frames arrive in order and never before they are due, deadlines time out,
//! errors pass through, full channels block or drop, and the producer stops when the consumer
//! goes away. (No test asserts an upper bound on timing: that is the benchmark's job.)

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use camera_replay::frame::{Frame, RgbImage};
use camera_replay::replay::{JitterSummary, Next, Pacing, Replay, ReplayOptions, WhenFull};
use camera_replay::source::{FrameSource, MemorySource, SourceError};

fn frames(n: u64, fps: f64) -> Vec<Frame> {
    (0..n)
        .map(|i| Frame {
            index: i,
            timestamp: Duration::from_secs_f64(i as f64 / fps),
            image: RgbImage::from_pixel(4, 4, image::Rgb([i as u8, 0, 0])),
        })
        .collect()
}

#[test]
fn real_time_releases_in_order_and_never_early() {
    let n = 12;
    let fps = 60.0;
    let start = Instant::now();
    let mut r = Replay::start(
        MemorySource::new(frames(n, fps), fps, "test"),
        ReplayOptions::default(),
    );
    let mut got = Vec::new();
    loop {
        match r.next_before(Instant::now() + Duration::from_secs(10)) {
            Next::Frame(f) => {
                // Due at start + timestamp: never handed over before that.
                assert!(start.elapsed() >= f.timestamp, "frame {} early", f.index);
                got.push(f.index);
            }
            Next::Ended => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got, (0..n).collect::<Vec<_>>());
    let s = r.finish();
    assert_eq!(s.frames_released, n);
    assert_eq!(s.jitter.count, n);
    assert!(s.jitter.p50_us <= s.jitter.p95_us && s.jitter.p99_us <= s.jitter.max_us);
    assert!(!s.stopped_early);
    assert!(s.elapsed >= Duration::from_secs_f64((n - 1) as f64 / fps));
    assert!(s.source.contains("test"));
}

#[test]
fn as_fast_as_possible_and_speed() {
    let mut r = Replay::start(
        MemorySource::new(frames(50, 1.0), 1.0, "slow clip"),
        ReplayOptions {
            pacing: Pacing::AsFastAsPossible,
            ..ReplayOptions::default()
        },
    );
    let mut n = 0;
    while let Next::Frame(_) = r.recv() {
        n += 1;
    }
    assert_eq!(n, 50); // 50 s of video, taken as fast as we like
    let s = r.finish();
    assert_eq!(s.jitter, JitterSummary::default());
    // Speed 100: 2 s of video in about 20 ms, still in order and never early.
    let start = Instant::now();
    let mut r = Replay::start(
        MemorySource::new(frames(3, 1.0), 1.0, "x"),
        ReplayOptions {
            speed: 100.0,
            ..ReplayOptions::default()
        },
    );
    while let Next::Frame(_) = r.recv() {}
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert_eq!(r.finish().frames_released, 3);
}

#[test]
fn a_deadline_before_the_first_frame_times_out() {
    let mut r = Replay::start(
        MemorySource::new(frames(2, 10.0), 10.0, "x"),
        ReplayOptions {
            start_delay: Duration::from_secs(30),
            ..ReplayOptions::default()
        },
    );
    assert!(matches!(
        r.next_before(Instant::now() + Duration::from_millis(20)),
        Next::TimedOut
    ));
    let s = r.finish(); // stops the producer while it waits
    assert!(s.stopped_early);
    assert_eq!(s.frames_released, 0);
}

/// Yields frames, an error in the middle, and tells when it is exhausted or dropped.
struct Scripted {
    n: u64,
    i: u64,
    error_at: Option<u64>,
    exhausted: Option<mpsc::Sender<()>>,
    made: Arc<AtomicU64>,
    dropped: Arc<AtomicBool>,
}

impl FrameSource for Scripted {
    fn next_frame(&mut self) -> Option<Result<Frame, SourceError>> {
        if self.i >= self.n {
            if let Some(tx) = self.exhausted.take() {
                let _ = tx.send(());
            }
            return None;
        }
        let i = self.i;
        self.i += 1;
        self.made.fetch_add(1, Ordering::SeqCst);
        if Some(i) == self.error_at {
            return Some(Err(SourceError::Frame {
                path: "scripted".into(),
                index: i,
                reason: "bad".into(),
            }));
        }
        Some(Ok(Frame {
            index: i,
            timestamp: Duration::from_millis(i),
            image: RgbImage::new(2, 2),
        }))
    }
    fn frame_rate(&self) -> f64 {
        1000.0
    }
    fn frame_size(&self) -> (u32, u32) {
        (2, 2)
    }
    fn describe(&self) -> String {
        "scripted".into()
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

fn scripted(
    n: u64,
    error_at: Option<u64>,
) -> (
    Scripted,
    mpsc::Receiver<()>,
    Arc<AtomicU64>,
    Arc<AtomicBool>,
) {
    let (tx, rx) = mpsc::channel();
    let made = Arc::new(AtomicU64::new(0));
    let dropped = Arc::new(AtomicBool::new(false));
    (
        Scripted {
            n,
            i: 0,
            error_at,
            exhausted: Some(tx),
            made: Arc::clone(&made),
            dropped: Arc::clone(&dropped),
        },
        rx,
        made,
        dropped,
    )
}

#[test]
fn source_errors_pass_through_and_the_replay_goes_on() {
    let (src, _, _, _) = scripted(5, Some(2));
    let mut r = Replay::start(src, ReplayOptions::default());
    let mut seen = Vec::new();
    loop {
        match r.recv() {
            Next::Frame(f) => seen.push(format!("f{}", f.index)),
            Next::Error(e) => seen.push(format!("e:{e}")),
            Next::Ended => break,
            Next::TimedOut => unreachable!(),
        }
    }
    assert_eq!(seen, ["f0", "f1", "e:scripted: frame 2: bad", "f3", "f4"]);
    let s = r.finish();
    assert_eq!((s.frames_released, s.source_errors), (4, 1));
}

#[test]
fn a_full_channel_drops_frames_when_asked() {
    let (src, exhausted, _, _) = scripted(20, None);
    let mut r = Replay::start(
        src,
        ReplayOptions {
            pacing: Pacing::AsFastAsPossible,
            capacity: 1,
            when_full: WhenFull::Drop,
            ..ReplayOptions::default()
        },
    );
    // Take nothing until the source has run dry: only the first frame fitted.
    exhausted.recv_timeout(Duration::from_secs(30)).unwrap();
    let mut got = Vec::new();
    while let Next::Frame(f) = r.recv() {
        got.push(f.index);
    }
    assert_eq!(got, [0]);
    let s = r.finish();
    assert_eq!((s.frames_released, s.frames_dropped), (1, 19));
}

#[test]
fn dropping_the_consumer_stops_the_producer() {
    // An endless source, played as fast as possible into a blocked channel.
    let (mut src, _, made, dropped) = scripted(u64::MAX, None);
    src.exhausted = None;
    let r = Replay::start(
        src,
        ReplayOptions {
            pacing: Pacing::AsFastAsPossible,
            capacity: 2,
            ..ReplayOptions::default()
        },
    );
    let wait_for = |what: &dyn Fn() -> bool| {
        let until = Instant::now() + Duration::from_secs(30);
        while !what() {
            assert!(Instant::now() < until, "gave up waiting");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    wait_for(&|| made.load(Ordering::SeqCst) >= 3);
    drop(r);
    // The producer notices, ends, and drops the source.
    wait_for(&|| dropped.load(Ordering::SeqCst));
    let after = made.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(made.load(Ordering::SeqCst), after);

    // Same while it waits for a far-off frame in real time.
    let (mut src, _, _, dropped) = scripted(2, None);
    src.exhausted = None;
    let r = Replay::start(
        src,
        ReplayOptions {
            start_delay: Duration::from_secs(3600),
            ..ReplayOptions::default()
        },
    );
    drop(r);
    wait_for(&|| dropped.load(Ordering::SeqCst));
}

#[test]
fn jitter_summary_percentiles() {
    let s = JitterSummary::from_samples((1..=100).collect());
    assert_eq!(
        (s.count, s.p50_us, s.p95_us, s.p99_us, s.max_us),
        (100, 50, 95, 99, 100)
    );
    assert_eq!(s.mean_us, 50.5);
    assert_eq!(
        JitterSummary::from_samples(vec![]),
        JitterSummary::default()
    );
}

#[test]
fn a_virtual_clock_takes_every_frame_whatever_the_load() {
    use camera_replay::replay::SteppedReplay;
    // 30 fps, deadlines at 0.1 s steps of virtual time: the frames each window gets are
    // fixed by their timestamps, even when the consumer is slow (it sleeps between frames).
    let take = |slow: bool| {
        let mut r = SteppedReplay::new(MemorySource::new(frames(30, 30.0), 30.0, "virtual"));
        let mut windows = Vec::new();
        for step in 1..=4u64 {
            let deadline = Duration::from_millis(100 * step);
            let mut got = Vec::new();
            loop {
                match r.next_before(deadline) {
                    Next::Frame(f) => {
                        assert!(f.timestamp <= deadline);
                        assert_eq!(r.now(), f.timestamp);
                        got.push(f.index);
                        if slow {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                    }
                    Next::TimedOut => break,
                    other => panic!("unexpected {other:?}"),
                }
            }
            windows.push(got);
        }
        (windows, r.finish())
    };
    let (fast, summary) = take(false);
    let (slow, _) = take(true);
    assert_eq!(fast, slow);
    // 0..=0.1 s holds frames 0..=3, (0.1, 0.2] frames 4..=6, ...
    assert_eq!(fast[0], vec![0, 1, 2, 3]);
    assert_eq!(fast[1], vec![4, 5, 6]);
    assert_eq!(fast.concat(), (0..=12).collect::<Vec<_>>());
    assert_eq!(summary.pacing, Pacing::Virtual);
    assert_eq!((summary.frames_released, summary.frames_dropped), (13, 0));
    // Frames 13.. were never taken.
    assert!(summary.stopped_early);
}

#[test]
fn a_virtual_clock_passes_errors_and_ends() {
    use camera_replay::replay::SteppedReplay;
    let (src, _, _, _) = scripted(4, Some(1));
    let mut r = SteppedReplay::new(src);
    let mut seen = Vec::new();
    loop {
        match r.next_before(Duration::from_secs(3600)) {
            Next::Frame(f) => seen.push(format!("f{}", f.index)),
            Next::Error(e) => seen.push(format!("e:{e}")),
            Next::Ended => break,
            Next::TimedOut => panic!("nothing is due after an hour"),
        }
    }
    assert_eq!(seen, ["f0", "e:scripted: frame 1: bad", "f2", "f3"]);
    let s = r.finish();
    assert_eq!((s.frames_released, s.source_errors), (3, 1));
    assert!(!s.stopped_early);
}
