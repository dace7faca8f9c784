//! Telling an OOM kill from an ordinary exit. A process that was OOM-killed
//! leaves nothing in /proc saying so, but its memory cgroup counts the kill
//! (v1 memory.oom_control `oom_kill`, v2 memory.events `oom_kill`). So we
//! watch the counters of the cgroups processes live in: a process that
//! vanishes in the same interval as its cgroup's counter rises was, in all
//! likelihood, the victim.

use super::memory::MemoryEvents;
use super::mounts::{CgroupVersion, MemoryHierarchy};
use crate::sys::procs::{CgroupLine, Snapshot};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// The OOM kills counted so far in the memory cgroup at `dir`.
pub fn oom_kill_count(version: CgroupVersion, dir: &Path) -> Option<u64> {
    match version {
        CgroupVersion::V1 => {
            let text = std::fs::read_to_string(dir.join("memory.oom_control")).ok()?;
            text.lines()
                .find_map(|l| l.strip_prefix("oom_kill ")?.trim().parse().ok())
        }
        CgroupVersion::V2 => {
            let text = std::fs::read_to_string(dir.join("memory.events")).ok()?;
            Some(MemoryEvents::parse(&text).oom_kill)
        }
    }
}

/// The line of /proc/PID/cgroup that names the process's memory cgroup.
pub fn memory_line(lines: &[CgroupLine], version: CgroupVersion) -> Option<&CgroupLine> {
    lines.iter().find(|l| match version {
        CgroupVersion::V1 => l.controllers.iter().any(|c| c == "memory"),
        CgroupVersion::V2 => l.is_v2(),
    })
}

/// Remembers each memory cgroup's OOM-kill counter between snapshots.
pub struct OomWatch {
    hierarchy: Option<MemoryHierarchy>,
    counts: HashMap<String, u64>,
}

impl OomWatch {
    /// `hierarchy` is where the memory controller is mounted (None: no
    /// memory controller, nothing is ever reported).
    pub fn new(hierarchy: Option<MemoryHierarchy>) -> OomWatch {
        OomWatch {
            hierarchy,
            counts: HashMap::new(),
        }
    }

    /// Reads the counter of every memory cgroup a process of `snap` lives in
    /// (plus those remembered from before, whose processes may just have
    /// died) and returns the cgroup paths, as /proc/PID/cgroup writes them,
    /// whose counter rose since the previous call.
    pub fn rose(&mut self, snap: &Snapshot) -> Vec<String> {
        let Some(h) = &self.hierarchy else {
            return Vec::new();
        };
        // Borrowed and deduplicated first: thousands of processes share a
        // handful of cgroups.
        let mut paths: BTreeSet<&str> = snap
            .procs
            .iter()
            .filter_map(|p| memory_line(&p.facts.cgroups, h.version).map(|l| l.path.as_str()))
            .collect();
        paths.extend(self.counts.keys().map(String::as_str));
        let mut rose = Vec::new();
        let mut counts = HashMap::with_capacity(paths.len());
        for path in paths {
            let Some(now) = oom_kill_count(h.version, &h.dir_of(path)) else {
                continue; // the cgroup is gone, or has no such file
            };
            if self.counts.get(path).is_some_and(|&before| now > before) {
                rose.push(path.to_string());
            }
            counts.insert(path.to_string(), now);
        }
        self.counts = counts;
        rose
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::tree::tests::proc;

    #[test]
    fn reports_a_cgroup_whose_counter_rose() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cg = dir.path().join("isolab/box");
        std::fs::create_dir_all(&cg).expect("mkdir");
        let events = |n: u64| {
            std::fs::write(
                cg.join("memory.events"),
                format!("low 0\nhigh 0\nmax 3\noom 1\noom_kill {n}\n"),
            )
            .expect("write")
        };
        events(0);
        let mut p = proc(42, 1, "hog");
        p.facts_mut().cgroups = vec![CgroupLine {
            hierarchy: 0,
            controllers: vec![],
            path: "/isolab/box".into(),
        }]
        .into();
        let snap = Snapshot {
            procs: vec![p],
            ..Snapshot::default()
        };
        let mut watch = OomWatch::new(Some(MemoryHierarchy::v2(dir.path())));
        assert!(watch.rose(&snap).is_empty(), "first sight is a baseline");
        events(1);
        // The process is already gone, but the remembered cgroup is read.
        assert_eq!(
            watch.rose(&Snapshot::default()),
            vec!["/isolab/box".to_string()]
        );
        assert!(watch.rose(&Snapshot::default()).is_empty(), "no new kill");
    }
}
