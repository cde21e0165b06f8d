//! myna-vicc: put an emulated My Number Card into your own pcscd through vpcd.
//! The command line lives in the library (`harness::cli::vicc`).

fn main() -> std::process::ExitCode {
    harness::cli::vicc::main()
}
