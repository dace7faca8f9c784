//! A tmux journey through the Root screen (the `rootfs_browser` example runs
//! exactly the screen's state and renderer): browse a pivot_root'ed child,
//! the `n` dialog with bad names and a good one, a file made inside showing
//! up marked NEW, the mount table, the host path, and the process exiting.

mod rootfs_support;

use rootfs_support::tmux::Tmux;
use rootfs_support::*;
use std::path::PathBuf;
use std::process::Command;

/// Builds the example with the same profile as this test and returns it.
fn browser() -> PathBuf {
    let isolab = PathBuf::from(env!("CARGO_BIN_EXE_isolab"));
    let profile_dir = isolab.parent().unwrap();
    let mut build = Command::new(env!("CARGO"));
    build
        .args(["build", "--quiet", "--example", "rootfs_browser"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.ends_with("release") {
        build.arg("--release");
    }
    assert!(build.status().unwrap().success(), "building the example");
    profile_dir.join("examples/rootfs_browser")
}

#[test]
fn journey_through_the_browser_and_the_new_file_dialog() {
    if Command::new("tmux").arg("-V").output().is_err() {
        println!("SKIPPED: tmux is not installed (scripts/test.sh installs it)");
        return;
    }
    let exe = browser();
    let f = fixture("tmux");
    let mut child = pivot_child(&f);
    let pid = child.pid.to_string();
    let t = Tmux::start(120, 30, &[exe.to_str().unwrap(), &pid]);
    t.wait_for(&format!("root of PID {pid}"));
    t.wait_for("etc/");

    // Into /tmp by searching for it.
    t.keys(&["/"]);
    t.wait_for("Search:");
    t.text("tmp");
    t.keys(&["Enter"]);
    t.keys(&["Enter"]);
    t.wait_for("/tmp · ");
    t.wait_for("dangling -> /tmp/isolab-host-created-");

    // The dialog: empty, a slash, an existing (dangling) link, then good.
    t.keys(&["n"]);
    t.wait_for("New empty file in /tmp");
    t.keys(&["Enter"]);
    t.wait_for("the name is empty");
    t.text("a/b");
    t.keys(&["Enter"]);
    t.wait_for("cannot contain '/'");
    t.keys(&["BSpace", "BSpace", "BSpace"]);
    t.text("dangling");
    t.keys(&["Enter"]);
    t.wait_for("already exists");
    assert!(!f.would_be_created[0].exists());
    for _ in 0.."dangling".len() {
        t.keys(&["BSpace"]);
    }
    t.text("created_by_host");
    t.keys(&["Enter"]);
    t.wait_for("created file /tmp/created_by_host");
    assert!(f.inside("/tmp/created_by_host").is_file());

    // Made inside the process: shows up on the next refresh, marked NEW.
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
    let screen = t.wait_for("made_inside");
    let line = screen.lines().find(|l| l.contains("made_inside")).unwrap();
    assert!(line.contains("NEW"), "{line}");

    // Mount table beside the host's; host path one key away.
    t.keys(&["M"]);
    t.wait_for("mounts vs host: own mount namespace");
    t.keys(&["H"]);
    t.wait_for(&format!("host path: /proc/{pid}/root/tmp"));

    // Preview a file, back out.
    t.keys(&["Escape"]);
    t.keys(&["BSpace"]);
    t.wait_for("/ · ");
    t.keys(&["/"]);
    t.text("etc");
    t.keys(&["Enter", "Enter"]);
    t.wait_for("/etc · ");
    t.keys(&["/"]);
    t.text("hostname");
    t.keys(&["Enter", "Enter"]);
    t.wait_for("INSIDE-HOSTNAME");
    t.keys(&["Escape"]);

    // The process exits: the screen says so.
    child.child.kill().unwrap();
    child.child.wait().unwrap();
    t.wait_for("PROCESS EXITED");
    t.wait_for(&format!("process {pid} has exited"));
    t.keys(&["q"]);
}
