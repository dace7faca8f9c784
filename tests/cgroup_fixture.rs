//! The cgroup code against fixtures in a temp dir: a fake /proc and fake
//! v1/v2 cgroup mounts. Exercises parsing and each version's write syntax
//! without a kernel; tests/cgroup_real.rs does the same on real kernels.

mod common;
use isolab::sys::cgroup::{
    CgroupMounts, CgroupVersion, Layout, Limit, MemoryHierarchy, read_memory, remove_leftovers_in,
    report, set_memory_limit,
};
use std::fs;
use std::path::Path;

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, text).expect("write fixture");
}

/// A v1 memory cgroup as the kernel lays it out.
fn v1_cgroup(dir: &Path, usage: u64, limit: &str) {
    write(&dir.join("memory.usage_in_bytes"), &format!("{usage}\n"));
    write(&dir.join("memory.limit_in_bytes"), &format!("{limit}\n"));
    write(&dir.join("memory.max_usage_in_bytes"), "50000000\n");
    write(&dir.join("memory.failcnt"), "3\n");
    write(
        &dir.join("memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
    );
    write(
        &dir.join("memory.memsw.usage_in_bytes"),
        &format!("{}\n", usage + 4096),
    );
    write(
        &dir.join("memory.memsw.limit_in_bytes"),
        "9223372036854771712\n",
    );
}

fn v2_cgroup(dir: &Path) {
    write(&dir.join("memory.current"), "1048576\n");
    write(&dir.join("memory.max"), "max\n");
    write(&dir.join("memory.peak"), "2097152\n");
    write(
        &dir.join("memory.events"),
        "low 0\nhigh 1\nmax 7\noom 2\noom_kill 1\noom_group_kill 0\n",
    );
    write(&dir.join("memory.swap.current"), "0\n");
    write(&dir.join("memory.swap.max"), "max\n");
    write(&dir.join("memory.high"), "max\n");
    write(&dir.join("memory.low"), "0\n");
    write(&dir.join("memory.min"), "0\n");
}

#[test]
fn hybrid_host_report_from_fixtures() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (proc, mem, uni) = (
        tmp.path().join("proc"),
        tmp.path().join("memory"),
        tmp.path().join("unified"),
    );
    write(
        &proc.join("42/cgroup"),
        "4:memory:/isolab/1-2-lab\n1:name=systemd:/x.scope\n0::/x.scope\n",
    );
    v1_cgroup(&mem.join("isolab/1-2-lab"), 30 << 20, "33554432");
    write(&uni.join("cgroup.controllers"), "hugetlb\n");
    let mountinfo = format!(
        "35 31 0:32 / {} rw - cgroup cgroup rw,memory\n\
         40 31 0:37 / /nonexistent/systemd rw - cgroup cgroup rw,xattr,name=systemd\n\
         41 31 0:38 / {} rw - cgroup2 cgroup2 rw\n",
        mem.display(),
        uni.display()
    );
    let mounts = CgroupMounts::parse(&mountinfo);
    assert_eq!(mounts.layout(), Layout::Hybrid);
    let r = report(&proc, 42, &mounts).expect("report");
    assert_eq!(r.cgroups.len(), 3);
    assert_eq!(
        r.cgroups[2].dir.as_deref(),
        Some(uni.join("x.scope").as_path())
    );
    let m = r.memory.expect("memory cgroup");
    assert_eq!(m.hierarchy, MemoryHierarchy::v1(&mem));
    assert!(m.created_by_isolab);
    let s = m.stats.expect("stats");
    assert_eq!(s.usage, 30 << 20);
    assert_eq!(s.limit, Limit::Bytes(32 << 20));
    assert_eq!(
        (s.peak, s.failcnt, s.oom_kills),
        (Some(50_000_000), Some(3), Some(2))
    );
    assert_eq!(s.swap_usage, Some(4096));
    assert_eq!(s.swap_limit, Some(Limit::Max));
}

#[test]
fn pure_v2_report_and_the_root_cgroup() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (proc, cg) = (tmp.path().join("proc"), tmp.path().join("cg"));
    write(&proc.join("7/cgroup"), "0::/app.slice\n");
    write(&proc.join("1/cgroup"), "0::/\n");
    write(&cg.join("cgroup.controllers"), "cpu memory pids\n");
    v2_cgroup(&cg.join("app.slice"));
    let mounts = CgroupMounts::parse(&format!(
        "29 23 0:26 / {} rw - cgroup2 cgroup2 rw,nsdelegate\n",
        cg.display()
    ));
    assert_eq!(mounts.layout(), Layout::V2);
    let m = report(&proc, 7, &mounts)
        .expect("report")
        .memory
        .expect("memory");
    assert!(!m.created_by_isolab, "app.slice is not isolab's");
    let s = m.stats.expect("stats");
    assert_eq!(s.version, CgroupVersion::V2);
    assert_eq!(s.limit, Limit::Max);
    let e = s.events.expect("events");
    assert_eq!((e.high, e.max, e.oom, e.oom_kill), (1, 7, 2, 1));
    assert_eq!(s.oom_kills, Some(1));
    assert_eq!(s.min, Some(Limit::Bytes(0)));
    // The v2 root has no memory files: explained, not an error.
    let root = report(&proc, 1, &mounts)
        .expect("root report")
        .memory
        .expect("memory");
    assert!(root.stats.is_none());
    assert!(root.unavailable.expect("why").contains("root cgroup"));
}

#[test]
fn each_version_gets_its_own_syntax() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let v1 = tmp.path().join("v1");
    v1_cgroup(&v1, 1 << 20, "9223372036854771712");
    let out = set_memory_limit(CgroupVersion::V1, &v1, Limit::Max).expect("v1 max");
    assert_eq!(out.written, "-1", "v1 rejects `max`: -1 means no limit");
    assert_eq!(out.read_back, Limit::Max);
    set_memory_limit(CgroupVersion::V1, &v1, Limit::Bytes(64 << 20)).expect("v1 64M");
    assert_eq!(
        fs::read_to_string(v1.join("memory.limit_in_bytes")).expect("read"),
        "67108864"
    );

    let v2 = tmp.path().join("v2");
    v2_cgroup(&v2);
    let out = set_memory_limit(CgroupVersion::V2, &v2, Limit::Max).expect("v2 max");
    assert_eq!(out.written, "max");
    let out = set_memory_limit(CgroupVersion::V2, &v2, Limit::Bytes(1 << 20)).expect("v2 1M");
    assert_eq!(out.read_back, Limit::Bytes(1 << 20));
    assert!(
        out.notes.iter().any(|n| n.contains("below")),
        "{:?}",
        out.notes
    );
    assert_eq!(
        read_memory(CgroupVersion::V2, &v2).expect("read").limit,
        Limit::Bytes(1 << 20)
    );
}

#[test]
fn leftovers_in_a_fixture_parent() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (proc, mount) = (tmp.path().join("proc"), tmp.path().join("memory"));
    // Creator 10 still runs (same start time); 11 is gone; 12's pid was reused.
    write(
        &proc.join("10/stat"),
        "10 (isolab) S 1 10 10 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0",
    );
    write(
        &proc.join("12/stat"),
        "12 (other) S 1 12 12 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 999 0 0",
    );
    let parent = mount.join("isolab");
    for name in [
        "10-500-lab",
        "11-500-lab",
        "12-500-lab",
        "not-ours",
        "README",
    ] {
        fs::create_dir_all(parent.join(name)).expect("mkdir");
    }
    fs::create_dir_all(mount.join("system.slice")).expect("mkdir");
    let h = MemoryHierarchy::v1(&mount);
    let mut removed = remove_leftovers_in(&h, &proc).expect("leftovers");
    removed.sort();
    assert_eq!(
        removed,
        vec![parent.join("11-500-lab"), parent.join("12-500-lab")]
    );
    assert!(parent.join("10-500-lab").exists());
    assert!(parent.join("not-ours").exists(), "odd names are left alone");
    assert!(mount.join("system.slice").exists());
}
