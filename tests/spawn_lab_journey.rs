//! The Lab in the real TUI, driven through tmux: tick pid+mnt+uts, step
//! through the spawn, see PID 1 and the hostname inside (table and a shell
//! entered with `e`), stop the child, quit; nothing of isolab is left.

mod common;
mod spawn_support;

use isolab::sys::registry::{self, ProcessId};
use spawn_support::tmux::Tmux;
use spawn_support::*;

/// The child's PID from the Steps title: " Steps · child PID N ".
fn child_pid_on(screen: &str) -> Option<i32> {
    let rest = &screen[screen.find("child PID ")? + "child PID ".len()..];
    rest.split_whitespace().next()?.parse().ok()
}

#[test]
fn lab_journey_pid_uts_mnt_step_by_step() {
    if !common::need_root("it spawns namespaces from the Lab") {
        return;
    }
    let Some(t) = Tmux::start(180, 50) else {
        return;
    };
    t.type_line(&format!("{ISOLAB} --interval 5"));
    t.wait_for("Processes", 30);
    let tui = t.foreground_pid("isolab");
    t.keys(&["2"]);
    t.wait_for("Namespaces & options", 10);
    // pid (row 1), mnt (row 2), uts (row 5).
    t.keys(&["Space", "Down", "Space", "Down", "Down", "Down", "Space"]);
    t.wait_for("CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS", 10);
    t.wait_for("unshare --fork --pid --mount --uts --mount-proc", 10);
    t.keys(&["Enter"]);
    t.wait_for("setup process forked", 10);
    // One step per key until the child runs.
    for _ in 0..12 {
        t.keys(&["Space"]);
        let screen = t.wait_until(10, "a step to complete", |s| {
            s.contains("child runs as PID") || s.contains("✓")
        });
        if screen.contains("child runs as PID") {
            break;
        }
    }
    let screen = t.wait_until(10, "the inside-vs-outside table", |s| {
        s.contains("Inside vs outside") && s.contains("1 processes: 1 isolab")
    });
    assert!(screen.contains("sethostname(\"lab\")"), "{screen}");
    assert!(screen.contains("DIFFERENT"), "{screen}");
    let child = child_pid_on(&screen).expect("child PID on screen");
    let child_id = ProcessId::of(child).expect("child alive");
    assert_ne!(ns_inode(&child.to_string(), "uts"), ns_inode("self", "uts"));

    // Enter the child: a shell in all its namespaces, then back.
    t.keys(&["e"]);
    t.wait_for("a shell inside PID", 10);
    t.type_line("echo \"inside:$(hostname):$(ps -e --no-headers | head -1 | awk '{print $1}')\"");
    t.wait_for("inside:lab:1", 10);
    t.type_line("exit");
    // (dash inside a PID namespace cannot hand the terminal back and may
    // exit 2 saying so; the TUI takes the terminal back either way.)
    t.wait_for("namespaces and root: ", 15);

    // Stop: the child and everything made for it go away.
    t.keys(&["x"]);
    t.wait_for("child stopped", 10);
    wait_for("the child to be gone", || {
        (!child_id.is_alive()).then_some(())
    });
    t.keys(&["q"]);
    wait_for("the TUI to exit", || {
        ProcessId::of(tui).is_none().then_some(())
    });
    assert!(registry::records_of(&registry_dir(), tui).is_empty());
}

#[test]
fn quitting_the_tui_stops_a_running_lab_child() {
    if !common::need_root("it spawns namespaces from the Lab") {
        return;
    }
    let Some(t) = Tmux::start(160, 45) else {
        return;
    };
    t.type_line(&format!("{ISOLAB} --interval 5"));
    t.wait_for("Processes", 30);
    let tui = t.foreground_pid("isolab");
    t.keys(&["2", "Space", "r"]);
    let screen = t.wait_for("child runs as PID", 15);
    let child = ProcessId::of(child_pid_on(&screen).expect("child PID")).expect("alive");
    t.keys(&["q"]);
    wait_for("the TUI to exit", || {
        ProcessId::of(tui).is_none().then_some(())
    });
    wait_for("the child to be gone", || (!child.is_alive()).then_some(()));
    assert!(registry::records_of(&registry_dir(), tui).is_empty());
}

/// Start the TUI, spawn a Lab child in one go; returns (tmux, tui, child).
fn tui_with_lab_child(flags: &[&str]) -> Option<(Tmux, i32, ProcessId)> {
    let t = Tmux::start(160, 45)?;
    t.type_line(&format!("{ISOLAB} --interval 5"));
    t.wait_for("Processes", 30);
    let tui = t.foreground_pid("isolab");
    t.keys(&["2"]);
    t.wait_for("Namespaces & options", 10);
    t.keys(flags);
    t.keys(&["r"]);
    let screen = t.wait_for("child runs as PID", 15);
    let child = ProcessId::of(child_pid_on(&screen).expect("child PID")).expect("alive");
    Some((t, tui, child))
}

#[test]
fn sigterm_to_the_tui_removes_the_lab_child() {
    if !common::need_root("it spawns namespaces from the Lab") {
        return;
    }
    // pid + net (Space on row 1, then row 3).
    let Some((_t, tui, child)) = tui_with_lab_child(&["Space", "Down", "Down", "Space"]) else {
        return;
    };
    // SAFETY: signalling the TUI this test started.
    unsafe { libc::kill(tui, libc::SIGTERM) };
    wait_for("the TUI to exit", || {
        ProcessId::of(tui).is_none().then_some(())
    });
    wait_for("the child to be gone", || (!child.is_alive()).then_some(()));
    assert!(registry::records_of(&registry_dir(), tui).is_empty());
}

#[test]
fn kill_9_of_the_tui_then_cleanup_leaves_nothing() {
    if !common::need_root("it spawns namespaces from the Lab") {
        return;
    }
    let Some((_t, tui, child)) = tui_with_lab_child(&["Space"]) else {
        return;
    };
    // SAFETY: killing the TUI this test started.
    unsafe { libc::kill(tui, libc::SIGKILL) };
    wait_for("the TUI to die", || {
        ProcessId::of(tui).is_none().then_some(())
    });
    let r = isolab(&["cleanup"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    wait_for("the child to be gone", || (!child.is_alive()).then_some(()));
    assert!(
        registry::records_of(&registry_dir(), tui).is_empty(),
        "record left"
    );
}
