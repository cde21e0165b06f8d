//! Places for connections: at most `Limits::max_connections` open at once, none waiting
//! unaccepted in the kernel's backlog.
//!
//! Why not a permit taken before `accept` (as before): clients that connect and send nothing
//! then hold every permit until the header-read timeout, and everyone else waits behind them
//! in the backlog, health probes included. Why not simply refuse at the cap: the same silent
//! clients would then make every real request a 503. So a connection at the cap takes the
//! place of the one that has been waiting longest for a request (a silent or slow client, or
//! an idle kept-alive one), which is closed without an answer; only when every connection
//! has a request in progress is the newcomer turned away (503, see `server.rs`). A request in
//! progress is never cut short to make room.

use super::service::lock;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

pub(super) struct Slots {
    cap: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    /// Orders the moments connections started waiting for a request.
    next_tick: u64,
    open: HashMap<u64, Place>,
    /// Waiting connections by the tick they started waiting at: the first is the oldest.
    waiting: BTreeMap<u64, u64>,
}

struct Place {
    /// When it started waiting for a request; `None` while one is in progress.
    waiting_since: Option<u64>,
    /// Fired when the place is given to a newcomer.
    evict: oneshot::Sender<()>,
}

/// How a new connection was let in.
pub(super) enum Admission {
    /// It has a place; `evicted` says whether a waiting connection was closed for it.
    In {
        slot: Arc<Slot>,
        /// Completes when the place is given away: the connection must then close.
        evicted_by: oneshot::Receiver<()>,
        evicted: bool,
    },
    /// Every connection has a request in progress.
    Full,
}

impl Slots {
    pub(super) fn new(cap: usize) -> Arc<Self> {
        Arc::new(Slots {
            cap: cap.max(1),
            inner: Mutex::new(Inner::default()),
        })
    }

    /// A place for a connection just accepted, taken from the longest-waiting one if needed.
    pub(super) fn admit(self: &Arc<Self>) -> Admission {
        let mut inner = lock(&self.inner);
        let mut evicted = false;
        if inner.open.len() >= self.cap {
            let Some((_, oldest)) = inner.waiting.pop_first() else {
                return Admission::Full;
            };
            if let Some(place) = inner.open.remove(&oldest) {
                // The receiver is gone only if that connection already ended.
                let _ = place.evict.send(());
            }
            evicted = true;
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let tick = inner.tick();
        let (evict, evicted_by) = oneshot::channel();
        inner.open.insert(
            id,
            Place {
                waiting_since: Some(tick),
                evict,
            },
        );
        inner.waiting.insert(tick, id);
        Admission::In {
            slot: Arc::new(Slot {
                slots: Arc::clone(self),
                id,
            }),
            evicted_by,
            evicted,
        }
    }

    #[cfg(test)]
    pub(super) fn open(&self) -> usize {
        lock(&self.inner).open.len()
    }
}

impl Inner {
    fn tick(&mut self) -> u64 {
        self.next_tick += 1;
        self.next_tick
    }
}

/// One connection's place; given back when dropped.
pub(super) struct Slot {
    slots: Arc<Slots>,
    id: u64,
}

impl Slot {
    /// Marks a request in progress until the guard is dropped: the place cannot be given
    /// away meanwhile.
    pub(super) fn busy(self: &Arc<Self>) -> Busy {
        let mut inner = lock(&self.slots.inner);
        let since = inner
            .open
            .get_mut(&self.id)
            .and_then(|place| place.waiting_since.take());
        if let Some(since) = since {
            inner.waiting.remove(&since);
        }
        Busy(Arc::clone(self))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut inner = lock(&self.slots.inner);
        if let Some(Place {
            waiting_since: Some(since),
            ..
        }) = inner.open.remove(&self.id)
        {
            inner.waiting.remove(&since);
        }
    }
}

/// A request in progress on a connection (see [`Slot::busy`]).
pub(super) struct Busy(Arc<Slot>);

impl Drop for Busy {
    fn drop(&mut self) {
        let slot = &self.0;
        let mut inner = lock(&slot.slots.inner);
        let tick = inner.tick();
        // A place already given away (evicted in the instant before the request began)
        // stays given away.
        if let Some(place) = inner.open.get_mut(&slot.id) {
            place.waiting_since = Some(tick);
            inner.waiting.insert(tick, slot.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admit(slots: &Arc<Slots>) -> (Arc<Slot>, oneshot::Receiver<()>, bool) {
        match slots.admit() {
            Admission::In {
                slot,
                evicted_by,
                evicted,
            } => (slot, evicted_by, evicted),
            Admission::Full => panic!("turned away"),
        }
    }

    #[test]
    fn at_the_cap_the_longest_waiting_connection_gives_way() {
        let slots = Slots::new(2);
        let (first, mut first_out, e1) = admit(&slots);
        let (second, mut second_out, e2) = admit(&slots);
        assert!(!e1 && !e2);
        // The first one has a request in progress, then finishes it: it now waits anew,
        // after the second.
        drop(first.busy());
        let (_third, _, evicted) = admit(&slots);
        assert!(evicted);
        assert_eq!(second_out.try_recv(), Ok(()), "the longest waiting");
        assert!(first_out.try_recv().is_err());
        assert_eq!(slots.open(), 2);
        drop(second);
        assert_eq!(slots.open(), 2, "an evicted place is not given back twice");
        drop(first);
        assert_eq!(slots.open(), 1);
    }

    #[test]
    fn a_request_in_progress_is_never_evicted_and_a_full_house_turns_away() {
        let slots = Slots::new(2);
        let (a, mut a_out, _) = admit(&slots);
        let (b, mut b_out, _) = admit(&slots);
        let busy_a = a.busy();
        let busy_b = b.busy();
        assert!(matches!(slots.admit(), Admission::Full));
        assert!(a_out.try_recv().is_err() && b_out.try_recv().is_err());
        drop(busy_b);
        let (_c, _, evicted) = admit(&slots);
        assert!(evicted);
        assert_eq!(b_out.try_recv(), Ok(()));
        assert!(a_out.try_recv().is_err());
        drop(busy_a);
        drop(a);
        assert_eq!(slots.open(), 1);
    }
}
