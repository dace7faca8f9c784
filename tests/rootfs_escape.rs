//! Hostile links against a real chrooted child, a chrooted child with its own
//! procfs, and a pivot_root'ed child: everything stays inside the process's
//! root or is refused; nothing reads or creates a host file.

mod common;
mod rootfs_support;

use isolab::sys::rootfs::{ProcRoot, RootfsError};
use rootfs_support::*;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, PartialEq)]
enum Outcome {
    Content(String),
    NotFound,
    Loop,
    Denied,
    /// Expected only: refused either way. Reaching PID 1's root needs ptrace
    /// access to PID 1, which this machine may deny (EACCES) before the
    /// kernel gets to refusing the magic link (ELOOP).
    LoopOrDenied,
    Other(String),
}

fn matches_want(got: &Outcome, want: &Outcome) -> bool {
    match want {
        Outcome::LoopOrDenied => matches!(got, Outcome::Loop | Outcome::Denied),
        want => got == want,
    }
}

fn read(root: &ProcRoot, path: &str) -> Outcome {
    match root.read_file(path, 1 << 20) {
        Ok(c) => {
            let text = String::from_utf8_lossy(&c.bytes).into_owned();
            assert!(
                !text.contains("HOST SECRET"),
                "{path}: read the HOST's file through process {}'s root",
                root.pid()
            );
            Outcome::Content(text)
        }
        Err(RootfsError::NotFound { .. }) => Outcome::NotFound,
        Err(RootfsError::Loop { .. }) => Outcome::Loop,
        Err(RootfsError::PermissionDenied { .. }) => Outcome::Denied,
        Err(e) => Outcome::Other(e.to_string()),
    }
}

fn content(s: &str) -> Outcome {
    Outcome::Content(s.to_string())
}

/// The whole table of hostile paths against one child.
fn hostile_suite(f: &Fixture, child: &RootChild) {
    let root = ProcRoot::open(Path::new("/proc"), child.pid).unwrap();
    let secret = f.secret.path.display().to_string();
    let host_only = f.host_only.path.display().to_string();

    // The fixture really is hostile: a naive read through /proc/PID/root
    // follows the absolute link on the host and gets the host's file.
    let naive = std::fs::read_to_string(format!("/proc/{}/root/etc/abs_host_only", child.pid));
    assert_eq!(naive.unwrap(), HOST_SECRET, "[{}] naive read", child.kind);

    let magic = if child.proc_inside {
        Outcome::Loop
    } else {
        Outcome::NotFound
    };
    let cases: Vec<(String, Outcome)> = vec![
        ("/etc/hostname".into(), content("INSIDE-HOSTNAME\n")),
        ("/etc/abs".into(), content(INSIDE_COPY)),
        ("/etc/abs_host_only".into(), Outcome::NotFound),
        ("/etc/dotdot_chain".into(), Outcome::NotFound),
        ("/etc/dotdot_inside".into(), content(INSIDE_COPY)),
        (format!("/../../../../..{host_only}"), Outcome::NotFound),
        (format!("../../..{secret}"), content(INSIDE_COPY)),
        (format!("/etc/../../../..{secret}"), content(INSIDE_COPY)),
        (secret.clone(), content(INSIDE_COPY)),
        (host_only.clone(), Outcome::NotFound),
        ("/etc/loop_a".into(), Outcome::Loop),
        ("/etc/self_loop".into(), Outcome::Loop),
        ("/etc/loop_a/x".into(), Outcome::Loop),
        ("/etc/magic_self_root".into(), magic),
        (
            "/etc/magic_one_root".into(),
            read_expect(child, Outcome::LoopOrDenied),
        ),
        (
            "/etc/magic_relative".into(),
            read_expect(child, Outcome::Loop),
        ),
        (
            format!("/proc/self/root{host_only}"),
            read_expect(child, Outcome::Loop),
        ),
        (
            format!("/proc/1/root{host_only}"),
            read_expect(child, Outcome::LoopOrDenied),
        ),
        ("/proc/self/fd/0".into(), read_expect(child, Outcome::Loop)),
        ("/proc/self/exe".into(), read_expect(child, Outcome::Loop)),
        (
            "/flip/tmp/".to_string() + &f.secret_name(),
            content(INSIDE_D),
        ),
    ];
    for (path, want) in &cases {
        let got = read(&root, path);
        assert!(
            matches_want(&got, want),
            "[{}] read {path}: got {got:?}, want {want:?}",
            child.kind
        );
    }

    // Listing through hostile links never shows the host's /tmp.
    for dir in ["/etc/magic_cwd", "/etc/outdir", "/proc/self/root/tmp"] {
        match root.list_dir(dir) {
            Ok(l) => {
                assert!(
                    !l.entries.iter().any(|e| e.name == f.host_only_name()),
                    "[{}] ls {dir} listed the host's /tmp",
                    child.kind
                );
            }
            Err(RootfsError::NotFound { .. }) | Err(RootfsError::Loop { .. }) => {}
            Err(e) => panic!("[{}] ls {dir}: unexpected {e}", child.kind),
        }
    }
    let tmp = root.list_dir("/tmp").unwrap();
    let names: Vec<&str> = tmp.entries.iter().map(|e| e.name.as_str()).collect();
    assert!(names.contains(&f.secret_name().as_str()), "{names:?}");
    assert!(!names.contains(&f.host_only_name().as_str()), "{names:?}");
    let abs = root.list_dir("/etc").unwrap();
    let abs = abs.entries.iter().find(|e| e.name == "abs").unwrap();
    assert_eq!(abs.link_target.as_deref(), Some(secret.as_str()));

    // Creates through links pointing outside: refused, nothing on the host.
    assert!(matches!(
        root.create_file("/tmp/dangling"),
        Err(RootfsError::Exists { .. })
    ));
    assert!(matches!(
        root.create_dir("/tmp/dangling"),
        Err(RootfsError::Exists { .. })
    ));
    assert!(matches!(
        root.create_file("/etc/outdir/new"),
        Err(RootfsError::NotFound { .. })
    ));
    assert!(matches!(
        root.create_dir("/etc/outdir/new"),
        Err(RootfsError::NotFound { .. })
    ));
    let via_magic = root.create_file(&format!("/proc/self/root{}/new", f.host_dir.path.display()));
    assert!(
        matches!(
            via_magic,
            Err(RootfsError::Loop { .. }) | Err(RootfsError::NotFound { .. })
        ),
        "{via_magic:?}"
    );
    // `..` in the parent clamps at the process's root.
    let made = format!("/../../../tmp/made-{}", f.tag);
    root.create_file(&made).unwrap();
    assert!(f.inside(&format!("/tmp/made-{}", f.tag)).exists());
    for p in &f.would_be_created {
        assert!(
            !p.exists(),
            "[{}] created {} on the host",
            child.kind,
            p.display()
        );
    }
    assert!(!Path::new(&format!("/tmp/made-{}", f.tag)).exists());
    assert_eq!(std::fs::read_dir(&f.host_dir.path).unwrap().count(), 0);
}

/// Magic-link cases: refused where a procfs is inside; without one, the
/// path simply does not exist in the process's root.
fn read_expect(child: &RootChild, with_proc: Outcome) -> Outcome {
    if child.proc_inside {
        with_proc
    } else {
        Outcome::NotFound
    }
}

/// A thread flips `/flip` between `/d` and `/` while we resolve through it:
/// every answer is one of the two inside files, never the host's.
fn swap_race(f: &Fixture, child: &RootChild) {
    let root = ProcRoot::open(Path::new("/proc"), child.pid).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let stop = stop.clone();
        let dir = f.root().to_path_buf();
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let tmp = dir.join(format!("flip.tmp{}", n % 2));
                let _ = std::fs::remove_file(&tmp);
                let target = if n.is_multiple_of(2) { "/" } else { "/d" };
                std::os::unix::fs::symlink(target, &tmp).unwrap();
                std::fs::rename(&tmp, dir.join("flip")).unwrap();
                n += 1;
            }
            n
        })
    };
    let path = format!("/flip/tmp/{}", f.secret_name());
    let host_path = format!("/flip{}", f.host_only.path.display());
    let (mut saw_root, mut saw_d) = (0, 0);
    for i in 0..1500u32 {
        match read(&root, &path) {
            Outcome::Content(c) if c == INSIDE_COPY => saw_root += 1,
            Outcome::Content(c) if c == INSIDE_D => saw_d += 1,
            other => panic!("[{}] {path} during the swap: {other:?}", child.kind),
        }
        assert_eq!(
            read(&root, &host_path),
            Outcome::NotFound,
            "[{}]",
            child.kind
        );
        if i.is_multiple_of(10) {
            let name = format!("/flip/tmp/swap-made-{}-{i}", f.tag);
            root.create_file(&name).unwrap();
        }
    }
    stop.store(true, Ordering::Relaxed);
    let flips = flipper.join().unwrap();
    assert!(flips > 0);
    eprintln!(
        "[{}] swap race: {flips} flips, {saw_root} reads via /, {saw_d} via /d",
        child.kind
    );
    // Every file made through the flipping link is inside the fixture.
    let made: usize = ["tmp", "d/tmp"]
        .iter()
        .map(|d| {
            std::fs::read_dir(f.root().join(d))
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .starts_with("swap-made-")
                })
                .count()
        })
        .sum();
    assert_eq!(made, 150);
    let leaked = std::fs::read_dir("/tmp")
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(&format!("swap-made-{}", f.tag))
        })
        .count();
    assert_eq!(leaked, 0, "files created on the host's /tmp");
}

#[test]
fn chroot_child_in_host_mount_namespace() {
    let f = fixture("chroot");
    let child = chroot_child(&f);
    hostile_suite(&f, &child);
}

#[test]
fn chroot_child_with_its_own_procfs() {
    let f = fixture("chrootproc");
    let child = chroot_child_with_proc(&f);
    hostile_suite(&f, &child);
}

#[test]
fn pivot_root_child() {
    let f = fixture("pivot");
    let child = pivot_child(&f);
    hostile_suite(&f, &child);
}

#[test]
fn lab_child_from_isolab_run() {
    let f = fixture("lab");
    let child = lab_child(&f);
    hostile_suite(&f, &child);
    swap_race(&f, &child);
}

#[test]
fn swap_race_chroot() {
    let f = fixture("swapchroot");
    let child = chroot_child(&f);
    swap_race(&f, &child);
}

#[test]
fn swap_race_pivot_root() {
    let f = fixture("swappivot");
    let child = pivot_child(&f);
    swap_race(&f, &child);
}

#[test]
fn reading_is_bounded_and_binary_is_detected() {
    let f = fixture("read");
    let child = chroot_child(&f);
    let root = ProcRoot::open(Path::new("/proc"), child.pid).unwrap();
    let big = root.read_file("/etc/big", 1000).unwrap();
    assert!(big.cut);
    assert_eq!(big.bytes.len(), 1000);
    assert_eq!(big.size, 300_000);
    assert!(!big.binary);
    let bin = root.read_file("/etc/binary", 1000).unwrap();
    assert!(bin.binary && !bin.cut);
    assert!(matches!(
        root.read_file("/etc", 10),
        Err(RootfsError::IsADirectory { .. })
    ));
    // A fifo would block a naive open: refused before opening.
    nix::unistd::mkfifo(
        &f.inside("/tmp/fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    assert!(matches!(
        root.read_file("/tmp/fifo", 10),
        Err(RootfsError::NotRegular { kind: "fifo", .. })
    ));
}

#[test]
fn names_are_checked_and_creates_land_inside() {
    let f = fixture("create");
    let child = pivot_child(&f);
    let root = ProcRoot::open(Path::new("/proc"), child.pid).unwrap();
    for bad in ["", "a/b", ".", ".."] {
        let err = root.create_in("/tmp", bad, false).unwrap_err();
        assert!(matches!(err, RootfsError::BadName { .. }), "{bad:?}: {err}");
    }
    let e = root.create_in("/tmp", "created_by_host", false).unwrap();
    assert_eq!(e.size, 0);
    assert!(f.inside("/tmp/created_by_host").is_file());
    let err = root
        .create_in("/tmp", "created_by_host", false)
        .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    root.create_in("/tmp", "a_dir", true).unwrap();
    assert!(f.inside("/tmp/a_dir").is_dir());
    root.create_dir("/tmp/a_dir/nested/").unwrap();
    assert!(f.inside("/tmp/a_dir/nested").is_dir());
    assert!(matches!(
        root.create_file("/tmp/no_such_dir/x"),
        Err(RootfsError::NotFound { .. })
    ));
    assert!(matches!(
        root.create_file("/etc/hostname/x"),
        Err(RootfsError::NotADirectory { .. })
    ));
}

#[test]
fn an_exited_process_is_reported_and_never_followed() {
    let f = fixture("exit");
    let mut child = chroot_child(&f);
    let root = ProcRoot::open(Path::new("/proc"), child.pid).unwrap();
    assert!(root.is_alive());
    root.list_dir("/").unwrap();
    child.child.kill().unwrap();
    // Not reaped yet: a zombie has no root, and pidfd says it exited.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while root.is_alive() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::yield_now();
    }
    assert_eq!(
        root.list_dir("/"),
        Err(RootfsError::Exited { pid: child.pid })
    );
    assert!(matches!(
        ProcRoot::open(Path::new("/proc"), child.pid),
        Err(RootfsError::Exited { .. })
    ));
    child.child.wait().unwrap();
    assert!(matches!(
        root.create_file("/tmp/after_exit"),
        Err(RootfsError::Exited { .. })
    ));
    assert!(!f.inside("/tmp/after_exit").exists());
    assert!(matches!(
        ProcRoot::open(Path::new("/proc"), child.pid),
        Err(RootfsError::NoProcess { .. }) | Err(RootfsError::Exited { .. })
    ));
}

#[test]
fn owners_are_shown_inside_and_outside_a_user_namespace() {
    let f = fixture("userns");
    std::fs::write(f.inside("/tmp/owned"), "x").unwrap();
    nix::unistd::chown(
        &f.inside("/tmp/owned"),
        Some(nix::unistd::Uid::from_raw(101000)),
        Some(nix::unistd::Gid::from_raw(101001)),
    )
    .unwrap();
    let child = userns_child();
    let root = ProcRoot::open(Path::new("/proc"), child.pid).unwrap();
    assert!(root.userns().is_some());
    // The child shares our root: the fixture is at its host path.
    let listing = root
        .list_dir(&f.inside("/tmp").display().to_string())
        .unwrap();
    let owned = listing.entries.iter().find(|e| e.name == "owned").unwrap();
    assert_eq!((owned.uid, owned.gid), (101000, 101001));
    assert_eq!(
        (owned.uid_inside, owned.gid_inside),
        (Some(1000), Some(1001))
    );
    assert!(!owned.unmapped);
    assert_eq!(owned.owner_text(), "101000:101001 (inside 1000:1001)");
    let by_root = listing
        .entries
        .iter()
        .find(|e| e.name == f.secret_name())
        .unwrap();
    assert_eq!(by_root.uid, 0);
    assert_eq!(by_root.uid_inside, Some(65534));
    assert!(by_root.unmapped);
    // Without an own user namespace, no inside ids are shown.
    let plain = chroot_child(&f);
    let root = ProcRoot::open(Path::new("/proc"), plain.pid).unwrap();
    assert!(root.userns().is_none());
    let e = root.list_dir("/tmp").unwrap();
    assert!(e.entries.iter().all(|e| e.uid_inside.is_none()));
}
