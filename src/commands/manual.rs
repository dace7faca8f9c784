//! `isolab completions SHELL` and `isolab man`: generated from the clap
//! definitions in `cli.rs`, so they cannot drift from the real flags.
//! `scripts/install.sh` installs both.

use crate::cli::{Cli, CompletionsArgs};
use clap::CommandFactory;
use std::io::Write;

pub fn completions(a: &CompletionsArgs) -> anyhow::Result<i32> {
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut Cli::command(), "isolab", &mut out);
    std::io::stdout().write_all(&out)?;
    Ok(0)
}

pub fn man() -> anyhow::Result<i32> {
    std::io::stdout().write_all(&man_page()?)?;
    Ok(0)
}

/// The whole page: clap_mangen's sections, then the ones clap knows nothing
/// of (the config file, the environment, exit codes), then the version.
pub fn man_page() -> anyhow::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(Cli::command());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    man.render_subcommands_section(&mut out)?;
    out.extend_from_slice(EXTRA_SECTIONS.as_bytes());
    man.render_version_section(&mut out)?;
    Ok(out)
}

/// Hand-written roff (fixed text: `\-` is a real minus, `\fB`/`\fI` fonts).
const EXTRA_SECTIONS: &str = r#".SH "CONFIGURATION FILE"
\fI$XDG_CONFIG_HOME/isolab/config.toml\fR (else \fI~/.config/isolab/config.toml\fR)
may set defaults; a flag on the command line wins over it:
.PP
.RS
.nf
interval = 0.5        # seconds, 0.1 to 60
theme = "projector"   # or "default"
color = "never"       # or "auto", "always"
columns = ["pid", "user", "cpu", "isol", "container"]
.fi
.PP
\fBcolumns\fR (and \fB\-\-columns\fR) picks the Processes screen's columns, in
order, from ppid, pid, pgid, sid, tty, stat, user, time, cpu, rss, isol and
container; COMMAND always comes last. Without it the screen shows as many as
its width allows.
.RE
.PP
An unknown key, a wrong type or a bad value is one error naming the file and
the line, and isolab exits 2 without starting. isolab reads the file only if it
is a regular file (not a symbolic link) of at most 64 KiB, owned by you or by
root; when isolab runs as root it must be owned by root and writable by nobody
else.
.SH ENVIRONMENT
.TP
\fBNO_COLOR\fR
Any non\-empty value turns colour off, unless \fB\-\-color always\fR (or the
config file's \fBcolor\fR) asks for it. With colour off the TUI uses only bold,
reverse video and the like.
.TP
\fBXDG_CONFIG_HOME\fR, \fBHOME\fR
Where the configuration file is looked for.
.TP
\fBXDG_RUNTIME_DIR\fR, \fBXDG_CACHE_HOME\fR, \fBXDG_STATE_HOME\fR
Where isolab keeps its records, the minimal root it builds, and lesson progress.
.SH "EXIT STATUS"
0 on success; 1 when something failed at run time (a missing process, a refused
write); 2 on a usage error (a bad flag, a bad configuration file).
.SH "SEE ALSO"
\fBisolab help\fR \fICOMMAND\fR for each command's options;
\fBunshare\fR(1), \fBnsenter\fR(1), \fBnamespaces\fR(7), \fBcgroups\fR(7).
"#;
