//! Namespace kinds and the set of namespace ids (inode numbers) of a process.

use serde::Serialize;
use std::path::{Path, PathBuf};

/// A namespace kind as named under /proc/PID/ns. The first eight are the
/// isolating kinds a user toggles; the `*ForChildren` links say which
/// namespace the process's *next* children will be born into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NsKind {
    Pid,
    Mnt,
    Net,
    Ipc,
    Uts,
    User,
    Cgroup,
    Time,
    PidForChildren,
    TimeForChildren,
}

impl NsKind {
    /// Every link under /proc/PID/ns that isolab reads, in display order.
    pub const ALL: [NsKind; 10] = [
        NsKind::Pid,
        NsKind::Mnt,
        NsKind::Net,
        NsKind::Ipc,
        NsKind::Uts,
        NsKind::User,
        NsKind::Cgroup,
        NsKind::Time,
        NsKind::PidForChildren,
        NsKind::TimeForChildren,
    ];

    /// The eight kinds that can be unshared.
    pub const ISOLATING: [NsKind; 8] = [
        NsKind::Pid,
        NsKind::Mnt,
        NsKind::Net,
        NsKind::Ipc,
        NsKind::Uts,
        NsKind::User,
        NsKind::Cgroup,
        NsKind::Time,
    ];

    /// The file name under /proc/PID/ns.
    pub fn proc_name(self) -> &'static str {
        match self {
            NsKind::Pid => "pid",
            NsKind::Mnt => "mnt",
            NsKind::Net => "net",
            NsKind::Ipc => "ipc",
            NsKind::Uts => "uts",
            NsKind::User => "user",
            NsKind::Cgroup => "cgroup",
            NsKind::Time => "time",
            NsKind::PidForChildren => "pid_for_children",
            NsKind::TimeForChildren => "time_for_children",
        }
    }

    pub fn from_proc_name(name: &str) -> Option<NsKind> {
        NsKind::ALL.into_iter().find(|k| k.proc_name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The namespace ids of one process: the inode number of each
/// /proc/PID/ns link, or `None` where it could not be read (permission,
/// kernel without that kind, process gone). Stored as plain numbers with 0
/// for "unknown" (no namespace has inode 0), half the size of `Option`s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NsSet([u64; 10]);

impl NsSet {
    pub fn get(&self, kind: NsKind) -> Option<u64> {
        Some(self.0[kind.index()]).filter(|&id| id != 0)
    }

    pub fn set(&mut self, kind: NsKind, inode: Option<u64>) {
        self.0[kind.index()] = inode.unwrap_or(0);
    }

    /// The isolating kinds (of the first eight) where both ids are known and differ.
    pub fn differing(&self, other: &NsSet) -> Vec<NsKind> {
        NsKind::ISOLATING
            .into_iter()
            .filter(|&k| matches!((self.get(k), other.get(k)), (Some(a), Some(b)) if a != b))
            .collect()
    }
}

/// Serialised as `{"pid": 4026531836, ...}`, leaving out unreadable kinds.
impl Serialize for NsSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        for kind in NsKind::ALL {
            if let Some(id) = self.get(kind) {
                map.serialize_entry(kind.proc_name(), &id)?;
            }
        }
        map.end()
    }
}

/// Runs `read` on a fresh thread that first joins the namespaces at
/// `/proc/PID/ns/<name>` for each `(flag, name)`: the one way isolab reads
/// what only a member of a namespace can see (a hostname, SysV IPC objects,
/// cgroup paths). setns(2) of UTS, IPC, net and cgroup namespaces changes
/// only the calling thread, so no fork is needed (a fork of this
/// multi-threaded process could only run async-signal-safe code). The
/// thread is spawned for this one read and ends with it: it never returns to
/// a pool, so nothing else ever runs in the namespaces it joined. Mount,
/// user and PID namespaces cannot be joined this way (the kernel refuses
/// them to a thread sharing its process's filesystem info, or changes only
/// children), so they are refused here. `None` if a namespace cannot be
/// opened or joined.
pub fn read_in<T: Send + 'static>(
    ns_dir: &Path,
    kinds: &[(nix::sched::CloneFlags, &str)],
    read: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    use nix::sched::CloneFlags;
    let per_thread = CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWNET
        | CloneFlags::CLONE_NEWCGROUP;
    let mut files = Vec::with_capacity(kinds.len());
    for &(flag, name) in kinds {
        if !per_thread.contains(flag) {
            return None;
        }
        // Opened here, before the thread: the PID is read once.
        files.push((std::fs::File::open(ns_dir.join(name)).ok()?, flag));
    }
    std::thread::spawn(move || {
        for (file, flag) in &files {
            nix::sched::setns(file, *flag).ok()?;
        }
        Some(read())
    })
    .join()
    .ok()
    .flatten()
}

/// The hostname of the UTS namespace of the process whose `/proc/PID/ns`
/// directory is `ns_dir`, read from inside it (see [`read_in`]).
pub fn hostname_in(ns_dir: PathBuf) -> Option<String> {
    read_in(
        &ns_dir,
        &[(nix::sched::CloneFlags::CLONE_NEWUTS, "uts")],
        || {
            nix::unistd::gethostname()
                .ok()
                .map(|h| h.to_string_lossy().into_owned())
        },
    )
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sched::CloneFlags;

    #[test]
    fn our_own_hostname_is_read_through_our_uts_namespace() {
        // setns needs CAP_SYS_ADMIN, even into our own namespace.
        if !crate::test_needs_root("setns") {
            return;
        }
        let ours = nix::unistd::gethostname().expect("gethostname");
        assert_eq!(
            hostname_in(PathBuf::from("/proc/self/ns")),
            Some(ours.to_string_lossy().into_owned())
        );
    }

    #[test]
    fn namespaces_a_thread_cannot_join_are_refused() {
        let ran = read_in(
            Path::new("/proc/self/ns"),
            &[(CloneFlags::CLONE_NEWNS, "mnt")],
            || (),
        );
        assert_eq!(ran, None);
        assert_eq!(
            read_in(
                Path::new("/nonexistent/ns"),
                &[(CloneFlags::CLONE_NEWUTS, "uts")],
                || ()
            ),
            None
        );
    }
}
