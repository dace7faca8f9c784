//! Inside versus outside: what a process in its own namespaces sees, beside
//! what the host sees, one row per fact, each tied to the namespace that
//! explains a difference (the Lab's table).
//!
//! Most facts are read from the host through `/proc/PID/...`, which the
//! kernel answers in the target's namespaces (mountinfo, net/dev, root/proc,
//! timens_offsets, uid_map). Three need the reader to *be* in the namespace:
//! the hostname (uts), SysV IPC objects (ipc) and the cgroup paths (cgroup).
//! For those a short-lived thread joins just those namespaces with setns()
//! and reads ([`crate::sys::ns::read_in`]); the caller's own threads never
//! change namespace.

use crate::sys::idmap::IdMap;
use crate::sys::ns::NsKind;
use crate::sys::procs::parse_cgroups;
use std::path::Path;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompareRow {
    pub what: &'static str,
    pub kind: NsKind,
    pub outside: String,
    pub inside: String,
}

impl CompareRow {
    pub fn same(&self) -> bool {
        self.outside == self.inside
    }
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// PIDs and names under a /proc directory, as `ps` would list them.
fn ps_of(proc_dir: &Path, limit: usize) -> (usize, String) {
    let mut pids: Vec<u32> = std::fs::read_dir(proc_dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    let shown: Vec<String> = pids
        .iter()
        .take(limit)
        .map(|p| {
            format!(
                "{p} {}",
                read(proc_dir.join(p.to_string()).join("comm")).trim()
            )
        })
        .collect();
    let more = if pids.len() > limit { ", ..." } else { "" };
    (
        pids.len(),
        format!("{} processes: {}{more}", pids.len(), shown.join(", ")),
    )
}

fn interfaces(net_dev: &str) -> String {
    let names: Vec<&str> = net_dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next().map(str::trim))
        .collect();
    names.join(" ")
}

/// The first uid/gid of a `Uid:`/`Gid:` line of /proc/PID/status (host view).
fn status_id(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

fn boottime_offset(pid: i32) -> i64 {
    read(format!("/proc/{pid}/timens_offsets"))
        .lines()
        .find_map(|l| {
            let mut it = l.split_whitespace();
            matches!(it.next(), Some("boottime") | Some("7"))
                .then(|| it.next().and_then(|s| s.parse().ok()))
                .flatten()
        })
        .unwrap_or(0)
}

fn uptime_secs() -> f64 {
    read("/proc/uptime")
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0)
}

fn sysvipc_summary() -> String {
    let count = |f: &str| {
        read(format!("/proc/sysvipc/{f}"))
            .lines()
            .count()
            .saturating_sub(1)
    };
    format!(
        "{} queues, {} semaphores, {} shm",
        count("msg"),
        count("sem"),
        count("shm")
    )
}

fn cgroup_summary(text: &str) -> String {
    let mut paths: Vec<String> = parse_cgroups(text.as_bytes())
        .into_iter()
        .map(|l| l.path)
        .collect();
    paths.dedup();
    paths.join(" ")
}

/// Hostname, SysV IPC summary and cgroup view of `pid`, read from inside
/// its uts, ipc and cgroup namespaces by a thread that joins them.
fn probe_inside(pid: i32) -> Option<[String; 3]> {
    use nix::sched::CloneFlags;
    crate::sys::ns::read_in(
        Path::new(&format!("/proc/{pid}/ns")),
        &[
            (CloneFlags::CLONE_NEWUTS, "uts"),
            (CloneFlags::CLONE_NEWIPC, "ipc"),
            (CloneFlags::CLONE_NEWCGROUP, "cgroup"),
        ],
        move || {
            [
                read("/proc/sys/kernel/hostname").trim().to_string(),
                sysvipc_summary(),
                cgroup_summary(&read(format!("/proc/{pid}/cgroup"))),
            ]
        },
    )
}

/// The inside-vs-outside table for `pid` (the host side is this process's view).
pub fn compare(pid: i32) -> Vec<CompareRow> {
    let me = std::process::id() as i32;
    let mut rows = Vec::new();
    let host = [
        read("/proc/sys/kernel/hostname").trim().to_string(),
        sysvipc_summary(),
        cgroup_summary(&read(format!("/proc/{pid}/cgroup"))),
    ];
    let inside = probe_inside(pid).unwrap_or_else(|| {
        let unknown = || "(cannot enter: needs root or the same user)".to_string();
        [unknown(), unknown(), unknown()]
    });
    rows.push(CompareRow {
        what: "hostname",
        kind: NsKind::Uts,
        outside: host[0].clone(),
        inside: inside[0].clone(),
    });
    rows.push(CompareRow {
        what: "ps",
        kind: NsKind::Pid,
        outside: ps_of(Path::new("/proc"), 3).1,
        inside: ps_of(
            &Path::new("/proc").join(pid.to_string()).join("root/proc"),
            3,
        )
        .1,
    });
    let mounts = |p: i32| read(format!("/proc/{p}/mountinfo")).lines().count();
    rows.push(CompareRow {
        what: "mounts",
        kind: NsKind::Mnt,
        outside: format!("{} mounts", mounts(me)),
        inside: format!("{} mounts", mounts(pid)),
    });
    rows.push(CompareRow {
        what: "interfaces",
        kind: NsKind::Net,
        outside: interfaces(&read(format!("/proc/{me}/net/dev"))),
        inside: interfaces(&read(format!("/proc/{pid}/net/dev"))),
    });
    let status = read(format!("/proc/{pid}/status"));
    let (uid, gid) = (status_id(&status, "Uid:"), status_id(&status, "Gid:"));
    let show = |v: Option<u64>| v.map_or("?".into(), |v| v.to_string());
    let inside_id = |map: &str, outside: u64| {
        let inside = IdMap::parse(&read(format!("/proc/{pid}/{map}")))
            .to_inside(u32::try_from(outside).ok()?)?;
        Some(u64::from(inside))
    };
    let (uid_in, gid_in) = (
        uid.and_then(|u| inside_id("uid_map", u)),
        gid.and_then(|g| inside_id("gid_map", g)),
    );
    rows.push(CompareRow {
        what: "uid/gid",
        kind: NsKind::User,
        outside: format!("{}/{}", show(uid), show(gid)),
        inside: format!("{}/{}", show(uid_in), show(gid_in)),
    });
    rows.push(CompareRow {
        what: "SysV IPC",
        kind: NsKind::Ipc,
        outside: host[1].clone(),
        inside: inside[1].clone(),
    });
    rows.push(CompareRow {
        what: "cgroup view",
        kind: NsKind::Cgroup,
        outside: host[2].clone(),
        inside: inside[2].clone(),
    });
    let up = uptime_secs();
    let days = |s: f64| format!("up {:.0} s ({:.1} days)", s, s / 86400.0);
    rows.push(CompareRow {
        what: "boot clock",
        kind: NsKind::Time,
        outside: days(up),
        inside: days(up + boottime_offset(pid) as f64),
    });
    rows
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn interface_names() {
        let dev = "Inter-|   Receive\n face |bytes\n    lo: 0 0\n  eth0: 1 2\n";
        assert_eq!(interfaces(dev), "lo eth0");
    }

    #[test]
    fn the_host_compared_with_itself_is_all_same() {
        if !crate::test_needs_root("it reads inside namespaces") {
            return;
        }
        let rows = compare(std::process::id() as i32);
        assert_eq!(rows.len(), 8);
        for r in rows {
            if r.what != "ps" {
                assert!(r.same(), "{r:?}");
            }
        }
    }
}
