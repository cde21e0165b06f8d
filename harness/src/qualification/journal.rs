//! The served journal: every request that reached `POST /qualification` or
//! `POST /registration`, as the service served it. A device under test is judged by this
//! (what it really asked and was really told), not by what it reports.
//!
//! Bounded: the newest `Limits::max_served` entries are kept, older ones dropped and
//! counted. Free of secrets: a body is kept only once it has parsed, and parsing refuses
//! anything like a 個人番号; the certificate is kept as its key (issuer and serial); error
//! answers are kept as their code, never their message.

use super::api::Endpoint;
use super::fault::Fault;
use super::identity::CertificateKey;
use super::record::{Consent, QualificationResult};
use super::service::lock;
use super::wire::ErrorCode;
use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

/// One request as it was served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    /// Its place among all journaled requests since the server started, in the order they
    /// finished (0, 1, ...): a gap before the first entry kept is what was dropped.
    pub seq: u64,
    /// [`Endpoint::Query`] or [`Endpoint::Registration`].
    pub route: Endpoint,
    /// The status answered; `None` when no answer was sent (a request held by a fault and
    /// released, or abandoned by its client).
    pub status: Option<u16>,
    /// The code of an error answer.
    pub error: Option<ErrorCode>,
    /// The key of the request's certificate, once the body parsed.
    pub certificate: Option<CertificateKey>,
    /// The facility of a query, once the body parsed.
    pub facility: Option<String>,
    /// The consent sent with a query (`None`: none sent, or the body did not parse).
    pub consent: Option<Consent>,
    /// The answer to a query that was answered 200.
    pub result: Option<QualificationResult>,
    /// The 200's body was cut short by a `MalformedBody` fault: the client got only part of
    /// `result` (or of the registration answer), and not as valid JSON.
    pub truncated: bool,
    /// The fault in force for this request's certificate.
    pub fault: Option<Fault>,
    /// A registration was accepted (whether or not the answer reached the client).
    pub registered: bool,
}

impl Served {
    fn new(route: Endpoint) -> Self {
        Served {
            seq: 0,
            route,
            status: None,
            error: None,
            certificate: None,
            facility: None,
            consent: None,
            result: None,
            truncated: false,
            fault: None,
            registered: false,
        }
    }
}

pub(super) struct Journal {
    cap: usize,
    inner: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    entries: VecDeque<Served>,
    /// The `seq` of the next entry: how many were ever recorded.
    next: u64,
}

impl Journal {
    pub(super) fn new(cap: usize) -> Self {
        Journal {
            cap,
            inner: Mutex::new(Kept::default()),
        }
    }

    /// An entry for a request to `route`, recorded when dropped (whatever way handling the
    /// request ends, even when its future is dropped half-way) if the route is journaled.
    pub(super) fn entry(&self, route: Endpoint) -> Entry<'_> {
        Entry {
            journal: route.journaled().then_some(self),
            served: Served::new(route),
        }
    }

    fn record(&self, mut served: Served) {
        let mut kept = lock(&self.inner);
        served.seq = kept.next;
        kept.next += 1;
        kept.entries.push_back(served);
        while kept.entries.len() > self.cap {
            kept.entries.pop_front();
        }
    }

    /// The entries kept, oldest first.
    pub(super) fn served(&self) -> Vec<Served> {
        lock(&self.inner).entries.iter().cloned().collect()
    }

    /// How many entries were dropped at the cap.
    pub(super) fn dropped(&self) -> u64 {
        let kept = lock(&self.inner);
        kept.next - kept.entries.len() as u64
    }
}

/// A request being served; recorded in the journal when dropped.
pub(super) struct Entry<'j> {
    /// `None` for a route that is not journaled.
    journal: Option<&'j Journal>,
    served: Served,
}

impl Deref for Entry<'_> {
    type Target = Served;
    fn deref(&self) -> &Served {
        &self.served
    }
}

impl DerefMut for Entry<'_> {
    fn deref_mut(&mut self) -> &mut Served {
        &mut self.served
    }
}

impl Drop for Entry<'_> {
    fn drop(&mut self) {
        if let Some(journal) = self.journal {
            let route = self.served.route;
            let served = std::mem::replace(&mut self.served, Served::new(route));
            journal.record(served);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_entries_are_kept_and_the_dropped_counted() {
        let journal = Journal::new(3);
        for status in [200, 400, 403, 500, 503] {
            let mut entry = journal.entry(Endpoint::Query);
            entry.status = Some(status);
        }
        let kept = journal.served();
        let seen: Vec<(u64, Option<u16>)> = kept.iter().map(|s| (s.seq, s.status)).collect();
        assert_eq!(seen, [(2, Some(403)), (3, Some(500)), (4, Some(503))]);
        assert_eq!(journal.dropped(), 2);
    }

    #[test]
    fn an_entry_abandoned_half_way_is_recorded_as_unanswered() {
        let journal = Journal::new(8);
        {
            let mut entry = journal.entry(Endpoint::Registration);
            entry.certificate = Some(CertificateKey::test_card(7));
        }
        let kept = journal.served();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].route, Endpoint::Registration);
        assert_eq!(kept[0].status, None);
        assert_eq!(kept[0].certificate, Some(CertificateKey::test_card(7)));
        assert_eq!(journal.dropped(), 0);
        drop(journal.entry(Endpoint::Health));
        assert_eq!(journal.served().len(), 1, "health is not journaled");
    }
}
