//! Shared pieces of the rootfs tests: host-only secret files, a fixture root
//! full of hostile links, and children living in it (chroot, chroot with its
//! own mount namespace and procfs, pivot_root). Everything is removed on drop.
#![allow(dead_code)]

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
    std::fs::copy("/bin/busybox", r.join("bin/busybox")).unwrap();
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
}

impl Drop for RootChild {
    fn drop(&mut self) {
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
    let dir = f.root().display().to_string();
    let script = r#"set -e
mount --bind "$1" "$1"
cd "$1"
pivot_root . oldroot
exec /bin/busybox sh -c '/bin/busybox mount -t proc proc /proc && /bin/busybox umount -l /oldroot && exec /bin/busybox sleep 100000'"#;
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
    spawn("pivot_root", true, &argv, SLEEP_ARGV)
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
    }
}
