//! The process explorer against the real kernel: a known tree, some of it
//! in new namespaces, found with the right parents, namespace differences
//! and NSpid.

mod common;
mod procs_support;

use isolab::sys::ns::NsKind;
use isolab::sys::procs::{ProcReader, Snapshot, read_process};
use isolab::sys::tree;
use procs_support::{Spawned, skip_unless_root, wait_for};
use std::collections::HashSet;
use std::path::Path;

fn find_by_arg(s: &Snapshot, arg: &str) -> Option<i32> {
    s.procs
        .iter()
        .find(|p| {
            p.facts
                .cmdline
                .as_ref()
                .is_some_and(|a| a.iter().any(|x| x == arg))
                && p.facts.comm == "sleep"
        })
        .map(|p| p.pid)
}

#[test]
fn finds_a_known_tree_with_namespaces_and_nspid() {
    if skip_unless_root() {
        return;
    }
    let tag = std::process::id();
    let plain = format!("1{tag}1");
    let inner = format!("1{tag}2");
    // One plain child, and a subtree in new pid+uts+net namespaces whose
    // first process (sh) is PID 1 inside and starts a sleep.
    let root = Spawned::sh(&format!(
        "sleep {plain} & unshare --fork --pid --uts --net sh -c 'sleep {inner}; true' & wait"
    ));
    let mut reader = ProcReader::new("/proc").expect("reader");
    let snap = wait_for(10, "both sleeps", || {
        let s = reader.snapshot().ok()?;
        (find_by_arg(&s, &plain).is_some() && find_by_arg(&s, &inner).is_some()).then_some(s)
    });
    let plain_pid = find_by_arg(&snap, &plain).expect("plain");
    let inner_pid = find_by_arg(&snap, &inner).expect("inner");
    let plain_p = snap.get(plain_pid).expect("plain proc");
    let inner_p = snap.get(inner_pid).expect("inner proc");
    let root_p = snap.get(root.pid()).expect("root proc");

    // Parents: plain sleep is the sh's child; the inner sleep descends from
    // the sh through unshare and the namespaced sh.
    assert_eq!(plain_p.ppid, root.pid());
    let chain = tree::ancestors(&snap, inner_pid);
    assert!(chain.contains(&root.pid()), "chain {chain:?}");
    assert!(chain.len() >= 4, "sleep <- sh <- unshare <- sh: {chain:?}");
    let rows = tree::build(&snap, &HashSet::new());
    let root_row = rows
        .iter()
        .position(|r| r.pid == root.pid())
        .expect("root row");
    let inner_row = rows
        .iter()
        .position(|r| r.pid == inner_pid)
        .expect("inner row");
    assert!(inner_row > root_row);
    assert!(rows[inner_row].depth > rows[root_row].depth);

    // Namespaces: exactly pid, uts and net differ (and pid_for_children).
    let differ = inner_p.facts.ns.differing(&root_p.facts.ns);
    assert_eq!(differ, vec![NsKind::Pid, NsKind::Net, NsKind::Uts]);
    assert!(plain_p.facts.ns.differing(&root_p.facts.ns).is_empty());

    // NSpid: the inner sleep is PID 2 inside (sh is 1), its host PID outside.
    assert_eq!(inner_p.facts.nspid.first(), Some(&inner_pid));
    assert_eq!(inner_p.facts.nspid.len(), 2, "{:?}", inner_p.facts.nspid);
    assert_eq!(inner_p.facts.nspid[1], 2);
    let inner_sh = snap.get(inner_p.ppid).expect("inner sh");
    assert_eq!(inner_sh.facts.nspid.last(), Some(&1));
    assert_eq!(plain_p.facts.nspid, vec![plain_pid]);
    assert!(
        plain_p.facts.unreadable.is_empty(),
        "{:?}",
        plain_p.facts.unreadable
    );
}

#[test]
fn hostile_comm_is_read_correctly_from_the_real_kernel() {
    if skip_unless_root() {
        return;
    }
    // A comm with a paren and fake fields: exec under that name via a symlink.
    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join("x) R 1 2");
    std::os::unix::fs::symlink("/bin/sleep", &link).expect("symlink");
    let tag = format!("2{}", std::process::id());
    let child = Spawned::sh(&format!("exec '{}' {tag}", link.display()));
    let p = wait_for(10, "the hostile process", || {
        let p = read_process(Path::new("/proc"), child.pid()).ok()?;
        (p.facts.comm != "sh").then_some(p)
    });
    assert_eq!(p.facts.comm, "x) R 1 2");
    assert_eq!(p.ppid, std::process::id() as i32);
    // Right after its exec the process may still be running towards its sleep.
    assert!(matches!(p.state, 'S' | 'R'), "state {}", p.state);
}

#[test]
fn a_vanished_pid_is_reported_as_gone() {
    let mut child = std::process::Command::new("true").spawn().expect("true");
    let pid = child.id() as i32;
    child.wait().expect("wait");
    let err = read_process(Path::new("/proc"), pid).expect_err("gone");
    assert!(
        err.to_string()
            .contains(&format!("no process with PID {pid}"))
    );
}

#[test]
fn cached_snapshots_see_a_namespace_change_without_exec() {
    if skip_unless_root() {
        return;
    }
    // unshare(1) without --fork changes its own namespaces, then execs:
    // the second snapshot must show the new uts namespace for that PID.
    let tag = format!("3{}", std::process::id());
    let child = Spawned::sh(&format!("sleep 0.5; exec unshare --uts sleep {tag}"));
    let mut reader = ProcReader::new("/proc").expect("reader");
    let before = reader.snapshot().expect("snap");
    let host_uts = before
        .get(child.pid())
        .and_then(|p| p.facts.ns.get(NsKind::Uts));
    assert!(host_uts.is_some());
    let after = wait_for(10, "the exec", || {
        let s = reader.snapshot().ok()?;
        let p = s.get(child.pid())?;
        (p.facts.comm == "sleep").then(|| p.facts.ns.get(NsKind::Uts))
    });
    assert_ne!(after, host_uts);
}

#[test]
fn a_long_lived_reader_drops_exits_and_finds_newcomers() {
    if skip_unless_root() {
        return;
    }
    // Refreshes may skip listing /proc while nothing forks; an exit must
    // still vanish from the next snapshot and a new process appear in it.
    let tag = format!("5{}", std::process::id());
    let mut reader = ProcReader::new("/proc").expect("reader");
    let first = Spawned::sh(&format!("exec sleep {tag}"));
    let pid = first.pid();
    wait_for(10, "the sleeper", || {
        let s = reader.snapshot().ok()?;
        (find_by_arg(&s, &tag) == Some(pid)).then_some(())
    });
    for _ in 0..3 {
        assert!(reader.snapshot().expect("snap").get(pid).is_some());
    }
    drop(first); // SIGKILL and reap: no fork on the way
    let s = reader.snapshot().expect("snap");
    assert!(s.get(pid).is_none(), "PID {pid} exited but is still listed");
    let second = Spawned::sh(&format!("exec sleep {tag}"));
    wait_for(10, "the newcomer", || {
        let s = reader.snapshot().ok()?;
        (find_by_arg(&s, &tag) == Some(second.pid())).then_some(())
    });
}

#[test]
fn uid_is_the_effective_uid_as_ps_shows_it() {
    if skip_unless_root() {
        return;
    }
    // Real uid 0, effective uid 65534: ps shows 65534 in its UID column.
    let tag = format!("9{}", std::process::id());
    let child = Spawned::sh(&format!("exec setpriv --euid 65534 sleep {tag}"));
    let mut reader = ProcReader::new("/proc").expect("reader");
    let uid = wait_for(10, "the setpriv'd sleep", || {
        let s = reader.snapshot().ok()?;
        let p = s.get(child.pid())?;
        (p.facts.comm == "sleep").then_some(p.facts.uid)
    });
    assert_eq!(uid, Some(65534));
    assert_eq!(
        read_process(Path::new("/proc"), child.pid())
            .expect("read")
            .facts
            .uid,
        Some(65534)
    );
}

#[test]
fn a_new_thread_is_not_taken_for_a_new_process() {
    if skip_unless_root() {
        return;
    }
    // Threads take PIDs from the same counter; a reader that looks up new
    // PIDs one by one must skip a thread (its /proc/TID opens fine).
    let mut reader = ProcReader::new("/proc").expect("reader");
    reader.snapshot().expect("snap");
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        tx.send(nix::unistd::gettid().as_raw()).expect("send");
        let _ = stop_rx.recv();
    });
    let tid = rx.recv().expect("tid");
    let s = reader.snapshot().expect("snap");
    assert!(s.get(tid).is_none(), "thread {tid} listed as a process");
    assert!(s.get(std::process::id() as i32).is_some());
    drop(stop_tx);
    thread.join().expect("join");
}
