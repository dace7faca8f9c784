//! Whose lessons run (issue 10, point 2). A `./lessons` planted in the
//! current directory, or next to the binary, is never read: the built-in
//! lessons answer. A lesson file the user names (`--dir`, a path) is a
//! foreign lesson: its commands are shown with their file and run only
//! after a confirmation (TUI) or with `--trust` (headless). As root, a
//! lesson file or directory another user owns or can write is refused, and
//! a FIFO or symlink named as a lesson is refused without hanging.

mod common;
mod lessons_support;
mod tui_support;

use lessons_support::{Ran, run_in};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A lesson whose `start:` and `cleanup:` lines each create a marker file.
fn marker_lesson(title: &str, start: &Path, cleanup: &Path) -> String {
    format!(
        "lesson: {title}\ncleanup: touch {}\n\nstep: Make a file\nstart: touch {}\ncheck: file \"{}\" exists in host\n",
        cleanup.display(),
        start.display(),
        start.display()
    )
}

fn assert_ran_nothing(markers: &[&Path], what: &str, ran: &Ran) {
    for m in markers {
        assert!(
            !m.exists(),
            "{what} ran a command of a lesson file ({} exists)\nstdout:\n{}\nstderr:\n{}",
            m.display(),
            ran.out,
            ran.err
        );
    }
}

#[test]
fn a_lessons_dir_in_the_cwd_or_beside_the_binary_is_never_read() {
    let cwd = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let start = cwd.path().join("pwned-by-start");
    let cleanup = cwd.path().join("pwned-by-cleanup");
    std::fs::create_dir(cwd.path().join("lessons")).unwrap();
    for id in ["01-processes", "02-proc"] {
        std::fs::write(
            cwd.path().join(format!("lessons/{id}.lesson")),
            marker_lesson("HOSTILE", &start, &cleanup),
        )
        .unwrap();
    }
    // Also a copy of the binary with a hostile `lessons/` beside it (and
    // beside its directory): the old lookup searched there too.
    let bin = cwd.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let copy = bin.join("isolab");
    common::copy_executable(lessons_support::isolab(), &copy);
    std::fs::create_dir(bin.join("lessons")).unwrap();
    std::fs::write(
        bin.join("lessons/01-processes.lesson"),
        marker_lesson("HOSTILE", &start, &cleanup),
    )
    .unwrap();

    for exe in [None, Some(copy.as_path())] {
        let runs: &[(&[&str], &str, &str)] = &[
            (
                &["demo", "01-processes"],
                "q\n",
                "PROCESSES AND THE TREE THEY FORM",
            ),
            (&["lessons", "list"], "", "Processes and the tree they form"),
            (&["learn"], "q\n", "Processes and the tree they form"),
            (
                &["learn", "01-processes"],
                "q\n",
                "Processes and the tree they form",
            ),
        ];
        for (args, stdin, shipped) in runs {
            let ran = run_in(exe, args, cwd.path(), stdin, state.path());
            let what = format!(
                "isolab {args:?} (binary {exe:?}) in {}",
                cwd.path().display()
            );
            assert_eq!(ran.code, Some(0), "{what}: {}{}", ran.out, ran.err);
            assert_ran_nothing(&[&start, &cleanup], &what, &ran);
            assert!(
                !ran.out.contains("HOSTILE"),
                "{what} read ./lessons:\n{}",
                ran.out
            );
            assert!(
                ran.out.contains(shipped),
                "{what}: the shipped lesson did not answer:\n{}",
                ran.out
            );
        }
    }
}

#[test]
fn a_foreign_lessons_commands_are_shown_and_refused_without_trust() {
    let cwd = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let start = dir.path().join("made-by-start");
    let cleanup = dir.path().join("made-by-cleanup");
    let file = dir.path().join("01-own.lesson");
    std::fs::write(&file, marker_lesson("Own lesson", &start, &cleanup)).unwrap();
    let d = dir.path().to_str().unwrap();
    let f = file.to_str().unwrap();
    let runs: &[(&[&str], &str)] = &[
        (&["demo", "01-own", "--dir", d], "\nR\nq\n"),
        (&["demo", f], "\nq\n"),
        (&["learn", "01-own", "--dir", d], "s\nq\n"),
        (&["learn", f], "s\nq\n"),
    ];
    for (args, stdin) in runs {
        let ran = run_in(None, args, cwd.path(), stdin, state.path());
        let what = format!("isolab {args:?}");
        assert_eq!(ran.code, Some(0), "{what}: {}{}", ran.out, ran.err);
        assert_ran_nothing(&[&start, &cleanup], &what, &ran);
        // The command and the file it comes from are shown, and why it did
        // not run.
        assert!(
            ran.out.contains(&format!("touch {}", start.display())),
            "{what} did not show the command:\n{}",
            ran.out
        );
        assert!(
            ran.out.contains(&format!("(from {f})")),
            "{what} did not name the file:\n{}",
            ran.out
        );
        assert!(
            ran.out.contains("is not a lesson shipped with isolab") && ran.out.contains("--trust"),
            "{what} did not say why it refused:\n{}",
            ran.out
        );
    }

    // With --trust the same commands run (shown first).
    let ran = run_in(
        None,
        &["demo", "01-own", "--dir", d, "--trust"],
        cwd.path(),
        "\nq\n",
        state.path(),
    );
    assert_eq!(ran.code, Some(0), "{}{}", ran.out, ran.err);
    assert!(ran.out.contains("✔ PASS"), "{}", ran.out);
    assert!(start.exists() && cleanup.exists(), "{}", ran.out);
}

#[test]
fn the_demo_screen_asks_before_a_foreign_command_runs() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let start = dir.path().join("made-by-start");
    let cleanup = dir.path().join("made-by-cleanup");
    std::fs::write(
        dir.path().join("01-own.lesson"),
        marker_lesson("Own lesson", &start, &cleanup),
    )
    .unwrap();
    let t = tui_support::Tmux::start_program(
        100,
        30,
        &[
            &format!("XDG_STATE_HOME={}", state.path().display()),
            lessons_support::isolab().to_str().unwrap(),
            "demo",
            "01-own",
            "--dir",
            dir.path().to_str().unwrap(),
        ],
    );
    t.wait_for("MAKE A FILE", 60);
    t.keys(&["Space"]);
    let screen = t.wait_for("Run a command?", 60);
    let file = dir.path().join("01-own.lesson");
    assert!(
        screen.contains("not shipped with isolab")
            && screen.contains(&format!("file: {}", file.display()))
            && screen.contains(&format!("$ touch {}", start.display())),
        "{screen}"
    );
    // Any other key: not run.
    t.keys(&["n"]);
    t.wait_for("not run", 60);
    assert!(!start.exists(), "the command ran without a yes");
    // Asked again, `y` runs it.
    t.keys(&["Space"]);
    t.wait_for("Run a command?", 60);
    t.keys(&["y"]);
    t.wait_for("✔ PASS", 60);
    assert!(start.exists());
    // R stops what ran and asks before the file's cleanup line.
    t.keys(&["R"]);
    // The processes are stopped at once (the footer says so); the cleanup
    // line waits for an answer.
    let screen = t.wait_until(60, "the cleanup question after the reset", |s| {
        s.contains("Run a command?") && s.contains("reset: everything the demo started")
    });
    assert!(
        screen.contains(&format!("$ touch {}", cleanup.display())),
        "{screen}"
    );
    t.keys(&["Escape"]);
    t.wait_for("not run", 60);
    t.keys(&["q"]);
    // isolab is the session's only program: the session ends with it.
    t.wait_until(60, "isolab to exit", |_| {
        t.cmd(&["list-sessions"]).is_empty()
    });
    assert!(!cleanup.exists(), "the cleanup ran without a yes");
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn as_root_lesson_files_other_users_own_or_can_write_are_refused() {
    if !lessons_support::require_root(
        "as_root_lesson_files_other_users_own_or_can_write_are_refused",
    ) {
        return;
    }
    let cwd = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o755);
    let start = dir.path().join("made-by-start");
    let cleanup = dir.path().join("made-by-cleanup");
    let file: PathBuf = dir.path().join("01-own.lesson");
    std::fs::write(&file, marker_lesson("Own lesson", &start, &cleanup)).unwrap();
    let d = dir.path().to_str().unwrap();
    let f = file.to_str().unwrap();
    // lint names the file or directory and what to do, exit 1; demo and
    // learn refuse to open it, even with --trust, and run nothing.
    let refused = |what: &str, shown: &str, fix: &str| {
        let ran = run_in(None, &["lessons", "lint", f], cwd.path(), "", state.path());
        assert_eq!(ran.code, Some(1), "{what}: {}{}", ran.out, ran.err);
        assert!(
            ran.out.contains(&format!("refused the {shown}")) && ran.out.contains(fix),
            "{what}: {}",
            ran.out
        );
        for args in [
            vec!["demo", "01-own", "--dir", d, "--trust"],
            vec!["demo", f, "--trust"],
            vec!["learn", f, "--trust"],
        ] {
            let ran = run_in(None, &args, cwd.path(), "\ns\nq\n", state.path());
            assert_eq!(
                ran.code,
                Some(1),
                "{what}: {args:?}: {}{}",
                ran.out,
                ran.err
            );
            assert!(
                ran.err.contains(&format!("refused the {shown}")),
                "{what}: {args:?}: {}",
                ran.err
            );
            assert_ran_nothing(&[&start, &cleanup], what, &ran);
        }
    };
    let file_shown = format!("lesson file {f}");
    let dir_shown = format!("lessons directory {d}");

    // Sanity: root's own file in root's own directory is accepted.
    let ran = run_in(None, &["lessons", "lint", f], cwd.path(), "", state.path());
    assert_eq!(ran.code, Some(0), "{}{}", ran.out, ran.err);

    chmod(&file, 0o646);
    refused("a file others can write", &file_shown, "chmod go-w");
    chmod(&file, 0o664);
    refused("a file its group can write", &file_shown, "chmod go-w");
    chmod(&file, 0o644);

    let user = common::TestUser::new("ilsn");
    let (them, root) = (
        Some(nix::unistd::Uid::from_raw(user.uid)),
        Some(nix::unistd::Uid::from_raw(0)),
    );
    nix::unistd::chown(&file, them, None).unwrap();
    refused("a file owned by another user", &file_shown, "chown root");
    nix::unistd::chown(&file, root, None).unwrap();

    chmod(dir.path(), 0o777);
    refused("a directory others can write", &dir_shown, "chmod go-w");
    chmod(dir.path(), 0o755);
    nix::unistd::chown(dir.path(), them, None).unwrap();
    refused(
        "a directory owned by another user",
        &dir_shown,
        "chown root",
    );
    nix::unistd::chown(dir.path(), root, None).unwrap();
}

#[test]
fn a_fifo_or_a_symlink_named_as_a_lesson_is_refused_without_hanging() {
    let cwd = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("01-fifo.lesson");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let link = dir.path().join("02-link.lesson");
    std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
    let ran = run_in(
        None,
        &[
            "lessons",
            "lint",
            fifo.to_str().unwrap(),
            link.to_str().unwrap(),
        ],
        cwd.path(),
        "",
        state.path(),
    );
    assert_eq!(ran.code, Some(1), "{}{}", ran.out, ran.err);
    assert!(ran.out.contains("is not a regular file"), "{}", ran.out);
    assert!(ran.out.contains("is a symbolic link"), "{}", ran.out);
    // Listing the directory meets the same files: listed as broken.
    let ran = run_in(
        None,
        &["lessons", "list", "--dir", dir.path().to_str().unwrap()],
        cwd.path(),
        "",
        state.path(),
    );
    assert_eq!(ran.code, Some(0), "{}{}", ran.out, ran.err);
    assert_eq!(ran.out.matches("BROKEN").count(), 2, "{}", ran.out);
}
