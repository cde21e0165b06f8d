//! The time a case waits, real or simulated.
//!
//! Invariant: a wait on a simulated clock returns at once and adds exactly the time it
//! stands for to the clock's total; a wait on a real clock sleeps it, and adds nothing. So
//! an in-process case that waits out a mute card, a held service request or a `wait` step
//! costs no wall time, and its step times (real time plus the simulated total's growth)
//! are what a bench would have measured. A device, pcscd and vpcd run on real time: the
//! harness cannot stop their clocks, and their speed is part of what is measured.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A case's clock for waiting. Cheap to clone; clones share the total.
#[derive(Clone, Debug, Default)]
pub struct SimClock(Option<Arc<AtomicU64>>);

impl SimClock {
    /// Real time: waits sleep.
    pub fn real() -> Self {
        SimClock(None)
    }

    /// Simulated time: waits add to the total and return at once.
    pub fn simulated() -> Self {
        SimClock(Some(Arc::new(AtomicU64::new(0))))
    }

    pub fn is_simulated(&self) -> bool {
        self.0.is_some()
    }

    /// Lets `d` pass.
    pub fn pass(&self, d: Duration) {
        match &self.0 {
            Some(total) => {
                let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
                // Saturating: a clock at its end stays there.
                let _ = total.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| {
                    Some(t.saturating_add(nanos))
                });
            }
            None => std::thread::sleep(d),
        }
    }

    /// The simulated time passed so far (zero on real time).
    pub fn total(&self) -> Duration {
        self.0.as_ref().map_or(Duration::ZERO, |t| {
            Duration::from_nanos(t.load(Ordering::SeqCst))
        })
    }
}

/// CPU time of the calling thread (Linux `CLOCK_THREAD_CPUTIME_ID`): what a case's reader
/// thread spent computing, beside its simulated step times.
pub fn thread_cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call only writes it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| {
        Duration::new(
            u64::try_from(ts.tv_sec).unwrap_or(0),
            u32::try_from(ts.tv_nsec).unwrap_or(0),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn simulated_waits_add_up_without_sleeping() {
        let clock = SimClock::simulated();
        let shared = clock.clone();
        let started = Instant::now();
        clock.pass(Duration::from_secs(30));
        shared.pass(Duration::from_millis(250));
        assert_eq!(clock.total(), Duration::from_millis(30_250));
        assert!(started.elapsed() < Duration::from_secs(5));
        clock.pass(Duration::MAX);
        assert_eq!(clock.total(), Duration::from_nanos(u64::MAX));
    }

    #[test]
    fn real_waits_sleep_and_add_nothing() {
        let clock = SimClock::real();
        let started = Instant::now();
        clock.pass(Duration::from_millis(20));
        assert!(started.elapsed() >= Duration::from_millis(20));
        assert_eq!(clock.total(), Duration::ZERO);
        assert!(!clock.is_simulated());
    }

    #[test]
    fn thread_cpu_time_grows_with_work() {
        let before = thread_cpu_time().expect("a thread CPU clock");
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(thread_cpu_time().expect("clock") > before);
    }
}
