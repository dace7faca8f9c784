//! tmux journeys: a student works through the first lesson, acting in a
//! second tmux window while the Lessons screen watches; and a presenter
//! plays a demo with one key per step, goes back and resets.

mod common;
mod lessons_support;

use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    session: String,
}

impl Tmux {
    fn new(name: &str, w: u16, h: u16, cmd: &str) -> Tmux {
        let session = format!("isolab-{name}-{}", std::process::id());
        let ok = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                &session,
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
                cmd,
            ])
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux new-session failed");
        Tmux { session }
    }

    fn keys(&self, target: &str, keys: &[&str]) {
        let t = format!("{}:{target}", self.session);
        let mut args = vec!["send-keys", "-t", &t];
        args.extend_from_slice(keys);
        assert!(Command::new("tmux").args(&args).status().unwrap().success());
    }

    fn capture(&self, target: &str) -> String {
        let t = format!("{}:{target}", self.session);
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &t])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, target: &str, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let screen = self.capture(target);
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited 60 s for {text:?} in window {target}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn pane_pid(&self, target: &str) -> Option<i32> {
        let t = format!("{}:{target}", self.session);
        let out = Command::new("tmux")
            .args(["display-message", "-p", "-t", &t, "#{pane_pid}"])
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // The student's shell is a session leader: stop exactly the jobs of
        // that session (they are ours), then the tmux session.
        if let Some(pid) = self.pane_pid("student") {
            let _ = Command::new("pkill")
                .args(["-KILL", "-s", &pid.to_string()])
                .status();
        }
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// The isolab running in window `target` of `t` (the pane's process or a
/// descendant of it whose executable is the built isolab).
fn isolab_in(t: &Tmux, target: &str) -> i32 {
    let exe = std::fs::canonicalize(lessons_support::isolab()).unwrap();
    common::wait_for("isolab to run in the tmux pane", || {
        let pane = t.pane_pid(target)?;
        common::pids().into_iter().find(|p| {
            common::descends_from(*p, pane)
                && std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e == exe)
        })
    })
}

/// Whether no process `sleep SECS` that the demo at `isolab_pid` started
/// runs (a lesson fixes the number: others may run one too; ours carries
/// the demo's lesson marker).
fn none_of_ours_runs(isolab_pid: i32, secs: &str) -> bool {
    common::lesson_processes(isolab_pid, &["sleep", secs]).is_empty()
}

#[test]
fn a_student_works_through_lesson_one_from_a_second_window() {
    let state = tempfile::tempdir().unwrap();
    // The built-in lessons (the same text as lessons/*.lesson).
    let cmd = format!(
        "env XDG_STATE_HOME={} {} learn 01-processes",
        state.path().display(),
        lessons_support::isolab().display(),
    );
    let t = Tmux::new("learn", 110, 32, &cmd);
    t.wait_for("0", "Step 1/4: Start a process and find it");
    t.wait_for("0", "not yet: nothing is running `sleep 1001` yet");
    // The hint, on h.
    t.keys("0", &["h"]);
    t.wait_for("0", "hint: Run `sleep 1001 &`");

    let ok = Command::new("tmux")
        .args([
            "new-window",
            "-d",
            "-t",
            &format!("{}:1", t.session),
            "-n",
            "student",
            "bash --norc",
        ])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    t.keys("student", &["sleep 1001 &", "Enter"]);
    t.wait_for("0", "Step 2/4: Parents and children");
    t.keys(
        "student",
        &["sh -c 'sleep 1002 & sleep 1002 & wait' &", "Enter"],
    );
    t.wait_for("0", "Step 3/4: Who runs what");
    t.keys(
        "student",
        &[
            "setpriv --reuid=65534 --regid=65534 --clear-groups sleep 1003 &",
            "Enter",
        ],
    );
    let screen = t.wait_for("0", "Step 4/4: Names in brackets");
    assert!(screen.contains("a reading step"), "{screen}");
    t.keys("0", &["n"]);
    t.wait_for("0", "lesson complete");
    t.keys("0", &["q"]);

    // Progress was saved for this user.
    let out = Command::new(lessons_support::isolab())
        .args(["lessons", "list"])
        .env("XDG_STATE_HOME", state.path())
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(
        list.lines()
            .any(|l| l.starts_with("01-processes") && l.contains("4/4")),
        "{list}"
    );
}

#[test]
fn a_demo_plays_goes_back_and_resets() {
    // The built-in lesson: its commands run without asking.
    let cmd = format!("{} demo 05-namespaces", lessons_support::isolab().display());
    let t = Tmux::new("demo", 80, 24, &cmd);
    t.wait_for("0", "UTS: A HOSTNAME OF ITS OWN");
    t.wait_for("0", "WAITING");
    let demo = isolab_in(&t, "0");
    assert!(
        none_of_ours_runs(demo, "1010"),
        "a `sleep 1010` runs before the demo acted"
    );
    t.keys("0", &["Space"]);
    let screen = t.wait_for("0", "✔ PASS");
    assert!(screen.contains("host: lesson-box"), "{screen}");
    // One key: the next step appears and is performed at once.
    t.keys("0", &["Space"]);
    t.wait_for("0", "PID: NUMBERING STARTS AGAIN");
    let screen = t.wait_for("0", "✔ PASS");
    assert!(screen.contains("PID: NUMBERING STARTS AGAIN"), "{screen}");
    t.keys("0", &["b"]);
    t.wait_for("0", "UTS: A HOSTNAME OF ITS OWN");
    t.keys("0", &["R"]);
    t.wait_for("0", "reset: everything the demo started is stopped");
    let screen = t.wait_for("0", "WAITING");
    assert!(screen.contains("UTS: A HOSTNAME OF ITS OWN"), "{screen}");
    assert!(none_of_ours_runs(demo, "1010") && none_of_ours_runs(demo, "1011"));
    // Quitting stops whatever a new run started too.
    t.keys("0", &["Space"]);
    t.wait_for("0", "✔ PASS");
    t.keys("0", &["q"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !none_of_ours_runs(demo, "1010") {
        assert!(
            Instant::now() < deadline,
            "the demo left `sleep 1010` running after q"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
