//! `isolab lessons lint|list|check` through the binary: shipped lessons are
//! clean, a broken file gives line-numbered errors and exit 1, and a broken
//! file is listed with its error instead of crashing anything.

mod common;
mod lessons_support;

use std::process::Command;

fn isolab(args: &[&str], state: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(lessons_support::isolab())
        .args(args)
        .env("XDG_STATE_HOME", state)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_shipped_lesson_lints_clean() {
    let state = tempfile::tempdir().unwrap();
    let dir = lessons_support::lessons_dir();
    let (code, out, err) = isolab(
        &["lessons", "lint", "--dir", dir.to_str().unwrap()],
        state.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.matches(": ok,").count(), 7, "{out}");
    // The built-in copies are the same files.
    for (id, text) in isolab::lessons::catalog::SHIPPED {
        let on_disk = std::fs::read_to_string(dir.join(format!("{id}.lesson"))).unwrap();
        assert_eq!(on_disk, *text, "{id}");
    }
}

#[test]
fn a_broken_file_is_reported_with_line_numbers_and_exit_1() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("01-good.lesson");
    let bad = dir.path().join("02-bad.lesson");
    std::fs::write(&good, "lesson: Fine\nstep: One\nJust text.\n").unwrap();
    std::fs::write(
        &bad,
        "lesson: Broken\n\nstep: One\ncheck: process where colour = \"red\"\nstep: Two\n```\nnever closed\n",
    )
    .unwrap();
    let (code, out, err) = isolab(
        &[
            "lessons",
            "lint",
            bad.to_str().unwrap(),
            good.to_str().unwrap(),
        ],
        state.path(),
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("02-bad.lesson:4: check, column 15: unknown field `colour`"),
        "{out}"
    );
    assert!(
        out.contains("02-bad.lesson:6: this code block is never closed"),
        "{out}"
    );
    assert!(out.contains("01-good.lesson: ok, 1 steps"), "{out}");
    assert!(
        err.starts_with("isolab: 1 of 2 lesson files have errors"),
        "{err}"
    );

    let (code, out, err) = isolab(
        &["lessons", "list", "--dir", dir.path().to_str().unwrap()],
        state.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("02-bad") && out.contains("BROKEN") && out.contains("line 4"),
        "{out}"
    );
    assert!(out.contains("01-good") && out.contains("0/1"), "{out}");

    let (code, _, err) = isolab(
        &[
            "lessons",
            "check",
            "02-bad",
            "1",
            "--dir",
            dir.path().to_str().unwrap(),
        ],
        state.path(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("has errors") && err.contains("line 4"),
        "{err}"
    );
}

#[test]
fn check_exit_codes() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let me = std::process::id();
    std::fs::write(
        dir.path().join("01-t.lesson"),
        format!(
            "lesson: T\nstep: Me\ncheck: process where pid = {me}\nstep: Nobody\ncheck: process where cmdline = \"no-such-{me}\"\n"
        ),
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    let (code, out, _) = isolab(&["lessons", "check", "01-t", "1", "--dir", d], state.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("pass:"), "{out}");
    let (code, out, _) = isolab(&["lessons", "check", "1", "2", "--dir", d], state.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("not yet: no process running `no-such-{me}` yet")),
        "{out}"
    );
    let (code, _, err) = isolab(&["lessons", "check", "01-t", "9", "--dir", d], state.path());
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = isolab(&["lessons", "check", "nope", "1", "--dir", d], state.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the lessons are: 01-t"), "{err}");
}

#[test]
fn a_corrupt_progress_file_is_set_aside_with_a_message() {
    let state = tempfile::tempdir().unwrap();
    let file = state.path().join("isolab/progress.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "{\"lessons\": [garbage").unwrap();
    let (code, out, err) = isolab(&["lessons", "list"], state.path());
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("was damaged") && err.contains("progress.json.corrupt"),
        "{err}"
    );
    assert!(state.path().join("isolab/progress.json.corrupt").exists());
    assert!(out.contains("01-processes"), "{out}");
}

#[test]
fn built_in_lessons_work_from_anywhere() {
    let state = tempfile::tempdir().unwrap();
    // A copy of the binary far from the repository: only the built-in
    // lessons can answer.
    let elsewhere = tempfile::tempdir().unwrap();
    let copy = elsewhere.path().join("isolab");
    common::copy_executable(lessons_support::isolab(), &copy);
    // Another test thread may fork while the copy is still open for
    // writing (ETXTBSY until that child execs): retry a little.
    let mut tries = 0;
    let out = loop {
        match Command::new(&copy)
            .args(["lessons", "list"])
            .current_dir(elsewhere.path())
            .env("XDG_STATE_HOME", state.path())
            .output()
        {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => break other.unwrap(),
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert_eq!(text.lines().count(), 7, "{text}");
}

#[test]
fn learn_saves_progress_and_reset_forgets_it() {
    use std::io::Write;
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("01-read.lesson"),
        "lesson: Reading\nstep: A\nRead this.\nstep: B\nAnd this.\n",
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    let mut child = Command::new(lessons_support::isolab())
        .args(["learn", "01-read", "--dir", d])
        .env("XDG_STATE_HOME", state.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Next on the first step, then quit on the second.
    child.stdin.as_mut().unwrap().write_all(b"n\nq\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("step 1/2: A") && text.contains("step 2/2: B"),
        "{text}"
    );
    let (_, list, _) = isolab(&["lessons", "list", "--dir", d], state.path());
    assert!(list.contains("1/2"), "{list}");
    let (code, _, _) = isolab(&["learn", "--reset"], state.path());
    assert_eq!(code, 0);
    let (_, list, _) = isolab(&["lessons", "list", "--dir", d], state.path());
    assert!(list.contains("0/2"), "{list}");
}
