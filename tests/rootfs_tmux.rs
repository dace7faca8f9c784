//! A tmux journey through the real TUI's Root tab: select a pivot_root'ed
//! child on the Processes screen, open the Root tab, browse, the `n` dialog
//! with bad names and a good one, a file made inside showing up marked NEW,
//! the mount table, the host path, a preview, and the process exiting.

mod common;
mod rootfs_support;

use rootfs_support::tmux::Tmux;
use rootfs_support::*;
use std::process::Command;

/// The number of the tab titled `title`, from the tab line (` 2 Root `).
fn tab_number(screen: &str, title: &str) -> String {
    let tabs = screen.lines().next().unwrap_or("");
    let words: Vec<&str> = tabs.split_whitespace().collect();
    let i = words
        .iter()
        .position(|w| *w == title)
        .unwrap_or_else(|| panic!("no {title} tab in {tabs:?}"));
    words[i - 1].to_string()
}

#[test]
fn journey_through_the_root_tab_and_the_new_file_dialog() {
    if !common::require(
        Command::new("tmux").arg("-V").output().is_ok(),
        "tmux is not installed (scripts/test.sh installs it)",
    ) {
        return;
    }
    let f = fixture("tmux");
    // A sleep length nobody else uses, to find the child by searching.
    let secs = (3_000_000 + std::process::id()).to_string();
    let mut child = pivot_child_sleeping(&f, &secs);
    let pid = child.pid.to_string();
    let t = Tmux::start_program(140, 35, &[env!("CARGO_BIN_EXE_isolab")]);
    let screen = t.wait_for("Processes", 30);

    // Select the child on the Processes screen (the first snapshot of a
    // busy machine may not be in yet: search again until it is found).
    let wanted = format!("sleep {secs}");
    for attempt in 0.. {
        assert!(
            attempt < 20,
            "the child never showed up on the Processes screen"
        );
        t.keys(&["/"]);
        t.wait_for("Search", 30);
        t.type_text(&wanted);
        t.keys(&["Enter"]);
        let (found, _) = t.wait_for_any(&[&format!("busybox {wanted}"), "no process matches"], 30);
        if found == 0 {
            break;
        }
    }
    t.keys(&[&tab_number(&screen, "Root")]);
    t.wait_for(&format!("root of PID {pid}"), 30);
    t.wait_for("etc/", 30);
    t.wait_for("flip -> /d", 30);

    // Into /tmp by searching for it.
    t.keys(&["/"]);
    t.type_text("tmp");
    t.keys(&["Enter", "Enter"]);
    t.wait_for("/tmp · ", 30);
    t.wait_for("dangling -> /tmp/isolab-host-created-", 30);

    // The dialog: empty, a slash, an existing (dangling) link, then good.
    t.keys(&["n"]);
    t.wait_for("New empty file in /tmp", 30);
    t.keys(&["Enter"]);
    t.wait_for("the name is empty", 30);
    t.type_text("a/b");
    t.keys(&["Enter"]);
    t.wait_for("cannot contain '/'", 30);
    t.keys(&["BSpace", "BSpace", "BSpace"]);
    t.type_text("dangling");
    t.keys(&["Enter"]);
    t.wait_for("already exists", 30);
    assert!(!f.would_be_created[0].exists());
    for _ in 0.."dangling".len() {
        t.keys(&["BSpace"]);
    }
    // While the dialog is open, q is just a letter.
    t.type_text("q_created_by_host");
    t.keys(&["Enter"]);
    t.wait_for("created file /tmp/q_created_by_host", 30);
    assert!(f.inside("/tmp/q_created_by_host").is_file());

    // Made inside the process: the next snapshot's fstat sees the directory
    // changed, so it is read again; the name shows up marked NEW.
    let made = Command::new("nsenter")
        .args([
            "-t",
            &pid,
            "-m",
            "-r",
            "/bin/busybox",
            "touch",
            "/tmp/made_inside",
        ])
        .status()
        .unwrap();
    assert!(made.success());
    let screen = t.wait_for("made_inside", 30);
    let line = screen.lines().find(|l| l.contains("made_inside")).unwrap();
    assert!(line.contains("NEW"), "{line}");

    // Mount table beside the host's; host path one key away.
    t.keys(&["M"]);
    t.wait_for("mounts vs host: own mount namespace", 30);
    t.keys(&["H"]);
    t.wait_for(&format!("host path: /proc/{pid}/root/tmp"), 30);
    t.keys(&["Escape"]);

    // Back up, into /etc, preview a file.
    t.keys(&["BSpace"]);
    t.wait_for("/ · ", 30);
    t.keys(&["/"]);
    t.type_text("etc");
    t.keys(&["Enter", "Enter"]);
    t.wait_for("/etc · ", 30);
    t.keys(&["/"]);
    t.type_text("hostname");
    t.keys(&["Enter", "Enter"]);
    t.wait_for("INSIDE-HOSTNAME", 30);
    t.keys(&["Escape"]);

    // The process exits: the screen says so.
    child.child.kill().unwrap();
    child.child.wait().unwrap();
    t.wait_for("PROCESS EXITED", 30);
    t.wait_for(&format!("process {pid} has exited"), 30);
    t.keys(&["q"]);
}
