//! Entry point: parse the command line, then run the TUI or one headless command.
//! Exit codes: 0 ok, 1 a runtime failure (missing PID, refused write, ...),
//! 2 a usage error (clap's own, or `UsageError` from a command).

use clap::Parser;

fn main() {
    let cli = isolab::cli::Cli::parse();
    let code = match isolab::commands::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            // Messages quote process names, file names, mount points and
            // cgroup paths that others chose: escaped, so a name cannot
            // steer the terminal or forge a line of the message.
            eprintln!("isolab: {}", isolab::text::escape(&format!("{err:#}")));
            if err.downcast_ref::<isolab::UsageError>().is_some() {
                2
            } else {
                1
            }
        }
    };
    std::process::exit(code);
}
