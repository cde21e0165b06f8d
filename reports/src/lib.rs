//! Reports: the result model the harness fills in, and the files CI reads.
//!
//! Only this crate knows JUnit. `junit` writes it by hand so that one file is valid under both
//! published schemas CI tools are held to, the Jenkins xUnit plugin's junit-10.xsd and the Ant
//! JUnit.xsd (docs/junit.md); quick-junit's output failed both. The caller passes what the
//! crate does not discover itself: the run's start time and host name (`junit::RunStamp`).

pub mod accuracy;
pub mod cases;
pub mod html;
pub mod junit;
pub mod latency;
pub mod log;
pub mod plots;
pub mod results;
pub mod set;
pub mod verdict;

pub use verdict::{CaseResult, Measurement, OperatorAnswer, Verdict};
