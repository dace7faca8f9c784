//! Where the cgroup hierarchies are mounted, read from mountinfo, and which
//! of them holds the memory controller. A host is "v1" (only per-controller
//! hierarchies), "v2" (one unified tree) or "hybrid" (both: systemd's old
//! default, and this lab machine: memory on v1, an empty v2 tree beside it).

use anyhow::Context;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CgroupVersion {
    V1,
    V2,
}

impl std::fmt::Display for CgroupVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CgroupVersion::V1 => "v1",
            CgroupVersion::V2 => "v2",
        })
    }
}

/// One mounted cgroup hierarchy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CgroupMount {
    pub version: CgroupVersion,
    /// Where it is mounted, e.g. /sys/fs/cgroup/memory.
    pub mount_point: PathBuf,
    /// The cgroup this mount shows as its root ("/" unless mounted from
    /// inside a cgroup namespace or bind-mounted from a subtree).
    pub root: String,
    /// v1: the controllers of this hierarchy (`memory`, `cpu`,
    /// `name=systemd`). v2: empty (see cgroup.controllers instead).
    pub controllers: Vec<String>,
}

/// How the host arranges its cgroups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Layout {
    /// Only v1 per-controller hierarchies.
    V1,
    /// v1 hierarchies and a v2 tree side by side.
    Hybrid,
    /// Only the v2 unified tree.
    V2,
    /// No cgroup filesystem mounted at all.
    None,
}

impl Layout {
    pub fn describe(&self) -> &'static str {
        match self {
            Layout::V1 => "cgroup v1 only: one hierarchy per controller",
            Layout::Hybrid => {
                "hybrid: v1 hierarchies per controller plus a v2 unified tree; each controller lives in exactly one of them"
            }
            Layout::V2 => "cgroup v2: one unified tree holds every controller",
            Layout::None => "no cgroup filesystem is mounted",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CgroupMounts {
    pub mounts: Vec<CgroupMount>,
}

impl CgroupMounts {
    /// Parses the text of /proc/PID/mountinfo; other filesystems are skipped.
    pub fn parse(mountinfo: &str) -> CgroupMounts {
        // The one mountinfo parser (escapes, optional fields) is sys::mounts;
        // here we only pick the cgroup filesystems out of it.
        let (all, _unparsed) = crate::sys::mounts::parse(mountinfo);
        let mounts = all
            .into_iter()
            .filter_map(|m| match m.fstype.as_str() {
                "cgroup2" => Some(CgroupMount {
                    version: CgroupVersion::V2,
                    mount_point: PathBuf::from(m.mount_point),
                    root: m.root,
                    controllers: Vec::new(),
                }),
                "cgroup" => {
                    // v1 names its controllers among the super options.
                    const NOT_CONTROLLERS: [&str; 8] = [
                        "rw",
                        "ro",
                        "nosuid",
                        "nodev",
                        "noexec",
                        "relatime",
                        "clone_children",
                        "noprefix",
                    ];
                    let controllers = m
                        .super_options
                        .split(',')
                        .filter(|o| {
                            !NOT_CONTROLLERS.contains(o)
                                && !o.starts_with("release_agent=")
                                && !o.starts_with("xattr")
                        })
                        .map(str::to_string)
                        .collect();
                    Some(CgroupMount {
                        version: CgroupVersion::V1,
                        mount_point: PathBuf::from(m.mount_point),
                        root: m.root,
                        controllers,
                    })
                }
                _ => None,
            })
            .collect();
        CgroupMounts { mounts }
    }

    /// Reads a mountinfo file (normally /proc/self/mountinfo).
    pub fn read(mountinfo: &Path) -> anyhow::Result<CgroupMounts> {
        let text = std::fs::read_to_string(mountinfo)
            .with_context(|| format!("reading {}", mountinfo.display()))?;
        Ok(CgroupMounts::parse(&text))
    }

    /// The mounts of the calling process.
    pub fn of_self() -> anyhow::Result<CgroupMounts> {
        CgroupMounts::read(Path::new("/proc/self/mountinfo"))
    }

    pub fn layout(&self) -> Layout {
        let v1 = self.mounts.iter().any(|m| m.version == CgroupVersion::V1);
        let v2 = self.mounts.iter().any(|m| m.version == CgroupVersion::V2);
        match (v1, v2) {
            (true, true) => Layout::Hybrid,
            (true, false) => Layout::V1,
            (false, true) => Layout::V2,
            (false, false) => Layout::None,
        }
    }

    /// The v1 mount of a hierarchy with exactly these controllers (as a
    /// /proc/PID/cgroup line lists them).
    pub fn v1_with(&self, controllers: &[String]) -> Option<&CgroupMount> {
        self.mounts.iter().find(|m| {
            m.version == CgroupVersion::V1
                && controllers.iter().all(|c| m.controllers.contains(c))
                && m.controllers.iter().all(|c| controllers.contains(c))
        })
    }

    pub fn unified(&self) -> Option<&CgroupMount> {
        self.mounts.iter().find(|m| m.version == CgroupVersion::V2)
    }

    /// The hierarchy holding the memory controller: a v1 `memory` mount if
    /// there is one, else the v2 tree if its root lists `memory` in
    /// cgroup.controllers.
    pub fn memory_hierarchy(&self) -> Option<MemoryHierarchy> {
        if let Some(m) = self
            .mounts
            .iter()
            .find(|m| m.version == CgroupVersion::V1 && m.controllers.iter().any(|c| c == "memory"))
        {
            return Some(MemoryHierarchy::v1(&m.mount_point));
        }
        let unified = self.unified()?;
        let controllers =
            std::fs::read_to_string(unified.mount_point.join("cgroup.controllers")).ok()?;
        controllers
            .split_whitespace()
            .any(|c| c == "memory")
            .then(|| MemoryHierarchy::v2(&unified.mount_point))
    }
}

/// The cgroup hierarchy that carries the memory controller: its version and
/// where it is mounted. Every memory function takes one, so tests can point
/// it at a temp dir.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemoryHierarchy {
    pub version: CgroupVersion,
    pub mount: PathBuf,
}

/// The one directory isolab creates its cgroups in, under the memory mount.
pub const ISOLAB_PARENT: &str = "isolab";

impl MemoryHierarchy {
    pub fn v1(mount: impl Into<PathBuf>) -> Self {
        MemoryHierarchy {
            version: CgroupVersion::V1,
            mount: mount.into(),
        }
    }

    pub fn v2(mount: impl Into<PathBuf>) -> Self {
        MemoryHierarchy {
            version: CgroupVersion::V2,
            mount: mount.into(),
        }
    }

    /// Finds the memory hierarchy from /proc/self/mountinfo.
    pub fn detect() -> anyhow::Result<Self> {
        let mounts = CgroupMounts::of_self()?;
        mounts.memory_hierarchy().ok_or_else(|| {
            anyhow::anyhow!(
                "no memory cgroup controller found ({}); mount cgroup2 or the v1 memory hierarchy",
                mounts.layout().describe()
            )
        })
    }

    /// The isolab parent: every cgroup isolab creates lives directly below it.
    pub fn isolab_parent(&self) -> PathBuf {
        self.mount.join(ISOLAB_PARENT)
    }

    /// Whether `dir` is a cgroup isolab created (strictly inside its parent).
    pub fn is_isolab_owned(&self, dir: &Path) -> bool {
        let parent = self.isolab_parent();
        dir.starts_with(&parent) && dir != parent
    }

    /// The directory of a cgroup path as /proc/PID/cgroup shows it.
    pub fn dir_of(&self, cgroup_path: &str) -> PathBuf {
        let relative = cgroup_path.trim_start_matches('/');
        if relative.is_empty() {
            self.mount.clone()
        } else {
            self.mount.join(relative)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:7 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_is_told_apart() {
        let m = CgroupMounts::parse(HYBRID);
        assert_eq!(m.layout(), Layout::Hybrid);
        assert_eq!(m.mounts.len(), 4);
        let cpu = m
            .v1_with(&["cpu".into(), "cpuacct".into()])
            .expect("cpu mount");
        assert_eq!(cpu.mount_point, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        let sd = m.v1_with(&["name=systemd".into()]).expect("systemd");
        assert_eq!(sd.controllers, vec!["name=systemd".to_string()]);
        assert_eq!(
            m.memory_hierarchy(),
            Some(MemoryHierarchy::v1("/sys/fs/cgroup/memory"))
        );
    }

    #[test]
    fn pure_v2_and_escapes() {
        let m = CgroupMounts::parse(
            "29 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n\
             30 23 0:26 /a /tmp/my\\040dir rw - cgroup2 cgroup2 rw\n",
        );
        assert_eq!(m.layout(), Layout::V2);
        assert_eq!(m.mounts[1].mount_point, Path::new("/tmp/my dir"));
        assert_eq!(m.mounts[1].root, "/a");
        assert_eq!(CgroupMounts::parse("").layout(), Layout::None);
    }

    #[test]
    fn ownership_is_by_parent_only() {
        let h = MemoryHierarchy::v1("/m");
        assert!(h.is_isolab_owned(Path::new("/m/isolab/1-2-x")));
        assert!(!h.is_isolab_owned(Path::new("/m/isolab")));
        assert!(!h.is_isolab_owned(Path::new("/m/isolabx/1")));
        assert!(!h.is_isolab_owned(Path::new("/m/process_api/x")));
    }
}
