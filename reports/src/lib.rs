//! Reports: the result model the harness fills in, and the files CI reads.
//!
//! Only this crate knows JUnit (through quick-junit, the writer cargo-nextest uses; the
//! `junit-report` crate was measured writing invalid XML for output with ANSI colour codes).

pub mod accuracy;
pub mod junit;
pub mod latency;
pub mod log;
pub mod plots;
pub mod results;
pub mod set;
pub mod verdict;

pub use verdict::{CaseResult, Measurement, Verdict};
