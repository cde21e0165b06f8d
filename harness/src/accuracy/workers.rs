//! Work spread over matchers, and per-image seeds: what the genuine/impostor comparisons
//! and the attack presentations share.

use super::face_set::FaceImage;
use camera_replay::matcher::FaceMatcher;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `f` over `items` on one worker per matcher; results in `items`' order. An item whose
/// worker died gets `lost()`.
pub(super) fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    matchers: &mut [FaceMatcher],
    f: impl Fn(&mut FaceMatcher, &T) -> R + Sync,
    lost: impl Fn() -> R,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let done: Vec<Vec<(usize, R)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = matchers
            .iter_mut()
            .map(|matcher| {
                let (next, f) = (&next, &f);
                scope.spawn(move || {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        out.push((i, f(matcher, item)));
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect()
    });
    let mut slots: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    for (i, r) in done.into_iter().flatten() {
        slots[i] = Some(r);
    }
    slots.into_iter().map(|s| s.unwrap_or_else(&lost)).collect()
}

/// A seed per image: the same image gets the same perturbation in every run.
pub(super) fn image_seed(seed: u64, img: &FaceImage) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in img.person.bytes().chain([b'/']).chain(img.file.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}
