//! The /proc reader over a fixture proc root in a temp dir: the same code
//! that reads the real kernel, on files whose every byte we chose.

mod common;
use isolab::sys::container::Runtime;
use isolab::sys::ns::NsKind;
use isolab::sys::procs::{ProcError, ProcReader, read_process};
use isolab::sys::tree;
use std::collections::HashSet;
use std::os::unix::fs::symlink;
use std::path::Path;

const BOOT: u64 = 1_764_000_000;

/// A stat line with the given fields (utime and start time vary per test).
fn stat_line(pid: i32, comm: &str, ppid: i32, utime: u64, start: u64) -> String {
    format!(
        "{pid} ({comm}) S {ppid} {pid} {pid} 34817 -1 4194560 10 0 0 0 {utime} 2 0 0 20 0 1 0 {start} 1000000 50 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
    )
}

struct FakeProc<'a> {
    pid: i32,
    comm: &'a str,
    ppid: i32,
    argv: &'a [&'a str],
    uid: u32,
    nspid: &'a str,
    /// The net namespace inode; the other kinds share host-like ids.
    net: u64,
    pid_ns: u64,
    cgroup: &'a str,
}

fn write_proc(root: &Path, p: &FakeProc) {
    let dir = root.join(p.pid.to_string());
    std::fs::create_dir_all(dir.join("ns")).unwrap();
    std::fs::write(dir.join("stat"), stat_line(p.pid, p.comm, p.ppid, 5, 1000)).unwrap();
    let mut cmdline = Vec::new();
    for a in p.argv {
        cmdline.extend_from_slice(a.as_bytes());
        cmdline.push(0);
    }
    std::fs::write(dir.join("cmdline"), cmdline).unwrap();
    std::fs::write(
        dir.join("status"),
        format!(
            "Name:\t{}\nUid:\t{}\t{}\t{}\t{}\nNSpid:\t{}\nThreads:\t1\n",
            p.comm, p.uid, p.uid, p.uid, p.uid, p.nspid
        ),
    )
    .unwrap();
    std::fs::write(dir.join("cgroup"), p.cgroup).unwrap();
    for (kind, id) in [
        ("pid", p.pid_ns),
        ("pid_for_children", p.pid_ns),
        ("mnt", 4026531832),
        ("net", p.net),
        ("ipc", 4026531839),
        ("uts", 4026531838),
        ("user", 4026531837),
        ("cgroup", 4026531835),
        ("time", 4026531834),
        ("time_for_children", 4026531834),
    ] {
        symlink(format!("{kind}:[{id}]"), dir.join("ns").join(kind)).unwrap();
    }
}

/// Bumps the fork counter (`processes` in the fixture's stat), as the
/// kernel does on every fork. A reader skips listing the root while the
/// counter stands still; a fixture that adds or removes a process bumps it
/// (a removed fixture file, unlike an exited process's stat, would stay
/// readable through the reader's kept fd).
fn count_a_fork(root: &Path) {
    let text = std::fs::read_to_string(root.join("stat")).unwrap();
    let forks: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("processes "))
        .unwrap()
        .parse()
        .unwrap();
    let text = text.replace(
        &format!("processes {forks}\n"),
        &format!("processes {}\n", forks + 1),
    );
    std::fs::write(root.join("stat"), text).unwrap();
}

/// PID 45, `late`, a child of 40 on the host: a process that appears
/// after the reader's first look.
fn write_late_child(root: &Path) {
    write_proc(
        root,
        &FakeProc {
            pid: 45,
            comm: "late",
            ppid: 40,
            argv: &["late"],
            uid: 0,
            nspid: "45",
            net: 4026531833,
            pid_ns: 4026531836,
            cgroup: "0::/user.slice\n",
        },
    );
}

const DOCKER_ID: &str = "4c6b5f3a9e2d1c0b8a7f6e5d4c3b2a190817263544536271809a8b7c6d5e4f3a";

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(&format!("isolab-procs-fixture-{}-", std::process::id()))
        .tempdir()
        .unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("stat"),
        format!("cpu  1 2 3 4\nbtime {BOOT}\nprocesses 5\n"),
    )
    .unwrap();
    std::fs::create_dir(root.join("self")).unwrap(); // not a PID: ignored
    let host = 4026531833;
    let host_pid = 4026531836;
    write_proc(
        root,
        &FakeProc {
            pid: 1,
            comm: "init",
            ppid: 0,
            argv: &["/sbin/init"],
            uid: 0,
            nspid: "1",
            net: host,
            pid_ns: host_pid,
            cgroup: "0::/init.scope\n",
        },
    );
    write_proc(
        root,
        &FakeProc {
            pid: 40,
            comm: "x) R 1 2 (y",
            ppid: 1,
            argv: &["evil"],
            uid: 1000,
            nspid: "40",
            net: host,
            pid_ns: host_pid,
            cgroup: "0::/user.slice\n",
        },
    );
    write_proc(
        root,
        &FakeProc {
            pid: 50,
            comm: "containerd-shim",
            ppid: 1,
            argv: &["containerd-shim"],
            uid: 0,
            nspid: "50",
            net: host,
            pid_ns: host_pid,
            cgroup: "0::/system.slice/containerd.service\n",
        },
    );
    write_proc(
        root,
        &FakeProc {
            pid: 51,
            comm: "nginx",
            ppid: 50,
            argv: &["nginx", "-g", "daemon off;"],
            uid: 101,
            nspid: "51\t1",
            net: 4026532300,
            pid_ns: 4026532299,
            cgroup: &format!(
                "4:memory:/docker/{DOCKER_ID}\n0::/system.slice/docker-{DOCKER_ID}.scope\n"
            ),
        },
    );
    // A PID directory without a stat file: the process vanished mid-scan.
    std::fs::create_dir(root.join("60")).unwrap();
    // A process whose ns "directory" cannot be read: the reason is kept.
    write_proc(
        root,
        &FakeProc {
            pid: 70,
            comm: "locked",
            ppid: 1,
            argv: &[],
            uid: 0,
            nspid: "70",
            net: host,
            pid_ns: host_pid,
            cgroup: "0::/\n",
        },
    );
    std::fs::remove_dir_all(root.join("70/ns")).unwrap();
    std::fs::write(root.join("70/ns"), "not a directory").unwrap();
    dir
}

#[test]
fn reads_every_field_from_a_fixture_root() {
    let dir = fixture();
    let mut reader = ProcReader::new(dir.path()).unwrap();
    let snap = reader.snapshot().unwrap();
    let pids: Vec<i32> = snap.procs.iter().map(|p| p.pid).collect();
    assert_eq!(
        pids,
        vec![1, 40, 50, 51, 70],
        "60 vanished, `self` is no PID"
    );
    assert_eq!(snap.boot_time, BOOT);

    let evil = snap.get(40).unwrap();
    assert_eq!(evil.facts.comm, "x) R 1 2 (y");
    assert_eq!(evil.state, 'S');
    assert_eq!(evil.ppid, 1);
    assert_eq!(evil.tty, "pts/1");
    assert_eq!(evil.facts.uid, Some(1000));
    assert_eq!(evil.cpu_ticks, 7);
    assert_eq!(evil.start_ticks, 1000);

    let nginx = snap.get(51).unwrap();
    assert_eq!(nginx.facts.nspid, vec![51, 1]);
    assert_eq!(
        nginx.facts.cmdline.as_deref().unwrap(),
        ["nginx", "-g", "daemon off;"]
    );
    assert_eq!(nginx.facts.ns.get(NsKind::Net), Some(4026532300));
    let mut diff = nginx.facts.ns.differing(&snap.get(1).unwrap().facts.ns);
    diff.sort();
    assert_eq!(diff, vec![NsKind::Pid, NsKind::Net]);
    let c = nginx.facts.container.as_ref().unwrap();
    assert_eq!(c.runtime, Runtime::Docker);
    assert_eq!(c.id, DOCKER_ID);
    assert_eq!(nginx.facts.cgroups.len(), 2);
    assert!(nginx.facts.cgroups[1].is_v2());

    let locked = snap.get(70).unwrap();
    assert_eq!(locked.facts.ns.get(NsKind::Pid), None);
    assert!(
        locked
            .facts
            .unreadable
            .iter()
            .any(|u| u.what == "ns" && !u.reason.is_empty())
    );
    assert_eq!(locked.command_line(), "[locked]");

    let rows = tree::build(&snap, &HashSet::new());
    let order: Vec<i32> = rows.iter().map(|r| r.pid).collect();
    assert_eq!(order, vec![1, 40, 50, 51, 70]);
    assert_eq!(rows[3].art, " |   \\_ ");
}

#[test]
fn caches_static_facts_per_pid_and_start_time() {
    let dir = fixture();
    let root = dir.path();
    let mut reader = ProcReader::new(root).unwrap();
    reader.snapshot().unwrap();

    // Same process (same start time and comm): stat is re-read, the cached
    // cmdline is kept even though the file changed.
    std::fs::write(root.join("40/cmdline"), b"changed\0").unwrap();
    std::fs::write(
        root.join("40/stat"),
        stat_line(40, "x) R 1 2 (y", 1, 500, 1000),
    )
    .unwrap();
    let snap = reader.snapshot().unwrap();
    let p = snap.get(40).unwrap();
    assert_eq!(p.facts.cmdline.as_deref().unwrap(), ["evil"]);
    assert_eq!(p.cpu_ticks, 502);
    assert!(
        p.cpu_percent > 0.0,
        "495 ticks used since the last snapshot"
    );

    // A reused PID (new start time) is a new process: everything is re-read.
    std::fs::write(
        root.join("40/stat"),
        stat_line(40, "x) R 1 2 (y", 1, 1, 2000),
    )
    .unwrap();
    let snap = reader.snapshot().unwrap();
    let p = snap.get(40).unwrap();
    assert_eq!(p.facts.cmdline.as_deref().unwrap(), ["changed"]);
    assert_eq!(p.cpu_percent, 0.0, "no baseline for a new process");

    // An exec (same start time, new comm) re-reads the static facts too.
    std::fs::write(root.join("40/cmdline"), b"after-exec\0").unwrap();
    std::fs::write(root.join("40/stat"), stat_line(40, "newname", 1, 1, 2000)).unwrap();
    let snap = reader.snapshot().unwrap();
    assert_eq!(
        snap.get(40).unwrap().facts.cmdline.as_deref().unwrap(),
        ["after-exec"]
    );

    // A process that exits disappears from the next snapshot.
    std::fs::remove_dir_all(root.join("51")).unwrap();
    count_a_fork(root);
    let snap = reader.snapshot().unwrap();
    assert!(snap.get(51).is_none());
}

#[test]
fn read_process_names_a_missing_pid() {
    let dir = fixture();
    let p = read_process(dir.path(), 51).unwrap();
    assert_eq!(p.facts.comm, "nginx");
    assert!(matches!(
        read_process(dir.path(), 60),
        Err(ProcError::Gone(60))
    ));
    let err = read_process(dir.path(), 999).unwrap_err();
    assert!(err.to_string().contains("999"), "{err}");
    assert!(ProcReader::new(dir.path().join("nope")).is_err());
}

#[test]
fn refresh_updates_an_owned_snapshot_in_place_and_shares_cgroup_lists() {
    let dir = fixture();
    let root = dir.path();
    // Two processes with identical cgroup files share one parsed list.
    std::fs::write(root.join("40/cgroup"), "0::/user.slice\n").unwrap();
    std::fs::write(root.join("70/cgroup"), "0::/user.slice\n").unwrap();
    let mut reader = ProcReader::new(root).unwrap();
    let mut snap = isolab::sys::procs::Snapshot::default();
    reader.refresh(&mut snap).unwrap();
    assert_eq!(snap.procs.len(), 5);
    let (a, b) = (snap.get(40).unwrap(), snap.get(70).unwrap());
    assert!(a.facts.cgroups.same_list(&b.facts.cgroups));
    assert_eq!(a.facts.cgroups[0].path, "/user.slice");
    assert_eq!(snap.boot_time, BOOT);

    // A new process appears, one exits, one changes state: all in place.
    std::fs::remove_dir_all(root.join("51")).unwrap();
    std::fs::write(
        root.join("40/stat"),
        stat_line(40, "x) R 1 2 (y", 1, 9, 1000).replace(") S ", ") R "),
    )
    .unwrap();
    write_late_child(root);
    count_a_fork(root);
    reader.refresh(&mut snap).unwrap();
    let pids: Vec<i32> = snap.procs.iter().map(|p| p.pid).collect();
    assert_eq!(pids, vec![1, 40, 45, 50, 70]);
    assert_eq!(snap.get(40).unwrap().state, 'R');
    assert_eq!(snap.get(45).unwrap().ppid, 40);
    assert!(
        snap.get(45)
            .unwrap()
            .facts
            .cgroups
            .same_list(&snap.get(70).unwrap().facts.cgroups)
    );
}

#[test]
fn a_recycled_snapshot_is_refreshed_instead_of_copied() {
    let dir = fixture();
    let root = dir.path();
    let mut reader = ProcReader::new(root).unwrap();
    let first = reader.snapshot().unwrap();
    let cmd_ptr = first.get(51).unwrap().facts.cmdline.as_ref().unwrap()[0].as_ptr();
    reader.recycle(first);
    std::fs::write(
        root.join("40/stat"),
        stat_line(40, "x) R 1 2 (y", 1, 300, 1000),
    )
    .unwrap();
    let second = reader.snapshot().unwrap();
    // The very same allocation came back, brought up to date.
    assert_eq!(
        second.get(51).unwrap().facts.cmdline.as_ref().unwrap()[0].as_ptr(),
        cmd_ptr
    );
    assert_eq!(second.get(40).unwrap().cpu_ticks, 302);
    assert!(second.get(40).unwrap().cpu_percent > 0.0);
    // Without a recycled one, the reader still answers (from a fresh read).
    let third = reader.snapshot().unwrap();
    assert_eq!(third.procs.len(), second.procs.len());
}

#[test]
fn an_unchanged_fork_counter_spares_listing_the_root() {
    let dir = fixture();
    let root = dir.path();
    let mut reader = ProcReader::new(root).unwrap();
    assert_eq!(reader.snapshot().unwrap().procs.len(), 5);
    // A directory appears but no fork was counted: no process can be new,
    // so the reader does not list the root (it only re-reads what it knows).
    write_late_child(root);
    assert!(reader.snapshot().unwrap().get(45).is_none());
    // Once the counter moves, the next refresh lists and finds it.
    count_a_fork(root);
    assert!(reader.snapshot().unwrap().get(45).is_some());
}

#[test]
fn the_focused_process_is_re_read_on_every_refresh() {
    let dir = fixture();
    let root = dir.path();
    let mut reader = ProcReader::new(root).unwrap();
    reader.snapshot().unwrap();
    // Both change their command line without an exec (setproctitle).
    std::fs::write(root.join("40/cmdline"), b"retitled\0").unwrap();
    std::fs::write(root.join("50/cmdline"), b"retitled\0").unwrap();
    reader.set_focus(Some(40));
    let snap = reader.snapshot().unwrap();
    assert_eq!(
        snap.get(40).unwrap().facts.cmdline.as_deref().unwrap(),
        ["retitled"]
    );
    assert_ne!(
        snap.get(50).unwrap().facts.cmdline.as_deref().unwrap(),
        ["retitled"]
    );
}
