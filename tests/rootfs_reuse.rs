//! A reused PID is never followed. In a private PID namespace (so nothing
//! else takes PIDs) we hold a ProcRoot on a process, let it die, steer the
//! next PID onto the same number with ns_last_pid, start another process in
//! a different root under that PID — and the old ProcRoot says "exited"
//! instead of showing the newcomer's files.

mod common;
mod rootfs_support;

use isolab::sys::rootfs::{ProcRoot, RootfsError};
use rootfs_support::*;
use std::path::Path;
use std::process::Command;

const INNER: &str = "ISOLAB_ROOTFS_REUSE_INNER";

#[test]
fn a_reused_pid_is_never_followed() {
    // Inside the private PID namespace: do the work. Outside: re-run this
    // very test there, and check that it ran and passed.
    if std::env::var(INNER).as_deref() == Ok("1") {
        reuse_inside_a_private_pid_namespace();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc"])
        .arg(exe)
        .args(["--exact", "a_reused_pid_is_never_followed", "--nocapture"])
        .env(INNER, "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("1 passed"),
        "the inner test did not run: {text}"
    );
    assert!(text.contains("PID reused:"), "{text}");
}

/// The body of the test, run inside the private PID namespace set up above.
fn reuse_inside_a_private_pid_namespace() {
    let first = fixture("reuse-a");
    let second = fixture("reuse-b");
    std::fs::write(second.inside("/etc/hostname"), "NEWCOMER\n").unwrap();

    let mut victim = chroot_child(&first);
    let pid = victim.pid;
    let held = ProcRoot::open(Path::new("/proc"), pid).unwrap();
    let before = held.read_file("/etc/hostname", 100).unwrap();
    assert_eq!(before.bytes, b"INSIDE-HOSTNAME\n");

    victim.child.kill().unwrap();
    victim.child.wait().unwrap();
    // The next PID handed out in this namespace is pid.
    std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).unwrap();
    let newcomer = chroot_child(&second);
    assert_eq!(
        newcomer.pid, pid,
        "the PID was not reused; the test proves nothing"
    );
    println!("PID reused: {pid}");

    // A fresh open sees the newcomer (so the PID really points elsewhere) ...
    let fresh = ProcRoot::open(Path::new("/proc"), pid).unwrap();
    assert_eq!(
        fresh.read_file("/etc/hostname", 100).unwrap().bytes,
        b"NEWCOMER\n"
    );
    // ... while the held one refuses everything.
    assert!(!held.is_alive());
    assert_eq!(
        held.read_file("/etc/hostname", 100),
        Err(RootfsError::Exited { pid })
    );
    assert_eq!(held.list_dir("/"), Err(RootfsError::Exited { pid }));
    assert!(matches!(
        held.create_file("/tmp/after_reuse"),
        Err(RootfsError::Exited { .. })
    ));
    assert!(matches!(
        held.mountinfo_text(),
        Err(RootfsError::Exited { .. })
    ));
    assert!(!second.inside("/tmp/after_reuse").exists());
    assert!(!first.inside("/tmp/after_reuse").exists());
    drop(victim);
}
