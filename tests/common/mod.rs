//! What many test files need, written once: the rule for missing
//! preconditions (fail, unless ISOLAB_TEST_ALLOW_SKIP=1), a bounded poll,
//! markers no other test or helper uses, a test user removed with its
//! processes, a scratch directory other uids can reach, and copying an
//! executable that is run at once.
//!
//! Each test file says `mod common;`; not every file uses every helper.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The opt-out the README names: only with it set may a test that cannot
/// run pass (and it then says that it did not run).
pub const ALLOW_SKIP: &str = "ISOLAB_TEST_ALLOW_SKIP";

/// The isolab binary cargo built for these tests.
pub const ISOLAB: &str = env!("CARGO_BIN_EXE_isolab");

/// Whether ISOLAB_TEST_ALLOW_SKIP=1 is set.
pub fn skip_allowed() -> bool {
    std::env::var_os(ALLOW_SKIP).is_some_and(|v| v == "1")
}

/// Whether the test may go on: true when `ok`. When not, the test fails
/// with `why` (what is missing), unless ISOLAB_TEST_ALLOW_SKIP=1 is set:
/// then it prints "not run (ISOLAB_TEST_ALLOW_SKIP=1): why" and returns
/// false, and the caller returns.
#[track_caller]
pub fn require(ok: bool, why: &str) -> bool {
    if ok {
        return true;
    }
    if skip_allowed() {
        println!("not run ({ALLOW_SKIP}=1): {why}");
        eprintln!("not run ({ALLOW_SKIP}=1): {why}");
        return false;
    }
    panic!(
        "this test cannot run: {why}. Provide that (scripts/test.sh runs the tests as root \
         with tmux and busybox installed), or set {ALLOW_SKIP}=1 to let it pass without running"
    );
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// `require(is_root(), ..)`: `what` says what the test needs root for.
#[track_caller]
pub fn need_root(what: &str) -> bool {
    require(is_root(), &format!("it needs root ({what})"))
}

/// Whether `program` is found on PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            std::fs::metadata(dir.join(program))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// Polls `cond` until it returns Some, failing after `secs` seconds. Not a
/// timing assertion: only a guard against waiting forever.
#[track_caller]
pub fn wait_for_secs<T>(secs: u64, what: &str, mut cond: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = cond() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `wait_for_secs` with a generous 30 s.
#[track_caller]
pub fn wait_for<T>(what: &str, cond: impl FnMut() -> Option<T>) -> T {
    wait_for_secs(30, what, cond)
}

/// A number unique on this machine while this test process lives: this
/// process's pid (no live process shares it) and a counter. Large enough
/// (10^10 and up) to meet no fixed `sleep N` of a lesson or of a person.
pub fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    10_000_000_000 + u64::from(std::process::id()) * 100_000 + NEXT.fetch_add(1, Ordering::SeqCst)
}

/// Sixteen random hex digits (8 bytes: the nonce of a registry record's
/// name has that shape).
pub fn random_hex() -> String {
    let mut buf = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut buf))
        .expect("read /dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every pid in /proc now.
pub fn pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The real uid of `pid` (None once it is gone).
pub fn proc_uid(pid: i32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Whether `pid`'s environment holds `NAME=value` exactly.
pub fn has_env(pid: i32, name: &str, value: &str) -> bool {
    let want = format!("{name}={value}");
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|env| env.split(|b| *b == 0).any(|e| e == want.as_bytes()))
}

/// `pid`'s parent (None once it is gone).
pub fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The comm in parentheses may hold spaces: the fields follow its last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Whether `pid` descends from `ancestor` (or is it).
pub fn descends_from(pid: i32, ancestor: i32) -> bool {
    let mut p = pid;
    for _ in 0..4096 {
        if p == ancestor {
            return true;
        }
        match parent_of(p) {
            Some(parent) if parent > 0 && parent != p => p = parent,
            _ => return false,
        }
    }
    false
}

/// Copies `src` to `dst` (mode 0755) so that `dst` can be run at once.
///
/// `std::fs::copy` holds the destination open for writing in this process;
/// a test on another thread that forks meanwhile inherits that fd until its
/// child execs, and running the copy then fails with ETXTBSY ("Text file
/// busy"). `cp` holds it in a process of its own, which nothing forks.
pub fn copy_executable(src: impl AsRef<Path>, dst: impl AsRef<Path>) {
    let (src, dst) = (src.as_ref(), dst.as_ref());
    let status = Command::new("cp")
        .arg("--")
        .arg(src)
        .arg(dst)
        .status()
        .expect("run cp");
    assert!(
        status.success(),
        "cp {} {} failed",
        src.display(),
        dst.display()
    );
    std::fs::set_permissions(dst, std::fs::Permissions::from_mode(0o755))
        .expect("chmod 0755 the copy");
}

/// A fresh 0755 directory of the test's own under /tmp, with a copy of
/// isolab in it: another uid can run that copy even when the checkout is in
/// a 0700 directory (as root's home is). Removed on drop.
pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    /// `what` names the test in the directory's name.
    pub fn new(what: &str) -> Scratch {
        let dir = PathBuf::from(format!("/tmp/isolab-test-{what}-{}", unique()));
        // create_dir (not create_dir_all): a directory someone planted
        // under this name is an error, not ours to use.
        std::fs::create_dir(&dir)
            .unwrap_or_else(|e| panic!("create the scratch dir {}: {e}", dir.display()));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        copy_executable(ISOLAB, dir.join("isolab"));
        Scratch { dir }
    }

    /// The isolab copy another uid can run.
    pub fn isolab(&self) -> PathBuf {
        self.dir.join("isolab")
    }

    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A user made for one test (useradd, a unique name), removed when dropped,
/// even on failure: first every process of its uid (the uid is this
/// test's alone, so nothing else is signalled), then what isolab kept for
/// it in /tmp, then the user.
pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl TestUser {
    /// `prefix` (a few letters naming the test) plus 8 random hex digits.
    pub fn new(prefix: &str) -> TestUser {
        let name = format!("{prefix}{}", &random_hex()[..8]);
        assert!(name.len() <= 32, "user name {name} is too long for useradd");
        let out = Command::new("useradd")
            .args([
                "--no-create-home",
                "--user-group",
                "--shell",
                "/bin/sh",
                &name,
            ])
            .output()
            .expect("run useradd");
        assert!(
            out.status.success(),
            "useradd {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let user = nix::unistd::User::from_name(&name)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("useradd made {name}, but it cannot be looked up"));
        TestUser {
            name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
        }
    }

    /// The pids whose real uid is this user's.
    pub fn processes(&self) -> Vec<i32> {
        pids()
            .into_iter()
            .filter(|p| proc_uid(*p) == Some(self.uid))
            .collect()
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = self.processes();
            if left.is_empty() || Instant::now() > deadline {
                break;
            }
            for pid in left {
                // Only this fresh uid's processes: the user exists for this test only.
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for kind in ["", "-cache", "-state"] {
            let path = format!("/tmp/isolab{kind}-{}", self.uid);
            let _ = std::fs::remove_dir_all(&path);
            let _ = std::fs::remove_file(&path);
        }
        let removed = Command::new("userdel")
            .args(["-r", &self.name])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !removed {
            let _ = Command::new("userdel")
                .args(["-f", &self.name])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// One process, told apart from a later one with the same pid by its start
/// time (field 22 of /proc/PID/stat, in clock ticks since boot).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Proc {
    pub pid: i32,
    pub start: u64,
}

impl Proc {
    /// The process now at `pid` (None if there is none).
    pub fn at(pid: i32) -> Option<Proc> {
        let (state, start) = stat_state_start(pid)?;
        (state != 'Z').then_some(Proc { pid, start })
    }

    /// Whether this very process still runs (not a zombie, not a newcomer
    /// with its pid).
    pub fn alive(&self) -> bool {
        Proc::at(self.pid) == Some(*self)
    }
}

fn stat_state_start(pid: i32) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut rest = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    // After the comm: state is field 3, starttime field 22.
    let start = rest.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Whether `pid`'s argv is exactly `argv`.
pub fn cmdline_is(pid: i32, argv: &[&str]) -> bool {
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want)
}

/// The processes with argv exactly `argv` that a lesson run of the isolab
/// at `isolab_pid` started: their environment carries that isolab's
/// ISOLAB_LESSON_RUN marker (`PID-START`). A lesson fixes its commands
/// (`sleep 1010`), so the name alone could be anyone's; the marker is this
/// test's own, and it stays in /proc/PID/environ even after the isolab died
/// and the process was reparented.
pub fn lesson_processes(isolab_pid: i32, argv: &[&str]) -> Vec<Proc> {
    let prefix = format!("ISOLAB_LESSON_RUN={isolab_pid}-");
    pids()
        .into_iter()
        .filter(|p| cmdline_is(*p, argv))
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/environ")).is_ok_and(|env| {
                env.split(|b| *b == 0)
                    .any(|e| e.starts_with(prefix.as_bytes()))
            })
        })
        .filter_map(Proc::at)
        .collect()
}
