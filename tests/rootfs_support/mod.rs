//! Shared pieces of the rootfs tests: host-only secret files, a fixture root
//! full of hostile links, and children living in it (chroot, chroot with its
//! own mount namespace and procfs, pivot_root). Everything is removed on drop.
#![allow(dead_code)]

// The one tmux driver of the test suite, shared with the TUI journeys.
#[path = "../tui_support/mod.rs"]
pub mod tmux;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unique tag per fixture: test binary pid + a counter.
pub fn unique_tag(what: &str) -> String {
    format!(
        "{}-{}-{}",
        what,
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A file or directory on the host that must never be read or written via a
/// process's root. Removed on drop.
pub struct HostPath {
    pub path: PathBuf,
}

impl Drop for HostPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

pub const HOST_SECRET: &str = "HOST SECRET: must never be read through a process root\n";
pub const INSIDE_COPY: &str = "INSIDE COPY\n";
pub const INSIDE_D: &str = "INSIDE D\n";

/// A fixture root: a directory with busybox, empty mount points and hostile
/// links. `secret` is `/tmp/isolab-host-secret-TAG` on the host; the root
/// has its own file of the same name (INSIDE_COPY); `host_only` exists on the
/// host only, as does the directory `host_dir`.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub tag: String,
    pub secret: HostPath,
    pub host_only: HostPath,
    pub host_dir: HostPath,
    /// Names that a create through a link would make on the host.
    pub would_be_created: Vec<PathBuf>,
}

impl Fixture {
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    /// Path as the process sees it -> path on the host, for inspection.
    pub fn inside(&self, p: &str) -> PathBuf {
        self.root().join(p.trim_start_matches('/'))
    }
    pub fn secret_name(&self) -> String {
        self.secret
            .path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }
    pub fn host_only_name(&self) -> String {
        self.host_only
            .path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }
}

pub fn fixture(what: &str) -> Fixture {
    let tag = unique_tag(what);
    let secret = HostPath {
        path: PathBuf::from(format!("/tmp/isolab-host-secret-{tag}")),
    };
    std::fs::write(&secret.path, HOST_SECRET).unwrap();
    let host_only = HostPath {
        path: PathBuf::from(format!("/tmp/isolab-host-only-{tag}")),
    };
    std::fs::write(&host_only.path, HOST_SECRET).unwrap();
    let host_dir = HostPath {
        path: PathBuf::from(format!("/tmp/isolab-host-dir-{tag}")),
    };
    std::fs::create_dir(&host_dir.path).unwrap();

    let dir = tempfile::Builder::new()
        .prefix(&format!("isolab-rootfs-fixture-{tag}-"))
        .tempdir_in("/tmp")
        .unwrap();
    let r = dir.path();
    for d in ["bin", "etc", "tmp", "proc", "oldroot", "d/tmp", "d/etc"] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    crate::common::copy_executable("/bin/busybox", r.join("bin/busybox"));
    std::fs::write(r.join("etc/hostname"), "INSIDE-HOSTNAME\n").unwrap();
    let secret_name = secret
        .path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let host_only_abs = host_only.path.display().to_string();
    std::fs::write(r.join("tmp").join(&secret_name), INSIDE_COPY).unwrap();
    std::fs::write(r.join("d/tmp").join(&secret_name), INSIDE_D).unwrap();
    std::fs::write(r.join("etc/big"), vec![b'x'; 300_000]).unwrap();
    std::fs::write(r.join("etc/binary"), b"\x7fELF\0\x01\x02binary").unwrap();

    let link = |target: &str, at: &str| symlink(target, r.join(at)).unwrap();
    // Absolute links: resolved naively against the host's root.
    link(&secret.path.display().to_string(), "etc/abs");
    link(&host_only_abs, "etc/abs_host_only");
    link(
        &format!("../../../../../../..{host_only_abs}"),
        "etc/dotdot_chain",
    );
    link(
        &format!("../../../../../../..{}", secret.path.display()),
        "etc/dotdot_inside",
    );
    // Loops.
    link("loop_b", "etc/loop_a");
    link("loop_a", "etc/loop_b");
    link("self_loop", "etc/self_loop");
    // Magic links through procfs (mounted inside where the child has one).
    link(
        &format!("/proc/self/root{host_only_abs}"),
        "etc/magic_self_root",
    );
    link(
        &format!("/proc/1/root{host_only_abs}"),
        "etc/magic_one_root",
    );
    link(
        &format!("../proc/self/root{host_only_abs}"),
        "etc/magic_relative",
    );
    link("/proc/self/cwd", "etc/magic_cwd");
    // Links to create through: dangling, pointing outside.
    let would_be_created = vec![
        PathBuf::from(format!("/tmp/isolab-host-created-{tag}")),
        host_dir.path.join("new"),
    ];
    link(&would_be_created[0].display().to_string(), "tmp/dangling");
    link(&host_dir.path.display().to_string(), "etc/outdir");
    // The link the swap test flips between `d` and `/`.
    link("/d", "flip");
    Fixture {
        dir,
        tag,
        secret,
        host_only,
        host_dir,
        would_be_created,
    }
}

/// A child process living in a fixture root; killed and reaped on drop.
pub struct RootChild {
    pub child: Child,
    pub pid: i32,
    pub kind: &'static str,
    /// Whether a procfs is mounted at /proc inside.
    pub proc_inside: bool,
    /// A pidfd of the process living in the root when it is not `child`
    /// itself but its child (`isolab run` forks it): killed first.
    pub inner: Option<std::os::fd::OwnedFd>,
}

impl Drop for RootChild {
    fn drop(&mut self) {
        if let Some(fd) = &self.inner {
            use std::os::fd::AsRawFd;
            // SAFETY: a pidfd we own; signal 9 to exactly that process.
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    libc::SIGKILL,
                    0,
                    0,
                );
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SLEEP_ARGV: &[&str] = &["/bin/busybox", "sleep", "100000"];

fn wait_for_cmdline(child: &mut Child, argv: &[&str]) {
    let pid = child.id();
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|a| format!("{a}\0").into_bytes())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            panic!("child {pid} exited early ({status}): {err}");
        }
        if std::fs::read(format!("/proc/{pid}/cmdline"))
            .ok()
            .as_deref()
            == Some(&want[..])
        {
            return;
        }
        assert!(Instant::now() < deadline, "child {pid} never became ready");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn spawn(kind: &'static str, proc_inside: bool, argv: &[&str], ready: &[&str]) -> RootChild {
    let mut child = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_cmdline(&mut child, ready);
    let pid = child.id() as i32;
    RootChild {
        child,
        pid,
        kind,
        proc_inside,
        inner: None,
    }
}

/// `chroot DIR /bin/busybox sleep`, in the host's mount namespace (no procfs
/// inside).
pub fn chroot_child(f: &Fixture) -> RootChild {
    let dir = f.root().display().to_string();
    let mut argv = vec!["chroot", dir.as_str()];
    argv.extend_from_slice(SLEEP_ARGV);
    spawn("chroot", false, &argv, SLEEP_ARGV)
}

/// A chroot in its own mount namespace with procfs mounted at /proc inside.
pub fn chroot_child_with_proc(f: &Fixture) -> RootChild {
    let dir = f.root().display().to_string();
    let script = r#"mount -t proc proc "$1/proc" && exec chroot "$1" /bin/busybox sleep 100000"#;
    let argv = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        "sh",
        &dir,
    ];
    spawn("chroot+proc", true, &argv, SLEEP_ARGV)
}

/// pivot_root into the fixture in a new mount namespace, procfs at /proc,
/// the old root detached.
pub fn pivot_child(f: &Fixture) -> RootChild {
    pivot_child_sleeping(f, "100000")
}

/// The same, running `/bin/busybox sleep SECS` (a unique SECS makes the
/// process easy to find by its command line).
pub fn pivot_child_sleeping(f: &Fixture, secs: &str) -> RootChild {
    let dir = f.root().display().to_string();
    let script = format!(
        r#"set -e
mount --bind "$1" "$1"
cd "$1"
pivot_root . oldroot
exec /bin/busybox sh -c '/bin/busybox mount -t proc proc /proc && /bin/busybox umount -l /oldroot && exec /bin/busybox sleep {secs}'"#
    );
    let argv = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        &script,
        "sh",
        &dir,
    ];
    spawn("pivot_root", true, &argv, &["/bin/busybox", "sleep", secs])
}

/// A process with its own mount namespace, the host's root and a private
/// tmpfs on /tmp (the article's container, minus the image).
pub fn private_tmp_child() -> RootChild {
    let script = "mount -t tmpfs isolab-test-tmp /tmp && exec sleep 100000";
    let argv = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
    ];
    spawn("private-tmp", false, &argv, &["sleep", "100000"])
}

/// A process in its own user namespace where ids 0..65536 inside are
/// 100000..165536 outside (maps written by us, as root, from outside).
pub fn userns_child() -> RootChild {
    use std::io::Write;
    let mut child = Command::new("unshare")
        .args(["--user", "sh", "-c", "read go; exec sleep 100000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    wait_for_cmdline(&mut child, &["sh", "-c", "read go; exec sleep 100000"]);
    // The user namespace exists once unshare has exec'ed sh.
    std::fs::write(format!("/proc/{pid}/uid_map"), "0 100000 65536\n").unwrap();
    std::fs::write(format!("/proc/{pid}/gid_map"), "0 100000 65536\n").unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    wait_for_cmdline(&mut child, &["sleep", "100000"]);
    RootChild {
        child,
        pid: pid as i32,
        kind: "userns",
        proc_inside: false,
        inner: None,
    }
}

/// The lab's own child: `isolab run --mount --rootfs DIR -- busybox sleep`
/// (pivot_root done by isolab's spawner). `None` when this build's `run` is
/// not there yet (set ISOLAB_LAB_BIN to another isolab binary to use it).
pub fn lab_child(f: &Fixture) -> RootChild {
    let bin = std::env::var("ISOLAB_LAB_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_isolab").to_string());
    let dir = f.root().display().to_string();
    let mut child = Command::new(&bin)
        .args(["run", "--mount", "--rootfs", &dir, "--"])
        .args(SLEEP_ARGV)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run_pid = child.id();
    let want: Vec<u8> = SLEEP_ARGV
        .iter()
        .flat_map(|a| format!("{a}\0").into_bytes())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            panic!("isolab run exited early: {err}");
        }
        let children = std::fs::read_to_string(format!("/proc/{run_pid}/task/{run_pid}/children"))
            .unwrap_or_default();
        for c in children.split_whitespace() {
            if std::fs::read(format!("/proc/{c}/cmdline")).ok().as_deref() == Some(&want[..]) {
                let pid: i32 = c.parse().unwrap();
                // SAFETY: plain syscall; the result is a new fd we own.
                let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
                assert!(fd >= 0, "pidfd_open {pid}");
                use std::os::fd::FromRawFd;
                let inner = Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) });
                let root = isolab::sys::rootfs::ProcRoot::open(Path::new("/proc"), pid).unwrap();
                let proc_inside = root.lstat("/proc/self").is_ok();
                return RootChild {
                    child,
                    pid,
                    kind: "isolab run --mount --rootfs",
                    proc_inside,
                    inner,
                };
            }
        }
        assert!(
            Instant::now() < deadline,
            "isolab run never started its child"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
