//! A demo killed with SIGKILL leaves its started process behind; the next
//! `isolab demo` finds it in the registry and stops it (and only it).

mod common;
mod lessons_support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

fn running(cmdline: &str) -> bool {
    Command::new("pgrep")
        .args(["-xf", cmdline])
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success()
}

struct KillOnDrop(std::process::Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn leftovers_of_a_killed_demo_are_stopped_at_the_next_start() {
    // The lesson fixes the command (`sleep 1010`): other people may run one
    // too. Ours is the one carrying our demo's lesson marker.
    const SLEEP: [&str; 2] = ["sleep", "1010"];
    let mut demo = KillOnDrop(
        Command::new(lessons_support::isolab())
            .args(["demo", "05-namespaces"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let demo_pid = demo.0.id() as i32;
    demo.0.stdin.as_mut().unwrap().write_all(b"\n").unwrap();
    let mut out = BufReader::new(demo.0.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the demo ended early"
        );
        assert!(!line.contains("NOT YET"), "{line}");
        if line.contains("PASS") {
            break;
        }
    }
    let ours = common::lesson_processes(demo_pid, &SLEEP);
    assert!(
        !ours.is_empty(),
        "no `sleep 1010` carries the demo's lesson marker"
    );
    // A crash: no chance to clean up.
    demo.0.kill().unwrap();
    demo.0.wait().unwrap();
    assert!(
        ours.iter().all(|p| p.alive()),
        "the process should outlive a SIGKILLed isolab"
    );

    let mut next = Command::new(lessons_support::isolab())
        .args(["demo", "05-namespaces"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    next.stdin.as_mut().unwrap().write_all(b"q\n").unwrap();
    assert!(next.wait().unwrap().success());
    common::wait_for("the leftover `sleep 1010` to be stopped", || {
        (!ours.iter().any(|p| p.alive())).then_some(())
    });
}

/// A lesson marker names the isolab that started a process; anyone can put
/// the same variable in their own environment. Only our own uid's processes
/// are ours to stop: another user's process that carries a dead isolab's
/// marker survives the next start, while ours with it is stopped.
#[test]
fn a_dead_marker_in_another_users_process_is_not_obeyed() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test plants a marker in /run/isolab/lessons: run it as root"
    );
    // A marker of an isolab that never lived (PID 1 with a wrong start time).
    let marker = format!("1-{}", 7_000_000 + std::process::id());
    let dir = std::path::Path::new("/run/isolab/lessons");
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join(format!("{marker}.marker"));
    let var = format!("ISOLAB_LESSON_RUN={marker}");
    let theirs_secs = format!("{}.1", 900_000 + std::process::id());
    let ours_secs = format!("{}.2", 900_000 + std::process::id());
    let theirs = KillOnDrop(
        Command::new("env")
            .args([
                &var,
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
            ])
            .args(["sleep", &theirs_secs])
            .spawn()
            .unwrap(),
    );
    let ours = KillOnDrop(
        Command::new("env")
            .args([&var, "sleep", &ours_secs])
            .spawn()
            .unwrap(),
    );
    common::wait_for_secs(10, "the marked sleeps to start", || {
        (running(&format!("sleep {theirs_secs}")) && running(&format!("sleep {ours_secs}")))
            .then_some(())
    });
    // Planted only now: any isolab that starts from here on (this test's,
    // or another test's) may act on it.
    std::fs::write(&file, b"").unwrap();
    let mut next = Command::new(lessons_support::isolab())
        .args(["demo", "01-processes"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    next.stdin.as_mut().unwrap().write_all(b"q\n").unwrap();
    assert!(next.wait().unwrap().success());
    common::wait_for(
        "our own marked process to be stopped (else the mechanism did not run)",
        || (!running(&format!("sleep {ours_secs}"))).then_some(()),
    );
    assert!(
        running(&format!("sleep {theirs_secs}")),
        "another user's process was killed because of a variable it set itself"
    );
    drop(theirs);
    drop(ours);
    let _ = std::fs::remove_file(file);
}
