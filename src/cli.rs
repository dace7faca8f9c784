//! The command line: every subcommand and flag, as clap definitions only.
//! Behaviour lives in `commands/`, one file per group of subcommands.

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "isolab",
    version,
    about = "A live lab for Linux process isolation: namespaces, cgroups and /proc on a real kernel",
    long_about = None
)]
pub struct Cli {
    /// Refresh interval of the live screens, in seconds (0.1 to 60) [default: 1,
    /// or the config file's `interval`].
    #[arg(long = "interval", global = true, value_name = "SECS")]
    pub interval_flag: Option<f64>,

    /// When to colour the output: auto (a terminal, and NO_COLOR unset or
    /// empty), always, never [default: auto, or the config file's `color`].
    #[arg(long = "color", global = true, value_name = "WHEN")]
    pub color_flag: Option<ColorChoice>,

    /// The TUI's look: default, or projector (high contrast, bold, no dim
    /// greys: for workshops) [default: the config file's `theme`, else default].
    #[arg(long = "theme", global = true, value_name = "THEME")]
    pub theme_flag: Option<ThemeName>,
    /// The Processes screen's columns, comma-separated, in order (COMMAND is
    /// always last) [default: the config file's `columns`, else as many as
    /// the width allows].
    #[arg(
        long = "columns",
        global = true,
        value_name = "COLS",
        value_delimiter = ','
    )]
    pub columns_flag: Option<Vec<Column>>,

    /// The refresh interval in force: --interval, else the config file's,
    /// else 1 s (filled in by `config::resolve`, which main calls).
    #[arg(skip = 1.0)]
    pub interval: f64,

    /// Whether to colour: --color, else the config file's `color`, else
    /// auto (see `config::color_enabled`). Filled in by `config::resolve`.
    #[arg(skip = true)]
    pub use_color: bool,

    /// The theme in force (flag, else config file, else default).
    #[arg(skip)]
    pub theme: ThemeName,

    /// The Processes screen's columns in force (flag, else config file;
    /// `None`: chosen by width).
    #[arg(skip)]
    pub columns: Option<Vec<Column>>,

    /// Where procfs is mounted (tests point this at a fixture).
    #[arg(
        long,
        global = true,
        default_value = "/proc",
        value_name = "DIR",
        hide = true
    )]
    pub proc_root: PathBuf,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print one snapshot of the process tree, in the layout of `ps axjf`.
    Tree(TreeArgs),
    /// Show PID's namespaces beside PID 1's (or beside OTHER's), marking differences.
    Ns(NsArgs),
    /// Run CMD isolated in new namespaces, in the foreground, like `unshare`.
    Run(RunArgs),
    /// Run CMD inside PID's namespaces and root, like `nsenter`.
    Exec(ExecArgs),
    /// List a directory inside PID's root filesystem.
    Ls(PathArgs),
    /// Print a file inside PID's root filesystem.
    Cat(PathArgs),
    /// Create an empty file inside PID's root filesystem, from the host.
    Touch(PathArgs),
    /// Create a directory inside PID's root filesystem, from the host.
    Mkdir(PathArgs),
    /// Show PID's mount table beside the host's.
    Mounts(PidArgs),
    /// Show PID's cgroups, memory usage, limit, peak and events.
    Cgroup(CgroupArgs),
    /// Set the memory limit of PID's memory cgroup and print what the kernel reads back.
    Limit(LimitArgs),
    /// Allocate memory at a steady rate (used to watch a limit and the OOM kill).
    Hog(HogArgs),
    /// Remove whatever an earlier isolab run left behind (children, mounts, cgroups).
    Cleanup,
    /// Open the guided lessons (the TUI on the Lessons screen).
    Learn(LearnArgs),
    /// Work with lesson files: lint, list, check.
    Lessons(LessonsArgs),
    /// Play a lesson for an audience, one key per step.
    Demo(DemoArgs),
    /// Print a shell completion script: `isolab completions bash > /usr/share/bash-completion/completions/isolab`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff): `isolab man > isolab.1; man -l isolab.1`.
    Man,
}

/// `--color`: the usual three (as ls, grep, cargo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// `--theme`: how the TUI looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThemeName {
    #[default]
    Default,
    /// High contrast, bold, no dim greys: for a projector in a workshop.
    Projector,
}

/// `--columns` / the config file's `columns`: the Processes screen's
/// columns, in this order (COMMAND is always last). Without it, the
/// screen picks a set by its width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Column {
    Ppid,
    Pid,
    Pgid,
    Sid,
    Tty,
    Stat,
    User,
    Time,
    Cpu,
    Rss,
    /// One letter per namespace the process does not share with the host.
    Isol,
    Container,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to print the script for.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct TreeArgs {
    /// Add a column per namespace kind, with its inode id.
    #[arg(long)]
    pub ns: bool,
    /// Print the processes as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct NsArgs {
    pub pid: i32,
    /// Compare with this process instead of PID 1.
    pub other: Option<i32>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    /// New PID namespace (CMD is PID 1 inside).
    #[arg(long)]
    pub pid: bool,
    /// New mount namespace (mounts made private first).
    #[arg(long)]
    pub mount: bool,
    /// New network namespace (only lo, brought up).
    #[arg(long)]
    pub net: bool,
    /// New IPC namespace (own SysV objects and POSIX queues).
    #[arg(long)]
    pub ipc: bool,
    /// New UTS namespace (own hostname).
    #[arg(long)]
    pub uts: bool,
    /// New user namespace (root inside, your uid outside).
    #[arg(long)]
    pub user: bool,
    /// New cgroup namespace (own cgroup root view).
    #[arg(long)]
    pub cgroup: bool,
    /// New time namespace (own boot-time and monotonic clocks).
    #[arg(long)]
    pub time: bool,
    /// All eight namespaces.
    #[arg(long)]
    pub all: bool,
    /// Hostname inside (implies --uts).
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Root filesystem: host (private mounts), minimal (built by isolab), or a directory.
    #[arg(long, value_name = "host|minimal|DIR")]
    pub rootfs: Option<String>,
    /// Memory limit, e.g. 64M (a cgroup isolab creates and removes).
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// Boot-time clock offset in seconds (implies --time).
    #[arg(long, value_name = "SECS", allow_hyphen_values = true)]
    pub boottime_offset: Option<i64>,
    /// Print each step and its syscall to stderr as it happens.
    #[arg(long)]
    pub explain: bool,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub cmd: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    pub pid: i32,
    #[arg(last = true, required = true, value_name = "CMD")]
    pub cmd: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PathArgs {
    pub pid: i32,
    /// A path as the process sees it (defaults to / for ls).
    pub path: Option<String>,
}

#[derive(Debug, Args)]
pub struct PidArgs {
    pub pid: i32,
}

#[derive(Debug, Args)]
pub struct CgroupArgs {
    pub pid: i32,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LimitArgs {
    pub pid: i32,
    /// 64M, 1G, 512KiB, 1.5G, plain bytes, or max/unlimited.
    // Hyphen values reach our own validation, which explains `-2` in words.
    #[arg(allow_hyphen_values = true)]
    pub size: String,
    /// Allow changing a cgroup isolab did not create (it is live!).
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct HogArgs {
    /// Allocation rate, e.g. 8M or 8M/s.
    #[arg(long, default_value = "8M/s", allow_hyphen_values = true)]
    pub rate: String,
    /// Stop growing at this size, then hold it.
    #[arg(long, default_value = "1G", allow_hyphen_values = true)]
    pub max: String,
}

#[derive(Debug, Args)]
pub struct LearnArgs {
    /// Open this lesson directly: a built-in one (id or number), one of
    /// --dir, or a path to a lesson file (anything with a `/`).
    pub lesson: Option<String>,
    /// Forget saved progress and start over.
    #[arg(long)]
    pub reset: bool,
    /// Read the lessons from this directory instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Let "show me" run the start:/do:/cleanup: commands of lesson files
    /// not shipped with isolab without asking (read them first: they run as you).
    #[arg(long)]
    pub trust: bool,
}

#[derive(Debug, Args)]
pub struct LessonsArgs {
    #[command(subcommand)]
    pub action: LessonsAction,
    /// Read the lessons from this directory instead of the built-in ones.
    #[arg(long, value_name = "DIR", global = true)]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum LessonsAction {
    /// Validate lesson files; line-numbered errors, exit 1 on any.
    Lint { files: Vec<PathBuf> },
    /// List the lessons and their progress.
    List,
    /// Evaluate one step's check now: exit 0 pass, 1 not yet (with the reason).
    Check { lesson: String, step: usize },
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// A built-in lesson (id or number), one of --dir, or a path to a file.
    pub lesson: String,
    /// Read the lessons from this directory instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Run the start:/do:/cleanup: commands of lesson files not shipped with
    /// isolab without asking (read them first: they run as you).
    #[arg(long)]
    pub trust: bool,
}
