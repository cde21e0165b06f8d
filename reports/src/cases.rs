//! The cases of a run, one at a time: from a slice in memory, or from the run log on disk
//! (read back case by case, so writing the reports of 100,000 cases never holds their
//! evidence all at once). Every report writer reads through this.

use crate::verdict::{CaseResult, Verdict};
use std::borrow::Cow;
use std::io;

/// A run's cases in run order.
pub trait Cases {
    fn count(&self) -> usize;
    /// The `i`-th case (`i < count()`); an error only when it cannot be read back.
    fn case(&self, i: usize) -> io::Result<Cow<'_, CaseResult>>;
}

impl Cases for &[CaseResult] {
    fn count(&self) -> usize {
        self.len()
    }

    fn case(&self, i: usize) -> io::Result<Cow<'_, CaseResult>> {
        Ok(Cow::Borrowed(&self[i]))
    }
}

impl Cases for Vec<CaseResult> {
    fn count(&self) -> usize {
        self.len()
    }

    fn case(&self, i: usize) -> io::Result<Cow<'_, CaseResult>> {
        Ok(Cow::Borrowed(&self[i]))
    }
}

/// How many cases ended with each verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
    pub inconc: usize,
    pub skip: usize,
}

impl Tally {
    pub fn of(cases: &dyn Cases) -> io::Result<Tally> {
        let mut t = Tally::default();
        for i in 0..cases.count() {
            t.add(cases.case(i)?.verdict);
        }
        Ok(t)
    }

    /// How many cases ended with `v`.
    pub fn count(&self, v: Verdict) -> usize {
        match v {
            Verdict::Pass => self.pass,
            Verdict::Fail => self.fail,
            Verdict::Error => self.error,
            Verdict::Inconc => self.inconc,
            Verdict::Skip => self.skip,
        }
    }

    pub fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Pass => self.pass += 1,
            Verdict::Fail => self.fail += 1,
            Verdict::Error => self.error += 1,
            Verdict::Inconc => self.inconc += 1,
            Verdict::Skip => self.skip += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.pass + self.fail + self.error + self.inconc + self.skip
    }

    /// Whether any case ended `fail`, `error` or `inconc`.
    pub fn any_bad(&self) -> bool {
        self.fail + self.error + self.inconc > 0
    }
}
