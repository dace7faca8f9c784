//! Cgroups isolab creates for its own children: all under one `isolab`
//! parent, named `<creator pid>-<creator start time>-<label>` so a later run
//! can tell a leftover of a crashed isolab from one whose creator still runs.
//! Removal kills the members (v2 cgroup.kill, v1 SIGKILL per pid) and then
//! rmdirs with a bounded backoff, because rmdir answers EBUSY until the
//! killed processes have really left.

use super::memory::{LimitOutcome, MemoryStats, SetLimitError, read_memory, set_memory_limit};
use super::mounts::{CgroupVersion, MemoryHierarchy};
use super::size::Limit;
use crate::sys::process::ProcessId;
use anyhow::Context;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long `remove` keeps retrying rmdir on EBUSY before giving up.
const REMOVE_DEADLINE: Duration = Duration::from_secs(5);

/// A memory cgroup isolab created. Removed (members killed) by `remove` or
/// on drop.
#[derive(Debug)]
pub struct OwnedCgroup {
    hierarchy: MemoryHierarchy,
    path: PathBuf,
    removed: bool,
    /// This process's owner lock, held while the cgroup exists: what tells
    /// a sweep (even in another PID namespace) that the creator is alive.
    _alive: crate::sys::registry::Alive,
}

/// Keeps a label safe as one path component.
fn sanitize(label: &str) -> String {
    let clean: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let clean = clean.trim_start_matches('.').to_string();
    if clean.is_empty() {
        "cgroup".to_string()
    } else {
        clean
    }
}

fn write_file(path: &Path, value: &str) -> anyhow::Result<()> {
    std::fs::write(path, value).with_context(|| format!("writing {value:?} to {}", path.display()))
}

/// Makes sure `dir`'s children get the memory controller (v2 only: a
/// controller must be enabled in the parent's cgroup.subtree_control).
fn enable_memory_for_children(dir: &Path) -> anyhow::Result<()> {
    let control = dir.join("cgroup.subtree_control");
    let enabled = std::fs::read_to_string(&control)
        .with_context(|| format!("reading {}", control.display()))?;
    if enabled.split_whitespace().any(|c| c == "memory") {
        return Ok(());
    }
    write_file(&control, "+memory").with_context(|| {
        format!(
            "enabling the memory controller for the children of {}",
            dir.display()
        )
    })
}

impl OwnedCgroup {
    /// Creates `isolab/<pid>-<start>-<name>` in the host's memory hierarchy.
    pub fn create(name: &str, limit: Option<Limit>) -> anyhow::Result<OwnedCgroup> {
        OwnedCgroup::create_in(&MemoryHierarchy::detect()?, name, limit)
    }

    /// Creates the cgroup under the given hierarchy (a real mount or a fixture).
    pub fn create_in(
        hierarchy: &MemoryHierarchy,
        name: &str,
        limit: Option<Limit>,
    ) -> anyhow::Result<OwnedCgroup> {
        let parent = hierarchy.isolab_parent();
        if hierarchy.version == CgroupVersion::V2 {
            enable_memory_for_children(&hierarchy.mount)?;
        }
        let creator = ProcessId::current()?;
        // Taken before the mkdir: no cgroup of ours exists without it.
        let alive = crate::sys::registry::hold_owner_lock()
            .context("cannot hold isolab's owner lock, so no cgroup is created")?;
        let label = sanitize(name);
        // Another isolab may remove the empty parent between our mkdirs:
        // then the child's mkdir says ENOENT and we make the parent again.
        let mut tries = 0;
        loop {
            tries += 1;
            match OwnedCgroup::create_child(hierarchy, &parent, creator, &label, limit, &alive) {
                Err(e)
                    if tries < 5
                        && e.downcast_ref::<std::io::Error>()
                            .is_some_and(|io| io.kind() == ErrorKind::NotFound) =>
                {
                    continue;
                }
                other => return other,
            }
        }
    }

    fn create_child(
        hierarchy: &MemoryHierarchy,
        parent: &Path,
        creator: ProcessId,
        label: &str,
        limit: Option<Limit>,
        alive: &crate::sys::registry::Alive,
    ) -> anyhow::Result<OwnedCgroup> {
        match std::fs::create_dir(parent) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(e).with_context(|| format!("creating {}", parent.display()));
            }
        }
        if hierarchy.version == CgroupVersion::V2 {
            enable_memory_for_children(parent)?;
        }
        let mut attempt = 0u32;
        let path = loop {
            let suffix = if attempt == 0 {
                String::new()
            } else {
                format!(".{attempt}")
            };
            let path = parent.join(format!("{}{label}{suffix}", creator.name_prefix()));
            match std::fs::create_dir(&path) {
                Ok(()) => break path,
                Err(e) if e.kind() == ErrorKind::AlreadyExists && attempt < 1000 => attempt += 1,
                Err(e) => {
                    // Do not leave an empty parent behind (rmdir: only if empty).
                    let _ = std::fs::remove_dir(parent);
                    // Keep the io::Error at the top so `create_in` can see ENOENT.
                    let context = format!("creating cgroup {}", path.display());
                    return Err(anyhow::Error::from(e).context(context));
                }
            }
        };
        let cgroup = OwnedCgroup {
            hierarchy: hierarchy.clone(),
            path,
            removed: false,
            _alive: alive.clone(),
        };
        if let Some(limit) = limit {
            // On failure `cgroup` drops here and removes the directory.
            cgroup.set_limit(limit)?;
        }
        Ok(cgroup)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn hierarchy(&self) -> &MemoryHierarchy {
        &self.hierarchy
    }

    /// Moves `pid` into this cgroup (a process isolab itself started).
    pub fn add_process(&self, pid: i32) -> anyhow::Result<()> {
        write_file(&self.path.join("cgroup.procs"), &pid.to_string())
            .with_context(|| format!("moving process {pid} into {}", self.path.display()))
    }

    pub fn set_limit(&self, limit: Limit) -> Result<LimitOutcome, SetLimitError> {
        set_memory_limit(self.hierarchy.version, &self.path, limit)
    }

    pub fn stats(&self) -> anyhow::Result<MemoryStats> {
        read_memory(self.hierarchy.version, &self.path)
    }

    /// How many processes the OOM killer killed in this cgroup.
    pub fn oom_kill_count(&self) -> u64 {
        self.stats().ok().and_then(|s| s.oom_kills).unwrap_or(0)
    }

    /// Whether the OOM killer has killed anything in this cgroup.
    pub fn oom_killed(&self) -> bool {
        self.oom_kill_count() > 0
    }

    /// The pids in this cgroup now.
    pub fn pids(&self) -> anyhow::Result<Vec<i32>> {
        member_pids(&self.path)
    }

    /// Kills every member and removes the cgroup.
    pub fn remove(mut self) -> anyhow::Result<()> {
        self.removed = true;
        remove_cgroup_dir(self.hierarchy.version, &self.path)
    }
}

impl Drop for OwnedCgroup {
    fn drop(&mut self) {
        if !self.removed {
            self.removed = true;
            if let Err(e) = remove_cgroup_dir(self.hierarchy.version, &self.path) {
                eprintln!("isolab: {e:#}");
            }
        }
    }
}

fn member_pids(dir: &Path) -> anyhow::Result<Vec<i32>> {
    let procs = dir.join("cgroup.procs");
    match std::fs::read_to_string(&procs) {
        Ok(text) => Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", procs.display())),
    }
}

/// Kills the members of a cgroup isolab created. Only ever called on
/// directories strictly inside the isolab parent.
fn kill_members(version: CgroupVersion, dir: &Path) -> anyhow::Result<()> {
    let kill_file = dir.join("cgroup.kill");
    if version == CgroupVersion::V2 && kill_file.exists() {
        // One write kills every member, including ones forking right now.
        return write_file(&kill_file, "1");
    }
    for pid in member_pids(dir)? {
        match crate::sys::pidfd::open(pid) {
            // The pidfd pins one process: if its PID is still listed here
            // after it was opened, the pinned process is the member, not a
            // process that reused the PID of one that just exited.
            Ok(pidfd) => {
                if member_pids(dir)?.contains(&pid) {
                    crate::sys::pidfd::send_signal(&pidfd, libc::SIGKILL);
                }
            }
            // A kernel before 5.3 has no pidfds: the PID is all there is.
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            // ESRCH: it already exited, which is what we want.
            Err(_) => {}
        }
    }
    Ok(())
}

/// Kills the members and removes the directory, retrying rmdir on EBUSY
/// with a doubling backoff until `REMOVE_DEADLINE`.
pub fn remove_cgroup_dir(version: CgroupVersion, dir: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(2);
    loop {
        if let Err(e) = kill_members(version, dir) {
            if !dir.exists() {
                return Ok(());
            }
            return Err(e);
        }
        match std::fs::remove_dir(dir) {
            Ok(()) => {
                remove_parent_if_empty(dir);
                return Ok(());
            }
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e)
                if e.raw_os_error() == Some(libc::EBUSY) && started.elapsed() < REMOVE_DEADLINE =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(250));
            }
            Err(e) => {
                let members = member_pids(dir).unwrap_or_default();
                return Err(e).with_context(|| {
                    format!(
                        "removing cgroup {} (members still inside: {members:?}); run `isolab cleanup` to retry",
                        dir.display()
                    )
                });
            }
        }
    }
}

/// Removes the isolab parent once its last cgroup is gone. Another isolab
/// may be using it: rmdir then fails (EBUSY/ENOTEMPTY), which is fine.
fn remove_parent_if_empty(dir: &Path) {
    if let Some(parent) = dir.parent()
        && parent
            .file_name()
            .is_some_and(|n| n == super::mounts::ISOLAB_PARENT)
    {
        let _ = std::fs::remove_dir(parent);
    }
}

/// Removes isolab cgroups whose creator is gone, on the host's memory
/// hierarchy. A host without one has nothing to clean.
pub fn remove_leftovers() -> anyhow::Result<Vec<PathBuf>> {
    match MemoryHierarchy::detect() {
        Ok(h) => remove_leftovers_in(&h, Path::new("/proc")),
        Err(_) => Ok(Vec::new()),
    }
}

/// Removes the cgroups in `hierarchy`'s isolab parent whose creator (pid +
/// start time in the name) is provably gone. Names of any other shape are
/// left alone; nothing outside the parent is looked at.
///
/// A creator is alive while it holds its owner lock in the runtime
/// directory (`registry::creator_lock_held`): that holds for an isolab in
/// another PID namespace too, whose pid means nothing in `proc_root`. Only
/// when no lock names the creator (an isolab from before the locks, or one
/// whose lock a cleanup already removed) does `proc_root` decide.
pub fn remove_leftovers_in(
    hierarchy: &MemoryHierarchy,
    proc_root: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    let removed =
        remove_created_by(
            hierarchy,
            |creator| match crate::sys::registry::creator_lock_held(creator) {
                Some(held) => !held,
                None => !creator.is_alive_in(proc_root),
            },
        )?;
    // The parent goes with its last child (rmdir fails if it is not empty).
    let _ = std::fs::remove_dir(hierarchy.isolab_parent());
    Ok(removed)
}

/// Removes the cgroups this very process created (killing their members):
/// for a way out on which destructors do not run.
pub fn remove_own() -> anyhow::Result<Vec<PathBuf>> {
    let me = ProcessId::current()?;
    match MemoryHierarchy::detect() {
        Ok(h) => remove_created_by(&h, |creator| *creator == me),
        Err(_) => Ok(Vec::new()),
    }
}

/// Removes the cgroups in the isolab parent whose creator `which` picks.
fn remove_created_by(
    hierarchy: &MemoryHierarchy,
    which: impl Fn(&ProcessId) -> bool,
) -> anyhow::Result<Vec<PathBuf>> {
    let parent = hierarchy.isolab_parent();
    let entries = match std::fs::read_dir(&parent) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("listing {}", parent.display())),
    };
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", parent.display()))?;
        if !entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            continue;
        }
        let name = entry.file_name();
        let Some(creator) = name.to_str().and_then(ProcessId::from_name) else {
            continue;
        };
        if !which(&creator) {
            continue;
        }
        let dir = entry.path();
        remove_cgroup_dir(hierarchy.version, &dir)?;
        removed.push(dir);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_creator() {
        assert_eq!(
            ProcessId::from_name("123-456-lab"),
            Some(ProcessId {
                pid: 123,
                start_time: 456
            })
        );
        assert_eq!(sanitize("a/b c"), "a_b_c");
        assert_eq!(sanitize(".."), "cgroup");
    }

    /// The `isolab` parent goes with its last child (fixture: plain
    /// directories, so rmdir works as on a cgroup mount).
    #[test]
    fn the_parent_goes_with_its_last_child() {
        let dir = tempfile::tempdir().expect("tempdir");
        let h = MemoryHierarchy::v1(dir.path());
        let a = OwnedCgroup::create_in(&h, "a", None).expect("create a");
        let b = OwnedCgroup::create_in(&h, "b", None).expect("create b");
        a.remove().expect("remove a");
        assert!(h.isolab_parent().exists(), "removed while b was in it");
        b.remove().expect("remove b");
        assert!(!h.isolab_parent().exists(), "an empty parent was left");
    }
}
