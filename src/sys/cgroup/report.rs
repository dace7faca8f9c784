//! Everything isolab shows about one process's cgroups, gathered in one
//! read: the headless `isolab cgroup` and the Memory screen both use it.

use super::membership::{Membership, explain, read_cgroup_lines};
use super::memory::{MemoryStats, memory_dir_of, read_memory};
use super::mounts::{CgroupMounts, Layout, MemoryHierarchy};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CgroupReport {
    pub pid: i32,
    pub layout: Layout,
    pub layout_explained: &'static str,
    pub cgroups: Vec<Membership>,
    /// The memory cgroup, if the host has a memory controller.
    pub memory: Option<MemoryCgroup>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemoryCgroup {
    pub hierarchy: MemoryHierarchy,
    pub dir: PathBuf,
    /// Created by isolab (under its parent): safe to change without asking.
    pub created_by_isolab: bool,
    /// None where the cgroup has no memory files: the v2 root cgroup has
    /// no limit of its own; `unavailable` then says why.
    pub stats: Option<MemoryStats>,
    pub unavailable: Option<String>,
}

/// Reads `pid`'s cgroups against `mounts` (normally /proc/self/mountinfo's).
pub fn report(proc_root: &Path, pid: i32, mounts: &CgroupMounts) -> anyhow::Result<CgroupReport> {
    let lines = read_cgroup_lines(proc_root, pid)?;
    let memory = match mounts.memory_hierarchy() {
        Some(hierarchy) => {
            let dir = memory_dir_of(proc_root, pid, &hierarchy)?;
            let (stats, unavailable) = match read_memory(hierarchy.version, &dir) {
                Ok(stats) => (Some(stats), None),
                Err(_) if dir == hierarchy.mount => (
                    None,
                    Some("the root cgroup: v2 keeps no usage or limit files for it (the whole machine is its limit)".to_string()),
                ),
                Err(e) => (None, Some(format!("{e:#}"))),
            };
            Some(MemoryCgroup {
                created_by_isolab: hierarchy.is_isolab_owned(&dir),
                hierarchy,
                dir,
                stats,
                unavailable,
            })
        }
        None => None,
    };
    let layout = mounts.layout();
    Ok(CgroupReport {
        pid,
        layout,
        layout_explained: layout.describe(),
        cgroups: explain(&lines, mounts),
        memory,
    })
}
