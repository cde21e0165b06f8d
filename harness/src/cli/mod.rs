//! The command lines of the three binaries (`myna-hil`, `myna-vicc`, `myna-dut-ref`): clap
//! argument structs with their parsers, the commands, and the one exit-code table. The
//! binaries only call [`myna_hil::main`], [`vicc::main`] and [`dut_ref::main`].
//!
//! Errors are typed: every library error knows its class ([`Classified`]: the input's fault
//! or the test bench's) and becomes the [`CliError`] of that class, so the exit code follows
//! from the error's type, never from its message.

pub mod args;
mod certify;
mod clips;
pub mod dut_ref;
mod interrupt;
pub mod myna_hil;
mod operator;
mod plan;
mod run;
mod tools;
pub mod vicc;

use crate::failure::{Classified, FailureClass};
use std::fmt::Display;
use std::io::Write;
use std::process::ExitCode;

/// The exit codes of every binary (the README's table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Every case passed or was skipped; the command did what it was asked.
    Ok = 0,
    /// At least one case ended `fail`, `error` or `inconc`.
    CasesFailed = 1,
    /// Bad input: a file with mistakes, a bad option.
    BadInput = 2,
    /// The test bench could not be set up or broke: pcscd, a reader, ONNX Runtime or a
    /// model missing, the device under test unreachable, a port in use.
    Bench = 3,
    /// A result could not be written (a report path failed): never a silent success.
    Unwritten = 4,
    /// SIGINT or SIGTERM: the reports hold the finished cases, the rest are errors.
    Interrupted = 5,
}

impl Exit {
    /// The table as the README shows it, for the help text and a test that keeps them equal.
    pub const TABLE: [(Exit, &'static str); 6] = [
        (Exit::Ok, "every case passed or was skipped"),
        (
            Exit::CasesFailed,
            "at least one case ended fail, error or inconc",
        ),
        (
            Exit::BadInput,
            "bad input: a file with mistakes, a bad option",
        ),
        (
            Exit::Bench,
            "the test bench could not be set up (pcscd, a reader, ONNX Runtime or a model \
             missing, the device under test unreachable or speaking another protocol version)",
        ),
        (
            Exit::Unwritten,
            "a result could not be written (the path and the OS error are printed; the run log \
             keeps every finished case)",
        ),
        (
            Exit::Interrupted,
            "interrupted by SIGINT or SIGTERM: the reports hold the finished cases, the rest \
             are errors `not run`",
        ),
    ];
}

/// The exit-code table as help text (every binary's `--help` ends with it).
pub fn exit_codes_help() -> String {
    let rows: Vec<String> = Exit::TABLE
        .iter()
        .map(|(exit, meaning)| format!("{} {meaning}", *exit as u8))
        .collect();
    format!("Exit codes: {}.", rows.join("; "))
}

/// Why a command stopped, with its exit class.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad input; printed as `error: …`.
    #[error("error: {0}")]
    BadInput(String),
    /// Diagnostics already rendered (file:line:column, caret, hint): bad input.
    #[error("{0}")]
    Diagnostics(String),
    /// The test bench failed; printed as `error: …`.
    #[error("error: {0}")]
    Bench(String),
    /// A result could not be written; printed as `error: …` (one line per path).
    #[error("error: {0}")]
    Unwritten(String),
}

impl CliError {
    pub fn exit(&self) -> Exit {
        match self {
            CliError::BadInput(_) | CliError::Diagnostics(_) => Exit::BadInput,
            CliError::Bench(_) => Exit::Bench,
            CliError::Unwritten(_) => Exit::Unwritten,
        }
    }

    pub fn bad_input(e: impl Display) -> CliError {
        CliError::BadInput(e.to_string())
    }

    pub fn bench(e: impl Display) -> CliError {
        CliError::Bench(e.to_string())
    }
}

/// Every typed error of the library becomes a `CliError` of its own class.
impl<E: Classified> From<E> for CliError {
    fn from(e: E) -> Self {
        match (e.class(), e.rendered()) {
            (FailureClass::Input, true) => CliError::Diagnostics(e.to_string()),
            (FailureClass::Input, false) => CliError::BadInput(e.to_string()),
            (FailureClass::Bench, _) => CliError::Bench(e.to_string()),
        }
    }
}

/// `X.Y.Z (git SHA[, dirty])`: which harness made a result. The SHA and the dirty flag are
/// read by `build.rs` at build time (`unknown` outside a git checkout).
pub fn version() -> &'static str {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (git ",
        env!("MYNA_HIL_GIT"),
        ")"
    )
}

/// The process's exit: a command's class, or its error printed on stderr.
pub fn finish(outcome: Result<Exit, CliError>) -> ExitCode {
    let exit = outcome.unwrap_or_else(|e| {
        // stderr gone too: the exit code still says what happened.
        let _ = writeln!(std::io::stderr(), "{e}");
        e.exit()
    });
    ExitCode::from(exit as u8)
}

/// A line on stdout; a closed stdout (`| head`) is no reason to panic or stop a run.
pub fn say(text: impl Display) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// A line on stderr, never panicking.
pub fn warn(text: impl Display) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_the_documented_numbers() {
        let codes: Vec<u8> = Exit::TABLE.iter().map(|(e, _)| *e as u8).collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5]);
        assert_eq!(CliError::bad_input("x").exit(), Exit::BadInput);
        assert_eq!(CliError::bench("x").exit(), Exit::Bench);
    }

    #[test]
    fn version_names_the_commit() {
        assert!(version().starts_with(env!("CARGO_PKG_VERSION")));
        assert!(version().contains("(git "), "{}", version());
    }
}
