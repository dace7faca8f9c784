//! The user's config file, `$XDG_CONFIG_HOME/isolab/config.toml` (else
//! `~/.config/isolab/config.toml`), and how it meets the command line:
//! a flag wins over the file, the file over the built-in default.
//!
//! ```toml
//! interval = 0.5        # seconds, 0.1 to 60
//! theme = "projector"   # or "default"
//! color = "never"       # or "auto", "always"
//! columns = ["pid", "user", "cpu", "rss", "isol", "container"]
//! ```
//!
//! A bad file (unknown key, wrong type, bad value, unreadable, not a
//! regular file) is one error naming the file and the line, exit 2: isolab
//! never starts half-configured. The file is read with O_NOFOLLOW|O_NONBLOCK
//! (a symlink or a FIFO cannot redirect or block it), only if fstat says it
//! is a regular file of at most [`MAX_BYTES`]. It must be owned by us or by
//! root; as root (e.g. `sudo` keeping another user's HOME) it must also be
//! owned by root and writable by nobody else, or that user could steer root.

use crate::cli::{Cli, ColorChoice, Column, Command, ThemeName};
use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::{Mode, SFlag, fstat};
use serde::Deserialize;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A config file is a few lines; anything bigger is not ours.
pub const MAX_BYTES: u64 = 64 * 1024;

/// What the file may say. Unknown keys are errors (a typo must not be
/// silently ignored).
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Kept with its place in the file, to name the line of a bad value.
    pub interval: Option<toml::Spanned<f64>>,
    pub theme: Option<ThemeName>,
    pub color: Option<ColorChoice>,
    /// The Processes screen's columns, in order (COMMAND always comes last).
    pub columns: Option<toml::Spanned<Vec<Column>>>,
}

/// Where the config file is looked for (it need not exist).
pub fn path() -> Option<PathBuf> {
    crate::sys::paths::config_file_path()
}

/// Fills in `cli.interval`, `cli.theme` and `cli.use_color` from the flags,
/// else the config file, else the defaults. The generators (`completions`,
/// `man`) print fixed text and do not read the file.
pub fn resolve(cli: &mut Cli) -> anyhow::Result<()> {
    let generator = matches!(cli.command, Some(Command::Completions(_) | Command::Man));
    let config = match path() {
        Some(p) if !generator => load(&p)?.unwrap_or_default(),
        _ => Config::default(),
    };
    cli.interval = cli
        .interval_flag
        .or(config.interval.map(|s| s.into_inner()))
        .unwrap_or(1.0);
    cli.theme = cli.theme_flag.or(config.theme).unwrap_or_default();
    cli.columns = cli
        .columns_flag
        .clone()
        .or(config.columns.map(|s| s.into_inner()));
    let choice = cli.color_flag.or(config.color).unwrap_or_default();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    use std::io::IsTerminal;
    cli.use_color = color_enabled(choice, no_color, std::io::stdout().is_terminal());
    Ok(())
}

/// The colour decision. `NO_COLOR` (https://no-color.org: any non-empty
/// value) turns off only `auto`: an explicit `--color always` (or the
/// user's config file saying so) wins over it, as that page asks.
pub fn color_enabled(choice: ColorChoice, no_color: bool, stdout_is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => !no_color && stdout_is_terminal,
    }
}

/// Reads and checks the config file at `path`: `None` if there is none.
pub fn load(path: &Path) -> anyhow::Result<Option<Config>> {
    let Some(text) = read(path)? else {
        return Ok(None);
    };
    parse(path, &text).map(Some)
}

fn bad(path: &Path, what: impl std::fmt::Display) -> anyhow::Error {
    crate::UsageError(format!(
        "config file {}: {what}",
        crate::text::escape_os(path.as_os_str())
    ))
    .into()
}

/// The file's text, with every check of the module doc.
fn read(path: &Path) -> anyhow::Result<Option<String>> {
    let fix = "fix it, or move it away to use the defaults";
    let fd = match open(
        path,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENOENT | Errno::ENOTDIR) => return Ok(None),
        // A directory on the way we may not search: HOME is someone else's
        // (`setpriv`, `su` without `-l` keep root's HOME). No file there
        // can be ours, so there is no config; a file we can see but not
        // read is an error below.
        Err(Errno::EACCES) if nix::sys::stat::stat(path).is_err_and(|e| e == Errno::EACCES) => {
            return Ok(None);
        }
        Err(Errno::ELOOP) => {
            return Err(bad(
                path,
                format!("is a symbolic link; isolab reads only a regular file there: {fix}"),
            ));
        }
        Err(e) => return Err(bad(path, format!("cannot be opened ({e}): {fix}"))),
    };
    let st = fstat(&fd).map_err(|e| bad(path, format!("cannot be examined ({e})")))?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
        return Err(bad(path, format!("is not a regular file: {fix}")));
    }
    let euid = nix::unistd::geteuid().as_raw();
    if st.st_uid != euid && st.st_uid != 0 {
        return Err(bad(
            path,
            format!(
                "is owned by uid {}, not by you (uid {euid}) or root; isolab does not take \
                 settings from another user's file: remove it, or run isolab as that user{}",
                st.st_uid,
                if euid == 0 {
                    " (with sudo: `sudo -H` uses root's own config)"
                } else {
                    ""
                }
            ),
        ));
    }
    if euid == 0 && (st.st_uid != 0 || st.st_mode & 0o022 != 0) {
        return Err(bad(
            path,
            "is writable by a user other than root, and isolab runs as root: \
             `chmod go-w` it (or `sudo -H` to use root's own config)",
        ));
    }
    if st.st_size as u64 > MAX_BYTES {
        return Err(bad(
            path,
            format!("is larger than {MAX_BYTES} bytes; a config file is a few lines: {fix}"),
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::from(fd)
        .take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| bad(path, format!("cannot be read ({e}): {fix}")))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(bad(
            path,
            format!("is larger than {MAX_BYTES} bytes: {fix}"),
        ));
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| bad(path, format!("is not UTF-8 text: {fix}")))
}

/// The line (1-based) of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Parses and validates the text of the config file at `path`.
pub fn parse(path: &Path, text: &str) -> anyhow::Result<Config> {
    let keys = "the keys are interval (seconds), theme (\"default\" or \"projector\"), \
                color (\"auto\", \"always\" or \"never\") and columns (a list of \
                ppid, pid, pgid, sid, tty, stat, user, time, cpu, rss, isol, container); \
                see `man isolab`";
    let config: Config = toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| format!("line {}: ", line_of(text, s.start)))
            .unwrap_or_default();
        bad(
            path,
            format!("{at}{}; fix that line ({keys})", e.message().trim_end()),
        )
    })?;
    if let Some(i) = &config.interval
        && !(0.1..=60.0).contains(i.get_ref())
    {
        return Err(bad(
            path,
            format!(
                "line {}: interval must be between 0.1 and 60 seconds, not {}; fix that line",
                line_of(text, i.span().start),
                i.get_ref()
            ),
        ));
    }
    if let Some(c) = &config.columns
        && c.get_ref().is_empty()
    {
        return Err(bad(
            path,
            format!(
                "line {}: columns must name at least one column (or leave the key out for \
                 the width's own set); fix that line",
                line_of(text, c.span().start)
            ),
        ));
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        let e = parse(Path::new("/home/u/.config/isolab/config.toml"), text)
            .expect_err("should be refused");
        assert!(e.downcast_ref::<crate::UsageError>().is_some(), "exit 2");
        format!("{e:#}")
    }

    #[test]
    fn a_good_file_sets_every_key() {
        let c = parse(
            Path::new("c.toml"),
            "# mine\ninterval = 0.5\ntheme = \"projector\"\ncolor = \"never\"\n",
        )
        .expect("parses");
        assert_eq!(c.interval.map(|s| s.into_inner()), Some(0.5));
        assert_eq!(c.theme, Some(ThemeName::Projector));
        assert_eq!(c.color, Some(ColorChoice::Never));
        assert_eq!(parse(Path::new("c"), "").expect("empty"), Config::default());
    }

    #[test]
    fn columns_are_read_in_order_and_a_wrong_name_is_an_error_on_its_line() {
        let c = parse(
            Path::new("c.toml"),
            "columns = [\"pid\", \"container\", \"cpu\"]\n",
        )
        .expect("good file");
        assert_eq!(
            c.columns.map(|s| s.into_inner()),
            Some(vec![Column::Pid, Column::Container, Column::Cpu])
        );
        let e = err("interval = 1\ncolumns = [\"pid\", \"memory\"]\n");
        assert!(e.contains("line 2") && e.contains("memory"), "{e}");
        let e = err("\ncolumns = []\n");
        assert!(e.contains("line 2") && e.contains("at least one"), "{e}");
    }

    #[test]
    fn a_bad_file_is_one_error_with_file_and_line() {
        let e = err("interval = 1\ncolour = \"never\"\n");
        assert!(
            e.contains("config file /home/u/.config/isolab/config.toml"),
            "{e}"
        );
        assert!(e.contains("line 2"), "{e}");
        assert!(e.contains("colour"), "{e}");
        let e = err("\n\ninterval = \"fast\"\n");
        assert!(e.contains("line 3"), "{e}");
        let e = err("theme = \"blue\"\n");
        assert!(e.contains("line 1") && e.contains("projector"), "{e}");
        let e = err("color = true\n");
        assert!(e.contains("line 1"), "{e}");
        let e = err("x = [\n");
        assert!(e.contains("line"), "{e}");
        let e = err("theme = \"default\"\ninterval = 100\n");
        assert!(
            e.contains("line 2") && e.contains("between 0.1 and 60"),
            "{e}"
        );
        let e = err("interval = nan\n");
        assert!(e.contains("between 0.1 and 60"), "{e}");
    }

    #[test]
    fn no_color_turns_off_only_auto() {
        use ColorChoice::*;
        assert!(color_enabled(Auto, false, true));
        assert!(!color_enabled(Auto, false, false), "not a terminal");
        assert!(!color_enabled(Auto, true, true), "NO_COLOR");
        assert!(color_enabled(Always, true, false), "--color always wins");
        assert!(!color_enabled(Never, false, true));
    }

    #[test]
    fn only_a_regular_file_of_ours_is_read() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("none.toml");
        assert!(load(&missing).expect("absent is fine").is_none());
        let real = dir.path().join("real.toml");
        std::fs::write(&real, "theme = \"projector\"\n").expect("write");
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(
            load(&real).expect("read").expect("some").theme,
            Some(ThemeName::Projector)
        );
        let link = dir.path().join("link.toml");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let e = format!("{:#}", load(&link).expect_err("symlink refused"));
        assert!(
            e.contains("symbolic link") && e.contains("link.toml"),
            "{e}"
        );
        let fifo = dir.path().join("fifo.toml");
        nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).expect("mkfifo");
        let e = format!(
            "{:#}",
            load(&fifo).expect_err("fifo refused, without blocking")
        );
        assert!(e.contains("not a regular file"), "{e}");
        let sub = dir.path().join("dir.toml");
        std::fs::create_dir(&sub).expect("mkdir");
        assert!(load(&sub).is_err(), "a directory is refused");
        let big = dir.path().join("big.toml");
        std::fs::write(&big, "#".repeat(MAX_BYTES as usize + 1)).expect("write");
        let e = format!("{:#}", load(&big).expect_err("too big"));
        assert!(e.contains("larger than"), "{e}");
    }

    #[test]
    fn as_root_only_a_file_of_roots_that_nobody_else_can_write() {
        use std::os::unix::fs::PermissionsExt;
        if !crate::test_needs_root("it chowns a file") {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let real = dir.path().join("config.toml");
        std::fs::write(&real, "theme = \"projector\"\n").expect("write");
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(load(&real).expect("root's own file").is_some());
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o620)).expect("chmod");
        let e = format!(
            "{:#}",
            load(&real).expect_err("group-writable refused as root")
        );
        assert!(e.contains("chmod go-w"), "{e}");
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        nix::unistd::chown(&real, Some(nix::unistd::Uid::from_raw(65534)), None).expect("chown");
        let e = format!(
            "{:#}",
            load(&real).expect_err("another user's file refused")
        );
        assert!(e.contains("uid 65534") && e.contains("config.toml"), "{e}");
    }
}
