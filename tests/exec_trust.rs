//! `isolab exec` run by root never hands root to whoever owns what it
//! enters (issue 10, point 1), and says plainly when the PID has exited
//! (point 9). Real users (made with useradd, removed after), real
//! namespaces, real ptrace.

mod common;
use std::collections::BTreeSet;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{ISOLAB, TestUser, is_root, pids, require, wait_for};

fn unique() -> u64 {
    common::unique()
}

/// What this file adds to the shared test user.
impl TestUser {
    fn create() -> TestUser {
        TestUser::new("isxexec")
    }

    fn command(&self, program: &Path, scratch: &Scratch) -> Command {
        let mut cmd = Command::new(program);
        cmd.uid(self.uid)
            .gid(self.gid)
            .env("XDG_RUNTIME_DIR", &scratch.run_dir)
            .env("HOME", &scratch.run_dir)
            .current_dir(&scratch.dir)
            .stdin(Stdio::null());
        cmd
    }
}

/// A fresh 0755 directory with a copy of isolab another uid can run, and a
/// 0700 runtime dir of the test user's own.
struct Scratch {
    dir: PathBuf,
    bin: PathBuf,
    run_dir: PathBuf,
    _shared: common::Scratch,
}

impl Scratch {
    fn new(user: &TestUser) -> Scratch {
        let shared = common::Scratch::new("exec-trust");
        let run_dir = shared.join("run");
        std::fs::create_dir(&run_dir).unwrap();
        std::fs::set_permissions(&run_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&run_dir, Some(user.uid), Some(user.gid)).unwrap();
        Scratch {
            dir: shared.dir.clone(),
            bin: shared.isolab(),
            run_dir,
            _shared: shared,
        }
    }
}

/// Kills (and reaps) a background process if the test fails midway.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn status_field(pid: i32, field: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

fn ids(pid: i32, field: &str) -> Vec<u32> {
    status_field(pid, field)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

/// The one process whose argv is exactly `argv` (markers are unique).
fn find_proc(argv: &[&str]) -> Option<i32> {
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    pids()
        .into_iter()
        .find(|p| std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c == want))
}

fn fds_of(pid: i32) -> BTreeSet<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read the entered process's fd list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// PTRACE_SEIZE `pid` as uid/gid (no supplementary groups): Ok if the
/// kernel lets that user trace it, else the errno. (Seize, unlike attach,
/// does not stop the tracee; the tracer's exit detaches it.)
fn ptrace_seize_as(uid: u32, gid: u32, pid: i32) -> Result<(), i32> {
    // SAFETY: fork in a threaded test: the child makes raw syscalls only
    // (async-signal-safe) and leaves with _exit.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    if child == 0 {
        // SAFETY: see above.
        unsafe {
            let dropped = libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>())
                == 0
                && libc::syscall(libc::SYS_setresgid, gid, gid, gid) == 0
                && libc::syscall(libc::SYS_setresuid, uid, uid, uid) == 0;
            if !dropped {
                libc::_exit(200);
            }
            let rc = libc::syscall(libc::SYS_ptrace, libc::PTRACE_SEIZE, pid, 0, 0);
            let code = if rc == 0 {
                0
            } else {
                (*libc::__errno_location()).clamp(1, 199)
            };
            libc::_exit(code)
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    while unsafe { libc::waitpid(child, &mut status, 0) } < 0 {}
    assert!(libc::WIFEXITED(status), "the ptrace helper died: {status}");
    match libc::WEXITSTATUS(status) {
        0 => Ok(()),
        200 => panic!("the ptrace helper could not become uid {uid}"),
        e => Err(e),
    }
}

/// `isolab exec PID -- sleep MARKER` as root in the background, with an
/// extra inherited (not close-on-exec) fd 7 that must not reach the
/// command. Returns the exec'd sleep's host PID and the exec process.
fn exec_sleep_as_root(target: i32, marker: &str, scratch: &Scratch) -> (i32, Reaped) {
    let extra = std::fs::File::open("/dev/null").unwrap();
    let extra_fd = extra.as_raw_fd();
    let err_path = scratch.dir.join(format!("exec-{marker}.err"));
    let mut cmd = Command::new(ISOLAB);
    cmd.args(["exec", &target.to_string(), "--", "sleep", marker])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap());
    // SAFETY: dup2 is async-signal-safe; the new fd 7 has no O_CLOEXEC.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(extra_fd, 7) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut exec = Reaped(cmd.spawn().expect("run isolab exec"));
    let entered = wait_for("the entered command to exec", || {
        if let Ok(Some(status)) = exec.0.try_wait() {
            panic!(
                "isolab exec ended early ({status}): {}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        // Found by its argv right after execve, `sleep` may still be in the
        // dynamic loader, which opens libraries as fd 3 for a moment: wait
        // until it sleeps, so what is seen of it is what isolab left it.
        find_proc(&["sleep", marker]).filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/wchan"))
                .is_ok_and(|w| w.contains("nanosleep"))
        })
    });
    drop(extra);
    (entered, exec)
}

/// The process isolab exec leaves waiting for the command: the command's
/// parent, which never execs (so it shows the state exec would reset).
fn waiter_of(entered: i32) -> i32 {
    status_field(entered, "PPid")
        .and_then(|p| p.parse().ok())
        .expect("the entered command's parent")
}

/// Non-dumpable processes have their /proc files owned by root.
fn looks_non_dumpable(pid: i32) -> bool {
    std::fs::metadata(format!("/proc/{pid}/environ")).is_ok_and(|m| m.uid() == 0 && m.gid() == 0)
}

#[test]
fn root_exec_into_a_users_container_takes_the_owners_ids_not_root() {
    if !require(
        is_root(),
        "needs root (it creates a user and enters its container as root)",
    ) {
        return;
    }
    let user = TestUser::create();
    let scratch = Scratch::new(&user);
    let marker = unique().to_string();
    let marker2 = format!("{marker}1");
    // As the user: a container of its own (user, PID and mount namespaces).
    let run_err = scratch.dir.join("run.err");
    let _run = Reaped(
        user.command(&scratch.bin, &scratch)
            .args(["run", "--user", "--pid", "--mount", "--", "sleep", &marker])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&run_err).unwrap())
            .spawn()
            .expect("run isolab as the test user"),
    );
    let target = wait_for("the user's container to start", || {
        find_proc(&["sleep", &marker])
    });
    assert_ne!(
        std::fs::read_link(format!("/proc/{target}/ns/user")).ok(),
        std::fs::read_link("/proc/self/ns/user").ok(),
        "the user's container has no user namespace of its own: {}",
        std::fs::read_to_string(&run_err).unwrap_or_default()
    );

    // As root: enter it.
    let (entered, _exec) = exec_sleep_as_root(target, &marker2, &scratch);

    // The attack: the user, who holds every capability in its own user
    // namespace, ptraces what root put there. Whatever it can trace must
    // not be host root.
    let traceable = ptrace_seize_as(user.uid, user.gid, entered).is_ok();
    let uids = ids(entered, "Uid");
    assert!(
        !(traceable && uids.contains(&0)),
        "user {} can ptrace the entered command, which runs as host uid {uids:?}",
        user.name
    );
    // What nsenter -a gives: the namespace owner's ids, no extra groups.
    assert_eq!(uids, vec![user.uid; 4], "entered command's host uids");
    assert_eq!(
        ids(entered, "Gid"),
        vec![user.gid; 4],
        "entered command's host gids"
    );
    assert_eq!(
        status_field(entered, "Groups").as_deref(),
        Some(""),
        "supplementary groups"
    );
    // Only stdin, stdout, stderr reach the command (not the inherited fd 7).
    let expect: BTreeSet<String> = ["0", "1", "2"].map(String::from).into();
    assert_eq!(fds_of(entered), expect, "fds of the entered command");

    // isolab's own waiting process inside: the owner's ids too, and
    // non-dumpable, so the user can neither trace it nor read its /proc.
    let waiter = waiter_of(entered);
    assert_eq!(ids(waiter, "Uid"), vec![user.uid; 4], "waiter's host uids");
    assert!(looks_non_dumpable(waiter), "the waiting isolab is dumpable");
    assert_eq!(
        ptrace_seize_as(user.uid, user.gid, waiter),
        Err(libc::EPERM),
        "the user may ptrace isolab's waiting process"
    );
}

#[test]
fn root_exec_into_a_users_plain_process_stays_root_and_out_of_reach() {
    if !require(
        is_root(),
        "needs root (it creates a user and enters its process as root)",
    ) {
        return;
    }
    let user = TestUser::create();
    let scratch = Scratch::new(&user);
    let marker = unique().to_string();
    let marker2 = format!("{marker}2");
    let _sleep = Reaped(
        user.command(Path::new("/bin/sleep"), &scratch)
            .arg(&marker)
            .spawn()
            .expect("run sleep as the test user"),
    );
    let target = wait_for("the user's sleep", || find_proc(&["/bin/sleep", &marker]));
    let (entered, _exec) = exec_sleep_as_root(target, &marker2, &scratch);
    // No user namespace of its own to take ids from: root stays root, like
    // nsenter, and the user can trace neither the command nor isolab.
    assert_eq!(
        ids(entered, "Uid"),
        vec![0; 4],
        "entered command's host uids"
    );
    assert_eq!(
        ptrace_seize_as(user.uid, user.gid, entered),
        Err(libc::EPERM),
        "the user may ptrace root's command"
    );
    let waiter = waiter_of(entered);
    assert!(looks_non_dumpable(waiter), "the waiting isolab is dumpable");
    assert_eq!(
        ptrace_seize_as(user.uid, user.gid, waiter),
        Err(libc::EPERM),
        "the user may ptrace isolab's waiting process"
    );
    let expect: BTreeSet<String> = ["0", "1", "2"].map(String::from).into();
    assert_eq!(fds_of(entered), expect, "fds of the entered command");
}

#[test]
fn a_user_entering_its_own_container_keeps_its_own_ids() {
    if !require(is_root(), "needs root (it creates a user)") {
        return;
    }
    let user = TestUser::create();
    let scratch = Scratch::new(&user);
    let marker = unique().to_string();
    let _run = Reaped(
        user.command(&scratch.bin, &scratch)
            .args(["run", "--user", "--pid", "--mount", "--", "sleep", &marker])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run isolab as the test user"),
    );
    let target = wait_for("the user's container", || find_proc(&["sleep", &marker]));
    // As the user: setgroups is denied inside its namespace, and it had no
    // right to drop its groups outside; entering must still work.
    let out = user
        .command(&scratch.bin, &scratch)
        .args([
            "exec",
            &target.to_string(),
            "--",
            "cat",
            "/proc/self/status",
        ])
        .output()
        .expect("run isolab exec as the test user");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exec as the owner: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Inside, the owner is root of its namespace (uid_map "0 UID 1").
    let uid_line = stdout.lines().find(|l| l.starts_with("Uid:")).unwrap_or("");
    assert_eq!(
        uid_line.split_whitespace().skip(1).collect::<Vec<_>>(),
        vec!["0"; 4],
        "{stdout}"
    );
}

#[test]
fn exec_on_a_pid_that_exited_says_so() {
    // A zombie: it has exited, its PID stays until we reap it.
    let mut child = Command::new("true").spawn().expect("run true");
    let pid = child.id() as i32;
    wait_for("the child to become a zombie", || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let state = stat.rsplit_once(") ")?.1.chars().next()?;
        (state == 'Z').then_some(())
    });
    let out = Command::new(ISOLAB)
        .args(["exec", &pid.to_string(), "--", "true"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let _ = child.wait();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("PID {pid} has exited")),
        "an exited PID is not reported as exited: {stderr}"
    );
    for blame in ["root", "permission", "allowed", "denied"] {
        assert!(!stderr.to_lowercase().contains(blame), "{stderr}");
    }

    // A PID no process has (above the kernel's pid_max).
    let pid_max: i64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4_194_304);
    let none = (pid_max + 1).to_string();
    let out = Command::new(ISOLAB)
        .args(["exec", &none, "--", "true"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("no process with PID {none}")) && stderr.contains("exited"),
        "{stderr}"
    );
    for blame in ["root", "permission", "allowed", "denied"] {
        assert!(!stderr.to_lowercase().contains(blame), "{stderr}");
    }
}

/// Killing `isolab exec` (even with SIGKILL, which it cannot catch) takes
/// the waiter and the entered command with it: nothing isolab started is
/// left running on its own.
#[test]
fn a_killed_exec_leaves_no_command_behind() {
    if !require(is_root(), "needs root (it enters another PID namespace)") {
        return;
    }
    let target_marker = unique().to_string();
    let marker = format!("{target_marker}2");
    // A target in a PID namespace of its own, as a container's process is.
    let _target = Reaped(
        Command::new("unshare")
            .args([
                "--pid",
                "--fork",
                "--kill-child",
                "--mount-proc",
                "sleep",
                &target_marker,
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("unshare"),
    );
    let target = wait_for("the target to start", || {
        find_proc(&["sleep", &target_marker])
    });
    let mut exec = Reaped(
        Command::new(ISOLAB)
            .args(["exec", &target.to_string(), "--", "sleep", &marker])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("isolab exec"),
    );
    let entered = wait_for("the entered command", || find_proc(&["sleep", &marker]));
    exec.0.kill().expect("SIGKILL isolab exec");
    let _ = exec.0.wait();
    wait_for("the entered command to die with isolab exec", || {
        (!std::path::Path::new(&format!("/proc/{entered}")).exists()
            || find_proc(&["sleep", &marker]).is_none())
        .then_some(())
    });
}
