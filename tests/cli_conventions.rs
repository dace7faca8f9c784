//! The conventions of a real CLI, with the real binary: the man page
//! renders and `man` finds it after scripts/install.sh, every completion
//! script parses in its shell, `--color`/`NO_COLOR` reach the output
//! (line mode and the TUI), and the config file is one clear error.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_isolab");

/// The program `cmd` must be installed (scripts/test.sh installs it).
fn need(cmd: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("ISOLAB_TEST_ALLOW_SKIP").as_deref() == Ok("1"),
            "this test needs `{cmd}` (scripts/test.sh installs it); install it or set ISOLAB_TEST_ALLOW_SKIP=1"
        );
        eprintln!("not run: `{cmd}` is missing (ISOLAB_TEST_ALLOW_SKIP=1)");
    }
    found
}

/// isolab with a config home of its own (no user's config leaks in).
fn isolab(config_home: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("XDG_CONFIG_HOME", config_home).env_remove("NO_COLOR");
    c
}

fn run(mut c: Command, stdin: &str) -> Output {
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn isolab");
    // A command that refuses its arguments (`--color sometimes`) may be
    // gone before it reads: its closed stdin is its answer, not a failure.
    let written = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes());
    if let Err(e) = written {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
    }
    child.wait_with_output().expect("wait")
}

/// An SGR sequence that sets a colour (not one that resets it to default).
fn has_colour(out: &[u8]) -> bool {
    let s = String::from_utf8_lossy(out);
    s.split('\x1b').skip(1).any(|seq| {
        let Some(body) = seq.strip_prefix('[') else {
            return false;
        };
        let Some(end) = body.find('m') else {
            return false;
        };
        body[..end].split(';').any(|p| {
            matches!(
                p.parse::<u32>(),
                Ok(30..=37 | 38 | 40..=47 | 48 | 90..=97 | 100..=107)
            )
        })
    })
}

fn has_sgr(out: &[u8]) -> bool {
    String::from_utf8_lossy(out).contains("\x1b[")
}

#[test]
fn the_man_page_renders_and_names_the_flags_and_the_config_file() {
    if !need("man") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("isolab.1");
    let out = run(isolab(dir.path()), "");
    assert_eq!(
        out.status.code(),
        Some(2),
        "no subcommand on a pipe is a usage error"
    );
    let mut c = isolab(dir.path());
    c.arg("man");
    let out = run(c, "");
    assert!(out.status.success(), "{out:?}");
    std::fs::write(&page, &out.stdout).expect("write page");
    let shown = Command::new("man")
        .args(["--warnings", "-l"])
        .arg(&page)
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat")
        .output()
        .expect("run man");
    let text = String::from_utf8_lossy(&shown.stdout);
    let warnings = String::from_utf8_lossy(&shown.stderr);
    assert!(shown.status.success(), "man failed: {warnings}");
    assert!(warnings.trim().is_empty(), "groff warns: {warnings}");
    for want in [
        "isolab(1)",
        "--color <WHEN>",
        "--theme <THEME>",
        "completions",
        "CONFIGURATION FILE",
        "config.toml",
        "NO_COLOR",
        "EXIT STATUS",
    ] {
        assert!(text.contains(want), "the page lacks {want:?}:\n{text}");
    }
}

#[test]
fn install_sh_puts_everything_where_man_and_the_shells_look() {
    if !need("man") {
        return;
    }
    let dest = tempfile::tempdir().expect("tempdir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("bash")
        .arg(root.join("scripts/install.sh"))
        .env("DESTDIR", dest.path())
        .env("ISOLAB_BIN", BIN)
        .output()
        .expect("run install.sh");
    assert!(out.status.success(), "{out:?}");
    let prefix = dest.path().join("usr/local");
    for f in [
        "bin/isolab",
        "share/bash-completion/completions/isolab",
        "share/zsh/site-functions/_isolab",
        "share/fish/vendor_completions.d/isolab.fish",
    ] {
        assert!(prefix.join(f).is_file(), "{f} not installed");
    }
    let found = Command::new("man")
        .args(["-w", "isolab"])
        .env("MANPATH", prefix.join("share/man"))
        .output()
        .expect("man -w");
    let path = PathBuf::from(String::from_utf8_lossy(&found.stdout).trim());
    assert!(
        path.starts_with(&prefix),
        "`man isolab` would not find the installed page: {found:?}"
    );
}

#[test]
fn every_completion_script_parses_in_its_shell() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (shell, check) in [("bash", "bash"), ("zsh", "zsh"), ("fish", "fish")] {
        if !need(check) {
            continue;
        }
        let mut c = isolab(dir.path());
        c.args(["completions", shell]);
        let out = run(c, "");
        assert!(out.status.success(), "{out:?}");
        let script = dir.path().join(format!("isolab.{shell}"));
        std::fs::write(&script, &out.stdout).expect("write");
        let parsed = Command::new(check)
            .arg("-n")
            .arg(&script)
            .output()
            .expect("run the shell");
        assert!(parsed.status.success(), "{shell}: {parsed:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("theme"),
            "{shell}"
        );
    }
    // bash really registers it.
    let script = dir.path().join("isolab.bash");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(". {}; complete -p isolab", script.display()))
        .output()
        .expect("bash");
    assert!(out.status.success(), "{out:?}");
}

/// `isolab learn 1` in line mode, quit at once: what it printed.
fn learn(config_home: &Path, flags: &[&str], no_color: Option<&str>) -> Output {
    let mut c = isolab(config_home);
    c.args(flags).args(["learn", "1"]);
    if let Some(v) = no_color {
        c.env("NO_COLOR", v);
    }
    run(c, "q\n")
}

#[test]
fn color_flag_and_no_color_decide_the_line_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    // On a pipe: plain unless asked.
    let out = learn(dir.path(), &[], None);
    assert!(out.status.success(), "{out:?}");
    assert!(!has_sgr(&out.stdout), "a pipe gets plain text");
    assert!(has_sgr(
        &learn(dir.path(), &["--color", "always"], None).stdout
    ));
    assert!(
        has_sgr(&learn(dir.path(), &["--color", "always"], Some("1")).stdout),
        "an explicit --color always wins over NO_COLOR"
    );
    // The config file's colour, and the flag winning over it.
    std::fs::create_dir_all(dir.path().join("isolab")).expect("mkdir");
    std::fs::write(
        dir.path().join("isolab/config.toml"),
        "color = \"always\"\n",
    )
    .expect("write");
    assert!(
        has_sgr(&learn(dir.path(), &[], None).stdout),
        "config color"
    );
    assert!(
        !has_sgr(&learn(dir.path(), &["--color", "never"], None).stdout),
        "flag wins"
    );
    let out = learn(dir.path(), &["--color", "sometimes"], None);
    assert_eq!(out.status.code(), Some(2));
}

/// Runs the TUI on a pseudo-terminal (util-linux `script`), waits for its
/// tab line, quits with q, and returns everything it wrote.
fn tui(flags: &str, no_color: Option<&str>) -> Vec<u8> {
    tui_configured(flags, no_color, "")
}

/// The TUI's output with `config` as its config file.
fn tui_configured(flags: &str, no_color: Option<&str>, config: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("isolab")).expect("mkdir");
    std::fs::write(dir.path().join("isolab/config.toml"), config).expect("write config");
    let mut c = Command::new("script");
    c.args([
        "-qec",
        &format!("stty cols 100 rows 30; {BIN} {flags}"),
        "/dev/null",
    ])
    .env("XDG_CONFIG_HOME", dir.path())
    .env("TERM", "xterm-256color")
    .env_remove("NO_COLOR")
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    if let Some(v) = no_color {
        c.env("NO_COLOR", v);
    }
    let mut child = c.spawn().expect("spawn script");
    let out = Arc::new(Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().expect("stdout");
    let sink = out.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().expect("lock").extend_from_slice(&buf[..n]);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while !String::from_utf8_lossy(&out.lock().expect("lock")).contains("Processes") {
        assert!(Instant::now() < deadline, "the TUI never drew its tabs");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"q").expect("send q");
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("try_wait").is_none() {
        assert!(Instant::now() < deadline, "the TUI did not quit on q");
        std::thread::sleep(Duration::from_millis(20));
    }
    reader.join().expect("reader");
    // The reader has ended: its clone of `out` is gone.
    Arc::try_unwrap(out)
        .expect("the only owner")
        .into_inner()
        .expect("lock")
}

#[test]
fn no_color_and_color_never_make_the_tui_draw_without_colour() {
    if !need("script") {
        return;
    }
    assert!(has_colour(&tui("", None)), "the TUI colours by default");
    for (flags, no_color) in [("--color never", None), ("", Some("1"))] {
        let out = tui(flags, no_color);
        assert!(
            !has_colour(&out),
            "{flags} NO_COLOR={no_color:?}: colour drawn"
        );
        // Still a real TUI: reverse video for the selection and the tabs.
        assert!(String::from_utf8_lossy(&out).contains("\x1b[7m"));
    }
    assert!(has_colour(&tui("--color always", Some("1"))));
}

/// `columns` in the config file picks the Processes screen's columns, in
/// order; `--columns` wins over it.
#[test]
fn the_config_files_columns_and_the_flag_choose_the_tree_columns() {
    if !need("script") {
        return;
    }
    let screen = |flags: &str| {
        let out = tui_configured(flags, None, "columns = [\"pid\", \"isol\", \"user\"]\n");
        String::from_utf8_lossy(&out).into_owned()
    };
    let from_file = screen("--color never");
    assert!(
        from_file.contains("    PID ISOL     USER     COMMAND"),
        "the config's columns in its order: {from_file:?}"
    );
    assert!(!from_file.contains("PPID"), "only the columns asked for");
    let from_flag = screen("--color never --columns ppid,cpu");
    assert!(
        from_flag.contains("  PPID  CPU% COMMAND"),
        "the flag wins over the file: {from_flag:?}"
    );
}

#[test]
fn a_bad_config_file_is_one_error_with_file_and_line_and_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("isolab/config.toml");
    std::fs::create_dir_all(conf.parent().expect("parent")).expect("mkdir");
    for (text, want) in [
        (
            "interval = 0.5\ncolour = \"never\"\n",
            "line 2: unknown field `colour`",
        ),
        ("theme = \"neon\"\n", "line 1: unknown variant `neon`"),
        (
            "interval = 500\n",
            "line 1: interval must be between 0.1 and 60",
        ),
        ("interval = \"fast\"\n", "line 1: invalid type"),
        (
            "columns = [\"pid\", \"mem\"]\n",
            "line 1: unknown variant `mem`",
        ),
    ] {
        std::fs::write(&conf, text).expect("write");
        let mut c = isolab(dir.path());
        c.args(["tree"]);
        let out = run(c, "");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text:?}: {err}");
        assert!(out.stdout.is_empty(), "{text:?}: it started anyway");
        assert_eq!(err.lines().count(), 1, "one error: {err}");
        assert!(err.contains(&conf.display().to_string()), "{err}");
        assert!(err.contains(want), "{text:?}: {err}");
    }
    // A good file, overridden by the flag; the generators never read it.
    std::fs::write(&conf, "interval = 0.5\ntheme = \"projector\"\n").expect("write");
    let mut c = isolab(dir.path());
    c.args(["--interval", "100", "tree"]);
    let out = run(c, "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--interval"));
    std::fs::write(&conf, "nonsense").expect("write");
    let mut c = isolab(dir.path());
    c.arg("man");
    assert!(run(c, "").status.success(), "man does not read the config");
}

#[test]
fn as_another_user_a_home_it_cannot_enter_has_no_config_but_an_unreadable_file_is_an_error() {
    use std::os::unix::fs::PermissionsExt;
    if !nix::unistd::geteuid().is_root() {
        assert!(
            std::env::var("ISOLAB_TEST_ALLOW_SKIP").as_deref() == Ok("1"),
            "this test needs root (it runs isolab as uid 65534); run it as root or set ISOLAB_TEST_ALLOW_SKIP=1"
        );
        eprintln!("not run: needs root (ISOLAB_TEST_ALLOW_SKIP=1)");
        return;
    }
    if !need("setpriv") {
        return;
    }
    let mode = |p: &Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
    // What uid 65534 must run and reach: a fresh 0755 directory of ours.
    let dir = tempfile::tempdir().expect("tempdir");
    mode(dir.path(), 0o755).expect("chmod");
    let bin = dir.path().join("isolab");
    // Through `cp`: a copy written by this process is busy (ETXTBSY) while
    // another test thread forks (tests/common's copy_executable says why).
    common::copy_executable(BIN, &bin);
    // A config home it cannot enter (as `setpriv` keeping root's HOME).
    let closed = dir.path().join("closed");
    std::fs::create_dir_all(closed.join("isolab")).expect("mkdir");
    std::fs::write(closed.join("isolab/config.toml"), "nonsense").expect("write");
    mode(&closed, 0o700).expect("chmod");
    // A config file it can see but not read.
    let open = dir.path().join("open");
    std::fs::create_dir_all(open.join("isolab")).expect("mkdir");
    mode(&open, 0o755).expect("chmod");
    mode(&open.join("isolab"), 0o755).expect("chmod");
    std::fs::write(open.join("isolab/config.toml"), "theme = \"default\"\n").expect("write");
    mode(&open.join("isolab/config.toml"), 0o600).expect("chmod");
    let as_nobody = |config_home: &Path| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .args(["completions", "bash"])
            .env("XDG_CONFIG_HOME", config_home)
            .output()
            .expect("setpriv")
    };
    // `completions` skips the config: a baseline that the binary runs.
    assert!(as_nobody(&closed).status.success());
    let run_as_nobody = |config_home: &Path| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .args(["--proc-root", "/proc", "lessons", "list"])
            .env("XDG_CONFIG_HOME", config_home)
            .env("XDG_STATE_HOME", dir.path().join("no-state"))
            .output()
            .expect("setpriv")
    };
    let out = run_as_nobody(&closed);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("config file"),
        "a closed home has no config: {err}"
    );
    let out = run_as_nobody(&open);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("config file") && err.contains("cannot be opened"),
        "{err}"
    );
}

/// `isolab tree | head` ends quietly, as `ps axjf | head` does: a reader
/// that stops reading is not an error worth a panic message.
#[test]
fn a_closed_pipe_ends_a_printing_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let home = tempfile::tempdir().unwrap();
    for args in [&["tree"][..], &["man"], &["lessons", "list"]] {
        // A pipe whose reading end is already closed: the first write
        // fails, every time, whatever the output's size.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = isolab(home.path())
            .args(args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "isolab {args:?} into a closed pipe printed: {stderr}"
        );
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGPIPE),
            "isolab {args:?} into a closed pipe should end by SIGPIPE as a filter does: {:?}",
            out.status
        );
    }
}
