//! The `miniapp` command: run, inspect and audit mini-programs on the embedded
//! host, with the simulated payment providers installed.

mod commands;
mod prompt;
mod terminal;

fn main() -> std::process::ExitCode {
    commands::main()
}
