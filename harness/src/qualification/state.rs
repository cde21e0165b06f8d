//! What a running server and its request handlers share: the services (the server's own
//! and the cases'), the bounds, the stop signal, the counters and the served journals. Its
//! own module so that `server` (connections, lifecycle) and `handler` (one request) both
//! import it and neither imports the other.

use super::identity::ParsedCertificates;
use super::journal::Journal;
use super::service::{lock, Service};
use super::trust::TrustAnchor;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Resource bounds of one server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body; larger is answered 413. A query is ~2 KB (a base64 certificate).
    pub max_body_bytes: usize,
    /// Read buffer for request headers; hyper answers 431 past it (at least 8 KiB).
    pub max_header_bytes: usize,
    /// Time a client has to send a request's headers, counted from when the connection is
    /// ready for one: from accept, and on a kept-alive connection from the end of the
    /// previous answer. So it is also the idle timeout: a connection that sends nothing
    /// (or half a request line) is closed after it, without an answer.
    pub header_read_timeout: Duration,
    /// Time a client has to send the body once the headers are in (408 after).
    pub body_read_timeout: Duration,
    /// Connections open at once. At the cap a new connection takes the place of the one
    /// that has waited longest for a request, which is closed; when every connection has a
    /// request in progress, the new one is answered 503 and closed (see `slots.rs`).
    pub max_connections: usize,
    /// Longest a `Timeout` fault holds a request, and the cap on a `Slow` fault's delay.
    pub max_hold: Duration,
    /// A connection (kept alive or not) is closed gracefully after this long.
    pub connection_lifetime: Duration,
    /// How long shutdown waits for open connections before dropping them.
    pub drain_timeout: Duration,
    /// Entries the served journal keeps (the newest); older ones are counted as dropped.
    pub max_served: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024,
            max_header_bytes: 16 * 1024,
            header_read_timeout: Duration::from_secs(5),
            body_read_timeout: Duration::from_secs(5),
            max_connections: 512,
            max_hold: Duration::from_secs(30),
            connection_lifetime: Duration::from_secs(120),
            drain_timeout: Duration::from_secs(2),
            max_served: 1024,
        }
    }
}

/// Counters, for tests and for a bench's report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Connections accepted since start.
    pub connections: u64,
    /// Connections open now.
    pub open_connections: u64,
    /// Requests received (any route).
    pub requests: u64,
    /// Queries and registrations answered 200 (including deliberately malformed answers).
    pub answered: u64,
    /// Requests refused with a 4xx.
    pub refused: u64,
    /// Queries that met a transport fault (held, or answered 5xx).
    pub faulted: u64,
    /// Connections closed at the cap to make room for a new one (they were waiting for a
    /// request).
    pub evicted: u64,
    /// Connections answered 503 at the cap (every connection had a request in progress).
    pub turned_away: u64,
    /// Served-journal entries dropped at `Limits::max_served`.
    pub served_dropped: u64,
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) connections: AtomicU64,
    pub(super) open_connections: AtomicU64,
    pub(super) requests: AtomicU64,
    pub(super) answered: AtomicU64,
    pub(super) refused: AtomicU64,
    pub(super) faulted: AtomicU64,
    pub(super) evicted: AtomicU64,
    pub(super) turned_away: AtomicU64,
}

pub(super) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// One service and what it served: the server's own (its routes at the root), or a case's
/// (its routes under `/case/N`, see [`super::api::case_route`]).
pub(super) struct Tenant {
    pub(super) service: Service,
    pub(super) journal: Journal,
    pub(super) delays: Delays,
}

/// How a service's delaying faults (`slow`, `timeout`) take their time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delays {
    /// The request waits (a device, or anyone on the network, is served).
    Real,
    /// The answer comes at once, stamped with the wait (`api::SIMULATED_WAIT_HEADER`),
    /// for a client on a simulated clock: an in-process case.
    Simulated,
}

/// Cases a server holds open at once: a run has at most one per job.
pub const MAX_OPEN_CASES: usize = 1024;

/// What every connection task shares.
pub(super) struct Shared {
    pub(super) main: Arc<Tenant>,
    /// The cases open now, by number; a case's state lives only here and in its handle.
    pub(super) cases: Mutex<HashMap<u64, Arc<Tenant>>>,
    pub(super) next_case: AtomicU64,
    /// What the cases' services check certificates against: parsed once, at start.
    pub(super) trust: Arc<TrustAnchor>,
    pub(super) certificates: ParsedCertificates,
    pub(super) limits: Limits,
    pub(super) stop: watch::Sender<bool>,
    pub(super) counters: Counters,
}

impl Shared {
    /// The service a request path names, and the route within it: a case's under
    /// `/case/N/...`, the server's own otherwise. `None`: a case that is not open.
    pub(super) fn tenant<'p>(&self, path: &'p str) -> Option<(Arc<Tenant>, &'p str)> {
        match super::api::case_route(path) {
            Some((case, route)) => lock(&self.cases).get(&case).map(|t| (Arc::clone(t), route)),
            None => Some((Arc::clone(&self.main), path)),
        }
    }
}

/// Completes once a stop is asked for (or every sender is gone).
pub(super) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}
