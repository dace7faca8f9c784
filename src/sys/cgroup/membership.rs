//! Every cgroup a process belongs to, from /proc/PID/cgroup, explained:
//! which line is a v1 per-controller hierarchy and which the v2 unified tree,
//! and the directory each one is under the mounts.

use super::mounts::{CgroupMounts, CgroupVersion};
use crate::sys::procs::CgroupLine;
use anyhow::Context;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One line of /proc/PID/cgroup with its meaning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Membership {
    pub line: CgroupLine,
    pub version: CgroupVersion,
    /// The cgroup's directory, if its hierarchy is mounted here.
    pub dir: Option<PathBuf>,
    /// One sentence for a student.
    pub explanation: String,
}

/// Parses /proc/PID/cgroup text (`hierarchy-id:controllers:path`); the
/// parser is [`crate::sys::procs::parse_cgroups`], this takes text.
pub fn parse_cgroup_lines(text: &str) -> Vec<CgroupLine> {
    crate::sys::procs::parse_cgroups(text.as_bytes())
}

pub fn read_cgroup_lines(proc_root: &Path, pid: i32) -> anyhow::Result<Vec<CgroupLine>> {
    let path = proc_root.join(pid.to_string()).join("cgroup");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (is process {pid} still running?)",
            path.display()
        )
    })?;
    Ok(parse_cgroup_lines(&text))
}

/// Where a cgroup path lives under a mount whose root is `mount_root`.
fn dir_under(mount_point: &Path, mount_root: &str, cgroup_path: &str) -> Option<PathBuf> {
    let relative = if mount_root == "/" {
        cgroup_path
    } else {
        // Mounted from a subtree: only paths inside it are visible.
        cgroup_path.strip_prefix(mount_root)?
    };
    let relative = relative.trim_start_matches('/');
    if relative.is_empty() {
        Some(mount_point.to_path_buf())
    } else {
        Some(mount_point.join(relative))
    }
}

/// Explains each cgroup line against the mounts of the reading process.
pub fn explain(lines: &[CgroupLine], mounts: &CgroupMounts) -> Vec<Membership> {
    let hybrid_note = match mounts.layout() {
        super::mounts::Layout::Hybrid => {
            " (hybrid host: this v2 tree only carries the controllers no v1 hierarchy took)"
        }
        _ => "",
    };
    lines
        .iter()
        .map(|line| {
            if line.is_v2() {
                let mount = mounts.unified();
                let dir = mount.and_then(|m| dir_under(&m.mount_point, &m.root, &line.path));
                Membership {
                    line: line.clone(),
                    version: CgroupVersion::V2,
                    dir,
                    explanation: format!(
                        "v2 unified tree: one cgroup {} for every v2 controller{hybrid_note}",
                        line.path
                    ),
                }
            } else {
                let mount = mounts.v1_with(&line.controllers);
                let dir = mount.and_then(|m| dir_under(&m.mount_point, &m.root, &line.path));
                let what = line.controllers.join(",");
                let explanation = if what.starts_with("name=") {
                    format!(
                        "v1 named hierarchy {what} (no controller; systemd tracks its units here), cgroup {}",
                        line.path
                    )
                } else {
                    format!(
                        "v1 hierarchy #{} for {what}: its own tree, cgroup {}",
                        line.hierarchy, line.path
                    )
                };
                Membership {
                    line: line.clone(),
                    version: CgroupVersion::V1,
                    dir,
                    explanation,
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hybrid_lines_get_their_directories() {
        let mounts = CgroupMounts::parse(
            "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
             40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n\
             41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
        );
        let lines = parse_cgroup_lines("9:name=systemd:/\n4:memory:/a/b\n0::/\n3:cpu:/\n");
        let m = explain(&lines, &mounts);
        assert_eq!(m.len(), 4);
        assert_eq!(
            m[1].dir.as_deref(),
            Some(Path::new("/sys/fs/cgroup/memory/a/b"))
        );
        assert_eq!(m[1].version, CgroupVersion::V1);
        assert!(m[0].explanation.contains("named hierarchy"));
        assert_eq!(m[2].version, CgroupVersion::V2);
        assert!(m[2].explanation.contains("hybrid"));
        assert_eq!(m[3].dir, None, "cpu is not mounted in this fixture");
    }

    #[test]
    fn subtree_mounts() {
        assert_eq!(
            dir_under(Path::new("/c"), "/pod", "/pod/x"),
            Some(PathBuf::from("/c/x"))
        );
        assert_eq!(dir_under(Path::new("/c"), "/pod", "/other"), None);
    }
}
