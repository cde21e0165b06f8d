//! The two kinds of failure every error of the harness belongs to, so a binary's exit code
//! follows from the error's type rather than from its message: the input was wrong (a file,
//! an option), or the test bench failed (pcscd, a reader, the runtime, a device).

/// Whose fault a failure is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureClass {
    /// A file with mistakes, a bad option, a missing file: the user fixes it.
    Input,
    /// The test bench could not be set up or broke: the machine or a device is at fault.
    Bench,
}

/// An error that knows its class.
pub trait Classified: std::error::Error {
    fn class(&self) -> FailureClass;
    /// Its text is already a rendered diagnostic (`error: …` with file:line:column), to be
    /// printed as it is.
    fn rendered(&self) -> bool {
        false
    }
}
