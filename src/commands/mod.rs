//! Headless subcommands. Each group lives in its own file and calls the same
//! `sys` functions the screens use. Each returns the process exit code.

use crate::cli::{Cli, Command};

mod fs;
mod learn;
mod manual;
mod memory;
mod run;
mod tree;
mod tui;

pub fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    if !(0.1..=60.0).contains(&cli.interval) {
        return crate::usage(format!(
            "--interval must be between 0.1 and 60 seconds, not {}",
            cli.interval
        ));
    }
    match cli.command {
        None => tui::run(&cli),
        Some(Command::Tree(ref a)) => tree::tree(&cli, a),
        Some(Command::Ns(ref a)) => tree::ns(&cli, a),
        Some(Command::Run(ref a)) => run::run(a),
        Some(Command::Exec(ref a)) => run::exec(a),
        Some(Command::Cleanup) => run::cleanup(),
        Some(Command::Ls(ref a)) => fs::ls(a),
        Some(Command::Cat(ref a)) => fs::cat(a),
        Some(Command::Touch(ref a)) => fs::touch(a),
        Some(Command::Mkdir(ref a)) => fs::mkdir(a),
        Some(Command::Mounts(ref a)) => fs::mounts(a),
        Some(Command::Cgroup(ref a)) => memory::cgroup(&cli.proc_root, a),
        Some(Command::Limit(ref a)) => memory::limit(&cli.proc_root, a),
        Some(Command::Hog(ref a)) => memory::hog(a),
        Some(Command::Learn(ref a)) => learn::learn(&cli, a),
        Some(Command::Lessons(ref a)) => learn::lessons(&cli, a),
        Some(Command::Demo(ref a)) => learn::demo(&cli, a),
        Some(Command::Completions(ref a)) => manual::completions(a),
        Some(Command::Man) => manual::man(),
    }
}
