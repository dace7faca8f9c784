//! Lessons that try to hang or crash isolab (issue 10, points 6 and 7).
//! A 48 KB check of 12,000 nested `(` or 20,000 `not` is a line-numbered
//! error, exit 1 (it was a stack overflow, exit 134). A `file` check on a
//! FIFO inside a process's root is "not yet" at once (it waited for a writer
//! forever), and quitting `isolab learn` after it returns; a worker stuck in
//! a check never holds up quitting, and what it started is still stopped.

mod common;
mod lessons_support;
mod tui_support;

use isolab::app::lessons::{LessonsState, Report, Worker};
use isolab::lessons::catalog::Entry;
use isolab::lessons::cond::Outcome;
use isolab::lessons::progress::Progress;
use lessons_support::run_in;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn deeply_nested_checks_are_a_line_numbered_error_not_an_abort() {
    let cwd = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let atom = "process where pid = 1";
    let cases = [
        (
            "01-parens",
            format!("{}{atom}{}", "( ".repeat(12_000), " )".repeat(12_000)),
        ),
        ("02-nots", format!("{}{atom}", "not ".repeat(20_000))),
        (
            "03-inner",
            format!("process where {}pid = 1", "not ".repeat(20_000)),
        ),
        (
            "04-after-and",
            format!("{atom} and {}{atom}", "not ".repeat(20_000)),
        ),
    ];
    for (id, check) in &cases {
        let file = dir.path().join(format!("{id}.lesson"));
        std::fs::write(&file, format!("lesson: Deep\n\nstep: S\ncheck: {check}\n")).unwrap();
        assert!(std::fs::metadata(&file).unwrap().len() >= 48_000);
        let f = file.to_str().unwrap();
        let ran = run_in(None, &["lessons", "lint", f], cwd.path(), "", state.path());
        assert_eq!(
            (ran.code, ran.signal),
            (Some(1), None),
            "{id}: lint: {}{}",
            ran.out,
            ran.err
        );
        assert!(
            ran.out.contains(&format!("{f}:4: check, column"))
                && ran.out.contains("nest more than"),
            "{id}: {}",
            ran.out.chars().take(400).collect::<String>()
        );
        for args in [
            vec!["demo", f],
            vec!["learn", f],
            vec!["lessons", "check", f, "1"],
        ] {
            let ran = run_in(None, &args, cwd.path(), "q\n", state.path());
            assert_eq!(
                (ran.code, ran.signal),
                (Some(1), None),
                "{id}: {args:?}: {}",
                ran.err.chars().take(400).collect::<String>()
            );
            assert!(ran.err.contains("line 4: check"), "{id}: {args:?}");
        }
    }
    // Listing them is not fatal either.
    let d = dir.path().to_str().unwrap();
    let ran = run_in(
        None,
        &["lessons", "list", "--dir", d],
        cwd.path(),
        "",
        state.path(),
    );
    assert_eq!(ran.code, Some(0), "{}", ran.err);
    assert_eq!(
        ran.out.matches("BROKEN").count(),
        cases.len(),
        "{}",
        ran.out
    );
}

/// A process with its own mount namespace whose /mnt (a tmpfs only it
/// sees) holds a FIFO; killed when the test ends.
struct FifoHolder {
    child: Child,
    sleep: String,
    fifo: String,
}

impl FifoHolder {
    fn start(salt: u32) -> FifoHolder {
        let n = lessons_support::unique(salt);
        let fifo = format!("/mnt/isolab-fifo-{n}");
        let sleep = format!("sleep {n}");
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "mount -t tmpfs isolab-fifo /mnt && mkfifo {fifo} && exec {sleep}"
            ))
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare");
        let holder = FifoHolder { child, sleep, fifo };
        // Ready when the FIFO shows inside the process's root.
        let inside = format!("/proc/{}/root{}", holder.child.id(), holder.fifo);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::fs::symlink_metadata(&inside).is_err() {
            assert!(Instant::now() < deadline, "{inside} never appeared");
            std::thread::sleep(Duration::from_millis(20));
        }
        holder
    }

    /// A lesson whose one step reads the FIFO.
    fn lesson(&self) -> String {
        format!(
            "lesson: FIFO\n\nstep: Read it\ncheck: file \"{}\" contains \"x\" in process where cmdline = \"{}\"\n\nstep: After\nText.\n",
            self.fifo, self.sleep
        )
    }
}

impl Drop for FifoHolder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_file_check_on_a_fifo_in_a_process_root_answers_not_yet() {
    let cwd = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let holder = FifoHolder::start(1);
    std::fs::write(dir.path().join("01-fifo.lesson"), holder.lesson()).unwrap();
    let d = dir.path().to_str().unwrap();
    let ran = run_in(
        None,
        &["lessons", "check", "01-fifo", "1", "--dir", d],
        cwd.path(),
        "",
        state.path(),
    );
    assert_eq!(ran.code, Some(1), "{}{}", ran.out, ran.err);
    assert!(
        ran.out
            .contains(&format!("not yet: the file `{}`", holder.fifo))
            && ran.out.contains("does not contain"),
        "{}",
        ran.out
    );
    // It exists all the same (exists looks, it does not open).
    std::fs::write(
        dir.path().join("02-exists.lesson"),
        format!(
            "lesson: E\nstep: S\ncheck: file \"{}\" exists in process where cmdline = \"{}\"\n",
            holder.fifo, holder.sleep
        ),
    )
    .unwrap();
    let ran = run_in(
        None,
        &["lessons", "check", "02-exists", "1", "--dir", d],
        cwd.path(),
        "",
        state.path(),
    );
    assert_eq!(ran.code, Some(0), "{}{}", ran.out, ran.err);
}

#[test]
fn quitting_learn_after_a_fifo_check_returns() {
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let holder = FifoHolder::start(2);
    std::fs::write(dir.path().join("01-fifo.lesson"), holder.lesson()).unwrap();
    let Some(t) = tui_support::Tmux::start(110, 30) else {
        panic!("tmux is needed for this journey (scripts/test.sh installs it)");
    };
    t.type_line(&format!(
        "XDG_STATE_HOME={} {} learn 01-fifo --dir {}",
        state.path().display(),
        lessons_support::isolab().display(),
        dir.path().display()
    ));
    t.wait_for("Step 1/2: Read it", 30);
    // The check answered (it used to wait for a writer forever).
    t.wait_for("not yet: the file", 30);
    t.keys(&["q"]);
    t.assert_terminal_restored("fifo");
}

#[test]
fn a_worker_stuck_in_a_check_does_not_hold_up_quitting() {
    let n = lessons_support::unique(3);
    let text = format!(
        "lesson: Stuck\n\nstep: Start\nstart: sleep {n}\ncheck: process where cmdline = \"sleep {n}\"\n"
    );
    let mut state = LessonsState::new(
        vec![Entry::from_text("01-stuck", None, &text)],
        Progress::default(),
        "/nonexistent/progress.json".into(),
        true,
    );
    // The evaluator answers until `stuck` is set, then blocks until the
    // test ends (as a check on a hung file system would).
    let stuck = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let flag = stuck.clone();
    let worker = Worker::start_with(
        move || {
            Box::new(move |_step| {
                if flag.load(std::sync::atomic::Ordering::SeqCst) {
                    let _ = entered_tx.send(());
                    let _ = release_rx.recv();
                }
                Some((Outcome::NotYet("waiting".into()), Vec::new()))
            })
        },
        lessons_support::isolab(),
        Duration::from_millis(50),
    );
    state.open(0, &worker);
    state.on_key(
        crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Char(' ')),
        &worker,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match worker.rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Report::Performed { result, .. }) => {
                result.unwrap();
                break;
            }
            Ok(_) => assert!(Instant::now() < deadline, "no Performed report"),
            Err(e) => panic!("the worker did not perform the step: {e}"),
        }
    }
    let running = || {
        Command::new("pgrep")
            .args(["-xf", &format!("sleep {n}")])
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success()
    };
    // The step's command starts through a shell: it reads as `sleep N`
    // only once that shell has exec'd it, a moment after Performed.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !running() {
        assert!(Instant::now() < deadline, "`sleep {n}` did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    stuck.store(true, std::sync::atomic::Ordering::SeqCst);
    entered_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the worker never reached the stuck check");

    // Quitting drops the worker: it must return although the thread is
    // stuck, and stop what the step started.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(worker);
        let _ = done_tx.send(());
    });
    let returned = done_rx.recv_timeout(Duration::from_secs(60)).is_ok();
    drop(release_tx);
    assert!(returned, "dropping the worker waited for its stuck thread");
    let deadline = Instant::now() + Duration::from_secs(30);
    while running() {
        assert!(
            Instant::now() < deadline,
            "`sleep {n}` still runs after quitting"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
