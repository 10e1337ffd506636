//! The `harness` binary: parse the command line, run, map to an exit code.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(harness::cli::main())
}
