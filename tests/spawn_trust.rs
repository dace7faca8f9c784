//! Issue 10, points 8 and 9 (spawn side), on the real kernel as root:
//! the shared minimal root cannot be written from inside; sizes, offsets
//! and commands are checked before anything is created; a command is
//! looked up inside `--rootfs DIR`; no descendant outlives isolab; a
//! refused `limit` says why once.

mod common;
mod spawn_support;

use isolab::sys::registry;
use spawn_support::*;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Fails without root (with ISOLAB_TEST_ALLOW_SKIP=1: says "not run").
fn need_root() -> bool {
    common::need_root("namespaces, mounts, cgroups, useradd")
}

/// A number no other test or helper uses for its sleeps: this test
/// process's pid, and a counter (each caller may add up to 49).
fn marker() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    7_000_000_000 + std::process::id() as u64 * 1000 + NEXT.fetch_add(1, Ordering::SeqCst) * 50
}

/// The pids whose command line is exactly `sleep MARKER` (not zombies).
fn sleepers(marker: u64) -> Vec<i32> {
    let want = format!("sleep\0{marker}\0");
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if cmdline == want.as_bytes() {
            out.push(pid);
        }
    }
    out
}

/// Kills the test's own marked sleeps if a test fails midway.
struct Sleepers(u64);

impl Drop for Sleepers {
    fn drop(&mut self) {
        for pid in sleepers(self.0) {
            // SAFETY: signalling a process whose argv carries our unique marker.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

fn wait_gone(marker: u64, after: &str) {
    wait_for(
        &format!("the setsid grandchild (sleep {marker}) to be gone {after}"),
        || sleepers(marker).is_empty().then_some(()),
    );
}

// ---------------------------------------------------------------------------
// Point 8: the minimal root.

/// The attack of issue 10, point 8, in a private mount namespace whose
/// cache directory is a fresh tmpfs (so even a failing run cannot harm the
/// machine's real cache): remount / rw, write, and `rm -rf /bin/*` from
/// inside, as root, with and without a PID namespace; the cache must stay
/// byte-identical and the next run must see none of it.
#[test]
fn minimal_root_stays_unchanged_after_remount_rw_write_and_rm_rf() {
    if !need_root() {
        return;
    }
    let cache = isolab::sys::minroot::cache_base();
    std::fs::create_dir_all(&cache).unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path().display();
    let snapshot = format!(
        "(cd '{c}' && find . -printf '%p %y %m %U %G %s %l\\n' | LC_ALL=C sort && find . -type f -exec sha256sum {{}} + | LC_ALL=C sort)",
        c = cache.display()
    );
    let script = format!(
        r#"set -e
mount -t tmpfs -o mode=0755 isolab-test-cache '{c}'
"{isolab}" run --pid --mount --rootfs minimal -- true
{snapshot} > {w}/before
"{isolab}" run --pid --mount --rootfs minimal -- sh -c 'mount -o remount,rw / && touch /root/.m && echo wrote; rm -rf /bin/*; [ -e /bin/ls ] || echo bin-gone' > {w}/attack1 2>&1 || true
"{isolab}" run --mount --rootfs minimal -- sh -c 'mount -o remount,rw / && touch /root/.n && echo wrote; rm -rf /bin/*; [ -e /bin/ls ] || echo bin-gone' > {w}/attack2 2>&1 || true
"{isolab}" run --user --pid --mount --rootfs minimal -- sh -c 'mount -o remount,rw / && touch /root/.o && echo wrote; rm -rf /bin/*; [ -e /bin/ls ] || echo bin-gone' > {w}/attack3 2>&1 || true
{snapshot} > {w}/after
"{isolab}" run --pid --mount --rootfs minimal -- sh -c 'ls -a /root; ls /bin | grep -c .' > {w}/later
"#,
        c = cache.display(),
        isolab = ISOLAB,
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .stdin(Stdio::null())
        .output()
        .expect("run unshare");
    let run = from_output(out);
    assert_eq!(run.code, 0, "{} / {}", run.stdout, run.stderr);
    let read = |n: &str| std::fs::read_to_string(work.path().join(n)).unwrap();
    for attack in ["attack1", "attack2", "attack3"] {
        let text = read(attack);
        // The attack really ran: root inside could remount and write...
        assert!(
            text.contains("wrote") && text.contains("bin-gone"),
            "{attack}: {text}"
        );
    }
    // ...and none of it reached the cache.
    let (before, after) = (read("before"), read("after"));
    assert!(
        before.contains("/bin/sh "),
        "no minimal root in the snapshot: {before}"
    );
    assert_eq!(before, after, "the shared minimal root changed");
    let later = read("later");
    assert!(
        !later.contains(".m") && !later.contains(".n") && !later.contains(".o"),
        "{later}"
    );
}

// ---------------------------------------------------------------------------
// Point 9: input checked before anything is created.

#[test]
fn memory_below_the_minimum_is_refused_naming_it() {
    let min = isolab::sys::spawn::MIN_MEMORY_BYTES;
    let min_text = isolab::sys::cgroup::size_arg(min);
    for size in ["0", "1", "4k"] {
        let r = isolab(&["run", "--explain", "--memory", size, "--", "true"]);
        assert_eq!(r.code, 2, "--memory {size}: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!("minimum is {min_text}")),
            "--memory {size}: {}",
            r.stderr
        );
        assert!(
            !r.stderr.contains("step "),
            "nothing may start: {}",
            r.stderr
        );
    }
    if !need_root() {
        return;
    }
    // Just above the minimum a process starts and ends normally.
    let just_above = format!("{}k", min / 1024 + 4);
    for args in [
        vec!["run", "--memory", &just_above, "--", "true"],
        vec![
            "run",
            "--pid",
            "--mount",
            "--rootfs",
            "minimal",
            "--memory",
            &just_above,
            "--",
            "true",
        ],
    ] {
        let r = isolab(&args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    }
}

#[test]
fn boottime_offset_out_of_range_is_refused_before_anything_is_created() {
    if !need_root() {
        return;
    }
    let (low, high) = isolab::sys::spawn::boottime_offset_range();
    for off in [
        "-99999999999".to_string(),
        (low - 10).to_string(),
        (high + 10).to_string(),
        "9223372036".to_string(),
    ] {
        // With --memory, a late check would have made a cgroup and a record.
        let child = Command::new(ISOLAB)
            .args([
                "run",
                "--explain",
                "--memory",
                "64M",
                "--boottime-offset",
                &off,
                "--",
                "true",
            ])
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let r = from_output(child.wait_with_output().unwrap());
        assert_eq!(r.code, 2, "--boottime-offset {off}: {}", r.stderr);
        assert!(r.stderr.contains("out of range"), "{}", r.stderr);
        assert!(!r.stderr.contains("step "), "no step may run: {}", r.stderr);
        assert!(
            registry::records_of(&registry_dir(), pid).is_empty(),
            "a record of isolab {pid} was left"
        );
        if let Ok(h) = isolab::sys::cgroup::MemoryHierarchy::detect() {
            let parent = h.mount.join(isolab::sys::cgroup::ISOLAB_PARENT);
            let left: Vec<_> = std::fs::read_dir(&parent)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(&format!("{pid}-"))
                })
                .collect();
            assert!(left.is_empty(), "cgroups of isolab {pid} left: {left:?}");
        }
    }
    // The bounds are the kernel's: the lowest offset it takes still runs.
    let r = isolab(&[
        "run",
        "--boottime-offset",
        &(low + 5).to_string(),
        "--",
        "cat",
        "/proc/uptime",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// A directory root: bin/busybox (static, from the host) and bin/sh.
fn small_root() -> tempfile::TempDir {
    let busybox = Path::new("/bin/busybox");
    let bytes = std::fs::read(busybox).expect("these tests need /bin/busybox (busybox-static)");
    assert!(
        isolab::sys::minroot::elf_interpreter(&bytes).is_none(),
        "/bin/busybox must be static (install busybox-static)"
    );
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    common::copy_executable(busybox, bin.join("busybox"));
    std::os::unix::fs::symlink("busybox", bin.join("sh")).unwrap();
    dir
}

fn script_in(root: &Path, inside: &str, body: &str) {
    let path = root.join(inside.trim_start_matches('/'));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn rootfs_dir_commands_are_looked_up_inside_the_dir() {
    if !need_root() {
        return;
    }
    let dir = small_root();
    let root = dir.path();
    let r_arg = root.to_str().unwrap();
    let me = std::process::id();
    // On the host only (the host has it, the dir does not): refused.
    assert!(Path::new("/bin/cat").exists() || Path::new("/usr/bin/cat").exists());
    let r = isolab(&["run", "--rootfs", r_arg, "--", "cat", "/etc/hostname"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("command not found: cat"), "{}", r.stderr);

    // Only inside the dir: accepted, and it runs.
    let only = format!("isolab-inside-only-{me}");
    script_in(root, &format!("/bin/{only}"), "echo ran-inside");
    let r = isolab(&["run", "--rootfs", r_arg, "--", &only]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), "ran-inside");

    // An absolute symlink to a host program the dir lacks: resolved inside
    // the dir, so refused (it used to be checked against the host).
    let host_target = ["/usr/bin/env", "/bin/cat", "/usr/bin/cat"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap();
    let evil = format!("isolab-to-host-{me}");
    std::os::unix::fs::symlink(host_target, root.join("bin").join(&evil)).unwrap();
    let r = isolab(&["run", "--rootfs", r_arg, "--", &evil]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("command not found"), "{}", r.stderr);
    // The same with `..` climbing out: it stops at the dir's root.
    let climb = format!("isolab-climb-{me}");
    let rel: PathBuf = ["..", "..", "..", "..", "..", ".."]
        .iter()
        .collect::<PathBuf>()
        .join(host_target.trim_start_matches('/'));
    std::os::unix::fs::symlink(&rel, root.join("bin").join(&climb)).unwrap();
    let r = isolab(&["run", "--rootfs", r_arg, "--", &climb]);
    assert_eq!(r.code, 2, "{}", r.stderr);

    // An absolute symlink whose target exists inside the dir (and not on
    // the host): found inside, and exactly that runs.
    let target = format!("/opt/isolab-test-{me}/prog");
    assert!(!Path::new(&target).exists());
    script_in(root, &target, "echo via-inside-symlink");
    let good = format!("isolab-inside-link-{me}");
    std::os::unix::fs::symlink(&target, root.join("bin").join(&good)).unwrap();
    let r = isolab(&["run", "--rootfs", r_arg, "--", &good]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), "via-inside-symlink");
}

// ---------------------------------------------------------------------------
// Point 9: every descendant is stopped.

fn start_with_grandchild(flags: &[&str], m: u64) -> ChildGuard {
    let script = format!("setsid sh -c 'sleep {m} &'; exec sleep {}", m + 1);
    let mut args = vec!["run"];
    args.extend_from_slice(flags);
    args.extend(["--", "sh", "-c", &script]);
    let child = Command::new(ISOLAB)
        .args(&args)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let guard = ChildGuard(child);
    wait_for("the setsid grandchild to start", || {
        (!sleepers(m).is_empty()).then_some(())
    });
    guard
}

#[test]
fn setsid_grandchild_is_gone_after_a_normal_exit() {
    if !need_root() {
        return;
    }
    for flags in [&["--uts"][..], &["--uts", "--net"], &["--pid", "--uts"]] {
        let m = marker();
        let _kill = Sleepers(m);
        let mut args = vec!["run"];
        args.extend_from_slice(flags);
        let script = format!("sleep {m} &");
        args.extend(["--", "setsid", "sh", "-c", &script]);
        let r = isolab(&args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        wait_gone(m, &format!("after isolab {flags:?} exited"));
    }
}

#[test]
fn setsid_grandchild_is_gone_after_sigterm_to_isolab() {
    if !need_root() {
        return;
    }
    for (i, flags) in [&["--uts"][..], &["--pid", "--uts"]]
        .into_iter()
        .enumerate()
    {
        let m = marker() + 10 + 2 * i as u64;
        let _kill = Sleepers(m);
        let _kill_cmd = Sleepers(m + 1);
        let mut guard = start_with_grandchild(flags, m);
        // SAFETY: signalling the isolab this test started.
        unsafe { libc::kill(guard.0.id() as i32, libc::SIGTERM) };
        let status = guard.0.wait().unwrap();
        assert!(!status.success(), "{status:?}");
        wait_gone(m, &format!("after SIGTERM to isolab {flags:?}"));
        wait_gone(m + 1, "after SIGTERM to isolab (the command)");
    }
}

/// Ctrl-C: SIGINT to the terminal's process group ends the command;
/// isolab then stops what the command left behind.
#[test]
fn setsid_grandchild_is_gone_after_ctrl_c() {
    if !need_root() {
        return;
    }
    let m = marker() + 40;
    let _kill = Sleepers(m);
    let _kill_cmd = Sleepers(m + 1);
    let script = format!("setsid sh -c 'sleep {m} &'; exec sleep {}", m + 1);
    let child = Command::new(ISOLAB)
        .args(["run", "--uts", "--", "sh", "-c", &script])
        .process_group(0)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = ChildGuard(child);
    wait_for("the setsid grandchild to start", || {
        (!sleepers(m).is_empty()).then_some(())
    });
    wait_for("the command to run", || {
        (!sleepers(m + 1).is_empty()).then_some(())
    });
    // SAFETY: signalling the process group this test made.
    unsafe { libc::kill(-(guard.0.id() as i32), libc::SIGINT) };
    guard.0.wait().unwrap();
    wait_gone(m, "after Ctrl-C");
}

#[test]
fn setsid_grandchild_is_gone_after_kill_9_and_cleanup() {
    if !need_root() {
        return;
    }
    for (i, flags) in [&["--uts"][..], &["--pid", "--uts"]]
        .into_iter()
        .enumerate()
    {
        let m = marker() + 20 + 2 * i as u64;
        let _kill = Sleepers(m);
        let _kill_cmd = Sleepers(m + 1);
        let mut guard = start_with_grandchild(flags, m);
        guard.0.kill().unwrap();
        guard.0.wait().unwrap();
        let r = isolab(&["cleanup"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        wait_gone(
            m,
            &format!("after kill -9 of isolab {flags:?} and isolab cleanup"),
        );
        wait_gone(
            m + 1,
            "after kill -9 of isolab and isolab cleanup (the command)",
        );
    }
}

// ---------------------------------------------------------------------------
// Point 9: `limit --yes` on a limit that cannot be written.

/// A cgroup this test makes in the memory hierarchy (not isolab's), with
/// a marked sleep in it; both removed on drop.
struct TestCgroup {
    dir: PathBuf,
    sleep: std::process::Child,
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = self.sleep.kill();
        let _ = self.sleep.wait();
        for _ in 0..500 {
            if std::fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

#[test]
fn limit_yes_on_an_unwritable_limit_prints_one_error() {
    if !need_root() {
        return;
    }
    let h = isolab::sys::cgroup::MemoryHierarchy::detect().expect("a memory hierarchy");
    let m = marker() + 30;
    let dir = h.mount.join(format!("isolab-test-spawn-{m}"));
    std::fs::create_dir(&dir).unwrap();
    let sleep = Command::new("sleep").arg(m.to_string()).spawn().unwrap();
    let cg = TestCgroup { dir, sleep };
    std::fs::write(cg.dir.join("cgroup.procs"), cg.sleep.id().to_string()).unwrap();
    // A user that may not write it: the kernel answers EACCES.
    let user = common::TestUser::new("spawnt");
    let bin_dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(bin_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = bin_dir.path().join("isolab");
    common::copy_executable(ISOLAB, &bin);
    let (uid, gid) = (user.uid, user.gid);
    let mut cmd = Command::new(&bin);
    cmd.args(["limit", "--yes", &cg.sleep.id().to_string(), "64M"]);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd
        .env("HOME", "/")
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let r = from_output(out);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let denied = r.stderr.matches("Permission denied").count();
    assert_eq!(denied, 1, "the errno once: {}", r.stderr);
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("needs root"), "{}", r.stderr);
}
