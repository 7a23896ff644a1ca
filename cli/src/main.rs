//! The `miniapp` command: run, inspect and audit mini-programs on the embedded
//! host, with the simulated payment providers installed.

fn main() -> std::process::ExitCode {
    miniapp_cli::main()
}
