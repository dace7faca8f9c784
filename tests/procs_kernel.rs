//! The /proc reader on the real kernel: a known process tree, some of it in
//! new PID/UTS/net namespaces, found with the right parents, namespace
//! differences and NSpid.

mod common;
#[path = "procs_own_support/mod.rs"]
mod procs_support;

use isolab::sys::ns::NsKind;
use isolab::sys::procs::{Pid, ProcError, ProcReader, read_process};
use isolab::sys::tree;
use procs_support::*;
use std::collections::HashSet;
use std::path::Path;

fn own_pid() -> Pid {
    std::process::id() as Pid
}

#[test]
fn finds_a_spawned_shell_and_its_sleeps_with_the_right_parents() {
    let shell = spawn_shell_with_two_sleeps();
    let sh = shell.pid();
    let mut reader = ProcReader::new("/proc").unwrap();
    let (snap, sleeps) = wait_for(&mut reader, "sh's two sleep children", |snap| {
        let kids: Vec<Pid> = children(snap, sh)
            .into_iter()
            .filter(|&k| snap.get(k).is_some_and(|p| p.facts.comm == "sleep"))
            .collect();
        (kids.len() == 2).then_some(kids)
    });

    let parent = snap.get(sh).unwrap();
    assert_eq!(parent.facts.comm, "sh");
    assert_eq!(parent.ppid, own_pid());
    assert_eq!(parent.pgid, sh, "the shell leads its own process group");
    assert_eq!(parent.facts.uid, Some(nix::unistd::getuid().as_raw()));
    let marker = 100_000 + std::process::id() % 100_000;
    let mut argv: Vec<Vec<String>> = sleeps
        .iter()
        .map(|&pid| snap.get(pid).unwrap().facts.cmdline.clone().unwrap())
        .collect();
    argv.sort();
    assert_eq!(
        argv,
        vec![
            vec!["sleep".to_string(), marker.to_string()],
            vec!["sleep".to_string(), (marker + 1).to_string()],
        ]
    );
    for &pid in &sleeps {
        let p = snap.get(pid).unwrap();
        assert_eq!(p.ppid, sh);
        assert_eq!(p.pgid, sh);
        assert!(matches!(p.state, 'S' | 'R'), "sleep state {}", p.state);
        assert_eq!(
            p.facts.nspid,
            vec![pid],
            "a host process has one NSpid level"
        );
        assert!(p.rss_bytes > 0);
        assert!(p.start_ticks >= parent.start_ticks);
        // The chain up: sleep -> sh -> this test -> ... -> the topmost process.
        let chain = tree::ancestors(&snap, pid);
        assert_eq!(&chain[..3], &[pid, sh, own_pid()]);
        assert_eq!(snap.get(*chain.last().unwrap()).unwrap().ppid, 0);
    }

    // In the tree, the sleeps come right after the shell, one level deeper.
    let rows = tree::build(&snap, &HashSet::new());
    let at = rows.iter().position(|r| r.pid == sh).unwrap();
    let below: Vec<Pid> = rows[at + 1..at + 3].iter().map(|r| r.pid).collect();
    assert_eq!(below, sleeps);
    assert!(rows[at + 1].art.ends_with(" \\_ "));
    assert_eq!(rows[at + 1].depth, rows[at].depth + 1);
    // Collapsing the shell hides exactly its two children.
    let collapsed = tree::build(&snap, &HashSet::from([sh]));
    assert_eq!(collapsed.len(), rows.len() - 2);
}

#[test]
fn finds_a_child_in_new_pid_uts_net_namespaces_with_its_nspid() {
    let unshare = spawn_namespaced_sleep();
    let outer = unshare.pid();
    let mut reader = ProcReader::new("/proc").unwrap();
    let (snap, inner) = wait_for(&mut reader, "the namespaced sleep", |snap| {
        children(snap, outer)
            .into_iter()
            .find(|&k| snap.get(k).is_some_and(|p| p.facts.comm == "sleep"))
    });
    let me = snap.get(own_pid()).unwrap();
    let outer_p = snap.get(outer).unwrap();
    let inner_p = snap.get(inner).unwrap();

    // host PID `inner` is PID 1 in its own PID namespace.
    assert_eq!(inner_p.facts.nspid, vec![inner, 1]);
    assert_eq!(outer_p.facts.nspid, vec![outer]);

    let mut differing = inner_p.facts.ns.differing(&me.facts.ns);
    differing.sort();
    assert_eq!(differing, vec![NsKind::Pid, NsKind::Net, NsKind::Uts]);
    for kind in NsKind::ISOLATING {
        assert!(
            inner_p.facts.ns.get(kind).is_some(),
            "{kind:?} readable as root"
        );
    }
    // unshare(2) moved only unshare's *children* into the new PID namespace.
    assert_eq!(
        outer_p.facts.ns.get(NsKind::Pid),
        me.facts.ns.get(NsKind::Pid)
    );
    assert_eq!(
        outer_p.facts.ns.get(NsKind::PidForChildren),
        inner_p.facts.ns.get(NsKind::Pid)
    );
    assert_ne!(
        outer_p.facts.ns.get(NsKind::Net),
        me.facts.ns.get(NsKind::Net)
    );

    // The one-process reader agrees with the snapshot.
    let single = read_process(Path::new("/proc"), inner).unwrap();
    assert_eq!(single.facts.nspid, vec![inner, 1]);
    assert_eq!(single.facts.ns, inner_p.facts.ns);
    assert_eq!(single.ppid, outer);
    assert!(single.facts.container.is_none());
}

#[test]
fn a_process_that_exited_is_gone_not_an_error() {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id() as Pid;
    child.wait().unwrap();
    match read_process(Path::new("/proc"), pid) {
        Err(ProcError::Gone(p)) => assert_eq!(p, pid),
        other => panic!("expected Gone for reaped PID {pid}, got {other:?}"),
    }
    let missing = impossible_pid();
    assert!(matches!(
        read_process(Path::new("/proc"), missing),
        Err(ProcError::Gone(p)) if p == missing
    ));
}

#[test]
fn cpu_percent_shows_a_busy_process() {
    let busy = spawn_group(&["sh", "-c", "while :; do :; done"]);
    let mut reader = ProcReader::new("/proc").unwrap();
    let (snap, pct) = wait_for(&mut reader, "the busy loop to use CPU", |snap| {
        snap.get(busy.pid())
            .map(|p| p.cpu_percent)
            .filter(|&pct| pct > 0.0)
    });
    assert!(pct <= 100.0 * 64.0, "one thread cannot use {pct}%");
    assert!(snap.ticks_per_sec > 0 && snap.boot_time > 1_000_000_000);
}
