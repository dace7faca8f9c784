//! Entry point: parse the command line, read the config file, then run the
//! TUI or one headless command.
//! Exit codes: 0 ok, 1 a runtime failure (missing PID, refused write, ...),
//! 2 a usage error (clap's own, a bad config file, or `UsageError` from a command).

use clap::Parser;

fn main() {
    let mut cli = isolab::cli::Cli::parse();
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
