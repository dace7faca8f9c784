//! Journeys through the real binary in tmux: start, see the tree, search
//! for a spawned process, quit; and the terminal comes back after q,
//! Ctrl-C, SIGTERM, SIGHUP and a panic; resizing never breaks it.

mod procs_support;
mod tui_support;

use procs_support::{Spawned, bin};
use tui_support::Tmux;

fn start_isolab(t: &Tmux, env: &str) {
    t.type_line(&format!("{env} {} --interval 0.5", bin()));
    t.wait_for("1 Processes", 20);
    assert!(t.alternate_on());
}

#[test]
fn search_finds_a_spawned_process_then_q_quits() {
    let Some(t) = Tmux::start(200, 50) else {
        return;
    };
    let tag = format!("6{}", std::process::id());
    let child = Spawned::sh(&format!("sleep {tag}; true"));
    start_isolab(&t, "");
    t.wait_for("\\_ ", 10); // tree art is drawn
    // The sleep is the sh's child; search by its unique argument.
    t.keys(&["/"]);
    t.wait_for("Search:", 5);
    t.cmd(&["send-keys", "-t", "j", "-l", &tag]);
    t.keys(&["Enter"]);
    // The first match is the sh (its argument holds the tag); n moves on.
    t.wait_for(&format!("{} · sh", child.pid()), 10);
    t.keys(&["n"]);
    let screen = t.wait_until(10, "the detail pane on the sleep", |s| {
        s.contains("· sleep") && s.contains(&format!("sleep {tag}"))
    });
    assert!(screen.contains("namespaces (≠ differs from"), "{screen}");
    // The parent chain names the sh we spawned.
    assert!(screen.contains(&format!("{} sh", child.pid())), "{screen}");
    t.keys(&["q"]);
    t.assert_terminal_restored("q");
}

#[test]
fn ctrl_c_restores_the_terminal() {
    let Some(t) = Tmux::start(120, 40) else {
        return;
    };
    start_isolab(&t, "");
    t.keys(&["C-c"]);
    t.assert_terminal_restored("ctrlc");
}

#[test]
fn sigterm_and_sighup_restore_the_terminal() {
    // SIGHUP while the terminal is still there (a `kill -HUP`), and below,
    // the real hangup: the tmux server goes away and isolab must exit.
    for (sig, name) in [(libc::SIGTERM, "term"), (libc::SIGHUP, "hup")] {
        let Some(t) = Tmux::start(120, 40) else {
            return;
        };
        start_isolab(&t, "");
        let pid = t.foreground_pid("isolab");
        // SAFETY: kill(2) on the isolab we started.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
        t.assert_terminal_restored(name);
    }
}

#[test]
fn a_panic_restores_the_terminal_and_shows_the_message() {
    let Some(t) = Tmux::start(120, 40) else {
        return;
    };
    start_isolab(&t, "RUST_BACKTRACE=0 ISOLAB_TEST_PANIC=1");
    // The message lands on the normal screen, after the terminal is restored.
    let s = t.wait_until(10, "the panic message", |s| {
        s.contains("panicking on purpose")
    });
    assert!(s.contains("panicked at"), "{s}");
    assert!(!t.alternate_on());
    t.assert_terminal_restored("panic");
}

#[test]
fn resizing_to_tiny_and_back_recovers() {
    let Some(t) = Tmux::start(120, 40) else {
        return;
    };
    start_isolab(&t, "");
    t.cmd(&["resize-window", "-t", "j", "-x", "40", "-y", "10"]);
    t.wait_for("terminal too small", 10);
    t.cmd(&["resize-window", "-t", "j", "-x", "100", "-y", "30"]);
    t.wait_until(10, "the tree again", |s| {
        s.contains("1 Processes") && !s.contains("too small")
    });
    t.keys(&["?"]);
    t.wait_for("isolab keys", 5);
    t.keys(&["Escape"]);
    t.keys(&["q"]);
    t.assert_terminal_restored("resize");
}

#[test]
fn a_hung_up_terminal_makes_isolab_exit() {
    let Some(t) = Tmux::start(120, 40) else {
        return;
    };
    start_isolab(&t, "");
    let pid = t.foreground_pid("isolab");
    drop(t); // kills the tmux server: the pty hangs up
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        // A zombie or a missing /proc entry both mean it has exited.
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit(')').next().map(|r| r.trim().chars().next()));
        if matches!(state, None | Some(Some('Z'))) {
            break;
        }
        if std::time::Instant::now() > deadline {
            // SAFETY: kill the isolab this test started, so it is not left spinning.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("isolab {pid} still running after its terminal hung up");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
