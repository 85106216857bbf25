//! The `cortex-runner` binary: parses the command line, runs one subcommand, and maps the result
//! to the exit codes other tools depend on (0: the report says `success: true`; 1: the job ran and
//! the report is a failure; 2: usage, configuration or setup error).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    // Many guests in one process each hold files open (each up to its own cap): allow all the
    // descriptors the administrator does. If raising fails, the default limit still works.
    let _ = wasm_host::raise_open_files_limit();
    cli::main()
}
