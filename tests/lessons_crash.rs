//! A demo killed with SIGKILL leaves its started process behind; the next
//! `isolab demo` finds it in the registry and stops it (and only it).

mod lessons_support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    assert!(
        !running("sleep 1010"),
        "a `sleep 1010` runs already; cannot test"
    );
    let mut demo = KillOnDrop(
        Command::new(lessons_support::isolab())
            .args(["demo", "05-namespaces"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
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
    assert!(running("sleep 1010"));
    // A crash: no chance to clean up.
    demo.0.kill().unwrap();
    demo.0.wait().unwrap();
    assert!(
        running("sleep 1010"),
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
    let deadline = Instant::now() + Duration::from_secs(30);
    while running("sleep 1010") {
        assert!(
            Instant::now() < deadline,
            "the leftover `sleep 1010` was not stopped"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
