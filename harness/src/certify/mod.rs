//! Certification: the device's declaration (ICS), test plans, the evidence bundle and its
//! signature (docs/certification.md).

pub mod attest;
pub mod bundle;
pub mod decision;
pub mod ics;
pub mod plan;
pub mod schema;
