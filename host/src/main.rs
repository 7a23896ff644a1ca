//! The `miniapp` command: run, inspect and audit mini-programs on the embedded host.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
