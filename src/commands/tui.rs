//! `isolab` with no subcommand: the full-screen TUI.

use crate::cli::Cli;
use std::io::IsTerminal;
use std::time::Duration;

pub fn run(cli: &Cli) -> anyhow::Result<i32> {
    if !std::io::stdout().is_terminal() {
        return crate::usage(
            "the TUI needs a terminal; for scripts use `isolab tree`, `isolab ns PID` and friends",
        );
    }
    let mut setup = crate::app::Setup::new(&cli.proc_root, Duration::from_secs_f64(cli.interval));
    setup.columns = cli.columns.clone();
    crate::app::run(setup)
}
