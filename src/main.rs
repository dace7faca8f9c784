//! Entry point: parse the command line, read the config file, then run the
//! TUI or one headless command.
//! Exit codes: 0 ok, 1 a runtime failure (missing PID, refused write, ...),
//! 2 a usage error (clap's own, a bad config file, or `UsageError` from a command).

use clap::Parser;

fn main() {
    let mut cli = isolab::cli::Cli::parse();
    restore_sigpipe_for_readers(&cli);
    let result = isolab::config::resolve(&mut cli).and_then(|()| {
        // Every screen draws with this theme (the TUI runs on this thread).
        // crossterm drops colours by itself when NO_COLOR is set: tell it
        // our decision, so `--color always` wins over NO_COLOR as it should.
        crossterm::style::force_color_output(cli.use_color);
        isolab::ui::theme::install(isolab::ui::theme::Theme::new(cli.theme, cli.use_color));
        isolab::commands::dispatch(cli)
    });
    let code = match result {
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

/// `isolab tree | head` must end quietly, as `ps axjf | head` does. Rust
/// ignores SIGPIPE, so a closed pipe would make `println!` panic; the
/// commands that only read and print get the default action back and die
/// of the signal like any Unix filter. Commands that own children or
/// cgroups (run, exec, learn, demo, hog, the TUI) keep it ignored: they must
/// live long enough to clean up what they made.
fn restore_sigpipe_for_readers(cli: &isolab::cli::Cli) {
    use isolab::cli::Command as C;
    use nix::sys::signal::{SigHandler, Signal, signal};
    let only_reads = matches!(
        cli.command,
        Some(
            C::Tree(_)
                | C::Ns(_)
                | C::Ls(_)
                | C::Cat(_)
                | C::Mounts(_)
                | C::Cgroup(_)
                | C::Lessons(_)
                | C::Completions(_)
                | C::Man
        )
    );
    if only_reads {
        // SAFETY: SIG_DFL installs no handler code; called before any thread starts.
        let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
    }
}
