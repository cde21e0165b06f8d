//! myna-hil: the test and certification harness for My Number Card readers and cards.
//! The command line lives in the library (`harness::cli::myna_hil`).

fn main() -> std::process::ExitCode {
    harness::cli::myna_hil::main()
}
