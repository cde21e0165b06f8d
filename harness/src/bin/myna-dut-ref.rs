//! myna-dut-ref: the reference reader behind the adapter protocol.
//! The command line lives in the library (`harness::cli::dut_ref`).

fn main() -> std::process::ExitCode {
    harness::cli::dut_ref::main()
}
