//! `isolab run` / `exec` / `cleanup` on the real kernel (as root).

mod common;
mod spawn_support;

use isolab::sys::registry::{self, ProcessId};
use spawn_support::*;
use std::process::{Command, Stdio};
use std::sync::Mutex;

const KINDS: [(&str, &str); 8] = [
    ("--pid", "pid"),
    ("--mount", "mnt"),
    ("--net", "net"),
    ("--ipc", "ipc"),
    ("--uts", "uts"),
    ("--user", "user"),
    ("--cgroup", "cgroup"),
    ("--time", "time"),
];

macro_rules! need_root {
    () => {
        if !common::need_root("namespaces, cgroups, mounts") {
            return;
        }
    };
}

#[test]
fn all_256_subsets_make_exactly_the_chosen_namespaces() {
    need_root!();
    let me = std::process::id().to_string();
    let ours: Vec<String> = KINDS.iter().map(|(_, k)| ns_inode(&me, k)).collect();
    let failures = Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                loop {
                    let mask = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if mask >= 256 {
                        break;
                    }
                    let mut args: Vec<&str> = vec!["run"];
                    for (bit, (flag, _)) in KINDS.iter().enumerate() {
                        if mask & (1 << bit) != 0 {
                            args.push(flag);
                        }
                    }
                    args.push("--");
                    args.push("readlink");
                    let paths: Vec<String> = KINDS
                        .iter()
                        .map(|(_, k)| format!("/proc/self/ns/{k}"))
                        .collect();
                    args.extend(paths.iter().map(String::as_str));
                    let r = isolab(&args);
                    let theirs: Vec<&str> = r.stdout.lines().collect();
                    if r.code != 0 || theirs.len() != 8 {
                        failures.lock().unwrap().push(format!(
                            "{args:?}: exit {} out {:?} err {:?}",
                            r.code, r.stdout, r.stderr
                        ));
                        continue;
                    }
                    for (bit, (flag, kind)) in KINDS.iter().enumerate() {
                        let chosen = mask & (1 << bit) != 0;
                        let differs = theirs[bit] != ours[bit];
                        if chosen != differs {
                            failures.lock().unwrap().push(format!(
                                "{args:?}: {kind} ({flag} chosen={chosen}) inside {} outside {}",
                                theirs[bit], ours[bit]
                            ));
                        }
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn uts_sets_the_hostname_inside_only() {
    need_root!();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let r = isolab(&["run", "--uts", "--hostname", "box", "--", "hostname"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "box\n"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        host
    );
}

#[test]
fn pid_and_mount_make_the_command_pid_1() {
    need_root!();
    let r = isolab(&[
        "run",
        "--pid",
        "--mount",
        "--",
        "sh",
        "-c",
        "echo $$; ps -e --no-headers | wc -l",
    ]);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"1"), "{}", r.stderr);
    // sh, ps, wc: only the processes inside.
    assert!(lines[1].trim().parse::<u32>().unwrap() <= 3, "{}", r.stdout);
}

#[test]
fn net_has_only_lo_and_it_is_up() {
    need_root!();
    let r = isolab(&["run", "--net", "--", "ip", "-o", "link"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", r.stdout);
    assert!(lines[0].starts_with("1: lo:"), "{}", r.stdout);
    assert!(lines[0].contains(",UP"), "lo is not up: {}", r.stdout);
}

#[test]
fn user_makes_uid_0_inside() {
    need_root!();
    let r = isolab(&["run", "--user", "--", "id", "-u"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "0\n"), "{}", r.stderr);
}

struct IpcQueue(String);
impl Drop for IpcQueue {
    fn drop(&mut self) {
        let _ = Command::new("ipcrm").args(["-q", &self.0]).status();
    }
}

#[test]
fn ipc_hides_the_hosts_message_queue() {
    need_root!();
    let out = Command::new("ipcmk").arg("-Q").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let id = text.split(':').nth(1).unwrap().trim().to_string();
    let _queue = IpcQueue(id.clone());
    let has_queue = |ipcs: &str| {
        ipcs.lines()
            .any(|l| l.split_whitespace().nth(1) == Some(id.as_str()))
    };
    let outside = isolab(&["run", "--uts", "--", "ipcs", "-q"]);
    assert!(
        has_queue(&outside.stdout),
        "control: queue {id} not seen without --ipc: {}",
        outside.stdout
    );
    let inside = isolab(&["run", "--ipc", "--", "ipcs", "-q"]);
    assert_eq!(inside.code, 0, "{}", inside.stderr);
    assert!(
        !has_queue(&inside.stdout),
        "queue {id} visible inside: {}",
        inside.stdout
    );
}

#[test]
fn cgroup_namespace_shows_root() {
    need_root!();
    let r = isolab(&["run", "--cgroup", "--", "cat", "/proc/self/cgroup"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.is_empty());
    for line in r.stdout.lines() {
        assert!(line.ends_with(":/"), "not the root view: {line}");
    }
    let host = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    assert!(
        host.lines().any(|l| !l.ends_with(":/")),
        "control: the host view is not all /"
    );
}

#[test]
fn time_namespace_offsets_the_boot_clock() {
    need_root!();
    let host: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let r = isolab(&[
        "run",
        "--time",
        "--boottime-offset",
        "86400",
        "--",
        "cat",
        "/proc/uptime",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let inside: f64 = r.stdout.split_whitespace().next().unwrap().parse().unwrap();
    assert!(
        inside > 86400.0 && inside >= host + 86400.0,
        "uptime inside {inside}, host {host}"
    );
}

#[test]
fn exit_status_and_signals_pass_through() {
    need_root!();
    assert_eq!(
        isolab(&["run", "--all", "--", "sh", "-c", "exit 7"]).code,
        7
    );
    assert_eq!(
        isolab(&["run", "--uts", "--", "sh", "-c", "kill -9 $$"]).code,
        137
    );
    assert_eq!(
        isolab(&["run", "--time", "--", "sh", "-c", "kill -TERM $$"]).code,
        143
    );
    let r = isolab(&["run", "--all", "--", "cat"]);
    assert_eq!(
        r.code, 0,
        "stdin passes through (closed here): {}",
        r.stderr
    );
}

#[test]
fn minimal_root_is_pivoted_into() {
    need_root!();
    let r = isolab(&[
        "run",
        "--pid",
        "--rootfs",
        "minimal",
        "--",
        "sh",
        "-c",
        "echo $$; ls /; ls /proc | grep -c '^[0-9]'",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "1");
    assert!(
        lines.contains(&"bin") && !lines.contains(&"home") && !lines.contains(&"usr"),
        "{}",
        r.stdout
    );
    let dir = tempfile::tempdir().unwrap();
    let r = isolab(&[
        "run",
        "--rootfs",
        dir.path().to_str().unwrap(),
        "--",
        "true",
    ]);
    assert_eq!(r.code, 2, "an empty dir has no `true`: {}", r.stderr);
}

#[test]
fn oom_kill_is_named_and_exits_137() {
    need_root!();
    let r = isolab(&[
        "run",
        "--pid",
        "--memory",
        "32M",
        "--",
        "sh",
        "-c",
        "x=$(head -c 300000000 /dev/zero | tr '\\0' a); echo ${#x}",
    ]);
    assert_eq!(r.code, 137, "{} / {}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("OOM killer") && r.stderr.contains("32M"),
        "{}",
        r.stderr
    );
}

#[test]
fn no_mount_leaks_even_with_a_shared_parent() {
    need_root!();
    let me = std::process::id() as i32;
    let before = mountinfo_of(me);
    for args in [
        vec![
            "run",
            "--mount",
            "--pid",
            "--",
            "sh",
            "-c",
            "mount -t tmpfs leak /mnt",
        ],
        vec!["run", "--all", "--rootfs", "minimal", "--", "true"],
        vec![
            "run", "--user", "--mount", "--", "mount", "-t", "tmpfs", "leak", "/mnt",
        ],
    ] {
        let r = isolab(&args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    }
    assert_eq!(mountinfo_of(me), before, "host mount table changed");

    // Now with / deliberately shared, inside a private mount namespace made
    // for this test (the real host is untouched).
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let script = format!(
        r#"set -e
mkdir -p {d}/shared
mount -t tmpfs isolab-test-{me} {d}/shared
mkdir -p {d}/shared/x
mount --make-rshared /
cat /proc/self/mountinfo > {d}/before
"{isolab}" run --mount --pid -- sh -c 'mount -t tmpfs inner {d}/shared/x'
cat /proc/self/mountinfo > {d}/after
unshare --mount --propagation unchanged sh -c 'mount -t tmpfs control {d}/shared/x'
cat /proc/self/mountinfo > {d}/control
"#,
        isolab = ISOLAB
    );
    let status = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .status()
        .unwrap();
    assert!(status.success());
    let read = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap();
    assert!(read("before").contains("shared:"), "/ was not made shared");
    assert_eq!(
        read("before"),
        read("after"),
        "a mount leaked through a shared parent"
    );
    assert_ne!(
        read("after"),
        read("control"),
        "control: a leak is visible to this test"
    );
    assert_eq!(mountinfo_of(me), before);
}

#[test]
fn unprivileged_user_namespace_works_or_says_why() {
    need_root!();
    // uid 65534 must be able to run the binary: a copy in a 0755 directory
    // of this test's own (the checkout may sit in a 0700 home).
    let scratch = common::Scratch::new("spawn-real");
    let bin = scratch.isolab().display().to_string();
    let r = from_output(
        Command::new("setpriv")
            .args([
                "--reuid",
                "65534",
                "--regid",
                "65534",
                "--clear-groups",
                "env",
                "-u",
                "XDG_RUNTIME_DIR",
                "HOME=/nonexistent",
                &bin,
                "run",
                "--user",
                "--",
                "id",
                "-u",
            ])
            .current_dir("/")
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    );
    if r.code == 0 {
        assert_eq!(r.stdout, "0\n");
    } else {
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(
            r.stderr.contains("user namespace") && r.stderr.contains("sysctl"),
            "{}",
            r.stderr
        );
    }
    // Without --user an unprivileged user gets the way out named.
    let r = from_output(
        Command::new("setpriv")
            .args([
                "--reuid",
                "65534",
                "--regid",
                "65534",
                "--clear-groups",
                &bin,
                "run",
                "--uts",
                "--",
                "true",
            ])
            .current_dir("/")
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("--user"), "{}", r.stderr);
}

fn background(args: &[&str]) -> ChildGuard {
    ChildGuard(
        Command::new(ISOLAB)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

/// The record of a running isolab once it lists its setup process and the
/// child (PID 1 inside), which is recorded as soon as it reports in.
fn running_record(owner: i32) -> registry::Record {
    wait_for("isolab to record its setup process and child", || {
        registry::records_of(&registry_dir(), owner)
            .into_iter()
            .find(|r| r.children.len() == 2)
    })
}

/// The child (PID 1 inside) of a setup process, once it runs `comm`.
fn child_running(setup: i32, comm: &str) -> ProcessId {
    wait_for("the child to exec", || {
        let kids = std::fs::read_to_string(format!("/proc/{setup}/task/{setup}/children")).ok()?;
        let pid: i32 = kids.split_whitespace().next()?.parse().ok()?;
        let c = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        (c.trim() == comm).then(|| ProcessId::of(pid)).flatten()
    })
}

#[test]
fn kill_9_then_cleanup_leaves_nothing() {
    need_root!();
    let mut guard = background(&[
        "run", "--pid", "--mount", "--memory", "64M", "--", "sleep", "1000",
    ]);
    let owner = guard.0.id() as i32;
    let record = running_record(owner);
    let init = child_running(record.children[0].pid, "sleep");
    assert_eq!(
        record.children[1], init,
        "the recorded child is the one running"
    );
    assert_eq!(record.cgroups.len(), 1);
    assert!(exists(&record.cgroups[0]));
    let members = std::fs::read_to_string(record.cgroups[0].join("cgroup.procs")).unwrap();
    assert!(
        members.contains(&init.pid.to_string()),
        "child not in the cgroup: {members}"
    );
    guard.0.kill().unwrap(); // SIGKILL
    guard.0.wait().unwrap();
    let r = isolab(&["cleanup"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for child in record.children.iter().chain([&init]) {
        wait_for("the child to be gone", || (!child.is_alive()).then_some(()));
    }
    assert!(
        !exists(&record.cgroups[0]),
        "cgroup left: {}",
        record.cgroups[0].display()
    );
    assert!(
        registry::records_of(&registry_dir(), owner).is_empty(),
        "record left"
    );
}

#[test]
fn exec_enters_the_namespaces_and_sigterm_cleans_up() {
    need_root!();
    let mut guard = background(&[
        "run",
        "--pid",
        "--mount",
        "--uts",
        "--net",
        "--hostname",
        "inbox",
        "--",
        "sleep",
        "1000",
    ]);
    let owner = guard.0.id() as i32;
    let record = running_record(owner);
    let init = child_running(record.children[0].pid, "sleep");
    let pid = init.pid.to_string();
    let r = isolab(&[
        "exec",
        &pid,
        "--",
        "sh",
        "-c",
        "hostname; echo $$; readlink /proc/self/ns/net; ip -o link | wc -l",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "inbox");
    assert_ne!(lines[1], pid, "not in the PID namespace");
    assert_eq!(lines[2], ns_inode(&pid, "net"));
    assert_eq!(lines[3].trim(), "1");
    assert_eq!(isolab(&["exec", &pid, "--", "sh", "-c", "exit 5"]).code, 5);

    // SIGTERM to isolab: the child dies, everything is removed.
    // SAFETY: signalling our own child.
    unsafe { libc::kill(owner, libc::SIGTERM) };
    let status = guard.0.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    for child in record.children.iter().chain([&init]) {
        wait_for("the child to be gone", || (!child.is_alive()).then_some(()));
    }
    assert!(registry::records_of(&registry_dir(), owner).is_empty());
}

#[test]
fn exec_of_a_missing_pid_fails_cleanly() {
    let r = isolab(&["exec", "999999999", "--", "true"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with("isolab: ") && r.stderr.contains("999999999"),
        "{}",
        r.stderr
    );
}

#[test]
fn bad_input_exits_2_and_creates_nothing() {
    let long = "x".repeat(65);
    let cases: Vec<Vec<&str>> = vec![
        vec![
            "run",
            "--uts",
            "--memory",
            "64M",
            "--hostname",
            &long,
            "--",
            "true",
        ],
        vec![
            "run",
            "--mount",
            "--memory",
            "64M",
            "--rootfs",
            "/etc/hostname",
            "--",
            "true",
        ],
        vec![
            "run",
            "--pid",
            "--memory",
            "64M",
            "--",
            "no-such-command-isolab",
        ],
        vec!["run", "--memory", "lots", "--", "true"],
        vec!["run", "--no-such-flag", "--", "true"],
    ];
    for args in cases {
        let child = Command::new(ISOLAB)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let r = from_output(child.wait_with_output().unwrap());
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.lines().any(|l| !l.trim().is_empty()));
        if !args.contains(&"--no-such-flag") {
            assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {}", r.stderr);
            assert!(r.stderr.starts_with("isolab: "), "{}", r.stderr);
        }
        assert!(registry::records_of(&registry_dir(), pid).is_empty());
        let cg = std::path::Path::new("/sys/fs/cgroup/memory/isolab");
        if let Ok(entries) = std::fs::read_dir(cg) {
            for e in entries.flatten() {
                assert!(
                    !e.file_name()
                        .to_string_lossy()
                        .starts_with(&format!("{pid}-"))
                );
            }
        }
    }
}
