//! Issue 10, points 3, 4 and part of 9, reproduced for real: directories
//! another user planted in /tmp, records naming what isolab never made, an
//! isolab alive in another PID namespace, and a run whose record cannot be
//! written. Each test plays the attacker with a real user (useradd) or a
//! real planted record, and checks that the victim's process, file, mount,
//! cgroup and directory survive. They need root (useradd, cgroups, mounts).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use isolab::sys::registry::{ProcessId, Record};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use std::time::Duration;

use common::{ISOLAB, Scratch, TestUser, random_hex, wait_for};

/// Fails unless root, or returns false when skipping is allowed.
fn need_root() -> bool {
    common::need_root("useradd, cgroups, mounts")
}

fn unique() -> u64 {
    common::unique()
}

/// What this file adds to the shared test user.
impl TestUser {
    /// A command run as this user with an empty environment (no HOME, no
    /// XDG_*): isolab must fall back to /tmp.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.uid(self.uid)
            .gid(self.gid)
            .env_clear()
            .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
            .current_dir("/")
            .stdin(Stdio::null());
        cmd
    }

    fn chown(&self, path: &Path) {
        std::os::unix::fs::lchown(path, Some(self.uid), Some(self.gid)).unwrap();
    }
}

fn scratch() -> Scratch {
    Scratch::new("trec")
}

/// A process with a unique command line, killed on drop.
struct Sleeper {
    child: Child,
    id: ProcessId,
}

impl Sleeper {
    fn start(mut cmd: Command) -> Sleeper {
        let child = cmd
            .arg(format!("3{}", unique()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let id = wait_for("the sleeper to exec", || {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            (comm.trim() == "sleep")
                .then(|| ProcessId::of(pid))
                .flatten()
        });
        Sleeper { child, id }
    }

    fn alive(&self) -> bool {
        self.id.is_alive()
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A record as isolab writes it, dead owner, in both name shapes cleanup
/// has ever read (`<stem>.0.json` ends in `.json` too).
fn planted(
    children: Vec<ProcessId>,
    cgroups: Vec<PathBuf>,
    mounts: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
) -> Vec<u8> {
    serde_json::to_vec(&Record {
        owner: Some(ProcessId {
            pid: 999_999_999,
            start_time: 0,
        }),
        children,
        cgroups,
        mounts,
        temp_dirs: dirs,
    })
    .unwrap()
}

/// Point 3: another user creates the victim's /tmp fallback registry first
/// (a dir of theirs, then a symlink to one) with a record naming the
/// victim's process and directory. The victim's `isolab cleanup` and
/// `isolab run` refuse, saying which path and what to do; the process and
/// the directory survive.
#[test]
fn a_registry_dir_planted_in_tmp_is_refused() {
    if !need_root() {
        return;
    }
    let scratch = scratch();
    let attacker = TestUser::new("treca");
    let victim = TestUser::new("trecv");
    let mut sleep = victim.command("sleep");
    sleep.arg0("sleep");
    let sleeper = Sleeper::start(sleep);
    let victim_dir = scratch.join("victim-dir");
    std::fs::create_dir(&victim_dir).unwrap();
    std::fs::write(victim_dir.join("keep"), b"mine").unwrap();
    victim.chown(&victim_dir);
    let record = planted(vec![sleeper.id], vec![], vec![], vec![victim_dir.clone()]);
    let fallback = PathBuf::from(format!("/tmp/isolab-{}", victim.uid));
    let attacker_dir = scratch.join("attacker-dir");

    for shape in ["dir", "symlink"] {
        let _ = std::fs::remove_dir_all(&fallback);
        let _ = std::fs::remove_file(&fallback);
        let _ = std::fs::remove_dir_all(&attacker_dir);
        let target = if shape == "dir" {
            fallback.clone()
        } else {
            std::os::unix::fs::symlink(&attacker_dir, &fallback).unwrap();
            attacker.chown(&fallback);
            attacker_dir.clone()
        };
        std::fs::create_dir(&target).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o777)).unwrap();
        let stem = format!("999999999-0-{}", random_hex());
        std::fs::write(target.join(format!("{stem}.0.json")), &record).unwrap();
        std::fs::write(target.join(format!("{stem}.lock")), b"").unwrap();
        attacker.chown(&target);
        for f in std::fs::read_dir(&target).unwrap() {
            attacker.chown(&f.unwrap().path());
        }

        let out = victim
            .command(scratch.isolab())
            .arg("cleanup")
            .output()
            .unwrap();
        let all = text(&out);
        assert!(
            sleeper.alive(),
            "{shape}: the victim's process was killed\n{all}"
        );
        assert!(
            victim_dir.join("keep").exists(),
            "{shape}: the victim's dir was removed\n{all}"
        );
        assert_ne!(
            out.status.code(),
            Some(0),
            "{shape}: cleanup used the planted dir\n{all}"
        );
        assert!(
            all.contains(&fallback.display().to_string()),
            "{shape}: {all}"
        );
        assert!(all.contains("remove it"), "{shape}: {all}");

        let out = victim
            .command(scratch.isolab())
            .args(["run", "--", "true"])
            .output()
            .unwrap();
        let all = text(&out);
        assert_ne!(
            out.status.code(),
            Some(0),
            "{shape}: ran with a planted registry\n{all}"
        );
        assert!(
            all.contains(&fallback.display().to_string()),
            "{shape}: {all}"
        );
        assert!(sleeper.alive(), "{shape}: {all}");
    }
}

/// Point 3: a minimal root another user planted in the victim's /tmp cache
/// fallback is never used (the attack ran the attacker's /bin/sh).
#[test]
fn a_minimal_root_planted_in_tmp_is_never_run() {
    if !need_root() {
        return;
    }
    let scratch = scratch();
    let attacker = TestUser::new("treca");
    let victim = TestUser::new("trecv");
    let cache = PathBuf::from(format!("/tmp/isolab-cache-{}", victim.uid));
    let root = cache.join(isolab::sys::minroot::root_name());
    // A working root (the host's busybox) with the attacker's marker in it.
    for sub in ["bin", "dev", "proc", "sys", "tmp", "etc", "root"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    for dev in ["null", "zero", "full", "random", "urandom", "tty"] {
        std::fs::write(root.join("dev").join(dev), b"").unwrap();
    }
    common::copy_executable("/bin/busybox", root.join("bin/busybox"));
    for applet in ["sh", "cat"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    let marker = format!("planted-by-the-attacker-{}", unique());
    std::fs::write(root.join("etc/planted"), &marker).unwrap();
    let walk = Command::new("chown")
        .args(["-R", &format!("{}:{}", attacker.uid, attacker.gid)])
        .arg(&cache)
        .status()
        .unwrap();
    assert!(walk.success());
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();

    let out = victim
        .command(scratch.isolab())
        .args([
            "run",
            "--user",
            "--mount",
            "--rootfs",
            "minimal",
            "--",
            "sh",
            "-c",
            "cat /etc/planted",
        ])
        .output()
        .unwrap();
    let all = text(&out);
    assert!(!all.contains(&marker), "the attacker's root was run\n{all}");
    assert_ne!(out.status.code(), Some(0), "{all}");
    assert!(all.contains(&cache.display().to_string()), "{all}");
    assert!(all.contains("owned by uid"), "{all}");
}

/// Point 3: a FIFO in place of progress.json never blocks, and a progress
/// directory of another user is not read.
#[test]
fn progress_is_read_only_from_our_own_regular_file() {
    if !need_root() {
        return;
    }
    use isolab::lessons::progress::Progress;
    let scratch = scratch();
    let dir = scratch.join("state");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let fifo = dir.join("progress.json");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let path = fifo.clone();
    std::thread::spawn(move || {
        let _ = tx.send(Progress::load(&path));
    });
    let loaded = match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(l) => l,
        Err(_) => {
            // Unblock the reader before failing.
            let _ = std::fs::OpenOptions::new().write(true).open(&fifo);
            panic!("Progress::load blocked on a FIFO");
        }
    };
    assert_eq!(loaded.0, Progress::default());
    assert!(loaded.1.unwrap().contains("not a regular file"));

    // A directory (and file) of another user: not read, not written.
    let attacker = TestUser::new("treca");
    let theirs = scratch.join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    let file = theirs.join("progress.json");
    std::fs::write(&file, br#"{"lessons":{"01-processes":3}}"#).unwrap();
    attacker.chown(&theirs);
    attacker.chown(&file);
    let (p, note) = Progress::load(&file);
    assert_eq!(p, Progress::default());
    assert!(note.unwrap().contains("owned by uid"));
    assert!(Progress::default().save(&file).is_err());
    assert_eq!(
        std::fs::read(&file).unwrap(),
        br#"{"lessons":{"01-processes":3}}"#
    );
}

/// The memory hierarchy's mount (v1 memory or v2).
fn cgroup_mount() -> PathBuf {
    isolab::sys::cgroup::MemoryHierarchy::detect()
        .expect("a memory cgroup hierarchy")
        .mount
}

/// Point 4: a well-formed record of a dead owner in isolab's own registry,
/// naming an unrelated process, an arbitrary bind mount, an arbitrary
/// directory and a cgroup with an `isolab` component that is not directly
/// under isolab's parent: `isolab cleanup` leaves all of them alone and
/// says so.
#[test]
fn cleanup_leaves_alone_what_a_record_cannot_prove() {
    if !need_root() {
        return;
    }
    let scratch = scratch();
    // An unrelated process (started after the record's "owner", by anyone).
    let mut sleep = Command::new("sleep");
    sleep.arg0("sleep");
    let sleeper = Sleeper::start(sleep);
    // An arbitrary bind mount.
    let src = scratch.join("src");
    let mnt = scratch.join("mnt");
    std::fs::create_dir(&src).unwrap();
    std::fs::create_dir(&mnt).unwrap();
    std::fs::write(src.join("seen"), b"x").unwrap();
    nix::mount::mount(
        Some(&src),
        &mnt,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .unwrap();
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
        }
    }
    let _unmount = Unmount(mnt.clone());
    // An arbitrary directory.
    let victim_dir = scratch.join("victim-dir");
    std::fs::create_dir(&victim_dir).unwrap();
    std::fs::write(victim_dir.join("keep"), b"x").unwrap();
    // A cgroup with an `isolab` component, not directly under the parent,
    // with a process of ours in it.
    let outer = cgroup_mount().join(format!("trec-{}", unique()));
    let foreign_cg = outer.join("isolab").join("1-2-foreign");
    std::fs::create_dir_all(&foreign_cg).unwrap();
    struct RemoveCg(PathBuf, PathBuf);
    impl Drop for RemoveCg {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(&self.0);
            let _ = std::fs::remove_dir(self.0.parent().unwrap());
            let _ = std::fs::remove_dir(&self.1);
        }
    }
    // Declared before the member: dropped (rmdir) after it is killed and reaped.
    let _cg_guard = RemoveCg(foreign_cg.clone(), outer.clone());
    let mut member_cmd = Command::new("sleep");
    member_cmd.arg0("sleep");
    let member = Sleeper::start(member_cmd);
    std::fs::write(foreign_cg.join("cgroup.procs"), member.id.pid.to_string()).unwrap();

    let registry = isolab::sys::registry::registry_dir();
    std::fs::create_dir_all(&registry).unwrap();
    let stem = format!("999999999-0-{}", random_hex());
    let record_path = registry.join(format!("{stem}.0.json"));
    let lock_path = registry.join(format!("{stem}.lock"));
    struct RemoveFiles(Vec<PathBuf>);
    impl Drop for RemoveFiles {
        fn drop(&mut self) {
            for f in &self.0 {
                let _ = std::fs::remove_file(f);
            }
        }
    }
    let _files = RemoveFiles(vec![record_path.clone(), lock_path.clone()]);
    std::fs::write(&lock_path, b"").unwrap();
    std::fs::set_permissions(&lock_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let record = planted(
        vec![sleeper.id],
        vec![foreign_cg.clone()],
        vec![mnt.clone()],
        vec![victim_dir.clone()],
    );
    std::fs::write(&record_path, &record).unwrap();
    std::fs::set_permissions(&record_path, std::fs::Permissions::from_mode(0o600)).unwrap();

    let out = Command::new(ISOLAB).arg("cleanup").output().unwrap();
    let all = text(&out);
    assert!(sleeper.alive(), "an unrelated process was killed\n{all}");
    assert!(
        member.alive(),
        "a foreign cgroup's member was killed\n{all}"
    );
    assert!(foreign_cg.exists(), "a foreign cgroup was removed\n{all}");
    assert!(
        mnt.join("seen").exists(),
        "an arbitrary mount was detached\n{all}"
    );
    assert!(
        victim_dir.join("keep").exists(),
        "an arbitrary dir was removed\n{all}"
    );
    assert_eq!(out.status.code(), Some(0), "{all}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for named in [
        format!("process {}", sleeper.id.pid),
        format!("mount {}", mnt.display()),
        format!("temp dir {}", victim_dir.display()),
        format!("cgroup {}", foreign_cg.display()),
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("left alone: ") && l.contains(&named)),
            "no note for {named}\n{all}"
        );
    }
}

/// Point 4: a record that is not a regular file of ours (a FIFO) or has a
/// field isolab never writes is not acted on, and cleanup does not hang.
#[test]
fn cleanup_refuses_records_of_another_shape() {
    if !need_root() {
        return;
    }
    let mut sleep = Command::new("sleep");
    sleep.arg0("sleep");
    let sleeper = Sleeper::start(sleep);
    let registry = isolab::sys::registry::registry_dir();
    std::fs::create_dir_all(&registry).unwrap();
    let stem = format!("999999999-0-{}", random_hex());
    let odd = registry.join(format!("{stem}.0.json"));
    let fifo = registry.join(format!("{stem}.1.json"));
    let lock = registry.join(format!("{stem}.lock"));
    struct RemoveFiles(Vec<PathBuf>);
    impl Drop for RemoveFiles {
        fn drop(&mut self) {
            for f in &self.0 {
                let _ = std::fs::remove_file(f);
            }
        }
    }
    let _files = RemoveFiles(vec![odd.clone(), fifo.clone(), lock.clone()]);
    std::fs::write(&lock, b"").unwrap();
    let mut value = serde_json::to_value(Record {
        owner: Some(ProcessId {
            pid: 999_999_999,
            start_time: 0,
        }),
        children: vec![sleeper.id],
        ..Record::default()
    })
    .unwrap();
    value["kill_also"] = serde_json::json!([1]);
    std::fs::write(&odd, serde_json::to_vec(&value).unwrap()).unwrap();
    nix::unistd::mkfifo(
        &fifo,
        nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
    )
    .unwrap();
    let child = Command::new(ISOLAB)
        .arg("cleanup")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(o) => o.unwrap(),
        Err(_) => {
            // SAFETY: killing our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("isolab cleanup hung on a FIFO record");
        }
    };
    let all = text(&out);
    assert!(sleeper.alive(), "{all}");
    assert!(all.contains("not a regular file"), "{all}");
    assert!(all.contains("not a record isolab wrote"), "{all}");
}

/// Point 4: `isolab run --memory` in another PID namespace is alive, though
/// its PID and start time mean nothing on the host: `isolab cleanup` on the
/// host must not kill its command (nor sweep its cgroup).
#[test]
fn an_isolab_in_another_pid_namespace_is_not_taken_for_dead() {
    if !need_root() {
        return;
    }
    let scratch = scratch();
    let tag = format!("4{}", unique());
    let mut unshare = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(scratch.isolab())
        .args(["run", "--memory", "48M", "--", "sleep", &tag])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let guard = Kill(&mut unshare);
    let sleep = wait_for(
        "the sleep inside the PID namespace, in an isolab cgroup",
        || {
            for entry in std::fs::read_dir("/proc").ok()?.flatten() {
                let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                    continue;
                };
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                if cmdline != format!("sleep\0{tag}\0").as_bytes() {
                    continue;
                }
                let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
                if cg.contains("/isolab/") {
                    return ProcessId::of(pid);
                }
            }
            None
        },
    );
    for _ in 0..2 {
        let out = Command::new(ISOLAB).arg("cleanup").output().unwrap();
        assert!(
            sleep.is_alive(),
            "cleanup killed a live isolab's command\n{}",
            text(&out)
        );
    }
    drop(guard);
    // What the dead isolab left (its record and cgroup) is ours to tidy now.
    wait_for("the sleep to die with its namespace", || {
        (!sleep.is_alive()).then_some(())
    });
    let out = Command::new(ISOLAB).arg("cleanup").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// Point 9: a run whose record cannot be written (an unwritable registry)
/// refuses to start the command, with an error naming the registry.
#[test]
fn a_run_that_cannot_be_recorded_does_not_start() {
    if !need_root() {
        return;
    }
    let scratch = scratch();
    let victim = TestUser::new("trecv");
    let home = scratch.join("home");
    let run = home.join("run");
    let registry = run.join("isolab");
    std::fs::create_dir_all(&registry).unwrap();
    for d in [&home, &run, &registry] {
        victim.chown(d);
    }
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    // Ours and closed to others, but not writable: no record can be made.
    std::fs::set_permissions(&registry, std::fs::Permissions::from_mode(0o500)).unwrap();
    let marker = home.join("ran");
    let out = victim
        .command(scratch.isolab())
        .env("XDG_RUNTIME_DIR", &run)
        .args(["run", "--", "sh", "-c"])
        .arg(format!("touch {}", marker.display()))
        .output()
        .unwrap();
    let all = text(&out);
    assert!(!marker.exists(), "the command ran unrecorded\n{all}");
    assert_ne!(out.status.code(), Some(0), "{all}");
    assert!(all.contains(&registry.display().to_string()), "{all}");
}

/// Point 9: after `kill -9` of an `isolab run --memory`, `isolab cleanup`
/// removes the run's cgroup and, with its last child gone, the empty
/// `isolab` parent (rmdir only succeeds on an empty one: the parent may
/// stay only while another isolab's cgroup is in it).
#[test]
fn cleanup_after_kill_9_removes_the_empty_parent_cgroup() {
    if !need_root() {
        return;
    }
    let tag = format!("5{}", unique());
    let run = Command::new(ISOLAB)
        .args(["run", "--memory", "48M", "--", "sleep", &tag])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let owner = run.id() as i32;
    struct KillOnDrop(Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut run = KillOnDrop(run);
    let registry = isolab::sys::registry::registry_dir();
    let cgroup = wait_for("the run to record its cgroup and child", || {
        isolab::sys::registry::records_of(&registry, owner)
            .into_iter()
            .find(|r| !r.children.is_empty() && r.cgroups.len() == 1)
            .map(|r| r.cgroups[0].clone())
    });
    run.0.kill().unwrap(); // SIGKILL
    run.0.wait().unwrap();
    let out = Command::new(ISOLAB).arg("cleanup").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!cgroup.exists(), "cgroup left: {}", cgroup.display());
    let parent = cgroup.parent().unwrap();
    let others = std::fs::read_dir(parent).map(|rd| {
        rd.flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .count()
    });
    assert!(
        !matches!(others, Ok(0)),
        "the empty parent {} was left",
        parent.display()
    );
}
