//! The same reader pointed at a fixture proc root in a temp dir.

mod common;
use isolab::sys::container::Runtime;
use isolab::sys::procs::ProcReader;
use std::fs;
use std::path::Path;

fn write_proc(root: &Path, pid: i32, ppid: i32, comm: &str, cgroup: &str) {
    let dir = root.join(pid.to_string());
    fs::create_dir_all(&dir).expect("mkdir");
    fs::write(
        dir.join("stat"),
        format!("{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194560 1 0 0 0 7 3 0 0 20 0 1 0 {} 1000 50 18446744073709551615\n", 100 + pid),
    )
    .expect("stat");
    fs::write(dir.join("cmdline"), format!("{comm}\0--flag\0")).expect("cmdline");
    fs::write(
        dir.join("status"),
        format!("Name:\t{comm}\nUid:\t1000\t1000\t1000\t1000\nNSpid:\t{pid}\n"),
    )
    .expect("status");
    fs::write(dir.join("cgroup"), cgroup).expect("cgroup");
}

#[test]
fn reads_a_fixture_proc_root() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    fs::write(root.join("stat"), "cpu 1 2 3\nbtime 1700000000\n").expect("stat");
    fs::create_dir(root.join("self")).expect("non-pid entries are ignored");
    write_proc(root, 1, 0, "init", "0::/init.scope\n");
    write_proc(root, 7, 1, "x) R 1 2", "0::/init.scope\n");
    let hex = "ab".repeat(32);
    write_proc(
        root,
        9,
        7,
        "nginx",
        &format!("0::/system.slice/docker-{hex}.scope\n"),
    );

    let mut reader = ProcReader::new(root).expect("reader");
    let snap = reader.snapshot().expect("snapshot");
    assert_eq!(snap.boot_time, 1_700_000_000);
    let pids: Vec<i32> = snap.procs.iter().map(|p| p.pid).collect();
    assert_eq!(pids, vec![1, 7, 9]);
    let hostile = snap.get(7).expect("7");
    assert_eq!(hostile.facts.comm, "x) R 1 2");
    assert_eq!(hostile.ppid, 1);
    assert_eq!(hostile.cpu_ticks, 10);
    assert_eq!(hostile.facts.uid, Some(1000));
    assert_eq!(
        hostile.facts.cmdline.as_deref(),
        Some(&["x) R 1 2".to_string(), "--flag".to_string()][..])
    );
    // No ns directory in the fixture: ids are unknown, not an error.
    assert_eq!(hostile.facts.ns.get(isolab::sys::ns::NsKind::Pid), None);
    let nginx = snap.get(9).expect("9");
    let c = nginx.facts.container.as_ref().expect("container");
    assert_eq!(c.runtime, Runtime::Docker);
    assert_eq!(c.short_id(), &hex[..12]);

    // A process vanishing between snapshots is simply gone.
    fs::remove_dir_all(root.join("7")).expect("rm");
    let snap = reader.snapshot().expect("second snapshot");
    assert!(snap.get(7).is_none());
    assert!(snap.get(9).is_some());
}
