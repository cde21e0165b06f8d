//! The qualification service simulator: a stand-in for オンライン資格確認 that a reader under
//! test queries over real HTTP/1.1 on loopback, started per run by the harness (or alone as
//! `myna-hil serve-qualification`).
//!
//! ```text
//! reader ──QualificationClient──▶ POST /qualification {"certificate": base64 DER, "facility", "consent"}
//!                                   │ wire: JSON, size-limited, no 個人番号 (400 MyNumberRefused)
//!                                   │ trust: signed by the test CA? revoked (CRL)? valid on the service's date?
//!                                   │ registered for insurance use? (else 9 NotRegistered; POST /registration)
//!                                   │ lookup: records by certificate issuer + serial ─▶ 1 / 4 (none) / 5 (several)
//!                                   │ faults: slow, held, 5xx, malformed, invalid, several (switchable live)
//!                     ◀──────────── 200 QualificationResult (PascalCase JSON, the real result's field names)
//! ```
//!
//! Design decisions (and why):
//! - **Identity is the user-authentication certificate, never the 個人番号.** The key is the
//!   certificate's issuer + serial ([`CertificateKey`]); a request with anything like a
//!   個人番号 (in the body, the URL query or a header; full-width digits, letter prefixes
//!   and separators folded, [`wire::holds_my_number`]) is refused with 400, so a leaking
//!   reader fails loudly.
//! - **The service checks the certificate, revocation included** ([`trust`]); refusals are
//!   answers (SegmentOfResult 9 with an `ErrorCode`), not HTTP errors, as on the real
//!   service, so a reader must show them rather than retry.
//! - **JSON instead of the real XML**, same field names and codes ([`record`]).
//! - **Everything is bounded** ([`Limits`]): a test run can throw garbage or hold requests
//!   and the server neither panics nor grows.
//! - **Async first, blocking on request**: [`Server::start`] and [`QualificationClient`] run
//!   on the caller's runtime; [`Server::start_background`] and
//!   [`BlockingQualificationClient`] bring their own, for plain threads.

pub mod api;
pub mod client;
pub mod fault;
mod handler;
pub mod identity;
mod journal;
pub mod record;
mod schema;
pub mod server;
mod service;
mod slots;
mod state;
pub mod trust;
pub mod wire;

pub use api::{
    openapi, Endpoint, Route, HEALTH_PATH, OPENAPI_PATH, QUERY_PATH, REGISTRATION_PATH, ROUTES,
};
pub use client::{BlockingQualificationClient, QualificationClient, QueryError};
pub use fault::{Fault, FaultTable};
pub use identity::{CertificateKey, KeyError, ParsedCertificates, TEST_CA_ISSUER};
pub use journal::Served;
pub use record::{
    CertificateStatus, Consent, FacilityConsent, InsuredRecord, PartialContributionRatio,
    PersonalFamilyClassification, Qualification, QualificationResult, QualificationValidity,
    RecordError, ReferenceClassification, ResultErrorCode, SegmentOfResult,
};
pub use server::{
    serve, shutdown_signal, BackgroundServer, CaseService, Delays, Limits, Server, ServerConfig,
    ServerControl, ServerError, ServerHandle, ServerStats,
};
pub use service::{MAX_REGISTRATIONS, MAX_REMEMBERED_CONSENTS};
pub use trust::{CertificateProblem, TrustAnchor, TrustError};
pub use wire::{ErrorBody, ErrorCode, RegistrationAnswer};

#[cfg(test)]
mod tests;
